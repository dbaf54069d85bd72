/* MULTI / EXEC / DISCARD / WATCH / UNWATCH: Redis 7.0's exact replies (RESP2 and RESP3),
 * every change that makes a watched key fail EXEC and the ones that do not, races between
 * clients, atomicity and isolation under 100 concurrent clients. */
#include <pthread.h>
#include <stdatomic.h>

#include "srv_util.h"

T_MAIN_BEGIN;

static srvp g_srv;

static void server_starts(void)
{
    if (getenv("OX_MULTI_PORT")) { /* to check the test itself against a real redis-server */
        g_srv.port = atoi(getenv("OX_MULTI_PORT"));
        g_srv.pid = -1;
        return;
    }
    /* A small write buffer: checkpoints run all through these tests (one every few
     * thousand small writes), under the transactions and their readers. */
    const char *const extra[] = {"--write-buffer-limit", "1mb", NULL};
    if (sp_start_argv(&g_srv, "multi", extra)) {
        sp_dump_log(&g_srv);
        T_FAIL("server did not start");
    }
}

/* Sends EXEC and compares each element of its array with want[0..n). 0 if all match,
 * else -1 after printing the first difference. */
static int exec_expect(redisContext *c, const char *const *want, size_t n)
{
    redisReply *r = redisCommand(c, "EXEC");
    char b[128];
    int rc = r && r->type == REDIS_REPLY_ARRAY && r->elements == n ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (strcmp(sp_show(r->element[i], b, sizeof b), want[i])) {
            fprintf(stderr, "EXEC element %zu is %s, expected %s\n", i, b, want[i]);
            rc = -1;
        }
    }
    freeReplyObject(r);
    return rc;
}

static void transaction_replies_exactly(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, "-ERR EXEC without MULTI", "EXEC");
    T_CMD(c, "-ERR DISCARD without MULTI", "DISCARD");
    T_CMD(c, "+OK", "MULTI");
    T_CMD(c, "-ERR MULTI calls can not be nested", "MULTI");
    T_CMD(c, "-ERR WATCH inside MULTI is not allowed", "WATCH k");
    T_CMD(c, "+QUEUED", "SET k 1");
    T_CMD(c, "+QUEUED", "INCR k");
    T_CMD(c, "+QUEUED", "SET s abc");
    T_CMD(c, "+QUEUED", "INCR s"); /* fails when it runs: the others stay */
    T_CMD(c, "+QUEUED", "GET k");
    T_CMD(c, "+QUEUED", "UNWATCH");
    T_CMD(c, "+QUEUED", "PING");
    const char *want[] = {"+OK", ":2", "+OK", "-ERR value is not an integer or out of range",
                          "$1 2", "+OK", "+PONG"};
    T_ASSERT(exec_expect(c, want, 7) == 0);
    T_CMD(c, "$3 abc", "GET s");
    T_CMD(c, "+OK", "MULTI");
    T_CMD(c, "*0", "EXEC");
    T_CMD(c, "+OK", "MULTI");
    T_CMD(c, "+QUEUED", "SET k gone");
    T_CMD(c, "+OK", "DISCARD");
    T_CMD(c, "$1 2", "GET k");
    T_CMD(c, "-ERR DISCARD without MULTI", "DISCARD");
    redisFree(c);
}

/* Errors found before queueing (unknown command or subcommand, arity, no-multi commands)
 * make EXEC fail with -EXECABORT; nothing of the transaction runs. */
static void queue_time_errors_abort_exec(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    const char *bad[][2] = {
        {"NOSUCH a", "-ERR unknown command 'NOSUCH', with args beginning with: 'a' "},
        {"GET", "-ERR wrong number of arguments for 'get' command"},
        {"CLIENT foo", "-ERR unknown subcommand 'foo'. Try CLIENT HELP."},
        {"CONFIG GET", "-ERR wrong number of arguments for 'config|get' command"},
        {"SAVE", "-ERR Command not allowed inside a transaction"},
        {"SHUTDOWN", "-ERR Command not allowed inside a transaction"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        T_CMD(c, "+OK", "MULTI");
        T_CMD(c, "+QUEUED", "SET x 1");
        T_CMD(c, bad[i][1], bad[i][0]);
        T_CMD(c, "+QUEUED", "SET y 1");
        T_CMD(c, "-EXECABORT Transaction discarded because of previous errors.", "EXEC");
        T_CMD(c, "-ERR EXEC without MULTI", "EXEC");
    }
    T_CMD(c, ":0", "EXISTS x y");
    /* Nested MULTI and WATCH inside MULTI are refused without failing the transaction. */
    T_CMD(c, "+OK", "MULTI");
    T_CMD(c, "-ERR MULTI calls can not be nested", "MULTI");
    T_CMD(c, "-ERR WATCH inside MULTI is not allowed", "WATCH x");
    T_CMD(c, "+QUEUED", "SET x 1");
    T_CMD(c, "*1", "EXEC");
    T_CMD(c, ":1", "EXISTS x");
    redisFree(c);
}

/* SELECT and PING inside an EXEC with writes run in their places: the writes after a
 * SELECT go to its database. */
static void select_inside_exec_moves_later_commands(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, "+OK", "MULTI");
    T_CMD(c, "+QUEUED", "SET where db0");
    T_CMD(c, "+QUEUED", "SELECT 2");
    T_CMD(c, "+QUEUED", "SET where db2");
    T_CMD(c, "+QUEUED", "SELECT 99");
    T_CMD(c, "+QUEUED", "PING");
    T_CMD(c, "+QUEUED", "GET where");
    const char *want[] = {"+OK", "+OK", "+OK", "-ERR DB index is out of range", "+PONG",
                          "$3 db2"};
    T_ASSERT(exec_expect(c, want, 6) == 0);
    T_CMD(c, "$3 db2", "GET where"); /* still in db 2 after EXEC */
    T_CMD(c, "+OK", "SELECT 0");
    T_CMD(c, "$3 db0", "GET where");
    redisFree(c);
}

/* Reads HELLO 3's map off fd (its id varies). 0 if it came. */
static int raw_hello3(int fd)
{
    char buf[512];
    const char *tail = "$7\r\nmodules\r\n*0\r\n";
    if (write(fd, "HELLO 3\r\n", 9) != 9)
        return -1;
    size_t n = 0;
    while (n < sizeof buf - 1) {
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        if (n >= strlen(tail) && strcmp(buf + n - strlen(tail), tail) == 0)
            return 0;
    }
    return -1;
}

static void resp3_and_raw_replies_byte_exact(void)
{
    redisContext *o = sp_connect(&g_srv);
    int fd = sp_raw_connect(&g_srv);
    T_ASSERT(o && fd >= 0);
    T_CMD(o, "+OK", "FLUSHALL");
    T_RAW(fd, "WATCH k\r\n", "+OK\r\n");
    T_CMD(o, "+OK", "SET k 1");
    T_RAW(fd, "MULTI\r\n", "+OK\r\n");
    T_RAW(fd, "GET k\r\n", "+QUEUED\r\n");
    T_RAW(fd, "EXEC\r\n", "*-1\r\n");
    T_ASSERT(raw_hello3(fd) == 0);
    T_RAW(fd, "MULTI\r\n", "+OK\r\n");
    T_RAW(fd, "SET k 2\r\n", "+QUEUED\r\n");
    T_RAW(fd, "GET nokey\r\n", "+QUEUED\r\n");
    T_RAW(fd, "EXEC\r\n", "*2\r\n+OK\r\n_\r\n");
    T_RAW(fd, "WATCH k\r\n", "+OK\r\n");
    T_CMD(o, "+OK", "SET k 3");
    T_RAW(fd, "MULTI\r\n", "+OK\r\n");
    T_RAW(fd, "SET k 4\r\n", "+QUEUED\r\n");
    T_RAW(fd, "EXEC\r\n", "_\r\n");
    T_RAW(fd, "WATCH k\r\n", "+OK\r\n");
    T_CMD(o, "+OK", "SET k 5");
    T_RAW(fd, "MULTI\r\n", "+OK\r\n");
    T_RAW(fd, "GET k\r\n", "+QUEUED\r\n");
    T_RAW(fd, "EXEC\r\n", "_\r\n"); /* read-only: decided on the I/O thread */
    /* A HELLO 2 inside switches the replies after it, as in Redis. */
    T_RAW(fd, "MULTI\r\n", "+OK\r\n");
    T_RAW(fd, "GET nokey\r\n", "+QUEUED\r\n");
    T_RAW(fd, "SET k 6\r\n", "+QUEUED\r\n");
    T_RAW(fd, "*2\r\n$5\r\nHELLO\r\n$1\r\n9\r\n", "+QUEUED\r\n");
    T_RAW(fd, "EXEC\r\n", "*3\r\n_\r\n+OK\r\n-NOPROTO unsupported protocol version\r\n");
    close(fd);
    fd = sp_raw_connect(&g_srv);
    T_ASSERT(fd >= 0);
    /* QUIT inside MULTI answers and closes; RESET leaves MULTI. */
    T_RAW(fd, "MULTI\r\n", "+OK\r\n");
    T_RAW(fd, "SET k 7\r\n", "+QUEUED\r\n");
    T_RAW(fd, "RESET\r\n", "+RESET\r\n");
    T_RAW(fd, "EXEC\r\n", "-ERR EXEC without MULTI\r\n");
    T_RAW(fd, "MULTI\r\n", "+OK\r\n");
    T_RAW(fd, "SET k 8\r\n", "+QUEUED\r\n");
    T_RAW(fd, "QUIT\r\n", "+OK\r\n");
    char c1;
    T_EQ_INT(read(fd, &c1, 1), 0);
    close(fd);
    T_CMD(o, "$1 6", "GET k");
    redisFree(o);
}

/* One case of what another client does between WATCH and EXEC. */
typedef struct touch_case {
    const char *setup;     /* run first ("" for none), ; separated */
    const char *other;     /* the other client's commands, ; separated */
    int aborts;            /* 1: EXEC replies a null array */
} touch_case;

/* Runs commands separated by ';', arguments by ' ' ('' is the empty argument). */
static int run_list(redisContext *c, const char *list)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *cmd = strtok_r(buf, ";", &save); cmd;
         cmd = strtok_r(NULL, ";", &save)) {
        const char *argv[16];
        size_t len[16];
        int argc = 0;
        for (char *s2 = NULL, *a = strtok_r(cmd, " ", &s2); a && argc < 16;
             a = strtok_r(NULL, " ", &s2)) {
            argv[argc] = strcmp(a, "''") ? a : "";
            len[argc] = strlen(argv[argc]);
            argc++;
        }
        redisReply *r = redisCommandArgv(c, argc, argv, len);
        if (!r)
            return -1;
        freeReplyObject(r);
    }
    return 0;
}

/* MULTI, the one command `queued`, EXEC: EXEC's reply as sp_show shows it, into got
 * ("*1" ran, "(nil)" aborted). */
static const char *exec_one(redisContext *c, const char *queued, char *got, size_t cap)
{
    freeReplyObject(redisCommand(c, "MULTI"));
    freeReplyObject(redisCommand(c, queued));
    redisReply *r = redisCommand(c, "EXEC");
    sp_show(r, got, cap);
    freeReplyObject(r);
    return got;
}

/* Which changes of a watched key fail EXEC, each as real Redis 7.0 decides it. */
/* Commands that ask every I/O thread (CLIENT LIST, CLIENT KILL, CONFIG SET port) are
 * queued and run inside EXEC as in Redis, their replies in their places (checked against
 * redis-server 7.0.15: the same bytes); the client goes on afterwards. */
static void exec_runs_commands_that_ask_every_thread(void)
{
    int fd = sp_raw_connect(&g_srv);
    T_ASSERT(fd >= 0);
    T_RAW(fd, "SET a 1\r\n", "+OK\r\n");
    T_RAW(fd, "MULTI\r\n", "+OK\r\n");
    T_RAW(fd, "CLIENT KILL ID 99999\r\n", "+QUEUED\r\n");
    T_RAW(fd, "INCR a\r\n", "+QUEUED\r\n");
    T_RAW(fd, "CLIENT KILL 1.2.3.4:5\r\n", "+QUEUED\r\n");
    T_RAW(fd, "GET a\r\n", "+QUEUED\r\n");
    T_RAW(fd, "CONFIG SET maxclients 1000\r\n", "+QUEUED\r\n");
    T_RAW(fd, "CLIENT KILL ID 99998\r\n", "+QUEUED\r\n");
    T_RAW(fd, "EXEC\r\n", "*6\r\n:0\r\n:2\r\n-ERR No such client\r\n$1\r\n2\r\n+OK\r\n:0\r\n");
    T_RAW(fd, "PING\r\n", "+PONG\r\n");
    /* Without a write, and pipelined with what follows. */
    T_RAW(fd, "MULTI\r\nGET a\r\nCLIENT KILL ID 99999\r\nGET a\r\nEXEC\r\nGET a\r\n",
          "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n$1\r\n2\r\n:0\r\n$1\r\n2\r\n$1\r\n2\r\n");
    close(fd);
    /* CLIENT LIST inside EXEC lists the client as executing (flags=x, multi=2). */
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "MULTI");
    T_CMD(c, "+QUEUED", "CLIENT LIST ID %lld", 0LL);
    T_CMD(c, "+QUEUED", "CLIENT LIST");
    redisReply *r = redisCommand(c, "EXEC");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    int empty = r->element[0]->type == REDIS_REPLY_STRING && r->element[0]->len == 0;
    int listed = r->element[1]->type == REDIS_REPLY_STRING &&
                 strstr(r->element[1]->str, " flags=x ") && strstr(r->element[1]->str, " multi=2 ");
    freeReplyObject(r);
    T_ASSERT(empty);
    T_ASSERT(listed);
    redisFree(c);
}

static void watched_key_changes_abort_exec_exactly(void)
{
    static const touch_case cases[] = {
        {"SET k 1", "SET k 1", 1},            /* same value is still a change */
        {"SET k 1", "SET other 1", 0},
        {"SET k 1", "SETNX k 2", 0},          /* changed nothing */
        {"", "SETNX k 2", 1},
        {"SET k 1", "SET k 2 NX", 0},
        {"SET k 1", "SET k 2 XX", 1},
        {"", "DEL k", 0},                     /* deleting nothing */
        {"SET k 1", "DEL k", 1},
        {"SET k 1", "UNLINK k", 1},
        {"SET k 1", "GETDEL k", 1},
        {"SET k 1", "INCR k", 1},
        {"SET k 1", "INCRBYFLOAT k 1.5", 1},
        {"SET k 1", "APPEND k x", 1},
        {"SET k 1", "APPEND k ''", 1},
        {"SET k 1", "SETRANGE k 0 ''", 0},
        {"SET k 1", "SETRANGE k 0 x", 1},
        {"SET k 1", "SETBIT k 0 0", 0},       /* the bit was 0 already */
        {"SET k 1", "SETBIT k 0 1", 1},
        {"SET k 1", "SETBIT k 100 0", 1},     /* grows the string */
        {"", "SETBIT k 0 0", 1},              /* creates the key */
        {"SET k 1", "GETEX k", 0},
        {"SET k 1", "GETEX k PERSIST", 0},    /* no TTL to remove */
        {"SET k 1 EX 100", "GETEX k PERSIST", 1},
        {"SET k 1", "GETEX k EX 100", 1},
        {"SET k 1", "MSET a 1 k 2", 1},
        {"SET k 1", "MSETNX k 2 b 3", 0},
        {"SET k 1", "RENAME k j", 1},
        {"SET j 1", "RENAME j k", 1},
        {"SET k 1", "MOVE k 1", 1},
        {"SELECT 1;SET k 1;SELECT 0", "MOVE k 1", 0}, /* MOVE found no key in db 0 */
        {"SET j 1", "COPY j k", 1},
        {"SET j 1", "COPY j k DB 1", 0},      /* db 1's k is not the watched one */
        {"SET k 1", "FLUSHDB", 1},
        {"", "FLUSHDB", 0},                   /* the watched key did not exist */
        {"SET k 1", "FLUSHALL", 1},
        {"SET k 1", "SELECT 1;FLUSHDB", 0},
        {"", "SELECT 1;SET k 1;SWAPDB 0 1", 1}, /* a k comes in */
        {"", "SELECT 1;SET j 1;SWAPDB 0 1", 0},
        {"SET k 1", "SWAPDB 0 2", 1},         /* k goes away */
        {"SET k 1", "SWAPDB 1 2", 0},
        {"", "SELECT 1;SET k 1", 0},          /* another database's k */
        {"SET k 1", "MULTI;INCR k;EXEC", 1},
        {"SET k 1", "MULTI;INCR k;DISCARD", 0},
        {"HSET k f 1", "HSET k f 1", 1},      /* a field's value, the same: a change */
        {"HSET k f 1", "HMSET k f 1", 1},
        {"HSET k f 1", "HINCRBY k f 0", 1},
        {"HSET k f 1", "HINCRBYFLOAT k f 0", 1},
        {"HSET k f 1", "HSETNX k f 2", 0},
        {"RPUSH k a", "LSET k 0 a", 1},
        {"SADD k a", "SADD k a", 0},          /* no member added */
        {"ZADD k 1 a", "ZADD k 1 a", 0},      /* no score changed */
    };
    redisContext *a = sp_connect(&g_srv), *o = sp_connect(&g_srv);
    T_ASSERT(a && o);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const touch_case *tc = &cases[i];
        T_CMD(a, "+OK", "FLUSHALL");
        T_ASSERT(run_list(a, tc->setup) == 0);
        T_CMD(a, "+OK", "WATCH k");
        T_ASSERT(run_list(o, tc->other) == 0);
        T_CMD(o, "+OK", "SELECT 0");
        char b[128];
        if (strcmp(exec_one(a, "SET done 1", b, sizeof b), tc->aborts ? "(nil)" : "*1"))
            T_FAIL("case %zu (%s / %s): EXEC replied %s", i, tc->setup, tc->other, b);
    }
    /* A client's own write between WATCH and MULTI counts too; UNWATCH, DISCARD and RESET
     * forget the keys. */
    T_CMD(a, "+OK", "WATCH k");
    T_CMD(a, "+OK", "SET k mine");
    T_CMD(a, "+OK", "MULTI");
    T_CMD(a, "(nil)", "EXEC");
    const char *forget[] = {"UNWATCH", "MULTI;DISCARD", "RESET"};
    for (size_t i = 0; i < 3; i++) {
        T_CMD(a, "+OK", "WATCH k");
        T_CMD(o, "+OK", "SET k theirs");
        T_ASSERT(run_list(a, forget[i]) == 0);
        T_CMD(a, "+OK", "MULTI");
        T_CMD(a, "*0", "EXEC");
    }
    redisFree(a);
    redisFree(o);
}

/* Polls with a deadline until key is gone for another client. 0 when it is. */
static int wait_gone(redisContext *c, const char *key)
{
    uint64_t deadline = t_now_ms() + 10000;
    while (t_now_ms() < deadline) {
        redisReply *r = redisCommand(c, "EXISTS %s", key);
        long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
        freeReplyObject(r);
        if (n == 0)
            return 0;
        usleep(5000); /* a poll interval: the loop checks the state */
    }
    return -1;
}

/* Redis 7.0: a watched key that expires before EXEC fails it, for reads and writes; a key
 * already expired when watched does not. */
static void expired_watched_key_aborts_exec(void)
{
    redisContext *a = sp_connect(&g_srv), *o = sp_connect(&g_srv);
    T_ASSERT(a && o);
    for (int with_write = 0; with_write < 2; with_write++) {
        T_CMD(a, "+OK", "FLUSHALL");
        T_CMD(a, "+OK", "SET k 1 PX 150");
        T_CMD(a, "+OK", "WATCH k");
        T_ASSERT(wait_gone(o, "k") == 0);
        T_CMD(a, "+OK", "MULTI");
        if (with_write)
            T_CMD(a, "+QUEUED", "SET x 1");
        else
            T_CMD(a, "+QUEUED", "GET x");
        T_CMD(a, "(nil)", "EXEC");
    }
    T_CMD(a, "+OK", "SET k 1 PX 50");
    T_ASSERT(wait_gone(o, "k") == 0);
    T_CMD(a, "+OK", "WATCH k");
    T_CMD(a, "+OK", "MULTI");
    T_CMD(a, "+QUEUED", "SET x 1");
    T_CMD(a, "*1", "EXEC");
    /* A key with a TTL far away stays watchable. */
    T_CMD(a, "+OK", "SET k 1 EX 1000");
    T_CMD(a, "+OK", "WATCH k");
    T_CMD(a, "+OK", "MULTI");
    T_CMD(a, "+QUEUED", "GET k");
    T_CMD(a, "*1", "EXEC");
    redisFree(a);
    redisFree(o);
}

/* Two clients, many rounds: A WATCHes and reads, B writes or not, A's EXEC is null
 * exactly when B wrote, for reading and writing transactions. */
static void watch_race_between_two_clients(void)
{
    redisContext *a = sp_connect(&g_srv), *b = sp_connect(&g_srv);
    T_ASSERT(a && b);
    T_CMD(a, "+OK", "FLUSHALL");
    int nulls = 0, oks = 0;
    for (int i = 0; i < 400; i++) {
        int other_writes = i % 2, writes = (i / 2) % 2;
        T_CMD(a, "+OK", "WATCH race");
        redisReply *r = redisCommand(a, "GET race");
        freeReplyObject(r);
        if (other_writes)
            T_CMD(b, "+OK", "SET race b%d", i);
        T_CMD(a, "+OK", "MULTI");
        T_CMD(a, "+QUEUED", writes ? "SET race a" : "GET race");
        r = redisCommand(a, "EXEC");
        T_ASSERT(r);
        int is_null = r->type == REDIS_REPLY_NIL;
        freeReplyObject(r);
        if (is_null != other_writes)
            T_FAIL("round %d: EXEC %s although B %s", i, is_null ? "aborted" : "ran",
                   other_writes ? "wrote" : "did not write");
        nulls += is_null;
        oks += !is_null;
    }
    T_EQ_INT(nulls, 200);
    T_EQ_INT(oks, 200);
    redisFree(a);
    redisFree(b);
}

/* ---- 100 concurrent clients --------------------------------------------------------- */

enum { NCLIENTS = 100, CAS_KEYS = 10, CAS_INCRS = 10, MULTI_INCRS = 20 };

struct worker {
    int id, errors;
    long retries;
};

static void *cas_main(void *arg)
{
    struct worker *w = arg;
    redisContext *c = sp_connect(&g_srv);
    if (!c) {
        w->errors++;
        return NULL;
    }
    int key = w->id % CAS_KEYS;
    for (int done = 0; done < CAS_INCRS && !w->errors;) {
        redisReply *r = redisCommand(c, "WATCH cas:%d", key);
        freeReplyObject(r);
        r = redisCommand(c, "GET cas:%d", key);
        long long v = r && r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
        freeReplyObject(r);
        r = redisCommand(c, "MULTI");
        freeReplyObject(r);
        r = redisCommand(c, "SET cas:%d %lld", key, v + 1);
        freeReplyObject(r);
        r = redisCommand(c, "EXEC");
        if (!r || (r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_ARRAY))
            w->errors++;
        else if (r->type == REDIS_REPLY_ARRAY)
            done++;
        else
            w->retries++;
        freeReplyObject(r);
    }
    for (int i = 0; i < MULTI_INCRS; i++) {
        redisAppendCommand(c, "MULTI");
        redisAppendCommand(c, "INCR pair:a");
        redisAppendCommand(c, "INCR pair:b");
        redisAppendCommand(c, "EXEC");
        for (int k = 0; k < 4; k++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                w->errors++;
                break;
            }
            if (k == 3 && (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                           r->element[0]->integer != r->element[1]->integer))
                w->errors++; /* no other client's INCR came in between */
            freeReplyObject(r);
        }
    }
    redisFree(c);
    return NULL;
}

static void hundred_clients_count_exactly_with_watch_and_multi(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    pthread_t th[NCLIENTS];
    struct worker w[NCLIENTS];
    for (int i = 0; i < NCLIENTS; i++) {
        w[i] = (struct worker){.id = i};
        pthread_create(&th[i], NULL, cas_main, &w[i]);
    }
    int errors = 0;
    long retries = 0;
    for (int i = 0; i < NCLIENTS; i++) {
        pthread_join(th[i], NULL);
        errors += w[i].errors;
        retries += w[i].retries;
    }
    T_EQ_INT(errors, 0);
    for (int k = 0; k < CAS_KEYS; k++) {
        char want[32];
        snprintf(want, sizeof want, "$3 %d", NCLIENTS / CAS_KEYS * CAS_INCRS);
        T_CMD(c, want, "GET cas:%d", k);
    }
    char want[32];
    snprintf(want, sizeof want, "$4 %d", NCLIENTS * MULTI_INCRS);
    T_CMD(c, want, "GET pair:a");
    T_CMD(c, want, "GET pair:b");
    printf("%d WATCH/MULTI increments exact after %ld retries; %d MULTI pairs exact\n",
           NCLIENTS * CAS_INCRS, retries, NCLIENTS * MULTI_INCRS);
    redisFree(c);
}

/* ---- a batch's writes are seen all together or not at all --------------------------- */

/* Each round writes round number r (padded to VIS_VLEN bytes) to vis:00..vis:NN-1, by
 * MULTI/EXEC or by one MSET in turn; readers must see the NN values equal and rounds
 * never going back, while checkpoints (1mb buffer: one every few dozen rounds) move the
 * rounds from the write buffer to LMDB. */
enum { PAIR_ROUNDS = 1200, READERS = 4, VIS_KEYS = 16, VIS_VLEN = 200 };

static atomic_int g_writing;

struct vis_reader {
    long reads, torn, back; /* replies, torn ones, rounds that went back */
};

/* The round a reply's NN values agree on (-1 all absent, -2 torn or a wrong reply). */
static int vis_round(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != VIS_KEYS)
        return -2;
    const redisReply *e0 = r->element[0];
    for (size_t i = 0; i < VIS_KEYS; i++) {
        const redisReply *e = r->element[i];
        if (e->type != e0->type || (e->type == REDIS_REPLY_STRING &&
                                    (e->len != VIS_VLEN || memcmp(e->str, e0->str, e->len))))
            return -2;
    }
    return e0->type == REDIS_REPLY_NIL ? -1 : e0->type == REDIS_REPLY_STRING ? atoi(e0->str) : -2;
}

/* MGET of the NN keys: the round they agree on, as vis_round. */
static int vis_mget(redisContext *c)
{
    const char *argv[1 + VIS_KEYS];
    char keys[VIS_KEYS][16];
    argv[0] = "MGET";
    for (int i = 0; i < VIS_KEYS; i++) {
        snprintf(keys[i], sizeof keys[i], "vis:%02d", i);
        argv[1 + i] = keys[i];
    }
    redisReply *r = redisCommandArgv(c, 1 + VIS_KEYS, argv, NULL);
    int round = vis_round(r);
    freeReplyObject(r);
    return round;
}

static void *pair_reader(void *arg)
{
    struct vis_reader *v = arg;
    redisContext *c = sp_connect(&g_srv);
    int last = -1;
    if (!c) {
        v->torn++;
        return NULL;
    }
    for (int n = 0; atomic_load(&g_writing) || n < 10; n++) {
        /* Alternately a plain MGET and a read-only transaction (one snapshot). */
        int round;
        if (n % 2) {
            round = vis_mget(c);
        } else {
            freeReplyObject(redisCommand(c, "MULTI"));
            for (int i = 0; i < VIS_KEYS; i++)
                freeReplyObject(redisCommand(c, "GET vis:%02d", i));
            redisReply *r = redisCommand(c, "EXEC");
            round = vis_round(r);
            freeReplyObject(r);
        }
        v->reads++;
        if (round == -2)
            v->torn++;
        else if (round < last)
            v->back++;
        else
            last = round;
    }
    redisFree(c);
    return NULL;
}

/* Round r's writes, pipelined: MULTI, NN SETs, EXEC (even rounds) or one MSET (odd).
 * Returns the replies it reads back. */
static int vis_write(redisContext *c, int r)
{
    char val[VIS_VLEN + 1];
    snprintf(val, sizeof val, "%-*d", VIS_VLEN, r); /* atoi reads the round back */
    const char *argv[1 + 2 * VIS_KEYS];
    char keys[VIS_KEYS][16];
    argv[0] = "MSET";
    for (int i = 0; i < VIS_KEYS; i++) {
        snprintf(keys[i], sizeof keys[i], "vis:%02d", i);
        argv[1 + 2 * i] = keys[i];
        argv[2 + 2 * i] = val;
    }
    int replies = r % 2 ? 1 : VIS_KEYS + 2;
    if (r % 2) {
        redisAppendCommandArgv(c, 1 + 2 * VIS_KEYS, argv, NULL);
    } else {
        redisAppendCommand(c, "MULTI");
        for (int i = 0; i < VIS_KEYS; i++)
            redisAppendCommand(c, "SET %s %s", keys[i], val);
        redisAppendCommand(c, "EXEC");
    }
    int ok = 0;
    for (int k = 0; k < replies; k++) {
        redisReply *rep;
        if (redisGetReply(c, (void **)&rep) != REDIS_OK)
            return ok;
        ok += rep->type != REDIS_REPLY_ERROR && rep->type != REDIS_REPLY_NIL;
        freeReplyObject(rep);
    }
    return ok;
}

static void batch_writes_are_visible_whole_across_checkpoints(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    uint64_t ckpt0 = sp_checkpoints(&g_srv);
    atomic_store(&g_writing, 1);
    pthread_t th[READERS];
    struct vis_reader v[READERS] = {{0}};
    for (int i = 0; i < READERS; i++)
        pthread_create(&th[i], NULL, pair_reader, &v[i]);
    int bad_replies = 0;
    for (int r = 0; r < PAIR_ROUNDS; r++)
        bad_replies += vis_write(c, r) != (r % 2 ? 1 : VIS_KEYS + 2);
    atomic_store(&g_writing, 0);
    long torn = 0, back = 0, reads = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        torn += v[i].torn;
        back += v[i].back;
        reads += v[i].reads;
    }
    uint64_t checkpoints = sp_checkpoints(&g_srv) - ckpt0;
    printf("%d batches of %d keys, %ld reads beside them, %llu checkpoints\n", PAIR_ROUNDS,
           VIS_KEYS, reads, (unsigned long long)checkpoints);
    T_EQ_INT(bad_replies, 0);
    T_EQ_INT(torn, 0);
    T_EQ_INT(back, 0);
    /* 1200 rounds of 16 x 200 bytes are 3.8 MB of values: a checkpoint each 512 KB of
     * buffer makes several (the buffer's overhead only adds to them). */
    T_ASSERT(checkpoints >= 5);
    T_EQ_INT(vis_mget(c), PAIR_ROUNDS - 1);
    redisFree(c);
}

/* ---- WATCH across a checkpoint ---------------------------------------------------------- */

/* A's EXEC after WATCH k, while B writes (or not) and a checkpoint moves everything
 * written so far from the write buffer into LMDB (the watched key's own versions too):
 * the checkpoint alone never aborts it; a change of k before the checkpoint always does. */
static void watch_across_a_checkpoint_aborts_exactly_when_the_key_changed(void)
{
    static const struct wcase {
        const char *setup, *other; /* as touch_case's */
        int aborts;
        const char *after;         /* GET wk:k after the EXEC */
    } cases[] = {
        {"SET wk:k 1", "", 0, "$1 a"},            /* k's version moves from buffer to LMDB */
        {"DEL wk:k", "", 0, "$1 a"},              /* k absent throughout */
        {"SET wk:k 1", "SET wk:other 1", 0, "$1 a"},
        {"SET wk:k 1", "SET wk:k 2", 1, "$1 2"},
        {"SET wk:k 1", "SET wk:k 1", 1, "$1 1"},  /* the same value is still a change */
        {"SET wk:k 1", "DEL wk:k", 1, "(nil)"},
        {"DEL wk:k", "SET wk:k 2", 1, "$1 2"},
    };
    redisContext *a = sp_connect(&g_srv), *b = sp_connect(&g_srv);
    T_ASSERT(a && b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct wcase *tc = &cases[i];
        uint64_t ckpt0 = sp_checkpoints(&g_srv);
        T_EQ_INT(run_list(a, tc->setup), 0);
        T_CMD(a, "+OK", "WATCH wk:k");
        T_EQ_INT(run_list(b, tc->other), 0);
        if (sp_force_checkpoint(b, &g_srv))
            T_FAIL("case %zu: no checkpoint came", i);
        char got[64];
        if (strcmp(exec_one(a, "SET wk:k a", got, sizeof got), tc->aborts ? "(nil)" : "*1"))
            T_FAIL("case %zu (%s, then %s, then a checkpoint): EXEC replied %s", i, tc->setup,
                   tc->other[0] ? tc->other : "nothing", got);
        /* Two at least: the first may have been under way already. */
        T_ASSERT(sp_checkpoints(&g_srv) >= ckpt0 + 2);
        T_CMD(b, tc->after, "GET wk:k");
    }
    redisFree(a);
    redisFree(b);
}

/* Commandstats count EXEC and the commands it ran; CLIENT LIST shows MULTI's state. */
static void client_list_shows_multi_state(void)
{
    redisContext *a = sp_connect(&g_srv), *o = sp_connect(&g_srv);
    T_ASSERT(a && o);
    T_CMD(a, "+OK", "CLIENT SETNAME inmulti");
    T_CMD(a, "+OK", "MULTI");
    T_CMD(a, "+QUEUED", "SET x 1");
    T_CMD(a, "+QUEUED", "GET x");
    redisReply *r = redisCommand(o, "CLIENT LIST");
    T_ASSERT(r && r->type == REDIS_REPLY_STRING);
    const char *line = strstr(r->str, "name=inmulti");
    int ok = line && strstr(line, "flags=x ") && strstr(line, "multi=2 ") &&
             strstr(line, "cmd=get ");
    freeReplyObject(r);
    T_ASSERT(ok);
    T_CMD(a, "*2", "EXEC");
    r = redisCommand(o, "CLIENT LIST");
    T_ASSERT(r && r->type == REDIS_REPLY_STRING);
    line = strstr(r->str, "name=inmulti");
    ok = line && strstr(line, "flags=N ") && strstr(line, "multi=-1 ");
    freeReplyObject(r);
    T_ASSERT(ok);
    redisFree(a);
    redisFree(o);
}

int main(void)
{
    T_RUN(server_starts);
    if (!g_srv.pid)
        return T_MAIN_END();
    T_RUN(transaction_replies_exactly);
    T_RUN(queue_time_errors_abort_exec);
    T_RUN(select_inside_exec_moves_later_commands);
    T_RUN(resp3_and_raw_replies_byte_exact);
    T_RUN(exec_runs_commands_that_ask_every_thread);
    T_RUN(watched_key_changes_abort_exec_exactly);
    T_RUN(expired_watched_key_aborts_exec);
    T_RUN(watch_race_between_two_clients);
    T_RUN(hundred_clients_count_exactly_with_watch_and_multi);
    T_RUN(batch_writes_are_visible_whole_across_checkpoints);
    T_RUN(watch_across_a_checkpoint_aborts_exactly_when_the_key_changed);
    T_RUN(client_list_shows_multi_state);
    if (g_srv.pid > 0)
        t_failed += sp_stop_or_dump(&g_srv);
    return T_MAIN_END();
}
