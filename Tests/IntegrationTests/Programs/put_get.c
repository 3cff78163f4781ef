/*
 * Contiguous MPI_Put / MPI_Get / MPI_Rput / MPI_Rget from every rank to every
 * rank (itself included) on one MPI_Win_allocate window, for sizes from one
 * byte to 1 MiB at unaligned offsets, inside one lock_all epoch.
 *
 * Window of every rank: one slot per origin; origin o only touches slot o, at
 * byte offset `offset` inside it. Bytes around the written range must keep
 * their sentinel value (no over- or under-run).
 */
#include "common.h"

enum { SLOT_BYTES = (1 << 20) + 64, SENTINEL = 0xEE };

static MPI_Win win;
static unsigned char *window_base;

static unsigned char byte_value(int origin, int target, size_t i, int round) {
    return (unsigned char)((origin * 31 + target * 7 + (int)(i % 251) * 13 + round * 5) & 0xff);
}

static unsigned char *slot_of(int origin) { return window_base + (size_t)origin * SLOT_BYTES; }

/* Clears the local window to the sentinel once every rank is done reading the previous
 * round; nobody writes into it until all ranks cleared theirs. */
static void reset_window(void) {
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    memset(window_base, SENTINEL, (size_t)world_size * SLOT_BYTES);
    MPI_OK(MPI_Win_sync(win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
}

/* After every origin flushed: slot o holds origin o's bytes at [offset, offset+len). */
static void check_window(size_t len, size_t offset, int round, const char *what) {
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_sync(win));
    unsigned char *expected = xmalloc(SLOT_BYTES);
    for (int origin = 0; origin < world_size; origin++) {
        memset(expected, SENTINEL, SLOT_BYTES);
        for (size_t i = 0; i < len; i++) expected[offset + i] = byte_value(origin, world_rank, i, round);
        char label[160];
        snprintf(label, sizeof label, "%s len=%zu offset=%zu: slot of origin %d", what, len, offset, origin);
        CHECK_BYTES(slot_of(origin), expected, SLOT_BYTES, label);
    }
    free(expected);
}

static void fill_origin(unsigned char *buf, int target, size_t len, int round) {
    for (size_t i = 0; i < len; i++) buf[i] = byte_value(world_rank, target, i, round);
}

/* MPI_Put + MPI_Win_flush_all, then MPI_Get back into a fresh buffer. */
static void blocking_round(size_t len, size_t offset, int round) {
    reset_window();
    unsigned char *origin = xmalloc(len);
    for (int step = 0; step < world_size; step++) {
        int target = (world_rank + step) % world_size; /* spread the load over targets */
        fill_origin(origin, target, len, round);
        MPI_OK(MPI_Put(origin, (int)len, MPI_BYTE, target, (MPI_Aint)((size_t)world_rank * SLOT_BYTES + offset),
                       (int)len, MPI_BYTE, win));
        /* The origin buffer is reused right away: flush makes that legal. */
        MPI_OK(MPI_Win_flush(target, win));
    }
    check_window(len, offset, round, "MPI_Put");

    unsigned char *fetched = xmalloc(len + 2);
    for (int target = 0; target < world_size; target++) {
        fetched[0] = fetched[len + 1] = SENTINEL;
        MPI_OK(MPI_Get(fetched + 1, (int)len, MPI_BYTE, target, (MPI_Aint)((size_t)world_rank * SLOT_BYTES + offset),
                       (int)len, MPI_BYTE, win));
        MPI_OK(MPI_Win_flush_local(target, win));
        fill_origin(origin, target, len, round);
        char label[128];
        snprintf(label, sizeof label, "MPI_Get len=%zu offset=%zu from target %d", len, offset, target);
        CHECK_BYTES(fetched + 1, origin, len, label);
        CHECK(fetched[0] == SENTINEL && fetched[len + 1] == SENTINEL,
              "%s: get wrote outside the origin buffer", label);
    }
    free(fetched);
    free(origin);
}

/* MPI_Rput to all targets at once, MPI_Waitall, clobber the buffers (legal after local
 * completion), flush_all; then MPI_Rget from all, completed by MPI_Test polling. */
static void request_round(size_t len, size_t offset, int round) {
    reset_window();
    unsigned char **origins = xmalloc(sizeof(unsigned char *) * world_size);
    MPI_Request *requests = xmalloc(sizeof(MPI_Request) * world_size);
    for (int target = 0; target < world_size; target++) {
        origins[target] = xmalloc(len);
        fill_origin(origins[target], target, len, round);
        MPI_OK(MPI_Rput(origins[target], (int)len, MPI_BYTE, target,
                        (MPI_Aint)((size_t)world_rank * SLOT_BYTES + offset), (int)len, MPI_BYTE, win,
                        &requests[target]));
    }
    for (int target = 0; target < world_size; target++) MPI_OK(MPI_Wait(&requests[target], MPI_STATUS_IGNORE));
    for (int target = 0; target < world_size; target++) memset(origins[target], 0x5A, len);
    MPI_OK(MPI_Win_flush_all(win));
    check_window(len, offset, round, "MPI_Rput");

    for (int target = 0; target < world_size; target++) {
        memset(origins[target], SENTINEL, len);
        MPI_OK(MPI_Rget(origins[target], (int)len, MPI_BYTE, target,
                        (MPI_Aint)((size_t)world_rank * SLOT_BYTES + offset), (int)len, MPI_BYTE, win,
                        &requests[target]));
    }
    for (int target = 0; target < world_size; target++) {
        for (int done = 0; !done;) MPI_OK(MPI_Test(&requests[target], &done, MPI_STATUS_IGNORE));
    }
    unsigned char *expected = xmalloc(len);
    for (int target = 0; target < world_size; target++) {
        fill_origin(expected, target, len, round);
        char label[128];
        snprintf(label, sizeof label, "MPI_Rget len=%zu offset=%zu from target %d", len, offset, target);
        CHECK_BYTES(origins[target], expected, len, label);
        free(origins[target]);
    }
    free(expected);
    free(requests);
    free(origins);
}

/* MPI_INT transfers; disp_unit is 1, so the target displacement stays in bytes. */
static void int_round(int round) {
    enum { COUNT = 1000 };
    reset_window();
    /* One origin buffer per target: a buffer may not be reused before the flush completes its put
     * (MPICH 5's UCX netmod still reads it after MPI_Put returns). */
    int *values = xmalloc((size_t)world_size * COUNT * sizeof(int));
    for (int target = 0; target < world_size; target++) {
        int *to_target = values + (size_t)target * COUNT;
        for (int i = 0; i < COUNT; i++) to_target[i] = pattern(world_rank, target, i, round);
        MPI_OK(MPI_Put(to_target, COUNT, MPI_INT, target, (MPI_Aint)((size_t)world_rank * SLOT_BYTES + 16), COUNT,
                       MPI_INT, win));
    }
    MPI_OK(MPI_Win_flush_all(win));
    free(values);
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_sync(win));
    for (int origin = 0; origin < world_size; origin++) {
        int expected[COUNT], found[COUNT];
        for (int i = 0; i < COUNT; i++) expected[i] = pattern(origin, world_rank, i, round);
        memcpy(found, slot_of(origin) + 16, sizeof found);
        CHECK_INTS(found, expected, COUNT, "MPI_Put of MPI_INT");
    }
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "put_get");
    MPI_OK(test_window_allocate((MPI_Aint)world_size * SLOT_BYTES, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &window_base, &win));
    MPI_OK(MPI_Win_lock_all(0, win));

    static const size_t lengths[] = {1, 7, 8, 64, 1000, 4096, 65536 + 3, 1 << 20};
    int round = 1;
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        size_t len = lengths[k];
        size_t offset = len < (1 << 20) ? 3 : 0; /* unaligned where the slot leaves room */
        blocking_round(len, offset, round++);
        request_round(len, offset + (len < (1 << 20) ? 2 : 0), round++);
    }
    test_phase_done("bytes");
    int_round(round++);
    test_phase_done("ints");

    /* Zero-count operations are legal no-ops. */
    MPI_OK(MPI_Put(window_base, 0, MPI_BYTE, right_of(world_rank, world_size), 0, 0, MPI_BYTE, win));
    MPI_OK(MPI_Get(window_base, 0, MPI_BYTE, right_of(world_rank, world_size), 0, 0, MPI_BYTE, win));

    MPI_OK(MPI_Win_unlock_all(win));
    MPI_OK(test_window_free(&win));
    return test_finish();
}
