/*
 * memprof preload — aggregate mode's per-stack counters and snapshots.
 *
 * In aggregate mode no event is written. Each allocation and free updates its
 * stack's counters (allocations, frees, bytes allocated and freed, temporaries) in a
 * table of the calling thread's own: plain stores by the owner only, so threads that
 * allocate from the same stacks never share a cache line. The writer thread sums the
 * tables every snapshot interval and on demand, and writes the stacks whose sums
 * changed as SITE records of a SNAPSHOT. The trace then grows with distinct stacks ×
 * snapshots, never with the number of events, and memprof's own memory with distinct
 * stacks, threads and live blocks (the live table still maps each block to its stack,
 * for frees and for the leak scan at exit).
 *
 * A thread's table is open addressing keyed by stack id. The owner claims an entry by
 * publishing its stack id after the counters are zero (release; the writer reads it
 * with acquire), and grows the table by copying it into one twice the size and
 * publishing that. The old one is kept, never unmapped: the writer may be reading it,
 * and a leak scan (which runs beside the writer) must not find memory gone under it;
 * the tables a thread outgrew add up to less than its current one. Tables of exited
 * threads stay (their counts are part of the totals) and serve the next thread that
 * reuses the state.
 *
 * The writer reads counters another thread is updating: each is one aligned word
 * that only grows, so a sum may miss the latest few events (the next snapshot has
 * them) but is never torn. A stack's peak is the most bytes it held live at any
 * snapshot: frees on another thread than the allocation make per-thread live bytes
 * meaningless, and a global live counter per stack would be shared again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "memprof_internal.h"

struct agg_entry {
    _Atomic uint32_t stack; /* 0: empty */
    uint32_t unused;
    _Atomic uint64_t allocs, frees, bytes, freed, temporaries; /* owner-written (memprof_bump) */
};

struct agg_table {
    uint32_t mask, count;
    size_t map_size;
    struct agg_entry e[];
};

/* Per stack id, writer-only: this snapshot's sums, and what was last written. */
struct agg_sum {
    uint64_t allocs, frees, bytes, freed, temporaries;
};
struct agg_written {
    uint64_t allocs, frees, bytes, freed, temporaries, peak;
};

#define AGG_IDS (1u << MEMPROF_STACK_TABLE_BITS)
#define AGG_FIRST_CAPACITY 64u

static struct agg_sum *g_sums;
static struct agg_written *g_written;

int memprof_aggregate_init(void) {
    g_sums = memprof_map(sizeof *g_sums * AGG_IDS, MEMPROF_MAP_RESERVE);
    g_written = memprof_map(sizeof *g_written * AGG_IDS, MEMPROF_MAP_RESERVE);
    return g_sums && g_written ? 0 : -1;
}

static inline uint32_t slot_of(uint32_t stack, uint32_t mask) { return (stack * 0x9E3779B1u >> 7) & mask; }

static struct agg_table *table_new(uint32_t capacity) {
    size_t size = sizeof(struct agg_table) + sizeof(struct agg_entry) * capacity;
    struct agg_table *t = memprof_map(size, MEMPROF_MAP_PLAIN);
    if (t) {
        t->mask = capacity - 1;
        t->map_size = size;
    }
    return t;
}

/* The empty slot where `stack` goes in `table` (which has one). */
static uint32_t free_slot(const struct agg_table *table, uint32_t stack) {
    uint32_t j = slot_of(stack, table->mask);
    while (atomic_load_explicit(&table->e[j].stack, memory_order_relaxed))
        j = (j + 1) & table->mask;
    return j;
}

/* Owner only: the entry of `stack` in t's table, claimed if new; NULL without memory. */
static __attribute__((noinline)) struct agg_entry *claim(struct memprof_thread *t, uint32_t stack) {
    struct agg_table *old = atomic_load_explicit(&t->aggregate, memory_order_relaxed);
    if (!old || (old->count + 1) * 4 > (old->mask + 1) * 3) {
        struct agg_table *grown = table_new(old ? (old->mask + 1) * 2 : AGG_FIRST_CAPACITY);
        if (!grown) {
            memprof_fail("cannot map memory for aggregate counters", errno);
            return NULL;
        }
        for (uint32_t i = 0; old && i <= old->mask; i++) {
            uint32_t id = atomic_load_explicit(&old->e[i].stack, memory_order_relaxed);
            if (!id)
                continue;
            grown->e[free_slot(grown, id)] = old->e[i];
            grown->count++;
        }
        atomic_store_explicit(&t->aggregate, grown, memory_order_release);
        old = grown;
    }
    uint32_t j = free_slot(old, stack);
    old->count++;
    atomic_store_explicit(&old->e[j].stack, stack, memory_order_release);
    return &old->e[j];
}

/* Owner only: the entry of `stack`, found or claimed. */
static inline struct agg_entry *entry(struct memprof_thread *t, uint32_t stack) {
    struct agg_table *table = atomic_load_explicit(&t->aggregate, memory_order_relaxed);
    if (MEMPROF_LIKELY(table != NULL)) {
        for (uint32_t j = slot_of(stack, table->mask);; j = (j + 1) & table->mask) {
            uint32_t id = atomic_load_explicit(&table->e[j].stack, memory_order_relaxed);
            if (MEMPROF_LIKELY(id == stack))
                return &table->e[j];
            if (!id)
                break;
        }
    }
    return claim(t, stack);
}

void memprof_aggregate_alloc(struct memprof_thread *t, uint32_t stack, uint64_t size) {
    struct agg_entry *e = entry(t, stack);
    if (MEMPROF_UNLIKELY(!e))
        return;
    memprof_bump(&e->allocs, 1);
    memprof_bump(&e->bytes, size);
}

void memprof_aggregate_free(struct memprof_thread *t, uint32_t stack, uint64_t size, int temporary) {
    struct agg_entry *e = entry(t, stack);
    if (MEMPROF_UNLIKELY(!e))
        return;
    memprof_bump(&e->frees, 1);
    memprof_bump(&e->freed, size);
    if (temporary)
        memprof_bump(&e->temporaries, 1);
}

/* ---- the writer's side ------------------------------------------------------------- */

static void add_thread(struct memprof_thread *t, void *ctx) {
    (void)ctx;
    const struct agg_table *table = atomic_load_explicit(&t->aggregate, memory_order_acquire);
    for (uint32_t i = 0; table && i <= table->mask; i++) {
        const struct agg_entry *e = &table->e[i];
        uint32_t id = atomic_load_explicit(&e->stack, memory_order_acquire);
        if (!id || id >= AGG_IDS)
            continue;
        struct agg_sum *s = &g_sums[id];
        s->allocs += atomic_load_explicit(&e->allocs, memory_order_relaxed);
        s->frees += atomic_load_explicit(&e->frees, memory_order_relaxed);
        s->bytes += atomic_load_explicit(&e->bytes, memory_order_relaxed);
        s->freed += atomic_load_explicit(&e->freed, memory_order_relaxed);
        s->temporaries += atomic_load_explicit(&e->temporaries, memory_order_relaxed);
    }
}

uint64_t memprof_aggregate_mark(void) {
    uint32_t limit = memprof_stack_id_limit();
    memset(g_sums, 0, sizeof *g_sums * limit);
    memprof_threads_foreach(add_thread, NULL);
    uint64_t count = 0;
    for (uint32_t id = 1; id < limit; id++)
        count += g_sums[id].allocs != g_written[id].allocs || g_sums[id].frees != g_written[id].frees;
    return count;
}

/* The longest SITE record: a tag, the stack id and six varints. */
#define SITE_RECORD_MAX (1 + 5 + 6 * 10)

size_t memprof_aggregate_sites(uint8_t *out, size_t cap, uint32_t *next) {
    uint32_t limit = memprof_stack_id_limit();
    uint8_t *w = out;
    uint32_t id = *next ? *next : 1;
    for (; id < limit && (size_t)(w - out) + SITE_RECORD_MAX <= cap; id++) {
        const struct agg_sum *s = &g_sums[id];
        struct agg_written *o = &g_written[id];
        if (s->allocs == o->allocs && s->frees == o->frees)
            continue;
        /* Sums of counters read while they grow: never below what was written. */
        struct agg_written now = {
            s->allocs > o->allocs ? s->allocs : o->allocs,
            s->frees > o->frees ? s->frees : o->frees,
            s->bytes > o->bytes ? s->bytes : o->bytes,
            s->freed > o->freed ? s->freed : o->freed,
            s->temporaries > o->temporaries ? s->temporaries : o->temporaries,
            o->peak,
        };
        uint64_t live = now.bytes > now.freed ? now.bytes - now.freed : 0;
        if (live > now.peak)
            now.peak = live;
        *w++ = MEMPROF_TAG_SITE;
        w = memprof_put_varint(w, id);
        w = memprof_put_varint(w, now.allocs - o->allocs);
        w = memprof_put_varint(w, now.frees - o->frees);
        w = memprof_put_varint(w, now.bytes - o->bytes);
        w = memprof_put_varint(w, now.freed - o->freed);
        w = memprof_put_varint(w, now.temporaries - o->temporaries);
        w = memprof_put_varint(w, now.peak);
        *o = now;
    }
    *next = id;
    return (size_t)(w - out);
}

void memprof_aggregate_forget_written(void) {
    if (g_written)
        memset(g_written, 0, sizeof *g_written * memprof_stack_id_limit());
}

void memprof_aggregate_thread_ranges(const struct memprof_thread *t, memprof_range_fn fn, void *ctx) {
    const struct agg_table *table = atomic_load_explicit(&t->aggregate, memory_order_acquire);
    if (table)
        fn((uintptr_t)table, (uintptr_t)table + table->map_size, ctx);
}

void memprof_aggregate_ranges(memprof_range_fn fn, void *ctx) {
    if (g_sums)
        fn((uintptr_t)g_sums, (uintptr_t)(g_sums + AGG_IDS), ctx);
    if (g_written)
        fn((uintptr_t)g_written, (uintptr_t)(g_written + AGG_IDS), ctx);
}
