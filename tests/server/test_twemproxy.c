/* Sharding behind twemproxy (Debian's nutcracker 0.5.0): three oxistore servers behind
 * the example conf/nutcracker.yml (its ports replaced by free ones). 10000 keys written
 * through the proxy, 2000 of them with TTLs (SET EX and EXPIRE), land each on exactly one
 * server, spread over all three; every value reads back exactly through the proxy; TTLs
 * are the same through the proxy and on the owning server; MGET, DEL, UNLINK, TOUCH and
 * MSET across servers reply as one server would, EXISTS with several keys counts only
 * those on its first key's server (the proxy does not split it); a COPY between keys of
 * one {hash tag} works; the commands README.md's "Scaling out" calls unsupported make the
 * proxy close the connection. */
#include <fcntl.h>

#include "srv_util.h"

T_MAIN_BEGIN;

#define NSRV 3
#define NKEYS 10000
#define BATCH 1000

static srvp g_srv[NSRV];
static pid_t g_proxy;
static int g_proxy_port;
static char g_proxy_log[600];
static signed char g_owner[NKEYS]; /* index of the server holding key i, -1 unknown */

static int key_of(int i, char *buf, size_t cap)
{
    return snprintf(buf, cap, "key:%d", i);
}

/* "val:<i>:" then i % 50 bytes of every value (NUL, CR and LF among them). */
static size_t val_of(int i, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "val:%d:", i);
    for (int j = 0; j < i % 50 && n < cap; j++)
        buf[n++] = (char)((i * 31 + j * 7) & 0xff);
    return n;
}

/* 1: SET … EX; 2: SET then EXPIRE; 0: no TTL. The TTL itself in *secs. */
static int ttl_kind(int i, long long *secs)
{
    if (i % 10 == 1) {
        *secs = 1000 + i % 100;
        return 1;
    }
    if (i % 10 == 2) {
        *secs = 2000 + i % 100;
        return 2;
    }
    *secs = -1;
    return 0;
}

static redisContext *connect_port(int port)
{
    srvp p = {.port = port};
    return sp_connect(&p);
}

/* Connections of the running test, closed after it even when an assertion returned
 * early (LeakSanitizer would report them). */
static redisContext *g_ctx[8];
static int g_nctx;

static redisContext *ctx(int port)
{
    redisContext *c = connect_port(port);
    if (c && g_nctx < (int)(sizeof g_ctx / sizeof g_ctx[0]))
        g_ctx[g_nctx++] = c;
    return c;
}

static void ctx_close_all(void)
{
    while (g_nctx > 0)
        redisFree(g_ctx[--g_nctx]);
}

/* Replaces the first "from" in buf (cap bytes) with "to"; 0, or -1 if absent or no room. */
static int replace(char *buf, size_t cap, const char *from, const char *to)
{
    char *at = strstr(buf, from);
    size_t fl = strlen(from), tl = strlen(to), rest;
    if (!at)
        return -1;
    rest = strlen(at + fl);
    if ((size_t)(at - buf) + tl + rest + 1 > cap)
        return -1;
    memmove(at + tl, at + fl, rest + 1);
    memcpy(at, to, tl);
    return 0;
}

/* Writes conf/nutcracker.yml with the proxy's and the servers' ports replaced, starts
 * nutcracker on it and polls (deadline 15 s) until PING through it answers PONG. */
static int proxy_start(void)
{
    const char *base = t_dir();
    static char yml[8192];
    char path[600], from[64], to[64];
    FILE *f = fopen(OX_SRC_DIR "/conf/nutcracker.yml", "r");
    if (!f)
        return -1;
    size_t n = fread(yml, 1, sizeof yml - 1, f);
    fclose(f);
    yml[n] = '\0';
    g_proxy_port = sp_free_port();
    snprintf(to, sizeof to, "listen: 127.0.0.1:%d", g_proxy_port);
    if (replace(yml, sizeof yml, "listen: 127.0.0.1:22121", to))
        return -1;
    for (int s = 0; s < NSRV; s++) {
        snprintf(from, sizeof from, "127.0.0.1:%d:", 7001 + s);
        snprintf(to, sizeof to, "127.0.0.1:%d:", g_srv[s].port);
        if (replace(yml, sizeof yml, from, to))
            return -1;
    }
    snprintf(path, sizeof path, "%s/nutcracker.yml", base);
    snprintf(g_proxy_log, sizeof g_proxy_log, "%s/nutcracker.log", base);
    if (!(f = fopen(path, "w")) || fputs(yml, f) < 0 || fclose(f))
        return -1;
    char stats[16];
    snprintf(stats, sizeof stats, "%d", sp_free_port());
    g_proxy = fork();
    if (g_proxy < 0)
        return -1;
    if (g_proxy == 0) {
        int fd = open(g_proxy_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        sp_die_with_parent();
        execlp("nutcracker", "nutcracker", "-c", path, "-o", g_proxy_log, "-s", stats, "-a",
               "127.0.0.1", (char *)NULL);
        _exit(127);
    }
    if (sp_wait_ready(g_proxy_port, g_proxy) == 0)
        return 0;
    kill(g_proxy, SIGKILL); /* did not answer in time, or exited (then reaped already) */
    waitpid(g_proxy, NULL, 0);
    g_proxy = 0;
    return -1;
}

static void dump_proxy_log(void)
{
    FILE *f = fopen(g_proxy_log, "r");
    char line[512];
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        fprintf(stderr, "  nutcracker | %s", line);
    fclose(f);
}

static void proxy_and_servers_start(void)
{
    for (int s = 0; s < NSRV; s++) {
        char name[16];
        snprintf(name, sizeof name, "shard%d", s);
        T_ASSERT(sp_start(&g_srv[s], name) == 0);
    }
    if (proxy_start()) {
        dump_proxy_log();
        T_FAIL("nutcracker did not answer PING on port %d", g_proxy_port);
    }
}

/* 10000 keys through the proxy, pipelined in batches; every reply exact. */
static void writes_through_proxy(void)
{
    redisContext *c = ctx(g_proxy_port);
    T_ASSERT(c);
    char key[32], val[128];
    for (int from = 0; from < NKEYS; from += BATCH) {
        int sent[BATCH];
        for (int i = from; i < from + BATCH; i++) {
            long long secs;
            int kind = ttl_kind(i, &secs);
            int kl = key_of(i, key, sizeof key);
            size_t vl = val_of(i, val, sizeof val);
            if (kind == 1)
                redisAppendCommand(c, "SET %b %b EX %lld", key, (size_t)kl, val, vl, secs);
            else
                redisAppendCommand(c, "SET %b %b", key, (size_t)kl, val, vl);
            if (kind == 2)
                redisAppendCommand(c, "EXPIRE %b %lld", key, (size_t)kl, secs);
            sent[i - from] = kind;
        }
        for (int i = from; i < from + BATCH; i++) {
            redisReply *r;
            char show[256];
            T_ASSERT(redisGetReply(c, (void **)&r) == REDIS_OK);
            sp_show(r, show, sizeof show);
            freeReplyObject(r);
            if (strcmp(show, "+OK"))
                T_FAIL("SET key:%d through the proxy: %s", i, show);
            if (sent[i - from] == 2) {
                T_ASSERT(redisGetReply(c, (void **)&r) == REDIS_OK);
                sp_show(r, show, sizeof show);
                freeReplyObject(r);
                if (strcmp(show, ":1"))
                    T_FAIL("EXPIRE key:%d through the proxy: %s", i, show);
            }
        }
    }
}

/* Each key on exactly one server (EXISTS asked of all three), DBSIZE adding up to 10000,
 * every server with at least 15% of the keys, 2000 keys with a TTL in INFO keyspace. */
static void keys_spread_over_servers(void)
{
    redisContext *c[NSRV];
    long long total = 0, expires = 0;
    memset(g_owner, -1, sizeof g_owner);
    for (int s = 0; s < NSRV; s++)
        T_ASSERT((c[s] = ctx(g_srv[s].port)));
    for (int s = 0; s < NSRV; s++) {
        redisReply *r = redisCommand(c[s], "DBSIZE");
        T_ASSERT(r && r->type == REDIS_REPLY_INTEGER);
        long long n = r->integer;
        freeReplyObject(r);
        char ks[128], *e;
        sp_info_field(c[s], "keyspace", "db0", ks, sizeof ks); /* "" when empty */
        printf("shard%d (port %d): %lld keys, %s\n", s, g_srv[s].port, n, ks);
        if (n < NKEYS * 15 / 100)
            T_FAIL("shard%d holds %lld of %d keys", s, n, NKEYS);
        T_ASSERT((e = strstr(ks, "expires=")));
        expires += atoll(e + 8);
        total += n;
    }
    T_EQ_INT(total, NKEYS);
    T_EQ_INT(expires, 2000);
    char key[32];
    for (int s = 0; s < NSRV; s++) {
        for (int i = 0; i < NKEYS; i++) {
            int kl = key_of(i, key, sizeof key);
            redisAppendCommand(c[s], "EXISTS %b", key, (size_t)kl);
        }
        for (int i = 0; i < NKEYS; i++) {
            redisReply *r;
            T_ASSERT(redisGetReply(c[s], (void **)&r) == REDIS_OK);
            int has = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
            freeReplyObject(r);
            if (has && g_owner[i] >= 0)
                T_FAIL("key:%d is on shard%d and shard%d", i, g_owner[i], s);
            if (has)
                g_owner[i] = (signed char)s;
        }
    }
    for (int i = 0; i < NKEYS; i++)
        if (g_owner[i] < 0)
            T_FAIL("key:%d is on no server", i);
}

static void values_read_back_through_proxy(void)
{
    redisContext *c = ctx(g_proxy_port);
    T_ASSERT(c);
    char key[32], val[128];
    for (int i = 0; i < NKEYS; i++) {
        int kl = key_of(i, key, sizeof key);
        redisAppendCommand(c, "GET %b", key, (size_t)kl);
    }
    for (int i = 0; i < NKEYS; i++) {
        redisReply *r;
        T_ASSERT(redisGetReply(c, (void **)&r) == REDIS_OK);
        size_t vl = val_of(i, val, sizeof val);
        int same = r->type == REDIS_REPLY_STRING && r->len == vl && !memcmp(r->str, val, vl);
        char show[256];
        sp_show(r, show, sizeof show);
        freeReplyObject(r);
        if (!same)
            T_FAIL("GET key:%d through the proxy: %s", i, show);
    }
}

/* TTL of every key through the proxy and on its owner: -1 without one, else within a
 * minute below what was set (the writes were moments ago). */
static void ttls_through_proxy_and_on_owner(void)
{
    redisContext *p = ctx(g_proxy_port), *c[NSRV];
    T_ASSERT(p);
    for (int s = 0; s < NSRV; s++)
        T_ASSERT((c[s] = ctx(g_srv[s].port)));
    char key[32];
    for (int i = 0; i < NKEYS; i++) {
        int kl = key_of(i, key, sizeof key);
        redisAppendCommand(p, "TTL %b", key, (size_t)kl);
        redisAppendCommand(c[(int)g_owner[i]], "TTL %b", key, (size_t)kl);
    }
    int with_ttl = 0;
    for (int i = 0; i < NKEYS; i++) {
        long long want, got[2];
        redisReply *r;
        int kind = ttl_kind(i, &want);
        T_ASSERT(redisGetReply(p, (void **)&r) == REDIS_OK);
        got[0] = r->type == REDIS_REPLY_INTEGER ? r->integer : -100;
        freeReplyObject(r);
        T_ASSERT(redisGetReply(c[(int)g_owner[i]], (void **)&r) == REDIS_OK);
        got[1] = r->type == REDIS_REPLY_INTEGER ? r->integer : -100;
        freeReplyObject(r);
        for (int w = 0; w < 2; w++) {
            int ok = kind ? got[w] <= want && got[w] >= want - 60 : got[w] == -1;
            if (!ok)
                T_FAIL("TTL key:%d %s: %lld, set %lld", i,
                       w ? "on its server" : "through the proxy", got[w], want);
        }
        with_ttl += kind != 0;
    }
    T_EQ_INT(with_ttl, 2000);
}

/* The first key (from 0 up) held by shard s and not in used[]; -1 if none. */
static int key_on(int s, const int *used, int nused)
{
    for (int i = 0; i < NKEYS; i++) {
        int taken = 0;
        for (int u = 0; u < nused; u++)
            taken |= used[u] == i;
        if (g_owner[i] == s && !taken)
            return i;
    }
    return -1;
}

static long long total_dbsize(void)
{
    long long total = 0;
    for (int s = 0; s < NSRV; s++) {
        redisContext *c = connect_port(g_srv[s].port);
        redisReply *r = c ? redisCommand(c, "DBSIZE") : NULL;
        total += r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1000000;
        freeReplyObject(r);
        redisFree(c);
    }
    return total;
}

/* Multi-key commands spanning the three servers: the proxy splits them by key and joins
 * the replies; each must read as one server's would. */
static void multikey_commands_across_servers(void)
{
    int k[6], nk = 0;
    for (int s = 0; s < NSRV; s++)
        for (int twice = 0; twice < 2; twice++, nk++)
            T_ASSERT((k[nk] = key_on(s, k, nk)) >= 0);
    char key[6][32], val[128];
    for (int j = 0; j < 6; j++)
        key_of(k[j], key[j], sizeof key[j]);
    redisContext *c = ctx(g_proxy_port);
    T_ASSERT(c);

    /* MGET: shard0, missing, shard1, shard2, shard0 again: in request order. */
    redisReply *r = redisCommand(c, "MGET %s nosuchkey %s %s %s", key[0], key[2], key[4], key[0]);
    int order[5] = {0, -1, 2, 4, 0}, same = r && r->type == REDIS_REPLY_ARRAY && r->elements == 5;
    for (int e = 0; same && e < 5; e++) {
        redisReply *el = r->element[e];
        size_t vl = order[e] < 0 ? 0 : val_of(k[order[e]], val, sizeof val);
        same = order[e] < 0 ? el->type == REDIS_REPLY_NIL
                            : el->type == REDIS_REPLY_STRING && el->len == vl &&
                                  !memcmp(el->str, val, vl);
    }
    freeReplyObject(r);
    if (!same)
        T_FAIL("MGET over the three servers: not the five replies in request order");

    /* EXISTS goes whole to its first key's server: of these six keys (two per server) it
     * counts the two on shard0. */
    T_CMD(c, ":2", "EXISTS %s %s %s %s %s nosuchkey %s", key[0], key[1], key[2], key[3], key[4],
          key[5]);
    T_CMD(c, ":3", "TOUCH %s %s %s nosuchkey", key[1], key[3], key[5]);
    /* DEL over three servers, one key twice, one missing: each deleted key counted once. */
    T_CMD(c, ":3", "DEL %s %s %s nosuchkey %s", key[0], key[2], key[4], key[2]);
    T_CMD(c, ":2", "UNLINK %s %s nosuchkey", key[1], key[3]);
    redisContext *own[NSRV];
    for (int s = 0; s < NSRV; s++)
        T_ASSERT((own[s] = ctx(g_srv[s].port)));
    for (int j = 0; j < 6; j++) {
        T_CMD(own[(int)g_owner[k[j]]], j == 5 ? ":1" : ":0", "EXISTS %s", key[j]);
        T_CMD(c, j == 5 ? ":1" : ":0", "EXISTS %s", key[j]);
    }
    T_EQ_INT(total_dbsize(), NKEYS - 5);

    T_CMD(c, "+OK", "MSET m:a 1 m:b 2 m:c 3 m:d 4 m:e 5 m:f 6");
    r = redisCommand(c, "MGET m:a m:b m:c m:d m:e m:f");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 6);
    for (int e = 0; e < 6; e++) {
        char want[2] = {(char)('1' + e), 0};
        T_EQ_MEM(r->element[e]->str, r->element[e]->len, want, 1);
    }
    freeReplyObject(r);
    T_EQ_INT(total_dbsize(), NKEYS - 5 + 6);

    /* The proxy routes COPY by its first key: right when both share a {hash tag}. */
    T_CMD(c, "+OK", "SET {user:7}:name alice");
    T_CMD(c, ":1", "COPY {user:7}:name {user:7}:copy");
    T_CMD(c, "$5 alice", "GET {user:7}:copy");
}

/* What README.md's "Scaling out" lists as refused: the proxy closes the connection (its
 * log says "parsed unsupported command"), no reply at all. */
/* Hashes, lists, sets and sorted sets through the proxy: single-key commands go to the
 * key's server, and each collection lives whole on exactly one server. */
static void collections_through_proxy(void)
{
    redisContext *c = ctx(g_proxy_port);
    T_ASSERT(c);
    T_CMD(c, ":2", "HSET coll:h f1 v1 f2 v2");
    T_CMD(c, "$2 v2", "HGET coll:h f2");
    T_CMD(c, ":2", "HLEN coll:h");
    T_CMD(c, ":3", "RPUSH coll:l a b c");
    T_CMD(c, "$1 a", "LPOP coll:l");
    T_CMD(c, ":2", "LLEN coll:l");
    T_CMD(c, ":2", "SADD coll:s x y");
    T_CMD(c, ":1", "SISMEMBER coll:s y");
    T_CMD(c, ":2", "ZADD coll:z 1 m 2 n");
    T_CMD(c, "$1 2", "ZSCORE coll:z n");
    T_CMD(c, ":1", "ZRANK coll:z n");
    static const char *const keys[][2] = {
        {"coll:h", "hash"}, {"coll:l", "list"}, {"coll:s", "set"}, {"coll:z", "zset"}};
    for (size_t i = 0; i < 4; i++) {
        int held = 0;
        for (int s2 = 0; s2 < NSRV; s2++) {
            redisContext *d = connect_port(g_srv[s2].port);
            redisReply *r = d ? redisCommand(d, "TYPE %s", keys[i][0]) : NULL;
            held += r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, keys[i][1]);
            freeReplyObject(r);
            redisFree(d);
        }
        if (held != 1)
            T_FAIL("%s is a %s on %d servers", keys[i][0], keys[i][1], held);
    }
    T_CMD(c, ":4", "DEL coll:h coll:l coll:s coll:z");
}

/* Sends fmt (with arg for its one %s, if it has one) on a new connection to the proxy: 1 if
 * the proxy closed it without a reply; show gets what came. */
static int proxy_closes(const char *fmt, const char *arg, char *show, size_t cap)
{
    redisContext *d = connect_port(g_proxy_port);
    if (!d) {
        snprintf(show, cap, "(no connection)");
        return 0;
    }
    redisReply *r = arg ? redisCommand(d, fmt, arg) : redisCommand(d, fmt);
    sp_show(r, show, cap);
    int closed = !r && d->err == REDIS_ERR_EOF;
    freeReplyObject(r);
    redisFree(d);
    return closed;
}

/* EVAL and EVALSHA go to the server of their first key (nutcracker requires one: numkeys
 * 0 is refused); the script's writes land there. SCRIPT is not routed: load a script on
 * each server directly, or send EVAL (it caches the script where it runs). */
static void scripts_through_proxy(void)
{
    redisContext *c = ctx(g_proxy_port);
    T_ASSERT(c);
    static const char body[] = "return redis.call('incr', KEYS[1])";
    for (int i = 0; i < 3; i++)
        T_CMD(c, i == 0 ? ":1" : i == 1 ? ":2" : ":3", "EVAL %s 1 ev:k", body);
    T_CMD(c, ":4", "EVALSHA %s 1 ev:k", "2bab3b661081db58bd2341920e0ba7cf5dc77b25");
    int held = 0;
    for (int s2 = 0; s2 < NSRV; s2++) {
        redisContext *d = connect_port(g_srv[s2].port);
        redisReply *r = d ? redisCommand(d, "GET ev:k") : NULL;
        held += r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "4");
        freeReplyObject(r);
        redisFree(d);
    }
    T_EQ_INT(held, 1);
    T_CMD(c, ":1", "DEL ev:k");
    static const char *const refused[] = {"EVAL %s 0", "SCRIPT LOAD %s", "FCALL %s 1 k",
                                          "FUNCTION LIST %s"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char show[256];
        if (!proxy_closes(refused[i], i == 3 ? "WITHCODE" : "return 1", show, sizeof show))
            T_FAIL("%s through the proxy: %s, expected the connection closed", refused[i], show);
    }
}

static void unsupported_commands_close_the_connection(void)
{
    static const char *const cmds[] = {
        "KEYS *", "SCAN 0", "RANDOMKEY", "DBSIZE", "FLUSHDB", "FLUSHALL", "SELECT 1", "SWAPDB 0 1",
        "MOVE k 1", "RENAME a b", "RENAMENX a b", "MSETNX a 1 b 2", "BITOP AND d a b",
        "LCS a b", "EXPIRETIME k", "PEXPIRETIME k", "OBJECT ENCODING k", "MULTI", "EXEC",
        "WATCH k", "INFO", "CONFIG GET port", "TIME", "SAVE", "HELLO 3", "ECHO x",
        "CLIENT SETNAME a", "SHUTDOWN"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char show[256];
        if (!proxy_closes(cmds[i], NULL, show, sizeof show))
            T_FAIL("%s through the proxy: %s, expected the connection closed", cmds[i], show);
    }
    redisContext *c = ctx(g_proxy_port);
    T_ASSERT(c);
    T_CMD(c, "+PONG", "PING");
    T_EQ_INT(total_dbsize(), NKEYS - 5 + 6 + 2); /* FLUSHDB, FLUSHALL reached no server */
}

static void proxy_and_servers_stop(void)
{
    int status = 0;
    T_ASSERT(g_proxy > 0);
    kill(g_proxy, SIGTERM);
    T_ASSERT(waitpid(g_proxy, &status, 0) == g_proxy);
    g_proxy = 0;
    int bad = 0;
    for (int s = 0; s < NSRV; s++)
        bad += sp_stop_or_dump(&g_srv[s]);
    T_EQ_INT(bad, 0);
}

#define RUN(fn)                                                                         \
    do {                                                                                \
        T_RUN(fn);                                                                      \
        ctx_close_all();                                                                \
    } while (0)

int main(void)
{
    /* The RESULT line must not wait in a buffer LeakSanitizer's exit would drop. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN(proxy_and_servers_start);
    if (!t_failed) {
        RUN(writes_through_proxy);
        RUN(keys_spread_over_servers);
        RUN(values_read_back_through_proxy);
        if (!t_failed) /* these need every key's owner */
            RUN(ttls_through_proxy_and_on_owner);
        if (!t_failed)
            RUN(multikey_commands_across_servers);
        RUN(collections_through_proxy);
        RUN(scripts_through_proxy);
        RUN(unsupported_commands_close_the_connection);
        RUN(proxy_and_servers_stop);
    }
    if (t_failed)
        dump_proxy_log();
    if (g_proxy > 0)
        kill(g_proxy, SIGKILL);
    for (int s = 0; s < NSRV; s++)
        sp_kill(&g_srv[s]);
    return T_MAIN_END();
}
