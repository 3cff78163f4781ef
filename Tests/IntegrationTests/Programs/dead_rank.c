/*
 * A rank dies (SIGKILL) or freezes (SIGSTOP, as a paused VM does), raised by itself in the
 * middle of an epoch while the others wait for it; the job must end, not hang.
 * `dead_rank MODE kill|stop`, MODE one of:
 *
 *   fence  the last rank dies between two fences; the others put to it and wait in the
 *          closing MPI_Win_fence.
 *   lock   the last rank takes an exclusive lock on every other rank's window, then dies
 *          holding them; the others wait in MPI_Win_lock on their own window.
 *   pscw   every other rank posts to the last rank, which starts, puts to each of them and
 *          dies before MPI_Win_complete; the others wait in MPI_Win_wait.
 *   barrier  the last rank dies instead of entering MPI_Barrier (served through the region);
 *          the others wait in it.
 *
 * Just before, the last rank prints "rank R stops in MODE epoch at T" (T: CLOCK_REALTIME
 * seconds), so a test knows where and when it happened.
 * Never prints PASS: a survivor that gets past its wait says so and fails.
 */
#include "common.h"

#include <signal.h>
#include <time.h>

static int stop_signal = SIGKILL;

static void die(const char *mode) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    printf("rank %d stops in %s epoch at %.3f\n", world_rank, mode, now.tv_sec + now.tv_nsec * 1e-9);
    fflush(stdout);
    raise(stop_signal);
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "dead_rank");
    CHECK(world_size >= 2, "needs at least 2 ranks");
    CHECK(argc == 3 && (strcmp(argv[2], "kill") == 0 || strcmp(argv[2], "stop") == 0),
          "usage: dead_rank fence|lock|pscw|barrier kill|stop");
    const char *mode = argv[1];
    stop_signal = strcmp(argv[2], "kill") == 0 ? SIGKILL : SIGSTOP;
    const int dying = world_size - 1;
    const int survivor = world_rank != dying;
    int *base = NULL, value = world_rank + 1;
    MPI_Win win;
    MPI_OK(MPI_Win_allocate(window_bytes(world_size * sizeof(int)), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD,
                            &base, &win));
    MPI_Group world_group, dying_group, survivors_group;
    MPI_OK(MPI_Comm_group(MPI_COMM_WORLD, &world_group));
    MPI_OK(MPI_Group_incl(world_group, 1, &dying, &dying_group));
    MPI_OK(MPI_Group_excl(world_group, 1, &dying, &survivors_group));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    if (strcmp(mode, "fence") == 0) {
        MPI_OK(MPI_Win_fence(0, win));
        if (!survivor) die(mode);
        MPI_OK(MPI_Put(&value, 1, MPI_INT, dying, world_rank, 1, MPI_INT, win));
        MPI_OK(MPI_Win_fence(0, win));
    } else if (strcmp(mode, "lock") == 0) {
        if (!survivor) {
            for (int target = 0; target < dying; target++)
                MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, target, 0, win));
        }
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD)); /* the survivors ask only once the locks are held */
        if (!survivor) die(mode);
        MPI_OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, world_rank, 0, win));
        MPI_OK(MPI_Win_unlock(world_rank, win));
    } else if (strcmp(mode, "pscw") == 0) {
        if (survivor) {
            MPI_OK(MPI_Win_post(dying_group, 0, win));
            MPI_OK(MPI_Win_wait(win));
        } else {
            MPI_OK(MPI_Win_start(survivors_group, 0, win));
            for (int target = 0; target < dying; target++)
                MPI_OK(MPI_Put(&value, 1, MPI_INT, target, world_rank, 1, MPI_INT, win));
            die(mode);
        }
    } else if (strcmp(mode, "barrier") == 0) {
        if (!survivor) die(mode);
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    } else {
        CHECK(0, "unknown mode %s", mode);
    }
    fprintf(stderr, "FAIL dead_rank: rank %d left its %s wait although rank %d is dead\n", world_rank, mode, dying);
    MPI_Abort(MPI_COMM_WORLD, 3);
    return 1;
}
