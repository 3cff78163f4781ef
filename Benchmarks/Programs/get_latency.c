/* get_latency: OSU's osu_get_latency. Microseconds per MPI_Get of each size by rank 0
 * from rank 1 (fence and pscw: ping-pong). Options: see osu_common.h. */
#include "osu_common.h"

int main(int argc, char **argv) {
    static const osu_benchmark benchmark = {
        .program = "get_latency",
        .title = "OSU MPI_Get latency Test",
        .datatype_name = "MPI_CHAR",
        .measure = MEASURE_LATENCY,
        .allowed_syncs = ALL_SYNCS,
        .default_sync = SYNC_FLUSH,
        .passive_lock_type = MPI_LOCK_SHARED,
        .default_max_size = 1 << 22,
        .required_ranks = 2,
        .operation = osu_get,
    };
    return osu_main(argc, argv, &benchmark);
}
