/* reduce_latency: OSU's osu_reduce. Microseconds per MPI_Reduce (MPI_SUM over MPI_FLOAT) to rank 0
 * on MPI_COMM_WORLD, 4 B (one float) to 1 MiB: each rank times the call alone (an untimed
 * MPI_Barrier follows each one, so ranks that return before the root cannot pile reductions up),
 * and rank 0 prints the ranks' average. Any number of ranks. Options -m, -i, -x: see osu_common.h
 * (sizes below one float are one float, as in OSU). */
#include "osu_common.h"

int main(int argc, char **argv) {
    return osu_collective_main(argc, argv, "reduce_latency", "OSU MPI Reduce Latency Test", &osu_reduce);
}
