/*
 * Windows a preloaded layer may leave to MPICH: MPI_Win_create over user memory,
 * MPI_Win_create_dynamic with attached memory, MPI_Win_allocate_shared (direct
 * loads, get and accumulate), and an MPI_Win_allocate window on MPI_COMM_SELF
 * (nobody to share it with); each reports its own create flavor. An
 * MPI_Win_allocate window over all ranks stays alive and in use next to them, so
 * handles of the different kinds must never be confused.
 */
#include "common.h"

enum { INTS = 16 };

static void check_flavor(MPI_Win win, int expected, const char *what) {
    int *flavor = NULL, flag = 0;
    MPI_OK(MPI_Win_get_attr(win, MPI_WIN_CREATE_FLAVOR, &flavor, &flag));
    CHECK(flag && *flavor == expected, "%s: MPI_WIN_CREATE_FLAVOR expected %d, found %d", what, expected,
          flag ? *flavor : -1);
}

/* Where int `index` of target t's data lives, in the window's displacement units. */
typedef MPI_Aint (*locate_fn)(int target, int index);

/* Puts this rank's pattern into its right neighbour's first half, accumulates 1 into
 * everyone's last int, then gets its own pattern back from the right neighbour; a
 * put into the MPI_Win_allocate window runs in the same epoch on purpose. */
static void put_get_accumulate(MPI_Win win, const int *local, locate_fn locate, const char *what,
                               MPI_Win allocated, const int *allocated_base) {
    int target = right_of(world_rank, world_size), origin = left_of(world_rank, world_size);
    int values[INTS / 2], fetched[INTS / 2], expected[INTS / 2], one = 1, stamp = 5000 + world_rank;
    for (int i = 0; i < INTS / 2; i++) values[i] = pattern(world_rank, target, i, 9);
    char label[128];

    MPI_OK(MPI_Win_lock_all(0, win));
    MPI_OK(MPI_Win_lock_all(0, allocated));
    MPI_OK(MPI_Put(values, INTS / 2, MPI_INT, target, locate(target, 0), INTS / 2, MPI_INT, win));
    MPI_OK(MPI_Put(&stamp, 1, MPI_INT, target, 0, 1, MPI_INT, allocated));
    for (int t = 0; t < world_size; t++)
        MPI_OK(MPI_Accumulate(&one, 1, MPI_INT, t, locate(t, INTS - 1), 1, MPI_INT, MPI_SUM, win));
    MPI_OK(MPI_Win_flush_all(win));
    MPI_OK(MPI_Win_flush_all(allocated));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_sync(win));
    MPI_OK(MPI_Win_sync(allocated));

    for (int i = 0; i < INTS / 2; i++) expected[i] = pattern(origin, world_rank, i, 9);
    snprintf(label, sizeof label, "%s: put from the left neighbour", what);
    CHECK_INTS(local, expected, INTS / 2, label);
    snprintf(label, sizeof label, "%s: ones accumulated by every rank", what);
    CHECK_EQ_LL(local[INTS - 1], world_size, label);
    snprintf(label, sizeof label, "MPI_Win_allocate window used next to %s", what);
    CHECK_EQ_LL(*allocated_base, 5000 + origin, label);

    MPI_OK(MPI_Get(fetched, INTS / 2, MPI_INT, target, locate(target, 0), INTS / 2, MPI_INT, win));
    MPI_OK(MPI_Win_flush(target, win));
    snprintf(label, sizeof label, "%s: get from the right neighbour", what);
    CHECK_INTS(fetched, values, INTS / 2, label);
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_unlock_all(allocated));
    MPI_OK(MPI_Win_unlock_all(win));
}

/* MPI_Win_create with disp_unit sizeof(int): displacements count ints. */
static MPI_Aint in_created_window(int target, int index) {
    (void)target;
    return index;
}

/* Dynamic windows: displacements are absolute byte addresses of attached memory. */
static MPI_Aint *attached_addresses;
static MPI_Aint in_attached_memory(int target, int index) {
    return attached_addresses[target] + (MPI_Aint)index * (MPI_Aint)sizeof(int);
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "passthrough_windows");

    int *allocated_base = NULL;
    MPI_Win allocated;
    MPI_OK(MPI_Win_allocate(window_bytes(sizeof(int)), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &allocated_base,
                            &allocated));
    check_flavor(allocated, MPI_WIN_FLAVOR_ALLOCATE, "MPI_Win_allocate");
    *allocated_base = -1;
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD)); /* stored before anyone's first put */

    /* MPI_Win_create over malloc'd memory. */
    int *created_memory = xmalloc(sizeof(int) * INTS);
    memset(created_memory, 0, sizeof(int) * INTS);
    MPI_Win created;
    MPI_OK(MPI_Win_create(created_memory, sizeof(int) * INTS, sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &created));
    check_flavor(created, MPI_WIN_FLAVOR_CREATE, "MPI_Win_create");
    put_get_accumulate(created, created_memory, in_created_window, "MPI_Win_create", allocated, allocated_base);
    MPI_OK(MPI_Win_free(&created));
    free(created_memory);
    test_phase_done("MPI_Win_create");

    /* MPI_Win_create_dynamic with memory attached after creation. */
    MPI_Win dynamic;
    MPI_OK(MPI_Win_create_dynamic(MPI_INFO_NULL, MPI_COMM_WORLD, &dynamic));
    check_flavor(dynamic, MPI_WIN_FLAVOR_DYNAMIC, "MPI_Win_create_dynamic");
    int *attached = xmalloc(sizeof(int) * INTS);
    memset(attached, 0, sizeof(int) * INTS);
    MPI_OK(MPI_Win_attach(dynamic, attached, sizeof(int) * INTS));
    MPI_Aint my_address;
    MPI_OK(MPI_Get_address(attached, &my_address));
    attached_addresses = xmalloc(sizeof(MPI_Aint) * world_size);
    MPI_OK(MPI_Allgather(&my_address, 1, MPI_AINT, attached_addresses, 1, MPI_AINT, MPI_COMM_WORLD));
    put_get_accumulate(dynamic, attached, in_attached_memory, "MPI_Win_create_dynamic", allocated, allocated_base);
    MPI_OK(MPI_Win_detach(dynamic, attached));
    MPI_OK(MPI_Win_free(&dynamic));
    free(attached);
    free(attached_addresses);
    test_phase_done("MPI_Win_create_dynamic");

    /* MPI_Win_allocate_shared over the node's shared-memory communicator (size 1 per
     * rank when every rank is its own "VM"): direct loads of peers plus RMA. */
    MPI_Comm node;
    MPI_OK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &node));
    int node_rank, node_size;
    MPI_OK(MPI_Comm_rank(node, &node_rank));
    MPI_OK(MPI_Comm_size(node, &node_size));
    int *shared_base = NULL;
    MPI_Win shared;
    MPI_OK(MPI_Win_allocate_shared(window_bytes(sizeof(int) * INTS), sizeof(int), MPI_INFO_NULL, node, &shared_base,
                                   &shared));
    check_flavor(shared, MPI_WIN_FLAVOR_SHARED, "MPI_Win_allocate_shared");
    MPI_OK(MPI_Win_lock_all(0, shared));
    for (int i = 0; i < INTS; i++) shared_base[i] = world_rank * 100 + i;
    MPI_OK(MPI_Win_sync(shared));
    MPI_OK(MPI_Barrier(node));
    MPI_OK(MPI_Win_sync(shared));
    for (int peer = 0; peer < node_size; peer++) {
        MPI_Aint size;
        int unit, *peer_base = NULL, fetched = -1;
        MPI_OK(MPI_Win_shared_query(shared, peer, &size, &unit, &peer_base));
        CHECK(size >= (MPI_Aint)sizeof(int) * INTS && unit == (int)sizeof(int), "MPI_Win_shared_query of peer %d", peer);
        MPI_OK(MPI_Get(&fetched, 1, MPI_INT, peer, 3, 1, MPI_INT, shared));
        MPI_OK(MPI_Win_flush(peer, shared));
        CHECK_EQ_LL(fetched, peer_base[3], "MPI_Win_allocate_shared: get equals a direct load");
        CHECK_EQ_LL(peer_base[3] % 100, 3, "MPI_Win_allocate_shared: direct load of a peer");
    }
    MPI_OK(MPI_Barrier(node));
    int one = 1;
    for (int peer = 0; peer < node_size; peer++)
        MPI_OK(MPI_Accumulate(&one, 1, MPI_INT, peer, INTS - 1, 1, MPI_INT, MPI_SUM, shared));
    MPI_OK(MPI_Win_flush_all(shared));
    MPI_OK(MPI_Barrier(node));
    MPI_OK(MPI_Win_sync(shared));
    CHECK_EQ_LL(shared_base[INTS - 1], world_rank * 100 + INTS - 1 + node_size,
                "MPI_Win_allocate_shared: ones accumulated by every node member");
    MPI_OK(MPI_Barrier(node));
    MPI_OK(MPI_Win_unlock_all(shared));
    MPI_OK(MPI_Win_free(&shared));
    MPI_OK(MPI_Comm_free(&node));
    test_phase_done("MPI_Win_allocate_shared");

    /* MPI_Win_allocate over MPI_COMM_SELF: every access is to the caller itself. */
    int *self_base = NULL, value = 7 + world_rank, fetched = -1;
    MPI_Win self_window;
    MPI_OK(MPI_Win_allocate(window_bytes(sizeof(int)), sizeof(int), MPI_INFO_NULL, MPI_COMM_SELF, &self_base,
                            &self_window));
    check_flavor(self_window, MPI_WIN_FLAVOR_ALLOCATE, "MPI_Win_allocate on MPI_COMM_SELF");
    MPI_OK(MPI_Win_fence(0, self_window));
    MPI_OK(MPI_Put(&value, 1, MPI_INT, 0, 0, 1, MPI_INT, self_window));
    MPI_OK(MPI_Win_fence(0, self_window));
    MPI_OK(MPI_Get(&fetched, 1, MPI_INT, 0, 0, 1, MPI_INT, self_window));
    MPI_OK(MPI_Win_fence(0, self_window));
    CHECK_EQ_LL(*self_base, 7 + world_rank, "MPI_COMM_SELF window: put");
    CHECK_EQ_LL(fetched, 7 + world_rank, "MPI_COMM_SELF window: get");
    MPI_OK(MPI_Win_free(&self_window));
    test_phase_done("MPI_Win_allocate on MPI_COMM_SELF");

    MPI_OK(MPI_Win_free(&allocated));
    return test_finish();
}
