/* pubsub.c — Pub/Sub (pubsub.h): a registry of channels, patterns and shard channels under
 * one mutex, each entry with the list of its subscribers; a link per (entry, subscriber)
 * sits in both the entry's list and the subscriber's, as watch.c links keys and sets. A
 * message is formatted once as RESP2 (a RESP3 push differs in its first byte only) and
 * goes to each subscriber's I/O thread in one batch per thread. */
#include "pubsub.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "glob.h"
#include "log.h"
#include "srv.h"
#include "util.h"

typedef struct ps_link ps_link;
typedef struct pubsub_sub ps_sub;

/* One channel, pattern or shard channel somebody subscribes to. */
typedef struct ps_ent {
    struct ps_ent *hnext;       /* bucket chain */
    struct ps_ent *prev, *next; /* every entry of its map, newest first */
    uint64_t hash;
    ps_link *subs;              /* its subscribers, newest first */
    long nsubs;
    size_t len;
    char name[];
} ps_ent;

/* One subscription: entry e of kind, held by s. */
struct ps_link {
    ps_ent *e;
    ps_sub *s;
    ps_link *eprev, *enext;     /* e's subscribers */
    ps_link *snext, *sprev;     /* s's subscriptions of that kind */
};

/* A subscriber. Its links and counts change under the registry's mutex, on its owner's
 * thread; owner is read on that thread only. */
struct pubsub_sub {
    atomic_int refs;            /* the owner's, and one per delivery on its way */
    void *owner;                /* NULL once dropped */
    int io;                     /* the owner's I/O thread */
    uint64_t gen;               /* unsubscriptions so far (a delivery checks it) */
    atomic_size_t queued;       /* bytes of its deliveries waiting in its thread's inbox */
    atomic_int overflow;        /* they passed the pubsub class's hard limit: close it */
    ps_link *links[PUBSUB_KINDS];
    long count[PUBSUB_KINDS];
};

typedef struct ps_map {
    ps_ent **b;
    size_t nb, n;
    ps_ent *all;
} ps_map;

/* A formatted message: RESP2 bytes; kind and name say which subscription it is for. */
typedef struct ps_msg {
    atomic_int refs;
    int kind;
    size_t name_at, name_len;   /* the channel's or pattern's bytes inside bytes */
    size_t len;
    char bytes[];
} ps_msg;

typedef struct ps_dlv {
    ps_sub *s;
    ps_msg *m;
    uint64_t gen;               /* s->gen when it was published */
} ps_dlv;

/* The deliveries of one publication for one I/O thread. */
typedef struct ps_batch {
    struct ps_batch *next;
    int io;
    size_t n, cap;
    ps_dlv d[];
} ps_batch;

typedef struct ps_inbox {
    pthread_mutex_t mu;
    ps_batch *head, *tail;
    int efd;
    struct event *ev;
    pubsub_flush_fn *flush;
    void *flush_arg;
} ps_inbox;

static struct {
    pthread_mutex_t mu;
    ps_map maps[PUBSUB_KINDS];
    uint64_t seed;
} reg = {.mu = PTHREAD_MUTEX_INITIALIZER};

static ps_inbox *inboxes;
static int ninboxes;
static pubsub_deliver_fn *deliver_fn;

/* The three doubly linked lists here (a map's entries, an entry's subscribers, a
 * subscriber's subscriptions): n pushed at the head / taken out, through fields prev and
 * next. */
#define DL_PUSH(head, n, prev, next)                                                     \
    do {                                                                                \
        (n)->prev = NULL;                                                               \
        (n)->next = (head);                                                             \
        if (head)                                                                       \
            (head)->prev = (n);                                                         \
        (head) = (n);                                                                   \
    } while (0)
#define DL_UNLINK(head, n, prev, next)                                                   \
    do {                                                                                \
        if ((n)->prev)                                                                  \
            (n)->prev->next = (n)->next;                                                \
        else                                                                            \
            (head) = (n)->next;                                                         \
        if ((n)->next)                                                                  \
            (n)->next->prev = (n)->prev;                                                \
    } while (0)

/* ---- the maps ------------------------------------------------------------------------------ */

static ps_ent *map_find(const ps_map *m, const void *name, size_t len, uint64_t h)
{
    if (!m->nb)
        return NULL;
    for (ps_ent *e = m->b[h & (m->nb - 1)]; e; e = e->hnext)
        if (e->hash == h && e->len == len && !memcmp(e->name, name, len))
            return e;
    return NULL;
}

static void map_grow(ps_map *m)
{
    size_t nb = m->nb ? m->nb * 2 : 64;
    ps_ent **b = srv_xcalloc(nb, sizeof *b);
    for (ps_ent *e = m->all; e; e = e->next) {
        e->hnext = b[e->hash & (nb - 1)];
        b[e->hash & (nb - 1)] = e;
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
}

static ps_ent *map_add(ps_map *m, const void *name, size_t len, uint64_t h)
{
    if (m->n >= m->nb)
        map_grow(m);
    ps_ent *e = srv_xcalloc(1, sizeof *e + len + 1);
    e->hash = h;
    e->len = len;
    memcpy(e->name, name, len);
    e->hnext = m->b[h & (m->nb - 1)];
    m->b[h & (m->nb - 1)] = e;
    DL_PUSH(m->all, e, prev, next);
    m->n++;
    return e;
}

static void map_del(ps_map *m, ps_ent *e)
{
    ps_ent **pp = &m->b[e->hash & (m->nb - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    DL_UNLINK(m->all, e, prev, next);
    m->n--;
    free(e);
}

static void map_free(ps_map *m)
{
    for (ps_ent *e = m->all, *next; e; e = next) {
        next = e->next;
        while (e->subs) {
            ps_link *l = e->subs;
            e->subs = l->enext;
            free(l);
        }
        free(e);
    }
    free(m->b);
    memset(m, 0, sizeof *m);
}

/* s's subscription to e of kind, or NULL (under reg.mu): looked for in the shorter of the
 * two lists. */
static ps_link *link_find(const ps_ent *e, const ps_sub *s, int kind)
{
    if (e->nsubs < s->count[kind]) {
        for (ps_link *l = e->subs; l; l = l->enext)
            if (l->s == s)
                return l;
    } else {
        for (ps_link *l = s->links[kind]; l; l = l->snext)
            if (l->e == e)
                return l;
    }
    return NULL;
}

static uint64_t name_hash(const void *name, size_t len)
{
    return srv_hash64(reg.seed, name, len);
}

/* ---- life ---------------------------------------------------------------------------------- */

int pubsub_init(int nthreads, pubsub_deliver_fn *deliver)
{
    reg.seed = srv_random64();
    deliver_fn = deliver;
    inboxes = srv_xcalloc((size_t)nthreads, sizeof *inboxes);
    ninboxes = nthreads;
    int rc = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_mutex_init(&inboxes[i].mu, NULL);
        /* made now, so that a message posted before the loop watches it still wakes it */
        inboxes[i].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (inboxes[i].efd < 0)
            rc = -1;
    }
    return rc;
}

void pubsub_fini(void)
{
    for (int k = 0; k < PUBSUB_KINDS; k++)
        map_free(&reg.maps[k]);
    for (int i = 0; i < ninboxes; i++) {
        pubsub_detach(i);
        if (inboxes[i].efd >= 0)
            close(inboxes[i].efd);
        pthread_mutex_destroy(&inboxes[i].mu);
    }
    free(inboxes);
    inboxes = NULL;
    ninboxes = 0;
}

/* ---- messages --------------------------------------------------------------------------------- */

static void msg_unref(ps_msg *m)
{
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        free(m);
}

static void sub_unref(ps_sub *s)
{
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        free(s);
}

static size_t put_bulk(char *p, const void *b, size_t len)
{
    int n = sprintf(p, "$%zu\r\n", len);
    memcpy(p + n, b, len);
    memcpy(p + n + len, "\r\n", 2);
    return (size_t)n + len + 2;
}

/* "message"/"smessage" channel payload, or "pmessage" pattern channel payload. */
static ps_msg *msg_new(int kind, int shard, const void *pat, size_t plen, const resp_arg *ch,
                       const resp_arg *payload)
{
    ps_msg *m = srv_xmalloc(sizeof *m + 4 * 32 + plen + ch->len + payload->len + 32);
    char *p = m->bytes;
    const char *word = kind == PUBSUB_PATTERN ? "pmessage" : shard ? "smessage" : "message";
    p += sprintf(p, "*%d\r\n", kind == PUBSUB_PATTERN ? 4 : 3);
    p += put_bulk(p, word, strlen(word));
    if (kind == PUBSUB_PATTERN) {
        m->name_at = (size_t)(p - m->bytes) + (size_t)sprintf(p, "$%zu\r\n", plen);
        m->name_len = plen;
        p += put_bulk(p, pat, plen);
    } else {
        m->name_at = (size_t)(p - m->bytes) + (size_t)sprintf(p, "$%zu\r\n", ch->len);
        m->name_len = ch->len;
    }
    p += put_bulk(p, ch->ptr, ch->len);
    p += put_bulk(p, payload->ptr, payload->len);
    m->len = (size_t)(p - m->bytes);
    m->kind = kind == PUBSUB_PATTERN ? PUBSUB_PATTERN : shard ? PUBSUB_SHARD : PUBSUB_CHANNEL;
    atomic_init(&m->refs, 1); /* the publisher's, dropped once it handed m out */
    return m;
}

void pubsub_write_msg(resp_buf *out, int resp, const void *resp2, size_t len)
{
    if (resp == 3) { /* a push: ">" where RESP2 has "*" */
        resp_write_raw(out, ">", 1);
        resp_write_raw(out, (const char *)resp2 + 1, len - 1);
    } else {
        resp_write_raw(out, resp2, len);
    }
}

/* Whether s holds the subscription m was published for (under reg.mu). */
static int still_subscribed(const ps_sub *s, const ps_msg *m)
{
    const ps_map *map = &reg.maps[m->kind];
    const char *name = m->bytes + m->name_at;
    ps_ent *e = map_find(map, name, m->name_len, name_hash(name, m->name_len));
    return e && link_find(e, s, m->kind);
}

/* On s's thread: whether a delivery published at gen still reaches s. An unsubscription
 * since then may have left the client out of that subscription (out of Pub/Sub even, where
 * a RESP2 message would pass for a reply). */
static int dlv_wanted(const ps_dlv *d)
{
    const ps_sub *s = d->s;
    if (!s->owner)
        return 0;
    if (s->gen == d->gen)
        return 1;
    pthread_mutex_lock(&reg.mu);
    int yes = still_subscribed(s, d->m);
    pthread_mutex_unlock(&reg.mu);
    return yes;
}

/* ---- the inboxes -------------------------------------------------------------------------- */

static void batch_free(ps_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        sub_unref(b->d[i].s);
        msg_unref(b->d[i].m);
    }
    free(b);
}

static void on_inbox(evutil_socket_t fd, short what, void *arg)
{
    ps_inbox *in = arg;
    uint64_t n;
    (void)what;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
        srv_log(SRV_LOG_WARNING, "eventfd read: %s", strerror(errno));
    pthread_mutex_lock(&in->mu);
    ps_batch *b = in->head;
    in->head = in->tail = NULL;
    pthread_mutex_unlock(&in->mu);
    while (b) {
        ps_batch *next = b->next;
        for (size_t i = 0; i < b->n; i++) {
            ps_sub *s = b->d[i].s;
            atomic_fetch_sub_explicit(&s->queued, b->d[i].m->len, memory_order_relaxed);
            if (s->owner && atomic_load_explicit(&s->overflow, memory_order_relaxed))
                deliver_fn(s->owner, NULL, 0); /* closes it: owner NULL from then on */
            else if (dlv_wanted(&b->d[i]))
                deliver_fn(s->owner, b->d[i].m->bytes, b->d[i].m->len);
        }
        batch_free(b);
        b = next;
    }
    in->flush(in->flush_arg);
}

int pubsub_attach(int thread, struct event_base *base, pubsub_flush_fn *flush, void *arg)
{
    ps_inbox *in = &inboxes[thread];
    in->flush = flush;
    in->flush_arg = arg;
    in->ev = event_new(base, in->efd, EV_READ | EV_PERSIST, on_inbox, in);
    if (!in->ev || event_add(in->ev, NULL))
        return -1;
    return 0;
}

void pubsub_detach(int thread)
{
    if (!inboxes || thread >= ninboxes)
        return;
    ps_inbox *in = &inboxes[thread];
    if (in->ev)
        event_free(in->ev);
    in->ev = NULL;
    pthread_mutex_lock(&in->mu);
    ps_batch *b = in->head;
    in->head = in->tail = NULL;
    pthread_mutex_unlock(&in->mu);
    while (b) {
        ps_batch *next = b->next;
        batch_free(b);
        b = next;
    }
}

static void inbox_post(ps_batch *b)
{
    ps_inbox *in = &inboxes[b->io];
    pthread_mutex_lock(&in->mu);
    int was_empty = !in->head;
    b->next = NULL;
    if (in->tail)
        in->tail->next = b;
    else
        in->head = b;
    in->tail = b;
    pthread_mutex_unlock(&in->mu);
    uint64_t one = 1;
    if (was_empty && write(in->efd, &one, sizeof one) < 0)
        srv_log(SRV_LOG_WARNING, "eventfd write: %s", strerror(errno));
}

/* ---- subscribing (on the client's thread) --------------------------------------------------- */

static const char *const sub_word[PUBSUB_KINDS] = {"subscribe", "psubscribe", "ssubscribe"};
static const char *const unsub_word[PUBSUB_KINDS] = {"unsubscribe", "punsubscribe",
                                                     "sunsubscribe"};

pubsub_sub *pubsub_sub_new(int thread, void *owner)
{
    ps_sub *s = srv_xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->owner = owner;
    s->io = thread;
    return s;
}

long pubsub_count(const pubsub_sub *s, int kind)
{
    if (!s)
        return 0;
    if (kind < 0)
        return s->count[PUBSUB_CHANNEL] + s->count[PUBSUB_PATTERN];
    return s->count[kind];
}

/* The count a confirmation carries: shard channels apart, the others together. */
static long reply_count(const ps_sub *s, int kind)
{
    return pubsub_count(s, kind == PUBSUB_SHARD ? PUBSUB_SHARD : -1);
}

static void confirm(resp_buf *out, const char *word, const void *name, size_t len, long n)
{
    resp_write_push(out, 3);
    resp_write_bulk(out, word, strlen(word));
    if (name)
        resp_write_bulk(out, name, len);
    else
        resp_write_null(out);
    resp_write_int(out, n);
}

void pubsub_subscribe(pubsub_sub *s, int kind, const resp_arg *name, resp_buf *out)
{
    ps_map *m = &reg.maps[kind];
    uint64_t h = name_hash(name->ptr, name->len);
    pthread_mutex_lock(&reg.mu);
    ps_ent *e = map_find(m, name->ptr, name->len, h);
    if (!e)
        e = map_add(m, name->ptr, name->len, h);
    if (!link_find(e, s, kind)) {
        ps_link *l = srv_xcalloc(1, sizeof *l);
        l->e = e;
        l->s = s;
        DL_PUSH(e->subs, l, eprev, enext);
        e->nsubs++;
        DL_PUSH(s->links[kind], l, sprev, snext);
        s->count[kind]++;
    }
    pthread_mutex_unlock(&reg.mu);
    confirm(out, sub_word[kind], name->ptr, name->len, reply_count(s, kind));
}

/* Unlinks l (under reg.mu), dropping its entry when nobody is left. */
static void link_drop(int kind, ps_link *l)
{
    ps_sub *s = l->s;
    ps_ent *e = l->e;
    DL_UNLINK(e->subs, l, eprev, enext);
    DL_UNLINK(s->links[kind], l, sprev, snext);
    s->count[kind]--;
    s->gen++;
    if (--e->nsubs == 0)
        map_del(&reg.maps[kind], e);
    free(l);
}

void pubsub_unsubscribe(pubsub_sub *s, int kind, const resp_arg *name, resp_buf *out)
{
    const char *word = unsub_word[kind];
    if (!name) { /* every one of that kind, or a null confirmation when there is none */
        if (!s || !s->links[kind]) {
            confirm(out, word, NULL, 0, reply_count(s, kind));
            return;
        }
        while (s->links[kind]) {
            pthread_mutex_lock(&reg.mu);
            ps_link *l = s->links[kind];
            char buf[256], *nm = l->e->len <= sizeof buf ? buf : srv_xmalloc(l->e->len);
            size_t len = l->e->len;
            memcpy(nm, l->e->name, len);
            link_drop(kind, l);
            pthread_mutex_unlock(&reg.mu);
            confirm(out, word, nm, len, reply_count(s, kind));
            if (nm != buf)
                free(nm);
        }
        return;
    }
    if (s) {
        pthread_mutex_lock(&reg.mu);
        ps_ent *e = map_find(&reg.maps[kind], name->ptr, name->len,
                             name_hash(name->ptr, name->len));
        ps_link *found = e ? link_find(e, s, kind) : NULL;
        if (found)
            link_drop(kind, found);
        pthread_mutex_unlock(&reg.mu);
    }
    confirm(out, word, name->ptr, name->len, reply_count(s, kind));
}

void pubsub_sub_drop(pubsub_sub *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&reg.mu);
    for (int k = 0; k < PUBSUB_KINDS; k++)
        while (s->links[k])
            link_drop(k, s->links[k]);
    s->owner = NULL;
    pthread_mutex_unlock(&reg.mu);
    sub_unref(s);
}

/* ---- publishing (any thread) ----------------------------------------------------------------- */

/* Adds (s, m) to the publication's batch for s's thread; not past the pubsub class's hard
 * limit of bytes waiting for that thread (a thread busy for long, with publishers on the
 * others): s is marked to be closed then, as Redis closes a subscriber past the limit. */
static void batch_add(ps_batch **list, ps_sub *s, ps_msg *m)
{
    long long hard = srv.cfg.client_output_other[CONF_COBL_PUBSUB][0];
    size_t q = atomic_load_explicit(&s->queued, memory_order_relaxed);
    if (hard && (long long)(q + m->len) > hard && q) {
        atomic_store_explicit(&s->overflow, 1, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&s->queued, m->len, memory_order_relaxed);
    ps_batch *b = *list, **pp = list;
    for (; b && b->io != s->io; b = b->next)
        pp = &b->next;
    if (!b || b->n == b->cap) {
        size_t cap = b ? b->cap * 2 : 8;
        ps_batch *nb = srv_xrealloc(b, sizeof *nb + cap * sizeof nb->d[0]);
        if (!b) {
            nb->next = NULL;
            nb->io = s->io;
            nb->n = 0;
        }
        nb->cap = cap;
        *pp = nb;
        b = nb;
    }
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    b->d[b->n++] = (ps_dlv){s, m, s->gen};
}

/* The subscribers of e receive m: into the batches, or self_out for self. */
static long long fan_out(const ps_ent *e, ps_msg *m, ps_batch **list, const ps_sub *self,
                         resp_buf *self_out, int self_resp)
{
    long long n = 0;
    for (const ps_link *l = e->subs; l; l = l->enext, n++) {
        if (l->s == self && self_out)
            pubsub_write_msg(self_out, self_resp, m->bytes, m->len);
        else
            batch_add(list, l->s, m);
    }
    return n;
}

long long pubsub_publish(int shard, const resp_arg *ch, const resp_arg *msg,
                         const pubsub_sub *me, resp_buf *self_out, int my_resp)
{
    ps_batch *list = NULL;
    long long receivers = 0;
    uint64_t h = name_hash(ch->ptr, ch->len);
    pthread_mutex_lock(&reg.mu);
    ps_ent *e = map_find(&reg.maps[shard ? PUBSUB_SHARD : PUBSUB_CHANNEL], ch->ptr, ch->len, h);
    if (e) {
        ps_msg *m = msg_new(PUBSUB_CHANNEL, shard, NULL, 0, ch, msg);
        receivers += fan_out(e, m, &list, me, self_out, my_resp);
        msg_unref(m); /* the batches hold theirs */
    }
    if (!shard) {
        for (ps_ent *p = reg.maps[PUBSUB_PATTERN].all; p; p = p->next) {
            if (!glob_match(p->name, p->len, ch->ptr, ch->len, 0))
                continue;
            ps_msg *m = msg_new(PUBSUB_PATTERN, 0, p->name, p->len, ch, msg);
            receivers += fan_out(p, m, &list, me, self_out, my_resp);
            msg_unref(m);
        }
    }
    pthread_mutex_unlock(&reg.mu);
    while (list) {
        ps_batch *next = list->next;
        inbox_post(list);
        list = next;
    }
    return receivers;
}

long long pubsub_receivers(int shard, const resp_arg *ch)
{
    long long n = 0;
    pthread_mutex_lock(&reg.mu);
    ps_ent *e = map_find(&reg.maps[shard ? PUBSUB_SHARD : PUBSUB_CHANNEL], ch->ptr, ch->len,
                         name_hash(ch->ptr, ch->len));
    if (e)
        n += e->nsubs;
    for (ps_ent *p = shard ? NULL : reg.maps[PUBSUB_PATTERN].all; p; p = p->next)
        if (glob_match(p->name, p->len, ch->ptr, ch->len, 0))
            n += p->nsubs;
    pthread_mutex_unlock(&reg.mu);
    return n;
}

/* ---- PUBSUB ------------------------------------------------------------------------------ */

void pubsub_reply_channels(resp_buf *out, int shard, const resp_arg *pat)
{
    resp_deferred d;
    size_t n = 0;
    resp_write_deferred(out, &d);
    pthread_mutex_lock(&reg.mu);
    for (ps_ent *e = reg.maps[shard ? PUBSUB_SHARD : PUBSUB_CHANNEL].all; e; e = e->next) {
        if (pat && !glob_match(pat->ptr, pat->len, e->name, e->len, 0))
            continue;
        resp_write_bulk(out, e->name, e->len);
        n++;
    }
    pthread_mutex_unlock(&reg.mu);
    resp_write_deferred_len(out, &d, RESP_AGG_ARRAY, n);
}

void pubsub_reply_numsub(resp_buf *out, int shard, int n, const resp_arg *names)
{
    const ps_map *m = &reg.maps[shard ? PUBSUB_SHARD : PUBSUB_CHANNEL];
    resp_write_array(out, 2 * (size_t)n); /* a flat array in RESP3 too, as Redis has it */
    pthread_mutex_lock(&reg.mu);
    for (int i = 0; i < n; i++) {
        ps_ent *e = map_find(m, names[i].ptr, names[i].len,
                             name_hash(names[i].ptr, names[i].len));
        resp_write_bulk(out, names[i].ptr, names[i].len);
        resp_write_int(out, e ? e->nsubs : 0);
    }
    pthread_mutex_unlock(&reg.mu);
}

void pubsub_totals(long long *channels, long long *patterns, long long *shard)
{
    pthread_mutex_lock(&reg.mu);
    *channels = (long long)reg.maps[PUBSUB_CHANNEL].n;
    *patterns = (long long)reg.maps[PUBSUB_PATTERN].n;
    *shard = (long long)reg.maps[PUBSUB_SHARD].n;
    pthread_mutex_unlock(&reg.mu);
}
