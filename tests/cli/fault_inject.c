/* fault_inject.c — an LD_PRELOAD shim for the crash-point test of checkpoints
 * (tests/cli/test_checkpoint_crash.sh). It counts the calls that change a directory —
 * rename, link, unlink, rmdir, mkdir — and ends the process with _exit(86), like a kill -9
 * or a power cut, just before the ALIM_FAULT_AT-th one. With ALIM_FAULT_COUNT=FILE it
 * writes the number of such calls to FILE at exit instead (to enumerate the boundaries). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static long calls, fault_at = -1;

static void report(void)
{
    const char *f = getenv("ALIM_FAULT_COUNT");
    FILE *fp = f ? fopen(f, "w") : NULL;
    if (fp) {
        fprintf(fp, "%ld\n", calls);
        fclose(fp);
    }
}

static void boundary(void)
{
    if (fault_at < 0) {
        const char *e = getenv("ALIM_FAULT_AT");
        fault_at = e ? atol(e) : 0;
        if (getenv("ALIM_FAULT_COUNT")) atexit(report);
    }
    if (++calls == fault_at) _exit(86);
}

typedef int (*fn_path2)(const char *, const char *);
typedef int (*fn_path)(const char *);
typedef int (*fn_mkdir)(const char *, mode_t);
#define REAL(name, type) static type real_##name; if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name)

int rename(const char *a, const char *b)
{
    REAL(rename, fn_path2);
    boundary();
    return real_rename(a, b);
}
int link(const char *a, const char *b)
{
    REAL(link, fn_path2);
    boundary();
    return real_link(a, b);
}
int unlink(const char *a)
{
    REAL(unlink, fn_path);
    boundary();
    return real_unlink(a);
}
int rmdir(const char *a)
{
    REAL(rmdir, fn_path);
    boundary();
    return real_rmdir(a);
}
int mkdir(const char *a, mode_t m)
{
    REAL(mkdir, fn_mkdir);
    boundary();
    return real_mkdir(a, m);
}
