/* p2p_bibw: OSU's osu_bibw. Both ranks post W (-W, 64) MPI_Irecvs from the other and W
 * MPI_Isends to it per iteration, then one MPI_Waitall; MB/s counts both directions.
 * Options -m, -i, -x, -W: see osu_common.h. */
#include "osu_common.h"

int main(int argc, char **argv) {
    static const osu_benchmark benchmark = {
        .program = "p2p_bibw",
        .title = "OSU MPI Bi-Directional Bandwidth Test",
        .datatype_name = "MPI_CHAR",
        .measure = MEASURE_BIBANDWIDTH,
        .default_max_size = 1 << 22,
        .required_ranks = 2,
        .point_to_point = 1,
    };
    return osu_point_to_point_main(argc, argv, &benchmark);
}
