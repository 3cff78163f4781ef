/*
 * Derived datatypes on the origin side, the target side and both, for MPI_Put,
 * MPI_Get, MPI_Accumulate and MPI_Get_accumulate, from every rank to every rank.
 *
 * Each layout is an MPI datatype plus the list of int positions it selects,
 * computed here independently of MPI. A transfer moves element k of the origin
 * layout to element k of the target layout; everything else must stay untouched.
 * Pairs always have the same type signature (n ints), shapes differ freely.
 *
 * Window of every rank: one slot of SLOT ints per origin, then one shared
 * accumulate area that all origins update together.
 */
#include "common.h"

enum { SLOT = 160, MAX_ELEMS = 64, SENTINEL = -7, ACC_AREA = 64 };

typedef struct {
    const char *name;
    MPI_Datatype type;
    int count;                  /* how many of `type` the call moves */
    int n_elems;                /* ints selected in total */
    int positions[MAX_ELEMS];   /* int index of element k, relative to the buffer */
} layout_t;

static MPI_Win win;
static int *window_base;

static layout_t commit(layout_t layout) {
    if (layout.type != MPI_INT) MPI_OK(MPI_Type_commit(&layout.type));
    return layout;
}

static layout_t contiguous(int n) {
    layout_t l = {.name = "contiguous MPI_INT", .type = MPI_INT, .count = n, .n_elems = n};
    for (int i = 0; i < n; i++) l.positions[i] = i;
    return l;
}

static layout_t vector(int blocks, int block_len, int stride) {
    layout_t l = {.name = "vector", .count = 1, .n_elems = blocks * block_len};
    MPI_OK(MPI_Type_vector(blocks, block_len, stride, MPI_INT, &l.type));
    for (int b = 0, k = 0; b < blocks; b++)
        for (int j = 0; j < block_len; j++) l.positions[k++] = b * stride + j;
    return commit(l);
}

static layout_t hvector_bytes(int blocks, int block_len, int stride_ints) {
    layout_t l = {.name = "hvector", .count = 1, .n_elems = blocks * block_len};
    MPI_OK(MPI_Type_create_hvector(blocks, block_len, (MPI_Aint)stride_ints * (MPI_Aint)sizeof(int), MPI_INT, &l.type));
    for (int b = 0, k = 0; b < blocks; b++)
        for (int j = 0; j < block_len; j++) l.positions[k++] = b * stride_ints + j;
    return commit(l);
}

static layout_t indexed(int blocks, const int *lens, const int *displs) {
    layout_t l = {.name = "indexed", .count = 1};
    MPI_OK(MPI_Type_indexed(blocks, lens, displs, MPI_INT, &l.type));
    for (int b = 0; b < blocks; b++)
        for (int j = 0; j < lens[b]; j++) l.positions[l.n_elems++] = displs[b] + j;
    return commit(l);
}

/* A struct whose blocks all hold MPI_INT, with a nonzero lower bound. */
static layout_t struct_of_ints(int blocks, const int *lens, const int *displs_ints) {
    layout_t l = {.name = "struct of MPI_INT", .count = 1};
    MPI_Aint displs[8];
    MPI_Datatype types[8];
    for (int b = 0; b < blocks; b++) {
        displs[b] = (MPI_Aint)displs_ints[b] * (MPI_Aint)sizeof(int);
        types[b] = MPI_INT;
        for (int j = 0; j < lens[b]; j++) l.positions[l.n_elems++] = displs_ints[b] + j;
    }
    MPI_OK(MPI_Type_create_struct(blocks, lens, displs, types, &l.type));
    return commit(l);
}

/* `count` copies of a block of block_len ints, each copy extent_ints apart (resized). */
static layout_t resized_blocks(int block_len, int extent_ints, int count) {
    layout_t l = {.name = "resized", .count = count, .n_elems = count * block_len};
    MPI_Datatype block;
    MPI_OK(MPI_Type_contiguous(block_len, MPI_INT, &block));
    MPI_OK(MPI_Type_create_resized(block, 0, (MPI_Aint)extent_ints * (MPI_Aint)sizeof(int), &l.type));
    MPI_OK(MPI_Type_free(&block));
    for (int c = 0, k = 0; c < count; c++)
        for (int j = 0; j < block_len; j++) l.positions[k++] = c * extent_ints + j;
    return commit(l);
}

/* A rows x cols block at (row0, col0) of a C-order matrix with `width` columns. */
static layout_t subarray(int height, int width, int rows, int cols, int row0, int col0) {
    layout_t l = {.name = "subarray", .count = 1, .n_elems = rows * cols};
    int sizes[2] = {height, width}, subsizes[2] = {rows, cols}, starts[2] = {row0, col0};
    MPI_OK(MPI_Type_create_subarray(2, sizes, subsizes, starts, MPI_ORDER_C, MPI_INT, &l.type));
    for (int r = 0, k = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) l.positions[k++] = (row0 + r) * width + col0 + c;
    return commit(l);
}

static void release(layout_t *l) {
    if (l->type != MPI_INT) MPI_OK(MPI_Type_free(&l->type));
}

/* Origin/target pairs, 16 ints each. */
typedef struct {
    layout_t origin, target;
} pair_t;

static int make_pairs(pair_t *pairs) {
    static const int idx_lens_a[] = {1, 3, 2, 4, 6}, idx_displs_a[] = {0, 2, 9, 14, 20};
    static const int idx_lens_b[] = {5, 5, 6}, idx_displs_b[] = {3, 10, 30};
    static const int st_lens[] = {4, 8, 4}, st_displs[] = {2, 10, 40};
    int n = 0;
    pairs[n++] = (pair_t){vector(8, 2, 5), contiguous(16)};
    pairs[n++] = (pair_t){contiguous(16), vector(4, 4, 7)};
    pairs[n++] = (pair_t){indexed(5, idx_lens_a, idx_displs_a), indexed(3, idx_lens_b, idx_displs_b)};
    pairs[n++] = (pair_t){contiguous(16), struct_of_ints(3, st_lens, st_displs)};
    pairs[n++] = (pair_t){resized_blocks(2, 5, 8), vector(2, 8, 20)};
    pairs[n++] = (pair_t){subarray(8, 8, 4, 4, 2, 3), resized_blocks(1, 3, 16)};
    pairs[n++] = (pair_t){hvector_bytes(4, 4, 10), subarray(10, 12, 2, 8, 7, 1)};
    pairs[n++] = (pair_t){struct_of_ints(3, st_lens, st_displs), hvector_bytes(2, 8, 9)};
    return n;
}

static int *slot_of(int origin) { return window_base + (size_t)origin * SLOT; }
static int *acc_area(void) { return slot_of(world_size); }

static void check_layout_fits(const layout_t *l) {
    for (int k = 0; k < l->n_elems; k++)
        CHECK(l->positions[k] >= 0 && l->positions[k] < SLOT, "%s position %d outside a slot", l->name,
              l->positions[k]);
}

/* Value that element k of the transfer from origin to target should carry. */
static int element_value(int origin, int target, int k, int round) { return pattern(origin, target, k, round); }

static void put_pair(const pair_t *p, int round) {
    int *source = xmalloc(sizeof(int) * SLOT * world_size);
    for (int target = 0; target < world_size; target++) {
        int *buf = source + (size_t)target * SLOT;
        for (int i = 0; i < SLOT; i++) buf[i] = SENTINEL - 1; /* never selected, never sent */
        for (int k = 0; k < p->origin.n_elems; k++)
            buf[p->origin.positions[k]] = element_value(world_rank, target, k, round);
        MPI_OK(MPI_Put(buf, p->origin.count, p->origin.type, target, (MPI_Aint)world_rank * SLOT, p->target.count,
                       p->target.type, win));
    }
    MPI_OK(MPI_Win_flush_all(win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_sync(win));
    for (int origin = 0; origin < world_size; origin++) {
        int expected[SLOT];
        for (int i = 0; i < SLOT; i++) expected[i] = SENTINEL;
        for (int k = 0; k < p->target.n_elems; k++)
            expected[p->target.positions[k]] = element_value(origin, world_rank, k, round);
        char label[200];
        snprintf(label, sizeof label, "MPI_Put %s -> %s from origin %d", p->origin.name, p->target.name, origin);
        CHECK_INTS(slot_of(origin), expected, SLOT, label);
    }
    free(source);
}

/* Gets what put_pair left in the target (through the target layout) into the origin layout. */
static void get_pair(const pair_t *p, int round) {
    for (int target = 0; target < world_size; target++) {
        int fetched[SLOT], expected[SLOT];
        for (int i = 0; i < SLOT; i++) fetched[i] = expected[i] = SENTINEL - 2;
        MPI_OK(MPI_Get(fetched, p->origin.count, p->origin.type, target, (MPI_Aint)world_rank * SLOT,
                       p->target.count, p->target.type, win));
        MPI_OK(MPI_Win_flush(target, win));
        for (int k = 0; k < p->origin.n_elems; k++)
            expected[p->origin.positions[k]] = element_value(world_rank, target, k, round);
        char label[200];
        snprintf(label, sizeof label, "MPI_Get %s <- %s from target %d", p->origin.name, p->target.name, target);
        CHECK_INTS(fetched, expected, SLOT, label);
    }
}

static void reset_slots(void) {
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD)); /* everyone is done reading the previous round */
    for (int i = 0; i < SLOT * world_size; i++) window_base[i] = SENTINEL;
    MPI_OK(MPI_Win_sync(win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
}

/* Every origin adds (origin+1) through a vector type into every other int of the
 * shared area, and replaces its own slot through an indexed type; then reads the
 * area back with MPI_Get_accumulate(MPI_NO_OP) through a resized type. */
static void accumulate_with_types(void) {
    layout_t every_other = vector(ACC_AREA / 2, 1, 2);
    layout_t packed = contiguous(ACC_AREA / 2);
    static const int lens[] = {3, 5, 8}, displs[] = {1, 20, 40};
    layout_t scattered = indexed(3, lens, displs);
    layout_t replace_source = contiguous(16);
    layout_t stride_two = resized_blocks(1, 2, ACC_AREA / 2);

    reset_slots();
    for (int i = 0; i < ACC_AREA; i++) acc_area()[i] = i;
    MPI_OK(MPI_Win_sync(win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    int addends[ACC_AREA / 2], replacement[16];
    for (int i = 0; i < ACC_AREA / 2; i++) addends[i] = world_rank + 1;
    for (int target = 0; target < world_size; target++) {
        for (int k = 0; k < 16; k++) replacement[k] = element_value(world_rank, target, k, 77);
        MPI_OK(MPI_Accumulate(addends, packed.count, packed.type, target, (MPI_Aint)world_size * SLOT,
                              every_other.count, every_other.type, MPI_SUM, win));
        MPI_OK(MPI_Accumulate(replacement, replace_source.count, replace_source.type, target,
                              (MPI_Aint)world_rank * SLOT, scattered.count, scattered.type, MPI_REPLACE, win));
        MPI_OK(MPI_Win_flush(target, win)); /* replacement is reused */
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Win_sync(win));

    int total = world_size * (world_size + 1) / 2;
    for (int i = 0; i < ACC_AREA; i++) {
        char label[96];
        snprintf(label, sizeof label, "MPI_Accumulate SUM through a vector type, element %d", i);
        CHECK_EQ_LL(acc_area()[i], i % 2 == 0 ? i + total : i, label);
    }
    for (int origin = 0; origin < world_size; origin++) {
        int expected[SLOT];
        for (int i = 0; i < SLOT; i++) expected[i] = SENTINEL;
        for (int k = 0; k < scattered.n_elems; k++)
            expected[scattered.positions[k]] = element_value(origin, world_rank, k, 77);
        CHECK_INTS(slot_of(origin), expected, SLOT, "MPI_Accumulate REPLACE through an indexed type");
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    for (int target = 0; target < world_size; target++) {
        int result[ACC_AREA], unused = 0;
        for (int i = 0; i < ACC_AREA; i++) result[i] = SENTINEL;
        MPI_OK(MPI_Get_accumulate(&unused, 0, MPI_INT, result, stride_two.count, stride_two.type, target,
                                  (MPI_Aint)world_size * SLOT, every_other.count, every_other.type, MPI_NO_OP, win));
        MPI_OK(MPI_Win_flush(target, win));
        for (int i = 0; i < ACC_AREA; i++) {
            char label[96];
            snprintf(label, sizeof label, "MPI_Get_accumulate NO_OP through resized type, element %d", i);
            CHECK_EQ_LL(result[i], i % 2 == 0 ? i + total : SENTINEL, label);
        }
    }
    release(&every_other);
    release(&packed);
    release(&scattered);
    release(&replace_source);
    release(&stride_two);
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "datatypes");
    MPI_OK(test_window_allocate((MPI_Aint)sizeof(int) * (SLOT * world_size + ACC_AREA), sizeof(int), MPI_INFO_NULL,
                            MPI_COMM_WORLD, &window_base, &win));
    MPI_OK(MPI_Win_lock_all(0, win));

    pair_t pairs[16];
    int pair_count = make_pairs(pairs);
    for (int i = 0; i < pair_count; i++) {
        CHECK_EQ_LL(pairs[i].origin.n_elems, pairs[i].target.n_elems, "pair element counts");
        check_layout_fits(&pairs[i].origin);
        check_layout_fits(&pairs[i].target);
        reset_slots();
        put_pair(&pairs[i], i + 1);
        get_pair(&pairs[i], i + 1);
        /* The same pair reversed: target shape as origin and vice versa. */
        pair_t reversed = {pairs[i].target, pairs[i].origin};
        reset_slots();
        put_pair(&reversed, i + 101);
        get_pair(&reversed, i + 101);
    }
    test_phase_done("put/get");
    accumulate_with_types();
    test_phase_done("accumulate");

    for (int i = 0; i < pair_count; i++) {
        release(&pairs[i].origin);
        release(&pairs[i].target);
    }
    MPI_OK(MPI_Win_unlock_all(win));
    MPI_OK(test_window_free(&win));
    return test_finish();
}
