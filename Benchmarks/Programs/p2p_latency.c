/* p2p_latency: OSU's osu_latency. Microseconds per message between ranks 0 and 1: a ping-pong of
 * MPI_Send / MPI_Recv of each size, half the round trip. Options -m, -i, -x: see osu_common.h. */
#include "osu_common.h"

int main(int argc, char **argv) {
    static const osu_benchmark benchmark = {
        .program = "p2p_latency",
        .title = "OSU MPI Latency Test",
        .datatype_name = "MPI_CHAR",
        .measure = MEASURE_LATENCY,
        .default_max_size = 1 << 22,
        .required_ranks = 2,
        .point_to_point = 1,
    };
    return osu_point_to_point_main(argc, argv, &benchmark);
}
