/* watch.c — WATCH's registry (writer thread only, see srv.h): a hash table of watched
 * (db, key) entries, each with the list of sets watching it, and per client a set with its
 * entries, its mark and the earliest expiry time among the keys it saw live. */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "util.h"
#include "watch.h"
#include "writer.h"

typedef struct wnode wnode;
typedef struct wkey wkey;

/* One key watched by one set. */
struct wnode {
    wkey *key;
    watch_set *set;
    wnode *kprev, *knext;   /* the key's watchers */
    wnode *snext;           /* the set's keys */
};

/* One watched (db, key), with everybody watching it. */
struct wkey {
    wkey *next;             /* bucket chain */
    uint64_t hash;
    int db;
    size_t len;
    wnode *watchers;
    unsigned char bytes[];
};

struct watch_set {
    atomic_ullong dirty;    /* 0, or the batch that changed a watched key first */
    uint64_t min_at;        /* earliest expiry time of a key live at WATCH, 0 = none */
    wnode *keys;
    watch_set *prev, *next; /* every set, for the shutdown */
};

static wkey **buckets;
static size_t nbuckets, nkeys;
static watch_set *sets;
static watch_set **marked;  /* sets this batch marked (taken back if its commit fails) */
static size_t nmarked, capmarked;
static uint64_t seed;

static uint64_t key_hash(int db, const void *key, size_t len)
{
    uint64_t h = seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(db + 1));
    const unsigned char *p = key;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

static wkey *key_find(int db, const void *key, size_t len, uint64_t h)
{
    if (!nbuckets)
        return NULL;
    for (wkey *k = buckets[h & (nbuckets - 1)]; k; k = k->next)
        if (k->hash == h && k->db == db && k->len == len && !memcmp(k->bytes, key, len))
            return k;
    return NULL;
}

static void grow(void)
{
    size_t n = nbuckets ? nbuckets * 2 : 64;
    wkey **b = srv_xcalloc(n, sizeof *b);
    for (size_t i = 0; i < nbuckets; i++) {
        for (wkey *k = buckets[i], *next; k; k = next) {
            next = k->next;
            k->next = b[k->hash & (n - 1)];
            b[k->hash & (n - 1)] = k;
        }
    }
    free(buckets);
    buckets = b;
    nbuckets = n;
}

static void mark(watch_set *ws)
{
    if (atomic_load(&ws->dirty))
        return;
    atomic_store(&ws->dirty, writer_batch());
    if (nmarked == capmarked) {
        capmarked = capmarked ? capmarked * 2 : 16;
        marked = srv_xrealloc(marked, capmarked * sizeof *marked);
    }
    marked[nmarked++] = ws;
}

static void mark_watchers(wkey *k)
{
    for (wnode *n = k->watchers; n; n = n->knext)
        mark(n->set);
}

void watch_touch(int db, const void *key, size_t len)
{
    if (!nkeys)
        return;
    wkey *k = key_find(db, key, len, key_hash(db, key, len));
    if (k)
        mark_watchers(k);
}

void watch_touch_all(void)
{
    for (watch_set *ws = nkeys ? sets : NULL; ws; ws = ws->next)
        if (ws->keys)
            mark(ws);
}

/* Marks the watchers of every watched key of db that is live in table t (txn's view). */
static void mark_live(ox_txn *txn, int db, ox_table *t)
{
    for (size_t i = 0; i < nbuckets; i++)
        for (wkey *k = buckets[i]; k; k = k->next)
            if (k->db == db && ox_txn_contains(txn, t, k->bytes, k->len) == OX_OK)
                mark_watchers(k);
}

void watch_flush(ox_txn *txn, int db)
{
    if (nkeys)
        mark_live(txn, db, srv.db[db]);
}

/* Redis touches a watched key of either database that exists in either one. */
void watch_swap(ox_txn *txn, int a, int b)
{
    if (!nkeys)
        return;
    for (int pass = 0; pass < 2; pass++) {
        mark_live(txn, a, srv.db[a]);
        mark_live(txn, a, srv.db[b]);
        int t = a;
        a = b;
        b = t;
    }
}

void watch_add(srv_client *c, ox_txn *txn, int db, const void *key, size_t len)
{
    watch_set *ws = c->wset;
    if (!ws) {
        ws = srv_xcalloc(1, sizeof *ws);
        if (!seed)
            seed = srv_ustime() | 1;
        ws->next = sets;
        if (sets)
            sets->prev = ws;
        sets = ws;
        c->wset = ws;
    }
    uint64_t h = key_hash(db, key, len);
    wkey *k = key_find(db, key, len, h);
    if (k) {
        for (wnode *n = k->watchers; n; n = n->knext)
            if (n->set == ws)
                return; /* watched already: the first WATCH's view stands, as in Redis */
    } else {
        if (nkeys >= nbuckets)
            grow();
        k = srv_xmalloc(sizeof *k + len);
        k->hash = h;
        k->db = db;
        k->len = len;
        k->watchers = NULL;
        memcpy(k->bytes, key, len);
        k->next = buckets[h & (nbuckets - 1)];
        buckets[h & (nbuckets - 1)] = k;
        nkeys++;
    }
    wnode *n = srv_xmalloc(sizeof *n);
    n->key = k;
    n->set = ws;
    n->kprev = NULL;
    n->knext = k->watchers;
    if (k->watchers)
        k->watchers->kprev = n;
    k->watchers = n;
    n->snext = ws->keys;
    ws->keys = n;
    uint64_t at;
    if (ox_txn_expire_time(txn, srv.db[db], key, len, &at) == OX_OK &&
        (!ws->min_at || at < ws->min_at))
        ws->min_at = at;
}

static void key_unlink(wkey *k)
{
    wkey **pp = &buckets[k->hash & (nbuckets - 1)];
    while (*pp != k)
        pp = &(*pp)->next;
    *pp = k->next;
    nkeys--;
    free(k);
}

void watch_clear(watch_set *ws)
{
    if (!ws)
        return;
    for (wnode *n = ws->keys, *next; n; n = next) {
        next = n->snext;
        wkey *k = n->key;
        if (n->kprev)
            n->kprev->knext = n->knext;
        else
            k->watchers = n->knext;
        if (n->knext)
            n->knext->kprev = n->kprev;
        if (!k->watchers)
            key_unlink(k);
        free(n);
    }
    ws->keys = NULL;
    ws->min_at = 0;
    atomic_store(&ws->dirty, 0);
}

int watch_exec_aborts(const watch_set *ws, uint64_t now_ms)
{
    return ws && (atomic_load(&ws->dirty) || (ws->min_at && now_ms > ws->min_at));
}

int watch_check(const watch_set *ws, uint64_t committed, uint64_t now_ms)
{
    if (!ws)
        return WATCH_CLEAN;
    if (ws->min_at && now_ms > ws->min_at)
        return WATCH_ABORT;
    uint64_t d = atomic_load(&ws->dirty);
    if (!d)
        return WATCH_CLEAN; /* a change in the snapshot was marked before its commit */
    return d <= committed ? WATCH_ABORT : WATCH_UNSURE;
}

void watch_batch_end(int committed_ok)
{
    uint64_t batch = writer_batch();
    for (size_t i = 0; !committed_ok && i < nmarked; i++) {
        if (!marked[i])
            continue;
        unsigned long long d = batch;
        atomic_compare_exchange_strong(&marked[i]->dirty, &d, 0);
    }
    nmarked = 0;
}

void watch_set_free(watch_set *ws)
{
    if (!ws)
        return;
    watch_clear(ws);
    for (size_t i = 0; i < nmarked; i++)
        if (marked[i] == ws)
            marked[i] = NULL;
    if (ws->prev)
        ws->prev->next = ws->next;
    else
        sets = ws->next;
    if (ws->next)
        ws->next->prev = ws->prev;
    free(ws);
}

void watch_shutdown(void)
{
    while (sets)
        watch_set_free(sets);
    free(buckets);
    free(marked);
    buckets = NULL;
    marked = NULL;
    nbuckets = nkeys = nmarked = capmarked = 0;
}
