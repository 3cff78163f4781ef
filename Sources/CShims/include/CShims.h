#ifndef IVSHMEM_RMA_CSHIMS_H
#define IVSHMEM_RMA_CSHIMS_H
/* Tiny helpers Swift has no spelling for. No MPI here. */

/* The spin-wait hint: tells the core (and an SMT sibling) that this is a busy-wait loop. */
static inline void ivshmem_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
#endif
