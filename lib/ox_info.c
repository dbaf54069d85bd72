/* ox_info.c — what a maintenance tool asks of a store: its tables, its pages, whether
 * another process has the file open. Read-only; nothing here writes to the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ox_excl.h"
#include "ox_internal.h"

void ox_table_names_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

/* Appends a copy of the table name in the main database's key k ("t:<name>") to *v. */
static int names_push(char ***v, size_t *n, size_t *cap, const MDB_val *k)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return OX_ENOMEM;
        *v = nv;
        *cap = nc;
    }
    char *name = malloc(k->mv_size - 1);
    if (!name)
        return OX_ENOMEM;
    memcpy(name, (const char *)k->mv_data + 2, k->mv_size - 2);
    name[k->mv_size - 2] = '\0';
    (*v)[(*n)++] = name;
    return OX_OK;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ox_table_names(ox_store *s, char ***names, size_t *n)
{
    MDB_txn *txn;
    MDB_cursor *c = NULL;
    MDB_dbi main_dbi;
    MDB_val k, v;
    char **out = NULL;
    size_t cnt = 0, cap = 0;
    *names = NULL;
    *n = 0;
    int rc = ox__read_begin(s, &txn);
    if (rc)
        return rc;
    if ((rc = ox__mdb_err(mdb_dbi_open(txn, NULL, 0, &main_dbi))) ||
        (rc = ox__mdb_err(mdb_cursor_open(txn, main_dbi, &c))))
        goto out;
    /* The main database holds one record per LMDB database: "t:<name>" for a table's
     * data (see ox_internal.h), in bytewise order. */
    k = (MDB_val){2, "t:"};
    int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (mrc == MDB_SUCCESS && k.mv_size > 2 && !memcmp(k.mv_data, "t:", 2)) {
        if ((rc = names_push(&out, &cnt, &cap, &k)))
            goto out;
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = ox__mdb_err(mrc);
    /* Tables opened since, whose databases LMDB gets at their first checkpoint. */
    pthread_mutex_lock(&s->tables_mu);
    for (ox_table *t = s->tables; t && rc == OX_OK; t = t->next) {
        char tn[256];
        int len = snprintf(tn, sizeof tn, "t:%s", t->name);
        MDB_val tk = {(size_t)len, tn};
        if (!atomic_load(&t->lmdb_since))
            rc = names_push(&out, &cnt, &cap, &tk);
    }
    pthread_mutex_unlock(&s->tables_mu);
    if (rc == OX_OK && cnt > 1)
        qsort(out, cnt, sizeof *out, name_cmp);
out:
    if (c)
        mdb_cursor_close(c);
    ox__read_end(s, txn);
    if (rc) {
        ox_table_names_free(out, cnt);
        return rc;
    }
    *names = out;
    *n = cnt;
    return OX_OK;
}

int ox_store_stat(ox_store *s, ox_store_info *info)
{
    MDB_txn *txn;
    MDB_cursor *c = NULL;
    MDB_envinfo ei;
    MDB_stat ms;
    MDB_val k, v;
    memset(info, 0, sizeof *info);
    int rc = ox__read_begin(s, &txn);
    if (rc)
        return rc;
    if ((rc = ox__mdb_err(mdb_env_info(s->env, &ei))) ||
        (rc = ox__mdb_err(mdb_env_stat(s->env, &ms))))
        goto out;
    info->page_size = ms.ms_psize;
    info->map_size = ei.me_mapsize;
    info->txnid = (uint64_t)mdb_txn_id(txn);
    info->pages = (uint64_t)ei.me_last_pgno + 1;
    /* LMDB's free list is database 0: one record per freeing txn, each an ID list whose
     * first word is its length (as mdb_stat -f counts it). */
    if ((rc = ox__mdb_err(mdb_cursor_open(txn, 0, &c))))
        goto out;
    int mrc;
    while ((mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == MDB_SUCCESS) {
        size_t len;
        if (v.mv_size < sizeof len) {
            rc = OX_ECORRUPT;
            goto out;
        }
        memcpy(&len, v.mv_data, sizeof len);
        info->pages_free += len;
    }
    if (mrc != MDB_NOTFOUND)
        rc = ox__mdb_err(mrc);
out:
    if (c)
        mdb_cursor_close(c);
    ox__read_end(s, txn);
    return rc;
}

int ox_store_in_use(const char *path)
{
    ox_excl ex;
    int rc = ox__excl_acquire(path, &ex);
    ox__excl_release(&ex);
    return rc;
}
