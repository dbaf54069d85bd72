/* Listening: a port another process holds stops the server at start, as redis-server does
 * (every I/O thread listens with SO_REUSEPORT, which by itself would let it share the port
 * silently); CONFIG SET port and bind move every thread's listeners at runtime, keep the
 * unix socket, and leave everything as it was when the new address cannot be had. */
#include <sys/un.h>

#include "srv_util.h"

T_MAIN_BEGIN;

/* 1 if a TCP connection to 127.0.0.1:port is accepted. */
static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* A plain listening socket on a free loopback port (no SO_REUSEPORT), or -1. */
static int squat(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 4) ||
        getsockname(fd, (struct sockaddr *)&sa, &sl)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Runs the server on port with its own dir and waits (deadline 15 s) for it to exit: its
 * exit status, or -1 if it kept running (then it is killed). */
static int run_until_exit(int port, const char *name, char *log, size_t loglen)
{
    const char *base = t_dir();
    char dir[512], ports[16];
    snprintf(dir, sizeof dir, "%s/%s", base, name);
    snprintf(log, loglen, "%s/%s.log", base, name);
    snprintf(ports, sizeof ports, "%d", port);
    mkdir(dir, 0755);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *lf = fopen(log, "w");
        if (lf) {
            dup2(fileno(lf), 1);
            dup2(fileno(lf), 2);
        }
        sp_die_with_parent();
        execl(OX_SERVER_BIN, OX_SERVER_BIN, "--port", ports, "--dir", dir, (char *)NULL);
        _exit(127);
    }
    uint64_t deadline = t_now_ms() + 15000;
    int status;
    while (t_now_ms() < deadline) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        usleep(10000); /* polls the child's state against the deadline */
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static int log_has(const char *log, const char *text)
{
    FILE *f = fopen(log, "r");
    char line[1024];
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    if (f)
        fclose(f);
    return found;
}

static void a_taken_port_stops_the_server(void)
{
    srvp a = {0};
    char log[600];
    T_EQ_INT(sp_start(&a, "first"), 0);
    /* Another oxistore (same user: SO_REUSEPORT alone would let it in) and a plain socket. */
    T_EQ_INT(run_until_exit(a.port, "second", log, sizeof log), 1);
    T_ASSERT(log_has(log, "Could not create server TCP listening socket 127.0.0.1:"));
    T_ASSERT(log_has(log, "bind: Address already in use"));
    int port, fd = squat(&port);
    T_ASSERT(fd >= 0);
    T_EQ_INT(run_until_exit(port, "third", log, sizeof log), 1);
    close(fd);
    redisContext *c = sp_connect(&a);
    T_ASSERT(c);
    T_CMD(c, "+PONG", "PING");
    redisFree(c);
    T_EQ_INT(sp_stop_or_dump(&a), 0);
}

static void config_set_port_and_bind_move_every_listener(void)
{
    srvp p = {0};
    char sock[600];
    snprintf(sock, sizeof sock, "%s/listen.sock",
             t_dir());
    const char *extra[] = {"--io-threads", "4", "--unixsocket", sock, NULL};
    T_EQ_INT(sp_start_argv(&p, "moving", extra), 0);
    int old = p.port, fresh = sp_free_port();
    redisContext *c = sp_connect(&p);
    T_ASSERT(c);
    T_CMD(c, "+OK", "CONFIG SET port %d", fresh);
    p.port = fresh;
    /* Every thread answers on the new port (the kernel spreads 40 connections over 4). */
    for (int i = 0; i < 40; i++) {
        redisContext *k = sp_connect(&p);
        T_ASSERT(k);
        T_CMD(k, "+PONG", "PING");
        redisFree(k);
    }
    T_EQ_INT(port_open(old), 0);
    struct timeval tv = {5, 0};
    redisContext *u = redisConnectUnixWithTimeout(sock, tv);
    T_ASSERT(u && !u->err);
    T_CMD(u, "+PONG", "PING");
    redisFree(u);

    /* An address that cannot be had changes nothing. */
    int taken, fd = squat(&taken);
    T_ASSERT(fd >= 0);
    T_CMD(c, "-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen "
             "on this port. Check server logs.", "CONFIG SET port %d", taken);
    close(fd);
    T_CMD(c, "-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind "
             "to specified addresses.", "CONFIG SET bind %s", "127.0.0.1 192.0.2.1");
    redisReply *r = redisCommand(c, "CONFIG GET bind");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    T_EQ_STR(r->element[1]->str, "127.0.0.1 -::1");
    freeReplyObject(r);
    r = redisCommand(c, "CONFIG GET port");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    T_EQ_INT(atoi(r->element[1]->str), fresh);
    freeReplyObject(r);
    T_EQ_INT(port_open(fresh), 1);

    /* The same port again, with a new bind list: still served. */
    T_CMD(c, "+OK", "CONFIG SET bind 127.0.0.1 port %d", fresh);
    redisContext *k = sp_connect(&p);
    T_ASSERT(k);
    T_CMD(k, "+PONG", "PING");
    redisFree(k);
    redisFree(c);
    T_EQ_INT(sp_stop_or_dump(&p), 0);
}

int main(void)
{
    T_RUN(a_taken_port_stops_the_server);
    T_RUN(config_set_port_and_bind_move_every_listener);
    return T_MAIN_END();
}
