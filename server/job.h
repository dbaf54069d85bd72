/* job.h — a command on its way from a client's I/O thread to the writer thread and back,
 * and the per-thread cache jobs are made from. See srv.h for the threading rules. */
#ifndef JOB_H
#define JOB_H

#include "resp.h"
#include "srv.h"
#include "watch.h"

/* What a job asks of the writer. */
enum job_kind {
    JOB_CMD,                /* one command (or a barrier, see below) */
    JOB_EXEC,               /* EXEC with writes: the queued commands hang off multi */
    JOB_UNWATCH,            /* forget c's watched keys, reply nothing (EXEC, DISCARD, RESET
                               on the I/O thread) */
    JOB_WSET_FREE,          /* no client (c NULL): free wset, whose client is gone */
    JOB_GONE,               /* c went away with jobs in flight: a blocked command of it is
                               released without a reply (block.c) */
    JOB_REPL,               /* no client (c NULL): a replica's frame of its master's stream,
                               a full sync's load, or a change of role (replica.h) */
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
    /* JOB_REPL: what to do (REPL_OP_*), the stream offset after the frame (argv[0] holds
     * its record, or a load's file path), the link it came on, the reloads it asks for. */
    int repl_op;
    unsigned repl_flags;
    uint64_t repl_off, repl_gen;
};


/* Jobs are made and freed on I/O threads without an allocation in the common case: each
 * thread keeps the jobs it freed (up to a bound, with their reply buffers) and hands them
 * out again. A job freed on another thread (the writer, or the main thread at shutdown)
 * or too large for the cache is freed for good. */
/* On an I/O thread, once, before its loop: the jobs it makes and frees use io's cache. */
void job_thread_init(srv_io *io);
/* Frees io's cache (io_stop, after the thread ended). */
void job_cache_free(srv_io *io);
/* Copies a command into a new job for c (c may be NULL: then db 0, RESP2). Aborts when
 * out of memory (srv_xmalloc). */
srv_job *job_new(srv_client *c, const cmd_def *d, int argc, const resp_arg *argv);
/* In the writer: gives j an empty reply buffer in j's protocol (its spare one if it has
 * one), counted in the error statistics. The server aborts when out of memory. */
resp_buf *job_reply_buf(srv_job *j);
/* Frees j, and for a JOB_EXEC the queued jobs hanging off it. NULL is a no-op. */
void job_free(srv_job *j);
/* Frees a list of jobs linked by next. */
void job_free_list(srv_job *head);

#endif
