/*
 * Passive-target progress on an MPI_Win_create window over private memory: rank 0
 * computes without calling MPI while every other rank locks it, puts, fetches and
 * unlocks. The origins' unlocks must complete while rank 0 is still in its loop
 * (which only ends once it sees every origin's data in its own memory), so the job
 * finishes only if the target side progresses without the target calling MPI.
 */
#include "common.h"
#include <time.h>

#define LOOP_LIMIT_SECONDS 60.0

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "busy_target");
    CHECK(world_size >= 2, "needs at least 2 ranks");

    /* Slot r: origin r's put; slot 0: a counter every origin increments; the last slot:
     * a value rank 0 stored before the barrier, which origins fetch. */
    const int slots = world_size + 1;
    int *memory = calloc((size_t)slots, sizeof(int));
    CHECK(memory != NULL, "calloc failed");
    MPI_Win win;
    MPI_OK(MPI_Win_create(memory, (MPI_Aint)(slots * sizeof(int)), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &win));
    if (world_rank == 0) memory[world_size] = 4242;
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    if (world_rank == 0) {
        /* No MPI call until every origin's data is here. */
        volatile int *seen = memory;
        double start = now();
        int arrived = 0;
        while (arrived < world_size - 1) {
            arrived = 0;
            for (int r = 1; r < world_size; r++) arrived += seen[r] == pattern(r, 0, r, 1);
            CHECK(now() - start < LOOP_LIMIT_SECONDS,
                  "after %.0f s in a loop without MPI calls, only %d of %d origins' puts reached this rank",
                  LOOP_LIMIT_SECONDS, arrived, world_size - 1);
        }
        while (seen[0] != world_size - 1)
            CHECK(now() - start < LOOP_LIMIT_SECONDS, "accumulates missing: counter %d", seen[0]);
    } else {
        int value = pattern(world_rank, 0, world_rank, 1), one = 1, previous = -1, fetched = 0;
        MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win));
        MPI_OK(MPI_Put(&value, 1, MPI_INT, 0, world_rank, 1, MPI_INT, win));
        MPI_OK(MPI_Fetch_and_op(&one, &previous, MPI_INT, 0, 0, MPI_SUM, win));
        MPI_OK(MPI_Get(&fetched, 1, MPI_INT, 0, world_size, 1, MPI_INT, win));
        MPI_OK(MPI_Win_unlock(0, win));
        CHECK(previous >= 0 && previous < world_size - 1, "fetch_and_op returned %d", previous);
        CHECK_EQ_LL(fetched, 4242, "value rank 0 stored before the barrier");
    }
    test_phase_done("origins completed while the target computed");

    MPI_OK(MPI_Win_free(&win));
    free(memory);
    return test_finish();
}
