/* A full or failing disk under the server: writes whose commit fails are answered with
 * -MISCONF, reads keep being answered from what was committed, writes succeed again once
 * the disk does, and after SIGKILL and a restart every acknowledged write is there.
 *
 * The server runs with fault_shim.so preloaded (fault_util.h). No root needed. */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include "fault_util.h"

T_MAIN_BEGIN;

#define BEFORE 100 /* writes acknowledged before the fault */
#define DURING 20  /* writes sent while it lasts */
#define AFTER 20   /* writes once it is gone */

/* Pipelines n SETs prefix:i = v<prefix>:i; returns how many got +OK, and in *misconf how
 * many got an error starting with MISCONF (anything else counts in neither). */
static int set_many(redisContext *c, const char *prefix, int n, int *misconf)
{
    int ok = 0;
    *misconf = 0;
    for (int i = 0; i < n; i++)
        redisAppendCommand(c, "SET %s:%d v%s:%d", prefix, i, prefix, i);
    for (int i = 0; i < n; i++) {
        redisReply *r;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return -1;
        ok += r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "OK");
        *misconf += r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "MISCONF", 7);
        freeReplyObject(r);
    }
    return ok;
}

/* How many of prefix:0..n-1 hold their value (pipelined GETs); -1 if the connection fails.
 * *absent counts those that are nil. */
static int count_present(redisContext *c, const char *prefix, int n, int *absent)
{
    int present = 0;
    *absent = 0;
    for (int i = 0; i < n; i++)
        redisAppendCommand(c, "GET %s:%d", prefix, i);
    for (int i = 0; i < n; i++) {
        redisReply *r;
        char want[64];
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return -1;
        snprintf(want, sizeof want, "v%s:%d", prefix, i);
        present += r->type == REDIS_REPLY_STRING && !strcmp(r->str, want);
        *absent += r->type == REDIS_REPLY_NIL;
        freeReplyObject(r);
    }
    return present;
}

/* 1 if INFO persistence says aof_last_write_status:ok, 0 if :err, -1 otherwise. */
static int write_status_ok(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO persistence");
    int ok = !r || r->type != REDIS_REPLY_STRING ? -1
             : strstr(r->str, "\r\naof_last_write_status:ok\r\n")  ? 1
             : strstr(r->str, "\r\naof_last_write_status:err\r\n") ? 0
                                                                    : -1;
    freeReplyObject(r);
    return ok;
}

/* The whole story for one kind of fault: refused writes are absent after the restart
 * too, whether the failing calls include the writes or only the syncs (a refused write
 * sitting in the page cache is voided before it is answered). */
static void run_fault(const char *mode, const char *name)
{
    srvp p = {0};
    int misconf, absent;
    if (start_faulty(&p, name))
        T_FAIL("server did not start");
    redisContext *c = sp_connect(&p), *r = sp_connect(&p);
    T_ASSERT(c && r);
    T_EQ_INT(set_many(c, "a", BEFORE, &misconf), BEFORE);

    T_ASSERT(fault_on(mode) == 0);
    T_EQ_INT(set_many(c, "b", DURING, &misconf), 0);
    T_EQ_INT(misconf, DURING);
    /* Reads are answered, from what was committed, on this connection and another. */
    T_EQ_INT(count_present(r, "a", BEFORE, &absent), BEFORE);
    T_EQ_INT(count_present(r, "b", DURING, &absent), 0);
    T_EQ_INT(absent, DURING);
    T_CMD(c, "$5 va:42", "GET a:42");
    T_CMD(r, ":100", "DBSIZE");
    T_EQ_INT(write_status_ok(r), 0); /* monitoring sees it, as in Redis's INFO */

    fault_off();
    T_EQ_INT(set_many(c, "c", AFTER, &misconf), AFTER);
    T_CMD(r, ":120", "DBSIZE");
    T_EQ_INT(write_status_ok(r), 1);
    redisFree(c);
    redisFree(r);

    sp_kill(&p);
    if (sp_start(&p, name)) { /* without the shim */
        sp_dump_log(&p);
        T_FAIL("server did not restart");
    }
    c = sp_connect(&p);
    T_ASSERT(c);
    T_EQ_INT(count_present(c, "a", BEFORE, &absent), BEFORE);
    T_EQ_INT(count_present(c, "c", AFTER, &absent), AFTER);
    int back = count_present(c, "b", DURING, &absent);
    printf("%s: %d acknowledged before, %d refused with MISCONF, %d after; %d of the refused "
           "present after SIGKILL\n", mode, BEFORE, DURING, AFTER, back);
    T_EQ_INT(back, 0);
    T_CMD(c, ":120", "DBSIZE");
    redisFree(c);
    T_EQ_INT(sp_stop(&p), 0);
}

static void disk_full_refuses_writes_serves_reads_loses_nothing(void)
{
    run_fault("ENOSPC", "enospc");
}

static void io_error_refuses_writes_serves_reads_loses_nothing(void)
{
    run_fault("EIO", "eio");
}

static void failing_sync_refuses_writes_loses_nothing(void)
{
    run_fault("EIO sync", "eio-sync");
}

/* A data file that fails while the log does not: writes go on, durable in the log and
 * held in the write buffer, while the checkpoints fail and are tried again each second.
 * Once both halves of the buffer are full (write-buffer-limit, 1 MB here) writes are
 * refused with -MISCONF; reads go on; when the disk answers, a checkpoint goes through and
 * writes are taken again. After SIGKILL every acknowledged write is there, no refused one.
 * "EIO meta" fails the checkpoint's last write, LMDB's meta page, which leaves its env
 * failed until the store reopens it. */
#define FILL_MAX 20000

static void failing_data_file(const char *mode, const char *name)
{
    static char v[1001];
    static unsigned char acked[FILL_MAX];
    srvp p = {0};
    int misconf, absent;
    const char *const args[] = {"--write-buffer-limit", "1mb", NULL};
    if (start_faulty_argv(&p, name, args))
        T_FAIL("server did not start");
    redisContext *c = sp_connect(&p), *r = sp_connect(&p);
    T_ASSERT(c && r);
    T_EQ_INT(set_many(c, "a", BEFORE, &misconf), BEFORE);
    memset(v, 'x', 1000);
    T_ASSERT(fault_on(mode) == 0);
    int n = 0, ok = 0, refused = 0;
    for (; n < FILL_MAX && !refused; n++) {
        redisReply *rep = redisCommand(c, "SET b:%d %s", n, v);
        T_ASSERT(rep);
        acked[n] = rep->type == REDIS_REPLY_STATUS;
        refused = rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "MISCONF", 7);
        T_ASSERT(acked[n] || refused);
        ok += acked[n];
        freeReplyObject(rep);
    }
    printf("%s: %d writes taken while the data file failed, then refused\n", mode, ok);
    /* 1 MB of buffer: about 750 of them, but only one half's worth (about 370) when an
     * age checkpoint of the writes before the fault was under way when it began (seen once
     * under a loaded machine): that half stays frozen while its checkpoint fails. */
    T_ASSERT(refused && ok >= 300);
    T_CMD(c, "-MISCONF Errors writing to the data file: I/O error", "SET x y");
    /* Reads go on, from the buffer and LMDB. */
    T_EQ_INT(count_present(r, "a", BEFORE, &absent), BEFORE);
    T_CMD(r, "$10 xxxxxxxxxx", "GETRANGE b:0 0 9");
    char dbsize[32];
    snprintf(dbsize, sizeof dbsize, ":%d", BEFORE + ok);
    T_CMD(r, dbsize, "DBSIZE");
    T_EQ_INT(write_status_ok(r), 0);
    fault_off();
    /* The next checkpoint (tried each second) goes through: writes are taken again. */
    uint64_t deadline = t_now_ms() + 15000;
    int back = 0;
    while (!back && t_now_ms() < deadline) {
        redisReply *rep = redisCommand(c, "SET c:0 vc:0");
        back = rep && rep->type == REDIS_REPLY_STATUS;
        freeReplyObject(rep);
        if (!back)
            usleep(50000); /* a poll interval: the loop checks the state */
    }
    T_ASSERT(back);
    T_EQ_INT(set_many(c, "c", AFTER, &misconf), AFTER);
    redisFree(c);
    redisFree(r);
    sp_kill(&p);
    if (sp_start(&p, name)) { /* without the shim */
        sp_dump_log(&p);
        T_FAIL("server did not restart");
    }
    c = sp_connect(&p);
    T_ASSERT(c);
    T_EQ_INT(count_present(c, "a", BEFORE, &absent), BEFORE);
    T_EQ_INT(count_present(c, "c", AFTER, &absent), AFTER);
    for (int i = 0; i < n; i++) {
        redisReply *rep = redisCommand(c, "STRLEN b:%d", i);
        T_ASSERT(rep && rep->type == REDIS_REPLY_INTEGER);
        if (rep->integer != (acked[i] ? 1000 : 0))
            T_FAIL("b:%d: %s, but STRLEN is %lld", i, acked[i] ? "acknowledged" : "refused",
                   rep->integer);
        freeReplyObject(rep);
    }
    snprintf(dbsize, sizeof dbsize, ":%d", BEFORE + ok + AFTER);
    T_CMD(c, dbsize, "DBSIZE");
    redisFree(c);
    T_EQ_INT(sp_stop(&p), 0);
}

static void failing_data_file_takes_writes_until_the_buffer_is_full(void)
{
    failing_data_file("EIO data", "eio-data");
}

static void failed_meta_write_takes_writes_until_the_buffer_is_full(void)
{
    failing_data_file("EIO meta", "eio-meta");
}

/* ---- faults that come and go under concurrent writers -------------------------------- */

#define WRITERS 4
#define MAX_SEQ 20000

struct writer {
    srvp *p;
    int id;
    atomic_int *stop;
    atomic_int *acks, *errors;
    unsigned char state[MAX_SEQ]; /* 0 not answered, 1 acknowledged, 2 error */
    int sent;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    redisContext *c = sp_connect(w->p);
    if (!c)
        return NULL;
    while (!atomic_load(w->stop) && w->sent < MAX_SEQ) {
        redisReply *r = redisCommand(c, "SET w%d:%d v%d", w->id, w->sent, w->sent);
        if (!r)
            break;
        int ok = r->type == REDIS_REPLY_STATUS;
        w->state[w->sent++] = ok ? 1 : 2;
        atomic_fetch_add(ok ? w->acks : w->errors, 1);
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

/* Polls until *counter reaches want (deadline 30 s). 0 if it did. */
static int wait_count(atomic_int *counter, int want)
{
    uint64_t deadline = t_now_ms() + 30000;
    while (atomic_load(counter) < want && t_now_ms() < deadline)
        usleep(1000); /* polls the counter; the writers run meanwhile */
    return atomic_load(counter) >= want ? 0 : -1;
}

static void faults_that_come_and_go_lose_no_acknowledged_write(void)
{
    static struct writer w[WRITERS];
    srvp p = {0};
    atomic_int stop = 0, acks = 0, errors = 0;
    if (start_faulty(&p, "flapping"))
        T_FAIL("server did not start");
    pthread_t th[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.p = &p, .id = i, .stop = &stop, .acks = &acks, .errors = &errors};
        pthread_create(&th[i], NULL, writer_main, &w[i]);
    }
    int ok = 1;
    const char *modes[] = {"ENOSPC", "EIO", "EIO sync", "ENOSPC"};
    for (int round = 0; round < 4 && ok; round++) {
        ok = wait_count(&acks, 200 * (round + 1)) == 0 && fault_on(modes[round]) == 0 &&
             wait_count(&errors, 50 * (round + 1)) == 0;
        fault_off();
    }
    ok = ok && wait_count(&acks, 1000) == 0;
    atomic_store(&stop, 1);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(th[i], NULL);
    /* Reads must still be answered after all that. */
    redisContext *c = sp_connect(&p);
    T_ASSERT(c);
    redisReply *rr = redisCommand(c, "GET w0:0");
    char shown[256];
    sp_show(rr, shown, sizeof shown);
    freeReplyObject(rr);
    redisFree(c);
    sp_kill(&p);
    if (!ok)
        fprintf(stderr, "writes stalled at %d acknowledged, %d refused; GET w0:0 answered %s\n",
                atomic_load(&acks), atomic_load(&errors), shown);
    if (sp_start(&p, "flapping")) {
        sp_dump_log(&p);
        T_FAIL("server did not restart");
    }
    c = sp_connect(&p);
    T_ASSERT(c);
    long acked = 0, lost = 0, refused = 0, refused_back = 0;
    for (int i = 0; i < WRITERS; i++) {
        for (int s = 0; s < w[i].sent; s++)
            redisAppendCommand(c, "GET w%d:%d", i, s);
        for (int s = 0; s < w[i].sent; s++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                redisFree(c);
                T_FAIL("connection lost while verifying");
            }
            int there = r->type == REDIS_REPLY_STRING;
            freeReplyObject(r);
            if (w[i].state[s] == 1) {
                acked++;
                lost += !there;
            } else {
                refused++;
                refused_back += there;
            }
        }
    }
    redisFree(c);
    printf("flapping: %ld acknowledged (%ld lost), %ld refused (%ld present after SIGKILL)\n",
           acked, lost, refused, refused_back);
    T_EQ_INT(lost, 0);
    T_EQ_INT(sp_stop(&p), 0);
    T_ASSERT(ok);
    T_EQ_STR(shown, "$2 v0");
}

/* ---- a stalled disk under a long pipeline ------------------------------------------- */

#define PIPE_N 400000 /* SETs of ~140 bytes: 56 MB of requests */

static size_t pipe_request(int i, char *buf, size_t cap)
{
    char key[16], val[104];
    int kl = snprintf(key, sizeof key, "p:%06d", i);
    memset(val, 'a' + i % 26, 100);
    return (size_t)snprintf(buf, cap, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%.100s\r\n", kl,
                            key, val);
}

/* Counts "+OK\r\n" replies on fd until PIPE_N came (or 60 s without a byte). */
static char g_pipe_err[128]; /* the first reply that was not +OK */

static void *pipe_reader(void *arg)
{
    int fd = *(int *)arg;
    static char buf[65536];
    size_t replies = 0, line = 0;
    char cur[128];
    while (replies < PIPE_N) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 60000) <= 0)
            break;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++) { /* each reply is one line */
            if (line < sizeof cur - 1)
                cur[line++] = buf[i];
            if (buf[i] != '\n')
                continue;
            cur[line] = '\0';
            if (strcmp(cur, "+OK\r\n") && !g_pipe_err[0])
                snprintf(g_pipe_err, sizeof g_pipe_err, "%s", cur);
            line = 0;
            replies++;
        }
    }
    return (void *)(uintptr_t)replies;
}

/* While the disk does not answer (the writer waits in its sync), a client pipelining 56 MB
 * of SETs is read only until a bounded amount of its commands is in flight: the rest waits
 * in the sockets (TCP flow control), not in the server's memory. Once the disk answers,
 * every command is applied and answered. */
static void stalled_disk_bounds_a_pipeline(void)
{
    srvp p = {0};
    if (start_faulty(&p, "stall"))
        T_FAIL("server did not start");
    int fd = sp_raw_connect(&p);
    T_ASSERT(fd >= 0);
    T_ASSERT(fault_on("STALL") == 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    char req[256];
    size_t sent = 0, off = 0, len = 0;
    int i = 0;
    uint64_t idle_since = t_now_ms();
    /* Send until nothing more goes for 500 ms: the server stopped reading. */
    while (i < PIPE_N && t_now_ms() - idle_since < 500) {
        if (off == len) {
            len = pipe_request(i, req, sizeof req);
            off = 0;
        }
        ssize_t w = write(fd, req + off, len - off);
        if (w > 0) {
            off += (size_t)w;
            sent += (size_t)w;
            if (off == len)
                i++;
            idle_since = t_now_ms();
        } else {
            struct pollfd pf = {fd, POLLOUT, 0};
            poll(&pf, 1, 50);
        }
    }
    printf("stalled disk: the server took %zu bytes (%d commands) of a %d-command pipeline\n",
           sent, i, PIPE_N);
    int stopped = i < PIPE_N;
    fault_off();
    /* The rest, blocking, while a thread reads every reply. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, pipe_reader, &fd), 0);
    int wrote_all = 1;
    for (; i < PIPE_N && wrote_all; i++, off = len = 0) {
        if (off == len)
            len = pipe_request(i, req, sizeof req);
        wrote_all = write(fd, req + off, len - off) == (ssize_t)(len - off);
    }
    void *res;
    pthread_join(th, &res);
    close(fd);
    T_EQ_U64((uintptr_t)res, PIPE_N);
    if (g_pipe_err[0])
        T_FAIL("a reply of the pipeline was %s", g_pipe_err);
    redisContext *c = sp_connect(&p);
    T_ASSERT(c);
    T_CMD(c, ":400000", "DBSIZE");
    char want[128]; /* 399998 % 26 == 14: its value is 100 times 'o' */
    snprintf(want, sizeof want, "$100 %0100d", 0);
    memset(want + 5, 'o', 100);
    T_CMD(c, want, "GET p:399998");
    redisFree(c);
    T_EQ_INT(sp_stop(&p), 0);
    T_ASSERT(wrote_all);
    T_EQ_U64((uintptr_t)res, PIPE_N);
    /* 4096 commands in flight, the parser's chunk and the kernel's socket buffers: a
     * few MB. Without the bound the server read all 56 MB. */
    T_ASSERT(stopped);
    T_ASSERT(sent < (24u << 20));
}

/* ---- a checkpoint that cannot finish ------------------------------------------------ */

#define CK_CONNS 50      /* clients with one SET each in flight: small batches, many pages */
#define CK_KEYS 100000   /* keys drawn at random: each SET copies its own leaf */
#define CK_VLEN 256      /* bytes of a value: 100k SETs would be 25 MB of them */

struct ck_driver {
    srvp *p;
    atomic_int acked, stop, failed;
    unsigned char key_acked[CK_KEYS]; /* written by the driver's thread only */
};

/* Keeps one SET in flight on each of CK_CONNS connections until stop, then collects the
 * replies still owed; marks each key whose SET was acknowledged. */
static void *ck_driver_main(void *arg)
{
    struct ck_driver *d = arg;
    struct pollfd pf[CK_CONNS];
    int inflight[CK_CONNS];
    unsigned seed = 1;
    int owed = 0;
    for (int i = 0; i < CK_CONNS; i++) {
        pf[i] = (struct pollfd){.fd = sp_raw_connect(d->p), .events = 0};
        if (pf[i].fd < 0) {
            atomic_store(&d->failed, 1);
            return NULL;
        }
    }
    for (int round = 0;; round++) {
        int stopping = atomic_load(&d->stop);
        for (int i = 0; i < CK_CONNS; i++) {
            if (pf[i].events == 0 && !stopping) { /* its reply came: the next SET */
                char req[128 + CK_VLEN];
                int k = (int)(rand_r(&seed) % CK_KEYS);
                int len = snprintf(req, sizeof req, "*3\r\n$3\r\nSET\r\n$7\r\nc:%05d\r\n$%d\r\n"
                                   "%0*d\r\n", k, CK_VLEN, CK_VLEN, round);
                if (write(pf[i].fd, req, (size_t)len) != len) {
                    atomic_store(&d->failed, 1);
                    stopping = 1;
                    continue;
                }
                inflight[i] = k;
                pf[i].events = POLLIN;
            }
        }
        owed = 0;
        for (int i = 0; i < CK_CONNS; i++)
            owed += pf[i].events != 0;
        if (stopping && owed == 0)
            break;
        if (poll(pf, CK_CONNS, 60000) <= 0) {
            atomic_store(&d->failed, 1);
            break;
        }
        for (int i = 0; i < CK_CONNS; i++) {
            char buf[16];
            if (!(pf[i].revents & POLLIN))
                continue;
            if (read(pf[i].fd, buf, sizeof buf) != 5 || memcmp(buf, "+OK\r\n", 5)) {
                atomic_store(&d->failed, 1);
                atomic_store(&d->stop, 1);
            } else {
                d->key_acked[inflight[i]] = 1;
            }
            pf[i].events = 0;
            atomic_fetch_add(&d->acked, 1);
        }
    }
    for (int i = 0; i < CK_CONNS; i++)
        close(pf[i].fd);
    return NULL;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Reads from fd into buf until want bytes came or ms milliseconds passed (NUL-terminated);
 * the bytes read. */
static size_t read_within(int fd, char *buf, size_t want, int ms)
{
    size_t n = 0;
    uint64_t deadline = t_now_ms() + (uint64_t)ms;
    while (n < want && t_now_ms() < deadline) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, (int)(deadline - t_now_ms())) <= 0)
            break;
        ssize_t r = read(fd, buf + n, want - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    return n;
}

#define PROBES 10
#define PROBE_REQ "*3\r\n$3\r\nSET\r\n$7\r\nprobe:%d\r\n$2\r\nv%d\r\n"

/* While checkpoints cannot finish (the data file's syncs are held; the log's go on), the
 * writes go to the write buffer until both halves are full (write-buffer-limit, 4 MB
 * here), then the writer waits: a pipeline sent then gets no reply while reads are still
 * answered, the server's resident memory stays within the limit (plus the margin below),
 * and no write is refused (a held disk is not a failing one). Once the disk answers, the
 * held SETs and the pipeline are answered, writes go on, and every acknowledged key is
 * there. */
static void stalled_checkpoint_holds_writes_within_the_buffer_limit(void)
{
    srvp p = {0};
    const char *const args[] = {"--write-buffer-limit", "4mb", NULL};
    /* ASan keeps what is freed in a quarantine (256 MB by default) before it reuses it:
     * off for this server, so that its RSS is what it holds, not what it freed. */
    if (start_faulty_asan(&p, "ckstall", args,
                          "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"))
        T_FAIL("server did not start");
    char path[600];
    snprintf(path, sizeof path, "%s/oxistore.mdb", p.dir);
    long long before = file_size(path), most = before;
    long rss0 = sp_rss_kb(p.pid), rss_most = rss0;
    T_ASSERT(before > 0 && rss0 > 0);
    T_ASSERT(fault_on("STALL data") == 0);
    struct ck_driver *d = calloc(1, sizeof *d);
    d->p = &p;
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, ck_driver_main, d), 0);
    /* Until the replies stop for a second (the writer waits) or 100k came. */
    int last = -1;
    uint64_t still_since = t_now_ms(), deadline = t_now_ms() + 60000;
    while (t_now_ms() < deadline && t_now_ms() - still_since < 1000 &&
           atomic_load(&d->acked) < 100000 && !atomic_load(&d->failed)) {
        int now = atomic_load(&d->acked);
        if (now != last) {
            last = now;
            still_since = t_now_ms();
        }
        long long sz = file_size(path);
        long rss = sp_rss_kb(p.pid);
        most = sz > most ? sz : most;
        rss_most = rss > rss_most ? rss : rss_most;
        usleep(20000); /* a sampling interval: the loop polls the counts */
    }
    int held = atomic_load(&d->acked);
    /* Still held: a pipeline of SETs gets no reply (0.5 s), a read on another connection
     * does, and does not see them. */
    int probe = sp_raw_connect(&p), reader = sp_raw_connect(&p);
    T_ASSERT(probe >= 0 && reader >= 0);
    char req[PROBES * 64], got[256];
    size_t len = 0;
    for (int i = 0; i < PROBES; i++)
        len += (size_t)snprintf(req + len, sizeof req - len, PROBE_REQ, i, i);
    T_EQ_INT(write(probe, req, len), (ssize_t)len);
    size_t early = read_within(probe, got, PROBES * 5, 500);
    int read_ok = sp_raw_roundtrip(reader, "GET probe:0\r\n", 13, "$-1\r\n", 5, got, sizeof got);
    int held_after = atomic_load(&d->acked);
    long rss = sp_rss_kb(p.pid);
    rss_most = rss > rss_most ? rss : rss_most;
    fault_off();
    /* The disk answers again: the pipeline, the held SETs, then more. */
    size_t late = read_within(probe, got, PROBES * 5, 30000);
    deadline = t_now_ms() + 60000;
    while (atomic_load(&d->acked) < held + 1000 && !atomic_load(&d->failed) &&
           t_now_ms() < deadline)
        usleep(10000); /* polls the count */
    int after = atomic_load(&d->acked);
    atomic_store(&d->stop, 1);
    pthread_join(th, NULL);
    /* Every acknowledged key is there, and nothing else: DBSIZE counts them and the probes;
     * each holds a value of the driver's length. */
    int keys = 0, wrong = 0;
    redisContext *c = sp_connect(&p);
    T_ASSERT(c);
    for (int k = 0; k < CK_KEYS; k++) {
        if (d->key_acked[k]) {
            redisAppendCommand(c, "STRLEN c:%05d", k);
            keys++;
        }
    }
    for (int k = 0; k < keys; k++) {
        redisReply *r = NULL;
        wrong += redisGetReply(c, (void **)&r) != REDIS_OK || r->type != REDIS_REPLY_INTEGER ||
                 r->integer != CK_VLEN;
        freeReplyObject(r);
    }
    redisReply *r = redisCommand(c, "DBSIZE");
    long long dbsize = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    redisFree(c);
    close(probe);
    close(reader);
    printf("stalled checkpoint: %d SETs answered while held (4 MB of buffer), %d once "
           "released; data file %lld -> %lld bytes, RSS %ld -> %ld KB while held\n", held,
           after - held, before, most, rss0, rss_most);
    int failed = atomic_load(&d->failed);
    free(d);
    T_EQ_INT(sp_stop(&p), 0);
    T_EQ_INT(failed, 0);
    T_ASSERT(after >= held + 1000);
    /* Each SET adds its 256-byte value and more to the buffer, whose two halves hold
     * 4 MB: at most 16k of them (plus one batch); the writer waited long before this
     * test's cap of 100k. */
    T_ASSERT(held > 1000 && held < (4 << 20) / CK_VLEN + CK_CONNS);
    /* Resident memory: the limit's 4 MB of buffer, and a margin of twice that: the stalled
     * checkpoint's dirty pages, which LMDB keeps in memory until its commit (about the
     * frozen half's 2 MB), ASan's shadow and allocator caches, and the log's pages. Seen:
     * 8.3 MB over the RSS before the stall; without the bound the driver's 100k SETs
     * would add at least their 25 MB of values. */
    if (rss_most - rss0 > 3 * 4096)
        T_FAIL("RSS grew by %ld KB while held, over 3 x 4 MB", rss_most - rss0);
    /* The data file took one checkpoint's pages at most (the frozen 2 MB half's). */
    T_ASSERT(most < before + (4 << 20));
    T_EQ_INT(held_after, held);
    T_EQ_INT((int)early, 0);
    T_ASSERT(read_ok);
    T_EQ_INT((int)late, PROBES * 5); /* PROBES times "+OK\r\n" */
    T_EQ_INT(wrong, 0);
    T_EQ_INT(dbsize, keys + PROBES);
}

/* A command that blocks in a batch whose commit fails has written nothing: it stays
 * blocked, and its one reply is the element a later push gives it, not a MISCONF first
 * (the reply of a command that was never answered, which put the client's replies out
 * of step with its commands). */
static void a_command_blocked_in_a_refused_batch_answers_once(void)
{
    srvp p = {0};
    if (start_faulty(&p, "blockfail"))
        T_FAIL("server did not start");
    redisContext *c = sp_connect(&p), *b = sp_connect(&p);
    T_ASSERT(c && b);
    T_ASSERT(fault_on("ENOSPC") == 0);
    redisAppendCommand(b, "SET x 1");
    redisAppendCommand(b, "BLPOP q 0"); /* one write: one batch with the SET */
    int done = 0;
    while (!done)
        T_ASSERT(redisBufferWrite(b, &done) == REDIS_OK);
    redisReply *r;
    T_EQ_INT(redisGetReply(b, (void **)&r), REDIS_OK);
    T_ASSERT(r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "MISCONF", 7));
    freeReplyObject(r);
    char v[32];
    uint64_t deadline = t_now_ms() + 10000;
    while (atoi(sp_info_field(c, "clients", "blocked_clients", v, sizeof v)) != 1 &&
           t_now_ms() < deadline)
        usleep(1000);
    T_EQ_INT(atoi(sp_info_field(c, "clients", "blocked_clients", v, sizeof v)), 1);
    fault_off();
    T_CMD(c, ":1", "RPUSH q a");
    T_EQ_INT(redisGetReply(b, (void **)&r), REDIS_OK);
    char got[256];
    sp_show_deep(r, got, sizeof got);
    freeReplyObject(r);
    T_EQ_STR(got, "*2 [$1 q, $1 a]");
    T_CMD(c, ":0", "EXISTS q");
    redisFree(b);
    redisFree(c);
    T_EQ_INT(sp_stop(&p), 0);
}

int main(void)
{
    T_RUN(disk_full_refuses_writes_serves_reads_loses_nothing);
    T_RUN(io_error_refuses_writes_serves_reads_loses_nothing);
    T_RUN(failing_sync_refuses_writes_loses_nothing);
    T_RUN(failing_data_file_takes_writes_until_the_buffer_is_full);
    T_RUN(failed_meta_write_takes_writes_until_the_buffer_is_full);
    T_RUN(a_command_blocked_in_a_refused_batch_answers_once);
    T_RUN(stalled_disk_bounds_a_pipeline);
    T_RUN(stalled_checkpoint_holds_writes_within_the_buffer_limit);
    /* Failed 5 runs of 6 until the store reopened LMDB's env after a fault inside a commit
     * (failed_meta_write_... is the deterministic form); passes since. */
    T_RUN(faults_that_come_and_go_lose_no_acknowledged_write);
    return T_MAIN_END();
}
