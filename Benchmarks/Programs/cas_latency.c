/* cas_latency: OSU's osu_cas_latency. Microseconds per MPI_Compare_and_swap on one
 * MPI_LONG_LONG from rank 0 to rank 1; one row, size 8. -s lock takes an exclusive
 * lock, as OSU does; -m only sizes the window (default 1 MiB). Options: see osu_common.h. */
#include "osu_common.h"

int main(int argc, char **argv) {
    static const osu_benchmark benchmark = {
        .program = "cas_latency",
        .title = "OSU MPI_Compare_and_swap latency Test",
        .datatype_name = "MPI_LONG_LONG",
        .measure = MEASURE_LATENCY,
        .allowed_syncs = ALL_SYNCS,
        .default_sync = SYNC_FLUSH,
        .passive_lock_type = MPI_LOCK_EXCLUSIVE,
        .default_max_size = 1 << 20,
        .fixed_size = sizeof(long long),
        .required_ranks = 2,
        .operation = osu_compare_and_swap,
    };
    return osu_main(argc, argv, &benchmark);
}
