/* writer.c — the one writer thread: drains every queued job into one LMDB write
 * transaction, commits once (group commit: one fsync for the whole batch under
 * appendfsync always), then hands the replies back to the clients' I/O threads. A reply
 * never leaves before the commit that holds its write returned.
 *
 * The queue is woken by an eventfd, only when the writer sleeps: before it waits, the
 * writer says so (sleeping, under the queue's mutex, after finding the queue empty), and
 * an I/O thread that queues while sleeping is set clears it and adds 1 to the eventfd. A
 * writer that is busy takes the next jobs when its batch ends, without a system call on
 * either side. The wait has a deadline, the next slice of active expiry (expire.c), which runs
 * between batches: after each batch when it is due, so a busy queue does not starve it,
 * and one bounded slice at a time, so it does not starve the queue. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "block.h"
#include "client.h"
#include "cmd.h"
#include "db.h"
#include "dbmap.h"
#include "expire.h"
#include "function.h"
#include "io.h"
#include "job.h"
#include "log.h"
#include "multi.h"
#include "notify.h"
#include "repl.h"
#include "replica.h"
#include "script.h"
#include "stats.h"
#include "util.h"
#include "watch.h"
#include "writer.h"

struct srv_writer {
    pthread_t th;
    pthread_mutex_t mu;     /* guards head, tail, stop and sleeping */
    int efd;                /* eventfd: jobs (or stop) for a sleeping writer */
    srv_job *head, *tail;
    int stop;
    int sleeping;           /* the writer waits (or is about to) on efd */
    srv_job **heads, **tails; /* per I/O thread, for handing a batch back */
    srv_job *served;        /* blocked jobs a batch part served (block.h): handed back
                               with it */
    srv_job *requeue;       /* jobs their clients held: run next, before the queue */
    uint64_t batch;         /* the running batch's number (the writer's) */
    atomic_ullong committed; /* the last batch whose commit returned */
    /* Failed commits in the log (report_commit), the writer's alone. */
    uint64_t fail_logged_ms; /* when a failure was last logged, 0: never */
    unsigned long long fail_unlogged; /* failures since, not logged */
    int fail_reported;      /* a failure was logged since the last success */
    int part_rc;            /* the error of a build's part that failed to commit, until
                               its command's reply says so */
};

#define WRITER_FAIL_LOG_S 30 /* seconds between two log lines of failed commits, as Redis's
                                AOF write errors */

/* j's reply becomes msg. */
static void fail_reply(srv_job *j, const char *msg)
{
    if (j->kind == JOB_EXEC) {
        multi_exec_fail(j, msg);
        return;
    }
    resp_buf_reset(j->out);
    resp_write_error(j->out, msg, strlen(msg));
}

/* Every reply of the jobs [jobs, end) whose commit failed becomes this error: nothing of
 * it is stored, and what reads saw was never committed; so do those of the parked
 * commands the part served (a list through blk_next): what they popped is not stored
 * either. A command that blocked in the part wrote nothing and has no reply yet: it
 * stays blocked, its reply to come. */
static void misconf(char *msg, size_t cap, int rc)
{
    snprintf(msg, cap, "-MISCONF Errors writing to the data file: %s", ox_strerror(rc));
}

static void batch_fail(srv_job *jobs, srv_job *end, srv_job *served, const char *msg)
{
    for (srv_job *j = jobs; j != end; j = j->next)
        if (!j->barrier && j->out && !j->parked && j->kind != JOB_UNWATCH &&
            j->kind != JOB_WSET_FREE)
            fail_reply(j, msg);
    for (srv_job *j = served; j; j = j->blk_next)
        fail_reply(j, msg);
}

/* Logs a failed commit, at most once every WRITER_FAIL_LOG_S seconds with the count of
 * those not logged since (a full disk refuses thousands of writes a second: one line each
 * filled the log), and the first success after a logged failure. */
static void report_commit(srv_writer *w, int rc)
{
    if (rc == OX_OK) {
        if (w->fail_reported)
            srv_log(SRV_LOG_WARNING, "Write transactions are committed again");
        w->fail_reported = 0;
        return;
    }
    uint64_t now = srv_mstime();
    if (w->fail_logged_ms && now - w->fail_logged_ms < WRITER_FAIL_LOG_S * 1000u) {
        w->fail_unlogged++;
        return;
    }
    if (w->fail_unlogged)
        srv_log(SRV_LOG_WARNING, "Write transaction failed: %s (and %llu more not logged in the "
                "last %d seconds)", ox_strerror(rc), w->fail_unlogged, WRITER_FAIL_LOG_S);
    else
        srv_log(SRV_LOG_WARNING, "Write transaction failed: %s (such failures are logged at most "
                "once every %d seconds)", ox_strerror(rc), WRITER_FAIL_LOG_S);
    w->fail_logged_ms = now;
    w->fail_unlogged = 0;
    w->fail_reported = 1;
}

/* cmd_ctx.commit_part of a command that runs first in its batch part (bulk.h): commits
 * what its transaction holds (the members of a collection it builds, under an id no key
 * names yet, and nothing else) and begins the next one into x->txn. OX_OK, or the error
 * (x->txn then NULL if no transaction could begin). */
static int part_commit(cmd_ctx *x)
{
    srv_writer *w = srv.writer;
    dbmap_precommit();
    int rc = ox_txn_commit(x->txn);
    dbmap_postcommit(rc == OX_OK);
    function_batch_end(rc == OX_OK);
    if (rc != OX_OK) /* the build fails: its events go; else they wait for its last commit */
        notify_commit(0);
    x->txn = NULL;
    atomic_store_explicit(&srv.write_failed, rc != OX_OK, memory_order_relaxed);
    report_commit(w, rc);
    w->part_rc = rc;
    if (rc == OX_OK) {
        atomic_fetch_add_explicit(&srv.stats.commits, 1, memory_order_relaxed);
        if ((rc = ox_txn_begin(srv.store, &x->txn)) != OX_OK)
            x->txn = NULL;
        else
            ox_txn_savepoint(x->txn); /* the command's writes go on here (cmd_run_writer) */
        notify_observe(x->txn);
    }
    return rc;
}

/* Starts loading what the first keys of the next two commands will touch in the store
 * (db_prefetch), while this one runs: those lookups were the writer's cache misses, about
 * a tenth of its time on SET of 100000 random keys at -P 16. */
static void prefetch_ahead(ox_txn *txn, const srv_job *j)
{
    for (int step = 1; j && step >= 0; j = j->next, step--)
        if (j->kind == JOB_CMD && j->cmd && j->cmd->keys[0] && j->argc > 1)
            db_prefetch(txn, j->db, &j->argv[1], step);
}

/* Runs jobs from `jobs` on in one transaction and commits it: all of them, or those that
 * fit in the write buffer's budget (at least one), so that a batch larger than the
 * buffer commits in parts and memory stays within write-buffer-limit (each part's begin
 * waits for the checkpoint that makes room). Each part is a batch of its own (numbered
 * for WATCH). Returns the first job it did not run, NULL when none is left. */
static srv_job *batch_part(srv_job *jobs, srv_job **last)
{
    srv_writer *w = srv.writer;
    w->batch++;
    ox_txn *txn = NULL;
    int rc = ox_txn_begin(srv.store, &txn);
    if (rc == OX_OK)
        notify_observe(txn);
    size_t n = 0;
    int repl_rc = OX_OK;
    srv_job *j = jobs;
    while (j) {
        if (j != jobs && j->kind == JOB_REPL && j->repl_op >= REPL_OP_LOAD)
            break; /* a load or a change of role runs alone, first (batch_run) */
        srv_job *cur = j, *before = *last;
        *last = cur;
        j = j->next;
        if (cur->kind == JOB_REPL) { /* a replica's frame (replica.h) */
            int jrc = replica_job(cur, rc == OX_OK && repl_rc == OX_OK ? txn : NULL);
            repl_rc = repl_rc != OX_OK ? repl_rc : jrc;
            n++; /* no build commits in parts behind it: its commit records the offset */
            continue;
        }
        if (cur->kind == JOB_WSET_FREE) {
            watch_set_free(cur->wset);
            continue;
        }
        if (cur->kind == JOB_GONE) {
            block_gone(cur->c, &w->served);
            continue;
        }
        if (block_hold(cur)) /* behind its client's blocked command */
            continue;
        if (cur->barrier)
            continue;
        job_reply_buf(cur);
        if (cur->kind == JOB_UNWATCH) {
            watch_clear(cur->c->wset);
            continue;
        }
        if (rc != OX_OK)
            continue;
        if (replica_refuses_job(cur)) {
            if (cur->kind == JOB_EXEC && cur->watched)
                watch_clear(cur->c->wset); /* an EXEC unwatches, refused or not */
            fail_reply(cur, cur->kind == JOB_EXEC
                                ? "-EXECABORT Transaction discarded because of: READONLY You "
                                  "can't write against a read only replica."
                                : "-READONLY You can't write against a read only replica.");
        } else if (cur->kind == JOB_EXEC) {
            multi_exec_run(cur, txn);
            n += (size_t)cur->multi_n;
        } else {
            prefetch_ahead(txn, j);
            cmd_ctx x = {.argc = cur->argc, .argv = cur->argv, .out = cur->out, .dbi = cur->db,
                         .table = srv.db[cur->db], .txn = txn, .cmd = cur->cmd, .job = cur,
                         .commit_part = n ? NULL : part_commit};
            cmd_call(&x);
            if (x.bulk_wait) { /* a large build: first in the next part, where it may commit
                                  in parts (bulk.h) */
                cur->spare = cur->out; /* empty: job_reply_buf takes it again */
                cur->out = NULL;
                *last = before;
                j = cur;
                break;
            }
            db_bulk_done(&x);
            if (srv.writer->part_rc) { /* as a failed commit's: nothing of it is stored */
                char msg[160];
                misconf(msg, sizeof msg, srv.writer->part_rc);
                fail_reply(cur, msg);
                srv.writer->part_rc = OX_OK;
            }
            if (!(txn = x.txn) && /* a part of its build failed to commit: go on in a new one */
                (rc = ox_txn_begin(srv.store, &txn)) == OX_OK)
                notify_observe(txn);
            block_park(cur, &x);
            n++;
        }
        block_serve(txn, &w->served, &w->requeue);
        if (j && ox_txn_buffer_full(txn))
            break;
    }
    /* SHUTDOWN NOSAVE ended a script of this batch: as in Redis, nothing of what it did
     * is saved, and the server is going away (its replies say the batch failed). */
    int dropped = script_dropped();
    if (rc == OX_OK && repl_rc == OX_OK)
        repl_rc = replica_precommit(txn);
    if ((dropped || repl_rc != OX_OK) && rc == OX_OK) {
        ox_txn_rollback(txn);
        rc = dropped ? OX_EIO : repl_rc;
    } else if (rc == OX_OK) {
        dbmap_precommit();
        rc = ox_txn_commit(txn);
    }
    dbmap_postcommit(rc == OX_OK);
    replica_postcommit(rc == OX_OK); /* before function_batch_end: it may ask a reload */
    function_batch_end(rc == OX_OK); /* functions not stored are dropped */
    notify_commit(rc == OX_OK); /* the keyspace events of what it committed, or none */
    watch_batch_end(rc == OX_OK);
    atomic_store_explicit(&w->committed, w->batch, memory_order_release);
    if (!dropped) {
        atomic_store_explicit(&srv.write_failed, rc != OX_OK, memory_order_relaxed);
        report_commit(w, rc);
    }
    if (dropped) {
        batch_fail(jobs, j, w->served, "-ERR SHUTDOWN NOSAVE ended a script: nothing of its "
                   "batch was saved");
    } else if (rc != OX_OK) {
        char msg[160];
        misconf(msg, sizeof msg, rc);
        batch_fail(jobs, j, w->served, msg);
    } else {
        atomic_fetch_add_explicit(&srv.stats.commits, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&srv.stats.batched, n, memory_order_relaxed);
    }
    return j;
}

/* Hands jobs (a list ending in NULL) back to the I/O threads, each thread's jobs in their
 * original order. The list is split in one pass first: a thread may free its jobs as soon
 * as it has them. */
static void batch_hand_back(srv_job *jobs)
{
    srv_writer *w = srv.writer;
    for (int i = 0; i < srv.nio; i++)
        w->heads[i] = w->tails[i] = NULL;
    for (srv_job *j = jobs, *next; j; j = next) {
        next = j->next;
        if (j->parked) /* blocked (block.h): block.c holds it now */
            continue;
        if (!j->c) { /* JOB_WSET_FREE: nobody to hand it to */
            job_free(j);
            continue;
        }
        int i = j->c->io->idx;
        j->next = NULL;
        if (w->tails[i])
            w->tails[i]->next = j;
        else
            w->heads[i] = j;
        w->tails[i] = j;
    }
    for (int i = 0; i < srv.nio; i++)
        if (w->heads[i])
            io_complete(&srv.io[i], w->heads[i], w->tails[i]);
}

/* Hands back a list of block.c's (linked through blk_next). */
static void hand_back_parked(srv_job *list)
{
    for (srv_job *j = list; j; j = j->blk_next) {
        j->parked = 0;
        j->next = j->blk_next;
    }
    batch_hand_back(list);
}

/* Each part's replies leave once its commit returned, not after the next part, whose
 * begin may wait for a checkpoint. */
static void batch_run(srv_job *jobs)
{
    srv_writer *w = srv.writer;
    while (jobs) {
        if (jobs->kind == JOB_REPL && jobs->repl_op >= REPL_OP_LOAD) {
            srv_job *next = jobs->next;
            replica_load(jobs); /* outside any transaction */
            job_free(jobs);
            jobs = next;
            continue;
        }
        srv_job *last = NULL, *rest = batch_part(jobs, &last);
        last->next = NULL;
        batch_hand_back(jobs);
        hand_back_parked(w->served); /* served by this part's writes, after them */
        w->served = NULL;
        jobs = rest;
    }
}

/* Puts the jobs blocked clients held back at the head of the queue (once the batches
 * they were in have been handed back: their next links are free again). */
static void requeue(srv_writer *w)
{
    if (!w->requeue)
        return;
    srv_job *last = w->requeue;
    for (srv_job *j = w->requeue; j; j = j->blk_next) {
        j->parked = 0;
        j->next = j->blk_next;
        if (j->c && j->c->released == j)
            j->c->released = NULL;
        last = j;
    }
    pthread_mutex_lock(&w->mu);
    last->next = w->head;
    w->head = w->requeue;
    if (!w->tail)
        w->tail = last;
    pthread_mutex_unlock(&w->mu);
    w->requeue = NULL;
}

/* Answers blocked commands whose time is up; ms until the next deadline. */
static uint64_t block_timeouts(srv_writer *w)
{
    srv_job *out = NULL;
    uint64_t next = block_expire(&out, &w->requeue);
    hand_back_parked(out);
    requeue(w);
    return next;
}

static void wake(srv_writer *w)
{
    uint64_t one = 1;
    while (write(w->efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

/* Sleeps until the eventfd is readable (then resets it) or timeout_ms passed. */
static void wait_wake(srv_writer *w, uint64_t timeout_ms)
{
    struct pollfd pfd = {.fd = w->efd, .events = POLLIN};
    int ms = timeout_ms > 60000 ? 60000 : (int)timeout_ms;
    if (poll(&pfd, 1, ms) > 0 && (pfd.revents & POLLIN)) {
        uint64_t n;
        while (read(w->efd, &n, sizeof n) < 0 && errno == EINTR)
            ;
    }
}

static void *writer_main(void *arg)
{
    srv_writer *w = arg;
    pthread_setname_np(pthread_self(), "ox-writer");
    stats_thread_own();
    for (;;) {
        pthread_mutex_lock(&w->mu);
        srv_job *jobs = w->head;
        int stop = w->stop;
        w->head = w->tail = NULL;
        w->sleeping = 0;
        pthread_mutex_unlock(&w->mu);
        if (jobs)
            batch_run(jobs);
        else if (stop)
            break;
        requeue(w);
        /* A replica's keys expire by its master's stream, as Redis's replicas. */
        uint64_t sleep_ms = repl_framing() ? expire_run(!jobs) : 100;
        uint64_t block_ms = block_timeouts(w);
        if (block_ms < sleep_ms)
            sleep_ms = block_ms;
        if (jobs || !sleep_ms)
            continue;
        /* Nothing queued when looked: say so before sleeping, and look once more under
         * the same lock, so that a job queued in between (or requeued just above) either
         * is seen here or wakes. (w->head was read here without the lock: a data race
         * ThreadSanitizer reported.) */
        pthread_mutex_lock(&w->mu);
        int idle = !w->head && !w->stop;
        w->sleeping = idle;
        pthread_mutex_unlock(&w->mu);
        if (idle)
            wait_wake(w, sleep_ms);
    }
    return NULL;
}

int writer_start(void)
{
    srv_writer *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->heads = calloc((size_t)srv.nio, sizeof *w->heads);
    w->tails = calloc((size_t)srv.nio, sizeof *w->tails);
    if (!w->heads || !w->tails) {
        free(w->heads);
        free(w->tails);
        free(w);
        return -1;
    }
    pthread_mutex_init(&w->mu, NULL);
    w->efd = eventfd(0, EFD_CLOEXEC);
    srv.writer = w;
    if (w->efd < 0 || pthread_create(&w->th, NULL, writer_main, w)) {
        srv.writer = NULL;
        if (w->efd >= 0)
            close(w->efd);
        pthread_mutex_destroy(&w->mu);
        free(w->heads);
        free(w->tails);
        free(w);
        return -1;
    }
    return 0;
}

void writer_submit(srv_job *head, srv_job *tail)
{
    srv_writer *w = srv.writer;
    pthread_mutex_lock(&w->mu);
    int asleep = w->sleeping;
    w->sleeping = 0;
    if (w->tail)
        w->tail->next = head;
    else
        w->head = head;
    w->tail = tail;
    pthread_mutex_unlock(&w->mu);
    if (asleep)
        wake(w);
}

uint64_t writer_committed(void)
{
    return atomic_load_explicit(&srv.writer->committed, memory_order_acquire);
}

uint64_t writer_batch(void)
{
    return srv.writer->batch;
}

void writer_stop(void)
{
    srv_writer *w = srv.writer;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_mutex_unlock(&w->mu);
    wake(w);
    pthread_join(w->th, NULL);
    srv_job *parked = NULL; /* blocked commands answered null; what their clients held */
    block_release_all(&parked);
    hand_back_parked(parked);
    watch_shutdown();
    job_free_list(w->head); /* queued after the last batch (a client going away) */
    close(w->efd);
    pthread_mutex_destroy(&w->mu);
    free(w->heads);
    free(w->tails);
    free(w);
    srv.writer = NULL;
}
