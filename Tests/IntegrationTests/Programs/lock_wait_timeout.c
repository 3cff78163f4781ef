/*
 * A deadlock on purpose, for the wait timeout: rank 0 holds an exclusive lock on its
 * window and waits for a message that rank 1 sends only after its own exclusive lock
 * on rank 0 was granted. Nothing can progress, with or without a preloaded layer;
 * a layer with a wait timeout must abort the job and name the call and the peer.
 * The other ranks wait in a barrier.
 *
 * Never prints PASS. If the lock did not exclude, the program completes and says so.
 */
#include "common.h"

int main(int argc, char **argv) {
    test_init(&argc, &argv, "lock_wait_timeout");
    CHECK(world_size >= 2, "needs at least 2 ranks");
    int *base = NULL, token = 1, value = 42;
    MPI_Win win;
    MPI_OK(MPI_Win_allocate(window_bytes(sizeof(int)), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    if (world_rank == 0) {
        MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win));
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD)); /* rank 1 tries only once the lock is held */
        MPI_OK(MPI_Recv(&token, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        MPI_OK(MPI_Win_unlock(0, win));
        fprintf(stderr, "FAIL lock_wait_timeout: rank 1 got an exclusive lock that rank 0 held\n");
        MPI_Abort(MPI_COMM_WORLD, 3);
    } else if (world_rank == 1) {
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win));
        MPI_OK(MPI_Put(&value, 1, MPI_INT, 0, 0, 1, MPI_INT, win));
        MPI_OK(MPI_Win_unlock(0, win));
        MPI_OK(MPI_Send(&token, 1, MPI_INT, 0, 0, MPI_COMM_WORLD));
    } else {
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_free(&win));
    MPI_Finalize();
    return 1;
}
