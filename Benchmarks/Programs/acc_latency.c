/* acc_latency: OSU's osu_acc_latency. Microseconds per MPI_Accumulate (MPI_SUM over
 * MPI_CHARs) of each size from rank 0 into rank 1 (fence and pscw: ping-pong).
 * Options: see osu_common.h. */
#include "osu_common.h"

int main(int argc, char **argv) {
    static const osu_benchmark benchmark = {
        .program = "acc_latency",
        .title = "OSU MPI_Accumulate latency Test",
        .datatype_name = "MPI_CHAR",
        .measure = MEASURE_LATENCY,
        .allowed_syncs = ALL_SYNCS,
        .default_sync = SYNC_FLUSH,
        .passive_lock_type = MPI_LOCK_SHARED,
        .default_max_size = 1 << 22,
        .required_ranks = 2,
        .operation = osu_accumulate,
    };
    return osu_main(argc, argv, &benchmark);
}
