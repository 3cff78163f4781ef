/*
 * Collectives whose buffers are MPI_BOTTOM with types of absolute addresses (MPI_Get_address,
 * MPI_Type_create_hindexed): MPI_Bcast, MPI_Allreduce, MPI_Gather and MPI_Scatter from every
 * root, MPI_Allgather, each with its data spread over separate allocations, against a plain
 * buffer on the other side of the call. Run on one region and on several (where the library
 * runs them hierarchically and packs pieces at MPI_BOTTOM itself). Every value is checked here;
 * `--digest` prints the digest of every receive buffer ("digest H").
 */
#include "common.h"

#include <string.h>

enum { PARTS = 3, PART_INTS = 5, PIECE_INTS = PARTS * PART_INTS };

static int value(int from, int to, int index, int round) { return from * 100000 + to * 1000 + index * 10 + round; }

/* PIECE_INTS ints in PARTS separate allocations, and the type that finds them from MPI_BOTTOM. */
typedef struct {
    int *parts[PARTS];
    MPI_Datatype type;
} scattered;

static scattered scattered_new(void) {
    scattered s;
    MPI_Aint addresses[PARTS];
    for (int p = 0; p < PARTS; p++) {
        s.parts[p] = xmalloc(sizeof(int) * PART_INTS);
        MPI_OK(MPI_Get_address(s.parts[p], &addresses[p]));
    }
    MPI_OK(MPI_Type_create_hindexed_block(PARTS, PART_INTS, addresses, MPI_INT, &s.type));
    MPI_OK(MPI_Type_commit(&s.type));
    return s;
}

static void scattered_free(scattered *s) {
    for (int p = 0; p < PARTS; p++) free(s->parts[p]);
    MPI_OK(MPI_Type_free(&s->type));
}

static int *scattered_int(scattered *s, int i) { return &s->parts[i / PART_INTS][i % PART_INTS]; }

static void scattered_fill(scattered *s, int from, int to, int round) {
    for (int i = 0; i < PIECE_INTS; i++) *scattered_int(s, i) = value(from, to, i, round);
}

static void scattered_check(scattered *s, int from, int to, int round, const char *call) {
    char what[160];
    for (int i = 0; i < PIECE_INTS; i++) {
        snprintf(what, sizeof what, "%s (round %d): element %d", call, round, i);
        CHECK_EQ_LL(*scattered_int(s, i), value(from, to, i, round), what);
    }
    for (int p = 0; p < PARTS; p++) test_digest_fold(s->parts[p], sizeof(int) * PART_INTS);
}

static void check_plain(const int *found, int from, int to, int round, const char *call) {
    char what[160];
    for (int i = 0; i < PIECE_INTS; i++) {
        snprintf(what, sizeof what, "%s (round %d): from %d, element %d", call, round, from, i);
        CHECK_EQ_LL(found[i], value(from, to, i, round), what);
    }
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "bottom_collectives");
    const int print_digest = argc > 1 && strcmp(argv[1], "--digest") == 0;
    const int r = world_rank, n = world_size;
    int *plain = xmalloc(sizeof(int) * PIECE_INTS * (size_t)n);
    for (int round = 0; round < 3; round++) {
        for (int root = 0; root < n; root++) {
            /* MPI_Bcast from MPI_BOTTOM on every rank. */
            scattered b = scattered_new();
            scattered_fill(&b, r == root ? root : -1, 0, round);
            MPI_OK(MPI_Bcast(MPI_BOTTOM, 1, b.type, root, MPI_COMM_WORLD));
            scattered_check(&b, root, 0, round, "MPI_Bcast from MPI_BOTTOM");
            scattered_free(&b);

            /* MPI_Gather: every rank sends from MPI_BOTTOM, the root receives a plain array. */
            scattered g = scattered_new();
            scattered_fill(&g, r, root, round);
            memset(plain, 0xab, sizeof(int) * PIECE_INTS * (size_t)n);
            MPI_OK(MPI_Gather(MPI_BOTTOM, 1, g.type, plain, PIECE_INTS, MPI_INT, root, MPI_COMM_WORLD));
            if (r == root) {
                for (int j = 0; j < n; j++) check_plain(plain + j * PIECE_INTS, j, root, round, "MPI_Gather from MPI_BOTTOM");
                test_digest_fold(plain, sizeof(int) * PIECE_INTS * (size_t)n);
            }
            scattered_free(&g);

            /* MPI_Scatter: the root sends a plain array, every rank receives at MPI_BOTTOM. */
            for (int j = 0; j < n; j++)
                for (int i = 0; i < PIECE_INTS; i++) plain[j * PIECE_INTS + i] = value(root, j, i, round);
            scattered s = scattered_new();
            scattered_fill(&s, -1, -1, round);
            MPI_OK(MPI_Scatter(plain, PIECE_INTS, MPI_INT, MPI_BOTTOM, 1, s.type, root, MPI_COMM_WORLD));
            scattered_check(&s, root, r, round, "MPI_Scatter to MPI_BOTTOM");
            scattered_free(&s);
        }

        /* MPI_Allgather: a plain piece in, every rank's piece out at MPI_BOTTOM: a type of the
         * absolute addresses of piece 0's parts, with gaps between them, whose extent steps to
         * the next rank's piece. */
        const size_t spread_ints = 2 * PIECE_INTS * (size_t)n;
        int *spread = xmalloc(sizeof(int) * spread_ints);
        memset(spread, 0xab, sizeof(int) * spread_ints);
        MPI_Aint addresses[PARTS];
        for (int part = 0; part < PARTS; part++) MPI_OK(MPI_Get_address(spread + 2 * PART_INTS * part, &addresses[part]));
        MPI_Datatype parts, piece;
        MPI_OK(MPI_Type_create_hindexed_block(PARTS, PART_INTS, addresses, MPI_INT, &parts));
        MPI_OK(MPI_Type_create_resized(parts, addresses[0], (MPI_Aint)(2 * PIECE_INTS * sizeof(int)), &piece));
        MPI_OK(MPI_Type_commit(&piece));
        for (int i = 0; i < PIECE_INTS; i++) plain[i] = value(r, 0, i, round);
        MPI_OK(MPI_Allgather(plain, PIECE_INTS, MPI_INT, MPI_BOTTOM, 1, piece, MPI_COMM_WORLD));
        char what[160];
        for (int j = 0; j < n; j++)
            for (int i = 0; i < PIECE_INTS; i++) {
                snprintf(what, sizeof what, "MPI_Allgather to MPI_BOTTOM (round %d): from %d, element %d", round, j, i);
                CHECK_EQ_LL(spread[2 * PIECE_INTS * j + 2 * PART_INTS * (i / PART_INTS) + i % PART_INTS],
                            value(j, 0, i, round), what);
            }
        test_digest_fold(spread, sizeof(int) * spread_ints);
        MPI_OK(MPI_Type_free(&piece));
        MPI_OK(MPI_Type_free(&parts));
        free(spread);
    }
    free(plain);
    test_phase_done("bottom collectives");
    test_digest_report(print_digest);
    return test_finish();
}
