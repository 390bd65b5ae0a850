/*
 * memprof preload — the in-process API (memprof_api.h): allocation counts, leak
 * checks around a block of code, live blocks by site.
 *
 * A leak check marks the blocks allocated between check_begin and check_end in the
 * live table (MEMPROF_LIVE_CHECK_OWN for the checking thread, _OTHER for the rest;
 * one predictable load in the allocation hook while no check runs). check_end runs
 * the same conservative scan as the exit check, with the other threads stopped and
 * then resumed, and lists the marked blocks still live with their kinds. During the
 * scan the state is SCANNING: hooks on threads the scan could not stop wait for it
 * to end, then record as usual, so no block is missed or freed under the scanner.
 *
 * For that scan, words are read as Swift stores references: the top byte may hold
 * tag bits (String's discriminator, enum spare bits), and an object's refcount word
 * may hold its side table's address, shifted (memprof_leaks.c: candidate); and a
 * thread's DTV, which glibc points into, is reachable (a thread the checked code
 * started is not a leak). The scan at exit keeps valgrind's rules (the oracle),
 * adding only the Swift reading for Swift programs.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memprof_api.h"
#include "memprof_internal.h"

_Atomic int g_check_active;
static _Atomic(struct memprof_thread *) g_check_owner;
static int g_check_all_threads;
static _Atomic uint64_t g_check_other_allocs;
static _Atomic int g_check_claimed; /* a check runs (begin .. end) */

uint64_t memprof_check_flags(struct memprof_thread *t) {
    if (g_check_all_threads || t == atomic_load_explicit(&g_check_owner, memory_order_relaxed))
        return MEMPROF_LIVE_CHECK_OWN;
    atomic_fetch_add_explicit(&g_check_other_allocs, 1, memory_order_relaxed);
    return MEMPROF_LIVE_CHECK_OTHER;
}

static int api_status(void) {
    int state = atomic_load(&g_state);
    if (state != MEMPROF_STATE_ACTIVE && state != MEMPROF_STATE_SCANNING)
        return MEMPROF_API_NOT_RECORDING;
    return g_mode != MEMPROF_MODE_SAMPLE ? MEMPROF_API_OK : MEMPROF_API_SAMPLE_MODE;
}

static void add_counts(struct memprof_thread *t, void *ctx) {
    struct memprof_counts *c = ctx;
    c->allocations += atomic_load_explicit(&t->count_allocs, memory_order_relaxed);
    c->frees += atomic_load_explicit(&t->count_frees, memory_order_relaxed);
    c->bytes_allocated += atomic_load_explicit(&t->count_bytes, memory_order_relaxed);
    c->bytes_freed += atomic_load_explicit(&t->count_freed_bytes, memory_order_relaxed);
}

static void api_thread_counts(struct memprof_counts *out) {
    memset(out, 0, sizeof *out);
    int saved = memprof_guard_set();
    struct memprof_thread *t = memprof_thread_self();
    if (t)
        add_counts(t, out);
    memprof_guard_restore(saved);
}

static void api_process_counts(struct memprof_counts *out) {
    memset(out, 0, sizeof *out);
    int saved = memprof_guard_set();
    memprof_threads_foreach(add_counts, out);
    memprof_guard_restore(saved);
}

static int api_check_begin(int all_threads) {
    int status = api_status();
    if (status != MEMPROF_API_OK)
        return status;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&g_check_claimed, &expected, 1))
        return MEMPROF_API_NESTED;
    int saved = memprof_guard_set();
    struct memprof_thread *t = memprof_thread_self();
    memprof_guard_restore(saved);
    if (!t) {
        atomic_store(&g_check_claimed, 0);
        return MEMPROF_API_NOT_RECORDING;
    }
    /* No marks are left from before: a check is claimed until its end clears them. */
    g_check_all_threads = all_threads != 0;
    atomic_store(&g_check_other_allocs, 0);
    atomic_store(&g_check_owner, t);
    atomic_store(&g_check_active, 1);
    return MEMPROF_API_OK;
}

static void *map_array(size_t bytes, void **memory, uint64_t *memory_size) {
    size_t size = (bytes + 4095) & ~(size_t)4095;
    void *p = size ? memprof_map(size, MEMPROF_MAP_SCRATCH) : NULL;
    *memory = p;
    *memory_size = p ? size : 0;
    return p;
}

static int api_check_end(struct memprof_check_result *out) {
    CAPTURE_CALLEE_SAVED(caller_regs);
    uintptr_t caller_sp = (uintptr_t)__builtin_frame_address(0) + 16;
    memset(out, 0, sizeof *out);
    if (!atomic_load(&g_check_claimed) || !atomic_load(&g_check_active))
        return MEMPROF_API_NOT_STARTED;
    int saved = memprof_guard_set();
    struct memprof_thread *self = memprof_thread_self();
    memprof_guard_restore(saved);
    if (self != atomic_load(&g_check_owner))
        return MEMPROF_API_WRONG_THREAD;
    atomic_store(&g_check_active, 0);
    out->other_allocations = atomic_load(&g_check_other_allocs);

    int rc = MEMPROF_API_OK;
    int expected = MEMPROF_STATE_ACTIVE;
    if (!atomic_compare_exchange_strong(&g_state, &expected, MEMPROF_STATE_SCANNING)) {
        rc = MEMPROF_API_NOT_RECORDING;
    } else {
        memprof_guard_set();
        struct memprof_leak_result leaks;
        int scanned = memprof_leaks_classify(caller_sp, caller_regs, 6, memprof_writer_tid(),
                                             MEMPROF_SCAN_SWIFT_REFS | MEMPROF_SCAN_THREAD_DTV, &leaks) == 0;
        memprof_leaks_end_scan(MEMPROF_STATE_ACTIVE);
        if (!scanned) {
            rc = MEMPROF_API_SCAN_FAILED;
        } else {
            const uint64_t marked = MEMPROF_LIVE_CHECK_OWN | MEMPROF_LIVE_CHECK_OTHER;
            size_t n = 0;
            for (size_t i = 0; i < leaks.n; i++)
                n += (leaks.info[i] & marked) != 0;
            struct memprof_check_block *blocks = map_array(n * sizeof *blocks, &out->memory, &out->memory_size);
            if (n && !blocks) {
                rc = MEMPROF_API_NO_MEMORY;
            } else {
                for (size_t i = 0; i < leaks.n; i++) {
                    if (!(leaks.info[i] & marked))
                        continue;
                    struct memprof_check_block *b = &blocks[out->count++];
                    b->address = leaks.addr[i];
                    b->size = memprof_live_size(leaks.info[i]);
                    b->stack = memprof_live_stack(leaks.info[i]);
                    b->kind = leaks.kind[i];
                    b->own = (leaks.info[i] & MEMPROF_LIVE_CHECK_OWN) != 0;
                }
                out->blocks = blocks;
            }
            memprof_leaks_release(&leaks);
        }
        memprof_guard_restore(saved);
    }
    memprof_live_clear(MEMPROF_LIVE_CHECK_OWN | MEMPROF_LIVE_CHECK_OTHER);
    atomic_store(&g_check_owner, NULL);
    atomic_store(&g_check_claimed, 0);
    return rc;
}

static void api_check_release(struct memprof_check_result *r) {
    if (r->memory)
        memprof_unmap(r->memory, r->memory_size, MEMPROF_MAP_SCRATCH);
    memset(r, 0, sizeof *r);
}

/* Live blocks summed per stack id in an array indexed by id (ids are dense). */
struct sites_ctx {
    struct memprof_site_usage *by_id;
    uint32_t ids;
};

static void add_site(uintptr_t addr, uint64_t size, uint32_t stack, void *ctx) {
    (void)addr;
    struct sites_ctx *c = ctx;
    if (stack < c->ids) {
        c->by_id[stack].blocks++;
        c->by_id[stack].bytes += size;
    }
}

static int api_live_sites(struct memprof_site_list *out) {
    memset(out, 0, sizeof *out);
    int status = api_status();
    if (status != MEMPROF_API_OK)
        return status;
    int saved = memprof_guard_set();
    struct sites_ctx c = {NULL, memprof_stack_id_limit()};
    void *memory;
    uint64_t memory_size;
    c.by_id = map_array((size_t)c.ids * sizeof *c.by_id, &memory, &memory_size);
    int rc = MEMPROF_API_NO_MEMORY;
    if (c.by_id) {
        memprof_live_foreach(add_site, &c);
        /* Compact in place: entry k moves to k' <= k. */
        uint64_t n = 0;
        for (uint32_t id = 0; id < c.ids; id++) {
            if (!c.by_id[id].blocks)
                continue;
            struct memprof_site_usage u = c.by_id[id];
            u.stack = id;
            c.by_id[n++] = u;
        }
        out->count = n;
        out->sites = c.by_id;
        out->memory = memory;
        out->memory_size = memory_size;
        rc = MEMPROF_API_OK;
    }
    memprof_guard_restore(saved);
    return rc;
}

static void api_sites_release(struct memprof_site_list *list) {
    if (list->memory)
        memprof_unmap(list->memory, list->memory_size, MEMPROF_MAP_SCRATCH);
    memset(list, 0, sizeof *list);
}

static int api_stack_frames(uint32_t stack, uint64_t *frames, int capacity) {
    return memprof_stack_frames(stack, frames, capacity);
}

int memprof_ignore_object(const void *p);

static int api_ignore_object(const void *p) { return memprof_ignore_object(p); }

static int api_write_snapshot(void) {
    int state = atomic_load(&g_state);
    if (state != MEMPROF_STATE_ACTIVE && state != MEMPROF_STATE_SCANNING)
        return MEMPROF_API_NOT_RECORDING;
    int saved = memprof_guard_set();
    int rc = memprof_snapshot_now();
    memprof_guard_restore(saved);
    return rc == 0 ? MEMPROF_API_OK : rc == -2 ? MEMPROF_API_NO_TRACE_FILE : MEMPROF_API_NOT_RECORDING;
}

#ifdef MEMPROF_LINKED
#define MEMPROF_API_FLAVOR "linked"
#define MEMPROF_API_VISIBILITY
#else
#define MEMPROF_API_FLAVOR "preload"
#define MEMPROF_API_VISIBILITY __attribute__((visibility("default")))
#endif

MEMPROF_API_VISIBILITY const struct memprof_api_v1 memprof_api_v1 = {
    .version = MEMPROF_API_VERSION,
    .size = sizeof(struct memprof_api_v1),
    .flavor = MEMPROF_API_FLAVOR,
    .status = api_status,
    .thread_counts = api_thread_counts,
    .process_counts = api_process_counts,
    .check_begin = api_check_begin,
    .check_end = api_check_end,
    .check_release = api_check_release,
    .live_sites = api_live_sites,
    .sites_release = api_sites_release,
    .stack_frames = api_stack_frames,
    .ignore_object = api_ignore_object,
    .write_snapshot = api_write_snapshot,
};
