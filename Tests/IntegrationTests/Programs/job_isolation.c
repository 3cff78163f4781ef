/*
 * One of two jobs running at the same time on one region: `job_isolation TAG DIR`, TAG 1 or 2.
 * Every value this job writes carries its TAG, so a byte of the other job's windows that shows
 * up here (a shared block, a shared lock or counter) fails the check that names it.
 *
 * The two jobs meet in DIR (files ready-TAG, done-TAG written by rank 0): neither starts its
 * rounds before both hold their windows, and neither frees them before both finished, so the
 * windows of both jobs are in the region at the same time.
 */
#include "common.h"

#include <time.h>
#include <unistd.h>

enum { ELEMENTS = 1024, ROUNDS = 200, MEET_SECONDS = 120 };

static int tag;

/* TAG in the top digit, then round, writer and index. */
static int tagged(int round, int writer, int index) { return tag * 100000000 + round * 100000 + writer * 1000 + index % 1000; }

/* Rank 0 announces this job in DIR and waits for the other one; then everyone goes on together. */
static void meet(const char *dir, const char *what) {
    if (world_rank == 0) {
        char mine[4096], theirs[4096];
        snprintf(mine, sizeof mine, "%s/%s-%d", dir, what, tag);
        snprintf(theirs, sizeof theirs, "%s/%s-%d", dir, what, 3 - tag);
        FILE *file = fopen(mine, "w");
        CHECK(file != NULL, "cannot create %s", mine);
        fclose(file);
        int waited_ms = 0;
        while (access(theirs, F_OK) != 0) {
            CHECK(waited_ms < MEET_SECONDS * 1000, "the other job never wrote %s (waited %d s)", theirs, MEET_SECONDS);
            struct timespec pause = {0, 10 * 1000 * 1000};
            nanosleep(&pause, NULL);
            waited_ms += 10;
        }
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
}

/* Every element of the window must carry this job's tag. */
static void check_own_tag(const int *window, const char *what) {
    for (int i = 0; i < ELEMENTS; i++)
        CHECK(window[i] / 100000000 == tag, "%s element %d is %d: not written by job %d (the other job's data?)", what,
              i, window[i], tag);
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "job_isolation");
    CHECK(argc == 3 && (atoi(argv[1]) == 1 || atoi(argv[1]) == 2), "usage: job_isolation 1|2 DIR");
    tag = atoi(argv[1]);
    const char *dir = argv[2];
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);

    /* Two windows per job, of different sizes, so the jobs' blocks interleave in the region. */
    int *data = NULL, *counters = NULL;
    MPI_Win data_win, counter_win;
    MPI_OK(MPI_Win_allocate(window_bytes(ELEMENTS * sizeof(int)), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &data,
                            &data_win));
    MPI_OK(MPI_Win_allocate(window_bytes((ELEMENTS + 4096) * sizeof(int)), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD,
                            &counters, &counter_win));
    for (int i = 0; i < ELEMENTS; i++) data[i] = tagged(0, world_rank, i);
    for (int i = 0; i < ELEMENTS + 4096; i++) counters[i] = tag * 100000000;
    meet(dir, "ready");

    int *outgoing = xmalloc(ELEMENTS * sizeof(int)), *fetched = xmalloc(ELEMENTS * sizeof(int));
    int *expected = xmalloc(ELEMENTS * sizeof(int));
    for (int round = 1; round <= ROUNDS; round++) {
        /* Fence epoch: put a tagged block to the right, get the left neighbour's, add 1 to a counter on rank 0. */
        for (int i = 0; i < ELEMENTS; i++) outgoing[i] = tagged(round, world_rank, i);
        int one = 1;
        MPI_OK(MPI_Win_fence(0, data_win));
        MPI_OK(MPI_Win_fence(0, counter_win));
        MPI_OK(MPI_Put(outgoing, ELEMENTS, MPI_INT, right, 0, ELEMENTS, MPI_INT, data_win));
        MPI_OK(MPI_Accumulate(&one, 1, MPI_INT, 0, round % ELEMENTS, 1, MPI_INT, MPI_SUM, counter_win));
        MPI_OK(MPI_Win_fence(0, counter_win));
        MPI_OK(MPI_Win_fence(0, data_win));
        for (int i = 0; i < ELEMENTS; i++) expected[i] = tagged(round, left, i);
        CHECK_INTS(data, expected, ELEMENTS, "block the left neighbour put in a fence epoch");

        /* Lock epoch: read the right neighbour's block back, which it received from us. */
        MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, right, 0, data_win));
        MPI_OK(MPI_Get(fetched, ELEMENTS, MPI_INT, right, 0, ELEMENTS, MPI_INT, data_win));
        MPI_OK(MPI_Win_unlock(right, data_win));
        CHECK_INTS(fetched, outgoing, ELEMENTS, "block read back from the right neighbour under a shared lock");
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    }
    check_own_tag(data, "data window");
    check_own_tag(counters, "counter window");
    if (world_rank == 0) {
        for (int round = 1; round <= ROUNDS; round++)
            CHECK_EQ_LL(counters[round % ELEMENTS] - tag * 100000000, world_size, "accumulated counter of a round");
    }
    meet(dir, "done");
    free(outgoing);
    free(fetched);
    free(expected);
    MPI_OK(MPI_Win_free(&counter_win));
    MPI_OK(MPI_Win_free(&data_win));
    return test_finish();
}
