/*
 * MPI_Accumulate with every predefined reduction op on several predefined types
 * (MAXLOC/MINLOC on MPI_DOUBLE_INT and MPI_2INT, REPLACE), then
 * MPI_Get_accumulate (SUM, REPLACE, MAX, MPI_NO_OP), MPI_Fetch_and_op,
 * MPI_Compare_and_swap, MPI_Raccumulate and MPI_Rget_accumulate, from every rank to
 * every rank.
 *
 * All origins update the same elements, so the expected result is the op folded
 * over every origin's contribution (the ops are commutative; values are chosen so
 * no result depends on the order). Fetching ops are checked by what the fetched
 * values of all origins must add up to: for a counter, exactly the values
 * init, init+1, ..., init+n-1 in some order.
 */
#include "common.h"

enum { ELEMS = 4, CELL = 16 /* bytes per element slot: the largest type below */ };

typedef struct {
    const char *name;
    MPI_Datatype type;
    int size;
    int is_signed;
    int is_float;
} elem_type_t;

typedef struct {
    const char *name;
    MPI_Op op;
} named_op_t;

#define NAMED(x) {#x, x}

static const elem_type_t integer_types[] = {
    {"MPI_INT", MPI_INT, 4, 1, 0},
    {"MPI_LONG_LONG", MPI_LONG_LONG, 8, 1, 0},
    {"MPI_SHORT", MPI_SHORT, 2, 1, 0},
    {"MPI_UNSIGNED_CHAR", MPI_UNSIGNED_CHAR, 1, 0, 0},
    {"MPI_UINT64_T", MPI_UINT64_T, 8, 0, 0},
};
static const named_op_t integer_ops[] = {
    NAMED(MPI_SUM), NAMED(MPI_PROD), NAMED(MPI_MAX), NAMED(MPI_MIN), NAMED(MPI_BAND),
    NAMED(MPI_BOR), NAMED(MPI_BXOR), NAMED(MPI_LAND), NAMED(MPI_LOR), NAMED(MPI_LXOR),
};
static const elem_type_t float_types[] = {
    {"MPI_DOUBLE", MPI_DOUBLE, 8, 1, 1},
    {"MPI_FLOAT", MPI_FLOAT, 4, 1, 1},
};
static const named_op_t float_ops[] = {NAMED(MPI_SUM), NAMED(MPI_PROD), NAMED(MPI_MAX), NAMED(MPI_MIN)};

#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static MPI_Win win;
static unsigned char *window_base;

/* ---- integers: reference arithmetic in long long, stored at the type's width ---- */

static long long truncate_to(const elem_type_t *t, long long v) {
    switch (t->size) {
    case 1: return t->is_signed ? (signed char)v : (unsigned char)v;
    case 2: return (short)v;
    case 4: return (int)v;
    default: return v;
    }
}

static void store_integer(const elem_type_t *t, void *cell, long long v) {
    switch (t->size) {
    case 1: { unsigned char x = (unsigned char)v; memcpy(cell, &x, 1); break; }
    case 2: { short x = (short)v; memcpy(cell, &x, 2); break; }
    case 4: { int x = (int)v; memcpy(cell, &x, 4); break; }
    default: memcpy(cell, &v, 8); break;
    }
}

static long long load_integer(const elem_type_t *t, const void *cell) {
    switch (t->size) {
    case 1: { unsigned char x; memcpy(&x, cell, 1); return truncate_to(t, x); }
    case 2: { short x; memcpy(&x, cell, 2); return x; }
    case 4: { int x; memcpy(&x, cell, 4); return x; }
    default: { long long x; memcpy(&x, cell, 8); return x; }
    }
}

static long long integer_initial(MPI_Op op, int i) {
    if (op == MPI_SUM) return 10 * i;
    if (op == MPI_PROD) return i + 1;
    if (op == MPI_MAX || op == MPI_MIN) return 5;
    if (op == MPI_BAND) return 0x7fffffffffffLL ^ i;
    if (op == MPI_BOR) return i;
    if (op == MPI_BXOR) return 0x1234LL * i;
    if (op == MPI_LAND) return 5;
    if (op == MPI_LOR) return 0;
    return i % 2; /* MPI_LXOR */
}

static long long integer_contribution(MPI_Op op, const elem_type_t *t, int origin, int i) {
    if (op == MPI_SUM) return t->size == 8 ? (1LL << 40) + origin * 3 + i : origin * 3 + i - (t->is_signed ? 5 : 0);
    if (op == MPI_PROD) return (origin + i) % 3 == 0 ? (t->is_signed ? -1 : 3) : ((origin + i) % 3 == 1 ? 2 : 1);
    if (op == MPI_MAX || op == MPI_MIN) return (origin * 7 + i * 3) % 11 - (t->is_signed ? 5 : 0);
    if (op == MPI_BAND) return ~(1LL << ((origin + i) % (8 * t->size - 1)));
    if (op == MPI_BOR) return 1LL << ((origin * 3 + i) % (8 * t->size - 1));
    if (op == MPI_BXOR) return (origin + 1) * 0x9E3779B1LL;
    if (op == MPI_LAND) return (origin + i) % 5 == 4 ? 0 : 2; /* 5 & 2 == 0: LAND differs from BAND */
    if (op == MPI_LOR) return origin == i ? 9 : 0;
    return (origin + i) % 3 == 0 ? 7 : 0; /* MPI_LXOR */
}

static long long integer_apply(MPI_Op op, long long acc, long long v) {
    if (op == MPI_SUM) return acc + v;
    if (op == MPI_PROD) return acc * v;
    if (op == MPI_MAX) return acc > v ? acc : v;
    if (op == MPI_MIN) return acc < v ? acc : v;
    if (op == MPI_BAND) return acc & v;
    if (op == MPI_BOR) return acc | v;
    if (op == MPI_BXOR) return acc ^ v;
    if (op == MPI_LAND) return acc && v;
    if (op == MPI_LOR) return acc || v;
    return !acc != !v; /* MPI_LXOR */
}

/* ---- floating point: small integers and powers of two, so every result is exact ---- */

static void store_float(const elem_type_t *t, void *cell, double v) {
    if (t->size == 4) { float x = (float)v; memcpy(cell, &x, 4); }
    else memcpy(cell, &v, 8);
}

static double load_float(const elem_type_t *t, const void *cell) {
    if (t->size == 4) { float x; memcpy(&x, cell, 4); return x; }
    double x; memcpy(&x, cell, 8); return x;
}

static double float_initial(MPI_Op op, int i) {
    if (op == MPI_PROD) return i + 1;
    if (op == MPI_SUM) return 0.5 * i;
    return 1.0;
}

static double float_contribution(MPI_Op op, int origin, int i) {
    if (op == MPI_SUM) return origin * 0.25 + i;
    if (op == MPI_PROD) return (origin + i) % 3 == 0 ? 2.0 : ((origin + i) % 3 == 1 ? -0.5 : 1.0);
    return ((origin * 5 + i) % 7) * 0.5 - 1.0; /* MAX, MIN */
}

static double float_apply(MPI_Op op, double acc, double v) {
    if (op == MPI_SUM) return acc + v;
    if (op == MPI_PROD) return acc * v;
    if (op == MPI_MAX) return acc > v ? acc : v;
    return acc < v ? acc : v;
}

/* ---- one case = one (type, op) pair owning ELEMS cells in every window ---- */

typedef struct {
    const elem_type_t *type;
    const named_op_t *op;
} acc_case_t;

static acc_case_t cases[64];
static int case_count;

static unsigned char *case_cells(int c) { return window_base + (size_t)c * ELEMS * CELL; }
static MPI_Aint case_disp(int c) { return (MPI_Aint)c * ELEMS * CELL; }

/* Elements are packed at the type's size inside a case's area (an MPI count of ELEMS). */
static void initialise_case(int c) {
    const acc_case_t *k = &cases[c];
    for (int i = 0; i < ELEMS; i++) {
        void *cell = case_cells(c) + (size_t)i * k->type->size;
        if (k->type->is_float) store_float(k->type, cell, float_initial(k->op->op, i));
        else store_integer(k->type, cell, integer_initial(k->op->op, i));
    }
}

static void contribute_case(int c, int target, unsigned char *buffer) {
    const acc_case_t *k = &cases[c];
    for (int i = 0; i < ELEMS; i++) {
        void *cell = buffer + (size_t)i * k->type->size;
        if (k->type->is_float) store_float(k->type, cell, float_contribution(k->op->op, world_rank, i));
        else store_integer(k->type, cell, integer_contribution(k->op->op, k->type, world_rank, i));
    }
    MPI_OK(MPI_Accumulate(buffer, ELEMS, k->type->type, target, case_disp(c), ELEMS, k->type->type, k->op->op, win));
}

static void check_case(int c, const char *sync) {
    const acc_case_t *k = &cases[c];
    for (int i = 0; i < ELEMS; i++) {
        const void *cell = case_cells(c) + (size_t)i * k->type->size;
        char label[160];
        snprintf(label, sizeof label, "%s on %s element %d (%s)", k->op->name, k->type->name, i, sync);
        if (k->type->is_float) {
            double expected = float_initial(k->op->op, i);
            for (int o = 0; o < world_size; o++) expected = float_apply(k->op->op, expected, float_contribution(k->op->op, o, i));
            CHECK_EQ_DOUBLE(load_float(k->type, cell), expected, label);
        } else {
            long long expected = truncate_to(k->type, integer_initial(k->op->op, i));
            for (int o = 0; o < world_size; o++)
                expected = truncate_to(k->type, integer_apply(k->op->op, expected, integer_contribution(k->op->op, k->type, o, i)));
            CHECK_EQ_LL(load_integer(k->type, cell), expected, label);
        }
    }
}

/* ---- MAXLOC / MINLOC and REPLACE live after the typed cases ---- */

typedef struct { double value; int index; } double_int_t;
typedef struct { int value; int index; } two_int_t;

static MPI_Aint loc_disp(void) { return case_disp(case_count); }
/* Layout after the cases: [0] MAXLOC double_int, [1] MINLOC double_int, [2] MAXLOC 2int,
 * [3] MINLOC 2int, each one element in a CELL; then world_size ints of REPLACE targets. */
static unsigned char *loc_cell(int which) { return window_base + loc_disp() + (size_t)which * CELL; }
static int *replace_cells(void) { return (int *)(window_base + loc_disp() + 4 * CELL); }

/* Values tie on purpose: MPI picks the smaller index among equal values. */
static int loc_value(int origin) { return origin % 3; }
static int loc_index(int origin) { return 50 - origin; }

static void initialise_locs_and_replace(void) {
    double_int_t d = {1.0, 100};
    two_int_t t = {1, 100};
    memcpy(loc_cell(0), &d, sizeof d);
    memcpy(loc_cell(1), &d, sizeof d);
    memcpy(loc_cell(2), &t, sizeof t);
    memcpy(loc_cell(3), &t, sizeof t);
    for (int o = 0; o < world_size; o++) replace_cells()[o] = -1;
}

/* Origin buffers of MAXLOC/MINLOC: the same for every target, written once before any epoch. */
static double_int_t loc_contribution_d;
static two_int_t loc_contribution_t;

static void contribute_locs_and_replace(int target, int *replacement) {
    for (int which = 0; which < 2; which++) {
        MPI_Op op = which == 0 ? MPI_MAXLOC : MPI_MINLOC;
        MPI_OK(MPI_Accumulate(&loc_contribution_d, 1, MPI_DOUBLE_INT, target, loc_disp() + which * CELL, 1,
                              MPI_DOUBLE_INT, op, win));
        MPI_OK(MPI_Accumulate(&loc_contribution_t, 1, MPI_2INT, target, loc_disp() + (2 + which) * CELL, 1,
                              MPI_2INT, op, win));
    }
    *replacement = pattern(world_rank, target, 0, 5);
    MPI_OK(MPI_Accumulate(replacement, 1, MPI_INT, target,
                          loc_disp() + 4 * CELL + (MPI_Aint)world_rank * (MPI_Aint)sizeof(int), 1, MPI_INT,
                          MPI_REPLACE, win));
}

static void expected_loc(int is_max, int *value, int *index) {
    *value = 1;
    *index = 100;
    for (int o = 0; o < world_size; o++) {
        int v = loc_value(o), i = loc_index(o);
        int better = is_max ? v > *value : v < *value;
        if (better || (v == *value && i < *index)) { *value = v; *index = i; }
    }
}

static void check_locs_and_replace(const char *sync) {
    for (int which = 0; which < 2; which++) {
        int value, index;
        expected_loc(which == 0, &value, &index);
        double_int_t d;
        two_int_t t;
        memcpy(&d, loc_cell(which), sizeof d);
        memcpy(&t, loc_cell(2 + which), sizeof t);
        char label[96];
        snprintf(label, sizeof label, "%s MPI_DOUBLE_INT value (%s)", which == 0 ? "MAXLOC" : "MINLOC", sync);
        CHECK_EQ_DOUBLE(d.value, (double)value, label);
        snprintf(label, sizeof label, "%s MPI_DOUBLE_INT index (%s)", which == 0 ? "MAXLOC" : "MINLOC", sync);
        CHECK_EQ_LL(d.index, index, label);
        snprintf(label, sizeof label, "%s MPI_2INT value (%s)", which == 0 ? "MAXLOC" : "MINLOC", sync);
        CHECK_EQ_LL(t.value, value, label);
        snprintf(label, sizeof label, "%s MPI_2INT index (%s)", which == 0 ? "MAXLOC" : "MINLOC", sync);
        CHECK_EQ_LL(t.index, index, label);
    }
    for (int o = 0; o < world_size; o++) {
        char label[96];
        snprintf(label, sizeof label, "MPI_REPLACE cell of origin %d (%s)", o, sync);
        CHECK_EQ_LL(replace_cells()[o], pattern(o, world_rank, 0, 5), label);
    }
}

static void initialise_all(void) {
    for (int c = 0; c < case_count; c++) initialise_case(c);
    initialise_locs_and_replace();
}

static void check_all(const char *sync) {
    for (int c = 0; c < case_count; c++) check_case(c, sync);
    check_locs_and_replace(sync);
}

static void accumulate_in_fence_epoch(unsigned char *buffers, int *replacements) {
    MPI_OK(MPI_Win_fence(MPI_MODE_NOPRECEDE, win));
    initialise_all();
    MPI_OK(MPI_Win_fence(0, win));
    for (int step = 0; step < world_size; step++) {
        int target = (world_rank + step) % world_size;
        unsigned char *mine = buffers + (size_t)target * case_count * ELEMS * CELL;
        for (int c = 0; c < case_count; c++) contribute_case(c, target, mine + (size_t)c * ELEMS * CELL);
        contribute_locs_and_replace(target, &replacements[target]);
    }
    MPI_OK(MPI_Win_fence(MPI_MODE_NOSUCCEED, win));
    check_all("fence");
}

static void accumulate_in_lock_all_epoch(unsigned char *buffers, int *replacements) {
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_lock_all(0, win));
    initialise_all();
    MPI_OK(MPI_Win_sync(win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    for (int step = 0; step < world_size; step++) {
        int target = (world_rank + step) % world_size;
        unsigned char *mine = buffers + (size_t)target * case_count * ELEMS * CELL;
        for (int c = 0; c < case_count; c++) contribute_case(c, target, mine + (size_t)c * ELEMS * CELL);
        contribute_locs_and_replace(target, &replacements[target]);
        MPI_OK(MPI_Win_flush(target, win));
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_sync(win));
    check_all("lock_all + flush");
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_unlock_all(win));
}

/* ---- fetching ops: checked through what every origin fetched ---- */

static int compare_long_long(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* fetched[o * world_size + t] from every origin o: per target, sorted values must equal
 * sorted `expected` (world_size + extra values; `final_values[t]` fills the extra slot). */
static void check_fetched_permutation(const long long *mine, const long long *final_values,
                                      long long (*expected_value)(int k), const char *what) {
    long long *all = xmalloc(sizeof(long long) * world_size * world_size);
    MPI_OK(MPI_Allgather(mine, world_size, MPI_LONG_LONG, all, world_size, MPI_LONG_LONG, MPI_COMM_WORLD));
    int with_final = final_values != NULL;
    long long *found = xmalloc(sizeof(long long) * (world_size + 1));
    long long *expected = xmalloc(sizeof(long long) * (world_size + 1));
    for (int t = 0; t < world_size; t++) {
        int n = 0;
        for (int o = 0; o < world_size; o++) found[n++] = all[o * world_size + t];
        if (with_final) found[n++] = final_values[t];
        for (int k = 0; k < n; k++) expected[k] = expected_value(k);
        qsort(found, n, sizeof(long long), compare_long_long);
        qsort(expected, n, sizeof(long long), compare_long_long);
        for (int k = 0; k < n; k++) {
            char label[128];
            snprintf(label, sizeof label, "%s at target %d: sorted value %d of %d", what, t, k, n);
            CHECK_EQ_LL(found[k], expected[k], label);
        }
    }
    free(expected);
    free(found);
    free(all);
}

enum { COUNTER_INIT = 1000, SWAP_INIT = -5 };
static long long counter_sequence(int k) { return COUNTER_INIT + k; }
static long long swap_values(int k) { return k == 0 ? SWAP_INIT : 2000 + (k - 1); }

/* Fetching-ops area, after the REPLACE cells: 8-byte aligned words. */
typedef struct {
    long long counter;          /* Fetch_and_op SUM */
    int triple[3];              /* Get_accumulate SUM, 3 elements */
    int swap;                   /* Get_accumulate REPLACE */
    int max_word;               /* Fetch_and_op MAX */
    int cas_int;                /* Compare_and_swap MPI_INT */
    long long cas_long;         /* Compare_and_swap MPI_LONG_LONG */
    double replaced;            /* Fetch_and_op REPLACE on MPI_DOUBLE */
    uint64_t unsigned_counter;  /* Fetch_and_op SUM on MPI_UINT64_T */
    int request_counter;        /* MPI_Raccumulate / MPI_Rget_accumulate */
} fetch_area_t;

static MPI_Aint fetch_disp(void) {
    MPI_Aint end = loc_disp() + 4 * CELL + (MPI_Aint)world_size * (MPI_Aint)sizeof(int);
    return (end + 15) / 16 * 16;
}
static fetch_area_t *fetch_area(void) { return (fetch_area_t *)(window_base + fetch_disp()); }
#define FIELD_DISP(field) (fetch_disp() + (MPI_Aint)offsetof(fetch_area_t, field))

static void fetching_ops(void) {
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_lock_all(0, win));
    fetch_area_t *area = fetch_area();
    area->counter = COUNTER_INIT;
    for (int j = 0; j < 3; j++) area->triple[j] = COUNTER_INIT + j;
    area->swap = SWAP_INIT;
    area->max_word = 3;
    area->cas_int = 0;
    area->cas_long = 0;
    area->replaced = -1.0;
    area->unsigned_counter = UINT64_C(0xFFFFFFFF00000000);
    MPI_OK(MPI_Win_sync(win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    long long *fetched_counter = xmalloc(sizeof(long long) * world_size);
    long long *fetched_triple[3], *fetched_swap = xmalloc(sizeof(long long) * world_size);
    long long *fetched_cas_int = xmalloc(sizeof(long long) * world_size);
    long long *fetched_cas_long = xmalloc(sizeof(long long) * world_size);
    for (int j = 0; j < 3; j++) fetched_triple[j] = xmalloc(sizeof(long long) * world_size);

    for (int step = 0; step < world_size; step++) {
        int t = (world_rank + step) % world_size;
        long long one = 1, old_counter = -1, cas_new_long = world_rank + 1, cas_compare_long = 0, old_cas_long = -1;
        int adds[3] = {1, 2, 3}, old_triple[3] = {-1, -1, -1};
        int swap_in = 2000 + world_rank, old_swap = -1;
        int max_in = world_rank * 2, old_max = -1;
        int cas_new = world_rank + 1, cas_compare = 0, old_cas = -1;
        double replacement = world_rank + 0.5, old_replaced = 0;
        uint64_t unsigned_add = UINT64_C(0x100000000), old_unsigned = 0;

        MPI_OK(MPI_Fetch_and_op(&one, &old_counter, MPI_LONG_LONG, t, FIELD_DISP(counter), MPI_SUM, win));
        MPI_OK(MPI_Get_accumulate(adds, 3, MPI_INT, old_triple, 3, MPI_INT, t, FIELD_DISP(triple), 3, MPI_INT,
                                  MPI_SUM, win));
        MPI_OK(MPI_Get_accumulate(&swap_in, 1, MPI_INT, &old_swap, 1, MPI_INT, t, FIELD_DISP(swap), 1, MPI_INT,
                                  MPI_REPLACE, win));
        MPI_OK(MPI_Fetch_and_op(&max_in, &old_max, MPI_INT, t, FIELD_DISP(max_word), MPI_MAX, win));
        MPI_OK(MPI_Compare_and_swap(&cas_new, &cas_compare, &old_cas, MPI_INT, t, FIELD_DISP(cas_int), win));
        MPI_OK(MPI_Compare_and_swap(&cas_new_long, &cas_compare_long, &old_cas_long, MPI_LONG_LONG, t,
                                    FIELD_DISP(cas_long), win));
        MPI_OK(MPI_Fetch_and_op(&replacement, &old_replaced, MPI_DOUBLE, t, FIELD_DISP(replaced), MPI_REPLACE, win));
        MPI_OK(MPI_Fetch_and_op(&unsigned_add, &old_unsigned, MPI_UINT64_T, t, FIELD_DISP(unsigned_counter), MPI_SUM,
                                win));
        MPI_OK(MPI_Win_flush(t, win));

        fetched_counter[t] = old_counter;
        /* Element j starts at COUNTER_INIT + j and grows by j + 1 per origin: map it to
         * the counter sequence so all three share one check. */
        for (int j = 0; j < 3; j++) {
            int grown = old_triple[j] - (COUNTER_INIT + j);
            CHECK(grown >= 0 && grown % (j + 1) == 0, "Get_accumulate SUM element %d fetched %d, which no origin left",
                  j, old_triple[j]);
            fetched_triple[j][t] = COUNTER_INIT + grown / (j + 1);
        }
        fetched_swap[t] = old_swap;
        fetched_cas_int[t] = old_cas;
        fetched_cas_long[t] = old_cas_long;
        CHECK(old_max == 3 || (old_max > 3 && old_max % 2 == 0 && old_max <= 2 * (world_size - 1)),
              "Fetch_and_op MAX fetched %d, which no origin wrote", old_max);
        CHECK(old_replaced == -1.0 || (old_replaced - 0.5 >= 0 && old_replaced - 0.5 < world_size),
              "Fetch_and_op REPLACE on MPI_DOUBLE fetched %g, which no origin wrote", old_replaced);
        CHECK((old_unsigned - UINT64_C(0xFFFFFFFF00000000)) % UINT64_C(0x100000000) == 0,
              "Fetch_and_op SUM on MPI_UINT64_T fetched 0x%llx, torn", (unsigned long long)old_unsigned);
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_sync(win));

    check_fetched_permutation(fetched_counter, NULL, counter_sequence, "Fetch_and_op SUM fetched values");
    for (int j = 0; j < 3; j++)
        check_fetched_permutation(fetched_triple[j], NULL, counter_sequence, "Get_accumulate SUM fetched values");

    long long *final_swap = xmalloc(sizeof(long long) * world_size);
    long long mine = area->swap;
    MPI_OK(MPI_Allgather(&mine, 1, MPI_LONG_LONG, final_swap, 1, MPI_LONG_LONG, MPI_COMM_WORLD));
    check_fetched_permutation(fetched_swap, final_swap, swap_values, "Get_accumulate REPLACE fetched + final values");

    /* Local checks of this rank's own area. */
    CHECK_EQ_LL(area->counter, COUNTER_INIT + world_size, "Fetch_and_op SUM final counter");
    for (int j = 0; j < 3; j++) CHECK_EQ_LL(area->triple[j], COUNTER_INIT + j + (j + 1) * world_size, "Get_accumulate SUM final");
    CHECK_EQ_LL(area->max_word, 2 * (world_size - 1) > 3 ? 2 * (world_size - 1) : 3, "Fetch_and_op MAX final");
    CHECK(area->cas_int >= 1 && area->cas_int <= world_size, "Compare_and_swap MPI_INT final %d", area->cas_int);
    CHECK(area->cas_long >= 1 && area->cas_long <= world_size, "Compare_and_swap MPI_LONG_LONG final %lld",
          area->cas_long);
    CHECK(area->replaced - 0.5 >= 0 && area->replaced - 0.5 < world_size, "Fetch_and_op REPLACE final %g",
          area->replaced);
    CHECK(area->unsigned_counter == UINT64_C(0xFFFFFFFF00000000) + (uint64_t)world_size * UINT64_C(0x100000000),
          "Fetch_and_op SUM on MPI_UINT64_T final 0x%llx", (unsigned long long)area->unsigned_counter);

    /* Compare_and_swap: per target, exactly one origin saw 0, all others saw the winner's value. */
    long long finals[2] = {area->cas_int, area->cas_long};
    long long *all_finals = xmalloc(sizeof(long long) * 2 * world_size);
    MPI_OK(MPI_Allgather(finals, 2, MPI_LONG_LONG, all_finals, 2, MPI_LONG_LONG, MPI_COMM_WORLD));
    for (int t = 0; t < world_size; t++) {
        CHECK(fetched_cas_int[t] == 0 || fetched_cas_int[t] == all_finals[2 * t],
              "Compare_and_swap MPI_INT at target %d: fetched %lld, final %lld", t, fetched_cas_int[t], all_finals[2 * t]);
        CHECK(fetched_cas_long[t] == 0 || fetched_cas_long[t] == all_finals[2 * t + 1],
              "Compare_and_swap MPI_LONG_LONG at target %d: fetched %lld, final %lld", t, fetched_cas_long[t],
              all_finals[2 * t + 1]);
        int won_int = fetched_cas_int[t] == 0, won_long = fetched_cas_long[t] == 0;
        int winners_int = 0, winners_long = 0;
        MPI_OK(MPI_Allreduce(&won_int, &winners_int, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
        MPI_OK(MPI_Allreduce(&won_long, &winners_long, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
        CHECK_EQ_LL(winners_int, 1, "origins whose MPI_INT Compare_and_swap succeeded");
        CHECK_EQ_LL(winners_long, 1, "origins whose MPI_LONG_LONG Compare_and_swap succeeded");
        if (won_int) CHECK_EQ_LL(all_finals[2 * t], world_rank + 1, "Compare_and_swap MPI_INT winner's value");
        if (won_long) CHECK_EQ_LL(all_finals[2 * t + 1], world_rank + 1, "Compare_and_swap MPI_LONG_LONG winner's value");
    }

    /* A compare that cannot match leaves the word alone and returns it. */
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    int t = right_of(world_rank, world_size), never = -12345, replacement = 77, seen = 0;
    MPI_OK(MPI_Compare_and_swap(&replacement, &never, &seen, MPI_INT, t, FIELD_DISP(cas_int), win));
    MPI_OK(MPI_Win_flush(t, win));
    CHECK_EQ_LL(seen, all_finals[2 * t], "Compare_and_swap with a non-matching compare: fetched");

    /* MPI_NO_OP reads without writing, through Get_accumulate and Fetch_and_op. */
    int triple_now[3] = {0, 0, 0}, dummy = 0;
    long long counter_now = 0;
    MPI_OK(MPI_Get_accumulate(&dummy, 0, MPI_INT, triple_now, 3, MPI_INT, t, FIELD_DISP(triple), 3, MPI_INT, MPI_NO_OP,
                              win));
    MPI_OK(MPI_Fetch_and_op(NULL, &counter_now, MPI_LONG_LONG, t, FIELD_DISP(counter), MPI_NO_OP, win));
    MPI_OK(MPI_Win_flush(t, win));
    for (int j = 0; j < 3; j++) CHECK_EQ_LL(triple_now[j], COUNTER_INIT + j + (j + 1) * world_size, "Get_accumulate NO_OP");
    CHECK_EQ_LL(counter_now, COUNTER_INIT + world_size, "Fetch_and_op NO_OP");
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_sync(win));
    CHECK_EQ_LL(area->cas_int, all_finals[2 * world_rank], "Compare_and_swap with a non-matching compare: word");
    CHECK_EQ_LL(area->counter, COUNTER_INIT + world_size, "counter after MPI_NO_OP");

    MPI_OK(MPI_Win_unlock_all(win));
    free(all_finals);
    free(final_swap);
    for (int j = 0; j < 3; j++) free(fetched_triple[j]);
    free(fetched_cas_long);
    free(fetched_cas_int);
    free(fetched_swap);
    free(fetched_counter);
}

/* The request-based forms: MPI_Raccumulate adds, MPI_Rget_accumulate adds and fetches;
 * MPI_Wait completes them locally, flush remotely. */
static void request_based_accumulates(void) {
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_lock_all(0, win));
    fetch_area()->request_counter = 0;
    MPI_OK(MPI_Win_sync(win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    int one = 1, two = 2;
    int *fetched = xmalloc(sizeof(int) * world_size);
    MPI_Request *requests = xmalloc(sizeof(MPI_Request) * 2 * world_size);
    for (int t = 0; t < world_size; t++) {
        MPI_OK(MPI_Raccumulate(&one, 1, MPI_INT, t, FIELD_DISP(request_counter), 1, MPI_INT, MPI_SUM, win,
                               &requests[2 * t]));
        MPI_OK(MPI_Rget_accumulate(&two, 1, MPI_INT, &fetched[t], 1, MPI_INT, t, FIELD_DISP(request_counter), 1,
                                   MPI_INT, MPI_SUM, win, &requests[2 * t + 1]));
    }
    for (int k = 0; k < 2 * world_size; k++) MPI_OK(MPI_Wait(&requests[k], MPI_STATUS_IGNORE));
    for (int t = 0; t < world_size; t++)
        CHECK(fetched[t] >= 0 && fetched[t] <= 3 * world_size - 2, "MPI_Rget_accumulate fetched %d from target %d",
              fetched[t], t);
    MPI_OK(MPI_Win_flush_all(win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_sync(win));
    CHECK_EQ_LL(fetch_area()->request_counter, 3 * world_size, "counter after MPI_Raccumulate + MPI_Rget_accumulate");
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_unlock_all(win));
    free(requests);
    free(fetched);
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "accumulate_ops");
    loc_contribution_d = (double_int_t){loc_value(world_rank), loc_index(world_rank)};
    loc_contribution_t = (two_int_t){loc_value(world_rank), loc_index(world_rank)};
    for (int t = 0; t < COUNT_OF(integer_types); t++)
        for (int o = 0; o < COUNT_OF(integer_ops); o++) cases[case_count++] = (acc_case_t){&integer_types[t], &integer_ops[o]};
    for (int t = 0; t < COUNT_OF(float_types); t++)
        for (int o = 0; o < COUNT_OF(float_ops); o++) cases[case_count++] = (acc_case_t){&float_types[t], &float_ops[o]};

    MPI_Aint size = window_bytes(fetch_disp() + (MPI_Aint)sizeof(fetch_area_t));
    MPI_OK(test_window_allocate(size, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &window_base, &win));
    unsigned char *buffers = xmalloc((size_t)world_size * case_count * ELEMS * CELL);
    int *replacements = xmalloc(sizeof(int) * world_size);

    accumulate_in_fence_epoch(buffers, replacements);
    test_phase_done("accumulate in fence epochs");
    accumulate_in_lock_all_epoch(buffers, replacements);
    test_phase_done("accumulate under lock_all");
    fetching_ops();
    test_phase_done("fetching ops");
    request_based_accumulates();
    test_phase_done("request-based accumulates");

    free(replacements);
    free(buffers);
    MPI_OK(test_window_free(&win));
    return test_finish();
}
