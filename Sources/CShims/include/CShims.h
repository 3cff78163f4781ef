#ifndef IVSHMEM_RMA_CSHIMS_H
#define IVSHMEM_RMA_CSHIMS_H
/* Tiny helpers Swift has no spelling for. No MPI here. */

#include <stddef.h>
#include <string.h>

#include "SymbolLookup.h"

/* The spin-wait hint: tells the core (and an SMT sibling) that this is a busy-wait loop. */
static inline void ivshmem_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Orders every earlier store before later ones, those to write-combining memory and streaming
 * stores included (ordinary x86 stores need no fence; SharedSync's ReleaseFence decides). */
static inline void ivshmem_store_fence(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_sfence();
#endif
    /* Elsewhere (AArch64's Normal non-cacheable memory) the release store itself orders them. */
}

/* Copies with non-temporal (streaming) stores, for large blocks: they skip the
 * read-for-ownership of destination lines and do not evict the cache's working set. Measured
 * on 1-16 MiB blocks that were not cached: about 1.5x plain memcpy; for blocks the cache holds
 * plain memcpy is faster, hence the size threshold in ivshmem_copy (Config.streamingThreshold).
 * Ends with a store fence, so the copy is ordered before any later release store. */
void ivshmem_copy_streaming(void *destination, const void *source, size_t length);

/* The copy of every contiguous put and get, in both directions (streaming stores were as fast
 * into private memory, a get, as into the region, a put): memcpy below `streaming_threshold`
 * bytes, streaming stores from there on. Here, MPI-free, so that Benchmarks/Micro times the
 * engine's own dispatch. */
static inline void ivshmem_copy(void *destination, const void *source, size_t length, size_t streaming_threshold) {
    if (length >= streaming_threshold) {
        ivshmem_copy_streaming(destination, source, length);
    } else {
        memcpy(destination, source, length);
    }
}

#endif
