/* elastic.h — pieces of `alim elastic` shared by its subcommand files (cmd_elastic.c holds
 * the help text and the dispatch; elastic_scale.c and elastic_coefficient.c hold E3, E4). */
#ifndef ALIM_CLI_ELASTIC_H
#define ALIM_CLI_ELASTIC_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "alim/rebound.h"

/* A progress note of an experiment: ends the progress line, then prints the note on stderr. */
void cli_elastic_note(void *ctx, const char *line);
/* Copies a file atomically; prints the error and returns the exit status on failure. */
int cli_elastic_copy_file(const char *from, const char *to);
/* Options in [1, 2^20] (int) and [1, 2^30] (size_t). */
int cli_elastic_parse_pos_int(const char *opt, const char *s, int *out);
int cli_elastic_parse_pos_size(const char *opt, const char *s, size_t *out);
/* A grid of whole numbers >= 0 (1..ALIM_REBOUND_MAX_GRID values). */
int cli_elastic_parse_grid(const char *opt, const char *s, size_t *out, size_t *n);
/* obj[key] as a number, NAN if missing. */
double cli_elastic_num(const cJSON *o, const char *key);
/* obj[key] as a string, "?" if missing. */
const char *cli_elastic_str(const cJSON *o, const char *key);

/* --theta0 DIR (applied after option parsing): every seed of the rebound run starts from this
 * checkpoint (any GPT-2-format model with its tokenizer) instead of pretraining; the model
 * shape comes from it, the context is capped at its n_positions unless given. Fills
 * *dirs (n_seeds copies of dir; free() it) and origin. Prints the error and returns the
 * exit status on failure. */
int cli_elastic_use_theta0(alim_rebound_config *c, const char *dir, int context_given, const char ***dirs, char *origin,
                           size_t origin_size);

int cli_elastic_scale(int argc, char **argv);
int cli_elastic_coefficient(int argc, char **argv);

#endif
