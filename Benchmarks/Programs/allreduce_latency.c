/* allreduce_latency: OSU's osu_allreduce. Microseconds per MPI_Allreduce (MPI_SUM over MPI_FLOAT) on
 * MPI_COMM_WORLD, 4 B (one float) to 1 MiB: each rank times the call alone (an untimed MPI_Barrier
 * follows each one), and rank 0 prints the ranks' average. Any number of ranks. Options -m, -i, -x:
 * see osu_common.h (sizes below one float are one float, as in OSU). */
#include "osu_common.h"

int main(int argc, char **argv) {
    return osu_collective_main(argc, argv, "allreduce_latency", "OSU MPI Allreduce Latency Test", &osu_allreduce);
}
