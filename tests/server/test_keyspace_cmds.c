/* Keyspace and server commands over hiredis: SWAPDB (O(1), persistent, consistent under
 * concurrent readers), CLIENT LIST/KILL/INFO across I/O threads, INFO commandstats and
 * errorstats, INFO keyspace avg_ttl. */
#include <pthread.h>

#include "srv_util.h"

T_MAIN_BEGIN;

static srvp g_srv;

static void server_starts_with_four_io_threads(void)
{
    const char *extra[] = {"--io-threads", "4", NULL};
    if (sp_start_argv(&g_srv, "keyspace", extra)) {
        sp_dump_log(&g_srv);
        T_FAIL("server did not start");
    }
}

static void swapdb_checks_its_arguments_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "-ERR wrong number of arguments for 'swapdb' command", "SWAPDB 0");
    T_CMD(c, "-ERR invalid first DB index", "SWAPDB a 1");
    T_CMD(c, "-ERR invalid first DB index", "SWAPDB 99999999999999999999 1");
    T_CMD(c, "-ERR invalid second DB index", "SWAPDB 0 b");
    T_CMD(c, "-ERR DB index is out of range", "SWAPDB 0 16");
    T_CMD(c, "-ERR DB index is out of range", "SWAPDB -1 0");
    T_CMD(c, "+OK", "SWAPDB 3 3");
    /* an index is an int first, as Redis reads it (SWAPDB with its own texts) */
    T_CMD(c, "-ERR invalid first DB index", "SWAPDB 2147483648 0");
    T_CMD(c, "-ERR invalid second DB index", "SWAPDB 0 -2147483649");
    const char *range = "-ERR value is out of range, value must between -2147483648 and "
                        "2147483647";
    T_CMD(c, range, "SELECT 2147483648");
    T_CMD(c, "+OK", "SET s x");
    T_CMD(c, range, "MOVE s -2147483649");
    T_CMD(c, range, "COPY s s2 DB 2147483648");
    T_CMD(c, "-ERR DB index is out of range", "MOVE s 2147483647");
    T_CMD(c, ":1", "DEL s");
    redisFree(c);
}

static void swapdb_exchanges_data_and_survives_restart(void)
{
    redisContext *a = sp_connect(&g_srv), *b = sp_connect(&g_srv);
    T_ASSERT(a && b);
    T_CMD(a, "+OK", "FLUSHALL");
    T_CMD(a, "+OK", "SET where zero");
    T_CMD(a, "+OK", "SET only0 x");
    T_CMD(b, "+OK", "SELECT 1");
    T_CMD(b, "+OK", "SET where one");
    T_CMD(a, "+OK", "SWAPDB 0 1");
    T_CMD(a, "$3 one", "GET where");
    T_CMD(a, ":1", "DBSIZE");
    T_CMD(b, "$4 zero", "GET where"); /* another client, already on db 1 */
    T_CMD(b, ":2", "DBSIZE");
    char v[128];
    T_EQ_STR(sp_info_field(a, "keyspace", "db0", v, sizeof v), "keys=1,expires=0,avg_ttl=0");
    T_EQ_STR(sp_info_field(a, "keyspace", "db1", v, sizeof v), "keys=2,expires=0,avg_ttl=0");
    /* MOVE, COPY DB and FLUSHDB follow the swapped mapping. */
    T_CMD(b, ":1", "MOVE only0 0");
    T_CMD(a, "$1 x", "GET only0");
    T_CMD(a, ":1", "COPY only0 copied DB 1");
    T_CMD(b, "$1 x", "GET copied");
    T_CMD(a, "+OK", "SWAPDB 1 2");
    T_CMD(b, ":0", "DBSIZE");
    T_CMD(b, "+OK", "SELECT 2");
    T_CMD(b, "$4 zero", "GET where");
    redisFree(a);
    redisFree(b);
    T_EQ_INT(sp_stop(&g_srv), 0);
    const char *extra[] = {"--io-threads", "4", NULL};
    T_EQ_INT(sp_start_argv(&g_srv, "keyspace", extra), 0);
    a = sp_connect(&g_srv);
    T_ASSERT(a);
    T_CMD(a, "$3 one", "GET where");
    T_CMD(a, "+OK", "SELECT 2");
    T_CMD(a, "$4 zero", "GET where");
    T_CMD(a, "$1 x", "GET copied");
    T_CMD(a, "+OK", "FLUSHDB");
    T_CMD(a, ":0", "DBSIZE");
    T_CMD(a, "+OK", "SELECT 0");
    T_CMD(a, "$3 one", "GET where");
    redisFree(a);
}

struct swapper {
    srvp *p;
    int rounds, errors;
};

static void *swapper_main(void *arg)
{
    struct swapper *s = arg;
    redisContext *c = sp_connect(s->p);
    for (int i = 0; c && i < s->rounds; i++) {
        redisReply *r = redisCommand(c, "SWAPDB 0 1");
        if (!r || r->type != REDIS_REPLY_STATUS)
            s->errors++;
        freeReplyObject(r);
    }
    if (!c)
        s->errors++;
    redisFree(c);
    return NULL;
}

/* Db 0 and db 1 hold 1 and 2 keys, each with a tag naming its set. While they are swapped
 * 300 times, readers on other connections (other I/O threads) must always see one whole
 * database: a tag with its own key count, and INFO never shows the same table twice. */
static void readers_never_see_half_swapped_databases(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, "+OK", "SET tag one");
    T_CMD(c, "+OK", "SELECT 1");
    T_CMD(c, "+OK", "MSET tag two other x");
    struct swapper s = {.p = &g_srv, .rounds = 300};
    pthread_t th;
    pthread_create(&th, NULL, swapper_main, &s);
    redisContext *rd[4];
    for (int i = 0; i < 4; i++)
        rd[i] = sp_connect(&g_srv);
    int bad = 0, reads = 0;
    uint64_t deadline = t_now_ms() + 20000;
    while (t_now_ms() < deadline && reads < 2000) {
        for (int i = 0; i < 4 && rd[i]; i++, reads++) {
            redisReply *r = redisCommand(rd[i], "MGET tag other");
            int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                     r->element[0]->type == REDIS_REPLY_STRING &&
                     ((!strcmp(r->element[0]->str, "one") &&
                       r->element[1]->type == REDIS_REPLY_NIL) ||
                      (!strcmp(r->element[0]->str, "two") &&
                       r->element[1]->type == REDIS_REPLY_STRING));
            bad += !ok;
            freeReplyObject(r);
        }
        /* One INFO reply: both lines from one moment, "keys=1…" and "keys=2…". */
        redisReply *r = redisCommand(c, "INFO keyspace");
        const char *d0 = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "db0:keys=") : NULL;
        const char *d1 = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "db1:keys=") : NULL;
        bad += !d0 || !d1 || d0[9] == d1[9];
        freeReplyObject(r);
    }
    pthread_join(th, NULL);
    for (int i = 0; i < 4; i++)
        redisFree(rd[i]);
    /* 300 swaps: even, so db 0 is where it started. */
    redisReply *r = redisCommand(c, "SELECT 0");
    freeReplyObject(r);
    r = redisCommand(c, "GET tag");
    int home = r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "one");
    freeReplyObject(r);
    redisFree(c);
    T_EQ_INT(s.errors, 0);
    T_EQ_INT(bad, 0);
    T_ASSERT(reads >= 2000);
    T_ASSERT(home);
}


/* Lines of a CLIENT LIST reply, and whether one of them holds `needle`. */
static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

static long long client_id(redisContext *c)
{
    redisReply *r = redisCommand(c, "CLIENT ID");
    long long id = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return id;
}

/* 1 if the connection was closed by the server (the next command gets no reply). */
static int closed_by_server(redisContext *c)
{
    redisReply *r = redisCommand(c, "PING");
    int closed = r == NULL;
    freeReplyObject(r);
    return closed;
}

enum { NCL = 24 };

static void client_list_shows_every_io_thread(void)
{
    redisContext *cl[NCL], *me = sp_connect(&g_srv);
    long long ids[NCL];
    T_ASSERT(me);
    for (int i = 0; i < NCL; i++) {
        cl[i] = sp_connect(&g_srv);
        T_ASSERT(cl[i]);
        redisReply *r = redisCommand(cl[i], "CLIENT SETNAME cl%d", i);
        freeReplyObject(r);
        ids[i] = client_id(cl[i]);
    }
    redisReply *r = redisCommand(me, "CLIENT LIST");
    T_ASSERT(r && r->type == REDIS_REPLY_STRING);
    int lines = count_lines(r->str), named = 0;
    for (int i = 0; i < NCL; i++) {
        char want[64];
        snprintf(want, sizeof want, "id=%lld ", ids[i]);
        named += strstr(r->str, want) != NULL;
    }
    int self_cmd = strstr(r->str, "cmd=client|list ") != NULL;
    freeReplyObject(r);
    T_EQ_INT(lines, NCL + 1);
    T_EQ_INT(named, NCL);
    T_ASSERT(self_cmd);
    /* ID: in the order asked, repeats included, unknown ids left out. */
    r = redisCommand(me, "CLIENT LIST ID %lld 999999 %lld %lld", ids[5], ids[0], ids[5]);
    T_ASSERT(r && r->type == REDIS_REPLY_STRING);
    char w1[64], w2[64];
    snprintf(w1, sizeof w1, "id=%lld ", ids[5]);
    snprintf(w2, sizeof w2, "\nid=%lld ", ids[0]);
    int order = !strncmp(r->str, w1, strlen(w1)) && strstr(r->str, w2) &&
                strstr(strstr(r->str, w2) + 1, w1) && count_lines(r->str) == 3;
    freeReplyObject(r);
    T_ASSERT(order);
    r = redisCommand(me, "CLIENT LIST TYPE normal");
    lines = r && r->type == REDIS_REPLY_STRING ? count_lines(r->str) : -1;
    freeReplyObject(r);
    T_EQ_INT(lines, NCL + 1);
    T_CMD(me, "$0 ", "CLIENT LIST TYPE pubsub");
    T_CMD(me, "$0 ", "CLIENT LIST TYPE master");
    T_CMD(me, "-ERR Unknown client type 'foo'", "CLIENT LIST TYPE foo");
    T_CMD(me, "-ERR Invalid client ID", "CLIENT LIST ID 1 x");
    T_CMD(me, "-ERR syntax error", "CLIENT LIST ID");
    T_CMD(me, "-ERR syntax error", "CLIENT LIST foo");
    /* CLIENT INFO is the caller's line of CLIENT LIST. */
    r = redisCommand(cl[3], "CLIENT INFO");
    snprintf(w1, sizeof w1, "id=%lld ", ids[3]);
    int info_ok = r && r->type == REDIS_REPLY_STRING && !strncmp(r->str, w1, strlen(w1)) &&
                  strstr(r->str, " name=cl3 ") && strstr(r->str, " cmd=client|info ") &&
                  count_lines(r->str) == 1;
    freeReplyObject(r);
    T_ASSERT(info_ok);
    for (int i = 0; i < NCL; i++)
        redisFree(cl[i]);
    redisFree(me);
}

static void client_kill_closes_clients_of_other_threads(void)
{
    redisContext *cl[NCL], *me = sp_connect(&g_srv);
    long long ids[NCL];
    T_ASSERT(me);
    for (int i = 0; i < NCL; i++) {
        cl[i] = sp_connect(&g_srv);
        T_ASSERT(cl[i]);
        ids[i] = client_id(cl[i]);
    }
    T_CMD(me, "-ERR wrong number of arguments for 'client|kill' command", "CLIENT KILL");
    T_CMD(me, "-ERR No such client", "CLIENT KILL 1.2.3.4:5");
    T_CMD(me, "-ERR client-id should be greater than 0", "CLIENT KILL ID 0");
    T_CMD(me, "-ERR client-id should be greater than 0", "CLIENT KILL ID x");
    T_CMD(me, "-ERR syntax error", "CLIENT KILL ID 5 foo");
    T_CMD(me, "-ERR Unknown client type 'foo'", "CLIENT KILL TYPE foo");
    T_CMD(me, "-ERR No such user 'bob'", "CLIENT KILL USER bob");
    T_CMD(me, "-ERR syntax error", "CLIENT KILL SKIPME maybe");
    T_CMD(me, ":0", "CLIENT KILL ID 999999");
    /* By id, by address (new and old form), whatever thread owns them. */
    T_CMD(me, ":1", "CLIENT KILL ID %lld", ids[0]);
    T_ASSERT(closed_by_server(cl[0]));
    redisReply *r = redisCommand(cl[1], "CLIENT INFO");
    char addr[64] = "", laddr[64] = "";
    if (r && r->type == REDIS_REPLY_STRING) {
        sscanf(strstr(r->str, "addr="), "addr=%63s", addr);
        sscanf(strstr(r->str, "laddr="), "laddr=%63s", laddr);
    }
    freeReplyObject(r);
    T_CMD(me, ":1", "CLIENT KILL ADDR %s LADDR %s", addr, laddr);
    T_ASSERT(closed_by_server(cl[1]));
    T_CMD(me, "-ERR No such client", "CLIENT KILL %s", addr);
    r = redisCommand(cl[2], "CLIENT INFO");
    if (r && r->type == REDIS_REPLY_STRING)
        sscanf(strstr(r->str, "addr="), "addr=%63s", addr);
    freeReplyObject(r);
    T_CMD(me, "+OK", "CLIENT KILL %s", addr);
    T_ASSERT(closed_by_server(cl[2]));
    /* Every other normal client: the caller is skipped and keeps working. */
    T_CMD(me, ":21", "CLIENT KILL TYPE normal USER default");
    for (int i = 3; i < NCL; i++)
        T_ASSERT(closed_by_server(cl[i]));
    r = redisCommand(me, "CLIENT LIST");
    int lines = r && r->type == REDIS_REPLY_STRING ? count_lines(r->str) : -1;
    freeReplyObject(r);
    T_EQ_INT(lines, 1);
    /* SKIPME no: the caller gets its reply, then is closed. */
    T_CMD(me, ":1", "CLIENT KILL ID %lld SKIPME no", client_id(me));
    T_ASSERT(closed_by_server(me));
    for (int i = 0; i < NCL; i++)
        redisFree(cl[i]);
    redisFree(me);
}

/* The counters of one cmdstat_ line: calls, rejected, failed (usec varies). */
static int cmdstat(redisContext *c, const char *name, long long *calls, long long *rejected,
                   long long *failed)
{
    char v[256];
    unsigned long long usec;
    double per;
    sp_info_field(c, "commandstats", name, v, sizeof v);
    *calls = *rejected = *failed = -1;
    return sscanf(v, "calls=%lld,usec=%llu,usec_per_call=%lf,rejected_calls=%lld,failed_calls=%lld",
                  calls, &usec, &per, rejected, failed) == 5;
}

#define T_CMDSTAT(c, name, want_calls, want_rejected, want_failed)                      \
    do {                                                                                \
        long long t_c_, t_r_, t_f_;                                                     \
        if (!cmdstat((c), (name), &t_c_, &t_r_, &t_f_))                                 \
            T_FAIL("no %s line", (name));                                              \
        if (t_c_ != (want_calls) || t_r_ != (want_rejected) || t_f_ != (want_failed))   \
            T_FAIL("%s: calls=%lld rejected=%lld failed=%lld", (name), t_c_, t_r_, t_f_); \
    } while (0)

struct loader {
    srvp *p;
    int errors;
};

static void *loader_main(void *arg)
{
    struct loader *l = arg;
    redisContext *c = sp_connect(l->p);
    for (int i = 0; c && i < 100; i++) {
        redisReply *r = redisCommand(c, "SET load%d x", i);
        l->errors += !r || r->type != REDIS_REPLY_STATUS;
        freeReplyObject(r);
        r = redisCommand(c, "GET load%d", i);
        l->errors += !r || r->type != REDIS_REPLY_STRING;
        freeReplyObject(r);
    }
    l->errors += !c;
    redisFree(c);
    return NULL;
}

static void commandstats_and_errorstats_count_exactly(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "CONFIG RESETSTAT");
    T_CMD(c, "+OK", "SET a b");
    T_CMD(c, "-ERR value is not an integer or out of range", "INCR a");
    T_CMD(c, "-ERR wrong number of arguments for 'get' command", "GET");
    T_CMD(c, "-ERR unknown subcommand 'foo'. Try CLIENT HELP.", "client foo");
    T_CMD(c, "-ERR unknown command 'NOSUCH', with args beginning with: ", "NOSUCH");
    T_CMD(c, "-ERR wrong number of arguments for 'client|id' command", "CLIENT ID x");
    T_CMD(c, "-NOPROTO unsupported protocol version", "HELLO 4");
    T_CMD(c, "*2", "CONFIG GET port");
    /* Eight clients on four threads: reads on the I/O threads, writes in the writer. */
    struct loader l[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        l[i] = (struct loader){.p = &g_srv};
        pthread_create(&th[i], NULL, loader_main, &l[i]);
    }
    int errors = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        errors += l[i].errors;
    }
    T_EQ_INT(errors, 0);
    T_CMDSTAT(c, "cmdstat_set", 801, 0, 0);
    T_CMDSTAT(c, "cmdstat_get", 800, 1, 0);
    T_CMDSTAT(c, "cmdstat_incr", 1, 0, 1);
    T_CMDSTAT(c, "cmdstat_hello", 1, 0, 1);
    T_CMDSTAT(c, "cmdstat_client|id", 0, 1, 0);
    T_CMDSTAT(c, "cmdstat_config|resetstat", 1, 0, 0);
    T_CMDSTAT(c, "cmdstat_config|get", 1, 0, 0);
    T_CMDSTAT(c, "cmdstat_info", 7, 0, 0); /* the seven INFO above, not this one */
    char v[128];
    T_EQ_STR(sp_info_field(c, "commandstats", "cmdstat_client", v, sizeof v), "");
    T_EQ_STR(sp_info_field(c, "errorstats", "errorstat_ERR", v, sizeof v), "count=5");
    T_EQ_STR(sp_info_field(c, "errorstats", "errorstat_NOPROTO", v, sizeof v), "count=1");
    T_EQ_STR(sp_info_field(c, "stats", "total_error_replies", v, sizeof v), "6");
    /* SET + INCR + HELLO + CONFIG GET + 1600 + RESETSTAT + the 12 INFO before this one */
    T_EQ_STR(sp_info_field(c, "stats", "total_commands_processed", v, sizeof v), "1617");
    T_CMD(c, "+OK", "CONFIG RESETSTAT");
    /* read events and output flushes, as Redis counts them: this INFO's request; the
       RESETSTAT's reply and the first INFO's */
    T_EQ_STR(sp_info_field(c, "stats", "total_reads_processed", v, sizeof v), "1");
    T_EQ_STR(sp_info_field(c, "stats", "total_writes_processed", v, sizeof v), "2");
    T_EQ_STR(sp_info_field(c, "commandstats", "cmdstat_set", v, sizeof v), "");
    T_EQ_STR(sp_info_field(c, "errorstats", "errorstat_ERR", v, sizeof v), "");
    T_EQ_STR(sp_info_field(c, "stats", "total_error_replies", v, sizeof v), "0");
    T_CMDSTAT(c, "cmdstat_config|resetstat", 1, 0, 0);
    redisFree(c);
}

/* A command's time in INFO commandstats is in microseconds (the server counts in the CPU's
 * ticks and converts): a script that spins until TIME moved 100 ms counts at least that,
 * and not a thousand times more. */
static void commandstats_time_is_in_microseconds(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "CONFIG RESETSTAT");
    T_CMD(c, ":1", "EVAL %s 0",
          "local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] "
          "while true do local u = redis.call('TIME') "
          "if u[1] * 1000000 + u[2] - s >= 100000 then return 1 end end");
    char v[256];
    unsigned long long calls = 0, usec = 0;
    double per = 0;
    sp_info_field(c, "commandstats", "cmdstat_eval", v, sizeof v);
    T_EQ_INT(sscanf(v, "calls=%llu,usec=%llu,usec_per_call=%lf", &calls, &usec, &per), 3);
    T_EQ_U64(calls, 1);
    printf("a 100 ms script: usec=%llu\n", usec);
    T_ASSERT(usec >= 100000 && usec < 3000000);
    T_ASSERT(per == (double)usec);
    redisFree(c);
}

/* Keys that all live ~100 s: avg_ttl (ms) within 5 s of it, small and sampled indexes. */
static void info_keyspace_reports_avg_ttl(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "SELECT 7");
    T_CMD(c, "+OK", "FLUSHDB");
    T_CMD(c, "+OK", "SET plain v");
    for (int i = 0; i < 3000; i++)
        redisAppendCommand(c, "SET t%d v EX 100", i);
    for (int i = 0; i < 3000; i++) {
        redisReply *r = NULL;
        redisGetReply(c, (void **)&r);
        freeReplyObject(r);
    }
    char v[128];
    unsigned long long keys = 0, expires = 0, avg = 0;
    sp_info_field(c, "keyspace", "db7", v, sizeof v);
    int n = sscanf(v, "keys=%llu,expires=%llu,avg_ttl=%llu", &keys, &expires, &avg);
    T_CMD(c, "+OK", "FLUSHDB");
    redisFree(c);
    T_EQ_INT(n, 3);
    T_EQ_U64(keys, 3001);
    T_EQ_U64(expires, 3000);
    if (avg < 95000 || avg > 100000)
        T_FAIL("avg_ttl=%llu", avg);
}

/* OBJECT and MEMORY USAGE name what Redis 7.0 would use for a value of that size and
 * content. */
static void object_and_memory_reply_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, "+OK", "SET int 12");
    T_CMD(c, "+OK", "SET emb abc");
    T_CMD(c, "+OK", "SET raw %s", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    T_CMD(c, ":1", "HSET h a 1");
    T_CMD(c, ":2", "SADD si 1 2");
    T_CMD(c, ":1", "SADD ss a");
    T_CMD(c, ":1", "ZADD z 1 a");
    T_CMD(c, ":1", "RPUSH l a");
    static const char *const enc[][2] = {{"int", "int"}, {"emb", "embstr"}, {"raw", "raw"},
                                         {"h", "listpack"}, {"si", "intset"},
                                         {"ss", "hashtable"}, {"z", "listpack"},
                                         {"l", "quicklist"}};
    for (size_t i = 0; i < sizeof enc / sizeof *enc; i++) {
        char want[64];
        snprintf(want, sizeof want, "$%zu %s", strlen(enc[i][1]), enc[i][1]);
        T_CMD(c, want, "OBJECT ENCODING %s", enc[i][0]);
    }
    for (int i = 0; i < 129; i++)
        T_CMD(c, ":1", "ZADD bigz %d m%d", i, i);
    T_CMD(c, "$8 skiplist", "OBJECT ENCODING bigz");
    /* a member (a hash's field or value) over 64 bytes: Redis's listpack no longer holds it */
    const char *m64 = "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm";
    T_CMD(c, ":1", "ZADD z64 1 %s", m64);
    T_CMD(c, "$8 listpack", "OBJECT ENCODING z64");
    T_CMD(c, ":1", "ZADD z65 1 %sm", m64);
    T_CMD(c, "$8 skiplist", "OBJECT ENCODING z65");
    T_CMD(c, ":1", "HSET h64 %s %s", m64, m64);
    T_CMD(c, "$8 listpack", "OBJECT ENCODING h64");
    T_CMD(c, ":1", "HSET h65 f %sm", m64);
    T_CMD(c, "$9 hashtable", "OBJECT ENCODING h65");
    T_CMD(c, "(nil)", "OBJECT ENCODING nokey");
    T_CMD(c, ":2147483647", "OBJECT REFCOUNT int");
    T_CMD(c, ":1", "OBJECT REFCOUNT emb");
    T_CMD(c, ":0", "OBJECT IDLETIME emb");
    T_CMD(c, "-ERR unknown subcommand 'bogus'. Try OBJECT HELP.", "OBJECT bogus x");
    T_CMD(c, "(nil)", "MEMORY USAGE nokey");
    T_CMD(c, "-ERR value is not an integer or out of range", "MEMORY USAGE emb SAMPLES x");
    redisReply *r = redisCommand(c, "MEMORY USAGE bigz");
    T_ASSERT(r && r->type == REDIS_REPLY_INTEGER && r->integer > 129 * 16);
    freeReplyObject(r);
    redisFree(c);
}

int main(void)
{
    T_RUN(server_starts_with_four_io_threads);
    if (!g_srv.pid)
        return T_MAIN_END();
    T_RUN(swapdb_checks_its_arguments_as_redis);
    T_RUN(swapdb_exchanges_data_and_survives_restart);
    T_RUN(readers_never_see_half_swapped_databases);
    T_RUN(client_list_shows_every_io_thread);
    T_RUN(client_kill_closes_clients_of_other_threads);
    T_RUN(commandstats_and_errorstats_count_exactly);
    T_RUN(commandstats_time_is_in_microseconds);
    T_RUN(info_keyspace_reports_avg_ttl);
    T_RUN(object_and_memory_reply_as_redis);
    t_failed += sp_stop_or_dump(&g_srv);
    return T_MAIN_END();
}
