/* Sets: every command's exact replies and errors (Redis 7.0's), the algebra (SINTER,
 * SUNION, SDIFF, their STORE forms, SINTERCARD) over missing keys and wrong types, SPOP and
 * SRANDMEMBER's counts, SMOVE's cases, RESP3 set replies, and a large set's algebra and
 * SPOP streamed and reclaimed. Members come back in byte order (Redis's order for sets
 * is unspecified). */
#include "ref_util.h"
#include "srv_util.h"

T_MAIN_BEGIN;

static srvp g_srv;

static void server_starts(void)
{
    if (sp_start(&g_srv, "set")) {
        sp_dump_log(&g_srv);
        T_FAIL("server did not start");
    }
}

static void set_commands_reply_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, ":3", "SADD s a b c");
    T_CMD(c, ":1", "SADD s a d");
    T_CMD(c, "-ERR wrong number of arguments for 'sadd' command", "SADD s");
    T_CMD(c, ":1", "SREM s a zz");
    T_CMD(c, ":0", "SREM nokey a");
    T_CMD(c, ":3", "SCARD s");
    T_CMD(c, ":0", "SCARD nokey");
    T_CMD(c, ":1", "SISMEMBER s b");
    T_CMD(c, ":0", "SISMEMBER s a");
    T_CMD(c, ":0", "SISMEMBER nokey a");
    T_DEEP(c, "*3 [:0, :1, :0]", "SMISMEMBER s a b zz");
    T_DEEP(c, "*2 [:0, :0]", "SMISMEMBER nokey a b");
    T_DEEP(c, "*3 [$1 b, $1 c, $1 d]", "SMEMBERS s");
    T_DEEP(c, "*0 []", "SMEMBERS nokey");
    /* The last member removed deletes the key. */
    T_CMD(c, ":1", "SADD gone x");
    T_CMD(c, ":1", "SREM gone x");
    T_CMD(c, ":0", "EXISTS gone");
    T_CMD(c, "+set", "TYPE s");
    redisFree(c);
}

static void algebra_replies_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    const char *wt = "-WRONGTYPE Operation against a key holding the wrong kind of value";
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, ":3", "SADD s b c d");
    T_CMD(c, ":3", "SADD t c d e");
    T_CMD(c, ":3", "SADD u d e f");
    T_CMD(c, "+OK", "SET str x");
    T_DEEP(c, "*2 [$1 c, $1 d]", "SINTER s t");
    T_DEEP(c, "*1 [$1 d]", "SINTER s t u");
    T_DEEP(c, "*1 [$1 d]", "SINTER s t u s");
    T_DEEP(c, "*0 []", "SINTER s nokey");
    T_DEEP(c, "*5 [$1 b, $1 c, $1 d, $1 e, $1 f]", "SUNION s t u");
    T_DEEP(c, "*3 [$1 b, $1 c, $1 d]", "SUNION s nokey");
    T_DEEP(c, "*0 []", "SUNION nokey");
    T_DEEP(c, "*1 [$1 b]", "SDIFF s t");
    T_DEEP(c, "*0 []", "SDIFF t s u");
    T_DEEP(c, "*3 [$1 b, $1 c, $1 d]", "SDIFF s nokey");
    T_DEEP(c, "*0 []", "SDIFF nokey s");
    /* Every key is type-checked, missing ones first or not. */
    T_CMD(c, wt, "SINTER s str");
    T_CMD(c, wt, "SINTER nokey str");
    T_CMD(c, wt, "SUNION nokey str");
    T_CMD(c, wt, "SDIFF nokey str");
    T_CMD(c, wt, "SINTERCARD 2 s str");
    /* STORE: the result replaces the destination, whatever it held; empty deletes it. */
    T_CMD(c, ":2", "SINTERSTORE dst s t");
    T_DEEP(c, "*2 [$1 c, $1 d]", "SMEMBERS dst");
    T_CMD(c, ":5", "SUNIONSTORE dst s u t");
    T_DEEP(c, "*5 [$1 b, $1 c, $1 d, $1 e, $1 f]", "SMEMBERS dst");
    T_CMD(c, ":1", "SDIFFSTORE dst s t");
    T_DEEP(c, "*1 [$1 b]", "SMEMBERS dst");
    T_CMD(c, ":0", "SDIFFSTORE dst nokey s");
    T_CMD(c, ":0", "EXISTS dst");
    T_CMD(c, ":1", "EXPIRE s 1000");
    T_CMD(c, ":3", "SUNIONSTORE s s");   /* a source as its own destination */
    T_CMD(c, ":-1", "TTL s");            /* the stored result has no expiry time */
    T_DEEP(c, "*3 [$1 b, $1 c, $1 d]", "SMEMBERS s");
    T_CMD(c, ":3", "SINTERSTORE str s"); /* a string replaced by a set */
    T_CMD(c, "+set", "TYPE str");
    T_CMD(c, ":2", "SINTERCARD 2 s t");
    T_CMD(c, ":1", "SINTERCARD 3 s t u LIMIT 0");
    T_CMD(c, ":1", "SINTERCARD 2 s t limit 1");
    T_CMD(c, ":0", "SINTERCARD 2 s nokey");
    T_CMD(c, "-ERR numkeys should be greater than 0", "SINTERCARD 0 s");
    T_CMD(c, "-ERR numkeys should be greater than 0", "SINTERCARD x s");
    T_CMD(c, "-ERR Number of keys can't be greater than number of args", "SINTERCARD 5 s");
    T_CMD(c, "-ERR LIMIT can't be negative", "SINTERCARD 1 s LIMIT -1");
    T_CMD(c, "-ERR LIMIT can't be negative", "SINTERCARD 1 s LIMIT x");
    T_CMD(c, "-ERR syntax error", "SINTERCARD 1 s LIMIT");
    T_CMD(c, "-ERR syntax error", "SINTERCARD 1 s bogus 1");
    redisFree(c);
}

static void smove_spop_srandmember_reply_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    const char *wt = "-WRONGTYPE Operation against a key holding the wrong kind of value";
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, ":3", "SADD s a b c");
    T_CMD(c, ":1", "SADD t c");
    T_CMD(c, "+OK", "SET str x");
    T_CMD(c, ":1", "SMOVE s t b");
    T_CMD(c, ":1", "SMOVE s t c");       /* already in t: moved, t unchanged */
    T_DEEP(c, "*1 [$1 a]", "SMEMBERS s");
    T_DEEP(c, "*2 [$1 b, $1 c]", "SMEMBERS t");
    T_CMD(c, ":0", "SMOVE s t zz");
    T_CMD(c, ":0", "SMOVE nokey str a"); /* a missing source: 0 before any type check */
    T_CMD(c, wt, "SMOVE s str a");
    T_CMD(c, wt, "SMOVE str s a");
    T_CMD(c, ":1", "SMOVE t t b");
    T_CMD(c, ":0", "SMOVE t t zz");
    T_CMD(c, ":1", "SMOVE s fresh a");   /* the last member: s is gone, fresh is new */
    T_CMD(c, ":0", "EXISTS s");
    T_DEEP(c, "*1 [$1 a]", "SMEMBERS fresh");
    T_CMD(c, "(nil)", "SRANDMEMBER nokey");
    T_DEEP(c, "*0 []", "SRANDMEMBER nokey 5");
    T_DEEP(c, "*2 [$1 b, $1 c]", "SRANDMEMBER t 10");
    T_DEEP(c, "*0 []", "SRANDMEMBER t 0");
    T_DEEP(c, "*3 [$1 a, $1 a, $1 a]", "SRANDMEMBER fresh -3");
    T_CMD(c, "$1 a", "SRANDMEMBER fresh");
    T_CMD(c, "-ERR syntax error", "SRANDMEMBER t 1 2");
    T_CMD(c, "-ERR syntax error", "SRANDMEMBER t 1 WITHVALUES");
    T_CMD(c, "-ERR value is out of range, value must between -9223372036854775807 and "
             "9223372036854775807", "SRANDMEMBER t -9223372036854775808");
    /* SRANDMEMBER checks its argument count before its count, as Redis */
    T_CMD(c, "-ERR syntax error", "SRANDMEMBER t abc extra");
    T_CMD(c, "-ERR syntax error", "SRANDMEMBER t -9223372036854775808 x");
    /* a count no reply could hold: an empty array for a missing key, as Redis (which
     * would build the reply for a key that exists) */
    T_DEEP(c, "*0 []", "SRANDMEMBER nokey -9223372036854775807");
    T_DEEP(c, "*0 []", "HRANDFIELD nokey -9223372036854775807");
    T_DEEP(c, "*0 []", "ZRANDMEMBER nokey -4611686018427387905");
    T_CMD(c, "-ERR value is out of range", "SRANDMEMBER t -9223372036854775807");
    T_CMD(c, "(nil)", "SPOP nokey");
    T_DEEP(c, "*0 []", "SPOP nokey 3");
    T_DEEP(c, "*0 []", "SPOP t 0");
    T_CMD(c, "-ERR value is out of range, must be positive", "SPOP t -1");
    T_CMD(c, "-ERR value is out of range, must be positive", "SPOP t x");
    T_CMD(c, "-ERR syntax error", "SPOP t 1 2");
    T_CMD(c, "$1 a", "SPOP fresh");
    T_CMD(c, ":0", "EXISTS fresh");
    T_DEEP(c, "*2 [$1 b, $1 c]", "SPOP t 5");
    T_CMD(c, ":0", "EXISTS t");
    T_CMD(c, ":5", "SADD five 1 2 3 4 5");
    redisReply *r = redisCommand(c, "SPOP five 2");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    T_ASSERT(strcmp(r->element[0]->str, r->element[1]->str));
    for (int i = 0; i < 2; i++) { /* popped: gone from the set */
        redisReply *q = redisCommand(c, "SISMEMBER five %s", r->element[i]->str);
        T_EQ_INT(q->integer, 0);
        freeReplyObject(q);
    }
    freeReplyObject(r);
    T_CMD(c, ":3", "SCARD five");
    T_CMD(c, ":4", "SADD fixed 3 4 5 6");
    T_DEEP(c, "*2 [$1 0, *3 [$1 3, $1 4, $1 5]]", "SSCAN fixed 0 MATCH [345] COUNT 100");
    T_DEEP(c, "*2 [$1 0, *0 []]", "SSCAN nokey 0");
    T_CMD(c, "-ERR syntax error", "SSCAN five 0 TYPE set");
    T_CMD(c, wt, "SSCAN str 0");
    T_CMD(c, wt, "SADD str a");
    T_CMD(c, wt, "GET five");
    redisFree(c);
}

static void resp3_replies_are_sets(void)
{
    int fd = sp_raw_resp3(&g_srv);
    T_ASSERT(fd >= 0);
    T_RAW(fd, "SADD r3 a\r\n", ":1\r\n");
    T_RAW(fd, "SMEMBERS r3\r\n", "~1\r\n$1\r\na\r\n");
    T_RAW(fd, "SINTER r3 r3\r\n", "~1\r\n$1\r\na\r\n");
    T_RAW(fd, "SUNION nokey\r\n", "~0\r\n");
    T_RAW(fd, "SRANDMEMBER r3 -2\r\n", "*2\r\n$1\r\na\r\n$1\r\na\r\n");
    T_RAW(fd, "SPOP nokey 2\r\n", "~0\r\n");
    T_RAW(fd, "SPOP r3 1\r\n", "~1\r\n$1\r\na\r\n");
    T_RAW(fd, "SPOP nokey\r\n", "_\r\n");
    close(fd);
}

/* A set of at most 512 integers is an intset in Redis 7.0, which replies in numeric order
 * (encoding.h); one with a word, or 513 integers, in the store's (a hash table's, any, in
 * Redis). Replies checked against redis-server 7.0. */
static void intsets_reply_in_numeric_order(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    const char *asc = "*5 [$2 -1, $1 3, $1 9, $2 10, $3 100]";
    T_CMD(c, ":5", "SADD ints 10 9 -1 100 3");
    T_DEEP(c, asc, "SMEMBERS ints");
    T_DEEP(c, asc, "SUNION ints nokey");
    T_DEEP(c, asc, "SINTER ints ints");
    T_DEEP(c, asc, "SDIFF ints nokey");
    T_DEEP(c, asc, "SRANDMEMBER ints 5");
    T_DEEP(c, asc, "SRANDMEMBER ints 6");
    T_DEEP(c, asc, "SORT ints BY nosort");
    T_DEEP(c, asc, "SORT ints BY nosort DESC");
    T_DEEP(c, "*3 [$1 3, $1 9, $2 10]", "SORT ints BY nosort LIMIT 1 3");
    T_CMD(c, ":3", "SADD mixed 10 9 a");
    T_DEEP(c, "*3 [$2 -1, $1 3, $3 100]", "SDIFF ints mixed");
    T_DEEP(c, "*3 [$2 10, $1 9, $1 a]", "SMEMBERS mixed"); /* the store's order */
    T_CMD(c, "$9 hashtable", "OBJECT ENCODING mixed");
    T_CMD(c, "$6 intset", "OBJECT ENCODING ints");
    T_DEEP(c, asc, "SPOP ints 5");
    T_CMD(c, ":0", "EXISTS ints");
    T_CMD(c, ":6", "SADD edges 9223372036854775807 -9223372036854775808 0 -10 -9 1");
    T_DEEP(c, "*6 [$20 -9223372036854775808, $3 -10, $2 -9, $1 0, $1 1, "
              "$19 9223372036854775807]", "SMEMBERS edges");
    /* 512 integers are an intset, 513 are not */
    for (int i = 512; i >= 1; i--)
        redisAppendCommand(c, "SADD big %d", i);
    for (int i = 0; i < 512; i++) {
        redisReply *r;
        T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    redisReply *r = redisCommand(c, "SMEMBERS big");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 512);
    for (int i = 0; i < 512; i++)
        T_EQ_INT(atoi(r->element[i]->str), i + 1);
    freeReplyObject(r);
    T_CMD(c, ":1", "SADD big 513");
    r = redisCommand(c, "SMEMBERS big");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 513);
    T_EQ_STR(r->element[0]->str, "1");
    T_EQ_STR(r->element[1]->str, "10"); /* the store's order */
    freeReplyObject(r);
    redisFree(c);
}

/* 20k-member sets: the algebra streams (counts exact), SPOP of half, DEL, and every member
 * of the deleted sets reclaimed. */
static void large_sets_stream_and_are_reclaimed(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    enum { N = 20000 };
    for (int i = 0; i < N; i++) {
        redisAppendCommand(c, "SADD even %d", 2 * i);
        redisAppendCommand(c, "SADD three %d", 3 * i);
    }
    for (int i = 0; i < 2 * N; i++) {
        redisReply *r;
        T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
        T_EQ_INT(r->integer, 1);
        freeReplyObject(r);
    }
    /* multiples of 6 below 40000: 6667 (0 .. 39996) */
    T_CMD(c, ":6667", "SINTERCARD 2 even three");
    T_CMD(c, ":6667", "SINTERSTORE six even three");
    T_CMD(c, ":33333", "SUNIONSTORE any even three");
    T_CMD(c, ":13333", "SDIFFSTORE evenonly even three");
    T_CMD(c, ":100", "SINTERCARD 2 even three LIMIT 100");
    redisReply *r = redisCommand(c, "SPOP any 10000");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 10000);
    freeReplyObject(r);
    T_CMD(c, ":23333", "SCARD any");
    unsigned long long before = sp_reclaimed(c);
    T_CMD(c, ":5", "DEL even three six any evenonly");
    unsigned long long want = 2 * N + 6667 + 23333 + 13333 + 5;
    T_EQ_U64(sp_wait_reclaimed(c, before, want), want);
    T_CMD(c, ":0", "DBSIZE");
    redisFree(c);
}

/* Random picks spread over the members whatever their names look like: numbers without
 * padding (m1 follows m0 across every name that could start with m0), hex, padded, and
 * behind a prefix longer than the 24 bytes a pick draws (it overflowed a buffer). Each
 * of 2000 members is expected twice in 4000 picks; none may come 16 times (fair picks
 * come at most 10 times in practice; a member after a gap in the names, like user:8a
 * among names mostly three hex digits long, used to come 20 times). SRANDMEMBER
 * with a count gives distinct members, and SPOP with a count removes that many. */
static void random_picks_are_spread_over_the_members(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    const char *fmts[] = {"m%d", "user:%x", "element:%012d", "https://example.com/page/%d"};
    enum { N = 2000, PICKS = 4000, TOO_MANY = 16 };
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        T_CMD(c, "+OK", "FLUSHALL");
        char name[64];
        for (int i = 0; i < N; i++) {
            snprintf(name, sizeof name, fmts[f], i);
            redisAppendCommand(c, "SADD s %s", name);
        }
        for (int i = 0; i < N; i++) {
            redisReply *r;
            T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
            freeReplyObject(r);
        }
        for (int i = 0; i < PICKS; i++)
            redisAppendCommand(c, "SRANDMEMBER s");
        int counts[N] = {0}, worst = 0;
        for (int i = 0; i < PICKS; i++) {
            redisReply *r;
            T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
            T_EQ_INT(r->type, REDIS_REPLY_STRING);
            for (int k = 0; k < N; k++) { /* names are few: find it by its format */
                snprintf(name, sizeof name, fmts[f], k);
                if (!strcmp(name, r->str)) {
                    worst = ++counts[k] > worst ? counts[k] : worst;
                    break;
                }
            }
            freeReplyObject(r);
        }
        if (worst >= TOO_MANY)
            T_FAIL("%s: a member came %d times in %d picks", fmts[f], worst, PICKS);
        redisReply *r = redisCommand(c, "SRANDMEMBER s 50");
        T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 50);
        for (size_t i = 0; i < r->elements; i++)
            for (size_t j = 0; j < i; j++)
                T_ASSERT(strcmp(r->element[i]->str, r->element[j]->str) != 0);
        freeReplyObject(r);
        r = redisCommand(c, "SPOP s 50");
        T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 50);
        freeReplyObject(r);
        T_CMD(c, ":1950", "SCARD s");
    }
    redisFree(c);
}

/* A member that is the others' common prefix (id beside id_ext) is picked as often as
 * they are (it never was), and a lone member with a long name is picked at all. */
static void prefix_members_are_picked_too(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, ":2", "SADD p id id_ext");
    redisReply *r = redisCommand(c, "SRANDMEMBER p -1000");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1000);
    int id = 0;
    for (size_t i = 0; i < r->elements; i++)
        id += !strcmp(r->element[i]->str, "id");
    freeReplyObject(r);
    if (id < 350 || id > 650)
        T_FAIL("id came %d times in 1000 picks of {id, id_ext}", id);
    T_CMD(c, ":1", "SADD q session:0123456789abcdef0123456789");
    T_CMD(c, "$34 session:0123456789abcdef0123456789", "SRANDMEMBER q");
    T_CMD(c, "$34 session:0123456789abcdef0123456789", "SPOP q");
    redisFree(c);
}

/* ---- picks over names of any shape ------------------------------------------------ */

typedef struct pk_name {
    char s[48];
    int len, n;
} pk_name;

static int pk_cmp(const void *a, const void *b)
{
    const pk_name *x = a, *y = b;
    int d = memcmp(x->s, y->s, (size_t)(x->len < y->len ? x->len : y->len));
    return d ? d : x->len - y->len;
}

static unsigned pk_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

/* Fills set s with the n names (binary-safe), picks every one `each` times on average
 * with single SRANDMEMBERs, and returns how many were never picked; *worst: the most
 * picks one got. */
static int pk_count(redisContext *c, pk_name *names, int n, int each, int *worst)
{
    redisReply *ok = redisCommand(c, "FLUSHALL");
    if (!ok)
        return -1;
    freeReplyObject(ok);
    for (int i = 0; i < n; i++) {
        const char *argv[] = {"SADD", "s", names[i].s};
        size_t lens[] = {4, 1, (size_t)names[i].len};
        redisAppendCommandArgv(c, 3, argv, lens);
    }
    for (int i = 0; i < n; i++) {
        redisReply *r;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return -1;
        freeReplyObject(r);
    }
    qsort(names, (size_t)n, sizeof *names, pk_cmp);
    for (int i = 0; i < n; i++)
        names[i].n = 0;
    *worst = 0;
    for (int done = 0; done < n * each; done += 1000) {
        int batch = n * each - done < 1000 ? n * each - done : 1000;
        for (int i = 0; i < batch; i++)
            redisAppendCommand(c, "SRANDMEMBER s");
        for (int i = 0; i < batch; i++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK || r->type != REDIS_REPLY_STRING ||
                r->len >= sizeof names->s)
                return -1;
            pk_name key = {.len = (int)r->len};
            memcpy(key.s, r->str, r->len);
            pk_name *hit = bsearch(&key, names, (size_t)n, sizeof *names, pk_cmp);
            freeReplyObject(r);
            if (!hit)
                return -1;
            *worst = ++hit->n > *worst ? hit->n : *worst;
        }
    }
    int zero = 0;
    for (int i = 0; i < n; i++)
        zero += names[i].n == 0;
    return zero;
}

/* Every member is picked whatever the names look like, and about as often as the others
 * (20 picks each expected: none may come 50 times or never): numbers beside words (the
 * alphabet came from the names at either end: x0..x999 among 1000 words were never
 * picked), all 256 one-byte names (65 distinct), 200 names behind a long prefix between
 * two short ones (3 distinct), a long run of names sharing 31 bytes (3 distinct), and a
 * name that extends the one before it (1270 after 127, never picked among 0..1999). */
static void picks_reach_every_member(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    enum { EACH = 20, TOO_MANY = 50 };
    static pk_name names[2000];
    unsigned seed = 7;
    for (int shape = 0; shape < 5; shape++) {
        int n = 0;
        if (shape == 0) {
            for (; n < 1000; n++)
                names[n].len = snprintf(names[n].s, sizeof names[n].s, "x%d", n);
            for (; n < 2000; n++) {
                names[n].len = 20;
                for (int j = 0; j < 20; j++)
                    names[n].s[j] = (char)('a' + pk_rand(&seed) % 26);
            }
        } else if (shape == 1) {
            for (; n < 256; n++) {
                names[n].s[0] = (char)n;
                names[n].len = 1;
            }
        } else if (shape == 2) {
            names[n++] = (pk_name){"a", 1, 0};
            names[n++] = (pk_name){"z", 1, 0};
            for (int i = 1; i <= 200; i++, n++)
                names[n].len = snprintf(names[n].s, sizeof names[n].s,
                                        "customer:eu-west:account:%d", i);
        } else if (shape == 3) {
            names[n++] = (pk_name){"a", 1, 0};
            names[n++] = (pk_name){"b", 1, 0};
            for (int i = 0; i < 1000; i++, n++)
                names[n].len = snprintf(names[n].s, sizeof names[n].s,
                                        "axxxxxxxxxxxxxxxxxxxxxxxxxxxxxx%d", i);
        } else {
            for (; n < 2000; n++)
                names[n].len = snprintf(names[n].s, sizeof names[n].s, "%d", n);
        }
        int worst, zero = pk_count(c, names, n, EACH, &worst);
        T_ASSERT(zero >= 0);
        if (zero > 0 || worst >= TOO_MANY)
            T_FAIL("shape %d: %d of %d members never picked in %d picks, one %d times",
                   shape, zero, n, n * EACH, worst);
    }
    redisFree(c);
}

/* 20000 UUID-like names, 8 picks each expected, from the first pick on (the fences of a
 * collection this large take several calls to walk, picks go by name meanwhile): at most
 * 1% never picked (Poisson's share is 0.03%; picking by name alone, without the steps on
 * from where a point lands, 10% were). */
static void large_set_picks_reach_most_members(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    enum { N = 20000, EACH = 8 };
    static pk_name names[N];
    unsigned seed = 11;
    for (int i = 0; i < N; i++)
        names[i].len = snprintf(names[i].s, sizeof names[i].s, "%04x%04x-%04x-%04x",
                                pk_rand(&seed), pk_rand(&seed), pk_rand(&seed), (unsigned)i);
    int worst, zero = pk_count(c, names, N, EACH, &worst);
    T_ASSERT(zero >= 0);
    if (zero > N / 100)
        T_FAIL("%d of %d members never picked in %d picks", zero, N, N * EACH);
    redisFree(c);
}

/* Picks follow the set as it changes: 240 names above all 2000 others added after picks
 * began come about 240/2240 of the time (they never came: a pick drew a rank among the
 * members its cached walk had seen), so do 240 added below them, and after half the set
 * is replaced by higher names, at the same count, the new half comes too. A count whose
 * 16 times overflows is "all of them" (the server aborted allocating 2^61 slots). */
static void picks_follow_the_set_as_it_changes(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    enum { N = 2000, ADD = 240, PICKS = 1400 };
    for (int shape = 0; shape < 3; shape++) {
        T_CMD(c, "+OK", "FLUSHALL");
        for (int i = 0; i < N; i++)
            redisAppendCommand(c, "SADD s id:%08d", i);
        for (int i = 0; i < N; i++) {
            redisReply *r;
            T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
            freeReplyObject(r);
        }
        for (int i = 0; i < 50; i++) /* the cache is built */
            freeReplyObject(redisCommand(c, "SRANDMEMBER s"));
        int changed = shape == 2 ? N / 2 : ADD;
        for (int i = 0; i < changed; i++) {
            if (shape == 2)
                redisAppendCommand(c, "SREM s id:%08d", i);
            redisAppendCommand(c, "SADD s %s:%08d", shape == 1 ? "aid" : "new", i);
        }
        for (int i = 0; i < changed * (shape == 2 ? 2 : 1); i++) {
            redisReply *r;
            T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
            freeReplyObject(r);
        }
        for (int i = 0; i < PICKS; i++)
            redisAppendCommand(c, "SRANDMEMBER s");
        int fresh = 0;
        for (int i = 0; i < PICKS; i++) {
            redisReply *r;
            T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
            T_ASSERT(r->type == REDIS_REPLY_STRING);
            fresh += strncmp(r->str, "id:", 3) != 0;
            freeReplyObject(r);
        }
        /* expected: 150 (shapes 0, 1), about 700 (shape 2) */
        int least = shape == 2 ? 400 : 60;
        if (fresh < least)
            T_FAIL("shape %d: the %d members added came %d times in %d picks", shape,
                   changed, fresh, PICKS);
    }
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, ":3", "SADD s a b c");
    redisReply *r = redisCommand(c, "SRANDMEMBER s 1152921504606846977");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3);
    freeReplyObject(r);
    r = redisCommand(c, "SPOP s 1152921504606846977");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3);
    freeReplyObject(r);
    T_CMD(c, ":0", "EXISTS s");
    redisFree(c);
}

/* Names in two clusters far apart in byte order, 3600 "aid:N" below 28000 "id:N": the
 * small one has its share of 20000 picks (2278 expected; picking by name gave it 2, one
 * "id:" member took nearly all the rest), and no member more than 20 (mean 0.63). */
static void clustered_names_have_their_share(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    enum { BIG = 28000, SMALL = 3600, PICKS = 20000 };
    T_CMD(c, "+OK", "FLUSHALL");
    for (int i = 0; i < BIG + SMALL; i++)
        redisAppendCommand(c, "SADD s %s:%08d", i < BIG ? "id" : "aid", i);
    for (int i = 0; i < BIG + SMALL; i++) {
        redisReply *r;
        T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    int small = 0, worst = 0;
    static int hits[BIG + SMALL];
    memset(hits, 0, sizeof hits);
    for (int done = 0; done < PICKS; done += 1000) {
        for (int i = 0; i < 1000; i++)
            redisAppendCommand(c, "SRANDMEMBER s");
        for (int i = 0; i < 1000; i++) {
            redisReply *r;
            T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
            T_ASSERT(r->type == REDIS_REPLY_STRING);
            const char *num = strchr(r->str, ':');
            T_ASSERT(num);
            int at = atoi(num + 1);
            T_ASSERT(at >= 0 && at < BIG + SMALL);
            worst = ++hits[at] > worst ? hits[at] : worst;
            small += r->str[0] == 'a';
            freeReplyObject(r);
        }
    }
    if (small < 1700 || small > 2900 || worst > 20)
        T_FAIL("the %d-member cluster came %d times in %d picks (one member %d times)", SMALL,
               small, PICKS, worst);
    redisFree(c);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* SMEMBERS key on a and b as Redis's: exactly while b holds an intset (its numeric order),
 * else the same members in any order. 1 if so. */
static int same_members(redisContext *a, redisContext *b, const char *key, int intset)
{
    redisReply *x = redisCommand(a, "SMEMBERS %s", key), *y = redisCommand(b, "SMEMBERS %s", key);
    int same = x && y && x->type == REDIS_REPLY_ARRAY && y->type == REDIS_REPLY_ARRAY &&
               x->elements == y->elements;
    const char **xs = calloc(x && x->elements ? x->elements : 1, sizeof *xs);
    const char **ys = calloc(y && y->elements ? y->elements : 1, sizeof *ys);
    for (size_t i = 0; same && i < x->elements; i++) {
        xs[i] = x->element[i]->str;
        ys[i] = y->element[i]->str;
    }
    if (same && !intset) {
        qsort(xs, x->elements, sizeof *xs, str_cmp);
        qsort(ys, y->elements, sizeof *ys, str_cmp);
    }
    for (size_t i = 0; same && i < x->elements; i++)
        same = !strcmp(xs[i], ys[i]);
    if (!same)
        fprintf(stderr, "SMEMBERS %s: %zu members here, %zu in Redis\n", key,
                x ? x->elements : 0, y ? y->elements : 0);
    free(xs);
    free(ys);
    freeReplyObject(x);
    freeReplyObject(y);
    return same;
}

/* OBJECT ENCODING and SMEMBERS of every key, on a as on b. 1 if so. */
static int same_sets(redisContext *a, redisContext *b, const char *const *keys, int n, int step)
{
    for (int i = 0; i < n; i++) {
        redisReply *x = redisCommand(a, "OBJECT ENCODING %s", keys[i]);
        redisReply *y = redisCommand(b, "OBJECT ENCODING %s", keys[i]);
        int same = ref_same_reply(x, y, 0);
        int intset = y && y->type == REDIS_REPLY_STRING && !strcmp(y->str, "intset");
        if (!same)
            fprintf(stderr, "step %d: OBJECT ENCODING %s: %s here, %s in Redis\n", step,
                    keys[i], x && x->str ? x->str : "(nil)", y && y->str ? y->str : "(nil)");
        freeReplyObject(x);
        freeReplyObject(y);
        if (!same || !same_members(a, b, keys[i], intset))
            return 0;
    }
    return 1;
}

/* Redis 7.0 holds a set of integers as an intset until a member that is not one, or a
 * 513th, converts it to a hash table for good, however it shrinks after (the record's
 * flag, coll_fmt.h); the STORE forms build their destination anew. Random SADD, SREM,
 * SMOVE, SINTERSTORE, SUNIONSTORE, SDIFFSTORE, COPY and RENAME over sets that pass 512
 * members, take a word now and then, and shrink: each reply, then OBJECT ENCODING and
 * SMEMBERS of every key (an intset's in its numeric order) as Redis's; again after a kill
 * -9 and oxistore-check. */
static void sets_keep_redis_encoding_history(void)
{
    srvp ox = {0}, ref = {0};
    T_ASSERT(sp_start(&ox, "sethist") == 0 && sp_start_redis(&ref, "sethist-ref") == 0);
    redisContext *a = sp_connect(&ox), *b = sp_connect(&ref);
    T_ASSERT(a && b);
    static const char *const keys[] = {"s1", "s2", "d", "cp"};
    unsigned seed = 20261207;
    int bad = 0, shrunk = 0, most = 0;
    for (int step = 0; step < 3000 && !bad; step++) {
        unsigned r = pk_rand(&seed), op = r % 100;
        const char *k = keys[pk_rand(&seed) & 1], *o = k[1] == '1' ? "s2" : "s1";
        int grow = (step / 600) % 2 == 0; /* 600 steps growing, 600 shrinking */
        char m[3][24], cmd[160];
        for (int i = 0; i < 3; i++) {
            unsigned v = pk_rand(&seed) % 1000;
            snprintf(m[i], sizeof m[i], v % 97 == 0 ? "w%u" : "%u", v);
        }
        if (op < (grow ? 80 : 20))
            snprintf(cmd, sizeof cmd, "SADD %s %s %s %s", k, m[0], m[1], m[2]);
        else if (op < 80) /* and one of the words, so that a converted set can shrink to
                             integers alone */
            snprintf(cmd, sizeof cmd, "SREM %s %s %s w%u", k, m[0], m[1], 97 * (r % 11));
        else if (op < 84)
            snprintf(cmd, sizeof cmd, "SMOVE %s %s %s", k, o, m[0]);
        else if (op < 88)
            snprintf(cmd, sizeof cmd, "%s d %s %s", r & 64 ? "SINTERSTORE" :
                     r & 128 ? "SUNIONSTORE" : "SDIFFSTORE", k, o);
        else if (op < 92)
            snprintf(cmd, sizeof cmd, "COPY %s cp REPLACE", k);
        else if (op < 94)
            snprintf(cmd, sizeof cmd, "RENAME cp %s", k);
        else
            snprintf(cmd, sizeof cmd, "SISMEMBER %s %s", k, m[0]);
        redisReply *x = redisCommand(a, cmd), *y = redisCommand(b, cmd);
        if (!ref_same_reply(x, y, 0)) {
            fprintf(stderr, "step %d: %s differs\n", step, cmd);
            bad++;
        }
        freeReplyObject(x);
        freeReplyObject(y);
        bad += !bad && !same_sets(a, b, keys, 4, step);
        for (int i = 0; i < 2 && !bad; i++) {
            redisReply *e = redisCommand(b, "OBJECT ENCODING %s", keys[i]);
            redisReply *n = redisCommand(b, "SCARD %s", keys[i]);
            redisReply *w = redisCommand(b, "SMISMEMBER %s w0 w97 w194 w291 w388 w485 w582 "
                                         "w679 w776 w873 w970", keys[i]);
            int ht = e && e->type == REDIS_REPLY_STRING && !strcmp(e->str, "hashtable");
            int words = 0;
            for (size_t j = 0; w && j < w->elements; j++)
                words += (int)w->element[j]->integer;
            shrunk += ht && !words && n && n->integer <= 512 && n->integer > 0;
            freeReplyObject(w);
            most = n && n->integer > most ? (int)n->integer : most;
            freeReplyObject(e);
            freeReplyObject(n);
        }
    }
    T_EQ_INT(bad, 0);
    printf("%d hash tables of at most 512 integers seen, the largest set %d\n", shrunk, most);
    T_ASSERT(shrunk > 100 && most > 512);
    redisFree(a);
    char why[4096];
    if (!sp_kill_check_restart(&ox, "sethist", NULL, &a, why, sizeof why))
        T_FAIL("after the kill: %s", why);
    T_ASSERT(same_sets(a, b, keys, 4, -1));
    redisFree(a);
    redisFree(b);
    ref_stop(&ref);
    T_EQ_INT(sp_stop(&ox), 0);
}

int main(void)
{
    T_RUN(server_starts);
    if (!g_srv.pid)
        return T_MAIN_END();
    T_RUN(set_commands_reply_as_redis);
    T_RUN(algebra_replies_as_redis);
    T_RUN(smove_spop_srandmember_reply_as_redis);
    T_RUN(resp3_replies_are_sets);
    T_RUN(intsets_reply_in_numeric_order);
    T_RUN(large_sets_stream_and_are_reclaimed);
    T_RUN(random_picks_are_spread_over_the_members);
    T_RUN(prefix_members_are_picked_too);
    T_RUN(picks_reach_every_member);
    T_RUN(large_set_picks_reach_most_members);
    T_RUN(picks_follow_the_set_as_it_changes);
    T_RUN(clustered_names_have_their_share);
    T_RUN(sets_keep_redis_encoding_history);
    t_failed += sp_stop_or_dump(&g_srv);
    return T_MAIN_END();
}
