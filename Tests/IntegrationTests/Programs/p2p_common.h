/* What the p2p_*.c programs share: the phase a rank is in (named by a watchdog before the
 * harness's time-out), failure reports, byte patterns and checks, and the per-rank ok line. */
#ifndef P2P_COMMON_H
#define P2P_COMMON_H
#include "common.h"
#include <signal.h>
#include <unistd.h>

static const char *phase = "MPI_Init";
static char context[256] = "";

/* A rank stuck in one place names it before the harness's timeout (90 s at up to 4 ranks) ends the job. */
enum { WATCHDOG_SECONDS = 80 };

static void watchdog_fired(int signal_number) {
    (void)signal_number;
    char line[512];
    int n = snprintf(line, sizeof line, "FAIL %s rank %d: watchdog: still in phase '%s' (%s) after %d s\n",
                     test_name, world_rank, phase, context, WATCHDOG_SECONDS);
    if (n > 0) (void)!write(2, line, (size_t)n);
    _exit(3);
}

static inline void start_watchdog(void) {
    signal(SIGALRM, watchdog_fired);
    alarm(WATCHDOG_SECONDS);
}

#define FAIL_IN(...) test_fail(__FILE__, __LINE__, __VA_ARGS__)

/* Byte i of the message `key` names: not periodic, so a shifted or misplaced block shows. */
static inline unsigned char pattern_byte(uint32_t key, size_t i) {
    uint32_t x = (uint32_t)i * 0x9E3779B1u + key * 0x85EBCA77u;
    x ^= x >> 13;
    x *= 0xC2B2AE3Du;
    return (unsigned char)(x >> 24);
}

static inline int pattern_int(uint32_t key, size_t i) {
    uint32_t x = (uint32_t)i * 0x9E3779B1u + key * 0x85EBCA77u;
    x ^= x >> 15;
    return (int)(x & 0x3fffffff); /* small enough to be exact as a double */
}

static inline uint32_t message_key(int sender, int receiver, int size_index, int round) {
    return (uint32_t)sender * 7919u + (uint32_t)receiver * 104729u + (uint32_t)size_index * 1299709u +
           (uint32_t)round * 15485863u + 1u;
}

static inline void fill_bytes(unsigned char *buffer, size_t n, uint32_t key) {
    for (size_t i = 0; i < n; i++) buffer[i] = pattern_byte(key, i);
}

static inline void check_pattern(const unsigned char *buffer, size_t n, uint32_t key, const char *what) {
    for (size_t i = 0; i < n; i++) {
        unsigned char expected = pattern_byte(key, i);
        if (buffer[i] != expected)
            FAIL_IN("%s [%s]: byte %zu of %zu: expected 0x%02x, got 0x%02x", what, context, i, n, expected, buffer[i]);
    }
}

enum { GUARD = 64, SENTINEL = 0xA5 };

static inline void check_guard(const unsigned char *buffer, size_t n, const char *what) {
    for (size_t i = 0; i < GUARD; i++)
        if (buffer[n + i] != SENTINEL)
            FAIL_IN("%s [%s]: byte %zu after the %zu received was overwritten: expected 0x%02x, got 0x%02x", what,
                    context, i, n, SENTINEL, buffer[n + i]);
}

/* `count` whole `type`s of `elements` basic elements in all. */
static inline void check_status_of(const MPI_Status *status, int source, int tag, MPI_Datatype type, int count, int elements,
                            const char *what) {
    if (status->MPI_SOURCE != source)
        FAIL_IN("%s [%s]: status.MPI_SOURCE: expected %d, got %d", what, context, source, status->MPI_SOURCE);
    if (status->MPI_TAG != tag)
        FAIL_IN("%s [%s]: status.MPI_TAG: expected %d, got %d", what, context, tag, status->MPI_TAG);
    int found = -2;
    MPI_OK(MPI_Get_count(status, type, &found));
    if (found != count) FAIL_IN("%s [%s]: MPI_Get_count: expected %d, got %d", what, context, count, found);
    found = -2;
    MPI_OK(MPI_Get_elements(status, type, &found));
    if (found != elements) FAIL_IN("%s [%s]: MPI_Get_elements: expected %d, got %d", what, context, elements, found);
}

static inline void check_status(const MPI_Status *status, int source, int tag, MPI_Datatype type, int count,
                         const char *what) {
    check_status_of(status, source, tag, type, count, count, what);
}

/* MPI_PROC_NULL's status: source MPI_PROC_NULL, tag MPI_ANY_TAG, count 0. */
static inline void check_null_status(const MPI_Status *status, MPI_Datatype type, const char *what) {
    if (status->MPI_SOURCE != MPI_PROC_NULL)
        FAIL_IN("%s [%s]: status.MPI_SOURCE: expected MPI_PROC_NULL (%d), got %d", what, context, MPI_PROC_NULL,
                status->MPI_SOURCE);
    if (status->MPI_TAG != MPI_ANY_TAG)
        FAIL_IN("%s [%s]: status.MPI_TAG: expected MPI_ANY_TAG (%d), got %d", what, context, MPI_ANY_TAG,
                status->MPI_TAG);
    int count = -2;
    MPI_OK(MPI_Get_count(status, type, &count));
    if (count != 0) FAIL_IN("%s [%s]: MPI_Get_count: expected 0, got %d", what, context, count);
}

/* The status of a nonblocking receive from MPI_PROC_NULL. MPICH 4.0.2 leaves it empty (source 0,
 * tag 0, count 0; MPICH 5 says MPI_PROC_NULL and MPI_ANY_TAG as MPI requires): accepted there only. */
static inline void check_nonblocking_null_status(const MPI_Status *status, MPI_Datatype type, const char *what) {
#if defined(MPICH_NUMVERSION) && MPICH_NUMVERSION < 40100000
    if (status->MPI_SOURCE == 0 && status->MPI_TAG == 0) {
        int count = -2;
        MPI_OK(MPI_Get_count(status, type, &count));
        if (count != 0) FAIL_IN("%s [%s]: MPI_Get_count: expected 0, got %d", what, context, count);
        return;
    }
#endif
    check_null_status(status, type, what);
}

static inline void begin_phase(const char *name) {
    phase = name;
    context[0] = '\0';
}

static inline void finish(void) {
    phase = "finish";
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    /* One write: the ranks' lines must not interleave in mpiexec's output. */
    char line[128];
    int n = snprintf(line, sizeof line, "%s ok rank=%d\n", test_name, world_rank);
    fflush(stdout);
    if (n > 0) (void)!write(1, line, (size_t)n);
    test_finish();
}

#endif
