/* Large collections: a hash, a list, a set and a sorted set of 1M members each, loaded
 * with pipelined variadic commands. Their counts and some members are right; DEL of each
 * answers at once with DBSIZE right after it; the sweeper then reclaims every member in
 * the background (INFO members_reclaimed), and the data file's free pages grow once the
 * checkpoints have written the deletions (INFO data_file_free_pages). */
#include "srv_util.h"

T_MAIN_BEGIN;

enum { MEMBERS = 1000000, PER_CMD = 1000, IN_FLIGHT = 32 };

static srvp g_srv;

static void server_starts(void)
{
    /* appendfsync no: the load and the reclaim's slices are what is measured here */
    const char *extra[] = {"--appendfsync", "no", NULL};
    if (sp_start_argv(&g_srv, "large", extra)) {
        sp_dump_log(&g_srv);
        T_FAIL("server did not start");
    }
}

/* Sends MEMBERS / PER_CMD commands "<cmd> key <members i..i+PER_CMD-1 as fmt>", with
 * IN_FLIGHT of them unanswered at most; 1 if each answered the integer PER_CMD. */
static int load(redisContext *c, const char *cmd, const char *key, int pairs)
{
    static char args[2 + 2 * PER_CMD][32];
    const char *argv[2 + 2 * PER_CMD];
    size_t lens[2 + 2 * PER_CMD];
    int sent = 0, answered = 0, ok = 1, cmds = MEMBERS / PER_CMD;
    while (answered < cmds && ok) {
        while (sent < cmds && sent - answered < IN_FLIGHT) {
            int n = 0;
            argv[n] = cmd, lens[n] = strlen(cmd), n++;
            argv[n] = key, lens[n] = strlen(key), n++;
            for (int i = sent * PER_CMD; i < (sent + 1) * PER_CMD; i++) {
                if (pairs) { /* a score or a field before the member */
                    lens[n] = (size_t)snprintf(args[n], sizeof args[n], pairs == 1 ? "%d" : "f%d", i);
                    argv[n] = args[n];
                    n++;
                }
                lens[n] = (size_t)snprintf(args[n], sizeof args[n], "m%d", i);
                argv[n] = args[n];
                n++;
            }
            redisAppendCommandArgv(c, n, argv, lens);
            sent++;
        }
        redisReply *r;
        ok = redisGetReply(c, (void **)&r) == REDIS_OK && r->type == REDIS_REPLY_INTEGER &&
             r->integer == (strcmp(cmd, "RPUSH") ? PER_CMD : (long long)(answered + 1) * PER_CMD);
        if (r)
            freeReplyObject(r);
        answered++;
    }
    return ok;
}

static unsigned long long free_pages(redisContext *c)
{
    char v[32];
    return strtoull(sp_info_field(c, "persistence", "data_file_free_pages", v, sizeof v), NULL,
                    10);
}

static void million_member_collections_delete_at_once(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_ASSERT(load(c, "HSET", "h", 2));
    T_ASSERT(load(c, "RPUSH", "l", 0));
    T_ASSERT(load(c, "SADD", "s", 0));
    T_ASSERT(load(c, "ZADD", "z", 1));
    T_CMD(c, ":1000000", "HLEN h");
    T_CMD(c, ":1000000", "LLEN l");
    T_CMD(c, ":1000000", "SCARD s");
    T_CMD(c, ":1000000", "ZCARD z");
    T_CMD(c, "$7 m999999", "HGET h f999999");
    T_CMD(c, "$7 m500000", "LINDEX l 500000");
    T_CMD(c, ":1", "SISMEMBER s m123456");
    T_CMD(c, "$6 654321", "ZSCORE z m654321");
    T_DEEP(c, "*2 [$7 m999998, $7 m999999]", "ZRANGEBYSCORE z 999998 +inf");
    /* the first rank asked builds the set's rank index in the writer's background slices
     * (server/zindex.c); then ranks are found through it, not by walks of 654321 members */
    T_CMD(c, ":654321", "ZRANK z m654321");
    char v[32];
    uint64_t built_by = t_now_ms() + 120000;
    while (strcmp(sp_info_field(c, "stats", "zset_rank_indexes_built", v, sizeof v), "1") &&
           t_now_ms() < built_by)
        usleep(20000); /* polls the counter */
    T_EQ_STR(v, "1");
    T_CMD(c, ":654321", "ZRANK z m654321");
    T_CMD(c, ":345678", "ZREVRANK z m654321");
    T_DEEP(c, "*4 [$7 m500000, $6 500000, $7 m500001, $6 500001]",
           "ZRANGE z 500000 500001 WITHSCORES");
    T_DEEP(c, "*1 [$6 m99989]", "ZREVRANGE z 900010 900010");
    T_CMD(c, ":4", "DBSIZE");
    unsigned long long before = sp_reclaimed(c), pages = free_pages(c);
    const char *keys[] = {"h", "l", "s", "z"};
    for (int i = 0; i < 4; i++) {
        T_CMD(c, ":1", "DEL %s", keys[i]);
        T_CMD(c, ":0", "EXISTS %s", keys[i]);
        char left[8];
        snprintf(left, sizeof left, ":%d", 3 - i);
        T_CMD(c, left, "DBSIZE");
    }
    /* every member record: the fields and members, the zset's index too, back links, and
     * the zset's rank index: about one fence in 31 members (fanout 32), which members
     * drew at random */
    unsigned long long want = 5ULL * MEMBERS + 4, most = want + MEMBERS / 16;
    /* the sweeper has a quarter of the writer's time (expire.c): about 60k records a
     * second under the sanitizers here, so the deadline is longer than sp_wait_reclaimed's */
    uint64_t until = t_now_ms() + 300000;
    while (sp_reclaimed(c) - before < want && t_now_ms() < until)
        usleep(20000); /* polls the counter */
    if (sp_reclaimed(c) - before < want || sp_reclaimed(c) - before > most)
        T_FAIL("reclaimed %llu, not %llu to %llu", sp_reclaimed(c) - before, want, most);
    uint64_t deadline = t_now_ms() + 60000;
    while (free_pages(c) <= pages && t_now_ms() < deadline)
        T_CMD(c, "+OK", "SET tick %llu", (unsigned long long)t_now_ms()); /* polls */
    if (free_pages(c) <= pages)
        T_FAIL("free pages %llu, %llu before the deletions", free_pages(c), pages);
    redisFree(c);
}

int main(void)
{
    T_RUN(server_starts);
    if (!g_srv.pid)
        return T_MAIN_END();
    T_RUN(million_member_collections_delete_at_once);
    t_failed += sp_stop_or_dump(&g_srv);
    return T_MAIN_END();
}
