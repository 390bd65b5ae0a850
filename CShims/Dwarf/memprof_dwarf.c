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
 *
 * Where the memory and the start-up time go, and so who opens what. libdwfl
 * serves the ELF side (the file, its build-id, the symbol table with its
 * fallbacks: .symtab, the debug file's .symtab, .dynsym, MiniDebugInfo). The
 * DWARF side is opened here, with libelf and libdw directly, because libdwfl
 * would make it cost several times what a report needs:
 *   - libdwfl's standard debug-file search ends by asking debuginfod, and to
 *     do so dlopens libdebuginfod, which loads libcurl, GnuTLS, Kerberos and
 *     some twenty more libraries (7 MB resident, milliseconds of relocation)
 *     even when DEBUGINFOD_URLS is unset and the client would return at once.
 *     find_debug_file below does the same search and asks debuginfod only
 *     when DEBUGINFOD_URLS names a server.
 *   - libdw inflates every compressed .debug_* section when it opens a file
 *     (distribution debug files are zlib-compressed: libc6-dbg's 3.3 MB
 *     become 10 MB). Sections a lookup never reads (locations, macros, call
 *     frames, name indexes) are hidden from it, and such a file is read with
 *     pread rather than mapped, so its compressed bytes are freed once
 *     inflated instead of staying resident in the mapping.
 * Both happen on the first lookup that needs lines, never at open.
 */
#define _GNU_SOURCE /* strchrnul */
#include "memprof_dwarf.h"

#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    Dwarf_Die die;   /* the CU or the subprogram */
    size_t order;    /* DIE order: among equal ranges (aliases) the first DIE wins */
};

struct range_index {
    struct range *ranges;
    Dwarf_Addr *max_high; /* max_high[i] = max(ranges[0...i].high) */
    size_t count;
    size_t capacity;
};

/* A stretch of consecutive .debug_aranges entries of one CU: it covers from
 * `start` up to the next run's start. */
struct arange_run {
    Dwarf_Addr start;
    Dwarf_Off die_offset; /* the CU's DIE */
};

/* The subprogram index of one CU, found by the CU's DIE offset. */
struct cu_functions {
    Dwarf_Off cu_offset;
    struct range_index functions;
};

struct memprof_dwarf_module {
    Dwfl *dwfl;
    Dwfl_Module *mod;
    /* The file reported to libdwfl (the recorded path, or the debug file
     * found by build-id when that path is gone or replaced). */
    char *path;
    /* Dwfl keeps a pointer to the callbacks, which point at this string:
     * both live as long as the handle. */
    char *debuginfo_path;
    Dwfl_Callbacks callbacks;

    /* The separate debug file, searched for once (see find_debug_file). */
    bool debug_file_searched;
    char *debug_file; /* NULL when there is none */

    /* The DWARF, opened on the first lookup (see open_dwarf). Module-relative
     * addresses are DWARF addresses: the file is reported at bias 0 and a
     * separate debug file keeps the addresses of the file it was split from. */
    bool dwarf_opened;
    int dwarf_fd;
    Elf *dwarf_elf;
    Dwarf *dwarf;

    bool symbols_built;
    struct symbol *symbols; /* sorted by low, best rank last among equals */
    GElf_Addr *symbol_max_high;
    size_t symbol_count;

    /* libdwfl's reading of .debug_aranges (see build_arange_runs). */
    bool arange_runs_built;
    struct arange_run *arange_runs;
    size_t arange_run_count;
    Dwarf_Addr aranges_end; /* end of the highest arange */

    bool cu_ranges_built;
    struct range_index cu_ranges;

    /* Open-addressing hash table keyed by CU offset; capacity a power of 2. */
    struct cu_functions *cus;
    size_t cu_count;
    size_t cu_capacity;
};

/* ---- Separate debug files ------------------------------------------------ */

/* CRC-32 (IEEE, reflected, as zlib and .gnu_debuglink) of a whole file, for
 * debug files of modules without a build-id. */
static bool file_crc32(int fd, uint32_t *out) {
    /* Built per call (a few microseconds next to reading a file), so that
     * handles on other threads share nothing. */
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    uint8_t buffer[64 * 1024];
    uint32_t crc = 0xffffffffu;
    off_t offset = 0;
    for (;;) {
        ssize_t got = pread(fd, buffer, sizeof buffer, offset);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return false;
        if (got == 0)
            break;
        for (ssize_t i = 0; i < got; i++)
            crc = table[(crc ^ buffer[i]) & 0xffu] ^ (crc >> 8);
        offset += got;
    }
    *out = ~crc;
    return true;
}

/* Whether the ELF file open on `fd` carries exactly this build-id. */
static bool fd_has_build_id(int fd, const uint8_t *build_id, size_t size) {
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (elf == NULL)
        return false;
    const void *bits = NULL;
    ssize_t length = dwelf_elf_gnu_build_id(elf, &bits);
    bool matches = length > 0 && (size_t)length == size && memcmp(bits, build_id, size) == 0;
    elf_end(elf);
    return matches;
}

/* What a debug file must match: the module's build-id when it has one, else
 * the .gnu_debuglink CRC (when the link gives one and the path element asks
 * for the check). */
struct debug_file_identity {
    const uint8_t *build_id;
    size_t build_id_size;
    uint32_t crc;
    bool has_crc;
    struct stat main_stat; /* the module's own file, never its own debug file */
    bool has_main_stat;
};

/* Opens `path` when it is a debug file for the module; returns the path
 * (malloc'ed, ownership passes) or NULL. */
static char *try_debug_file(const char *path, const struct debug_file_identity *identity, bool check_crc) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    bool valid = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (valid && identity->has_main_stat && st.st_ino == identity->main_stat.st_ino &&
        st.st_dev == identity->main_stat.st_dev)
        valid = false; /* the module's file under another name */
    if (valid && identity->build_id_size > 0) {
        valid = fd_has_build_id(fd, identity->build_id, identity->build_id_size);
    } else if (valid && check_crc && identity->has_crc) {
        uint32_t crc = 0;
        valid = file_crc32(fd, &crc) && crc == identity->crc;
    }
    close(fd);
    return valid ? strdup(path) : NULL;
}

/* `<dir>/.build-id/xx/rest.debug` for the first absolute directory of the
 * debug-info path that has it (libdwfl looks no further either). NULL when
 * none does. Malloc'ed. */
static char *build_id_path(const char *debuginfo_path, const uint8_t *build_id, size_t size) {
    char hex[2 * 64 + 1];
    if (size < 3 || size > 64)
        return NULL;
    for (size_t i = 0; i < size; i++)
        snprintf(hex + 2 * i, 3, "%02x", build_id[i]);

    const char *cursor = debuginfo_path;
    while (*cursor != '\0') {
        const char *end = strchrnul(cursor, ':');
        const char *dir = cursor;
        if (*dir == '+' || *dir == '-')
            dir++;
        size_t dir_length = (size_t)(end - dir);
        if (dir_length > 0 && *dir == '/') {
            char *candidate = NULL;
            if (asprintf(&candidate, "%.*s/.build-id/%.2s/%s.debug", (int)dir_length, dir, hex, hex + 2) < 0)
                return NULL;
            if (access(candidate, F_OK) == 0)
                return candidate;
            free(candidate);
        }
        cursor = *end == ':' ? end + 1 : end;
    }
    return NULL;
}

/* The .gnu_debuglink search of libdwfl's dwfl_standard_find_debuginfo for the
 * module file `file`: for each element of the debug-info path, an empty one
 * means the file's directory, a relative one that subdirectory of it, and an
 * absolute one that directory followed by the file's directory (and then by
 * its shorter suffixes: /usr/lib/debug/usr/lib/x/F, …/lib/x/F, …/x/F, …/F).
 * Without a link, `<basename>.debug` is tried, and the file's own name in the
 * other directories. A leading '+' or '-' (on the whole path or an element)
 * turns the CRC check on or off; it is on by default. */
static char *find_by_debuglink(const char *debuginfo_path, const char *file, const char *debuglink,
                               const struct debug_file_identity *identity) {
    const char *slash = strrchr(file, '/');
    const char *base = slash != NULL ? slash + 1 : file;
    char *file_dir = slash != NULL ? strndup(file, (size_t)(slash - file)) : NULL;
    char *invented = NULL;
    if (debuglink == NULL) {
        if (asprintf(&invented, "%s.debug", base) < 0) {
            free(file_dir);
            return NULL;
        }
    }
    const char *link = debuglink != NULL ? debuglink : invented;
    bool try_basename = debuglink == NULL;

    char *found = NULL;
    const char *cursor = debuginfo_path;
    bool default_check = true;
    if (*cursor == '+' || *cursor == '-')
        default_check = *cursor++ == '+';
    while (found == NULL) {
        const char *end = strchrnul(cursor, ':');
        bool check = default_check;
        const char *element = cursor;
        if (*element == '+' || *element == '-')
            check = *element++ == '+';
        check = check && debuglink != NULL;
        int element_length = (int)(end - element);
        char *candidate = NULL;

        if (element_length == 0) {
            /* The file's own directory. */
            if (asprintf(&candidate, "%s/%s", file_dir != NULL ? file_dir : ".", link) >= 0) {
                found = try_debug_file(candidate, identity, check);
                free(candidate);
            }
        } else if (*element == '/') {
            /* Only for an absolute file name. */
            if (file_dir != NULL && file_dir[0] == '/') {
                for (const char *sub = file_dir; found == NULL && sub != NULL;) {
                    sub = strchr(sub, '/');
                    if (sub != NULL)
                        sub++;
                    if (sub != NULL && *sub == '\0')
                        break;
                    const char *names[2] = {link, try_basename ? base : NULL};
                    for (int n = 0; n < 2 && found == NULL && names[n] != NULL; n++) {
                        int rc = sub != NULL
                                     ? asprintf(&candidate, "%.*s/%s/%s", element_length, element, sub, names[n])
                                     : asprintf(&candidate, "%.*s/%s", element_length, element, names[n]);
                        if (rc >= 0) {
                            found = try_debug_file(candidate, identity, check);
                            free(candidate);
                        }
                    }
                }
            }
        } else {
            /* A subdirectory of the file's directory. */
            const char *names[2] = {link, try_basename ? base : NULL};
            for (int n = 0; n < 2 && found == NULL && names[n] != NULL; n++) {
                int rc = file_dir != NULL
                             ? asprintf(&candidate, "%s/%.*s/%s", file_dir, element_length, element, names[n])
                             : asprintf(&candidate, "%.*s/%s", element_length, element, names[n]);
                if (rc >= 0) {
                    found = try_debug_file(candidate, identity, check);
                    free(candidate);
                }
            }
        }
        if (*end == '\0')
            break;
        cursor = end + 1;
    }
    free(invented);
    free(file_dir);
    return found;
}

/* libdebuginfod's client API (elfutils/debuginfod.h, which may not be
 * installed), resolved at run time as libdwfl does. */
typedef struct debuginfod_client debuginfod_client;
typedef debuginfod_client *(*debuginfod_begin_fn)(void);
typedef int (*debuginfod_find_debuginfo_fn)(debuginfod_client *, const unsigned char *, int, char **);
typedef void (*debuginfod_end_fn)(debuginfod_client *);

/* Asks the debuginfod servers of DEBUGINFOD_URLS for the debug file of this
 * build-id; the path of the downloaded (cached) file, or NULL. Only called
 * when the variable names a server: otherwise the client does nothing, and
 * loading it costs more than the rest of a report. */
static char *find_by_debuginfod(const uint8_t *build_id, size_t size) {
    void *library = dlopen("libdebuginfod.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (library == NULL)
        return NULL;
    debuginfod_begin_fn begin = (debuginfod_begin_fn)dlsym(library, "debuginfod_begin");
    debuginfod_find_debuginfo_fn find = (debuginfod_find_debuginfo_fn)dlsym(library, "debuginfod_find_debuginfo");
    debuginfod_end_fn end = (debuginfod_end_fn)dlsym(library, "debuginfod_end");
    char *path = NULL;
    debuginfod_client *client = begin != NULL && find != NULL && end != NULL ? begin() : NULL;
    if (client != NULL) {
        int fd = find(client, build_id, (int)size, &path);
        if (fd >= 0)
            close(fd);
        else
            path = NULL;
        end(client);
    }
    /* Stays loaded, like libdwfl's: unloading libcurl is not reliably safe. */
    return path;
}

/* The module's separate debug file, searched for once, in the order of
 * libdwfl's dwfl_standard_find_debuginfo: by build-id in the debug-info path,
 * by .gnu_debuglink (also under the symlink-resolved file name), then
 * debuginfod. Returns the path (owned by the handle) or NULL. */
static const char *find_debug_file(memprof_dwarf_module *m) {
    if (m->debug_file_searched)
        return m->debug_file;
    m->debug_file_searched = true;

    struct debug_file_identity identity = {0};
    const unsigned char *bits = NULL;
    GElf_Addr vaddr = 0;
    int length = dwfl_module_build_id(m->mod, &bits, &vaddr);
    if (length > 0) {
        identity.build_id = bits;
        identity.build_id_size = (size_t)length;
    }
    identity.has_main_stat = stat(m->path, &identity.main_stat) == 0;
    GElf_Addr bias = 0;
    Elf *main_elf = dwfl_module_getelf(m->mod, &bias);
    GElf_Word crc = 0;
    const char *debuglink = main_elf != NULL ? dwelf_elf_gnu_debuglink(main_elf, &crc) : NULL;
    identity.crc = crc;
    identity.has_crc = debuglink != NULL && crc != 0;

    char *found = NULL;
    if (identity.build_id_size > 0) {
        char *candidate = build_id_path(m->debuginfo_path, identity.build_id, identity.build_id_size);
        if (candidate != NULL) {
            found = try_debug_file(candidate, &identity, false);
            free(candidate);
        }
    }
    if (found == NULL)
        found = find_by_debuglink(m->debuginfo_path, m->path, debuglink, &identity);
    if (found == NULL) {
        char *canonical = realpath(m->path, NULL);
        if (canonical != NULL && strcmp(canonical, m->path) != 0)
            found = find_by_debuglink(m->debuginfo_path, canonical, debuglink, &identity);
        free(canonical);
    }
    const char *urls = getenv("DEBUGINFOD_URLS");
    if (found == NULL && identity.build_id_size > 0 && urls != NULL && urls[0] != '\0')
        found = find_by_debuginfod(identity.build_id, identity.build_id_size);
    m->debug_file = found;
    return found;
}

/* libdwfl's find_debuginfo callback: the file find_debug_file found. libdwfl
 * calls it when the module's file has no .symtab, to read the debug file's. */
static int find_debuginfo_callback(Dwfl_Module *mod, void **userdata, const char *modname, GElf_Addr base,
                                   const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
                                   char **debuginfo_file_name) {
    (void)mod, (void)modname, (void)base, (void)file_name, (void)debuglink_file, (void)debuglink_crc;
    memprof_dwarf_module *m = *userdata;
    const char *path = m != NULL ? find_debug_file(m) : NULL;
    if (path == NULL) {
        errno = 0;
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        *debuginfo_file_name = strdup(path);
        if (*debuginfo_file_name == NULL) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* ---- Opening ------------------------------------------------------------ */

/* Starts a fresh session and reports `file` in it at bias 0. Any previous
 * session of `m` is ended first, so a rejected file leaves nothing behind. */
static int report_file(memprof_dwarf_module *m, const char *file) {
    if (m->dwfl != NULL) {
        dwfl_end(m->dwfl);
        m->dwfl = NULL;
        m->mod = NULL;
    }
    free(m->path);
    m->path = NULL;
    /* Probe with open(2) ourselves: libdw folds errno into its own codes, and
     * callers want "No such file or directory" for a deleted library. Then let
     * libdw open the file itself, so the descriptor's ownership stays simple. */
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return MEMPROF_DWARF_ERR_OPEN;
    close(fd);

    m->path = strdup(file);
    if (m->path == NULL)
        return MEMPROF_DWARF_ERR_NOMEM;
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
    /* The find_debuginfo callback finds the handle through the module. */
    void **userdata = NULL;
    dwfl_module_info(m->mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
    if (userdata != NULL)
        *userdata = m;
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
    if (m->dwarf != NULL)
        dwarf_end(m->dwarf);
    if (m->dwarf_elf != NULL)
        elf_end(m->dwarf_elf);
    if (m->dwarf_fd >= 0)
        close(m->dwarf_fd);
    if (m->dwfl != NULL)
        dwfl_end(m->dwfl);
    free(m->symbols);
    free(m->symbol_max_high);
    free(m->arange_runs);
    range_index_free(&m->cu_ranges);
    for (size_t i = 0; i < m->cu_capacity; i++)
        range_index_free(&m->cus[i].functions);
    free(m->cus);
    free(m->debug_file);
    free(m->path);
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

    /* libelf refuses to work before its version is set; libdwfl does it too,
     * but the DWARF side opens files with libelf directly. */
    if (elf_version(EV_CURRENT) == EV_NONE)
        return MEMPROF_DWARF_ERR_ELF;
    memprof_dwarf_module *m = calloc(1, sizeof *m);
    if (m == NULL)
        return MEMPROF_DWARF_ERR_NOMEM;
    m->dwarf_fd = -1;
    m->debuginfo_path = strdup(debuginfo_path != NULL ? debuginfo_path : k_default_debuginfo_path);
    if (m->debuginfo_path == NULL) {
        free(m);
        return MEMPROF_DWARF_ERR_NOMEM;
    }
    m->callbacks.find_elf = dwfl_build_id_find_elf;
    m->callbacks.find_debuginfo = find_debuginfo_callback;
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

/* ---- DWARF -------------------------------------------------------------- */

/* The name of a section, NULL when unreadable. */
static const char *section_name(Elf *elf, size_t shstrndx, Elf_Scn *section, GElf_Shdr *header) {
    if (gelf_getshdr(section, header) == NULL)
        return NULL;
    return elf_strptr(elf, shstrndx, header->sh_name);
}

/* The DWARF section name without its ".debug_" or ".zdebug_" prefix, NULL for
 * other sections. */
static const char *dwarf_section_suffix(const char *name) {
    if (name == NULL)
        return NULL;
    if (strncmp(name, ".debug_", 7) == 0)
        return name + 7;
    if (strncmp(name, ".zdebug_", 8) == 0)
        return name + 8;
    return NULL;
}

/* The DWARF sections lookups read (by name without ".debug_"): those libdw
 * 0.188 loads at open, less variable locations, macros, call frames and name
 * indexes, which it would inflate all the same. */
static bool is_read_dwarf_section(const char *suffix) {
    static const char *const read[] = {
        "info", "types", "abbrev", "addr", "aranges", "line", "line_str", "str", "str_offsets", "ranges", "rnglists",
    };
    for (size_t i = 0; i < sizeof read / sizeof read[0]; i++) {
        if (strcmp(suffix, read[i]) == 0)
            return true;
    }
    return false;
}

/* Which DWARF sections `elf` has: *has_dwarf when it has what lookups read
 * (.debug_info or .debug_line; a file with call frames only, which libdwfl
 * would settle for, sends the search on to its separate debug file), and
 * *compressed when a section a lookup reads is compressed. */
static void scan_dwarf_sections(Elf *elf, bool *has_dwarf, bool *compressed) {
    *has_dwarf = false;
    *compressed = false;
    size_t shstrndx = 0;
    if (elf_getshdrstrndx(elf, &shstrndx) != 0)
        return;
    Elf_Scn *section = NULL;
    while ((section = elf_nextscn(elf, section)) != NULL) {
        GElf_Shdr header;
        const char *name = section_name(elf, shstrndx, section, &header);
        const char *suffix = dwarf_section_suffix(name);
        if (suffix == NULL || header.sh_type == SHT_NOBITS)
            continue;
        if (strcmp(suffix, "info") == 0 || strcmp(suffix, "line") == 0)
            *has_dwarf = true;
        if (is_read_dwarf_section(suffix) && ((header.sh_flags & SHF_COMPRESSED) != 0 || name[1] == 'z'))
            *compressed = true;
    }
}

/* Makes libdw skip the DWARF sections no lookup reads: it ignores SHT_NOBITS
 * ones. Only the in-memory copy of the section headers changes (`elf` was
 * opened with ELF_C_READ, and is never written back). */
static void hide_unneeded_sections(Elf *elf) {
    size_t shstrndx = 0;
    if (elf_getshdrstrndx(elf, &shstrndx) != 0)
        return;
    Elf_Scn *section = NULL;
    while ((section = elf_nextscn(elf, section)) != NULL) {
        GElf_Shdr header;
        const char *suffix = dwarf_section_suffix(section_name(elf, shstrndx, section, &header));
        if (suffix != NULL && !is_read_dwarf_section(suffix)) {
            header.sh_type = SHT_NOBITS;
            gelf_update_shdr(section, &header);
        }
    }
}

static void *inflate_section(void *section) {
    /* On failure the section stays compressed: libdw tries again and skips it. */
    elf_compress(section, 0, 0);
    return NULL;
}

/* Inflates the compressed DWARF sections libdw is about to read, before it
 * does, on two threads: .debug_info, most of the work (70% of libc6-dbg's),
 * on a helper thread while this one does the rest. libelf keeps nothing per
 * file while it inflates a section, once every section header is loaded
 * (hide_unneeded_sections has loaded them): each call reads, inflates and
 * replaces its own section's data. libdw then finds them inflated. */
static void inflate_sections(Elf *elf) {
    enum { MAX_INFLATED = 32 };
    Elf_Scn *sections[MAX_INFLATED];
    size_t count = 0, largest = 0;
    size_t shstrndx = 0;
    if (elf_getshdrstrndx(elf, &shstrndx) != 0)
        return;
    GElf_Xword largest_size = 0;
    Elf_Scn *section = NULL;
    while ((section = elf_nextscn(elf, section)) != NULL && count < MAX_INFLATED) {
        GElf_Shdr header;
        const char *suffix = dwarf_section_suffix(section_name(elf, shstrndx, section, &header));
        if (suffix == NULL || !is_read_dwarf_section(suffix) || header.sh_type == SHT_NOBITS ||
            (header.sh_flags & SHF_COMPRESSED) == 0)
            continue;
        if (header.sh_size > largest_size) {
            largest_size = header.sh_size;
            largest = count;
        }
        sections[count++] = section;
    }
    pthread_t helper;
    bool threaded = count > 1 && pthread_create(&helper, NULL, inflate_section, sections[largest]) == 0;
    for (size_t i = 0; i < count; i++) {
        if (!threaded || i != largest)
            elf_compress(sections[i], 0, 0);
    }
    if (threaded)
        pthread_join(helper, NULL);
}

/* Opens `path` for libdw; false when it has no DWARF. A file whose DWARF is
 * compressed is read with pread, section by section, so that each section's
 * compressed bytes are freed once inflated; other files are mapped, and only
 * the pages lookups touch become resident. */
static bool open_dwarf_file(memprof_dwarf_module *m, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    bool has_dwarf = false, compressed = false;
    if (elf != NULL)
        scan_dwarf_sections(elf, &has_dwarf, &compressed);
    if (elf != NULL && has_dwarf && compressed) {
        elf_end(elf);
        elf = elf_begin(fd, ELF_C_READ, NULL);
        if (elf != NULL) {
            hide_unneeded_sections(elf);
            inflate_sections(elf);
        }
    }
    Dwarf *dwarf = elf != NULL && has_dwarf ? dwarf_begin_elf(elf, DWARF_C_READ, NULL) : NULL;
    if (dwarf == NULL) {
        if (elf != NULL)
            elf_end(elf);
        close(fd);
        return false;
    }
    m->dwarf_fd = fd;
    m->dwarf_elf = elf;
    m->dwarf = dwarf;
    return true;
}

/* Opens the module's DWARF on first need: the file's own when it has some (as
 * libdwfl, which then looks no further), else its separate debug file's. */
static Dwarf *module_dwarf(memprof_dwarf_module *m) {
    if (!m->dwarf_opened) {
        m->dwarf_opened = true;
        if (!open_dwarf_file(m, m->path)) {
            const char *debug_file = find_debug_file(m);
            if (debug_file != NULL)
                open_dwarf_file(m, debug_file);
        }
    }
    return m->dwarf;
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
static void build_cu_ranges(memprof_dwarf_module *m, Dwarf *dwarf) {
    m->cu_ranges_built = true;
    Dwarf_CU *cu = NULL;
    Dwarf_CU *next = NULL;
    Dwarf_Half version = 0;
    uint8_t unit_type = 0;
    Dwarf_Die cudie;
    while (dwarf_get_units(dwarf, cu, &next, &version, &unit_type, &cudie, NULL) == 0) {
        cu = next;
        Dwarf_Addr base, start, end;
        ptrdiff_t offset = 0;
        while ((offset = dwarf_ranges(&cudie, offset, &base, &start, &end)) > 0) {
            if (end <= start)
                continue;
            if (!range_index_append(&m->cu_ranges, (struct range){.low = start, .high = end, .die = cudie}))
                goto done;
        }
    }
done:
    range_index_finish(&m->cu_ranges);
}

/* Reads .debug_aranges the way libdwfl does, so CUs are found as by
 * eu-addr2line: consecutive ranges of one CU become one run, and the small
 * gaps between runs (code without DWARF, such as crt1.o's _start, or padding)
 * count as part of the run before them. */
static void build_arange_runs(memprof_dwarf_module *m, Dwarf *dwarf) {
    m->arange_runs_built = true;
    Dwarf_Aranges *aranges = NULL;
    size_t count = 0;
    if (dwarf_getaranges(dwarf, &aranges, &count) != 0 || count == 0)
        return;
    m->arange_runs = malloc(count * sizeof *m->arange_runs);
    if (m->arange_runs == NULL)
        return;
    size_t used = 0;
    Dwarf_Off last_cu = 0;
    for (size_t i = 0; i < count; i++) {
        Dwarf_Addr start = 0;
        Dwarf_Word length = 0;
        Dwarf_Off offset = 0;
        if (dwarf_getarangeinfo(dwarf_onearange(aranges, i), &start, &length, &offset) != 0)
            continue;
        if (used == 0 || offset != last_cu)
            m->arange_runs[used++] = (struct arange_run){.start = start, .die_offset = offset};
        last_cu = offset;
        m->aranges_end = start + length; /* libdw sorts them by address */
    }
    m->arange_run_count = used;
}

/* The CU DIE of the run containing `address` (libdwfl's addrarange). */
static Dwarf_Die *arange_cu(memprof_dwarf_module *m, Dwarf *dwarf, Dwarf_Addr address, Dwarf_Die *cudie) {
    if (!m->arange_runs_built)
        build_arange_runs(m, dwarf);
    size_t low = 0, high = m->arange_run_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (m->arange_runs[middle].start <= address)
            low = middle + 1;
        else
            high = middle;
    }
    if (low == 0)
        return NULL;
    /* libdwfl lets the last run reach its end inclusive. */
    if (low == m->arange_run_count && address > m->aranges_end)
        return NULL;
    return dwarf_offdie(dwarf, m->arange_runs[low - 1].die_offset, cudie);
}

/* The CU containing `address`: from .debug_aranges first, then from the table
 * of CU ranges. The DIE is stored in `*cudie`; NULL when no CU covers the
 * address (or the module has no DWARF). */
static Dwarf_Die *find_cu(memprof_dwarf_module *m, Dwarf_Addr address, Dwarf_Die *cudie) {
    Dwarf *dwarf = module_dwarf(m);
    if (dwarf == NULL)
        return NULL;
    if (arange_cu(m, dwarf, address, cudie) != NULL)
        return cudie;
    if (!m->cu_ranges_built)
        build_cu_ranges(m, dwarf);
    const struct range *range = range_index_find(&m->cu_ranges, address);
    if (range == NULL)
        return NULL;
    *cudie = range->die;
    return cudie;
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

    Dwarf_Die cudie_storage;
    Dwarf_Die *cudie = find_cu(module, address, &cudie_storage);
    if (cudie == NULL) {
        size_t count = 0;
        if (symbol != NULL)
            emit(frames, capacity, &count, symbol, NULL, 0, false);
        return (int)count;
    }
    Dwarf_Addr pc = address;

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
