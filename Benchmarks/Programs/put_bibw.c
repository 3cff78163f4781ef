/* put_bibw: OSU's osu_put_bibw. Both ranks put W (-W, 64) messages into each other per
 * epoch; MB/s counts both directions. Active target only, as in OSU: -s pscw (default)
 * or fence. Options: see osu_common.h. */
#include "osu_common.h"

int main(int argc, char **argv) {
    static const osu_benchmark benchmark = {
        .program = "put_bibw",
        .title = "OSU MPI_Put Bi-directional Bandwidth Test",
        .datatype_name = "MPI_CHAR",
        .measure = MEASURE_BIBANDWIDTH,
        .allowed_syncs = ACTIVE_SYNCS,
        .default_sync = SYNC_PSCW,
        .passive_lock_type = MPI_LOCK_SHARED,
        .default_max_size = 1 << 22,
        .required_ranks = 2,
        .operation = osu_put,
    };
    return osu_main(argc, argv, &benchmark);
}
