/* bcast_latency: OSU's osu_bcast. Microseconds per MPI_Bcast of MPI_CHARs from rank 0 on
 * MPI_COMM_WORLD, 1 B to 1 MiB: each rank times the call alone (an untimed MPI_Barrier follows each
 * one, as in OSU, so a root that returns early cannot pile broadcasts up), and rank 0 prints the
 * ranks' average. Any number of ranks. Options -m, -i, -x: see osu_common.h. */
#include "osu_common.h"

int main(int argc, char **argv) {
    return osu_collective_main(argc, argv, "bcast_latency", "OSU MPI Broadcast Latency Test", &osu_bcast);
}
