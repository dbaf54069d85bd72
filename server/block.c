/* block.c — clients blocked on keys (block.h). The writer's alone, but for the count. */
#include "block.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "job.h"
#include "notify.h"
#include "num.h"
#include "util.h"

/* Waiters are indexed by key: a write to a key nobody waits on costs one hash lookup, and
 * a signalled key reaches its own waiters, first parked first, without a look at the
 * others. A parked command has one link per key it waits on. */
typedef struct wlink {
    struct blk *b;
    struct wkey *k;
    struct wlink *prev, *next;       /* the key's waiters, in the order they parked */
} wlink;

/* A key somebody waits on. */
typedef struct wkey {
    struct wkey *hnext;              /* hash chain */
    struct wkey *rnext;              /* the ready list */
    uint64_t h;
    int db;
    unsigned ready;                  /* bit 1 << type per signal since it was served: 0,
                                        not in the ready list */
    int pinned;                      /* block_serve walks its waiters */
    wlink *head, *tail;
    size_t len;
    unsigned char key[];
} wkey;

/* A parked command, in the order it parked. */
typedef struct blk {
    srv_job *job;
    int db, first, last, type;
    uint64_t deadline;               /* wall clock ms; 0: none */
    srv_job *held, *held_tail;       /* the client's later jobs */
    struct blk *prev, *next;
    wlink *links;                    /* one per key argv[first..last] */
} blk;

static blk *first_blk, *last_blk;
static srv_job *unblocked, *unblocked_held; /* by CLIENT UNBLOCK, for block_serve */
static atomic_int nparked;
static wkey **buckets;
static size_t nbuckets, nkeys;
static wkey *ready_head, *ready_tail; /* keys signalled since the last block_serve */
static uint64_t earliest;            /* no deadline before this (ms); 0: none */

static uint64_t key_hash(int db, const void *key, size_t len)
{
    return srv_hash64((uint64_t)(unsigned)db, key, len);
}

static wkey *wkey_find(int db, const void *key, size_t len, uint64_t h)
{
    for (wkey *k = nbuckets ? buckets[h & (nbuckets - 1)] : NULL; k; k = k->hnext)
        if (k->h == h && k->db == db && k->len == len && !memcmp(k->key, key, len))
            return k;
    return NULL;
}

static wkey *wkey_get(int db, const void *key, size_t len)
{
    uint64_t h = key_hash(db, key, len);
    wkey *k = wkey_find(db, key, len, h);
    if (k)
        return k;
    if (nkeys >= 2 * nbuckets) { /* grow: rehash the chains */
        size_t n = nbuckets ? 2 * nbuckets : 64;
        wkey **nb = srv_xcalloc(n, sizeof *nb);
        for (size_t i = 0; i < nbuckets; i++)
            for (wkey *e = buckets[i], *next; e; e = next) {
                next = e->hnext;
                e->hnext = nb[e->h & (n - 1)];
                nb[e->h & (n - 1)] = e;
            }
        free(buckets);
        buckets = nb;
        nbuckets = n;
    }
    k = srv_xcalloc(1, sizeof *k + (len ? len : 1));
    k->h = h;
    k->db = db;
    k->len = len;
    memcpy(k->key, key, len);
    k->hnext = buckets[h & (nbuckets - 1)];
    buckets[h & (nbuckets - 1)] = k;
    nkeys++;
    return k;
}

/* Frees k once nobody waits on it, block_serve is not walking it and it is not ready. */
static void wkey_drop(wkey *k)
{
    if (k->head || k->pinned || k->ready)
        return;
    wkey **p = &buckets[k->h & (nbuckets - 1)];
    while (*p != k)
        p = &(*p)->hnext;
    *p = k->hnext;
    nkeys--;
    free(k);
}

void block_set(cmd_ctx *x, int first, int last, int type, uint64_t deadline_ms)
{
    x->block = 1;
    x->block_first = first;
    x->block_last = last;
    x->block_type = type;
    x->block_deadline = deadline_ms;
}

int block_timeout_or_reply(cmd_ctx *x, const resp_arg *a, uint64_t *deadline_ms)
{
    long double t;
    if (!num_str2ld(a->ptr, a->len, &t)) {
        cmd_err(x, "-ERR timeout is not a float or out of range");
        return 0;
    }
    long double ms = t * 1000.0L;
    if (ms <= -1.0L || ms >= 0x1p63L) { /* Redis's cast to a long long: negative */
        cmd_err(x, "-ERR timeout is negative");
        return 0;
    }
    if (ms > 1e15L) { /* far beyond any wall clock: as for ever */
        *deadline_ms = 0;
        return 1;
    }
    /* Redis rounds up (ceill): 0.0005 s waits 1 ms, where a cut to 0 would wait for ever */
    *deadline_ms = ms > 0 ? srv_mstime() + (uint64_t)ceill(ms) : 0;
    return 1;
}

void block_signal(int db, const void *key, size_t len, int type)
{
    if (!first_blk)
        return; /* nobody waits: the common case costs this test */
    wkey *k = wkey_find(db, key, len, key_hash(db, key, len));
    if (!k)
        return;
    if (!k->ready) {
        if (ready_tail)
            ready_tail->rnext = k;
        else
            ready_head = k;
        ready_tail = k;
    }
    k->ready |= 1u << type;
}

void block_signal_db(int db)
{
    for (blk *b = first_blk; b; b = b->next)
        if (b->db == db)
            for (int k = b->first; k <= b->last; k++)
                block_signal(db, b->job->argv[k].ptr, b->job->argv[k].len, b->type);
}

static void unlink_blk(blk *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        first_blk = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        last_blk = b->prev;
    b->job->c->parked = NULL;
    for (int i = 0; i <= b->last - b->first; i++) {
        wlink *l = &b->links[i];
        wkey *k = l->k;
        if (l->prev)
            l->prev->next = l->next;
        else
            k->head = l->next;
        if (l->next)
            l->next->prev = l->prev;
        else
            k->tail = l->prev;
        wkey_drop(k);
    }
    free(b->links);
    atomic_fetch_sub_explicit(&nparked, 1, memory_order_relaxed);
}

/* Appends a list of jobs (through blk_next, NULL-ended) at the end of *list. */
static void append(srv_job **list, srv_job *jobs)
{
    while (*list)
        list = &(*list)->blk_next;
    *list = jobs;
}

/* Takes b out and frees it: its job onto *out, its held jobs onto *requeue (or *out).
 * They stay parked (a batch's hand back passes them by) until the writer hands them
 * back or requeues them. */
static void release(blk *b, srv_job **out, srv_job **requeue)
{
    unlink_blk(b);
    b->job->blk_next = NULL;
    append(out, b->job);
    append(requeue ? requeue : out, b->held);
    if (requeue && b->held_tail)
        b->job->c->released = b->held_tail;
    free(b);
}

int block_park(srv_job *j, const cmd_ctx *x)
{
    if (!x->block)
        return 0;
    blk *b = srv_xcalloc(1, sizeof *b);
    b->job = j;
    b->db = j->db;
    b->first = x->block_first;
    b->last = x->block_last;
    b->type = x->block_type;
    b->deadline = x->block_deadline;
    b->prev = last_blk;
    if (last_blk)
        last_blk->next = b;
    else
        first_blk = b;
    last_blk = b;
    b->links = srv_xcalloc((size_t)(b->last - b->first + 1), sizeof *b->links);
    for (int i = 0; i <= b->last - b->first; i++) {
        const resp_arg *a = &j->argv[b->first + i];
        wlink *l = &b->links[i];
        l->b = b;
        l->k = wkey_get(b->db, a->ptr, a->len);
        l->prev = l->k->tail;
        if (l->k->tail)
            l->k->tail->next = l;
        else
            l->k->head = l;
        l->k->tail = l;
    }
    if (b->deadline && (!earliest || b->deadline < earliest))
        earliest = b->deadline;
    j->parked = 1;
    j->c->parked = b;
    atomic_fetch_add_explicit(&nparked, 1, memory_order_relaxed);
    return 1;
}

int block_hold(srv_job *j)
{
    blk *b = j->c ? j->c->parked : NULL;
    srv_job *r = j->c ? j->c->released : NULL;
    if (!b && r) { /* behind its jobs released from the wait, wherever they are queued */
        j->parked = 1;
        j->blk_next = r->blk_next;
        r->blk_next = j;
        j->c->released = j;
        return 1;
    }
    if (!b)
        return 0;
    j->parked = 1;
    j->blk_next = NULL;
    if (b->held_tail)
        b->held_tail->blk_next = j;
    else
        b->held = j;
    b->held_tail = j;
    return 1;
}

void block_serve(ox_txn *txn, srv_job **served, srv_job **requeue)
{
    append(served, unblocked);
    append(requeue, unblocked_held);
    unblocked = unblocked_held = NULL;
    while (ready_head) { /* a served BLMOVE may signal its destination: go round again */
        wkey *list = ready_head;
        ready_head = ready_tail = NULL;
        for (wkey *k = list, *nk; k; k = nk) {
            nk = k->rnext;
            k->rnext = NULL;
            unsigned types = k->ready;
            k->ready = 0;
            k->pinned++;
            /* only l's own command may be released while l is served: next is taken
             * past its links */
            for (wlink *l = k->head, *next; l; l = next) {
                next = l->next;
                blk *b = l->b;
                if (!(types & (1u << b->type)))
                    continue;
                srv_job *j = b->job;
                cmd_ctx x = {.argc = j->argc, .argv = j->argv, .out = j->out, .dbi = j->db,
                             .table = srv.db[j->db], .txn = txn, .cmd = j->cmd, .job = j,
                             .block_retry = 1, .block_key = b->first + (int)(l - b->links)};
                cmd_run_writer(&x);
                while (next && next->b == b) /* BLPOP k k: its links to k sit together */
                    next = next->next;
                if (!x.block)
                    release(b, served, requeue);
            }
            k->pinned--;
            wkey_drop(k);
        }
    }
}

/* Writes the reply of a command whose wait ended without an element: a null array, as
 * Redis answers every blocked command (BLMOVE's non-blocking form answers a null bulk). */
static void answer_null(blk *b)
{
    resp_write_null_array(b->job->out);
}

int block_unblock(uint64_t id, int error)
{
    blk *b = first_blk;
    while (b && b->job->c->id != id)
        b = b->next;
    if (!b)
        return 0;
    if (error) {
        static const char msg[] = "-UNBLOCKED client unblocked via CLIENT UNBLOCK";
        resp_write_error(b->job->out, msg, sizeof msg - 1);
    }
    else
        answer_null(b);
    release(b, &unblocked, &unblocked_held);
    return 1;
}

void block_gone(srv_client *c, srv_job **out)
{
    blk *b = c->parked;
    if (b)
        release(b, out, NULL); /* no reply: nobody reads it */
}

uint64_t block_expire(srv_job **out, srv_job **requeue)
{
    uint64_t now = srv_mstime();
    if (!earliest || now < earliest) /* nothing due: no walk over the parked */
        return earliest ? earliest - now : UINT64_MAX;
    earliest = 0;
    for (blk *b = first_blk, *nb; b; b = nb) {
        nb = b->next;
        if (b->deadline && now >= b->deadline) {
            answer_null(b);
            release(b, out, requeue);
        } else if (b->deadline && (!earliest || b->deadline < earliest)) {
            earliest = b->deadline;
        }
    }
    return earliest ? earliest - now : UINT64_MAX;
}

void block_release_all(srv_job **out)
{
    while (first_blk) {
        answer_null(first_blk);
        for (srv_job *h = first_blk->held; h; h = h->blk_next)
            if (!h->out) /* never ran: an empty reply, the connection closes after it */
                job_reply_buf(h);
        release(first_blk, out, NULL);
    }
    for (wkey *k = ready_head, *next; k; k = next) { /* signalled, nobody left */
        next = k->rnext;
        k->ready = 0;
        wkey_drop(k);
    }
    ready_head = ready_tail = NULL;
    free(buckets);
    buckets = NULL;
    nbuckets = nkeys = 0;
}

int block_count(void)
{
    return atomic_load_explicit(&nparked, memory_order_relaxed);
}
