/*
 * memprof_jemalloc — see include/memprof_jemalloc.h for the contract.
 *
 * Why dlsym and not a link: linking -ljemalloc would make jemalloc the
 * allocator of every program using MemprofKit. Looking mallctl up at run time
 * reports on whatever allocator the process chose, and lets a process without
 * jemalloc say so instead of failing to start.
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "memprof_jemalloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

typedef int (*mallctl_fn)(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

/* The looked-up mallctl, NULL until found. Racing look-ups find the same
 * pointer, so relaxed order is enough: the function is immutable code. */
static _Atomic(mallctl_fn) g_mallctl;

static mallctl_fn resolve_mallctl(void) {
    mallctl_fn fn = atomic_load_explicit(&g_mallctl, memory_order_relaxed);
    if (fn != NULL) {
        return fn;
    }
    /* Not cached when absent: a library dlopened later may bring jemalloc. */
    static const char *const names[] = {"mallctl", "je_mallctl"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *symbol = dlsym(RTLD_DEFAULT, names[i]);
        if (symbol != NULL) {
            /* POSIX guarantees a data pointer from dlsym converts to a function pointer. */
            memcpy(&fn, &symbol, sizeof fn);
            atomic_store_explicit(&g_mallctl, fn, memory_order_relaxed);
            return fn;
        }
    }
    return NULL;
}

int memprof_jemalloc_available(void) { return resolve_mallctl() != NULL; }

int memprof_jemalloc_read(const char *name, void *value, size_t size) {
    mallctl_fn fn = resolve_mallctl();
    if (fn == NULL) {
        return MEMPROF_JEMALLOC_NOT_LOADED;
    }
    size_t length = size;
    int status = fn(name, value, &length, NULL, 0);
    /* jemalloc already refuses a mismatched size with EINVAL; this also
     * covers a build that would copy fewer bytes and succeed. */
    if (status == 0 && length != size) {
        return EINVAL;
    }
    return status;
}

int memprof_jemalloc_write(const char *name, const void *value, size_t size) {
    mallctl_fn fn = resolve_mallctl();
    if (fn == NULL) {
        return MEMPROF_JEMALLOC_NOT_LOADED;
    }
    /* mallctl takes `newp` as non-const but only reads it. */
    return fn(name, NULL, NULL, (void *)value, size);
}

int memprof_jemalloc_call(const char *name) {
    mallctl_fn fn = resolve_mallctl();
    if (fn == NULL) {
        return MEMPROF_JEMALLOC_NOT_LOADED;
    }
    return fn(name, NULL, NULL, NULL, 0);
}

/* Called through volatile pointers so the compiler cannot pair and drop the
 * malloc/free of the probes below (clang removes unused malloc/free pairs). */
static void *(*volatile g_probe_malloc)(size_t) = malloc;
static void (*volatile g_probe_free)(void *) = free;

/* Big enough to stand out, small enough to stay out of glibc's mmap path and
 * jemalloc's large-size classes. */
enum { PROBE_BLOCK_SIZE = 4096, PROBE_ATTEMPTS = 3 };

int memprof_jemalloc_serves_malloc(void) {
    uint64_t before = 0;
    uint64_t after = 0;
    if (memprof_jemalloc_read_u64("thread.allocated", &before) != 0) {
        return 0;
    }
    char *block = g_probe_malloc(PROBE_BLOCK_SIZE);
    if (block == NULL) {
        return 0;
    }
    block[0] = 1;
    int status = memprof_jemalloc_read_u64("thread.allocated", &after);
    g_probe_free(block);
    /* thread.allocated counts this thread only: no other thread can move it. */
    return status == 0 && after - before >= PROBE_BLOCK_SIZE;
}

/* glibc's struct mallinfo2, spelled out because it is looked up at run time
 * (it appeared in glibc 2.33). */
struct glibc_mallinfo2 {
    size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
_Static_assert(sizeof(struct glibc_mallinfo2) == sizeof(struct mallinfo2), "struct mallinfo2 layout");
_Static_assert(offsetof(struct glibc_mallinfo2, hblkhd) == offsetof(struct mallinfo2, hblkhd), "mallinfo2.hblkhd");
_Static_assert(offsetof(struct glibc_mallinfo2, uordblks) == offsetof(struct mallinfo2, uordblks),
               "mallinfo2.uordblks");
#endif

typedef struct glibc_mallinfo2 (*mallinfo2_fn)(void);

int memprof_glibc_heap_read(memprof_glibc_heap *out) {
    static _Atomic(mallinfo2_fn) cached;
    mallinfo2_fn fn = atomic_load_explicit(&cached, memory_order_relaxed);
    if (fn == NULL) {
        void *symbol = dlsym(RTLD_DEFAULT, "mallinfo2");
        if (symbol == NULL) {
            return ENOSYS;
        }
        memcpy(&fn, &symbol, sizeof fn);
        atomic_store_explicit(&cached, fn, memory_order_relaxed);
    }
    struct glibc_mallinfo2 info = fn();
    out->arena_in_use = info.uordblks;
    out->mmapped_in_use = info.hblkhd;
    return 0;
}

int memprof_glibc_serves_malloc(void) {
    /* mallinfo2 sums every thread's arena, so a concurrent free can hide the
     * probe block: a few attempts, any success counts. When another allocator
     * replaced malloc nothing moves glibc's figures, so no false positive. */
    for (int attempt = 0; attempt < PROBE_ATTEMPTS; attempt++) {
        memprof_glibc_heap before;
        memprof_glibc_heap after;
        if (memprof_glibc_heap_read(&before) != 0) {
            return 0;
        }
        char *block = g_probe_malloc(PROBE_BLOCK_SIZE);
        if (block == NULL) {
            return 0;
        }
        block[0] = 1;
        int status = memprof_glibc_heap_read(&after);
        g_probe_free(block);
        if (status != 0) {
            return 0;
        }
        size_t in_use_before = before.arena_in_use + before.mmapped_in_use;
        size_t in_use_after = after.arena_in_use + after.mmapped_in_use;
        if (in_use_after >= in_use_before + PROBE_BLOCK_SIZE) {
            return 1;
        }
    }
    return 0;
}
