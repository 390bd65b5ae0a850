/*
 * memprof_elf_symbols — which allocator functions an ELF file defines itself.
 *
 * A program that links an allocator statically (jemalloc, mimalloc, tcmalloc, or
 * Rust's jemallocator) either defines malloc and free in the executable, which then
 * come before any preload in symbol lookup, or calls prefixed functions (je_malloc,
 * mi_malloc, _rjem_mallocx …) that no preload sees. Either way the preload records
 * little or nothing; `memprof run` and `memprof report` name these symbols so that
 * the user learns why.
 *
 * Thread safety: reentrant (no global state besides libelf's per-thread error).
 * Not async-signal-safe.
 */
#ifndef MEMPROF_ELF_SYMBOLS_H
#define MEMPROF_ELF_SYMBOLS_H

#include <stddef.h>

/* Which symbol tables memprof_elf_allocator_symbols reads. .dynsym is small (what
 * the file exports: an executable that replaces malloc exports it); .symtab, when
 * not stripped, lists every function, prefixed allocators' too, and can take
 * milliseconds to read in a large program. */
enum { MEMPROF_ELF_DYNSYM = 1, MEMPROF_ELF_SYMTAB = 2 };

/* Finds the allocator functions the ELF file at `path` defines, in the symbol tables
 * `tables` names (MEMPROF_ELF_* bits): malloc, calloc, realloc, free, and the entry
 * points of allocators that use a prefix. Writes up to `capacity` distinct names (pointers to static strings)
 * into `names`, in a fixed order, and returns how many were found (which may exceed
 * capacity), 0 when none are, or -1 when the file cannot be opened or is not ELF.
 * Opens the file read-only, non-blocking, and only if it is a regular file. */
int memprof_elf_allocator_symbols(const char *path, int tables, const char **names, int capacity);

#endif
