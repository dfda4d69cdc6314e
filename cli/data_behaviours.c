/* data_behaviours.c — `alim data behaviours`: the behaviour data of the real-model study.
 * The builder is in the library (alim/behaviours.h); this file parses, calls and prints. */
#include "data_behaviours.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/behaviours.h"
#include "cli.h"

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int print_table(const char *out, cJSON *m)
{
    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(m, "behaviours"), *b;
    const cJSON *clf = cJSON_GetObjectItemCaseSensitive(m, "classifier");
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(clf, "accuracy_per_class");
    const cJSON *per64 = cJSON_GetObjectItemCaseSensitive(clf, "accuracy_prefix_per_class");
    printf("wrote %s: behaviour data, seed %.0f, %.0f-byte windows\n", out, num(m, "seed"), num(m, "window"));
    printf("%-4s %-16s %-14s %9s %7s %6s %6s %6s %10s %9s\n", "beh", "role", "label", "windows", "pool", "test", "clf",
           "eval", "resp bytes", "accuracy");
    int i = 0;
    cJSON_ArrayForEach(b, bs) {
        const cJSON *a = cJSON_GetArrayItem(per, i);
        printf("%-4s %-16s %-14s %9.0f %7.0f %6.0f %6.0f %6.0f %10.1f %9.4f\n", str(b, "name"), str(b, "role"),
               str(b, "label"), num(b, "available_windows"), num(b, "pool_docs"), num(b, "test_docs"),
               num(b, "classifier_docs"), num(b, "classifier_eval_docs"), num(b, "pool_mean_response_bytes"),
               cJSON_IsNumber(a) ? a->valuedouble : NAN);
        i++;
    }
    printf("classifier (%.0f-gram naive Bayes, alpha %g): accuracy %.4f on the eval split, %.4f on its %.0f-byte prefixes (",
           num(clf, "order"), num(clf, "alpha"), num(clf, "accuracy"), num(clf, "accuracy_prefix"), num(clf, "prefix_bytes"));
    i = 0;
    cJSON_ArrayForEach(b, bs) {
        const cJSON *a = cJSON_GetArrayItem(per64, i);
        printf("%s%s %.4f", i ? ", " : "", str(b, "label"), cJSON_IsNumber(a) ? a->valuedouble : NAN);
        i++;
    }
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "prompts");
    printf(")\nprompts: %.0f templates x %.0f topics, %d held out; %.0f held-out prompts in prompts.txt\n",
           num(p, "templates"), num(p, "topics"), cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "heldout_topics")),
           num(p, "n"));
    cJSON_Delete(m);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}

/* argv[0] is "behaviours" */
int data_behaviours(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},          {"seed", required_argument, 0, 's'},
        {"window", required_argument, 0, 'w'},       {"pool-docs", required_argument, 0, 'p'},
        {"test-docs", required_argument, 0, 't'},    {"classifier-docs", required_argument, 0, 'c'},
        {"classifier-eval-docs", required_argument, 0, 'e'},
        {"classifier-order", required_argument, 0, 'n'}, {"classifier-alpha", required_argument, 0, 'a'},
        {"fortunes-dir", required_argument, 0, 'F'}, {"bible", required_argument, 0, 'K'},
        {"jargon", required_argument, 0, 'J'},       {"json", no_argument, 0, 'j'},
        {"extra-class", required_argument, 0, 'x'},
        {0, 0, 0, 0}};
    alim_behaviour_options o;
    alim_behaviour_options_default(&o);
    const char *out = NULL;
    int json = 0, c, rc = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 's': rc = cli_parse_u64("--seed", optarg, &o.seed); break;
        case 'w': rc = cli_parse_size("--window", optarg, &o.window); break;
        case 'p': rc = cli_parse_size("--pool-docs", optarg, &o.pool_docs); break;
        case 't': rc = cli_parse_size("--test-docs", optarg, &o.test_docs); break;
        case 'c': rc = cli_parse_size("--classifier-docs", optarg, &o.classifier_docs); break;
        case 'e': rc = cli_parse_size("--classifier-eval-docs", optarg, &o.classifier_eval_docs); break;
        case 'n': rc = cli_parse_size("--classifier-order", optarg, &o.classifier_order); break;
        case 'a': rc = cli_parse_double("--classifier-alpha", optarg, &o.classifier_alpha); break;
        case 'F': o.fortunes_dir = optarg; break;
        case 'K': o.bible = optarg; break;
        case 'J': o.jargon = optarg; break;
        case 'j': json = 1; break;
        case 'x': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1]) return cli_error("--extra-class", "'%s' is not NAME=FILE", optarg);
            *eq = '\0';
            o.extra_name = optarg;
            o.extra_file = eq + 1;
            break;
        }
        case ':': return cli_usage_error("data", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("data", "unknown option '%s' for behaviours", argv[optind - 1]);
        }
        if (rc) return rc;
    }
    if (optind < argc) return cli_usage_error("data", "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_usage_error("data", "behaviours needs --out DIR");
    /* a small pool is allowed when asked for (tests); the minimum only guards the default use */
    if (o.pool_docs < o.min_pool_docs) o.min_pool_docs = o.pool_docs;
    alim_error err;
    alim_error_clear(&err);
    cJSON *m = NULL;
    if (alim_behaviours_build(&o, out, &m, &err)) return cli_fail(&err);
    if (json) return cli_print_json(m);
    return print_table(out, m);
}
