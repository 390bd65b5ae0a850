/*
 * memprof preload — a fast x86-64 unwinder over DWARF call-frame information.
 *
 * At a call site the frame layout is fixed, so each return address has one rule:
 * the caller's CFA is rsp or rbp plus an offset, the return address sits at CFA-8,
 * and rbp is either unchanged or saved at CFA+k. The first time a return address
 * is seen its rule is computed from the module's .eh_frame_hdr / .eh_frame (a
 * small CFI interpreter); the rule is then cached in a lock-free, direct-mapped
 * table, so a frame costs one probe and two loads. libunwind's fast path does the
 * same but about five times slower, mostly in its per-frame bookkeeping.
 *
 * Anything outside that model — a CFA given by an expression (signal frames,
 * PLT stubs), rbp or the return address in another register, no CFI at all —
 * makes memprof_unwind return -1 and the caller falls back to libunwind.
 * Every stack read is bounds-checked against the thread's stack.
 */
#define _GNU_SOURCE
#include <link.h>
#include <string.h>

#include "memprof_build_id.h"
#include "memprof_internal.h"

/* ---- rules and their cache ------------------------------------------------------ */

/* A rule packed in 64 bits:
 *   bits  0..31  CFA offset (unsigned)
 *   bit   32     CFA base: 0 = rsp, 1 = rbp
 *   bit   33     rbp saved (at CFA + rbp offset)
 *   bit   34     outermost frame (return address undefined): stop here
 *   bit   35     valid (0 = unsupported: fall back)
 *   bits 48..63  rbp offset from the CFA (signed 16) */
#define RULE_CFA_RBP (1ull << 32)
#define RULE_RBP_SAVED (1ull << 33)
#define RULE_LAST (1ull << 34)
#define RULE_VALID (1ull << 35)

struct rule_slot {
    _Atomic uintptr_t ip;
    _Atomic uint64_t rule;
};

#define RULE_CACHE_BITS 16
static struct rule_slot g_rules[1u << RULE_CACHE_BITS];

static inline uint32_t rule_index(uintptr_t ip) {
    return (uint32_t)((ip * 0x9E3779B97F4A7C15ull) >> (64 - RULE_CACHE_BITS));
}

/* A seqlock-like read: the rule counts only if the slot held `ip` before and after. */
static inline int rule_lookup(uintptr_t ip, uint64_t *rule) {
    struct rule_slot *s = &g_rules[rule_index(ip)];
    if (atomic_load_explicit(&s->ip, memory_order_acquire) != ip)
        return 0;
    uint64_t r = atomic_load_explicit(&s->rule, memory_order_acquire);
    if (atomic_load_explicit(&s->ip, memory_order_acquire) != ip)
        return 0;
    *rule = r;
    return 1;
}

static void rule_store(uintptr_t ip, uint64_t rule) {
    struct rule_slot *s = &g_rules[rule_index(ip)];
    atomic_store_explicit(&s->ip, 0, memory_order_release);
    atomic_store_explicit(&s->rule, rule, memory_order_release);
    atomic_store_explicit(&s->ip, ip, memory_order_release);
}

/* ---- reading encoded values ---------------------------------------------------- */

struct cursor {
    const uint8_t *p, *end;
    int bad;
};

static uint64_t uleb(struct cursor *c) {
    uint64_t v = 0;
    unsigned shift = 0;
    while (c->p < c->end) {
        uint8_t b = *c->p++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            return v;
    }
    c->bad = 1;
    return 0;
}

static int64_t sleb(struct cursor *c) {
    int64_t v = 0;
    unsigned shift = 0;
    uint8_t b = 0;
    while (c->p < c->end) {
        b = *c->p++;
        if (shift < 64)
            v |= (int64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40))
                v |= -((int64_t)1 << shift);
            return v;
        }
    }
    c->bad = 1;
    return 0;
}

static uint64_t fixed(struct cursor *c, int n) {
    if (c->end - c->p < n) {
        c->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, c->p, (size_t)n);
    c->p += n;
    return v;
}

#define DW_EH_PE_omit 0xff
#define DW_EH_PE_absptr 0x00
#define DW_EH_PE_uleb128 0x01
#define DW_EH_PE_udata2 0x02
#define DW_EH_PE_udata4 0x03
#define DW_EH_PE_udata8 0x04
#define DW_EH_PE_sleb128 0x09
#define DW_EH_PE_sdata2 0x0a
#define DW_EH_PE_sdata4 0x0b
#define DW_EH_PE_sdata8 0x0c
#define DW_EH_PE_pcrel 0x10
#define DW_EH_PE_datarel 0x30
#define DW_EH_PE_indirect 0x80

/* Reads a pointer in encoding `enc`; `data_base` serves datarel encodings. */
static uintptr_t encoded(struct cursor *c, uint8_t enc, uintptr_t data_base) {
    if (enc == DW_EH_PE_omit)
        return 0;
    uintptr_t at = (uintptr_t)c->p;
    uint64_t v;
    switch (enc & 0x0f) {
    case DW_EH_PE_absptr:
        v = fixed(c, 8);
        break;
    case DW_EH_PE_uleb128:
        v = uleb(c);
        break;
    case DW_EH_PE_udata2:
        v = fixed(c, 2);
        break;
    case DW_EH_PE_udata4:
        v = fixed(c, 4);
        break;
    case DW_EH_PE_udata8:
        v = fixed(c, 8);
        break;
    case DW_EH_PE_sleb128:
        v = (uint64_t)sleb(c);
        break;
    case DW_EH_PE_sdata2:
        v = (uint64_t)(int64_t)(int16_t)fixed(c, 2);
        break;
    case DW_EH_PE_sdata4:
        v = (uint64_t)(int64_t)(int32_t)fixed(c, 4);
        break;
    case DW_EH_PE_sdata8:
        v = fixed(c, 8);
        break;
    default:
        c->bad = 1;
        return 0;
    }
    switch (enc & 0x70) {
    case 0:
        break;
    case DW_EH_PE_pcrel:
        v += at;
        break;
    case DW_EH_PE_datarel:
        v += data_base;
        break;
    default:
        c->bad = 1;
        return 0;
    }
    if (enc & DW_EH_PE_indirect)
        v = *(const uint64_t *)(uintptr_t)v;
    return (uintptr_t)v;
}

/* ---- finding the FDE --------------------------------------------------------------- */

struct find_ctx {
    uintptr_t ip;
    const uint8_t *eh_frame_hdr;
};

static int find_module(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct find_ctx *ctx = data;
    if (!memprof_segment_holding(info, ctx->ip))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
            ctx->eh_frame_hdr = (const uint8_t *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    return 1;
}

/* Finds the FDE covering `pc` via the module's binary-search table. */
static const uint8_t *find_fde(uintptr_t pc) {
    struct find_ctx ctx = {pc, NULL};
    dl_iterate_phdr(find_module, &ctx);
    const uint8_t *hdr = ctx.eh_frame_hdr;
    if (!hdr || hdr[0] != 1)
        return NULL;
    uint8_t ptr_enc = hdr[1], count_enc = hdr[2], table_enc = hdr[3];
    struct cursor c = {hdr + 4, hdr + 4 + 16, 0};
    encoded(&c, ptr_enc, (uintptr_t)hdr); /* eh_frame pointer: unused */
    uintptr_t count = encoded(&c, count_enc, (uintptr_t)hdr);
    /* The table is sorted (initial location, FDE address) pairs; the usual encoding
     * is datarel sdata4 relative to the header, which we require. */
    if (c.bad || table_enc != (DW_EH_PE_datarel | DW_EH_PE_sdata4) || count == 0)
        return NULL;
    const int32_t *table = (const int32_t *)c.p;
    size_t lo = 0, hi = count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)hdr + (intptr_t)table[2 * mid] <= pc)
            lo = mid;
        else
            hi = mid;
    }
    if ((uintptr_t)hdr + (intptr_t)table[2 * lo] > pc)
        return NULL;
    return hdr + (intptr_t)table[2 * lo + 1];
}

/* ---- the CFI interpreter ---------------------------------------------------------- */

enum { REG_RBP = 6, REG_RSP = 7, REG_RA = 16 };

struct row {
    int cfa_reg;
    int64_t cfa_off;
    int rbp_saved; /* 1 = saved at CFA + rbp_off */
    int64_t rbp_off;
    int ra_undefined;
    int unsupported; /* a rule we do not model */
};

struct cie {
    uint64_t code_align;
    int64_t data_align;
    uint64_t ra_reg;
    uint8_t fde_enc;
    int has_aug_data;
    const uint8_t *insns, *insns_end;
};

static int parse_cie(const uint8_t *p, struct cie *cie) {
    uint64_t len = *(const uint32_t *)p;
    p += 4;
    if (len == 0xffffffffu)
        return -1; /* 64-bit DWARF: not used on x86-64 Linux */
    struct cursor c = {p, p + len, 0};
    if (fixed(&c, 4) != 0)
        return -1; /* not a CIE */
    uint8_t version = (uint8_t)fixed(&c, 1);
    const char *aug = (const char *)c.p;
    size_t aug_len = strnlen(aug, (size_t)(c.end - c.p));
    c.p += aug_len + 1;
    cie->code_align = uleb(&c);
    cie->data_align = sleb(&c);
    cie->ra_reg = version == 1 ? fixed(&c, 1) : uleb(&c);
    cie->fde_enc = DW_EH_PE_absptr;
    cie->has_aug_data = aug[0] == 'z';
    if (cie->has_aug_data) {
        uint64_t n = uleb(&c);
        const uint8_t *after = c.p + n;
        for (const char *a = aug + 1; *a && !c.bad; a++) {
            if (*a == 'R')
                cie->fde_enc = (uint8_t)fixed(&c, 1);
            else if (*a == 'P')
                encoded(&c, (uint8_t)fixed(&c, 1), 0);
            else if (*a == 'L')
                fixed(&c, 1);
            else if (*a == 'S' || *a == 'B')
                ;
            else
                break; /* unknown: the length lets us skip the rest */
        }
        c.p = after;
    } else if (aug[0] != 0) {
        return -1;
    }
    cie->insns = c.p;
    cie->insns_end = c.end;
    return c.bad ? -1 : 0;
}

#define STATE_STACK 8

/* Runs CFA instructions until the location passes `target`. */
static void run_cfi(const uint8_t *p, const uint8_t *end, const struct cie *cie, uintptr_t loc, uintptr_t target,
                    struct row *row, const struct row *initial) {
    struct row stack[STATE_STACK];
    int depth = 0;
    struct cursor c = {p, end, 0};
    while (c.p < c.end && !c.bad && !row->unsupported) {
        uint8_t op = *c.p++;
        uint8_t high = op & 0xc0, low = op & 0x3f;
        uint64_t reg;
        int64_t off;
        if (high == 0x40) { /* advance_loc */
            loc += low * cie->code_align;
            if (loc > target)
                return;
            continue;
        }
        if (high == 0x80) { /* offset */
            off = (int64_t)uleb(&c) * cie->data_align;
            reg = low;
            goto set_offset;
        }
        if (high == 0xc0) { /* restore */
            reg = low;
            goto restore;
        }
        switch (op) {
        case 0x00: /* nop */
            break;
        case 0x01: /* set_loc */
            loc = encoded(&c, cie->fde_enc, 0);
            if (loc > target)
                return;
            break;
        case 0x02: /* advance_loc1 */
        case 0x03: /* advance_loc2 */
        case 0x04: /* advance_loc4 */
            loc += fixed(&c, op == 0x02 ? 1 : op == 0x03 ? 2 : 4) * cie->code_align;
            if (loc > target)
                return;
            break;
        case 0x05: /* offset_extended */
            reg = uleb(&c);
            off = (int64_t)uleb(&c) * cie->data_align;
            goto set_offset;
        case 0x06: /* restore_extended */
            reg = uleb(&c);
            goto restore;
        case 0x07: /* undefined */
            reg = uleb(&c);
            if (reg == REG_RA)
                row->ra_undefined = 1;
            else if (reg == REG_RBP)
                row->unsupported = 1;
            break;
        case 0x08: /* same_value */
            reg = uleb(&c);
            if (reg == REG_RBP)
                row->rbp_saved = 0;
            break;
        case 0x09: /* register */
            reg = uleb(&c);
            uleb(&c);
            if (reg == REG_RBP || reg == REG_RA)
                row->unsupported = 1;
            break;
        case 0x0a: /* remember_state */
            if (depth == STATE_STACK)
                row->unsupported = 1;
            else
                stack[depth++] = *row;
            break;
        case 0x0b: /* restore_state */
            if (depth == 0)
                row->unsupported = 1;
            else
                *row = stack[--depth];
            break;
        case 0x0c: /* def_cfa */
            row->cfa_reg = (int)uleb(&c);
            row->cfa_off = (int64_t)uleb(&c);
            break;
        case 0x0d: /* def_cfa_register */
            row->cfa_reg = (int)uleb(&c);
            break;
        case 0x0e: /* def_cfa_offset */
            row->cfa_off = (int64_t)uleb(&c);
            break;
        case 0x0f: /* def_cfa_expression */
            row->unsupported = 1;
            break;
        case 0x10: /* expression */
            reg = uleb(&c);
            c.p += uleb(&c);
            if (reg == REG_RBP || reg == REG_RA)
                row->unsupported = 1;
            break;
        case 0x11: /* offset_extended_sf */
            reg = uleb(&c);
            off = sleb(&c) * cie->data_align;
            goto set_offset;
        case 0x12: /* def_cfa_sf */
            row->cfa_reg = (int)uleb(&c);
            row->cfa_off = sleb(&c) * cie->data_align;
            break;
        case 0x13: /* def_cfa_offset_sf */
            row->cfa_off = sleb(&c) * cie->data_align;
            break;
        case 0x14: /* val_offset */
        case 0x15: /* val_offset_sf */
            reg = uleb(&c);
            if (op == 0x14)
                uleb(&c);
            else
                sleb(&c);
            if (reg == REG_RBP || reg == REG_RA)
                row->unsupported = 1;
            break;
        case 0x16: /* val_expression */
            reg = uleb(&c);
            c.p += uleb(&c);
            if (reg == REG_RBP || reg == REG_RA)
                row->unsupported = 1;
            break;
        case 0x2e: /* GNU_args_size */
            uleb(&c);
            break;
        case 0x2f: /* GNU_negative_offset_extended */
            reg = uleb(&c);
            off = -(int64_t)uleb(&c) * cie->data_align;
            goto set_offset;
        default:
            row->unsupported = 1;
            break;
        }
        continue;
    set_offset:
        if (reg == REG_RBP) {
            row->rbp_saved = 1;
            row->rbp_off = off;
        } else if (reg == REG_RA && off != -8) {
            row->unsupported = 1;
        }
        continue;
    restore:
        if (!initial) {
            row->unsupported = 1; /* restore inside the CIE itself */
        } else if (reg == REG_RBP) {
            row->rbp_saved = initial->rbp_saved;
            row->rbp_off = initial->rbp_off;
        }
    }
    if (c.bad)
        row->unsupported = 1;
}

/* Computes the rule for return address `ip` from the module's CFI. */
static uint64_t compute_rule(uintptr_t ip) {
    uintptr_t pc = ip - 1; /* inside the call instruction */
    const uint8_t *fde = find_fde(pc);
    if (!fde)
        return 0;
    uint32_t len = *(const uint32_t *)fde;
    if (len == 0 || len == 0xffffffffu)
        return 0;
    const uint8_t *body = fde + 4;
    const uint8_t *end = body + len;
    uint32_t cie_off = *(const uint32_t *)body;
    if (cie_off == 0)
        return 0; /* that's a CIE */
    struct cie cie;
    if (parse_cie(body - cie_off, &cie) != 0 || cie.ra_reg != REG_RA)
        return 0;
    struct cursor c = {body + 4, end, 0};
    uintptr_t start = encoded(&c, cie.fde_enc, 0);
    uintptr_t range = encoded(&c, cie.fde_enc & 0x0f, 0);
    if (c.bad || pc < start || pc >= start + range)
        return 0;
    if (cie.has_aug_data)
        c.p += uleb(&c);
    if (c.bad || c.p > end)
        return 0;

    struct row row = {REG_RSP, 8, 0, 0, 0, 0};
    run_cfi(cie.insns, cie.insns_end, &cie, start, (uintptr_t)-1, &row, NULL);
    struct row initial = row;
    run_cfi(c.p, end, &cie, start, pc, &row, &initial);
    if (row.unsupported || (row.cfa_reg != REG_RSP && row.cfa_reg != REG_RBP) || row.cfa_off < 0 ||
        row.cfa_off > 0xffffffffll || row.rbp_off < -32768 || row.rbp_off > 32767)
        return 0;
    uint64_t rule = RULE_VALID | (uint64_t)row.cfa_off;
    if (row.cfa_reg == REG_RBP)
        rule |= RULE_CFA_RBP;
    if (row.rbp_saved)
        rule |= RULE_RBP_SAVED | ((uint64_t)(uint16_t)(int16_t)row.rbp_off << 48);
    if (row.ra_undefined)
        rule |= RULE_LAST;
    return rule;
}

/* ---- unwinding ------------------------------------------------------------------------ */

/* Whether frames 0..k of the cached stack would unwind the same way now, given frame
 * k's registers are equal: each step outward followed from the stack slots its
 * return address and rbp were read from, so those must still hold what they held. */
static int still_valid_outward(const struct memprof_unwind_cache *c, int k) {
    for (int m = k; m > 0; m--) {
        if (*(const uintptr_t *)(c->sp[m - 1] - 8) != c->ip[m - 1])
            return 0;
        if (c->bp_slot[m] && *(const uintptr_t *)c->bp_slot[m] != c->bp[m - 1])
            return 0;
    }
    return !c->end_slot || *(const uintptr_t *)c->end_slot == 0;
}

int memprof_unwind(const struct memprof_regs *regs, uintptr_t lo, uintptr_t hi, struct memprof_unwind_cache *c) {
    /* Frames found now, innermost first, until the walk reaches a frame of the
     * cached stack (its stack pointers decrease with the index, so a cursor moving
     * outward finds the candidate). */
    uintptr_t fip[MEMPROF_MAX_FRAMES], fsp[MEMPROF_MAX_FRAMES], fbp[MEMPROF_MAX_FRAMES], fslot[MEMPROF_MAX_FRAMES];
    uintptr_t ip = regs->ip, sp = regs->sp, bp = regs->bp, end_slot = 0;
    int f = 0, k = c->n - 1, join = -1, at_max = 0;
    for (;;) {
        while (k >= 0 && c->sp[k] < sp)
            k--;
        if (k >= 0 && c->sp[k] == sp && c->ip[k] == ip && c->bp[k] == bp && !c->at_max &&
            k + 1 + f <= MEMPROF_MAX_FRAMES && still_valid_outward(c, k)) {
            join = k;
            break;
        }
        if (f == MEMPROF_MAX_FRAMES) {
            at_max = 1;
            break;
        }
        fip[f] = ip;
        fsp[f] = sp;
        fbp[f] = bp;
        fslot[f] = 0;
        f++;
        uint64_t rule;
        if (MEMPROF_UNLIKELY(!rule_lookup(ip, &rule))) {
            rule = compute_rule(ip);
            rule_store(ip, rule);
        }
        if (MEMPROF_UNLIKELY(!(rule & RULE_VALID)))
            return -1;
        uintptr_t cfa = ((rule & RULE_CFA_RBP) ? bp : sp) + (uint32_t)rule;
        /* The CFA only moves up the stack, and everything read is inside it. */
        if ((rule & RULE_LAST) || MEMPROF_UNLIKELY(cfa <= sp || cfa - 8 < lo || cfa > hi))
            break;
        uintptr_t ra = *(const uintptr_t *)(cfa - 8);
        if (rule & RULE_RBP_SAVED) {
            uintptr_t at = cfa + (intptr_t)(int16_t)(rule >> 48);
            if (MEMPROF_UNLIKELY(at < lo || at + 8 > hi))
                break;
            bp = *(const uintptr_t *)at;
            fslot[f - 1] = at;
        }
        sp = cfa;
        if (ra == 0) {
            end_slot = cfa - 8;
            break;
        }
        ip = ra;
    }
    if (join == c->n - 1 && f == 0)
        return 0; /* the same stack as last time: frames, hash and id stand */
    /* Keep frames 0..join, put the new frames after them, outermost first. */
    int base = join + 1;
    for (int i = 0; i < f; i++) {
        int d = base + f - 1 - i;
        c->ip[d] = fip[i];
        c->sp[d] = fsp[i];
        c->bp[d] = fbp[i];
        c->bp_slot[d] = fslot[i];
    }
    c->n = base + f;
    if (join < 0) {
        c->end_slot = end_slot;
        c->at_max = at_max;
    }
    for (int d = base; d < c->n; d++)
        c->hash[d] = memprof_hash_step(d ? c->hash[d - 1] : MEMPROF_HASH_SEED, c->ip[d]);
    c->stack_id = 0;
    return 0;
}
