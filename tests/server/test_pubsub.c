/* Pub/Sub: SUBSCRIBE PSUBSCRIBE SSUBSCRIBE and their UN- forms, PUBLISH SPUBLISH, PUBSUB,
 * byte for byte as the reference redis-server 7.0 answers them in RESP2 and RESP3;
 * messages between clients on different I/O threads, in order; no message after an
 * unsubscription; a slow subscriber closed at client-output-buffer-limit pubsub; CLIENT
 * LIST/KILL and INFO know subscribers. Keyspace notifications: the same events as Redis
 * for every family of commands, "expired" from active expiry, none for a refused write. */
#include <sys/socket.h>

#include "fault_util.h"

T_MAIN_BEGIN;

static srvp g_ox, g_ref;

static void servers_start(void)
{
    const char *extra[] = {"--io-threads", "3", "--client-output-buffer-limit",
                           "pubsub 1mb 256kb 60", NULL};
    if (sp_start_argv(&g_ox, "pubsub", extra)) {
        sp_dump_log(&g_ox);
        T_FAIL("server did not start");
    }
    const char *ref_extra[] = {"--enable-debug-command", "yes", NULL};
    T_ASSERT(sp_start_redis_argv(&g_ref, "pubsub-ref", ref_extra) == 0);
}

/* Sends "a b c" (split on spaces) as one RESP command. */
static int send_words(int fd, const char *line)
{
    char buf[512], *save = NULL;
    const char *argv[32];
    size_t lens[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *w = strtok_r(buf, " ", &save); w && argc < 32; w = strtok_r(NULL, " ", &save)) {
        argv[argc] = w;
        lens[argc++] = strlen(w);
    }
    return sp_raw_send(fd, argc, argv, lens);
}

/* A connection and what was read from it but not taken yet. */
typedef struct conn {
    int fd;
    size_t got;
    char buf[1 << 16];
} conn;

static conn *conn_new(int fd)
{
    conn *c = calloc(1, sizeof *c);
    if (c)
        c->fd = fd;
    return c;
}

static void conn_close(conn *c)
{
    if (c) {
        close(c->fd);
        free(c);
    }
}

/* Takes the next n whole RESP elements into out (NUL-terminated): their length, or 0 on a
 * timeout (10 s) or EOF. */
static size_t take(conn *c, int n, char *out, size_t cap)
{
    size_t used = 0;
    for (int i = 0; i < n;) {
        size_t e = sp_resp_len(c->buf + used, c->got - used);
        if (e) {
            used += e;
            i++;
            continue;
        }
        if (c->got == sizeof c->buf)
            return 0;
        ssize_t r = read(c->fd, c->buf + c->got, sizeof c->buf - c->got);
        if (r <= 0)
            return 0;
        c->got += (size_t)r;
    }
    if (used + 1 > cap)
        return 0;
    memcpy(out, c->buf, used);
    out[used] = '\0';
    memmove(c->buf, c->buf + used, c->got - used);
    c->got -= used;
    return used;
}

/* Whether nothing more arrives on c within ms milliseconds. */
static int quiet(conn *c, int ms)
{
    struct timeval tv = {0, ms * 1000}, back = {10, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t r = c->got ? 1 : read(c->fd, c->buf, sizeof c->buf);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &back, sizeof back);
    if (r > 0 && !c->got)
        c->got = (size_t)r;
    return r <= 0;
}

/* One step of a script: a command and how many elements it answers with. */
typedef struct step {
    const char *cmd;
    int replies;
} step;

/* Runs the script on both servers (HELLO 3 first when proto is 3) and compares every
 * step's bytes. */
static void same_as_redis(int proto, const step *s, int n)
{
    conn *o = conn_new(proto == 3 ? sp_raw_resp3(&g_ox) : sp_raw_connect(&g_ox));
    conn *r = conn_new(proto == 3 ? sp_raw_resp3(&g_ref) : sp_raw_connect(&g_ref));
    T_ASSERT(o && r && o->fd >= 0 && r->fd >= 0);
    for (int i = 0; i < n; i++) {
        static char a[16384], b[16384];
        T_ASSERT(send_words(o->fd, s[i].cmd) && send_words(r->fd, s[i].cmd));
        size_t la = take(o, s[i].replies, a, sizeof a);
        size_t lb = take(r, s[i].replies, b, sizeof b);
        if (!lb)
            T_FAIL("RESP%d: the reference gave no whole reply to %s", proto, s[i].cmd);
        if (la != lb || memcmp(a, b, la)) {
            conn_close(o);
            conn_close(r);
            T_FAIL("RESP%d: %s answered \"%s\", Redis \"%s\"", proto, s[i].cmd, a, b);
        }
    }
    /* nothing more than the script's replies on either side */
    int qo = quiet(o, 50), qr = quiet(r, 50);
    conn_close(o);
    conn_close(r);
    T_ASSERT(qo && qr);
}

static void replies_are_redis_bytes(void)
{
    static const step resp2[] = {
        {"SUBSCRIBE", 1}, {"PSUBSCRIBE", 1}, {"PUBLISH a", 1}, {"PUBSUB", 1},
        {"PUBSUB foo", 1}, {"PUBSUB HELP", 1}, {"PUBSUB HELP x", 1}, {"PUBSUB NUMPAT x", 1},
        {"PUBSUB CHANNELS a b", 1}, {"PUBSUB SHARDCHANNELS a b", 1}, {"PUBSUB NUMSUB", 1},
        {"UNSUBSCRIBE", 1}, {"PUNSUBSCRIBE a b", 2}, {"SUNSUBSCRIBE", 1},
        {"SUBSCRIBE a b", 2}, {"GET x", 1}, {"PUBSUB NUMSUB a", 1}, {"PING", 1},
        {"PING hi", 1}, {"PSUBSCRIBE p* a*", 2}, {"SUBSCRIBE a", 1}, {"UNSUBSCRIBE b", 1},
        {"SSUBSCRIBE s1 s2", 2}, {"SUBSCRIBE c", 1}, {"SUNSUBSCRIBE s1", 1},
        {"PUNSUBSCRIBE p*", 1}, {"UNSUBSCRIBE a c", 2}, {"PUNSUBSCRIBE", 1},
        {"SUNSUBSCRIBE", 1}, {"GET x", 1}, {"PING", 1}, {"UNSUBSCRIBE", 1},
        {"MULTI", 1}, {"SUBSCRIBE m", 1}, {"PUBLISH m 1", 1}, {"EXEC", 2},
        {"PUBLISH m 2", 1}, {"RESET", 1}, {"PUBSUB NUMSUB m", 1}, {"PUBLISH m 3", 1},
        {"SSUBSCRIBE q", 1}, {"SPUBLISH q x", 1}, {"EXEC", 1}, {"SUNSUBSCRIBE", 1},
        {"MULTI", 1}, {"SSUBSCRIBE s", 1}, {"SPUBLISH s x", 1}, {"EXEC", 1}, {"QUIT", 1},
    };
    static const step resp3[] = {
        {"SUBSCRIBE a", 1}, {"GET x", 1}, {"PING", 1}, {"PUBLISH a hello", 2},
        {"PSUBSCRIBE a*", 1}, {"PUBLISH a x", 3}, {"PUBLISH ab y", 2},
        {"PUBSUB NUMSUB a b", 1}, {"PUBSUB NUMPAT", 1}, {"PUBSUB CHANNELS", 1},
        {"PUBSUB CHANNELS a*", 1}, {"PUBSUB CHANNELS z*", 1}, {"PUBSUB SHARDCHANNELS", 1},
        {"PUBSUB SHARDNUMSUB a", 1}, {"SPUBLISH a y", 1}, {"SSUBSCRIBE a", 1},
        {"SPUBLISH a z", 2}, {"PUBLISH a w", 3}, {"UNSUBSCRIBE a", 1}, {"PUBLISH a v", 2},
        {"PUNSUBSCRIBE", 1}, {"SUNSUBSCRIBE a", 1}, {"PUBLISH a u", 1}, {"RESET", 1},
        {"MULTI", 1}, {"SSUBSCRIBE s", 1}, {"SUBSCRIBE t", 1}, {"EXEC", 1},
    };
    same_as_redis(2, resp2, (int)(sizeof resp2 / sizeof resp2[0]));
    if (t_failed_now)
        return;
    same_as_redis(3, resp3, (int)(sizeof resp3 / sizeof resp3[0]));
}

#define NSUB 8
#define NMSG 2000

/* 8 subscribers, on the server's 3 I/O threads, each to "news" or to "n*": every message
 * of a publisher on another connection reaches each of them once, in order, byte exact;
 * PUBLISH counts them. */
static void messages_reach_subscribers_on_every_thread(void)
{
    conn *sub[NSUB], *pub = conn_new(sp_raw_connect(&g_ox));
    static char buf[65536];
    T_ASSERT(pub && pub->fd >= 0);
    for (int i = 0; i < NSUB; i++) {
        sub[i] = conn_new(i % 2 ? sp_raw_resp3(&g_ox) : sp_raw_connect(&g_ox));
        T_ASSERT(sub[i] && sub[i]->fd >= 0);
        T_ASSERT(send_words(sub[i]->fd, i < NSUB / 2 ? "SUBSCRIBE news" : "PSUBSCRIBE n*"));
        T_ASSERT(take(sub[i], 1, buf, sizeof buf));
    }
    for (int m = 0; m < NMSG; m++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "PUBLISH news m%d", m);
        T_ASSERT(send_words(pub->fd, cmd));
    }
    for (int m = 0; m < NMSG; m++) {
        T_ASSERT(take(pub, 1, buf, sizeof buf));
        T_EQ_STR(buf, ":8\r\n");
    }
    for (int i = 0; i < NSUB; i++) {
        for (int m = 0; m < NMSG; m++) {
            char want[128], body[16];
            int bl = snprintf(body, sizeof body, "m%d", m);
            if (i < NSUB / 2)
                snprintf(want, sizeof want, "%c3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$%d\r\n%s\r\n",
                         i % 2 ? '>' : '*', bl, body);
            else
                snprintf(want, sizeof want,
                         "%c4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$%d\r\n%s\r\n",
                         i % 2 ? '>' : '*', bl, body);
            if (!take(sub[i], 1, buf, sizeof buf))
                T_FAIL("subscriber %d: message %d did not come", i, m);
            if (strcmp(buf, want))
                T_FAIL("subscriber %d, message %d: \"%s\", expected \"%s\"", i, m, buf, want);
        }
        T_ASSERT(quiet(sub[i], 20));
        conn_close(sub[i]);
    }
    conn_close(pub);
}

/* Polls PUBSUB NUMSUB ch until it is n (10 s). */
static int wait_numsub(redisContext *c, const char *ch, long long n)
{
    uint64_t deadline = t_now_ms() + 10000;
    for (;;) {
        redisReply *r = redisCommand(c, "PUBSUB NUMSUB %s", ch);
        long long v = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2
                          ? r->element[1]->integer : -1;
        freeReplyObject(r);
        if (v == n)
            return 1;
        if (t_now_ms() > deadline)
            return 0;
        usleep(1000);
    }
}

/* While another client floods the channel, a subscriber unsubscribes and sends PING: after
 * the confirmation, the next thing it reads is PONG, never a message, however many were on
 * their way (a RESP2 message after the last unsubscription would pass for a reply). */
static void no_message_after_unsubscribing(void)
{
    redisContext *ctl = sp_connect(&g_ox);
    conn *pub = conn_new(sp_raw_connect(&g_ox));
    static char buf[65536];
    T_ASSERT(ctl && pub && pub->fd >= 0);
    int before = 0;
    for (int round = 0; round < 40; round++) {
        conn *s = conn_new(sp_raw_connect(&g_ox));
        T_ASSERT(s && s->fd >= 0);
        T_ASSERT(send_words(s->fd, "SUBSCRIBE flood"));
        T_ASSERT(take(s, 1, buf, sizeof buf));
        T_ASSERT(wait_numsub(ctl, "flood", 1));
        for (int m = 0; m < 300; m++)
            T_ASSERT(send_words(pub->fd, "PUBLISH flood xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
        T_ASSERT(send_words(s->fd, "UNSUBSCRIBE flood"));
        T_ASSERT(send_words(s->fd, "PING"));
        const char confirm[] = "*3\r\n$11\r\nunsubscribe\r\n$5\r\nflood\r\n:0\r\n";
        for (;;) {
            if (!take(s, 1, buf, sizeof buf))
                T_FAIL("round %d: no confirmation", round);
            if (!strcmp(buf, confirm))
                break;
            T_ASSERT(!strncmp(buf, "*3\r\n$7\r\nmessage\r\n", 17));
            before++;
        }
        T_ASSERT(take(s, 1, buf, sizeof buf));
        T_EQ_STR(buf, "+PONG\r\n");
        T_ASSERT(quiet(s, 5));
        conn_close(s);
        for (int m = 0; m < 300; m++) /* the publisher's replies */
            T_ASSERT(take(pub, 1, buf, sizeof buf));
    }
    printf("messages before the confirmations: %d\n", before);
    conn_close(pub);
    redisFree(ctl);
}

/* CLIENT LIST shows a subscriber's counts and its P flag; CLIENT LIST and KILL TYPE pubsub
 * find it; a subscriber closed leaves the registry (PUBLISH counts 0); INFO has the
 * totals. */
static void subscribers_are_known_to_client_and_info(void)
{
    redisContext *c = sp_connect(&g_ox);
    conn *s = conn_new(sp_raw_connect(&g_ox));
    static char buf[65536];
    char v[64];
    T_ASSERT(c && s && s->fd >= 0);
    T_ASSERT(send_words(s->fd, "CLIENT SETNAME listener"));
    T_ASSERT(take(s, 1, buf, sizeof buf));
    T_ASSERT(send_words(s->fd, "SUBSCRIBE k1 k2"));
    T_ASSERT(send_words(s->fd, "PSUBSCRIBE k*"));
    T_ASSERT(send_words(s->fd, "SSUBSCRIBE sh"));
    T_ASSERT(take(s, 4, buf, sizeof buf));
    redisReply *r = redisCommand(c, "CLIENT LIST TYPE pubsub");
    T_ASSERT(r && r->type == REDIS_REPLY_STRING);
    int listed = strstr(r->str, "name=listener") && strstr(r->str, " flags=P ") &&
                 strstr(r->str, " sub=2 psub=1 ssub=1 ");
    freeReplyObject(r);
    T_ASSERT(listed);
    r = redisCommand(c, "CLIENT LIST TYPE normal");
    T_ASSERT(r && r->type == REDIS_REPLY_STRING && !strstr(r->str, "name=listener"));
    freeReplyObject(r);
    T_EQ_STR(sp_info_field(c, "stats", "pubsub_channels", v, sizeof v), "2");
    T_EQ_STR(sp_info_field(c, "stats", "pubsub_patterns", v, sizeof v), "1");
    T_EQ_STR(sp_info_field(c, "stats", "pubsubshard_channels", v, sizeof v), "1");
    T_CMD(c, ":2", "PUBLISH k1 x");
    T_CMD(c, ":1", "SPUBLISH sh x");
    T_CMD(c, ":1", "CLIENT KILL TYPE pubsub");
    T_ASSERT(wait_numsub(c, "k1", 0));
    T_CMD(c, ":0", "PUBLISH k1 x");
    T_CMD(c, ":0", "PUBSUB NUMPAT");
    T_EQ_STR(sp_info_field(c, "stats", "pubsub_channels", v, sizeof v), "0");
    T_EQ_STR(sp_info_field(c, "stats", "pubsubshard_channels", v, sizeof v), "0");
    conn_close(s);
    redisFree(c);
}

/* A subscriber that reads nothing while 20 MB of messages come is closed at the pubsub
 * class's hard limit (1 MB here): the server's memory stays bounded, the publisher goes on. */
static void a_slow_subscriber_is_closed_at_its_limit(void)
{
    redisContext *c = sp_connect(&g_ox);
    int s = sp_raw_connect(&g_ox);
    int small = 4096;
    static char buf[4096];
    T_ASSERT(c && s >= 0);
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    T_ASSERT(send_words(s, "SUBSCRIBE slow"));
    T_ASSERT(read(s, buf, sizeof buf) > 0);
    long rss0 = sp_rss_kb(g_ox.pid);
    char *big = malloc(20000);
    T_ASSERT(big);
    memset(big, 'v', 20000);
    long long received = 0;
    for (int m = 0; m < 1000; m++) {
        redisReply *r = redisCommand(c, "PUBLISH slow %b", big, (size_t)20000);
        T_ASSERT(r && r->type == REDIS_REPLY_INTEGER);
        received += r->integer;
        freeReplyObject(r);
    }
    free(big);
    long rss1 = sp_rss_kb(g_ox.pid);
    printf("received by the slow subscriber: %lld of 1000; RSS %ld -> %ld kB\n", received,
           rss0, rss1);
    T_ASSERT(received < 1000);
    T_ASSERT(wait_numsub(c, "slow", 0));
    T_ASSERT(rss1 - rss0 < 16 * 1024);
    close(s);
    redisFree(c);
}


/* A flood on a channel while a RESP2 client runs MULTI / SUBSCRIBE g / CLIENT LIST / EXEC
 * (CLIENT LIST asks every I/O thread, so EXEC's reply waits half written): the messages
 * come after the whole EXEC reply, never inside its array. */
static void messages_wait_for_a_whole_exec_reply(void)
{
    conn *pub = conn_new(sp_raw_connect(&g_ox));
    static char buf[65536];
    T_ASSERT(pub && pub->fd >= 0);
    int flooded = 0;
    for (int round = 0; round < 60; round++) {
        conn *c = conn_new(sp_raw_connect(&g_ox));
        T_ASSERT(c && c->fd >= 0);
        for (int m = 0; m < 200; m++, flooded++)
            T_ASSERT(send_words(pub->fd, "PUBLISH g m"));
        T_ASSERT(send_words(c->fd, "MULTI") && send_words(c->fd, "SUBSCRIBE g") &&
                 send_words(c->fd, "CLIENT LIST") && send_words(c->fd, "EXEC"));
        T_ASSERT(take(c, 3, buf, sizeof buf)); /* +OK +QUEUED +QUEUED */
        T_ASSERT(take(c, 1, buf, sizeof buf)); /* EXEC's reply, whole */
        const char head[] = "*2\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\ng\r\n:1\r\n$";
        if (strncmp(buf, head, sizeof head - 1))
            T_FAIL("round %d: EXEC replied \"%.120s\"", round, buf);
        conn_close(c);
    }
    for (int m = 0; m < flooded; m++)
        T_ASSERT(take(pub, 1, buf, sizeof buf));
    conn_close(pub);
}

/* A subscriber that does not read (its replies wait in the server; no pubsub limit for
 * this test) sends QUIT while messages flood in: after its +OK nothing more comes, the
 * connection ends. */
static void nothing_comes_after_quit(void)
{
    redisContext *ctl = sp_connect(&g_ox);
    conn *pub = conn_new(sp_raw_connect(&g_ox));
    static char buf[1 << 16];
    char cmd[300];
    T_ASSERT(ctl && pub && pub->fd >= 0);
    T_CMD(ctl, "+OK", "CONFIG SET client-output-buffer-limit %s", "pubsub 0 0 0");
    memset(cmd, 'y', sizeof cmd - 1);
    cmd[sizeof cmd - 1] = '\0';
    memcpy(cmd, "PUBLISH q ", 10);
    for (int round = 0; round < 3; round++) {
        conn *s = conn_new(sp_raw_connect(&g_ox));
        int small = 4096;
        T_ASSERT(s && s->fd >= 0);
        setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        T_ASSERT(send_words(s->fd, "SUBSCRIBE q"));
        T_ASSERT(take(s, 1, buf, sizeof buf));
        T_ASSERT(wait_numsub(ctl, "q", 1));
        for (int chunk = 0; chunk < 20; chunk++) { /* 6 MB, the QUIT after the first MB */
            if (chunk == 3)
                T_ASSERT(send_words(s->fd, "QUIT"));
            for (int m = 0; m < 1000; m++)
                T_ASSERT(send_words(pub->fd, cmd));
            for (int m = 0; m < 1000; m++)
                T_ASSERT(take(pub, 1, buf, sizeof buf));
        }
        /* the flood is over: a larger window drains it in far fewer round trips (a 4 KB
           one waits on the kernel's window updates: 25 s a round) */
        int big = 1 << 20;
        setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        int msgs = 0;
        for (;;) {
            if (!take(s, 1, buf, sizeof buf))
                T_FAIL("round %d: no +OK before the end (%d messages)", round, msgs);
            if (!strcmp(buf, "+OK\r\n"))
                break;
            T_ASSERT(!strncmp(buf, "*3\r\n$7\r\nmessage\r\n", 17));
            msgs++;
        }
        char more;
        T_EQ_INT(s->got, 0);
        T_EQ_INT(read(s->fd, &more, 1), 0); /* EOF, not one byte more */
        conn_close(s);
    }
    T_CMD(ctl, "+OK", "CONFIG SET client-output-buffer-limit %s", "pubsub 1mb 256kb 60");
    conn_close(pub);
    redisFree(ctl);
}

/* One I/O thread, busy in DEBUG SLEEP, while the writer's active expiry publishes
 * "expired" for 3000 keys of 10 KB names (30 MB) to a subscriber on that thread: what
 * waits for the thread stops at the pubsub limit (1 MB here) and the subscriber is closed,
 * the server's memory does not take the 30 MB (anonymous RSS of the release build, from
 * after the checkpoint that the SETs started). */
static void messages_waiting_for_a_busy_thread_are_bounded(void)
{
    srvp p = {0};
    const char *extra[] = {"--io-threads", "1", "--client-output-buffer-limit",
                           "pubsub 1mb 256kb 60", NULL};
    /* the release build: ASan's allocator keeps what the server frees, RSS would not tell */
    int started = sp_start_bin(&p, OX_REL_SERVER_BIN, "pubsub-busy", extra);
    if (started) {
        sp_dump_log(&p);
        T_FAIL("server did not start");
    }
    redisContext *c = sp_connect(&p);
    conn *sub = conn_new(sp_raw_connect(&p)), *sleeper = conn_new(sp_raw_connect(&p));
    static char buf[4096];
    T_ASSERT(c && sleeper && sleeper->fd >= 0 && sub && sub->fd >= 0);
    T_CMD(c, "+OK", "CONFIG SET notify-keyspace-events Ex");
    T_ASSERT(send_words(sub->fd, "SUBSCRIBE __keyevent@0__:expired"));
    T_ASSERT(take(sub, 1, buf, sizeof buf));
    T_CMD(c, "+OK", "DEBUG SET-ACTIVE-EXPIRE 0");
    char *name = malloc(10001);
    T_ASSERT(name);
    for (int i = 0; i < 3000; i++) {
        memset(name, 'a' + i % 26, 10000);
        snprintf(name, 16, "%09d", i);
        name[9] = 'n';
        redisAppendCommand(c, "SET %b v PX 1", name, (size_t)10000);
    }
    free(name);
    for (int i = 0; i < 3000; i++) {
        redisReply *r = NULL;
        T_ASSERT(redisGetReply(c, (void **)&r) == REDIS_OK);
        freeReplyObject(r);
    }
    /* The 30 MB of SETs started a checkpoint, whose LMDB dirty pages and freed write
     * buffer would move RSS inside the window below (seen under CPU contention: a peak
     * 20 MB over the start): it ends first. Polls INFO with a deadline. */
    char v[32] = "";
    uint64_t deadline = t_now_ms() + 30000;
    while ((sp_checkpoints(&p) < 1 ||
            strcmp(sp_info_field(c, "persistence", "checkpoint_in_progress", v, sizeof v),
                   "0")) && t_now_ms() < deadline)
        usleep(10000);
    T_EQ_STR(v, "0");
    long rss0 = sp_anon_kb(p.pid);
    /* active expiry again, and the thread sleeps 3 s at once (one write: the thread reads
     * both): the writer's expiry publishes while the subscriber's thread takes nothing */
    const char both[] = "DEBUG SET-ACTIVE-EXPIRE 1\r\nDEBUG SLEEP 3\r\n";
    T_ASSERT(write(sleeper->fd, both, sizeof both - 1) == (ssize_t)(sizeof both - 1));
    long peak = rss0;
    uint64_t until = t_now_ms() + 2800;
    while (t_now_ms() < until) {
        long r = sp_anon_kb(p.pid);
        peak = r > peak ? r : peak;
        usleep(20000);
    }
    T_ASSERT(take(sleeper, 2, buf, sizeof buf));
    T_EQ_STR(buf, "+OK\r\n+OK\r\n");
    printf("anonymous RSS %ld kB before, %ld kB at most while the thread slept\n", rss0, peak);
    T_ASSERT(peak - rss0 < 20 * 1024);
    T_ASSERT(wait_numsub(c, "__keyevent@0__:expired", 0)); /* closed at its limit */
    conn_close(sub);
    conn_close(sleeper);
    redisFree(c);
    t_failed += sp_stop_or_dump(&p);
}

/* ---- keyspace notifications ------------------------------------------------------------- */

/* Scripts of commands whose events both servers must send alike (replies are not compared:
 * SPOP's picks differ). */
static const char *const ev_strings[] = {
    "SET s1 v", "SET s1 v2 EX 100", "SET s1 v3 KEEPTTL", "SET s1 v4 NX", "SET s1 v4 XX",
    "SET s1 v5 GET", "SETNX s2 a", "SETNX s2 b", "SETEX s3 100 x", "PSETEX s4 100000 x",
    "GETSET s1 w", "GETDEL s1", "GETDEL nope", "SET s5 1", "GETEX s5 EX 100",
    "GETEX s5 PERSIST", "GETEX s5", "MSET m1 a m2 b", "MSETNX m3 a m4 b", "MSETNX m3 a m5 b",
    "INCR n1", "DECR n1", "INCRBY n1 5", "DECRBY n1 2", "INCRBYFLOAT n2 1.5", "APPEND a1 xx",
    "APPEND a1 yy", "SETRANGE r1 5 zz", "SETRANGE r2 0 x", "SETRANGE r3 0 ", "SETBIT b1 7 1",
    "SETBIT b1 7 1", "DEL s2 s3 nope", "UNLINK s4", "SET e1 v", "EXPIRE e1 100",
    "PEXPIRE e1 100000", "EXPIREAT e1 99999999999", "PERSIST e1", "PERSIST e1",
    "EXPIRE e1 -1", "SET e2 v", "PEXPIREAT e2 1", "EXPIRE nope 10", "SET rn1 v",
    "RENAME rn1 rn2", "RENAMENX rn2 rn3", "SET rn4 x", "RENAMENX rn3 rn4", "RENAME rn4 rn4",
    "COPY rn3 cp1", "COPY rn3 cp1", "COPY rn3 cp1 REPLACE", "COPY rn3 cp2 DB 2",
    "MOVE cp1 1", "SET t1 v", "TOUCH t1", "MULTI", "SET x1 1", "INCR x1", "DEL x1", "EXEC",
    "SET gx v", "GETEX gx PXAT 1", "SET gy v", "GETEX gy EXAT 1", "GETEX gy", NULL};
static const char *const ev_hashes_sets[] = {
    "HSET h1 a 1 b 2", "HSET h1 a 1", "HMSET h1 c 3", "HSETNX h1 a 9", "HSETNX h1 z 9",
    "HINCRBY h1 n 5", "HINCRBYFLOAT h1 f 1.5", "HDEL h1 nope", "HDEL h1 a b",
    "HDEL h1 c z n f", "HSET h2 x 1", "DEL h2", "HSET h3 x 1", "EXPIRE h3 100",
    "RENAME h3 h4", "COPY h4 h5", "SADD st1 a b c", "SADD st1 a", "SREM st1 nope",
    "SREM st1 a", "SPOP st1", "SPOP st1 5", "SADD st2 a b c d", "SPOP st2 2", "SPOP st2 5",
    "SADD st3 a b", "SADD st4 b c", "SMOVE st3 st4 a", "SMOVE st3 st4 zz", "SMOVE st3 st5 b",
    "SINTERSTORE d1 st4 st5", "SUNIONSTORE d2 st4 st5", "SDIFFSTORE d3 st4 st5",
    "SINTERSTORE d2 st4 nope", "SDIFFSTORE nope2 nope st4", "SINTERCARD 1 st4", NULL};
static const char *const ev_lists[] = {
    "LPUSH l1 a b c", "RPUSH l1 d", "LPUSHX nope a", "RPUSHX l1 e", "LPOP l1", "RPOP l1 2",
    "LPOP nope", "LSET l1 0 z", "LINSERT l1 BEFORE z y", "LINSERT l1 BEFORE nope y",
    "LREM l1 0 nope", "LREM l1 0 y", "LTRIM l1 0 -1", "LTRIM l1 5 10", "RPUSH l2 a b c",
    "LMOVE l2 l3 LEFT RIGHT", "RPOPLPUSH l2 l3", "LMOVE l2 l2 LEFT LEFT",
    "LMOVE l2 l3 RIGHT LEFT", "LMPOP 2 nope l3 LEFT COUNT 2", "LMPOP 1 l3 RIGHT COUNT 5",
    "RPUSH l4 a", "BLPOP nope l4 0", "RPUSH l5 a b", "BRPOPLPUSH l5 l6 0",
    "BLMOVE l5 l6 LEFT LEFT 0", "BLMPOP 0 1 l6 LEFT COUNT 10", "RPUSH l7 a b c", "LPOP l7 5",
    "RPUSH sl 3 1 2", "SORT sl STORE sd", "SORT sl LIMIT 5 1 STORE sd", "SORT nope STORE sd2",
    NULL};
static const char *const ev_zsets[] = {
    "ZADD z1 1 a 2 b 3 c", "ZADD z1 1 a", "ZADD z1 5 a", "ZADD z1 XX 6 nope",
    "ZADD z1 NX 6 a", "ZADD z1 GT 1 a", "ZADD z1 INCR 2 a", "ZINCRBY z1 0 a",
    "ZINCRBY z1 1 d", "ZADD nope XX 1 a", "ZREM z1 nope", "ZREM z1 a",
    "ZREMRANGEBYSCORE z1 100 200", "ZREMRANGEBYSCORE z1 -inf 1", "ZREMRANGEBYRANK z1 0 0",
    "ZADD z2 1 a 2 b 3 c 4 d", "ZREMRANGEBYLEX z2 [a [a", "ZPOPMIN z2", "ZPOPMAX z2 1",
    "ZPOPMIN z2 10", "ZPOPMIN z2", "ZADD z3 1 a 2 b", "ZADD z4 3 c",
    "ZUNIONSTORE d1 2 z3 z4", "ZINTERSTORE d2 2 z3 z4", "ZDIFFSTORE d3 2 z3 z4",
    "ZUNIONSTORE d1 1 nope", "ZRANGESTORE d4 z3 0 -1", "ZRANGESTORE d4 z3 5 10",
    "ZMPOP 2 nope z3 MAX COUNT 1", "BZPOPMIN z3 0", "BZMPOP 0 1 z4 MIN",
    "ZADD z5 1 a 2 b", "ZREMRANGEBYRANK z5 0 -1", "ZADD z6 1 a",
    "ZREMRANGEBYSCORE z6 -inf +inf", NULL};
/* Writes that find their key expired (active expiry paused): Redis's lookup tells
 * "expired" first; and keys replaced or overwritten, for "new". SLEEP n: the test waits
 * until the server's clock is n ms past where it was. The times are 100 ms: PEXPIRE of 1 ms
 * is a race in both servers (a command that takes 1 ms finds its time passed, deletes the
 * key and tells "del", not "expire": two failures here, one on each side). */
static const char *const ev_expired[] = {
    "DEBUG SET-ACTIVE-EXPIRE 0", "SET k1 v PX 100", "HSET h1 f v", "PEXPIRE h1 100",
    "RPUSH l1 a", "PEXPIRE l1 100", "SET k2 v PX 100", "SET k3 v PX 100", "SET k4 v PX 100",
    "SET k5 v PX 100", "ZADD z1 1 a", "PEXPIRE z1 100", "SADD s1 a", "PEXPIRE s1 100",
    "SLEEP 150", "SET k1 v2", "HSET h1 g w", "LPUSH l1 b", "DEL k2",
    "MSET k3 a new1 b", "INCR k4", "RENAME new1 k5", "ZADD z1 2 b", "SADD s1 x y",
    "SET fresh 1", "HSET freshh a 1",
    "DEBUG SET-ACTIVE-EXPIRE 1", NULL};
static const char *const ev_overwrites[] = {
    "SADD a 1 2", "SADD b 2 3", "SUNIONSTORE d a b", "SUNIONSTORE d a b", "SET str x",
    "SUNIONSTORE str a b", "ZADD za 1 x", "ZUNIONSTORE zd 1 za", "ZUNIONSTORE zd 1 za",
    "ZRANGESTORE zd za 0 -1", "RPUSH l 3 1 2", "SORT l STORE sd", "SORT l STORE sd",
    "SET k1 v", "SET k2 w", "RENAME k1 k2", "SET k3 v", "COPY k2 k3 REPLACE", "HSET h f v",
    "COPY h k3 REPLACE", "SET k4 v", "MOVE k4 1", "SELECT 1", "SET k5 v", "SELECT 0",
    "SET k5 x", "MOVE k5 1", NULL};

/* The server's TIME in ms, or -1. */
static long long server_ms(redisContext *c)
{
    redisReply *r = redisCommand(c, "TIME");
    long long ms = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        ms = atoll(r->element[0]->str) * 1000 + atoll(r->element[1]->str) / 1000;
    freeReplyObject(r);
    return ms;
}

/* Runs script on p with notify-keyspace-events flags and a subscriber to every keyspace and
 * keyevent channel; the messages it received, concatenated, into *out (malloc'ed). */
static int events_of(const srvp *p, const char *flags, const char *const *script, char **out,
                     size_t *outlen)
{
    redisContext *c = sp_connect(p);
    conn *sub = conn_new(sp_raw_connect(p));
    static char buf[65536];
    size_t len = 0, cap = 65536;
    char *all = malloc(cap);
    if (!c || !sub || sub->fd < 0 || !all)
        return 0;
    freeReplyObject(redisCommand(c, "FLUSHALL"));
    freeReplyObject(redisCommand(c, "CONFIG SET notify-keyspace-events %s", flags));
    int ok = send_words(sub->fd, "PSUBSCRIBE __key*__:*") && take(sub, 1, buf, sizeof buf) &&
             send_words(sub->fd, "SUBSCRIBE end") && take(sub, 1, buf, sizeof buf);
    for (int i = 0; ok && script[i]; i++) {
        if (!strncmp(script[i], "SLEEP ", 6)) {
            long long until = server_ms(c) + atoi(script[i] + 6), now;
            while ((now = server_ms(c)) >= 0 && now < until)
                usleep(1000); /* (the server's clock, polled) */
        } else {
            freeReplyObject(redisCommand(c, script[i]));
        }
    }
    freeReplyObject(redisCommand(c, "PUBLISH end x"));
    const char end[] = "*3\r\n$7\r\nmessage\r\n$3\r\nend\r\n$1\r\nx\r\n";
    while (ok) {
        size_t n = take(sub, 1, buf, sizeof buf);
        if (!n || !strcmp(buf, end))
            break;
        if (len + n > cap && !(all = realloc(all, cap = 2 * (len + n))))
            return 0;
        memcpy(all + len, buf, n);
        len += n;
    }
    freeReplyObject(redisCommand(c, "CONFIG SET notify-keyspace-events %s", ""));
    redisFree(c);
    conn_close(sub);
    *out = all;
    *outlen = len;
    return ok;
}

static void events_as_redis(const char *flags, const char *const *script, const char *what)
{
    char *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    T_ASSERT(events_of(&g_ox, flags, script, &a, &la));
    T_ASSERT(events_of(&g_ref, flags, script, &b, &lb));
    size_t at = 0;
    while (at < la && at < lb && a[at] == b[at])
        at++;
    int same = la == lb && at == la;
    if (!same)
        fprintf(stderr, "%s (%s): first difference at byte %zu of %zu/%zu:\n  ox:    %.600s\n"
                "  redis: %.600s\n", what, flags, at, la, lb, a + (at > 200 ? at - 200 : 0),
                b + (at > 200 ? at - 200 : 0));
    /* the keys' times had passed (on both sides, when the same) */
    int expired = script != ev_expired || memmem(b, lb, "expired\r\n", 9) != NULL;
    free(a);
    free(b);
    T_ASSERT(same);
    T_ASSERT(lb > 0 || !strcmp(flags, ""));
    T_ASSERT(expired);
}

static void keyspace_events_are_redis_events(void)
{
    events_as_redis("KEA", ev_strings, "strings and generic");
    events_as_redis("KEA", ev_hashes_sets, "hashes and sets");
    events_as_redis("KEA", ev_lists, "lists");
    events_as_redis("KEA", ev_zsets, "sorted sets");
    events_as_redis("Kg", ev_strings, "strings and generic");
    events_as_redis("E$", ev_strings, "strings and generic");
    events_as_redis("Elz", ev_lists, "lists");
    events_as_redis("Eh", ev_hashes_sets, "hashes and sets");
    events_as_redis("", ev_zsets, "sorted sets");
    events_as_redis("KEA", ev_expired, "writes to expired keys");
    events_as_redis("KEAn", ev_expired, "writes to expired keys");
    events_as_redis("Exn", ev_expired, "writes to expired keys");
    events_as_redis("KEAn", ev_overwrites, "overwrites");
    events_as_redis("KEAn", ev_strings, "strings and generic");
    events_as_redis("KEAn", ev_hashes_sets, "hashes and sets");
    events_as_redis("KEAn", ev_lists, "lists");
    events_as_redis("KEAn", ev_zsets, "sorted sets");
}

/* A client blocked in BLMOVE src dst is served by another's LMOVE dst src: the events of
 * both commands in Redis's order ("new" included: the served command's come after the
 * command that woke it, each key's "new" before that key's own event). */
static void events_of_a_served_client_as_redis(void)
{
    char *out[2] = {NULL, NULL};
    size_t len[2] = {0, 0};
    const srvp *ps[2] = {&g_ox, &g_ref};
    static char buf[65536];
    for (int k = 0; k < 2; k++) {
        redisContext *a = sp_connect(ps[k]);
        conn *b = conn_new(sp_raw_connect(ps[k])), *sub = conn_new(sp_raw_connect(ps[k]));
        T_ASSERT(a && b && sub && b->fd >= 0 && sub->fd >= 0);
        freeReplyObject(redisCommand(a, "FLUSHALL"));
        freeReplyObject(redisCommand(a, "CONFIG SET notify-keyspace-events KEAn"));
        T_ASSERT(send_words(sub->fd, "PSUBSCRIBE __key*__:*") && take(sub, 1, buf, sizeof buf));
        T_ASSERT(send_words(sub->fd, "SUBSCRIBE end") && take(sub, 1, buf, sizeof buf));
        freeReplyObject(redisCommand(a, "RPUSH dst z"));
        T_ASSERT(send_words(b->fd, "BLMOVE src dst LEFT RIGHT 0"));
        uint64_t deadline = t_now_ms() + 10000;
        char v[32];
        while (strcmp(sp_info_field(a, "clients", "blocked_clients", v, sizeof v), "1") &&
               t_now_ms() < deadline)
            usleep(1000);
        freeReplyObject(redisCommand(a, "LMOVE dst src LEFT LEFT"));
        T_ASSERT(take(b, 1, buf, sizeof buf));
        T_EQ_STR(buf, "$1\r\nz\r\n");
        freeReplyObject(redisCommand(a, "PUBLISH end x"));
        out[k] = malloc(65536);
        T_ASSERT(out[k]);
        for (;;) {
            size_t n = take(sub, 1, buf, sizeof buf);
            T_ASSERT(n);
            if (strstr(buf, "$3\r\nend\r\n"))
                break;
            memcpy(out[k] + len[k], buf, n);
            len[k] += n;
        }
        freeReplyObject(redisCommand(a, "CONFIG SET notify-keyspace-events %s", ""));
        redisFree(a);
        conn_close(b);
        conn_close(sub);
    }
    int same = len[0] == len[1] && !memcmp(out[0], out[1], len[0]);
    if (!same)
        fprintf(stderr, "ox:    %.*s\nredis: %.*s\n", (int)len[0], out[0], (int)len[1], out[1]);
    free(out[0]);
    free(out[1]);
    T_ASSERT(same && len[1] > 0);
}

/* A key of 600 bytes and a short one, with a hash, expire: active expiry tells of each
 * (the whole long name, not its stored form). */
static void expired_keys_are_told(void)
{
    redisContext *c = sp_connect(&g_ox);
    conn *sub = conn_new(sp_raw_connect(&g_ox));
    static char buf[65536];
    char longk[601];
    T_ASSERT(c && sub && sub->fd >= 0);
    memset(longk, 'k', 600);
    longk[600] = '\0';
    T_CMD(c, "+OK", "CONFIG SET notify-keyspace-events Ex");
    T_ASSERT(send_words(sub->fd, "SUBSCRIBE __keyevent@0__:expired"));
    T_ASSERT(take(sub, 1, buf, sizeof buf));
    T_CMD(c, "+OK", "SET short v PX 20");
    T_CMD(c, "+OK", "SET %s v PX 20", longk);
    T_CMD(c, ":1", "HSET hexp f v");
    T_CMD(c, ":1", "PEXPIRE hexp 20");
    int got_short = 0, got_long = 0, got_hash = 0;
    for (int i = 0; i < 3; i++) {
        if (!take(sub, 1, buf, sizeof buf))
            T_FAIL("%d of 3 expired events came", i);
        const char *msg = buf + strlen("*3\r\n$7\r\nmessage\r\n$23\r\n__keyevent@0__:expired\r\n");
        got_short += !strcmp(msg, "$5\r\nshort\r\n");
        got_hash += !strcmp(msg, "$4\r\nhexp\r\n");
        got_long += !strncmp(msg, "$600\r\n", 6) && !strncmp(msg + 6, longk, 600);
    }
    T_ASSERT(got_short == 1 && got_long == 1 && got_hash == 1);
    T_CMD(c, "+OK", "CONFIG SET notify-keyspace-events %s", "");
    conn_close(sub);
    redisFree(c);
}

/* A write refused with -MISCONF (the log cannot be written) sends no event; the same write
 * once the disk is back does. */
static void a_refused_write_tells_nothing(void)
{
    srvp p = {0};
    if (start_faulty_argv(&p, "pubsub-fault", NULL))
        T_FAIL("server did not start");
    redisContext *c = sp_connect(&p);
    conn *sub = conn_new(sp_raw_connect(&p));
    static char buf[4096];
    T_ASSERT(c && sub && sub->fd >= 0);
    T_CMD(c, "+OK", "CONFIG SET notify-keyspace-events KEA");
    T_ASSERT(send_words(sub->fd, "PSUBSCRIBE __key*__:*"));
    T_ASSERT(take(sub, 1, buf, sizeof buf));
    T_ASSERT(fault_on("EIO log") == 0);
    redisReply *r = redisCommand(c, "SET refused v");
    int refused = r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "MISCONF", 7);
    freeReplyObject(r);
    r = redisCommand(c, "HSET refusedh f v");
    refused += r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "MISCONF", 7);
    freeReplyObject(r);
    fault_off();
    T_EQ_INT(refused, 2);
    T_ASSERT(quiet(sub, 200));
    T_CMD(c, "+OK", "SET accepted v");
    T_ASSERT(take(sub, 1, buf, sizeof buf));
    T_EQ_STR(buf, "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$23\r\n__keyspace@0__:accepted"
                  "\r\n$3\r\nset\r\n");
    conn_close(sub);
    redisFree(c);
    t_failed += sp_stop_or_dump(&p);
}

int main(void)
{
    T_RUN(servers_start);
    if (!g_ox.pid || !g_ref.pid)
        return T_MAIN_END();
    T_RUN(replies_are_redis_bytes);
    T_RUN(messages_reach_subscribers_on_every_thread);
    T_RUN(no_message_after_unsubscribing);
    T_RUN(subscribers_are_known_to_client_and_info);
    T_RUN(a_slow_subscriber_is_closed_at_its_limit);
    T_RUN(messages_wait_for_a_whole_exec_reply);
    T_RUN(nothing_comes_after_quit);
    T_RUN(keyspace_events_are_redis_events);
    T_RUN(events_of_a_served_client_as_redis);
    T_RUN(expired_keys_are_told);
    T_RUN(a_refused_write_tells_nothing);
    T_RUN(messages_waiting_for_a_busy_thread_are_bounded);
    t_failed += sp_stop_or_dump(&g_ox);
    sp_stop(&g_ref);
    return T_MAIN_END();
}
