/* fence_ring_latency: not in OSU (whose put latency runs on 2 ranks only); the fence
 * benchmark for any number of ranks. Every epoch, every rank puts one message into
 * its right neighbour's window, then all fence. Prints microseconds per epoch, as
 * rank 0 measured them. Sizes default to 8 bytes only (-m 8:8); -s is fence only.
 * Options: see osu_common.h. */
#include "osu_common.h"

int main(int argc, char **argv) {
    static const osu_benchmark benchmark = {
        .program = "fence_ring_latency",
        .title = "OSU-style MPI_Put Ring Fence Latency Test (every rank puts to its right neighbour)",
        .datatype_name = "MPI_CHAR",
        .measure = MEASURE_LATENCY,
        .allowed_syncs = SYNC_BIT(SYNC_FENCE),
        .default_sync = SYNC_FENCE,
        .passive_lock_type = MPI_LOCK_SHARED,
        .default_min_size = 8,
        .default_max_size = 8,
    };
    osu_context context;
    osu_setup(&argc, &argv, &benchmark, &context);
    int right = (context.rank + 1) % context.ranks;
    for (size_t size = context.options.min_size; size <= context.options.max_size; size *= 2) {
        osu_schedule schedule = osu_schedule_for(&context.options, size);
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_Win_fence(0, context.window); /* opens the first epoch */
        double start = 0;
        for (int i = 0; i < schedule.warmup + schedule.iterations; i++) {
            if (i == schedule.warmup) start = MPI_Wtime();
            osu_put(&context, right, size, 0);
            MPI_Win_fence(0, context.window);
        }
        double seconds = MPI_Wtime() - start;
        MPI_Barrier(MPI_COMM_WORLD);
        osu_print_row(&context, size, seconds * 1e6 / schedule.iterations);
    }
    osu_teardown(&context);
    return 0;
}
