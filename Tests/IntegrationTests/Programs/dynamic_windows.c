/*
 * MPI_Win_create_dynamic with two attachments per rank, one from MPI_Alloc_mem and one
 * from malloc: put, get and accumulate into both at every rank, under every
 * synchronization mode (fence, exclusive and shared lock, lock_all with flush, PSCW),
 * then detach, re-attach the same memory and attach new MPI_Alloc_mem memory.
 * "--expect-range-errors": a put that starts inside an attachment and runs past its
 * end fails with MPI_ERR_RMA_RANGE and writes nothing (MPICH itself does not check).
 */
#include "common.h"

enum { INTS = 64, SYNC_MODES = 4 };

static MPI_Win win;
static int *alloc_mem_part, *malloc_part;  /* this rank's two attachments */
static MPI_Aint *alloc_mem_of, *malloc_of; /* every rank's addresses of them */
static int accumulated;                    /* what the left neighbour added to each last element */

static const char *mode_name[SYNC_MODES] = {"fence", "lock", "lock_all+flush", "pscw"};

static void publish_addresses(void) {
    MPI_Aint mine[2], *all = xmalloc(sizeof(MPI_Aint) * 2 * world_size);
    MPI_OK(MPI_Get_address(alloc_mem_part, &mine[0]));
    MPI_OK(MPI_Get_address(malloc_part, &mine[1]));
    MPI_OK(MPI_Allgather(mine, 2, MPI_AINT, all, 2, MPI_AINT, MPI_COMM_WORLD));
    for (int r = 0; r < world_size; r++) {
        alloc_mem_of[r] = all[2 * r];
        malloc_of[r] = all[2 * r + 1];
    }
    free(all);
}

static MPI_Aint element(MPI_Aint base, int index) { return base + (MPI_Aint)index * (MPI_Aint)sizeof(int); }

/* Opens an access epoch to `target` (and exposure for PSCW) in the given mode. */
static MPI_Group pscw_group;
static void begin(int mode, int target) {
    switch (mode) {
    case 0: MPI_OK(MPI_Win_fence(0, win)); break;
    case 1: MPI_OK(MPI_Win_lock(target == world_rank ? MPI_LOCK_SHARED : MPI_LOCK_EXCLUSIVE, target, 0, win)); break;
    case 2: MPI_OK(MPI_Win_lock_all(0, win)); break;
    case 3: {
        MPI_Group world_group;
        int neighbours[2] = {left_of(world_rank, world_size), right_of(world_rank, world_size)};
        MPI_OK(MPI_Comm_group(MPI_COMM_WORLD, &world_group));
        MPI_OK(MPI_Group_incl(world_group, neighbours[0] == neighbours[1] ? 1 : 2, neighbours, &pscw_group));
        MPI_OK(MPI_Group_free(&world_group));
        MPI_OK(MPI_Win_post(pscw_group, 0, win));
        MPI_OK(MPI_Win_start(pscw_group, 0, win));
        break;
    }
    }
}

static void end(int mode, int target) {
    switch (mode) {
    case 0: MPI_OK(MPI_Win_fence(0, win)); break;
    case 1: MPI_OK(MPI_Win_unlock(target, win)); break;
    case 2:
        MPI_OK(MPI_Win_flush(target, win));
        MPI_OK(MPI_Win_unlock_all(win));
        break;
    case 3:
        MPI_OK(MPI_Win_complete(win));
        MPI_OK(MPI_Win_wait(win));
        MPI_OK(MPI_Group_free(&pscw_group));
        break;
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD)); /* every origin's epoch to this rank has ended */
}

/* Round `round` in `mode`: put a pattern into the right neighbour's two attachments,
 * accumulate (round) into its last element of each, then get both back. */
static void exchange(int mode, int round) {
    int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    int values[INTS / 2], fetched[2][INTS / 2], expected[INTS / 2], amount = round;
    for (int i = 0; i < INTS / 2; i++) values[i] = pattern(world_rank, right, i, round);
    MPI_Aint targets[2] = {alloc_mem_of[right], malloc_of[right]};
    int *locals[2] = {alloc_mem_part, malloc_part};
    char label[160];

    begin(mode, right);
    for (int part = 0; part < 2; part++) {
        MPI_OK(MPI_Put(values, INTS / 2, MPI_INT, right, element(targets[part], 0), INTS / 2, MPI_INT, win));
        MPI_OK(MPI_Accumulate(&amount, 1, MPI_INT, right, element(targets[part], INTS - 1), 1, MPI_INT, MPI_SUM, win));
    }
    end(mode, right);
    accumulated += round;
    for (int part = 0; part < 2; part++) {
        for (int i = 0; i < INTS / 2; i++) expected[i] = pattern(left, world_rank, i, round);
        snprintf(label, sizeof label, "%s round %d: put into the %s attachment", mode_name[mode], round,
                 part == 0 ? "MPI_Alloc_mem" : "malloc");
        CHECK_INTS(locals[part], expected, INTS / 2, label);
        snprintf(label, sizeof label, "%s round %d: accumulate into the %s attachment", mode_name[mode], round,
                 part == 0 ? "MPI_Alloc_mem" : "malloc");
        CHECK_EQ_LL(locals[part][INTS - 1], accumulated, label);
    }

    begin(mode, right);
    for (int part = 0; part < 2; part++)
        MPI_OK(MPI_Get(fetched[part], INTS / 2, MPI_INT, right, element(targets[part], 0), INTS / 2, MPI_INT, win));
    end(mode, right);
    for (int part = 0; part < 2; part++) {
        snprintf(label, sizeof label, "%s round %d: get from the %s attachment", mode_name[mode], round,
                 part == 0 ? "MPI_Alloc_mem" : "malloc");
        CHECK_INTS(fetched[part], values, INTS / 2, label);
    }
}

static void attach_both(void) {
    memset(alloc_mem_part, 0, sizeof(int) * INTS);
    memset(malloc_part, 0, sizeof(int) * INTS);
    accumulated = 0;
    MPI_OK(MPI_Win_attach(win, alloc_mem_part, sizeof(int) * INTS));
    MPI_OK(MPI_Win_attach(win, malloc_part, sizeof(int) * INTS));
    publish_addresses();
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD)); /* attached everywhere before anyone accesses */
}

static void detach_both(void) {
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD)); /* nobody accesses them any more */
    MPI_OK(MPI_Win_detach(win, alloc_mem_part));
    MPI_OK(MPI_Win_detach(win, malloc_part));
}

/* A put of two ints at the last element of the right neighbour's MPI_Alloc_mem
 * attachment: one int lies past its end. */
static void overrun(void) {
    int right = right_of(world_rank, world_size), two[2] = {-7, -7};
    MPI_OK(MPI_Win_set_errhandler(win, MPI_ERRORS_RETURN));
    MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, right, 0, win));
    int rc = MPI_Put(two, 2, MPI_INT, right, element(alloc_mem_of[right], INTS - 1), 2, MPI_INT, win), error_class = -1;
    MPI_OK(MPI_Win_unlock(right, win));
    MPI_Error_class(rc, &error_class);
    CHECK_EQ_LL(error_class, MPI_ERR_RMA_RANGE, "put running past an attachment's end: error class");
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    CHECK(alloc_mem_part[INTS - 1] != -7, "the failed put wrote into the attachment");
    MPI_OK(MPI_Win_set_errhandler(win, MPI_ERRORS_ARE_FATAL));
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "dynamic_windows");
    int expect_range_errors = argc > 1 && strcmp(argv[1], "--expect-range-errors") == 0;
    alloc_mem_of = xmalloc(sizeof(MPI_Aint) * world_size);
    malloc_of = xmalloc(sizeof(MPI_Aint) * world_size);

    MPI_OK(MPI_Win_create_dynamic(MPI_INFO_NULL, MPI_COMM_WORLD, &win));
    int *flavor = NULL, flag = 0;
    MPI_OK(MPI_Win_get_attr(win, MPI_WIN_CREATE_FLAVOR, &flavor, &flag));
    CHECK(flag && *flavor == MPI_WIN_FLAVOR_DYNAMIC, "MPI_WIN_CREATE_FLAVOR: expected %d, found %d", MPI_WIN_FLAVOR_DYNAMIC,
          flag ? *flavor : -1);

    MPI_OK(MPI_Alloc_mem(sizeof(int) * INTS, MPI_INFO_NULL, &alloc_mem_part));
    malloc_part = xmalloc(sizeof(int) * INTS);
    attach_both();
    for (int mode = 0; mode < SYNC_MODES; mode++) {
        exchange(mode, 1 + mode);
        test_phase_done(mode_name[mode]);
    }
    if (expect_range_errors) {
        overrun();
        test_phase_done("range error");
    }
    detach_both();

    /* The same memory again, then a fresh MPI_Alloc_mem block in place of the first. */
    attach_both();
    exchange(2, 11);
    detach_both();
    test_phase_done("re-attach");
    MPI_OK(MPI_Free_mem(alloc_mem_part));
    MPI_OK(MPI_Alloc_mem(sizeof(int) * INTS, MPI_INFO_NULL, &alloc_mem_part));
    attach_both();
    exchange(0, 12);
    exchange(3, 13);
    detach_both();
    test_phase_done("new MPI_Alloc_mem attachment");

    MPI_OK(MPI_Win_free(&win));
    MPI_OK(MPI_Free_mem(alloc_mem_part));
    free(malloc_part);
    free(alloc_mem_of);
    free(malloc_of);
    return test_finish();
}
