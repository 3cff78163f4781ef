/*
 * Served blocking collectives interleaved, on one communicator, with the collectives the library
 * hands to MPICH: nonblocking ones and MPI-4 persistent ones. MPI only asks that every member
 * starts a communicator's collectives (blocking, nonblocking or persistent) in the same order, so
 * a nonblocking collective may stay pending across any number of blocking ones:
 *   1. MPI_Iallreduce pending across MPI_Bcast and MPI_Allreduce;
 *   2. MPI_Ibarrier and MPI_Ireduce pending across MPI_Barrier and MPI_Reduce (MPI_IN_PLACE on
 *      every other iteration), completed with MPI_Waitall;
 *   3. MPI_Ibcast and MPI_Ialltoall pending across MPI_Alltoall and MPI_Allgather, completed
 *      together or one by one in reverse order;
 *   4. persistent MPI_Allreduce_init / MPI_Bcast_init requests (made once per communicator)
 *      started every iteration, alone and with MPI_Startall, blocking collectives between start
 *      and wait;
 *   5. MPI_Iallgather and MPI_Iscan pending across MPI_Scan, completed by an MPI_Testall loop;
 *   6. a blocking MPI_Allreduce's result fed into an MPI_Iallreduce, pending across MPI_Bcast and
 *      MPI_Alltoall (a stale result shows twice);
 * on MPI_COMM_WORLD, a dup of it and an even/odd split in reversed rank order; on the dup and the
 * split an MPI_Iallreduce on MPI_COMM_WORLD also stays pending across a whole iteration. Each
 * communicator's first served call comes while nonblocking collectives are pending on it: that
 * call registers the communicator with the library, which itself calls MPICH on it (a broadcast,
 * or on several regions two splits). Then fresh dups whose first calls are nonblocking, again;
 * with --window, then MPI_COMM_WORLD and a new dup once more with an MPI_Win_create window open
 * (the library's progress agent running, which changes how its MPI_Wait, MPI_Waitall and
 * MPI_Barrier wait).
 *
 * Values depend on the communicator, the iteration, the call, the member and the element, so a
 * result swapped between two pending calls, or left from an earlier iteration, is caught. Every
 * result is checked exactly; a mismatch aborts naming the communicator, iteration, step and call.
 * With --digest, rank 0 prints "digest H" over every result (common.h), equal under any two
 * correct MPIs. Every other call of a kind crosses the library's 32 KiB slots (or its all-to-all lanes).
 */
#include "common.h"

enum { SMALL = 3, LARGE = 9000, PIECE_SMALL = 2, PIECE_LARGE = 5000, PERSISTENT_COUNT = 8200 };

/* One communicator under test. */
typedef struct {
    MPI_Comm comm;
    const char *name;
    int rank, size;
    int salt; /* tells this communicator's values from another's */
    int it;   /* the current iteration */
    const char *step;
#if MPI_VERSION >= 4
    /* [0]: MPI_Allreduce_init(MPI_SUM) of persistent_send into persistent_recv; [1]: MPI_Bcast_init
     * of persistent_bcast from persistent_root. */
    MPI_Request persistent[2];
    int *persistent_send, *persistent_recv, *persistent_bcast;
    int persistent_root;
#endif
} ctx_t;

static ctx_t make_ctx(MPI_Comm comm, const char *name, int salt) {
    ctx_t c = {.comm = comm, .name = name, .salt = salt};
    MPI_OK(MPI_Comm_rank(comm, &c.rank));
    MPI_OK(MPI_Comm_size(comm, &c.size));
    return c;
}

/* What member `rank` contributes at element `i` of call `tag` in the current iteration: below
 * 2^24, so a sum over 8 members, times 8 again (step 6), fits an int. */
static int value(const ctx_t *c, int tag, int rank, int i) {
    uint32_t x = (uint32_t)c->salt * 0x9E3779B1u + (uint32_t)c->it * 0x85EBCA77u + (uint32_t)tag * 0xC2B2AE3Du +
                 (uint32_t)rank * 0x27D4EB2Fu + (uint32_t)i * 0x165667B1u;
    x ^= x >> 15;
    x *= 0x2C1B3C6Du;
    x ^= x >> 12;
    x *= 0x297A2D39u;
    x ^= x >> 15;
    return (int)(x & 0xFFFFFF) + 1;
}

static int *filled(const ctx_t *c, int tag, int rank, int n) {
    int *buf = xmalloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) buf[i] = value(c, tag, rank, i);
    return buf;
}

static int *blank(int n) {
    int *buf = xmalloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) buf[i] = -1;
    return buf;
}

typedef enum { R_SUM, R_MAX, R_BXOR } reduction_t;

/* For MPI_Waitall and MPI_Testall (gcc 12 warns about MPI_STATUSES_IGNORE there). */
static MPI_Status statuses[2];

/* Members 0..<contributors' inputs of call `tag`, combined. */
static int *reduced(const ctx_t *c, reduction_t r, int tag, int contributors, int n) {
    int *out = xmalloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) {
        int acc = value(c, tag, 0, i);
        for (int m = 1; m < contributors; m++) {
            const int v = value(c, tag, m, i);
            acc = r == R_SUM ? acc + v : r == R_MAX ? (v > acc ? v : acc) : acc ^ v;
        }
        out[i] = acc;
    }
    return out;
}

/* What member `for_rank` receives from an allgather (alltoall = 0) or all-to-all of call `tag`,
 * `count` elements a piece: piece m is member m's values (for an all-to-all, those at its piece
 * for `for_rank`). */
static int *gathered(const ctx_t *c, int tag, int count, int for_rank, int alltoall) {
    int *out = xmalloc(sizeof(int) * (size_t)count * (size_t)c->size);
    for (int m = 0; m < c->size; m++)
        for (int i = 0; i < count; i++)
            out[m * count + i] = value(c, tag, m, alltoall ? for_rank * count + i : i);
    return out;
}

/* Compares, names the first mismatch with the communicator, iteration, step and call; folds the
 * result into the digest. Frees `expected`. */
static void check_at(const char *file, int line, const ctx_t *c, const char *call, const int *found, int *expected,
                     int n) {
    for (int i = 0; i < n; i++) {
        if (found[i] != expected[i])
            test_fail(file, line, "%s, iteration %d, step \"%s\": %s: element %d of %d: expected %d, found %d", c->name,
                      c->it, c->step, call, i, n, expected[i], found[i]);
    }
    test_digest_fold(found, sizeof(int) * (size_t)n);
    free(expected);
}
#define CHECK_RESULT(c, call, found, expected, n) check_at(__FILE__, __LINE__, (c), (call), (found), (expected), (n))

static void check_completed(const ctx_t *c, const MPI_Request *requests, int n, const char *call) {
    for (int i = 0; i < n; i++)
        CHECK(requests[i] == MPI_REQUEST_NULL, "%s, iteration %d, step \"%s\": %s left request %d active", c->name,
              c->it, c->step, call, i);
}

/* Small on even iterations and large on odd ones, or the other way round. */
static int size_of(const ctx_t *c, int flip, int small, int large) { return (c->it + flip) % 2 ? large : small; }

/* 1. */
static void iallreduce_across_bcast_and_allreduce(ctx_t *c) {
    c->step = "MPI_Iallreduce pending across MPI_Bcast and MPI_Allreduce";
    const int na = size_of(c, 1, SMALL, LARGE), nb = size_of(c, 0, SMALL, LARGE), nc = c->it % 3 ? 1 + c->it : LARGE + 7;
    const int root = c->it % c->size;
    int *a_send = filled(c, 1, c->rank, na), *a_recv = blank(na);
    MPI_Request request;
    MPI_OK(MPI_Iallreduce(a_send, a_recv, na, MPI_INT, MPI_SUM, c->comm, &request));
    int *b = c->rank == root ? filled(c, 2, root, nb) : blank(nb);
    MPI_OK(MPI_Bcast(b, nb, MPI_INT, root, c->comm));
    int *c_send = filled(c, 3, c->rank, nc), *c_recv = blank(nc);
    MPI_OK(MPI_Allreduce(c_send, c_recv, nc, MPI_INT, MPI_MAX, c->comm));
    CHECK_RESULT(c, "MPI_Bcast", b, filled(c, 2, root, nb), nb);
    CHECK_RESULT(c, "MPI_Allreduce(MPI_MAX)", c_recv, reduced(c, R_MAX, 3, c->size, nc), nc);
    MPI_OK(MPI_Wait(&request, MPI_STATUS_IGNORE));
    check_completed(c, &request, 1, "MPI_Wait");
    CHECK_RESULT(c, "MPI_Iallreduce(MPI_SUM)", a_recv, reduced(c, R_SUM, 1, c->size, na), na);
    /* MPI forbids the program to touch a pending call's send buffer; nobody else may either. */
    CHECK_RESULT(c, "MPI_Iallreduce's send buffer", a_send, filled(c, 1, c->rank, na), na);
    free(a_send), free(a_recv), free(b), free(c_send), free(c_recv);
}

/* 2. */
static void ibarrier_ireduce_across_barrier_and_reduce(ctx_t *c) {
    c->step = "MPI_Ibarrier and MPI_Ireduce pending across MPI_Barrier and MPI_Reduce";
    const int nd = size_of(c, 0, SMALL, LARGE), ne = size_of(c, 1, SMALL + 2, LARGE);
    const int root_d = (c->it + 1) % c->size, root_e = (c->it + 2) % c->size;
    MPI_Request requests[2];
    MPI_OK(MPI_Ibarrier(c->comm, &requests[0]));
    int *d_send = filled(c, 4, c->rank, nd), *d_recv = blank(nd);
    MPI_OK(MPI_Ireduce(d_send, d_recv, nd, MPI_INT, MPI_BXOR, root_d, c->comm, &requests[1]));
    MPI_OK(MPI_Barrier(c->comm));
    const int in_place = c->it % 2 && c->rank == root_e;
    int *e_send = filled(c, 5, c->rank, ne), *e_recv = in_place ? filled(c, 5, c->rank, ne) : blank(ne);
    MPI_OK(MPI_Reduce(in_place ? MPI_IN_PLACE : e_send, e_recv, ne, MPI_INT, MPI_SUM, root_e, c->comm));
    if (c->rank == root_e)
        CHECK_RESULT(c, in_place ? "MPI_Reduce(MPI_IN_PLACE, MPI_SUM)" : "MPI_Reduce(MPI_SUM)", e_recv,
                     reduced(c, R_SUM, 5, c->size, ne), ne);
    MPI_OK(MPI_Waitall(2, requests, statuses));
    check_completed(c, requests, 2, "MPI_Waitall");
    if (c->rank == root_d) CHECK_RESULT(c, "MPI_Ireduce(MPI_BXOR)", d_recv, reduced(c, R_BXOR, 4, c->size, nd), nd);
    free(d_send), free(d_recv), free(e_send), free(e_recv);
}

/* 3. */
static void ibcast_ialltoall_across_alltoall_and_allgather(ctx_t *c) {
    c->step = "MPI_Ibcast and MPI_Ialltoall pending across MPI_Alltoall and MPI_Allgather";
    const int nf = size_of(c, 1, SMALL, LARGE), pg = size_of(c, 0, PIECE_SMALL, PIECE_LARGE),
              ph = size_of(c, 1, PIECE_SMALL, PIECE_LARGE), nk = size_of(c, 0, SMALL, LARGE);
    const int root = c->size - 1 - c->it % c->size, n = c->size;
    MPI_Request requests[2];
    int *f = c->rank == root ? filled(c, 6, root, nf) : blank(nf);
    MPI_OK(MPI_Ibcast(f, nf, MPI_INT, root, c->comm, &requests[0]));
    int *g_send = filled(c, 7, c->rank, pg * n), *g_recv = blank(pg * n);
    MPI_OK(MPI_Ialltoall(g_send, pg, MPI_INT, g_recv, pg, MPI_INT, c->comm, &requests[1]));
    int *h_send = filled(c, 8, c->rank, ph * n), *h_recv = blank(ph * n);
    MPI_OK(MPI_Alltoall(h_send, ph, MPI_INT, h_recv, ph, MPI_INT, c->comm));
    int *k_send = filled(c, 9, c->rank, nk), *k_recv = blank(nk * n);
    MPI_OK(MPI_Allgather(k_send, nk, MPI_INT, k_recv, nk, MPI_INT, c->comm));
    CHECK_RESULT(c, "MPI_Alltoall", h_recv, gathered(c, 8, ph, c->rank, 1), ph * n);
    CHECK_RESULT(c, "MPI_Allgather", k_recv, gathered(c, 9, nk, c->rank, 0), nk * n);
    if (c->it % 2) {
        MPI_OK(MPI_Wait(&requests[1], MPI_STATUS_IGNORE));
        MPI_OK(MPI_Wait(&requests[0], MPI_STATUS_IGNORE));
    } else {
        MPI_OK(MPI_Waitall(2, requests, statuses));
    }
    check_completed(c, requests, 2, c->it % 2 ? "MPI_Wait, in reverse order" : "MPI_Waitall");
    CHECK_RESULT(c, "MPI_Ibcast", f, filled(c, 6, root, nf), nf);
    CHECK_RESULT(c, "MPI_Ialltoall", g_recv, gathered(c, 7, pg, c->rank, 1), pg * n);
    free(f), free(g_send), free(g_recv), free(h_send), free(h_recv), free(k_send), free(k_recv);
}

/* 4. */
#if MPI_VERSION >= 4
static void persistent_make(ctx_t *c) {
    c->persistent_send = blank(PERSISTENT_COUNT);
    c->persistent_recv = blank(PERSISTENT_COUNT);
    c->persistent_bcast = blank(PERSISTENT_COUNT);
    c->persistent_root = 1 % c->size;
    MPI_OK(MPI_Allreduce_init(c->persistent_send, c->persistent_recv, PERSISTENT_COUNT, MPI_INT, MPI_SUM, c->comm,
                              MPI_INFO_NULL, &c->persistent[0]));
    MPI_OK(MPI_Bcast_init(c->persistent_bcast, PERSISTENT_COUNT, MPI_INT, c->persistent_root, c->comm, MPI_INFO_NULL,
                          &c->persistent[1]));
}

static void persistent_free(ctx_t *c) {
    MPI_OK(MPI_Request_free(&c->persistent[0]));
    MPI_OK(MPI_Request_free(&c->persistent[1]));
    free(c->persistent_send), free(c->persistent_recv), free(c->persistent_bcast);
}

/* The persistent calls' buffers, refilled in place for call `send_tag` / `bcast_tag`. */
static void persistent_fill(ctx_t *c, int send_tag, int bcast_tag) {
    for (int i = 0; i < PERSISTENT_COUNT; i++) {
        c->persistent_send[i] = value(c, send_tag, c->rank, i);
        c->persistent_recv[i] = -1;
        c->persistent_bcast[i] = c->rank == c->persistent_root ? value(c, bcast_tag, c->rank, i) : -1;
    }
}

static void persistent_started_between(ctx_t *c) {
    const int root = c->persistent_root, nq = size_of(c, 0, SMALL, LARGE), nr = size_of(c, 1, SMALL, LARGE);
    c->step = "persistent MPI_Allreduce_init started, MPI_Allreduce and MPI_Barrier, wait";
    persistent_fill(c, 10, 12);
    MPI_OK(MPI_Start(&c->persistent[0]));
    int *q_send = filled(c, 11, c->rank, nq), *q_recv = blank(nq);
    MPI_OK(MPI_Allreduce(q_send, q_recv, nq, MPI_INT, MPI_SUM, c->comm));
    MPI_OK(MPI_Barrier(c->comm));
    MPI_OK(MPI_Wait(&c->persistent[0], MPI_STATUS_IGNORE));
    CHECK_RESULT(c, "MPI_Allreduce(MPI_SUM)", q_recv, reduced(c, R_SUM, 11, c->size, nq), nq);
    CHECK_RESULT(c, "persistent MPI_Allreduce(MPI_SUM)", c->persistent_recv, reduced(c, R_SUM, 10, c->size,
                 PERSISTENT_COUNT), PERSISTENT_COUNT);

    c->step = "persistent MPI_Bcast_init started, MPI_Bcast, wait";
    MPI_OK(MPI_Start(&c->persistent[1]));
    const int bcast_root = c->it % c->size;
    int *r = c->rank == bcast_root ? filled(c, 13, bcast_root, nr) : blank(nr);
    MPI_OK(MPI_Bcast(r, nr, MPI_INT, bcast_root, c->comm));
    MPI_OK(MPI_Wait(&c->persistent[1], MPI_STATUS_IGNORE));
    CHECK_RESULT(c, "MPI_Bcast", r, filled(c, 13, bcast_root, nr), nr);
    CHECK_RESULT(c, "persistent MPI_Bcast", c->persistent_bcast, filled(c, 12, root, PERSISTENT_COUNT),
                 PERSISTENT_COUNT);

    c->step = "both persistent requests started with MPI_Startall, MPI_Allgather and MPI_Reduce, MPI_Waitall";
    persistent_fill(c, 14, 15);
    MPI_OK(MPI_Startall(2, c->persistent));
    int *s_send = filled(c, 16, c->rank, nq), *s_recv = blank(nq * c->size);
    MPI_OK(MPI_Allgather(s_send, nq, MPI_INT, s_recv, nq, MPI_INT, c->comm));
    int *t_send = filled(c, 17, c->rank, nr), *t_recv = blank(nr);
    MPI_OK(MPI_Reduce(t_send, t_recv, nr, MPI_INT, MPI_MAX, root, c->comm));
    MPI_OK(MPI_Waitall(2, c->persistent, statuses));
    CHECK(c->persistent[0] != MPI_REQUEST_NULL && c->persistent[1] != MPI_REQUEST_NULL,
          "%s, iteration %d: MPI_Waitall freed a persistent request", c->name, c->it);
    CHECK_RESULT(c, "MPI_Allgather", s_recv, gathered(c, 16, nq, c->rank, 0), nq * c->size);
    if (c->rank == root) CHECK_RESULT(c, "MPI_Reduce(MPI_MAX)", t_recv, reduced(c, R_MAX, 17, c->size, nr), nr);
    CHECK_RESULT(c, "persistent MPI_Allreduce(MPI_SUM)", c->persistent_recv, reduced(c, R_SUM, 14, c->size,
                 PERSISTENT_COUNT), PERSISTENT_COUNT);
    CHECK_RESULT(c, "persistent MPI_Bcast", c->persistent_bcast, filled(c, 15, root, PERSISTENT_COUNT),
                 PERSISTENT_COUNT);
    free(q_send), free(q_recv), free(r), free(s_send), free(s_recv), free(t_send), free(t_recv);
}
#endif

/* 5. */
static void iallgather_iscan_across_scan(ctx_t *c) {
    c->step = "MPI_Iallgather and MPI_Iscan pending across MPI_Scan, MPI_Testall loop";
    const int ns = size_of(c, 0, SMALL, LARGE / 4), nt = size_of(c, 1, SMALL, LARGE), nu = size_of(c, 0, SMALL, LARGE);
    MPI_Request requests[2];
    int *s_send = filled(c, 18, c->rank, ns), *s_recv = blank(ns * c->size);
    MPI_OK(MPI_Iallgather(s_send, ns, MPI_INT, s_recv, ns, MPI_INT, c->comm, &requests[0]));
    int *t_send = filled(c, 19, c->rank, nt), *t_recv = blank(nt);
    MPI_OK(MPI_Iscan(t_send, t_recv, nt, MPI_INT, MPI_SUM, c->comm, &requests[1]));
    int *u_send = filled(c, 20, c->rank, nu), *u_recv = blank(nu);
    MPI_OK(MPI_Scan(u_send, u_recv, nu, MPI_INT, MPI_MAX, c->comm));
    CHECK_RESULT(c, "MPI_Scan(MPI_MAX)", u_recv, reduced(c, R_MAX, 20, c->rank + 1, nu), nu);
    int done = 0;
    while (!done) MPI_OK(MPI_Testall(2, requests, &done, statuses));
    check_completed(c, requests, 2, "MPI_Testall");
    CHECK_RESULT(c, "MPI_Iallgather", s_recv, gathered(c, 18, ns, c->rank, 0), ns * c->size);
    CHECK_RESULT(c, "MPI_Iscan(MPI_SUM)", t_recv, reduced(c, R_SUM, 19, c->rank + 1, nt), nt);
    free(s_send), free(s_recv), free(t_send), free(t_recv), free(u_send), free(u_recv);
}

/* 6. */
static void allreduce_result_into_iallreduce(ctx_t *c) {
    c->step = "MPI_Allreduce's result into an MPI_Iallreduce pending across MPI_Bcast and MPI_Alltoall";
    const int nx = size_of(c, 1, SMALL, LARGE), nb = SMALL + c->it, root = (c->it + 3) % c->size;
    int *x_send = filled(c, 21, c->rank, nx), *x = blank(nx), *y = blank(nx);
    MPI_OK(MPI_Allreduce(x_send, x, nx, MPI_INT, MPI_SUM, c->comm));
    MPI_Request request;
    MPI_OK(MPI_Iallreduce(x, y, nx, MPI_INT, MPI_SUM, c->comm, &request));
    int *b = c->rank == root ? filled(c, 22, root, nb) : blank(nb);
    MPI_OK(MPI_Bcast(b, nb, MPI_INT, root, c->comm));
    int *a_send = filled(c, 23, c->rank, PIECE_SMALL * c->size), *a_recv = blank(PIECE_SMALL * c->size);
    MPI_OK(MPI_Alltoall(a_send, PIECE_SMALL, MPI_INT, a_recv, PIECE_SMALL, MPI_INT, c->comm));
    MPI_OK(MPI_Wait(&request, MPI_STATUS_IGNORE));
    int *expected_x = reduced(c, R_SUM, 21, c->size, nx), *expected_y = xmalloc(sizeof(int) * (size_t)nx);
    for (int i = 0; i < nx; i++) expected_y[i] = expected_x[i] * c->size;
    CHECK_RESULT(c, "MPI_Allreduce(MPI_SUM)", x, expected_x, nx);
    CHECK_RESULT(c, "MPI_Bcast", b, filled(c, 22, root, nb), nb);
    CHECK_RESULT(c, "MPI_Alltoall", a_recv, gathered(c, 23, PIECE_SMALL, c->rank, 1), PIECE_SMALL * c->size);
    CHECK_RESULT(c, "MPI_Iallreduce(MPI_SUM) of the MPI_Allreduce result", y, expected_y, nx);
    free(x_send), free(x), free(y), free(b), free(a_send), free(a_recv);
}

/* Every step, `iterations` times; on communicators other than MPI_COMM_WORLD, with an
 * MPI_Iallreduce on MPI_COMM_WORLD pending across each iteration. */
static void run(ctx_t *c, ctx_t *world, int iterations) {
#if MPI_VERSION >= 4
    persistent_make(c);
#endif
    for (c->it = 0; c->it < iterations; c->it++) {
        MPI_Request outer = MPI_REQUEST_NULL;
        int *w_send = NULL, *w_recv = NULL;
        if (c != world) {
            world->it = c->salt * 1000 + c->it;
            w_send = filled(world, 24, world->rank, SMALL);
            w_recv = blank(SMALL);
            MPI_OK(MPI_Iallreduce(w_send, w_recv, SMALL, MPI_INT, MPI_BXOR, MPI_COMM_WORLD, &outer));
        }
        iallreduce_across_bcast_and_allreduce(c);
        ibarrier_ireduce_across_barrier_and_reduce(c);
        ibcast_ialltoall_across_alltoall_and_allgather(c);
#if MPI_VERSION >= 4
        persistent_started_between(c);
#endif
        iallgather_iscan_across_scan(c);
        allreduce_result_into_iallreduce(c);
        if (c != world) {
            MPI_OK(MPI_Wait(&outer, MPI_STATUS_IGNORE));
            world->step = "MPI_Iallreduce on MPI_COMM_WORLD pending across an iteration on another communicator";
            CHECK_RESULT(world, "MPI_Iallreduce(MPI_BXOR)", w_recv, reduced(world, R_BXOR, 24, world->size, SMALL),
                         SMALL);
            free(w_send), free(w_recv);
        }
    }
#if MPI_VERSION >= 4
    persistent_free(c);
#endif
}

/* Dups of MPI_COMM_WORLD whose first served call (an MPI_Allreduce) comes while an MPI_Ibarrier
 * and an MPI_Iallreduce are pending on them. */
static void fresh_communicators(int rounds) {
    for (int k = 0; k < rounds; k++) {
        MPI_Comm comm;
        MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &comm));
        ctx_t c = make_ctx(comm, "a fresh dup of MPI_COMM_WORLD", 10 + k);
        c.it = k;
        c.step = "first served call while MPI_Ibarrier and MPI_Iallreduce are pending";
        MPI_Request requests[2];
        MPI_OK(MPI_Ibarrier(comm, &requests[0]));
        int *a_send = filled(&c, 25, c.rank, LARGE), *a_recv = blank(LARGE);
        MPI_OK(MPI_Iallreduce(a_send, a_recv, LARGE, MPI_INT, MPI_MAX, comm, &requests[1]));
        int *b_send = filled(&c, 26, c.rank, SMALL), *b_recv = blank(SMALL);
        MPI_OK(MPI_Allreduce(b_send, b_recv, SMALL, MPI_INT, MPI_SUM, comm));
        const int root = k % c.size;
        int *d = c.rank == root ? filled(&c, 27, root, SMALL) : blank(SMALL);
        MPI_OK(MPI_Bcast(d, SMALL, MPI_INT, root, comm));
        MPI_OK(MPI_Waitall(2, requests, statuses));
        CHECK_RESULT(&c, "MPI_Allreduce(MPI_SUM)", b_recv, reduced(&c, R_SUM, 26, c.size, SMALL), SMALL);
        CHECK_RESULT(&c, "MPI_Bcast", d, filled(&c, 27, root, SMALL), SMALL);
        CHECK_RESULT(&c, "MPI_Iallreduce(MPI_MAX)", a_recv, reduced(&c, R_MAX, 25, c.size, LARGE), LARGE);
        free(a_send), free(a_recv), free(b_send), free(b_recv), free(d);
        MPI_OK(MPI_Comm_free(&comm));
    }
}

/* The suite's steps once more on MPI_COMM_WORLD and a new dup, with an MPI_Win_create window open. */
static void window_phase(int iterations) {
    int *window_memory = blank(world_size);
    MPI_Win win;
    MPI_OK(MPI_Win_create(window_memory, sizeof(int) * world_size, sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &win));
    MPI_OK(MPI_Win_fence(0, win));
    MPI_OK(MPI_Put(&world_rank, 1, MPI_INT, right_of(world_rank, world_size), world_rank, 1, MPI_INT, win));
    MPI_OK(MPI_Win_fence(0, win));
    const int left = left_of(world_rank, world_size);
    CHECK_EQ_LL(window_memory[left], left, "MPI_Put from the left neighbour into the MPI_Win_create window");
    ctx_t world_staged = make_ctx(MPI_COMM_WORLD, "MPI_COMM_WORLD, an MPI_Win_create window open", 4);
    MPI_Comm dup_staged;
    MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &dup_staged));
    ctx_t duplicate_staged = make_ctx(dup_staged, "a dup of MPI_COMM_WORLD, an MPI_Win_create window open", 5);
    run(&world_staged, &world_staged, iterations);
    run(&duplicate_staged, &world_staged, iterations);
    MPI_OK(MPI_Win_fence(0, win));
    MPI_OK(MPI_Win_free(&win));
    free(window_memory);
    MPI_OK(MPI_Comm_free(&dup_staged));
    test_phase_done("with an MPI_Win_create window open");
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "mixed_collectives");
    int print_digest = 0, with_window = 0;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--digest") == 0) print_digest = 1;
        else if (strcmp(argv[a], "--window") == 0) with_window = 1;
        else CHECK(0, "usage: mixed_collectives [--digest] [--window]");
    }

    /* Made before any served call, so each one's first served call comes in step 1, while an
     * MPI_Iallreduce is pending on it (MPI_Comm_dup and MPI_Comm_split are MPICH's). */
    MPI_Comm dup, parity;
    MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &dup));
    MPI_OK(MPI_Comm_split(MPI_COMM_WORLD, world_rank % 2, world_size - world_rank, &parity));
    ctx_t world = make_ctx(MPI_COMM_WORLD, "MPI_COMM_WORLD", 1);
    ctx_t duplicate = make_ctx(dup, "a dup of MPI_COMM_WORLD", 2);
    ctx_t split = make_ctx(parity, world_rank % 2 ? "the odd ranks (reversed)" : "the even ranks (reversed)", 3);

    /* Plain MPICH takes milliseconds a collective at 8 ranks on 2 cores. */
    const int iterations = world_size > 4 ? 2 : 6;
    run(&world, &world, iterations);
    test_phase_done("MPI_COMM_WORLD");
    run(&duplicate, &world, iterations);
    test_phase_done("a dup of MPI_COMM_WORLD");
    run(&split, &world, iterations);
    test_phase_done("an even/odd split");
    fresh_communicators(world_size > 4 ? 2 : 3);
    test_phase_done("fresh dups");

    /* With --window, again with an MPI_Win_create window open: a process serving one runs the
     * library's progress agent, and its MPI_Wait, MPI_Waitall and MPI_Barrier then test MPICH's
     * requests in a loop. */
    if (with_window) window_phase(iterations / 2);

    test_digest_report(print_digest);
    MPI_OK(MPI_Comm_free(&dup));
    MPI_OK(MPI_Comm_free(&parity));
    return test_finish();
}
