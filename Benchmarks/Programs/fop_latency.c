/* fop_latency: OSU's osu_fop_latency. Microseconds per MPI_Fetch_and_op (MPI_SUM on one
 * MPI_LONG_LONG) from rank 0 to rank 1; one row, size 8. -s lock takes an exclusive
 * lock, as OSU does; -m only sizes the window (default 1 MiB). Options: see osu_common.h. */
#include "osu_common.h"

int main(int argc, char **argv) {
    static const osu_benchmark benchmark = {
        .program = "fop_latency",
        .title = "OSU MPI_Fetch_and_op latency Test",
        .datatype_name = "MPI_LONG_LONG",
        .measure = MEASURE_LATENCY,
        .allowed_syncs = ALL_SYNCS,
        .default_sync = SYNC_FLUSH,
        .passive_lock_type = MPI_LOCK_EXCLUSIVE,
        .default_max_size = 1 << 20,
        .fixed_size = sizeof(long long),
        .required_ranks = 2,
        .operation = osu_fetch_and_op,
    };
    return osu_main(argc, argv, &benchmark);
}
