/*
 * memprof preload — memprof's own heap, for the allocations made inside memprof.
 *
 * Code running with t_guard set (memprof itself, and the libraries it calls: glibc's
 * pthread_getattr_np and stdio, zstd, libunwind) allocates through the interposed
 * functions too. Served by the program's malloc, those blocks would sit among the
 * program's and move them: a few small blocks at a thread's start change where every
 * later block goes, and with it when glibc trims its heaps (churn of the benchmark
 * suite, one thread: 150 madvise calls bare, 427 with memprof's blocks in its heap,
 * and 7% of its run time). They are served here instead, from a reservation of
 * memprof's own, so the program's heap is laid out as it would be without memprof.
 *
 * Blocks are powers of two, 16 B to 16 MiB, and naturally aligned up to 64 KiB.
 * Smaller blocks are cut from 64 KiB slabs of one size each; larger ones take whole
 * slabs. A byte per slab says the size of its blocks, so a block needs no header.
 * Freed blocks go on a list per size and are reused; nothing goes back to the system.
 *
 * One lock, waited for a bounded time: a caller that cannot get it (a signal handler
 * interrupting this thread inside the lock) is told no and uses the program's malloc as
 * before; a free that cannot get it keeps the block for good.
 * The fork handlers hold it across fork, so the child's lists are whole.
 */
#define _GNU_SOURCE
#include <string.h>

#include "memprof_internal.h"

#define REGION_SIZE MEMPROF_OWN_HEAP_SIZE
#define SLAB_SHIFT 16
#define SLAB_SIZE (1ull << SLAB_SHIFT)
#define SLABS (REGION_SIZE >> SLAB_SHIFT)
#define MIN_SHIFT 4
#define MAX_SHIFT 24

static atomic_flag g_lock = ATOMIC_FLAG_INIT;
#define NOT_MADE ((uintptr_t)0xffff800000000000ull) /* kernel space */
_Atomic uintptr_t g_own_heap_start = NOT_MADE;
static size_t g_top;                                    /* bytes of the reservation handed out as slabs */
static uint8_t g_slab_shift[SLABS];                     /* block size (as a shift) of each slab; 0 = unused */
static void *g_free[MAX_SHIFT + 1];                     /* freed blocks by size, linked through their first word */
static uintptr_t g_next[SLAB_SHIFT], g_end[SLAB_SHIFT]; /* the slab being cut, per small size */

/* Taken within a bounded wait: holders keep it for a few dozen instructions (the first
 * one for an mmap), so giving up means a signal handler interrupted this thread's own
 * holder, which the wait must not deadlock on. */
static int try_lock(void) {
    for (int spins = 0; spins < (1 << 14); spins++) {
        if (!atomic_flag_test_and_set_explicit(&g_lock, memory_order_acquire))
            return 1;
        __builtin_ia32_pause();
    }
    return 0;
}

static void unlock(void) { atomic_flag_clear_explicit(&g_lock, memory_order_release); }

void memprof_own_heap_lock(void) {
    while (!try_lock())
        __builtin_ia32_pause();
}

void memprof_own_heap_unlock(void) { unlock(); }

static int made(void) { return atomic_load(&g_own_heap_start) != NOT_MADE; }

static unsigned shift_of(const void *p) {
    return g_slab_shift[((uintptr_t)p - atomic_load_explicit(&g_own_heap_start, memory_order_relaxed)) >> SLAB_SHIFT];
}

/* `count` fresh slabs of blocks of 2^shift bytes, or 0. Called locked. */
static uintptr_t take_slabs(size_t count, unsigned shift) {
    if (!made()) {
        void *m = memprof_map(REGION_SIZE, MEMPROF_MAP_RESERVE);
        if (!m)
            return 0;
        atomic_store_explicit(&g_own_heap_start, (uintptr_t)m, memory_order_release);
    }
    uintptr_t lo = atomic_load_explicit(&g_own_heap_start, memory_order_relaxed);
    /* mmap gives page alignment; slabs are counted from the reservation's start. */
    if (g_top + count * SLAB_SIZE > REGION_SIZE)
        return 0;
    uintptr_t s = lo + g_top;
    for (size_t i = 0; i < count; i++)
        g_slab_shift[(g_top >> SLAB_SHIFT) + i] = (uint8_t)shift;
    g_top += count * SLAB_SIZE;
    return s;
}

void *memprof_own_heap_alloc(size_t size, size_t align, int zero) {
    if (align < 16)
        align = 16;
    if (align & (align - 1) || align > SLAB_SIZE || size > (1ull << MAX_SHIFT))
        return NULL;
    size_t need = size > align ? size : align;
    unsigned shift = MIN_SHIFT;
    while ((1ull << shift) < need)
        shift++;
    if (!try_lock())
        return NULL;
    void *p = g_free[shift];
    if (p) {
        g_free[shift] = *(void **)p;
    } else if (shift < SLAB_SHIFT) {
        if (g_next[shift] == g_end[shift]) {
            uintptr_t s = take_slabs(1, shift);
            g_next[shift] = s;
            g_end[shift] = s ? s + SLAB_SIZE : 0;
        }
        if (g_next[shift]) {
            p = (void *)g_next[shift];
            g_next[shift] += 1ull << shift;
            zero = 0; /* never used: still zero from mmap */
        }
    } else {
        p = (void *)take_slabs(1ull << (shift - SLAB_SHIFT), shift);
        zero = 0;
    }
    unlock();
    if (p && zero)
        memset(p, 0, size);
    return p;
}

size_t memprof_own_heap_usable(const void *p) { return (size_t)1 << shift_of(p); }

void memprof_own_heap_free(void *p) {
    unsigned shift = shift_of(p);
    if (!try_lock())
        return; /* kept for good: rare, and never wrong */
    *(void **)p = g_free[shift];
    g_free[shift] = p;
    unlock();
}

void memprof_own_heap_ranges(void (*fn)(uintptr_t lo, uintptr_t hi, void *ctx), void *ctx) {
    if (made()) {
        uintptr_t lo = atomic_load(&g_own_heap_start);
        fn(lo, lo + REGION_SIZE, ctx);
    }
}
