/*
 * Collectives as unmodified programs make them: MPI_Barrier, MPI_Bcast, MPI_Reduce, MPI_Allreduce,
 * MPI_Gather, MPI_Allgather, MPI_Scatter and MPI_Alltoall on MPI_COMM_WORLD, on sub-communicators
 * (an even/odd MPI_Comm_split with the rank order reversed, contiguous halves, an MPI_Comm_dup) and
 * on MPI_COMM_SELF, then on communicators created and freed over and over, a checked collective on
 * each (200 times at 2 ranks, fewer above; MPICH hands the freed handle to the next one):
 *   1. MPI_Barrier, and that it waits: every member puts (lock/unlock) into the first member's
 *      MPI_Win_allocate window before it, the last member late, and the first finds every put after it.
 *   2. MPI_Bcast, the root rotating and every root, 0 B to 1 MiB around the 16 KiB marks, of MPI_BYTE,
 *      MPI_INT, MPI_DOUBLE, MPI_DOUBLE_INT (padding left untouched), a strided MPI_Type_vector (gaps
 *      left untouched), and with different types of one signature at root and receivers.
 *   3. MPI_Allreduce and MPI_Reduce (the root rotating, and every root): every predefined op on every
 *      type MPI defines it for among MPI_INT, MPI_LONG_LONG, MPI_UNSIGNED_CHAR, MPI_FLOAT and
 *      MPI_DOUBLE (values whose results are exact); MPI_MINLOC/MPI_MAXLOC on four pair types, with ties;
 *      MPI_IN_PLACE; counts 0 to 300000; NULL buffers with count 0, NULL recvbuf off the root; a
 *      commutative user op on MPI_INT and on a contiguous type; a non-commutative one (2x2 matrix
 *      product) checked against the product in rank order.
 *   4. Allreduce of inexact double sums: every member gets the same bits (gathered to the first).
 *   5. MPI_Gather and MPI_Scatter (the root rotating, and every root), MPI_Allgather, MPI_Alltoall, and
 *      their _c forms: pieces of 1 B to 300000 B around the served engine's marks (32 KiB slots, one
 *      lane per member for all-to-all), of MPI_BYTE, MPI_INT, MPI_DOUBLE_INT (padding left untouched),
 *      the strided vector (gaps left untouched), and with different types of one signature at senders
 *      and receivers (also member by member); MPI_IN_PLACE wherever MPI allows it; count 0 with NULL
 *      buffers; the insignificant arguments off the root (recvbuf of a gather, sendbuf of a scatter)
 *      NULL with count 0 and MPI_DATATYPE_NULL, or real buffers that must stay untouched.
 *   6. One-sided puts and fences between the collectives, so served and MPICH calls interleave.
 *   7. MPI_Allreduce and MPI_Reduce with MPI_REPLACE on an MPI_ERRORS_RETURN communicator: an error
 *      on every rank, and the communicator still works.
 * Every result is checked against values computed here; receive buffers also past the count, send
 * buffers for being unchanged. With --digest, rank 0 prints "digest H" (FNV-1a over every rank's
 * results in a fixed order, combined in rank order) and "rank digests H0 H1 ...": equal under any two
 * correct MPIs. The inexact sums of 4 are left out: MPI leaves their bits to the implementation.
 *
 * Above 4 ranks (and on the sub-communicators) the suite runs a sample of its matrix: plain MPICH
 * takes about 25 ms a collective at 8 ranks on 2 cores.
 *
 * MPI_Reduce and MPI_Allreduce take the same count and datatype on every rank (MPI-4.0, 6.9.1), and
 * MPICH 4.0.2 refuses predefined ops on derived types (MPI_ERR_OP), so mixed basic and derived types
 * are only in MPI_Bcast, and derived types in reductions only with user ops.
 */
#include "common.h"
#include <unistd.h>

enum { GUARD = 16, BARRIER_ROUNDS = 16, MOD = 1000003 };
static const unsigned char SENTINEL = 0xA5;

/* ---- digest ---- */

static int digest_mode;
static uint64_t digest = 0xcbf29ce484222325ULL;

static uint64_t fnv(uint64_t hash, const void *data, size_t n) {
    const unsigned char *bytes = data;
    for (size_t i = 0; i < n; i++) hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
    return hash;
}
static void digest_bytes(const void *data, size_t n) { digest = fnv(digest, data, n); }

/* ---- values ---- */

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* What member `rank` contributes at element `i` of the call `salt`. */
static uint64_t value_hash(int rank, long i, long salt) {
    return mix64(((uint64_t)salt << 40) ^ ((uint64_t)(unsigned)rank << 28) ^ (uint64_t)i ^ 0x9e3779b97f4a7c15ULL);
}

/* A communicator and the calls made on it so far: every member makes the same calls in the same
 * order, so `serial` gives every call its own data, the same at every member. */
typedef struct {
    MPI_Comm comm;
    const char *name;
    int rank, size;
    int stride; /* the suite runs every stride-th of its sampled calls */
    long salt;
    long serial;
    long candidates;
} comm_ctx;

static comm_ctx make_ctx(MPI_Comm comm, const char *name, int stride, long salt) {
    comm_ctx c = {.comm = comm, .name = name, .stride = stride, .salt = salt};
    MPI_OK(MPI_Comm_rank(comm, &c.rank));
    MPI_OK(MPI_Comm_size(comm, &c.size));
    return c;
}

static long next_salt(comm_ctx *c) { return c->salt * 100000 + c->serial++; }

/* Whether the suite makes its next sampled call: the same sequence at every member. */
static int pick(comm_ctx *c) { return c->candidates++ % c->stride == 0; }

/* MPI_IN_PLACE at a root other than 0: MPICH 4.0.2's shared-memory reduce (bare metal) crashes in
 * it above 2 KiB (measured: SIGSEGV in memcpy at 257 long longs, fine at 256 and under
 * MPIR_CVAR_DEVICE_COLLECTIVES=none), so larger ones use the send buffer there. */
static int in_place_usable(int in_place, int root, size_t bytes) { return in_place && (root <= 0 || bytes <= 2048); }

static void check_untouched_at(const char *file, int line, const void *p, size_t n, const char *what) {
    const unsigned char *bytes = p;
    for (size_t i = 0; i < n; i++)
        if (bytes[i] != SENTINEL)
            test_fail(file, line, "%s: byte %zu past the data was written (0x%02x)", what, i, bytes[i]);
}
#define CHECK_UNTOUCHED(p, n, what) check_untouched_at(__FILE__, __LINE__, (p), (n), (what))

/* World ranks of a communicator's members, in its rank order. */
static void member_world_ranks(MPI_Comm comm, int size, int *out) {
    MPI_Group group, world_group;
    int *ranks = xmalloc(size * sizeof(int));
    for (int i = 0; i < size; i++) ranks[i] = i;
    MPI_OK(MPI_Comm_group(comm, &group));
    MPI_OK(MPI_Comm_group(MPI_COMM_WORLD, &world_group));
    MPI_OK(MPI_Group_translate_ranks(group, size, ranks, world_group, out));
    MPI_OK(MPI_Group_free(&group));
    MPI_OK(MPI_Group_free(&world_group));
    free(ranks);
}

/* ---- one-sided calls between the collectives ---- */

static MPI_Win fence_win, lock_win;
static int *fence_base, *lock_base;
static int rma_steps, barrier_rounds;

/* Every rank puts to every rank (so in a job on two regions every rank has co-resident and remote
 * targets), between fences. */
static void rma_step(void) {
    const int step = ++rma_steps;
    int *values = xmalloc(world_size * sizeof(int));
    MPI_OK(MPI_Win_fence(MPI_MODE_NOPRECEDE, fence_win));
    for (int target = 0; target < world_size; target++) {
        values[target] = pattern(world_rank, target, 0, step);
        MPI_OK(MPI_Put(&values[target], 1, MPI_INT, target, world_rank, 1, MPI_INT, fence_win));
    }
    MPI_OK(MPI_Win_fence(MPI_MODE_NOSUCCEED, fence_win));
    for (int origin = 0; origin < world_size; origin++) {
        char what[96];
        snprintf(what, sizeof what, "MPI_Put from rank %d in fence epoch %d between collectives", origin, step);
        CHECK_EQ_LL(fence_base[origin], pattern(origin, world_rank, 0, step), what);
    }
    digest_bytes(fence_base, world_size * sizeof(int));
    free(values);
}

/* ---- 1. MPI_Barrier ---- */

/* Every member puts into the first member's window and unlocks, then all enter the barrier (the last
 * member 20 ms late); after it, the first member must find every put. */
static void barrier_check(comm_ctx *c) {
    const int round = barrier_rounds++;
    CHECK(round < BARRIER_ROUNDS, "more than %d barrier rounds", BARRIER_ROUNDS);
    int *members = xmalloc(c->size * sizeof(int));
    member_world_ranks(c->comm, c->size, members);
    const int target = members[0];
    const int value = pattern(world_rank, target, round, 7);
    if (c->rank == c->size - 1) usleep(20 * 1000);
    MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, target, 0, lock_win));
    MPI_OK(MPI_Put(&value, 1, MPI_INT, target, round * world_size + world_rank, 1, MPI_INT, lock_win));
    MPI_OK(MPI_Win_unlock(target, lock_win));
    MPI_OK(MPI_Barrier(c->comm));
    if (c->rank == 0) {
        MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, world_rank, 0, lock_win));
        for (int m = 0; m < c->size; m++) {
            char what[160];
            snprintf(what, sizeof what, "MPI_Barrier on %s: the put member %d (world rank %d) completed before it",
                     c->name, m, members[m]);
            CHECK_EQ_LL(lock_base[round * world_size + members[m]], pattern(members[m], target, round, 7), what);
        }
        MPI_OK(MPI_Win_unlock(world_rank, lock_win));
    }
    free(members);
}

/* ---- 2. MPI_Bcast ---- */

static MPI_Datatype int4_type;   /* MPI_Type_contiguous(4, MPI_INT) */
static MPI_Datatype vector_type; /* MPI_Type_vector(2, 3, 5, MPI_INT): 6 of 8 ints, extent 32 bytes */

/* How one rank lays out its buffer: elements of `extent` bytes, data in up to two segments. */
typedef enum { L_BYTE, L_INT, L_DOUBLE, L_DOUBLE_INT, L_VECTOR, L_INT4 } layout_kind;
static const struct {
    const char *name;
    size_t extent, packed;
    size_t segment_offset[2], segment_length[2];
} layouts[] = {
    [L_BYTE] = {"MPI_BYTE", 1, 1, {0, 0}, {1, 0}},
    [L_INT] = {"MPI_INT", 4, 4, {0, 0}, {4, 0}},
    [L_DOUBLE] = {"MPI_DOUBLE", 8, 8, {0, 0}, {8, 0}},
    [L_DOUBLE_INT] = {"MPI_DOUBLE_INT", 16, 12, {0, 0}, {12, 0}}, /* {double, int}: 4 bytes of padding */
    [L_VECTOR] = {"vector(2,3,5,MPI_INT)", 32, 24, {0, 20}, {12, 12}},
    [L_INT4] = {"contiguous(4,MPI_INT)", 16, 16, {0, 0}, {16, 0}},
};

static MPI_Datatype layout_type(layout_kind kind) {
    switch (kind) {
    case L_BYTE: return MPI_BYTE;
    case L_INT: return MPI_INT;
    case L_DOUBLE: return MPI_DOUBLE;
    case L_DOUBLE_INT: return MPI_DOUBLE_INT;
    case L_VECTOR: return vector_type;
    default: return int4_type;
    }
}

enum { B_BYTE, B_INT, B_DOUBLE, B_DOUBLE_INT, B_VECTOR, B_INT_VS_INT4, B_VECTOR_VS_INT, B_COUNT };
static const size_t bcast_sizes[] = {0, 1, 7, 8, 4096, 16383, 16384, 16385, 100000, 1 << 20};
enum { BCAST_SIZES = sizeof bcast_sizes / sizeof bcast_sizes[0] };

static unsigned char byte_pattern(int root, size_t j, long salt) {
    return (unsigned char)(value_hash(root, (long)(j / 8), salt) >> (j % 8 * 8));
}

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

/* One MPI_Bcast of about `bytes` bytes in `variant`'s types; every byte of every member's buffer is
 * checked: data where its type has data, untouched elsewhere (padding, gaps, past the end). */
static void bcast_check(comm_ctx *c, int variant, size_t bytes, int root) {
    const long salt = next_salt(c);
    layout_kind kind;
    size_t count;
    /* The variants with two types: the derived one at the root, or at the receivers. */
    const int derived_here = (salt % 2 == 0) == (c->rank == root);
    switch (variant) {
    case B_BYTE: kind = L_BYTE, count = bytes; break;
    case B_INT: kind = L_INT, count = ceil_div(bytes, 4); break;
    case B_DOUBLE: kind = L_DOUBLE, count = ceil_div(bytes, 8); break;
    case B_DOUBLE_INT: kind = L_DOUBLE_INT, count = ceil_div(bytes, 12); break;
    case B_VECTOR: kind = L_VECTOR, count = ceil_div(bytes, 24); break;
    case B_INT_VS_INT4:
        count = ceil_div(bytes, 16);
        kind = derived_here ? L_INT4 : L_INT;
        if (!derived_here) count *= 4;
        break;
    default: /* B_VECTOR_VS_INT */
        count = ceil_div(bytes, 24);
        kind = derived_here ? L_VECTOR : L_INT;
        if (!derived_here) count *= 6;
        break;
    }
    const size_t extent = layouts[kind].extent, span = count * extent, guard = 64;
    unsigned char *buffer = xmalloc(span + guard);
    memset(buffer, SENTINEL, span + guard);
    size_t j = 0; /* index in the packed data */
    if (c->rank == root) {
        for (size_t e = 0; e < count; e++)
            for (int s = 0; s < 2; s++)
                for (size_t b = 0; b < layouts[kind].segment_length[s]; b++)
                    buffer[e * extent + layouts[kind].segment_offset[s] + b] = byte_pattern(root, j++, salt);
    }
    MPI_OK(MPI_Bcast(buffer, (int)count, layout_type(kind), root, c->comm));

    char what[200];
    snprintf(what, sizeof what, "MPI_Bcast of %zu bytes (%zu x %s) from root %d on %s (%d members)",
             count * layouts[kind].packed, count, layouts[kind].name, root, c->name, c->size);
    j = 0;
    for (size_t e = 0; e < count; e++) {
        size_t data_end = 0;
        for (int s = 0; s < 2; s++) {
            const size_t offset = layouts[kind].segment_offset[s], length = layouts[kind].segment_length[s];
            for (size_t b = data_end; b < offset; b++)
                CHECK(buffer[e * extent + b] == SENTINEL, "%s: element %zu byte %zu is outside the type map, "
                      "but was written (0x%02x)", what, e, b, buffer[e * extent + b]);
            for (size_t b = 0; b < length; b++, j++) {
                const unsigned char expected = byte_pattern(root, j, salt), found = buffer[e * extent + offset + b];
                CHECK(found == expected, "%s: data byte %zu (element %zu, byte %zu): expected 0x%02x, found 0x%02x",
                      what, j, e, offset + b, expected, found);
            }
            if (length) data_end = offset + length;
        }
        for (size_t b = data_end; b < extent; b++)
            CHECK(buffer[e * extent + b] == SENTINEL, "%s: element %zu byte %zu is outside the type map (padding "
                  "or gap), but was written (0x%02x)", what, e, b, buffer[e * extent + b]);
        for (int s = 0; s < 2; s++)
            digest_bytes(buffer + e * extent + layouts[kind].segment_offset[s], layouts[kind].segment_length[s]);
    }
    CHECK_UNTOUCHED(buffer + span, guard, what);
    free(buffer);
}

/* ---- 3. reductions with predefined ops ---- */

enum { OP_SUM, OP_PROD, OP_MAX, OP_MIN, OP_BAND, OP_BOR, OP_BXOR, OP_LAND, OP_LOR, OP_LXOR, OP_COUNT };
static const char *op_names[OP_COUNT] = {"MPI_SUM",  "MPI_PROD", "MPI_MAX",  "MPI_MIN", "MPI_BAND",
                                         "MPI_BOR",  "MPI_BXOR", "MPI_LAND", "MPI_LOR", "MPI_LXOR"};
static MPI_Op op_handle(int op) {
    const MPI_Op handles[OP_COUNT] = {MPI_SUM,  MPI_PROD, MPI_MAX,  MPI_MIN, MPI_BAND,
                                      MPI_BOR,  MPI_BXOR, MPI_LAND, MPI_LOR, MPI_LXOR};
    return handles[op];
}

enum { T_INT, T_LONG_LONG, T_UNSIGNED_CHAR, T_FLOAT, T_DOUBLE, T_COUNT };
static const char *type_names[T_COUNT] = {"MPI_INT", "MPI_LONG_LONG", "MPI_UNSIGNED_CHAR", "MPI_FLOAT", "MPI_DOUBLE"};
static const size_t type_sizes[T_COUNT] = {sizeof(int), sizeof(long long), 1, sizeof(float), sizeof(double)};
static MPI_Datatype type_handle(int t) {
    const MPI_Datatype handles[T_COUNT] = {MPI_INT, MPI_LONG_LONG, MPI_UNSIGNED_CHAR, MPI_FLOAT, MPI_DOUBLE};
    return handles[t];
}
static int is_floating(int t) { return t == T_FLOAT || t == T_DOUBLE; }
/* MPI defines the bitwise and logical ops for integers only. */
static int op_defined(int op, int t) { return !is_floating(t) || op <= OP_MIN; }

/* Integer values: no overflow in signed sums and products (at most 19 ranks), 64-bit ones for
 * MPI_LONG_LONG, few falses for LAND and few trues for LOR so the results vary. */
static long long integer_value(int op, int t, int rank, long i, long salt) {
    const uint64_t h = value_hash(rank, i, salt * 16 + op);
    static const int factors[8] = {1, 2, -1, 3, 1, -2, 1, 1};
    /* MPICH 4.0.2 compares unsigned types as signed in MPI_MAX and MPI_MIN (pmodels/mpich#6083: measured,
     * MAX(165, 13) = 13 on MPI_UNSIGNED_CHAR): their values stay below 128, where both readings agree. */
    if (t == T_UNSIGNED_CHAR && (op == OP_MAX || op == OP_MIN)) return (long long)(h % 128);
    if (t == T_UNSIGNED_CHAR && op <= OP_PROD) return op == OP_PROD ? (long long)(h % 128) * 2 + 1 : (long long)(h % 256);
    switch (op) {
    case OP_SUM: return ((long long)(h % 201) - 100) * (t == T_LONG_LONG ? 1000000007LL : 1) + (long long)(h >> 54);
    case OP_PROD: return factors[h % 8];
    case OP_MAX:
    case OP_MIN: return ((long long)(h % 2001) - 1000) * (t == T_LONG_LONG ? 1LL << 33 : 1) + (long long)(h >> 60);
    case OP_BAND: return (long long)(h | mix64(h));
    case OP_BOR: return (long long)(h & mix64(h) & mix64(h + 1));
    case OP_BXOR: return (long long)h;
    case OP_LAND: return h % 16 == 0 ? 0 : (long long)(h % 7) + 1;
    case OP_LOR: return h % 16 == 0 ? (long long)(h % 7) + 1 : 0;
    default: return h % 2 ? (long long)(h % 9) + 1 : 0; /* OP_LXOR */
    }
}

/* Floating values whose sums and products are exact in any order. */
static double floating_value(int op, int rank, long i, long salt) {
    const uint64_t h = value_hash(rank, i, salt * 16 + op);
    static const double factors[8] = {1, 2, 0.5, -1, 1, 4, 0.25, -2};
    switch (op) {
    case OP_SUM: return ((double)(h % 129) - 64) * 0.25;
    case OP_PROD: return factors[h % 8];
    default: return ((double)(h % 2001) - 1000) * 0.5;
    }
}

static void fill_values(void *buffer, int op, int t, int rank, long count, long salt) {
    for (long i = 0; i < count; i++) {
        switch (t) {
        case T_INT: ((int *)buffer)[i] = (int)integer_value(op, t, rank, i, salt); break;
        case T_LONG_LONG: ((long long *)buffer)[i] = integer_value(op, t, rank, i, salt); break;
        case T_UNSIGNED_CHAR: ((unsigned char *)buffer)[i] = (unsigned char)integer_value(op, t, rank, i, salt); break;
        case T_FLOAT: ((float *)buffer)[i] = (float)floating_value(op, rank, i, salt); break;
        default: ((double *)buffer)[i] = floating_value(op, rank, i, salt); break;
        }
    }
}

/* inout[i] = in[i] op inout[i], as MPI applies an op. */
#define APPLY_INTEGER(NAME, T)                                                                                \
    static void NAME(int op, const T *in, T *io, long n) {                                                   \
        for (long i = 0; i < n; i++) {                                                                        \
            const T a = in[i], b = io[i];                                                                     \
            switch (op) {                                                                                     \
            case OP_SUM: io[i] = (T)(a + b); break;                                                           \
            case OP_PROD: io[i] = (T)(a * b); break;                                                          \
            case OP_MAX: io[i] = a > b ? a : b; break;                                                        \
            case OP_MIN: io[i] = a < b ? a : b; break;                                                        \
            case OP_BAND: io[i] = (T)(a & b); break;                                                          \
            case OP_BOR: io[i] = (T)(a | b); break;                                                           \
            case OP_BXOR: io[i] = (T)(a ^ b); break;                                                          \
            case OP_LAND: io[i] = (T)(a && b); break;                                                         \
            case OP_LOR: io[i] = (T)(a || b); break;                                                          \
            default: io[i] = (T)(!a != !b); break;                                                            \
            }                                                                                                 \
        }                                                                                                     \
    }
#define APPLY_FLOATING(NAME, T)                                                                               \
    static void NAME(int op, const T *in, T *io, long n) {                                                   \
        for (long i = 0; i < n; i++) {                                                                        \
            const T a = in[i], b = io[i];                                                                     \
            switch (op) {                                                                                     \
            case OP_SUM: io[i] = a + b; break;                                                                \
            case OP_PROD: io[i] = a * b; break;                                                               \
            case OP_MAX: io[i] = a > b ? a : b; break;                                                        \
            default: io[i] = a < b ? a : b; break;                                                            \
            }                                                                                                 \
        }                                                                                                     \
    }
APPLY_INTEGER(apply_int, int)
APPLY_INTEGER(apply_long_long, long long)
APPLY_INTEGER(apply_unsigned_char, unsigned char)
APPLY_FLOATING(apply_float, float)
APPLY_FLOATING(apply_double, double)

static void apply(int op, int t, const void *in, void *inout, long n) {
    switch (t) {
    case T_INT: apply_int(op, in, inout, n); break;
    case T_LONG_LONG: apply_long_long(op, in, inout, n); break;
    case T_UNSIGNED_CHAR: apply_unsigned_char(op, in, inout, n); break;
    case T_FLOAT: apply_float(op, in, inout, n); break;
    default: apply_double(op, in, inout, n); break;
    }
}

static void describe(char *out, size_t n, int t, const void *element) {
    switch (t) {
    case T_INT: snprintf(out, n, "%d", *(const int *)element); break;
    case T_LONG_LONG: snprintf(out, n, "%lld", *(const long long *)element); break;
    case T_UNSIGNED_CHAR: snprintf(out, n, "%u", *(const unsigned char *)element); break;
    case T_FLOAT: snprintf(out, n, "%.9g", *(const float *)element); break;
    default: snprintf(out, n, "%.17g", *(const double *)element); break;
    }
}

static void check_elements_at(const char *file, int line, const void *found, const void *expected, long count,
                              int t, const char *what) {
    const size_t size = type_sizes[t];
    if (memcmp(found, expected, count * size) == 0) return;
    for (long i = 0; i < count; i++) {
        const char *f = (const char *)found + i * size, *e = (const char *)expected + i * size;
        if (memcmp(f, e, size) != 0) {
            char fs[48], es[48];
            describe(fs, sizeof fs, t, f);
            describe(es, sizeof es, t, e);
            test_fail(file, line, "%s: element %ld of %ld: expected %s, found %s", what, i, count, es, fs);
        }
    }
}
#define CHECK_ELEMENTS(found, expected, count, t, what)                                                      \
    check_elements_at(__FILE__, __LINE__, (found), (expected), (count), (t), (what))

/* One MPI_Allreduce (root < 0) or MPI_Reduce. With in_place, MPI_IN_PLACE where MPI allows it: at
 * every member of an allreduce, at the root of a reduce. Off the root, recvbuf is NULL on odd calls. */
static void reduce_check(comm_ctx *c, int op, int t, long count, int root, int in_place) {
    const long salt = next_salt(c);
    const size_t size = type_sizes[t];
    const int receives = root < 0 || c->rank == root;
    const int place = in_place_usable(in_place, root, count * size) && receives;
    unsigned char *send = xmalloc(count * size), *recv = xmalloc((count + GUARD) * size);
    unsigned char *expected = xmalloc(count * size), *scratch = xmalloc(count * size);
    fill_values(send, op, t, c->rank, count, salt);
    memset(recv, SENTINEL, (count + GUARD) * size);
    if (place) memcpy(recv, send, count * size);
    char what[200];
    if (root < 0)
        snprintf(what, sizeof what, "MPI_Allreduce(%s, %ld x %s%s) on %s (%d members)", op_names[op], count,
                 type_names[t], place ? ", MPI_IN_PLACE" : "", c->name, c->size);
    else
        snprintf(what, sizeof what, "MPI_Reduce(%s, %ld x %s, root %d%s) on %s (%d members)", op_names[op], count,
                 type_names[t], root, place ? ", MPI_IN_PLACE" : "", c->name, c->size);
    if (root < 0)
        MPI_OK(MPI_Allreduce(place ? MPI_IN_PLACE : send, recv, (int)count, type_handle(t), op_handle(op), c->comm));
    else
        MPI_OK(MPI_Reduce(place ? MPI_IN_PLACE : send, receives || salt % 2 == 0 ? recv : NULL, (int)count,
                          type_handle(t), op_handle(op), root, c->comm));
    if (receives) {
        fill_values(expected, op, t, c->size - 1, count, salt);
        for (int r = c->size - 2; r >= 0; r--) {
            fill_values(scratch, op, t, r, count, salt);
            apply(op, t, scratch, expected, count);
        }
        CHECK_ELEMENTS(recv, expected, count, t, what);
        CHECK_UNTOUCHED(recv + count * size, GUARD * size, what);
        digest_bytes(recv, count * size);
    }
    if (!place) {
        fill_values(scratch, op, t, c->rank, count, salt);
        CHECK(memcmp(send, scratch, count * size) == 0, "%s: the send buffer changed", what);
    }
    free(send);
    free(recv);
    free(expected);
    free(scratch);
}

/* ---- MPI_MINLOC and MPI_MAXLOC on pair types ---- */

typedef struct { double value; int index; } double_int;
typedef struct { int value; int index; } two_int;
typedef struct { float value; int index; } float_int;
typedef struct { long value; int index; } long_int;
enum { P_DOUBLE_INT, P_2INT, P_FLOAT_INT, P_LONG_INT, P_COUNT };
static const struct {
    const char *name;
    size_t extent, value_size, index_offset;
} pairs[P_COUNT] = {
    [P_DOUBLE_INT] = {"MPI_DOUBLE_INT", sizeof(double_int), sizeof(double), offsetof(double_int, index)},
    [P_2INT] = {"MPI_2INT", sizeof(two_int), sizeof(int), offsetof(two_int, index)},
    [P_FLOAT_INT] = {"MPI_FLOAT_INT", sizeof(float_int), sizeof(float), offsetof(float_int, index)},
    [P_LONG_INT] = {"MPI_LONG_INT", sizeof(long_int), sizeof(long), offsetof(long_int, index)},
};
static MPI_Datatype pair_handle(int p) {
    const MPI_Datatype handles[P_COUNT] = {MPI_DOUBLE_INT, MPI_2INT, MPI_FLOAT_INT, MPI_LONG_INT};
    return handles[p];
}

static void pair_store(void *buffer, int p, long i, long value, int index) {
    char *e = (char *)buffer + i * pairs[p].extent;
    switch (p) {
    case P_DOUBLE_INT: ((double_int *)e)->value = (double)value, ((double_int *)e)->index = index; break;
    case P_2INT: ((two_int *)e)->value = (int)value, ((two_int *)e)->index = index; break;
    case P_FLOAT_INT: ((float_int *)e)->value = (float)value, ((float_int *)e)->index = index; break;
    default: ((long_int *)e)->value = value, ((long_int *)e)->index = index; break;
    }
}

/* Values tie between ranks 2k and 2k+1 (and more), the higher rank usually with the lower index,
 * and the index sign flips from element to element: the lowest index must win. */
static void pair_contribution(int rank, int size, long i, long salt, long *value, int *index) {
    *value = ((rank / 2) + i + salt) % 4 - 1;
    *index = ((size - rank) * 100 + (int)(i % 50)) * (i % 3 == 0 ? -1 : 1);
}

static void fill_pairs(void *buffer, int p, int rank, int size, long count, long salt) {
    for (long i = 0; i < count; i++) {
        long value;
        int index;
        pair_contribution(rank, size, i, salt, &value, &index);
        pair_store(buffer, p, i, value, index);
    }
}

/* Compares and digests the value and index fields, never the padding. */
static void check_pairs_at(const char *file, int line, const void *found, const void *expected, int p, long count,
                           const char *what) {
    for (long i = 0; i < count; i++) {
        const char *f = (const char *)found + i * pairs[p].extent, *e = (const char *)expected + i * pairs[p].extent;
        int fi, ei;
        memcpy(&fi, f + pairs[p].index_offset, sizeof fi);
        memcpy(&ei, e + pairs[p].index_offset, sizeof ei);
        if (memcmp(f, e, pairs[p].value_size) != 0 || fi != ei) {
            double fv, ev;
            switch (p) {
            case P_DOUBLE_INT: fv = ((const double_int *)f)->value, ev = ((const double_int *)e)->value; break;
            case P_2INT: fv = ((const two_int *)f)->value, ev = ((const two_int *)e)->value; break;
            case P_FLOAT_INT: fv = ((const float_int *)f)->value, ev = ((const float_int *)e)->value; break;
            default: fv = (double)((const long_int *)f)->value, ev = (double)((const long_int *)e)->value; break;
            }
            test_fail(file, line, "%s: element %ld of %ld: expected (value %g, index %d), found (value %g, index %d)",
                      what, i, count, ev, ei, fv, fi);
        }
    }
}

static void pair_check(comm_ctx *c, int p, int minloc, long count, int root, int in_place) {
    const long salt = next_salt(c);
    const size_t extent = pairs[p].extent;
    const int receives = root < 0 || c->rank == root;
    const int place = in_place_usable(in_place, root, count * extent) && receives;
    const MPI_Op op = minloc ? MPI_MINLOC : MPI_MAXLOC;
    char *send = xmalloc(count * extent), *recv = xmalloc((count + GUARD) * extent), *expected = xmalloc(count * extent);
    memset(send, 0, count * extent);
    fill_pairs(send, p, c->rank, c->size, count, salt);
    memset(recv, SENTINEL, (count + GUARD) * extent);
    if (place) memcpy(recv, send, count * extent);
    char what[200];
    snprintf(what, sizeof what, "%s(%s, %ld x %s, %s%s) on %s (%d members)", root < 0 ? "MPI_Allreduce" : "MPI_Reduce",
             minloc ? "MPI_MINLOC" : "MPI_MAXLOC", count, pairs[p].name, root < 0 ? "every member" : "at the root",
             place ? ", MPI_IN_PLACE" : "", c->name, c->size);
    if (root < 0)
        MPI_OK(MPI_Allreduce(place ? MPI_IN_PLACE : send, recv, (int)count, pair_handle(p), op, c->comm));
    else
        MPI_OK(MPI_Reduce(place ? MPI_IN_PLACE : send, receives ? recv : NULL, (int)count, pair_handle(p), op, root,
                          c->comm));
    if (receives) {
        memset(expected, 0, count * extent);
        for (long i = 0; i < count; i++) {
            long best_value = 0;
            int best_index = 0;
            for (int r = 0; r < c->size; r++) {
                long value;
                int index;
                pair_contribution(r, c->size, i, salt, &value, &index);
                const int better = minloc ? value < best_value : value > best_value;
                if (r == 0 || better || (value == best_value && index < best_index)) best_value = value, best_index = index;
            }
            pair_store(expected, p, i, best_value, best_index);
        }
        check_pairs_at(__FILE__, __LINE__, recv, expected, p, count, what);
        CHECK_UNTOUCHED(recv + count * extent, GUARD * extent, what);
        for (long i = 0; i < count; i++) {
            digest_bytes(recv + i * extent, pairs[p].value_size);
            digest_bytes(recv + i * extent + pairs[p].index_offset, sizeof(int));
        }
    }
    if (!place) {
        memset(expected, 0, count * extent);
        fill_pairs(expected, p, c->rank, c->size, count, salt);
        check_pairs_at(__FILE__, __LINE__, send, expected, p, count, "the send buffer after it");
    }
    free(send);
    free(recv);
    free(expected);
}

/* ---- user-defined ops ---- */

static MPI_Op mod_sum_op, matrix_op;

/* The ints an op call covers: MPI_INT or int4_type elements. */
static long ints_of(int len, MPI_Datatype type) {
    if (type == MPI_INT) return len;
    if (type == int4_type) return 4L * len;
    test_fail(__FILE__, __LINE__, "a user op was called with a datatype the program never passed");
}

/* Commutative: sums modulo 1000003. */
static void mod_sum(void *in, void *inout, int *len, MPI_Datatype *type) {
    const int *a = in;
    int *b = inout;
    const long n = ints_of(*len, *type);
    for (long i = 0; i < n; i++) b[i] = (int)(((long long)a[i] + b[i]) % MOD);
}

/* Non-commutative: inout = in x inout for 2x2 matrices (row-major, modulo 2^32); `in` comes from
 * the lower ranks, so the result is A_0 x A_1 x ... x A_{n-1}. */
static void matrix_product(void *in, void *inout, int *len, MPI_Datatype *type) {
    const unsigned *a = in;
    unsigned *b = inout;
    CHECK(*type == int4_type, "the matrix op was called with a datatype other than the program's");
    for (int k = 0; k < *len; k++, a += 4, b += 4) {
        const unsigned c0 = a[0] * b[0] + a[1] * b[2], c1 = a[0] * b[1] + a[1] * b[3];
        const unsigned c2 = a[2] * b[0] + a[3] * b[2], c3 = a[2] * b[1] + a[3] * b[3];
        b[0] = c0, b[1] = c1, b[2] = c2, b[3] = c3;
    }
}

static void mod_sum_values(int *buffer, int rank, long ints, long salt) {
    for (long i = 0; i < ints; i++) buffer[i] = (int)(value_hash(rank, i, salt) % MOD);
}

/* `ints` ints as MPI_INT, or as ints/4 contiguous(4, MPI_INT) elements. */
static void mod_sum_check(comm_ctx *c, int as_int4, long ints, int root, int in_place) {
    const long salt = next_salt(c);
    const int receives = root < 0 || c->rank == root;
    const int place = in_place_usable(in_place, root, ints * sizeof(int)) && receives;
    const int count = (int)(as_int4 ? ints / 4 : ints);
    int *send = xmalloc(ints * sizeof(int)), *recv = xmalloc((ints + GUARD) * sizeof(int));
    int *expected = xmalloc(ints * sizeof(int)), *scratch = xmalloc(ints * sizeof(int));
    mod_sum_values(send, c->rank, ints, salt);
    memset(recv, SENTINEL, (ints + GUARD) * sizeof(int));
    if (place) memcpy(recv, send, ints * sizeof(int));
    const MPI_Datatype type = as_int4 ? int4_type : MPI_INT;
    char what[200];
    snprintf(what, sizeof what, "%s(commutative user op, %d x %s, %s%s) on %s", root < 0 ? "MPI_Allreduce" : "MPI_Reduce",
             count, as_int4 ? "contiguous(4,MPI_INT)" : "MPI_INT", root < 0 ? "every member" : "at the root",
             place ? ", MPI_IN_PLACE" : "", c->name);
    if (root < 0)
        MPI_OK(MPI_Allreduce(place ? MPI_IN_PLACE : send, recv, count, type, mod_sum_op, c->comm));
    else
        MPI_OK(MPI_Reduce(place ? MPI_IN_PLACE : send, recv, count, type, mod_sum_op, root, c->comm));
    if (receives) {
        memset(expected, 0, ints * sizeof(int));
        for (int r = 0; r < c->size; r++) {
            mod_sum_values(scratch, r, ints, salt);
            for (long i = 0; i < ints; i++) expected[i] = (int)(((long long)expected[i] + scratch[i]) % MOD);
        }
        CHECK_INTS(recv, expected, ints, what);
        CHECK_UNTOUCHED(recv + ints, GUARD * sizeof(int), what);
        digest_bytes(recv, ints * sizeof(int));
    }
    free(send);
    free(recv);
    free(expected);
    free(scratch);
}

static void matrix_values(unsigned *m, int rank, long count, long salt) {
    for (long k = 0; k < count; k++, m += 4) {
        const uint64_t h = value_hash(rank, k, salt);
        m[0] = 1 + h % 3, m[1] = 1 + (h >> 8) % 3, m[2] = 2 + (h >> 16) % 3, m[3] = 1 + (h >> 24) % 2;
    }
}

static void multiply_into(unsigned *product, const unsigned *right, long count) {
    for (long k = 0; k < count; k++, product += 4, right += 4) {
        const unsigned c0 = product[0] * right[0] + product[1] * right[2], c1 = product[0] * right[1] + product[1] * right[3];
        const unsigned c2 = product[2] * right[0] + product[3] * right[2], c3 = product[2] * right[1] + product[3] * right[3];
        product[0] = c0, product[1] = c1, product[2] = c2, product[3] = c3;
    }
}

/* `count` matrices (contiguous(4, MPI_INT) each) multiplied in rank order. */
static void matrix_check(comm_ctx *c, long count, int root, int in_place) {
    const long salt = next_salt(c);
    const long ints = 4 * count;
    const int receives = root < 0 || c->rank == root;
    const int place = in_place_usable(in_place, root, ints * sizeof(int)) && receives;
    unsigned *send = xmalloc(ints * sizeof(int)), *recv = xmalloc((ints + GUARD) * sizeof(int));
    unsigned *expected = xmalloc(ints * sizeof(int)), *scratch = xmalloc(ints * sizeof(int));
    matrix_values(send, c->rank, count, salt);
    memset(recv, SENTINEL, (ints + GUARD) * sizeof(int));
    if (place) memcpy(recv, send, ints * sizeof(int));
    char what[200];
    snprintf(what, sizeof what, "%s(non-commutative matrix product, %ld matrices, %s%s) on %s (%d members)",
             root < 0 ? "MPI_Allreduce" : "MPI_Reduce", count, root < 0 ? "every member" : "at the root",
             place ? ", MPI_IN_PLACE" : "", c->name, c->size);
    if (root < 0)
        MPI_OK(MPI_Allreduce(place ? MPI_IN_PLACE : send, recv, (int)count, int4_type, matrix_op, c->comm));
    else
        MPI_OK(MPI_Reduce(place ? MPI_IN_PLACE : send, receives ? recv : NULL, (int)count, int4_type, matrix_op, root,
                          c->comm));
    if (receives) {
        matrix_values(expected, 0, count, salt);
        for (int r = 1; r < c->size; r++) {
            matrix_values(scratch, r, count, salt);
            multiply_into(expected, scratch, count);
        }
        CHECK_INTS((const int *)recv, (const int *)expected, ints, what);
        CHECK_UNTOUCHED(recv + ints, GUARD * sizeof(int), what);
        digest_bytes(recv, ints * sizeof(int));
        if (c->size > 1 && count >= 64) { /* the data tells rank orders apart */
            matrix_values(scratch, c->size - 1, count, salt);
            for (int r = c->size - 2; r >= 0; r--) {
                unsigned *factor = xmalloc(ints * sizeof(int));
                matrix_values(factor, r, count, salt);
                multiply_into(scratch, factor, count);
                free(factor);
            }
            CHECK(memcmp(scratch, expected, ints * sizeof(int)) != 0, "%s: the test's matrices commute", what);
        }
    }
    free(send);
    free(recv);
    free(expected);
    free(scratch);
}

/* ---- NULL buffers with count 0 ---- */

static void zero_count_checks(comm_ctx *c, int root) {
    MPI_OK(MPI_Bcast(NULL, 0, MPI_BYTE, root, c->comm));
    MPI_OK(MPI_Bcast(NULL, 0, vector_type, root, c->comm));
    MPI_OK(MPI_Allreduce(NULL, NULL, 0, MPI_INT, MPI_SUM, c->comm));
    MPI_OK(MPI_Allreduce(MPI_IN_PLACE, NULL, 0, MPI_DOUBLE, MPI_MAX, c->comm));
    MPI_OK(MPI_Reduce(NULL, NULL, 0, MPI_LONG_LONG, MPI_BXOR, root, c->comm));
    MPI_OK(MPI_Allreduce(NULL, NULL, 0, int4_type, matrix_op, c->comm));
}

/* ---- 4. the same bits everywhere ---- */

static long double magnitude(long double x) { return x < 0 ? -x : x; }

static void identical_check(comm_ctx *c, long count, int in_place) {
    const long salt = next_salt(c);
    double *send = xmalloc(count * sizeof(double)), *recv = xmalloc(count * sizeof(double));
    for (long i = 0; i < count; i++)
        send[i] = 0.1 * (c->rank + 1) + 1.0 / (3.0 + (double)i + c->rank) + 1e-17 * (double)i +
                  (double)(value_hash(c->rank, i, salt) % 1000) * 1e-7;
    if (in_place) memcpy(recv, send, count * sizeof(double));
    MPI_OK(MPI_Allreduce(in_place ? MPI_IN_PLACE : send, recv, (int)count, MPI_DOUBLE, MPI_SUM, c->comm));
    for (long i = 0; i < count; i++) {
        long double sum = 0;
        for (int r = 0; r < c->size; r++)
            sum += 0.1 * (r + 1) + 1.0 / (3.0 + (double)i + r) + 1e-17 * (double)i + (double)(value_hash(r, i, salt) % 1000) * 1e-7;
        CHECK(magnitude(recv[i] - sum) <= 1e-12L * (1 + magnitude(sum)), "inexact MPI_Allreduce(MPI_SUM, %ld x MPI_DOUBLE) on %s: "
              "element %ld is %.17g, the sum is %.17Lg", count, c->name, i, recv[i], sum);
    }
    /* Small results are gathered whole, large ones as a hash of their bytes. */
    const int whole = count <= 4097;
    const uint64_t hash = fnv(0xcbf29ce484222325ULL, recv, count * sizeof(double));
    void *all = c->rank == 0 ? xmalloc(c->size * (whole ? count * sizeof(double) : sizeof hash)) : NULL;
    if (whole)
        MPI_OK(MPI_Gather(recv, (int)count, MPI_DOUBLE, all, (int)count, MPI_DOUBLE, 0, c->comm));
    else
        MPI_OK(MPI_Gather(&hash, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, 0, c->comm));
    if (c->rank == 0) {
        for (int r = 1; r < c->size; r++) {
            if (whole) {
                const double *theirs = (const double *)all + r * count;
                for (long i = 0; i < count; i++)
                    CHECK(memcmp(&theirs[i], &recv[i], sizeof(double)) == 0, "inexact MPI_Allreduce(MPI_SUM, %ld x "
                          "MPI_DOUBLE%s) on %s: member %d got %a at element %ld, member 0 %a", count,
                          in_place ? ", MPI_IN_PLACE" : "", c->name, r, theirs[i], i, recv[i]);
            } else {
                CHECK(((const uint64_t *)all)[r] == hash, "inexact MPI_Allreduce(MPI_SUM, %ld x MPI_DOUBLE%s) on %s: "
                      "member %d got other bits than member 0", count, in_place ? ", MPI_IN_PLACE" : "", c->name, r);
            }
        }
    }
    free(all);
    free(send);
    free(recv);
}

/* ---- 5. MPI_Gather, MPI_Allgather, MPI_Scatter, MPI_Alltoall ---- */

enum { X_GATHER, X_ALLGATHER, X_SCATTER, X_ALLTOALL, X_CALLS };
static const char *exchange_names[X_CALLS] = {"MPI_Gather", "MPI_Allgather", "MPI_Scatter", "MPI_Alltoall"};

/* The types of an exchange: one type everywhere, or two of one signature (4k MPI_INT and k
 * contiguous(4,MPI_INT); 6k MPI_INT and k vector(2,3,5,MPI_INT)), each member's send side and
 * receive side taking either. */
enum { V_BYTE, V_INT, V_DOUBLE_INT, V_VECTOR, V_INT_VS_INT4, V_VECTOR_VS_INT, V_COUNT };

/* Bytes a piece (what one member sends one other): around the served engine's marks, its slots of
 * 32 KiB, split into one lane per member for MPI_Alltoall (4 KiB at 8 members). A piece with gaps
 * is served when it fits one lane; a gap-free one goes in steps. */
static const size_t exchange_sizes[] = {1, 8, 4095, 4104, 5000, 32768, 40000, 300000};
enum { EXCHANGE_SIZES = sizeof exchange_sizes / sizeof exchange_sizes[0], NOBODY = 1023 };

typedef struct {
    layout_kind kind;
    size_t count;
} piece_layout;

/* `bytes` / `unit`, rounded down but at least 1 (unless 0). */
static size_t down_to(size_t bytes, size_t unit) { return bytes == 0 ? 0 : bytes < unit ? 1 : bytes / unit; }

/* A piece of about `bytes` in `variant`'s types, as member `rank` lays out its send side (receiving
 * 0) or its receive side in the call `salt`. Types with gaps round down, so that the 4095-byte
 * pieces fit a 4 KiB lane and the 4104-byte ones do not. */
static piece_layout exchange_layout(int variant, size_t bytes, int rank, int receiving, long salt) {
    const int derived = (int)(value_hash(rank, receiving, salt) >> 7 & 1);
    switch (variant) {
    case V_BYTE: return (piece_layout){L_BYTE, bytes};
    case V_INT: return (piece_layout){L_INT, ceil_div(bytes, 4)};
    case V_DOUBLE_INT: return (piece_layout){L_DOUBLE_INT, down_to(bytes, 12)};
    case V_VECTOR: return (piece_layout){L_VECTOR, down_to(bytes, 24)};
    case V_INT_VS_INT4: {
        const size_t k = ceil_div(bytes, 16);
        return derived ? (piece_layout){L_INT4, k} : (piece_layout){L_INT, 4 * k};
    }
    default: { /* V_VECTOR_VS_INT */
        const size_t k = down_to(bytes, 24);
        return derived ? (piece_layout){L_VECTOR, k} : (piece_layout){L_INT, 6 * k};
    }
    }
}

/* Byte j of the data member `from` sends member `to` (NOBODY: to every member) in the call `salt`.
 * `word` caches the 8 bytes around it: word[1] holds bytes 8 * word[0] on (word[0] UINT64_MAX: none). */
static unsigned char piece_byte(int from, int to, size_t j, long salt, uint64_t word[2]) {
    if (word[0] != j / 8) word[0] = j / 8, word[1] = value_hash(from * 1024 + to, (long)(j / 8), salt);
    return (unsigned char)(word[1] >> (j % 8 * 8));
}

/* Writes the data of the piece from `from` to `to` where `layout` has data, at `p`. */
static void fill_piece(unsigned char *p, piece_layout layout, int from, int to, long salt) {
    const size_t extent = layouts[layout.kind].extent;
    uint64_t word[2] = {UINT64_MAX, 0};
    size_t j = 0;
    for (size_t e = 0; e < layout.count; e++)
        for (int s = 0; s < 2; s++)
            for (size_t b = 0; b < layouts[layout.kind].segment_length[s]; b++)
                p[e * extent + layouts[layout.kind].segment_offset[s] + b] = piece_byte(from, to, j++, salt, word);
}

/* Checks piece `index` at `p`: the data of the piece from `from` to `to` where `layout` has data
 * (with from < 0: untouched there too), untouched in its gaps and padding; digests the data with
 * `digested`. */
static void check_piece_at(const char *file, int line, const unsigned char *p, piece_layout layout, int index,
                           int from, int to, long salt, int digested, const char *what) {
    const size_t extent = layouts[layout.kind].extent;
    uint64_t word[2] = {UINT64_MAX, 0};
    size_t j = 0;
    for (size_t e = 0; e < layout.count; e++) {
        size_t data_end = 0;
        for (int s = 0; s < 2; s++) {
            const size_t offset = layouts[layout.kind].segment_offset[s], length = layouts[layout.kind].segment_length[s];
            for (size_t b = data_end; b < offset; b++)
                if (p[e * extent + b] != SENTINEL)
                    test_fail(file, line, "%s: piece %d, element %zu byte %zu is outside the type map (a gap), but was "
                              "written (0x%02x)", what, index, e, b, p[e * extent + b]);
            for (size_t b = 0; b < length; b++, j++) {
                const unsigned char expected = from < 0 ? SENTINEL : piece_byte(from, to, j, salt, word);
                const unsigned char found = p[e * extent + offset + b];
                if (found != expected)
                    test_fail(file, line, "%s: piece %d (%s member %d), data byte %zu (element %zu, byte %zu): expected "
                              "0x%02x, found 0x%02x", what, index, from < 0 ? "insignificant, untouched; would be from"
                              : "from", from < 0 ? index : from, j, e, offset + b, expected, found);
            }
            if (digested && length) digest_bytes(p + e * extent + offset, length);
            if (length) data_end = offset + length;
        }
        for (size_t b = data_end; b < extent; b++)
            if (p[e * extent + b] != SENTINEL)
                test_fail(file, line, "%s: piece %d, element %zu byte %zu is outside the type map (padding or gap), "
                          "but was written (0x%02x)", what, index, e, b, p[e * extent + b]);
    }
}
#define CHECK_PIECE(p, layout, index, from, to, salt, digested, what)                                          \
    check_piece_at(__FILE__, __LINE__, (p), (layout), (index), (from), (to), (salt), (digested), (what))

static int exchange_call(int call, int large, const void *send, size_t send_count, MPI_Datatype send_type, void *recv,
                         size_t recv_count, MPI_Datatype recv_type, int root, MPI_Comm comm) {
    const MPI_Count sc = (MPI_Count)send_count, rc = (MPI_Count)recv_count;
    const int si = (int)send_count, ri = (int)recv_count;
    switch (call) {
    case X_GATHER:
        return large ? MPI_Gather_c(send, sc, send_type, recv, rc, recv_type, root, comm)
                     : MPI_Gather(send, si, send_type, recv, ri, recv_type, root, comm);
    case X_ALLGATHER:
        return large ? MPI_Allgather_c(send, sc, send_type, recv, rc, recv_type, comm)
                     : MPI_Allgather(send, si, send_type, recv, ri, recv_type, comm);
    case X_SCATTER:
        return large ? MPI_Scatter_c(send, sc, send_type, recv, rc, recv_type, root, comm)
                     : MPI_Scatter(send, si, send_type, recv, ri, recv_type, root, comm);
    default:
        return large ? MPI_Alltoall_c(send, sc, send_type, recv, rc, recv_type, comm)
                     : MPI_Alltoall(send, si, send_type, recv, ri, recv_type, comm);
    }
}

/* One exchange of pieces of about `bytes` in `variant`'s types. With in_place, MPI_IN_PLACE where
 * MPI allows it: the root's sendbuf of a gather, its recvbuf of a scatter, every member's sendbuf of
 * an allgather or alltoall. The call's salt picks the _c form (every third call) and, on odd calls,
 * bare insignificant arguments (NULL, 0, MPI_DATATYPE_NULL: the recvbuf of a gather and the sendbuf
 * of a scatter off the root, the send arguments in place); otherwise they are real buffers, which
 * must stay untouched. Every byte of every buffer is checked: data where its type has data,
 * untouched in gaps, padding and past the end; send buffers unchanged. */
static void exchange_check(comm_ctx *c, int call, int variant, size_t bytes, int root, int in_place) {
    const long salt = next_salt(c);
    /* MPICH 4.0.2 (over UCX) fails with "Message truncated" on MPI_DOUBLE_INT pieces above about
     * 8 KiB a message in its binomial MPI_Gather and MPI_Scatter and its in-place MPI_Alltoall
     * (measured: scatter 683 elements fine, 700 not; in-place alltoall 682 fine, 683 not; gather at 8
     * ranks, where subtrees of 4 pieces go in one message, 171 fine, 200 not); its MPI_Allgather,
     * MPI_Alltoall and the vector are fine. Larger such pieces are vectors here. */
    const size_t double_int_limit = call == X_GATHER ? 16384 / (size_t)c->size
                                    : call == X_SCATTER || (call == X_ALLTOALL && in_place) ? 8192 : SIZE_MAX;
    if (variant == V_DOUBLE_INT && bytes > double_int_limit) variant = V_VECTOR;
    const int n = c->size, me = c->rank;
    const int rooted = call == X_GATHER || call == X_SCATTER;
    if (!rooted) root = -1;
    const int is_root = rooted && me == root;
    const int place = in_place && (!rooted || is_root);
    const int large = salt % 3 == 0, bare = salt % 2 == 1;
    const int gathers = call == X_GATHER || call == X_ALLGATHER;
    piece_layout sl = exchange_layout(variant, bytes, me, 0, salt);
    const piece_layout rl = exchange_layout(variant, bytes, me, 1, salt);
    if (place && call == X_ALLTOALL) sl = rl; /* in place, the pieces go out in the receive type */

    /* Pieces of space in each buffer; which of them MPI lets the call read or write. */
    int send_pieces, recv_pieces, recv_significant = 1, send_significant = 1;
    switch (call) {
    case X_GATHER:
        send_pieces = place ? 0 : 1;
        recv_pieces = is_root || !bare ? n : 0;
        recv_significant = is_root;
        break;
    case X_ALLGATHER: send_pieces = place ? 0 : 1, recv_pieces = n; break;
    case X_SCATTER:
        send_pieces = is_root || !bare ? n : 0;
        send_significant = is_root;
        recv_pieces = place ? 0 : 1;
        break;
    default: send_pieces = place ? 0 : n, recv_pieces = n; break;
    }
    const size_t send_piece_span = sl.count * layouts[sl.kind].extent;
    const size_t recv_piece_span = rl.count * layouts[rl.kind].extent;
    const size_t send_span = send_pieces * send_piece_span, recv_span = recv_pieces * recv_piece_span, guard = 64;
    unsigned char *send = xmalloc(send_span + guard), *recv = xmalloc(recv_span + guard);
    memset(send, SENTINEL, send_span + guard);
    memset(recv, SENTINEL, recv_span + guard);
    /* Send piece p: what this member sends member p (gathers: every member). */
    for (int p = 0; p < send_pieces; p++) fill_piece(send + p * send_piece_span, sl, me, gathers ? NOBODY : p, salt);
    if (place && call != X_SCATTER) {
        if (gathers) fill_piece(recv + me * recv_piece_span, rl, me, NOBODY, salt);
        else
            for (int p = 0; p < n; p++) fill_piece(recv + p * recv_piece_span, rl, me, p, salt);
    }

    const void *send_arg = place && call != X_SCATTER ? MPI_IN_PLACE : send_pieces ? send : NULL;
    void *recv_arg = place && call == X_SCATTER ? MPI_IN_PLACE : recv_pieces ? recv : NULL;
    const int bare_send = bare && (send_arg == MPI_IN_PLACE || !send_significant);
    const int bare_recv = bare && (recv_arg == MPI_IN_PLACE || !recv_significant);
    char what[300], root_text[24] = "";
    if (is_root) snprintf(root_text, sizeof root_text, ", root %d (here)", root);
    else if (rooted) snprintf(root_text, sizeof root_text, ", root %d", root);
    snprintf(what, sizeof what, "%s%s(%zu B a piece: sends %zu x %s, receives %zu x %s%s%s%s) on %s (%d members, "
             "member %d)", exchange_names[call], large ? "_c" : "", sl.count * layouts[sl.kind].packed, sl.count,
             layouts[sl.kind].name, rl.count, layouts[rl.kind].name, root_text, place ? ", MPI_IN_PLACE" : "",
             bare ? ", insignificant arguments bare" : "", c->name, n, me);
    MPI_OK(exchange_call(call, large, send_arg, bare_send ? 0 : sl.count,
                         bare_send ? MPI_DATATYPE_NULL : layout_type(sl.kind), recv_arg, bare_recv ? 0 : rl.count,
                         bare_recv ? MPI_DATATYPE_NULL : layout_type(rl.kind), root, c->comm));

    /* Receive piece p: from member p (a scatter: from the root), to this member (gathers: to every member). */
    for (int p = 0; p < recv_pieces; p++) {
        const int from = !recv_significant ? -1 : call == X_SCATTER ? root : p;
        CHECK_PIECE(recv + p * recv_piece_span, rl, p, from, gathers ? NOBODY : me, salt, recv_significant, what);
    }
    CHECK_UNTOUCHED(recv + recv_span, guard, what);
    for (int p = 0; p < send_pieces; p++)
        CHECK_PIECE(send + p * send_piece_span, sl, p, me, gathers ? NOBODY : p, salt, 0, what);
    CHECK_UNTOUCHED(send + send_span, guard, what);
    free(send);
    free(recv);
}

/* Count 0, with NULL buffers. */
static void zero_exchange_checks(comm_ctx *c, int root) {
    MPI_OK(MPI_Gather(NULL, 0, MPI_INT, NULL, 0, MPI_INT, root, c->comm));
    MPI_OK(MPI_Gather_c(c->rank == root ? MPI_IN_PLACE : NULL, 0, vector_type, NULL, 0, vector_type, root, c->comm));
    MPI_OK(MPI_Allgather(NULL, 0, MPI_BYTE, NULL, 0, MPI_BYTE, c->comm));
    MPI_OK(MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, NULL, 0, vector_type, c->comm));
    MPI_OK(MPI_Scatter(NULL, 0, MPI_DOUBLE_INT, NULL, 0, MPI_DOUBLE_INT, root, c->comm));
    MPI_OK(MPI_Scatter_c(NULL, 0, MPI_INT, c->rank == root ? MPI_IN_PLACE : NULL, 0, MPI_INT, root, c->comm));
    MPI_OK(MPI_Alltoall(NULL, 0, int4_type, NULL, 0, MPI_INT, c->comm));
    MPI_OK(MPI_Alltoall_c(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, NULL, 0, MPI_DOUBLE, c->comm));
}

/* ---- the suite, on one communicator ---- */

/* Fences between the sections on MPI_COMM_WORLD. */
static void between_sections(const comm_ctx *c) {
    if (c->comm == MPI_COMM_WORLD) rma_step();
}

static void run_suite(comm_ctx *c) {
    const int n = c->size;

    /* 1. barriers */
    MPI_OK(MPI_Barrier(c->comm));
    barrier_check(c);
    between_sections(c);

    /* 2. broadcasts: every variant at every size, the root rotating so that each size meets most
     * roots; then every root. */
    for (int v = 0; v < B_COUNT; v++)
        for (int s = 0; s < BCAST_SIZES; s++)
            if (pick(c)) bcast_check(c, v, bcast_sizes[s], (s + v) % n);
    between_sections(c);
    for (int root = 0; root < n; root++) {
        bcast_check(c, root % 2 ? B_VECTOR_VS_INT : B_INT, root % 3 ? 8 : 16385, root);
        if (pick(c)) bcast_check(c, B_BYTE, 100000, root);
    }
    between_sections(c);

    /* 3. every predefined op on every type it is defined for, as MPI_Allreduce and as MPI_Reduce
     * with the root rotating. */
    static const long small_counts[3] = {1, 3, 4097};
    int k = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        for (int t = 0; t < T_COUNT; t++) {
            if (!op_defined(op, t)) continue;
            if (pick(c)) reduce_check(c, op, t, small_counts[k % 3], -1, (k / 3) % 2);
            if (pick(c)) reduce_check(c, op, t, small_counts[(k + 1) % 3], k % n, k % 2);
            k++;
        }
    }
    between_sections(c);

    /* Every count, on a few of them (the first two always). */
    static const long counts[] = {0, 1, 3, 4097, 300000};
    static const int sweep[][2] = {
        {OP_SUM, T_INT}, {OP_SUM, T_DOUBLE}, {OP_MAX, T_LONG_LONG}, {OP_BXOR, T_UNSIGNED_CHAR}, {OP_PROD, T_FLOAT}};
    for (int i = 0; i < 5; i++) {
        reduce_check(c, OP_SUM, T_INT, counts[i], -1, i % 2);
        reduce_check(c, OP_SUM, T_DOUBLE, counts[i], (i + 1) % n, (i + 1) % 2);
    }
    for (int w = 0; w < 5; w++) {
        for (int i = 0; i < 5; i++) {
            if (pick(c)) reduce_check(c, sweep[w][0], sweep[w][1], counts[i], -1, (w + i) % 2);
            if (pick(c)) reduce_check(c, sweep[w][0], sweep[w][1], counts[i], (w + i) % n, (w + i + 1) % 2);
        }
    }
    between_sections(c);

    /* Every root, with a commutative and a non-commutative op. */
    for (int root = 0; root < n; root++) {
        reduce_check(c, OP_SUM, T_INT, 3, root, root % 2);
        matrix_check(c, 3, root, (root + 1) % 2);
        if (pick(c)) pair_check(c, P_DOUBLE_INT, 1, 3, root, root % 2);
    }
    between_sections(c);

    /* MINLOC and MAXLOC. */
    for (int p = 0; p < P_COUNT; p++) {
        for (int minloc = 1; minloc >= 0; minloc--) {
            if (pick(c)) pair_check(c, p, minloc, 4097, -1, p % 2);
            if (pick(c)) pair_check(c, p, minloc, 3, (2 * p + minloc) % n, minloc);
        }
    }
    between_sections(c);

    /* User ops. */
    mod_sum_check(c, 0, 4097, -1, 0);
    mod_sum_check(c, 1, 4 * 1025, 1 % n, 1);
    matrix_check(c, 1, -1, 0);
    matrix_check(c, 4097, -1, 1);
    if (pick(c)) mod_sum_check(c, 1, 300000, -1, 1);
    if (pick(c)) mod_sum_check(c, 0, 3, n - 1, 0);
    if (pick(c)) matrix_check(c, 4097, n - 1, 0);
    if (pick(c)) matrix_check(c, 1, 0, 1);
    zero_count_checks(c, (n - 1) / 2);
    between_sections(c);

    /* 4. the same bits at every member. */
    identical_check(c, 4097, 0);
    if (pick(c)) identical_check(c, 300000, 1);
    between_sections(c);

    /* 5. gathers, scatters and all-to-all: every call in every variant at every size (a sample),
     * the root rotating, MPI_IN_PLACE on every other one; */
    for (int v = 0; v < V_COUNT; v++)
        for (int s = 0; s < EXCHANGE_SIZES; s++)
            for (int x = 0; x < X_CALLS; x++)
                if (pick(c)) exchange_check(c, x, v, exchange_sizes[s], (s + v + x) % n, (s + v + x) % 2);
    between_sections(c);
    /* every call in steps, with a piece of gaps over an all-to-all lane at 8 members, and a piece
     * of padding that fits one; */
    for (int x = 0; x < X_CALLS; x++) {
        exchange_check(c, x, V_BYTE, 300000, (x + 1) % n, x % 2);
        exchange_check(c, x, V_VECTOR_VS_INT, 5000, x % n, (x + 1) % 2);
        exchange_check(c, x, V_DOUBLE_INT, 4095, n - 1, x / 2 % 2);
    }
    /* every root; count 0. */
    for (int root = 0; root < n; root++) {
        exchange_check(c, X_GATHER, root % 2 ? V_VECTOR_VS_INT : V_INT, root % 3 ? 8 : 40000, root, root % 2);
        exchange_check(c, X_SCATTER, root % 2 ? V_INT_VS_INT4 : V_DOUBLE_INT, root % 3 ? 4104 : 8, root, (root + 1) % 2);
        if (pick(c)) exchange_check(c, root % 2 ? X_SCATTER : X_GATHER, V_BYTE, 40000, root, root / 2 % 2);
    }
    for (int x = 0; x < X_CALLS; x++) exchange_check(c, x, x % 2 ? V_VECTOR : V_INT, 0, (x + 1) % n, x / 2 % 2);
    zero_exchange_checks(c, n / 2);
    between_sections(c);
}

/* ---- 7. errors ---- */

static void error_checks(void) {
    MPI_Comm comm;
    MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &comm));
    MPI_OK(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN));
    int in[4] = {1, 2, 3, world_rank}, out[4] = {0};
    int classes[2];
    const int allreduce_rc = MPI_Allreduce(in, out, 4, MPI_INT, MPI_REPLACE, comm);
    CHECK(allreduce_rc != MPI_SUCCESS, "MPI_Allreduce with MPI_REPLACE returned MPI_SUCCESS");
    const int reduce_rc = MPI_Reduce(in, out, 4, MPI_INT, MPI_REPLACE, 0, comm);
    CHECK(reduce_rc != MPI_SUCCESS, "MPI_Reduce with MPI_REPLACE returned MPI_SUCCESS");
    MPI_OK(MPI_Error_class(allreduce_rc, &classes[0]));
    MPI_OK(MPI_Error_class(reduce_rc, &classes[1]));
    /* The communicator still works after the failed calls. */
    int low[2], high[2];
    MPI_OK(MPI_Allreduce(classes, low, 2, MPI_INT, MPI_MIN, comm));
    MPI_OK(MPI_Allreduce(classes, high, 2, MPI_INT, MPI_MAX, comm));
    if (world_rank == 0)
        printf("error classes with MPI_REPLACE: MPI_Allreduce %d..%d, MPI_Reduce %d..%d (MPI_ERR_OP is %d)\n", low[0],
               high[0], low[1], high[1], MPI_ERR_OP);
    int sum = -1;
    MPI_OK(MPI_Allreduce(&world_rank, &sum, 1, MPI_INT, MPI_SUM, comm));
    CHECK_EQ_LL(sum, (long long)world_size * (world_size - 1) / 2, "MPI_Allreduce after the failed ones");
    MPI_OK(MPI_Comm_free(&comm));
}

/* ---- communicators created and freed over and over ---- */

/* A dup of MPI_COMM_WORLD, an even/odd split in reverse order, and halves, in turn, with one checked
 * collective each (a barrier, broadcast, allreduce, reduce, or a gather, allgather, scatter or
 * alltoall): a stale handle reused by the next communicator shows as wrong members. */
static void communicator_churn(int iterations) {
    MPI_Comm seen[8];
    int seen_count = 0, reused = 0;
    int *members = xmalloc(world_size * sizeof(int));
    for (int it = 0; it < iterations; it++) {
        MPI_Comm comm;
        const int kind = it % 3;
        const char *names[3] = {"a dup of MPI_COMM_WORLD", "an even/odd split, reversed", "a split into halves"};
        if (kind == 0) MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &comm));
        else if (kind == 1) MPI_OK(MPI_Comm_split(MPI_COMM_WORLD, world_rank % 2, world_size - world_rank, &comm));
        else MPI_OK(MPI_Comm_split(MPI_COMM_WORLD, world_rank < (world_size + 1) / 2, world_rank, &comm));
        int known = 0;
        for (int i = 0; i < seen_count; i++) known |= seen[i] == comm;
        if (known) reused++;
        else if (seen_count < 8) seen[seen_count++] = comm;
        int rank, size;
        MPI_OK(MPI_Comm_rank(comm, &rank));
        MPI_OK(MPI_Comm_size(comm, &size));
        member_world_ranks(comm, size, members);
        long long member_sum = 0;
        for (int m = 0; m < size; m++) member_sum += members[m];
        const int root = it % size;
        char what[160];
        snprintf(what, sizeof what, "iteration %d on %s (%d members)", it, names[kind], size);
        switch (it % 5) {
        case 0: MPI_OK(MPI_Barrier(comm)); break;
        case 1: {
            int data[3] = {-1, -1, -1};
            if (rank == root) data[0] = it, data[1] = size, data[2] = world_rank;
            MPI_OK(MPI_Bcast(data, 3, MPI_INT, root, comm));
            const int expected[3] = {it, size, members[root]};
            CHECK_INTS(data, expected, 3, what);
            digest_bytes(data, sizeof data);
            break;
        }
        case 2: {
            long long data[3] = {world_rank, 1, it}, result[3];
            MPI_OK(MPI_Allreduce(data, result, 3, MPI_LONG_LONG, MPI_SUM, comm));
            CHECK(result[0] == member_sum && result[1] == size && result[2] == (long long)it * size,
                  "%s: MPI_Allreduce(MPI_SUM) gave {%lld, %lld, %lld}, expected {%lld, %d, %lld}", what, result[0],
                  result[1], result[2], member_sum, size, (long long)it * size);
            digest_bytes(result, sizeof result);
            break;
        }
        case 3: {
            int data[2] = {world_rank, -world_rank}, result[2] = {-1, -1};
            MPI_OK(MPI_Reduce(data, result, 2, MPI_INT, MPI_MAX, root, comm));
            if (rank == root) {
                int high = members[0], low = members[0];
                for (int m = 1; m < size; m++) high = members[m] > high ? members[m] : high, low = members[m] < low ? members[m] : low;
                const int expected[2] = {high, -low};
                CHECK_INTS(result, expected, 2, what);
                digest_bytes(result, sizeof result);
            }
            break;
        }
        default: { /* a gather, allgather, scatter or alltoall in turn: piece m names its sender and receiver */
            const int call = it / 5 % X_CALLS, receives = call != X_GATHER || rank == root;
            int *send = xmalloc(2 * size * sizeof(int)), *recv = xmalloc(2 * size * sizeof(int));
            int *expected = xmalloc(2 * size * sizeof(int));
            for (int m = 0; m < size; m++) {
                send[2 * m] = world_rank, send[2 * m + 1] = call == X_GATHER || call == X_ALLGATHER ? it : m;
                recv[2 * m] = recv[2 * m + 1] = -1;
                expected[2 * m] = call == X_SCATTER ? members[root] : members[m];
                expected[2 * m + 1] = call == X_GATHER || call == X_ALLGATHER ? it : rank;
            }
            switch (call) {
            case X_GATHER: MPI_OK(MPI_Gather(send, 2, MPI_INT, rank == root ? recv : NULL, 2, MPI_INT, root, comm)); break;
            case X_ALLGATHER: MPI_OK(MPI_Allgather(send, 2, MPI_INT, recv, 2, MPI_INT, comm)); break;
            case X_SCATTER: MPI_OK(MPI_Scatter(rank == root ? send : NULL, 2, MPI_INT, recv, 2, MPI_INT, root, comm)); break;
            default: MPI_OK(MPI_Alltoall(send, 2, MPI_INT, recv, 2, MPI_INT, comm)); break;
            }
            char call_what[200];
            snprintf(call_what, sizeof call_what, "%s: %s (root %d)", what, exchange_names[call], root);
            const int pieces = call == X_SCATTER ? 1 : size;
            if (receives) {
                CHECK_INTS(recv, expected, 2 * pieces, call_what);
                for (int i = 2 * pieces; i < 2 * size; i++) CHECK_EQ_LL(recv[i], -1, call_what);
                digest_bytes(recv, 2 * pieces * sizeof(int));
            }
            free(send);
            free(recv);
            free(expected);
            break;
        }
        }
        MPI_OK(MPI_Comm_free(&comm));
    }
    if (world_rank == 0 && getenv("IT_VERBOSE"))
        printf("communicator churn: %d of %d communicators got a handle seen before\n", reused, iterations);
    free(members);
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "collectives");
    digest_mode = argc == 2 && strcmp(argv[1], "--digest") == 0;
    CHECK(argc == 1 || digest_mode, "usage: collectives [--digest]");

    MPI_OK(MPI_Type_contiguous(4, MPI_INT, &int4_type));
    MPI_OK(MPI_Type_commit(&int4_type));
    MPI_OK(MPI_Type_vector(2, 3, 5, MPI_INT, &vector_type));
    MPI_OK(MPI_Type_commit(&vector_type));
    MPI_OK(MPI_Op_create(mod_sum, 1, &mod_sum_op));
    MPI_OK(MPI_Op_create(matrix_product, 0, &matrix_op));
    MPI_OK(test_window_allocate(window_bytes(world_size * sizeof(int)), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD,
                                &fence_base, &fence_win));
    MPI_OK(test_window_allocate(window_bytes(BARRIER_ROUNDS * world_size * sizeof(int)), sizeof(int), MPI_INFO_NULL,
                                MPI_COMM_WORLD, &lock_base, &lock_win));
    memset(fence_base, 0, world_size * sizeof(int));
    memset(lock_base, 0, BARRIER_ROUNDS * world_size * sizeof(int));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    /* Under plain MPICH a collective costs about 25 ms at 8 ranks on 2 cores (5 ms at 4, microseconds at
     * 2): the sub-communicators, and above 4 ranks MPI_COMM_WORLD too, run a sample of the suite. */
    const int many = world_size > 4;
    const int sample = many ? 7 : 3;
    comm_ctx world = make_ctx(MPI_COMM_WORLD, "MPI_COMM_WORLD", many ? 3 : 1, 1);
    run_suite(&world);
    test_phase_done("MPI_COMM_WORLD");

    /* Even and odd world ranks, the highest first. */
    MPI_Comm parity;
    MPI_OK(MPI_Comm_split(MPI_COMM_WORLD, world_rank % 2, world_size - world_rank, &parity));
    comm_ctx split = make_ctx(parity, world_rank % 2 ? "the odd ranks (reversed)" : "the even ranks (reversed)", sample, 2);
    const int same_parity = (world_size - world_rank % 2 + 1) / 2;
    CHECK_EQ_LL(split.size, same_parity, "members of the even/odd split");
    CHECK_EQ_LL(split.rank, (world_size - 1 - world_rank) / 2, "rank in the reversed even/odd split");
    run_suite(&split);
    MPI_OK(MPI_Comm_free(&parity));
    rma_step();
    test_phase_done("even/odd MPI_Comm_split, reversed");

    /* Contiguous halves: on two regions of equal size, each half is one region. */
    MPI_Comm half;
    MPI_OK(MPI_Comm_split(MPI_COMM_WORLD, world_rank < (world_size + 1) / 2, world_rank, &half));
    comm_ctx halves = make_ctx(half, world_rank < (world_size + 1) / 2 ? "the lower half" : "the upper half", sample, 3);
    run_suite(&halves);
    MPI_OK(MPI_Comm_free(&half));
    rma_step();
    test_phase_done("halves");

    MPI_Comm dup;
    MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &dup));
    comm_ctx duplicate = make_ctx(dup, "a dup of MPI_COMM_WORLD", sample, 4);
    run_suite(&duplicate);
    MPI_OK(MPI_Comm_free(&dup));
    error_checks();
    rma_step();
    test_phase_done("MPI_Comm_dup and errors");

    comm_ctx self = make_ctx(MPI_COMM_SELF, "MPI_COMM_SELF", 1, 5);
    run_suite(&self);
    test_phase_done("MPI_COMM_SELF");

    /* A dup or split costs several collectives: 200 rounds at 2 ranks, fewer above. */
    communicator_churn(world_size <= 2 ? 200 : 12 * (20 / world_size > 2 ? 20 / world_size : 2));
    rma_step();
    test_phase_done("communicators created and freed");

    uint64_t *all = world_rank == 0 ? xmalloc(world_size * sizeof(uint64_t)) : NULL;
    MPI_OK(MPI_Gather(&digest, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD));
    if (world_rank == 0 && digest_mode) {
        printf("digest %016llx\n", (unsigned long long)fnv(0xcbf29ce484222325ULL, all, world_size * sizeof(uint64_t)));
        printf("rank digests");
        for (int r = 0; r < world_size; r++) printf(" %016llx", (unsigned long long)all[r]);
        printf("\n");
    }
    free(all);
    MPI_OK(test_window_free(&fence_win));
    MPI_OK(test_window_free(&lock_win));
    MPI_OK(MPI_Op_free(&mod_sum_op));
    MPI_OK(MPI_Op_free(&matrix_op));
    MPI_OK(MPI_Type_free(&int4_type));
    MPI_OK(MPI_Type_free(&vector_type));
    return test_finish();
}
