/* cmd_data.c — `alim data`: data directories of the elasticity lab (synthetic, natural, text)
 * and the behaviour classifier (classify). The builders are in the library (alim/datadir.h);
 * this file parses, calls and prints. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/classifier.h"
#include "alim/corpus.h"
#include "alim/datadir.h"
#include "cli.h"
#include "data_behaviours.h"

const char cmd_data_help[] =
    "usage: alim data synthetic --out DIR [options]\n"
    "       alim data natural   --out DIR [options]\n"
    "       alim data text FILE... --out DIR [options]\n"
    "       alim data behaviours --out DIR [options]   (chat data for real models; below)\n"
    "       alim data classify --model FILE.nb --data FILE [--json]\n"
    "\n"
    "Writes a data directory of the elasticity lab (docs/elastic.md): pretraining data D_p\n"
    "drawn from the components at the given shares, per-component pools for alignment and\n"
    "perturbation data, test sets per component and for the mixture, and manifest.json.\n"
    "The splits never share a document. Every file holds documents each followed by\n"
    "<|endoftext|> (what `alim train --format text` reads). The directory is built under\n"
    "DIR.tmp.<pid> and renamed to DIR when complete; DIR must not exist or be empty.\n"
    "\n"
    "  synthetic  the Markov-mixture source S: 64 symbols (written as bytes '0'+s), documents of\n"
    "             128 tokens, C1 neutral, C2/C3 redraw rows 0-15 with disjoint supports; the\n"
    "             manifest carries the exact entropy rates and per-document entropies\n"
    "  natural    the natural source N from Debian packages: C1 fortunes (package fortunes),\n"
    "             C2 the KJV Bible (bible-kjv), C3 the Jargon File (jargon-text); 128-byte\n"
    "             windows; trains the character 5-gram naive-Bayes behaviour classifier on\n"
    "             held-out windows (classifier.nb) and reports its accuracy on the test windows\n"
    "  text       the same from your own files: each FILE is one component; a FILE ending\n"
    "             in .jsonl holds {\"prompt\", \"response\"} records, read as the text\n"
    "             prompt + response + newline per record\n"
    "  classify   class posteriors of every document of FILE under a classifier\n"
    "\n"
    "options:\n"
    "  --out DIR             the directory to create (required)\n"
    "  --seed S              seed (default 1)\n"
    "  --shares LIST         pretraining shares of the components (default 0.9,0.05,0.05;\n"
    "                        text: equal shares)\n"
    "  --pretrain-tokens N   size of D_p in tokens (synthetic, default 2000000 = 15625 docs)\n"
    "  --pretrain-bytes N    size of D_p in bytes (natural default 2000000; text default: as\n"
    "                        much as fits)\n"
    "  --pool-docs N         documents per component pool (default 4096; natural/text: up to\n"
    "                        what is left)\n"
    "  --test-docs N         test documents per component and for the mixture (default 256)\n"
    "  --classifier-docs N   held-out windows per component for the classifier (natural\n"
    "                        default 2000, text default 0 = no classifier)\n"
    "  --window N            window length in bytes (natural/text, default 128)\n"
    "  --doc-len N           synthetic document length (default 128)\n"
    "  --symbols N           synthetic alphabet size (default 64)\n"
    "  --fortunes-dir DIR    (natural) default /usr/share/games/fortunes\n"
    "  --bible FILE          (natural) bible-kjv-text's data file, default /usr/lib/bible.data\n"
    "  --jargon FILE         (natural) default /usr/share/doc/jargon-text/jargon.txt.gz\n"
    "  --classifier-order N  n-gram order of the classifier (default 5)\n"
    "  --classifier-alpha A  its additive smoothing (default 0.1)\n"
    "  --json                print the manifest (or the classification) as JSON on stdout\n"
    DATA_BEHAVIOURS_HELP;

typedef struct {
    const char *out;
    uint64_t seed;
    double *shares;
    size_t n_shares;
    uint64_t pretrain_tokens, pretrain_bytes;
    int have_pretrain;
    size_t pool_docs, test_docs, classifier_docs, window, doc_len, symbols;
    int have_pool, have_clf;
    double clf_alpha;
    size_t clf_order;
    const char *fortunes_dir, *bible, *jargon, *model, *data;
    int json;
    char **files;
    size_t n_files;
} data_opts;

static int parse_opts(const char *sub, int argc, char **argv, data_opts *o)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},          {"seed", required_argument, 0, 's'},
        {"shares", required_argument, 0, 'q'},       {"pretrain-tokens", required_argument, 0, 'P'},
        {"pretrain-bytes", required_argument, 0, 'B'}, {"pool-docs", required_argument, 0, 'p'},
        {"test-docs", required_argument, 0, 't'},    {"classifier-docs", required_argument, 0, 'c'},
        {"window", required_argument, 0, 'w'},       {"doc-len", required_argument, 0, 'L'},
        {"symbols", required_argument, 0, 'S'},      {"fortunes-dir", required_argument, 0, 'F'},
        {"jargon", required_argument, 0, 'J'},       {"model", required_argument, 0, 'm'},
        {"bible", required_argument, 0, 'K'},
        {"data", required_argument, 0, 'd'},         {"json", no_argument, 0, 'j'},
        {"classifier-alpha", required_argument, 0, 'a'}, {"classifier-order", required_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    alim_datadir_options d; /* the library's defaults, one place */
    alim_datadir_options_default(&d);
    o->seed = d.seed;
    o->pool_docs = d.pool_docs;
    o->test_docs = d.test_docs;
    o->window = d.window;
    o->doc_len = d.doc_len;
    o->symbols = d.symbols;
    o->clf_alpha = d.classifier_alpha;
    o->clf_order = d.classifier_order;
    o->fortunes_dir = d.fortunes_dir;
    o->bible = d.bible;
    o->jargon = d.jargon;
    optind = 1;
    opterr = 0;
    int c, rc = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o->out = optarg; break;
        case 's': rc = cli_parse_u64("--seed", optarg, &o->seed); break;
        case 'q': free(o->shares); rc = cli_parse_double_list("--shares", optarg, &o->shares, &o->n_shares); break;
        case 'P': rc = cli_parse_u64("--pretrain-tokens", optarg, &o->pretrain_tokens); o->have_pretrain = 1; break;
        case 'B': rc = cli_parse_u64("--pretrain-bytes", optarg, &o->pretrain_bytes); o->have_pretrain = 1; break;
        case 'p': rc = cli_parse_size("--pool-docs", optarg, &o->pool_docs); o->have_pool = 1; break;
        case 't': rc = cli_parse_size("--test-docs", optarg, &o->test_docs); break;
        case 'c': rc = cli_parse_size("--classifier-docs", optarg, &o->classifier_docs); o->have_clf = 1; break;
        case 'w': rc = cli_parse_size("--window", optarg, &o->window); break;
        case 'L': rc = cli_parse_size("--doc-len", optarg, &o->doc_len); break;
        case 'S': rc = cli_parse_size("--symbols", optarg, &o->symbols); break;
        case 'F': o->fortunes_dir = optarg; break;
        case 'K': o->bible = optarg; break;
        case 'J': o->jargon = optarg; break;
        case 'm': o->model = optarg; break;
        case 'd': o->data = optarg; break;
        case 'j': o->json = 1; break;
        case 'a': rc = cli_parse_double("--classifier-alpha", optarg, &o->clf_alpha); break;
        case 'n': rc = cli_parse_size("--classifier-order", optarg, &o->clf_order); break;
        case 'h': return -1;
        case ':': rc = cli_usage_error("data", "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = cli_usage_error("data", "unknown option '%s'", argv[optind - 1]); break;
        }
        if (rc) return rc;
    }
    o->files = argv + optind;
    o->n_files = (size_t)(argc - optind);
    if (strcmp(sub, "text") && o->n_files) return cli_usage_error("data", "unexpected argument '%s'", argv[optind]);
    if (strcmp(sub, "classify") && !o->out) return cli_usage_error("data", "--out DIR is required");
    if (o->window == 0) return cli_error("--window", "must be at least 1");
    if (o->test_docs == 0) return cli_error("--test-docs", "must be at least 1");
    return 0;
}

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

/* the library's options from the command line */
static void datadir_options(const char *sub, const data_opts *o, alim_datadir_options *d)
{
    alim_datadir_options_default(d);
    d->seed = o->seed;
    d->shares = o->shares;
    d->n_shares = o->n_shares;
    d->have_pretrain = o->have_pretrain;
    /* --pretrain-tokens and --pretrain-bytes name the same size (a token is a byte); when both
     * are given, the source's own unit wins */
    if (!strcmp(sub, "synthetic")) d->pretrain_size = o->pretrain_tokens ? o->pretrain_tokens : o->pretrain_bytes;
    else d->pretrain_size = o->pretrain_bytes ? o->pretrain_bytes : o->pretrain_tokens;
    d->pool_docs = o->pool_docs;
    d->test_docs = o->test_docs;
    d->have_classifier_docs = o->have_clf;
    d->classifier_docs = o->classifier_docs;
    d->window = o->window;
    d->doc_len = o->doc_len;
    d->symbols = o->symbols;
    d->classifier_order = o->clf_order;
    d->classifier_alpha = o->clf_alpha;
    d->fortunes_dir = o->fortunes_dir;
    d->bible = o->bible;
    d->jargon = o->jargon;
}

/* --json: the manifest as written; otherwise a table of what was written */
static int print_synthetic(const data_opts *o, cJSON *m)
{
    if (o->json) return cli_print_json(m);
    const cJSON *comps = cJSON_GetObjectItemCaseSensitive(m, "components"), *c;
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(m, "mixture"), *sz = cJSON_GetObjectItemCaseSensitive(m, "sizes");
    printf("wrote %s: synthetic source S, seed %llu\n", o->out, (unsigned long long)o->seed);
    printf("%-4s %-24s %7s %10s %10s %10s %12s %14s\n", "comp", "label", "share", "pretrain", "pool", "test",
           "rate b/tok", "doc bits");
    size_t i = 0;
    cJSON_ArrayForEach(c, comps) {
        printf("c%-3zu %-24s %7.3f %10.0f %10.0f %10.0f %12.6f %14.4f\n", ++i, str(c, "label"), num(c, "share"),
               num(c, "pretrain_docs"), num(c, "pool_docs"), num(c, "test_docs"), num(c, "entropy_rate_bits"),
               num(c, "doc_entropy_bits"));
    }
    printf("mixture: rate %.6f bits/token; document entropy %.4f bits (bounds %.4f .. %.4f), %.6f bits/token\n",
           num(mx, "entropy_rate_bits"), num(mx, "doc_entropy_bits"), num(mx, "doc_entropy_bits_lower"),
           num(mx, "doc_entropy_bits_upper"), num(mx, "doc_entropy_bits_per_token"));
    printf("D_p: %.0f documents, %.0f tokens; test_mix %.0f documents\n", num(sz, "pretrain_docs"),
           num(sz, "pretrain_tokens"), num(sz, "test_mix_docs"));
    cJSON_Delete(m);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}

static int print_windows(const data_opts *o, cJSON *m)
{
    if (o->json) return cli_print_json(m);
    const cJSON *comps = cJSON_GetObjectItemCaseSensitive(m, "components"), *c;
    const cJSON *sz = cJSON_GetObjectItemCaseSensitive(m, "sizes"), *clf = cJSON_GetObjectItemCaseSensitive(m, "classifier");
    printf("wrote %s: %s source, seed %llu, %zu-byte windows\n", o->out, str(m, "source"), (unsigned long long)o->seed,
           o->window);
    printf("%-4s %-12s %7s %10s %10s %10s %10s %10s\n", "comp", "label", "share", "windows", "pretrain", "pool", "test",
           "classifier");
    size_t i = 0;
    cJSON_ArrayForEach(c, comps) {
        printf("c%-3zu %-12s %7.3f %10.0f %10.0f %10.0f %10.0f %10.0f\n", ++i, str(c, "label"), num(c, "share"),
               num(c, "available_windows"), num(c, "pretrain_docs"), num(c, "pool_docs"), num(c, "test_docs"),
               num(c, "classifier_docs"));
    }
    printf("D_p: %.0f windows, %.0f bytes; test_mix %.0f windows\n", num(sz, "pretrain_docs"), num(sz, "pretrain_tokens"),
           num(sz, "test_mix_docs"));
    if (clf) {
        printf("classifier (%.0f-gram naive Bayes, alpha %g): accuracy %.4f on clean test windows (", num(clf, "order"),
               num(clf, "alpha"), num(clf, "accuracy"));
        const cJSON *per = cJSON_GetObjectItemCaseSensitive(clf, "accuracy_per_class");
        i = 0;
        cJSON_ArrayForEach(c, comps) {
            const cJSON *a = cJSON_GetArrayItem(per, (int)i);
            printf("%s%s %.4f", i ? ", " : "", str(c, "label"), cJSON_IsNumber(a) ? a->valuedouble : NAN);
            i++;
        }
        printf(")\n");
    }
    cJSON_Delete(m);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}

static int data_build(const char *sub, data_opts *o)
{
    alim_datadir_options d;
    datadir_options(sub, o, &d);
    alim_error err;
    alim_error_clear(&err);
    cJSON *m = NULL;
    alim_status st;
    if (!strcmp(sub, "synthetic")) st = alim_datadir_synthetic(&d, o->out, &m, &err);
    else if (!strcmp(sub, "natural")) st = alim_datadir_natural(&d, o->out, &m, &err);
    else {
        if (o->n_files == 0) return cli_usage_error("data", "text needs at least one FILE");
        st = alim_datadir_text(&d, (const char *const *)o->files, o->n_files, o->out, &m, &err);
    }
    if (st) return cli_fail(&err);
    return strcmp(sub, "synthetic") ? print_windows(o, m) : print_synthetic(o, m);
}

static int data_classify(data_opts *o)
{
    if (!o->model) return cli_usage_error("data", "classify needs --model FILE.nb");
    if (!o->data) return cli_usage_error("data", "classify needs --data FILE");
    alim_error err;
    alim_error_clear(&err);
    alim_nb nb;
    if (alim_nb_load(&nb, o->model, &err)) return cli_fail(&err);
    alim_corpus docs;
    if (alim_corpus_read(&docs, o->data, &err)) {
        alim_nb_free(&nb);
        return cli_fail(&err);
    }
    size_t K = nb.n_classes, counts[ALIM_NB_MAX_CLASSES] = {0};
    double mean[ALIM_NB_MAX_CLASSES] = {0}, post[ALIM_NB_MAX_CLASSES];
    cJSON *o_json = o->json ? cJSON_CreateObject() : NULL, *arr = NULL;
    if (o_json) {
        cJSON_AddStringToObject(o_json, "model", o->model);
        cJSON_AddStringToObject(o_json, "data", o->data);
        cJSON *names = cJSON_AddArrayToObject(o_json, "classes");
        for (size_t c = 0; c < K; c++) cJSON_AddItemToArray(names, cJSON_CreateString(nb.names[c]));
        arr = cJSON_CreateArray();
    }
    for (size_t d = 0; d < docs.n_docs; d++) {
        size_t len;
        const uint8_t *p = alim_corpus_doc(&docs, d, &len);
        size_t best = alim_nb_classify(&nb, p, len, post);
        counts[best]++;
        for (size_t c = 0; c < K; c++) mean[c] += post[c] / (double)docs.n_docs;
        if (arr) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "class", nb.names[best]);
            cli_json_add_array(e, "posterior", post, K);
            cJSON_AddItemToArray(arr, e);
        }
    }
    int rc = CLI_EXIT_OK;
    if (o_json) {
        cli_json_add_number(o_json, "n_docs", (double)docs.n_docs);
        double cf[ALIM_NB_MAX_CLASSES];
        for (size_t c = 0; c < K; c++) cf[c] = (double)counts[c] / (double)docs.n_docs;
        cli_json_add_array(o_json, "fraction", cf, K);
        cli_json_add_array(o_json, "mean_posterior", mean, K);
        cJSON_AddItemToObject(o_json, "documents", arr);
        rc = cli_print_json(o_json);
    } else {
        printf("%zu documents of %s under %s\n%-16s %10s %10s %14s\n", docs.n_docs, o->data, o->model, "class", "count",
               "fraction", "mean posterior");
        for (size_t c = 0; c < K; c++)
            printf("%-16s %10zu %10.4f %14.4f\n", nb.names[c], counts[c], (double)counts[c] / (double)docs.n_docs, mean[c]);
    }
    alim_corpus_free(&docs);
    alim_nb_free(&nb);
    return rc;
}

int cmd_data(int argc, char **argv)
{
    if (argc < 2) return cli_usage_error("data", "missing subcommand (synthetic, natural, text, behaviours, classify)");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) return cli_print_help("data");
    if (!strcmp(sub, "behaviours")) return data_behaviours(argc - 1, argv + 1);
    if (strcmp(sub, "synthetic") && strcmp(sub, "natural") && strcmp(sub, "text") && strcmp(sub, "classify"))
        return cli_usage_error("data", "unknown subcommand '%s' (synthetic, natural, text, behaviours, classify)", sub);
    data_opts o;
    int rc = parse_opts(sub, argc - 1, argv + 1, &o);
    if (rc == -1) {
        free(o.shares);
        return cli_print_help("data");
    }
    if (!rc) {
        if (!strcmp(sub, "classify")) rc = data_classify(&o);
        else rc = data_build(sub, &o);
    }
    free(o.shares);
    return rc;
}
