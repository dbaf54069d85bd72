/* io.c — the I/O threads: one libevent loop each, each with its own listening sockets on
 * the same addresses (SO_REUSEPORT: the kernel spreads connections), the unix socket on
 * thread 0, and an eventfd through which the writer hands finished jobs back. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/thread.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"

static int listen_tcp(const char *addr, int port, int *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST};
    struct addrinfo *res;
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    if (strcmp(addr, "*") == 0)
        addr = NULL;
    int rc = getaddrinfo(addr, ports, &hints, &res);
    if (rc) {
        *err = EADDRNOTAVAIL;
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
        (res->ai_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one)) ||
        bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, srv.cfg.tcp_backlog)) {
        *err = errno;
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int listen_unix(const char *path, int perm)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, srv.cfg.tcp_backlog) ||
        (perm && chmod(path, (mode_t)perm))) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    srv_io *io = arg;
    (void)what;
    int is_unix = 0;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(lfd, (struct sockaddr *)&ss, &sl);
    is_unix = ss.ss_family == AF_UNIX;
    for (int i = 0; i < 64; i++) { /* bounded: let the other events run too */
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                srv_log(SRV_LOG_WARNING, "Accepting client connection: %s", strerror(errno));
            return;
        }
        if (!is_unix) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (srv.cfg.tcp_keepalive > 0)
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        }
        client_accept(io, fd, is_unix);
    }
}

static void on_completions(evutil_socket_t fd, short what, void *arg)
{
    srv_io *io = arg;
    uint64_t n;
    (void)what;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
        srv_log(SRV_LOG_WARNING, "eventfd read: %s", strerror(errno));
    pthread_mutex_lock(&io->cq_mu);
    srv_job *j = io->cq_head;
    io->cq_head = io->cq_tail = NULL;
    pthread_mutex_unlock(&io->cq_mu);
    while (j) {
        srv_job *next = j->next;
        client_job_done(j);
        j = next;
    }
}

static void on_cron(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    client_cron(arg);
}

void io_complete(srv_io *io, srv_job *head, srv_job *tail)
{
    pthread_mutex_lock(&io->cq_mu);
    if (io->cq_tail)
        io->cq_tail->next = head;
    else
        io->cq_head = head;
    io->cq_tail = tail;
    pthread_mutex_unlock(&io->cq_mu);
    uint64_t one = 1;
    if (write(io->cq_efd, &one, sizeof one) < 0)
        srv_log(SRV_LOG_WARNING, "eventfd write: %s", strerror(errno));
}

/* One io_ask_all question on its way round the I/O threads. */
typedef struct io_ask {
    srv_client *c;
    io_each_fn *each;
    io_done_fn *done;
    void *arg;
    atomic_int pending;     /* threads that have not answered yet */
    struct io_leg {         /* what each thread's callback is given */
        struct io_ask *ask;
        srv_io *io;
    } legs[];
} io_ask;

/* Back on the asking client's thread: every thread answered. */
static void ask_done_cb(evutil_socket_t fd, short what, void *p)
{
    io_ask *a = p;
    (void)fd;
    (void)what;
    if (!a->c->gone)
        a->done(a->c, a->arg);
    else
        a->done(NULL, a->arg); /* nobody to answer: done only releases arg */
    client_resume(a->c);
    free(a);
}

static void ask_each_cb(evutil_socket_t fd, short what, void *p)
{
    struct io_leg *leg = p;
    io_ask *a = leg->ask;
    (void)fd;
    (void)what;
    a->each(leg->io, a->arg);
    /* acq_rel: the last one sees what every thread wrote into arg. */
    if (atomic_fetch_sub_explicit(&a->pending, 1, memory_order_acq_rel) == 1 &&
        event_base_once(a->c->io->base, -1, EV_TIMEOUT, ask_done_cb, a, NULL))
        abort();
}

void io_ask_all(srv_client *c, io_each_fn *each, io_done_fn *done, void *arg)
{
    io_ask *a = malloc(sizeof *a + (size_t)srv.nio * sizeof a->legs[0]);
    if (!a)
        abort(); /* the server may abort on allocation failure */
    a->c = c;
    a->each = each;
    a->done = done;
    a->arg = arg;
    atomic_init(&a->pending, srv.nio);
    client_suspend(c);
    for (int i = 0; i < srv.nio; i++) {
        a->legs[i] = (struct io_leg){a, &srv.io[i]};
        if (event_base_once(srv.io[i].base, -1, EV_TIMEOUT, ask_each_cb, &a->legs[i], NULL))
            abort();
    }
}

static void *io_main(void *arg)
{
    srv_io *io = arg;
    char name[16];
    snprintf(name, sizeof name, "ox-io-%d", io->idx);
    pthread_setname_np(pthread_self(), name); /* for top -H, perf and gdb */
    event_base_dispatch(io->base);
    return NULL;
}

/* Opens io's listening sockets: every bind address, and the unix socket on thread 0.
 * Returns 0, or -1 after logging as redis-server does. */
static int io_listen(srv_io *io)
{
    const conf *c = &srv.cfg;
    if (c->port) {
        for (int b = 0; b < c->nbind; b++) {
            const char *addr = c->bind[b];
            int optional = addr[0] == '-';
            if (optional)
                addr++;
            int err = 0;
            int fd = listen_tcp(addr, c->port, &err);
            if (fd < 0) {
                if (optional && (err == EADDRNOTAVAIL || err == EAFNOSUPPORT ||
                                 err == EPROTONOSUPPORT || err == EINVAL))
                    continue;
                srv_log(SRV_LOG_WARNING,
                        "Warning: Could not create server TCP listening socket %s:%d: "
                        "bind: %s", addr, c->port, strerror(err));
                srv_log(SRV_LOG_WARNING, "Failed listening on port %d (TCP), aborting.",
                        c->port);
                return -1;
            }
            io->lfd[io->nlisten++] = fd;
        }
    }
    if (io->idx == 0 && c->unixsocket && *c->unixsocket) {
        int fd = listen_unix(c->unixsocket, c->unixsocketperm);
        if (fd < 0) {
            srv_log(SRV_LOG_WARNING, "Failed opening Unix socket: %s", strerror(errno));
            return -1;
        }
        io->lfd[io->nlisten++] = fd;
    }
    for (int i = 0; i < io->nlisten; i++) {
        io->lev[i] = event_new(io->base, io->lfd[i], EV_READ | EV_PERSIST, on_accept, io);
        if (!io->lev[i] || event_add(io->lev[i], NULL))
            return -1;
    }
    return 0;
}

int io_start(void)
{
    evthread_use_pthreads();
    srv.io = calloc((size_t)srv.nio, sizeof *srv.io);
    if (!srv.io)
        return -1;
    for (int i = 0; i < srv.nio; i++) {
        srv_io *io = &srv.io[i];
        io->idx = i;
        pthread_mutex_init(&io->cq_mu, NULL);
        io->base = event_base_new();
        io->cq_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (!io->base || io->cq_efd < 0 || io_listen(io))
            return -1;
        io->cq_ev = event_new(io->base, io->cq_efd, EV_READ | EV_PERSIST, on_completions, io);
        io->cron_ev = event_new(io->base, -1, EV_PERSIST, on_cron, io);
        struct timeval tv = {0, 100000};
        if (!io->cq_ev || !io->cron_ev || event_add(io->cq_ev, NULL) ||
            event_add(io->cron_ev, &tv))
            return -1;
    }
    for (int i = 0; i < srv.nio; i++)
        if (pthread_create(&srv.io[i].th, NULL, io_main, &srv.io[i]))
            return -1;
    return 0;
}

/* Runs on each I/O thread: stop accepting and stop reading requests. */
static void io_quiesce_cb(evutil_socket_t fd, short what, void *arg)
{
    srv_io *io = arg;
    (void)fd;
    (void)what;
    for (int i = 0; i < io->nlisten; i++) {
        event_free(io->lev[i]);
        io->lev[i] = NULL;
        close(io->lfd[i]);
    }
    io->nlisten = 0;
    for (srv_client *c = io->clients; c; c = c->next)
        if (c->rev)
            event_del(c->rev);
}

void io_stop(void)
{
    if (!srv.io)
        return;
    for (int i = 0; i < srv.nio; i++)
        if (srv.io[i].base)
            event_base_once(srv.io[i].base, -1, EV_TIMEOUT, io_quiesce_cb, &srv.io[i], NULL);
    /* Replies of the last batch are delivered by the loops, which end shortly after. */
    writer_stop();
    struct timeval grace = {0, 200000};
    for (int i = 0; i < srv.nio; i++)
        if (srv.io[i].base)
            event_base_loopexit(srv.io[i].base, &grace);
    for (int i = 0; i < srv.nio; i++) {
        srv_io *io = &srv.io[i];
        if (io->th)
            pthread_join(io->th, NULL);
        on_completions(io->cq_efd, 0, io); /* anything the writer handed back late */
        client_close_all(io);
        for (int l = 0; l < io->nlisten; l++) {
            event_free(io->lev[l]);
            close(io->lfd[l]);
        }
        if (io->cq_ev)
            event_free(io->cq_ev);
        if (io->cron_ev)
            event_free(io->cron_ev);
        if (io->cq_efd >= 0)
            close(io->cq_efd);
        if (io->snap)
            ox_snapshot_end(io->snap);
        free(io->db);
        if (io->base)
            event_base_free(io->base);
        pthread_mutex_destroy(&io->cq_mu);
    }
    free(srv.io);
    srv.io = NULL;
    if (srv.cfg.unixsocket && *srv.cfg.unixsocket)
        unlink(srv.cfg.unixsocket);
}
