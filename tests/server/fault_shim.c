/* fault_shim.c — an LD_PRELOAD library for the disk-fault tests: a full or failing disk
 * without root, loop devices or a small filesystem.
 *
 * While the file named by $OX_FAULT_CTL exists, the calls that put bytes on disk or make
 * them durable fail when they address a file inside the directory $OX_FAULT_DIR. The
 * control file holds one of these modes:
 * - "ENOSPC", "EIO": every write and sync fails with that errno;
 * - "EIO sync": only the sync family fails (fsync, fdatasync, msync, sync_file_range,
 *   syncfs) and the writes themselves go through, as when the disk takes the bytes but
 *   cannot flush them;
 * - "EIO data": the writes of every file but the write-ahead log (the data file: its
 *   pages and meta pages) fail, syncs pass;
 * - "EIO log": the writes of the write-ahead log (its segments, "<file>-wal.<hex>") fail,
 *   syncs pass;
 * - "EIO meta": only the pwrites into the first 8 KB of files other than the log: LMDB's
 *   two meta pages, the last write of each commit (a commit that fails there leaves
 *   LMDB's env failed);
 * - "ENOSPC grow": a real full disk: a write, truncate or allocation that would make a
 *   file longer fails with ENOSPC, one inside a file's length passes (the preallocated
 *   log keeps taking records, the data file cannot grow);
 * - "STALL": the sync family waits (and then succeeds) until the control file goes: a
 *   disk that has stopped answering, which holds the writer thread in its sync;
 *   "STALL data" holds only the syncs of files other than the log: the write-ahead log
 *   goes on, the data file's write-back (the checkpoints) does not.
 *
 * Files are matched by directory, not by name, so whatever the store keeps beside its data
 * file (a write-ahead log, a lock file) fails too. Sockets, the log and every other file
 * pass through untouched. The switch is a file so that the test process turns faults on
 * and off in the server without signals or shared memory; it is read on every call, which
 * costs a failed open() when off: fine for a test.
 *
 * Built without sanitizers: it only forwards to the next definition (libasan's
 * interceptors, then libc) found with dlsym(RTLD_NEXT). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* What the control file asks for. */
enum { ON_ALL, ON_DATA, ON_LOG, ON_META, ON_GROW }; /* which writes fail */
typedef struct fault {
    int err;        /* errno to inject; 0: no fault */
    int syncs_only; /* "sync": the writes pass, the syncs fail */
    int on;         /* ON_*: the writes that fail (the syncs fail only with ON_ALL) */
    int stall;      /* 1: "STALL"; 2: "STALL data" (then err is 0) */
} fault;

/* Reads the control file into *f; all zero while it is absent. */
static void fault_read(fault *f)
{
    memset(f, 0, sizeof *f);
    const char *ctl = getenv("OX_FAULT_CTL");
    if (!ctl)
        return;
    int fd = open(ctl, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    if (strncmp(buf, "STALL", 5) == 0) {
        f->stall = strstr(buf, "data") ? 2 : 1;
        return;
    }
    f->err = strncmp(buf, "ENOSPC", 6) == 0 ? ENOSPC : EIO;
    f->syncs_only = strstr(buf, "sync") != NULL;
    f->on = strstr(buf, "data") ? ON_DATA : strstr(buf, "log") ? ON_LOG
            : strstr(buf, "meta") ? ON_META : strstr(buf, "grow") ? ON_GROW : ON_ALL;
}

/* 1 if path names something inside $OX_FAULT_DIR. */
static int in_fault_dir(const char *path)
{
    const char *dir = getenv("OX_FAULT_DIR");
    size_t n = dir ? strlen(dir) : 0;
    return n && strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* 1 if fd is a file inside $OX_FAULT_DIR; 2 if it is the write-ahead log (a segment,
 * "<file>-wal.<16 hex digits>"). */
static int fd_in_fault_dir(int fd)
{
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    if (!in_fault_dir(path))
        return 0;
    const char *w = strstr(path, "-wal.");
    return w && strlen(w + 5) == 16 ? 2 : 1;
}

/* The errno a write of len bytes at off into fd must fail with (off < 0: at the file's
 * current offset; len < 0: a truncate to length off), or 0 to let it through. */
static int write_fault(int fd, off_t off, long long len)
{
    fault f;
    fault_read(&f);
    if (!f.err || f.syncs_only)
        return 0;
    int where = fd_in_fault_dir(fd);
    struct stat st;
    switch (where ? f.on : -1) {
    case ON_ALL: return f.err;
    case ON_DATA: return where == 1 ? f.err : 0;
    case ON_LOG: return where == 2 ? f.err : 0;
    case ON_META: return where == 1 && off >= 0 && off < 8192 && len >= 0 ? f.err : 0;
    case ON_GROW:
        if (off < 0 && len >= 0)
            off = lseek(fd, 0, SEEK_CUR);
        return fstat(fd, &st) == 0 && off + (len < 0 ? 0 : len) > st.st_size ? f.err : 0;
    }
    return 0;
}

/* The errno a sync of fd must fail with, or 0; waits first while a STALL holds it. */
static int sync_fault(int fd)
{
    fault f;
    fault_read(&f);
    if (f.stall) {
        int where = fd_in_fault_dir(fd), stall = f.stall;
        if (where && (stall == 1 || where != 2))
            while (fault_read(&f), f.stall == stall)
                usleep(1000);
        return 0;
    }
    return f.err && (f.syncs_only || f.on == ON_ALL) && fd_in_fault_dir(fd) ? f.err : 0;
}

static long long iov_len(const struct iovec *iov, int cnt)
{
    long long n = 0;
    for (int i = 0; i < cnt; i++)
        n += (long long)iov[i].iov_len;
    return n;
}

/* 1 if addr lies in a mapping of a file inside $OX_FAULT_DIR (msync has no descriptor). */
static int addr_in_fault_dir(const void *addr)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[8192];
    size_t have = 0;
    int found = 0;
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
        if (r <= 0)
            break;
        have += (size_t)r;
        buf[have] = '\0';
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = '\0';
            unsigned long lo, hi;
            int path_at = 0;
            if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &path_at) == 2 &&
                path_at > 0 && (uintptr_t)addr >= lo && (uintptr_t)addr < hi)
                found = in_fault_dir(line + path_at);
            line = nl + 1;
        }
        have = strlen(line); /* a partial line waits for the next read */
        memmove(buf, line, have);
        if (have == sizeof buf - 1)
            have = 0; /* a line longer than the buffer is no mapping of ours */
    }
    close(fd);
    return found;
}

/* Looks up the next definition of name once per function, then forwards to it. */
#define NEXT(name) \
    static __typeof__(name) *next_; \
    if (!next_) \
        next_ = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

#define FAIL_IF(cond_errno, ret) \
    do { \
        int e_ = (cond_errno); \
        if (e_) { \
            errno = e_; \
            return (ret); \
        } \
    } while (0)

ssize_t write(int fd, const void *buf, size_t n)
{
    NEXT(write);
    FAIL_IF(write_fault(fd, -1, (long long)n), -1);
    return next_(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    NEXT(pwrite);
    FAIL_IF(write_fault(fd, off, (long long)n), -1);
    return next_(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    NEXT(pwrite64);
    FAIL_IF(write_fault(fd, off, (long long)n), -1);
    return next_(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    NEXT(writev);
    FAIL_IF(write_fault(fd, -1, iov_len(iov, cnt)), -1);
    return next_(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    NEXT(pwritev);
    FAIL_IF(write_fault(fd, off, iov_len(iov, cnt)), -1);
    return next_(fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
    NEXT(pwritev64);
    FAIL_IF(write_fault(fd, off, iov_len(iov, cnt)), -1);
    return next_(fd, iov, cnt, off);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    NEXT(pwritev2);
    FAIL_IF(write_fault(fd, off, iov_len(iov, cnt)), -1);
    return next_(fd, iov, cnt, off, flags);
}

int ftruncate(int fd, off_t len)
{
    NEXT(ftruncate);
    FAIL_IF(write_fault(fd, len, -1), -1);
    return next_(fd, len);
}

int ftruncate64(int fd, off64_t len)
{
    NEXT(ftruncate64);
    FAIL_IF(write_fault(fd, len, -1), -1);
    return next_(fd, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    NEXT(fallocate);
    FAIL_IF(write_fault(fd, off, len), -1);
    return next_(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
    NEXT(fallocate64);
    FAIL_IF(write_fault(fd, off, len), -1);
    return next_(fd, mode, off, len);
}

int posix_fallocate(int fd, off_t off, off_t len)
{
    NEXT(posix_fallocate);
    int e = write_fault(fd, off, len);
    return e ? e : next_(fd, off, len); /* it returns the error instead of setting errno */
}

int fsync(int fd)
{
    NEXT(fsync);
    FAIL_IF(sync_fault(fd), -1);
    return next_(fd);
}

int fdatasync(int fd)
{
    NEXT(fdatasync);
    FAIL_IF(sync_fault(fd), -1);
    return next_(fd);
}

int syncfs(int fd)
{
    NEXT(syncfs);
    FAIL_IF(sync_fault(fd), -1);
    return next_(fd);
}

int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags)
{
    NEXT(sync_file_range);
    FAIL_IF(sync_fault(fd), -1);
    return next_(fd, off, n, flags);
}

int msync(void *addr, size_t len, int flags)
{
    NEXT(msync);
    fault f;
    fault_read(&f);
    int stall = f.stall; /* a mapping is never a log: both STALLs hold it */
    while (stall && addr_in_fault_dir(addr) && (fault_read(&f), f.stall == stall))
        usleep(1000);
    int e = f.err && (f.syncs_only || f.on == ON_ALL) ? f.err : 0;
    FAIL_IF(e && addr_in_fault_dir(addr) ? e : 0, -1);
    return next_(addr, len, flags);
}
