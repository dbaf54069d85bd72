/* ox_txn.c — write transactions: every mutation is one ox_op, applied to LMDB and
 * recorded, so that when LMDB's map fills up mid-transaction the transaction can be
 * aborted, the map grown and the recorded ops replayed with nobody in between (the store's
 * wlock is held for the transaction's whole life). Ops that read the clock record the time
 * they first ran, so a replay takes the same decisions. The same log, encoded, is the
 * transaction's record in the write-ahead log (ox_wal.h) of OX_SYNC_ALWAYS stores, and
 * recovery replays it the same way. */
#include <stdlib.h>
#include <string.h>

#include "ox_internal.h"
#include "ox_wal.h"

#define OX_REGROW_TRIES 40

enum ox_opkind { OP_PUT, OP_DEL, OP_EXPIRE, OP_PERSIST, OP_PURGE, OP_CLEAR };

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
    unsigned flags;  /* OP_PUT: ox_put_flags */
} ox_op;

struct ox_txn {
    ox_store *s;
    MDB_txn *txn;
    ox_op *log;      /* applied ops; key and val point into one malloc'd block each */
    size_t nlog, caplog;
    ox_iter *iters;  /* open iterators, detached when the LMDB txn ends */
    int failed;      /* an error left the LMDB txn unusable: only rollback remains */
    uint64_t now;    /* the clock when it began: every expiry judged in it is judged then,
                        so a value read and rewritten keeps the TTL it was read with */
};

ox_iter **ox__txn_iters(ox_txn *x) { return &x->iters; }
MDB_txn *ox__txn_mdb(ox_txn *x) { return x->txn; }
uint64_t ox__txn_now(ox_txn *x) { return x->now; }

/* ---- expiry index --------------------------------------------------------------------- */

static int idx_put(MDB_txn *txn, ox_table *t, uint64_t exp, MDB_val *key)
{
    unsigned char eb[8];
    ox__be64_put(eb, exp);
    MDB_val ek = {8, eb};
    return ox__mdb_err(mdb_put(txn, t->exp, &ek, key, 0));
}

static int idx_del(MDB_txn *txn, ox_table *t, uint64_t exp, MDB_val *key)
{
    unsigned char eb[8];
    ox__be64_put(eb, exp);
    MDB_val ek = {8, eb};
    int rc = mdb_del(txn, t->exp, &ek, key);
    return rc == MDB_NOTFOUND ? OX_OK : ox__mdb_err(rc);
}

/* ---- records ---------------------------------------------------------------------------- */

/* Looks key (stored form k, user form lkey) up in the txn's view: *had = a record exists,
 * *live = it has not expired at `now`, *old its user bytes, *old_exp its expiry time
 * (0 = none). A long key whose slot holds another key (the same SHA-256) cannot be
 * written: OX_ECORRUPT rather than overwrite that key. */
static int rec_read(MDB_txn *txn, ox_table *t, MDB_val *k, const ox_val *lkey, uint64_t now,
                    int *had, int *live, ox_val *old, uint64_t *old_exp)
{
    MDB_val rec;
    *had = *live = 0;
    *old_exp = 0;
    int rc = mdb_get(txn, t->data, k, &rec);
    if (rc == MDB_NOTFOUND)
        return OX_OK;
    if (rc)
        return ox__mdb_err(rc);
    if (lkey && !ox__rec_owns(t->s, &rec, lkey->data, lkey->len))
        return OX_ECORRUPT;
    if ((rc = ox__val_decode(&rec, old, old_exp)))
        return rc;
    *had = 1;
    *live = !(*old_exp && now > *old_exp);
    return OX_OK;
}

/* Rewrites a live record with a new expiry time, keeping its bytes (copied out first:
 * they may live in a page the write moves). */
static int rec_retime(MDB_txn *txn, ox_table *t, MDB_val *k, const ox_val *lkey, ox_val old,
                      uint64_t old_exp, uint64_t exp)
{
    void *copy = malloc(old.len ? old.len : 1);
    if (!copy)
        return OX_ENOMEM;
    memcpy(copy, old.data, old.len);
    int rc = ox__rec_write(txn, t->data, k, lkey, copy, old.len, exp);
    free(copy);
    if (rc == OX_OK && old_exp)
        rc = idx_del(txn, t, old_exp, k);
    if (rc == OX_OK && exp)
        rc = idx_put(txn, t, exp, k);
    return rc;
}

/* ---- ops ----------------------------------------------------------------------------------- */

/* What every write op starts from: the stored key and the record now under it. */
typedef struct ox_cur {
    unsigned char kb[OX_KEY_BUF];
    MDB_val k;
    ox_val lkey;
    const ox_val *lk;      /* &lkey for a long key (its record carries it), else NULL */
    ox_val old;
    uint64_t old_exp;
    int had, live;
} ox_cur;

static int cur_load(MDB_txn *txn, const ox_op *op, ox_cur *c)
{
    ox_store *s = op->t->s;
    c->k = ox__key_enc(s, op->key, op->klen, c->kb);
    c->lkey = (ox_val){op->key, op->klen};
    c->lk = op->klen > s->direct_max ? &c->lkey : NULL;
    return rec_read(txn, op->t, &c->k, c->lk, op->now, &c->had, &c->live, &c->old, &c->old_exp);
}

static int op_put(MDB_txn *txn, const ox_op *op)
{
    ox_cur cur;
    int rc = cur_load(txn, op, &cur);
    if (rc)
        return rc;
    if ((op->flags & OX_PUT_NOOVERWRITE) && cur.live)
        return OX_ECONFLICT;
    if ((op->flags & OX_PUT_ONLYIFEXISTS) && !cur.live)
        return OX_NOTFOUND;
    uint64_t exp = (op->flags & OX_PUT_KEEPTTL) ? (cur.live ? cur.old_exp : 0) : op->at;
    if (cur.had && cur.old_exp && cur.old_exp != exp &&
        (rc = idx_del(txn, op->t, cur.old_exp, &cur.k)))
        return rc;
    if ((rc = ox__rec_write(txn, op->t->data, &cur.k, cur.lk, op->val, op->vlen, exp)))
        return rc;
    if (exp && !(cur.had && cur.old_exp == exp))
        rc = idx_put(txn, op->t, exp, &cur.k);
    return rc;
}

static int op_del(MDB_txn *txn, const ox_op *op)
{
    ox_cur cur;
    int rc = cur_load(txn, op, &cur);
    if (rc || !cur.had)
        return rc ? rc : OX_NOTFOUND;
    if ((rc = ox__mdb_err(mdb_del(txn, op->t->data, &cur.k, NULL))))
        return rc;
    if (cur.old_exp && (rc = idx_del(txn, op->t, cur.old_exp, &cur.k)))
        return rc;
    return cur.live ? OX_OK : OX_NOTFOUND;
}

static int op_retime(MDB_txn *txn, const ox_op *op)
{
    ox_cur cur;
    int rc = cur_load(txn, op, &cur);
    if (rc || !cur.live)
        return rc ? rc : OX_NOTFOUND;
    uint64_t exp = op->kind == OP_EXPIRE ? op->at : 0;
    if (op->kind == OP_PERSIST && !cur.old_exp)
        return OX_NOTTL;
    if (exp == cur.old_exp)
        return OX_OK;
    return rec_retime(txn, op->t, &cur.k, cur.lk, cur.old, cur.old_exp, exp);
}

static int op_purge(MDB_txn *txn, const ox_op *op, size_t *purged)
{
    MDB_cursor *c;
    MDB_val ek, uk, rec;
    size_t n = 0, seen = 0;
    int rc = mdb_cursor_open(txn, op->t->exp, &c);
    if (rc)
        return ox__mdb_err(rc);
    while (!op->max || seen < op->max) {
        /* The earliest entry is always first: re-seek after each delete. */
        rc = mdb_cursor_get(c, &ek, &uk, MDB_FIRST);
        if (rc)
            break;
        if (ek.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        uint64_t exp = ox__be64_get(ek.mv_data);
        if (!(op->now > exp))
            break;
        seen++;
        rc = mdb_get(txn, op->t->data, &uk, &rec);
        if (rc == MDB_SUCCESS) {
            ox_val v;
            uint64_t rexp;
            if (ox__val_decode(&rec, &v, &rexp) == OX_OK && rexp == exp) {
                if ((rc = mdb_del(txn, op->t->data, &uk, NULL)))
                    break;
                n++;
            }
        } else if (rc != MDB_NOTFOUND) {
            break;
        }
        if ((rc = mdb_cursor_del(c, 0)))
            break;
    }
    mdb_cursor_close(c);
    if (purged)
        *purged = n;
    return rc == MDB_NOTFOUND ? OX_OK : ox__mdb_err(rc);
}

static int op_apply(MDB_txn *txn, const ox_op *op, size_t *purged)
{
    switch (op->kind) {
    case OP_PUT: return op_put(txn, op);
    case OP_DEL: return op_del(txn, op);
    case OP_EXPIRE:
    case OP_PERSIST: return op_retime(txn, op);
    case OP_PURGE: return op_purge(txn, op, purged);
    case OP_CLEAR: {
        int rc = mdb_drop(txn, op->t->data, 0);
        if (rc == MDB_SUCCESS)
            rc = mdb_drop(txn, op->t->exp, 0);
        return ox__mdb_err(rc);
    }
    }
    return OX_EINVAL;
}

/* ---- the log and replay ------------------------------------------------------------------ */

/* Applies a logged op again. An op is logged when it changed something or may have (a
 * delete that removed an expired record answers OX_NOTFOUND): its answer the second time
 * is not an error. */
static int op_replay(MDB_txn *txn, const ox_op *op)
{
    int rc = op_apply(txn, op, NULL);
    return (rc == OX_NOTFOUND || rc == OX_ECONFLICT || rc == OX_NOTTL) ? OX_OK : rc;
}

static int log_append(ox_txn *x, const ox_op *op)
{
    if (x->nlog == x->caplog) {
        size_t cap = x->caplog ? x->caplog * 2 : 8;
        ox_op *n = realloc(x->log, cap * sizeof *n);
        if (!n)
            return OX_ENOMEM;
        x->log = n;
        x->caplog = cap;
    }
    ox_op *e = &x->log[x->nlog];
    *e = *op;
    if (op->klen || op->vlen) {
        char *buf = malloc(op->klen + op->vlen);
        if (!buf)
            return OX_ENOMEM;
        if (op->klen)
            memcpy(buf, op->key, op->klen);
        if (op->vlen)
            memcpy(buf + op->klen, op->val, op->vlen);
        e->key = buf;
        e->val = buf + op->klen;
    }
    x->nlog++;
    return OX_OK;
}

static void log_free(ox_txn *x)
{
    for (size_t i = 0; i < x->nlog; i++)
        if (x->log[i].klen || x->log[i].vlen)
            free((void *)x->log[i].key);
    free(x->log);
    x->log = NULL;
    x->nlog = x->caplog = 0;
}

/* Begins the LMDB write txn, adopting another process's map growth if asked to. */
static int txn_begin_mdb(ox_txn *x)
{
    for (int tries = 0;; tries++) {
        int rc = mdb_txn_begin(x->s->env, NULL, 0, &x->txn);
        if (rc == MDB_PANIC && tries < 2 && ox__revive_if_failed(x->s, &rc)) {
            if (rc) /* readers stayed: the next transaction tries again */
                return x->txn = NULL, rc;
            continue;
        }
        if (rc != MDB_MAP_RESIZED || tries > 2)
            return rc ? (x->txn = NULL, ox__mdb_err(rc)) : OX_OK;
        if ((rc = ox__grow(x->s, 1)))
            return rc;
    }
}

/* The map is full: end the LMDB txn (if still alive), grow, begin anew, replay the log. */
static int txn_regrow(ox_txn *x)
{
    for (int tries = 0; tries < OX_REGROW_TRIES; tries++) {
        ox__iter_detach_all(x, 0);
        if (x->txn)
            mdb_txn_abort(x->txn);
        x->txn = NULL;
        int rc = ox__grow(x->s, 0);
        if (rc == OX_OK)
            rc = txn_begin_mdb(x);
        if (rc)
            return rc;
        for (size_t i = 0; i < x->nlog && rc == OX_OK; i++)
            rc = op_replay(x->txn, &x->log[i]);
        if (rc != OX_IMAPFULL)
            return rc;
    }
    return OX_EFULL;
}

static int txn_run(ox_txn *x, ox_op *op, size_t *purged)
{
    if (x->failed)
        return x->failed;
    int rc;
    while ((rc = op_apply(x->txn, op, purged)) == OX_IMAPFULL) {
        if ((rc = txn_regrow(x))) {
            x->failed = rc;
            return rc;
        }
    }
    /* A delete is logged even when it answers OX_NOTFOUND: it may have removed an
     * expired record, and a replay must do the same. */
    if (rc == OX_OK || (rc == OX_NOTFOUND && op->kind == OP_DEL)) {
        int lrc = log_append(x, op);
        if (lrc)
            rc = x->failed = lrc;
    }
    if (rc == OX_EIO || rc == OX_EFULL || rc == OX_ENOMEM || rc == OX_EREADONLY)
        x->failed = rc;
    return rc;
}

/* ---- the log as a write-ahead-log record -------------------------------------------------
 * One op: kind[1] namelen[1] name flags[4] at[8] now[8] max[8] klen[4] key vlen[4] val,
 * integers little-endian. Tables travel by name: handles do not survive a restart. */

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

static size_t op_enc_size(const ox_op *op)
{
    return OP_FIXED + strlen(op->t->name) + op->klen + op->vlen;
}

static unsigned char *op_enc(unsigned char *p, const ox_op *op)
{
    size_t n = strlen(op->t->name);
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
    return p + op->vlen;
}

/* Decodes the op at *p (advanced past it) into op, name into name[256]; op->t is left
 * NULL. OX_ECORRUPT if the bytes are not an op. */
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

/* Makes the transaction's log durable (under OX_SYNC_ALWAYS) before its LMDB commit. */
static int txn_log_write(ox_txn *x, ox_wal *w)
{
    size_t len = 0;
    for (size_t i = 0; i < x->nlog; i++)
        len += op_enc_size(&x->log[i]);
    unsigned char *rec, *p;
    int rc = ox__wal_reserve(w, len, &rec);
    if (rc)
        return rc;
    p = rec + OX_WAL_HEAD;
    for (size_t i = 0; i < x->nlog; i++)
        p = op_enc(p, &x->log[i]);
    return ox__wal_append(w, x->s->env, len);
}

/* Recovery: applies one write-ahead-log record in one transaction (the store has no log
 * attached yet, so this commit is not logged again). */
int ox__txn_replay(ox_store *s, const unsigned char *p, size_t len)
{
    const unsigned char *end = p + len, *q;
    char name[256];
    ox_op op;
    int rc = OX_OK;
    /* Tables first: opening one commits, which cannot happen inside the transaction. */
    for (q = p; q < end && rc == OX_OK;)
        if ((rc = op_dec(&q, end, &op, name)) == OX_OK)
            rc = ox_table_open(s, name, &op.t);
    if (rc)
        return rc;
    ox_txn *x;
    if ((rc = ox_txn_begin(s, &x)))
        return rc;
    for (q = p; q < end && rc == OX_OK;) {
        if ((rc = op_dec(&q, end, &op, name)) || (rc = ox_table_open(s, name, &op.t)))
            break;
        while ((rc = op_replay(x->txn, &op)) == OX_IMAPFULL)
            if ((rc = txn_regrow(x)))
                break;
        if (rc == OX_OK)
            rc = log_append(x, &op);
    }
    if (rc) {
        ox_txn_rollback(x);
        return rc;
    }
    return ox_txn_commit(x);
}

/* ---- public API ----------------------------------------------------------------------------- */

int ox_txn_begin(ox_store *s, ox_txn **out)
{
    *out = NULL;
    if (s->read_only)
        return OX_EREADONLY;
    ox_txn *x = calloc(1, sizeof *x);
    if (!x)
        return OX_ENOMEM;
    x->s = s;
    pthread_mutex_lock(&s->wlock);
    x->now = ox__now(s);
    ox__grow_if_needed(s);
    int rc = txn_begin_mdb(x);
    if (rc) {
        pthread_mutex_unlock(&s->wlock);
        free(x);
        return rc;
    }
    *out = x;
    return OX_OK;
}

static void txn_end(ox_txn *x)
{
    ox__iter_detach_all(x, 1);
    if (x->txn)
        mdb_txn_abort(x->txn);
    pthread_mutex_unlock(&x->s->wlock);
    log_free(x);
    free(x);
}

void ox_txn_rollback(ox_txn *x)
{
    if (x)
        txn_end(x);
}

int ox_txn_commit(ox_txn *x)
{
    int rc = x->failed, logged = 0;
    ox_wal *w = x->s->wal;
    /* Every change is an op in the log: a transaction that logged none changed nothing, and
     * needs no LMDB commit (one would bypass the log, which may have no checkpoint pinned
     * after ox__revive_if_failed: see ox__wal_ready). */
    if (rc == OX_OK && !x->nlog) {
        txn_end(x);
        return OX_OK;
    }
    if (rc == OX_OK && w) {
        rc = txn_log_write(x, w);
        logged = rc == OX_OK;
    }
    for (int tries = 0; rc == OX_OK && tries < OX_REGROW_TRIES; tries++) {
        ox__iter_detach_all(x, 0);
        rc = ox__mdb_err(mdb_txn_commit(x->txn));
        x->txn = NULL; /* LMDB freed it, committed or not */
        if (rc != OX_IMAPFULL)
            break;
        rc = txn_regrow(x);
    }
    if (rc == OX_IMAPFULL)
        rc = OX_EFULL;
    rc = ox__space_err(x->s, rc);
    /* Refused, the commit must stay without effect after a crash too: its record goes. */
    if (rc != OX_OK && logged)
        ox__wal_cancel(w, x->s->env);
    /* A failure while LMDB wrote its meta page leaves its env failed for every reader too:
     * reopen it now, so reads go on while the disk is fixed (the commit still failed). */
    int revive_rc; /* OX_EBUSY leaves it to the next ox_txn_begin */
    if (rc != OX_OK)
        ox__revive_if_failed(x->s, &revive_rc);
    txn_end(x);
    return rc;
}

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
    ox_op op = {.kind = OP_PURGE, .t = t, .max = max, .now = x->now};
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

int ox_txn_get(ox_txn *x, ox_table *t, const void *key, size_t klen, ox_val *val)
{
    return x->failed ? x->failed : ox__rec_get(x->s, x->txn, t, key, klen, val, NULL, x->now);
}

int ox_txn_contains(ox_txn *x, ox_table *t, const void *key, size_t klen)
{
    ox_val v;
    return ox_txn_get(x, t, key, klen, &v);
}

int ox_txn_expire_time(ox_txn *x, ox_table *t, const void *key, size_t klen, uint64_t *at)
{
    ox_val v;
    int rc = x->failed ? x->failed : ox__rec_get(x->s, x->txn, t, key, klen, &v, at, x->now);
    return rc == OX_OK && *at == 0 ? OX_NOTTL : rc;
}

int ox_txn_ttl(ox_txn *x, ox_table *t, const void *key, size_t klen, uint64_t *ms)
{
    return x->failed ? x->failed : ox__rec_ttl(x->s, x->txn, t, key, klen, ms, x->now);
}

int ox_txn_count(ox_txn *x, ox_table *t, uint64_t *n)
{
    MDB_stat st;
    int rc = x->failed ? x->failed : ox__mdb_err(mdb_stat(x->txn, t->data, &st));
    *n = rc ? 0 : st.ms_entries;
    return rc;
}

int ox_txn_range(ox_txn *x, ox_table *t, const ox_val *lo, const ox_val *hi, unsigned flags,
                 ox_iter **out)
{
    *out = NULL;
    if (x->failed)
        return x->failed;
    return ox__iter_open(x->s, x->txn, 0, x, t, lo, hi, flags, out);
}

int ox_txn_prefix(ox_txn *x, ox_table *t, const ox_val *prefix, unsigned flags, ox_iter **out)
{
    *out = NULL;
    return x->failed ? x->failed
                     : ox__iter_open_prefix(x->s, x->txn, 0, x, t, prefix, flags, out);
}
