/*
 * MPI_Scan, MPI_Exscan, MPI_Reduce_scatter_block and MPI_Reduce_scatter (and a non-commutative
 * user operation in MPI_Scan and MPI_Allreduce), on MPI_COMM_WORLD and on an even/odd split in
 * reversed order. Every rank can compute every rank's input, so each result is checked against
 * the expected values, and the bytes past each result must stay as they were. Vectors from 1 to
 * 20000 elements: one step of the library's slots and many.
 * `--digest` also prints "digest H": every rank's results, for comparing runs.
 */
#include "common.h"

#include <string.h>

#define GUARD 0xee

/* Rank r's i-th input element, on a communicator's rank r. */
static long long input(int r, int i) { return (long long)(r + 1) * 1000 + i * 7 + i % (r + 2); }

/* 2x2 integer matrices, row-major: inout = in * inout (MPI's order: in op inout). */
static void multiply(void *in, void *inout, int *len, MPI_Datatype *type) {
    (void)type;
    int *a = in, *b = inout;
    for (int k = 0; k < *len; k++, a += 4, b += 4) {
        int c[4] = {a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2],
                    a[2] * b[1] + a[3] * b[3]};
        memcpy(b, c, sizeof c);
    }
}
static int matrix_entry(int r, int i) { return (i + r) % 3 - 1 + (i % 4 == 0); }

static void expect_guard(const unsigned char *bytes, size_t from, size_t to, const char *what) {
    for (size_t i = from; i < to; i++) CHECK(bytes[i] == GUARD, "%s: byte %zu past the result was overwritten", what, i);
}

static void run(MPI_Comm comm, const char *name, int count, MPI_Op matrix_op, MPI_Datatype matrix) {
    int r, n;
    MPI_OK(MPI_Comm_rank(comm, &r));
    MPI_OK(MPI_Comm_size(comm, &n));
    const size_t bytes = sizeof(long long) * (size_t)count * (size_t)n;
    long long *send = xmalloc(bytes), *out = xmalloc(bytes + 64);
    for (int i = 0; i < count * n; i++) send[i] = input(r, i);
    char what[200];

    memset(out, GUARD, bytes + 64);
    MPI_OK(MPI_Scan(send, out, count, MPI_LONG_LONG, MPI_SUM, comm));
    for (int i = 0; i < count; i++) {
        long long sum = 0;
        for (int j = 0; j <= r; j++) sum += input(j, i);
        snprintf(what, sizeof what, "MPI_Scan(MPI_SUM, %d) on %s, element %d", count, name, i);
        CHECK_EQ_LL(out[i], sum, what);
    }
    expect_guard((unsigned char *)out, sizeof(long long) * count, bytes + 64, "MPI_Scan");
    test_digest_fold(out, sizeof(long long) * count);

    memset(out, GUARD, bytes + 64);
    MPI_OK(MPI_Exscan(send, out, count, MPI_LONG_LONG, MPI_MAX, comm));
    if (r > 0) {
        for (int i = 0; i < count; i++) {
            long long max = input(0, i);
            for (int j = 1; j < r; j++) max = input(j, i) > max ? input(j, i) : max;
            snprintf(what, sizeof what, "MPI_Exscan(MPI_MAX, %d) on %s, element %d", count, name, i);
            CHECK_EQ_LL(out[i], max, what);
        }
        test_digest_fold(out, sizeof(long long) * count);
    }
    expect_guard((unsigned char *)out, r > 0 ? sizeof(long long) * count : 0, bytes + 64, "MPI_Exscan");

    unsigned long long *product = xmalloc(sizeof(unsigned long long) * count);
    for (int i = 0; i < count; i++) product[i] = (unsigned long long)input(r, i);
    MPI_OK(MPI_Scan(MPI_IN_PLACE, product, count, MPI_UNSIGNED_LONG_LONG, MPI_PROD, comm));
    for (int i = 0; i < count; i++) {
        unsigned long long expected = 1;
        for (int j = 0; j <= r; j++) expected *= (unsigned long long)input(j, i);
        snprintf(what, sizeof what, "MPI_Scan(MPI_IN_PLACE, MPI_PROD, %d) on %s, element %d", count, name, i);
        CHECK(product[i] == expected, "%s: expected %llu, found %llu", what, expected, product[i]);
    }
    test_digest_fold(product, sizeof(unsigned long long) * count);
    free(product);

    memset(out, GUARD, bytes + 64);
    MPI_OK(MPI_Reduce_scatter_block(send, out, count, MPI_LONG_LONG, MPI_SUM, comm));
    for (int i = 0; i < count; i++) {
        long long sum = 0;
        for (int j = 0; j < n; j++) sum += input(j, r * count + i);
        snprintf(what, sizeof what, "MPI_Reduce_scatter_block(MPI_SUM, %d) on %s, element %d", count, name, i);
        CHECK_EQ_LL(out[i], sum, what);
    }
    expect_guard((unsigned char *)out, sizeof(long long) * count, bytes + 64, "MPI_Reduce_scatter_block");
    test_digest_fold(out, sizeof(long long) * count);

    /* Uneven blocks, one of them empty when count allows. */
    int *counts = xmalloc(sizeof(int) * n), first = 0, total = 0;
    for (int j = 0; j < n; j++) {
        counts[j] = j == 1 ? 0 : count + j;
        if (j < r) first += counts[j];
        total += counts[j];
    }
    if (total <= count * n) {
        memset(out, GUARD, bytes + 64);
        MPI_OK(MPI_Reduce_scatter(send, counts[r] ? out : NULL, counts, MPI_LONG_LONG, MPI_MIN, comm));
        for (int i = 0; i < counts[r]; i++) {
            long long min = input(0, first + i);
            for (int j = 1; j < n; j++) min = input(j, first + i) < min ? input(j, first + i) : min;
            snprintf(what, sizeof what, "MPI_Reduce_scatter(MPI_MIN, %d of %d) on %s, element %d", counts[r], total, name, i);
            CHECK_EQ_LL(out[i], min, what);
        }
        expect_guard((unsigned char *)out, sizeof(long long) * counts[r], bytes + 64, "MPI_Reduce_scatter");
        test_digest_fold(out, sizeof(long long) * counts[r]);

    }
    /* MPICH 4.0.2 itself fails an in-place MPI_Reduce_scatter of 20000-element blocks at 5 ranks
     * and more ("memcpy argument memory ranges overlap" in its pack): smaller ones only. */
    if (total <= count * n && count < 20000) {
        memcpy(out, send, bytes);
        MPI_OK(MPI_Reduce_scatter(MPI_IN_PLACE, out, counts, MPI_LONG_LONG, MPI_SUM, comm));
        for (int i = 0; i < counts[r]; i++) {
            long long sum = 0;
            for (int j = 0; j < n; j++) sum += input(j, first + i);
            snprintf(what, sizeof what, "MPI_Reduce_scatter(MPI_IN_PLACE, MPI_SUM, %d) on %s, element %d", counts[r], name, i);
            CHECK_EQ_LL(out[i], sum, what);
        }
        test_digest_fold(out, sizeof(long long) * counts[r]);
    }
    free(counts);

    /* A non-commutative operation: the product in rank order, whichever way it is computed. */
    int *matrices = xmalloc(sizeof(int) * 4 * count), *result = xmalloc(sizeof(int) * 4 * count);
    for (int i = 0; i < 4 * count; i++) matrices[i] = matrix_entry(r, i);
    for (int pass = 0; pass < 2; pass++) {
        const int last = pass == 0 ? r : n - 1; /* MPI_Scan: ranks 0..r; MPI_Allreduce: all */
        if (pass == 0) MPI_OK(MPI_Scan(matrices, result, count, matrix, matrix_op, comm));
        else MPI_OK(MPI_Allreduce(matrices, result, count, matrix, matrix_op, comm));
        for (int k = 0; k < count; k++) {
            int expected[4];
            for (int e = 0; e < 4; e++) expected[e] = matrix_entry(last, 4 * k + e);
            for (int j = last - 1; j >= 0; j--) {
                int left[4], len = 1;
                for (int e = 0; e < 4; e++) left[e] = matrix_entry(j, 4 * k + e);
                multiply(left, expected, &len, NULL);
            }
            snprintf(what, sizeof what, "%s(non-commutative matrix product, %d) on %s, matrix %d",
                     pass == 0 ? "MPI_Scan" : "MPI_Allreduce", count, name, k);
            CHECK_INTS(result + 4 * k, expected, 4, what);
        }
        test_digest_fold(result, sizeof(int) * 4 * count);
    }
    free(matrices);
    free(result);
    free(send);
    free(out);
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "scans");
    const int print_digest = argc > 1 && strcmp(argv[1], "--digest") == 0;
    MPI_Op matrix_op;
    MPI_Datatype matrix;
    MPI_OK(MPI_Op_create(multiply, 0, &matrix_op));
    MPI_OK(MPI_Type_contiguous(4, MPI_INT, &matrix));
    MPI_OK(MPI_Type_commit(&matrix));
    MPI_Comm halves;
    MPI_OK(MPI_Comm_split(MPI_COMM_WORLD, world_rank % 2, world_size - world_rank, &halves));
    const int counts[] = {1, 5, 3000, 20000};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        run(MPI_COMM_WORLD, "MPI_COMM_WORLD", counts[c], matrix_op, matrix);
        run(halves, "an even/odd split in reversed order", counts[c], matrix_op, matrix);
    }
    test_phase_done("scans and reduce-scatters");
    test_digest_report(print_digest);
    MPI_OK(MPI_Comm_free(&halves));
    MPI_OK(MPI_Type_free(&matrix));
    MPI_OK(MPI_Op_free(&matrix_op));
    return test_finish();
}
