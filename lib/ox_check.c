/* ox_check.c — ox_check and ox_repair: an independent reader of LMDB 0.9's file format.
 *
 * The checker never goes through LMDB: LMDB trusts its file and would crash or loop on
 * the damage we are looking for. It maps the file read-only and walks the trees itself,
 * bounds-checking every read, so any garbage yields a problem report, never a crash.
 *
 * Layout read here (64-bit build of LMDB 0.9, MDB_DEVEL off, host byte order):
 * - page header, 16 bytes: pgno u64, pad u16, flags u16, then lower u16 + upper u16 or,
 *   on the first page of an overflow run, the run's page count u32. mp_ptrs[] (u16 offsets
 *   of the nodes from the page start) follow; there are (lower - 16) / 2 of them.
 * - node, 8 bytes + key + data: lo u16, hi u16, flags u16, ksize u16. A branch node's
 *   child is lo | hi << 16 | flags << 32; a leaf node's data size is lo | hi << 16, its data
 *   an 8-byte overflow pgno (F_BIGDATA), an MDB_db (F_SUBDATA: a named database, or with
 *   F_DUPDATA the tree of a key's duplicates) or a sub-page holding the duplicates
 *   (F_DUPDATA alone). LEAF2 pages (DUPFIXED duplicates) hold bare keys of one size.
 * - meta pages 0 and 1: MDB_meta at offset 16 = magic u32, version u32, address,
 *   mapsize, MDB_db dbs[2] (free list, main database), last_pg, txnid; the page size is
 *   dbs[0].md_pad. MDB_db (48 bytes) = pad u32, flags u16, depth u16, branch, leaf and
 *   overflow page counts, entries, root (u64 each).
 *
 * Page accounting: in every clean file measured, each page 2..last_pg was either reachable
 * from the snapshot's trees or on its free list, never both and never neither: the files
 * of tests/lib/test_check.c and test_compact.c, and 600 random workloads (named, DUPSORT,
 * DUPFIXED, INTEGERKEY and REVERSEKEY databases, overflow values, nested and aborted
 * transactions, mdb_drop, MDB_WRITEMAP, a reader pinning old snapshots) plus 40 writers
 * killed mid-commit. That is how LMDB 0.9 works: a commit puts the pages it replaced
 * (the older snapshot's) on the free list under its own txnid, and loose pages (dirtied
 * then freed in one transaction) are saved there too. So a page that is neither in use
 * nor free is reported ("leaked"). No file was shorter than (last_pg + 1) pages, so a
 * meta page claiming more pages than the file has is reported too.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ox_excl.h"
#include "ox_internal.h"

#define CK_PAGEHDR 16u
#define CK_NODEHDR 8u
#define CK_DBSZ 48u
#define CK_METAOFF CK_PAGEHDR
#define CK_METASZ 136u
#define CK_MAGIC 0xBEEFC0DEu
#define CK_VERSION 1u
#define CK_INVALID UINT64_MAX /* P_INVALID: the root of an empty tree */
#define CK_MAXDEPTH 32u       /* LMDB's CURSOR_STACK */
#define CK_MINPAGE 512u
#define CK_MAXPAGE 32768u     /* MAX_PAGESIZE without MDB_DEVEL: offsets are u16 */

/* page flags */
#define CK_P_BRANCH 0x01u
#define CK_P_LEAF 0x02u
#define CK_P_OVERFLOW 0x04u
#define CK_P_META 0x08u
#define CK_P_DIRTY 0x10u
#define CK_P_LEAF2 0x20u
#define CK_P_SUBP 0x40u
#define CK_P_KEEP 0x8000u
/* node flags */
#define CK_F_BIGDATA 0x01u
#define CK_F_SUBDATA 0x02u
#define CK_F_DUPDATA 0x04u
/* database flags (mdb_dbi_open) */
#define CK_REVERSEKEY 0x02u
#define CK_DUPSORT 0x04u
#define CK_INTEGERKEY 0x08u
#define CK_DUPFIXED 0x10u
#define CK_INTEGERDUP 0x20u
#define CK_REVERSEDUP 0x40u
#define CK_DBFLAGS 0x7eu

/* meta field offsets inside MDB_meta */
#define CK_MM_MAGIC 0
#define CK_MM_VERSION 4
#define CK_MM_MAPSIZE 16
#define CK_MM_DBS 24
#define CK_MM_LASTPG 120
#define CK_MM_TXNID 128

enum { CK_CMP_MEM, CK_CMP_MEMR, CK_CMP_INT };
enum { CK_FREE, CK_MAIN, CK_NAMED, CK_DUPS };

typedef struct ck_db {
    uint32_t pad;
    uint16_t flags, depth;
    uint64_t branch, leaf, ovf, entries, root;
} ck_db;

typedef struct ck_meta {
    int valid;       /* LMDB would accept this meta page */
    char why[160];   /* why not */
    uint64_t last_pg, txnid;
    ck_db dbs[2];
} ck_meta;

typedef struct ck_file {
    ox_excl ex;
    int fd;
    const uint8_t *map;
    uint64_t size;
    uint32_t psize;  /* 0: no meta page says anything sane */
    ck_meta m[2];
} ck_file;

typedef struct ck_key {
    const uint8_t *p;
    size_t n;
} ck_key;

typedef struct ck_tree {
    int kind;
    char name[96];   /* for messages */
    uint64_t home;   /* the page holding this tree's MDB_db */
    int kcmp, dcmp;
    uint16_t flags;
    unsigned depth;
    uint32_t ks;     /* key size of LEAF2 leaves, 0 if none */
    uint64_t branch, leaf, ovf, entries; /* what the walk found */
} ck_tree;

/* A page or a sub-page being read. */
typedef struct ck_pg {
    const uint8_t *p;
    uint32_t size;
    uint64_t pgno;   /* for messages: the page itself, or the page holding the sub-page */
    uint16_t flags, lower, upper;
    unsigned n;
} ck_pg;

typedef struct ck_node {
    ck_key key;
    const uint8_t *data; /* NULL on branch and LEAF2 pages */
    uint64_t dlen;       /* the value's size (for F_BIGDATA, its size on the overflow run) */
    uint16_t flags;
    uint64_t child;      /* branch pages only */
} ck_node;

typedef struct ck {
    const ck_file *f;
    const ck_meta *m;
    uint64_t npages;     /* last_pg + 1 */
    uint8_t *used, *freed;
    uint64_t pages_used, pages_free, tables, entries;
    char problem[256];
    uint64_t problem_pgno;
} ck;

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static int bit_get(const uint8_t *b, uint64_t i) { return (b[i >> 3] >> (i & 7)) & 1; }
static void bit_set(uint8_t *b, uint64_t i) { b[i >> 3] |= (uint8_t)(1u << (i & 7)); }

static int ck_fail(ck *c, uint64_t pgno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first problem only: the walk stops at it, callers just pass the code up. */
static int ck_fail(ck *c, uint64_t pgno, const char *fmt, ...)
{
    va_list ap;
    if (!c->problem[0]) {
        va_start(ap, fmt);
        vsnprintf(c->problem, sizeof(c->problem), fmt, ap);
        va_end(ap);
        c->problem_pgno = pgno;
    }
    return OX_ECORRUPT;
}

static void ck_db_read(const uint8_t *p, ck_db *db)
{
    db->pad = rd32(p);
    db->flags = rd16(p + 4);
    db->depth = rd16(p + 6);
    db->branch = rd64(p + 8);
    db->leaf = rd64(p + 16);
    db->ovf = rd64(p + 24);
    db->entries = rd64(p + 32);
    db->root = rd64(p + 40);
}

/* Database names may hold any bytes: print them escaped and cut short. */
static void ck_name(char *out, size_t outlen, const char *prefix, const uint8_t *s, size_t n)
{
    size_t o = (size_t)snprintf(out, outlen, "%s\"", prefix);
    for (size_t i = 0; i < n && o + 8 < outlen; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
            out[o++] = (char)s[i];
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", s[i]);
    }
    if (o + 2 <= outlen) {
        out[o++] = '"';
        out[o] = '\0';
    }
}

/* LMDB's three built-in orders: memcmp then shorter first; the same from the last byte
 * backwards (REVERSEKEY/REVERSEDUP); native unsigned integers (INTEGERKEY/INTEGERDUP,
 * keys of one size: compared from the most significant byte, host = little endian). */
static int ck_cmp(int how, const ck_key *a, const ck_key *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    int d;

    switch (how) {
    case CK_CMP_INT:
        if (a->n != b->n)
            return a->n < b->n ? -1 : 1;
        for (size_t i = a->n; i-- > 0;)
            if (a->p[i] != b->p[i])
                return a->p[i] < b->p[i] ? -1 : 1;
        return 0;
    case CK_CMP_MEMR:
        for (size_t i = 1; i <= n; i++) {
            d = (int)a->p[a->n - i] - (int)b->p[b->n - i];
            if (d)
                return d;
        }
        break;
    default:
        d = n ? memcmp(a->p, b->p, n) : 0;
        if (d)
            return d;
        break;
    }
    return a->n < b->n ? -1 : a->n > b->n;
}

/* ---- meta pages ------------------------------------------------------------------------ */

static int ck_psize_ok(uint32_t ps)
{
    return ps >= CK_MINPAGE && ps <= CK_MAXPAGE && (ps & (ps - 1)) == 0;
}

/* Reads the meta page of slot at byte offset off: valid when LMDB's mdb_env_read_header
 * would take it (P_META, magic, version) and its header and page size are sane. */
static void ck_meta_read(const ck_file *f, unsigned slot, uint64_t off, ck_meta *m)
{
    const uint8_t *p = f->map + off, *mm = p + CK_METAOFF;
    uint32_t v;

    memset(m, 0, sizeof(*m));
    if (f->size < CK_METAOFF + CK_METASZ || off > f->size - (CK_METAOFF + CK_METASZ)) {
        snprintf(m->why, sizeof(m->why), "meta page %u: beyond end of file", slot);
        return;
    }
    if (!(rd16(p + 10) & CK_P_META)) {
        snprintf(m->why, sizeof(m->why), "meta page %u: not a meta page (flags 0x%x)", slot,
                 rd16(p + 10));
        return;
    }
    if ((v = rd32(mm + CK_MM_MAGIC)) != CK_MAGIC) {
        snprintf(m->why, sizeof(m->why), "meta page %u: bad magic 0x%08" PRIx32, slot, v);
        return;
    }
    if ((v = rd32(mm + CK_MM_VERSION)) != CK_VERSION) {
        snprintf(m->why, sizeof(m->why), "meta page %u: format version %" PRIu32, slot, v);
        return;
    }
    if (rd64(p) != slot) {
        snprintf(m->why, sizeof(m->why), "meta page %u: header says page %" PRIu64, slot,
                 rd64(p));
        return;
    }
    ck_db_read(mm + CK_MM_DBS, &m->dbs[0]);
    ck_db_read(mm + CK_MM_DBS + CK_DBSZ, &m->dbs[1]);
    if (!ck_psize_ok(m->dbs[0].pad)) {
        snprintf(m->why, sizeof(m->why), "meta page %u: bad page size %" PRIu32, slot,
                 m->dbs[0].pad);
        return;
    }
    m->last_pg = rd64(mm + CK_MM_LASTPG);
    m->txnid = rd64(mm + CK_MM_TXNID);
    m->valid = 1;
}

/* Finds the page size and reads both meta pages. Meta page 1 sits one page in; when meta
 * page 0 is unreadable (bad magic...) the page size is found by probing for a meta page 1
 * that names its own offset as the page size. */
static void ck_metas(ck_file *f)
{
    ck_meta_read(f, 0, 0, &f->m[0]);
    if (f->m[0].valid) {
        f->psize = f->m[0].dbs[0].pad;
        ck_meta_read(f, 1, f->psize, &f->m[1]);
        if (f->m[1].valid && f->m[1].dbs[0].pad != f->psize) {
            f->m[1].valid = 0;
            snprintf(f->m[1].why, sizeof(f->m[1].why),
                     "meta page 1: page size %" PRIu32 " differs from meta page 0's",
                     f->m[1].dbs[0].pad);
        }
        return;
    }
    for (uint32_t ps = CK_MINPAGE; ps <= CK_MAXPAGE; ps <<= 1) {
        ck_meta_read(f, 1, ps, &f->m[1]);
        if (f->m[1].valid && f->m[1].dbs[0].pad == ps) {
            f->psize = ps;
            return;
        }
    }
    memset(&f->m[1], 0, sizeof(f->m[1]));
    snprintf(f->m[1].why, sizeof(f->m[1].why), "meta page 1: not found");
}

/* The slot LMDB would use: the higher txnid, meta page 0 on a tie (mdb_env_pick_meta). */
static int ck_newest(const ck_file *f)
{
    if (!f->m[1].valid)
        return 0;
    if (!f->m[0].valid)
        return 1;
    return f->m[1].txnid > f->m[0].txnid;
}

/* ---- pages ---------------------------------------------------------------------------- */

/* Takes pages pgno..pgno+count-1 for the tree being walked; `from` is the page holding
 * the reference (reported when the reference itself is bad). */
static int ck_claim(ck *c, const char *who, uint64_t pgno, uint64_t count, uint64_t from)
{
    uint64_t filepages = c->f->size / c->f->psize;

    if (pgno < 2 || pgno > c->m->last_pg || count > c->m->last_pg - pgno + 1)
        return ck_fail(c, from, "page %" PRIu64 ": refers to page %" PRIu64
                       " out of range 2..%" PRIu64 " in %s", from, pgno, c->m->last_pg, who);
    if (pgno + count > filepages)
        return ck_fail(c, pgno, "page %" PRIu64 ": beyond end of file (%" PRIu64
                       " pages) in %s", pgno, filepages, who);
    for (uint64_t i = pgno; i < pgno + count; i++) {
        if (bit_get(c->used, i))
            return ck_fail(c, i, "page %" PRIu64 ": referenced twice (again from %s)", i,
                           who);
        if (bit_get(c->freed, i))
            return ck_fail(c, i, "page %" PRIu64 ": on the free list but used by %s", i,
                           who);
        bit_set(c->used, i);
        c->pages_used++;
    }
    return OX_OK;
}

/* Validates the header of a (sub-)page whose flags are already known good: offsets in
 * bounds, node count. */
static int ck_pg_open(ck *c, const ck_tree *t, ck_pg *pg)
{
    pg->lower = rd16(pg->p + 12);
    pg->upper = rd16(pg->p + 14);
    if (pg->lower < CK_PAGEHDR || (pg->lower & 1) || pg->lower > pg->upper ||
        pg->upper > pg->size)
        return ck_fail(c, pg->pgno, "page %" PRIu64 ": lower/upper %u/%u out of bounds in %s",
                       pg->pgno, pg->lower, pg->upper, t->name);
    pg->n = (pg->lower - CK_PAGEHDR) / 2u;
    if (pg->flags & CK_P_LEAF2) {
        uint32_t ks = (pg->flags & CK_P_SUBP) ? rd16(pg->p + 8) : t->ks;
        if (ks == 0 || (uint64_t)CK_PAGEHDR + (uint64_t)pg->n * ks > pg->size)
            return ck_fail(c, pg->pgno, "page %" PRIu64 ": %u keys of %" PRIu32
                           " bytes overflow the page in %s", pg->pgno, pg->n, ks, t->name);
    }
    if (pg->n == 0)
        return ck_fail(c, pg->pgno, "page %" PRIu64 ": empty page in %s", pg->pgno, t->name);
    return OX_OK;
}

/* Reads node i of pg, bounds-checked against the (sub-)page. */
static int ck_node_get(ck *c, const ck_tree *t, const ck_pg *pg, unsigned i, ck_node *nd)
{
    uint32_t off, stored;

    memset(nd, 0, sizeof(*nd));
    if (pg->flags & CK_P_LEAF2) {
        uint32_t ks = (pg->flags & CK_P_SUBP) ? rd16(pg->p + 8) : t->ks;
        nd->key.p = pg->p + CK_PAGEHDR + (size_t)i * ks;
        nd->key.n = ks;
        return OX_OK;
    }
    off = rd16(pg->p + CK_PAGEHDR + 2u * i);
    if (off < pg->upper || (off & 1) || off + CK_NODEHDR > pg->size)
        return ck_fail(c, pg->pgno, "page %" PRIu64 ": node %u out of bounds in %s", pg->pgno,
                       i, t->name);
    nd->flags = rd16(pg->p + off + 4);
    nd->key.n = rd16(pg->p + off + 6);
    nd->key.p = pg->p + off + CK_NODEHDR;
    if (pg->flags & CK_P_BRANCH) {
        nd->child = (uint64_t)rd16(pg->p + off) | (uint64_t)rd16(pg->p + off + 2) << 16 |
                    (uint64_t)nd->flags << 32;
        nd->flags = 0;
        stored = 0;
    } else {
        nd->dlen = (uint64_t)rd16(pg->p + off) | (uint64_t)rd16(pg->p + off + 2) << 16;
        stored = (nd->flags & CK_F_BIGDATA) ? 8u : (uint32_t)nd->dlen;
    }
    if ((uint64_t)off + CK_NODEHDR + nd->key.n + stored > pg->size)
        return ck_fail(c, pg->pgno, "page %" PRIu64 ": node %u out of bounds in %s", pg->pgno,
                       i, t->name);
    nd->data = nd->key.p + nd->key.n;
    return OX_OK;
}

/* Checks the keys of pg: strictly ascending, inside [lo, hi) given by the parent. A branch
 * page's first key is not used by LMDB and is skipped. */
static int ck_keys(ck *c, const ck_tree *t, const ck_pg *pg, int how, const ck_key *lo,
                   const ck_key *hi)
{
    ck_node nd;
    ck_key prev = { NULL, 0 };
    unsigned first = (pg->flags & CK_P_BRANCH) ? 1u : 0u;
    int rc;

    for (unsigned i = first; i < pg->n; i++) {
        if ((rc = ck_node_get(c, t, pg, i, &nd)))
            return rc;
        if (i > first && ck_cmp(how, &prev, &nd.key) >= 0)
            return ck_fail(c, pg->pgno, "page %" PRIu64 ": keys out of order at node %u in %s",
                           pg->pgno, i, t->name);
        if ((i == first && lo && ck_cmp(how, lo, &nd.key) > 0) ||
            (i + 1 == pg->n && hi && ck_cmp(how, &nd.key, hi) >= 0))
            return ck_fail(c, pg->pgno, "page %" PRIu64 ": key at node %u outside the range"
                           " its parent gives in %s", pg->pgno, i, t->name);
        prev = nd.key;
    }
    return OX_OK;
}

/* ---- trees ---------------------------------------------------------------------------- */

static int ck_tree_walk(ck *c, ck_tree *t, const ck_db *db);

/* The bytes of a leaf node's value: in place, or on its overflow run (taken here). */
static int ck_value(ck *c, ck_tree *t, const ck_pg *pg, const ck_node *nd, const uint8_t **out)
{
    uint64_t ov, npg, need;
    const uint8_t *p;
    int rc;

    if (!(nd->flags & CK_F_BIGDATA)) {
        *out = nd->data;
        return OX_OK;
    }
    ov = rd64(nd->data);
    if (ov < 2 || ov > c->m->last_pg || ov >= c->f->size / c->f->psize)
        return ck_claim(c, t->name, ov, 1, pg->pgno); /* reports the bad reference */
    p = c->f->map + ov * c->f->psize;
    if (rd64(p) != ov)
        return ck_fail(c, ov, "page %" PRIu64 ": header says page %" PRIu64 " in %s", ov,
                       rd64(p), t->name);
    if ((rd16(p + 10) & ~(CK_P_DIRTY | CK_P_KEEP)) != CK_P_OVERFLOW)
        return ck_fail(c, ov, "page %" PRIu64 ": bad page type 0x%x for an overflow page in %s",
                       ov, rd16(p + 10), t->name);
    npg = rd32(p + 12);
    need = (CK_PAGEHDR - 1 + nd->dlen) / c->f->psize + 1; /* OVPAGES */
    /* LMDB rewrites a smaller value in place, so a run may be longer than needed. */
    if (npg < need)
        return ck_fail(c, ov, "page %" PRIu64 ": overflow run of %" PRIu64 " pages holds a"
                       " %" PRIu64 "-byte value in %s", ov, npg, nd->dlen, t->name);
    if ((rc = ck_claim(c, t->name, ov, npg, pg->pgno)))
        return rc;
    t->ovf += npg;
    *out = p + CK_PAGEHDR;
    return OX_OK;
}

/* A free list record: key = txnid, value = count, then that many page numbers. */
static int ck_free_rec(ck *c, ck_tree *t, const ck_pg *pg, const ck_node *nd)
{
    const uint8_t *v;
    uint64_t cnt, id;
    int rc;

    if (nd->key.n != 8 || (nd->flags & ~CK_F_BIGDATA))
        return ck_fail(c, pg->pgno, "page %" PRIu64 ": bad free list record in %s", pg->pgno,
                       t->name);
    if ((rc = ck_value(c, t, pg, nd, &v)))
        return rc;
    cnt = nd->dlen >= 8 ? rd64(v) : UINT64_MAX;
    if (cnt == UINT64_MAX || cnt > nd->dlen / 8 - 1 || (cnt + 1) * 8 != nd->dlen)
        return ck_fail(c, pg->pgno, "page %" PRIu64 ": free list record of txn %" PRIu64
                       " has a bad size", pg->pgno, rd64(nd->key.p));
    for (uint64_t i = 1; i <= cnt; i++) {
        id = rd64(v + i * 8);
        if (id < 2 || id > c->m->last_pg)
            return ck_fail(c, pg->pgno, "page %" PRIu64 ": free list entry %" PRIu64
                           " out of range 2..%" PRIu64, pg->pgno, id, c->m->last_pg);
        if (bit_get(c->freed, id))
            return ck_fail(c, id, "page %" PRIu64 ": on the free list twice", id);
        if (bit_get(c->used, id))
            return ck_fail(c, id, "page %" PRIu64 ": on the free list but in use", id);
        bit_set(c->freed, id);
        c->pages_free++;
    }
    return OX_OK;
}

/* The duplicates of one key kept on a sub-page inside the node (F_DUPDATA alone). */
static int ck_subpage(ck *c, ck_tree *t, const ck_pg *pg, const ck_node *nd)
{
    ck_tree dt;
    ck_pg sp;
    uint16_t want = CK_P_LEAF | CK_P_SUBP | ((t->flags & CK_DUPFIXED) ? CK_P_LEAF2 : 0);
    ck_node sn;
    int rc;

    memset(&dt, 0, sizeof(dt));
    dt.kind = CK_DUPS;
    snprintf(dt.name, sizeof(dt.name), "%s", t->name);
    if (nd->dlen < CK_PAGEHDR)
        return ck_fail(c, pg->pgno, "page %" PRIu64 ": bad sub-page in %s", pg->pgno, t->name);
    sp.p = nd->data;
    sp.size = (uint32_t)nd->dlen;
    sp.pgno = pg->pgno;
    sp.flags = rd16(sp.p + 10) & (uint16_t)~CK_P_DIRTY;
    if (sp.flags != want)
        return ck_fail(c, pg->pgno, "page %" PRIu64 ": bad sub-page type 0x%x in %s", pg->pgno,
                       rd16(sp.p + 10), t->name);
    if ((rc = ck_pg_open(c, &dt, &sp)) || (rc = ck_keys(c, &dt, &sp, t->dcmp, NULL, NULL)))
        return rc;
    if (!(sp.flags & CK_P_LEAF2))
        for (unsigned i = 0; i < sp.n; i++) {
            if ((rc = ck_node_get(c, &dt, &sp, i, &sn)))
                return rc;
            if (sn.flags || sn.dlen)
                return ck_fail(c, pg->pgno, "page %" PRIu64 ": bad duplicate in sub-page in %s",
                               pg->pgno, t->name);
        }
    t->entries += sp.n;
    return OX_OK;
}

/* One leaf node of a free list, main, named or duplicates tree. */
static int ck_leaf_node(ck *c, ck_tree *t, const ck_pg *pg, const ck_node *nd)
{
    ck_tree sub;
    ck_db db;
    const uint8_t *v;
    int rc, dup = (t->flags & CK_DUPSORT) != 0;

    if (t->kind == CK_FREE) {
        t->entries++;
        return ck_free_rec(c, t, pg, nd);
    }
    if (t->kind == CK_DUPS) {
        if (nd->flags || nd->dlen)
            return ck_fail(c, pg->pgno, "page %" PRIu64 ": bad duplicate node in %s", pg->pgno,
                           t->name);
        t->entries++;
        return OX_OK;
    }
    switch (nd->flags) {
    case 0:
        t->entries++;
        return OX_OK;
    case CK_F_BIGDATA:
        if (dup)
            break;
        t->entries++;
        return ck_value(c, t, pg, nd, &v);
    case CK_F_DUPDATA:
        if (!dup)
            break;
        return ck_subpage(c, t, pg, nd);
    case CK_F_SUBDATA:
    case CK_F_SUBDATA | CK_F_DUPDATA:
        if ((nd->flags == CK_F_SUBDATA) != (t->kind == CK_MAIN && !dup))
            break;
        if (nd->dlen != CK_DBSZ)
            return ck_fail(c, pg->pgno, "page %" PRIu64 ": bad database record in %s",
                           pg->pgno, t->name);
        ck_db_read(nd->data, &db);
        memset(&sub, 0, sizeof(sub));
        sub.home = pg->pgno;
        if (nd->flags == CK_F_SUBDATA) {
            sub.kind = CK_NAMED;
            ck_name(sub.name, sizeof(sub.name), "database ", nd->key.p, nd->key.n);
            if (db.flags & ~CK_DBFLAGS)
                return ck_fail(c, pg->pgno, "page %" PRIu64 ": bad flags 0x%x for %s",
                               pg->pgno, db.flags, sub.name);
            sub.flags = db.flags;
            sub.kcmp = (db.flags & CK_REVERSEKEY) ? CK_CMP_MEMR
                       : (db.flags & CK_INTEGERKEY) ? CK_CMP_INT : CK_CMP_MEM;
            sub.dcmp = (db.flags & CK_INTEGERDUP) ? CK_CMP_INT
                       : (db.flags & CK_REVERSEDUP) ? CK_CMP_MEMR : CK_CMP_MEM;
            if ((rc = ck_tree_walk(c, &sub, &db)))
                return rc;
            c->tables++;
            c->entries += sub.entries;
            t->entries++;
            return OX_OK;
        }
        /* The duplicates of one key grown into a tree of their own: its keys are the
         * values, ordered by the parent's duplicate order. */
        sub.kind = CK_DUPS;
        snprintf(sub.name, sizeof(sub.name), "%s", t->name);
        sub.flags = db.flags;
        sub.kcmp = t->dcmp;
        if ((db.flags & ~(CK_DUPFIXED | CK_INTEGERKEY)) ||
            (db.flags & CK_DUPFIXED) != (t->flags & CK_DUPFIXED))
            return ck_fail(c, pg->pgno, "page %" PRIu64 ": bad duplicates record in %s",
                           pg->pgno, t->name);
        sub.ks = (db.flags & CK_DUPFIXED) ? db.pad : 0;
        if ((db.flags & CK_DUPFIXED) && (sub.ks == 0 || sub.ks > c->f->psize))
            return ck_fail(c, pg->pgno, "page %" PRIu64 ": bad duplicates record in %s",
                           pg->pgno, t->name);
        if ((rc = ck_tree_walk(c, &sub, &db)))
            return rc;
        t->entries += sub.entries;
        return OX_OK;
    default:
        break;
    }
    return ck_fail(c, pg->pgno, "page %" PRIu64 ": bad node flags 0x%x in %s", pg->pgno,
                   nd->flags, t->name);
}

/* Walks the page pgno at level (1 = root) of t, whose keys must lie in [lo, hi). */
static int ck_page(ck *c, ck_tree *t, uint64_t pgno, uint64_t from, unsigned level,
                   const ck_key *lo, const ck_key *hi)
{
    ck_pg pg;
    ck_node nd, nx;
    ck_key clo, chi;
    uint16_t want, raw;
    int rc;

    if ((rc = ck_claim(c, t->name, pgno, 1, from)))
        return rc;
    pg.p = c->f->map + pgno * c->f->psize;
    pg.size = c->f->psize;
    pg.pgno = pgno;
    if (rd64(pg.p) != pgno)
        return ck_fail(c, pgno, "page %" PRIu64 ": header says page %" PRIu64 " in %s", pgno,
                       rd64(pg.p), t->name);
    raw = rd16(pg.p + 10);
    pg.flags = raw & (uint16_t)~(CK_P_DIRTY | CK_P_KEEP);
    want = level < t->depth ? CK_P_BRANCH : (CK_P_LEAF | (t->ks ? CK_P_LEAF2 : 0));
    if (pg.flags != want) {
        uint16_t leaf = CK_P_LEAF | (t->ks ? CK_P_LEAF2 : 0);
        if (level == 1 && (pg.flags == CK_P_BRANCH || pg.flags == leaf))
            return ck_fail(c, pgno, "page %" PRIu64 ": root is a %s page but %s has depth %u",
                           pgno, pg.flags == CK_P_BRANCH ? "branch" : "leaf", t->name,
                           t->depth);
        return ck_fail(c, pgno, "page %" PRIu64 ": bad page type 0x%x at level %u of %u in %s"
                       " (expected %s)", pgno, raw, level, t->depth, t->name,
                       want == CK_P_BRANCH ? "branch" : "leaf");
    }
    if ((rc = ck_pg_open(c, t, &pg)) ||
        (rc = ck_keys(c, t, &pg, t->kcmp, lo, hi)))
        return rc;
    memset(&nx, 0, sizeof(nx));

    if (pg.flags == CK_P_BRANCH) {
        t->branch++;
        for (unsigned i = 0; i < pg.n; i++) {
            if ((rc = ck_node_get(c, t, &pg, i, &nd)))
                return rc;
            if (i + 1 < pg.n && (rc = ck_node_get(c, t, &pg, i + 1, &nx)))
                return rc;
            clo = nd.key;
            chi = nx.key;
            if ((rc = ck_page(c, t, nd.child, pgno, level + 1, i == 0 ? lo : &clo,
                              i + 1 < pg.n ? &chi : hi)))
                return rc;
        }
        return OX_OK;
    }
    t->leaf++;
    if (pg.flags & CK_P_LEAF2) {
        t->entries += pg.n; /* bare keys: duplicates of a DUPFIXED database */
        return OX_OK;
    }
    for (unsigned i = 0; i < pg.n; i++)
        if ((rc = ck_node_get(c, t, &pg, i, &nd)) || (rc = ck_leaf_node(c, t, &pg, &nd)))
            return rc;
    return OX_OK;
}

/* Walks one tree from its MDB_db record and compares what it found with the record. */
static int ck_tree_walk(ck *c, ck_tree *t, const ck_db *db)
{
    int rc;

    t->depth = db->depth;
    if (db->root == CK_INVALID) {
        if (db->depth || db->entries || db->branch || db->leaf || db->ovf)
            return ck_fail(c, t->home, "page %" PRIu64 ": %s is empty but its record is not",
                           t->home, t->name);
        return OX_OK;
    }
    if (db->depth == 0 || db->depth > CK_MAXDEPTH)
        return ck_fail(c, t->home, "page %" PRIu64 ": bad depth %u for %s", t->home,
                       db->depth, t->name);
    if ((rc = ck_page(c, t, db->root, t->home, 1, NULL, NULL)))
        return rc;
    if (t->entries != db->entries)
        return ck_fail(c, t->home, "page %" PRIu64 ": %s has %" PRIu64 " entries, its record"
                       " says %" PRIu64, t->home, t->name, t->entries, db->entries);
    if (t->branch != db->branch || t->leaf != db->leaf || t->ovf != db->ovf)
        return ck_fail(c, t->home, "page %" PRIu64 ": %s has %" PRIu64 "/%" PRIu64 "/%" PRIu64
                       " branch/leaf/overflow pages, its record says %" PRIu64 "/%" PRIu64
                       "/%" PRIu64, t->home, t->name, t->branch, t->leaf, t->ovf, db->branch,
                       db->leaf, db->ovf);
    return OX_OK;
}

/* Checks the snapshot of meta slot `which` (a valid meta page of f), filling rep. */
static int ck_snapshot(const ck_file *f, int which, ox_check_report *rep)
{
    ck c;
    ck_tree t;
    uint64_t filepages = f->size / f->psize, bytes;
    int rc;

    memset(&c, 0, sizeof(c));
    c.f = f;
    c.m = &f->m[which];
    c.problem_pgno = UINT64_MAX;
    rep->txnid = c.m->txnid;
    rep->page_size = f->psize;
    if (c.m->last_pg < 1 || c.m->last_pg >= filepages) {
        rc = ck_fail(&c, (uint64_t)which, "meta page %d: last page %" PRIu64 " beyond end of"
                     " file (%" PRIu64 " pages)", which, c.m->last_pg, filepages);
        goto out;
    }
    c.npages = c.m->last_pg + 1;
    rep->pages = c.npages;
    bytes = (c.npages + 7) / 8;
    c.used = calloc(bytes, 1);
    c.freed = calloc(bytes, 1);
    if (!c.used || !c.freed) {
        rc = OX_ENOMEM;
        goto out;
    }
    c.pages_used = 2; /* the meta pages */

    /* The main database (and through it every named one) first: then a page on the
     * free list that a tree also uses is reported as such, not as a tree's problem. */
    memset(&t, 0, sizeof(t));
    t.kind = CK_MAIN;
    t.home = (uint64_t)which;
    snprintf(t.name, sizeof(t.name), "the main database");
    t.flags = c.m->dbs[1].flags;
    t.kcmp = (t.flags & CK_REVERSEKEY) ? CK_CMP_MEMR
             : (t.flags & CK_INTEGERKEY) ? CK_CMP_INT : CK_CMP_MEM;
    t.dcmp = (t.flags & CK_INTEGERDUP) ? CK_CMP_INT
             : (t.flags & CK_REVERSEDUP) ? CK_CMP_MEMR : CK_CMP_MEM;
    if (t.flags & ~CK_DBFLAGS) {
        rc = ck_fail(&c, t.home, "meta page %d: bad flags 0x%x for the main database", which,
                     t.flags);
        goto out;
    }
    if ((rc = ck_tree_walk(&c, &t, &c.m->dbs[1])))
        goto out;

    memset(&t, 0, sizeof(t));
    t.kind = CK_FREE;
    t.home = (uint64_t)which;
    snprintf(t.name, sizeof(t.name), "the free list");
    t.kcmp = CK_CMP_INT;
    if ((rc = ck_tree_walk(&c, &t, &c.m->dbs[0])))
        goto out;

    if (c.pages_used + c.pages_free != c.npages) {
        uint64_t i = 2;
        while (i < c.npages && (bit_get(c.used, i) || bit_get(c.freed, i)))
            i++;
        rc = ck_fail(&c, i, "page %" PRIu64 ": leaked (%" PRIu64 " pages neither in use nor"
                     " free)", i, c.npages - c.pages_used - c.pages_free);
        goto out;
    }
    rc = OX_OK;

out:
    rep->pages_used = c.pages_used;
    rep->pages_free = c.pages_free;
    rep->tables = c.tables;
    rep->entries = c.entries;
    snprintf(rep->problem, sizeof(rep->problem), "%s", c.problem);
    rep->problem_pgno = c.problem_pgno;
    free(c.used);
    free(c.freed);
    return rc;
}

/* ---- the file ------------------------------------------------------------------------- */

/* Takes exclusive access to the file at path, opens it with oflags, maps it read-only and
 * reads its meta pages. Undo with ck_close, also after an error. */
static int ck_open(const char *path, int oflags, ck_file *f)
{
    struct stat st;
    void *p;
    int rc;

    memset(f, 0, sizeof(*f));
    f->fd = -1;
    if ((rc = ox__excl_acquire(path, &f->ex)))
        return rc;
    f->fd = open(path, oflags | O_CLOEXEC);
    if (f->fd < 0 || fstat(f->fd, &st) != 0)
        return ox__excl_errno(errno);
    f->size = (uint64_t)st.st_size;
    if (f->size >= CK_METAOFF + CK_METASZ) {
        p = mmap(NULL, f->size, PROT_READ, MAP_SHARED, f->fd, 0);
        if (p == MAP_FAILED)
            return ox__excl_errno(errno);
        f->map = p;
    }
    ck_metas(f);
    return OX_OK;
}

static void ck_close(ck_file *f)
{
    if (f->map)
        munmap((void *)f->map, f->size);
    f->map = NULL;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    ox__excl_release(&f->ex);
}

static void ck_report_init(ox_check_report *rep)
{
    memset(rep, 0, sizeof(*rep));
    rep->problem_pgno = UINT64_MAX;
}

static void ck_report_meta(ox_check_report *rep, const ck_file *f, int slot)
{
    snprintf(rep->problem, sizeof(rep->problem), "%s", f->m[slot].why);
    rep->problem_pgno = (uint64_t)slot;
    rep->page_size = f->psize;
}

int ox_check(const char *path, ox_check_report *rep)
{
    ox_check_report dummy;
    ck_file f;
    int rc;

    if (!rep)
        rep = &dummy;
    ck_report_init(rep);
    if ((rc = ck_open(path, O_RDONLY, &f)))
        goto out;
    /* LMDB refuses a file if either meta page is bad, so either one is a problem. */
    for (int i = 0; i < 2; i++)
        if (!f.m[i].valid) {
            ck_report_meta(rep, &f, i);
            rc = OX_ECORRUPT;
            goto out;
        }
    rc = ck_snapshot(&f, ck_newest(&f), rep);

out:
    ck_close(&f);
    /* LMDB commits only checkpoints, each durable before the log before it goes: a file
     * that is not sound is damaged, whatever the log holds. A sound one is as good as its
     * log after it. */
    if (rc == OX_OK) {
        int lrc = ox__store_log_check(path, &rep->log_records);
        rep->recovery_pending = rep->log_records > 0;
        if (lrc == OX_ECORRUPT)
            snprintf(rep->problem, sizeof rep->problem, "write-ahead log: a segment is "
                     "missing after the file's last checkpoint (the commits it held are "
                     "lost, and an open drops those after them)");
        if (lrc == OX_ECORRUPT || lrc == OX_EIO)
            rc = lrc;
    }
    return rc;
}

int ox_repair(const char *path, char *what, size_t whatlen)
{
    ox_check_report r[2];
    ck_file f;
    uint8_t buf[CK_METAOFF + CK_METASZ];
    char dummy[1];
    int rc, order[2], good = -1, bad;
    size_t nw = 0;

    if (!what || !whatlen) {
        what = dummy;
        whatlen = sizeof(dummy);
    }
    what[0] = '\0';
    if ((rc = ck_open(path, O_RDWR, &f)))
        goto out;

    /* Try the snapshot LMDB would use first, then the other one. */
    order[0] = ck_newest(&f);
    order[1] = !order[0];
    for (int k = 0; k < 2; k++) {
        int s = order[k];
        ck_report_init(&r[s]);
        if (!f.m[s].valid) {
            ck_report_meta(&r[s], &f, s);
            continue;
        }
        rc = ck_snapshot(&f, s, &r[s]);
        if (rc == OX_OK) {
            good = s;
            break;
        }
        if (rc != OX_ECORRUPT)
            goto out;
    }
    if (good < 0) {
        snprintf(what, whatlen, "no clean snapshot: %s (page %" PRIu64 "); %s (page %" PRIu64
                 "); nothing written", r[order[0]].problem, r[order[0]].problem_pgno,
                 r[order[1]].problem, r[order[1]].problem_pgno);
        rc = OX_ECORRUPT;
        goto out;
    }
    bad = !good;
    if (good == order[0] && f.m[bad].valid) {
        snprintf(what, whatlen, "clean, nothing done");
        rc = OX_OK;
        goto out;
    }

    /* Overwrite the damaged meta page with the good one, keeping its own page number:
     * LMDB then sees two copies of the good commit and picks either. */
    memcpy(buf, f.map + (size_t)good * f.psize, sizeof(buf));
    {
        uint64_t pg = (uint64_t)bad;
        memcpy(buf, &pg, sizeof(pg));
    }
    while (nw < sizeof(buf)) {
        ssize_t w = pwrite(f.fd, buf + nw, sizeof(buf) - nw, (off_t)bad * f.psize + (off_t)nw);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = ox__excl_errno(w < 0 ? errno : EIO);
            goto out;
        }
        nw += (size_t)w;
    }
    if (fsync(f.fd) != 0) {
        rc = ox__excl_errno(errno);
        goto out;
    }
    if ((rc = ox__excl_invalidate(&f.ex)))
        goto out;
    if (!f.m[bad].valid)
        snprintf(what, whatlen, "%s; rewrote it from txn %" PRIu64, f.m[bad].why,
                 f.m[good].txnid);
    else
        snprintf(what, whatlen, "newest commit (txn %" PRIu64 ") damaged: %s (page %" PRIu64
                 "); fell back to txn %" PRIu64, f.m[bad].txnid, r[bad].problem,
                 r[bad].problem_pgno, f.m[good].txnid);
    rc = OX_OK;

out:
    ck_close(&f);
    /* Then the log's commits after the snapshot kept (a crash's, or those of the commit
     * just dropped, if the log still has them) go to the file. */
    if (rc == OX_OK && ox__store_needs_recovery(path) && (rc = ox__store_settle(path)) == OX_OK) {
        size_t n = strlen(what);
        if (!strcmp(what, "clean, nothing done"))
            n = (size_t)snprintf(what, whatlen, "clean");
        snprintf(what + n, whatlen > n ? whatlen - n : 0,
                 "; wrote the write-ahead log's later commits to it");
    }
    return rc;
}
