/* Pub/Sub: SUBSCRIBE PSUBSCRIBE SSUBSCRIBE and their UN- forms, PUBLISH SPUBLISH, PUBSUB,
 * byte for byte as the reference redis-server 7.0 answers them in RESP2 and RESP3;
 * messages between clients on different I/O threads, in order; no message after an
 * unsubscription; a slow subscriber closed at client-output-buffer-limit pubsub; CLIENT
 * LIST/KILL and INFO know subscribers. */
#include <sys/socket.h>

#include "srv_util.h"

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
    T_ASSERT(sp_start_redis(&g_ref, "pubsub-ref") == 0);
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
        {"SSUBSCRIBE q", 1}, {"SPUBLISH q x", 1}, {"QUIT", 1},
    };
    static const step resp3[] = {
        {"SUBSCRIBE a", 1}, {"GET x", 1}, {"PING", 1}, {"PUBLISH a hello", 2},
        {"PSUBSCRIBE a*", 1}, {"PUBLISH a x", 3}, {"PUBLISH ab y", 2},
        {"PUBSUB NUMSUB a b", 1}, {"PUBSUB NUMPAT", 1}, {"PUBSUB CHANNELS", 1},
        {"PUBSUB CHANNELS a*", 1}, {"PUBSUB CHANNELS z*", 1}, {"PUBSUB SHARDCHANNELS", 1},
        {"PUBSUB SHARDNUMSUB a", 1}, {"SPUBLISH a y", 1}, {"SSUBSCRIBE a", 1},
        {"SPUBLISH a z", 2}, {"PUBLISH a w", 3}, {"UNSUBSCRIBE a", 1}, {"PUBLISH a v", 2},
        {"PUNSUBSCRIBE", 1}, {"SUNSUBSCRIBE a", 1}, {"PUBLISH a u", 1}, {"RESET", 1},
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
    t_failed += sp_stop_or_dump(&g_ox);
    sp_stop(&g_ref);
    return T_MAIN_END();
}
