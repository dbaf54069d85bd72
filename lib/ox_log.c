/* ox_log.c — the write-ahead log (see ox_log.h): segments, records, replay, appends,
 * voiding, reuse of segments after checkpoints. */
#include "ox_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ox_internal.h"

#define R_LEN 8
#define R_SEQ 16
#define WRITER_LOCK_AT ((off_t)1 << 40) /* the byte of "<file>-lock" the writer locks */
#define NAME_HEX 16

typedef struct seg {
    uint64_t first; /* the sequence number its name carries */
    uint64_t size;  /* bytes */
    int free;       /* only records a checkpoint holds: to reuse or delete */
} seg;

struct ox_log {
    char *base;            /* "<dbpath>-wal" */
    char *dir;             /* its directory */
    size_t segsize;
    int read_only;
    int lockfd;
    seg *segs;             /* by first; the active one is the last */
    size_t nsegs, capsegs;
    int fd;                /* the active segment, -1 before the first */
    uint64_t tail;         /* where the next record goes in it */
    uint64_t seq;          /* the last record appended */
    uint64_t last_off;     /* where it starts */
    int lazy;
    int broken;            /* a failed record at broken_off could not be voided */
    uint64_t broken_off;
    pthread_mutex_t mu;    /* fd, against ox__log_sync on another thread */
};

static uint64_t rd64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static void wr64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static void wr32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }

/* A 64-bit checksum: catches torn and stale writes (not an adversary), at memory speed.
 * Streamed: a record's is taken over its head's last 24 bytes, then its payload. */
typedef struct sum_st {
    uint64_t h;
    uint64_t n;
} sum_st;

static const uint64_t K1 = 0x9e3779b97f4a7c15ull, K2 = 0xc2b2ae3d27d4eb4full;

static void sum_words(sum_st *s, const unsigned char *p, size_t n) /* n % 8 == 0 */
{
    for (; n; p += 8, n -= 8) {
        s->h ^= rd64(p) * K1;
        s->h = ((s->h << 31) | (s->h >> 33)) * K2;
    }
}

/* The checksum of a record's head bytes 8..32 (head) and its payload p/n. */
static uint64_t rec_sum(const unsigned char *head, const unsigned char *p, size_t n)
{
    sum_st s = {K2 ^ ((OX_LOG_HEAD - 8 + n) * K1), 0};
    sum_words(&s, head + 8, OX_LOG_HEAD - 8);
    sum_words(&s, p, n & ~(size_t)7);
    uint64_t w = 0;
    memcpy(&w, p + (n & ~(size_t)7), n & 7);
    s.h ^= (w ^ (OX_LOG_HEAD - 8 + n)) * K1;
    s.h ^= s.h >> 33;
    s.h *= K2;
    s.h ^= s.h >> 29;
    return s.h;
}

static int log_errno(int e)
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
            return log_errno(w < 0 ? errno : EIO);
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return OX_OK;
}

static int sync_fd(int fd)
{
    return fdatasync(fd) ? log_errno(errno) : OX_OK;
}

static void seg_path(const ox_log *l, uint64_t first, char *out, size_t cap)
{
    snprintf(out, cap, "%s.%016" PRIx64, l->base, first);
}

/* ---- open ----------------------------------------------------------------------------- */

static int seg_cmp(const void *a, const void *b)
{
    const seg *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

static int seg_add(ox_log *l, uint64_t first, uint64_t size)
{
    if (l->nsegs == l->capsegs) {
        size_t cap = l->capsegs ? l->capsegs * 2 : 8;
        seg *n = realloc(l->segs, cap * sizeof *n);
        if (!n)
            return OX_ENOMEM;
        l->segs = n;
        l->capsegs = cap;
    }
    l->segs[l->nsegs++] = (seg){first, size, 0};
    return OX_OK;
}

/* The segments on disk, in order. */
static int seg_list(ox_log *l)
{
    const char *name = strrchr(l->base, '/');
    name = name ? name + 1 : l->base;
    size_t nlen = strlen(name);
    DIR *d = opendir(l->dir);
    if (!d)
        return ox__mdb_err(errno);
    int rc = OX_OK;
    struct dirent *e;
    while (rc == OX_OK && (e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, name, nlen) || n[nlen] != '.' || strlen(n + nlen + 1) != NAME_HEX)
            continue;
        char *end;
        uint64_t first = strtoull(n + nlen + 1, &end, 16);
        if (*end)
            continue;
        char path[4096];
        struct stat st;
        seg_path(l, first, path, sizeof path);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc = seg_add(l, first, (uint64_t)st.st_size);
    }
    closedir(d);
    if (rc == OX_OK && l->nsegs)
        qsort(l->segs, l->nsegs, sizeof *l->segs, seg_cmp);
    return rc;
}

int ox__log_open(const char *dbpath, size_t segment, int read_only, ox_log **out)
{
    *out = NULL;
    ox_log *l = calloc(1, sizeof *l);
    if (!l)
        return OX_ENOMEM;
    l->fd = l->lockfd = -1;
    l->segsize = segment < (1u << 20) ? (1u << 20) : segment;
    l->read_only = read_only;
    pthread_mutex_init(&l->mu, NULL);
    int rc = OX_OK;
    size_t n = strlen(dbpath);
    if (!(l->base = malloc(n + 5)) || !(l->dir = malloc(n + 2))) {
        rc = OX_ENOMEM;
        goto fail;
    }
    memcpy(l->base, dbpath, n);
    memcpy(l->base + n, "-wal", 5);
    const char *slash = strrchr(dbpath, '/');
    if (!slash)
        strcpy(l->dir, ".");
    else if (slash == dbpath)
        strcpy(l->dir, "/");
    else
        snprintf(l->dir, n + 2, "%.*s", (int)(slash - dbpath), dbpath);
    if (!read_only) {
        char lock[4096];
        snprintf(lock, sizeof lock, "%s-lock", dbpath);
        if ((l->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
            rc = ox__mdb_err(errno);
            goto fail;
        }
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = WRITER_LOCK_AT,
                           .l_len = 1};
        if (fcntl(l->lockfd, F_OFD_SETLK, &fl)) {
            rc = (errno == EAGAIN || errno == EACCES) ? OX_EBUSY : OX_EIO;
            goto fail;
        }
    }
    if ((rc = seg_list(l)))
        goto fail;
    *out = l;
    return OX_OK;
fail:
    ox__log_close(l);
    return rc;
}

void ox__log_close(ox_log *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    if (l->lockfd >= 0)
        close(l->lockfd);
    pthread_mutex_destroy(&l->mu);
    free(l->segs);
    free(l->base);
    free(l->dir);
    free(l);
}

/* ---- new segments ------------------------------------------------------------------------- */

/* Writes zeros over [0, size) of fd and syncs. Written once, not merely allocated: an
 * fdatasync after an append into written blocks flushes this file alone. One page per
 * write: the page cache sizes a file's folios by the writes that fill it (64 KiB writes
 * made 64 KiB folios on Linux 6.x ext4), and every commit that then dirtied a few bytes
 * of one sent the whole folio to the disk, about 64 KiB per commit. */
static int zero_fill(int fd, uint64_t size)
{
    static const unsigned char zero[4096];
    int rc = OX_OK;
    for (uint64_t off = 0; off < size && rc == OX_OK;) {
        size_t n = size - off < sizeof zero ? (size_t)(size - off) : sizeof zero;
        rc = pwrite_all(fd, zero, n, off);
        off += n;
    }
    return rc ? rc : sync_fd(fd);
}

/* Makes segment `first` the active one, of at least need bytes: a free segment renamed,
 * or a new one written with zeros (a record larger than a segment: a segment of its
 * size, written by its append). Nothing is left behind on failure. */
static int seg_start(ox_log *l, uint64_t first, uint64_t need)
{
    char path[4096], from[4096];
    seg_path(l, first, path, sizeof path);
    uint64_t size = need > l->segsize ? need : l->segsize;
    int rc = OX_OK, fd = -1, created = 0;
    size_t reuse = l->nsegs;
    /* The active segment holding no record yet carries this very name: it is replaced. */
    if (l->nsegs && l->segs[l->nsegs - 1].first == first) {
        if (l->fd >= 0)
            close(l->fd);
        l->fd = -1;
        unlink(path);
        l->nsegs--;
    }
    if (size == l->segsize)
        for (size_t i = 0; i < l->nsegs && reuse == l->nsegs; i++)
            if (l->segs[i].free && l->segs[i].size == size)
                reuse = i;
    if (reuse < l->nsegs) {
        seg_path(l, l->segs[reuse].first, from, sizeof from);
        if (rename(from, path) || (fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
            return ox__mdb_err(errno);
        memmove(&l->segs[reuse], &l->segs[reuse + 1], (l->nsegs - reuse - 1) * sizeof *l->segs);
        l->nsegs--;
    } else {
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return ox__mdb_err(errno);
        created = 1;
        if (size == l->segsize && (rc = zero_fill(fd, size)))
            goto fail;
        if (size != l->segsize)
            size = 0; /* the record's append writes it, growing the file */
    }
    /* The name is durable before any record in it counts. */
    if ((rc = ox__sync_parent(path)) || (rc = seg_add(l, first, size)))
        goto fail;
    pthread_mutex_lock(&l->mu);
    int old = l->fd;
    l->fd = fd;
    pthread_mutex_unlock(&l->mu);
    if (old >= 0)
        close(old);
    l->tail = 0;
    return OX_OK;
fail:
    close(fd);
    if (created)
        unlink(path);
    return rc;
}

/* ---- replay ----------------------------------------------------------------------------------- */

/* The record of seq at off in the mapped segment p (size n): 1 with its payload, else 0. */
static int rec_at(const unsigned char *p, uint64_t n, uint64_t off, uint64_t seq,
                  const unsigned char **payload, size_t *len)
{
    if (off + OX_LOG_HEAD > n)
        return 0;
    const unsigned char *h = p + off;
    uint64_t plen = rd32(h + R_LEN);
    if (rd64(h + R_SEQ) != seq || plen > n - off - OX_LOG_HEAD ||
        rd64(h) != rec_sum(h, h + OX_LOG_HEAD, (size_t)plen))
        return 0;
    *payload = h + OX_LOG_HEAD;
    *len = (size_t)plen;
    return 1;
}

/* Walks segment i from its start: fn for each record after `from`; *next is the seq
 * expected after the last good record, *end the offset after it. */
static int seg_replay(ox_log *l, size_t i, uint64_t from,
                      int (*fn)(void *, uint64_t, const unsigned char *, size_t), void *ctx,
                      uint64_t *next, uint64_t *end)
{
    char path[4096];
    seg_path(l, l->segs[i].first, path, sizeof path);
    uint64_t size = l->segs[i].size, off = 0, seq = l->segs[i].first;
    *end = 0;
    if (!size)
        return OX_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ox__mdb_err(errno);
    const unsigned char *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return OX_EIO;
    int rc = OX_OK;
    const unsigned char *payload;
    size_t len;
    while (rc == OX_OK && rec_at(p, size, off, seq, &payload, &len)) {
        if (seq > from && seq == *next) {
            rc = fn(ctx, seq, payload, len);
            (*next)++;
        }
        off += OX_LOG_HEAD + len;
        seq++;
    }
    munmap((void *)p, size);
    /* Records before `from` in this segment are skipped, not required. */
    if (seq <= from)
        *next = from + 1;
    *end = off;
    return rc;
}

int ox__log_replay(ox_log *l, uint64_t from,
                   int (*fn)(void *ctx, uint64_t seq, const unsigned char *p, size_t len),
                   void *ctx, uint64_t *last)
{
    size_t start = l->nsegs;
    for (size_t i = 0; i < l->nsegs; i++)
        if (l->segs[i].first <= from + 1)
            start = i;
    if (start == l->nsegs && l->nsegs && l->segs[0].first > from + 1)
        return OX_ECORRUPT; /* the record after `from` is in no segment */
    uint64_t next = from + 1, end = 0;
    size_t at = start;
    for (size_t i = start; i < l->nsegs; i++) {
        if (i > start && l->segs[i].first != next)
            break;
        uint64_t e;
        int rc = seg_replay(l, i, from, fn, ctx, &next, &e);
        if (rc)
            return rc;
        at = i;
        end = e;
    }
    *last = next - 1;
    l->seq = next - 1;
    for (size_t i = 0; i < start && i < l->nsegs; i++)
        l->segs[i].free = 1;
    if (l->read_only)
        return OX_OK;
    /* Segments past the one holding the last record hold none that count. */
    while (l->nsegs && l->nsegs - 1 > at && at < l->nsegs) {
        char path[4096];
        seg_path(l, l->segs[l->nsegs - 1].first, path, sizeof path);
        unlink(path);
        l->nsegs--;
    }
    if (at >= l->nsegs || l->segs[at].size == 0 || end >= l->segs[at].size)
        return seg_start(l, next, OX_LOG_HEAD);
    char path[4096];
    seg_path(l, l->segs[at].first, path, sizeof path);
    if ((l->fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
        return ox__mdb_err(errno);
    l->tail = end;
    return OX_OK;
}

/* Counts the records a replay would apply, stopping at max. */
typedef struct log_count {
    uint64_t n, max;
} log_count;

static int count_rec(void *ctx, uint64_t seq, const unsigned char *p, size_t len)
{
    (void)seq;
    (void)p;
    (void)len;
    log_count *c = ctx;
    return ++c->n >= c->max; /* nonzero: stop */
}

/* Walks the records after `from` as a read-only replay, counting up to max into *n. */
static int count_from(ox_log *l, uint64_t from, uint64_t max, uint64_t *n, uint64_t *last)
{
    log_count c = {0, max};
    int ro = l->read_only;
    l->read_only = 1;
    int rc = ox__log_replay(l, from, count_rec, &c, last);
    l->read_only = ro;
    *n = c.n;
    return rc;
}

int ox__log_pending(ox_log *l, uint64_t from)
{
    uint64_t n, last;
    count_from(l, from, 1, &n, &last);
    return n > 0;
}

int ox__log_scan(ox_log *l, uint64_t from, uint64_t *records)
{
    uint64_t last;
    int rc = count_from(l, from, UINT64_MAX, records, &last);
    /* A segment of later commits past the end of the replay: those between are missing
     * (an open would drop the later ones, as a crash under OX_SYNC_NO may require). */
    for (size_t i = 0; rc == OX_OK && i < l->nsegs; i++)
        if (l->segs[i].first > last + 1)
            rc = OX_ECORRUPT;
    return rc;
}

/* ---- appends ---------------------------------------------------------------------------------- */

/* Zeros the head of the record at off in the active segment and syncs: no replay counts
 * it any more (after a crash of the process: the page cache holds the zeros; of the
 * machine: the sync made them durable). */
static int rec_void(ox_log *l, uint64_t off)
{
    static const unsigned char zero[OX_LOG_HEAD];
    int rc = pwrite_all(l->fd, zero, sizeof zero, off);
    return rc ? rc : sync_fd(l->fd);
}

/* Writes head and payload at off (one pwritev, retried on a short write). */
static int rec_write(int fd, const unsigned char *head, const void *p, size_t n, uint64_t off)
{
    struct iovec iov[2] = {{(void *)head, OX_LOG_HEAD}, {(void *)p, n}};
    size_t left = OX_LOG_HEAD + n;
    int cnt = 2;
    struct iovec *v = iov;
    while (left) {
        ssize_t w = pwritev(fd, v, cnt, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return log_errno(w < 0 ? errno : EIO);
        left -= (size_t)w;
        off += (uint64_t)w;
        while (cnt && (size_t)w >= v->iov_len) {
            w -= (ssize_t)v->iov_len;
            v++;
            cnt--;
        }
        if (cnt) {
            v->iov_base = (char *)v->iov_base + w;
            v->iov_len -= (size_t)w;
        }
    }
    return OX_OK;
}

int ox__log_append(ox_log *l, uint64_t seq, const void *payload, size_t len)
{
    if (l->read_only || l->fd < 0)
        return OX_EREADONLY;
    if (l->broken) {
        if (rec_void(l, l->broken_off))
            return OX_EIO;
        l->broken = 0;
    }
    if (len > UINT32_MAX)
        return OX_EINVAL;
    uint64_t need = OX_LOG_HEAD + (uint64_t)len;
    int rc;
    if (l->tail + need > l->segs[l->nsegs - 1].size && (rc = seg_start(l, seq, need)))
        return rc;
    unsigned char h[OX_LOG_HEAD];
    wr32(h + R_LEN, (uint32_t)len);
    wr32(h + R_LEN + 4, 0);
    wr64(h + R_SEQ, seq);
    wr64(h + R_SEQ + 8, 0);
    wr64(h, rec_sum(h, payload, len));
    rc = rec_write(l->fd, h, payload, len, l->tail);
    if (rc == OX_OK && !l->lazy)
        rc = sync_fd(l->fd);
    if (rc != OX_OK) {
        if (rec_void(l, l->tail)) {
            l->broken = 1;
            l->broken_off = l->tail;
        }
        return rc;
    }
    seg *a = &l->segs[l->nsegs - 1];
    if (a->size < l->tail + need)
        a->size = l->tail + need; /* a segment of its own, grown by this record */
    l->last_off = l->tail;
    l->tail += need;
    l->seq = seq;
    return OX_OK;
}

void ox__log_cancel(ox_log *l)
{
    if (rec_void(l, l->last_off)) {
        l->broken = 1;
        l->broken_off = l->last_off;
    }
    l->tail = l->last_off;
    l->seq--;
}

void ox__log_set_lazy(ox_log *l, int lazy)
{
    l->lazy = lazy;
}

int ox__log_sync(ox_log *l)
{
    pthread_mutex_lock(&l->mu);
    int rc = l->fd >= 0 ? sync_fd(l->fd) : OX_OK;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void ox__log_release(ox_log *l, uint64_t seq)
{
    if (l->read_only)
        return;
    /* Segment i holds only records <= seq when the next one starts at seq + 1 or before. */
    for (size_t i = 0; i + 1 < l->nsegs; i++)
        if (l->segs[i + 1].first <= seq + 1)
            l->segs[i].free = 1;
    /* The newest OX_LOG_SPARE free segments of the usual size stay for reuse. */
    size_t spare = 0, out = 0;
    for (size_t i = 0; i < l->nsegs; i++)
        spare += l->segs[i].free && l->segs[i].size == l->segsize;
    for (size_t i = 0; i < l->nsegs; i++) {
        seg sg = l->segs[i];
        if (sg.free && (sg.size != l->segsize || spare > OX_LOG_SPARE)) {
            char path[4096];
            seg_path(l, sg.first, path, sizeof path);
            if (unlink(path) == 0 || errno == ENOENT) {
                spare -= sg.size == l->segsize;
                continue;
            }
        }
        l->segs[out++] = sg;
    }
    l->nsegs = out;
}

uint64_t ox__log_bytes(ox_log *l)
{
    uint64_t n = 0;
    for (size_t i = 0; i < l->nsegs; i++)
        n += l->segs[i].size;
    return n;
}
