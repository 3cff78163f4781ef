/* put_latency: OSU's osu_put_latency. Microseconds per MPI_Put of each size from rank 0
 * to rank 1, completed by the chosen synchronization (fence and pscw: ping-pong, half
 * the round trip). Options: see osu_common.h. */
#include "osu_common.h"

int main(int argc, char **argv) {
    static const osu_benchmark benchmark = {
        .program = "put_latency",
        .title = "OSU MPI_Put Latency Test",
        .datatype_name = "MPI_CHAR",
        .measure = MEASURE_LATENCY,
        .allowed_syncs = ALL_SYNCS,
        .default_sync = SYNC_FLUSH,
        .passive_lock_type = MPI_LOCK_SHARED,
        .default_max_size = 1 << 22,
        .required_ranks = 2,
        .operation = osu_put,
    };
    return osu_main(argc, argv, &benchmark);
}
