/* The shared half of the OSU-style one-sided benchmarks: see osu_common.h. */
#include "osu_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum { FIELD_WIDTH = 20, PAGE_ALIGNMENT = 4096 };
/* OSU prints two decimals and, like OSU, takes -DFLOAT_PRECISION=N for more (scripts/bench uses 3,
 * so that figures of a few tens of nanoseconds keep two significant digits). */
#ifndef FLOAT_PRECISION
#define FLOAT_PRECISION 2
#endif
#define COUNT_OF(array) ((int)(sizeof(array) / sizeof((array)[0])))

/* Header wording, as OSU prints it. */
static const char *const window_calls[] = {"MPI_Win_create", "MPI_Win_allocate", "MPI_Win_create_dynamic"};
static const char *const window_names[] = {"create", "allocate", "dynamic"};
static const char *const sync_calls[] = {
    "MPI_Win_lock/unlock", "MPI_Win_post/start/complete/wait", "MPI_Win_fence",
    "MPI_Win_flush",       "MPI_Win_flush_local",              "MPI_Win_lock_all/unlock_all",
};
static const char *const sync_names[] = {"lock", "pscw", "fence", "flush", "flush_local", "lock_all"};

static int is_bandwidth(const osu_benchmark *benchmark) {
    return benchmark->measure != MEASURE_LATENCY;
}

static void usage(const osu_benchmark *benchmark) {
    if (benchmark->point_to_point) {
        fprintf(stderr, "usage: %s [-m [MIN:]MAX] [-i ITERATIONS] [-x WARMUP]%s\n", benchmark->program,
                is_bandwidth(benchmark) ? " [-W MESSAGES_PER_WINDOW]" : "");
        if (benchmark->required_ranks) fprintf(stderr, "  runs on exactly %d ranks\n", benchmark->required_ranks);
        if (benchmark->even_ranks) fprintf(stderr, "  runs on an even number of ranks: rank i sends to i + n/2\n");
        return;
    }
    if (benchmark->collective) {
        fprintf(stderr, "usage: %s%s [-i ITERATIONS] [-x WARMUP]\n", benchmark->program,
                benchmark->sizeless ? "" : " [-m [MIN:]MAX]");
        return;
    }
    fprintf(stderr, "usage: %s [-w create|allocate|dynamic] [-s", benchmark->program);
    const char *separator = " ";
    for (int sync = 0; sync < SYNC_COUNT; sync++) {
        if (benchmark->allowed_syncs & SYNC_BIT(sync)) {
            fprintf(stderr, "%s%s", separator, sync_names[sync]);
            separator = "|";
        }
    }
    fprintf(stderr, " (default %s)] [-m [MIN:]MAX] [-i ITERATIONS] [-x WARMUP]%s\n", sync_names[benchmark->default_sync],
            is_bandwidth(benchmark) ? " [-W OPS_PER_SYNC]" : "");
    if (benchmark->required_ranks) fprintf(stderr, "  runs on exactly %d ranks\n", benchmark->required_ranks);
}

/* Every rank calls this on bad usage, so the job ends cleanly instead of hanging. */
static void exit_with_usage(const osu_context *context, const char *problem) {
    if (context->rank == 0) {
        if (problem) fprintf(stderr, "%s: %s\n", context->benchmark->program, problem);
        usage(context->benchmark);
    }
    MPI_Finalize();
    exit(problem ? EXIT_FAILURE : EXIT_SUCCESS);
}

static int lookup_name(const char *const *names, int count, const char *name) {
    for (int i = 0; i < count; i++)
        if (strcasecmp(names[i], name) == 0) return i;
    return -1;
}

/* "-m MAX", "-m MIN:MAX", "-m MIN:" or "-m :MAX"; returns 0 when the text is malformed. */
static int parse_size_range(const char *text, size_t *min_size, size_t *max_size) {
    const char *colon = strchr(text, ':');
    char *end;
    if (!colon) {
        long long max = strtoll(text, &end, 10);
        if (*end || max < 1) return 0;
        *max_size = (size_t)max;
        return 1;
    }
    if (colon != text) {
        long long min = strtoll(text, &end, 10);
        if (end != colon || min < 1) return 0;
        *min_size = (size_t)min;
    }
    if (colon[1]) {
        long long max = strtoll(colon + 1, &end, 10);
        if (*end || max < 1) return 0;
        *max_size = (size_t)max;
    }
    return 1;
}

static int parse_count(const char *text, int minimum, int *count) {
    char *end;
    long value = strtol(text, &end, 10);
    if (*end || value < minimum || value > 1000000000) return 0;
    *count = (int)value;
    return 1;
}

static void parse_options(int argc, char **argv, osu_context *context) {
    const osu_benchmark *benchmark = context->benchmark;
    osu_options *o = &context->options;
    int bandwidth = is_bandwidth(benchmark);
    const char *optstring = bandwidth ? "w:s:m:i:x:W:h" : "w:s:m:i:x:h";
    *o = (osu_options){
        .window = WINDOW_ALLOCATE,
        .sync = benchmark->default_sync,
        .min_size = benchmark->default_min_size ? benchmark->default_min_size : 1,
        .max_size = benchmark->default_max_size,
        .iterations = bandwidth ? 100 : 10000,
        .iterations_large = bandwidth ? 20 : 1000,
        .warmup = bandwidth ? 10 : 100,
        .warmup_large = bandwidth ? 2 : 10,
        .operations_per_sync = 64,
    };
    if (benchmark->collective) { /* OSU's collective defaults */
        o->iterations = 1000, o->iterations_large = 100, o->warmup = 100, o->warmup_large = 10;
        optstring = benchmark->sizeless ? "i:x:h" : "m:i:x:h";
    }
    if (benchmark->point_to_point) optstring = bandwidth ? "m:i:x:W:h" : "m:i:x:h";
    int option, value;
    opterr = context->rank == 0; /* getopt's own complaint, once per job */
    while ((option = getopt(argc, argv, optstring)) != -1) {
        switch (option) {
        case 'w':
            value = lookup_name(window_names, COUNT_OF(window_names), optarg);
            if (value < 0) exit_with_usage(context, "-w takes create, allocate or dynamic");
            o->window = (window_kind)value;
            break;
        case 's':
            value = lookup_name(sync_names, COUNT_OF(sync_names), optarg);
            if (value < 0 || !(benchmark->allowed_syncs & SYNC_BIT(value)))
                exit_with_usage(context, "this synchronization is not offered here");
            o->sync = (sync_kind)value;
            break;
        case 'm':
            if (!parse_size_range(optarg, &o->min_size, &o->max_size) || o->min_size > o->max_size)
                exit_with_usage(context, "-m wants [MIN:]MAX with 1 <= MIN <= MAX");
            break;
        /* As in OSU, -i and -x set the counts for small and large messages alike. */
        case 'i':
            if (!parse_count(optarg, 1, &value)) exit_with_usage(context, "-i wants a count >= 1");
            o->iterations = o->iterations_large = value;
            break;
        case 'x':
            if (!parse_count(optarg, 0, &value)) exit_with_usage(context, "-x wants a count >= 0");
            o->warmup = o->warmup_large = value;
            break;
        case 'W':
            if (!parse_count(optarg, 1, &o->operations_per_sync)) exit_with_usage(context, "-W wants a count >= 1");
            break;
        case 'h':
            exit_with_usage(context, NULL);
            break;
        default:
            exit_with_usage(context, "unknown option");
        }
    }
    if (optind < argc) exit_with_usage(context, "unexpected argument");
}

/* A window (or a point-to-point buffer) holds the largest message; bandwidth ones hold W of
 * them, up to the cap. */
static MPI_Aint transfer_bytes_for(const osu_context *context) {
    const osu_options *o = &context->options;
    MPI_Aint largest = (MPI_Aint)(o->max_size > context->benchmark->fixed_size ? o->max_size : context->benchmark->fixed_size);
    if (!is_bandwidth(context->benchmark)) return largest;
    MPI_Aint all_operations = largest * o->operations_per_sync;
    MPI_Aint capped = all_operations < WINDOW_BYTES_CAP ? all_operations : WINDOW_BYTES_CAP;
    return capped > largest ? capped : largest;
}

static void *page_aligned(MPI_Aint bytes) {
    void *memory = NULL;
    if (posix_memalign(&memory, PAGE_ALIGNMENT, (size_t)bytes) != 0) {
        fprintf(stderr, "out of memory (%ld bytes)\n", (long)bytes);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return memory;
}

static void create_window(osu_context *context) {
    MPI_Aint bytes = context->window_bytes;
    MPI_Aint my_base = 0;
    switch (context->options.window) {
    case WINDOW_ALLOCATE:
        MPI_Win_allocate(bytes, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &context->window_memory, &context->window);
        break;
    case WINDOW_CREATE:
        context->window_memory = page_aligned(bytes);
        MPI_Win_create(context->window_memory, bytes, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &context->window);
        break;
    case WINDOW_DYNAMIC:
        context->window_memory = page_aligned(bytes);
        MPI_Win_create_dynamic(MPI_INFO_NULL, MPI_COMM_WORLD, &context->window);
        MPI_Win_attach(context->window, context->window_memory, bytes);
        MPI_Get_address(context->window_memory, &my_base);
        break;
    }
    /* Page everything in now, so no first touch lands inside a timed loop. */
    memset(context->window_memory, 0, (size_t)bytes);
    context->target_base = malloc(sizeof(MPI_Aint) * (size_t)context->ranks);
    MPI_Allgather(&my_base, 1, MPI_AINT, context->target_base, 1, MPI_AINT, MPI_COMM_WORLD);
}

/* Sized collectives: the element counts from -m, sizes below one element being one, as in OSU. */
static size_t first_count(const osu_context *context) {
    size_t count = context->options.min_size / context->benchmark->sized_collective->element_size;
    return count ? count : 1;
}

static size_t last_count(const osu_context *context) {
    size_t count = context->options.max_size / context->benchmark->sized_collective->element_size;
    return count ? count : 1;
}

static char *collective_buffer(const osu_context *context, buffer_extent extent) {
    if (extent == NO_BUFFER) return NULL;
    size_t bytes = last_count(context) * context->benchmark->sized_collective->element_size;
    if (extent == ONE_MESSAGE_PER_RANK) bytes *= (size_t)context->ranks;
    if (bytes > COLLECTIVE_BUFFER_CAP) exit_with_usage(context, "-m MAX: a buffer would exceed 64 MiB per rank");
    char *buffer = page_aligned((MPI_Aint)bytes);
    /* Bytes of 1, as OSU fills its buffers; as floats they are normal numbers, so no sum is slowed
     * down by denormals. Paged in before timing. */
    memset(buffer, 1, bytes);
    return buffer;
}

static void allocate_collective_buffers(osu_context *context) {
    context->send = collective_buffer(context, context->benchmark->sized_collective->send_extent);
    context->receive = collective_buffer(context, context->benchmark->sized_collective->receive_extent);
}

/* Send and receive buffers, paged in before timing, and the requests of one window each way. */
static void allocate_point_to_point_buffers(osu_context *context) {
    context->buffer_bytes = transfer_bytes_for(context);
    context->send = page_aligned(context->buffer_bytes);
    context->receive = page_aligned(context->buffer_bytes);
    memset(context->send, 'a', (size_t)context->buffer_bytes);
    memset(context->receive, 'b', (size_t)context->buffer_bytes);
    size_t count = 2 * (size_t)context->options.operations_per_sync;
    context->requests = malloc(sizeof(MPI_Request) * count);
    context->statuses = malloc(sizeof(MPI_Status) * count);
    if (!context->requests || !context->statuses) {
        fprintf(stderr, "out of memory (requests)\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

static void print_header(const osu_context *context) {
    if (context->rank != 0) return;
    const osu_benchmark *benchmark = context->benchmark;
    if (benchmark->point_to_point) {
        printf("# %s\n", benchmark->title);
        if (benchmark->measure == MEASURE_MULTI_PAIR)
            printf("# [ pairs: %d ] [ window size: %d ]\n", context->ranks / 2, context->options.operations_per_sync);
        printf("# Datatype: %s.\n", benchmark->datatype_name);
        if (benchmark->measure == MEASURE_MULTI_PAIR)
            printf("%-*s%*s%*s\n", 10, "# Size", FIELD_WIDTH, "MB/s", FIELD_WIDTH, "Messages/s");
        else
            printf("%-*s%*s\n", 10, "# Size", FIELD_WIDTH, is_bandwidth(benchmark) ? "Bandwidth (MB/s)" : "Latency (us)");
        fflush(stdout);
        return;
    }
    if (benchmark->collective) {
        printf("# %s\n", benchmark->title);
        if (benchmark->datatype_name) printf("# Datatype: %s.\n", benchmark->datatype_name);
        if (benchmark->sizeless) printf("# Avg Latency(us)\n");
        else printf("%-*s%*s\n", 10, "# Size", FIELD_WIDTH, "Avg Latency(us)");
        fflush(stdout);
        return;
    }
    printf("# %s\n", benchmark->title);
    printf("# Window creation: %s\n", window_calls[context->options.window]);
    printf("# Synchronization: %s\n", sync_calls[context->options.sync]);
    printf("# Datatype: %s.\n", benchmark->datatype_name);
    printf("%-*s%*s\n", 10, "# Size", FIELD_WIDTH, is_bandwidth(benchmark) ? "Bandwidth (MB/s)" : "Latency (us)");
    fflush(stdout);
}

void osu_setup(int *argc, char ***argv, const osu_benchmark *benchmark, osu_context *context) {
    MPI_Init(argc, argv);
    *context = (osu_context){.benchmark = benchmark, .peer_group = MPI_GROUP_NULL};
    MPI_Comm_rank(MPI_COMM_WORLD, &context->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &context->ranks);
    parse_options(*argc, *argv, context);
    if (benchmark->required_ranks && context->ranks != benchmark->required_ranks) {
        char problem[64];
        snprintf(problem, sizeof problem, "needs exactly %d ranks, got %d", benchmark->required_ranks, context->ranks);
        exit_with_usage(context, problem);
    }
    if (benchmark->even_ranks && context->ranks % 2 != 0) exit_with_usage(context, "needs an even number of ranks");

    if (benchmark->point_to_point) {
        allocate_point_to_point_buffers(context);
        print_header(context);
        return;
    }
    if (benchmark->collective) {
        if (benchmark->sized_collective) allocate_collective_buffers(context);
        print_header(context);
        return;
    }
    context->window_bytes = transfer_bytes_for(context);
    create_window(context);
    context->origin = page_aligned(context->window_bytes);
    memset(context->origin, 'a', (size_t)context->window_bytes);
    context->fetch_result = page_aligned(sizeof(long long));
    context->compare = page_aligned(sizeof(long long));
    *context->fetch_result = 0;
    *context->compare = 0;
    if (context->ranks == 2) {
        MPI_Group world;
        int peer = 1 - context->rank;
        MPI_Comm_group(MPI_COMM_WORLD, &world);
        MPI_Group_incl(world, 1, &peer, &context->peer_group);
        MPI_Group_free(&world);
    }
    print_header(context);
}

void osu_teardown(osu_context *context) {
    if (context->benchmark->collective || context->benchmark->point_to_point) {
        free(context->send);
        free(context->receive);
        free(context->requests);
        free(context->statuses);
        MPI_Finalize();
        return;
    }
    if (context->peer_group != MPI_GROUP_NULL) MPI_Group_free(&context->peer_group);
    if (context->options.window == WINDOW_DYNAMIC) MPI_Win_detach(context->window, context->window_memory);
    MPI_Win_free(&context->window);
    if (context->options.window != WINDOW_ALLOCATE) free(context->window_memory);
    free(context->origin);
    free(context->fetch_result);
    free(context->compare);
    free(context->target_base);
    MPI_Finalize();
}

osu_schedule osu_schedule_for(const osu_options *options, size_t size) {
    if (size > LARGE_MESSAGE_SIZE) return (osu_schedule){options->iterations_large, options->warmup_large};
    return (osu_schedule){options->iterations, options->warmup};
}

void osu_print_row(const osu_context *context, size_t size, double value) {
    if (context->rank != 0) return;
    if (context->benchmark->sizeless) printf("%*.*f\n", 17, FLOAT_PRECISION, value); /* OSU's barrier row */
    else printf("%-*zu%*.*f\n", 10, size, FIELD_WIDTH, FLOAT_PRECISION, value);
    fflush(stdout);
}

void osu_print_row_pair(const osu_context *context, size_t size, double first, double second) {
    if (context->rank != 0) return;
    printf("%-*zu%*.*f%*.*f\n", 10, size, FIELD_WIDTH, FLOAT_PRECISION, first, FIELD_WIDTH, FLOAT_PRECISION, second);
    fflush(stdout);
}

double osu_average_over_ranks(const osu_context *context, double value) {
    double sum = 0;
    MPI_Reduce(&value, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    return sum / context->ranks;
}

/* ---- the operations ---- */

/* Where `offset` lands in `target`'s window: dynamic windows address by absolute address. */
static MPI_Aint target_displacement(const osu_context *context, int target, MPI_Aint offset) {
    return context->target_base[target] + offset;
}

void osu_put(const osu_context *context, int target, size_t size, MPI_Aint offset) {
    MPI_Put(context->origin + offset, (int)size, MPI_CHAR, target, target_displacement(context, target, offset),
            (int)size, MPI_CHAR, context->window);
}

void osu_get(const osu_context *context, int target, size_t size, MPI_Aint offset) {
    MPI_Get(context->origin + offset, (int)size, MPI_CHAR, target, target_displacement(context, target, offset),
            (int)size, MPI_CHAR, context->window);
}

void osu_accumulate(const osu_context *context, int target, size_t size, MPI_Aint offset) {
    MPI_Accumulate(context->origin + offset, (int)size, MPI_CHAR, target, target_displacement(context, target, offset),
                   (int)size, MPI_CHAR, MPI_SUM, context->window);
}

void osu_fetch_and_op(const osu_context *context, int target, size_t size, MPI_Aint offset) {
    (void)size; /* always one MPI_LONG_LONG */
    MPI_Fetch_and_op(context->origin + offset, context->fetch_result, MPI_LONG_LONG, target,
                     target_displacement(context, target, offset), MPI_SUM, context->window);
}

void osu_compare_and_swap(const osu_context *context, int target, size_t size, MPI_Aint offset) {
    (void)size; /* always one MPI_LONG_LONG */
    MPI_Compare_and_swap(context->origin + offset, context->compare, context->fetch_result, MPI_LONG_LONG, target,
                         target_displacement(context, target, offset), context->window);
}

/* ---- the timed loops, one per synchronization family, as OSU runs them ---- */

/* Where message `index` of `size` bytes starts in a buffer of `bytes`: consecutive slots, wrapping
 * at its end. */
static MPI_Aint slot_offset(MPI_Aint bytes, size_t size, int index) {
    MPI_Aint slots = bytes / (MPI_Aint)size;
    return (MPI_Aint)(index % slots) * (MPI_Aint)size;
}

/* `count` operations to `target`, at consecutive slots of the window. */
static void issue_batch(const osu_context *context, int target, size_t size, int count) {
    for (int j = 0; j < count; j++)
        context->benchmark->operation(context, target, size, slot_offset(context->window_bytes, size, j));
}

static int operations_per_epoch(const osu_context *context) {
    return is_bandwidth(context->benchmark) ? context->options.operations_per_sync : 1;
}

/* lock, lock_all, flush, flush_local: only rank 0 acts; rank 1 waits in the barrier
 * that follows. flush and flush_local run inside one shared lock epoch. */
static double time_passive(const osu_context *context, size_t size, osu_schedule schedule) {
    if (context->rank != 0) return 0;
    sync_kind sync = context->options.sync;
    MPI_Win window = context->window;
    int epoch_per_iteration = sync == SYNC_LOCK || sync == SYNC_LOCK_ALL;
    double start = 0;
    if (!epoch_per_iteration) MPI_Win_lock(MPI_LOCK_SHARED, 1, 0, window);
    for (int i = 0; i < schedule.warmup + schedule.iterations; i++) {
        if (i == schedule.warmup) start = MPI_Wtime();
        if (sync == SYNC_LOCK) MPI_Win_lock(context->benchmark->passive_lock_type, 1, 0, window);
        if (sync == SYNC_LOCK_ALL) MPI_Win_lock_all(0, window);
        issue_batch(context, 1, size, operations_per_epoch(context));
        switch (sync) {
        case SYNC_LOCK: MPI_Win_unlock(1, window); break;
        case SYNC_LOCK_ALL: MPI_Win_unlock_all(window); break;
        case SYNC_FLUSH: MPI_Win_flush(1, window); break;
        case SYNC_FLUSH_LOCAL: MPI_Win_flush_local(1, window); break;
        default: break;
        }
    }
    double elapsed = MPI_Wtime() - start;
    if (!epoch_per_iteration) MPI_Win_unlock(1, window);
    return elapsed;
}

/* Latency: ping-pong over three fences (rank 0 accesses, then rank 1).
 * Bandwidth: rank 0 accesses between two fences. Bi-bandwidth: both do. */
static double time_fence(const osu_context *context, size_t size, osu_schedule schedule) {
    measure_kind measure = context->benchmark->measure;
    int peer = 1 - context->rank;
    int accesses_first = context->rank == 0 || measure == MEASURE_BIBANDWIDTH;
    double start = 0;
    for (int i = 0; i < schedule.warmup + schedule.iterations; i++) {
        if (i == schedule.warmup) start = MPI_Wtime();
        MPI_Win_fence(0, context->window);
        if (accesses_first) issue_batch(context, peer, size, operations_per_epoch(context));
        MPI_Win_fence(0, context->window);
        if (measure == MEASURE_LATENCY) {
            if (context->rank == 1) issue_batch(context, peer, size, 1);
            MPI_Win_fence(0, context->window);
        }
    }
    return MPI_Wtime() - start;
}

/* Latency: rank 0 start/op/complete then post/wait, rank 1 the mirror image.
 * Bandwidth: rank 0 start/ops/complete against rank 1's post/wait.
 * Bi-bandwidth: both post, start, operate, complete, wait. OSU starts rank 0's
 * clock after MPI_Win_start in the first two; so does this. */
static double time_pscw(const osu_context *context, size_t size, osu_schedule schedule) {
    measure_kind measure = context->benchmark->measure;
    MPI_Win window = context->window;
    MPI_Group peer_group = context->peer_group;
    int peer = 1 - context->rank;
    int count = operations_per_epoch(context);
    double start = 0;
    for (int i = 0; i < schedule.warmup + schedule.iterations; i++) {
        if (measure == MEASURE_BIBANDWIDTH) {
            if (i == schedule.warmup) start = MPI_Wtime();
            MPI_Win_post(peer_group, 0, window);
            MPI_Win_start(peer_group, 0, window);
            issue_batch(context, peer, size, count);
            MPI_Win_complete(window);
            MPI_Win_wait(window);
        } else if (context->rank == 0) {
            MPI_Win_start(peer_group, 0, window);
            if (i == schedule.warmup) start = MPI_Wtime();
            issue_batch(context, peer, size, count);
            MPI_Win_complete(window);
            if (measure == MEASURE_LATENCY) {
                MPI_Win_post(peer_group, 0, window);
                MPI_Win_wait(window);
            }
        } else {
            MPI_Win_post(peer_group, 0, window);
            MPI_Win_wait(window);
            if (measure == MEASURE_LATENCY) {
                MPI_Win_start(peer_group, 0, window);
                issue_batch(context, peer, size, 1);
                MPI_Win_complete(window);
            }
        }
    }
    return MPI_Wtime() - start;
}

static double time_one_size(const osu_context *context, size_t size, osu_schedule schedule) {
    switch (context->options.sync) {
    case SYNC_FENCE: return time_fence(context, size, schedule);
    case SYNC_PSCW: return time_pscw(context, size, schedule);
    default: return time_passive(context, size, schedule);
    }
}

/* Microseconds per operation, or MB/s (10^6 bytes per second), as OSU prints them. */
static double figure(const osu_context *context, size_t size, osu_schedule schedule, double seconds) {
    const osu_benchmark *benchmark = context->benchmark;
    sync_kind sync = context->options.sync;
    if (benchmark->measure == MEASURE_LATENCY) {
        int round_trip = sync == SYNC_FENCE || sync == SYNC_PSCW; /* ping-pong: two transfers per iteration */
        return seconds * 1e6 / schedule.iterations / (round_trip ? 2 : 1);
    }
    double megabytes = (double)size / 1e6 * schedule.iterations * context->options.operations_per_sync;
    return megabytes / seconds * (benchmark->measure == MEASURE_BIBANDWIDTH ? 2 : 1);
}

int osu_main(int argc, char **argv, const osu_benchmark *benchmark) {
    osu_context context;
    osu_setup(&argc, &argv, benchmark, &context);
    size_t first = benchmark->fixed_size ? benchmark->fixed_size : context.options.min_size;
    size_t last = benchmark->fixed_size ? benchmark->fixed_size : context.options.max_size;
    for (size_t size = first; size <= last; size *= 2) {
        osu_schedule schedule = osu_schedule_for(&context.options, size);
        MPI_Barrier(MPI_COMM_WORLD); /* stands in for OSU's per-size window creation */
        double seconds = time_one_size(&context, size, schedule);
        MPI_Barrier(MPI_COMM_WORLD);
        osu_print_row(&context, size, figure(&context, size, schedule, seconds));
    }
    osu_teardown(&context);
    return EXIT_SUCCESS;
}

/* ---- the sized collectives ---- */

static void issue_bcast(const osu_context *context, size_t count) {
    MPI_Bcast(context->send, (int)count, MPI_CHAR, 0, MPI_COMM_WORLD);
}

static void issue_reduce(const osu_context *context, size_t count) {
    MPI_Reduce(context->send, context->receive, (int)count, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD);
}

static void issue_allreduce(const osu_context *context, size_t count) {
    MPI_Allreduce(context->send, context->receive, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

static void issue_allgather(const osu_context *context, size_t count) {
    MPI_Allgather(context->send, (int)count, MPI_CHAR, context->receive, (int)count, MPI_CHAR, MPI_COMM_WORLD);
}

static void issue_alltoall(const osu_context *context, size_t count) {
    MPI_Alltoall(context->send, (int)count, MPI_CHAR, context->receive, (int)count, MPI_CHAR, MPI_COMM_WORLD);
}

/* datatype name, element size, send and receive buffer extents, the call */
const osu_collective osu_bcast = {"MPI_CHAR", 1, ONE_MESSAGE, NO_BUFFER, issue_bcast};
const osu_collective osu_reduce = {"MPI_FLOAT", sizeof(float), ONE_MESSAGE, ONE_MESSAGE, issue_reduce};
const osu_collective osu_allreduce = {"MPI_FLOAT", sizeof(float), ONE_MESSAGE, ONE_MESSAGE, issue_allreduce};
const osu_collective osu_allgather = {"MPI_CHAR", 1, ONE_MESSAGE, ONE_MESSAGE_PER_RANK, issue_allgather};
const osu_collective osu_alltoall = {"MPI_CHAR", 1, ONE_MESSAGE_PER_RANK, ONE_MESSAGE_PER_RANK, issue_alltoall};

/* Microseconds per call, the ranks' average (valid at rank 0). Each rank times the call alone; an
 * untimed MPI_Barrier follows each one, as in OSU, so a rank that returns early (a root) cannot
 * pile calls up. */
static double time_collective(const osu_context *context, size_t count, osu_schedule schedule) {
    collective_call issue = context->benchmark->sized_collective->issue;
    double timer = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    for (int i = 0; i < schedule.warmup + schedule.iterations; i++) {
        double start = MPI_Wtime();
        issue(context, count);
        double stop = MPI_Wtime();
        if (i >= schedule.warmup) timer += stop - start;
        MPI_Barrier(MPI_COMM_WORLD);
    }
    return osu_average_over_ranks(context, timer * 1e6 / schedule.iterations);
}

int osu_collective_main(int argc, char **argv, const char *program, const char *title,
                        const osu_collective *collective) {
    const osu_benchmark benchmark = {
        .program = program,
        .title = title,
        .datatype_name = collective->datatype_name,
        .measure = MEASURE_LATENCY,
        .collective = 1,
        .default_min_size = collective->element_size,
        .default_max_size = 1 << 20,
        .sized_collective = collective,
    };
    osu_context context;
    osu_setup(&argc, &argv, &benchmark, &context);
    for (size_t count = first_count(&context); count <= last_count(&context); count *= 2) {
        size_t size = count * collective->element_size;
        osu_print_row(&context, size, time_collective(&context, count, osu_schedule_for(&context.options, size)));
    }
    osu_teardown(&context);
    return EXIT_SUCCESS;
}

/* ---- point to point ---- */

enum { LATENCY_TAG = 1, DATA_TAG = 100, ACK_TAG = 101, ACK_BYTES = 4 };

/* Latency: rank 0 sends and waits for the same size back; rank 1 mirrors it. */
static double time_ping_pong(const osu_context *context, size_t size, osu_schedule schedule) {
    int peer = 1 - context->rank;
    double start = 0;
    for (int i = 0; i < schedule.warmup + schedule.iterations; i++) {
        if (i == schedule.warmup) start = MPI_Wtime();
        if (context->rank == 0) {
            MPI_Send(context->send, (int)size, MPI_CHAR, peer, LATENCY_TAG, MPI_COMM_WORLD);
            MPI_Recv(context->receive, (int)size, MPI_CHAR, peer, LATENCY_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
            MPI_Recv(context->receive, (int)size, MPI_CHAR, peer, LATENCY_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(context->send, (int)size, MPI_CHAR, peer, LATENCY_TAG, MPI_COMM_WORLD);
        }
    }
    return MPI_Wtime() - start;
}

/* One window of W nonblocking sends to (or receives from) `peer`, at consecutive slots of the
 * send (or receive) buffer, into `requests`. */
static void post_window(const osu_context *context, int peer, size_t size, int sending, MPI_Request *requests) {
    for (int j = 0; j < context->options.operations_per_sync; j++) {
        MPI_Aint offset = slot_offset(context->buffer_bytes, size, j);
        if (sending)
            MPI_Isend(context->send + offset, (int)size, MPI_CHAR, peer, DATA_TAG, MPI_COMM_WORLD, &requests[j]);
        else
            MPI_Irecv(context->receive + offset, (int)size, MPI_CHAR, peer, DATA_TAG, MPI_COMM_WORLD, &requests[j]);
    }
}

/* Bandwidth (2 ranks) and multi-pair bandwidth: rank i < n/2 sends a window to i + n/2, which
 * receives it and sends a 4-byte acknowledgement back. All ranks start the clock together (an
 * MPI_Barrier after the warm-up, as OSU's osu_mbw_mr); the senders' elapsed time, 0 elsewhere. */
static double time_streaming(const osu_context *context, size_t size, osu_schedule schedule) {
    int pairs = context->ranks / 2;
    int sender = context->rank < pairs;
    int peer = sender ? context->rank + pairs : context->rank - pairs;
    int count = context->options.operations_per_sync;
    char ack[ACK_BYTES] = {0};
    double start = 0;
    for (int i = 0; i < schedule.warmup + schedule.iterations; i++) {
        if (i == schedule.warmup) {
            MPI_Barrier(MPI_COMM_WORLD);
            start = MPI_Wtime();
        }
        post_window(context, peer, size, sender, context->requests);
        MPI_Waitall(count, context->requests, context->statuses);
        if (sender) MPI_Recv(ack, ACK_BYTES, MPI_CHAR, peer, ACK_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        else MPI_Send(ack, ACK_BYTES, MPI_CHAR, peer, ACK_TAG, MPI_COMM_WORLD);
    }
    return sender ? MPI_Wtime() - start : 0;
}

/* Bi-directional bandwidth: both ranks post W receives and W sends, then wait for all 2 W. */
static double time_bidirectional(const osu_context *context, size_t size, osu_schedule schedule) {
    int peer = 1 - context->rank;
    int count = context->options.operations_per_sync;
    double start = 0;
    for (int i = 0; i < schedule.warmup + schedule.iterations; i++) {
        if (i == schedule.warmup) start = MPI_Wtime();
        post_window(context, peer, size, 0, context->requests);
        post_window(context, peer, size, 1, context->requests + count);
        MPI_Waitall(2 * count, context->requests, context->statuses);
    }
    return MPI_Wtime() - start;
}

int osu_point_to_point_main(int argc, char **argv, const osu_benchmark *benchmark) {
    osu_context context;
    osu_setup(&argc, &argv, benchmark, &context);
    int pairs = context.ranks / 2;
    for (size_t size = context.options.min_size; size <= context.options.max_size; size *= 2) {
        osu_schedule schedule = osu_schedule_for(&context.options, size);
        double megabytes = (double)size / 1e6 * schedule.iterations * context.options.operations_per_sync;
        MPI_Barrier(MPI_COMM_WORLD);
        switch (benchmark->measure) {
        case MEASURE_LATENCY: {
            double seconds = time_ping_pong(&context, size, schedule);
            osu_print_row(&context, size, seconds * 1e6 / schedule.iterations / 2); /* half the round trip */
            break;
        }
        case MEASURE_BANDWIDTH:
            osu_print_row(&context, size, megabytes / time_streaming(&context, size, schedule));
            break;
        case MEASURE_BIBANDWIDTH:
            osu_print_row(&context, size, 2 * megabytes / time_bidirectional(&context, size, schedule));
            break;
        case MEASURE_MULTI_PAIR: {
            /* As OSU: the senders' times averaged, every pair's bytes counted. */
            double seconds = time_streaming(&context, size, schedule), total = 0;
            MPI_Reduce(&seconds, &total, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
            double bandwidth = megabytes * pairs / (total / pairs);
            osu_print_row_pair(&context, size, bandwidth, bandwidth * 1e6 / (double)size);
            break;
        }
        }
        MPI_Barrier(MPI_COMM_WORLD);
    }
    osu_teardown(&context);
    return EXIT_SUCCESS;
}
