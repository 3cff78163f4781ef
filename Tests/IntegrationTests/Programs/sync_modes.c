/*
 * Every synchronization mode on an MPI_Win_allocate window, each checked by the
 * bytes it must have made visible:
 *   fence with MPI_MODE_NOPRECEDE / NOSTORE / NOPUT / NOSUCCEED,
 *   lock/unlock exclusive and shared, MPI_MODE_NOCHECK,
 *   lock_all/unlock_all with flush, flush_all, flush_local, flush_local_all,
 *   MPI_Win_sync with barrier and with point-to-point notification,
 *   PSCW (post/start/complete/wait), MPI_Win_test polling, NOCHECK, self in groups.
 *
 * Window of every rank: one slot of SLOT ints per origin (origin o writes slot o)
 * followed by a "published" slot that only its owner stores into.
 */
#include "common.h"

enum { SLOT = 64 };

static MPI_Win win;
static int *window_base;
static int *staging; /* world_size slots */

static int *slot_of(int origin) { return window_base + (size_t)origin * SLOT; }
static int *published_slot(void) { return slot_of(world_size); }
static MPI_Aint slot_disp(int origin) { return (MPI_Aint)origin * SLOT; }

static void fill(int *buf, int origin, int target, int round) {
    for (int i = 0; i < SLOT; i++) buf[i] = pattern(origin, target, i, round);
}

static void check_slot(const int *found, int origin, int target, int round, const char *what) {
    int expected[SLOT];
    fill(expected, origin, target, round);
    char label[160];
    snprintf(label, sizeof label, "%s round %d: data of origin %d at target %d", what, round, origin, target);
    CHECK_INTS(found, expected, SLOT, label);
}

/* Puts this rank's slot into every target of `targets` (count distinct ranks) from one
 * staging buffer per target. The caller completes the epoch before the next call, as
 * the buffers may be reused only then. */
static void put_to(const int *targets, int count, int round) {
    for (int k = 0; k < count; k++) {
        int *values = staging + (size_t)k * SLOT;
        fill(values, world_rank, targets[k], round);
        MPI_OK(MPI_Put(values, SLOT, MPI_INT, targets[k], slot_disp(world_rank), SLOT, MPI_INT, win));
    }
}

static int all_ranks[1024];

/* Reads the local window under a shared lock on itself: the portable way to see
 * what passive-target epochs of other ranks wrote. */
static void check_own_slots(const int *origins, int count, int round, const char *what) {
    MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, world_rank, 0, win));
    for (int k = 0; k < count; k++) check_slot(slot_of(origins[k]), origins[k], world_rank, round, what);
    MPI_OK(MPI_Win_unlock(world_rank, win));
}

static void fence_modes(int round) {
    MPI_OK(MPI_Win_fence(MPI_MODE_NOPRECEDE, win));
    put_to(all_ranks, world_size, round);
    /* No local stores happened in the epoch, and the next epoch only reads. */
    MPI_OK(MPI_Win_fence(MPI_MODE_NOSTORE | MPI_MODE_NOPUT, win));
    for (int origin = 0; origin < world_size; origin++)
        check_slot(slot_of(origin), origin, world_rank, round, "fence put");

    int *fetched = xmalloc(sizeof(int) * SLOT * world_size);
    for (int target = 0; target < world_size; target++)
        MPI_OK(MPI_Get(fetched + (size_t)target * SLOT, SLOT, MPI_INT, target, slot_disp(world_rank), SLOT, MPI_INT,
                       win));
    MPI_OK(MPI_Win_fence(MPI_MODE_NOSTORE, win));
    for (int target = 0; target < world_size; target++)
        check_slot(fetched + (size_t)target * SLOT, world_rank, target, round, "fence get");

    /* Local stores become visible to remote gets after the next fence. */
    fill(published_slot(), world_size, world_rank, round);
    MPI_OK(MPI_Win_fence(MPI_MODE_NOPUT, win));
    for (int target = 0; target < world_size; target++)
        MPI_OK(MPI_Get(fetched + (size_t)target * SLOT, SLOT, MPI_INT, target, slot_disp(world_size), SLOT, MPI_INT,
                       win));
    MPI_OK(MPI_Win_fence(MPI_MODE_NOSUCCEED, win));
    for (int target = 0; target < world_size; target++)
        check_slot(fetched + (size_t)target * SLOT, world_size, target, round, "fence get of local stores");
    free(fetched);
}

static void exclusive_and_shared_locks(int round) {
    /* Every origin starts at a different target, so locks contend. */
    for (int step = 0; step < world_size; step++) {
        int target = (world_rank + step) % world_size;
        int values[SLOT];
        fill(values, world_rank, target, round);
        MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, target, 0, win));
        MPI_OK(MPI_Put(values, SLOT, MPI_INT, target, slot_disp(world_rank), SLOT, MPI_INT, win));
        MPI_OK(MPI_Win_unlock(target, win));
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    check_own_slots(all_ranks, world_size, round, "exclusive lock put");

    for (int step = 0; step < world_size; step++) {
        int target = (world_rank + world_size - step) % world_size;
        int fetched[SLOT];
        MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, target, 0, win));
        MPI_OK(MPI_Get(fetched, SLOT, MPI_INT, target, slot_disp(world_rank), SLOT, MPI_INT, win));
        MPI_OK(MPI_Win_unlock(target, win));
        check_slot(fetched, world_rank, target, round, "shared lock get");
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
}

static void nocheck_locks(int round) {
    /* Shared locks never conflict with each other: NOCHECK is legal between barriers. */
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    for (int target = 0; target < world_size; target++) {
        int values[SLOT];
        fill(values, world_rank, target, round);
        MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, target, MPI_MODE_NOCHECK, win));
        MPI_OK(MPI_Put(values, SLOT, MPI_INT, target, slot_disp(world_rank), SLOT, MPI_INT, win));
        MPI_OK(MPI_Win_unlock(target, win));
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    check_own_slots(all_ranks, world_size, round, "shared lock NOCHECK put");
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    /* Exclusive NOCHECK: each target has exactly one origin (its left neighbour), and
     * no rank locks its own window until the barrier. */
    int target = right_of(world_rank, world_size), origin = left_of(world_rank, world_size);
    int values[SLOT];
    fill(values, world_rank, target, round + 1);
    MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, target, MPI_MODE_NOCHECK, win));
    MPI_OK(MPI_Put(values, SLOT, MPI_INT, target, slot_disp(world_rank), SLOT, MPI_INT, win));
    MPI_OK(MPI_Win_unlock(target, win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    check_own_slots(&origin, 1, round + 1, "exclusive lock NOCHECK put");
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
}

/* Within lock_all: after the origins' flush and a barrier, MPI_Win_sync makes the
 * remote writes visible to local loads. */
static void check_after_flushes(int round, const char *what) {
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_sync(win));
    for (int origin = 0; origin < world_size; origin++)
        check_slot(slot_of(origin), origin, world_rank, round, what);
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
}

static void lock_all_flushes(int round) {
    MPI_OK(MPI_Win_lock_all(0, win));

    for (int target = 0; target < world_size; target++) {
        put_to(&target, 1, round);
        MPI_OK(MPI_Win_flush(target, win));
    }
    check_after_flushes(round, "lock_all + flush");

    put_to(all_ranks, world_size, round + 1);
    MPI_OK(MPI_Win_flush_all(win));
    check_after_flushes(round + 1, "lock_all + flush_all");

    /* flush_local: the origin buffer may be reused at once; the target still gets the
     * value it held at the time of the put once flush completes it remotely. */
    for (int target = 0; target < world_size; target++) {
        int values[SLOT];
        fill(values, world_rank, target, round + 2);
        MPI_OK(MPI_Put(values, SLOT, MPI_INT, target, slot_disp(world_rank), SLOT, MPI_INT, win));
        MPI_OK(MPI_Win_flush_local(target, win));
        memset(values, 0xAB, sizeof values);
        MPI_OK(MPI_Win_flush(target, win));
    }
    check_after_flushes(round + 2, "lock_all + flush_local");

    int *staged = xmalloc(sizeof(int) * SLOT * world_size);
    for (int target = 0; target < world_size; target++) {
        fill(staged + (size_t)target * SLOT, world_rank, target, round + 3);
        MPI_OK(MPI_Put(staged + (size_t)target * SLOT, SLOT, MPI_INT, target, slot_disp(world_rank), SLOT, MPI_INT,
                       win));
    }
    MPI_OK(MPI_Win_flush_local_all(win));
    memset(staged, 0xCD, sizeof(int) * SLOT * world_size);
    MPI_OK(MPI_Win_flush_all(win));
    check_after_flushes(round + 3, "lock_all + flush_local_all");

    /* A get is complete at the origin after flush_local. */
    for (int target = 0; target < world_size; target++)
        MPI_OK(MPI_Get(staged + (size_t)target * SLOT, SLOT, MPI_INT, target, slot_disp(world_rank), SLOT, MPI_INT,
                       win));
    MPI_OK(MPI_Win_flush_local_all(win));
    for (int target = 0; target < world_size; target++)
        check_slot(staged + (size_t)target * SLOT, world_rank, target, round + 3, "get + flush_local_all");
    free(staged);
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_unlock_all(win));
}

static void win_sync_patterns(int round) {
    MPI_OK(MPI_Win_lock_all(0, win));

    /* Owner stores locally, syncs, barrier: everyone's get sees the stores. */
    fill(published_slot(), world_size, world_rank, round);
    MPI_OK(MPI_Win_sync(win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    for (int target = 0; target < world_size; target++) {
        int fetched[SLOT];
        MPI_OK(MPI_Get(fetched, SLOT, MPI_INT, target, slot_disp(world_size), SLOT, MPI_INT, win));
        MPI_OK(MPI_Win_flush(target, win));
        check_slot(fetched, world_size, target, round, "get after owner's store + win_sync");
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    /* Put + flush, then a message to the target; the target syncs and loads. */
    int target = right_of(world_rank, world_size), origin = left_of(world_rank, world_size);
    put_to(&target, 1, round + 1);
    MPI_OK(MPI_Win_flush(target, win));
    int token = world_rank, received = -1;
    MPI_OK(MPI_Sendrecv(&token, 1, MPI_INT, target, 7, &received, 1, MPI_INT, origin, 7, MPI_COMM_WORLD,
                        MPI_STATUS_IGNORE));
    CHECK_EQ_LL(received, origin, "notification token");
    MPI_OK(MPI_Win_sync(win));
    check_slot(slot_of(origin), origin, world_rank, round + 1, "load after put + flush + message + win_sync");

    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_unlock_all(win));
}

/* Groups of world ranks; MPI_Group_incl wants a list. */
static MPI_Group group_of(const int *ranks, int count) {
    MPI_Group world_group, group;
    MPI_OK(MPI_Comm_group(MPI_COMM_WORLD, &world_group));
    MPI_OK(MPI_Group_incl(world_group, count, ranks, &group));
    MPI_OK(MPI_Group_free(&world_group));
    return group;
}

/* Distinct ranks at the given offsets from this rank (offsets may wrap onto the same rank). */
static int neighbours(const int *offsets, int offset_count, int *out) {
    int count = 0;
    for (int k = 0; k < offset_count; k++) {
        int rank = ((world_rank + offsets[k]) % world_size + world_size) % world_size;
        int seen = 0;
        for (int j = 0; j < count; j++) seen |= out[j] == rank;
        if (!seen) out[count++] = rank;
    }
    return count;
}

static void pscw_modes(int round) {
    /* Access: right neighbour, two to the right, and self; exposure: the mirror image. */
    const int access_offsets[] = {1, 2, 0}, exposure_offsets[] = {-1, -2, 0};
    int access[3], exposure[3];
    int access_count = neighbours(access_offsets, 3, access);
    int exposure_count = neighbours(exposure_offsets, 3, exposure);
    MPI_Group access_group = group_of(access, access_count);
    MPI_Group exposure_group = group_of(exposure, exposure_count);

    /* Put epoch closed by MPI_Win_wait. */
    MPI_OK(MPI_Win_post(exposure_group, 0, win));
    MPI_OK(MPI_Win_start(access_group, 0, win));
    put_to(access, access_count, round);
    MPI_OK(MPI_Win_complete(win));
    MPI_OK(MPI_Win_wait(win));
    for (int k = 0; k < exposure_count; k++)
        check_slot(slot_of(exposure[k]), exposure[k], world_rank, round, "PSCW put + wait");

    /* Get-only epoch (NOPUT, NOSTORE on post) closed by polling MPI_Win_test. */
    int *fetched = xmalloc(sizeof(int) * SLOT * access_count);
    MPI_OK(MPI_Win_post(exposure_group, MPI_MODE_NOPUT | MPI_MODE_NOSTORE, win));
    MPI_OK(MPI_Win_start(access_group, 0, win));
    for (int k = 0; k < access_count; k++)
        MPI_OK(MPI_Get(fetched + (size_t)k * SLOT, SLOT, MPI_INT, access[k], slot_disp(world_rank), SLOT, MPI_INT,
                       win));
    MPI_OK(MPI_Win_complete(win));
    for (int k = 0; k < access_count; k++)
        check_slot(fetched + (size_t)k * SLOT, world_rank, access[k], round, "PSCW get after complete");
    long polls = 0;
    for (int done = 0; !done; polls++) MPI_OK(MPI_Win_test(win, &done));
    CHECK(polls >= 1, "MPI_Win_test never ran");

    /* NOCHECK: every post has completed (barrier) before any start. */
    MPI_OK(MPI_Win_post(exposure_group, MPI_MODE_NOCHECK, win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_start(access_group, MPI_MODE_NOCHECK, win));
    put_to(access, access_count, round + 1);
    MPI_OK(MPI_Win_complete(win));
    for (int done = 0; !done;) MPI_OK(MPI_Win_test(win, &done));
    for (int k = 0; k < exposure_count; k++)
        check_slot(slot_of(exposure[k]), exposure[k], world_rank, round + 1, "PSCW NOCHECK put + test");
    free(fetched);

    /* Asymmetric roles: even ranks only access their right neighbour, which only
     * exposes (an odd world size leaves the last even rank out). */
    int partner = world_rank % 2 == 0 ? world_rank + 1 : world_rank - 1;
    if (partner < world_size) {
        MPI_Group pair = group_of(&partner, 1);
        if (world_rank % 2 == 0) {
            MPI_OK(MPI_Win_start(pair, 0, win));
            put_to(&partner, 1, round + 2);
            MPI_OK(MPI_Win_complete(win));
        } else {
            MPI_OK(MPI_Win_post(pair, 0, win));
            MPI_OK(MPI_Win_wait(win));
            check_slot(slot_of(partner), partner, world_rank, round + 2, "PSCW one-way put");
        }
        MPI_OK(MPI_Group_free(&pair));
    }
    MPI_OK(MPI_Group_free(&access_group));
    MPI_OK(MPI_Group_free(&exposure_group));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "sync_modes");
    CHECK(world_size <= 1024, "at most 1024 ranks, got %d", world_size);
    for (int r = 0; r < world_size; r++) all_ranks[r] = r;
    staging = xmalloc(sizeof(int) * SLOT * (size_t)world_size);
    MPI_OK(test_window_allocate((MPI_Aint)sizeof(int) * SLOT * (world_size + 1), sizeof(int), MPI_INFO_NULL,
                            MPI_COMM_WORLD, &window_base, &win));

    fence_modes(10);
    test_phase_done("fence");
    exclusive_and_shared_locks(20);
    test_phase_done("exclusive/shared locks");
    nocheck_locks(30);
    test_phase_done("NOCHECK locks");
    lock_all_flushes(40);
    test_phase_done("lock_all + flushes");
    win_sync_patterns(50);
    test_phase_done("win_sync");
    pscw_modes(60);
    test_phase_done("PSCW");

    MPI_OK(test_window_free(&win));
    free(staging);
    return test_finish();
}
