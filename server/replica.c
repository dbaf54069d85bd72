/* replica.c — a replica's link to its master, the full sync's load, the stream applied in
 * the writer, REPLICAOF, and the replica's part of INFO and ROLE (see replica.h). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "dbmap.h"
#include "dbmap_fmt.h"
#include "function.h"
#include "log.h"
#include "num.h"
#include "repl.h"
#include "replica.h"
#include "util.h"
#include "watch.h"
#include "writer.h"
#include "zindex.h"

#define REPLICA_TABLE "repl"          /* key "master": "<replid> <offset>" */
#define REPLICA_KEY "master"
#define REPLICA_QUEUE_MAX (64u << 20) /* bytes of frames queued to the writer, at most */
#define REPLICA_RETRY_MS 1000
#define REPLICA_READ (64u << 10)

/* What an applied frame asks to be reloaded after its commit (srv_job.repl_flags). */
enum { RF_DBMAP = 1, RF_FUNCTIONS = 2, RF_GETACK = 4 };

/* Link states, as ROLE names them. */
enum { LS_CONNECT, LS_CONNECTING, LS_HANDSHAKE, LS_SYNC, LS_CONNECTED };
static const char *const state_names[] = {"connect", "connecting", "handshake", "sync",
                                          "connected"};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* the target changed, a stop, a load done, the queue drained */
    pthread_t th;
    int th_on, stop;
    atomic_int configured;    /* replicaof is set (a replica) */
    char host[256];
    int port;
    uint64_t target;          /* +1 for every REPLICAOF: the link starts again */
    int fd;                   /* the link's socket, -1 */
    int efd;                  /* eventfd: the writer committed frames, an ACK is due */
    atomic_int state;
    atomic_ullong last_io_ms; /* wall clock of the last byte from the master, 0: never */
    atomic_ullong down_since_ms; /* when the link went down, 0: never up */
    atomic_ullong read_off;   /* the stream's offset received */
    atomic_ullong applied;    /* committed */
    atomic_ullong sync_total, sync_read; /* a full sync's bytes */
    uint64_t queued;          /* bytes of frames at the writer */
    uint64_t gen;             /* the connection's number: frames of a failed one are dropped */
    uint64_t dead_gen;        /* a commit of this connection's frames failed */
    int load_done, load_rc;
    ox_table *table;
} L = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .fd = -1, .efd = -1};

/* The writer's batch: the frames applied in it, for the backlog. */
static struct {
    int any, applied;       /* frames in the batch, records among them */
    size_t done;            /* bytes of the frames it took, applied or dropped */
    unsigned flags;
    uint64_t off;
    char *bytes;
    size_t len, cap;
} B;

int replica_configured(void)
{
    return atomic_load_explicit(&L.configured, memory_order_relaxed);
}

int replica_refuses_writes(void)
{
    return replica_configured() && srv.cfg.replica_read_only;
}

int replica_link_up(void)
{
    return atomic_load(&L.state) == LS_CONNECTED;
}

/* ---- the stored state ----------------------------------------------------------------- */

/* Reads "<replid> <offset>": 1 with id and *off, 0 if none or malformed. */
static int state_read(char id[REPL_ID_LEN + 1], uint64_t *off)
{
    ox_snapshot *snap;
    ox_val v;
    if (ox_snapshot_begin(srv.store, &snap) != OX_OK)
        return 0;
    int ok = ox_snapshot_get(snap, L.table, REPLICA_KEY, strlen(REPLICA_KEY), &v) == OX_OK &&
             v.len > REPL_ID_LEN + 1 && v.len < REPL_ID_LEN + 24;
    long long n = -1;
    if (ok) {
        memcpy(id, v.data, REPL_ID_LEN);
        id[REPL_ID_LEN] = '\0';
        const char *p = (const char *)v.data + REPL_ID_LEN + 1;
        ok = num_str2ll(p, v.len - REPL_ID_LEN - 1, &n) && n >= 0;
    }
    ox_snapshot_end(snap);
    *off = ok ? (uint64_t)n : 0;
    return ok;
}

static int state_put(ox_txn *txn, uint64_t off)
{
    char id[REPL_ID_LEN + 1], v[REPL_ID_LEN + 32];
    uint64_t cur;
    repl_position(id, &cur);
    int n = snprintf(v, sizeof v, "%s %llu", id, (unsigned long long)off);
    return ox_txn_put(txn, L.table, REPLICA_KEY, strlen(REPLICA_KEY), v, (size_t)n, 0, 0);
}

int replica_init(void)
{
    int rc = ox_table_open(srv.store, REPLICA_TABLE, &L.table);
    if (rc != OX_OK) {
        srv_log(SRV_LOG_WARNING, "Can't open the replication table: %s", ox_strerror(rc));
        return -1;
    }
    pthread_rwlock_rdlock(&srv.cfg_lock);
    int configured = srv.cfg.replicaof_host != NULL;
    if (configured) {
        snprintf(L.host, sizeof L.host, "%s", srv.cfg.replicaof_host);
        L.port = srv.cfg.replicaof_port;
    }
    pthread_rwlock_unlock(&srv.cfg_lock);
    atomic_store(&L.configured, configured);
    char id[REPL_ID_LEN + 1];
    uint64_t off = 0;
    int have = state_read(id, &off);
    if (have && !configured) {
        /* A master follows nobody's stream: were it made a replica again, its data has
         * moved on from that offset. (Before the commit hook: nothing is framed.) */
        ox_txn *txn;
        if ((rc = ox_txn_begin(srv.store, &txn)) == OX_OK) {
            ox_txn_delete(txn, L.table, REPLICA_KEY, strlen(REPLICA_KEY));
            rc = ox_txn_commit(txn);
        }
        if (rc != OX_OK)
            srv_log(SRV_LOG_WARNING, "Can't clear the replication state: %s", ox_strerror(rc));
        have = 0;
        off = 0;
    }
    if (repl_init(configured ? off : 0))
        return -1;
    if (have)
        repl_reset(id, off, 1);
    atomic_store(&L.applied, off);
    atomic_store(&L.read_off, off);
    L.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return L.efd < 0 ? -1 : 0;
}

/* ---- the link: a buffered reader over the socket ---------------------------------------- */

typedef struct rd {
    int fd;
    char b[16384];
    size_t at, len;
} rd;

/* Waits until fd is readable, up to ms. 1 readable, 0 timeout, -1 error. */
static int wait_in(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
        ;
    return n;
}

static int link_gone(uint64_t target)
{
    pthread_mutex_lock(&L.mu);
    int gone = L.stop || L.target != target || !replica_configured();
    pthread_mutex_unlock(&L.mu);
    return gone;
}

/* Fills r from the socket: 0, or -1 (closed, error, or repl-timeout without a byte). */
static int rd_fill(rd *r)
{
    if (r->at == r->len)
        r->at = r->len = 0;
    if (wait_in(r->fd, srv.cfg.repl_timeout * 1000) <= 0)
        return -1;
    ssize_t n = recv(r->fd, r->b + r->len, sizeof r->b - r->len, 0);
    if (n <= 0)
        return -1;
    r->len += (size_t)n;
    atomic_store(&L.last_io_ms, srv_mstime());
    return 0;
}

/* A line without its CRLF into out (cap bytes). 0 or -1. */
static int rd_line(rd *r, char *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        while (r->at < r->len) {
            char ch = r->b[r->at++];
            if (ch == '\n') {
                if (n && out[n - 1] == '\r')
                    n--;
                out[n] = '\0';
                return 0;
            }
            if (n + 1 < cap)
                out[n++] = ch;
        }
        if (rd_fill(r))
            return -1;
    }
}

static int send_str(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Sends a command (its arguments as RESP bulk strings) and reads the one-line reply. */
static int ask(rd *r, char *reply, size_t cap, int argc, const char *const *argv)
{
    char buf[1024];
    size_t n = (size_t)snprintf(buf, sizeof buf, "*%d\r\n", argc);
    for (int i = 0; i < argc && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    if (n >= sizeof buf || send_str(r->fd, buf, n))
        return -1;
    return rd_line(r, reply, cap);
}

static int dial(const char *host, int port)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, ps, &hints, &res))
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen)) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

/* PING, AUTH, REPLCONF, PSYNC: the reply to PSYNC into reply and the offset it asked
 * from into *asked, 0; or -1 (logged). */
static int handshake(rd *r, char *reply, size_t cap, uint64_t *asked)
{
    atomic_store(&L.state, LS_HANDSHAKE);
    const char *ping[] = {"PING"};
    if (ask(r, reply, cap, 1, ping))
        return -1;
    if (reply[0] == '-' && strncmp(reply, "-NOAUTH", 7) && strncmp(reply, "-NOPERM", 7)) {
        srv_log(SRV_LOG_WARNING, "Error reply to PING from master: '%s'", reply);
        return -1;
    }
    pthread_rwlock_rdlock(&srv.cfg_lock);
    char *pass = srv.cfg.masterauth ? strdup(srv.cfg.masterauth) : NULL;
    char *user = srv.cfg.masteruser ? strdup(srv.cfg.masteruser) : NULL;
    char *aip = srv.cfg.replica_announce_ip ? strdup(srv.cfg.replica_announce_ip) : NULL;
    int aport = srv.cfg.replica_announce_port ? srv.cfg.replica_announce_port : srv.cfg.port;
    pthread_rwlock_unlock(&srv.cfg_lock);
    int rc = 0;
    if (pass) {
        const char *auth[3] = {"AUTH", user ? user : pass, pass};
        rc = ask(r, reply, cap, user ? 3 : 2, auth);
        if (!rc && reply[0] == '-') {
            srv_log(SRV_LOG_WARNING, "Unable to AUTH to MASTER: %s", reply);
            rc = -1;
        }
    }
    free(pass);
    free(user);
    char port[16];
    snprintf(port, sizeof port, "%d", aport);
    const char *lp[] = {"REPLCONF", "listening-port", port};
    if (!rc && (rc = ask(r, reply, cap, 3, lp)) == 0 && reply[0] == '-')
        srv_log(SRV_LOG_NOTICE, "(Non critical) Master does not understand REPLCONF "
                "listening-port: %s", reply);
    if (!rc && aip) {
        const char *ip[] = {"REPLCONF", "ip-address", aip};
        rc = ask(r, reply, cap, 3, ip);
    }
    free(aip);
    const char *capa[] = {"REPLCONF", "capa", "eof", "capa", "psync2"};
    if (!rc)
        rc = ask(r, reply, cap, 5, capa);
    if (rc)
        return -1;
    char id[REPL_ID_LEN + 1], off[32];
    uint64_t o;
    repl_position(id, &o);
    *asked = o;
    snprintf(off, sizeof off, "%llu", (unsigned long long)o + 1);
    const char *psync[] = {"PSYNC", id, off};
    srv_log(SRV_LOG_NOTICE, "Trying a partial resynchronization (request %s:%s).", id, off);
    int rc2 = ask(r, reply, cap, 3, psync);
    while (rc2 == 0 && !reply[0]) /* the master's newlines while it makes a backup */
        rc2 = rd_line(r, reply, cap);
    return rc2;
}

/* Receives the backup after +FULLRESYNC into path. 0 or -1. */
static int receive_file(rd *r, const char *path)
{
    char line[64];
    long long size;
    if (rd_line(r, line, sizeof line) || line[0] != '$' ||
        !num_str2ll(line + 1, strlen(line + 1), &size) || size <= 0)
        return -1;
    atomic_store(&L.sync_total, (unsigned long long)size);
    atomic_store(&L.sync_read, 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        srv_log(SRV_LOG_WARNING, "Opening the sync file %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = srv_xmalloc(1 << 20);
    long long left = size;
    int rc = 0;
    while (left > 0 && !rc) {
        size_t n;
        if (r->at < r->len) {
            n = r->len - r->at;
            if ((long long)n > left)
                n = (size_t)left;
            memcpy(buf, r->b + r->at, n);
            r->at += n;
        } else {
            ssize_t got = wait_in(r->fd, srv.cfg.repl_timeout * 1000) > 0
                              ? recv(r->fd, buf, left < (1 << 20) ? (size_t)left : (1 << 20), 0)
                              : -1;
            if (got <= 0) {
                rc = -1;
                break;
            }
            n = (size_t)got;
            atomic_store(&L.last_io_ms, srv_mstime());
        }
        for (size_t w = 0; w < n && !rc;) {
            ssize_t k = write(fd, buf + w, n - w);
            if (k < 0 && errno == EINTR)
                continue;
            rc = k <= 0 ? -1 : 0;
            w += k > 0 ? (size_t)k : 0;
        }
        left -= (long long)n;
        atomic_fetch_add(&L.sync_read, n);
    }
    free(buf);
    if (!rc && fsync(fd))
        rc = -1;
    if (close(fd))
        rc = -1;
    return rc;
}

/* Queues jobs to the writer, unless the link is no longer wanted. */
static int submit(srv_job *h, srv_job *t, uint64_t target, size_t bytes)
{
    pthread_mutex_lock(&L.mu);
    int ok = !L.stop && L.target == target && replica_configured();
    if (ok) {
        L.queued += bytes;
        writer_submit(h, t);
    }
    pthread_mutex_unlock(&L.mu);
    if (!ok)
        job_free_list(h);
    return ok ? 0 : -1;
}

/* A JOB_REPL of connection gen. */
static srv_job *repl_job(int op, const void *p, size_t len, uint64_t off, uint64_t gen)
{
    resp_arg a = {.ptr = p, .len = len};
    srv_job *j = job_new(NULL, NULL, p ? 1 : 0, p ? &a : NULL);
    j->kind = JOB_REPL;
    j->repl_op = op;
    j->repl_off = off;
    j->repl_gen = gen;
    return j;
}

/* The link's connection number (link thread). */
static uint64_t link_gen(void)
{
    pthread_mutex_lock(&L.mu);
    uint64_t gen = L.gen;
    pthread_mutex_unlock(&L.mu);
    return gen;
}

/* A full sync: the file, then its load by the writer. 0 or -1. */
static int full_sync(rd *r, const char *reply, uint64_t target)
{
    char id[REPL_ID_LEN + 1];
    long long off;
    const char *p = reply + strlen("+FULLRESYNC ");
    if (strlen(p) < REPL_ID_LEN + 2 || p[REPL_ID_LEN] != ' ' ||
        !num_str2ll(p + REPL_ID_LEN + 1, strlen(p + REPL_ID_LEN + 1), &off) || off < 0)
        return -1;
    memcpy(id, p, REPL_ID_LEN);
    id[REPL_ID_LEN] = '\0';
    srv_log(SRV_LOG_NOTICE, "Full resync from master: %s:%lld", id, off);
    atomic_store(&L.state, LS_SYNC);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.replica-sync", srv.cfg.dir, srv.cfg.dbfilename);
    if (receive_file(r, path)) {
        srv_log(SRV_LOG_WARNING, "I/O error trying to sync with MASTER: connection lost");
        unlink(path);
        return -1;
    }
    srv_log(SRV_LOG_NOTICE, "MASTER <-> REPLICA sync: loading the received data");
    char arg[4096 + REPL_ID_LEN + 2];
    int n = snprintf(arg, sizeof arg, "%s %s", id, path);
    srv_job *j = repl_job(REPL_OP_LOAD, arg, (size_t)n, (uint64_t)off, link_gen());
    pthread_mutex_lock(&L.mu);
    L.load_done = 0;
    pthread_mutex_unlock(&L.mu);
    if (submit(j, j, target, 0)) {
        unlink(path);
        return -1;
    }
    pthread_mutex_lock(&L.mu);
    while (!L.load_done)
        pthread_cond_wait(&L.cv, &L.mu);
    int rc = L.load_rc;
    pthread_mutex_unlock(&L.mu);
    unlink(path); /* gone already when it was loaded */
    if (rc != OX_OK) {
        srv_log(SRV_LOG_WARNING, "Failed loading the data received from the master: %s",
                ox_strerror(rc));
        return -1;
    }
    srv_log(SRV_LOG_NOTICE, "MASTER <-> REPLICA sync: Finished with success");
    return 0;
}

/* REPLCONF ACK <applied>, and a REPLCONF ZINDEX <table> <id> for each sorted set that
 * clients asked ranks of here (zindex.h): the master builds their indexes. */
static void send_ack(int fd)
{
    char buf[192], n[24], table[64];
    uint64_t id;
    int k = snprintf(n, sizeof n, "%llu", (unsigned long long)atomic_load(&L.applied));
    int len = snprintf(buf, sizeof buf, "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$%d\r\n%s\r\n", k, n);
    send_str(fd, buf, (size_t)len);
    while (zindex_take(table, sizeof table, &id)) {
        k = snprintf(n, sizeof n, "%llu", (unsigned long long)id);
        len = snprintf(buf, sizeof buf, "*4\r\n$8\r\nREPLCONF\r\n$6\r\nZINDEX\r\n$%zu\r\n%s\r\n"
                       "$%d\r\n%s\r\n", strlen(table), table, k, n);
        send_str(fd, buf, (size_t)len);
    }
}

/* The stream: frames to the writer, ACKs back. Returns when the link goes. */
static void stream(rd *r, uint64_t target)
{
    resp_parser *p;
    resp_limits lim;
    resp_limits_default(&lim);
    lim.max_bulk = RESP_MAX_BULK;
    if (resp_parser_new(&p, &lim, NULL) != RESP_OK)
        return;
    if (r->at < r->len)
        resp_parser_feed(p, r->b + r->at, r->len - r->at);
    r->at = r->len = 0;
    uint64_t off = atomic_load(&L.read_off), last_ack = 0, gen = link_gen();
    send_ack(r->fd);
    for (;;) {
        /* Frames already read first (a burst read several). */
        srv_job *h = NULL, *t = NULL;
        size_t bytes = 0;
        resp_cmd cmd;
        int rc;
        while (bytes < REPLICA_READ * 4 && (rc = resp_parser_next(p, &cmd)) == RESP_OK) {
            off += cmd.wire_len;
            srv_job *j = NULL;
            if (cmd.argc == 2 && cmd_is(&cmd.argv[0], "oxapply")) {
                ox_table *seen[8];
                size_t nseen = 0;
                unsigned flags = 0;
                if (ox_record_tables(srv.store, cmd.argv[1].ptr, cmd.argv[1].len, seen, 8,
                                     &nseen) != OX_OK) {
                    srv_log(SRV_LOG_WARNING, "A malformed record from the master");
                    rc = RESP_EPROTO;
                    break;
                }
                for (size_t i = 0; i < nseen; i++) {
                    const char *name = ox_table_name(seen[i]);
                    flags |= !strcmp(name, DBMAP_TABLE) ? RF_DBMAP : 0;
                    flags |= !strcmp(name, "functions") ? RF_FUNCTIONS : 0;
                }
                j = repl_job(REPL_OP_APPLY, cmd.argv[1].ptr, cmd.argv[1].len, off, gen);
                j->repl_flags = flags;
            } else {
                /* PING, REPLCONF GETACK: offsets only; a GETACK is answered once what
                 * came before it is committed */
                j = repl_job(REPL_OP_PING, NULL, 0, off, gen);
                if (cmd.argc >= 2 && cmd_is(&cmd.argv[0], "replconf") &&
                    cmd_is(&cmd.argv[1], "getack"))
                    j->repl_flags = RF_GETACK;
                else if (cmd.argc != 1 || !cmd_is(&cmd.argv[0], "ping"))
                    rc = RESP_EPROTO; /* nothing else comes from a master */
                if (rc == RESP_EPROTO) {
                    job_free(j);
                    srv_log(SRV_LOG_WARNING, "An unknown command in the master's stream");
                    break;
                }
            }
            bytes += cmd.wire_len;
            j->pipe_bytes = cmd.wire_len;
            if (t)
                t->next = j;
            else
                h = j;
            t = j;
        }
        atomic_store(&L.read_off, off);
        if (h && submit(h, t, target, bytes))
            break;
        if (rc == RESP_EPROTO)
            break;
        if (rc == RESP_OK) /* more parsed: submit it before reading */
            continue;
        resp_parser_trim(p);
        pthread_mutex_lock(&L.mu);
        int full = L.queued > REPLICA_QUEUE_MAX;
        pthread_mutex_unlock(&L.mu);
        struct pollfd pf[2] = {{.fd = r->fd, .events = full ? 0 : POLLIN},
                               {.fd = L.efd, .events = POLLIN}};
        int n = poll(pf, 2, 100);
        if (n < 0 && errno != EINTR)
            break;
        if (link_gone(target))
            break;
        pthread_mutex_lock(&L.mu);
        int dead = L.dead_gen == L.gen;
        pthread_mutex_unlock(&L.mu);
        if (dead)
            break;
        uint64_t now = srv_monotonic_ms();
        if ((pf[1].revents & POLLIN) || now - last_ack >= 1000) {
            uint64_t v;
            while (read(L.efd, &v, sizeof v) > 0)
                ;
            send_ack(r->fd);
            last_ack = now;
        }
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            void *area;
            size_t room;
            if (resp_parser_reserve(p, REPLICA_READ, &area, &room) != RESP_OK)
                break;
            ssize_t got = recv(r->fd, area, room, 0);
            if (got <= 0)
                break;
            resp_parser_commit(p, (size_t)got);
            atomic_store(&L.last_io_ms, srv_mstime());
        } else if (!full && srv_mstime() - atomic_load(&L.last_io_ms) >
                                (uint64_t)srv.cfg.repl_timeout * 1000) {
            srv_log(SRV_LOG_WARNING, "MASTER timeout: no data nor PING received...");
            break;
        }
    }
    resp_parser_free(p);
}

/* Waits until the writer applied (or dropped) every frame queued. */
static void drain(void)
{
    pthread_mutex_lock(&L.mu);
    while (L.queued)
        pthread_cond_wait(&L.cv, &L.mu);
    pthread_mutex_unlock(&L.mu);
}

static void *link_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "ox-replica");
    for (;;) {
        pthread_mutex_lock(&L.mu);
        while (!L.stop && !replica_configured())
            pthread_cond_wait(&L.cv, &L.mu);
        if (L.stop) {
            pthread_mutex_unlock(&L.mu);
            break;
        }
        char host[256];
        int port = L.port;
        uint64_t target = L.target;
        memcpy(host, L.host, sizeof host);
        L.gen++;
        pthread_mutex_unlock(&L.mu);
        atomic_store(&L.state, LS_CONNECTING);
        srv_log(SRV_LOG_NOTICE, "Connecting to MASTER %s:%d", host, port);
        int fd = dial(host, port);
        int ok = 0;
        if (fd >= 0) {
            pthread_mutex_lock(&L.mu);
            L.fd = fd;
            pthread_mutex_unlock(&L.mu);
            rd *r = srv_xcalloc(1, sizeof *r);
            r->fd = fd;
            char reply[256];
            uint64_t asked = 0;
            drain(); /* a change of role queued before it: its writes are in the offset */
            if (handshake(r, reply, sizeof reply, &asked) == 0) {
                if (!strncmp(reply, "+FULLRESYNC ", 12)) {
                    ok = full_sync(r, reply, target) == 0;
                } else if (!strncmp(reply, "+CONTINUE", 9)) {
                    char id[REPL_ID_LEN + 1];
                    uint64_t off;
                    repl_position(id, &off);
                    if (strlen(reply) >= 10 + REPL_ID_LEN)
                        repl_reset(reply + 10, off, 0); /* the master's id now */
                    /* The stream goes on from the offset PSYNC asked from. */
                    atomic_store(&L.applied, asked);
                    atomic_store(&L.read_off, asked);
                    srv_log(SRV_LOG_NOTICE, "Successful partial resynchronization with "
                            "master.");
                    ok = 1;
                } else {
                    srv_log(SRV_LOG_WARNING, "Unexpected reply to PSYNC from master: %s",
                            reply);
                }
            }
            if (ok && !link_gone(target)) {
                atomic_store(&L.state, LS_CONNECTED);
                atomic_store(&L.down_since_ms, 0);
                srv_log(SRV_LOG_NOTICE, "MASTER <-> REPLICA sync started: streaming");
                stream(r, target);
            }
            free(r);
            pthread_mutex_lock(&L.mu);
            L.fd = -1;
            pthread_mutex_unlock(&L.mu);
            close(fd);
        }
        if (atomic_load(&L.state) == LS_CONNECTED) {
            srv_log(SRV_LOG_NOTICE, "Connection with master lost.");
            atomic_store(&L.down_since_ms, srv_mstime());
        }
        atomic_store(&L.state, LS_CONNECT);
        drain(); /* the next PSYNC asks from what the store holds */
        atomic_store(&L.read_off, atomic_load(&L.applied));
        pthread_mutex_lock(&L.mu);
        if (!L.stop && L.target == target && replica_configured()) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += REPLICA_RETRY_MS / 1000;
            pthread_cond_timedwait(&L.cv, &L.mu, &ts);
        }
        pthread_mutex_unlock(&L.mu);
    }
    return NULL;
}

int replica_start(void)
{
    if (pthread_create(&L.th, NULL, link_main, NULL)) {
        srv_log(SRV_LOG_WARNING, "Can't start the replica's link thread");
        return -1;
    }
    L.th_on = 1;
    return 0;
}

void replica_stop(void)
{
    pthread_mutex_lock(&L.mu);
    L.stop = 1;
    if (L.fd >= 0)
        shutdown(L.fd, SHUT_RDWR);
    L.load_done = 1; /* a load the writer will not run now */
    L.load_rc = OX_EIO;
    L.queued = 0;
    pthread_cond_broadcast(&L.cv);
    pthread_mutex_unlock(&L.mu);
    if (L.th_on)
        pthread_join(L.th, NULL);
    L.th_on = 0;
}

void replica_fini(void)
{
    if (L.efd >= 0)
        close(L.efd);
    L.efd = -1;
    free(B.bytes);
    B.bytes = NULL;
    B.cap = B.len = 0;
}

long long replica_kill_link(void)
{
    pthread_mutex_lock(&L.mu);
    int had = L.fd >= 0;
    if (had)
        shutdown(L.fd, SHUT_RDWR);
    pthread_mutex_unlock(&L.mu);
    return had;
}

/* ---- the writer's side ------------------------------------------------------------------ */

/* The frames of the batch: their bytes as the master sent them. */
static void batch_add(const char *head, size_t hlen, const void *rec, size_t len)
{
    size_t need = B.len + hlen + len + 2;
    if (need > B.cap) {
        B.cap = need * 2;
        B.bytes = srv_xrealloc(B.bytes, B.cap);
    }
    memcpy(B.bytes + B.len, head, hlen);
    B.len += hlen;
    if (len) {
        memcpy(B.bytes + B.len, rec, len);
        memcpy(B.bytes + B.len + len, "\r\n", 2);
        B.len += len + 2;
    }
}

/* Frames (or a change of role) done with, committed and fed or dropped: they leave the
 * queue's count, so that drain() returns only once the store and the backlog hold them. */
static void dequeued(size_t bytes)
{
    pthread_mutex_lock(&L.mu);
    L.queued -= bytes < L.queued ? bytes : L.queued;
    if (!L.queued)
        pthread_cond_broadcast(&L.cv);
    pthread_mutex_unlock(&L.mu);
}

static int is_write(const cmd_def *d)
{
    return d && (d->flags & CMD_WRITE) && cmd_rflag(d, "write");
}

int replica_writer_refuses(void)
{
    /* In the writer's order: replica_configured changes on an I/O thread at once, while
     * writes admitted before it may still be on their way (and after a REPLICAOF NO ONE
     * as quickly, they would run unframed before the promotion). */
    return srv.cfg.replica_read_only && !repl_framing();
}

int replica_refuses_job(const srv_job *j)
{
    if (!replica_writer_refuses() || (j->kind != JOB_CMD && j->kind != JOB_EXEC))
        return 0;
    if (j->kind == JOB_CMD)
        return is_write(j->cmd);
    for (const srv_job *q = j->multi; q; q = q->next)
        if (is_write(q->cmd))
            return 1;
    return 0;
}

int replica_job(srv_job *j, ox_txn *txn)
{
    B.done += j->pipe_bytes; /* dequeued by replica_postcommit */
    pthread_mutex_lock(&L.mu);
    if (!txn) /* the batch failed already: this connection starts again */
        L.dead_gen = j->repl_gen;
    int dead = j->repl_gen == L.dead_gen;
    pthread_mutex_unlock(&L.mu);
    if (dead)
        return OX_OK;
    if (j->repl_op == REPL_OP_APPLY) {
        int rc = ox_txn_apply(txn, j->argv[0].ptr, j->argv[0].len);
        if (rc != OX_OK)
            return rc;
        char head[REPL_FRAME_HEAD_MAX];
        batch_add(head, repl_frame_head(head, j->argv[0].len), j->argv[0].ptr, j->argv[0].len);
        B.applied = 1;
    } else if (j->repl_flags & RF_GETACK) {
        batch_add(REPL_GETACK_FRAME, sizeof REPL_GETACK_FRAME - 1, NULL, 0);
    } else {
        batch_add(REPL_PING_FRAME, sizeof REPL_PING_FRAME - 1, NULL, 0);
    }
    B.any = 1;
    B.flags |= j->repl_flags;
    B.off = j->repl_off;
    return OX_OK;
}

int replica_precommit(ox_txn *txn)
{
    if (!B.any)
        return OX_OK;
    if (B.applied) /* WATCH on a replica: any write of the master aborts EXEC */
        watch_touch_all();
    if (B.flags & RF_DBMAP)
        dbmap_reload_begin();
    return state_put(txn, B.off);
}

void replica_postcommit(int ok)
{
    if (!B.any) {
        if (B.done) /* dropped frames only */
            dequeued(B.done);
        B.done = 0;
        return;
    }
    if (ok) {
        repl_feed(B.bytes, B.len, B.off);
        atomic_store(&L.applied, B.off);
        uint64_t one = 1;
        if ((B.flags & RF_GETACK) && write(L.efd, &one, sizeof one) < 0) {
            /* the eventfd is full: an ACK is due anyway */
        }
    } else {
        pthread_mutex_lock(&L.mu);
        L.dead_gen = L.gen; /* the rest of this connection's frames go: it starts again */
        pthread_mutex_unlock(&L.mu);
        srv_log(SRV_LOG_WARNING, "A commit of the master's stream failed: reconnecting");
    }
    if (B.flags & RF_DBMAP)
        dbmap_reload();
    if (B.flags & RF_FUNCTIONS)
        function_stored_changed();
    B.any = B.applied = 0;
    B.flags = 0;
    B.len = 0;
    dequeued(B.done);
    B.done = 0;
}

/* After the store's content changed under the server: what it keeps in memory. */
static void reload_all(void)
{
    dbmap_reload_begin();
    dbmap_reload();
    function_stored_changed();
    function_batch_end(1);
}

void replica_load(srv_job *j)
{
    int rc = OX_OK;
    if (j->repl_op == REPL_OP_LOAD) {
        char id[REPL_ID_LEN + 1];
        memcpy(id, j->argv[0].ptr, REPL_ID_LEN);
        id[REPL_ID_LEN] = '\0';
        char *path = strndup(j->argv[0].ptr + REPL_ID_LEN + 1, j->argv[0].len - REPL_ID_LEN - 1);
        if (!path)
            abort(); /* the server aborts when out of memory */
        dbmap_reload_begin();
        rc = ox_store_replace(srv.store, path);
        free(path);
        if (rc == OX_OK) {
            repl_reset(id, j->repl_off, 1);
            ox_txn *txn;
            if ((rc = ox_txn_begin(srv.store, &txn)) == OX_OK) {
                if ((rc = state_put(txn, j->repl_off)) == OX_OK)
                    rc = ox_txn_commit(txn);
                else
                    ox_txn_rollback(txn);
            }
            if (rc == OX_OK) {
                repl_feed(NULL, 0, j->repl_off);
                atomic_store(&L.applied, j->repl_off);
                atomic_store(&L.read_off, j->repl_off);
            }
        }
        reload_all();
        watch_touch_all(); /* every key may have changed */
        watch_batch_end(1);
        pthread_mutex_lock(&L.mu);
        L.load_rc = rc;
        L.load_done = 1;
        pthread_cond_broadcast(&L.cv);
        pthread_mutex_unlock(&L.mu);
    } else if (j->repl_op == REPL_OP_PROMOTE) {
        repl_promote();
        ox_txn *txn; /* the first commit of the new stream: it follows nobody's now */
        if ((rc = ox_txn_begin(srv.store, &txn)) == OX_OK) {
            ox_txn_delete(txn, L.table, REPLICA_KEY, strlen(REPLICA_KEY));
            rc = ox_txn_commit(txn);
        }
        if (rc != OX_OK)
            srv_log(SRV_LOG_WARNING, "Can't clear the replication state: %s", ox_strerror(rc));
        srv_log(SRV_LOG_NOTICE, "MASTER MODE enabled");
    } else if (j->repl_op == REPL_OP_DEMOTE) {
        repl_demote();
    }
    if (j->repl_op == REPL_OP_PROMOTE || j->repl_op == REPL_OP_DEMOTE)
        dequeued(j->pipe_bytes);
}

/* ---- REPLICAOF, INFO, ROLE -------------------------------------------------------------- */

/* A change of role, in order after the frames queued (L.mu held). */
static void to_writer(int op)
{
    srv_job *j = repl_job(op, NULL, 0, 0, L.gen);
    j->pipe_bytes = 1; /* counted until it ran: the link's drain() waits for it */
    L.queued += 1;
    writer_submit(j, j);
}

void cmd_replicaof(cmd_ctx *x)
{
    const resp_arg *h = &x->argv[1], *p = &x->argv[2];
    if (cmd_is(h, "no") && cmd_is(p, "one")) {
        pthread_mutex_lock(&L.mu);
        if (replica_configured()) {
            pthread_rwlock_wrlock(&srv.cfg_lock);
            conf_set_replicaof(&srv.cfg, NULL, 0);
            pthread_rwlock_unlock(&srv.cfg_lock);
            L.target++;
            if (L.fd >= 0)
                shutdown(L.fd, SHUT_RDWR);
            to_writer(REPL_OP_PROMOTE); /* after the frames queued: they are applied */
            /* Only now are clients' writes admitted: each is queued after the promotion,
             * which frames it. */
            atomic_store(&L.configured, 0);
            pthread_cond_broadcast(&L.cv);
            srv_log(SRV_LOG_NOTICE, "MASTER MODE enabled (user request from 'id=%llu addr=%s')",
                    (unsigned long long)x->c->id, x->c->addr);
        }
        pthread_mutex_unlock(&L.mu);
        cmd_ok(x);
        return;
    }
    long long port;
    if (!num_str2ll(p->ptr, p->len, &port) || port < 0 || port > 65535) {
        cmd_err(x, "-ERR Invalid master port");
        return;
    }
    if (h->len >= sizeof L.host) {
        cmd_err(x, "-ERR Invalid master host");
        return;
    }
    pthread_mutex_lock(&L.mu);
    if (replica_configured() && L.port == port && strlen(L.host) == h->len &&
        !memcmp(L.host, h->ptr, h->len)) {
        pthread_mutex_unlock(&L.mu);
        resp_write_raw(x->out, "+OK Already connected to specified master\r\n", 43);
        return;
    }
    char host[256];
    memcpy(host, h->ptr, h->len);
    host[h->len] = '\0';
    pthread_rwlock_wrlock(&srv.cfg_lock);
    if (conf_set_replicaof(&srv.cfg, host, (int)port))
        abort(); /* the server aborts when out of memory */
    pthread_rwlock_unlock(&srv.cfg_lock);
    int was_master = !replica_configured();
    memcpy(L.host, host, sizeof host);
    L.port = (int)port;
    L.target++;
    if (L.fd >= 0)
        shutdown(L.fd, SHUT_RDWR);
    if (was_master)
        to_writer(REPL_OP_DEMOTE); /* after the writes queued: they are in its stream */
    atomic_store(&L.configured, 1);
    atomic_store(&L.state, LS_CONNECT);
    pthread_cond_broadcast(&L.cv);
    pthread_mutex_unlock(&L.mu);
    srv_log(SRV_LOG_NOTICE, "REPLICAOF %s:%lld enabled (user request from 'id=%llu addr=%s')",
            host, port, (unsigned long long)x->c->id, x->c->addr);
    cmd_ok(x);
}

void replica_info(char *buf, size_t cap)
{
    pthread_mutex_lock(&L.mu);
    char host[256];
    int port = L.port;
    memcpy(host, L.host, sizeof host);
    pthread_mutex_unlock(&L.mu);
    int state = atomic_load(&L.state), up = state == LS_CONNECTED;
    uint64_t now = srv_mstime(), io = atomic_load(&L.last_io_ms);
    long long io_ago = io ? (long long)(now - io) / 1000 : -1;
    size_t n = (size_t)snprintf(buf, cap, "role:slave\r\nmaster_host:%s\r\nmaster_port:%d\r\n"
                                "master_link_status:%s\r\nmaster_last_io_seconds_ago:%lld\r\n"
                                "master_sync_in_progress:%d\r\n",
                                host, port, up ? "up" : "down", up ? io_ago : -1,
                                state == LS_SYNC);
    if (state == LS_SYNC && n < cap) {
        unsigned long long total = atomic_load(&L.sync_total), got = atomic_load(&L.sync_read);
        n += (size_t)snprintf(buf + n, cap - n, "master_sync_total_bytes:%llu\r\n"
                              "master_sync_read_bytes:%llu\r\nmaster_sync_left_bytes:%llu\r\n"
                              "master_sync_perc:%.2f\r\nmaster_sync_last_io_seconds_ago:%lld\r\n",
                              total, got, total - got, total ? 100.0 * (double)got / (double)total : 0.0,
                              io_ago);
    }
    if (n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "slave_read_repl_offset:%llu\r\n"
                              "slave_repl_offset:%llu\r\n",
                              (unsigned long long)atomic_load(&L.read_off),
                              (unsigned long long)atomic_load(&L.applied));
    uint64_t down = atomic_load(&L.down_since_ms);
    if (!up && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "master_link_down_since_seconds:%lld\r\n",
                              down ? (long long)(now - down) / 1000 : -1);
    if (n < cap)
        snprintf(buf + n, cap - n, "slave_priority:%d\r\nslave_read_only:%d\r\n"
                 "replica_announced:1\r\n", srv.cfg.replica_priority, srv.cfg.replica_read_only);
}

void replica_role_reply(resp_buf *out)
{
    pthread_mutex_lock(&L.mu);
    char host[256];
    int port = L.port;
    memcpy(host, L.host, sizeof host);
    pthread_mutex_unlock(&L.mu);
    const char *st = state_names[atomic_load(&L.state)];
    resp_write_array(out, 5);
    resp_write_bulk(out, "slave", 5);
    resp_write_bulk(out, host, strlen(host));
    resp_write_int(out, port);
    resp_write_bulk(out, st, strlen(st));
    resp_write_int(out, (long long)atomic_load(&L.applied));
}
