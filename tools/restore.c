/* restore.c — applies a file of RESP commands (what redis-cli --pipe sends; dump.c
 * writes them) to a store file, offline: parsed with proto/'s request parser, so inline
 * lines are read exactly as redis-server reads them too. The commands it knows and the
 * transaction rule are in usage() (oxistore_check.c); SET's and the EXPIRE family's
 * arguments are read by the server's own code (keyargs.c), with Redis 7.0's semantics. */
#include <errno.h>
#include <fcntl.h>
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "coll_fmt.h"
#include "dbmap_fmt.h"
#include "hash_fmt.h"
#include "keyargs.h"
#include "resp.h"
#include "tool.h"
#include "zset_fmt.h"

#define TXN_CMDS 10000          /* commands per transaction, at most */
#define TXN_BYTES (4u << 20)    /* bytes of commands per transaction, at most */

typedef struct rs {
    ox_store *s;
    tool_dbs dbs;
    ox_txn *txn;
    ox_table *cur;              /* the selected database's table */
    ox_table *members;          /* ... and its member table (coll_fmt.h) */
    uint64_t ncmd;              /* number of the command being applied (from 1) */
    uint64_t applied;           /* commands committed */
    uint64_t in_txn, txn_bytes;
    char why[512];              /* why the command failed */
} rs;

static int fail(rs *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(rs *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    return -1;
}

static int store_fail(rs *r, int rc)
{
    return fail(r, "%s", ox_strerror(rc));
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int is(const resp_arg *a, const char *s)
{
    return a->len == strlen(s) && !strncasecmp(a->ptr, s, a->len);
}

static int commit(rs *r)
{
    if (!r->txn)
        return 0;
    int rc = ox_txn_commit(r->txn);
    r->txn = NULL;
    r->in_txn = r->txn_bytes = 0;
    if (rc)
        return fail(r, "commit failed: %s", ox_strerror(rc));
    r->applied = r->ncmd - 1; /* the current command is not applied yet */
    return 0;
}

static int begin(rs *r)
{
    int rc = r->txn ? OX_OK : ox_txn_begin(r->s, &r->txn);
    return rc ? store_fail(r, rc) : 0;
}

static int select_table(rs *r, ox_table *t);

static int do_select(rs *r, int argc, const resp_arg *argv)
{
    if (argc != 2)
        return fail(r, "wrong number of arguments for 'select' command");
    int db = dbmap_name_number(argv[1].ptr, argv[1].len);
    if (db < 0 || db >= TOOL_MAX_DB)
        return fail(r, "DB index is out of range");
    /* Opening a table needs no write transaction open. */
    ox_table *t = db < r->dbs.n ? r->dbs.db[db] : NULL;
    if ((!t && (commit(r) || tool_db_open(r->s, &r->dbs, db, &t))) || select_table(r, t))
        return r->why[0] ? -1 : fail(r, "cannot select db %d", db);
    return 0;
}

/* Makes t the selected table, with its member table (opened outside a transaction). */
static int select_table(rs *r, ox_table *t)
{
    ox_table *m;
    if (t == r->cur)
        return 0;
    if (commit(r) || tool_members_open(r->s, t, &m))
        return -1;
    int rc = r->dbs.map ? OX_OK : ox_table_open(r->s, DBMAP_TABLE, &r->dbs.map);
    if (rc) /* the map holds the collections' id counter */
        return store_fail(r, rc);
    r->cur = t;
    r->members = m;
    return 0;
}

/* One ZADD pair: score s (Redis's float syntax) for member m of sorted set z (counted in
 * it). OX_OK, the store's error, or -1 after failing the command (a bad score). */
static int zadd_one(rs *r, zfmt_set *z, int *converted, const resp_arg *s, const resp_arg *m)
{
    char buf[64];
    double score, old = 0;
    char *end;
    if (s->len == 0 || s->len >= sizeof buf)
        return fail(r, "value is not a valid float");
    memcpy(buf, s->ptr, s->len);
    buf[s->len] = '\0';
    score = strtod(buf, &end);
    if (*end || isnan(score) || isspace((unsigned char)buf[0]))
        return fail(r, "value is not a valid float");
    unsigned char small[256], *mk = small;
    size_t need = COLL_KEY_PREFIX + m->len;
    if (need > sizeof small && !(mk = malloc(need)))
        return OX_ENOMEM;
    size_t ml = coll_member_key(mk, z->id, COLL_SUB_FIELD, m->ptr, m->len);
    ox_val v;
    unsigned level = 0;
    int rc = ox_txn_get(r->txn, r->members, mk, ml, &v);
    int had = rc == OX_OK && zfmt_field(v.data, v.len, &old, &level);
    if (mk != small)
        free(mk);
    if (rc != OX_OK && rc != OX_NOTFOUND)
        return rc;
    if (!had && zfmt_converts(z->count, m->len)) /* as Redis converts it (coll_fmt.h) */
        *converted = 1;
    if (score == 0 && !*converted) /* a listpack holds -0 as 0 */
        score = 0.0;
    rc = zfmt_put(r->txn, z, m->ptr, m->len, had, old, level, score);
    z->count += !had;
    return rc;
}

/* HSET key field value [field value ...] (type DB_HASH), SADD key member [member ...]
 * (DB_SET), ZADD key score member [score member ...] (DB_ZSET, without options) and RPUSH
 * key element [element ...] (DB_LIST): the server's effect (a new collection, or members added to the existing one,
 * its expiry time kept). */
static int do_coll_add(rs *r, int argc, const resp_arg *argv, int type)
{
    int step = type == DB_SET || type == DB_LIST ? 1 : 2;
    const char *name = type == DB_HASH ? "hset" : type == DB_SET ? "sadd"
                     : type == DB_ZSET ? "zadd" : "rpush";
    if (argc < 2 + step || (argc - 2) % step)
        return fail(r, "wrong number of arguments for '%s' command", name);
    if (begin(r))
        return -1;
    const resp_arg *k = &argv[1];
    ox_val v;
    unsigned kind;
    coll_meta cm = {0};
    int rc = ox_txn_read(r->txn, r->cur, k->ptr, k->len, &v, &kind, NULL), fresh = 0;
    if (rc == OX_OK && (int)kind != type)
        return fail(r, "WRONGTYPE Operation against a key holding the wrong kind of value");
    if (rc == OX_OK && (rc = coll_meta_decode(v.data, v.len, &cm)) == OX_OK)
        cm.converted = coll_converted(type, &cm);
    else if (rc == OX_NOTFOUND && (fresh = 1))
        rc = coll_new_id(r->txn, r->dbs.map, &cm.id);
    if (type == DB_ZSET) /* its bounds are hints: none is always right */
        cm.zb = (coll_bounds){.tight = 0};
    uint64_t id = cm.id, count = cm.count;
    int64_t head = cm.head;
    if (type == DB_HASH && fresh) /* a new hash is a listpack, as in Redis (hash_fmt.h) */
        cm.order = 1;
    hfmt_hash h = {r->members, id, count, type == DB_HASH ? cm.order : 0};
    zfmt_set z = {r->members, id, count, cm.levels, ZFMT_FANOUT, NULL};
    for (int i = 2; rc == OX_OK && i < argc; i += step) {
        if (type == DB_ZSET) {
            rc = zadd_one(r, &z, &cm.converted, &argv[i], &argv[i + 1]);
            count = z.count;
            continue;
        }
        if (type == DB_LIST) { /* RPUSH: at the position after the last */
            unsigned char lk[COLL_KEY_PREFIX + 8];
            coll_member_key(lk, id, COLL_SUB_LIST, NULL, 0);
            coll_pos_put(lk + COLL_KEY_PREFIX, head + (int64_t)count++);
            rc = ox_txn_put(r->txn, r->members, lk, sizeof lk, argv[i].ptr, argv[i].len, 0, 0);
            continue;
        }
        if (type == DB_HASH) { /* HSET: its field, numbered in a listpack */
            int added;
            rc = hfmt_set(r->txn, &h, argv[i].ptr, argv[i].len, argv[i + 1].ptr,
                          argv[i + 1].len, &added);
            count = h.count;
            continue;
        }
        unsigned char small[256], *mk = small;
        size_t need = COLL_KEY_PREFIX + argv[i].len;
        if (need > sizeof small && !(mk = malloc(need)))
            return store_fail(r, OX_ENOMEM);
        size_t ml = coll_member_key(mk, id, COLL_SUB_FIELD, argv[i].ptr, argv[i].len);
        rc = ox_txn_put(r->txn, r->members, mk, ml, "", 0, 0, OX_PUT_NOOVERWRITE);
        if (rc == OX_OK && coll_set_converts(count, argv[i].ptr, argv[i].len))
            cm.converted = 1; /* as Redis converts its intset (coll_fmt.h) */
        count += rc == OX_OK;
        if (rc == OX_ECONFLICT) /* SADD of a member it has */
            rc = OX_OK;
        if (mk != small)
            free(mk);
    }
    cm.order = h.order;
    if (rc == -1)
        return -1;
    cm.count = count;
    cm.levels = z.levels;
    if (rc == OX_OK)
        rc = coll_store(r->txn, r->cur, r->members, k->ptr, k->len, type, &cm, fresh, 0,
                        OX_PUT_KEEPTTL);
    return rc ? store_fail(r, rc) : 0;
}

/* Fails the command with keyargs's error text (Redis's words). */
static int args_fail(rs *r, int code, const char *cmd, const resp_arg *opt)
{
    char text[256];
    keyargs_errtext(code, cmd, opt, text, sizeof text);
    return fail(r, "%s", text);
}

/* SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT t|KEEPTTL], with the server's grammar. */
static int do_set(rs *r, int argc, const resp_arg *argv)
{
    int flags, exp_arg, rc;
    long long at = 0;
    if (argc < 3)
        return fail(r, "wrong number of arguments for 'set' command");
    if ((rc = keyargs_set(argv, argc, 3, 0, &flags, &exp_arg)) ||
        (exp_arg && (rc = keyargs_set_expire(&argv[exp_arg], flags & SET_EXPIRES,
                                             (long long)now_ms(), &at))))
        return args_fail(r, rc, "set", NULL);
    if (begin(r))
        return -1;
    const resp_arg *k = &argv[1], *v = &argv[2];
    if (at && at <= (long long)now_ms()) {
        /* An absolute time already past: the key ends up absent, if SET would write. */
        rc = ox_txn_contains(r->txn, r->cur, k->ptr, k->len);
        if (rc != OX_OK && rc != OX_NOTFOUND)
            return store_fail(r, rc);
        if (rc == OX_OK && !(flags & SET_NX) &&
            (rc = ox_txn_delete(r->txn, r->cur, k->ptr, k->len)))
            return store_fail(r, rc);
        return 0;
    }
    unsigned pf = (flags & SET_NX ? OX_PUT_NOOVERWRITE : 0) |
                  (flags & SET_XX ? OX_PUT_ONLYIFEXISTS : 0) |
                  (flags & SET_KEEPTTL ? OX_PUT_KEEPTTL : 0);
    rc = ox_txn_put(r->txn, r->cur, k->ptr, k->len, v->ptr, v->len, (uint64_t)at, pf);
    if (rc == OX_ECONFLICT || (rc == OX_NOTFOUND && (flags & SET_XX)))
        rc = OX_OK; /* NX on an existing key, XX on a missing one: not set, as in Redis */
    if (rc == OX_EKEYTOOLONG)
        return fail(r, "key of %zu bytes: %s (at most %zu)", k->len, ox_strerror(rc),
                    ox_key_max(r->s));
    return rc ? store_fail(r, rc) : 0;
}

static int do_del(rs *r, int argc, const resp_arg *argv)
{
    if (argc < 2)
        return fail(r, "wrong number of arguments for 'del' command");
    if (begin(r))
        return -1;
    for (int i = 1; i < argc; i++) {
        int rc = ox_txn_delete(r->txn, r->cur, argv[i].ptr, argv[i].len);
        if (rc != OX_OK && rc != OX_NOTFOUND && rc != OX_EKEYTOOLONG)
            return store_fail(r, rc);
    }
    return 0;
}

/* EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX|XX|GT|LT] (name: the command in
 * lower case), with the server's grammar: a time not in the future deletes the key. */
static int do_expire(rs *r, int argc, const resp_arg *argv, const char *name, int seconds,
                     int relative)
{
    int flags = 0, bad = 0;
    long long when;
    if (argc < 3)
        return fail(r, "wrong number of arguments for '%s' command", name);
    int rc = keyargs_expire_options(argv, argc, &flags, &bad);
    if (rc == KEYARGS_OK)
        rc = keyargs_expire_time(&argv[2], seconds, relative ? (long long)now_ms() : 0, &when);
    if (rc)
        return args_fail(r, rc, name, &argv[bad]);
    if (begin(r))
        return -1;
    const resp_arg *k = &argv[1];
    uint64_t cur = 0;
    rc = ox_txn_expire_time(r->txn, r->cur, k->ptr, k->len, &cur);
    if (rc == OX_NOTFOUND || rc == OX_EKEYTOOLONG)
        return 0;
    if (rc != OX_OK && rc != OX_NOTTL)
        return store_fail(r, rc);
    if (keyargs_expire_refused(flags, rc == OX_OK, (long long)cur, when))
        return 0;
    if (when <= (long long)now_ms())
        rc = ox_txn_delete(r->txn, r->cur, k->ptr, k->len);
    else
        rc = ox_txn_expire_at(r->txn, r->cur, k->ptr, k->len, (uint64_t)when);
    return rc == OX_OK || rc == OX_NOTFOUND ? 0 : store_fail(r, rc);
}

static int do_flush(rs *r, int argc, const resp_arg *argv, int all)
{
    if (argc > 2 || (argc == 2 && !is(&argv[1], "async") && !is(&argv[1], "sync")))
        return fail(r, "syntax error");
    /* each database with its member table, as the server's FLUSHDB: those not open yet
     * are opened outside a transaction, so what came before is committed first */
    ox_table **mt = r->dbs.n ? calloc((size_t)r->dbs.n, sizeof *mt) : NULL;
    if (r->dbs.n && !mt)
        return store_fail(r, OX_ENOMEM);
    int rc = OX_OK, failed = 0;
    for (int i = 0; !failed && i < r->dbs.n; i++) {
        ox_table *t = r->dbs.db[i];
        if (t == r->cur)
            mt[i] = r->members;
        else if (t && all)
            failed = commit(r) || tool_members_open(r->s, t, &mt[i]);
    }
    if (!failed && !(failed = begin(r)))
        for (int i = 0; rc == OX_OK && i < r->dbs.n; i++) {
            ox_table *t = r->dbs.db[i];
            if (!t || !(all || t == r->cur))
                continue;
            rc = ox_txn_clear(r->txn, t);
            if (rc == OX_OK && mt[i])
                rc = ox_txn_clear(r->txn, mt[i]);
        }
    free(mt);
    if (failed)
        return -1;
    return rc ? store_fail(r, rc) : 0;
}

static int apply(rs *r, const resp_cmd *c)
{
    const resp_arg *a = c->argv;
    int n = c->argc;
    if (is(a, "select"))
        return do_select(r, n, a);
    if (is(a, "set"))
        return do_set(r, n, a);
    if (is(a, "hset"))
        return do_coll_add(r, n, a, DB_HASH);
    if (is(a, "sadd"))
        return do_coll_add(r, n, a, DB_SET);
    if (is(a, "zadd"))
        return do_coll_add(r, n, a, DB_ZSET);
    if (is(a, "rpush"))
        return do_coll_add(r, n, a, DB_LIST);
    if (is(a, "del") || is(a, "unlink"))
        return do_del(r, n, a);
    if (is(a, "expire"))
        return do_expire(r, n, a, "expire", 1, 1);
    if (is(a, "pexpire"))
        return do_expire(r, n, a, "pexpire", 0, 1);
    if (is(a, "expireat"))
        return do_expire(r, n, a, "expireat", 1, 0);
    if (is(a, "pexpireat"))
        return do_expire(r, n, a, "pexpireat", 0, 0);
    if (is(a, "flushdb"))
        return do_flush(r, n, a, 0);
    if (is(a, "flushall"))
        return do_flush(r, n, a, 1);
    return fail(r, "unknown command '%.*s'", (int)(a->len > 64 ? 64 : a->len), a->ptr);
}

int tool_restore(const char *path, const char *src)
{
    rs r = {0};
    resp_parser *p = NULL;
    int fd = -1, rc, ret = TOOL_FAIL, from_stdin = !strcmp(src, "-");
    uint64_t off = 0;
    struct stat st;
    char where[96] = "";

    if (access(path, F_OK) == 0 && (rc = ox_store_in_use(path))) {
        tool_err("restore %s: refused: %s (stop the server first)", path, ox_strerror(rc));
        return TOOL_FAIL;
    }
    fd = from_stdin ? STDIN_FILENO : open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tool_err("restore: cannot open %s: %s", src, strerror(errno));
        return TOOL_FAIL;
    }
    if ((rc = resp_parser_new(&p, NULL, NULL))) {
        tool_err("restore: %s", resp_strerror(rc));
        goto out;
    }
    if (tool_open(path, 0, &r.s))
        goto out;
    ox_table *t0;
    if (tool_dbs_load(r.s, &r.dbs) || tool_db_open(r.s, &r.dbs, 0, &t0) || select_table(&r, t0))
        goto out;
    progress_begin("restoring:", fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ?
                   (uint64_t)st.st_size : 0, "bytes");
    for (;;) {
        resp_cmd c;
        while ((rc = resp_parser_next(p, &c)) == RESP_OK) {
            r.ncmd++;
            if (r.in_txn >= TXN_CMDS || r.txn_bytes >= TXN_BYTES) {
                if (commit(&r))
                    break;
            }
            if (apply(&r, &c)) {
                rc = -1;
                break;
            }
            r.in_txn++;
            r.txn_bytes += c.wire_len;
            off += c.wire_len;
            progress_set(off);
        }
        if (rc == -1 || rc == RESP_OK) {
            snprintf(where, sizeof where, "command %" PRIu64 " (at byte %" PRIu64 ")", r.ncmd, off);
            break;
        }
        if (rc == RESP_EPROTO) {
            snprintf(where, sizeof where, "at byte %" PRIu64, off);
            snprintf(r.why, sizeof r.why, "Protocol error: %s", resp_parser_errstr(p));
            break;
        }
        void *buf;
        size_t cap;
        ssize_t got = -1;
        if (rc == RESP_AGAIN && (rc = resp_parser_reserve(p, 0, &buf, &cap)) == RESP_OK)
            while ((got = read(fd, buf, cap)) < 0 && errno == EINTR)
                ;
        if (rc != RESP_OK || got < 0) {
            snprintf(r.why, sizeof r.why, "reading %s: %s", from_stdin ? "stdin" : src,
                     rc != RESP_OK ? resp_strerror(rc) : strerror(errno));
            break;
        }
        if (got == 0) { /* the end of the input */
            if (resp_parser_buffered(p)) {
                snprintf(where, sizeof where, "at byte %" PRIu64, off);
                snprintf(r.why, sizeof r.why, "the input ends inside a command");
            } else if (commit(&r) == 0) {
                r.applied = r.ncmd;
            }
            break;
        }
        resp_parser_commit(p, (size_t)got);
    }
    progress_end();
    if (r.why[0]) {
        ox_txn_rollback(r.txn);
        r.txn = NULL;
        char done[96] = "nothing was applied";
        if (r.applied)
            snprintf(done, sizeof done, "commands 1 to %" PRIu64 " were applied, none after",
                     r.applied);
        tool_err("restore %s: %s%s%s; %s", path, where, where[0] ? ": " : "", r.why, done);
        goto out;
    }
    ret = TOOL_OK;
out:
    ox_txn_rollback(r.txn);
    tool_dbs_free(&r.dbs);
    if (r.s && (rc = ox_store_close(r.s)) && ret == TOOL_OK) {
        tool_err("restore %s: %s", path, ox_strerror(rc));
        ret = TOOL_FAIL;
    }
    if (ret == TOOL_OK)
        printf("%s: restored %" PRIu64 " commands\n", path, r.applied);
    resp_parser_free(p);
    if (fd >= 0 && !from_stdin)
        close(fd);
    return ret;
}
