/* bench_real_sample.c — batched sampling throughput of a real model through
 * alim_lm_sample_batch (the sampler of the elasticity experiments), for the cost model of
 * docs/real-elasticity.md §9. Driver of bench/bench_real_cost.sh (linked to libalim.a).
 *
 *   bench_real_sample MODEL B T EOT ID...   B rows, each the prompt ids ID..., continued for at
 *                                           most T tokens at temperature 1 (row b: stream b)
 * Prints one line: load and sampling seconds, tokens drawn, tokens/s of wall time and the
 * process's CPU seconds over the sampling (so a shared machine's share can be read off). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "alim/checkpoint.h"
#include "alim/lm_eval.h"
#include "alim/rng.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_sec +
           1e-6 * (double)u.ru_stime.tv_usec;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s MODEL B T EOT ID...\n", argv[0]);
        return 2;
    }
    const size_t B = (size_t)atol(argv[2]), T = (size_t)atol(argv[3]), np = (size_t)(argc - 5);
    const int eot = atoi(argv[4]);
    if (B < 1 || T < 1) return fprintf(stderr, "B and T must be >= 1\n"), 2;
    alim_gpt m = {0};
    alim_tokenizer tk = {0};
    alim_error err;
    double t0 = now();
    if (alim_checkpoint_load(argv[1], &m, &tk, NULL, &err)) {
        fprintf(stderr, "%s: %s\n", err.where, err.what);
        return 1;
    }
    const size_t L = np + T;
    int32_t *rows = malloc(B * L * sizeof *rows);
    alim_rng *r = malloc(B * sizeof *r);
    size_t *len = malloc(B * sizeof *len);
    if (!rows || !r || !len) return fprintf(stderr, "out of memory\n"), 1;
    for (size_t b = 0; b < B; b++) {
        for (size_t i = 0; i < np; i++) rows[b * L + i] = (int32_t)atol(argv[5 + i]);
        alim_rng_seed(&r[b], 1, b);
    }
    double t1 = now(), c1 = cpu_seconds();
    if (alim_lm_sample_batch(&m, rows, B, L, np, eot, 1.0, 0, r, len, &err)) {
        fprintf(stderr, "%s: %s\n", err.where, err.what);
        return 1;
    }
    double t2 = now(), c2 = cpu_seconds();
    size_t drawn = 0;
    for (size_t b = 0; b < B; b++) drawn += len[b] - np + (len[b] < L);
    printf("rows %zu, at most %zu tokens, prompt %zu ids: load %.2f s, sampling %.2f s wall / %.2f s CPU, %zu tokens drawn: "
           "%.1f tokens/s wall, %.1f per CPU-second\n",
           B, T, np, t1 - t0, t2 - t1, c2 - c1, drawn, (double)drawn / (t2 - t1), (double)drawn / (c2 - c1));
    free(rows), free(r), free(len);
    alim_tokenizer_free(&tk);
    alim_gpt_free(&m);
    return 0;
}
