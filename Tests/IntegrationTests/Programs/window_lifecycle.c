/*
 * Window lifetimes and communicators:
 *   1. ITERATIONS windows (8-32 MiB over all ranks each) created and freed in a loop,
 *      up to three alive at once and freed oldest first: together far more than a
 *      256 MiB region holds, so its space must be reused; every live window must keep
 *      its bytes while others come and go (no two windows may share memory).
 *   2. Windows on sub-communicators: MPI_Comm_split by parity with reversed keys,
 *      a split that leaves rank 0 out (MPI_UNDEFINED), a duplicate of MPI_COMM_WORLD,
 *      and two windows alive together, synchronized differently. Only communicators
 *      of 2+ ranks: a layer may hand a window whose only member is the caller to MPICH
 *      (there is nobody to share it with), so passthrough_windows.c covers those.
 */
#include "common.h"

enum { ITERATIONS = 40, LIVE = 3, MIB = 1 << 20 };

/* 2-8 MiB per iteration across all ranks: 800 MiB over the loop, at most 96 MiB alive. */
static MPI_Aint size_at(int iteration) {
    MPI_Aint per_rank = (MPI_Aint)(8 * MIB / world_size) / 65536 * 65536;
    return per_rank * (1 + (iteration * 5) % 4);
}

typedef struct {
    MPI_Win win;
    unsigned char *base;
    MPI_Aint size;
    int iteration;
} live_window_t;

/* The 8-byte mark rank `origin` leaves at both ends of its right neighbour's window. */
static void mark_of(int origin, int iteration, unsigned char mark[8]) {
    for (int i = 0; i < 8; i++) mark[i] = (unsigned char)(origin * 37 + iteration * 11 + i);
}

static void check_marks(const live_window_t *w, const char *when) {
    unsigned char expected[8];
    mark_of(left_of(world_rank, world_size), w->iteration, expected);
    char label[128];
    snprintf(label, sizeof label, "head of the window of iteration %d (%s)", w->iteration, when);
    CHECK_BYTES(w->base, expected, 8, label);
    snprintf(label, sizeof label, "tail of the window of iteration %d (%s)", w->iteration, when);
    CHECK_BYTES(w->base + w->size - 8, expected, 8, label);
}

static void create_and_free_in_a_loop(void) {
    live_window_t live[LIVE];
    int live_count = 0;
    for (int it = 0; it < ITERATIONS; it++) {
        if (live_count == LIVE) {
            MPI_OK(MPI_Win_free(&live[0].win));
            memmove(&live[0], &live[1], sizeof(live_window_t) * (LIVE - 1));
            live_count--;
        }
        live_window_t *w = &live[live_count++];
        w->size = size_at(it);
        w->iteration = it;
        MPI_OK(MPI_Win_allocate(w->size, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &w->base, &w->win));

        unsigned char mark[8];
        mark_of(world_rank, it, mark);
        int target = right_of(world_rank, world_size);
        MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, target, 0, w->win));
        MPI_OK(MPI_Put(mark, 8, MPI_BYTE, target, 0, 8, MPI_BYTE, w->win));
        MPI_OK(MPI_Put(mark, 8, MPI_BYTE, target, w->size - 8, 8, MPI_BYTE, w->win)); /* same size everywhere */
        MPI_OK(MPI_Win_unlock(target, w->win));
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

        for (int k = 0; k < live_count; k++) {
            MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, world_rank, 0, live[k].win));
            check_marks(&live[k], k + 1 == live_count ? "just written" : "after later windows were created");
            MPI_OK(MPI_Win_unlock(world_rank, live[k].win));
        }
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    }
    for (int k = live_count - 1; k >= 0; k--) MPI_OK(MPI_Win_free(&live[k].win)); /* newest first */
}

/* Window over `comm` where every member puts its world rank into slot[its comm rank]
 * of every member, then checks its own slots against the members' world ranks. */
static void exercise_comm_window(MPI_Comm comm, int use_fence, const char *what) {
    int rank, size;
    MPI_OK(MPI_Comm_rank(comm, &rank));
    MPI_OK(MPI_Comm_size(comm, &size));
    if (size < 2) return; /* single-member windows: see passthrough_windows.c */
    int *slots = NULL;
    MPI_Win win;
    MPI_OK(MPI_Win_allocate(window_bytes((MPI_Aint)sizeof(int) * size), sizeof(int), MPI_INFO_NULL, comm, &slots, &win));
    MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, rank, 0, win));
    for (int i = 0; i < size; i++) slots[i] = -1;
    MPI_OK(MPI_Win_unlock(rank, win));
    MPI_OK(MPI_Barrier(comm));

    if (use_fence) {
        MPI_OK(MPI_Win_fence(0, win));
        for (int t = 0; t < size; t++) MPI_OK(MPI_Put(&world_rank, 1, MPI_INT, t, rank, 1, MPI_INT, win));
        MPI_OK(MPI_Win_fence(0, win));
    } else {
        MPI_OK(MPI_Win_lock_all(0, win));
        for (int t = 0; t < size; t++) MPI_OK(MPI_Put(&world_rank, 1, MPI_INT, t, rank, 1, MPI_INT, win));
        MPI_OK(MPI_Win_unlock_all(win));
        MPI_OK(MPI_Barrier(comm));
        MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, rank, 0, win));
    }
    int *members = xmalloc(sizeof(int) * size);
    MPI_OK(MPI_Allgather(&world_rank, 1, MPI_INT, members, 1, MPI_INT, comm));
    char label[128];
    snprintf(label, sizeof label, "world ranks written into a window on %s", what);
    CHECK_INTS(slots, members, (size_t)size, label);
    if (!use_fence) MPI_OK(MPI_Win_unlock(rank, win));
    free(members);
    MPI_OK(MPI_Win_free(&win));
}

static void sub_communicator_windows(void) {
    MPI_Comm parity, without_zero, world_copy;
    MPI_OK(MPI_Comm_split(MPI_COMM_WORLD, world_rank % 2, -world_rank, &parity));
    MPI_OK(MPI_Comm_split(MPI_COMM_WORLD, world_rank == 0 ? MPI_UNDEFINED : 1, world_rank, &without_zero));
    MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &world_copy));
    CHECK((world_rank == 0) == (without_zero == MPI_COMM_NULL), "MPI_Comm_split with MPI_UNDEFINED");

    exercise_comm_window(parity, 1, "a parity split (fence)");
    exercise_comm_window(parity, 0, "a parity split (lock_all)");
    if (without_zero != MPI_COMM_NULL) exercise_comm_window(without_zero, 0, "a split without rank 0");
    exercise_comm_window(world_copy, 0, "a duplicate of MPI_COMM_WORLD");

    /* Two windows alive at once on communicators with the same members, used in turn. */
    int *a = NULL, *b = NULL;
    MPI_Win on_world, on_copy;
    MPI_OK(MPI_Win_allocate(window_bytes(sizeof(int)), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &a, &on_world));
    MPI_OK(MPI_Win_allocate(window_bytes(sizeof(int)), sizeof(int), MPI_INFO_NULL, world_copy, &b, &on_copy));
    *a = *b = -1;
    int from_world = 1000 + world_rank, from_copy = 2000 + world_rank;
    MPI_OK(MPI_Win_fence(0, on_world));
    MPI_OK(MPI_Win_fence(0, on_copy));
    MPI_OK(MPI_Put(&from_world, 1, MPI_INT, right_of(world_rank, world_size), 0, 1, MPI_INT, on_world));
    MPI_OK(MPI_Put(&from_copy, 1, MPI_INT, left_of(world_rank, world_size), 0, 1, MPI_INT, on_copy));
    MPI_OK(MPI_Win_fence(0, on_copy)); /* closed in the other order than opened */
    MPI_OK(MPI_Win_fence(0, on_world));
    CHECK_EQ_LL(*a, 1000 + left_of(world_rank, world_size), "window on MPI_COMM_WORLD, alive next to another");
    CHECK_EQ_LL(*b, 2000 + right_of(world_rank, world_size), "window on the world duplicate, alive next to another");
    MPI_OK(MPI_Win_free(&on_world)); /* freed in creation order this time */
    MPI_OK(MPI_Win_free(&on_copy));

    if (without_zero != MPI_COMM_NULL) MPI_OK(MPI_Comm_free(&without_zero));
    MPI_OK(MPI_Comm_free(&parity));
    MPI_OK(MPI_Comm_free(&world_copy));
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "window_lifecycle");
    create_and_free_in_a_loop();
    test_phase_done("create/free loop");
    sub_communicator_windows();
    test_phase_done("sub-communicator windows");
    return test_finish();
}
