/* ox_wal.c — the write-ahead log of OX_SYNC_ALWAYS stores (see ox_wal.h for the design). */
#include "ox_wal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ox_excl.h"
#include "ox_internal.h"

#define WAL_MAGIC "OXWAL03"     /* 8 bytes with its NUL; 03: side-file records */
#define WAL_MAGIC_02 "OXWAL02"  /* a log of before them, still read */
#define WAL_META 256u           /* bytes of LMDB's meta page kept: header + MDB_meta */
#define WAL_CLEAN 1u
#define OX_WAL_STEP (1 << 20)   /* bytes of the data file written back per step */
/* What starts a checkpoint besides a full half: see ckpt_due. */
#define OX_WAL_PINNED (8u << 20) /* default budget of pinned freed pages, bytes (at least) */
#define OX_WAL_PROBE 8           /* records between two looks at the pinned pages */
/* Header slot: magic[8] gen[8] txnid[8] flags[4] psize[4] start[8] seq[8]
 * meta[WAL_META] sum[8]. */
#define H_GEN 8
#define H_TXNID 16
#define H_FLAGS 24
#define H_PSIZE 28
#define H_START 32
#define H_SEQ 40
#define H_META 48
#define H_SUM (H_META + WAL_META)
#define H_SIZE (H_SUM + 8)
/* Record head: sum[8] len[4] flags[4] seq[8] zero[8]; the sum covers bytes 8.. and the
 * payload. A record too large for a half is written whole to the side file, with the head
 * sum[8] len[8] seq[8] zero[8], and the log gets an empty record flagged R_SIDE in its
 * place (see side_write). */
#define R_LEN 8
#define R_FLAGS 12
#define R_SEQ 16
#define R_SIDE 1u
#define S_LEN 8
#define S_SEQ 16
/* Where LMDB keeps a meta page's txnid: page header (16) + MDB_meta's mm_txnid (128). */
#define META_TXNID (16 + 128)

/* A checkpoint: captured by the writer, completed by whoever syncs. */
typedef struct wal_ckpt {
    uint64_t txnid;      /* LMDB's newest txn when captured */
    uint64_t start, seq; /* the log's first live record: where, and its sequence number */
    int half;            /* the half start is in */
    uint32_t psize;
    unsigned char meta[WAL_META];
    MDB_txn *pin;        /* read txn on txnid (NULL for a clean checkpoint) */
    int clean;
} wal_ckpt;

struct ox_wal {
    int fd;
    uint64_t size;       /* bytes of the file */
    uint64_t half;       /* bytes of each half of the record area */
    uint64_t seq;        /* sequence number of the last record appended (or burned) */
    uint64_t tail;       /* where the next record goes */
    int cur;             /* the half tail is in (tail may be its very end) */
    atomic_int broken;   /* a failed record may be in the log: checkpoint before appending
                            (atomic: a failed ox__wal_sync of the flusher sets it too) */
    int lazy;            /* OX_SYNC_EVERYSEC: appends do not sync, ox__wal_sync does */
    unsigned char *buf;  /* the record being built */
    size_t cap;
    MDB_env *env;        /* set by the first checkpoint */
    unsigned since;      /* records appended since the last look at the pinned pages */
    size_t pinned_max;   /* ox_options.wal_pinned (0: the default budget) */
    uint64_t last_off;   /* where the last appended record starts (ox__wal_cancel) */
    int side_fd;         /* the side file "<file>-wal-big" (-1 until needed) */
    char *side_path;
    uint64_t side_seq;   /* sequence number of the record the side file holds (0: none) */

    /* Shared with the checkpointer thread. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int th_on, stop;
    int busy;            /* a checkpoint is waiting for or in the thread */
    int bg_rc;           /* how the last background checkpoint ended */
    wal_ckpt bg;         /* the one it works on */
    uint64_t gen;        /* header generation in force */
    uint64_t start;      /* first live record (the header in force says so) */
    uint64_t start_seq;  /* its sequence number */
    int start_half;      /* the half it is in (the header keeps it in start's top bit) */
    MDB_txn *pin;        /* pin of the header in force */
    uint32_t psize;      /* its meta page (for a restore) */
    unsigned char meta[WAL_META];
};

static uint64_t rd64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static void wr64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static void wr32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }

/* A 64-bit checksum: catches torn and stale writes (not an adversary), at memory speed. */
static uint64_t wal_sum(const unsigned char *p, size_t n)
{
    const uint64_t k1 = 0x9e3779b97f4a7c15ull, k2 = 0xc2b2ae3d27d4eb4full;
    uint64_t h = k2 ^ (n * k1);
    for (; n >= 8; p += 8, n -= 8) {
        h ^= rd64(p) * k1;
        h = ((h << 31) | (h >> 33)) * k2;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h ^= (w ^ n) * k1;
    h ^= h >> 33;
    h *= k2;
    h ^= h >> 29;
    return h;
}

static int wal_errno(int e)
{
    return (e == ENOSPC || e == EDQUOT || e == EFBIG) ? OX_EFULL : OX_EIO;
}

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
    const unsigned char *p = buf;
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return wal_errno(w < 0 ? errno : EIO);
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return OX_OK;
}

static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    unsigned char *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? OX_EIO : OX_NOTFOUND;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return OX_OK;
}

static int sync_fd(int fd)
{
    return fdatasync(fd) ? wal_errno(errno) : OX_OK;
}

/* Writes zeros over [from, to) and syncs. Written once, not merely allocated: appends then
 * never grow the file (no ENOSPC, no size to record), and an fdatasync after an append
 * into written blocks flushes this file alone. Into an allocated-but-unwritten extent
 * (posix_fallocate) it must also commit the journal, which on ext4 flushes every other
 * file's dirty data too: measured 0.6-1 ms per sync against ~0.13 ms. */
static int wal_fill(int fd, uint64_t from, uint64_t to)
{
    static const unsigned char zero[64 << 10];
    int rc = OX_OK;
    while (from < to && rc == OX_OK) {
        size_t n = to - from < sizeof zero ? (size_t)(to - from) : sizeof zero;
        rc = pwrite_all(fd, zero, n, from);
        from += n;
    }
    return rc ? rc : sync_fd(fd);
}

/* ---- geometry ----------------------------------------------------------------------------- */

static uint64_t half_start(const ox_wal *w, int h) { return OX_WAL_DATA + (uint64_t)h * w->half; }
static uint64_t half_end(const ox_wal *w, int h) { return half_start(w, h) + w->half; }

/* ---- header ------------------------------------------------------------------------------- */

/* Reads header slot i into *c (and *gen): 1 if it is a good one, else 0. */
static int slot_read(ox_wal *w, unsigned i, uint64_t *gen, wal_ckpt *c)
{
    unsigned char h[H_SIZE];
    if (pread_all(w->fd, h, sizeof h, (uint64_t)i * OX_WAL_SLOT) ||
        (memcmp(h, WAL_MAGIC, 8) && memcmp(h, WAL_MAGIC_02, 8)) ||
        rd64(h + H_SUM) != wal_sum(h, H_SUM))
        return 0;
    *gen = rd64(h + H_GEN);
    c->txnid = rd64(h + H_TXNID);
    c->clean = (rd32(h + H_FLAGS) & WAL_CLEAN) != 0;
    c->psize = rd32(h + H_PSIZE);
    c->start = rd64(h + H_START); /* the half in the top bit: ox__wal_open splits it */
    c->seq = rd64(h + H_SEQ);
    memcpy(c->meta, h + H_META, WAL_META);
    return 1;
}

static int slot_write(ox_wal *w, uint64_t gen, const wal_ckpt *c)
{
    unsigned char h[H_SIZE];
    memset(h, 0, sizeof h);
    memcpy(h, WAL_MAGIC, 8);
    wr64(h + H_GEN, gen);
    wr64(h + H_TXNID, c->txnid);
    wr32(h + H_FLAGS, c->clean ? WAL_CLEAN : 0);
    wr32(h + H_PSIZE, c->psize);
    wr64(h + H_START, c->start | (uint64_t)c->half << 63);
    wr64(h + H_SEQ, c->seq);
    memcpy(h + H_META, c->meta, WAL_META);
    wr64(h + H_SUM, wal_sum(h, H_SUM));
    int rc = pwrite_all(w->fd, h, sizeof h, (gen & 1) * OX_WAL_SLOT);
    return rc ? rc : sync_fd(w->fd);
}

static void *wal_thread(void *arg);

int ox__wal_open(const char *dbpath, size_t size, size_t pinned, ox_wal **out,
                 int *recover, int *made)
{
    char path[4096];
    *out = NULL;
    *recover = 0;
    if (made)
        *made = 0;
    if (snprintf(path, sizeof path, "%s-wal", dbpath) >= (int)sizeof path)
        return OX_EINVAL;
    if (size < OX_WAL_DATA + (128u << 10))
        size = OX_WAL_DATA + (128u << 10);
    ox_wal *w = calloc(1, sizeof *w);
    if (!w)
        return OX_ENOMEM;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->pinned_max = pinned;
    w->fd = w->side_fd = -1;
    int rc = OX_OK, created = 0;
    if (!(w->side_path = malloc(strlen(path) + 5))) {
        rc = OX_ENOMEM;
        goto fail;
    }
    sprintf(w->side_path, "%s-big", path);
    /* A log this open creates is removed again if the open fails (a full disk): nothing
     * half made is left behind to use up the space. */
    if ((w->fd = open(path, O_RDWR | O_CLOEXEC)) < 0 && errno == ENOENT &&
        (w->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) >= 0)
        created = 1;
    if (w->fd < 0) {
        rc = ox__mdb_err(errno);
        goto fail;
    }
    /* One writer process per store: the log is its own. An OFD lock is tied to this
     * descriptor, so it holds against this process's other opens too. */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(w->fd, F_OFD_SETLK, &fl)) {
        rc = (errno == EAGAIN || errno == EACCES) ? OX_EBUSY : OX_EIO;
        created = 0; /* whoever holds the lock uses the file now: it is not ours to remove */
        goto fail;
    }
    struct stat st;
    if (fstat(w->fd, &st)) {
        rc = OX_EIO;
        goto fail;
    }
    uint64_t g[2] = {0, 0};
    wal_ckpt c[2];
    int ok0 = slot_read(w, 0, &g[0], &c[0]), ok1 = slot_read(w, 1, &g[1], &c[1]);
    int pick = ok0 && (!ok1 || g[0] > g[1]) ? 0 : ok1 ? 1 : -1;
    /* A log with a header keeps its size (its records sit where that size put them). */
    w->size = pick >= 0 ? (uint64_t)st.st_size : size;
    w->half = (w->size - OX_WAL_DATA) / 2;
    if (pick < 0 && (rc = wal_fill(w->fd, 0, w->size)))
        goto fail;
    w->cur = 0;
    w->tail = OX_WAL_DATA;
    if (pick >= 0) {
        const wal_ckpt *h = &c[pick];
        int hh = (int)(h->start >> 63);
        uint64_t start = h->start & ~(1ull << 63);
        if (w->half < (64u << 10) || start < half_start(w, hh) || start > half_end(w, hh) ||
            h->seq == 0) {
            rc = OX_ECORRUPT;
            goto fail;
        }
        w->gen = g[pick];
        w->start = start;
        w->start_seq = h->seq;
        w->start_half = hh;
        w->cur = hh;
        w->tail = start;
        w->seq = h->seq - 1;
        w->psize = h->psize;
        memcpy(w->meta, h->meta, WAL_META);
        *recover = !h->clean;
    }
    if (made)
        *made = created;
    *out = w;
    return OX_OK;
fail:
    if (created)
        unlink(path);
    ox__wal_close(w);
    return rc;
}
int ox__wal_restore(ox_wal *w, const char *dbpath)
{
    if (w->psize < 512 || w->psize > (1u << 16) || (w->psize & (w->psize - 1)))
        return OX_ECORRUPT;
    ox_excl ex;
    int rc = ox__excl_acquire(dbpath, &ex);
    if (rc)
        return rc;
    int fd = open(dbpath, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        ox__excl_release(&ex);
        return ox__mdb_err(errno);
    }
    /* Both slots get the checkpoint's meta page (each with its own page number): LMDB
     * then opens the checkpoint, whatever newer, maybe torn, commit a slot held. */
    unsigned char page[WAL_META];
    for (uint64_t slot = 0; slot < 2 && rc == OX_OK; slot++) {
        memcpy(page, w->meta, WAL_META);
        wr64(page, slot);
        rc = pwrite_all(fd, page, WAL_META, slot * w->psize);
    }
    if (rc == OX_OK && fsync(fd))
        rc = wal_errno(errno);
    close(fd);
    /* Another opener that waited on the lock must not trust the lock file's txnid. */
    if (rc == OX_OK)
        rc = ox__excl_invalidate(&ex);
    ox__excl_release(&ex);
    return rc;
}

/* Opens the side file if it is not open yet (creating it, and making its name durable,
 * with create != 0). */
static int side_open(ox_wal *w, int create)
{
    if (w->side_fd >= 0)
        return OX_OK;
    w->side_fd = open(w->side_path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (w->side_fd < 0)
        return create ? wal_errno(errno) : OX_ECORRUPT;
    int rc = create ? ox__sync_parent(w->side_path) : OX_OK;
    if (rc) { /* the next side record opens it again and retries the name's sync */
        close(w->side_fd);
        w->side_fd = -1;
    }
    return rc;
}

/* Reads the side file's record, which must carry sequence number seq, into w->buf (payload
 * at OX_WAL_HEAD): OX_OK with *len, or OX_ECORRUPT. A log record that points to it was
 * written only once it was synced, so anything else is damage. */
static int side_read(ox_wal *w, uint64_t seq, size_t *len)
{
    unsigned char head[OX_WAL_HEAD], *rec;
    if (side_open(w, 0) || pread_all(w->side_fd, head, OX_WAL_HEAD, 0))
        return OX_ECORRUPT;
    uint64_t n = rd64(head + S_LEN);
    struct stat st;
    if (rd64(head + S_SEQ) != seq || fstat(w->side_fd, &st) ||
        n > (uint64_t)st.st_size - OX_WAL_HEAD || ox__wal_reserve(w, (size_t)n, &rec))
        return OX_ECORRUPT;
    memcpy(rec, head, OX_WAL_HEAD);
    if (pread_all(w->side_fd, rec + OX_WAL_HEAD, (size_t)n, OX_WAL_HEAD) ||
        rd64(rec) != wal_sum(rec + 8, OX_WAL_HEAD - 8 + (size_t)n))
        return OX_ECORRUPT;
    *len = (size_t)n;
    return OX_OK;
}

/* Reads the record at off in half h if it is the one with sequence number seq: 1 with its
 * payload at w->buf + OX_WAL_HEAD and its length in *len, 2 the same for a record kept in
 * the side file (its log record is a head alone), 0 if there is none (or on a read error),
 * -1 if there is and its side file is damaged. */
static int rec_read(ox_wal *w, uint64_t off, int h, uint64_t seq, size_t *len)
{
    unsigned char head[OX_WAL_HEAD], *rec;
    if (off + OX_WAL_HEAD > half_end(w, h) || pread_all(w->fd, head, OX_WAL_HEAD, off))
        return 0;
    uint64_t n = rd32(head + R_LEN);
    if (rd64(head + R_SEQ) != seq || n > half_end(w, h) - off - OX_WAL_HEAD ||
        ox__wal_reserve(w, (size_t)n, &rec))
        return 0;
    memcpy(rec, head, OX_WAL_HEAD);
    if (pread_all(w->fd, rec + OX_WAL_HEAD, (size_t)n, off + OX_WAL_HEAD) ||
        rd64(rec) != wal_sum(rec + 8, OX_WAL_HEAD - 8 + (size_t)n))
        return 0;
    *len = (size_t)n;
    if (rd32(head + R_FLAGS) & R_SIDE)
        return n == 0 && side_read(w, seq, len) == OX_OK ? 2 : -1;
    return 1;
}

int ox__wal_replay(ox_wal *w, int (*fn)(void *ctx, const unsigned char *p, size_t len),
                   void *ctx)
{
    uint64_t off = w->tail, seq = w->seq + 1;
    int h = w->cur;
    size_t len;
    for (;; seq++) {
        int got = rec_read(w, off, h, seq, &len);
        if (!got) {
            /* The writer moves to the other half when a record does not fit in this one. */
            if (!(got = rec_read(w, half_start(w, !h), !h, seq, &len)))
                break;
            h = !h;
            off = half_start(w, h);
        }
        if (got < 0)
            return OX_ECORRUPT;
        if (got == 2)
            w->side_seq = seq; /* emptied by the checkpoint that ends the recovery */
        int rc = fn(ctx, w->buf + OX_WAL_HEAD, len);
        if (rc)
            return rc;
        off += OX_WAL_HEAD + (got == 2 ? 0 : len);
    }
    w->seq = seq - 1;
    w->tail = off;
    w->cur = h;
    return OX_OK;
}

int ox__wal_reserve(ox_wal *w, size_t len, unsigned char **rec)
{
    size_t need = OX_WAL_HEAD + len;
    if (len > SIZE_MAX / 2 - OX_WAL_HEAD)
        return OX_ENOMEM;
    if (need > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < need)
            cap *= 2;
        unsigned char *b = realloc(w->buf, cap);
        if (!b)
            return OX_ENOMEM;
        w->buf = b;
        w->cap = cap;
    }
    *rec = w->buf;
    return OX_OK;
}

/* ---- checkpoints ------------------------------------------------------------------------ */

/* Captures a checkpoint of env as it is now (no commit may be running: the writer holds
 * wlock): its newest txn, that txn's meta page, a pin on it; the log restarting at (start,
 * half) with the next sequence number. */
static int ckpt_capture(ox_wal *w, MDB_env *env, uint64_t start, int half, int clean,
                        wal_ckpt *c)
{
    MDB_envinfo info;
    MDB_stat st;
    int dfd;
    int rc = ox__mdb_err(mdb_env_info(env, &info));
    if (rc == OX_OK)
        rc = ox__mdb_err(mdb_env_stat(env, &st));
    if (rc == OX_OK)
        rc = ox__mdb_err(mdb_env_get_fd(env, &dfd));
    if (rc)
        return rc;
    memset(c, 0, sizeof *c);
    c->txnid = info.me_last_txnid;
    w->since = 0;
    c->psize = st.ms_psize;
    c->start = start;
    c->half = half;
    c->seq = w->seq + 1;
    c->clean = clean;
    /* The newest commit's meta page as LMDB wrote it, read through LMDB's own descriptor
     * (another open of the file would drop LMDB's locks). */
    int found = 0;
    for (uint64_t slot = 0; slot < 2 && !found; slot++) {
        if ((rc = pread_all(dfd, c->meta, WAL_META, slot * st.ms_psize)))
            return rc == OX_NOTFOUND ? OX_ECORRUPT : rc;
        found = rd64(c->meta + META_TXNID) == c->txnid;
    }
    if (!found)
        return OX_ECORRUPT;
    if (!clean && (rc = ox__mdb_err(mdb_txn_begin(env, NULL, MDB_RDONLY, &c->pin))))
        return rc;
    return OX_OK;
}

/* Syncs the data file. A checkpoint has up to a whole half-log's worth of commits to
 * write back, tens of MB: one fdatasync would queue all of it in front of the log's own
 * syncs, and every client would wait for it (measured: 100-300 ms stalls). Written back
 * a step at a time, waiting for each, the log's syncs get through between steps; the
 * closing fdatasync then has little left and flushes the device's cache. */
static int data_sync(MDB_env *env)
{
    int fd;
    struct stat st;
    if (mdb_env_get_fd(env, &fd) == MDB_SUCCESS && fstat(fd, &st) == 0)
        for (off_t off = 0; off < st.st_size; off += OX_WAL_STEP)
            if (sync_file_range(fd, off, OX_WAL_STEP, SYNC_FILE_RANGE_WAIT_BEFORE |
                                SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER))
                break; /* the fdatasync below reports what went wrong */
    return ox__mdb_err(mdb_env_sync(env, 1));
}

/* Completes a captured checkpoint: data file synced, then the header. Runs in the
 * checkpointer thread or in the writer (while the thread is idle). Takes c->pin. */
static int ckpt_finish(ox_wal *w, MDB_env *env, wal_ckpt *c)
{
    pthread_mutex_lock(&w->mu);
    uint64_t gen = w->gen + 1;
    pthread_mutex_unlock(&w->mu);
    int rc = data_sync(env);
    if (rc == OX_OK)
        rc = slot_write(w, gen, c);
    if (rc != OX_OK) {
        if (c->pin)
            mdb_txn_abort(c->pin);
        return rc;
    }
    /* The new checkpoint is durable: the previous snapshot may go. */
    pthread_mutex_lock(&w->mu);
    MDB_txn *old = w->pin;
    w->pin = c->pin;
    w->gen = gen;
    w->start = c->start;
    w->start_seq = c->seq;
    w->start_half = c->half;
    w->psize = c->psize;
    memcpy(w->meta, c->meta, WAL_META);
    pthread_mutex_unlock(&w->mu);
    if (old)
        mdb_txn_abort(old);
    return OX_OK;
}

static void *wal_thread(void *arg)
{
    ox_wal *w = arg;
    pthread_setname_np(pthread_self(), "ox-checkpoint");
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->busy && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->busy)
            break;
        wal_ckpt c = w->bg;
        pthread_mutex_unlock(&w->mu);
        int rc = ckpt_finish(w, w->env, &c);
        pthread_mutex_lock(&w->mu);
        w->bg_rc = rc;
        w->busy = 0;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Waits until no background checkpoint is running; returns how the last one ended. */
static int wait_idle(ox_wal *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->busy)
        pthread_cond_wait(&w->cv, &w->mu);
    int rc = w->bg_rc;
    w->bg_rc = OX_OK;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int ox__wal_checkpoint(ox_wal *w, MDB_env *env, int clean)
{
    wal_ckpt c;
    wait_idle(w);
    w->env = env;
    int rc = ckpt_capture(w, env, w->tail, w->cur, clean, &c);
    if (rc == OX_OK)
        rc = ckpt_finish(w, env, &c);
    if (rc == OX_OK)
        w->broken = 0;
    /* The side file's record is behind the log's start now: its space goes back. */
    if (rc == OX_OK && w->side_seq && w->side_seq < c.seq && ftruncate(w->side_fd, 0) == 0)
        w->side_seq = 0;
    return rc;
}

/* Captures a checkpoint whose log starts at (start, half) and hands it to the checkpointer
 * thread (idle: the caller waited), or completes it here if the thread cannot start. */
static int ckpt_background(ox_wal *w, MDB_env *env, uint64_t start, int half)
{
    wal_ckpt c;
    int rc = ckpt_capture(w, env, start, half, 0, &c);
    if (rc)
        return rc;
    pthread_mutex_lock(&w->mu);
    if (!w->th_on && pthread_create(&w->th, NULL, wal_thread, w) == 0)
        w->th_on = 1;
    if (w->th_on) {
        w->bg = c;
        w->busy = 1;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return w->th_on ? OX_OK : ckpt_finish(w, env, &c);
}

/* 1 if no background checkpoint is running. */
static int bg_idle(ox_wal *w)
{
    pthread_mutex_lock(&w->mu);
    int idle = !w->busy;
    pthread_mutex_unlock(&w->mu);
    return idle;
}

/* Pages freed by the commits since the pinned snapshot: the records of LMDB's free-page
 * database (one per commit, keyed by its txn id, a list headed by its length) newer than
 * the pin. LMDB cannot reuse them before the next checkpoint moves the pin. */
static uint64_t pinned_pages(ox_wal *w, MDB_env *env)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t n = 0;
    pthread_mutex_lock(&w->mu);
    size_t pin = w->pin ? mdb_txn_id(w->pin) : 0;
    pthread_mutex_unlock(&w->mu);
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))
        return 0;
    if (mdb_cursor_open(txn, 0 /* FREE_DBI */, &cur) == MDB_SUCCESS) {
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == MDB_SUCCESS;
             rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
            size_t id, len;
            if (k.mv_size != sizeof id || v.mv_size < sizeof len)
                break;
            memcpy(&id, k.mv_data, sizeof id);
            if (id < pin)
                break;
            memcpy(&len, v.mv_data, sizeof len);
            n += len;
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return n;
}

/* Every page a commit frees stays unusable until the next checkpoint moves the pin, and
 * LMDB grows the file to hold what it cannot reuse: with checkpoints only at half
 * switches, 8000 one-key rewrites of 100 keys grew it to 164 MB. A checkpoint that starts
 * here, at the log's tail (the records after it are the commits it does not hold), makes
 * the pages freed before it reusable once it is done. It is due when the pinned pages
 * pass the budget: what a checkpoint writes back is about what it releases, so a bigger
 * budget means fewer write-backs (a page changed many times is written once) and a bigger
 * file. Counting commits instead mistakes their size: one to thirty pages each. */
static int ckpt_due(ox_wal *w, MDB_env *env, int *over)
{
    MDB_envinfo info;
    MDB_stat st;
    if (w->broken || w->since < OX_WAL_PROBE || mdb_env_info(env, &info) ||
        mdb_env_stat(env, &st))
        return 0;
    w->since = 0;
    uint64_t budget = w->pinned_max;
    if (!budget) {
        budget = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize / 4;
        if (budget < OX_WAL_PINNED)
            budget = OX_WAL_PINNED;
    }
    uint64_t pinned = pinned_pages(w, env) * st.ms_psize;
    *over = pinned >= 2 * budget;
    return pinned >= budget;
}

/* Starts a checkpoint when one is due and none runs. Writes go on while it runs, pinning
 * more pages; past twice the budget the writer waits for it (and starts the next), so the
 * file stays within about the live data plus twice the budget even when writes outpace
 * the write-back. */
static int ckpt_if_due(ox_wal *w, MDB_env *env)
{
    int over = 0;
    if (!ckpt_due(w, env, &over) || (!bg_idle(w) && !over))
        return OX_OK;
    wait_idle(w); /* collects the last one's outcome */
    return ckpt_background(w, env, w->tail, w->cur);
}

/* Moves appends to the other half, which must hold no live record: if the checkpoint that
 * freed it has not finished, wait; if it failed, checkpoint here. Then hands the
 * checkpoint that will free this half to the thread. */
static int switch_half(ox_wal *w, MDB_env *env)
{
    int rc = OX_OK;
    wait_idle(w);
    if (w->start_half != w->cur && (rc = ox__wal_checkpoint(w, env, 0)))
        return rc;
    int next = !w->cur;
    if ((rc = ckpt_background(w, env, half_start(w, next), next)))
        return rc;
    w->cur = next;
    w->tail = half_start(w, next);
    return OX_OK;
}

/* ---- appends ------------------------------------------------------------------------------ */

/* Overwrites the head of the record at off with zeros and syncs it, whatever the policy: no
 * replay counts it any more (after a crash of the process: the page cache holds the zeros;
 * of the machine: the sync made them durable). */
static int rec_void(ox_wal *w, uint64_t off)
{
    static const unsigned char zero[OX_WAL_HEAD];
    int rc = pwrite_all(w->fd, zero, sizeof zero, off);
    return rc ? rc : sync_fd(w->fd);
}

/* The record of sequence number w->seq + 1 at off was refused (its append or its commit
 * failed): it must never be replayed. Its head is voided at once; its number is burnt
 * and the log broken, and a checkpoint moves the log's start past it, now if it can, else
 * before the next commit (ox__wal_ready). The voiding covers the time until then; the
 * checkpoint covers a voiding that failed, or that seemed to succeed while another
 * thread's fdatasync took its write-back error (Linux reports one to a single caller). */
static void rec_refused(ox_wal *w, MDB_env *env, uint64_t off)
{
    rec_void(w, off);
    w->seq++;
    w->broken = 1;
    if (env)
        ox__wal_checkpoint(w, env, 0);
}

/* A record of len payload bytes (in w->buf) larger than a half goes whole into the side
 * file, synced, with sequence number w->seq + 1; the log then gets an empty record flagged
 * R_SIDE in its place. The side file holds one record: if the checkpoint in force does not
 * start past the one it holds, a checkpoint comes first. On failure the side file is
 * emptied (its space given back) and nothing points to it. */
static int side_write(ox_wal *w, MDB_env *env, size_t len)
{
    int rc = OX_OK;
    wait_idle(w);
    if (w->side_seq && w->start_seq <= w->side_seq && (rc = ox__wal_checkpoint(w, env, 0)))
        return rc;
    if ((rc = side_open(w, 1)))
        return rc;
    unsigned char *rec = w->buf;
    wr64(rec + S_LEN, len);
    wr64(rec + S_SEQ, w->seq + 1);
    wr64(rec + S_SEQ + 8, 0);
    wr64(rec, wal_sum(rec + 8, OX_WAL_HEAD - 8 + len));
    w->side_seq = 0;
    rc = ftruncate(w->side_fd, 0) ? wal_errno(errno) : OX_OK;
    if (rc == OX_OK)
        rc = pwrite_all(w->side_fd, rec, OX_WAL_HEAD + len, 0);
    if (rc == OX_OK)
        rc = sync_fd(w->side_fd);
    if (rc != OX_OK) {
        if (ftruncate(w->side_fd, 0)) { /* the record is incomplete either way */ }
        return rc;
    }
    w->side_seq = w->seq + 1;
    return OX_OK;
}

int ox__wal_append(ox_wal *w, MDB_env *env, size_t len)
{
    uint64_t need = OX_WAL_HEAD + (uint64_t)len;
    unsigned char side_head[OX_WAL_HEAD], *rec = w->buf;
    uint32_t flags = 0;
    int rc = ox__wal_ready(w, env);
    if (rc)
        return rc;
    if (need > w->half || len > UINT32_MAX) { /* the log's heads hold 32-bit lengths */
        if ((rc = side_write(w, env, len)))
            return rc;
        rec = side_head;
        flags = R_SIDE;
        len = 0;
        need = OX_WAL_HEAD;
    }
    if (w->tail + need > half_end(w, w->cur) ? (rc = switch_half(w, env))
                                              : (rc = ckpt_if_due(w, env)))
        return rc;
    wr32(rec + R_LEN, (uint32_t)len);
    wr32(rec + R_FLAGS, flags);
    wr64(rec + R_SEQ, w->seq + 1);
    wr64(rec + R_SEQ + 8, 0);
    wr64(rec, wal_sum(rec + 8, OX_WAL_HEAD - 8 + len));
    rc = pwrite_all(w->fd, rec, (size_t)need, w->tail);
    if (rc == OX_OK && !w->lazy)
        rc = sync_fd(w->fd);
    if (rc != OX_OK) {
        /* Some of the record may be in the page cache or on disk. */
        rec_refused(w, env, w->tail);
        return rc;
    }
    w->last_off = w->tail;
    w->seq++;
    w->tail += need;
    w->since++;
    return OX_OK;
}

int ox__wal_ready(ox_wal *w, MDB_env *env)
{
    return w->broken ? ox__wal_checkpoint(w, env, 0) : OX_OK;
}

void ox__wal_set_lazy(ox_wal *w, int lazy)
{
    w->lazy = lazy;
}

void ox__wal_unpin(ox_wal *w)
{
    wait_idle(w);
    pthread_mutex_lock(&w->mu);
    if (w->pin)
        mdb_txn_abort(w->pin);
    w->pin = NULL;
    w->env = NULL;
    pthread_mutex_unlock(&w->mu);
    w->broken = 1;
}

int ox__wal_sync(ox_wal *w)
{
    int rc = sync_fd(w->fd);
    if (rc)
        w->broken = 1;
    return rc;
}

void ox__wal_cancel(ox_wal *w, MDB_env *env)
{
    /* The record stays where it is, voided, its number used (w->seq is past it already):
     * the checkpoint also gives back the pages the pinned checkpoint held, which a commit
     * that failed for want of space needs (a full disk would otherwise refuse every write
     * long before the live data fills it). */
    w->seq--;
    rec_refused(w, env, w->last_off);
}

void ox__wal_close(ox_wal *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->th_on)
        pthread_join(w->th, NULL);
    if (w->pin)
        mdb_txn_abort(w->pin);
    if (w->fd >= 0)
        close(w->fd);
    if (w->side_fd >= 0)
        close(w->side_fd);
    free(w->side_path);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->buf);
    free(w);
}
