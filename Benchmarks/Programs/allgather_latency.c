/* allgather_latency: OSU's osu_allgather. Microseconds per MPI_Allgather of MPI_CHARs on
 * MPI_COMM_WORLD, 1 B to 1 MiB from each rank (every rank receives that times the ranks): each rank
 * times the call alone (an untimed MPI_Barrier follows each one), and rank 0 prints the ranks'
 * average. Any number of ranks. Options -m, -i, -x: see osu_common.h. */
#include "osu_common.h"

int main(int argc, char **argv) {
    return osu_collective_main(argc, argv, "allgather_latency", "OSU MPI Allgather Latency Test", &osu_allgather);
}
