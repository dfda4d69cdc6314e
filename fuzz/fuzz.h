/* fuzz.h — shared helpers of the libFuzzer harnesses (fuzz/fuzz_*.c, built by `make fuzz`).
 *
 * alim's parsers read files by path, so a harness writes its input into a private scratch
 * directory (in $ALIM_FUZZ_DIR, else /dev/shm when there is one: no disk traffic) and calls
 * the reader on it.
 * Every parser must return ALIM_OK or an error record with a non-empty message; a crash, a
 * sanitizer report, a leak or an empty message is a finding. The library itself never
 * prints, so a run is quiet.
 */
#ifndef ALIM_FUZZ_H
#define ALIM_FUZZ_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alim/status.h"
#include "alim/tokenizer.h"

/* The scratch directory, made on first use and removed at exit. */
static char fuzz_dir_path[256];

static inline void fuzz_cleanup(void)
{
    char cmd[300];
    if (!fuzz_dir_path[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_path);
    if (system(cmd) != 0) { /* nothing more to do at exit */ }
}

static inline const char *fuzz_dir(void)
{
    if (!fuzz_dir_path[0]) {
        /* ALIM_FUZZ_DIR: where the scratch directory goes (the smoke test's own temporary
         * directory, so that a crashed run, which skips atexit, leaves nothing behind) */
        const char *base = getenv("ALIM_FUZZ_DIR");
        if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/alim-fuzz-XXXXXX", base);
        if (!mkdtemp(fuzz_dir_path)) abort();
        atexit(fuzz_cleanup);
    }
    return fuzz_dir_path;
}

/* Writes data to <scratch>/<name> (or <scratch>/<sub>/<name> when name holds a '/', the
 * subdirectory made first) and returns the path (a static buffer per call site's slot). */
static inline const char *fuzz_write(const char *name, const uint8_t *data, size_t size)
{
    static char paths[4][512];
    static int slot;
    char *p = paths[slot++ & 3];
    snprintf(p, 512, "%s/%s", fuzz_dir(), name);
    char *slash = strrchr(p, '/');
    if (slash > p + strlen(fuzz_dir())) {
        *slash = '\0';
        char cmd[600];
        if (access(p, F_OK) != 0) {
            snprintf(cmd, sizeof cmd, "mkdir -p '%s'", p);
            if (system(cmd) != 0) abort();
        }
        *slash = '/';
    }
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();
    return p;
}

/* The path of <scratch>/<name> without writing it. */
static inline const char *fuzz_path(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", fuzz_dir(), name);
    return p;
}

/* An error must say what went wrong: a status without a message is a finding too. */
static inline void fuzz_check_error(alim_status st, const alim_error *err)
{
    if (st != ALIM_OK && (err->status != st || err->what[0] == '\0')) abort();
}

/* Splits data at the first occurrence of sep: [data, *a_len) and the rest after sep. */
static inline void fuzz_split(const uint8_t *data, size_t size, const char *sep, size_t *a_len, const uint8_t **b,
                       size_t *b_len)
{
    const size_t sl = strlen(sep);
    const uint8_t *m = sl <= size ? memmem(data, size, sep, sl) : NULL;
    if (!m) {
        *a_len = size;
        *b = data + size;
        *b_len = 0;
        return;
    }
    *a_len = (size_t)(m - data);
    *b = m + sl;
    *b_len = size - *a_len - sl;
}

/* Encodes each of texts[0..n) with a loaded tokenizer: an error must carry a message, and
 * every id produced must lie in the vocabulary and decode (else abort: a finding). */
static inline void fuzz_encode_texts(const alim_tokenizer *tk, const char *const *texts, size_t n)
{
    for (size_t t = 0; t < n; t++) {
        int32_t *ids = NULL;
        size_t len = 0, cap = 0;
        alim_error err;
        alim_error_clear(&err);
        alim_status st = alim_tokenizer_encode(tk, texts[t], strlen(texts[t]), &ids, &len, &cap, "fuzz", &err);
        fuzz_check_error(st, &err);
        for (size_t k = 0; !st && k < len; k++) {
            size_t dl;
            if (ids[k] < 0 || ids[k] >= tk->vocab_size || !alim_tokenizer_decode(tk, ids[k], &dl)) abort();
        }
        free(ids);
    }
}

#endif
