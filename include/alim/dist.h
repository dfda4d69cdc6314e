/* alim/dist.h — processes working together through MPI (docs/mpi.md).
 *
 * One small layer over MPI so that the engines never include <mpi.h>: start and stop, who
 * am I (rank) among how many (size), and the few collectives alim needs, all on
 * MPI_COMM_WORLD with blocking calls. Errors come back as alim_status (MPI is switched to
 * MPI_ERRORS_RETURN), never as an abort.
 *
 * Built without MPI (make MPI=0, or no Open MPI found), or run without a launcher, this is
 * the single-process implementation: rank 0 of 1, every collective a copy or nothing. MPI
 * is initialised only when the process was started by a launcher (mpirun/mpiexec or Slurm's
 * srun with PMIx set OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK), or when ALIM_MPI=1 asks
 * for an Open MPI singleton; so a plain `alim ...` neither pays MPI's start-up nor needs its
 * run-time. ALIM_MPI=0 keeps MPI off even under a launcher (every rank then runs alone).
 *
 * Counts are in elements; one MPI call moves at most 2^31 - 1 elements per peer (the int of
 * MPI 3), larger requests are ALIM_EINVAL.
 */
#ifndef ALIM_DIST_H
#define ALIM_DIST_H

#include <stddef.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if this library was built with MPI (ALIM_HAVE_MPI), else 0. */
int alim_dist_compiled(void);

/* Initialises MPI if launched (see above) with the thread level OpenMP needs
 * (MPI_THREAD_FUNNELED: only the thread that called this makes MPI calls). Idempotent.
 * Without MPI, or not launched, it succeeds as rank 0 of 1. */
alim_status alim_dist_init(alim_error *err);

/* Finalises MPI if alim_dist_init started it (idempotent; nothing to do otherwise). Every
 * rank must call it before it exits, or the launcher reports the job as failed. */
alim_status alim_dist_finalize(alim_error *err);

/* 1 if MPI is initialised (a launched job, maybe of one rank), else 0. */
int alim_dist_active(void);
/* 1 if this is a real multi-rank job (active and size > 1): then collectives cross
 * processes and only rank 0 writes files and prints. */
int alim_dist_multi(void);
int alim_dist_rank(void);
int alim_dist_size(void);
/* The MPI library's version line ("Open MPI v4.1.4, ..."), or "none" without MPI. */
const char *alim_dist_library(void);
/* Wall-clock seconds (MPI_Wtime, or CLOCK_MONOTONIC without MPI). */
double alim_dist_wtime(void);

/* Ends every rank of a multi-rank job with exit status code (MPI_Abort); nothing otherwise.
 * For a front end whose rank failed where the other ranks wait in a collective they can
 * no longer leave (the library itself never calls it). */
void alim_dist_abort(int code);

/* Collective: returns when every rank has called it. */
alim_status alim_dist_barrier(alim_error *err);

/* Collective: the bytes of buf on rank root are copied into buf on every rank. */
alim_status alim_dist_bcast(void *buf, size_t bytes, int root, alim_error *err);

/* Collective: recv (size * n) := every rank's send (n each), in rank order. */
alim_status alim_dist_allgather_double(const double *send, size_t n, double *recv, alim_error *err);
alim_status alim_dist_allgather_float(const float *send, size_t n, float *recv, alim_error *err);
alim_status alim_dist_allgather_int(const int *send, size_t n, int *recv, alim_error *err);

/* Collective, in place: buf[displs[r] .. displs[r] + counts[r]) of rank r is copied to every
 * rank (counts and displs have size entries and are the same on every rank). */
alim_status alim_dist_allgatherv_float(float *buf, const size_t *counts, const size_t *displs, alim_error *err);

/* Collective: rank r sends send[sdispls[q] ..+ scounts[q]) to each rank q, which receives
 * it at recv[rdispls[r] ..+ rcounts[r]) (a personalised all-to-all). */
alim_status alim_dist_alltoallv_float(const float *send, const size_t *scounts, const size_t *sdispls,
                                      float *recv, const size_t *rcounts, const size_t *rdispls,
                                      alim_error *err);

/* Collective: every rank gets the same outcome. st is this rank's status (err its error);
 * if any rank failed, all return the status of the lowest failing rank and err becomes that
 * rank's error record. So ranks leave a run together instead of waiting for a peer that
 * returned. A single process returns st unchanged. */
alim_status alim_dist_agree(alim_status st, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
