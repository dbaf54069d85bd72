/* io.h — the I/O threads: one libevent event_base each, owning its clients, parsing and
 * answering them, and handing write jobs to the writer. See srv.h for the threading
 * rules. */
#ifndef IO_H
#define IO_H

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "conf.h"
#include "oxistore.h"
#include "resp.h"
#include "srv.h"

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
    uint64_t db_epoch;      /* ... and the epoch (dbmap_reload) */
    int db_valid;
};


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

#endif
