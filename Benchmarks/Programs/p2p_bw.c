/* p2p_bw: OSU's osu_bw. MB/s from rank 0 to rank 1: per iteration rank 0 posts W (-W, 64)
 * MPI_Isends and rank 1 W MPI_Irecvs, each side completes them with MPI_Waitall, and rank 1
 * answers with a 4-byte MPI_Send. Options -m, -i, -x, -W: see osu_common.h. */
#include "osu_common.h"

int main(int argc, char **argv) {
    static const osu_benchmark benchmark = {
        .program = "p2p_bw",
        .title = "OSU MPI Bandwidth Test",
        .datatype_name = "MPI_CHAR",
        .measure = MEASURE_BANDWIDTH,
        .default_max_size = 1 << 22,
        .required_ranks = 2,
        .point_to_point = 1,
    };
    return osu_point_to_point_main(argc, argv, &benchmark);
}
