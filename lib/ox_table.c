/* ox_table.c — named tables: a data database and an expiry index per name in LMDB, an id in
 * the write buffers, and the counts. Creating a table writes nothing: its handle exists in
 * memory, its first write's log record names it (a replay opens it again), and the
 * checkpoint that first writes its data creates its databases in LMDB. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ox_internal.h"

#define OX_TABLE_NAME_MAX 200

/* The names of the two LMDB databases of table `name`. */
static void dbi_names(const char *name, char *dname, char *ename)
{
    snprintf(dname, OX_TABLE_NAME_MAX + 3, "t:%s", name);
    snprintf(ename, OX_TABLE_NAME_MAX + 3, "e:%s", name);
}

/* Opens t's databases if LMDB has them (a read transaction, ox__read_begin's: it waits
 * for the env's reopen after a failed checkpoint; tables_mu held: mdb_dbi_open must not
 * run in two transactions at once), with its counts. OX_NOTFOUND if it has not. */
static int table_find_lmdb(ox_store *s, ox_table *t)
{
    char dname[OX_TABLE_NAME_MAX + 3], ename[OX_TABLE_NAME_MAX + 3];
    dbi_names(t->name, dname, ename);
    MDB_txn *txn;
    MDB_stat st, se;
    int rc = ox__read_begin(s, &txn);
    if (rc != OX_OK)
        return rc;
    if (!(rc = mdb_dbi_open(txn, dname, 0, &t->data)) &&
        !(rc = mdb_dbi_open(txn, ename, MDB_DUPSORT, &t->exp)) &&
        !(rc = mdb_stat(txn, t->data, &st)) && !(rc = mdb_stat(txn, t->exp, &se)))
        rc = mdb_txn_commit(txn); /* keeps the handles; frees the transaction */
    else
        mdb_txn_abort(txn);
    ox__gate_leave(s); /* ox__read_begin's, as ox__read_end would */
    if (rc == MDB_SUCCESS) {
        atomic_store(&t->count, st.ms_entries);
        atomic_store(&t->expires, se.ms_entries);
        atomic_store(&t->lmdb_since, 1);
    }
    return ox__mdb_err(rc);
}

int ox__table_reopen_all(ox_store *s, MDB_txn *txn)
{
    int rc = MDB_SUCCESS;
    for (ox_table *t = s->tables; t && rc == MDB_SUCCESS; t = t->next) {
        if (!atomic_load(&t->lmdb_since))
            continue;
        char dname[OX_TABLE_NAME_MAX + 3], ename[OX_TABLE_NAME_MAX + 3];
        dbi_names(t->name, dname, ename);
        if (!(rc = mdb_dbi_open(txn, dname, 0, &t->data)))
            rc = mdb_dbi_open(txn, ename, MDB_DUPSORT, &t->exp);
    }
    return ox__mdb_err(rc);
}

/* The table named name among those s knows, or NULL; the caller holds tables_mu. */
static ox_table *table_find(ox_store *s, const char *name)
{
    for (ox_table *t = s->tables; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

ox_table *ox__table_find(ox_store *s, const char *name)
{
    pthread_mutex_lock(&s->tables_mu);
    ox_table *t = table_find(s, name);
    pthread_mutex_unlock(&s->tables_mu);
    return t;
}

int ox__table_reload_all(ox_store *s, MDB_txn *txn)
{
    for (ox_table *t = s->tables; t; t = t->next) {
        char dname[OX_TABLE_NAME_MAX + 3], ename[OX_TABLE_NAME_MAX + 3];
        MDB_dbi data, exp;
        MDB_stat st, se;
        dbi_names(t->name, dname, ename);
        int rc = mdb_dbi_open(txn, dname, 0, &data);
        if (rc == MDB_NOTFOUND) {
            atomic_store(&t->lmdb_since, 0);
            atomic_store(&t->count, 0);
            atomic_store(&t->expires, 0);
            continue;
        }
        if (rc || (rc = mdb_dbi_open(txn, ename, MDB_DUPSORT, &exp)) ||
            (rc = mdb_stat(txn, data, &st)) || (rc = mdb_stat(txn, exp, &se)))
            return ox__mdb_err(rc);
        t->data = data;
        t->exp = exp;
        atomic_store(&t->count, st.ms_entries);
        atomic_store(&t->expires, se.ms_entries);
        atomic_store(&t->lmdb_since, 1); /* every reader of the new env comes after */
    }
    return OX_OK;
}

int ox_table_open(ox_store *s, const char *name, ox_table **out)
{
    size_t n = name ? strlen(name) : 0;
    *out = NULL;
    if (n == 0 || n > OX_TABLE_NAME_MAX)
        return OX_EINVAL;
    int rc = OX_OK;
    pthread_mutex_lock(&s->tables_mu);
    ox_table *t = table_find(s, name);
    if (t)
        goto done;
    if (s->ntables >= s->max_tables) {
        rc = OX_EFULL;
        goto done;
    }
    if (!(t = calloc(1, sizeof *t + n + 1))) {
        rc = OX_ENOMEM;
        goto done;
    }
    t->s = s;
    t->id = s->ntables;
    memcpy(t->name, name, n + 1);
    rc = table_find_lmdb(s, t);
    /* A new table: its databases come with its first checkpoint. A read-only store has
     * the tables of LMDB and those its log's records name (the replay opens them), and
     * its default one (empty if it is none of these). */
    if (rc == OX_NOTFOUND && (!s->read_only || s->replaying || !s->deflt))
        rc = OX_OK;
    if (rc) {
        free(t);
        t = NULL;
        goto done;
    }
    t->next = s->tables;
    s->tables = t;
    s->by_id[t->id] = t;
    s->ntables++;
done:
    *out = t;
    pthread_mutex_unlock(&s->tables_mu);
    return rc;
}

const char *ox_table_name(const ox_table *t)
{
    return t->name;
}

ox_store *ox_table_store(const ox_table *t)
{
    return t->s;
}

int ox__table_open_all(ox_store *s, const char *deflt)
{
    return ox_table_open(s, deflt, &s->deflt);
}

void ox__table_free_all(ox_store *s)
{
    ox_table *t = s->tables;
    while (t) {
        ox_table *next = t->next;
        free(t);
        t = next;
    }
    s->tables = s->deflt = NULL;
    s->ntables = 0;
}

int ox_count(ox_table *t, uint64_t *n)
{
    *n = atomic_load(&t->count);
    return OX_OK;
}

int ox_count_expires(ox_table *t, uint64_t *n)
{
    *n = atomic_load(&t->expires);
    return OX_OK;
}

/* ---- the expiry index, over the layers -------------------------------------------------- */

/* Opens a reader and a walk of t's expiry index from its first entry. */
static int exp_walk(ox_table *t, ox_rd *rd, ox_walk **w)
{
    int rc = ox__rd_begin(t->s, rd);
    if (rc)
        return rc;
    if ((rc = ox__walk_open(rd, t, 1, w)) == OX_OK && (rc = ox__walk_seek(*w, NULL, 1)))
        ox__walk_close(*w);
    if (rc)
        ox__rd_end(rd);
    return rc;
}

int ox_next_expiry(ox_table *t, uint64_t *at)
{
    ox_rd rd;
    ox_walk *w;
    MDB_val k, v;
    int rc = exp_walk(t, &rd, &w);
    if (rc)
        return rc;
    rc = ox__walk_next(w, &k, &v);
    if (rc == OX_OK && k.mv_size < 8)
        rc = OX_ECORRUPT;
    if (rc == OX_OK)
        *at = ox__be64_get(k.mv_data);
    ox__walk_close(w);
    ox__rd_end(&rd);
    return rc;
}

/* Adds the remaining ms of up to `max` live entries from the walk's position to *sum,
 * stopping before an expiry time of `stop` or later (0: no bound); counts them in *n. */
static int ttl_run(ox_walk *w, uint64_t now, uint64_t stop, size_t max, long double *sum,
                   size_t *n)
{
    MDB_val k, v;
    int rc = OX_OK;
    for (size_t i = 0; i < max && (rc = ox__walk_next(w, &k, &v)) == OX_OK; i++) {
        if (k.mv_size < 8)
            return OX_ECORRUPT;
        uint64_t at = ox__be64_get(k.mv_data);
        if (stop && at >= stop)
            break;
        *sum += (long double)(at - now);
        (*n)++;
    }
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

int ox_avg_ttl(ox_table *t, size_t max_sample, uint64_t *avg_ms)
{
    enum { PROBES = 16 };
    ox_store *s = t->s;
    ox_rd rd;
    ox_walk *w;
    MDB_val k, v;
    *avg_ms = 0;
    if (max_sample == 0)
        return OX_EINVAL;
    int rc = exp_walk(t, &rd, &w);
    if (rc)
        return rc;
    uint64_t now = ox__now(s), lo, hi;
    unsigned char key[8];
    MDB_val kk = {8, key};
    long double sum = 0;
    size_t n = 0;
    /* Live entries are those at or after now (a key is visible while now <= its time). */
    ox__be64_put(key, now);
    if ((rc = ox__walk_seek(w, &kk, 1)) || (rc = ox__walk_next(w, &k, &v)) || k.mv_size < 8) {
        rc = rc == OX_NOTFOUND || (rc == OX_OK && k.mv_size < 8) ? OX_OK : rc;
        goto out;
    }
    lo = ox__be64_get(k.mv_data);
    if (atomic_load(&t->expires) <= max_sample) { /* small enough: every live one, exactly */
        sum += (long double)(lo - now);
        n++;
        rc = ttl_run(w, now, 0, max_sample, &sum, &n);
        goto out;
    }
    if ((rc = ox__walk_seek(w, NULL, 0)) || (rc = ox__walk_next(w, &k, &v)) || k.mv_size < 8)
        goto out;
    hi = ox__be64_get(k.mv_data);
    /* Too many to read: PROBES runs, starting at expiry times spread evenly between the
     * first and the last, each at most max_sample / PROBES entries and never into the
     * next run. An estimate, like Redis's own sampled avg_ttl. */
    for (int p = 0; p < PROBES && rc == OX_OK; p++) {
        uint64_t from = lo + (uint64_t)((long double)(hi - lo) * p / PROBES);
        uint64_t to = p + 1 < PROBES ? lo + (uint64_t)((long double)(hi - lo) * (p + 1) / PROBES)
                                     : 0;
        if (to == from && to)
            continue;
        ox__be64_put(key, from);
        kk = (MDB_val){8, key};
        size_t per = max_sample / PROBES ? max_sample / PROBES : 1;
        if ((rc = ox__walk_seek(w, &kk, 1)) == OX_OK)
            rc = ttl_run(w, now, to, per, &sum, &n);
    }
out:
    ox__walk_close(w);
    ox__rd_end(&rd);
    if (rc == OX_OK && n)
        *avg_ms = (uint64_t)(sum / (long double)n);
    return rc;
}
