/* The write-ahead log (lib/ox_log.h): records replayed in order after any sequence number,
 * segments switched, released, reused and deleted, a record larger than a segment, a
 * cancelled record voided and its number reused, a torn tail, a missing segment, and one
 * writer process at a time. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib_util.h"
#include "ox_log.h"
#include "test.h"

T_MAIN_BEGIN;

#define SEG (1u << 20)

/* The payload of record seq: its length varies, its bytes derive from seq. */
static size_t payload(uint64_t seq, unsigned char *p, size_t cap)
{
    size_t n = 1 + (seq * 7919) % 3000;
    if (n > cap)
        n = cap;
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seq * 31 + i);
    return n;
}

static int append(ox_log *l, uint64_t seq)
{
    unsigned char p[4096];
    return ox__log_append(l, seq, p, payload(seq, p, sizeof p));
}

struct seen {
    uint64_t first, last, n;
    int bad;
};

static int check_one(void *ctx, uint64_t seq, const unsigned char *p, size_t len)
{
    struct seen *s = ctx;
    unsigned char want[4096];
    size_t n = payload(seq, want, sizeof want);
    if (!s->n)
        s->first = seq;
    else if (seq != s->last + 1)
        s->bad++;
    if (len != n || memcmp(p, want, n))
        s->bad++;
    s->last = seq;
    s->n++;
    return OX_OK;
}

/* Opens the log of path and replays from `from`; the records seen in *s. */
static int open_replay(const char *path, int ro, uint64_t from, struct seen *s, ox_log **l,
                       uint64_t *last)
{
    memset(s, 0, sizeof *s);
    int rc = ox__log_open(path, SEG, ro, l);
    if (rc)
        return rc;
    return ox__log_replay(*l, from, check_one, s, last);
}

static int count_segments(const char *path)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : path;
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    DIR *d = opendir(dir);
    int n = 0;
    size_t bl = strlen(base);
    for (struct dirent *e; d && (e = readdir(d));)
        n += !strncmp(e->d_name, base, bl) && !strncmp(e->d_name + bl, "-wal.", 5);
    if (d)
        closedir(d);
    return n;
}

static void records_replay_in_order_after_any_point(void)
{
    const char *path = u_path("order.mdb");
    ox_log *l;
    struct seen s;
    uint64_t last;
    T_EQ_INT(open_replay(path, 0, 0, &s, &l, &last), OX_OK);
    T_EQ_U64(last, 0);
    T_EQ_INT(count_segments(path), 1); /* made at the first open */
    for (uint64_t q = 1; q <= 2000; q++)
        T_EQ_INT(append(l, q), OX_OK);
    T_ASSERT(count_segments(path) >= 3); /* about 3 MB over 1 MB segments */
    ox__log_close(l);
    T_EQ_INT(open_replay(path, 1, 0, &s, &l, &last), OX_OK);
    T_EQ_U64(s.n, 2000);
    T_EQ_U64(s.first, 1);
    T_EQ_INT(s.bad, 0);
    ox__log_close(l);
    T_EQ_INT(open_replay(path, 0, 1234, &s, &l, &last), OX_OK);
    T_EQ_U64(s.first, 1235);
    T_EQ_U64(s.n, 2000 - 1234);
    T_EQ_U64(last, 2000);
    T_EQ_INT(s.bad, 0);
    /* It appends after the last record it replayed. */
    T_EQ_INT(append(l, 2001), OX_OK);
    ox__log_close(l);
    T_EQ_INT(open_replay(path, 1, 1999, &s, &l, &last), OX_OK);
    T_EQ_U64(s.n, 2);
    T_EQ_U64(last, 2001);
    ox__log_close(l);
}

/* Released segments: at most OX_LOG_SPARE stay, reused by the next switches; what is
 * left replays from the released point. */
static void released_segments_are_reused_or_deleted(void)
{
    const char *path = u_path("reuse.mdb");
    ox_log *l;
    struct seen s;
    uint64_t last;
    T_EQ_INT(open_replay(path, 0, 0, &s, &l, &last), OX_OK);
    for (uint64_t q = 1; q <= 4000; q++)
        T_EQ_INT(append(l, q), OX_OK);
    int before = count_segments(path);
    T_ASSERT(before >= 6);
    ox__log_release(l, 3990);
    T_EQ_INT(count_segments(path), 1 + OX_LOG_SPARE);
    uint64_t bytes = ox__log_bytes(l);
    for (uint64_t q = 4001; q <= 5000; q++)
        T_EQ_INT(append(l, q), OX_OK);
    /* The spares were renamed, not new segments written. */
    T_ASSERT(count_segments(path) <= 1 + OX_LOG_SPARE);
    T_ASSERT(ox__log_bytes(l) <= bytes + SEG);
    ox__log_close(l);
    T_EQ_INT(open_replay(path, 1, 3990, &s, &l, &last), OX_OK);
    T_EQ_U64(s.first, 3991);
    T_EQ_U64(last, 5000);
    T_EQ_INT(s.bad, 0);
    ox__log_close(l);
}

static int big_one(void *ctx, uint64_t seq, const unsigned char *p, size_t len)
{
    size_t *n = ctx;
    (void)seq;
    for (size_t i = 0; i < len; i++)
        if (p[i] != (unsigned char)i)
            return OX_ECORRUPT;
    *n += len;
    return OX_OK;
}

static void record_larger_than_a_segment(void)
{
    const char *path = u_path("big.mdb");
    ox_log *l;
    uint64_t last;
    T_EQ_INT(ox__log_open(path, SEG, 0, &l), OX_OK);
    T_EQ_INT(ox__log_replay(l, 0, big_one, &(size_t){0}, &last), OX_OK);
    size_t big = 3 * SEG + 123;
    unsigned char *p = malloc(big);
    T_ASSERT(p);
    for (size_t i = 0; i < big; i++)
        p[i] = (unsigned char)i;
    for (uint64_t q = 1; q <= 3; q++)
        T_EQ_INT(ox__log_append(l, q, p, q == 2 ? big : 100), OX_OK);
    free(p);
    ox__log_close(l);
    size_t total = 0;
    T_EQ_INT(ox__log_open(path, SEG, 1, &l), OX_OK);
    T_EQ_INT(ox__log_replay(l, 0, big_one, &total, &last), OX_OK);
    T_EQ_U64(last, 3);
    T_EQ_U64(total, big + 200);
    ox__log_close(l);
}

/* A cancelled record is not replayed; the next one takes its number. */
static void cancelled_record_is_never_replayed(void)
{
    const char *path = u_path("cancel.mdb");
    ox_log *l;
    struct seen s;
    uint64_t last;
    T_EQ_INT(open_replay(path, 0, 0, &s, &l, &last), OX_OK);
    for (uint64_t q = 1; q <= 10; q++)
        T_EQ_INT(append(l, q), OX_OK);
    ox__log_cancel(l);
    /* A crash now (the process's page cache is what a reopen reads). */
    ox_log *r;
    T_EQ_INT(open_replay(path, 1, 0, &s, &r, &last), OX_OK);
    T_EQ_U64(last, 9);
    ox__log_close(r);
    T_EQ_INT(append(l, 10), OX_OK);
    T_EQ_INT(append(l, 11), OX_OK);
    ox__log_close(l);
    T_EQ_INT(open_replay(path, 1, 0, &s, &l, &last), OX_OK);
    T_EQ_U64(last, 11);
    T_EQ_INT(s.bad, 0);
    ox__log_close(l);
}

static void torn_tail_ends_the_replay_and_missing_segment_is_corruption(void)
{
    const char *path = u_path("torn.mdb");
    ox_log *l;
    struct seen s;
    uint64_t last;
    T_EQ_INT(open_replay(path, 0, 0, &s, &l, &last), OX_OK);
    for (uint64_t q = 1; q <= 1500; q++)
        T_EQ_INT(append(l, q), OX_OK);
    ox__log_close(l);
    /* A torn write of the last record: one byte of its payload changed. */
    char seg[600];
    snprintf(seg, sizeof seg, "%s-wal.%016x", path, 1u);
    T_EQ_INT(open_replay(path, 1, 0, &s, &l, &last), OX_OK);
    ox__log_close(l);
    /* Find the last segment by trying names: the one holding record 1500. */
    uint64_t first = 0;
    for (uint64_t q = 1500; q >= 1; q--) {
        snprintf(seg, sizeof seg, "%s-wal.%016llx", path, (unsigned long long)q);
        if (access(seg, F_OK) == 0) {
            first = q;
            break;
        }
    }
    T_ASSERT(first > 1);
    struct stat st;
    T_EQ_INT(stat(seg, &st), 0);
    /* The records of that segment: walk their heads to the last one's payload. */
    int fd = open(seg, O_RDWR);
    T_ASSERT(fd >= 0);
    uint64_t off = 0, lastoff = 0;
    for (uint64_t q = first; q <= 1500; q++) {
        unsigned char h[OX_LOG_HEAD];
        T_EQ_INT(pread(fd, h, sizeof h, (off_t)off), (long)sizeof h);
        uint32_t n;
        memcpy(&n, h + 8, 4);
        lastoff = off;
        off += OX_LOG_HEAD + n;
    }
    unsigned char b;
    T_EQ_INT(pread(fd, &b, 1, (off_t)lastoff + OX_LOG_HEAD), 1);
    b ^= 1;
    T_EQ_INT(pwrite(fd, &b, 1, (off_t)lastoff + OX_LOG_HEAD), 1);
    close(fd);
    T_EQ_INT(open_replay(path, 0, 0, &s, &l, &last), OX_OK);
    T_EQ_U64(last, 1499);
    T_EQ_INT(s.bad, 0);
    T_EQ_INT(append(l, 1500), OX_OK); /* in the torn record's place */
    ox__log_close(l);
    T_EQ_INT(open_replay(path, 1, 0, &s, &l, &last), OX_OK);
    T_EQ_U64(last, 1500);
    ox__log_close(l);
    /* A segment gone from the middle: what follows it is not replayed as if nothing was
     * missing; from a point inside the gap it is corruption. */
    char gone[600];
    snprintf(gone, sizeof gone, "%s-wal.%016x", path, 1u);
    T_EQ_INT(unlink(gone), 0);
    T_EQ_INT(open_replay(path, 1, 0, &s, &l, &last), OX_ECORRUPT);
    ox__log_close(l);
}

/* One writer process per store: a second writable open is refused, a reader is not. */
static void one_writer_process(void)
{
    const char *path = u_path("lock.mdb");
    ox_log *l;
    T_EQ_INT(ox__log_open(path, SEG, 0, &l), OX_OK);
    pid_t pid = fork();
    if (pid == 0) {
        ox_log *o;
        int rc = ox__log_open(path, SEG, 0, &o);
        int ro = ox__log_open(path, SEG, 1, &o);
        _exit(rc == OX_EBUSY && ro == OX_OK ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ox__log_close(l);
}

int main(void)
{
    T_RUN(records_replay_in_order_after_any_point);
    T_RUN(released_segments_are_reused_or_deleted);
    T_RUN(record_larger_than_a_segment);
    T_RUN(cancelled_record_is_never_replayed);
    T_RUN(torn_tail_ends_the_replay_and_missing_segment_is_corruption);
    T_RUN(one_writer_process);
    return T_MAIN_END();
}
