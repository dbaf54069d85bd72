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

/* The value of field `name` ("db0", "cmdstat_get", ...) in an INFO reply, copied into
 * out up to the line end; "" if absent. */
static const char *info_field(redisContext *c, const char *section, const char *name,
                              char *out, size_t cap)
{
    redisReply *r = redisCommand(c, "INFO %s", section);
    out[0] = '\0';
    if (r && r->type == REDIS_REPLY_STRING) {
        size_t nl = strlen(name);
        for (const char *p = r->str; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
            if (!strncmp(p, name, nl) && p[nl] == ':') {
                size_t n = strcspn(p + nl + 1, "\r\n");
                snprintf(out, cap, "%.*s", (int)n, p + nl + 1);
                break;
            }
        }
    }
    freeReplyObject(r);
    return out;
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
    T_EQ_STR(info_field(a, "keyspace", "db0", v, sizeof v), "keys=1,expires=0,avg_ttl=0");
    T_EQ_STR(info_field(a, "keyspace", "db1", v, sizeof v), "keys=2,expires=0,avg_ttl=0");
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

int main(void)
{
    T_RUN(server_starts_with_four_io_threads);
    if (!g_srv.pid)
        return T_MAIN_END();
    T_RUN(swapdb_checks_its_arguments_as_redis);
    T_RUN(swapdb_exchanges_data_and_survives_restart);
    T_RUN(readers_never_see_half_swapped_databases);
    int rc = sp_stop(&g_srv);
    if (rc != 0) {
        sp_dump_log(&g_srv);
        t_failed++;
        fprintf(stderr, "FAIL server exit status %d\n", rc);
    }
    return T_MAIN_END();
}
