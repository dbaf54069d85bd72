/* oxistore-server driven with hiredis: exact replies and errors, ordering of pipelined
 * writes and reads, many concurrent clients, RESP3, clean shutdown. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "srv_util.h"

T_MAIN_BEGIN;

static srvp g_srv;

static void server_starts(void)
{
    if (sp_start(&g_srv, "basic")) {
        sp_dump_log(&g_srv);
        T_FAIL("server did not start");
    }
}

static void string_commands_reply_exactly(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+PONG", "PING");
    T_CMD(c, "$2 hi", "PING hi");
    T_CMD(c, "+OK", "SET k v");
    T_CMD(c, "$1 v", "GET k");
    T_CMD(c, "(nil)", "GET missing");
    T_CMD(c, "(nil)", "SET k w NX");
    T_CMD(c, "$1 v", "SET k w XX GET");
    T_CMD(c, "$1 w", "GET k");
    T_CMD(c, ":1", "INCR n");
    T_CMD(c, ":11", "INCRBY n 10");
    T_CMD(c, ":-9", "DECRBY n 20");
    T_CMD(c, "-ERR value is not an integer or out of range", "INCR k");
    T_CMD(c, ":9223372036854775798", "INCRBY n 9223372036854775807");
    T_CMD(c, "-ERR increment or decrement would overflow", "INCRBY n 10");
    T_CMD(c, "$3 1.5", "INCRBYFLOAT f 1.5");
    T_CMD(c, ":4", "APPEND k abc");
    T_CMD(c, "$2 bc", "GETRANGE k -2 -1");
    T_CMD(c, ":7", "SETRANGE k 5 zz");
    T_CMD(c, "$7 wabc\\x00zz", "GET k");
    T_CMD(c, ":1", "SETNX fresh 1");
    T_CMD(c, ":0", "SETNX fresh 2");
    T_CMD(c, "+OK", "MSET a 1 b 2");
    T_CMD(c, ":0", "MSETNX a 9 z 9");
    T_CMD(c, "*3", "MGET a b zz");
    T_CMD(c, ":2", "EXISTS a a");
    T_CMD(c, "+string", "TYPE a");
    T_CMD(c, "+none", "TYPE zz");
    T_CMD(c, ":2", "DEL a b zz");
    T_CMD(c, "$7 wabc\\x00zz", "GETDEL k");
    T_CMD(c, "(nil)", "GET k");
    redisFree(c);
}

/* proto-max-bulk-len takes Redis's whole range (up to LLONG_MAX; a value past what the
 * parser takes, 2^62, used to abort the server at the next connection) and applies to
 * every connection at once. */
static void proto_max_bulk_len_takes_redis_range(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "CONFIG SET proto-max-bulk-len 9223372036854775807");
    redisContext *d = sp_connect(&g_srv);
    T_ASSERT(d);
    T_CMD(d, "+PONG", "PING");
    T_CMD(d, "+OK", "SET big-limit ok");
    redisFree(d);
    T_CMD(c, "+OK", "CONFIG SET proto-max-bulk-len 536870912");
    redisFree(c);
    /* A new value applies to connections already open, as in Redis (it used to reach only
     * the ones opened after it). */
    int fd = sp_raw_connect(&g_srv);
    T_ASSERT(fd >= 0);
    T_RAW(fd, "CONFIG SET proto-max-bulk-len 1048576\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n",
          "+OK\r\n-ERR Protocol error: invalid bulk length\r\n"); /* one pipeline, as Redis */
    close(fd);
    c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "CONFIG SET proto-max-bulk-len 536870912");
    redisFree(c);
}

/* Copies file from to file to (created); 0 or -1. */
static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char buf[65536];
    ssize_t n = 0;
    while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) {
            n = -1;
            break;
        }
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return in >= 0 && out >= 0 && n == 0 ? 0 : -1;
}

/* SAVE writes <dir>/oxistore.mdb.backup; concurrent SAVEs take turns (they used to share
 * one temporary file: some failed, and one could rename another's half-written copy into
 * place); BGSAVE answers at once, copies in the background, and INFO and LASTSAVE follow;
 * a server started on the copy has the data. */
static void save_and_bgsave_write_the_backup(void)
{
    enum { SAVERS = 6, MB = 20 };
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    char *mb = malloc(1 << 20);
    T_ASSERT(mb);
    memset(mb, 'm', 1 << 20);
    for (int i = 0; i < MB; i++)
        T_CMD(c, "+OK", "SET save:%d %b", i, mb, (size_t)(1 << 20));
    free(mb);
    long long t0 = (long long)time(NULL);
    int fd[SAVERS];
    for (int i = 0; i < SAVERS; i++)
        T_ASSERT((fd[i] = sp_raw_connect(&g_srv)) >= 0);
    for (int i = 0; i < SAVERS; i++)
        T_EQ_INT(write(fd[i], "SAVE\r\n", 6), 6);
    for (int i = 0; i < SAVERS; i++) {
        char got[64];
        size_t n = 0;
        while (n < 5) {
            ssize_t r = read(fd[i], got + n, sizeof got - 1 - n);
            if (r <= 0)
                break;
            n += (size_t)r;
        }
        got[n] = '\0';
        T_EQ_STR(got, "+OK\r\n");
        close(fd[i]);
    }
    char backup[600];
    snprintf(backup, sizeof backup, "%s/oxistore.mdb.backup", g_srv.dir);
    struct stat st;
    T_EQ_INT(stat(backup, &st), 0);
    T_ASSERT(st.st_size > (off_t)MB << 20);
    int raw = sp_raw_connect(&g_srv);
    T_ASSERT(raw >= 0);
    T_RAW(raw, "BGSAVE\r\n", "+Background saving started\r\n");
    close(raw);
    uint64_t deadline = t_now_ms() + 30000;
    char b[64] = "";
    while (t_now_ms() < deadline) {
        sp_info_field(c, "persistence", "rdb_bgsave_in_progress", b, sizeof b);
        if (strcmp(b, "0") == 0)
            break;
        usleep(10000);
    }
    T_EQ_STR(b, "0");
    sp_info_field(c, "persistence", "rdb_last_bgsave_status", b, sizeof b);
    T_EQ_STR(b, "ok");
    redisReply *r = redisCommand(c, "LASTSAVE");
    T_ASSERT(r && r->type == REDIS_REPLY_INTEGER);
    long long last = r->integer;
    freeReplyObject(r);
    T_ASSERT(last >= t0);
    /* The copy is a whole store: a server started on it has the 20 values. */
    srvp q = {0};
    char qdir[600], qfile[700];
    const char *base = t_dir();
    snprintf(qdir, sizeof qdir, "%s/fromsave", base);
    snprintf(qfile, sizeof qfile, "%s/oxistore.mdb", qdir);
    mkdir(qdir, 0755);
    T_EQ_INT(copy_file(backup, qfile), 0);
    T_EQ_INT(sp_start(&q, "fromsave"), 0);
    redisContext *qc = sp_connect(&q);
    T_ASSERT(qc);
    T_CMD(qc, ":1048576", "STRLEN save:19");
    redisFree(qc);
    T_EQ_INT(sp_stop(&q), 0);
    T_CMD(c, ":20", "DEL save:0 save:1 save:2 save:3 save:4 save:5 save:6 save:7 save:8 "
                    "save:9 save:10 save:11 save:12 save:13 save:14 save:15 save:16 save:17 "
                    "save:18 save:19");
    redisFree(c);
}

/* BITPOS as Redis 7.0.15 answers it (the differential test draws it at random too). */
static void bitpos_replies_exactly(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "SET bp %b", "\xff\xf0\x00", (size_t)3);
    T_CMD(c, "+OK", "SET ones %b", "\xff\xff", (size_t)2);
    T_CMD(c, ":12", "BITPOS bp 0");
    T_CMD(c, ":0", "BITPOS bp 1");
    T_CMD(c, ":16", "BITPOS ones 0");       /* no end: zeros follow the string */
    T_CMD(c, ":-1", "BITPOS ones 0 0 -1");  /* an end: none in the range */
    T_CMD(c, ":-1", "BITPOS ones 0 1 15 BIT");
    T_CMD(c, ":13", "BITPOS bp 0 13 20 BIT");
    T_CMD(c, ":-1", "BITPOS bp 1 12 23 bit");
    T_CMD(c, ":0", "BITPOS bp 1 -100 -200 BIT"); /* no early "empty" as BITCOUNT has */
    /* BITCOUNT's early "empty" (both ends negative, start past end) comes before its unit */
    T_CMD(c, ":0", "BITCOUNT bp -1 -2 BOGUS");
    T_CMD(c, "-ERR syntax error", "BITCOUNT bp 2 1 BOGUS");
    T_CMD(c, ":0", "BITPOS nokey 0");
    T_CMD(c, ":-1", "BITPOS nokey 1 x y z w"); /* the key first: no syntax error */
    T_CMD(c, "-ERR The bit argument must be 1 or 0.", "BITPOS bp 2");
    T_CMD(c, "-ERR syntax error", "BITPOS bp 1 0 x bogus");
    T_CMD(c, "-ERR value is not an integer or out of range", "BITPOS bp 1 0 x BIT");
    T_CMD(c, "-ERR wrong number of arguments for 'bitpos' command", "BITPOS bp");
    redisFree(c);
    /* COMMAND INFO: fast only for the @fast commands, as Redis (test_command.c compares
     * every command's with the reference's). */
    int fd = sp_raw_connect(&g_srv);
    T_ASSERT(fd >= 0);
    T_RAW(fd, "COMMAND INFO bitpos get\r\n",
          "*2\r\n*10\r\n$6\r\nbitpos\r\n:-3\r\n*1\r\n+readonly\r\n:1\r\n:1\r\n:1\r\n"
          "*3\r\n+@read\r\n+@bitmap\r\n+@slow\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n"
          "*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n"
          "$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n"
          "$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n"
          "$5\r\nlimit\r\n:0\r\n*0\r\n"
          "*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
          "*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n"
          "*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n"
          "$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n"
          "$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n"
          "$5\r\nlimit\r\n:0\r\n*0\r\n");
    close(fd);
}

static void errors_are_redis_texts(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' ", "FOO a b");
    T_CMD(c, "-ERR wrong number of arguments for 'get' command", "GET");
    T_CMD(c, "-ERR syntax error", "SET k v NX XX");
    T_CMD(c, "-ERR invalid expire time in 'set' command", "SET k v EX 0");
    T_CMD(c, "-ERR value is not an integer or out of range", "SET k v EX x");
    T_CMD(c, "-ERR DB index is out of range", "SELECT 16");
    T_CMD(c, "-NOPROTO unsupported protocol version", "HELLO 4");
    T_CMD(c, "-ERR unknown subcommand 'foo'. Try CLIENT HELP.", "CLIENT foo");
    redisFree(c);
}

/* appendfsync can change at runtime, as in Redis: the store switches its write-ahead log
 * off and on, and the data written under each policy stays. */
static void config_set_appendfsync_switches_policy(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "-ERR CONFIG SET failed (possibly related to argument 'appendfsync') - "
             "argument(s) must be one of the following: everysec, always, no",
          "CONFIG SET appendfsync sometimes");
    T_CMD(c, "+OK", "SET fs:always 1");
    T_CMD(c, "+OK", "CONFIG SET appendfsync everysec");
    T_CMD(c, "*2", "CONFIG GET appendfsync");
    redisReply *r = redisCommand(c, "CONFIG GET appendfsync");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    T_EQ_STR(r->element[1]->str, "everysec");
    freeReplyObject(r);
    r = redisCommand(c, "INFO persistence");
    T_ASSERT(r && r->type == REDIS_REPLY_STRING && strstr(r->str, "\r\nappendfsync:everysec\r\n"));
    freeReplyObject(r);
    T_CMD(c, "+OK", "SET fs:everysec 2");
    T_CMD(c, "+OK", "CONFIG SET appendfsync no");
    T_CMD(c, "+OK", "SET fs:no 3");
    T_CMD(c, "+OK", "CONFIG SET appendfsync always");
    T_CMD(c, "+OK", "SET fs:always2 4");
    T_CMD(c, "$1 1", "GET fs:always");
    T_CMD(c, "$1 2", "GET fs:everysec");
    T_CMD(c, "$1 3", "GET fs:no");
    T_CMD(c, "$1 4", "GET fs:always2");
    T_CMD(c, ":4", "DEL fs:always fs:everysec fs:no fs:always2");
    redisFree(c);
}

/* Refusals decided on the I/O thread (unknown command, arity, EXEC's) wait their turn
 * behind the client's writes still at the writer: pipelined in one packet, the replies
 * come in request order, byte for byte as redis-server 7.0 sends them. */
static void refusals_keep_their_place_behind_writes(void)
{
    static const char req[] = "SET ord:a 1\r\nGET\r\nNOSUCH\r\nGET ord:a\r\nCLIENT foo\r\n"
                              "SET ord:b 2\r\nEXEC x\r\nPING\r\nDEL ord:a ord:b\r\n";
    static const char want[] =
        "+OK\r\n-ERR wrong number of arguments for 'get' command\r\n"
        "-ERR unknown command 'NOSUCH', with args beginning with: \r\n$1\r\n1\r\n"
        "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n+OK\r\n"
        "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' "
        "command\r\n+PONG\r\n:2\r\n";
    int fd = sp_raw_connect(&g_srv);
    T_ASSERT(fd >= 0);
    char got[1024];
    for (int round = 0; round < 200; round++) {
        if (!sp_raw_roundtrip(fd, req, sizeof req - 1, want, sizeof want - 1, got, sizeof got)) {
            close(fd);
            T_FAIL("round %d: got %s", round, got);
        }
    }
    close(fd);
}

static void databases_are_separate(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "SELECT 5");
    T_CMD(c, "+OK", "SET only5 x");
    T_CMD(c, ":1", "DBSIZE");
    T_CMD(c, "+OK", "SELECT 0");
    T_CMD(c, "(nil)", "GET only5");
    T_CMD(c, "+OK", "SELECT 5");
    T_CMD(c, "+OK", "FLUSHDB");
    T_CMD(c, ":0", "DBSIZE");
    redisFree(c);
}

/* INFO persistence reports the write buffer and the checkpoints: with a 1 MiB buffer,
 * 20000 SETs of 100 bytes (about 4 MiB of buffer) make several checkpoints, each of which
 * reports the LMDB pages it changed (checkpoint-dirty-limit in force), the buffer
 * never reports more than its limit, and once every checkpoint ended the commits a
 * restart would replay are fewer than those made. SET NX/XX answer as Redis's from the
 * put's own lookup. */
static void info_reports_write_buffer_and_checkpoints(void)
{
    srvp s = {0};
    const char *extra[] = {"--write-buffer-limit", "1mb", "--checkpoint-dirty-limit", "3mb", NULL};
    T_EQ_INT(sp_start_argv(&s, "wbinfo", extra), 0);
    redisContext *c = sp_connect(&s);
    T_ASSERT(c);
    char v[64];
    T_EQ_STR(sp_info_field(c, "persistence", "write_buffer_limit", v, sizeof v), "1048576");
    T_EQ_STR(sp_info_field(c, "persistence", "checkpoints", v, sizeof v), "0");
    T_EQ_STR(sp_info_field(c, "persistence", "checkpoint_waits", v, sizeof v), "0");
    T_EQ_STR(sp_info_field(c, "persistence", "checkpoint_dirty_limit", v, sizeof v), "3145728");
    T_EQ_STR(sp_info_field(c, "persistence", "checkpoint_pages_peak", v, sizeof v), "0");
    T_EQ_STR(sp_info_field(c, "persistence", "checkpoint_env_reopens", v, sizeof v), "0");
    T_DEEP(c, "*2 [$22 checkpoint-dirty-limit, $7 3145728]", "CONFIG GET checkpoint-dirty-limit");
    T_EQ_STR(sp_info_field(c, "persistence", "last_checkpoint_status", v, sizeof v), "ok");
    /* no replication yet: a master without replicas, in ROLE as in INFO */
    T_DEEP(c, "*3 [$6 master, :0, *0 []]", "ROLE");
    T_EQ_STR(sp_info_field(c, "replication", "role", v, sizeof v), "master");
    char val[101];
    memset(val, 'v', 100);
    val[100] = '\0';
    enum { N = 20000 };
    for (int i = 0; i < N; i++)
        redisAppendCommand(c, "SET wb:%d %s", i, val);
    for (int i = 0; i < N; i++) {
        redisReply *r;
        T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
        T_EQ_STR(r->str, "OK");
        freeReplyObject(r);
    }
    T_ASSERT(atoll(sp_info_field(c, "persistence", "write_buffer_bytes", v, sizeof v)) <=
             1048576);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) { /* the last checkpoint may still be running: poll with a deadline */
        if (!strcmp(sp_info_field(c, "persistence", "checkpoint_in_progress", v, sizeof v), "0"))
            break;
        clock_gettime(CLOCK_MONOTONIC, &t);
        T_ASSERT(t.tv_sec - t0.tv_sec < 30);
        poll(NULL, 0, 10);
    }
    T_ASSERT(atoll(sp_info_field(c, "persistence", "checkpoints", v, sizeof v)) >= 2);
    long long last = atoll(sp_info_field(c, "persistence", "last_checkpoint_pages", v, sizeof v));
    T_ASSERT(last > 0);
    T_ASSERT(atoll(sp_info_field(c, "persistence", "checkpoint_pages_peak", v, sizeof v)) >= last);
    long long pending = atoll(sp_info_field(c, "persistence", "commits_since_checkpoint", v,
                                            sizeof v));
    long long commits = atoll(sp_info_field(c, "stats", "writer_commits", v, sizeof v));
    T_ASSERT(commits > 0 && pending >= 0 && pending < commits);
    T_CMD(c, ":20000", "DBSIZE");
    T_CMD(c, "(nil)", "SET wb:1 x NX");
    T_CMD(c, "+OK", "SET wb:new x NX");
    T_CMD(c, "(nil)", "SET wb:none x XX");
    T_CMD(c, "+OK", "SET wb:1 y XX");
    T_CMD(c, ":0", "SETNX wb:1 z");
    T_CMD(c, "$1 y", "SET wb:1 w XX GET");
    T_CMD(c, "(nil)", "SET wb:none2 w XX GET");
    T_CMD(c, "$1 w", "GET wb:1");
    T_CMD(c, ":20001", "DBSIZE");
    redisFree(c);
    T_EQ_INT(sp_stop_or_dump(&s), 0);
}

/* 10k pipelined commands alternating SET k i / GET k: every GET must see the SET just
 * before it (the read waits for its own write), replies in order. */
static void pipeline_of_10k_keeps_order_and_reads_own_writes(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    for (int i = 0; i < 5000; i++) {
        redisAppendCommand(c, "SET pk %d", i);
        redisAppendCommand(c, "GET pk");
    }
    for (int i = 0; i < 5000; i++) {
        redisReply *r;
        char want[16];
        T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
        int ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
        freeReplyObject(r);
        T_ASSERT(ok);
        T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
        snprintf(want, sizeof want, "%d", i);
        ok = r->type == REDIS_REPLY_STRING && strcmp(r->str, want) == 0;
        freeReplyObject(r);
        if (!ok)
            T_FAIL("GET %d did not see its SET", i);
    }
    /* SELECT in a pipeline applies to the commands after it, not before. */
    redisAppendCommand(c, "SET sel before");
    redisAppendCommand(c, "SELECT 1");
    redisAppendCommand(c, "GET sel");
    redisAppendCommand(c, "SELECT 0");
    redisAppendCommand(c, "GET sel");
    const char *want[5] = {"+OK", "+OK", "(nil)", "+OK", "$6 before"};
    for (int i = 0; i < 5; i++) {
        redisReply *r;
        char b[64];
        T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
        sp_show(r, b, sizeof b);
        freeReplyObject(r);
        T_EQ_STR(b, want[i]);
    }
    redisFree(c);
}

struct worker {
    int id, errors;
    srvp *p;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    redisContext *c = sp_connect(w->p);
    if (!c) {
        w->errors++;
        return NULL;
    }
    for (int i = 0; i < 100; i++) {
        redisReply *r = redisCommand(c, "INCR counter");
        if (!r || r->type != REDIS_REPLY_INTEGER)
            w->errors++;
        freeReplyObject(r);
        r = redisCommand(c, "SET w%d:%d %d", w->id, i, i);
        freeReplyObject(r);
        r = redisCommand(c, "GET w%d:%d", w->id, i);
        if (!r || r->type != REDIS_REPLY_STRING || atoi(r->str) != i)
            w->errors++;
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

static void hundred_concurrent_clients_lose_nothing(void)
{
    enum { N = 100 };
    pthread_t th[N];
    struct worker w[N];
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){.id = i, .p = &g_srv};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    int errors = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        errors += w[i].errors;
    }
    T_EQ_INT(errors, 0);
    T_CMD(c, "$5 10000", "GET counter");
    T_CMD(c, ":10001", "DBSIZE");
    redisFree(c);
}

static void resp3_after_hello_byte_exact(void)
{
    int fd = sp_raw_connect(&g_srv);
    T_ASSERT(fd >= 0);
    T_RAW(fd, "*1\r\n$3\r\nGET\r\n",
          "-ERR wrong number of arguments for 'get' command\r\n");
    T_RAW(fd, "GET nothing-here\r\n", "$-1\r\n");
    T_RAW(fd, "MGET nothing-here\r\n", "*1\r\n$-1\r\n");
    char hello[512];
    /* HELLO 3's map: check its head and tail bytes, the id in between varies */
    T_ASSERT(write(fd, "HELLO 3\r\n", 9) == 9);
    size_t n = 0;
    const char *tail = "$7\r\nmodules\r\n*0\r\n";
    while (n < sizeof hello - 1) {
        ssize_t r = read(fd, hello + n, sizeof hello - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        hello[n] = '\0';
        if (n >= strlen(tail) && strcmp(hello + n - strlen(tail), tail) == 0)
            break;
    }
    hello[n] = '\0';
    const char *head = "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n"
                       "$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:";
    if (strncmp(hello, head, strlen(head)) != 0)
        T_FAIL("HELLO 3 replied \"%s\"", hello);
    T_RAW(fd, "GET nothing-here\r\n", "_\r\n");
    T_RAW(fd, "MGET nothing-here\r\n", "*1\r\n_\r\n");
    T_RAW(fd, "PING\r\n", "+PONG\r\n");
    T_RAW(fd, "*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n", "$3\r\nabc\r\n");
    close(fd);
}

static void protocol_error_replies_then_closes(void)
{
    int fd = sp_raw_connect(&g_srv);
    T_ASSERT(fd >= 0);
    T_RAW(fd, "*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    char b[8];
    T_EQ_INT(read(fd, b, sizeof b), 0); /* closed after the error */
    close(fd);
}

static void sigterm_exits_zero_and_data_persists(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "SET durable yes");
    redisFree(c);
    T_EQ_INT(sp_stop(&g_srv), 0);
    T_EQ_INT(sp_start(&g_srv, "basic"), 0);
    c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "$3 yes", "GET durable");
    redisFree(c);
}

/* SIGTERM while clients pipeline writes: the server stops reading, answers what it applied,
 * closes, and exits 0 (no crash, no leak under ASan); after a restart every write that got
 * its +OK is there. Each connection sends PIPE_N SETs without waiting; the signal goes once
 * each has 2000 answers, so it lands mid-pipeline. */
enum { PIPE_CONNS = 4, PIPE_N = 50000 };

struct piper {
    srvp *p;
    int idx, bad;
    atomic_size_t acked;  /* "+OK\r\n" replies read, in order */
    int eof;
};

static void *piper_main(void *arg)
{
    struct piper *pp = arg;
    size_t cap = (size_t)PIPE_N * 64, len = 0, sent = 0, got = 0;
    char *req = malloc(cap), buf[65536];
    int fd = sp_raw_connect(pp->p);
    if (!req || fd < 0) {
        pp->bad = 1;
        free(req);
        return NULL;
    }
    for (int k = 0; k < PIPE_N; k++) {
        char key[32], val[32];
        int kl = snprintf(key, sizeof key, "pipe%d:%d", pp->idx, k);
        int vl = snprintf(val, sizeof val, "v%d", k);
        len += (size_t)snprintf(req + len, cap - len, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n",
                                kl, key, vl, val);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    uint64_t deadline = t_now_ms() + 60000;
    while (!pp->eof && t_now_ms() < deadline) {
        struct pollfd pf = {.fd = fd, .events = POLLIN | (sent < len ? POLLOUT : 0)};
        if (poll(&pf, 1, 1000) <= 0)
            continue;
        if ((pf.revents & POLLOUT) && sent < len) {
            ssize_t w = write(fd, req + sent, len - sent);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN)
                sent = len; /* the server closed: stop sending, read what came */
        }
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(fd, buf, sizeof buf);
            if (r == 0 || (r < 0 && errno != EAGAIN)) {
                pp->eof = 1;
                break;
            }
            for (ssize_t i = 0; i < r; i++, got++)
                if (buf[i] != "+OK\r\n"[got % 5])
                    pp->bad = 1;
            atomic_store(&pp->acked, got / 5);
        }
    }
    if (got % 5)
        pp->bad = 1; /* a reply cut in the middle */
    close(fd);
    free(req);
    return NULL;
}

static void sigterm_under_pipelines_exits_zero_and_keeps_every_ack(void)
{
    srvp s = {0};
    T_EQ_INT(sp_start(&s, "shutpipe"), 0);
    pthread_t th[PIPE_CONNS];
    struct piper pp[PIPE_CONNS];
    for (int i = 0; i < PIPE_CONNS; i++) {
        pp[i] = (struct piper){.p = &s, .idx = i};
        pthread_create(&th[i], NULL, piper_main, &pp[i]);
    }
    uint64_t deadline = t_now_ms() + 30000;
    for (int i = 0; i < PIPE_CONNS; i++)
        while (atomic_load(&pp[i].acked) < 2000 && !pp[i].eof && t_now_ms() < deadline)
            usleep(1000);
    kill(s.pid, SIGTERM);
    for (int i = 0; i < PIPE_CONNS; i++)
        pthread_join(th[i], NULL);
    T_EQ_INT(sp_stop_or_dump(&s), 0);
    size_t total = 0;
    for (int i = 0; i < PIPE_CONNS; i++) {
        T_EQ_INT(pp[i].bad, 0);
        T_EQ_INT(pp[i].eof, 1);
        T_ASSERT(atomic_load(&pp[i].acked) >= 2000);
        total += atomic_load(&pp[i].acked);
    }
    T_ASSERT(total < (size_t)PIPE_CONNS * PIPE_N); /* the signal came mid-pipeline */
    T_EQ_INT(sp_start(&s, "shutpipe"), 0);
    redisContext *c = sp_connect(&s);
    T_ASSERT(c);
    for (int i = 0; i < PIPE_CONNS; i++) {
        size_t n = atomic_load(&pp[i].acked), lost = 0;
        for (size_t k0 = 0; k0 < n; k0 += 1000) {
            size_t k1 = k0 + 1000 < n ? k0 + 1000 : n;
            for (size_t k = k0; k < k1; k++)
                redisAppendCommand(c, "GET pipe%d:%lu", i, (unsigned long)k); /* hiredis 0.14: no %zu */
            for (size_t k = k0; k < k1; k++) {
                redisReply *r = NULL;
                char want[32];
                snprintf(want, sizeof want, "v%zu", k);
                if (redisGetReply(c, (void **)&r) != REDIS_OK || r->type != REDIS_REPLY_STRING ||
                    strcmp(r->str, want) != 0)
                    lost++;
                freeReplyObject(r);
            }
        }
        if (lost)
            fprintf(stderr, "  connection %d: %zu of %zu acknowledged SETs lost\n", i, lost, n);
        T_EQ_INT(lost, 0);
    }
    redisFree(c);
    T_EQ_INT(sp_stop_or_dump(&s), 0);
}

/* 1 if fd gets want within ms milliseconds. */
static int raw_reply_within(int fd, const char *want, int ms)
{
    char buf[256];
    size_t n = 0, len = strlen(want);
    uint64_t deadline = t_now_ms() + (uint64_t)ms;
    while (n < len && t_now_ms() < deadline) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        ssize_t r = read(fd, buf + n, len - n);
        if (r <= 0)
            return 0;
        n += (size_t)r;
    }
    return n == len && memcmp(buf, want, len) == 0;
}

/* SIGTERM while a CLIENT LIST round waits for a busy I/O thread: the server waits for that
 * thread, finishes the round and exits 0 (the round used to leak under ASan when the
 * asking thread's loop ended first). One connection blocks its thread with DEBUG SLEEP;
 * a connection that still answers PING is on the other thread, and asks CLIENT LIST. */
static void sigterm_during_client_list_round_exits_zero(void)
{
    enum { CAND = 16 };
    srvp s = {0};
    T_EQ_INT(sp_start(&s, "shutask"), 0); /* two I/O threads */
    int cand[CAND], other = -1;
    for (int i = 0; i < CAND; i++)
        T_ASSERT((cand[i] = sp_raw_connect(&s)) >= 0);
    int x = sp_raw_connect(&s);
    T_ASSERT(x >= 0);
    T_RAW(x, "PING\r\n", "+PONG\r\n"); /* x is registered on its thread */
    T_EQ_INT(write(x, "DEBUG SLEEP 2\r\n", 15), 15);
    for (int i = 0; i < CAND && other < 0; i++) {
        T_EQ_INT(write(cand[i], "PING\r\n", 6), 6);
        if (raw_reply_within(cand[i], "+PONG\r\n", 1000))
            other = cand[i];
    }
    T_ASSERT(other >= 0);
    T_EQ_INT(write(other, "CLIENT LIST\r\n", 13), 13);
    kill(s.pid, SIGTERM);
    T_EQ_INT(sp_stop_or_dump(&s), 0);
    for (int i = 0; i < CAND; i++)
        close(cand[i]);
    close(x);
}

/* SIGTERM while a CONFIG SET port waits behind a write (a barrier job) and comes back after
 * the I/O thread's quiesce: its round of the threads finds the listeners closed already,
 * and must neither free them again (it crashed in event_free) nor listen anew. One I/O
 * thread: z's DEBUG SLEEP holds it while p's and q's requests arrive, so the next loop
 * reads p (its SET and CONFIG SET go to the writer) and then q, whose DEBUG SLEEP is where
 * SIGTERM lands; the quiesce then runs before the thread sees p's jobs come back. */
static void sigterm_before_config_set_port_comes_back_exits_zero(void)
{
    const char *extra[] = {"--io-threads", "1", NULL};
    srvp s = {0};
    T_EQ_INT(sp_start_argv(&s, "shutrebind", extra), 0);
    int z = sp_raw_connect(&s), p = sp_raw_connect(&s), q = sp_raw_connect(&s);
    T_ASSERT(z >= 0 && p >= 0 && q >= 0);
    T_RAW(z, "PING\r\n", "+PONG\r\n");
    T_RAW(p, "PING\r\n", "+PONG\r\n");
    T_RAW(q, "PING\r\n", "+PONG\r\n");
    char req[128];
    int n = snprintf(req, sizeof req, "SET a 1\r\nCONFIG SET port %d\r\n", sp_free_port());
    T_EQ_INT(write(z, "DEBUG SLEEP 0.2\r\n", 17), 17);
    usleep(50000);
    T_EQ_INT(write(p, req, (size_t)n), n);
    T_EQ_INT(write(q, "DEBUG SLEEP 1\r\n", 15), 15);
    usleep(300000); /* z's sleep is over, q's is not */
    T_EQ_INT(sp_stop_or_dump(&s), 0);
    close(z);
    close(p);
    close(q);
}

/* SIGTERM while an EXEC goes through many CLIENT LISTs, one round of the threads after the
 * other, and the thread that answers them is held past the end of the loops: every round
 * left is finished after the join (a fixed number of passes left some, leaked under
 * ASan). Thread B: z sleeps while p (a SET and a DEBUG SLEEP 1, which come back after the
 * quiesce) and q (DEBUG SLEEP 0.5) arrive; the EXEC's client is on thread A. */
static void sigterm_during_exec_of_many_client_lists_exits_zero(void)
{
    enum { CAND = 16, LISTS = 20 };
    srvp s = {0};
    T_EQ_INT(sp_start(&s, "shutrounds"), 0); /* two I/O threads */
    int cand[CAND], z = sp_raw_connect(&s), y = -1, p = -1, q = -1;
    T_ASSERT(z >= 0);
    T_RAW(z, "PING\r\n", "+PONG\r\n");
    for (int i = 0; i < CAND; i++)
        T_ASSERT((cand[i] = sp_raw_connect(&s)) >= 0);
    T_EQ_INT(write(z, "DEBUG SLEEP 0.5\r\n", 17), 17); /* holds z's thread, B */
    usleep(50000);
    for (int i = 0; i < CAND; i++)
        T_EQ_INT(write(cand[i], "PING\r\n", 6), 6);
    usleep(100000); /* thread A has answered its own */
    int on_a[CAND];
    for (int i = 0; i < CAND; i++)
        on_a[i] = raw_reply_within(cand[i], "+PONG\r\n", 1);
    T_ASSERT(raw_reply_within(z, "+OK\r\n", 3000));
    for (int i = 0; i < CAND; i++) {
        if (on_a[i]) {
            if (y < 0)
                y = cand[i];
            continue;
        }
        T_ASSERT(raw_reply_within(cand[i], "+PONG\r\n", 3000));
        if (p < 0)
            p = cand[i];
        else if (q < 0)
            q = cand[i];
    }
    T_ASSERT(y >= 0 && p >= 0 && q >= 0);
    T_RAW(p, "PING\r\n", "+PONG\r\n");
    T_RAW(q, "PING\r\n", "+PONG\r\n");
    char req[32 + LISTS * 16];
    int n = snprintf(req, sizeof req, "MULTI\r\n");
    for (int i = 0; i < LISTS; i++)
        n += snprintf(req + n, sizeof req - (size_t)n, "CLIENT LIST\r\n");
    n += snprintf(req + n, sizeof req - (size_t)n, "EXEC\r\n");
    T_EQ_INT(write(z, "DEBUG SLEEP 0.2\r\n", 17), 17);
    usleep(50000);
    T_EQ_INT(write(p, "SET a 1\r\nDEBUG SLEEP 1\r\n", 24), 24);
    T_EQ_INT(write(q, "DEBUG SLEEP 0.5\r\n", 17), 17);
    usleep(200000);
    T_EQ_INT(write(y, req, (size_t)n), n);
    usleep(150000);
    T_EQ_INT(sp_stop_or_dump(&s), 0);
    for (int i = 0; i < CAND; i++)
        close(cand[i]);
    close(z);
}

int main(void)
{
    T_RUN(server_starts);
    if (!g_srv.pid)
        return T_MAIN_END();
    T_RUN(string_commands_reply_exactly);
    T_RUN(bitpos_replies_exactly);
    T_RUN(proto_max_bulk_len_takes_redis_range);
    T_RUN(save_and_bgsave_write_the_backup);
    T_RUN(errors_are_redis_texts);
    T_RUN(config_set_appendfsync_switches_policy);
    T_RUN(refusals_keep_their_place_behind_writes);
    T_RUN(databases_are_separate);
    T_RUN(info_reports_write_buffer_and_checkpoints);
    T_RUN(pipeline_of_10k_keeps_order_and_reads_own_writes);
    T_RUN(hundred_concurrent_clients_lose_nothing);
    T_RUN(resp3_after_hello_byte_exact);
    T_RUN(protocol_error_replies_then_closes);
    T_RUN(sigterm_exits_zero_and_data_persists);
    T_RUN(sigterm_under_pipelines_exits_zero_and_keeps_every_ack);
    T_RUN(sigterm_during_client_list_round_exits_zero);
    T_RUN(sigterm_before_config_set_port_comes_back_exits_zero);
    T_RUN(sigterm_during_exec_of_many_client_lists_exits_zero);
    t_failed += sp_stop_or_dump(&g_srv);
    return T_MAIN_END();
}
