/* client.h — a connected client, owned by one I/O thread (io.h), and what can be done to
 * it. See srv.h for the threading rules. */
#ifndef CLIENT_H
#define CLIENT_H

#include <event2/event.h>

#include "resp.h"
#include "srv.h"
#include "watch.h"

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
    struct pubsub_sub *ps;  /* its subscriptions (pubsub.h), NULL until the first */
    resp_buf *held;         /* messages that came while exec_job waited (NULL: none yet) */
    /* The writer's (watch.c): read or written by the writer only while a job of this
     * client is in flight, by the I/O thread only when none is. */
    watch_set *wset;        /* NULL until the first WATCH */
    struct blk *parked;     /* its command blocked on keys (block.c), NULL if none */
    srv_job *released;      /* the last of the jobs its parked command held, released to
                             * run again and not yet requeued (block.c queues the client's
                             * later jobs behind it); NULL if none */
    /* Replication (repl.c): what REPLCONF said, and where PSYNC hands the socket over. */
    int repl_port;          /* REPLCONF listening-port, 0: none */
    char repl_ip[64];       /* REPLCONF ip-address, "": none */
    void (*handoff)(int fd, void *arg);
    void *handoff_arg;
    srv_client *prev, *next; /* the I/O thread's list */
};


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
/* PSYNC: once what c's output holds is written, c is closed as CLIENT KILL closes it,
 * except its socket, which fn(fd, arg) receives (a replica's sender takes it over). c
 * parses nothing more meanwhile. On c's thread, from a CMD_CLIENT handler. */
void client_handoff(srv_client *c, void (*fn)(int fd, void *arg), void *arg);
/* Appends what b holds to c's output, consuming it (a reply made elsewhere). */
void client_write_buf(srv_client *c, resp_buf *b);
/* pubsub.h's delivery (on c's thread): writes a message into c's output and queues the
 * flush; client_flush_queued writes it. */
void client_deliver(void *c, const void *resp2, size_t len);
/* Whether c is a Pub/Sub client (subscribed to anything: Redis's CLIENT_PUBSUB). */
int client_is_pubsub(const srv_client *c);
/* Appends CLIENT LIST's line for c to buf (NUL-terminated). */
size_t client_info_line(const srv_client *c, char *buf, size_t cap);

#endif
