/*
 * Waits that last: how much CPU a rank burns while a peer keeps it waiting.
 * Phase "fence": rank 1 sleeps LATE_SECONDS before the fence that closes an epoch in which
 * every rank put its value into its right neighbour; the others wait in that fence.
 * Phase "lock": rank 1 holds an exclusive lock on rank 0's window for LATE_SECONDS while
 * the others wait for the same lock.
 * Rank 0 prints one line per waiting rank and phase (gathered after the phase, so ranks
 * released at the same instant do not interleave their output):
 *   wait PHASE rank R wall SECONDS cpu SECONDS
 * (cpu: user + system time of the whole process, getrusage) and the data is checked.
 */
#include "common.h"

#include <sys/resource.h>
#include <unistd.h>

enum { LATE_SECONDS = 2, LATE_RANK = 1 };

static double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

/* Collective: every rank but the late one measured a wait of `wall` and `cpu` seconds. */
static void report(const char *phase, double wall, double cpu) {
    double mine[2] = {wall, cpu};
    double *all = world_rank == 0 ? xmalloc(sizeof(double) * 2 * (size_t)world_size) : NULL;
    MPI_OK(MPI_Gather(mine, 2, MPI_DOUBLE, all, 2, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    for (int rank = 0; world_rank == 0 && rank < world_size; rank++) {
        if (rank != LATE_RANK) printf("wait %s rank %d wall %.3f cpu %.3f\n", phase, rank, all[2 * rank], all[2 * rank + 1]);
    }
    free(all);
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "long_wait");
    CHECK(world_size >= 2, "needs at least 2 ranks");
    int *base = NULL;
    MPI_Win win;
    MPI_OK(MPI_Win_allocate(window_bytes(sizeof(int)), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win));
    *base = -1;

    MPI_OK(MPI_Win_fence(0, win));
    int mine = 100 + world_rank;
    MPI_OK(MPI_Put(&mine, 1, MPI_INT, right_of(world_rank, world_size), 0, 1, MPI_INT, win));
    double wall = MPI_Wtime(), cpu = cpu_seconds();
    if (world_rank == LATE_RANK) sleep(LATE_SECONDS);
    MPI_OK(MPI_Win_fence(0, win));
    double waited_wall = MPI_Wtime() - wall, waited_cpu = cpu_seconds() - cpu;
    report("fence", waited_wall, waited_cpu);
    CHECK_EQ_LL(*base, 100 + left_of(world_rank, world_size), "the left neighbour's put after the fence");
    MPI_OK(MPI_Win_fence(MPI_MODE_NOSUCCEED, win));
    test_phase_done("fence");

    if (world_rank == LATE_RANK) {
        MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win));
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD)); /* the others ask for the lock only once it is held */
        sleep(LATE_SECONDS);
        MPI_OK(MPI_Put(&mine, 1, MPI_INT, 0, 0, 1, MPI_INT, win));
        MPI_OK(MPI_Win_unlock(0, win));
    } else {
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        wall = MPI_Wtime();
        cpu = cpu_seconds();
        int found = 0;
        MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win));
        waited_wall = MPI_Wtime() - wall;
        waited_cpu = cpu_seconds() - cpu;
        MPI_OK(MPI_Get(&found, 1, MPI_INT, 0, 0, 1, MPI_INT, win));
        MPI_OK(MPI_Win_unlock(0, win));
        CHECK(found >= 100 && found < 100 + world_size, "rank 0's word after the late rank's lock: %d", found);
    }
    report("lock", waited_wall, waited_cpu);
    test_phase_done("lock");
    MPI_OK(MPI_Win_free(&win));
    return test_finish();
}
