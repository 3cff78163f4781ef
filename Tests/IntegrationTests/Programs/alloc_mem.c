/*
 * MPI_Alloc_mem and MPI_Free_mem: blocks of 1 B, 4097 B, 1 MiB and 16 MiB (each
 * starting with a tag naming its rank and index, then a byte pattern), size 0,
 * frees in an order other than allocation, reuse after free, an MPI_Win_create window
 * over MPI_Alloc_mem memory (fence put and get, lock_all accumulate), and one block
 * left for MPI_Finalize to reclaim.
 */
#include "common.h"

enum { BLOCKS = 4, WINDOW_INTS = 256 };
static const MPI_Aint block_bytes[BLOCKS] = {1, 4097, 1 << 20, 16 << 20};

/* "alloc_mem tag r=R i=I." (the region test looks for these bytes), then a pattern. */
static void fill(unsigned char *block, MPI_Aint bytes, int index) {
    char tag[40];
    int length = snprintf(tag, sizeof tag, "alloc_mem tag r=%d i=%d.", world_rank, index);
    for (MPI_Aint i = 0; i < bytes; i++)
        block[i] = i < length ? (unsigned char)tag[i] : (unsigned char)(i * 7 + world_rank * 13 + index);
}

static void check(const unsigned char *block, MPI_Aint bytes, int index) {
    unsigned char *expected = xmalloc(bytes);
    fill(expected, bytes, index);
    char label[64];
    snprintf(label, sizeof label, "contents of MPI_Alloc_mem block %d (%td bytes)", index, (ptrdiff_t)bytes);
    CHECK_BYTES(block, expected, bytes, label);
    free(expected);
}

static void window_over_alloc_mem(void) {
    int *memory = NULL;
    MPI_OK(MPI_Alloc_mem(sizeof(int) * WINDOW_INTS, MPI_INFO_NULL, &memory));
    memset(memory, 0, sizeof(int) * WINDOW_INTS);
    MPI_Win win;
    MPI_OK(MPI_Win_create(memory, sizeof(int) * WINDOW_INTS, sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &win));
    int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    int values[WINDOW_INTS / 2], expected[WINDOW_INTS / 2], fetched[WINDOW_INTS / 2], one = 1;
    for (int i = 0; i < WINDOW_INTS / 2; i++) values[i] = pattern(world_rank, right, i, 1);

    MPI_OK(MPI_Win_fence(0, win));
    MPI_OK(MPI_Put(values, WINDOW_INTS / 2, MPI_INT, right, 0, WINDOW_INTS / 2, MPI_INT, win));
    MPI_OK(MPI_Win_fence(0, win));
    for (int i = 0; i < WINDOW_INTS / 2; i++) expected[i] = pattern(left, world_rank, i, 1);
    CHECK_INTS(memory, expected, WINDOW_INTS / 2, "MPI_Win_create over MPI_Alloc_mem: fence put");
    MPI_OK(MPI_Get(fetched, WINDOW_INTS / 2, MPI_INT, right, 0, WINDOW_INTS / 2, MPI_INT, win));
    MPI_OK(MPI_Win_fence(0, win));
    CHECK_INTS(fetched, values, WINDOW_INTS / 2, "MPI_Win_create over MPI_Alloc_mem: fence get");

    MPI_OK(MPI_Win_lock_all(0, win));
    for (int target = 0; target < world_size; target++)
        MPI_OK(MPI_Accumulate(&one, 1, MPI_INT, target, WINDOW_INTS - 1, 1, MPI_INT, MPI_SUM, win));
    MPI_OK(MPI_Win_unlock_all(win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, world_rank, 0, win));
    CHECK_EQ_LL(memory[WINDOW_INTS - 1], world_size, "MPI_Win_create over MPI_Alloc_mem: ones accumulated by every rank");
    MPI_OK(MPI_Win_unlock(world_rank, win));
    MPI_OK(MPI_Win_free(&win));
    MPI_OK(MPI_Free_mem(memory));
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "alloc_mem");

    unsigned char *blocks[BLOCKS];
    for (int i = 0; i < BLOCKS; i++) {
        MPI_OK(MPI_Alloc_mem(block_bytes[i], MPI_INFO_NULL, &blocks[i]));
        CHECK(blocks[i] != NULL, "MPI_Alloc_mem(%td) gave NULL", (ptrdiff_t)block_bytes[i]);
        fill(blocks[i], block_bytes[i], i);
    }
    void *empty = NULL;
    MPI_OK(MPI_Alloc_mem(0, MPI_INFO_NULL, &empty));
    MPI_OK(MPI_Free_mem(empty));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD)); /* every rank wrote its blocks: none may overlap another's */
    for (int i = 0; i < BLOCKS; i++) check(blocks[i], block_bytes[i], i);
    test_phase_done("allocate");

    /* Free the middle ones, allocate them again, and check that the others kept their bytes. */
    MPI_OK(MPI_Free_mem(blocks[2]));
    MPI_OK(MPI_Free_mem(blocks[1]));
    for (int i = 1; i <= 2; i++) {
        MPI_OK(MPI_Alloc_mem(block_bytes[i], MPI_INFO_NULL, &blocks[i]));
        fill(blocks[i], block_bytes[i], i);
    }
    for (int i = 0; i < BLOCKS; i++) check(blocks[i], block_bytes[i], i);
    test_phase_done("free and reuse");

    window_over_alloc_mem();
    test_phase_done("MPI_Win_create over MPI_Alloc_mem");

    for (int i = 0; i < BLOCKS - 1; i++) MPI_OK(MPI_Free_mem(blocks[i]));
    /* blocks[BLOCKS - 1] stays allocated: MPI_Finalize gives it back. */
    return test_finish();
}
