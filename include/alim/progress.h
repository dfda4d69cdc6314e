/* alim/progress.h — the one callback type every long-running loop reports through.
 *
 * The library calls fn(ctx, stage, done, total) now and then; the CLI draws a progress
 * line on stderr, a report or test passes NULL to stay quiet. A non-zero return asks
 * the loop to stop early; what a function returns then is documented with it. */
#ifndef ALIM_PROGRESS_H
#define ALIM_PROGRESS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef int (*alim_progress_fn)(void *ctx, const char *stage, double done, double total);

typedef struct {
    alim_progress_fn fn; /* may be NULL */
    void *ctx;
} alim_progress;

static inline int alim_progress_report(const alim_progress *p, const char *stage, double done, double total)
{
    return (p && p->fn) ? p->fn(p->ctx, stage, done, total) : 0;
}

#ifdef __cplusplus
}
#endif
#endif
