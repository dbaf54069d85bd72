/* srv.h — oxistore-server: the one server struct and the types its modules share.
 *
 * Threads and ownership:
 * - main thread: loads the config, opens the store, starts the others, waits for a
 *   shutdown request (signal or SHUTDOWN), then stops them in reverse order.
 * - I/O threads (srv_io, io.c): one libevent event_base each. An I/O thread owns its
 *   clients (srv_client, client.c) outright: it reads and parses their requests, runs
 *   read commands itself on an LMDB snapshot taken per burst of input, and writes their
 *   replies. No other thread touches a client's fields, except through the job queue.
 * - the writer thread (writer.c): every write command of every client becomes a srv_job
 *   queued to it; it drains the whole queue into one LMDB write transaction, commits once
 *   (one fsync under appendfsync always), then hands each job back to its client's I/O
 *   thread (a completion queue + eventfd). A reply leaves only after its commit returned.
 *
 * Per-client order: replies leave in request order. A write goes to the writer; a read
 * goes to the writer too while that client has jobs in flight (so it sees its own writes
 * and its reply queues behind theirs); a command that changes the client's own state
 * (SELECT, HELLO, CLIENT SETNAME…) waits until no job of the client is in flight.
 *
 * Databases: database i lives in the LMDB table whose name dbmap.c's persistent mapping
 * gives (at first "i"; SWAPDB exchanges two names). The mapping must always match the
 * data it is used with, so a read never sees one database's keys under another's number:
 * - the writer owns srv.db (its current mapping, swaps of the running batch included);
 * - an I/O thread reads through io->db, a copy that belongs to its snapshot. srv.dbgen is
 *   a generation in the manner of a seqlock: the writer makes it odd before committing a
 *   batch that swapped and even (2 * the new version) after the commit returned. A
 *   snapshot taken while srv.dbgen stayed even and unchanged holds that version, and the
 *   copy is reused if it is that version; otherwise the thread reads the mapping out of
 *   the snapshot itself (a few lookups, only after a swap). Nobody waits for anybody.
 */
#ifndef SRV_H
#define SRV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "oxistore.h"
#include "resp.h"

#define OXISTORE_VERSION "0.1.0"
#define SRV_REDIS_VERSION "7.0.15" /* what INFO and HELLO report, for client feature checks */

typedef struct srv_client srv_client;
typedef struct srv_io srv_io;
typedef struct srv_job srv_job;
typedef struct srv_writer srv_writer;
typedef struct cmd_def cmd_def;

/* Counters shared by every thread (relaxed atomics: they are statistics). */
typedef struct srv_stats {
    atomic_ullong connections;       /* connections accepted since start */
    atomic_ullong rejected;          /* connections refused (maxclients, protected mode) */
    atomic_ullong net_in, net_out;   /* bytes */
    atomic_ullong reads, writes;     /* read events, and flushes of a client's pending
                                        output (Redis's readQueryFromClient and
                                        writeToClient calls) */
    atomic_ullong commits;           /* writer transactions committed */
    atomic_ullong batched;           /* jobs committed (batched / commits = batch size) */
    atomic_ullong errors;            /* error replies */
    atomic_ullong expired;           /* keys reclaimed by active expiry (expire.c) */
    atomic_ullong expire_cycle_us;   /* time active expiry's slices took */
    atomic_ullong expire_time_cap;   /* cycles that stopped at their time budget */
    atomic_ullong sync_full;         /* replicas given a full sync (repl.c) */
    atomic_ullong sync_partial_ok;   /* PSYNCs continued from the backlog */
    atomic_ullong sync_partial_err;  /* PSYNCs that asked for an offset it did not hold */
} srv_stats;

/* The one server struct: everything the process shares. */
typedef struct srv_server {
    /* CONFIG SET changes cfg under cfg_lock's write lock, on any I/O thread. A thread that
     * reads one of its strings (requirepass...) or formats it (CONFIG GET) holds the read
     * lock: the old string is freed by the change. Integer fields are read without it:
     * one aligned word, a reader sees the old value or the new one. */
    conf cfg;
    pthread_rwlock_t cfg_lock;
    ox_store *store;
    ox_table **db;            /* the writer's mapping: db[i] holds database i (dbmap.c) */
    atomic_ullong dbgen;      /* 2 * the committed mapping version; odd while a batch that
                                 swapped databases commits (see "Databases" above) */
    int ndb;
    srv_io *io;               /* io[0..nio) */
    int nio;
    srv_writer *writer;
    resp_cmdtab *cmdtab;
    const char **cmd_names;   /* the names cmdtab was built from (it borrows them) */
    srv_stats stats;
    atomic_int clients;       /* connected now */
    atomic_ullong next_client_id;
    atomic_int shutdown;      /* 1: a shutdown was asked: I/O threads parse nothing more */
    atomic_int io_asks;       /* io_ask_all rounds not finished (io.c) */
    atomic_int expire_paused; /* DEBUG SET-ACTIVE-EXPIRE 0: active expiry stops (tests) */
    int shutdown_efd;         /* eventfd the main thread waits on */
    uint64_t start_ms;        /* wall clock at start */
    atomic_ullong last_save_s; /* LASTSAVE: unix time of the last SAVE/BGSAVE, 0 = none */
    pthread_mutex_t bgsave_mu; /* guards bgsave_th and bgsave_on (cmd_server.c) */
    pthread_t bgsave_th;      /* the BGSAVE thread, joined by the next BGSAVE or at exit */
    int bgsave_on;            /* bgsave_th was started and not joined yet */
    atomic_int bgsave_running; /* it has not finished */
    atomic_int save_failed;   /* the last SAVE/BGSAVE failed (INFO rdb_last_bgsave_status) */
    atomic_int write_failed;  /* the last commit failed (INFO aof_last_write_status:err) */
    FILE *log_fp;             /* NULL: stderr */
    atomic_int log_level;
    char run_id[41];
    char *conf_path;          /* the config file's absolute path (CONFIG REWRITE), or NULL */
    long long pid;
} srv_server;

extern srv_server srv;

#endif
