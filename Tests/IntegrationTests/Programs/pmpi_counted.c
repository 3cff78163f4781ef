/*
 * One-sided calls in fixed numbers, for the PMPI tool tests: BindingTests.swift asserts
 * these exact counts in tools/pmpi_counter.c's line of every rank, at any rank count.
 *   MPI_Init 1, MPI_Win_allocate 1, MPI_Win_free 1, MPI_Finalize 1,
 *   MPI_Win_fence 3 * FENCE_ROUNDS = 9,
 *   MPI_Put PUTS_PER_EPOCH * FENCE_ROUNDS + LOCK_ROUNDS = 17, MPI_Get FENCE_ROUNDS = 3,
 *   MPI_Accumulate LOCK_ROUNDS = 5, MPI_Win_lock and MPI_Win_unlock 2 * LOCK_ROUNDS = 10,
 *   MPI_Barrier 2 * LOCK_ROUNDS + 1 (test_finish) = 11.
 * Every rank puts into its right neighbour and checks what its left one put.
 */
#include "common.h"

enum { FENCE_ROUNDS = 3, PUTS_PER_EPOCH = 4, LOCK_ROUNDS = 5, SLOT_INTS = 8 };
/* Window of every rank, in ints: PUTS_PER_EPOCH fence slots, one lock slot, one accumulate counter. */
enum { LOCK_SLOT = PUTS_PER_EPOCH * SLOT_INTS, COUNTER = LOCK_SLOT + SLOT_INTS, WINDOW_INTS = COUNTER + 1 };

static void fill(int *values, int origin, int target, int first, int round) {
    for (int i = 0; i < SLOT_INTS; i++) values[i] = pattern(origin, target, first + i, round);
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "pmpi_counted");
    int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    int *base;
    MPI_Win win;
    MPI_OK(MPI_Win_allocate(window_bytes(WINDOW_INTS * sizeof(int)), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD,
                            &base, &win));
    for (int i = 0; i < WINDOW_INTS; i++) base[i] = -1;
    base[COUNTER] = 0;

    int values[SLOT_INTS], expected[SLOT_INTS];
    for (int round = 1; round <= FENCE_ROUNDS; round++) {
        MPI_OK(MPI_Win_fence(0, win));
        for (int slot = 0; slot < PUTS_PER_EPOCH; slot++) {
            fill(values, world_rank, right, slot * SLOT_INTS, round);
            MPI_OK(MPI_Put(values, SLOT_INTS, MPI_INT, right, slot * SLOT_INTS, SLOT_INTS, MPI_INT, win));
        }
        MPI_OK(MPI_Win_fence(0, win));
        for (int slot = 0; slot < PUTS_PER_EPOCH; slot++) {
            fill(expected, left, world_rank, slot * SLOT_INTS, round);
            CHECK_INTS(base + slot * SLOT_INTS, expected, SLOT_INTS, "fence MPI_Put from the left neighbour");
        }
        int fetched[SLOT_INTS];
        MPI_OK(MPI_Get(fetched, SLOT_INTS, MPI_INT, right, 0, SLOT_INTS, MPI_INT, win));
        MPI_OK(MPI_Win_fence(round == FENCE_ROUNDS ? MPI_MODE_NOSUCCEED : 0, win));
        fill(expected, world_rank, right, 0, round);
        CHECK_INTS(fetched, expected, SLOT_INTS, "fence MPI_Get from the right neighbour");
    }

    const int one = 1;
    for (int round = 1; round <= LOCK_ROUNDS; round++) {
        fill(values, world_rank, right, LOCK_SLOT, round);
        MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, right, 0, win));
        MPI_OK(MPI_Put(values, SLOT_INTS, MPI_INT, right, LOCK_SLOT, SLOT_INTS, MPI_INT, win));
        MPI_OK(MPI_Accumulate(&one, 1, MPI_INT, right, COUNTER, 1, MPI_INT, MPI_SUM, win));
        MPI_OK(MPI_Win_unlock(right, win));
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, world_rank, 0, win));
        fill(expected, left, world_rank, LOCK_SLOT, round);
        CHECK_INTS(base + LOCK_SLOT, expected, SLOT_INTS, "lock/MPI_Put/unlock from the left neighbour");
        CHECK_EQ_LL(base[COUNTER], round, "MPI_Accumulate(MPI_SUM) counter from the left neighbour");
        MPI_OK(MPI_Win_unlock(world_rank, win));
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD)); /* checked before the left neighbour's next put */
    }
    MPI_OK(MPI_Win_free(&win));
    return test_finish();
}
