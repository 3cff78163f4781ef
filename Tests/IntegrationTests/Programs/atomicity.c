/*
 * Atomicity under contention: every rank hammers the same locations at once.
 *   1. MPI_Fetch_and_op(SUM) on one counter under lock_all: the final value is exact
 *      and the fetched values are exactly 0 .. n*ITER-1 (no two origins saw the same).
 *   2. MPI_Accumulate(SUM) under per-operation shared locks, on int and double;
 *      MPI_Accumulate(REPLACE) of 8-byte values whose halves must never mix (no tearing).
 *   3. A mutex built from MPI_Compare_and_swap guarding a get/put read-modify-write.
 *   4. Exclusive locks guarding a get/put read-modify-write.
 * The contended locations live on rank 0 and on the last rank (different targets).
 */
#include "common.h"

/* Small enough for 8 ranks on 2 cores under plain MPICH; contention is what matters. */
enum { FOP_ITER = 300, ACC_ITER = 50, MUTEX_ITER = 30, EXCL_ITER = 40 };

typedef struct {
    long long fop_counter;
    int acc_int;
    int pad;
    double acc_double;
    long long untorn;        /* always (k << 32) | k for some k */
    int mutex;               /* 0 = free, else owner + 1 */
    int mutex_counter;
    int exclusive_counter;
    int pad2;
} shared_words_t;

#define DISP(field) ((MPI_Aint)offsetof(shared_words_t, field))

static MPI_Win win;
static shared_words_t *words;

static int compare_long_long(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static int contended_targets(int *targets) {
    targets[0] = 0;
    targets[1] = world_size - 1;
    return world_size > 1 ? 2 : 1;
}

static void fetch_and_op_counter(void) {
    int targets[2], target_count = contended_targets(targets);
    long long *fetched = xmalloc(sizeof(long long) * FOP_ITER * 2);
    MPI_OK(MPI_Win_lock_all(0, win));
    for (int i = 0; i < FOP_ITER; i++) {
        for (int k = 0; k < target_count; k++) {
            long long one = 1;
            MPI_OK(MPI_Fetch_and_op(&one, &fetched[k * FOP_ITER + i], MPI_LONG_LONG, targets[k], DISP(fop_counter),
                                    MPI_SUM, win));
        }
        MPI_OK(MPI_Win_flush_all(win));
    }
    MPI_OK(MPI_Win_unlock_all(win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    for (int k = 0; k < target_count; k++) {
        long long *all = world_rank == 0 ? xmalloc(sizeof(long long) * FOP_ITER * world_size) : NULL;
        MPI_OK(MPI_Gather(&fetched[k * FOP_ITER], FOP_ITER, MPI_LONG_LONG, all, FOP_ITER, MPI_LONG_LONG, 0,
                          MPI_COMM_WORLD));
        if (world_rank == 0) {
            qsort(all, (size_t)FOP_ITER * world_size, sizeof(long long), compare_long_long);
            for (long long v = 0; v < (long long)FOP_ITER * world_size; v++) {
                char label[96];
                snprintf(label, sizeof label, "sorted fetched value %lld of the counter at rank %d", v, targets[k]);
                CHECK_EQ_LL(all[v], v, label);
            }
            free(all);
        }
    }
    if (world_rank == 0 || world_rank == world_size - 1) {
        MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, world_rank, 0, win));
        CHECK_EQ_LL(words->fop_counter, (long long)FOP_ITER * world_size, "Fetch_and_op SUM counter");
        MPI_OK(MPI_Win_unlock(world_rank, win));
    }
    free(fetched);
}

static void accumulates_under_shared_locks(void) {
    int targets[2], target_count = contended_targets(targets);
    for (int i = 0; i < ACC_ITER; i++) {
        for (int k = 0; k < target_count; k++) {
            int one = 1;
            double half = 0.5;
            /* Both halves equal: any mix of two origins' values would show. */
            long long whole = ((long long)(world_rank * ACC_ITER + i + 1) << 32) | (world_rank * ACC_ITER + i + 1);
            MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, targets[k], 0, win));
            MPI_OK(MPI_Accumulate(&one, 1, MPI_INT, targets[k], DISP(acc_int), 1, MPI_INT, MPI_SUM, win));
            MPI_OK(MPI_Accumulate(&half, 1, MPI_DOUBLE, targets[k], DISP(acc_double), 1, MPI_DOUBLE, MPI_SUM, win));
            MPI_OK(MPI_Accumulate(&whole, 1, MPI_LONG_LONG, targets[k], DISP(untorn), 1, MPI_LONG_LONG, MPI_REPLACE,
                                  win));
            MPI_OK(MPI_Win_unlock(targets[k], win));
        }
        /* Read the 8-byte word atomically while others replace it. */
        long long seen = 0, ignored = 0;
        MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, targets[i % target_count], 0, win));
        MPI_OK(MPI_Fetch_and_op(&ignored, &seen, MPI_LONG_LONG, targets[i % target_count], DISP(untorn), MPI_NO_OP,
                                win));
        MPI_OK(MPI_Win_unlock(targets[i % target_count], win));
        CHECK((seen >> 32) == (seen & 0xffffffffLL), "torn 8-byte value 0x%016llx", (unsigned long long)seen);
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    if (world_rank == 0 || world_rank == world_size - 1) {
        MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, world_rank, 0, win));
        CHECK_EQ_LL(words->acc_int, ACC_ITER * world_size, "Accumulate SUM MPI_INT under shared locks");
        CHECK_EQ_DOUBLE(words->acc_double, 0.5 * ACC_ITER * world_size, "Accumulate SUM MPI_DOUBLE under shared locks");
        long long last = words->untorn;
        CHECK((last >> 32) == (last & 0xffffffffLL) && last != 0, "final 8-byte REPLACE value 0x%016llx torn",
              (unsigned long long)last);
        MPI_OK(MPI_Win_unlock(world_rank, win));
    }
}

/* Spin on MPI_Compare_and_swap until the mutex word goes from 0 to our id. */
static void acquire_mutex(int owner) {
    int mine = world_rank + 1, free_value = 0, seen = -1;
    for (;;) {
        MPI_OK(MPI_Compare_and_swap(&mine, &free_value, &seen, MPI_INT, owner, DISP(mutex), win));
        MPI_OK(MPI_Win_flush(owner, win));
        if (seen == 0) return;
        CHECK(seen >= 1 && seen <= world_size && seen != mine, "mutex word holds %d", seen);
    }
}

static void release_mutex(int owner) {
    int free_value = 0, seen = -1;
    MPI_OK(MPI_Fetch_and_op(&free_value, &seen, MPI_INT, owner, DISP(mutex), MPI_REPLACE, win));
    MPI_OK(MPI_Win_flush(owner, win));
    CHECK_EQ_LL(seen, world_rank + 1, "mutex owner at release");
}

static void compare_and_swap_mutex(void) {
    int mutex_owner = 0, counter_owner = world_size - 1;
    MPI_OK(MPI_Win_lock_all(0, win));
    for (int i = 0; i < MUTEX_ITER; i++) {
        acquire_mutex(mutex_owner);
        int value = -1;
        MPI_OK(MPI_Get(&value, 1, MPI_INT, counter_owner, DISP(mutex_counter), 1, MPI_INT, win));
        MPI_OK(MPI_Win_flush(counter_owner, win));
        value += 1;
        MPI_OK(MPI_Put(&value, 1, MPI_INT, counter_owner, DISP(mutex_counter), 1, MPI_INT, win));
        MPI_OK(MPI_Win_flush(counter_owner, win));
        release_mutex(mutex_owner);
    }
    MPI_OK(MPI_Win_unlock_all(win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    if (world_rank == counter_owner) {
        MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, world_rank, 0, win));
        CHECK_EQ_LL(words->mutex_counter, MUTEX_ITER * world_size, "counter guarded by a Compare_and_swap mutex");
        MPI_OK(MPI_Win_unlock(world_rank, win));
    }
}

static void exclusive_lock_read_modify_write(void) {
    int targets[2], target_count = contended_targets(targets);
    for (int i = 0; i < EXCL_ITER; i++) {
        int target = targets[i % target_count];
        int value = -1;
        MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, target, 0, win));
        MPI_OK(MPI_Get(&value, 1, MPI_INT, target, DISP(exclusive_counter), 1, MPI_INT, win));
        MPI_OK(MPI_Win_flush(target, win));
        value += 1;
        MPI_OK(MPI_Put(&value, 1, MPI_INT, target, DISP(exclusive_counter), 1, MPI_INT, win));
        MPI_OK(MPI_Win_unlock(target, win));
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    for (int k = 0; k < target_count; k++) {
        if (world_rank != targets[k]) continue;
        int expected = 0;
        for (int i = 0; i < EXCL_ITER; i++) expected += targets[i % target_count] == world_rank;
        MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, world_rank, 0, win));
        CHECK_EQ_LL(words->exclusive_counter, expected * world_size, "counter guarded by exclusive locks");
        MPI_OK(MPI_Win_unlock(world_rank, win));
    }
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "atomicity");
    MPI_OK(test_window_allocate(window_bytes(sizeof(shared_words_t)), 1, MPI_INFO_NULL, MPI_COMM_WORLD, &words, &win));
    MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, world_rank, 0, win));
    memset(words, 0, sizeof *words);
    MPI_OK(MPI_Win_unlock(world_rank, win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    fetch_and_op_counter();
    test_phase_done("fetch_and_op");
    accumulates_under_shared_locks();
    test_phase_done("accumulate under shared locks");
    compare_and_swap_mutex();
    test_phase_done("compare_and_swap mutex");
    exclusive_lock_read_modify_write();
    test_phase_done("exclusive lock read-modify-write");

    MPI_OK(test_window_free(&win));
    return test_finish();
}
