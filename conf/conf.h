/* conf — oxistore-server's configuration: the directive table, parsing of a redis.conf-style
 * file and of command-line "--directive value" overrides, CONFIG SET's checks and the text
 * of each value for CONFIG GET. Plain data and parsing: nothing here touches sockets or the
 * store.
 *
 * Rules:
 * - Syntax and messages are Redis 7.0's: one directive per line, split with sdssplitargs's
 *   quoting rules (resp_splitargs), '#' comment lines, directive names case-insensitive.
 *   A fatal error names the line as redis-server does ("Reading the configuration file, at
 *   line N", ">>> 'port \"abc\"'", "argument couldn't be parsed into an integer").
 * - Command-line arguments after the optional file name are turned into config lines the
 *   way redis-server does: "--name" starts a line, the arguments that follow are appended
 *   to it; they are applied after the file, so they override it.
 * - Memory sizes accept Redis's units (1k = 1000, 1kb = 1024, m/mb, g/gb); booleans
 *   yes/no; enums their listed words. Values are range-checked as Redis checks them.
 * - A conf is plain data owned by its creator; conf_free releases its strings. Not
 *   thread-safe: the server changes it on one thread and publishes what others read.
 */
#ifndef CONF_H
#define CONF_H

#include <stddef.h>

#define CONF_MAX_BIND 16

enum conf_fsync { CONF_FSYNC_ALWAYS, CONF_FSYNC_EVERYSEC, CONF_FSYNC_NO };
enum conf_loglevel { CONF_LOG_DEBUG, CONF_LOG_VERBOSE, CONF_LOG_NOTICE, CONF_LOG_WARNING };
/* enable-debug-command: who may run DEBUG (Redis's protected commands) */
enum conf_protected { CONF_PROTECTED_NO, CONF_PROTECTED_YES, CONF_PROTECTED_LOCAL };

typedef struct conf {
    /* network */
    char *bind[CONF_MAX_BIND]; /* "bind": addresses; a leading '-' marks one optional */
    int nbind;
    int bind_explicit;        /* bind was given (protected mode ignores it, as Redis 7.0) */
    int port;                 /* 0..65535, 0 = no TCP */
    int protected_mode;
    char *unixsocket;         /* NULL = none */
    int unixsocketperm;       /* octal mode, 0 = default */
    long long timeout;        /* idle seconds before closing a client, 0 = never */
    int tcp_keepalive;        /* seconds */
    int tcp_backlog;
    long long maxclients;
    int io_threads;           /* 0 = the number of cores minus one, at least 1 */
    /* data */
    char *dir;
    char *dbfilename;
    int databases;
    int appendfsync;          /* enum conf_fsync */
    long long map_size;       /* initial LMDB map size in bytes (grows by itself) */
    long long write_buffer_limit; /* memory of the write buffers (what is newer than the
                                     last checkpoint): writers wait past it */
    long long checkpoint_dirty_limit; /* memory of LMDB's copies of the pages one checkpoint
                                         changes (ox_options.dirty_limit) */
    int hz;                   /* active expiry cycles per second */
    /* limits */
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    long long client_output_normal_hard;  /* client-output-buffer-limit normal <hard> */
    long long client_output_normal_soft;  /* <soft> */
    long long client_output_normal_secs;  /* <soft seconds> */
    long long client_output_other[2][3];  /* [CONF_COBL_*][hard, soft, seconds]: replica (its
                                             hard limit: how far past repl-backlog-size the
                                             backlog keeps a replica's bytes), pubsub */
    long long max_key_len;    /* longest key accepted (bytes) */
    long long busy_reply_threshold; /* ms a script runs before others get -BUSY and SCRIPT
                                       KILL may end it; 0: never (lua-time-limit) */
    long long lua_memory_limit; /* bytes the Lua interpreter may hold (scripts, their data) */
    int zset_rank_fanout;     /* a sorted set's rank index (keyspace/zset_fmt.h): about this
                                 many entries per fence and level */
    /* replication (server/repl.c, server/replica.c) */
    char *replicaof_host;     /* "replicaof host port": the master to follow; NULL: none (a
                                 master). REPLICAOF changes it at run time */
    int replicaof_port;
    char *masterauth;         /* the password AUTH gives the master; NULL = none */
    char *masteruser;         /* the user AUTH names with it; NULL = none */
    int replica_read_only;    /* a replica refuses clients' writes (-READONLY) */
    int replica_serve_stale_data; /* a replica without its master still answers reads */
    int replica_priority;     /* Sentinel promotes the lowest non-zero first; 0: never */
    char *replica_announce_ip; /* what the master shows of this replica; NULL: its address */
    int replica_announce_port; /* 0: the listening port */
    long long repl_backlog_size; /* bytes of the replication stream kept for partial syncs */
    int repl_timeout;         /* seconds without a byte from the other side: link down */
    int min_replicas_to_write; /* writes refused (-NOREPLICAS) with fewer good replicas */
    int min_replicas_max_lag; /* seconds since a replica's last ACK for it to count */
    /* security */
    char *requirepass;        /* NULL = none */
    int enable_debug_command; /* enum conf_protected; default no, as Redis 7.0 */
    int notify_keyspace_events; /* enum conf_notify bits; 0 (none) by default */
    /* logging */
    int loglevel;             /* enum conf_loglevel */
    char *logfile;            /* "" = stderr */
    /* answered for compatibility, no effect */
    char *save;               /* "" or "<seconds> <changes> ...": checked as Redis checks it */
    int save_lines;           /* save directives applied (a file's later ones add pairs) */
    int appendonly;           /* "no": oxistore is always durable, there is no AOF */
    int daemonize;            /* only "no" is accepted */
    char errbuf[128];         /* a formatted reason (conf_apply, conf_set) lives here */
} conf;

/* client_output_other's classes. */
enum conf_cobl { CONF_COBL_REPLICA, CONF_COBL_PUBSUB };

/* notify-keyspace-events: Redis's NOTIFY_* bits (their letters in conf.c). */
enum conf_notify {
    CONF_NOTIFY_KEYSPACE = 1 << 0,  /* K */
    CONF_NOTIFY_KEYEVENT = 1 << 1,  /* E */
    CONF_NOTIFY_GENERIC = 1 << 2,   /* g */
    CONF_NOTIFY_STRING = 1 << 3,    /* $ */
    CONF_NOTIFY_LIST = 1 << 4,      /* l */
    CONF_NOTIFY_SET = 1 << 5,       /* s */
    CONF_NOTIFY_HASH = 1 << 6,      /* h */
    CONF_NOTIFY_ZSET = 1 << 7,      /* z */
    CONF_NOTIFY_EXPIRED = 1 << 8,   /* x */
    CONF_NOTIFY_EVICTED = 1 << 9,   /* e */
    CONF_NOTIFY_STREAM = 1 << 10,   /* t */
    CONF_NOTIFY_KEY_MISS = 1 << 11, /* m */
    CONF_NOTIFY_MODULE = 1 << 13,   /* d */
    CONF_NOTIFY_NEW = 1 << 14,      /* n */
    CONF_NOTIFY_ALL = CONF_NOTIFY_GENERIC | CONF_NOTIFY_STRING | CONF_NOTIFY_LIST |
                      CONF_NOTIFY_SET | CONF_NOTIFY_HASH | CONF_NOTIFY_ZSET |
                      CONF_NOTIFY_EXPIRED | CONF_NOTIFY_EVICTED | CONF_NOTIFY_STREAM |
                      CONF_NOTIFY_MODULE, /* A */
};

/* Fills c with the defaults (those of conf/oxistore.conf and Redis 7.0). Returns 0, or -1
 * when out of memory. */
int conf_init(conf *c);

/* Frees the strings c owns. c can be reused after conf_init. */
void conf_free(conf *c);

/* Loads the file at path (NULL: none) and then the command-line overrides argv[0..argc).
 * On error returns -1 and writes into err the whole message redis-server would print after
 * "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n" (several lines, no trailing newline). */
int conf_load(conf *c, const char *path, int argc, char **argv, char *err, size_t errlen);

/* Applies one directive: argv[0] is its name, argv[1..argc) its arguments. Returns 0, or
 * -1 with *why set to Redis's reason ("Bad directive or wrong number of arguments", ...;
 * static storage or c->errbuf, valid until the next call on c). */
int conf_apply(conf *c, int argc, char **argv, const char **why);

/* Sets replicaof (REPLICAOF at run time): host NULL makes the server a master. 0, or -1
 * when out of memory (nothing changed). */
int conf_set_replicaof(conf *c, const char *host, int port);

/* ---- CONFIG GET / SET ------------------------------------------------------------------ */

/* Number of directives CONFIG GET can show; their indexes are 0..conf_count()-1. */
size_t conf_count(void);

/* Name of directive i (lower case, static). */
const char *conf_name(size_t i);

/* Index of the directive called name (case-insensitive), or -1. */
int conf_find(const char *name, size_t len);

/* Writes directive i's value as CONFIG GET shows it into buf (NUL-terminated, truncated to
 * cap). Returns its length. */
size_t conf_format(const conf *c, size_t i, char *buf, size_t cap);

/* CONFIG SET of directive i to value. Returns 0, or -1 with *why the reason redis-server
 * gives after "ERR CONFIG SET failed (possibly related to argument 'x') - ": "can't set
 * immutable config", "can't set protected config", or the parse error (static storage or
 * c->errbuf). On error c is unchanged. Strings are copied. */
int conf_set(conf *c, size_t i, const char *value, size_t len, const char **why);

/* CONFIG REWRITE: rewrites the config file at path to hold c's values as Redis 7.0 does:
 * each directive's lines take the places of the file's own lines for it (its other lines
 * become blank), comments and unknown lines stay where they are, and the directives that
 * differ from their defaults and were not in the file are appended after a "# Generated
 * by CONFIG REWRITE" line. The file is replaced whole (a new file, synced, renamed over
 * it). 0, or -1 with Redis's message ("Rewriting config file: <reason>") in err. */
int conf_rewrite(const conf *c, const char *path, char *err, size_t errlen);

#endif
