/*
 * memprof — the Swift library's side of memprof_api.h: finding the interposer's
 * table, and the module map for symbolizing stacks in-process.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "memprof_api.h"
#include "memprof_build_id.h"

static _Atomic(const struct memprof_api_v1 *) g_registered;

void memprof_client_register(const struct memprof_api_v1 *api) { atomic_store(&g_registered, api); }

const struct memprof_api_v1 *memprof_client_api(void) {
    const struct memprof_api_v1 *api = atomic_load(&g_registered);
    if (api)
        return api;
    /* A preloaded libmemprof.so exports its table. */
    return dlsym(RTLD_DEFAULT, "memprof_api_v1");
}

struct modules_ctx {
    void (*fn)(const struct memprof_client_module *, void *);
    void *ctx;
};

static int visit_module(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct modules_ctx *c = data;
    struct memprof_client_module m;
    memset(&m, 0, sizeof m);
    m.path = info->dlpi_name ? info->dlpi_name : "";
    m.load_bias = info->dlpi_addr;
    uint64_t segments[3 * 64];
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && m.segment_count < 64) {
            uint64_t *s = &segments[3 * m.segment_count++];
            s[0] = ph->p_vaddr;
            s[1] = ph->p_memsz;
            s[2] = memprof_segment_flags(ph);
        }
    }
    size_t id_len;
    m.build_id = memprof_find_build_id(info, &id_len);
    m.build_id_size = (uint32_t)id_len;
    m.segments = segments;
    c->fn(&m, c->ctx);
    return 0;
}

void memprof_client_modules(void (*fn)(const struct memprof_client_module *, void *), void *ctx) {
    struct modules_ctx c = {fn, ctx};
    dl_iterate_phdr(visit_module, &c);
}

size_t memprof_client_stack_room(void) {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return 0;
    void *lo = NULL;
    size_t size = 0;
    int ok = pthread_attr_getstack(&attr, &lo, &size) == 0;
    pthread_attr_destroy(&attr);
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    return ok && here > (uintptr_t)lo ? here - (uintptr_t)lo : 0;
}

/* Zeroes the stack below the caller: the frames the checked code used there may
 * still hold pointers to its blocks, and the frames of the call that ends the check
 * will reuse that memory without initializing all of it. At most 64 KiB, and never
 * closer than 16 KiB to the end of the stack. */
__attribute__((noinline)) void memprof_client_scrub_stack(size_t room) {
    size_t size = room > (80u << 10) ? (64u << 10) : room > (32u << 10) ? room - (16u << 10) : 0;
    if (!size)
        return;
    char area[size];
    explicit_bzero(area, size);
    __asm__ volatile("" : : "r"(area) : "memory");
}
