/* zindex.c — sorted sets' rank indexes, built when first wanted (zindex.h). */
#include "zindex.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "zset_fmt.h"

#define ZINDEX_QUEUE 64      /* sets waiting for their index */
/* Index entries counted per slice: 8 * fanout^2, 8192 at the default 32 (about 256
 * fences written); 32 at 2, where tests see many slices with changes between them. */
#define ZINDEX_SLICE(fanout) ((size_t)(fanout) * (fanout) * 8)

static struct want {
    ox_table *db;            /* the database table whose key holds the set */
    uint64_t id;
} queue[ZINDEX_QUEUE];
static int queued;
static pthread_mutex_t queue_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_ullong built;

/* Queues set id of database table db, once. */
static void want_push(ox_table *db, uint64_t id)
{
    pthread_mutex_lock(&queue_mu);
    int i = 0;
    while (i < queued && !(queue[i].id == id && queue[i].db == db))
        i++;
    if (i == queued && queued < ZINDEX_QUEUE)
        queue[queued++] = (struct want){db, id};
    pthread_mutex_unlock(&queue_mu);
}

void zindex_want(const db_coll *c, ox_table *dbtable)
{
    unsigned fanout = (unsigned)srv.cfg.zset_rank_fanout;
    if (!c->exists || c->type != DB_ZSET || zfmt_indexed(c->levels) ||
        c->count <= 2 * (uint64_t)fanout)
        return;
    want_push(dbtable, c->id);
}

void zindex_want_id(const char *table, size_t len, uint64_t id)
{
    for (int i = 0; i < srv.ndb; i++) { /* every database table, whatever the map says */
        const char *name = ox_table_name(srv.db[i]);
        if (strlen(name) == len && !memcmp(name, table, len)) {
            want_push(srv.db[i], id);
            return;
        }
    }
}

int zindex_take(char *table, size_t cap, uint64_t *id)
{
    pthread_mutex_lock(&queue_mu);
    int got = queued > 0;
    if (got) {
        snprintf(table, cap, "%s", ox_table_name(queue[0].db));
        *id = queue[0].id;
        memmove(queue, queue + 1, (size_t)(queued - 1) * sizeof *queue);
        queued--;
    }
    pthread_mutex_unlock(&queue_mu);
    return got;
}

/* Takes the oldest request off the queue (it is done, or its set is gone). */
static void queue_pop(void)
{
    pthread_mutex_lock(&queue_mu);
    memmove(queue, queue + 1, (size_t)(queued - 1) * sizeof *queue);
    queued--;
    pthread_mutex_unlock(&queue_mu);
}

/* In txn: one step of set w's build. *done 1 when it needs no more (built, or the set is
 * gone or no longer the key's). OX_OK or an error. */
static int build_step(ox_txn *txn, const struct want *w, int *done)
{
    ox_table *members = db_members_of(w->db);
    unsigned char link[COLL_KEY_PREFIX];
    ox_val v, mv;
    unsigned kind;
    coll_meta m;
    *done = 1;
    coll_member_key(link, w->id, COLL_SUB_HEAD, NULL, 0);
    int rc = ox_txn_get(txn, members, link, sizeof link, &v); /* the key that holds it */
    if (rc == OX_NOTFOUND)
        return OX_OK;
    unsigned char *key = rc == OX_OK ? srv_xmalloc(v.len ? v.len : 1) : NULL;
    size_t klen = v.len;
    if (rc == OX_OK) {
        memcpy(key, v.data, klen);
        rc = ox_txn_read(txn, w->db, key, klen, &mv, &kind, NULL);
    }
    if (rc == OX_OK && kind == DB_ZSET && coll_meta_decode(mv.data, mv.len, &m) == OX_OK &&
        m.id == w->id && !zfmt_indexed(m.levels)) {
        /* (a request made on an older snapshot of a set built since: nothing to do, and
           no build to count) */
        zfmt_set z = {members, m.id, m.count, m.levels, (unsigned)srv.cfg.zset_rank_fanout,
                      &m.zb};
        rc = zfmt_build_step(txn, &z, ZINDEX_SLICE(z.fanout), done);
        m.levels = z.levels;
        if (rc == OX_OK) /* the levels in its record, its expiry time kept */
            rc = coll_store(txn, w->db, members, key, klen, DB_ZSET, &m, 0, 0,
                            OX_PUT_KEEPTTL);
        if (rc == OX_OK && *done)
            atomic_fetch_add_explicit(&built, 1, memory_order_relaxed);
    }
    free(key);
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

int zindex_slice(void)
{
    pthread_mutex_lock(&queue_mu);
    struct want w = queued ? queue[0] : (struct want){NULL, 0};
    pthread_mutex_unlock(&queue_mu);
    if (!w.db)
        return 0;
    ox_txn *txn;
    int done = 1, rc = ox_txn_begin(srv.store, &txn);
    if (rc != OX_OK)
        return 0; /* tried again at the next cycle */
    rc = build_step(txn, &w, &done);
    rc = rc == OX_OK ? ox_txn_commit(txn) : (ox_txn_rollback(txn), rc);
    if (rc != OX_OK) { /* dropped: the next rank asks again */
        srv_log(SRV_LOG_WARNING, "A sorted set's rank index was not built: %s",
                ox_strerror(rc));
        done = 1;
    }
    if (done)
        queue_pop();
    return 1;
}

unsigned long long zindex_built(void)
{
    return atomic_load_explicit(&built, memory_order_relaxed);
}
