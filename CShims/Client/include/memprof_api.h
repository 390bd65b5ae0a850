/*
 * memprof — the in-process API between the interposer and the Swift library
 * (MemprofKit).
 *
 * The interposer publishes one table of functions. Loaded by LD_PRELOAD
 * (libmemprof.so, `memprof run`) it exports the table as the data symbol
 * `memprof_api_v1`; linked into a program (the MemprofInterposer product) it
 * registers the table with memprof_client_register() from a constructor, since an
 * executable's symbols are not visible to dlsym. memprof_client_api() finds either.
 *
 * Every function may be called from any thread. None allocates through the
 * interposed functions except where noted; results live in mmap'd memory the caller
 * gives back with the matching release function.
 */
#ifndef MEMPROF_API_H
#define MEMPROF_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MEMPROF_API_VERSION 1

/* Results of the API's functions (0 or positive: success). */
enum memprof_api_status {
    MEMPROF_API_OK = 0,
    /* The interposer is loaded but does not record: tracing stopped after an internal
     * failure, the process is a fork child, or it is shutting down. */
    MEMPROF_API_NOT_RECORDING = -1,
    /* Sample mode: the interposer knows only sampled blocks. */
    MEMPROF_API_SAMPLE_MODE = -2,
    /* check_begin while a check is running. */
    MEMPROF_API_NESTED = -3,
    /* check_end without check_begin. */
    MEMPROF_API_NOT_STARTED = -4,
    /* check_end on another thread than check_begin. */
    MEMPROF_API_WRONG_THREAD = -5,
    /* The scan could not run: the allocator behind memprof is not glibc's, or memory
     * for the scan could not be mapped. */
    MEMPROF_API_SCAN_FAILED = -6,
    MEMPROF_API_NO_MEMORY = -7,
    /* write_snapshot: no trace file is written (linked without MEMPROF_OUTPUT). */
    MEMPROF_API_NO_TRACE_FILE = -8,
};

/* Allocation counts, under the counting rules of DESIGN.md. bytes_freed is the size
 * of the freed blocks memprof knows (every block in full mode). */
struct memprof_counts {
    uint64_t allocations, frees, bytes_allocated, bytes_freed;
};

/* One block allocated during a check and still live at its end. kind is a
 * MEMPROF_LEAK_* value (definite 1, indirect 2, possible 3, reachable 4); own is 1
 * for the checking thread's blocks (every thread's with all_threads), 0 for other
 * threads'. */
struct memprof_check_block {
    uint64_t address, size;
    uint32_t stack;
    uint8_t kind, own;
};

struct memprof_check_result {
    /* Every block allocated between check_begin and check_end and not freed. */
    uint64_t count;
    struct memprof_check_block *blocks;
    /* How many allocations other threads made in the window. */
    uint64_t other_allocations;
    void *memory;
    uint64_t memory_size;
};

/* Live blocks of one allocation stack. */
struct memprof_site_usage {
    uint32_t stack;
    uint64_t blocks, bytes;
};

struct memprof_site_list {
    uint64_t count;
    struct memprof_site_usage *sites;
    void *memory;
    uint64_t memory_size;
};

struct memprof_api_v1 {
    uint32_t version; /* MEMPROF_API_VERSION */
    uint32_t size;    /* sizeof(struct memprof_api_v1) of the interposer */
    /* "preload" (LD_PRELOAD) or "linked" (built into the program). */
    const char *flavor;
    /* MEMPROF_API_OK while recording every allocation, else why not. */
    int (*status)(void);
    /* The calling thread's counts, and the whole process's, since tracing began. */
    void (*thread_counts)(struct memprof_counts *out);
    void (*process_counts)(struct memprof_counts *out);
    /* Starts a leak check on the calling thread. With all_threads every thread's
     * allocations count as the check's own. */
    int (*check_begin)(int all_threads);
    /* Ends it: stops the other threads, scans the memory conservatively, resumes
     * them, and lists the check's blocks still live with their kinds. */
    int (*check_end)(struct memprof_check_result *out);
    void (*check_release)(struct memprof_check_result *result);
    /* Every live block, summed by allocation stack. */
    int (*live_sites)(struct memprof_site_list *out);
    void (*sites_release)(struct memprof_site_list *list);
    /* Return addresses of a stack, innermost first; returns how many (up to
     * capacity), 0 for an unknown id. */
    int (*stack_frames)(uint32_t stack, uint64_t *frames, int capacity);
    /* As memprof_ignore_object: 0, or -1 if p is not a live block. */
    int (*ignore_object)(const void *p);
    /* Writes a snapshot of the per-stack counters into the trace now (aggregate mode);
     * in full and sample modes, writes what the threads have recorded so far. Returns
     * once it is in the file. */
    int (*write_snapshot)(void);
};

/* The interposer's table: the one registered, else the one a preloaded libmemprof.so
 * exports; NULL when neither is in the process. */
const struct memprof_api_v1 *memprof_client_api(void);

/* Called by a linked interposer's constructor. */
void memprof_client_register(const struct memprof_api_v1 *api);

/* One loaded module, for symbolizing in-process stacks. */
struct memprof_client_module {
    const char *path; /* "" for the main program; valid until the callback returns */
    uint64_t load_bias;
    const uint8_t *build_id;
    uint32_t build_id_size;
    uint32_t segment_count;
    const uint64_t *segments; /* segment_count triples: vaddr, memsz, flags (1 r, 2 w, 4 x) */
};

/* Calls fn for every loaded module (dl_iterate_phdr). */
void memprof_client_modules(void (*fn)(const struct memprof_client_module *module, void *ctx), void *ctx);

/* Bytes of the calling thread's stack below the caller's frame; 0 if unknown. */
size_t memprof_client_stack_room(void);

/* Zeroes up to 64 KiB of the stack below the caller's frame, keeping 16 KiB of `room`
 * (memprof_client_stack_room, taken in the same frame) free (see memprof_client.c). */
void memprof_client_scrub_stack(size_t room);

#ifdef __cplusplus
}
#endif

#endif
