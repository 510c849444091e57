#include "eh_frame.h"

#include <stdlib.h>
#include <string.h>

#include "signal_path.h"

/* The reader of one FDE (pp_eh_frame_rule_at_within) runs in the signal
 * handler, as does everything it calls: those functions are PP_SIGNAL_PATH,
 * kept with the handler's code. Elsewhere in the text, each sample that
 * reads an FDE met them evicted: node's FDE reads cost twice as much. */

/* x86-64 DWARF register numbers. */
#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16

/* Limits that keep a hostile table from costing more than a real one. */
#define MAX_FDES (1u << 21)          /* libxul has ~300k */
#define MAX_ROWS (1u << 24)          /* 16M rows, 384 MiB: far past any real object */
#define MAX_REMEMBERED 16             /* DW_CFA_remember_state nesting */

/* A bounded reader: every read checks the end and sets bad instead of
 * reading past it; once bad, reads return 0 and the caller gives up. */
typedef struct cursor {
    const uint8_t *p, *end;
    int bad;
} cursor;

PP_SIGNAL_PATH static uint64_t read_u(cursor *c, size_t n)
{
    if (c->bad || (size_t)(c->end - c->p) < n) {
        c->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)c->p[i] << (8 * i); /* x86-64 is little-endian */
    c->p += n;
    return v;
}

PP_SIGNAL_PATH static uint64_t read_uleb(cursor *c)
{
    uint64_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
        if (c->bad || c->p >= c->end || shift >= 64) {
            c->bad = 1;
            return 0;
        }
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
}

PP_SIGNAL_PATH static int64_t read_sleb(cursor *c)
{
    uint64_t v = 0;
    unsigned shift = 0;
    for (;;) {
        if (c->bad || c->p >= c->end || shift >= 64) {
            c->bad = 1;
            return 0;
        }
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40))
                v |= ~(uint64_t)0 << shift;
            return (int64_t)v;
        }
    }
}

PP_SIGNAL_PATH static void skip(cursor *c, uint64_t n)
{
    if (c->bad || (uint64_t)(c->end - c->p) < n) {
        c->bad = 1;
        return;
    }
    c->p += n;
}

/* DW_EH_PE_* pointer encodings. */
#define PE_OMIT 0xff
#define PE_ABSPTR 0x00
#define PE_ULEB128 0x01
#define PE_UDATA2 0x02
#define PE_UDATA4 0x03
#define PE_UDATA8 0x04
#define PE_SLEB128 0x09
#define PE_SDATA2 0x0a
#define PE_SDATA4 0x0b
#define PE_SDATA8 0x0c
#define PE_PCREL 0x10
#define PE_DATAREL 0x30

typedef struct parser {
    const pp_eh_frame_view *v;
    uint64_t hdr_vaddr;
} parser;

PP_SIGNAL_PATH static uint64_t vaddr_of(const parser *ps, const uint8_t *p)
{
    return ps->v->vaddr + (uint64_t)(p - ps->v->data);
}

/* Reads a pointer in encoding enc; sets bad for encodings a loaded object's
 * unwind tables do not use here (indirect, text- and function-relative). */
PP_SIGNAL_PATH static uint64_t read_encoded(const parser *ps, cursor *c, uint8_t enc)
{
    if (enc == PE_OMIT) {
        c->bad = 1;
        return 0;
    }
    uint64_t base = 0;
    switch (enc & 0x70) {
    case 0:
        break;
    case PE_PCREL:
        base = vaddr_of(ps, c->p);
        break;
    case PE_DATAREL:
        base = ps->hdr_vaddr;
        break;
    default:
        c->bad = 1;
        return 0;
    }
    if (enc & 0x80) { /* indirect */
        c->bad = 1;
        return 0;
    }
    uint64_t v;
    switch (enc & 0x0f) {
    case PE_ABSPTR:
    case PE_UDATA8:
    case PE_SDATA8:
        v = read_u(c, 8);
        break;
    case PE_ULEB128:
        v = read_uleb(c);
        break;
    case PE_SLEB128:
        v = (uint64_t)read_sleb(c);
        break;
    case PE_UDATA2:
        v = read_u(c, 2);
        break;
    case PE_SDATA2:
        v = (uint64_t)(int64_t)(int16_t)read_u(c, 2);
        break;
    case PE_UDATA4:
        v = read_u(c, 4);
        break;
    case PE_SDATA4:
        v = (uint64_t)(int64_t)(int32_t)read_u(c, 4);
        break;
    default:
        c->bad = 1;
        return 0;
    }
    return base + v;
}

/* Points c at the view's bytes for [vaddr, ...): bad when outside it. */
PP_SIGNAL_PATH static void seek(const parser *ps, cursor *c, uint64_t vaddr)
{
    const pp_eh_frame_view *v = ps->v;
    c->end = v->data + v->len;
    if (vaddr < v->vaddr || vaddr - v->vaddr >= v->len) {
        c->p = c->end;
        c->bad = 1;
        return;
    }
    c->p = v->data + (vaddr - v->vaddr);
    c->bad = 0;
}

/* One CIE or FDE record: its body [body, end) after the length field. */
PP_SIGNAL_PATH static int read_record(const parser *ps, uint64_t vaddr, cursor *body)
{
    seek(ps, body, vaddr);
    uint64_t len = read_u(body, 4);
    if (len == 0xffffffffu)
        len = read_u(body, 8);
    if (body->bad || len == 0 || len > (uint64_t)(body->end - body->p))
        return -1;
    body->end = body->p + len;
    return 0;
}

typedef struct cie {
    uint64_t vaddr;
    uint64_t code_align;
    int64_t data_align;
    uint8_t fde_enc;
    int has_aug_data, signal_frame;
    const uint8_t *insns, *insns_end;
} cie;

PP_SIGNAL_PATH static int read_cie(const parser *ps, uint64_t vaddr, cie *out)
{
    cursor c;
    if (read_record(ps, vaddr, &c) != 0)
        return -1;
    if (read_u(&c, 4) != 0) /* a CIE's id is 0 in .eh_frame */
        return -1;
    uint64_t version = read_u(&c, 1);
    if (version != 1 && version != 3)
        return -1;
    const uint8_t *aug = c.p;
    while (c.p < c.end && *c.p)
        c.p++;
    if (c.p >= c.end)
        return -1;
    size_t aug_len = (size_t)(c.p - aug);
    c.p++;
    memset(out, 0, sizeof *out);
    out->vaddr = vaddr;
    out->fde_enc = PE_ABSPTR;
    out->code_align = read_uleb(&c);
    out->data_align = read_sleb(&c);
    uint64_t ra = version == 1 ? read_u(&c, 1) : read_uleb(&c);
    if (c.bad || ra != REG_RA)
        return -1;
    if (aug_len && aug[0] == 'z') {
        out->has_aug_data = 1;
        uint64_t n = read_uleb(&c);
        if (c.bad || n > (uint64_t)(c.end - c.p))
            return -1;
        cursor a = {c.p, c.p + n, 0};
        for (size_t i = 1; i < aug_len && !a.bad; i++) {
            switch (aug[i]) {
            case 'L':
                read_u(&a, 1);
                break;
            case 'P': {
                uint8_t enc = (uint8_t)read_u(&a, 1);
                if (!a.bad)
                    read_encoded(ps, &a, enc & 0x7f); /* personality: value unused, indirect is fine */
                break;
            }
            case 'R':
                out->fde_enc = (uint8_t)read_u(&a, 1);
                break;
            case 'S':
                out->signal_frame = 1;
                break;
            default:
                i = aug_len; /* unknown: the length field lets us skip the rest */
            }
        }
        c.p += n;
    } else if (aug_len) {
        return -1; /* augmentations without 'z' cannot be skipped safely */
    }
    if (c.bad)
        return -1;
    out->insns = c.p;
    out->insns_end = c.end;
    return 0;
}

/* The register rules the table cares about, as a CFA program leaves them. */
enum { RULE_SAME, RULE_OFFSET, RULE_UNDEFINED, RULE_OTHER };

typedef struct cfa_state {
    int cfa_reg;
    int64_t cfa_offset;
    int cfa_expr;
    int plt_threshold; /* > 0: the PLT expression, 8 more from (pc & 15) >= this */
    int rbp_rule, ra_rule;
    int64_t rbp_offset, ra_offset;
} cfa_state;

typedef struct program {
    const parser *ps;
    const cie *cie;
    pp_cfi_rows *out; /* NULL when finding: the row covering target is kept in found instead */
    uint64_t target;
    pp_cfi_row found;
    int have_found;
    uint64_t loc, end;
    cfa_state st, initial;
    cfa_state stack[MAX_REMEMBERED];
    int depth, overflowed;
    int oom;
} program;

PP_SIGNAL_PATH static pp_cfi_row row_of(const program *pg)
{
    const cfa_state *s = &pg->st;
    pp_cfi_row r = {pg->loc, 0, PP_CFI_RBP_UNCHANGED, PP_CFI_FALLBACK};
    if (pg->cie->signal_frame || pg->overflowed || s->cfa_expr)
        return r;
    if (s->plt_threshold) {
        if (s->ra_rule != RULE_OFFSET || s->ra_offset != -8 || s->rbp_rule != RULE_SAME || s->cfa_offset < 0 ||
            s->cfa_offset > INT32_MAX)
            return r;
        r.kind = PP_CFI_PLT;
        r.cfa_offset = (int32_t)s->cfa_offset;
        r.rbp_offset = (int16_t)s->plt_threshold;
        return r;
    }
    if (s->ra_rule == RULE_UNDEFINED) {
        r.kind = PP_CFI_OUTERMOST;
        return r;
    }
    if (s->ra_rule != RULE_OFFSET || s->ra_offset != -8)
        return r;
    if (s->cfa_reg != REG_RSP && s->cfa_reg != REG_RBP)
        return r;
    if (s->cfa_offset < INT32_MIN || s->cfa_offset > INT32_MAX)
        return r;
    if (s->rbp_rule == RULE_OFFSET) {
        if (s->rbp_offset == 0 || s->rbp_offset < INT16_MIN || s->rbp_offset > INT16_MAX)
            return r;
        r.rbp_offset = (int16_t)s->rbp_offset;
    } else if (s->rbp_rule != RULE_SAME) {
        return r;
    }
    r.cfa_offset = (int32_t)s->cfa_offset;
    r.kind = s->cfa_reg == REG_RSP ? PP_CFI_CFA_RSP : PP_CFI_CFA_RBP;
    return r;
}

static int push_row(pp_cfi_rows *out, pp_cfi_row r)
{
    if (out->n && out->rows[out->n - 1].pc == r.pc) {
        out->rows[out->n - 1] = r; /* advanced by zero: the later rule wins */
        return 0;
    }
    if (out->n >= out->limit)
        return -1;
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 1024;
        pp_cfi_row *rows = realloc(out->rows, cap * sizeof *rows);
        if (!rows)
            return -1;
        out->rows = rows;
        out->cap = cap;
    }
    out->rows[out->n++] = r;
    return 0;
}

PP_SIGNAL_PATH static void emit(program *pg)
{
    if (!pg->out) {
        if (pg->loc < pg->end && pg->loc <= pg->target) {
            pg->found = row_of(pg);
            pg->have_found = 1;
        }
        return;
    }
    if (pg->loc < pg->end && !pg->oom && push_row(pg->out, row_of(pg)) != 0)
        pg->oom = 1;
}

PP_SIGNAL_PATH static void advance(program *pg, uint64_t delta)
{
    emit(pg);
    uint64_t step = delta * pg->cie->code_align;
    pg->loc = step > pg->end - pg->loc ? pg->end : pg->loc + step;
}

/* A register offset times the data alignment factor; a product past
 * int64 (hostile input only) becomes one no row can hold. */
static int64_t scaled(int64_t v, int64_t factor)
{
    int64_t r;
    return __builtin_mul_overflow(v, factor, &r) ? INT64_MAX : r;
}

PP_SIGNAL_PATH static void set_rule(program *pg, uint64_t reg, int rule, int64_t offset)
{
    if (reg == REG_RBP) {
        pg->st.rbp_rule = rule;
        pg->st.rbp_offset = offset;
    } else if (reg == REG_RA) {
        pg->st.ra_rule = rule;
        pg->st.ra_offset = offset;
    }
}

PP_SIGNAL_PATH static void restore_rule(program *pg, uint64_t reg)
{
    if (reg == REG_RBP) {
        pg->st.rbp_rule = pg->initial.rbp_rule;
        pg->st.rbp_offset = pg->initial.rbp_offset;
    } else if (reg == REG_RA) {
        pg->st.ra_rule = pg->initial.ra_rule;
        pg->st.ra_offset = pg->initial.ra_offset;
    }
}

/* The CFA expression GNU ld and lld write for .plt entries:
 *   rsp + n + (((rip & 15) >= k) << 3)
 * (breg7 n; breg16 0; lit15; and; lit<k>; ge; lit3; shl; plus): the entry
 * pushes once, k bytes in. Any other expression falls back. */
PP_SIGNAL_PATH static void plt_expression(cfa_state *st, const uint8_t *e, uint64_t len)
{
    cursor c = {e, e + len, 0};
    st->cfa_expr = 1;
    st->plt_threshold = 0;
    if (read_u(&c, 1) != 0x77) /* DW_OP_breg7 (rsp) */
        return;
    int64_t n = read_sleb(&c);
    static const uint8_t middle[] = {0x80, 0x00, 0x3f, 0x1a}; /* breg16 0; lit15; and */
    for (size_t i = 0; i < sizeof middle; i++)
        if (read_u(&c, 1) != middle[i])
            return;
    uint64_t lit = read_u(&c, 1);
    static const uint8_t tail[] = {0x2a, 0x33, 0x24, 0x22}; /* ge; lit3; shl; plus */
    for (size_t i = 0; i < sizeof tail; i++)
        if (read_u(&c, 1) != tail[i])
            return;
    if (c.bad || c.p != c.end || lit < 0x31 || lit > 0x3f || n < 0 || n > 64)
        return;
    st->cfa_expr = 0;
    st->cfa_reg = REG_RSP;
    st->cfa_offset = n;
    st->plt_threshold = (int)(lit - 0x30);
}

/* Runs one CFA program; rows are emitted when emit_rows (the FDE's, not the
 * CIE's initial instructions). Each instruction consumes at least one byte,
 * so the loop ends within the program's length. */
PP_SIGNAL_PATH static void run(program *pg, const uint8_t *p, const uint8_t *end, int emit_rows)
{
    cursor c = {p, end, 0};
    int64_t da = pg->cie->data_align;
    /* Finding: the rows past target cannot be the one covering it. */
    while (c.p < c.end && !c.bad && !pg->oom && pg->loc < pg->end && (pg->out || pg->loc <= pg->target)) {
        uint8_t op = (uint8_t)read_u(&c, 1);
        uint8_t low = op & 0x3f;
        switch (op >> 6) {
        case 1: /* DW_CFA_advance_loc */
            if (emit_rows)
                advance(pg, low);
            continue;
        case 2: /* DW_CFA_offset */
            set_rule(pg, low, RULE_OFFSET, scaled((int64_t)read_uleb(&c), da));
            continue;
        case 3: /* DW_CFA_restore */
            restore_rule(pg, low);
            continue;
        }
        switch (op) {
        case 0x00: /* nop */
            break;
        case 0x01: { /* set_loc */
            uint64_t to = read_encoded(pg->ps, &c, pg->cie->fde_enc);
            if (emit_rows && !c.bad && to > pg->loc)
                advance(pg, (to - pg->loc) / (pg->cie->code_align ? pg->cie->code_align : 1));
            break;
        }
        case 0x02: /* advance_loc1 */
        case 0x03: /* advance_loc2 */
        case 0x04: { /* advance_loc4 */
            uint64_t d = read_u(&c, op == 0x02 ? 1 : op == 0x03 ? 2 : 4);
            if (emit_rows && !c.bad)
                advance(pg, d);
            break;
        }
        case 0x05: { /* offset_extended */
            uint64_t reg = read_uleb(&c);
            set_rule(pg, reg, RULE_OFFSET, scaled((int64_t)read_uleb(&c), da));
            break;
        }
        case 0x06: /* restore_extended */
            restore_rule(pg, read_uleb(&c));
            break;
        case 0x07: /* undefined */
            set_rule(pg, read_uleb(&c), RULE_UNDEFINED, 0);
            break;
        case 0x08: /* same_value */
            set_rule(pg, read_uleb(&c), RULE_SAME, 0);
            break;
        case 0x09: { /* register */
            uint64_t reg = read_uleb(&c);
            read_uleb(&c);
            set_rule(pg, reg, RULE_OTHER, 0);
            break;
        }
        case 0x0a: /* remember_state */
            if (pg->depth < MAX_REMEMBERED)
                pg->stack[pg->depth++] = pg->st;
            else
                pg->overflowed = 1; /* every later row falls back */
            break;
        case 0x0b: /* restore_state */
            if (pg->depth > 0)
                pg->st = pg->stack[--pg->depth];
            break;
        case 0x0c: /* def_cfa */
            pg->st.cfa_reg = (int)(read_uleb(&c) & 0xffff);
            pg->st.cfa_offset = (int64_t)read_uleb(&c);
            pg->st.cfa_expr = 0;
            pg->st.plt_threshold = 0;
            break;
        case 0x0d: /* def_cfa_register */
            pg->st.cfa_reg = (int)(read_uleb(&c) & 0xffff);
            pg->st.cfa_expr = 0;
            pg->st.plt_threshold = 0;
            break;
        case 0x0e: /* def_cfa_offset */
            pg->st.cfa_offset = (int64_t)read_uleb(&c);
            break;
        case 0x0f: { /* def_cfa_expression */
            uint64_t len = read_uleb(&c);
            const uint8_t *expr = c.p;
            skip(&c, len);
            if (!c.bad)
                plt_expression(&pg->st, expr, len);
            break;
        }
        case 0x10: { /* expression */
            uint64_t reg = read_uleb(&c);
            skip(&c, read_uleb(&c));
            set_rule(pg, reg, RULE_OTHER, 0);
            break;
        }
        case 0x11: { /* offset_extended_sf */
            uint64_t reg = read_uleb(&c);
            set_rule(pg, reg, RULE_OFFSET, scaled(read_sleb(&c), da));
            break;
        }
        case 0x12: /* def_cfa_sf */
            pg->st.cfa_reg = (int)(read_uleb(&c) & 0xffff);
            pg->st.cfa_offset = scaled(read_sleb(&c), da);
            pg->st.cfa_expr = 0;
            pg->st.plt_threshold = 0;
            break;
        case 0x13: /* def_cfa_offset_sf */
            pg->st.cfa_offset = scaled(read_sleb(&c), da);
            break;
        case 0x14: /* val_offset */
        case 0x15: { /* val_offset_sf */
            uint64_t reg = read_uleb(&c);
            if (op == 0x14)
                read_uleb(&c);
            else
                read_sleb(&c);
            set_rule(pg, reg, RULE_OTHER, 0);
            break;
        }
        case 0x16: { /* val_expression */
            uint64_t reg = read_uleb(&c);
            skip(&c, read_uleb(&c));
            set_rule(pg, reg, RULE_OTHER, 0);
            break;
        }
        case 0x2e: /* GNU_args_size */
            read_uleb(&c);
            break;
        case 0x2f: { /* GNU_negative_offset_extended */
            uint64_t reg = read_uleb(&c);
            set_rule(pg, reg, RULE_OFFSET, scaled(scaled((int64_t)read_uleb(&c), da), -1));
            break;
        }
        default:
            /* An unknown opcode: its operands cannot be skipped, so nothing
             * after it can be trusted. The rest of the FDE falls back. */
            pg->overflowed = 1;
            c.bad = 1;
        }
    }
    if (c.bad)
        pg->overflowed = 1;
}

/* Reads the FDE at vaddr (its CIE from cie_cache when the same) and runs
 * its CFA program into pg, which holds out or target: 0; -1 when the FDE or
 * its CIE cannot be read; 1 when finding and the FDE does not cover
 * target. */
PP_SIGNAL_PATH static int run_fde(const parser *ps, uint64_t vaddr, cie *cie_cache, program *pg)
{
    cursor c;
    if (read_record(ps, vaddr, &c) != 0)
        return -1;
    const uint8_t *id_at = c.p;
    uint64_t cie_delta = read_u(&c, 4);
    if (c.bad || cie_delta == 0)
        return -1; /* a CIE where an FDE was expected */
    uint64_t cie_vaddr = vaddr_of(ps, id_at) - cie_delta;
    if (cie_cache->vaddr != cie_vaddr || !cie_cache->insns) {
        cie_cache->insns = NULL;
        if (read_cie(ps, cie_vaddr, cie_cache) != 0) {
            cie_cache->insns = NULL;
            return -1;
        }
    }
    const cie *ci = cie_cache;
    uint64_t start = read_encoded(ps, &c, ci->fde_enc);
    uint64_t range = read_encoded(ps, &c, ci->fde_enc & 0x0f);
    if (ci->has_aug_data)
        skip(&c, read_uleb(&c));
    if (c.bad || range == 0 || start + range < start)
        return -1;
    if (!pg->out && (pg->target < start || pg->target - start >= range))
        return 1;
    pg->ps = ps;
    pg->cie = ci;
    pg->loc = start;
    pg->end = start + range;
    pg->st.cfa_reg = REG_RSP;
    pg->st.rbp_rule = RULE_SAME;
    pg->st.ra_rule = RULE_SAME;
    run(pg, ci->insns, ci->insns_end, 0);
    pg->initial = pg->st;
    pg->depth = 0;
    run(pg, c.p, c.end, 1);
    emit(pg);
    return 0;
}

static int read_fde(const parser *ps, uint64_t vaddr, cie *cie_cache, pp_cfi_rows *out)
{
    program pg;
    memset(&pg, 0, sizeof pg);
    pg.out = out;
    int r = run_fde(ps, vaddr, cie_cache, &pg);
    if (r != 0)
        return -1;
    if (!pg.oom && push_row(out, (pp_cfi_row){pg.end, 0, PP_CFI_RBP_UNCHANGED, PP_CFI_GAP}) != 0)
        pg.oom = 1;
    return pg.oom ? -2 : 0;
}

/* The header up to its table: c left at the table's first entry. */
PP_SIGNAL_PATH static int read_header(const parser *ps, cursor *c, uint8_t *table_enc, uint64_t *count)
{
    seek(ps, c, ps->hdr_vaddr);
    uint8_t version = (uint8_t)read_u(c, 1);
    uint8_t frame_ptr_enc = (uint8_t)read_u(c, 1);
    uint8_t count_enc = (uint8_t)read_u(c, 1);
    *table_enc = (uint8_t)read_u(c, 1);
    if (c->bad || version != 1 || count_enc == PE_OMIT || *table_enc == PE_OMIT)
        return -1;
    read_encoded(ps, c, frame_ptr_enc);
    *count = read_encoded(ps, c, count_enc);
    return c->bad || *count > MAX_FDES ? -1 : 0;
}

size_t pp_eh_frame_fde_count(const pp_eh_frame_view *v)
{
    parser ps = {v, v->vaddr + v->hdr_offset};
    cursor c;
    uint8_t table_enc;
    uint64_t count;
    return read_header(&ps, &c, &table_enc, &count) == 0 ? (size_t)count : 0;
}

int pp_eh_frame_parse(const pp_eh_frame_view *v, pp_cfi_rows *out)
{
    parser ps = {v, v->vaddr + v->hdr_offset};
    /* Every row but an FDE's first and last needs an instruction byte, and
     * an FDE takes 16 bytes or more: a table listing one FDE many times
     * must not multiply its rows. */
    out->limit = out->n + (v->len < MAX_ROWS ? v->len : MAX_ROWS);
    cursor c;
    uint8_t table_enc;
    uint64_t count;
    if (read_header(&ps, &c, &table_enc, &count) != 0)
        return -1;
    cie cie_cache;
    memset(&cie_cache, 0, sizeof cie_cache);
    for (uint64_t i = 0; i < count; i++) {
        read_encoded(&ps, &c, table_enc); /* the FDE's start, read again from the FDE */
        uint64_t fde = read_encoded(&ps, &c, table_enc);
        if (c.bad)
            return 0; /* the table ends early: what was read stands */
        int r = read_fde(&ps, fde, &cie_cache, out);
        if (r == -2)
            return out->n >= out->limit ? 0 : -1; /* as many rows as the bytes allow, or out of memory */
        if (r == 0)
            out->fdes++;
        else
            out->fdes_skipped++;
    }
    return 0;
}

/* Bytes a table entry's pointer takes in encoding enc; 0 when not fixed. */
PP_SIGNAL_PATH static size_t fixed_size(uint8_t enc)
{
    switch (enc & 0x0f) {
    case PE_UDATA2:
    case PE_SDATA2:
        return 2;
    case PE_UDATA4:
    case PE_SDATA4:
        return 4;
    case PE_ABSPTR:
    case PE_UDATA8:
    case PE_SDATA8:
        return 8;
    default:
        return 0;
    }
}

/* The header's table, for a search: c at its first entry, each entry
 * entry bytes. -1 when its entries are not of a fixed size or the view
 * cannot hold count of them. */
PP_SIGNAL_PATH static int read_search_table(const parser *ps, cursor *c, uint8_t *table_enc, uint64_t *count,
                                            size_t *entry)
{
    if (read_header(ps, c, table_enc, count) != 0)
        return -1;
    *entry = 2 * fixed_size(*table_enc);
    return *entry && *count <= (uint64_t)(c->end - c->p) / *entry ? 0 : -1;
}

int pp_eh_frame_index(const pp_eh_frame_view *v, uint64_t lo, uint8_t shift, uint32_t *first, uint32_t n_buckets)
{
    parser ps = {v, v->vaddr + v->hdr_offset};
    cursor c;
    uint8_t table_enc;
    uint64_t count;
    size_t entry;
    if (shift >= 64 || read_search_table(&ps, &c, &table_enc, &count, &entry) != 0 || count > UINT32_MAX)
        return -1;
    const uint8_t *table = c.p;
    uint64_t i = 0;
    for (uint32_t k = 0; k < n_buckets; k++) {
        uint64_t start = lo + ((uint64_t)k << shift);
        while (i < count) {
            cursor e = {table + i * entry, c.end, 0};
            if (read_encoded(&ps, &e, table_enc) > start)
                break;
            i++;
        }
        first[k] = (uint32_t)i;
    }
    first[n_buckets] = (uint32_t)count;
    return 0;
}

/* The FDE the header's table lists for pc (the last entry starting at or
 * before it, among entries [from, to)): 0 with *fde its address,
 * PP_EH_FRAME_NOT_COVERED when none starts there, -1 when the table cannot be
 * searched. Whether the FDE covers pc is its reader's to check. */
PP_SIGNAL_PATH static int find_fde(const parser *ps, uint64_t pc, uint64_t from, uint64_t to, uint64_t *fde)
{
    cursor c;
    uint8_t table_enc;
    uint64_t count;
    size_t entry;
    if (read_search_table(ps, &c, &table_enc, &count, &entry) != 0 || count == 0)
        return -1; /* a table that cannot be searched, or longer than the view */
    const uint8_t *table = c.p;
    /* The last entry starting at or before pc: the table is sorted by
     * start (a hostile one that is not only finds a wrong FDE or none,
     * whose range its reader checks). */
    uint64_t hi = to < count ? to : count;
    uint64_t lo = from < hi ? from : hi;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        cursor e = {table + mid * entry, c.end, 0};
        if (read_encoded(ps, &e, table_enc) <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!lo)
        return PP_EH_FRAME_NOT_COVERED;
    cursor e = {table + (lo - 1) * entry, c.end, 0};
    read_encoded(ps, &e, table_enc);
    *fde = read_encoded(ps, &e, table_enc);
    return e.bad ? -1 : 0;
}

PP_SIGNAL_PATH int pp_eh_frame_rule_at_within(const pp_eh_frame_view *v, uint64_t pc, uint64_t from, uint64_t to, pp_cfi_row *out)
{
    parser ps = {v, v->vaddr + v->hdr_offset};
    uint64_t fde;
    int f = find_fde(&ps, pc, from, to, &fde);
    if (f != 0)
        return f;
    cie ci;
    memset(&ci, 0, sizeof ci);
    program pg;
    memset(&pg, 0, sizeof pg);
    pg.target = pc;
    int r = run_fde(&ps, fde, &ci, &pg);
    if (r != 0)
        return r < 0 ? -1 : PP_EH_FRAME_NOT_COVERED;
    if (!pg.have_found)
        return -1;
    *out = pg.found;
    return 0;
}

int pp_eh_frame_fde_rows_within(const pp_eh_frame_view *v, uint64_t pc, uint64_t from, uint64_t to, pp_cfi_rows *out)
{
    parser ps = {v, v->vaddr + v->hdr_offset};
    uint64_t fde;
    int f = find_fde(&ps, pc, from, to, &fde);
    if (f != 0)
        return f;
    /* One FDE's rows: no more than its program has bytes, as in a parse. */
    out->limit = out->n + (v->len < MAX_ROWS ? v->len : MAX_ROWS);
    size_t first = out->n;
    cie ci;
    memset(&ci, 0, sizeof ci);
    if (read_fde(&ps, fde, &ci, out) != 0) {
        out->n = first;
        return -1;
    }
    /* read_fde ends the FDE's rows with a GAP row at its end. */
    if (out->n - first < 2 || out->rows[first].pc > pc || out->rows[out->n - 1].pc <= pc) {
        out->n = first;
        return PP_EH_FRAME_NOT_COVERED;
    }
    return 0;
}

PP_SIGNAL_PATH int pp_eh_frame_rule_at(const pp_eh_frame_view *v, uint64_t pc, pp_cfi_row *out)
{
    return pp_eh_frame_rule_at_within(v, pc, 0, UINT64_MAX, out);
}

void pp_cfi_rows_free(pp_cfi_rows *r)
{
    free(r->rows);
    memset(r, 0, sizeof *r);
}
