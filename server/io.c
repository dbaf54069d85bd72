/* io.c — the I/O threads: one libevent loop each, each with its own listening sockets on
 * the same addresses (SO_REUSEPORT: the kernel spreads connections), the unix socket on
 * thread 0, and an eventfd through which the writer hands finished jobs back. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/thread.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "io.h"
#include "job.h"
#include "log.h"
#include "pubsub.h"
#include "stats.h"
#include "util.h"
#include "writer.h"

/* 1 if one of fds[0..n) is bound to sa. */
static int bound_to(const struct sockaddr *sa, const int *fds, int n)
{
    for (int i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockname(fds[i], (struct sockaddr *)&ss, &sl) || ss.ss_family != sa->sa_family)
            continue;
        if (sa->sa_family == AF_INET) {
            const struct sockaddr_in *a = (const void *)sa, *b = (const void *)&ss;
            if (a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr)
                return 1;
        } else if (sa->sa_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const void *)sa, *b = (const void *)&ss;
            if (a->sin6_port == b->sin6_port &&
                !memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr))
                return 1;
        }
    }
    return 0;
}

/* 0 if nobody listens on sa: a plain bind (without SO_REUSEPORT) succeeds. Every I/O thread
 * listens with SO_REUSEPORT, which lets any process of the same user share the port: a
 * second server on the same port would silently take half the connections, where
 * redis-server fails with "Address already in use". Else -1 with errno. */
static int probe_free(const struct addrinfo *res)
{
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc = -1;
    if (fd >= 0 && !setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) &&
        (res->ai_family != AF_INET6 ||
         !setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one)))
        rc = bind(fd, res->ai_addr, res->ai_addrlen);
    int e = errno;
    if (fd >= 0)
        close(fd);
    errno = e;
    return rc;
}

/* 1 if sa is this server's already: one of the TCP listeners in force (thread 0 has
 * them all) or one of peers[0..npeers), opened for the same new configuration. */
static int held_by_us(const struct sockaddr *sa, const int *peers, int npeers)
{
    return (srv.io && bound_to(sa, srv.io[0].lfd, srv.io[0].ntcp)) ||
           bound_to(sa, peers, npeers);
}

static int listen_tcp(const char *addr, int port, const int *peers, int npeers, int *err)
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
    if (!held_by_us(res->ai_addr, peers, npeers) && probe_free(res)) {
        *err = errno;
        freeaddrinfo(res);
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

/* Takes the jobs the writer handed back and finishes them, then writes the replies. */
static void io_drain(srv_io *io)
{
    pthread_mutex_lock(&io->cq_mu);
    srv_job *j = io->cq_head;
    io->cq_head = io->cq_tail = NULL;
    pthread_mutex_unlock(&io->cq_mu);
    while (j) {
        srv_job *next = j->next;
        client_job_done(j);
        j = next;
    }
    client_flush_queued(io);
}

static void on_completions(evutil_socket_t fd, short what, void *arg)
{
    srv_io *io = arg;
    uint64_t n;
    (void)what;
    atomic_store_explicit(&io->idle, 0, memory_order_relaxed);
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
        srv_log(SRV_LOG_WARNING, "eventfd read: %s", strerror(errno));
    io_drain(io);
}

void io_submit(srv_io *io, srv_job *head, srv_job *tail)
{
    if (io->pend_tail)
        io->pend_tail->next = head;
    else
        io->pend_head = head;
    io->pend_tail = tail;
}

/* Hands the round's jobs to the writer. */
static void io_submit_pending(srv_io *io)
{
    if (!io->pend_head)
        return;
    srv_job *h = io->pend_head, *t = io->pend_tail;
    io->pend_head = io->pend_tail = NULL;
    writer_submit(h, t);
}

#define IO_DRAINS_PER_ROUND 8 /* completion drains at a round's end before the loop's turn */

/* The end of an event-loop round: the jobs it queued go to the writer; completions that
 * came back meanwhile (the writer did not wake a busy thread) are finished here; then the
 * thread says it is idle, under cq_mu after finding the queue empty, so that the writer
 * wakes it for whatever it hands back later. */
static void io_round_end(srv_io *io)
{
    for (int rounds = 0;; rounds++) {
        io_submit_pending(io);
        if (rounds == IO_DRAINS_PER_ROUND) {
            /* Completions keep coming (a long pipeline): let the loop serve the other
             * sockets first, and come back through the eventfd. */
            uint64_t one = 1;
            if (write(io->cq_efd, &one, sizeof one) < 0)
                srv_log(SRV_LOG_WARNING, "eventfd write: %s", strerror(errno));
            return;
        }
        pthread_mutex_lock(&io->cq_mu);
        int empty = !io->cq_head;
        if (empty)
            atomic_store_explicit(&io->idle, 1, memory_order_relaxed);
        pthread_mutex_unlock(&io->cq_mu);
        if (empty)
            return;
        io_drain(io);
    }
}

/* After pubsub.c delivered this thread's inbox: write what it filled. */
static void on_pubsub_delivered(void *arg)
{
    client_flush_queued(arg);
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
    int idle = atomic_exchange_explicit(&io->idle, 0, memory_order_relaxed);
    pthread_mutex_unlock(&io->cq_mu);
    uint64_t one = 1;
    if (idle && write(io->cq_efd, &one, sizeof one) < 0)
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
    atomic_fetch_sub(&srv.io_asks, 1);
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
    io_ask *a = srv_xmalloc(sizeof *a + (size_t)srv.nio * sizeof a->legs[0]);
    a->c = c;
    a->each = each;
    a->done = done;
    a->arg = arg;
    atomic_init(&a->pending, srv.nio);
    atomic_fetch_add(&srv.io_asks, 1);
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
    job_thread_init(io);
    stats_thread_own();
    /* One round at a time (libevent 2.1 has no hook at a round's end). */
    while (event_base_loop(io->base, EVLOOP_ONCE) == 0 && !event_base_got_exit(io->base) &&
           !event_base_got_break(io->base))
        io_round_end(io);
    return NULL; /* jobs queued in the last round: the writer stopped, io_stop frees them */
}

/* Opens a listening socket for every bind address on srv.cfg's port (none for port 0)
 * into fds (room for CONF_MAX_BIND); peers[0..npeers) are another thread's, opened for the
 * same configuration. Returns how many, or -1 after logging as redis-server does, with
 * nothing left open. */
static int listen_tcp_all(int *fds, const int *peers, int npeers)
{
    const conf *c = &srv.cfg;
    int n = 0;
    for (int b = 0; c->port && b < c->nbind; b++) {
        const char *addr = c->bind[b];
        int optional = addr[0] == '-';
        if (optional)
            addr++;
        int err = 0;
        int fd = listen_tcp(addr, c->port, peers, npeers, &err);
        if (fd >= 0) {
            fds[n++] = fd;
            continue;
        }
        if (optional && (err == EADDRNOTAVAIL || err == EAFNOSUPPORT ||
                         err == EPROTONOSUPPORT || err == EINVAL))
            continue;
        srv_log(SRV_LOG_WARNING,
                "Warning: Could not create server TCP listening socket %s:%d: bind: %s", addr,
                c->port, strerror(err));
        srv_log(SRV_LOG_WARNING, "Failed listening on port %d (TCP), aborting.", c->port);
        while (n > 0)
            close(fds[--n]);
        return -1;
    }
    return n;
}

/* Watches io's listening sockets lfd[from..nlisten). The server may abort when libevent
 * cannot allocate. */
static void listen_watch(srv_io *io, int from)
{
    for (int i = from; i < io->nlisten; i++) {
        io->lev[i] = event_new(io->base, io->lfd[i], EV_READ | EV_PERSIST, on_accept, io);
        if (!io->lev[i] || event_add(io->lev[i], NULL))
            abort();
    }
}

/* Opens io's listening sockets: the TCP ones first, then the unix socket on thread 0.
 * Returns 0, or -1 after logging as redis-server does. */
static int io_listen(srv_io *io)
{
    const conf *c = &srv.cfg;
    if ((io->ntcp = listen_tcp_all(io->lfd, srv.io[0].lfd, io->idx ? srv.io[0].ntcp : 0)) < 0)
        return -1;
    io->nlisten = io->ntcp;
    if (io->idx == 0 && c->unixsocket && *c->unixsocket) {
        int fd = listen_unix(c->unixsocket, c->unixsocketperm);
        if (fd < 0) {
            srv_log(SRV_LOG_WARNING, "Failed opening Unix socket: %s", strerror(errno));
            return -1;
        }
        io->lfd[io->nlisten++] = fd;
    }
    listen_watch(io, 0);
    return 0;
}

/* ---- CONFIG SET port / bind: new listeners for every thread, swapped in on each ---- */

typedef struct io_rebind_req {
    io_done_fn *done;
    void *arg;
    struct { int n, fds[CONF_MAX_BIND]; } rows[]; /* one per I/O thread */
} io_rebind_req;

/* On each I/O thread: its TCP listeners give way to the new ones; the unix one stays. */
static void rebind_each(srv_io *io, void *arg)
{
    io_rebind_req *r = arg;
    if (atomic_load(&srv.shutdown)) {
        /* A CONFIG SET whose round ends after a shutdown began (a barrier job back after
         * the quiesce): io_quiesce_cb closed and freed the old listeners already, or will;
         * none opens anew. */
        while (r->rows[io->idx].n > 0)
            close(r->rows[io->idx].fds[--r->rows[io->idx].n]);
        return;
    }
    int n = r->rows[io->idx].n, unix_fd = io->nlisten > io->ntcp;
    struct event *unix_ev = unix_fd ? io->lev[io->ntcp] : NULL;
    if (unix_fd)
        unix_fd = io->lfd[io->ntcp];
    for (int i = 0; i < io->ntcp; i++) {
        event_free(io->lev[i]);
        close(io->lfd[i]);
    }
    memcpy(io->lfd, r->rows[io->idx].fds, (size_t)n * sizeof *io->lfd);
    io->ntcp = io->nlisten = n;
    listen_watch(io, 0);
    if (unix_ev) {
        io->lfd[io->nlisten] = unix_fd;
        io->lev[io->nlisten++] = unix_ev;
    }
}

static void rebind_done(srv_client *c, void *arg)
{
    io_rebind_req *r = arg;
    r->done(c, r->arg);
    free(r);
}

int io_rebind(srv_client *c, io_done_fn *done, void *arg)
{
    io_rebind_req *r = srv_xmalloc(sizeof *r + (size_t)srv.nio * sizeof r->rows[0]);
    r->done = done;
    r->arg = arg;
    for (int i = 0; i < srv.nio; i++) {
        if ((r->rows[i].n = listen_tcp_all(r->rows[i].fds, r->rows[0].fds, i ? r->rows[0].n : 0)) < 0) {
            while (i-- > 0)
                while (r->rows[i].n > 0)
                    close(r->rows[i].fds[--r->rows[i].n]);
            free(r);
            return -1;
        }
    }
    io_ask_all(c, rebind_each, rebind_done, r);
    return 0;
}

int io_start(void)
{
    evthread_use_pthreads();
    srv.io = calloc((size_t)srv.nio, sizeof *srv.io);
    if (!srv.io)
        return -1;
    for (int i = 0; i < srv.nio; i++) { /* io_stop may clean up after a failure below */
        srv.io[i].idx = i;
        srv.io[i].cq_efd = -1;
        pthread_mutex_init(&srv.io[i].cq_mu, NULL);
    }
    for (int i = 0; i < srv.nio; i++) {
        srv_io *io = &srv.io[i];
        io->base = event_base_new();
        io->cq_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (resp_buf_new(&io->scratch, 2, NULL) != RESP_OK) /* errors read the same in 3 */
            return -1;
        if (!io->base || io->cq_efd < 0 || io_listen(io))
            return -1;
        io->cq_ev = event_new(io->base, io->cq_efd, EV_READ | EV_PERSIST, on_completions, io);
        io->cron_ev = event_new(io->base, -1, EV_PERSIST, on_cron, io);
        struct timeval tv = {0, 100000};
        if (!io->cq_ev || !io->cron_ev || event_add(io->cq_ev, NULL) ||
            event_add(io->cron_ev, &tv) || pubsub_attach(i, io->base, on_pubsub_delivered, io))
            return -1;
    }
    for (int i = 0; i < srv.nio; i++)
        if (pthread_create(&srv.io[i].th, NULL, io_main, &srv.io[i]))
            return -1;
    return 0;
}

/* What io_stop asks of each I/O thread, and how the thread says it is done. */
struct io_quiesce {
    srv_io *io;
    sem_t *done;
};

/* Runs on each I/O thread: stop accepting and stop reading requests. Once it ran, the
 * thread queues nothing more for the writer (client_process sees srv.shutdown). */
static void io_quiesce_cb(evutil_socket_t fd, short what, void *arg)
{
    struct io_quiesce *q = arg;
    srv_io *io = q->io;
    (void)fd;
    (void)what;
    for (int i = 0; i < io->nlisten; i++) {
        event_free(io->lev[i]);
        io->lev[i] = NULL;
        close(io->lfd[i]);
    }
    io->nlisten = io->ntcp = 0;
    for (srv_client *c = io->clients; c; c = c->next)
        if (c->rev)
            event_del(c->rev);
    io_submit_pending(io); /* the writer stops once every thread got here */
    sem_post(q->done);
}

void io_stop(void)
{
    if (!srv.io)
        return;
    atomic_store(&srv.shutdown, 1); /* clients closing from now on leave the writer alone */
    /* The writer stops only once every thread ran its quiesce: a thread in the middle of
     * parsing a pipeline may queue a job until then, never after. */
    struct io_quiesce *q = srv_xcalloc((size_t)srv.nio, sizeof *q);
    sem_t quiet;
    int asked = 0;
    sem_init(&quiet, 0, 0);
    for (int i = 0; i < srv.nio; i++) {
        q[i] = (struct io_quiesce){&srv.io[i], &quiet};
        if (srv.io[i].base && srv.io[i].th &&
            event_base_once(srv.io[i].base, -1, EV_TIMEOUT, io_quiesce_cb, &q[i], NULL) == 0)
            asked++;
    }
    while (asked > 0)
        if (sem_wait(&quiet) == 0)
            asked--;
    sem_destroy(&quiet);
    free(q);
    /* Replies of the last batch are delivered by the loops, which end shortly after. */
    writer_stop();
    struct timeval grace = {0, 200000};
    for (int i = 0; i < srv.nio; i++)
        if (srv.io[i].base)
            event_base_loopexit(srv.io[i].base, &grace);
    for (int i = 0; i < srv.nio; i++)
        if (srv.io[i].th)
            pthread_join(srv.io[i].th, NULL);
    /* A CLIENT LIST/KILL round the end of the loops cut short: its legs and its end are
     * once-events on the bases; run them here, now that no thread does. A round's end may
     * start the next one (an EXEC with several CLIENT LIST/KILL), so go on while rounds
     * remain and some base has something to run. */
    while (atomic_load(&srv.io_asks) > 0) {
        int active = 0;
        for (int i = 0; i < srv.nio; i++)
            if (srv.io[i].base)
                event_base_loop(srv.io[i].base, EVLOOP_NONBLOCK);
        for (int i = 0; i < srv.nio; i++)
            if (srv.io[i].base)
                active += event_base_get_num_events(srv.io[i].base, EVENT_BASE_COUNT_ACTIVE);
        if (!active)
            break;
    }
    for (int i = 0; i < srv.nio; i++) {
        srv_io *io = &srv.io[i];
        if (io->cq_efd >= 0)
            on_completions(io->cq_efd, 0, io); /* anything the writer handed back late */
        job_free_list(io->pend_head); /* queued after the writer stopped: no reply */
        io->pend_head = io->pend_tail = NULL;
        job_cache_free(io);
        client_close_all(io);
        pubsub_detach(i);
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
        resp_buf_free(io->scratch);
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
