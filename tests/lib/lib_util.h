/* Helpers shared by the liboxistore tests: scratch paths, a fake clock, quick open. */
#ifndef OX_LIB_UTIL_H
#define OX_LIB_UTIL_H

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "oxistore.h"
#include "test.h"

/* A path under the test's scratch directory (t_dir). Static buffer rotation: up to 4
 * results live at once. */
static inline const char *u_path(const char *name)
{
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ & 3];
    snprintf(b, sizeof bufs[0], "%s/%s", t_dir(), name);
    return b;
}

/* key's value in t as a string (at most 63 bytes; a static buffer, valid until the next
 * call), or "(error N)" (OX_NOTFOUND...): for T_EQ_STR. */
static inline const char *u_value(ox_table *t, const char *key)
{
    static char buf[64];
    void *v;
    size_t vlen;
    int rc = ox_get(t, key, strlen(key), &v, &vlen);
    if (rc != OX_OK) {
        snprintf(buf, sizeof buf, "(error %d)", rc);
        return buf;
    }
    snprintf(buf, sizeof buf, "%.*s", (int)vlen, (const char *)v);
    free(v);
    return buf;
}

typedef struct u_clock {
    uint64_t now;
} u_clock;

static inline uint64_t u_clock_fn(void *ctx)
{
    return ((u_clock *)ctx)->now;
}

/* Opens name under the scratch dir with a fake clock (clk may be NULL for real time). */
static inline int u_open(const char *name, u_clock *clk, ox_store **s)
{
    ox_options o;
    ox_options_init(&o);
    if (clk) {
        o.clock = u_clock_fn;
        o.clock_ctx = clk;
    }
    return ox_store_open(u_path(name), &o, s);
}

/* Formats a key into buf and returns its length (call it as a statement of its own: an
 * argument list does not order the formatting before a use of buf). */
/* Forks a child that keeps the LMDB file at path open (read-only: any opener holds
 * LMDB's lock) until the parent closes *release. Returns the child's pid once the file is
 * open, or -1. The parent then closes *release and waits for the pid. */
static inline pid_t u_hold_open(const char *path, int *release)
{
    int up[2], down[2];
    char c;
    if (pipe(up))
        return -1;
    if (pipe(down)) {
        close(up[0]);
        close(up[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        MDB_env *env;
        close(up[0]);
        close(down[1]);
        if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 1024) ||
            mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY, 0644) ||
            write(up[1], "r", 1) != 1)
            _exit(1);
        while (read(down[0], &c, 1) > 0)
            ;
        mdb_env_close(env);
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    if (pid < 0 || read(up[0], &c, 1) != 1) {
        close(up[0]);
        close(down[1]);
        return -1;
    }
    close(up[0]);
    *release = down[1];
    return pid;
}

/* Writes, with LMDB itself, the frame of an older format's file at path: the meta table
 * recording format version `format` and the default table's data and expiry tables, in a
 * write transaction left open for the caller's records (commit it, then close env).
 * 0, or an LMDB error. */
static inline int u_raw_file(const char *path, unsigned format, MDB_env **env, MDB_txn **txn,
                             MDB_dbi *data, MDB_dbi *exp)
{
    MDB_dbi meta;
    unsigned char f[4] = {0, 0, 0, (unsigned char)format};
    MDB_val k = {6, "format"}, v = {4, f};
    int rc = mdb_env_create(env);
    if (rc)
        return rc;
    if ((rc = mdb_env_set_maxdbs(*env, 64)) ||
        (rc = mdb_env_open(*env, path, MDB_NOSUBDIR, 0644)) ||
        (rc = mdb_txn_begin(*env, NULL, 0, txn))) {
        mdb_env_close(*env);
        return rc;
    }
    if ((rc = mdb_dbi_open(*txn, "ox:meta", MDB_CREATE, &meta)) ||
        (rc = mdb_dbi_open(*txn, "t:default", MDB_CREATE, data)) ||
        (rc = mdb_dbi_open(*txn, "e:default", MDB_CREATE | MDB_DUPSORT, exp)) ||
        (rc = mdb_put(*txn, meta, &k, &v, 0))) {
        mdb_txn_abort(*txn);
        mdb_env_close(*env);
    }
    return rc;
}

#define U_KEY(buf, fmt, ...) ((size_t)snprintf((buf), sizeof(buf), (fmt), __VA_ARGS__))

#endif
