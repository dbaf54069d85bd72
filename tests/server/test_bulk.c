/* Commands that build a whole collection (SINTERSTORE SUNIONSTORE SDIFFSTORE, ZUNIONSTORE
 * ZINTERSTORE ZDIFFSTORE, ZRANGESTORE, COPY, MOVE, SORT ... STORE) keep the write buffer
 * within write-buffer-limit however large their result: they commit it in parts under a
 * collection id no key names yet, and the last part makes it the key's value. With a
 * 1 MiB limit, results of 40000 members (several MiB of buffer in one transaction before)
 * leave INFO write_buffer_peak within the limit, and their contents are right. Inside
 * MULTI a build stays one transaction. A SIGKILL in the middle of a build leaves the
 * destination as it was, and what the build had written is reclaimed. Removals of part
 * of a large collection (ZREMRANGEBY*, LTRIM, LREM) and LINSERT near a long list's head
 * rebuild what survives the same way, and a SIGKILL meanwhile leaves the set whole. */
#include <poll.h>

#include "fault_util.h"
#include "srv_util.h"

T_MAIN_BEGIN;

enum { N = 20000, PER_CMD = 500, LIMIT = 1 << 20 };

static srvp g_srv;

static void server_starts(void)
{
    const char *extra[] = {"--write-buffer-limit", "1mb", "--appendfsync", "no", NULL};
    if (sp_start_argv(&g_srv, "bulk", extra)) {
        sp_dump_log(&g_srv);
        T_FAIL("server did not start");
    }
}

/* "<cmd> key" then members (with scores before them for ZADD) fmt % i for i in [from, to),
 * PER_CMD per command, all pipelined: 1 if every reply was the count added. */
static int load(redisContext *c, const char *cmd, const char *key, const char *fmt, int from,
                int to)
{
    static char args[2 + 2 * PER_CMD][48];
    const char *argv[2 + 2 * PER_CMD];
    size_t lens[2 + 2 * PER_CMD];
    int zadd = !strcmp(cmd, "ZADD"), sent = 0;
    for (int i = from; i < to; i += PER_CMD) {
        int argc = 0, n = to - i < PER_CMD ? to - i : PER_CMD;
        argv[argc++] = cmd;
        argv[argc++] = key;
        for (int j = 0; j < n; j++) {
            if (zadd) {
                snprintf(args[argc], sizeof args[argc], "%d", i + j);
                argv[argc] = args[argc];
                argc++;
            }
            snprintf(args[argc], sizeof args[argc], fmt, i + j);
            argv[argc] = args[argc];
            argc++;
        }
        for (int k = 0; k < argc; k++)
            lens[k] = strlen(argv[k]);
        redisAppendCommandArgv(c, argc, argv, lens);
        sent++;
    }
    int ok = 1;
    for (int i = 0; i < sent; i++) {
        redisReply *r;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return 0;
        ok &= r->type == REDIS_REPLY_INTEGER && r->integer > 0;
        freeReplyObject(r);
    }
    return ok;
}

static long long peak(redisContext *c)
{
    char v[64];
    return atoll(sp_info_field(c, "persistence", "write_buffer_peak", v, sizeof v));
}

#define T_WITHIN_LIMIT(c, what)                                                           \
    do {                                                                                  \
        long long p_ = peak(c);                                                           \
        if (p_ > LIMIT)                                                                   \
            T_FAIL("%s: the write buffer reached %lld bytes (limit %d)", what, p_, LIMIT); \
    } while (0)

/* The set algebra's STORE forms over integers, in parts (write-buffer-limit 1mb: a part
 * ends at each member here): whether the destination is still Redis's intset is decided
 * from each member before its part ends (it was read after, from the walk's memory that
 * the part's end had freed: ASan's report, a dropped connection). Redis 7.0's replies. */
static void integer_sets_build_in_parts(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, ":1", "EVAL %s 0",
          "for i = 1, 1000 do redis.call('SADD', 'a', i) redis.call('SADD', 'b', i + 500) end "
          "return 1");
    T_CMD(c, ":1500", "SUNIONSTORE u a b");
    T_CMD(c, "$9 hashtable", "OBJECT ENCODING u");
    T_CMD(c, ":500", "SINTERSTORE i a b");
    T_CMD(c, "$6 intset", "OBJECT ENCODING i");
    T_CMD(c, ":500", "SDIFFSTORE d a b");
    T_CMD(c, "$6 intset", "OBJECT ENCODING d");
    T_CMD(c, ":1", "SISMEMBER i 501");
    T_CMD(c, ":0", "SISMEMBER d 501");
    T_CMD(c, ":1", "SISMEMBER u 1500");
    redisFree(c);
}

/* Every building command, on sources of 2 x 20000 members: right counts and members, and
 * the write buffer's peak within the limit. */
static void builds_stay_within_the_write_buffer(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_ASSERT(load(c, "SADD", "a", "m:%d", 0, N));
    T_ASSERT(load(c, "SADD", "b", "m:%d", N / 2, N / 2 + N));
    T_ASSERT(load(c, "ZADD", "za", "m:%d", 0, N));
    T_ASSERT(load(c, "ZADD", "zb", "m:%d", N / 2, N / 2 + N));
    T_WITHIN_LIMIT(c, "loading");
    T_CMD(c, "+OK", "SET u old");
    T_CMD(c, ":30000", "SUNIONSTORE u a b");
    T_WITHIN_LIMIT(c, "SUNIONSTORE");
    T_CMD(c, ":30000", "SCARD u");
    T_CMD(c, ":30000", "SINTERCARD 1 u"); /* a walk of its members: none twice, none else */
    T_CMD(c, ":1", "SISMEMBER u m:0");
    T_CMD(c, ":1", "SISMEMBER u m:29999");
    T_CMD(c, ":10000", "SINTERSTORE i a b");
    T_CMD(c, ":10000", "SDIFFSTORE d a b");
    T_CMD(c, ":0", "SISMEMBER d m:10000");
    T_WITHIN_LIMIT(c, "SINTERSTORE, SDIFFSTORE");
    T_CMD(c, ":30000", "ZUNIONSTORE zu 2 za zb");
    T_CMD(c, "$5 20000", "ZSCORE zu m:10000");
    T_CMD(c, ":10000", "ZINTERSTORE zi 2 za zb WEIGHTS 1 2");
    T_CMD(c, "$5 30000", "ZSCORE zi m:10000");
    T_CMD(c, ":10000", "ZDIFFSTORE zd 2 za zb");
    T_CMD(c, ":20000", "ZRANGESTORE zr za 0 -1");
    T_CMD(c, ":15000", "ZRANGESTORE zs za (4999 +inf BYSCORE");
    T_CMD(c, ":15000", "ZRANGESTORE zv za 14999 -inf BYSCORE REV");
    T_CMD(c, ":15000", "ZCOUNT zv -inf +inf");
    T_DEEP(c, "*1 [$7 m:14999]", "ZRANGE zv -1 -1");
    T_CMD(c, ":30000", "ZCOUNT zu -inf +inf");
    T_WITHIN_LIMIT(c, "ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE, ZRANGESTORE");
    T_CMD(c, ":1", "COPY u u2");
    T_CMD(c, ":30000", "SCARD u2");
    T_CMD(c, ":1", "COPY zu zu2 DB 1");
    T_CMD(c, ":1", "MOVE u2 2");
    T_WITHIN_LIMIT(c, "COPY, MOVE");
    T_CMD(c, "+OK", "SELECT 2");
    T_CMD(c, ":30000", "SCARD u2");
    T_CMD(c, ":30000", "SINTERCARD 1 u2");
    T_CMD(c, "+OK", "SELECT 1");
    T_CMD(c, ":30000", "ZCARD zu2");
    T_CMD(c, ":30000", "ZCOUNT zu2 -inf +inf");
    T_CMD(c, "+OK", "SELECT 0");
    T_CMD(c, ":20000", "SORT a ALPHA STORE l");
    T_CMD(c, "$3 m:0", "LINDEX l 0");
    T_WITHIN_LIMIT(c, "SORT STORE");
    redisFree(c);
}

/* Inside MULTI a build is part of the one transaction EXEC commits. */
static void builds_in_multi_are_one_transaction(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "MULTI");
    T_CMD(c, "+QUEUED", "SUNIONSTORE mu a b");
    T_CMD(c, "+QUEUED", "SCARD mu");
    redisReply *r = redisCommand(c, "EXEC");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    T_EQ_INT(r->element[0]->integer, 30000);
    T_EQ_INT(r->element[1]->integer, 30000);
    freeReplyObject(r);
    redisFree(c);
}

static const char *const g_small[] = {"--write-buffer-limit", "1mb", "--appendfsync", "no",
                                      NULL};

/* What build_under_way loads before its command: 1 if it all went in. */
typedef int loader(redisContext *c);

/* a and b of 60000 members each, and dst = "old". */
static int load_union(redisContext *c)
{
    redisReply *r = NULL;
    int ok = load(c, "SADD", "a", "member:%d", 0, 60000) &&
             load(c, "SADD", "b", "member:%d", 60000, 120000) &&
             (r = redisCommand(c, "SET dst old")) && r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return ok;
}

/* z of 120000 members. */
static int load_zset(redisContext *c)
{
    return load(c, "ZADD", "z", "member:%d", 0, 120000);
}

/* Starts a server named name (faulty: with the fault shim) with a 1 MiB buffer, loads it,
 * then sends cmd on *w and returns once two more checkpoints show its parts being
 * committed (a poll, 60 s at most): the first connection, NULL on a failure.
 * *reclaimed: members_reclaimed before the command (the start's pass of the sweeper
 * over). */
static redisContext *build_under_way(srvp *s, const char *name, int faulty, loader *fill,
                                     const char *cmd, redisContext **w,
                                     unsigned long long *reclaimed)
{
    if ((faulty ? start_faulty_argv(s, name, g_small) : sp_start_argv(s, name, g_small)) != 0)
        return NULL;
    redisContext *c = sp_connect(s);
    if (!c || !fill(c) || !(*w = sp_connect(s))) {
        redisFree(c);
        return NULL;
    }
    uint64_t t0 = t_now_ms();
    while (sp_reclaimed(c) == 0 && t_now_ms() - t0 < 2000)
        usleep(2000);
    *reclaimed = sp_reclaimed(c);
    uint64_t cps = sp_checkpoints(s);
    redisAppendCommand(*w, cmd);
    int wdone = 0;
    if (redisBufferWrite(*w, &wdone) != REDIS_OK)
        return redisFree(c), NULL;
    while (sp_checkpoints(s) < cps + 2 && t_now_ms() - t0 < 60000)
        usleep(1000);
    return c;
}

/* A SIGKILL while SUNIONSTORE builds 120000 members in parts: after the restart the
 * destination is the string it was, and the members the build wrote are reclaimed. */
static void a_killed_build_leaves_the_destination(void)
{
    srvp s = {0};
    redisContext *w = NULL;
    unsigned long long before;
    redisContext *c = build_under_way(&s, "bulkkill", 0, load_union, "SUNIONSTORE dst a b", &w,
                                      &before);
    T_ASSERT(c);
    sp_kill(&s);
    redisFree(w);
    redisFree(c);
    T_EQ_INT(sp_start_argv(&s, "bulkkill", g_small), 0);
    c = sp_connect(&s);
    T_ASSERT(c);
    redisReply *r = redisCommand(c, "GET dst");
    T_ASSERT(r);
    /* the kill may come after the last part: then the union is there, whole */
    if (r->type == REDIS_REPLY_STRING) {
        T_EQ_STR(r->str, "old");
        T_ASSERT(sp_wait_reclaimed(c, 0, 1) >= 1); /* a new process counts from 0 */
    } else {
        T_CMD(c, ":120000", "SCARD dst");
    }
    freeReplyObject(r);
    T_CMD(c, ":60000", "SCARD a");
    redisFree(c);
    t_failed += sp_stop_or_dump(&s);
}

/* A SIGKILL while ZREMRANGEBYRANK removes half of a 120000-member set, rebuilding the
 * other half in parts: after the restart the set is whole or halved, never in between,
 * and what the command or the old set left is reclaimed. */
static void a_killed_removal_leaves_the_set_whole(void)
{
    srvp s = {0};
    redisContext *w = NULL;
    unsigned long long before;
    redisContext *c = build_under_way(&s, "bulkkillrem", 0, load_zset,
                                      "ZREMRANGEBYRANK z 0 59999", &w, &before);
    T_ASSERT(c);
    sp_kill(&s);
    redisFree(w);
    redisFree(c);
    T_EQ_INT(sp_start_argv(&s, "bulkkillrem", g_small), 0);
    c = sp_connect(&s);
    T_ASSERT(c);
    redisReply *r = redisCommand(c, "ZCARD z");
    T_ASSERT(r && r->type == REDIS_REPLY_INTEGER);
    long long n = r->integer;
    freeReplyObject(r);
    if (n == 120000) { /* killed before the last part */
        T_DEEP(c, "*1 [$8 member:0]", "ZRANGE z 0 0");
    } else {
        T_EQ_INT(n, 60000);
        T_DEEP(c, "*1 [$12 member:60000]", "ZRANGE z 0 0");
    }
    T_DEEP(c, "*1 [$13 member:119999]", "ZRANGE z -1 -1");
    T_EQ_INT(sp_wait_reclaimed(c, 0, 1) >= 1, 1); /* a new process counts from 0 */
    redisFree(c);
    t_failed += sp_stop_or_dump(&s);
}

/* A build whose part fails to commit (the write-ahead log's writes fail mid-build)
 * answers MISCONF, as a failed commit does, and leaves the destination as it was; the
 * parts it had committed are reclaimed at once (its id is queued for the sweeper), not
 * at the next pass over the whole file, a minute later. */
static void a_failed_build_is_reclaimed_at_once(void)
{
    srvp s = {0};
    redisContext *w = NULL;
    unsigned long long before;
    redisContext *c = build_under_way(&s, "bulkfail", 1, load_union, "SUNIONSTORE dst a b", &w,
                                     &before);
    T_ASSERT(c);
    T_ASSERT(fault_on("EIO log") == 0);
    redisReply *r;
    T_EQ_INT(redisGetReply(w, (void **)&r), REDIS_OK);
    int failed = r->type == REDIS_REPLY_ERROR;
    if (failed)
        T_EQ_STR(r->str, "MISCONF Errors writing to the data file: I/O error");
    freeReplyObject(r);
    fault_off();
    if (failed) { /* else the build ended before the fault: nothing to reclaim */
        T_CMD(c, "$3 old", "GET dst");
        uint64_t t1 = t_now_ms();
        while (sp_reclaimed(c) == before && t_now_ms() - t1 < 20000)
            usleep(2000);
        T_ASSERT(sp_reclaimed(c) > before);
    }
    redisFree(w);
    redisFree(c);
    t_failed += sp_stop_or_dump(&s);
}

/* 2 x 150000 members with a 4 MiB limit: the checkpoints during the build grow the map,
 * which detaches the build's iterators (their next step answered "store is busy"); the
 * walks open again where they were. */
static void builds_go_on_through_map_growth(void)
{
    srvp s = {0};
    const char *extra[] = {"--write-buffer-limit", "4mb", "--appendfsync", "no", NULL};
    T_EQ_INT(sp_start_argv(&s, "bulkgrow", extra), 0);
    redisContext *c = sp_connect(&s);
    T_ASSERT(c);
    T_ASSERT(load(c, "SADD", "a", "member:%d", 0, 150000));
    T_ASSERT(load(c, "SADD", "b", "member:%d", 150000, 300000));
    T_CMD(c, ":300000", "ZUNIONSTORE z 2 a b");
    T_CMD(c, ":300000", "ZCOUNT z -inf +inf");
    T_CMD(c, ":300000", "SUNIONSTORE u a b");
    T_CMD(c, ":300000", "SINTERCARD 1 u");
    redisFree(c);
    t_failed += sp_stop_or_dump(&s);
}

/* LINSERT and LREM of a 6000-element list moved its elements with a plain iterator while
 * another client's 64 KiB SETs grew the map (--map-size 1mb) under it: a write let go of
 * LMDB for the growth, the iterator's next step answered "store is busy", and the list
 * kept what the command had moved (6006 elements for 6000), with the values of its
 * moves read from the old mapping. Their walks now go on through the growth, and a put
 * reads its value before it lets go of the map. */
#define PAD "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv" /* elements of 38 bytes (load's limit: 47) */
static void list_moves_go_on_through_map_growth(void)
{
    enum { LEN = 6000, BIG = 1 << 16, SETS = 1200, ROUND = 20 };
    srvp s = {0};
    const char *extra[] = {"--write-buffer-limit", "4mb", "--map-size", "1mb",
                           "--appendfsync", "no", NULL};
    T_EQ_INT(sp_start_argv(&s, "listgrow", extra), 0);
    redisContext *c = sp_connect(&s), *b = sp_connect(&s);
    T_ASSERT(c && b);
    T_ASSERT(load(c, "RPUSH", "l", "e:%05d:" PAD, 0,
                  LEN));
    char *big = malloc(BIG);
    T_ASSERT(big);
    memset(big, 'x', BIG);
    int errors = 0, wdone;
    for (int i = 0; i < SETS; i += ROUND) {
        for (int j = i; j < i + ROUND; j++)
            redisAppendCommand(b, "SET big:%d %b", j, big, (size_t)BIG);
        do /* sent, not waited for: they run while the list's commands do */
            T_EQ_INT(redisBufferWrite(b, &wdone), REDIS_OK);
        while (!wdone);
        for (int j = 0; j < 5; j++) {
            redisAppendCommand(c, "LINSERT l AFTER e:00000:" PAD " new");
            redisAppendCommand(c, "LREM l 0 new");
        }
        for (int j = 0; j < 10; j++) {
            redisReply *r;
            T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
            if ((r->type != REDIS_REPLY_INTEGER || r->integer != (j % 2 ? 1 : LEN + 1)) &&
                errors++ < 3)
                fprintf(stderr, "  reply %d: %s\n", j,
                        r->type == REDIS_REPLY_ERROR ? r->str : "not the count");
            freeReplyObject(r);
        }
        for (int j = 0; j < ROUND; j++) {
            redisReply *r;
            T_EQ_INT(redisGetReply(b, (void **)&r), REDIS_OK);
            freeReplyObject(r);
        }
    }
    free(big);
    T_EQ_INT(errors, 0);
    T_CMD(c, ":6000", "LLEN l");
    redisReply *r = redisCommand(c, "LRANGE l 0 -1");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == LEN);
    for (int i = 0; i < LEN; i++) {
        char want[64];
        snprintf(want, sizeof want, "e:%05d:" PAD, i);
        T_EQ_STR(r->element[i]->str, want);
    }
    freeReplyObject(r);
    redisFree(b);
    redisFree(c);
    t_failed += sp_stop_or_dump(&s);
}

/* Removals of every member (SPOP s SCARD, LPOP/RPOP l LLEN, LTRIM l 1 0, ZPOPMIN/ZPOPMAX
 * z ZCARD, ZMPOP, ZREMRANGEBYRANK z 0 -1, ...BYSCORE -inf +inf, ...BYLEX - +) delete the
 * key, as DEL, instead of one delete per member (SPOP of 20000 filled 2.4 MB of a 1 MB
 * buffer): the write buffer stays within its limit, the replies are whole and in order,
 * and the members are reclaimed. */
static void removals_of_every_member_stay_within_the_write_buffer(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    unsigned long long before = sp_reclaimed(c);
    T_ASSERT(load(c, "SADD", "rs", "m:%d", 0, N));
    redisReply *r = redisCommand(c, "SPOP rs %d", N + 5);
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == N);
    freeReplyObject(r);
    T_CMD(c, ":0", "EXISTS rs");
    T_WITHIN_LIMIT(c, "SPOP");
    for (int side = 0; side < 2; side++) {
        T_ASSERT(load(c, "RPUSH", "rl", "m:%d", 0, N));
        r = redisCommand(c, "%s rl %d", side ? "RPOP" : "LPOP", N);
        T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == N);
        T_EQ_STR(r->element[0]->str, side ? "m:19999" : "m:0");
        T_EQ_STR(r->element[N - 1]->str, side ? "m:0" : "m:19999");
        freeReplyObject(r);
        T_CMD(c, ":0", "EXISTS rl");
    }
    T_ASSERT(load(c, "RPUSH", "rl", "m:%d", 0, N));
    T_CMD(c, "+OK", "LTRIM rl 1 0");
    T_CMD(c, ":0", "EXISTS rl");
    T_WITHIN_LIMIT(c, "LPOP, RPOP, LTRIM");
    const char *zrem[] = {"ZREMRANGEBYRANK rz 0 -1", "ZREMRANGEBYSCORE rz -inf +inf",
                          "ZREMRANGEBYLEX rz - +"};
    for (int i = 0; i < 3; i++) {
        T_ASSERT(load(c, "ZADD", "rz", "m:%d", 0, N));
        T_CMD(c, ":20000", zrem[i]);
        T_CMD(c, ":0", "EXISTS rz");
    }
    for (int side = 0; side < 2; side++) {
        T_ASSERT(load(c, "ZADD", "rz", "m:%d", 0, N));
        r = redisCommand(c, "%s rz %d", side ? "ZPOPMAX" : "ZPOPMIN", N + 1);
        T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 * N);
        T_EQ_STR(r->element[0]->str, side ? "m:19999" : "m:0");
        T_EQ_STR(r->element[1]->str, side ? "19999" : "0");
        freeReplyObject(r);
        T_CMD(c, ":0", "EXISTS rz");
    }
    T_ASSERT(load(c, "ZADD", "rz", "m:%d", 0, N));
    r = redisCommand(c, "ZMPOP 1 rz MIN COUNT %d", N);
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    T_ASSERT(r->element[1]->type == REDIS_REPLY_ARRAY && r->element[1]->elements == N);
    freeReplyObject(r);
    T_CMD(c, ":0", "EXISTS rz");
    T_WITHIN_LIMIT(c, "ZREMRANGEBY*, ZPOPMIN, ZPOPMAX, ZMPOP");
    /* every member of the 10 collections emptied at once (and their heads) is reclaimed */
    T_ASSERT(sp_wait_reclaimed(c, before, 10 * (unsigned long long)N) >= 10ULL * N);
    redisFree(c);
}

/* Sends argv and reads its reply: 1 if it is an integer (want >= 0: that one). */
static int argv_count(redisContext *c, int argc, const char **argv, const size_t *lens,
                      long long want)
{
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    int ok = r && r->type == REDIS_REPLY_INTEGER && (want < 0 || r->integer == want);
    freeReplyObject(r);
    return ok;
}

/* ZADD (scores 0..n-1) or RPUSH of n members "m:<5 digits>:" padded with 'x' to len
 * bytes, 50 per command: 1 if every reply was a count. */
static int load_long(redisContext *c, const char *cmd, const char *key, int n, size_t len)
{
    enum { PER = 50 };
    static char names[PER][1024], scores[PER][16];
    const char *argv[2 + 2 * PER];
    size_t lens[2 + 2 * PER];
    int zadd = !strcmp(cmd, "ZADD");
    for (int i = 0; i < n; i += PER) {
        int argc = 0;
        argv[argc] = cmd, lens[argc++] = strlen(cmd);
        argv[argc] = key, lens[argc++] = strlen(key);
        for (int j = 0; j < PER && i + j < n; j++) {
            char head[16];
            int h = snprintf(head, sizeof head, "m:%05d:", i + j);
            memset(names[j], 'x', len);
            memcpy(names[j], head, (size_t)h);
            if (zadd) {
                snprintf(scores[j], sizeof scores[j], "%d", i + j);
                argv[argc] = scores[j], lens[argc++] = strlen(scores[j]);
            }
            argv[argc] = names[j], lens[argc++] = len;
        }
        if (!argv_count(c, argc, argv, lens, -1))
            return 0;
    }
    return 1;
}

/* Changes in place are bounded in bytes too, not only in members: with 600-byte names, a
 * removal of 2048 members (the member bound at 1 MiB) wrote 2.5 MB of buffer; LINSERT
 * moving 2000 such elements 1.6 MB (200-byte ones still pass its byte budget); and a
 * rebuild pipelined behind another command ran whole in the batch's transaction (5 MB).
 * Each is now taken back at its budget and rebuilt in parts, first in its part. */
static void long_names_change_in_parts(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_ASSERT(load_long(c, "ZADD", "lz", 6000, 600));
    T_CMD(c, ":2048", "ZREMRANGEBYRANK lz 0 2047");
    T_WITHIN_LIMIT(c, "ZREMRANGEBYRANK of long names");
    T_CMD(c, ":3952", "ZCARD lz");
    T_CMD(c, ":1000", "ZREMRANGEBYSCORE lz 2048 3047");
    T_WITHIN_LIMIT(c, "ZREMRANGEBYSCORE of long names");
    T_CMD(c, ":2952", "ZCARD lz");
    redisReply *r = redisCommand(c, "ZRANGE lz 0 0");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
             !strncmp(r->element[0]->str, "m:03048:x", 9));
    freeReplyObject(r);
    redisAppendCommand(c, "SET after b"); /* the removal is not first in its part */
    redisAppendCommand(c, "ZREMRANGEBYRANK lz 0 -2001");
    for (int i = 0; i < 2; i++) {
        T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
        T_ASSERT(r->type == (i ? REDIS_REPLY_INTEGER : REDIS_REPLY_STATUS));
        if (i)
            T_EQ_INT(r->integer, 952);
        freeReplyObject(r);
    }
    T_WITHIN_LIMIT(c, "a rebuild behind another command");
    T_CMD(c, ":2000", "ZCARD lz");
    T_ASSERT(load_long(c, "RPUSH", "ll", 3000, 200));
    r = redisCommand(c, "LINDEX ll 999");
    T_ASSERT(r && r->type == REDIS_REPLY_STRING);
    redisReply *l = redisCommand(c, "LINSERT ll BEFORE %b new", r->str, r->len);
    T_ASSERT(l && l->type == REDIS_REPLY_INTEGER && l->integer == 3001);
    freeReplyObject(l);
    freeReplyObject(r);
    T_WITHIN_LIMIT(c, "LINSERT of long elements");
    T_CMD(c, "$3 new", "LINDEX ll 999");
    r = redisCommand(c, "LINDEX ll 1000");
    T_ASSERT(r && r->type == REDIS_REPLY_STRING && !strncmp(r->str, "m:00999:x", 9));
    freeReplyObject(r);
    T_CMD(c, ":1", "LREM ll 0 new");
    T_WITHIN_LIMIT(c, "LREM of long elements");
    T_CMD(c, ":3000", "LLEN ll");
    T_CMD(c, ":3", "DEL lz ll after");
    redisFree(c);
}

/* A TTL that passes while a removal is rebuilt in parts is kept (the command's time is its
 * start, as Redis's): it was written as none (PTTL -1), and the key never expired. The
 * rebuild of 200000 members takes a few hundred ms, the TTL 100 ms; should the machine
 * stall past the TTL before the command starts, the key is simply gone. */
static void a_rebuild_keeps_a_ttl_that_passes_meanwhile(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_ASSERT(load(c, "ZADD", "tz", "m:%d", 0, 12 * N));
    redisAppendCommand(c, "PEXPIRE tz 100");
    redisAppendCommand(c, "ZREMRANGEBYRANK tz 0 39999");
    redisReply *r;
    T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
    T_EQ_INT(r->integer, 1);
    freeReplyObject(r);
    T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
    T_ASSERT(r->type == REDIS_REPLY_INTEGER && (r->integer == 40000 || r->integer == 0));
    freeReplyObject(r);
    r = redisCommand(c, "PTTL tz");
    T_ASSERT(r && r->type == REDIS_REPLY_INTEGER);
    T_ASSERT(r->integer == -2 || (r->integer >= 0 && r->integer <= 100));
    freeReplyObject(r);
    uint64_t t0 = t_now_ms();
    int gone = 0;
    while (!gone && t_now_ms() - t0 < 5000) {
        r = redisCommand(c, "EXISTS tz");
        gone = r && r->type == REDIS_REPLY_INTEGER && r->integer == 0;
        freeReplyObject(r);
        if (!gone)
            usleep(2000);
    }
    T_ASSERT(gone);
    redisFree(c);
}

/* RPUSH key of N elements, "x" at even places and "y:<place>" at odd ones. */
static int load_alternating(redisContext *c, const char *key)
{
    static char args[2 + PER_CMD][24];
    const char *argv[2 + PER_CMD];
    size_t lens[2 + PER_CMD];
    for (int i = 0; i < N; i += PER_CMD) {
        int argc = 0;
        argv[argc++] = "RPUSH";
        argv[argc++] = key;
        for (int j = i; j < i + PER_CMD; j++) {
            snprintf(args[argc], sizeof args[argc], j % 2 ? "y:%d" : "x", j);
            argv[argc] = args[argc];
            argc++;
        }
        for (int k = 0; k < argc; k++)
            lens[k] = strlen(argv[k]);
        if (!argv_count(c, argc, argv, lens, i + PER_CMD))
            return 0;
    }
    return 1;
}

/* Removals of part of a collection larger than a transaction should change (ZREMRANGEBY*,
 * LTRIM, LREM) and LINSERT near the head of a long list (every element after it moves)
 * rebuild what survives under a fresh id in parts: the write buffer stays within its limit
 * (ZREMRANGEBYSCORE of 19999 members took 4 MB of a 1 MB buffer, one delete per member),
 * the key keeps its TTL, the result is Redis's, and the old members are reclaimed. */
static void partial_removals_stay_within_the_write_buffer(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    unsigned long long before = sp_reclaimed(c);
    T_ASSERT(load(c, "ZADD", "pz", "m:%d", 0, N));
    T_CMD(c, ":1", "EXPIRE pz 1000");
    T_CMD(c, ":19999", "ZREMRANGEBYSCORE pz (0 +inf");
    T_WITHIN_LIMIT(c, "ZREMRANGEBYSCORE");
    T_CMD(c, ":1", "ZCARD pz");
    T_DEEP(c, "*2 [$3 m:0, $1 0]", "ZRANGE pz 0 -1 WITHSCORES");
    T_CMD(c, ":1000", "TTL pz");
    T_ASSERT(load(c, "ZADD", "pz", "m:%d", 0, N));
    T_CMD(c, ":19800", "ZREMRANGEBYRANK pz 100 -101");
    T_WITHIN_LIMIT(c, "ZREMRANGEBYRANK");
    T_CMD(c, ":200", "ZCARD pz");
    T_DEEP(c, "*4 [$4 m:99, $7 m:19900, $7 m:19901, $7 m:19902]", "ZRANGE pz 99 102");
    T_CMD(c, ":100", "ZRANK pz m:19900");
    T_CMD(c, ":200", "ZCOUNT pz -inf +inf");
    T_CMD(c, ":1000", "TTL pz");
    /* BYLEX over one score: [m:1 .. (m:2 takes m:1, m:1x ... m:1xxxx: 11111 members */
    T_ASSERT(load(c, "ZADD", "pz", "m:%d", 0, N));
    T_CMD(c, ":20000", "ZUNIONSTORE lz 1 pz WEIGHTS 0");
    T_CMD(c, ":11111", "ZREMRANGEBYLEX lz [m:1 (m:2");
    T_WITHIN_LIMIT(c, "ZREMRANGEBYLEX");
    T_CMD(c, ":8889", "ZLEXCOUNT lz - +");
    T_DEEP(c, "*3 [$3 m:0, $3 m:2, $4 m:20]", "ZRANGEBYLEX lz - + LIMIT 0 3");
    T_CMD(c, ":0", "ZLEXCOUNT lz [m:1 [m:19999");

    T_ASSERT(load(c, "RPUSH", "pl", "m:%d", 0, N));
    T_CMD(c, ":1", "EXPIRE pl 1000");
    T_CMD(c, "+OK", "LTRIM pl 100 -9801");
    T_WITHIN_LIMIT(c, "LTRIM");
    T_CMD(c, ":10100", "LLEN pl");
    T_CMD(c, "$5 m:100", "LINDEX pl 0");
    T_CMD(c, "$7 m:10199", "LINDEX pl -1");
    T_CMD(c, ":1000", "TTL pl");
    T_CMD(c, ":10101", "LINSERT pl BEFORE m:101 new"); /* 10099 move: rebuilt */
    T_CMD(c, ":10102", "LINSERT pl AFTER m:10000 new2"); /* 199 move: in place */
    T_WITHIN_LIMIT(c, "LINSERT");
    T_DEEP(c, "*4 [$5 m:100, $3 new, $5 m:101, $5 m:102]", "LRANGE pl 0 3");
    T_DEEP(c, "*3 [$7 m:10000, $4 new2, $7 m:10001]", "LRANGE pl 9901 9903");
    T_CMD(c, "$7 m:10199", "LINDEX pl -1");
    T_CMD(c, ":10102", "LLEN pl");
    T_CMD(c, ":1000", "TTL pl");

    T_ASSERT(load_alternating(c, "al"));
    T_CMD(c, ":10000", "LREM al 0 x");
    T_WITHIN_LIMIT(c, "LREM");
    T_CMD(c, ":10000", "LLEN al");
    T_DEEP(c, "*2 [$3 y:1, $3 y:3]", "LRANGE al 0 1");
    T_CMD(c, "$7 y:19999", "LINDEX al -1");
    T_CMD(c, ":1", "DEL al");
    T_ASSERT(load_alternating(c, "al"));
    T_CMD(c, ":6000", "LREM al -6000 x"); /* the last 6000: x at 19998 down to 8000 */
    T_WITHIN_LIMIT(c, "LREM from the tail");
    T_CMD(c, ":14000", "LLEN al");
    T_DEEP(c, "*4 [$1 x, $6 y:7999, $6 y:8001, $6 y:8003]", "LRANGE al 7998 8001");
    T_DEEP(c, "*2 [$1 x, $3 y:1]", "LRANGE al 0 1");
    T_CMD(c, "$7 y:19999", "LINDEX al -1");
    T_CMD(c, ":0", "LREM al 0 absent"); /* no match: nothing written */

    /* the old members of the 8 rebuilt collections, 20000 each but the trimmed list */
    T_ASSERT(sp_wait_reclaimed(c, before, 7ULL * N) >= 7ULL * N);
    T_CMD(c, ":4", "DEL pz lz pl al");
    redisFree(c);
}

/* Sorted sets of 2000 members with 4800-byte names (keys that point into their records,
 * not into the walk's copy), built again and again with a 1 MiB limit: each build commits
 * in parts as the buffer fills, though 2000 members is under the estimate that defers a
 * build (the buffer stays within the limit), and the checkpoints grow the map meanwhile
 * (the server died of SIGBUS: a zset member's second record was made from the name after
 * the first write had let go of the map). */
static void long_names_build_in_parts_through_growth(void)
{
    srvp s = {0};
    const char *extra[] = {"--write-buffer-limit", "1mb", "--appendfsync", "no", NULL};
    T_EQ_INT(sp_start_argv(&s, "bulklong", extra), 0);
    redisContext *c = sp_connect(&s);
    T_ASSERT(c);
    enum { M = 2000, LEN = 4800 };
    static char name[LEN + 1];
    memset(name, 'n', LEN);
    for (int i = 0; i < M; i++) {
        snprintf(name, sizeof name, "%06d", i);
        name[6] = 'n'; /* the number, then the rest of the 4800 bytes */
        redisAppendCommand(c, "ZADD zbig %d %b", i, name, (size_t)LEN);
    }
    for (int i = 0; i < M; i++) {
        redisReply *r;
        T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
        T_EQ_INT(r->type, REDIS_REPLY_INTEGER);
        freeReplyObject(r);
    }
    for (int round = 0; round < 8; round++) {
        T_CMD(c, ":2000", "ZUNIONSTORE d%d 1 zbig", round);
        T_CMD(c, ":2000", "ZRANGESTORE r%d zbig 0 -1", round);
        T_CMD(c, ":2000", "ZCOUNT r%d -inf +inf", round);
    }
    T_WITHIN_LIMIT(c, "ZUNIONSTORE, ZRANGESTORE of long names");
    redisFree(c);
    t_failed += sp_stop_or_dump(&s);
}

/* A build deferred to a part of its own (behind another write of its batch) counts once
 * in INFO commandstats, as it runs once. */
static void deferred_builds_count_once(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    char v[256];
    sp_info_field(c, "commandstats", "cmdstat_sdiffstore", v, sizeof v);
    long before = strncmp(v, "calls=", 6) ? 0 : atol(v + 6);
    redisAppendCommand(c, "SET deferred 1");
    redisAppendCommand(c, "SDIFFSTORE dd a b");
    redisReply *r;
    T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
    freeReplyObject(r);
    T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
    T_EQ_INT(r->integer, 10000);
    freeReplyObject(r);
    sp_info_field(c, "commandstats", "cmdstat_sdiffstore", v, sizeof v);
    T_EQ_INT(atol(v + 6), before + 1);
    redisFree(c);
}

int main(void)
{
    T_RUN(server_starts);
    if (!g_srv.pid)
        return T_MAIN_END();
    T_RUN(integer_sets_build_in_parts);
    T_RUN(builds_stay_within_the_write_buffer);
    T_RUN(removals_of_every_member_stay_within_the_write_buffer);
    T_RUN(partial_removals_stay_within_the_write_buffer);
    T_RUN(long_names_change_in_parts);
    T_RUN(a_rebuild_keeps_a_ttl_that_passes_meanwhile);
    T_RUN(deferred_builds_count_once);
    T_RUN(builds_in_multi_are_one_transaction); /* last on this server: it passes the limit */
    T_RUN(a_killed_build_leaves_the_destination);
    T_RUN(a_killed_removal_leaves_the_set_whole);
    T_RUN(a_failed_build_is_reclaimed_at_once);
    T_RUN(builds_go_on_through_map_growth);
    T_RUN(list_moves_go_on_through_map_growth);
    T_RUN(long_names_build_in_parts_through_growth);
    t_failed += sp_stop_or_dump(&g_srv);
    return T_MAIN_END();
}
