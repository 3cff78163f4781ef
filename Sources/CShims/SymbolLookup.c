#define _GNU_SOURCE
#include "SymbolLookup.h"

#include <dlfcn.h>
#include <link.h>
#include <stddef.h>

static int defined_in_this_library(const void *address) {
    Dl_info mine, theirs;
    return dladdr((const void *)&ivshmem_next_definition, &mine) && dladdr(address, &theirs) &&
           mine.dli_fbase == theirs.dli_fbase;
}

static void *handle_of_object_at(const void *address) {
    Dl_info info;
    if (!dladdr(address, &info) || info.dli_fname == NULL) return NULL;
    return dlopen(info.dli_fname[0] ? info.dli_fname : NULL, RTLD_LAZY | RTLD_NOLOAD);
}

void *ivshmem_next_definition(const char *symbol) { return dlsym(RTLD_NEXT, symbol); }

struct search {
    const char *symbol;
    void *handle;
};

static int search_object(struct dl_phdr_info *object, size_t size, void *context) {
    (void)size;
    struct search *search = context;
    void *handle = dlopen(object->dlpi_name && object->dlpi_name[0] ? object->dlpi_name : NULL, RTLD_LAZY | RTLD_NOLOAD);
    if (handle == NULL) return 0;
    void *address = dlsym(handle, search->symbol);
    dlclose(handle);
    if (address == NULL || defined_in_this_library(address)) return 0;
    search->handle = handle_of_object_at(address);
    return search->handle != NULL;
}

void *ivshmem_library_defining(const char *symbol) {
    void *next = dlsym(RTLD_NEXT, symbol);
    if (next != NULL && !defined_in_this_library(next)) {
        void *handle = handle_of_object_at(next);
        if (handle != NULL) return handle;
    }
    struct search search = {symbol, NULL};
    dl_iterate_phdr(search_object, &search);
    return search.handle;
}

void *ivshmem_symbol(void *handle, const char *symbol) { return dlsym(handle, symbol); }

const char *ivshmem_library_path(void *handle) {
    struct link_map *map = NULL;
    if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || map == NULL || map->l_name == NULL) return "";
    return map->l_name;
}
