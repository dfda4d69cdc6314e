/* check.h — the tiny test harness of alim's C tests.
 *
 * Each test program counts checks and ends with check_summary(), which prints
 *     <program>: N passed, N failed
 * (the line scripts/run-tests.sh adds up) and returns the exit status. A failed check
 * prints file:line and the values involved to stderr; the program keeps going. */
#ifndef ALIM_TEST_CHECK_H
#define ALIM_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_passed_, check_failed_;

#define CHECK(cond, ...)                                                                          \
    do {                                                                                          \
        if (cond) check_passed_++;                                                                \
        else {                                                                                    \
            check_failed_++;                                                                      \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                         \
            fputc('\n', stderr);                                                                  \
        }                                                                                         \
    } while (0)

/* |got - want| <= tol, or both infinite with the same sign. */
#define CHECK_ABS(got, want, tol, name) check_abs_(__FILE__, __LINE__, (got), (want), (tol), (name))
/* |got - want| <= tol * max(1, |want|). */
#define CHECK_REL(got, want, tol, name) check_rel_(__FILE__, __LINE__, (got), (want), (tol), (name))

static inline void check_abs_(const char *f, int l, double got, double want, double tol, const char *name)
{
    int ok = (isinf(want) && got == want) || fabs(got - want) <= tol;
    if (ok) check_passed_++;
    else {
        check_failed_++;
        fprintf(stderr, "FAIL %s:%d: %s: got %.17g, want %.17g (|diff| %.3g > %.3g)\n", f, l, name, got,
                want, fabs(got - want), tol);
    }
}

static inline void check_rel_(const char *f, int l, double got, double want, double tol, const char *name)
{
    double scale = fabs(want) > 1.0 ? fabs(want) : 1.0;
    check_abs_(f, l, got, want, tol * scale, name);
}

static inline int check_summary(const char *prog)
{
    const char *base = strrchr(prog, '/');
    printf("%s: %d passed, %d failed\n", base ? base + 1 : prog, check_passed_, check_failed_);
    return check_failed_ ? 1 : 0;
}

#endif
