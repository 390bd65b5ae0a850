/*
 * memprof preload — call stacks and the module map.
 *
 * Stacks are captured with libunwind's unw_backtrace (DWARF CFI, per-thread
 * cache), trimmed of memprof's own frames, and interned in a lock-free
 * open-addressing table keyed by a hash of the return addresses: the first thread
 * to see a stack claims a slot with one CAS, stores the frames, publishes the
 * slot, and writes the STACK record; everyone else gets the id with a lookup.
 *
 * The module map (dl_iterate_phdr: paths, load biases, PT_LOAD segments,
 * build-ids) is written as MODULE records of a numbered generation. It is
 * refreshed lazily: whenever a new stack appears and glibc's load/unload counters
 * (dlpi_adds / dlpi_subs) moved — a dlopen'ed library's code can only show up in
 * a stack that is new. Each STACK record names the generation it belongs to.
 * (We do not interpose dlopen: wrapping it would change the caller whose
 * RUNPATH glibc searches.)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "memprof_build_id.h"
#include "memprof_internal.h"

/* ---- the stack table -------------------------------------------------------- */

struct stack_slot {
    _Atomic uint64_t hash; /* 0 = empty; set once by the claiming thread */
    _Atomic uint32_t id;   /* 0 until the slot is published */
    uint32_t nframes;
    const uintptr_t *frames;
};

/* Address space only, touched lazily. */
#define STACK_TABLE_SIZE (1u << MEMPROF_STACK_TABLE_BITS)
#define STACK_ARENA_SIZE (1ull << 30)

static struct stack_slot *g_stack_slots;
/* id -> slot, for the in-process API (address space only, like the table). */
static struct stack_slot **g_stack_by_id;
static uint8_t *g_stack_arena;
static _Atomic size_t g_stack_arena_used;
static _Atomic uint32_t g_next_stack_id = 1;
static _Atomic uint32_t g_stack_count;

/* memprof's own code, skipped at the top of every stack. */
static uintptr_t g_self_start, g_self_end;

static _Atomic uint32_t g_module_generation;
static _Atomic uint64_t g_module_adds, g_module_subs; /* as last written */
static pthread_mutex_t g_module_lock = PTHREAD_MUTEX_INITIALIZER;

/* Finds the executable segment holding this very code: memprof's own frames. */
static int find_self(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    const ElfW(Phdr) *ph = memprof_segment_holding(info, (uintptr_t)&find_self);
    if (!ph)
        return 0;
    g_self_start = info->dlpi_addr + ph->p_vaddr;
    g_self_end = g_self_start + ph->p_memsz;
    return 1;
}

static int stacks_ready(void) {
    static _Atomic int ready;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    if (MEMPROF_LIKELY(atomic_load_explicit(&ready, memory_order_acquire)))
        return 1;
    pthread_mutex_lock(&lock);
    if (!atomic_load(&ready)) {
        g_stack_slots = memprof_map(sizeof(struct stack_slot) * STACK_TABLE_SIZE, MEMPROF_MAP_RESERVE);
        g_stack_arena = memprof_map(STACK_ARENA_SIZE, MEMPROF_MAP_RESERVE);
        g_stack_by_id = memprof_map(sizeof *g_stack_by_id * STACK_TABLE_SIZE, MEMPROF_MAP_RESERVE);
        dl_iterate_phdr(find_self, NULL);
        unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
        if (g_stack_slots && g_stack_arena && g_stack_by_id)
            atomic_store_explicit(&ready, 1, memory_order_release);
    }
    pthread_mutex_unlock(&lock);
    return atomic_load(&ready);
}

/* Writes a STACK record; `outer` holds the frames outermost first, the record
 * innermost first. */
static void emit_stack(struct memprof_thread *t, uint32_t id, uint32_t generation, const uintptr_t *outer, int n) {
    uint8_t *w = memprof_reserve(t, 16 + (size_t)n * 10);
    if (!w)
        return;
    *w++ = MEMPROF_TAG_STACK;
    w = memprof_put_varint(w, id);
    w = memprof_put_varint(w, generation);
    w = memprof_put_varint(w, (uint64_t)n);
    if (n > 0)
        w = memprof_put_varint(w, outer[n - 1]);
    for (int i = n - 2; i >= 0; i--)
        w = memprof_put_svarint(w, (int64_t)(outer[i] - outer[i + 1]));
    memprof_commit(t, w);
}

/* The slow path: libunwind, dropping memprof's own frames (record, hook): those
 * up to the hook's return address, regs->ip. When that is not found (a frame
 * libunwind could not step), the frames in memprof's own code, which a preload
 * keeps apart from the program's. Stores the frames outermost first. */
static int unwind_with_libunwind(const struct memprof_regs *regs, uintptr_t *outer) {
    void *raw[MEMPROF_MAX_FRAMES + 8];
    int n = unw_backtrace(raw, MEMPROF_MAX_FRAMES + 8);
    int skip = 0;
    while (skip < n && (uintptr_t)raw[skip] != regs->ip)
        skip++;
    if (skip == n) {
        skip = 0;
        while (skip < n && (uintptr_t)raw[skip] >= g_self_start && (uintptr_t)raw[skip] < g_self_end)
            skip++;
    }
    n -= skip;
    if (n > MEMPROF_MAX_FRAMES)
        n = MEMPROF_MAX_FRAMES;
    for (int i = 0; i < n; i++)
        outer[i] = (uintptr_t)raw[skip + n - 1 - i];
    return n > 0 ? n : 0;
}

static uint32_t intern(struct memprof_thread *t, const uintptr_t *frames, int n, uint64_t h);

/* A frame in memprof's own code above the hook is one of its wrappers that stays on
 * the stack while the real function runs (pthread_getattr_np, exit): a bare run has
 * no such frame, so stacks leave them out. Called only while such a wrapper runs
 * (t_tls.in_wrapper): the walk over every frame is not for every new stack. Copies `in` without them into `out` (which
 * may be `in`) and returns how many are left, or -1 when there was none (out
 * untouched). Linked into the program, memprof's code is the program's segment: no
 * frame is left out there. */
static int drop_passthrough_frames(const uintptr_t *in, int n, uintptr_t *out) {
#ifdef MEMPROF_LINKED
    (void)in, (void)n, (void)out;
    return -1;
#else
    int i = 0;
    while (i < n && (in[i] < g_self_start || in[i] >= g_self_end))
        i++;
    if (i == n)
        return -1;
    int k = 0;
    for (int j = 0; j < n; j++)
        if (in[j] < g_self_start || in[j] >= g_self_end)
            out[k++] = in[j];
    return k;
#endif
}

uint32_t memprof_stack_current(struct memprof_thread *t, const struct memprof_regs *regs) {
    if (MEMPROF_UNLIKELY(!stacks_ready())) {
        memprof_fail("cannot map memory for the stack table", 0);
        return 0;
    }
    if (MEMPROF_UNLIKELY(t->stack_pending))
        memprof_thread_stack_bounds(t);
    struct memprof_unwind_cache *c = &t->unwind;
    uintptr_t outer[MEMPROF_MAX_FRAMES];
    if (MEMPROF_LIKELY(regs->sp >= t->stack_lo && regs->sp < t->stack_hi) &&
        memprof_unwind(regs, t->stack_lo, t->stack_hi, c) == 0) {
        if (c->stack_id)
            return c->stack_id; /* the same stack as this thread's last event */
        int kept = MEMPROF_UNLIKELY(t_tls.in_wrapper) ? drop_passthrough_frames(c->ip, c->n, outer) : -1;
        if (kept >= 0)
            return c->stack_id = intern(t, outer, kept, memprof_hash_frames(outer, kept));
        uint64_t h = c->n ? c->hash[c->n - 1] | 1 : MEMPROF_HASH_SEED | 1;
        return c->stack_id = intern(t, c->ip, c->n, h);
    }
    int n = unwind_with_libunwind(regs, outer);
    int kept = MEMPROF_UNLIKELY(t_tls.in_wrapper) ? drop_passthrough_frames(outer, n, outer) : -1;
    if (kept >= 0)
        n = kept;
    return intern(t, outer, n, memprof_hash_frames(outer, n));
}

/* Returns the id of the stack `frames` (outermost first, hash h), adding it to the
 * table and writing its STACK record if it is new; 0 if the table is full. */
static uint32_t intern(struct memprof_thread *t, const uintptr_t *frames, int n, uint64_t h) {

    uint32_t mask = STACK_TABLE_SIZE - 1;
    int refreshed = 0;
    for (uint32_t i = (uint32_t)h & mask, probes = 0; probes < STACK_TABLE_SIZE; i = (i + 1) & mask, probes++) {
        struct stack_slot *s = &g_stack_slots[i];
        uint64_t sh = atomic_load_explicit(&s->hash, memory_order_acquire);
        if (sh == 0) {
            /* Not interned yet. Refresh the module map first, while we hold no
             * slot: dl_iterate_phdr may wait for a thread that is itself inside
             * malloc looking up this very slot. */
            if (!refreshed) {
                memprof_modules_refresh(t);
                refreshed = 1;
            }
            if (atomic_load(&g_stack_count) >= STACK_TABLE_SIZE / 4 * 3) {
                memprof_fail("too many distinct call stacks (stack table full)", 0);
                return 0;
            }
            uint64_t expected = 0;
            if (!atomic_compare_exchange_strong(&s->hash, &expected, h)) {
                sh = expected; /* lost the race: look at what the winner put here */
                goto occupied;
            }
            t->claiming = s; /* until published (a fork in between: memprof_stacks_replay) */
            size_t bytes = (size_t)n * sizeof(uintptr_t);
            size_t off = atomic_fetch_add(&g_stack_arena_used, (bytes + 7) & ~(size_t)7);
            if (off + bytes > STACK_ARENA_SIZE) {
                t->claiming = NULL;
                memprof_fail("stack arena full", 0);
                return 0;
            }
            uintptr_t *copy = (uintptr_t *)(g_stack_arena + off);
            memcpy(copy, frames, bytes);
            s->frames = copy;
            s->nframes = (uint32_t)n;
            uint32_t id = atomic_fetch_add(&g_next_stack_id, 1);
            atomic_fetch_add(&g_stack_count, 1);
            uint32_t generation = atomic_load(&g_module_generation);
            /* Write the record before publishing: anyone who then uses the id from
             * this thread's point of view sees it defined earlier in our stream. */
            emit_stack(t, id, generation, frames, n);
            g_stack_by_id[id] = s;
            atomic_store_explicit(&s->id, id, memory_order_release);
            t->claiming = NULL;
            return id;
        }
    occupied:
        if (sh != h)
            continue;
        uint32_t id;
        while ((id = atomic_load_explicit(&s->id, memory_order_acquire)) == 0)
            ; /* the claimer is between CAS and publish: a few instructions */
        if (s->nframes == (uint32_t)n && memcmp(s->frames, frames, (size_t)n * sizeof(uintptr_t)) == 0)
            return id;
    }
    memprof_fail("stack table full", 0);
    return 0;
}

uint32_t memprof_stack_id_limit(void) { return atomic_load(&g_next_stack_id); }

int memprof_stack_frames(uint32_t id, uint64_t *frames, int capacity) {
    if (!g_stack_by_id || id == 0 || id >= atomic_load(&g_next_stack_id))
        return 0;
    struct stack_slot *s = g_stack_by_id[id];
    if (!s || atomic_load_explicit(&s->id, memory_order_acquire) != id)
        return 0;
    int n = (int)s->nframes < capacity ? (int)s->nframes : capacity;
    for (int i = 0; i < n; i++)
        frames[i] = s->frames[s->nframes - 1 - (uint32_t)i];
    return n;
}

/* ---- the module map ------------------------------------------------------------- */

static int read_counters(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    uint64_t *c = data;
    c[0] = info->dlpi_adds;
    c[1] = info->dlpi_subs;
    return 1; /* the counters are the same on every entry: stop at the first */
}

static char g_exe_path[4096];

struct module_ctx {
    struct memprof_thread *t;
    uint32_t generation;
};

static int emit_module(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct module_ctx *ctx = data;
    const char *path = info->dlpi_name;
    if (!path || !*path)
        path = g_exe_path; /* the main program has an empty name */
    size_t path_len = strnlen(path, 4096);
    size_t id_len;
    const uint8_t *id = memprof_find_build_id(info, &id_len);
    if (id_len > 64)
        id_len = 64;
    uint8_t *w = memprof_reserve(ctx->t, 64 + path_len + id_len + (size_t)info->dlpi_phnum * 24);
    if (!w)
        return 1;
    *w++ = MEMPROF_TAG_MODULE;
    w = memprof_put_varint(w, ctx->generation);
    w = memprof_put_varint(w, info->dlpi_addr);
    w = memprof_put_varint(w, path_len);
    memcpy(w, path, path_len);
    w += path_len;
    w = memprof_put_varint(w, id_len);
    if (id_len)
        memcpy(w, id, id_len);
    w += id_len;
    int loads = 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        loads += info->dlpi_phdr[i].p_type == PT_LOAD;
    w = memprof_put_varint(w, (uint64_t)loads);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        w = memprof_put_varint(w, ph->p_vaddr);
        w = memprof_put_varint(w, ph->p_memsz);
        *w++ = memprof_segment_flags(ph);
    }
    memprof_commit(ctx->t, w);
    return 0;
}

void memprof_modules_refresh(struct memprof_thread *t) {
    uint64_t c[2] = {0, 0};
    dl_iterate_phdr(read_counters, c);
    if (atomic_load(&g_module_generation) != 0 && c[0] == atomic_load(&g_module_adds) &&
        c[1] == atomic_load(&g_module_subs))
        return;
    pthread_mutex_lock(&g_module_lock);
    if (atomic_load(&g_module_generation) == 0 || c[0] != atomic_load(&g_module_adds) ||
        c[1] != atomic_load(&g_module_subs)) {
        if (!g_exe_path[0]) {
            ssize_t r = readlink("/proc/self/exe", g_exe_path, sizeof g_exe_path - 1);
            g_exe_path[r > 0 ? r : 0] = 0;
        }
        struct module_ctx ctx = {t, atomic_load(&g_module_generation) + 1};
        dl_iterate_phdr(emit_module, &ctx);
        atomic_store(&g_module_adds, c[0]);
        atomic_store(&g_module_subs, c[1]);
        atomic_store(&g_module_generation, ctx.generation);
    }
    pthread_mutex_unlock(&g_module_lock);
}

void memprof_stack_ranges(memprof_range_fn fn, void *ctx) {
    if (g_stack_slots)
        fn((uintptr_t)g_stack_slots, (uintptr_t)(g_stack_slots + STACK_TABLE_SIZE), ctx);
    if (g_stack_arena)
        fn((uintptr_t)g_stack_arena, (uintptr_t)g_stack_arena + STACK_ARENA_SIZE, ctx);
    if (g_stack_by_id)
        fn((uintptr_t)g_stack_by_id, (uintptr_t)(g_stack_by_id + STACK_TABLE_SIZE), ctx);
}

/* ---- fork --------------------------------------------------------------------------- */

void memprof_stacks_lock(void) { pthread_mutex_lock(&g_module_lock); }
void memprof_stacks_unlock(void) { pthread_mutex_unlock(&g_module_lock); }

/* A slot another thread of the parent had claimed but not published when the process
 * forked will never be published in the child: it is made unmatchable. */
static void abandon_claim(struct memprof_thread *other, void *ctx) {
    (void)ctx;
    struct stack_slot *s = other->claiming;
    if (s && !atomic_load(&s->id)) {
        s->nframes = UINT32_MAX;
        atomic_store(&s->id, UINT32_MAX);
    }
    other->claiming = NULL;
}

/* In a fork child that records into a file of its own: the file has none of the
 * stacks the parent interned, so write the module map and every stack again, into t's
 * buffer. */
void memprof_stacks_replay(struct memprof_thread *t) {
    if (!stacks_ready())
        return;
    memprof_threads_foreach(abandon_claim, NULL);
    atomic_store(&g_module_generation, 0); /* forces the next refresh to write the map */
    memprof_modules_refresh(t);
    uint32_t generation = atomic_load(&g_module_generation);
    uint32_t limit = atomic_load(&g_next_stack_id);
    for (uint32_t id = 1; id < limit; id++) {
        struct stack_slot *s = g_stack_by_id[id];
        if (s && atomic_load(&s->id) == id)
            emit_stack(t, id, generation, s->frames, (int)s->nframes);
    }
}