/* protected-mode, as redis-server 7.0.15 behaves (checked against it): with no password a
 * client is served only from exactly 127.0.0.1, ::1 or the unix socket; any other peer gets
 * the -DENIED text and is closed, whatever bind says. requirepass or protected-mode no lets
 * the others in.
 *
 * "Other peer" needs no privilege: Linux routes all of 127.0.0.0/8 over lo, so a client
 * bound to 127.0.0.2 reaches 127.0.0.1, and Redis compares the peer's address text with
 * "127.0.0.1" and "::1" only. Where 127.0.0.2 cannot be bound the tests say SKIP. */
#include <netinet/in.h>
#include <sys/un.h>

#include "srv_util.h"

T_MAIN_BEGIN;

static const char denied[] =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from "
    "the loopback interface. If you want to connect from external computers to Redis you "
    "may adopt one of the following solutions: 1) Just disable protected mode sending the "
    "command 'CONFIG SET protected-mode no' from the loopback interface by connecting to "
    "Redis from the same host the server is running, however MAKE SURE Redis is not "
    "publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change "
    "permanent. 2) Alternatively you can just disable the protected mode by editing the "
    "Redis configuration file, and setting the protected mode option to 'no', and then "
    "restarting the server. 3) If you started the server manually just for testing, restart "
    "it with the '--protected-mode no' option. 4) Setup a an authentication password for the "
    "default user. NOTE: You only need to do one of the above things in order for the "
    "server to start accepting connections from the outside.\r\n";

/* A TCP connection to the server from source address src ("127.0.0.2", "::1"…). -2 when
 * the source cannot be used here (no such address), -1 on another failure. */
static int connect_from(const srvp *p, const char *src)
{
    int v6 = strchr(src, ':') != NULL;
    struct sockaddr_storage from = {0}, to = {0};
    socklen_t len;
    if (v6) {
        struct sockaddr_in6 *f = (struct sockaddr_in6 *)&from, *t = (struct sockaddr_in6 *)&to;
        f->sin6_family = t->sin6_family = AF_INET6;
        inet_pton(AF_INET6, src, &f->sin6_addr);
        t->sin6_addr = in6addr_loopback;
        t->sin6_port = htons((uint16_t)p->port);
        len = sizeof *f;
    } else {
        struct sockaddr_in *f = (struct sockaddr_in *)&from, *t = (struct sockaddr_in *)&to;
        f->sin_family = t->sin_family = AF_INET;
        inet_pton(AF_INET, src, &f->sin_addr);
        t->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        t->sin_port = htons((uint16_t)p->port);
        len = sizeof *f;
    }
    int fd = socket(from.ss_family, SOCK_STREAM, 0);
    struct timeval tv = {10, 0};
    if (fd < 0)
        return v6 ? -2 : -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (bind(fd, (struct sockaddr *)&from, len)) {
        int e = errno;
        close(fd);
        return e == EADDRNOTAVAIL || e == EAFNOSUPPORT ? -2 : -1;
    }
    if (connect(fd, (struct sockaddr *)&to, len)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* 1 when this machine cannot bind 127.0.0.2 (then the tests that need it say SKIP). */
static int g_no_other;

static int other_unusable(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "127.0.0.2", &sa.sin_addr);
    int bad = fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0;
    if (fd >= 0)
        close(fd);
    return bad;
}

#define SKIP_WITHOUT_OTHER()                                                            \
    do {                                                                                \
        if (g_no_other) {                                                               \
            printf("SKIP %s: 127.0.0.2 cannot be bound here\n", t_current);             \
            return;                                                                     \
        }                                                                               \
    } while (0)

/* Connects from src without sending anything, reads to EOF: the whole -DENIED text, then
 * the close. (Sending first would race the server's close into a reset.) */
static void denied_from(const srvp *p, const char *src)
{
    int fd = connect_from(p, src);
    T_ASSERT(fd >= 0);
    static char got[4096];
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof got && (r = read(fd, got + n, sizeof got - 1 - n)) > 0)
        n += (size_t)r;
    got[n] = '\0';
    int eof = read(fd, got + n, 1) == 0;
    close(fd);
    T_EQ_STR(got, denied);
    T_ASSERT(eof);
}

static void served_from(const srvp *p, const char *src)
{
    int fd = connect_from(p, src);
    if (fd == -2) {
        printf("SKIP %s from %s: no such address here\n", t_current, src);
        return;
    }
    T_ASSERT(fd >= 0);
    T_RAW(fd, "PING\r\n", "+PONG\r\n");
    close(fd);
}

static long long rejected_connections(const srvp *p)
{
    redisContext *c = sp_connect(p);
    redisReply *r = c ? redisCommand(c, "INFO stats") : NULL;
    const char *f = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "rejected_connections:")
                                                       : NULL;
    long long v = f ? strtoll(f + 21, NULL, 10) : -1;
    freeReplyObject(r);
    if (c)
        redisFree(c);
    return v;
}

static int start(srvp *p, const char *name, const char *const *extra)
{
    if (sp_start_argv(p, name, extra) == 0)
        return 0;
    sp_dump_log(p);
    return -1;
}

static srvp g_def;
static char g_sock[600];

static void default_protects_all_but_127_0_0_1_and_ipv6_loopback(void)
{
    const char *base = t_dir();
    snprintf(g_sock, sizeof g_sock, "%s/pm.sock", base);
    const char *extra[] = {"--unixsocket", g_sock, NULL};
    if (start(&g_def, "pm-default", extra))
        T_FAIL("server did not start");
    served_from(&g_def, "127.0.0.1");
    served_from(&g_def, "::1");
    T_EQ_INT(rejected_connections(&g_def), 0);
    SKIP_WITHOUT_OTHER();
    denied_from(&g_def, "127.0.0.2");
    denied_from(&g_def, "127.0.0.2");
    T_EQ_INT(rejected_connections(&g_def), 2);
}

static void unix_socket_counts_as_local(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    T_ASSERT(fd >= 0 && strlen(g_sock) < sizeof sa.sun_path);
    memcpy(sa.sun_path, g_sock, strlen(g_sock) + 1);
    T_ASSERT(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    T_RAW(fd, "PING\r\n", "+PONG\r\n");
    close(fd);
}

static void config_set_protected_mode_no_lets_others_in(void)
{
    redisContext *c = sp_connect(&g_def);
    T_ASSERT(c);
    T_CMD(c, "+OK", "CONFIG SET protected-mode no");
    redisFree(c);
    SKIP_WITHOUT_OTHER();
    served_from(&g_def, "127.0.0.2");
    T_EQ_INT(rejected_connections(&g_def), 2);
    T_EQ_INT(sp_stop(&g_def), 0);
}

/* Redis 6 let an explicit bind lift protection; 7.0 does not. */
static void explicit_bind_still_protects(void)
{
    SKIP_WITHOUT_OTHER();
    srvp p = {0};
    const char *extra[] = {"--bind", "127.0.0.1", NULL};
    if (start(&p, "pm-bind", extra))
        T_FAIL("server did not start");
    denied_from(&p, "127.0.0.2");
    served_from(&p, "127.0.0.1");
    T_EQ_INT(rejected_connections(&p), 1);
    T_EQ_INT(sp_stop(&p), 0);
}

static void requirepass_serves_others_after_auth(void)
{
    SKIP_WITHOUT_OTHER();
    srvp p = {0};
    const char *extra[] = {"--requirepass", "s3cret", NULL};
    if (start(&p, "pm-pass", extra))
        T_FAIL("server did not start");
    int fd = connect_from(&p, "127.0.0.2");
    T_ASSERT(fd >= 0);
    T_RAW(fd, "PING\r\n", "-NOAUTH Authentication required.\r\n");
    T_RAW(fd, "AUTH s3cret\r\n", "+OK\r\n");
    T_RAW(fd, "PING\r\n", "+PONG\r\n");
    close(fd);
    T_EQ_INT(sp_stop(&p), 0);
}

static void protected_mode_no_serves_others(void)
{
    SKIP_WITHOUT_OTHER();
    srvp p = {0};
    const char *extra[] = {"--protected-mode", "no", NULL};
    if (start(&p, "pm-off", extra))
        T_FAIL("server did not start");
    served_from(&p, "127.0.0.2");
    T_EQ_INT(sp_stop(&p), 0);
}

int main(void)
{
    g_no_other = other_unusable();
    T_RUN(default_protects_all_but_127_0_0_1_and_ipv6_loopback);
    if (g_def.pid) {
        T_RUN(unix_socket_counts_as_local);
        T_RUN(config_set_protected_mode_no_lets_others_in);
    }
    sp_kill(&g_def); /* a failed test may have left it running */
    T_RUN(explicit_bind_still_protects);
    T_RUN(requirepass_serves_others_after_auth);
    T_RUN(protected_mode_no_serves_others);
    return T_MAIN_END();
}
