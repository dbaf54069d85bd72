/* The write path's durability: the write-ahead log and the checkpoints that write the write
 * buffer to LMDB. Recovery after a crash of the process (SIGKILL) and of the machine
 * (simulated: what reached the disk is the data file as of a checkpoint, with any subset
 * of a later checkpoint's pages, and the log as synced), a policy changed at run time, a
 * small log that switches segments, records larger than a segment, a file that stays near
 * its live data, one writer process, and offline tools on a store a crash left. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib_util.h"
#include "test.h"

T_MAIN_BEGIN;

#define SEG_SMALL (1u << 20) /* the smallest log segment: a few thousand small records */

static int open_sync(const char *path, size_t wal_size, int sync, ox_store **s)
{
    ox_options o;
    ox_options_init(&o);
    o.wal_size = wal_size;
    o.sync = sync;
    return ox_store_open(path, &o, s);
}

static int open_wal(const char *path, size_t wal_size, ox_store **s)
{
    return open_sync(path, wal_size, OX_SYNC_ALWAYS, s);
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char buf[65536];
    int rc = in < 0 || out < 0 ? -1 : 0;
    ssize_t n;
    while (rc == 0 && (n = read(in, buf, sizeof buf)) > 0)
        rc = write(out, buf, (size_t)n) == n ? 0 : -1;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

/* Copies the log segments of store `from` beside store `to` (their names follow). */
static int copy_log(const char *from, const char *to)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", from);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : from;
    size_t bl = strlen(base);
    if (slash)
        *slash = '\0';
    DIR *d = opendir(slash ? dir : ".");
    int rc = d ? 0 : -1;
    for (struct dirent *e; rc == 0 && d && (e = readdir(d));) {
        if (strncmp(e->d_name, base, bl) || strncmp(e->d_name + bl, "-wal.", 5))
            continue;
        char src[PATH_MAX + 300], dst[PATH_MAX + 300];
        snprintf(src, sizeof src, "%s/%s", slash ? dir : ".", e->d_name);
        snprintf(dst, sizeof dst, "%s%s", to, e->d_name + bl);
        rc = copy_file(src, dst);
    }
    if (d)
        closedir(d);
    return rc;
}

/* The key of write i: "k%06d", and every seventh one a long key (600 to 4600 bytes, more
 * than LMDB's 511), so that the log replays long keys too. */
#define WAL_KEY_MAX 4608
static size_t wal_key(char *k, int i)
{
    size_t n = (size_t)snprintf(k, WAL_KEY_MAX, "k%06d", i);
    if (i % 7)
        return n;
    size_t len = 600 + (size_t)(i % 3) * 2000;
    for (size_t j = n; j < len; j++)
        k[j] = (char)('A' + (j * 31 + (size_t)i) % 26);
    return len;
}

/* Write i of the children: key i = value (vsize bytes of 'a' + i % 26), every third with
 * a TTL; after every fifth, the key four before it deleted again. */
static int write_one(ox_table *t, int i, char *v, size_t vsize)
{
    char k[WAL_KEY_MAX];
    size_t kl = wal_key(k, i);
    memset(v, 'a' + i % 26, vsize);
    int rc = i % 3 ? ox_put(t, k, kl, v, vsize) : ox_put_with_ttl(t, k, kl, v, vsize, 3600000);
    if (rc == OX_OK && i % 5 == 4) {
        kl = wal_key(k, i - 4);
        rc = ox_delete(t, k, kl);
    }
    return rc;
}

/* 1 if the store holds exactly the state after the first n writes (every acknowledged
 * write of them there, no deleted key back, the count exact), else 0 with why. */
static int writes_match(ox_store *s, int n, size_t vsize, char *why, size_t whylen)
{
    ox_table *t = ox_store_table(s);
    uint64_t count;
    int live = 0;
    for (int i = 0; i < n; i++) {
        char k[WAL_KEY_MAX];
        size_t kl = wal_key(k, i);
        void *got = NULL;
        size_t len;
        int deleted = i % 5 == 0 && i + 4 < n;
        int rc = ox_get(t, k, kl, &got, &len);
        int ok = 1;
        if (deleted) {
            if (rc != OX_NOTFOUND) {
                snprintf(why, whylen, "deleted key %.7s is back", k);
                ok = 0;
            }
        } else if (rc != OX_OK || len != vsize ||
                   (vsize && ((char *)got)[vsize - 1] != 'a' + i % 26)) {
            snprintf(why, whylen, "key %.7s lost (rc %d)", k, rc);
            ok = 0;
        } else {
            uint64_t ms;
            live++;
            if (i % 3 == 0 && (ox_ttl(t, k, kl, &ms) != OX_OK || ms > 3600000)) {
                snprintf(why, whylen, "ttl of %.7s lost", k);
                ok = 0;
            }
        }
        free(got);
        if (!ok)
            return 0;
    }
    if (ox_count(t, &count) != OX_OK || count != (uint64_t)live) {
        snprintf(why, whylen, "count %llu, expected %d", (unsigned long long)count, live);
        return 0;
    }
    return 1;
}

/* Every acknowledged write of the first n is there, no deleted key is back. */
static void verify_writes(ox_store *s, int n, size_t vsize)
{
    char why[128];
    if (!writes_match(s, n, vsize, why, sizeof why))
        T_FAIL("%s", why);
}

/* ---- a child that writes and tells ---------------------------------------------------- */

/* A child's program: it opens path with its options, then writes keys 0..n-1, saying 'a'
 * after each acknowledged write on the pipe. At the writes listed in `at` (ascending, -1
 * ends the list) it does what `what` says there: 'C' checkpoints, then says 'C';
 * 'N'/'A' switches to OX_SYNC_NO/ALWAYS; 'W' says 'W' and waits for the parent's byte.
 * After the last write it says 'E' and waits to be killed. */
typedef struct child_plan {
    int sync;
    size_t wal_size, mem_limit, vsize;
    int n;
    int at[8];
    char what[8];
} child_plan;

static void child_main(const char *path, const child_plan *p, int up, int down)
{
    ox_store *s;
    ox_options o;
    ox_options_init(&o);
    o.sync = p->sync;
    o.wal_size = p->wal_size;
    o.mem_limit = p->mem_limit;
    o.ckpt_age_ms = 3600000; /* checkpoints only where the plan says, or when full */
    o.ckpt_idle_ms = 3600000;
    if (ox_store_open(path, &o, &s))
        _exit(2);
    ox_table *t = ox_store_table(s);
    char *v = malloc(p->vsize + 1), c;
    int step = 0;
    for (int i = 0; i <= p->n; i++) {
        while (step < 8 && p->at[step] == i) {
            char w = p->what[step++];
            int rc = OX_OK;
            if (w == 'C')
                rc = ox_store_checkpoint(s);
            else if (w == 'N' || w == 'A')
                rc = ox_store_set_sync(s, w == 'N' ? OX_SYNC_NO : OX_SYNC_ALWAYS);
            if (rc || ((w == 'C' || w == 'W') && write(up, &w, 1) != 1))
                _exit(5);
            if (w == 'W' && read(down, &c, 1) != 1)
                _exit(6);
        }
        if (i == p->n)
            break;
        if (write_one(t, i, v, p->vsize) || write(up, "a", 1) != 1)
            _exit(4);
    }
    if (write(up, "E", 1) != 1)
        _exit(3);
    for (;;)
        pause();
}

/* Runs a child on plan; on each 'W' or 'C' it says, calls at(ctx, byte) (may be NULL).
 * When it ends, kills it. Returns the acknowledged writes. */
static int run_child(const char *path, const child_plan *plan,
                     void (*at)(void *ctx, char what), void *ctx)
{
    int up[2], down[2];
    if (pipe(up) || pipe(down))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        child_main(path, plan, up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    char c;
    int acked = 0;
    while (read(up[0], &c, 1) == 1 && c != 'E') {
        acked += c == 'a';
        if (c != 'a' && at)
            at(ctx, c);
        if (c == 'W' && write(down[1], "g", 1) != 1)
            break;
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(up[0]);
    close(down[1]);
    return acked;
}

/* ---- a machine crash ------------------------------------------------------------------------ */

#define PAGE 4096

typedef struct mcrash {
    char path[512], base[512], final[512], logcopy[512];
    int checkpoints;
} mcrash;

/* The scratch paths of machine-crash test `name`. */
static void mcrash_paths(mcrash *m, const char *name)
{
    snprintf(m->path, sizeof m->path, "%s.mdb", u_path(name));
    snprintf(m->base, sizeof m->base, "%s.base", u_path(name));
    snprintf(m->final, sizeof m->final, "%s.final", u_path(name));
    snprintf(m->logcopy, sizeof m->logcopy, "%s.logcopy", u_path(name));
}

/* The plan's 'C' and 'W': the data file after the first checkpoint (the base), the log
 * when every write is in it (before the second checkpoint releases any of it), the data
 * file after the second checkpoint (the final). */
static void mcrash_at(void *ctx, char what)
{
    mcrash *m = ctx;
    if (what == 'C' && m->checkpoints++ == 0)
        copy_file(m->path, m->base);
    else if (what == 'C')
        copy_file(m->path, m->final);
    else if (what == 'W')
        copy_log(m->path, m->logcopy);
}

/* The disk after a crash in the middle of the second checkpoint: the base, with a random
 * half of the pages that checkpoint wrote (its meta page never made it), and the log. */
static void build_crashed(const mcrash *m, const char *out, unsigned seed, int with_meta)
{
    T_EQ_INT(copy_file(m->base, out), 0);
    int fin = open(m->final, O_RDONLY), fo = open(out, O_RDWR);
    T_ASSERT(fin >= 0 && fo >= 0);
    unsigned char a[PAGE], b[PAGE];
    int changed = 0;
    srand(seed);
    for (off_t off = 2 * PAGE; pread(fin, a, PAGE, off) == PAGE; off += PAGE) {
        ssize_t r = pread(fo, b, PAGE, off);
        if (r == PAGE && !memcmp(a, b, PAGE))
            continue;
        changed++;
        if (with_meta || rand() % 2)
            T_EQ_INT((int)pwrite(fo, a, PAGE, off), PAGE);
    }
    if (with_meta) {
        T_EQ_INT((int)pread(fin, a, PAGE, 0), PAGE);
        T_EQ_INT((int)pwrite(fo, a, PAGE, 0), PAGE);
        T_EQ_INT((int)pread(fin, a, PAGE, PAGE), PAGE);
        T_EQ_INT((int)pwrite(fo, a, PAGE, PAGE), PAGE);
    }
    close(fin);
    close(fo);
    T_ASSERT(changed > 0);
    char logdst[600];
    snprintf(logdst, sizeof logdst, "%s", out);
    /* The log copy was made under the name m->logcopy: its segments go beside out. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", m->logcopy);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : m->logcopy;
    size_t bl = strlen(base);
    *slash = '\0';
    DIR *d = opendir(dir);
    T_ASSERT(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, base, bl) || strncmp(e->d_name + bl, "-wal.", 5))
            continue;
        char src[PATH_MAX + 300], dst[PATH_MAX + 300];
        snprintf(src, sizeof src, "%s/%s", dir, e->d_name);
        snprintf(dst, sizeof dst, "%s%s", logdst, e->d_name + bl);
        T_EQ_INT(copy_file(src, dst), 0);
    }
    closedir(d);
}

/* A child writes n keys under `sync`, checkpointing after the first half and again after
 * the last; the machine crashes during that second checkpoint (several ways): every
 * acknowledged write is back, and the file checks clean. */
static void machine_crash(const char *name, int sync, int open_sync_policy)
{
    mcrash m = {.checkpoints = 0};
    enum { N = 2000 };
    mcrash_paths(&m, name);
    child_plan plan = {.sync = sync, .mem_limit = 256u << 20, .vsize = 100, .n = N,
                       .at = {N / 2, N, N, -1}, .what = {'C', 'W', 'C'}};
    T_EQ_INT(run_child(m.path, &plan, mcrash_at, &m), N);
    for (int variant = 0; variant < 4; variant++) {
        char crashed[600];
        snprintf(crashed, sizeof crashed, "%s.crashed%d", u_path(name), variant);
        build_crashed(&m, crashed, 77 + (unsigned)variant, variant == 3);
        ox_check_report rep;
        T_EQ_INT(ox_check(crashed, &rep), OX_OK); /* LMDB's older snapshot, whole */
        T_EQ_INT(rep.recovery_pending, variant < 3); /* the last: the checkpoint was done */
        ox_store *s;
        T_EQ_INT(open_sync(crashed, 0, open_sync_policy, &s), OX_OK);
        verify_writes(s, N, 100);
        T_EQ_INT(ox_store_close(s), OX_OK);
        T_EQ_INT(ox_check(crashed, &rep), OX_OK);
        T_ASSERT(!rep.recovery_pending);
        /* A second open replays nothing twice. */
        T_EQ_INT(open_wal(crashed, 0, &s), OX_OK);
        verify_writes(s, N, 100);
        T_EQ_INT(ox_store_close(s), OX_OK);
        if (t_failed_now)
            return;
    }
}

static void machine_crash_during_a_checkpoint_loses_nothing(void)
{
    machine_crash("mcrash", OX_SYNC_ALWAYS, OX_SYNC_ALWAYS);
}

/* Opened under another policy, a store a crash left still replays its log. */
static void other_policy_open_replays_the_log(void)
{
    machine_crash("mcrash2", OX_SYNC_ALWAYS, OX_SYNC_NO);
}

/* Under OX_SYNC_EVERYSEC the log is written without a sync per commit: what it got is
 * replayed, and the data file is never damaged (LMDB commits are durable checkpoints). */
static void everysec_machine_crash_is_recovered_from_the_log(void)
{
    machine_crash("mcrash3", OX_SYNC_EVERYSEC, OX_SYNC_EVERYSEC);
}

/* Zeros the log segments beside `path` from a random offset between half and the end of
 * what they hold: a machine crash that lost an unsynced tail of the log. */
static void lose_log_tail(const char *path, unsigned seed)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    T_ASSERT(slash);
    *slash = '\0';
    const char *base = slash + 1;
    size_t bl = strlen(base);
    DIR *d = opendir(dir);
    T_ASSERT(d);
    srand(seed);
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, base, bl) || strncmp(e->d_name + bl, "-wal.", 5))
            continue;
        char seg[PATH_MAX + 300];
        snprintf(seg, sizeof seg, "%s/%s", dir, e->d_name);
        int fd = open(seg, O_RDWR);
        T_ASSERT(fd >= 0);
        struct stat st;
        T_EQ_INT(fstat(fd, &st), 0);
        unsigned char *b = malloc((size_t)st.st_size);
        T_ASSERT(b && pread(fd, b, (size_t)st.st_size, 0) == st.st_size);
        size_t used = (size_t)st.st_size;
        while (used > 0 && !b[used - 1])
            used--;
        if (used > 1) {
            size_t cut = used / 2 + (size_t)rand() % (used - used / 2);
            memset(b + cut, 0, used - cut);
            T_ASSERT(pwrite(fd, b + cut, used - cut, (off_t)cut) == (ssize_t)(used - cut));
        }
        free(b);
        close(fd);
    }
    closedir(d);
}

/* Under OX_SYNC_NO a machine crash may lose what the log had not synced (a checkpoint
 * syncs the log first, so never what the file holds): the store opens, the file checks
 * clean, and what is there is the state after some prefix of the writes, never a later
 * write without an earlier one, and at least every write the first checkpoint held. */
static void no_sync_machine_crash_keeps_a_prefix_and_a_sound_file(void)
{
    mcrash m = {.checkpoints = 0};
    enum { N = 2000 };
    const char *name = "mcrash4";
    mcrash_paths(&m, name);
    child_plan plan = {.sync = OX_SYNC_NO, .mem_limit = 256u << 20, .vsize = 100, .n = N,
                       .at = {N / 2, N, N, -1}, .what = {'C', 'W', 'C'}};
    T_EQ_INT(run_child(m.path, &plan, mcrash_at, &m), N);
    int prefixes[3];
    for (int variant = 0; variant < 3; variant++) {
        char crashed[600];
        snprintf(crashed, sizeof crashed, "%s.crashed%d", u_path(name), variant);
        build_crashed(&m, crashed, 177 + (unsigned)variant, 0);
        lose_log_tail(crashed, 7 + (unsigned)variant);
        ox_check_report rep;
        T_EQ_INT(ox_check(crashed, &rep), OX_OK);
        ox_store *s;
        T_EQ_INT(open_sync(crashed, 0, OX_SYNC_NO, &s), OX_OK);
        int k = N;
        char why[128];
        while (k >= N / 2 && !writes_match(s, k, 100, why, sizeof why))
            k--;
        prefixes[variant] = k;
        T_ASSERT(k >= N / 2);
        T_EQ_INT(ox_store_close(s), OX_OK);
        T_EQ_INT(ox_check(crashed, &rep), OX_OK);
        T_ASSERT(!rep.recovery_pending);
    }
    printf("prefixes kept after a lost log tail: %d %d %d of %d\n", prefixes[0], prefixes[1],
           prefixes[2], N);
    T_ASSERT(prefixes[0] < N || prefixes[1] < N || prefixes[2] < N); /* a tail was lost */
}

/* ---- process crashes, policies, sizes ------------------------------------------------------ */

/* Leaving OX_SYNC_ALWAYS and coming back (which syncs what was appended lazily), then
 * SIGKILL: every write is back. */
static void sync_policy_changes_at_runtime_keep_durability(void)
{
    const char *path = u_path("flip.mdb");
    child_plan plan = {.sync = OX_SYNC_ALWAYS, .vsize = 100, .n = 1800,
                       .at = {400, 800, -1}, .what = {'N', 'A'}};
    T_EQ_INT(run_child(path, &plan, NULL, NULL), 1800);
    ox_store *s;
    T_EQ_INT(open_wal(path, 0, &s), OX_OK);
    verify_writes(s, 1800, 100);
    T_EQ_INT(ox_store_set_sync(s, 7), OX_EINVAL);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* LMDB reuses the pages a checkpoint freed at once (nothing pins them): 8000 one-key
 * rewrites of 100 keys, checkpointed every few hundred, keep the file near the data. */
static void file_stays_small_under_many_rewrites(void)
{
    const char *path = u_path("rewrites.mdb");
    ox_store *s;
    ox_options o;
    ox_options_init(&o);
    o.mem_limit = 128u << 10;
    T_EQ_INT(ox_store_open(path, &o, &s), OX_OK);
    char k[16], v[100];
    memset(v, 'v', sizeof v);
    for (int i = 0; i < 8000; i++) {
        size_t kl = U_KEY(k, "r%03d", i % 100);
        T_EQ_INT(ox_put(ox_store_table(s), k, kl, v, sizeof v), OX_OK);
    }
    T_EQ_INT(ox_store_close(s), OX_OK);
    struct stat st;
    T_EQ_INT(stat(path, &st), 0);
    printf("8000 rewrites of 100 keys: data file %lld bytes\n", (long long)st.st_size);
    T_ASSERT(st.st_size < 256 << 10);
}

/* A checkpoint writes over what an earlier one stored: keys replaced by values of other
 * sizes (small, and LMDB's overflow pages, each way), deleted, given a TTL, a new TTL or
 * none, and new keys between them. After a reopen every key is as last written, and the
 * expiry index holds exactly the keys with a TTL: a purge past them all takes those and
 * nothing else. */
#define REWRITE_N 3000
static size_t rewrite_val(char *v, int i, int round)
{
    int big = i % 5 == 0 || (i + round) % 5 == 0; /* large to large, and each way */
    size_t n = big ? 3000 + (size_t)(i % 7) * 1000 : 8 + (size_t)((i * 13 + round) % 90);
    memset(v, 'a' + (i + round * 7) % 26, n);
    return n;
}

static int rewrite_open(u_clock *clk, ox_store **s)
{
    ox_options o;
    ox_options_init(&o);
    o.clock = u_clock_fn;
    o.clock_ctx = clk;
    o.sync = OX_SYNC_NO; /* (each put's fsync made it take 2 s to 33 s) */
    return ox_store_open(u_path("rewrite.mdb"), &o, s);
}

static void a_checkpoint_rewrites_what_an_earlier_one_stored(void)
{
    u_clock clk = {1000000};
    ox_store *s;
    T_EQ_INT(rewrite_open(&clk, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    static char v[10000];
    char k[32];
    /* kind[i]: 0 absent, 1 no TTL, 2 TTL of ttl[i] ms; len[i] its value's length */
    static int kind[2 * REWRITE_N], ttl[2 * REWRITE_N];
    static size_t len[2 * REWRITE_N];
    for (int i = 0; i < REWRITE_N; i++) { /* round 0: even slots */
        size_t kl = U_KEY(k, "r%05d", 2 * i), n = rewrite_val(v, 2 * i, 0);
        kind[2 * i] = i % 3 ? 1 : 2;
        ttl[2 * i] = 600000 + i;
        T_EQ_INT(kind[2 * i] == 1 ? ox_put(t, k, kl, v, n)
                                  : ox_put_with_ttl(t, k, kl, v, n, (uint64_t)ttl[2 * i]),
                 OX_OK);
        len[2 * i] = n;
    }
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    for (int j = 0; j < 2 * REWRITE_N; j++) { /* round 1: every slot */
        size_t kl = U_KEY(k, "r%05d", j), n = rewrite_val(v, j, 1);
        int what = j % 2 ? (j % 3 ? 1 : 3) : j / 2 % 6;
        if (what == 0) { /* delete */
            T_EQ_INT(ox_delete(t, k, kl), OX_OK);
            kind[j] = 0;
            continue;
        }
        if (what == 5) /* untouched */
            continue;
        if (what == 2 || what == 3) { /* a (new) TTL */
            ttl[j] = 700000 + j;
            T_EQ_INT(ox_put_with_ttl(t, k, kl, v, n, (uint64_t)ttl[j]), OX_OK);
            kind[j] = 2;
        } else { /* no TTL (what 1, 4) */
            T_EQ_INT(ox_put(t, k, kl, v, n), OX_OK);
            kind[j] = 1;
        }
        len[j] = n;
    }
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    char ename[300];
    snprintf(ename, sizeof ename, "e:%s", ox_table_name(t));
    T_EQ_INT(ox_store_close(s), OX_OK);
    T_EQ_INT(ox_check(u_path("rewrite.mdb"), NULL), OX_OK);
    /* The expiry index, as LMDB holds it: one entry per key with a TTL (2000, counted
     * below), none left of a TTL replaced or removed. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    T_EQ_INT(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    T_EQ_INT(mdb_env_open(env, u_path("rewrite.mdb"), MDB_NOSUBDIR | MDB_RDONLY, 0644), 0);
    T_EQ_INT(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    int rc = mdb_dbi_open(txn, ename, 0, &dbi);
    if (rc == 0)
        rc = mdb_stat(txn, dbi, &st);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    T_EQ_INT(rc, 0);
    T_EQ_INT((long long)st.ms_entries, 2000);

    T_EQ_INT(rewrite_open(&clk, &s), OX_OK);
    t = ox_store_table(s);
    int bad = -1, with_ttl = 0, live = 0;
    for (int j = 0; j < 2 * REWRITE_N && bad < 0; j++) {
        size_t kl = U_KEY(k, "r%05d", j);
        void *got;
        size_t glen;
        uint64_t ms;
        rc = ox_get(t, k, kl, &got, &glen);
        if (!kind[j]) {
            if (rc != OX_NOTFOUND)
                bad = j;
            continue;
        }
        int round = j % 2 || j / 2 % 6 != 5;
        size_t n = rewrite_val(v, j, round);
        if (rc != OX_OK || glen != len[j] || glen != n || memcmp(got, v, n))
            bad = j;
        if (rc == OX_OK)
            free(got);
        rc = ox_ttl(t, k, kl, &ms);
        if (kind[j] == 2 ? rc != OX_OK || ms != (uint64_t)ttl[j] : rc != OX_NOTTL)
            bad = j;
        with_ttl += kind[j] == 2;
        live++;
    }
    T_EQ_INT(bad, -1);
    T_EQ_INT(live, 5500);
    T_EQ_INT(with_ttl, 2000);
    clk.now += 10000000;
    size_t purged = 0;
    T_EQ_INT(ox_purge_expired(t, 0, &purged), OX_OK);
    T_EQ_INT((long long)purged, with_ttl);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* Deletions stay in the write buffer as versions that ordered walks step over, so a
 * buffer that is mostly deletions is frozen for a checkpoint well before its memory
 * limit: then a walk over the survivors steps over nothing the checkpoint cleared. */
static void many_deletions_start_a_checkpoint(void)
{
    const char *path = u_path("dels.mdb");
    ox_store *s;
    T_EQ_INT(open_wal(path, 0, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    char k[16];
    for (int i = 0; i < 40000; i++) {
        size_t kl = U_KEY(k, "d%05d", i);
        T_EQ_INT(ox_put(t, k, kl, "v", 1), OX_OK);
    }
    ox_write_info wi;
    T_EQ_INT(ox_store_write_info(s, &wi), OX_OK);
    uint64_t before = wi.checkpoints;
    T_EQ_INT(wi.checkpointing, 0); /* 40000 small puts are far below the 64 MiB default */
    for (int i = 0; i < 35000; i++) { /* most of the buffer's keys: a checkpoint */
        size_t kl = U_KEY(k, "d%05d", i);
        T_EQ_INT(ox_delete(t, k, kl), OX_OK);
    }
    uint64_t deadline = t_now_ms() + 10000;
    do {
        T_EQ_INT(ox_put(t, "tick", 4, "1", 1), OX_OK); /* a transaction's start checks */
        T_EQ_INT(ox_store_write_info(s, &wi), OX_OK);
    } while ((wi.checkpoints == before || wi.checkpointing) && t_now_ms() < deadline);
    T_ASSERT(wi.checkpoints > before);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* A small log switches segments many times; checkpoints release the old ones (two are
 * kept to be reused). After SIGKILL everything is back, and the log stays small. */
static void small_log_switches_segments_and_keeps_everything(void)
{
    const char *path = u_path("small.mdb");
    child_plan plan = {.sync = OX_SYNC_ALWAYS, .wal_size = SEG_SMALL, .mem_limit = 1u << 20,
                       .vsize = 200, .n = 12000, .at = {-1}};
    T_EQ_INT(run_child(path, &plan, NULL, NULL), 12000);
    ox_store *s;
    T_EQ_INT(open_wal(path, SEG_SMALL, &s), OX_OK);
    verify_writes(s, 12000, 200);
    T_EQ_INT(ox_store_close(s), OX_OK);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    DIR *d = opendir(dir);
    T_ASSERT(d);
    long long bytes = 0;
    int segs = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, "small.mdb-wal.", 14))
            continue;
        char p[PATH_MAX + 300];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        T_EQ_INT(stat(p, &st), 0);
        bytes += st.st_size;
        segs++;
    }
    closedir(d);
    printf("12000 writes over 1 MiB segments: %d segments left, %lld bytes\n", segs, bytes);
    T_ASSERT(segs <= 4);
}

/* Values larger than a segment get segments of their own. */
static void record_larger_than_a_segment_is_durable(void)
{
    const char *path = u_path("big.mdb");
    child_plan plan = {.sync = OX_SYNC_ALWAYS, .wal_size = SEG_SMALL, .vsize = 3u << 20,
                       .n = 12, .at = {-1}};
    T_EQ_INT(run_child(path, &plan, NULL, NULL), 12);
    ox_store *s;
    T_EQ_INT(open_wal(path, SEG_SMALL, &s), OX_OK);
    verify_writes(s, 12, 3u << 20);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* The log belongs to one process: a second writer is refused, a reader is not. */
static void second_writer_process_is_refused(void)
{
    const char *path = u_path("busy.mdb");
    ox_store *s;
    T_EQ_INT(open_wal(path, 0, &s), OX_OK);
    pid_t pid = fork();
    if (pid == 0) {
        ox_store *s2;
        ox_options o;
        int rc = open_wal(path, 0, &s2);
        ox_options_init(&o);
        o.read_only = 1;
        int rrc = ox_store_open(path, &o, &s2);
        if (rrc == OX_OK)
            ox_store_close(s2);
        _exit(rc == OX_EBUSY && rrc == OX_OK ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    T_ASSERT(WIFEXITED(status));
    T_EQ_INT(WEXITSTATUS(status), 0);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* A read-only open of a store a crash left replays its log in memory: it sees everything,
 * and writes nothing. */
static void read_only_open_replays_in_memory(void)
{
    const char *path = u_path("ro.mdb");
    child_plan plan = {.sync = OX_SYNC_ALWAYS, .vsize = 50, .n = 700, .at = {-1}};
    T_EQ_INT(run_child(path, &plan, NULL, NULL), 700);
    ox_check_report rep;
    T_EQ_INT(ox_check(path, &rep), OX_OK);
    T_ASSERT(rep.recovery_pending);
    ox_store *s;
    ox_options o;
    ox_options_init(&o);
    o.read_only = 1;
    T_EQ_INT(ox_store_open(path, &o, &s), OX_OK);
    verify_writes(s, 700, 50);
    T_EQ_INT(ox_put(ox_store_table(s), "x", 1, "y", 1), OX_EREADONLY);
    T_EQ_INT(ox_store_close(s), OX_OK);
    T_EQ_INT(ox_check(path, &rep), OX_OK);
    T_ASSERT(rep.recovery_pending); /* still: a read-only open wrote nothing */
}

/* Recovery's replay keeps what it reads in the write buffers by their bytes, as the log
 * holds them: by the dirty estimate, which an open starts again at a page per key, 12000
 * keys under a 1 MiB limit would have frozen a buffer every 192 keys and checkpointed
 * inside the open. */
static void the_replay_is_not_cut_by_the_dirty_estimate(void)
{
    const char *path = u_path("replaydirty.mdb");
    child_plan plan = {.sync = OX_SYNC_ALWAYS, .vsize = 200, .n = 12000, .at = {-1}};
    T_EQ_INT(run_child(path, &plan, NULL, NULL), 12000);
    ox_store *s;
    ox_options o;
    ox_options_init(&o);
    o.dirty_limit = 1u << 20;
    T_EQ_INT(ox_store_open(path, &o, &s), OX_OK);
    ox_write_info wi;
    T_EQ_INT(ox_store_write_info(s, &wi), OX_OK);
    T_EQ_INT((long long)wi.checkpoints, 0);
    verify_writes(s, 12000, 200);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* Compaction of a store a crash left writes its log's records to the file first. */
static void compact_after_crash_replays_the_log(void)
{
    const char *path = u_path("cpt.mdb");
    child_plan plan = {.sync = OX_SYNC_ALWAYS, .vsize = 100, .n = 500, .at = {-1}};
    T_EQ_INT(run_child(path, &plan, NULL, NULL), 500);
    T_EQ_INT(ox_compact(path), OX_OK);
    ox_check_report rep;
    T_EQ_INT(ox_check(path, &rep), OX_OK);
    T_ASSERT(!rep.recovery_pending);
    ox_store *s;
    T_EQ_INT(open_wal(path, 0, &s), OX_OK);
    verify_writes(s, 500, 100);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* ---- a crash during the replay ---------------------------------------------------------- */

/* Forks a child that opens path (1 MiB log segments, a write buffer of mem_limit bytes),
 * says 'o' on the pipe once the open returned, and waits to be killed. Returns its pid
 * (-1 on failure); *up is the pipe's read end. */
static pid_t open_in_child(const char *path, size_t mem_limit, int *up)
{
    int fds[2];
    if (pipe(fds))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        ox_store *s;
        ox_options o;
        ox_options_init(&o);
        o.wal_size = SEG_SMALL;
        o.mem_limit = mem_limit;
        close(fds[0]);
        if (ox_store_open(path, &o, &s) || write(fds[1], "o", 1) != 1)
            _exit(2);
        for (;;)
            pause();
    }
    close(fds[1]);
    *up = fds[0];
    return pid;
}

/* Kills pid with SIGKILL and reaps it; 1 if it had said 'o' (its open returned) before. */
static int kill_opener(pid_t pid, int up)
{
    char c = 0;
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    int opened = read(up, &c, 1) == 1 && c == 'o';
    close(up);
    return opened;
}

/* The milliseconds a whole open of path takes in a child with a 256 MiB write buffer
 * (its replay writes nothing: the store is left as it was); UINT64_MAX if it failed. */
static uint64_t full_open_ms(const char *path)
{
    int up;
    char c = 0;
    uint64_t t0 = t_now_ms();
    pid_t pid = open_in_child(path, 256u << 20, &up);
    if (pid < 0)
        return UINT64_MAX;
    int said = read(up, &c, 1) == 1 && c == 'o'; /* blocks until the open returned */
    uint64_t ms = t_now_ms() - t0;
    kill_opener(pid, up);
    return said ? ms : UINT64_MAX;
}

/* A store whose log (1 MiB segments) holds 8000 commits after its last checkpoint; the
 * process that opens it, and replays them, is killed with SIGKILL at a random moment of
 * its open, 12 rounds: six with a 256 MiB write buffer (the replay only reads), then six
 * with 1 MiB (the replay checkpoints to LMDB on its way, each checkpoint moving the point
 * the next replay starts from; the kill's window follows the replay that is left). The
 * file checks clean after each kill, and the final open holds every acknowledged write
 * exactly: values, TTLs, deletes, count. */
static void crash_during_the_replay_loses_nothing(void)
{
    enum { N = 8000, ROUNDS = 12 };
    const char *path = u_path("replaycrash.mdb");
    child_plan plan = {.sync = OX_SYNC_NO, .wal_size = SEG_SMALL, .mem_limit = 256u << 20,
                       .vsize = 100, .n = N, .at = {-1}};
    T_EQ_INT(run_child(path, &plan, NULL, NULL), N); /* a process crash: SYNC_NO loses nothing */
    ox_check_report rep;
    T_EQ_INT(ox_check(path, &rep), OX_OK);
    T_ASSERT(rep.recovery_pending);
    uint64_t a = full_open_ms(path), b = full_open_ms(path);
    uint64_t full_ms = a < b ? a : b;
    T_ASSERT(full_ms != UINT64_MAX);
    unsigned seed = 1212;
    int killed_in_open = 0;
    uint64_t txnid[ROUNDS + 1] = {rep.txnid}; /* the data file's, after each round */
    for (int r = 0; r < ROUNDS; r++) {
        int small = r >= ROUNDS / 2, up;
        uint64_t window = small ? full_open_ms(path) : full_ms;
        T_ASSERT(window != UINT64_MAX);
        pid_t pid = open_in_child(path, small ? 1u << 20 : 256u << 20, &up);
        T_ASSERT(pid > 0);
        /* The kill's moment, anywhere in the open: this sleep picks it, it waits for
         * nothing (an open that was quicker than the window is killed after it). */
        usleep((useconds_t)(rand_r(&seed) % (window * 1000 + 1)));
        killed_in_open += !kill_opener(pid, up);
        int crc = ox_check(path, &rep);
        if (crc != OX_OK)
            T_FAIL("round %d: check: %s: %s", r, ox_strerror(crc), rep.problem);
        txnid[r + 1] = rep.txnid;
    }
    printf("crash during the replay: a whole open takes %llu ms; %d of %d opens killed "
           "before they returned; %llu checkpoints made by the replays\n",
           (unsigned long long)full_ms, killed_in_open, ROUNDS,
           (unsigned long long)(txnid[ROUNDS] - txnid[0]));
    T_ASSERT(killed_in_open >= ROUNDS / 4);
    T_EQ_U64(txnid[ROUNDS / 2], txnid[0]); /* the large buffer's replays wrote nothing */
    T_ASSERT(txnid[ROUNDS] > txnid[ROUNDS / 2]);
    ox_store *s;
    T_EQ_INT(open_wal(path, SEG_SMALL, &s), OX_OK);
    verify_writes(s, N, 100);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* dirty_limit: LMDB copies each page a checkpoint changes into memory it keeps until the
 * env closes. Sequential keys teach the store that a key changes a small part of a page;
 * then random keys over the same file change about a page each, so the first checkpoint
 * of them changes far more pages than the limit, and the env is reopened to free them (a
 * reader thread reads all along). The ones after that are frozen early enough to stay
 * within the limit. Every key ends with its last value, before and after a reopen. */
#define DIRTY_KEYS 20000
#define DIRTY_PAGES 256 /* the limit: 1 MiB */

typedef struct dirty_reader {
    ox_table *t;
    atomic_int stop, bad;
    long reads;
} dirty_reader;

static void *dirty_read_main(void *arg)
{
    dirty_reader *r = arg;
    unsigned seed = 7;
    char k[16];
    while (!atomic_load(&r->stop)) {
        int i = (int)(rand_r(&seed) % DIRTY_KEYS);
        size_t kl = U_KEY(k, "k%06d", i);
        void *v;
        size_t vlen;
        if (ox_get(r->t, k, kl, &v, &vlen) != OX_OK) {
            atomic_fetch_add(&r->bad, 1);
            continue;
        }
        /* "o<key>..." before the rewrite, "n<key>..." after */
        if (vlen != 100 || (((char *)v)[0] != 'o' && ((char *)v)[0] != 'n') ||
            memcmp((char *)v + 1, k, kl))
            atomic_fetch_add(&r->bad, 1);
        free(v);
        r->reads++;
    }
    return NULL;
}

static void put_all(ox_table *t, const int *order, char first)
{
    char k[16], v[100];
    memset(v, '.', sizeof v);
    for (int i = 0; i < DIRTY_KEYS; i += 20) { /* (a freeze waits for a transaction's end) */
        ox_txn *x;
        T_EQ_INT(ox_txn_begin(ox_table_store(t), &x), OX_OK);
        for (int j = i; j < i + 20; j++) {
            size_t kl = U_KEY(k, "k%06d", order[j]);
            v[0] = first;
            memcpy(v + 1, k, kl);
            T_EQ_INT(ox_txn_put(x, t, k, kl, v, sizeof v, 0, 0), OX_OK);
        }
        T_EQ_INT(ox_txn_commit(x), OX_OK);
    }
}


/* Opens name into *out with a DIRTY_PAGES limit (*o: its options, for a reopen), writes
 * every key in order (order[i] = i: sequential, values 'o...'), and checkpoints. */
static void dirty_open_loaded(const char *name, ox_options *o, int *order, ox_store **out)
{
    ox_options_init(o);
    o->sync = OX_SYNC_NO;
    o->mem_limit = 32u << 20;
    o->dirty_limit = DIRTY_PAGES * 4096;
    ox_store *s;
    T_EQ_INT(ox_store_open(u_path(name), o, &s), OX_OK);
    for (int i = 0; i < DIRTY_KEYS; i++)
        order[i] = i;
    put_all(ox_store_table(s), order, 'o');
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    *out = s;
}

static void random_keys_stay_within_the_dirty_limit(void)
{
    const char *path = u_path("dirty.mdb");
    ox_options o;
    static int order[DIRTY_KEYS];
    ox_store *s;
    dirty_open_loaded("dirty.mdb", &o, order, &s);
    ox_table *t = ox_store_table(s);
    ox_write_info wi;
    T_EQ_INT(ox_store_write_info(s, &wi), OX_OK);
    T_EQ_U64(wi.dirty_limit, DIRTY_PAGES * 4096);
    T_EQ_U64(wi.env_releases, 0);
    T_ASSERT(wi.checkpoint_pages_peak <= DIRTY_PAGES); /* sequential: a page per page */

    unsigned seed = 11;
    for (int i = DIRTY_KEYS - 1; i > 0; i--) {
        int j = (int)(rand_r(&seed) % (unsigned)(i + 1)), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    dirty_reader r = {.t = t};
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, dirty_read_main, &r), 0);
    put_all(t, order, 'n');
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    atomic_store(&r.stop, 1);
    pthread_join(th, NULL);
    T_EQ_INT(atomic_load(&r.bad), 0);
    T_ASSERT(r.reads > 0);
    T_EQ_INT(ox_store_write_info(s, &wi), OX_OK);
    printf("random rewrite of %d keys: %llu checkpoints, the most pages %llu, %llu env "
           "reopens, %ld reads meanwhile\n", DIRTY_KEYS, (unsigned long long)wi.checkpoints,
           (unsigned long long)wi.checkpoint_pages_peak, (unsigned long long)wi.env_releases,
           r.reads);
    /* The first random checkpoint went far past the limit (the file has about 800 leaf
     * pages: it changed most), and was followed by a reopen. */
    T_ASSERT(wi.checkpoint_pages_peak >= 2 * DIRTY_PAGES);
    T_ASSERT(wi.env_releases >= 1);
    T_EQ_INT(ox_store_close(s), OX_OK);

    /* Again over the file as it is now, random keys from the start (the estimate starts at
     * a page per key): every checkpoint stays within the limit, no reopen is needed. */
    T_EQ_INT(ox_store_open(path, &o, &s), OX_OK);
    t = ox_store_table(s);
    put_all(t, order, 'o');
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    T_EQ_INT(ox_store_write_info(s, &wi), OX_OK);
    uint64_t first = wi.checkpoints;
    put_all(t, order, 'n');
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    T_EQ_INT(ox_store_write_info(s, &wi), OX_OK);
    printf("again: %llu checkpoints, the most pages %llu, %llu env reopens\n",
           (unsigned long long)(wi.checkpoints - first),
           (unsigned long long)wi.checkpoint_pages_peak, (unsigned long long)wi.env_releases);
    T_ASSERT(wi.checkpoints - first >= DIRTY_KEYS / 1000);
    T_ASSERT(wi.checkpoint_pages_peak <= DIRTY_PAGES);
    T_EQ_U64(wi.env_releases, 0);
    char k[16];
    for (int i = 0; i < DIRTY_KEYS; i++) {
        size_t kl = U_KEY(k, "k%06d", i);
        void *v;
        size_t vlen;
        T_EQ_INT(ox_get(t, k, kl, &v, &vlen), OX_OK);
        T_ASSERT(vlen == 100 && ((char *)v)[0] == 'n' && !memcmp((char *)v + 1, k, kl));
        free(v);
    }
    uint64_t n;
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, DIRTY_KEYS);
    /* A clear drops the table's pages without copying them: its checkpoint changed a
     * few, though the free list takes them all. */
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    T_EQ_INT(ox_txn_clear(x, t), OX_OK);
    T_EQ_INT(ox_txn_put(x, t, "one", 3, "1", 1, 0, 0), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    T_EQ_INT(ox_store_write_info(s, &wi), OX_OK);
    printf("a clear of %d keys and one put: %llu pages\n", DIRTY_KEYS,
           (unsigned long long)wi.last_checkpoint_pages);
    T_ASSERT(wi.last_checkpoint_pages < 16);
    T_EQ_U64(wi.env_releases, 0);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* Values of two pages and more: LMDB frees their pages at its commit, where it keeps
 * single pages, so a checkpoint of them far past the limit leaves no copies to give back,
 * and the env is not reopened for them. */
static void large_values_leave_no_copies_to_release(void)
{
    ox_options o;
    static int order[DIRTY_KEYS];
    ox_store *s;
    dirty_open_loaded("bigvals.mdb", &o, order, &s);
    ox_table *t = ox_store_table(s);
    static char v[8000];
    char k[16];
    for (int i = 0; i < 1000; i++) {
        size_t kl = U_KEY(k, "b%05d", i);
        memset(v, 'a' + i % 26, sizeof v);
        T_EQ_INT(ox_put(t, k, kl, v, sizeof v), OX_OK);
    }
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    ox_write_info wi;
    T_EQ_INT(ox_store_write_info(s, &wi), OX_OK);
    uint64_t pages = wi.last_checkpoint_pages;
    /* A release follows its checkpoint on the checkpointer's thread: it comes before the
     * next checkpoint's. */
    T_EQ_INT(ox_put(t, "x", 1, "y", 1), OX_OK);
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    T_EQ_INT(ox_store_write_info(s, &wi), OX_OK);
    printf("1000 values of 8000 bytes: the checkpoint changed %llu pages (limit %d), %llu "
           "env reopens\n", (unsigned long long)pages, DIRTY_PAGES,
           (unsigned long long)wi.env_releases);
    T_ASSERT(pages > 2000); /* two pages a value */
    T_EQ_U64(wi.env_releases, 0);
    T_EQ_INT(ox_store_close(s), OX_OK);
    T_EQ_INT(ox_store_open(u_path("bigvals.mdb"), &o, &s), OX_OK);
    t = ox_store_table(s);
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        size_t kl = U_KEY(k, "b%05d", i);
        void *got;
        size_t glen;
        memset(v, 'a' + i % 26, sizeof v);
        if (ox_get(t, k, kl, &got, &glen) != OX_OK) {
            bad++;
            continue;
        }
        bad += glen != sizeof v || memcmp(got, v, glen);
        free(got);
    }
    T_EQ_INT(bad, 0);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* A checkpoint of a few keys (an idle or age one) changes the pages on the paths to them,
 * many per key: the estimate does not learn from it, so the sequential writes after it
 * still checkpoint in large buffers. */
static void a_few_keys_teach_the_estimate_nothing(void)
{
    ox_options o;
    static int order[DIRTY_KEYS];
    ox_store *s;
    dirty_open_loaded("fewkeys.mdb", &o, order, &s);
    ox_table *t = ox_store_table(s);
    for (int i = 0; i < 3; i++) { /* three keys far apart: about the trees' depth each */
        char k[16];
        size_t kl = U_KEY(k, "k%06d", i * 9000);
        T_EQ_INT(ox_put(t, k, kl, "x", 1), OX_OK);
    }
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    ox_write_info wi;
    T_EQ_INT(ox_store_write_info(s, &wi), OX_OK);
    uint64_t before = wi.checkpoints;
    T_ASSERT(wi.last_checkpoint_pages >= 3); /* more than a page per key */
    put_all(t, order, 'n');
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    T_EQ_INT(ox_store_write_info(s, &wi), OX_OK);
    printf("%d sequential keys after a checkpoint of 3: %llu checkpoints\n", DIRTY_KEYS,
           (unsigned long long)(wi.checkpoints - before));
    T_ASSERT(wi.checkpoints - before <= 20);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* A checkpoint changes no more pages than the file has and its new data needs: on a small
 * file, random keys are not cut into small checkpoints by the page-per-key estimate. */
static void a_small_file_is_not_cut_by_the_estimate(void)
{
    ox_options o;
    ox_options_init(&o);
    o.sync = OX_SYNC_NO;
    o.mem_limit = 32u << 20;
    o.dirty_limit = DIRTY_PAGES * 4096;
    ox_store *s;
    T_EQ_INT(ox_store_open(u_path("smallfile.mdb"), &o, &s), OX_OK);
    static int order[2000];
    unsigned seed = 3;
    for (int i = 0; i < 2000; i++)
        order[i] = (int)(rand_r(&seed) % 1000000);
    char k[16], v[100];
    memset(v, 'v', sizeof v);
    for (int i = 0; i < 2000; i++) { /* about 60 pages of data: the limit's 256 cannot be */
        size_t kl = U_KEY(k, "k%06d", order[i]);
        T_EQ_INT(ox_put(ox_store_table(s), k, kl, v, sizeof v), OX_OK);
    }
    ox_write_info wi;
    T_EQ_INT(ox_store_write_info(s, &wi), OX_OK);
    T_EQ_U64(wi.checkpoints, 0); /* (a page per key would have frozen every 192) */
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* A reopen that frees LMDB's copies runs while other threads open tables and replace the
 * store's content: each takes the tables' lock before the reader gate, as the reopen does
 * (it took them the other way round: a table's open, or ox_store_replace, and a reopen
 * each waited for the other). Rounds of sequential then random keys make reopens; a
 * thread opens a new table and writes in it all along; each round ends in a backup that
 * replaces the content. Nothing fails, tables hold their key (or none: a replace by a
 * backup taken before it), and reopens happened. */
typedef struct opener {
    ox_store *s;
    atomic_int stop, bad, opened;
} opener;

static void *opener_main(void *arg)
{
    opener *o = arg;
    char name[16];
    uint64_t seen = 0;
    for (int i = 0; i < 200 && !atomic_load(&o->stop);) {
        ox_write_info wi; /* a new table after each checkpoint: near a reopen, often */
        if (ox_store_write_info(o->s, &wi) != OX_OK || wi.checkpoints == seen)
            continue;
        seen = wi.checkpoints;
        ox_table *t;
        snprintf(name, sizeof name, "o%03d", i++);
        if (ox_table_open(o->s, name, &t) != OX_OK || ox_put(t, "k", 1, name, 4) != OX_OK)
            atomic_fetch_add(&o->bad, 1);
        else
            atomic_fetch_add(&o->opened, 1);
    }
    return NULL;
}

static void reopens_keep_clear_of_table_opens_and_replace(void)
{
    const char *path = u_path("reopens.mdb"), *copy = u_path("reopens-copy.mdb");
    ox_options o;
    ox_options_init(&o);
    o.sync = OX_SYNC_NO;
    o.max_tables = 256;
    o.dirty_limit = 64 * 4096;
    ox_store *s;
    T_EQ_INT(ox_store_open(path, &o, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    opener op = {.s = s};
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, opener_main, &op), 0);
    unsigned seed = 5;
    char k[16], v[100];
    memset(v, 'v', sizeof v);
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 6000; i++) { /* sequential, then random over them */
            int n = i < 3000 ? round * 3000 + i : (int)(rand_r(&seed) % (unsigned)(round * 3000 + 3000));
            size_t kl = U_KEY(k, "r%06d", n);
            T_EQ_INT(ox_put(t, k, kl, v, sizeof v), OX_OK);
        }
        T_EQ_INT(ox_backup(s, copy, 0), OX_OK);
        T_EQ_INT(ox_store_replace(s, copy), OX_OK);
    }
    atomic_store(&op.stop, 1);
    pthread_join(th, NULL);
    ox_write_info wi;
    T_EQ_INT(ox_store_write_info(s, &wi), OX_OK);
    printf("%llu checkpoints, %llu env reopens, %d tables opened meanwhile\n",
           (unsigned long long)wi.checkpoints, (unsigned long long)wi.env_releases,
           atomic_load(&op.opened));
    T_EQ_INT(atomic_load(&op.bad), 0);
    T_ASSERT(wi.env_releases >= 2);
    uint64_t n;
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 18000);
    int kept = 0;
    for (int i = 0; i < atomic_load(&op.opened); i++) {
        ox_table *ot;
        char name[16];
        snprintf(name, sizeof name, "o%03d", i);
        T_EQ_INT(ox_table_open(s, name, &ot), OX_OK);
        /* its key, or nothing if a replace came between the backup and it */
        const char *got = u_value(ot, "k");
        if (strcmp(got, name) && strcmp(got, "(error 1)"))
            T_FAIL("table %s holds %s", name, got);
        kept += !strcmp(got, name);
    }
    T_ASSERT(kept > 0);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

int main(void)
{
    T_RUN(machine_crash_during_a_checkpoint_loses_nothing);
    T_RUN(other_policy_open_replays_the_log);
    T_RUN(everysec_machine_crash_is_recovered_from_the_log);
    T_RUN(no_sync_machine_crash_keeps_a_prefix_and_a_sound_file);
    T_RUN(sync_policy_changes_at_runtime_keep_durability);
    T_RUN(file_stays_small_under_many_rewrites);
    T_RUN(a_checkpoint_rewrites_what_an_earlier_one_stored);
    T_RUN(many_deletions_start_a_checkpoint);
    T_RUN(random_keys_stay_within_the_dirty_limit);
    T_RUN(large_values_leave_no_copies_to_release);
    T_RUN(a_few_keys_teach_the_estimate_nothing);
    T_RUN(a_small_file_is_not_cut_by_the_estimate);
    T_RUN(reopens_keep_clear_of_table_opens_and_replace);
    T_RUN(small_log_switches_segments_and_keeps_everything);
    T_RUN(record_larger_than_a_segment_is_durable);
    T_RUN(second_writer_process_is_refused);
    T_RUN(read_only_open_replays_in_memory);
    T_RUN(the_replay_is_not_cut_by_the_dirty_estimate);
    T_RUN(compact_after_crash_replays_the_log);
    T_RUN(crash_during_the_replay_loses_nothing);
    return T_MAIN_END();
}
