/* put_bw: OSU's osu_put_bw. MB/s of W (-W, 64) MPI_Puts per synchronization from rank 0
 * to rank 1, at consecutive offsets of the window. Options: see osu_common.h. */
#include "osu_common.h"

int main(int argc, char **argv) {
    static const osu_benchmark benchmark = {
        .program = "put_bw",
        .title = "OSU MPI_Put Bandwidth Test",
        .datatype_name = "MPI_CHAR",
        .measure = MEASURE_BANDWIDTH,
        .allowed_syncs = ALL_SYNCS,
        .default_sync = SYNC_FLUSH,
        .passive_lock_type = MPI_LOCK_SHARED,
        .default_max_size = 1 << 22,
        .required_ranks = 2,
        .operation = osu_put,
    };
    return osu_main(argc, argv, &benchmark);
}
