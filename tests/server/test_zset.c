/* Sorted sets: ZADD's flags and errors, scores (parsing, formatting, -0, inf, NaN
 * results), every range form (rank, BYSCORE, BYLEX, REV, LIMIT, WITHSCORES) and its
 * errors, counts, ranks, removals by range, pops, ZRANGESTORE, RESP3 replies, dump and
 * order across a restart, all with Redis 7.0's exact replies; the rank index under
 * random changes, against Redis. */
#include "ref_util.h"
#include "srv_util.h"

T_MAIN_BEGIN;

static srvp g_srv;

/* Appends an argument, printf-formatted, to the command being built in the caller's
 * cmd[][], argv[], len[] and argc (the random tests' generators). */
#define ARG(...) (snprintf(cmd[argc], sizeof cmd[argc], __VA_ARGS__), argv[argc] = cmd[argc], \
                  len[argc] = strlen(cmd[argc]), argc++)

static void server_starts(void)
{
    if (sp_start(&g_srv, "zset")) {
        sp_dump_log(&g_srv);
        T_FAIL("server did not start");
    }
}

static void zadd_flags_and_scores_reply_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, ":3", "ZADD z 1 a 2 b 3 c");
    T_CMD(c, ":1", "ZADD z NX 5 a 4 d");
    T_CMD(c, ":1", "ZADD z XX CH 6 a 7 zz");
    T_CMD(c, ":1", "ZADD z GT CH 1 a 8 b");
    T_CMD(c, ":1", "ZADD z LT CH 1 a 9 b");
    T_CMD(c, "$1 3", "ZADD z INCR 2 a");
    T_CMD(c, "(nil)", "ZADD z NX INCR 2 a");
    T_CMD(c, "(nil)", "ZADD z XX INCR 2 nope");
    T_CMD(c, "(nil)", "ZADD z GT INCR -1 a");
    T_CMD(c, "$3 4.5", "ZINCRBY z 1.5 c");
    T_CMD(c, "-ERR syntax error", "ZINCRBY z nx c");
    T_CMD(c, "-ERR value is not a valid float", "ZINCRBY z x c");
    T_CMD(c, "-ERR XX and NX options at the same time are not compatible", "ZADD z XX NX 1 a");
    T_CMD(c, "-ERR GT, LT, and/or NX options at the same time are not compatible",
          "ZADD z GT LT 1 a");
    T_CMD(c, "-ERR GT, LT, and/or NX options at the same time are not compatible",
          "ZADD z GT NX 1 a");
    T_CMD(c, "-ERR INCR option supports a single increment-element pair",
          "ZADD z INCR 1 a 2 b");
    T_CMD(c, "-ERR syntax error", "ZADD z 1 a 2");
    T_CMD(c, "-ERR value is not a valid float", "ZADD z x a");
    T_CMD(c, "-ERR value is not a valid float", "ZADD z nan a");
    T_CMD(c, "-ERR wrong number of arguments for 'zadd' command", "ZADD z 1");
    T_CMD(c, ":1", "ZADD z -0 zero");
    T_CMD(c, "$1 0", "ZSCORE z zero");
    T_CMD(c, ":2", "ZADD z inf top -inf bottom");
    T_CMD(c, "$3 inf", "ZSCORE z top");
    T_CMD(c, "-ERR resulting score is not a number (NaN)", "ZINCRBY z -inf top");
    T_CMD(c, ":1", "ZADD z 0.1 tenth");
    T_CMD(c, "$19 0.10000000000000001", "ZSCORE z tenth");
    T_CMD(c, "(nil)", "ZSCORE z nope");
    T_CMD(c, "(nil)", "ZSCORE nokey a");
    T_DEEP(c, "*3 [$1 3, (nil), $3 inf]", "ZMSCORE z a nope top");
    T_CMD(c, ":8", "ZCARD z");
    T_CMD(c, ":0", "ZCARD nokey");
    redisFree(c);
}

static void ranges_reply_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, ":5", "ZADD z 1 a 2 b 3 c 4 d 5 e");
    T_DEEP(c, "*5 [$1 a, $1 b, $1 c, $1 d, $1 e]", "ZRANGE z 0 -1");
    T_DEEP(c, "*4 [$1 d, $1 4, $1 e, $1 5]", "ZRANGE z -2 -1 WITHSCORES");
    T_DEEP(c, "*0 []", "ZRANGE z 2 1");
    T_DEEP(c, "*4 [$1 b, $1 c, $1 d, $1 e]", "ZRANGE z 1 100");
    T_DEEP(c, "*4 [$1 e, $1 5, $1 d, $1 4]", "ZREVRANGE z 0 1 WITHSCORES");
    T_DEEP(c, "*2 [$1 e, $1 d]", "ZRANGE z 0 1 REV");
    T_DEEP(c, "*3 [$1 b, $1 c, $1 d]", "ZRANGEBYSCORE z 2 4");
    T_DEEP(c, "*4 [$1 c, $1 3, $1 d, $1 4]", "ZRANGEBYSCORE z (2 4 WITHSCORES");
    T_DEEP(c, "*2 [$1 b, $1 c]", "ZRANGEBYSCORE z -inf +inf LIMIT 1 2");
    T_DEEP(c, "*0 []", "ZRANGEBYSCORE z -inf inf LIMIT -1 2");
    T_DEEP(c, "*4 [$1 b, $1 c, $1 d, $1 e]", "ZRANGEBYSCORE z -inf inf LIMIT 1 -1");
    T_DEEP(c, "*3 [$1 d, $1 c, $1 b]", "ZREVRANGEBYSCORE z 4 2");
    T_DEEP(c, "*2 [$1 c, $1 3]", "ZREVRANGEBYSCORE z (4 (2 WITHSCORES");
    T_DEEP(c, "*3 [$1 d, $1 c, $1 b]", "ZRANGE z 4 2 BYSCORE REV");
    T_DEEP(c, "*4 [$1 c, $1 3, $1 d, $1 4]", "ZRANGE z (2 +inf BYSCORE LIMIT 0 2 WITHSCORES");
    T_CMD(c, "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE "
             "or BYLEX", "ZRANGE z 0 -1 LIMIT 0 1");
    T_CMD(c, "-ERR syntax error, WITHSCORES not supported in combination with BYLEX",
          "ZRANGE z - + BYLEX WITHSCORES");
    T_CMD(c, "-ERR value is not an integer or out of range", "ZRANGE z x 2");
    T_CMD(c, "-ERR min or max is not a float", "ZRANGEBYSCORE z x 2");
    T_CMD(c, "-ERR syntax error", "ZRANGE z 0 1 BYSCORE BYLEX");
    T_CMD(c, "-ERR syntax error", "ZRANGE z 0 1 LIMIT 0");
    T_CMD(c, "-ERR syntax error", "ZREVRANGEBYSCORE z 0 1 foo");
    T_CMD(c, ":3", "ZCOUNT z 2 4");
    T_CMD(c, ":1", "ZCOUNT z (2 (4");
    T_CMD(c, ":5", "ZCOUNT z -inf inf");
    T_CMD(c, "-ERR min or max is not a float", "ZCOUNT z x 1");
    T_CMD(c, ":2", "ZRANK z c");
    T_CMD(c, ":2", "ZREVRANK z c");
    T_CMD(c, ":4", "ZRANK z e");
    T_CMD(c, "(nil)", "ZRANK z nope");
    T_CMD(c, "(nil)", "ZRANK nokey a");
    /* BYLEX over members of one score. */
    T_CMD(c, ":5", "ZADD lex 0 a 0 b 0 c 0 d 0 e");
    T_DEEP(c, "*2 [$1 b, $1 c]", "ZRANGEBYLEX lex [b (d");
    T_DEEP(c, "*1 [$1 d]", "ZRANGEBYLEX lex (b [d LIMIT 1 1");
    T_DEEP(c, "*5 [$1 e, $1 d, $1 c, $1 b, $1 a]", "ZREVRANGEBYLEX lex + -");
    T_DEEP(c, "*2 [$1 d, $1 c]", "ZREVRANGEBYLEX lex [d (b");
    T_DEEP(c, "*3 [$1 c, $1 d, $1 e]", "ZRANGE lex [c + BYLEX");
    T_DEEP(c, "*3 [$1 e, $1 d, $1 c]", "ZRANGE lex + [c BYLEX REV");
    T_CMD(c, ":5", "ZLEXCOUNT lex - +");
    T_CMD(c, ":2", "ZLEXCOUNT lex (a [c");
    T_CMD(c, "-ERR min or max not valid string range item", "ZRANGEBYLEX lex a b");
    T_CMD(c, "-ERR min or max not valid string range item", "ZLEXCOUNT lex a b");
    redisFree(c);
}

static void removals_pops_and_store_reply_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    const char *wt = "-WRONGTYPE Operation against a key holding the wrong kind of value";
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, ":5", "ZADD z 1 a 2 b 3 c 4 d 5 e");
    T_CMD(c, ":5", "ZADD lex 0 a 0 b 0 c 0 d 0 e");
    T_CMD(c, ":2", "ZREMRANGEBYLEX lex [b [c");
    T_CMD(c, ":1", "ZREMRANGEBYRANK lex 0 0");
    T_DEEP(c, "*2 [$1 d, $1 e]", "ZRANGE lex 0 -1");
    T_CMD(c, ":3", "ZREMRANGEBYSCORE z (1 (5");
    T_DEEP(c, "*4 [$1 a, $1 1, $1 e, $1 5]", "ZRANGE z 0 -1 WITHSCORES");
    T_CMD(c, "-ERR value is not an integer or out of range", "ZREMRANGEBYRANK z x 1");
    T_CMD(c, ":1", "ZREM z a nope");
    T_CMD(c, ":0", "ZREM nokey a");
    T_CMD(c, ":1", "ZREM z e"); /* the last member: the key is gone */
    T_CMD(c, ":0", "EXISTS z");
    T_CMD(c, ":4", "ZADD z 1 a 2 b 3 c 4 d");
    T_CMD(c, ":2", "ZRANGESTORE dst z 0 1");
    T_DEEP(c, "*4 [$1 a, $1 1, $1 b, $1 2]", "ZRANGE dst 0 -1 WITHSCORES");
    T_CMD(c, ":1", "ZRANGESTORE dst z (1 +inf BYSCORE LIMIT 0 1");
    T_DEEP(c, "*2 [$1 b, $1 2]", "ZRANGE dst 0 -1 WITHSCORES");
    T_CMD(c, ":0", "ZRANGESTORE dst nokey 0 -1");
    T_CMD(c, ":0", "EXISTS dst");
    T_DEEP(c, "*2 [$1 a, $1 1]", "ZPOPMIN z");
    T_DEEP(c, "*4 [$1 d, $1 4, $1 c, $1 3]", "ZPOPMAX z 2");
    T_CMD(c, "-ERR value is out of range, must be positive", "ZPOPMIN z -1");
    T_CMD(c, "-ERR syntax error", "ZPOPMIN z 1 2");
    T_DEEP(c, "*0 []", "ZPOPMIN nokey");
    T_DEEP(c, "*0 []", "ZPOPMAX z 0");
    T_DEEP(c, "*2 [$1 b, $1 2]", "ZPOPMIN z 5");
    T_CMD(c, ":0", "EXISTS z");
    T_CMD(c, "+OK", "SET str x");
    T_CMD(c, wt, "ZADD str 1 a");
    T_CMD(c, wt, "ZRANGE str 0 1");
    T_CMD(c, wt, "ZSCORE str a");
    T_CMD(c, wt, "GET lex");
    T_CMD(c, "+zset", "TYPE lex");
    T_CMD(c, "(nil)", "ZRANDMEMBER nokey");
    T_DEEP(c, "*0 []", "ZRANDMEMBER nokey 3");
    T_CMD(c, ":1", "ZADD one 5 only");
    T_DEEP(c, "*4 [$4 only, $1 5, $4 only, $1 5]", "ZRANDMEMBER one -2 WITHSCORES");
    T_DEEP(c, "*1 [$4 only]", "ZRANDMEMBER one 3");
    T_DEEP(c, "*2 [$1 0, *2 [$4 only, $1 5]]", "ZSCAN one 0");
    T_CMD(c, ":2", "ZADD big 123456789012345678 v 1.5 x");
    T_DEEP(c, "*2 [$1 0, *4 [$1 x, $3 1.5, $1 v, $18 123456789012345680]]", "ZSCAN big 0");
    T_CMD(c, "$22 1.2345678901234568e+17", "ZSCORE big v");
    redisFree(c);
}

/* Edges a fuzz against Redis 7.0 found: a score with a NUL inside, REV once, LIMIT with no
 * count on a range by rank, and NaN weighted scores (0 * inf) in ZINTER, whose inputs
 * after the smallest are aggregated as they are, in order of size. */
static void edge_arguments_reply_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, "-ERR value is not a valid float", "ZADD z %b a", "1\0", (size_t)2);
    T_CMD(c, "-ERR value is not a valid float", "ZINCRBY z %b a", "2\0junk", (size_t)6);
    T_CMD(c, "+OK", "SET s x");
    T_CMD(c, "-ERR value is not a valid float", "ZADD s %b a", "1\0", (size_t)2);
    T_CMD(c, ":3", "ZADD z 1 a 2 b 3 c");
    T_CMD(c, "-ERR syntax error", "ZRANGE z 0 -1 REV REV");
    T_CMD(c, "-ERR syntax error", "ZRANGESTORE d z 0 -1 rev rev");
    T_CMD(c, "-ERR syntax error", "ZREVRANGE z 0 1 REV");
    T_DEEP(c, "*3 [$1 a, $1 b, $1 c]", "ZRANGE z 0 -1 LIMIT 1 -1");
    T_DEEP(c, "*3 [$1 a, $1 b, $1 c]", "ZRANGE z 0 -1 LIMIT -3 -1");
    T_DEEP(c, "*2 [$1 c, $1 b]", "ZREVRANGE z 0 1 LIMIT 0 -1");
    T_CMD(c, "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE "
             "or BYLEX", "ZREVRANGE z 0 1 LIMIT 0 1");
    T_CMD(c, ":3", "ZRANGESTORE d z 0 -1 LIMIT 1 -1");
    T_CMD(c, "-ERR value is not an integer or out of range", "ZRANGE z a 1 LIMIT 0 -1");
    T_CMD(c, ":1", "ZADD zl 0 a");
    T_CMD(c, ":1", "SADD st a");
    T_CMD(c, ":1", "ZINTERSTORE d 2 st zl WEIGHTS 1.5 -inf");
    T_CMD(c, "$1 0", "ZSCORE d a");
    T_DEEP(c, "*2 [$1 a, $3 1.5]", "ZINTER 2 st zl WEIGHTS 1.5 -inf AGGREGATE MIN WITHSCORES");
    T_DEEP(c, "*2 [$1 a, $3 1.5]", "ZINTER 2 st zl WEIGHTS 1.5 -inf AGGREGATE MAX WITHSCORES");
    T_DEEP(c, "*2 [$1 a, $1 0]", "ZUNION 2 st zl WEIGHTS 1.5 -inf AGGREGATE MIN WITHSCORES");
    /* sizes 2, 3, 3: zi is walked, then zj and z as given; a sum meets NaN at zj */
    T_CMD(c, ":2", "ZADD zi 1 a 2 b");
    T_CMD(c, ":3", "ZADD zj inf a 3 b 4 c");
    T_DEEP(c, "*4 [$1 a, $2 -1, $1 b, $1 0]", "ZINTER 3 zj zi z WEIGHTS 0 1 -1 WITHSCORES");
    redisFree(c);
}

static void algebra_and_zmpop_reply_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    const char *wt = "-WRONGTYPE Operation against a key holding the wrong kind of value";
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, ":3", "ZADD z1 1 a 2 b 3 c");
    T_CMD(c, ":3", "ZADD z2 4 b 5 c 6 d");
    T_CMD(c, ":3", "SADD s1 a d e");
    T_CMD(c, "+OK", "SET str x");
    T_DEEP(c, "*8 [$1 a, $1 1, $1 b, $1 6, $1 d, $1 6, $1 c, $1 8]", "ZUNION 2 z1 z2 WITHSCORES");
    T_DEEP(c, "*10 [$1 d, $1 1, $1 e, $1 1, $1 a, $1 2, $1 b, $1 2, $1 c, $1 3]",
           "ZUNION 2 z1 s1 WITHSCORES"); /* a set's members score 1 */
    T_DEEP(c, "*4 [$1 b, $2 16, $1 c, $2 21]", "ZINTER 2 z1 z2 WEIGHTS 2 3 WITHSCORES");
    T_DEEP(c, "*8 [$1 a, $1 1, $1 b, $1 4, $1 c, $1 5, $1 d, $1 6]",
           "ZUNION 2 z1 z2 AGGREGATE MAX WITHSCORES");
    T_DEEP(c, "*8 [$1 d, $1 0, $1 a, $3 inf, $1 b, $3 inf, $1 c, $3 inf]",
           "ZUNION 2 z1 z2 WEIGHTS inf 0 WITHSCORES");
    T_DEEP(c, "*2 [$1 a, $1 1]", "ZDIFF 2 z1 z2 WITHSCORES");
    T_DEEP(c, "*0 []", "ZUNION 1 nokey");
    T_CMD(c, "-ERR syntax error", "ZDIFF 2 z1 z2 WEIGHTS 1 1");
    T_CMD(c, "-ERR at least 1 input key is needed for 'zunion' command", "ZUNION 0 z1");
    T_CMD(c, "-ERR value is not an integer or out of range", "ZUNION x z1");
    T_CMD(c, "-ERR syntax error", "ZUNION 3 z1 z2");
    T_CMD(c, "-ERR syntax error", "ZUNION 2 z1 z2 WEIGHTS 1");
    T_CMD(c, "-ERR weight value is not a float", "ZUNION 2 z1 z2 WEIGHTS 1 x");
    T_CMD(c, "-ERR syntax error", "ZUNION 2 z1 z2 AGGREGATE avg");
    T_CMD(c, wt, "ZUNION 2 nokey str");
    T_CMD(c, ":4", "ZUNIONSTORE d 2 z1 z2");
    T_DEEP(c, "*8 [$1 a, $1 1, $1 b, $1 6, $1 d, $1 6, $1 c, $1 8]", "ZRANGE d 0 -1 WITHSCORES");
    T_CMD(c, "-ERR syntax error", "ZUNIONSTORE d 2 z1 z2 WITHSCORES");
    T_CMD(c, ":0", "ZINTERSTORE d 2 z1 nokey");
    T_CMD(c, ":0", "EXISTS d");
    T_CMD(c, ":2", "ZINTERCARD 2 z1 z2");
    T_CMD(c, ":1", "ZINTERCARD 2 z1 z2 LIMIT 1");
    T_CMD(c, "-ERR at least 1 input key is needed for 'zintercard' command", "ZINTERCARD 0 z1");
    T_CMD(c, "-ERR syntax error", "ZINTERCARD 5 z1");
    T_CMD(c, "-ERR LIMIT can't be negative", "ZINTERCARD 2 z1 z2 LIMIT -1");
    T_CMD(c, ":4", "ZUNIONSTORE z1 2 z1 z2"); /* a source as its own destination */
    T_DEEP(c, "*2 [$2 z2, *1 [*2 [$1 b, $1 4]]]", "ZMPOP 1 z2 MIN");
    T_DEEP(c, "*2 [$2 z2, *2 [*2 [$1 d, $1 6], *2 [$1 c, $1 5]]]", "ZMPOP 1 z2 MAX COUNT 5");
    T_CMD(c, ":0", "EXISTS z2");
    T_CMD(c, "(nil)", "ZMPOP 1 nokey MIN");
    T_CMD(c, "-ERR numkeys should be greater than 0", "ZMPOP 0 z1 MIN");
    T_CMD(c, "-ERR syntax error", "ZMPOP 1 z1 middle");
    T_CMD(c, "-ERR count should be greater than 0", "ZMPOP 1 z1 MIN COUNT 0");
    /* Redis combines a union's inputs by size (equal sizes as given): MIN and MAX keep the
     * first of 0 and -0, and inf + -inf (NaN: 0) depends on what came before */
    T_CMD(c, ":3", "ZADD u1 0 a 1 b 2 c");
    T_CMD(c, ":1", "ZADD u2 0 a");
    T_DEEP(c, "*6 [$1 c, $2 -2, $1 b, $2 -1, $1 a, $1 0]",
           "ZUNION 2 u1 u2 WEIGHTS -1 1 AGGREGATE MIN WITHSCORES");
    T_DEEP(c, "*6 [$1 c, $2 -2, $1 b, $2 -1, $1 a, $1 0]",
           "ZUNION 2 u1 u2 WEIGHTS -1 1 AGGREGATE MAX WITHSCORES");
    T_CMD(c, ":3", "ZADD i1 inf x 1 p 2 q");
    T_CMD(c, ":2", "ZADD i2 -inf x 1 p");
    T_CMD(c, ":1", "ZADD i3 5 x");
    T_DEEP(c, "*6 [$1 x, $1 0, $1 p, $1 2, $1 q, $1 2]", "ZUNION 3 i1 i2 i3 WITHSCORES");
    for (int i = 0; i < 130; i++) /* a skiplist in Redis: the result keeps its -0s */
        T_CMD(c, ":1", "ZADD ubig %d k%d", i, i);
    T_CMD(c, ":1", "ZADD ubig 0 a");
    T_CMD(c, ":131", "ZUNIONSTORE ud 2 ubig u2 WEIGHTS -1 1 AGGREGATE MAX");
    T_CMD(c, "$1 0", "ZSCORE ud a");
    T_CMD(c, "$2 -0", "ZSCORE ud k0");
    redisFree(c);
}

/* Pops from the low end raise a stored bound of the scores (coll_fmt.h) that walks seek
 * to: ranges, ranks and counts stay exact, and an element added below it is seen. */
static void pops_keep_ranges_exact(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    for (int i = 1; i <= 1000; i++)
        redisAppendCommand(c, "ZADD q %d m%d", i, i);
    for (int i = 1; i <= 1000; i++) {
        redisReply *r;
        T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    for (int i = 1; i <= 500; i++) {
        char want[32];
        snprintf(want, sizeof want, "*2 [$%d m%d, $%d %d]", i < 10 ? 2 : i < 100 ? 3 : 4, i,
                 i < 10 ? 1 : i < 100 ? 2 : 3, i);
        T_DEEP(c, want, "ZPOPMIN q");
    }
    T_DEEP(c, "*2 [$4 m501, $4 m502]", "ZRANGE q 0 1");
    T_CMD(c, ":199", "ZRANK q m700");
    T_CMD(c, ":500", "ZCOUNT q -inf +inf");
    T_CMD(c, ":1", "ZADD q -5 low"); /* below the bound: the bound goes down */
    T_DEEP(c, "*2 [$3 low, $4 m501]", "ZRANGE q 0 1");
    T_DEEP(c, "*2 [$3 low, $2 -5]", "ZRANGEBYSCORE q -inf 0 WITHSCORES");
    T_CMD(c, ":200", "ZRANK q m700");
    T_CMD(c, "$4 -100", "ZINCRBY q -1000 m900"); /* moved below the bound too */
    T_DEEP(c, "*2 [$4 m900, $3 low]", "ZRANGE q 0 1");
    T_CMD(c, ":1", "ZRANK q low");
    /* from the top: the upper bound goes down with ZPOPMAX, up with a higher score */
    T_DEEP(c, "*4 [$5 m1000, $4 1000, $4 m999, $3 999]", "ZPOPMAX q 2");
    T_DEEP(c, "*2 [$4 m998, $4 m997]", "ZREVRANGE q 0 1");
    T_CMD(c, ":0", "ZREVRANK q m998");
    T_CMD(c, ":1", "ZADD q 998 m9980"); /* the bound's score itself, after its member */
    T_DEEP(c, "*2 [$5 m9980, $4 m998]", "ZREVRANGE q 0 1");
    T_CMD(c, ":1", "ZADD q 5000 high");
    T_DEEP(c, "*2 [$4 high, $5 m9980]", "ZREVRANGE q 0 1");
    T_DEEP(c, "*2 [$4 high, $4 5000]", "ZRANGEBYSCORE q 999 +inf WITHSCORES");
    T_CMD(c, "$4 5001", "ZINCRBY q 5001 m999x");
    T_DEEP(c, "*2 [$5 m999x, $4 high]", "ZREVRANGEBYSCORE q +inf 1000");
    T_DEEP(c, "*3 [$1 q, $5 m999x, $4 5001]", "BZPOPMAX q 0");
    T_DEEP(c, "*1 [$4 high]", "ZRANGE q (999 +inf BYSCORE");
    T_CMD(c, ":501", "ZCARD q");
    redisFree(c);
}

/* ZRANDMEMBER with a count of at least the set's size answers the whole set, as Redis
 * 7.0 does: from its highest (score, member) down, listpack or skiplist alike. Replies
 * checked against redis-server 7.0. */
static void whole_zrandmember_comes_from_the_top(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, ":8", "ZADD top 1 a 1 b 1 c 0 z 5 y -inf n inf p 1.5 q");
    T_DEEP(c, "*8 [$1 p, $1 y, $1 q, $1 c, $1 b, $1 a, $1 z, $1 n]", "ZRANDMEMBER top 8");
    T_DEEP(c, "*16 [$1 p, $3 inf, $1 y, $1 5, $1 q, $3 1.5, $1 c, $1 1, $1 b, $1 1, "
              "$1 a, $1 1, $1 z, $1 0, $1 n, $4 -inf]", "ZRANDMEMBER top 9 WITHSCORES");
    for (int i = 1; i <= 200; i++)
        freeReplyObject(redisCommand(c, "ZADD topbig %d m%d", i % 7, i));
    redisReply *r = redisCommand(c, "ZRANDMEMBER topbig 300 WITHSCORES");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 400);
    T_EQ_STR(r->element[0]->str, "m97");
    T_EQ_STR(r->element[1]->str, "6");
    T_EQ_STR(r->element[398]->str, "m105");
    T_EQ_STR(r->element[399]->str, "0");
    freeReplyObject(r);
    redisFree(c);
    int fd = sp_raw_resp3(&g_srv);
    T_ASSERT(fd >= 0);
    T_RAW(fd, "ZADD top2 5 y inf p\r\n", ":2\r\n");
    T_RAW(fd, "ZRANDMEMBER top2 2 WITHSCORES\r\n", "*2\r\n*2\r\n$1\r\np\r\n,inf\r\n"
                                                   "*2\r\n$1\r\ny\r\n,5\r\n");
    close(fd);
}

static void resp3_scores_are_doubles(void)
{
    int fd = sp_raw_resp3(&g_srv);
    T_ASSERT(fd >= 0);
    T_RAW(fd, "ZADD r3 1 a 2 b 3 c\r\n", ":3\r\n");
    T_RAW(fd, "ZSCORE r3 b\r\n", ",2\r\n");
    T_RAW(fd, "ZRANGE r3 0 0 WITHSCORES\r\n", "*1\r\n*2\r\n$1\r\na\r\n,1\r\n");
    T_RAW(fd, "ZPOPMIN r3\r\n", "*2\r\n$1\r\na\r\n,1\r\n");
    T_RAW(fd, "ZPOPMIN r3 1\r\n", "*1\r\n*2\r\n$1\r\nb\r\n,2\r\n");
    T_RAW(fd, "ZINCRBY r3 1 c\r\n", ",4\r\n");
    T_RAW(fd, "ZSCAN r3 0\r\n", "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nc\r\n$1\r\n4\r\n");
    T_RAW(fd, "ZSCORE r3 zz\r\n", "_\r\n");
    T_RAW(fd, "ZMPOP 1 r3 MIN\r\n", "*2\r\n$2\r\nr3\r\n*1\r\n*2\r\n$1\r\nc\r\n,4\r\n");
    T_RAW(fd, "ZMPOP 1 r3 MIN\r\n", "_\r\n");
    close(fd);
}

/* Scores of every sign and size keep their order and values across kill -9. */
static void order_and_scores_survive_kill_9(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, ":9", "ZADD o -inf m1 -1e300 m2 -2.5 m3 -0 m4 1e-320 m5 0.5 m6 7 m7 1e300 m8 "
                   "inf m9");
    T_CMD(c, ":1", "ZADD o 7 m0"); /* equal scores: by member */
    redisFree(c);
    sp_kill(&g_srv);
    T_EQ_INT(sp_start(&g_srv, "zset"), 0);
    c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_DEEP(c, "*20 [$2 m1, $4 -inf, $2 m2, $24 -1.0000000000000001e+300, $2 m3, $4 -2.5, "
              "$2 m4, $1 0, $2 m5, $23 9.9998886718268301e-321, $2 m6, $3 0.5, $2 m0, $1 7, "
              "$2 m7, $1 7, $2 m8, $23 1.0000000000000001e+300, $2 m9, $3 inf]",
           "ZRANGE o 0 -1 WITHSCORES");
    T_DEEP(c, "*3 [$2 m3, $2 m4, $2 m5]", "ZRANGEBYSCORE o (-1e300 (0.5");
    T_CMD(c, ":7", "ZRANK o m7");
    T_CMD(c, ":10", "ZCARD o");
    redisFree(c);
}

static const char *const fanout2[] = {"--zset-rank-fanout", "2", NULL};

/* oxistore as `name` with zset-rank-fanout 2, and redis-server as name-ref, connected:
 * 0, or -1 (the test fails). */
static int start_fanout2_pair(srvp *ox, srvp *ref, const char *name, redisContext **a,
                              redisContext **b)
{
    char refname[64];
    snprintf(refname, sizeof refname, "%s-ref", name);
    if (sp_start_argv(ox, name, fanout2) || sp_start_redis(ref, refname))
        return -1;
    *a = sp_connect(ox);
    *b = sp_connect(ref);
    return *a && *b ? 0 : -1;
}

/* INFO's count of rank indexes built by the server c is connected to. */
static unsigned long long indexes_built(redisContext *c)
{
    char v[32];
    return strtoull(sp_info_field(c, "stats", "zset_rank_indexes_built", v, sizeof v), NULL, 10);
}

/* Asks rank `ask` of c (for an index, if none yet) and polls (deadline 20 s) until c
 * counts more than `built` indexes built: 1, or 0 if it never did. */
static int index_built_since(redisContext *c, unsigned long long built, const char *ask)
{
    freeReplyObject(redisCommand(c, ask));
    uint64_t deadline = t_now_ms() + 20000;
    while (indexes_built(c) <= built && t_now_ms() < deadline)
        usleep(10000); /* polls the counter: the writer builds it in its background slices */
    return indexes_built(c) > built;
}

/* Adds members m0000 .. m2999 of score i / per_score to z on both servers, then asks a
 * rank of a's set and waits (deadline 20 s) for its rank index to be built. */
static void index_3000(redisContext *a, redisContext *b, int per_score)
{
    for (int i = 0; i < 3000; i++) {
        redisAppendCommand(a, "ZADD z %d m%04d", i / per_score, i);
        redisAppendCommand(b, "ZADD z %d m%04d", i / per_score, i);
    }
    for (int i = 0; i < 6000; i++) {
        redisReply *r;
        T_EQ_INT(redisGetReply(i < 3000 ? a : b, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    T_ASSERT(index_built_since(a, indexes_built(a), "ZRANK z m0001"));
}

/* Every member of z on b (the reference) has the same ZRANK, ZREVRANK and ZRANGE of its
 * rank on *a (more than `least` members); then oxistore-check finds what a kill -9 left
 * consistent, and every rank is the same again after a restart of ox (started as `name`
 * with extra arguments fan), *a its new connection. */
static void every_rank_as_redis(redisContext **ap, redisContext *b, srvp *ox, const char *name,
                                const char *const *fan, size_t least)
{
    redisContext *a = *ap;
    for (int pass = 0; pass < 2; pass++) { /* every rank, then again after a restart */
        redisReply *all = redisCommand(b, "ZRANGE z 0 -1");
        T_ASSERT(all && all->type == REDIS_REPLY_ARRAY && all->elements > least);
        for (size_t i = 0; i < all->elements; i++) {
            const redisReply *e = all->element[i];
            redisReply *rk = redisCommand(a, "ZRANK z %b", e->str, e->len);
            redisReply *rv = redisCommand(a, "ZREVRANK z %b", e->str, e->len);
            char idx[24];
            snprintf(idx, sizeof idx, "%zu", i);
            redisReply *at = redisCommand(a, "ZRANGE z %s %s", idx, idx);
            if (!rk || !rv || !at)
                T_FAIL("pass %d: member %zu: %s", pass, i, a->errstr);
            if (rk->integer != (long long)i ||
                rv->integer != (long long)(all->elements - 1 - i) || at->elements != 1 ||
                at->element[0]->len != e->len || memcmp(at->element[0]->str, e->str, e->len))
                T_FAIL("pass %d: member %zu of %zu: ZRANK %lld, ZREVRANK %lld", pass, i,
                       all->elements, rk->integer, rv->integer);
            freeReplyObject(rk);
            freeReplyObject(rv);
            freeReplyObject(at);
        }
        printf("pass %d: %zu members, every rank as Redis's\n", pass, all->elements);
        freeReplyObject(all);
        if (pass == 0) {
            redisFree(a);
            *ap = NULL;
            sp_kill(ox);
            char why[4096]; /* its log replayed: the index's every level agrees */
            if (!sp_check(ox, why, sizeof why))
                T_FAIL("oxistore-check after the kill: %s", why);
            T_ASSERT(sp_start_argv(ox, name, fan) == 0);
            T_ASSERT((*ap = a = sp_connect(ox)) != NULL);
        }
    }
}

/* The rank index (keyspace/zset_fmt.h) with zset-rank-fanout 2, so that a set of a few
 * thousand members has every level and is built in several slices while it changes
 * (server/zindex.c): 30000 random adds, score changes, removals, pops and removals by
 * rank (members of equal scores, and long members that are never fences), the set deleted
 * now and then (built again) or cut by 1301 members (rebuilt without its index), each
 * answered as Redis answers it; then, once the last set's
 * index is whole, every ZRANK, ZREVRANK and ZRANGE by rank of it, before and after a
 * restart (the index is stored, not rebuilt). */
static void ranks_follow_random_changes_as_redis(void)
{
    srvp ox = {0}, ref = {0};
    redisContext *a = NULL, *b = NULL;
    T_ASSERT(start_fanout2_pair(&ox, &ref, "zrank", &a, &b) == 0);
    static char longm[300];
    memset(longm, 'L', sizeof longm - 1);
    unsigned long long seed = 20261206, built = 0;
    char cmd[8][400];
    const char *argv[8];
    size_t len[8];
    for (int step = 0; step < 30000; step++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(seed >> 33), op = r % 100, m = (r / 100) % 3000;
        int argc = 0;
        /* members: m<n>, one in 17 of them over 256 bytes (never a fence) */
        char member[400];
        snprintf(member, sizeof member, "%s%u", m % 17 ? "m" : longm, m);
        if (op < 55) {
            ARG("ZADD"), ARG("z"), ARG("%u", (r >> 12) % 40), ARG("%s", member);
        } else if (op < 70) {
            ARG("ZREM"), ARG("z"), ARG("%s", member);
        } else if (op < 74) {
            ARG(op & 1 ? "ZPOPMIN" : "ZPOPMAX"), ARG("z");
            if (op & 2)
                ARG("%u", (r >> 12) % 5);
        } else if (op < 76) {
            unsigned at = (r >> 12) % 400;
            ARG("ZREMRANGEBYRANK"), ARG("z"), ARG("%u", at), ARG("%u", at + (r >> 20) % 4);
        } else if (op < 82) {
            ARG("ZINCRBY"), ARG("z"), ARG("%d", (int)((r >> 12) % 7) - 3), ARG("%s", member);
        } else if (op < 94) {
            ARG(op & 1 ? "ZRANK" : "ZREVRANK"), ARG("z"), ARG("%s", member);
        } else {
            int at = (int)((r >> 12) % 1200) - 100;
            ARG(op & 1 ? "ZRANGE" : "ZREVRANGE"), ARG("z"), ARG("%d", at),
                ARG("%d", at + (int)((r >> 24) % 6)), ARG("WITHSCORES");
        }
        if (step % 5000 == 2500) { /* more than a set with an index removes in place
                                       (1024): rebuilt, without its index */
            argc = 0;
            ARG("ZREMRANGEBYRANK"), ARG("z"), ARG("100"), ARG("1400");
        }
        if (step % 7000 == 6999) { /* a new set, to be indexed again */
            argc = 0;
            ARG("DEL"), ARG("z");
            built = indexes_built(a);
        }
        redisReply *x = redisCommandArgv(a, argc, argv, len);
        redisReply *y = redisCommandArgv(b, argc, argv, len);
        if (!ref_same_reply(x, y, 0)) {
            char sx[256], sy[256];
            T_FAIL("step %d, %s %s: oxistore %s, redis %s", step, argv[0], argc > 2 ? argv[2] : "",
                   sp_show(x, sx, sizeof sx), sp_show(y, sy, sizeof sy));
        }
        freeReplyObject(x);
        freeReplyObject(y);
    }
    if (!index_built_since(a, built, "ZRANK z m1"))
        T_FAIL("the last set's index was not built (%llu before)", built);
    every_rank_as_redis(&a, b, &ox, "zrank", fanout2, 500);
    redisFree(a);
    redisFree(b);
    ref_stop(&ref);
    T_EQ_INT(sp_stop(&ox), 0);
}

/* Ranks asked while a set's rank index is being built (zset-rank-fanout 2: 100000 members
 * take thousands of slices): ZRANK and ZREVRANK count by the part of level 1 built so far
 * for a member before the builder's frontier; after it both walk from the top. Each round
 * removes a member and adds one between two others, before and after the frontier; every
 * answer exact, asked until the index is whole. */
static void ranks_during_a_build_are_exact(void)
{
    enum { N = 100000, STEP = 4999, MAXR = 4000 };
    static int gone[MAXR], added[MAXR]; /* m<gone>, and n<k> of score k + 0.5 */
    int ngone = 0, nadded = 0;
    srvp ox = {0};
    T_ASSERT(sp_start_argv(&ox, "zbuild", fanout2) == 0);
    redisContext *c = sp_connect(&ox);
    T_ASSERT(c);
    for (int i = 0; i < N; i++)
        redisAppendCommand(c, "ZADD z %d m%06d", i, i);
    for (int i = 0; i < N; i++) {
        redisReply *r;
        T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    int rounds = 0, built = 0;
    uint64_t deadline = t_now_ms() + 60000;
    T_CMD(c, ":0", "ZRANK z m000000"); /* asks for the index */
    while (!built && rounds < MAXR && t_now_ms() < deadline) {
        built = indexes_built(c) > 0;
        int g = (int)(((long long)rounds * 7919 + 13) % N), k = (rounds * 6151 + 5) % N;
        T_CMD(c, ":1", "ZREM z m%06d", g); /* distinct for MAXR rounds: 7919 is prime */
        T_CMD(c, ":1", "ZADD z %d.5 n%06d", k, k);
        gone[ngone++] = g;
        added[nadded++] = k;
        for (int i = rounds % STEP; i < N; i += STEP) {
            long long rank = i;
            int removed = 0;
            for (int j = 0; j < ngone; j++) {
                rank -= gone[j] < i;
                removed |= gone[j] == i;
            }
            for (int j = 0; j < nadded; j++)
                rank += added[j] < i;
            if (removed)
                continue;
            long long count = N - ngone + nadded;
            for (int rev = 0; rev < 2; rev++) {
                redisReply *r = redisCommand(c, "%s z m%06d", rev ? "ZREVRANK" : "ZRANK", i);
                T_ASSERT(r);
                long long want = rev ? count - 1 - rank : rank;
                if (r->type != REDIS_REPLY_INTEGER || r->integer != want)
                    T_FAIL("round %d: %s of m%06d: %lld, expected %lld", rounds,
                           rev ? "ZREVRANK" : "ZRANK", i, r->integer, want);
                freeReplyObject(r);
            }
        }
        rounds++;
    }
    T_ASSERT(built);
    printf("ranks during the build: %d rounds\n", rounds);
    redisFree(c);
    T_EQ_INT(sp_stop(&ox), 0);
}

/* Both servers answer argv the same way (else the test fails, naming step and command):
 * 1, with *xo oxistore's reply kept if xo is not NULL (the caller frees it), or 0. */
static int same_reply(redisContext *a, redisContext *b, int step, int argc, const char **argv,
                      const size_t *len, redisReply **xo)
{
    redisReply *x = redisCommandArgv(a, argc, argv, len);
    redisReply *y = redisCommandArgv(b, argc, argv, len);
    int same = ref_same_reply(x, y, 0);
    if (!same) {
        char sx[256], sy[256];
        fprintf(stderr, "step %d, %s %s: oxistore %s, redis %s\n", step, argv[0],
                argc > 2 ? argv[2] : "", sp_show_deep(x, sx, sizeof sx) ? sx : "?",
                sp_show_deep(y, sy, sizeof sy) ? sy : "?");
    }
    if (xo && same)
        *xo = x;
    else
        freeReplyObject(x);
    freeReplyObject(y);
    return same;
}

/* A sorted set used as a queue, taken from both ends (zset_fmt.h's bounds): ZPOPMIN and
 * ZPOPMAX with counts, ZRANGEBYSCORE ... LIMIT 0 1 then ZREM of what it named, the first
 * member rescheduled later, removals of a window from the low end, new members past
 * either end; half the members share one score and a 70-byte prefix (bounds keep 64
 * bytes of a member), and ranks are asked so that the set gets its rank index. Every
 * reply as Redis's, with a kill -9 halfway. */
static void queues_taken_from_both_ends_as_redis(void)
{
    srvp ref = {0};
    T_ASSERT(sp_start_redis(&ref, "zqueue-ref") == 0);
    redisContext *a = sp_connect(&g_srv), *b = sp_connect(&ref);
    T_ASSERT(a && b);
    T_CMD(a, "+OK", "FLUSHALL");
    char cmd[8][200], prefix[71];
    memset(prefix, 'q', 70);
    prefix[70] = 0;
    const char *argv[8];
    size_t len[8];
    unsigned long long seed = 1206;
    int next = 0, bad = 0, argc = 0;
    for (int step = 0; step < 8000 && bad < 5; step++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(seed >> 33), op = r % 100;
        redisReply *x = NULL;
        argc = 0;
        if (step % 2000 == 0) { /* refill: 600 members, half of score 0 with the prefix */
            for (int i = 0; i < 600 && !bad; i++, next++) {
                argc = 0;
                ARG("ZADD"), ARG("q");
                if (i % 2)
                    ARG("0"), ARG("%s%d", prefix, next);
                else
                    ARG("%d", next % 97), ARG("m%d", next);
                bad += !same_reply(a, b, step, argc, argv, len, NULL);
            }
            continue;
        }
        if (step == 4001) { /* kill -9: the bounds are stored with the set */
            redisFree(a);
            sp_kill(&g_srv);
            T_ASSERT(sp_start(&g_srv, "zset") == 0);
            T_ASSERT((a = sp_connect(&g_srv)) != NULL);
        }
        if (op < 20) {
            ARG(op & 1 ? "ZPOPMIN" : "ZPOPMAX"), ARG("q");
            if (op & 2)
                ARG("%u", 1 + (r >> 8) % 6);
        } else if (op < 45) { /* take the first (or last) one, then remove it */
            if (op & 1)
                ARG("ZRANGEBYSCORE"), ARG("q"), ARG("-inf"), ARG("+inf");
            else
                ARG("ZREVRANGEBYSCORE"), ARG("q"), ARG("+inf"), ARG("-inf");
            ARG("LIMIT"), ARG("0"), ARG("1");
            if (!same_reply(a, b, step, argc, argv, len, &x)) {
                bad++;
                continue;
            }
            argc = 0;
            ARG("ZREM"), ARG("q");
            if (x->elements == 1)
                ARG("%s", x->element[0]->str);
            else
                ARG("none");
            freeReplyObject(x);
        } else if (op < 55) { /* the first member rescheduled: moved up */
            ARG("ZRANGE"), ARG("q"), ARG("0"), ARG("0");
            if (!same_reply(a, b, step, argc, argv, len, &x)) {
                bad++;
                continue;
            }
            argc = 0;
            ARG("ZADD"), ARG("q"), ARG("%u", (r >> 8) % 120);
            ARG("%s", x->elements == 1 ? x->element[0]->str : "none");
            freeReplyObject(x);
        } else if (op < 60) {
            ARG("ZREMRANGEBYSCORE"), ARG("q"), ARG("-inf"), ARG("(%u", (r >> 8) % 4);
        } else if (op < 70) { /* a new member past either end, or among the equal ones */
            ARG("ZADD"), ARG("q");
            if (op & 1)
                ARG("%d", op & 2 ? -1 - step : 1000 + step), ARG("n%d", step);
            else
                ARG("0"), ARG("%s%c%d", prefix, op & 2 ? '0' : 'z', step);
        } else if (op < 80) {
            ARG(op & 1 ? "ZRANGE" : "ZREVRANGE"), ARG("q"), ARG("0"), ARG("3"),
                ARG("WITHSCORES");
        } else if (op < 90) {
            ARG(op & 1 ? "ZRANK" : "ZREVRANK"), ARG("q");
            int m = next - 1 - (int)((r >> 9) % 300); /* odd: the prefixed ones */
            ARG("%s%d", m % 2 ? prefix : "m", m);
        } else if (op < 95) {
            ARG("ZRANGE"), ARG("q"), ARG("%u", (r >> 8) % 200), ARG("%u", (r >> 8) % 200 + 2);
        } else {
            ARG("ZCARD"), ARG("q");
        }
        bad += !same_reply(a, b, step, argc, argv, len, NULL);
    }
    T_EQ_INT(bad, 0);
    redisFree(a);
    redisFree(b);
    ref_stop(&ref);
}

/* Runs of neighbours removed from the middle of a set with a whole rank index (fanout 2:
 * fences everywhere): each removed fence slides to the member after it (zset_fmt.c
 * rank_remove), in one ZREM of many members, across single ZREMs, from either side, and by
 * in-place ZREMRANGEBYSCORE; every rank as Redis's after each run, and after a restart. */
static void neighbours_removed_keep_ranks_as_redis(void)
{
    srvp ox = {0}, ref = {0};
    redisContext *a = NULL, *b = NULL;
    T_ASSERT(start_fanout2_pair(&ox, &ref, "zslide", &a, &b) == 0);
    index_3000(a, b, 3); /* three of each score */
    const char *argv[700];
    size_t len[700];
    char names[700][8];
    int bad = 0;
    for (int run = 0; run < 10 && !bad; run++) {
        int from = 200 + run * 260, n = 40 + run * 20, argc = 0;
        if (run % 3 == 0) { /* one ZREM of the run, ascending or descending */
            argv[argc] = "ZREM", len[argc++] = 4;
            argv[argc] = "z", len[argc++] = 1;
            for (int i = 0; i < n; i++) {
                int m = run % 2 ? from + n - 1 - i : from + i;
                len[argc] = (size_t)snprintf(names[i], sizeof names[i], "m%04d", m);
                argv[argc] = names[i];
                argc++;
            }
            bad += !same_reply(a, b, run, argc, argv, len, NULL);
        } else if (run % 3 == 1) { /* a ZREM each */
            for (int i = 0; i < n && !bad; i++) {
                char m[8];
                snprintf(m, sizeof m, "m%04d", run % 2 ? from + n - 1 - i : from + i);
                const char *one[] = {"ZREM", "z", m};
                size_t ol[] = {4, 1, strlen(m)};
                bad += !same_reply(a, b, run, 3, one, ol, NULL);
            }
        } else { /* by score, in place: fewer than 1024 */
            char lo[16], hi[16];
            snprintf(lo, sizeof lo, "%d", from / 3);
            snprintf(hi, sizeof hi, "(%d", (from + n) / 3);
            const char *r3[] = {"ZREMRANGEBYSCORE", "z", lo, hi};
            size_t rl[] = {16, 1, strlen(lo), strlen(hi)};
            bad += !same_reply(a, b, run, 4, r3, rl, NULL);
        }
        for (int m = from - 20; m < from + n + 20 && !bad; m += 3) { /* ranks around it */
            char name[8];
            snprintf(name, sizeof name, "m%04d", m);
            const char *rk[] = {m % 2 ? "ZRANK" : "ZREVRANK", "z", name};
            size_t rkl[] = {strlen(rk[0]), 1, strlen(name)};
            bad += !same_reply(a, b, run, 3, rk, rkl, NULL);
        }
    }
    const char *card[] = {"ZCARD", "z"};
    size_t cardl[] = {5, 1};
    bad += !same_reply(a, b, 10, 2, card, cardl, NULL);
    T_EQ_INT(bad, 0);
    every_rank_as_redis(&a, b, &ox, "zslide", fanout2, 1000);
    redisFree(a);
    redisFree(b);
    ref_stop(&ref);
    T_EQ_INT(sp_stop(&ox), 0);
}

/* Members whose scores keep rising (a leaderboard's ZINCRBY) leave their old index
 * entries deleted between the fence before them and themselves, until a checkpoint: a rank
 * is counted from the fence after them past DEL_STEPS of those (zset_fmt.c). Four members
 * at the top and four in the middle, rising by steps smaller and larger than the gaps
 * between scores, at the default fanout: every ZINCRBY, ZRANK and ZREVRANK as Redis's,
 * then every rank of the set before and after a kill -9. */
static void ranks_of_rising_members_as_redis(void)
{
    static const char *const none[] = {NULL};
    srvp ox = {0}, ref = {0};
    T_ASSERT(sp_start_argv(&ox, "zrise", none) == 0 && sp_start_redis(&ref, "zrise-ref") == 0);
    redisContext *a = sp_connect(&ox), *b = sp_connect(&ref);
    T_ASSERT(a && b);
    index_3000(a, b, 1);
    static const char *const hot[] = {"m2999", "m2998", "m2997", "m2996",
                                      "m1500", "m1501", "m1502", "m1503"};
    static const char *const by[] = {"1", "0.25", "3", "1.5", "0.001", "0.002", "0.4", "2"};
    int bad = 0;
    for (int i = 0; i < 4000 && !bad; i++) {
        const char *m = hot[i % 8];
        const char *incr[] = {"ZINCRBY", "z", by[i % 8], m};
        const char *rk[] = {"ZRANK", "z", m}, *rv[] = {"ZREVRANK", "z", m};
        size_t il[] = {7, 1, strlen(by[i % 8]), 5}, rl[] = {5, 1, 5}, vl[] = {8, 1, 5};
        bad += !same_reply(a, b, i, 4, incr, il, NULL);
        bad += !same_reply(a, b, i, 3, i % 2 ? rk : rv, i % 2 ? rl : vl, NULL);
    }
    T_EQ_INT(bad, 0);
    every_rank_as_redis(&a, b, &ox, "zrise", none, 2000);
    redisFree(a);
    redisFree(b);
    ref_stop(&ref);
    T_EQ_INT(sp_stop(&ox), 0);
}

static unsigned lm_rnd(unsigned long long *seed)
{
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)(*seed >> 33);
}

/* A member for long_members_sort_by_bytes_as_redis into buf (600 bytes): 470 'p's then 0
 * to 40 of "ab", or (one in 9) a short one. */
static void lm_member(char *buf, unsigned long long *seed)
{
    unsigned r = lm_rnd(seed), n = r % 41;
    if (r % 9 == 0) {
        snprintf(buf, 600, "s%u", r % 50);
        return;
    }
    memset(buf, 'p', 470);
    for (unsigned i = 0; i < n; i++)
        buf[470 + i] = "ab"[lm_rnd(seed) % 2];
    buf[470 + n] = 0;
}

/* Members whose index keys are the library's long keys (over 478 bytes: their first 478
 * bytes place them, then a hash; keyspace/keyorder.h): 470 bytes in common and up to 40
 * more, so that members of one score share their index keys' first 478 bytes, some stored
 * whole (up to 509) and some by hash. A random stream over two sorted sets and two sets,
 * with zset-rank-fanout 2: every order Redis replies (ranges by rank, score and lex with
 * long bounds inside a group, REV, LIMIT, ranks, pops, ZRANDMEMBER of the whole set,
 * SORT BY nosort, ZUNION, SUNION) as Redis's; then every rank through the index. Last, a
 * group of 2300 members (1.2 MB: more than a walk holds at once, read in passes), and one
 * of 6000 that stores read in passes across the parts they commit. */
static void long_members_sort_by_bytes_as_redis(void)
{
    srvp ox = {0}, ref = {0};
    redisContext *a = NULL, *b = NULL;
    T_ASSERT(start_fanout2_pair(&ox, &ref, "zlong", &a, &b) == 0);
    static char cmd[8][600];
    const char *argv[8];
    size_t len[8];
    unsigned long long seed = 20261207;
    int bad = 0;
    unsigned long long built = indexes_built(a);
#define MEMBER() (lm_member(cmd[argc], &seed), argv[argc] = cmd[argc], \
                  len[argc] = strlen(cmd[argc]), argc++)
    for (int step = 0; step < 2500 && bad < 3; step++) {
        unsigned r = lm_rnd(&seed), op = r % 100;
        const char *z = r & 0x100000 ? "z" : "z2";
        int argc = 0, canon = 0;
        if (op < 40) {
            ARG("ZADD"), ARG("%s", op < 30 ? "z" : z), ARG("%u", (r >> 8) % 3);
            MEMBER();
        } else if (op < 48) {
            ARG("ZADD"), ARG("l"), ARG("0");
            MEMBER();
        } else if (op < 52) {
            ARG("SADD"), ARG("%s", r & 1 ? "s1" : "s2");
            MEMBER();
        } else if (op < 56) {
            ARG(op & 1 ? "ZREM" : "ZINCRBY"), ARG("z");
            if (!(op & 1))
                ARG("1");
            MEMBER();
        } else if (op < 60) {
            ARG(op & 1 ? "ZRANK" : "ZREVRANK"), ARG("%s", z);
            MEMBER();
        } else if (op < 66) {
            int at = (int)((r >> 8) % 60);
            ARG(op & 1 ? "ZRANGE" : "ZREVRANGE"), ARG("%s", z), ARG("%d", at),
                ARG("%d", at + (int)((r >> 16) % 8)), ARG("WITHSCORES");
        } else if (op < 70) {
            ARG("ZRANGEBYSCORE"), ARG("%s", z), ARG("%u", (r >> 8) % 3), ARG("+inf"),
                ARG("LIMIT"), ARG("%u", (r >> 12) % 20), ARG("%u", 1 + (r >> 20) % 6);
        } else if (op < 78) { /* lex bounds: members or not, inside a group */
            static const char *const verb[] = {"ZRANGEBYLEX", "ZLEXCOUNT", "ZREVRANGEBYLEX",
                                               "ZREMRANGEBYLEX"};
            int vb = (int)(op % 4) == 3 && (r >> 30) ? 0 : (int)(op % 4), rev = vb == 2;
            ARG("%s", verb[vb]), ARG("l");
            for (int e = 0; e < 2; e++) {
                cmd[argc][0] = (r >> (10 + e)) & 1 ? '[' : '(';
                lm_member(cmd[argc] + 1, &seed);
                argv[argc] = cmd[argc], len[argc] = strlen(cmd[argc]), argc++;
            }
            if (strcmp(cmd[2] + 1, cmd[3] + 1) > 0 ? !rev : rev) { /* min <= max (rev: >=) */
                char t[600];
                memcpy(t, cmd[2], sizeof t);
                memcpy(cmd[2], cmd[3], sizeof t);
                memcpy(cmd[3], t, sizeof t);
                size_t tl = len[2];
                len[2] = len[3], len[3] = tl;
            }
            if (vb != 1 && vb != 3 && (r >> 14) & 1)
                ARG("LIMIT"), ARG("%u", (r >> 15) % 5), ARG("%u", 1 + (r >> 18) % 5);
        } else if (op < 82) {
            ARG(op & 1 ? "ZPOPMIN" : "ZPOPMAX"), ARG("%s", z), ARG("%u", 1 + (r >> 8) % 3);
        } else if (op < 85) {
            ARG("ZRANDMEMBER"), ARG("%s", z), ARG("100000"), ARG("WITHSCORES");
        } else if (op < 88) {
            ARG("SORT"), ARG("%s", z), ARG("BY"), ARG("nosort"), ARG("LIMIT"),
                ARG("%u", (r >> 8) % 30), ARG("10");
        } else if (op < 92) {
            ARG("ZUNION"), ARG("2"), ARG("z"), ARG("z2"), ARG("WITHSCORES");
        } else if (op < 94) {
            ARG("ZUNIONSTORE"), ARG("u"), ARG("2"), ARG("z"), ARG("z2");
        } else if (op < 96) {
            ARG("ZRANGE"), ARG("u"), ARG("0"), ARG("-1"), ARG("WITHSCORES");
        } else {
            ARG(op & 1 ? "SUNION" : "SINTER"), ARG("s1"), ARG("s2");
            canon = 1; /* a set's order is its hash table's in Redis */
        }
        redisReply *x = redisCommandArgv(a, argc, argv, len);
        redisReply *y = redisCommandArgv(b, argc, argv, len);
        if (canon) {
            ref_canonical(x);
            ref_canonical(y);
        }
        if (!ref_same_reply(x, y, 0)) {
            char sx[256], sy[256];
            fprintf(stderr, "step %d, %s %s: oxistore %s, redis %s\n", step, argv[0], argv[1],
                    sp_show_deep(x, sx, sizeof sx) ? sx : "?",
                    sp_show_deep(y, sy, sizeof sy) ? sy : "?");
            bad++;
        }
        freeReplyObject(x);
        freeReplyObject(y);
    }
    T_EQ_INT(bad, 0);
    /* z's index, built since the stream's first ranks: every rank through it */
    T_ASSERT(index_built_since(a, built, "ZRANK z s1"));
    every_rank_as_redis(&a, b, &ox, "zlong", fanout2, 100);

    /* one group of 2300 members: read in passes of KORDER_BYTES */
    for (int i = 0; i < 2300; i++) {
        char m[600];
        memset(m, 'p', 470);
        for (int j = 0; j < 50; j++)
            m[470 + j] = "ab"[lm_rnd(&seed) % 2];
        m[520] = 0;
        redisAppendCommand(a, "ZADD big 1 %s", m);
        redisAppendCommand(b, "ZADD big 1 %s", m);
    }
    for (int i = 0; i < 4600; i++) {
        redisReply *r;
        T_EQ_INT(redisGetReply(i < 2300 ? a : b, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    static const char *const asks[][6] = {
        {"ZRANGE", "big", "0", "-1"},         {"ZRANGE", "big", "0", "-1", "REV"},
        {"ZRANGE", "big", "1000", "1010"},    {"ZREVRANGE", "big", "2000", "2003"},
        {"ZRANGEBYSCORE", "big", "1", "1", "LIMIT", "1500"},
        {"ZPOPMIN", "big", "3"},              {"ZPOPMAX", "big", "3"}};
    static const int asks_n[] = {4, 5, 4, 4, 6, 3, 3};
    for (size_t i = 0; i < sizeof asks_n / sizeof *asks_n; i++) {
        const char *q[7];
        size_t ql[7];
        int n = asks_n[i];
        for (int j = 0; j < n; j++)
            q[j] = asks[i][j], ql[j] = strlen(q[j]);
        if (i == 4)
            q[n] = "30", ql[n++] = 2;
        bad += !same_reply(a, b, (int)i, n, q, ql, NULL);
    }
    T_EQ_INT(bad, 0);
    redisReply *all = redisCommand(b, "ZRANGE big 0 -1");
    T_ASSERT(all && all->type == REDIS_REPLY_ARRAY && all->elements == 2294);
    for (size_t i = 0; i < all->elements; i += 97) {
        redisReply *rk = redisCommand(a, "ZRANK big %b", all->element[i]->str, all->element[i]->len);
        T_ASSERT(rk && rk->type == REDIS_REPLY_INTEGER);
        T_EQ_INT(rk->integer, (long long)i);
        freeReplyObject(rk);
    }
    freeReplyObject(all);

    /* a group of 6000 (4.5 MB, 469 bytes in common with the member key's 9) in a set and
     * a sorted set: stores that the writer makes in parts (bulk.h) read it in passes, each
     * in the part's own transaction */
    for (int i = 0; i < 6000; i++) {
        char m[1000];
        memset(m, 'q', 469);
        int n = 469 + snprintf(m + 469, 8, "%05d", i), more = 40 + (int)(lm_rnd(&seed) % 460);
        memset(m + n, 'x', (size_t)more);
        m[n + more] = 0;
        redisAppendCommand(a, "SADD q %s", m), redisAppendCommand(b, "SADD q %s", m);
        redisAppendCommand(a, "ZADD zq 1 %s", m), redisAppendCommand(b, "ZADD zq 1 %s", m);
    }
    for (int i = 0; i < 24000; i++) {
        redisReply *r;
        T_EQ_INT(redisGetReply(i < 12000 ? a : b, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    static const char *const stores[][6] = {
        {"SUNIONSTORE", "d", "q", "none"},     {"ZUNIONSTORE", "zd", "2", "zq", "q"},
        {"ZRANGESTORE", "zr", "zq", "0", "-1"}, {"SCARD", "d"}, {"ZCARD", "zd"},
        {"ZRANGE", "zd", "2990", "3005"},      {"ZRANGE", "zr", "-9", "-1"}};
    static const int stores_n[] = {4, 5, 5, 2, 2, 4, 4};
    for (size_t i = 0; i < sizeof stores_n / sizeof *stores_n; i++) {
        size_t ql[6];
        for (int j = 0; j < stores_n[i]; j++)
            ql[j] = strlen(stores[i][j]);
        bad += !same_reply(a, b, (int)i, stores_n[i], (const char **)stores[i], ql, NULL);
    }
    T_EQ_INT(bad, 0);
#undef MEMBER
    redisFree(a);
    redisFree(b);
    ref_stop(&ref);
    T_EQ_INT(sp_stop(&ox), 0);
}

/* Scores of -0 (zset_fmt.h): Redis 7.0 keeps the sign in a skiplist and loses it in a
 * listpack, whose encoding oxistore judges by what the set holds (encoding.h). A random
 * stream over a set of short members (a listpack until it passes 128), one with long
 * members too (a skiplist), ZRANGESTORE and ZUNIONSTORE destinations (WEIGHTS -1 turns 0
 * into -0), with zset-rank-fanout 2 so that members of -0 become fences and slide: every
 * reply as Redis's, then every rank through the index and oxistore-check after a kill. */
static void negative_zero_scores_as_redis(void)
{
    srvp ox = {0}, ref = {0};
    redisContext *a = NULL, *b = NULL;
    T_ASSERT(start_fanout2_pair(&ox, &ref, "znegz", &a, &b) == 0);
    static char cmd[10][128];
    const char *argv[10];
    size_t len[10];
    static const char *const sc[] = {"-0", "0", "1", "-1", "-0", "2"};
    unsigned long long seed = 20261207;
    int bad = 0;
    unsigned long long built = indexes_built(a);
    for (int step = 0; step < 4000 && bad < 3; step++) {
        unsigned r = lm_rnd(&seed), op = r % 100, m = lm_rnd(&seed) % 300;
        const char *z = lm_rnd(&seed) & 1 ? "z" : "c", *score = sc[lm_rnd(&seed) % 6];
        int argc = 0;
        /* z's members: one in 5 over 64 bytes (Redis holds z as a skiplist then) */
        char member[100];
        snprintf(member, sizeof member, "%s%u", *z == 'z' && m % 5 == 0 ?
                 "long-member-long-member-long-member-long-member-long-member-long-" : "m",
                 *z == 'c' ? m % 140 : m);
        if (op < 45) {
            ARG("ZADD"), ARG("%s", z), ARG("%s", score), ARG("%s", member);
        } else if (op < 52) {
            ARG("ZINCRBY"), ARG("%s", z), ARG("%s", score), ARG("%s", member);
        } else if (op < 58) {
            ARG("ZREM"), ARG("%s", z), ARG("%s", member);
        } else if (op < 61) {
            ARG(op & 1 ? "ZPOPMIN" : "ZPOPMAX"), ARG("%s", z), ARG("%u", 1 + (r >> 20) % 3);
        } else if (op < 70) {
            ARG("ZRANGEBYSCORE"), ARG("%s", z), ARG("-0"), ARG("0"), ARG("WITHSCORES"),
                ARG("LIMIT"), ARG("%u", (r >> 20) % 50), ARG("5");
        } else if (op < 76) {
            int at = (int)((r >> 20) % 200);
            ARG("ZRANGE"), ARG("%s", z), ARG("%d", at), ARG("%d", at + 4), ARG("WITHSCORES");
        } else if (op < 82) {
            ARG("ZMSCORE"), ARG("%s", z), ARG("%s", member), ARG("m%u", (r >> 20) % 140);
        } else if (op < 85) {
            ARG("ZRANGESTORE"), ARG("d"), ARG("%s", z), ARG("%u", (r >> 20) % 150),
                ARG("%u", (r >> 20) % 150 + (r >> 12) % 200);
        } else if (op < 88) {
            ARG("ZUNIONSTORE"), ARG("u"), ARG("2"), ARG("c"), ARG("z"), ARG("WEIGHTS"),
                ARG("%s", r & 1 ? "-1" : "1"), ARG("%s", r & 2 ? "-1" : "1");
        } else if (op < 93) {
            ARG("ZRANGEBYSCORE"), ARG("%s", r & 1 ? "d" : "u"), ARG("-1"), ARG("1"),
                ARG("WITHSCORES"), ARG("LIMIT"), ARG("%u", (r >> 20) % 60), ARG("8");
        } else if (op < 96) {
            ARG("ZSCAN"), ARG("c"), ARG("0"), ARG("COUNT"), ARG("1000");
        } else if (op < 98) {
            ARG("ZUNION"), ARG("2"), ARG("c"), ARG("z"), ARG("WEIGHTS"), ARG("-1"), ARG("1"),
                ARG("WITHSCORES");
        } else {
            ARG("ZRANK"), ARG("%s", z), ARG("%s", member);
        }
        if (*z == 'c' && op >= 96 && op < 98 && (r >> 28) == 0) { /* now and then anew */
            argc = 0;
            ARG("DEL"), ARG("c");
        }
        if (op >= 93 && op < 96 && strcmp(argv[1], "c")) /* ZSCAN: only of the listpack */
            continue;
        bad += !same_reply(a, b, step, argc, argv, len, NULL);
    }
    T_EQ_INT(bad, 0);
    T_ASSERT(index_built_since(a, built, "ZRANK z m1"));
    every_rank_as_redis(&a, b, &ox, "znegz", fanout2, 100);
    redisReply *x = redisCommand(a, "ZRANGE z 0 -1 WITHSCORES");
    redisReply *y = redisCommand(b, "ZRANGE z 0 -1 WITHSCORES");
    T_ASSERT(ref_same_reply(x, y, 0)); /* the signs too, after the restart */
    size_t negz = 0;
    for (size_t i = 1; x && i < x->elements; i += 2) {
        negz += !strcmp(x->element[i]->str, "-0");
    }
    printf("%zu members of z, %zu of score -0\n", x ? x->elements / 2 : 0, negz);
    T_ASSERT(negz > 10);
    freeReplyObject(x);
    freeReplyObject(y);
    redisFree(a);
    redisFree(b);
    ref_stop(&ref);
    T_EQ_INT(sp_stop(&ox), 0);
}

/* What Redis 7.0 holds a sorted set as, with its history: a listpack until a 129th member
 * or one over 64 bytes converts it to a skiplist, for good, however it shrinks after
 * (coll_fmt.h's converted bit); a store builds its destination anew. Random ZADD, ZINCRBY,
 * ZREM, ZPOPMIN, ZREMRANGEBYRANK, ZRANGESTORE, ZUNIONSTORE, COPY and RENAME over two sets
 * that grow past 128 members, take long members and shrink to a few, with -0 scores:
 * each reply, then OBJECT ENCODING of every key and every member with its score (a
 * skiplist keeps the sign of a -0, a listpack does not), as Redis's; again after a kill -9
 * and oxistore-check. */
static void encoding_history_as_redis(void)
{
    srvp ox = {0}, ref = {0};
    redisContext *a = NULL, *b = NULL;
    T_ASSERT(start_fanout2_pair(&ox, &ref, "zhist", &a, &b) == 0);
    static const char *const keys[] = {"h1", "h2", "d", "cp"};
    static const char *const sc[] = {"-0", "1", "-0", "2.5", "0"};
    static char cmd[8][128];
    const char *argv[8];
    size_t len[8];
    unsigned long long seed = 20261207;
    int bad = 0, skiplists = 0, shrunk = 0, most = 0;
    for (int step = 0; step < 3000 && bad < 3; step++) {
        unsigned r = lm_rnd(&seed), op = r % 100, m = lm_rnd(&seed) % 200;
        const char *k = keys[lm_rnd(&seed) & 1], *score = sc[lm_rnd(&seed) % 5];
        int argc = 0, grow = (step / 500) % 2 == 0; /* 500 steps growing, 500 shrinking */
        char member[100];
        snprintf(member, sizeof member, "%s%u", m % 40 == 0 ? "long-member-long-member-long-"
                 "member-long-member-long-member-long-member-" : "m", m);
        if (op < 15 || (grow && op < 72 && op >= 20)) { /* growing: removals are adds */
            ARG("ZADD"), ARG("%s", k), ARG("%s", score), ARG("%s", member);
        } else if (op < 20) {
            ARG("ZINCRBY"), ARG("%s", k), ARG("%s", score), ARG("%s", member);
        } else if (op < 60) {
            ARG("ZREM"), ARG("%s", k), ARG("%s", member);
        } else if (op < 70) {
            ARG("ZPOPMIN"), ARG("%s", k), ARG("%u", 1 + (r >> 20) % 4);
        } else if (op < 72) {
            ARG("ZREMRANGEBYRANK"), ARG("%s", k), ARG("0"), ARG("%u", (r >> 20) % 40);
        } else if (op < 78) {
            ARG("ZRANGESTORE"), ARG("d"), ARG("%s", k), ARG("%u", (r >> 20) % 20),
                ARG("%u", (r >> 20) % 20 + (r >> 12) % 150);
        } else if (op < 82) {
            ARG("ZUNIONSTORE"), ARG("d"), ARG("2"), ARG("h1"), ARG("h2");
        } else if (op < 86) {
            ARG("COPY"), ARG("%s", k), ARG("cp"), ARG("REPLACE");
        } else if (op < 88) {
            ARG("RENAME"), ARG("cp"), ARG("%s", k);
        } else {
            ARG("ZSCORE"), ARG("%s", k), ARG("%s", member);
        }
        bad += !same_reply(a, b, step, argc, argv, len, NULL);
        for (int i = 0; i < 4 && !bad; i++) {
            const char *enc[] = {"OBJECT", "ENCODING", keys[i]};
            const char *all[] = {"ZRANGE", keys[i], "0", "-1", "WITHSCORES"};
            size_t el[] = {6, 8, strlen(keys[i])}, al[] = {6, strlen(keys[i]), 1, 2, 10};
            redisReply *x = NULL;
            bad += !same_reply(a, b, step, 3, enc, el, &x);
            if (x && x->type == REDIS_REPLY_STRING && !strcmp(x->str, "skiplist")) {
                redisReply *c = redisCommand(a, "ZCARD %s", keys[i]);
                skiplists++;
                shrunk += c && c->integer <= 128;
                most = c && c->integer > most ? (int)c->integer : most;
                freeReplyObject(c);
            }
            freeReplyObject(x);
            bad += !same_reply(a, b, step, 5, all, al, NULL);
        }
    }
    T_EQ_INT(bad, 0);
    printf("%d skiplists seen, %d of them of at most 128 members, the largest %d\n",
           skiplists, shrunk, most);
    T_ASSERT(shrunk > 100 && most > 128);
    redisFree(a);
    char why[4096];
    if (!sp_kill_check_restart(&ox, "zhist", fanout2, &a, why, sizeof why))
        T_FAIL("after the kill: %s", why);
    for (int i = 0; i < 4; i++) {
        const char *enc[] = {"OBJECT", "ENCODING", keys[i]};
        const char *all[] = {"ZRANGE", keys[i], "0", "-1", "WITHSCORES"};
        size_t el[] = {6, 8, strlen(keys[i])}, al[] = {6, strlen(keys[i]), 1, 2, 10};
        T_ASSERT(same_reply(a, b, -1, 3, enc, el, NULL));
        T_ASSERT(same_reply(a, b, -1, 5, all, al, NULL));
    }
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
    T_RUN(zadd_flags_and_scores_reply_as_redis);
    T_RUN(ranges_reply_as_redis);
    T_RUN(removals_pops_and_store_reply_as_redis);
    T_RUN(algebra_and_zmpop_reply_as_redis);
    T_RUN(edge_arguments_reply_as_redis);
    T_RUN(pops_keep_ranges_exact);
    T_RUN(resp3_scores_are_doubles);
    T_RUN(whole_zrandmember_comes_from_the_top);
    T_RUN(order_and_scores_survive_kill_9);
    T_RUN(ranks_follow_random_changes_as_redis);
    T_RUN(ranks_during_a_build_are_exact);
    T_RUN(queues_taken_from_both_ends_as_redis);
    T_RUN(neighbours_removed_keep_ranks_as_redis);
    T_RUN(ranks_of_rising_members_as_redis);
    T_RUN(long_members_sort_by_bytes_as_redis);
    T_RUN(negative_zero_scores_as_redis);
    T_RUN(encoding_history_as_redis);
    t_failed += sp_stop_or_dump(&g_srv);
    return T_MAIN_END();
}
