/* See memprof_elf_symbols.h. */
#include "memprof_elf_symbols.h"

#include <fcntl.h>
#include <gelf.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The names looked for, in the order they are reported: the standard four first
 * (defining them replaces the allocator), then the prefixed entry points of the
 * allocators people link statically. */
static const char *const k_names[] = {
    "malloc",       "calloc",        "realloc",   "free",      "je_malloc", "mallocx",
    "_rjem_malloc", "_rjem_mallocx", "mi_malloc", "tc_malloc", "rpmalloc",  "scalable_malloc",
};
enum { K_COUNT = sizeof k_names / sizeof k_names[0] };

/* The index of `name` in k_names, or -1. Every name ends in "alloc", "allocx" or is
 * "free": a cheap test rejects nearly every symbol before the comparisons. */
static int known_index(const char *name) {
    size_t len = strlen(name);
    int candidate = (len >= 5 && memcmp(name + len - 5, "alloc", 5) == 0) ||
                    (len >= 6 && memcmp(name + len - 6, "allocx", 6) == 0) || (len == 4 && name[0] == 'f');
    if (!candidate)
        return -1;
    for (int i = 0; i < K_COUNT; i++)
        if (strcmp(name, k_names[i]) == 0)
            return i;
    return -1;
}

static void scan_table(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr, int found[K_COUNT]) {
    Elf_Data *data = elf_getdata(scn, NULL);
    if (!data || shdr->sh_entsize == 0)
        return;
    size_t count = shdr->sh_size / shdr->sh_entsize;
    for (size_t i = 0; i < count; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(data, (int)i, &sym))
            break;
        int type = GELF_ST_TYPE(sym.st_info);
        if (sym.st_shndx == SHN_UNDEF || (type != STT_FUNC && type != STT_GNU_IFUNC))
            continue;
        const char *name = elf_strptr(elf, shdr->sh_link, sym.st_name);
        int k = name ? known_index(name) : -1;
        if (k >= 0)
            found[k] = 1;
    }
}

int memprof_elf_allocator_symbols(const char *path, int tables, const char **names, int capacity) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!elf || elf_kind(elf) != ELF_K_ELF) {
        if (elf)
            elf_end(elf);
        close(fd);
        return -1;
    }
    int found[K_COUNT] = {0};
    for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr shdr;
        if (gelf_getshdr(scn, &shdr) && ((shdr.sh_type == SHT_DYNSYM && (tables & MEMPROF_ELF_DYNSYM)) ||
                                         (shdr.sh_type == SHT_SYMTAB && (tables & MEMPROF_ELF_SYMTAB))))
            scan_table(elf, scn, &shdr, found);
    }
    elf_end(elf);
    close(fd);
    int n = 0;
    for (int i = 0; i < K_COUNT; i++) {
        if (!found[i])
            continue;
        if (n < capacity)
            names[n] = k_names[i];
        n++;
    }
    return n;
}
