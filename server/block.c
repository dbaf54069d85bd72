/* block.c — clients blocked on keys (block.h). The writer's alone, but for the count. */
#include "block.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "job.h"
#include "num.h"
#include "util.h"

/* A parked command, in the order it parked. */
typedef struct blk {
    srv_job *job;
    int db, first, last, type, null_array;
    uint64_t deadline;               /* wall clock ms; 0: none */
    srv_job *held, *held_tail;       /* the client's later jobs */
    struct blk *prev, *next;
} blk;

/* A key that got elements since the last block_serve. */
typedef struct sig {
    int db, type;
    size_t len;
    unsigned char *key;
} sig;

static blk *first_blk, *last_blk;
static srv_job *unblocked, *unblocked_held; /* by CLIENT UNBLOCK, for block_serve */
static atomic_int nparked;
static sig *sigs;
static size_t nsigs, capsigs;

void block_set(cmd_ctx *x, int first, int last, int type, int null_array,
               uint64_t deadline_ms)
{
    x->block = 1;
    x->block_null_array = null_array;
    x->block_first = first;
    x->block_last = last;
    x->block_type = type;
    x->block_deadline = deadline_ms;
}

int block_timeout_or_reply(cmd_ctx *x, const resp_arg *a, uint64_t *deadline_ms)
{
    long double t;
    if (!num_str2ld(a->ptr, a->len, &t) || isnan(t) || isinf(t)) {
        cmd_err(x, "-ERR timeout is not a float or out of range");
        return 0;
    }
    if (t < 0) {
        cmd_err(x, "-ERR timeout is negative");
        return 0;
    }
    long double ms = t * 1000.0L;
    if (ms > 1e15L) { /* far beyond any wall clock: as for ever */
        *deadline_ms = 0;
        return 1;
    }
    *deadline_ms = ms >= 1 ? srv_mstime() + (uint64_t)ms : 0;
    return 1;
}

void block_signal(int db, const void *key, size_t len, int type)
{
    if (!first_blk)
        return; /* nobody waits: the common case costs this test */
    if (nsigs == capsigs) {
        capsigs = capsigs ? 2 * capsigs : 8;
        sigs = srv_xrealloc(sigs, capsigs * sizeof *sigs);
    }
    sig *s = &sigs[nsigs++];
    s->db = db;
    s->type = type;
    s->len = len;
    s->key = srv_xmalloc(len ? len : 1);
    memcpy(s->key, key, len);
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
    b->null_array = x->block_null_array;
    b->prev = last_blk;
    if (last_blk)
        last_blk->next = b;
    else
        first_blk = b;
    last_blk = b;
    j->parked = 1;
    j->c->parked = b;
    atomic_fetch_add_explicit(&nparked, 1, memory_order_relaxed);
    return 1;
}

int block_hold(srv_job *j)
{
    blk *b = j->c ? j->c->parked : NULL;
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

/* 1 if b waits on one of the signals. */
static int woken(const blk *b, const sig *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i].db != b->db || s[i].type != b->type)
            continue;
        for (int k = b->first; k <= b->last; k++) {
            const resp_arg *a = &b->job->argv[k];
            if (a->len == s[i].len && !memcmp(a->ptr, s[i].key, a->len))
                return 1;
        }
    }
    return 0;
}

void block_serve(ox_txn *txn, srv_job **served, srv_job **requeue)
{
    append(served, unblocked);
    append(requeue, unblocked_held);
    unblocked = unblocked_held = NULL;
    while (nsigs) { /* a served BLMOVE may signal its destination: go round again */
        sig *s = sigs;
        size_t n = nsigs;
        sigs = NULL;
        nsigs = capsigs = 0;
        for (blk *b = first_blk, *next; b; b = next) {
            next = b->next;
            if (!woken(b, s, n))
                continue;
            srv_job *j = b->job;
            cmd_ctx x = {.argc = j->argc, .argv = j->argv, .out = j->out, .dbi = j->db,
                         .table = srv.db[j->db], .txn = txn, .cmd = j->cmd, .job = j,
                         .block_retry = 1};
            j->cmd->fn(&x);
            if (!x.block)
                release(b, served, requeue);
        }
        for (size_t i = 0; i < n; i++)
            free(s[i].key);
        free(s);
    }
}

/* Writes the reply of a command whose wait ended without an element. */
static void answer_null(blk *b);

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

static void answer_null(blk *b)
{
    if (b->null_array)
        resp_write_null_array(b->job->out);
    else
        resp_write_null(b->job->out);
}

uint64_t block_expire(srv_job **out, srv_job **requeue)
{
    uint64_t now = srv_mstime(), next = UINT64_MAX;
    for (blk *b = first_blk, *nb; b; b = nb) {
        nb = b->next;
        if (b->deadline && now >= b->deadline) {
            answer_null(b);
            release(b, out, requeue);
        } else if (b->deadline && b->deadline - now < next) {
            next = b->deadline - now;
        }
    }
    return next;
}

void block_release_all(srv_job **out)
{
    while (first_blk) {
        answer_null(first_blk);
        release(first_blk, out, NULL);
    }
    for (size_t i = 0; i < nsigs; i++)
        free(sigs[i].key);
    free(sigs);
    sigs = NULL;
    nsigs = capsigs = 0;
}

int block_count(void)
{
    return atomic_load_explicit(&nparked, memory_order_relaxed);
}
