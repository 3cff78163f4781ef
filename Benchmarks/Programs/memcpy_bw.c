/*
 * memcpy_bw: the single-core memcpy reference for put_bw, get_bw and p2p_bw. No MPI.
 *
 * One core copies with the C library's memcpy in exactly the pattern put_bw and get_bw
 * use: W copies of one size per iteration, between the same offsets of two buffers as large
 * as their window and origin buffer (W slots of the largest size, at most 128 MiB, so above
 * 2 MiB the W copies wrap around 32 slots). It prints the same table, so scripts/bench reads
 * it like any other mode:
 *
 *   memcpy_bw [-m [MIN:]MAX] [-i ITERATIONS] [-x WARMUP] [-W COPIES_PER_ITERATION]
 *
 * Defaults as OSU's bandwidth tests: 1 B to 4 MiB, 100 / 10 iterations (20 / 2 above 8 KiB),
 * W = 64.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef FLOAT_PRECISION
#define FLOAT_PRECISION 2
#endif
enum { LARGE_MESSAGE_SIZE = 8192, PAGE_ALIGNMENT = 4096 };
#define BUFFER_BYTES_CAP ((size_t)128 << 20)

static double now(void) {
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return (double)time.tv_sec + (double)time.tv_nsec * 1e-9;
}

static int parse_positive(const char *text, long long minimum, long long *value) {
    char *end;
    *value = strtoll(text, &end, 10);
    return *text && !*end && *value >= minimum;
}

static void usage_exit(const char *problem) {
    if (problem) fprintf(stderr, "memcpy_bw: %s\n", problem);
    fprintf(stderr, "usage: memcpy_bw [-m [MIN:]MAX] [-i ITERATIONS] [-x WARMUP] [-W COPIES_PER_ITERATION]\n");
    exit(problem ? EXIT_FAILURE : EXIT_SUCCESS);
}

/* Touches every page first, so no page fault lands inside a timed loop. */
static char *page_aligned(size_t bytes, int fill) {
    void *memory = NULL;
    if (posix_memalign(&memory, PAGE_ALIGNMENT, bytes) != 0) usage_exit("out of memory");
    memset(memory, fill, bytes);
    return memory;
}

int main(int argc, char **argv) {
    long long min_size = 1, max_size = 4 << 20, copies = 64, value;
    long long iterations = 100, iterations_large = 20, warmup = 10, warmup_large = 2;
    int option;
    while ((option = getopt(argc, argv, "m:i:x:W:h")) != -1) {
        switch (option) {
        case 'm': {
            char *colon = strchr(optarg, ':');
            if (colon) *colon = '\0';
            if (*optarg && !parse_positive(optarg, 1, colon ? &min_size : &max_size)) usage_exit("bad -m");
            if (colon && colon[1] && !parse_positive(colon + 1, 1, &max_size)) usage_exit("bad -m");
            break;
        }
        case 'i':
            if (!parse_positive(optarg, 1, &value)) usage_exit("-i wants a count >= 1");
            iterations = iterations_large = value;
            break;
        case 'x':
            if (!parse_positive(optarg, 0, &value)) usage_exit("-x wants a count >= 0");
            warmup = warmup_large = value;
            break;
        case 'W':
            if (!parse_positive(optarg, 1, &copies)) usage_exit("-W wants a count >= 1");
            break;
        case 'h': usage_exit(NULL); break;
        default: usage_exit("unknown option");
        }
    }
    if (optind < argc || min_size > max_size) usage_exit("-m wants 1 <= MIN <= MAX");

    size_t all_copies = (size_t)max_size * (size_t)copies;
    size_t buffer_bytes = all_copies < BUFFER_BYTES_CAP ? all_copies : BUFFER_BYTES_CAP;
    if (buffer_bytes < (size_t)max_size) buffer_bytes = (size_t)max_size;
    char *source = page_aligned(buffer_bytes, 'a');
    char *destination = page_aligned(buffer_bytes, 0);

    printf("# memcpy Bandwidth Test (one core, C library memcpy, the put_bw/get_bw pattern)\n");
    printf("%-10s%20s\n", "# Size", "Bandwidth (MB/s)");
    for (size_t size = (size_t)min_size; size <= (size_t)max_size; size *= 2) {
        int large = size > LARGE_MESSAGE_SIZE;
        long long timed = large ? iterations_large : iterations, untimed = large ? warmup_large : warmup;
        size_t slots = buffer_bytes / size;
        double start = 0;
        for (long long i = 0; i < untimed + timed; i++) {
            if (i == untimed) start = now();
            for (long long j = 0; j < copies; j++) {
                size_t offset = (size_t)j % slots * size;
                memcpy(destination + offset, source + offset, size);
            }
        }
        double seconds = now() - start;
        /* Keeps the copies observable, so the compiler cannot drop them. */
        if (destination[buffer_bytes - 1] == 1) fprintf(stderr, "unexpected byte\n");
        printf("%-10zu%20.*f\n", size, FLOAT_PRECISION, (double)size / 1e6 * (double)timed * (double)copies / seconds);
        fflush(stdout);
    }
    free(source);
    free(destination);
    return EXIT_SUCCESS;
}
