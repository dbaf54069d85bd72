/* dbs.c — opening a server's store file, and which table holds which database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coll_fmt.h"
#include "dbmap_fmt.h"
#include "tool.h"

/* Enough for any server's databases (it asks for databases + 4 tables). */
#define TOOL_MAX_TABLES 1024

int tool_open(const char *path, int read_only, ox_store **out)
{
    ox_options o;
    ox_options_init(&o);
    o.table = "0";
    o.max_tables = TOOL_MAX_TABLES;
    o.read_only = read_only;
    int rc = ox_store_open(path, &o, out);
    if (rc == OX_NOTFOUND && read_only && access(path, F_OK) == 0) {
        o.table = NULL; /* a file written by the library itself, not by the server */
        rc = ox_store_open(path, &o, out);
    }
    if (rc == OX_OK)
        return 0;
    if (rc == OX_NOTFOUND)
        tool_err("%s: no such store file", path);
    else if (rc == OX_EBUSY)
        tool_err("%s: %s (stop the server first)", path, ox_strerror(rc));
    else if (rc == OX_ERECOVER)
        tool_err("%s: %s (%s)", path, ox_strerror(rc), TOOL_RECOVER_HINT);
    else
        tool_err("%s: cannot open: %s", path, ox_strerror(rc));
    return -1;
}

static int grow(tool_dbs *d, int n)
{
    if (n <= d->n)
        return 0;
    ox_table **db = realloc(d->db, (size_t)n * sizeof *db);
    if (!db) {
        tool_err("%s", ox_strerror(OX_ENOMEM));
        return -1;
    }
    memset(db + d->n, 0, (size_t)(n - d->n) * sizeof *db);
    d->db = db;
    d->n = n;
    return 0;
}

/* The number of the table holding db, from a fresh snapshot; -1 after printing why. */
static int table_of(ox_store *s, tool_dbs *d, int db)
{
    ox_snapshot *snap;
    int rc = ox_snapshot_begin(s, &snap);
    if (rc) {
        tool_err("cannot read the database map: %s", ox_strerror(rc));
        return -1;
    }
    int t = dbmap_table_number(snap, d->map, db);
    ox_snapshot_end(snap);
    if (t < 0)
        tool_err("the database map entry of db %d is malformed", db);
    return t;
}

int tool_db_open(ox_store *s, tool_dbs *d, int db, ox_table **out)
{
    if (db < d->n && d->db[db]) {
        *out = d->db[db];
        return 0;
    }
    int t = table_of(s, d, db);
    if (t < 0 || grow(d, db + 1))
        return -1;
    char name[16];
    snprintf(name, sizeof name, "%d", t);
    int rc = ox_table_open(s, name, &d->db[db]);
    if (rc) {
        tool_err("cannot open db %d (table \"%s\"): %s", db, name, ox_strerror(rc));
        return -1;
    }
    *out = d->db[db];
    return 0;
}

int tool_dbs_load(ox_store *s, tool_dbs *d)
{
    char **names;
    size_t nn;
    memset(d, 0, sizeof *d);
    int rc = ox_table_names(s, &names, &nn), maxnum = -1, err = 0;
    if (rc) {
        tool_err("cannot list the tables: %s", ox_strerror(rc));
        return -1;
    }
    for (size_t i = 0; i < nn; i++) {
        int num = dbmap_name_number(names[i], strlen(names[i]));
        if (num > maxnum && num < TOOL_MAX_DB)
            maxnum = num;
        if (!strcmp(names[i], DBMAP_TABLE) && (rc = ox_table_open(s, DBMAP_TABLE, &d->map))) {
            tool_err("cannot open the database map: %s", ox_strerror(rc));
            err = 1;
        }
    }
    /* seen[t]: 1 the table "t" exists, 2 a database is in it. A swap permutes the names
     * of existing tables, so each holds exactly one database below 1 + the largest. */
    char *seen = calloc((size_t)maxnum + 2, 1);
    if (!seen) {
        tool_err("%s", ox_strerror(OX_ENOMEM));
        err = 1;
    }
    for (size_t i = 0; seen && i < nn; i++) {
        int num = dbmap_name_number(names[i], strlen(names[i]));
        if (num >= 0 && num <= maxnum)
            seen[num] = 1;
    }
    for (int db = 0; !err && db <= maxnum; db++) {
        int t = table_of(s, d, db);
        char name[16];
        snprintf(name, sizeof name, "%d", t);
        if (t < 0) {
            err = 1;
        } else if (t > maxnum || !seen[t]) {
            continue; /* its table was never created: an empty database */
        } else if (seen[t] == 2) {
            tool_err("the database map names table \"%d\" twice", t);
            err = 1;
        } else if ((seen[t] = 2) && grow(d, db + 1)) {
            err = 1;
        } else if ((rc = ox_table_open(s, name, &d->db[db]))) {
            tool_err("cannot open db %d (table \"%s\"): %s", db, name, ox_strerror(rc));
            err = 1;
        }
    }
    free(seen);
    ox_table_names_free(names, nn);
    if (err) {
        tool_dbs_free(d);
        return -1;
    }
    return 0;
}

int tool_members_open(ox_store *s, ox_table *db, ox_table **out)
{
    char name[32];
    *out = NULL;
    if (coll_members_name(ox_table_name(db), name, sizeof name)) {
        tool_err("table name too long: %s", ox_table_name(db));
        return -1;
    }
    int rc = ox_table_open(s, name, out);
    if (rc == OX_NOTFOUND)
        return 0;
    if (rc)
        tool_err("cannot open table \"%s\": %s", name, ox_strerror(rc));
    return rc ? -1 : 0;
}

void tool_dbs_free(tool_dbs *d)
{
    free(d->db);
    memset(d, 0, sizeof *d);
}
