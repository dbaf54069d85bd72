/* bulk.c — builds of a whole collection in parts, and walks that survive them (bulk.h). */
#include "bulk.h"

#include <stdlib.h>
#include <string.h>

#include "keyorder.h"
#include "util.h"

/* A build is done in parts from about this many members per byte of write-buffer-limit
 * (a member costs 64 bytes of buffer and more: a build under it takes at most a quarter
 * of the buffer's budget, half of the limit, in the batch's transaction). */
#define BULK_BYTES_PER_MEMBER 512

struct db_walk {
    cmd_ctx *x;
    ox_table *t;
    unsigned flags;
    ox_iter *it;                /* NULL: suspended (or ended) */
    int started, ended;
    size_t lolen, hilen, plen;
    unsigned char lo[OX_POS_MAX], hi[OX_POS_MAX]; /* the bounds' positions (ox_key_pos) */
    unsigned char *pos;         /* in the writer: the position of the last key returned
                                   (OX_POS_MAX bytes, from the first) */
    korder *ko;                 /* BULK_EXACT: the byte order over the walk's steps */
    db_walk *next;              /* x->walks, in the writer */
};

uint64_t bulk_most(const cmd_ctx *x)
{
    if (!x->txn || x->in_exec)
        return UINT64_MAX;
    return (uint64_t)srv.cfg.write_buffer_limit / BULK_BYTES_PER_MEMBER;
}

bulk_budget bulk_budget_of(const cmd_ctx *x)
{
    uint64_t most = bulk_most(x);
    return (bulk_budget){0, 0, most,
                         most == UINT64_MAX ? UINT64_MAX
                                            : (uint64_t)srv.cfg.write_buffer_limit / 8};
}

int bulk_budget_over(const bulk_budget *b)
{
    return b->n > b->most || b->bytes > b->most_bytes;
}

int bulk_budget_take(bulk_budget *b, uint64_t bytes)
{
    b->n++;
    b->bytes += bytes;
    return !bulk_budget_over(b);
}

int bulk_begin(cmd_ctx *x, uint64_t members)
{
    uint64_t most = bulk_most(x);
    if (most == UINT64_MAX)
        return 1;
    if (x->commit_part) { /* first in its part: in parts if the buffer fills, whatever the
                             estimate (long names fill it sooner than members say) */
        x->bulk = 1;
        return 1;
    }
    if (members <= most)
        return 1;
    x->bulk_wait = 1;
    return 0;
}

/* 1 if a growth of the map detached w's iterator (the write that made the transaction
 * let go of LMDB for it: what the iterator returned may be unmapped). */
static int walk_detached(const db_walk *w)
{
    unsigned char pos[OX_POS_MAX];
    size_t len;
    return w->it && w->started && !w->ended && ox_iter_pos(w->it, pos, &len) != OX_OK;
}

int bulk_step(cmd_ctx *x)
{
    if (!x->txn)
        return OX_OK;
    int full = x->bulk && ox_txn_buffer_full(x->txn), moved = 0;
    for (db_walk *w = x->walks; w && !moved; w = w->next)
        moved = walk_detached(w);
    if (!full && !moved)
        return OX_OK;
    /* Every walk closes (each kept the position of its last key), and the callers read
     * again what they hold of them (x->parts). */
    for (db_walk *w = x->walks; w; w = w->next) {
        ox_iter_close(w->it);
        w->it = NULL;
    }
    x->parts++;
    return full ? x->commit_part(x) : OX_OK;
}

static int walk_range(db_walk *w, const ox_val *lo, const ox_val *hi, unsigned flags)
{
    cmd_ctx *x = w->x;
    if (!x->txn && !x->snap)
        return OX_EINVAL; /* a failed part left no transaction */
    return x->txn ? ox_txn_range(x->txn, w->t, lo, hi, flags, &w->it)
                  : ox_snapshot_range(x->snap, w->t, lo, hi, flags, &w->it);
}

static int walk_step(void *wp, ox_val *k, ox_val *v);

int bulk_walk_open(cmd_ctx *x, ox_table *t, const ox_val *lo, const ox_val *hi,
                   unsigned flags, db_walk **out)
{
    *out = NULL;
    db_walk *w = srv_xmalloc(sizeof *w);
    *w = (db_walk){.x = x, .t = t, .flags = flags & ~BULK_EXACT};
    int rc = OX_OK;
    if (flags & BULK_EXACT) { /* the steps cover the bounds' groups; w->ko keeps the rest */
        const ox_val *wlo, *whi;
        rc = korder_open(x->txn, x->snap, t, lo, hi, w->flags, walk_step, w, &w->ko);
        if (rc == OX_OK) {
            korder_bounds(w->ko, &wlo, &whi, &w->flags);
            lo = wlo;
            hi = whi ? whi : hi; /* none past a prefix of all ones: hi's own place */
        }
    }
    if (rc == OX_OK)
        rc = ox_key_pos(srv.store, lo->data, lo->len, w->lo, &w->lolen);
    if (rc == OX_OK)
        rc = ox_key_pos(srv.store, hi->data, hi->len, w->hi, &w->hilen);
    ox_val lop = {w->lo, w->lolen}, hip = {w->hi, w->hilen};
    if (rc == OX_OK)
        rc = walk_range(w, &lop, &hip, w->flags | OX_ITER_POS);
    if (rc != OX_OK) {
        korder_close(w->ko);
        free(w);
        return rc;
    }
    if (x->txn) {
        w->next = x->walks;
        x->walks = w;
    }
    *out = w;
    return OX_OK;
}

/* Opens w again from its last key's position pos to the far bound: [pos, hi) ascending,
 * pos excluded with OX_ITER_AFTER, or [lo, pos) descending. */
static int walk_from_pos(db_walk *w, unsigned after)
{
    ox_val pos = {w->pos, w->plen}, lo = {w->lo, w->lolen}, hi = {w->hi, w->hilen};
    return w->flags & OX_ITER_DESC ? walk_range(w, &lo, &pos, w->flags | OX_ITER_POS)
                                   : walk_range(w, &pos, &hi, w->flags | OX_ITER_POS | after);
}

/* Opens a suspended walk again past the last key it returned. */
static int walk_resume(db_walk *w)
{
    ox_val lo = {w->lo, w->lolen}, hi = {w->hi, w->hilen};
    return w->started ? walk_from_pos(w, OX_ITER_AFTER)
                      : walk_range(w, &lo, &hi, w->flags | OX_ITER_POS);
}

/* One step of w in the store's order. */
static int walk_step(void *wp, ox_val *k, ox_val *v)
{
    db_walk *w = wp;
    if (w->ended)
        return OX_NOTFOUND;
    int rc = w->it ? OX_OK : walk_resume(w);
    if (rc == OX_OK)
        rc = ox_iter_next(w->it, k, v);
    if (rc == OX_EBUSY && w->x->txn) { /* detached by a growth of the map: reopen */
        ox_iter_close(w->it);
        w->it = NULL;
        if ((rc = walk_resume(w)) == OX_OK)
            rc = ox_iter_next(w->it, k, v);
    }
    if (rc == OX_OK && w->x->txn) { /* where to resume after a part or a detachment */
        if (!w->pos)
            w->pos = srv_xmalloc(OX_POS_MAX);
        rc = ox_iter_pos(w->it, w->pos, &w->plen);
    }
    w->started |= rc == OX_OK;
    w->ended = rc == OX_NOTFOUND;
    return rc;
}

int bulk_walk_next(db_walk *w, ox_val *k, ox_val *v)
{
    if (!w->ko)
        return walk_step(w, k, v);
    if (w->x->txn) /* a part's commit began another since the last step */
        korder_txn(w->ko, w->x->txn);
    return korder_next(w->ko, k, v);
}

int bulk_walk_again(db_walk *w, ox_val *k, ox_val *v)
{
    if (w->ko && korder_last(w->ko, k, v))
        return OX_OK; /* its own copy: still good */
    if (w->it || !w->started || (w->flags & OX_ITER_DESC))
        return OX_EINVAL; /* not suspended: the caller's values are still good */
    int rc = walk_from_pos(w, 0);
    if (rc == OX_OK && (rc = ox_iter_next(w->it, k, v)) == OX_NOTFOUND)
        rc = OX_ECORRUPT; /* it was there, and nothing else writes between parts */
    return rc;
}

void bulk_walk_close(db_walk *w)
{
    if (!w)
        return;
    for (db_walk **p = &w->x->walks; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    korder_close(w->ko);
    ox_iter_close(w->it);
    free(w->pos);
    free(w);
}
