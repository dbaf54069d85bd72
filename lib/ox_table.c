/* ox_table.c — named tables: a data database and an expiry index per name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ox_internal.h"
#include "ox_wal.h"

#define OX_TABLE_NAME_MAX 200

/* The names of the two LMDB databases of table `name`. */
static void dbi_names(const char *name, char *dname, char *ename)
{
    snprintf(dname, OX_TABLE_NAME_MAX + 3, "t:%s", name);
    snprintf(ename, OX_TABLE_NAME_MAX + 3, "e:%s", name);
}

/* Opens the two LMDB databases of `name` in one transaction. mdb_dbi_open must not run in
 * two transactions at once, so callers hold tables_mu, and for a writable store wlock
 * (taken before tables_mu, as ox__revive_if_failed does). */
static int ox_table_dbis(ox_store *s, const char *name, MDB_dbi *data, MDB_dbi *exp)
{
    char dname[OX_TABLE_NAME_MAX + 3], ename[OX_TABLE_NAME_MAX + 3];
    dbi_names(name, dname, ename);
    MDB_txn *txn;
    int rc;
    if (s->read_only) {
        ox__gate_enter(s);
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
        if (rc == MDB_SUCCESS) {
            if (!(rc = mdb_dbi_open(txn, dname, 0, data)) &&
                !(rc = mdb_dbi_open(txn, ename, MDB_DUPSORT, exp)))
                rc = mdb_txn_commit(txn);
            else
                mdb_txn_abort(txn);
        }
        ox__gate_leave(s);
        return ox__mdb_err(rc);
    }
    /* This commit bypasses the log: a broken one (maybe with no pin, after a reopen of the
     * env) is checkpointed first. */
    int wrc = s->wal ? ox__wal_ready(s->wal, s->env) : OX_OK;
    if (wrc)
        return wrc;
    for (int tries = 0; tries < 8; tries++) {
        rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc == MDB_SUCCESS) {
            if (!(rc = mdb_dbi_open(txn, dname, MDB_CREATE, data)) &&
                !(rc = mdb_dbi_open(txn, ename, MDB_CREATE | MDB_DUPSORT, exp)))
                rc = mdb_txn_commit(txn);
            else
                mdb_txn_abort(txn);
        }
        if ((rc != MDB_MAP_FULL && rc != MDB_MAP_RESIZED) ||
            ox__grow(s, rc == MDB_MAP_RESIZED) != OX_OK)
            break;
    }
    return ox__space_err(s, ox__mdb_err(rc));
}

int ox__table_reopen_all(ox_store *s, MDB_txn *txn)
{
    int rc = MDB_SUCCESS;
    pthread_mutex_lock(&s->tables_mu);
    for (ox_table *t = s->tables; t && rc == MDB_SUCCESS; t = t->next) {
        char dname[OX_TABLE_NAME_MAX + 3], ename[OX_TABLE_NAME_MAX + 3];
        dbi_names(t->name, dname, ename);
        if (!(rc = mdb_dbi_open(txn, dname, 0, &t->data)))
            rc = mdb_dbi_open(txn, ename, MDB_DUPSORT, &t->exp);
    }
    pthread_mutex_unlock(&s->tables_mu);
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

int ox_table_open(ox_store *s, const char *name, ox_table **out)
{
    size_t n = name ? strlen(name) : 0;
    *out = NULL;
    if (n == 0 || n > OX_TABLE_NAME_MAX)
        return OX_EINVAL;
    /* A known table: tables_mu alone (a replay asks for them inside its transaction). */
    pthread_mutex_lock(&s->tables_mu);
    *out = table_find(s, name);
    pthread_mutex_unlock(&s->tables_mu);
    if (*out)
        return OX_OK;
    /* A new one commits: wlock, then tables_mu (the order ox__revive_if_failed takes). */
    int rc = OX_OK;
    if (!s->read_only)
        pthread_mutex_lock(&s->wlock);
    pthread_mutex_lock(&s->tables_mu);
    ox_table *t = table_find(s, name);
    if (t)
        goto done;
    t = calloc(1, sizeof *t + n + 1);
    if (!t) {
        rc = OX_ENOMEM;
        goto done;
    }
    if ((rc = ox_table_dbis(s, name, &t->data, &t->exp))) {
        free(t);
        t = NULL;
        goto done;
    }
    t->s = s;
    memcpy(t->name, name, n + 1);
    t->next = s->tables;
    s->tables = t;
done:
    *out = t;
    pthread_mutex_unlock(&s->tables_mu);
    if (!s->read_only)
        pthread_mutex_unlock(&s->wlock);
    return rc == OX_IMAPFULL ? OX_EFULL : rc;
}

const char *ox_table_name(const ox_table *t)
{
    return t->name;
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
}

static int ox_count_dbi(ox_table *t, MDB_dbi dbi, uint64_t *n)
{
    MDB_txn *txn;
    MDB_stat st;
    int rc = ox__read_begin(t->s, &txn);
    if (rc)
        return rc;
    rc = ox__mdb_err(mdb_stat(txn, dbi, &st));
    ox__read_end(t->s, txn);
    *n = rc ? 0 : st.ms_entries;
    return rc;
}

int ox_count(ox_table *t, uint64_t *n)
{
    return ox_count_dbi(t, t->data, n);
}

int ox_count_expires(ox_table *t, uint64_t *n)
{
    return ox_count_dbi(t, t->exp, n);
}

int ox_next_expiry(ox_table *t, uint64_t *at)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    int rc = ox__read_begin(t->s, &txn);
    if (rc)
        return rc;
    rc = ox__mdb_err(mdb_cursor_open(txn, t->exp, &c));
    if (rc == OX_OK) {
        rc = ox__mdb_err(mdb_cursor_get(c, &k, &v, MDB_FIRST));
        if (rc == OX_OK && k.mv_size != 8)
            rc = OX_ECORRUPT;
        if (rc == OX_OK)
            *at = ox__be64_get(k.mv_data);
        mdb_cursor_close(c);
    }
    ox__read_end(t->s, txn);
    return rc;
}

/* Adds the remaining ms of up to `max` live entries from the cursor's position to *sum,
 * stopping before an expiry time of `stop` or later (0: no bound); counts them in *n. */
static int ox_ttl_run(MDB_cursor *c, MDB_cursor_op first, MDB_val *k, uint64_t now,
                      uint64_t stop, size_t max, long double *sum, size_t *n)
{
    MDB_val v;
    int rc = mdb_cursor_get(c, k, &v, first);
    for (size_t i = 0; rc == MDB_SUCCESS && i < max; i++) {
        if (k->mv_size != 8)
            return OX_ECORRUPT;
        uint64_t at = ox__be64_get(k->mv_data);
        if (stop && at >= stop)
            break;
        *sum += (long double)(at - now);
        (*n)++;
        rc = mdb_cursor_get(c, k, &v, MDB_NEXT);
    }
    return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? OX_OK : ox__mdb_err(rc);
}

int ox_avg_ttl(ox_table *t, size_t max_sample, uint64_t *avg_ms)
{
    enum { PROBES = 16 };
    ox_store *s = t->s;
    MDB_txn *txn;
    MDB_cursor *c = NULL;
    MDB_stat st;
    *avg_ms = 0;
    if (max_sample == 0)
        return OX_EINVAL;
    int rc = ox__read_begin(s, &txn);
    if (rc)
        return rc;
    uint64_t now = ox__now(s), lo, hi;
    unsigned char key[8];
    MDB_val k = {8, key}, v;
    long double sum = 0;
    size_t n = 0;
    rc = ox__mdb_err(mdb_stat(txn, t->exp, &st));
    if (!rc)
        rc = ox__mdb_err(mdb_cursor_open(txn, t->exp, &c));
    if (rc)
        goto out;
    /* Live entries are those at or after now (a key is visible while now <= its time). */
    ox__be64_put(key, now);
    if (mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) != MDB_SUCCESS || k.mv_size != 8)
        goto out;
    lo = ox__be64_get(k.mv_data);
    if (st.ms_entries <= max_sample) { /* small enough: every live entry, exactly */
        rc = ox_ttl_run(c, MDB_GET_CURRENT, &k, now, 0, max_sample, &sum, &n);
        goto out;
    }
    if (mdb_cursor_get(c, &k, &v, MDB_LAST) != MDB_SUCCESS || k.mv_size != 8)
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
        k = (MDB_val){8, key};
        size_t per = max_sample / PROBES ? max_sample / PROBES : 1;
        rc = ox_ttl_run(c, MDB_SET_RANGE, &k, now, to, per, &sum, &n);
    }
out:
    if (c)
        mdb_cursor_close(c);
    ox__read_end(s, txn);
    if (rc == OX_OK && n)
        *avg_ms = (uint64_t)(sum / (long double)n);
    return rc;
}
