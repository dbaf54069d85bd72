/* Replication (issue #15): a full sync of a loaded master while clients write, then a
 * replica identical to it (oxistore-check dump of both, byte for byte); partial syncs
 * after CLIENT KILL TYPE master and after a replica killed with SIGKILL and restarted
 * (sync_full does not move); WAIT's exact counts and min-replicas-to-write; promotion
 * with REPLICAOF NO ONE and the other replica following it with a partial sync; a
 * replica's refusals, INFO replication and ROLE; a chained replica whose master syncs
 * in full; a sorted set ranked on a replica gets its rank index from the master. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "srv_util.h"

T_MAIN_BEGIN;

#define DEADLINE_MS 20000

static long long info_ll(redisContext *c, const char *section, const char *name)
{
    char v[64];
    sp_info_field(c, section, name, v, sizeof v);
    return v[0] ? atoll(v) : -1;
}

/* Starts a replica of m in scratch directory name (kept across restarts). */
static int start_replica(srvp *r, const srvp *m, const char *name)
{
    char port[16];
    snprintf(port, sizeof port, "%d", m->port);
    const char *extra[] = {"--replicaof", "127.0.0.1", port, "--loglevel", "notice", NULL};
    return sp_start_argv(r, name, extra);
}

/* Polls until the replica's link is up and it applied the master's whole stream so far.
 * 1, or 0 at the deadline. */
static int caught_up(redisContext *rc, redisContext *mc)
{
    uint64_t end = sp_now_ms() + DEADLINE_MS;
    while (sp_now_ms() < end) {
        char st[16];
        sp_info_field(rc, "replication", "master_link_status", st, sizeof st);
        long long want = info_ll(mc, "replication", "master_repl_offset");
        if (!strcmp(st, "up") && info_ll(rc, "replication", "slave_repl_offset") >= want)
            return 1;
        usleep(20000);
    }
    return 0;
}

/* Loads a master with every type: strings (some expiring), hashes, lists, sets, zsets. */
static void load(redisContext *c, int n)
{
    int sent = 0;
    for (int i = 0; i < n; i++) {
        redisAppendCommand(c, "SET s:%d v%d", i, i);
        sent++;
        if (i % 10 == 0) {
            redisAppendCommand(c, "SET e:%d v EX 3600", i);
            sent++;
        }
        if (i % 20 == 0) {
            redisAppendCommand(c, "HSET h:%d f1 a f2 b f3 %d", i / 20, i);
            redisAppendCommand(c, "RPUSH l:%d a b c %d", i / 20, i);
            redisAppendCommand(c, "SADD t:%d x y %d", i / 20, i);
            redisAppendCommand(c, "ZADD z:%d 1 a 2.5 b %d c", i / 20, i);
            sent += 4;
        }
    }
    for (int i = 0; i < sent; i++) {
        redisReply *r;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            break;
        freeReplyObject(r);
    }
}

struct writer {
    srvp *m;
    atomic_int stop;
    int done;
};

/* Writes until told to stop: every type, deletions, expiry and a script included. */
static void *writer_main(void *arg)
{
    struct writer *w = arg;
    redisContext *c = sp_connect(w->m);
    for (int i = 0; c && !atomic_load(&w->stop); i++) {
        redisAppendCommand(c, "INCR counter");
        redisAppendCommand(c, "SET w:%d %d", i % 500, i);
        redisAppendCommand(c, "HINCRBY h:%d f1x 1", i % 50);
        redisAppendCommand(c, "LPUSH l:%d %d", i % 50, i);
        redisAppendCommand(c, "ZINCRBY z:%d 1 m%d", i % 50, i % 7);
        redisAppendCommand(c, "DEL s:%d", i * 7 % 2000);
        redisAppendCommand(c, "PEXPIRE w:%d 600000", i % 500);
        redisAppendCommand(c, "EVAL %s 1 sc:%d", "redis.call('incr', KEYS[1]) "
                           "return redis.call('hset', KEYS[1] .. ':h', 'n', ARGV[1] or 1)", i % 9);
        for (int k = 0; k < 8; k++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK)
                break;
            freeReplyObject(r);
        }
        w->done++;
    }
    if (c)
        redisFree(c);
    return NULL;
}

static void full_sync_while_writing_gives_identical_data(void)
{
    srvp m = {0}, r = {0};
    T_ASSERT(sp_start(&m, "fs_master") == 0);
    redisContext *mc = sp_connect(&m);
    T_ASSERT(mc);
    load(mc, 20000);
    struct writer w = {.m = &m};
    pthread_t th;
    pthread_create(&th, NULL, writer_main, &w);
    while (w.done < 50) /* writes go on while the replica syncs */
        usleep(1000);
    T_ASSERT(start_replica(&r, &m, "fs_replica") == 0);
    redisContext *rc = sp_connect(&r);
    T_ASSERT(rc);
    uint64_t end = sp_now_ms() + DEADLINE_MS;
    char st[16] = "";
    while (sp_now_ms() < end && strcmp(sp_info_field(rc, "replication", "master_link_status", st,
                                                  sizeof st), "up"))
        usleep(10000);
    int before = w.done;
    while (w.done < before + 50) /* ... and after it */
        usleep(1000);
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    T_EQ_STR(sp_q(mc, "WAIT 1 10000"), ":1");
    T_ASSERT(caught_up(rc, mc));
    char why[128];
    if (!sp_same_data(&m, &r, why, sizeof why))
        T_FAIL("replica after a full sync: %s", why);
    T_EQ_STR(sp_q(rc, "DBSIZE"), sp_q(mc, "DBSIZE"));
    T_EQ_STR(sp_q(rc, "GET counter"), sp_q(mc, "GET counter"));
    T_EQ_INT(info_ll(mc, "stats", "sync_full"), 1);
    redisFree(rc);
    redisFree(mc);
    T_EQ_INT(sp_stop_or_dump(&r), 0);
    T_EQ_INT(sp_stop_or_dump(&m), 0);
}

static void partial_sync_after_link_drop_and_replica_sigkill(void)
{
    srvp m = {0}, r = {0};
    T_ASSERT(sp_start(&m, "ps_master") == 0);
    redisContext *mc = sp_connect(&m);
    load(mc, 2000);
    T_ASSERT(start_replica(&r, &m, "ps_replica") == 0);
    redisContext *rc = sp_connect(&r);
    T_ASSERT(caught_up(rc, mc));
    T_EQ_INT(info_ll(mc, "stats", "sync_full"), 1);
    /* The link dropped: the replica continues where it was. */
    T_EQ_STR(sp_q(rc, "CLIENT KILL TYPE master"), ":1");
    for (int i = 0; i < 100; i++)
        freeReplyObject(redisCommand(mc, "SET after_kill:%d %d", i, i));
    T_ASSERT(caught_up(rc, mc));
    T_EQ_STR(sp_q(rc, "GET after_kill:99"), "$2 99");
    T_EQ_INT(info_ll(mc, "stats", "sync_full"), 1);
    T_EQ_INT(info_ll(mc, "stats", "sync_partial_ok"), 1);
    /* The replica killed while the master writes, then restarted: it resumes from the
     * offset its store holds. */
    struct writer w = {.m = &m};
    pthread_t th;
    pthread_create(&th, NULL, writer_main, &w);
    while (w.done < 200)
        usleep(1000);
    redisFree(rc);
    sp_kill(&r);
    int before = w.done;
    while (w.done < before + 100)
        usleep(1000);
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    r.pid = 0;
    T_ASSERT(start_replica(&r, &m, "ps_replica") == 0);
    rc = sp_connect(&r);
    T_ASSERT(caught_up(rc, mc));
    T_EQ_INT(info_ll(mc, "stats", "sync_full"), 1);
    T_EQ_INT(info_ll(mc, "stats", "sync_partial_ok"), 2);
    T_EQ_STR(sp_q(mc, "WAIT 1 10000"), ":1");
    char why[128];
    if (!sp_same_data(&m, &r, why, sizeof why))
        T_FAIL("replica after two partial syncs: %s", why);
    redisFree(rc);
    redisFree(mc);
    T_EQ_INT(sp_stop_or_dump(&r), 0);
    T_EQ_INT(sp_stop_or_dump(&m), 0);
}

static void wait_counts_and_min_replicas(void)
{
    srvp m = {0}, r = {0};
    T_ASSERT(sp_start(&m, "w_master") == 0);
    redisContext *mc = sp_connect(&m);
    T_EQ_STR(sp_q(mc, "WAIT 0 0"), ":0");
    T_EQ_STR(sp_q(mc, "WAIT 1 50"), ":0"); /* nobody to wait for: its timeout */
    T_EQ_STR(sp_q(mc, "WAIT x 1"), "-ERR value is not an integer or out of range");
    T_EQ_STR(sp_q(mc, "WAIT 1 -1"), "-ERR timeout is negative");
    T_ASSERT(start_replica(&r, &m, "w_replica") == 0);
    redisContext *rc = sp_connect(&r);
    T_ASSERT(caught_up(rc, mc));
    T_EQ_STR(sp_q(mc, "SET k v"), "+OK");
    T_EQ_STR(sp_q(mc, "WAIT 1 0"), ":1");
    T_EQ_STR(sp_q(mc, "WAIT 2 100"), ":1");
    T_EQ_STR(sp_q(rc, "GET k"), "$1 v");
    T_EQ_STR(sp_q(rc, "WAIT 1 1"), "-ERR WAIT cannot be used with replica instances. Please also "
             "note that since Redis 4.0 if a replica is configured to be writable (which is "
             "not the default) writes to replicas are just local and are not propagated.");
    T_EQ_STR(sp_q(mc, "CONFIG SET min-replicas-to-write 2"), "+OK");
    T_EQ_STR(sp_q(mc, "SET k2 v"), "-NOREPLICAS Not enough good replicas to write.");
    T_EQ_STR(sp_q(mc, "GET k"), "$1 v");
    T_EQ_STR(sp_q(mc, "CONFIG SET min-replicas-to-write 1"), "+OK");
    T_EQ_STR(sp_q(mc, "SET k2 v"), "+OK");
    /* The replica gone: writes are refused again. */
    redisFree(rc);
    T_EQ_INT(sp_stop_or_dump(&r), 0);
    uint64_t end = sp_now_ms() + DEADLINE_MS;
    const char *got = "";
    while (sp_now_ms() < end && strcmp(got = sp_q(mc, "SET k3 v"),
                                    "-NOREPLICAS Not enough good replicas to write."))
        usleep(20000);
    T_EQ_STR(got, "-NOREPLICAS Not enough good replicas to write.");
    T_EQ_STR(sp_q(mc, "GET k3"), "(nil)");
    redisFree(mc);
    T_EQ_INT(sp_stop_or_dump(&m), 0);
}

static void promotion_keeps_the_other_replica_partial(void)
{
    srvp m = {0}, r1 = {0}, r2 = {0};
    T_ASSERT(sp_start(&m, "p_master") == 0);
    redisContext *mc = sp_connect(&m);
    load(mc, 1000);
    T_ASSERT(start_replica(&r1, &m, "p_r1") == 0);
    T_ASSERT(start_replica(&r2, &m, "p_r2") == 0);
    redisContext *c1 = sp_connect(&r1), *c2 = sp_connect(&r2);
    T_ASSERT(caught_up(c1, mc) && caught_up(c2, mc));
    T_EQ_STR(sp_q(mc, "SET before x"), "+OK");
    T_EQ_STR(sp_q(mc, "WAIT 2 10000"), ":2");
    /* The master stays up, written no more: promoted elsewhere, it will follow too. */
    T_EQ_STR(sp_q(c1, "REPLICAOF NO ONE"), "+OK");
    T_EQ_STR(sp_q(c1, "SET after y"), "+OK");
    char port[16];
    snprintf(port, sizeof port, "%d", r1.port);
    T_EQ_STR(sp_q(c2, "REPLICAOF 127.0.0.1 %s", port), "+OK");
    T_EQ_STR(sp_q(c2, "REPLICAOF 127.0.0.1 %s", port), "+OK Already connected to specified master");
    T_ASSERT(caught_up(c2, c1));
    T_EQ_STR(sp_q(c2, "GET after"), "$1 y");
    T_EQ_STR(sp_q(c2, "GET before"), "$1 x");
    /* The old master, re-pointed at the promoted replica, continues too: it wrote nothing
     * after, and its offsets go on from where it was (it started as a master). */
    T_EQ_STR(sp_q(mc, "REPLICAOF 127.0.0.1 %s", port), "+OK");
    T_ASSERT(caught_up(mc, c1));
    T_EQ_STR(sp_q(mc, "GET after"), "$1 y");
    T_EQ_INT(info_ll(c1, "stats", "sync_full"), 0);
    T_EQ_INT(info_ll(c1, "stats", "sync_partial_ok"), 2);
    char v[64];
    T_EQ_STR(sp_info_field(c1, "replication", "role", v, sizeof v), "master");
    T_EQ_STR(sp_q(c1, "SET last z"), "+OK");
    T_EQ_STR(sp_q(c1, "WAIT 2 10000"), ":2");
    T_EQ_INT(info_ll(mc, "replication", "slave_repl_offset"),
             info_ll(c1, "replication", "master_repl_offset"));
    char why[128];
    if (!sp_same_data(&r1, &r2, why, sizeof why))
        T_FAIL("the replica of the promoted one: %s", why);
    if (!sp_same_data(&r1, &m, why, sizeof why))
        T_FAIL("the old master, now its replica: %s", why);
    redisFree(c1);
    redisFree(c2);
    redisFree(mc);
    T_EQ_INT(sp_stop_or_dump(&m), 0);
    T_EQ_INT(sp_stop_or_dump(&r2), 0);
    T_EQ_INT(sp_stop_or_dump(&r1), 0);
}

static void replica_refusals_info_and_role(void)
{
    srvp m = {0}, r = {0};
    T_ASSERT(sp_start(&m, "i_master") == 0);
    redisContext *mc = sp_connect(&m);
    T_ASSERT(start_replica(&r, &m, "i_replica") == 0);
    redisContext *rc = sp_connect(&r);
    T_ASSERT(caught_up(rc, mc));
    T_EQ_STR(sp_q(rc, "SET k v"), "-READONLY You can't write against a read only replica.");
    T_EQ_STR(sp_q(rc, "EVAL %s 0", "return redis.call('set','k','v')"),
             "-READONLY You can't write against a read only replica. script: "
             "d223ed8c7345b684e8ed044ed472601f536fa58b, on @user_script:1.");
    T_EQ_STR(sp_q(rc, "EVAL %s 0", "return redis.call('get','k')"), "(nil)");
    T_EQ_STR(sp_q(rc, "REPLICAOF 127.0.0.1 x"), "-ERR Invalid master port");
    T_EQ_STR(sp_q(rc, "REPLICAOF 127.0.0.1"),
             "-ERR wrong number of arguments for 'replicaof' command");
    T_EQ_STR(sp_q(rc, "CONFIG SET replicaof x"),
             "-ERR CONFIG SET failed (possibly related to argument 'replicaof') - can't set "
             "immutable config");
    char v[128], want[64];
    snprintf(want, sizeof want, "127.0.0.1 %d", m.port);
    redisReply *g = redisCommand(rc, "CONFIG GET replicaof");
    T_ASSERT(g && g->type == REDIS_REPLY_ARRAY && g->elements == 2);
    T_EQ_STR(g->element[1]->str, want);
    freeReplyObject(g);
    T_EQ_STR(sp_info_field(rc, "replication", "role", v, sizeof v), "slave");
    T_EQ_STR(sp_info_field(rc, "replication", "master_link_status", v, sizeof v), "up");
    T_EQ_STR(sp_info_field(rc, "replication", "slave_read_only", v, sizeof v), "1");
    T_EQ_STR(sp_info_field(mc, "replication", "connected_slaves", v, sizeof v), "1");
    T_EQ_STR(sp_q(mc, "SET k v"), "+OK");
    T_EQ_STR(sp_q(mc, "WAIT 1 10000"), ":1");
    long long off = info_ll(mc, "replication", "master_repl_offset");
    snprintf(want, sizeof want, "ip=127.0.0.1,port=%d,state=online,offset=%lld,lag=", r.port,
             off);
    T_ASSERT(!strncmp(sp_info_field(mc, "replication", "slave0", v, sizeof v), want,
                      strlen(want)));
    redisReply *role = redisCommand(rc, "ROLE");
    T_ASSERT(role && role->type == REDIS_REPLY_ARRAY && role->elements == 5);
    T_EQ_STR(role->element[0]->str, "slave");
    T_EQ_STR(role->element[3]->str, "connected");
    T_EQ_INT(role->element[2]->integer, m.port);
    T_EQ_INT(role->element[4]->integer, off);
    freeReplyObject(role);
    role = redisCommand(mc, "ROLE");
    T_ASSERT(role && role->type == REDIS_REPLY_ARRAY && role->elements == 3);
    T_EQ_STR(role->element[0]->str, "master");
    T_EQ_INT(role->element[1]->integer, off);
    T_ASSERT(role->element[2]->elements == 1);
    freeReplyObject(role);
    /* REPLICAOF NO ONE: a master again, writable. */
    T_EQ_STR(sp_q(rc, "REPLICAOF NO ONE"), "+OK");
    T_EQ_STR(sp_q(rc, "SET mine 1"), "+OK");
    T_EQ_STR(sp_info_field(rc, "replication", "role", v, sizeof v), "master");
    redisFree(rc);
    redisFree(mc);
    T_EQ_INT(sp_stop_or_dump(&r), 0);
    T_EQ_INT(sp_stop_or_dump(&m), 0);
}

static void functions_swapdb_expiry_and_watch_on_a_replica(void)
{
    srvp m = {0}, r = {0};
    T_ASSERT(sp_start(&m, "f_master") == 0);
    redisContext *mc = sp_connect(&m);
    T_ASSERT(start_replica(&r, &m, "f_replica") == 0);
    redisContext *rc = sp_connect(&r);
    T_ASSERT(caught_up(rc, mc));
    /* A function library loaded on the master is callable on the replica. */
    T_EQ_STR(sp_q(mc, "FUNCTION LOAD %s", "#!lua name=lib\nredis.register_function{function_name="
                  "'get1', callback=function(k) return redis.call('get', k[1]) end, "
                  "flags={'no-writes'}}"), "$3 lib");
    T_EQ_STR(sp_q(mc, "SET fk fv"), "+OK");
    T_ASSERT(caught_up(rc, mc));
    T_EQ_STR(sp_q(rc, "FCALL_RO get1 1 fk"), "$2 fv");
    /* SWAPDB: the replica's databases follow. */
    T_EQ_STR(sp_q(mc, "SWAPDB 0 1"), "+OK");
    T_EQ_STR(sp_q(mc, "SET in0 x"), "+OK");
    T_ASSERT(caught_up(rc, mc));
    T_EQ_STR(sp_q(rc, "GET fk"), "(nil)");
    T_EQ_STR(sp_q(rc, "GET in0"), "$1 x");
    T_EQ_STR(sp_q(rc, "SELECT 1"), "+OK");
    T_EQ_STR(sp_q(rc, "GET fk"), "$2 fv");
    T_EQ_STR(sp_q(rc, "SELECT 0"), "+OK");
    /* A key the master's active expiry deletes goes from the replica too. */
    T_EQ_STR(sp_q(mc, "SET short v PX 50"), "+OK");
    T_ASSERT(caught_up(rc, mc));
    uint64_t end = sp_now_ms() + DEADLINE_MS;
    while (sp_now_ms() < end && strcmp(sp_q(rc, "DBSIZE"), ":1"))
        usleep(20000);
    T_EQ_STR(sp_q(rc, "DBSIZE"), ":1");
    T_EQ_STR(sp_q(rc, "GET short"), "(nil)");
    /* WATCH on the replica: a write of the master aborts EXEC. */
    redisContext *wc = sp_connect(&r);
    T_EQ_STR(sp_q(wc, "WATCH in0"), "+OK");
    T_EQ_STR(sp_q(wc, "MULTI"), "+OK");
    T_EQ_STR(sp_q(wc, "GET in0"), "+QUEUED");
    T_EQ_STR(sp_q(mc, "SET in0 y"), "+OK");
    T_ASSERT(caught_up(rc, mc));
    T_EQ_STR(sp_q(wc, "EXEC"), "(nil)");
    T_EQ_STR(sp_q(wc, "GET in0"), "$1 y");
    redisFree(wc);
    redisFree(rc);
    redisFree(mc);
    T_EQ_INT(sp_stop_or_dump(&r), 0);
    T_EQ_INT(sp_stop_or_dump(&m), 0);
}

/* M -> A -> S; M restarts (a new history: A syncs in full): S must sync again too, not
 * go on with bytes of the new history at its old offset. */
static void a_chained_replica_follows_its_masters_full_sync(void)
{
    srvp m = {0}, a = {0}, r = {0};
    T_ASSERT(sp_start(&m, "c_master") == 0);
    redisContext *mc = sp_connect(&m);
    T_ASSERT(start_replica(&a, &m, "c_a") == 0);
    T_ASSERT(start_replica(&r, &a, "c_s") == 0);
    redisContext *ac = sp_connect(&a), *rc = sp_connect(&r);
    load(mc, 3000);
    T_ASSERT(caught_up(ac, mc) && caught_up(rc, ac));
    redisFree(mc);
    T_EQ_INT(sp_stop_or_dump(&m), 0);
    T_ASSERT(sp_start(&m, "c_master") == 0); /* the same data, a new replication id */
    mc = sp_connect(&m);
    for (int i = 0; i < 500; i++)
        freeReplyObject(redisCommand(mc, "SET new:%d %d", i, i));
    T_ASSERT(caught_up(ac, mc));
    uint64_t end = sp_now_ms() + DEADLINE_MS; /* S may look caught up before it sees A's sync */
    while (sp_now_ms() < end && strcmp(sp_q(rc, "GET new:499"), "$3 499"))
        usleep(20000);
    T_EQ_STR(sp_q(rc, "GET new:499"), "$3 499");
    T_ASSERT(caught_up(rc, ac));
    char why[128];
    if (!sp_same_data(&m, &r, why, sizeof why))
        T_FAIL("the chained replica: %s", why);
    redisFree(rc);
    redisFree(ac);
    redisFree(mc);
    T_EQ_INT(sp_stop_or_dump(&r), 0);
    T_EQ_INT(sp_stop_or_dump(&a), 0);
    T_EQ_INT(sp_stop_or_dump(&m), 0);
}

/* Ranks asked on a replica: the replica builds nothing (its records are its master's),
 * its link asks the master (REPLCONF ZINDEX), the master builds the set's rank index, and
 * the replica gets it through the stream and answers through it. */
static void a_set_ranked_on_a_replica_is_indexed_by_its_master(void)
{
    srvp m = {0}, r = {0};
    const char *fan[] = {"--zset-rank-fanout", "2", NULL};
    T_ASSERT(sp_start_argv(&m, "z_master", fan) == 0);
    redisContext *mc = sp_connect(&m);
    char port[16];
    snprintf(port, sizeof port, "%d", m.port);
    const char *extra[] = {"--replicaof", "127.0.0.1", port, "--zset-rank-fanout", "2", NULL};
    T_ASSERT(sp_start_argv(&r, "z_replica", extra) == 0);
    redisContext *rc = sp_connect(&r);
    for (int i = 0; i < 200; i++)
        T_EQ_STR(sp_q(mc, "ZADD lb %d u%d", i, i), ":1");
    T_ASSERT(caught_up(rc, mc));
    T_EQ_STR(sp_q(rc, "ZRANK lb u150"), ":150"); /* a walk, and the request */
    uint64_t end = sp_now_ms() + DEADLINE_MS;
    while (sp_now_ms() < end && info_ll(mc, "stats", "zset_rank_indexes_built") < 1)
        usleep(20000); /* polls the master's counter */
    T_EQ_INT(info_ll(mc, "stats", "zset_rank_indexes_built"), 1);
    T_ASSERT(caught_up(rc, mc));
    T_EQ_INT(info_ll(rc, "stats", "zset_rank_indexes_built"), 0);
    for (int i = 0; i < 200; i++) {
        char want[16], back[16], one[16];
        snprintf(want, sizeof want, ":%d", i);
        snprintf(back, sizeof back, ":%d", 199 - i);
        snprintf(one, sizeof one, "u%d", i);
        T_EQ_STR(sp_q(rc, "ZRANK lb u%d", i), want);
        T_EQ_STR(sp_q(rc, "ZREVRANK lb u%d", i), back);
        redisReply *at = redisCommand(rc, "ZRANGE lb %d %d", i, i);
        T_ASSERT(at && at->elements == 1 && !strcmp(at->element[0]->str, one));
        freeReplyObject(at);
    }
    redisFree(rc);
    redisFree(mc);
    T_EQ_INT(sp_stop_or_dump(&r), 0);
    T_EQ_INT(sp_stop_or_dump(&m), 0);
}

int main(void)
{
    T_RUN(full_sync_while_writing_gives_identical_data);
    T_RUN(partial_sync_after_link_drop_and_replica_sigkill);
    T_RUN(wait_counts_and_min_replicas);
    T_RUN(promotion_keeps_the_other_replica_partial);
    T_RUN(replica_refusals_info_and_role);
    T_RUN(functions_swapdb_expiry_and_watch_on_a_replica);
    T_RUN(a_chained_replica_follows_its_masters_full_sync);
    T_RUN(a_set_ranked_on_a_replica_is_indexed_by_its_master);
    return T_MAIN_END();
}
