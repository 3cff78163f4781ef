/*
 * MPI_Alltoallw: a type of its own for every pair of members (int, double, a vector with gaps
 * sent as plain ints, and no elements of MPI_DATATYPE_NULL), byte displacements with gaps, pieces
 * from nothing to more than one of the library's steps; in place; from MPI_BOTTOM with absolute
 * addresses, through types (MPI_Type_create_hindexed) and, with MPI-4, through the large-count
 * form's MPI_Aint displacements. Every value is checked here; every receive buffer, the bytes
 * between the pieces included, goes into the digest, which `--digest` prints ("digest H") for
 * comparing a served run with plain MPICH's.
 */
#include "common.h"

#include <stdint.h>
#include <string.h>

#define GUARD 0xab

enum kind { KIND_INT, KIND_DOUBLE, KIND_VECTOR, KIND_NOTHING, KIND_COUNT };

static int value(int from, int to, int index) { return from * 1000003 + to * 1009 + index; }

/* The pair (from, to)'s kind and count: on the sending side a KIND_VECTOR piece is `count`
 * elements of two ints each, on the receiving side 2 * count ints. */
static enum kind pair_kind(int from, int to) { return (enum kind)((from + 2 * to) % KIND_COUNT); }
static int pair_count(int base, int from, int to, int n) {
    return pair_kind(from, to) == KIND_NOTHING ? 0 : base * ((from + to) % n + 1) / 3 + (from + to) % 2;
}

static MPI_Datatype every_fourth_pair; /* ints 0 and 3 of every four */

static size_t round8(size_t bytes) { return (bytes + 7) / 8 * 8; }

/* The bytes `count` elements of `kind` span, and their type, as the sender lays them out. */
static size_t send_span(enum kind kind, int count) {
    switch (kind) {
    case KIND_INT: return sizeof(int) * (size_t)count;
    case KIND_DOUBLE: return sizeof(double) * (size_t)count;
    case KIND_VECTOR: return 4 * sizeof(int) * (size_t)count;
    default: return 0;
    }
}
static MPI_Datatype send_type(enum kind kind) {
    const MPI_Datatype types[] = {MPI_INT, MPI_DOUBLE, every_fourth_pair, MPI_DATATYPE_NULL};
    return types[kind];
}
static size_t receive_span(enum kind kind, int count) {
    return kind == KIND_VECTOR ? 2 * sizeof(int) * (size_t)count : send_span(kind, count);
}
static MPI_Datatype receive_type(enum kind kind) { return kind == KIND_VECTOR ? MPI_INT : send_type(kind); }
static int receive_count(enum kind kind, int count) { return kind == KIND_VECTOR ? 2 * count : count; }

/* The sender's piece for `to`: ints and doubles value(...), the vector's two ints of every four
 * values and -1 between them (never sent). */
static void fill(void *piece, enum kind kind, int count, int from, int to) {
    int *ints = piece;
    double *doubles = piece;
    for (int i = 0; i < count; i++) switch (kind) {
        case KIND_INT: ints[i] = value(from, to, i); break;
        case KIND_DOUBLE: doubles[i] = value(from, to, i) + 0.5; break;
        case KIND_VECTOR:
            ints[4 * i] = value(from, to, 2 * i);
            ints[4 * i + 1] = ints[4 * i + 2] = -1;
            ints[4 * i + 3] = value(from, to, 2 * i + 1);
            break;
        default: break;
        }
}

/* What arrived from `from`, laid out as received (`vector_layout`: as the sender laid it out). */
static void check(const void *piece, enum kind kind, int count, int from, int to, int vector_layout, const char *call,
                  int base) {
    char what[200];
    const int *ints = piece;
    const double *doubles = piece;
    for (int i = 0; i < receive_count(kind, count); i++) {
        snprintf(what, sizeof what, "%s (base %d): from member %d, element %d", call, base, from, i);
        switch (kind) {
        case KIND_INT: CHECK_EQ_LL(ints[i], value(from, to, i), what); break;
        case KIND_DOUBLE: CHECK_EQ_DOUBLE(doubles[i], value(from, to, i) + 0.5, what); break;
        case KIND_VECTOR: CHECK_EQ_LL(ints[vector_layout ? 4 * (i / 2) + 3 * (i % 2) : i], value(from, to, i), what); break;
        default: break;
        }
    }
}

typedef struct {
    int *counts, *displs;
    MPI_Datatype *types;
    size_t bytes;
} layout;

/* Member r's pieces for (sending) or from (receiving) every member, 8-byte aligned, 8 bytes apart. */
static layout lay_out(int base, int r, int n, int sending) {
    layout l = {xmalloc(sizeof(int) * n), xmalloc(sizeof(int) * n), xmalloc(sizeof(MPI_Datatype) * n), 0};
    for (int j = 0; j < n; j++) {
        const int from = sending ? r : j, to = sending ? j : r;
        const enum kind kind = pair_kind(from, to);
        const int count = pair_count(base, from, to, n);
        l.counts[j] = sending ? count : receive_count(kind, count);
        l.types[j] = sending ? send_type(kind) : receive_type(kind);
        l.displs[j] = (int)l.bytes;
        l.bytes += round8(sending ? send_span(kind, count) : receive_span(kind, count)) + 8;
    }
    return l;
}

static void free_layout(layout *l) {
    free(l->counts);
    free(l->displs);
    free(l->types);
}

static void typed_pieces(int base, int r, int n) {
    layout out = lay_out(base, r, n, 1), in = lay_out(base, r, n, 0);
    char *send = xmalloc(out.bytes), *receive = xmalloc(in.bytes);
    memset(send, GUARD, out.bytes);
    for (int j = 0; j < n; j++) fill(send + out.displs[j], pair_kind(r, j), pair_count(base, r, j, n), r, j);
    memset(receive, GUARD, in.bytes);
    MPI_OK(MPI_Alltoallw(send, out.counts, out.displs, out.types, receive, in.counts, in.displs, in.types, MPI_COMM_WORLD));
    for (int j = 0; j < n; j++)
        check(receive + in.displs[j], pair_kind(j, r), pair_count(base, j, r, n), j, r, 0, "MPI_Alltoallw", base);
    test_digest_fold(receive, in.bytes);
    free(send);
    free(receive);
    free_layout(&out);
    free_layout(&in);
}

/* In place every pair sends and receives alike: the kind and count of (r, j) and (j, r) are one. */
static enum kind symmetric_kind(int a, int b) { return (enum kind)((a + b) % 3); }
static int symmetric_count(int base, int a, int b, int n) { return base * ((a + b) % n + 1) / 3 + (a + b) % 2; }

static void in_place(int base, int r, int n) {
    int *counts = xmalloc(sizeof(int) * n), *displs = xmalloc(sizeof(int) * n);
    MPI_Datatype *types = xmalloc(sizeof(MPI_Datatype) * n);
    size_t bytes = 0;
    for (int j = 0; j < n; j++) {
        counts[j] = symmetric_count(base, r, j, n);
        types[j] = send_type(symmetric_kind(r, j));
        displs[j] = (int)bytes;
        bytes += round8(send_span(symmetric_kind(r, j), counts[j])) + 8;
    }
    char *buffer = xmalloc(bytes);
    memset(buffer, GUARD, bytes);
    for (int j = 0; j < n; j++) fill(buffer + displs[j], symmetric_kind(r, j), counts[j], r, j);
    /* The send arguments are ignored in place: NULL arrays must do. */
    MPI_OK(MPI_Alltoallw(MPI_IN_PLACE, NULL, NULL, NULL, buffer, counts, displs, types, MPI_COMM_WORLD));
    for (int j = 0; j < n; j++) {
        /* A vector arrives as the vector: laid out as sent. */
        check(buffer + displs[j], symmetric_kind(j, r), counts[j], j, r, 1, "MPI_Alltoallw in place", base);
    }
    test_digest_fold(buffer, bytes);
    free(buffer);
    free(counts);
    free(displs);
    free(types);
}

/* Every piece its own allocation, addressed absolutely from MPI_BOTTOM. */
static void from_bottom(int base, int r, int n) {
    int *counts = xmalloc(sizeof(int) * n), *zeros = xmalloc(sizeof(int) * n), *ones = xmalloc(sizeof(int) * n);
    MPI_Datatype *ints = xmalloc(sizeof(MPI_Datatype) * n), *out_types = xmalloc(sizeof(MPI_Datatype) * n),
                 *in_types = xmalloc(sizeof(MPI_Datatype) * n);
    int **out = xmalloc(sizeof(int *) * n), **in = xmalloc(sizeof(int *) * n);
    for (int j = 0; j < n; j++) {
        counts[j] = symmetric_count(base, r, j, n) + 1;
        zeros[j] = 0;
        ones[j] = 1;
        ints[j] = MPI_INT;
        out[j] = xmalloc(sizeof(int) * (size_t)counts[j]);
        in[j] = xmalloc(sizeof(int) * (size_t)counts[j]);
        fill(out[j], KIND_INT, counts[j], r, j);
        memset(in[j], GUARD, sizeof(int) * (size_t)counts[j]);
        MPI_Aint address;
        MPI_OK(MPI_Get_address(out[j], &address));
        MPI_OK(MPI_Type_create_hindexed(1, &counts[j], &address, MPI_INT, &out_types[j]));
        MPI_OK(MPI_Type_commit(&out_types[j]));
        MPI_OK(MPI_Get_address(in[j], &address));
        MPI_OK(MPI_Type_create_hindexed(1, &counts[j], &address, MPI_INT, &in_types[j]));
        MPI_OK(MPI_Type_commit(&in_types[j]));
    }
    MPI_OK(MPI_Alltoallw(MPI_BOTTOM, ones, zeros, out_types, MPI_BOTTOM, ones, zeros, in_types, MPI_COMM_WORLD));
    for (int j = 0; j < n; j++) {
        check(in[j], KIND_INT, counts[j], j, r, 0, "MPI_Alltoallw from MPI_BOTTOM (absolute types)", base);
        test_digest_fold(in[j], sizeof(int) * (size_t)counts[j]);
    }
#if MPI_VERSION >= 4
    MPI_Count *large_counts = xmalloc(sizeof(MPI_Count) * n);
    MPI_Aint *out_addresses = xmalloc(sizeof(MPI_Aint) * n), *in_addresses = xmalloc(sizeof(MPI_Aint) * n);
    for (int j = 0; j < n; j++) {
        large_counts[j] = counts[j];
        MPI_OK(MPI_Get_address(out[j], &out_addresses[j]));
        MPI_OK(MPI_Get_address(in[j], &in_addresses[j]));
        in_addresses[j] = MPI_Aint_diff(in_addresses[j], (MPI_Aint)(intptr_t)in[0]);
        memset(in[j], GUARD, sizeof(int) * (size_t)counts[j]);
    }
    /* MPICH takes two MPI_BOTTOMs for aliased buffers: the pieces arrive relative to in[0]. */
    MPI_OK(MPI_Alltoallw_c(MPI_BOTTOM, large_counts, out_addresses, ints, in[0], large_counts, in_addresses, ints,
                           MPI_COMM_WORLD));
    for (int j = 0; j < n; j++) {
        check(in[j], KIND_INT, counts[j], j, r, 0, "MPI_Alltoallw_c from MPI_BOTTOM (absolute displacements) to in[0]", base);
        test_digest_fold(in[j], sizeof(int) * (size_t)counts[j]);
    }
    free(large_counts);
    free(out_addresses);
    free(in_addresses);
#endif
    for (int j = 0; j < n; j++) {
        MPI_OK(MPI_Type_free(&out_types[j]));
        MPI_OK(MPI_Type_free(&in_types[j]));
        free(out[j]);
        free(in[j]);
    }
    free(counts);
    free(zeros);
    free(ones);
    free(ints);
    free(out_types);
    free(in_types);
    free(out);
    free(in);
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "alltoallw");
    const int print_digest = argc > 1 && strcmp(argv[1], "--digest") == 0;
    MPI_OK(MPI_Type_vector(2, 1, 3, MPI_INT, &every_fourth_pair)); /* extent: four ints */
    MPI_OK(MPI_Type_commit(&every_fourth_pair));
    const int bases[] = {0, 1, 7, 3000, 20000};
    for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
        typed_pieces(bases[b], world_rank, world_size);
        in_place(bases[b], world_rank, world_size);
        from_bottom(bases[b], world_rank, world_size);
    }
    test_phase_done("alltoallw");
    test_digest_report(print_digest);
    MPI_OK(MPI_Type_free(&every_fourth_pair));
    return test_finish();
}
