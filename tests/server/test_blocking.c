/* Blocking pops (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP): served
 * first blocked first served, per key, by a later push, in the same commit; timeouts
 * with sub-second precision; inside MULTI they do not block; a blocked client's
 * pipelined commands wait behind it; a client that goes away while blocked loses
 * nothing; CLIENT UNBLOCK; blocked clients on every I/O thread; BLMOVE under kill -9. */
#include <sys/socket.h>

#include "srv_util.h"

T_MAIN_BEGIN;

static srvp g_srv;

static void server_starts(void)
{
    const char *extra[] = {"--io-threads", "3", NULL};
    if (sp_start_argv(&g_srv, "blocking", extra)) {
        sp_dump_log(&g_srv);
        T_FAIL("server did not start");
    }
}

static int blocked_clients(redisContext *c)
{
    char v[32];
    return atoi(sp_info_field(c, "clients", "blocked_clients", v, sizeof v));
}

/* Polls INFO until n clients are blocked (10 s deadline). */
static int wait_blocked(redisContext *c, int n)
{
    uint64_t deadline = t_now_ms() + 10000;
    while (blocked_clients(c) != n && t_now_ms() < deadline)
        usleep(1000);
    return blocked_clients(c) == n;
}

/* Sends a raw request on fd without waiting for its reply. */
static void send_raw(int fd, const char *req)
{
    T_ASSERT(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
}

static void errors_and_non_blocking_forms_reply_as_redis(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, "-ERR timeout is negative", "BLPOP k -1");
    T_CMD(c, "-ERR timeout is not a float or out of range", "BLPOP k x");
    T_CMD(c, "-ERR timeout is not a float or out of range", "BZPOPMIN k x");
    T_CMD(c, "-ERR syntax error", "BLMOVE a b up left 0");
    T_CMD(c, "-ERR numkeys should be greater than 0", "BLMPOP 0 0 k LEFT");
    T_CMD(c, "-ERR count should be greater than 0", "BZMPOP 0 1 k MIN COUNT 0");
    /* BLMPOP and BZMPOP check their keys and options before their timeout, as Redis */
    T_CMD(c, "-ERR numkeys should be greater than 0", "BLMPOP -1 0 k LEFT");
    T_CMD(c, "-ERR count should be greater than 0", "BLMPOP -1 1 k LEFT COUNT 0");
    T_CMD(c, "-ERR syntax error", "BZMPOP x 1 k FOO");
    T_CMD(c, "-ERR syntax error", "BZMPOP -1 1 k MIN COUNT 1 x");
    T_CMD(c, "-ERR wrong number of arguments for 'blpop' command", "BLPOP k");
    /* Redis 7.0 truncates timeout * 1000 to a long long: what falls outside (inf, 1e400,
     * beyond 2^63 ms) comes out negative, and a fraction of a ms above -1 is 0 (for ever) */
    T_CMD(c, "-ERR timeout is negative", "BLPOP k inf");
    T_CMD(c, "-ERR timeout is negative", "BLPOP k -inf");
    T_CMD(c, "-ERR timeout is negative", "BLPOP k 1e400");
    T_CMD(c, "-ERR timeout is negative", "BZPOPMIN k 9223372036854776");
    T_CMD(c, "-ERR timeout is negative", "BLMOVE a b LEFT LEFT -0.0011");
    T_CMD(c, "-ERR timeout is not a float or out of range", "BLPOP k nan");
    T_CMD(c, ":1", "RPUSH k0 a");
    T_DEEP(c, "*2 [$2 k0, $1 a]", "BLPOP k0 -0.0001");
    T_CMD(c, ":2", "RPUSH k a b");
    T_DEEP(c, "*2 [$1 k, $1 a]", "BLPOP nokey k 0");
    T_DEEP(c, "*2 [$1 k, $1 b]", "BRPOP k 0.1");
    T_CMD(c, ":2", "ZADD z 1 a 2 b");
    T_DEEP(c, "*3 [$1 z, $1 b, $1 2]", "BZPOPMAX z 0");
    T_DEEP(c, "*2 [$1 z, *1 [*2 [$1 a, $1 1]]]", "BZMPOP 0 1 z MIN");
    T_CMD(c, ":1", "RPUSH m x");
    T_DEEP(c, "*2 [$1 m, *1 [$1 x]]", "BLMPOP 0 2 nokey m LEFT COUNT 3");
    T_CMD(c, "+OK", "SET str v");
    T_CMD(c, "-WRONGTYPE Operation against a key holding the wrong kind of value",
          "BLPOP str 0");
    /* Timeouts: a null array (BLPOP...) or a null string (BLMOVE), after the time. */
    uint64_t t0 = t_now_ms();
    T_CMD(c, "(nil)", "BLPOP nokey 0.2");
    uint64_t took = t_now_ms() - t0;
    if (took < 190 || took > 5000)
        T_FAIL("BLPOP 0.2 took %llu ms", (unsigned long long)took);
    T_CMD(c, "(nil)", "BLMOVE nokey dst LEFT LEFT 0.05");
    T_CMD(c, "(nil)", "BZPOPMIN nokey 0.05");
    /* under a millisecond is rounded up, as Redis does: it times out, it does not wait for
     * ever as 0 would */
    T_CMD(c, "(nil)", "BLPOP nokey 0.0005");
    T_CMD(c, "(nil)", "BZMPOP 1e-9 1 nokey MIN");
    T_CMD(c, "(nil)", "BLMOVE nokey dst LEFT LEFT 0.001");
    int fd = sp_raw_connect(&g_srv);
    T_ASSERT(fd >= 0);
    T_RAW(fd, "BLPOP nokey 0.01\r\n", "*-1\r\n");
    /* Redis answers every timed out wait a null array, BLMOVE's too */
    T_RAW(fd, "BLMOVE nokey d LEFT LEFT 0.01\r\n", "*-1\r\n");
    T_RAW(fd, "BRPOPLPUSH nokey d 0.01\r\n", "*-1\r\n");
    /* Inside MULTI they answer at once, as their non-blocking forms. */
    T_RAW(fd, "MULTI\r\nBLPOP none 0\r\nBZPOPMIN none 0\r\nBLMOVE none x LEFT LEFT 0\r\nEXEC\r\n",
          "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n*-1\r\n*-1\r\n$-1\r\n");
    close(fd);
    T_EQ_INT(blocked_clients(c), 0);
    redisFree(c);
}

/* Five clients block on one key (over three I/O threads), one also on another key: the
 * pushes serve them first come, first served, each element once, with a pipelined
 * command of the first answered after its pop. */
static void pushes_serve_blocked_clients_in_order(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    int fd[5];
    for (int i = 0; i < 5; i++) {
        fd[i] = sp_raw_connect(&g_srv);
        T_ASSERT(fd[i] >= 0);
        send_raw(fd[i], i == 0 ? "BLPOP q 0\r\nPING\r\n" : i == 4 ? "BRPOP other q 0\r\n"
                                                                    : "BLPOP q 0\r\n");
        T_ASSERT(wait_blocked(c, i + 1));
    }
    T_CMD(c, ":3", "RPUSH q e0 e1 e2");
    T_RAW(fd[0], "", "*2\r\n$1\r\nq\r\n$2\r\ne0\r\n+PONG\r\n");
    T_RAW(fd[1], "", "*2\r\n$1\r\nq\r\n$2\r\ne1\r\n");
    T_RAW(fd[2], "", "*2\r\n$1\r\nq\r\n$2\r\ne2\r\n");
    T_ASSERT(wait_blocked(c, 2));
    T_CMD(c, ":0", "EXISTS q");
    T_CMD(c, ":1", "LPUSH other o");
    T_RAW(fd[4], "", "*2\r\n$5\r\nother\r\n$1\r\no\r\n");
    T_CMD(c, ":1", "RPUSH q last");
    T_RAW(fd[3], "", "*2\r\n$1\r\nq\r\n$4\r\nlast\r\n");
    T_ASSERT(wait_blocked(c, 0));
    /* A push inside EXEC serves at EXEC; BZPOPMIN by ZADD; BLMOVE's push serves the
     * next in line on its destination. */
    send_raw(fd[0], "BZPOPMIN zq 0\r\n");
    send_raw(fd[1], "BLMOVE src mid RIGHT LEFT 0\r\n");
    T_ASSERT(wait_blocked(c, 2));
    send_raw(fd[2], "BLPOP mid 0\r\n");
    T_ASSERT(wait_blocked(c, 3));
    T_CMD(c, "+OK", "MULTI");
    T_CMD(c, "+QUEUED", "ZADD zq 5 m");
    T_CMD(c, "+QUEUED", "RPUSH src s1");
    redisReply *r = redisCommand(c, "EXEC");
    freeReplyObject(r);
    T_RAW(fd[0], "", "*3\r\n$2\r\nzq\r\n$1\r\nm\r\n$1\r\n5\r\n");
    T_RAW(fd[1], "", "$2\r\ns1\r\n");
    T_RAW(fd[2], "", "*2\r\n$3\r\nmid\r\n$2\r\ns1\r\n");
    T_ASSERT(wait_blocked(c, 0));
    T_CMD(c, ":0", "EXISTS src");
    T_CMD(c, ":0", "EXISTS mid");
    /* SWAPDB brings a list into the blocked client's database: served, as in Redis. */
    send_raw(fd[3], "SELECT 1\r\nBLPOP sw 0\r\n");
    T_ASSERT(wait_blocked(c, 1));
    T_CMD(c, ":1", "RPUSH sw x");
    T_CMD(c, "+OK", "SWAPDB 0 1");
    T_RAW(fd[3], "", "+OK\r\n*2\r\n$2\r\nsw\r\n$1\r\nx\r\n");
    T_CMD(c, "+OK", "SWAPDB 0 1");
    for (int i = 0; i < 5; i++)
        close(fd[i]);
    redisFree(c);
}

/* A woken client pops from the key that woke it, as Redis 7.0 serves it: not from
 * another of its keys that got elements later in the same EXEC, nor a WRONGTYPE from
 * another key turned string; and a woken key that is no longer a list (or sorted set)
 * when served leaves it blocked, without a reply. */
static void a_woken_client_pops_from_the_key_that_woke_it(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    int fd = sp_raw_connect(&g_srv);
    T_ASSERT(fd >= 0);
    send_raw(fd, "BLPOP a b 0\r\n");
    T_ASSERT(wait_blocked(c, 1));
    T_CMD(c, "+OK", "MULTI");
    T_CMD(c, "+QUEUED", "RPUSH b x");
    T_CMD(c, "+QUEUED", "RPUSH a y");
    T_DEEP(c, "*2 [:1, :1]", "EXEC");
    T_RAW(fd, "", "*2\r\n$1\r\nb\r\n$1\r\nx\r\n");
    T_CMD(c, "+OK", "FLUSHALL");
    send_raw(fd, "BZPOPMIN a b 0\r\n");
    T_ASSERT(wait_blocked(c, 1));
    T_CMD(c, "+OK", "SET a str");
    T_CMD(c, ":1", "ZADD b 1 m");
    T_RAW(fd, "", "*3\r\n$1\r\nb\r\n$1\r\nm\r\n$1\r\n1\r\n");
    T_CMD(c, ":1", "DEL a");
    send_raw(fd, "BLMPOP 0 2 a b LEFT\r\n");
    T_ASSERT(wait_blocked(c, 1));
    T_CMD(c, "+OK", "SET a str");
    T_CMD(c, ":1", "RPUSH b x");
    T_RAW(fd, "", "*2\r\n$1\r\nb\r\n*1\r\n$1\r\nx\r\n");
    for (int z = 0; z < 2; z++) {
        send_raw(fd, z ? "BZPOPMAX q 0\r\n" : "BLMOVE q d LEFT LEFT 0\r\n");
        T_ASSERT(wait_blocked(c, 1));
        T_CMD(c, "+OK", "MULTI");
        T_CMD(c, "+QUEUED", z ? "ZADD q 1 m" : "RPUSH q x");
        T_CMD(c, "+QUEUED", "SET q str");
        T_DEEP(c, "*2 [:1, +OK]", "EXEC");
        T_EQ_INT(blocked_clients(c), 1);
        T_CMD(c, ":1", "DEL q");
        T_CMD(c, ":1", z ? "ZADD q 2 n" : "RPUSH q y");
        if (z)
            T_RAW(fd, "", "*3\r\n$1\r\nq\r\n$1\r\nn\r\n$1\r\n2\r\n");
        else
            T_RAW(fd, "", "$1\r\ny\r\n");
    }
    T_EQ_INT(blocked_clients(c), 0);
    close(fd);
    redisFree(c);
}

/* A client's replies leave in the order of its commands when a push wakes it: the
 * commands it sent after the blocked one, waiting behind it or arriving in the batch that
 * woke it, run after it (GET sees x before the SET that followed it) and answer after it.
 * A SUNIONSTORE of a large set keeps the writer busy meanwhile, so the push and the SET
 * queue up into one batch (five rounds: a round whose SET reaches the writer before the
 * push proves nothing, that SET waits behind the blocked command anyway). */
static void replies_keep_their_order_after_a_wake(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    enum { CHUNKS = 50, PER = 1000 };
    static char names[PER][16];
    const char *argv[PER + 2] = {"SADD", "big"};
    for (int i = 0; i < CHUNKS; i++) {
        for (int k = 0; k < PER; k++) {
            snprintf(names[k], sizeof names[k], "m%d_%d", i, k);
            argv[k + 2] = names[k];
        }
        redisReply *r = redisCommandArgv(c, PER + 2, argv, NULL);
        T_ASSERT(r && r->type == REDIS_REPLY_INTEGER && r->integer == PER);
        freeReplyObject(r);
    }
    for (int round = 0; round < 5; round++) {
        T_CMD(c, "+OK", "SET x 1");
        int fd[3];
        for (int i = 0; i < 3; i++)
            T_ASSERT((fd[i] = sp_raw_connect(&g_srv)) >= 0);
        send_raw(fd[0], "BLPOP q 0\r\nGET x\r\n");
        T_ASSERT(wait_blocked(c, 1));
        send_raw(fd[2], "SUNIONSTORE tmp big\r\n");
        send_raw(fd[1], "RPUSH q a\r\n");
        send_raw(fd[0], "SET x 2\r\n");
        T_RAW(fd[0], "", "*2\r\n$1\r\nq\r\n$1\r\na\r\n$1\r\n1\r\n+OK\r\n");
        T_RAW(fd[1], "", ":1\r\n");
        T_RAW(fd[2], "", ":50000\r\n");
        for (int i = 0; i < 3; i++)
            close(fd[i]);
    }
    redisFree(c);
}

/* A blocked client that disconnects is released; a later push is not popped for it. */
static void a_client_gone_while_blocked_loses_nothing(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    for (int round = 0; round < 20; round++) {
        int fd = sp_raw_connect(&g_srv);
        T_ASSERT(fd >= 0);
        send_raw(fd, round % 2 ? "BLMOVE gone kept LEFT LEFT 0\r\n" : "BLPOP gone 0\r\n");
        T_ASSERT(wait_blocked(c, 1));
        close(fd);
        T_ASSERT(wait_blocked(c, 0));
        T_CMD(c, ":1", "RPUSH gone e");
        T_CMD(c, ":1", "LLEN gone");
        T_CMD(c, "$1 e", "LPOP gone");
    }
    T_CMD(c, ":0", "EXISTS kept");
    redisFree(c);
}

/* CLIENT UNBLOCK ends a wait with a null reply or Redis's error, and the client's next
 * command runs. */
static void client_unblock_ends_a_wait(void)
{
    redisContext *c = sp_connect(&g_srv), *b = sp_connect(&g_srv);
    T_ASSERT(c && b);
    redisReply *r = redisCommand(b, "CLIENT ID");
    long long id = r->integer;
    freeReplyObject(r);
    T_CMD(c, "-ERR value is not an integer or out of range", "CLIENT UNBLOCK x");
    T_CMD(c, "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR", "CLIENT UNBLOCK 1 foo");
    T_CMD(c, ":0", "CLIENT UNBLOCK %lld", id);
    for (int form = 0; form < 2; form++) {
        redisAppendCommand(b, "BLPOP nothing 0");
        redisAppendCommand(b, "PING");
        T_ASSERT(redisBufferWrite(b, &(int){0}) == REDIS_OK);
        T_ASSERT(wait_blocked(c, 1));
        T_CMD(c, ":1", "CLIENT UNBLOCK %lld %s", id, form ? "ERROR" : "TIMEOUT");
        T_EQ_INT(redisGetReply(b, (void **)&r), REDIS_OK);
        char got[128];
        sp_show(r, got, sizeof got);
        freeReplyObject(r);
        T_EQ_STR(got, form ? "-UNBLOCKED client unblocked via CLIENT UNBLOCK" : "(nil)");
        T_EQ_INT(redisGetReply(b, (void **)&r), REDIS_OK);
        T_EQ_STR(r->str, "PONG");
        freeReplyObject(r);
    }
    T_EQ_INT(blocked_clients(c), 0);
    redisFree(b);
    redisFree(c);
}

/* Clients wait on BLMOVE src -> dst while pushes arrive; kill -9 at once after: every
 * element is exactly once in src or dst (moved whole or not at all), and every element a
 * client was answered is in dst. */
static void blmove_is_atomic_under_kill_9(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    enum { CLIENTS = 4, PUSHES = 200 };
    int fd[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        fd[i] = sp_raw_connect(&g_srv);
        T_ASSERT(fd[i] >= 0);
        /* each asks for many moves: a pipeline of BLMOVEs */
        for (int k = 0; k < PUSHES; k++)
            send_raw(fd[i], "BLMOVE src dst LEFT RIGHT 0\r\n");
    }
    T_ASSERT(wait_blocked(c, CLIENTS));
    for (int k = 0; k < PUSHES; k++)
        redisAppendCommand(c, "RPUSH src e%d", k);
    for (int k = 0; k < PUSHES; k++) {
        redisReply *r;
        T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    /* the replies the clients got: each a moved element */
    char got[65536];
    int answered = 0;
    for (int i = 0; i < CLIENTS; i++) {
        ssize_t n;
        usleep(20000);
        while ((n = recv(fd[i], got, sizeof got - 1, MSG_DONTWAIT)) > 0) {
            got[n] = '\0';
            for (char *p = got; (p = strstr(p, "$")); p++)
                answered++;
        }
    }
    sp_kill(&g_srv);
    for (int i = 0; i < CLIENTS; i++)
        close(fd[i]);
    redisFree(c);
    T_EQ_INT(sp_start_argv(&g_srv, "blocking", (const char *[]){"--io-threads", "3", NULL}), 0);
    c = sp_connect(&g_srv);
    T_ASSERT(c);
    redisReply *a = redisCommand(c, "LLEN src"), *b = redisCommand(c, "LLEN dst");
    T_EQ_INT(a->integer + b->integer, PUSHES);
    if (b->integer < answered)
        T_FAIL("%d answered, %lld in dst", answered, b->integer);
    freeReplyObject(a);
    freeReplyObject(b);
    redisFree(c);
}

/* Many clients blocked on keys of their own, one with the same key twice, one on a
 * sorted set: each push wakes exactly the client waiting on its key, with the element
 * pushed, and a push of the other type to a waited key wakes nobody. */
static void each_push_wakes_the_waiter_of_its_key(void)
{
    enum { N = 200 };
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "FLUSHALL");
    int fd[N + 2];
    char req[128], want[128];
    for (int i = 0; i < N; i++) {
        T_ASSERT((fd[i] = sp_raw_connect(&g_srv)) >= 0);
        snprintf(req, sizeof req, "BLPOP q%d 0\r\n", i);
        send_raw(fd[i], req);
    }
    T_ASSERT((fd[N] = sp_raw_connect(&g_srv)) >= 0);
    send_raw(fd[N], "BRPOP dup dup 0\r\n");
    T_ASSERT((fd[N + 1] = sp_raw_connect(&g_srv)) >= 0);
    send_raw(fd[N + 1], "BZPOPMIN q7 0\r\n");
    T_ASSERT(wait_blocked(c, N + 2));
    for (int i = N - 1; i >= 0; i--) {
        T_CMD(c, ":1", "RPUSH q%d e%d", i, i);
        int len = snprintf(want, sizeof want, "q%d", i);
        int elen = snprintf(req, sizeof req, "e%d", i);
        char reply[320], got[4096];
        int rlen = snprintf(reply, sizeof reply, "*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len,
                            want, elen, req);
        if (!sp_raw_roundtrip(fd[i], "", 0, reply, (size_t)rlen, got, sizeof got))
            T_FAIL("client %d got \"%s\"", i, got);
    }
    T_EQ_INT(blocked_clients(c), 2); /* the list push to q7 left the zset waiter */
    T_CMD(c, ":1", "RPUSH dup x");
    T_RAW(fd[N], "", "*2\r\n$3\r\ndup\r\n$1\r\nx\r\n");
    T_CMD(c, ":1", "ZADD q7 5 m");
    T_RAW(fd[N + 1], "", "*3\r\n$2\r\nq7\r\n$1\r\nm\r\n$1\r\n5\r\n");
    T_EQ_INT(blocked_clients(c), 0);
    T_CMD(c, ":0", "EXISTS dup q7");
    for (int i = 0; i < N + 2; i++)
        close(fd[i]);
    redisFree(c);
}

/* A shutdown answers each blocked client (a null) and closes it, the commands it
 * pipelined behind the blocked one unanswered, and the server exits cleanly (no
 * sanitizer report). */
static void shutdown_answers_blocked_clients(void)
{
    srvp p = {0};
    const char *extra[] = {"--io-threads", "2", NULL};
    T_EQ_INT(sp_start_argv(&p, "blocking-stop", extra), 0);
    redisContext *c = sp_connect(&p);
    T_ASSERT(c);
    int fd[3];
    for (int i = 0; i < 3; i++) {
        T_ASSERT((fd[i] = sp_raw_connect(&p)) >= 0);
        for (int k = 0; k < 50; k++)
            send_raw(fd[i], "BLMOVE src dst LEFT RIGHT 0\r\n");
    }
    T_ASSERT(wait_blocked(c, 3));
    T_CMD(c, ":1", "RPUSH src a");
    T_ASSERT(wait_blocked(c, 3)); /* one got "a", then blocked on its next BLMOVE */
    redisFree(c);
    T_EQ_INT(sp_stop(&p), 0);
    int nulls = 0, moved = 0;
    for (int i = 0; i < 3; i++) {
        char got[1024];
        size_t len = 0;
        ssize_t n;
        while (len < sizeof got - 1 && (n = read(fd[i], got + len, sizeof got - 1 - len)) > 0)
            len += (size_t)n;
        got[len] = '\0';
        nulls += !strcmp(got, "*-1\r\n") || !strcmp(got, "$1\r\na\r\n*-1\r\n");
        moved += !strcmp(got, "$1\r\na\r\n*-1\r\n");
        close(fd[i]);
    }
    T_EQ_INT(nulls, 3);
    T_EQ_INT(moved, 1);
}

int main(void)
{
    T_RUN(server_starts);
    if (!g_srv.pid)
        return T_MAIN_END();
    T_RUN(errors_and_non_blocking_forms_reply_as_redis);
    T_RUN(pushes_serve_blocked_clients_in_order);
    T_RUN(a_woken_client_pops_from_the_key_that_woke_it);
    T_RUN(replies_keep_their_order_after_a_wake);
    T_RUN(a_client_gone_while_blocked_loses_nothing);
    T_RUN(client_unblock_ends_a_wait);
    T_RUN(each_push_wakes_the_waiter_of_its_key);
    T_RUN(blmove_is_atomic_under_kill_9);
    T_RUN(shutdown_answers_blocked_clients);
    t_failed += sp_stop_or_dump(&g_srv);
    return T_MAIN_END();
}
