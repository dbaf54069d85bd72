/* ox_view.c — the read path over the layers: views (which write buffers a reader sees),
 * readers (a view, an LMDB read transaction that fits it, a commit sequence number),
 * point reads, and the ordered walk that merges the layers.
 *
 * Why a reader takes LMDB first and the view second, and may retry: a checkpoint commits
 * a frozen buffer F to LMDB, then swaps in a view without F (with lmdb_min = that commit).
 * A reader that took a view without F must read an LMDB that holds F: it checks
 * txn id >= lmdb_min and renews otherwise. A reader that took LMDB before F's commit and a
 * view that still holds F reads F's data from F; one that took both after sees it twice,
 * the same. And its sequence number, read with the view, is at least every commit in the
 * LMDB it read, which holds only frozen buffers' commits: LMDB never shows it a commit
 * newer than its number. */
#include <stdlib.h>
#include <string.h>

#include "ox_internal.h"

/* ---- views ------------------------------------------------------------------------------ */

ox_view *ox__view_get(ox_store *s)
{
    pthread_mutex_lock(&s->view_mu);
    ox_view *v = s->view;
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&s->view_mu);
    return v;
}

void ox__view_put(ox_view *v)
{
    if (!v || atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int i = 0; i < v->nmem; i++)
        ox__mem_unref(v->mem[i]);
    free(v);
}

int ox__view_swap(ox_store *s, ox_mem *const *mem, int nmem, size_t lmdb_min)
{
    ox_view *v = calloc(1, sizeof *v);
    if (!v)
        return OX_ENOMEM;
    atomic_init(&v->refs, 1);
    v->nmem = nmem;
    for (int i = 0; i < nmem; i++) {
        v->mem[i] = mem[i];
        ox__mem_ref(mem[i]);
    }
    v->lmdb_min = lmdb_min;
    pthread_mutex_lock(&s->view_mu);
    ox_view *old = s->view;
    s->view = v;
    pthread_mutex_unlock(&s->view_mu);
    ox__view_put(old);
    return OX_OK;
}

/* ---- readers ------------------------------------------------------------------------------ */

/* rd->txn is a fresh LMDB read transaction: takes the view and the sequence number, and
 * renews the transaction while it is older than the view needs. A renew that finds the
 * env failed since (MDB_PANIC: a checkpoint's meta page write failed) begins again through
 * ox__read_begin, which waits for the env's reopen, once. */
static int rd_fit(ox_rd *rd)
{
    ox_store *s = rd->s;
    for (int waited = 0;;) {
        pthread_mutex_lock(&s->view_mu);
        ox_view *v = s->view;
        atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
        rd->seq = atomic_load_explicit(&s->visible, memory_order_acquire);
        pthread_mutex_unlock(&s->view_mu);
        if (mdb_txn_id(rd->txn) >= v->lmdb_min) {
            rd->v = v;
            return OX_OK;
        }
        ox__view_put(v);
        mdb_txn_reset(rd->txn);
        int rc = mdb_txn_renew(rd->txn);
        if (rc == MDB_PANIC && !waited) {
            ox__read_end(s, rd->txn);
            rd->txn = NULL;
            waited = 1;
            if ((rc = ox__read_begin(s, &rd->txn)) != OX_OK)
                return rc;
            continue;
        }
        if (rc)
            return ox__mdb_err(rc);
    }
}

int ox__rd_begin(ox_store *s, ox_rd *rd)
{
    rd->s = s;
    rd->v = NULL;
    rd->txn = NULL;
    rd->cursors = rd->ncur = 0;
    int rc = ox__read_begin(s, &rd->txn);
    if (rc)
        return rc;
    if ((rc = rd_fit(rd))) {
        ox__read_end(s, rd->txn);
        rd->txn = NULL;
    }
    return rc;
}

int ox__rd_renew(ox_rd *rd)
{
    ox__rd_end(rd);
    return ox__rd_begin(rd->s, rd);
}

void ox__rd_cursors_close(ox_rd *rd)
{
    while (rd->ncur)
        mdb_cursor_close(rd->cur[--rd->ncur]);
}

void ox__rd_end(ox_rd *rd)
{
    ox__rd_cursors_close(rd);
    ox__view_put(rd->v);
    rd->v = NULL;
    if (rd->txn)
        ox__read_end(rd->s, rd->txn);
    rd->txn = NULL;
}

/* rd's cursor on dbi, opened if it has none (the least recently opened one closed when
 * all OX_RD_CURSORS are in use); NULL if LMDB could not open one. */
static MDB_cursor *rd_cursor(ox_rd *rd, MDB_dbi dbi)
{
    for (int i = 0; i < rd->ncur; i++)
        if (rd->cur_dbi[i] == dbi)
            return rd->cur[i];
    MDB_cursor *c;
    if (mdb_cursor_open(rd->txn, dbi, &c) != MDB_SUCCESS)
        return NULL;
    if (rd->ncur == OX_RD_CURSORS) {
        mdb_cursor_close(rd->cur[0]);
        memmove(rd->cur, rd->cur + 1, (OX_RD_CURSORS - 1) * sizeof rd->cur[0]);
        memmove(rd->cur_dbi, rd->cur_dbi + 1, (OX_RD_CURSORS - 1) * sizeof rd->cur_dbi[0]);
        rd->ncur--;
    }
    rd->cur[rd->ncur] = c;
    rd->cur_dbi[rd->ncur++] = dbi;
    return c;
}

int ox__rd_get(const ox_rd *rd, ox_table *t, const MDB_val *key, MDB_val *rec)
{
    const ox_view *v = rd->v;
    for (int i = 0; i < v->nmem; i++) {
        int st = ox__mem_get(v->mem[i], t->id, key, rd->seq, rec);
        if (st != OX_MEM_MISS)
            return st == OX_MEM_FOUND ? OX_OK : OX_NOTFOUND;
    }
    if (!ox__table_in(t, rd->txn))
        return OX_NOTFOUND;
    MDB_cursor *c = rd->cursors ? rd_cursor((ox_rd *)rd, t->data) : NULL;
    if (!c)
        return ox__mdb_err(mdb_get(rd->txn, t->data, (MDB_val *)key, rec));
    return ox__mdb_err(mdb_cursor_get(c, (MDB_val *)key, rec, MDB_SET));
}

int ox__key_cmp(const MDB_val *a, const MDB_val *b)
{
    size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
    int d = n ? memcmp(a->mv_data, b->mv_data, n) : 0;
    return d ? d : (a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size);
}

/* ---- the layered walk ---------------------------------------------------------------------- */

/* One layer's cursor: a write buffer's, or LMDB's. */
typedef struct src {
    int lmdb;
    ox_mem_cur mc;
    MDB_cursor *lc;
    int valid;          /* positioned on a key */
    int off;            /* a write buffer left out (ox__walk_within): never positioned */
    MDB_val key, val;   /* LMDB's current pair (for the expiry index: key is built) */
    unsigned char kb[8 + OX_KEY_BUF];
} src;

struct ox_walk {
    const ox_rd *rd;
    int exp;            /* the expiry index */
    unsigned table;     /* in the write buffers */
    int asc;
    int nsrc;
    src s[OX_VIEW_MAX + 1];
    const MDB_val *end; /* ox__walk_end's, or NULL */
    size_t limit;       /* ox__walk_limit's (0: none), and the keys stepped over since */
    size_t skipped;
    size_t dels;        /* deletions stepped over in all (OX_WALK_DELS) */
    MDB_val last;       /* the key last returned, in lastbuf */
    unsigned char lastbuf[8 + OX_KEY_BUF];
};

/* The expiry index's LMDB pair as one key: time then stored key. */
static void lmdb_exp_key(src *c, const MDB_val *k, const MDB_val *v)
{
    size_t n = v->mv_size < OX_KEY_BUF ? v->mv_size : OX_KEY_BUF;
    memcpy(c->kb, k->mv_data, k->mv_size < 8 ? k->mv_size : 8);
    memcpy(c->kb + 8, v->mv_data, n);
    c->key = (MDB_val){8 + n, c->kb};
}

/* Reads LMDB's cursor after op into c (valid or not). */
static int lmdb_load(ox_walk *w, src *c, int rc, MDB_val *k, MDB_val *v)
{
    if (rc == MDB_NOTFOUND) {
        c->valid = 0;
        return OX_OK;
    }
    if (rc)
        return ox__mdb_err(rc);
    c->valid = 1;
    if (w->exp) {
        if (k->mv_size != 8)
            return OX_ECORRUPT;
        lmdb_exp_key(c, k, v);
        c->val = (MDB_val){0, c->kb};
    } else {
        c->key = *k;
        c->val = *v;
    }
    return OX_OK;
}

int ox__walk_open(const ox_rd *rd, ox_table *t, int exp, ox_walk **out)
{
    *out = NULL;
    ox_walk *w = calloc(1, sizeof *w);
    if (!w)
        return OX_ENOMEM;
    w->rd = rd;
    w->exp = exp;
    w->table = t->id + (exp ? t->s->max_tables : 0);
    /* A clear visible in a layer hides every older one for this table. */
    int stop = 0;
    for (int i = 0; i < rd->v->nmem && !stop; i++) {
        ox__mem_cur_init(&w->s[w->nsrc++].mc, rd->v->mem[i], w->table);
        stop = ox__mem_cleared(rd->v->mem[i], t->id, rd->seq);
    }
    if (!stop && ox__table_in(t, rd->txn)) {
        src *c = &w->s[w->nsrc];
        int rc = mdb_cursor_open(rd->txn, exp ? t->exp : t->data, &c->lc);
        if (rc) {
            free(w);
            return ox__mdb_err(rc);
        }
        c->lmdb = 1;
        w->nsrc++;
    }
    *out = w;
    return OX_OK;
}

void ox__walk_close(ox_walk *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->nsrc; i++)
        if (w->s[i].lmdb)
            mdb_cursor_close(w->s[i].lc);
    free(w);
}

/* Positions LMDB's cursor on the first key >= key (asc) or the last <= key. */
static int lmdb_seek(ox_walk *w, src *c, const MDB_val *key, int asc)
{
    MDB_val k, v;
    int rc;
    if (!key) {
        rc = mdb_cursor_get(c->lc, &k, &v, asc ? MDB_FIRST : MDB_LAST);
        return lmdb_load(w, c, rc, &k, &v);
    }
    if (!w->exp) {
        k = *key;
        rc = mdb_cursor_get(c->lc, &k, &v, MDB_SET_RANGE);
    } else {
        /* Time, then within it the stored keys (sorted duplicates). */
        unsigned char tb[8] = {0};
        memcpy(tb, key->mv_data, key->mv_size < 8 ? key->mv_size : 8);
        k = (MDB_val){8, tb};
        v = (MDB_val){key->mv_size > 8 ? key->mv_size - 8 : 0,
                      (unsigned char *)key->mv_data + 8};
        rc = mdb_cursor_get(c->lc, &k, &v, MDB_GET_BOTH_RANGE);
        if (rc == MDB_NOTFOUND) { /* past this time's entries: the next time's first */
            k = (MDB_val){8, tb};
            rc = mdb_cursor_get(c->lc, &k, &v, MDB_SET_RANGE);
            if (rc == 0 && k.mv_size == 8 && !memcmp(k.mv_data, tb, 8))
                rc = mdb_cursor_get(c->lc, &k, &v, MDB_NEXT_NODUP);
        }
    }
    if ((rc = lmdb_load(w, c, rc, &k, &v)))
        return rc;
    if (asc)
        return OX_OK;
    /* Descending: the last <= key, so one step back from the first >= key unless equal. */
    if (!c->valid) {
        rc = mdb_cursor_get(c->lc, &k, &v, MDB_LAST);
        return lmdb_load(w, c, rc, &k, &v);
    }
    if (ox__key_cmp(&c->key, key) == 0)
        return OX_OK;
    rc = mdb_cursor_get(c->lc, &k, &v, MDB_PREV);
    return lmdb_load(w, c, rc, &k, &v);
}

static int src_step(ox_walk *w, src *c)
{
    if (!c->lmdb) {
        ox__mem_cur_step(&c->mc, w->asc);
        return OX_OK;
    }
    MDB_val k, v;
    int rc = mdb_cursor_get(c->lc, &k, &v, w->asc ? MDB_NEXT : MDB_PREV);
    return lmdb_load(w, c, rc, &k, &v);
}

static int src_key(src *c, MDB_val *key)
{
    if (c->lmdb) {
        *key = c->key;
        return c->valid;
    }
    return ox__mem_cur_key(&c->mc, key);
}

int ox__walk_seek(ox_walk *w, const MDB_val *key, int asc)
{
    w->asc = asc;
    w->last.mv_size = 0;
    for (int i = 0; i < w->nsrc; i++) {
        src *c = &w->s[i];
        if (c->off) {
            continue;
        } else if (!c->lmdb) {
            ox__mem_cur_seek(&c->mc, key, asc);
        } else {
            int rc = lmdb_seek(w, c, key, asc);
            if (rc)
                return rc;
        }
    }
    return OX_OK;
}

void ox__walk_within(ox_walk *w, const MDB_val *lo, const MDB_val *hi)
{
    for (int i = 0; i < w->nsrc; i++)
        if (!w->s[i].lmdb && !ox__mem_may_hold(w->s[i].mc.m, w->table, lo, hi))
            w->s[i].off = 1;
}

void ox__walk_end(ox_walk *w, const MDB_val *end)
{
    w->end = end;
}

void ox__walk_limit(ox_walk *w, size_t limit)
{
    w->limit = limit;
    w->skipped = 0;
}

int ox__walk_skip(ox_walk *w)
{
    return w->limit && ++w->skipped > w->limit ? OX_ELIMIT : OX_OK;
}

int ox__walk_next(ox_walk *w, MDB_val *key, MDB_val *rec)
{
    for (;;) {
        /* The next key over every layer. */
        int best = -1;
        MDB_val bk = {0, NULL};
        for (int i = 0; i < w->nsrc; i++) {
            MDB_val k;
            if (!src_key(&w->s[i], &k))
                continue;
            int c = best < 0 ? -1 : ox__key_cmp(&k, &bk);
            if (best < 0 || (w->asc ? c < 0 : c > 0)) {
                best = i;
                bk = k;
            }
        }
        if (best < 0)
            return OX_NOTFOUND;
        if (w->end) {
            int c = ox__key_cmp(&bk, w->end);
            if (w->asc ? c >= 0 : c < 0)
                return OX_NOTFOUND;
        }
        /* Keep the key: stepping the layers moves what bk points to. */
        size_t n = bk.mv_size < sizeof w->lastbuf ? bk.mv_size : sizeof w->lastbuf;
        memcpy(w->lastbuf, bk.mv_data, n);
        w->last = (MDB_val){n, w->lastbuf};
        /* The newest layer holding it decides; every layer on it moves on. */
        int decided = 0, found = 0, rc = OX_OK;
        for (int i = 0; i < w->nsrc; i++) {
            src *c = &w->s[i];
            MDB_val k;
            if (!src_key(c, &k) || ox__key_cmp(&k, &w->last) != 0)
                continue;
            if (!decided) {
                if (c->lmdb) {
                    decided = found = 1;
                    *rec = c->val;
                } else {
                    int st = ox__mem_cur_state(&c->mc, w->rd->seq, rec);
                    decided = st != OX_MEM_MISS;
                    found = st == OX_MEM_FOUND;
                }
            }
            /* An LMDB record points into the map: it stays valid after the step, for the
             * read transaction's life. */
            if ((rc = src_step(w, c)))
                return rc;
        }
        if (found) {
            *key = w->last;
            if (w->exp)
                *rec = (MDB_val){0, w->lastbuf};
            return OX_OK;
        }
        /* Deleted: a run of them is a cost every walk over it pays again, until a
         * checkpoint takes them out of the buffers and of LMDB (ox__ckpt_room). */
        if (++w->dels == OX_WALK_DELS)
            atomic_store_explicit(&w->rd->s->walk_dels, 1, memory_order_relaxed);
        if ((rc = ox__walk_skip(w)))
            return rc;
    }
}
