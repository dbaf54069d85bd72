/* client.c — a client's life on its I/O thread: read into the parser, dispatch each command
 * (inline, or as a job for the writer), write replies in request order, enforce limits. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "db.h"
#include "dbmap.h"
#include "io.h"
#include "job.h"
#include "log.h"
#include "multi.h"
#include "pubsub.h"
#include "repl.h"
#include "replica.h"
#include "script.h"
#include "stats.h"
#include "util.h"

#define READ_CHUNK 16384
#define READS_PER_EVENT 16
#define IOV_MAX_SEND 64

/* A client's commands in flight to the writer (jobs, their bytes): past either bound its
 * socket is not read, nor its buffered input parsed, until half of them came back. So a
 * pipeline of any length (redis-cli --pipe) costs bounded memory, and the sender waits on
 * TCP's flow control rather than the server queueing its whole input. */
#define PIPE_MAX_JOBS 4096
#define PIPE_MAX_BYTES (32u << 20)

static int pipe_full(const srv_client *c)
{
    return c->inflight >= PIPE_MAX_JOBS || c->inflight_bytes >= PIPE_MAX_BYTES;
}

static int pipe_drained(const srv_client *c)
{
    return c->inflight <= PIPE_MAX_JOBS / 2 && c->inflight_bytes <= PIPE_MAX_BYTES / 2;
}

/* Redis 7.0.15's text byte for byte, its "Setup a an" included: clients may match on it. */
static const char denied_msg[] =
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

static void client_process(srv_client *c);
static int client_flush(srv_client *c);

static void addr_text(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s->sin_addr, host, sizeof host);
        port = ntohs(s->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host);
        port = ntohs(s->sin6_port);
    } else {
        snprintf(buf, cap, "%s:0", srv.cfg.unixsocket ? srv.cfg.unixsocket : "");
        return;
    }
    snprintf(buf, cap, "%s:%d", host, port);
}

/* Protected mode's idea of local, Redis 7.0's: the peer is exactly 127.0.0.1 or ::1 (it
 * compares the address text), or a unix socket. 127.0.0.2 is not local to Redis. */
static int is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
    if (ss->ss_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    return 1; /* unix socket */
}

/* Best effort: a refusal line to a socket we are about to close. */
static void refuse(int fd, const char *msg, size_t len)
{
    if (write(fd, msg, len) < 0) {
        /* the peer is going away anyway */
    }
    close(fd);
    atomic_fetch_add_explicit(&srv.stats.rejected, 1, memory_order_relaxed);
}

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);

void client_accept(srv_io *io, int fd, int is_unix)
{
    struct sockaddr_storage peer = {0}, local = {0};
    socklen_t pl = sizeof peer, ll = sizeof local;
    getpeername(fd, (struct sockaddr *)&peer, &pl);
    getsockname(fd, (struct sockaddr *)&local, &ll);
    if (atomic_load(&srv.clients) >= srv.cfg.maxclients) {
        static const char msg[] = "-ERR max number of clients reached\r\n";
        refuse(fd, msg, sizeof msg - 1);
        return;
    }
    /* Redis 7.0 refuses whatever bind says: an explicit bind no longer lifts protection. */
    int password = cmd_password_set();
    if (srv.cfg.protected_mode && !password && !is_loopback(&peer)) {
        refuse(fd, denied_msg, sizeof denied_msg - 1);
        return;
    }
    srv_client *c = srv_xcalloc(1, sizeof *c);
    if (resp_parser_new(&c->parser, NULL, NULL) || resp_buf_new(&c->out, 2, NULL))
        abort(); /* the server may abort on allocation failure */
    c->max_bulk = -1; /* client_process gives the parser proto-max-bulk-len */
    resp_buf_set_error_hook(c->out, stats_on_error, NULL);
    c->id = atomic_fetch_add(&srv.next_client_id, 1) + 1;
    c->fd = fd;
    c->is_unix = is_unix;
    c->is_local = is_loopback(&peer);
    c->io = io;
    c->resp = 2;
    c->authed = !password;
    resp_parser_set_auth_required(c->parser, !c->authed);
    c->ctime_ms = c->last_ms = srv_mstime();
    c->last_cmd = "NULL";
    addr_text(&peer, c->addr, sizeof c->addr);
    addr_text(&local, c->laddr, sizeof c->laddr);
    c->rev = event_new(io->base, fd, EV_READ | EV_PERSIST, on_read, c);
    c->wev = event_new(io->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    if (!c->rev || !c->wev || event_add(c->rev, NULL))
        abort();
    c->next = io->clients;
    if (io->clients)
        io->clients->prev = c;
    io->clients = c;
    atomic_fetch_add(&srv.clients, 1);
    atomic_fetch_add_explicit(&srv.stats.connections, 1, memory_order_relaxed);
}

static void client_free(srv_client *c)
{
    srv_io *io = c->io;
    if (c->flush_queued) { /* rare: gone while its replies waited for the batch's end */
        srv_client **pp = &io->flushq;
        while (*pp != c)
            pp = &(*pp)->flushq_next;
        *pp = c->flushq_next;
    }
    multi_discard(c);
    pubsub_sub_drop(c->ps);
    c->ps = NULL;
    resp_buf_free(c->held);
    job_free(c->exec_job); /* an EXEC whose reply waited for CLIENT LIST… (shutdown) */
    c->exec_job = NULL;
    /* The writer's registry may still name c's set: the writer frees it. At shutdown the
     * writer has stopped or is stopping, and frees every set itself. */
    if (c->wset && !atomic_load(&srv.shutdown)) {
        srv_job *j = job_new(NULL, NULL, 0, NULL);
        j->kind = JOB_WSET_FREE;
        j->wset = c->wset;
        io_submit(io, j, j);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        io->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    resp_parser_free(c->parser);
    resp_buf_free(c->out);
    free(c->name);
    free(c);
}

/* Closes the socket now; the struct lives until its last job came back. */
static void client_close(srv_client *c)
{
    if (c->gone)
        return;
    c->gone = 1;
    pubsub_sub_drop(c->ps); /* nothing more is delivered to it */
    c->ps = NULL;
    event_free(c->rev);
    event_free(c->wev);
    c->rev = c->wev = NULL;
    if (c->handoff)
        c->handoff(c->fd, c->handoff_arg);
    else
        close(c->fd);
    c->fd = -1;
    atomic_fetch_sub(&srv.clients, 1);
    if (c->inflight == 0) {
        client_free(c);
    } else if (!atomic_load(&srv.shutdown)) {
        /* A command of c may be blocked in the writer (block.h): release it, in the
         * writer's order, so that nothing is popped for nobody. */
        srv_job *j = job_new(NULL, NULL, 0, NULL);
        j->kind = JOB_GONE;
        j->c = c;
        c->inflight++;
        io_submit(c->io, j, j);
    }
}

void client_close_all(srv_io *io)
{
    while (io->clients) {
        srv_client *c = io->clients;
        if (!c->gone)
            client_close(c);
        if (io->clients == c) /* jobs still out: the writer has stopped, drop them */
            client_free(c);
    }
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    srv_client *c = arg;
    (void)what;
    atomic_store_explicit(&c->io->idle, 0, memory_order_relaxed); /* awake: see io.c */
    atomic_fetch_add_explicit(&srv.stats.reads, 1, memory_order_relaxed);
    for (int n = 0; n < READS_PER_EVENT; n++) {
        void *p;
        size_t room;
        if (resp_parser_reserve(c->parser, READ_CHUNK, &p, &room) != RESP_OK)
            break; /* a protocol error is already pending: process reports it */
        ssize_t r = read(fd, p, room);
        if (r > 0) {
            resp_parser_commit(c->parser, (size_t)r);
            atomic_fetch_add_explicit(&srv.stats.net_in, (unsigned long long)r,
                                      memory_order_relaxed);
            if ((size_t)r < room)
                break;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        client_close(c); /* EOF or error */
        return;
    }
    c->last_ms = srv_mstime();
    if ((long long)resp_parser_buffered(c->parser) > srv.cfg.client_query_buffer_limit) {
        srv_log(SRV_LOG_WARNING, "Closing client that reached max query buffer length: "
                "id=%llu addr=%s (qbuf initial bytes: ...)", (unsigned long long)c->id,
                c->addr);
        client_close(c);
        return;
    }
    client_process(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    client_flush(arg);
}

/* The client-output-buffer-limit of c's class: pubsub for a subscriber, else normal. */
static void obuf_limits(const srv_client *c, long long *hard, long long *soft, long long *secs)
{
    if (client_is_pubsub(c)) {
        *hard = srv.cfg.client_output_other[CONF_COBL_PUBSUB][0];
        *soft = srv.cfg.client_output_other[CONF_COBL_PUBSUB][1];
        *secs = srv.cfg.client_output_other[CONF_COBL_PUBSUB][2];
    } else {
        *hard = srv.cfg.client_output_normal_hard;
        *soft = srv.cfg.client_output_normal_soft;
        *secs = srv.cfg.client_output_normal_secs;
    }
}

/* Sends what the output holds; arms the write event while some remains. Returns 0, or -1
 * when it closed the client, which may then be freed already: the caller must not touch c
 * again. */
static int client_flush(srv_client *c)
{
    if (c->gone)
        return -1;
    if (resp_buf_pending(c->out))
        atomic_fetch_add_explicit(&srv.stats.writes, 1, memory_order_relaxed);
    while (resp_buf_pending(c->out)) {
        struct iovec iov[IOV_MAX_SEND];
        size_t bytes;
        int n = resp_buf_iov(c->out, iov, IOV_MAX_SEND, &bytes);
        if (n == 0)
            break;
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            client_close(c);
            return -1;
        }
        atomic_fetch_add_explicit(&srv.stats.net_out, (unsigned long long)w,
                                  memory_order_relaxed);
        resp_buf_consume(c->out, (size_t)w);
    }
    size_t pending = resp_buf_pending(c->out);
    if (pending) {
        long long hard, soft, secs;
        obuf_limits(c, &hard, &soft, &secs);
        if (hard && (long long)pending > hard) {
            srv_log(SRV_LOG_WARNING, "Client id=%llu addr=%s scheduled to be closed ASAP for "
                    "overcoming of output buffer limits.", (unsigned long long)c->id, c->addr);
            client_close(c);
            return -1;
        }
        event_add(c->wev, NULL);
    } else {
        event_del(c->wev);
        if (c->close_after_reply) {
            client_close(c);
            return -1;
        }
    }
    return 0;
}

/* x for d run on this thread by c; a read's on the burst's snapshot (its error if the
 * snapshot cannot be had). */
static int here_ctx(srv_client *c, const cmd_def *d, int argc, const resp_arg *argv, int read,
                    cmd_ctx *x)
{
    *x = (cmd_ctx){.argc = argc, .argv = argv, .out = c->out, .dbi = c->db, .c = c, .cmd = d};
    int rc = read ? dbmap_view(c->io) : OX_OK;
    if (read && rc == OX_OK) {
        x->snap = c->io->snap;
        x->table = c->io->db[c->db];
    }
    return rc;
}

/* Runs d on this thread (a read on the burst's snapshot, or a client command). */
static void run_here(srv_client *c, const cmd_def *d, int argc, const resp_arg *argv)
{
    cmd_ctx x;
    int rc = here_ctx(c, d, argc, argv, (d->flags & CMD_READ) != 0, &x);
    if (rc != OX_OK)
        cmd_store_error(&x, rc);
    else
        cmd_call(&x);
}

/* A CMD_POP of a key the burst's snapshot does not hold (or holds expired, which the
 * writer's lookup would not see either) writes nothing: it runs here, as a read, and 1 is
 * returned; 0 (nothing done) when the key is there, or its lookup or the snapshot fails
 * (the writer then answers). Measured, LPOP of a missing key at c=50 took 25 us of the
 * server's CPU through the writer, against Redis's 15. A pop of a key that is there pays
 * this lookup on top of the writer's (alone: pipelined pops behind it skip it). */
static int run_missing_pop(srv_client *c, const cmd_def *d, int argc, const resp_arg *argv)
{
    cmd_ctx x;
    ox_val v;
    if (argc < 2 || here_ctx(c, d, argc, argv, 1, &x) != OX_OK ||
        db_read(&x, x.table, &argv[1], &v, NULL, NULL) != OX_NOTFOUND)
        return 0;
    cmd_call(&x);
    return 1;
}

/* Whether enable-debug-command lets c run a protected command (DEBUG). */
static int protected_allowed(const srv_client *c)
{
    int mode = srv.cfg.enable_debug_command; /* immutable: read without the lock */
    return mode == CONF_PROTECTED_YES || (mode == CONF_PROTECTED_LOCAL && c->is_local);
}

/* Refuses d, counted as its rejected call: err (with its code) as the reply, or for EXEC
 * "-EXECABORT ... because of: <why>". NULL. */
static const cmd_def *refuse_cmd(srv_client *c, const cmd_def *d, resp_buf *out, const char *err,
                             const char *why)
{
    stats_rejected(cmd_slot(d));
    if (d->fn == cmd_exec)
        multi_exec_reject(c, out, why);
    else
        resp_write_error(out, err, strlen(err));
    multi_flag_error(c);
    return NULL;
}

/* Replication's refusals of d (Redis's processCommand order), or NULL. */
static const char *replication_refusal(const cmd_def *d)
{
    int write = (d->flags & CMD_WRITE) && cmd_rflag(d, "write");
    if (write && !replica_configured() && !repl_writes_allowed())
        return "-NOREPLICAS Not enough good replicas to write.";
    if (write && replica_refuses_writes())
        return "-READONLY You can't write against a read only replica.";
    if (replica_configured() && !srv.cfg.replica_serve_stale_data && !replica_link_up() &&
        !cmd_rflag(d, "stale"))
        return "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to "
               "'no'.";
    return NULL;
}

/* The command to run for argv, or NULL after writing its refusal into out. Redis's order:
 * unknown command or subcommand, then arity, then authentication; the last two count as
 * the command's rejected calls. */
static const cmd_def *admit(srv_client *c, int argc, const resp_arg *argv, resp_buf *out)
{
    const cmd_def *d = cmd_lookup(&argv[0]);
    if (d && (d->flags & CMD_SUBS) && argc >= 2) {
        const cmd_def *sub = cmd_lookup_sub(d, &argv[1]);
        if (!sub) {
            c->last_cmd = "NULL";
            cmd_reply_unknown_sub(out, argv);
            multi_flag_error(c);
            return NULL;
        }
        d = sub;
    }
    c->last_cmd = d ? d->name : "NULL";
    if (!d) {
        cmd_reply_unknown(out, argc, argv);
        multi_flag_error(c);
        return NULL;
    }
    if (!cmd_arity_ok(d, argc)) {
        stats_rejected(cmd_slot(d));
        if (d->fn == cmd_exec)
            multi_exec_reject(c, out, "wrong number of arguments for 'exec' command");
        else
            cmd_reply_arity(out, d->name);
        multi_flag_error(c);
        return NULL;
    }
    if ((d->flags & CMD_PROTECTED) && !protected_allowed(c)) {
        stats_rejected(cmd_slot(d));
        resp_write_errorf(out, "-ERR %s command not allowed. If the enable-debug-command option "
                          "is set to \"local\", you can run it from a local connection, "
                          "otherwise you need to set this option in the configuration file, and "
                          "then restart the server.", "DEBUG");
        multi_flag_error(c);
        return NULL;
    }
    if (!c->authed && !(d->flags & CMD_NOAUTH)) {
        static const char noauth[] = "-NOAUTH Authentication required.";
        return refuse_cmd(c, d, out, noauth, noauth + 1);
    }
    if (replica_configured() || srv.cfg.min_replicas_to_write) {
        const char *err = replication_refusal(d);
        if (err)
            return refuse_cmd(c, d, out, err, err + 1);
    }
    if (c->resp == 2 && client_is_pubsub(c) && !(d->flags & CMD_PUBSUB_OK)) {
        char err[192];
        snprintf(err, sizeof err, "-ERR Can't execute '%s': only (P|S)SUBSCRIBE / "
                 "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", d->name);
        return refuse_cmd(c, d, out, err, err + 5);
    }
    /* A script past busy-reply-threshold holds the writer: others hear so, as in Redis
     * (a client with jobs in flight waits behind them instead, its order kept). */
    if (!c->inflight && script_busy() && !cmd_rflag(d, "allow_busy")) {
        const char *busy = script_busy_error();
        return refuse_cmd(c, d, out, busy, busy + 1);
    }
    return d;
}

static void job_append(srv_job *j, srv_job **h, srv_job **t)
{
    if (*t)
        (*t)->next = j;
    else
        *h = j;
    *t = j;
}

/* c has jobs in flight: the refusal in io->scratch follows them as a JOB_REPLY. */
static void reply_later(srv_client *c, srv_job **h, srv_job **t)
{
    struct iovec iov[64]; /* a refusal is one short error: one or two pieces */
    size_t len = 0;
    int n = resp_buf_iov(c->io->scratch, iov, 64, &len);
    resp_arg a = {.len = len};
    char *bytes = srv_xmalloc(len ? len : 1);
    for (int i = 0, off = 0; i < n; off += (int)iov[i].iov_len, i++)
        memcpy(bytes + off, iov[i].iov_base, iov[i].iov_len);
    a.ptr = bytes;
    srv_job *j = job_new(c, NULL, 1, &a);
    free(bytes);
    resp_buf_reset(c->io->scratch);
    j->kind = JOB_REPLY;
    j->barrier = 1;
    c->inflight++;
    job_append(j, h, t);
}

static void dispatch(srv_client *c, int argc, const resp_arg *argv, srv_job **h, srv_job **t)
{
    /* A refusal behind c's own jobs in flight must not overtake their replies. */
    const cmd_def *d = admit(c, argc, argv, c->inflight ? c->io->scratch : c->out);
    if (!d) {
        if (c->inflight)
            reply_later(c, h, t);
        return;
    }
    /* In MULTI nothing of c is in flight (multi.c): queued or not, it answers here. */
    if (c->multi) {
        if (!multi_queue(c, d, argc, argv))
            run_here(c, d, argc, argv);
        return;
    }
    if (d->fn == cmd_watch)
        c->watching = 1;
    else if (d->fn == cmd_unwatch)
        c->watching = 0;
    if ((d->flags & CMD_POP) && !c->inflight && run_missing_pop(c, d, argc, argv))
        return;
    if ((d->flags & (CMD_WRITE | CMD_WATCH)) || c->inflight > 0) {
        srv_job *j = job_new(c, d, argc, argv);
        j->barrier = !(d->flags & (CMD_WRITE | CMD_READ | CMD_WATCH));
        if (j->barrier)
            c->stalled = 1; /* it may change what the next commands mean (SELECT…) */
        c->inflight++;
        for (int i = 0; i < argc; i++)
            j->pipe_bytes += argv[i].len;
        c->inflight_bytes += j->pipe_bytes;
        job_append(j, h, t);
        return;
    }
    run_here(c, d, argc, argv);
}

/* Queues c's output to be written by client_flush_queued. */
static void flush_later(srv_client *c)
{
    if (c->flush_queued)
        return;
    c->flush_queued = 1;
    c->flushq_next = c->io->flushq;
    c->io->flushq = c;
}

/* EXEC's reply is whole: the messages that came meanwhile follow it. */
static void release_held(srv_client *c)
{
    if (c->held && !c->exec_job)
        client_write_buf(c, c->held);
}

static void client_process(srv_client *c)
{
    srv_io *io = c->io; /* c may be freed when a flush in the loop closes it */
    srv_job *h = NULL, *t = NULL;
    int closed = 0;

    if (c->read_paused && pipe_drained(c) && !c->gone &&
        !atomic_load_explicit(&srv.shutdown, memory_order_relaxed)) { /* quiesced: unread */
        if (event_add(c->rev, NULL))
            abort(); /* the server may abort when libevent cannot allocate */
        c->read_paused = 0;
    }
    /* Once a shutdown began nothing more is parsed: the writer is stopping, and what was
     * not applied gets no reply (as Redis: the connection closes at exit). */
    while (!c->gone && !c->stalled && !c->close_after_reply && !pipe_full(c) &&
           !atomic_load_explicit(&srv.shutdown, memory_order_relaxed)) {
        resp_cmd cmd;
        /* CONFIG SET applies to every connection at once, even within a pipeline. */
        long long max_bulk = srv.cfg.proto_max_bulk_len;
        if (max_bulk != c->max_bulk) {
            resp_parser_set_max_bulk(c->parser, max_bulk); /* past 2^62: clamped */
            c->max_bulk = max_bulk;
        }
        int rc = resp_parser_next(c->parser, &cmd);
        if (rc == RESP_AGAIN)
            break;
        if (rc == RESP_EPROTO) {
            resp_write_errorf(c->out, "-ERR Protocol error: %s", resp_parser_errstr(c->parser));
            srv_log(SRV_LOG_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s",
                    resp_parser_errstr(c->parser), (unsigned long long)c->id, c->addr);
            c->close_after_reply = 1;
            break;
        }
        if (rc != RESP_OK)
            abort();
        dispatch(c, cmd.argc, cmd.argv, &h, &t);
        /* Long pipelines of reads: keep the output bounded (and its limit enforced). */
        if (resp_buf_pending(c->out) > 65536 && client_flush(c)) {
            closed = 1;
            break;
        }
    }
    /* Jobs collected before a close still go: they hold c (inflight), and their return
     * frees it. */
    if (h)
        io_submit(io, h, t);
    if (io->snap) { /* a snapshot never outlives the burst that took it */
        ox_snapshot_end(io->snap);
        io->snap = NULL;
    }
    if (!closed && !c->gone && !c->read_paused && pipe_full(c)) {
        event_del(c->rev);
        c->read_paused = 1;
    }
    if (!closed)
        client_flush(c);
}

/* Goes on parsing c's input once nothing of it is in flight, or once a full pipe drained. */
static int client_may_go_on(const srv_client *c)
{
    return !c->stalled && (c->inflight == 0 || (c->read_paused && pipe_drained(c)));
}

void client_job_done(srv_job *j)
{
    srv_client *c = j->c;
    c->inflight--;
    c->inflight_bytes -= j->pipe_bytes;
    if (c->gone) {
        job_free(j);
        if (c->inflight == 0)
            client_free(c);
        return;
    }
    if (j->kind == JOB_EXEC) {
        if (multi_exec_done(c, j)) { /* c keeps j until the rest of the reply is written */
            client_flush(c);
            return;
        }
        release_held(c);
        if (j->has_client)
            c->stalled = 0;
        if (c->io->snap) {
            ox_snapshot_end(c->io->snap);
            c->io->snap = NULL;
        }
    } else if (j->kind == JOB_REPLY) {
        resp_write_raw(c->out, j->argv[0].ptr, j->argv[0].len);
    } else if (j->barrier) {
        /* Every earlier job of c is back: the client's state is its own again. */
        c->stalled = 0;
        run_here(c, j->cmd, j->argc, j->argv);
        if (c->io->snap) {
            ox_snapshot_end(c->io->snap);
            c->io->snap = NULL;
        }
    } else {
        client_write_buf(c, j->out);
    }
    job_free(j);
    if (client_may_go_on(c))
        client_process(c); /* commands that waited behind the barrier, or a full pipe */
    else
        flush_later(c); /* more of its jobs may be in this batch: one write for all */
}

/* Past the pubsub class's hard limit (output and held messages together, or messages
 * waiting for its thread: resp2 NULL): closed, as Redis closes it. */
static void deliver_overflow(srv_client *c)
{
    srv_log(SRV_LOG_WARNING, "Client id=%llu addr=%s scheduled to be closed ASAP for "
            "overcoming of output buffer limits.", (unsigned long long)c->id, c->addr);
    client_close(c);
}

void client_deliver(void *owner, const void *resp2, size_t len)
{
    srv_client *c = owner;
    if (c->gone || c->close_after_reply) /* QUIT answered: nothing comes after its reply */
        return;
    long long hard, soft, secs;
    obuf_limits(c, &hard, &soft, &secs);
    size_t held = c->held ? resp_buf_pending(c->held) : 0;
    if (!resp2 || (hard && (long long)(resp_buf_pending(c->out) + held + len) > hard)) {
        deliver_overflow(c);
        return;
    }
    if (c->exec_job) { /* EXEC's reply is half written: after it, not inside it */
        if (!c->held && resp_buf_new(&c->held, 2, NULL) != RESP_OK)
            abort();
        pubsub_write_msg(c->held, c->resp, resp2, len);
        return;
    }
    pubsub_write_msg(c->out, c->resp, resp2, len);
    flush_later(c);
}


int client_is_pubsub(const srv_client *c)
{
    return pubsub_count(c->ps, -1) + pubsub_count(c->ps, PUBSUB_SHARD) > 0;
}

void client_flush_queued(srv_io *io)
{
    while (io->flushq) {
        srv_client *c = io->flushq;
        io->flushq = c->flushq_next;
        c->flush_queued = 0;
        client_flush(c);
    }
}

void client_write_buf(srv_client *c, resp_buf *b)
{
    struct iovec iov[IOV_MAX_SEND];
    int n;
    while ((n = resp_buf_iov(b, iov, IOV_MAX_SEND, NULL)) > 0) {
        size_t sent = 0;
        for (int i = 0; i < n; i++) {
            resp_write_raw(c->out, iov[i].iov_base, iov[i].iov_len);
            sent += iov[i].iov_len;
        }
        resp_buf_consume(b, sent);
    }
}

void client_handoff(srv_client *c, void (*fn)(int fd, void *arg), void *arg)
{
    c->handoff = fn;
    c->handoff_arg = arg;
    c->close_after_reply = 1;
}

void client_kill(srv_client *c)
{
    client_close(c);
}

void client_suspend(srv_client *c)
{
    c->stalled = 1;
    c->inflight++;
}

void client_resume(srv_client *c)
{
    c->inflight--;
    if (c->gone) {
        if (c->exec_job) {
            job_free(c->exec_job);
            c->exec_job = NULL;
        }
        if (c->inflight == 0)
            client_free(c);
        return;
    }
    if (c->exec_job && multi_exec_resume(c)) {
        client_flush(c);
        return;
    }
    release_held(c);
    if (c->io->snap) { /* EXEC's on-thread reads take one; it ends with the burst */
        ox_snapshot_end(c->io->snap);
        c->io->snap = NULL;
    }
    c->stalled = 0;
    if (client_may_go_on(c))
        client_process(c); /* the commands that waited behind it */
    else
        client_flush(c);
}

void client_cron(srv_io *io)
{
    uint64_t now = srv_mstime();
    for (srv_client *c = io->clients, *next; c; c = next) {
        next = c->next;
        if (c->gone)
            continue;
        if (srv.cfg.timeout > 0 && c->inflight == 0 &&
            now - c->last_ms > (uint64_t)srv.cfg.timeout * 1000) {
            srv_log(SRV_LOG_VERBOSE, "Closing idle client");
            client_close(c);
            continue;
        }
        long long hard, soft, secs;
        obuf_limits(c, &hard, &soft, &secs);
        size_t pending = resp_buf_pending(c->out);
        if (soft && (long long)pending > soft) {
            if (!c->obuf_soft_since)
                c->obuf_soft_since = now;
            else if (now - c->obuf_soft_since > (uint64_t)secs * 1000) {
                srv_log(SRV_LOG_WARNING, "Client id=%llu addr=%s closed for overcoming of "
                        "output buffer limits.", (unsigned long long)c->id, c->addr);
                client_close(c);
            }
        } else {
            c->obuf_soft_since = 0;
        }
    }
}

size_t client_info_line(const srv_client *c, char *buf, size_t cap)
{
    uint64_t now = srv_mstime();
    char flags[4], *f = flags;
    if (client_is_pubsub(c))
        *f++ = 'P';
    if (c->multi || c->exec_n)
        *f++ = 'x';
    if (f == flags)
        *f++ = 'N';
    *f = 0;
    int n = snprintf(buf, cap,
                     "id=%llu addr=%s laddr=%s fd=%d name=%s age=%llu idle=%llu flags=%s db=%d "
                     "sub=%ld psub=%ld ssub=%ld multi=%d qbuf=%zu qbuf-free=%zu argv-mem=0 "
                     "multi-mem=0 rbs=%zu rbp=0 obl=0 oll=0 omem=%zu tot-mem=%zu events=r "
                     "cmd=%s user=default redir=-1 resp=%d",
                     (unsigned long long)c->id, c->addr, c->laddr, c->fd,
                     c->name ? c->name : "", (unsigned long long)((now - c->ctime_ms) / 1000),
                     (unsigned long long)((now - c->last_ms) / 1000),
                     flags, c->db, pubsub_count(c->ps, PUBSUB_CHANNEL),
                     pubsub_count(c->ps, PUBSUB_PATTERN), pubsub_count(c->ps, PUBSUB_SHARD),
                     c->multi ? c->multi_n : c->exec_n ? c->exec_n : -1,
                     resp_parser_buffered(c->parser),
                     resp_parser_capacity(c->parser) - resp_parser_buffered(c->parser),
                     resp_parser_capacity(c->parser), resp_buf_pending(c->out),
                     resp_parser_capacity(c->parser) + resp_buf_pending(c->out), c->last_cmd,
                     c->resp);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
