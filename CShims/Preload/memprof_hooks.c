/*
 * memprof preload — the interposed allocation functions.
 *
 * Counting model (the same as valgrind's "total heap usage" line, see DESIGN.md):
 *   - every successful malloc, calloc, realloc, reallocarray, posix_memalign,
 *     aligned_alloc, memalign, valloc, pvalloc is one allocation;
 *   - free of a non-null pointer is one deallocation;
 *   - realloc/reallocarray of a non-null pointer that succeeds is a deallocation
 *     of the old block and an allocation of the new one, even when glibc resized
 *     in place (memcheck always moves, so this keeps our counts equal to its);
 *     realloc(p, 0) that frees p is a deallocation only.
 *
 * Each recorded event: the real call, then (with t_guard set) the stack is
 * interned, the live-block table updated, and a record appended to the thread's
 * buffer. Frees remove the block from the live table *before* the real free, so
 * that another thread reusing the address cannot be confused with it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <linux/futex.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "memprof_api.h"
#include "memprof_internal.h"

extern const struct memprof_api_v1 memprof_api_v1;

#define MEMPROF_EXPORT __attribute__((visibility("default")))

_Atomic int g_state = MEMPROF_STATE_UNINIT;
MEMPROF_TLS struct memprof_tls t_tls = {&g_no_sampler, 0, &g_no_sampler, 0, 0, 0};

/* ---- the real functions ---------------------------------------------------- */

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static size_t (*real_malloc_usable_size)(void *);
static void (*real__exit)(int) __attribute__((noreturn));
static void (*real_exit)(int) __attribute__((noreturn));
static void (*real__Exit)(int) __attribute__((noreturn));
static int (*real_pthread_getattr_np)(pthread_t, pthread_attr_t *);
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);
typedef void (*memprof_sighandler)(int);
static memprof_sighandler (*real_signal)(int, memprof_sighandler);
static memprof_sighandler (*real_sigset)(int, memprof_sighandler);
static memprof_sighandler (*real_bsd_signal)(int, memprof_sighandler);
static memprof_sighandler (*real_sysv_signal)(int, memprof_sighandler);
static memprof_sighandler (*real___sysv_signal)(int, memprof_sighandler);

/* dlsym may allocate (calloc for its error state) before the real functions are
 * known; those requests are served from this static pool and never freed. Each
 * chunk is preceded by its size so realloc and malloc_usable_size work on it. */
static _Alignas(64) uint8_t g_pool[64 * 1024];
static _Atomic size_t g_pool_used;

static void *pool_alloc(size_t size) {
    size_t need = ((size + 15) & ~(size_t)15) + 16;
    size_t off = atomic_fetch_add(&g_pool_used, need);
    if (off + need > sizeof g_pool)
        return NULL;
    *(size_t *)(g_pool + off) = size;
    /* Sample mode's fast free skips the pool check: a pool block's filter slot says
     * "maybe sampled" forever (saturated), so its free takes the full path, which
     * knows the pool. */
    memprof_filter_pin((uintptr_t)(g_pool + off + 16));
    return g_pool + off + 16;
}

static int in_pool(const void *p) {
    return (const uint8_t *)p >= g_pool && (const uint8_t *)p < g_pool + sizeof g_pool;
}

static size_t pool_size(const void *p) { return *(const size_t *)((const uint8_t *)p - 16); }

static _Atomic int g_resolving;
#ifdef MEMPROF_LINKED
static int g_deferred;
#endif

/* Resolves every real function. Returns 0 when done, -1 while another call on
 * this thread is already resolving (the caller then uses the pool). */
static int resolve_real(void) {
    if (atomic_exchange(&g_resolving, 1)) {
        /* Another thread may be resolving: wait for it unless it is us (recursion
         * from inside dlsym, recognized by the guard). */
        if (t_guard)
            return -1;
        while (!atomic_load(&g_state))
            ;
        return 0;
    }
    int saved = memprof_guard_set();
#define RESOLVE(name) *(void **)&real_##name = dlsym(RTLD_NEXT, #name)
    RESOLVE(malloc);
    RESOLVE(free);
    RESOLVE(calloc);
    RESOLVE(realloc);
    RESOLVE(posix_memalign);
    RESOLVE(aligned_alloc);
    RESOLVE(memalign);
    RESOLVE(valloc);
    RESOLVE(malloc_usable_size);
    RESOLVE(_exit);
    RESOLVE(_Exit);
    RESOLVE(exit);
    RESOLVE(pthread_getattr_np);
    RESOLVE(sigaction);
    RESOLVE(signal);
    RESOLVE(sigset);
    RESOLVE(bsd_signal);
    RESOLVE(sysv_signal);
    RESOLVE(__sysv_signal);
#undef RESOLVE
    memprof_leaks_init((void *)real_malloc);
    /* free(NULL) leaves sample mode's fast path by the filter, with no test of its own:
     * address 0's slot says "maybe sampled" for good. */
    memprof_filter_pin(0);
    memprof_guard_restore(saved);
    if (!real_malloc || !real_free || !real_calloc || !real_realloc || !real_posix_memalign || !real_aligned_alloc ||
        !real_memalign || !real_valloc || !real__exit) {
        /* Without the real allocator nothing can work; there is no safe way on. */
        static const char msg[] = "memprof: cannot find the real malloc (dlsym RTLD_NEXT failed)\n";
        (void)!write(2, msg, sizeof msg - 1);
        abort();
    }
#ifdef MEMPROF_LINKED
    /* Linked into the program with a preloaded libmemprof.so behind us (`memprof
     * run`): that one records, and serves the API; every call passes through to it. */
    memprof_guard_set();
    g_deferred = dlsym(RTLD_NEXT, "memprof_api_v1") != NULL;
    memprof_guard_restore(saved);
    if (g_deferred) {
        atomic_store(&g_state, MEMPROF_STATE_DISABLED);
        return 0;
    }
#endif
    /* Output and module map are set up before any event is recorded. Allocations
     * during that setup pass through (guard set). */
    memprof_guard_set();
    int ok = memprof_output_open() == 0;
    memprof_guard_restore(saved);
    atomic_store(&g_state, ok ? MEMPROF_STATE_ACTIVE : MEMPROF_STATE_DISABLED);
    return 0;
}

#define ENSURE_REAL_OR(pool_expr)                                                                                      \
    do {                                                                                                               \
        if (MEMPROF_UNLIKELY(atomic_load_explicit(&g_state, memory_order_relaxed) == MEMPROF_STATE_UNINIT) &&          \
            resolve_real() != 0)                                                                                       \
            return pool_expr;                                                                                          \
    } while (0)

/* Recording is on for this call: tracing active and not inside memprof. */
static inline int recording(void) {
    return atomic_load_explicit(&g_state, memory_order_relaxed) == MEMPROF_STATE_ACTIVE && !t_guard;
}

/* The slow path of every hook, taken when recording() is false. While a leak scan
 * runs (state SCANNING: at exit, or on demand for an in-process check) the program's
 * calls wait for it instead of passing through (stoppable there): unrecorded, they
 * would make the live table wrong under the scanner, and a free could unmap a block
 * the scanner reads. Returns whether to record the call after all: an on-demand scan
 * ends with recording on again. */
static __attribute__((noinline)) int wait_for_scan(void) {
    if (t_guard)
        return 0;
    memprof_leaks_wait();
    return recording();
}

/* This process is not traced (memprof_output_open said so: a child left out, the file
 * taken or not writable) and the call is the program's: the hooks forward it at once,
 * with a tail call, so such a process runs at nearly its own speed. Memprof's own
 * calls (t_guard) still take the full path, which serves them from its own heap. */
static inline int untraced_call(void) {
    return atomic_load_explicit(&g_state, memory_order_relaxed) == MEMPROF_STATE_DISABLED && !t_guard;
}

/* Whether a block (NULL included) is the real allocator's to free or resize: not one
 * of the bootstrap pool's nor of memprof's own heap. */
static inline int real_allocators(const void *p) { return !in_pool(p) && !memprof_own_heap_contains(p); }

/* Recording is off for this call, unless a scan it waited for says otherwise. */
static inline int passing_through(void) {
    if (MEMPROF_LIKELY(atomic_load_explicit(&g_state, memory_order_relaxed) != MEMPROF_STATE_SCANNING))
        return 1;
    return !wait_for_scan();
}

/* In a recorded free or realloc, between taking the block out of the live table and
 * the real call: if the scan started meanwhile, its copy of the table may still list
 * the block (when this thread could not be stopped in time), and the real call may
 * unmap it. Wait for the scan to end; no memprof lock is held here, so the guard can
 * drop meanwhile and the thread be stopped like any other. One predictable load. */
static inline void scan_barrier(void) {
    if (MEMPROF_UNLIKELY(atomic_load_explicit(&g_state, memory_order_relaxed) == MEMPROF_STATE_SCANNING)) {
        memprof_guard_restore(0);
        memprof_leaks_wait();
        memprof_guard_set();
    }
}

/* ---- recording ---------------------------------------------------------------- */

/* Records the allocation of `p` (non-null), made from `regs`. Called with t_guard set. */
static __attribute__((noinline)) void record_alloc(void *p, size_t size, const struct memprof_regs *regs) {
    struct memprof_thread *t = memprof_thread_self();
    if (MEMPROF_UNLIKELY(!t))
        return;
    int64_t heap_delta = (int64_t)size;
    memprof_bump(&t->count_allocs, 1);
    memprof_bump(&t->count_bytes, size);
    if (g_mode == MEMPROF_MODE_SAMPLE) {
        if (t->bytes_until_sample == 0)
            t->bytes_until_sample = memprof_next_sample_gap(t);
        t->bytes_until_sample -= (int64_t)size;
        if (t->bytes_until_sample > 0)
            return; /* not a sample point (counted: freeing the last sample is no temporary now) */
        t->bytes_until_sample = memprof_next_sample_gap(t);
        heap_delta = (int64_t)memprof_sample_weighted_bytes(size);
    }
    uint32_t stack = memprof_stack_current(t, regs);
    if (MEMPROF_UNLIKELY(!stack))
        return;
    uint64_t flags =
        MEMPROF_UNLIKELY(atomic_load_explicit(&g_check_active, memory_order_relaxed)) ? memprof_check_flags(t) : 0;
    if (MEMPROF_UNLIKELY(memprof_live_insert((uintptr_t)p, size, stack, flags) != 0)) {
        memprof_fail("the live-block table cannot grow (out of memory)", 0);
        return;
    }
    if (g_mode == MEMPROF_MODE_SAMPLE)
        memprof_filter_add((uintptr_t)p);
    memprof_bump(&t->heap_bytes, (uint64_t)heap_delta); /* per thread; ticks sum them */
    if (g_mode == MEMPROF_MODE_AGGREGATE) {
        /* Counted at its stack; no record. */
        memprof_aggregate_alloc(t, stack, size);
        t->last_alloc = p;
        t->last_alloc_count = memprof_own_count(&t->count_allocs);
        return;
    }
    uint8_t *w = memprof_reserve(t, 32);
    if (MEMPROF_UNLIKELY(!w))
        return;
    *w++ = MEMPROF_TAG_ALLOC;
    w = memprof_put_varint(w, size);
    w = memprof_put_varint(w, stack);
    memprof_commit(t, w);
    t->last_alloc = p;
    t->last_alloc_count = memprof_own_count(&t->count_allocs);
    t->last_alloc_seq = t->buf_seq;
    memprof_tick_event(t);
}

/* Records a free of `p` (non-null) whose live-table entry was already removed
 * (found != 0) or was not there (found == 0). */
static void record_free(void *p, int found, uint64_t size, uint32_t stack) {
    struct memprof_thread *t = memprof_thread_self();
    if (MEMPROF_UNLIKELY(!t))
        return;
    memprof_bump(&t->count_frees, 1);
    if (found)
        memprof_bump(&t->count_freed_bytes, size);
    if (g_mode == MEMPROF_MODE_SAMPLE && !found)
        return; /* an unsampled block */
    int last = p == t->last_alloc;
    int temporary = last && memprof_own_count(&t->count_allocs) == t->last_alloc_count;
    if (last)
        t->last_alloc = NULL;
    if (g_mode == MEMPROF_MODE_AGGREGATE) {
        /* A block memprof never saw allocated is counted in the thread's counts only. */
        if (found) {
            memprof_bump(&t->heap_bytes, -size);
            memprof_aggregate_free(t, stack, size, temporary);
        }
        return;
    }
    uint8_t *w = memprof_reserve(t, 32);
    if (MEMPROF_UNLIKELY(!w))
        return;
    if (found) {
        uint64_t freed = g_mode == MEMPROF_MODE_SAMPLE ? memprof_sample_weighted_bytes(size) : size;
        memprof_bump(&t->heap_bytes, -freed);
        if (temporary && t->last_alloc_seq == t->buf_seq) {
            *w++ = MEMPROF_TAG_FREE_LAST; /* size and stack: the ALLOC just before */
        } else {
            *w++ = temporary ? MEMPROF_TAG_FREE_TEMP : MEMPROF_TAG_FREE;
            w = memprof_put_varint(w, size);
            w = memprof_put_varint(w, stack);
        }
    } else {
        *w++ = MEMPROF_TAG_FREE_UNKNOWN;
    }
    memprof_commit(t, w);
    memprof_tick_event(t);
}

/* Takes `p` out of the live table before the real free/realloc. */
struct removed {
    int found;
    uint64_t size;
    uint32_t stack;
};

static inline struct removed take_live(void *p) {
    struct removed r = {0, 0, 0};
    if (g_mode == MEMPROF_MODE_SAMPLE) {
        /* Most blocks were not sampled: the filter says so without a table lookup. */
        if (!memprof_filter_maybe((uintptr_t)p))
            return r;
        r.found = memprof_live_remove((uintptr_t)p, &r.size, &r.stack);
        if (r.found)
            memprof_filter_remove((uintptr_t)p);
        return r;
    }
    r.found = memprof_live_remove((uintptr_t)p, &r.size, &r.stack);
    return r;
}

/* ---- sample mode's fast path ------------------------------------------------------ */

/* In sample mode most events are not sampled; they only count. At the very top of a
 * hook: one initial-exec TLS block (t_sampler, the thread's state in sample mode, and
 * the recursion guard), the countdown of bytes to the next sample point, and for
 * frees one load from the small address filter. Everything else — a sample point,
 * the thread's first event, memprof's own calls, a block that may have been sampled
 * or that memprof's own heap or the bootstrap pool served — takes the hook's full
 * path, which decides as before. An allocation is counted before the real call, which
 * is then a tail call: an allocation below the next sample point that fails (out of
 * memory) is counted all the same (documented in docs/production.md).
 *
 * The counts stay exact in the thread's state (owner-only stores, no locked
 * instruction): allocations, frees and bytes allocated; bytes freed counts only the
 * sampled blocks, whose size memprof knows (as before).
 *
 * In sample mode no leak scan runs (neither at exit nor in-process), so g_state never
 * becomes SCANNING and the fast path need not look at it; after the trace is finished
 * it goes on counting, which nothing reads. */

/* The thread's state when an allocation of `size` bytes is not a sample point, with
 * the countdown already advanced; NULL when the hook must take its full path. */
static inline struct memprof_thread *sample_skip(uint64_t size) {
    struct memprof_thread *t = t_sampler;
    if (MEMPROF_LIKELY(size < (uint64_t)t->bytes_until_sample)) {
        t->bytes_until_sample -= (int64_t)size;
        return t;
    }
    return NULL;
}

static inline void sample_count_alloc(struct memprof_thread *t, uint64_t size) {
    memprof_bump(&t->count_allocs, 1);
    memprof_bump(&t->count_bytes, size);
}

/* Whether p was certainly not sampled, nor served from the bootstrap pool or memprof's
 * own heap, nor NULL (whose slot is pinned). */
static inline int sample_unsampled(const void *p) { return !memprof_filter_maybe((uintptr_t)p); }

/* ---- memprof's own calls --------------------------------------------------------- */

/* Allocations made with t_guard set are memprof's (or a signal handler's that
 * interrupted memprof): they come from memprof's own heap (memprof_own_heap.c), so
 * the program's heap is laid out as without memprof. NULL when that heap cannot serve
 * the request; the caller then passes it to the program's malloc as before. */
static void *own_alloc(size_t size, size_t align, int zero) {
    void *p = memprof_own_heap_alloc(size, align, zero);
    /* Sample mode's fast free must send the block to free_full, never to glibc. */
    if (p && g_mode == MEMPROF_MODE_SAMPLE)
        memprof_filter_add((uintptr_t)p);
    return p;
}

static void own_free(void *p) {
    int saved = memprof_guard_set(); /* the filter's lock is taken only guarded */
    if (g_mode == MEMPROF_MODE_SAMPLE)
        memprof_filter_remove((uintptr_t)p);
    memprof_own_heap_free(p);
    memprof_guard_restore(saved);
}

/* A block of memprof's own heap resized: in place, or moved within that heap. */
static void *own_realloc(void *p, size_t size) {
    if (size == 0) {
        own_free(p); /* as glibc's realloc(p, 0) */
        return NULL;
    }
    if (size <= memprof_own_heap_usable(p))
        return p;
    int saved = memprof_guard_set();
    void *q = own_alloc(size, 16, 0);
    memprof_guard_restore(saved);
    if (!q) {
        errno = ENOMEM;
        return NULL;
    }
    memcpy(q, p, memprof_own_heap_usable(p));
    own_free(p);
    return q;
}

static size_t own_calloc_size(size_t n, size_t size) {
    size_t total;
    return __builtin_mul_overflow(n, size, &total) ? SIZE_MAX : total;
}

static size_t own_page_size(void) { return (size_t)getpagesize(); }

static size_t own_whole_pages(size_t size) {
    size_t page = own_page_size();
    return size > SIZE_MAX - page ? SIZE_MAX : (size + page - 1) & ~(page - 1);
}

/* ---- the interposed functions ------------------------------------------------ */

/* Each hook is a small exported function: sample mode's fast path, then a call to
 * the full path (noinline, so that its register saves stay out of the fast path). */

static __attribute__((noinline)) void free_full(void *p) {
    if (!p || in_pool(p))
        return;
    if (memprof_own_heap_contains(p)) {
        own_free(p);
        return;
    }
    if (!recording() && passing_through()) {
        if (MEMPROF_LIKELY(real_free != NULL))
            real_free(p);
        return;
    }
    memprof_guard_set();
    struct removed r = take_live(p);
    scan_barrier();
    /* While an in-process leak check runs, a freed block's words could be the only
     * "pointers" to the check's blocks once the memory is reused without being
     * initialized (a collection's spare capacity): clear them. */
    if (MEMPROF_UNLIKELY(atomic_load_explicit(&g_check_active, memory_order_relaxed)) && r.found)
        memset(p, 0, r.size);
    real_free(p);
    record_free(p, r.found, r.size, r.stack);
    memprof_guard_restore(0);
}

MEMPROF_EXPORT void free(void *p) {
    struct memprof_thread *st = t_sampler;
    if (MEMPROF_LIKELY(st->bytes_until_sample > 0) && sample_unsampled(p)) {
        memprof_bump(&st->count_frees, 1);
        real_free(p);
        return;
    }
    if (untraced_call() && p && real_allocators(p)) {
        real_free(p);
        return;
    }
    free_full(p);
}

/* The recorded resize of realloc and reallocarray. */
static void *resize(void *p, size_t size, const struct memprof_regs *regs) {
    if (!recording()) {
        if (!p && t_guard) {
            void *own = own_alloc(size, 16, 0);
            if (own)
                return own;
        }
        if (passing_through())
            return real_realloc(p, size);
    }
    memprof_guard_set();
    struct removed r = {0, 0, 0};
    if (p) {
        r = take_live(p);
        scan_barrier();
    }
    void *q = real_realloc(p, size);
    if (q) {
        if (p)
            record_free(p, r.found, r.size, r.stack);
        record_alloc(q, size, regs);
    } else if (p && size == 0) {
        /* glibc's realloc(p, 0) frees p and returns NULL. */
        record_free(p, r.found, r.size, r.stack);
    } else if (p && r.found) {
        /* Failed: the old block is untouched and still live. */
        memprof_live_insert((uintptr_t)p, r.size, r.stack, 0);
        if (g_mode == MEMPROF_MODE_SAMPLE)
            memprof_filter_add((uintptr_t)p);
    }
    memprof_guard_restore(0);
    return q;
}

static void *pool_realloc(void *p, size_t size) {
    /* Moving a bootstrap block out of the pool: copy what it held. */
    void *q = malloc(size);
    if (q) {
        size_t old = pool_size(p);
        memcpy(q, p, old < size ? old : size);
    }
    return q;
}

static __attribute__((noinline)) void *realloc_full(void *p, size_t size, const struct memprof_regs *regs) {
    ENSURE_REAL_OR(pool_alloc(size));
    if (p && in_pool(p))
        return pool_realloc(p, size);
    if (p && memprof_own_heap_contains(p))
        return own_realloc(p, size);
    return resize(p, size, regs);
}

/* realloc's path before the full one: sample mode's fast path, or an untraced
 * process's call forwarded. Sets *done and returns the result when it served it. */
static inline void *realloc_shortcut(void *p, size_t size, int *done) {
    *done = 1;
    if (!p || sample_unsampled(p)) {
        struct memprof_thread *st = sample_skip(size);
        if (st) {
            void *q = real_realloc(p, size);
            if (p && (q || size == 0))
                memprof_bump(&st->count_frees, 1); /* moved, resized or (size 0) freed */
            if (q)
                sample_count_alloc(st, size);
            return q;
        }
    }
    if (untraced_call() && real_allocators(p))
        return real_realloc(p, size);
    *done = 0;
    return NULL;
}

MEMPROF_EXPORT void *realloc(void *p, size_t size) {
    int done;
    void *q = realloc_shortcut(p, size, &done);
    if (done)
        return q;
    MEMPROF_CAPTURE_REGS(regs);
    return realloc_full(p, size, &regs);
}

/* reallocarray is realloc after an overflow check, and goes through realloc's path
 * with the real realloc: glibc's reallocarray calls realloc through the PLT, which
 * would land in memprof's own realloc with the guard set and serve the program's
 * block from memprof's own heap (that block's later calls then went unrecorded). */
MEMPROF_EXPORT void *reallocarray(void *p, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    int done;
    void *q = realloc_shortcut(p, total, &done);
    if (done)
        return q;
    MEMPROF_CAPTURE_REGS(regs);
    return realloc_full(p, total, &regs);
}

static __attribute__((noinline)) int posix_memalign_full(void **out, size_t align, size_t size,
                                                         const struct memprof_regs *regs) {
    ENSURE_REAL_OR(ENOMEM);
    if (!recording()) {
        /* An alignment posix_memalign refuses is left to glibc to refuse. */
        void *own = t_guard && align % sizeof(void *) == 0 ? own_alloc(size, align, 0) : NULL;
        if (own) {
            *out = own;
            return 0;
        }
        if (passing_through())
            return real_posix_memalign(out, align, size);
    }
    memprof_guard_set();
    int rc = real_posix_memalign(out, align, size);
    if (rc == 0 && *out)
        record_alloc(*out, size, regs);
    memprof_guard_restore(0);
    return rc;
}

MEMPROF_EXPORT int posix_memalign(void **out, size_t align, size_t size) {
    struct memprof_thread *st = sample_skip(size);
    if (st) {
        int rc = real_posix_memalign(out, align, size);
        if (rc == 0 && *out)
            sample_count_alloc(st, size);
        return rc;
    }
    if (untraced_call())
        return real_posix_memalign(out, align, size);
    MEMPROF_CAPTURE_REGS(regs);
    return posix_memalign_full(out, align, size, &regs);
}

#define HOOK_UNPAREN(...) __VA_ARGS__

/* Every function that returns the new block: they differ only in the real call, the
 * size recorded (and, for the fast path, that size or SIZE_MAX when it overflows),
 * what memprof's own calls get from its own heap (size, alignment, zeroed), and what
 * they return while dlsym is still resolving (malloc and calloc serve dlsym itself
 * from the static pool). */
#define ALLOC_HOOK(name, params, args, size_expr, fast_size, own_args, bootstrap)                                      \
    static __attribute__((noinline)) void *name##_full(const struct memprof_regs *regs, HOOK_UNPAREN params) {         \
        ENSURE_REAL_OR(bootstrap);                                                                                     \
        if (!recording()) {                                                                                            \
            if (t_guard) {                                                                                             \
                void *own = own_alloc own_args;                                                                        \
                return own ? own : real_##name args;                                                                   \
            }                                                                                                          \
            if (passing_through())                                                                                     \
                return real_##name args;                                                                               \
        }                                                                                                              \
        memprof_guard_set();                                                                                           \
        void *p = real_##name args;                                                                                    \
        if (p)                                                                                                         \
            record_alloc(p, size_expr, regs);                                                                          \
        memprof_guard_restore(0);                                                                                      \
        return p;                                                                                                      \
    }                                                                                                                  \
    MEMPROF_EXPORT void *name params {                                                                                 \
        struct memprof_thread *st = sample_skip(fast_size);                                                            \
        if (st) {                                                                                                      \
            sample_count_alloc(st, fast_size);                                                                         \
            return real_##name args;                                                                                   \
        }                                                                                                              \
        if (untraced_call())                                                                                           \
            return real_##name args;                                                                                   \
        MEMPROF_CAPTURE_REGS(regs);                                                                                    \
        return name##_full(&regs, HOOK_UNPAREN args);                                                                  \
    }

ALLOC_HOOK(malloc, (size_t size), (size), size, size, (size, 16, 0), pool_alloc(size))
/* calloc's pool memory is zeroed: the pool is static. */
ALLOC_HOOK(calloc, (size_t n, size_t size), (n, size), n *size, own_calloc_size(n, size),
           (own_calloc_size(n, size), 16, 1), pool_alloc(n *size))
ALLOC_HOOK(aligned_alloc, (size_t align, size_t size), (align, size), size, size, (size, align, 0), NULL)
ALLOC_HOOK(memalign, (size_t align, size_t size), (align, size), size, size, (size, align, 0), NULL)
ALLOC_HOOK(valloc, (size_t size), (size), size, size, (size, own_page_size(), 0), NULL)
/* pvalloc rounds up to whole pages; record what the caller asked for, as valgrind does.
 * It is memalign of whole pages (glibc's is exactly that): an allocator behind memprof
 * that has no pvalloc (jemalloc) would otherwise leave it to glibc's, whose block the
 * other allocator's free then gets. */
static void *real_pvalloc_of(size_t size) {
    size_t whole = own_whole_pages(size);
    if (whole == SIZE_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    return real_memalign(own_page_size(), whole);
}
#define real_pvalloc real_pvalloc_of
ALLOC_HOOK(pvalloc, (size_t size), (size), size, size, (own_whole_pages(size), own_page_size(), 0), NULL)
#undef real_pvalloc

MEMPROF_EXPORT size_t malloc_usable_size(void *p) {
    if (!p)
        return 0;
    if (in_pool(p))
        return pool_size(p);
    if (memprof_own_heap_contains(p))
        return memprof_own_heap_usable(p);
    if (MEMPROF_UNLIKELY(!real_malloc_usable_size)) {
        if (resolve_real() != 0 || !real_malloc_usable_size)
            return 0;
    }
    return real_malloc_usable_size(p);
}

/* ---- C++'s operators ---------------------------------------------------------------
 * libstdc++'s operator new and delete call malloc and free, which memprof sees. An
 * allocator behind memprof may define the operators itself (jemalloc does): preloaded
 * before libstdc++, its definitions win, serve the blocks without calling malloc, and
 * memprof saw none of a C++ program's allocations under --jemalloc. So memprof defines
 * them too and forwards each to the next definition: with a tail call when that one is
 * not the real malloc's library (libstdc++'s: its malloc call is recorded as before),
 * recording the call itself when it is. Linked into a program they are left out (they
 * would become the program's own). */
#ifndef MEMPROF_LINKED
#include <link.h>

/* Whether `next` comes from the library that real_malloc comes from. */
static int same_library_as_malloc(void *next) {
    static _Atomic(void *) malloc_base;
    Dl_info info;
    void *base = atomic_load(&malloc_base);
    if (!base && real_malloc && dladdr((void *)real_malloc, &info))
        atomic_store(&malloc_base, base = info.dli_fbase);
    return base && dladdr(next, &info) && info.dli_fbase == base;
}

/* A resolved next definition: the function, and whether it serves blocks itself
 * (1) or through malloc (0); resolved on the first call. */
struct next_op {
    _Atomic(void *) fn;
    _Atomic int own;
};

/* The C++ runtime is not in the global scope when a library that needs it was
 * loaded with RTLD_LOCAL (a C program's or python's dlopen of a C++ plugin): its
 * operators are then found through the loaded objects, each asked with a handle of
 * its own (dlsym searches its dependencies). The handle that found it stays open, so
 * the runtime is never unloaded under the pointer memprof keeps. Not in a
 * dl_iterate_phdr callback: dlopen there could wait for the loader's lock. */
static void *next_op_in_loaded_objects(const char *name) {
    void *self = dlopen(NULL, RTLD_LAZY | RTLD_NOLOAD);
    struct link_map *map = NULL;
    if (!self || dlinfo(self, RTLD_DI_LINKMAP, &map) != 0)
        return NULL;
    Dl_info mine;
    if (!dladdr((void *)&next_op_in_loaded_objects, &mine))
        return NULL;
    for (; map; map = map->l_next) {
        if (!map->l_name || !map->l_name[0])
            continue;
        void *handle = dlopen(map->l_name, RTLD_LAZY | RTLD_NOLOAD);
        if (!handle)
            continue;
        void *fn = dlsym(handle, name);
        Dl_info where;
        if (fn && dladdr(fn, &where) && where.dli_fbase != mine.dli_fbase)
            return fn; /* handle kept open */
        dlclose(handle);
    }
    return NULL;
}

static void *next_op_resolve(struct next_op *op, const char *name) {
    void *fn = atomic_load_explicit(&op->fn, memory_order_acquire);
    if (MEMPROF_LIKELY(fn))
        return fn;
    if (atomic_load(&g_state) == MEMPROF_STATE_UNINIT)
        resolve_real();
    int saved = memprof_guard_set();
    fn = dlsym(RTLD_NEXT, name);
    if (!fn)
        fn = next_op_in_loaded_objects(name);
    int own = fn && same_library_as_malloc(fn);
    memprof_guard_restore(saved);
    if (!fn) {
        /* Someone called it, so a definition is loaded; memprof cannot find it. */
        static const char msg[] = "memprof: no next definition of a C++ allocation operator\n";
        (void)!write(2, msg, sizeof msg - 1);
        abort();
    }
    atomic_store(&op->own, own);
    atomic_store_explicit(&op->fn, fn, memory_order_release);
    return fn;
}

/* operator new from `regs` returned p (the next definition served it itself). */
static __attribute__((noinline)) void cxx_record_new(void *p, size_t size, const struct memprof_regs *regs) {
    if (!recording() && (t_guard || passing_through()))
        return;
    memprof_guard_set();
    record_alloc(p, size, regs);
    memprof_guard_restore(0);
}

/* operator delete(p) by a next definition that frees itself: `call` does it. */
#define CXX_DELETE_BODY(call)                                                                                          \
    if (p && (recording() || (!t_guard && !passing_through()))) {                                                      \
        memprof_guard_set();                                                                                           \
        struct removed r = take_live(p);                                                                               \
        scan_barrier();                                                                                                \
        call;                                                                                                          \
        record_free(p, r.found, r.size, r.stack);                                                                      \
        memprof_guard_restore(0);                                                                                      \
        return;                                                                                                        \
    }                                                                                                                  \
    call;

/* Each operator: the fast path (a forward to libstdc++'s, resolved) is a tail call
 * with nothing else on it; the rest (the first call, an allocator that serves the
 * operator itself) is in name##_slow. */
#define CXX_NEXT(name, ret, params)                                                                                    \
    static struct next_op name##_op;                                                                                   \
    typedef ret(*name##_fn) params;                                                                                    \
    static inline name##_fn name##_forward(void) {                                                                     \
        name##_fn next = (name##_fn)(void *)atomic_load_explicit(&name##_op.fn, memory_order_acquire);                 \
        return next && !atomic_load_explicit(&name##_op.own, memory_order_relaxed) ? next : NULL;                      \
    }

#define CXX_NEW(name, params, args)                                                                                    \
    CXX_NEXT(name, void *, params)                                                                                     \
    static __attribute__((noinline)) void *name##_slow(const struct memprof_regs *regs, HOOK_UNPAREN params) {         \
        void *(*next)params = (void *(*)params)next_op_resolve(&name##_op, #name);                                     \
        if (!atomic_load(&name##_op.own))                                                                              \
            return next args;                                                                                          \
        void *p = next args;                                                                                           \
        if (p)                                                                                                         \
            cxx_record_new(p, size, regs);                                                                             \
        return p;                                                                                                      \
    }                                                                                                                  \
    MEMPROF_EXPORT void *name params {                                                                                 \
        void *(*next)params = name##_forward();                                                                        \
        if (MEMPROF_LIKELY(next != NULL))                                                                              \
            return next args;                                                                                          \
        MEMPROF_CAPTURE_REGS(regs);                                                                                    \
        return name##_slow(&regs, HOOK_UNPAREN args);                                                                  \
    }

#define CXX_DELETE(name, params, args)                                                                                 \
    CXX_NEXT(name, void, params)                                                                                       \
    static __attribute__((noinline)) void name##_slow params {                                                         \
        void(*next) params = (void(*) params)next_op_resolve(&name##_op, #name);                                       \
        if (!atomic_load(&name##_op.own)) {                                                                            \
            next args;                                                                                                 \
            return;                                                                                                    \
        }                                                                                                              \
        CXX_DELETE_BODY(next args)                                                                                     \
    }                                                                                                                  \
    MEMPROF_EXPORT void name params {                                                                                  \
        void(*next) params = name##_forward();                                                                         \
        if (MEMPROF_LIKELY(next != NULL)) {                                                                            \
            next args;                                                                                                 \
            return;                                                                                                    \
        }                                                                                                              \
        name##_slow args;                                                                                              \
    }

/* The standard's std::nothrow_t and std::align_val_t, as the mangled names take them. */
typedef struct {
    char unused;
} memprof_nothrow_t;
typedef size_t memprof_align_val_t;

CXX_NEW(_Znwm, (size_t size), (size))
CXX_NEW(_Znam, (size_t size), (size))
CXX_NEW(_ZnwmRKSt9nothrow_t, (size_t size, const memprof_nothrow_t *nt), (size, nt))
CXX_NEW(_ZnamRKSt9nothrow_t, (size_t size, const memprof_nothrow_t *nt), (size, nt))
CXX_NEW(_ZnwmSt11align_val_t, (size_t size, memprof_align_val_t align), (size, align))
CXX_NEW(_ZnamSt11align_val_t, (size_t size, memprof_align_val_t align), (size, align))
CXX_NEW(_ZnwmSt11align_val_tRKSt9nothrow_t, (size_t size, memprof_align_val_t align, const memprof_nothrow_t *nt),
        (size, align, nt))
CXX_NEW(_ZnamSt11align_val_tRKSt9nothrow_t, (size_t size, memprof_align_val_t align, const memprof_nothrow_t *nt),
        (size, align, nt))
CXX_DELETE(_ZdlPv, (void *p), (p))
CXX_DELETE(_ZdaPv, (void *p), (p))
CXX_DELETE(_ZdlPvm, (void *p, size_t size), (p, size))
CXX_DELETE(_ZdaPvm, (void *p, size_t size), (p, size))
CXX_DELETE(_ZdlPvRKSt9nothrow_t, (void *p, const memprof_nothrow_t *nt), (p, nt))
CXX_DELETE(_ZdaPvRKSt9nothrow_t, (void *p, const memprof_nothrow_t *nt), (p, nt))
CXX_DELETE(_ZdlPvSt11align_val_t, (void *p, memprof_align_val_t align), (p, align))
CXX_DELETE(_ZdaPvSt11align_val_t, (void *p, memprof_align_val_t align), (p, align))
CXX_DELETE(_ZdlPvmSt11align_val_t, (void *p, size_t size, memprof_align_val_t align), (p, size, align))
CXX_DELETE(_ZdaPvmSt11align_val_t, (void *p, size_t size, memprof_align_val_t align), (p, size, align))
CXX_DELETE(_ZdlPvSt11align_val_tRKSt9nothrow_t, (void *p, memprof_align_val_t align, const memprof_nothrow_t *nt),
           (p, align, nt))
CXX_DELETE(_ZdaPvSt11align_val_tRKSt9nothrow_t, (void *p, memprof_align_val_t align, const memprof_nothrow_t *nt),
           (p, align, nt))
#endif

/* ---- the leak-check API ------------------------------------------------------------ */

/* Tells the leak check at exit that the block starting at p is not a leak (like
 * LeakSanitizer's __lsan_ignore_object): it counts as reachable, and so does what it
 * points to. Returns 0, or -1 if p is not a live block memprof knows. */
MEMPROF_EXPORT int memprof_ignore_object(const void *p) {
    if (!p || atomic_load(&g_state) == MEMPROF_STATE_UNINIT)
        return -1;
    return memprof_live_ignore((uintptr_t)p) ? 0 : -1;
}

/* _exit skips atexit handlers and destructors: finish the trace first. */
MEMPROF_EXPORT void _exit(int status) {
    memprof_finish(MEMPROF_END_VIA__EXIT);
    if (!real__exit)
        resolve_real();
    real__exit(status);
}

/* exit runs the atexit handlers and destructors, memprof's last: its leak scan then
 * takes this thread's stack from the frame that called exit, with the registers it
 * had there. The frames of the exit machinery in between hold nothing of the
 * program's, but whatever earlier, deeper calls left in their unwritten slots (a
 * freed block's address, a lost one's). */
MEMPROF_EXPORT void exit(int status) {
    CAPTURE_CALLEE_SAVED(regs);
    memprof_note_exit((uintptr_t)__builtin_frame_address(0) + 16, regs);
    if (!real_exit)
        resolve_real();
    t_tls.in_wrapper++; /* never returns: the atexit handlers run above this frame */
    if (real_exit)
        real_exit(status);
    _exit(status); /* exit could not be found: end at least */
}

MEMPROF_EXPORT void _Exit(int status) {
    memprof_finish(MEMPROF_END_VIA__EXIT);
    if (!real__Exit)
        resolve_real();
    if (real__Exit)
        real__Exit(status);
    real__exit(status);
}

/* ---- threads ------------------------------------------------------------------------ */

/* glibc's pthread_getattr_np holds the thread's lock while it allocates; memprof asks
 * it for a thread's stack bounds at the thread's first event, so it must know when
 * that event happens inside it (memprof_thread_stack_bounds). */
MEMPROF_EXPORT int pthread_getattr_np(pthread_t thread, pthread_attr_t *attr) {
    if (MEMPROF_UNLIKELY(!real_pthread_getattr_np)) {
        if (atomic_load(&g_state) == MEMPROF_STATE_UNINIT)
            resolve_real();
        if (!real_pthread_getattr_np)
            *(void **)&real_pthread_getattr_np = dlsym(RTLD_NEXT, "pthread_getattr_np");
        if (!real_pthread_getattr_np)
            return ENOSYS;
    }
    t_tls.in_getattr++;
    t_tls.in_wrapper++;
    int rc = real_pthread_getattr_np(thread, attr);
    t_tls.in_wrapper--;
    t_tls.in_getattr--;
    return rc;
}

/* ---- signals ------------------------------------------------------------------------ */

/* memprof's handler for the signals that end a process (memprof_fatal_signals_install)
 * is invisible to the program: where it is installed, the program is shown the default
 * action, as without memprof (Rust's std, for one, installs its own SIGSEGV handler
 * only over the default). A handler the program installs replaces it. glibc's signal
 * and its variants set the action without going through sigaction's PLT entry, so
 * each is wrapped. Resolved at the first allocation, before any program code runs. */
static void *resolve_signal_call(void **slot, const char *name) {
    if (MEMPROF_UNLIKELY(!*slot)) {
        if (atomic_load(&g_state) == MEMPROF_STATE_UNINIT)
            resolve_real();
        if (!*slot)
            *slot = dlsym(RTLD_NEXT, name);
    }
    return *slot;
}

MEMPROF_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (!resolve_signal_call((void **)&real_sigaction, "sigaction")) {
        errno = ENOSYS;
        return -1;
    }
    int rc = real_sigaction(sig, act, old);
    if (rc == 0)
        memprof_signal_hide(old);
    return rc;
}

#define SIGNAL_WRAPPER(name)                                                                                           \
    MEMPROF_EXPORT memprof_sighandler name(int sig, memprof_sighandler handler) {                                      \
        if (!resolve_signal_call((void **)&real_##name, #name)) {                                                      \
            errno = ENOSYS;                                                                                            \
            return SIG_ERR;                                                                                            \
        }                                                                                                              \
        memprof_sighandler previous = real_##name(sig, handler);                                                       \
        return memprof_signal_is_ours(previous) ? SIG_DFL : previous;                                                  \
    }
SIGNAL_WRAPPER(signal)
SIGNAL_WRAPPER(sigset)
SIGNAL_WRAPPER(bsd_signal)
SIGNAL_WRAPPER(sysv_signal)
SIGNAL_WRAPPER(__sysv_signal)
#undef SIGNAL_WRAPPER

/* ---- exec ------------------------------------------------------------------------ */

/* exec replaces the image without running atexit handlers or destructors: finish the
 * trace first (the new image finds the file taken and is not traced). If exec fails,
 * the program goes on untraced. Every variant is wrapped because glibc's execvp, execl
 * and friends reach execve internally, not through the PLT. */
static int (*real_execve)(const char *, char *const[], char *const[]);
static int (*real_execvpe)(const char *, char *const[], char *const[]);
static int (*real_fexecve)(int, char *const[], char *const[]);

#define RESOLVE_LAZY(name)                                                                                             \
    do {                                                                                                               \
        if (!real_##name)                                                                                              \
            *(void **)&real_##name = dlsym(RTLD_NEXT, #name);                                                          \
    } while (0)

MEMPROF_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    memprof_finish(MEMPROF_END_VIA_EXEC);
    RESOLVE_LAZY(execve);
    return real_execve(path, argv, envp);
}

MEMPROF_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    memprof_finish(MEMPROF_END_VIA_EXEC);
    RESOLVE_LAZY(execvpe);
    return real_execvpe(file, argv, envp);
}

MEMPROF_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    memprof_finish(MEMPROF_END_VIA_EXEC);
    RESOLVE_LAZY(fexecve);
    return real_fexecve(fd, argv, envp);
}

MEMPROF_EXPORT int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }

MEMPROF_EXPORT int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

/* The execl family: collect the variadic arguments into an argv on the stack. */
#define COLLECT_ARGS(first, ap, argv)                                                                                  \
    size_t argc = 1;                                                                                                   \
    va_start(ap, first);                                                                                               \
    while (va_arg(ap, char *))                                                                                         \
        argc++;                                                                                                        \
    va_end(ap);                                                                                                        \
    char *argv[argc + 1];                                                                                              \
    argv[0] = (char *)(first);                                                                                         \
    va_start(ap, first);                                                                                               \
    for (size_t i = 1; i <= argc; i++)                                                                                 \
        argv[i] = va_arg(ap, char *);

MEMPROF_EXPORT int execl(const char *path, const char *arg, ...) {
    va_list ap;
    COLLECT_ARGS(arg, ap, argv)
    va_end(ap);
    return execve(path, argv, environ);
}

MEMPROF_EXPORT int execlp(const char *file, const char *arg, ...) {
    va_list ap;
    COLLECT_ARGS(arg, ap, argv)
    va_end(ap);
    return execvpe(file, argv, environ);
}

MEMPROF_EXPORT int execle(const char *path, const char *arg, ...) {
    va_list ap;
    COLLECT_ARGS(arg, ap, argv)
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return execve(path, argv, envp);
}

/* ---- process lifetime ---------------------------------------------------------- */

static void on_fork_child(void) {
    /* The child has no writer thread. It records into a file of its own when
     * MEMPROF_OUTPUT holds %p; otherwise (or if that fails) it is not traced and its
     * hooks pass straight through from here on. A scan the parent was running is not
     * the child's to wait for. */
    int state = atomic_load(&g_state);
    int saved = memprof_guard_set();
    int traced = memprof_fork_child() == 0;
    memprof_guard_restore(saved);
    if (state == MEMPROF_STATE_SCANNING || (state == MEMPROF_STATE_ACTIVE && !traced))
        atomic_store(&g_state, MEMPROF_STATE_DISABLED);
}

__attribute__((constructor(101))) static void memprof_init(void) {
    if (atomic_load(&g_state) == MEMPROF_STATE_UNINIT)
        resolve_real();
#ifdef MEMPROF_LINKED
    /* The program's symbols are not visible to dlsym: tell the library where we are. */
    if (!g_deferred)
        memprof_client_register(&memprof_api_v1);
#endif
    if (atomic_load(&g_state) != MEMPROF_STATE_ACTIVE)
        return;
    int saved = memprof_guard_set();
    pthread_atfork(memprof_fork_prepare, memprof_fork_parent, on_fork_child);
    /* The handler first: a signal before the writer runs is served by its first turn. */
    memprof_snapshot_signal_install();
    memprof_writer_start();
    memprof_fatal_signals_install();
    memprof_guard_restore(saved);
}

/* Runs from _dl_fini after the program's atexit handlers and the destructors of
 * libraries initialized after us: as late as we can see the heap. */
__attribute__((destructor(101))) static void memprof_fini(void) { memprof_finish(MEMPROF_END_VIA_EXIT); }
