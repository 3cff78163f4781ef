/*
 * A window spanning two servers (2+2 ranks on two regions): the MPI library grants its locks
 * and access epochs, and MPI lets MPI_Win_lock and MPI_Win_start return before the grant (MPICH
 * ch3, MVAPICH2 and Intel MPI acquire lazily). A put to a co-resident target must still land
 * only once the target's own epoch is over: here the target holds an exclusive lock (or has not
 * posted yet) for 300 ms and overwrites its memory just before it lets the origin in, so a put
 * copied through the region too early would be overwritten and lost.
 *
 * Pairs: target t = rank & ~1 and origin t + 1, both on one region. Then a fence epoch where each
 * rank puts to rank + 2 on the other region (the MPI library's path).
 */
#include <unistd.h>

#include "common.h"

enum { LOCK_SLOT, PSCW_SLOT, FENCE_SLOT, NEIGHBOUR_SLOT, SLOTS, OVERWRITTEN = 1111 };

int main(int argc, char **argv) {
    test_init(&argc, &argv, "late_grant");
    CHECK(world_size == 4, "needs 4 ranks (2+2 on two regions), got %d", world_size);
    int *buffer;
    MPI_Win win;
    MPI_OK(test_window_allocate(window_bytes(SLOTS * sizeof(int)), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD,
                                &buffer, &win));
    int target = world_rank & ~1, origin = target + 1;
    int is_target = world_rank == target;
    for (int i = 0; i < SLOTS; i++) buffer[i] = -1;
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    /* The target's exclusive lock on itself outlasts the origin's MPI_Win_lock call. */
    if (is_target) MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, target, 0, win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    if (is_target) {
        usleep(300 * 1000);
        buffer[LOCK_SLOT] = OVERWRITTEN;
        MPI_OK(MPI_Win_unlock(target, win));
    } else {
        int value = 100 + origin;
        MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, target, 0, win));
        MPI_OK(MPI_Put(&value, 1, MPI_INT, target, LOCK_SLOT, 1, MPI_INT, win));
        MPI_OK(MPI_Win_unlock(target, win));
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    if (is_target) {
        MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, target, 0, win));
        CHECK_EQ_LL(buffer[LOCK_SLOT], 100 + origin, "put of an exclusive epoch granted after the target's own");
        MPI_OK(MPI_Win_unlock(target, win));
    }
    test_phase_done("lock granted late");

    /* The target posts 300 ms after the origin's MPI_Win_start. */
    MPI_Group world_group, partner;
    MPI_OK(MPI_Comm_group(MPI_COMM_WORLD, &world_group));
    int other = is_target ? origin : target;
    MPI_OK(MPI_Group_incl(world_group, 1, &other, &partner));
    if (is_target) {
        usleep(300 * 1000);
        buffer[PSCW_SLOT] = OVERWRITTEN;
        MPI_OK(MPI_Win_post(partner, 0, win));
        MPI_OK(MPI_Win_wait(win));
        CHECK_EQ_LL(buffer[PSCW_SLOT], 200 + origin, "put of an access epoch started before the target posted");
    } else {
        int value = 200 + origin;
        MPI_OK(MPI_Win_start(partner, 0, win));
        MPI_OK(MPI_Put(&value, 1, MPI_INT, target, PSCW_SLOT, 1, MPI_INT, win));
        MPI_OK(MPI_Win_complete(win));
    }
    MPI_OK(MPI_Group_free(&partner));
    MPI_OK(MPI_Group_free(&world_group));
    test_phase_done("access epoch started before the post");

    /* Across the two servers (the MPI library's path), and to the co-resident neighbour. */
    int value = 300 + world_rank, remote = (world_rank + 2) % 4, neighbour = world_rank ^ 1;
    MPI_OK(MPI_Win_fence(0, win));
    MPI_OK(MPI_Put(&value, 1, MPI_INT, remote, FENCE_SLOT, 1, MPI_INT, win));
    MPI_OK(MPI_Put(&value, 1, MPI_INT, neighbour, NEIGHBOUR_SLOT, 1, MPI_INT, win));
    MPI_OK(MPI_Win_fence(0, win));
    CHECK_EQ_LL(buffer[FENCE_SLOT], 300 + remote, "put from the other server");
    CHECK_EQ_LL(buffer[NEIGHBOUR_SLOT], 300 + neighbour, "put from the co-resident neighbour");
    test_phase_done("fence across servers");

    MPI_OK(test_window_free(&win));
    return test_finish();
}
