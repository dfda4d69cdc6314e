/* rebound_impl.h — E2 (rebound) inside src/elastic, private to its files:
 *
 *   rebound.c          the configuration (defaults, quick, check) and alim_rebound_run, the
 *                      orchestration: load the inputs, open the run directory, declare the
 *                      cell graph, run it, read the results back, aggregate and write
 *   rebound_inputs.c   the inputs, loaded once before the run directory is touched: the
 *                      manifest, the synthetic/natural data (pools, test sets, chains or
 *                      classifier), an external theta0's checks, the real-model path's data,
 *                      the configuration record (make_config, or rbr_make_config)
 *   rebound_cells.c    the cells (theta0, pos, the negative pass, evaluation, D_0) and their
 *                      one-line notes
 *   rebound_summary.c  the results read back in a fixed order, seed means and SEs (the typed
 *                      result's rows and per-seed evaluations), grid.csv, n*(eps), the
 *                      criteria from the grid, summary.json
 *   rebound_evals.c    the per-seed evaluations E3 and E4 analyse: their lookup and the one
 *                      reader of a finished run's summary.json
 *   rebound_judge.c    the pure functions of alim/rebound.h: the Markov labeller, n*(eps) and
 *                      alim_rebound_judge
 *   rebound_real.c     the real-model path's pieces (rebound_real.h)
 *   lab.c              with lab_impl.h, the helpers E2 shares with E1 (training options, the
 *                      manifest, the summary's common fields)
 *
 * Cross-file functions are prefixed rb_. */
#ifndef ALIM_REBOUND_IMPL_H
#define ALIM_REBOUND_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/classifier.h"
#include "alim/corpus.h"
#include "alim/dataset.h"
#include "alim/gpt.h"
#include "alim/lab.h"
#include "alim/rebound.h"
#include "alim/rundir.h"
#include "alim/runner.h"
#include "alim/tokenizer.h"
#include "rebound_real.h"

enum { RB_N_TEST = 4 };
/* the test sets' names: "gamma_<name>_bits", test_<name>.txt */
extern const char *const rb_test_name[RB_N_TEST];

/* What every cell reads: the configuration and the data, loaded once, read-only while cells
 * run (side by side when cfg->jobs > 1). */
typedef struct {
    const alim_rebound_config *cfg;
    alim_rebound_note_fn note;
    void *note_ctx;
    int natural;
    alim_corpus pool2, pool3;
    alim_token_stream test[RB_N_TEST];
    alim_tokenizer tk;
    alim_markov chains[ALIM_SOURCE_MAX_COMPONENTS];
    size_t n_chains;
    alim_nb nb;
    int have_nb;
    alim_precision prec;  /* of the cells' models, resolved */
    /* the real-model path (cfg->theta0_model): chat records, template, prompts, classes */
    int real;
    rbr_lines pos_rec, neg_rec, prompts;
    alim_chat_template chat;
    int cls_neutral, cls_pos, cls_neg;
    /* its control (cfg->control): the control-negative behaviour (c4) */
    rbr_lines ctl_rec;
    alim_token_stream test_ctl;
    int cls_ctl;
} rb;

/* ---- the cells (rebound_cells.c) ---------------------------------------------------------- */

/* a training cell's argument: theta0, pos<n>, pos<n>-negpass, pos<n>-ctlpass */
typedef struct {
    const rb *x;
    size_t seed, n_pos;
    char init_dir[4200];   /* the model fine-tuning starts from */
    const char *data_path; /* theta0's pretraining data */
    int ctl;               /* real: a control pass (the control-negative pool) */
} rb_train_arg;

/* an evaluation cell's argument (and D_0's) */
typedef struct {
    const rb *x;
    char model_dir[4300];
    char base_dir[4200]; /* theta0, for the KL to it; empty when evaluating theta0 itself */
    uint64_t seed, stream;
    char d0_path[4300]; /* real: D_0 of the seed (the "mix" set); empty otherwise */
    int ctl;            /* real: a control model, its negative class is the control's */
    int discard;        /* real: a stop of a negative pass, its weights removed once evaluated */
} rb_eval_arg;

enum { RB_D0_STREAM = 4095 }; /* D_0's random stream: above every evaluation's (< 1 + 12 x 12) */

alim_status rb_theta0_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err);
alim_status rb_pos_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err);
alim_status rb_neg_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err);
alim_status rb_eval_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err);
alim_status rb_d0_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err);
void rb_note_theta0(void *arg, const char *name, const cJSON *r, int reused);
void rb_note_d0(void *arg, const char *name, const cJSON *r, int reused);
void rb_note_theta0_eval(void *arg, const char *name, const cJSON *r, int reused);
void rb_note_pos(void *arg, const char *name, const cJSON *r, int reused);
void rb_note_negpass(void *arg, const char *name, const cJSON *r, int reused);
void rb_note_eval(void *arg, const char *name, const cJSON *r, int reused);
/* tokens of document d of c in the training stream (its tokens + the end-of-text token) */
double rb_doc_tokens(const rb *x, const alim_corpus *c, size_t d);

/* ---- one run: what passes between the steps of alim_rebound_run ---------------------------
 *
 *   rb_load_inputs   (rebound_inputs.c)  cfg -> x (the data), man, source, shares, nb_acc,
 *                                        data_hash, theta0_*, ctl_sum; then config
 *   alim_rundir_open (rebound.c)         config -> rd (and pre_path)
 *   build_cells      (rebound.c)         -> runner, the cells' arguments (targs, eargs,
 *                                        d0args; ctargs, cargs under ctl) and their runner
 *                                        indices (cix; ccix under ctl)
 *   alim_runner_run                      the cells' result.json files
 *   rb_read_results  (rebound_summary.c) -> summary {"per_seed"}, per, steps (and cper, csteps
 *                                        under ctl), num_params
 *   rb_write_summary (rebound_summary.c) -> res (typed rows, n_star, criteria), grid.csv and
 *                                        summary.json written from them
 *
 * Sizes: P = n_pos_count, N = n_neg_count, S = n_seeds, G = 1 + P*N evaluations per seed. */
typedef struct {
    const alim_rebound_config *cfg;
    rb *x;
    size_t P, N, S, G;
    double t_start;
    int ctl;                     /* the real path's control cells (x->real && cfg->control) */
    /* inputs */
    cJSON *man;                  /* the data directory's manifest (source points into it) */
    const char *source;
    double shares[3], nb_acc, theta0_bytes;
    char data_hash[17], theta0_hash[17];
    alim_gpt_config theta0_cfg;
    size_t theta0_params;
    cJSON *ctl_sum;              /* --control-run's summary, NULL without */
    cJSON *config;               /* the configuration record (the run directory's identity) */
    /* the run directory and the cells */
    alim_rundir *rd;
    alim_runner *runner;
    char pre_path[4200];
    rb_train_arg *targs;         /* [seed][1 + 2P]: theta0, then pos, negpass per n_pos */
    rb_eval_arg *eargs;          /* [seed][G]: theta0-eval, then the grid's evaluations */
    rb_eval_arg *d0args;         /* [seed]: real, D_0 */
    size_t *cix;                 /* [seed][2 + 2P + P*N]: theta0 (or d0), theta0-eval, then
                                  * per n_pos pos, negpass, then the P*N evaluations */
    rb_train_arg *ctargs;        /* ctl: [seed][P] control passes */
    rb_eval_arg *cargs;          /* ctl: [seed][P][N] control evaluations (j >= 1) */
    size_t *ccix;                /* ctl: [seed][P][N]: j = 0 the pass, j >= 1 the evaluation */
    /* the results, read back */
    cJSON *summary;
    cJSON **per;                 /* [seed][G] evaluation results */
    double *steps;               /* [seed][P][N] the negative pass's update at each n_neg */
    cJSON **cper;                /* ctl: [seed][P][N] control evaluation results */
    double *csteps;              /* ctl: [seed][P][N] */
    double num_params;
} rb_run;

/* the runner index of seed s's (0-based) cell k (k as in rb_run.cix) */
static inline size_t *rb_cix(const rb_run *r, size_t s, size_t k)
{
    return &r->cix[s * (2 + 2 * r->P + r->P * r->N) + k];
}

alim_status rb_load_inputs(rb_run *r, alim_error *err);
alim_status rb_read_results(rb_run *r, alim_error *err);
alim_status rb_write_summary(rb_run *r, alim_rebound_result *res, alim_error *err);
/* an evaluation's fields E3 and E4 read (a missing one NAN), the reader of summary.json's and
 * the run's own (rebound_evals.c) */
void rb_eval_from_json(const cJSON *e, alim_rebound_eval *out);

#endif
