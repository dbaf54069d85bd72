/* dbmap.c — which LMDB table holds Redis database i, and SWAPDB.
 *
 * The mapping is persistent (read by dbmap_fmt.c, shared with oxistore-check): the table
 * "dbmap" of the same file holds, for every database whose table is not its own number,
 * key "<i>" -> the table's name, and key "v" -> the mapping's version (8 bytes big-endian,
 * +1 per batch that swapped). SWAPDB rewrites two entries and the version inside the
 * writer's batch transaction, so the swap is exactly as durable as the writes around it.
 * A table's name is always a decimal number (the database it was created for); a swap
 * permutes names, it never copies data: O(1).
 *
 * Who sees which mapping (see srv.h for the generation protocol):
 * - the writer uses srv.db, its own mapping, which already holds the swaps of the batch
 *   it runs (later commands of the batch see them); on a failed commit it goes back to
 *   the committed one.
 * - an I/O thread uses io->db, a copy that matches its snapshot: it is read from the
 *   snapshot itself whenever srv.dbgen says a swap may have committed since the copy was
 *   made. So a read sees the data and the mapping of one and the same commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbmap.h"
#include "dbmap_fmt.h"
#include "io.h"
#include "log.h"

#define DBMAP_NAME_MAX 24

static ox_table *dbmap_t;      /* the persistent mapping */
static ox_table **tabs;        /* tabs[n]: the table named "n" (opened at startup) */
static int ntabs;
static ox_table **committed;   /* the writer's mapping as of its last commit */
static uint64_t version;       /* writer: the version srv.db has (committed or pending) */
static uint64_t committed_version;
static int dirty;              /* writer: the running batch swapped */
static atomic_ullong epoch;    /* +1 per dbmap_reload: io->db of an older one is stale */

/* The table number of database i in a snapshot's mapping, or -1 if malformed. */
static int mapped_number(ox_snapshot *snap, int i)
{
    return dbmap_table_number(snap, dbmap_t, i);
}

/* The mapping's version in a snapshot (0 before the first swap). */
static uint64_t snapshot_version(ox_snapshot *snap)
{
    return dbmap_stored_version(snap, dbmap_t);
}

int dbmap_load(void)
{
    int rc = ox_table_open(srv.store, DBMAP_TABLE, &dbmap_t);
    ox_snapshot *snap = NULL;
    int *num = calloc((size_t)srv.ndb, sizeof *num);
    srv.db = calloc((size_t)srv.ndb, sizeof *srv.db);
    committed = calloc((size_t)srv.ndb, sizeof *committed);
    if (rc == OX_OK && (!num || !srv.db || !committed))
        rc = OX_ENOMEM;
    if (rc == OX_OK)
        rc = ox_snapshot_begin(srv.store, &snap);
    if (rc != OX_OK) {
        srv_log(SRV_LOG_WARNING, "Can't read the database map: %s", ox_strerror(rc));
        free(num);
        return rc;
    }
    version = snapshot_version(snap);
    ntabs = 0;
    for (int i = 0; i < srv.ndb; i++) {
        num[i] = mapped_number(snap, i);
        if (num[i] < 0) {
            srv_log(SRV_LOG_WARNING, "The database map entry of db %d is malformed", i);
            rc = OX_ECORRUPT;
        } else if (num[i] >= ntabs) {
            ntabs = num[i] + 1;
        }
    }
    ox_snapshot_end(snap);
    tabs = rc == OX_OK ? calloc((size_t)ntabs, sizeof *tabs) : NULL;
    for (int i = 0; rc == OX_OK && i < srv.ndb; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", num[i]);
        if (!tabs) {
            rc = OX_ENOMEM;
        } else if (tabs[num[i]]) {
            srv_log(SRV_LOG_WARNING, "The database map names table %s twice", name);
            rc = OX_ECORRUPT;
        } else if ((rc = ox_table_open(srv.store, name, &tabs[num[i]]))) {
            srv_log(SRV_LOG_WARNING, "Can't open database %d: %s", i, ox_strerror(rc));
        } else {
            srv.db[i] = committed[i] = tabs[num[i]];
        }
    }
    free(num);
    if (rc != OX_OK)
        return rc;
    committed_version = version;
    atomic_store(&srv.dbgen, version * 2);
    return OX_OK;
}

void dbmap_free(void)
{
    free(tabs);
    free(committed);
    free(srv.db);
    tabs = committed = srv.db = NULL;
}

/* Writes db i -> the name of srv.db[i] into the batch's transaction. */
static int put_entry(ox_txn *txn, int i)
{
    char k[16];
    int kl = snprintf(k, sizeof k, "%d", i);
    const char *name = ox_table_name(srv.db[i]);
    return ox_txn_put(txn, dbmap_t, k, (size_t)kl, name, strlen(name), 0, 0);
}

int dbmap_swap(ox_txn *txn, int a, int b)
{
    ox_table *t = srv.db[a];
    srv.db[a] = srv.db[b];
    srv.db[b] = t;
    unsigned char v[8];
    uint64_t next = version + 1;
    for (int i = 7; i >= 0; i--, next >>= 8)
        v[i] = (unsigned char)next;
    int rc = put_entry(txn, a);
    if (rc == OX_OK)
        rc = put_entry(txn, b);
    if (rc == OX_OK)
        rc = ox_txn_put(txn, dbmap_t, "v", 1, v, sizeof v, 0, 0);
    if (rc != OX_OK) { /* the batch will not commit this: undo it in memory too */
        srv.db[b] = srv.db[a];
        srv.db[a] = t;
        return rc;
    }
    version++;
    dirty = 1;
    return OX_OK;
}

void dbmap_precommit(void)
{
    if (dirty) /* odd: a swap may become visible in snapshots at any moment now */
        atomic_store_explicit(&srv.dbgen, version * 2 - 1, memory_order_release);
}

void dbmap_postcommit(int committed_ok)
{
    if (!dirty)
        return;
    dirty = 0;
    if (committed_ok) {
        memcpy(committed, srv.db, (size_t)srv.ndb * sizeof *srv.db);
        committed_version = version;
    } else {
        memcpy(srv.db, committed, (size_t)srv.ndb * sizeof *srv.db);
        version = committed_version;
    }
    atomic_store_explicit(&srv.dbgen, version * 2, memory_order_release);
}

/* Rebuilds io->db from the mapping stored in io's snapshot. 0, or -1 if it is
 * malformed (a table number the server did not open at startup). */
static int view_from_snapshot(srv_io *io)
{
    for (int i = 0; i < srv.ndb; i++) {
        int n = mapped_number(io->snap, i);
        if (n < 0 || n >= ntabs || !tabs[n])
            return -1;
        io->db[i] = tabs[n];
    }
    io->db_version = snapshot_version(io->snap);
    return 0;
}

int dbmap_view(srv_io *io)
{
    if (io->snap)
        return OX_OK; /* io->db was made to match it when it was taken */
    if (!io->db && !(io->db = calloc((size_t)srv.ndb, sizeof *io->db)))
        return OX_ENOMEM;
    uint64_t g1 = atomic_load_explicit(&srv.dbgen, memory_order_acquire);
    int rc = ox_snapshot_begin(srv.store, &io->snap);
    if (rc != OX_OK) {
        io->snap = NULL;
        return rc;
    }
    uint64_t g2 = atomic_load_explicit(&srv.dbgen, memory_order_acquire);
    /* Even and unchanged around the snapshot: no batch with a swap committed meanwhile,
     * so the snapshot holds version g1 / 2, and io->db is right if it is that version. */
    uint64_t e = atomic_load_explicit(&epoch, memory_order_acquire);
    if (g1 == g2 && !(g1 & 1) && io->db_valid && io->db_version == g1 / 2 && io->db_epoch == e)
        return OX_OK;
    if (view_from_snapshot(io)) {
        io->db_valid = 0;
        ox_snapshot_end(io->snap);
        io->snap = NULL;
        return OX_ECORRUPT;
    }
    io->db_valid = 1;
    io->db_epoch = e;
    return OX_OK;
}

void dbmap_reload_begin(void)
{
    atomic_store_explicit(&srv.dbgen, version * 2 + 1, memory_order_release);
}

void dbmap_reload(void)
{
    ox_snapshot *snap;
    int rc = ox_snapshot_begin(srv.store, &snap);
    if (rc == OX_OK) {
        for (int i = 0; i < srv.ndb && rc == OX_OK; i++) {
            int n = mapped_number(snap, i);
            if (n < 0 || n >= ntabs || !tabs[n])
                rc = OX_ECORRUPT;
            else
                srv.db[i] = tabs[n];
        }
        if (rc == OX_OK)
            version = snapshot_version(snap);
        ox_snapshot_end(snap);
    }
    if (rc != OX_OK) /* the master's file has more databases than this server: keep ours */
        srv_log(SRV_LOG_WARNING, "Can't read the database map: %s", ox_strerror(rc));
    memcpy(committed, srv.db, (size_t)srv.ndb * sizeof *srv.db);
    committed_version = version;
    atomic_fetch_add_explicit(&epoch, 1, memory_order_acq_rel);
    atomic_store_explicit(&srv.dbgen, version * 2, memory_order_release);
}
