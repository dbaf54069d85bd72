/* Keys of 511, 512, 4 KiB and 1 MiB bytes (LMDB's own limit is 511) through every command
 * that takes a key, compared reply by reply with a real redis-server 7.0; SCAN cursors
 * over long keys sharing their first 478 bytes; long keys across a restart. */
#include <strings.h>

#include "ref_util.h"

T_MAIN_BEGIN;

static srvp g_ox, g_redis;

/* The keys of one round: A, B (another first byte), C (A with its last byte changed: the
 * same first 478 bytes), D, E (other first bytes). */
enum { KA, KB, KC, KD, KE, NKEYS };
static char *g_key[NKEYS];
static size_t g_klen;

static void make_keys(size_t len)
{
    for (int i = 0; i < NKEYS; i++) {
        free(g_key[i]);
        g_key[i] = malloc(len);
        for (size_t j = 0; j < len; j++)
            g_key[i][j] = (char)('a' + (j * 7 + j / 26) % 26);
    }
    g_key[KB][0] = 'B';
    g_key[KC][len - 1] ^= 1;
    g_key[KD][0] = 'D';
    g_key[KE][0] = 'E';
    g_klen = len;
}

/* A command as words; "@A".."@E" stand for the round's keys, "@P" for a MATCH pattern:
 * A's first 500 bytes and '*'. */
static const char *const script[][8] = {
    {"SET", "@A", "v"}, {"GET", "@A"}, {"GET", "@C"}, {"EXISTS", "@A", "@B", "@C", "@A"},
    {"STRLEN", "@A"}, {"APPEND", "@A", "xyz"}, {"GETRANGE", "@A", "0", "2"},
    {"SUBSTR", "@A", "1", "3"}, {"SETRANGE", "@A", "2", "QQ"}, {"GET", "@A"},
    {"SETBIT", "@C", "7", "1"}, {"GETBIT", "@C", "7"}, {"BITCOUNT", "@C"},
    {"BITPOS", "@C", "1"}, {"BITPOS", "@C", "0", "0", "-1"},
    {"GETSET", "@A", "new"}, {"GETDEL", "@A"}, {"GET", "@A"}, {"SET", "@A", "10"},
    {"INCR", "@A"}, {"DECR", "@A"}, {"INCRBY", "@A", "5"}, {"DECRBY", "@A", "2"},
    {"INCRBYFLOAT", "@A", "1.5"}, {"SETNX", "@A", "x"}, {"SETNX", "@B", "y"},
    {"MSET", "@A", "1", "@B", "2", "@C", "3"}, {"MGET", "@A", "@B", "@C", "@D"},
    {"MSETNX", "@A", "1", "@D", "2"}, {"MSETNX", "@D", "1", "@E", "2"}, {"TYPE", "@A"},
    {"TYPE", "@D"}, {"TTL", "@A"}, {"EXPIRE", "@A", "100"}, {"TTL", "@A"}, {"PTTL", "@A"},
    {"EXPIRE", "@A", "50", "GT"}, {"PERSIST", "@A"}, {"PERSIST", "@A"},
    {"PEXPIRE", "@A", "100000"}, {"EXPIREAT", "@B", "99999999999"},
    {"PEXPIREAT", "@C", "99999999999999"}, {"EXPIRETIME", "@B"}, {"PEXPIRETIME", "@C"},
    {"SETEX", "@A", "100", "v"}, {"PSETEX", "@B", "100000", "w"},
    {"GETEX", "@A", "PERSIST"}, {"TTL", "@A"}, {"GETEX", "@A", "EX", "200"},
    {"SET", "@A", "z", "EX", "100", "GET"}, {"SET", "@A", "k", "KEEPTTL"}, {"TTL", "@A"},
    {"SET", "@A", "q", "NX"}, {"SET", "@E", "q", "XX"}, {"LCS", "@A", "@B"},
    {"LCS", "@A", "@B", "LEN"}, {"KEYS", "*"}, {"KEYS", "@P"},
    {"SCAN", "0", "COUNT", "1000"}, {"SCAN", "0", "MATCH", "@P", "COUNT", "1000"},
    {"DBSIZE"}, {"RENAME", "@A", "@E"}, {"EXISTS", "@A", "@E"}, {"TTL", "@E"},
    {"RENAMENX", "@E", "@B"}, {"RENAMENX", "@E", "@A"}, {"COPY", "@A", "@E"},
    {"COPY", "@A", "@B", "REPLACE"}, {"GET", "@B"}, {"MOVE", "@A", "1"},
    {"SELECT", "1"}, {"GET", "@A"}, {"TTL", "@A"}, {"DEL", "@A"}, {"SELECT", "0"},
    {"DEL", "@A", "@B"}, {"UNLINK", "@C", "@D"}, {"TOUCH", "@A", "@E", "@B"},
    {"KEYS", "*"}, {"RANDOMKEY"}, {"DBSIZE"}, {"FLUSHDB"}, {"DBSIZE"},
    {"SET", "@A", "w"}, {"WATCH", "@A"}, {"MULTI"}, {"SET", "@A", "in"}, {"GET", "@A"},
    {"EXEC"}, {"WATCH", "@C"}, {"SET", "@C", "out"}, {"MULTI"}, {"SET", "@C", "in"},
    {"EXEC"}, {"GET", "@C"}, {"FLUSHALL"},
};

static long long tolerance(const char *cmd)
{
    if (!strcasecmp(cmd, "TTL") || !strcasecmp(cmd, "EXPIRETIME"))
        return 1;
    return !strcasecmp(cmd, "PTTL") || !strcasecmp(cmd, "PEXPIRETIME") ? 1000 : 0;
}

static void every_command_takes_long_keys_as_redis_does(void)
{
    T_ASSERT(sp_start_redis(&g_redis, "redis") == 0);
    T_ASSERT(sp_start(&g_ox, "longkeys") == 0);
    redisContext *ox = sp_connect(&g_ox), *rs = sp_connect(&g_redis);
    T_ASSERT(ox && rs);
    static const size_t lens[] = {511, 512, 4096, 1 << 20};
    char pat[501];
    for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
        make_keys(lens[li]);
        memcpy(pat, g_key[KA], 500);
        pat[500] = '*';
        for (size_t c = 0; c < sizeof script / sizeof *script; c++) {
            const char *argv[8];
            size_t alen[8];
            int argc = 0;
            for (; argc < 8 && script[c][argc]; argc++) {
                const char *w = script[c][argc];
                if (w[0] == '@' && w[1] == 'P') {
                    argv[argc] = pat;
                    alen[argc] = sizeof pat;
                } else if (w[0] == '@') {
                    argv[argc] = g_key[w[1] - 'A'];
                    alen[argc] = g_klen;
                } else {
                    argv[argc] = w;
                    alen[argc] = strlen(w);
                }
            }
            redisReply *a = redisCommandArgv(ox, argc, argv, alen);
            redisReply *b = redisCommandArgv(rs, argc, argv, alen);
            if (!strcasecmp(argv[0], "KEYS") || !strcasecmp(argv[0], "SCAN")) {
                ref_canonical(a);
                ref_canonical(b);
            }
            int same = ref_same_reply(a, b, tolerance(argv[0]));
            char sa[256], sb[256];
            sp_show(a, sa, sizeof sa);
            sp_show(b, sb, sizeof sb);
            freeReplyObject(a);
            freeReplyObject(b);
            if (!same)
                T_FAIL("keys of %zu bytes, command %zu (%s): oxistore %s, redis %s", lens[li], c,
                       argv[0], sa, sb);
        }
    }
    redisFree(ox);
    redisFree(rs);
}

/* 300 long keys with the same first 478 bytes (their order is by hash), 100 short ones:
 * SCAN COUNT 1 (and 7) visits each exactly once and ends; MATCH with a literal prefix of
 * 500 bytes finds exactly its keys. */
static void scan_cursors_walk_long_keys_exactly_once(void)
{
    redisContext *c = sp_connect(&g_ox);
    T_ASSERT(c);
    enum { NLONG = 300, NSHORT = 100 };
    char k[1000];
    memset(k, 'p', sizeof k);
    for (int i = 0; i < NLONG + NSHORT; i++) {
        size_t len = i < NLONG ? 600 + (size_t)(i % 3) * 200 : 20;
        snprintf(k + (i < NLONG ? 490 : 5), 16, "%05d", i);
        k[(i < NLONG ? 490 : 5) + 5] = 'x';
        redisAppendCommand(c, "SET %b %d", k, len, i);
    }
    for (int i = 0; i < NLONG + NSHORT; i++) {
        redisReply *r;
        T_ASSERT(redisGetReply(c, (void **)&r) == REDIS_OK);
        freeReplyObject(r);
    }
    static const int counts[] = {1, 7};
    for (int ci = 0; ci < 2; ci++) {
        int seen[NLONG + NSHORT] = {0}, calls = 0;
        char cursor[32] = "0";
        do {
            redisReply *r = redisCommand(c, "SCAN %s COUNT %d", cursor, counts[ci]);
            T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
            snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
            for (size_t j = 0; j < r->element[1]->elements; j++) {
                redisReply *e = r->element[1]->element[j];
                size_t at = e->len > 100 ? 490 : 5;
                int i = atoi(e->str + at);
                if (i >= 0 && i < NLONG + NSHORT)
                    seen[i]++;
            }
            freeReplyObject(r);
            T_ASSERT(++calls <= NLONG + NSHORT + 2);
        } while (strcmp(cursor, "0"));
        for (int i = 0; i < NLONG + NSHORT; i++)
            if (seen[i] != 1)
                T_FAIL("COUNT %d: key %d seen %d times", counts[ci], i, seen[i]);
    }
    /* "ppp…p00012*" with 490 p's: keys 120..129 are not 00012x, only 12 is. */
    memset(k, 'p', 490);
    memcpy(k + 490, "00012*", 6);
    redisReply *r = redisCommand(c, "KEYS %b", k, (size_t)496);
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY);
    size_t n = r->elements, len0 = n ? r->element[0]->len : 0;
    freeReplyObject(r);
    T_EQ_U64(n, 1);
    T_EQ_U64(len0, 600);
    T_CMD(c, "+OK", "FLUSHALL");
    redisFree(c);
}

/* A 1 MiB key with a TTL and a 600-byte one are there after a SIGKILL and a restart. */
static void long_keys_survive_a_kill(void)
{
    redisContext *c = sp_connect(&g_ox);
    T_ASSERT(c);
    make_keys(1 << 20);
    redisReply *r = redisCommand(c, "SET %b big EX 1000", g_key[KA], g_klen);
    T_ASSERT(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    T_CMD(c, "+OK", "SET %b small", g_key[KB], (size_t)600);
    redisFree(c);
    sp_kill(&g_ox);
    T_ASSERT(sp_start(&g_ox, "longkeys") == 0); /* the same port and directory */
    c = sp_connect(&g_ox);
    T_ASSERT(c);
    T_CMD(c, "$3 big", "GET %b", g_key[KA], g_klen);
    T_CMD(c, "$5 small", "GET %b", g_key[KB], (size_t)600);
    T_CMD(c, "(nil)", "GET %b", g_key[KC], g_klen);
    r = redisCommand(c, "TTL %b", g_key[KA], g_klen);
    T_ASSERT(r && r->type == REDIS_REPLY_INTEGER && r->integer > 900 && r->integer <= 1000);
    freeReplyObject(r);
    T_CMD(c, ":2", "DBSIZE");
    redisFree(c);
}

int main(void)
{
    T_RUN(every_command_takes_long_keys_as_redis_does);
    T_RUN(scan_cursors_walk_long_keys_exactly_once);
    T_RUN(long_keys_survive_a_kill);
    for (int i = 0; i < NKEYS; i++)
        free(g_key[i]);
    ref_stop(&g_redis);
    if (g_ox.pid && sp_stop(&g_ox) != 0) {
        sp_dump_log(&g_ox);
        t_failed++;
    }
    return T_MAIN_END();
}
