/*
 * MPI_THREAD_MULTIPLE as a hybrid MPI+threads program uses it: four threads per rank make
 * one-sided calls at the same time.
 *   1. One lock_all epoch on one window: every thread puts, flushes and gets back its own slice
 *      of every member, and accumulates (MPI_SUM) and fetch-and-ops onto counters all threads share.
 *   2. Threads hold exclusive locks on different targets of one window at once.
 *   3. Every thread creates, fences and frees windows of its own, on its own communicator,
 *      while the others do the same.
 * The window flavor follows IT_WINDOW_FLAVOR (common.h). Bytes are checked at the targets and
 * in every result buffer; the counters check that no concurrent accumulate was lost.
 */
#include "common.h"
#include <pthread.h>

enum { THREADS = 4, SLICE = 64, ROUNDS = 40, WINDOWS_PER_THREAD = 6 };

static MPI_Win shared_win;
static int *shared_base;
static MPI_Comm thread_comms[THREADS];

/* The window ints of phase 1: a slice per (origin, thread), then the two counters. */
static int slice_offset(int origin, int thread) { return (origin * THREADS + thread) * SLICE; }
static int accumulate_counter(void) { return world_size * THREADS * SLICE; }
static int fetch_counter(void) { return accumulate_counter() + 1; }

static void *epoch_worker(void *arg) {
    const int thread = (int)(intptr_t)arg;
    int source[SLICE], back[SLICE];
    const int one = 1;
    int *previous_fetch = xmalloc(world_size * sizeof(int));
    for (int target = 0; target < world_size; target++) previous_fetch[target] = -1;
    for (int round = 0; round < ROUNDS; round++) {
        for (int step = 0; step < world_size; step++) {
            const int target = (world_rank + thread + step) % world_size;
            const int disp = slice_offset(world_rank, thread);
            for (int i = 0; i < SLICE; i++) source[i] = pattern(world_rank, target, i, round * THREADS + thread + 1);
            MPI_OK(MPI_Put(source, SLICE, MPI_INT, target, disp, SLICE, MPI_INT, shared_win));
            MPI_OK(MPI_Win_flush(target, shared_win));
            memset(back, 0, sizeof back);
            MPI_OK(MPI_Get(back, SLICE, MPI_INT, target, disp, SLICE, MPI_INT, shared_win));
            MPI_OK(MPI_Accumulate(&one, 1, MPI_INT, target, accumulate_counter(), 1, MPI_INT, MPI_SUM, shared_win));
            int fetched = -1;
            MPI_OK(MPI_Fetch_and_op(&one, &fetched, MPI_INT, target, fetch_counter(), MPI_SUM, shared_win));
            MPI_OK(MPI_Win_flush(target, shared_win));
            CHECK_INTS(back, source, SLICE, "get of the slice this thread just put and flushed");
            CHECK(fetched > previous_fetch[target], "thread %d: MPI_Fetch_and_op on rank %d returned %d after %d",
                  thread, target, fetched, previous_fetch[target]);
            previous_fetch[target] = fetched;
        }
    }
    free(previous_fetch);
    return NULL;
}

static void check_epoch_results(void) {
    MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, world_rank, 0, shared_win));
    int expected[SLICE];
    char what[96];
    for (int origin = 0; origin < world_size; origin++) {
        for (int thread = 0; thread < THREADS; thread++) {
            for (int i = 0; i < SLICE; i++) expected[i] = pattern(origin, world_rank, i, (ROUNDS - 1) * THREADS + thread + 1);
            snprintf(what, sizeof what, "slice of origin %d thread %d", origin, thread);
            CHECK_INTS(shared_base + slice_offset(origin, thread), expected, SLICE, what);
        }
    }
    CHECK_EQ_LL(shared_base[accumulate_counter()], world_size * THREADS * ROUNDS, "MPI_Accumulate counter");
    CHECK_EQ_LL(shared_base[fetch_counter()], world_size * THREADS * ROUNDS, "MPI_Fetch_and_op counter");
    MPI_OK(MPI_Win_unlock(world_rank, shared_win));
}

/* Phase 2: thread t always locks the member t places to the right, so no two threads of one
 * rank lock the same target (MPI forbids a process locking a target it already locks). */
static int lock_participants(void) { return world_size < THREADS ? world_size : THREADS; }

static void *lock_worker(void *arg) {
    const int thread = (int)(intptr_t)arg;
    const int target = (world_rank + thread) % world_size;
    const int disp = world_rank * SLICE;
    const int one = 1;
    int source[SLICE], back[SLICE];
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < SLICE; i++) source[i] = pattern(world_rank, target, i, round + 1);
        MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, target, 0, shared_win));
        MPI_OK(MPI_Put(source, SLICE, MPI_INT, target, disp, SLICE, MPI_INT, shared_win));
        MPI_OK(MPI_Accumulate(&one, 1, MPI_INT, target, world_size * SLICE, 1, MPI_INT, MPI_SUM, shared_win));
        MPI_OK(MPI_Win_unlock(target, shared_win));
        memset(back, 0, sizeof back);
        MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, target, 0, shared_win));
        MPI_OK(MPI_Get(back, SLICE, MPI_INT, target, disp, SLICE, MPI_INT, shared_win));
        MPI_OK(MPI_Win_unlock(target, shared_win));
        CHECK_INTS(back, source, SLICE, "get after an exclusive-lock put");
    }
    return NULL;
}

static void check_lock_results(void) {
    MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, world_rank, 0, shared_win));
    int expected[SLICE], zeros[SLICE] = {0};
    char what[96];
    for (int origin = 0; origin < world_size; origin++) {
        const int written = (world_rank - origin + world_size) % world_size < lock_participants();
        for (int i = 0; i < SLICE; i++) expected[i] = pattern(origin, world_rank, i, ROUNDS);
        snprintf(what, sizeof what, "slice of origin %d after the lock phase", origin);
        CHECK_INTS(shared_base + origin * SLICE, written ? expected : zeros, SLICE, what);
    }
    CHECK_EQ_LL(shared_base[world_size * SLICE], lock_participants() * ROUNDS, "accumulate counter of the lock phase");
    MPI_OK(MPI_Win_unlock(world_rank, shared_win));
}

/* Phase 3: windows of one thread's own, over its own communicator. */
static void *window_worker(void *arg) {
    const int thread = (int)(intptr_t)arg;
    const MPI_Comm comm = thread_comms[thread];
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    const int create = getenv("IT_WINDOW_FLAVOR") && strcmp(getenv("IT_WINDOW_FLAVOR"), "create") == 0;
    int source[SLICE], expected[SLICE], back[SLICE];
    for (int window = 0; window < WINDOWS_PER_THREAD; window++) {
        const int round = thread * 100 + window;
        int *base = NULL;
        MPI_Win win;
        if (create) {
            base = calloc(SLICE, sizeof(int));
            CHECK(base != NULL, "calloc failed");
            MPI_OK(MPI_Win_create(base, SLICE * sizeof(int), sizeof(int), MPI_INFO_NULL, comm, &win));
        } else {
            MPI_OK(MPI_Win_allocate(SLICE * sizeof(int), sizeof(int), MPI_INFO_NULL, comm, &base, &win));
        }
        for (int i = 0; i < SLICE; i++) source[i] = pattern(world_rank, right, i, round);
        MPI_OK(MPI_Win_fence(0, win));
        MPI_OK(MPI_Put(source, SLICE, MPI_INT, right, 0, SLICE, MPI_INT, win));
        MPI_OK(MPI_Win_fence(0, win));
        for (int i = 0; i < SLICE; i++) expected[i] = pattern(left, world_rank, i, round);
        CHECK_INTS(base, expected, SLICE, "own window of a thread after the fence");
        MPI_OK(MPI_Get(back, SLICE, MPI_INT, left, 0, SLICE, MPI_INT, win));
        MPI_OK(MPI_Win_fence(0, win));
        for (int i = 0; i < SLICE; i++) expected[i] = pattern(left_of(left, world_size), left, i, round);
        CHECK_INTS(back, expected, SLICE, "get from the left neighbour's window of this thread");
        MPI_OK(MPI_Win_free(&win));
        if (create) free(base);
    }
    return NULL;
}

static void run_threads(void *(*worker)(void *), int count) {
    pthread_t threads[THREADS];
    for (int t = 0; t < count; t++)
        CHECK(pthread_create(&threads[t], NULL, worker, (void *)(intptr_t)t) == 0, "pthread_create failed");
    for (int t = 0; t < count; t++) pthread_join(threads[t], NULL);
}

int main(int argc, char **argv) {
    int provided = MPI_THREAD_SINGLE;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    test_name = "threads";
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    setvbuf(stdout, NULL, _IOLBF, 0);
    CHECK_EQ_LL(provided, MPI_THREAD_MULTIPLE, "provided thread level");

    const MPI_Aint bytes = window_bytes((MPI_Aint)(fetch_counter() + 1) * sizeof(int));
    MPI_OK(test_window_allocate(bytes, sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &shared_base, &shared_win));
    memset(shared_base, 0, bytes);
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_lock_all(0, shared_win));
    run_threads(epoch_worker, THREADS);
    MPI_OK(MPI_Win_unlock_all(shared_win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    check_epoch_results();
    test_phase_done("threads in one lock_all epoch");

    MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, world_rank, 0, shared_win));
    memset(shared_base, 0, bytes);
    MPI_OK(MPI_Win_unlock(world_rank, shared_win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    run_threads(lock_worker, lock_participants());
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    check_lock_results();
    test_phase_done("threads locking different targets");
    MPI_OK(test_window_free(&shared_win));

    for (int t = 0; t < THREADS; t++) MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &thread_comms[t]));
    run_threads(window_worker, THREADS);
    for (int t = 0; t < THREADS; t++) MPI_OK(MPI_Comm_free(&thread_comms[t]));
    test_phase_done("threads creating and freeing their own windows");
    return test_finish();
}
