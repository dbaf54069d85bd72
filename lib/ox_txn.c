/* ox_txn.c — write transactions. Each mutation is an op: applied to the active write
 * buffer (ox_mem.h) at once, with the transaction's sequence number, so that its own reads
 * see it and nobody else's do; and encoded into the transaction's log record. The commit
 * is that record appended to the write-ahead log (ox_log.h), then the sequence number
 * published; a rollback, or a commit whose append fails, marks every version the
 * transaction wrote aborted. Ops that read the clock record the time they first ran, so a
 * replay of the record after a crash takes the same decisions.
 *
 * Counts (ox_count) move with the ops: a put of a key no layer holds adds one, a deletion
 * of one that is held takes one (expired or not, as Redis's DBSIZE). They are published
 * with the commit. */
#include <stdlib.h>
#include <string.h>

#include "ox_internal.h"
#include "ox_log.h"

enum ox_opkind { OP_PUT, OP_DEL, OP_EXPIRE, OP_PERSIST, OP_PURGE, OP_CLEAR };
enum { DEL_LIVE = 1 }; /* OP_DEL's flags: ox_txn_delete_live (logged, so a replay agrees) */

typedef struct ox_op {
    int kind;
    ox_table *t;
    const void *key;
    size_t klen;
    const void *val;
    size_t vlen;
    uint64_t at;     /* OP_PUT: expiry time or 0; OP_EXPIRE: expiry time */
    uint64_t now;    /* the clock when the op first ran */
    size_t max;      /* OP_PURGE: at most this many (0 = all) */
    ox_purge_fn *fn; /* OP_PURGE: told of each key it deletes (NULL: nobody; a replay) */
    void *fn_arg;
    unsigned flags;  /* OP_PUT: ox_put_flags */
} ox_op;

enum { OX_TXN_MEMO_KEY = 64 }; /* longer keys are looked up again */

struct ox_txn {
    ox_store *s;
    ox_rd rd;        /* seq: this transaction's; its own writes are visible to it */
    ox_mem *mem;     /* the active write buffer */
    ox_iter *iters;  /* open iterators, detached when the transaction ends */
    int failed;      /* an error left the transaction unusable: only rollback remains */
    int replaying;   /* recovery: the record is in the log already */
    uint64_t now;    /* the clock when it began: every expiry judged in it is judged then,
                        so a value read and rewritten keeps the TTL it was read with */
    size_t reclen;   /* bytes of the log record in s->txbuf */
    ox_mver **vers;  /* every version written, for an abort */
    size_t nvers, capvers;
    long long *dcount, *dexp; /* count changes per table id (s->max_tables each) */
    /* The savepoint (ox_txn_savepoint): what was written before it, and the count changes
     * made since (count_add), to take back. sp: 0 none, 1 set, -1 lost (no memory for the
     * count changes: it cannot be rolled back to). */
    int sp;
    size_t sp_nvers, sp_reclen;
    struct sp_count { unsigned id; long long keys, expires; } *undo;
    size_t nundo, capundo;
    unsigned char *rec; /* a value record being built */
    size_t reccap;
    /* What the last read of a key through the transaction found (ox__rd_get's answer),
     * for the write of that key that usually follows (a pop reads then deletes, INCR reads
     * then puts): cur_load takes it instead of looking the key up again, a lookup that was
     * a third of a pop's time. Every op run forgets it, and so does a yield (the record
     * may sit in LMDB's pages), so it never outlives the next call into the transaction. */
    ox_seen_fn *seen;  /* ox_txn_observe's, NULL: none */
    void *seen_arg;
    ox_table *memo_t; /* NULL: none */
    int memo_rc;
    MDB_val memo_rec;
    size_t memo_klen;
    unsigned char memo_key[OX_TXN_MEMO_KEY];
};

ox_iter **ox__txn_iters(ox_txn *x) { return &x->iters; }
const ox_rd *ox__txn_rd(ox_txn *x) { return &x->rd; }
uint64_t ox__txn_now(ox_txn *x) { return x->now; }

/* Makes *buf (of *cap bytes) hold at least need bytes, doubling from first. */
static int buf_room(unsigned char **buf, size_t *cap, size_t need, size_t first)
{
    if (need <= *cap)
        return OX_OK;
    size_t n = *cap ? *cap : first;
    while (n < need)
        n *= 2;
    unsigned char *b = realloc(*buf, n);
    if (!b)
        return OX_ENOMEM;
    *buf = b;
    *cap = n;
    return OX_OK;
}

/* ---- the buffer ------------------------------------------------------------------------------ */

static int vers_push(ox_txn *x, ox_mver *v)
{
    if (x->nvers == x->capvers) {
        size_t cap = x->capvers ? x->capvers * 2 : 16;
        ox_mver **n = realloc(x->vers, cap * sizeof *n);
        if (!n)
            return OX_ENOMEM;
        x->vers = n;
        x->capvers = cap;
    }
    x->vers[x->nvers++] = v;
    return OX_OK;
}

/* A version of key in buffer table `slot`: rec/len, or rec NULL for a deletion. */
static int mem_put(ox_txn *x, unsigned slot, const MDB_val *key, const void *rec, size_t len)
{
    ox_mver *v;
    x->memo_t = NULL; /* what a read found may be older than this now */
    int rc = ox__mem_put(x->mem, slot, key, x->rd.seq, rec, len, &v);
    return rc ? rc : vers_push(x, v);
}

/* The expiry index entry (exp, k) of table t: added (add != 0) or removed. */
static int exp_entry(ox_txn *x, ox_table *t, uint64_t exp, const MDB_val *k, int add)
{
    unsigned char kb[8 + OX_KEY_BUF];
    ox__be64_put(kb, exp);
    memcpy(kb + 8, k->mv_data, k->mv_size);
    MDB_val ek = {8 + k->mv_size, kb};
    return mem_put(x, t->id + x->s->max_tables, &ek, add ? "" : NULL, 0);
}

static void count_add(ox_txn *x, ox_table *t, long long keys, long long expires)
{
    x->dcount[t->id] += keys;
    x->dexp[t->id] += expires;
    if (x->sp > 0) {
        if (x->nundo == x->capundo) {
            size_t cap = x->capundo ? x->capundo * 2 : 16;
            struct sp_count *n = realloc(x->undo, cap * sizeof *n);
            if (!n) { /* the savepoint cannot be gone back to: a caller counting on it to
                         take a failed step back would commit half of it */
                x->sp = -1;
                x->failed = OX_ENOMEM;
                return;
            }
            x->undo = n;
            x->capundo = cap;
        }
        x->undo[x->nundo++] = (struct sp_count){t->id, keys, expires};
    }
}

/* ---- records ---------------------------------------------------------------------------------- */

/* What every write op starts from: the stored key and the record now under it. */
typedef struct ox_cur {
    unsigned char kb[OX_KEY_BUF];
    MDB_val k;
    ox_val lkey;
    const ox_val *lk;      /* &lkey for a long key (its record carries it), else NULL */
    ox_val old;
    uint64_t old_exp;
    unsigned old_kind;
    int had, live;
} ox_cur;

/* Looks the op's key up in the transaction's view. A long key whose slot holds another key
 * (the same SHA-256) cannot be written: OX_ECORRUPT rather than overwrite that key. */
static int cur_load(ox_txn *x, const ox_op *op, ox_cur *c)
{
    ox_store *s = op->t->s;
    MDB_val rec;
    c->k = ox__key_enc(s, op->key, op->klen, c->kb);
    c->lkey = (ox_val){op->key, op->klen};
    c->lk = op->klen > s->direct_max ? &c->lkey : NULL;
    c->had = c->live = 0;
    c->old_exp = 0;
    int rc;
    c->old = (ox_val){NULL, 0};
    c->old_kind = 0;
    if (op->kind == OP_PUT && (op->flags & OX_PUT_ABSENT)) {
        return OX_OK; /* nothing there, the caller says */
    } else if ((op->kind == OP_DEL && (op->flags & DEL_LIVE)) ||
               (op->kind == OP_PUT && (op->flags & OX_PUT_LIVE))) {
        c->had = c->live = 1; /* a live record without an expiry time, the caller says */
        return OX_OK;
    } else if (x->memo_t == op->t && x->memo_klen == op->klen &&
               !memcmp(x->memo_key, op->key, op->klen)) {
        rc = x->memo_rc;
        rec = x->memo_rec;
        x->memo_t = NULL;
    } else {
        rc = ox__rd_get(&x->rd, op->t, &c->k, &rec);
    }
    if (rc == OX_NOTFOUND)
        return OX_OK;
    if (rc)
        return rc;
    if (c->lk && !ox__rec_owns(s, &rec, op->key, op->klen))
        return OX_ECORRUPT;
    if ((rc = ox__val_decode(&rec, &c->old, &c->old_exp)))
        return rc;
    c->old_kind = ox__rec_kind(&rec);
    c->had = 1;
    c->live = !(c->old_exp && op->now > c->old_exp);
    return OX_OK;
}

/* Writes the key under c as (val, exp), keeping the expiry index and the counts. */
static int rec_put(ox_txn *x, ox_table *t, const ox_cur *c, const void *val, size_t vlen,
                   uint64_t exp, unsigned kind)
{
    size_t n = ox__rec_size(c->lk, vlen, exp);
    int rc = buf_room(&x->rec, &x->reccap, n, 256);
    if (rc)
        return rc;
    ox__rec_build(x->rec, c->lk, val, vlen, exp, kind);
    rc = mem_put(x, t->id, &c->k, x->rec, n);
    if (rc == OX_OK && c->had && c->old_exp && c->old_exp != exp)
        rc = exp_entry(x, t, c->old_exp, &c->k, 0);
    if (rc == OX_OK && exp && !(c->had && c->old_exp == exp))
        rc = exp_entry(x, t, exp, &c->k, 1);
    if (rc == OX_OK)
        count_add(x, t, !c->had, (exp != 0) - (c->had && c->old_exp != 0));
    return rc;
}

/* Deletes the key under c (which a layer holds). */
static int rec_del(ox_txn *x, ox_table *t, const ox_cur *c)
{
    int rc = mem_put(x, t->id, &c->k, NULL, 0);
    if (rc == OX_OK && c->old_exp)
        rc = exp_entry(x, t, c->old_exp, &c->k, 0);
    if (rc == OX_OK)
        count_add(x, t, -1, -(c->old_exp != 0));
    return rc;
}

/* ---- ops -------------------------------------------------------------------------------------- */

static int op_put(ox_txn *x, const ox_op *op)
{
    ox_cur cur;
    int rc = cur_load(x, op, &cur);
    if (rc)
        return rc;
    if ((op->flags & OX_PUT_NOOVERWRITE) && cur.live)
        return OX_ECONFLICT;
    if ((op->flags & OX_PUT_ONLYIFEXISTS) && !cur.live)
        return OX_NOTFOUND;
    uint64_t exp = (op->flags & OX_PUT_KEEPTTL) ? (cur.live ? cur.old_exp : 0) : op->at;
    if (x->seen && !x->replaying) {
        if (cur.had && !cur.live)
            x->seen(x->seen_arg, op->t, OX_SEEN_EXPIRED, op->key, op->klen);
        if (!cur.live)
            x->seen(x->seen_arg, op->t, OX_SEEN_CREATED, op->key, op->klen);
    }
    return rec_put(x, op->t, &cur, op->val, op->vlen, exp, (op->flags >> 8) & OX_KIND_MAX);
}

/* A delete that removes an expired record answers OX_NOTFOUND, yet writes (and logs). */
static int op_del(ox_txn *x, const ox_op *op)
{
    ox_cur cur;
    int rc = cur_load(x, op, &cur);
    if (rc || !cur.had)
        return rc ? rc : OX_NOTFOUND;
    if (x->seen && !x->replaying && !cur.live)
        x->seen(x->seen_arg, op->t, OX_SEEN_EXPIRED, op->key, op->klen);
    if ((rc = rec_del(x, op->t, &cur)))
        return rc;
    return cur.live ? OX_OK : OX_NOTFOUND;
}

static int op_retime(ox_txn *x, const ox_op *op)
{
    ox_cur cur;
    int rc = cur_load(x, op, &cur);
    if (rc || !cur.live)
        return rc ? rc : OX_NOTFOUND;
    uint64_t exp = op->kind == OP_EXPIRE ? op->at : 0;
    if (op->kind == OP_PERSIST && !cur.old_exp)
        return OX_NOTTL;
    if (exp == cur.old_exp)
        return OX_OK;
    return rec_put(x, op->t, &cur, cur.old.data, cur.old.len, exp, cur.old_kind);
}

/* Deletes, in expiry order, the keys whose time passed (op->now > it), looking at up to
 * op->max entries of the expiry index (0: all). */
static int op_purge(ox_txn *x, const ox_op *op, size_t *purged)
{
    ox_walk *w;
    MDB_val ek, rec;
    size_t n = 0, seen = 0;
    int rc = ox__walk_open(&x->rd, op->t, 1, &w);
    if (rc == OX_OK)
        rc = ox__walk_seek(w, NULL, 1);
    while (rc == OX_OK && (!op->max || seen < op->max)) {
        if ((rc = ox__walk_next(w, &ek, &rec)))
            break;
        if (ek.mv_size < 9) {
            rc = OX_ECORRUPT;
            break;
        }
        uint64_t exp = ox__be64_get(ek.mv_data);
        if (!(op->now > exp))
            break;
        seen++;
        ox_cur c;
        memcpy(c.kb, (unsigned char *)ek.mv_data + 8, ek.mv_size - 8);
        c.k = (MDB_val){ek.mv_size - 8, c.kb};
        c.lk = NULL;
        ox_val v, lkey;
        uint64_t rexp;
        if ((rc = ox__rd_get(&x->rd, op->t, &c.k, &rec)) == OX_OK &&
            ox__rec_decode(&rec, &v, &rexp, &lkey) == OX_OK && rexp == exp) {
            c.old_exp = exp;
            if (op->fn) /* before the write, which may let go of the record's page */
                op->fn(op->fn_arg, lkey.data ? lkey.data : c.kb + 1,
                       lkey.data ? lkey.len : c.k.mv_size - 1);
            if ((rc = rec_del(x, op->t, &c)))
                break;
            n++;
        } else if (rc == OX_OK || rc == OX_NOTFOUND) {
            rc = exp_entry(x, op->t, exp, &c.k, 0); /* an entry of nothing: gone too */
        }
    }
    ox__walk_close(w);
    if (purged)
        *purged = n;
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

static int op_clear(ox_txn *x, const ox_op *op)
{
    ox_table *t = op->t;
    ox_mver *v;
    int rc = ox__mem_clear(x->mem, t->id, x->rd.seq, &v);
    if (rc == OX_OK && (rc = vers_push(x, v)) == OX_OK &&
        (rc = ox__mem_clear(x->mem, t->id + x->s->max_tables, x->rd.seq, &v)) == OX_OK)
        rc = vers_push(x, v);
    if (rc == OX_OK) {
        long long keys = (long long)atomic_load(&t->count) + x->dcount[t->id];
        long long exps = (long long)atomic_load(&t->expires) + x->dexp[t->id];
        count_add(x, t, -keys, -exps);
    }
    return rc;
}

static int op_apply(ox_txn *x, const ox_op *op, size_t *purged)
{
    switch (op->kind) {
    case OP_PUT: return op_put(x, op);
    case OP_DEL: return op_del(x, op);
    case OP_EXPIRE:
    case OP_PERSIST: return op_retime(x, op);
    case OP_PURGE: return op_purge(x, op, purged);
    case OP_CLEAR: return op_clear(x, op);
    }
    return OX_EINVAL;
}

/* ---- the log record ------------------------------------------------------------------------
 * One op: kind[1] namelen[1] name flags[4] at[8] now[8] max[8] klen[4] key vlen[4] val,
 * integers little-endian. Tables travel by name: handles do not survive a restart (and
 * naming a table in a record is all its creation needs). */

#define OP_FIXED ((size_t)(1 + 1 + 4 + 8 + 8 + 8 + 4 + 4))

static unsigned char *enc_u(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static uint64_t dec_u(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Appends op's encoding to the transaction's record (s->txbuf). */
static int op_log(ox_txn *x, const ox_op *op)
{
    ox_store *s = x->s;
    size_t n = strlen(op->t->name), need = x->reclen + OP_FIXED + n + op->klen + op->vlen;
    if (buf_room(&s->txbuf, &s->txcap, need, 4096))
        return OX_ENOMEM;
    unsigned char *p = s->txbuf + x->reclen;
    *p++ = (unsigned char)op->kind;
    *p++ = (unsigned char)n;
    memcpy(p, op->t->name, n);
    p = enc_u(p + n, op->flags, 4);
    p = enc_u(p, op->at, 8);
    p = enc_u(p, op->now, 8);
    p = enc_u(p, op->max, 8);
    p = enc_u(p, op->klen, 4);
    if (op->klen)
        memcpy(p, op->key, op->klen);
    p = enc_u(p + op->klen, op->vlen, 4);
    if (op->vlen)
        memcpy(p, op->val, op->vlen);
    x->reclen = need;
    return OX_OK;
}

/* Decodes the op at *pp (advanced past it) into op, its table's name into name[256];
 * op->t is left NULL. OX_ECORRUPT if the bytes are not an op. */
static int op_dec(const unsigned char **pp, const unsigned char *end, ox_op *op, char *name)
{
    const unsigned char *p = *pp;
    if ((size_t)(end - p) < OP_FIXED || p[0] > (unsigned)OP_CLEAR || !p[1] ||
        (size_t)(end - p) < OP_FIXED + p[1])
        return OX_ECORRUPT;
    memset(op, 0, sizeof *op);
    op->kind = p[0];
    memcpy(name, p + 2, p[1]);
    name[p[1]] = '\0';
    p += 2 + p[1];
    op->flags = (unsigned)dec_u(p, 4);
    op->at = dec_u(p + 4, 8);
    op->now = dec_u(p + 12, 8);
    op->max = (size_t)dec_u(p + 20, 8);
    op->klen = (size_t)dec_u(p + 28, 4);
    p += 32;
    if ((size_t)(end - p) < op->klen + 4)
        return OX_ECORRUPT;
    op->key = p;
    p += op->klen;
    op->vlen = (size_t)dec_u(p, 4);
    p += 4;
    if ((size_t)(end - p) < op->vlen)
        return OX_ECORRUPT;
    op->val = p;
    *pp = p + op->vlen;
    return OX_OK;
}

/* A map growth (the checkpointer's) waits for every LMDB reader, this transaction's too:
 * it lets go of its LMDB read transaction and takes a new one after the growth. What it
 * reads does not change: LMDB only ever gains buffers its view holds already (those frozen
 * before it began). Its iterators, whose cursors were on the old transaction, are
 * detached (their next step answers OX_EBUSY). */
static int txn_yield(ox_txn *x)
{
    x->memo_t = NULL;
    ox__iter_detach_all(x);
    ox__rd_cursors_close(&x->rd);
    ox__read_end(x->s, x->rd.txn);
    x->rd.txn = NULL;
    int rc = ox__read_begin(x->s, &x->rd.txn);
    return rc ? (x->failed = rc) : OX_OK;
}

/* Applies op; if it wrote anything, logs it. Errors that leave the buffer holding part of
 * the op make the transaction unusable. A growth of the map waiting for this transaction's
 * LMDB reader gets it after the op (txn_yield), not before: the op's key and value may be
 * what the caller read through the transaction, valid until this write returns. */
static int txn_run(ox_txn *x, ox_op *op, size_t *purged)
{
    if (x->failed)
        return x->failed;
    size_t before = x->nvers;
    int rc = op_apply(x, op, purged);
    x->memo_t = NULL;
    if (x->nvers != before && !x->replaying) {
        int lrc = op_log(x, op);
        if (lrc)
            rc = x->failed = lrc;
    }
    if (rc == OX_EIO || rc == OX_EFULL || rc == OX_ENOMEM || rc == OX_EREADONLY ||
        rc == OX_ECORRUPT)
        x->failed = rc;
    if (!x->failed && atomic_load_explicit(&x->s->growing, memory_order_relaxed) &&
        txn_yield(x))
        rc = x->failed;
    return rc;
}

/* ---- begin and end ---------------------------------------------------------------------------- */

static int txn_begin(ox_store *s, int replaying, ox_txn **out)
{
    *out = NULL;
    ox_txn *x = calloc(1, sizeof *x);
    long long *d = calloc(2 * (size_t)s->max_tables, sizeof *d);
    if (!x || !d) {
        free(x);
        free(d);
        return OX_ENOMEM;
    }
    x->s = s;
    x->replaying = replaying;
    x->dcount = d;
    x->dexp = d + s->max_tables;
    pthread_mutex_lock(&s->wlock);
    int rc = ox__ckpt_room(s); /* a long replay checkpoints as it goes, too */
    if (rc == OX_OK)
        rc = ox__rd_begin(s, &x->rd);
    if (rc) {
        pthread_mutex_unlock(&s->wlock);
        free(d);
        free(x);
        return rc;
    }
    x->rd.seq = s->last_seq + 1; /* its own writes: visible to it alone */
    x->rd.cursors = 1; /* this thread's alone (ox_rd) */
    x->mem = x->rd.v->mem[0];
    x->now = ox__now(s);
    *out = x;
    return OX_OK;
}

int ox_txn_begin(ox_store *s, ox_txn **out)
{
    *out = NULL;
    if (s->read_only)
        return OX_EREADONLY;
    return txn_begin(s, 0, out);
}

static void txn_end(ox_txn *x)
{
    ox__iter_detach_all(x);
    ox__rd_end(&x->rd);
    ox_store *s = x->s;
    pthread_mutex_unlock(&s->wlock);
    free(x->vers);
    free(x->undo);
    free(x->dcount);
    free(x->rec);
    free(x);
}

void ox_txn_observe(ox_txn *x, ox_seen_fn *fn, void *arg)
{
    x->seen = fn;
    x->seen_arg = arg;
}

void ox_txn_rollback(ox_txn *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->nvers; i++)
        ox__mem_abort(x->vers[i]);
    txn_end(x);
}

int ox_txn_savepoint(ox_txn *x)
{
    if (x->failed)
        return x->failed;
    x->sp = 1;
    x->sp_nvers = x->nvers;
    x->sp_reclen = x->reclen;
    x->nundo = 0;
    return OX_OK;
}

int ox_txn_rollback_savepoint(ox_txn *x)
{
    if (x->failed)
        return x->failed;
    if (x->sp <= 0)
        return x->sp ? OX_ENOMEM : OX_EINVAL;
    for (size_t i = x->sp_nvers; i < x->nvers; i++)
        ox__mem_abort(x->vers[i]);
    x->nvers = x->sp_nvers;
    x->reclen = x->sp_reclen;
    for (size_t i = 0; i < x->nundo; i++) {
        x->dcount[x->undo[i].id] -= x->undo[i].keys;
        x->dexp[x->undo[i].id] -= x->undo[i].expires;
    }
    x->nundo = 0;
    x->memo_t = NULL;
    return OX_OK;
}

int ox_txn_commit(ox_txn *x)
{
    ox_store *s = x->s;
    int rc = x->failed;
    /* A transaction that wrote nothing commits nothing. */
    if (rc == OX_OK && !x->nvers) {
        txn_end(x);
        return OX_OK;
    }
    if (rc == OX_OK && s->log && !x->replaying)
        rc = ox__log_append(s->log, x->rd.seq, s->txbuf, x->reclen);
    if (rc != OX_OK) {
        ox_txn_rollback(x); /* refused: no version of it is ever seen */
        return rc;
    }
    uint64_t seq = x->rd.seq;
    s->last_seq = seq;
    ox__mem_committed(x->mem, seq);
    size_t bytes = ox__mem_bytes(x->mem);
    if (bytes > atomic_load_explicit(&s->mem_peak, memory_order_relaxed))
        atomic_store_explicit(&s->mem_peak, bytes, memory_order_relaxed); /* one writer */
    for (unsigned i = 0; i < s->ntables; i++) {
        if (!x->dcount[i] && !x->dexp[i])
            continue;
        ox_table *t = s->by_id[i];
        atomic_store(&t->count, (unsigned long long)((long long)atomic_load(&t->count) +
                                                     x->dcount[i]));
        atomic_store(&t->expires, (unsigned long long)((long long)atomic_load(&t->expires) +
                                                       x->dexp[i]));
    }
    if (!s->mem_born_ms)
        s->mem_born_ms = ox__mono_ms();
    atomic_store_explicit(&s->visible, seq, memory_order_release);
    /* Applied for good from here (a wrapped env's error below says only that LMDB does not
     * hold it yet: the buffer does, and readers see it). A replay's record is an old one. */
    if (s->on_commit && !x->replaying)
        s->on_commit(s->on_commit_arg, seq, s->txbuf, x->reclen);
    /* Without a log (a wrapped env), the commit is durable once LMDB holds it. */
    if (!s->log && !s->in_memory && !s->read_only && !x->replaying)
        rc = ox__ckpt_all(s);
    txn_end(x);
    return rc;
}

/* ---- records applied: recovery's replay, a replica's ox_txn_apply ------------------------ */

/* Calls fn(arg, op, name) for each op of record p (len bytes), decoded, with its table's
 * name (op->t NULL), until fn returns an error. OX_ECORRUPT if the bytes are not a
 * record. */
static int rec_each(const unsigned char *p, size_t len, int (*fn)(void *, ox_op *, const char *),
                    void *arg)
{
    char name[256];
    ox_op op;
    int rc = OX_OK;
    for (const unsigned char *q = p, *end = p + len; len && q < end && rc == OX_OK;)
        if ((rc = op_dec(&q, end, &op, name)) == OX_OK)
            rc = fn(arg, &op, name);
    return rc;
}

/* rec_tables' state: the store, whether to open, the tables seen. */
typedef struct rec_seen {
    ox_store *s;
    int open;
    ox_table **seen;
    size_t max, *n;
} rec_seen;

static int rec_table(void *arg, ox_op *op, const char *name)
{
    rec_seen *r = arg;
    if (ox__key_check(r->s, op->klen))
        return OX_ECORRUPT;
    if (!r->open)
        return ox__table_find(r->s, name) ? OX_OK : OX_NOTFOUND;
    int rc = ox_table_open(r->s, name, &op->t);
    if (rc)
        return rc == OX_EINVAL ? OX_ECORRUPT : rc; /* EINVAL: a name no table can have */
    size_t k = 0;
    while (r->seen && k < *r->n && r->seen[k] != op->t)
        k++;
    if (r->seen && k == *r->n && k < r->max)
        r->seen[(*r->n)++] = op->t;
    return OX_OK;
}

/* Decodes every op of record p (len bytes) and, open != 0, opens each table it names
 * (creating it: opening takes the tables' lock, never inside a write transaction) and
 * notes the first max distinct ones in seen (may be NULL), or checks that each one is open
 * (OX_NOTFOUND if not). OX_ECORRUPT if the bytes are not a record. */
static int rec_tables(ox_store *s, const unsigned char *p, size_t len, int open,
                      ox_table **seen, size_t max, size_t *nseen)
{
    rec_seen r = {s, open, seen, max, nseen};
    return rec_each(p, len, rec_table, &r);
}

/* One op of a record, run in the transaction arg. */
static int rec_op(void *arg, ox_op *op, const char *name)
{
    ox_txn *x = arg;
    if (!(op->t = ox__table_find(x->s, name)))
        return OX_NOTFOUND;
    int rc = txn_run(x, op, NULL);
    return rc == OX_NOTFOUND || rc == OX_ECONFLICT || rc == OX_NOTTL ? OX_OK : rc;
}

/* Runs every op of record p in x, as the commit that wrote it ran them: each op carries
 * the time it first ran, so it takes the same decisions over the same content. An op is
 * in a record because it changed something; its "error" answer (a delete of an expired
 * key, a refused NOOVERWRITE) is the same the second time, and not an error. Any other
 * error leaves part of the record applied: x is unusable. rec_tables checked the record
 * and its tables first. */
static int rec_run(ox_txn *x, const unsigned char *p, size_t len)
{
    int rc = rec_each(p, len, rec_op, x);
    if (rc)
        x->failed = rc;
    return rc;
}

/* Recovery: applies one log record in one transaction of sequence number seq. */
int ox__txn_replay(ox_store *s, uint64_t seq, const unsigned char *p, size_t len)
{
    int rc = rec_tables(s, p, len, 1, NULL, 0, NULL);
    if (rc)
        return rc;
    ox_txn *x;
    s->last_seq = seq - 1;
    if ((rc = txn_begin(s, 1, &x)))
        return rc;
    if ((rc = rec_run(x, p, len))) {
        ox_txn_rollback(x);
        return rc;
    }
    if (!x->nvers) { /* nothing to do: the number is used all the same */
        s->last_seq = seq;
        atomic_store_explicit(&s->visible, seq, memory_order_release);
    }
    return ox_txn_commit(x);
}

int ox_record_tables(ox_store *s, const void *rec, size_t len, ox_table **tables, size_t max,
                     size_t *n)
{
    if (n)
        *n = 0;
    if (!s || (len && !rec) || (tables && !n))
        return OX_EINVAL;
    return rec_tables(s, rec, len, 1, tables, max, n);
}

/* The whole record is checked (every op decodes, every table is open) before any op runs,
 * so OX_ECORRUPT and OX_NOTFOUND leave txn as it was. */
int ox_txn_apply(ox_txn *x, const void *rec, size_t len)
{
    if (!x || (len && !rec))
        return OX_EINVAL;
    if (x->failed)
        return x->failed;
    int rc = rec_tables(x->s, rec, len, 0, NULL, 0, NULL);
    return rc ? rc : rec_run(x, rec, len);
}

void ox_store_on_commit(ox_store *s, ox_commit_fn *fn, void *arg)
{
    /* Under the write lock: the writer of the next commit sees both at once. */
    pthread_mutex_lock(&s->wlock);
    s->on_commit = fn;
    s->on_commit_arg = arg;
    pthread_mutex_unlock(&s->wlock);
}

/* ---- public API ------------------------------------------------------------------------------ */

static int txn_key_op(ox_txn *x, ox_table *t, ox_op *op, const void *key, size_t klen)
{
    int rc = ox__key_check(x->s, klen);
    if (rc)
        return rc;
    op->t = t;
    op->key = key;
    op->klen = klen;
    op->now = x->now;
    return txn_run(x, op, NULL);
}

int ox_txn_buffer_full(const ox_txn *x)
{
    return x && x->mem && !x->s->read_only && ox__ckpt_full(x->s, x->mem);
}

int ox_txn_put(ox_txn *x, ox_table *t, const void *key, size_t klen, const void *val,
               size_t vlen, uint64_t expire_at, unsigned flags)
{
    if (vlen && !val)
        return OX_EINVAL;
    ox_op op = {.kind = OP_PUT, .val = val, .vlen = vlen, .at = expire_at, .flags = flags};
    return txn_key_op(x, t, &op, key, klen);
}

int ox_txn_delete(ox_txn *x, ox_table *t, const void *key, size_t klen)
{
    ox_op op = {.kind = OP_DEL};
    return txn_key_op(x, t, &op, key, klen);
}

int ox_txn_delete_live(ox_txn *x, ox_table *t, const void *key, size_t klen)
{
    ox_op op = {.kind = OP_DEL, .flags = DEL_LIVE};
    return txn_key_op(x, t, &op, key, klen);
}

int ox_txn_expire_at(ox_txn *x, ox_table *t, const void *key, size_t klen, uint64_t at)
{
    if (at == 0)
        return OX_EINVAL;
    ox_op op = {.kind = OP_EXPIRE, .at = at};
    return txn_key_op(x, t, &op, key, klen);
}

int ox_txn_persist(ox_txn *x, ox_table *t, const void *key, size_t klen)
{
    ox_op op = {.kind = OP_PERSIST};
    return txn_key_op(x, t, &op, key, klen);
}

int ox_txn_purge_expired(ox_txn *x, ox_table *t, size_t max, size_t *purged)
{
    return ox_txn_purge_expired_each(x, t, max, purged, NULL, NULL);
}

int ox_txn_purge_expired_each(ox_txn *x, ox_table *t, size_t max, size_t *purged,
                              ox_purge_fn *fn, void *arg)
{
    ox_op op = {.kind = OP_PURGE, .t = t, .max = max, .now = x->now, .fn = fn, .fn_arg = arg};
    size_t n = 0;
    int rc = txn_run(x, &op, &n);
    if (purged)
        *purged = rc ? 0 : n;
    return rc;
}

int ox_txn_clear(ox_txn *x, ox_table *t)
{
    ox_op op = {.kind = OP_CLEAR, .t = t};
    return txn_run(x, &op, NULL);
}

/* ---- reads through the transaction --------------------------------------------------------- */

/* ox__rec_get through the transaction, remembering what it found (memo_*). */
static int txn_rec_get(ox_txn *x, ox_table *t, const void *key, size_t klen, ox_val *val,
                       uint64_t *exp, unsigned *kind)
{
    if (x->failed)
        return x->failed;
    int rc = ox__key_check(x->s, klen);
    if (rc)
        return rc;
    unsigned char kb[OX_KEY_BUF];
    MDB_val k = ox__key_enc(x->s, key, klen, kb), rec = {0, NULL};
    rc = ox__rd_get(&x->rd, t, &k, &rec);
    x->memo_t = NULL;
    if ((rc == OX_OK || rc == OX_NOTFOUND) && klen <= OX_TXN_MEMO_KEY) {
        x->memo_t = t;
        x->memo_rc = rc;
        x->memo_rec = rec;
        x->memo_klen = klen;
        memcpy(x->memo_key, key, klen);
    }
    return rc ? rc : ox__rec_read(x->s, &rec, key, klen, val, exp, kind, x->now);
}

int ox_txn_get(ox_txn *x, ox_table *t, const void *key, size_t klen, ox_val *val)
{
    return txn_rec_get(x, t, key, klen, val, NULL, NULL);
}

int ox_txn_read(ox_txn *x, ox_table *t, const void *key, size_t klen, ox_val *val,
                unsigned *kind, uint64_t *expire_at)
{
    return txn_rec_get(x, t, key, klen, val, expire_at, kind);
}

void ox_txn_prefetch(ox_txn *x, ox_table *t, const void *key, size_t klen, int step)
{
    if (x->failed || klen > x->s->direct_max) /* a long key's form costs a SHA-256 */
        return;
    unsigned char kb[OX_KEY_BUF];
    MDB_val k = ox__key_enc(x->s, key, klen, kb);
    for (int i = 0; i < x->rd.v->nmem; i++)
        ox__mem_prefetch(x->rd.v->mem[i], t->id, &k, step);
}

int ox_txn_contains(ox_txn *x, ox_table *t, const void *key, size_t klen)
{
    ox_val v;
    return ox_txn_get(x, t, key, klen, &v);
}

int ox_txn_expire_time(ox_txn *x, ox_table *t, const void *key, size_t klen, uint64_t *at)
{
    ox_val v;
    int rc = txn_rec_get(x, t, key, klen, &v, at, NULL);
    return rc == OX_OK && *at == 0 ? OX_NOTTL : rc;
}

int ox_txn_ttl(ox_txn *x, ox_table *t, const void *key, size_t klen, uint64_t *ms)
{
    return x->failed ? x->failed : ox__rec_ttl(&x->rd, t, key, klen, ms, x->now);
}

int ox_txn_count(ox_txn *x, ox_table *t, uint64_t *n)
{
    *n = x->failed ? 0 : (uint64_t)((long long)atomic_load(&t->count) + x->dcount[t->id]);
    return x->failed;
}

int ox_txn_range(ox_txn *x, ox_table *t, const ox_val *lo, const ox_val *hi, unsigned flags,
                 ox_iter **out)
{
    *out = NULL;
    if (x->failed)
        return x->failed;
    return ox__iter_open(&x->rd, 0, x, t, lo, hi, flags, out);
}

int ox_txn_prefix(ox_txn *x, ox_table *t, const ox_val *prefix, unsigned flags, ox_iter **out)
{
    *out = NULL;
    return x->failed ? x->failed : ox__iter_open_prefix(&x->rd, 0, x, t, prefix, flags, out);
}
