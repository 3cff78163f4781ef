/*
 * Persistent point-to-point requests, and the request calls around them. Ranks are paired
 * (rank ^ 1) unless a phase says ring (send right, receive from the left).
 *   1. For 8 B, 4 KiB, 300 KB and 1 MiB: MPI_Send_init, MPI_Ssend_init, MPI_Rsend_init and
 *      MPI_Bsend_init (MPI_Buffer_attach) to the partner, received by MPI_Recv_init with a specific
 *      source and tag, MPI_ANY_SOURCE, MPI_ANY_TAG, and both wildcards (the wildcard ones on
 *      duplicates of MPI_COMM_WORLD, so every match is determined), started 50 rounds each,
 *      alternately one by one with MPI_Start and with MPI_Startall; the receives are started
 *      before a barrier, the sends after it (the ready send's receive is posted). The rounds are
 *      completed in turn by MPI_Wait, MPI_Waitall, MPI_Waitany, MPI_Waitsome and loops of MPI_Test,
 *      MPI_Testall, MPI_Testany, MPI_Testsome; every status (MPI_SOURCE, MPI_TAG, MPI_Get_count),
 *      every received byte, the bytes after them and the send buffers are checked each round, each
 *      request must be reported complete exactly once and keep its handle, and then the inactive
 *      array gives MPI_UNDEFINED from MPI_Waitany / MPI_Testany and empty statuses from MPI_Waitall.
 *   2. Ring: a persistent receive of one MPI_Type_vector (ints sent contiguous) and a persistent
 *      send of one (received contiguous), 100 and 20000 blocks, 10 rounds each: the gaps of the
 *      vector stay untouched, MPI_Get_count / MPI_Get_elements count the vector and its ints.
 *   3. Inactive persistent requests (never started, and completed) with MPI_REQUEST_NULL in
 *      MPI_Waitall, MPI_Waitany, MPI_Waitsome, MPI_Testall, MPI_Testany, MPI_Testsome, MPI_Wait,
 *      MPI_Test and MPI_Request_get_status: nothing completes, MPI_UNDEFINED, empty statuses; then
 *      arrays mixing them with a started persistent receive and an MPI_Irecv: only those two
 *      complete.
 *   4. MPI_Request_get_status on a started persistent receive before the message can have been
 *      sent (flag 0) and once it came (flag 1, its status; the request is not completed: a second
 *      call says 1 again, a later MPI_Wait or MPI_Testany returns the message's status, then the
 *      request is inactive), 8 B and 300 KB, both directions of each pair.
 *   5. MPI_Request_free of never-started persistent requests of the five kinds, of a persistent
 *      send right after MPI_Start, of a plain MPI_Isend and of an MPI_Issend before they complete
 *      (the receive is posted after a barrier): the receiver still gets every byte (8 B, 1 MiB).
 *   6. With P2P_CANCEL_PERSISTENT=1 only: MPI_Cancel of a started persistent receive that cannot
 *      match yet, completed by MPI_Wait or an MPI_Test loop, MPI_Test_cancelled true; then the same
 *      request started again receives a real message (MPI_Test_cancelled false). Optional because
 *      MPICH 4.0.2 can fail MPI_Cancel of a started persistent request ("Persistent request passed
 *      to MPI_Start or MPI_Startall is already active", pmodels/mpich#6542). Rank 0 then prints
 *      "p2p_persistent checked MPI_Cancel of persistent receives".
 *   7. MPI_Isendrecv and MPI_Isendrecv_replace, ring and pairs, specific and wildcard receive
 *      sides, 8 B .. 1 MiB, completed by MPI_Wait or an MPI_Test loop: every byte checked; the
 *      status (MPI_SOURCE, MPI_TAG, MPI_Get_count) only with P2P_CHECK_ISENDRECV_STATUS=1 (MPICH
 *      4.0.2's own is wrong there: MPI_Get_count 0), after which rank 0 prints "p2p_persistent
 *      checked MPI_Isendrecv statuses".
 * Each rank prints "p2p_persistent ok rank=R", rank 0 then "PASS p2p_persistent".
 */
#include "common.h"
#include <signal.h>
#include <unistd.h>

/* gcc 12 warns about MPI_STATUSES_IGNORE in MPI_Waitall and friends (a pointer constant it
 * takes for an empty array); passing it is what this program tests. */
#pragma GCC diagnostic ignored "-Wstringop-overflow"

#include "p2p_common.h"


static const double POLL_SECONDS = 30.0;

static int partner; /* rank ^ 1 */

/* Message keys of this program: phase, kind and size folded into message_key's size index. */
static inline uint32_t key_of(int sender, int receiver, int phase_number, int kind, int round) {
    return message_key(sender, receiver, phase_number * 64 + kind, round);
}

/* The empty status MPI returns for MPI_REQUEST_NULL and inactive requests. */
static void check_empty_status(const MPI_Status *status, const char *what) {
    int count = -2;
    MPI_OK(MPI_Get_count(status, MPI_BYTE, &count));
    if (status->MPI_SOURCE != MPI_ANY_SOURCE || status->MPI_TAG != MPI_ANY_TAG || count != 0)
        FAIL_IN("%s [%s]: expected an empty status (MPI_SOURCE %d, MPI_TAG %d, count 0), got MPI_SOURCE %d, "
                "MPI_TAG %d, count %d",
                what, context, MPI_ANY_SOURCE, MPI_ANY_TAG, status->MPI_SOURCE, status->MPI_TAG, count);
}

static void clear_status(MPI_Status *status) {
    memset(status, 0x5c, sizeof *status); /* so a status left unwritten shows */
}

/* ---- completion of an array of requests, each reported exactly once ---- */

enum { MAX_SLOTS = 8 };

struct tracked {
    int n;
    MPI_Request requests[MAX_SLOTS];
    MPI_Request handles[MAX_SLOTS]; /* the persistent handle of each slot, MPI_REQUEST_NULL for others */
    int active[MAX_SLOTS];
    int reported[MAX_SLOTS];
    MPI_Status status[MAX_SLOTS];
    const char *names[MAX_SLOTS];
};

enum Completion { C_WAIT, C_WAITALL, C_WAITANY, C_WAITSOME, C_TEST, C_TESTALL, C_TESTANY, C_TESTSOME, COMPLETIONS };
static const char *completion_names[COMPLETIONS] = {
    "MPI_Wait one by one", "MPI_Waitall", "MPI_Waitany", "MPI_Waitsome", "MPI_Test loop",
    "MPI_Testall loop",    "MPI_Testany loop", "MPI_Testsome loop"};

static void tracked_add(struct tracked *t, MPI_Request request, int persistent, int active, const char *name) {
    CHECK(t->n < MAX_SLOTS, "too many requests in one array");
    t->requests[t->n] = request;
    t->handles[t->n] = persistent ? request : MPI_REQUEST_NULL;
    t->active[t->n] = active;
    t->reported[t->n] = 0;
    clear_status(&t->status[t->n]);
    t->names[t->n] = name;
    t->n++;
}

static void slot_completed(struct tracked *t, int i, const MPI_Status *status, const char *call) {
    CHECK(i >= 0 && i < t->n, "[%s] %s: index %d out of range 0..%d", context, call, i, t->n - 1);
    CHECK(t->active[i], "[%s] %s reported slot %d (%s) complete, but it is %s", context, call, i, t->names[i],
          t->reported[i] ? "already reported complete" : "not active");
    t->active[i] = 0;
    t->reported[i] = 1;
    if (t->handles[i] != MPI_REQUEST_NULL) {
        CHECK(t->requests[i] == t->handles[i], "[%s] %s: slot %d (%s): the persistent request handle changed", context,
              call, i, t->names[i]);
    } else {
        CHECK(t->requests[i] == MPI_REQUEST_NULL, "[%s] %s: slot %d (%s): the completed request is not MPI_REQUEST_NULL",
              context, call, i, t->names[i]);
    }
    if (status) t->status[i] = *status;
}

static int tracked_any_active(const struct tracked *t) {
    for (int i = 0; i < t->n; i++)
        if (t->active[i]) return 1;
    return 0;
}

/* Completes every active slot of `t` with `how`; the loops are bounded by the number of requests
 * (wait calls) or POLL_SECONDS (test calls). */
static void complete_tracked(struct tracked *t, int how) {
    const char *call = completion_names[how];
    MPI_Status statuses[MAX_SLOTS], status;
    int indices[MAX_SLOTS], outcount, index, flag;
    const double deadline = MPI_Wtime() + POLL_SECONDS;
    for (int i = 0; i < MAX_SLOTS; i++) clear_status(&statuses[i]);
    switch (how) {
    case C_WAIT:
        for (int i = 0; i < t->n; i++) {
            if (!t->active[i]) continue;
            clear_status(&status);
            MPI_OK(MPI_Wait(&t->requests[i], &status));
            slot_completed(t, i, &status, call);
        }
        break;
    case C_WAITALL:
        MPI_OK(MPI_Waitall(t->n, t->requests, statuses));
        for (int i = 0; i < t->n; i++)
            if (t->active[i]) slot_completed(t, i, &statuses[i], call);
            else check_empty_status(&statuses[i], "MPI_Waitall's status of an inactive or null request");
        break;
    case C_WAITANY:
        for (int calls = 0;; calls++) {
            CHECK(calls <= t->n, "[%s] %s: more calls than requests", context, call);
            clear_status(&status);
            MPI_OK(MPI_Waitany(t->n, t->requests, &index, &status));
            if (index == MPI_UNDEFINED) {
                check_empty_status(&status, "MPI_Waitany's status with no active request left");
                break;
            }
            slot_completed(t, index, &status, call);
        }
        break;
    case C_WAITSOME:
        for (int calls = 0;; calls++) {
            CHECK(calls <= t->n, "[%s] %s: more calls than requests", context, call);
            MPI_OK(MPI_Waitsome(t->n, t->requests, &outcount, indices, statuses));
            if (outcount == MPI_UNDEFINED) break;
            CHECK(outcount > 0 && outcount <= t->n, "[%s] %s returned outcount %d", context, call, outcount);
            for (int k = 0; k < outcount; k++) slot_completed(t, indices[k], &statuses[k], call);
        }
        break;
    case C_TEST:
        while (tracked_any_active(t)) {
            for (int i = 0; i < t->n; i++) {
                if (!t->active[i]) continue;
                flag = 0;
                MPI_OK(MPI_Test(&t->requests[i], &flag, &status));
                if (flag) slot_completed(t, i, &status, call);
            }
            CHECK(!tracked_any_active(t) || MPI_Wtime() < deadline, "[%s] %s: not complete after %.0f s", context, call,
                  POLL_SECONDS);
        }
        break;
    case C_TESTALL:
        flag = 0;
        while (!flag) {
            MPI_OK(MPI_Testall(t->n, t->requests, &flag, statuses));
            CHECK(flag || MPI_Wtime() < deadline, "[%s] %s: not complete after %.0f s", context, call, POLL_SECONDS);
        }
        for (int i = 0; i < t->n; i++)
            if (t->active[i]) slot_completed(t, i, &statuses[i], call);
            else check_empty_status(&statuses[i], "MPI_Testall's status of an inactive or null request");
        break;
    case C_TESTANY:
        for (;;) {
            flag = 0;
            MPI_OK(MPI_Testany(t->n, t->requests, &index, &flag, &status));
            if (!flag) {
                CHECK(index == MPI_UNDEFINED, "[%s] %s: flag false with index %d", context, call, index);
                CHECK(MPI_Wtime() < deadline, "[%s] %s: not complete after %.0f s", context, call, POLL_SECONDS);
                continue;
            }
            if (index == MPI_UNDEFINED) {
                if (tracked_any_active(t)) {
                    char active[256] = "";
                    for (int i = 0; i < t->n; i++)
                        if (t->active[i])
                            snprintf(active + strlen(active), sizeof active - strlen(active), "%s%d (%s)",
                                     active[0] ? ", " : "", i, t->names[i]);
                    FAIL_IN("[%s] %s: flag true, index MPI_UNDEFINED with requests still active: %s", context, call,
                            active);
                }
                break;
            }
            slot_completed(t, index, &status, call);
        }
        break;
    case C_TESTSOME:
        for (;;) {
            MPI_OK(MPI_Testsome(t->n, t->requests, &outcount, indices, statuses));
            if (outcount == MPI_UNDEFINED) break;
            CHECK(outcount >= 0 && outcount <= t->n, "[%s] %s returned outcount %d", context, call, outcount);
            CHECK(outcount > 0 || MPI_Wtime() < deadline, "[%s] %s: not complete after %.0f s", context, call,
                  POLL_SECONDS);
            for (int k = 0; k < outcount; k++) slot_completed(t, indices[k], &statuses[k], call);
        }
        break;
    }
    for (int i = 0; i < t->n; i++)
        CHECK(!t->active[i], "[%s] %s: slot %d (%s) was never reported complete", context, call, i, t->names[i]);
}

/* Every slot of `t` is inactive or null now: nothing may complete again. */
static void check_all_inactive(struct tracked *t) {
    MPI_Status statuses[MAX_SLOTS], status;
    int index = -7, flag = -7, outcount = -7, indices[MAX_SLOTS];
    MPI_Request before[MAX_SLOTS];
    memcpy(before, t->requests, sizeof before);
    clear_status(&status);
    MPI_OK(MPI_Waitany(t->n, t->requests, &index, &status));
    CHECK(index == MPI_UNDEFINED, "[%s] MPI_Waitany on inactive requests only: index %d, expected MPI_UNDEFINED",
          context, index);
    check_empty_status(&status, "MPI_Waitany on inactive requests only");
    MPI_OK(MPI_Testany(t->n, t->requests, &index, &flag, &status));
    CHECK(flag && index == MPI_UNDEFINED,
          "[%s] MPI_Testany on inactive requests only: flag %d index %d, expected 1 and MPI_UNDEFINED", context, flag,
          index);
    MPI_OK(MPI_Waitsome(t->n, t->requests, &outcount, indices, statuses));
    CHECK(outcount == MPI_UNDEFINED, "[%s] MPI_Waitsome on inactive requests only: outcount %d, expected MPI_UNDEFINED",
          context, outcount);
    MPI_OK(MPI_Testsome(t->n, t->requests, &outcount, indices, statuses));
    CHECK(outcount == MPI_UNDEFINED, "[%s] MPI_Testsome on inactive requests only: outcount %d, expected MPI_UNDEFINED",
          context, outcount);
    for (int i = 0; i < t->n; i++) clear_status(&statuses[i]);
    MPI_OK(MPI_Waitall(t->n, t->requests, statuses));
    for (int i = 0; i < t->n; i++) check_empty_status(&statuses[i], "MPI_Waitall on inactive requests only");
    flag = 0;
    MPI_OK(MPI_Testall(t->n, t->requests, &flag, statuses));
    CHECK(flag, "[%s] MPI_Testall on inactive requests only: flag 0", context);
    for (int i = 0; i < t->n; i++)
        CHECK(t->requests[i] == before[i], "[%s] a completion call on inactive requests changed slot %d (%s)", context, i,
              t->names[i]);
}

/* ---- 1. persistent sends of every mode, received by persistent receives ---- */

enum { KIND_SEND, KIND_SSEND, KIND_RSEND, KIND_BSEND, KINDS };
static const char *send_names[KINDS] = {"MPI_Send_init", "MPI_Ssend_init", "MPI_Rsend_init", "MPI_Bsend_init"};
static const char *recv_names[KINDS] = {"MPI_Recv_init(partner, tag)", "MPI_Recv_init(MPI_ANY_SOURCE, tag)",
                                        "MPI_Recv_init(partner, MPI_ANY_TAG)",
                                        "MPI_Recv_init(MPI_ANY_SOURCE, MPI_ANY_TAG)"};
static const size_t round_sizes[] = {8, 4096, 300000, 1048576};
enum { SIZES = sizeof round_sizes / sizeof round_sizes[0], ROUNDS = 50 };

static MPI_Comm comm_any_tag, comm_any_both; /* duplicates of MPI_COMM_WORLD for the wildcard receives */

static MPI_Comm kind_comm(int kind) {
    return kind == KIND_RSEND ? comm_any_tag : kind == KIND_BSEND ? comm_any_both : MPI_COMM_WORLD;
}
static int kind_tag(int kind, int size_index) { return 100 + 10 * size_index + kind; }

static void persistent_rounds(void) {
    begin_phase("persistent sends and receives");
    const int bsend_size = 2 * (1048576 + MPI_BSEND_OVERHEAD) + 4096;
    void *attached = xmalloc((size_t)bsend_size);
    MPI_OK(MPI_Buffer_attach(attached, bsend_size));
    for (int s = 0; s < SIZES; s++) {
        const size_t n = round_sizes[s];
        unsigned char *sbuf[KINDS], *sref[KINDS], *rbuf[KINDS];
        MPI_Request sends[KINDS], recvs[KINDS];
        for (int k = 0; k < KINDS; k++) {
            sbuf[k] = xmalloc(n);
            sref[k] = xmalloc(n);
            rbuf[k] = xmalloc(n + GUARD);
        }
        snprintf(context, sizeof context, "%zu B: creating the requests", n);
        MPI_OK(MPI_Recv_init(rbuf[KIND_SEND], (int)n, MPI_BYTE, partner, kind_tag(KIND_SEND, s), MPI_COMM_WORLD,
                             &recvs[KIND_SEND]));
        MPI_OK(MPI_Recv_init(rbuf[KIND_SSEND], (int)n, MPI_BYTE, MPI_ANY_SOURCE, kind_tag(KIND_SSEND, s), MPI_COMM_WORLD,
                             &recvs[KIND_SSEND]));
        MPI_OK(MPI_Recv_init(rbuf[KIND_RSEND], (int)n, MPI_BYTE, partner, MPI_ANY_TAG, comm_any_tag, &recvs[KIND_RSEND]));
        MPI_OK(MPI_Recv_init(rbuf[KIND_BSEND], (int)n, MPI_BYTE, MPI_ANY_SOURCE, MPI_ANY_TAG, comm_any_both,
                             &recvs[KIND_BSEND]));
        MPI_OK(MPI_Send_init(sbuf[KIND_SEND], (int)n, MPI_BYTE, partner, kind_tag(KIND_SEND, s), kind_comm(KIND_SEND),
                             &sends[KIND_SEND]));
        MPI_OK(MPI_Ssend_init(sbuf[KIND_SSEND], (int)n, MPI_BYTE, partner, kind_tag(KIND_SSEND, s),
                              kind_comm(KIND_SSEND), &sends[KIND_SSEND]));
        MPI_OK(MPI_Rsend_init(sbuf[KIND_RSEND], (int)n, MPI_BYTE, partner, kind_tag(KIND_RSEND, s),
                              kind_comm(KIND_RSEND), &sends[KIND_RSEND]));
        MPI_OK(MPI_Bsend_init(sbuf[KIND_BSEND], (int)n, MPI_BYTE, partner, kind_tag(KIND_BSEND, s),
                              kind_comm(KIND_BSEND), &sends[KIND_BSEND]));
        for (int k = 0; k < KINDS; k++)
            CHECK(sends[k] != MPI_REQUEST_NULL && recvs[k] != MPI_REQUEST_NULL, "[%s] %s or %s gave MPI_REQUEST_NULL",
                  context, send_names[k], recv_names[k]);

        for (int round = 0; round < ROUNDS; round++) {
            const int how = (round + 3 * s) % COMPLETIONS;
            snprintf(context, sizeof context, "%zu B, round %d, %s", n, round, completion_names[how]);
            for (int k = 0; k < KINDS; k++) {
                fill_bytes(sbuf[k], n, key_of(world_rank, partner, 1, s * KINDS + k, round));
                memcpy(sref[k], sbuf[k], n);
                memset(rbuf[k], SENTINEL, n + GUARD);
            }
            /* Receives in order (MPI_Startall's order is unspecified, but no two of them can match
             * the same message here), then the barrier: the ready send's receive is posted. */
            if (round % 2 == 0) {
                for (int k = 0; k < KINDS; k++) MPI_OK(MPI_Start(&recvs[k]));
            } else {
                MPI_OK(MPI_Startall(KINDS, recvs));
            }
            MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
            if (round % 2 == 0) {
                MPI_OK(MPI_Startall(KINDS, sends));
            } else {
                for (int k = KINDS - 1; k >= 0; k--) MPI_OK(MPI_Start(&sends[k]));
            }
            /* One array, receives and sends interleaved. */
            struct tracked t = {0};
            for (int k = 0; k < KINDS; k++) {
                tracked_add(&t, recvs[k], 1, 1, recv_names[k]);
                tracked_add(&t, sends[k], 1, 1, send_names[k]);
            }
            complete_tracked(&t, how);
            for (int k = 0; k < KINDS; k++) {
                char what[128];
                snprintf(what, sizeof what, "%s (from %s)", recv_names[k], send_names[k]);
                check_status(&t.status[2 * k], partner, kind_tag(k, s), MPI_BYTE, (int)n, what);
                check_pattern(rbuf[k], n, key_of(partner, world_rank, 1, s * KINDS + k, round), what);
                check_guard(rbuf[k], n, what);
                CHECK(memcmp(sbuf[k], sref[k], n) == 0, "[%s] the send buffer of %s changed", context, send_names[k]);
            }
            check_all_inactive(&t);
        }
        snprintf(context, sizeof context, "%zu B: freeing the inactive requests", n);
        for (int k = 0; k < KINDS; k++) {
            MPI_OK(MPI_Request_free(&sends[k]));
            MPI_OK(MPI_Request_free(&recvs[k]));
            CHECK(sends[k] == MPI_REQUEST_NULL && recvs[k] == MPI_REQUEST_NULL,
                  "[%s] MPI_Request_free left a handle (%s / %s)", context, send_names[k], recv_names[k]);
            free(sbuf[k]);
            free(sref[k]);
            free(rbuf[k]);
        }
    }
    void *detached = NULL;
    int detached_size = 0;
    MPI_OK(MPI_Buffer_detach(&detached, &detached_size));
    CHECK(detached == attached && detached_size == bsend_size, "MPI_Buffer_detach returned %p (%d B), attached %p (%d B)",
          detached, detached_size, attached, bsend_size);
    free(attached);
    test_phase_done(phase);
}

/* ---- 2. a vector datatype on one side of persistent requests (ring) ---- */

static void vector_requests(void) {
    begin_phase("persistent requests of a vector datatype");
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    const int block_counts[] = {100, 20000};
    enum { BLOCK = 3, STRIDE = 5, VROUNDS = 10 };
    for (int v = 0; v < 2; v++) {
        const int blocks = block_counts[v], ints = blocks * BLOCK, span = (blocks - 1) * STRIDE + BLOCK;
        MPI_Datatype vector;
        MPI_OK(MPI_Type_vector(blocks, BLOCK, STRIDE, MPI_INT, &vector));
        MPI_OK(MPI_Type_commit(&vector));
        int *contiguous_out = xmalloc(sizeof(int) * ints), *vector_in = xmalloc(sizeof(int) * (span + GUARD));
        int *vector_out = xmalloc(sizeof(int) * span), *contiguous_in = xmalloc(sizeof(int) * (ints + GUARD));
        const int tag_a = 300 + v, tag_b = 310 + v;
        MPI_Request requests[4];
        /* A: contiguous ints to the right, received as one vector; B: one vector to the right,
         * received as contiguous ints. */
        MPI_OK(MPI_Recv_init(vector_in, 1, vector, left, tag_a, MPI_COMM_WORLD, &requests[0]));
        MPI_OK(MPI_Recv_init(contiguous_in, ints, MPI_INT, MPI_ANY_SOURCE, tag_b, MPI_COMM_WORLD, &requests[1]));
        MPI_OK(MPI_Send_init(contiguous_out, ints, MPI_INT, right, tag_a, MPI_COMM_WORLD, &requests[2]));
        MPI_OK(MPI_Send_init(vector_out, 1, vector, right, tag_b, MPI_COMM_WORLD, &requests[3]));
        for (int round = 0; round < VROUNDS; round++) {
            snprintf(context, sizeof context, "vector of %d blocks, round %d", blocks, round);
            const uint32_t out_a = key_of(world_rank, right, 2, 2 * v, round), in_a = key_of(left, world_rank, 2, 2 * v, round);
            const uint32_t out_b = key_of(world_rank, right, 2, 2 * v + 1, round),
                           in_b = key_of(left, world_rank, 2, 2 * v + 1, round);
            for (int i = 0; i < ints; i++) contiguous_out[i] = pattern_int(out_a, (size_t)i);
            for (int i = 0; i < span; i++) vector_out[i] = -2 - i; /* the gaps, never sent */
            for (int b = 0; b < blocks; b++)
                for (int j = 0; j < BLOCK; j++) vector_out[b * STRIDE + j] = pattern_int(out_b, (size_t)(b * BLOCK + j));
            for (int i = 0; i < span + GUARD; i++) vector_in[i] = -1;
            for (int i = 0; i < ints + GUARD; i++) contiguous_in[i] = -1;
            MPI_OK(MPI_Startall(2, requests));
            MPI_OK(MPI_Startall(2, requests + 2));
            MPI_Status statuses[4];
            MPI_OK(MPI_Waitall(4, requests, statuses));
            check_status_of(&statuses[0], left, tag_a, vector, 1, ints, "persistent receive of one vector");
            check_status(&statuses[1], left, tag_b, MPI_INT, ints, "persistent receive of a vector's ints");
            int count = -2;
            MPI_OK(MPI_Get_count(&statuses[0], MPI_INT, &count));
            CHECK(count == ints, "[%s] MPI_Get_count(MPI_INT) of the vector receive: expected %d, got %d", context, ints,
                  count);
            for (int b = 0; b < blocks; b++)
                for (int j = 0; j < STRIDE && b * STRIDE + j < span; j++) {
                    const int at = b * STRIDE + j;
                    const int expected = j < BLOCK ? pattern_int(in_a, (size_t)(b * BLOCK + j)) : -1;
                    if (vector_in[at] != expected)
                        FAIL_IN("[%s] vector receive: int %d (block %d, %s %d): expected %d, got %d", context, at, b,
                                j < BLOCK ? "element" : "gap", j, expected, vector_in[at]);
                }
            for (int i = span; i < span + GUARD; i++)
                CHECK(vector_in[i] == -1, "[%s] vector receive: int %d after the vector's extent was written (%d)",
                      context, i, vector_in[i]);
            for (int i = 0; i < ints + GUARD; i++) {
                const int expected = i < ints ? pattern_int(in_b, (size_t)i) : -1;
                if (contiguous_in[i] != expected)
                    FAIL_IN("[%s] contiguous receive of a vector send: int %d of %d: expected %d, got %d", context, i,
                            ints, expected, contiguous_in[i]);
            }
            for (int i = 0; i < 4; i++)
                CHECK(requests[i] != MPI_REQUEST_NULL, "[%s] a persistent request was freed by MPI_Waitall", context);
        }
        for (int i = 0; i < 4; i++) MPI_OK(MPI_Request_free(&requests[i]));
        MPI_OK(MPI_Type_free(&vector));
        free(contiguous_out);
        free(vector_in);
        free(vector_out);
        free(contiguous_in);
    }
    test_phase_done(phase);
}

/* ---- 3. inactive persistent requests in completion calls ---- */

static void inactive_requests(void) {
    begin_phase("inactive persistent requests");
    enum { N = 64 };
    int out[N], in_p[N + GUARD], in_q[N], in_plain[N + GUARD];
    for (int i = 0; i < N; i++) out[i] = pattern_int(key_of(world_rank, partner, 3, 0, 0), (size_t)i);
    MPI_Request recv_p, recv_q, send_p, ssend_p;
    MPI_OK(MPI_Recv_init(in_p, N, MPI_INT, partner, 400, MPI_COMM_WORLD, &recv_p));
    MPI_OK(MPI_Recv_init(in_q, N, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &recv_q)); /* never started */
    MPI_OK(MPI_Send_init(out, N, MPI_INT, partner, 400, MPI_COMM_WORLD, &send_p));
    MPI_OK(MPI_Ssend_init(out, N, MPI_INT, partner, 401, MPI_COMM_WORLD, &ssend_p)); /* never started */

    /* Never started, with MPI_REQUEST_NULL. */
    snprintf(context, sizeof context, "never-started persistent requests and MPI_REQUEST_NULL");
    struct tracked idle = {0};
    tracked_add(&idle, recv_p, 1, 0, "MPI_Recv_init (not started)");
    tracked_add(&idle, MPI_REQUEST_NULL, 0, 0, "MPI_REQUEST_NULL");
    tracked_add(&idle, send_p, 1, 0, "MPI_Send_init (not started)");
    tracked_add(&idle, recv_q, 1, 0, "MPI_Recv_init(MPI_ANY_SOURCE, MPI_ANY_TAG) (not started)");
    tracked_add(&idle, ssend_p, 1, 0, "MPI_Ssend_init (not started)");
    check_all_inactive(&idle);
    MPI_Status status;
    int flag;
    MPI_Request handle = recv_p;
    clear_status(&status);
    MPI_OK(MPI_Wait(&handle, &status));
    CHECK(handle == recv_p, "[%s] MPI_Wait on an inactive persistent receive changed its handle", context);
    check_empty_status(&status, "MPI_Wait on an inactive persistent receive");
    flag = 0;
    clear_status(&status);
    MPI_OK(MPI_Test(&handle, &flag, &status));
    CHECK(flag && handle == recv_p, "[%s] MPI_Test on an inactive persistent receive: flag %d, handle %s", context, flag,
          handle == recv_p ? "kept" : "changed");
    check_empty_status(&status, "MPI_Test on an inactive persistent receive");
    flag = 0;
    clear_status(&status);
    MPI_OK(MPI_Request_get_status(send_p, &flag, &status));
    CHECK(flag, "[%s] MPI_Request_get_status on an inactive persistent send: flag 0", context);
    check_empty_status(&status, "MPI_Request_get_status on an inactive persistent send");
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    /* Mixed with a started persistent receive and an MPI_Irecv; each completion kind. */
    const int hows[] = {C_WAITANY, C_WAITALL, C_WAITSOME, C_TESTANY, C_TESTSOME, C_TESTALL};
    for (int r = 0; r < (int)(sizeof hows / sizeof hows[0]); r++) {
        const int how = hows[r];
        snprintf(context, sizeof context, "inactive persistent requests among active ones, %s", completion_names[how]);
        const uint32_t key = key_of(partner, world_rank, 3, 1, r), key_plain = key_of(partner, world_rank, 3, 2, r);
        for (int i = 0; i < N; i++) out[i] = pattern_int(key_of(world_rank, partner, 3, 1, r), (size_t)i);
        int plain_out[N];
        for (int i = 0; i < N; i++) plain_out[i] = pattern_int(key_of(world_rank, partner, 3, 2, r), (size_t)i);
        for (int i = 0; i < N + GUARD; i++) in_p[i] = in_plain[i] = -1;
        MPI_Request plain;
        MPI_OK(MPI_Start(&recv_p));
        MPI_OK(MPI_Irecv(in_plain, N, MPI_INT, partner, 402, MPI_COMM_WORLD, &plain));
        struct tracked t = {0};
        tracked_add(&t, send_p, 1, 0, "MPI_Send_init (inactive)");
        tracked_add(&t, recv_p, 1, 1, "MPI_Recv_init (started)");
        tracked_add(&t, MPI_REQUEST_NULL, 0, 0, "MPI_REQUEST_NULL");
        tracked_add(&t, recv_q, 1, 0, "MPI_Recv_init (never started)");
        tracked_add(&t, plain, 0, 1, "MPI_Irecv");
        tracked_add(&t, ssend_p, 1, 0, "MPI_Ssend_init (never started)");
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        MPI_Request sent[2];
        MPI_OK(MPI_Isend(out, N, MPI_INT, partner, 400, MPI_COMM_WORLD, &sent[0]));
        MPI_OK(MPI_Isend(plain_out, N, MPI_INT, partner, 402, MPI_COMM_WORLD, &sent[1]));
        complete_tracked(&t, how);
        check_status(&t.status[1], partner, 400, MPI_INT, N, "the started persistent receive");
        check_status(&t.status[4], partner, 402, MPI_INT, N, "the MPI_Irecv");
        for (int i = 0; i < N + GUARD; i++) {
            const int expected = i < N ? pattern_int(key, (size_t)i) : -1;
            CHECK(in_p[i] == expected, "[%s] persistent receive: int %d: expected %d, got %d", context, i, expected,
                  in_p[i]);
            const int expected_plain = i < N ? pattern_int(key_plain, (size_t)i) : -1;
            CHECK(in_plain[i] == expected_plain, "[%s] MPI_Irecv: int %d: expected %d, got %d", context, i,
                  expected_plain, in_plain[i]);
        }
        check_all_inactive(&t);
        MPI_OK(MPI_Waitall(2, sent, MPI_STATUSES_IGNORE));
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    }
    MPI_OK(MPI_Request_free(&recv_p));
    MPI_OK(MPI_Request_free(&recv_q));
    MPI_OK(MPI_Request_free(&send_p));
    MPI_OK(MPI_Request_free(&ssend_p));
    test_phase_done(phase);
}

/* ---- 4. MPI_Request_get_status on a started persistent receive ---- */

static void get_status_of_persistent(void) {
    begin_phase("MPI_Request_get_status on a started persistent receive");
    enum { LARGEST = 300000, STARTS = 2 };
    const size_t sizes[] = {8, LARGEST};
    unsigned char *buffer = xmalloc(LARGEST + GUARD), *out = xmalloc(LARGEST);
    int round = 0;
    for (int s = 0; s < 2; s++)
        for (int receiver_parity = 0; receiver_parity < 2; receiver_parity++, round++) {
            const size_t n = sizes[s];
            const int receiving = (world_rank & 1) == receiver_parity;
            const int tag = 500 + round;
            if (!receiving) {
                for (int use = 0; use < STARTS; use++) {
                    snprintf(context, sizeof context, "%zu B, sending message %d", n, use + 1);
                    fill_bytes(out, n, key_of(world_rank, partner, 4, 2 * round + use, 0));
                    MPI_OK(MPI_Recv(NULL, 0, MPI_BYTE, partner, 599, MPI_COMM_WORLD, MPI_STATUS_IGNORE)); /* go */
                    MPI_OK(MPI_Send(out, (int)n, MPI_BYTE, partner, tag, MPI_COMM_WORLD));
                }
                continue;
            }
            MPI_Request request, handle;
            MPI_OK(MPI_Recv_init(buffer, (int)n, MPI_BYTE, partner, tag, MPI_COMM_WORLD, &request));
            /* Completed by MPI_Wait after the first start, by MPI_Testany after the second. */
            for (int use = 0; use < STARTS; use++) {
                const uint32_t key = key_of(partner, world_rank, 4, 2 * round + use, 0);
                snprintf(context, sizeof context, "%zu B, start %d of the persistent receive", n, use + 1);
                memset(buffer, SENTINEL, n + GUARD);
                MPI_OK(MPI_Start(&request));
                handle = request;
                int flag = -1, index = -7;
                MPI_Status status;
                clear_status(&status);
                MPI_OK(MPI_Request_get_status(request, &flag, &status));
                CHECK(flag == 0, "[%s] MPI_Request_get_status before the sender was told to send: flag %d", context, flag);
                CHECK(request == handle, "[%s] MPI_Request_get_status changed the request", context);
                MPI_OK(MPI_Send(NULL, 0, MPI_BYTE, partner, 599, MPI_COMM_WORLD)); /* go */
                const double deadline = MPI_Wtime() + POLL_SECONDS;
                flag = 0;
                while (!flag) {
                    clear_status(&status);
                    MPI_OK(MPI_Request_get_status(request, &flag, &status));
                    CHECK(request == handle, "[%s] MPI_Request_get_status changed the request", context);
                    CHECK(flag || MPI_Wtime() < deadline, "[%s] MPI_Request_get_status: not complete after %.0f s",
                          context, POLL_SECONDS);
                }
                check_status(&status, partner, tag, MPI_BYTE, (int)n, "MPI_Request_get_status of the arrived message");
                check_pattern(buffer, n, key, "bytes seen after MPI_Request_get_status said complete");
                flag = 0;
                clear_status(&status);
                MPI_OK(MPI_Request_get_status(request, &flag, &status));
                CHECK(flag, "[%s] a second MPI_Request_get_status says not complete", context);
                check_status(&status, partner, tag, MPI_BYTE, (int)n, "a second MPI_Request_get_status");
                /* Still active: completing it now returns the message's status, not an empty one. */
                clear_status(&status);
                if (use == 0) {
                    MPI_OK(MPI_Wait(&request, &status));
                    check_status(&status, partner, tag, MPI_BYTE, (int)n, "MPI_Wait after MPI_Request_get_status");
                } else {
                    flag = 0;
                    MPI_OK(MPI_Testany(1, &request, &index, &flag, &status));
                    CHECK(flag && index == 0,
                          "[%s] MPI_Testany after MPI_Request_get_status: flag %d index %d, expected 1 and 0 (the "
                          "request must still be active)",
                          context, flag, index);
                    check_status(&status, partner, tag, MPI_BYTE, (int)n, "MPI_Testany after MPI_Request_get_status");
                }
                CHECK(request == handle, "[%s] completing the persistent receive changed its handle", context);
                check_pattern(buffer, n, key, "received bytes");
                check_guard(buffer, n, "received bytes");
                /* Now inactive. */
                index = -7;
                clear_status(&status);
                MPI_OK(MPI_Waitany(1, &request, &index, &status));
                CHECK(index == MPI_UNDEFINED, "[%s] MPI_Waitany on the completed persistent receive: index %d, expected "
                      "MPI_UNDEFINED", context, index);
                flag = 0;
                clear_status(&status);
                MPI_OK(MPI_Request_get_status(request, &flag, &status));
                CHECK(flag, "[%s] MPI_Request_get_status of the completed (inactive) request: flag 0", context);
                check_empty_status(&status, "MPI_Request_get_status of the completed (inactive) request");
            }
            MPI_OK(MPI_Request_free(&request));
            CHECK(request == MPI_REQUEST_NULL, "[%s] MPI_Request_free left the handle", context);
        }
    free(buffer);
    free(out);
    test_phase_done(phase);
}

/* ---- 5. MPI_Request_free of inactive and of active requests ---- */

static void request_free(void) {
    begin_phase("MPI_Request_free");
    /* Never started, every kind. */
    snprintf(context, sizeof context, "never-started persistent requests");
    {
        int scratch[4] = {0};
        MPI_Request r[5];
        MPI_OK(MPI_Send_init(scratch, 4, MPI_INT, partner, 600, MPI_COMM_WORLD, &r[0]));
        MPI_OK(MPI_Ssend_init(scratch, 4, MPI_INT, partner, 600, MPI_COMM_WORLD, &r[1]));
        MPI_OK(MPI_Rsend_init(scratch, 4, MPI_INT, partner, 600, MPI_COMM_WORLD, &r[2]));
        MPI_OK(MPI_Bsend_init(scratch, 4, MPI_INT, partner, 600, MPI_COMM_WORLD, &r[3]));
        MPI_OK(MPI_Recv_init(scratch, 4, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &r[4]));
        for (int i = 0; i < 5; i++) {
            MPI_OK(MPI_Request_free(&r[i]));
            CHECK(r[i] == MPI_REQUEST_NULL, "[%s] MPI_Request_free of request %d left the handle", context, i);
        }
    }
    /* Active sends freed at once; the receive is posted only after a barrier. */
    enum { LARGEST = 1048576 };
    const size_t sizes[] = {8, LARGEST};
    const char *how_names[] = {"a persistent send right after MPI_Start", "an MPI_Isend", "an MPI_Issend"};
    unsigned char *out = xmalloc(LARGEST), *in = xmalloc(LARGEST + GUARD);
    int round = 0;
    for (int how = 0; how < 3; how++)
        for (int s = 0; s < 2; s++)
            for (int sender_parity = 0; sender_parity < 2; sender_parity++, round++) {
                const size_t n = sizes[s];
                const int tag = 610 + round;
                const int sending = (world_rank & 1) == sender_parity;
                snprintf(context, sizeof context, "MPI_Request_free of %s of %zu B, %s", how_names[how], n,
                         sending ? "sending" : "receiving");
                if (sending) {
                    fill_bytes(out, n, key_of(world_rank, partner, 5, how, round));
                    MPI_Request request;
                    if (how == 0) {
                        MPI_OK(MPI_Send_init(out, (int)n, MPI_BYTE, partner, tag, MPI_COMM_WORLD, &request));
                        MPI_OK(MPI_Start(&request));
                    } else if (how == 1) {
                        MPI_OK(MPI_Isend(out, (int)n, MPI_BYTE, partner, tag, MPI_COMM_WORLD, &request));
                    } else {
                        MPI_OK(MPI_Issend(out, (int)n, MPI_BYTE, partner, tag, MPI_COMM_WORLD, &request));
                    }
                    MPI_OK(MPI_Request_free(&request));
                    CHECK(request == MPI_REQUEST_NULL, "[%s] MPI_Request_free left the handle", context);
                    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
                    /* The buffer may be reused only once the receiver says it has the bytes. */
                    MPI_OK(MPI_Recv(NULL, 0, MPI_BYTE, partner, 699, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
                } else {
                    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
                    memset(in, SENTINEL, n + GUARD);
                    MPI_Status status;
                    MPI_OK(MPI_Recv(in, (int)n, MPI_BYTE, partner, tag, MPI_COMM_WORLD, &status));
                    check_status(&status, partner, tag, MPI_BYTE, (int)n, "receive of a freed send");
                    check_pattern(in, n, key_of(partner, world_rank, 5, how, round), "receive of a freed send");
                    check_guard(in, n, "receive of a freed send");
                    MPI_OK(MPI_Send(NULL, 0, MPI_BYTE, partner, 699, MPI_COMM_WORLD));
                }
            }
    free(out);
    free(in);
    test_phase_done(phase);
}

/* ---- 6. MPI_Cancel of a started persistent receive ---- */

static void cancel_persistent(void) {
    begin_phase("MPI_Cancel of a started persistent receive");
    enum { N = 4096 };
    unsigned char *in = xmalloc(N + GUARD), *out = xmalloc(N);
    for (int variant = 0; variant < 2; variant++) {
        const int tag = 700 + variant;
        const int source = variant == 0 ? partner : MPI_ANY_SOURCE;
        const char *completion = variant == 0 ? "MPI_Wait" : "an MPI_Test loop";
        snprintf(context, sizeof context, "MPI_Cancel of MPI_Recv_init(%s), completed by %s",
                 variant == 0 ? "partner" : "MPI_ANY_SOURCE", completion);
        MPI_Request request, handle;
        MPI_OK(MPI_Recv_init(in, N, MPI_BYTE, source, tag, MPI_COMM_WORLD, &request));
        handle = request;
        memset(in, SENTINEL, N + GUARD);
        MPI_OK(MPI_Start(&request));
        MPI_OK(MPI_Cancel(&request));
        MPI_Status status;
        clear_status(&status);
        if (variant == 0) {
            MPI_OK(MPI_Wait(&request, &status));
        } else {
            const double deadline = MPI_Wtime() + POLL_SECONDS;
            int flag = 0;
            while (!flag) {
                MPI_OK(MPI_Test(&request, &flag, &status));
                CHECK(flag || MPI_Wtime() < deadline, "[%s] not complete after %.0f s", context, POLL_SECONDS);
            }
        }
        CHECK(request == handle, "[%s] completing the cancelled persistent receive changed its handle", context);
        int cancelled = 0;
        MPI_OK(MPI_Test_cancelled(&status, &cancelled));
        CHECK(cancelled, "[%s] MPI_Test_cancelled: false, expected true", context);
        for (int i = 0; i < N + GUARD; i++)
            CHECK(in[i] == SENTINEL, "[%s] the cancelled receive wrote byte %d (0x%02x)", context, i, in[i]);
        /* Only now is the message it could have matched sent; the same request receives it. */
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        snprintf(context, sizeof context, "the cancelled MPI_Recv_init(%s) started again",
                 variant == 0 ? "partner" : "MPI_ANY_SOURCE");
        MPI_OK(MPI_Start(&request));
        fill_bytes(out, N, key_of(world_rank, partner, 6, variant, 0));
        MPI_Request sent;
        MPI_OK(MPI_Isend(out, N, MPI_BYTE, partner, tag, MPI_COMM_WORLD, &sent));
        clear_status(&status);
        MPI_OK(MPI_Wait(&request, &status));
        check_status(&status, partner, tag, MPI_BYTE, N, "the restarted receive");
        cancelled = 1;
        MPI_OK(MPI_Test_cancelled(&status, &cancelled));
        CHECK(!cancelled, "[%s] MPI_Test_cancelled: true for a received message", context);
        check_pattern(in, N, key_of(partner, world_rank, 6, variant, 0), "the restarted receive");
        check_guard(in, N, "the restarted receive");
        MPI_OK(MPI_Wait(&sent, MPI_STATUS_IGNORE));
        MPI_OK(MPI_Request_free(&request));
    }
    free(in);
    free(out);
    test_phase_done(phase);
    if (world_rank == 0) printf("%s checked MPI_Cancel of persistent receives\n", test_name);
}

/* ---- 7. MPI_Isendrecv and MPI_Isendrecv_replace ---- */

static void isendrecv(int check_status_fields) {
    begin_phase("MPI_Isendrecv and MPI_Isendrecv_replace");
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    unsigned char *out = xmalloc(1048576), *in = xmalloc(1048576 + GUARD);
    int round = 0;
    for (int s = 0; s < SIZES; s++)
        for (int variant = 0; variant < 8; variant++, round++) {
            const size_t n = round_sizes[s];
            const int replace = variant & 1, ring = (variant >> 1) & 1, wildcard = (variant >> 2) & 1;
            const int to = ring ? right : partner, from = ring ? left : partner;
            const int tag = 800 + round;
            snprintf(context, sizeof context, "%s of %zu B, %s, %s", replace ? "MPI_Isendrecv_replace" : "MPI_Isendrecv",
                     n, ring ? "ring" : "pairs", wildcard ? "MPI_ANY_SOURCE, MPI_ANY_TAG" : "specific source and tag");
            MPI_Request request;
            memset(in, SENTINEL, n + GUARD);
            if (replace) {
                fill_bytes(in, n, key_of(world_rank, to, 7, variant, round));
                MPI_OK(MPI_Isendrecv_replace(in, (int)n, MPI_BYTE, to, tag, wildcard ? MPI_ANY_SOURCE : from,
                                             wildcard ? MPI_ANY_TAG : tag, MPI_COMM_WORLD, &request));
            } else {
                fill_bytes(out, n, key_of(world_rank, to, 7, variant, round));
                MPI_OK(MPI_Isendrecv(out, (int)n, MPI_BYTE, to, tag, in, (int)n, MPI_BYTE, wildcard ? MPI_ANY_SOURCE : from,
                                     wildcard ? MPI_ANY_TAG : tag, MPI_COMM_WORLD, &request));
            }
            MPI_Status status;
            clear_status(&status);
            if (round % 2 == 0) {
                MPI_OK(MPI_Wait(&request, &status));
            } else {
                const double deadline = MPI_Wtime() + POLL_SECONDS;
                int flag = 0;
                while (!flag) {
                    MPI_OK(MPI_Test(&request, &flag, &status));
                    CHECK(flag || MPI_Wtime() < deadline, "[%s] not complete after %.0f s", context, POLL_SECONDS);
                }
            }
            CHECK(request == MPI_REQUEST_NULL, "[%s] the completed request is not MPI_REQUEST_NULL", context);
            check_pattern(in, n, key_of(from, world_rank, 7, variant, round), "received bytes");
            check_guard(in, n, "received bytes");
            if (!replace) check_pattern(out, n, key_of(world_rank, to, 7, variant, round), "the send buffer afterwards");
            if (check_status_fields) check_status(&status, from, tag, MPI_BYTE, (int)n, "status");
            /* Each round's messages are matched before the next round's are sent. */
            MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        }
    free(out);
    free(in);
    test_phase_done(phase);
    if (check_status_fields && world_rank == 0) printf("%s checked MPI_Isendrecv statuses\n", test_name);
}

static int environment_flag(const char *name) {
    const char *value = getenv(name);
    return value != NULL && strcmp(value, "1") == 0;
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "p2p_persistent");
    start_watchdog();
    CHECK(world_size % 2 == 0, "needs an even number of ranks (pairs rank ^ 1), got %d", world_size);
    partner = world_rank ^ 1;
    MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_any_tag));
    MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_any_both));
    persistent_rounds();
    vector_requests();
    inactive_requests();
    get_status_of_persistent();
    request_free();
    if (environment_flag("P2P_CANCEL_PERSISTENT")) cancel_persistent();
    isendrecv(environment_flag("P2P_CHECK_ISENDRECV_STATUS"));
    MPI_OK(MPI_Comm_free(&comm_any_tag));
    MPI_OK(MPI_Comm_free(&comm_any_both));
    finish();
    return 0;
}
