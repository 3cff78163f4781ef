/*
 * Out-of-range target displacements under MPI_ERRORS_RETURN and under a custom
 * window error handler: every such call must fail with error class
 * MPI_ERR_RMA_RANGE, write nothing (neither the target window nor, for fetching
 * calls, the origin buffers), and leave the epoch usable.
 *
 * MPI leaves range checking to the implementation and MPICH 4.0.2 does none (the
 * bytes land out of bounds), so the erroneous calls only run when asked:
 *   range_errors --expect-range-errors
 * Without the flag the program still checks the in-range edge cases, the error
 * handler plumbing, and that the window bytes are exactly what the legal calls wrote.
 */
#include "common.h"

enum { WINDOW_INTS = 64, SENTINEL = 0x5EED, ORIGIN_SENTINEL = -99 };

static MPI_Win win, zero_win;
static int *window_base;
static int expect_range_errors;

static int handler_calls, handler_last_class;

static void recording_handler(MPI_Win *w, int *code, ...) {
    (void)w;
    handler_calls++;
    MPI_Error_class(*code, &handler_last_class);
}

static void check_range_error(int rc, const char *what) {
    int cls = MPI_SUCCESS;
    if (rc != MPI_SUCCESS) MPI_Error_class(rc, &cls);
    CHECK(cls == MPI_ERR_RMA_RANGE, "%s: expected error class MPI_ERR_RMA_RANGE (%d), got return code %d, class %d",
          what, MPI_ERR_RMA_RANGE, rc, cls);
}

static void check_origin_untouched(const int *buf, int n, const char *what) {
    for (int i = 0; i < n; i++)
        CHECK(buf[i] == ORIGIN_SENTINEL, "%s wrote the origin buffer: element %d is %d", what, i, buf[i]);
}

/* Every call here addresses at least one element outside the target's window. */
static void out_of_range_calls(int target) {
    int values[8] = {1, 2, 3, 4, 5, 6, 7, 8}, fetched[8], compare = 0;
    MPI_Request request = MPI_REQUEST_NULL;
    MPI_Datatype spread; /* ints 0, 30, 60 past the displacement */
    MPI_OK(MPI_Type_vector(3, 1, 30, MPI_INT, &spread));
    MPI_OK(MPI_Type_commit(&spread));

    check_range_error(MPI_Put(values, 4, MPI_INT, target, WINDOW_INTS - 3, 4, MPI_INT, win), "put across the end");
    check_range_error(MPI_Put(values, 1, MPI_INT, target, WINDOW_INTS, 1, MPI_INT, win), "put one past the end");
    check_range_error(MPI_Put(values, 1, MPI_INT, target, 1 << 20, 1, MPI_INT, win), "put far past the end");
    check_range_error(MPI_Put(values, 1, MPI_INT, target, -1, 1, MPI_INT, win), "put at displacement -1");
    check_range_error(MPI_Put(values, 3, MPI_INT, target, 10, 1, spread, win), "put through a vector reaching past the end");

    for (int i = 0; i < 8; i++) fetched[i] = ORIGIN_SENTINEL;
    check_range_error(MPI_Get(fetched, 2, MPI_INT, target, WINDOW_INTS - 1, 2, MPI_INT, win), "get across the end");
    check_range_error(MPI_Accumulate(values, 2, MPI_INT, target, WINDOW_INTS - 1, 2, MPI_INT, MPI_SUM, win),
                      "accumulate across the end");
    check_range_error(MPI_Get_accumulate(values, 1, MPI_INT, fetched, 1, MPI_INT, target, WINDOW_INTS, 1, MPI_INT,
                                         MPI_SUM, win),
                      "get_accumulate past the end");
    check_range_error(MPI_Fetch_and_op(values, fetched, MPI_INT, target, WINDOW_INTS, MPI_SUM, win),
                      "fetch_and_op past the end");
    check_range_error(MPI_Compare_and_swap(values, &compare, fetched, MPI_INT, target, WINDOW_INTS, win),
                      "compare_and_swap past the end");
    check_range_error(MPI_Rget(fetched, 1, MPI_INT, target, 100, 1, MPI_INT, win, &request), "rget past the end");
    if (request != MPI_REQUEST_NULL) MPI_OK(MPI_Wait(&request, MPI_STATUS_IGNORE));
    check_origin_untouched(fetched, 8, "a failed fetching call");
    check_range_error(MPI_Rput(values, 1, MPI_INT, target, WINDOW_INTS, 1, MPI_INT, win, &request), "rput past the end");
    if (request != MPI_REQUEST_NULL) MPI_OK(MPI_Wait(&request, MPI_STATUS_IGNORE));
    MPI_OK(MPI_Type_free(&spread));
}

/* Legal calls right at the edges of the right neighbour's window (see check_window). */
static void in_range_calls(int target) {
    int tail[4], head = 1, fetched[4];
    for (int i = 0; i < 4; i++) tail[i] = pattern(world_rank, target, i, 1);
    MPI_OK(MPI_Put(tail, 4, MPI_INT, target, WINDOW_INTS - 4, 4, MPI_INT, win));
    MPI_OK(MPI_Accumulate(&head, 1, MPI_INT, target, 0, 1, MPI_INT, MPI_SUM, win));
    MPI_OK(MPI_Win_flush(target, win));
    MPI_OK(MPI_Get(fetched, 4, MPI_INT, target, WINDOW_INTS - 4, 4, MPI_INT, win));
    MPI_OK(MPI_Win_flush(target, win));
    CHECK_INTS(fetched, tail, 4, "get of the last four ints");
    /* Zero elements at the very end is not out of range. */
    MPI_OK(MPI_Put(tail, 0, MPI_INT, target, WINDOW_INTS, 0, MPI_INT, win));
}

/* The local window holds the sentinel, plus the left neighbour's legal writes. */
static void check_window(const char *when) {
    int origin = left_of(world_rank, world_size);
    int expected[WINDOW_INTS];
    for (int i = 0; i < WINDOW_INTS; i++) expected[i] = SENTINEL;
    expected[0] = SENTINEL + 1;
    for (int i = 0; i < 4; i++) expected[WINDOW_INTS - 4 + i] = pattern(origin, world_rank, i, 1);
    char label[96];
    snprintf(label, sizeof label, "window after legal and illegal calls (%s)", when);
    MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, world_rank, 0, win));
    CHECK_INTS(window_base, expected, WINDOW_INTS, label);
    MPI_OK(MPI_Win_unlock(world_rank, win));
}

static void reset_window(void) {
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, world_rank, 0, win));
    for (int i = 0; i < WINDOW_INTS; i++) window_base[i] = SENTINEL;
    MPI_OK(MPI_Win_unlock(world_rank, win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "range_errors");
    for (int i = 1; i < argc; i++) expect_range_errors |= strcmp(argv[i], "--expect-range-errors") == 0;
    if (!expect_range_errors && world_rank == 0)
        printf("range_errors: out-of-range calls skipped (pass --expect-range-errors to run them)\n");

    MPI_OK(MPI_Win_allocate(WINDOW_INTS * sizeof(int), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &window_base, &win));
    MPI_OK(MPI_Win_set_errhandler(win, MPI_ERRORS_RETURN));
    int target = right_of(world_rank, world_size);

    /* Passive target: the failed calls leave the lock_all epoch usable. */
    reset_window();
    MPI_OK(MPI_Win_lock_all(0, win));
    if (expect_range_errors) out_of_range_calls(target);
    in_range_calls(target);
    MPI_OK(MPI_Win_unlock_all(win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    check_window("lock_all epoch");
    test_phase_done("MPI_ERRORS_RETURN under lock_all");

    /* Active target: the same inside a fence epoch. */
    reset_window();
    MPI_OK(MPI_Win_fence(0, win));
    if (expect_range_errors) {
        int value = 7;
        check_range_error(MPI_Put(&value, 1, MPI_INT, target, WINDOW_INTS, 1, MPI_INT, win), "put past the end in a fence epoch");
    }
    int tail[4], head = 1;
    for (int i = 0; i < 4; i++) tail[i] = pattern(world_rank, target, i, 1);
    MPI_OK(MPI_Put(tail, 4, MPI_INT, target, WINDOW_INTS - 4, 4, MPI_INT, win));
    MPI_OK(MPI_Accumulate(&head, 1, MPI_INT, target, 0, 1, MPI_INT, MPI_SUM, win));
    MPI_OK(MPI_Win_fence(MPI_MODE_NOSUCCEED, win));
    check_window("fence epoch");
    test_phase_done("MPI_ERRORS_RETURN under fence");

    /* A custom handler is called with the error, then the call returns it. */
    MPI_Errhandler handler;
    MPI_OK(MPI_Win_create_errhandler(recording_handler, &handler));
    MPI_OK(MPI_Win_set_errhandler(win, handler));
    MPI_Errhandler current;
    MPI_OK(MPI_Win_get_errhandler(win, &current));
    MPI_OK(MPI_Errhandler_free(&current));
    MPI_OK(MPI_Win_call_errhandler(win, MPI_ERR_RMA_RANGE));
    CHECK(handler_calls == 1 && handler_last_class == MPI_ERR_RMA_RANGE,
          "MPI_Win_call_errhandler: handler ran %d times, last class %d", handler_calls, handler_last_class);
    if (expect_range_errors) {
        int value = 7;
        MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, target, 0, win));
        check_range_error(MPI_Put(&value, 1, MPI_INT, target, WINDOW_INTS + 5, 1, MPI_INT, win),
                          "put past the end with a custom handler");
        MPI_OK(MPI_Win_unlock(target, win));
        CHECK(handler_calls == 2 && handler_last_class == MPI_ERR_RMA_RANGE,
              "custom window error handler: ran %d times (expected 2), last class %d", handler_calls - 1,
              handler_last_class);
    }
    MPI_OK(MPI_Win_set_errhandler(win, MPI_ERRORS_RETURN));
    MPI_OK(MPI_Errhandler_free(&handler));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    check_window("custom handler");
    test_phase_done("custom error handler");

    /* Odd ranks expose nothing: any element there is out of range. */
    int *zero_base = NULL;
    MPI_Aint zero_size = world_rank % 2 ? 0 : (MPI_Aint)sizeof(int) * 4;
    MPI_OK(MPI_Win_allocate(zero_size, sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &zero_base, &zero_win));
    MPI_OK(MPI_Win_set_errhandler(zero_win, MPI_ERRORS_RETURN));
    MPI_OK(MPI_Win_lock_all(0, zero_win));
    int odd_target = world_size > 1 ? 1 : 0, value = 3;
    if (expect_range_errors && odd_target == 1)
        check_range_error(MPI_Put(&value, 1, MPI_INT, odd_target, 0, 1, MPI_INT, zero_win), "put into a zero-size window");
    MPI_OK(MPI_Put(&value, 0, MPI_INT, odd_target, 0, 0, MPI_INT, zero_win));
    MPI_OK(MPI_Win_unlock_all(zero_win));
    MPI_OK(MPI_Win_free(&zero_win));
    test_phase_done("zero-size window");

    MPI_OK(MPI_Win_free(&win));
    return test_finish();
}
