/* cli.h — shared helpers of the `alim` command-line front end.
 *
 * The CLI only parses arguments, calls the library and prints. Conventions:
 *   - errors:  "alim: error: <file or option>: <what is wrong>" on stderr;
 *              exit 2 for bad input or usage, 1 for runtime failure;
 *   - output:  a human-readable table by default, one JSON object on stdout with --json;
 *              JSON keys carry their unit (_bits, _nats).
 */
#ifndef ALIM_CLI_H
#define ALIM_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/progress.h"
#include "alim/gpt.h"
#include "alim/status.h"

enum { CLI_EXIT_OK = 0, CLI_EXIT_RUNTIME = 1, CLI_EXIT_USAGE = 2 };

/* One entry per subcommand (cli/commands.def). */
typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary; /* one line for `alim --help` */
    const char *help;    /* the full text of `alim <name> --help` */
} cli_command;

extern const cli_command cli_commands[];
extern const size_t cli_command_count;

/* Prints "alim: error: where: what" and returns CLI_EXIT_USAGE. */
int cli_error(const char *where, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a library error record and returns 2 (user error) or 1 (runtime). Its where, when it
 * names a library parameter, becomes the flag that sets it, and its message gets the flag
 * hints back (cli_flag_of, cli_flag_hints). */
int cli_fail(const alim_error *err);
/* cli/flags.c: the flag that sets the library parameter `where` names ("n_max" -> "--n-max"),
 * or `where` itself when it names none (a file, a line, a tensor). */
const char *cli_flag_of(const char *where);
/* cli/flags.c: a library message with the command line's words for its parameter hints
 * ("normalize rescales" -> "use --normalize to rescale"), into out (cap bytes). */
void cli_flag_hints(const char *what, char *out, size_t cap);

/* Parse helpers: on failure they print an error naming `opt` and return CLI_EXIT_USAGE. */
int cli_parse_double(const char *opt, const char *s, double *out);
int cli_parse_u64(const char *opt, const char *s, uint64_t *out);
int cli_parse_size(const char *opt, const char *s, size_t *out);
/* Comma-separated list of doubles ("1,4,16"); *out malloc'd. */
int cli_parse_double_list(const char *opt, const char *s, double **out, size_t *n);

/* --threads N for the language-model commands: sets both the OpenMP and the OpenBLAS thread
 * counts (N >= 1); prints an error and returns CLI_EXIT_USAGE on a bad value. */
int cli_lm_set_threads(const char *s);
/* --precision auto|fp32|bf16 of the language-model commands (alim/gpt.h). NULL: the
 * environment variable ALIM_PRECISION if set (the test suite pins fp32 with it), else auto.
 * Prints an error naming --precision (or ALIM_PRECISION) and returns CLI_EXIT_USAGE on a
 * bad value. */
int cli_parse_precision(const char *s, alim_precision *p);
/* "--precision", then a help line for it: the same text in every command's --help */
#define CLI_PRECISION_HELP \
    "  --precision P        matrix products in fp32, or bf16 inputs with fp32 accumulation\n" \
    "                       (oneDNN on AMX/AVX512-BF16; everything else stays fp32); auto\n" \
    "                       (default) = bf16 where the CPU has native bf16, else fp32;\n" \
    "                       'alim info' shows what auto picks here\n"
/* --jobs: cells side by side (alim/runner.h). NULL: the CPUs online divided by the OpenMP
 * threads (set first, cli_lm_set_threads), at least 1. 0 or usage error (exit 2) on bad input. */
int cli_parse_jobs(const char *s, int *jobs);
/* Runs cmd(argc, argv) as one rank of an MPI job when launched by mpirun/srun (alim/dist.h;
 * a plain process otherwise): MPI is started before and finished after, ranks other than 0
 * print nothing on stdout and no error (rank 0 prints the error all ranks agreed on), and
 * they wait for each other before leaving so that mpirun does not kill a rank still
 * printing. then(rc) maps the command's code (may be NULL). */
extern int cli_quiet; /* set by cli_with_dist on ranks other than 0: no error messages */
int cli_with_dist(int (*cmd)(int, char **), int argc, char **argv, int (*then)(int));

/* Standard handling of an unknown option or missing argument from getopt_long:
 * prints the error plus "try 'alim CMD --help'" and returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the help text of command `name` (with a trailing newline) to stdout. */
int cli_print_help(const char *name);

/* Prints a JSON object to stdout (indented, one object, newline) and frees it.
 * Returns CLI_EXIT_RUNTIME if printing failed. */
int cli_print_json(cJSON *obj);
/* Adds a numeric array; non-finite values as alim/io.h's convention says ("inf", "-inf",
 * NaN as null). */
cJSON *cli_json_add_array(cJSON *obj, const char *key, const double *v, size_t n);
/* Adds a number; non-finite values as alim/io.h's convention says (JSON has no infinity):
 * the strings "inf" and "-inf", NaN as null. */
cJSON *cli_json_add_number(cJSON *obj, const char *key, double v);

/* A progress callback that draws "stage: 42% (ETA 3 s)" on stderr, at most a few
 * times a second, and only when stderr is a terminal or ALIM_PROGRESS=1. */
alim_progress cli_progress(void);
/* Ends the progress line (prints a newline if one was drawn). */
void cli_progress_done(void);

#endif
