/*
 * ARMCI-MPI (Debian's libarmci-mpi-dev, the one-sided runtime under Global Arrays and NWChem),
 * used as its applications use it: ARMCI_Malloc'd global memory, contiguous, strided and vector
 * puts, gets and accumulates to the right neighbour, and fetch-and-add on rank 0. ARMCI-MPI
 * turns these into MPI_Win_create windows over MPI_Alloc_mem memory, lock/unlock epochs and
 * (ARMCI_IOV_METHOD / ARMCI_STRIDED_METHOD=DIRECT) MPI_BOTTOM datatypes of absolute addresses.
 * Every byte is checked where it lands.
 */
#include "../common.h"
#include <armci.h>

enum { ROWS = 16, COLS = 24, ELEMENTS = ROWS * COLS, ROUNDS = 5 };

/* Layout of every rank's ARMCI_Malloc'd block, in ints. */
enum { CONTIGUOUS = 0, STRIDED = ELEMENTS, VECTOR = 2 * ELEMENTS, ACCUMULATED = 3 * ELEMENTS,
       COUNTER = 4 * ELEMENTS, TOTAL = 4 * ELEMENTS + 16 };

int main(int argc, char **argv) {
    test_init(&argc, &argv, "armci_ops");
    CHECK(ARMCI_Init() == 0, "ARMCI_Init failed");
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    void **bases = xmalloc(world_size * sizeof(void *));
    CHECK(ARMCI_Malloc(bases, TOTAL * sizeof(int)) == 0, "ARMCI_Malloc failed");
    int *mine = bases[world_rank], *remote = bases[right];
    memset(mine, 0, TOTAL * sizeof(int));
    ARMCI_Barrier();

    int source[ELEMENTS], back[ELEMENTS], expected[ELEMENTS];
    for (int round = 1; round <= ROUNDS; round++) {
        for (int i = 0; i < ELEMENTS; i++) source[i] = pattern(world_rank, right, i, round);

        /* Contiguous put and get. */
        CHECK(ARMCI_Put(source, remote + CONTIGUOUS, ELEMENTS * sizeof(int), right) == 0, "ARMCI_Put failed");
        ARMCI_Fence(right);
        memset(back, 0, sizeof back);
        CHECK(ARMCI_Get(remote + CONTIGUOUS, back, ELEMENTS * sizeof(int), right) == 0, "ARMCI_Get failed");
        CHECK_INTS(back, source, ELEMENTS, "ARMCI_Get after ARMCI_Put");

        /* Strided: every other column of a ROWS x COLS block, into the same columns remotely. */
        int stride[1] = {COLS * (int)sizeof(int)}, count[2] = {(COLS / 2) * (int)sizeof(int), ROWS};
        CHECK(ARMCI_PutS(source, stride, remote + STRIDED, stride, count, 1, right) == 0, "ARMCI_PutS failed");
        ARMCI_Fence(right);
        memset(back, 0, sizeof back);
        CHECK(ARMCI_GetS(remote + STRIDED, stride, back, stride, count, 1, right) == 0, "ARMCI_GetS failed");
        for (int r = 0; r < ROWS; r++)
            for (int c = 0; c < COLS; c++) expected[r * COLS + c] = c < COLS / 2 ? source[r * COLS + c] : 0;
        CHECK_INTS(back, expected, ELEMENTS, "ARMCI_GetS after ARMCI_PutS");

        /* Vector: ROWS segments of 3 ints each, scattered (row r to row ROWS-1-r). */
        void *sources[ROWS], *targets[ROWS], *gets[ROWS], *gotten[ROWS];
        for (int r = 0; r < ROWS; r++) {
            sources[r] = source + r * COLS;
            targets[r] = remote + VECTOR + (ROWS - 1 - r) * COLS + 5;
            gets[r] = targets[r];
            gotten[r] = back + r * COLS;
        }
        armci_giov_t put = {sources, targets, 3 * sizeof(int), ROWS}, get = {gets, gotten, 3 * sizeof(int), ROWS};
        CHECK(ARMCI_PutV(&put, 1, right) == 0, "ARMCI_PutV failed");
        ARMCI_Fence(right);
        memset(back, 0, sizeof back);
        CHECK(ARMCI_GetV(&get, 1, right) == 0, "ARMCI_GetV failed");
        memset(expected, 0, sizeof expected);
        for (int r = 0; r < ROWS; r++) memcpy(expected + r * COLS, source + r * COLS, 3 * sizeof(int));
        CHECK_INTS(back, expected, ELEMENTS, "ARMCI_GetV after ARMCI_PutV");

        /* Accumulate: ACCUMULATED += 2 * source, contiguous. */
        int scale = 2;
        CHECK(ARMCI_Acc(ARMCI_ACC_INT, &scale, source, remote + ACCUMULATED, ELEMENTS * sizeof(int), right) == 0,
              "ARMCI_Acc failed");
        ARMCI_Fence(right);

        /* Fetch-and-add on rank 0's counter. */
        int old = -1;
        CHECK(ARMCI_Rmw(ARMCI_FETCH_AND_ADD, &old, (int *)bases[0] + COUNTER, 1, 0) == 0, "ARMCI_Rmw failed");
        CHECK(old >= 0 && old < world_size * ROUNDS, "ARMCI_Rmw fetched %d", old);
    }
    ARMCI_Barrier();

    /* What the left neighbour left here. */
    for (int i = 0; i < ELEMENTS; i++) expected[i] = pattern(left, world_rank, i, ROUNDS);
    CHECK_INTS(mine + CONTIGUOUS, expected, ELEMENTS, "contiguous block after the last round");
    int sum[ELEMENTS];
    for (int i = 0; i < ELEMENTS; i++) {
        sum[i] = 0;
        for (int round = 1; round <= ROUNDS; round++) sum[i] += 2 * pattern(left, world_rank, i, round);
    }
    CHECK_INTS(mine + ACCUMULATED, sum, ELEMENTS, "accumulated block");
    if (world_rank == 0) CHECK_EQ_LL(mine[COUNTER], world_size * ROUNDS, "fetch-and-add counter");

    ARMCI_Barrier();
    CHECK(ARMCI_Free(mine) == 0, "ARMCI_Free failed");
    free(bases);
    ARMCI_Finalize();
    return test_finish();
}
