/* elastic.h — `alim elastic`, one file per subcommand. The dependencies run one way:
 *   cmd_elastic.c (dispatch, overview help)
 *     -> elastic_oracle.c, elastic_resist.c, elastic_rebound.c, elastic_scale.c,
 *        elastic_coefficient.c (one subcommand each: its help text, options and output)
 *       -> elastic_common.c (the helpers below) -> cli.h
 * A subcommand never calls back into the dispatcher: asked for help, it returns
 * CLI_ELASTIC_SHOW_HELP and the dispatcher, which owns the whole text, prints it. */
#ifndef ALIM_CLI_ELASTIC_H
#define ALIM_CLI_ELASTIC_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "alim/rebound.h"

/* ---- the subcommands (elastic_<name>.c) ---- */

/* Returned by a subcommand for --help (after freeing what it holds); not an exit status. */
enum { CLI_ELASTIC_SHOW_HELP = -1 };

/* Each takes argv[0] = the subcommand's name and returns the exit status. */
int cli_elastic_oracle(int argc, char **argv);
int cli_elastic_resist(int argc, char **argv);
int cli_elastic_rebound(int argc, char **argv);
int cli_elastic_scale(int argc, char **argv);
int cli_elastic_coefficient(int argc, char **argv);

/* The help of each: "usage: ..." to its options, ending with a newline, no blank line at
 * either end (the dispatcher joins them with one). */
extern const char cli_elastic_oracle_help[];
extern const char cli_elastic_resist_help[];
extern const char cli_elastic_rebound_help[];
extern const char cli_elastic_scale_help[];
extern const char cli_elastic_coefficient_help[];

/* Prints the help of the subcommands after the overview (cmd_elastic_help), as
 * `alim elastic --help` shows them (cmd_elastic.c; alim.c calls it after the overview). */
void cli_elastic_print_subcommand_help(void);

/* ---- shared helpers (elastic_common.c) ---- */

/* A progress note of an experiment: ends the progress line, then prints the note on stderr. */
void cli_elastic_note(void *ctx, const char *line);
/* Copies a file atomically; prints the error and returns the exit status on failure. */
/* 1 if dir holds the data of `alim data behaviours` (the real-model path of resist/rebound) */
int cli_elastic_behaviour_data(const char *dir);
/* Before the options are parsed (the defaults depend on both): *quick = whether --quick is
 * given; returns whether --data names behaviour data. */
int cli_elastic_prescan(int argc, char **argv, int *quick);
int cli_elastic_copy_file(const char *from, const char *to);
/* Options in [1, 2^20] (int) and [1, 2^30] (size_t). */
int cli_elastic_parse_pos_int(const char *opt, const char *s, int *out);
int cli_elastic_parse_pos_size(const char *opt, const char *s, size_t *out);
/* A grid of whole numbers >= 0 (1..ALIM_REBOUND_MAX_GRID values). */
int cli_elastic_parse_grid(const char *opt, const char *s, size_t *out, size_t *n);

/* The options of a rebound run that `rebound` and `coefficient` share: their getopt codes
 * (a subcommand numbers its own options from CLI_ELASTIC_OPT_END) and table entries. */
enum {
    CLI_ELASTIC_OPT_SEEDS = 256, CLI_ELASTIC_OPT_PRETRAIN, CLI_ELASTIC_OPT_LAYERS, CLI_ELASTIC_OPT_DIM, CLI_ELASTIC_OPT_HEADS,
    CLI_ELASTIC_OPT_CONTEXT, CLI_ELASTIC_OPT_THETA0, CLI_ELASTIC_OPT_NPOS, CLI_ELASTIC_OPT_NNEG, CLI_ELASTIC_OPT_SAMPLES,
    CLI_ELASTIC_OPT_SAMPLE_TOKENS, CLI_ELASTIC_OPT_THREADS, CLI_ELASTIC_OPT_JOBS, CLI_ELASTIC_OPT_PRECISION, CLI_ELASTIC_OPT_END
};
#define CLI_ELASTIC_REBOUND_OPTIONS                                                                                    \
    {"seeds", required_argument, 0, CLI_ELASTIC_OPT_SEEDS}, {"pretrain-tokens", required_argument, 0, CLI_ELASTIC_OPT_PRETRAIN}, \
    {"layers", required_argument, 0, CLI_ELASTIC_OPT_LAYERS}, {"dim", required_argument, 0, CLI_ELASTIC_OPT_DIM},             \
    {"heads", required_argument, 0, CLI_ELASTIC_OPT_HEADS}, {"context", required_argument, 0, CLI_ELASTIC_OPT_CONTEXT},       \
    {"theta0", required_argument, 0, CLI_ELASTIC_OPT_THETA0}, {"n-pos", required_argument, 0, CLI_ELASTIC_OPT_NPOS},          \
    {"n-neg", required_argument, 0, CLI_ELASTIC_OPT_NNEG}, {"samples", required_argument, 0, CLI_ELASTIC_OPT_SAMPLES},        \
    {"sample-tokens", required_argument, 0, CLI_ELASTIC_OPT_SAMPLE_TOKENS},                                                   \
    {"threads", required_argument, 0, CLI_ELASTIC_OPT_THREADS}, {"jobs", required_argument, 0, CLI_ELASTIC_OPT_JOBS},     \
    {"precision", required_argument, 0, CLI_ELASTIC_OPT_PRECISION}

/* The help line of --jobs, shared by every subcommand that runs cells. */
#define CLI_ELASTIC_JOBS_HELP                                                                                          \
    "  --jobs N               cells computed side by side, each with --threads threads (default 1;\n"                 \
    "                         on 2 cores --threads 1 --jobs 2); results do not depend on N\n"                     \
    "  --precision P          the models' matrix products: fp32, bf16 (bf16 inputs, fp32 sums;\n"              \
    "                         oneDNN on AMX/AVX512-BF16) or auto (default: bf16 where the CPU\n"                \
    "                         has native bf16); a bf16 run has a run directory of its own\n"

/* What the shared options said beyond the configuration. */
typedef struct {
    const char *theta0;      /* --theta0 DIR, or NULL                                         */
    int shape_given;         /* --layers, --dim or --heads                                    */
    int context_given;       /* --context                                                     */
    int sample_tokens_given; /* --sample-tokens                                               */
    int run_opts;            /* any option that shapes training or sampling (not the grid)   */
} cli_elastic_rebound_opts;

/* Applies the shared option `code` (getopt's return) with `arg` to *c and *o. Returns
 * 0 when handled, the exit status after printing an error, or CLI_ELASTIC_NOT_SHARED when
 * `code` is not a shared option (the caller handles it). */
enum { CLI_ELASTIC_NOT_SHARED = -2 };
int cli_elastic_rebound_option(int code, const char *arg, alim_rebound_config *c, cli_elastic_rebound_opts *o);

/* --theta0 DIR (applied after option parsing): every seed of the rebound run starts from this
 * checkpoint (any GPT-2-format model with its tokenizer) instead of pretraining; the model
 * shape comes from it, the context is capped at its n_positions unless given. Fills
 * *dirs (n_seeds copies of dir; free() it) and origin. Prints the error and returns the
 * exit status on failure. */
int cli_elastic_use_theta0(alim_rebound_config *c, const char *dir, int context_given, const char ***dirs, char *origin,
                           size_t origin_size);

#endif
