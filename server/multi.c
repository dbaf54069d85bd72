/* multi.c — MULTI, EXEC, DISCARD, WATCH, UNWATCH (multi.c in Redis), Redis 7.0's replies.
 *
 * Queueing happens on the client's I/O thread: between MULTI and EXEC each command is
 * checked as Redis checks it before queueing (unknown, arity, auth, no-multi) and copied
 * into a job of the client's queue. While a client is in MULTI none of its jobs is in
 * flight (MULTI waits for them like any CMD_CLIENT command, and queueing sends nothing),
 * so +QUEUED and the errors are written straight to its output, in order.
 *
 * EXEC runs the queue one of two ways:
 * - no write: on the client's thread, on one snapshot, in order, as the commands would run
 *   alone. With watched keys, the snapshot is taken after reading writer_committed(), so
 *   watch_check can tell whether a change of a watched key is in it; when it cannot, the
 *   EXEC goes the second way.
 * - with a write: as one job to the writer, which runs every keyspace command of it
 *   back to back in its batch's transaction: atomic (one commit) and isolated (the writer
 *   runs one command at a time, so no other client's command comes in between). The
 *   watched keys are checked there, in the writer's order. CMD_CLIENT commands (PING,
 *   SELECT, HELLO, CLIENT SETNAME…) run on the client's thread when the job comes back, in
 *   their places of the reply; the database and protocol that a queued SELECT or HELLO
 *   gives the commands after it are worked out before the job leaves (cmd_select_db,
 *   cmd_hello_proto), and the client reads no more commands until they ran. A queue with
 *   a command that asks every I/O thread (CMD_ASYNC: CLIENT LIST, CLIENT KILL, CONFIG SET
 *   port) always goes this way, writes or not: the rest of the reply waits for that
 *   command's answer (exec_job), the keyspace replies already made on one state. */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "dbmap.h"
#include "io.h"
#include "job.h"
#include "multi.h"
#include "stats.h"
#include "util.h"
#include "watch.h"
#include "writer.h"

static const char queued_reply[] = "+QUEUED\r\n";

/* Commands that run at once inside MULTI instead of being queued, as in Redis. */
static int runs_in_multi(const cmd_def *d)
{
    return d->fn == cmd_exec || d->fn == cmd_discard || d->fn == cmd_multi ||
           d->fn == cmd_watch || d->fn == cmd_quit || d->fn == cmd_reset;
}

/* A keyspace command: inside an EXEC with writes it runs in the writer. */
static int in_writer(const cmd_def *d)
{
    return (d->flags & (CMD_WRITE | CMD_READ | CMD_WATCH)) != 0;
}

int multi_queue(srv_client *c, const cmd_def *d, int argc, const resp_arg *argv)
{
    if (runs_in_multi(d))
        return 0;
    if (d->flags & CMD_NOMULTI) {
        static const char msg[] = "-ERR Command not allowed inside a transaction";
        stats_rejected(cmd_slot(d));
        resp_write_error(c->out, msg, sizeof msg - 1);
        c->multi_dirty = 1;
        return 1;
    }
    srv_job *j = job_new(c, d, argc, argv);
    if (c->mq_tail)
        c->mq_tail->next = j;
    else
        c->mq_head = j;
    c->mq_tail = j;
    c->multi_n++;
    resp_write_raw(c->out, queued_reply, sizeof queued_reply - 1);
    return 1;
}

void multi_flag_error(srv_client *c)
{
    if (c->multi)
        c->multi_dirty = 1;
}

/* Sends a job of this kind for c (c is on its thread and has nothing in flight, or only
 * jobs that went before: the writer keeps the order). */
static srv_job *send_job(srv_client *c, int kind)
{
    srv_job *j = job_new(c, NULL, 0, NULL);
    j->kind = kind;
    c->inflight++;
    return j;
}

void multi_discard(srv_client *c)
{
    job_free_list(c->mq_head);
    c->mq_head = c->mq_tail = NULL;
    c->multi = c->multi_dirty = c->multi_n = 0;
    if (c->watching && !c->gone && !atomic_load(&srv.shutdown)) { /* else the writer frees
                                                                       every set at its end */
        srv_job *j = send_job(c, JOB_UNWATCH);
        io_submit(c->io, j, j);
    }
    c->watching = 0;
}

void multi_exec_reject(srv_client *c, resp_buf *out, const char *why)
{
    resp_write_errorf(out, "-EXECABORT Transaction discarded because of: %s", why);
    multi_discard(c);
}

void cmd_multi(cmd_ctx *x)
{
    if (x->c->multi) {
        cmd_err(x, "-ERR MULTI calls can not be nested");
        return;
    }
    x->c->multi = 1;
    cmd_ok(x);
}

void cmd_discard(cmd_ctx *x)
{
    if (!x->c->multi) {
        cmd_err(x, "-ERR DISCARD without MULTI");
        return;
    }
    multi_discard(x->c);
    cmd_ok(x);
}

/* Outside MULTI WATCH runs in the writer (x->job set); on the client's thread it can only
 * be inside MULTI, where Redis refuses it without failing the transaction. */
void cmd_watch(cmd_ctx *x)
{
    if (!x->job) {
        cmd_err(x, "-ERR WATCH inside MULTI is not allowed");
        return;
    }
    for (int i = 1; i < x->argc; i++)
        watch_add(x->job->c, x->txn, x->dbi, x->argv[i].ptr, x->argv[i].len);
    cmd_ok(x);
}

/* Inside EXEC the keys were forgotten when EXEC began: UNWATCH only answers. */
void cmd_unwatch(cmd_ctx *x)
{
    if (x->job && !x->in_exec)
        watch_clear(x->job->c->wset);
    cmd_ok(x);
}

/* Runs a queued command on c's thread (x->out: c's output), on the burst's snapshot. */
static void run_on_thread(srv_client *c, srv_job *q)
{
    cmd_ctx x = {.argc = q->argc, .argv = q->argv, .out = c->out, .dbi = c->db, .c = c,
                 .cmd = q->cmd, .in_exec = 1};
    if (q->cmd->flags & CMD_READ) {
        int rc = dbmap_view(c->io);
        if (rc != OX_OK) {
            cmd_store_error(&x, rc);
            return;
        }
        x.snap = c->io->snap;
        x.table = c->io->db[c->db];
    }
    cmd_call(&x);
}

/* EXEC of a queue without writes, here. 0 done, or -1 if only the writer can tell whether
 * a watched key changed. */
static int exec_here(srv_client *c)
{
    srv_io *io = c->io;
    if (c->watching) {
        uint64_t committed = writer_committed();
        if (io->snap) { /* taken before `committed` was read: the check needs a later one */
            ox_snapshot_end(io->snap);
            io->snap = NULL;
        }
        int rc = dbmap_view(io);
        if (rc != OX_OK) {
            resp_write_errorf(c->out, "-ERR %s", ox_strerror(rc));
            multi_discard(c);
            return 0;
        }
        int st = watch_check(c->wset, committed, srv_mstime());
        if (st == WATCH_UNSURE)
            return -1;
        if (st == WATCH_ABORT) {
            resp_write_null_array(c->out);
            multi_discard(c);
            return 0;
        }
    }
    resp_write_array(c->out, (size_t)c->multi_n);
    c->exec_n = c->multi_n;
    for (srv_job *q = c->mq_head; q; q = q->next)
        run_on_thread(c, q);
    c->exec_n = 0;
    multi_discard(c);
    return 0;
}

/* Hands the queue to the writer as one JOB_EXEC. */
static void exec_in_writer(srv_client *c, const cmd_def *exec, int has_client)
{
    int db = c->db, resp = c->resp;
    for (srv_job *q = c->mq_head; q; q = q->next) {
        q->db = db;
        q->resp = resp;
        if (q->cmd->fn == cmd_select) {
            int to = cmd_select_db(&q->argv[1]);
            if (to >= 0)
                db = to;
        } else if (q->cmd->fn == cmd_hello) {
            resp = cmd_hello_proto(c, q->argc, q->argv);
        }
    }
    srv_job *j = send_job(c, JOB_EXEC);
    j->cmd = exec;
    j->multi = c->mq_head;
    j->multi_n = c->multi_n;
    j->watched = c->watching;
    j->has_client = has_client;
    c->mq_head = c->mq_tail = NULL;
    c->multi = c->multi_dirty = c->multi_n = 0;
    c->watching = 0; /* the writer forgets the keys when it runs the EXEC */
    if (has_client)
        c->stalled = 1; /* a queued SELECT or HELLO changes what the next commands mean */
    io_submit(c->io, j, j);
}

void cmd_exec(cmd_ctx *x)
{
    srv_client *c = x->c;
    if (!c->multi) {
        cmd_err(x, "-ERR EXEC without MULTI");
        return;
    }
    if (c->multi_dirty) {
        cmd_err(x, "-EXECABORT Transaction discarded because of previous errors.");
        multi_discard(c);
        return;
    }
    int has_write = 0, has_client = 0, has_async = 0;
    for (srv_job *q = c->mq_head; q; q = q->next) {
        has_write |= (q->cmd->flags & CMD_WRITE) != 0;
        has_client |= !in_writer(q->cmd);
        has_async |= (q->cmd->flags & CMD_ASYNC) != 0;
    }
    /* A command that asks the other threads replies later: the keyspace commands' replies
     * are then made in the writer (in their own buffers, on one state) beforehand. */
    if (!has_write && !has_async && exec_here(c) == 0)
        return;
    exec_in_writer(c, x->cmd, has_client);
}

void multi_exec_run(srv_job *j, ox_txn *txn)
{
    watch_set *ws = j->c->wset;
    if (j->watched && watch_exec_aborts(ws, srv_mstime())) {
        resp_write_null_array(j->out);
        watch_clear(ws);
        return;
    }
    if (j->watched)
        watch_clear(ws);
    j->ran = 1;
    for (srv_job *q = j->multi; q; q = q->next) {
        if (!in_writer(q->cmd))
            continue;
        job_reply_buf(q);
        cmd_ctx x = {.argc = q->argc, .argv = q->argv, .out = q->out, .dbi = q->db,
                     .table = srv.db[q->db], .txn = txn, .cmd = q->cmd, .job = q,
                     .in_exec = 1};
        cmd_call(&x);
    }
}

void multi_exec_fail(srv_job *j, const char *msg)
{
    if (!j->ran) {
        resp_buf_reset(j->out);
        resp_write_error(j->out, msg, strlen(msg));
        return;
    }
    j->ran = 2; /* every reply is in its job: nothing runs on the client's thread */
    for (srv_job *q = j->multi; q; q = q->next) {
        if (!q->out)
            job_reply_buf(q);
        resp_buf_reset(q->out);
        resp_write_error(q->out, msg, strlen(msg));
    }
}

/* Writes the replies of j's queued commands from q on; stops after an asynchronous one
 * that went round the threads (1), else ends the EXEC (0). */
static int exec_reply_from(srv_client *c, srv_job *j, srv_job *q)
{
    for (; q; q = q->next) {
        if (q->out) {
            client_write_buf(c, q->out);
            continue;
        }
        int before = c->inflight;
        run_on_thread(c, q);
        if (c->inflight > before) { /* io_ask_all suspended c: the reply comes later */
            c->exec_job = j;
            c->exec_next = q->next;
            return 1;
        }
    }
    c->exec_job = c->exec_next = NULL;
    c->exec_n = 0;
    return 0;
}

int multi_exec_done(srv_client *c, srv_job *j)
{
    if (!j->ran) {
        client_write_buf(c, j->out);
        return 0;
    }
    /* "*n" is the same in RESP2 and RESP3, whatever a queued HELLO switches to. */
    resp_write_array(c->out, (size_t)j->multi_n);
    c->exec_n = j->multi_n;
    return exec_reply_from(c, j, j->multi);
}

int multi_exec_resume(srv_client *c)
{
    srv_job *j = c->exec_job;
    if (exec_reply_from(c, j, c->exec_next))
        return 1;
    job_free(j);
    return 0;
}
