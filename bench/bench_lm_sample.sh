#!/usr/bin/env bash
# bench_lm_sample.sh — sampling throughput: the key/value cache (alim_lm_sample_batch,
# alim_lm_sample) against the full-forward loops it replaces (every new token re-runs the
# whole prefix through alim_gpt_forward, as the elasticity experiments' batched loops did).
#
#   bench/bench_lm_sample.sh [N_DOCS] [TOKENS] [CHUNK] [ROUNDS]
#
# Model: GPT-2 initialisation (seed 1) of L=2, C=64, NH=4, V=257, n_positions=TOKENS.
# Every document is end-of-text + TOKENS drawn tokens (eot = -1: no early end, so both
# sides do the same number of draws). Old and new alternate ROUNDS times; the table gives
# tokens/s of each round and the median ratio. Also one sequence (alim_lm_sample, B = 1).
# Threads: OMP_NUM_THREADS (default: all cores). Needs `make` first (links build/libalim.a).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-256} TOK=${2:-128} CHUNK=${3:-64} ROUNDS=${4:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/bench.c" <<'CEOF'
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <omp.h>
#include "alim/gpt.h"
#include "alim/lm_eval.h"
#include "alim/rng.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* the loop of src/elastic/rebound.c (sample_and_label) before the cache */
static size_t old_chunk(alim_gpt *m, int32_t *rows, size_t nb, size_t L, int eot, alim_rng *rng)
{
    const int V = m->config.vocab_size, lim = V;
    int32_t *packed = malloc(nb * L * sizeof *packed);
    float *lp = malloc((size_t)V * sizeof *lp);
    double *w = malloc((size_t)V * sizeof *w);
    size_t len[1024];
    int alive[1024];
    alim_error err;
    size_t generated = 0;
    for (size_t b = 0; b < nb; b++) len[b] = 1, alive[b] = 1;
    for (size_t t = 1; t < L; t++) {
        int any = 0;
        for (size_t b = 0; b < nb; b++) any |= alive[b];
        if (!any) break;
        for (size_t b = 0; b < nb; b++)
            for (size_t j = len[b]; j < t; j++) rows[b * L + j] = eot < 0 ? 0 : eot;
        for (size_t b = 0; b < nb; b++) memcpy(packed + b * t, rows + b * L, t * sizeof *packed);
        if (alim_gpt_forward(m, packed, NULL, (int)nb, (int)t, &err)) { fprintf(stderr, "%s\n", err.what); exit(1); }
        for (size_t b = 0; b < nb; b++) {
            if (!alive[b]) continue;
            alim_gpt_log_softmax_row(m, (int)b, (int)t - 1, lp);
            double mx = -INFINITY, acc = 0;
            for (int v = 0; v < lim; v++) mx = lp[v] > mx ? lp[v] : mx;
            for (int v = 0; v < lim; v++) {
                acc += exp(((double)lp[v] - mx) / 1.0);
                w[v] = acc;
            }
            int tok = (int)alim_rng_discrete_cdf(&rng[b], w, (size_t)lim);
            generated++;
            if (tok == eot) { alive[b] = 0; continue; }
            rows[b * L + t] = tok;
            len[b] = t + 1;
        }
    }
    free(packed), free(lp), free(w);
    return generated;
}

int main(int argc, char **argv)
{
    const size_t N = strtoul(argv[1], 0, 10), TOK = strtoul(argv[2], 0, 10), CH = strtoul(argv[3], 0, 10);
    const int rounds = atoi(argv[4]);
    const size_t L = 1 + TOK;
    alim_gpt_config cfg = {2, 64, 4, (int)TOK, 257, 1e-5f};
    alim_gpt m;
    alim_error err;
    if (alim_gpt_create(&m, &cfg, &err)) return 1;
    alim_gpt_init_params(&m, 1);
    int32_t *rows = malloc(N * L * sizeof *rows), *ref = malloc(N * L * sizeof *rows);
    size_t *len = malloc(N * sizeof *len);
    alim_rng *rng = malloc(N * sizeof *rng);
    double ratios[64];
    printf("threads %d, %zu documents x %zu tokens, chunks of %zu rows\n", omp_get_max_threads(), N, TOK, CH);
    printf("%-6s %14s %14s %8s %8s\n", "round", "old tok/s", "cache tok/s", "ratio", "same");
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        size_t gen = 0;
        for (size_t c0 = 0; c0 < N; c0 += CH) {
            size_t nb = N - c0 < CH ? N - c0 : CH;
            for (size_t b = 0; b < nb; b++) alim_rng_seed(&rng[c0 + b], 7, c0 + b), ref[(c0 + b) * L] = 256;
            gen += old_chunk(&m, ref + c0 * L, nb, L, -1, rng + c0);
        }
        double t_old = now() - t0;
        t0 = now();
        size_t gen2 = 0;
        for (size_t c0 = 0; c0 < N; c0 += CH) {
            size_t nb = N - c0 < CH ? N - c0 : CH;
            for (size_t b = 0; b < nb; b++) alim_rng_seed(&rng[c0 + b], 7, c0 + b), rows[(c0 + b) * L] = 256;
            if (alim_lm_sample_batch(&m, rows + c0 * L, nb, L, 1, -1, 1.0, 0, rng + c0, len + c0, &err)) { fprintf(stderr, "%s\n", err.what); return 1; }
            for (size_t b = 0; b < nb; b++) gen2 += len[c0 + b] - 1;
        }
        double t_new = now() - t0;
        size_t same = 0;
        for (size_t i = 0; i < N * L; i++) same += rows[i] == ref[i];
        ratios[r] = (gen2 / t_new) / (gen / t_old);
        printf("%-6d %14.0f %14.0f %7.1fx %7.4f\n", r + 1, gen / t_old, gen2 / t_new, ratios[r], (double)same / (N * L));
    }
    for (int i = 1; i < rounds; i++)
        for (int j = i; j > 0 && ratios[j] < ratios[j - 1]; j--) { double t = ratios[j]; ratios[j] = ratios[j - 1]; ratios[j - 1] = t; }
    printf("median ratio (batched, chunks of %zu): %.1fx\n", CH, ratios[rounds / 2]);

    /* one sequence: alim_lm_sample (cache) vs the old loop with B = 1 */
    alim_sample_options o = {(int)TOK, 1.0, 0, 0, -1, 0};
    int32_t *ids = malloc((L + 1) * sizeof *ids);
    alim_rng r1;
    double t0 = now();
    size_t n1 = 0, reps = 4;
    for (size_t k = 0; k < reps; k++) {
        alim_rng_seed(&r1, 9, k);
        ids[0] = 256;
        if (alim_lm_sample(&m, ids, 1, &o, &r1, &n1, &err)) return 1;
    }
    double t_new = now() - t0;
    t0 = now();
    for (size_t k = 0; k < reps; k++) {
        alim_rng_seed(&r1, 9, k);
        ref[0] = 256;
        old_chunk(&m, ref, 1, L, -1, &r1);
    }
    double t_old = now() - t0;
    printf("one sequence of %zu tokens: old %.0f tok/s, cache %.0f tok/s, ratio %.1fx\n", TOK, reps * TOK / t_old, reps * TOK / t_new, t_old / t_new);
    alim_gpt_free(&m);
    return 0;
}
CEOF
gcc -std=gnu11 -O2 -fopenmp -Iinclude "$tmp/bench.c" build/libalim.a -o "$tmp/bench" $(pkg-config --libs openblas libcjson) -lm
# the same OpenBLAS kernel choice as the alim program makes (see src/core/blas.c)
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512bw /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX; fi
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset, OpenBLAS detects the CPU}"
"$tmp/bench" "$N" "$TOK" "$CHUNK" "$ROUNDS"
