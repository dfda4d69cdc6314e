/* cmd_data.c — `alim data`: data directories of the elasticity lab (synthetic, natural, text)
 * and the behaviour classifier (classify). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alim/classifier.h"
#include "alim/corpus.h"
#include "alim/info.h"
#include "alim/io.h"
#include "alim/source.h"
#include "cli.h"

const char cmd_data_help[] =
    "usage: alim data synthetic --out DIR [options]\n"
    "       alim data natural   --out DIR [options]\n"
    "       alim data text FILE... --out DIR [options]\n"
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
    "  text       the same from your own files: each FILE is one component\n"
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
    "  --jargon FILE         (natural) default /usr/share/doc/jargon-text/jargon.txt.gz\n"
    "  --classifier-order N  n-gram order of the classifier (default 5)\n"
    "  --classifier-alpha A  its additive smoothing (default 0.1)\n"
    "  --json                print the manifest (or the classification) as JSON on stdout\n";

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
    const char *fortunes_dir, *jargon, *model, *data;
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
        {"data", required_argument, 0, 'd'},         {"json", no_argument, 0, 'j'},
        {"classifier-alpha", required_argument, 0, 'a'}, {"classifier-order", required_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->pool_docs = 4096;
    o->test_docs = 256;
    o->window = 128;
    o->doc_len = 128;
    o->symbols = 64;
    o->clf_alpha = 0.1;
    o->clf_order = 5;
    o->fortunes_dir = "/usr/share/games/fortunes";
    o->jargon = "/usr/share/doc/jargon-text/jargon.txt.gz";
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

static int check_shares(const double *q, size_t n, size_t want)
{
    if (n != want) return cli_error("--shares", "need %zu shares, got %zu", want, n);
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(q[i] >= 0) || !isfinite(q[i])) return cli_error("--shares", "share %zu is not a number >= 0", i + 1);
        s += q[i];
    }
    if (fabs(s - 1) > 1e-6) return cli_error("--shares", "shares sum to %g, not 1", s);
    return 0;
}

/* ---- manifest ------------------------------------------------------------------------- */

static cJSON *manifest_base(const char *source, const data_opts *o, const alim_splits *sp, const alim_split_config *cfg)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "format", "alim-elastic-data/1");
    cJSON_AddStringToObject(m, "source", source);
    cli_json_add_number(m, "seed", (double)o->seed);
    cJSON_AddStringToObject(m, "delimiter", ALIM_CORPUS_DELIM);
    cli_json_add_number(m, "n_components", (double)sp->n_components);
    cli_json_add_array(m, "shares", cfg->shares, sp->n_components);
    cJSON *f = cJSON_AddObjectToObject(m, "files");
    cJSON_AddStringToObject(f, "pretrain", "pretrain.txt");
    cJSON_AddStringToObject(f, "pretrain_components", "pretrain_components.txt");
    cJSON_AddStringToObject(f, "test_mix", "test_mix.txt");
    cJSON_AddStringToObject(f, "test_mix_components", "test_mix_components.txt");
    if (!strcmp(source, "synthetic")) cJSON_AddStringToObject(f, "chains", "chains.json");
    cJSON *s = cJSON_AddObjectToObject(m, "sizes");
    cli_json_add_number(s, "pretrain_docs", (double)sp->pretrain.n_docs);
    cli_json_add_number(s, "pretrain_tokens", (double)alim_corpus_bytes(&sp->pretrain));
    cli_json_add_number(s, "test_mix_docs", (double)sp->test_mix.n_docs);
    cJSON *comps = cJSON_AddArrayToObject(m, "components");
    for (size_t i = 0; i < sp->n_components; i++) {
        cJSON *c = cJSON_CreateObject();
        char buf[64];
        snprintf(buf, sizeof buf, "c%zu", i + 1);
        cJSON_AddStringToObject(c, "name", buf);
        cli_json_add_number(c, "share", cfg->shares[i]);
        size_t np = 0;
        for (size_t d = 0; d < sp->pretrain.n_docs; d++) np += sp->pretrain_comp[d] == i;
        cli_json_add_number(c, "pretrain_docs", (double)np);
        cli_json_add_number(c, "pool_docs", (double)sp->pool[i].n_docs);
        cli_json_add_number(c, "test_docs", (double)sp->test[i].n_docs);
        cli_json_add_number(c, "classifier_docs", (double)sp->classifier[i].n_docs);
        snprintf(buf, sizeof buf, "pool_c%zu.txt", i + 1);
        cJSON_AddStringToObject(c, "pool_file", buf);
        snprintf(buf, sizeof buf, "test_c%zu.txt", i + 1);
        cJSON_AddStringToObject(c, "test_file", buf);
        if (sp->classifier[i].n_docs) {
            snprintf(buf, sizeof buf, "classifier_c%zu.txt", i + 1);
            cJSON_AddStringToObject(c, "classifier_file", buf);
        }
        if (sp->available[i] != SIZE_MAX) cli_json_add_number(c, "available_windows", (double)sp->available[i]);
        cJSON_AddItemToArray(comps, c);
    }
    return m;
}

static int finish(alim_outdir *od, cJSON *manifest, int json, alim_error *err)
{
    char *txt = cJSON_Print(manifest);
    alim_status st = txt ? ALIM_OK : alim_error_set(err, ALIM_ENOMEM, "manifest", "out of memory");
    if (!st) {
        size_t n = strlen(txt);
        txt[n] = '\n';
        st = alim_file_write_atomic(alim_outdir_file(od, "manifest.json"), txt, n + 1, err);
        txt[n] = '\0';
    }
    if (!st) st = alim_outdir_commit(od, err);
    else alim_outdir_abort(od);
    free(txt);
    if (st) {
        cJSON_Delete(manifest);
        return cli_fail(err);
    }
    if (json) return cli_print_json(manifest);
    cJSON_Delete(manifest);
    return CLI_EXIT_OK;
}

/* ---- synthetic ------------------------------------------------------------------------ */

/* the true chains, for exact labels and independent checks */
static alim_status write_chains(const alim_source *s, const char *path, alim_error *err)
{
    size_t n = s->cfg.n_symbols;
    cJSON *o = cJSON_CreateObject();
    cli_json_add_number(o, "symbols", (double)n);
    cli_json_add_number(o, "doc_len", (double)s->cfg.doc_len);
    cJSON *arr = cJSON_AddArrayToObject(o, "components");
    for (size_t i = 0; i < s->cfg.n_components; i++) {
        cJSON *c = cJSON_CreateObject();
        cli_json_add_array(c, "init", s->comp[i].init, n);
        cJSON *P = cJSON_AddArrayToObject(c, "P");
        for (size_t r = 0; r < n; r++) {
            cJSON *row = cJSON_CreateArray();
            for (size_t j = 0; j < n; j++) cJSON_AddItemToArray(row, cJSON_CreateNumber(s->comp[i].P[r * n + j]));
            cJSON_AddItemToArray(P, row);
        }
        cJSON_AddItemToArray(arr, c);
    }
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt) return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    alim_status st = alim_file_write_atomic(path, txt, strlen(txt), err);
    free(txt);
    return st;
}

static int data_synthetic(data_opts *o)
{
    alim_source_config scfg;
    alim_source_config_default(&scfg);
    scfg.seed = o->seed;
    scfg.doc_len = o->doc_len;
    scfg.n_symbols = o->symbols;
    alim_split_config cfg;
    alim_split_config_default(&cfg);
    cfg.seed = o->seed;
    if (o->shares) {
        int rc = check_shares(o->shares, o->n_shares, 3);
        if (rc) return rc;
        memcpy(cfg.shares, o->shares, 3 * sizeof(double));
    }
    if (o->doc_len == 0) return cli_error("--doc-len", "must be at least 1");
    uint64_t tokens = o->have_pretrain ? (o->pretrain_tokens ? o->pretrain_tokens : o->pretrain_bytes) : 2000000;
    cfg.pretrain_docs = (size_t)((tokens + o->doc_len - 1) / o->doc_len);
    if (cfg.pretrain_docs == 0) return cli_error("--pretrain-tokens", "must be at least one document");
    if (tokens > (1ULL << 32) || (uint64_t)o->pool_docs * o->doc_len > (1ULL << 32) ||
        (uint64_t)o->test_docs * o->doc_len > (1ULL << 32))
        return cli_error("--pretrain-tokens", "at most 2^32 tokens per split");
    cfg.pool_docs = o->pool_docs;
    cfg.test_docs = o->test_docs;
    cfg.classifier_docs = o->classifier_docs;
    alim_error err;
    alim_error_clear(&err);
    alim_source src;
    if (alim_source_build(&src, &scfg, &err)) return cli_fail(&err);
    alim_source_entropy ent;
    double lo, ex, up;
    alim_outdir od;
    alim_splits sp;
    memset(&sp, 0, sizeof sp);
    alim_status st = alim_source_entropies(&src, &ent, &err);
    if (!st) st = alim_source_mixture_doc_entropy(&src, cfg.shares, &lo, &ex, &up, &err);
    if (!st) st = alim_outdir_begin(&od, o->out, &err);
    if (st) {
        alim_source_free(&src);
        return cli_fail(&err);
    }
    st = alim_source_make_splits(&src, &cfg, &sp, &err);
    if (!st) st = alim_splits_write(&sp, &od, &err);
    if (!st) st = write_chains(&src, alim_outdir_file(&od, "chains.json"), &err);
    if (st) {
        alim_outdir_abort(&od);
        alim_source_free(&src);
        alim_splits_free(&sp);
        return cli_fail(&err);
    }
    cJSON *m = manifest_base("synthetic", o, &sp, &cfg);
    cJSON_AddStringToObject(m, "tokenization", "symbol s is the byte '0'+s (ASCII 48..48+symbols-1); one document = doc_len symbols after BOS");
    cli_json_add_number(m, "doc_len", (double)scfg.doc_len);
    cJSON *sc = cJSON_AddObjectToObject(m, "synthetic");
    cli_json_add_number(sc, "symbols", (double)scfg.n_symbols);
    cli_json_add_number(sc, "decision_rows", (double)scfg.n_decision);
    cli_json_add_number(sc, "branching", (double)scfg.branching);
    cli_json_add_number(sc, "zipf_exponent", scfg.zipf_s);
    cJSON_AddStringToObject(sc, "bos_row", "uniform over the symbols, shared by all components");
    cli_json_add_number(sc, "stationary_residual", ent.stationary_residual);
    static const char *labels[] = {"neutral", "positive (aligned)", "negative (perturbation)"};
    cJSON *comps = cJSON_GetObjectItem(m, "components");
    for (size_t i = 0; i < 3; i++) {
        cJSON *c = cJSON_GetArrayItem(comps, (int)i);
        cJSON_AddStringToObject(c, "label", labels[i]);
        cli_json_add_number(c, "entropy_rate_bits", alim_bits(ent.rate_nats[i]));
        cli_json_add_number(c, "doc_entropy_bits", alim_bits(ent.doc_nats[i]));
        cli_json_add_number(c, "doc_entropy_bits_per_token", alim_bits(ent.doc_nats[i]) / (double)scfg.doc_len);
    }
    cJSON *mx = cJSON_AddObjectToObject(m, "mixture");
    double rate = 0;
    for (size_t i = 0; i < 3; i++) rate += cfg.shares[i] * ent.rate_nats[i];
    cli_json_add_number(mx, "entropy_rate_bits", alim_bits(rate));
    cli_json_add_number(mx, "doc_entropy_bits_lower", alim_bits(lo));
    cli_json_add_number(mx, "doc_entropy_bits", alim_bits(ex));
    cli_json_add_number(mx, "doc_entropy_bits_upper", alim_bits(up));
    cli_json_add_number(mx, "doc_entropy_bits_per_token", alim_bits(ex) / (double)scfg.doc_len);
    cJSON_AddStringToObject(mx, "method",
                            "H(X) = sum q_i H_i(X) + H(q) * P(no transition out of a decision row in X_1..X_{len-1}); "
                            "exact because decision rows have pairwise disjoint supports and all other rows are shared");
    int json = o->json;
    if (!json) {
        printf("wrote %s: synthetic source S, seed %llu\n", o->out, (unsigned long long)o->seed);
        printf("%-4s %-24s %7s %10s %10s %10s %12s %14s\n", "comp", "label", "share", "pretrain", "pool", "test",
               "rate b/tok", "doc bits");
        for (size_t i = 0; i < 3; i++) {
            size_t np = 0;
            for (size_t d = 0; d < sp.pretrain.n_docs; d++) np += sp.pretrain_comp[d] == i;
            printf("c%-3zu %-24s %7.3f %10zu %10zu %10zu %12.6f %14.4f\n", i + 1, labels[i], cfg.shares[i], np,
                   sp.pool[i].n_docs, sp.test[i].n_docs, alim_bits(ent.rate_nats[i]), alim_bits(ent.doc_nats[i]));
        }
        printf("mixture: rate %.6f bits/token; document entropy %.4f bits (bounds %.4f .. %.4f), %.6f bits/token\n",
               alim_bits(rate), alim_bits(ex), alim_bits(lo), alim_bits(up), alim_bits(ex) / (double)scfg.doc_len);
        printf("D_p: %zu documents, %zu tokens; test_mix %zu documents\n", sp.pretrain.n_docs, alim_corpus_bytes(&sp.pretrain),
               sp.test_mix.n_docs);
    }
    alim_source_free(&src);
    alim_splits_free(&sp);
    return finish(&od, m, json, &err);
}

/* ---- natural and text ------------------------------------------------------------------ */

static int run_capture(const char *cmd, char **out, size_t *len)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap);
    if (!b) {
        pclose(p);
        return -1;
    }
    for (;;) {
        if (n + 65536 + 1 > cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                pclose(p);
                return -1;
            }
            b = nb;
        }
        size_t got = fread(b + n, 1, 65536, p);
        n += got;
        if (!got) break;
    }
    int status = pclose(p);
    b[n] = '\0';
    *out = b;
    *len = n;
    return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ? 0 : 1;
}

static int in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    char *copy = strdup(path), *save = NULL, buf[4096];
    int found = 0;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        snprintf(buf, sizeof buf, "%s/%s", d, prog);
        if (access(buf, X_OK) == 0) found = 1;
    }
    free(copy);
    return found;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

/* all fortune files of dir (sorted; not .dat, not .u8, regular files) concatenated */
static int read_fortunes(const char *dir, char **text, size_t *len, size_t *n_files)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || ends_with(e->d_name, ".dat") || ends_with(e->d_name, ".u8")) continue;
        char p[4096];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &sb) || !S_ISREG(sb.st_mode)) continue;
        names = realloc(names, (n + 1) * sizeof *names);
        names[n++] = strdup(p);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    size_t cap = 1 << 20, k = 0;
    char *b = malloc(cap);
    for (size_t i = 0; i < n; i++) {
        char *buf;
        size_t l;
        alim_error err;
        if (alim_file_read_all(names[i], &buf, &l, &err) == ALIM_OK) {
            while (k + l + 2 > cap) b = realloc(b, cap *= 2);
            memcpy(b + k, buf, l);
            k += l;
            if (l && buf[l - 1] != '\n') b[k++] = '\n';
            b[k++] = '%', b[k++] = '\n';
            while (k + 2 > cap) b = realloc(b, cap *= 2);
            free(buf);
        }
        free(names[i]);
    }
    free(names);
    b[k] = '\0';
    *text = b;
    *len = k;
    *n_files = n;
    return n ? 0 : -1;
}

static int build_from_windows(const char *source, data_opts *o, alim_corpus *win, size_t K, const char *const *names,
                              const char *const *origins, int default_clf)
{
    alim_split_config cfg;
    alim_split_config_default(&cfg);
    cfg.n_components = K;
    cfg.seed = o->seed;
    if (o->shares) {
        int rc = check_shares(o->shares, o->n_shares, K);
        if (rc) return rc;
        memcpy(cfg.shares, o->shares, K * sizeof(double));
    } else if (strcmp(source, "natural")) {
        for (size_t i = 0; i < K; i++) cfg.shares[i] = 1.0 / (double)K;
    }
    uint64_t bytes = o->have_pretrain ? (o->pretrain_bytes ? o->pretrain_bytes : o->pretrain_tokens) : 0;
    if (o->have_pretrain) cfg.pretrain_docs = (size_t)((bytes + o->window - 1) / o->window);
    else if (!strcmp(source, "natural")) cfg.pretrain_docs = (size_t)((2000000 + o->window - 1) / o->window);
    else cfg.pretrain_docs = SIZE_MAX;
    cfg.pool_docs = o->pool_docs;
    cfg.test_docs = o->test_docs;
    cfg.classifier_docs = o->have_clf ? o->classifier_docs : (size_t)default_clf;
    alim_error err;
    alim_error_clear(&err);
    size_t dups[ALIM_CORPUS_MAX_COMPONENTS] = {0};
    if (alim_corpus_dedup(win, K, dups, &err)) return cli_fail(&err);
    const alim_corpus *wp[ALIM_CORPUS_MAX_COMPONENTS];
    for (size_t i = 0; i < K; i++) wp[i] = &win[i];
    alim_splits sp;
    alim_status st = alim_splits_from_windows(&sp, wp, &cfg, &err);
    if (st) return cli_fail(&err);
    alim_outdir od;
    st = alim_outdir_begin(&od, o->out, &err);
    if (st) {
        alim_splits_free(&sp);
        return cli_fail(&err);
    }
    st = alim_splits_write(&sp, &od, &err);
    /* the behaviour classifier */
    alim_nb nb;
    memset(&nb, 0, sizeof nb);
    double acc = NAN, per[ALIM_CORPUS_MAX_COMPONENTS];
    int have_clf = cfg.classifier_docs > 0 && K >= 2;
    if (!st && have_clf) {
        st = alim_nb_init(&nb, K, o->clf_order, o->clf_alpha, &err);
        for (size_t i = 0; i < K && !st; i++) {
            snprintf(nb.names[i], ALIM_NB_NAME_MAX, "%s", names[i]);
            st = alim_nb_add_corpus(&nb, i, &sp.classifier[i], &err);
        }
        if (!st) {
            const alim_corpus *tp[ALIM_CORPUS_MAX_COMPONENTS];
            for (size_t i = 0; i < K; i++) tp[i] = &sp.test[i];
            acc = alim_nb_accuracy(&nb, tp, per);
            st = alim_nb_save(&nb, alim_outdir_file(&od, "classifier.nb"), &err);
        }
    }
    if (st) {
        alim_nb_free(&nb);
        alim_outdir_abort(&od);
        alim_splits_free(&sp);
        return cli_fail(&err);
    }
    cJSON *m = manifest_base(source, o, &sp, &cfg);
    cli_json_add_number(m, "window", (double)o->window);
    cJSON_AddStringToObject(m, "tokenization", "bytes (each document is one window of raw text)");
    cJSON *comps = cJSON_GetObjectItem(m, "components");
    for (size_t i = 0; i < K; i++) {
        cJSON *c = cJSON_GetArrayItem(comps, (int)i);
        cJSON_AddStringToObject(c, "label", names[i]);
        cJSON_AddStringToObject(c, "origin", origins[i]);
        cli_json_add_number(c, "duplicate_windows_removed", (double)dups[i]);
    }
    if (have_clf) {
        cJSON *c = cJSON_AddObjectToObject(m, "classifier");
        cJSON_AddStringToObject(c, "file", "classifier.nb");
        cJSON_AddStringToObject(c, "kind", "character n-gram multinomial naive Bayes, add-alpha smoothing, uniform prior");
        cli_json_add_number(c, "order", (double)o->clf_order);
        cli_json_add_number(c, "alpha", o->clf_alpha);
        cli_json_add_number(c, "train_docs_per_class", (double)cfg.classifier_docs);
        cli_json_add_number(c, "accuracy", acc);
        cli_json_add_array(c, "accuracy_per_class", per, K);
    }
    if (!o->json) {
        printf("wrote %s: %s source, seed %llu, %zu-byte windows\n", o->out, source, (unsigned long long)o->seed, o->window);
        printf("%-4s %-12s %7s %10s %10s %10s %10s %10s\n", "comp", "label", "share", "windows", "pretrain", "pool", "test",
               "classifier");
        for (size_t i = 0; i < K; i++) {
            size_t np = 0;
            for (size_t d = 0; d < sp.pretrain.n_docs; d++) np += sp.pretrain_comp[d] == i;
            printf("c%-3zu %-12s %7.3f %10zu %10zu %10zu %10zu %10zu\n", i + 1, names[i], cfg.shares[i], sp.available[i], np,
                   sp.pool[i].n_docs, sp.test[i].n_docs, sp.classifier[i].n_docs);
        }
        printf("D_p: %zu windows, %zu bytes; test_mix %zu windows\n", sp.pretrain.n_docs, alim_corpus_bytes(&sp.pretrain),
               sp.test_mix.n_docs);
        if (have_clf) {
            printf("classifier (%zu-gram naive Bayes, alpha %g): accuracy %.4f on clean test windows (", o->clf_order, o->clf_alpha, acc);
            for (size_t i = 0; i < K; i++) printf("%s%s %.4f", i ? ", " : "", names[i], per[i]);
            printf(")\n");
        }
    }
    alim_nb_free(&nb);
    alim_splits_free(&sp);
    return finish(&od, m, o->json, &err);
}

static int data_natural(data_opts *o)
{
    struct stat sb;
    if (stat(o->fortunes_dir, &sb) || !S_ISDIR(sb.st_mode))
        return cli_error("natural", "%s not found: the Debian package 'fortunes' is missing (apt-get install fortunes)",
                         o->fortunes_dir);
    if (!in_path("bible")) return cli_error("natural", "no 'bible' program: the Debian package 'bible-kjv' is missing (apt-get install bible-kjv)");
    if (access(o->jargon, R_OK))
        return cli_error("natural", "%s not found: the Debian package 'jargon-text' is missing (apt-get install jargon-text)", o->jargon);
    char *raw = NULL, *txt[3] = {0};
    size_t rawlen, len[3], nfiles = 0, cookies = 0;
    alim_error err;
    alim_error_clear(&err);
    if (read_fortunes(o->fortunes_dir, &raw, &rawlen, &nfiles)) {
        free(raw);
        return cli_error(o->fortunes_dir, "no fortune files to read");
    }
    alim_status st = alim_text_fortunes(raw, rawlen, &txt[0], &len[0], &cookies, &err);
    free(raw);
    if (st) return cli_fail(&err);
    if (run_capture("bible -f 'Gen1:1-Rev22:21' 2>/dev/null", &raw, &rawlen)) {
        free(raw), free(txt[0]);
        return cli_error("bible", "'bible -f Gen1:1-Rev22:21' failed (is bible-kjv installed completely?)");
    }
    st = alim_text_strip_verse_refs(raw, rawlen, &txt[1], &len[1], &err);
    free(raw);
    if (st) return free(txt[0]), cli_fail(&err);
    char cmd[4200];
    if (strchr(o->jargon, '\'')) return free(txt[0]), free(txt[1]), cli_error("--jargon", "path must not contain a quote");
    snprintf(cmd, sizeof cmd, "zcat -f '%s' 2>/dev/null", o->jargon);
    if (run_capture(cmd, &txt[2], &len[2])) {
        free(txt[0]), free(txt[1]), free(txt[2]);
        return cli_error(o->jargon, "cannot decompress the Jargon File");
    }
    alim_corpus win[3];
    memset(win, 0, sizeof win);
    for (int i = 0; i < 3 && !st; i++) st = alim_corpus_add_windows(&win[i], txt[i], len[i], o->window, &err);
    for (int i = 0; i < 3; i++) free(txt[i]);
    if (st) {
        for (int i = 0; i < 3; i++) alim_corpus_free(&win[i]);
        return cli_fail(&err);
    }
    static const char *names[] = {"fortunes", "bible-kjv", "jargon"};
    char o1[512];
    snprintf(o1, sizeof o1, "%zu fortune files in %s, %zu cookies, '%%' lines removed", nfiles, o->fortunes_dir, cookies);
    const char *origins[] = {o1, "bible -f 'Gen1:1-Rev22:21', verse references removed", o->jargon};
    int rc = build_from_windows("natural", o, win, 3, names, origins, 2000);
    for (int i = 0; i < 3; i++) alim_corpus_free(&win[i]);
    return rc;
}

static int data_text(data_opts *o)
{
    if (o->n_files == 0) return cli_usage_error("data", "text needs at least one FILE");
    if (o->n_files > ALIM_CORPUS_MAX_COMPONENTS) return cli_error("data text", "at most %d files (components)", ALIM_CORPUS_MAX_COMPONENTS);
    alim_corpus win[ALIM_CORPUS_MAX_COMPONENTS];
    memset(win, 0, sizeof win);
    alim_error err;
    alim_error_clear(&err);
    alim_status st = ALIM_OK;
    for (size_t i = 0; i < o->n_files && !st; i++) {
        char *buf;
        size_t len;
        st = alim_file_read_all(o->files[i], &buf, &len, &err);
        if (!st) st = alim_corpus_add_windows(&win[i], buf, len, o->window, &err);
        if (!st) free(buf);
    }
    if (st) {
        for (size_t i = 0; i < o->n_files; i++) alim_corpus_free(&win[i]);
        return cli_fail(&err);
    }
    const char *names[ALIM_CORPUS_MAX_COMPONENTS];
    for (size_t i = 0; i < o->n_files; i++) {
        const char *b = strrchr(o->files[i], '/');
        names[i] = b ? b + 1 : o->files[i];
    }
    int rc = build_from_windows("text", o, win, o->n_files, names, (const char *const *)o->files, 0);
    for (size_t i = 0; i < o->n_files; i++) alim_corpus_free(&win[i]);
    return rc;
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
    if (argc < 2) return cli_usage_error("data", "missing subcommand (synthetic, natural, text, classify)");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) return cli_print_help("data");
    if (strcmp(sub, "synthetic") && strcmp(sub, "natural") && strcmp(sub, "text") && strcmp(sub, "classify"))
        return cli_usage_error("data", "unknown subcommand '%s' (synthetic, natural, text, classify)", sub);
    data_opts o;
    int rc = parse_opts(sub, argc - 1, argv + 1, &o);
    if (rc == -1) {
        free(o.shares);
        return cli_print_help("data");
    }
    if (!rc) {
        if (!strcmp(sub, "synthetic")) rc = data_synthetic(&o);
        else if (!strcmp(sub, "natural")) rc = data_natural(&o);
        else if (!strcmp(sub, "text")) rc = data_text(&o);
        else rc = data_classify(&o);
    }
    free(o.shares);
    return rc;
}
