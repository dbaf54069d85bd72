/* expire.c — active expiry: the writer thread reclaims expired keys in bounded slices, so
 * that they stop using disk without any read touching them (reads never see them anyway:
 * the library hides a key the moment its time passes).
 *
 * The shape is Redis's ACTIVE_EXPIRE_CYCLE, on an index instead of samples: every
 * 1000/hz ms a cycle starts. Its first step is the cheap check: the soonest time in each
 * database's expiry index (one B-tree lookup each); if nothing has passed, nothing is
 * written and the writer sleeps until the next cycle. Otherwise each slice is one write
 * transaction purging at most EXPIRE_SLICE_KEYS keys, earliest first, going round the
 * databases from where the previous slice stopped. A full slice means more may be
 * waiting: the next one runs as soon as the writer has served the jobs queued meanwhile,
 * until the cycle has used EXPIRE_TIME_PERC percent of its period; then the rest waits
 * for the next cycle. So the writer is never held for more than one slice at a time, and
 * client writes interleave with a long reclaim instead of queueing behind it.
 *
 * The sweeper of dead collections' members (db_sweep, db.c) runs its slices in the same
 * cycles, after expiry's: when expiry's slice was not full, and after every other full
 * one, so that neither starves the other; the two share one time budget. The builds of
 * sorted sets' rank indexes (zindex.c) take the sweeper's turns first. Those two, unlike
 * expiry, go past the cycle's share while the writer has no job queued.
 *
 * Everything here runs on the writer thread, which owns srv.db; the counters it
 * publishes are relaxed atomics read by INFO. */
#include <stdatomic.h>

#include "db.h"
#include "expire.h"
#include "log.h"
#include "notify.h"
#include "util.h"
#include "zindex.h"

#define EXPIRE_SLICE_KEYS 256  /* keys purged per slice (one transaction, one commit) */
#define SWEEP_SLICE 1024       /* records of dead collections reclaimed per slice (db.c) */
#define EXPIRE_TIME_PERC 25    /* share of each cycle's period a cycle may use */
#define EXPIRE_HZ_MIN 1        /* Redis's bounds for hz */
#define EXPIRE_HZ_MAX 500

static uint64_t cycle_end_us;  /* monotonic: when the current cycle's period ends */
static uint64_t cycle_used_us; /* time its slices took so far */
static uint64_t next_due_us;   /* when the next slice may run */
static int next_db;            /* where the next slice starts going round */
static int last_failed;        /* the previous slice's commit failed (logged once) */

static uint64_t period_us(void)
{
    int hz = srv.cfg.hz; /* CONFIG SET may change it: one word, read as it is */
    if (hz < EXPIRE_HZ_MIN)
        hz = EXPIRE_HZ_MIN;
    if (hz > EXPIRE_HZ_MAX)
        hz = EXPIRE_HZ_MAX;
    return 1000000u / (uint64_t)hz;
}

/* 1 if some database holds a key whose time has passed (the library's rule: expired when
 * now > its time). A failed lookup counts as "maybe": the slice will tell. */
static int expire_pending(void)
{
    uint64_t now = srv_mstime();
    for (int i = 0; i < srv.ndb; i++) {
        uint64_t at;
        int rc = ox_next_expiry(srv.db[i], &at);
        if ((rc == OX_OK && now > at) || (rc != OX_OK && rc != OX_NOTFOUND))
            return 1;
    }
    return 0;
}

/* ox_purge_fn: an "expired" event for each key the slice purges (arg: its database). */
static void on_expired(void *arg, const void *key, size_t klen)
{
    notify_event(CONF_NOTIFY_EXPIRED, "expired", *(const int *)arg, key, klen);
}

/* One slice: purges up to EXPIRE_SLICE_KEYS expired keys over the databases, from
 * next_db round, in one committed transaction. Returns the keys purged, -1 if the
 * transaction failed (nothing purged). *full: the slice stopped at its bound. */
static long expire_slice(int *full)
{
    ox_txn *txn;
    size_t left = EXPIRE_SLICE_KEYS;
    int rc = ox_txn_begin(srv.store, &txn);
    for (int n = 0; rc == OX_OK && n < srv.ndb && left; n++) {
        int db = (next_db + n) % srv.ndb;
        size_t purged = 0;
        rc = ox_txn_purge_expired_each(txn, srv.db[db], left, &purged,
                                       notify_wanted(CONF_NOTIFY_EXPIRED) ? on_expired : NULL,
                                       &db);
        left -= purged;
        if (!left) /* this database may hold more: the next slice starts here */
            next_db = db;
    }
    if (rc == OX_OK)
        rc = ox_txn_commit(txn);
    else
        ox_txn_rollback(txn);
    notify_commit(rc == OX_OK);
    atomic_store_explicit(&srv.write_failed, rc != OX_OK, memory_order_relaxed);
    if (rc != OX_OK) {
        if (!last_failed)
            srv_log(SRV_LOG_WARNING, "Active expiry: write transaction failed: %s",
                    ox_strerror(rc));
        last_failed = 1;
        return -1;
    }
    last_failed = 0;
    *full = left == 0;
    return (long)(EXPIRE_SLICE_KEYS - left);
}

uint64_t expire_run(int idle)
{
    uint64_t now = srv_monotonic_us();
    if (now < next_due_us)
        return (next_due_us - now + 999) / 1000;
    if (now >= cycle_end_us) { /* a new cycle */
        cycle_end_us = now + period_us();
        cycle_used_us = 0;
    }
    uint64_t budget = period_us() * EXPIRE_TIME_PERC / 100;
    int full = 0, over = cycle_used_us >= budget, background = 0;
    if (!over && !atomic_load_explicit(&srv.expire_paused, memory_order_relaxed) &&
        expire_pending()) {
        long purged = expire_slice(&full);
        uint64_t end = srv_monotonic_us();
        cycle_used_us += end - now;
        atomic_fetch_add_explicit(&srv.stats.expire_cycle_us, end - now,
                                  memory_order_relaxed);
        if (purged > 0)
            atomic_fetch_add_explicit(&srv.stats.expired, (unsigned long long)purged,
                                      memory_order_relaxed);
        now = end;
    }
    /* The sweeper's slices share the cycle: after a slice of expiry that left nothing
     * waiting, and every other slice while expiry has a backlog, so that a steady stream
     * of expiring keys does not leave dead collections unreclaimed for ever. */
    static int sweep_turn;
    if ((!over || idle) && (!full || (sweep_turn ^= 1)) &&
        (zindex_slice() || db_sweep(SWEEP_SLICE))) {
        uint64_t end = srv_monotonic_us();
        cycle_used_us += end - now;
        now = end;
        full = background = 1;
    }
    if (full && cycle_used_us >= budget && !over)
        atomic_fetch_add_explicit(&srv.stats.expire_time_cap, 1, memory_order_relaxed);
    /* Past the share, a writer with nothing queued goes on with the background work: a
     * job that comes waits for one slice at most, as it does within the share (a 10M
     * member set's rank index took 10 s at a quarter of an idle writer). */
    next_due_us = full && (cycle_used_us < budget || (idle && background)) ? now : cycle_end_us;
    return next_due_us > now ? (next_due_us - now + 999) / 1000 : 0;
}
