/* conf.c — the directive table and its parsing, with redis-server 7.0's rules and texts
 * (config.c): typed values, range checks, memory units, the config file and command-line
 * overrides, CONFIG GET/SET. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "conf.h"
#include "resp.h"

enum conf_type { T_BOOL, T_INT, T_LL, T_MEM, T_OCTAL, T_STR, T_ENUM, T_BIND, T_COBL, T_SAVE,
                 T_NOTIFY, T_REPLICAOF };
enum conf_flags {
    F_IMMUTABLE = 1, /* fixed at start: "can't set immutable config" */
    F_PROTECTED = 2, /* Redis refuses CONFIG SET unless enable-protected-configs */
    F_NULLABLE = 4,  /* T_STR: "" means none (NULL) */
    F_ALIAS = 8,     /* another name of the row before it (CONFIG REWRITE writes that one) */
};

typedef struct conf_def {
    const char *name;
    int type;
    unsigned flags;
    size_t off;               /* offset of the field in conf */
    long long min, max;       /* numeric bounds, inclusive */
    const char *const *words; /* T_ENUM: words in Redis's order; the value is the index */
} conf_def;

static const char *const fsync_words[] = {"always", "everysec", "no", NULL};
/* Redis lists appendfsync's words in this order in its error text. */
static const char *const fsync_words_redis_order = "everysec, always, no";
static const char *const loglevel_words[] = {"debug", "verbose", "notice", "warning", NULL};
static const char *const protected_words[] = {"no", "yes", "local", NULL};

#define F(field) offsetof(conf, field)
static const conf_def conf_defs[] = {
    {"bind", T_BIND, 0, F(bind), 0, 0, NULL},
    {"port", T_INT, 0, F(port), 0, 65535, NULL},
    {"protected-mode", T_BOOL, 0, F(protected_mode), 0, 1, NULL},
    {"unixsocket", T_STR, F_IMMUTABLE | F_NULLABLE, F(unixsocket), 0, 0, NULL},
    {"unixsocketperm", T_OCTAL, F_IMMUTABLE, F(unixsocketperm), 0, 0777, NULL},
    {"timeout", T_LL, 0, F(timeout), 0, INT_MAX, NULL},
    {"tcp-keepalive", T_INT, 0, F(tcp_keepalive), 0, INT_MAX, NULL},
    {"tcp-backlog", T_INT, F_IMMUTABLE, F(tcp_backlog), 0, INT_MAX, NULL},
    {"maxclients", T_LL, 0, F(maxclients), 1, UINT_MAX, NULL},
    {"io-threads", T_INT, F_IMMUTABLE, F(io_threads), 0, 128, NULL},
    {"dir", T_STR, F_PROTECTED, F(dir), 0, 0, NULL},
    {"dbfilename", T_STR, F_PROTECTED, F(dbfilename), 0, 0, NULL},
    {"databases", T_INT, F_IMMUTABLE, F(databases), 1, INT_MAX, NULL},
    {"appendfsync", T_ENUM, 0, F(appendfsync), 0, 0, fsync_words},
    {"map-size", T_MEM, F_IMMUTABLE, F(map_size), 1 << 20, LLONG_MAX, NULL},
    {"write-buffer-limit", T_MEM, F_IMMUTABLE, F(write_buffer_limit), 1 << 20, LLONG_MAX, NULL},
    {"checkpoint-dirty-limit", T_MEM, F_IMMUTABLE, F(checkpoint_dirty_limit), 1 << 20, LLONG_MAX,
     NULL},
    {"hz", T_INT, 0, F(hz), 0, INT_MAX, NULL},
    {"proto-max-bulk-len", T_MEM, 0, F(proto_max_bulk_len), 1 << 20, LLONG_MAX, NULL},
    {"client-query-buffer-limit", T_MEM, 0, F(client_query_buffer_limit), 1 << 20, LLONG_MAX,
     NULL},
    {"client-output-buffer-limit", T_COBL, 0, 0, 0, 0, NULL},
    {"max-key-len", T_MEM, 0, F(max_key_len), 1, LLONG_MAX, NULL},
    {"requirepass", T_STR, F_NULLABLE, F(requirepass), 0, 0, NULL},
    /* replication: Redis 7.0's names, each followed by its older "slave" name */
    {"replicaof", T_REPLICAOF, F_IMMUTABLE, 0, 0, 0, NULL},
    {"slaveof", T_REPLICAOF, F_IMMUTABLE | F_ALIAS, 0, 0, 0, NULL},
    {"masterauth", T_STR, F_NULLABLE, F(masterauth), 0, 0, NULL},
    {"masteruser", T_STR, F_NULLABLE, F(masteruser), 0, 0, NULL},
    {"replica-read-only", T_BOOL, 0, F(replica_read_only), 0, 1, NULL},
    {"slave-read-only", T_BOOL, F_ALIAS, F(replica_read_only), 0, 1, NULL},
    {"replica-serve-stale-data", T_BOOL, 0, F(replica_serve_stale_data), 0, 1, NULL},
    {"slave-serve-stale-data", T_BOOL, F_ALIAS, F(replica_serve_stale_data), 0, 1, NULL},
    {"replica-priority", T_INT, 0, F(replica_priority), 0, INT_MAX, NULL},
    {"slave-priority", T_INT, F_ALIAS, F(replica_priority), 0, INT_MAX, NULL},
    {"replica-announce-ip", T_STR, F_NULLABLE, F(replica_announce_ip), 0, 0, NULL},
    {"slave-announce-ip", T_STR, F_NULLABLE | F_ALIAS, F(replica_announce_ip), 0, 0, NULL},
    {"replica-announce-port", T_INT, 0, F(replica_announce_port), 0, 65535, NULL},
    {"slave-announce-port", T_INT, F_ALIAS, F(replica_announce_port), 0, 65535, NULL},
    {"repl-backlog-size", T_MEM, 0, F(repl_backlog_size), 1, LLONG_MAX, NULL},
    {"repl-timeout", T_INT, 0, F(repl_timeout), 1, INT_MAX, NULL},
    {"min-replicas-to-write", T_INT, 0, F(min_replicas_to_write), 0, INT_MAX, NULL},
    {"min-slaves-to-write", T_INT, F_ALIAS, F(min_replicas_to_write), 0, INT_MAX, NULL},
    {"min-replicas-max-lag", T_INT, 0, F(min_replicas_max_lag), 0, INT_MAX, NULL},
    {"min-slaves-max-lag", T_INT, F_ALIAS, F(min_replicas_max_lag), 0, INT_MAX, NULL},
    {"loglevel", T_ENUM, 0, F(loglevel), 0, 0, loglevel_words},
    {"logfile", T_STR, F_IMMUTABLE, F(logfile), 0, 0, NULL},
    {"save", T_SAVE, 0, F(save), 0, 0, NULL},
    {"notify-keyspace-events", T_NOTIFY, 0, F(notify_keyspace_events), 0, 0, NULL},
    /* lua-time-limit is Redis 7.0's older name of busy-reply-threshold: one value */
    {"busy-reply-threshold", T_LL, 0, F(busy_reply_threshold), 0, LLONG_MAX, NULL},
    {"lua-time-limit", T_LL, F_ALIAS, F(busy_reply_threshold), 0, LLONG_MAX, NULL},
    {"lua-memory-limit", T_MEM, 0, F(lua_memory_limit), 1 << 20, LLONG_MAX, NULL},
    {"zset-rank-fanout", T_INT, 0, F(zset_rank_fanout), 2, 65536, NULL},
    {"appendonly", T_BOOL, 0, F(appendonly), 0, 1, NULL},
    {"daemonize", T_BOOL, F_IMMUTABLE, F(daemonize), 0, 0, NULL},
    {"enable-debug-command", T_ENUM, F_IMMUTABLE, F(enable_debug_command), 0, 0,
     protected_words},
};
#undef F
#define NDEFS (sizeof conf_defs / sizeof conf_defs[0])

static const char *const cobl_classes[3] = {"normal", "slave", "pubsub"};

#define FIELD(c, d, type) ((type *)((char *)(c) + (d)->off))

/* ---- values -------------------------------------------------------------------------- */

/* As Redis's memtoull: digits then an optional unit (b, k, kb, m, mb, g, gb). */
static int parse_mem(const char *s, size_t len, long long *out)
{
    char buf[64];
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (buf[0] == '-')
        return -1;
    char *u = buf;
    while (*u && isdigit((unsigned char)*u))
        u++;
    unsigned long long mul;
    if (*u == '\0' || !strcasecmp(u, "b"))
        mul = 1;
    else if (!strcasecmp(u, "k"))
        mul = 1000;
    else if (!strcasecmp(u, "kb"))
        mul = 1024;
    else if (!strcasecmp(u, "m"))
        mul = 1000 * 1000;
    else if (!strcasecmp(u, "mb"))
        mul = 1024 * 1024;
    else if (!strcasecmp(u, "g"))
        mul = 1000ULL * 1000 * 1000;
    else if (!strcasecmp(u, "gb"))
        mul = 1024ULL * 1024 * 1024;
    else
        return -1;
    *u = '\0';
    errno = 0;
    unsigned long long v = strtoull(buf, NULL, 10);
    if (errno == ERANGE || (v && mul > ULLONG_MAX / v))
        return -1;
    *out = (long long)(v * mul); /* as Redis: the unsigned value seen as signed */
    return 0;
}

/* As Redis's string2ll: strict decimal. */
static int parse_ll(const char *s, size_t len, long long *out)
{
    char buf[32], *end;
    if (len == 0 || len >= sizeof buf || s[0] == '+' || isspace((unsigned char)s[0]) ||
        (len > 1 && s[0] == '0') || (len > 2 && s[0] == '-' && s[1] == '0') ||
        (len == 2 && s[0] == '-' && s[1] == '0'))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static const char *range_error(conf *c, const conf_def *d)
{
    snprintf(c->errbuf, sizeof c->errbuf, "argument must be between %lld and %lld inclusive",
             d->min, d->max);
    return c->errbuf;
}

/* notify-keyspace-events' letters and their bits, in the order Redis writes them back. */
static const struct {
    char letter;
    int bits;
} notify_letters[] = {
    {'g', CONF_NOTIFY_GENERIC}, {'$', CONF_NOTIFY_STRING}, {'l', CONF_NOTIFY_LIST},
    {'s', CONF_NOTIFY_SET}, {'h', CONF_NOTIFY_HASH}, {'z', CONF_NOTIFY_ZSET},
    {'x', CONF_NOTIFY_EXPIRED}, {'e', CONF_NOTIFY_EVICTED}, {'t', CONF_NOTIFY_STREAM},
    {'d', CONF_NOTIFY_MODULE}, {'n', CONF_NOTIFY_NEW}, {'K', CONF_NOTIFY_KEYSPACE},
    {'E', CONF_NOTIFY_KEYEVENT}, {'m', CONF_NOTIFY_KEY_MISS}, {'A', CONF_NOTIFY_ALL},
};
#define NOTIFY_LETTERS (sizeof notify_letters / sizeof notify_letters[0])

/* Redis's keyspaceEventsStringToFlags. -1 for a letter it does not know. */
static long long notify_parse(const char *v, size_t len)
{
    long long bits = 0;
    for (size_t i = 0; i < len; i++) {
        size_t k = 0;
        while (k < NOTIFY_LETTERS && notify_letters[k].letter != v[i])
            k++;
        if (k == NOTIFY_LETTERS)
            return -1;
        bits |= notify_letters[k].bits;
    }
    return bits;
}

/* Redis's keyspaceEventsFlagsToString: "A" for every class (then no "n", as Redis), else
 * the class letters; then K, E and m. */
static int notify_format(int bits, char *buf, size_t cap)
{
    char s[24];
    size_t n = 0;
    for (size_t k = 0; k < NOTIFY_LETTERS; k++) {
        char l = notify_letters[k].letter;
        int class = !strchr("KEmA", l);
        if (class && (bits & CONF_NOTIFY_ALL) == CONF_NOTIFY_ALL)
            continue;
        if (l == 'K' && (bits & CONF_NOTIFY_ALL) == CONF_NOTIFY_ALL)
            s[n++] = 'A';
        if (l != 'A' && (bits & notify_letters[k].bits))
            s[n++] = l;
    }
    s[n] = '\0';
    return snprintf(buf, cap, "%s", s);
}

/* Parses one value for d into *num or *str (a new copy). NULL, or the reason. */
static const char *parse_value(conf *c, const conf_def *d, const char *v, size_t len,
                               long long *num, char **str)
{
    switch (d->type) {
    case T_BOOL:
        if (len == 3 && !strncasecmp(v, "yes", 3))
            *num = 1;
        else if (len == 2 && !strncasecmp(v, "no", 2))
            *num = 0;
        else
            return "argument must be 'yes' or 'no'";
        if (d->max == 0 && *num) /* daemonize: only "no" */
            return "oxistore does not daemonize: run it under a supervisor";
        return NULL;
    case T_INT:
    case T_LL:
        if (parse_ll(v, len, num))
            return "argument couldn't be parsed into an integer";
        return *num < d->min || *num > d->max ? range_error(c, d) : NULL;
    case T_OCTAL: {
        char buf[16], *end;
        if (len == 0 || len >= sizeof buf)
            return "argument couldn't be parsed as an octal number";
        memcpy(buf, v, len);
        buf[len] = '\0';
        errno = 0;
        *num = strtoll(buf, &end, 8);
        if (errno || *end || buf[0] == '-')
            return "argument couldn't be parsed as an octal number";
        return *num < d->min || *num > d->max ? range_error(c, d) : NULL;
    }
    case T_MEM:
        if (parse_mem(v, len, num))
            return "argument must be a memory value";
        return *num < d->min || *num > d->max ? range_error(c, d) : NULL;
    case T_ENUM:
        for (int i = 0; d->words[i]; i++) {
            if (strlen(d->words[i]) == len && !strncasecmp(v, d->words[i], len)) {
                *num = i;
                return NULL;
            }
        }
        if (d->words == fsync_words) {
            snprintf(c->errbuf, sizeof c->errbuf,
                     "argument(s) must be one of the following: %s", fsync_words_redis_order);
        } else {
            int n = snprintf(c->errbuf, sizeof c->errbuf,
                             "argument(s) must be one of the following: ");
            for (int i = 0; d->words[i] && n > 0 && (size_t)n < sizeof c->errbuf; i++)
                n += snprintf(c->errbuf + n, sizeof c->errbuf - (size_t)n, "%s%s",
                              i ? ", " : "", d->words[i]);
        }
        return c->errbuf;
    case T_NOTIFY:
        if ((*num = notify_parse(v, len)) < 0)
            return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
        return NULL;
    case T_STR:
        if (len == 0 && (d->flags & F_NULLABLE)) {
            *str = NULL;
            return NULL;
        }
        if (!(*str = strndup(v, len)))
            return "out of memory";
        return NULL;
    }
    return "Bad directive or wrong number of arguments";
}

static void store_value(conf *c, const conf_def *d, long long num, char *str)
{
    switch (d->type) {
    case T_BOOL:
    case T_INT:
    case T_OCTAL:
    case T_ENUM:
    case T_NOTIFY:
        *FIELD(c, d, int) = (int)num;
        break;
    case T_LL:
    case T_MEM:
        *FIELD(c, d, long long) = num;
        break;
    case T_STR:
        free(*FIELD(c, d, char *));
        *FIELD(c, d, char *) = str;
        break;
    }
}

/* replicaof host port, or replicaof no one (Redis's replicationSetMaster's arguments). */
static const char *apply_replicaof(conf *c, int argc, char **argv)
{
    if (argc != 2)
        return "wrong number of arguments";
    if (!strcasecmp(argv[0], "no") && !strcasecmp(argv[1], "one")) {
        conf_set_replicaof(c, NULL, 0);
        return NULL;
    }
    long long port;
    if (parse_ll(argv[1], strlen(argv[1]), &port) || port < 0 || port > 65535)
        return "Invalid master port";
    return conf_set_replicaof(c, argv[0], (int)port) ? "out of memory" : NULL;
}

/* bind: 1..CONF_MAX_BIND addresses. On success replaces the list. */
static const char *apply_bind(conf *c, int argc, char **argv)
{
    char *copy[CONF_MAX_BIND];
    if (argc < 1 || argc > CONF_MAX_BIND)
        return "Too many bind addresses specified.";
    for (int i = 0; i < argc; i++) {
        if (!(copy[i] = strdup(argv[i]))) {
            while (i--)
                free(copy[i]);
            return "out of memory";
        }
    }
    for (int i = 0; i < c->nbind; i++)
        free(c->bind[i]);
    memcpy(c->bind, copy, (size_t)argc * sizeof *copy);
    c->nbind = argc;
    c->bind_explicit = 1;
    return NULL;
}

/* client-output-buffer-limit <class> <hard> <soft> <seconds> [<class> …]: all or nothing. */
static const char *apply_cobl(conf *c, int argc, char **argv)
{
    long long v[3][3];
    int set[3] = {0, 0, 0};
    if (argc == 0 || argc % 4)
        return "Wrong number of arguments in buffer limit configuration.";
    for (int i = 0; i < argc; i += 4) {
        int cls = -1;
        for (int k = 0; k < 3; k++)
            if (!strcasecmp(argv[i], cobl_classes[k]) ||
                (k == 1 && !strcasecmp(argv[i], "replica")))
                cls = k;
        if (cls < 0)
            return "Invalid client class specified in buffer limit configuration.";
        for (int k = 0; k < 3; k++) {
            if (parse_mem(argv[i + 1 + k], strlen(argv[i + 1 + k]), &v[cls][k]) ||
                (k == 2 && parse_ll(argv[i + 3], strlen(argv[i + 3]), &v[cls][2])) ||
                v[cls][k] < 0)
                return "Error in hard, soft or soft_seconds setting in buffer limit "
                       "configuration.";
        }
        set[cls] = 1;
    }
    if (set[0]) {
        c->client_output_normal_hard = v[0][0];
        c->client_output_normal_soft = v[0][1];
        c->client_output_normal_secs = v[0][2];
    }
    for (int k = 1; k < 3; k++)
        if (set[k])
            memcpy(c->client_output_other[k - 1], v[k], sizeof v[k]);
    return NULL;
}

/* save: <seconds> <changes> pairs, seconds >= 1 and changes >= 0, checked as Redis's
 * setConfigSaveOption checks them (strtoll, the whole argument); a lone "" is none. The
 * pairs are appended to c->save with append != 0 (a config file's later save lines), else
 * replace it. Nothing changes on error. */
static const char *apply_save(conf *c, int argc, char **argv, int append)
{
    if (argc == 1 && !argv[0][0]) {
        argc = 0;
        append = 0;
    }
    if (argc & 1)
        return "Invalid save parameters";
    size_t have = append && c->save ? strlen(c->save) : 0, n = have;
    char *out = malloc(have + (size_t)argc * 22 + 1);
    if (!out)
        return "out of memory";
    memcpy(out, have ? c->save : "", have + 1);
    for (int j = 0; j < argc; j++) {
        char *end;
        long long v = strtoll(argv[j], &end, 10);
        if (*end || v < (j & 1 ? 0 : 1)) {
            free(out);
            return "Invalid save parameters";
        }
        n += (size_t)sprintf(out + n, "%s%lld", n ? " " : "", v);
    }
    free(c->save);
    c->save = out;
    return NULL;
}

/* CONFIG SET save: the value split at each space, as Redis splits a multi-argument
 * config's value (so "  1 2" has empty arguments, which are not numbers). */
static int apply_save_split(conf *c, const char *value, size_t len, const char **why)
{
    char *copy = strndup(value, len);
    char **argv = calloc(len + 2, sizeof *argv);
    int argc = 0;
    *why = "out of memory";
    if (copy && argv) {
        for (char *p = copy, *sp; len; p = sp + 1) {
            argv[argc++] = p;
            if (!(sp = strchr(p, ' ')))
                break;
            *sp = '\0';
        }
        *why = apply_save(c, argc, argv, 0);
    }
    free(argv);
    free(copy);
    return *why ? -1 : 0;
}

/* bind and client-output-buffer-limit take several arguments; given as one string (CONFIG
 * SET, or one quoted argument in the file or on the command line) it is split as Redis
 * splits it. */
static int apply_multi(conf *c, const conf_def *d, int argc, char **argv, const char **why)
{
    *why = d->type == T_BIND ? apply_bind(c, argc, argv) : apply_cobl(c, argc, argv);
    return *why ? -1 : 0;
}

static int apply_multi_split(conf *c, const conf_def *d, const char *value, size_t len,
                             const char **why)
{
    char *copy = strndup(value, len);
    long n = copy ? resp_splitargs(copy, len, NULL) : -1;
    if (!copy || n < 0) {
        free(copy);
        *why = copy ? "Unbalanced quotes in configuration line" : "out of memory";
        return -1;
    }
    resp_arg *args = calloc((size_t)n + 1, sizeof *args);
    char **argv = calloc((size_t)n + 1, sizeof *argv);
    int rc = -1;
    *why = "out of memory";
    if (args && argv) {
        resp_splitargs(copy, len, args);
        int ok = 1;
        for (long k = 0; k < n && ok; k++)
            ok = (argv[k] = strndup(args[k].ptr, args[k].len)) != NULL;
        if (ok)
            rc = apply_multi(c, d, (int)n, argv, why);
        for (long k = 0; k < n; k++)
            free(argv[k]);
    }
    free(argv);
    free(args);
    free(copy);
    return rc;
}

/* ---- public -------------------------------------------------------------------------- */

int conf_init(conf *c)
{
    memset(c, 0, sizeof *c);
    c->port = 6379;
    c->protected_mode = 1;
    c->tcp_keepalive = 300;
    c->tcp_backlog = 511;
    c->maxclients = 10000;
    c->databases = 16;
    c->appendfsync = CONF_FSYNC_ALWAYS;
    c->map_size = 64LL << 20;
    c->write_buffer_limit = 64LL << 20;
    c->checkpoint_dirty_limit = 64LL << 20;
    c->hz = 10;
    c->proto_max_bulk_len = 512LL << 20;
    c->client_query_buffer_limit = 1LL << 30;
    c->client_output_other[0][0] = 256LL << 20;
    c->client_output_other[0][1] = 64LL << 20;
    c->client_output_other[0][2] = 60;
    c->client_output_other[1][0] = 32LL << 20;
    c->client_output_other[1][1] = 8LL << 20;
    c->client_output_other[1][2] = 60;
    c->max_key_len = 512LL << 20;
    c->busy_reply_threshold = 5000;
    c->lua_memory_limit = 256LL << 20;
    c->zset_rank_fanout = 32;
    c->replica_read_only = 1;
    c->replica_serve_stale_data = 1;
    c->replica_priority = 100;
    c->repl_backlog_size = 1LL << 20;
    c->repl_timeout = 60;
    c->min_replicas_max_lag = 10;
    c->loglevel = CONF_LOG_NOTICE;
    c->bind[0] = strdup("127.0.0.1");
    c->bind[1] = strdup("-::1");
    c->nbind = 2;
    c->dir = strdup("./data");
    c->dbfilename = strdup("oxistore.mdb");
    c->logfile = strdup("");
    c->save = strdup("");
    if (!c->bind[0] || !c->bind[1] || !c->dir || !c->dbfilename || !c->logfile || !c->save) {
        conf_free(c);
        return -1;
    }
    return 0;
}

void conf_free(conf *c)
{
    for (int i = 0; i < c->nbind; i++)
        free(c->bind[i]);
    c->nbind = 0;
    conf_set_replicaof(c, NULL, 0);
    for (size_t i = 0; i < NDEFS; i++) {
        if (conf_defs[i].type == T_STR || conf_defs[i].type == T_SAVE) {
            free(*FIELD(c, &conf_defs[i], char *));
            *FIELD(c, &conf_defs[i], char *) = NULL;
        }
    }
}

size_t conf_count(void)
{
    return NDEFS;
}

const char *conf_name(size_t i)
{
    return i < NDEFS ? conf_defs[i].name : NULL;
}

int conf_find(const char *name, size_t len)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (strlen(conf_defs[i].name) == len && !strncasecmp(conf_defs[i].name, name, len))
            return (int)i;
    return -1;
}

int conf_apply(conf *c, int argc, char **argv, const char **why)
{
    int i = argc > 0 ? conf_find(argv[0], strlen(argv[0])) : -1;
    if (i < 0) {
        *why = "Bad directive or wrong number of arguments";
        return -1;
    }
    const conf_def *d = &conf_defs[i];
    if (d->type == T_SAVE) { /* each save line of a file or command line adds its pairs */
        *why = apply_save(c, argc - 1, argv + 1, c->save_lines++ > 0);
        return *why ? -1 : 0;
    }
    if (d->type == T_REPLICAOF) {
        *why = apply_replicaof(c, argc - 1, argv + 1);
        return *why ? -1 : 0;
    }
    if (d->type == T_BIND || d->type == T_COBL) {
        /* Redis 7.0 splits a lone non-empty argument of a multi-argument directive. */
        if (argc == 2 && argv[1][0])
            return apply_multi_split(c, d, argv[1], strlen(argv[1]), why);
        return apply_multi(c, d, argc - 1, argv + 1, why);
    }
    if (argc != 2) {
        *why = "wrong number of arguments";
        return -1;
    }
    long long num = 0;
    char *str = NULL;
    if ((*why = parse_value(c, d, argv[1], strlen(argv[1]), &num, &str)))
        return -1;
    store_value(c, d, num, str);
    return 0;
}

int conf_set(conf *c, size_t i, const char *value, size_t len, const char **why)
{
    if (i >= NDEFS) {
        *why = "Bad directive or wrong number of arguments";
        return -1;
    }
    const conf_def *d = &conf_defs[i];
    if (d->flags & F_IMMUTABLE) {
        *why = "can't set immutable config";
        return -1;
    }
    if (d->flags & F_PROTECTED) {
        *why = "can't set protected config";
        return -1;
    }
    if (d->type == T_SAVE)
        return apply_save_split(c, value, len, why);
    if (d->type == T_BIND || d->type == T_COBL)
        return apply_multi_split(c, d, value, len, why);
    long long num = 0;
    char *str = NULL;
    if ((*why = parse_value(c, d, value, len, &num, &str)))
        return -1;
    store_value(c, d, num, str);
    return 0;
}

size_t conf_format(const conf *c, size_t i, char *buf, size_t cap)
{
    if (i >= NDEFS || cap == 0)
        return 0;
    const conf_def *d = &conf_defs[i];
    int n = 0;
    switch (d->type) {
    case T_BOOL:
        n = snprintf(buf, cap, "%s", *FIELD(c, d, const int) ? "yes" : "no");
        break;
    case T_INT:
        n = snprintf(buf, cap, "%d", *FIELD(c, d, const int));
        break;
    case T_OCTAL:
        n = snprintf(buf, cap, "%o", (unsigned)*FIELD(c, d, const int));
        break;
    case T_LL:
    case T_MEM:
        n = snprintf(buf, cap, "%lld", *FIELD(c, d, const long long));
        break;
    case T_ENUM:
        n = snprintf(buf, cap, "%s", d->words[*FIELD(c, d, const int)]);
        break;
    case T_NOTIFY:
        n = notify_format(*FIELD(c, d, const int), buf, cap);
        break;
    case T_STR:
    case T_SAVE: {
        const char *s = *FIELD(c, d, char *const);
        n = snprintf(buf, cap, "%s", s ? s : "");
        break;
    }
    case T_BIND:
        buf[0] = '\0';
        for (int k = 0; k < c->nbind && n >= 0 && (size_t)n < cap; k++)
            n += snprintf(buf + n, cap - (size_t)n, "%s%s", k ? " " : "", c->bind[k]);
        break;
    case T_REPLICAOF:
        n = c->replicaof_host ? snprintf(buf, cap, "%s %d", c->replicaof_host, c->replicaof_port)
                              : snprintf(buf, cap, "%s", "");
        break;
    case T_COBL:
        n = snprintf(buf, cap, "normal %lld %lld %lld slave %lld %lld %lld pubsub %lld %lld %lld",
                     c->client_output_normal_hard, c->client_output_normal_soft,
                     c->client_output_normal_secs, c->client_output_other[0][0],
                     c->client_output_other[0][1], c->client_output_other[0][2],
                     c->client_output_other[1][0], c->client_output_other[1][1],
                     c->client_output_other[1][2]);
        break;
    }
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* ---- loading ------------------------------------------------------------------------- */

/* Appends to *s (growing it) as sdscatrepr does: "..." with \\ \" \n \r \t \a \b and \xHH. */
static int cat_repr(char **s, size_t *len, size_t *cap, const char *p)
{
    for (size_t need = *len + strlen(p) * 4 + 4; need >= *cap;) {
        size_t nc = *cap ? *cap * 2 : 256;
        char *n = realloc(*s, nc);
        if (!n)
            return -1;
        *s = n;
        *cap = nc;
    }
    char *o = *s + *len;
    *o++ = '"';
    for (; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        switch (ch) {
        case '\\': case '"': *o++ = '\\'; *o++ = (char)ch; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        case '\a': *o++ = '\\'; *o++ = 'a'; break;
        case '\b': *o++ = '\\'; *o++ = 'b'; break;
        default:
            if (isprint(ch))
                *o++ = (char)ch;
            else
                o += sprintf(o, "\\x%02x", ch);
        }
    }
    *o++ = '"';
    *o = '\0';
    *len = (size_t)(o - *s);
    return 0;
}

static int cat_raw(char **s, size_t *len, size_t *cap, const char *p, size_t n)
{
    while (*len + n + 1 >= *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        char *m = realloc(*s, nc);
        if (!m)
            return -1;
        *s = m;
        *cap = nc;
    }
    memcpy(*s + *len, p, n);
    *len += n;
    (*s)[*len] = '\0';
    return 0;
}

/* Applies every line of text (modified in place), reporting the first error as Redis. */
static int load_text(conf *c, char *text, char *err, size_t errlen)
{
    int lineno = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        /* sdstrim(line, " \t\r\n") */
        while (*line == ' ' || *line == '\t' || *line == '\r')
            line++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        char shown[512];
        snprintf(shown, sizeof shown, "%s", line);
        const char *why = NULL;
        long n = resp_splitargs(line, len, NULL);
        if (n < 0) {
            why = "Unbalanced quotes in configuration line";
        } else if (n > 0) {
            resp_arg *args = calloc((size_t)n, sizeof *args);
            char **argv = calloc((size_t)n + 1, sizeof *argv);
            if (!args || !argv) {
                why = "out of memory";
            } else {
                resp_splitargs(line, len, args);
                int ok = 1;
                for (long k = 0; k < n && ok; k++)
                    ok = (argv[k] = strndup(args[k].ptr, args[k].len)) != NULL;
                if (!ok)
                    why = "out of memory";
                else if (conf_apply(c, (int)n, argv, &why) == 0)
                    why = NULL;
                for (long k = 0; k < n; k++)
                    free(argv[k]);
            }
            free(args);
            free(argv);
        }
        if (why) {
            snprintf(err, errlen, "Reading the configuration file, at line %d\n>>> '%s'\n%s",
                     lineno, shown, why);
            return -1;
        }
    }
    return 0;
}

int conf_load(conf *c, const char *path, int argc, char **argv, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    if (errlen)
        err[0] = '\0';
    if (path) {
        FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
        if (!f) {
            snprintf(err, errlen, "Fatal error, can't open config file '%s': %s", path,
                     strerror(errno));
            return -1;
        }
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            if (cat_raw(&text, &len, &cap, buf, n))
                break;
        if (f != stdin)
            fclose(f);
    }
    /* The command line becomes config text after the file, as redis-server builds it:
     * "--name" starts a line, each argument after it is appended quoted. */
    char *opts = NULL;
    size_t olen = 0, ocap = 0;
    for (int i = 0; i < argc; i++) {
        int bad;
        if (argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2]) {
            bad = (olen && cat_raw(&opts, &olen, &ocap, "\n", 1)) ||
                  cat_raw(&opts, &olen, &ocap, argv[i] + 2, strlen(argv[i] + 2)) ||
                  cat_raw(&opts, &olen, &ocap, " ", 1);
        } else {
            bad = cat_repr(&opts, &olen, &ocap, argv[i]) || cat_raw(&opts, &olen, &ocap, " ", 1);
        }
        if (bad)
            goto out;
    }
    if (opts && (cat_raw(&text, &len, &cap, "\n", 1) || cat_raw(&text, &len, &cap, opts, olen)))
        goto out;
    rc = text ? load_text(c, text, err, errlen) : 0;
out:
    if (rc && !err[0])
        snprintf(err, errlen, "out of memory");
    free(text);
    free(opts);
    return rc;
}

/* ---- CONFIG REWRITE ------------------------------------------------------------------ */

#define REWRITE_MARK "# Generated by CONFIG REWRITE"

/* Lines of a file, each with whether it must be written even where the file lacks it. */
typedef struct lines {
    char **v;
    unsigned char *force;
    int *owner;     /* the file's lines: the directive (canonical row) each sets, or -1 */
    size_t n, cap;
} lines;

static int lines_add(lines *l, char *s, int force, int owner)
{
    if (!s)
        return -1;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 32;
        char **v = realloc(l->v, nc * sizeof *v);
        if (v)
            l->v = v;
        unsigned char *f = realloc(l->force, nc);
        if (f)
            l->force = f;
        int *o = realloc(l->owner, nc * sizeof *o);
        if (o)
            l->owner = o;
        if (!v || !f || !o) {
            free(s);
            return -1;
        }
        l->cap = nc;
    }
    l->v[l->n] = s;
    l->force[l->n] = (unsigned char)force;
    l->owner[l->n++] = owner;
    return 0;
}

static void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    free(l->force);
    free(l->owner);
    memset(l, 0, sizeof *l);
}

/* As Redis's rewriteConfigFormatMemory: the largest unit that divides it. */
static void format_mem(char *buf, size_t cap, long long v)
{
    static const struct { long long unit; const char *name; } u[] = {
        {1LL << 30, "gb"}, {1LL << 20, "mb"}, {1LL << 10, "kb"}};
    for (size_t i = 0; i < 3; i++) {
        if (v > 0 && v % u[i].unit == 0) {
            snprintf(buf, cap, "%lld%s", v / u[i].unit, u[i].name);
            return;
        }
    }
    snprintf(buf, cap, "%lld", v);
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (s) {
        memcpy(s, a, la);
        s[la] = ' ';
        memcpy(s + la + 1, b, lb + 1);
    }
    return s;
}

static char *quoted(const char *name, const char *value)
{
    char *s = NULL;
    size_t len = 0, cap = 0;
    if (cat_raw(&s, &len, &cap, name, strlen(name)) || cat_raw(&s, &len, &cap, " ", 1) ||
        cat_repr(&s, &len, &cap, value)) {
        free(s);
        return NULL;
    }
    return s;
}

/* client-output-buffer-limit's classes (normal, replica, pubsub): hard, soft, seconds. */
static void cobl_values(const conf *c, long long v[3][3])
{
    v[0][0] = c->client_output_normal_hard;
    v[0][1] = c->client_output_normal_soft;
    v[0][2] = c->client_output_normal_secs;
    memcpy(v[1], c->client_output_other, sizeof c->client_output_other);
}

/* The lines directive i takes in a file as Redis's CONFIG REWRITE writes them, each
 * forced when it differs from def's (the defaults). */
static int option_lines(const conf *c, const conf *def, size_t i, lines *out)
{
    const conf_def *d = &conf_defs[i];
    char val[1024], dval[1024];
    conf_format(c, i, val, sizeof val);
    conf_format(def, i, dval, sizeof dval);
    int force = strcmp(val, dval) != 0, rc = 0;
    switch (d->type) {
    case T_MEM:
        format_mem(val, sizeof val, *FIELD(c, d, const long long));
        return lines_add(out, join(d->name, val), force, -1);
    case T_STR:
        if ((d->flags & F_NULLABLE) && !*FIELD(c, d, char *const))
            return 0; /* none: the file's lines go */
        return lines_add(out, quoted(d->name, val), force, -1);
    case T_NOTIFY:
        return lines_add(out, quoted(d->name, val), force, -1);
    case T_REPLICAOF: /* a master has no line: the file's go */
        return c->replicaof_host ? lines_add(out, join(d->name, val), force, -1) : 0;
    case T_SAVE: { /* one line a pair, or save "" (always written, as Redis does) */
        if (!val[0])
            return lines_add(out, quoted(d->name, ""), 1, -1);
        char *save = NULL, *w = strtok_r(val, " ", &save);
        while (w && !rc) {
            char *w2 = strtok_r(NULL, " ", &save), pair[128];
            snprintf(pair, sizeof pair, "save %s %s", w, w2 ? w2 : "");
            rc = lines_add(out, strdup(pair), 1, -1);
            w = strtok_r(NULL, " ", &save);
        }
        return rc;
    }
    case T_COBL: { /* a line per class, forced if it differs from its default */
        long long v[3][3], dv[3][3];
        cobl_values(c, v);
        cobl_values(def, dv);
        for (int k = 0; k < 3 && !rc; k++) {
            char hard[32], soft[32], line[160];
            format_mem(hard, sizeof hard, v[k][0]);
            format_mem(soft, sizeof soft, v[k][1]);
            snprintf(line, sizeof line, "%s %s %s %s %lld", d->name,
                     k == 1 ? "replica" : cobl_classes[k], hard, soft, v[k][2]);
            rc = lines_add(out, strdup(line), memcmp(v[k], dv[k], sizeof v[k]) != 0, -1);
        }
        return rc;
    }
    default: /* booleans, numbers, words, bind: as CONFIG GET shows them */
        return lines_add(out, join(d->name, val), force, -1);
    }
}

/* The canonical row of a file line's directive, or -1 (a comment, a blank, or a directive
 * oxistore does not know: kept as it is). */
static int line_owner(const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    if (!*line || *line == '#')
        return -1;
    size_t n = strcspn(line, " \t\r");
    int i = conf_find(line, n);
    while (i > 0 && (conf_defs[i].flags & F_ALIAS))
        i--;
    return i;
}

/* Reads the file at path into l (a missing file: no lines); 0 or -1 with errno. */
static int read_lines(const char *path, lines *l)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = 0;
    while (!rc && (got = getline(&buf, &cap, f)) >= 0) {
        if (got && buf[got - 1] == '\n')
            buf[--got] = '\0';
        char *s = strdup(buf);
        rc = lines_add(l, s, 0, s ? line_owner(s) : -1);
    }
    int e = ferror(f) ? errno : 0;
    free(buf);
    fclose(f);
    if (rc || e) {
        errno = e ? e : ENOMEM;
        return -1;
    }
    return 0;
}

/* Writes the lines into path through a new file renamed over it, synced. */
static int write_lines(const char *path, const lines *l)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp)
        return -1;
    snprintf(tmp, plen + 32, "%s.rewrite-%ld", path, (long)getpid());
    struct stat st;
    mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode), rc = fd < 0 ? -1 : 0;
    FILE *f = rc ? NULL : fdopen(fd, "w");
    if (!rc && !f) {
        close(fd);
        rc = -1;
    }
    for (size_t i = 0; !rc && i < l->n; i++)
        if (fputs(l->v[i], f) == EOF || fputc('\n', f) == EOF)
            rc = -1;
    if (f && (fflush(f) || fsync(fileno(f))))
        rc = -1;
    int e = errno;
    if (f && fclose(f))
        rc = rc ? rc : -1;
    if (!rc && rename(tmp, path))
        rc = -1;
    if (rc) {
        e = errno ? errno : e;
        unlink(tmp);
        errno = e;
    }
    free(tmp);
    return rc;
}

int conf_set_replicaof(conf *c, const char *host, int port)
{
    char *h = NULL;
    if (host && !(h = strdup(host)))
        return -1;
    free(c->replicaof_host);
    c->replicaof_host = h;
    c->replicaof_port = host ? port : 0;
    return 0;
}

int conf_rewrite(const conf *c, const char *path, char *err, size_t errlen)
{
    lines old = {0}, tail = {0};
    conf def;
    int rc = conf_init(&def);
    if (rc == 0)
        rc = read_lines(path, &old);
    int has_tail = 0;
    for (size_t k = 0; k < old.n; k++)
        has_tail |= !strcmp(old.v[k], REWRITE_MARK);
    for (size_t i = 0; rc == 0 && i < NDEFS; i++) {
        if (conf_defs[i].flags & F_ALIAS)
            continue;
        lines mine = {0};
        rc = option_lines(c, &def, i, &mine);
        size_t at = 0; /* the next of the file's lines of this directive */
        for (size_t m = 0; rc == 0 && m < mine.n; m++) {
            /* A directive of several lines (one per client class) writes only those that
             * differ from their defaults, so that a rewrite of a rewrite changes nothing
             * (Redis puts the first class's line at the file's first line of it). */
            if (mine.n > 1 && !mine.force[m])
                continue;
            while (at < old.n && old.owner[at] != (int)i)
                at++;
            if (at < old.n) { /* in place of the file's own line */
                free(old.v[at]);
                old.v[at] = mine.v[m];
                old.owner[at++] = -2; /* rewritten */
                mine.v[m] = NULL;
            } else if (mine.force[m]) {
                rc = lines_add(&tail, mine.v[m], 1, -1);
                mine.v[m] = NULL;
            }
        }
        for (; rc == 0 && at < old.n; at++) { /* what the directive no longer takes */
            if (old.owner[at] == (int)i) {
                old.v[at][0] = '\0';
                old.owner[at] = -2;
            }
        }
        lines_free(&mine);
    }
    if (rc == 0 && tail.n && !has_tail) {
        if (old.n && old.v[old.n - 1][0])
            rc = lines_add(&old, strdup(""), 0, -1);
        if (rc == 0)
            rc = lines_add(&old, strdup(REWRITE_MARK), 0, -1);
    }
    for (size_t k = 0; rc == 0 && k < tail.n; k++) {
        rc = lines_add(&old, tail.v[k], 0, -1);
        tail.v[k] = NULL;
    }
    if (rc == 0)
        rc = write_lines(path, &old);
    if (rc)
        snprintf(err, errlen, "Rewriting config file: %s", strerror(errno ? errno : ENOMEM));
    lines_free(&old);
    lines_free(&tail);
    conf_free(&def);
    return rc;
}
