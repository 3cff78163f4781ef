/*
 * MPI-3 shared-memory windows: MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) ordered by
 * key then rank, MPI_Win_allocate_shared with a different size per member (one of
 * them 0 when there are three or more), MPI_Win_shared_query (contiguous segments by
 * default, MPI_PROC_NULL = lowest rank with memory, alloc_shared_noncontig), direct
 * loads and stores of every member's segment with MPI_Win_sync + barrier, and put,
 * get, accumulate under lock_all and fence (every member reaches member 0, which
 * always has memory). Holds whatever the node size is;
 * "--expect-node-size N" also checks it.
 */
#include "common.h"

enum { UNIT = 16 }; /* ints per size unit */

/* Node rank r holds (r + 1) * UNIT ints, except node rank 1 of three or more: none. */
static MPI_Aint ints_of(int node_rank, int node_size) {
    return (node_rank == 1 && node_size >= 3) ? 0 : (MPI_Aint)(node_rank + 1) * UNIT;
}

static int value_of(int writer, int owner, int index, int round) { return pattern(writer, owner, index, round); }

/* Every member's segment as this rank sees it, from MPI_Win_shared_query. */
static void query_all(MPI_Win win, int node_size, int **bases, MPI_Aint *sizes) {
    for (int peer = 0; peer < node_size; peer++) {
        int unit = 0;
        MPI_OK(MPI_Win_shared_query(win, peer, &sizes[peer], &unit, &bases[peer]));
        CHECK_EQ_LL(unit, sizeof(int), "MPI_Win_shared_query: disp_unit");
        CHECK_EQ_LL(sizes[peer], ints_of(peer, node_size) * (MPI_Aint)sizeof(int), "MPI_Win_shared_query: size");
    }
}

static void check_node_order(MPI_Comm node, int node_rank, int node_size, int reversed) {
    int *world_of = xmalloc(sizeof(int) * node_size);
    MPI_OK(MPI_Allgather(&world_rank, 1, MPI_INT, world_of, 1, MPI_INT, node));
    for (int i = 1; i < node_size; i++)
        CHECK(reversed ? world_of[i - 1] > world_of[i] : world_of[i - 1] < world_of[i],
              "MPI_Comm_split_type: node ranks %d and %d hold world ranks %d and %d, not ordered by %s", i - 1, i,
              world_of[i - 1], world_of[i], reversed ? "key (descending world rank)" : "rank (equal keys)");
    CHECK_EQ_LL(world_of[node_rank], world_rank, "MPI_Comm_split_type: own entry");
    free(world_of);
}

static void loads_and_stores(MPI_Win win, MPI_Comm node, int node_rank, int node_size, int **bases, int *mine) {
    MPI_Aint my_ints = ints_of(node_rank, node_size);
    MPI_OK(MPI_Win_lock_all(0, win));
    for (MPI_Aint i = 0; i < my_ints; i++) mine[i] = value_of(node_rank, node_rank, (int)i, 1);
    MPI_OK(MPI_Win_sync(win));
    MPI_OK(MPI_Barrier(node));
    MPI_OK(MPI_Win_sync(win));
    for (int peer = 0; peer < node_size; peer++)
        for (MPI_Aint i = 0; i < ints_of(peer, node_size); i++)
            CHECK_EQ_LL(bases[peer][i], value_of(peer, peer, (int)i, 1), "direct load of a member's own stores");
    MPI_OK(MPI_Barrier(node));

    /* Stores into the right neighbour's segment: its element 0, which it reads back. */
    int right = right_of(node_rank, node_size), left = left_of(node_rank, node_size);
    if (ints_of(right, node_size) > 0) bases[right][0] = value_of(node_rank, right, 0, 2);
    MPI_OK(MPI_Win_sync(win));
    MPI_OK(MPI_Barrier(node));
    MPI_OK(MPI_Win_sync(win));
    if (my_ints > 0) CHECK_EQ_LL(mine[0], value_of(left, node_rank, 0, 2), "direct store by the left neighbour");
    MPI_OK(MPI_Barrier(node));

    /* Put into the right neighbour's last element, get the left neighbour's element 1. */
    int value = value_of(node_rank, right, 3, 3), fetched = -1;
    if (ints_of(right, node_size) > 0) {
        MPI_OK(MPI_Put(&value, 1, MPI_INT, right, ints_of(right, node_size) - 1, 1, MPI_INT, win));
        MPI_OK(MPI_Win_flush(right, win));
    }
    MPI_OK(MPI_Barrier(node));
    MPI_OK(MPI_Win_sync(win));
    if (my_ints > 0) CHECK_EQ_LL(mine[my_ints - 1], value_of(left, node_rank, 3, 3), "put seen by a direct load");
    if (ints_of(left, node_size) > 1) {
        MPI_OK(MPI_Get(&fetched, 1, MPI_INT, left, 1, 1, MPI_INT, win));
        MPI_OK(MPI_Win_flush(left, win));
        CHECK_EQ_LL(fetched, bases[left][1], "get equals a direct load");
        CHECK_EQ_LL(fetched, value_of(left, left, 1, 1), "get of the left neighbour's element 1");
    }
    MPI_OK(MPI_Barrier(node));

    /* Every member puts into its own element of member 0 (which always has memory) and gets it back. */
    if (node_size <= UNIT - 3) {
        value = value_of(node_rank, 0, 2 + node_rank, 5);
        MPI_OK(MPI_Put(&value, 1, MPI_INT, 0, 2 + node_rank, 1, MPI_INT, win));
        MPI_OK(MPI_Win_flush(0, win));
        MPI_OK(MPI_Get(&fetched, 1, MPI_INT, 0, 2 + node_rank, 1, MPI_INT, win));
        MPI_OK(MPI_Win_flush(0, win));
        CHECK_EQ_LL(fetched, value, "get of the own put into member 0");
        MPI_OK(MPI_Barrier(node));
        MPI_OK(MPI_Win_sync(win));
        for (int peer = 0; node_rank == 0 && peer < node_size; peer++)
            CHECK_EQ_LL(mine[2 + peer], value_of(peer, 0, 2 + peer, 5), "member 0 loads the puts of every member");
        MPI_OK(MPI_Barrier(node));
    }

    /* Every member adds 1 to element 1 of every member with two or more elements. */
    int one = 1;
    for (int peer = 0; peer < node_size; peer++)
        if (ints_of(peer, node_size) > 1) MPI_OK(MPI_Accumulate(&one, 1, MPI_INT, peer, 1, 1, MPI_INT, MPI_SUM, win));
    MPI_OK(MPI_Win_flush_all(win));
    MPI_OK(MPI_Barrier(node));
    MPI_OK(MPI_Win_sync(win));
    if (my_ints > 1) CHECK_EQ_LL(mine[1], value_of(node_rank, node_rank, 1, 1) + node_size, "ones accumulated by every member");
    MPI_OK(MPI_Barrier(node));
    MPI_OK(MPI_Win_unlock_all(win));

    /* A fence epoch: put into the right neighbour's element 0, then load it directly. */
    MPI_OK(MPI_Win_fence(0, win));
    value = value_of(node_rank, right, 0, 4);
    if (ints_of(right, node_size) > 0) MPI_OK(MPI_Put(&value, 1, MPI_INT, right, 0, 1, MPI_INT, win));
    MPI_OK(MPI_Win_fence(0, win));
    if (my_ints > 0) CHECK_EQ_LL(mine[0], value_of(left, node_rank, 0, 4), "fence put seen by a direct load");
    MPI_OK(MPI_Win_fence(MPI_MODE_NOSUCCEED, win));
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "shared_windows");
    int expected_node_size = 0;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--expect-node-size") == 0) expected_node_size = atoi(argv[i + 1]);

    /* Descending world rank as key: node ranks come out in reverse. */
    MPI_Comm node;
    MPI_OK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_size - world_rank, MPI_INFO_NULL, &node));
    int node_rank, node_size;
    MPI_OK(MPI_Comm_rank(node, &node_rank));
    MPI_OK(MPI_Comm_size(node, &node_size));
    if (expected_node_size > 0) CHECK_EQ_LL(node_size, expected_node_size, "MPI_COMM_TYPE_SHARED communicator size");
    check_node_order(node, node_rank, node_size, 1);
    MPI_OK(MPI_Comm_free(&node));
    /* Equal keys: ordered by rank in the parent. */
    MPI_OK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    MPI_OK(MPI_Comm_rank(node, &node_rank));
    MPI_OK(MPI_Comm_size(node, &node_size));
    check_node_order(node, node_rank, node_size, 0);
    test_phase_done("MPI_Comm_split_type");

    int **bases = xmalloc(sizeof(int *) * node_size);
    MPI_Aint *sizes = xmalloc(sizeof(MPI_Aint) * node_size);
    int *mine = NULL;
    MPI_Win win;
    MPI_OK(MPI_Win_allocate_shared(ints_of(node_rank, node_size) * (MPI_Aint)sizeof(int), sizeof(int), MPI_INFO_NULL,
                                   node, &mine, &win));
    int *flavor = NULL, flag = 0;
    MPI_OK(MPI_Win_get_attr(win, MPI_WIN_CREATE_FLAVOR, &flavor, &flag));
    CHECK(flag && *flavor == MPI_WIN_FLAVOR_SHARED, "MPI_WIN_CREATE_FLAVOR: expected MPI_WIN_FLAVOR_SHARED (%d), found %d",
          MPI_WIN_FLAVOR_SHARED, flag ? *flavor : -1);
    query_all(win, node_size, bases, sizes);
    if (ints_of(node_rank, node_size) > 0) CHECK(bases[node_rank] == mine, "MPI_Win_shared_query of self: not baseptr");
    /* Contiguous: each segment starts where the previous one with memory ends (MPI leaves the
     * base of an empty segment open; MPICH gives NULL). */
    for (int peer = 1, previous = 0; peer < node_size; peer++) {
        if (sizes[peer] == 0) continue;
        CHECK((char *)bases[peer] == (char *)bases[previous] + sizes[previous],
              "contiguous segments: member %d's starts %td bytes after member %d's, whose size is %td", peer,
              (char *)bases[peer] - (char *)bases[previous], previous, (ptrdiff_t)sizes[previous]);
        previous = peer;
    }
    MPI_Aint first_size;
    int first_unit, *first_base;
    MPI_OK(MPI_Win_shared_query(win, MPI_PROC_NULL, &first_size, &first_unit, &first_base));
    CHECK(first_base == bases[0] && first_size == sizes[0], "MPI_Win_shared_query(MPI_PROC_NULL): not member 0's segment");
    loads_and_stores(win, node, node_rank, node_size, bases, mine);
    MPI_OK(MPI_Win_free(&win));
    test_phase_done("contiguous shared window");

    /* alloc_shared_noncontig: segments need not touch, but each is the member's own. */
    MPI_Info info;
    MPI_OK(MPI_Info_create(&info));
    MPI_OK(MPI_Info_set(info, "alloc_shared_noncontig", "true"));
    MPI_OK(MPI_Win_allocate_shared(ints_of(node_rank, node_size) * (MPI_Aint)sizeof(int), sizeof(int), info, node, &mine,
                                   &win));
    MPI_OK(MPI_Info_free(&info));
    query_all(win, node_size, bases, sizes);
    for (int a = 0; a < node_size; a++)
        for (int b = a + 1; b < node_size; b++)
            CHECK((char *)bases[a] + sizes[a] <= (char *)bases[b] || (char *)bases[b] + sizes[b] <= (char *)bases[a],
                  "noncontiguous segments of members %d and %d overlap", a, b);
    loads_and_stores(win, node, node_rank, node_size, bases, mine);
    MPI_OK(MPI_Win_free(&win));
    test_phase_done("noncontiguous shared window");

    free(bases);
    free(sizes);
    MPI_OK(MPI_Comm_free(&node));
    return test_finish();
}
