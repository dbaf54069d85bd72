/* SORT and SORT_RO: Redis 7.0's replies for numbers, ALPHA, DESC, LIMIT, BY patterns
 * (with "nosort" and hash fields), GET patterns ("#", missing keys: nil), STORE (a list;
 * nothing to store deletes the destination), lists, sets and sorted sets, the errors in
 * Redis's order, RESP3's nulls, and SORT inside MULTI. */
#include "srv_util.h"

T_MAIN_BEGIN;

static srvp g_srv;

static void server_starts(void)
{
    if (sp_start(&g_srv, "sort")) {
        sp_dump_log(&g_srv);
        T_FAIL("server did not start");
    }
}

static void sorts_reply_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, ":6", "RPUSH l 3 1 2 10 -5 2.5");
    T_DEEP(c, "*6 [$2 -5, $1 1, $1 2, $3 2.5, $1 3, $2 10]", "SORT l");
    T_DEEP(c, "*3 [$1 3, $3 2.5, $1 2]", "SORT l DESC LIMIT 1 3");
    T_DEEP(c, "*6 [$2 -5, $1 1, $2 10, $1 2, $3 2.5, $1 3]", "SORT l ALPHA");
    T_DEEP(c, "*3 [$2 10, $1 2, $1 1]", "SORT l BY nosort LIMIT 2 3 DESC");
    /* a BY without '*' anywhere turns sorting off, even before a BY with one (Redis) */
    T_DEEP(c, "*6 [$1 3, $1 1, $1 2, $2 10, $2 -5, $3 2.5]", "SORT l BY nosort BY nokey_*");
    T_DEEP(c, "*6 [$1 3, $1 1, $1 2, $2 10, $2 -5, $3 2.5]", "SORT l BY nokey BY w_*");
    T_DEEP(c, "*0 []", "SORT l LIMIT 10 2");
    /* counts and offsets near 2^63 (start + count overflowed: UBSan aborted the server) */
    T_DEEP(c, "*5 [$1 1, $1 2, $3 2.5, $1 3, $2 10]", "SORT l LIMIT 1 9223372036854775807");
    T_DEEP(c, "*0 []", "SORT l LIMIT 9223372036854775807 9223372036854775807");
    T_CMD(c, ":1", "SORT l LIMIT 5 9223372036854775807 STORE big");
    T_CMD(c, ":6", "SORT l LIMIT 0 9223372036854775807 STORE big");
    T_DEEP(c, "*6 [$2 -5, $1 1, $1 2, $3 2.5, $1 3, $2 10]", "SORT_RO l LIMIT -1 -1");
    T_CMD(c, "+OK", "MSET w_3 30 w_1 10 w_2 20 w_10 5 w_-5 100");
    T_CMD(c, ":1", "HSET h_2 f b");
    T_DEEP(c, "*18 [$3 2.5, (nil), (nil), $2 10, $1 5, (nil), $1 1, $2 10, (nil), $1 2, $2 20, "
              "$1 b, $1 3, $2 30, (nil), $2 -5, $3 100, (nil)]",
           "SORT l BY w_* GET # GET w_* GET h_*->f");
    T_CMD(c, ":2", "SORT l BY w_* LIMIT 0 2 STORE dst");
    T_DEEP(c, "*2 [$3 2.5, $2 10]", "LRANGE dst 0 -1");
    T_CMD(c, ":6", "SORT l GET h_*->f STORE dst");
    T_DEEP(c, "*6 [$0 , $0 , $1 b, $0 , $0 , $0 ]", "LRANGE dst 0 -1");
    T_CMD(c, ":0", "SORT nokey STORE dst");
    T_CMD(c, ":0", "EXISTS dst");
    T_CMD(c, ":3", "ZADD z 3 c 1 a 2 b");
    T_DEEP(c, "*3 [$1 c, $1 b, $1 a]", "SORT z BY nosort DESC");
    T_DEEP(c, "*2 [$1 b, $1 c]", "SORT z ALPHA LIMIT 1 5");
    T_CMD(c, ":3", "SADD s 5 3 9");
    T_CMD(c, ":3", "SORT s BY nosort STORE sd"); /* stored: sorted, whatever BY says */
    T_DEEP(c, "*3 [$1 3, $1 5, $1 9]", "LRANGE sd 0 -1");
    /* in a script too, as Redis sorts it there (ALPHA), DESC included */
    T_DEEP(c, "*3 [$1 9, $1 5, $1 3]",
           "EVAL %s 0", "return redis.call('sort', 's', 'by', 'nosort', 'desc')");
    T_CMD(c, ":2", "RPUSH bad a 1");
    T_CMD(c, "-ERR One or more scores can't be converted into double", "SORT bad");
    T_CMD(c, "-ERR One or more scores can't be converted into double", "SORT bad LIMIT 0 0");
    T_DEEP(c, "*2 [$1 a, $1 1]", "SORT bad BY w_*"); /* missing weights count as 0 */
    T_CMD(c, "-ERR syntax error", "SORT_RO l STORE x");
    T_CMD(c, "-ERR syntax error", "SORT l LIMIT 1");
    T_CMD(c, "-ERR value is not an integer or out of range", "SORT l LIMIT a 1");
    T_CMD(c, "+OK", "SET str v");
    T_CMD(c, "-WRONGTYPE Operation against a key holding the wrong kind of value", "SORT str");
    T_CMD(c, "-ERR syntax error", "SORT str BOGUS"); /* the options first, then the type */
    T_CMD(c, ":6", "SORT l STORE l"); /* its own source */
    T_DEEP(c, "*6 [$2 -5, $1 1, $1 2, $3 2.5, $1 3, $2 10]", "LRANGE l 0 -1");
    T_CMD(c, "+OK", "MULTI");
    T_CMD(c, "+QUEUED", "SORT l DESC LIMIT 0 1 STORE top");
    T_CMD(c, "+QUEUED", "LRANGE top 0 -1");
    T_DEEP(c, "*2 [:1, *1 [$2 10]]", "EXEC");
    redisFree(c);
    int fd = sp_raw_resp3(&g_srv);
    T_ASSERT(fd >= 0);
    T_RAW(fd, "SORT z ALPHA GET nokey* GET #\r\n", "*6\r\n_\r\n$1\r\na\r\n_\r\n$1\r\nb\r\n_\r\n$1\r\nc\r\n");
    close(fd);
}

int main(void)
{
    T_RUN(server_starts);
    if (!g_srv.pid)
        return T_MAIN_END();
    T_RUN(sorts_reply_as_redis);
    t_failed += sp_stop_or_dump(&g_srv);
    return T_MAIN_END();
}
