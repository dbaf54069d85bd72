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
    atomic_ullong commands;          /* commands processed */
    atomic_ullong connections;       /* connections accepted since start */
    atomic_ullong rejected;          /* connections refused (maxclients, protected mode) */
    atomic_ullong net_in, net_out;   /* bytes */
    atomic_ullong commits;           /* writer transactions committed */
    atomic_ullong batched;           /* jobs committed (batched / commits = batch size) */
    atomic_ullong errors;            /* error replies */
    atomic_ullong expired;           /* keys reclaimed by active expiry (expire.c) */
    atomic_ullong expire_cycle_us;   /* time active expiry's slices took */
    atomic_ullong expire_time_cap;   /* cycles that stopped at their time budget */
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
    long long pid;
} srv_server;

extern srv_server srv;

/* ---- log.c: Redis's log line format, to stderr or logfile ------------------------------ */
enum { SRV_LOG_DEBUG, SRV_LOG_VERBOSE, SRV_LOG_NOTICE, SRV_LOG_WARNING };
void srv_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int srv_log_open(const char *logfile, int level); /* 0, or -1 with errno */

/* ---- dbmap.c: the persistent database -> table mapping, SWAPDB ------------------------ */
/* Main thread, at startup: opens the tables of the stored mapping into srv.db. OX_OK or
 * the store's error (logged). dbmap_free releases what it allocated. */
int dbmap_load(void);
void dbmap_free(void);
/* Writer, inside the batch's transaction: swaps databases a and b in srv.db and stores
 * the swap in txn. OX_OK or the store's error (then nothing changed). */
int dbmap_swap(ox_txn *txn, int a, int b);
/* Writer, around the batch's commit: publishes (or, if it failed, undoes) its swaps. */
void dbmap_precommit(void);
void dbmap_postcommit(int committed_ok);
/* I/O thread: makes sure io has a snapshot (io->snap) and the mapping that matches it
 * (io->db). OX_OK or the store's error. The snapshot ends with the burst, as before. */
int dbmap_view(srv_io *io);

/* ---- watch.c: the keys clients WATCH, and the hook every write calls ------------------
 * The registry belongs to the writer thread: WATCH and UNWATCH run there as jobs, and
 * every change of a key happens there, so a change marks exactly the watches registered
 * before it in the writer's order. Keys are compared byte for byte: no false aborts from
 * hash collisions. A client's mark holds the number of the batch that made it, so an I/O
 * thread can tell whether its snapshot holds that change (watch_check); a batch whose
 * commit fails takes its marks back.
 *
 * The hook, for every write command (writer thread): call watch_touch once for each key
 * the command changed, exactly where Redis 7.0 calls signalModifiedKey: a write, even of
 * the same value (SET k v on v, SETBIT to the bit it had); a delete; RENAME's source and
 * target; MOVE's key in both databases; COPY's target; an expiry time set or removed
 * (EXPIRE, PEXPIRE, PERSIST, GETEX EX/PERSIST when it changed one). Not for a command
 * that changed nothing (SETNX or SET NX on an existing key, DEL of a missing key, SETRANGE
 * with an empty value, PERSIST of a key without TTL). FLUSHDB and FLUSHALL call
 * watch_flush before clearing, SWAPDB watch_swap after swapping. Deleting keys that have
 * expired (active expiry, ox_txn_purge_expired, by name or not) needs no call: a key that
 * was live when watched and has expired since fails EXEC by the expiry time recorded at
 * WATCH (Redis 7.0 fails EXEC once a watched key expired), and a key already expired when
 * watched did not exist for WATCH, so its removal changes nothing (as in Redis 7.0).
 * Each call costs a load and a branch while nothing is watched. */
typedef struct watch_set watch_set; /* one client's watched keys */
void watch_touch(int db, const void *key, size_t len);
void watch_flush(ox_txn *txn, int db);
void watch_swap(ox_txn *txn, int a, int b);
/* Writer, for c's WATCH job: watches key of db (once however often it is named),
 * recording whether it is live in txn's view and its expiry time. */
void watch_add(srv_client *c, ox_txn *txn, int db, const void *key, size_t len);
/* Writer: forgets every key of ws and its mark (UNWATCH, EXEC, DISCARD). NULL: no-op. */
void watch_clear(watch_set *ws);
/* Writer: 1 if an EXEC of ws's client must fail (a watched key changed or expired). */
int watch_exec_aborts(const watch_set *ws, uint64_t now_ms);
/* Writer, after each batch's commit: keeps or takes back the batch's marks. */
void watch_batch_end(int committed_ok);
/* Writer: frees ws (its client is gone). */
void watch_set_free(watch_set *ws);
/* Writer thread stopped (main thread): frees the registry and every set. */
void watch_shutdown(void);
/* I/O thread, on a snapshot taken after writer_committed() returned committed, while no
 * job of ws's client is in flight: WATCH_CLEAN (EXEC may run on the snapshot),
 * WATCH_ABORT (EXEC fails: the change is in the snapshot, or a key expired), or
 * WATCH_UNSURE (a change whose commit may not be in the snapshot: ask the writer). */
enum { WATCH_CLEAN, WATCH_ABORT, WATCH_UNSURE };
int watch_check(const watch_set *ws, uint64_t committed, uint64_t now_ms);

/* ---- stats.c: INFO commandstats and errorstats, counted from every thread ------------- */
int stats_init(void);      /* main thread, after cmd_init: 0 or -1 */
void stats_free(void);
/* The error hook of every output buffer (resp_buf_set_error_hook; ctx unused): counts
 * total_error_replies, the code's errorstat and this thread's errors. */
void stats_on_error(void *ctx, const char *line, size_t len);
/* Error replies written by the calling thread so far (compare before/after a call). */
unsigned long stats_thread_errors(void);
/* A command (cmd_slot) ran for usec; failed: it replied an error. Counts
 * total_commands_processed too. */
void stats_called(size_t slot, uint64_t usec, int failed);
/* A command was refused before it ran (arity, NOAUTH): Redis's rejected_calls. */
void stats_rejected(size_t slot);
/* CONFIG RESETSTAT: commandstats, errorstats and total_error_replies. */
void stats_reset(void);
/* Reads a command's counters; 1 if any is non-zero (INFO lists only those). */
int stats_command(size_t slot, unsigned long long *calls, unsigned long long *usec,
                  unsigned long long *rejected, unsigned long long *failed);
/* The i-th error code seen and its count, or NULL past the last. */
const char *stats_error(size_t i, unsigned long long *count);

/* ---- cmd_conn.c ------------------------------------------------------------------------ */
/* 1 if requirepass is set (takes the config's read lock). */
int srv_password_set(void);

/* ---- cmd_server.c ---------------------------------------------------------------------- */
/* The library's sync policy (enum ox_sync) for a conf appendfsync value. */
int srv_sync_policy(int appendfsync);

/* ---- expire.c: active expiry, on the writer thread ------------------------------------ */
/* Runs one slice of active expiry if one is due (see expire.c), then returns how many ms
 * the writer may sleep before the next is due (0: run it as soon as the queue is served).
 * Cheap when nothing is due or nothing has expired. Writer thread only. */
uint64_t expire_run(void);

/* ---- util.c ---------------------------------------------------------------------------- */
/* The server's allocator: malloc, calloc and realloc that abort (with a line on stderr)
 * when memory runs out, as Redis's zmalloc does. liboxistore and proto/ report it instead. */
void *srv_xmalloc(size_t n);
void *srv_xcalloc(size_t n, size_t size);
void *srv_xrealloc(void *p, size_t n);
uint64_t srv_mstime(void);                    /* wall clock, ms since the epoch */
uint64_t srv_ustime(void);
uint64_t srv_monotonic_ms(void);
uint64_t srv_monotonic_us(void);
/* A growing buffer of byte-string pairs, appended to, then read back in order: what a
 * handler gathers from an iterator before it writes (the iterator's bytes are borrowed
 * only until its next step). Zero-initialise it; aborts when out of memory. */
typedef struct srv_pairs {
    unsigned char *buf;
    size_t len, cap, n;
} srv_pairs;
void srv_pairs_add(srv_pairs *p, const void *a, size_t alen, const void *b, size_t blen);
/* The pair at *off (0 first), moving *off past it: 1, or 0 at the end. *a and *b point
 * into p until its next add or free. */
int srv_pairs_next(const srv_pairs *p, size_t *off, ox_val *a, ox_val *b);
void srv_pairs_free(srv_pairs *p);

#endif
