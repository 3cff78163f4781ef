/*
 * Windows of very different sizes in one job: two small ones (SMALL_BYTES per rank) and, between
 * them, a large one (`window_fallback LARGE_MIB`, default 64 MiB per rank). Run on a region that
 * holds the small windows but not the large one, a layer must hand the large window to MPICH
 * and keep serving the small ones; the results are the same either way.
 *
 * Each window: a fence epoch in which every rank puts a block to both ends of its right
 * neighbour's window, gets both ends of its left neighbour's, and adds to a counter on rank 0.
 * Checked: the bytes received, the bytes fetched, the counter, and that the window reads back
 * as MPI_WIN_FLAVOR_ALLOCATE with MPI_WIN_BASE and MPI_WIN_SIZE as allocated.
 */
#include "common.h"

enum { SMALL_BYTES = 4096, BLOCK = 128 };

static void exercise(const char *name, MPI_Aint bytes) {
    long long *base = NULL;
    MPI_Win win;
    MPI_OK(MPI_Win_allocate(bytes, sizeof(long long), MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win));
    int flag = 0, *flavor = NULL;
    void *attr_base = NULL;
    MPI_Aint *attr_size = NULL;
    MPI_OK(MPI_Win_get_attr(win, MPI_WIN_CREATE_FLAVOR, &flavor, &flag));
    CHECK(flag && *flavor == MPI_WIN_FLAVOR_ALLOCATE, "%s window: flavor %d, expected MPI_WIN_FLAVOR_ALLOCATE", name,
          flag ? *flavor : -1);
    MPI_OK(MPI_Win_get_attr(win, MPI_WIN_BASE, &attr_base, &flag));
    CHECK(flag && attr_base == base, "%s window: MPI_WIN_BASE %p, allocated at %p", name, attr_base, (void *)base);
    MPI_OK(MPI_Win_get_attr(win, MPI_WIN_SIZE, &attr_size, &flag));
    CHECK(flag && *attr_size == bytes, "%s window: MPI_WIN_SIZE %lld, allocated %lld", name,
          flag ? (long long)*attr_size : -1LL, (long long)bytes);

    const MPI_Aint elements = bytes / (MPI_Aint)sizeof(long long);
    const MPI_Aint tail = elements - BLOCK;
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    for (MPI_Aint i = 0; i < elements; i++) base[i] = -1;
    long long outgoing[BLOCK], head_fetched[BLOCK], tail_fetched[BLOCK], one = 1;
    for (int i = 0; i < BLOCK; i++) outgoing[i] = pattern(world_rank, right, i, 7);

    MPI_OK(MPI_Win_fence(0, win));
    MPI_OK(MPI_Put(outgoing, BLOCK, MPI_LONG_LONG, right, 1, BLOCK, MPI_LONG_LONG, win));
    MPI_OK(MPI_Put(outgoing, BLOCK, MPI_LONG_LONG, right, tail, BLOCK, MPI_LONG_LONG, win));
    MPI_OK(MPI_Accumulate(&one, 1, MPI_LONG_LONG, 0, 0, 1, MPI_LONG_LONG, MPI_SUM, win));
    MPI_OK(MPI_Win_fence(0, win));
    MPI_OK(MPI_Get(head_fetched, BLOCK, MPI_LONG_LONG, left, 1, BLOCK, MPI_LONG_LONG, win));
    MPI_OK(MPI_Get(tail_fetched, BLOCK, MPI_LONG_LONG, left, tail, BLOCK, MPI_LONG_LONG, win));
    MPI_OK(MPI_Win_fence(0, win));

    char what[128];
    for (int i = 0; i < BLOCK; i++) {
        snprintf(what, sizeof what, "%s window: element %d of the head block from the left neighbour", name, i);
        CHECK_EQ_LL(base[1 + i], pattern(left, world_rank, i, 7), what);
        snprintf(what, sizeof what, "%s window: element %d of the tail block from the left neighbour", name, i);
        CHECK_EQ_LL(base[tail + i], pattern(left, world_rank, i, 7), what);
        /* The left neighbour holds what its own left neighbour put. */
        int second_left = left_of(left, world_size);
        snprintf(what, sizeof what, "%s window: element %d of the head block fetched from the left neighbour", name, i);
        CHECK_EQ_LL(head_fetched[i], pattern(second_left, left, i, 7), what);
        snprintf(what, sizeof what, "%s window: element %d of the tail block fetched from the left neighbour", name, i);
        CHECK_EQ_LL(tail_fetched[i], pattern(second_left, left, i, 7), what);
    }
    snprintf(what, sizeof what, "%s window: counter on rank 0", name);
    if (world_rank == 0) CHECK_EQ_LL(base[0], -1 + world_size, what);
    MPI_OK(MPI_Win_free(&win));
    test_phase_done(name);
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "window_fallback");
    CHECK(argc <= 2, "usage: window_fallback [LARGE_MIB]");
    const MPI_Aint large_bytes = (MPI_Aint)(argc == 2 ? atoi(argv[1]) : 64) << 20;
    CHECK(large_bytes >= 2 * BLOCK * (MPI_Aint)sizeof(long long) + 8, "the large window must hold two blocks");
    exercise("first small", SMALL_BYTES);
    exercise("large", large_bytes);
    exercise("second small", SMALL_BYTES);
    return test_finish();
}
