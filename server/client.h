/* client.h — a connected client, the I/O thread that owns it, and the jobs that carry its
 * commands to the writer thread and back. See srv.h for the threading rules. */
#ifndef CLIENT_H
#define CLIENT_H

#include <event2/event.h>

#include "cmd.h"

struct srv_client {
    uint64_t id;
    int fd;
    int is_unix;
    int is_local;           /* unix socket, 127.0.0.1 or ::1: Redis's islocalClient */
    srv_client *flushq_next; /* in io->flushq */
    int flush_queued;
    srv_io *io;
    struct event *rev, *wev;
    resp_parser *parser;
    resp_buf *out;
    int db;                 /* selected database */
    int resp;               /* 2 or 3 */
    long long max_bulk;     /* the proto-max-bulk-len its parser was last given */
    int authed;             /* AUTH done, or no requirepass */
    char *name;             /* CLIENT SETNAME, NULL if none */
    int inflight;           /* jobs of this client at the writer or coming back */
    size_t inflight_bytes;  /* the bytes of the commands among them (job->pipe_bytes) */
    int read_paused;        /* too much in flight: the socket is not read (client.c) */
    int stalled;            /* a CMD_CLIENT command waits in a job: parse nothing more */
    int close_after_reply;  /* QUIT or protocol error: close once the output is flushed */
    int gone;               /* socket closed: freed when inflight reaches 0 */
    uint64_t ctime_ms, last_ms;
    uint64_t obuf_soft_since; /* when the output first passed the soft limit, 0 = not */
    const char *last_cmd;
    char addr[64], laddr[64];
    /* MULTI (multi.c), the I/O thread's: the queued commands as jobs, in order. */
    int multi;              /* between MULTI and EXEC/DISCARD */
    int multi_dirty;        /* a command was refused while queueing: EXEC aborts */
    int multi_n;
    srv_job *mq_head, *mq_tail;
    int watching;           /* WATCH was sent since the last UNWATCH/EXEC/DISCARD */
    int exec_n;             /* while EXEC runs commands here: how many (CLIENT LIST) */
    srv_job *exec_job;      /* a JOB_EXEC whose reply waits for an asynchronous command */
    srv_job *exec_next;     /* ... and the queued command that comes after it */
    /* The writer's (watch.c): read or written by the writer only while a job of this
     * client is in flight, by the I/O thread only when none is. */
    watch_set *wset;        /* NULL until the first WATCH */
    struct blk *parked;     /* its command blocked on keys (block.c), NULL if none */
    srv_client *prev, *next; /* the I/O thread's list */
};

/* What a job asks of the writer. */
enum job_kind {
    JOB_CMD,                /* one command (or a barrier, see below) */
    JOB_EXEC,               /* EXEC with writes: the queued commands hang off multi */
    JOB_UNWATCH,            /* forget c's watched keys, reply nothing (EXEC, DISCARD, RESET
                               on the I/O thread) */
    JOB_WSET_FREE,          /* no client (c NULL): free wset, whose client is gone */
    JOB_GONE,               /* c went away with jobs in flight: a blocked command of it is
                               released without a reply (block.c) */
    JOB_REPLY               /* a reply decided on the I/O thread (a refusal: unknown command,
                               arity, NOAUTH) for a client with jobs in flight: argv[0] holds
                               its bytes; the writer passes it by (barrier), and it is written
                               when it comes back, in its place among c's replies */
};

/* A command on its way to the writer and back. argv and its bytes live in the same
 * allocation as the job. */
struct srv_job {
    srv_job *next;
    srv_client *c;
    const cmd_def *cmd;
    int kind;               /* enum job_kind */
    int db, resp;
    int barrier;            /* CMD_CLIENT: run on the I/O thread when it comes back */
    int parked;             /* the writer's: blocked, held behind its client's blocked
                               command, or served and waiting to be handed back (block.c):
                               a batch's hand back passes it by */
    srv_job *blk_next;      /* the writer's: in block.c's lists (next stays the batch's) */
    int argc;
    resp_arg *argv;
    resp_buf *out;          /* the reply, written by the writer (NULL: none yet) */
    resp_buf *spare;        /* an empty buffer kept from an earlier use, for job_reply_buf */
    srv_io *home;           /* the I/O thread whose cache the job returns to, NULL: none */
    size_t pipe_bytes;      /* counted in its client's inflight_bytes (a dispatched command) */
    /* JOB_EXEC: the queued commands (each a job: its reply goes in its own out), their
     * number, whether the writer ran them (0: out holds EXEC's whole reply), whether
     * the client's watched keys are checked, and whether it holds CMD_CLIENT commands
     * (run on the I/O thread when the job comes back, the client stalled meanwhile). */
    srv_job *multi;
    int multi_n, ran, watched, has_client;
    watch_set *wset;        /* JOB_WSET_FREE */
};

struct srv_io {
    int idx;
    pthread_t th;
    struct event_base *base;
    int nlisten;            /* lfd[0..ntcp) TCP, then the unix socket (thread 0) */
    int ntcp;
    int lfd[CONF_MAX_BIND + 1];
    struct event *lev[CONF_MAX_BIND + 1];
    int cq_efd;             /* eventfd: completions for an idle thread */
    struct event *cq_ev;
    atomic_int idle;        /* the thread may be waiting in its loop: io_complete wakes it
                               (set at a round's end under cq_mu, cleared by a wake) */
    srv_job *pend_head, *pend_tail; /* jobs for the writer, handed over at the round's end */
    srv_job *jfree;         /* freed jobs kept for reuse (job.c), and how many */
    int njfree;
    struct event *cron_ev;  /* timeouts, buffer trimming */
    pthread_mutex_t cq_mu;
    srv_job *cq_head, *cq_tail;
    srv_client *clients;
    srv_client *flushq;     /* clients whose replies came back, flushed once per batch */
    ox_snapshot *snap;      /* taken per burst of reads, never held while idle */
    resp_buf *scratch;      /* a refusal is written here when it must wait its turn */
    ox_table **db;          /* the database mapping that matches snap (dbmap_view) */
    uint64_t db_version;    /* the mapping version db was read at */
    int db_valid;
};

/* ---- client.c ---- */
/* Adopts an accepted socket on io (the calling thread must be io's). */
void client_accept(srv_io *io, int fd, int is_unix);
/* A job of c came back from the writer (on c's I/O thread). Frees the job. Its reply is
 * written to the socket by client_flush_queued, once for all the jobs of a batch. */
void client_job_done(srv_job *j);
/* Writes the output of every client whose jobs came back (io's flush queue). */
void client_flush_queued(srv_io *io);
/* Closes every client of io (shutdown). */
void client_close_all(srv_io *io);
/* Closes idle clients (timeout) and enforces the soft output limit; from the cron. */
void client_cron(srv_io *io);
/* Closes c now (CLIENT KILL), on c's own I/O thread. */
void client_kill(srv_client *c);
/* An asynchronous CMD_CLIENT command (one that asks the other I/O threads): suspend
 * before asking (c reads no more commands and outlives a disconnect), resume once its
 * reply is written (on c's thread; frees c if it went away meanwhile). */
void client_suspend(srv_client *c);
void client_resume(srv_client *c);
/* Appends what b holds to c's output, consuming it (a reply made elsewhere). */
void client_write_buf(srv_client *c, resp_buf *b);
/* Appends CLIENT LIST's line for c to buf (NUL-terminated). */
size_t client_info_line(const srv_client *c, char *buf, size_t cap);

/* ---- job.c ---- */
/* Jobs are made and freed on I/O threads without an allocation in the common case: each
 * thread keeps the jobs it freed (up to a bound, with their reply buffers) and hands them
 * out again. A job freed on another thread (the writer, or the main thread at shutdown)
 * or too large for the cache is freed for good. */
/* On an I/O thread, once, before its loop: the jobs it makes and frees use io's cache. */
void job_thread_init(srv_io *io);
/* Frees io's cache (io_stop, after the thread ended). */
void job_cache_free(srv_io *io);
/* Copies a command into a new job for c (c may be NULL: then db 0, RESP2). NULL when out
 * of memory. */
srv_job *job_new(srv_client *c, const cmd_def *d, int argc, const resp_arg *argv);
/* In the writer: gives j an empty reply buffer in j's protocol (its spare one if it has
 * one), counted in the error statistics. The server aborts when out of memory. */
resp_buf *job_reply_buf(srv_job *j);
/* Frees j, and for a JOB_EXEC the queued jobs hanging off it. NULL is a no-op. */
void job_free(srv_job *j);
/* Frees a list of jobs linked by next. */
void job_free_list(srv_job *head);

/* ---- multi.c: MULTI, EXEC, DISCARD (and the queue they work on) ---- */
/* On c's thread, from dispatch, for a command that passed the lookup, arity and auth
 * checks while c is in MULTI: queues it (+QUEUED) or refuses it (no-multi commands);
 * returns 1 if it did either, 0 if the command runs now (EXEC, DISCARD, MULTI, WATCH,
 * QUIT, RESET). */
int multi_queue(srv_client *c, const cmd_def *d, int argc, const resp_arg *argv);
/* A command of c was refused before it ran (unknown, arity, auth): if c is in MULTI,
 * EXEC will answer -EXECABORT. */
void multi_flag_error(srv_client *c);
/* EXEC refused before it ran (arity, auth): Redis 7.0 answers "-EXECABORT Transaction
 * discarded because of: <why>" and discards, watched keys included, in MULTI or not. */
void multi_exec_reject(srv_client *c, resp_buf *out, const char *why);
/* Leaves MULTI, frees the queue, and forgets c's watched keys (RESET, DISCARD, and a
 * client going away: then with gone set, nothing is sent to the writer). */
void multi_discard(srv_client *c);
/* A JOB_EXEC came back to c's thread: writes EXEC's reply (running its CMD_CLIENT
 * commands in their places). Returns 0 when the reply is complete (j is the caller's to
 * free), 1 when an asynchronous command (CLIENT LIST, CONFIG SET port…) went round the
 * I/O threads: c keeps j (exec_job), stays stalled, and client_resume finishes the reply
 * with multi_exec_resume. */
int multi_exec_done(srv_client *c, srv_job *j);
/* From client_resume, once the asynchronous command wrote its reply: goes on with the
 * EXEC's reply (0: complete, exec_job freed; 1: suspended again). */
int multi_exec_resume(srv_client *c);
/* In the writer, inside the batch's transaction: runs a JOB_EXEC. */
void multi_exec_run(srv_job *j, ox_txn *txn);
/* In the writer, after a failed commit: every reply of an EXEC job becomes msg. */
void multi_exec_fail(srv_job *j, const char *msg);

/* ---- io.c ---- */
int io_start(void);         /* binds, starts srv.nio threads; 0 or -1 (logged) */
void io_stop(void);         /* stops accepting, closes clients, joins */
/* Asks every I/O thread, on its own thread, each(io, arg) (about its own clients); once
 * all have answered, done(c, arg) runs on c's thread, then c is resumed. Called on c's
 * thread from a CMD_CLIENT handler, which writes no reply itself: done writes it. each
 * runs concurrently on several threads: it may only touch io's clients and the part of
 * arg that belongs to io->idx. */
typedef void io_each_fn(srv_io *io, void *arg);
typedef void io_done_fn(srv_client *c, void *arg);
void io_ask_all(srv_client *c, io_each_fn *each, io_done_fn *done, void *arg);
/* CONFIG SET port/bind, on c's thread: opens listeners for srv.cfg's port and bind on
 * every I/O thread, then has each thread swap them for its old TCP ones, and calls
 * done(c, arg) on c's thread when all did (c NULL if it went away). -1 if a socket could
 * not be opened (logged; nothing changed, done not called). */
int io_rebind(srv_client *c, io_done_fn *done, void *arg);
/* From the writer: hands back finished jobs of one I/O thread's clients. */
void io_complete(srv_io *io, srv_job *head, srv_job *tail);
/* On io's thread: queues jobs for the writer, in order after those queued before. They
 * go to the writer together at the end of the event-loop round (one hand-over for every
 * client served in it). */
void io_submit(srv_io *io, srv_job *head, srv_job *tail);

/* ---- writer.c ---- */
int writer_start(void);
void writer_submit(srv_job *head, srv_job *tail);
void writer_stop(void);     /* commits what is queued, then joins */
/* Any thread: the number of the last batch whose commit returned (batches are numbered
 * from 1 in the order the writer runs them). */
uint64_t writer_committed(void);
/* Writer: the number of the batch it is running. */
uint64_t writer_batch(void);

#endif
