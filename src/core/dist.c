/* dist.c — processes working together through MPI (see alim/dist.h).
 *
 * Compiled with ALIM_HAVE_MPI (the Makefile's MPI detection) this wraps MPI_COMM_WORLD;
 * without it every function is the one-process case, so callers need no #ifdef.
 */
#define _POSIX_C_SOURCE 200809L
#include "alim/dist.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef ALIM_HAVE_MPI
#include <mpi.h>
#endif

/* rank/size are those of the world once MPI is up, 0 and 1 before and without it */
static int g_rank = 0, g_size = 1, g_active = 0, g_started = 0;

int alim_dist_compiled(void)
{
#ifdef ALIM_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int alim_dist_active(void) { return g_active; }
int alim_dist_multi(void) { return g_active && g_size > 1; }
int alim_dist_rank(void) { return g_rank; }
int alim_dist_size(void) { return g_size; }

/* a launcher's environment: Open MPI's mpirun, PMIx (srun --mpi=pmix), PMI-1/2 (srun, MPICH) */
static int launched(void)
{
    const char *force = getenv("ALIM_MPI");
    if (force && *force) return strcmp(force, "0") != 0;
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

#ifdef ALIM_HAVE_MPI

static alim_status mpi_fail(alim_error *err, int code, const char *call)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS) len = 0;
    msg[len > 0 && len < MPI_MAX_ERROR_STRING ? len : 0] = '\0';
    return alim_error_set(err, ALIM_EIO, "MPI", "%s failed on rank %d of %d: %s", call, g_rank, g_size,
                          msg[0] ? msg : "unknown MPI error");
}

/* size_t counts to MPI's int, refusing what does not fit */
static alim_status to_int(size_t n, int *out, const char *call, alim_error *err)
{
    if (n > (size_t)INT_MAX)
        return alim_error_set(err, ALIM_EINVAL, "MPI", "%s: %zu elements exceed MPI's limit of 2^31 - 1 per call", call, n);
    *out = (int)n;
    return ALIM_OK;
}

alim_status alim_dist_init(alim_error *err)
{
    if (g_active || g_started || !launched()) return ALIM_OK;
    int done = 0;
    MPI_Finalized(&done);
    if (done) return alim_error_set(err, ALIM_EINTERNAL, "MPI", "cannot initialise MPI again after it was finalised");
    int inited = 0, provided = 0, rc;
    MPI_Initialized(&inited);
    if (!inited) {
        /* FUNNELED: OpenMP threads compute, the main thread alone talks to MPI */
        if ((rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided)) != MPI_SUCCESS)
            return alim_error_set(err, ALIM_EIO, "MPI", "MPI_Init_thread failed (code %d)", rc);
        g_started = 1;
        if (provided < MPI_THREAD_FUNNELED) {
            MPI_Finalize();
            return alim_error_set(err, ALIM_EIO, "MPI", "the MPI library gives thread level %d, below MPI_THREAD_FUNNELED", provided);
        }
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if ((rc = MPI_Comm_rank(MPI_COMM_WORLD, &g_rank)) != MPI_SUCCESS) return mpi_fail(err, rc, "MPI_Comm_rank");
    if ((rc = MPI_Comm_size(MPI_COMM_WORLD, &g_size)) != MPI_SUCCESS) return mpi_fail(err, rc, "MPI_Comm_size");
    g_active = 1;
    return ALIM_OK;
}

alim_status alim_dist_finalize(alim_error *err)
{
    if (!g_active) return ALIM_OK;
    g_active = 0;
    g_rank = 0;
    g_size = 1;
    if (!g_started) return ALIM_OK; /* someone else's MPI: theirs to finalise */
    int rc = MPI_Finalize();
    if (rc != MPI_SUCCESS) return alim_error_set(err, ALIM_EIO, "MPI", "MPI_Finalize failed (code %d)", rc);
    return ALIM_OK;
}

const char *alim_dist_library(void)
{
    static char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (MPI_Get_library_version(v, &len) != MPI_SUCCESS) return "MPI (version unknown)";
    /* the first line only: Open MPI appends its repository and release date */
    v[len > 0 && len < MPI_MAX_LIBRARY_VERSION_STRING ? len : 0] = '\0';
    char *nl = strpbrk(v, "\r\n");
    if (nl) *nl = '\0';
    return v;
}

double alim_dist_wtime(void)
{
    if (g_active) return MPI_Wtime();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void alim_dist_abort(int code)
{
    if (g_active && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

alim_status alim_dist_barrier(alim_error *err)
{
    if (!g_active) return ALIM_OK;
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? ALIM_OK : mpi_fail(err, rc, "MPI_Barrier");
}

alim_status alim_dist_bcast(void *buf, size_t bytes, int root, alim_error *err)
{
    if (root < 0 || root >= g_size) return alim_error_set(err, ALIM_EINVAL, "MPI", "broadcast root %d is not a rank of %d", root, g_size);
    if (!g_active || bytes == 0) return ALIM_OK;
    int n = 0;
    alim_status st = to_int(bytes, &n, "MPI_Bcast", err);
    if (st) return st;
    int rc = MPI_Bcast(buf, n, MPI_BYTE, root, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? ALIM_OK : mpi_fail(err, rc, "MPI_Bcast");
}

static alim_status allgather(const void *send, size_t n, size_t elem, MPI_Datatype type, void *recv, alim_error *err)
{
    if (!g_active) {
        if (n) memmove(recv, send, n * elem);
        return ALIM_OK;
    }
    int c = 0;
    alim_status st = to_int(n, &c, "MPI_Allgather", err);
    if (st) return st;
    int rc = MPI_Allgather(send, c, type, recv, c, type, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? ALIM_OK : mpi_fail(err, rc, "MPI_Allgather");
}

alim_status alim_dist_allgather_double(const double *send, size_t n, double *recv, alim_error *err)
{
    return allgather(send, n, sizeof *send, MPI_DOUBLE, recv, err);
}
alim_status alim_dist_allgather_float(const float *send, size_t n, float *recv, alim_error *err)
{
    return allgather(send, n, sizeof *send, MPI_FLOAT, recv, err);
}
alim_status alim_dist_allgather_int(const int *send, size_t n, int *recv, alim_error *err)
{
    return allgather(send, n, sizeof *send, MPI_INT, recv, err);
}

/* counts and displacements of size ranks as ints; c and d hold 2 * size ints */
static alim_status int_vectors(const size_t *counts, const size_t *displs, int *c, int *d, const char *call, alim_error *err)
{
    for (int r = 0; r < g_size; r++) {
        alim_status st = to_int(counts[r], &c[r], call, err);
        if (!st) st = to_int(displs[r], &d[r], call, err);
        if (st) return st;
    }
    return ALIM_OK;
}

alim_status alim_dist_allgatherv_float(float *buf, const size_t *counts, const size_t *displs, alim_error *err)
{
    if (!g_active) return ALIM_OK; /* in place: rank 0's part is already there */
    int *c = malloc(2 * (size_t)g_size * sizeof *c);
    if (!c) return alim_error_set(err, ALIM_ENOMEM, "MPI", "out of memory");
    alim_status st = int_vectors(counts, displs, c, c + g_size, "MPI_Allgatherv", err);
    if (!st) {
        int rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, c, c + g_size, MPI_FLOAT, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) st = mpi_fail(err, rc, "MPI_Allgatherv");
    }
    free(c);
    return st;
}

alim_status alim_dist_alltoallv_float(const float *send, const size_t *scounts, const size_t *sdispls,
                                      float *recv, const size_t *rcounts, const size_t *rdispls,
                                      alim_error *err)
{
    if (!g_active) {
        if (scounts[0] != rcounts[0]) return alim_error_set(err, ALIM_EINVAL, "MPI", "all-to-all: sending %zu elements but receiving %zu", scounts[0], rcounts[0]);
        if (scounts[0]) memmove(recv + rdispls[0], send + sdispls[0], scounts[0] * sizeof *send);
        return ALIM_OK;
    }
    int *v = malloc(4 * (size_t)g_size * sizeof *v);
    if (!v) return alim_error_set(err, ALIM_ENOMEM, "MPI", "out of memory");
    int *sc = v, *sd = v + g_size, *rc_ = v + 2 * g_size, *rd = v + 3 * g_size;
    alim_status st = int_vectors(scounts, sdispls, sc, sd, "MPI_Alltoallv", err);
    if (!st) st = int_vectors(rcounts, rdispls, rc_, rd, "MPI_Alltoallv", err);
    if (!st) {
        int rc = MPI_Alltoallv(send, sc, sd, MPI_FLOAT, recv, rc_, rd, MPI_FLOAT, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) st = mpi_fail(err, rc, "MPI_Alltoallv");
    }
    free(v);
    return st;
}

alim_status alim_dist_agree(alim_status st, alim_error *err)
{
    if (!g_active || g_size == 1) return st;
    int *all = malloc((size_t)g_size * sizeof *all);
    alim_error own;
    if (!all) return alim_error_set(err, ALIM_ENOMEM, "MPI", "out of memory");
    const int mine = (int)st;
    int rc = MPI_Allgather(&mine, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
        free(all);
        return mpi_fail(err, rc, "MPI_Allgather");
    }
    int first = -1;
    for (int r = 0; r < g_size && first < 0; r++)
        if (all[r] != ALIM_OK) first = r;
    free(all);
    if (first < 0) return ALIM_OK;
    /* the failing rank's record travels to all; err may be NULL on some caller */
    if (err) own = *err;
    else alim_error_clear(&own);
    if (g_rank == first) own.status = st;
    rc = MPI_Bcast(&own, (int)sizeof own, MPI_BYTE, first, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "MPI_Bcast");
    own.where[ALIM_ERROR_WHERE_MAX - 1] = '\0';
    own.what[ALIM_ERROR_WHAT_MAX - 1] = '\0';
    if (first != 0 && own.what[0]) { /* name the rank, keeping the message's own words */
        char what[ALIM_ERROR_WHAT_MAX];
        snprintf(what, sizeof what, "%s", own.what);
        snprintf(own.what, sizeof own.what, "%.480s (rank %d)", what, first);
    }
    if (err) *err = own;
    return own.status;
}

#else /* one process */

alim_status alim_dist_init(alim_error *err) { (void)err, (void)launched, (void)g_started; return ALIM_OK; }
alim_status alim_dist_finalize(alim_error *err) { (void)err; return ALIM_OK; }
const char *alim_dist_library(void) { return "none"; }

double alim_dist_wtime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void alim_dist_abort(int code) { (void)code; }

alim_status alim_dist_barrier(alim_error *err) { (void)err; return ALIM_OK; }

alim_status alim_dist_bcast(void *buf, size_t bytes, int root, alim_error *err)
{
    (void)buf, (void)bytes;
    return root == 0 ? ALIM_OK : alim_error_set(err, ALIM_EINVAL, "MPI", "broadcast root %d is not a rank of 1", root);
}

alim_status alim_dist_allgather_double(const double *send, size_t n, double *recv, alim_error *err)
{
    (void)err;
    if (n) memmove(recv, send, n * sizeof *send);
    return ALIM_OK;
}
alim_status alim_dist_allgather_float(const float *send, size_t n, float *recv, alim_error *err)
{
    (void)err;
    if (n) memmove(recv, send, n * sizeof *send);
    return ALIM_OK;
}
alim_status alim_dist_allgather_int(const int *send, size_t n, int *recv, alim_error *err)
{
    (void)err;
    if (n) memmove(recv, send, n * sizeof *send);
    return ALIM_OK;
}

alim_status alim_dist_allgatherv_float(float *buf, const size_t *counts, const size_t *displs, alim_error *err)
{
    (void)buf, (void)counts, (void)displs, (void)err;
    return ALIM_OK;
}

alim_status alim_dist_alltoallv_float(const float *send, const size_t *scounts, const size_t *sdispls,
                                      float *recv, const size_t *rcounts, const size_t *rdispls,
                                      alim_error *err)
{
    if (scounts[0] != rcounts[0]) return alim_error_set(err, ALIM_EINVAL, "MPI", "all-to-all: sending %zu elements but receiving %zu", scounts[0], rcounts[0]);
    if (scounts[0]) memmove(recv + rdispls[0], send + sdispls[0], scounts[0] * sizeof *send);
    return ALIM_OK;
}

alim_status alim_dist_agree(alim_status st, alim_error *err) { (void)err; return st; }

#endif
