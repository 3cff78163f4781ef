/* p2p_mbw_mr: OSU's osu_mbw_mr. On an even number of ranks, the first half sends to the second
 * (rank i to i + n/2) as p2p_bw does, all pairs at once: per iteration W (-W, 64) MPI_Isends
 * against W MPI_Irecvs, MPI_Waitall, a 4-byte acknowledgement back. Rank 0 prints MB/s summed
 * over the pairs (the senders' times averaged, as OSU) and messages per second.
 * Options -m, -i, -x, -W: see osu_common.h. */
#include "osu_common.h"

int main(int argc, char **argv) {
    static const osu_benchmark benchmark = {
        .program = "p2p_mbw_mr",
        .title = "OSU MPI Multiple Bandwidth / Message Rate Test",
        .datatype_name = "MPI_CHAR",
        .measure = MEASURE_MULTI_PAIR,
        .default_max_size = 1 << 22,
        .even_ranks = 1,
        .point_to_point = 1,
    };
    return osu_point_to_point_main(argc, argv, &benchmark);
}
