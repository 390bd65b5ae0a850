/*
 * memprof_jemalloc — jemalloc's mallctl(3), looked up at run time, and glibc's
 * mallinfo2(3): what the process's allocator says about itself.
 * Sources/MemprofKit/Allocators.swift is the only caller.
 *
 * jemalloc is never linked: mallctl is found with dlsym(RTLD_DEFAULT, …), first
 * as "mallctl" (Debian's libjemalloc2 and other unprefixed builds, preloaded
 * with LD_PRELOAD=libjemalloc.so.2 or linked with -ljemalloc), then as
 * "je_mallctl" (builds configured with --with-jemalloc-prefix=je_). So one
 * binary works whether or not the process uses jemalloc, and says so. A
 * jemalloc linked statically into an executable is found only when the
 * executable exports its symbols (-rdynamic).
 *
 * Return codes: every function taking a ctl name returns 0 on success, the
 * errno-style code mallctl returned (ENOENT unknown name or arena, EINVAL
 * wrong value size or refused value, EPERM read-only or void ctl, EAGAIN out
 * of memory, EFAULT a side effect failed), or MEMPROF_JEMALLOC_NOT_LOADED
 * when the process has no mallctl.
 *
 * Thread safety: everything may be called from any thread at any time
 * (mallctl is thread-safe; the looked-up pointer is an atomic). Reentrancy:
 * not async-signal-safe (dlsym and mallctl may take locks and allocate).
 * Ownership: names are borrowed for the call; values are caller-owned.
 */
#ifndef MEMPROF_JEMALLOC_H
#define MEMPROF_JEMALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Returned instead of an errno code when the process has no mallctl. */
#define MEMPROF_JEMALLOC_NOT_LOADED (-1)

/* jemalloc 5's MALLCTL_ARENAS_ALL: "arena.4096.purge" purges every arena,
 * "stats.arenas.4096.*" sums every arena. */
#define MEMPROF_JEMALLOC_ARENAS_ALL 4096u

/* Non-zero when mallctl was found in the process. The look-up is repeated
 * until it succeeds, so a jemalloc loaded later is seen. */
int memprof_jemalloc_available(void);

/* Reads the ctl `name` into `value`, which must be exactly `size` bytes: the
 * size of the ctl's C type (size_t, uint64_t, bool, unsigned, ssize_t…);
 * mallctl answers EINVAL to any other size. */
int memprof_jemalloc_read(const char *name, void *value, size_t size);

/* Writes the `size` bytes at `value` to the ctl `name`. */
int memprof_jemalloc_write(const char *name, const void *value, size_t size);

/* Calls a ctl that takes and returns nothing, such as "arena.<i>.purge" or
 * "thread.tcache.flush". */
int memprof_jemalloc_call(const char *name);

/* Typed forms of memprof_jemalloc_read and memprof_jemalloc_write. */
static inline int memprof_jemalloc_read_size(const char *name, size_t *value) {
    return memprof_jemalloc_read(name, value, sizeof *value);
}
static inline int memprof_jemalloc_read_u64(const char *name, uint64_t *value) {
    return memprof_jemalloc_read(name, value, sizeof *value);
}
static inline int memprof_jemalloc_read_bool(const char *name, bool *value) {
    return memprof_jemalloc_read(name, value, sizeof *value);
}
static inline int memprof_jemalloc_read_unsigned(const char *name, unsigned *value) {
    return memprof_jemalloc_read(name, value, sizeof *value);
}
static inline int memprof_jemalloc_write_size(const char *name, size_t value) {
    return memprof_jemalloc_write(name, &value, sizeof value);
}
static inline int memprof_jemalloc_write_u64(const char *name, uint64_t value) {
    return memprof_jemalloc_write(name, &value, sizeof value);
}
static inline int memprof_jemalloc_write_bool(const char *name, bool value) {
    return memprof_jemalloc_write(name, &value, sizeof value);
}
static inline int memprof_jemalloc_write_unsigned(const char *name, unsigned value) {
    return memprof_jemalloc_write(name, &value, sizeof value);
}

/*
 * Non-zero when jemalloc serves this process's malloc, not only some library's
 * prefixed allocations: mallocs a block through the process's malloc (through
 * any interposer in front, such as memprof's preload) and checks that jemalloc's
 * "thread.allocated" counter moved by its size. Needs a jemalloc built with
 * statistics (Debian's is). Costs one malloc/free and two mallctl calls.
 */
int memprof_jemalloc_serves_malloc(void);

/* glibc's malloc figures (mallinfo2, glibc 2.33+): bytes in use in chunks from
 * the arenas (uordblks) and in chunks mmapped on their own (hblkhd). */
typedef struct memprof_glibc_heap {
    size_t arena_in_use;
    size_t mmapped_in_use;
} memprof_glibc_heap;

/* Fills `*out` from mallinfo2 and returns 0; returns ENOSYS without glibc
 * (mallinfo2 is looked up at run time, so an older glibc gives ENOSYS too).
 * mallinfo2 walks every arena under its lock: milliseconds with many threads. */
int memprof_glibc_heap_read(memprof_glibc_heap *out);

/* Non-zero when glibc's allocator serves this process's malloc: mallinfo2's
 * in-use figure moves by a malloc'd block's size (it does not when jemalloc,
 * tcmalloc or mimalloc replaced malloc, since mallinfo2 then still describes
 * glibc's unused arenas). */
int memprof_glibc_serves_malloc(void);

#ifdef __cplusplus
}
#endif

#endif /* MEMPROF_JEMALLOC_H */
