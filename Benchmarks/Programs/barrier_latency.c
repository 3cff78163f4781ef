/* barrier_latency: OSU's osu_barrier. Microseconds per MPI_Barrier on MPI_COMM_WORLD: each rank
 * times every call, and rank 0 prints the ranks' average, one row without a size column (OSU's
 * "# Avg Latency(us)"). Any number of ranks. Options -i, -x: see osu_common.h. */
#include "osu_common.h"

#include <stdlib.h>

int main(int argc, char **argv) {
    static const osu_benchmark benchmark = {
        .program = "barrier_latency",
        .title = "OSU MPI Barrier Latency Test",
        .measure = MEASURE_LATENCY,
        .collective = 1,
        .sizeless = 1,
    };
    osu_context context;
    osu_setup(&argc, &argv, &benchmark, &context);
    osu_schedule schedule = osu_schedule_for(&context.options, 0);
    double timer = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    for (int i = 0; i < schedule.warmup + schedule.iterations; i++) {
        double start = MPI_Wtime();
        MPI_Barrier(MPI_COMM_WORLD);
        if (i >= schedule.warmup) timer += MPI_Wtime() - start;
    }
    osu_print_row(&context, 0, osu_average_over_ranks(&context, timer * 1e6 / schedule.iterations));
    osu_teardown(&context);
    return EXIT_SUCCESS;
}
