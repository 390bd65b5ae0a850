/*
 * memprof preload — event buffers, the background writer and the trace file.
 *
 * Each thread appends records to its own 64 KiB buffer with no lock. A full
 * buffer is handed to the writer queue (one mutex acquisition per 64 KiB, not per
 * event); the writer thread compresses it with zstd and writes it as one
 * self-contained block. Every ~10 ms the writer also records a TICK (time, heap
 * bytes, heap peak, RSS) into the process buffer, which it writes at least once a
 * second.
 *
 * At exit (memprof_finish) the pending part of every thread's buffer is copied
 * out — threads may still be running — then the writer is stopped and joined,
 * and the rest is written synchronously: queued blocks, LEAK records for every
 * live block, and the END record.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "memprof_internal.h"

/* The highest heap figure any TICK saw: the END record's heap peak. Ticks sum
 * per-thread counters, so this is a sampled lower bound; the reader's replay of the
 * events gives the peak between ticks. Guarded by g_queue_lock. */
static uint64_t g_tick_peak;

#define TICK_INTERVAL_NS 10000000ull           /* 10 ms */
#define PROCESS_FLUSH_INTERVAL_NS 500000000ull /* 0.5 s */
/* How often the writer copies each thread's unfinished buffer into a tail block. */
#define TAIL_INTERVAL_NS 500000000ull /* 0.5 s */
#define ZSTD_LEVEL 1
#define STAGE_SLOTS 8
#define STAGE_CAPACITY (1024u * 1024u)
#define STAGE_MAX_AGE_NS 500000000ull /* 0.5 s */

static uint8_t *put_counts(uint8_t *w);
static int g_fd = -1;
static dev_t g_dev;
static ino_t g_ino;
static pid_t g_pid;
static uint64_t g_start_ns;

/* Everything below is guarded by g_queue_lock. */
static pthread_mutex_t g_queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_queue_cond;
static struct memprof_buffer *g_queue_head, *g_queue_tail;
static struct memprof_buffer *g_free_buffers;
static struct memprof_thread *g_threads; /* every thread state ever created */
static uint32_t g_thread_count;
static struct memprof_buffer *g_process; /* process-wide records */
static int g_writer_started, g_writer_stop;
static pthread_t g_writer;

static pthread_key_t g_thread_key;
MEMPROF_TLS struct memprof_thread *t_self;
struct memprof_thread g_no_sampler;

/* The compressor and its output buffer: used by the writer thread, then by the
 * finisher after the writer has been joined — never by both at once. */
static ZSTD_CCtx *g_cctx;
static uint8_t *g_out;
static size_t g_out_cap;

/* ---- small helpers ------------------------------------------------------------- */

/* memprof's own memory: plain mappings are counted as they are made and given back;
 * address-space reservations (the stack and counter tables) are listed, and their
 * resident pages counted when asked. Scratch (a leak scan's work areas, API results)
 * is not memprof's to keep and is not counted. */
#define RESERVATIONS 32
static _Atomic uint64_t g_mapped_bytes;
static struct {
    _Atomic uintptr_t p;
    _Atomic size_t size;
} g_reservations[RESERVATIONS];

void *memprof_map(size_t size, int kind) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (kind != MEMPROF_MAP_PLAIN ? MAP_NORESERVE : 0);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (kind == MEMPROF_MAP_SCRATCH)
        return p;
    for (int i = 0; kind == MEMPROF_MAP_RESERVE && i < RESERVATIONS; i++) {
        uintptr_t empty = 0;
        if (atomic_compare_exchange_strong(&g_reservations[i].p, &empty, (uintptr_t)p)) {
            atomic_store(&g_reservations[i].size, size);
            return p;
        }
    }
    atomic_fetch_add(&g_mapped_bytes, size); /* plain (or a reservation with no room to list it) */
    return p;
}

void memprof_unmap(void *p, size_t size, int kind) {
    munmap(p, size);
    if (kind == MEMPROF_MAP_SCRATCH)
        return;
    for (int i = 0; kind == MEMPROF_MAP_RESERVE && i < RESERVATIONS; i++) {
        if (atomic_load(&g_reservations[i].p) == (uintptr_t)p) {
            atomic_store(&g_reservations[i].size, 0);
            atomic_store(&g_reservations[i].p, 0);
            return;
        }
    }
    atomic_fetch_sub(&g_mapped_bytes, size);
}

uint64_t memprof_own_bytes(void) {
    static unsigned char resident[65536];
    uint64_t total = atomic_load(&g_mapped_bytes);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < RESERVATIONS; i++) {
        uint8_t *p = (uint8_t *)atomic_load(&g_reservations[i].p);
        size_t size = atomic_load(&g_reservations[i].size);
        for (size_t off = 0; p && off < size; off += sizeof resident * page) {
            size_t len = size - off < sizeof resident * page ? size - off : sizeof resident * page;
            if (mincore(p + off, len, resident) != 0)
                break; /* given back meanwhile */
            size_t pages = (len + page - 1) / page;
            for (size_t k = 0; k < pages; k++)
                total += (resident[k] & 1) ? page : 0;
        }
    }
    return total;
}

static void write_all_stderr(const char *s) {
    if (s)
        (void)!write(2, s, strlen(s));
}

void memprof_log(const char *a, const char *b, const char *c) {
    write_all_stderr(a);
    write_all_stderr(b);
    write_all_stderr(c);
}

static uint64_t clock_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t memprof_now_ns(void) { return clock_ns(CLOCK_MONOTONIC) - g_start_ns; }

static int on_writer_thread(void);
/* A traced fork child's first event replays what its file needs (see "fork"). */
static int g_fork_replay;
static void fork_replay(struct memprof_thread *t);

void memprof_fail(const char *what, int err) {
    static _Atomic int reported;
    if (!atomic_exchange(&reported, 1)) {
        /* strerrordesc_np returns a static string: strerror may allocate. */
        memprof_log("memprof: ", what, err ? ": " : "");
        if (err)
            write_all_stderr(strerrordesc_np(err));
        write_all_stderr("; tracing stopped, the program continues\n");
    }
    if (on_writer_thread()) {
        /* Cannot join ourselves. During the scan at exit its thread ends it. */
        int expected = MEMPROF_STATE_ACTIVE;
        atomic_compare_exchange_strong(&g_state, &expected, MEMPROF_STATE_FINISHED);
    } else
        memprof_finish(MEMPROF_END_STOPPED);
}

/* ---- buffers --------------------------------------------------------------------- */

/* Call with g_queue_lock held. */
static struct memprof_buffer *buffer_get(uint8_t kind, uint32_t thread) {
    struct memprof_buffer *b = g_free_buffers;
    if (b) {
        g_free_buffers = b->next;
    } else {
        uint8_t *m = memprof_map(sizeof *b + MEMPROF_BUFFER_CAPACITY, MEMPROF_MAP_PLAIN);
        if (!m)
            return NULL;
        b = (struct memprof_buffer *)m;
        b->data = m + sizeof *b;
    }
    b->next = NULL;
    b->kind = kind;
    b->thread = thread;
    b->len = 0;
    return b;
}

/* Linked into a program with no MEMPROF_OUTPUT: nothing is written. The live table,
 * stacks and counts serve the in-process API; full buffers are recycled. */
static int g_in_memory;

/* Call with g_queue_lock held. */
static void enqueue(struct memprof_buffer *b) {
    if (g_in_memory) {
        b->next = g_free_buffers;
        g_free_buffers = b;
        return;
    }
    b->next = NULL;
    if (g_queue_tail)
        g_queue_tail->next = b;
    else
        g_queue_head = b;
    g_queue_tail = b;
    pthread_cond_signal(&g_queue_cond);
}

/* Room for `need` bytes in the process buffer; call with g_queue_lock held. */
static uint8_t *process_reserve(size_t need) {
    if (g_process && g_process->len + need > MEMPROF_BUFFER_CAPACITY) {
        enqueue(g_process);
        g_process = NULL;
    }
    if (!g_process && !(g_process = buffer_get(MEMPROF_BLOCK_PROCESS, 0)))
        return NULL;
    return g_process->data + g_process->len;
}

static void process_commit(uint8_t *end) { g_process->len = (size_t)(end - g_process->data); }

/* Writes a TIME record for `now` at w, which has room for it. */
static void put_time(struct memprof_thread *t, uint8_t *w, uint64_t now) {
    *w++ = MEMPROF_TAG_TIME;
    w = memprof_put_varint(w, now);
    memprof_commit(t, w);
    t->last_time_ns = now;
    t->events_until_time = MEMPROF_EVENTS_PER_TIME;
}

/* Every thread buffer starts with the time, so each block can be placed on its own. */
static void start_thread_buffer(struct memprof_thread *t) {
    put_time(t, t->buf->data, memprof_now_ns());
    t->buf_seq++;
}

void memprof_record_time(struct memprof_thread *t) {
    t->events_until_time = MEMPROF_EVENTS_PER_TIME;
    uint64_t now = memprof_now_ns();
    if (now - t->last_time_ns < MEMPROF_TIME_RESOLUTION_NS)
        return;
    uint8_t *w = memprof_reserve(t, 16);
    if (w)
        put_time(t, w, now);
}

uint8_t *memprof_reserve(struct memprof_thread *t, size_t need) {
    struct memprof_buffer *b = t->buf;
    if (MEMPROF_LIKELY(b->len + need <= MEMPROF_BUFFER_CAPACITY))
        return b->data + b->len;
    pthread_mutex_lock(&g_queue_lock);
    /* Once tracing has finished the finisher owns what was committed. */
    if (atomic_load(&g_state) != MEMPROF_STATE_ACTIVE) {
        pthread_mutex_unlock(&g_queue_lock);
        return NULL;
    }
    struct memprof_buffer *fresh = buffer_get(MEMPROF_BLOCK_THREAD, t->index);
    if (fresh) {
        enqueue(b);
        t->buf = fresh;
        atomic_store_explicit(&t->committed, 0, memory_order_release);
    }
    pthread_mutex_unlock(&g_queue_lock);
    if (!fresh) {
        memprof_fail("cannot map memory for an event buffer", errno);
        return NULL;
    }
    start_thread_buffer(t);
    return t->buf->data + t->buf->len;
}

/* ---- threads ---------------------------------------------------------------------- */

static void thread_exit(void *arg) {
    struct memprof_thread *t = arg;
    int saved = memprof_guard_set();
    pthread_mutex_lock(&g_queue_lock);
    if (atomic_load(&g_state) == MEMPROF_STATE_ACTIVE && t->buf) {
        t->buf->len = atomic_load(&t->committed);
        enqueue(t->buf);
        t->buf = NULL; /* stays listed; buf == NULL lets a new thread reuse it */
    }
    pthread_mutex_unlock(&g_queue_lock);
    t_self = NULL;                          /* a later allocation in this thread's teardown re-registers */
    t_tls.home = t_sampler = &g_no_sampler; /* the state may go to a new thread now */
    memprof_guard_restore(saved);
}

/* The stack bounds come from pthread_getattr_np, which takes the thread's own lock
 * and allocates under it (its cpu set; for the main thread, stdio reading
 * /proc/self/maps). A thread whose first allocation is made there (Rust's std and the
 * JVM ask at every thread's start) would wait for that lock for ever if memprof asked
 * then: it asks at the first event outside pthread_getattr_np instead. An allocation
 * inside it on behalf of memprof's own call passes through (the guard is set). */
void memprof_thread_stack_bounds(struct memprof_thread *t) {
    if (t_tls.in_getattr)
        return;
    t->stack_pending = 0;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
            t->stack_lo = (uintptr_t)addr;
            t->stack_hi = (uintptr_t)addr + size;
        }
        pthread_attr_destroy(&attr);
    }
}

struct memprof_thread *memprof_thread_create(void) {
    struct memprof_thread *t;
    pthread_mutex_lock(&g_queue_lock);
    if (atomic_load(&g_state) != MEMPROF_STATE_ACTIVE) {
        pthread_mutex_unlock(&g_queue_lock);
        return NULL;
    }
    /* Reuse the state of an exited thread (buf == NULL) before mapping a new one. */
    for (t = g_threads; t && t->buf; t = t->next_all)
        ;
    if (!t) {
        t = memprof_map(sizeof *t, MEMPROF_MAP_PLAIN);
        if (t) {
            t->next_all = g_threads;
            g_threads = t;
        }
    }
    if (t) {
        t->index = g_thread_count++;
        t->last_alloc = NULL;
        t->buf = buffer_get(MEMPROF_BLOCK_THREAD, t->index);
        uint8_t *w = t->buf ? process_reserve(24) : NULL;
        if (w) {
            *w++ = MEMPROF_TAG_THREAD;
            w = memprof_put_varint(w, t->index);
            w = memprof_put_varint(w, (uint64_t)syscall(SYS_gettid));
            process_commit(w);
        }
    }
    pthread_mutex_unlock(&g_queue_lock);
    if (!t || !t->buf) {
        memprof_fail("cannot map memory for a thread's state", errno);
        return NULL;
    }
    start_thread_buffer(t);
    t->stack_lo = t->stack_hi = 0;
    t->stack_pending = 1;
    t->unwind.n = 0; /* a reused state holds another thread's stack */
    memprof_thread_stack_bounds(t);
    t_self = t;
    if (g_mode == MEMPROF_MODE_SAMPLE)
        t_tls.home = t; /* t_sampler from when the caller drops the guard */
    pthread_setspecific(g_thread_key, t);
    if (MEMPROF_UNLIKELY(g_fork_replay))
        fork_replay(t);
    return t;
}

void memprof_threads_foreach(void (*fn)(struct memprof_thread *t, void *ctx), void *ctx) {
    pthread_mutex_lock(&g_queue_lock);
    for (struct memprof_thread *t = g_threads; t; t = t->next_all)
        fn(t, ctx);
    pthread_mutex_unlock(&g_queue_lock);
}

/* ---- the file ----------------------------------------------------------------------- */

/* Whether g_fd still is the file we opened: a program that closes every fd and
 * opens its own files must not get trace blocks written into them. */
static int fd_is_ours(void) {
    struct stat st;
    return fstat(g_fd, &st) == 0 && st.st_dev == g_dev && st.st_ino == g_ino;
}

static int write_all(const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(g_fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* Compresses and writes `len` bytes of records as one block. Returns 0 or an errno. */
static int write_block(uint8_t kind, uint32_t thread, const uint8_t *data, size_t len) {
    if (len == 0)
        return 0;
    if (!g_out) {
        g_out_cap = MEMPROF_BLOCK_HEADER_SIZE + ZSTD_compressBound(STAGE_CAPACITY);
        g_out = memprof_map(g_out_cap, MEMPROF_MAP_PLAIN);
        if (!g_out)
            return ENOMEM;
    }
    /* Not while the real functions are still being resolved (the PROCESS block at
     * start-up): the compressor's allocations would come from the bootstrap pool. That
     * block is stored as it is. */
    static int cctx_tried;
    if (!cctx_tried && atomic_load(&g_state) != MEMPROF_STATE_UNINIT) {
        cctx_tried = 1;
        g_cctx = ZSTD_createCCtx();
    }
    uint8_t *payload = g_out + MEMPROF_BLOCK_HEADER_SIZE;
    uint8_t codec = MEMPROF_CODEC_ZSTD;
    size_t stored =
        g_cctx ? ZSTD_compressCCtx(g_cctx, payload, g_out_cap - MEMPROF_BLOCK_HEADER_SIZE, data, len, ZSTD_LEVEL) : 0;
    if (!g_cctx || ZSTD_isError(stored) || stored >= len) {
        codec = MEMPROF_CODEC_NONE; /* incompressible (or no compressor): store */
        memcpy(payload, data, len);
        stored = len;
    }
    uint8_t *h = g_out;
    memset(h, 0, MEMPROF_BLOCK_HEADER_SIZE);
    put32(h + MEMPROF_BH_MAGIC, MEMPROF_BLOCK_MAGIC);
    h[MEMPROF_BH_KIND] = kind;
    h[MEMPROF_BH_CODEC] = codec;
    put32(h + MEMPROF_BH_STORED_SIZE, (uint32_t)stored);
    put32(h + MEMPROF_BH_RAW_SIZE, (uint32_t)len);
    put32(h + MEMPROF_BH_THREAD, thread);
    put32(h + MEMPROF_BH_CHECKSUM, memprof_crc32(0, payload, stored));
    if (!fd_is_ours())
        return EBADF;
    return write_all(g_out, MEMPROF_BLOCK_HEADER_SIZE + stored);
}

/* ---- staging: bigger blocks compress better ------------------------------------------
 * A thread's 64 KiB buffers are concatenated into a block of up to STAGE_CAPACITY
 * before compression, so zstd sees a 1 MiB window (repetitive programs compress 5-10x
 * better). A staged block is written when full, when STAGE_MAX_AGE_NS old (so a crash
 * loses at most about that much), when its slot is needed by another thread, and at
 * the end. Only the writer (then the finisher, after joining it) touches the slots.
 * Process blocks are not staged: the PROCESS record stays first in the file. */

struct stage {
    int used;
    uint32_t thread;
    uint64_t since; /* when its first buffer was staged */
    size_t len;
    uint8_t *data; /* STAGE_CAPACITY, mapped on first use */
};

static struct stage g_stages[STAGE_SLOTS];

static int stage_flush(struct stage *s) {
    int err = s->used ? write_block(MEMPROF_BLOCK_THREAD, s->thread, s->data, s->len) : 0;
    s->used = 0;
    s->len = 0;
    return err;
}

static int stage_add(const struct memprof_buffer *b, uint64_t now) {
    /* Aggregate mode's thread buffers hold only stacks: not worth a stage's memory. */
    if (b->kind != MEMPROF_BLOCK_THREAD || g_mode == MEMPROF_MODE_AGGREGATE)
        return write_block(b->kind, b->thread, b->data, b->len);
    struct stage *s = NULL, *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < STAGE_SLOTS; i++) {
        struct stage *c = &g_stages[i];
        if (c->used && c->thread == b->thread)
            s = c;
        else if (!c->used && !free_slot)
            free_slot = c;
        else if (c->used && (!oldest || c->since < oldest->since))
            oldest = c;
    }
    int err = 0;
    if (s && s->len + b->len > STAGE_CAPACITY)
        err = stage_flush(s);
    if (!s) {
        s = free_slot;
        if (!s) {
            s = oldest;
            err = stage_flush(s);
        }
    }
    if (!s->data && !(s->data = memprof_map(STAGE_CAPACITY, MEMPROF_MAP_PLAIN)))
        return err ? err : write_block(b->kind, b->thread, b->data, b->len);
    if (!s->used) {
        s->used = 1;
        s->thread = b->thread;
        s->since = now;
        s->len = 0;
    }
    memcpy(s->data + s->len, b->data, b->len);
    s->len += b->len;
    return err;
}

/* Writes staged blocks that are old enough (all of them when `all`). */
static int stage_flush_due(uint64_t now, int all) {
    int err = 0;
    for (int i = 0; i < STAGE_SLOTS; i++) {
        struct stage *s = &g_stages[i];
        if (s->used && (all || now - s->since >= STAGE_MAX_AGE_NS)) {
            int e = stage_flush(s);
            err = err ? err : e;
        }
    }
    return err;
}

/* Stages or writes every queued buffer and returns them to the free list. */
static int drain(struct memprof_buffer *list) {
    int err = 0;
    uint64_t now = memprof_now_ns();
    while (list) {
        struct memprof_buffer *next = list->next;
        if (!err)
            err = stage_add(list, now);
        pthread_mutex_lock(&g_queue_lock);
        list->next = g_free_buffers;
        g_free_buffers = list;
        pthread_mutex_unlock(&g_queue_lock);
        list = next;
    }
    return err;
}

static uint64_t read_rss(void) {
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = buf;
    while (*p && *p != ' ')
        p++; /* skip total size */
    uint64_t pages = 0;
    while (*p == ' ')
        p++;
    while (*p >= '0' && *p <= '9')
        pages = pages * 10 + (uint64_t)(*p++ - '0');
    return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Samples the heap (the threads' counters summed) into the peak, and appends a TICK
 * record when `write` (aggregate mode writes one per snapshot, and samples every
 * TICK_INTERVAL_NS for the peak). Call with g_queue_lock held. */
static void record_tick(uint64_t now, uint64_t rss, int write) {
    int64_t sum = 0;
    for (struct memprof_thread *t = g_threads; t; t = t->next_all)
        sum += (int64_t)atomic_load_explicit(&t->heap_bytes, memory_order_relaxed);
    uint64_t heap = sum > 0 ? (uint64_t)sum : 0;
    if (heap > g_tick_peak)
        g_tick_peak = heap;
    uint8_t *w = write ? process_reserve(48) : NULL;
    if (!w)
        return;
    *w++ = MEMPROF_TAG_TICK;
    w = memprof_put_varint(w, now);
    w = memprof_put_varint(w, heap);
    w = memprof_put_varint(w, g_tick_peak);
    w = memprof_put_varint(w, rss);
    process_commit(w);
}

/* ---- jemalloc's own statistics ----------------------------------------------------------
 * With jemalloc serving malloc behind memprof (`memprof run --jemalloc` sets
 * MEMPROF_JEMALLOC=1 and preloads it), JEMALLOC records carry its figures every
 * JEMALLOC_INTERVAL_NS and at the end. Looked up only when asked: a failed dlsym
 * would allocate glibc's error state behind the program's back. */

#define JEMALLOC_INTERVAL_NS 1000000000ull /* 1 s */

static int (*g_mallctl)(const char *, void *, size_t *, void *, size_t);

static void jemalloc_lookup(void) {
    const char *wanted = getenv("MEMPROF_JEMALLOC");
    if (wanted && strcmp(wanted, "1") == 0)
        *(void **)&g_mallctl = dlsym(RTLD_DEFAULT, "mallctl");
}

struct jemalloc_stats {
    int ok;
    uint64_t v[6]; /* allocated, active, metadata, resident, mapped, retained */
};

/* Reads the figures (outside any memprof lock: mallctl takes jemalloc's). */
static struct jemalloc_stats jemalloc_read(void) {
    struct jemalloc_stats s = {0, {0}};
    if (!g_mallctl)
        return s;
    uint64_t epoch = 1;
    size_t size = sizeof epoch;
    if (g_mallctl("epoch", &epoch, &size, &epoch, sizeof epoch) != 0)
        return s;
    static const char *const names[6] = {"stats.allocated", "stats.active", "stats.metadata",
                                         "stats.resident",  "stats.mapped", "stats.retained"};
    for (int i = 0; i < 6; i++) {
        size_t value = 0;
        size = sizeof value;
        if (g_mallctl(names[i], &value, &size, NULL, 0) != 0)
            return s;
        s.v[i] = value;
    }
    s.ok = 1;
    return s;
}

/* Call with g_queue_lock held. */
static void record_jemalloc(uint64_t now, const struct jemalloc_stats *s) {
    uint8_t *w = s->ok ? process_reserve(80) : NULL;
    if (!w)
        return;
    *w++ = MEMPROF_TAG_JEMALLOC;
    w = memprof_put_varint(w, now);
    for (int i = 0; i < 6; i++)
        w = memprof_put_varint(w, s->v[i]);
    process_commit(w);
}

static int on_writer_thread(void) { return g_writer_started && pthread_equal(pthread_self(), g_writer); }

static _Atomic pid_t g_writer_tid;

/* The writer publishes its tid first thing. A scan that starts before then (a short
 * program ends right after the constructor created the writer) would take the writer
 * for a program thread and signal it, and the writer, always inside memprof, never
 * stops: the scan would wait out its stop-the-world deadline (300 ms). So a writer
 * that was created but has not run yet is waited for; it only needs to be scheduled
 * (bounded, in case it cannot be). */
pid_t memprof_writer_tid(void) {
    pid_t tid = atomic_load(&g_writer_tid);
    if (tid || !g_writer_started)
        return tid;
    uint64_t deadline = clock_ns(CLOCK_MONOTONIC) + 100000000ULL;
    while (!(tid = atomic_load(&g_writer_tid)) && clock_ns(CLOCK_MONOTONIC) < deadline)
        sched_yield();
    return tid;
}

static uintptr_t g_writer_stack_lo, g_writer_stack_hi;

void memprof_writer_ranges(memprof_range_fn fn, void *ctx) {
    /* The list only grows at its head, and states are never unmapped. */
    for (struct memprof_thread *t = g_threads; t; t = t->next_all) {
        fn((uintptr_t)t, (uintptr_t)(t + 1), ctx);
        memprof_aggregate_thread_ranges(t, fn, ctx);
    }
    if (g_writer_stack_hi)
        fn(g_writer_stack_lo, g_writer_stack_hi, ctx);
}

/* ---- tails: a crash loses at most about half a second --------------------------------
 * A thread's events reach the writer when its 64 KiB buffer fills, which for a quiet
 * thread may be never. Every TAIL_INTERVAL_NS the writer copies the complete records
 * of each thread's current buffer (from its start) into a THREAD_TAIL block, after
 * writing what it has staged for that thread. The thread's next block supersedes the
 * tail (it starts with the same records); a process killed outright leaves the last
 * tail as the thread's last events. Under g_queue_lock the owner cannot swap buffers,
 * and it only appends beyond `committed`, so the copied bytes are stable. */

static uint8_t *g_tail_copy; /* MEMPROF_BUFFER_CAPACITY, writer-only */

static int write_tails(void) {
    if (!g_tail_copy && !(g_tail_copy = memprof_map(MEMPROF_BUFFER_CAPACITY, MEMPROF_MAP_PLAIN)))
        return 0; /* no memory: no tails, the trace is still right */
    int err = 0;
    for (struct memprof_thread *t = g_threads; t && !err; t = t->next_all) {
        pthread_mutex_lock(&g_queue_lock);
        const struct memprof_buffer *b = t->buf;
        size_t len = b ? atomic_load_explicit(&t->committed, memory_order_acquire) : 0;
        /* buf_seq tells a recycled buffer (same address) from the one last copied. */
        uint64_t seq = __atomic_load_n(&t->buf_seq, __ATOMIC_RELAXED);
        int fresh = b && len && (b != t->tail_buf || seq != t->tail_seq || len != t->tail_len);
        if (fresh)
            memcpy(g_tail_copy, b->data, len);
        uint32_t index = t->index;
        pthread_mutex_unlock(&g_queue_lock);
        if (!fresh)
            continue;
        /* The thread's staged blocks hold earlier records: they go first. */
        for (int i = 0; i < STAGE_SLOTS && !err; i++)
            if (g_stages[i].used && g_stages[i].thread == index)
                err = stage_flush(&g_stages[i]);
        if (!err)
            err = write_block(MEMPROF_BLOCK_THREAD_TAIL, index, g_tail_copy, len);
        t->tail_buf = b;
        t->tail_seq = seq;
        t->tail_len = len;
    }
    return err;
}

/* Sample mode: the exact counts so far, with every round of tails, when they changed,
 * so that a process killed outright (SIGKILL) still has them as of its last tails. */
static int write_counts(void) {
    static uint8_t last[40];
    static size_t last_len;
    if (g_mode != MEMPROF_MODE_SAMPLE)
        return 0;
    uint8_t record[40];
    pthread_mutex_lock(&g_queue_lock);
    size_t len = (size_t)(put_counts(record) - record);
    pthread_mutex_unlock(&g_queue_lock);
    if (len == last_len && memcmp(record, last, len) == 0)
        return 0;
    memcpy(last, record, len);
    last_len = len;
    return write_block(MEMPROF_BLOCK_PROCESS, 0, record, len);
}

/* ---- snapshots: aggregate mode's per-stack counters, and files brought up to date --------
 * Aggregate mode writes a SNAPSHOT and the SITE records of the stacks that changed
 * every g_snapshot_interval_ns, when the snapshot signal arrives, and when the API
 * asks (memprof_snapshot_now). In the other modes a request only brings the file up
 * to date: thread tails and the process buffer are written. Either way each thread's
 * tail goes first, so that the stacks a snapshot names are in the file. */

uint64_t g_snapshot_interval_ns = 1000000000ull; /* MEMPROF_SNAPSHOT_INTERVAL */
static _Atomic uint64_t g_signal_requests, g_api_requests;
static _Atomic uint64_t g_api_served; /* requests up to this one are written */
static uint64_t g_signal_served;      /* writer-only */
static uint8_t *g_snapshot_buf;       /* STAGE_CAPACITY, writer-only */

/* Writes a SNAPSHOT and its SITE records as process blocks of up to STAGE_CAPACITY. */
static int write_snapshot(uint8_t reason, uint64_t now) {
    if (!g_snapshot_buf && !(g_snapshot_buf = memprof_map(STAGE_CAPACITY, MEMPROF_MAP_PLAIN)))
        return 0; /* no memory now: the next snapshot has these changes too */
    uint64_t count = memprof_aggregate_mark();
    uint8_t *w = g_snapshot_buf;
    *w++ = MEMPROF_TAG_SNAPSHOT;
    w = memprof_put_varint(w, now);
    *w++ = reason;
    w = memprof_put_varint(w, memprof_own_bytes());
    w = memprof_put_varint(w, count);
    size_t head = (size_t)(w - g_snapshot_buf);
    uint32_t next = 0;
    int err = 0;
    do {
        size_t len = memprof_aggregate_sites(g_snapshot_buf + head, STAGE_CAPACITY - head, &next);
        err = write_block(MEMPROF_BLOCK_PROCESS, 0, g_snapshot_buf, head + len);
        head = 0;
    } while (!err && next < memprof_stack_id_limit());
    return err;
}

/* Writes the process buffer now. */
static int flush_process(void) {
    pthread_mutex_lock(&g_queue_lock);
    struct memprof_buffer *b = g_process && g_process->len ? g_process : NULL;
    if (b)
        g_process = NULL;
    pthread_mutex_unlock(&g_queue_lock);
    if (!b)
        return 0;
    b->next = NULL;
    return drain(b);
}

/* The writer's turn for snapshots: a periodic one when due (aggregate mode), and
 * whatever the signal or the API asked for. */
static int serve_snapshots(uint64_t *next_snapshot, uint64_t *next_tails) {
    uint64_t api = atomic_load(&g_api_requests), signal = atomic_load(&g_signal_requests);
    uint64_t now = memprof_now_ns();
    int aggregate = g_mode == MEMPROF_MODE_AGGREGATE;
    int api_asked = api != atomic_load(&g_api_served), signal_asked = signal != g_signal_served;
    if (!api_asked && !signal_asked && !(aggregate && now >= *next_snapshot))
        return 0;
    int err = write_tails();
    *next_tails = now + TAIL_INTERVAL_NS;
    if (!err && aggregate) {
        pthread_mutex_lock(&g_queue_lock);
        if (atomic_load(&g_state) == MEMPROF_STATE_ACTIVE)
            record_tick(now, read_rss(), 1);
        pthread_mutex_unlock(&g_queue_lock);
        uint8_t reason = api_asked      ? MEMPROF_SNAPSHOT_API
                         : signal_asked ? MEMPROF_SNAPSHOT_SIGNAL
                                        : MEMPROF_SNAPSHOT_PERIODIC;
        err = write_snapshot(reason, now);
        *next_snapshot = now + g_snapshot_interval_ns;
    }
    if (!err)
        err = flush_process();
    g_signal_served = signal;
    atomic_store(&g_api_served, api);
    return err;
}

int memprof_snapshot_now(void) {
    if (g_in_memory)
        return -2;
    pthread_mutex_lock(&g_queue_lock);
    int writing = g_writer_started && !g_writer_stop && atomic_load(&g_state) == MEMPROF_STATE_ACTIVE;
    uint64_t ticket = writing ? atomic_fetch_add(&g_api_requests, 1) + 1 : 0;
    if (writing)
        pthread_cond_signal(&g_queue_cond);
    pthread_mutex_unlock(&g_queue_lock);
    if (!writing)
        return -1;
    struct timespec pause = {0, 1000000}; /* 1 ms */
    while (atomic_load(&g_api_served) < ticket) {
        if (atomic_load(&g_state) != MEMPROF_STATE_ACTIVE)
            return -1;
        nanosleep(&pause, NULL);
    }
    return 0;
}

static void on_snapshot_signal(int sig) {
    (void)sig;
    atomic_fetch_add_explicit(&g_signal_requests, 1, memory_order_relaxed); /* async-signal-safe */
}

/* MEMPROF_SNAPSHOT_SIGNAL: a number, or USR1, USR2, RTMIN+n (with or without SIG);
 * none (or 0) for no signal. 0 when none, -1 when not understood. */
static int parse_signal(const char *v) {
    if (strncmp(v, "SIG", 3) == 0)
        v += 3;
    if (strcmp(v, "none") == 0 || strcmp(v, "0") == 0)
        return 0;
    if (strcmp(v, "USR1") == 0)
        return SIGUSR1;
    if (strcmp(v, "USR2") == 0)
        return SIGUSR2;
    int base = 0;
    if (strncmp(v, "RTMIN", 5) == 0) {
        base = SIGRTMIN;
        v += 5;
        if (!*v)
            return base;
        if (*v++ != '+')
            return -1;
    }
    int n = 0;
    if (!*v)
        return -1;
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || n > 1000)
            return -1;
        n = n * 10 + (*v - '0');
    }
    n += base;
    /* Only signals whose default action ends the process and that nothing else uses. */
    return n == SIGUSR1 || n == SIGUSR2 || (n >= SIGRTMIN && n <= SIGRTMAX) ? n : -1;
}

void memprof_snapshot_signal_install(void) {
    const char *v = getenv("MEMPROF_SNAPSHOT_SIGNAL");
    int sig = g_mode == MEMPROF_MODE_AGGREGATE ? SIGUSR2 : 0;
    if (v && *v) {
        int parsed = parse_signal(v);
        if (parsed < 0)
            memprof_log("memprof: bad MEMPROF_SNAPSHOT_SIGNAL=", v,
                        " (USR1, USR2, RTMIN+n or none); using the default\n");
        else
            sig = parsed;
    }
    if (!sig)
        return;
    struct sigaction old;
    if (sigaction(sig, NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
        return; /* the program's own: leave it */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_snapshot_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

void memprof_dead_thread_stacks(memprof_range_fn fn, void *ctx) {
    for (struct memprof_thread *t = g_threads; t; t = t->next_all)
        if (!t->buf && t->stack_hi)
            fn(t->stack_lo, t->stack_hi, ctx);
}

/* ---- fatal signals ------------------------------------------------------------------
 * A process killed by a signal runs none of memprof's exit code. For the signals whose
 * default action ends the process (a crash, abort, SIGTERM from a pool's terminate,
 * SIGINT), memprof's handler, installed only where the program left the default,
 * finishes the trace and lets the signal end the process as it would have: it restores
 * the default action and sends the signal again, which arrives as the handler returns
 * (a fault's registers are the faulting instruction's). The program never sees the
 * handler: sigaction and signal report the default in its place
 * (memprof_signal_hide), and a handler of the program's replaces it. The end is
 * written by the writer thread, or by the signalled thread when there is none yet;
 * the signalled thread waits for it at most END_ON_SIGNAL_WAIT_NS, so a lock it holds
 * cannot hang the process. SIGKILL cannot be caught: that trace ends with the last
 * tail blocks (and, in sample mode, the COUNTS written with them). */

#define END_ON_SIGNAL_WAIT_NS 3000000000ull /* 3 s */

static void copy_out_buffers(void);
static void write_end(uint64_t end_flags, struct memprof_leak_result *leaks, int jemalloc);

static const int g_fatal_signals[] = {SIGHUP, SIGINT,  SIGQUIT, SIGILL,  SIGTRAP, SIGABRT, SIGBUS,
                                      SIGFPE, SIGSEGV, SIGPIPE, SIGALRM, SIGTERM, SIGXCPU, SIGSYS};
static _Atomic int g_signal_end;  /* the signal that asked for the end; 0 until one did */
static _Atomic int g_signal_done; /* the end it asked for is written (or cannot be) */
/* memprof_finish is writing the end (1), or has written it (2): a signal that reaches
 * another thread meanwhile waits for it rather than cut the file off. */
static _Atomic int g_finishing;

/* Writes the end after g_signal_end: on the writer thread, or on the signalled thread
 * when there is no writer. */
static void finish_after_signal(void) {
    uint64_t sig = (uint64_t)atomic_load(&g_signal_end);
    int expected = MEMPROF_STATE_ACTIVE;
    if (atomic_compare_exchange_strong(&g_state, &expected, MEMPROF_STATE_FINISHED)) {
        pthread_mutex_lock(&g_queue_lock);
        copy_out_buffers();
        pthread_mutex_unlock(&g_queue_lock);
        /* jemalloc's figures are left out: mallctl takes locks the signalled thread may hold. */
        write_end(MEMPROF_END_VIA_SIGNAL | (sig << MEMPROF_END_SIGNAL_SHIFT), NULL, 0);
    }
    atomic_store(&g_signal_done, 1);
}

static void wait_until(_Atomic int *flag, int value) {
    uint64_t deadline = clock_ns(CLOCK_MONOTONIC) + END_ON_SIGNAL_WAIT_NS;
    struct timespec pause = {0, 1000000}; /* 1 ms */
    while (atomic_load(flag) < value && clock_ns(CLOCK_MONOTONIC) < deadline)
        nanosleep(&pause, NULL);
}

static void end_on_signal(int sig) {
    if (g_pid == 0 || getpid() != g_pid || g_in_memory || on_writer_thread())
        return;
    if (atomic_load(&g_state) != MEMPROF_STATE_ACTIVE) {
        if (atomic_load(&g_finishing) == 1)
            wait_until(&g_finishing, 2);
        return;
    }
    int none = 0;
    if (atomic_compare_exchange_strong(&g_signal_end, &none, sig) && !(g_writer_started && !g_writer_stop)) {
        /* No writer: this thread writes the end, unless a fault interrupted memprof's
         * own code, whose locks it may hold. */
        if (t_guard) {
            atomic_store(&g_signal_done, 1);
            return;
        }
        int saved = memprof_guard_set();
        finish_after_signal();
        memprof_guard_restore(saved);
        return;
    }
    wait_until(&g_signal_done, 1);
}

/* Signals the kernel raises for the instruction the thread runs: not to be held. */
static int is_fault(int sig, const siginfo_t *info) {
    return info && info->si_code > 0 &&
           (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP || sig == SIGSYS);
}

void memprof_signal_release(void) {
    int sig = t_tls.pending_signal;
    t_tls.pending_signal = 0;
    syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
}

static void on_fatal_signal(int sig, siginfo_t *info, void *context) {
    (void)context;
    int saved_errno = errno;
    if (t_guard && !is_fault(sig, info)) {
        /* memprof's own code was interrupted (a fork child's set-up, a stack's first
         * record): the signal arrives again when it is done. */
        if (!t_tls.pending_signal)
            t_tls.pending_signal = sig;
        errno = saved_errno;
        return;
    }
    end_on_signal(sig);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    /* Blocked while the handler runs: it arrives, with the default action, as we return. */
    syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
    errno = saved_errno;
}

void memprof_fatal_signals_install(void) {
    if (g_in_memory)
        return;
    for (size_t i = 0; i < sizeof g_fatal_signals / sizeof g_fatal_signals[0]; i++) {
        struct sigaction old;
        if (sigaction(g_fatal_signals[i], NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
            continue; /* the program's own, or ignored: leave it */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fatal_signal;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        /* A fault inside the handler then ends the process at once, as without it. */
        sigfillset(&sa.sa_mask);
        sigaction(g_fatal_signals[i], &sa, NULL);
    }
}

int memprof_signal_hide(struct sigaction *sa) {
    if (!sa || !(sa->sa_flags & SA_SIGINFO) || sa->sa_sigaction != on_fatal_signal)
        return 0;
    memset(sa, 0, sizeof *sa);
    sa->sa_handler = SIG_DFL;
    sigemptyset(&sa->sa_mask);
    return 1;
}

int memprof_signal_is_ours(void (*handler)(int)) { return (void *)handler == (void *)on_fatal_signal; }

static void *writer_main(void *arg) {
    (void)arg;
    memprof_guard_set(); /* nothing this thread allocates is the program's */
    atomic_store(&g_writer_tid, (pid_t)syscall(SYS_gettid));
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
            g_writer_stack_lo = (uintptr_t)addr;
            g_writer_stack_hi = (uintptr_t)addr + size;
        }
        pthread_attr_destroy(&attr);
    }
    uint64_t next_tick = 0, next_process_flush = PROCESS_FLUSH_INTERVAL_NS, next_tails = TAIL_INTERVAL_NS;
    uint64_t next_snapshot = g_snapshot_interval_ns;
    uint64_t next_jemalloc = 0;
    jemalloc_lookup();
    /* Aggregate mode writes ticks with snapshots only (serve_snapshots reads the RSS
     * then); its 10 ms ticks only sample the heap for the peak. */
    int tick_writes = g_mode != MEMPROF_MODE_AGGREGATE;
    for (;;) {
        if (MEMPROF_UNLIKELY(atomic_load(&g_signal_end))) {
            finish_after_signal();
            return NULL;
        }
        uint64_t rss = tick_writes ? read_rss() : 0;
        struct jemalloc_stats jemalloc = {0, {0}};
        if (g_mallctl && memprof_now_ns() >= next_jemalloc) {
            jemalloc = jemalloc_read();
            next_jemalloc = memprof_now_ns() + JEMALLOC_INTERVAL_NS;
        }
        pthread_mutex_lock(&g_queue_lock);
        if (jemalloc.ok && atomic_load(&g_state) == MEMPROF_STATE_ACTIVE)
            record_jemalloc(memprof_now_ns(), &jemalloc);
        if (!g_queue_head && !g_writer_stop) {
            struct timespec deadline;
            clock_gettime(CLOCK_MONOTONIC, &deadline);
            deadline.tv_nsec += (long)(TICK_INTERVAL_NS);
            if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&g_queue_cond, &g_queue_lock, &deadline);
        }
        uint64_t now = memprof_now_ns();
        if (now >= next_tick && atomic_load(&g_state) == MEMPROF_STATE_ACTIVE) {
            record_tick(now, rss, tick_writes);
            next_tick = now + TICK_INTERVAL_NS;
        }
        if (now >= next_process_flush && g_process && g_process->len) {
            enqueue(g_process);
            g_process = NULL;
            next_process_flush = now + PROCESS_FLUSH_INTERVAL_NS;
        }
        struct memprof_buffer *list = g_queue_head;
        g_queue_head = g_queue_tail = NULL;
        int stop = g_writer_stop;
        pthread_mutex_unlock(&g_queue_lock);
        int err = drain(list);
        if (!err)
            err = stage_flush_due(memprof_now_ns(), stop);
        if (!err && !stop && memprof_now_ns() >= next_tails) {
            err = write_tails();
            if (!err)
                err = write_counts();
            next_tails = memprof_now_ns() + TAIL_INTERVAL_NS;
        }
        if (!err && !stop)
            err = serve_snapshots(&next_snapshot, &next_tails);
        if (err) {
            memprof_fail("cannot write the trace file", err);
            return NULL;
        }
        if (stop)
            return NULL;
    }
}

void memprof_writer_start(void) {
    pthread_mutex_lock(&g_queue_lock);
    int start = !g_writer_started && !g_in_memory && atomic_load(&g_state) == MEMPROF_STATE_ACTIVE;
    if (start) {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&g_queue_cond, &attr);
        /* The writer blocks every signal (it inherits this mask): the process's signals
         * go to the program's threads, whose handlers expect to run there, and memprof's
         * end-on-signal handler must run on a thread other than the writer. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        g_writer_started = pthread_create(&g_writer, NULL, writer_main, NULL) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    pthread_mutex_unlock(&g_queue_lock);
}

/* Reads /proc/self/cmdline into buf; returns its length (NUL-separated args). */
static size_t read_cmdline(char *buf, size_t cap) {
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t n = 0;
    ssize_t r;
    while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
        n += (size_t)r;
    close(fd);
    return n;
}

static uint8_t *put_bytes(uint8_t *w, const void *p, size_t n) {
    w = memprof_put_varint(w, n);
    memcpy(w, p, n);
    return w + n;
}

/* Appends the PROCESS record; call with g_queue_lock held, before any event. */
static void record_process(void) {
    static char exe[4096], args[32 * 1024];
    ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof exe);
    if (exe_len < 0)
        exe_len = 0;
    size_t args_len = read_cmdline(args, sizeof args);
    uint8_t *w = process_reserve(128 + (size_t)exe_len + args_len * 2);
    if (!w)
        return;
    *w++ = MEMPROF_TAG_PROCESS;
    w = memprof_put_varint(w, (uint64_t)g_pid);
    w = memprof_put_varint(w, (uint64_t)getppid());
    w = memprof_put_varint(w, clock_ns(CLOCK_REALTIME));
    w = memprof_put_varint(w, (uint64_t)sysconf(_SC_PAGESIZE));
    w = put_bytes(w, exe, (size_t)exe_len);
    uint64_t argc = 0;
    for (size_t i = 0; i < args_len; i++)
        argc += args[i] == 0;
    if (args_len && args[args_len - 1] != 0)
        argc++; /* cut off mid-argument */
    w = memprof_put_varint(w, argc);
    for (size_t i = 0; i < args_len;) {
        size_t len = strnlen(args + i, args_len - i);
        w = put_bytes(w, args + i, len);
        i += len + 1;
    }
    w = put_bytes(w, MEMPROF_VERSION, sizeof MEMPROF_VERSION - 1);
    *w++ = (uint8_t)g_mode;
    if (g_mode == MEMPROF_MODE_SAMPLE) {
        *w++ = MEMPROF_TAG_SAMPLING;
        w = memprof_put_varint(w, g_sample_interval);
    } else if (g_mode == MEMPROF_MODE_AGGREGATE) {
        *w++ = MEMPROF_TAG_AGGREGATE;
        w = memprof_put_varint(w, g_snapshot_interval_ns);
    }
    process_commit(w);
}

/* Parses a decimal byte count with an optional k/m/g suffix; 0 when invalid. */
static uint64_t parse_bytes(const char *s) {
    uint64_t v = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++)
        v = v * 10 + (uint64_t)(*s - '0');
    uint64_t scale = 1;
    if (*s == 'k' || *s == 'K')
        scale = 1024;
    else if (*s == 'm' || *s == 'M')
        scale = 1024 * 1024;
    else if (*s == 'g' || *s == 'G')
        scale = 1024 * 1024 * 1024;
    if (scale != 1)
        s++;
    return digits && !*s ? v * scale : 0;
}

/* Reads environment variable `name`, a count as parse_bytes reads it, into *out;
 * unset leaves *out, a bad value too and says so with `otherwise`. */
static void read_count(const char *name, uint64_t *out, const char *otherwise) {
    const char *value = getenv(name);
    if (!value || !*value)
        return;
    uint64_t count = parse_bytes(value);
    if (count) {
        *out = count;
    } else {
        memprof_log("memprof: bad ", name, "=");
        memprof_log(value, otherwise, NULL);
    }
}

/* Parses a whole-number duration with a unit, ns, us, ms, s, m or h (none: seconds);
 * 0 when invalid or longer than a day. */
static uint64_t parse_duration_ns(const char *s) {
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {{"ns", 1ull},         {"us", 1000ull},       {"ms", 1000000ull},     {"", 1000000000ull},
                 {"s", 1000000000ull}, {"m", 60000000000ull}, {"h", 3600000000000ull}};
    uint64_t v = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9' && v < 100000000000000ull; s++, digits++)
        v = v * 10 + (uint64_t)(*s - '0');
    for (size_t i = 0; digits && i < sizeof units / sizeof units[0]; i++)
        if (strcmp(s, units[i].name) == 0 && v <= 86400000000000ull / units[i].ns)
            return v * units[i].ns;
    return 0;
}

/* MEMPROF_MODE (full | sample | aggregate), MEMPROF_SAMPLE_INTERVAL,
 * MEMPROF_SAMPLE_SEED and MEMPROF_SNAPSHOT_INTERVAL; bad values keep the defaults and
 * say so, once. Returns -1 when aggregate mode cannot map its tables. */
static int read_mode(void) {
    const char *mode = getenv("MEMPROF_MODE");
    if (mode && *mode && strcmp(mode, "full") != 0) {
        if (strcmp(mode, "sample") == 0)
            g_mode = MEMPROF_MODE_SAMPLE;
        else if (strcmp(mode, "aggregate") == 0)
            g_mode = MEMPROF_MODE_AGGREGATE;
        else
            memprof_log("memprof: unknown MEMPROF_MODE=", mode, " (full, sample or aggregate); recording everything\n");
    }
    read_count("MEMPROF_SAMPLE_INTERVAL", &g_sample_interval, " (bytes, e.g. 512k); using 512k\n");
    read_count("MEMPROF_SAMPLE_SEED", &g_sample_seed, " (a positive integer); seeding from the clock\n");
    const char *interval = getenv("MEMPROF_SNAPSHOT_INTERVAL");
    if (interval && *interval) {
        uint64_t ns = parse_duration_ns(interval);
        /* Faster than every 10 ms would only measure the writer. */
        if (ns >= 10000000ull)
            g_snapshot_interval_ns = ns;
        else
            memprof_log("memprof: bad MEMPROF_SNAPSHOT_INTERVAL=", interval,
                        " (10ms to 1 day, e.g. 1s, 500ms, 5m); using 1s\n");
    }
    if (g_mode == MEMPROF_MODE_AGGREGATE && memprof_aggregate_init() != 0) {
        memprof_log("memprof: cannot map aggregate mode's counter tables", "", "; not tracing\n");
        return -1;
    }
    return 0;
}

/* MEMPROF_OUTPUT when it holds %p (each process its own file; see open_patterned),
 * else empty; and whether a program this one execs is traced too (MEMPROF_FOLLOW_EXEC). */
static char g_output_pattern[4096];
static int g_follow_exec;

/* `pattern` with %p replaced by `pid` (and %% by %); for n > 0, ".n" goes before the
 * extension (an exec'd program's file beside its predecessor's). -1 if too long. */
static int expand_pattern(char *out, size_t cap, const char *pattern, pid_t pid, int n) {
    char digits[24];
    int d = 0;
    for (pid_t p = pid; p > 0 && d < 23; p /= 10)
        digits[d++] = (char)('0' + p % 10);
    size_t k = 0;
    for (const char *c = pattern; *c; c++) {
        if (c[0] == '%' && (c[1] == 'p' || c[1] == '%')) {
            if (c[1] == '%') {
                if (k + 1 >= cap)
                    return -1;
                out[k++] = '%';
            } else {
                if (k + (size_t)d >= cap)
                    return -1;
                for (int i = d - 1; i >= 0; i--)
                    out[k++] = digits[i];
            }
            c++;
            continue;
        }
        if (k + 1 >= cap)
            return -1;
        out[k++] = *c;
    }
    out[k] = 0;
    if (n > 0) {
        char *slash = strrchr(out, '/'), *dot = strrchr(out, '.');
        char *at = dot && (!slash || dot > slash) ? dot : out + k;
        char tail[4096];
        size_t tail_len = strlen(at);
        if (k + 4 >= cap || tail_len >= sizeof tail)
            return -1;
        memcpy(tail, at, tail_len + 1);
        int m = snprintf(at, cap - (size_t)(at - out), ".%d%s", n, tail);
        if (m < 0 || (size_t)m >= cap - (size_t)(at - out))
            return -1;
    }
    return 0;
}

/* Creates this process's file from the pattern. The name may exist already: a
 * program that execs keeps its pid, and the file is its predecessor's. Then the new
 * program is traced only when following execs, into NAME.1, NAME.2, … (a file left by
 * an earlier run with the same pid is not overwritten either). */
static int open_patterned(void) {
    char path[4200];
    for (int n = 0; n < 100; n++) {
        if (expand_pattern(path, sizeof path, g_output_pattern, getpid(), n) != 0) {
            memprof_log("memprof: MEMPROF_OUTPUT is too long: ", g_output_pattern, "; not tracing\n");
            return -1;
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            flock(fd, LOCK_EX | LOCK_NB);
            return fd;
        }
        if (errno != EEXIST) {
            memprof_log("memprof: cannot create ", path, ": ");
            memprof_log(strerrordesc_np(errno), "; not tracing\n", NULL);
            return -1;
        }
        if (!g_follow_exec)
            return -1;
    }
    return -1;
}

/* Writes the file header and the PROCESS record to fd, which becomes the trace. */
static int start_file(int fd) {
    /* Keep clear of the low descriptors programs like to dup2 onto. */
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 512);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    struct stat st;
    fstat(fd, &st);
    g_fd = fd;
    g_dev = st.st_dev;
    g_ino = st.st_ino;

    uint8_t header[MEMPROF_FILE_HEADER_SIZE] = {0};
    memcpy(header, MEMPROF_FILE_MAGIC, MEMPROF_FILE_MAGIC_SIZE);
    uint16_t major = MEMPROF_FORMAT_VERSION_MAJOR, minor = MEMPROF_FORMAT_VERSION_MINOR;
    memcpy(header + MEMPROF_FH_VERSION_MAJOR, &major, 2);
    memcpy(header + MEMPROF_FH_VERSION_MINOR, &minor, 2);
    put32(header + MEMPROF_FH_HEADER_SIZE, MEMPROF_FILE_HEADER_SIZE);
    int err = write_all(header, sizeof header);
    if (err) {
        memprof_log("memprof: cannot write the trace header: ", strerrordesc_np(err), "; not tracing\n");
        return -1;
    }
    pthread_mutex_lock(&g_queue_lock);
    record_process();
    struct memprof_buffer *process = g_process;
    g_process = NULL;
    pthread_mutex_unlock(&g_queue_lock);
    /* The PROCESS record goes first in the file, and at once: no writer runs yet (this
     * is the process's first allocation, or a fork child's), and a process that dies
     * before the writer's first turn still leaves a trace that says what it was. */
    if (process) {
        process->next = NULL;
        err = drain(process);
        if (err) {
            memprof_log("memprof: cannot write the trace header: ", strerrordesc_np(err), "; not tracing\n");
            return -1;
        }
    }
    return 0;
}

int memprof_output_open(void) {
    g_pid = getpid();
    g_start_ns = clock_ns(CLOCK_MONOTONIC);
    if (read_mode() != 0)
        return -1;
    const char *path = getenv("MEMPROF_OUTPUT");
    char name[4200];
    int fd;
#ifdef MEMPROF_LINKED
    if (!path || !*path) {
        g_in_memory = 1;
        return pthread_key_create(&g_thread_key, thread_exit) == 0 ? 0 : -1;
    }
#endif
    if (path && strstr(path, "%p") && strlen(path) < sizeof g_output_pattern) {
        memcpy(g_output_pattern, path, strlen(path) + 1);
        const char *follow = getenv("MEMPROF_FOLLOW_EXEC");
        g_follow_exec = follow && strcmp(follow, "1") == 0;
        fd = open_patterned();
        if (fd < 0)
            return -1;
    } else if (path && *path) {
        /* `memprof run` created this file empty. The first process to lock it owns
         * it; programs that this one execs inherit LD_PRELOAD and find it taken.
         * Linked into a program, memprof is started by whoever set the variable: the
         * file may not exist yet. */
#ifdef MEMPROF_LINKED
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
#else
        fd = open(path, O_WRONLY | O_CLOEXEC);
#endif
        if (fd < 0) {
            memprof_log("memprof: cannot open MEMPROF_OUTPUT=", path, ": ");
            memprof_log(strerrordesc_np(errno), "; not tracing\n", NULL);
            return -1;
        }
        struct stat st;
        if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &st) != 0 || st.st_size != 0) {
            close(fd);
            return -1;
        }
    } else {
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
        /* memprof.<program>.<pid>.mprof, a % in the program's name kept as it is. */
        char pattern[4200];
        size_t k = 0;
        const char *parts[] = {"memprof.", base, ".%p.mprof"};
        for (int i = 0; i < 3; i++)
            for (const char *c = parts[i]; *c && k + 2 < sizeof pattern; c++) {
                if (*c == '%' && i == 1)
                    pattern[k++] = '%';
                pattern[k++] = *c;
            }
        pattern[k] = 0;
        if (expand_pattern(name, sizeof name, pattern, g_pid, 0) != 0)
            return -1;
        path = name;
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            memprof_log("memprof: cannot create ", path, ": ");
            memprof_log(strerrordesc_np(errno), "; not tracing\n", NULL);
            return -1;
        }
        flock(fd, LOCK_EX | LOCK_NB);
    }
    if (pthread_key_create(&g_thread_key, thread_exit) != 0) {
        close(fd);
        return -1;
    }
    return start_file(fd);
}

/* ---- fork ------------------------------------------------------------------------------
 * Every memprof lock is held across fork (prepare/parent/child handlers), so the child
 * gets consistent copies. Without %p in MEMPROF_OUTPUT the child is not traced. With
 * it, the child records into a file of its own: the parent's pending events stay the
 * parent's, the writer thread (which the child does not have) starts again at the
 * child's first event, and that event's thread first writes the module map, every
 * interned stack and every inherited live block (INHERITED) into the new file. */

void memprof_fork_prepare(void) {
    memprof_own_heap_lock();
    memprof_stacks_lock();
    pthread_mutex_lock(&g_queue_lock);
    memprof_live_lock_all();
    memprof_filter_lock();
}

void memprof_fork_parent(void) {
    memprof_filter_unlock();
    memprof_live_unlock_all();
    pthread_mutex_unlock(&g_queue_lock);
    memprof_stacks_unlock();
    memprof_own_heap_unlock();
}

static void recycle(struct memprof_buffer *b) {
    b->next = g_free_buffers;
    g_free_buffers = b;
}

int memprof_fork_child(void) {
    memprof_filter_unlock();
    memprof_live_unlock_all();
    memprof_stacks_unlock();
    memprof_own_heap_unlock();
    /* g_queue_lock is still held: the state below is the child's alone anyway. */
    int traced = g_output_pattern[0] && !g_in_memory;
    if (traced) {
        g_pid = getpid();
        g_start_ns = clock_ns(CLOCK_MONOTONIC);
        if (g_fd >= 0)
            close(g_fd);
        g_fd = -1;
        g_writer_started = 0;
        g_writer_stop = 0;
        atomic_store(&g_writer_tid, 0);
        g_writer_stack_lo = g_writer_stack_hi = 0;
        while (g_queue_head) {
            struct memprof_buffer *b = g_queue_head;
            g_queue_head = b->next;
            recycle(b);
        }
        g_queue_tail = NULL;
        if (g_process)
            recycle(g_process);
        g_process = NULL;
        for (int i = 0; i < STAGE_SLOTS; i++)
            g_stages[i].used = 0, g_stages[i].len = 0;
        for (struct memprof_thread *t = g_threads; t; t = t->next_all) {
            if (t->buf)
                recycle(t->buf);
            t->buf = NULL;
            t->tail_buf = NULL;
            t->tail_len = 0;
            atomic_store(&t->heap_bytes, 0);
            atomic_store(&t->count_allocs, 0);
            atomic_store(&t->count_frees, 0);
            atomic_store(&t->count_bytes, 0);
            atomic_store(&t->count_freed_bytes, 0);
        }
        t_self = NULL;
        t_tls.home = t_sampler = &g_no_sampler; /* sample mode's fast path waits for the child's own state */
        g_thread_count = 0;
        g_tick_peak = 0;
        g_fork_replay = 1;
        /* Requests were the parent's; the child's file has no snapshot yet. */
        g_signal_served = atomic_load(&g_signal_requests);
        atomic_store(&g_api_served, atomic_load(&g_api_requests));
        if (g_mode == MEMPROF_MODE_AGGREGATE)
            memprof_aggregate_forget_written();
    }
    pthread_mutex_unlock(&g_queue_lock);
    if (!traced)
        return -1;
    int fd = open_patterned();
    return fd >= 0 ? start_file(fd) : -1;
}

static void replay_inherited(uintptr_t addr, uint64_t size, uint32_t stack, void *ctx) {
    (void)addr;
    struct memprof_thread *t = ctx;
    uint8_t *w = memprof_reserve(t, 24);
    if (!w)
        return;
    *w++ = MEMPROF_TAG_INHERITED;
    w = memprof_put_varint(w, size);
    w = memprof_put_varint(w, stack);
    memprof_commit(t, w);
    memprof_bump(&t->heap_bytes, size);
}

/* The first event of a traced fork child: what the new file needs from before. */
static void fork_replay(struct memprof_thread *t) {
    g_fork_replay = 0;
    memprof_stacks_replay(t);
    /* Aggregate mode: the counters the child inherited hold these blocks already. */
    if (g_mode != MEMPROF_MODE_AGGREGATE)
        memprof_live_foreach(replay_inherited, t);
    memprof_writer_start();
}

/* ---- the end ---------------------------------------------------------------------- */

static void put_leak(uintptr_t addr, uint64_t size, uint32_t stack, uint8_t kind) {
    uint8_t *w = process_reserve(40);
    if (!w)
        return;
    *w++ = MEMPROF_TAG_LEAK;
    w = memprof_put_varint(w, stack);
    w = memprof_put_varint(w, size);
    w = memprof_put_varint(w, addr);
    *w++ = kind;
    process_commit(w);
}

static void emit_unfreed(uintptr_t addr, uint64_t size, uint32_t stack, void *ctx) {
    (void)ctx;
    put_leak(addr, size, stack, MEMPROF_LEAK_UNFREED);
}

/* MEMPROF_LEAK_CHECK=0 (or no, off) skips the leak scan at exit. */
static int leak_check_wanted(void) {
    const char *v = getenv("MEMPROF_LEAK_CHECK");
    return !v || !(strcmp(v, "0") == 0 || strcmp(v, "no") == 0 || strcmp(v, "off") == 0);
}

static uintptr_t g_exit_sp, g_exit_regs[6];
static _Atomic pid_t g_exit_tid;

void memprof_note_exit(uintptr_t sp, const uintptr_t regs[6]) {
    pid_t none = 0;
    if (!atomic_compare_exchange_strong(&g_exit_tid, &none, -1))
        return; /* another thread is exiting first */
    g_exit_sp = sp;
    memcpy(g_exit_regs, regs, sizeof g_exit_regs);
    atomic_store(&g_exit_tid, (pid_t)syscall(SYS_gettid));
}

/* Copies out what each thread has committed into queued blocks; owners may still be
 * appending. Call with g_queue_lock held. */
static void copy_out_buffers(void) {
    for (struct memprof_thread *t = g_threads; t; t = t->next_all) {
        if (!t->buf)
            continue;
        size_t len = atomic_load_explicit(&t->committed, memory_order_acquire);
        struct memprof_buffer *copy = len ? buffer_get(MEMPROF_BLOCK_THREAD, t->index) : NULL;
        if (copy) {
            memcpy(copy->data, t->buf->data, len);
            copy->len = len;
            enqueue(copy);
        }
    }
}

/* Sample mode: the exact counts so far, as a COUNTS record at w (room for 40 bytes). */
static uint8_t *put_counts(uint8_t *w) {
    uint64_t allocs = 0, frees = 0, bytes = 0;
    for (struct memprof_thread *t = g_threads; t; t = t->next_all) {
        allocs += atomic_load_explicit(&t->count_allocs, memory_order_relaxed);
        frees += atomic_load_explicit(&t->count_frees, memory_order_relaxed);
        bytes += atomic_load_explicit(&t->count_bytes, memory_order_relaxed);
    }
    *w++ = MEMPROF_TAG_COUNTS;
    w = memprof_put_varint(w, allocs);
    w = memprof_put_varint(w, frees);
    return memprof_put_varint(w, bytes);
}

/* Writes the end of the trace once the writer no longer runs (or from the writer
 * itself): the queued and staged thread blocks, then the last process block (tick,
 * aggregate snapshot, jemalloc's figures when `jemalloc`, every live block as a LEAK
 * record, classified when `leaks` is given, else unfreed, sample mode's COUNTS, END). */
static void write_end(uint64_t end_flags, struct memprof_leak_result *leaks, int jemalloc) {
    /* Thread blocks still queued or staged go before the final process block. */
    pthread_mutex_lock(&g_queue_lock);
    struct memprof_buffer *pending = g_queue_head;
    g_queue_head = g_queue_tail = NULL;
    pthread_mutex_unlock(&g_queue_lock);
    int err = drain(pending);
    int staged = stage_flush_due(0, 1);
    err = err ? err : staged;

    uint64_t end_ns = memprof_now_ns();
    pthread_mutex_lock(&g_queue_lock);
    record_tick(end_ns, read_rss(), 1);
    pthread_mutex_unlock(&g_queue_lock);
    if (g_mode == MEMPROF_MODE_AGGREGATE && !err)
        err = write_snapshot(MEMPROF_SNAPSHOT_END, end_ns);
    struct jemalloc_stats final_stats = {0, {0}};
    if (jemalloc)
        final_stats = jemalloc_read();
    pthread_mutex_lock(&g_queue_lock);
    record_jemalloc(memprof_now_ns(), &final_stats);
    if (leaks) {
        for (size_t i = 0; i < leaks->n; i++)
            put_leak(leaks->addr[i], memprof_live_size(leaks->info[i]), memprof_live_stack(leaks->info[i]),
                     leaks->kind[i]);
        memprof_leaks_release(leaks);
    } else {
        memprof_live_foreach(emit_unfreed, NULL);
    }
    if (g_mode == MEMPROF_MODE_SAMPLE) {
        uint8_t *c = process_reserve(40);
        if (c)
            process_commit(put_counts(c));
    }
    uint8_t *w = process_reserve(48);
    if (w) {
        *w++ = MEMPROF_TAG_END;
        w = memprof_put_varint(w, memprof_now_ns());
        w = memprof_put_varint(w, g_tick_peak);
        w = memprof_put_varint(w, g_thread_count);
        w = memprof_put_varint(w, end_flags);
        process_commit(w);
    }
    if (g_process) {
        enqueue(g_process);
        g_process = NULL;
    }
    struct memprof_buffer *list = g_queue_head;
    g_queue_head = g_queue_tail = NULL;
    pthread_mutex_unlock(&g_queue_lock);
    int last = drain(list);
    err = err ? err : last;
    if (err) {
        memprof_log("memprof: cannot write the end of the trace: ", strerrordesc_np(err), "\n");
    }
}

void memprof_finish(uint64_t end_flags) {
    CAPTURE_CALLEE_SAVED(caller_regs);
    /* The caller's frames start above ours (the preload keeps frame pointers). */
    uintptr_t caller_sp = (uintptr_t)__builtin_frame_address(0) + 16;
    /* Called from exit's destructors on the thread that called exit: from there. */
    if (atomic_load(&g_exit_tid) == (pid_t)syscall(SYS_gettid) && g_exit_sp > caller_sp) {
        caller_sp = g_exit_sp;
        memcpy(caller_regs, g_exit_regs, sizeof g_exit_regs);
    }
    /* A vfork child shares our memory: it must not end the parent's trace. */
    if (g_pid == 0 || getpid() != g_pid)
        return;
    /* An in-process leak check is scanning (this thread could not be stopped): the
     * trace ends after it. */
    memprof_leaks_wait();
    if (g_in_memory) {
        /* Linked, with no trace to write: only stop recording. */
        int active = MEMPROF_STATE_ACTIVE;
        atomic_compare_exchange_strong(&g_state, &active, MEMPROF_STATE_FINISHED);
        return;
    }
    /* Classify the blocks still allocated first, while the heap is as the program
     * left it. An exec'd image replaces the heap: there the blocks stay "unfreed",
     * as they do in sample mode (the table holds only sampled blocks, and pointers
     * through unsampled ones would be missed). */
    int scan = !(end_flags & MEMPROF_END_VIA_EXEC) && g_mode != MEMPROF_MODE_SAMPLE && leak_check_wanted();
    /* A return from main reaches exit inside libc, past the exit hook: find the frame
     * that called it, or the scan would read the exit machinery's frames, whose unwritten
     * slots hold what main's deeper calls left there (a lost block's address). */
    if (scan && (end_flags & MEMPROF_END_VIA_EXIT) && atomic_load(&g_exit_tid) != (pid_t)syscall(SYS_gettid)) {
        uintptr_t exit_sp, exit_regs[6];
        int guarded = memprof_guard_set();
        if (memprof_leaks_exit_frame(&exit_sp, exit_regs) == 0 && exit_sp > caller_sp) {
            caller_sp = exit_sp;
            memcpy(caller_regs, exit_regs, sizeof exit_regs);
        }
        memprof_guard_restore(guarded);
    }
    /* Recording ends in the same step as the scan starts: the other threads' calls
     * wait from here on rather than change the heap behind the live table's back. */
    int expected = MEMPROF_STATE_ACTIVE;
    if (!atomic_compare_exchange_strong(&g_state, &expected, scan ? MEMPROF_STATE_SCANNING : MEMPROF_STATE_FINISHED))
        return;
    atomic_store(&g_finishing, 1);
    int saved = memprof_guard_set();
    /* Finishing takes a while (a scan of python's heap: a tenth of a second), longer
     * than the program's own exit would have: a signal sent meanwhile (a multiprocessing
     * pool terminates its workers as they leave) waits until the trace is written
     * instead of cutting it off with no events. Faults still end the process at once. */
    sigset_t all, old_mask;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old_mask);

    struct memprof_leak_result leaks;
    memset(&leaks, 0, sizeof leaks);
    int classified =
        scan && memprof_leaks_classify(
                    caller_sp, caller_regs, 6, memprof_writer_tid(),
                    memprof_leaks_swift_program() ? MEMPROF_SCAN_SWIFT_REFS | MEMPROF_SCAN_THREAD_DTV : 0, &leaks) == 0;
    if (scan)
        memprof_leaks_end_scan(MEMPROF_STATE_FINISHED);

    pthread_mutex_lock(&g_queue_lock);
    copy_out_buffers();
    int writer = g_writer_started;
    g_writer_stop = 1;
    pthread_cond_signal(&g_queue_cond);
    pthread_mutex_unlock(&g_queue_lock);
    if (writer)
        pthread_join(g_writer, NULL);
    g_writer_started = 0;
    write_end(end_flags, classified ? &leaks : NULL, 1);
    atomic_store(&g_finishing, 2);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    memprof_guard_restore(saved);
}
