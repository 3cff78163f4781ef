/*
 * Randomized stress: `stress SEED EPOCHS`. Every rank draws the same plan from a PRNG seeded
 * with SEED (each epoch: a window, a synchronization mode, read or write, and every rank's
 * operations), then runs its own part of it. Two windows: one from MPI_Win_allocate, one from
 * MPI_Win_create over malloc'd memory.
 *
 * Modes: fence (NOSUCCEED where it holds), post/start/complete/wait (all ranks
 * including self, or a ring shift), lock/unlock per operation (shared or exclusive),
 * lock_all with flush/flush_local/flush_all/flush_local_all, and lock_all with local stores
 * published by MPI_Win_sync. Operations: put, rput, get, rget (contiguous, or into a vector
 * datatype with stride 2 at the target), accumulate (REPLACE, or one of SUM, BXOR, BOR, BAND,
 * MAX, MIN per epoch), get_accumulate, fetch_and_op, compare_and_swap.
 *
 * The outcome is deterministic whatever the timing, so two correct MPI implementations print
 * the same digests:
 *   - a write epoch only writes: puts (and REPLACE) into the origin's own slots of the target's
 *     put zone (one slot per operation), accumulates of the epoch's single commutative op into
 *     the shared zone, fetching atomics into the origin's own atomic cells (one cell per
 *     operation), and fetch_and_op SUM 1 on each target's contended counter;
 *   - a read epoch only reads (get, rget, get_accumulate and fetch_and_op with MPI_NO_OP);
 *   - epochs are separated by a barrier, or by a fence on the epoch's window.
 * Values fetched from the contended counters depend on timing, so they are checked instead:
 * each counter ends at the number of increments it got, and the values fetched from it sum to
 * 0 + 1 + ... + (count - 1). Compare-and-swap results are checked against the value the plan
 * says the cell holds.
 *
 * Rank 0 prints, for every rank, "digest rank=R allocate=H create=H fetched=H" (FNV-1a over the
 * final contents of both windows and over every value the rank fetched, in order), one line
 * "modes ..." and one "operations ..." with the count of each kind, then "PASS stress".
 */
#include "common.h"

/* Per rank's window, in long longs: a put zone of ZONE elements per origin (SLOTS slots of
 * SLOT), a shared accumulate zone of ACC, ATOMIC atomic cells per origin, one contended counter. */
enum { MAX_RANKS = 64, ZONE = 64, SLOTS = 4, SLOT = 16, ACC = 64, ATOMIC = 16, MAX_VECTOR = 8 };

typedef enum { FENCE, PSCW, LOCK, LOCK_ALL, WIN_SYNC, MODE_COUNT } sync_mode;
static const char *mode_names[MODE_COUNT] = {"fence", "pscw", "lock", "lock_all", "win_sync"};

typedef enum {
    /* write epochs */
    PUT, PUT_VECTOR, RPUT, ACC_REPLACE, ACC_SHARED, ACC_SHARED_VECTOR, GET_ACC, FOP, CAS, COUNTER,
    /* read epochs */
    GET, GET_VECTOR, RGET, GET_ACC_NO_OP, FOP_NO_OP,
    KIND_COUNT
} op_kind;
static const char *kind_names[KIND_COUNT] = {
    "put", "put_vector", "rput", "acc_replace", "acc_shared", "acc_shared_vector", "get_accumulate",
    "fetch_and_op", "compare_and_swap", "contended_fetch_and_op", "get", "get_vector", "rget",
    "get_accumulate_no_op", "fetch_and_op_no_op"};

typedef struct {
    op_kind kind;
    int target;
    MPI_Aint disp;  /* at the target, in elements */
    int count;      /* elements at the origin */
    MPI_Op op;
    int lock_type;  /* lock mode */
    int flush;      /* lock_all mode: 0 none, 1 flush, 2 flush_local, 3 flush_all, 4 flush_local_all */
    long long values[SLOT];
    long long compare, expected_old; /* compare_and_swap */
    long long result[SLOT];
    int fetched;    /* how many of result[] go to the digest */
} operation;

typedef struct {
    sync_mode mode;
    int window;     /* 0: MPI_Win_allocate, 1: MPI_Win_create */
    int writes;
    int shift;      /* pscw: 0 = every rank with every rank, else target rank + shift */
    int lock_all_assert;
    MPI_Op shared_op;
    int counts[MAX_RANKS]; /* operations per rank */
    operation ops[MAX_RANKS][SLOTS];
    long long local[ZONE]; /* win_sync: stored by each rank into its own put zone, XOR its rank */
} epoch_plan;

static uint64_t rng_state;
static uint64_t next_random(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static int below(int n) { return (int)(next_random() % (uint64_t)n); }
static long long big_value(void) { return (long long)(next_random() >> 20); }
static long long small_value(void) { return (long long)below(1000) - 500; }

static int ranks, elements;
static MPI_Aint acc_base, atomic_base, counter_index;
static MPI_Datatype vector_types[MAX_VECTOR + 1]; /* vector_types[m]: m long longs, stride 2 */
static long long *cas_shadow;     /* [window][origin][target][slot]: what the plan says the cell holds */
static long long *counter_totals; /* [window][target]: increments the target's counter got */
static long long kind_totals[KIND_COUNT], mode_totals[MODE_COUNT];

static MPI_Aint slot_disp(int origin, int slot) { return (MPI_Aint)origin * ZONE + slot * SLOT; }
static MPI_Aint atomic_disp(int origin) { return atomic_base + (MPI_Aint)origin * ATOMIC; }
static long long *shadow(int window, int origin, int target, int slot) {
    return &cas_shadow[(((size_t)window * ranks + origin) * ranks + target) * SLOTS + slot];
}

static void plan_write(operation *o, int window, int origin, int slot, int passive, MPI_Op shared_op) {
    static const MPI_Op fop_ops[] = {MPI_SUM, MPI_REPLACE, MPI_MAX, MPI_MIN, MPI_BXOR, MPI_BAND, MPI_BOR, MPI_NO_OP};
    static const MPI_Op get_acc_ops[] = {MPI_SUM, MPI_REPLACE, MPI_BXOR, MPI_MAX, MPI_MIN, MPI_NO_OP};
    do o->kind = (op_kind)below(COUNTER + 1); while (o->kind == RPUT && !passive);
    o->fetched = 0;
    switch (o->kind) {
    case PUT: case RPUT: case ACC_REPLACE:
        o->count = 1 + below(SLOT);
        o->disp = slot_disp(origin, slot);
        o->op = MPI_REPLACE;
        for (int i = 0; i < o->count; i++) o->values[i] = big_value();
        break;
    case PUT_VECTOR:
        o->count = 1 + below(MAX_VECTOR);
        o->disp = slot_disp(origin, slot);
        for (int i = 0; i < o->count; i++) o->values[i] = big_value();
        break;
    case ACC_SHARED:
        o->count = 1 + below(MAX_VECTOR);
        o->disp = acc_base + below(ACC - o->count + 1);
        o->op = shared_op;
        for (int i = 0; i < o->count; i++) o->values[i] = small_value();
        break;
    case ACC_SHARED_VECTOR:
        o->count = 1 + below(MAX_VECTOR);
        o->disp = acc_base + below(ACC - (2 * o->count - 1) + 1);
        o->op = shared_op;
        for (int i = 0; i < o->count; i++) o->values[i] = small_value();
        break;
    case GET_ACC:
        o->count = 1 + below(2);
        o->disp = atomic_disp(origin) + 2 * slot;
        o->op = get_acc_ops[below(6)];
        for (int i = 0; i < o->count; i++) o->values[i] = small_value();
        o->fetched = o->count;
        break;
    case FOP:
        o->count = 1;
        o->disp = atomic_disp(origin) + 2 * slot;
        o->op = fop_ops[below(8)];
        o->values[0] = small_value();
        o->fetched = 1;
        break;
    case CAS: {
        o->count = 1;
        o->disp = atomic_disp(origin) + 2 * SLOTS + slot;
        long long *cell = shadow(window, origin, o->target, slot);
        o->compare = below(4) ? *cell : *cell + 1;
        o->values[0] = big_value();
        o->expected_old = *cell;
        if (o->compare == *cell) *cell = o->values[0];
        o->fetched = 1;
        break;
    }
    case COUNTER:
        o->count = 1;
        o->disp = counter_index;
        o->op = MPI_SUM;
        o->values[0] = 1;
        counter_totals[window * ranks + o->target]++;
        break;
    default:
        CHECK(0, "not a write operation: %d", o->kind);
    }
}

static void plan_read(operation *o, int passive) {
    do o->kind = (op_kind)(GET + below(FOP_NO_OP - GET + 1)); while (o->kind == RGET && !passive);
    o->op = MPI_NO_OP;
    switch (o->kind) {
    case GET: case RGET:
        o->count = 1 + below(SLOT);
        o->disp = below(elements - o->count + 1);
        break;
    case GET_VECTOR:
        o->count = 1 + below(MAX_VECTOR);
        o->disp = below(elements - (2 * o->count - 1) + 1);
        break;
    case GET_ACC_NO_OP:
        o->count = 1 + below(4);
        o->disp = below(elements - o->count + 1);
        break;
    case FOP_NO_OP:
        o->count = 1;
        o->disp = below(elements);
        break;
    default:
        CHECK(0, "not a read operation: %d", o->kind);
    }
    o->fetched = o->count;
}

static void make_plan(epoch_plan *p) {
    static const MPI_Op shared_ops[] = {MPI_SUM, MPI_BXOR, MPI_BOR, MPI_BAND, MPI_MAX, MPI_MIN};
    p->mode = (sync_mode)below(MODE_COUNT);
    p->window = below(2);
    p->writes = p->mode == WIN_SYNC ? 0 : below(2);
    p->shift = p->mode == PSCW ? below(ranks) : 0;
    p->lock_all_assert = below(2) ? MPI_MODE_NOCHECK : 0;
    p->shared_op = shared_ops[below(6)];
    const int passive = p->mode == LOCK || p->mode == LOCK_ALL || p->mode == WIN_SYNC;
    for (int i = 0; i < ZONE; i++) p->local[i] = big_value();
    for (int origin = 0; origin < ranks; origin++) {
        p->counts[origin] = 1 + below(SLOTS);
        for (int slot = 0; slot < p->counts[origin]; slot++) {
            operation *o = &p->ops[origin][slot];
            o->target = p->mode == PSCW && p->shift ? (origin + p->shift) % ranks : below(ranks);
            o->lock_type = below(2) ? MPI_LOCK_SHARED : MPI_LOCK_EXCLUSIVE;
            o->flush = below(5);
            if (p->writes) plan_write(o, p->window, origin, slot, passive, p->shared_op);
            else plan_read(o, passive);
            if (origin == world_rank) kind_totals[o->kind]++;
        }
    }
    mode_totals[p->mode]++;
}

/* Issues one operation; rput and rget leave their request in *request. */
static void issue(operation *o, MPI_Win win, MPI_Request *request) {
    const MPI_Datatype ll = MPI_LONG_LONG;
    *request = MPI_REQUEST_NULL;
    switch (o->kind) {
    case PUT: MPI_OK(MPI_Put(o->values, o->count, ll, o->target, o->disp, o->count, ll, win)); break;
    case PUT_VECTOR:
        MPI_OK(MPI_Put(o->values, o->count, ll, o->target, o->disp, 1, vector_types[o->count], win));
        break;
    case RPUT: MPI_OK(MPI_Rput(o->values, o->count, ll, o->target, o->disp, o->count, ll, win, request)); break;
    case ACC_REPLACE: case ACC_SHARED:
        MPI_OK(MPI_Accumulate(o->values, o->count, ll, o->target, o->disp, o->count, ll, o->op, win));
        break;
    case ACC_SHARED_VECTOR:
        MPI_OK(MPI_Accumulate(o->values, o->count, ll, o->target, o->disp, 1, vector_types[o->count], o->op, win));
        break;
    case GET_ACC: case GET_ACC_NO_OP:
        MPI_OK(MPI_Get_accumulate(o->values, o->count, ll, o->result, o->count, ll, o->target, o->disp, o->count, ll,
                                  o->op, win));
        break;
    case FOP: case FOP_NO_OP: case COUNTER:
        MPI_OK(MPI_Fetch_and_op(o->values, o->result, ll, o->target, o->disp, o->op, win));
        break;
    case CAS: MPI_OK(MPI_Compare_and_swap(o->values, &o->compare, o->result, ll, o->target, o->disp, win)); break;
    case GET: MPI_OK(MPI_Get(o->result, o->count, ll, o->target, o->disp, o->count, ll, win)); break;
    case GET_VECTOR:
        MPI_OK(MPI_Get(o->result, o->count, ll, o->target, o->disp, 1, vector_types[o->count], win));
        break;
    case RGET: MPI_OK(MPI_Rget(o->result, o->count, ll, o->target, o->disp, o->count, ll, win, request)); break;
    default: CHECK(0, "unknown operation kind %d", o->kind);
    }
}

static void flush_after(const operation *o, MPI_Win win) {
    switch (o->flush) {
    case 1: MPI_OK(MPI_Win_flush(o->target, win)); break;
    case 2: MPI_OK(MPI_Win_flush_local(o->target, win)); break;
    case 3: MPI_OK(MPI_Win_flush_all(win)); break;
    case 4: MPI_OK(MPI_Win_flush_local_all(win)); break;
    default: break;
    }
}

static uint64_t fnv(uint64_t hash, const long long *values, size_t n) {
    const unsigned char *bytes = (const unsigned char *)values;
    for (size_t i = 0; i < n * sizeof(long long); i++) hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
    return hash;
}

/* A collective between epochs, drawn from the plan's PRNG alike on every rank: a barrier, a
 * broadcast or a reduction, now and then of more elements than one of the library's steps
 * carries. Every rank's buffer joins its digest. */
static uint64_t collective_between_epochs(uint64_t digest) {
    const int kind = below(4), root = below(ranks);
    const int count = below(4) == 0 ? 1 + below(20000) : 1 + below(64);
    long long *values = xmalloc((size_t)count * sizeof(long long));
    for (int i = 0; i < count; i++) values[i] = small_value() * (world_rank + 1);
    switch (kind) {
    case 0: MPI_OK(MPI_Barrier(MPI_COMM_WORLD)); break;
    case 1: MPI_OK(MPI_Bcast(values, count, MPI_LONG_LONG, root, MPI_COMM_WORLD)); break;
    case 2: MPI_OK(MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD)); break;
    default:
        MPI_OK(MPI_Reduce(world_rank == root ? MPI_IN_PLACE : values, values, count, MPI_LONG_LONG, MPI_MAX, root,
                          MPI_COMM_WORLD));
    }
    digest = fnv(digest, values, (size_t)count);
    free(values);
    return digest;
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "stress");
    CHECK(argc == 3, "usage: stress SEED EPOCHS");
    CHECK(world_size <= MAX_RANKS, "at most %d ranks", MAX_RANKS);
    const unsigned long long seed = strtoull(argv[1], NULL, 10);
    const int epochs = atoi(argv[2]);
    rng_state = seed;
    ranks = world_size;
    acc_base = (MPI_Aint)ranks * ZONE;
    atomic_base = acc_base + ACC;
    counter_index = atomic_base + (MPI_Aint)ranks * ATOMIC;
    elements = (int)counter_index + 1;
    cas_shadow = calloc((size_t)2 * ranks * ranks * SLOTS, sizeof(long long));
    counter_totals = calloc((size_t)2 * ranks, sizeof(long long));
    CHECK(cas_shadow && counter_totals, "out of memory");
    for (int m = 1; m <= MAX_VECTOR; m++) {
        MPI_OK(MPI_Type_vector(m, 1, 2, MPI_LONG_LONG, &vector_types[m]));
        MPI_OK(MPI_Type_commit(&vector_types[m]));
    }

    const MPI_Aint bytes = window_bytes((MPI_Aint)elements * sizeof(long long));
    long long *memory[2];
    MPI_Win windows[2];
    MPI_OK(MPI_Win_allocate(bytes, sizeof(long long), MPI_INFO_NULL, MPI_COMM_WORLD, &memory[0], &windows[0]));
    memory[1] = xmalloc(bytes);
    MPI_OK(MPI_Win_create(memory[1], bytes, sizeof(long long), MPI_INFO_NULL, MPI_COMM_WORLD, &windows[1]));
    for (int w = 0; w < 2; w++) memset(memory[w], 0, bytes);
    MPI_Group world_group;
    MPI_OK(MPI_Comm_group(MPI_COMM_WORLD, &world_group));

    /* Plans are made one epoch ahead, so a closing fence knows whether the next epoch on its
     * window is a fence epoch too (then it opens it) or not (MPI_MODE_NOSUCCEED). */
    epoch_plan *plans = xmalloc(2 * sizeof(epoch_plan));
    int fence_open[2] = {0, 0};
    uint64_t fetched_digest = 0xcbf29ce484222325ULL;
    long long *contended_sums = calloc((size_t)2 * ranks, sizeof(long long)); /* [window][target] */
    CHECK(contended_sums != NULL, "out of memory");
    make_plan(&plans[0]);
    for (int e = 0; e < epochs; e++) {
        epoch_plan *p = &plans[e % 2], *next = &plans[(e + 1) % 2];
        if (e + 1 < epochs) make_plan(next);
        const int next_is_fence_here = e + 1 < epochs && next->mode == FENCE && next->window == p->window;
        MPI_Win win = windows[p->window];
        operation *mine = p->ops[world_rank];
        const int count = p->counts[world_rank];
        MPI_Request requests[SLOTS];
        MPI_Status statuses[SLOTS];
        for (int i = 0; i < SLOTS; i++) requests[i] = MPI_REQUEST_NULL;

        /* A fence separates epochs by itself (it completes every operation on the window issued
         * before it, passive ones included); the other modes need a barrier. */
        if (p->mode != FENCE) MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        switch (p->mode) {
        case FENCE:
            if (!fence_open[p->window]) MPI_OK(MPI_Win_fence(0, win));
            for (int i = 0; i < count; i++) issue(&mine[i], win, &requests[i]);
            MPI_OK(MPI_Win_fence(next_is_fence_here ? 0 : MPI_MODE_NOSUCCEED, win));
            fence_open[p->window] = next_is_fence_here;
            break;
        case PSCW: {
            MPI_Group exposed = world_group, accessed = world_group;
            if (p->shift) {
                int origin = (world_rank - p->shift + ranks) % ranks, target = (world_rank + p->shift) % ranks;
                MPI_OK(MPI_Group_incl(world_group, 1, &origin, &exposed));
                MPI_OK(MPI_Group_incl(world_group, 1, &target, &accessed));
            }
            MPI_OK(MPI_Win_post(exposed, 0, win));
            MPI_OK(MPI_Win_start(accessed, 0, win));
            for (int i = 0; i < count; i++) issue(&mine[i], win, &requests[i]);
            MPI_OK(MPI_Win_complete(win));
            MPI_OK(MPI_Win_wait(win));
            if (p->shift) {
                MPI_OK(MPI_Group_free(&exposed));
                MPI_OK(MPI_Group_free(&accessed));
            }
            break;
        }
        case LOCK:
            for (int i = 0; i < count; i++) {
                MPI_OK(MPI_Win_lock(mine[i].lock_type, mine[i].target, 0, win));
                issue(&mine[i], win, &requests[i]);
                MPI_OK(MPI_Wait(&requests[i], &statuses[i]));
                MPI_OK(MPI_Win_unlock(mine[i].target, win));
            }
            break;
        case LOCK_ALL:
            MPI_OK(MPI_Win_lock_all(p->lock_all_assert, win));
            for (int i = 0; i < count; i++) {
                issue(&mine[i], win, &requests[i]);
                flush_after(&mine[i], win);
            }
            MPI_OK(MPI_Waitall(count, requests, statuses));
            MPI_OK(MPI_Win_unlock_all(win));
            break;
        case WIN_SYNC:
            MPI_OK(MPI_Win_lock_all(0, win));
            for (int i = 0; i < ZONE; i++) memory[p->window][slot_disp(world_rank, 0) + i] = p->local[i] ^ world_rank;
            MPI_OK(MPI_Win_sync(win));
            MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
            MPI_OK(MPI_Win_sync(win));
            for (int i = 0; i < count; i++) issue(&mine[i], win, &requests[i]);
            MPI_OK(MPI_Waitall(count, requests, statuses));
            MPI_OK(MPI_Win_unlock_all(win));
            break;
        default:
            CHECK(0, "unknown mode %d", p->mode);
        }

        fetched_digest = collective_between_epochs(fetched_digest);
        for (int i = 0; i < count; i++) {
            operation *o = &mine[i];
            if (o->kind == COUNTER) contended_sums[p->window * ranks + o->target] += o->result[0];
            if (o->kind == CAS) {
                char what[160];
                snprintf(what, sizeof what, "epoch %d: compare_and_swap on rank %d's cell %lld fetched", e, o->target,
                         (long long)o->disp);
                CHECK_EQ_LL(o->result[0], o->expected_old, what);
            }
            fetched_digest = fnv(fetched_digest, o->result, (size_t)o->fetched);
        }
    }

    /* Every rank's last passive epoch is over before anyone reads its window. */
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    uint64_t window_digests[2];
    for (int w = 0; w < 2; w++) {
        MPI_OK(MPI_Win_fence((fence_open[w] ? 0 : MPI_MODE_NOPRECEDE) | MPI_MODE_NOSUCCEED, windows[w]));
        window_digests[w] = fnv(0xcbf29ce484222325ULL, memory[w], (size_t)elements);
    }
    MPI_OK(MPI_Allreduce(MPI_IN_PLACE, contended_sums, 2 * ranks, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD));
    for (int w = 0; w < 2; w++) {
        const long long increments = counter_totals[w * ranks + world_rank];
        char what[160];
        snprintf(what, sizeof what, "window %d: contended counter after %lld fetch_and_op increments", w, increments);
        CHECK_EQ_LL(memory[w][counter_index], increments, what);
        snprintf(what, sizeof what, "window %d: sum of the values the %lld increments fetched", w, increments);
        CHECK_EQ_LL(contended_sums[w * ranks + world_rank], increments * (increments - 1) / 2, what);
    }

    uint64_t mine[3] = {window_digests[0], window_digests[1], fetched_digest};
    uint64_t *all = xmalloc(3 * sizeof(uint64_t) * ranks);
    MPI_OK(MPI_Gather(mine, 3, MPI_UINT64_T, all, 3, MPI_UINT64_T, 0, MPI_COMM_WORLD));
    MPI_OK(MPI_Allreduce(MPI_IN_PLACE, kind_totals, KIND_COUNT, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD));
    if (world_rank == 0) {
        for (int r = 0; r < ranks; r++)
            printf("digest rank=%d allocate=%016llx create=%016llx fetched=%016llx\n", r,
                   (unsigned long long)all[3 * r], (unsigned long long)all[3 * r + 1],
                   (unsigned long long)all[3 * r + 2]);
        printf("modes");
        for (int m = 0; m < MODE_COUNT; m++) printf(" %s=%lld", mode_names[m], mode_totals[m]);
        printf("\noperations");
        for (int k = 0; k < KIND_COUNT; k++) printf(" %s=%lld", kind_names[k], kind_totals[k]);
        printf("\n");
    }
    for (int w = 0; w < 2; w++) MPI_OK(MPI_Win_free(&windows[w]));
    for (int m = 1; m <= MAX_VECTOR; m++) MPI_OK(MPI_Type_free(&vector_types[m]));
    MPI_OK(MPI_Group_free(&world_group));
    free(memory[1]);
    free(plans);
    free(all);
    free(cas_shadow);
    free(counter_totals);
    free(contended_sums);
    return test_finish();
}
