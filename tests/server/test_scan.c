/* SCAN and KEYS: Redis's replies and errors, every glob form, full iterations that return
 * every stable key and terminate under concurrent inserts and deletes, 50 interleaved
 * scanners, cursors across reconnects, cursors below 2^53, a cursor from an earlier server
 * process refused explicitly, and a MATCH prefix that seeks instead of walking. */
#include <pthread.h>
#include <stdatomic.h>

#include "srv_util.h"

T_MAIN_BEGIN;

static srvp g_srv;

#define STABLE 100000
#define CHURN 20000
#define UNKNOWN "-ERR unknown cursor: it expired or comes from another server process; " \
                "restart the iteration from 0"

/* Sets prefix:000000..n-1 (pipelined MSETs of 1000). */
static int load(redisContext *c, const char *prefix, int from, int n)
{
    for (int base = from; base < from + n; base += 1000) {
        int cnt = base + 1000 <= from + n ? 1000 : from + n - base;
        const char **argv = malloc(sizeof *argv * (size_t)(1 + 2 * cnt));
        size_t *lens = malloc(sizeof *lens * (size_t)(1 + 2 * cnt));
        char (*keys)[32] = malloc(sizeof *keys * (size_t)cnt);
        argv[0] = "MSET";
        lens[0] = 4;
        for (int i = 0; i < cnt; i++) {
            snprintf(keys[i], sizeof keys[i], "%s:%06d", prefix, base + i);
            argv[1 + 2 * i] = keys[i];
            lens[1 + 2 * i] = strlen(keys[i]);
            argv[2 + 2 * i] = "v";
            lens[2 + 2 * i] = 1;
        }
        redisReply *r = redisCommandArgv(c, 1 + 2 * cnt, argv, lens);
        int ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        free(argv);
        free(lens);
        free(keys);
        if (!ok)
            return -1;
    }
    return 0;
}

/* One SCAN step: the next cursor in *cursor (as text), calls on_key for each key. -1 on a
 * bad reply; *err gets an error reply's text. */
static int scan_step(redisContext *c, char *cursor, const char *extra,
                     void (*on_key)(const char *k, size_t len, void *arg), void *arg, char *err,
                     size_t errlen)
{
    char line[256]; /* extra's words are separate arguments (no '%' in them) */
    snprintf(line, sizeof line, "SCAN %s %s", cursor, extra ? extra : "");
    redisReply *r = redisCommand(c, line);
    int rc = -1;
    if (r && r->type == REDIS_REPLY_ERROR && err)
        snprintf(err, errlen, "-%s", r->str);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_ARRAY) {
        snprintf(cursor, 32, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++)
            on_key(r->element[1]->element[i]->str, r->element[1]->element[i]->len, arg);
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

/* Marks stable:N keys in a bitmap; counts all keys. */
typedef struct seen {
    unsigned char bits[STABLE / 8 + 1];
    long keys, steps, twice; /* twice: stable keys returned again */
    int max_cursor_ok; /* every cursor was a decimal below 2^53 */
} seen;

static void mark(const char *k, size_t len, void *arg)
{
    seen *s = arg;
    s->keys++;
    if (len == 13 && !strncmp(k, "stable:", 7)) {
        int n = atoi(k + 7);
        s->twice += (s->bits[n / 8] >> (n % 8)) & 1;
        s->bits[n / 8] |= (unsigned char)(1u << (n % 8));
    }
}

static int all_stable(const seen *s)
{
    for (int n = 0; n < STABLE; n++)
        if (!(s->bits[n / 8] & (1u << (n % 8))))
            return 0;
    return 1;
}

/* A whole iteration; -1 if it fails or takes more than max_steps. */
static int scan_all(redisContext *c, const char *extra, seen *s, long max_steps)
{
    char cursor[32] = "0";
    do {
        if (scan_step(c, cursor, extra, mark, s, NULL, 0) || ++s->steps > max_steps)
            return -1;
        char *end;
        unsigned long long v = strtoull(cursor, &end, 10);
        if (*end || v >= (1ull << 53))
            s->max_cursor_ok = 0;
    } while (strcmp(cursor, "0"));
    return 0;
}

static void server_starts_with_data(void)
{
    /* A small write buffer: the loads and the churn below run across checkpoints. */
    const char *extra[] = {"--io-threads", "4", "--write-buffer-limit", "1mb", NULL};
    T_EQ_INT(sp_start_argv(&g_srv, "scan", extra), 0);
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_EQ_INT(load(c, "stable", 0, STABLE), 0);
    T_EQ_INT(load(c, "tmp", 0, CHURN), 0);
    redisFree(c);
}

static void errors_and_replies_are_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "-ERR invalid cursor", "SCAN abc");
    T_CMD(c, "-ERR invalid cursor", "SCAN 1.5");
    T_CMD(c, "-ERR invalid cursor", "SCAN %s", " 1");
    T_CMD(c, "-ERR invalid cursor", "SCAN 18446744073709551616");
    T_CMD(c, "-ERR syntax error", "SCAN 0 COUNT 0");
    T_CMD(c, "-ERR syntax error", "SCAN 0 MATCH");
    T_CMD(c, "-ERR syntax error", "SCAN 0 foo bar");
    T_CMD(c, "-ERR value is not an integer or out of range", "SCAN 0 COUNT x");
    T_CMD(c, "-ERR wrong number of arguments for 'keys' command", "KEYS");
    T_CMD(c, "-ERR wrong number of arguments for 'scan' command", "SCAN");
    /* Cursors the server never handed out, including Redis's wrap of -1. */
    T_CMD(c, UNKNOWN, "SCAN 12345");
    T_CMD(c, UNKNOWN, "SCAN -1");
    /* No key of another type exists: one call over every key returns none. */
    redisReply *r = redisCommand(c, "SCAN 0 TYPE list COUNT 1000000");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    T_EQ_STR(r->element[0]->str, "0");
    T_EQ_INT((int)r->element[1]->elements, 0);
    freeReplyObject(r);
    /* TYPE string (any case) and COUNT: the first 5 keys, in key order. */
    r = redisCommand(c, "SCAN 0 TYPE STRING COUNT 5");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    T_EQ_INT((int)r->element[1]->elements, 5);
    T_EQ_STR(r->element[1]->element[0]->str, "stable:000000");
    T_EQ_STR(r->element[1]->element[4]->str, "stable:000004");
    freeReplyObject(r);
    redisFree(c);
}

/* KEYS and a full SCAN must find, for every glob form, as many keys as redis-server 7.0
 * finds among the same keys (counts taken from it). */
static void every_glob_form_matches_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "SELECT 3");
    T_CMD(c, "+OK", "MSET hello 1 hallo 2 hxllo 3 hllo 4 heeeello 5 h*llo 6 h?llo 7 "
                    "h[a]llo 8 h\\llo 9 Hello 10");
    struct { const char *pat; int n; } cases[] = {
        {"*", 10}, {"h?llo", 6}, {"h*llo", 9}, {"h[ae]llo", 2}, {"h[^e]llo", 5},
        {"h[a-b]llo", 1}, {"h[b-a]llo", 1}, {"h\\*llo", 1}, {"h\\?llo", 1},
        {"h\\[a]llo", 1}, {"h\\\\llo", 1}, {"hello", 1}, {"HELLO", 0}, {"[Hh]ello", 2},
        {"*llo", 10}, {"h*", 9}, {"h[", 0}, {"x*", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        redisReply *r = redisCommand(c, "KEYS %s", cases[i].pat);
        T_ASSERT(r && r->type == REDIS_REPLY_ARRAY);
        if ((int)r->elements != cases[i].n)
            T_FAIL("KEYS %s: %zu keys, expected %d", cases[i].pat, r->elements, cases[i].n);
        freeReplyObject(r);
        seen *s = calloc(1, sizeof *s);
        char extra[64];
        snprintf(extra, sizeof extra, "MATCH %s COUNT 3", cases[i].pat);
        T_EQ_INT(scan_all(c, extra, s, 20), 0);
        if (s->keys != cases[i].n)
            T_FAIL("SCAN MATCH %s: %ld keys, expected %d", cases[i].pat, s->keys, cases[i].n);
        free(s);
    }
    T_CMD(c, "+OK", "FLUSHDB");
    redisFree(c);
}

struct churn {
    atomic_int stop;
    atomic_long inserted, deleted;
};

/* Inserts new:N and deletes tmp:N while a scan runs. */
static void *churn_main(void *arg)
{
    struct churn *ch = arg;
    redisContext *c = sp_connect(&g_srv);
    for (int n = 0; c && !atomic_load(&ch->stop) && n < CHURN; n += 100) {
        for (int i = n; i < n + 100; i++) { /* pipelined, to overlap the scan for real */
            redisAppendCommand(c, "SET new:%06d v", i);
            redisAppendCommand(c, "DEL tmp:%06d", i);
        }
        redisReply *r;
        for (int k = 0; k < 200; k++) {
            if (redisGetReply(c, (void **)&r) != REDIS_OK)
                goto out;
            freeReplyObject(r);
        }
        ch->inserted += 100;
        ch->deleted += 100;
    }
out:
    redisFree(c);
    return NULL;
}

static void full_scan_under_churn_sees_every_stable_key_and_ends(void)
{
    struct churn ch = {.stop = 0};
    pthread_t th;
    pthread_create(&th, NULL, churn_main, &ch);
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    /* The scan starts once the churn runs (on a loaded machine it may start late), so the
     * two overlap however fast either goes. */
    for (uint64_t deadline = t_now_ms() + 30000; atomic_load(&ch.inserted) < 100;) {
        if (t_now_ms() > deadline) {
            atomic_store(&ch.stop, 1);
            pthread_join(th, NULL);
            redisFree(c);
            T_FAIL("the churn did not start");
        }
        usleep(1000);
    }
    long before = atomic_load(&ch.inserted);
    seen *s = calloc(1, sizeof *s);
    s->max_cursor_ok = 1;
    /* At most every key ever present, 50 per step, plus slack: it cannot loop. */
    int rc = scan_all(c, "COUNT 50", s, (STABLE + 2 * CHURN) / 50 + 10);
    long during = atomic_load(&ch.inserted) - before;
    atomic_store(&ch.stop, 1);
    pthread_join(th, NULL);
    T_EQ_INT(rc, 0);
    T_ASSERT(all_stable(s));
    T_ASSERT(s->max_cursor_ok);
    T_ASSERT(during > 0 || ch.inserted == CHURN); /* writes landed while it scanned */
    printf("full scan: %ld keys in %ld steps while %ld inserts ran (%ld in all, %ld deletes)\n",
           s->keys, s->steps, during, (long)ch.inserted, (long)ch.deleted);
    free(s);
    redisFree(c);
}

/* 50 scanners on 50 connections take turns one step at a time. */
static void fifty_interleaved_scanners_each_complete(void)
{
    enum { N = 50 };
    redisContext *c[N];
    seen *s[N];
    char cur[N][32];
    int done = 0;
    for (int i = 0; i < N; i++) {
        c[i] = sp_connect(&g_srv);
        T_ASSERT(c[i]);
        s[i] = calloc(1, sizeof *s[i]);
        snprintf(cur[i], sizeof cur[i], "0");
    }
    for (int round = 0; done < N && round < 2000; round++) {
        for (int i = 0; i < N; i++) {
            if (round > 0 && !strcmp(cur[i], "0"))
                continue;
            char extra[64];
            snprintf(extra, sizeof extra, "MATCH stable:0%d* COUNT 97", i % 10);
            T_EQ_INT(scan_step(c[i], cur[i], extra, mark, s[i], NULL, 0), 0);
            done += !strcmp(cur[i], "0");
        }
    }
    T_EQ_INT(done, N);
    for (int i = 0; i < N; i++) {
        if (s[i]->keys != 10000)
            T_FAIL("scanner %d saw %ld keys of stable:0%d*, expected 10000", i, s[i]->keys,
                   i % 10);
        free(s[i]);
        redisFree(c[i]);
    }
}

/* Between SCAN steps, another client rewrites 1000 stable keys (their new versions in the
 * write buffer, the old ones in LMDB) and writes other keys until a checkpoint moved all
 * of it to LMDB: every stable key, present throughout, comes back exactly once. */
static void scan_across_checkpoints_returns_every_stable_key_once(void)
{
    redisContext *c = sp_connect(&g_srv), *w = sp_connect(&g_srv);
    T_ASSERT(c && w);
    seen *s = calloc(1, sizeof *s);
    char cursor[32] = "0";
    uint64_t ckpt0 = sp_checkpoints(&g_srv);
    int forced = 0, failed = 0;
    do {
        failed = scan_step(c, cursor, "COUNT 10000", mark, s, NULL, 0) ||
                 ++s->steps > STABLE / 10000 + 10 ||
                 load(w, "stable", (int)(s->steps * 7919 % (STABLE - 1000)), 1000) ||
                 sp_force_checkpoint(w, &g_srv);
        forced += !failed;
    } while (!failed && strcmp(cursor, "0"));
    uint64_t checkpoints = sp_checkpoints(&g_srv) - ckpt0;
    long keys = s->keys, twice = s->twice;
    int all = all_stable(s);
    free(s);
    redisFree(c);
    redisFree(w);
    printf("scan across checkpoints: %ld keys in %d steps, %llu checkpoints between them\n",
           keys, forced, (unsigned long long)checkpoints);
    T_EQ_INT(failed, 0);
    T_ASSERT(all);
    T_EQ_INT(twice, 0);
    T_ASSERT(forced >= STABLE / 10000); /* a checkpoint after each step */
    T_ASSERT(checkpoints >= 2 * (uint64_t)forced);
}

/* A cursor is the server's, not the connection's: a new connection resumes it. */
static void cursor_survives_reconnect(void)
{
    char cursor[32] = "0";
    seen *s = calloc(1, sizeof *s);
    for (int step = 0; step < 200; step++) {
        redisContext *c = sp_connect(&g_srv);
        T_ASSERT(c);
        T_EQ_INT(scan_step(c, cursor, "MATCH stable:00* COUNT 77", mark, s, NULL, 0), 0);
        redisFree(c);
        if (!strcmp(cursor, "0"))
            break;
    }
    T_EQ_STR(cursor, "0");
    T_EQ_INT((int)s->keys, 10000); /* stable:00xxxx */
    free(s);
}

/* A prefix with 11 keys among 100k: found in one step (COUNT keys examined would need
 * thousands of steps if the walk started from the beginning). */
static void match_prefix_seeks_straight_to_it(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    seen *s = calloc(1, sizeof *s);
    T_EQ_INT(scan_all(c, "MATCH stable:09999* COUNT 20", s, 1), 0);
    T_EQ_INT((int)s->keys, 10);
    T_EQ_INT((int)s->steps, 1);
    free(s);
    redisFree(c);
}

/* After a restart, a cursor of the old process is refused, never taken for another. */
static void cursor_from_earlier_process_is_refused(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    redisReply *r = redisCommand(c, "SCAN 0 COUNT 10");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    char cursor[32];
    snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
    freeReplyObject(r);
    redisFree(c);
    T_EQ_INT(sp_stop(&g_srv), 0);
    T_EQ_INT(sp_start(&g_srv, "scan"), 0);
    c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, UNKNOWN, "SCAN %s", cursor);
    redisFree(c);
}

/* HSCAN, SSCAN and ZSCAN resumed from a cursor stay in their collection: the walk's end
 * was a member key passed as a position (a key's position is not itself), so the second
 * call of a 15-member scan by 10 went on into the next collection's members. */
static void collection_scans_stay_in_their_collection(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    /* none compact (encoding.h): a set of words, an over-long value, an over-long name */
    const char *add[] = {"SADD %s a b c d e f g h i j k l m n o",
                         "HSET %s a 1 b 1 c 1 d 1 e 1 f 1 g 1 h 1 i 1 j 1 k 1 l 1 m 1 n 1 o "
                         SP_LONG,
                         "ZADD %s 1 a 2 b 3 c 4 d 5 e 6 f 7 g 8 h 9 i 10 j 11 k 12 l 13 m 14 n 15 o"
                         SP_LONG};
    const char *after[] = {"SADD %s x1 x2 x3", "HSET %s x1 1 x2 1", "ZADD %s 1 x1 2 x2"};
    const char *scan[] = {"SSCAN", "HSCAN", "ZSCAN"};
    for (int t = 0; t < 3; t++) {
        char k1[16], k2[16];
        snprintf(k1, sizeof k1, "cs:%d:1", t);
        snprintf(k2, sizeof k2, "cs:%d:2", t);
        freeReplyObject(redisCommand(c, add[t], k1));
        freeReplyObject(redisCommand(c, after[t], k2));
        redisReply *r = redisCommand(c, "%s %s 0 COUNT 10", scan[t], k1);
        T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
        char cursor[32];
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        freeReplyObject(r);
        T_ASSERT(strcmp(cursor, "0") != 0);
        r = redisCommand(c, "%s %s %s COUNT 10", scan[t], k1, cursor);
        T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
        T_EQ_STR(r->element[0]->str, "0");
        redisReply *m = r->element[1];
        size_t want = t == 0 ? 5 : 10; /* HSCAN and ZSCAN: name, value pairs */
        if (m->elements != want)
            T_FAIL("%s %s from a cursor: %zu elements, expected %zu", scan[t], k1,
                   m->elements, want);
        for (size_t i = 0; i < m->elements; i += t == 0 ? 1 : 2)
            T_ASSERT(m->element[i]->str[0] >= 'a' && m->element[i]->str[0] <= 'o');
        freeReplyObject(r);
    }
    redisFree(c);
}

/* HSCAN, SSCAN and ZSCAN of a collection Redis 7.0 holds compact (an intset, a listpack:
 * encoding.h) return it whole in one call, cursor 0, whatever the cursor and COUNT; a set
 * of integers in numeric order, a sorted set by score. Checked against redis-server 7.0. */
static void compact_collections_scan_whole(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "SELECT 9"); /* beside the data the other tests scan */
    T_CMD(c, ":5", "SADD ints 10 9 -1 100 3");
    T_DEEP(c, "*2 [$1 0, *5 [$2 -1, $1 3, $1 9, $2 10, $3 100]]", "SSCAN ints 0 COUNT 1");
    T_DEEP(c, "*2 [$1 0, *2 [$2 10, $3 100]]", "SSCAN ints 99 MATCH 1*");
    T_CMD(c, "-ERR syntax error", "SSCAN ints 0 COUNT 0");
    T_CMD(c, "-ERR invalid cursor", "SSCAN ints x");
    T_CMD(c, ":2", "HSET hs a 1 b 2");
    T_DEEP(c, "*2 [$1 0, *4 [$1 a, $1 1, $1 b, $1 2]]", "HSCAN hs 0 COUNT 1");
    T_CMD(c, ":3", "ZADD zs 3 a 2 b 1 c");
    T_DEEP(c, "*2 [$1 0, *6 [$1 c, $1 1, $1 b, $1 2, $1 a, $1 3]]", "ZSCAN zs 0 COUNT 1");
    T_DEEP(c, "*2 [$1 0, *4 [$1 b, $1 2, $1 a, $1 3]]", "ZSCAN zs 7 COUNT 1 MATCH [ab]");
    /* past the limits: by COUNT, in the store's order */
    const char *grow[] = {"SADD ints 1000", "HSET hs c " SP_LONG, "ZADD zs 4 " SP_LONG};
    const char *scan[] = {"SSCAN ints 0 COUNT 1", "HSCAN hs 0 COUNT 1", "ZSCAN zs 0 COUNT 1"};
    for (int i = 0; i < 3; i++) {
        if (i == 0)
            for (int j = 0; j < 507; j++)
                freeReplyObject(redisCommand(c, "SADD ints %d", 2000 + j));
        T_CMD(c, ":1", grow[i]);
        redisReply *r = redisCommand(c, scan[i]);
        T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
        if (!strcmp(r->element[0]->str, "0") || r->element[1]->elements != (i ? 2u : 1u))
            T_FAIL("%s: cursor %s, %zu elements", scan[i], r->element[0]->str,
                   r->element[1]->elements);
        freeReplyObject(r);
    }
    T_CMD(c, ":513", "SCARD ints");
    /* a sorted set's scores: a listpack's text when compact, else "%.17g" (Redis) */
    T_CMD(c, ":1", "ZADD zs 100000000000000000 big");
    T_DEEP(c, "*2 [$1 0, *2 [$3 big, $5 1e+17]]", "ZSCAN zs 0 MATCH big COUNT 100");
    T_CMD(c, ":1", "ZADD zc 100000000000000000 big");
    T_DEEP(c, "*2 [$1 0, *2 [$3 big, $18 100000000000000000]]", "ZSCAN zc 0");
    /* a listpack holds a score as an integer within +-2^62 only (Redis's double2ll) */
    T_CMD(c, ":4", "ZADD zq 4611686018427387904 e 4611686018427388928 a -4611686018427388928 b "
                   "-4611686018427387904 c");
    T_DEEP(c, "*2 [$1 0, *8 [$1 b, $23 -4.6116860184273889e+18, $1 c, $20 -4611686018427387904, "
              "$1 e, $19 4611686018427387904, $1 a, $22 4.6116860184273889e+18]]", "ZSCAN zq 0");
    redisFree(c);
}

int main(void)
{
    T_RUN(server_starts_with_data);
    if (!g_srv.pid)
        return T_MAIN_END();
    T_RUN(errors_and_replies_are_redis);
    T_RUN(compact_collections_scan_whole);
    T_RUN(every_glob_form_matches_as_redis);
    T_RUN(full_scan_under_churn_sees_every_stable_key_and_ends);
    T_RUN(fifty_interleaved_scanners_each_complete);
    T_RUN(scan_across_checkpoints_returns_every_stable_key_once);
    T_RUN(cursor_survives_reconnect);
    T_RUN(match_prefix_seeks_straight_to_it);
    T_RUN(cursor_from_earlier_process_is_refused);
    T_RUN(collection_scans_stay_in_their_collection);
    t_failed += sp_stop_or_dump(&g_srv);
    return T_MAIN_END();
}
