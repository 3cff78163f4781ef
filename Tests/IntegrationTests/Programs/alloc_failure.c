/*
 * MPI_Win_allocate where one member cannot get its memory (the last rank asks for more than
 * the address space holds): every member must return an MPI_ERR_NO_MEM error through the
 * communicator's error handler, none may wait in the collective creation for the others, and
 * the job goes on to make and use a window normally. Plain MPICH 4.0.2 hangs here (its
 * MPI_Alloc_mem reports success for such sizes), so only the library runs this program.
 */
#include "common.h"

static int handler_calls = 0;
static int handler_class = MPI_SUCCESS;

static void record_error(MPI_Comm *comm, int *code, ...) {
    (void)comm;
    handler_calls++;
    MPI_Error_class(*code, &handler_class);
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "alloc_failure");
    MPI_Errhandler handler;
    MPI_OK(MPI_Comm_create_errhandler(record_error, &handler));
    MPI_OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, handler));

    const MPI_Aint size = world_rank == world_size - 1 ? (MPI_Aint)1 << 50 : 4096;
    int *base = NULL;
    MPI_Win win = MPI_WIN_NULL;
    const int code = MPI_Win_allocate(size, sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win);
    int class = MPI_SUCCESS;
    MPI_Error_class(code, &class);
    CHECK_EQ_LL(class, MPI_ERR_NO_MEM, "error class MPI_Win_allocate returned");
    CHECK_EQ_LL(handler_calls, 1, "calls of the communicator's error handler");
    CHECK_EQ_LL(handler_class, MPI_ERR_NO_MEM, "error class the error handler saw");
    test_phase_done("every member returned MPI_ERR_NO_MEM");

    enum { ELEMENTS = 64 };
    MPI_OK(MPI_Win_allocate(ELEMENTS * sizeof(int), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win));
    int source[ELEMENTS], expected[ELEMENTS];
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    for (int i = 0; i < ELEMENTS; i++) source[i] = pattern(world_rank, right, i, 1);
    MPI_OK(MPI_Win_fence(0, win));
    MPI_OK(MPI_Put(source, ELEMENTS, MPI_INT, right, 0, ELEMENTS, MPI_INT, win));
    MPI_OK(MPI_Win_fence(0, win));
    for (int i = 0; i < ELEMENTS; i++) expected[i] = pattern(left, world_rank, i, 1);
    CHECK_INTS(base, expected, ELEMENTS, "window after the failed one: put from the left neighbour");
    MPI_OK(MPI_Win_free(&win));
    CHECK_EQ_LL(handler_calls, 1, "calls of the error handler after the failure");
    MPI_OK(MPI_Errhandler_free(&handler));
    test_phase_done("the next window is made and served");
    return test_finish();
}
