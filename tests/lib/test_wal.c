/* The write-ahead log of OX_SYNC_ALWAYS stores (lib/ox_wal.h): recovery after a crash of
 * the machine (simulated: the data file as of the last checkpoint with newer meta pages
 * that reached the disk without their data pages), checkpoints when the log fills, records
 * larger than the log, one writer process, and offline tools on a file a crash left. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib_util.h"
#include "test.h"

T_MAIN_BEGIN;

#define WAL_SMALL (160u << 10) /* a log whose halves fill after a few hundred small records */

/* ox_options.wal_pinned of every open (children inherit it). */
static size_t g_pinned;
static int g_child_sync = OX_SYNC_ALWAYS; /* the policy child_writer opens with */

static int open_sync(const char *path, size_t wal_size, int sync, ox_store **s)
{
    ox_options o;
    ox_options_init(&o);
    o.wal_size = wal_size;
    o.wal_pinned = g_pinned;
    o.sync = sync;
    return ox_store_open(path, &o, s);
}

static int open_wal(const char *path, size_t wal_size, ox_store **s)
{
    return open_sync(path, wal_size, OX_SYNC_ALWAYS, s);
}

static int copy_file(const char *from, const char *to, off_t len)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char buf[65536];
    int rc = in < 0 || out < 0 ? -1 : 0;
    while (rc == 0 && len != 0) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n <= 0)
            break;
        rc = write(out, buf, (size_t)n) == n ? 0 : -1;
        len -= len > 0 ? (len < n ? len : n) : 0;
    }
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
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

/* A child opens path, says so ('o') on `acks`, writes keys k0..kN-1 (value vsize bytes,
 * every third with a TTL, every fifth key also deleted again later) and acknowledges each
 * ('a'), then waits to be killed. With flip > 0 it says 'o' only later: it leaves
 * OX_SYNC_ALWAYS for OX_SYNC_NO after flip keys and comes back after 2 * flip. */
static void child_writer(const char *path, size_t wal_size, int n, size_t vsize, int flip,
                         int acks)
{
    ox_store *s;
    if (open_sync(path, wal_size, g_child_sync, &s))
        _exit(2);
    if (!flip && write(acks, "o", 1) != 1)
        _exit(3);
    ox_table *t = ox_store_table(s);
    char *v = malloc(vsize + 1);
    for (int i = 0; i < n; i++) {
        if (flip && (i == flip || i == 2 * flip)) {
            if (ox_store_set_sync(s, i == flip ? OX_SYNC_NO : OX_SYNC_ALWAYS))
                _exit(5);
            if (i == 2 * flip && write(acks, "o", 1) != 1)
                _exit(3);
        }
        char k[WAL_KEY_MAX];
        size_t kl = wal_key(k, i);
        memset(v, 'a' + i % 26, vsize);
        int rc = i % 3 ? ox_put(t, k, kl, v, vsize) : ox_put_with_ttl(t, k, kl, v, vsize, 3600000);
        if (rc == OX_OK && i % 5 == 4) {
            kl = wal_key(k, i - 4);
            rc = ox_delete(t, k, kl);
        }
        if (rc || write(acks, "a", 1) != 1)
            _exit(4);
    }
    for (;;)
        pause();
}

/* Runs child_writer until n acks came; then kills it. Calls at_open (may be NULL) when the
 * child says 'o'. */
static void run_and_kill_flip(const char *path, size_t wal_size, int n, size_t vsize, int flip,
                              void (*at_open)(const char *path))
{
    int fds[2];
    T_EQ_INT(pipe(fds), 0);
    pid_t pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_writer(path, wal_size, n, vsize, flip, fds[1]);
    }
    close(fds[1]);
    char c;
    int acked = 0, opened = 0;
    while (acked < n && read(fds[0], &c, 1) == 1) {
        if (c == 'o' && !opened++ && at_open)
            at_open(path);
        acked += c == 'a';
    }
    T_EQ_INT(opened, 1);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(fds[0]);
    T_EQ_INT(acked, n);
}

static void run_and_kill(const char *path, size_t wal_size, int n, size_t vsize,
                         void (*at_open)(const char *path))
{
    run_and_kill_flip(path, wal_size, n, vsize, 0, at_open);
}

/* Every acknowledged write of child_writer(n, vsize) is there, no deleted key is back. */
static void verify_writes(ox_store *s, int n, size_t vsize)
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
        if (deleted) {
            if (rc != OX_NOTFOUND)
                T_FAIL("deleted key %.7s is back", k);
        } else if (rc != OX_OK || len != vsize ||
                   (vsize && ((char *)got)[vsize - 1] != 'a' + i % 26)) {
            free(got);
            T_FAIL("key %.7s lost (rc %d)", k, rc);
        } else {
            uint64_t ms;
            live++;
            if (i % 3 == 0 && (ox_ttl(t, k, kl, &ms) != OX_OK || ms > 3600000))
                T_FAIL("ttl of %.7s lost", k);
        }
        free(got);
    }
    T_EQ_INT(ox_count(t, &count), OX_OK);
    T_EQ_U64(count, (uint64_t)live);
}

static char base_copy[512];

static void take_base(const char *path)
{
    T_EQ_INT(copy_file(path, base_copy, -1), 0);
}

/* The machine crashed while a child wrote n keys to `name` (flip: see child_writer): of
 * everything written since the last checkpoint only the log (synced) and LMDB's two meta
 * pages (unsynced, but the disk wrote them) survived. Builds that file as torn (its log
 * beside it) and checks that it is damaged as it is. */
static void machine_crash(const char *name, int n, int flip, char *torn, size_t tornlen)
{
    char path[512];
    snprintf(path, sizeof path, "%s.mdb", u_path(name));
    snprintf(base_copy, sizeof base_copy, "%s.base", u_path(name));
    /* The base copy is the data file as of the checkpoint at 'o': no later one may come. */
    g_pinned = SIZE_MAX;
    run_and_kill_flip(path, 0, n, 100, flip, take_base);
    g_pinned = 0;

    /* The crashed disk: the base, then the two newest meta pages (page size 4096). */
    snprintf(torn, tornlen, "%s.torn", u_path(name));
    T_EQ_INT(copy_file(base_copy, torn, -1), 0);
    int in = open(path, O_RDONLY), out = open(torn, O_WRONLY);
    char meta[8192];
    T_EQ_INT((int)pread(in, meta, sizeof meta, 0), (int)sizeof meta);
    T_EQ_INT((int)pwrite(out, meta, sizeof meta, 0), (int)sizeof meta);
    close(in);
    close(out);

    /* Without the log, LMDB's newest snapshot points at pages that never reached disk. */
    ox_check_report rep;
    T_EQ_INT(ox_check(torn, &rep), OX_ECORRUPT);
    char wal_from[600], wal_to[600];
    snprintf(wal_from, sizeof wal_from, "%s-wal", path);
    snprintf(wal_to, sizeof wal_to, "%s-wal", torn);
    T_EQ_INT(copy_file(wal_from, wal_to, -1), 0);
    /* With its log beside it, the torn file is not damaged: it needs recovery. */
    T_EQ_INT(ox_check(torn, &rep), OX_ERECOVER);
    T_ASSERT(rep.recovery_pending);
    ox_store *ro;
    ox_options o;
    ox_options_init(&o);
    o.read_only = 1;
    T_EQ_INT(ox_store_open(torn, &o, &ro), OX_ERECOVER);
}

/* With the log, the checkpoint's meta page goes back and the log is replayed. */
static void machine_crash_rolls_back_to_checkpoint_and_replays(void)
{
    char torn[512];
    machine_crash("mcrash", 3000, 0, torn, sizeof torn);
    ox_store *s;
    ox_check_report rep;
    T_EQ_INT(open_wal(torn, 0, &s), OX_OK);
    verify_writes(s, 3000, 100);
    T_EQ_INT(ox_store_close(s), OX_OK);
    T_EQ_INT(ox_check(torn, &rep), OX_OK);
    /* A second open finds a clean log: nothing is replayed twice. */
    T_EQ_INT(open_wal(torn, 0, &s), OX_OK);
    verify_writes(s, 3000, 100);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* A machine crash of a child writing 1500 keys under child_sync, then an open under
 * open_policy: every write is back and the file checks clean. */
static void crash_then_open(const char *name, int child_sync, int open_policy)
{
    char torn[512];
    g_child_sync = child_sync;
    machine_crash(name, 1500, 0, torn, sizeof torn);
    g_child_sync = OX_SYNC_ALWAYS;
    ox_store *s;
    ox_check_report rep;
    T_EQ_INT(open_sync(torn, 0, open_policy, &s), OX_OK);
    verify_writes(s, 1500, 100);
    T_EQ_INT(ox_store_close(s), OX_OK);
    T_EQ_INT(ox_check(torn, &rep), OX_OK);
}

/* Opened under another policy, a store a crash left still replays its log. */
static void other_policy_open_replays_the_log(void)
{
    crash_then_open("mcrash2", OX_SYNC_ALWAYS, OX_SYNC_NO);
}

/* Under OX_SYNC_EVERYSEC the log is written without a sync per commit, and the data file
 * is pinned and checkpointed as under OX_SYNC_ALWAYS: a machine crash (here: everything
 * the log got, the data file torn as ever) leaves no torn store, and no write the log got
 * is lost. Without the log this file is damaged for good. */
static void everysec_machine_crash_is_recovered_from_the_log(void)
{
    crash_then_open("mcrash3", OX_SYNC_EVERYSEC, OX_SYNC_EVERYSEC);
}

/* Leaving OX_SYNC_ALWAYS and coming back: the return checkpoints (all of the OX_SYNC_NO
 * writes are durable from then on) and pins, so a machine crash after it loses nothing. */
static void sync_policy_changes_at_runtime_keep_durability(void)
{
    char torn[512];
    machine_crash("flip", 1800, 400, torn, sizeof torn);
    ox_store *s;
    T_EQ_INT(open_wal(torn, 0, &s), OX_OK);
    verify_writes(s, 1800, 100);
    T_EQ_INT(ox_store_set_sync(s, 7), OX_EINVAL);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* Pages freed between checkpoints cannot be reused until the next one: without the
 * checkpoints on a budget of such pages, 8000 one-key rewrites of 100 keys grew the file
 * to 164 MB. With a 1 MiB budget it stays within a few of them. */
static void file_stays_small_under_many_rewrites(void)
{
    const char *path = u_path("rewrites.mdb");
    g_pinned = 1u << 20; /* the child's budget */
    pid_t pid = fork();
    if (pid == 0) {
        ox_store *s;
        char k[16], v[100];
        memset(v, 'v', sizeof v);
        if (open_wal(path, 0, &s))
            _exit(2);
        for (int i = 0; i < 8000; i++) {
            size_t kl = U_KEY(k, "r%03d", i % 100);
            if (ox_put(ox_store_table(s), k, kl, v, sizeof v))
                _exit(3);
        }
        _exit(ox_store_close(s) ? 4 : 0);
    }
    g_pinned = 0;
    int status;
    waitpid(pid, &status, 0);
    T_ASSERT(WIFEXITED(status));
    T_EQ_INT(WEXITSTATUS(status), 0);
    struct stat st;
    T_EQ_INT(stat(path, &st), 0);
    printf("8000 rewrites of 100 keys: data file %lld bytes\n", (long long)st.st_size);
    T_ASSERT(st.st_size < 4 << 20);
}

/* A small log fills many times over: each time a checkpoint empties it. */
static void full_log_checkpoints_and_keeps_everything(void)
{
    const char *path = u_path("small.mdb");
    run_and_kill(path, WAL_SMALL, 4000, 60, NULL);
    ox_store *s;
    T_EQ_INT(open_wal(path, WAL_SMALL, &s), OX_OK);
    verify_writes(s, 4000, 60);
    T_EQ_INT(ox_store_close(s), OX_OK);
    struct stat st;
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", path);
    T_EQ_INT(stat(wal, &st), 0);
    T_EQ_U64((uint64_t)st.st_size, (uint64_t)WAL_SMALL);
}

/* Values larger than the whole log are committed by a checkpoint instead. */
static void record_larger_than_log_is_durable(void)
{
    const char *path = u_path("big.mdb");
    run_and_kill(path, WAL_SMALL, 40, 300 << 10, NULL);
    ox_store *s;
    T_EQ_INT(open_wal(path, WAL_SMALL, &s), OX_OK);
    verify_writes(s, 40, 300 << 10);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* A record too large for the log lives in its side file; if that file is damaged, the
 * open says so (it looped for ever on a length past 2^63, in the log's buffer growth). */
static void damaged_side_file_is_corruption(void)
{
    const char *path = u_path("side.mdb");
    run_and_kill(path, WAL_SMALL, 3, 300 << 10, NULL);
    char side[600];
    snprintf(side, sizeof side, "%s-wal-big", path);
    int fd = open(side, O_RDWR);
    T_ASSERT(fd >= 0);
    unsigned char b = 0x80;
    T_EQ_INT(pwrite(fd, &b, 1, 15), 1); /* the top byte of the record's 64-bit length */
    close(fd);
    ox_store *s;
    T_EQ_INT(open_wal(path, WAL_SMALL, &s), OX_ECORRUPT);
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

/* Compaction of a file a crash left replays its log first. */
static void compact_after_crash_replays_the_log(void)
{
    const char *path = u_path("cpt.mdb");
    run_and_kill(path, 0, 500, 100, NULL);
    T_EQ_INT(ox_compact(path), OX_OK);
    ox_store *s;
    T_EQ_INT(open_wal(path, 0, &s), OX_OK);
    verify_writes(s, 500, 100);
    T_EQ_INT(ox_store_close(s), OX_OK);
}

int main(void)
{
    T_RUN(machine_crash_rolls_back_to_checkpoint_and_replays);
    T_RUN(other_policy_open_replays_the_log);
    T_RUN(everysec_machine_crash_is_recovered_from_the_log);
    T_RUN(sync_policy_changes_at_runtime_keep_durability);
    T_RUN(file_stays_small_under_many_rewrites);
    T_RUN(full_log_checkpoints_and_keeps_everything);
    T_RUN(record_larger_than_log_is_durable);
    T_RUN(damaged_side_file_is_corruption);
    T_RUN(second_writer_process_is_refused);
    T_RUN(compact_after_crash_replays_the_log);
    return T_MAIN_END();
}
