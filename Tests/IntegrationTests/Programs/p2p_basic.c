/*
 * Point-to-point between every pair of ranks, as MPI programs write it.
 *   1. Every pair (a round-robin schedule: one partner per rank per round; with an odd rank count
 *      the rank left out works against MPI_PROC_NULL) exchanges messages both ways with
 *      MPI_Send/Recv, Isend/Irecv, Ssend, Rsend and Irsend (receives pre-posted, an MPI_Barrier,
 *      then the ready sends: one barrier for all sizes up to 64 KiB, one per larger size), Issend,
 *      Sendrecv and Sendrecv_replace, at 0 (NULL buffer, count 0), 1, 8, 1000, 65536 bytes, 1 MiB
 *      and 4 MiB, as MPI_INT, MPI_DOUBLE or MPI_BYTE. The two largest sizes go with every mode in
 *      the first round and with one mode a round after it (keeps 8 ranks on 2 cores fast).
 *   2. A derived type on one side only: a vector on the sender and contiguous MPI_INT on the
 *      receiver and the reverse (the gaps of the receive buffer untouched), an hvector of
 *      doubles against an indexed type, and a partial receive (MPI_Get_count MPI_UNDEFINED,
 *      MPI_Get_elements the basic elements).
 *   3. MPI_BOTTOM with absolute addresses (MPI_Get_address + an hindexed type) on the sending,
 *      the receiving and both sides.
 *   4. MPI_PROC_NULL as destination and source of every kind of call: the status says
 *      MPI_PROC_NULL, MPI_ANY_TAG, count 0, and the buffer is untouched.
 *   5. The MPI-4 large-count calls MPI_Send_c, MPI_Recv_c, MPI_Isend_c, MPI_Irecv_c,
 *      MPI_Get_count_c and MPI_Get_elements_c.
 * Every received byte is checked against a pattern of (sender, receiver, size, round), and the
 * bytes after the received ones must be untouched; statuses (source, tag, MPI_Get_count,
 * MPI_Get_elements) are checked on every receive. Each rank prints "p2p_basic ok rank=R", rank 0
 * then "PASS p2p_basic".
 */
#include "common.h"
#include <signal.h>
#include <unistd.h>

#include "p2p_common.h"

/* ---- 1. every pair, every mode, every size ---- */

enum Mode { M_SEND, M_ISEND, M_SSEND, M_RSEND, M_ISSEND, M_IRSEND, M_SENDRECV, M_SENDRECV_REPLACE, MODES };
static const char *mode_names[MODES] = {"MPI_Send/MPI_Recv", "MPI_Isend/MPI_Irecv", "MPI_Ssend/MPI_Recv",
                                        "MPI_Rsend/MPI_Irecv", "MPI_Issend/MPI_Irecv", "MPI_Irsend/MPI_Irecv",
                                        "MPI_Sendrecv", "MPI_Sendrecv_replace"};

static const size_t sizes[] = {0, 1, 8, 1000, 65536, 1 << 20, 4 << 20};
enum { SIZES = sizeof sizes / sizeof sizes[0], LARGE_FROM = 5, MAX_BYTES = 4 << 20 };

/* The buffers of each size: the small sizes side by side (a ready-send batch posts them all at
 * once), the large ones in the big buffers, one at a time. Each receive slot has GUARD bytes after it. */
static unsigned char *send_buffer, *recv_buffer, *small_send, *small_recv;
static size_t small_offset[SIZES];

static unsigned char *send_slot(int size_index) {
    return size_index >= LARGE_FROM ? send_buffer : small_send + small_offset[size_index];
}
static unsigned char *recv_slot(int size_index) {
    return size_index >= LARGE_FROM ? recv_buffer : small_recv + small_offset[size_index];
}

/* The partner of `rank` in `round` of the circle schedule over `slots` (even) slots; slot
 * `slots - 1` is a bye when the rank count is odd. */
static int partner_of(int rank, int round, int slots) {
    if (rank == slots - 1) return round;
    if (rank == round) return slots - 1;
    return ((2 * round - rank) % (slots - 1) + (slots - 1)) % (slots - 1);
}

/* One message each way between this rank and `partner` (-1: MPI_PROC_NULL). */
struct transfer {
    int mode, size_index, partner, round;
    size_t bytes;
    MPI_Datatype type;
    const char *type_name;
    int count, tag, peer;
    unsigned char *sbuf, *rbuf; /* NULL for 0 bytes */
    uint32_t send_key, recv_key;
};

static struct transfer prepare(int mode, int size_index, int partner, int round) {
    static const MPI_Datatype types[3] = {MPI_INT, MPI_DOUBLE, MPI_BYTE};
    static const int elements[3] = {sizeof(int), sizeof(double), 1};
    static const char *names[3] = {"MPI_INT", "MPI_DOUBLE", "MPI_BYTE"};
    struct transfer t = {.mode = mode, .size_index = size_index, .partner = partner, .round = round};
    t.bytes = sizes[size_index];
    int kind = (mode + size_index) % 3;
    if (t.bytes % (size_t)elements[kind] != 0) kind = 2;
    t.type = types[kind];
    t.type_name = names[kind];
    t.count = (int)(t.bytes / (size_t)elements[kind]);
    t.tag = (round * MODES + mode) * SIZES + size_index;
    t.peer = partner < 0 ? MPI_PROC_NULL : partner;
    t.sbuf = t.bytes ? send_slot(size_index) : NULL;
    t.rbuf = t.bytes ? recv_slot(size_index) : NULL;
    t.send_key = message_key(world_rank, partner, size_index, round * MODES + mode);
    t.recv_key = message_key(partner, world_rank, size_index, round * MODES + mode);
    if (t.bytes) fill_bytes(send_slot(size_index), t.bytes, t.send_key);
    memset(recv_slot(size_index), SENTINEL, t.bytes + GUARD);
    if (mode == M_SENDRECV_REPLACE && t.bytes) memcpy(recv_slot(size_index), send_slot(size_index), t.bytes);
    return t;
}

static void describe(const struct transfer *t) {
    snprintf(context, sizeof context, "%s, %zu bytes as %d x %s, partner %d, round %d, tag %d", mode_names[t->mode],
             t->bytes, t->count, t->type_name, t->partner, t->round, t->tag);
}

static void verify(const struct transfer *t, const MPI_Status *status) {
    describe(t);
    unsigned char *received = recv_slot(t->size_index);
    if (t->partner < 0) {
        if (t->mode == M_ISEND || t->mode == M_ISSEND || t->mode == M_RSEND || t->mode == M_IRSEND)
            check_nonblocking_null_status(status, t->type, "nonblocking receive from MPI_PROC_NULL");
        else
            check_null_status(status, t->type, "receive from MPI_PROC_NULL");
        if (t->mode == M_SENDRECV_REPLACE)
            check_pattern(received, t->bytes, t->send_key,
                          "MPI_Sendrecv_replace buffer after MPI_PROC_NULL (must be unchanged)");
        else
            check_guard(received, 0, "receive buffer after a receive from MPI_PROC_NULL");
        return;
    }
    check_status(status, t->partner, t->tag, t->type, t->count, "status of the receive");
    check_pattern(received, t->bytes, t->recv_key, "received bytes");
    check_guard(received, t->bytes, "bytes after the received message");
    /* The send buffer is the sender's own: the call must not have written to it. */
    if (t->mode != M_SENDRECV_REPLACE)
        check_pattern(send_slot(t->size_index), t->bytes, t->send_key, "send buffer after the send (must be unchanged)");
}

static void exchange(int mode, int size_index, int partner, int round) {
    struct transfer t = prepare(mode, size_index, partner, round);
    describe(&t);
    MPI_Status status;
    MPI_Request requests[2];
    MPI_Status statuses[2];
    const int sends_first = partner < 0 || world_rank < partner;
    switch (mode) {
    case M_SEND:
    case M_SSEND:
        if (sends_first) {
            MPI_OK(mode == M_SEND ? MPI_Send(t.sbuf, t.count, t.type, t.peer, t.tag, MPI_COMM_WORLD)
                                  : MPI_Ssend(t.sbuf, t.count, t.type, t.peer, t.tag, MPI_COMM_WORLD));
            MPI_OK(MPI_Recv(t.rbuf, t.count, t.type, t.peer, t.tag, MPI_COMM_WORLD, &status));
        } else {
            MPI_OK(MPI_Recv(t.rbuf, t.count, t.type, t.peer, t.tag, MPI_COMM_WORLD, &status));
            MPI_OK(mode == M_SEND ? MPI_Send(t.sbuf, t.count, t.type, t.peer, t.tag, MPI_COMM_WORLD)
                                  : MPI_Ssend(t.sbuf, t.count, t.type, t.peer, t.tag, MPI_COMM_WORLD));
        }
        break;
    case M_ISEND:
    case M_ISSEND:
        MPI_OK(MPI_Irecv(t.rbuf, t.count, t.type, t.peer, t.tag, MPI_COMM_WORLD, &requests[0]));
        MPI_OK(mode == M_ISEND ? MPI_Isend(t.sbuf, t.count, t.type, t.peer, t.tag, MPI_COMM_WORLD, &requests[1])
                               : MPI_Issend(t.sbuf, t.count, t.type, t.peer, t.tag, MPI_COMM_WORLD, &requests[1]));
        MPI_OK(MPI_Waitall(2, requests, statuses));
        status = statuses[0];
        CHECK(requests[0] == MPI_REQUEST_NULL && requests[1] == MPI_REQUEST_NULL,
              "[%s] MPI_Waitall left a request that is not MPI_REQUEST_NULL", context);
        break;
    case M_SENDRECV:
        MPI_OK(MPI_Sendrecv(t.sbuf, t.count, t.type, t.peer, t.tag, t.rbuf, t.count, t.type, t.peer, t.tag,
                            MPI_COMM_WORLD, &status));
        break;
    case M_SENDRECV_REPLACE:
        MPI_OK(MPI_Sendrecv_replace(t.rbuf, t.count, t.type, t.peer, t.tag, t.peer, t.tag, MPI_COMM_WORLD, &status));
        break;
    default:
        FAIL_IN("exchange() of a ready mode");
    }
    verify(&t, &status);
}

/* MPI_Rsend / MPI_Irsend of `n` sizes: every receive is posted, then MPI_Barrier, then the ready
 * sends (one barrier for the batch: barriers are slow with 8 ranks on 2 cores). */
static void ready_batch(int mode, const int *size_indices, int n, int partner, int round) {
    struct transfer t[SIZES];
    MPI_Request receives[SIZES], sends[SIZES];
    MPI_Status statuses[SIZES], send_statuses[SIZES];
    for (int i = 0; i < n; i++) {
        t[i] = prepare(mode, size_indices[i], partner, round);
        MPI_OK(MPI_Irecv(t[i].rbuf, t[i].count, t[i].type, t[i].peer, t[i].tag, MPI_COMM_WORLD, &receives[i]));
    }
    snprintf(context, sizeof context, "%s batch of %d sizes, partner %d, round %d: MPI_Barrier", mode_names[mode], n,
             partner, round);
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    for (int i = 0; i < n; i++) {
        describe(&t[i]);
        if (mode == M_RSEND) MPI_OK(MPI_Rsend(t[i].sbuf, t[i].count, t[i].type, t[i].peer, t[i].tag, MPI_COMM_WORLD));
        else MPI_OK(MPI_Irsend(t[i].sbuf, t[i].count, t[i].type, t[i].peer, t[i].tag, MPI_COMM_WORLD, &sends[i]));
    }
    snprintf(context, sizeof context, "%s batch of %d sizes, partner %d, round %d: waiting", mode_names[mode], n,
             partner, round);
    if (mode == M_IRSEND) MPI_OK(MPI_Waitall(n, sends, send_statuses));
    MPI_OK(MPI_Waitall(n, receives, statuses));
    for (int i = 0; i < n; i++) verify(&t[i], &statuses[i]);
}

static void every_pair(void) {
    begin_phase("every pair, every mode, every size");
    send_buffer = xmalloc(MAX_BYTES);
    recv_buffer = xmalloc(MAX_BYTES + GUARD);
    size_t small_total = 0;
    for (int i = 0; i < LARGE_FROM; i++) {
        small_offset[i] = small_total;
        small_total += (sizes[i] + GUARD + 63) / 64 * 64;
    }
    small_send = xmalloc(small_total);
    small_recv = xmalloc(small_total);
    const int slots = world_size % 2 == 0 ? world_size : world_size + 1;
    const int rounds = world_size == 1 ? 1 : slots - 1;
    for (int round = 0; round < rounds; round++) {
        int partner = world_size == 1 ? -1 : partner_of(world_rank, round, slots);
        if (partner >= world_size) partner = -1; /* the bye of an odd rank count: MPI_PROC_NULL */
        for (int mode = 0; mode < MODES; mode++) {
            const int large = round == 0 || mode == round % MODES;
            if (mode == M_RSEND || mode == M_IRSEND) {
                int small[LARGE_FROM];
                for (int i = 0; i < LARGE_FROM; i++) small[i] = i;
                ready_batch(mode, small, LARGE_FROM, partner, round);
                for (int size_index = LARGE_FROM; large && size_index < SIZES; size_index++)
                    ready_batch(mode, &size_index, 1, partner, round);
                continue;
            }
            for (int size_index = 0; size_index < SIZES; size_index++)
                if (size_index < LARGE_FROM || large) exchange(mode, size_index, partner, round);
        }
    }
    free(send_buffer);
    free(recv_buffer);
    free(small_send);
    free(small_recv);
    test_phase_done("every pair");
}

/* ---- 2. a derived type on one side only ---- */

static void derived_types(void) {
    begin_phase("derived type on one side");
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    enum { BLOCKS = 40000, BLOCK = 3, STRIDE = 5, ELEMENTS = BLOCKS * BLOCK }; /* 480 KB of ints */
    int *strided = xmalloc(sizeof(int) * BLOCKS * STRIDE);
    int *contiguous = xmalloc(sizeof(int) * (ELEMENTS + 16));
    MPI_Datatype vector;
    MPI_OK(MPI_Type_vector(BLOCKS, BLOCK, STRIDE, MPI_INT, &vector));
    MPI_OK(MPI_Type_commit(&vector));
    MPI_Status status;

    /* A vector on the sender, contiguous MPI_INT on the receiver. */
    snprintf(context, sizeof context, "vector of %d x %d MPI_INT (stride %d) sent, contiguous MPI_INT received",
             BLOCKS, BLOCK, STRIDE);
    for (int b = 0; b < BLOCKS; b++)
        for (int j = 0; j < STRIDE; j++)
            strided[b * STRIDE + j] = j < BLOCK ? pattern_int(message_key(world_rank, right, 1, 0), b * BLOCK + j) : -1;
    for (int i = 0; i < ELEMENTS + 16; i++) contiguous[i] = -7;
    MPI_OK(MPI_Sendrecv(strided, 1, vector, right, 11, contiguous, ELEMENTS, MPI_INT, left, 11, MPI_COMM_WORLD,
                        &status));
    check_status(&status, left, 11, MPI_INT, ELEMENTS, "vector to contiguous");
    for (int i = 0; i < ELEMENTS; i++) {
        int expected = pattern_int(message_key(left, world_rank, 1, 0), i);
        if (contiguous[i] != expected)
            FAIL_IN("[%s] element %d: expected %d, got %d", context, i, expected, contiguous[i]);
    }
    for (int i = ELEMENTS; i < ELEMENTS + 16; i++)
        CHECK(contiguous[i] == -7, "[%s] element %d past the message was overwritten (%d)", context, i, contiguous[i]);

    /* Contiguous on the sender, the vector on the receiver: the gaps stay as they were. */
    snprintf(context, sizeof context, "contiguous MPI_INT sent, vector of %d x %d MPI_INT (stride %d) received",
             BLOCKS, BLOCK, STRIDE);
    for (int i = 0; i < ELEMENTS; i++) contiguous[i] = pattern_int(message_key(world_rank, right, 2, 0), i);
    for (int i = 0; i < BLOCKS * STRIDE; i++) strided[i] = -9;
    MPI_OK(MPI_Sendrecv(contiguous, ELEMENTS, MPI_INT, right, 12, strided, 1, vector, left, 12, MPI_COMM_WORLD,
                        &status));
    CHECK(status.MPI_SOURCE == left && status.MPI_TAG == 12, "[%s] status source %d tag %d, expected %d and 12",
          context, status.MPI_SOURCE, status.MPI_TAG, left);
    int count = -2, elements = -2;
    MPI_OK(MPI_Get_count(&status, vector, &count));
    MPI_OK(MPI_Get_elements(&status, vector, &elements));
    CHECK_EQ_LL(count, 1, "MPI_Get_count with the vector type");
    CHECK_EQ_LL(elements, ELEMENTS, "MPI_Get_elements with the vector type");
    for (int b = 0; b < BLOCKS; b++)
        for (int j = 0; j < STRIDE; j++) {
            int expected = j < BLOCK ? pattern_int(message_key(left, world_rank, 2, 0), b * BLOCK + j) : -9;
            if (strided[b * STRIDE + j] != expected)
                FAIL_IN("[%s] block %d element %d (%s): expected %d, got %d", context, b, j,
                        j < BLOCK ? "data" : "gap", expected, strided[b * STRIDE + j]);
        }

    /* A partial receive: 5 ints into pairs of ints. MPI_Get_count says MPI_UNDEFINED, MPI_Get_elements 5. */
    snprintf(context, sizeof context, "5 MPI_INT received as 4 x contiguous(2, MPI_INT)");
    MPI_Datatype pair;
    MPI_OK(MPI_Type_contiguous(2, MPI_INT, &pair));
    MPI_OK(MPI_Type_commit(&pair));
    int five[5], eight[8];
    for (int i = 0; i < 5; i++) five[i] = pattern_int(message_key(world_rank, right, 3, 0), i);
    for (int i = 0; i < 8; i++) eight[i] = -3;
    MPI_OK(MPI_Sendrecv(five, 5, MPI_INT, right, 13, eight, 4, pair, left, 13, MPI_COMM_WORLD, &status));
    MPI_OK(MPI_Get_count(&status, pair, &count));
    MPI_OK(MPI_Get_elements(&status, pair, &elements));
    CHECK(count == MPI_UNDEFINED, "[%s] MPI_Get_count: expected MPI_UNDEFINED, got %d", context, count);
    CHECK_EQ_LL(elements, 5, "MPI_Get_elements of 5 ints received as pairs");
    for (int i = 0; i < 8; i++) {
        int expected = i < 5 ? pattern_int(message_key(left, world_rank, 3, 0), i) : -3;
        CHECK(eight[i] == expected, "[%s] element %d: expected %d, got %d", context, i, expected, eight[i]);
    }
    MPI_OK(MPI_Type_free(&pair));

    /* An hvector of doubles sent, an indexed type of doubles received (same type signature). */
    enum { D_BLOCKS = 1000, D_BLOCK = 4, D_ELEMENTS = D_BLOCKS * D_BLOCK };
    snprintf(context, sizeof context, "hvector of %d x %d MPI_DOUBLE sent, irregular indexed MPI_DOUBLE received",
             D_BLOCKS, D_BLOCK);
    double *dsend = xmalloc(sizeof(double) * D_BLOCKS * D_BLOCK * 2);
    double *drecv = xmalloc(sizeof(double) * D_ELEMENTS * 2);
    MPI_Datatype hvector, indexed;
    MPI_OK(MPI_Type_create_hvector(D_BLOCKS, D_BLOCK, (MPI_Aint)(2 * D_BLOCK * sizeof(double)), MPI_DOUBLE, &hvector));
    MPI_OK(MPI_Type_commit(&hvector));
    /* Blocks of 1, 2, 3, 4, 5, ... doubles with a gap of one after each, up to D_ELEMENTS in all. */
    enum { MAX_INDEXED_BLOCKS = 1024 };
    int lengths[MAX_INDEXED_BLOCKS], displacements[MAX_INDEXED_BLOCKS], blocks = 0, total = 0, at = 0;
    while (total < D_ELEMENTS) {
        CHECK(blocks < MAX_INDEXED_BLOCKS, "indexed layout needs more than %d blocks", MAX_INDEXED_BLOCKS);
        int length = blocks % 9 + 1;
        if (total + length > D_ELEMENTS) length = D_ELEMENTS - total;
        lengths[blocks] = length;
        displacements[blocks] = at;
        at += length + 1;
        total += length;
        blocks++;
    }
    CHECK(at <= 2 * D_ELEMENTS, "indexed layout spans %d doubles, the buffer %d", at, 2 * D_ELEMENTS);
    MPI_OK(MPI_Type_indexed(blocks, lengths, displacements, MPI_DOUBLE, &indexed));
    MPI_OK(MPI_Type_commit(&indexed));
    for (int b = 0; b < D_BLOCKS; b++)
        for (int j = 0; j < 2 * D_BLOCK; j++)
            dsend[b * 2 * D_BLOCK + j] =
                j < D_BLOCK ? (double)pattern_int(message_key(world_rank, right, 4, 0), b * D_BLOCK + j) : -1.0;
    for (int i = 0; i < 2 * D_ELEMENTS; i++) drecv[i] = -5.0;
    MPI_OK(MPI_Sendrecv(dsend, 1, hvector, right, 14, drecv, 1, indexed, left, 14, MPI_COMM_WORLD, &status));
    MPI_OK(MPI_Get_elements(&status, indexed, &elements));
    CHECK_EQ_LL(elements, D_ELEMENTS, "MPI_Get_elements with the indexed type");
    int k = 0;
    for (int b = 0; b < blocks; b++) {
        for (int j = 0; j < lengths[b]; j++, k++) {
            double expected = (double)pattern_int(message_key(left, world_rank, 4, 0), k);
            double found = drecv[displacements[b] + j];
            CHECK(found == expected, "[%s] element %d (block %d): expected %.17g, got %.17g", context, k, b, expected,
                  found);
        }
        double gap = drecv[displacements[b] + lengths[b]];
        CHECK(gap == -5.0, "[%s] gap after block %d was overwritten (%.17g)", context, b, gap);
    }
    MPI_OK(MPI_Type_free(&hvector));
    MPI_OK(MPI_Type_free(&indexed));
    free(dsend);
    free(drecv);

    MPI_OK(MPI_Type_free(&vector));
    free(strided);
    free(contiguous);
    test_phase_done("derived types");
}

/* ---- 3. MPI_BOTTOM with absolute addresses ---- */

enum { PIECES = 3 };
static const int piece_lengths[PIECES] = {1000, 50, 7};
enum { PIECE_TOTAL = 1057 };

/* An hindexed type over three separate arrays, by their absolute addresses. */
static MPI_Datatype absolute_type(int *pieces[PIECES]) {
    MPI_Aint addresses[PIECES];
    for (int p = 0; p < PIECES; p++) MPI_OK(MPI_Get_address(pieces[p], &addresses[p]));
    MPI_Datatype type;
    MPI_OK(MPI_Type_create_hindexed(PIECES, piece_lengths, addresses, MPI_INT, &type));
    MPI_OK(MPI_Type_commit(&type));
    return type;
}

static void check_pieces(int *pieces[PIECES], uint32_t key, const char *what) {
    int k = 0;
    for (int p = 0; p < PIECES; p++)
        for (int i = 0; i < piece_lengths[p]; i++, k++) {
            int expected = pattern_int(key, k);
            CHECK(pieces[p][i] == expected, "%s: piece %d element %d: expected %d, got %d", what, p, i, expected,
                  pieces[p][i]);
        }
}

static void bottom(void) {
    begin_phase("MPI_BOTTOM");
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    int *send_pieces[PIECES], *recv_pieces[PIECES];
    for (int p = 0; p < PIECES; p++) {
        send_pieces[p] = xmalloc(sizeof(int) * piece_lengths[p]);
        recv_pieces[p] = xmalloc(sizeof(int) * piece_lengths[p]);
    }
    int contiguous[PIECE_TOTAL];
    MPI_Datatype send_type = absolute_type(send_pieces), recv_type = absolute_type(recv_pieces);
    MPI_Status status;
    MPI_Request requests[2];

    for (int variant = 0; variant < 4; variant++) {
        uint32_t send_key = message_key(world_rank, right, 5, variant), recv_key = message_key(left, world_rank, 5, variant);
        int k = 0;
        for (int p = 0; p < PIECES; p++)
            for (int i = 0; i < piece_lengths[p]; i++, k++) {
                send_pieces[p][i] = pattern_int(send_key, k);
                recv_pieces[p][i] = -1;
                contiguous[k] = variant == 1 ? pattern_int(send_key, k) : -1;
            }
        const int tag = 20 + variant;
        switch (variant) {
        case 0: /* MPI_Send from MPI_BOTTOM, contiguous receive */
            snprintf(context, sizeof context, "MPI_Send(MPI_BOTTOM, hindexed) to MPI_Recv(contiguous MPI_INT)");
            MPI_OK(MPI_Irecv(contiguous, PIECE_TOTAL, MPI_INT, left, tag, MPI_COMM_WORLD, &requests[0]));
            MPI_OK(MPI_Send(MPI_BOTTOM, 1, send_type, right, tag, MPI_COMM_WORLD));
            MPI_OK(MPI_Wait(&requests[0], &status));
            check_status(&status, left, tag, MPI_INT, PIECE_TOTAL, "status");
            for (int i = 0; i < PIECE_TOTAL; i++)
                CHECK(contiguous[i] == pattern_int(recv_key, i), "[%s] element %d: expected %d, got %d", context, i,
                      pattern_int(recv_key, i), contiguous[i]);
            break;
        case 1: /* contiguous send, MPI_Recv into MPI_BOTTOM */
            snprintf(context, sizeof context, "MPI_Isend(contiguous MPI_INT) to MPI_Recv(MPI_BOTTOM, hindexed)");
            MPI_OK(MPI_Isend(contiguous, PIECE_TOTAL, MPI_INT, right, tag, MPI_COMM_WORLD, &requests[1]));
            MPI_OK(MPI_Recv(MPI_BOTTOM, 1, recv_type, left, tag, MPI_COMM_WORLD, &status));
            MPI_OK(MPI_Wait(&requests[1], MPI_STATUS_IGNORE));
            check_status_of(&status, left, tag, recv_type, 1, PIECE_TOTAL, "status");
            check_pieces(recv_pieces, recv_key, context);
            break;
        case 2: /* MPI_Isend and MPI_Irecv, both at MPI_BOTTOM */
            snprintf(context, sizeof context, "MPI_Isend(MPI_BOTTOM) to MPI_Irecv(MPI_BOTTOM)");
            MPI_OK(MPI_Irecv(MPI_BOTTOM, 1, recv_type, left, tag, MPI_COMM_WORLD, &requests[0]));
            MPI_OK(MPI_Isend(MPI_BOTTOM, 1, send_type, right, tag, MPI_COMM_WORLD, &requests[1]));
            MPI_Status statuses[2];
            MPI_OK(MPI_Waitall(2, requests, statuses));
            check_status_of(&statuses[0], left, tag, recv_type, 1, PIECE_TOTAL, "status");
            check_pieces(recv_pieces, recv_key, context);
            break;
        case 3: /* MPI_Sendrecv with both buffers at MPI_BOTTOM */
            snprintf(context, sizeof context, "MPI_Sendrecv(MPI_BOTTOM, MPI_BOTTOM)");
            MPI_OK(MPI_Sendrecv(MPI_BOTTOM, 1, send_type, right, tag, MPI_BOTTOM, 1, recv_type, left, tag,
                                MPI_COMM_WORLD, &status));
            check_status(&status, left, tag, MPI_INT, PIECE_TOTAL, "status");
            check_pieces(recv_pieces, recv_key, context);
            break;
        }
        check_pieces(send_pieces, send_key, "send pieces after the send (must be unchanged)");
    }
    MPI_OK(MPI_Type_free(&send_type));
    MPI_OK(MPI_Type_free(&recv_type));
    for (int p = 0; p < PIECES; p++) {
        free(send_pieces[p]);
        free(recv_pieces[p]);
    }
    test_phase_done("MPI_BOTTOM");
}

/* ---- 4. MPI_PROC_NULL ---- */

static void proc_null(void) {
    begin_phase("MPI_PROC_NULL");
    int buffer[16], untouched[16];
    for (int i = 0; i < 16; i++) buffer[i] = untouched[i] = pattern_int(77, i);
    MPI_Status status, statuses[3];
    MPI_Request requests[3];

    snprintf(context, sizeof context, "blocking calls to and from MPI_PROC_NULL");
    MPI_OK(MPI_Send(buffer, 16, MPI_INT, MPI_PROC_NULL, 1, MPI_COMM_WORLD));
    MPI_OK(MPI_Ssend(buffer, 16, MPI_INT, MPI_PROC_NULL, 1, MPI_COMM_WORLD));
    MPI_OK(MPI_Rsend(buffer, 16, MPI_INT, MPI_PROC_NULL, 1, MPI_COMM_WORLD));
    memset(&status, 0x5a, sizeof status);
    MPI_OK(MPI_Recv(buffer, 16, MPI_INT, MPI_PROC_NULL, 1, MPI_COMM_WORLD, &status));
    check_null_status(&status, MPI_INT, "MPI_Recv from MPI_PROC_NULL");
    CHECK_INTS(buffer, untouched, 16, "buffer after MPI_Recv from MPI_PROC_NULL");
    memset(&status, 0x5a, sizeof status);
    MPI_OK(MPI_Recv(buffer, 16, MPI_INT, MPI_PROC_NULL, MPI_ANY_TAG, MPI_COMM_WORLD, &status));
    check_null_status(&status, MPI_INT, "MPI_Recv(MPI_ANY_TAG) from MPI_PROC_NULL");

    snprintf(context, sizeof context, "nonblocking calls to and from MPI_PROC_NULL");
    MPI_OK(MPI_Irecv(buffer, 16, MPI_INT, MPI_PROC_NULL, 2, MPI_COMM_WORLD, &requests[0]));
    MPI_OK(MPI_Isend(buffer, 16, MPI_INT, MPI_PROC_NULL, 2, MPI_COMM_WORLD, &requests[1]));
    MPI_OK(MPI_Issend(buffer, 16, MPI_INT, MPI_PROC_NULL, 2, MPI_COMM_WORLD, &requests[2]));
    memset(statuses, 0x5a, sizeof statuses);
    MPI_OK(MPI_Waitall(3, requests, statuses));
    check_nonblocking_null_status(&statuses[0], MPI_INT, "MPI_Irecv from MPI_PROC_NULL");
    CHECK_INTS(buffer, untouched, 16, "buffer after MPI_Irecv from MPI_PROC_NULL");
    MPI_OK(MPI_Irsend(buffer, 16, MPI_INT, MPI_PROC_NULL, 2, MPI_COMM_WORLD, &requests[0]));
    MPI_OK(MPI_Irecv(buffer, 16, MPI_INT, MPI_PROC_NULL, MPI_ANY_TAG, MPI_COMM_WORLD, &requests[1]));
    int flag = 0;
    for (int spin = 0; spin < 1000000 && !flag; spin++) MPI_OK(MPI_Test(&requests[1], &flag, &status));
    CHECK(flag, "MPI_Test never completed an MPI_Irecv from MPI_PROC_NULL");
    check_nonblocking_null_status(&status, MPI_INT, "MPI_Irecv from MPI_PROC_NULL, completed by MPI_Test");
    MPI_OK(MPI_Wait(&requests[0], MPI_STATUS_IGNORE));

    snprintf(context, sizeof context, "MPI_Sendrecv with MPI_PROC_NULL");
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    int one = pattern_int(message_key(world_rank, right, 6, 0), 0), got = -1;
    /* Send to the right, receive from MPI_PROC_NULL; then send to MPI_PROC_NULL, receive from the left. */
    memset(&status, 0x5a, sizeof status);
    MPI_OK(MPI_Sendrecv(&one, 1, MPI_INT, right, 30, buffer, 16, MPI_INT, MPI_PROC_NULL, 30, MPI_COMM_WORLD, &status));
    check_null_status(&status, MPI_INT, "MPI_Sendrecv receiving from MPI_PROC_NULL");
    CHECK_INTS(buffer, untouched, 16, "buffer after MPI_Sendrecv from MPI_PROC_NULL");
    MPI_OK(MPI_Sendrecv(buffer, 16, MPI_INT, MPI_PROC_NULL, 30, &got, 1, MPI_INT, left, 30, MPI_COMM_WORLD, &status));
    check_status(&status, left, 30, MPI_INT, 1, "MPI_Sendrecv sending to MPI_PROC_NULL");
    CHECK_EQ_LL(got, pattern_int(message_key(left, world_rank, 6, 0), 0), "value from the left neighbour");
    MPI_OK(MPI_Sendrecv_replace(buffer, 16, MPI_INT, MPI_PROC_NULL, 31, MPI_PROC_NULL, 31, MPI_COMM_WORLD, &status));
    check_null_status(&status, MPI_INT, "MPI_Sendrecv_replace with MPI_PROC_NULL");
    CHECK_INTS(buffer, untouched, 16, "buffer after MPI_Sendrecv_replace with MPI_PROC_NULL");
    test_phase_done("MPI_PROC_NULL");
}

/* ---- 5. MPI-4 large-count calls ---- */

static void large_count(void) {
    begin_phase("large-count calls");
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    enum { N = 300000 }; /* 1.2 MB of ints */
    int *out = xmalloc(sizeof(int) * N), *in = xmalloc(sizeof(int) * (N + 16));
    MPI_Status status;
    MPI_Request requests[2];
    MPI_Count count = -2;

    for (int variant = 0; variant < 3; variant++) {
        const MPI_Count n = variant == 2 ? 0 : variant == 1 ? 1000 : N;
        uint32_t send_key = message_key(world_rank, right, 7, variant), recv_key = message_key(left, world_rank, 7, variant);
        for (MPI_Count i = 0; i < n; i++) out[i] = pattern_int(send_key, (size_t)i);
        for (int i = 0; i < N + 16; i++) in[i] = -1;
        int *send = n ? out : NULL, *recv = n ? in : NULL;
        const int tag = 40 + variant;

        snprintf(context, sizeof context, "MPI_Send_c/MPI_Recv_c of %lld MPI_INT", (long long)n);
        /* Even ranks send first, odd ones receive first: no cycle of blocked sends, at any rank count. */
        if (world_size == 1) {
            MPI_OK(MPI_Isend_c(send, n, MPI_INT, right, tag, MPI_COMM_WORLD, &requests[1]));
            MPI_OK(MPI_Recv_c(recv, n, MPI_INT, left, tag, MPI_COMM_WORLD, &status));
            MPI_OK(MPI_Wait(&requests[1], MPI_STATUS_IGNORE));
        } else if (world_rank % 2 == 0) {
            MPI_OK(MPI_Send_c(send, n, MPI_INT, right, tag, MPI_COMM_WORLD));
            MPI_OK(MPI_Recv_c(recv, n, MPI_INT, left, tag, MPI_COMM_WORLD, &status));
        } else {
            MPI_OK(MPI_Recv_c(recv, n, MPI_INT, left, tag, MPI_COMM_WORLD, &status));
            MPI_OK(MPI_Send_c(send, n, MPI_INT, right, tag, MPI_COMM_WORLD));
        }
        MPI_OK(MPI_Get_count_c(&status, MPI_INT, &count));
        CHECK(count == n, "[%s] MPI_Get_count_c: expected %lld, got %lld", context, (long long)n, (long long)count);
        MPI_OK(MPI_Get_elements_c(&status, MPI_INT, &count));
        CHECK(count == n, "[%s] MPI_Get_elements_c: expected %lld, got %lld", context, (long long)n, (long long)count);
        CHECK(status.MPI_SOURCE == left && status.MPI_TAG == tag, "[%s] status source %d tag %d", context,
              status.MPI_SOURCE, status.MPI_TAG);
        for (MPI_Count i = 0; i < n; i++)
            if (in[i] != pattern_int(recv_key, (size_t)i))
                FAIL_IN("[%s] element %lld: expected %d, got %d", context, (long long)i, pattern_int(recv_key, (size_t)i),
                        in[i]);
        for (int i = (int)n; i < (int)n + 16; i++) CHECK(in[i] == -1, "[%s] element %d past the message overwritten", context, i);

        snprintf(context, sizeof context, "MPI_Isend_c/MPI_Irecv_c of %lld MPI_INT", (long long)n);
        for (int i = 0; i < N + 16; i++) in[i] = -1;
        MPI_OK(MPI_Irecv_c(recv, n, MPI_INT, left, tag + 10, MPI_COMM_WORLD, &requests[0]));
        MPI_OK(MPI_Isend_c(send, n, MPI_INT, right, tag + 10, MPI_COMM_WORLD, &requests[1]));
        MPI_Status statuses[2];
        MPI_OK(MPI_Waitall(2, requests, statuses));
        MPI_OK(MPI_Get_count_c(&statuses[0], MPI_INT, &count));
        CHECK(count == n, "[%s] MPI_Get_count_c: expected %lld, got %lld", context, (long long)n, (long long)count);
        CHECK(statuses[0].MPI_SOURCE == left && statuses[0].MPI_TAG == tag + 10, "[%s] status source %d tag %d",
              context, statuses[0].MPI_SOURCE, statuses[0].MPI_TAG);
        for (MPI_Count i = 0; i < n; i++)
            if (in[i] != pattern_int(recv_key, (size_t)i))
                FAIL_IN("[%s] element %lld: expected %d, got %d", context, (long long)i, pattern_int(recv_key, (size_t)i),
                        in[i]);
    }
    /* MPI_Get_count_c of a status an int-count call set. */
    snprintf(context, sizeof context, "MPI_Get_count_c of 6 MPI_BYTE");
    unsigned char six[6] = {1, 2, 3, 4, 5, 6}, got6[8];
    MPI_OK(MPI_Sendrecv(six, 6, MPI_BYTE, right, 60, got6, 8, MPI_BYTE, left, 60, MPI_COMM_WORLD, &status));
    MPI_OK(MPI_Get_count_c(&status, MPI_BYTE, &count));
    CHECK(count == 6, "[%s] MPI_Get_count_c(MPI_BYTE): expected 6, got %lld", context, (long long)count);
    free(out);
    free(in);
    test_phase_done("large-count calls");
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "p2p_basic");
    start_watchdog();
    every_pair();
    derived_types();
    bottom();
    proc_null();
    large_count();
    finish();
    return 0;
}
