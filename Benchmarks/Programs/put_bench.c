/*
 * put_bench: an OSU-style MPI_Put benchmark (osu_put_latency / osu_put_bw) on an
 * MPI_Win_allocate window, using the MPI standard only, so it runs the same with
 * and without a preloaded layer. Exactly 2 ranks: rank 0 puts into rank 1.
 *
 *   put_bench [-t latency|bw] [-s flush|fence|lock|pscw] [-m [MIN:]MAX]
 *             [-i ITERATIONS] [-x WARMUP] [-W PUTS_PER_SYNC]
 *
 * Latency, as OSU measures it:
 *   flush  one lock_all epoch; each iteration MPI_Put + MPI_Win_flush
 *   lock   each iteration MPI_Win_lock(SHARED) + MPI_Put + MPI_Win_unlock
 *   fence  ping-pong: rank 0 puts, fence, rank 1 puts, fence; time / 2
 *   pscw   ping-pong: start/put/complete against post/wait each way; time / 2
 * Bandwidth: each iteration opens the epoch as above, issues W puts of one size at
 * consecutive offsets, and closes it; MB/s = 10^6 bytes per second, as OSU prints.
 * Sizes above 8 KiB run a tenth of the iterations and warm-up, as OSU does.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum sync_mode { SYNC_FLUSH, SYNC_FENCE, SYNC_LOCK, SYNC_PSCW };
enum test_kind { TEST_LATENCY, TEST_BANDWIDTH };

typedef struct {
    enum test_kind kind;
    enum sync_mode sync;
    long min_size, max_size;
    int iterations, warmup, puts_per_sync;
} options_t;

static const char *sync_names[] = {"flush", "fence", "lock", "pscw"};
static const char *sync_calls[] = {"MPI_Win_flush", "MPI_Win_fence", "MPI_Win_lock/unlock", "MPI_Win_post/start/complete/wait"};

enum { LARGE_MESSAGE = 8192, FIELD_WIDTH = 20, MAX_WINDOW_BYTES = 64 << 20 };

static int rank;
static MPI_Win win;
static MPI_Group peer_group;
static char *origin;
static MPI_Aint window_bytes;

static void usage_and_exit(const char *problem) {
    if (rank == 0) {
        if (problem) fprintf(stderr, "put_bench: %s\n", problem);
        fprintf(stderr,
                "usage: put_bench [-t latency|bw] [-s flush|fence|lock|pscw] [-m [MIN:]MAX] [-i ITERATIONS]\n"
                "                 [-x WARMUP] [-W PUTS_PER_SYNC]   (exactly 2 ranks)\n");
    }
    MPI_Finalize();
    exit(problem ? 1 : 0);
}

static options_t parse_options(int argc, char **argv) {
    options_t o = {TEST_LATENCY, SYNC_FLUSH, 1, 4 << 20, 1000, 100, 64};
    int c;
    while ((c = getopt(argc, argv, "t:s:m:i:x:W:h")) != -1) {
        switch (c) {
        case 't':
            if (strcmp(optarg, "latency") == 0) o.kind = TEST_LATENCY;
            else if (strcmp(optarg, "bw") == 0) o.kind = TEST_BANDWIDTH;
            else usage_and_exit("-t takes latency or bw");
            break;
        case 's': {
            int found = 0;
            for (int k = 0; k < 4; k++)
                if (strcmp(optarg, sync_names[k]) == 0) { o.sync = (enum sync_mode)k; found = 1; }
            if (!found) usage_and_exit("-s takes flush, fence, lock or pscw");
            break;
        }
        case 'm': {
            char *colon = strchr(optarg, ':');
            if (colon) { o.min_size = atol(optarg); o.max_size = atol(colon + 1); }
            else o.max_size = atol(optarg);
            if (o.min_size < 1 || o.max_size < o.min_size) usage_and_exit("-m wants 1 <= MIN <= MAX");
            break;
        }
        case 'i': o.iterations = atoi(optarg); if (o.iterations < 1) usage_and_exit("-i wants >= 1"); break;
        case 'x': o.warmup = atoi(optarg); if (o.warmup < 0) usage_and_exit("-x wants >= 0"); break;
        case 'W': o.puts_per_sync = atoi(optarg); if (o.puts_per_sync < 1) usage_and_exit("-W wants >= 1"); break;
        case 'h': usage_and_exit(NULL); break;
        default: usage_and_exit("unknown option");
        }
    }
    return o;
}

/* Opens and closes one access epoch of rank 0 to rank 1 (and rank 1's side of it). */
static void open_epoch(enum sync_mode sync) {
    switch (sync) {
    case SYNC_FLUSH: break; /* the lock_all epoch spans the whole size */
    case SYNC_FENCE: break; /* fences close epochs; the first one opened it */
    case SYNC_LOCK: if (rank == 0) MPI_Win_lock(MPI_LOCK_SHARED, 1, 0, win); break;
    case SYNC_PSCW:
        if (rank == 0) MPI_Win_start(peer_group, 0, win);
        else MPI_Win_post(peer_group, 0, win);
        break;
    }
}

static void close_epoch(enum sync_mode sync) {
    switch (sync) {
    case SYNC_FLUSH: if (rank == 0) MPI_Win_flush(1, win); break;
    case SYNC_FENCE: MPI_Win_fence(0, win); break;
    case SYNC_LOCK: if (rank == 0) MPI_Win_unlock(1, win); break;
    case SYNC_PSCW:
        if (rank == 0) MPI_Win_complete(win);
        else MPI_Win_wait(win);
        break;
    }
}

/* Ping-pong step for fence and PSCW latency: `putter` puts into the other rank. */
static void one_way(enum sync_mode sync, int putter, long size) {
    int peer = 1 - rank;
    if (sync == SYNC_FENCE) {
        if (rank == putter) MPI_Put(origin, (int)size, MPI_CHAR, peer, 0, (int)size, MPI_CHAR, win);
        MPI_Win_fence(0, win);
    } else if (rank == putter) {
        MPI_Win_start(peer_group, 0, win);
        MPI_Put(origin, (int)size, MPI_CHAR, peer, 0, (int)size, MPI_CHAR, win);
        MPI_Win_complete(win);
    } else {
        MPI_Win_post(peer_group, 0, win);
        MPI_Win_wait(win);
    }
}

/* Seconds for `iterations` timed iterations after `warmup` untimed ones. */
static double run_latency(const options_t *o, long size, int iterations, int warmup) {
    double start = 0;
    if (o->sync == SYNC_FLUSH && rank == 0) MPI_Win_lock_all(0, win);
    if (o->sync == SYNC_FENCE) MPI_Win_fence(MPI_MODE_NOPRECEDE, win);
    for (int i = 0; i < warmup + iterations; i++) {
        if (i == warmup) start = MPI_Wtime();
        if (o->sync == SYNC_FENCE || o->sync == SYNC_PSCW) {
            one_way(o->sync, 0, size);
            one_way(o->sync, 1, size);
        } else if (rank == 0) {
            open_epoch(o->sync);
            MPI_Put(origin, (int)size, MPI_CHAR, 1, 0, (int)size, MPI_CHAR, win);
            close_epoch(o->sync);
        }
    }
    double elapsed = MPI_Wtime() - start;
    if (o->sync == SYNC_FLUSH && rank == 0) MPI_Win_unlock_all(win);
    if (o->sync == SYNC_FENCE) MPI_Win_fence(MPI_MODE_NOSUCCEED, win);
    /* Ping-pong modes move the message twice per iteration. */
    return (o->sync == SYNC_FENCE || o->sync == SYNC_PSCW) ? elapsed / 2 : elapsed;
}

static double run_bandwidth(const options_t *o, long size, int iterations, int warmup) {
    double start = 0;
    /* W puts land at consecutive offsets, wrapping inside the window. */
    MPI_Aint slots = window_bytes / size;
    if (o->sync == SYNC_FLUSH && rank == 0) MPI_Win_lock_all(0, win);
    if (o->sync == SYNC_FENCE) MPI_Win_fence(MPI_MODE_NOPRECEDE, win);
    for (int i = 0; i < warmup + iterations; i++) {
        if (i == warmup) start = MPI_Wtime();
        open_epoch(o->sync);
        if (rank == 0)
            for (int j = 0; j < o->puts_per_sync; j++)
                MPI_Put(origin, (int)size, MPI_CHAR, 1, (MPI_Aint)(j % slots) * size, (int)size, MPI_CHAR, win);
        close_epoch(o->sync);
    }
    double elapsed = MPI_Wtime() - start;
    if (o->sync == SYNC_FLUSH && rank == 0) MPI_Win_unlock_all(win);
    if (o->sync == SYNC_FENCE) MPI_Win_fence(MPI_MODE_NOSUCCEED, win);
    return elapsed;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    options_t o = parse_options(argc, argv);
    if (size != 2) usage_and_exit("needs exactly 2 ranks");

    /* Bandwidth wants W messages side by side, but at most 64 MiB (a region is 256 MiB). */
    window_bytes = o.max_size;
    if (o.kind == TEST_BANDWIDTH) {
        long all_puts = o.max_size * o.puts_per_sync;
        long capped = all_puts < MAX_WINDOW_BYTES ? all_puts : MAX_WINDOW_BYTES;
        if (capped > window_bytes) window_bytes = capped;
    }
    char *window_base;
    MPI_Win_allocate(window_bytes, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &window_base, &win);
    memset(window_base, 0, window_bytes); /* page in before timing */
    origin = malloc(o.max_size);
    memset(origin, 'a', o.max_size);
    MPI_Group world_group;
    int peer = 1 - rank;
    MPI_Comm_group(MPI_COMM_WORLD, &world_group);
    MPI_Group_incl(world_group, 1, &peer, &peer_group);
    MPI_Group_free(&world_group);

    if (rank == 0) {
        printf("# OSU-style MPI_Put %s Test (put_bench)\n", o.kind == TEST_LATENCY ? "Latency" : "Bandwidth");
        printf("# Window creation: MPI_Win_allocate\n# Synchronization: %s\n", sync_calls[o.sync]);
        printf("%-*s%*s\n", 10, "# Size", FIELD_WIDTH, o.kind == TEST_LATENCY ? "Latency (us)" : "Bandwidth (MB/s)");
        fflush(stdout);
    }
    for (long bytes = o.min_size; bytes <= o.max_size; bytes *= 2) {
        int large = bytes > LARGE_MESSAGE;
        int iterations = large ? (o.iterations / 10 > 10 ? o.iterations / 10 : 10) : o.iterations;
        int warmup = large ? o.warmup / 10 : o.warmup;
        MPI_Barrier(MPI_COMM_WORLD);
        double seconds = o.kind == TEST_LATENCY ? run_latency(&o, bytes, iterations, warmup)
                                                : run_bandwidth(&o, bytes, iterations, warmup);
        MPI_Barrier(MPI_COMM_WORLD);
        if (rank == 0) {
            double value = o.kind == TEST_LATENCY
                               ? seconds * 1e6 / iterations
                               : (double)bytes * o.puts_per_sync * iterations / seconds / 1e6;
            printf("%-*ld%*.*f\n", 10, bytes, FIELD_WIDTH, 2, value);
            fflush(stdout);
        }
    }

    MPI_Group_free(&peer_group);
    MPI_Win_free(&win);
    free(origin);
    MPI_Finalize();
    return 0;
}
