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

/* A commit that fails writing LMDB's meta page (its last write) leaves LMDB's env failed
 * for every later transaction, reads included, until it is reopened: the store reopens it
 * at once, so reads go on and writes succeed again once the disk does. */
static void failed_meta_write_refuses_writes_serves_reads_loses_nothing(void)
{
    run_fault("EIO meta", "eio-meta");
}

/* The reopen drops the log's pin on the checkpoint in force, whose pages commits since
 * then freed. Until a new checkpoint is durable nothing may commit, or the commit may
 * reuse those pages and a crash recovers a checkpoint whose pages were overwritten. A
 * write larger than half the log (9 MB; the log is 16 MB) once committed first and
 * checkpointed after, and damaged the file so ("keys out of order" in t:0, DBSIZE 3083
 * for 3001 keys); it now goes through the log's side file like any record. Here the data
 * file's syncs stall (no checkpoint completes) and the server is killed: the refused
 * write is gone, the big one, answered, is there whole, and so is every other key. */
#define REV_KEYS 3000

static void big_write_after_reopen_is_durable_and_keeps_the_file_whole(void)
{
    srvp p = {0};
    int misconf;
    if (start_faulty(&p, "revbig"))
        T_FAIL("server did not start");
    redisContext *c = sp_connect(&p);
    T_ASSERT(c);
    T_EQ_INT(set_many(c, "a", REV_KEYS, &misconf), REV_KEYS);
    redisFree(c);
    T_EQ_INT(sp_stop(&p), 0);
    /* Run 2 opens with a checkpoint holding a:*; rewriting them in 30 commits frees its
     * pages, and the oldest of those become reusable to a commit once nothing pins it. */
    if (start_faulty(&p, "revbig"))
        T_FAIL("server did not restart");
    c = sp_connect(&p);
    T_ASSERT(c);
    for (int ch = 0; ch < REV_KEYS / 100; ch++) {
        for (int i = 0; i < 100; i++)
            redisAppendCommand(c, "SET a:%d w%d", ch * 100 + i, ch * 100 + i);
        for (int i = 0; i < 100; i++) {
            redisReply *r;
            T_ASSERT(redisGetReply(c, (void **)&r) == REDIS_OK);
            T_ASSERT(r->type == REDIS_REPLY_STATUS);
            freeReplyObject(r);
        }
    }
    T_ASSERT(fault_on("EIO meta") == 0); /* one failed commit: the env is reopened */
    T_EQ_INT(set_many(c, "x", 1, &misconf), 0);
    T_EQ_INT(misconf, 1);
    fault_off();
    T_ASSERT(fault_on("STALL data") == 0);
    size_t big = 9u << 20;
    char *v = malloc(big);
    T_ASSERT(v);
    memset(v, 'z', big);
    redisAppendCommand(c, "SET big %b", v, big);
    free(v);
    redisReply *r;
    T_ASSERT(redisGetReply(c, (void **)&r) == REDIS_OK);
    char shown[64];
    T_EQ_STR(sp_show(r, shown, sizeof shown), "+OK");
    freeReplyObject(r);
    sp_kill(&p);
    fault_off();
    redisFree(c);
    if (sp_start(&p, "revbig")) {
        sp_dump_log(&p);
        T_FAIL("server did not restart after the kill");
    }
    c = sp_connect(&p);
    T_ASSERT(c);
    int right = 0;
    for (int i = 0; i < REV_KEYS; i++) {
        r = redisCommand(c, "GET a:%d", i);
        char want[32];
        snprintf(want, sizeof want, "w%d", i);
        right += r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, want);
        freeReplyObject(r);
    }
    T_EQ_INT(right, REV_KEYS);
    T_CMD(c, ":3001", "DBSIZE");
    T_CMD(c, ":0", "EXISTS x:0");
    r = redisCommand(c, "GET big");
    T_ASSERT(r && r->type == REDIS_REPLY_STRING && r->len == big);
    size_t zs = 0;
    for (size_t i = 0; i < r->len; i++)
        zs += r->str[i] == 'z';
    freeReplyObject(r);
    T_EQ_U64(zs, big);
    r = redisCommand(c, "KEYS *");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY);
    T_EQ_INT((long long)r->elements, REV_KEYS + 1);
    freeReplyObject(r);
    redisFree(c);
    T_EQ_INT(sp_stop(&p), 0);
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
static void *pipe_reader(void *arg)
{
    int fd = *(int *)arg;
    static char buf[65536];
    size_t ok = 0, partial = 0;
    while (ok < PIPE_N) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 60000) <= 0)
            break;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++) /* every reply is "+OK\r\n": count the newlines */
            if (buf[i] == '\n')
                ok++;
        partial += (size_t)n;
    }
    (void)partial;
    return (void *)(uintptr_t)ok;
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

struct ck_driver {
    srvp *p;
    atomic_int acked, stop, failed;
};

/* Keeps one SET in flight on each of CK_CONNS connections until stop, then collects the
 * replies still owed. */
static void *ck_driver_main(void *arg)
{
    struct ck_driver *d = arg;
    struct pollfd pf[CK_CONNS];
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
                char req[128];
                int k = (int)(rand_r(&seed) % CK_KEYS);
                int len = snprintf(req, sizeof req, "*3\r\n$3\r\nSET\r\n$7\r\nc:%05d\r\n$8\r\n%08d\r\n",
                                   k, round);
                if (write(pf[i].fd, req, (size_t)len) != len) {
                    atomic_store(&d->failed, 1);
                    stopping = 1;
                    continue;
                }
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

/* While the data file's write-back does not finish (its syncs are held; the log's go on),
 * no checkpoint releases the pages that commits free, and LMDB grows the file to hold
 * them. Past twice the pinned-page budget (8 MB here) the writer waits for the running
 * checkpoint, so the file stays near the live data plus twice the budget (measured: 17 MB
 * after ~5500 SETs). Without that wait the writes went on, 100k SETs (this test's cap) in
 * a file of 500 MB. Once the disk answers, the held SETs are answered and writes go on. */
static void stalled_checkpoint_keeps_the_data_file_bounded(void)
{
    srvp p = {0};
    if (start_faulty(&p, "ckstall"))
        T_FAIL("server did not start");
    char path[600];
    snprintf(path, sizeof path, "%s/oxistore.mdb", p.dir);
    long long before = file_size(path), most = before;
    T_ASSERT(before > 0);
    T_ASSERT(fault_on("STALL data") == 0);
    struct ck_driver d = {.p = &p};
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, ck_driver_main, &d), 0);
    /* Until the replies stop for a second (the writer waits) or 100k came. */
    int last = -1;
    uint64_t still_since = t_now_ms(), deadline = t_now_ms() + 60000;
    while (t_now_ms() < deadline && t_now_ms() - still_since < 1000 &&
           atomic_load(&d.acked) < 100000 && !atomic_load(&d.failed)) {
        int now = atomic_load(&d.acked);
        if (now != last) {
            last = now;
            still_since = t_now_ms();
        }
        long long sz = file_size(path);
        if (sz > most)
            most = sz;
        usleep(20000);
    }
    int held = atomic_load(&d.acked);
    fault_off();
    /* The disk answers again: the held SETs, then more. */
    deadline = t_now_ms() + 60000;
    while (atomic_load(&d.acked) < held + 1000 && !atomic_load(&d.failed) &&
           t_now_ms() < deadline)
        usleep(10000);
    int after = atomic_load(&d.acked);
    atomic_store(&d.stop, 1);
    pthread_join(th, NULL);
    printf("stalled checkpoint: %d SETs answered while held, %d once released; data file "
           "%lld -> %lld bytes while held\n", held, after - held, before, most);
    T_EQ_INT(sp_stop(&p), 0);
    T_EQ_INT(atomic_load(&d.failed), 0);
    T_ASSERT(after >= held + 1000);
    /* Twice the budget and the pages of the commits between two looks at them. */
    T_ASSERT(most - before < (32ll << 20));
}

int main(void)
{
    T_RUN(disk_full_refuses_writes_serves_reads_loses_nothing);
    T_RUN(io_error_refuses_writes_serves_reads_loses_nothing);
    T_RUN(failing_sync_refuses_writes_loses_nothing);
    T_RUN(failed_meta_write_refuses_writes_serves_reads_loses_nothing);
    T_RUN(big_write_after_reopen_is_durable_and_keeps_the_file_whole);
    T_RUN(stalled_disk_bounds_a_pipeline);
    T_RUN(stalled_checkpoint_keeps_the_data_file_bounded);
    /* Failed 5 runs of 6 until the store reopened LMDB's env after a fault inside a commit
     * (failed_meta_write_... is the deterministic form); passes since. */
    T_RUN(faults_that_come_and_go_lose_no_acknowledged_write);
    return T_MAIN_END();
}
