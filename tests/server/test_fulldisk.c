/* A real full disk (#16): a 20 MiB tmpfs in a private mount namespace, as a new user would
 * meet one. The server fills it until 300 writes in a row are refused; every write it
 * acknowledged is there, and no refused one, now, after a SIGKILL and a restart on the
 * still-full disk (which serves reads and refuses writes), and after the disk grows. A
 * first start on a 12 MiB tmpfs, without room for the write-ahead log, fails, says what
 * it needs and leaves nothing behind.
 *
 * Needs root (unshare and mount); without it the test says SKIP and runs nothing. */
#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include "srv_util.h"

T_MAIN_BEGIN;

#define VAL_LEN 1000
#define RUN_REFUSED 300 /* refusals in a row that end the fill, as in the issue */
#define MAX_KEYS 60000  /* a bound: refusals and writes into freed pages alternate long */
#define MISCONF_FULL "MISCONF Errors writing to the data file: no space left"

static char g_mnt[600];
static unsigned char g_acked[MAX_KEYS]; /* k:i got +OK */
static int g_nkeys;                     /* k:0 .. k:g_nkeys-1 were sent */

/* A private mount namespace with a tmpfs of size_mib at g_mnt. -1 if not permitted. */
static int private_tmpfs(int size_mib)
{
    const char *base = t_dir();
    char opts[32];
    snprintf(g_mnt, sizeof g_mnt, "%s/tmpfs", base);
    snprintf(opts, sizeof opts, "size=%dm", size_mib);
    mkdir(g_mnt, 0755);
    if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
        mount("tmpfs", g_mnt, "tmpfs", 0, opts))
        return -1;
    return 0;
}

static int resize_tmpfs(int size_mib)
{
    char opts[32];
    snprintf(opts, sizeof opts, "size=%dm", size_mib);
    return mount(NULL, g_mnt, NULL, MS_REMOUNT, opts);
}

static int write_file(const char *path, size_t len)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    static char buf[1 << 16];
    memset(buf, 'x', sizeof buf);
    for (size_t n = 0; n < len; n += sizeof buf)
        if (fwrite(buf, 1, sizeof buf, f) != sizeof buf)
            break;
    return fclose(f);
}

/* The server with its data in dir (on the tmpfs), its log beside the test's other files. */
static int start_on(srvp *p, const char *dir)
{
    const char *const args[] = {"--dir", dir, NULL};
    return sp_start_argv(p, "fulldisk", args);
}

/* What the writes after the fill left: c's value (0: none), m:1 and m:2, e:1. */
static struct {
    int c, m, e;
} g_others;

/* 1 if the reply to the command is `want` (sp_show's form), 0 if it is the full disk's
 * -MISCONF, -1 otherwise. */
static int reply_is(redisContext *c, const char *want, const char *cmd)
{
    redisReply *r = redisCommand(c, cmd);
    char shown[128];
    sp_show(r, shown, sizeof shown);
    freeReplyObject(r);
    if (!strcmp(shown, want))
        return 1;
    if (!strcmp(shown, "-" MISCONF_FULL))
        return 0;
    fprintf(stderr, "  %s answered %s\n", cmd, shown);
    return -1;
}

/* Every k:i the fill acknowledged holds its value, no refused one exists, the keys of the
 * later writes are as g_others says, and DBSIZE counts exactly these. */
static void check_contents(redisContext *c, const char *when)
{
    static char want[VAL_LEN + 1];
    long long acked = 0;
    for (int i = 0; i < g_nkeys; i++) {
        acked += g_acked[i];
        redisAppendCommand(c, "GET k:%d", i);
    }
    for (int i = 0; i < g_nkeys; i++) {
        redisReply *r;
        T_ASSERT(redisGetReply(c, (void **)&r) == REDIS_OK);
        memset(want, 'a' + i % 26, VAL_LEN);
        int ok = g_acked[i] ? r->type == REDIS_REPLY_STRING && r->len == VAL_LEN &&
                                  !memcmp(r->str, want, VAL_LEN)
                            : r->type == REDIS_REPLY_NIL;
        freeReplyObject(r);
        if (!ok)
            T_FAIL("%s: k:%d is wrong (it was %s)", when, i,
                   g_acked[i] ? "acknowledged" : "refused");
    }
    char cval[16];
    snprintf(cval, sizeof cval, "$2 %d", g_others.c);
    T_CMD(c, g_others.c ? cval : "(nil)", "GET c");
    T_CMD(c, g_others.m ? "$1 1" : "(nil)", "GET m:1");
    T_CMD(c, g_others.m ? "$1 2" : "(nil)", "GET m:2");
    T_CMD(c, g_others.e ? "$1 x" : "(nil)", "GET e:1");
    long long others = (g_others.c != 0) + 2 * g_others.m + g_others.e;
    redisReply *r = redisCommand(c, "DBSIZE");
    T_ASSERT(r && r->type == REDIS_REPLY_INTEGER);
    long long n = r->integer;
    freeReplyObject(r);
    if (n != acked + others)
        T_FAIL("%s: DBSIZE %lld, expected %lld acknowledged + %lld", when, n, acked, others);
}

/* Counts the lines of p's log holding `what` into *n; *first: the first of them says how
 * often such lines come. */
static void count_log_lines(const srvp *p, const char *what, int *n, int *first)
{
    FILE *f = fopen(p->log, "r");
    char line[1024];
    *n = *first = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (!strstr(line, what))
            continue;
        if (!(*n)++)
            *first = strstr(line, "(such failures are logged at most once every 30 seconds)") != 0;
    }
    if (f)
        fclose(f);
}

/* The sequence: fill until RUN_REFUSED SETs in a row are refused, then the writes
 * that were refused in it (INCR, MSET, EXEC, FLUSHDB), SIGKILL, restart. */
static void refused_writes_on_a_full_tmpfs_stay_refused(void)
{
    char dir[700], ballast[700];
    snprintf(dir, sizeof dir, "%s/data", g_mnt);
    snprintf(ballast, sizeof ballast, "%s/ballast", g_mnt);
    T_ASSERT(write_file(ballast, 1u << 20) == 0);
    srvp p = {0};
    if (start_on(&p, dir)) {
        sp_dump_log(&p);
        T_FAIL("server did not start on the tmpfs");
    }
    redisContext *c = sp_connect(&p);
    T_ASSERT(c);
    T_CMD(c, "+OK", "SET c 10");
    memset(&g_others, 0, sizeof g_others);
    static char v[VAL_LEN];
    int run = 0, ok = 0;
    uint64_t fill_start = t_now_ms();
    for (g_nkeys = 0; run < RUN_REFUSED && g_nkeys < MAX_KEYS; g_nkeys++) {
        memset(v, 'a' + g_nkeys % 26, VAL_LEN);
        redisReply *r = redisCommand(c, "SET k:%d %b", g_nkeys, v, (size_t)VAL_LEN);
        T_ASSERT(r);
        g_acked[g_nkeys] = r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "OK");
        if (!g_acked[g_nkeys] && (r->type != REDIS_REPLY_ERROR || strcmp(r->str, MISCONF_FULL)))
            T_FAIL("SET k:%d answered neither +OK nor -%s: %s", g_nkeys, MISCONF_FULL,
                   r->type == REDIS_REPLY_ERROR ? r->str : "(not an error)");
        freeReplyObject(r);
        ok += g_acked[g_nkeys];
        run = g_acked[g_nkeys] ? 0 : run + 1;
    }
    uint64_t fill_s = (t_now_ms() - fill_start) / 1000;
    printf("fill: %d SETs acknowledged, %d refused with -MISCONF\n", ok, g_nkeys - ok);
    /* The log has one line per 30 seconds of refusals, not one per refusal. */
    int lines = 0, first = 0;
    count_log_lines(&p, "Write transaction failed: no space left", &lines, &first);
    printf("log: %d lines of failed commits in %llu s\n", lines, (unsigned long long)fill_s);
    T_ASSERT(lines >= 1 && (uint64_t)lines <= 1 + fill_s / 30);
    T_ASSERT(first);
    T_ASSERT(run == RUN_REFUSED);
    /* The disk's space goes to the data: a refusal that kept the freed pages pinned stopped
     * at 148 keys of the ~2980 that fit. */
    T_ASSERT(ok > 2000);
    /* The writes of the step 4. Each is refused, or taken if it fits in pages a
     * checkpoint freed meanwhile: the model follows the replies. */
    int incr = reply_is(c, ":11", "INCR c"), mset = reply_is(c, "+OK", "MSET m:1 1 m:2 2");
    T_CMD(c, "+OK", "MULTI");
    T_CMD(c, "+QUEUED", "SET e:1 x");
    redisReply *r = redisCommand(c, "EXEC");
    T_ASSERT(r);
    int exec = r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
               r->element[0]->type == REDIS_REPLY_STATUS;
    T_ASSERT(exec || (r->type == REDIS_REPLY_ERROR && !strcmp(r->str, MISCONF_FULL)) ||
             (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
              r->element[0]->type == REDIS_REPLY_ERROR &&
              !strcmp(r->element[0]->str, MISCONF_FULL)));
    freeReplyObject(r);
    int flush = reply_is(c, "+OK", "FLUSHDB");
    T_ASSERT(incr >= 0 && mset >= 0 && flush >= 0);
    printf("then: INCR %s, MSET %s, EXEC %s, FLUSHDB %s\n", incr ? "taken" : "refused",
           mset ? "taken" : "refused", exec ? "taken" : "refused", flush ? "taken" : "refused");
    if (flush)
        memset(g_acked, 0, sizeof g_acked);
    g_others.c = flush ? 0 : 10 + incr;
    g_others.m = mset && !flush;
    g_others.e = exec && !flush;
    check_contents(c, "before the kill");
    if (t_failed_now)
        return;
    redisFree(c);
    sp_kill(&p);

    /* A restart on the disk still full: it starts, serves reads, refuses writes. */
    if (start_on(&p, dir)) {
        sp_dump_log(&p);
        T_FAIL("server did not restart on the full disk");
    }
    c = sp_connect(&p);
    T_ASSERT(c);
    check_contents(c, "after SIGKILL, restarted on the full disk");
    if (t_failed_now)
        return;
    /* A small write may fit in pages the recovery freed; 4 MB cannot fit. */
    size_t blen = 4u << 20;
    char *bigv = calloc(1, blen);
    T_ASSERT(bigv);
    r = redisCommand(c, "SET k:0 %b", bigv, blen);
    free(bigv);
    T_ASSERT(r && r->type == REDIS_REPLY_ERROR && !strcmp(r->str, MISCONF_FULL));
    freeReplyObject(r);
    check_contents(c, "after a refused write on the full disk");
    if (t_failed_now)
        return;
    redisFree(c);
    sp_kill(&p);

    /* Room again: everything acknowledged is there, and writes are taken. */
    T_ASSERT(resize_tmpfs(64) == 0);
    if (start_on(&p, dir)) {
        sp_dump_log(&p);
        T_FAIL("server did not restart once the disk grew");
    }
    c = sp_connect(&p);
    T_ASSERT(c);
    check_contents(c, "after the disk grew");
    T_CMD(c, "+OK", "SET k:0 other");
    redisFree(c);
    T_EQ_INT(sp_stop(&p), 0);
    T_EQ_INT(unlink(ballast), 0);
}

/* Mounts a tmpfs of size_kib at base + suffix (kept in out). */
static int mount_tmpfs(const char *suffix, int size_kib, char *out, size_t cap)
{
    char opts[32];
    snprintf(out, cap, "%s%s", g_mnt, suffix);
    snprintf(opts, sizeof opts, "size=%dk", size_kib);
    mkdir(out, 0755);
    return mount("tmpfs", out, "tmpfs", 0, opts);
}

/* The start failed, the log says why (what a new data file needs, when the log was what did
 * not fit), no signal ended it (LMDB's lock file on a full tmpfs once raised SIGBUS), and
 * mnt holds exactly what it held before (keep: a directory that must stay). */
static void check_failed_start(const srvp *p, const char *mnt, int needs_line, const char *keep)
{
    struct statvfs v;
    T_ASSERT(statvfs(mnt, &v) == 0);
    if (v.f_bfree != v.f_blocks - (keep ? 0 : 0)) {
        char cmd[800];
        snprintf(cmd, sizeof cmd, "ls -laR %s >&2", mnt);
        if (system(cmd)) { /* only a listing for the failure's message */ }
        T_FAIL("%s: %llu blocks of %llu left in use after a failed start", mnt,
               (unsigned long long)(v.f_blocks - v.f_bfree), (unsigned long long)v.f_blocks);
    }
    FILE *f = fopen(p->log, "r");
    T_ASSERT(f);
    char line[1024];
    int said = 0, refused = 0, crashed = 0;
    while (fgets(line, sizeof line, f)) {
        said |= strstr(line, "no space left (a new data file needs 16 MiB free for its "
                             "write-ahead log") != NULL;
        refused |= strstr(line, "data file") && strstr(line, "no space left");
        crashed |= strstr(line, "AddressSanitizer") || strstr(line, "Bus error") ||
                   strstr(line, "SIGBUS");
    }
    fclose(f);
    if (!refused || crashed || (needs_line && !said)) {
        sp_dump_log(p);
        T_FAIL("%s: the log does not say the disk is full, or the server crashed", mnt);
    }
    if (keep) {
        struct stat st;
        T_ASSERT(stat(keep, &st) == 0 && S_ISDIR(st.st_mode));
    }
}

/* A first start with less room than the write-ahead log takes (16 MiB): it fails, the log
 * says what is needed, and nothing it created is left on the disk, not even the new
 * directories of a path through "..", whose existing directory stays. */
static void first_start_without_room_fails_cleanly(void)
{
    char mnt[640], dir[720], keep[720];
    T_ASSERT(mount_tmpfs("2", 12 << 10, mnt, sizeof mnt) == 0);
    snprintf(keep, sizeof keep, "%s/existing", mnt);
    T_ASSERT(mkdir(keep, 0755) == 0);
    snprintf(dir, sizeof dir, "%s/new/../existing/data", mnt);
    srvp p = {0};
    T_ASSERT(start_on(&p, dir) != 0); /* it exited (sp_wait_ready saw it go) */
    check_failed_start(&p, mnt, 1, keep);
    T_EQ_INT(rmdir(keep), 0);
    T_EQ_INT(umount(mnt), 0);
}

/* Just room for the log, not for the rest: every size from 0 to 96 KiB more than 16 MiB
 * either starts, or fails as above (it left the 16 MiB log behind). */
static void first_start_with_room_for_the_log_alone_fails_cleanly(void)
{
    int started = 0, failed = 0;
    for (int extra = 0; extra <= 96; extra += 8) {
        char mnt[640], dir[720], suffix[16];
        snprintf(suffix, sizeof suffix, "3-%d", extra);
        T_ASSERT(mount_tmpfs(suffix, (16 << 10) + extra, mnt, sizeof mnt) == 0);
        snprintf(dir, sizeof dir, "%s/data", mnt);
        srvp p = {0};
        if (start_on(&p, dir) == 0) {
            started++;
            T_EQ_INT(sp_stop(&p), 0);
        } else {
            failed++;
            check_failed_start(&p, mnt, 0, NULL);
            if (t_failed_now)
                return;
        }
        unlink(p.log);
    }
    printf("16 MiB + 0..96 KiB: %d starts failed cleanly, %d started\n", failed, started);
    T_ASSERT(failed > 0);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIP test_fulldisk: needs root (a private mount namespace and a tmpfs)\n");
        return T_MAIN_END();
    }
    if (private_tmpfs(20)) {
        perror("unshare or mount");
        printf("RESULT 0 1\n");
        return 1;
    }
    T_RUN(refused_writes_on_a_full_tmpfs_stay_refused);
    T_RUN(first_start_without_room_fails_cleanly);
    T_RUN(first_start_with_room_for_the_log_alone_fails_cleanly);
    return T_MAIN_END();
}
