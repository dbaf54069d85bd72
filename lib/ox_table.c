/* ox_table.c — named tables: a data database and an expiry index per name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ox_internal.h"

#define OX_TABLE_NAME_MAX 200

/* Opens the two LMDB databases of `name` in one transaction. mdb_dbi_open must not run in
 * two transactions at once, so callers hold tables_mu. */
static int ox_table_dbis(ox_store *s, const char *name, MDB_dbi *data, MDB_dbi *exp)
{
    char dname[OX_TABLE_NAME_MAX + 3], ename[OX_TABLE_NAME_MAX + 3];
    snprintf(dname, sizeof dname, "t:%s", name);
    snprintf(ename, sizeof ename, "e:%s", name);
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
    pthread_mutex_lock(&s->wlock);
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
    pthread_mutex_unlock(&s->wlock);
    return ox__mdb_err(rc);
}

int ox_table_open(ox_store *s, const char *name, ox_table **out)
{
    size_t n = name ? strlen(name) : 0;
    *out = NULL;
    if (n == 0 || n > OX_TABLE_NAME_MAX)
        return OX_EINVAL;
    int rc = OX_OK;
    pthread_mutex_lock(&s->tables_mu);
    for (ox_table *t = s->tables; t; t = t->next) {
        if (strcmp(t->name, name) == 0) {
            *out = t;
            goto done;
        }
    }
    ox_table *t = calloc(1, sizeof *t + n + 1);
    if (!t) {
        rc = OX_ENOMEM;
        goto done;
    }
    if ((rc = ox_table_dbis(s, name, &t->data, &t->exp))) {
        free(t);
        goto done;
    }
    t->s = s;
    memcpy(t->name, name, n + 1);
    t->next = s->tables;
    s->tables = t;
    *out = t;
done:
    pthread_mutex_unlock(&s->tables_mu);
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
