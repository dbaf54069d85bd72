/* repl.c — the replication stream, its backlog, and the master's side: PSYNC, REPLCONF,
 * the replicas' sender and ACK threads, WAIT, min-replicas, INFO and ROLE (see repl.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "io.h"
#include "log.h"
#include "num.h"
#include "replica.h"
#include "repl.h"
#include "util.h"
#include "zindex.h"

#define REPL_BLK (64u << 10)         /* bytes of a backlog block */
#define REPL_SEND_MAX (256u << 10)   /* bytes a sender copies out per round */
#define REPL_SEQ_KEEP 4096           /* seq -> offset pairs kept when no sync needs older */

/* A block of the backlog: bytes [off, off + len) of the stream. */
typedef struct repl_blk {
    struct repl_blk *next;
    uint64_t off;
    size_t len;
    unsigned char data[REPL_BLK];
} repl_blk;

/* Where a commit's frame ends: a full sync from a backup of seq starts at off. */
typedef struct repl_seqoff {
    uint64_t seq, off;
} repl_seqoff;

/* A replica's state: its backup being made, then sent; then the stream. */
enum { RS_SYNC, RS_SEND, RS_ONLINE };

typedef struct repl_replica {
    struct repl_replica *next;
    int fd;
    uint64_t id;              /* its client id */
    char ip[64];
    int port;                 /* REPLCONF listening-port */
    char announce_ip[64];     /* REPLCONF ip-address */
    int state;
    int closing;              /* the link is going: both threads end */
    uint64_t pos;             /* the next byte of the stream to send */
    uint64_t pin;             /* a full sync's start: the backlog keeps it (0: none) */
    uint64_t ack;             /* the last offset it acknowledged */
    uint64_t ack_ms;          /* when (monotonic), or when it connected */
    int full;                 /* it asked for a full sync */
    char want_id[REPL_ID_LEN + 1];
    pthread_t sender, reader;
    int threads;              /* started threads still to join */
} repl_replica;

/* A client waiting in WAIT. */
typedef struct repl_waiter {
    struct repl_waiter *next;
    srv_client *c;
    uint64_t offset;
    long long want;
    uint64_t deadline_ms;     /* monotonic; 0: none */
    long long got;
} repl_waiter;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t data;      /* bytes appended, a replica closing, a shutdown */
    pthread_cond_t cron_cv;
    int master;               /* framing commits (a master) or not (a replica) */
    int active;               /* the backlog exists: since the first replica (a master), or
                                 always (a replica), as Redis's; no stream before it */
    uint64_t base_seq;        /* the last commit the backlog's start holds (backlog_reset) */
    char id[REPL_ID_LEN + 1], id2[REPL_ID_LEN + 1];
    long long second_off;     /* -1: no second id */
    uint64_t off;             /* master_repl_offset: bytes of the stream so far */
    uint64_t last_end;        /* where the last commit's frame ended */
    uint64_t start;           /* the backlog's first byte */
    repl_blk *head, *tail;
    uint64_t pending_seq;     /* a replica's commit, between the hook and repl_feed */
    repl_seqoff *seqs;        /* a ring of commits' frame ends, oldest first */
    size_t nseq, capseq, seq0;
    repl_replica *replicas;
    int idle_senders;         /* senders waiting on `data`: a commit wakes them only then */
    repl_waiter *waiters;
    pthread_t cron;
    int cron_on, stop;
    uint64_t ping_ms;         /* when the last PING went into the stream */
} R = {.mu = PTHREAD_MUTEX_INITIALIZER, .data = PTHREAD_COND_INITIALIZER,
       .cron_cv = PTHREAD_COND_INITIALIZER};

/* ---- the backlog (mu held) ---------------------------------------------------------- */

static void append(const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n) {
        if (!R.tail || R.tail->len == REPL_BLK) {
            repl_blk *k = srv_xmalloc(sizeof *k);
            k->next = NULL;
            k->off = R.off;
            k->len = 0;
            if (R.tail)
                R.tail->next = k;
            else
                R.head = k;
            R.tail = k;
        }
        size_t room = REPL_BLK - R.tail->len, take = n < room ? n : room;
        memcpy(R.tail->data + R.tail->len, b, take);
        R.tail->len += take;
        R.off += take;
        b += take;
        n -= take;
    }
}

/* The oldest byte a replica still needs, or R.off. */
static uint64_t oldest_needed(void)
{
    uint64_t min = R.off;
    for (repl_replica *r = R.replicas; r; r = r->next) {
        if (r->closing)
            continue;
        uint64_t need = r->pin ? r->pin : r->pos;
        if (need < min)
            min = need;
    }
    return min;
}

/* Drops whole blocks the backlog no longer keeps (see repl.h). */
static void trim(void)
{
    uint64_t size = (uint64_t)srv.cfg.repl_backlog_size;
    uint64_t hard = (uint64_t)srv.cfg.client_output_other[CONF_COBL_REPLICA][0];
    uint64_t need = oldest_needed();
    while (R.head && R.head->next) {
        uint64_t end = R.head->off + R.head->len, kept = R.off - end;
        if (kept < size || (end > need && (!hard || kept < size + hard)))
            break;
        repl_blk *k = R.head;
        R.head = k->next;
        R.start = R.head->off;
        free(k);
    }
    /* seq -> offset pairs: those a sync may ask for (at or after the oldest pin), or the
     * newest few. */
    uint64_t pin = R.off;
    for (repl_replica *r = R.replicas; r; r = r->next)
        if (!r->closing && r->pin && r->pin < pin)
            pin = r->pin;
    while (R.nseq > REPL_SEQ_KEEP && R.seqs[R.seq0].off < pin) {
        R.seq0 = (R.seq0 + 1) % R.capseq;
        R.nseq--;
    }
}

static void seq_note(uint64_t seq, uint64_t off)
{
    if (R.nseq == R.capseq) { /* grow the ring, oldest first again */
        size_t cap = R.capseq ? R.capseq * 2 : 2 * REPL_SEQ_KEEP;
        repl_seqoff *n = srv_xmalloc(cap * sizeof *n);
        for (size_t i = 0; i < R.nseq; i++)
            n[i] = R.seqs[(R.seq0 + i) % R.capseq];
        free(R.seqs);
        R.seqs = n;
        R.capseq = cap;
        R.seq0 = 0;
    }
    R.seqs[(R.seq0 + R.nseq++) % R.capseq] = (repl_seqoff){seq, off};
    R.last_end = off;
}

/* The offset after commit seq's frame; 0 with *found 0 if the ring no longer has it. */
static uint64_t seq_offset(uint64_t seq, int *found)
{
    *found = 0;
    size_t lo = 0, hi = R.nseq;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const repl_seqoff *e = &R.seqs[(R.seq0 + mid) % R.capseq];
        if (e->seq == seq) {
            *found = 1;
            return e->off;
        }
        if (e->seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Copies up to cap bytes of the stream from pos into buf. */
static size_t copy_out(uint64_t pos, unsigned char *buf, size_t cap)
{
    size_t got = 0;
    for (repl_blk *k = R.head; k && got < cap; k = k->next) {
        uint64_t end = k->off + k->len;
        if (pos + got >= end)
            continue;
        size_t at = (size_t)(pos + got - k->off), n = k->len - at;
        if (n > cap - got)
            n = cap - got;
        memcpy(buf + got, k->data + at, n);
        got += n;
    }
    return got;
}

size_t repl_frame_head(char out[REPL_FRAME_HEAD_MAX], size_t reclen)
{
    return (size_t)snprintf(out, REPL_FRAME_HEAD_MAX, "*2\r\n$7\r\nOXAPPLY\r\n$%zu\r\n", reclen);
}

void repl_on_commit(void *arg, uint64_t seq, const void *rec, size_t len)
{
    (void)arg;
    pthread_mutex_lock(&R.mu);
    /* A commit the backlog's start holds already (its hook waited for the lock while a
     * first replica made the backlog) is not framed again. */
    if (R.master && R.active && seq > R.base_seq) {
        char head[REPL_FRAME_HEAD_MAX];
        append(head, repl_frame_head(head, len));
        append(rec, len);
        append("\r\n", 2);
        seq_note(seq, R.off);
        trim();
        if (R.idle_senders) /* a busy sender finds the bytes when it looks again */
            pthread_cond_broadcast(&R.data);
    } else if (!R.master) {
        R.pending_seq = seq;
    }
    pthread_mutex_unlock(&R.mu);
}

void repl_feed(const void *bytes, size_t len, uint64_t offset)
{
    pthread_mutex_lock(&R.mu);
    append(bytes, len);
    if (R.off != offset) { /* not reached: the link applies the stream in order */
        srv_log(SRV_LOG_WARNING, "Replication offset %llu after applying, %llu expected",
                (unsigned long long)R.off, (unsigned long long)offset);
        R.off = offset;
    }
    if (R.pending_seq)
        seq_note(R.pending_seq, R.off);
    R.pending_seq = 0;
    trim();
    pthread_cond_broadcast(&R.data);
    pthread_mutex_unlock(&R.mu);
}

static void new_id(char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < REPL_ID_LEN; i += 16) {
        uint64_t r = srv_random64();
        for (int k = 0; k < 16 && i + k < REPL_ID_LEN; k++, r >>= 4)
            out[i + k] = hex[r & 15];
    }
    out[REPL_ID_LEN] = '\0';
}

/* Empties the backlog, which starts again at offset off (mu held). */
static void backlog_reset(uint64_t off)
{
    while (R.head) {
        repl_blk *k = R.head;
        R.head = k->next;
        free(k);
    }
    R.tail = NULL;
    R.off = R.start = R.last_end = off;
    R.nseq = R.seq0 = 0;
    ox_write_info wi;
    R.base_seq = 0;
    if (ox_store_write_info(srv.store, &wi) == OX_OK) {
        R.base_seq = wi.last_seq;
        seq_note(wi.last_seq, off); /* a backup of what the store holds now starts here */
    }
}

/* ---- replicas' threads ---------------------------------------------------------------- */

static int send_all(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        atomic_fetch_add_explicit(&srv.stats.net_out, (unsigned long long)w,
                                  memory_order_relaxed);
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static void replica_close(repl_replica *r)
{
    pthread_mutex_lock(&R.mu);
    if (!r->closing) {
        r->closing = 1;
        shutdown(r->fd, SHUT_RDWR); /* the other thread's read or send returns */
        pthread_cond_broadcast(&R.data);
    }
    pthread_mutex_unlock(&R.mu);
}

/* While a full sync's backup is made: a newline every REPL_ALIVE_MS to the replica, as
 * Redis sends while it saves, so that a backup longer than repl-timeout (1 s at least)
 * does not look like a dead master (the replica skips them before +FULLRESYNC). */
#define REPL_ALIVE_MS 200
typedef struct keepalive {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd, done;
} keepalive;

static void *keepalive_main(void *arg)
{
    keepalive *k = arg;
    pthread_setname_np(pthread_self(), "ox-repl-alive");
    pthread_mutex_lock(&k->mu);
    while (!k->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += REPL_ALIVE_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        if (pthread_cond_timedwait(&k->cv, &k->mu, &ts) == ETIMEDOUT && !k->done)
            send(k->fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

/* ox_backup of the store into path, keeping the replica's link alive meanwhile. */
static int backup_alive(repl_replica *r, const char *path)
{
    keepalive k = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
                   .fd = r->fd};
    pthread_t th;
    int on = pthread_create(&th, NULL, keepalive_main, &k) == 0;
    int rc = ox_backup(srv.store, path, 0);
    pthread_mutex_lock(&k.mu);
    k.done = 1;
    pthread_cond_signal(&k.cv);
    pthread_mutex_unlock(&k.mu);
    if (on)
        pthread_join(th, NULL);
    return rc;
}

/* A full sync: a backup of the store, its offset, the file. 0, or -1 (the link goes). */
static int full_sync(repl_replica *r)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.sync-%llu", srv.cfg.dir, srv.cfg.dbfilename,
             (unsigned long long)r->id);
    pthread_mutex_lock(&R.mu);
    r->pin = R.last_end;
    pthread_mutex_unlock(&R.mu);
    srv_log(SRV_LOG_NOTICE, "Starting a full sync of replica %s:%d: a backup of the store",
            r->ip, r->port);
    uint64_t seq = 0;
    int rc = backup_alive(r, path);
    if (rc == OX_OK)
        rc = ox_backup_seq(path, &seq);
    if (rc != OX_OK) {
        srv_log(SRV_LOG_WARNING, "Full sync of replica %s:%d failed: the backup: %s", r->ip,
                r->port, ox_strerror(rc));
        unlink(path);
        return -1;
    }
    int found;
    char id[REPL_ID_LEN + 1];
    pthread_mutex_lock(&R.mu);
    uint64_t off = seq_offset(seq, &found);
    memcpy(id, R.id, sizeof id);
    if (found) {
        r->pos = off;
        r->state = RS_SEND;
    }
    pthread_mutex_unlock(&R.mu);
    int fd = found ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    unlink(path); /* the open file stays readable */
    if (fd < 0) {
        srv_log(SRV_LOG_WARNING, "Full sync of replica %s:%d failed: %s", r->ip, r->port,
                found ? strerror(errno) : "the backup is older than the backlog");
        return -1;
    }
    struct stat st;
    char head[160];
    int n = fstat(fd, &st) ? -1
                           : snprintf(head, sizeof head, "+FULLRESYNC %s %llu\r\n$%lld\r\n", id,
                                      (unsigned long long)off, (long long)st.st_size);
    int ok = n > 0 && send_all(r->fd, head, (size_t)n) == 0;
    off_t at = 0;
    while (ok && at < st.st_size) {
        ssize_t w = sendfile(r->fd, fd, &at, (size_t)(st.st_size - at));
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        if (ok)
            atomic_fetch_add_explicit(&srv.stats.net_out, (unsigned long long)w,
                                      memory_order_relaxed);
    }
    close(fd);
    if (ok)
        srv_log(SRV_LOG_NOTICE, "Synchronization with replica %s:%d succeeded (%lld bytes)",
                r->ip, r->port, (long long)st.st_size);
    return ok ? 0 : -1;
}

static void *sender_main(void *arg)
{
    repl_replica *r = arg;
    pthread_setname_np(pthread_self(), "ox-repl-send");
    int ok = 1;
    if (r->full) {
        ok = full_sync(r) == 0;
    } else {
        char line[80];
        int n = snprintf(line, sizeof line, "+CONTINUE %s\r\n", r->want_id);
        ok = send_all(r->fd, line, (size_t)n) == 0;
    }
    pthread_mutex_lock(&R.mu);
    r->pin = 0;
    r->state = RS_ONLINE;
    r->ack_ms = srv_monotonic_ms();
    pthread_mutex_unlock(&R.mu);
    unsigned char *buf = srv_xmalloc(REPL_SEND_MAX);
    while (ok) {
        pthread_mutex_lock(&R.mu);
        while (!r->closing && r->pos >= R.off) {
            R.idle_senders++;
            pthread_cond_wait(&R.data, &R.mu);
            R.idle_senders--;
        }
        if (r->closing) {
            pthread_mutex_unlock(&R.mu);
            break;
        }
        if (r->pos < R.start) {
            pthread_mutex_unlock(&R.mu);
            srv_log(SRV_LOG_WARNING, "Replica %s:%d fell behind the backlog: disconnected",
                    r->ip, r->port);
            break;
        }
        size_t n = copy_out(r->pos, buf, REPL_SEND_MAX);
        pthread_mutex_unlock(&R.mu);
        if (send_all(r->fd, buf, n))
            break;
        pthread_mutex_lock(&R.mu);
        r->pos += n;
        trim();
        pthread_mutex_unlock(&R.mu);
    }
    free(buf);
    replica_close(r);
    return NULL;
}

/* Reads the replica's REPLCONF ACK <offset> (and anything else it sends) until the link
 * goes. */
static void *reader_main(void *arg)
{
    repl_replica *r = arg;
    pthread_setname_np(pthread_self(), "ox-repl-ack");
    resp_parser *p;
    if (resp_parser_new(&p, NULL, NULL) != RESP_OK) {
        replica_close(r);
        return NULL;
    }
    for (;;) {
        void *area;
        size_t room;
        if (resp_parser_reserve(p, 4096, &area, &room) != RESP_OK)
            break;
        ssize_t got = recv(r->fd, area, room, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        resp_parser_commit(p, (size_t)got);
        resp_cmd cmd;
        int rc;
        while ((rc = resp_parser_next(p, &cmd)) == RESP_OK) {
            long long off;
            if (cmd.argc == 3 && cmd_is(&cmd.argv[0], "replconf") &&
                cmd_is(&cmd.argv[1], "ack") &&
                num_str2ll(cmd.argv[2].ptr, cmd.argv[2].len, &off) && off >= 0) {
                pthread_mutex_lock(&R.mu);
                if ((uint64_t)off > r->ack)
                    r->ack = (uint64_t)off;
                r->ack_ms = srv_monotonic_ms();
                pthread_cond_broadcast(&R.cron_cv); /* WAIT may be answered */
                pthread_mutex_unlock(&R.mu);
            } else if (cmd.argc == 4 && cmd_is(&cmd.argv[0], "replconf") &&
                       cmd_is(&cmd.argv[1], "zindex") &&
                       num_str2ll(cmd.argv[3].ptr, cmd.argv[3].len, &off) && off > 0) {
                /* ranks asked on the replica: the master builds the set's index */
                zindex_want_id(cmd.argv[2].ptr, cmd.argv[2].len, (uint64_t)off);
            }
        }
        if (rc == RESP_EPROTO)
            break;
        resp_parser_trim(p);
    }
    resp_parser_free(p);
    replica_close(r);
    return NULL;
}

/* ---- WAIT, the cron ---------------------------------------------------------------------- */

/* Replicas that acknowledged offset (mu held). */
static long long acked(uint64_t offset)
{
    long long n = 0;
    for (repl_replica *r = R.replicas; r; r = r->next)
        n += !r->closing && r->state == RS_ONLINE && r->ack >= offset;
    return n;
}

static void wait_done_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    repl_waiter *w = arg;
    if (!w->c->gone)
        resp_write_int(w->c->out, w->got);
    client_resume(w->c);
    free(w);
}

/* Answers the waiters whose count is reached or whose time is up, on their threads (mu
 * held). The earliest deadline left, or 0. */
static uint64_t waiters_run(uint64_t now)
{
    uint64_t next = 0;
    for (repl_waiter **pw = &R.waiters; *pw;) {
        repl_waiter *w = *pw;
        w->got = acked(w->offset);
        int stop = R.stop || w->got >= w->want || (w->deadline_ms && now >= w->deadline_ms);
        if (!stop) {
            if (w->deadline_ms && (!next || w->deadline_ms < next))
                next = w->deadline_ms;
            pw = &w->next;
            continue;
        }
        *pw = w->next;
        if (event_base_once(w->c->io->base, -1, EV_TIMEOUT, wait_done_cb, w, NULL))
            abort(); /* the server aborts when libevent cannot allocate */
    }
    return next;
}

/* Frees the replicas whose link went (mu held; their threads are joined outside). */
static repl_replica *unlink_closed(void)
{
    repl_replica *gone = NULL;
    for (repl_replica **pr = &R.replicas; *pr;) {
        repl_replica *r = *pr;
        if (!r->closing) {
            pr = &r->next;
            continue;
        }
        *pr = r->next;
        r->next = gone;
        gone = r;
    }
    return gone;
}

static void reap(repl_replica *gone)
{
    while (gone) {
        repl_replica *r = gone;
        gone = r->next;
        pthread_join(r->sender, NULL);
        pthread_join(r->reader, NULL);
        close(r->fd);
        srv_log(SRV_LOG_NOTICE, "Connection with replica %s:%d lost.", r->ip, r->port);
        free(r);
    }
}

static void *cron_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "ox-repl-cron");
    pthread_mutex_lock(&R.mu);
    while (!R.stop) {
        uint64_t now = srv_monotonic_ms();
        uint64_t timeout_ms = (uint64_t)srv.cfg.repl_timeout * 1000;
        for (repl_replica *r = R.replicas; r; r = r->next) {
            if (!r->closing && r->state == RS_ONLINE && now - r->ack_ms > timeout_ms) {
                srv_log(SRV_LOG_WARNING, "Disconnecting timedout replica: %s:%d", r->ip,
                        r->port);
                r->closing = 1;
                shutdown(r->fd, SHUT_RDWR);
                pthread_cond_broadcast(&R.data);
            }
        }
        if (R.master && R.replicas && now - R.ping_ms >= REPL_PING_S * 1000u) {
            append(REPL_PING_FRAME, sizeof REPL_PING_FRAME - 1);
            R.ping_ms = now;
            pthread_cond_broadcast(&R.data);
        }
        repl_replica *gone = unlink_closed();
        if (gone) {
            pthread_mutex_unlock(&R.mu);
            reap(gone);
            pthread_mutex_lock(&R.mu);
            continue;
        }
        uint64_t next = waiters_run(now), wait_ms = 100;
        if (next && next - now < wait_ms)
            wait_ms = next > now ? next - now : 1;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        ts.tv_sec += (time_t)(wait_ms / 1000) + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&R.cron_cv, &R.mu, &ts);
    }
    pthread_mutex_unlock(&R.mu);
    return NULL;
}

/* ---- life -------------------------------------------------------------------------------- */

/* Removes what a crash left of full syncs in the data directory: a master's backups
 * ("<dbfilename>.sync-<id>", and their ".tmp"), a replica's received file
 * ("<dbfilename>.replica-sync"). */
static void remove_stale_syncs(void)
{
    DIR *d = opendir(srv.cfg.dir);
    if (!d)
        return;
    size_t n = strlen(srv.cfg.dbfilename);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *rest = e->d_name + n;
        if (strncmp(e->d_name, srv.cfg.dbfilename, n) ||
            (strncmp(rest, ".sync-", 6) && strcmp(rest, ".replica-sync")))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", srv.cfg.dir, e->d_name);
        if (unlink(path) == 0)
            srv_log(SRV_LOG_NOTICE, "Removed %s, left by an unfinished full sync", path);
    }
    closedir(d);
}

int repl_init(uint64_t offset)
{
    remove_stale_syncs();
    pthread_mutex_lock(&R.mu);
    new_id(R.id);
    memset(R.id2, '0', REPL_ID_LEN);
    R.id2[REPL_ID_LEN] = '\0';
    R.second_off = -1;
    R.master = !replica_configured();
    R.active = !R.master;
    backlog_reset(offset);
    R.ping_ms = srv_monotonic_ms();
    pthread_mutex_unlock(&R.mu);
    ox_store_on_commit(srv.store, repl_on_commit, NULL);
    if (pthread_create(&R.cron, NULL, cron_main, NULL)) {
        srv_log(SRV_LOG_WARNING, "Can't start the replication thread");
        return -1;
    }
    R.cron_on = 1;
    return 0;
}

void repl_quiesce(void)
{
    pthread_mutex_lock(&R.mu);
    R.stop = 1;
    pthread_cond_broadcast(&R.cron_cv);
    pthread_mutex_unlock(&R.mu);
    if (R.cron_on)
        pthread_join(R.cron, NULL);
    R.cron_on = 0;
}

void repl_shutdown(void)
{
    repl_quiesce();
    pthread_mutex_lock(&R.mu);
    for (repl_replica *r = R.replicas; r; r = r->next) {
        r->closing = 1;
        shutdown(r->fd, SHUT_RDWR);
    }
    pthread_cond_broadcast(&R.data);
    while (R.waiters) { /* their clients went with the I/O threads */
        repl_waiter *w = R.waiters;
        R.waiters = w->next;
        free(w);
    }
    repl_replica *gone = unlink_closed();
    pthread_mutex_unlock(&R.mu);
    reap(gone);
    if (srv.store)
        ox_store_on_commit(srv.store, NULL, NULL);
    pthread_mutex_lock(&R.mu);
    backlog_reset(0);
    free(R.seqs);
    R.seqs = NULL;
    R.capseq = R.nseq = R.seq0 = 0;
    pthread_mutex_unlock(&R.mu);
}

void repl_promote(void)
{
    pthread_mutex_lock(&R.mu);
    if (!R.master) {
        memcpy(R.id2, R.id, sizeof R.id2);
        R.second_off = (long long)R.off + 1;
        new_id(R.id);
        R.master = 1;
    }
    pthread_mutex_unlock(&R.mu);
}

int repl_framing(void)
{
    return R.master; /* written by the writer alone, once it started */
}

void repl_demote(void)
{
    pthread_mutex_lock(&R.mu);
    R.master = 0;
    if (!R.active) { /* a replica's backlog holds what it applies, from now on */
        backlog_reset(R.off);
        R.active = 1;
    }
    for (repl_replica *r = R.replicas; r; r = r->next) {
        r->closing = 1;
        shutdown(r->fd, SHUT_RDWR);
    }
    pthread_cond_broadcast(&R.data);
    pthread_mutex_unlock(&R.mu);
}

void repl_position(char id[REPL_ID_LEN + 1], uint64_t *offset)
{
    pthread_mutex_lock(&R.mu);
    memcpy(id, R.id, REPL_ID_LEN + 1);
    *offset = R.off;
    pthread_mutex_unlock(&R.mu);
}

void repl_reset(const char *id, uint64_t offset, int full)
{
    pthread_mutex_lock(&R.mu);
    if (full) { /* another history: nothing of the old one is continued */
        memset(R.id2, '0', REPL_ID_LEN);
        R.second_off = -1;
        backlog_reset(offset);
        R.active = 1;
        for (repl_replica *r = R.replicas; r; r = r->next) { /* theirs neither: they sync */
            r->closing = 1;
            shutdown(r->fd, SHUT_RDWR);
        }
        pthread_cond_broadcast(&R.data);
    } else if (memcmp(R.id, id, REPL_ID_LEN)) { /* the same history, a new name */
        memcpy(R.id2, R.id, sizeof R.id2);
        R.second_off = (long long)R.off + 1;
    }
    memcpy(R.id, id, REPL_ID_LEN);
    R.id[REPL_ID_LEN] = '\0';
    pthread_mutex_unlock(&R.mu);
}

/* ---- commands ------------------------------------------------------------------------------ */

/* The connection left its I/O thread (client_handoff): the replica's threads take it. */
static void adopt(int fd, void *arg)
{
    repl_replica *r = arg;
    r->fd = fd;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    pthread_mutex_lock(&R.mu);
    if (R.stop) {
        pthread_mutex_unlock(&R.mu);
        close(fd);
        free(r);
        return;
    }
    r->ack_ms = srv_monotonic_ms();
    r->next = R.replicas;
    R.replicas = r;
    if (pthread_create(&r->sender, NULL, sender_main, r)) {
        r->closing = 1;
        r->sender = pthread_self(); /* never joined: see reap */
    }
    if (pthread_create(&r->reader, NULL, reader_main, r))
        abort(); /* the server aborts when it cannot get resources */
    pthread_mutex_unlock(&R.mu);
}

void cmd_psync(cmd_ctx *x)
{
    if (replica_configured() && !replica_link_up()) {
        cmd_err(x, "-NOMASTERLINK Can't SYNC while not connected with my master");
        return;
    }
    repl_replica *r = srv_xcalloc(1, sizeof *r);
    r->fd = -1;
    r->id = x->c->id;
    r->port = x->c->repl_port;
    r->state = RS_SYNC;
    snprintf(r->ip, sizeof r->ip, "%s", x->c->repl_ip[0] ? x->c->repl_ip : x->c->addr);
    char *colon = strrchr(r->ip, ':'); /* addr is ip:port */
    if (!x->c->repl_ip[0] && colon)
        *colon = '\0';
    long long want = -1;
    int psync = x->argc == 3;
    if (psync && (!num_str2ll(x->argv[2].ptr, x->argv[2].len, &want))) {
        free(r);
        cmd_err(x, "-ERR value is not an integer or out of range");
        return;
    }
    pthread_mutex_lock(&R.mu);
    if (!R.active) { /* the first replica: the stream starts here */
        backlog_reset(R.off);
        R.active = 1;
    }
    r->full = 1;
    if (psync && x->argv[1].len == REPL_ID_LEN && want > 0) {
        int same = !memcmp(x->argv[1].ptr, R.id, REPL_ID_LEN);
        int second = !memcmp(x->argv[1].ptr, R.id2, REPL_ID_LEN) && want <= R.second_off;
        uint64_t from = (uint64_t)want - 1;
        if ((same || second) && from >= R.start && from <= R.off) {
            r->full = 0;
            r->pos = from;
            r->pin = from; /* kept until its sender starts */
            memcpy(r->want_id, R.id, sizeof r->want_id);
        }
    }
    pthread_mutex_unlock(&R.mu);
    if (!r->full)
        atomic_fetch_add(&srv.stats.sync_partial_ok, 1);
    else if (psync && want > 0) /* Redis counts a PSYNC it refused ("?" asks for none) */
        atomic_fetch_add(&srv.stats.sync_partial_err, 1);
    if (r->full)
        atomic_fetch_add(&srv.stats.sync_full, 1);
    srv_log(SRV_LOG_NOTICE, "Replica %s:%d asks for synchronization: %s", r->ip, r->port,
            r->full ? "full resync" : "partial resync accepted");
    client_handoff(x->c, adopt, r);
}

void cmd_replconf(cmd_ctx *x)
{
    if ((x->argc % 2) == 0) {
        cmd_syntax_error(x);
        return;
    }
    for (int i = 1; i < x->argc; i += 2) {
        const resp_arg *o = &x->argv[i], *v = &x->argv[i + 1];
        long long n;
        if (cmd_is(o, "listening-port")) {
            if (!num_str2ll(v->ptr, v->len, &n) || n < 0 || n > 65535) {
                cmd_err(x, "-ERR value is not an integer or out of range");
                return;
            }
            x->c->repl_port = (int)n;
        } else if (cmd_is(o, "ip-address")) {
            if (v->len >= sizeof x->c->repl_ip) {
                cmd_err(x, "-ERR REPLCONF ip-address provided by replica instance is too long");
                return;
            }
            memcpy(x->c->repl_ip, v->ptr, v->len);
            x->c->repl_ip[v->len] = '\0';
        } else if (cmd_is(o, "capa") || cmd_is(o, "rdb-only") || cmd_is(o, "rdb-filter-only")) {
            /* capabilities: the stream is the same for every replica */
        } else if (cmd_is(o, "ack") || cmd_is(o, "getack")) {
            return; /* only on a replica's link (reader_main): no reply, as Redis */
        } else {
            resp_write_errorf(x->out, "-ERR Unrecognized REPLCONF option: %.*s", (int)o->len,
                              o->ptr);
            return;
        }
    }
    cmd_ok(x);
}

void cmd_wait(cmd_ctx *x)
{
    if (replica_configured()) {
        cmd_err(x, "-ERR WAIT cannot be used with replica instances. Please also note that "
                   "since Redis 4.0 if a replica is configured to be writable (which is not "
                   "the default) writes to replicas are just local and are not propagated.");
        return;
    }
    long long want, ms;
    if (cmd_ll_or_reply(x, &x->argv[1], &want))
        return;
    if (!num_str2ll(x->argv[2].ptr, x->argv[2].len, &ms)) {
        cmd_err(x, "-ERR timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        cmd_err(x, "-ERR timeout is negative");
        return;
    }
    pthread_mutex_lock(&R.mu);
    uint64_t offset = R.off;
    long long got = acked(offset);
    /* !R.master: REPLICAOF NO ONE is not applied yet, the backlog is still the old
     * master's stream (nothing may be appended to it), and nobody replicates from here. */
    if (got >= want || x->in_exec || !R.master) {
        pthread_mutex_unlock(&R.mu);
        resp_write_int(x->out, got);
        return;
    }
    if (R.active) {
        append(REPL_GETACK_FRAME, sizeof REPL_GETACK_FRAME - 1); /* acknowledge now, please */
        pthread_cond_broadcast(&R.data);
    }
    repl_waiter *w = srv_xcalloc(1, sizeof *w);
    w->c = x->c;
    w->offset = offset;
    w->want = want;
    w->deadline_ms = ms ? srv_monotonic_ms() + (uint64_t)ms : 0;
    w->next = R.waiters;
    R.waiters = w;
    client_suspend(x->c);
    pthread_cond_broadcast(&R.cron_cv);
    pthread_mutex_unlock(&R.mu);
}

int repl_writes_allowed(void)
{
    int min = srv.cfg.min_replicas_to_write;
    if (!min)
        return 1;
    uint64_t lag_ms = (uint64_t)srv.cfg.min_replicas_max_lag * 1000, now = srv_monotonic_ms();
    int good = 0;
    pthread_mutex_lock(&R.mu);
    for (repl_replica *r = R.replicas; r; r = r->next)
        good += !r->closing && r->state == RS_ONLINE && now - r->ack_ms <= lag_ms;
    pthread_mutex_unlock(&R.mu);
    return good >= min;
}

long long repl_kill_replicas(void)
{
    long long n = 0;
    pthread_mutex_lock(&R.mu);
    for (repl_replica *r = R.replicas; r; r = r->next) {
        if (r->closing)
            continue;
        r->closing = 1;
        shutdown(r->fd, SHUT_RDWR);
        n++;
    }
    pthread_cond_broadcast(&R.data);
    pthread_mutex_unlock(&R.mu);
    return n;
}

/* ---- INFO, ROLE -------------------------------------------------------------------------------- */

static const char *state_name(const repl_replica *r)
{
    return r->state == RS_ONLINE ? "online" : r->state == RS_SEND ? "send_bulk" : "wait_bgsave";
}

char *repl_info(void)
{
    srv_text t = {0};
    if (replica_configured()) {
        char part[1024];
        replica_info(part, sizeof part);
        srv_text_add(&t, "%s", part);
    } else {
        srv_text_add(&t, "role:master\r\n");
    }
    uint64_t now = srv_monotonic_ms();
    pthread_mutex_lock(&R.mu);
    long long n = 0;
    for (repl_replica *r = R.replicas; r; r = r->next)
        n += !r->closing;
    srv_text_add(&t, "connected_slaves:%lld\r\n", n);
    n = 0;
    for (repl_replica *r = R.replicas; r; r = r->next) {
        if (r->closing)
            continue;
        srv_text_add(&t, "slave%lld:ip=%s,port=%d,state=%s,offset=%llu,lag=%llu\r\n", n++, r->ip,
            r->port, state_name(r), (unsigned long long)r->ack,
            (unsigned long long)((now - r->ack_ms) / 1000));
    }
    uint64_t hist = R.active ? R.off - R.start : 0, first = R.active ? R.start + 1 : 0;
    srv_text_add(&t, "master_failover_state:no-failover\r\nmaster_replid:%s\r\nmaster_replid2:%s\r\n"
            "master_repl_offset:%llu\r\nsecond_repl_offset:%lld\r\nrepl_backlog_active:%d\r\n"
            "repl_backlog_size:%lld\r\nrepl_backlog_first_byte_offset:%llu\r\n"
            "repl_backlog_histlen:%llu\r\n",
        R.id, R.id2, (unsigned long long)R.off, R.second_off, R.active,
        srv.cfg.repl_backlog_size, (unsigned long long)first, (unsigned long long)hist);
    pthread_mutex_unlock(&R.mu);
    if (t.oom) {
        free(t.p);
        return NULL;
    }
    return t.p;
}

void repl_role_reply(resp_buf *out)
{
    if (replica_configured()) {
        replica_role_reply(out);
        return;
    }
    pthread_mutex_lock(&R.mu);
    size_t n = 0;
    for (repl_replica *r = R.replicas; r; r = r->next)
        n += !r->closing && r->state == RS_ONLINE;
    resp_write_array(out, 3);
    resp_write_bulk(out, "master", 6);
    resp_write_int(out, (long long)R.off);
    resp_write_array(out, n);
    for (repl_replica *r = R.replicas; r; r = r->next) {
        if (r->closing || r->state != RS_ONLINE)
            continue;
        char port[16], off[24];
        snprintf(port, sizeof port, "%d", r->port);
        snprintf(off, sizeof off, "%llu", (unsigned long long)r->ack);
        resp_write_array(out, 3);
        resp_write_bulk(out, r->ip, strlen(r->ip));
        resp_write_bulk(out, port, strlen(port));
        resp_write_bulk(out, off, strlen(off));
    }
    pthread_mutex_unlock(&R.mu);
}
