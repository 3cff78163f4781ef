/*
 * Point-to-point requests among MPICH's own, in every completion call, and on every kind of
 * communicator.
 *   1. Arrays mixing MPI_Irecv / MPI_Isend requests with MPI_Ibarrier, MPI_Iallreduce, MPI_Ibcast
 *      and a started persistent MPI_Allreduce_init, with MPI_REQUEST_NULL entries, completed by
 *      MPI_Waitall, MPI_Waitany, MPI_Waitsome, MPI_Testall, MPI_Testany, MPI_Testsome (with
 *      statuses and MPI_STATUSES_IGNORE), MPI_Test one by one, and MPI_Request_get_status (which
 *      must not free the request; MPI_Wait then does). Every received byte, status, reduction and
 *      broadcast is checked; the completed index sets must be exact (no request reported twice,
 *      MPI_UNDEFINED once all are done).
 *   2. MPI_Bsend and MPI_Ibsend through MPI_Buffer_attach / MPI_Buffer_detach, the send buffers
 *      overwritten as soon as the calls return, the receives posted only after a barrier.
 *   3. Messages on communicators from MPI_Comm_dup, MPI_Comm_split (two colors), MPI_Comm_create,
 *      MPI_Comm_create_group, MPI_Cart_create, MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) and
 *      MPI_Dist_graph_create_adjacent, with the same tags on MPI_COMM_WORLD at the same time (and
 *      wildcard receives on both): no message may cross communicators.
 *   4. With --threads, under MPI_THREAD_MULTIPLE: two threads per rank each exchange 1000 messages
 *      with distinct tags with the same peer (rank ^ 1), one with MPI_Sendrecv, one in batches of
 *      10 MPI_Irecv + MPI_Isend completed by MPI_Waitall; without MPI_THREAD_MULTIPLE rank 0
 *      prints "p2p_requests threads skipped: ..." (the other phases run either way).
 * MPICH 4.0.2 mishandles persistent collective requests in completion arrays (MPI_Testall fails
 * on them, active or not; MPI_Waitany, MPI_Testany, MPI_Testsome and MPI_Waitsome report an
 * inactive one as completing again), so the persistent request leaves an array once it has
 * completed, and the MPI_Testall rounds complete it with MPI_Wait apart.
 * Each rank prints "p2p_requests ok rank=R", rank 0 then "PASS p2p_requests".
 */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

/* gcc 12 warns about MPI_STATUSES_IGNORE in MPI_Waitall and friends (a pointer constant it
 * takes for an empty array); passing it is what this program tests. */
#pragma GCC diagnostic ignored "-Wstringop-overflow"

#include "p2p_common.h"


static const double POLL_SECONDS = 30.0;

/* ---- 1. completion calls on mixed arrays ---- */

enum {
    SLOT_RECV_INTS, SLOT_NULL_A, SLOT_IBARRIER, SLOT_SEND_INTS, SLOT_IALLREDUCE, SLOT_PERSISTENT,
    SLOT_RECV_BYTES, SLOT_SEND_BYTES, SLOT_NULL_B, SLOT_IBCAST, SLOTS
};
enum { INTS = 1000, BYTES = 65536 + 40, REDUCED = 4, BCAST = 16 };

static const char *slot_names[SLOTS] = {"MPI_Irecv (ints)", "MPI_REQUEST_NULL", "MPI_Ibarrier", "MPI_Isend (ints)",
                                        "MPI_Iallreduce", "started MPI_Allreduce_init", "MPI_Irecv (bytes)",
                                        "MPI_Isend (bytes)", "MPI_REQUEST_NULL", "MPI_Ibcast"};

struct request_set {
    int round;
    MPI_Request requests[SLOTS];
    int active[SLOTS]; /* started and not yet reported complete */
    int *send_ints, *recv_ints;
    unsigned char *send_bytes, *recv_bytes;
    int reduce_in[REDUCED], reduce_out[REDUCED], bcast[BCAST];
};

static MPI_Request persistent;                 /* MPI_Allreduce_init of persistent_in */
static int persistent_in[2], persistent_out[2];

static void start_set(struct request_set *set, int round, int with_persistent) {
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    set->round = round;
    for (int i = 0; i < SLOTS; i++) {
        set->requests[i] = MPI_REQUEST_NULL;
        set->active[i] = 0;
    }
    const int tag = 10 * round;
    for (int i = 0; i < INTS; i++) {
        set->send_ints[i] = pattern_int(message_key(world_rank, right, 1, round), i);
        set->recv_ints[i] = -1;
    }
    fill_bytes(set->send_bytes, BYTES, message_key(world_rank, right, 2, round));
    memset(set->recv_bytes, SENTINEL, BYTES + GUARD);
    for (int i = 0; i < REDUCED; i++) {
        set->reduce_in[i] = world_rank * (i + 1) + round;
        set->reduce_out[i] = -1;
    }
    const int root = round % world_size;
    for (int i = 0; i < BCAST; i++) set->bcast[i] = world_rank == root ? pattern_int(message_key(root, 0, 3, round), i) : -1;
    snprintf(context, sizeof context, "round %d: starting the requests", round);
    MPI_OK(MPI_Irecv(set->recv_ints, INTS, MPI_INT, left, tag, MPI_COMM_WORLD, &set->requests[SLOT_RECV_INTS]));
    MPI_OK(MPI_Ibarrier(MPI_COMM_WORLD, &set->requests[SLOT_IBARRIER]));
    MPI_OK(MPI_Isend(set->send_ints, INTS, MPI_INT, right, tag, MPI_COMM_WORLD, &set->requests[SLOT_SEND_INTS]));
    MPI_OK(MPI_Iallreduce(set->reduce_in, set->reduce_out, REDUCED, MPI_INT, MPI_SUM, MPI_COMM_WORLD,
                          &set->requests[SLOT_IALLREDUCE]));
    if (with_persistent) {
        persistent_in[0] = world_rank + round;
        persistent_in[1] = 1;
        persistent_out[0] = persistent_out[1] = -1;
        MPI_OK(MPI_Start(&persistent));
        set->requests[SLOT_PERSISTENT] = persistent;
    }
    MPI_OK(MPI_Irecv(set->recv_bytes, BYTES, MPI_BYTE, left, tag + 1, MPI_COMM_WORLD, &set->requests[SLOT_RECV_BYTES]));
    MPI_OK(MPI_Isend(set->send_bytes, BYTES, MPI_BYTE, right, tag + 1, MPI_COMM_WORLD, &set->requests[SLOT_SEND_BYTES]));
    MPI_OK(MPI_Ibcast(set->bcast, BCAST, MPI_INT, root, MPI_COMM_WORLD, &set->requests[SLOT_IBCAST]));
    for (int i = 0; i < SLOTS; i++) set->active[i] = set->requests[i] != MPI_REQUEST_NULL;
}

/* Slot `i` was reported complete (with `status`, or NULL when the call took MPI_STATUS(ES)_IGNORE). */
static void completed(struct request_set *set, int i, const MPI_Status *status, const char *call) {
    const int left = left_of(world_rank, world_size);
    CHECK(i >= 0 && i < SLOTS, "round %d, %s: index %d out of range", set->round, call, i);
    snprintf(context, sizeof context, "round %d, %s: slot %d (%s)", set->round, call, i, slot_names[i]);
    CHECK(set->active[i], "[%s] reported complete, but it is %s", context,
          i == SLOT_NULL_A || i == SLOT_NULL_B ? "MPI_REQUEST_NULL" : "already complete");
    set->active[i] = 0;
    if (i == SLOT_PERSISTENT) {
        /* A persistent request stays allocated, inactive; the array slot is cleared (see top). */
        CHECK(set->requests[i] == persistent, "[%s] the persistent request handle changed", context);
        set->requests[i] = MPI_REQUEST_NULL;
    } else {
        CHECK(set->requests[i] == MPI_REQUEST_NULL, "[%s] the completed request is not MPI_REQUEST_NULL", context);
    }
    if (status && i == SLOT_RECV_INTS) check_status(status, left, 10 * set->round, MPI_INT, INTS, "status");
    if (status && i == SLOT_RECV_BYTES) check_status(status, left, 10 * set->round + 1, MPI_BYTE, BYTES, "status");
}

static void check_results(struct request_set *set) {
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    const int round = set->round;
    for (int i = 0; i < SLOTS; i++)
        CHECK(!set->active[i], "round %d: slot %d (%s) was never reported complete", round, i, slot_names[i]);
    snprintf(context, sizeof context, "round %d: results", round);
    for (int i = 0; i < INTS; i++) {
        int expected = pattern_int(message_key(left, world_rank, 1, round), i);
        if (set->recv_ints[i] != expected)
            FAIL_IN("[%s] received int %d: expected %d, got %d", context, i, expected, set->recv_ints[i]);
        CHECK(set->send_ints[i] == pattern_int(message_key(world_rank, right, 1, round), i),
              "[%s] send buffer changed at %d", context, i);
    }
    check_pattern(set->recv_bytes, BYTES, message_key(left, world_rank, 2, round), "received bytes");
    check_guard(set->recv_bytes, BYTES, "bytes after the received ones");
    for (int i = 0; i < REDUCED; i++) {
        long long expected = 0;
        for (int r = 0; r < world_size; r++) expected += r * (i + 1) + round;
        CHECK_EQ_LL(set->reduce_out[i], expected, "MPI_Iallreduce result");
    }
    const int root = round % world_size;
    for (int i = 0; i < BCAST; i++) CHECK_EQ_LL(set->bcast[i], pattern_int(message_key(root, 0, 3, round), i), "MPI_Ibcast");
}

static void check_persistent(int round) {
    long long expected = 0;
    for (int r = 0; r < world_size; r++) expected += r + round;
    CHECK_EQ_LL(persistent_out[0], expected, "MPI_Allreduce_init result (element 0)");
    CHECK_EQ_LL(persistent_out[1], world_size, "MPI_Allreduce_init result (element 1)");
    CHECK(persistent != MPI_REQUEST_NULL, "round %d: the persistent request was freed by its completion", round);
}

static int any_active(const struct request_set *set) {
    for (int i = 0; i < SLOTS; i++)
        if (set->active[i]) return 1;
    return 0;
}

enum Completion {
    C_WAITALL, C_WAITALL_IGNORE, C_WAITANY, C_WAITSOME, C_WAITSOME_IGNORE, C_TESTALL, C_TESTALL_IGNORE, C_TESTANY,
    C_TESTSOME, C_TESTSOME_IGNORE, C_TEST_EACH, C_GET_STATUS, COMPLETIONS
};
static const char *completion_names[COMPLETIONS] = {
    "MPI_Waitall", "MPI_Waitall(MPI_STATUSES_IGNORE)", "MPI_Waitany", "MPI_Waitsome",
    "MPI_Waitsome(MPI_STATUSES_IGNORE)", "MPI_Testall", "MPI_Testall(MPI_STATUSES_IGNORE)", "MPI_Testany",
    "MPI_Testsome", "MPI_Testsome(MPI_STATUSES_IGNORE)", "MPI_Test one by one", "MPI_Request_get_status + MPI_Wait"};

static void complete_set(struct request_set *set, int how) {
    const char *call = completion_names[how];
    MPI_Status statuses[SLOTS], status;
    int indices[SLOTS], outcount, index, flag;
    const double deadline = MPI_Wtime() + POLL_SECONDS;
    snprintf(context, sizeof context, "round %d: %s", set->round, call);
    switch (how) {
    case C_WAITALL:
    case C_WAITALL_IGNORE:
        MPI_OK(MPI_Waitall(SLOTS, set->requests, how == C_WAITALL ? statuses : MPI_STATUSES_IGNORE));
        for (int i = 0; i < SLOTS; i++)
            if (set->active[i]) completed(set, i, how == C_WAITALL ? &statuses[i] : NULL, call);
        break;
    case C_WAITANY:
        for (int calls = 0;; calls++) {
            CHECK(calls <= SLOTS, "[%s] more calls than requests", context);
            MPI_OK(MPI_Waitany(SLOTS, set->requests, &index, &status));
            if (index == MPI_UNDEFINED) break;
            completed(set, index, &status, call);
        }
        break;
    case C_WAITSOME:
    case C_WAITSOME_IGNORE:
        for (int calls = 0;; calls++) {
            CHECK(calls <= SLOTS, "[%s] more calls than requests", context);
            MPI_OK(MPI_Waitsome(SLOTS, set->requests, &outcount, indices,
                                how == C_WAITSOME ? statuses : MPI_STATUSES_IGNORE));
            if (outcount == MPI_UNDEFINED) break;
            CHECK(outcount > 0, "[%s] returned %d requests", context, outcount);
            for (int k = 0; k < outcount; k++) completed(set, indices[k], how == C_WAITSOME ? &statuses[k] : NULL, call);
        }
        break;
    case C_TESTALL:
    case C_TESTALL_IGNORE:
        flag = 0;
        while (!flag) {
            MPI_OK(MPI_Testall(SLOTS, set->requests, &flag, how == C_TESTALL ? statuses : MPI_STATUSES_IGNORE));
            CHECK(flag || MPI_Wtime() < deadline, "[%s] not complete after %.0f s", context, POLL_SECONDS);
        }
        for (int i = 0; i < SLOTS; i++)
            if (set->active[i]) completed(set, i, how == C_TESTALL ? &statuses[i] : NULL, call);
        break;
    case C_TESTANY:
        for (;;) {
            MPI_OK(MPI_Testany(SLOTS, set->requests, &index, &flag, &status));
            CHECK(flag || MPI_Wtime() < deadline, "[%s] not complete after %.0f s", context, POLL_SECONDS);
            if (!flag) {
                CHECK(index == MPI_UNDEFINED, "[%s] flag false with index %d", context, index);
                continue;
            }
            if (index == MPI_UNDEFINED) break;
            completed(set, index, &status, call);
        }
        break;
    case C_TESTSOME:
    case C_TESTSOME_IGNORE:
        for (;;) {
            MPI_OK(MPI_Testsome(SLOTS, set->requests, &outcount, indices,
                                how == C_TESTSOME ? statuses : MPI_STATUSES_IGNORE));
            if (outcount == MPI_UNDEFINED) break;
            CHECK(outcount > 0 || MPI_Wtime() < deadline, "[%s] not complete after %.0f s", context, POLL_SECONDS);
            for (int k = 0; k < outcount; k++) completed(set, indices[k], how == C_TESTSOME ? &statuses[k] : NULL, call);
        }
        break;
    case C_TEST_EACH:
        while (any_active(set)) {
            for (int i = 0; i < SLOTS; i++) {
                if (!set->active[i]) continue;
                MPI_OK(MPI_Test(&set->requests[i], &flag, &status));
                if (flag) completed(set, i, &status, call);
            }
            CHECK(!any_active(set) || MPI_Wtime() < deadline, "[%s] not complete after %.0f s", context, POLL_SECONDS);
        }
        /* MPI_Test of MPI_REQUEST_NULL: flag true, an empty status. */
        MPI_OK(MPI_Test(&set->requests[SLOT_NULL_A], &flag, &status));
        CHECK(flag && status.MPI_SOURCE == MPI_ANY_SOURCE && status.MPI_TAG == MPI_ANY_TAG,
              "[%s] MPI_Test(MPI_REQUEST_NULL): flag %d source %d tag %d, expected 1, MPI_ANY_SOURCE, MPI_ANY_TAG",
              context, flag, status.MPI_SOURCE, status.MPI_TAG);
        break;
    case C_GET_STATUS:
        for (int i = 0; i < SLOTS; i++) {
            snprintf(context, sizeof context, "round %d: %s, slot %d (%s)", set->round, call, i, slot_names[i]);
            MPI_Request before = set->requests[i];
            flag = 0;
            while (!flag) {
                MPI_OK(MPI_Request_get_status(set->requests[i], &flag, &status));
                CHECK(flag || MPI_Wtime() < deadline, "[%s] not complete after %.0f s", context, POLL_SECONDS);
            }
            CHECK(set->requests[i] == before, "[%s] MPI_Request_get_status changed the request", context);
            if (!set->active[i]) {
                /* MPI_REQUEST_NULL: flag true and an empty status. */
                int count = -1;
                MPI_OK(MPI_Get_count(&status, MPI_INT, &count));
                CHECK(status.MPI_SOURCE == MPI_ANY_SOURCE && status.MPI_TAG == MPI_ANY_TAG && count == 0,
                      "[%s] status of MPI_REQUEST_NULL: source %d tag %d count %d, expected MPI_ANY_SOURCE, "
                      "MPI_ANY_TAG, 0", context, status.MPI_SOURCE, status.MPI_TAG, count);
                continue;
            }
            CHECK(set->requests[i] != MPI_REQUEST_NULL, "[%s] MPI_Request_get_status freed the request", context);
            MPI_Status again;
            MPI_OK(MPI_Request_get_status(set->requests[i], &flag, &again));
            CHECK(flag, "[%s] a second MPI_Request_get_status says not complete", context);
            MPI_Status waited;
            MPI_OK(MPI_Wait(&set->requests[i], &waited));
            if (i == SLOT_RECV_INTS || i == SLOT_RECV_BYTES) {
                int c1 = -1, c2 = -1;
                MPI_OK(MPI_Get_count(&status, MPI_BYTE, &c1));
                MPI_OK(MPI_Get_count(&waited, MPI_BYTE, &c2));
                CHECK(status.MPI_SOURCE == waited.MPI_SOURCE && status.MPI_TAG == waited.MPI_TAG && c1 == c2,
                      "[%s] MPI_Request_get_status said source %d tag %d, %d bytes; MPI_Wait source %d tag %d, %d bytes",
                      context, status.MPI_SOURCE, status.MPI_TAG, c1, waited.MPI_SOURCE, waited.MPI_TAG, c2);
            }
            completed(set, i, &status, call);
        }
        break;
    }
}

static void completion_calls(void) {
    begin_phase("completion calls on mixed arrays");
    struct request_set set;
    set.send_ints = xmalloc(sizeof(int) * INTS);
    set.recv_ints = xmalloc(sizeof(int) * INTS);
    set.send_bytes = xmalloc(BYTES);
    set.recv_bytes = xmalloc(BYTES + GUARD);
    MPI_OK(MPI_Allreduce_init(persistent_in, persistent_out, 2, MPI_INT, MPI_SUM, MPI_COMM_WORLD, MPI_INFO_NULL,
                              &persistent));
    int round = 0;
    for (int repeat = 0; repeat < 2; repeat++) {
        for (int how = 0; how < COMPLETIONS; how++, round++) {
            const int testall = how == C_TESTALL || how == C_TESTALL_IGNORE;
            start_set(&set, round, !testall);
            if (testall) { /* the persistent request apart (see the top of the file) */
                persistent_in[0] = world_rank + round;
                persistent_in[1] = 1;
                MPI_OK(MPI_Start(&persistent));
            }
            complete_set(&set, how);
            if (testall) MPI_OK(MPI_Wait(&persistent, MPI_STATUS_IGNORE));
            check_results(&set);
            check_persistent(round);
        }
    }
    MPI_OK(MPI_Request_free(&persistent));
    CHECK(persistent == MPI_REQUEST_NULL, "MPI_Request_free left the persistent request set");
    free(set.send_ints);
    free(set.recv_ints);
    free(set.send_bytes);
    free(set.recv_bytes);
    test_phase_done("completion calls");
}

/* ---- 2. buffered sends ---- */

static void buffered_sends(void) {
    begin_phase("MPI_Bsend / MPI_Ibsend");
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    enum { MESSAGES = 8 };
    const int sizes[MESSAGES] = {16, 1000, 100000, 0, 5000, 300000, 8, 64};
    int attached_size = 0, largest = 0;
    for (int k = 0; k < MESSAGES; k++) {
        attached_size += sizes[k] + MPI_BSEND_OVERHEAD;
        if (sizes[k] > largest) largest = sizes[k];
    }
    unsigned char *attached = xmalloc((size_t)attached_size);
    unsigned char *out = xmalloc((size_t)largest), *in = xmalloc((size_t)largest + GUARD);
    MPI_OK(MPI_Buffer_attach(attached, attached_size));
    for (int k = 0; k < MESSAGES; k++) {
        snprintf(context, sizeof context, "%s of %d bytes (message %d) to rank %d", k < 4 ? "MPI_Bsend" : "MPI_Ibsend",
                 sizes[k], k, right);
        fill_bytes(out, (size_t)sizes[k], message_key(world_rank, right, k, 90));
        if (k < 4) {
            MPI_OK(MPI_Bsend(sizes[k] ? out : NULL, sizes[k], MPI_BYTE, right, 1000 + k, MPI_COMM_WORLD));
        } else {
            MPI_Request request;
            MPI_OK(MPI_Ibsend(sizes[k] ? out : NULL, sizes[k], MPI_BYTE, right, 1000 + k, MPI_COMM_WORLD, &request));
            /* A buffered send completes locally: before the receiver has posted anything. */
            MPI_OK(MPI_Wait(&request, MPI_STATUS_IGNORE));
        }
        memset(out, 0xEE, (size_t)largest); /* the message is in the attached buffer now */
    }
    snprintf(context, sizeof context, "MPI_Barrier before the receives of the buffered messages");
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    for (int k = MESSAGES - 1; k >= 0; k--) {
        snprintf(context, sizeof context, "receive of buffered message %d (%d bytes) from rank %d", k, sizes[k], left);
        memset(in, SENTINEL, (size_t)largest + GUARD);
        MPI_Status status;
        MPI_OK(MPI_Recv(in, largest, MPI_BYTE, left, 1000 + k, MPI_COMM_WORLD, &status));
        check_status(&status, left, 1000 + k, MPI_BYTE, sizes[k], "status");
        check_pattern(in, (size_t)sizes[k], message_key(left, world_rank, k, 90), "buffered message");
        check_guard(in, (size_t)sizes[k], "bytes after the buffered message");
    }
    void *detached = NULL;
    int detached_size = -1;
    snprintf(context, sizeof context, "MPI_Buffer_detach");
    MPI_OK(MPI_Buffer_detach(&detached, &detached_size));
    CHECK(detached == attached && detached_size == attached_size,
          "MPI_Buffer_detach returned %p (%d bytes), attached %p (%d bytes)", detached, detached_size, (void *)attached,
          attached_size);
    free(attached);
    free(out);
    free(in);
    test_phase_done("buffered sends");
}

/* ---- 3. communicators ---- */

enum { WORLD_BYTES = 1000, COMM_BYTES = 100000, COMM_TAG = 5 };

/* On `comm` (MPI_COMM_NULL where this rank is no member), messages to `to` from `from` (ranks in
 * comm), while MPI_COMM_WORLD carries messages of the same tags to the right neighbour. In this
 * phase only `from` sends to this rank on `comm` and only the left neighbour on MPI_COMM_WORLD,
 * one message a variant each, so even the wildcard receives have exactly one candidate: the
 * earliest one of that sender on that communicator. */
static void exchange_on(MPI_Comm comm, int id, const char *name, int from, int to) {
    const int right = right_of(world_rank, world_size), left = left_of(world_rank, world_size);
    const int member = comm != MPI_COMM_NULL;
    int comm_rank = -1;
    if (member) MPI_OK(MPI_Comm_rank(comm, &comm_rank));
    unsigned char *world_out = xmalloc(WORLD_BYTES), *world_in = xmalloc(WORLD_BYTES + GUARD);
    unsigned char *comm_out = xmalloc(COMM_BYTES), *comm_in = xmalloc(COMM_BYTES + GUARD);
    for (int variant = 0; variant < 3; variant++) {
        /* 0: world's receive posted first, the communicator's message sent first; 1: the reverse;
         * 2: MPI_ANY_SOURCE + MPI_ANY_TAG receives on both. */
        snprintf(context, sizeof context, "%s (rank %d of it, from %d, to %d), variant %d", name, comm_rank, from, to,
                 variant);
        const uint32_t round = (uint32_t)(100 + id * 3 + variant);
        fill_bytes(world_out, WORLD_BYTES, message_key(world_rank, right, 0, (int)round));
        fill_bytes(comm_out, COMM_BYTES, message_key(comm_rank, to, 1, (int)round));
        memset(world_in, SENTINEL, WORLD_BYTES + GUARD);
        memset(comm_in, SENTINEL, COMM_BYTES + GUARD);
        MPI_Request requests[4];
        MPI_Status statuses[4];
        const int source_world = variant == 2 ? MPI_ANY_SOURCE : left, source_comm = variant == 2 ? MPI_ANY_SOURCE : from;
        const int tag = variant == 2 ? MPI_ANY_TAG : COMM_TAG;
        for (int i = 0; i < 4; i++) requests[i] = MPI_REQUEST_NULL;
        if (variant != 1) {
            MPI_OK(MPI_Irecv(world_in, WORLD_BYTES, MPI_BYTE, source_world, tag, MPI_COMM_WORLD, &requests[0]));
            if (member) MPI_OK(MPI_Irecv(comm_in, COMM_BYTES, MPI_BYTE, source_comm, tag, comm, &requests[1]));
            if (member) MPI_OK(MPI_Isend(comm_out, COMM_BYTES, MPI_BYTE, to, COMM_TAG, comm, &requests[3]));
            MPI_OK(MPI_Isend(world_out, WORLD_BYTES, MPI_BYTE, right, COMM_TAG, MPI_COMM_WORLD, &requests[2]));
        } else {
            if (member) MPI_OK(MPI_Irecv(comm_in, COMM_BYTES, MPI_BYTE, source_comm, tag, comm, &requests[1]));
            MPI_OK(MPI_Irecv(world_in, WORLD_BYTES, MPI_BYTE, source_world, tag, MPI_COMM_WORLD, &requests[0]));
            MPI_OK(MPI_Isend(world_out, WORLD_BYTES, MPI_BYTE, right, COMM_TAG, MPI_COMM_WORLD, &requests[2]));
            if (member) MPI_OK(MPI_Isend(comm_out, COMM_BYTES, MPI_BYTE, to, COMM_TAG, comm, &requests[3]));
        }
        MPI_OK(MPI_Waitall(4, requests, statuses));
        check_status(&statuses[0], left, COMM_TAG, MPI_BYTE, WORLD_BYTES, "MPI_COMM_WORLD receive");
        check_pattern(world_in, WORLD_BYTES, message_key(left, world_rank, 0, (int)round),
                      "MPI_COMM_WORLD message (a communicator's message here means they crossed)");
        check_guard(world_in, WORLD_BYTES, "after the MPI_COMM_WORLD message");
        if (member) {
            check_status(&statuses[1], from, COMM_TAG, MPI_BYTE, COMM_BYTES, "communicator receive");
            check_pattern(comm_in, COMM_BYTES, message_key(from, comm_rank, 1, (int)round),
                          "communicator message (MPI_COMM_WORLD's message here means they crossed)");
            check_guard(comm_in, COMM_BYTES, "after the communicator message");
        }
    }
    free(world_out);
    free(world_in);
    free(comm_out);
    free(comm_in);
}

/* The ring neighbours within `comm`. */
static void ring_in(MPI_Comm comm, int *from, int *to) {
    int rank, size;
    MPI_OK(MPI_Comm_rank(comm, &rank));
    MPI_OK(MPI_Comm_size(comm, &size));
    *from = (rank + size - 1) % size;
    *to = (rank + 1) % size;
}

static void communicators(void) {
    begin_phase("communicators");
    MPI_Comm comm;
    int from, to;

    MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &comm));
    ring_in(comm, &from, &to);
    exchange_on(comm, 0, "MPI_Comm_dup", from, to);
    MPI_OK(MPI_Comm_free(&comm));

    /* Two colors, ranked in reverse. */
    MPI_OK(MPI_Comm_split(MPI_COMM_WORLD, world_rank % 2, world_size - world_rank, &comm));
    ring_in(comm, &from, &to);
    exchange_on(comm, 1, "MPI_Comm_split (two colors)", from, to);
    MPI_OK(MPI_Comm_free(&comm));

    MPI_Group world_group, even_group, odd_group;
    MPI_OK(MPI_Comm_group(MPI_COMM_WORLD, &world_group));
    int *members = xmalloc(sizeof(int) * (size_t)world_size), evens = 0, odds = 0;
    for (int r = 0; r < world_size; r += 2) members[evens++] = r;
    MPI_OK(MPI_Group_incl(world_group, evens, members, &even_group));
    for (int r = 1; r < world_size; r += 2) members[odds++] = r;
    MPI_OK(MPI_Group_incl(world_group, odds, members, &odd_group));

    MPI_OK(MPI_Comm_create(MPI_COMM_WORLD, even_group, &comm));
    CHECK((comm != MPI_COMM_NULL) == (world_rank % 2 == 0), "MPI_Comm_create of the even ranks gave %s",
          comm == MPI_COMM_NULL ? "MPI_COMM_NULL" : "a communicator");
    if (comm != MPI_COMM_NULL) ring_in(comm, &from, &to);
    exchange_on(comm, 2, "MPI_Comm_create (even ranks)", from, to);
    if (comm != MPI_COMM_NULL) MPI_OK(MPI_Comm_free(&comm));

    comm = MPI_COMM_NULL;
    if (world_rank % 2 == 1) {
        MPI_OK(MPI_Comm_create_group(MPI_COMM_WORLD, odd_group, 33, &comm));
        ring_in(comm, &from, &to);
    }
    exchange_on(comm, 3, "MPI_Comm_create_group (odd ranks)", from, to);
    if (comm != MPI_COMM_NULL) MPI_OK(MPI_Comm_free(&comm));
    MPI_OK(MPI_Group_free(&even_group));
    MPI_OK(MPI_Group_free(&odd_group));
    MPI_OK(MPI_Group_free(&world_group));
    free(members);

    int dims[1] = {world_size}, periods[1] = {1};
    MPI_OK(MPI_Cart_create(MPI_COMM_WORLD, 1, dims, periods, 0, &comm));
    MPI_OK(MPI_Cart_shift(comm, 0, 1, &from, &to));
    exchange_on(comm, 4, "MPI_Cart_create (periodic ring)", from, to);
    MPI_OK(MPI_Comm_free(&comm));

    MPI_OK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &comm));
    ring_in(comm, &from, &to);
    exchange_on(comm, 5, "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)", from, to);
    MPI_OK(MPI_Comm_free(&comm));

    int sources[1] = {left_of(world_rank, world_size)}, destinations[1] = {right_of(world_rank, world_size)};
    MPI_OK(MPI_Dist_graph_create_adjacent(MPI_COMM_WORLD, 1, sources, MPI_UNWEIGHTED, 1, destinations, MPI_UNWEIGHTED,
                                          MPI_INFO_NULL, 0, &comm));
    int indegree = -1, outdegree = -1, weighted = -1;
    MPI_OK(MPI_Dist_graph_neighbors_count(comm, &indegree, &outdegree, &weighted));
    CHECK(indegree == 1 && outdegree == 1, "MPI_Dist_graph_neighbors_count: %d in, %d out", indegree, outdegree);
    MPI_OK(MPI_Dist_graph_neighbors(comm, 1, &from, MPI_UNWEIGHTED, 1, &to, MPI_UNWEIGHTED));
    exchange_on(comm, 6, "MPI_Dist_graph_create_adjacent (ring)", from, to);
    MPI_OK(MPI_Comm_free(&comm));
    test_phase_done("communicators");
}

/* ---- 4. two threads under MPI_THREAD_MULTIPLE ---- */

enum { THREAD_MESSAGES = 1000 };

static int thread_peer;

static size_t thread_size(int i) { return 4 + (size_t)(i % 7) * 700; }
enum { THREAD_MAX = 4 + 6 * 700, BATCH = 10 };

static void check_thread_message(int thread, int i, int tag, const unsigned char *in, const MPI_Status *status) {
    const size_t size = thread_size(i);
    char what[128];
    snprintf(what, sizeof what, "thread %d message %d (tag %d, %zu bytes) from rank %d", thread, i, tag, size,
             thread_peer);
    int count = -1;
    MPI_OK(MPI_Get_count(status, MPI_BYTE, &count));
    CHECK(status->MPI_SOURCE == thread_peer && status->MPI_TAG == tag && (size_t)count == size,
          "%s: status source %d tag %d count %d", what, status->MPI_SOURCE, status->MPI_TAG, count);
    for (size_t b = 0; b < size; b++) {
        unsigned char expected = pattern_byte(message_key(thread_peer, world_rank, thread, i), b);
        CHECK(in[b] == expected, "%s: byte %zu: expected 0x%02x, got 0x%02x", what, b, expected, in[b]);
    }
    for (size_t b = size; b < size + GUARD; b++)
        CHECK(in[b] == SENTINEL, "%s: byte %zu after the message overwritten", what, b - size);
}

/* Thread 0: MPI_Sendrecv, one message at a time. Thread 1: batches of MPI_Irecv + MPI_Isend,
 * completed by one MPI_Waitall. Tags 2000 + 2i + thread: distinct between the threads. */
static void *thread_exchange(void *arg) {
    const int thread = (int)(intptr_t)arg;
    static unsigned char out[2][BATCH][THREAD_MAX], in[2][BATCH][THREAD_MAX + GUARD];
    const int batch = thread == 0 ? 1 : BATCH;
    for (int first = 0; first < THREAD_MESSAGES; first += batch) {
        MPI_Request requests[2 * BATCH];
        MPI_Status statuses[2 * BATCH];
        for (int j = 0; j < batch; j++) {
            const int i = first + j, tag = 2000 + 2 * i + thread;
            fill_bytes(out[thread][j], thread_size(i), message_key(world_rank, thread_peer, thread, i));
            memset(in[thread][j], SENTINEL, THREAD_MAX + GUARD);
            if (thread == 0) {
                MPI_OK(MPI_Sendrecv(out[thread][j], (int)thread_size(i), MPI_BYTE, thread_peer, tag, in[thread][j],
                                    THREAD_MAX, MPI_BYTE, thread_peer, tag, MPI_COMM_WORLD, &statuses[0]));
            } else {
                MPI_OK(MPI_Irecv(in[thread][j], THREAD_MAX, MPI_BYTE, thread_peer, tag, MPI_COMM_WORLD, &requests[j]));
                MPI_OK(MPI_Isend(out[thread][j], (int)thread_size(i), MPI_BYTE, thread_peer, tag, MPI_COMM_WORLD,
                                 &requests[batch + j]));
            }
        }
        if (thread == 1) MPI_OK(MPI_Waitall(2 * batch, requests, statuses));
        for (int j = 0; j < batch; j++)
            check_thread_message(thread, first + j, 2000 + 2 * (first + j) + thread, in[thread][j], &statuses[j]);
    }
    return NULL;
}

static void threads(int provided) {
    begin_phase("two threads");
    if (provided != MPI_THREAD_MULTIPLE) {
        if (world_rank == 0) printf("p2p_requests threads skipped: MPI_Init_thread provided %d, not MPI_THREAD_MULTIPLE\n", provided);
        return;
    }
    thread_peer = world_rank ^ 1;
    if (thread_peer < world_size) {
        snprintf(context, sizeof context, "two threads exchanging with rank %d", thread_peer);
        pthread_t workers[2];
        for (int t = 0; t < 2; t++)
            CHECK(pthread_create(&workers[t], NULL, thread_exchange, (void *)(intptr_t)t) == 0, "pthread_create failed");
        for (int t = 0; t < 2; t++) pthread_join(workers[t], NULL);
    }
    test_phase_done("two threads");
}

int main(int argc, char **argv) {
    int with_threads = 0;
    for (int a = 1; a < argc; a++)
        if (strcmp(argv[a], "--threads") == 0) with_threads = 1;
    int provided = MPI_THREAD_SINGLE;
    if (with_threads) {
        /* test_init, with MPI_Init_thread. */
        test_name = "p2p_requests";
        MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
        MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
        MPI_Comm_size(MPI_COMM_WORLD, &world_size);
        phase_start = MPI_Wtime();
        setvbuf(stdout, NULL, _IOLBF, 0);
    } else {
        test_init(&argc, &argv, "p2p_requests");
    }
    start_watchdog();
    completion_calls();
    buffered_sends();
    communicators();
    if (with_threads) threads(provided);
    finish();
    return 0;
}
