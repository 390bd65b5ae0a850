/*
 * memprof — a loaded module's GNU build-id, read from its PT_NOTE segments in
 * memory, a segment's permissions, and the segment holding an address. Shared by the interposer (MODULE records) and
 * MemprofKit's client (the in-process module map); nothing here allocates.
 */
#ifndef MEMPROF_BUILD_ID_H
#define MEMPROF_BUILD_ID_H

#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <string.h>

/* A PT_LOAD segment's permissions as the trace and the client write them: 1 readable,
 * 2 writable, 4 executable. */
static inline uint8_t memprof_segment_flags(const ElfW(Phdr) *ph) {
    return (uint8_t)(((ph->p_flags & PF_R) ? 1 : 0) | ((ph->p_flags & PF_W) ? 2 : 0) | ((ph->p_flags & PF_X) ? 4 : 0));
}

/* The loaded (PT_LOAD) segment of the module described as `info` that holds address
 * `a`, or NULL. */
static inline const ElfW(Phdr) *memprof_segment_holding(const struct dl_phdr_info *info, uintptr_t a) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && a >= start && a < start + ph->p_memsz)
            return ph;
    }
    return NULL;
}

/* The build-id of the module dl_iterate_phdr described as `info`, and its length in
 * *len; NULL (and 0) when it has none. */
static inline const uint8_t *memprof_find_build_id(const struct dl_phdr_info *info, size_t *len) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const uint8_t *name = p + sizeof *nh;
            const uint8_t *desc = name + ((nh->n_namesz + 3) & ~3u);
            const uint8_t *next = desc + ((nh->n_descsz + 3) & ~3u);
            if (next > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                *len = nh->n_descsz;
                return desc;
            }
            p = next;
        }
    }
    *len = 0;
    return NULL;
}

#endif
