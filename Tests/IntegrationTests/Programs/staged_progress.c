/*
 * Progress of MPI_Win_create windows over private memory while the target is blocked in an MPI
 * call: rank 0 enters the call named by argv[1] right after creating the window, and every other
 * rank locks it, puts, gets, accumulates (MPI_SUM on int, and on long double and double complex,
 * which few implementations apply natively) and unlocks meanwhile. The origins' unlocks must
 * complete while rank 0 is still blocked: in "bcast", "sendrecv" and "waitany" rank 0 is only
 * released by rank 1 after rank 1's unlock; in "free" and "finalize" rank 0 waits in the window's
 * (or the job's) own collective end. Then rank 0 checks its memory.
 *
 * "rget": every rank issues many one-element MPI_Rget to the next rank inside
 * MPI_Win_lock_all(MPI_MODE_NOCHECK), unlocks, and only then waits for the requests.
 */
#include "common.h"
#include <complex.h>

#define RGETS 128

/* With "uncommon-types" as argv[2], the origins also accumulate long double and double complex. */
static int uncommon_types = 0;

struct target_memory {
    int puts[64];
    int sum;
    int fetched_source;
    long double long_sum;
    double complex complex_sum;
};

static void origin_epoch(MPI_Win win) {
    int value = pattern(world_rank, 0, world_rank, 1), one = 1, fetched = 0;
    long double half = 0.5L;
    double complex unit = 1.0 + 2.0 * I;
    MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win));
    MPI_OK(MPI_Put(&value, 1, MPI_INT, 0, offsetof(struct target_memory, puts) + world_rank * sizeof(int), 1, MPI_INT, win));
    MPI_OK(MPI_Accumulate(&one, 1, MPI_INT, 0, offsetof(struct target_memory, sum), 1, MPI_INT, MPI_SUM, win));
    if (uncommon_types) {
    MPI_OK(MPI_Accumulate(&half, 1, MPI_LONG_DOUBLE, 0, offsetof(struct target_memory, long_sum), 1, MPI_LONG_DOUBLE,
                          MPI_SUM, win));
    MPI_OK(MPI_Accumulate(&unit, 1, MPI_C_DOUBLE_COMPLEX, 0, offsetof(struct target_memory, complex_sum), 1,
                          MPI_C_DOUBLE_COMPLEX, MPI_SUM, win));
    }
    MPI_OK(MPI_Get(&fetched, 1, MPI_INT, 0, offsetof(struct target_memory, fetched_source), 1, MPI_INT, win));
    MPI_OK(MPI_Win_unlock(0, win));
    CHECK_EQ_LL(fetched, 4242, "value rank 0 stored before creating the window");
}

static void check_target(const struct target_memory *memory) {
    for (int r = 1; r < world_size; r++) CHECK_EQ_LL(memory->puts[r], pattern(r, 0, r, 1), "an origin's put");
    CHECK_EQ_LL(memory->sum, world_size - 1, "the MPI_SUM of every origin's 1");
    if (!uncommon_types) return;
    CHECK(memory->long_sum == 0.5L * (world_size - 1), "long double MPI_SUM: expected %Lg, found %Lg",
          0.5L * (world_size - 1), memory->long_sum);
    CHECK(creal(memory->complex_sum) == world_size - 1 && cimag(memory->complex_sum) == 2.0 * (world_size - 1),
          "double complex MPI_SUM: expected %d+%di, found %g+%gi", world_size - 1, 2 * (world_size - 1),
          creal(memory->complex_sum), cimag(memory->complex_sum));
}

/* The target blocks in `call` until rank 1 finished its epoch (the other origins' epochs are
 * complete once everyone is past the barrier after it). */
static void blocked_target(const char *call) {
    struct target_memory *memory = calloc(1, sizeof *memory);
    CHECK(memory != NULL, "calloc failed");
    memory->fetched_source = 4242;
    MPI_Win win;
    MPI_OK(MPI_Win_create(memory, sizeof *memory, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &win));
    if (world_rank != 0) origin_epoch(win);

    int token = world_rank == 1 ? 7 : 0, received = -1;
    if (strcmp(call, "bcast") == 0) {
        MPI_OK(MPI_Bcast(&token, 1, MPI_INT, 1, MPI_COMM_WORLD));
        CHECK_EQ_LL(token, 7, "broadcast token");
    } else if (strcmp(call, "sendrecv") == 0) {
        if (world_rank == 0) {
            MPI_OK(MPI_Sendrecv(&token, 1, MPI_INT, 1, 3, &received, 1, MPI_INT, 1, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
            CHECK_EQ_LL(received, 7, "token from rank 1");
        } else if (world_rank == 1) {
            MPI_OK(MPI_Sendrecv(&token, 1, MPI_INT, 0, 3, &received, 1, MPI_INT, 0, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        }
    } else if (strcmp(call, "waitany") == 0) {
        if (world_rank == 0) {
            MPI_Request requests[2];
            int index = -1;
            MPI_OK(MPI_Irecv(&received, 1, MPI_INT, 1, 4, MPI_COMM_WORLD, &requests[0]));
            MPI_OK(MPI_Irecv(&token, 1, MPI_INT, 1, 5, MPI_COMM_WORLD, &requests[1]));
            MPI_OK(MPI_Waitany(2, requests, &index, MPI_STATUS_IGNORE));
            CHECK_EQ_LL(index, 0, "the request rank 1 completed");
            CHECK_EQ_LL(received, 7, "token from rank 1");
            MPI_OK(MPI_Cancel(&requests[1]));
            MPI_OK(MPI_Wait(&requests[1], MPI_STATUS_IGNORE));
        } else if (world_rank == 1) {
            MPI_OK(MPI_Send(&token, 1, MPI_INT, 0, 4, MPI_COMM_WORLD));
        }
    }
    int finalizing = strcmp(call, "finalize") == 0;
    if (strcmp(call, "free") == 0 || finalizing) {
        /* The target's first call after creating the window ends it (or the job). */
        if (world_rank == 0 && finalizing) {
            MPI_Finalize();
            check_target(memory);
            printf("PASS staged_progress\n");
            return;
        }
        if (!finalizing) MPI_OK(MPI_Win_free(&win));
        if (world_rank == 0) check_target(memory);
        if (finalizing) {
            MPI_Finalize();
            return;
        }
    } else {
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        if (world_rank == 0) check_target(memory);
        MPI_OK(MPI_Win_free(&win));
    }
    free(memory);
    test_finish();
}

static void many_rgets(void) {
    int *memory = calloc(RGETS, sizeof(int));
    CHECK(memory != NULL, "calloc failed");
    for (int i = 0; i < RGETS; i++) memory[i] = pattern(world_rank, world_rank, i, 2);
    MPI_Win win;
    MPI_OK(MPI_Win_create(memory, RGETS * sizeof(int), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &win));
    int right = right_of(world_rank, world_size), fetched[RGETS], expected[RGETS];
    MPI_Request requests[RGETS];
    MPI_OK(MPI_Win_lock_all(MPI_MODE_NOCHECK, win));
    for (int i = 0; i < RGETS; i++) {
        fetched[i] = -1;
        expected[i] = pattern(right, right, i, 2);
        MPI_OK(MPI_Rget(&fetched[i], 1, MPI_INT, right, i, 1, MPI_INT, win, &requests[i]));
    }
    MPI_OK(MPI_Win_unlock_all(win));
    MPI_Status statuses[RGETS];
    MPI_OK(MPI_Waitall(RGETS, requests, statuses));
    CHECK_INTS(fetched, expected, RGETS, "MPI_Rget from the next rank");
    MPI_OK(MPI_Win_free(&win));
    free(memory);
    test_finish();
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "staged_progress");
    CHECK(world_size >= 2 && world_size <= 64, "needs 2 to 64 ranks");
    CHECK(argc == 2 || (argc == 3 && strcmp(argv[2], "uncommon-types") == 0),
          "usage: staged_progress free|finalize|bcast|sendrecv|waitany|rget [uncommon-types]");
    uncommon_types = argc == 3;
    if (strcmp(argv[1], "rget") == 0) many_rgets();
    else blocked_target(argv[1]);
    return 0;
}
