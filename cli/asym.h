/* asym.h — helpers shared by the asymptotics-engine commands (tilt, bon, frontier, budget,
 * seq, rate): loading DIST.csv, parsing N, CSV output to a file (atomically) or stdout. */
#ifndef ALIM_CLI_ASYM_H
#define ALIM_CLI_ASYM_H

#include <stdio.h>

#include "alim/bon.h"
#include "alim/io.h"
#include "alim/rdist.h"

/* Reads and validates a "p,r" table; prints the error and returns its exit code on failure. */
int asym_load(const char *path, int normalize, alim_rdist *d);

/* The reward law of merged levels as a distribution (one row per level): the tilt depends on
 * the reward law only, so KL-RL quantities can be computed on it with fewer rows.
 * Prints the error and returns its exit code on failure. */
int asym_rdist_of_levels(const alim_levels *lv, alim_rdist *out);

/* Parses N: a number >= 1 ("16", "1e15") or "e^X" / "exp(X)" for N = e^X (any X >= 0). */
int asym_parse_n(const char *opt, const char *s, alim_bon_size *N);

/* Output sink: a file written atomically, or stdout for "-". */
typedef struct {
    FILE *fp;
    alim_atomic_file af;
    int atomic;
} asym_out;
int asym_out_open(asym_out *o, const char *path);
int asym_out_close(asym_out *o); /* commits; returns an exit code */

/* Monotonic wall clock in seconds (for --timing). */
double asym_now(void);

/* "%.17g", or inf/-inf/nan spelled for CSV readers (numpy, Python float()). */
void asym_csv_num(FILE *fp, double v);

#endif
