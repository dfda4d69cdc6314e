/* elastic_common.c — helpers shared by the subcommands of `alim elastic` (see elastic.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/checkpoint.h"
#include "alim/gpt.h"
#include "alim/io.h"
#include "cli.h"
#include "elastic.h"

void cli_elastic_note(void *ctx, const char *line)
{
    (void)ctx;
    cli_progress_done();
    fprintf(stderr, "%s\n", line);
}

int cli_elastic_use_theta0(alim_rebound_config *c, const char *dir, int context_given, const char ***dirs, char *origin, size_t origin_size)
{
    alim_gpt m = {0};
    alim_error err;
    alim_error_clear(&err);
    if (alim_checkpoint_load(dir, &m, NULL, NULL, &err)) return cli_fail(&err);
    const alim_gpt_config g = m.config;
    alim_gpt_free(&m);
    c->n_layer = g.n_layer, c->n_embd = g.n_embd, c->n_head = g.n_head;
    if (!context_given && c->context > g.n_positions) c->context = g.n_positions;
    if (c->sample_tokens > (size_t)c->context) c->sample_tokens = (size_t)c->context;
    *dirs = malloc(c->n_seeds * sizeof **dirs);
    if (!*dirs) return cli_error("--theta0", "out of memory"), CLI_EXIT_RUNTIME;
    for (size_t s = 0; s < c->n_seeds; s++) (*dirs)[s] = dir;
    snprintf(origin, origin_size, "--theta0 %s (%dx%dx%d, vocabulary %d; pretrained on %llu tokens as stated by --pretrain-tokens)", dir,
             g.n_layer, g.n_embd, g.n_head, g.vocab_size, (unsigned long long)c->pretrain_tokens);
    c->theta0_dirs = *dirs;
    c->theta0_origin = origin;
    return 0;
}

/* 1 if dir holds the data of `alim data behaviours` (its manifest's format) */
int cli_elastic_behaviour_data(const char *dir)
{
    char p[4200];
    cJSON *m = NULL;
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    if (alim_json_read_file(p, &m, NULL)) return 0;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(m, "format");
    const int yes = cJSON_IsString(f) && !strcmp(f->valuestring, "alim-behaviour-data/1");
    cJSON_Delete(m);
    return yes;
}

int cli_elastic_prescan(int argc, char **argv, int *quick)
{
    const char *data = NULL;
    *quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) *quick = 1;
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[i + 1];
        else if (!strncmp(argv[i], "--data=", 7)) data = argv[i] + 7;
    }
    return data && cli_elastic_behaviour_data(data);
}

int cli_elastic_copy_file(const char *from, const char *to)
{
    char *buf;
    size_t len;
    alim_error err;
    alim_error_clear(&err);
    if (alim_file_read_all(from, &buf, &len, &err)) return cli_fail(&err);
    alim_status st = alim_file_write_atomic(to, buf, len, &err);
    free(buf);
    return st ? cli_fail(&err) : 0;
}

int cli_elastic_parse_pos_int(const char *opt, const char *s, int *out)
{
    uint64_t v;
    int rc = cli_parse_u64(opt, s, &v);
    if (rc) return rc;
    if (v < 1 || v > 1u << 20) return cli_error(opt, "'%s' must be an integer in [1, 2^20]", s);
    *out = (int)v;
    return 0;
}

int cli_elastic_parse_pos_size(const char *opt, const char *s, size_t *out)
{
    int rc = cli_parse_size(opt, s, out);
    if (!rc && (*out < 1 || *out > (size_t)1 << 30)) rc = cli_error(opt, "'%s' must be an integer in [1, 2^30]", s);
    return rc;
}

int cli_elastic_parse_grid(const char *opt, const char *s, size_t *out, size_t *n)
{
    double *v = NULL;
    size_t k = 0;
    int rc = cli_parse_double_list(opt, s, &v, &k);
    if (rc) return rc;
    if (k < 1 || k > ALIM_REBOUND_MAX_GRID) rc = cli_error(opt, "needs 1..%d values", ALIM_REBOUND_MAX_GRID);
    for (size_t i = 0; i < k && !rc; i++) {
        if (!(v[i] >= 0 && v[i] <= 1e9 && v[i] == floor(v[i]))) rc = cli_error(opt, "'%s': values must be whole numbers >= 0", s);
        else out[i] = (size_t)v[i];
    }
    free(v);
    if (!rc) *n = k;
    return rc;
}

int cli_elastic_rebound_option(int code, const char *arg, alim_rebound_config *c, cli_elastic_rebound_opts *o)
{
    int rc = 0;
    uint64_t u;
    switch (code) {
    case CLI_ELASTIC_OPT_SEEDS:
        rc = cli_elastic_parse_pos_size("--seeds", arg, &c->n_seeds);
        if (!rc && c->n_seeds > 1000) rc = cli_error("--seeds", "at most 1000");
        break;
    case CLI_ELASTIC_OPT_PRETRAIN:
        rc = cli_parse_u64("--pretrain-tokens", arg, &u);
        if (!rc && u < 1) rc = cli_error("--pretrain-tokens", "must be >= 1");
        c->pretrain_tokens = u;
        break;
    case CLI_ELASTIC_OPT_LAYERS: rc = cli_elastic_parse_pos_int("--layers", arg, &c->n_layer); o->shape_given = 1; break;
    case CLI_ELASTIC_OPT_DIM: rc = cli_elastic_parse_pos_int("--dim", arg, &c->n_embd); o->shape_given = 1; break;
    case CLI_ELASTIC_OPT_HEADS: rc = cli_elastic_parse_pos_int("--heads", arg, &c->n_head); o->shape_given = 1; break;
    case CLI_ELASTIC_OPT_CONTEXT: rc = cli_elastic_parse_pos_int("--context", arg, &c->context); o->context_given = 1; break;
    case CLI_ELASTIC_OPT_THETA0: o->theta0 = arg; break;
    case CLI_ELASTIC_OPT_SAMPLES: rc = cli_elastic_parse_pos_size("--samples", arg, &c->n_samples); break;
    case CLI_ELASTIC_OPT_SAMPLE_TOKENS:
        rc = cli_elastic_parse_pos_size("--sample-tokens", arg, &c->sample_tokens);
        o->sample_tokens_given = 1;
        break;
    /* the grid and the threads change neither the model nor the sampling */
    case CLI_ELASTIC_OPT_NPOS: return cli_elastic_parse_grid("--n-pos", arg, c->n_pos, &c->n_pos_count);
    case CLI_ELASTIC_OPT_NNEG: return cli_elastic_parse_grid("--n-neg", arg, c->n_neg, &c->n_neg_count);
    case CLI_ELASTIC_OPT_THREADS: return cli_lm_set_threads(arg);
    case CLI_ELASTIC_OPT_JOBS: return cli_parse_jobs(arg, &c->jobs);
    case CLI_ELASTIC_OPT_PRECISION: rc = cli_parse_precision(arg, &c->precision); break;
    default: return CLI_ELASTIC_NOT_SHARED;
    }
    o->run_opts = 1;
    return rc;
}
