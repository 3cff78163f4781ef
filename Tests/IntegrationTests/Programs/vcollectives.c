/*
 * MPI_Gatherv (every root), MPI_Allgatherv, MPI_Scatterv (every root) and MPI_Alltoallv with
 * uneven counts (empty pieces included), gaps between pieces, pieces from a few bytes to more
 * than one of the library's steps, and a vector type with gaps on the receiving side. The
 * allgathered and all-to-all values are checked here; every buffer, the bytes between and past
 * the pieces included, goes into the digest, which `--digest` prints ("digest H") for comparing
 * a served run with plain MPICH's.
 */
#include "common.h"

#include <string.h>

#define GUARD 0xab

static int value(int rank, int index) { return rank * 100000 + index; }

int main(int argc, char **argv) {
    test_init(&argc, &argv, "vcollectives");
    const int print_digest = argc > 1 && strcmp(argv[1], "--digest") == 0;
    const int r = world_rank, n = world_size;
    MPI_Datatype every_third;
    MPI_OK(MPI_Type_vector(2, 1, 3, MPI_INT, &every_third));
    MPI_OK(MPI_Type_commit(&every_third));
    const int bases[] = {0, 1, 7, 3000, 20000};
    int *counts = xmalloc(sizeof(int) * n), *displs = xmalloc(sizeof(int) * n);
    int *sc = xmalloc(sizeof(int) * n), *sd = xmalloc(sizeof(int) * n), *rc = xmalloc(sizeof(int) * n),
        *rd = xmalloc(sizeof(int) * n);
    char what[200];
    for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
        const int base = bases[b];
        int total = 0;
        for (int j = 0; j < n; j++) {
            counts[j] = base * (j + 1) / 2 + j % 2; /* member 0's piece is empty when base is 0 */
            displs[j] = total + j;                  /* a gap of j elements before piece j */
            total += counts[j] + j;
        }
        const size_t bytes = sizeof(int) * (size_t)(total + 64);
        int *send = xmalloc(bytes), *out = xmalloc(bytes);
        for (int i = 0; i < total + 64; i++) send[i] = value(r, i);

        memset(out, GUARD, bytes);
        MPI_OK(MPI_Allgatherv(send, counts[r], MPI_INT, out, counts, displs, MPI_INT, MPI_COMM_WORLD));
        for (int j = 0; j < n; j++)
            for (int i = 0; i < counts[j]; i++) {
                snprintf(what, sizeof what, "MPI_Allgatherv (base %d): piece %d, element %d", base, j, i);
                CHECK_EQ_LL(out[displs[j] + i], value(j, i), what);
            }
        test_digest_fold(out, bytes);

        memcpy(out, send, bytes);
        memset(out, GUARD, sizeof(int) * (size_t)displs[r]);
        MPI_OK(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, out, counts, displs, MPI_INT, MPI_COMM_WORLD));
        test_digest_fold(out, bytes);

        for (int root = 0; root < n; root++) {
            memset(out, GUARD, bytes);
            MPI_OK(MPI_Gatherv(send, counts[r], MPI_INT, r == root ? out : NULL, counts, displs, MPI_INT, root,
                               MPI_COMM_WORLD));
            if (r == root) test_digest_fold(out, bytes);
            memset(out, GUARD, bytes);
            MPI_OK(MPI_Scatterv(r == root ? send : NULL, counts, displs, MPI_INT, out, counts[r], MPI_INT, root,
                                MPI_COMM_WORLD));
            for (int i = 0; i < counts[r]; i++) {
                snprintf(what, sizeof what, "MPI_Scatterv (base %d, root %d): element %d", base, root, i);
                CHECK_EQ_LL(out[i], value(root, displs[r] + i), what);
            }
            test_digest_fold(out, sizeof(int) * (size_t)(counts[r] + 8));
        }

        /* All-to-all: member r sends sc[j] elements to j and receives rc[j] from j. */
        int sent = 0, received = 0;
        for (int j = 0; j < n; j++) {
            sc[j] = base * ((r + j) % n + 1) / 4 + 1;
            sd[j] = sent;
            sent += sc[j] + 2;
            rc[j] = base * ((j + r) % n + 1) / 4 + 1;
            rd[j] = received;
            received += rc[j] + 1;
        }
        int *all_send = xmalloc(sizeof(int) * (size_t)(sent + 8)), *all_out = xmalloc(sizeof(int) * (size_t)(received + 8));
        for (int i = 0; i < sent + 8; i++) all_send[i] = value(r, i);
        memset(all_out, GUARD, sizeof(int) * (size_t)(received + 8));
        MPI_OK(MPI_Alltoallv(all_send, sc, sd, MPI_INT, all_out, rc, rd, MPI_INT, MPI_COMM_WORLD));
        for (int j = 0; j < n; j++) {
            /* Member j's displacement of its piece for r: the sum of its earlier pieces. */
            int their = 0;
            for (int k = 0; k < r; k++) their += base * ((j + k) % n + 1) / 4 + 1 + 2;
            for (int i = 0; i < rc[j]; i++) {
                snprintf(what, sizeof what, "MPI_Alltoallv (base %d): from member %d, element %d", base, j, i);
                CHECK_EQ_LL(all_out[rd[j] + i], value(j, their + i), what);
            }
        }
        test_digest_fold(all_out, sizeof(int) * (size_t)(received + 8));
        free(all_send);
        free(all_out);

        /* A receive type with gaps: packed pieces, at most one step of the library. */
        if (base < 100) {
            int vc[64], vd[64];
            for (int j = 0; j < n && j < 64; j++) {
                vc[j] = 1 + j % 2;
                vd[j] = 3 * j;
            }
            memset(out, GUARD, bytes);
            MPI_OK(MPI_Allgatherv(send, 2 * vc[r], MPI_INT, out, vc, vd, every_third, MPI_COMM_WORLD));
            test_digest_fold(out, bytes);
        }
        free(send);
        free(out);
    }
    test_phase_done("v-variants");
    test_digest_report(print_digest);
    free(counts);
    free(displs);
    free(sc);
    free(sd);
    free(rc);
    free(rd);
    MPI_OK(MPI_Type_free(&every_third));
    return test_finish();
}
