/*
 * memprof_dwarf — a small C surface over elfutils libdw (the Dwfl API) that
 * turns a module-relative address into frames: function name, source
 * file:line and the chain of inlined calls, the way `eu-addr2line -i -f` does.
 * Sources/MemprofSymbolize/DwarfModule.swift is its only caller.
 *
 * Model: one handle per ELF file. The file is reported to its own Dwfl session
 * at load bias 0, so addresses passed in are module-relative (runtime address
 * minus the module's load bias, i.e. `dlpi_addr`). One open file therefore
 * serves every module-map generation that maps it, at whatever bias. For a
 * non-PIE executable (ET_EXEC) the bias is 0 and runtime addresses are already
 * module-relative. A handle keeps the file mapped plus lookup indexes (code
 * symbols, and per compilation unit touched, its functions), built lazily on
 * first need; it also finds code whose units are missing from .debug_aranges
 * (everything clang and swiftc build), which libdwfl 0.188 alone does not.
 *
 * Separate debug info is found as dwfl_standard_find_debuginfo finds it: by
 * build-id, then by .gnu_debuglink, in the debug-info path (by default
 * ":.debug:/usr/lib/debug"); then, only when DEBUGINFOD_URLS names a server,
 * from debuginfod (libdebuginfod is loaded then, and never otherwise).
 *
 * Cost: opening reads headers only. The first lookup reads the symbol table;
 * the first lookup that needs lines opens the DWARF, inflating compressed
 * debug sections (a second thread inflates .debug_info meanwhile) and skipping
 * the sections lookups never read (locations, macros, call frames, name
 * indexes). A distribution's libc debug file costs about 10 MB and 50 ms then.
 *
 * Thread safety: a handle is not thread-safe (libdw caches lazily inside it);
 * use one handle from one thread at a time. Distinct handles may be used
 * concurrently. No function here keeps global state apart from libdw's
 * per-thread last-error code (see memprof_dwarf_errmsg); the helper thread a
 * lookup may start is joined before the lookup returns.
 * Reentrancy: not async-signal-safe (everything allocates).
 */
#ifndef MEMPROF_DWARF_H
#define MEMPROF_DWARF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes. Non-negative values are successes. */
enum memprof_dwarf_status {
    MEMPROF_DWARF_OK = 0,
    /* A required pointer argument was NULL. */
    MEMPROF_DWARF_ERR_ARGUMENT = -1,
    /* The file could not be opened; errno holds open(2)'s reason. */
    MEMPROF_DWARF_ERR_OPEN = -2,
    /* The file is not an ELF file libdw can use; see memprof_dwarf_errmsg(). */
    MEMPROF_DWARF_ERR_ELF = -3,
    /* The file's build-id differs from the expected one (the library was
     * rebuilt or upgraded since the recording) and no debug file with the
     * expected build-id exists in the debug-info path. */
    MEMPROF_DWARF_ERR_BUILD_ID = -4,
    /* Out of memory. */
    MEMPROF_DWARF_ERR_NOMEM = -5,
};

/* An open ELF file with its (possibly separate) debug info. Opaque. */
typedef struct memprof_dwarf_module memprof_dwarf_module;

/* One frame of a lookup. Strings are owned by the handle and stay valid until
 * memprof_dwarf_close; copy them to keep them longer. */
typedef struct memprof_dwarf_frame {
    /* The raw (usually mangled) name: the DWARF linkage name, else the DWARF
     * name, else the ELF symbol covering the address. NULL when unknown. */
    const char *function;
    /* Source file, as recorded in the line table (usually absolute). NULL
     * when there is no line information. */
    const char *file;
    /* 1-based source line; 0 when unknown. */
    uint32_t line;
    /* Non-zero when this frame was inlined into the frame after it. */
    uint32_t is_inlined;
} memprof_dwarf_frame;

/*
 * Opens the ELF file at `path` for lookups.
 *
 * `build_id` / `build_id_size`: the GNU build-id the recording saw, or
 * NULL / 0 to accept whatever file is at `path`. When the file at `path` is
 * missing or has another build-id, the debug file
 * `<dir>/.build-id/xx/yyyy….debug` of each absolute directory of the
 * debug-info path is tried instead (it carries the symbol table and DWARF),
 * so stale or absent binaries never yield wrong names.
 *
 * `debuginfo_path`: colon-separated directories in libdwfl's syntax (see
 * dwfl_standard_find_debuginfo), or NULL for ":.debug:/usr/lib/debug".
 * The string is copied.
 *
 * On success stores a new handle in `*out_module` (the caller owns it and
 * frees it with memprof_dwarf_close) and returns MEMPROF_DWARF_OK; on failure
 * stores NULL and returns a negative memprof_dwarf_status.
 */
int memprof_dwarf_open(const char *path, const uint8_t *build_id, size_t build_id_size, const char *debuginfo_path,
                       memprof_dwarf_module **out_module);

/*
 * Looks up the module-relative `address` (already adjusted by the caller:
 * for a return address pass `address - 1`, so the call instruction, not the
 * next statement, is described).
 *
 * Writes up to `capacity` frames to `frames`, innermost first: the inlined
 * frames (is_inlined != 0), each with the source position inside the inlined
 * function, then the physical function whose position is the call site of
 * the outermost inline. Returns the total number of frames, which may exceed
 * `capacity` (then only the first `capacity` were written: call again with a
 * larger buffer); 0 when nothing at all is known about the address (no
 * symbol, no line); MEMPROF_DWARF_ERR_ARGUMENT when `module` is NULL or
 * `frames` is NULL with a non-zero capacity.
 */
int memprof_dwarf_lookup(memprof_dwarf_module *module, uint64_t address, memprof_dwarf_frame *frames, size_t capacity);

/* Closes a handle and frees everything it owns, including strings returned by
 * lookups. NULL is accepted and ignored. */
void memprof_dwarf_close(memprof_dwarf_module *module);

/* libdw's message for the last libdw error on the calling thread, for
 * MEMPROF_DWARF_ERR_ELF. A static string; never NULL. */
const char *memprof_dwarf_errmsg(void);

#ifdef __cplusplus
}
#endif

#endif /* MEMPROF_DWARF_H */
