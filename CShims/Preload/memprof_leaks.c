/*
 * memprof preload — leak classification: a conservative mark of the live heap.
 *
 * Like memcheck and LeakSanitizer: every aligned word of the roots — writable
 * mappings that are not the heap (data and bss of every module, TLS, anonymous
 * memory), each thread's stack from its stack pointer up, and its registers — is
 * a candidate pointer. A word equal to a live block's start makes that block
 * reachable; one inside a block makes it possibly lost. Reached blocks are scanned
 * in turn (a start pointer from a possibly-lost block only gives possibly lost).
 * What nothing reached is lost: definitely lost, unless another lost block points
 * to it (indirectly lost); in a cycle of lost blocks the lowest address stays
 * definite, as in memcheck.
 *
 * The scan runs while g_state is MEMPROF_STATE_SCANNING, which the step that ends
 * recording sets: the live table must stay exact until the scan is over, so from that
 * step on the program's calls wait for the scan instead of passing through
 * (memprof_leaks_wait). Unrecorded, a free would leave its block listed (taken for
 * lost, or read after glibc unmapped it) and a malloc would put an unlisted block
 * where a listed one was.
 *
 * The other threads are stopped for the scan with a real-time signal whose handler
 * saves the registers and waits; a thread inside memprof's own code is asked again
 * a moment later, so nobody is stopped holding a live-table lock. A thread that
 * does not answer (the signal blocked) is not stopped: its whole stack mapping is
 * scanned, and its calls wait until the scan is over so no block vanishes under
 * the scanner.
 *
 * glibc malloc's own bookkeeping (main_arena in libc's data, the arenas' heaps)
 * points at chunk headers, which can fall inside the previous block's last bytes:
 * such a word is not taken as an interior pointer, and arena heaps are not roots.
 * With another allocator behind memprof the scan is skipped (blocks stay
 * "unfreed"): its metadata would make everything look reachable.
 *
 * glibc's own blocks, which valgrind's default run frees with __libc_freeres, are
 * found by what they are and counted reachable: an exited thread's cached control
 * block keeps its DTV, and a pointer into a block from glibc's own data counts as one
 * to its start when glibc's code allocated the block (mark).
 *
 * Everything here comes from mmap; nothing allocates through the interposed calls.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <link.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "memprof_build_id.h"
#include "memprof_internal.h"

/* Block states while marking; the final kinds are MEMPROF_LEAK_*. */
enum { UNREACHED = 0, INDIRECT = 1, POSSIBLE = 2, REACHABLE = 3 };

struct range {
    uintptr_t lo, hi;
};

/* ---- scratch memory ------------------------------------------------------------- */

static void *area_get(struct memprof_mapping *a, size_t size) {
    a->size = (size + 4095) & ~(size_t)4095;
    a->p = a->size ? memprof_map(a->size, MEMPROF_MAP_SCRATCH) : NULL;
    return a->p;
}

static void area_put(struct memprof_mapping *a) {
    if (a->p)
        memprof_unmap(a->p, a->size, MEMPROF_MAP_SCRATCH);
    a->p = NULL;
}

/* A growable array of ranges in mmap'd memory. */
struct ranges {
    struct range *r;
    size_t n, cap;
    struct memprof_mapping mem;
};

static void ranges_add(struct ranges *rs, uintptr_t lo, uintptr_t hi) {
    if (lo >= hi)
        return;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 1024;
        struct memprof_mapping next;
        struct range *r = area_get(&next, cap * sizeof *r);
        if (!r)
            return;
        if (rs->n)
            memcpy(r, rs->r, rs->n * sizeof *r);
        area_put(&rs->mem);
        rs->mem = next;
        rs->r = r;
        rs->cap = cap;
    }
    rs->r[rs->n].lo = lo;
    rs->r[rs->n].hi = hi;
    rs->n++;
}

static void ranges_sort(struct ranges *rs) {
    for (size_t i = 1; i < rs->n; i++) { /* few entries: insertion sort */
        struct range x = rs->r[i];
        size_t j = i;
        while (j > 0 && rs->r[j - 1].lo > x.lo) {
            rs->r[j] = rs->r[j - 1];
            j--;
        }
        rs->r[j] = x;
    }
}

/* ---- the heap, sorted ---------------------------------------------------------- */

static struct {
    uintptr_t *addr; /* block starts, ascending */
    uint64_t *info;  /* live-table packed size / stack / flags, same order */
    uint8_t *state;
    uint32_t *work; /* the mark stack */
    size_t n, nwork, work_cap;
    uintptr_t min, max; /* [min, max): every block lies inside */
    int glibc;          /* chunk headers can be read (glibc malloc) */
    int rules;          /* MEMPROF_SCAN_* */
} g_heap;

static void copy_block(uintptr_t addr, uint64_t packed, void *ctx) {
    size_t *i = ctx;
    if (*i < g_heap.n) {
        g_heap.addr[*i] = addr;
        g_heap.info[*i] = packed;
        (*i)++;
    }
}

/* LSD radix sort of (addr, info) pairs on the address, 16 bits at a time. */
static int sort_blocks(void) {
    size_t n = g_heap.n;
    struct memprof_mapping tmp_a, tmp_i, counts;
    uintptr_t *ta = area_get(&tmp_a, n * sizeof *ta);
    uint64_t *ti = area_get(&tmp_i, n * sizeof *ti);
    size_t *count = area_get(&counts, 65536 * sizeof *count);
    if ((n && (!ta || !ti)) || !count) {
        area_put(&tmp_a);
        area_put(&tmp_i);
        area_put(&counts);
        return -1;
    }
    uintptr_t *sa = g_heap.addr, *da = ta;
    uint64_t *si = g_heap.info, *di = ti;
    for (int shift = 0; shift < 64; shift += 16) {
        uintptr_t all = 0;
        for (size_t i = 0; i < n; i++)
            all |= sa[i];
        if (!(all >> shift))
            break;
        memset(count, 0, 65536 * sizeof *count);
        for (size_t i = 0; i < n; i++)
            count[(sa[i] >> shift) & 0xffff]++;
        size_t sum = 0;
        for (size_t d = 0; d < 65536; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) {
            size_t at = count[(sa[i] >> shift) & 0xffff]++;
            da[at] = sa[i];
            di[at] = si[i];
        }
        uintptr_t *xa = sa;
        sa = da;
        da = xa;
        uint64_t *xi = si;
        si = di;
        di = xi;
    }
    if (sa != g_heap.addr) {
        memcpy(g_heap.addr, sa, n * sizeof *sa);
        memcpy(g_heap.info, si, n * sizeof *si);
    }
    area_put(&tmp_a);
    area_put(&tmp_i);
    area_put(&counts);
    return 0;
}

/* A hash of the pages the heap's blocks cover: page -> the index range of the blocks
 * that overlap it. A lookup is a probe and a short binary search instead of a
 * search over every block. */
struct page_entry {
    uintptr_t page; /* page number + 1; 0 = empty */
    uint32_t first, last;
};

static struct {
    struct page_entry *slots;
    size_t mask;
    struct memprof_mapping mem;
} g_pages;

static inline size_t page_hash(uintptr_t page) { return (size_t)((page * 0x9E3779B97F4A7C15ull) >> 20); }

static int build_pages(void) {
    size_t entries = 0;
    for (size_t i = 0; i < g_heap.n; i++) {
        uintptr_t a = g_heap.addr[i], size = memprof_live_size(g_heap.info[i]);
        entries += ((a + (size ? size - 1 : 0)) >> 12) - (a >> 12) + 1;
    }
    size_t cap = 1024;
    while (cap < entries * 2)
        cap *= 2;
    g_pages.slots = area_get(&g_pages.mem, cap * sizeof *g_pages.slots);
    if (!g_pages.slots)
        return -1;
    g_pages.mask = cap - 1;
    for (size_t i = 0; i < g_heap.n; i++) {
        uintptr_t a = g_heap.addr[i], size = memprof_live_size(g_heap.info[i]);
        for (uintptr_t page = a >> 12; page <= (a + (size ? size - 1 : 0)) >> 12; page++) {
            size_t h = page_hash(page) & g_pages.mask;
            while (g_pages.slots[h].page && g_pages.slots[h].page != page + 1)
                h = (h + 1) & g_pages.mask;
            if (!g_pages.slots[h].page) {
                g_pages.slots[h].page = page + 1;
                g_pages.slots[h].first = (uint32_t)i;
            }
            g_pages.slots[h].last = (uint32_t)i;
        }
    }
    return 0;
}

/* The address a word may stand for. Swift keeps tag bits in a reference's top byte
 * (String's discriminator, enum spare bits) and in the low three bits of aligned
 * pointers (the runtime's concurrent maps keep a capacity there), and an object with
 * a side table (made when it is first weakly referenced) keeps the table's address in
 * its refcount word as address >> 3 with the top two bits set. */
static inline uintptr_t candidate(uintptr_t v) {
    if (!(g_heap.rules & MEMPROF_SCAN_SWIFT_REFS))
        return v;
    if ((v >> 62) == 3)
        return v << 3;
    return v & ~(0xffull << 56) & ~(uintptr_t)7;
}

/* The block containing the word v points to (its start, or inside it), or -1. */
static inline ptrdiff_t find_block(uintptr_t v) {
    v = candidate(v);
    if (v < g_heap.min || v >= g_heap.max)
        return -1;
    uintptr_t page = v >> 12;
    size_t h = page_hash(page) & g_pages.mask;
    const struct page_entry *e;
    for (;;) {
        e = &g_pages.slots[h];
        if (e->page == page + 1)
            break;
        if (!e->page)
            return -1;
        h = (h + 1) & g_pages.mask;
    }
    size_t lo = e->first, hi = (size_t)e->last + 1;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (g_heap.addr[mid] <= v)
            lo = mid;
        else
            hi = mid;
    }
    uintptr_t a = g_heap.addr[lo];
    if (v == a)
        return (ptrdiff_t)lo;
    if (v < a || v - a >= memprof_live_size(g_heap.info[lo]))
        return -1;
    /* glibc: the next chunk's header can overlap this block's last bytes, and the
     * allocator's own lists point at it. That is not a pointer into this block. */
    if (g_heap.glibc) {
        uint64_t chunk = *(const uint64_t *)(a - 8) & ~(uint64_t)7;
        if (v == a - 16 + chunk)
            return -1;
    }
    return (ptrdiff_t)lo;
}

static inline void push(size_t i) {
    if (g_heap.nwork < g_heap.work_cap)
        g_heap.work[g_heap.nwork++] = (uint32_t)i;
}

/* glibc's own modules (memprof_leaks_init): libc.so and the dynamic loader. Their
 * writable segments hold glibc's runtime data; their code ranges tell the blocks glibc
 * allocated for itself. */
#define MAX_GLIBC_SEGMENTS 16
static struct range g_glibc_data[MAX_GLIBC_SEGMENTS], g_glibc_code[MAX_GLIBC_SEGMENTS];
static int g_nglibc_data, g_nglibc_code;

/* Set while a root range inside glibc's writable segments is scanned. */
static int g_in_glibc_data;

static int in_ranges(const struct range *r, int n, uintptr_t a) {
    for (int i = 0; i < n; i++)
        if (a >= r[i].lo && a < r[i].hi)
            return 1;
    return 0;
}

/* Whether block i was allocated by glibc for itself: the frame that called the
 * allocator and its caller are both in libc.so or the loader
 * (_dlfo_mappings_segment_allocate from _dl_find_object_update). One frame is not
 * enough: the program's strdup'd string has strdup's. */
static int allocated_by_glibc(size_t i) {
    uint64_t frames[2];
    return memprof_stack_frames(memprof_live_stack(g_heap.info[i]), frames, 2) == 2 &&
           in_ranges(g_glibc_code, g_nglibc_code, (uintptr_t)frames[0]) &&
           in_ranges(g_glibc_code, g_nglibc_code, (uintptr_t)frames[1]);
}

/* A candidate pointer found in a root (definite = 1) or a reached block. */
static inline void mark(uintptr_t v, int definite) {
    ptrdiff_t i = find_block(v);
    if (i < 0)
        return;
    uint8_t now = g_heap.state[i];
    if (now == REACHABLE)
        return;
    uint8_t next = (definite && candidate(v) == g_heap.addr[i]) ? REACHABLE : POSSIBLE;
    /* glibc keeps some of its own blocks by a pointer into them (the loader's
     * _dl_find_object segments, aligned inside their block) and frees them in
     * __libc_freeres, which valgrind's default run calls: held by glibc's own data,
     * such a block is glibc's, not lost. A program's block that glibc points into
     * (strtok's place in the program's string) keeps the plain rule. */
    if (next == POSSIBLE && definite && g_in_glibc_data && allocated_by_glibc((size_t)i))
        next = REACHABLE;
    if (next > now) {
        g_heap.state[i] = next;
        push((size_t)i);
    }
}

/* glibc keeps a thread's DTV (its TLS block table, a calloc'd array of 16-byte
 * entries) as a pointer to the array's second entry, in the second word of the
 * thread's TCB: an interior pointer, so every thread's DTV would look possibly lost.
 * A TCB is recognized in a root by its first and third words, which both hold its own
 * address (x86-64: tcb and self). */
static inline int is_tcb(uintptr_t p) { return *(const uintptr_t *)p == p && ((const uintptr_t *)p)[2] == p; }

static void mark_dtv(uintptr_t tcb) {
    uintptr_t dtv = ((const uintptr_t *)tcb)[1];
    if (dtv >= 16)
        mark(dtv - 16, 1);
}

static void scan_words(uintptr_t lo, uintptr_t hi, int definite) {
    lo = (lo + 7) & ~(uintptr_t)7;
    for (uintptr_t p = lo; p + 8 <= hi; p += 8)
        mark(*(const uintptr_t *)p, definite);
}

/* Where glibc's thread descriptor keeps the thread's kernel id (memprof_leaks_init,
 * from the descriptor glibc exports for libthread_db), or 0 when unknown. */
static uint32_t g_tcb_tid_offset;

/* Whether the TCB at p, inside a root that ends at hi, is an exited thread's: the
 * kernel clears the descriptor's tid when the thread exits, and glibc marks a cached
 * one with -1 (its own test for a reusable descriptor is tid <= 0). */
static int exited_tcb(uintptr_t p, uintptr_t hi) {
    return g_tcb_tid_offset && p + g_tcb_tid_offset + 4 <= hi && *(const int32_t *)(p + g_tcb_tid_offset) <= 0;
}

/* A root: scan_words, plus the TCB rules. An exited thread's control block (glibc
 * caches it with the thread's stack for reuse) keeps its DTV, which __libc_freeres
 * frees, as valgrind's default run shows; a live thread's DTV keeps valgrind's plain
 * rule (possibly lost), unless the scan has MEMPROF_SCAN_THREAD_DTV. */
static void scan_root_words(uintptr_t lo, uintptr_t hi) {
    lo = (lo + 7) & ~(uintptr_t)7;
    for (uintptr_t p = lo; p + 8 <= hi; p += 8) {
        uintptr_t v = *(const uintptr_t *)p;
        if (v == p && p + 24 <= hi && is_tcb(p) && ((g_heap.rules & MEMPROF_SCAN_THREAD_DTV) || exited_tcb(p, hi)))
            mark_dtv(p);
        mark(v, 1);
    }
}

static void scan_block(size_t i, int definite) {
    uintptr_t a = g_heap.addr[i];
    scan_words(a, a + memprof_live_size(g_heap.info[i]), definite);
}

static void drain_marks(void) {
    while (g_heap.nwork) {
        size_t i = g_heap.work[--g_heap.nwork];
        scan_block(i, g_heap.state[i] == REACHABLE);
    }
}

/* From each lost block in address order, everything it reaches that nothing else
 * reached is indirectly lost; what stays UNREACHED is definitely lost. */
static void classify_lost(void) {
    for (size_t leader = 0; leader < g_heap.n; leader++) {
        if (g_heap.state[leader] != UNREACHED)
            continue;
        g_heap.nwork = 0;
        push(leader);
        while (g_heap.nwork) {
            size_t i = g_heap.work[--g_heap.nwork];
            uintptr_t a = g_heap.addr[i];
            uintptr_t lo = a, hi = a + memprof_live_size(g_heap.info[i]);
            for (uintptr_t p = lo; p + 8 <= hi; p += 8) {
                ptrdiff_t j = find_block(*(const uintptr_t *)p);
                if (j >= 0 && (size_t)j != leader && g_heap.state[j] == UNREACHED) {
                    g_heap.state[j] = INDIRECT;
                    push((size_t)j);
                }
            }
        }
    }
}

/* ---- stopping the other threads -------------------------------------------------- */

#define MAX_STOPPED 8192
#define NGREGS_SAVED 18

enum { STW_SENT = 0, STW_STOPPED = 1, STW_BUSY = 2, STW_LEFT = 3 };

struct stopped {
    pid_t tid;
    _Atomic int state;
    uintptr_t sp;
    uintptr_t regs[NGREGS_SAVED];
};

static struct stopped *g_stw;
static _Atomic int g_stw_count;
static _Atomic int g_stw_release;
static int g_stw_signal;

static void stw_handler(int sig, siginfo_t *info, void *ucv) {
    (void)sig;
    (void)info;
    int saved_errno = errno;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    int n = atomic_load(&g_stw_count);
    struct stopped *me = NULL;
    for (int i = 0; g_stw && i < n; i++)
        if (g_stw[i].tid == tid)
            me = &g_stw[i];
    if (!me || atomic_load(&g_stw_release)) {
        errno = saved_errno;
        return;
    }
    if (t_guard) {
        /* Inside memprof (maybe holding a live-table lock): ask again later. */
        atomic_store(&me->state, STW_BUSY);
        errno = saved_errno;
        return;
    }
    const ucontext_t *uc = ucv;
    static const int regs[NGREGS_SAVED] = {REG_RAX, REG_RBX, REG_RCX, REG_RDX, REG_RSI, REG_RDI,
                                           REG_RBP, REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12,
                                           REG_R13, REG_R14, REG_R15, REG_RIP, REG_RSP, REG_RSP};
    for (int i = 0; i < NGREGS_SAVED; i++)
        me->regs[i] = (uintptr_t)uc->uc_mcontext.gregs[regs[i]];
    me->sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    atomic_store(&me->state, STW_STOPPED);
    while (!atomic_load(&g_stw_release))
        syscall(SYS_futex, &g_stw_release, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    atomic_store(&me->state, STW_LEFT);
    errno = saved_errno;
}

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* A real-time signal nobody handles, for stopping threads; 0 if none. */
static int pick_signal(struct sigaction *old) {
    for (int sig = SIGRTMAX; sig >= SIGRTMIN; sig--) {
        if (sigaction(sig, NULL, old) == 0 && !(old->sa_flags & SA_SIGINFO) && old->sa_handler == SIG_DFL)
            return sig;
    }
    return 0;
}

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Stops every other thread of the process but `skip`; returns how many answered. */
static int stop_world(pid_t skip, struct sigaction *old) {
    g_stw_signal = pick_signal(old);
    if (!g_stw_signal)
        return 0;
    static struct memprof_mapping mem;
    if (!g_stw && !(g_stw = area_get(&mem, MAX_STOPPED * sizeof *g_stw)))
        return 0;
    atomic_store(&g_stw_release, 0);
    atomic_store(&g_stw_count, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = stw_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(g_stw_signal, &sa, NULL) != 0)
        return 0;

    pid_t pid = getpid(), self = (pid_t)syscall(SYS_gettid);
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[4096];
        long got;
        while ((got = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
            for (long off = 0; off < got;) {
                struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
                off += d->d_reclen;
                pid_t tid = 0;
                for (const char *c = d->d_name; *c >= '0' && *c <= '9'; c++)
                    tid = tid * 10 + (*c - '0');
                int n = atomic_load(&g_stw_count);
                if (tid <= 0 || tid == self || tid == skip || n == MAX_STOPPED)
                    continue;
                g_stw[n].tid = tid;
                g_stw[n].sp = 0;
                atomic_store(&g_stw[n].state, STW_SENT);
                atomic_store(&g_stw_count, n + 1);
            }
        }
        close(fd);
    }
    int n = atomic_load(&g_stw_count);
    for (int i = 0; i < n; i++)
        syscall(SYS_tgkill, pid, g_stw[i].tid, g_stw_signal);
    /* Wait for answers; ask busy threads again. Threads that never answer have the
     * signal blocked (or are exiting): they are left running. */
    uint64_t deadline = mono_ms() + 300;
    for (;;) {
        int waiting = 0;
        for (int i = 0; i < n; i++) {
            int s = atomic_load(&g_stw[i].state);
            if (s == STW_BUSY) {
                atomic_store(&g_stw[i].state, STW_SENT);
                syscall(SYS_tgkill, pid, g_stw[i].tid, g_stw_signal);
                waiting++;
            } else if (s == STW_SENT) {
                waiting++;
            }
        }
        if (!waiting || mono_ms() > deadline)
            break;
        sleep_ms(1);
    }
    int stopped = 0;
    for (int i = 0; i < n; i++)
        stopped += atomic_load(&g_stw[i].state) == STW_STOPPED;
    return stopped;
}

static void resume_world(const struct sigaction *old) {
    if (!g_stw_signal)
        return;
    atomic_store(&g_stw_release, 1);
    syscall(SYS_futex, &g_stw_release, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
    int n = atomic_load(&g_stw_count);
    uint64_t deadline = mono_ms() + 100;
    for (int i = 0; i < n; i++)
        while (atomic_load(&g_stw[i].state) == STW_STOPPED && mono_ms() < deadline)
            sched_yield();
    /* Signals still pending at threads that never answered are discarded by SIG_IGN
     * before the program's own disposition comes back. */
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(g_stw_signal, &ign, NULL);
    sigaction(g_stw_signal, old, NULL);
    g_stw_signal = 0;
}

/* ---- roots ---------------------------------------------------------------------------- */

/* Reads a whole /proc file into mmap'd memory (NUL-terminated). */
static char *read_proc(const char *path, struct memprof_mapping *a) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 1 << 20, len = 0;
    char *buf = area_get(a, cap);
    while (buf) {
        ssize_t got = read(fd, buf + len, cap - 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
        if (len == cap - 1) {
            struct memprof_mapping bigger;
            char *next = area_get(&bigger, cap * 2);
            if (next)
                memcpy(next, buf, len);
            area_put(a);
            *a = bigger;
            buf = next;
            cap *= 2;
        }
    }
    close(fd);
    if (buf)
        buf[len] = 0;
    return buf;
}

static uintptr_t parse_hex(const char **s) {
    uintptr_t v = 0;
    for (;; (*s)++) {
        char c = **s;
        if (c >= '0' && c <= '9')
            v = v * 16 + (uintptr_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + (uintptr_t)(c - 'a' + 10);
        else
            return v;
    }
}

/* Whether [lo, hi) holds a block glibc malloc carved from an arena (not a chunk of
 * its own mmap'd for one large block). */
static int holds_arena_block(uintptr_t lo, uintptr_t hi) {
    size_t a = 0, b = g_heap.n;
    while (a < b) { /* first block >= lo */
        size_t mid = (a + b) / 2;
        if (g_heap.addr[mid] < lo)
            a = mid + 1;
        else
            b = mid;
    }
    for (size_t i = a; i < g_heap.n && g_heap.addr[i] < hi; i++) {
        if (!g_heap.glibc)
            return 1;
        if (!(*(const uint64_t *)(g_heap.addr[i] - 8) & 2)) /* IS_MMAPPED clear */
            return 1;
    }
    return 0;
}

/* glibc's non-main arenas live in 64 MiB-aligned heaps that start with a heap_info
 * whose first word points at the arena, inside the same heap for the first one. */
static int is_arena_heap(uintptr_t lo, uintptr_t hi) {
    const uintptr_t heap_max = 64ull << 20;
    if (!g_heap.glibc || (lo & (heap_max - 1)) || hi - lo < 4096)
        return 0;
    uintptr_t ar = *(const uintptr_t *)lo;
    return ar > lo && ar < lo + 4096;
}

struct root_ctx {
    const struct ranges *skip; /* sorted, memprof's own memory */
    const struct range *stacks;
    int nstacks;
};

/* Scans [lo, hi) minus the skip ranges. */
static void scan_root_part(const struct root_ctx *ctx, uintptr_t lo, uintptr_t hi) {
    for (size_t k = 0; k < ctx->skip->n && lo < hi; k++) {
        const struct range *s = &ctx->skip->r[k];
        if (s->hi <= lo || s->lo >= hi)
            continue;
        if (s->lo > lo)
            scan_root_words(lo, s->lo);
        lo = s->hi;
    }
    if (lo < hi)
        scan_root_words(lo, hi);
}

/* scan_root_part, with the parts inside glibc's writable segments marked as such. */
static void scan_root(const struct root_ctx *ctx, uintptr_t lo, uintptr_t hi) {
    while (lo < hi) {
        uintptr_t end = hi;
        int inside = 0;
        for (int i = 0; i < g_nglibc_data; i++) {
            const struct range *g = &g_glibc_data[i];
            if (lo >= g->lo && lo < g->hi) {
                inside = 1;
                end = g->hi < hi ? g->hi : hi;
                break;
            }
            if (g->lo > lo && g->lo < end)
                end = g->lo;
        }
        g_in_glibc_data = inside;
        scan_root_part(ctx, lo, end);
        g_in_glibc_data = 0;
        lo = end;
    }
}

struct dead_ctx {
    struct ranges *skip;
    uintptr_t caller_sp;
};

/* Whether a thread runs on [lo, hi) now: the caller, or a stopped thread. */
static int runs_on(uintptr_t caller_sp, uintptr_t lo, uintptr_t hi) {
    if (caller_sp >= lo && caller_sp < hi)
        return 1;
    int count = atomic_load(&g_stw_count);
    for (int i = 0; i < count; i++)
        if (g_stw[i].sp >= lo && g_stw[i].sp < hi)
            return 1;
    return 0;
}

static void skip_dead_stack(uintptr_t lo, uintptr_t hi, void *ctx) {
    struct dead_ctx *d = ctx;
    if (!runs_on(d->caller_sp, lo, hi))
        ranges_add(d->skip, lo, hi);
}

/* glibc caches an exited thread's control block with its stack, at its top, and keeps
 * its TLS table (DTV) for reuse: still glibc's, not a leak (__libc_freeres, which
 * valgrind's default run calls, frees it with the cached stack). The stack is read
 * only where it is still mapped and writable (`m`, a line of /proc/self/maps): glibc
 * unmaps the stacks its cache has no room for, and the addresses may hold another
 * mapping now. */
struct dead_tcb_ctx {
    uintptr_t caller_sp;
    struct range m;
};

static void mark_dead_tcbs(uintptr_t lo, uintptr_t hi, void *ctx) {
    const struct dead_tcb_ctx *d = ctx;
    uintptr_t from = hi - lo > (64u << 10) ? hi - (64u << 10) : lo;
    if (from < d->m.lo)
        from = d->m.lo;
    if (hi > d->m.hi)
        hi = d->m.hi;
    if (from >= hi || runs_on(d->caller_sp, lo, hi))
        return;
    for (uintptr_t p = (from + 7) & ~(uintptr_t)7; p + 24 <= hi; p += 8)
        if (is_tcb(p))
            mark_dtv(p);
}

static void scan_mappings(const struct root_ctx *ctx) {
    struct memprof_mapping mem = {0};
    char *maps = read_proc("/proc/self/maps", &mem);
    if (!maps)
        return;
    for (const char *s = maps; *s;) {
        const char *line = s;
        while (*s && *s != '\n')
            s++;
        const char *eol = s;
        if (*s)
            s++;
        const char *p = line;
        uintptr_t lo = parse_hex(&p);
        if (*p++ != '-')
            continue;
        uintptr_t hi = parse_hex(&p);
        if (*p++ != ' ' || eol - p < 4 || p[0] != 'r' || p[1] != 'w')
            continue;
        /* The path, if any, is the sixth field. */
        const char *name = p;
        for (int field = 0; field < 4 && name < eol; field++) {
            while (name < eol && *name != ' ')
                name++;
            while (name < eol && *name == ' ')
                name++;
        }
        size_t name_len = (size_t)(eol - name);
        if ((name_len >= 6 && memcmp(name, "[heap]", 6) == 0) || (name_len >= 5 && memcmp(name, "/dev/", 5) == 0) ||
            (name_len >= 6 && memcmp(name, "[vvar", 5) == 0) || (name_len >= 10 && memcmp(name, "[vsyscall]", 10) == 0))
            continue;
        struct dead_tcb_ctx dead = {ctx->stacks[0].lo, {lo, hi}};
        memprof_dead_thread_stacks(mark_dead_tcbs, &dead);
        if (holds_arena_block(lo, hi) || is_arena_heap(lo, hi))
            continue;
        /* A stack with a known pointer: only the part above it is live. */
        uintptr_t from = lo;
        for (int i = 0; i < ctx->nstacks; i++)
            if (ctx->stacks[i].lo >= lo && ctx->stacks[i].lo < hi && ctx->stacks[i].lo > from)
                from = ctx->stacks[i].lo;
        scan_root(ctx, from, hi);
    }
    area_put(&mem);
}

/* glibc's large blocks sit in mappings of their own: skip the chunk, not only the
 * user part (its header is not a root). */
static void add_own_ranges(uintptr_t lo, uintptr_t hi, void *ctx) { ranges_add(ctx, lo, hi); }

/* memprof's own writable segments (memprof_leaks_init): not roots. */
#define MAX_SELF_SEGMENTS 8
static struct range g_self[MAX_SELF_SEGMENTS];
static int g_nself;

#ifndef MEMPROF_LINKED
static int self_segments(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    if (!memprof_segment_holding(info, (uintptr_t)&self_segments))
        return 0;
    for (int i = 0; i < info->dlpi_phnum && g_nself < MAX_SELF_SEGMENTS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W)) {
            uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)4095;
            uintptr_t end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + 4095) & ~(uintptr_t)4095;
            g_self[g_nself++] = (struct range){start, end};
        }
    }
    return 1;
}
#endif

/* ---- the whole pass ------------------------------------------------------------------ */

/* The allocator behind memprof is glibc's (memprof_leaks_init): the chunk rules hold. */
static int g_glibc_malloc;

/* The Swift runtime is loaded (memprof_leaks_init): words may be Swift references. */
static int g_swift_program;

static int find_swift_runtime(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    return info->dlpi_name && strstr(info->dlpi_name, "libswiftCore.so") != NULL;
}

int memprof_leaks_swift_program(void) { return g_swift_program; }

/* Whether the module holding the address in `data` is glibc's libc. (dladdr would say,
 * but it also looks for the nearest symbol, through all of libc's: 30 us at every
 * start.) */
static int address_in_libc(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    if (!memprof_segment_holding(info, (uintptr_t)data))
        return 0;
    return info->dlpi_name && strstr(info->dlpi_name, "libc.so") != NULL ? 1 : -1;
}

/* Notes the segments of libc (the module holding its malloc, marks[0]) and of the
 * dynamic loader (loaded at marks[1], the kernel's AT_BASE). */
static int glibc_segments(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    const uintptr_t *marks = data;
    if (!memprof_segment_holding(info, marks[0]) && !(marks[1] && info->dlpi_addr == marks[1]))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        struct range r = {info->dlpi_addr + ph->p_vaddr, info->dlpi_addr + ph->p_vaddr + ph->p_memsz};
        if ((ph->p_flags & PF_W) && g_nglibc_data < MAX_GLIBC_SEGMENTS)
            g_glibc_data[g_nglibc_data++] = r;
        else if ((ph->p_flags & PF_X) && g_nglibc_code < MAX_GLIBC_SEGMENTS)
            g_glibc_code[g_nglibc_code++] = r;
    }
    return 0;
}

/* libc's exit (memprof_leaks_init): where the exit frame search stops. */
static uintptr_t g_libc_exit;

int memprof_leaks_exit_frame(uintptr_t *sp, uintptr_t regs[6]) {
    if (!g_libc_exit)
        return -1;
    unw_context_t context;
    unw_cursor_t cursor;
    if (unw_getcontext(&context) != 0 || unw_init_local(&cursor, &context) != 0)
        return -1;
    for (int depth = 0; depth < 64; depth++) {
        unw_proc_info_t info;
        int in_exit = unw_get_proc_info(&cursor, &info) == 0 && info.start_ip == g_libc_exit;
        if (unw_step(&cursor) <= 0)
            return -1;
        if (!in_exit)
            continue;
        /* The caller's frame, as it was at the call: its stack pointer and the
         * callee-saved registers the unwinder restored. */
        static const int saved[6] = {UNW_X86_64_RBX, UNW_X86_64_RBP, UNW_X86_64_R12,
                                     UNW_X86_64_R13, UNW_X86_64_R14, UNW_X86_64_R15};
        unw_word_t v;
        if (unw_get_reg(&cursor, UNW_REG_SP, &v) != 0)
            return -1;
        *sp = (uintptr_t)v;
        for (int i = 0; i < 6; i++)
            regs[i] = unw_get_reg(&cursor, saved[i], &v) == 0 ? (uintptr_t)v : 0;
        return 0;
    }
    return -1;
}

void memprof_leaks_init(void *real_malloc) {
    g_swift_program = dl_iterate_phdr(find_swift_runtime, NULL) != 0;
    /* exit's own address: main's return reaches it inside libc, not through the PLT
     * entry memprof interposes. */
    g_libc_exit = (uintptr_t)dlsym(RTLD_NEXT, "exit");
    /* {bits, count, offset} of struct pthread's tid, as libthread_db reads it. */
    const uint32_t *tid = dlsym(RTLD_NEXT, "_thread_db_pthread_tid");
    g_tcb_tid_offset = tid && tid[0] == 32 && tid[1] == 1 ? tid[2] : 0;
    g_glibc_malloc = real_malloc && dl_iterate_phdr(address_in_libc, real_malloc) == 1;
    g_nglibc_data = g_nglibc_code = 0;
    if (g_glibc_malloc) {
        uintptr_t marks[2] = {(uintptr_t)real_malloc, (uintptr_t)getauxval(AT_BASE)};
        dl_iterate_phdr(glibc_segments, marks);
    }
    g_nself = 0;
#ifndef MEMPROF_LINKED
    /* Linked into the program, memprof's module is the program's, whose data is a root. */
    dl_iterate_phdr(self_segments, NULL);
#endif
}

int memprof_leaks_classify(uintptr_t caller_sp, const uintptr_t *caller_regs, int nregs, pid_t skip_tid, int rules,
                           struct memprof_leak_result *out) {
    memset(out, 0, sizeof *out);
    /* Nothing here may take a lock that a thread waiting for the scan could hold (as
     * the loader's, taken by dl_iterate_phdr, is during dlopen). */
#ifdef MEMPROF_LINKED
    if (!g_glibc_malloc)
        return -1;
#else
    if (!g_glibc_malloc || !g_nself)
        return -1;
#endif
    struct ranges own = {0};
    for (int i = 0; i < g_nself; i++)
        ranges_add(&own, g_self[i].lo, g_self[i].hi);

    struct sigaction old;
    int stopped = stop_world(skip_tid, &old);
    (void)stopped;

    int rc = -1;
    struct memprof_mapping a_addr = {0}, a_info = {0}, a_state = {0}, a_work = {0};
    size_t n = memprof_live_count();
    g_heap.n = n;
    g_heap.glibc = 1;
    g_heap.rules = rules;
    if ((n == 0 || (area_get(&a_addr, n * sizeof *g_heap.addr) && area_get(&a_info, n * sizeof *g_heap.info) &&
                    area_get(&a_state, n) && area_get(&a_work, 2 * n * sizeof *g_heap.work)))) {
        g_heap.addr = a_addr.p;
        g_heap.info = a_info.p;
        g_heap.state = a_state.p;
        g_heap.work = a_work.p;
        g_heap.work_cap = 2 * n;
        g_heap.nwork = 0;
        size_t got = 0;
        memprof_live_foreach_packed(copy_block, &got);
        g_heap.n = got;
        if (sort_blocks() == 0 && build_pages() == 0) {
            g_heap.min = g_heap.n ? g_heap.addr[0] : 0;
            g_heap.max = 0;
            for (size_t i = 0; i < g_heap.n; i++) {
                uintptr_t end =
                    g_heap.addr[i] + (memprof_live_size(g_heap.info[i]) ? memprof_live_size(g_heap.info[i]) : 1);
                if (end > g_heap.max)
                    g_heap.max = end;
            }
            /* memprof's own memory is not a root: the live table lists every block. */
            add_own_ranges((uintptr_t)a_addr.p, (uintptr_t)a_addr.p + a_addr.size, &own);
            add_own_ranges((uintptr_t)a_info.p, (uintptr_t)a_info.p + a_info.size, &own);
            add_own_ranges((uintptr_t)a_state.p, (uintptr_t)a_state.p + a_state.size, &own);
            add_own_ranges((uintptr_t)a_work.p, (uintptr_t)a_work.p + a_work.size, &own);
            add_own_ranges((uintptr_t)g_pages.mem.p, (uintptr_t)g_pages.mem.p + g_pages.mem.size, &own);
            memprof_live_ranges(add_own_ranges, &own);
            /* glibc's large blocks are mappings of their own: the block is not a root. */
            for (size_t i = 0; i < g_heap.n; i++) {
                uintptr_t a = g_heap.addr[i];
                uint64_t header = *(const uint64_t *)(a - 8);
                if (header & 2)
                    add_own_ranges(a - 16, a - 16 + (header & ~(uint64_t)7), &own);
            }
            memprof_writer_ranges(add_own_ranges, &own);
            memprof_stack_ranges(add_own_ranges, &own);
            memprof_aggregate_ranges(add_own_ranges, &own);
            memprof_own_heap_ranges(add_own_ranges, &own);
            add_own_ranges((uintptr_t)g_stw, (uintptr_t)g_stw + MAX_STOPPED * sizeof *g_stw, &own);
            /* glibc keeps the stacks of exited threads mapped for reuse, with the stale
             * pointers of their last frames: not roots, unless a live thread runs there
             * now (memcheck, too, counts a dead thread's stack as inaccessible). */
            struct dead_ctx dead = {&own, caller_sp};
            memprof_dead_thread_stacks(skip_dead_stack, &dead);
            ranges_sort(&own);

            /* Ignored blocks are roots. */
            for (size_t i = 0; i < g_heap.n; i++)
                if (memprof_live_ignored(g_heap.info[i])) {
                    g_heap.state[i] = REACHABLE;
                    push(i);
                }
            /* Registers, then stacks and everything else writable. */
            for (int i = 0; i < nregs; i++)
                mark(caller_regs[i], 1);
            struct memprof_mapping a_stacks = {0};
            struct range *stacks = area_get(&a_stacks, (MAX_STOPPED + 1) * sizeof *stacks);
            int nstacks = 0;
            if (!stacks)
                goto out;
            stacks[nstacks++] = (struct range){caller_sp, 0};
            int count = atomic_load(&g_stw_count);
            for (int i = 0; i < count; i++) {
                if (atomic_load(&g_stw[i].state) != STW_STOPPED)
                    continue;
                for (int r = 0; r < NGREGS_SAVED; r++)
                    mark(g_stw[i].regs[r], 1);
                /* The 128-byte red zone below the stack pointer may hold live data. */
                stacks[nstacks++] = (struct range){g_stw[i].sp - 128, 0};
            }
            struct root_ctx ctx = {&own, stacks, nstacks};
            scan_mappings(&ctx);
            area_put(&a_stacks);
            drain_marks();
            classify_lost();
            out->n = g_heap.n;
            out->addr = g_heap.addr;
            out->info = g_heap.info;
            out->kind = g_heap.state;
            for (size_t i = 0; i < g_heap.n; i++) {
                uint8_t s = g_heap.state[i];
                g_heap.state[i] = s == REACHABLE  ? MEMPROF_LEAK_REACHABLE
                                  : s == POSSIBLE ? MEMPROF_LEAK_POSSIBLE
                                  : s == INDIRECT ? MEMPROF_LEAK_INDIRECT
                                                  : MEMPROF_LEAK_DEFINITE;
            }
            out->mem[0] = a_addr;
            out->mem[1] = a_info;
            out->mem[2] = a_state;
            a_addr.p = a_info.p = a_state.p = NULL;
            rc = 0;
        }
    }
out:
    area_put(&a_addr);
    area_put(&a_info);
    area_put(&a_state);
    area_put(&a_work);
    area_put(&g_pages.mem);
    g_pages.slots = NULL;
    area_put(&own.mem);
    resume_world(&old);
    return rc;
}

void memprof_leaks_release(struct memprof_leak_result *r) {
    for (int i = 0; i < 3; i++)
        if (r->mem[i].p)
            memprof_unmap(r->mem[i].p, r->mem[i].size, MEMPROF_MAP_SCRATCH);
    memset(r, 0, sizeof *r);
}

void memprof_leaks_wait(void) {
    while (atomic_load_explicit(&g_state, memory_order_acquire) == MEMPROF_STATE_SCANNING)
        syscall(SYS_futex, &g_state, FUTEX_WAIT_PRIVATE, MEMPROF_STATE_SCANNING, NULL, NULL, 0);
}

void memprof_leaks_end_scan(int next) {
    atomic_store(&g_state, next);
    syscall(SYS_futex, &g_state, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}
