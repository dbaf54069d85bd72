/* dump.c — every live key of a store as RESP commands (the format: usage() in
 * oxistore_check.c), on one read snapshot of a read-only open, so a running server keeps
 * writing meanwhile. The commands are encoded with proto/'s writer: a RESP request is an
 * array of bulk strings, exactly what resp_write_array + resp_write_bulk produce. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "coll_fmt.h"
#include "hash_fmt.h"
#include "num.h"
#include "resp.h"
#include "tool.h"
#include "zset_fmt.h"

#define DUMP_FLUSH (256u << 10) /* bytes buffered before a write */

typedef struct dump {
    resp_buf *out;
    int fd;
    const char *dest;
    int err;            /* sticky: the first write error (errno) */
} dump;

/* Writes everything pending to the descriptor. 0 or -1 (d->err set). */
static int flush_out(dump *d)
{
    struct iovec iov[64];
    size_t bytes;
    int n;
    while (!d->err && (n = resp_buf_iov(d->out, iov, 64, &bytes)) > 0) {
        ssize_t w = writev(d->fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            d->err = errno;
            break;
        }
        resp_buf_consume(d->out, (size_t)w);
    }
    return d->err ? -1 : 0;
}

/* Appends one command of n arguments. 0, or -1 (out of memory or a write error). */
static int emit(dump *d, int n, const ox_val *args)
{
    if (resp_write_array(d->out, (size_t)n)) {
        d->err = ENOMEM;
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (resp_write_bulk(d->out, args[i].data, args[i].len)) {
            d->err = ENOMEM;
            return -1;
        }
    return resp_buf_pending(d->out) >= DUMP_FLUSH ? flush_out(d) : 0;
}

/* dump_coll of a hash that is a listpack (hash_fmt.h), its fields walked by it (closed
 * here): HSET key field value in the order its fields came, so that Redis loads it alike,
 * each value without its number. */
static int dump_listpack(dump *d, const coll_meta *m, ox_iter *it, ox_val args[4])
{
    hfmt_fields fs;
    hfmt_fields_init(&fs, m->count);
    int rc = hfmt_fields_read(&fs, m->order, it);
    ox_iter_close(it);
    for (size_t i = 0; rc == OX_OK && i < fs.n; i++) {
        args[2] = fs.f[i].name;
        args[3] = fs.f[i].value;
        if (emit(d, 4, args))
            rc = OX_EIO;
    }
    hfmt_fields_free(&fs);
    return rc;
}

/* A collection's members, one command each: HSET key field value for a hash, SADD key
 * member for a set, ZADD key score member for a sorted set, RPUSH key element for a list,
 * in order (a listpack hash's: the order its fields came, so that Redis loads it alike; a
 * value is borrowed from the iterator until its next step). OX_OK,
 * OX_ECORRUPT if members is missing, or the store's error (a write error: OX_EIO with
 * d->err set). */
static int dump_coll(dump *d, ox_snapshot *snap, ox_table *members, int kind,
                     const ox_val *key, const ox_val *meta)
{
    coll_meta m;
    int rc = members ? coll_meta_decode(meta->data, meta->len, &m) : OX_ECORRUPT;
    if (rc)
        return rc;
    unsigned char p[COLL_KEY_PREFIX];
    ox_val prefix = {p, coll_member_key(p, m.id, kind == DB_LIST ? COLL_SUB_LIST : COLL_SUB_FIELD,
                                        NULL, 0)}, k, v;
    ox_val args[4] = {kind == DB_HASH ? (ox_val){"HSET", 4} : kind == DB_SET ? (ox_val){"SADD", 4}
                      : kind == DB_ZSET ? (ox_val){"ZADD", 4} : (ox_val){"RPUSH", 5}, *key};
    int nargs = kind == DB_SET || kind == DB_LIST ? 3 : 4;
    char num[32];
    ox_iter *it;
    if ((rc = ox_snapshot_prefix(snap, members, &prefix, 0, &it)))
        return rc;
    if (kind == DB_HASH && m.order)
        return dump_listpack(d, &m, it, args);
    while ((rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        args[2] = (ox_val){(const char *)k.data + COLL_KEY_PREFIX, k.len - COLL_KEY_PREFIX};
        args[3] = v;
        if (kind == DB_LIST) /* RPUSH key element */
            args[2] = v;
        double score;
        if (kind == DB_ZSET && zfmt_field(v.data, v.len, &score, NULL)) { /* ZADD key score member */
            args[3] = args[2];
            args[2] = (ox_val){num, (size_t)num_d2str(num, score, 0)};
        }
        if (emit(d, nargs, args)) {
            rc = OX_EIO;
            break;
        }
    }
    ox_iter_close(it);
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

/* Dumps database db from table t on snap; *done counts keys. OX_OK or the store's error
 * (a write error: OX_EIO with d->err set). */
static int dump_db(dump *d, ox_snapshot *snap, ox_table *t, ox_table *members, int db,
                   uint64_t *done)
{
    ox_iter *it;
    ox_val k, v;
    int rc = ox_snapshot_range(snap, t, NULL, NULL, 0, &it), selected = 0;
    while (rc == OX_OK && (rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        uint64_t at = 0;
        rc = ox_snapshot_expire_time(snap, t, k.data, k.len, &at);
        if (rc == OX_NOTFOUND) { /* expired since the iterator passed it */
            rc = OX_OK;
            continue;
        }
        if (rc != OX_OK && rc != OX_NOTTL)
            break;
        char num[24], ms[24];
        if (!selected) {
            ox_val sel[2] = {{"SELECT", 6}, {num, (size_t)snprintf(num, sizeof num, "%d", db)}};
            if (emit(d, 2, sel)) {
                rc = OX_EIO;
                break;
            }
            selected = 1;
        }
        ox_val msv = {ms, (size_t)snprintf(ms, sizeof ms, "%" PRIu64, at)};
        int ttl = rc == OX_OK, kind = (int)ox_iter_kind(it);
        if (kind == DB_STRING) {
            ox_val set[5] = {{"SET", 3}, k, v, {"PXAT", 4}, msv};
            rc = emit(d, ttl ? 5 : 3, set) ? OX_EIO : OX_OK;
        } else if (kind == DB_HASH || kind == DB_SET || kind == DB_ZSET || kind == DB_LIST) {
            ox_val pexpireat[3] = {{"PEXPIREAT", 9}, k, msv};
            rc = dump_coll(d, snap, members, kind, &k, &v);
            if (rc == OX_OK && ttl && emit(d, 3, pexpireat))
                rc = OX_EIO;
        } else {
            rc = OX_EUNSUPPORTED;
        }
        if (rc != OX_OK)
            break;
        progress_set(++*done);
    }
    ox_iter_close(it);
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

int tool_dump(const char *path, const char *dest)
{
    ox_store *s;
    ox_snapshot *snap = NULL;
    tool_dbs dbs;
    ox_table **members = NULL;
    dump d = {.fd = -1, .dest = dest};
    char tmp[4096];
    int rc, to_stdout = !strcmp(dest, "-"), ret = TOOL_FAIL, tmp_made = 0;
    uint64_t total = 0, done = 0;

    if (tool_open(path, 1, &s))
        return TOOL_FAIL;
    if (tool_dbs_load(s, &dbs)) {
        ox_store_close(s);
        return TOOL_FAIL;
    }
    if ((rc = resp_buf_new(&d.out, 2, NULL))) {
        tool_err("dump: %s", resp_strerror(rc));
        goto out;
    }
    /* To a file: written beside it, renamed when complete, so DEST is whole or absent. */
    if (to_stdout) {
        d.fd = STDOUT_FILENO;
    } else if (snprintf(tmp, sizeof tmp, "%s.tmp", dest) >= (int)sizeof tmp ||
               (d.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        tool_err("dump: cannot create %s.tmp: %s", dest, strerror(errno));
        goto out;
    } else {
        tmp_made = 1;
    }
    for (int i = 0; i < dbs.n; i++) {
        uint64_t n = 0;
        if (dbs.db[i] && ox_count(dbs.db[i], &n) == OX_OK)
            total += n;
    }
    /* The member tables are opened first: a snapshot sees the tables opened before it. */
    if (!(members = calloc((size_t)dbs.n + 1, sizeof *members))) {
        tool_err("dump: %s", ox_strerror(OX_ENOMEM));
        goto out;
    }
    for (int i = 0; i < dbs.n; i++)
        if (dbs.db[i] && tool_members_open(s, dbs.db[i], &members[i]))
            goto out;
    if ((rc = ox_snapshot_begin(s, &snap))) {
        tool_err("dump %s: %s", path, ox_strerror(rc));
        goto out;
    }
    progress_begin("dumping:", total, "keys");
    for (int i = 0; rc == OX_OK && i < dbs.n; i++)
        if (dbs.db[i])
            rc = dump_db(&d, snap, dbs.db[i], members[i], i, &done);
    if (rc == OX_OK)
        flush_out(&d);
    progress_end();
    ox_snapshot_end(snap);
    if (d.err) {
        tool_err("dump: writing %s: %s", to_stdout ? "stdout" : dest, strerror(d.err));
        goto out;
    }
    if (rc) {
        tool_err("dump %s: %s", path, ox_strerror(rc));
        goto out;
    }
    if (!to_stdout) {
        int e = fsync(d.fd) ? errno : 0;
        if (close(d.fd) && !e)
            e = errno;
        d.fd = -1;
        if (!e && rename(tmp, dest))
            e = errno;
        if (e) {
            tool_err("dump: writing %s: %s", dest, strerror(e));
            goto out;
        }
        tmp_made = 0;
        printf("%s: dumped %" PRIu64 " keys to %s\n", path, done, dest);
    }
    ret = TOOL_OK;
out:
    if (!to_stdout && d.fd >= 0)
        close(d.fd);
    if (tmp_made)
        unlink(tmp);
    resp_buf_free(d.out);
    free(members);
    tool_dbs_free(&dbs);
    rc = ox_store_close(s);
    if (rc && ret == TOOL_OK) {
        tool_err("dump %s: %s", path, ox_strerror(rc));
        ret = TOOL_FAIL;
    }
    return ret;
}
