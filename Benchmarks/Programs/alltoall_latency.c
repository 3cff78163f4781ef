/* alltoall_latency: OSU's osu_alltoall. Microseconds per MPI_Alltoall of MPI_CHARs on
 * MPI_COMM_WORLD, 1 B to 1 MiB from each rank to each rank (a buffer holds that times the ranks,
 * each way): each rank times the call alone (an untimed MPI_Barrier follows each one), and rank 0
 * prints the ranks' average. Any number of ranks. Options -m, -i, -x: see osu_common.h. */
#include "osu_common.h"

int main(int argc, char **argv) {
    return osu_collective_main(argc, argv, "alltoall_latency", "OSU MPI All-to-All Personalized Exchange Latency Test",
                               &osu_alltoall);
}
