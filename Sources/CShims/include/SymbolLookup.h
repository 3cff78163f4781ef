#ifndef IVSHMEM_RMA_SYMBOL_LOOKUP_H
#define IVSHMEM_RMA_SYMBOL_LOOKUP_H
/* Finding functions of other libraries loaded in this process (the MPI library, a profiling
 * tool), without linking them: this library names no MPI library in its DT_NEEDED. No MPI here. */

/* The definition of `symbol` that the first object loaded after this library provides
 * (dlsym(RTLD_NEXT)), or NULL. */
void *ivshmem_next_definition(const char *symbol);

/* A dlopen handle of the loaded object that defines `symbol`, other than this library: the one
 * RTLD_NEXT finds, else any loaded object that defines it, dependencies included (Python loads
 * its extension modules, and so the MPI library, with RTLD_LOCAL, where RTLD_NEXT does not
 * look). NULL when none does. The handle stays open for the life of the process. */
void *ivshmem_library_defining(const char *symbol);

/* dlsym(handle, symbol). */
void *ivshmem_symbol(void *handle, const char *symbol);

/* The file name of the object `handle` was opened on ("" for the program itself). */
const char *ivshmem_library_path(void *handle);

#endif
