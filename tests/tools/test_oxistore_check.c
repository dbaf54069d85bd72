/* oxistore-check, run as a program (the sanitized build): on files written with the
 * library, on files damaged byte by byte, beside a running oxistore-server, and against a
 * real redis-server fed its dump with redis-cli --pipe. Exact output and exit codes. */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>

#include "coll_fmt.h"
#include "oxistore.h"
#include "srv_util.h"

T_MAIN_BEGIN;

static char g_out[1 << 20], g_err[1 << 16];
static size_t g_outlen;
static srvp g_srv;
static char g_live[700];       /* the running server's data file */

/* ---- running the tool ------------------------------------------------------------------ */

static size_t slurp(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    size_t n = 0;
    ssize_t r;
    while (fd >= 0 && n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    if (fd >= 0)
        close(fd);
    buf[n] = '\0';
    return n;
}

/* Runs oxistore-check with the NULL-terminated arguments, stdin from `in` (NULL:
 * /dev/null). Its stdout lands in g_out (g_outlen bytes), stderr in g_err. Returns the
 * exit status, or -1 if it died of a signal. A sanitizer report exits 97. */
static int run_in(const char *in, const char *const *args)
{
    const char *argv[16] = {OX_CHECK_BIN};
    int n = 1;
    for (; args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int i = open(in ? in : "/dev/null", O_RDONLY);
        int o = open("tool.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open("tool.err", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(i, 0);
        dup2(o, 1);
        dup2(e, 2);
        setenv("ASAN_OPTIONS", "exitcode=97", 1);
        setenv("UBSAN_OPTIONS", "exitcode=97:print_stacktrace=1", 1);
        execv(OX_CHECK_BIN, (char *const *)argv);
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    g_outlen = slurp("tool.out", g_out, sizeof g_out);
    slurp("tool.err", g_err, sizeof g_err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define RUN(...) run_in(NULL, (const char *const[]){__VA_ARGS__, NULL})

/* The value after "name: " in the tool's output (stat's lines), or -1. */
static long long field(const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\n%s: ", name);
    const char *p = strstr(g_out, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static int write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "w");
    size_t n = f ? fwrite(data, 1, len, f) : 0;
    return (f && fclose(f) == 0 && n == len) ? 0 : -1;
}

/* ---- reading a dump --------------------------------------------------------------------- */

/* A dump as text: one line per command, its arguments separated by spaces, bytes outside
 * printable ASCII (and '\\') as \xHH. Parsed with hiredis's reply reader: a RESP request
 * is an array of bulk strings. "(bad)" if it is not exactly a sequence of those. */
static const char *show_dump(const char *buf, size_t len, char *out, size_t cap)
{
    redisReader *rd = redisReaderCreate();
    void *reply;
    size_t n = 0;
    out[0] = '\0';
    redisReaderFeed(rd, buf, len);
    while (redisReaderGetReply(rd, &reply) == REDIS_OK && reply) {
        redisReply *r = reply;
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            redisReply *a = r->element[i];
            if (a->type != REDIS_REPLY_STRING)
                n += (size_t)snprintf(out + n, cap - n, "(bad)");
            for (size_t j = 0; a->type == REDIS_REPLY_STRING && j < a->len && n + 8 < cap; j++) {
                unsigned char ch = (unsigned char)a->str[j];
                n += (size_t)snprintf(out + n, cap - n, ch > 32 && ch < 127 && ch != '\\'
                                      ? "%c" : "\\x%02x", ch);
            }
            if (n + 2 < cap)
                out[n++] = i + 1 < r->elements ? ' ' : '\n';
        }
        if (r->type != REDIS_REPLY_ARRAY)
            n += (size_t)snprintf(out + n, cap - n, "(bad)\n");
        out[n] = '\0';
        freeReplyObject(r);
    }
    if (rd->err || rd->pos < rd->len)
        snprintf(out + n, cap - n, "(bad)");
    redisReaderFree(rd);
    return out;
}

/* Dumps file with the tool and shows it (static buffer). */
static const char *dump_of(const char *file)
{
    static char text[1 << 20];
    if (RUN("dump", file, "-") != 0)
        return g_err;
    return show_dump(g_out, g_outlen, text, sizeof text);
}

/* ---- files written with the library ----------------------------------------------------- */

/* Opens a server-shaped file (table "0" is database 0), without a write-ahead log so
 * that every write is one LMDB commit and nothing else commits. */
static int open_fixture(const char *path, ox_store **s)
{
    ox_options o;
    ox_options_init(&o);
    o.table = "0";
    o.sync = OX_SYNC_NO;
    return ox_store_open(path, &o, s);
}

/* 100 keys in "0", every tenth with a TTL of an hour, and 7 in "2". */
static int build_file(const char *path)
{
    ox_store *s;
    ox_table *t2;
    int rc = open_fixture(path, &s);
    if (rc)
        return rc;
    if ((rc = ox_table_open(s, "2", &t2)) == OX_OK) {
        for (int i = 0; i < 100 && !rc; i++) {
            char k[16], v[16];
            snprintf(k, sizeof k, "k%03d", i);
            snprintf(v, sizeof v, "v%d", i);
            rc = i % 10 ? ox_put(ox_store_table(s), k, strlen(k), v, strlen(v))
                        : ox_put_with_ttl(ox_store_table(s), k, strlen(k), v, strlen(v), 3600000);
        }
        for (int i = 0; i < 7 && !rc; i++)
            rc = ox_put(t2, &i, 1, "x", 1);
    }
    int crc = ox_store_close(s);
    return rc ? rc : crc;
}

static int put_one(const char *path, const char *key)
{
    ox_store *s;
    int rc = open_fixture(path, &s);
    if (rc)
        return rc;
    rc = ox_put(ox_store_table(s), key, strlen(key), "1", 1);
    int crc = ox_store_close(s);
    return rc ? rc : crc;
}

static int pwrite_at(const char *path, const void *p, size_t n, off_t off)
{
    int fd = open(path, O_WRONLY);
    ssize_t w = fd < 0 ? -1 : pwrite(fd, p, n, off);
    if (fd >= 0)
        close(fd);
    return w == (ssize_t)n ? 0 : -1;
}

static uint64_t read64_at(const char *path, off_t off)
{
    uint64_t v = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0 || pread(fd, &v, 8, off) != 8)
        v = 0;
    if (fd >= 0)
        close(fd);
    return v;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void usage_errors_exit_2(void)
{
    T_EQ_INT(RUN("--help"), 0);
    T_ASSERT(!strncmp(g_out, "Usage: oxistore-check COMMAND FILE [ARG]\n", 41));
    T_ASSERT(strstr(g_out, "*5 $3 SET $<len> <key> $<len> <value> $4 PXAT $<len> <ms>"));
    T_EQ_INT(RUN("frobnicate", "x"), 2);
    T_EQ_STR(g_err, "oxistore-check: unknown command 'frobnicate'\nTry 'oxistore-check --help'.\n");
    T_EQ_INT(RUN("backup", "x"), 2);
    T_EQ_STR(g_err, "oxistore-check: wrong number of arguments for 'backup'\n"
                    "Try 'oxistore-check --help'.\n");
    T_EQ_INT(run_in(NULL, (const char *const[]){NULL}), 2);
    T_EQ_INT(RUN("check", "nosuch.mdb"), 3);
    T_EQ_STR(g_err, "oxistore-check: check nosuch.mdb: no such store file\n");
    T_EQ_INT(RUN("stat", "nosuch.mdb"), 1);
    T_EQ_STR(g_err, "oxistore-check: nosuch.mdb: no such store file\n");
}

static void clean_file_checks_and_stats_exactly(void)
{
    T_EQ_INT(build_file("clean.mdb"), 0);
    T_EQ_INT(RUN("check", "clean.mdb"), 0);
    T_EQ_STR(g_err, "");
    unsigned long long txn, pages, used, fr, tables, entries;
    unsigned psize;
    T_EQ_INT(sscanf(g_out, "clean.mdb: clean: txn %llu, %llu pages (%llu used, %llu free) of "
                    "%u bytes, %llu tables, %llu entries", &txn, &pages, &used, &fr, &psize,
                    &tables, &entries), 7);
    T_EQ_U64(used + fr, pages);
    /* t:0 e:0 t:2 e:2 ox:meta; 100 + 10 + 7 + 0 + 2 (the format, the last commit's
     * sequence number) entries */
    T_EQ_U64(tables, 5);
    T_EQ_U64(entries, 119);

    T_EQ_INT(RUN("stat", "clean.mdb"), 0);
    T_EQ_STR(g_err, "");
    T_ASSERT(!strncmp(g_out, "file: clean.mdb\nformat version: 4\npage size: 4096\n", 49));
    T_EQ_INT(field("pages"), (long long)pages);
    T_EQ_INT(field("free pages"), (long long)fr);
    T_EQ_INT(field("file size"), 4096 * (long long)pages);
    T_EQ_INT(field("txn"), (long long)txn);
    T_EQ_INT(psize, 4096);
    T_ASSERT(strstr(g_out, "\ntables: 2\ntable 0: db 0, 100 keys, 10 expiring\n"
                           "table 2: db 2, 7 keys, 0 expiring\nkeys: 107, expiring: 10\n"));
}

static void damaged_page_is_named(void)
{
    /* A compacted copy has no free page: every page after the metas is in a tree. */
    T_EQ_INT(RUN("compact", "clean.mdb", "dense.mdb"), 0);
    T_EQ_STR(g_err, "");
    T_ASSERT(strstr(g_out, "clean.mdb: compacted to dense.mdb: "));
    T_EQ_INT(RUN("stat", "dense.mdb"), 0);
    T_EQ_INT(field("free pages"), 0);
    T_ASSERT(strstr(g_out, "\ntable 0: db 0, 100 keys, 10 expiring\n"));
    long long last = field("pages") - 1;
    T_ASSERT(last > 2);
    T_EQ_INT(RUN("check", "clean.mdb"), 0); /* the source is untouched */

    /* Page flags (bytes 10-11 of the header) that name no page type. */
    T_EQ_INT(pwrite_at("dense.mdb", "\x00\x40", 2, last * 4096 + 10), 0);
    T_EQ_INT(RUN("check", "dense.mdb"), 1);
    char want[256];
    /* The compacting copy writes the main database's root last. */
    snprintf(want, sizeof want, "dense.mdb: damaged at page %lld: page %lld: bad page type "
             "0x4000 at level 1 of 1 in the main database (expected leaf)\n", last, last);
    T_EQ_STR(g_out, want);
    T_EQ_STR(g_err, "");
}

static void repair_falls_back_to_the_previous_snapshot(void)
{
    T_EQ_INT(build_file("r.mdb"), 0);
    T_EQ_INT(put_one("r.mdb", "last"), 0);
    T_ASSERT(strstr(dump_of("r.mdb"), "\nSET last 1\n"));
    T_EQ_INT(RUN("check", "r.mdb"), 0);
    unsigned long long txn = 0;
    T_EQ_INT(sscanf(g_out, "r.mdb: clean: txn %llu,", &txn), 1);
    /* The newest meta page (higher txnid at byte 16 + 128) gets a main root far beyond
     * the file (MDB_meta's main MDB_db at 72, its root at +40). */
    int slot = read64_at("r.mdb", 4096 + 144) > read64_at("r.mdb", 144);
    uint64_t bad = 1000000;
    T_EQ_INT(pwrite_at("r.mdb", &bad, 8, slot * 4096 + 16 + 72 + 40), 0);
    T_EQ_INT(RUN("check", "r.mdb"), 1);
    char want[256];
    snprintf(want, sizeof want, "r.mdb: damaged at page %d: page %d: refers to page 1000000 "
             "out of range", slot, slot);
    T_EQ_MEM(g_out, strlen(want), want, strlen(want));

    T_EQ_INT(RUN("repair", "r.mdb"), 0);
    T_EQ_STR(g_err, "");
    snprintf(want, sizeof want, "r.mdb: newest commit (txn %llu) damaged: page %d: refers to "
             "page 1000000 out of range 2..", txn, slot);
    T_EQ_MEM(g_out, strlen(want), want, strlen(want));
    /* The previous snapshot: the checkpoint itself, as the newest commit was the small one
     * that follows every checkpoint (ckpt_bump), so the last write comes back from the file
     * alone, with no log commit to add. */
    snprintf(want, sizeof want, " in the main database (page %d); fell back to txn %llu\n",
             slot, txn - 1);
    T_ASSERT(strlen(g_out) > strlen(want) &&
             !strcmp(g_out + strlen(g_out) - strlen(want), want));
    T_EQ_INT(RUN("check", "r.mdb"), 0);
    T_EQ_INT(RUN("repair", "r.mdb"), 0);
    T_EQ_STR(g_out, "r.mdb: clean, nothing done\n");
    const char *d = dump_of("r.mdb");
    T_ASSERT(strstr(d, "SET last 1"));
    T_ASSERT(strstr(d, "SELECT 0\nSET k000 v0 PXAT "));
    T_ASSERT(strstr(d, "\nSET k099 v99\n"));
    T_ASSERT(strstr(d, "SELECT 2\nSET \\x00 x\n"));
}

/* A client writing w:0, w:1, ... one at a time, counting acknowledged ones. */
static atomic_int g_acked, g_stop;
static void *writer(void *arg)
{
    redisContext *c = sp_connect(arg);
    for (int i = 0; c && !atomic_load(&g_stop); i++) {
        redisReply *r = redisCommand(c, "SET w:%d %d", i, i);
        int ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (!ok)
            break;
        atomic_store(&g_acked, i + 1);
    }
    if (c)
        redisFree(c);
    return NULL;
}

static int wait_acked(int n)
{
    uint64_t deadline = t_now_ms() + 10000;
    while (atomic_load(&g_acked) < n && t_now_ms() < deadline)
        usleep(1000); /* a poll interval: the loop checks the count */
    return atomic_load(&g_acked) >= n;
}

static void in_use_file_refuses_repair_and_backs_up_hot(void)
{
    T_ASSERT(sp_start(&g_srv, "live") == 0);
    snprintf(g_live, sizeof g_live, "%s/oxistore.mdb", g_srv.dir);
    char want[1024];
    T_EQ_INT(RUN("repair", g_live), 1);
    snprintf(want, sizeof want, "oxistore-check: repair %s: refused: store is busy or in use by "
             "another process (stop the server first)\n", g_live);
    T_EQ_STR(g_err, want);
    T_EQ_INT(RUN("restore", g_live, "/dev/null"), 1);
    snprintf(want, sizeof want, "oxistore-check: restore %s: refused: store is busy or in use by "
             "another process (stop the server first)\n", g_live);
    T_EQ_STR(g_err, want);
    T_EQ_INT(RUN("check", g_live), 3);

    pthread_t th;
    atomic_store(&g_stop, 0);
    atomic_store(&g_acked, 0);
    T_EQ_INT(pthread_create(&th, NULL, writer, &g_srv), 0);
    int ok = wait_acked(300);
    int before = atomic_load(&g_acked);
    int rc = ok ? RUN("backup", g_live, "hot.mdb") : -2;
    /* The server kept serving: more writes are acknowledged after the copy. */
    int after_ok = ok && wait_acked(atomic_load(&g_acked) + 50);
    atomic_store(&g_stop, 1);
    pthread_join(th, NULL);
    T_ASSERT(ok && after_ok);
    T_EQ_INT(rc, 0);
    T_EQ_STR(g_err, "");

    T_EQ_INT(RUN("check", "hot.mdb"), 0);
    /* One moment of one writer's sequence: exactly w:0 .. w:n-1, n >= the writes
     * acknowledged before the copy began. */
    const char *d = dump_of("hot.mdb");
    int n = 0;
    for (const char *p = d; (p = strstr(p, "SET w:")); p++)
        n++;
    T_ASSERT(n >= before);
    for (int i = 0; i < n; i++) {
        char line[64];
        snprintf(line, sizeof line, "SET w:%d %d\n", i, i);
        if (!strstr(d, line))
            T_FAIL("the backup holds %d keys but not w:%d", n, i);
    }
    /* A dump of the live file works too. */
    T_EQ_INT(RUN("dump", g_live, "live.resp"), 0);
    T_EQ_INT(RUN("stat", g_live), 0);
}

/* After a crash (SIGKILL: the log holds commits a checkpoint has not written to the data
 * file), check says so; dump reads them all the same (a read-only open replays the log in
 * memory); repair writes them to the file, after which check is silent about the log and
 * everything acknowledged is there, a 4 KiB key included. */
static void crashed_file_is_read_with_its_log(void)
{
    srvp crashed = {0};
    T_ASSERT(sp_start(&crashed, "crashed") == 0);
    char file[700], want[2048], longkey[4096];
    snprintf(file, sizeof file, "%s/oxistore.mdb", crashed.dir);
    memset(longkey, 'L', sizeof longkey);
    redisContext *c = sp_connect(&crashed);
    T_ASSERT(c);
    T_CMD(c, "+OK", "SET a 1");
    T_CMD(c, "+OK", "SET %b long", longkey, sizeof longkey);
    redisFree(c);
    sp_kill(&crashed);

    /* A process crash: the file is sound, and older than the log. */
    T_EQ_INT(RUN("check", file), 0);
    snprintf(want, sizeof want, "%s: a crash left commits in the write-ahead log that this "
             "file lacks (start the server on it once, or run oxistore-check repair on it)\n",
             file);
    T_ASSERT(strstr(g_out, want) != NULL);
    char lk[4200];
    snprintf(lk, sizeof lk, "$4096\r\n%.4096s\r\n$4\r\nlong\r\n", longkey);
    for (int round = 0; round < 2; round++) {
        T_EQ_INT(RUN("dump", file, "-"), 0);
        T_ASSERT(strstr(g_out, "$1\r\na\r\n$1\r\n1\r\n") != NULL);
        T_ASSERT(g_outlen > 4096 && memmem(g_out, g_outlen, lk, strlen(lk)) != NULL);
        if (round == 0) {
            T_EQ_INT(RUN("repair", file), 0);
            T_EQ_INT(RUN("check", file), 0);
            T_ASSERT(strstr(g_out, "write-ahead log") == NULL);
        }
    }
}

/* Binary keys and values, TTLs, several databases, SWAPDB: the live server's data,
 * dumped after it stopped, restored into a new file and dumped again. */
static char g_expect[8192];
static long long g_at;

static void dump_restore_round_trip_after_swapdb(void)
{
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    g_at = (long long)time(NULL) * 1000 + 3600000 + 123;
    T_CMD(c, "+OK", "FLUSHALL");
    T_CMD(c, "+OK", "SET %b %b", "a\0\r\nb", (size_t)5, "v\0\xff", (size_t)3);
    T_CMD(c, "+OK", "SET %b %b", "", (size_t)0, "", (size_t)0);
    T_CMD(c, "+OK", "SET ttl x PXAT %lld", g_at);
    T_CMD(c, ":2", "HSET h f2 %b f1 v1", "v\0", (size_t)2); /* dumped in this order */
    T_CMD(c, ":1", "PEXPIREAT h %lld", g_at + 2);
    T_CMD(c, ":2", "SADD st m2 m1");
    T_CMD(c, ":2", "ZADD zs -inf n 1.5 m");
    T_CMD(c, ":2", "RPUSH li two three");
    T_CMD(c, ":3", "LPUSH li one");
    T_CMD(c, "+OK", "SELECT 3");
    T_CMD(c, "+OK", "SET three 3");
    T_CMD(c, "+OK", "SELECT 5");
    T_CMD(c, "+OK", "SET five 5");
    T_CMD(c, "+OK", "SWAPDB 3 5");
    T_CMD(c, "+OK", "SET five-after-swap 5");  /* db 5, now in table "3" */
    T_CMD(c, "+OK", "SELECT 3");
    T_CMD(c, ":1", "PEXPIREAT five %lld", g_at + 1);
    T_CMD(c, "+OK", "SELECT 7");
    T_CMD(c, "+OK", "SET gone x PX 1");        /* expired by the time of the dump */
    redisFree(c);
    T_EQ_INT(sp_stop(&g_srv), 0);

    snprintf(g_expect, sizeof g_expect,
             "SELECT 0\nSET  \nSET a\\x00\\x0d\\x0ab v\\x00\\xff\n"
             "HSET h f2 v\\x00\nHSET h f1 v1\nPEXPIREAT h %lld\n"
             "RPUSH li one\nRPUSH li two\nRPUSH li three\nSADD st m1\nSADD st m2\n"
             "SET ttl x PXAT %lld\nZADD zs 1.5 m\nZADD zs -inf n\n"
             "SELECT 3\nSET five 5 PXAT %lld\n"
             "SELECT 5\nSET five-after-swap 5\nSET three 3\n", g_at + 2, g_at, g_at + 1);
    T_EQ_STR(dump_of(g_live), g_expect);
    T_EQ_INT(RUN("stat", g_live), 0);
    T_ASSERT(strstr(g_out, "\ntable 3: db 5, 2 keys, 0 expiring\n"));
    T_ASSERT(strstr(g_out, "\ntable 5: db 3, 1 keys, 1 expiring\n"));

    T_EQ_INT(RUN("dump", g_live, "all.resp"), 0);
    T_EQ_INT(run_in("all.resp", (const char *const[]){"restore", "copy.mdb", "-", NULL}), 0);
    T_EQ_STR(g_out, "copy.mdb: restored 19 commands\n");
    T_EQ_STR(g_err, "");
    T_EQ_STR(dump_of("copy.mdb"), g_expect);
    T_EQ_INT(RUN("check", "copy.mdb"), 0);

    /* Restoring into the swapped file writes database 3 into table "5": the server, started
     * again, finds it in db 3. */
    static const char more[] = "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n"
                               "*3\r\n$3\r\nSET\r\n$4\r\nmore\r\n$1\r\nm\r\n";
    T_EQ_INT(write_file("more.resp", more, sizeof more - 1), 0);
    T_EQ_INT(RUN("restore", g_live, "more.resp"), 0);
    T_EQ_INT(RUN("stat", g_live), 0);
    T_ASSERT(strstr(g_out, "\ntable 5: db 3, 2 keys, 1 expiring\n"));
    T_ASSERT(sp_start(&g_srv, "live") == 0);
    c = sp_connect(&g_srv);
    T_ASSERT(c);
    T_CMD(c, "+OK", "SELECT 3");
    T_CMD(c, "$1 m", "GET more");
    T_CMD(c, "$1 5", "GET five");
    redisFree(c);
    T_EQ_INT(sp_stop(&g_srv), 0);
}

static void dump_loads_into_real_redis(void)
{
    srvp r = {0};
    char g_at_h[32];
    snprintf(g_at_h, sizeof g_at_h, ":%lld", g_at + 2);
    T_ASSERT(sp_start_redis(&r, "redis") == 0);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "redis-cli -p %d --pipe < all.resp 2>&1 | tail -n 1", r.port);
    FILE *p = popen(cmd, "r");
    char line[256] = "";
    if (p) {
        if (!fgets(line, sizeof line, p))
            line[0] = '\0';
        pclose(p);
    }
    redisContext *c = sp_connect(&r);
    int ok = c != NULL;
    char buf[512];
    if (ok) {
        /* What Redis holds, in the dump's terms: the same keys, values and times. */
        const char *const checks[][3] = {
            {"0", "GET %b", "$3 v\\x00\\xff"}, {"0", "GET ttl", "$1 x"}, {"0", "DBSIZE", ":7"},
            {"3", "GET five", "$1 5"}, {"3", "DBSIZE", ":1"}, {"5", "GET three", "$1 3"},
            {"5", "GET five-after-swap", "$1 5"}, {"5", "DBSIZE", ":2"}, {"0", "GET %b", "$0 "},
            {"0", "HGET h f2", "$2 v\\x00"}, {"0", "HLEN h", ":2"},
            {"0", "PEXPIRETIME h", g_at_h}, {"0", "SCARD st", ":2"},
            {"0", "SISMEMBER st m1", ":1"}, {"0", "ZSCORE zs n", "$4 -inf"},
            {"0", "ZRANK zs m", ":1"}, {"0", "LINDEX li 0", "$3 one"},
            {"0", "LINDEX li -1", "$5 three"}};
        for (size_t i = 0; ok && i < sizeof checks / sizeof *checks; i++) {
            redisReply *x = redisCommand(c, "SELECT %s", checks[i][0]);
            freeReplyObject(x);
            x = i == 0 ? redisCommand(c, checks[i][1], "a\0\r\nb", (size_t)5)
                : i == 8 ? redisCommand(c, checks[i][1], "", (size_t)0)
                         : redisCommand(c, checks[i][1]);
            sp_show(x, buf, sizeof buf);
            freeReplyObject(x);
            if (strcmp(buf, checks[i][2])) {
                fprintf(stderr, "  redis: %s %s -> %s\n", checks[i][0], checks[i][1], buf);
                ok = 0;
            }
        }
        redisReply *x = redisCommand(c, "SELECT 0");
        freeReplyObject(x);
        x = redisCommand(c, "HKEYS h"); /* loaded in the order its fields came */
        ok = ok && sp_show_deep(x, buf, sizeof buf) && !strcmp(buf, "*2 [$2 f2, $2 f1]");
        freeReplyObject(x);
        x = redisCommand(c, "PEXPIRETIME ttl");
        ok = ok && x && x->type == REDIS_REPLY_INTEGER && x->integer == g_at;
        freeReplyObject(x);
        x = redisCommand(c, "SELECT 3");
        freeReplyObject(x);
        x = redisCommand(c, "PEXPIRETIME five");
        ok = ok && x && x->type == REDIS_REPLY_INTEGER && x->integer == g_at + 1;
        freeReplyObject(x);
        redisFree(c);
    }
    sp_kill(&r);
    T_EQ_STR(line, "errors: 0, replies: 19\n");
    T_ASSERT(ok);
}

static void restores_a_redis_cli_style_file(void)
{
    static const char in[] =
        "SET a 1\r\n"                                          /* inline, as redis-cli */
        "*3\r\n$3\r\nset\r\n$1\r\nb\r\n$3\r\nb\0b\r\n"
        "SET c 3 EX 100\n"
        "SET d 4\r\nSET e 5\r\nDEL d nosuch\r\n"
        "SET a 10 NX\r\nSET zz 1 XX\r\nSET b 2 XX KEEPTTL\r\n"
        "PEXPIREAT e 4102444800000\r\nEXPIRE c 100 NX\r\nEXPIREAT b 1\r\n"
        "SELECT 4\r\nSET f 6\r\nSET g 7 PXAT 4102444800001\r\nFLUSHDB\r\nSET h 8\r\n"
        "SELECT 9\r\nSET i 9\r\nFLUSHALL\r\nSET j 10\r\n"
        "SELECT 4\r\nSET k 11\r\n";
    T_EQ_INT(write_file("cli.resp", in, sizeof in - 1), 0);
    T_EQ_INT(RUN("restore", "cli.mdb", "cli.resp"), 0);
    T_EQ_STR(g_out, "cli.mdb: restored 23 commands\n");
    T_EQ_STR(g_err, "");
    T_EQ_STR(dump_of("cli.mdb"), "SELECT 4\nSET k 11\nSELECT 9\nSET j 10\n");

    /* Without the FLUSHALL: the expiry commands and conditions as Redis applies them. */
    const char *cut = memmem(in, sizeof in - 1, "FLUSHALL", 8);
    T_ASSERT(cut);
    T_EQ_INT(write_file("cli2.resp", in, (size_t)(cut - in)), 0);
    T_EQ_INT(RUN("restore", "cli2.mdb", "cli2.resp"), 0);
    T_EQ_STR(g_out, "cli2.mdb: restored 19 commands\n");
    const char *d = dump_of("cli2.mdb");
    T_ASSERT(!strncmp(d, "SELECT 0\nSET a 1\nSET c 3 PXAT ", 30));
    T_ASSERT(strstr(d, "\nSET e 5 PXAT 4102444800000\nSELECT 4\nSET h 8\nSELECT 9\nSET i 9\n"));
    T_ASSERT(!strstr(d, "SET b") && !strstr(d, "SET d") && !strstr(d, "zz"));

    /* An unknown command stops the restore: the open transaction is rolled back; what a
     * SELECT of a new database committed stays. */
    static const char bad[] = "SET x 1\r\nSELECT 2\r\nSET y 2\r\nBOGUS h f v\r\nSET z 3\r\n";
    T_EQ_INT(write_file("bad.resp", bad, sizeof bad - 1), 0);
    T_EQ_INT(RUN("restore", "bad.mdb", "bad.resp"), 1);
    T_EQ_STR(g_err, "oxistore-check: restore bad.mdb: command 4 (at byte 28): unknown command "
                    "'BOGUS'; commands 1 to 1 were applied, none after\n");
    T_EQ_STR(dump_of("bad.mdb"), "SELECT 0\nSET x 1\n");

    /* Arguments the server would refuse get its error text. */
    static const char *const refused[][2] = {
        {"SET a 1 EX 0\r\n", "command 1 (at byte 0): invalid expire time in 'set' command"},
        {"SET a 1 NX XX\r\n", "command 1 (at byte 0): syntax error"},
        {"SET a 1\r\nEXPIRE a 10 NX GT\r\n", "command 2 (at byte 9): NX and XX, GT or LT "
                                          "options at the same time are not compatible"},
        {"PEXPIREAT a x\r\n", "command 1 (at byte 0): value is not an integer or out of range"},
        {"EXPIRE a 1 bogus\r\n", "command 1 (at byte 0): Unsupported option bogus"},
        {"SELECT 65536\r\n", "command 1 (at byte 0): DB index is out of range"}};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        char want[512];
        T_EQ_INT(write_file("refused.resp", refused[i][0], strlen(refused[i][0])), 0);
        T_EQ_INT(RUN("restore", "refused.mdb", "refused.resp"), 1);
        snprintf(want, sizeof want, "oxistore-check: restore refused.mdb: %s; nothing was "
                 "applied\n", refused[i][1]);
        T_EQ_STR(g_err, want);
    }

    /* Input that ends inside a command, and a protocol error. */
    static const char cut_in[] = "*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$5\r\nab";
    T_EQ_INT(write_file("cut.resp", cut_in, sizeof cut_in - 1), 0);
    T_EQ_INT(RUN("restore", "cut.mdb", "cut.resp"), 1);
    T_EQ_STR(g_err, "oxistore-check: restore cut.mdb: at byte 0: the input ends inside a "
                    "command; nothing was applied\n");
    static const char proto_in[] = "SET q 1\r\n*2\r\n$3\r\nDEL\r\n:1\r\n";
    T_EQ_INT(write_file("proto.resp", proto_in, sizeof proto_in - 1), 0);
    T_EQ_INT(RUN("restore", "proto.mdb", "proto.resp"), 1);
    T_EQ_STR(g_err, "oxistore-check: restore proto.mdb: at byte 9: Protocol error: expected "
                    "'$', got ':'; nothing was applied\n");
    T_EQ_INT(RUN("restore", "proto.mdb", "cli.resp", "extra"), 2);

    /* A score of -0 as Redis stores it loading the same commands: 0 in a listpack (n),
     * -0 once its 129th member made big a skiplist. */
    char zin[4096];
    size_t zn = (size_t)snprintf(zin, sizeof zin, "ZADD n -0 a 1 b\r\nZADD big");
    for (int i = 0; i < 129; i++)
        zn += (size_t)snprintf(zin + zn, sizeof zin - zn, " %d m%03d", i + 1, i);
    zn += (size_t)snprintf(zin + zn, sizeof zin - zn, "\r\nZADD big -0 neg\r\n");
    T_EQ_INT(write_file("negz.resp", zin, zn), 0);
    T_EQ_INT(RUN("restore", "negz.mdb", "negz.resp"), 0);
    d = dump_of("negz.mdb");
    T_ASSERT(strstr(d, "ZADD n 0 a\n"));
    T_ASSERT(strstr(d, "ZADD big -0 neg\n"));
}

/* The progress line: drawn on a terminal (script(1) gives the tool one), '\r'-updated
 * and erased at the end; never in a pipe or a file (the other tests see an empty
 * stderr). */
/* FLUSHDB and FLUSHALL in a restore clear the member tables too, as the server's do:
 * nothing of the collections before them is left in the file. */
static void restore_flushes_clear_the_members(void)
{
    static const char in[] = "HSET h f1 v1 f2 v2\nSADD s a b c\nSELECT 1\nRPUSH l x y\n"
                             "SELECT 2\nZADD z 1 m\nFLUSHDB\nFLUSHALL\nSELECT 0\nHSET g f v\n";
    T_EQ_INT(write_file("fl.resp", in, sizeof in - 1), 0);
    T_EQ_INT(RUN("restore", "fl.mdb", "fl.resp"), 0);
    T_EQ_STR(g_out, "fl.mdb: restored 10 commands\n");
    T_EQ_INT(RUN("stat", "fl.mdb"), 0);
    T_ASSERT(strstr(g_out, "\ntable m0: 2 keys, 0 expiring\n")); /* g's back link, f */
    T_ASSERT(strstr(g_out, "\ntable m1: 0 keys, 0 expiring\n"));
    T_ASSERT(strstr(g_out, "\ntable m2: 0 keys, 0 expiring\n"));
    T_EQ_STR(dump_of("fl.mdb"), "SELECT 0\nHSET g f v\n");
}

/* A collection's record (table "0" of the open store) decoded into *m. */
static int meta_of(ox_store *s, const char *key, coll_meta *m)
{
    void *v;
    size_t n;
    int rc = ox_get(ox_store_table(s), key, strlen(key), &v, &n);
    if (rc == OX_OK) {
        rc = coll_meta_decode(v, n, m);
        free(v);
    }
    return rc;
}

/* Member key [id][sub][score?][name] (name NUL-terminated) into buf: its length. */
static size_t mkey(unsigned char *buf, uint64_t id, int sub, const double *score,
                   const char *name)
{
    size_t n = coll_member_key(buf, id, sub, NULL, 0);
    if (score)
        coll_score_put(buf + n, *score), n += 8;
    memcpy(buf + n, name, strlen(name));
    return n + strlen(name);
}

/* Collections written by a server (a rank index at fanout 2 included), then damaged one
 * way each with the library: check names each key and what disagrees first, in key order,
 * and passes the one left alone. */
static void collections_disagreeing_with_their_records_are_named(void)
{
    srvp p = {0};
    const char *extra[] = {"--zset-rank-fanout", "2", NULL};
    T_ASSERT(sp_start_argv(&p, "verify", extra) == 0);
    redisContext *c = sp_connect(&p);
    T_ASSERT(c);
    char v[32], path[700], want[8192];
    T_CMD(c, ":10", "HSET h f0 v f1 v f2 v f3 v f4 v f5 v f6 v f7 v f8 v f9 v");
    T_CMD(c, ":5", "RPUSH l a b c d e");
    T_CMD(c, ":8", "LPUSH l 1 2 3");
    T_CMD(c, ":3", "SADD s a b c");
    T_CMD(c, ":2", "ZADD y 1 a 2 b");
    T_CMD(c, ":3", "ZADD x 1 a 2 b 3 c");
    T_CMD(c, ":2", "RPUSH ok x y");
    T_CMD(c, ":3", "HSET o c 1 b 2 a 3");
    for (int i = 0; i < 300; i++)
        redisAppendCommand(c, "ZADD z %d m%03d", i / 2, i);
    for (int i = 0; i < 300; i++) {
        redisReply *r;
        T_EQ_INT(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    unsigned long long built =
        strtoull(sp_info_field(c, "stats", "zset_rank_indexes_built", v, sizeof v), NULL, 10);
    T_CMD(c, ":1", "ZRANK z m001");
    uint64_t deadline = t_now_ms() + 20000;
    while (strtoull(sp_info_field(c, "stats", "zset_rank_indexes_built", v, sizeof v), NULL,
                    10) <= built && t_now_ms() < deadline)
        usleep(10000); /* polls the counter: the index is built in background slices */
    T_ASSERT(strtoull(v, NULL, 10) > built);
    T_CMD(c, ":41", "ZREMRANGEBYRANK z 10 50"); /* fences removed: some slide */
    redisFree(c);
    T_EQ_INT(sp_stop(&p), 0);
    snprintf(path, sizeof path, "%s/oxistore.mdb", p.dir);
    T_EQ_INT(RUN("check", path), 0);
    T_EQ_STR(g_err, "");
    snprintf(want, sizeof want, "%s: collections: 8 (290 members), every one consistent\n",
             path);
    const char *second = strchr(g_out, '\n');
    T_EQ_STR(second ? second + 1 : g_out, want);

    ox_store *s;
    ox_table *m0;
    coll_meta h, l, o, st, x, y, z;
    unsigned char k[64], be[8];
    double two = 2;
    T_EQ_INT(open_fixture(path, &s), OX_OK);
    T_EQ_INT(ox_table_open(s, "m0", &m0), OX_OK);
    T_EQ_INT(meta_of(s, "h", &h) | meta_of(s, "l", &l) | meta_of(s, "s", &st) |
             meta_of(s, "x", &x) | meta_of(s, "y", &y) | meta_of(s, "z", &z) |
             meta_of(s, "o", &o), OX_OK);
    T_EQ_INT(o.order, 4); /* b's record loses its number (hash_fmt.h) */
    T_EQ_INT(ox_put(m0, k, mkey(k, o.id, COLL_SUB_FIELD, NULL, "b"), "2", 1), OX_OK);
    T_EQ_INT(ox_delete(m0, k, mkey(k, h.id, COLL_SUB_FIELD, NULL, "f3")), OX_OK);
    coll_pos_put(k + coll_member_key(k, l.id, COLL_SUB_LIST, NULL, 0), l.head + 4);
    T_EQ_INT(ox_delete(m0, k, COLL_KEY_PREFIX + 8), OX_OK);
    T_EQ_INT(ox_put(m0, k, mkey(k, st.id, COLL_SUB_FIELD, NULL, "d"), "", 0), OX_OK);
    T_EQ_INT(ox_delete(m0, k, mkey(k, y.id, COLL_SUB_SCORE, &two, "b")), OX_OK);
    void *hv; /* the level-1 head of z's rank index counts one more */
    size_t hn;
    T_EQ_INT(ox_get(m0, k, coll_member_key(k, z.id, 'R', NULL, 0), &hv, &hn), OX_OK);
    T_EQ_INT(hn, 8);
    uint64_t heads = coll_be64_get(hv);
    free(hv);
    coll_be64_put(be, heads + 1);
    T_EQ_INT(ox_put(m0, k, COLL_KEY_PREFIX, be, 8), OX_OK);
    unsigned char meta[COLL_META_MAX]; /* x's lower bound past its first member */
    x.zb.lo.len = (unsigned char)(mkey(k, 0, 0, &two, "b") - COLL_KEY_PREFIX);
    memcpy(x.zb.lo.b, k + COLL_KEY_PREFIX, x.zb.lo.len);
    ox_txn *tx;
    T_EQ_INT(ox_txn_begin(s, &tx), OX_OK);
    T_EQ_INT(ox_txn_put(tx, ox_store_table(s), "x", 1, meta, coll_meta_encode(meta, DB_ZSET, &x),
                        0, OX_PUT_KIND(DB_ZSET) | OX_PUT_KEEPTTL), OX_OK);
    T_EQ_INT(ox_txn_commit(tx), OX_OK);
    T_EQ_INT(ox_store_close(s), OX_OK);

    T_EQ_INT(RUN("check", path), 1);
    T_EQ_STR(g_err, "");
    snprintf(want, sizeof want,
             "%1$s: damaged: db 0, key h: 9 members for a count of 10\n"
             "%1$s: damaged: db 0, key l: element 4 is not at position %2$lld\n"
             "%1$s: damaged: db 0, key o: field 2 (in name order) is not a listpack's: no "
             "number, or too long\n"
             "%1$s: damaged: db 0, key s: 4 members for a count of 3\n"
             "%1$s: damaged: db 0, key x: the entry of member a (score 1) is outside the "
             "set's bounds\n"
             "%1$s: damaged: db 0, key y: member b (score 2) has no index entry\n"
             "%1$s: damaged: db 0, key z: level 1: a head counts %3$llu entries, %4$llu "
             "follow it\n"
             "%1$s: damaged: 7 of 8 collections\n",
             path, (long long)l.head + 4, (unsigned long long)heads + 1,
             (unsigned long long)heads);
    second = strchr(g_out, '\n');
    T_EQ_STR(second ? second + 1 : g_out, want);
    /* the server refuses b's value, still deletes b, and o is whole again */
    T_ASSERT(sp_start_argv(&p, "verify", extra) == 0);
    T_ASSERT((c = sp_connect(&p)) != NULL);
    T_CMD(c, "-ERR store file is corrupted", "HGET o b");
    T_CMD(c, "-ERR store file is corrupted", "HGETALL o"); /* before any of the reply */
    T_CMD(c, "-ERR store file is corrupted", "HSCAN o 0"); /* nothing held after it */
    T_CMD(c, ":1", "HDEL o b");
    T_DEEP(c, "*4 [$1 c, $1 1, $1 a, $1 3]", "HGETALL o");
    redisFree(c);
    T_EQ_INT(sp_stop(&p), 0);
}

static void progress_only_on_a_terminal(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "script -qec '%s dump hot.mdb tty.resp' /dev/null > tty.out "
             "2>&1 </dev/null", OX_CHECK_BIN);
    T_EQ_INT(system(cmd), 0);
    char buf[4096];
    slurp("tty.out", buf, sizeof buf);
    T_ASSERT(strstr(buf, "\rdumping: 1/"));
    T_ASSERT(strstr(buf, " keys (") && strstr(buf, "\r\033[Khot.mdb: dumped "));
    T_EQ_INT(RUN("dump", "hot.mdb", "notty.resp"), 0);
    T_EQ_STR(g_err, "");
    T_ASSERT(!strncmp(g_out, "hot.mdb: dumped ", 16));
}

int main(void)
{
    T_RUN(usage_errors_exit_2);
    T_RUN(clean_file_checks_and_stats_exactly);
    T_RUN(damaged_page_is_named);
    T_RUN(repair_falls_back_to_the_previous_snapshot);
    T_RUN(in_use_file_refuses_repair_and_backs_up_hot);
    T_RUN(crashed_file_is_read_with_its_log);
    T_RUN(dump_restore_round_trip_after_swapdb);
    T_RUN(dump_loads_into_real_redis);
    T_RUN(restores_a_redis_cli_style_file);
    T_RUN(restore_flushes_clear_the_members);
    T_RUN(progress_only_on_a_terminal);
    T_RUN(collections_disagreeing_with_their_records_are_named);
    int bad = 0;
    if (g_srv.pid)
        bad = sp_stop_or_dump(&g_srv);
    return T_MAIN_END() || bad;
}
