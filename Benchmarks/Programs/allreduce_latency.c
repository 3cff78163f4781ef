/* allreduce_latency: OSU's osu_allreduce. Microseconds per MPI_Allreduce (MPI_SUM over MPI_FLOAT) on
 * MPI_COMM_WORLD, 4 B (one float) to 1 MiB: each rank times the call alone (an untimed MPI_Barrier
 * follows each one), and rank 0 prints the ranks' average. Any number of ranks. Options -m, -i, -x:
 * see osu_common.h (sizes below one float are one float, as in OSU). */
#include "osu_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *touched_floats(size_t bytes) {
    float *buffer = NULL;
    if (posix_memalign((void **)&buffer, 4096, bytes ? bytes : 1) != 0) {
        fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (size_t i = 0; i < bytes / sizeof(float); i++) buffer[i] = 1.0f; /* paged in before timing */
    return buffer;
}

int main(int argc, char **argv) {
    static const osu_benchmark benchmark = {
        .program = "allreduce_latency",
        .title = "OSU MPI Allreduce Latency Test",
        .datatype_name = "MPI_FLOAT",
        .measure = MEASURE_LATENCY,
        .collective = 1,
        .default_min_size = sizeof(float),
        .default_max_size = 1 << 20,
    };
    osu_context context;
    osu_setup(&argc, &argv, &benchmark, &context);
    size_t max_count = context.options.max_size / sizeof(float);
    if (max_count == 0) max_count = 1;
    float *send = touched_floats(max_count * sizeof(float)), *receive = touched_floats(max_count * sizeof(float));
    size_t first = context.options.min_size / sizeof(float);
    for (size_t count = first ? first : 1; count <= max_count; count *= 2) {
        size_t size = count * sizeof(float);
        osu_schedule schedule = osu_schedule_for(&context.options, size);
        double timer = 0;
        MPI_Barrier(MPI_COMM_WORLD);
        for (int i = 0; i < schedule.warmup + schedule.iterations; i++) {
            double start = MPI_Wtime();
            MPI_Allreduce(send, receive, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            double stop = MPI_Wtime();
            if (i >= schedule.warmup) timer += stop - start;
            MPI_Barrier(MPI_COMM_WORLD);
        }
        osu_print_row(&context, size, osu_average_over_ranks(&context, timer * 1e6 / schedule.iterations));
    }
    free(send);
    free(receive);
    osu_teardown(&context);
    return EXIT_SUCCESS;
}
