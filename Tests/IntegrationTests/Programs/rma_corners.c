/*
 * Legal corners of put/get/accumulate that real programs hit, each on the right neighbor's
 * window, with the bytes checked:
 *   1. MPI_NO_OP fetches with the origin ignored: NULL buffer, count 0, MPI_DATATYPE_NULL
 *      (MPI_Get_accumulate, MPI_Rget_accumulate, MPI_Fetch_and_op), also on every pair type.
 *   2. Zero-byte transfers (count 0, or a type of size 0) with mismatched types: no-ops.
 *   3. MPI_BOTTOM buffers with types built from absolute addresses (as ARMCI-MPI does).
 *   4. MINLOC/MAXLOC on every pair type, contiguous and as a vector, from MPI_Alloc_mem memory.
 *   5. Every predefined op on every predefined type MPICH takes for it: the target's bytes
 *      equal MPI_Reduce_local's on the same data, padding included.
 *   6. Flush arguments under MPI_ERRORS_RETURN: MPI_PROC_NULL is a no-op, a rank outside the
 *      window is MPI_ERR_RANK, a flush outside any passive epoch MPI_ERR_RMA_SYNC.
 */
#include "common.h"
#include <complex.h>
#include <math.h>

enum { N = 16, MAX_EXTENT = 32, WINDOW = N * MAX_EXTENT * 2 };

static MPI_Win win;
static unsigned char *window_base;
static int right, left;

static unsigned long long rng_state;
static unsigned next_random(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(rng_state >> 33);
}
static void seed(int test_case, int rank, int side) {
    rng_state = 0x9e3779b97f4a7c15ULL ^ ((unsigned long long)test_case << 20) ^ ((unsigned long long)rank << 8) ^ side;
    for (int i = 0; i < 4; i++) next_random();
}

static void fence(void) { MPI_OK(MPI_Win_fence(0, win)); }

/* ---- 1. MPI_NO_OP with the origin arguments ignored ---- */

static void no_op_fetches(void) {
    int *mine = (int *)window_base;
    fence();
    for (int i = 0; i < N; i++) mine[i] = pattern(world_rank, world_rank, i, 1);
    fence();
    int fetched[N], expected[N];
    for (int i = 0; i < N; i++) expected[i] = pattern(right, right, i, 1);
    memset(fetched, 0, sizeof fetched);
    MPI_OK(MPI_Get_accumulate(NULL, 0, MPI_DATATYPE_NULL, fetched, N, MPI_INT, right, 0, N, MPI_INT, MPI_NO_OP, win));
    fence();
    CHECK_INTS(fetched, expected, N, "MPI_Get_accumulate MPI_NO_OP, NULL origin, MPI_DATATYPE_NULL");
    int one = -1;
    MPI_OK(MPI_Fetch_and_op(NULL, &one, MPI_INT, right, 3 * sizeof(int), MPI_NO_OP, win));
    fence();
    CHECK_EQ_LL(one, expected[3], "MPI_Fetch_and_op MPI_NO_OP, NULL origin");

    MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, right, 0, win));
    MPI_Request request;
    memset(fetched, 0, sizeof fetched);
    MPI_OK(MPI_Rget_accumulate(NULL, 0, MPI_DATATYPE_NULL, fetched, N, MPI_INT, right, 0, N, MPI_INT, MPI_NO_OP, win,
                               &request));
    MPI_OK(MPI_Wait(&request, MPI_STATUS_IGNORE));
    MPI_OK(MPI_Win_unlock(right, win));
    CHECK_INTS(fetched, expected, N, "MPI_Rget_accumulate MPI_NO_OP, NULL origin, MPI_DATATYPE_NULL");
    CHECK_EQ_LL(mine[5], pattern(world_rank, world_rank, 5, 1), "own window after MPI_NO_OP");
    fence();
    test_phase_done("no-op fetches");
}

/* ---- the pair types, laid out as their C structs ---- */

typedef struct {
    const char *name;
    MPI_Datatype type;
    int value_kind; /* 0 int, 1 float, 2 double, 3 long, 4 short, 5 long double */
    size_t index_offset;
    int index_is_value; /* MPI_2INT and the Fortran pairs: the index has the value's type */
} pair_t;

static pair_t pairs[] = {
    {"MPI_SHORT_INT", MPI_SHORT_INT, 4, 4, 0},         {"MPI_2INT", MPI_2INT, 0, 4, 1},
    {"MPI_LONG_INT", MPI_LONG_INT, 3, 8, 0},           {"MPI_FLOAT_INT", MPI_FLOAT_INT, 1, 4, 0},
    {"MPI_DOUBLE_INT", MPI_DOUBLE_INT, 2, 8, 0},       {"MPI_LONG_DOUBLE_INT", MPI_LONG_DOUBLE_INT, 5, 16, 0},
    {"MPI_2INTEGER", MPI_2INTEGER, 0, 4, 1},           {"MPI_2REAL", MPI_2REAL, 1, 4, 1},
    {"MPI_2DOUBLE_PRECISION", MPI_2DOUBLE_PRECISION, 2, 8, 1},
};
enum { PAIR_TYPES = sizeof pairs / sizeof pairs[0] };

/* Values from a small range, so ties (and the smaller-index rule) are frequent. */
static void fill_pairs(const pair_t *p, unsigned char *buffer, int count, MPI_Aint extent) {
    for (int e = 0; e < count; e++) {
        unsigned char *at = buffer + e * extent;
        for (MPI_Aint b = 0; b < extent; b++) at[b] = (unsigned char)next_random();  /* padding too */
        int value = (int)(next_random() % 5) - 2, index = (int)(next_random() % 7);
        switch (p->value_kind) {
        case 0: *(int *)at = value; break;
        case 1: *(float *)at = (float)value; break;
        case 2: *(double *)at = value; break;
        case 3: *(long *)at = value; break;
        case 4: *(short *)at = (short)value; break;
        case 5: *(long double *)at = value; break;
        }
        if (!p->index_is_value) *(int *)(at + p->index_offset) = index;
        else if (p->value_kind == 0) *(int *)(at + p->index_offset) = index;
        else if (p->value_kind == 1) *(float *)(at + p->index_offset) = (float)index;
        else *(double *)(at + p->index_offset) = index;
    }
}

static void pair_fetches_with_no_op(void) {
    for (int t = 0; t < PAIR_TYPES; t++) {
        MPI_Aint lb, extent;
        MPI_OK(MPI_Type_get_extent(pairs[t].type, &lb, &extent));
        fence();
        seed(100 + t, world_rank, 0);
        fill_pairs(&pairs[t], window_base, N, extent);
        fence();
        unsigned char fetched[N * MAX_EXTENT], expected[N * MAX_EXTENT];
        seed(100 + t, right, 0);
        fill_pairs(&pairs[t], expected, N, extent);
        memcpy(fetched, expected, sizeof fetched);  /* the padding a fetch leaves alone */
        int size;
        MPI_OK(MPI_Type_size(pairs[t].type, &size));
        for (int e = 0; e < N; e++) memset(fetched + e * extent, 0, 1);
        MPI_OK(MPI_Get_accumulate(NULL, 0, MPI_DATATYPE_NULL, fetched, N, pairs[t].type, right, 0, N, pairs[t].type,
                                  MPI_NO_OP, win));
        fence();
        /* Compare the data bytes of each element (value and index; the padding is not data). */
        for (int e = 0; e < N; e++) {
            size_t value_bytes = pairs[t].value_kind == 5 ? 10 : pairs[t].index_offset;
            CHECK_BYTES(fetched + e * extent, expected + e * extent, value_bytes, pairs[t].name);
            CHECK_BYTES(fetched + e * extent + pairs[t].index_offset, expected + e * extent + pairs[t].index_offset,
                        (size_t)size - (pairs[t].value_kind == 5 ? 16 : pairs[t].index_offset), pairs[t].name);
        }
    }
    test_phase_done("pair-type fetches with MPI_NO_OP");
}

/* ---- 2. zero-byte transfers ---- */

static void zero_bytes(void) {
    MPI_Datatype empty;
    MPI_OK(MPI_Type_contiguous(0, MPI_INT, &empty));
    MPI_OK(MPI_Type_commit(&empty));
    int *mine = (int *)window_base;
    fence();
    for (int i = 0; i < N; i++) mine[i] = pattern(world_rank, world_rank, i, 2);
    fence();
    double doubles[N];
    int ints[N], results[N];
    for (int i = 0; i < N; i++) doubles[i] = ints[i] = results[i] = -5;
    /* Both sides describe no data (type signatures match), under different type names. */
    MPI_OK(MPI_Put(ints, 0, MPI_INT, right, 0, 0, MPI_DOUBLE, win));
    MPI_OK(MPI_Put(ints, 0, MPI_INT, right, 0, 4, empty, win));
    MPI_OK(MPI_Put(ints, 4, empty, right, 0, 0, MPI_DOUBLE, win));
    MPI_OK(MPI_Get(ints, 0, MPI_INT, right, 0, 3, empty, win));
    MPI_OK(MPI_Get(doubles, 3, empty, right, 0, 0, MPI_DOUBLE, win));
    MPI_OK(MPI_Accumulate(ints, 0, MPI_INT, right, 0, 0, MPI_DOUBLE, MPI_SUM, win));
    MPI_OK(MPI_Accumulate(ints, 0, MPI_INT, right, 0, 2, empty, MPI_SUM, win));
    MPI_OK(MPI_Accumulate(ints, 2, empty, right, 0, 0, MPI_INT, MPI_SUM, win));
    MPI_OK(MPI_Get_accumulate(ints, 0, MPI_INT, results, 0, MPI_DOUBLE, right, 0, 0, MPI_INT, MPI_SUM, win));
    MPI_OK(MPI_Get_accumulate(ints, 0, MPI_INT, results, 3, empty, right, 0, 0, MPI_INT, MPI_SUM, win));
    MPI_OK(MPI_Get_accumulate(ints, 0, MPI_INT, results, 0, MPI_INT, right, 0, 5, empty, MPI_MAX, win));
    MPI_OK(MPI_Get_accumulate(NULL, 0, MPI_DATATYPE_NULL, results, 0, MPI_DOUBLE, right, 0, 0, MPI_INT, MPI_NO_OP, win));
    fence();
    for (int i = 0; i < N; i++) {
        CHECK_EQ_LL(mine[i], pattern(world_rank, world_rank, i, 2), "target after zero-byte calls");
        CHECK_EQ_LL(ints[i], -5, "origin after zero-byte gets");
        CHECK_EQ_DOUBLE(doubles[i], -5, "origin after zero-byte gets");
        CHECK_EQ_LL(results[i], -5, "result after zero-byte fetches");
    }
    MPI_OK(MPI_Type_free(&empty));
    test_phase_done("zero-byte transfers");
}

/* ---- 3. MPI_BOTTOM with absolute addresses ---- */

/* Elements 1, 4 and 6 of `buffer`, as one struct type of absolute addresses. */
static MPI_Datatype absolute(void *buffer, MPI_Datatype element, MPI_Aint element_size) {
    int lens[3] = {1, 2, 1};
    MPI_Aint addresses[3];
    MPI_Datatype types[3] = {element, element, element};
    MPI_OK(MPI_Get_address((char *)buffer + 1 * element_size, &addresses[0]));
    MPI_OK(MPI_Get_address((char *)buffer + 4 * element_size, &addresses[1]));
    MPI_OK(MPI_Get_address((char *)buffer + 7 * element_size, &addresses[2]));
    MPI_Datatype type;
    MPI_OK(MPI_Type_create_struct(3, lens, addresses, types, &type));
    MPI_OK(MPI_Type_commit(&type));
    return type;
}

static void bottom_buffers(void) {
    static const int picked[4] = {1, 4, 5, 7};
    int *mine = (int *)window_base;
    int origin[N], result[N];
    for (int i = 0; i < N; i++) origin[i] = pattern(world_rank, right, i, 3);
    MPI_Datatype from_origin = absolute(origin, MPI_INT, sizeof(int));
    MPI_Datatype into_result = absolute(result, MPI_INT, sizeof(int));
    MPI_Aint hindexed_displacements[2];
    MPI_OK(MPI_Get_address(&origin[1], &hindexed_displacements[0]));
    MPI_OK(MPI_Get_address(&origin[4], &hindexed_displacements[1]));
    int hindexed_lens[2] = {1, 3};
    MPI_Datatype hindexed;
    MPI_OK(MPI_Type_create_hindexed(2, hindexed_lens, hindexed_displacements, MPI_INT, &hindexed));
    MPI_OK(MPI_Type_commit(&hindexed));

    fence();
    for (int i = 0; i < N; i++) mine[i] = 0;
    fence();
    MPI_OK(MPI_Put(MPI_BOTTOM, 1, from_origin, right, 0, 4, MPI_INT, win));
    fence();
    for (int k = 0; k < 4; k++)
        CHECK_EQ_LL(mine[k], pattern(left, world_rank, picked[k], 3), "MPI_Put from MPI_BOTTOM (struct)");
    MPI_OK(MPI_Put(MPI_BOTTOM, 1, hindexed, right, 8 * sizeof(int), 4, MPI_INT, win));
    fence();
    static const int hpicked[4] = {1, 4, 5, 6};
    for (int k = 0; k < 4; k++)
        CHECK_EQ_LL(mine[8 + k], pattern(left, world_rank, hpicked[k], 3), "MPI_Put from MPI_BOTTOM (hindexed)");

    MPI_OK(MPI_Accumulate(MPI_BOTTOM, 1, from_origin, right, 0, 4, MPI_INT, MPI_SUM, win));
    fence();
    for (int k = 0; k < 4; k++)
        CHECK_EQ_LL(mine[k], 2 * pattern(left, world_rank, picked[k], 3), "MPI_Accumulate from MPI_BOTTOM");

    for (int i = 0; i < N; i++) result[i] = -1;
    MPI_OK(MPI_Get(MPI_BOTTOM, 1, into_result, right, 0, 4, MPI_INT, win));
    fence();
    for (int k = 0; k < 4; k++)
        CHECK_EQ_LL(result[picked[k]], 2 * pattern(world_rank, right, picked[k], 3), "MPI_Get into MPI_BOTTOM");
    CHECK_EQ_LL(result[0], -1, "MPI_Get into MPI_BOTTOM: element not in the type");

    for (int i = 0; i < N; i++) result[i] = -1;
    MPI_OK(MPI_Get_accumulate(MPI_BOTTOM, 1, from_origin, MPI_BOTTOM, 1, into_result, right, 0, 4, MPI_INT, MPI_SUM, win));
    fence();
    for (int k = 0; k < 4; k++) {
        CHECK_EQ_LL(result[picked[k]], 2 * pattern(world_rank, right, picked[k], 3), "MPI_Get_accumulate into MPI_BOTTOM");
        CHECK_EQ_LL(mine[k], 3 * pattern(left, world_rank, picked[k], 3), "MPI_Get_accumulate from MPI_BOTTOM");
    }
    MPI_OK(MPI_Type_free(&from_origin));
    MPI_OK(MPI_Type_free(&into_result));
    MPI_OK(MPI_Type_free(&hindexed));
    test_phase_done("MPI_BOTTOM buffers");
}

/* ---- 4. MINLOC/MAXLOC on pairs, contiguous and strided ---- */

static void pair_accumulates(void) {
    MPI_Op ops[2] = {MPI_MINLOC, MPI_MAXLOC};
    for (int t = 0; t < PAIR_TYPES; t++) {
        MPI_Aint lb, extent;
        MPI_OK(MPI_Type_get_extent(pairs[t].type, &lb, &extent));
        MPI_Datatype vector;  /* every other element of 2N/2 */
        MPI_OK(MPI_Type_vector(N / 2, 1, 2, pairs[t].type, &vector));
        MPI_OK(MPI_Type_commit(&vector));
        unsigned char *origin;
        MPI_OK(MPI_Alloc_mem(N * extent, MPI_INFO_NULL, &origin));
        for (int o = 0; o < 2; o++) {
            for (int strided = 0; strided < 2; strided++) {
                int test_case = 200 + t * 4 + o * 2 + strided;
                fence();
                seed(test_case, world_rank, 0);
                fill_pairs(&pairs[t], window_base, N, extent);
                fence();
                seed(test_case, world_rank, 1);
                fill_pairs(&pairs[t], origin, N, extent);
                if (strided) MPI_OK(MPI_Accumulate(origin, 1, vector, right, 0, 1, vector, ops[o], win));
                else MPI_OK(MPI_Accumulate(origin, N, pairs[t].type, right, 0, N, pairs[t].type, ops[o], win));
                fence();
                unsigned char expected[N * MAX_EXTENT], incoming[N * MAX_EXTENT];
                seed(test_case, world_rank, 0);
                fill_pairs(&pairs[t], expected, N, extent);
                seed(test_case, left, 1);
                fill_pairs(&pairs[t], incoming, N, extent);
                for (int e = 0; e < N; e += strided ? 2 : 1)
                    MPI_OK(MPI_Reduce_local(incoming + e * extent, expected + e * extent, 1, pairs[t].type, ops[o]));
                char what[96];
                snprintf(what, sizeof what, "%s %s %s", pairs[t].name, o ? "MPI_MAXLOC" : "MPI_MINLOC",
                         strided ? "vector" : "contiguous");
                CHECK_BYTES(window_base, expected, (size_t)(N * extent), what);
            }
        }
        MPI_OK(MPI_Free_mem(origin));
        MPI_OK(MPI_Type_free(&vector));
    }
    test_phase_done("MINLOC/MAXLOC on pair types");
}

/* ---- 5. every op on every type: bytes as MPI_Reduce_local's ---- */

enum kind { INTEGER, REAL, LONG_DOUBLE, BOOLEAN, COMPLEX_F, COMPLEX_D, COMPLEX_LD, BYTES };
typedef struct { const char *name; MPI_Datatype type; enum kind kind; unsigned ops; } typed_t;
enum { MAX = 1, MIN = 2, SUM = 4, PROD = 8, LAND = 16, BAND = 32, LOR = 64, BOR = 128, LXOR = 256, BXOR = 512 };
enum { ARITH = MAX | MIN | SUM | PROD, LOGIC = LAND | LOR | LXOR, BITS = BAND | BOR | BXOR };

static typed_t typed[] = {
    {"MPI_CHAR", MPI_CHAR, INTEGER, ARITH | LOGIC | BITS}, {"MPI_SIGNED_CHAR", MPI_SIGNED_CHAR, INTEGER, ARITH | LOGIC | BITS},
    {"MPI_UNSIGNED_CHAR", MPI_UNSIGNED_CHAR, INTEGER, ARITH | LOGIC | BITS}, {"MPI_BYTE", MPI_BYTE, BYTES, BITS},
    {"MPI_SHORT", MPI_SHORT, INTEGER, ARITH | LOGIC | BITS}, {"MPI_UNSIGNED_SHORT", MPI_UNSIGNED_SHORT, INTEGER, ARITH | LOGIC | BITS},
    {"MPI_INT", MPI_INT, INTEGER, ARITH | LOGIC | BITS}, {"MPI_UNSIGNED", MPI_UNSIGNED, INTEGER, ARITH | LOGIC | BITS},
    {"MPI_LONG", MPI_LONG, INTEGER, ARITH | LOGIC | BITS}, {"MPI_UNSIGNED_LONG", MPI_UNSIGNED_LONG, INTEGER, ARITH | LOGIC | BITS},
    {"MPI_LONG_LONG", MPI_LONG_LONG, INTEGER, ARITH | LOGIC | BITS},
    {"MPI_UNSIGNED_LONG_LONG", MPI_UNSIGNED_LONG_LONG, INTEGER, ARITH | LOGIC | BITS},
    {"MPI_INT8_T", MPI_INT8_T, INTEGER, ARITH | LOGIC | BITS}, {"MPI_UINT16_T", MPI_UINT16_T, INTEGER, ARITH | LOGIC | BITS},
    {"MPI_INT64_T", MPI_INT64_T, INTEGER, ARITH | LOGIC | BITS}, {"MPI_AINT", MPI_AINT, INTEGER, ARITH | LOGIC | BITS},
    {"MPI_OFFSET", MPI_OFFSET, INTEGER, ARITH | LOGIC | BITS}, {"MPI_COUNT", MPI_COUNT, INTEGER, ARITH | LOGIC | BITS},
    {"MPI_INTEGER", MPI_INTEGER, INTEGER, ARITH | LOGIC | BITS}, {"MPI_INTEGER1", MPI_INTEGER1, INTEGER, ARITH | LOGIC | BITS},
    {"MPI_INTEGER2", MPI_INTEGER2, INTEGER, ARITH | LOGIC | BITS}, {"MPI_INTEGER8", MPI_INTEGER8, INTEGER, ARITH | LOGIC | BITS},
    {"MPI_CHARACTER", MPI_CHARACTER, INTEGER, ARITH | LOGIC | BITS},
    {"MPI_FLOAT", MPI_FLOAT, REAL, ARITH}, {"MPI_DOUBLE", MPI_DOUBLE, REAL, ARITH},
    {"MPI_REAL", MPI_REAL, REAL, ARITH}, {"MPI_DOUBLE_PRECISION", MPI_DOUBLE_PRECISION, REAL, ARITH},
    {"MPI_REAL4", MPI_REAL4, REAL, ARITH}, {"MPI_REAL8", MPI_REAL8, REAL, ARITH},
    {"MPI_LONG_DOUBLE", MPI_LONG_DOUBLE, LONG_DOUBLE, ARITH}, {"MPI_REAL16", MPI_REAL16, LONG_DOUBLE, ARITH},
    {"MPI_LOGICAL", MPI_LOGICAL, BOOLEAN, LOGIC}, {"MPI_C_BOOL", MPI_C_BOOL, BOOLEAN, LOGIC},
    {"MPI_CXX_BOOL", MPI_CXX_BOOL, BOOLEAN, LOGIC},
    {"MPI_COMPLEX", MPI_COMPLEX, COMPLEX_F, SUM | PROD}, {"MPI_DOUBLE_COMPLEX", MPI_DOUBLE_COMPLEX, COMPLEX_D, SUM | PROD},
    {"MPI_COMPLEX8", MPI_COMPLEX8, COMPLEX_F, SUM | PROD}, {"MPI_COMPLEX16", MPI_COMPLEX16, COMPLEX_D, SUM | PROD},
    {"MPI_C_FLOAT_COMPLEX", MPI_C_FLOAT_COMPLEX, COMPLEX_F, SUM | PROD},
    {"MPI_C_DOUBLE_COMPLEX", MPI_C_DOUBLE_COMPLEX, COMPLEX_D, SUM | PROD},
    {"MPI_C_LONG_DOUBLE_COMPLEX", MPI_C_LONG_DOUBLE_COMPLEX, COMPLEX_LD, SUM | PROD},
    {"MPI_CXX_FLOAT_COMPLEX", MPI_CXX_FLOAT_COMPLEX, COMPLEX_F, SUM | PROD},
    {"MPI_CXX_DOUBLE_COMPLEX", MPI_CXX_DOUBLE_COMPLEX, COMPLEX_D, SUM | PROD},
    {"MPI_CXX_LONG_DOUBLE_COMPLEX", MPI_CXX_LONG_DOUBLE_COMPLEX, COMPLEX_LD, SUM | PROD},
};
enum { TYPED = sizeof typed / sizeof typed[0] };

/* Finite reals with exact and inexact sums and products; complex infinities and NaNs at the
 * start, where C's complex product recovers infinities (Annex G). */
static double real_value(void) { return ((int)(next_random() % 4001) - 2000) / 7.0; }

static void fill_typed(const typed_t *t, unsigned char *buffer, int count, int size, int side) {
    for (int b = 0; b < count * size; b++) buffer[b] = (unsigned char)next_random();
    for (int e = 0; e < count; e++) {
        unsigned char *at = buffer + e * size;
        double re = real_value(), im = real_value();
        if (e == 0) { re = side ? 1.5 : INFINITY; im = side ? 2.0 : NAN; }
        if (e == 1) { re = side ? NAN : 0.0; im = side ? INFINITY : 3.0; }
        switch (t->kind) {
        case INTEGER:
        case BYTES:
            if (next_random() % 4 == 0) memset(at, 0, size);  /* zeros for the logical ops */
            break;
        case REAL:
            if (size == 4) *(float *)at = (float)re;
            else *(double *)at = re;
            break;
        case LONG_DOUBLE: *(long double *)at = re / 3.0L; break;
        case BOOLEAN:
            memset(at, 0, size);
            at[0] = next_random() % 2;
            break;
        case COMPLEX_F: ((float *)at)[0] = (float)re; ((float *)at)[1] = (float)im; break;
        case COMPLEX_D: ((double *)at)[0] = re; ((double *)at)[1] = im; break;
        case COMPLEX_LD: ((long double *)at)[0] = re; ((long double *)at)[1] = im / 3.0L; break;
        }
    }
}

static void every_op_on_every_type(void) {
    static const MPI_Op ops[10] = {MPI_MAX, MPI_MIN, MPI_SUM, MPI_PROD, MPI_LAND, MPI_BAND, MPI_LOR, MPI_BOR, MPI_LXOR, MPI_BXOR};
    static const char *op_names[10] = {"MAX", "MIN", "SUM", "PROD", "LAND", "BAND", "LOR", "BOR", "LXOR", "BXOR"};
    unsigned char origin[N * MAX_EXTENT], expected[N * MAX_EXTENT], incoming[N * MAX_EXTENT];
    for (int t = 0; t < TYPED; t++) {
        if (typed[t].type == MPI_DATATYPE_NULL) continue;
        int size;
        MPI_OK(MPI_Type_size(typed[t].type, &size));
        for (int o = 0; o < 10; o++) {
            if (!(typed[t].ops & (1u << o))) continue;
            int test_case = 1000 + t * 16 + o;
            fence();
            seed(test_case, world_rank, 0);
            fill_typed(&typed[t], window_base, N, size, 0);
            fence();
            seed(test_case, world_rank, 1);
            fill_typed(&typed[t], origin, N, size, 1);
            MPI_OK(MPI_Accumulate(origin, N, typed[t].type, right, 0, N, typed[t].type, ops[o], win));
            fence();
            seed(test_case, world_rank, 0);
            fill_typed(&typed[t], expected, N, size, 0);
            seed(test_case, left, 1);
            fill_typed(&typed[t], incoming, N, size, 1);
            MPI_OK(MPI_Reduce_local(incoming, expected, N, typed[t].type, ops[o]));
            char what[96];
            snprintf(what, sizeof what, "MPI_%s on %s", op_names[o], typed[t].name);
            CHECK_BYTES(window_base, expected, (size_t)(N * size), what);
        }
    }
    test_phase_done("every op on every type");
}

/* ---- 6. Flush arguments ---- */

static int error_class(int code) {
    int class = MPI_SUCCESS;
    MPI_Error_class(code, &class);
    return class;
}

static void flush_arguments(void) {
    MPI_OK(MPI_Win_fence(MPI_MODE_NOSUCCEED, win));
    MPI_OK(MPI_Win_set_errhandler(win, MPI_ERRORS_RETURN));
    CHECK_EQ_LL(error_class(MPI_Win_flush(right, win)), MPI_ERR_RMA_SYNC, "MPI_Win_flush outside any epoch");
    CHECK_EQ_LL(error_class(MPI_Win_flush_all(win)), MPI_ERR_RMA_SYNC, "MPI_Win_flush_all outside any epoch");
    CHECK_EQ_LL(error_class(MPI_Win_flush_local_all(win)), MPI_ERR_RMA_SYNC, "MPI_Win_flush_local_all outside any epoch");
    MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, right, 0, win));
    MPI_OK(MPI_Win_flush(MPI_PROC_NULL, win));
    MPI_OK(MPI_Win_flush_local(MPI_PROC_NULL, win));
    CHECK_EQ_LL(error_class(MPI_Win_flush(world_size, win)), MPI_ERR_RANK, "MPI_Win_flush of a rank outside the window");
    CHECK_EQ_LL(error_class(MPI_Win_flush_local(-5, win)), MPI_ERR_RANK, "MPI_Win_flush_local of a negative rank");
    MPI_OK(MPI_Win_flush(right, win));
    MPI_OK(MPI_Win_flush_local(right, win));
    MPI_OK(MPI_Win_flush_all(win));
    MPI_OK(MPI_Win_unlock(right, win));
    MPI_OK(MPI_Win_set_errhandler(win, MPI_ERRORS_ARE_FATAL));
    test_phase_done("flush arguments");
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "rma_corners");
    right = right_of(world_rank, world_size);
    left = left_of(world_rank, world_size);
    MPI_OK(test_window_allocate(window_bytes(WINDOW), 1, MPI_INFO_NULL, MPI_COMM_WORLD, &window_base, &win));
    fence();
    no_op_fetches();
    pair_fetches_with_no_op();
    zero_bytes();
    bottom_buffers();
    pair_accumulates();
    every_op_on_every_type();
    flush_arguments();
    fence();
    MPI_OK(test_window_free(&win));
    return test_finish();
}
