/*
 * memprof preload — Poisson sampling by bytes (MEMPROF_MODE=sample).
 *
 * Sample points fall on the stream of allocated bytes as a Poisson process with mean
 * interval R (MEMPROF_SAMPLE_INTERVAL, default 512 KiB, as jemalloc): each thread
 * counts down the bytes to its next point, drawn from an exponential distribution.
 * An allocation of s bytes is then sampled with probability 1 - exp(-s/R), whatever
 * happened before (the process is memoryless), so a sampled block stands for
 * 1 / (1 - exp(-s/R)) blocks like it — the weight readers scale by.
 *
 * Frees: only sampled blocks are in the live table. A filter over addresses
 * (memprof_internal.h) says "certainly not sampled" with one load for most frees, so
 * they cost nearly nothing; a positive answer is checked in the table.
 *
 * log and exp are computed here (a few ulps are plenty for sampling) so that the
 * preload does not need libm.
 */
#include "memprof_internal.h"

int g_mode = MEMPROF_MODE_FULL;
uint64_t g_sample_interval = 512 * 1024;

uint64_t g_sample_seed;

/* The lock and the counts are written by every thread's samples: each on lines of its
 * own, so that g_mode and the other read-mostly words next to them stay in every core's
 * cache. */
_Alignas(64) _Atomic uint64_t g_filter_bits[(1u << MEMPROF_FILTER_BITS) / 64];
static _Alignas(64) uint8_t g_filter_count[1u << MEMPROF_FILTER_BITS]; /* under g_filter_lock */
static _Alignas(64) atomic_flag g_filter_lock = ATOMIC_FLAG_INIT;

/* Taken only with t_guard set, so a signal handler's calls on this thread pass through
 * and never wait for it; held across fork like every memprof lock. */
void memprof_filter_lock(void) {
    while (atomic_flag_test_and_set_explicit(&g_filter_lock, memory_order_acquire))
        __builtin_ia32_pause();
}

void memprof_filter_unlock(void) { atomic_flag_clear_explicit(&g_filter_lock, memory_order_release); }

/* Sets `count` in p's slot: the bit is set while the count is non-zero. A count of 255
 * saturates: the slot stays "maybe" for good, which is only slower. */
static void filter_update(uintptr_t p, int delta) {
    uint32_t i = memprof_filter_index(p);
    uint64_t bit = 1ull << (i & 63);
    memprof_filter_lock();
    uint8_t c = g_filter_count[i];
    if (delta == 0)
        c = 255;
    else if (c < 255 && (delta > 0 || c > 0))
        c = (uint8_t)(c + delta);
    g_filter_count[i] = c;
    if (c)
        atomic_fetch_or_explicit(&g_filter_bits[i >> 6], bit, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&g_filter_bits[i >> 6], ~bit, memory_order_relaxed);
    memprof_filter_unlock();
}

void memprof_filter_add(uintptr_t p) { filter_update(p, 1); }

void memprof_filter_remove(uintptr_t p) { filter_update(p, -1); }

void memprof_filter_pin(uintptr_t p) { filter_update(p, 0); }

/* Natural log for x > 0: exponent plus the atanh series of the mantissa (|t| <= 1/3). */
static double fast_log(double x) {
    union {
        double d;
        uint64_t u;
    } v = {x};
    int e = (int)((v.u >> 52) & 0x7ff) - 1023;
    v.u = (v.u & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    double t = (v.d - 1) / (v.d + 1), t2 = t * t;
    double log_m = 2 * t * (1 + t2 * (1.0 / 3 + t2 * (1.0 / 5 + t2 * (1.0 / 7 + t2 * (1.0 / 9 + t2 / 11)))));
    return log_m + e * 0.6931471805599453;
}

/* exp(-x) for x >= 0: 2^-k times a short series for the fractional part. */
static double fast_exp_neg(double x) {
    if (x > 700)
        return 0;
    double y = x * 1.4426950408889634;
    int k = (int)y;
    double z = -(y - k) * 0.6931471805599453;
    double p = 1 + z * (1 + z * (0.5 + z * (1.0 / 6 + z * (1.0 / 24 + z * (1.0 / 120 + z * (1.0 / 720 + z / 5040))))));
    union {
        double d;
        uint64_t u;
    } v = {p};
    v.u -= (uint64_t)k << 52;
    return v.d;
}

static uint64_t next_random(struct memprof_thread *t) {
    if (!t->rng) {
        uint64_t base = g_sample_seed ? g_sample_seed : ((uint64_t)(uintptr_t)t ^ memprof_now_ns());
        t->rng = (base + (uint64_t)(t->index + 1) * 0x9E3779B97F4A7C15ull) ^ 0x2545F4914F6CDD1Dull;
        if (!t->rng)
            t->rng = 1; /* xorshift's one fixed point */
    }
    t->rng ^= t->rng >> 12;
    t->rng ^= t->rng << 25;
    t->rng ^= t->rng >> 27;
    return t->rng * 0x2545F4914F6CDD1Dull;
}

int64_t memprof_next_sample_gap(struct memprof_thread *t) {
    double u = (double)((next_random(t) >> 11) + 1) * (1.0 / 9007199254740992.0); /* (0, 1] */
    double gap = -fast_log(u) * (double)g_sample_interval;
    return gap < 1 ? 1 : (int64_t)gap;
}

uint64_t memprof_sample_weighted_bytes(uint64_t size) {
    if (size == 0)
        return 0;
    double p = 1 - fast_exp_neg((double)size / (double)g_sample_interval);
    return (uint64_t)((double)size / p);
}
