/*
 * memprof preload — internal interfaces between the preload's files.
 *
 * The preload is plain C that runs inside the profiled process. It must never
 * allocate through the interposed functions while recording (all of its own memory
 * comes from mmap), never take a lock that an allocation inside that lock could
 * need again, and never crash or change what the host program does: on any
 * internal failure it stops tracing, prints one line on stderr, and passes calls
 * through.
 *
 * Naming: memprof_* is shared between the preload's files (hidden visibility),
 * g_* are globals, t_* thread-locals. Only the libc allocation entry points are
 * exported (see memprof_hooks.c).
 */
#ifndef MEMPROF_INTERNAL_H
#define MEMPROF_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memprof_format.h"

#define MEMPROF_HIDDEN __attribute__((visibility("hidden")))
#define MEMPROF_LIKELY(x) __builtin_expect(!!(x), 1)
#define MEMPROF_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MEMPROF_TLS __thread __attribute__((tls_model("initial-exec")))

#define MEMPROF_VERSION "0.1.0"

/* Tracing state, g_state. Hooks record only while ACTIVE. */
enum {
    MEMPROF_STATE_UNINIT = 0,   /* real functions not resolved yet */
    MEMPROF_STATE_ACTIVE = 1,   /* recording */
    MEMPROF_STATE_FINISHED = 2, /* trace closed (exit) or stopped after a failure */
    MEMPROF_STATE_DISABLED = 3, /* not tracing in this process (fork child, file taken) */
    MEMPROF_STATE_SCANNING = 4, /* the leak scan at exit runs: the program's calls wait for it, then FINISHED */
};
extern _Atomic int g_state MEMPROF_HIDDEN;

/* The thread-local words every hook reads, in one initial-exec TLS block (reading it
 * never allocates, and one address load serves them all):
 *   guard: the per-thread recursion guard, non-zero while the thread runs memprof
 *     code, so allocations made by libunwind, zstd, libc or dlsym on our behalf are
 *     not recorded (they come from memprof's own heap);
 *   sampler: sample mode's fast path state (see g_no_sampler below).
 * t_guard and t_sampler name the first two. */
struct memprof_thread;
struct memprof_tls {
    struct memprof_thread *sampler;
    int guard;
    /* What sampler is while the guard is clear: the thread's state in sample mode once
     * made, else g_no_sampler. */
    struct memprof_thread *home;
    /* Non-zero while the thread is inside pthread_getattr_np (memprof_hooks.c), which
     * holds a thread's lock and allocates: memprof must not ask for the stack bounds
     * then (that takes the same lock again). */
    int in_getattr;
    /* Non-zero while one of memprof's wrappers that calls the real function (not a
     * tail call) is on the thread's stack: pthread_getattr_np, exit. Only then can a
     * recorded stack hold memprof's frames, which memprof_stack_current leaves out. */
    int in_wrapper;
    /* A signal that would end the process, sent (not a fault) while the guard was set:
     * memprof's handler holds it until memprof's code is done (memprof_guard_restore),
     * so that it does not end the process with memprof's locks held. 0: none. */
    int pending_signal;
};
extern MEMPROF_TLS struct memprof_tls t_tls MEMPROF_HIDDEN;
#define t_guard (t_tls.guard)
#define t_sampler (t_tls.sampler)

/* ---- event buffers (memprof_writer.c) ------------------------------------ */

/* A buffer of encoded records; one block of the trace when full. Lives in mmap'd
 * memory and is recycled, never unmapped while the process runs. */
struct memprof_buffer {
    struct memprof_buffer *next; /* queue / free-list link */
    uint8_t kind;                /* MEMPROF_BLOCK_* */
    uint32_t thread;             /* thread index for THREAD blocks */
    size_t len;                  /* bytes used in data */
    uint8_t *data;               /* capacity MEMPROF_BUFFER_CAPACITY */
};
#define MEMPROF_BUFFER_CAPACITY (64u * 1024u)

/* Where the interposed function was called from: the caller's return address, its
 * stack pointer after the call returns (the hook's CFA), and its rbp. */
struct memprof_regs {
    uintptr_t ip, sp, bp;
};

/* Captures memprof_regs in an interposed function. The preload is built with frame
 * pointers, so the hook's rbp points at the caller's saved rbp, with the return
 * address above it. */
#define MEMPROF_CAPTURE_REGS(r)                                                                                        \
    struct memprof_regs r = {(uintptr_t)__builtin_return_address(0), (uintptr_t)__builtin_frame_address(0) + 16,       \
                             *(const uintptr_t *)__builtin_frame_address(0)}

/* A thread's last unwound stack, outermost frame first, with what it was computed
 * from: each frame's registers and the stack slots its caller's registers were read
 * from. The next unwind reuses the outer part once those slots are checked. */
struct memprof_unwind_cache {
    int n;              /* frames: [0] is the outermost, [n-1] the allocating function's caller */
    int at_max;         /* cut at MEMPROF_MAX_FRAMES: frames further out are unknown */
    uint32_t stack_id;  /* interned id, 0 until the caller interns it */
    uintptr_t end_slot; /* slot that held the 0 return address ending the stack, or 0 */
    uintptr_t ip[MEMPROF_MAX_FRAMES], sp[MEMPROF_MAX_FRAMES], bp[MEMPROF_MAX_FRAMES];
    uintptr_t bp_slot[MEMPROF_MAX_FRAMES]; /* where frame k's caller's rbp was read, or 0 */
    uint64_t hash[MEMPROF_MAX_FRAMES];     /* hash[k]: hash of frames 0..k */
};

/* Unwinds from `regs` with cached DWARF CFI rules (memprof_unwind.c), reading only
 * inside [lo, hi), into `cache` (which belongs to the calling thread). Frames whose
 * registers match the previous stack are kept once the stack slots they came from are
 * checked unchanged. Returns 0, or -1 when a frame needs rules it does not model (the
 * caller then uses libunwind; the cache is left as it was). Lock-free. */
int memprof_unwind(const struct memprof_regs *regs, uintptr_t lo, uintptr_t hi,
                   struct memprof_unwind_cache *cache) MEMPROF_HIDDEN;

/* Folds one frame into a stack hash. Stack hashes run from the outermost frame in,
 * so that a shared outer part hashes once. */
static inline uint64_t memprof_hash_step(uint64_t h, uintptr_t ip) {
    h = (h ^ ip) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}
#define MEMPROF_HASH_SEED 0x9E3779B97F4A7C15ull

/* The hash of a stack given outermost frame first (memprof_unwind keeps it in
 * hash[n-1]). Never 0: 0 marks an empty stack-table slot. */
static inline uint64_t memprof_hash_frames(const uintptr_t *outer_first, int n) {
    uint64_t h = MEMPROF_HASH_SEED;
    for (int i = 0; i < n; i++)
        h = memprof_hash_step(h, outer_first[i]);
    return h | 1;
}

struct agg_table;

/* Per-thread state, mmap'd on a thread's first event; reachable from g_threads. */
struct memprof_thread {
    /* First, in one cache line: what sample mode's fast path touches (memprof_hooks.c).
     * Sample mode: bytes to the next sample point (>= 0; 0 until the first draw).
     * Exact counts of every allocation and free in both modes (owner-written; summed
     * at exit into COUNTS in sample mode, read by the in-process API). */
    int64_t bytes_until_sample;
    _Atomic uint64_t count_allocs, count_frees, count_bytes;
    /* Bytes of the blocks this thread freed that memprof knew (full mode: all). */
    _Atomic uint64_t count_freed_bytes;
    /* The thread's most recent recorded allocation, and count_allocs just after it:
     * freeing it with no allocation in between is a temporary. (Sample mode's fast
     * path counts its allocations without touching last_alloc.) */
    void *last_alloc;
    uint64_t last_alloc_count;
    struct memprof_thread *next_all; /* g_threads list, under g_queue_lock */
    uint32_t index;
    struct memprof_buffer *buf;
    /* Bytes of buf that hold complete records; read at exit by the finalizer while
     * the owner may still append (release/acquire pairs with the owner). */
    _Atomic size_t committed;
    /* Buffers started by this thread, and which one holds last_alloc's ALLOC record:
     * a free of last_alloc in that same buffer is written as a one-byte FREE_LAST. */
    uint64_t buf_seq, last_alloc_seq;
    /* Events until the clock is read again, and when the last TIME record was
     * written: a TIME record goes out every MEMPROF_EVENTS_PER_TIME events if at least
     * MEMPROF_TIME_RESOLUTION_NS passed, so events are timed to within both. */
    uint32_t events_until_time;
    uint64_t last_time_ns;
    /* The thread's stack, [stack_lo, stack_hi); 0/0 when unknown. The unwinder reads
     * only inside it. stack_pending: the bounds are still to be asked for (the state
     * was made inside pthread_getattr_np; see memprof_thread_stack_bounds). */
    uintptr_t stack_lo, stack_hi;
    int stack_pending;
    /* Bytes this thread allocated minus bytes it freed (blocks freed here may have
     * been allocated elsewhere, so it can go negative). Written only by the owner;
     * the writer sums every thread's for TICK records. Kept when the state is reused. */
    _Atomic uint64_t heap_bytes; /* two's complement: read it as int64_t */
    /* Sample mode: the random state of the sampler. */
    uint64_t rng;
    /* The writer's last tail block of this thread (see memprof_writer.c): which
     * buffer, and how many bytes of it. Writer-only. */
    const struct memprof_buffer *tail_buf;
    uint64_t tail_seq;
    size_t tail_len;
    /* The stack-table slot this thread claimed and has not published yet, or NULL
     * (memprof_stacks.c; opaque here). */
    void *claiming;
    /* Aggregate mode: this thread's per-stack counters (memprof_aggregate.c). */
    _Atomic(struct agg_table *) aggregate;
    struct memprof_unwind_cache unwind;
};

#define MEMPROF_EVENTS_PER_TIME 256
/* Writing TIME more often than this adds incompressible bytes for little gain. */
#define MEMPROF_TIME_RESOLUTION_NS 5000000ull

/* Writes a TIME record into t's buffer. */
void memprof_record_time(struct memprof_thread *t) MEMPROF_HIDDEN;

/* Counts one event; every MEMPROF_EVENTS_PER_TIME events writes a TIME record. */
static inline void memprof_tick_event(struct memprof_thread *t) {
    if (MEMPROF_UNLIKELY(--t->events_until_time == 0))
        memprof_record_time(t);
}

/* The calling thread's state once made (memprof_writer.c), else NULL. */
extern MEMPROF_TLS struct memprof_thread *t_self MEMPROF_HIDDEN;
/* Makes the calling thread's state; NULL if tracing cannot go on. */
struct memprof_thread *memprof_thread_create(void) MEMPROF_HIDDEN;

/* Asks glibc for the calling thread's stack bounds (t is its state), unless the
 * thread is inside pthread_getattr_np: then they stay pending for a later event, and
 * the unwinder falls back to libunwind meanwhile. Call with t_guard set. */
void memprof_thread_stack_bounds(struct memprof_thread *t) MEMPROF_HIDDEN;

/* Returns the calling thread's state, creating it on first use; NULL if tracing
 * cannot go on. Call only with t_guard set. Inline: every recorded event asks. */
static inline struct memprof_thread *memprof_thread_self(void) {
    struct memprof_thread *t = t_self;
    return MEMPROF_LIKELY(t != NULL) ? t : memprof_thread_create();
}

/* Sample mode: t_sampler is the calling thread's state once memprof_thread_self made
 * it, while the guard is clear; otherwise (before that, with the guard set, in the
 * other modes, after the thread's exit) it is g_no_sampler, whose countdown is 0, so
 * the hooks' fast path needs neither a NULL test nor a look at the guard: no
 * allocation fits before its next sample point, and a free there is not fast. */
extern struct memprof_thread g_no_sampler MEMPROF_HIDDEN;

/* Calls fn for every thread state ever created (exited threads' included), under
 * the writer's queue lock. */
void memprof_threads_foreach(void (*fn)(struct memprof_thread *t, void *ctx), void *ctx) MEMPROF_HIDDEN;

/* Ensures `need` bytes are free in the thread's buffer (flushing it to the writer
 * queue when not) and returns the write position, or NULL if tracing stopped. */
uint8_t *memprof_reserve(struct memprof_thread *t, size_t need) MEMPROF_HIDDEN;

/* Marks the bytes up to `end` as complete records. */
static inline void memprof_commit(struct memprof_thread *t, uint8_t *end) {
    t->buf->len = (size_t)(end - t->buf->data);
    atomic_store_explicit(&t->committed, t->buf->len, memory_order_release);
}

/* Starts the background writer (idempotent). Called once the process is far
 * enough along that creating a thread is safe (our constructor). */
void memprof_writer_start(void) MEMPROF_HIDDEN;

/* Flushes every thread's pending events, writes leaks and the END record, and
 * closes the trace. Idempotent; later events pass through unrecorded. */
void memprof_finish(uint64_t end_flags) MEMPROF_HIDDEN;

/* fork handlers (memprof_writer.c). memprof_fork_child returns 0 when the child
 * records into a file of its own, -1 when it is not traced. */
void memprof_fork_prepare(void) MEMPROF_HIDDEN;
void memprof_fork_parent(void) MEMPROF_HIDDEN;
int memprof_fork_child(void) MEMPROF_HIDDEN;

/* Installs memprof's handler for the signals whose default action ends the process,
 * where the program left the default (memprof_writer.c): it finishes the trace, then
 * the signal ends the process as it would have. Call once tracing is on. */
void memprof_fatal_signals_install(void) MEMPROF_HIDDEN;
/* For the sigaction and signal wrappers: the program is shown the default action where
 * memprof's handler is. memprof_signal_hide rewrites *sa (may be NULL) if it is
 * memprof's handler and returns 1; memprof_signal_is_ours tells a handler returned by
 * signal(). */
struct sigaction;
int memprof_signal_hide(struct sigaction *sa) MEMPROF_HIDDEN;
int memprof_signal_is_ours(void (*handler)(int)) MEMPROF_HIDDEN;

/* Stops tracing after an internal failure: one line on stderr, once. */
void memprof_fail(const char *what, int err) MEMPROF_HIDDEN;

/* Opens the output file and writes the file header. Returns 0 on success, -1 when
 * this process should not trace (state set to DISABLED or FINISHED). */
int memprof_output_open(void) MEMPROF_HIDDEN;

/* Monotonic nanoseconds since the process started tracing. */
uint64_t memprof_now_ns(void) MEMPROF_HIDDEN;

/* ---- sampling (memprof_sample.c) ----------------------------------------------- */

/* MEMPROF_MODE_FULL or MEMPROF_MODE_SAMPLE; set once before recording starts. */
extern int g_mode MEMPROF_HIDDEN;
/* Mean sampling interval in bytes (MEMPROF_SAMPLE_INTERVAL). */
extern uint64_t g_sample_interval MEMPROF_HIDDEN;

/* Sets the recursion guard; returns its previous value for memprof_guard_restore.
 * While it is set t_sampler is g_no_sampler, so sample mode's fast path, which reads
 * only t_sampler, sends every call to the full path (which sees the guard). The
 * compiler barriers keep that order for a signal handler on this thread. */
static inline int memprof_guard_set(void) {
    int saved = t_guard;
    t_sampler = &g_no_sampler;
    atomic_signal_fence(memory_order_seq_cst);
    t_guard = 1;
    return saved;
}

/* Sends the calling thread the signal memprof's handler held (t_tls.pending_signal). */
void memprof_signal_release(void) MEMPROF_HIDDEN;

static inline void memprof_guard_restore(int saved) {
    t_guard = saved;
    if (!saved) {
        atomic_signal_fence(memory_order_seq_cst);
        t_sampler = t_tls.home;
        if (MEMPROF_UNLIKELY(t_tls.pending_signal))
            memprof_signal_release();
    }
}

/* Bytes to the next sample point: exponentially distributed with mean g_sample_interval. */
int64_t memprof_next_sample_gap(struct memprof_thread *t) MEMPROF_HIDDEN;
/* The bytes a sampled block of `size` stands for: size / (1 - exp(-size / interval)). */
uint64_t memprof_sample_weighted_bytes(uint64_t size) MEMPROF_HIDDEN;
/* A filter of sampled addresses: maybe() is 0 only for blocks that were not sampled
 * (and not served from the bootstrap pool). One bit per slot, 8 KiB, read by every
 * free in sample mode: the slot is the address's 16-byte granule modulo 2^16, so blocks
 * near each other share cache lines of the filter as they share the heap's, and the
 * lookup stays in cache (a hashed byte array missed it on most frees). Each slot's
 * count of sampled blocks lives beside it; add/remove/pin update both under one
 * spinlock (sampled events only). */
#define MEMPROF_FILTER_BITS 16
extern _Atomic uint64_t g_filter_bits[(1u << MEMPROF_FILTER_BITS) / 64] MEMPROF_HIDDEN;
static inline uint32_t memprof_filter_index(uintptr_t p) {
    return (uint32_t)(p >> 4) & ((1u << MEMPROF_FILTER_BITS) - 1);
}
static inline int memprof_filter_maybe(uintptr_t p) {
    uint32_t i = memprof_filter_index(p);
    return (atomic_load_explicit(&g_filter_bits[i >> 6], memory_order_relaxed) >> (i & 63)) & 1;
}
void memprof_filter_add(uintptr_t p) MEMPROF_HIDDEN;
void memprof_filter_remove(uintptr_t p) MEMPROF_HIDDEN;
/* Makes p's slot say "maybe" for good (the bootstrap pool's blocks). */
void memprof_filter_pin(uintptr_t p) MEMPROF_HIDDEN;
/* The filter's lock, for the fork handlers. */
void memprof_filter_lock(void) MEMPROF_HIDDEN;
void memprof_filter_unlock(void) MEMPROF_HIDDEN;
/* MEMPROF_SAMPLE_SEED: when set, each thread's sampler starts from it and the thread's
 * index instead of the clock, for reproducible tests. 0: not set. */
extern uint64_t g_sample_seed MEMPROF_HIDDEN;

/* Owner-only increment of a per-thread counter (no locked instruction). */
static inline void memprof_bump(_Atomic uint64_t *c, uint64_t by) {
    /* A plain add (one instruction): only the owner writes, and other threads' atomic
     * loads of an aligned word see the value before or after it. */
    *(uint64_t *)c += by;
}

/* The owner's own read of a counter only it writes (memprof_bump): a plain load. */
static inline uint64_t memprof_own_count(const _Atomic uint64_t *c) { return *(const uint64_t *)c; }

/* ---- aggregate mode (memprof_aggregate.c) ------------------------------------------ */

/* Maps the per-stack counter tables (address space, touched lazily); 0 or -1. */
int memprof_aggregate_init(void) MEMPROF_HIDDEN;
/* Counts an allocation / a free (of a block known to be from `stack`) at `stack`,
 * in the calling thread's table (t is the caller's own state). */
void memprof_aggregate_alloc(struct memprof_thread *t, uint32_t stack, uint64_t size) MEMPROF_HIDDEN;
void memprof_aggregate_free(struct memprof_thread *t, uint32_t stack, uint64_t size, int temporary) MEMPROF_HIDDEN;
/* Writer: lists the stacks whose counts changed since they were last written, and
 * returns how many; then memprof_aggregate_sites encodes their SITE records into out
 * (at most cap bytes), from stack id *next on, and advances *next (done once it
 * reaches memprof_stack_id_limit()). Returns the bytes written. */
uint64_t memprof_aggregate_mark(void) MEMPROF_HIDDEN;
size_t memprof_aggregate_sites(uint8_t *out, size_t cap, uint32_t *next) MEMPROF_HIDDEN;
/* A traced fork child: nothing has been written to its file yet, so its first
 * snapshot lists every stack's counts (its parent's at the fork included). */
void memprof_aggregate_forget_written(void) MEMPROF_HIDDEN;
/* Aggregate mode: the snapshot interval (MEMPROF_SNAPSHOT_INTERVAL; memprof_writer.c). */
extern uint64_t g_snapshot_interval_ns MEMPROF_HIDDEN;
/* Asks the writer for a snapshot (aggregate mode) or, in the other modes, to bring
 * the file up to date, and waits until it is written: 0; -1 when tracing ended (or
 * the writer has not started); -2 when no file is written (linked without
 * MEMPROF_OUTPUT). */
int memprof_snapshot_now(void) MEMPROF_HIDDEN;
/* Installs the snapshot signal's handler (MEMPROF_SNAPSHOT_SIGNAL; SIGUSR2 by
 * default in aggregate mode) when the program has not handled that signal. */
void memprof_snapshot_signal_install(void) MEMPROF_HIDDEN;

/* ---- stacks (memprof_stacks.c) ------------------------------------------- */

/* Distinct stacks are capped at 3/4 of 2^MEMPROF_STACK_TABLE_BITS. */
#define MEMPROF_STACK_TABLE_BITS 22

/* Interns the call stack that starts at `regs` and returns its id (>= 1), emitting a STACK record (and MODULE records
 * if the module map changed) into t's buffer when the stack is new. Returns 0 if
 * the stack table is full (tracing then stops). Lock-free on the common path. */
uint32_t memprof_stack_current(struct memprof_thread *t, const struct memprof_regs *regs) MEMPROF_HIDDEN;

/* One more than the largest stack id handed out so far. */
uint32_t memprof_stack_id_limit(void) MEMPROF_HIDDEN;
/* Copies up to `capacity` return addresses of stack `id`, innermost first; returns
 * how many (0 for an unknown id). */
int memprof_stack_frames(uint32_t id, uint64_t *frames, int capacity) MEMPROF_HIDDEN;

/* fork: the module lock, held across fork so that the child's copy is consistent;
 * and, in a child that records into its own file, writing the module map and every
 * interned stack again into t's buffer. */
void memprof_stacks_lock(void) MEMPROF_HIDDEN;
void memprof_stacks_unlock(void) MEMPROF_HIDDEN;
void memprof_stacks_replay(struct memprof_thread *t) MEMPROF_HIDDEN;

/* Emits the module map as MODULE records of a new generation into t's buffer if
 * the set of loaded modules changed since the last call (or on the first call). */
void memprof_modules_refresh(struct memprof_thread *t) MEMPROF_HIDDEN;

/* ---- live blocks (memprof_live.c) ---------------------------------------- */

/* The in-process table of live heap blocks: address -> (size, stack id, flags).
 * Striped spinlocks; no global lock. An entry's packed word holds the size (39
 * bits), three flags, and the stack id (22 bits): "ignored by the leak check", and
 * "allocated during an in-process leak check" by the checking thread or by another
 * one (memprof_api.c). */
#define MEMPROF_LIVE_SIZE_BITS 39
#define MEMPROF_LIVE_IGNORED (1ull << MEMPROF_LIVE_SIZE_BITS)
#define MEMPROF_LIVE_CHECK_OWN (1ull << (MEMPROF_LIVE_SIZE_BITS + 1))
#define MEMPROF_LIVE_CHECK_OTHER (1ull << (MEMPROF_LIVE_SIZE_BITS + 2))
#define MEMPROF_LIVE_STACK_SHIFT (MEMPROF_LIVE_SIZE_BITS + 3)
static inline uint64_t memprof_live_size(uint64_t packed) { return packed & (MEMPROF_LIVE_IGNORED - 1); }
static inline uint32_t memprof_live_stack(uint64_t packed) { return (uint32_t)(packed >> MEMPROF_LIVE_STACK_SHIFT); }
static inline int memprof_live_ignored(uint64_t packed) { return (packed & MEMPROF_LIVE_IGNORED) != 0; }

/* Adds a block; `flags` are MEMPROF_LIVE_CHECK_* bits. */
int memprof_live_insert(uintptr_t addr, uint64_t size, uint32_t stack, uint64_t flags) MEMPROF_HIDDEN;
/* Removes addr; returns 1 and fills size/stack if it was live, else 0. */
int memprof_live_remove(uintptr_t addr, uint64_t *size, uint32_t *stack) MEMPROF_HIDDEN;
/* Sets the ignored flag of the live block starting at addr; 1 if found, else 0. */
int memprof_live_ignore(uintptr_t addr) MEMPROF_HIDDEN;
/* Calls fn for every live block. Takes each stripe's lock in turn. */
void memprof_live_foreach(void (*fn)(uintptr_t addr, uint64_t size, uint32_t stack, void *ctx),
                          void *ctx) MEMPROF_HIDDEN;
/* The same, with the entry's packed word. */
void memprof_live_foreach_packed(void (*fn)(uintptr_t addr, uint64_t packed, void *ctx), void *ctx) MEMPROF_HIDDEN;
/* Takes (releases) every stripe's lock: held across fork. */
void memprof_live_lock_all(void) MEMPROF_HIDDEN;
void memprof_live_unlock_all(void) MEMPROF_HIDDEN;
/* Clears `flags` in every entry. */
void memprof_live_clear(uint64_t flags) MEMPROF_HIDDEN;
/* Blocks in the table now. */
size_t memprof_live_count(void) MEMPROF_HIDDEN;

/* The memory each part of the preload mapped for itself (live table, thread states,
 * stack table): not a root for the leak scan. fn(lo, hi, ctx) per range. */
typedef void (*memprof_range_fn)(uintptr_t lo, uintptr_t hi, void *ctx);
void memprof_live_ranges(memprof_range_fn fn, void *ctx) MEMPROF_HIDDEN;
void memprof_writer_ranges(memprof_range_fn fn, void *ctx) MEMPROF_HIDDEN;
void memprof_stack_ranges(memprof_range_fn fn, void *ctx) MEMPROF_HIDDEN;
void memprof_aggregate_ranges(memprof_range_fn fn, void *ctx) MEMPROF_HIDDEN;
/* Thread t's counter table (memprof_writer_ranges lists them with the thread states). */
void memprof_aggregate_thread_ranges(const struct memprof_thread *t, memprof_range_fn fn, void *ctx) MEMPROF_HIDDEN;
/* The stacks of threads that have exited, as far as memprof knew them. */
void memprof_dead_thread_stacks(memprof_range_fn fn, void *ctx) MEMPROF_HIDDEN;

/* ---- leak classification (memprof_leaks.c) ------------------------------------ */

struct memprof_mapping {
    void *p;
    size_t size;
};

/* Notes, once at start-up, whether `real_malloc` (the allocator behind memprof) is
 * glibc's, whose chunk rules the scan relies on, and where memprof's own writable
 * segments are. Call it where the real functions are resolved, with t_guard set. Not
 * at exit: a successful dlsym there frees glibc's dlerror state, blocks of the
 * program's that would then vanish unrecorded, and the loader's lock may be held by a
 * thread waiting for the scan. */
void memprof_leaks_init(void *real_malloc) MEMPROF_HIDDEN;
/* Finds, on this thread's stack, the frame that called libc's exit (main's return
 * calls it from inside libc, where the exit hook never sees it): its stack pointer at
 * the call and its callee-saved registers (rbx, rbp, r12-r15). Returns 0, or -1 when
 * exit is not on the stack. Unwinds with libunwind: call with t_guard set, before
 * the scan starts (libunwind may take the loader's lock). */
int memprof_leaks_exit_frame(uintptr_t *sp, uintptr_t regs[6]) MEMPROF_HIDDEN;
/* Whether the Swift runtime was loaded at start-up (a Swift program): its scans read
 * words as Swift references too (MEMPROF_SCAN_SWIFT_REFS). */
int memprof_leaks_swift_program(void) MEMPROF_HIDDEN;

/* Every live block, by address, with its leak kind (MEMPROF_LEAK_*). */
struct memprof_leak_result {
    size_t n;
    const uintptr_t *addr;
    const uint64_t *info; /* packed as in the live table */
    const uint8_t *kind;
    struct memprof_mapping mem[3];
};

/* Rules a scan may add to valgrind's (the oracle's), for a scan's `rules`. */
enum {
    /* Words may be Swift references: tag bits in the top byte, an object's side-table
     * address in its refcount word (memprof_leaks.c: candidate). */
    MEMPROF_SCAN_SWIFT_REFS = 1,
    /* Each live thread's DTV is reachable (glibc points at its second entry). */
    MEMPROF_SCAN_THREAD_DTV = 2,
};

/* Classifies every live block with a conservative scan (see memprof_leaks.c). The
 * caller's stack is scanned from caller_sp up, and caller_regs are roots; thread
 * skip_tid (memprof's writer) is not stopped. `rules` are MEMPROF_SCAN_* bits. Call
 * with t_guard set, from the one thread that moved g_state from ACTIVE to SCANNING
 * (the program's calls then wait in memprof_leaks_wait), and call
 * memprof_leaks_end_scan after. Returns 0 and fills `out` (release it with
 * memprof_leaks_release), or -1 when the allocator behind memprof is not glibc's or
 * memory ran out. */
int memprof_leaks_classify(uintptr_t caller_sp, const uintptr_t *caller_regs, int nregs, pid_t skip_tid, int rules,
                           struct memprof_leak_result *out) MEMPROF_HIDDEN;
void memprof_leaks_release(struct memprof_leak_result *r) MEMPROF_HIDDEN;
/* Blocks while g_state is SCANNING. Hooks call it with t_guard clear (the thread can
 * then be stopped for the scan), so that no block is allocated or freed unrecorded
 * while the scan needs the live table exact. */
void memprof_leaks_wait(void) MEMPROF_HIDDEN;
/* Ends SCANNING: g_state becomes `next` (FINISHED at exit, ACTIVE after an
 * on-demand scan) and the waiting calls go on. */
void memprof_leaks_end_scan(int next) MEMPROF_HIDDEN;
/* Captures the callee-saved registers into uintptr_t r[6]: at the top of a function
 * called from the program they still hold the caller's values, which may be the
 * only pointers to some blocks. */
#define CAPTURE_CALLEE_SAVED(r)                                                                                        \
    uintptr_t r[6];                                                                                                    \
    __asm__ volatile("mov %%rbx, 0(%0)\n\tmov %%rbp, 8(%0)\n\tmov %%r12, 16(%0)\n\t"                                   \
                     "mov %%r13, 24(%0)\n\tmov %%r14, 32(%0)\n\tmov %%r15, 40(%0)"                                     \
                     :                                                                                                 \
                     : "r"(r)                                                                                          \
                     : "memory")

/* exit() was called from the frame at `sp` with these callee-saved registers: the
 * exit scan starts this thread's stack there (memprof_writer.c). */
void memprof_note_exit(uintptr_t sp, const uintptr_t regs[6]) MEMPROF_HIDDEN;

/* ---- the in-process API (memprof_api.c) --------------------------------------------- */

/* Non-zero while an in-process leak check runs: new blocks get check flags. */
extern _Atomic int g_check_active MEMPROF_HIDDEN;
/* The MEMPROF_LIVE_CHECK_* flag for a block thread t allocates during a check. */
uint64_t memprof_check_flags(struct memprof_thread *t) MEMPROF_HIDDEN;

/* The writer thread's id (0 before it runs). */
pid_t memprof_writer_tid(void) MEMPROF_HIDDEN;

/* ---- mmap helpers ------------------------------------------------------- */

/* Anonymous private mapping; NULL on failure. Kinds: PLAIN memory memprof keeps;
 * RESERVE address space touched lazily (a table); SCRATCH lazily touched work memory
 * that is given back soon (a leak scan's, an API result). memprof_unmap gives one
 * back, with the kind it was mapped as. */
enum { MEMPROF_MAP_PLAIN = 0, MEMPROF_MAP_RESERVE = 1, MEMPROF_MAP_SCRATCH = 2 };
void *memprof_map(size_t size, int kind) MEMPROF_HIDDEN;
void memprof_unmap(void *p, size_t size, int kind) MEMPROF_HIDDEN;
/* The memory memprof holds for itself: its plain mappings, and the resident pages of
 * its reservations (scratch is not counted). For the writer thread (it uses a static
 * buffer). */
uint64_t memprof_own_bytes(void) MEMPROF_HIDDEN;

/* ---- memprof's own heap (memprof_own_heap.c) ---------------------------------- */

/* What memprof's own code allocates (t_guard set): a block of at least `size` bytes
 * aligned to `align` (a power of two up to 64 KiB), zeroed if asked; NULL when it
 * cannot be served here (too large, an odd alignment, the lock held too long). */
void *memprof_own_heap_alloc(size_t size, size_t align, int zero) MEMPROF_HIDDEN;
void memprof_own_heap_free(void *p) MEMPROF_HIDDEN;
size_t memprof_own_heap_usable(const void *p) MEMPROF_HIDDEN;
/* Where the heap's reservation starts; before it is made, an address no user-space
 * pointer is within MEMPROF_OWN_HEAP_SIZE of (p - start wraps past the size). */
#define MEMPROF_OWN_HEAP_SIZE (256ull << 20)
extern _Atomic uintptr_t g_own_heap_start MEMPROF_HIDDEN;
static inline int memprof_own_heap_contains(const void *p) {
    return (uintptr_t)p - atomic_load_explicit(&g_own_heap_start, memory_order_relaxed) < MEMPROF_OWN_HEAP_SIZE;
}
/* Its reservation, which the leak scan does not take for a root (it held no program
 * block before either: memprof's allocations were not roots in glibc's heap). */
void memprof_own_heap_ranges(void (*fn)(uintptr_t lo, uintptr_t hi, void *ctx), void *ctx) MEMPROF_HIDDEN;
/* Held across fork. */
void memprof_own_heap_lock(void) MEMPROF_HIDDEN;
void memprof_own_heap_unlock(void) MEMPROF_HIDDEN;

/* Writes up to three strings (NULL ones skipped) to stderr without allocating. */
void memprof_log(const char *a, const char *b, const char *c) MEMPROF_HIDDEN;

#endif
