/*
 * An mpiP-style PMPI profiling tool, preloaded beside (or without) libivshmem_rma.so:
 * it defines MPI_X for a few calls, counts them and calls PMPI_X. At MPI_Finalize each
 * rank prints one line to stdout:
 *   pmpi_counter rank R: MPI_Init=1 MPI_Finalize=1 MPI_Put=N ...
 * Built as libpmpi_counter.so (mpicc -shared -fPIC); BindingTests asserts the counts.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define COUNTED_CALLS(X)                                                       \
    X(MPI_Init) X(MPI_Finalize) X(MPI_Put) X(MPI_Get) X(MPI_Accumulate)        \
    X(MPI_Win_fence) X(MPI_Win_lock) X(MPI_Win_unlock) X(MPI_Win_allocate)     \
    X(MPI_Win_free) X(MPI_Barrier)

enum {
#define INDEX(name) index_##name,
    COUNTED_CALLS(INDEX)
#undef INDEX
    counted_call_count
};

static const char *const call_names[] = {
#define NAME(name) #name,
    COUNTED_CALLS(NAME)
#undef NAME
};

static long call_counts[counted_call_count];

int MPI_Init(int *argc, char ***argv) {
    call_counts[index_MPI_Init]++;
    return PMPI_Init(argc, argv);
}

int MPI_Finalize(void) {
    call_counts[index_MPI_Finalize]++;
    int rank = -1;
    PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char line[1024];
    int length = snprintf(line, sizeof line, "pmpi_counter rank %d:", rank);
    for (int i = 0; i < counted_call_count; i++)
        length += snprintf(line + length, sizeof line - (size_t)length, " %s=%ld", call_names[i], call_counts[i]);
    /* Into its own file (PMPI_COUNTER_DIR/rank-R.txt) when asked: mpiexec may split a line that
     * shares its output with other ranks' lines. Else one write(2) to stdout. */
    length += snprintf(line + length, sizeof line - (size_t)length, "\n");
    fflush(stdout);
    const char *directory = getenv("PMPI_COUNTER_DIR");
    FILE *file = NULL;
    if (directory) {
        char path[4096];
        snprintf(path, sizeof path, "%s/rank-%d.txt", directory, rank);
        file = fopen(path, "w");
    }
    if (file) {
        fputs(line, file);
        fclose(file);
    } else if (write(STDOUT_FILENO, line, (size_t)length) < 0) {
        perror("pmpi_counter");
    }
    return PMPI_Finalize();
}

int MPI_Put(const void *origin_addr, int origin_count, MPI_Datatype origin_datatype, int target_rank,
            MPI_Aint target_disp, int target_count, MPI_Datatype target_datatype, MPI_Win win) {
    call_counts[index_MPI_Put]++;
    return PMPI_Put(origin_addr, origin_count, origin_datatype, target_rank, target_disp, target_count,
                    target_datatype, win);
}

int MPI_Get(void *origin_addr, int origin_count, MPI_Datatype origin_datatype, int target_rank,
            MPI_Aint target_disp, int target_count, MPI_Datatype target_datatype, MPI_Win win) {
    call_counts[index_MPI_Get]++;
    return PMPI_Get(origin_addr, origin_count, origin_datatype, target_rank, target_disp, target_count,
                    target_datatype, win);
}

int MPI_Accumulate(const void *origin_addr, int origin_count, MPI_Datatype origin_datatype, int target_rank,
                   MPI_Aint target_disp, int target_count, MPI_Datatype target_datatype, MPI_Op op, MPI_Win win) {
    call_counts[index_MPI_Accumulate]++;
    return PMPI_Accumulate(origin_addr, origin_count, origin_datatype, target_rank, target_disp, target_count,
                           target_datatype, op, win);
}

int MPI_Win_fence(int assertion, MPI_Win win) {
    call_counts[index_MPI_Win_fence]++;
    return PMPI_Win_fence(assertion, win);
}

int MPI_Win_lock(int lock_type, int rank, int assertion, MPI_Win win) {
    call_counts[index_MPI_Win_lock]++;
    return PMPI_Win_lock(lock_type, rank, assertion, win);
}

int MPI_Win_unlock(int rank, MPI_Win win) {
    call_counts[index_MPI_Win_unlock]++;
    return PMPI_Win_unlock(rank, win);
}

int MPI_Win_allocate(MPI_Aint size, int disp_unit, MPI_Info info, MPI_Comm comm, void *baseptr, MPI_Win *win) {
    call_counts[index_MPI_Win_allocate]++;
    return PMPI_Win_allocate(size, disp_unit, info, comm, baseptr, win);
}

int MPI_Win_free(MPI_Win *win) {
    call_counts[index_MPI_Win_free]++;
    return PMPI_Win_free(win);
}

int MPI_Barrier(MPI_Comm comm) {
    call_counts[index_MPI_Barrier]++;
    return PMPI_Barrier(comm);
}
