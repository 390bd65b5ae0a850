/*
 * memprof preload — the table of live heap blocks: address -> (size, stack id).
 *
 * Frees look up the block here, so FREE records carry the freed block's size and
 * allocation stack: the reader then needs no address map, and cross-thread frees
 * need no global event order. At exit the table lists the blocks never freed.
 *
 * 64 stripes, each an open-addressing (linear probing) table behind its own
 * spinlock, grown by doubling into a fresh mmap. Deletion shifts entries back, so
 * there are no tombstones. An entry is 16 bytes: the address, and the packed size,
 * flags and stack id of memprof_internal.h.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#include "memprof_internal.h"

#define STRIPE_BITS 6
#define STRIPES (1u << STRIPE_BITS)
#define SIZE_MASK (MEMPROF_LIVE_IGNORED - 1)

_Static_assert(MEMPROF_STACK_TABLE_BITS <= 64 - MEMPROF_LIVE_STACK_SHIFT, "stack ids must fit the bits an entry keeps");

struct entry {
    uintptr_t addr; /* 0 = empty */
    uint64_t packed;
};

struct stripe {
    atomic_flag lock;
    uint32_t count;
    uint32_t mask; /* capacity - 1; capacity 0 before the first insert */
    struct entry *slots;
} __attribute__((aligned(64)));

static struct stripe g_stripes[STRIPES];

static inline uint64_t mix(uintptr_t addr) {
    uint64_t h = (uint64_t)(addr >> 4) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static inline void lock(struct stripe *s) {
    unsigned spins = 0;
    while (atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire)) {
        if (++spins < 64)
            __builtin_ia32_pause();
        else
            sched_yield();
    }
}

static inline void unlock(struct stripe *s) { atomic_flag_clear_explicit(&s->lock, memory_order_release); }

/* A stripe's first entries live here (untouched pages cost nothing), so that a process
 * with few live blocks (sample mode's sampled ones) maps nothing for them: 64 stripes'
 * first maps were a tenth of a millisecond at every start. As many as the first map
 * held: fewer slots would make probe runs longer in full mode. */
#define FIRST_CAPACITY 256u
static struct entry g_first_slots[STRIPES][FIRST_CAPACITY];

static int grow(struct stripe *s) {
    uint32_t old_cap = s->slots ? s->mask + 1 : 0;
    uint32_t cap = old_cap ? old_cap * 2 : FIRST_CAPACITY;
    struct entry *first = g_first_slots[s - g_stripes];
    struct entry *slots = old_cap ? memprof_map((size_t)cap * sizeof(struct entry), MEMPROF_MAP_PLAIN) : first;
    if (!slots)
        return -1;
    uint32_t mask = cap - 1;
    for (uint32_t i = 0; i < old_cap; i++) {
        struct entry e = s->slots[i];
        if (!e.addr)
            continue;
        uint32_t j = (uint32_t)mix(e.addr) & mask;
        while (slots[j].addr)
            j = (j + 1) & mask;
        slots[j] = e;
    }
    /* The first array is cleared rather than given back: memprof's data is scanned for
     * pointers like any module's unless it is listed (memprof_live_ranges), and stale
     * entries there would make lost blocks look reachable. */
    if (s->slots == first)
        memset(first, 0, sizeof g_first_slots[0]);
    else if (s->slots)
        memprof_unmap(s->slots, (size_t)old_cap * sizeof(struct entry), MEMPROF_MAP_PLAIN);
    s->slots = slots;
    s->mask = mask;
    return 0;
}

int memprof_live_insert(uintptr_t addr, uint64_t size, uint32_t stack, uint64_t flags) {
    uint64_t h = mix(addr);
    struct stripe *s = &g_stripes[h >> (64 - STRIPE_BITS)];
    lock(s);
    if (!s->slots || (s->count + 1) * 4 > (s->mask + 1) * 3) {
        if (grow(s) != 0) {
            unlock(s);
            return -1;
        }
    }
    uint32_t i = (uint32_t)h & s->mask;
    while (s->slots[i].addr && s->slots[i].addr != addr)
        i = (i + 1) & s->mask;
    if (!s->slots[i].addr)
        s->count++;
    /* An address already present means its free went unseen (e.g. freed by an
     * allocator function we do not interpose); the new block replaces it. */
    s->slots[i].addr = addr;
    s->slots[i].packed = (size > SIZE_MASK ? SIZE_MASK : size) | flags | ((uint64_t)stack << MEMPROF_LIVE_STACK_SHIFT);
    unlock(s);
    return 0;
}

int memprof_live_remove(uintptr_t addr, uint64_t *size, uint32_t *stack) {
    uint64_t h = mix(addr);
    struct stripe *s = &g_stripes[h >> (64 - STRIPE_BITS)];
    lock(s);
    if (!s->slots) {
        unlock(s);
        return 0;
    }
    uint32_t mask = s->mask;
    uint32_t i = (uint32_t)h & mask;
    while (s->slots[i].addr != addr) {
        if (!s->slots[i].addr) {
            unlock(s);
            return 0;
        }
        i = (i + 1) & mask;
    }
    *size = memprof_live_size(s->slots[i].packed);
    *stack = memprof_live_stack(s->slots[i].packed);
    /* Backward-shift deletion: pull later entries of the probe run into the hole
     * when their home slot is at or before it. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & mask; s->slots[j].addr; j = (j + 1) & mask) {
        uint32_t home = (uint32_t)mix(s->slots[j].addr) & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            s->slots[hole] = s->slots[j];
            hole = j;
        }
    }
    s->slots[hole].addr = 0;
    s->count--;
    unlock(s);
    return 1;
}

void memprof_live_foreach(void (*fn)(uintptr_t, uint64_t, uint32_t, void *), void *ctx) {
    for (uint32_t k = 0; k < STRIPES; k++) {
        struct stripe *s = &g_stripes[k];
        lock(s);
        if (s->count) {
            for (uint32_t i = 0; i <= s->mask; i++) {
                struct entry e = s->slots[i];
                if (e.addr)
                    fn(e.addr, memprof_live_size(e.packed), memprof_live_stack(e.packed), ctx);
            }
        }
        unlock(s);
    }
}

void memprof_live_foreach_packed(void (*fn)(uintptr_t, uint64_t, void *), void *ctx) {
    for (uint32_t k = 0; k < STRIPES; k++) {
        struct stripe *s = &g_stripes[k];
        lock(s);
        if (s->count) {
            for (uint32_t i = 0; i <= s->mask; i++)
                if (s->slots[i].addr)
                    fn(s->slots[i].addr, s->slots[i].packed, ctx);
        }
        unlock(s);
    }
}

void memprof_live_clear(uint64_t flags) {
    for (uint32_t k = 0; k < STRIPES; k++) {
        struct stripe *s = &g_stripes[k];
        lock(s);
        if (s->count) {
            for (uint32_t i = 0; i <= s->mask; i++)
                s->slots[i].packed &= ~flags;
        }
        unlock(s);
    }
}

size_t memprof_live_count(void) {
    size_t n = 0;
    for (uint32_t k = 0; k < STRIPES; k++) {
        lock(&g_stripes[k]);
        n += g_stripes[k].count;
        unlock(&g_stripes[k]);
    }
    return n;
}

int memprof_live_ignore(uintptr_t addr) {
    uint64_t h = mix(addr);
    struct stripe *s = &g_stripes[h >> (64 - STRIPE_BITS)];
    int found = 0;
    lock(s);
    if (s->slots) {
        for (uint32_t i = (uint32_t)h & s->mask; s->slots[i].addr; i = (i + 1) & s->mask) {
            if (s->slots[i].addr == addr) {
                s->slots[i].packed |= MEMPROF_LIVE_IGNORED;
                found = 1;
                break;
            }
        }
    }
    unlock(s);
    return found;
}

void memprof_live_ranges(memprof_range_fn fn, void *ctx) {
    for (uint32_t k = 0; k < STRIPES; k++) {
        struct stripe *s = &g_stripes[k];
        lock(s);
        if (s->slots)
            fn((uintptr_t)s->slots, (uintptr_t)(s->slots + s->mask + 1), ctx);
        unlock(s);
    }
}

void memprof_live_lock_all(void) {
    for (uint32_t k = 0; k < STRIPES; k++)
        lock(&g_stripes[k]);
}

void memprof_live_unlock_all(void) {
    for (uint32_t k = 0; k < STRIPES; k++)
        unlock(&g_stripes[k]);
}