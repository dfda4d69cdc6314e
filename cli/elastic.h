/* elastic.h — pieces of `alim elastic` shared by its subcommand files (cmd_elastic.c holds
 * the help text and the dispatch; elastic_scale.c and elastic_coefficient.c hold E3, E4). */
#ifndef ALIM_CLI_ELASTIC_H
#define ALIM_CLI_ELASTIC_H

#include <stddef.h>

#include <cjson/cJSON.h>

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

int cli_elastic_scale(int argc, char **argv);
int cli_elastic_coefficient(int argc, char **argv);

#endif
