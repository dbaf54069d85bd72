/* ox_ckpt.c — checkpoints: the active write buffer is frozen (a new one takes the writes)
 * when it reaches its budget or its age limit, or when no commit came for a while, and
 * the checkpointer thread writes the frozen one to LMDB in one transaction, in key order
 * (each page copied once per checkpoint, not once per commit), recording the last
 * sequence number it holds in the same transaction, committed with LMDB's own durable
 * sync. Then the buffer leaves the view and the log before that number is released.
 *
 * Back-pressure: one buffer is frozen at a time. When the active one is full too, the
 * writer waits for the checkpoint; if checkpoints fail (a full or failing disk), it gets
 * their error instead, until one succeeds. Memory stays within two budgets (the
 * mem_limit), plus the transaction that fills the second; LMDB's copies of the pages a
 * checkpoint changes, which LMDB keeps, within dirty_limit (a buffer is frozen for its
 * keys too: ox__ckpt_full, dirty_note, release_copies).
 *
 * Locks: the writer freezes holding wlock, then ckpt_mu; every view change happens under
 * ckpt_mu (and view_mu, for the readers). The checkpointer takes wlock only without
 * ckpt_mu (the age and idle freezes), so the order is always wlock, ckpt_mu, view_mu. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ox_internal.h"
#include "ox_log.h"

#define CKPT_RETRY_MS 1000 /* a failed checkpoint is tried again after this */

/* ---- applying a buffer --------------------------------------------------------------- */

static int idx_op(MDB_txn *txn, MDB_dbi exp, uint64_t at, MDB_val *key, int add)
{
    unsigned char eb[8];
    ox__be64_put(eb, at);
    MDB_val ek = {8, eb};
    int rc = add ? mdb_put(txn, exp, &ek, key, 0) : mdb_del(txn, exp, &ek, key);
    return rc == MDB_NOTFOUND && !add ? OX_OK : ox__mdb_err(rc);
}

/* The expiry time a record carries (0: none). */
static uint64_t rec_exp(const MDB_val *rec)
{
    ox_val v;
    uint64_t exp = 0;
    return ox__val_decode(rec, &v, &exp) == OX_OK ? exp : 0;
}

/* Opens (creating) t's databases in txn. */
static int table_dbis(ox_store *s, MDB_txn *txn, ox_table *t, MDB_dbi *data, MDB_dbi *exp)
{
    char dname[256], ename[256];
    snprintf(dname, sizeof dname, "t:%s", t->name);
    snprintf(ename, sizeof ename, "e:%s", t->name);
    pthread_mutex_lock(&s->tables_mu);
    int rc = mdb_dbi_open(txn, dname, MDB_CREATE, data);
    if (rc == MDB_SUCCESS)
        rc = mdb_dbi_open(txn, ename, MDB_CREATE | MDB_DUPSORT, exp);
    pthread_mutex_unlock(&s->tables_mu);
    return ox__mdb_err(rc);
}

#define LMDB_PAGEHDRSZ 16 /* LMDB's page header (mdb.c: PAGEHDRSZ) */

/* Writes table t's part of m: its clear first, then each key's final version. *big gains
 * the pages of the values it writes that take more than one page of LMDB's (psize bytes):
 * LMDB frees such a run at its commit, where it keeps single pages (mdb_dpage_free). */
static int apply_table(ox_store *s, MDB_txn *txn, ox_mem *m, ox_table *t, MDB_dbi data,
                       MDB_dbi exp, size_t psize, uint64_t *big)
{
    uint64_t stamp;
    int rc = OX_OK;
    if (ox__mem_last_clear(m, t->id, &stamp) &&
        ((rc = ox__mdb_err(mdb_drop(txn, data, 0))) || (rc = ox__mdb_err(mdb_drop(txn, exp, 0)))))
        return rc;
    (void)s;
    /* One cursor for the walk: the keys come in order, and LMDB finds a key on the
     * cursor's own leaf page without a search from the root (mdb_cursor_set); a key that is
     * there is then replaced or deleted where the cursor stands. A lookup and a put from
     * the root for each key had been two descents (perf: memcmp and the page search were
     * most of the checkpointer's own time under LPUSH and ZADD at -P 16). */
    MDB_cursor *cur;
    if ((rc = ox__mdb_err(mdb_cursor_open(txn, data, &cur))))
        return rc;
    ox_mem_cur c;
    MDB_val k, rec, old;
    ox__mem_cur_init(&c, m, t->id);
    for (ox__mem_cur_seek(&c, NULL, 1); rc == OX_OK && ox__mem_cur_key(&c, &k);
         ox__mem_cur_step(&c, 1)) {
        if (!ox__mem_cur_final(&c, &rec))
            continue;
        int had = mdb_cursor_get(cur, &k, &old, MDB_SET);
        if (had != MDB_SUCCESS && had != MDB_NOTFOUND) {
            rc = ox__mdb_err(had);
            break;
        }
        uint64_t oexp = had == MDB_SUCCESS ? rec_exp(&old) : 0;
        if (rec.mv_data) {
            uint64_t nexp = rec_exp(&rec);
            if (rec.mv_size + LMDB_PAGEHDRSZ > psize) /* LMDB's OVPAGES */
                *big += (rec.mv_size + LMDB_PAGEHDRSZ - 1) / psize + 1;
            if ((rc = ox__mdb_err(mdb_cursor_put(cur, &k, &rec,
                                                 had == MDB_SUCCESS ? MDB_CURRENT : 0))))
                break;
            if (oexp && oexp != nexp && (rc = idx_op(txn, exp, oexp, &k, 0)))
                break;
            if (nexp && nexp != oexp)
                rc = idx_op(txn, exp, nexp, &k, 1);
        } else if (had == MDB_SUCCESS) {
            if ((rc = ox__mdb_err(mdb_cursor_del(cur, 0))))
                break;
            if (oexp)
                rc = idx_op(txn, exp, oexp, &k, 0);
        }
    }
    mdb_cursor_close(cur);
    return rc;
}

/* Pages in dbi's tree (branch, leaf and overflow pages), as txn sees it; 0 if unknown. */
static uint64_t tree_pages(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_stat st;
    if (mdb_stat(txn, dbi, &st) != MDB_SUCCESS)
        return 0;
    return (uint64_t)st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
}

/* Notes the data file's pages (s->file_pages, ox__ckpt_full's cap): at the start, and
 * after each checkpoint. */
static void note_file_pages(ox_store *s)
{
    MDB_envinfo fi;
    if (mdb_env_info(s->env, &fi) == MDB_SUCCESS)
        atomic_store(&s->file_pages, (unsigned long long)fi.me_last_pgno + 1);
}

/* What one attempt asks of the next (besides OX_OK and ox_err codes). */
enum { AGAIN_GROW = -201, AGAIN_ADOPT = -202, AGAIN_REVIVE = -203 };

/* One attempt: the whole buffer in one transaction. *made: tables created in it. *txnid:
 * the transaction's id, *grown: the pages its tables' trees gained (fewer: negative), *big:
 * the pages of its values of more than one page (apply_table). */
static int apply_once(ox_store *s, ox_mem *m, uint64_t lsn, ox_table **made, size_t *nmade,
                      MDB_dbi *dd, MDB_dbi *de, size_t *txnid, long long *grown, uint64_t *big)
{
    MDB_txn *txn;
    MDB_stat est;
    size_t psize = mdb_env_stat(s->env, &est) == MDB_SUCCESS ? est.ms_psize : 4096;
    *nmade = 0;
    *grown = 0;
    *big = 0;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc == MDB_MAP_RESIZED)
        return AGAIN_ADOPT;
    if (rc == MDB_PANIC)
        return AGAIN_REVIVE;
    if (rc)
        return ox__mdb_err(rc);
    *txnid = mdb_txn_id(txn);
    pthread_mutex_lock(&s->tables_mu);
    unsigned n = s->ntables;
    pthread_mutex_unlock(&s->tables_mu);
    for (unsigned id = 0; id < n && rc == OX_OK; id++) {
        ox_table *t = s->by_id[id];
        if (!t || !ox__mem_has_table(m, id))
            continue;
        MDB_dbi data = t->data, exp = t->exp;
        if (!atomic_load(&t->lmdb_since)) {
            if ((rc = table_dbis(s, txn, t, &data, &exp)))
                break;
            dd[*nmade] = data;
            de[*nmade] = exp;
            made[(*nmade)++] = t;
        }
        *grown -= (long long)(tree_pages(txn, data) + tree_pages(txn, exp));
        rc = apply_table(s, txn, m, t, data, exp, psize, big);
        *grown += (long long)(tree_pages(txn, data) + tree_pages(txn, exp));
    }
    if (rc == OX_OK) {
        unsigned char b[8];
        ox__be64_put(b, lsn);
        MDB_val k = {3, "lsn"}, v = {8, b};
        rc = ox__mdb_err(mdb_put(txn, s->meta, &k, &v, 0));
    }
    if (rc) {
        mdb_txn_abort(txn);
        return rc == OX_IMAPFULL ? AGAIN_GROW : rc;
    }
    rc = mdb_txn_commit(txn);
    return rc == MDB_MAP_FULL ? AGAIN_GROW : rc == MDB_PANIC ? AGAIN_REVIVE : ox__mdb_err(rc);
}

/* LMDB reuses the pages that transaction K freed only in a transaction whose readers all
 * began after K, and never in K + 1 itself (mdb_find_oldest: the previous snapshot stays
 * whole). So the next checkpoint could not reuse what this one freed (the pages of the
 * tree before it), and the file would hold three copies of every page that checkpoints
 * rewrite. A small durable commit right after this one moves new readers past it: by the
 * next checkpoint, the pages of the tree before this one are free for it. A failure here
 * costs only that reuse. */
static void ckpt_bump(ox_store *s, uint64_t lsn)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, 0, &txn))
        return;
    unsigned char b[8];
    ox__be64_put(b, lsn);
    MDB_val k = {3, "lsn"}, v = {8, b};
    if (mdb_put(txn, s->meta, &k, &v, 0)) {
        mdb_txn_abort(txn);
        return;
    }
    if (mdb_txn_commit(txn) != MDB_SUCCESS) { /* frees txn whatever it returns */
        /* A failed meta-page write leaves LMDB's env failed for every reader, and no
         * checkpoint may come to revive it (an idle store): reopen it now. */
        int rrc;
        ox__revive_if_failed(s, &rrc);
    }
}

/* The pages transaction id freed, from its record in LMDB's free list: the pages it
 * copied (each copy frees the page it replaces) and those it dropped. 0 if unknown. The
 * free list's database (0) opens only in a read transaction. */
static uint64_t freed_pages(ox_store *s, size_t id)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k = {sizeof id, &id}, v;
    size_t n = 0;
    if (ox__read_begin(s, &txn))
        return 0;
    if (mdb_cursor_open(txn, 0, &cur) == MDB_SUCCESS) {
        /* The record is an ID list: its count, then the page numbers. */
        if (mdb_cursor_get(cur, &k, &v, MDB_SET) == MDB_SUCCESS && v.mv_size >= sizeof n)
            memcpy(&n, v.mv_data, sizeof n);
        mdb_cursor_close(cur);
    }
    ox__read_end(s, txn);
    return n;
}

/* After a checkpoint of `keys` keys that changed `pages` pages, `kept` of them single pages:
 * the estimate of pages per key for the next freezes (from all its pages: its transaction
 * held them all), and the memory LMDB now keeps (only the single pages: see release_copies;
 * values of 8 KiB had reopened the env after each checkpoint, for pages LMDB had freed).
 * The estimate goes up at once and down by an eighth of the way: writes that switch
 * between sequential and random keys every second made a checkpoint past the limit (and a
 * reopen) each second when it came down by half. Past the limit, a page per key: random
 * keys over a file change fewer pages per key the more of them a checkpoint holds (two land
 * on one page), so what a checkpoint too large measured is too low for a smaller one. */
static void dirty_note(ox_store *s, uint64_t pages, uint64_t kept, size_t keys)
{
    /* Not from a few keys (an age or idle checkpoint; a few for the limit): their pages
     * are mostly the paths down the trees, which would make the next buffers small, and
     * the estimate comes down slowly. */
    size_t few = s->dirty_max / 4 < 256 ? s->dirty_max / 4 : 256;
    if (keys >= few || (keys && pages > s->dirty_max)) {
        uint64_t last = pages * 1024 / keys, est = atomic_load(&s->dirty_per_key);
        est = last >= est ? last : est - (est - last) / 8;
        if (pages > s->dirty_max && est < 1024)
            est = 1024;
        atomic_store(&s->dirty_per_key, (unsigned)(est < 1 ? 1 : est > 65536 ? 65536 : est));
    }
    s->ckpt_pages_new = pages; /* finish publishes it */
    if (kept > s->dirty_held)
        s->dirty_held = kept;
    if (pages > s->dirty_max)
        s->dirty_trim = 1;
}

/* LMDB keeps the page copies of a transaction for the next ones until the env closes
 * (mdb_page_free: its own list, never freed): with random keys over a large file a 32 MiB
 * buffer's checkpoint had copied about 100000 pages, 390 MB of anonymous memory that
 * stayed. When a checkpoint copied more than dirty_max (the estimate was low: the keys'
 * pattern changed), the env is reopened, which frees them. After the checkpoint has left
 * the view, without ckpt_mu (the reopen waits for readers); one that finds readers staying
 * is tried after a later checkpoint. The checkpointer thread's. */
static void release_copies(ox_store *s)
{
    if (s->dirty_held > s->dirty_max && ox__env_release(s) == OX_OK) { /* (it trims too) */
        s->dirty_held = 0;
        pthread_mutex_lock(&s->ckpt_mu);
        s->env_releases++;
        pthread_mutex_unlock(&s->ckpt_mu);
    } else if (s->dirty_trim) {
        /* Values of more than a page: LMDB freed their runs at the commit, holes between
         * the pages it keeps, which glibc keeps too (a checkpoint of 2000 values of 60000
         * bytes left 27 MB of them resident). */
        ox__heap_trim();
    }
    s->dirty_trim = 0;
}

int ox__ckpt_apply(ox_store *s, ox_mem *m)
{
    uint64_t lsn = ox__mem_max_seq(m);
    if (!lsn) /* no commit in it: nothing to write, and the file's lsn must not go back */
        return OX_OK;
    ox_table *made[256];
    MDB_dbi dd[256], de[256];
    size_t nmade = 0;
    int rc = OX_OK;
    /* The log holds every record up to lsn first: LMDB never gets ahead of it, so a replay
     * after a crash finds the records that follow without a gap. */
    if (s->log && (rc = ox__log_sync(s->log)))
        return rc;
    ox__grow_if_needed(s);
    size_t id = 0;
    long long grown = 0;
    uint64_t big = 0;
    for (int tries = 0; tries < 40; tries++) {
        rc = apply_once(s, m, lsn, made, &nmade, dd, de, &id, &grown, &big);
        if (rc == AGAIN_GROW || rc == AGAIN_ADOPT) {
            int grc = ox__grow(s, rc == AGAIN_ADOPT);
            if (grc)
                return grc;
        } else if (rc == AGAIN_REVIVE) {
            /* A failed meta-page write left LMDB's env unusable: reopen it (the file is
             * whole), then try again; if it cannot be reopened now, later. */
            int rrc = OX_EIO;
            if (!ox__revive_if_failed(s, &rrc) || rrc)
                return rrc ? rrc : OX_EIO;
        } else {
            break;
        }
    }
    if (rc < 0)
        rc = OX_EFULL; /* 40 growths did not make room */
    if (rc) {
        /* A commit that failed writing its meta page leaves LMDB's env failed for every
         * reader too: reopen it now, so reads go on while the disk is fixed. */
        int rrc;
        ox__revive_if_failed(s, &rrc);
        return ox__space_err(s, rc);
    }
    MDB_envinfo info;
    size_t since = mdb_env_info(s->env, &info) == MDB_SUCCESS ? info.me_last_txnid : 1;
    for (size_t i = 0; i < nmade; i++) {
        made[i]->data = dd[i];
        made[i]->exp = de[i];
        atomic_store_explicit(&made[i]->lmdb_since, since, memory_order_release);
    }
    uint64_t freed = freed_pages(s, id);
    note_file_pages(s);
    /* After the tables are published: a revive reopens the handles of those in LMDB. */
    ckpt_bump(s, lsn);
    /* Each page changed is a copy (whose original the free list has) or a new page (which
     * the trees gained); the free list also has the pages removed without a copy (merged,
     * or a dropped table's), which the trees lost. */
    long long changed = (long long)freed + grown;
    size_t keys;
    ox__mem_dels(m, &keys);
    uint64_t pages = changed > 0 ? (uint64_t)changed : 0;
    dirty_note(s, pages, pages > big ? pages - big : 0, keys);
    return OX_OK;
}

/* ---- freezing and finishing (ckpt_mu held) ---------------------------------------------- */

/* The active buffer becomes the frozen one; a new one takes the writes. wlock held. */
static int freeze(ox_store *s)
{
    ox_view *v = s->view;
    ox_mem *n, *mem[OX_VIEW_MAX];
    if (v->nmem >= OX_VIEW_MAX)
        return OX_EBUSY;
    int rc = ox__mem_new(s->mem_budget, 2 * s->max_tables, &n);
    if (rc)
        return rc;
    mem[0] = n;
    for (int i = 0; i < v->nmem; i++)
        mem[i + 1] = v->mem[i];
    ox_mem *old = v->mem[0];
    rc = ox__view_swap(s, mem, v->nmem + 1, v->lmdb_min);
    ox__mem_unref(n); /* the view holds it */
    if (rc)
        return rc;
    ox__mem_ref(old);
    s->frozen = old;
    s->mem_born_ms = 0;
    atomic_store_explicit(&s->walk_dels, 0, memory_order_relaxed);
    pthread_cond_broadcast(&s->ckpt_cv);
    return OX_OK;
}

/* m is in LMDB: it leaves the view, and the log may go up to its last commit. */
static void finish(ox_store *s, ox_mem *m)
{
    ox_view *v = s->view;
    ox_mem *mem[OX_VIEW_MAX];
    int n = 0;
    for (int i = 0; i < v->nmem; i++)
        if (v->mem[i] != m)
            mem[n++] = v->mem[i];
    MDB_envinfo info;
    size_t min = mdb_env_info(s->env, &info) == MDB_SUCCESS ? info.me_last_txnid : v->lmdb_min;
    if (ox__view_swap(s, mem, n, min) == OX_OK) {
        s->ckpt_count++;
        s->ckpt_pages = s->ckpt_pages_new;
        if (s->ckpt_pages > s->ckpt_pages_peak)
            s->ckpt_pages_peak = s->ckpt_pages;
        if (ox__mem_max_seq(m)) /* (one without a commit changed nothing) */
            s->ckpt_lsn = ox__mem_max_seq(m);
        s->ckpt_release = 1;
        s->frozen = NULL;
        ox__mem_unref(m);
    }
    pthread_cond_broadcast(&s->ckpt_cv);
}

/* Checkpoints the frozen buffer here and now (no checkpointer thread). ckpt_mu held. */
static int apply_here(ox_store *s)
{
    ox_mem *m = s->frozen;
    uint64_t t0 = ox__mono_ms();
    int rc = ox__ckpt_apply(s, m);
    s->ckpt_last_ms = ox__mono_ms() - t0;
    s->ckpt_rc = rc;
    if (rc == OX_OK)
        finish(s, m);
    return rc;
}

/* ---- the writer's side ------------------------------------------------------------------- */

void ox__ckpt_release(ox_store *s)
{
    if (s->replaying) /* the replay walks the segments: they stay until it ends */
        return;
    pthread_mutex_lock(&s->ckpt_mu);
    int go = s->ckpt_release;
    uint64_t lsn = s->ckpt_lsn;
    s->ckpt_release = 0;
    pthread_mutex_unlock(&s->ckpt_mu);
    if (go && s->log)
        ox__log_release(s->log, lsn);
}

int ox__ckpt_full(ox_store *s, const ox_mem *m)
{
    size_t keys;
    ox__mem_dels(m, &keys);
    if (ox__mem_full(m, s->mem_budget))
        return 1;
    /* Not in recovery's replay: it keeps what it read in the buffers by their bytes, as the
     * log holds them (by the estimate, which an open starts again at a page per key, it
     * would checkpoint in the open). */
    if (s->replaying)
        return 0;
    /* No more than the file's pages, and those its new data needs (pages are at least half
     * full, and the arena's bytes hold each record with its node, about twice its size): a
     * small file's buffers are not cut by the estimate. At three quarters of the
     * limit: the estimate is the last checkpoints', and the file (so the pages per random
     * key) grows meanwhile. */
    uint64_t est = (uint64_t)keys * atomic_load_explicit(&s->dirty_per_key,
                                                         memory_order_relaxed) / 1024;
    uint64_t most = atomic_load_explicit(&s->file_pages, memory_order_relaxed) +
                    ox__mem_data(m) / 4096;
    return (est < most ? est : most) * 4 >= (uint64_t)s->dirty_max * 3;
}

int ox__ckpt_room(ox_store *s)
{
    if (s->read_only)
        return OX_OK; /* a replay keeps what it read in the buffer */
    ox__ckpt_release(s);
    pthread_mutex_lock(&s->ckpt_mu);
    ox_mem *a = s->view->mem[0];
    int full = ox__ckpt_full(s, a);
    int old = s->mem_born_ms && ox__mono_ms() - s->mem_born_ms >= s->ckpt_age_ms;
    /* Deletions stay in the buffer as versions that ordered walks step over (SPOP
     * draining a set walks over every member it deleted): past this many, and once most of
     * the buffer's keys carry one, a checkpoint clears them, when none is running (it
     * never waits for one). Updates (a ZADD's new score: one key written, one deleted)
     * stay at half and do not start one: measured, they lost a fifth of ZADD -P 16. What
     * counts is the walks' cost, though: one walk over OX_WALK_DELS of them starts one
     * too (a leaderboard's rising members leave their old entries under the ones that
     * rank them: 20000 ZINCRBY + ZREVRANK over 64 members at the top of 100000 went from
     * about 2 s of CPU to 0.5 s). */
    size_t nodes, ndels = ox__mem_dels(a, &nodes);
    int dels = (ndels >= OX_MEM_FREEZE_DELS && ndels * 4 >= nodes * 3) ||
               atomic_load_explicit(&s->walk_dels, memory_order_relaxed);
    int rc = OX_OK;
    /* Only a buffer that holds a commit is frozen for its deletions (its age counts from
     * its first commit): a walk may have stepped over deletions that are in LMDB or in the
     * frozen buffer, and an empty buffer's checkpoint would record no commit (lsn 0) as
     * the file's last. */
    dels = dels && ox__mem_max_seq(a);
    if (!full && !((old || dels) && !s->frozen)) {
        pthread_mutex_unlock(&s->ckpt_mu);
        return OX_OK;
    }
    if (!s->ckpt_on) {
        /* Recovery (the checkpointer starts after it): the replay fills both buffers, what
         * the crash found in them, and leaves the frozen one to the thread, so a restart
         * costs the replay alone; only a log holding more (a smaller limit now) is
         * checkpointed here. Without a thread at all: here, at once. */
        int defer = s->replaying && s->log;
        if (s->frozen)
            rc = apply_here(s);
        if (rc == OX_OK && (rc = freeze(s)) == OX_OK && !defer)
            rc = apply_here(s);
        pthread_mutex_unlock(&s->ckpt_mu);
        return rc;
    }
    if (s->frozen && full)
        s->ckpt_waits++;
    while (s->frozen && full) {
        /* The previous one is still being written: wait for it, unless it fails (the
         * disk's error, until a checkpoint succeeds) or this thread holds a reader (a
         * growth of the map would wait for it). A growth that gave up because readers
         * stayed is tried again now. */
        if (ox__thread_reads() > 0 || (s->ckpt_rc != OX_OK && s->ckpt_rc != OX_EBUSY)) {
            rc = s->ckpt_rc != OX_OK ? s->ckpt_rc : OX_EBUSY;
            break;
        }
        if (s->ckpt_rc == OX_EBUSY) {
            s->ckpt_rc = OX_OK;
            s->ckpt_now = 1;
            pthread_cond_broadcast(&s->ckpt_cv);
        }
        pthread_cond_wait(&s->ckpt_cv, &s->ckpt_mu);
    }
    if (rc == OX_OK && !s->frozen)
        rc = freeze(s);
    pthread_mutex_unlock(&s->ckpt_mu);
    return rc;
}

/* Waits until the frozen buffer (if any) is in LMDB; its error if the attempt fails. */
static int frozen_done(ox_store *s)
{
    if (!s->frozen)
        return OX_OK;
    if (!s->ckpt_on)
        return apply_here(s);
    s->ckpt_rc = OX_OK; /* wait for an attempt of its own, now */
    s->ckpt_now = 1;
    pthread_cond_broadcast(&s->ckpt_cv);
    while (s->frozen && s->ckpt_rc == OX_OK && s->ckpt_on)
        pthread_cond_wait(&s->ckpt_cv, &s->ckpt_mu);
    return s->frozen ? (s->ckpt_rc ? s->ckpt_rc : OX_EBUSY) : OX_OK;
}

int ox__ckpt_all(ox_store *s)
{
    if (s->read_only)
        return OX_OK;
    pthread_mutex_lock(&s->ckpt_mu);
    int rc = frozen_done(s);
    if (rc == OX_OK && ox__mem_max_seq(s->view->mem[0]) && (rc = freeze(s)) == OX_OK)
        rc = frozen_done(s);
    pthread_mutex_unlock(&s->ckpt_mu);
    ox__ckpt_release(s);
    return rc;
}

/* ---- the checkpointer thread -------------------------------------------------------------- */

/* Keys in the active buffer (ckpt_mu held: the view stays). */
static size_t active_keys(ox_store *s)
{
    size_t keys;
    ox__mem_dels(s->view->mem[0], &keys);
    return keys;
}

static void *ckpt_main(void *arg)
{
    ox_store *s = arg;
    pthread_setname_np(pthread_self(), "ox-checkpoint");
    uint64_t retry_at = 0, seen_seq = 0, seen_ms = ox__mono_ms(); /* the last commit seen,
                                                                        and when */
    pthread_mutex_lock(&s->ckpt_mu);
    while (!s->ckpt_stop) {
        uint64_t now = ox__mono_ms(), seq = atomic_load_explicit(&s->visible,
                                                                  memory_order_acquire);
        if (seq != seen_seq) {
            seen_seq = seq;
            seen_ms = now;
        }
        if (s->frozen && (now >= retry_at || s->ckpt_now)) {
            s->ckpt_now = 0;
            ox_mem *m = s->frozen;
            pthread_mutex_unlock(&s->ckpt_mu);
            uint64_t t0 = ox__mono_ms();
            int rc = ox__ckpt_apply(s, m);
            pthread_mutex_lock(&s->ckpt_mu);
            s->ckpt_last_ms = ox__mono_ms() - t0;
            s->ckpt_rc = rc;
            if (rc == OX_OK) {
                finish(s, m);
                retry_at = 0;
                pthread_mutex_unlock(&s->ckpt_mu);
                release_copies(s);
                pthread_mutex_lock(&s->ckpt_mu);
            } else {
                retry_at = ox__mono_ms() + CKPT_RETRY_MS;
                pthread_cond_broadcast(&s->ckpt_cv);
            }
            continue;
        }
        /* An old active buffer is frozen by the writer at its next transaction; an idle
         * store's is frozen here (taking wlock, never while holding ckpt_mu), once it is old
         * or no commit came for ckpt_idle_ms: a store loaded, then read, walks LMDB alone
         * (a walk seeks in every buffer: a ZRANK on a set just loaded took a fifth more).
         * Not for a few keys: a trickle of writes would rewrite LMDB's pages at each pause. */
        if (!s->frozen && s->mem_born_ms &&
            (now - s->mem_born_ms >= s->ckpt_age_ms ||
             (now - seen_ms >= s->ckpt_idle_ms && active_keys(s) >= OX_CKPT_IDLE_KEYS))) {
            pthread_mutex_unlock(&s->ckpt_mu);
            if (pthread_mutex_trylock(&s->wlock) == 0) {
                pthread_mutex_lock(&s->ckpt_mu);
                if (!s->frozen && s->mem_born_ms)
                    freeze(s);
                pthread_mutex_unlock(&s->ckpt_mu);
                pthread_mutex_unlock(&s->wlock);
            }
            pthread_mutex_lock(&s->ckpt_mu);
            if (s->frozen)
                continue;
        }
        /* a second, or half the idle time when it is shorter */
        uint64_t wait_ms = s->ckpt_idle_ms < 2000 ? s->ckpt_idle_ms / 2 + 1 : 1000;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        ts.tv_sec += (time_t)(wait_ms / 1000) + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&s->ckpt_cv, &s->ckpt_mu, &ts);
    }
    pthread_mutex_unlock(&s->ckpt_mu);
    return NULL;
}

int ox__ckpt_start(ox_store *s)
{
    note_file_pages(s);
    s->ckpt_stop = 0;
    if (pthread_create(&s->ckpt_th, NULL, ckpt_main, s))
        return OX_ENOMEM;
    pthread_mutex_lock(&s->ckpt_mu);
    s->ckpt_on = 1;
    pthread_mutex_unlock(&s->ckpt_mu);
    return OX_OK;
}

void ox__ckpt_stop(ox_store *s)
{
    pthread_mutex_lock(&s->ckpt_mu);
    int on = s->ckpt_on;
    s->ckpt_stop = 1;
    s->ckpt_on = 0;
    pthread_cond_broadcast(&s->ckpt_cv);
    pthread_mutex_unlock(&s->ckpt_mu);
    if (on)
        pthread_join(s->ckpt_th, NULL);
}

/* ---- monitoring ---------------------------------------------------------------------------- */

int ox_store_write_info(ox_store *s, ox_write_info *wi)
{
    if (!wi)
        return OX_EINVAL;
    memset(wi, 0, sizeof *wi);
    if (!s)
        return OX_EINVAL;
    wi->buffer_limit = 2 * (uint64_t)s->mem_budget;
    wi->buffer_peak = atomic_load_explicit(&s->mem_peak, memory_order_relaxed);
    pthread_mutex_lock(&s->view_mu);
    for (int i = 0; i < s->view->nmem; i++)
        wi->buffer_bytes += ox__mem_bytes(s->view->mem[i]);
    pthread_mutex_unlock(&s->view_mu);
    pthread_mutex_lock(&s->ckpt_mu);
    wi->checkpointing = s->frozen != NULL;
    wi->checkpoints = s->ckpt_count;
    wi->checkpoint_waits = s->ckpt_waits;
    wi->last_checkpoint_ms = s->ckpt_last_ms;
    wi->last_checkpoint_status = s->ckpt_rc;
    wi->checkpoint_seq = s->ckpt_lsn;
    wi->last_checkpoint_pages = s->ckpt_pages;
    wi->checkpoint_pages_peak = s->ckpt_pages_peak;
    wi->env_releases = s->env_releases;
    pthread_mutex_unlock(&s->ckpt_mu);
    wi->dirty_limit = s->dirty_limit;
    wi->last_seq = atomic_load(&s->visible);
    return OX_OK;
}
