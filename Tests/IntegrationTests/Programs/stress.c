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
 * Every epoch also exchanges point-to-point messages on MPI_COMM_WORLD, drawn from the same
 * PRNG: during the epoch (every mode but lock) or after its collective. One pattern an epoch:
 *   - pairs: a random matching, blocking MPI_Send or MPI_Ssend one way then the other, received
 *     from the partner, from MPI_ANY_SOURCE, or after an MPI_Probe (of the partner, or of
 *     MPI_ANY_SOURCE and MPI_ANY_TAG); an odd rank out sends to itself with MPI_Sendrecv;
 *   - ring: MPI_Isend/MPI_Irecv to rank + shift (receives posted first or last, by tag or
 *     MPI_ANY_TAG, from the sender or MPI_ANY_SOURCE), completed by MPI_Waitall, MPI_Waitany,
 *     MPI_Testall or MPI_Waitsome; inside a lock_all or win_sync epoch the same array also
 *     holds the epoch's rput and rget requests;
 *   - any_source: a root receives from a random set of senders (itself maybe) by MPI_Recv or
 *     MPI_Irecv + MPI_Waitall from MPI_ANY_SOURCE (by MPI_ANY_TAG, one tag, or one tag then
 *     another), checks each source is one of the senders, and folds per source in rank order
 *     (the order within a source is MPI's non-overtaking order, so the fold is deterministic);
 *   - sendrecv: MPI_Sendrecv (or MPI_Sendrecv_replace) to rank + shift, by source or ANY_SOURCE.
 * Messages are 0 B to 300 KiB of bytes, or ints through a strided datatype on the sending side,
 * the receiving side, both, or a receive of whole strided elements of a message that ends
 * mid-element (MPI_Get_count is MPI_UNDEFINED). Contents come from SEED, the epoch, sender,
 * receiver and index. Each receive's buffer (with a guard after it) and its status (source, tag,
 * MPI_Get_count, MPI_Get_elements, MPI_Test_cancelled), and each probe's status but for the
 * cancelled bit, go into the rank's "received" digest.
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
 * Rank 0 prints, for every rank, "digest rank=R allocate=H create=H fetched=H received=H" (FNV-1a
 * over the final contents of both windows, over every value the rank fetched, in order, and over
 * every message it received), one line "modes ...", one "operations ..." with the count of each
 * kind and one "point_to_point ..." with the count of each pattern and kind of message, then
 * "PASS stress".
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

/* Point-to-point: up to MAX_MESSAGES messages from each sender an epoch, each received into a
 * buffer with GUARD bytes after it. A strided element is 6 ints (ints 0-2 and 4-6 of 8). */
enum { MAX_MESSAGES = 3, GUARD = 16, LARGE_MESSAGE = 64 << 10, MAX_MESSAGE = 300 << 10,
       STRIDED_INTS = 6, STRIDED_EXTENT = 32, RECEIVE_FILL = 0xa5 };

typedef enum { PAIRS, RING, ANY_SOURCE, SENDRECV, P2P_COUNT } p2p_kind; /* named in p2p_total_names */

/* How a message is laid out: bytes both sides, or ints with the strided type at the sender, the
 * receiver, both, or a receive of size + 1 strided elements of 6 * size + 3 contiguous ints. */
typedef enum { AS_BYTES, STRIDED_SEND, STRIDED_RECV, STRIDED_BOTH, STRIDED_SHORT, LAYOUT_COUNT } layout;

typedef struct {
    layout how;
    int size; /* AS_BYTES: bytes; otherwise strided elements */
} message;

typedef struct {
    p2p_kind kind;
    int inside;          /* during the epoch rather than after its collective (never in lock mode) */
    int shift;           /* ring, sendrecv: to rank + shift, from rank - shift */
    int count;           /* messages from each sender */
    int tag;             /* the first tag */
    int order[MAX_RANKS]; /* pairs: order[2i] sends first to order[2i + 1]; an odd last one to itself */
    int root;            /* any_source */
    int senders[MAX_RANKS];
    int synchronous;     /* pairs: MPI_Ssend */
    int receive_how;     /* pairs: 0 from the partner, 1 MPI_ANY_SOURCE, 2 probe, 3 probe ANY_SOURCE/ANY_TAG */
    int any_tag, any_source, receives_first; /* ring (any_source: sendrecv too) */
    int completion;      /* ring: 0 MPI_Waitall, 1 MPI_Waitany, 2 MPI_Testall, 3 MPI_Waitsome */
    int tag_mode;        /* any_source: 0 MPI_ANY_TAG, 1 one tag, 2 tag then tag + 1 */
    int nonblocking;     /* any_source: MPI_Irecv + MPI_Waitall */
    int replace;         /* sendrecv: MPI_Sendrecv_replace */
    message messages[MAX_RANKS][MAX_MESSAGES]; /* [sender][index] */
} p2p_plan;

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
    p2p_plan p2p;
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

/* ---- point-to-point ---- */

static uint64_t seed_value, received_digest = 0xcbf29ce484222325ULL;
static MPI_Datatype strided_type; /* 6 ints of 8: ints 0-2 and 4-6 */
/* pairs, ring, any_source, sendrecv, then the extra counters below */
enum { P2P_INSIDE = P2P_COUNT, P2P_WITH_RMA_REQUESTS, P2P_MESSAGES, P2P_EMPTY, P2P_LARGE, P2P_STRIDED,
       P2P_STRIDED_SHORT, P2P_TOTAL_COUNT };
static const char *p2p_total_names[P2P_TOTAL_COUNT] = {
    "pairs", "ring", "any_source", "sendrecv", "inside_epoch", "with_rma_requests", "messages", "empty", "large",
    "strided", "strided_short"};
static long long p2p_totals[P2P_TOTAL_COUNT];

static uint64_t fnv_bytes(uint64_t hash, const void *data, size_t n) {
    const unsigned char *bytes = data;
    for (size_t i = 0; i < n; i++) hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
    return hash;
}

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Bytes of a message, mostly small: 0 (3 in 32), up to 256 (12 in 32), up to 16 KiB (12 in 32),
 * up to 64 KiB (4 in 32), up to 300 KiB (1 in 32: large messages cost most of the run time). */
static int message_bytes(void) {
    const int bucket = below(32);
    if (bucket < 3) return 0;
    if (bucket < 15) return 1 + below(256);
    if (bucket < 27) return 257 + below(16 << 10);
    if (bucket < 31) return below(LARGE_MESSAGE);
    return LARGE_MESSAGE + below(MAX_MESSAGE - LARGE_MESSAGE + 1);
}

static message draw_message(int strided_allowed) {
    message m;
    const int bytes = message_bytes();
    m.how = strided_allowed && below(4) == 0 ? (layout)(1 + below(LAYOUT_COUNT - 1)) : AS_BYTES;
    m.size = m.how == AS_BYTES ? bytes : bytes / (STRIDED_INTS * (int)sizeof(int));
    return m;
}

static void make_p2p_plan(p2p_plan *q, sync_mode mode, int epoch) {
    q->kind = (p2p_kind)below(P2P_COUNT);
    q->inside = below(2) && mode != LOCK;
    q->shift = ranks > 1 ? 1 + below(ranks - 1) : 0;
    q->count = 1 + below(MAX_MESSAGES);
    q->tag = 1 + 4 * (epoch % 8000); /* no message matches a receive of another epoch's tag */
    for (int i = 0; i < ranks; i++) q->order[i] = i;
    for (int i = ranks - 1; i > 0; i--) {
        const int j = below(i + 1), t = q->order[i];
        q->order[i] = q->order[j];
        q->order[j] = t;
    }
    q->root = below(ranks);
    int any = 0;
    for (int r = 0; r < ranks; r++) any |= q->senders[r] = below(2);
    if (!any) q->senders[(q->root + 1) % ranks] = 1;
    q->synchronous = below(2);
    q->receive_how = below(4);
    q->any_tag = below(2);
    q->any_source = below(2);
    q->receives_first = below(2);
    q->completion = below(4);
    q->tag_mode = below(3);
    q->nonblocking = below(2);
    q->replace = below(3) == 0;
    for (int s = 0; s < ranks; s++)
        for (int j = 0; j < MAX_MESSAGES; j++) q->messages[s][j] = draw_message(q->kind != ANY_SOURCE);
    if (q->kind == SENDRECV && q->replace) /* one buffer and type for both directions: the same message everywhere */
        for (int j = 0; j < MAX_MESSAGES; j++) {
            message *m = &q->messages[0][j];
            if (m->how != AS_BYTES) m->how = STRIDED_BOTH;
            for (int s = 1; s < ranks; s++) q->messages[s][j] = *m;
        }

    p2p_totals[q->kind]++;
    p2p_totals[P2P_INSIDE] += q->inside;
    p2p_totals[P2P_WITH_RMA_REQUESTS] += q->inside && q->kind == RING && (mode == LOCK_ALL || mode == WIN_SYNC);
    for (int s = 0; s < ranks; s++) {
        if (q->kind == ANY_SOURCE && !q->senders[s]) continue;
        for (int j = 0; j < q->count; j++) {
            const message *m = &q->messages[s][j];
            p2p_totals[P2P_MESSAGES]++;
            p2p_totals[P2P_EMPTY] += m->size == 0;
            p2p_totals[P2P_LARGE] += (long long)m->size * (m->how == AS_BYTES ? 1 : STRIDED_EXTENT) >= LARGE_MESSAGE;
            p2p_totals[P2P_STRIDED] += m->how != AS_BYTES;
            p2p_totals[P2P_STRIDED_SHORT] += m->how == STRIDED_SHORT;
        }
    }
}

/* One side of a message: its buffer (bytes, then GUARD more), count and type. */
typedef struct {
    unsigned char *buffer;
    size_t bytes;
    int count;
    MPI_Datatype type;
} side;

static side send_side(const message *m, int epoch, int sender, int receiver, int index) {
    side s;
    switch (m->how) {
    case AS_BYTES: s = (side){NULL, (size_t)m->size, m->size, MPI_BYTE}; break;
    case STRIDED_SEND: case STRIDED_BOTH:
        s = (side){NULL, (size_t)m->size * STRIDED_EXTENT, m->size, strided_type};
        break;
    case STRIDED_RECV:
        s = (side){NULL, (size_t)m->size * STRIDED_INTS * sizeof(int), m->size * STRIDED_INTS, MPI_INT};
        break;
    default: /* STRIDED_SHORT */
        s = (side){NULL, ((size_t)m->size * STRIDED_INTS + 3) * sizeof(int), m->size * STRIDED_INTS + 3, MPI_INT};
    }
    s.buffer = xmalloc(s.bytes + GUARD);
    uint64_t state = seed_value ^ mix64(((uint64_t)epoch << 24) ^ ((uint64_t)sender << 16) ^
                                        ((uint64_t)receiver << 8) ^ (uint64_t)index);
    for (size_t i = 0; i < s.bytes + GUARD; i += 8) {
        const uint64_t word = mix64(state += 0x9e3779b97f4a7c15ULL);
        memcpy(s.buffer + i, &word, s.bytes + GUARD - i < 8 ? s.bytes + GUARD - i : 8);
    }
    return s;
}

static side receive_side(const message *m) {
    side r;
    switch (m->how) {
    case AS_BYTES: r = (side){NULL, (size_t)m->size, m->size, MPI_BYTE}; break;
    case STRIDED_SEND:
        r = (side){NULL, (size_t)m->size * STRIDED_INTS * sizeof(int), m->size * STRIDED_INTS, MPI_INT};
        break;
    case STRIDED_RECV: case STRIDED_BOTH:
        r = (side){NULL, (size_t)m->size * STRIDED_EXTENT, m->size, strided_type};
        break;
    default: /* STRIDED_SHORT */
        r = (side){NULL, ((size_t)m->size + 1) * STRIDED_EXTENT, m->size + 1, strided_type};
    }
    r.buffer = xmalloc(r.bytes + GUARD);
    memset(r.buffer, RECEIVE_FILL, r.bytes + GUARD);
    return r;
}

/* A status into the received digest: source, tag, count and elements in `type`, and for a
 * receive's status whether it was cancelled (MPICH leaves that bit of a probe's status unset). */
static void fold_status(const MPI_Status *status, MPI_Datatype type, int of_receive) {
    int fields[5] = {status->MPI_SOURCE, status->MPI_TAG, 0, 0, 0};
    MPI_OK(MPI_Get_count(status, type, &fields[2]));
    MPI_OK(MPI_Get_elements(status, type, &fields[3]));
    if (of_receive) MPI_OK(MPI_Test_cancelled(status, &fields[4]));
    received_digest = fnv_bytes(received_digest, fields, sizeof fields);
}

/* A completed receive into the digest (its buffer, guard included), then freed. */
static void fold_receive(side *r, const MPI_Status *status) {
    fold_status(status, r->type, 1);
    received_digest = fnv_bytes(received_digest, r->buffer, r->bytes + GUARD);
    free(r->buffer);
    r->buffer = NULL;
}

static void check_source(const MPI_Status *status, int expected, int epoch, const char *what) {
    char text[160];
    snprintf(text, sizeof text, "epoch %d: %s: MPI_SOURCE", epoch, what);
    CHECK_EQ_LL(status->MPI_SOURCE, expected, text);
}

/* pairs: the first of each pair sends its messages then receives its partner's; the second
 * receives then sends. Blocking calls only, safe at any size. */
static void p2p_pairs(const p2p_plan *q, int epoch) {
    int position = 0;
    while (q->order[position] != world_rank) position++;
    if ((ranks % 2 == 1 && position == ranks - 1)) {
        for (int j = 0; j < q->count; j++) {
            const message *m = &q->messages[world_rank][j];
            side s = send_side(m, epoch, world_rank, world_rank, j), r = receive_side(m);
            MPI_Status status;
            MPI_OK(MPI_Sendrecv(s.buffer, s.count, s.type, world_rank, q->tag + j, r.buffer, r.count, r.type,
                                world_rank, q->tag + j, MPI_COMM_WORLD, &status));
            fold_receive(&r, &status);
            free(s.buffer);
        }
        return;
    }
    const int partner = q->order[position ^ 1];
    for (int phase = 0; phase < 2; phase++) {
        if ((phase == 0) == (position % 2 == 0)) {
            for (int j = 0; j < q->count; j++) {
                side s = send_side(&q->messages[world_rank][j], epoch, world_rank, partner, j);
                if (q->synchronous) MPI_OK(MPI_Ssend(s.buffer, s.count, s.type, partner, q->tag + j, MPI_COMM_WORLD));
                else MPI_OK(MPI_Send(s.buffer, s.count, s.type, partner, q->tag + j, MPI_COMM_WORLD));
                free(s.buffer);
            }
        } else {
            for (int j = 0; j < q->count; j++) {
                side r = receive_side(&q->messages[partner][j]);
                MPI_Status status, probed;
                switch (q->receive_how) {
                case 0:
                    MPI_OK(MPI_Recv(r.buffer, r.count, r.type, partner, q->tag + j, MPI_COMM_WORLD, &status));
                    break;
                case 1:
                    MPI_OK(MPI_Recv(r.buffer, r.count, r.type, MPI_ANY_SOURCE, q->tag + j, MPI_COMM_WORLD, &status));
                    check_source(&status, partner, epoch, "pairs: MPI_Recv from MPI_ANY_SOURCE");
                    break;
                default:
                    if (q->receive_how == 2) MPI_OK(MPI_Probe(partner, q->tag + j, MPI_COMM_WORLD, &probed));
                    else {
                        MPI_OK(MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &probed));
                        check_source(&probed, partner, epoch, "pairs: MPI_Probe of MPI_ANY_SOURCE");
                    }
                    fold_status(&probed, r.type, 0);
                    MPI_OK(MPI_Recv(r.buffer, r.count, r.type, partner, probed.MPI_TAG, MPI_COMM_WORLD, &status));
                }
                fold_receive(&r, &status);
            }
        }
    }
}

/* ring: nonblocking to rank + shift, from rank - shift; `rma` (rput and rget requests of the
 * epoch, `rma_count` of them, MPI_REQUEST_NULL for the other operations) complete in the same call. */
static void p2p_ring(const p2p_plan *q, int epoch, MPI_Request *rma, int rma_count) {
    const int to = (world_rank + q->shift) % ranks, from = (world_rank - q->shift + ranks) % ranks;
    const int count = q->count, total = 2 * count + rma_count;
    side sends[MAX_MESSAGES], receives[MAX_MESSAGES];
    MPI_Request requests[2 * MAX_MESSAGES + SLOTS];
    MPI_Status statuses[2 * MAX_MESSAGES + SLOTS];
    for (int j = 0; j < count; j++) {
        sends[j] = send_side(&q->messages[world_rank][j], epoch, world_rank, to, j);
        receives[j] = receive_side(&q->messages[from][j]);
    }
    for (int pass = 0; pass < 2; pass++) {
        if ((pass == 0) == (q->receives_first != 0)) {
            for (int j = 0; j < count; j++)
                MPI_OK(MPI_Irecv(receives[j].buffer, receives[j].count, receives[j].type,
                                 q->any_source ? MPI_ANY_SOURCE : from, q->any_tag ? MPI_ANY_TAG : q->tag + j,
                                 MPI_COMM_WORLD, &requests[j]));
        } else {
            for (int j = 0; j < count; j++)
                MPI_OK(MPI_Isend(sends[j].buffer, sends[j].count, sends[j].type, to, q->tag + j, MPI_COMM_WORLD,
                                 &requests[count + j]));
        }
    }
    for (int i = 0; i < rma_count; i++) requests[2 * count + i] = rma[i];
    switch (q->completion) {
    case 0: MPI_OK(MPI_Waitall(total, requests, statuses)); break;
    case 1:
        for (;;) {
            int index;
            MPI_Status status;
            MPI_OK(MPI_Waitany(total, requests, &index, &status));
            if (index == MPI_UNDEFINED) break;
            statuses[index] = status;
        }
        break;
    case 2:
        for (int done = 0; !done;) MPI_OK(MPI_Testall(total, requests, &done, statuses));
        break;
    default:
        for (;;) {
            int done, indices[2 * MAX_MESSAGES + SLOTS];
            MPI_Status some[2 * MAX_MESSAGES + SLOTS];
            MPI_OK(MPI_Waitsome(total, requests, &done, indices, some));
            if (done == MPI_UNDEFINED) break;
            for (int i = 0; i < done; i++) statuses[indices[i]] = some[i];
        }
    }
    for (int i = 0; i < rma_count; i++) rma[i] = requests[2 * count + i];
    for (int j = 0; j < count; j++) {
        if (q->any_source) check_source(&statuses[j], from, epoch, "ring: MPI_Irecv from MPI_ANY_SOURCE");
        fold_receive(&receives[j], &statuses[j]);
        free(sends[j].buffer);
    }
}

/* any_source: the senders' messages to the root, received from MPI_ANY_SOURCE in posting order;
 * folded per source in rank order, each source's in the order they matched. */
static void p2p_any_source(const p2p_plan *q, int epoch) {
    const int count = q->count;
    const int tag_of_index[MAX_MESSAGES] = {q->tag, q->tag_mode == 2 ? q->tag + 1 : q->tag, q->tag};
    side sends[MAX_MESSAGES];
    MPI_Request send_requests[MAX_MESSAGES];
    MPI_Status send_statuses[MAX_MESSAGES];
    if (q->senders[world_rank])
        for (int j = 0; j < count; j++) {
            sends[j] = send_side(&q->messages[world_rank][j], epoch, world_rank, q->root, j);
            MPI_OK(MPI_Isend(sends[j].buffer, sends[j].count, MPI_BYTE, q->root, tag_of_index[j], MPI_COMM_WORLD,
                             &send_requests[j]));
        }
    if (world_rank == q->root) {
        int senders = 0, capacity = 0;
        for (int s = 0; s < ranks; s++)
            if (q->senders[s]) {
                senders++;
                for (int j = 0; j < count; j++) capacity = q->messages[s][j].size > capacity ? q->messages[s][j].size : capacity;
            }
        const int total = senders * count;
        /* Posting order: by MPI_ANY_TAG or the one tag, or every message of the first tag (even
         * indices) before those of the second. */
        int tags[MAX_RANKS * MAX_MESSAGES];
        for (int i = 0, phase = 0; phase < (q->tag_mode == 2 ? 2 : 1); phase++)
            for (int j = 0; j < count; j++)
                if (q->tag_mode != 2 || j % 2 == phase)
                    for (int s = 0; s < senders; s++) tags[i++] = q->tag_mode == 0 ? MPI_ANY_TAG : q->tag + phase;
        side *receives = xmalloc((size_t)total * sizeof(side));
        MPI_Request *requests = xmalloc((size_t)total * sizeof(MPI_Request));
        MPI_Status *statuses = xmalloc((size_t)total * sizeof(MPI_Status));
        for (int i = 0; i < total; i++) {
            const message m = {AS_BYTES, capacity};
            receives[i] = receive_side(&m);
            if (q->nonblocking)
                MPI_OK(MPI_Irecv(receives[i].buffer, capacity, MPI_BYTE, MPI_ANY_SOURCE, tags[i], MPI_COMM_WORLD,
                                 &requests[i]));
            else
                MPI_OK(MPI_Recv(receives[i].buffer, capacity, MPI_BYTE, MPI_ANY_SOURCE, tags[i], MPI_COMM_WORLD,
                                &statuses[i]));
        }
        if (q->nonblocking) MPI_OK(MPI_Waitall(total, requests, statuses));
        int from_source[MAX_RANKS] = {0};
        for (int i = 0; i < total; i++) {
            const int source = statuses[i].MPI_SOURCE;
            char what[160];
            snprintf(what, sizeof what, "epoch %d: any_source: receive %d of %d came from rank %d, not a sender", epoch,
                     i, total, source);
            CHECK(source >= 0 && source < ranks && q->senders[source], "%s", what);
            from_source[source]++;
        }
        for (int s = 0; s < ranks; s++) {
            char what[160];
            snprintf(what, sizeof what, "epoch %d: any_source: messages received from rank %d", epoch, s);
            CHECK_EQ_LL(from_source[s], q->senders[s] ? count : 0, what);
            for (int i = 0; i < total; i++)
                if (statuses[i].MPI_SOURCE == s) fold_receive(&receives[i], &statuses[i]);
        }
        free(receives);
        free(requests);
        free(statuses);
    }
    if (q->senders[world_rank]) {
        MPI_OK(MPI_Waitall(count, send_requests, send_statuses));
        for (int j = 0; j < count; j++) free(sends[j].buffer);
    }
}

/* sendrecv: to rank + shift, from rank - shift (or MPI_ANY_SOURCE), one message at a time. */
static void p2p_sendrecv(const p2p_plan *q, int epoch) {
    const int to = (world_rank + q->shift) % ranks, from = (world_rank - q->shift + ranks) % ranks;
    const int source = q->any_source ? MPI_ANY_SOURCE : from;
    for (int j = 0; j < q->count; j++) {
        MPI_Status status;
        side s = send_side(&q->messages[world_rank][j], epoch, world_rank, to, j);
        if (q->replace) { /* the guard after the message keeps what send_side put there */
            MPI_OK(MPI_Sendrecv_replace(s.buffer, s.count, s.type, to, q->tag + j, source, q->tag + j, MPI_COMM_WORLD,
                                        &status));
            if (q->any_source) check_source(&status, from, epoch, "MPI_Sendrecv_replace from MPI_ANY_SOURCE");
            fold_receive(&s, &status);
        } else {
            side r = receive_side(&q->messages[from][j]);
            MPI_OK(MPI_Sendrecv(s.buffer, s.count, s.type, to, q->tag + j, r.buffer, r.count, r.type, source,
                                q->tag + j, MPI_COMM_WORLD, &status));
            if (q->any_source) check_source(&status, from, epoch, "MPI_Sendrecv from MPI_ANY_SOURCE");
            fold_receive(&r, &status);
            free(s.buffer);
        }
    }
}

static int uses_any_tag(const p2p_plan *q) {
    return (q->kind == PAIRS && q->receive_how == 3) || (q->kind == RING && q->any_tag) ||
           (q->kind == ANY_SOURCE && q->tag_mode == 0);
}

/* The epoch's exchange; a ring also completes `rma` (see p2p_ring). */
static void exchange(const p2p_plan *q, int epoch, MPI_Request *rma, int rma_count) {
    switch (q->kind) {
    case PAIRS: p2p_pairs(q, epoch); break;
    case RING: p2p_ring(q, epoch, rma, rma_count); break;
    case ANY_SOURCE: p2p_any_source(q, epoch); break;
    default: p2p_sendrecv(q, epoch);
    }
}

static void make_plan(epoch_plan *p, int epoch) {
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
    make_p2p_plan(&p->p2p, p->mode, epoch);
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
    seed_value = mix64(seed);
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
    MPI_Datatype two_triples;
    MPI_OK(MPI_Type_vector(2, 3, 4, MPI_INT, &two_triples));
    MPI_OK(MPI_Type_create_resized(two_triples, 0, STRIDED_EXTENT, &strided_type));
    MPI_OK(MPI_Type_commit(&strided_type));
    MPI_OK(MPI_Type_free(&two_triples));

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
    make_plan(&plans[0], 0);
    for (int e = 0; e < epochs; e++) {
        epoch_plan *p = &plans[e % 2], *next = &plans[(e + 1) % 2];
        if (e + 1 < epochs) make_plan(next, e + 1);
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
            if (p->p2p.inside) exchange(&p->p2p, e, NULL, 0);
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
            if (p->p2p.inside) exchange(&p->p2p, e, NULL, 0);
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
            if (p->p2p.inside) exchange(&p->p2p, e, requests, count);
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
            if (p->p2p.inside) exchange(&p->p2p, e, requests, count);
            MPI_OK(MPI_Waitall(count, requests, statuses));
            MPI_OK(MPI_Win_unlock_all(win));
            break;
        default:
            CHECK(0, "unknown mode %d", p->mode);
        }

        fetched_digest = collective_between_epochs(fetched_digest);
        if (!p->p2p.inside) exchange(&p->p2p, e, NULL, 0);
        /* A receive by MPI_ANY_TAG must not match the next epoch's messages: only a barrier opens
         * an epoch not in fence mode; before a fence epoch, one here. */
        if (e + 1 < epochs && next->mode == FENCE && uses_any_tag(&p->p2p)) MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
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

    uint64_t mine[4] = {window_digests[0], window_digests[1], fetched_digest, received_digest};
    uint64_t *all = xmalloc(4 * sizeof(uint64_t) * ranks);
    MPI_OK(MPI_Gather(mine, 4, MPI_UINT64_T, all, 4, MPI_UINT64_T, 0, MPI_COMM_WORLD));
    MPI_OK(MPI_Allreduce(MPI_IN_PLACE, kind_totals, KIND_COUNT, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD));
    if (world_rank == 0) {
        for (int r = 0; r < ranks; r++)
            printf("digest rank=%d allocate=%016llx create=%016llx fetched=%016llx received=%016llx\n", r,
                   (unsigned long long)all[4 * r], (unsigned long long)all[4 * r + 1],
                   (unsigned long long)all[4 * r + 2], (unsigned long long)all[4 * r + 3]);
        printf("modes");
        for (int m = 0; m < MODE_COUNT; m++) printf(" %s=%lld", mode_names[m], mode_totals[m]);
        printf("\noperations");
        for (int k = 0; k < KIND_COUNT; k++) printf(" %s=%lld", kind_names[k], kind_totals[k]);
        printf("\npoint_to_point");
        for (int k = 0; k < P2P_TOTAL_COUNT; k++) printf(" %s=%lld", p2p_total_names[k], p2p_totals[k]);
        printf("\n");
    }
    for (int w = 0; w < 2; w++) MPI_OK(MPI_Win_free(&windows[w]));
    for (int m = 1; m <= MAX_VECTOR; m++) MPI_OK(MPI_Type_free(&vector_types[m]));
    MPI_OK(MPI_Type_free(&strided_type));
    MPI_OK(MPI_Group_free(&world_group));
    free(memory[1]);
    free(plans);
    free(all);
    free(cas_shadow);
    free(counter_totals);
    free(contended_sums);
    return test_finish();
}
