/* alim/status.h — status codes and the error record every library call fills.
 *
 * The library never prints, exits or aborts. A call that fails returns a non-zero
 * alim_status and, when given an alim_error, fills it with what went wrong and where
 * (a file name, a line of the input, a tensor name; for a bad argument, the name of the
 * parameter or options field, e.g. "n_max", which the CLI maps to its flag, cli/flags.c).
 * The command-line front end turns that record into the one-line message users see:
 *     alim: error: <where>: <what>
 */
#ifndef ALIM_STATUS_H
#define ALIM_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ALIM_OK = 0,
    ALIM_EINVAL = 1,   /* bad argument or bad input data (user error)        -> exit 2 */
    ALIM_EFORMAT = 2,  /* malformed file: syntax, ragged rows, wrong type     -> exit 2 */
    ALIM_EIO = 3,      /* cannot open, read or write a file                   -> exit 1 */
    ALIM_ENOMEM = 4,   /* allocation failed                                   -> exit 1 */
    ALIM_ENOCONV = 5,  /* an iterative solver did not reach its tolerance     -> exit 1 */
    ALIM_ERANGE = 6,   /* a result is outside what doubles can represent      -> exit 1 */
    ALIM_EINTERNAL = 7 /* an invariant the library relies on failed           -> exit 1 */
} alim_status;

enum { ALIM_ERROR_WHERE_MAX = 256, ALIM_ERROR_WHAT_MAX = 512 };

typedef struct {
    alim_status status;
    char where[ALIM_ERROR_WHERE_MAX]; /* file, "file:line", parameter or tensor name; may be empty */
    char what[ALIM_ERROR_WHAT_MAX];   /* human-readable description, no trailing newline       */
} alim_error;

/* Fills *err (if err != NULL) and returns status, so callers can write
 *     return alim_error_set(err, ALIM_EINVAL, path, "row %zu sums to %g", i, s);   */
alim_status alim_error_set(alim_error *err, alim_status status, const char *where,
                           const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Resets *err to ALIM_OK with empty strings. */
void alim_error_clear(alim_error *err);

/* Short English name of a status ("invalid input", ...). Never NULL. */
const char *alim_status_name(alim_status status);

/* 1 if the status means the user supplied bad input or usage (CLI exit 2), else 0. */
int alim_status_is_user_error(alim_status status);

#ifdef __cplusplus
}
#endif
#endif
