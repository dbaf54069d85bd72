/* Differential test: the same seeded random command streams go to oxistore and to a real
 * redis-server 7.0 (Debian's, started here on another port); every reply must be the same
 * (type, bytes, integers, nested elements). OX_DIFF_N sets the command count (default
 * 20000; `make difftest N=…` runs more), OX_DIFF_SEED the stream (default 20261124). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <strings.h>

#include "ref_util.h"

T_MAIN_BEGIN;

static srvp g_ox;
static srvp g_redis;

/* ---- random commands ------------------------------------------------------------------ */

typedef struct gen {
    unsigned seed;
    int unordered; /* the reply's key arrays are sets: KEYS, SCAN (their orders differ) */
    int in_multi;           /* a MULTI was sent and no EXEC or DISCARD since */
    int argc;
    const char *argv[20];
    size_t len[20];
    char buf[20][64];
} gen;

static unsigned rnd(gen *g, unsigned n)
{
    return (unsigned)rand_r(&g->seed) % n;
}

static void arg(gen *g, const char *s)
{
    g->argv[g->argc] = s;
    g->len[g->argc] = strlen(s);
    g->argc++;
}

static void argf(gen *g, const char *fmt, long long v)
{
    char *b = g->buf[g->argc];
    snprintf(b, sizeof g->buf[0], fmt, v);
    arg(g, b);
}

/* Keys longer than LMDB's 511 bytes: 511, 512 and 4096 bytes sharing their first 478
 * (oxistore tells them apart by hash beyond those). Filled by main. */
static const size_t g_long_len[3] = {511, 512, 4096};
static char g_long[3][4096];

static void key(gen *g)
{
    static const char *keys[] = {"k0", "k1", "k2", "k3", "num", "flt", "bin\x01\xff", "",
                                 "K0", "long-key-name-with-some-length"};
    unsigned n = sizeof keys / sizeof *keys, i = rnd(g, n + 3);
    if (i < n) {
        arg(g, keys[i]);
        return;
    }
    g->argv[g->argc] = g_long[i - n];
    g->len[g->argc] = g_long_len[i - n];
    g->argc++;
}

static void value(gen *g)
{
    switch (rnd(g, 6)) {
    case 0: argf(g, "%lld", (long long)rnd(g, 2000) - 1000); break;
    case 1: argf(g, "%lld.5", (long long)rnd(g, 100)); break;
    case 2: arg(g, ""); break;
    case 3: {
        char *b = g->buf[g->argc];
        size_t n = 1 + rnd(g, 40);
        for (size_t i = 0; i < n; i++)
            b[i] = (char)rnd(g, 256);
        g->argv[g->argc] = b;
        g->len[g->argc] = n;
        g->argc++;
        break;
    }
    case 4: arg(g, "9223372036854775807"); break;
    default: arg(g, "hello world"); break;
    }
}

static void number(gen *g)
{
    static const char *nums[] = {"0", "1", "-1", "5", "100", "-100", "x", "1.5", "",
                                 "9223372036854775807", "-9223372036854775808", "007", "+1",
                                 "99999999999999999999"};
    arg(g, nums[rnd(g, sizeof nums / sizeof *nums)]);
}

/* TTL arguments: never a small positive one, whose expiry would race the next commands. */
static void ttl_arg(gen *g)
{
    static const char *ttls[] = {"100000", "0", "-1", "x", "", "99999999999999999999",
                                 "9223372036854775807", "9223372036854775", "1.5"};
    arg(g, ttls[rnd(g, sizeof ttls / sizeof *ttls)]);
}

static void set_options(gen *g)
{
    static const char *opts[] = {"NX", "XX", "GET", "KEEPTTL", "EX", "PX", "EXAT", "PXAT",
                                 "nx", "bogus"};
    int n = (int)rnd(g, 3);
    for (int i = 0; i < n; i++) {
        const char *o = opts[rnd(g, sizeof opts / sizeof *opts)];
        arg(g, o);
        if (!strcmp(o, "EX") || !strcmp(o, "PX"))
            arg(g, rnd(g, 4) ? "100000" : "0");
        else if (!strcmp(o, "EXAT"))
            arg(g, rnd(g, 4) ? "99999999999" : "-5");
        else if (!strcmp(o, "PXAT")) /* in the future: an expired key's reclaim is timing */
            arg(g, rnd(g, 4) ? "99999999999999" : "-5");
    }
}

/* EXPIRE PEXPIRE EXPIREAT PEXPIREAT with 0-2 options. A relative time is never a small
 * positive one (it would race the next commands), and GT/LT never meet a relative time
 * in the future: the same relative time set twice lands on the same or a later ms
 * depending on timing, so GT's answer would too. Absolute times are the same on both. */
static void expire_command(gen *g)
{
    static const char *rel[] = {"100000", "200000", "0", "-1", "x", "", "1.5",
                                "9223372036854775807", "9223372036854775", "-9223372036854775808"};
    static const char *abs_s[] = {"99999999999", "99999999990", "1", "-5", "x",
                                  "9223372036854775807", "9223372036854775", "9223372036854776"};
    static const char *abs_ms[] = {"99999999999999", "99999999990000", "1", "0", "x",
                                   "9223372036854775807", "-9223372036854775808"};
    static const char *opts[] = {"NX", "XX", "GT", "LT", "nx", "gt", "bogus"};
    int absolute = (int)rnd(g, 2), ms = (int)rnd(g, 2);
    arg(g, absolute ? (ms ? "PEXPIREAT" : "EXPIREAT") : (ms ? "PEXPIRE" : "EXPIRE"));
    key(g);
    const char *t = absolute ? (ms ? abs_ms[rnd(g, sizeof abs_ms / sizeof *abs_ms)]
                                   : abs_s[rnd(g, sizeof abs_s / sizeof *abs_s)])
                             : rel[rnd(g, sizeof rel / sizeof *rel)];
    arg(g, t);
    int future_rel = !absolute && (!strcmp(t, "100000") || !strcmp(t, "200000") ||
                                   (ms && !strcmp(t, "9223372036854775")));
    for (int n = (int)rnd(g, 3); n > 0; n--) {
        const char *o = opts[rnd(g, sizeof opts / sizeof *opts)];
        if (future_rel && (!strcasecmp(o, "gt") || !strcasecmp(o, "lt")))
            o = "XX";
        arg(g, o);
    }
}

/* ---- collections: hashes, sets, sorted sets, lists on the same keys as the strings ---- */

static void pick(gen *g, const char *const *from, unsigned n)
{
    arg(g, from[rnd(g, n)]);
}
#define PICK(g, a) pick((g), (a), sizeof(a) / sizeof *(a))

/* Members whose keys are long keys in oxistore: 480 to 700 bytes sharing their first
 * 470, so that a set's member keys, and a sorted set's index keys of one score, share
 * their first 478 bytes (keyspace/keyorder.h). Filled by main. */
#define LFIELDS 6
static const size_t g_lfield_len[LFIELDS] = {480, 495, 500, 520, 600, 700};
static char g_lfield[LFIELDS][700];

static void field(gen *g)
{
    static const char *const f[] = {"f0", "f1", "f2", "f3", "", "bin\x01\xff", "10", "-3", "9"};
    unsigned n = sizeof f / sizeof *f, i = rnd(g, n + LFIELDS / 2);
    if (i < n) {
        arg(g, f[i]);
        return;
    }
    i = (i - n) * 2 + rnd(g, 2); /* the long ones: as likely as three short ones */
    g->argv[g->argc] = g_lfield[i];
    g->len[g->argc] = g_lfield_len[i];
    g->argc++;
}

static void score(gen *g)
{
    static const char *const s[] = {"0", "1", "-1", "1.5", "2", "inf", "-inf", "x", "nan",
                                    "1e308", "-2.5", "7", "0.1"};
    PICK(g, s);
}

static void score_bound(gen *g)
{
    static const char *const b[] = {"0", "1", "(1", "-inf", "+inf", "(2", "x", "1.5", "(x",
                                    "-1"};
    PICK(g, b);
}

static void lex_bound(gen *g)
{
    static const char *const b[] = {"-", "+", "[f1", "(f1", "[f3", "(a", "x", "[", "("};
    static char lb[2][491]; /* "[" and "(" before the long members' first 490 bytes */
    unsigned i = rnd(g, sizeof b / sizeof *b + 2);
    if (i < sizeof b / sizeof *b) {
        arg(g, b[i]);
        return;
    }
    i -= (unsigned)(sizeof b / sizeof *b);
    lb[i][0] = i ? '(' : '[';
    memcpy(lb[i] + 1, g_lfield[2], sizeof lb[i] - 1);
    g->argv[g->argc] = lb[i];
    g->len[g->argc] = sizeof lb[i];
    g->argc++;
}

static void rank(gen *g)
{
    static const char *const r[] = {"0", "1", "-1", "2", "-3", "100", "-100", "x"};
    PICK(g, r);
}

/* A collection command whose reply is the same on both servers: no random picks (only
 * their deterministic forms), member orders compared as sets (g->unordered) outside
 * MULTI, scans asked for everything at once. */
static void gen_collection(gen *g)
{
    static const char *const unordered_names[] = {"HKEYS", "HVALS", "HGETALL", "SMEMBERS",
                                                  "SINTER", "SUNION", "SDIFF"};
    switch (rnd(g, 48)) {
    case 46: /* what Redis holds a collection as, with its history (encoding.h; compared
                as object_encoding_compared says) */
        if (g->in_multi) { /* inside EXEC's array it could not be excused */
            arg(g, "SCARD"); key(g);
            break;
        }
        arg(g, "OBJECT"); arg(g, "ENCODING"); key(g);
        break;
    case 45: /* a sorted set or hash Redis holds as a listpack: whole, by score or in the
                order its fields came (redis_listpack, which inside MULTI cannot ask) */
        if (g->in_multi) {
            arg(g, "HLEN"); key(g);
            break;
        }
        arg(g, rnd(g, 2) ? "ZSCAN" : "HSCAN"); key(g); arg(g, "0");
        if (rnd(g, 2)) { arg(g, "COUNT"); arg(g, "1"); }
        if (rnd(g, 2)) { arg(g, "MATCH"); arg(g, rnd(g, 2) ? "f*" : "*1*"); }
        break;
    case 0: arg(g, "HSET"); key(g); field(g); value(g); if (rnd(g, 2)) { field(g); value(g); } break;
    case 1: arg(g, "HGET"); key(g); field(g); break;
    case 2: arg(g, "HMGET"); key(g); field(g); field(g); break;
    case 3: arg(g, "HDEL"); key(g); field(g); if (rnd(g, 2)) field(g);
        break;
    case 4: arg(g, rnd(g, 2) ? "HLEN" : "HSTRLEN"); key(g); if (g->argv[0][1] == 'S') field(g);
        break;
    case 5: arg(g, "HEXISTS"); key(g); field(g); break;
    case 6: arg(g, "HINCRBY"); key(g); field(g); number(g); break;
    case 7: arg(g, "HINCRBYFLOAT"); key(g); field(g); number(g); break;
    case 8: arg(g, "HSETNX"); key(g); field(g); value(g); break;
    case 9: PICK(g, unordered_names); key(g); if (g->argv[0][0] == 'S' && g->argv[0][1] != 'M') key(g);
        break;
    case 10: /* a count whose answer is not random: none, or the whole hash (in a
                listpack's order: compared exactly then, see hash_order) */
        arg(g, "HRANDFIELD");
        key(g);
        if (rnd(g, 2)) {
            arg(g, "100");
            if (rnd(g, 2))
                arg(g, "WITHVALUES");
            g->unordered = 1;
            break;
        }
        arg(g, rnd(g, 3) ? "0" : rnd(g, 2) ? "x" : "-9223372036854775808");
        break;
    case 11: arg(g, "SADD"); key(g); field(g); if (rnd(g, 2)) field(g);
        break;
    case 12: arg(g, "SREM"); key(g); field(g); break;
    case 13: arg(g, "SCARD"); key(g); break;
    case 14: arg(g, "SISMEMBER"); key(g); field(g); break;
    case 15: arg(g, "SMISMEMBER"); key(g); field(g); field(g); break;
    case 16: arg(g, rnd(g, 3) ? "SINTERSTORE" : rnd(g, 2) ? "SUNIONSTORE" : "SDIFFSTORE"); key(g); key(g); key(g); break;
    case 17: arg(g, "SINTERCARD"); arg(g, "2"); key(g); key(g); if (rnd(g, 2)) { arg(g, "LIMIT"); rank(g); } break;
    case 18: arg(g, "SMOVE"); key(g); key(g); field(g); break;
    case 19: arg(g, "SPOP"); key(g); arg(g, rnd(g, 2) ? "0" : "-1"); break;
    case 20: {
        static const char *const o[] = {"NX", "XX", "GT", "LT", "CH", "INCR"};
        arg(g, "ZADD");
        key(g);
        if (!rnd(g, 3))
            PICK(g, o);
        score(g);
        int s = g->argc - 1;
        field(g);
        if (rnd(g, 2)) { /* half of them of the first one's score: members of one score */
            if (rnd(g, 2))
                score(g);
            else
                arg(g, g->argv[s]);
            field(g);
        }
        break;
    }
    case 21: arg(g, "ZINCRBY"); key(g); score(g); field(g); break;
    case 22: arg(g, "ZREM"); key(g); field(g); break;
    case 23: arg(g, rnd(g, 2) ? "ZCARD" : "ZSCORE"); key(g); if (g->argv[0][1] == 'S') field(g);
        break;
    case 24: arg(g, "ZMSCORE"); key(g); field(g); field(g); break;
    case 25: arg(g, rnd(g, 2) ? "ZRANK" : "ZREVRANK"); key(g); field(g); break;
    case 26: arg(g, "ZCOUNT"); key(g); score_bound(g); score_bound(g); break;
    case 27: arg(g, "ZLEXCOUNT"); key(g); lex_bound(g); lex_bound(g); break;
    case 28: arg(g, rnd(g, 2) ? "ZRANGE" : "ZREVRANGE"); key(g); rank(g); rank(g); if (rnd(g, 2)) arg(g, "WITHSCORES");
        break;
    case 29: arg(g, rnd(g, 2) ? "ZRANGEBYSCORE" : "ZREVRANGEBYSCORE"); key(g); score_bound(g); score_bound(g);
        if (rnd(g, 2)) arg(g, "WITHSCORES");
        if (rnd(g, 2)) { arg(g, "LIMIT"); rank(g); rank(g); } break;
    case 30: arg(g, rnd(g, 2) ? "ZRANGEBYLEX" : "ZREVRANGEBYLEX"); key(g); lex_bound(g); lex_bound(g); break;
    case 31: arg(g, rnd(g, 3) ? "ZREMRANGEBYSCORE" : rnd(g, 2) ? "ZREMRANGEBYRANK" : "ZREMRANGEBYLEX"); key(g);
        if (g->argv[0][13] == 'S') { score_bound(g); score_bound(g); }
        else if (g->argv[0][13] == 'R') { rank(g); rank(g); }
        else { lex_bound(g); lex_bound(g); }
        break;
    case 32: arg(g, rnd(g, 2) ? "ZPOPMIN" : "ZPOPMAX"); key(g); if (rnd(g, 2)) rank(g);
        break;
    case 33: arg(g, rnd(g, 3) ? "ZUNION" : rnd(g, 2) ? "ZINTER" : "ZDIFF"); arg(g, "2"); key(g); key(g);
        if (rnd(g, 2)) arg(g, "WITHSCORES");
        break;
    case 34: {
        static const char *const a[] = {"SUM", "MIN", "MAX", "bogus"};
        arg(g, rnd(g, 2) ? "ZUNIONSTORE" : "ZINTERSTORE");
        key(g);
        arg(g, "2");
        key(g);
        key(g);
        if (rnd(g, 2)) {
            arg(g, "WEIGHTS");
            score(g);
            score(g);
        }
        if (rnd(g, 2)) {
            arg(g, "AGGREGATE");
            PICK(g, a);
        }
        break;
    }
    case 35: arg(g, rnd(g, 2) ? "LPUSH" : "RPUSH"); key(g); value(g); if (rnd(g, 2)) value(g);
        break;
    case 36: arg(g, rnd(g, 2) ? "LPOP" : "RPOP"); key(g); if (rnd(g, 2)) rank(g);
        break;
    case 37: arg(g, rnd(g, 2) ? "LLEN" : "LINDEX"); key(g); if (g->argv[0][1] == 'I') rank(g);
        break;
    case 38: arg(g, "LRANGE"); key(g); rank(g); rank(g); break;
    case 39: arg(g, rnd(g, 2) ? "LSET" : "LTRIM"); key(g); rank(g); if (g->argv[0][1] == 'S') value(g); else rank(g);
        break;
    case 40: arg(g, "LINSERT"); key(g); arg(g, rnd(g, 2) ? "BEFORE" : "AFTER"); value(g); value(g); break;
    case 41: arg(g, "LREM"); key(g); rank(g); value(g); break;
    case 42: arg(g, "LPOS"); key(g); value(g); if (rnd(g, 2)) { arg(g, rnd(g, 2) ? "RANK" : "COUNT"); rank(g); } break;
    case 44: { /* the blocking pops, with a short timeout: a null after it on both */
        static const char *const b[] = {"BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BLMPOP",
                                        "BZPOPMIN", "BZPOPMAX", "BZMPOP"};
        static const char *const e[] = {"LEFT", "RIGHT"}, *const m[] = {"MIN", "MAX"};
        PICK(g, b);
        const char *c = g->argv[0];
        if (!strcmp(c, "BLMPOP") || !strcmp(c, "BZMPOP")) {
            arg(g, "0.01");
            arg(g, "2");
            key(g);
            key(g);
            if (c[1] == 'L')
                PICK(g, e);
            else
                PICK(g, m);
            if (rnd(g, 2)) { arg(g, "COUNT"); rank(g); }
            break;
        }
        key(g);
        if (!strcmp(c, "BLMOVE") || !strcmp(c, "BRPOPLPUSH"))
            key(g);
        else if (rnd(g, 2))
            key(g);
        if (!strcmp(c, "BLMOVE")) { PICK(g, e); PICK(g, e); }
        arg(g, "0.01");
        break;
    }
    case 43: { /* SORT: ALPHA only with STORE (without, Redis orders by its locale's
                * strcoll), BY nosort only with STORE (a set's own order is its internals') */
        static const char *const by[] = {"k*", "*", "k*->f1", "k0"};
        static const char *const get[] = {"#", "k*", "*->f0", "x", "#"};
        int store = rnd(g, 3) == 0, with_by = rnd(g, 3) == 0;
        arg(g, store ? "SORT" : rnd(g, 2) ? "SORT" : "SORT_RO");
        key(g);
        if (with_by) {
            arg(g, "BY");
            arg(g, by[rnd(g, store ? 4 : 3)]);
        }
        if (rnd(g, 3) == 0) { arg(g, "LIMIT"); rank(g); rank(g); }
        for (unsigned n = rnd(g, 3); n; n--) { arg(g, "GET"); PICK(g, get); }
        if (rnd(g, 3) == 0)
            arg(g, "DESC");
        if (store) {
            if (!with_by && rnd(g, 2)) /* ALPHA BY: equal weights keep no fixed order */
                arg(g, "ALPHA");
            arg(g, "STORE");
            key(g);
        }
        break;
    }
    default: {
        static const char *const e[] = {"LEFT", "RIGHT", "left", "middle"};
        if (rnd(g, 2)) { arg(g, "LMOVE"); key(g); key(g); PICK(g, e); PICK(g, e); }
        else { arg(g, "LMPOP"); arg(g, "2"); key(g); key(g); PICK(g, e); }
        break;
    }
    }
    for (size_t i = 0; i < sizeof unordered_names / sizeof *unordered_names; i++)
        if (!strcmp(g->argv[0], unordered_names[i]))
            g->unordered = 1;
    if (g->unordered && g->in_multi) { /* EXEC's array would hold it unsorted */
        g->argc = 0;
        g->unordered = 0;
        arg(g, "GET");
        key(g);
    }
}

/* One random command: mostly valid, sometimes wrong arity or unknown. */
/* KEYS, and SCANs that return everything in one call (a COUNT beyond every key: both
 * servers answer cursor 0), with every glob form; and SCAN's error forms. */
static void gen_scan(gen *g)
{
    static const char *pats[] = {"*", "k?", "k[0-2]", "k[^0]", "k[1-", "n*", "*u*", "\\*",
                                 "b*", "[bf]*", "?", "", "K*", "k\\1", "*[", "k[2-0]"};
    const char *pat = pats[rnd(g, sizeof pats / sizeof *pats)];
    g->unordered = 1;
    switch (rnd(g, 4)) {
    case 0: arg(g, "KEYS"); arg(g, pat); break;
    case 1:
        arg(g, "SCAN"); arg(g, "0"); arg(g, "COUNT"); arg(g, "100000");
        if (rnd(g, 2)) { arg(g, "MATCH"); arg(g, pat); }
        if (!rnd(g, 3)) { arg(g, "TYPE"); arg(g, rnd(g, 2) ? "string" : "list"); }
        break;
    default: { /* errors: compared exactly. Not a cursor past 2^64: Redis 7.0 leaves the
                  parse's ERANGE in errno, which its next numeric SORT reads as a
                  conversion error (test_scan asks it) */
        static const char *const forms[][5] = {
            {"SCAN", "x"}, {"SCAN", "0", "COUNT", "0"}, {"SCAN", "0", "COUNT", "y"},
            {"SCAN", "0", "MATCH"}, {"SCAN", "0", "bogus", "1"}, {"SCAN", "1.5"},
            {"KEYS"}, {"KEYS", "a", "b"}, {"SCAN"}};
        const char *const *f = forms[rnd(g, sizeof forms / sizeof *forms)];
        g->unordered = 0;
        for (int i = 0; i < 5 && f[i]; i++)
            arg(g, f[i]);
    }
    }
}

/* 1 if g is a set's reply (SMEMBERS, SINTER...) and r lists only integers, in ascending
 * order: Redis's intset order, which oxistore's reply must have too (encoding.h). A set
 * that is a hash table in Redis may show any order, this one included. */
static int intset_order(const gen *g, const redisReply *r)
{
    if (g->argv[0][0] != 'S' || !r || r->type != REDIS_REPLY_ARRAY) /* RESP2 here */
        return 0;
    long long prev = LLONG_MIN;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        char *end;
        errno = 0;
        long long v = e->type == REDIS_REPLY_STRING && e->len ? strtoll(e->str, &end, 10) : 0;
        if (e->type != REDIS_REPLY_STRING || !e->len || errno || *end || (i && v <= prev))
            return 0;
        prev = v;
    }
    return 1;
}

/* Redis's OBJECT ENCODING of key: 1 listpack, 0 another, -1 no key. */
static int redis_lp(redisContext *rs, const char *key, size_t len)
{
    redisReply *r = redisCommand(rs, "OBJECT ENCODING %b", key, len);
    int lp = r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "listpack");
    int none = r && r->type == REDIS_REPLY_NIL;
    freeReplyObject(r);
    return none ? -1 : lp;
}

/* 0 if g is a ZSCAN or HSCAN (in a script or not) of a collection Redis does not hold as
 * a listpack (it pages a skiplist or hash table by COUNT, in its hash table's order):
 * Redis keeps a skiplist once converted (a SORT converts one), where oxistore judges a
 * sorted set by what it holds now (encoding.h). Else 1, with Redis asked nothing. A
 * missing key: both answer an empty scan. */
static int redis_listpack(const gen *g, redisContext *rs)
{
    int at = strcmp(g->argv[0], "EVAL") ? 0 : 3; /* wrap_in_script's */
    if (g->argc < at + 2 || (strcmp(g->argv[at], "ZSCAN") && strcmp(g->argv[at], "HSCAN")))
        return 1;
    return redis_lp(rs, g->argv[at + 1], g->len[at + 1]) != 0;
}

/* 0 if g is an OBJECT ENCODING (in a script or not) that is not compared: of a string
 * (Redis's int, embstr or raw depend on how the value was written: APPEND makes it raw),
 * or of a sorted set oxistore holds as a listpack where Redis holds a skiplist, as after a
 * SORT or SORT_RO there (not emulated: encoding.h). Else 1. */
static int object_encoding_compared(const gen *g, const redisReply *a, const redisReply *b)
{
    int at = strcmp(g->argv[0], "EVAL") ? 0 : 3;
    if (at && a && b && a->type == REDIS_REPLY_ARRAY && b->type == REDIS_REPLY_ARRAY &&
        a->elements == 2 && b->elements == 2) { /* wrap_in_script's {type(r), r} */
        a = a->element[1];
        b = b->element[1];
    }
    if (g->argc < at + 3 || strcmp(g->argv[at], "OBJECT") || !a || !b ||
        a->type != REDIS_REPLY_STRING || b->type != REDIS_REPLY_STRING)
        return 1;
    return strcmp(b->str, "int") && strcmp(b->str, "embstr") && strcmp(b->str, "raw") &&
           !(!strcmp(a->str, "listpack") && !strcmp(b->str, "skiplist"));
}

/* 1 if g reads a whole hash that Redis holds as a listpack (HKEYS, HVALS, HGETALL,
 * HRANDFIELD of all of it): its reply is then in the order the fields came, which
 * oxistore's must have too (hash_fmt.h). */
static int hash_order(const gen *g, redisContext *rs)
{
    return g->argc >= 2 && g->argv[0][0] == 'H' && redis_lp(rs, g->argv[1], g->len[1]) == 1;
}

static void gen_command(gen *g)
{
    g->argc = 0;
    g->unordered = 0;
    /* Inside MULTI: short transactions, mostly without the errors that abort them. */
    if (g->in_multi && rnd(g, 8) == 0) {
        arg(g, rnd(g, 6) ? "EXEC" : "DISCARD");
        g->in_multi = 0;
        return;
    }
    unsigned pick = rnd(g, 50);
    /* Nor, inside MULTI, what EXEC's array could not compare: time answers (30-32, within a
     * tolerance only on their own) and KEYS/SCAN (sets only on their own). */
    if (g->in_multi && (((pick == 28 || pick == 29) && rnd(g, 4)) || (pick >= 30 && pick <= 33))) {
        arg(g, "GET"); key(g);
        return;
    }
    if (pick >= 35) { /* a third: the collections */
        gen_collection(g);
        return;
    }
    switch (pick) {
    case 33: gen_scan(g); break;
    case 0: arg(g, "SET"); key(g); value(g); set_options(g); break;
    case 1: arg(g, "GET"); key(g); break;
    case 2: arg(g, "SETNX"); key(g); value(g); break;
    case 3: arg(g, "SETEX"); key(g); ttl_arg(g); value(g); break;
    case 4: arg(g, "GETSET"); key(g); value(g); break;
    case 5: arg(g, "GETDEL"); key(g); break;
    case 6: arg(g, "MGET"); key(g); key(g); key(g); break;
    case 7: arg(g, "MSET"); key(g); value(g); key(g); value(g); break;
    case 8: arg(g, "MSETNX"); key(g); value(g); key(g); value(g); break;
    case 9: arg(g, "INCR"); key(g); break;
    case 10: arg(g, "DECR"); key(g); break;
    case 11: arg(g, "INCRBY"); key(g); number(g); break;
    case 12: arg(g, "DECRBY"); key(g); number(g); break;
    case 13: arg(g, "INCRBYFLOAT"); key(g); number(g); break;
    case 14: arg(g, "APPEND"); key(g); value(g); break;
    case 15: arg(g, "STRLEN"); key(g); break;
    case 16: arg(g, rnd(g, 2) ? "GETRANGE" : "SUBSTR"); key(g); number(g); number(g); break;
    case 17: arg(g, "SETRANGE"); key(g); arg(g, rnd(g, 2) ? "3" : "0"); value(g); break;
    case 18: arg(g, rnd(g, 2) ? "DEL" : "UNLINK"); key(g); key(g); break;
    case 19: arg(g, "EXISTS"); key(g); key(g); break;
    case 20: arg(g, "TYPE"); key(g); break;
    case 21:
        if (rnd(g, 4)) {
            arg(g, "DBSIZE");
        } else {
            static const char *dbs[] = {"0", "1", "2", "16", "-1", "x", "01"};
            arg(g, "SWAPDB");
            arg(g, dbs[rnd(g, rnd(g, 4) ? 3 : 7)]);
            arg(g, dbs[rnd(g, rnd(g, 4) ? 3 : 7)]);
        }
        break;
    case 22: arg(g, "SELECT"); arg(g, rnd(g, 5) ? "0" : rnd(g, 2) ? "1" : "99"); break;
    case 23: arg(g, "PING"); if (rnd(g, 2)) value(g); break;
    case 24: arg(g, "ECHO"); value(g); break;
    case 25: arg(g, "PSETEX"); key(g); ttl_arg(g); value(g); break;
    case 26: arg(g, "GETEX"); key(g); if (rnd(g, 2)) arg(g, "PERSIST"); break;
    case 27:
        switch (rnd(g, 11)) {
        case 10: {
            static const char *u[] = {"BIT", "BYTE", "bit", "bogus"};
            arg(g, "BITPOS"); key(g);
            arg(g, rnd(g, 8) ? (rnd(g, 2) ? "1" : "0") : (rnd(g, 2) ? "2" : "x"));
            int n = (int)rnd(g, 5); /* start, end, unit, one too many */
            if (n >= 1) number(g);
            if (n >= 2) number(g);
            if (n >= 3) arg(g, u[rnd(g, 4)]);
            if (n >= 4) number(g);
            break;
        }
        case 9: {
            static const char *o[] = {"LEN", "IDX", "WITHMATCHLEN", "MINMATCHLEN", "bogus"};
            arg(g, "LCS"); key(g); key(g);
            for (int n = (int)rnd(g, 3); n > 0; n--) {
                const char *opt = o[rnd(g, 5)];
                arg(g, opt);
                if (!strcmp(opt, "MINMATCHLEN"))
                    number(g);
            }
            break;
        }
        case 0: arg(g, "TOUCH"); key(g); break;
        case 1: arg(g, "RENAME"); key(g); key(g); break;
        case 2: arg(g, "RENAMENX"); key(g); key(g); break;
        case 3:
            arg(g, "COPY"); key(g); key(g);
            if (rnd(g, 2)) { arg(g, "DB"); arg(g, rnd(g, 3) ? "1" : rnd(g, 2) ? "0" : "x"); }
            if (rnd(g, 2)) arg(g, "REPLACE");
            break;
        case 4: arg(g, "MOVE"); key(g); arg(g, rnd(g, 3) ? "1" : rnd(g, 2) ? "0" : "99"); break;
        case 5: arg(g, "SETBIT"); key(g); number(g); arg(g, rnd(g, 4) ? "1" : "0"); break;
        case 6: arg(g, "GETBIT"); key(g); number(g); break;
        case 7:
            arg(g, "BITCOUNT"); key(g);
            if (rnd(g, 2)) { number(g); number(g); if (rnd(g, 2)) arg(g, rnd(g, 2) ? "BIT" : "BYTE"); }
            break;
        default: arg(g, "SETBIT"); key(g); arg(g, rnd(g, 2) ? "4294967296" : "1000"); arg(g, "1"); break;
        }
        break;
    case 30: expire_command(g); break;
    case 31: {
        static const char *q[] = {"TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "PERSIST"};
        arg(g, q[rnd(g, 5)]);
        key(g);
        if (!rnd(g, 20)) /* wrong arity */
            key(g);
        break;
    }
    case 32: arg(g, "SET"); key(g); value(g); arg(g, rnd(g, 2) ? "EX" : "PX"); arg(g, "100000"); break;
    case 28: /* wrong arity */
        arg(g, (const char *[]){"GET", "SET", "INCR", "MSET", "STRLEN", "ECHO"}[rnd(g, 6)]);
        if (rnd(g, 2)) { key(g); key(g); key(g); }
        break;
    case 29:
        /* CLIENT LIST/KILL are refused inside MULTI here (they reply asynchronously). */
        if (rnd(g, 2) || g->in_multi) { arg(g, rnd(g, 2) ? "NOSUCHCMD" : "getx"); key(g); break; }
        { /* CLIENT LIST/KILL forms whose replies do not depend on who is connected */
            static const char *const forms[][5] = {
                {"CLIENT", "LIST", "TYPE", "pubsub"}, {"CLIENT", "LIST", "TYPE", "foo"},
                {"CLIENT", "LIST", "ID", "x"}, {"CLIENT", "LIST", "ID", "999999"},
                {"CLIENT", "LIST", "foo"}, {"CLIENT", "KILL", "1.2.3.4:5"},
                {"CLIENT", "KILL", "ID", "0"}, {"CLIENT", "KILL", "ID", "999999", "SKIPME"},
                {"CLIENT", "KILL", "TYPE", "master"}, {"CLIENT", "KILL", "USER", "nobody"},
                {"CLIENT", "KILL", "ADDR", "1.2.3.4:5", "x"}, {"client", "foo"},
                {"CLIENT", "KILL"}, {"CLIENT", "ID", "x"}};
            const char *const *f = forms[rnd(g, sizeof forms / sizeof *forms)];
            for (int i = 0; i < 5 && f[i]; i++)
                arg(g, f[i]);
        }
        break;
    case 34: /* transactions: the same client's writes touch its own watched keys */
        switch (rnd(g, 20)) {
        case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7:
            arg(g, "MULTI");
            g->in_multi = 1;
            break;
        case 8: case 9: case 10: case 11: case 12:
            arg(g, "EXEC");
            g->in_multi = 0;
            break;
        case 13: case 14:
            arg(g, "DISCARD");
            g->in_multi = 0;
            break;
        case 15: case 16: case 17:
            arg(g, "WATCH"); key(g);
            if (rnd(g, 2)) key(g);
            break;
        case 18: arg(g, "UNWATCH"); break;
        default: arg(g, rnd(g, 2) ? "EXEC" : "WATCH"); arg(g, "extra"); break;
        }
        break;
    }
}

/* A tenth of the commands run in a script instead: the same replies through Redis's
 * conversions both ways (RESP3's too), and a raised error names its line. MULTI, EXEC
 * and DISCARD stay as they are (the stream's transaction state follows them), and so do
 * the replies compared as sets (KEYS, SCAN: their shape is what ref_canonical knows). */
static void wrap_in_script(gen *g)
{
    static const char *const bodies[] = {
        "return redis.pcall(unpack(ARGV))",
        "return redis.call(unpack(ARGV))",
        "redis.setresp(3) return redis.pcall(unpack(ARGV))",
        "local r = redis.pcall(unpack(ARGV)) return {type(r), r}",
    };
    if (!g->argc || g->argc + 3 > 20 || g->unordered || !strcasecmp(g->argv[0], "MULTI") ||
        !strcasecmp(g->argv[0], "EXEC") || !strcasecmp(g->argv[0], "DISCARD"))
        return;
    memmove(g->argv + 3, g->argv, (size_t)g->argc * sizeof g->argv[0]);
    memmove(g->len + 3, g->len, (size_t)g->argc * sizeof g->len[0]);
    g->argc += 3;
    g->argv[0] = "EVAL";
    g->argv[1] = bodies[rnd(g, 4)];
    g->argv[2] = "0";
    for (int i = 0; i < 3; i++)
        g->len[i] = strlen(g->argv[i]);
}

/* How far apart two answers about time may be: the same command reaches the two servers
 * a little apart, and so did the one that set the expiry time. 0 for other commands. */
static long long time_tolerance(const gen *g)
{
    static const struct { const char *name; long long tol; } t[] = {
        {"TTL", 1}, {"EXPIRETIME", 1}, {"PTTL", 1000}, {"PEXPIRETIME", 1000}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (!strcasecmp(g->argv[0], t[i].name))
            return t[i].tol;
    return 0;
}

static void describe(const gen *g, char *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < g->argc && n + 8 < cap; i++) {
        n += (size_t)snprintf(out + n, cap - n, "%s'", i ? " " : "");
        for (size_t k = 0; k < g->len[i] && n + 6 < cap; k++) {
            unsigned char ch = (unsigned char)g->argv[i][k];
            n += (size_t)snprintf(out + n, cap - n, ch >= 32 && ch < 127 ? "%c" : "\\x%02x", ch);
        }
        n += (size_t)snprintf(out + n, cap - n, "'");
    }
}

static void same_replies_as_redis_for_random_streams(void)
{
    T_ASSERT(sp_start_redis(&g_redis, "redis") == 0);
    T_ASSERT(sp_start(&g_ox, "diff") == 0);
    redisContext *ox = sp_connect(&g_ox), *rs = sp_connect(&g_redis);
    T_ASSERT(ox && rs);
    long n = getenv("OX_DIFF_N") ? atol(getenv("OX_DIFF_N")) : 20000;
    gen g = {.seed = getenv("OX_DIFF_SEED") ? (unsigned)strtoul(getenv("OX_DIFF_SEED"), NULL, 10)
                                             : 20261124};
    long compared = 0;
    for (long i = 0; i < n; i++) {
        gen_command(&g);
        long long tol = time_tolerance(&g);
        if (rnd(&g, 10) == 0)
            wrap_in_script(&g);
        redisReply *a = redisCommandArgv(ox, g.argc, g.argv, g.len);
        redisReply *b = redisCommandArgv(rs, g.argc, g.argv, g.len);
        if (g.unordered && !intset_order(&g, b) && !hash_order(&g, rs)) {
            ref_canonical(a);
            ref_canonical(b);
        }
        int same = ref_same_reply(a, b, tol) || !redis_listpack(&g, rs) ||
                   !object_encoding_compared(&g, a, b);
        if (getenv("OX_DIFF_TRACE")) {
            char cmd[512], sa[512];
            describe(&g, cmd, sizeof cmd);
            fprintf(stderr, "%ld %s -> %s\n", i, cmd, sp_show(b, sa, sizeof sa));
        }
        if (!same) {
            char cmd[512], sa[512], sb[512];
            describe(&g, cmd, sizeof cmd);
            sp_show(a, sa, sizeof sa);
            sp_show(b, sb, sizeof sb);
            freeReplyObject(a);
            freeReplyObject(b);
            redisFree(ox);
            redisFree(rs);
            T_FAIL("command %ld: %s\n  oxistore: %s\n  redis:    %s", i, cmd, sa, sb);
        }
        freeReplyObject(a);
        freeReplyObject(b);
        compared++;
    }
    printf("%ld commands, identical replies\n", compared);
    redisFree(ox);
    redisFree(rs);
}

int main(void)
{
    for (int i = 0; i < 3; i++)
        for (size_t j = 0; j < sizeof g_long[0]; j++)
            g_long[i][j] = (char)(j < 478 ? 'L' + j % 7 : 'a' + (j * 13 + (size_t)i) % 26);
    for (int i = 0; i < LFIELDS; i++)
        for (size_t j = 0; j < g_lfield_len[i]; j++)
            g_lfield[i][j] = (char)(j < 470 ? 'F' + j % 5 : 'a' + (j * 7 + (size_t)i * 3) % 26);
    T_RUN(same_replies_as_redis_for_random_streams);
    char why[4096];
    if (g_ox.pid && sp_stop(&g_ox) != 0) {
        sp_dump_log(&g_ox);
        t_failed++;
    } else if (g_ox.pid && !sp_check(&g_ox, why, sizeof why)) { /* what the stream left */
        fprintf(stderr, "FAIL oxistore-check after the stream: %s", why);
        t_failed++;
    }
    ref_stop(&g_redis);
    return T_MAIN_END();
}
