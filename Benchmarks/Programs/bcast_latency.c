/* bcast_latency: OSU's osu_bcast. Microseconds per MPI_Bcast of MPI_CHARs from rank 0 on
 * MPI_COMM_WORLD, 1 B to 1 MiB: each rank times the call alone (an untimed MPI_Barrier follows each
 * one, as in OSU, so a root that returns early cannot pile broadcasts up), and rank 0 prints the
 * ranks' average. Any number of ranks. Options -m, -i, -x: see osu_common.h. */
#include "osu_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    static const osu_benchmark benchmark = {
        .program = "bcast_latency",
        .title = "OSU MPI Broadcast Latency Test",
        .datatype_name = "MPI_CHAR",
        .measure = MEASURE_LATENCY,
        .collective = 1,
        .default_max_size = 1 << 20,
    };
    osu_context context;
    osu_setup(&argc, &argv, &benchmark, &context);
    char *buffer = NULL;
    if (posix_memalign((void **)&buffer, 4096, context.options.max_size) != 0) {
        fprintf(stderr, "out of memory (%zu bytes)\n", context.options.max_size);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    memset(buffer, 1, context.options.max_size); /* paged in before timing */
    for (size_t size = context.options.min_size; size <= context.options.max_size; size *= 2) {
        osu_schedule schedule = osu_schedule_for(&context.options, size);
        double timer = 0;
        MPI_Barrier(MPI_COMM_WORLD);
        for (int i = 0; i < schedule.warmup + schedule.iterations; i++) {
            double start = MPI_Wtime();
            MPI_Bcast(buffer, (int)size, MPI_CHAR, 0, MPI_COMM_WORLD);
            double stop = MPI_Wtime();
            if (i >= schedule.warmup) timer += stop - start;
            MPI_Barrier(MPI_COMM_WORLD);
        }
        osu_print_row(&context, size, osu_average_over_ranks(&context, timer * 1e6 / schedule.iterations));
    }
    free(buffer);
    osu_teardown(&context);
    return EXIT_SUCCESS;
}
