/*
 * ivshmem_rma.h: what C programs may call in libivshmem_rma.so besides MPI itself.
 *
 * The library needs no calls of its own: preloaded (LD_PRELOAD), it takes over MPI's one-sided
 * functions. These let a program or a test harness ask what it did. Link with -livshmem_rma,
 * or look the symbols up with dlsym(RTLD_DEFAULT, ...) when the library is only preloaded.
 */
#ifndef IVSHMEM_RMA_H
#define IVSHMEM_RMA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *ivshmem_rma_version(void);

/* Counts of calls since MPI_Init: "shm" were served through the region, "mpi" handed to MPICH.
 * The same numbers IVSHMEM_RMA_STATS=1 prints at MPI_Finalize. */
typedef struct ivshmem_rma_stats {
    uint64_t put_shm, put_mpi;
    uint64_t get_shm, get_mpi;
    uint64_t acc_shm, acc_mpi;          /* accumulate, get_accumulate, fetch_and_op, compare_and_swap */
    uint64_t sync_shm, sync_mpi;        /* fence, lock, unlock, post, start, complete, wait, test ... */
    uint64_t windows_shm, windows_mpi;  /* MPI_Win_allocate served in the region / by MPICH */
} ivshmem_rma_stats;

/* Fills *stats. Returns 0, or -1 when stats is NULL. */
int ivshmem_rma_get_stats(ivshmem_rma_stats *stats);

/* 1 when this process attached a region shared with at least one other rank of the job
 * (between MPI_Init and MPI_Finalize), else 0. */
int ivshmem_rma_active(void);

#ifdef __cplusplus
}
#endif

#endif /* IVSHMEM_RMA_H */
