/* Limits and safety: requirepass (NOAUTH, WRONGPASS, HELLO AUTH), maxclients, the idle
 * timeout, the query buffer limit, the unix socket. */
#include <sys/un.h>

#include "srv_util.h"

T_MAIN_BEGIN;

static srvp g_srv;
static char g_sock[600];

/* Reads until EOF or the 10 s receive timeout; 1 if the peer closed (a reset counts: a
 * peer that closes with our bytes unread resets the connection). */
static int closed_by_peer(int fd)
{
    char b[256];
    for (;;) {
        ssize_t r = read(fd, b, sizeof b);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return 1;
        if (r < 0)
            return 0;
    }
}

/* A connection that AUTH accepted, retrying with a deadline: the server frees the slots of
 * closed connections when it notices them, a moment after our close(). */
static int auth_connect(void)
{
    uint64_t deadline = t_now_ms() + 10000;
    while (t_now_ms() < deadline) {
        int fd = sp_raw_connect(&g_srv);
        char got[128];
        if (fd >= 0 && sp_raw_roundtrip(fd, "AUTH s3cret\r\n", 13, "+OK\r\n", 5, got,
                                        sizeof got))
            return fd;
        if (fd >= 0)
            close(fd);
        usleep(10000);
    }
    return -1;
}

static void server_starts_with_limits(void)
{
    const char *base = t_dir();
    snprintf(g_sock, sizeof g_sock, "%s/ox.sock", base);
    const char *extra[] = {"--requirepass", "s3cret", "--maxclients", "4", "--timeout", "1",
                           "--client-query-buffer-limit", "1mb", "--unixsocket", g_sock,
                           NULL};
    if (sp_start_argv(&g_srv, "limits", extra)) {
        sp_dump_log(&g_srv);
        T_FAIL("server did not start");
    }
}

static void requirepass_refuses_until_auth(void)
{
    int fd = sp_raw_connect(&g_srv);
    T_ASSERT(fd >= 0);
    T_RAW(fd, "GET k\r\n", "-NOAUTH Authentication required.\r\n");
    /* SHUTDOWN is not no-auth in Redis: an unauthenticated client cannot stop the server. */
    T_RAW(fd, "SHUTDOWN\r\n", "-NOAUTH Authentication required.\r\n");
    T_RAW(fd, "AUTH wrong\r\n", "-WRONGPASS invalid username-password pair or user is "
                                "disabled.\r\n");
    T_RAW(fd, "AUTH s3cret\r\n", "+OK\r\n");
    T_RAW(fd, "SET k v\r\n", "+OK\r\n");
    T_RAW(fd, "GET k\r\n", "$1\r\nv\r\n");
    close(fd);
    fd = sp_raw_connect(&g_srv);
    T_ASSERT(fd >= 0);
    T_RAW(fd, "HELLO 2 AUTH default nope\r\n", "-WRONGPASS invalid username-password pair or "
                                               "user is disabled.\r\n");
    T_RAW(fd, "HELLO 2 AUTH default s3cret SETNAME me\r\n", "*14\r\n$6\r\nserver\r\n");
    close(fd);
}

static void maxclients_refuses_the_one_too_many(void)
{
    int fds[4];
    for (int i = 0; i < 4; i++)
        T_ASSERT((fds[i] = auth_connect()) >= 0);
    int extra = sp_raw_connect(&g_srv);
    T_ASSERT(extra >= 0);
    T_RAW(extra, "PING\r\n", "-ERR max number of clients reached\r\n");
    T_ASSERT(closed_by_peer(extra));
    close(extra);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
}

static void idle_clients_are_closed_after_timeout(void)
{
    int fd = auth_connect();
    T_ASSERT(fd >= 0);
    uint64_t t0 = t_now_ms();
    T_ASSERT(closed_by_peer(fd)); /* the read blocks until the server closes it */
    T_ASSERT(t_now_ms() - t0 >= 900);
    close(fd);
}

static void query_buffer_limit_closes_the_client(void)
{
    int fd = auth_connect();
    T_ASSERT(fd >= 0);
    /* A bulk that claims 3 MB and sends 2 MB of it: over the 1 MB limit, never complete. */
    const char *head = "*2\r\n$4\r\nECHO\r\n$3000000\r\n";
    T_ASSERT(write(fd, head, strlen(head)) == (ssize_t)strlen(head));
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 32; i++)
        if (write(fd, chunk, sizeof chunk) < 0)
            break; /* closed already */
    T_ASSERT(closed_by_peer(fd));
    close(fd);
}

static void unix_socket_serves_redis_cli(void)
{
    char cmd[800], out[64] = {0};
    snprintf(cmd, sizeof cmd, "redis-cli -s %s -a s3cret --no-auth-warning GET k", g_sock);
    FILE *f = popen(cmd, "r");
    T_ASSERT(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    T_EQ_INT(pclose(f), 0);
    T_EQ_STR(out, "v\n");
}

int main(void)
{
    T_RUN(server_starts_with_limits);
    if (!g_srv.pid)
        return T_MAIN_END();
    T_RUN(requirepass_refuses_until_auth);
    T_RUN(maxclients_refuses_the_one_too_many);
    T_RUN(idle_clients_are_closed_after_timeout);
    T_RUN(query_buffer_limit_closes_the_client);
    T_RUN(unix_socket_serves_redis_cli);
    int rc = sp_stop(&g_srv);
    if (rc != 0) {
        sp_dump_log(&g_srv);
        t_failed++;
    }
    return T_MAIN_END();
}
