/*
 * memprof trace format — the one definition shared by the writer (the preload,
 * CShims/Preload) and the reader (Sources/MemprofTrace). docs/trace-format.md
 * describes the same layout in prose; change both in the same commit and bump
 * MEMPROF_FORMAT_VERSION_MAJOR when a reader of the old version could not read
 * the new files.
 *
 * Everything is little-endian. A file is a fixed header followed by blocks.
 * Each block is self-contained (its own compression frame and checksum), so a
 * file cut short by SIGKILL or an OOM kill is readable up to its last complete
 * block.
 *
 * Thread safety: everything here is pure functions over caller-owned memory.
 */
#ifndef MEMPROF_FORMAT_H
#define MEMPROF_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* 2: thread tail blocks (MEMPROF_BLOCK_THREAD_TAIL), which a version 1 reader
 * rejects. Version 1 files are version 2 files without them. */
#define MEMPROF_FORMAT_VERSION_MAJOR 2
/* Minor 1: aggregate mode's AGGREGATE, SNAPSHOT and SITE records. */
#define MEMPROF_FORMAT_VERSION_MINOR 1
/* The oldest major version a reader of this one still reads. */
#define MEMPROF_FORMAT_OLDEST_MAJOR 1

/* File header: 32 bytes. */
#define MEMPROF_FILE_MAGIC "MEMPROF\x1a"
#define MEMPROF_FILE_MAGIC_SIZE 8
#define MEMPROF_FILE_HEADER_SIZE 32
/* Offsets inside the file header. */
#define MEMPROF_FH_VERSION_MAJOR 8  /* u16 */
#define MEMPROF_FH_VERSION_MINOR 10 /* u16 */
#define MEMPROF_FH_HEADER_SIZE 12   /* u32, = MEMPROF_FILE_HEADER_SIZE */
#define MEMPROF_FH_FLAGS 16         /* u64, 0 for now */
/* bytes 24..31: reserved, zero */

/* Block header: 24 bytes, followed by `stored_size` bytes of payload. */
#define MEMPROF_BLOCK_MAGIC 0x4B42504Du /* "MPBK" read as a little-endian u32 */
#define MEMPROF_BLOCK_HEADER_SIZE 24
#define MEMPROF_BH_MAGIC 0       /* u32 */
#define MEMPROF_BH_KIND 4        /* u8, enum memprof_block_kind */
#define MEMPROF_BH_CODEC 5       /* u8, enum memprof_codec */
#define MEMPROF_BH_RESERVED 6    /* u16, zero */
#define MEMPROF_BH_STORED_SIZE 8 /* u32 */
#define MEMPROF_BH_RAW_SIZE 12   /* u32, size after decompression */
#define MEMPROF_BH_THREAD 16     /* u32, thread index for THREAD blocks, else 0 */
#define MEMPROF_BH_CHECKSUM 20   /* u32, CRC-32 (IEEE) of the stored payload */

/* A block's raw payload never exceeds this; readers reject larger claims. */
#define MEMPROF_MAX_RAW_BLOCK_SIZE 0x1000000u /* 16 MiB; a plain literal so Swift imports it */

enum memprof_block_kind {
    /* Events of one thread, in the order that thread made them. */
    MEMPROF_BLOCK_THREAD = 1,
    /* Process-wide records (info, ticks, thread starts, leaks, end). */
    MEMPROF_BLOCK_PROCESS = 2,
    /* A copy of the start of a thread's unfinished buffer, written periodically so
     * that a process killed outright leaves its recent events in the file. The
     * thread's next THREAD or THREAD_TAIL block supersedes it (that block starts
     * with the same records); one that nothing supersedes is the thread's last
     * events and is decoded like a THREAD block. */
    MEMPROF_BLOCK_THREAD_TAIL = 3,
};

enum memprof_codec {
    MEMPROF_CODEC_NONE = 0,
    MEMPROF_CODEC_ZSTD = 1,
};

/*
 * Records. Each is a one-byte tag followed by its fields; `v` is an unsigned
 * LEB128 varint, `s` a zigzag-encoded signed varint, `b` a varint length
 * followed by that many bytes, `u8` a byte.
 *
 * Thread blocks:
 *   ALLOC      v size, v stack_id
 *   FREE       v size, v stack_id            (of the block being freed)
 *   FREE_TEMP  v size, v stack_id            (freed block was this thread's
 *                                             latest allocation: temporary)
 *   FREE_UNKNOWN                             (free of a pointer memprof never
 *                                             saw allocated; still counted)
 *   STACK      v stack_id, v module_generation, v n, v frame0, s delta1..n-1
 *              (return addresses, innermost first; frame i = frame i-1 + delta)
 *   MODULE     v generation, v load_bias, b path, b build_id,
 *              v nsegments, nsegments x (v vaddr, v memsz, u8 flags)
 *              (vaddr is relative to load_bias; flags: 1=R 2=W 4=X)
 *   TIME       v nanoseconds since the process's start (monotonic clock)
 *   FREE_LAST                                (temporary free of the block made by
 *                                             the last ALLOC record of this same
 *                                             block: its size and stack)
 *   INHERITED  v size, v stack_id            (a block the process had when its
 *                                             trace began: a fork child's copy of
 *                                             its parent's heap; live, but not an
 *                                             allocation of this process)
 *
 * Process blocks:
 *   PROCESS    v pid, v ppid, v start_unix_ns, v page_size, b exe_path,
 *              v argc, argc x b argument, b memprof_version, u8 mode
 *   TICK       v ns, v heap_bytes, v heap_peak_bytes, v rss_bytes
 *   THREAD     v thread_index, v tid
 *   LEAK       v stack_id, v size, v address, u8 kind (enum memprof_leak_kind)
 *   END        v ns, v heap_peak_bytes, v thread_count, v flags (MEMPROF_END_*)
 *   SAMPLING   v mean_interval_bytes      (sample mode: each ALLOC is a sample
 *                                          point of a Poisson process over bytes)
 *   COUNTS     v allocations, v deallocations, v allocated_bytes
 *                                         (sample mode: exact totals so far, about
 *                                          twice a second and before END; the last
 *                                          one holds)
 *   JEMALLOC   v ns, v allocated, v active, v metadata, v resident, v mapped,
 *              v retained                 (jemalloc serves malloc behind memprof,
 *                                          `memprof run --jemalloc`: its own stats,
 *                                          every second and at the end)
 *   AGGREGATE  v snapshot_interval_ns     (aggregate mode, right after PROCESS: no
 *                                          ALLOC/FREE records; per-stack counters
 *                                          arrive in snapshots)
 *   SNAPSHOT   v ns, u8 reason (enum memprof_snapshot_reason), v memprof_bytes,
 *              v site_count               (aggregate mode: the SITE records that
 *                                          follow in this block and the next ones
 *                                          are this snapshot's; memprof_bytes is the
 *                                          memory the preload mapped for itself)
 *   SITE       v stack_id, v allocations, v frees, v allocated_bytes,
 *              v freed_bytes, v temporaries, v peak_live_bytes
 *                                         (one stack's counts since its previous
 *                                          SITE record, for the stacks that changed;
 *                                          peak_live_bytes is absolute: the most
 *                                          bytes the stack held live at once so far)
 */
enum memprof_tag {
    MEMPROF_TAG_ALLOC = 0x01,
    MEMPROF_TAG_FREE = 0x02,
    MEMPROF_TAG_FREE_TEMP = 0x03,
    MEMPROF_TAG_FREE_UNKNOWN = 0x04,
    MEMPROF_TAG_STACK = 0x05,
    MEMPROF_TAG_MODULE = 0x06,
    MEMPROF_TAG_TIME = 0x07,
    MEMPROF_TAG_FREE_LAST = 0x08,
    MEMPROF_TAG_INHERITED = 0x09,

    MEMPROF_TAG_PROCESS = 0x20,
    MEMPROF_TAG_TICK = 0x21,
    MEMPROF_TAG_THREAD = 0x22,
    MEMPROF_TAG_LEAK = 0x23,
    MEMPROF_TAG_END = 0x24,
    MEMPROF_TAG_SAMPLING = 0x25,
    MEMPROF_TAG_COUNTS = 0x26,
    MEMPROF_TAG_JEMALLOC = 0x27,
    MEMPROF_TAG_AGGREGATE = 0x28,
    MEMPROF_TAG_SNAPSHOT = 0x29,
    MEMPROF_TAG_SITE = 0x2A,
};

/* Why a snapshot was written. */
enum memprof_snapshot_reason {
    MEMPROF_SNAPSHOT_PERIODIC = 0, /* every snapshot interval */
    MEMPROF_SNAPSHOT_SIGNAL = 1,   /* the snapshot signal (SIGUSR2 by default) */
    MEMPROF_SNAPSHOT_API = 2,      /* the in-process API asked */
    MEMPROF_SNAPSHOT_END = 3,      /* the trace ends */
};

enum memprof_leak_kind {
    MEMPROF_LEAK_UNFREED = 0, /* not freed at exit, not classified */
    MEMPROF_LEAK_DEFINITE = 1,
    MEMPROF_LEAK_INDIRECT = 2,
    MEMPROF_LEAK_POSSIBLE = 3,
    MEMPROF_LEAK_REACHABLE = 4,
};

enum memprof_mode {
    MEMPROF_MODE_FULL = 0,
    MEMPROF_MODE_SAMPLE = 1,
    MEMPROF_MODE_AGGREGATE = 2,
};

/* END flags. */
#define MEMPROF_END_VIA_EXIT 1u  /* normal exit(): atexit / destructors ran */
#define MEMPROF_END_VIA__EXIT 2u /* the program called _exit / _Exit */
#define MEMPROF_END_STOPPED 4u   /* tracing stopped early after an internal failure */
#define MEMPROF_END_VIA_EXEC 8u  /* the program called exec*: its image was replaced */
/* A signal whose default action ends the process arrived (a crash, abort, SIGTERM):
 * the trace was finished from there, and the process then died of it. The signal's
 * number is in bits 8-15 of the flags. */
#define MEMPROF_END_VIA_SIGNAL 16u
#define MEMPROF_END_SIGNAL_SHIFT 8

/* Longest stack the preload records; deeper stacks keep their innermost frames. */
#define MEMPROF_MAX_FRAMES 128

/* --- varints --------------------------------------------------------------
 * Encoders write at most 10 bytes at `p` and return the byte after the last.
 * Decoders read from [p, end); they return the byte after the varint, or NULL
 * when the input ends first or the varint is longer than 10 bytes. */

static inline uint8_t *memprof_put_varint(uint8_t *p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint8_t *memprof_put_svarint(uint8_t *p, int64_t v) {
    return memprof_put_varint(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static inline const uint8_t *memprof_get_varint(const uint8_t *p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    unsigned shift = 0;
    while (p < end && shift < 70) {
        uint8_t byte = *p++;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return p;
        }
        shift += 7;
    }
    return NULL;
}

static inline int64_t memprof_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* --- CRC-32 (IEEE 802.3, reflected, as zlib) ------------------------------ */

static const uint32_t memprof_crc32_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu, 0xe963a535u, 0x9e6495a3u, 0x0edb8832u,
    0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u, 0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u, 0x136c9856u, 0x646ba8c0u, 0xfd62f97au,
    0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu, 0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u,
    0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u, 0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u, 0x2f6f7c87u, 0x58684c11u, 0xc1611dabu,
    0xb6662d3du, 0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du, 0x91646c97u, 0xe6635c01u, 0x6b6b51f4u,
    0x1c6c6162u, 0x856530d8u, 0xf262004eu, 0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u, 0x4db26158u, 0x3ab551ceu, 0xa3bc0074u,
    0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u, 0x5768b525u,
    0x206f85b3u, 0xb966d409u, 0xce61e49fu, 0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au, 0xead54739u, 0x9dd277afu, 0x04db2615u,
    0x73dc1683u, 0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u, 0xfed41b76u,
    0x89d32be0u, 0x10da7a5au, 0x67dd4accu, 0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu, 0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u,
    0x41047a60u, 0xdf60efc3u, 0xa867df55u, 0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u,
    0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du, 0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u, 0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u,
    0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u, 0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u, 0xa00ae278u,
    0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u, 0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u, 0xbdbdf21cu, 0xcabac28au, 0x53b39330u,
    0x24b4a3a6u, 0xbad03605u, 0xcdd70693u, 0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

static inline uint32_t memprof_crc32(uint32_t crc, const void *data, size_t len) {
    const uint8_t *p = (const uint8_t *)data;
    crc = ~crc;
    while (len--)
        crc = memprof_crc32_table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

#endif /* MEMPROF_FORMAT_H */
