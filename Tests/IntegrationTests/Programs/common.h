/*
 * Shared helpers for the integration programs: each program is a plain MPI
 * program (no ivshmem-rma header) that checks its own results, prints
 * "PASS <name>" from rank 0 when every rank succeeded, and aborts the job with
 * a line naming what was expected and what was found otherwise.
 */
#ifndef IVSHMEM_RMA_IT_COMMON_H
#define IVSHMEM_RMA_IT_COMMON_H

#include <mpi.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *test_name = "unnamed";
static int world_rank = -1;
static int world_size = 0;
static double phase_start; /* MPI_Wtime at the end of the previous phase */

static inline void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

static inline void test_fail(const char *file, int line, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "FAIL %s rank %d (%s:%d): ", test_name, world_rank, file, line);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1); /* MPI_Abort does not return; keeps the compiler informed. */
}

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) test_fail(__FILE__, __LINE__, __VA_ARGS__);               \
    } while (0)

#define CHECK_EQ_LL(found, expected, what)                                     \
    do {                                                                       \
        long long found_ = (long long)(found);                                 \
        long long expected_ = (long long)(expected);                           \
        CHECK(found_ == expected_, "%s: expected %lld, found %lld", (what),    \
              expected_, found_);                                              \
    } while (0)

/* Doubles in these programs hold small integers, so exact comparison is right. */
#define CHECK_EQ_DOUBLE(found, expected, what)                                 \
    do {                                                                       \
        double found_ = (found);                                               \
        double expected_ = (expected);                                         \
        CHECK(found_ == expected_, "%s: expected %.17g, found %.17g", (what),  \
              expected_, found_);                                              \
    } while (0)

/* Every MPI call in these programs must succeed unless the program says otherwise. */
#define MPI_OK(call)                                                           \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ != MPI_SUCCESS) {                                              \
            char msg_[MPI_MAX_ERROR_STRING];                                   \
            int len_ = 0;                                                      \
            MPI_Error_string(rc_, msg_, &len_);                                \
            test_fail(__FILE__, __LINE__, "%s returned %d (%s)", #call, rc_,   \
                      msg_);                                                   \
        }                                                                      \
    } while (0)

/* Compares n ints and names the first mismatch. */
static inline void check_ints_at(const char *file, int line, const int *found,
                          const int *expected, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++) {
        if (found[i] != expected[i])
            test_fail(file, line, "%s: element %zu of %zu: expected %d, found %d",
                      what, i, n, expected[i], found[i]);
    }
}
#define CHECK_INTS(found, expected, n, what)                                   \
    check_ints_at(__FILE__, __LINE__, (found), (expected), (n), (what))

static inline void check_bytes_at(const char *file, int line, const void *found,
                           const void *expected, size_t n, const char *what) {
    const unsigned char *f = found, *e = expected;
    for (size_t i = 0; i < n; i++) {
        if (f[i] != e[i])
            test_fail(file, line, "%s: byte %zu of %zu: expected 0x%02x, found 0x%02x",
                      what, i, n, e[i], f[i]);
    }
}
#define CHECK_BYTES(found, expected, n, what)                                  \
    check_bytes_at(__FILE__, __LINE__, (found), (expected), (n), (what))

static inline void test_init(int *argc, char ***argv, const char *name) {
    test_name = name;
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    phase_start = MPI_Wtime();
    /* Line-buffered so output printed before another rank aborts the job is kept. */
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Ends a phase: every rank got here without failing. With IT_VERBOSE set, rank 0
 * prints the phase and its duration, to find slow phases. */
static inline void test_phase_done(const char *phase) {
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    double now = MPI_Wtime();
    if (world_rank == 0 && getenv("IT_VERBOSE"))
        printf("ok %s %s (%.2f s)\n", test_name, phase, now - phase_start);
    phase_start = now;
}

/* Every rank reached the end without aborting: rank 0 reports success. */
static inline int test_finish(void) {
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    if (world_rank == 0) printf("PASS %s\n", test_name);
    MPI_Finalize();
    return 0;
}

/* A value that names who wrote it where, so a misplaced byte is easy to trace. */
static inline int pattern(int origin, int target, int index, int round) {
    return round * 1000000 + origin * 10000 + target * 100 + (index % 97) + 1;
}

static inline int right_of(int rank, int size) { return (rank + 1) % size; }
static inline int left_of(int rank, int size) { return (rank + size - 1) % size; }

/* Window sizes in these programs are multiples of 16 bytes: MPICH 4.0.2 on bare metal
 * (shared-memory windows) misplaces the window bases of the following ranks when a
 * rank's size is not, which loses their puts and accumulates and makes MPI_WIN_BASE
 * differ from the returned baseptr. */
static inline MPI_Aint window_bytes(MPI_Aint needed) { return (needed + 15) / 16 * 16; }

static inline void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    CHECK(p != NULL, "malloc(%zu) failed", n);
    return p;
}

/* FNV-1a over a rank's result bytes, for comparing a served run with plain MPICH's. */
static unsigned long long test_digest = 0xcbf29ce484222325ULL;
static inline void test_digest_fold(const void *bytes, size_t n) {
    const unsigned char *p = bytes;
    for (size_t i = 0; i < n; i++) test_digest = (test_digest ^ p[i]) * 0x100000001b3ULL;
}

/* Collective over MPI_COMM_WORLD: with `print`, rank 0 prints "digest H", every rank's digest
 * combined in rank order. */
static inline void test_digest_report(int print) {
    unsigned long long *all = xmalloc(sizeof(unsigned long long) * world_size);
    MPI_OK(MPI_Gather(&test_digest, 1, MPI_UNSIGNED_LONG_LONG, all, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD));
    if (print && world_rank == 0) {
        unsigned long long combined = 0xcbf29ce484222325ULL;
        for (int r = 0; r < world_size; r++) combined = (combined ^ all[r]) * 0x100000001b3ULL;
        printf("digest %016llx\n", combined);
    }
    free(all);
}

/* The window flavor of the core programs: MPI_Win_allocate, or with IT_WINDOW_FLAVOR=create,
 * MPI_Win_create over the program's own (malloc'd, zeroed) memory. Same arguments as
 * MPI_Win_allocate; windows made here are freed with test_window_free. */
#define TEST_WINDOWS_MAX 8
static struct { MPI_Win win; void *memory; } test_windows[TEST_WINDOWS_MAX];

static inline int test_window_allocate(MPI_Aint size, int disp_unit, MPI_Info info, MPI_Comm comm, void *base_out,
                                       MPI_Win *win) {
    const char *flavor = getenv("IT_WINDOW_FLAVOR");
    if (flavor == NULL || strcmp(flavor, "create") != 0)
        return MPI_Win_allocate(size, disp_unit, info, comm, base_out, win);
    void *memory = calloc(1, size ? (size_t)size : 1);
    CHECK(memory != NULL, "calloc(%lld) failed", (long long)size);
    int rc = MPI_Win_create(memory, size, disp_unit, info, comm, win);
    if (rc != MPI_SUCCESS) {
        free(memory);
        return rc;
    }
    int slot = 0;
    while (slot < TEST_WINDOWS_MAX && test_windows[slot].memory != NULL) slot++;
    CHECK(slot < TEST_WINDOWS_MAX, "more than %d MPI_Win_create windows at once", TEST_WINDOWS_MAX);
    test_windows[slot].win = *win;
    test_windows[slot].memory = memory;
    *(void **)base_out = memory;
    return MPI_SUCCESS;
}

static inline int test_window_free(MPI_Win *win) {
    MPI_Win freed = *win;
    int rc = MPI_Win_free(win);
    for (int slot = 0; rc == MPI_SUCCESS && slot < TEST_WINDOWS_MAX; slot++) {
        if (test_windows[slot].memory != NULL && test_windows[slot].win == freed) {
            free(test_windows[slot].memory);
            test_windows[slot].memory = NULL;
        }
    }
    return rc;
}

#endif
