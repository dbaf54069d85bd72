/* Lists: pushes and pops at both ends (with counts), ranges and indexes, LSET, LTRIM,
 * LINSERT and LREM (which move elements), LPOS's options, LMOVE/RPOPLPUSH (a list onto
 * itself keeps its expiry time), LMPOP, with Redis 7.0's exact replies and errors; a
 * 50k-element list pushed and popped from both ends survives kill -9 in order. */
#include "srv_util.h"

T_MAIN_BEGIN;

static srvp g_srv;

static void server_starts(void)
{
    if (sp_start(&g_srv, "list")) {
        sp_dump_log(&g_srv);
        T_FAIL("server did not start");
    }
}

static void push_pop_and_ranges_reply_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    const char *wt = "-WRONGTYPE Operation against a key holding the wrong kind of value";
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, ":5", "RPUSH l a b c a d");
    T_CMD(c, ":7", "LPUSH l z y");
    T_DEEP(c, "*7 [$1 y, $1 z, $1 a, $1 b, $1 c, $1 a, $1 d]", "LRANGE l 0 -1");
    T_DEEP(c, "*3 [$1 c, $1 a, $1 d]", "LRANGE l -3 -1");
    T_DEEP(c, "*2 [$1 a, $1 d]", "LRANGE l 5 100");
    T_DEEP(c, "*0 []", "LRANGE l 3 1");
    T_DEEP(c, "*0 []", "LRANGE nokey 0 -1");
    T_CMD(c, ":7", "LLEN l");
    T_CMD(c, ":0", "LLEN nokey");
    T_CMD(c, "$1 y", "LINDEX l 0");
    T_CMD(c, "$1 d", "LINDEX l -1");
    T_CMD(c, "(nil)", "LINDEX l 99");
    T_CMD(c, "-ERR value is not an integer or out of range", "LINDEX l x");
    T_CMD(c, "-ERR no such key", "LSET nokey 0 x");
    T_CMD(c, "-ERR index out of range", "LSET l 99 x");
    T_CMD(c, "+OK", "LSET l -1 D");
    T_CMD(c, "$1 y", "LPOP l");
    T_CMD(c, "$1 D", "RPOP l");
    T_DEEP(c, "*2 [$1 z, $1 a]", "LPOP l 2");
    T_DEEP(c, "*0 []", "RPOP l 0");
    T_CMD(c, "(nil)", "LPOP nokey 2"); /* *-1: hiredis shows a null array as nil */
    T_CMD(c, "(nil)", "LPOP nokey");
    T_CMD(c, "-ERR value is out of range, must be positive", "LPOP l -1");
    T_CMD(c, "-ERR wrong number of arguments for 'lpop' command", "LPOP l 1 2");
    T_DEEP(c, "*3 [$1 a, $1 c, $1 b]", "RPOP l 5"); /* more than there are: all */
    T_CMD(c, ":0", "EXISTS l");
    T_CMD(c, ":0", "RPUSHX nokey a");
    T_CMD(c, ":0", "EXISTS nokey");
    T_CMD(c, ":1", "RPUSH one x");
    T_CMD(c, ":3", "LPUSHX one q r");
    T_DEEP(c, "*3 [$1 r, $1 q, $1 x]", "LRANGE one 0 -1");
    T_CMD(c, "-ERR wrong number of arguments for 'lpush' command", "LPUSH l");
    T_CMD(c, "+OK", "SET s x");
    T_CMD(c, wt, "LPUSH s a");
    T_CMD(c, wt, "LRANGE s 0 1");
    T_CMD(c, wt, "GET one");
    T_CMD(c, "+list", "TYPE one");
    redisFree(c);
    int fd = sp_raw_connect(&g_srv); /* a null array, not a null string */
    T_ASSERT(fd >= 0);
    T_RAW(fd, "LPOP nokey 2\r\n", "*-1\r\n");
    T_RAW(fd, "LMPOP 1 nokey LEFT\r\n", "*-1\r\n");
    T_RAW(fd, "LPOP nokey\r\n", "$-1\r\n");
    close(fd);
}

static void changes_in_place_reply_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, ":5", "RPUSH l a x a y a");
    T_CMD(c, "-ERR syntax error", "LINSERT l middle a x");
    T_CMD(c, ":-1", "LINSERT l BEFORE zz x");
    T_CMD(c, ":0", "LINSERT nokey BEFORE a x");
    T_CMD(c, ":6", "LINSERT l AFTER a NEW");
    T_CMD(c, ":7", "LINSERT l BEFORE y BEF");
    T_DEEP(c, "*7 [$1 a, $3 NEW, $1 x, $1 a, $3 BEF, $1 y, $1 a]", "LRANGE l 0 -1");
    T_CMD(c, ":1", "LREM l 0 x");
    T_CMD(c, ":2", "LREM l 2 a");
    T_DEEP(c, "*4 [$3 NEW, $3 BEF, $1 y, $1 a]", "LRANGE l 0 -1");
    T_CMD(c, ":7", "RPUSH r a b a c a d a");
    T_CMD(c, ":2", "LREM r -2 a");
    T_DEEP(c, "*5 [$1 a, $1 b, $1 a, $1 c, $1 d]", "LRANGE r 0 -1");
    T_CMD(c, "$1 d", "LINDEX r -1");
    T_CMD(c, "-ERR value is not an integer or out of range", "LREM r x a");
    T_CMD(c, ":0", "LPOS r a");
    T_CMD(c, ":2", "LPOS r a RANK 2");
    T_CMD(c, ":2", "LPOS r a RANK -1");
    T_DEEP(c, "*2 [:0, :2]", "LPOS r a COUNT 0");
    T_DEEP(c, "*2 [:2, :0]", "LPOS r a COUNT 2 RANK -1");
    T_CMD(c, ":0", "LPOS r a MAXLEN 2");
    /* Redis negates RANK -2^63 into itself: RANK -1, and no COUNT ends it */
    T_CMD(c, ":2", "LPOS r a RANK -9223372036854775808");
    T_DEEP(c, "*2 [:2, :0]", "LPOS r a RANK -9223372036854775808 COUNT 1");
    T_CMD(c, "(nil)", "LPOS r a RANK -9223372036854775807");
    T_CMD(c, "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
             "second ... or use negative to start from the end of the list", "LPOS r a RANK 0");
    T_CMD(c, "-ERR COUNT can't be negative", "LPOS r a COUNT -1");
    T_CMD(c, "-ERR MAXLEN can't be negative", "LPOS r a MAXLEN -1");
    T_CMD(c, "(nil)", "LPOS r zz");
    T_DEEP(c, "*0 []", "LPOS r zz COUNT 0");
    T_CMD(c, "(nil)", "LPOS nokey a");
    T_DEEP(c, "*0 []", "LPOS nokey a COUNT 0");
    T_CMD(c, "-ERR syntax error", "LPOS r a bogus");
    T_CMD(c, "+OK", "LTRIM r 1 -2");
    T_DEEP(c, "*3 [$1 b, $1 a, $1 c]", "LRANGE r 0 -1");
    T_CMD(c, "-ERR value is not an integer or out of range", "LTRIM r x 1");
    T_CMD(c, "+OK", "LTRIM r 5 10");
    T_CMD(c, ":0", "EXISTS r");
    redisFree(c);
}

static void moves_reply_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    const char *wt = "-WRONGTYPE Operation against a key holding the wrong kind of value";
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, ":3", "RPUSH m 1 2 3");
    T_CMD(c, "$1 1", "LMOVE m m2 LEFT RIGHT");
    T_CMD(c, "$1 3", "LMOVE m m2 RIGHT LEFT");
    T_DEEP(c, "*2 [$1 3, $1 1]", "LRANGE m2 0 -1");
    T_CMD(c, "-ERR syntax error", "LMOVE m m LEFT middle");
    T_CMD(c, ":3", "RPUSH m 4 5");
    T_CMD(c, "$1 5", "LMOVE m m RIGHT LEFT");
    T_DEEP(c, "*3 [$1 5, $1 2, $1 4]", "LRANGE m 0 -1");
    T_CMD(c, "$1 4", "RPOPLPUSH m m");
    T_CMD(c, "(nil)", "RPOPLPUSH nokey m");
    /* A one-element list onto itself keeps its expiry time. */
    T_CMD(c, ":1", "RPUSH one x");
    T_CMD(c, ":1", "EXPIRE one 100");
    T_CMD(c, "$1 x", "RPOPLPUSH one one");
    T_CMD(c, ":100", "TTL one");
    T_CMD(c, "-ERR numkeys should be greater than 0", "LMPOP 0 m LEFT");
    T_CMD(c, "-ERR syntax error", "LMPOP 2 m LEFT");
    T_CMD(c, "-ERR syntax error", "LMPOP 1 m middle");
    T_CMD(c, "-ERR count should be greater than 0", "LMPOP 1 m LEFT COUNT 0");
    /* a COUNT is checked where it stands, before what follows it (Redis's loop) */
    T_CMD(c, "-ERR count should be greater than 0", "LMPOP 1 m LEFT COUNT 0 x");
    T_CMD(c, "-ERR count should be greater than 0", "LMPOP 1 m LEFT count abc count 1");
    T_CMD(c, "-ERR syntax error", "LMPOP 1 m LEFT COUNT 1 COUNT 1");
    T_CMD(c, "-ERR syntax error", "LMPOP 1 m LEFT COUNT");
    T_CMD(c, "-ERR count should be greater than 0", "ZMPOP 1 m MIN COUNT -1 x");
    T_CMD(c, "-ERR count should be greater than 0", "BLMPOP 0.01 1 m LEFT COUNT 0 x");
    T_CMD(c, "(nil)", "LMPOP 1 nokey LEFT");
    T_DEEP(c, "*2 [$1 m, *3 [$1 2, $1 5, $1 4]]", "LMPOP 2 nokey m RIGHT COUNT 5");
    T_CMD(c, ":0", "EXISTS m");
    T_CMD(c, "+OK", "SET s x");
    T_CMD(c, wt, "LMOVE s m2 LEFT LEFT");
    T_CMD(c, wt, "LMOVE m2 s LEFT LEFT");
    T_DEEP(c, "*2 [$1 3, $1 1]", "LRANGE m2 0 -1");
    redisFree(c);
}

/* Pushes at both ends, pops from both, a middle removal: after kill -9 the order and
 * every element are as acknowledged. */
/* A pop of a missing key (CMD_POP) answers on the I/O thread, as a read: the writer runs
 * none of them (its writer_batched_writes count stays), and every reply is Redis 7.0's
 * bytes in RESP2 and RESP3, the count's errors included. A key that is there (of any
 * type) still goes to the writer, and so does a pop behind the client's write in flight,
 * which sees that write. */
static long long batched(redisContext *c)
{
    char v[64];
    return atoll(sp_info_field(c, "stats", "writer_batched_writes", v, sizeof v));
}

static void pops_of_missing_keys_skip_the_writer(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    long long b0 = batched(c);
    int fd = sp_raw_connect(&g_srv), fd3 = sp_raw_resp3(&g_srv);
    T_ASSERT(fd >= 0 && fd3 >= 0);
    static const struct { const char *cmd, *resp2, *resp3; } pops[] = {
        {"LPOP nokey", "$-1", "_"},          {"RPOP nokey 0", "*-1", "_"},
        {"LPOP nokey 2", "*-1", "_"},        {"SPOP nokey", "$-1", "_"},
        {"SPOP nokey 0", "*0", "~0"},        {"SPOP nokey 3", "*0", "~0"},
        {"ZPOPMIN nokey", "*0", "*0"},       {"ZPOPMAX nokey 2", "*0", "*0"},
        {"ZPOPMIN nokey 0", "*0", "*0"},
        {"LPOP nokey -1", "-ERR value is out of range, must be positive", NULL},
        {"SPOP nokey x", "-ERR value is out of range, must be positive", NULL},
        {"ZPOPMIN nokey -1", "-ERR value is out of range, must be positive", NULL},
    };
    for (size_t i = 0; i < sizeof pops / sizeof pops[0]; i++) {
        char req[64], want[96], got[256];
        snprintf(req, sizeof req, "%s\r\n", pops[i].cmd);
        for (int proto = 2; proto <= 3; proto++) {
            const char *w = proto == 3 && pops[i].resp3 ? pops[i].resp3 : pops[i].resp2;
            snprintf(want, sizeof want, "%s\r\n", w);
            if (!sp_raw_roundtrip(proto == 2 ? fd : fd3, req, strlen(req), want, strlen(want),
                                  got, sizeof got))
                T_FAIL("RESP%d %s: \"%s\", not \"%s\"", proto, pops[i].cmd, got, w);
        }
    }
    close(fd);
    close(fd3);
    T_EQ_INT(batched(c), b0);
    T_CMD(c, "+OK", "SET s x");
    long long b1 = batched(c);
    T_CMD(c, "-WRONGTYPE Operation against a key holding the wrong kind of value", "LPOP s");
    T_ASSERT(batched(c) == b1 + 1);
    fd = sp_raw_connect(&g_srv); /* one write: the pops come while the push is in flight */
    T_ASSERT(fd >= 0);
    T_RAW(fd, "RPUSH q a\r\nLPOP q\r\nLPOP q\r\n", ":1\r\n$1\r\na\r\n$-1\r\n");
    close(fd);
    redisFree(c);
}

static void a_long_list_survives_kill_9_in_order(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    enum { N = 25000 };
    for (int i = 0; i < N; i++) {
        redisAppendCommand(c, "RPUSH big r%d", i);
        redisAppendCommand(c, "LPUSH big l%d", i);
    }
    for (int i = 0; i < 2 * N; i++) {
        redisReply *r;
        T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
        T_EQ_INT(r->integer, i + 1);
        freeReplyObject(r);
    }
    T_DEEP(c, "*2 [$6 l24999, $6 l24998]", "LPOP big 2");
    T_DEEP(c, "*2 [$6 r24999, $6 r24998]", "RPOP big 2");
    T_CMD(c, ":1", "LREM big 1 r0");
    redisFree(c);
    sp_kill(&g_srv);
    T_EQ_INT(sp_start(&g_srv, "list"), 0);
    c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, ":49995", "LLEN big");
    T_CMD(c, "$6 l24997", "LINDEX big 0");
    T_CMD(c, "$2 l0", "LINDEX big 24997");
    T_CMD(c, "$2 r1", "LINDEX big 24998");
    T_CMD(c, "$6 r24997", "LINDEX big -1");
    T_DEEP(c, "*3 [$2 l1, $2 l0, $2 r1]", "LRANGE big 24996 24998");
    T_CMD(c, ":24997", "LPOS big l0");
    redisFree(c);
}

int main(void)
{
    T_RUN(server_starts);
    if (!g_srv.pid)
        return T_MAIN_END();
    T_RUN(push_pop_and_ranges_reply_as_redis);
    T_RUN(changes_in_place_reply_as_redis);
    T_RUN(moves_reply_as_redis);
    T_RUN(pops_of_missing_keys_skip_the_writer);
    T_RUN(a_long_list_survives_kill_9_in_order);
    t_failed += sp_stop_or_dump(&g_srv);
    return T_MAIN_END();
}
