/* resist_impl.h — E1 (resistance) inside src/elastic, private to its files:
 *
 *   resist.c          the configuration (defaults, quick, checks) and alim_resist_run, the
 *                     orchestration: load the inputs, open the run directory, declare the
 *                     cell graph, run it, read the results back, judge and write
 *   resist_cells.c    the training cells (theta0, the SFT pass with its stops theta1..3, the
 *                     pairs' fine-tunings), the D_k cell, and the cells' one-line notes
 *   resist_sample.c   D_k of the byte-level path: theta_k's samples, written as JSONL, and
 *                     H_k, the model's loss on them
 *   resist_summary.c  the sign test and alim_resist_judge; the results read back in a fixed
 *                     order, curves.csv, summary.csv, summary.json
 *   resist_real.c     the real-model path's pieces (resist_real.h)
 *   lab.c             with lab_impl.h, the helpers E1 shares with E2 (training options, the
 *                     manifest, the summary's common fields)
 *
 * Cross-file names are prefixed rs_ (RS_ for constants). */
#ifndef ALIM_RESIST_IMPL_H
#define ALIM_RESIST_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/corpus.h"
#include "alim/gpt.h"
#include "alim/lab.h"
#include "alim/resist.h"
#include "alim/rundir.h"
#include "alim/runner.h"
#include "resist_real.h"

/* theta1..3 are the stops of one SFT pass; the fine-tuning pairs (k, l) are (1,2), (2,3), (1,3) */
enum { RS_N_SLICES = 3, RS_N_PAIRS = 3 };
extern const int rs_pair_k[RS_N_PAIRS], rs_pair_l[RS_N_PAIRS];

/* What every cell reads: the configuration and the data, read-only while cells run (side by
 * side when cfg->jobs > 1). */
typedef struct {
    const alim_resist_config *cfg;
    int natural;
    const alim_corpus *pool2, *prompts;
    const char *pre_path;
    alim_resist_note_fn note;
    void *note_ctx;
    alim_precision prec;  /* resolved */
    int real;             /* a pretrained theta0 with chat data (cfg->theta0_model) */
    const rsr_inputs *in; /* its inputs */
} rs_exper;

typedef struct {
    double H[RS_N_SLICES + 1]; /* H_k of D_k, set when cell D_k is told done */
} rs_seedres;

/* one cell's argument */
typedef struct {
    const rs_exper *x;
    rs_seedres *sr;
    size_t seed;
    int k, l, dir;       /* slice (D_k), or pair (k, l) and direction (0 forward, 1 inverse) */
    char from[4200];     /* the model the cell starts from or samples */
    char data[4200];     /* fine-tuning: the D_l (forward) or D_k (inverse) it trains on */
} rs_cell_arg;

/* "a/b", malloc'ed (NULL when out of memory) */
char *rs_path_join(const char *a, const char *b);

/* ---- the cells (resist_cells.c, resist_sample.c) ------------------------------------------ */

alim_status rs_theta0_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err);
alim_status rs_sft_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err);
alim_status rs_d_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err);
alim_status rs_ft_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err);
void rs_note_theta0(void *arg, const char *name, const cJSON *r, int reused);
void rs_note_sft(void *arg, const char *name, const cJSON *result, int reused);
void rs_note_d(void *arg, const char *name, const cJSON *r, int reused);
void rs_note_ft(void *arg, const char *name, const cJSON *r, int reused);
/* the first, mean and last of a fine-tuning's losses; their count */
int rs_loss_stats(const cJSON *result, double *first, double *mean, double *last);
/* Samples D_k from the model in model_dir into out_path (JSONL), then scores it:
 * result {docs, redrawn, tokens, mean_len, H_nats, H_tokens, tokens_per_s, elapsed_s}. */
alim_status rs_sample_cell(const alim_cell_env *env, const rs_exper *x, const char *model_dir, uint64_t seed, int k,
                           const char *out_path, cJSON **result, alim_error *err);

/* ---- one run: what passes between the steps of alim_resist_run -----------------------------
 *
 *   load_inputs      (resist.c)         cfg -> x (real: in; else pool2, pool1), man, source,
 *                                       data_hash, the data paths
 *   open_run_dir     (resist.c)         -> config, rd
 *   build_cells      (resist.c)         -> runner, args and cix [seed][RS_PER_SEED], sr
 *   alim_runner_run                     the cells' result.json files
 *   rs_read_results  (resist_summary.c) -> summary, seeds_json, cases (ncase of them) and
 *                                       pairs_json written from them, gap_raw, gap_corr,
 *                                       num_params; curves.csv
 *   rs_write_summary (resist_summary.c) -> res (verdict, cases, num_params), summary.csv (from
 *                                       the cases), summary.json */
enum { RS_PER_SEED = 2 + RS_N_SLICES + 2 * RS_N_PAIRS }; /* theta0, sft, D1..D3, the pairs' two directions */
typedef struct {
    const alim_resist_config *cfg;
    rs_exper x;
    rsr_inputs in;               /* the real path's */
    size_t S;
    double t_start;
    /* inputs */
    char *pre_path, *pool2_path, *pool1_path;
    cJSON *man;
    const char *source;          /* points into man */
    char data_hash[17];
    alim_corpus pool2, pool1;
    cJSON *config;
    /* the run directory and the cells */
    alim_rundir *rd;
    alim_runner *runner;
    rs_cell_arg *args;           /* [seed][RS_PER_SEED] */
    size_t *cix;                 /* [seed][RS_PER_SEED] runner indices ((size_t)-1: no cell) */
    rs_seedres *sr;              /* [seed] */
    /* the results, read back */
    cJSON *summary;
    cJSON *seeds_json, *pairs_json;
    alim_resist_case *cases;     /* [seed][pair]: the typed cases, ncase of them read (res's once written) */
    double *gap_raw, *gap_corr;  /* [seed][pair]: the cases' gaps, as alim_resist_judge takes them */
    size_t ncase;
    double num_params;
} rs_run;

alim_status rs_read_results(rs_run *r, alim_error *err);
alim_status rs_write_summary(rs_run *r, alim_resist_result *res, alim_error *err);

#endif
