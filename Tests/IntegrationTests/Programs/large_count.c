/*
 * The MPI-4 large-count twins of every one-sided call the library serves, as an MPI-4
 * program would write them: windows from MPI_Win_allocate_c and MPI_Win_create_c (MPI_Aint
 * displacement units), MPI_Put_c, MPI_Get_c, MPI_Accumulate_c, MPI_Get_accumulate_c in fence
 * epochs, their request-based twins in a lock_all epoch, and an MPI_Win_allocate_shared_c
 * window read back through MPI_Win_shared_query_c. Every rank targets its right neighbour;
 * the bytes are checked at the target and in the result buffers. Last, windows where one rank's
 * displacement unit does not fit an int (MPI_Win_allocate_c / MPI_Win_create_c on that rank, the
 * int forms on the others): all members meet in one creation and the puts land.
 */
#include "common.h"

enum { ELEMENTS = 96, REQUESTS = 4 };

static void check_window(const int *base, const int *expected, const char *what) {
    CHECK_INTS(base, expected, ELEMENTS, what);
}

static void run_on(MPI_Win win, int *base, const char *flavor) {
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    int source[ELEMENTS], result[ELEMENTS], expected[ELEMENTS];
    char what[96];

    /* MPI_Put_c: the left neighbour's pattern lands in every element. */
    for (int i = 0; i < ELEMENTS; i++) source[i] = pattern(world_rank, right, i, 1);
    MPI_OK(MPI_Win_fence(0, win));
    MPI_OK(MPI_Put_c(source, (MPI_Count)ELEMENTS, MPI_INT, right, 0, (MPI_Count)ELEMENTS, MPI_INT, win));
    MPI_OK(MPI_Win_fence(0, win));
    for (int i = 0; i < ELEMENTS; i++) expected[i] = pattern(left, world_rank, i, 1);
    snprintf(what, sizeof what, "%s: window after MPI_Put_c", flavor);
    check_window(base, expected, what);

    /* MPI_Get_c with a displacement: the right neighbour's window from element 5 on. */
    memset(result, 0, sizeof result);
    MPI_OK(MPI_Get_c(result, (MPI_Count)(ELEMENTS - 5), MPI_INT, right, 5, (MPI_Count)(ELEMENTS - 5), MPI_INT, win));
    MPI_OK(MPI_Win_fence(0, win));
    for (int i = 0; i < ELEMENTS - 5; i++) expected[i] = pattern(world_rank, right, i + 5, 1);
    snprintf(what, sizeof what, "%s: MPI_Get_c result", flavor);
    CHECK_INTS(result, expected, ELEMENTS - 5, what);

    /* MPI_Accumulate_c (MPI_SUM), then MPI_Get_accumulate_c (MPI_SUM) fetching the sum. */
    for (int i = 0; i < ELEMENTS; i++) source[i] = i + 1;
    MPI_OK(MPI_Accumulate_c(source, (MPI_Count)ELEMENTS, MPI_INT, right, 0, (MPI_Count)ELEMENTS, MPI_INT, MPI_SUM, win));
    MPI_OK(MPI_Win_fence(0, win));
    MPI_OK(MPI_Get_accumulate_c(source, (MPI_Count)ELEMENTS, MPI_INT, result, (MPI_Count)ELEMENTS, MPI_INT, right, 0,
                                (MPI_Count)ELEMENTS, MPI_INT, MPI_SUM, win));
    MPI_OK(MPI_Win_fence(0, win));
    for (int i = 0; i < ELEMENTS; i++) expected[i] = pattern(world_rank, right, i, 1) + i + 1;
    snprintf(what, sizeof what, "%s: MPI_Get_accumulate_c fetched", flavor);
    CHECK_INTS(result, expected, ELEMENTS, what);
    for (int i = 0; i < ELEMENTS; i++) expected[i] = pattern(left, world_rank, i, 1) + 2 * (i + 1);
    snprintf(what, sizeof what, "%s: window after MPI_Accumulate_c + MPI_Get_accumulate_c", flavor);
    check_window(base, expected, what);
    MPI_OK(MPI_Win_fence(0, win));

    /* Request-based twins in a passive epoch, each on its own quarter of the window. */
    const int quarter = ELEMENTS / REQUESTS;
    int fetched[ELEMENTS], got[ELEMENTS];
    MPI_Request requests[REQUESTS];
    for (int i = 0; i < ELEMENTS; i++) source[i] = pattern(world_rank, right, i, 2);
    MPI_OK(MPI_Win_lock_all(0, win));
    MPI_OK(MPI_Rput_c(source, (MPI_Count)quarter, MPI_INT, right, 0, (MPI_Count)quarter, MPI_INT, win, &requests[0]));
    MPI_OK(MPI_Rget_c(got, (MPI_Count)quarter, MPI_INT, right, quarter, (MPI_Count)quarter, MPI_INT, win,
                      &requests[1]));
    MPI_OK(MPI_Raccumulate_c(source + 2 * quarter, (MPI_Count)quarter, MPI_INT, right, 2 * quarter, (MPI_Count)quarter,
                             MPI_INT, MPI_REPLACE, win, &requests[2]));
    MPI_OK(MPI_Rget_accumulate_c(source + 3 * quarter, (MPI_Count)quarter, MPI_INT, fetched, (MPI_Count)quarter,
                                 MPI_INT, right, 3 * quarter, (MPI_Count)quarter, MPI_INT, MPI_SUM, win,
                                 &requests[3]));
    MPI_Status statuses[REQUESTS];
    MPI_OK(MPI_Waitall(REQUESTS, requests, statuses));
    MPI_OK(MPI_Win_unlock_all(win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    int before[ELEMENTS];
    for (int i = 0; i < ELEMENTS; i++) before[i] = pattern(world_rank, right, i, 1) + 2 * (i + 1);
    snprintf(what, sizeof what, "%s: MPI_Rget_c result", flavor);
    CHECK_INTS(got, before + quarter, quarter, what);
    snprintf(what, sizeof what, "%s: MPI_Rget_accumulate_c fetched", flavor);
    CHECK_INTS(fetched, before + 3 * quarter, quarter, what);
    for (int i = 0; i < ELEMENTS; i++) {
        int mine_before = pattern(left, world_rank, i, 1) + 2 * (i + 1);
        int incoming = pattern(left, world_rank, i, 2);
        expected[i] = i < quarter ? incoming : i < 2 * quarter ? mine_before
                    : i < 3 * quarter ? incoming : mine_before + incoming;
    }
    MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, world_rank, 0, win));
    snprintf(what, sizeof what, "%s: window after the request-based calls", flavor);
    check_window(base, expected, what);
    MPI_OK(MPI_Win_unlock(world_rank, win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
}

static void check_shared_query(void) {
    MPI_Comm node;
    MPI_OK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    int node_rank, node_size;
    MPI_OK(MPI_Comm_rank(node, &node_rank));
    MPI_OK(MPI_Comm_size(node, &node_size));
    int *mine = NULL;
    MPI_Win win;
    MPI_OK(MPI_Win_allocate_shared_c(window_bytes(ELEMENTS * sizeof(int)), (MPI_Aint)sizeof(int), MPI_INFO_NULL, node,
                                     &mine, &win));
    MPI_OK(MPI_Win_lock_all(0, win));
    for (int i = 0; i < ELEMENTS; i++) mine[i] = pattern(node_rank, node_rank, i, 3);
    MPI_OK(MPI_Win_sync(win));
    MPI_OK(MPI_Barrier(node));
    MPI_OK(MPI_Win_sync(win));
    for (int member = 0; member < node_size; member++) {
        MPI_Aint size = 0, disp_unit = 0;
        int *segment = NULL;
        MPI_OK(MPI_Win_shared_query_c(win, member, &size, &disp_unit, &segment));
        CHECK_EQ_LL(size, window_bytes(ELEMENTS * sizeof(int)), "MPI_Win_shared_query_c size");
        CHECK_EQ_LL(disp_unit, sizeof(int), "MPI_Win_shared_query_c disp_unit");
        int expected[ELEMENTS];
        for (int i = 0; i < ELEMENTS; i++) expected[i] = pattern(member, member, i, 3);
        CHECK_INTS(segment, expected, ELEMENTS, "a member's segment through MPI_Win_shared_query_c");
    }
    MPI_OK(MPI_Win_unlock_all(win));
    MPI_OK(MPI_Win_free(&win));
    MPI_OK(MPI_Comm_free(&node));
}

static void check_large_disp_unit(MPI_Aint bytes) {
    const int last = world_size - 1;
    const MPI_Aint huge_unit = (MPI_Aint)1 << 32;
    int source[ELEMENTS], expected[ELEMENTS];
    for (int create = 0; create < 2; create++) {
        int *base = NULL;
        MPI_Win win;
        if (create) {
            base = xmalloc((size_t)bytes);
            memset(base, 0, (size_t)bytes);
            if (world_rank == last) MPI_OK(MPI_Win_create_c(base, bytes, huge_unit, MPI_INFO_NULL, MPI_COMM_WORLD, &win));
            else MPI_OK(MPI_Win_create(base, bytes, sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &win));
        } else if (world_rank == last) {
            MPI_OK(MPI_Win_allocate_c(bytes, huge_unit, MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win));
        } else {
            MPI_OK(MPI_Win_allocate(bytes, sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win));
        }
        const char *flavor = create ? "MPI_Win_create_c" : "MPI_Win_allocate_c";
        /* The attribute is an int (MPICH reads 2^32 back as 0): checked where the unit fits one. */
        int *unit = NULL, found = 0;
        MPI_OK(MPI_Win_get_attr(win, MPI_WIN_DISP_UNIT, &unit, &found));
        CHECK(found, "%s: no MPI_WIN_DISP_UNIT attribute", flavor);
        if (world_rank != last) CHECK_EQ_LL(*unit, sizeof(int), "MPI_WIN_DISP_UNIT");
        /* Rank 0 and the last rank put to each other at displacement 0. */
        const int peer = world_rank == 0 ? last : world_rank == last ? 0 : -1;
        for (int i = 0; i < ELEMENTS; i++) source[i] = pattern(world_rank, peer, i, 4);
        MPI_OK(MPI_Win_fence(0, win));
        if (peer >= 0) MPI_OK(MPI_Put(source, ELEMENTS, MPI_INT, peer, 0, ELEMENTS, MPI_INT, win));
        MPI_OK(MPI_Win_fence(0, win));
        if (peer >= 0) {
            for (int i = 0; i < ELEMENTS; i++) expected[i] = pattern(peer, world_rank, i, 4);
            char what[96];
            snprintf(what, sizeof what, "%s, the last rank's unit 2^32: window after the put", flavor);
            check_window(base, expected, what);
        }
        MPI_OK(MPI_Win_free(&win));
        if (create) free(base);
    }
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "large_count");
    const MPI_Aint bytes = window_bytes(ELEMENTS * sizeof(int));

    int *base = NULL;
    MPI_Win win;
    MPI_OK(MPI_Win_allocate_c(bytes, (MPI_Aint)sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win));
    run_on(win, base, "MPI_Win_allocate_c");
    MPI_OK(MPI_Win_free(&win));
    test_phase_done("MPI_Win_allocate_c window");

    int *memory = xmalloc((size_t)bytes);
    MPI_OK(MPI_Win_create_c(memory, bytes, (MPI_Aint)sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &win));
    run_on(win, memory, "MPI_Win_create_c");
    MPI_OK(MPI_Win_free(&win));
    free(memory);
    test_phase_done("MPI_Win_create_c window");

    check_shared_query();
    test_phase_done("MPI_Win_allocate_shared_c window");

    check_large_disp_unit(bytes);
    test_phase_done("a displacement unit above INT_MAX on one rank");
    return test_finish();
}
