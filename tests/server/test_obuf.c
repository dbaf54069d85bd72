/* client-output-buffer-limit for normal clients: a client that pipelines GETs of a large
 * value and never reads is closed at once past the hard limit, or once it stayed past the
 * soft limit for longer than soft-seconds; a client that reads its replies is not; the
 * others are served throughout, and the server's memory does not follow the pipeline.
 * redis-server 7.0 with the same settings does the same (closes at once with omem 5.1 MB of
 * a 4 MB hard limit; after 1.6-1.9 s with a 2 MB soft limit of 1 s). */
#include <netinet/in.h>

#include "srv_util.h"

T_MAIN_BEGIN;

#define BIG (1000 * 1000) /* the value's size */
#define HARD_GETS 200     /* 200 MB of replies if nothing stopped them */
#define SOFT_GETS 30

static srvp g_srv;
static redisContext *g_ctl;

/* One server thread: CLIENT LIST lists the clients of the caller's I/O thread only. */
static void server_starts(void)
{
    const char *extra[] = {"--io-threads", "1", "--client-output-buffer-limit", "normal 4mb 2mb 1",
                           NULL};
    if (sp_start_argv(&g_srv, "obuf", extra)) {
        sp_dump_log(&g_srv);
        T_FAIL("server did not start");
    }
    T_ASSERT((g_ctl = sp_connect(&g_srv)) != NULL);
    static char big[BIG];
    memset(big, 'x', sizeof big);
    T_CMD(g_ctl, "+OK", "SET big %b", big, sizeof big);
}

/* A connection with a small receive buffer (the kernel holds little of what we never read),
 * and its client id. -1 on failure. */
static int victim_connect(long long *id)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rcvbuf = 65536;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_srv.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {10, 0};
    char got[32];
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && write(fd, "CLIENT ID\r\n", 11) == 11)
        n = read(fd, got, sizeof got - 1);
    if (n < 4 || got[0] != ':') {
        close(fd);
        return -1;
    }
    got[n] = '\0';
    *id = strtoll(got + 1, NULL, 10);
    return fd;
}

static int send_gets(int fd, int n)
{
    static const char get[] = "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
    for (int i = 0; i < n; i++)
        if (write(fd, get, sizeof get - 1) != (ssize_t)(sizeof get - 1))
            return -1;
    return 0;
}

/* omem of client id in CLIENT LIST, or -1 when it is not listed (closed). */
static long long client_omem(long long id)
{
    redisReply *r = redisCommand(g_ctl, "CLIENT LIST");
    long long omem = -1;
    char key[32];
    snprintf(key, sizeof key, "id=%lld ", id);
    if (r && r->type == REDIS_REPLY_STRING) {
        for (const char *line = r->str; line && *line; line = strchr(line, '\n')) {
            if (*line == '\n')
                line++;
            if (strncmp(line, key, strlen(key)) == 0) {
                const char *m = strstr(line, " omem=");
                omem = m ? strtoll(m + 6, NULL, 10) : -1;
                break;
            }
        }
    }
    freeReplyObject(r);
    return omem;
}

static long long info_field(const char *section, const char *field)
{
    redisReply *r = redisCommand(g_ctl, "INFO %s", section);
    long long v = -1;
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, field) : NULL;
    if (p)
        v = strtoll(p + strlen(field), NULL, 10);
    freeReplyObject(r);
    return v;
}

/* Reads until EOF or reset: the bytes that came. -1 if the 10 s receive timeout passed. */
static long long drain_until_closed(int fd)
{
    static char b[1 << 16];
    long long total = 0;
    for (;;) {
        ssize_t r = read(fd, b, sizeof b);
        if (r > 0) {
            total += r;
            continue;
        }
        if (r == 0 || errno == ECONNRESET)
            return total;
        return -1;
    }
}

/* Lines of the server log that contain s. */
static int log_count(const char *s)
{
    FILE *f = fopen(g_srv.log, "r");
    char line[1024];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, s) != NULL;
    if (f)
        fclose(f);
    return n;
}

static void other_client_is_served(void)
{
    T_CMD(g_ctl, "+OK", "SET other v");
    T_CMD(g_ctl, "$1 v", "GET other");
}

static void hard_limit_closes_a_client_that_never_reads(void)
{
    long long mem0 = info_field("memory", "used_memory:");
    long long id;
    int fd = victim_connect(&id);
    T_ASSERT(fd >= 0);
    T_ASSERT(send_gets(fd, HARD_GETS) == 0);
    uint64_t deadline = t_now_ms() + 10000;
    while (client_omem(id) >= 0 && t_now_ms() < deadline)
        usleep(5000); /* polls CLIENT LIST until the victim is gone */
    T_ASSERT(client_omem(id) < 0);
    long long got = drain_until_closed(fd);
    close(fd);
    T_ASSERT(got >= 0);
    /* What reached us is what the socket buffers held, far from every reply. */
    T_ASSERT(got < (long long)(HARD_GETS / 4) * BIG);
    long long grew = info_field("memory", "used_memory:") - mem0;
    printf("hard: victim got %lld of %lld reply bytes; server memory grew %lld bytes\n", got,
           (long long)HARD_GETS * (BIG + 12), grew);
    T_ASSERT(grew < (64LL << 20)); /* not the 200 MB the replies add up to */
    T_EQ_INT(log_count("scheduled to be closed ASAP for overcoming of output buffer limits."),
             1);
    other_client_is_served();
    T_CMD(g_ctl, ":1000000", "STRLEN big");
}

static void soft_limit_closes_after_soft_seconds(void)
{
    T_CMD(g_ctl, "+OK", "CONFIG SET client-output-buffer-limit %s", "normal 0 2mb 1");
    long long id;
    int fd = victim_connect(&id);
    T_ASSERT(fd >= 0);
    uint64_t t0 = t_now_ms();
    T_ASSERT(send_gets(fd, SOFT_GETS) == 0);
    long long omem, max_omem = 0;
    int served = 0;
    uint64_t deadline = t0 + 10000;
    while ((omem = client_omem(id)) >= 0 && t_now_ms() < deadline) {
        if (omem > max_omem)
            max_omem = omem;
        if (!served++)
            other_client_is_served(); /* while the victim holds megabytes of output */
        usleep(20000);
    }
    uint64_t gone_ms = t_now_ms() - t0;
    T_ASSERT(omem < 0);
    printf("soft: victim closed after %llu ms, omem up to %lld bytes\n",
           (unsigned long long)gone_ms, max_omem);
    T_ASSERT(max_omem > 2 * 1024 * 1024); /* it was past the soft limit… */
    T_ASSERT(gone_ms >= 1000);           /* …for longer than soft-seconds before the close */
    T_ASSERT(drain_until_closed(fd) >= 0);
    close(fd);
    T_EQ_INT(log_count("closed for overcoming of output buffer limits."), 1);
    other_client_is_served();
}

/* Past the soft limit for a moment only: the client reads, the output drains, it stays. */
static void soft_limit_spares_a_client_that_reads(void)
{
    long long id;
    int fd = victim_connect(&id);
    T_ASSERT(fd >= 0);
    T_ASSERT(send_gets(fd, SOFT_GETS) == 0);
    static const char head[] = "$1000000\r\n";
    size_t want = (size_t)SOFT_GETS * (sizeof head - 1 + BIG + 2), got = 0;
    static char b[1 << 16];
    while (got < want) {
        ssize_t r = read(fd, b, sizeof b);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    T_EQ_U64(got, want);
    T_ASSERT(client_omem(id) >= 0);
    T_RAW(fd, "PING\r\n", "+PONG\r\n");
    close(fd);
    T_EQ_INT(log_count("closed for overcoming of output buffer limits."), 1);
}

int main(void)
{
    T_RUN(server_starts);
    if (!g_srv.pid || !g_ctl)
        return T_MAIN_END();
    T_RUN(hard_limit_closes_a_client_that_never_reads);
    T_RUN(soft_limit_closes_after_soft_seconds);
    T_RUN(soft_limit_spares_a_client_that_reads);
    redisFree(g_ctl);
    int rc = sp_stop(&g_srv);
    if (rc != 0) {
        sp_dump_log(&g_srv);
        t_failed++;
    }
    return T_MAIN_END();
}
