/*
 * memprof_dwarf — see include/memprof_dwarf.h for the contract.
 *
 * What a lookup reports matches `eu-addr2line -i -f`: the innermost line from
 * the line table, then for each DW_TAG_inlined_subroutine containing the
 * address (innermost first) a frame whose position comes from the next
 * inline's DW_AT_call_file / DW_AT_call_line, and last the physical
 * subprogram.
 *
 * How differs, for speed and coverage. Profiles hold thousands of distinct
 * addresses, and libdw's per-address entry points are linear:
 * dwfl_module_addrinfo scans the whole symbol table and dwarf_getscopes walks
 * the whole compilation unit, twice with dwarf_getscopes_die (0.6-0.75 ms per
 * address on libc and a Swift test binary). So each handle builds, lazily:
 *   - a sorted index of the code symbols (built on the first lookup);
 *   - a table of CU address ranges, for CUs missing from .debug_aranges, which
 *     is every CU built by clang or swiftc: libdwfl 0.188 finds CUs through
 *     .debug_aranges only, so without it Swift code would get no lines;
 *   - per CU, a sorted index of its subprograms' address ranges (built on the
 *     first lookup that lands in that CU).
 * A lookup is then a few binary searches plus a walk down one function's
 * nested scopes. dwarf_getscopes remains the fallback when no subprogram DIE
 * covers an address.
 */
#define _GNU_SOURCE /* strchrnul */
#include "memprof_dwarf.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libdwfl's own default, spelled out so the handle always owns its path. */
static const char k_default_debuginfo_path[] = ":.debug:/usr/lib/debug";

/* Nested scopes (inlines and lexical blocks) followed below one function;
 * deeper chains are cut at the outermost MAX_SCOPE_DEPTH levels. Also bounds
 * the recursion of the subprogram index over nested namespaces and types. */
enum { MAX_SCOPE_DEPTH = 128 };

/* A code symbol: [low, high) in module-relative addresses; high == low for a
 * symbol without size. */
struct symbol {
    GElf_Addr low;
    GElf_Addr high;
    const char *name;
    int rank;     /* preference among symbols at one address: global > weak > local */
    size_t order; /* symbol table index: among equals the first one wins */
};

/* A sorted array of address ranges with a running maximum of their ends, so a
 * search can walk back over ranges that might still contain an address and
 * stop as soon as none can (ranges nest: aliases, nested functions). */
struct range {
    Dwarf_Addr low;
    Dwarf_Addr high; /* exclusive */
    Dwarf_Addr bias; /* CU ranges: module address minus DWARF address */
    Dwarf_Die die;   /* the CU or the subprogram */
    size_t order;    /* DIE order: among equal ranges (aliases) the first DIE wins */
};

struct range_index {
    struct range *ranges;
    Dwarf_Addr *max_high; /* max_high[i] = max(ranges[0...i].high) */
    size_t count;
    size_t capacity;
};

/* The subprogram index of one CU, found by the CU's DIE offset. */
struct cu_functions {
    Dwarf_Off cu_offset;
    struct range_index functions;
};

struct memprof_dwarf_module {
    Dwfl *dwfl;
    Dwfl_Module *mod;
    /* Dwfl keeps a pointer to the callbacks, which point at this string:
     * both live as long as the handle. */
    char *debuginfo_path;
    Dwfl_Callbacks callbacks;

    bool symbols_built;
    struct symbol *symbols; /* sorted by low, best rank last among equals */
    GElf_Addr *symbol_max_high;
    size_t symbol_count;

    bool cu_ranges_built;
    struct range_index cu_ranges;

    /* Open-addressing hash table keyed by CU offset; capacity a power of 2. */
    struct cu_functions *cus;
    size_t cu_count;
    size_t cu_capacity;
};

/* ---- Opening ------------------------------------------------------------ */

/* Starts a fresh session and reports `file` in it at bias 0. Any previous
 * session of `m` is ended first, so a rejected file leaves nothing behind. */
static int report_file(memprof_dwarf_module *m, const char *file) {
    if (m->dwfl != NULL) {
        dwfl_end(m->dwfl);
        m->dwfl = NULL;
        m->mod = NULL;
    }
    /* Probe with open(2) ourselves: libdw folds errno into its own codes, and
     * callers want "No such file or directory" for a deleted library. Then let
     * libdw open the file itself, so the descriptor's ownership stays simple. */
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return MEMPROF_DWARF_ERR_OPEN;
    close(fd);

    m->dwfl = dwfl_begin(&m->callbacks);
    if (m->dwfl == NULL)
        return MEMPROF_DWARF_ERR_NOMEM;
    dwfl_report_begin(m->dwfl);
    /* add_p_vaddr = true with base 0: an ET_DYN file sits at its own p_vaddr,
     * so module-relative addresses are the file's virtual addresses. */
    m->mod = dwfl_report_elf(m->dwfl, file, file, -1, 0, true);
    if (m->mod == NULL || dwfl_report_end(m->dwfl, NULL, NULL) != 0) {
        dwfl_end(m->dwfl);
        m->dwfl = NULL;
        m->mod = NULL;
        return MEMPROF_DWARF_ERR_ELF;
    }
    return MEMPROF_DWARF_OK;
}

/* Whether the reported file carries exactly the expected build-id. */
static bool build_id_matches(memprof_dwarf_module *m, const uint8_t *build_id, size_t size) {
    const unsigned char *bits = NULL;
    GElf_Addr vaddr = 0;
    int length = dwfl_module_build_id(m->mod, &bits, &vaddr);
    return length > 0 && (size_t)length == size && memcmp(bits, build_id, size) == 0;
}

/* Tries `<dir>/.build-id/xx/rest.debug` for each absolute directory of the
 * debug-info path. Returns MEMPROF_DWARF_OK with the file reported, or a
 * negative status when no such file matches. */
static int report_build_id_file(memprof_dwarf_module *m, const uint8_t *build_id, size_t size) {
    char hex[2 * 64 + 1];
    if (size < 2 || size > 64)
        return MEMPROF_DWARF_ERR_BUILD_ID;
    for (size_t i = 0; i < size; i++)
        snprintf(hex + 2 * i, 3, "%02x", build_id[i]);

    const char *cursor = m->debuginfo_path;
    if (*cursor == '+' || *cursor == '-')
        cursor++;
    while (*cursor != '\0') {
        const char *end = strchrnul(cursor, ':');
        const char *dir = cursor;
        if (*dir == '+' || *dir == '-')
            dir++;
        size_t dir_length = (size_t)(end - dir);
        if (dir_length > 0 && *dir == '/') {
            /* dir + "/.build-id/" + 2 hex + "/" + rest + ".debug" + NUL */
            size_t length = dir_length + 11 + 2 + 1 + (2 * size - 2) + 6 + 1;
            char *candidate = malloc(length);
            if (candidate == NULL)
                return MEMPROF_DWARF_ERR_NOMEM;
            snprintf(candidate, length, "%.*s/.build-id/%.2s/%s.debug", (int)dir_length, dir, hex, hex + 2);
            int rc = report_file(m, candidate);
            free(candidate);
            if (rc == MEMPROF_DWARF_ERR_NOMEM)
                return rc;
            if (rc == MEMPROF_DWARF_OK && build_id_matches(m, build_id, size))
                return MEMPROF_DWARF_OK;
        }
        cursor = *end == ':' ? end + 1 : end;
    }
    return MEMPROF_DWARF_ERR_BUILD_ID;
}

static void range_index_free(struct range_index *index) {
    free(index->ranges);
    free(index->max_high);
    *index = (struct range_index){0};
}

static void release(memprof_dwarf_module *m) {
    if (m->dwfl != NULL)
        dwfl_end(m->dwfl);
    free(m->symbols);
    free(m->symbol_max_high);
    range_index_free(&m->cu_ranges);
    for (size_t i = 0; i < m->cu_capacity; i++)
        range_index_free(&m->cus[i].functions);
    free(m->cus);
    free(m->debuginfo_path);
    free(m);
}

int memprof_dwarf_open(const char *path, const uint8_t *build_id, size_t build_id_size, const char *debuginfo_path,
                       memprof_dwarf_module **out_module) {
    if (out_module == NULL)
        return MEMPROF_DWARF_ERR_ARGUMENT;
    *out_module = NULL;
    if (path == NULL || (build_id == NULL && build_id_size != 0))
        return MEMPROF_DWARF_ERR_ARGUMENT;

    memprof_dwarf_module *m = calloc(1, sizeof *m);
    if (m == NULL)
        return MEMPROF_DWARF_ERR_NOMEM;
    m->debuginfo_path = strdup(debuginfo_path != NULL ? debuginfo_path : k_default_debuginfo_path);
    if (m->debuginfo_path == NULL) {
        free(m);
        return MEMPROF_DWARF_ERR_NOMEM;
    }
    m->callbacks.find_elf = dwfl_build_id_find_elf;
    m->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
    m->callbacks.section_address = dwfl_offline_section_address;
    m->callbacks.debuginfo_path = &m->debuginfo_path;

    int rc = report_file(m, path);
    int saved_errno = errno;
    if (rc == MEMPROF_DWARF_OK && build_id_size > 0 && !build_id_matches(m, build_id, build_id_size))
        rc = MEMPROF_DWARF_ERR_BUILD_ID;
    if ((rc == MEMPROF_DWARF_ERR_OPEN || rc == MEMPROF_DWARF_ERR_BUILD_ID) && build_id_size > 0) {
        /* The recorded file is gone or replaced: a debug file with the
         * recorded build-id still describes the code that ran. */
        int fallback = report_build_id_file(m, build_id, build_id_size);
        if (fallback == MEMPROF_DWARF_OK || fallback == MEMPROF_DWARF_ERR_NOMEM)
            rc = fallback;
    }
    if (rc != MEMPROF_DWARF_OK) {
        release(m);
        errno = saved_errno;
        return rc;
    }
    *out_module = m;
    return MEMPROF_DWARF_OK;
}

/* ---- Range indexes ------------------------------------------------------ */

static bool range_index_append(struct range_index *index, struct range range) {
    if (index->count == index->capacity) {
        size_t grown = index->capacity == 0 ? 64 : index->capacity * 2;
        struct range *ranges = realloc(index->ranges, grown * sizeof *ranges);
        if (ranges == NULL)
            return false;
        index->ranges = ranges;
        index->capacity = grown;
    }
    range.order = index->count;
    index->ranges[index->count++] = range;
    return true;
}

static int compare_ranges(const void *a, const void *b) {
    const struct range *x = a, *y = b;
    if (x->low != y->low)
        return x->low < y->low ? -1 : 1;
    /* Wider first, so among equal starts the narrower (inner) comes last;
     * among equal ranges the first DIE last, as searches walk backwards. */
    if (x->high != y->high)
        return x->high > y->high ? -1 : 1;
    return (x->order < y->order) - (x->order > y->order);
}

/* Sorts the ranges and fills max_high. On allocation failure the index is
 * emptied: lookups then find nothing, which costs names, never correctness. */
static void range_index_finish(struct range_index *index) {
    if (index->count == 0)
        return;
    qsort(index->ranges, index->count, sizeof *index->ranges, compare_ranges);
    index->max_high = malloc(index->count * sizeof *index->max_high);
    if (index->max_high == NULL) {
        range_index_free(index);
        return;
    }
    Dwarf_Addr max = 0;
    for (size_t i = 0; i < index->count; i++) {
        if (index->ranges[i].high > max)
            max = index->ranges[i].high;
        index->max_high[i] = max;
    }
}

/* The innermost range containing `address`: the one with the greatest start,
 * found by walking back from the last range starting at or below it. */
static const struct range *range_index_find(const struct range_index *index, Dwarf_Addr address) {
    size_t low = 0, high = index->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (index->ranges[middle].low <= address)
            low = middle + 1;
        else
            high = middle;
    }
    for (size_t i = low; i > 0 && index->max_high[i - 1] > address; i--) {
        if (address < index->ranges[i - 1].high)
            return &index->ranges[i - 1];
    }
    return NULL;
}

/* ---- Symbols ------------------------------------------------------------ */

static int symbol_rank(unsigned char binding) {
    switch (binding) {
    case STB_GLOBAL:
        return 2;
    case STB_WEAK:
        return 1;
    default:
        return 0;
    }
}

static int compare_symbols(const void *a, const void *b) {
    const struct symbol *x = a, *y = b;
    if (x->low != y->low)
        return x->low < y->low ? -1 : 1;
    if (x->high != y->high)
        return x->high > y->high ? -1 : 1; /* wider first, inner last */
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;                /* best rank last */
    return (x->order < y->order) - (x->order > y->order); /* first index last */
}

/* Whether a symbol can name code. Data objects are left out on purpose: a
 * return address is never inside one, and some binaries map .rodata in their
 * executable segment. */
static bool is_code_symbol(const GElf_Sym *sym, GElf_Word shndx, Elf *elf, const char *name) {
    if (name == NULL || name[0] == '\0' || shndx == SHN_UNDEF || shndx == SHN_ABS)
        return false;
    switch (GELF_ST_TYPE(sym->st_info)) {
    case STT_FUNC:
    case STT_GNU_IFUNC:
        return true;
    case STT_NOTYPE: {
        /* Hand-written assembly labels, but only in code sections: linker
         * markers such as __GNU_EH_FRAME_HDR or _end have no type either. Not
         * AArch64/ARM mapping symbols ("$x", "$d", "$x.42") either. */
        if (name[0] == '$' && name[1] != '\0' && (name[2] == '\0' || name[2] == '.'))
            return false;
        GElf_Shdr header;
        Elf_Scn *section = elf != NULL ? elf_getscn(elf, shndx) : NULL;
        return section != NULL && gelf_getshdr(section, &header) != NULL && (header.sh_flags & SHF_EXECINSTR) != 0;
    }
    default:
        return false;
    }
}

static void build_symbols(memprof_dwarf_module *m) {
    m->symbols_built = true;
    int count = dwfl_module_getsymtab(m->mod);
    if (count <= 0)
        return;
    m->symbols = malloc((size_t)count * sizeof *m->symbols);
    if (m->symbols == NULL)
        return;
    size_t used = 0;
    for (int i = 1; i < count; i++) {
        GElf_Sym sym;
        GElf_Addr address = 0;
        GElf_Word shndx = 0;
        Elf *elf = NULL;
        const char *name = dwfl_module_getsym_info(m->mod, i, &sym, &address, &shndx, &elf, NULL);
        if (!is_code_symbol(&sym, shndx, elf, name))
            continue;
        m->symbols[used++] = (struct symbol){
            .low = address,
            .high = address + sym.st_size,
            .name = name,
            .rank = symbol_rank(GELF_ST_BIND(sym.st_info)),
            .order = (size_t)i,
        };
    }
    m->symbol_count = used;
    if (used == 0)
        return;
    qsort(m->symbols, used, sizeof *m->symbols, compare_symbols);
    m->symbol_max_high = malloc(used * sizeof *m->symbol_max_high);
    if (m->symbol_max_high == NULL) {
        free(m->symbols);
        m->symbols = NULL;
        m->symbol_count = 0;
        return;
    }
    GElf_Addr max = 0;
    for (size_t i = 0; i < used; i++) {
        if (m->symbols[i].high > max)
            max = m->symbols[i].high;
        m->symbol_max_high[i] = max;
    }
}

/* The symbol naming `address`, with the rules of dwfl_module_addrinfo: the
 * innermost sized symbol containing it, preferring global over weak over
 * local at one address; else the nearest preceding symbol when that one has
 * no size (assembly without .size). */
static const char *symbol_at(memprof_dwarf_module *m, GElf_Addr address) {
    if (!m->symbols_built)
        build_symbols(m);
    size_t low = 0, high = m->symbol_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (m->symbols[middle].low <= address)
            low = middle + 1;
        else
            high = middle;
    }
    if (low == 0)
        return NULL;
    for (size_t i = low; i > 0 && m->symbol_max_high[i - 1] > address; i--) {
        if (address < m->symbols[i - 1].high)
            return m->symbols[i - 1].name;
    }
    const struct symbol *nearest = &m->symbols[low - 1];
    return nearest->high == nearest->low ? nearest->name : NULL;
}

/* ---- Compilation units -------------------------------------------------- */

/* Lists every CU's address ranges (DW_AT_low_pc/high_pc or DW_AT_ranges),
 * for the CUs .debug_aranges does not cover. */
static void build_cu_ranges(memprof_dwarf_module *m) {
    m->cu_ranges_built = true;
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = NULL;
    while ((cu = dwfl_module_nextcu(m->mod, cu, &bias)) != NULL) {
        Dwarf_Addr base, start, end;
        ptrdiff_t offset = 0;
        while ((offset = dwarf_ranges(cu, offset, &base, &start, &end)) > 0) {
            if (end <= start)
                continue;
            struct range range = {.low = start + bias, .high = end + bias, .bias = bias, .die = *cu};
            if (!range_index_append(&m->cu_ranges, range))
                goto done;
        }
    }
done:
    range_index_finish(&m->cu_ranges);
}

/* The CU containing `address`: libdwfl's lookup first (from .debug_aranges),
 * then the table of CU ranges. `*cudie_storage` receives a copy when the
 * table answers. */
static Dwarf_Die *find_cu(memprof_dwarf_module *m, Dwarf_Addr address, Dwarf_Die *cudie_storage, Dwarf_Addr *bias) {
    Dwarf_Die *cudie = dwfl_module_addrdie(m->mod, address, bias);
    if (cudie != NULL)
        return cudie;
    if (!m->cu_ranges_built)
        build_cu_ranges(m);
    const struct range *range = range_index_find(&m->cu_ranges, address);
    if (range == NULL)
        return NULL;
    *cudie_storage = range->die;
    *bias = range->bias;
    return cudie_storage;
}

/* Whether a DIE of this tag may have subprograms with code among its
 * children. Types, variables and parameters are skipped to keep the walk
 * short; nested functions (GNU C, Ada, Fortran) sit in subprograms and blocks. */
static bool may_contain_functions(int tag) {
    switch (tag) {
    case DW_TAG_compile_unit:
    case DW_TAG_partial_unit:
    case DW_TAG_namespace:
    case DW_TAG_module:
    case DW_TAG_class_type:
    case DW_TAG_structure_type:
    case DW_TAG_union_type:
    case DW_TAG_interface_type:
    case DW_TAG_subprogram:
    case DW_TAG_lexical_block:
        return true;
    default:
        return false;
    }
}

static bool collect_functions(Dwarf_Die *parent, struct range_index *index, unsigned depth) {
    Dwarf_Die child;
    if (depth > MAX_SCOPE_DEPTH || dwarf_child(parent, &child) != 0)
        return true;
    do {
        int tag = dwarf_tag(&child);
        if (tag == DW_TAG_subprogram || tag == DW_TAG_entry_point) {
            Dwarf_Addr base, start, end;
            ptrdiff_t offset = 0;
            while ((offset = dwarf_ranges(&child, offset, &base, &start, &end)) > 0) {
                if (end > start && !range_index_append(index, (struct range){.low = start, .high = end, .die = child}))
                    return false;
            }
        }
        if (may_contain_functions(tag) && !collect_functions(&child, index, depth + 1))
            return false;
    } while (dwarf_siblingof(&child, &child) == 0);
    return true;
}

static size_t cu_slot(Dwarf_Off key, size_t capacity) {
    /* Fibonacci hashing: the high bits of the product mix every key bit. */
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & (capacity - 1);
}

/* The subprogram index of `cudie`'s CU, built on first use; NULL when memory
 * runs out. */
static struct range_index *cu_functions(memprof_dwarf_module *m, Dwarf_Die *cudie) {
    Dwarf_Off key = dwarf_dieoffset(cudie);
    if (m->cu_count * 2 >= m->cu_capacity) {
        size_t grown = m->cu_capacity == 0 ? 64 : m->cu_capacity * 2;
        struct cu_functions *table = calloc(grown, sizeof *table);
        if (table == NULL)
            return NULL;
        for (size_t i = 0; i < m->cu_capacity; i++) {
            if (m->cus[i].cu_offset == 0)
                continue;
            size_t slot = cu_slot(m->cus[i].cu_offset, grown);
            while (table[slot].cu_offset != 0)
                slot = (slot + 1) & (grown - 1);
            table[slot] = m->cus[i];
        }
        free(m->cus);
        m->cus = table;
        m->cu_capacity = grown;
    }
    /* CU DIE offsets are never 0 (the unit header comes first), so 0 marks a
     * free slot. */
    size_t slot = cu_slot(key, m->cu_capacity);
    while (m->cus[slot].cu_offset != 0) {
        if (m->cus[slot].cu_offset == key)
            return &m->cus[slot].functions;
        slot = (slot + 1) & (m->cu_capacity - 1);
    }
    m->cus[slot].cu_offset = key;
    m->cu_count++;
    struct range_index *index = &m->cus[slot].functions;
    if (!collect_functions(cudie, index, 0))
        range_index_free(index);
    else
        range_index_finish(index);
    return index;
}

/* ---- Lookup ------------------------------------------------------------- */

/* The name to show for a subprogram or inlined-subroutine DIE: the linkage
 * name (demanglable, qualified) when present, else the plain name. Both are
 * looked up through DW_AT_abstract_origin and DW_AT_specification, where
 * concrete and out-of-line instances keep them. */
static const char *die_name(Dwarf_Die *die) {
    Dwarf_Attribute attr;
    const char *name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
    if (name == NULL)
        name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
    if (name == NULL)
        name = dwarf_diename(die);
    return name;
}

/* Appends a frame if there is room; always counts it. */
static void emit(memprof_dwarf_frame *frames, size_t capacity, size_t *count, const char *function, const char *file,
                 uint32_t line, bool is_inlined) {
    if (*count < capacity) {
        frames[*count] = (memprof_dwarf_frame){
            .function = function,
            .file = line > 0 ? file : NULL,
            .line = file != NULL ? line : 0,
            .is_inlined = is_inlined ? 1u : 0u,
        };
    }
    (*count)++;
}

/* Fills `chain` with the concrete scopes containing `pc`, outermost (the
 * subprogram) first; returns how many. */
static int scope_chain(Dwarf_Die *subprogram, Dwarf_Addr pc, Dwarf_Die *chain) {
    int depth = 0;
    chain[depth++] = *subprogram;
    while (depth < MAX_SCOPE_DEPTH) {
        Dwarf_Die child;
        if (dwarf_child(&chain[depth - 1], &child) != 0)
            break;
        bool descended = false;
        do {
            int tag = dwarf_tag(&child);
            if ((tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block || tag == DW_TAG_try_block ||
                 tag == DW_TAG_catch_block) &&
                dwarf_haspc(&child, pc) == 1) {
                chain[depth++] = child;
                descended = true;
                break;
            }
        } while (dwarf_siblingof(&child, &child) == 0);
        if (!descended)
            break;
    }
    return depth;
}

/* Like scope_chain, through dwarf_getscopes, for addresses no indexed
 * subprogram covers (unusual producers). Returns the number of scopes, 0 when
 * none; *scopes is malloc'ed, innermost first. */
static int fallback_scopes(Dwarf_Die *cudie, Dwarf_Addr pc, Dwarf_Die **scopes) {
    *scopes = NULL;
    int count = dwarf_getscopes(cudie, pc, scopes);
    if (count <= 0) {
        free(*scopes);
        *scopes = NULL;
        return 0;
    }
    /* dwarf_getscopes appends the abstract origin's scopes after an inline;
     * the concrete parents of the innermost scope are the call frames. */
    Dwarf_Die innermost = (*scopes)[0];
    free(*scopes);
    *scopes = NULL;
    count = dwarf_getscopes_die(&innermost, scopes);
    if (count <= 0) {
        free(*scopes);
        *scopes = NULL;
        return 0;
    }
    return count;
}

int memprof_dwarf_lookup(memprof_dwarf_module *module, uint64_t address, memprof_dwarf_frame *frames, size_t capacity) {
    if (module == NULL || (frames == NULL && capacity != 0))
        return MEMPROF_DWARF_ERR_ARGUMENT;

    /* The ELF symbol table: works without DWARF (stripped libraries keep
     * .dynsym) and names the physical function when DWARF has no DIE. */
    const char *symbol = symbol_at(module, address);

    Dwarf_Addr bias = 0;
    Dwarf_Die cudie_storage;
    Dwarf_Die *cudie = find_cu(module, address, &cudie_storage, &bias);
    if (cudie == NULL) {
        size_t count = 0;
        if (symbol != NULL)
            emit(frames, capacity, &count, symbol, NULL, 0, false);
        return (int)count;
    }
    Dwarf_Addr pc = address - bias;

    /* The line table: the innermost position, inside any inlined code. */
    const char *file = NULL;
    int line = 0;
    Dwarf_Line *dwarf_line = dwarf_getsrc_die(cudie, pc);
    if (dwarf_line != NULL) {
        file = dwarf_linesrc(dwarf_line, NULL, NULL);
        if (dwarf_lineno(dwarf_line, &line) != 0 || line < 0)
            line = 0;
    }

    /* The scopes containing pc, innermost first. */
    Dwarf_Die chain[MAX_SCOPE_DEPTH];
    Dwarf_Die *scopes = NULL;
    Dwarf_Die *allocated = NULL;
    int nscopes = 0;
    struct range_index *functions = cu_functions(module, cudie);
    const struct range *function = functions != NULL ? range_index_find(functions, pc) : NULL;
    if (function != NULL) {
        Dwarf_Die subprogram = function->die;
        int depth = scope_chain(&subprogram, pc, chain);
        /* Reverse in place: innermost first, like dwarf_getscopes. */
        for (int i = 0; i < depth / 2; i++) {
            Dwarf_Die swap = chain[i];
            chain[i] = chain[depth - 1 - i];
            chain[depth - 1 - i] = swap;
        }
        scopes = chain;
        nscopes = depth;
    } else {
        nscopes = fallback_scopes(cudie, pc, &allocated);
        scopes = allocated;
    }

    Dwarf_Files *files = NULL;
    if (nscopes > 0 && dwarf_getsrcfiles(cudie, &files, NULL) != 0)
        files = NULL;
    size_t count = 0;
    bool physical_found = false;
    const char *current_file = file;
    uint32_t current_line = (uint32_t)line;
    for (int i = 0; i < nscopes && !physical_found; i++) {
        Dwarf_Die *scope = &scopes[i];
        switch (dwarf_tag(scope)) {
        case DW_TAG_inlined_subroutine: {
            emit(frames, capacity, &count, die_name(scope), current_file, current_line, true);
            /* The call site of this inline is the position in the frame that
             * contains it. */
            Dwarf_Attribute attr;
            Dwarf_Word value = 0;
            current_file = NULL;
            current_line = 0;
            if (files != NULL && dwarf_formudata(dwarf_attr(scope, DW_AT_call_file, &attr), &value) == 0)
                current_file = dwarf_filesrc(files, value, NULL, NULL);
            if (dwarf_formudata(dwarf_attr(scope, DW_AT_call_line, &attr), &value) == 0)
                current_line = (uint32_t)value;
            break;
        }
        case DW_TAG_subprogram:
        case DW_TAG_entry_point: {
            const char *name = die_name(scope);
            emit(frames, capacity, &count, name != NULL ? name : symbol, current_file, current_line, false);
            physical_found = true;
            break;
        }
        default:
            /* Lexical blocks and the CU itself are not frames. */
            break;
        }
    }
    free(allocated);
    if (!physical_found) {
        /* No subprogram DIE: inlines seen so far (odd producers) end at the
         * symbol's function; with no DWARF scope at all the line table and
         * the symbol table still say something. */
        if (count > 0)
            emit(frames, capacity, &count, symbol, current_file, current_line, false);
        else if (symbol != NULL || (file != NULL && line > 0))
            emit(frames, capacity, &count, symbol, file, (uint32_t)line, false);
    }
    return (int)count;
}

void memprof_dwarf_close(memprof_dwarf_module *module) {
    if (module != NULL)
        release(module);
}

const char *memprof_dwarf_errmsg(void) {
    const char *message = dwfl_errmsg(-1);
    return message != NULL ? message : "unknown libdw error";
}
