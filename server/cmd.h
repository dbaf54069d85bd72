/* cmd.h — the command table and what a command handler is given.
 *
 * Flags, each documented once:
 *   CMD_WRITE   changes the keyspace: runs in the writer thread, inside the batch's
 *               transaction (x->txn set, x->snap NULL, x->c NULL).
 *   CMD_READ    reads the keyspace: runs on the client's I/O thread on a snapshot
 *               (x->snap set), or in the writer (x->txn set) when the client has jobs in
 *               flight, so that it sees its own writes in order.
 *   CMD_CLIENT  reads or changes the client's own state or the server's: runs on the
 *               client's I/O thread (x->c set), only when none of its jobs is in flight.
 *   CMD_NOAUTH  allowed before AUTH when requirepass is set.
 *   CMD_SUBS    a container: argv[1] names a subcommand of cmd_subtable, looked up before
 *               the arity check; an unknown one is refused as Redis refuses it.
 *   CMD_WATCH   WATCH, UNWATCH: runs in the writer thread, where the registry of watched
 *               keys lives (watch.c), with x->job set; changes no key. So do SCRIPT LOAD,
 *               EXISTS and FLUSH: the script cache is the writer's (script.h).
 *   CMD_NOMULTI refused inside MULTI (Redis's no-multi flag).
 *   CMD_ASYNC   may reply later, after asking the other I/O threads (io_ask_all). Inside
 *               EXEC, the keyspace commands then run in the writer first and EXEC's reply
 *               waits for it in its place (multi.c).
 *   CMD_PUBSUB_OK allowed to a RESP2 client in Pub/Sub (subscribed to anything): PING,
 *               QUIT, RESET and the (un)subscribe commands; Redis's error for the others.
 *   CMD_SCRIPT  a CMD_CLIENT command a script may call (redis.call): it also runs in the
 *               writer, with x->c NULL (PING, ECHO, SELECT: then on x->dbi, TIME, PUBLISH…).
 *               Scripts are refused the other CMD_CLIENT commands, besides those Redis
 *               refuses them (noscript).
 *   CMD_PROTECTED refused (after the arity check, before authentication, as Redis's
 *               protected commands) unless enable-debug-command allows it: "yes", or
 *               "local" and the client is on a unix socket or at 127.0.0.1 or ::1.
 *   CMD_POP     a CMD_WRITE pop (LPOP, RPOP, SPOP, ZPOPMIN, ZPOPMAX) that only reads when
 *               its key argv[1] is missing: then, when none of the client's jobs is in
 *               flight, it runs on the client's I/O thread on a snapshot as a CMD_READ
 *               would (client.c), and answers the same (a queue polled while empty no
 *               longer goes through the writer). A key that exists sends it to the writer.
 * Inside EXEC (x->in_exec) a command runs as it would alone, on EXEC's snapshot or in
 * EXEC's part of the writer's batch; CMD_CLIENT commands run on the client's thread.
 * A handler writes exactly one reply into x->out (an error included); it never fails
 * otherwise. Handlers named ..._or_reply have replied when they return nonzero.
 */
#ifndef CMD_H
#define CMD_H

#include "srv.h"

enum cmd_flags {
    CMD_WRITE = 1u << 0,
    CMD_READ = 1u << 1,
    CMD_CLIENT = 1u << 2,
    CMD_NOAUTH = 1u << 3,
    CMD_SUBS = 1u << 4,
    CMD_WATCH = 1u << 5,
    CMD_NOMULTI = 1u << 6,
    CMD_ASYNC = 1u << 7,
    CMD_PROTECTED = 1u << 8,
    CMD_PUBSUB_OK = 1u << 9,
    CMD_SCRIPT = 1u << 10,
    CMD_POP = 1u << 11,
};

typedef struct cmd_ctx {
    int argc;
    const resp_arg *argv;
    resp_buf *out;
    int dbi;              /* selected database */
    ox_table *table;      /* srv.db[dbi] */
    ox_snapshot *snap;    /* CMD_READ (or CMD_POP of a missing key) on an I/O thread */
    ox_txn *txn;          /* in the writer */
    srv_client *c;        /* on an I/O thread, else NULL */
    const cmd_def *cmd;
    srv_job *job;         /* in the writer: the job (CMD_WATCH handlers use job->c) */
    int in_exec;          /* run by EXEC (or a script) */
    int in_script;        /* run by a script (SORT then orders a set even BY nosort) */
    /* Blocking commands (block.h): set by block_set when the command parks; block_retry
     * when the writer runs a parked command again (its timeout is not read again), for
     * the key argv[block_key] that woke it. */
    int block, block_first, block_last, block_type, block_retry, block_key;
    uint64_t block_deadline;
    /* Builds of a whole collection (db_bulk_begin): the writer sets commit_part when the
     * command runs first in its batch part, outside EXEC; it commits what txn holds and
     * begins the next transaction into txn (OX_OK or the error: txn is then NULL).
     * bulk_wait: the command asked to run again first in a part (it wrote and replied
     * nothing). bulk: a build in parts is under way, its walks (db_walk) suspend at each
     * part's commit; parts counts those commits. */
    int (*commit_part)(struct cmd_ctx *x);
    int bulk_wait, bulk;
    struct db_walk *walks;
    unsigned parts;
    ox_table *bulk_table;  /* a build in parts: the database table of its collection, */
    uint64_t bulk_id;      /* and the collection's fresh id (db_bulk_done) */
    int store_rc;          /* cmd_store_error's: in the writer, what the command wrote is
                              discarded (cmd_run_writer) */
} cmd_ctx;

typedef void cmd_fn(cmd_ctx *x);

/* A row of the table. flags say how oxistore runs the command; the strings after them are
 * what COMMAND reports of it (cmd_command.c), as Redis 7.0 does, checked at startup:
 *   rflags  Redis's command flags ("write denyoom fast"), space separated, without
 *           movablekeys: COMMAND INFO works that out from the key specs, as Redis does;
 *   acl     the ACL categories ("@string") besides those Redis derives from the flags:
 *           @write (write), @read (readonly, unless @scripting), @admin and @dangerous
 *           (admin), @pubsub, @blocking, and @fast (fast) or else @slow;
 *   tips    Redis's command tips, space separated;
 *   keys    the key specs (keyspec.h), "" for a command without keys;
 *   doc     COMMAND DOCS: "group since | complexity | summary", then " | deprecated SINCE
 *           REPLACED-BY" or " | syscmd" (group, since, the doc flags as Redis has them;
 *           complexity "-" when Redis gives none; the rest in oxistore's words);
 *   args    COMMAND DOCS' "arguments", Redis's tree of them (argdoc.h), "" for none. */
struct cmd_def {
    const char *name;     /* lower case, as Redis names it in errors */
    cmd_fn *fn;
    int arity;            /* exact argc, or -n: at least n */
    unsigned flags;       /* CMD_* */
    const char *rflags, *acl, *tips, *keys, *doc, *args;
};

/* The table (cmd.c) and its lookup. */
extern const cmd_def cmd_table[];
extern const size_t cmd_count;
extern const cmd_def cmd_subtable[];
extern const size_t cmd_subcount;
/* Builds srv.cmdtab. 0 or -1. */
int cmd_init(void);
/* The command named argv[0], or NULL. */
const cmd_def *cmd_lookup(const resp_arg *name);
/* The subcommand `sub` of the CMD_SUBS command parent, or NULL. */
const cmd_def *cmd_lookup_sub(const cmd_def *parent, const resp_arg *sub);
/* The command or subcommand named name in any case, a subcommand as "parent|sub"
 * ("CONFIG|GET"), or NULL: how COMMAND INFO and COMMAND DOCS find theirs. */
const cmd_def *cmd_lookup_name(const resp_arg *name);
/* cmd_command.c: checks the strings of every row (0), or logs the first malformed one
 * (-1). Called by cmd_init. */
int cmd_command_check(void);
/* A command's or subcommand's index in 0 .. cmd_count + cmd_subcount (statistics), and
 * back. */
size_t cmd_slot(const cmd_def *d);
const cmd_def *cmd_by_slot(size_t slot);
/* Runs x->cmd's handler and counts the call in its statistics (time, failed if it replied
 * an error). Every handler runs through here, on whichever thread. */
void cmd_call(cmd_ctx *x);
/* The writer's part of cmd_call (x->txn set), also used for a parked command that runs
 * again (block.h): the command's keyspace events begin here (notify_mark), and its writes
 * after the transaction's savepoint set here, so that a command that replies a store
 * error (cmd_store_error) midway leaves nothing of itself, events included, however many
 * writes it had made: it stays whole, as Redis's commands are. */
void cmd_run_writer(cmd_ctx *x);
/* Writer: takes back every write the running command has made so far (to the savepoint
 * cmd_run_writer set), for a command that goes another way instead (bulk.h's rebuilds).
 * OX_OK or the store's error. */
int cmd_take_back(cmd_ctx *x);

/* Replies Redis's error for an unknown command / a wrong argument count. */
void cmd_reply_unknown(resp_buf *out, int argc, const resp_arg *argv);
void cmd_reply_arity(resp_buf *out, const char *name);
/* "-ERR unknown subcommand 'x'. Try CLIENT HELP." for argv[0] argv[1]. */
void cmd_reply_unknown_sub(resp_buf *out, const resp_arg *argv);
/* Redis's addReplySubcommandSyntaxError, for commands that parse their own subcommands:
 * "-ERR unknown subcommand or wrong number of arguments for 'x'. Try DEBUG HELP." */
void cmd_reply_sub_syntax(resp_buf *out, const resp_arg *argv);
/* Redis's addReplyHelp: "<NAME> <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
 * the NULL-terminated lines, then HELP's own two lines, each a status reply. */
void cmd_reply_help(resp_buf *out, const resp_arg *name, const char *const *lines);
/* 1 if d's Redis flags (rflags) hold the word w ("noscript", "allow_busy"). */
int cmd_rflag(const cmd_def *d, const char *w);
/* 1 if argc fits the command's arity. */
int cmd_arity_ok(const cmd_def *d, int argc);

/* ---- shared helpers for handlers (cmd.c) ------------------------------------------------ */

/* Replies with a shared status/error. */
void cmd_ok(cmd_ctx *x);
void cmd_err(cmd_ctx *x, const char *msg); /* msg with its code: "-ERR ...", "-WRONGPASS ..." */
void cmd_syntax_error(cmd_ctx *x);
/* Replies for an ox_err from the store ("-ERR <text>"); in the writer, the command's writes
 * are then discarded (cmd_run_writer). */
void cmd_store_error(cmd_ctx *x, int rc);
/* Replies the error of a keyargs.h code in Redis's words (opt: the offending option of
 * KEYARGS_UNSUPPORTED, else unused). */
void cmd_keyargs_error(cmd_ctx *x, int code, const resp_arg *opt);

/* Parses argv[i] as a long long; replies "-ERR value is not an integer or out of range"
 * and returns -1 if it is not one. */
int cmd_ll_or_reply(cmd_ctx *x, const resp_arg *a, long long *out);

/* Normalises a [start, end] range over len items as BITPOS does (negative indexes from
 * the end, then clamped into [0, len - 1]). 1 if the range holds something, 0 if empty. */
int cmd_range_norm(long long *start, long long *end, long long len);
/* The same as GETRANGE and BITCOUNT do: first, two negative indexes with start > end are
 * empty (BITPOS k 0 -100 -200 looks at the first byte; BITCOUNT k -100 -200 counts 0). */
int cmd_range_clamp(long long *start, long long *end, long long len);

/* What SCAN and its kin (HSCAN...) start from: the cursor argv[at] (its place into
 * from[CURSOR_POS_MAX], *fromlen; *cursor 0: the beginning) and the options after it:
 * MATCH into *pat, COUNT into *count (at least 1), TYPE into *type (type NULL: TYPE is
 * refused, as HSCAN refuses it). 0, or -1 after replying Redis's error (cmd_scan.c). */
int cmd_scan_begin(cmd_ctx *x, int at, uint64_t *cursor, unsigned char *from, size_t *fromlen,
                   const resp_arg **pat, long long *count, const resp_arg **type);

/* The head of a SCAN-like reply once the walk ended with rc (OX_OK: more to come, after
 * position last; OX_NOTFOUND: done): the 2-array, the cursor, then the array header of n
 * elements the caller writes. 1, or 0 after replying the store's error for any other rc. */
int cmd_scan_reply_head(cmd_ctx *x, int rc, const unsigned char *last, size_t lastlen,
                        size_t n);

/* SPOP's and ZPOPMIN's optional count (argv[2] when argc is 3; more is a syntax error):
 * *count (1 without one), *with_count. 1, or 0 after replying Redis's error. */
int cmd_pop_count_or_reply(cmd_ctx *x, long long *count, int *with_count);

/* LMPOP's and ZMPOP's arguments from argv[base] (1; BLMPOP, BZMPOP: 2): numkeys key
 * [key ...] <end> [COUNT count], where end is word a (*end 0) or word b (*end 1): the keys
 * are argv[base + 1 .. *at). 1, or 0 after replying Redis's error. */
int cmd_mpop_args_or_reply(cmd_ctx *x, int base, const char *a, const char *b, int *at,
                           int *end, long long *count);

/* INCRBY's arithmetic: cur (NULL: a missing value, 0) parsed as an integer (else replies
 * notint, Redis's text for the command) plus by, formatted into buf[32]. Its length with
 * *sum, or -1 after replying. */
int cmd_int_add_or_reply(cmd_ctx *x, const ox_val *cur, long long by, const char *notint,
                         long long *sum, char *buf);

/* Adds by to cur as INCRBYFLOAT does and formats the sum into buf: its length, or -1
 * after replying Redis's error (NaN or infinity). */
int cmd_float_add_or_reply(cmd_ctx *x, long double cur, long double by, char *buf, size_t cap);

/* The database SELECT a would switch to, or -1 if it would fail (cmd_conn.c). */
int cmd_select_db(const resp_arg *a);
/* A database index argument (SELECT, MOVE, COPY ... DB) as Redis reads it: NULL with *db,
 * or the error reply (not an integer; outside an int; no such database). */
const char *cmd_db_parse(const resp_arg *a, long long *db);
/* The protocol c would speak after HELLO argv, its current one if HELLO would fail
 * (cmd_conn.c; EXEC works out the protocol of the commands queued after a HELLO). */
int cmd_hello_proto(const srv_client *c, int argc, const resp_arg *argv);

/* A keyspace event (notify.h) of class type (CONF_NOTIFY_*) for key in x's database, in
 * the writer, after the change it names. */
void cmd_notify(cmd_ctx *x, int type, const char *event, const resp_arg *key);

/* 1 if a equals the NUL-terminated word s ignoring ASCII case. */
int cmd_is(const resp_arg *a, const char *s);
/* Writer: the arguments (their number in *argc) of the command `ahead` places (1 or 2) after
 * x's in its batch, if that one is x's own command on x's key in x's database (HSETs
 * pipelined to one hash); else NULL. For hints of what it will read (db.h:
 * db_member_prefetch_next); borrowed while x runs. */
const resp_arg *cmd_next_same(const cmd_ctx *x, int ahead, int *argc);

/* Command families (one file each). */
cmd_fn cmd_ping, cmd_echo, cmd_quit, cmd_select, cmd_hello, cmd_auth, cmd_client, cmd_reset;
cmd_fn cmd_client_list, cmd_client_kill; /* cmd_client.c: they write their reply later */
cmd_fn cmd_client_unblock; /* cmd_client.c: in the writer (CMD_WATCH), where clients block */
cmd_fn cmd_get_, cmd_set, cmd_setnx, cmd_setex, cmd_psetex, cmd_getset, cmd_getdel, cmd_getex;
cmd_fn cmd_mget, cmd_mset, cmd_msetnx, cmd_incr, cmd_decr, cmd_incrby, cmd_decrby;
cmd_fn cmd_incrbyfloat, cmd_append, cmd_strlen, cmd_getrange, cmd_setrange;
cmd_fn cmd_del, cmd_exists, cmd_type, cmd_dbsize, cmd_flushdb, cmd_flushall, cmd_touch;
cmd_fn cmd_rename, cmd_renamenx, cmd_copy, cmd_move, cmd_randomkey, cmd_swapdb;
cmd_fn cmd_keys, cmd_scan, cmd_object, cmd_memory; /* cmd_object, cmd_memory: cmd_keys.c */
cmd_fn cmd_hset, cmd_hsetnx, cmd_hmset, cmd_hget, cmd_hmget, cmd_hdel, cmd_hlen, cmd_hstrlen;
cmd_fn cmd_hexists, cmd_hincrby, cmd_hincrbyfloat, cmd_hkeys, cmd_hvals, cmd_hgetall;
cmd_fn cmd_hrandfield; /* cmd_hash.c */
cmd_fn cmd_sadd, cmd_srem, cmd_scard, cmd_sismember, cmd_smismember, cmd_smembers;
cmd_fn cmd_srandmember, cmd_spop, cmd_smove, cmd_sinter, cmd_sintercard, cmd_sinterstore;
cmd_fn cmd_sunion, cmd_sunionstore, cmd_sdiff, cmd_sdiffstore; /* cmd_set.c */
cmd_fn cmd_zadd, cmd_zincrby, cmd_zrem, cmd_zcard, cmd_zscore, cmd_zmscore, cmd_zrank;
cmd_fn cmd_zrevrank, cmd_zcount, cmd_zlexcount, cmd_zrange, cmd_zrangestore, cmd_zrevrange;
cmd_fn cmd_zrangebyscore, cmd_zrevrangebyscore, cmd_zrangebylex, cmd_zrevrangebylex;
cmd_fn cmd_zremrangebyrank, cmd_zremrangebyscore, cmd_zremrangebylex, cmd_zpopmin;
cmd_fn cmd_zpopmax, cmd_zrandmember, cmd_zunion, cmd_zinter, cmd_zdiff, cmd_zunionstore;
cmd_fn cmd_zinterstore, cmd_zdiffstore, cmd_zintercard, cmd_zmpop, cmd_bzpopmin;
cmd_fn cmd_bzpopmax, cmd_bzmpop; /* cmd_zset.c */
cmd_fn cmd_lpush, cmd_rpush, cmd_lpushx, cmd_rpushx, cmd_lpop, cmd_rpop, cmd_llen, cmd_lindex;
cmd_fn cmd_lrange, cmd_lset, cmd_ltrim, cmd_linsert, cmd_lrem, cmd_lpos, cmd_lmove;
cmd_fn cmd_rpoplpush, cmd_lmpop, cmd_blpop, cmd_brpop, cmd_blmove, cmd_brpoplpush;
cmd_fn cmd_blmpop; /* cmd_list.c */
cmd_fn cmd_hscan, cmd_sscan, cmd_zscan; /* cmd_scan.c */
cmd_fn cmd_sort, cmd_sort_ro; /* cmd_sort.c */
cmd_fn cmd_expire, cmd_pexpire, cmd_expireat, cmd_pexpireat, cmd_persist;
cmd_fn cmd_ttl, cmd_pttl, cmd_expiretime, cmd_pexpiretime;
cmd_fn cmd_setbit, cmd_getbit, cmd_bitcount, cmd_bitpos, cmd_lcs;
cmd_fn cmd_info, cmd_config, cmd_time, cmd_shutdown, cmd_debug, cmd_lastsave;
cmd_fn cmd_save, cmd_role; /* cmd_server.c */
cmd_fn cmd_command; /* cmd_command.c */
/* Waits for a BGSAVE still running (shutdown, before the store closes). */
void cmd_bgsave_join(void);
/* cmd_server.c: the library's sync policy (enum ox_sync) for a conf appendfsync value. */
int cmd_sync_policy(int appendfsync);
/* cmd_conn.c: 1 if requirepass is set (takes the config's read lock). */
int cmd_password_set(void);
cmd_fn cmd_multi, cmd_exec, cmd_discard, cmd_watch, cmd_unwatch; /* multi.c */
cmd_fn cmd_subscribe, cmd_unsubscribe, cmd_psubscribe, cmd_punsubscribe, cmd_ssubscribe;
cmd_fn cmd_sunsubscribe, cmd_publish, cmd_spublish, cmd_pubsub; /* cmd_pubsub.c */
cmd_fn cmd_eval, cmd_evalsha, cmd_eval_ro, cmd_evalsha_ro, cmd_script, cmd_fcall;
cmd_fn cmd_fcall_ro, cmd_function; /* cmd_script.c */

#endif
