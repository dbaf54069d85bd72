/* Opening stores: options, in-memory, wrapping an env, read-only, format version, sync
 * policies, size and flush, hot backup, map growth, the idle checkpoint. */
#include <dirent.h>
#include <lmdb.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib_util.h"
#include "ox_internal.h" /* the reader gate (ox__gate_*) */
#include "test.h"

T_MAIN_BEGIN;

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void open_creates_parent_dirs_and_one_file(void)
{
    ox_store *s;
    const char *p = u_path("a/b/c/store.mdb");
    T_EQ_INT(ox_store_open(p, NULL, &s), OX_OK);
    T_EQ_INT(ox_put(ox_store_table(s), "k", 1, "v", 1), OX_OK);
    T_EQ_U64(ox_store_format(s), OX_FORMAT_VERSION);
    uint64_t bytes;
    T_EQ_INT(ox_store_size_on_disk(s, &bytes), OX_OK);
    T_ASSERT(bytes >= 4 * 4096);
    T_EQ_INT(ox_store_flush(s), OX_OK);
    T_EQ_INT(ox_store_close(s), OX_OK);
    struct stat st;
    T_EQ_INT(stat(p, &st), 0);
    T_ASSERT(S_ISREG(st.st_mode)); /* MDB_NOSUBDIR: a file, not a directory */
    T_EQ_INT(ox_store_open(NULL, NULL, &s), OX_EINVAL);
    ox_options o;
    ox_options_init(&o);
    o.sync = 7;
    T_EQ_INT(ox_store_open(p, &o, &s), OX_EINVAL);
}

static void default_table_name_is_an_option(void)
{
    ox_options o;
    ox_options_init(&o);
    o.table = "users";
    ox_store *s;
    T_EQ_INT(ox_store_open(u_path("named.mdb"), &o, &s), OX_OK);
    T_EQ_STR(ox_table_name(ox_store_table(s)), "users");
    T_EQ_INT(ox_put(ox_store_table(s), "k", 1, "v", 1), OX_OK);
    ox_store_close(s);
    T_EQ_INT(ox_store_open(u_path("named.mdb"), NULL, &s), OX_OK);
    ox_table *t;
    T_EQ_INT(ox_table_open(s, "users", &t), OX_OK);
    T_EQ_INT(ox_contains(t, "k", 1), OX_OK);
    T_EQ_INT(ox_contains(ox_store_table(s), "k", 1), OX_NOTFOUND);
    ox_store_close(s);
}

static void data_survives_close_and_reopen(void)
{
    ox_store *s;
    T_EQ_INT(u_open("reopen.mdb", NULL, &s), OX_OK);
    T_EQ_INT(ox_put(ox_store_table(s), "durable", 7, "yes", 3), OX_OK);
    T_EQ_INT(ox_store_close(s), OX_OK);
    T_EQ_INT(u_open("reopen.mdb", NULL, &s), OX_OK);
    void *v;
    size_t n;
    T_EQ_INT(ox_get(ox_store_table(s), "durable", 7, &v, &n), OX_OK);
    T_EQ_MEM(v, n, "yes", 3);
    free(v);
    T_EQ_INT(ox_store_close(s), OX_OK);
    T_EQ_INT(ox_store_close(NULL), OX_OK);
}

static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static void in_memory_store_leaves_nothing_on_disk(void)
{
    int before = count_entries("/dev/shm", "oxistore-mem.") +
                 count_entries(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", "oxistore-mem.");
    ox_options o;
    ox_options_init(&o);
    o.in_memory = 1;
    ox_store *s;
    T_EQ_INT(ox_store_open(NULL, &o, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    char k[32];
    for (int i = 0; i < 1000; i++) {
        size_t kl = U_KEY(k, "m%d", i);
        T_EQ_INT(ox_put(t, k, kl, k, kl), OX_OK);
    }
    uint64_t n, bytes;
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 1000);
    T_EQ_INT(ox_store_size_on_disk(s, &bytes), OX_OK);
    T_EQ_U64(bytes, 0);
    int during = count_entries("/dev/shm", "oxistore-mem.") +
                 count_entries(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", "oxistore-mem.");
    T_EQ_INT(during, before); /* unlinked as soon as opened */
    /* a backup of an in-memory store is an ordinary store file */
    T_EQ_INT(ox_backup(s, u_path("from-mem.mdb"), 0), OX_OK);
    T_EQ_INT(ox_store_close(s), OX_OK);
    T_EQ_INT(u_open("from-mem.mdb", NULL, &s), OX_OK);
    T_EQ_INT(ox_count(ox_store_table(s), &n), OX_OK);
    T_EQ_U64(n, 1000);
    ox_store_close(s);
}

static void wrap_uses_the_callers_env(void)
{
    MDB_env *env;
    T_EQ_INT(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 9);
    T_EQ_INT(mdb_env_open(env, u_path("wrapped.mdb"), MDB_NOSUBDIR | MDB_NOTLS, 0644), 0);
    ox_store *s;
    T_EQ_INT(ox_store_wrap(env, NULL, &s), OX_OK);
    T_EQ_INT(ox_put(ox_store_table(s), "k", 1, "v", 1), OX_OK);
    T_EQ_INT(ox_store_close(s), OX_OK);
    /* the env is still the caller's, and holds the data */
    MDB_txn *txn;
    MDB_dbi dbi;
    T_EQ_INT(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    T_EQ_INT(mdb_dbi_open(txn, "t:default", 0, &dbi), 0);
    MDB_stat st;
    T_EQ_INT(mdb_stat(txn, dbi, &st), 0);
    T_EQ_U64(st.ms_entries, 1);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    /* an env without MDB_NOTLS cannot be shared between threads' readers */
    T_EQ_INT(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 9);
    T_EQ_INT(mdb_env_open(env, u_path("wrapped2.mdb"), MDB_NOSUBDIR, 0644), 0);
    T_EQ_INT(ox_store_wrap(env, NULL, &s), OX_EUNSUPPORTED);
    mdb_env_close(env);
}

static void read_only_store_refuses_writes(void)
{
    ox_store *s;
    T_EQ_INT(u_open("ro.mdb", NULL, &s), OX_OK);
    T_EQ_INT(ox_put(ox_store_table(s), "k", 1, "v", 1), OX_OK);
    ox_store_close(s);
    ox_options o;
    ox_options_init(&o);
    o.read_only = 1;
    T_EQ_INT(ox_store_open(u_path("ro.mdb"), &o, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_contains(t, "k", 1), OX_OK);
    T_EQ_INT(ox_put(t, "k", 1, "w", 1), OX_EREADONLY);
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_EREADONLY);
    ox_table *missing;
    T_EQ_INT(ox_table_open(s, "missing", &missing), OX_NOTFOUND);
    ox_store_close(s);
    T_EQ_INT(ox_store_open(u_path("does-not-exist.mdb"), &o, &s), OX_NOTFOUND);
}

static void newer_format_version_is_refused(void)
{
    ox_store *s;
    T_EQ_INT(u_open("fmt.mdb", NULL, &s), OX_OK);
    ox_store_close(s);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    T_EQ_INT(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 4);
    T_EQ_INT(mdb_env_open(env, u_path("fmt.mdb"), MDB_NOSUBDIR, 0644), 0);
    T_EQ_INT(mdb_txn_begin(env, NULL, 0, &txn), 0);
    T_EQ_INT(mdb_dbi_open(txn, "ox:meta", 0, &dbi), 0);
    MDB_val k = {6, "format"}, v;
    T_EQ_INT(mdb_get(txn, dbi, &k, &v), 0);
    T_EQ_MEM(v.mv_data, v.mv_size, "\0\0\0\4", 4);
    v.mv_data = "\0\0\0\x63";
    T_EQ_INT(mdb_put(txn, dbi, &k, &v, 0), 0);
    T_EQ_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    T_EQ_INT(u_open("fmt.mdb", NULL, &s), OX_EUNSUPPORTED);
}

static void every_sync_policy_keeps_data_across_reopen(void)
{
    for (int pol = OX_SYNC_ALWAYS; pol <= OX_SYNC_NO; pol++) {
        ox_options o;
        ox_options_init(&o);
        o.sync = pol;
        ox_store *s;
        char name[32];
        snprintf(name, sizeof name, "sync%d.mdb", pol);
        T_EQ_INT(ox_store_open(u_path(name), &o, &s), OX_OK);
        for (int i = 0; i < 100; i++) {
            char k[16];
            size_t kl = U_KEY(k, "k%d", i);
            T_EQ_INT(ox_put(ox_store_table(s), k, kl, "v", 1), OX_OK);
        }
        T_EQ_INT(ox_store_close(s), OX_OK);
        T_EQ_INT(ox_store_open(u_path(name), &o, &s), OX_OK);
        uint64_t n;
        T_EQ_INT(ox_count(ox_store_table(s), &n), OX_OK);
        T_EQ_U64(n, 100);
        T_EQ_INT(ox_store_close(s), OX_OK);
    }
}

struct bk_writer {
    ox_table *t;
    atomic_int stop;
    atomic_int written;
};

static void *bk_write(void *arg)
{
    struct bk_writer *w = arg;
    ox_val keys[100], vals[100];
    char kb[100][16];
    while (!atomic_load(&w->stop) && atomic_load(&w->written) < 200000) {
        for (int i = 0; i < 100; i++) {
            keys[i].len = U_KEY(kb[i], "w%07d", atomic_load(&w->written) + i);
            keys[i].data = kb[i];
            vals[i] = (ox_val){"0123456789", 10};
        }
        if (ox_batch_write(w->t, 100, keys, vals))
            break;
        atomic_fetch_add(&w->written, 100);
    }
    return NULL;
}

static void hot_backup_is_consistent_while_a_writer_runs(void)
{
    ox_options o;
    ox_options_init(&o);
    o.sync = OX_SYNC_NO;
    ox_store *s;
    T_EQ_INT(ox_store_open(u_path("hot.mdb"), &o, &s), OX_OK);
    struct bk_writer w = {.t = ox_store_table(s)};
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, bk_write, &w), 0);
    uint64_t deadline = t_now_ms() + 10000;
    while (atomic_load(&w.written) < 5000 && t_now_ms() < deadline)
        ;
    T_EQ_INT(ox_backup(s, u_path("backup/hot-copy.mdb"), 0), OX_OK);
    T_EQ_INT(ox_backup(s, u_path("backup/hot-compact.mdb"), 1), OX_OK);
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    ox_store_close(s);
    T_ASSERT(!file_exists(u_path("backup/hot-copy.mdb.tmp")));
    /* each copy holds whole batches only: a multiple of 100 keys, in a prefix order */
    const char *copies[2] = {"backup/hot-copy.mdb", "backup/hot-compact.mdb"};
    for (int c = 0; c < 2; c++) {
        T_EQ_INT(u_open(copies[c], NULL, &s), OX_OK);
        uint64_t n;
        T_EQ_INT(ox_count(ox_store_table(s), &n), OX_OK);
        T_ASSERT(n >= 5000);
        T_EQ_U64(n % 100, 0);
        char k[16];
        size_t kl = U_KEY(k, "w%07d", (int)n - 1);
        T_EQ_INT(ox_contains(ox_store_table(s), k, kl), OX_OK);
        kl = U_KEY(k, "w%07d", (int)n);
        T_EQ_INT(ox_contains(ox_store_table(s), k, kl), OX_NOTFOUND);
        ox_store_close(s);
    }
}

static void map_grows_from_tiny_to_100k_keys(void)
{
    ox_options o;
    ox_options_init(&o);
    o.map_size = 64 * 1024;
    o.sync = OX_SYNC_NO;
    o.mem_limit = 1 << 20; /* checkpoints all along: the map grows with them */
    ox_store *s;
    T_EQ_INT(ox_store_open(u_path("grow.mdb"), &o, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    size_t first = ox_store_map_size(s);
    T_ASSERT(first <= 64 * 1024);
    char k[32], v[64];
    memset(v, 'v', sizeof v);
    /* single-op commits first, then one big transaction that must replay after growth */
    for (int i = 0; i < 20000; i++) {
        size_t kl = U_KEY(k, "single:%06d", i);
        T_EQ_INT(ox_put(t, k, kl, v, sizeof v), OX_OK);
    }
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    for (int i = 0; i < 80000; i++) {
        size_t kl = U_KEY(k, "batch:%06d", i);
        T_EQ_INT(ox_txn_put(x, t, k, kl, v, sizeof v, 0, 0), OX_OK);
    }
    ox_val got;
    T_EQ_INT(ox_txn_get(x, t, "batch:000000", 12, &got), OX_OK);
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    uint64_t n;
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 100000);
    T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    T_ASSERT(ox_store_map_size(s) > 16 * first);
    ox_store_close(s);
    T_EQ_INT(u_open("grow.mdb", NULL, &s), OX_OK);
    t = ox_store_table(s);
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 100000);
    T_EQ_INT(ox_contains(t, "batch:079999", 12), OX_OK);
    T_EQ_INT(ox_contains(t, "single:019999", 13), OX_OK);
    ox_store_close(s);
}

/* A thread that holds a snapshot and writes: its writes go to the write buffer; once a
 * checkpoint needs the map to grow (which waits for readers, this one too) and the buffer
 * is full again, a write answers OX_EBUSY rather than wait for itself. Once the snapshot
 * ends, the checkpoint goes through and writes are taken again. */
static void write_needing_growth_while_the_thread_reads_is_busy_not_deadlocked(void)
{
    ox_options o;
    ox_options_init(&o);
    o.map_size = 64 * 1024;
    o.sync = OX_SYNC_NO;
    o.mem_limit = 256 << 10;
    ox_store *s;
    T_EQ_INT(ox_store_open(u_path("selfread.mdb"), &o, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    ox_snapshot *snap;
    T_EQ_INT(ox_snapshot_begin(s, &snap), OX_OK);
    char k[32], v[256];
    memset(v, 'v', sizeof v);
    int rc = OX_OK, i;
    for (i = 0; i < 100000 && rc == OX_OK; i++) {
        size_t kl = U_KEY(k, "k%06d", i);
        rc = ox_put(t, k, kl, v, sizeof v);
    }
    T_EQ_INT(rc, OX_EBUSY);
    T_ASSERT(i < 100000);
    ox_snapshot_end(snap);
    size_t kl = U_KEY(k, "k%06d", i);
    T_EQ_INT(ox_put(t, k, kl, v, sizeof v), OX_OK); /* reader gone: it grows now */
    uint64_t n;
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, (uint64_t)i);
    ox_store_close(s);
}

/* Two threads that shut the reader gate at once (a writer's map growth, the checkpointer's
 * env reopen or growth): each holds it shut in turn, and no reader is in while either
 * holds it. The second had let readers in: the first's opening cleared the mark that
 * stops them, which the second had set before it waited. */
typedef struct gate_run {
    ox_store *s;
    atomic_int shut;  /* closers between their shut and their open */
    atomic_int stop;
    atomic_int bad;   /* readers that found a closer in, or two closers in at once */
    atomic_long reads, shuts;
} gate_run;

static void *gate_reader(void *arg)
{
    gate_run *g = arg;
    while (!atomic_load(&g->stop)) {
        ox__gate_enter(g->s);
        if (atomic_load(&g->shut))
            atomic_fetch_add(&g->bad, 1);
        atomic_fetch_add(&g->reads, 1);
        ox__gate_leave(g->s);
    }
    return NULL;
}

static void *gate_closer(void *arg)
{
    gate_run *g = arg;
    /* the readers at work first (or 10 s): shuts with none about test nothing */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        sched_yield();
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (atomic_load(&g->reads) < 1000 && t.tv_sec - t0.tv_sec < 10);
    for (int i = 0; i < 300 && !atomic_load(&g->bad); i++) {
        if (ox__gate_shut(g->s, 5000) != OX_OK)
            continue;
        if (atomic_fetch_add(&g->shut, 1) != 0)
            atomic_fetch_add(&g->bad, 1);
        for (int j = 0; j < 2000; j++) /* a while inside, as a reopen is */
            __asm__ volatile("" ::: "memory");
        atomic_fetch_sub(&g->shut, 1);
        atomic_fetch_add(&g->shuts, 1);
        ox__gate_open(g->s);
        for (int j = 0; j < 2000; j++) /* and a while outside: readers go in */
            __asm__ volatile("" ::: "memory");
    }
    return NULL;
}

static void gate_closers_take_turns(void)
{
    gate_run g = {0};
    T_EQ_INT(u_open("gate.mdb", NULL, &g.s), OX_OK);
    pthread_t r[2], c[2];
    for (int i = 0; i < 2; i++)
        T_EQ_INT(pthread_create(&r[i], NULL, gate_reader, &g), 0);
    for (int i = 0; i < 2; i++)
        T_EQ_INT(pthread_create(&c[i], NULL, gate_closer, &g), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(c[i], NULL);
    atomic_store(&g.stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(r[i], NULL);
    printf("%ld shuts, %ld reads, %d readers or closers in while shut\n",
           atomic_load(&g.shuts), atomic_load(&g.reads), atomic_load(&g.bad));
    T_EQ_INT(atomic_load(&g.bad), 0);
    T_ASSERT(atomic_load(&g.shuts) == 600);
    T_ASSERT(atomic_load(&g.reads) > 0);
    T_EQ_INT(ox_store_close(g.s), OX_OK);
}

/* Checkpoints that rewrite every key reuse the pages the one before freed: the file holds
 * at most about two copies of the tree (the one readers see and the one being written),
 * not three (LMDB reuses what transaction K freed only after K + 1: ckpt_bump). Six
 * rounds over the same 20000 keys, a checkpoint each: 3.0x the live pages before the fix. */
static void checkpoints_rewriting_every_key_keep_two_copies_at_most(void)
{
    ox_options o;
    ox_options_init(&o);
    o.sync = OX_SYNC_NO;
    ox_store *s;
    T_EQ_INT(ox_store_open(u_path("rewrite.mdb"), &o, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    char k[32], v[100];
    ox_store_info in;
    for (int round = 0; round < 6; round++) {
        memset(v, 'a' + round, sizeof v);
        ox_txn *x;
        T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
        for (int i = 0; i < 20000; i++) {
            size_t kl = U_KEY(k, "r%08d", (i * 7919) % 20000); /* not in key order */
            T_EQ_INT(ox_txn_put(x, t, k, kl, v, sizeof v, 0, 0), OX_OK);
        }
        T_EQ_INT(ox_txn_commit(x), OX_OK);
        T_EQ_INT(ox_store_checkpoint(s), OX_OK);
    }
    T_EQ_INT(ox_store_stat(s, &in), OX_OK);
    uint64_t live = in.pages - in.pages_free;
    T_ASSERT(in.pages * 10 <= live * 23); /* <= 2.3x */
    T_EQ_INT(ox_store_close(s), OX_OK);
}

/* The write buffer of a store that stops taking commits is checkpointed once ckpt_idle_ms
 * passed without one, long before its age, when it holds 4096 keys or more: the log then
 * holds no commit LMDB lacks, and the data reads the same. (A poll with a deadline; the
 * age is an hour.) A buffer of 100 keys stays for a second (ten idle periods): a trickle
 * of writes does not rewrite LMDB's pages at each pause. */
static void an_idle_buffer_is_checkpointed(void)
{
    ox_options o;
    ox_options_init(&o);
    o.ckpt_age_ms = 3600000;
    o.ckpt_idle_ms = 200;
    ox_store *s;
    T_EQ_INT(ox_store_open(u_path("idle.mdb"), &o, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    char k[32];
    ox_write_info wi;
    ox_txn *x;
    for (int round = 0; round < 2; round++) {
        T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
        for (int i = round ? 100 : 0; i < (round ? 5000 : 100); i++) {
            size_t kl = U_KEY(k, "idle%04d", i);
            T_EQ_INT(ox_txn_put(x, t, k, kl, "v", 1, 0, 0), OX_OK);
        }
        T_EQ_INT(ox_txn_commit(x), OX_OK);
        if (round)
            break;
        uint64_t t0 = t_now_ms(); /* a few keys: nothing in a second */
        while (ox_store_write_info(s, &wi) == OX_OK && !wi.checkpoints && t_now_ms() - t0 < 1000)
            poll(NULL, 0, 10);
        T_EQ_U64(wi.checkpoints, 0);
    }
    T_EQ_INT(ox_store_write_info(s, &wi), OX_OK);
    uint64_t last = wi.last_seq, t0 = t_now_ms();
    while (ox_store_write_info(s, &wi) == OX_OK && (wi.checkpoints < 1 || wi.checkpointing ||
                                                    wi.checkpoint_seq < last) &&
           t_now_ms() - t0 < 20000)
        poll(NULL, 0, 10);
    T_EQ_U64(wi.checkpoints, 1);
    T_EQ_U64(wi.checkpoint_seq, last);
    T_EQ_INT(wi.checkpointing, 0);
    uint64_t n;
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 5000);
    T_EQ_STR(u_value(t, "idle4999"), "v");
    T_EQ_INT(ox_store_close(s), OX_OK);
}

static void compact_on_close_shrinks_the_file_and_keeps_the_data(void)
{
    ox_options o;
    ox_options_init(&o);
    o.sync = OX_SYNC_NO;
    ox_store *s;
    T_EQ_INT(ox_store_open(u_path("cclose.mdb"), &o, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    char k[32], v[200];
    memset(v, 'c', sizeof v);
    ox_txn *x;
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    for (int i = 0; i < 20000; i++) {
        size_t kl = U_KEY(k, "c%06d", i);
        T_EQ_INT(ox_txn_put(x, t, k, kl, v, sizeof v, 0, 0), OX_OK);
    }
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    T_EQ_INT(ox_store_checkpoint(s), OX_OK); /* the 20000 keys reach the file */
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    for (int i = 0; i < 20000; i++) {
        if (i % 100 == 0)
            continue; /* keep 200 keys */
        size_t kl = U_KEY(k, "c%06d", i);
        T_EQ_INT(ox_txn_delete(x, t, k, kl), OX_OK);
    }
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    uint64_t before, after;
    T_EQ_INT(ox_store_size_on_disk(s, &before), OX_OK);
    ox_store_compact_on_close(s);
    T_EQ_INT(ox_store_close(s), OX_OK);
    T_EQ_INT(u_open("cclose.mdb", NULL, &s), OX_OK);
    t = ox_store_table(s);
    T_EQ_INT(ox_store_size_on_disk(s, &after), OX_OK);
    T_ASSERT(after * 10 < before);
    uint64_t n;
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 200);
    void *got;
    size_t gl;
    T_EQ_INT(ox_get(t, "c019900", 7, &got, &gl), OX_OK);
    T_EQ_MEM(got, gl, v, sizeof v);
    free(got);
    ox_store_close(s);
    ox_check_report rep;
    T_EQ_INT(ox_check(u_path("cclose.mdb"), &rep), OX_OK);
}

int main(void)
{
    T_RUN(open_creates_parent_dirs_and_one_file);
    T_RUN(default_table_name_is_an_option);
    T_RUN(data_survives_close_and_reopen);
    T_RUN(in_memory_store_leaves_nothing_on_disk);
    T_RUN(wrap_uses_the_callers_env);
    T_RUN(read_only_store_refuses_writes);
    T_RUN(newer_format_version_is_refused);
    T_RUN(every_sync_policy_keeps_data_across_reopen);
    T_RUN(hot_backup_is_consistent_while_a_writer_runs);
    T_RUN(map_grows_from_tiny_to_100k_keys);
    T_RUN(write_needing_growth_while_the_thread_reads_is_busy_not_deadlocked);
    T_RUN(compact_on_close_shrinks_the_file_and_keeps_the_data);
    T_RUN(gate_closers_take_turns);
    T_RUN(checkpoints_rewriting_every_key_keep_two_copies_at_most);
    T_RUN(an_idle_buffer_is_checkpointed);
    return T_MAIN_END();
}
