/*
 * MPI's matching rules for point-to-point messages.
 *   1. MPI_ANY_SOURCE and MPI_ANY_TAG: every rank sends every other one a message, received with
 *      both wildcards, with a specific source and MPI_ANY_TAG, and with MPI_ANY_SOURCE and a
 *      specific tag; the status (source, tag, count) must name the message the bytes came from.
 *   2. Non-overtaking: each rank sends its right neighbour 200 messages of mixed tags and sizes
 *      (8 B .. 200 KB) with MPI_Isend; the neighbour receives them tag by tag (highest tag first),
 *      then with MPI_ANY_TAG (exactly the send order), then round-robin over the tags; each message
 *      must be the next one of its (sender, tag) in send order. Then every rank sends two roots 30
 *      messages each, which they receive with MPI_ANY_SOURCE and specific tags.
 *   3. Many receives posted before the sends: 64 MPI_Irecv with specific tags (messages sent in
 *      another order across tags), MPI_ANY_SOURCE receives at a root, and MPI_ANY_SOURCE +
 *      MPI_ANY_TAG receives on a duplicate communicator, all posted before a barrier, then checked.
 *   4. MPI_Probe and MPI_Iprobe: the status gives the count before the receive.
 *   5. MPI_Mprobe / MPI_Improbe with MPI_Mrecv / MPI_Imrecv, received out of probe order, and
 *      MPI_MESSAGE_NO_PROC from MPI_PROC_NULL.
 *   6. Truncation: a message longer than the receive buffer gives MPI_ERR_TRUNCATE (error class)
 *      on a communicator with MPI_ERRORS_RETURN, for MPI_Recv and MPI_Irecv + MPI_Wait, eager and
 *      long messages; later messages still arrive intact.
 *   7. MPI_Cancel of a receive that can never match (MPI_Test_cancelled true); MPI_Request_free of
 *      an MPI_Isend that completes later (the receiver still gets the bytes).
 *   8. MPI_Issend cannot complete before the matching receive starts: the receiver posts it only
 *      after an MPI_Barrier, and MPI_Test on the sender says "not complete" before that barrier.
 * Each rank prints "p2p_matching ok rank=R", rank 0 then "PASS p2p_matching".
 */
#include "common.h"
#include <signal.h>
#include <unistd.h>

#include "p2p_common.h"


/* Polls for at most this long before failing. */
static const double POLL_SECONDS = 30.0;

/* A message of a sequence: bytes 0..3 its number, 4..7 its tag and sender, the rest the pattern. */
static void fill_message(unsigned char *buffer, size_t size, int sender, int receiver, int number, int tag, int pass) {
    fill_bytes(buffer, size, message_key(sender, receiver, number, pass));
    int header[2] = {number, tag ^ (sender << 16)};
    memcpy(buffer, header, size < sizeof header ? size : sizeof header);
}

/* The received `buffer` (`size` bytes by its status) must be message `number` of `sender`. */
static void check_message(const unsigned char *buffer, const MPI_Status *status, size_t size, int sender,
                          int receiver, int number, int tag, int pass, const char *what) {
    if (status->MPI_SOURCE != sender)
        FAIL_IN("%s [%s]: status.MPI_SOURCE: expected %d, got %d", what, context, sender, status->MPI_SOURCE);
    if (status->MPI_TAG != tag)
        FAIL_IN("%s [%s]: status.MPI_TAG: expected %d, got %d", what, context, tag, status->MPI_TAG);
    int count = -2;
    MPI_OK(MPI_Get_count(status, MPI_BYTE, &count));
    int header[2];
    memcpy(header, buffer, sizeof header);
    if (count >= 8 && (header[0] != number || header[1] != (tag ^ (sender << 16))))
        FAIL_IN("%s [%s]: expected message #%d (tag %d) from rank %d, got the bytes of message #%d (tag %d) "
                "from rank %d",
                what, context, number, tag, sender, header[0], header[1] & 0xffff, header[1] >> 16);
    if ((size_t)count != size)
        FAIL_IN("%s [%s]: MPI_Get_count: expected %zu bytes, got %d", what, context, size, count);
    for (size_t i = 8; i < size; i++) {
        unsigned char expected = pattern_byte(message_key(sender, receiver, number, pass), i);
        if (buffer[i] != expected)
            FAIL_IN("%s [%s]: message #%d: byte %zu of %zu: expected 0x%02x, got 0x%02x", what, context, number, i,
                    size, expected, buffer[i]);
    }
}

/* ---- 1. MPI_ANY_SOURCE and MPI_ANY_TAG ---- */

static void wildcards(void) {
    begin_phase("MPI_ANY_SOURCE / MPI_ANY_TAG");
    const int others = world_size - 1;
    MPI_Request *sends = xmalloc(sizeof(MPI_Request) * (size_t)world_size);
    MPI_Status *statuses = xmalloc(sizeof(MPI_Status) * (size_t)world_size);
    unsigned char *out = xmalloc(64 * (size_t)world_size), in[64];
    int *seen = xmalloc(sizeof(int) * (size_t)world_size);
    /* The message from s has 8 + 4 * s bytes (a count that names the sender). */
    for (int variant = 0; variant < 3; variant++) {
        const int base = 100 * (variant + 1);
        int n = 0;
        for (int to = 0; to < world_size; to++) {
            if (to == world_rank) continue;
            fill_message(out + 64 * to, 8 + 4 * (world_rank % 12), world_rank, to, variant, base + world_rank, 1);
            MPI_OK(MPI_Isend(out + 64 * to, 8 + 4 * (world_rank % 12), MPI_BYTE, to, base + world_rank, MPI_COMM_WORLD,
                             &sends[n++]));
        }
        for (int s = 0; s < world_size; s++) seen[s] = 0;
        for (int i = 0; i < others; i++) {
            MPI_Status status;
            memset(in, 0, sizeof in);
            int source = MPI_ANY_SOURCE, tag = MPI_ANY_TAG;
            if (variant == 1) { /* a specific source (highest first), any tag */
                source = world_size - 1 - i;
                if (source <= world_rank) source--;
            } else if (variant == 2) { /* any source, a specific tag (lowest sender first) */
                int s = i < world_rank ? i : i + 1;
                tag = base + s;
            }
            snprintf(context, sizeof context, "MPI_Recv(source %d, tag %d), receive %d of %d", source, tag, i, others);
            MPI_OK(MPI_Recv(in, sizeof in, MPI_BYTE, source, tag, MPI_COMM_WORLD, &status));
            const int from = status.MPI_SOURCE;
            CHECK(from >= 0 && from < world_size && from != world_rank, "[%s] status.MPI_SOURCE %d is not another rank",
                  context, from);
            CHECK(!seen[from], "[%s] a second message from rank %d", context, from);
            seen[from] = 1;
            if (variant == 1) CHECK_EQ_LL(from, source, "status.MPI_SOURCE of a receive from a specific source");
            check_message(in, &status, 8 + 4 * (from % 12), from, world_rank, variant, base + from, 1,
                          "message received with wildcards");
        }
        MPI_OK(MPI_Waitall(n, sends, statuses));
        /* Every message of this variant is received before the next is sent. */
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    }
    free(sends);
    free(statuses);
    free(out);
    free(seen);
    test_phase_done("wildcards");
}

/* ---- 2. non-overtaking ---- */

enum { SEQUENCE = 200, TAGS = 5, MAX_MESSAGE = 200000 };

static int sequence_tag(int k) { return (k * 7 + k / 13) % TAGS; }
static size_t sequence_size(int k) {
    static const size_t small[] = {8, 16, 100, 1000, 4000, 12000};
    if (k % 25 == 7) return MAX_MESSAGE;
    if (k % 25 == 19) return 65536 + 123;
    return small[k % 6];
}

/* One pass: every rank MPI_Isends the sequence (tags + `tag_base`) to its right neighbour and
 * receives the left one's in the order `order` gives: 0 tag by tag (highest tag first), 1 with
 * MPI_ANY_TAG, 2 round-robin over the tags. */
static void sequence_pass(int order, int tag_base) {
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    size_t offsets[SEQUENCE + 1];
    offsets[0] = 0;
    for (int k = 0; k < SEQUENCE; k++) offsets[k + 1] = offsets[k] + sequence_size(k);
    unsigned char *out = xmalloc(offsets[SEQUENCE]), *in = xmalloc(MAX_MESSAGE);
    MPI_Request *sends = xmalloc(sizeof(MPI_Request) * SEQUENCE);
    MPI_Status *statuses = xmalloc(sizeof(MPI_Status) * SEQUENCE);
    const int pass = 10 + order;
    for (int k = 0; k < SEQUENCE; k++) {
        fill_message(out + offsets[k], sequence_size(k), world_rank, right, k, tag_base + sequence_tag(k), pass);
        MPI_OK(MPI_Isend(out + offsets[k], (int)sequence_size(k), MPI_BYTE, right, tag_base + sequence_tag(k),
                         MPI_COMM_WORLD, &sends[k]));
    }
    /* The receive order: next[t] is the next message of tag t not yet received. */
    int next[TAGS];
    for (int t = 0; t < TAGS; t++) {
        next[t] = 0;
        while (next[t] < SEQUENCE && sequence_tag(next[t]) != t) next[t]++;
    }
    static const char *orders[3] = {"tag by tag, highest first", "MPI_ANY_TAG", "round-robin over the tags"};
    int received = 0, t = TAGS - 1, k_any = 0;
    while (received < SEQUENCE) {
        int k, tag;
        if (order == 0) {
            while (next[t] >= SEQUENCE) t--;
            k = next[t];
            tag = tag_base + t;
        } else if (order == 1) {
            k = k_any++;
            tag = MPI_ANY_TAG;
        } else {
            t = (t + 1) % TAGS;
            if (next[t] >= SEQUENCE) continue;
            k = next[t];
            tag = tag_base + t;
        }
        snprintf(context, sizeof context, "non-overtaking, %s: receive %d (expecting message #%d, tag %d)", orders[order],
                 received, k, tag_base + sequence_tag(k));
        MPI_Status status;
        MPI_OK(MPI_Recv(in, MAX_MESSAGE, MPI_BYTE, left, tag, MPI_COMM_WORLD, &status));
        check_message(in, &status, sequence_size(k), left, world_rank, k, tag_base + sequence_tag(k), pass,
                      "message of the sequence");
        const int kt = sequence_tag(k);
        do next[kt]++;
        while (next[kt] < SEQUENCE && sequence_tag(next[kt]) != kt);
        received++;
    }
    snprintf(context, sizeof context, "non-overtaking, %s: MPI_Waitall of the sends", orders[order]);
    MPI_OK(MPI_Waitall(SEQUENCE, sends, statuses));
    free(out);
    free(in);
    free(sends);
    free(statuses);
}

/* Every rank sends 30 messages to each of two roots (0 and the last rank), tags 60 + k % 3; the
 * roots receive tag 62's, then 61's, then 60's with MPI_ANY_SOURCE: per sender, in send order. */
static void many_to_root(void) {
    enum { EACH = 30, ROOT_TAGS = 3 };
    const int roots[2] = {0, world_size - 1};
    unsigned char *out = xmalloc((size_t)2 * EACH * 70000), *in = xmalloc(70000);
    MPI_Request sends[2 * EACH];
    MPI_Status statuses[2 * EACH];
    int n = 0;
    for (int r = 0; r < 2; r++) {
        const int root = roots[r];
        if (root == world_rank || (r == 1 && roots[1] == roots[0])) continue;
        for (int k = 0; k < EACH; k++) {
            size_t size = k % 10 == 3 ? 65536 + 8 : 8 + 40 * (size_t)k;
            unsigned char *slot = out + (size_t)(r * EACH + k) * 70000;
            fill_message(slot, size, world_rank, root, k, 60 + k % ROOT_TAGS, 20);
            MPI_OK(MPI_Isend(slot, (int)size, MPI_BYTE, root, 60 + k % ROOT_TAGS, MPI_COMM_WORLD, &sends[n++]));
        }
    }
    if (world_rank == roots[0] || world_rank == roots[1]) {
        int *next = xmalloc(sizeof(int) * (size_t)world_size * ROOT_TAGS);
        for (int i = 0; i < world_size * ROOT_TAGS; i++) next[i] = i % ROOT_TAGS;
        for (int t = ROOT_TAGS - 1; t >= 0; t--) {
            for (int i = 0; i < (world_size - 1) * (EACH / ROOT_TAGS); i++) {
                snprintf(context, sizeof context, "root %d: MPI_Recv(MPI_ANY_SOURCE, tag %d), receive %d", world_rank,
                         60 + t, i);
                MPI_Status status;
                MPI_OK(MPI_Recv(in, 70000, MPI_BYTE, MPI_ANY_SOURCE, 60 + t, MPI_COMM_WORLD, &status));
                const int from = status.MPI_SOURCE;
                CHECK(from >= 0 && from < world_size && from != world_rank, "[%s] status.MPI_SOURCE %d", context, from);
                int *expected = &next[from * ROOT_TAGS + t];
                CHECK(*expected < EACH, "[%s] more than %d messages of tag %d from rank %d", context,
                      EACH / ROOT_TAGS, 60 + t, from);
                const int k = *expected;
                check_message(in, &status, k % 10 == 3 ? 65536 + 8 : 8 + 40 * (size_t)k, from, world_rank, k, 60 + t,
                              20, "message to a root, in (sender, tag) order");
                *expected += ROOT_TAGS;
            }
        }
        for (int s = 0; s < world_size; s++)
            for (int t = 0; t < ROOT_TAGS && s != world_rank; t++)
                CHECK(next[s * ROOT_TAGS + t] >= EACH, "root %d: messages of tag %d from rank %d missing", world_rank,
                      60 + t, s);
        free(next);
    }
    MPI_OK(MPI_Waitall(n, sends, statuses));
    free(out);
    free(in);
}

static void non_overtaking(void) {
    begin_phase("non-overtaking");
    sequence_pass(0, 0);
    sequence_pass(1, 10);
    sequence_pass(2, 20);
    many_to_root();
    test_phase_done("non-overtaking");
}

/* ---- 3. many receives posted before the sends ---- */

enum { POSTED = 64, POSTED_TAGS = 7, ROOT_EACH = 4 };

static size_t posted_size(int m) { return m % 8 == 5 ? 100000 + (size_t)m : 8 + 24 * (size_t)m; }

static void posted_first(void) {
    begin_phase("receives posted before the sends");
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    const int root = 0, others = world_size - 1;
    MPI_Comm dup;
    MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &dup));
    unsigned char *in[POSTED];
    MPI_Request receives[POSTED];
    MPI_Status statuses[POSTED];
    for (int j = 0; j < POSTED; j++) {
        in[j] = xmalloc(posted_size(j));
        MPI_OK(MPI_Irecv(in[j], (int)posted_size(j), MPI_BYTE, left, 40 + j % POSTED_TAGS, MPI_COMM_WORLD,
                         &receives[j]));
    }
    /* At the root: MPI_ANY_SOURCE receives of tag 77 on MPI_COMM_WORLD, and receives with both
     * wildcards on the duplicate (MPI_COMM_WORLD's messages must not match them). */
    const int root_posted = world_rank == root ? ROOT_EACH * others : 0;
    unsigned char *root_in = xmalloc((size_t)2 * ROOT_EACH * (size_t)world_size * 64);
    MPI_Request *root_receives = xmalloc(sizeof(MPI_Request) * (size_t)(2 * ROOT_EACH * world_size));
    MPI_Status *root_statuses = xmalloc(sizeof(MPI_Status) * (size_t)(2 * ROOT_EACH * world_size));
    for (int i = 0; i < 2 * root_posted; i++)
        MPI_OK(MPI_Irecv(root_in + 64 * i, 64, MPI_BYTE, MPI_ANY_SOURCE, i < root_posted ? 77 : MPI_ANY_TAG,
                         i < root_posted ? MPI_COMM_WORLD : dup, &root_receives[i]));
    snprintf(context, sizeof context, "MPI_Barrier after posting the receives");
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    /* The sends: tag by tag, highest first (per tag in order), so message j lands in receive j. */
    unsigned char *out = xmalloc(100100);
    for (int t = POSTED_TAGS - 1; t >= 0; t--)
        for (int m = t; m < POSTED; m += POSTED_TAGS) {
            snprintf(context, sizeof context, "MPI_Send of message #%d (tag %d) to a posted receive", m, 40 + t);
            fill_message(out, posted_size(m), world_rank, right, m, 40 + t, 30);
            MPI_OK(MPI_Send(out, (int)posted_size(m), MPI_BYTE, right, 40 + t, MPI_COMM_WORLD));
        }
    if (world_rank != root) {
        for (int k = 0; k < ROOT_EACH; k++) {
            snprintf(context, sizeof context, "MPI_Send of message #%d to the root's posted receives", k);
            fill_message(out, 8 + 4 * (size_t)k, world_rank, root, k, 77, 31);
            MPI_OK(MPI_Send(out, 8 + 4 * k, MPI_BYTE, root, 77, MPI_COMM_WORLD));
            fill_message(out, 12 + 4 * (size_t)k, world_rank, root, k, 78 + k, 32);
            MPI_OK(MPI_Send(out, 12 + 4 * k, MPI_BYTE, root, 78 + k, dup));
        }
    }
    snprintf(context, sizeof context, "MPI_Waitall of the %d posted receives", POSTED);
    MPI_OK(MPI_Waitall(POSTED, receives, statuses));
    for (int j = 0; j < POSTED; j++) {
        snprintf(context, sizeof context, "posted receive #%d (tag %d)", j, 40 + j % POSTED_TAGS);
        check_message(in[j], &statuses[j], posted_size(j), left, world_rank, j, 40 + j % POSTED_TAGS, 30,
                      "message in a receive posted before the send");
        free(in[j]);
    }
    if (world_rank == root) {
        snprintf(context, sizeof context, "the root's MPI_ANY_SOURCE receives");
        MPI_OK(MPI_Waitall(2 * root_posted, root_receives, root_statuses));
        int *next_world = xmalloc(sizeof(int) * (size_t)world_size), *next_dup = xmalloc(sizeof(int) * (size_t)world_size);
        for (int s = 0; s < world_size; s++) next_world[s] = next_dup[s] = 0;
        for (int i = 0; i < 2 * root_posted; i++) {
            const int on_world = i < root_posted;
            const int from = root_statuses[i].MPI_SOURCE;
            snprintf(context, sizeof context, "root: posted receive %d (MPI_ANY_SOURCE, %s) on %s", i,
                     on_world ? "tag 77" : "MPI_ANY_TAG", on_world ? "MPI_COMM_WORLD" : "the duplicate");
            CHECK(from > 0 && from < world_size, "[%s] status.MPI_SOURCE %d", context, from);
            int *next = on_world ? next_world : next_dup;
            const int k = next[from]++;
            CHECK(k < ROOT_EACH, "[%s] more than %d messages from rank %d", context, ROOT_EACH, from);
            if (on_world)
                check_message(root_in + 64 * i, &root_statuses[i], 8 + 4 * (size_t)k, from, root, k, 77, 31,
                              "message to an MPI_ANY_SOURCE receive, in per-sender order");
            else
                check_message(root_in + 64 * i, &root_statuses[i], 12 + 4 * (size_t)k, from, root, k, 78 + k, 32,
                              "message on the duplicate to an MPI_ANY_TAG receive, in per-sender order");
        }
        free(next_world);
        free(next_dup);
    }
    free(out);
    free(root_in);
    free(root_receives);
    free(root_statuses);
    MPI_OK(MPI_Comm_free(&dup));
    test_phase_done("posted receives");
}

/* ---- 4. MPI_Probe and MPI_Iprobe ---- */

static void probes(void) {
    begin_phase("MPI_Probe / MPI_Iprobe");
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    const size_t sizes[3] = {1000 + 37 * (size_t)world_rank, 300000 + (size_t)world_rank, 65536 + 3};
    const size_t left_sizes[3] = {1000 + 37 * (size_t)left, 300000 + (size_t)left, 65536 + 3};
    unsigned char *out[3], *in;
    MPI_Request sends[3];
    MPI_Status statuses[3], status;
    int flag = 1, count = -1;

    /* Nobody sends tag 9999: MPI_Iprobe says so. */
    snprintf(context, sizeof context, "MPI_Iprobe of a tag nobody sends");
    MPI_OK(MPI_Iprobe(left, 9999, MPI_COMM_WORLD, &flag, &status));
    CHECK(!flag, "[%s] flag set", context);
    MPI_OK(MPI_Iprobe(MPI_ANY_SOURCE, 9999, MPI_COMM_WORLD, &flag, &status));
    CHECK(!flag, "[%s] flag set (MPI_ANY_SOURCE)", context);

    for (int i = 0; i < 2; i++) {
        out[i] = xmalloc(sizes[i]);
        fill_message(out[i], sizes[i], world_rank, right, i, 500 + i, 40);
        MPI_OK(MPI_Isend(out[i], (int)sizes[i], MPI_BYTE, right, 500 + i, MPI_COMM_WORLD, &sends[i]));
    }
    /* The second message first: MPI_Probe for its tag. */
    snprintf(context, sizeof context, "MPI_Probe(left, 501)");
    MPI_OK(MPI_Probe(left, 501, MPI_COMM_WORLD, &status));
    MPI_OK(MPI_Get_count(&status, MPI_BYTE, &count));
    CHECK(status.MPI_SOURCE == left && status.MPI_TAG == 501 && (size_t)count == left_sizes[1],
          "[%s] status source %d tag %d count %d, expected %d, 501, %zu", context, status.MPI_SOURCE, status.MPI_TAG,
          count, left, left_sizes[1]);
    /* A second probe sees the same message. */
    MPI_OK(MPI_Probe(left, 501, MPI_COMM_WORLD, &status));
    MPI_OK(MPI_Get_count(&status, MPI_BYTE, &count));
    CHECK_EQ_LL(count, left_sizes[1], "MPI_Get_count of a second MPI_Probe of the same message");
    in = xmalloc((size_t)count);
    MPI_OK(MPI_Recv(in, count, MPI_BYTE, left, 501, MPI_COMM_WORLD, &status));
    check_message(in, &status, left_sizes[1], left, world_rank, 1, 501, 40, "message received after MPI_Probe");
    free(in);

    /* Both wildcards: the only message pending for this rank is the left neighbour's tag 500. */
    snprintf(context, sizeof context, "MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG)");
    MPI_OK(MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &status));
    MPI_OK(MPI_Get_count(&status, MPI_BYTE, &count));
    CHECK(status.MPI_SOURCE == left && status.MPI_TAG == 500 && (size_t)count == left_sizes[0],
          "[%s] status source %d tag %d count %d, expected %d, 500, %zu", context, status.MPI_SOURCE, status.MPI_TAG,
          count, left, left_sizes[0]);
    in = xmalloc((size_t)count);
    MPI_OK(MPI_Recv(in, count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD, &status));
    check_message(in, &status, left_sizes[0], left, world_rank, 0, 500, 40, "message received after MPI_Probe");
    free(in);

    /* MPI_Iprobe in a bounded loop. */
    out[2] = xmalloc(sizes[2]);
    fill_message(out[2], sizes[2], world_rank, right, 2, 502, 40);
    MPI_OK(MPI_Isend(out[2], (int)sizes[2], MPI_BYTE, right, 502, MPI_COMM_WORLD, &sends[2]));
    snprintf(context, sizeof context, "MPI_Iprobe(MPI_ANY_SOURCE, 502) loop");
    const double deadline = MPI_Wtime() + POLL_SECONDS;
    flag = 0;
    while (!flag) {
        MPI_OK(MPI_Iprobe(MPI_ANY_SOURCE, 502, MPI_COMM_WORLD, &flag, &status));
        CHECK(flag || MPI_Wtime() < deadline, "[%s] no message after %.0f s", context, POLL_SECONDS);
    }
    MPI_OK(MPI_Get_count(&status, MPI_BYTE, &count));
    CHECK(status.MPI_SOURCE == left && status.MPI_TAG == 502 && (size_t)count == left_sizes[2],
          "[%s] status source %d tag %d count %d, expected %d, 502, %zu", context, status.MPI_SOURCE, status.MPI_TAG,
          count, left, left_sizes[2]);
    in = xmalloc((size_t)count);
    MPI_OK(MPI_Recv(in, count, MPI_BYTE, left, 502, MPI_COMM_WORLD, &status));
    check_message(in, &status, left_sizes[2], left, world_rank, 2, 502, 40, "message received after MPI_Iprobe");
    free(in);
    MPI_OK(MPI_Waitall(3, sends, statuses));
    for (int i = 0; i < 3; i++) free(out[i]);
    test_phase_done("probes");
}

/* ---- 5. matched probes ---- */

static void matched_probes(void) {
    begin_phase("MPI_Mprobe / MPI_Improbe");
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    const size_t sizes[3] = {5000, 200000, 12};
    unsigned char *out[3], *in[3];
    MPI_Request sends[3], request;
    MPI_Status statuses[3], status;
    MPI_Message messages[3];
    int count = -1, flag = 0;
    for (int i = 0; i < 3; i++) {
        out[i] = xmalloc(sizes[i]);
        in[i] = xmalloc(sizes[i]);
        fill_message(out[i], sizes[i], world_rank, right, i, i < 2 ? 600 : 601, 50);
        MPI_OK(MPI_Isend(out[i], (int)sizes[i], MPI_BYTE, right, i < 2 ? 600 : 601, MPI_COMM_WORLD, &sends[i]));
    }
    /* Two MPI_Mprobe of one tag: the first message is no longer matchable, so the second sees the second. */
    for (int i = 0; i < 2; i++) {
        snprintf(context, sizeof context, "MPI_Mprobe(left, 600) #%d", i);
        MPI_OK(MPI_Mprobe(left, 600, MPI_COMM_WORLD, &messages[i], &status));
        CHECK(messages[i] != MPI_MESSAGE_NULL && messages[i] != MPI_MESSAGE_NO_PROC, "[%s] no message handle", context);
        MPI_OK(MPI_Get_count(&status, MPI_BYTE, &count));
        CHECK(status.MPI_SOURCE == left && status.MPI_TAG == 600 && (size_t)count == sizes[i],
              "[%s] status source %d tag %d count %d, expected %d, 600, %zu", context, status.MPI_SOURCE,
              status.MPI_TAG, count, left, sizes[i]);
    }
    snprintf(context, sizeof context, "MPI_Improbe(left, 600) with both messages matched");
    MPI_Message none = MPI_MESSAGE_NULL;
    MPI_OK(MPI_Improbe(left, 600, MPI_COMM_WORLD, &flag, &none, &status));
    CHECK(!flag, "[%s] found a third message", context);
    /* Received in the other order: the second with MPI_Mrecv, the first with MPI_Imrecv. */
    snprintf(context, sizeof context, "MPI_Mrecv of the second message");
    MPI_OK(MPI_Mrecv(in[1], (int)sizes[1], MPI_BYTE, &messages[1], &status));
    CHECK(messages[1] == MPI_MESSAGE_NULL, "[%s] the handle is not MPI_MESSAGE_NULL after MPI_Mrecv", context);
    check_message(in[1], &status, sizes[1], left, world_rank, 1, 600, 50, "message received with MPI_Mrecv");
    snprintf(context, sizeof context, "MPI_Imrecv of the first message");
    MPI_OK(MPI_Imrecv(in[0], (int)sizes[0], MPI_BYTE, &messages[0], &request));
    CHECK(messages[0] == MPI_MESSAGE_NULL, "[%s] the handle is not MPI_MESSAGE_NULL after MPI_Imrecv", context);
    MPI_OK(MPI_Wait(&request, &status));
    check_message(in[0], &status, sizes[0], left, world_rank, 0, 600, 50, "message received with MPI_Imrecv");

    snprintf(context, sizeof context, "MPI_Improbe(MPI_ANY_SOURCE, 601) loop");
    const double deadline = MPI_Wtime() + POLL_SECONDS;
    flag = 0;
    while (!flag) {
        MPI_OK(MPI_Improbe(MPI_ANY_SOURCE, 601, MPI_COMM_WORLD, &flag, &messages[2], &status));
        CHECK(flag || MPI_Wtime() < deadline, "[%s] no message after %.0f s", context, POLL_SECONDS);
    }
    MPI_OK(MPI_Get_count(&status, MPI_BYTE, &count));
    CHECK(status.MPI_SOURCE == left && (size_t)count == sizes[2], "[%s] status source %d count %d", context,
          status.MPI_SOURCE, count);
    MPI_OK(MPI_Imrecv(in[2], (int)sizes[2], MPI_BYTE, &messages[2], &request));
    MPI_OK(MPI_Wait(&request, &status));
    check_message(in[2], &status, sizes[2], left, world_rank, 2, 601, 50, "message received with MPI_Imrecv");
    MPI_OK(MPI_Waitall(3, sends, statuses));

    /* MPI_PROC_NULL: MPI_MESSAGE_NO_PROC, and receiving it gives MPI_PROC_NULL's status. */
    int buffer[4] = {1, 2, 3, 4};
    MPI_Message message = MPI_MESSAGE_NULL;
    snprintf(context, sizeof context, "MPI_Mprobe(MPI_PROC_NULL)");
    MPI_OK(MPI_Mprobe(MPI_PROC_NULL, 7, MPI_COMM_WORLD, &message, &status));
    CHECK(message == MPI_MESSAGE_NO_PROC, "[%s] message is not MPI_MESSAGE_NO_PROC", context);
    check_null_status(&status, MPI_INT, "MPI_Mprobe(MPI_PROC_NULL)");
    MPI_OK(MPI_Mrecv(buffer, 4, MPI_INT, &message, &status));
    check_null_status(&status, MPI_INT, "MPI_Mrecv of MPI_MESSAGE_NO_PROC");
    CHECK(message == MPI_MESSAGE_NULL, "[%s] not MPI_MESSAGE_NULL after MPI_Mrecv of MPI_MESSAGE_NO_PROC", context);
    snprintf(context, sizeof context, "MPI_Improbe(MPI_PROC_NULL)");
    flag = 0;
    MPI_OK(MPI_Improbe(MPI_PROC_NULL, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &message, &status));
    CHECK(flag && message == MPI_MESSAGE_NO_PROC, "[%s] flag %d, message is%s MPI_MESSAGE_NO_PROC", context, flag,
          message == MPI_MESSAGE_NO_PROC ? "" : " not");
    check_null_status(&status, MPI_INT, "MPI_Improbe(MPI_PROC_NULL)");
    MPI_OK(MPI_Imrecv(buffer, 4, MPI_INT, &message, &request));
    MPI_OK(MPI_Wait(&request, &status));
    check_nonblocking_null_status(&status, MPI_INT, "MPI_Imrecv of MPI_MESSAGE_NO_PROC");
    CHECK(buffer[0] == 1 && buffer[3] == 4, "[%s] the buffer changed", context);
    for (int i = 0; i < 3; i++) {
        free(out[i]);
        free(in[i]);
    }
    test_phase_done("matched probes");
}

/* ---- 6. truncation ---- */

static void truncation(void) {
    begin_phase("MPI_ERR_TRUNCATE");
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    MPI_Comm comm;
    MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &comm));
    MPI_OK(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN));
    const size_t sizes[4] = {400, 1 << 20, 200, 100000}; /* eager, long, then two intact ones */
    unsigned char *out[4], *in = xmalloc(1 << 20);
    MPI_Request sends[4], request;
    MPI_Status statuses[4], status;
    for (int i = 0; i < 4; i++) {
        out[i] = xmalloc(sizes[i]);
        fill_message(out[i], sizes[i], world_rank, right, i, 700 + i, 60);
        MPI_OK(MPI_Isend(out[i], (int)sizes[i], MPI_BYTE, right, 700 + i, comm, &sends[i]));
    }
    int rc, error_class = -1;
    snprintf(context, sizeof context, "MPI_Recv of 400 bytes into 40 (MPI_ERRORS_RETURN)");
    rc = MPI_Recv(in, 40, MPI_BYTE, left, 700, comm, &status);
    CHECK(rc != MPI_SUCCESS, "[%s] returned MPI_SUCCESS", context);
    MPI_OK(MPI_Error_class(rc, &error_class));
    CHECK(error_class == MPI_ERR_TRUNCATE, "[%s] error class %d, expected MPI_ERR_TRUNCATE (%d)", context, error_class,
          MPI_ERR_TRUNCATE);

    snprintf(context, sizeof context, "MPI_Irecv + MPI_Wait of 1 MiB into 1000 bytes (MPI_ERRORS_RETURN)");
    rc = MPI_Irecv(in, 1000, MPI_BYTE, left, 701, comm, &request);
    CHECK(rc == MPI_SUCCESS, "[%s] MPI_Irecv returned %d", context, rc);
#if defined(MPICH_NUMVERSION) && MPICH_NUMVERSION < 40100000
    /* MPICH 4.0.2's MPI_Wait raises a request's error on MPI_COMM_WORLD's handler, not on the
     * request's communicator (MPICH 5 uses the communicator's, as MPI requires). */
    MPI_Errhandler world_handler;
    MPI_OK(MPI_Comm_get_errhandler(MPI_COMM_WORLD, &world_handler));
    MPI_OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    rc = MPI_Wait(&request, &status);
    MPI_OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, world_handler));
    MPI_OK(MPI_Errhandler_free(&world_handler));
#else
    rc = MPI_Wait(&request, &status);
#endif
    CHECK(rc != MPI_SUCCESS, "[%s] MPI_Wait returned MPI_SUCCESS", context);
    MPI_OK(MPI_Error_class(rc, &error_class));
    CHECK(error_class == MPI_ERR_TRUNCATE, "[%s] error class %d, expected MPI_ERR_TRUNCATE (%d)", context, error_class,
          MPI_ERR_TRUNCATE);
    CHECK(request == MPI_REQUEST_NULL, "[%s] the request is not MPI_REQUEST_NULL after MPI_Wait", context);

    /* The next messages arrive intact. */
    for (int i = 2; i < 4; i++) {
        snprintf(context, sizeof context, "message %d after the truncated ones", i);
        memset(in, 0, sizes[i]);
        if (i == 2) rc = MPI_Recv(in, 1 << 20, MPI_BYTE, left, 700 + i, comm, &status);
        else {
            rc = MPI_Irecv(in, 1 << 20, MPI_BYTE, left, 700 + i, comm, &request);
            if (rc == MPI_SUCCESS) rc = MPI_Wait(&request, &status);
        }
        CHECK(rc == MPI_SUCCESS, "[%s] returned %d", context, rc);
        check_message(in, &status, sizes[i], left, world_rank, i, 700 + i, 60, "message after a truncated one");
    }
    snprintf(context, sizeof context, "MPI_Waitall of the sends (the truncated ones included)");
    rc = MPI_Waitall(4, sends, statuses);
    CHECK(rc == MPI_SUCCESS, "[%s] returned %d", context, rc);
    for (int i = 0; i < 4; i++) free(out[i]);
    free(in);
    MPI_OK(MPI_Comm_free(&comm));
    test_phase_done("truncation");
}

/* ---- 7. MPI_Cancel and MPI_Request_free ---- */

static void cancel_and_free(void) {
    begin_phase("MPI_Cancel / MPI_Request_free");
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    int never[4];
    MPI_Request request;
    MPI_Status status;
    for (int variant = 0; variant < 3; variant++) {
        const int source = variant == 0 ? left : MPI_ANY_SOURCE;
        snprintf(context, sizeof context, "MPI_Cancel of MPI_Irecv(source %d, tag %d) nobody sends", source,
                 9000 + variant);
        MPI_OK(MPI_Irecv(never, 4, MPI_INT, source, variant == 2 ? MPI_ANY_TAG : 9000 + variant,
                         variant == 2 ? MPI_COMM_SELF : MPI_COMM_WORLD, &request));
        MPI_OK(MPI_Cancel(&request));
        if (variant == 1) {
            int flag = 0;
            const double deadline = MPI_Wtime() + POLL_SECONDS;
            while (!flag) {
                MPI_OK(MPI_Test(&request, &flag, &status));
                CHECK(flag || MPI_Wtime() < deadline, "[%s] MPI_Test never completed the cancelled receive", context);
            }
        } else {
            MPI_OK(MPI_Wait(&request, &status));
        }
        int cancelled = 0;
        MPI_OK(MPI_Test_cancelled(&status, &cancelled));
        CHECK(cancelled, "[%s] MPI_Test_cancelled says not cancelled", context);
        CHECK(request == MPI_REQUEST_NULL, "[%s] request not MPI_REQUEST_NULL after completion", context);
    }

    /* MPI_Request_free of sends not yet received: the receiver still gets the bytes. */
    const size_t sizes[2] = {100000, 16};
    unsigned char *out[2], *in = xmalloc(100000);
    for (int i = 0; i < 2; i++) {
        out[i] = xmalloc(sizes[i]);
        fill_message(out[i], sizes[i], world_rank, right, i, 800 + i, 70);
        MPI_OK(MPI_Isend(out[i], (int)sizes[i], MPI_BYTE, right, 800 + i, MPI_COMM_WORLD, &request));
        MPI_OK(MPI_Request_free(&request));
        CHECK(request == MPI_REQUEST_NULL, "MPI_Request_free did not set the request to MPI_REQUEST_NULL");
    }
    for (int i = 1; i >= 0; i--) {
        snprintf(context, sizeof context, "message %d of a freed MPI_Isend request", i);
        MPI_OK(MPI_Recv(in, 100000, MPI_BYTE, left, 800 + i, MPI_COMM_WORLD, &status));
        check_message(in, &status, sizes[i], left, world_rank, i, 800 + i, 70, "message of a freed send request");
    }
    /* Every message is received (so every send complete) once every rank passes the barrier. */
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    for (int i = 0; i < 2; i++) free(out[i]);
    free(in);
    test_phase_done("cancel and free");
}

/* ---- 8. MPI_Issend completes only after the receive starts ---- */

static void synchronous_completion(void) {
    begin_phase("MPI_Issend completion");
    enum { SENDS = 3 };
    const size_t sizes[SENDS] = {0, 16, 100000};
    unsigned char *out = xmalloc(100000), *in = xmalloc(100000);
    for (int step = 0; step < 2; step++) {
        const int partner = world_rank ^ 1;
        const int paired = partner < world_size;
        const int sender = paired && world_rank % 2 == step;
        MPI_Request sends[SENDS];
        MPI_Status statuses[SENDS], status;
        if (sender) {
            for (int i = 0; i < SENDS; i++) {
                fill_message(out, sizes[2], world_rank, partner, i, 900 + i, 80 + step);
                MPI_OK(MPI_Issend(sizes[i] ? out : NULL, (int)sizes[i], MPI_BYTE, partner, 900 + i, MPI_COMM_WORLD,
                                  &sends[i]));
            }
            /* The receiver posts nothing before the barrier: none may complete. */
            for (int spin = 0; spin < 200; spin++) {
                for (int i = 0; i < SENDS; i++) {
                    int flag = 1;
                    snprintf(context, sizeof context, "MPI_Test of MPI_Issend #%d (%zu bytes) to rank %d before the barrier",
                             i, sizes[i], partner);
                    MPI_OK(MPI_Test(&sends[i], &flag, &status));
                    CHECK(!flag, "[%s] completed before the receiver posted its receive (MPI requires the matching "
                                 "receive to have started)", context);
                }
                if (spin % 50 == 49) usleep(1000);
            }
        }
        snprintf(context, sizeof context, "MPI_Barrier of step %d", step);
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        if (sender) {
            snprintf(context, sizeof context, "MPI_Waitall of the MPI_Issends after the barrier");
            MPI_OK(MPI_Waitall(SENDS, sends, statuses));
        } else if (paired) {
            for (int i = SENDS - 1; i >= 0; i--) {
                snprintf(context, sizeof context, "receive of MPI_Issend #%d after the barrier", i);
                MPI_OK(MPI_Recv(sizes[i] ? in : NULL, (int)sizes[i], MPI_BYTE, partner, 900 + i, MPI_COMM_WORLD,
                                &status));
                int count = -1;
                MPI_OK(MPI_Get_count(&status, MPI_BYTE, &count));
                CHECK_EQ_LL(count, sizes[i], "MPI_Get_count of a synchronous message");
                if (sizes[i] >= 8)
                    check_message(in, &status, sizes[i], partner, world_rank, i, 900 + i, 80 + step,
                                  "synchronous message");
            }
        }
    }
    free(out);
    free(in);
    test_phase_done("synchronous completion");
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "p2p_matching");
    start_watchdog();
    wildcards();
    non_overtaking();
    posted_first();
    probes();
    matched_probes();
    truncation();
    cancel_and_free();
    synchronous_completion();
    finish();
    return 0;
}
