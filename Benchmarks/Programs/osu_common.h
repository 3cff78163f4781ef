/*
 * osu_common: what the OSU-style one-sided benchmarks share, so each program only
 * says which RMA call it times.
 *
 * The programs use the MPI standard and nothing else, so to a preloaded layer they
 * are unmodified MPI binaries. Options, defaults, timing loops and output follow
 * OSU micro-benchmarks 7.x (osu_put_latency and friends):
 *
 *   -w create|allocate|dynamic   window creation (default allocate)
 *   -s SYNC                      fence, lock, flush, flush_local, lock_all, pscw
 *                                (the subset the program offers; default flush,
 *                                put_bibw: fence or pscw, default pscw)
 *   -m [MIN:]MAX                 message sizes, doubling from MIN (default 1:4194304;
 *                                fop/cas: one 8-byte row, -m sizes the window, 1 MiB)
 *   -i ITERATIONS                timed iterations at every size (default: latency
 *                                10000, 1000 above 8 KiB; bandwidth 100, 20 above 8 KiB)
 *   -x WARMUP                    untimed iterations before them (default: latency
 *                                100, 10 above 8 KiB; bandwidth 10, 2 above 8 KiB)
 *   -W PUTS                      bandwidth only: operations per synchronization (64)
 *
 * The collective benchmarks (barrier, bcast, reduce, allreduce, allgather, alltoall latency)
 * create no window and take no -w or -s (barrier no -m either); like OSU's osu_barrier and friends
 * they default to 1000 timed iterations after 100 warm-up ones, 100 after 10 above 8 KiB, and sizes
 * up to 1 MiB (allgather and alltoall: per rank). Each rank times the collective alone (in the
 * sized ones an untimed MPI_Barrier follows each call), and rank 0 prints the ranks' average,
 * OSU's "Avg Latency(us)". The sized ones are osu_collective_main with one of the osu_collective
 * calls, so they share one timed loop.
 *
 * The point-to-point benchmarks (p2p_latency, p2p_bw, p2p_bibw, p2p_mbw_mr: OSU's osu_latency,
 * osu_bw, osu_bibw, osu_mbw_mr) create no window and take no -w or -s; they take -m, -i, -x and
 * (the bandwidth ones) -W MESSAGES, the window of MPI_Isends / MPI_Irecvs completed by one
 * MPI_Waitall (64), with the one-sided defaults above. They are osu_point_to_point_main with a
 * measure: latency is a ping-pong of MPI_Send / MPI_Recv (half the round trip); bandwidth is W
 * messages each way and a 4-byte acknowledgement back per iteration; bi-directional bandwidth has
 * both ranks send W and receive W at once (both directions counted); multi-pair bandwidth has
 * the first half of the ranks send to the second half (rank i to i + n/2), and rank 0 prints
 * MB/s summed over the pairs and messages per second.
 *
 * Where this differs from OSU, on purpose:
 *   - One window, sized for the largest message, is created once and reused for
 *     every size (OSU creates one per size). Memory is touched before timing.
 *   - A bandwidth window holds at most WINDOW_BYTES_CAP (128 MiB) per rank, so two
 *     ranks' windows fit in one 512 MiB region (IVSHMEM_RMA_SIZE=512M): above
 *     2 MiB the 64 operations of one epoch wrap around 32 slots of the window.
 *   - Likewise the point-to-point bandwidth tests send from, and receive into, consecutive slots
 *     of buffers as large as W messages (at most WINDOW_BYTES_CAP), the pattern of put_bw, where
 *     OSU sends all W messages from one buffer and receives them into another.
 *   - A collective's buffer holds at most COLLECTIVE_BUFFER_CAP (64 MiB) per rank, so
 *     8 ranks on one machine fit with room to spare (alltoall at 1 MiB per rank and 8
 *     ranks: 8 MiB each way); a larger -m is refused, not silently shrunk.
 */
#ifndef OSU_COMMON_H
#define OSU_COMMON_H

#include <mpi.h>
#include <stddef.h>

enum { LARGE_MESSAGE_SIZE = 8192 };
#define WINDOW_BYTES_CAP ((MPI_Aint)128 << 20)
#define COLLECTIVE_BUFFER_CAP ((size_t)64 << 20)

typedef enum { WINDOW_CREATE, WINDOW_ALLOCATE, WINDOW_DYNAMIC } window_kind;

/* Values are bit positions in osu_benchmark.allowed_syncs. */
typedef enum { SYNC_LOCK, SYNC_PSCW, SYNC_FENCE, SYNC_FLUSH, SYNC_FLUSH_LOCAL, SYNC_LOCK_ALL, SYNC_COUNT } sync_kind;

#define SYNC_BIT(sync) (1u << (sync))
#define ACTIVE_SYNCS (SYNC_BIT(SYNC_PSCW) | SYNC_BIT(SYNC_FENCE))
#define ALL_SYNCS ((1u << SYNC_COUNT) - 1)

/* What the numbers mean and how the two ranks take part. */
typedef enum {
    MEASURE_LATENCY,     /* rank 0 issues one operation per epoch; fence/pscw ping-pong */
    MEASURE_BANDWIDTH,   /* rank 0 issues W operations per epoch */
    MEASURE_BIBANDWIDTH, /* both ranks issue W operations per epoch */
    MEASURE_MULTI_PAIR,  /* point-to-point only: rank i sends W messages to i + n/2; MB/s and messages/s */
} measure_kind;

typedef struct osu_context osu_context;

/* Issues one RMA operation of `size` bytes at byte `offset` of the origin buffer and
 * of the target's window. */
typedef void (*rma_operation)(const osu_context *context, int target, size_t size, MPI_Aint offset);

/* Issues a sized collective once on `count` elements (per rank for allgather and alltoall),
 * from context->send into context->receive. */
typedef void (*collective_call)(const osu_context *context, size_t count);

/* How many messages of the largest size a sized collective's buffer holds. */
typedef enum { NO_BUFFER, ONE_MESSAGE, ONE_MESSAGE_PER_RANK } buffer_extent;

/* A sized collective the programs time: what it moves and how it is issued. */
typedef struct {
    const char *datatype_name;  /* header line: "MPI_FLOAT" */
    size_t element_size;        /* sizes are whole elements, at least one, as in OSU */
    buffer_extent send_extent, receive_extent;
    collective_call issue;
} osu_collective;

typedef struct {
    const char *program;        /* for usage lines: "put_latency" */
    const char *title;          /* header line: "OSU MPI_Put Latency Test" */
    const char *datatype_name;  /* header line: "MPI_CHAR" */
    measure_kind measure;
    unsigned allowed_syncs;     /* SYNC_BIT()s */
    sync_kind default_sync;
    int passive_lock_type;      /* MPI_LOCK_SHARED, or MPI_LOCK_EXCLUSIVE for fop/cas */
    size_t default_min_size;    /* 0: OSU's 1 */
    size_t default_max_size;
    size_t fixed_size;          /* nonzero: atomics, one row at this size, -m sizes the window only */
    int required_ranks;         /* 0: any number */
    int collective;             /* no window, no -w/-s: the program times a collective */
    int sizeless;               /* collective with one row and no size column (barrier): no -m */
    const osu_collective *sized_collective; /* set by osu_collective_main */
    int point_to_point;         /* no window, no -w/-s: MPI_Send/MPI_Recv (osu_point_to_point_main) */
    int even_ranks;             /* any even number of ranks (multi-pair) */
    rma_operation operation;    /* NULL when the program runs its own loop */
} osu_benchmark;

typedef struct {
    window_kind window;
    sync_kind sync;
    size_t min_size, max_size;
    int iterations, iterations_large;
    int warmup, warmup_large;
    int operations_per_sync; /* -W */
} osu_options;

struct osu_context {
    const osu_benchmark *benchmark;
    osu_options options;
    int rank, ranks;
    MPI_Win window;
    char *window_memory;      /* this rank's window (local view) */
    MPI_Aint window_bytes;
    MPI_Aint *target_base;    /* per rank: displacement of its window start (nonzero for dynamic) */
    char *origin;             /* window_bytes: put source, get destination, accumulate operand */
    long long *fetch_result;  /* fetch_and_op / compare_and_swap result */
    long long *compare;       /* compare_and_swap comparand */
    MPI_Group peer_group;     /* the other rank, for PSCW (2-rank benchmarks) */
    char *send, *receive;     /* sized collectives' buffers, as their extents say; point-to-point:
                                 buffer_bytes each */
    MPI_Aint buffer_bytes;    /* point-to-point: the largest message, or W of them up to the cap */
    MPI_Request *requests;    /* point-to-point: 2 W, and their statuses (OSU's reqstat) */
    MPI_Status *statuses;
};

/* Iterations for one message size: OSU switches to the large counts above 8 KiB. */
typedef struct {
    int iterations, warmup;
} osu_schedule;

/* MPI_Init, options, rank-count check, window, header. Exits (after MPI_Finalize)
 * on bad usage. */
void osu_setup(int *argc, char ***argv, const osu_benchmark *benchmark, osu_context *context);
/* Frees the window and buffers, then MPI_Finalize. */
void osu_teardown(osu_context *context);

osu_schedule osu_schedule_for(const osu_options *options, size_t size);
/* Rank 0 prints one table row, OSU's "%-10d%20.2f". */
void osu_print_row(const osu_context *context, size_t size, double value);
/* Rank 0 prints a row of two figures, OSU's osu_mbw_mr "%-10d%20.2f%20.2f". */
void osu_print_row_pair(const osu_context *context, size_t size, double first, double second);
/* Collectives: the average over the ranks of each one's figure (valid at rank 0). */
double osu_average_over_ranks(const osu_context *context, double value);

/* The operations the programs time. Put, get and accumulate move MPI_CHARs (the
 * accumulate with MPI_SUM); the atomics work on one MPI_LONG_LONG. */
void osu_put(const osu_context *context, int target, size_t size, MPI_Aint offset);
void osu_get(const osu_context *context, int target, size_t size, MPI_Aint offset);
void osu_accumulate(const osu_context *context, int target, size_t size, MPI_Aint offset);
void osu_fetch_and_op(const osu_context *context, int target, size_t size, MPI_Aint offset);
void osu_compare_and_swap(const osu_context *context, int target, size_t size, MPI_Aint offset);

/* The sized collectives the programs time, as OSU issues them on MPI_COMM_WORLD: MPI_Bcast of
 * MPI_CHARs from rank 0; MPI_Reduce (to rank 0) and MPI_Allreduce, MPI_SUM of MPI_FLOATs;
 * MPI_Allgather and MPI_Alltoall of MPI_CHARs, `count` to or from every rank. */
extern const osu_collective osu_bcast, osu_reduce, osu_allreduce, osu_allgather, osu_alltoall;

/* The whole benchmark for programs that only describe themselves. */
int osu_main(int argc, char **argv, const osu_benchmark *benchmark);
/* The whole benchmark for a sized collective: one row per size, OSU's collective options. */
int osu_collective_main(int argc, char **argv, const char *program, const char *title,
                        const osu_collective *collective);
/* The whole benchmark for a point-to-point program (benchmark->point_to_point): one row per size. */
int osu_point_to_point_main(int argc, char **argv, const osu_benchmark *benchmark);

#endif
