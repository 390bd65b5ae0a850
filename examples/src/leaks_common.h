/*
 * Helpers shared by the leaks_*.c programs, the inputs of the leak-classification
 * oracle (Tests/IntegrationTests/LeakOracleTests.swift).
 *
 * A conservative scanner (memcheck's, LeakSanitizer's, memprof's) treats any word that
 * looks like a pointer as one. A stale copy of a pointer in a dead stack slot or a
 * register turns an intended "definitely lost" block into a "still reachable" one, and
 * the scanners do not agree on which slots are dead. So the programs keep their pointers
 * out of main: every allocation happens in a noinline helper that returns nothing,
 * pointers leave those helpers only through globals, heap blocks or leaks_escape, and
 * main scrubs the stack below itself (leaks_scrub_stack) before it exits.
 */
#ifndef LEAKS_COMMON_H
#define LEAKS_COMMON_H

#include <stdlib.h>
#include <string.h>

/* Makes the compiler believe `p` is used and the memory behind it read: no allocation,
 * store or pointer is optimized away. */
static inline void leaks_escape(void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

/* Zeroes the `size` bytes at `p`, fresh from malloc, so old heap contents hold no
 * stale pointers. Aborts when out of memory: these programs have small, fixed needs. */
__attribute__((noinline)) static void *leaks_zeroed(void *p, size_t size) {
    if (p == NULL && size != 0)
        abort();
    if (p != NULL)
        memset(p, 0, size);
    leaks_escape(p);
    return p;
}

/* malloc(size), zeroed. A macro so that malloc's caller, the allocation site memprof
 * reports, is the function that uses the block rather than a shared helper. */
#define leaks_alloc(size) leaks_zeroed(malloc(size), (size))

/* Bytes of stack zeroed by leaks_scrub_stack: deeper than any helper here plus an
 * allocator hook (unwinder included) has gone, and deeper than what exit runs. */
#define LEAKS_SCRUB_BYTES (256 * 1024)

/* Zeroes the caller-saved registers. Nothing else need overwrite them before the
 * scan: a thread that blocks in pause() still holds in r8 what malloc left there. */
static inline void leaks_scrub_registers(void) {
#if defined(__x86_64__)
    __asm__ volatile("xor %%eax, %%eax\n\txor %%ecx, %%ecx\n\txor %%edx, %%edx\n\t"
                     "xor %%esi, %%esi\n\txor %%edi, %%edi\n\txor %%r8d, %%r8d\n\t"
                     "xor %%r9d, %%r9d\n\txor %%r10d, %%r10d\n\txor %%r11d, %%r11d"
                     :
                     :
                     : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
#elif defined(__aarch64__)
    __asm__ volatile("mov x0, xzr\n\tmov x1, xzr\n\tmov x2, xzr\n\tmov x3, xzr\n\t"
                     "mov x4, xzr\n\tmov x5, xzr\n\tmov x6, xzr\n\tmov x7, xzr\n\t"
                     "mov x8, xzr\n\tmov x9, xzr\n\tmov x10, xzr\n\tmov x11, xzr\n\t"
                     "mov x12, xzr\n\tmov x13, xzr\n\tmov x14, xzr\n\tmov x15, xzr\n\t"
                     "mov x16, xzr\n\tmov x17, xzr"
                     :
                     :
                     : "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
                       "x15", "x16", "x17", "memory");
#endif
}

/* Zeroes LEAKS_SCRUB_BYTES of stack below the caller's frame, where the helpers that
 * held pointers ran, and then the caller-saved registers. Callee-saved registers hold
 * the caller's values again when this returns: the caller must hold no pointers. */
__attribute__((noinline)) static void leaks_scrub_stack(void) {
    volatile char buffer[LEAKS_SCRUB_BYTES];
    for (size_t i = 0; i < sizeof buffer; i++)
        buffer[i] = 0;
    leaks_scrub_registers();
}

#endif
