/* Helpers for the server tests: start oxistore-server (the sanitized build) on a free
 * loopback port in a scratch directory, wait until it answers, talk to it with hiredis,
 * stop it with SIGTERM (checking it exits 0) or kill it with SIGKILL. */
#ifndef OX_SRV_UTIL_H
#define OX_SRV_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

typedef struct srvp {
    pid_t pid;
    int port;
    char dir[512];
    char log[600];
} srvp;

/* In a forked child that will exec a server: the server gets SIGKILL when the test process
 * ends, so a test that fails half-way (and returns before stopping it) leaves none behind. */
static inline void sp_die_with_parent(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Writes text into the file at path (created or truncated): 0 or -1. */
static inline int sp_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    return fclose(f) || rc ? -1 : 0;
}

/* A port the kernel just called free (bind to 0, read it, close). */
static inline int sp_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) ||
        getsockname(fd, (struct sockaddr *)&sa, &sl)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static inline redisContext *sp_connect(const srvp *p)
{
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", p->port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c)
        redisSetTimeout(c, tv);
    return c;
}

/* Polls, with a 15 s deadline, until a server on port answers PING; gives up early if the
 * process pid exited. 0 when ready, -1 otherwise. */
static inline int sp_wait_ready(int port, pid_t pid)
{
    srvp probe = {.port = port};
    uint64_t deadline = t_now_ms() + 15000;
    while (t_now_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return -1;
        redisContext *c = sp_connect(&probe);
        if (c) {
            redisReply *r = redisCommand(c, "PING");
            /* With requirepass, -NOAUTH is an answer too: the server is up. */
            int ok = r && (r->type == REDIS_REPLY_STATUS ||
                           (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOAUTH", 6)));
            freeReplyObject(r);
            redisFree(c);
            if (ok)
                return 0;
        }
        usleep(10000); /* a poll interval, not synchronisation: the loop checks the state */
    }
    return -1;
}

/* Starts the server with extra "--directive value" arguments (NULL-terminated list) in the
 * directory `name` under the scratch dir, DEBUG enabled (kept across restarts of the same name). Polls
 * with a deadline until PING answers. Returns 0 or -1. */
static inline int sp_start_conf(srvp *p, const char *bin, const char *name, const char *conf,
                                const char *const *extra);
static inline int sp_start_bin(srvp *p, const char *bin, const char *name,
                               const char *const *extra)
{
    return sp_start_conf(p, bin, name, NULL, extra);
}

/* sp_start_bin with a config file (conf: its path, NULL: none) before the arguments, as
 * a server started from a file is (CONFIG REWRITE rewrites it). */
static inline int sp_start_conf(srvp *p, const char *bin, const char *name, const char *conf,
                                const char *const *extra)
{
    const char *base = t_dir();
    if (!p->port)
        p->port = sp_free_port();
    snprintf(p->dir, sizeof p->dir, "%s/%s", base, name);
    snprintf(p->log, sizeof p->log, "%s/%s.log", base, name);
    mkdir(p->dir, 0755);
    char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    /* DEBUG is off by default, as in Redis 7.0: the tests turn it on (extra can turn it
     * off again: later directives win). */
    const char *argv[64] = {bin};
    int n = 1;
    if (conf)
        argv[n++] = conf;
    const char *common[] = {"--port", port, "--dir", p->dir, "--loglevel", "warning",
                            "--io-threads", "2", "--enable-debug-command", "yes"};
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
        argv[n++] = common[i];
    for (int i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        FILE *lf = fopen(p->log, "a");
        if (lf) {
            dup2(fileno(lf), 1);
            dup2(fileno(lf), 2);
        }
        sp_die_with_parent();
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    if (sp_wait_ready(p->port, p->pid) == 0)
        return 0;
    int status;
    if (waitpid(p->pid, &status, WNOHANG) == p->pid)
        p->pid = 0;
    return -1;
}

static inline int sp_start_argv(srvp *p, const char *name, const char *const *extra)
{
    return sp_start_bin(p, OX_SERVER_BIN, name, extra);
}

static inline int sp_start(srvp *p, const char *name)
{
    return sp_start_argv(p, name, NULL);
}

/* Starts a real redis-server (the reference) on a free loopback port, without
 * persistence, in the directory `name` under the scratch dir; polls with a deadline until
 * it answers. p->pid and p->port are set. Returns 0 or -1. Stop it with sp_stop/sp_kill. */
/* The reference redis-server in scratch directory name, with the extra "--directive value"
 * arguments (NULL-terminated, may be NULL). */
static inline int sp_start_redis_argv(srvp *p, const char *name, const char *const *extra)
{
    const char *base = t_dir();
    p->port = sp_free_port();
    snprintf(p->dir, sizeof p->dir, "%s/%s", base, name);
    mkdir(p->dir, 0755);
    char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    const char *argv[64] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--dir", p->dir, "--daemonize", "no"};
    int argc = 13;
    for (int i = 0; extra && extra[i] && argc < 63; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        sp_die_with_parent();
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    return sp_wait_ready(p->port, p->pid);
}

static inline int sp_start_redis(srvp *p, const char *name)
{
    return sp_start_redis_argv(p, name, NULL);
}

/* SIGTERM and wait: the exit status (0 expected), or -1 if it did not exit in time or
 * died of a signal (an ASan report aborts with a non-zero status). */
static inline int sp_stop(srvp *p)
{
    if (!p->pid)
        return -1;
    kill(p->pid, SIGTERM);
    uint64_t deadline = t_now_ms() + 30000;
    int status = 0;
    while (t_now_ms() < deadline) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            p->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        usleep(10000);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &status, 0);
    p->pid = 0;
    return -1;
}

static inline void sp_kill(srvp *p)
{
    if (!p->pid)
        return;
    kill(p->pid, SIGKILL);
    int status;
    waitpid(p->pid, &status, 0);
    p->pid = 0;
}

/* Prints the server log (for a failing test). */
static inline void sp_dump_log(const srvp *p)
{
    FILE *f = fopen(p->log, "r");
    char line[512];
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        fprintf(stderr, "  | %s", line);
    fclose(f);
}

/* Stops the server with SIGTERM at the end of a test program: 0 if it exited 0, else 1
 * after printing why and its log (the caller counts the failure). */
static inline int sp_stop_or_dump(srvp *p)
{
    int rc = sp_stop(p);
    if (rc == 0)
        return 0;
    sp_dump_log(p);
    fprintf(stderr, "FAIL server exit status %d\n", rc);
    return 1;
}

/* Describes a reply in one line, e.g. "+OK", "$5 hello", ":3", "-ERR x", "*2", "(nil)";
 * bytes of a bulk string outside printable ASCII (and '\\') appear as \xHH. */
static inline const char *sp_show(const redisReply *r, char *buf, size_t cap)
{
    if (!r) {
        snprintf(buf, cap, "(no reply)");
        return buf;
    }
    switch (r->type) {
    case REDIS_REPLY_STATUS: snprintf(buf, cap, "+%s", r->str); break;
    case REDIS_REPLY_ERROR: snprintf(buf, cap, "-%s", r->str); break;
    case REDIS_REPLY_INTEGER: snprintf(buf, cap, ":%lld", r->integer); break;
    case REDIS_REPLY_STRING: {
        size_t n = (size_t)snprintf(buf, cap, "$%zu ", r->len);
        for (size_t i = 0; i < r->len && n + 5 < cap; i++) {
            unsigned char ch = (unsigned char)r->str[i];
            n += (size_t)snprintf(buf + n, cap - n, ch >= 32 && ch < 127 && ch != '\\' ? "%c"
                                                                                   : "\\x%02x", ch);
        }
        break;
    }
    case REDIS_REPLY_NIL: snprintf(buf, cap, "(nil)"); break;
    case REDIS_REPLY_ARRAY: snprintf(buf, cap, "*%zu", r->elements); break;
    default: snprintf(buf, cap, "(type %d)", r->type); break;
    }
    return buf;
}

/* The value of field `name` ("db0", "expired_keys", ...) in the reply to INFO section,
 * copied into out up to the line end; "" if absent. */
static inline const char *sp_info_field(redisContext *c, const char *section,
                                        const char *name, char *out, size_t cap)
{
    redisReply *r = redisCommand(c, "INFO %s", section);
    out[0] = '\0';
    if (r && r->type == REDIS_REPLY_STRING) {
        size_t nl = strlen(name);
        for (const char *p = r->str; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
            if (!strncmp(p, name, nl) && p[nl] == ':') {
                size_t n = strcspn(p + nl + 1, "\r\n");
                snprintf(out, cap, "%.*s", (int)n, p + nl + 1);
                break;
            }
        }
    }
    freeReplyObject(r);
    return out;
}

/* ---- checkpoints and memory, seen from outside the server ---- */

/* The checkpoints the server at p wrote since it started (INFO persistence
 * "checkpoints", on a connection of its own); 0 if it does not answer. */
static inline uint64_t sp_checkpoints(const srvp *p)
{
    redisContext *c = sp_connect(p);
    char v[32] = "";
    if (c)
        sp_info_field(c, "persistence", "checkpoints", v, sizeof v);
    redisFree(c);
    return strtoull(v, NULL, 10);
}

/* For a server started with a small write-buffer-limit (1mb: a checkpoint starts at half
 * of it): rewrites the filler keys "fill:00".."fill:24" (100 KB per MSET) until two more
 * checkpoints were written, so that one frozen after the call (one may have been under
 * way) holds every write acknowledged before it. INFO is read between MSETs: polling,
 * with a 30 s deadline. 0 once it did, -1 on an error reply or at
 * the deadline. */
static inline int sp_force_checkpoint(redisContext *c, const srvp *p)
{
    enum { FILL_KEYS = 25, FILL_BYTES = 4096 };
    char val[FILL_BYTES];
    const char *argv[1 + 2 * FILL_KEYS];
    size_t lens[1 + 2 * FILL_KEYS];
    char keys[FILL_KEYS][16];
    uint64_t from = sp_checkpoints(p), deadline = t_now_ms() + 30000;
    argv[0] = "MSET";
    lens[0] = 4;
    for (int round = 0; sp_checkpoints(p) < from + 2; round++) {
        if (t_now_ms() > deadline)
            return -1;
        memset(val, 'a' + round % 26, sizeof val);
        for (int i = 0; i < FILL_KEYS; i++) {
            snprintf(keys[i], sizeof keys[i], "fill:%02d", i);
            argv[1 + 2 * i] = keys[i];
            lens[1 + 2 * i] = strlen(keys[i]);
            argv[2 + 2 * i] = val;
            lens[2 + 2 * i] = sizeof val;
        }
        redisReply *r = redisCommandArgv(c, 1 + 2 * FILL_KEYS, argv, lens);
        int ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (!ok)
            return -1;
    }
    return 0;
}

/* INFO stats members_reclaimed (the sweeper's count of collection records removed). */
static inline unsigned long long sp_reclaimed(redisContext *c)
{
    char v[64];
    return strtoull(sp_info_field(c, "stats", "members_reclaimed", v, sizeof v), NULL, 10);
}

/* Polls sp_reclaimed until it is at least from + want (60 s deadline): how many above
 * from it reached. */
static inline unsigned long long sp_wait_reclaimed(redisContext *c, unsigned long long from,
                                                   unsigned long long want)
{
    uint64_t deadline = t_now_ms() + 60000;
    while (sp_reclaimed(c) - from < want && t_now_ms() < deadline)
        usleep(2000);
    return sp_reclaimed(c) - from;
}

/* A "<field>: N kB" line of /proc/<pid>/status: N, or -1. */
static inline long sp_status_kb(pid_t pid, const char *field)
{
    char path[64], line[256], fmt[64];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    snprintf(fmt, sizeof fmt, "%s: %%ld kB", field);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, fmt, &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* The resident set of process pid in KB (VmRSS), -1 if unknown. */
static inline long sp_rss_kb(pid_t pid)
{
    return sp_status_kb(pid, "VmRSS");
}

/* The anonymous part of it (what the process allocated, not the pages of files it maps,
 * such as LMDB's). */
static inline long sp_anon_kb(pid_t pid)
{
    return sp_status_kb(pid, "RssAnon");
}

/* ---- raw sockets: byte-exact replies (RESP3 too: Debian's hiredis 0.14 has no RESP3) ---- */

static inline int sp_raw_connect(const srvp *p)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {10, 0};
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends req, then reads until exactly strlen(want) bytes arrived (or the 10 s receive
 * timeout, or EOF); 1 if they equal want. got receives what came (NUL-terminated). */
static inline int sp_raw_roundtrip(int fd, const char *req, size_t reqlen, const char *want,
                                   size_t wantlen, char *got, size_t cap)
{
    size_t n = 0;
    if (write(fd, req, reqlen) != (ssize_t)reqlen)
        return 0;
    while (n < wantlen && n + 1 < cap) {
        ssize_t r = read(fd, got + n, (wantlen - n) < (cap - 1 - n) ? wantlen - n : cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    got[n] = '\0';
    return n == wantlen && memcmp(got, want, wantlen) == 0;
}

/* A raw connection that said HELLO 3 (its reply read and dropped): -1 on failure. */
static inline int sp_raw_resp3(const srvp *p)
{
    char got[4096];
    const char hello[] = "HELLO 3\r\n";
    int fd = sp_raw_connect(p);
    if (fd >= 0 && (write(fd, hello, sizeof hello - 1) != (ssize_t)(sizeof hello - 1) ||
                    read(fd, got, sizeof got) <= 0)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* The length of the one whole RESP2/RESP3 element at p[0 .. n), nested ones included; 0
 * while it is incomplete. (Attributes are not handled: no server here sends them.) */
static inline size_t sp_resp_len(const char *p, size_t n)
{
    const char *nl = n ? memchr(p, '\n', n) : NULL;
    if (!nl)
        return 0;
    size_t head = (size_t)(nl - p) + 1, off = head;
    long long v = strtoll(p + 1, NULL, 10); /* stops at the "\r\n" */
    if (v < 0 || !strchr("$=!*~>%", p[0]))
        return head; /* a one-line element, or a null */
    if (strchr("$=!", p[0]))
        return n >= head + (size_t)v + 2 ? head + (size_t)v + 2 : 0;
    for (long long i = 0; i < (p[0] == '%' ? 2 * v : v); i++) {
        size_t e = sp_resp_len(p + off, n - off);
        if (!e)
            return 0;
        off += e;
    }
    return off;
}

/* Sends argv[0 .. argc) as one RESP command: 1, or 0 if the write failed. */
static inline int sp_raw_send(int fd, int argc, const char *const *argv, const size_t *lens)
{
    size_t cap = 32, n;
    for (int i = 0; i < argc; i++)
        cap += lens[i] + 32;
    char *b = malloc(cap);
    if (!b)
        return 0;
    n = (size_t)snprintf(b, cap, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        n += (size_t)snprintf(b + n, cap - n, "$%zu\r\n", lens[i]);
        memcpy(b + n, argv[i], lens[i]);
        memcpy(b + n + lens[i], "\r\n", 2);
        n += lens[i] + 2;
    }
    int ok = write(fd, b, n) == (ssize_t)n;
    free(b);
    return ok;
}

/* Reads the one whole reply to a request into *buf (grown as needed; *cap its size, both
 * 0/NULL at first; the caller frees it): its length, or 0 on EOF, an error or the
 * receive timeout. */
static inline size_t sp_raw_reply(int fd, char **buf, size_t *cap)
{
    size_t n = 0, len;
    while (!(len = sp_resp_len(*buf, n))) {
        if (n == *cap) {
            char *nb = realloc(*buf, *cap ? 2 * *cap : 4096);
            if (!nb)
                return 0;
            *buf = nb;
            *cap = *cap ? 2 * *cap : 4096;
        }
        ssize_t r = read(fd, *buf + n, *cap - n);
        if (r <= 0)
            return 0;
        n += (size_t)r;
    }
    return len;
}

#define T_RAW(fd, req, want)                                                            \
    do {                                                                                \
        char t_g_[4096];                                                                \
        if (!sp_raw_roundtrip((fd), (req), sizeof(req) - 1, (want), sizeof(want) - 1,     \
                              t_g_, sizeof t_g_))                                       \
            T_FAIL("reply to %s was \"%s\"", #req, t_g_);                               \
    } while (0)

/* sp_show over a whole reply: an array as "*N [e1, e2, ...]", nested the same way. */
static inline size_t sp_show_deep(const redisReply *r, char *buf, size_t cap)
{
    char one[512];
    size_t n = 0;
    if (!cap)
        return 0;
    buf[0] = '\0';
    if (r && r->type == REDIS_REPLY_ARRAY) { /* hiredis 0.14: RESP2 only */
        n = (size_t)snprintf(buf, cap, "*%zu [", r->elements);
        for (size_t i = 0; i < r->elements && n < cap; i++) {
            if (i)
                n += (size_t)snprintf(buf + n, cap - n, ", ");
            if (n < cap)
                n += sp_show_deep(r->element[i], buf + n, cap - n);
        }
        if (n < cap)
            n += (size_t)snprintf(buf + n, cap - n, "]");
        return n < cap ? n : cap - 1;
    }
    n = (size_t)snprintf(buf, cap, "%s", sp_show(r, one, sizeof one));
    return n < cap ? n : cap - 1;
}

/* 65 bytes: a hash value or member name past Redis 7.0's listpack limit (64), so that a
 * hash or sorted set holding it is not compact and its scans page by COUNT (encoding.h). */
#define SP_LONG "L1234567890123456789012345678901234567890123456789012345678901234"

/* T_CMD comparing the whole reply (sp_show_deep). */
#define T_DEEP(ctx, want, ...)                                                          \
    do {                                                                                \
        redisReply *t_r_ = redisCommand((ctx), __VA_ARGS__);                            \
        char t_b_[4096];                                                                \
        sp_show_deep(t_r_, t_b_, sizeof t_b_);                                          \
        freeReplyObject(t_r_);                                                          \
        T_EQ_STR(t_b_, (want));                                                         \
    } while (0)

/* Runs a command and compares sp_show() of its reply with want; frees the reply. */
#define T_CMD(ctx, want, ...)                                                           \
    do {                                                                                \
        redisReply *t_r_ = redisCommand((ctx), __VA_ARGS__);                            \
        char t_b_[512];                                                                 \
        sp_show(t_r_, t_b_, sizeof t_b_);                                               \
        freeReplyObject(t_r_);                                                          \
        T_EQ_STR(t_b_, (want));                                                         \
    } while (0)

/* ---- replication tests (test_repl, test_sentinel) ---- */

static inline uint64_t sp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The reply to a command, shown in one line (sp_show), in a static buffer. */
static inline const char *sp_q(redisContext *c, const char *fmt, ...)
{
    static char buf[512];
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    sp_show(r, buf, sizeof buf);
    freeReplyObject(r);
    return buf;
}

#ifdef OX_CHECK_BIN
/* oxistore-check dump of the server's store (it runs beside the server), malloc'd; *len 0
 * if the tool failed. */
static inline char *sp_dump(const srvp *p, size_t *len)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s dump %s/oxistore.mdb -", OX_CHECK_BIN, p->dir);
    FILE *f = popen(cmd, "r");
    size_t cap = 1 << 20, n = 0, got;
    char *buf = malloc(cap);
    while (f && buf && (got = fread(buf + n, 1, cap - n, f)) > 0)
        if ((n += got) == cap)
            buf = realloc(buf, cap *= 2);
    if (f && pclose(f) != 0)
        n = 0;
    *len = n;
    return buf;
}

/* oxistore-check check of a stopped (or killed) server's store: 1 if both passes find it
 * clean, its pages and every collection (after a kill -9, with its log replayed); else 0,
 * with the tool's output (or a reason) in why. */
static inline int sp_check(const srvp *p, char *why, size_t cap)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s check %s/oxistore.mdb 2>&1", OX_CHECK_BIN, p->dir);
    FILE *f = popen(cmd, "r");
    size_t n = f ? fread(why, 1, cap - 1, f) : 0;
    why[n] = '\0';
    int st = f ? pclose(f) : -1;
    if (!f)
        snprintf(why, cap, "cannot run %s", OX_CHECK_BIN);
    return st == 0 && strstr(why, ", every one consistent\n") != NULL;
}

/* Kills p (SIGKILL), checks what it left (sp_check), and starts it again as name with
 * the extra arguments (sp_start_argv's), connected in *c: 1, or 0 with why saying what
 * failed. */
static inline int sp_kill_check_restart(srvp *p, const char *name, const char *const *extra,
                                        redisContext **c, char *why, size_t cap)
{
    sp_kill(p);
    if (!sp_check(p, why, cap))
        return 0;
    if (sp_start_argv(p, name, extra) || !(*c = sp_connect(p))) {
        snprintf(why, cap, "%s did not start again", name);
        return 0;
    }
    return 1;
}

/* 1 if both servers' dumps are equal and not empty; else 0, with why saying where. */
static inline int sp_same_data(const srvp *a, const srvp *b, char *why, size_t cap)
{
    size_t la, lb;
    char *da = sp_dump(a, &la), *db = sp_dump(b, &lb);
    int same = la && la == lb && !memcmp(da, db, la);
    if (!same) {
        size_t at = 0;
        while (at < la && at < lb && da[at] == db[at])
            at++;
        snprintf(why, cap, "dumps of %zu and %zu bytes differ at byte %zu", la, lb, at);
    }
    free(da);
    free(db);
    return same;
}
#endif

#endif
