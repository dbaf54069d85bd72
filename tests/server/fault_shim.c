/* fault_shim.c — an LD_PRELOAD library for the disk-fault tests: a full or failing disk
 * without root, loop devices or a small filesystem.
 *
 * While the file named by $OX_FAULT_CTL exists, the calls that put bytes on disk or make
 * them durable fail when they address a file inside the directory $OX_FAULT_DIR. The
 * control file holds an errno name ("ENOSPC" or "EIO"), optionally followed by "sync": then
 * only the sync family fails (fsync, fdatasync, msync, sync_file_range, syncfs) and the
 * writes themselves go through, as when the disk takes the bytes but cannot flush them.
 * "STALL" makes the sync family wait (and then succeed) until the control file goes: a
 * disk that has stopped answering, which holds the writer thread in its sync. "STALL data"
 * holds only the syncs of files whose name does not end in "-wal": the write-ahead log
 * goes on, the data file's write-back (the checkpoints) does not. "EIO meta" fails only
 * the pwrites into the first 8 KB of files other than the log: LMDB's two meta pages, the
 * last write of each commit (a commit that fails there leaves LMDB's env failed).
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
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { ANY_CALL = 0, SYNC_CALL = 1 };
#define STALL (-1)      /* fault_wanted: the call waits */
#define STALL_DATA (-2) /* ... if its file is not a write-ahead log */
#define META_EIO (-3)   /* fault_wanted: EIO for a pwrite into a meta page */

/* The errno to inject for a call of this kind, or 0 while the control file is absent. */
static int fault_wanted(int kind)
{
    const char *ctl = getenv("OX_FAULT_CTL");
    if (!ctl)
        return 0;
    int fd = open(ctl, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    if (strncmp(buf, "EIO meta", 8) == 0)
        return kind == SYNC_CALL ? 0 : META_EIO;
    if (strncmp(buf, "STALL data", 10) == 0)
        return kind == SYNC_CALL ? STALL_DATA : 0;
    if (strncmp(buf, "STALL", 5) == 0)
        return kind == SYNC_CALL ? STALL : 0;
    if (strstr(buf, "sync") && kind != SYNC_CALL)
        return 0;
    return strncmp(buf, "ENOSPC", 6) == 0 ? ENOSPC : EIO;
}

/* 1 if path names something inside $OX_FAULT_DIR. */
static int in_fault_dir(const char *path)
{
    const char *dir = getenv("OX_FAULT_DIR");
    size_t n = dir ? strlen(dir) : 0;
    return n && strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* 1 if fd is a file inside $OX_FAULT_DIR; 2 if it is one whose name ends in "-wal". */
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
    return n >= 4 && strcmp(path + n - 4, "-wal") == 0 ? 2 : 1;
}

/* The errno a call of this kind on fd must fail with, or 0 to let it through. */
static int fd_fault(int fd, int kind)
{
    int e = fault_wanted(kind);
    if (e == STALL || e == STALL_DATA) {
        int where = fd_in_fault_dir(fd);
        if (where && (e == STALL || where != 2))
            while (fault_wanted(kind) == e)
                usleep(1000);
        return 0;
    }
    return e > 0 && fd_in_fault_dir(fd) ? e : 0;
}

/* The same for a pwrite at off: "EIO meta" fails those into a meta page. */
static int pwrite_fault(int fd, off_t off)
{
    if (fault_wanted(ANY_CALL) == META_EIO)
        return off < 8192 && fd_in_fault_dir(fd) == 1 ? EIO : 0;
    return fd_fault(fd, ANY_CALL);
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
    FAIL_IF(fd_fault(fd, ANY_CALL), -1);
    return next_(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    NEXT(pwrite);
    FAIL_IF(pwrite_fault(fd, off), -1);
    return next_(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    NEXT(pwrite64);
    FAIL_IF(pwrite_fault(fd, off), -1);
    return next_(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    NEXT(writev);
    FAIL_IF(fd_fault(fd, ANY_CALL), -1);
    return next_(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    NEXT(pwritev);
    FAIL_IF(fd_fault(fd, ANY_CALL), -1);
    return next_(fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
    NEXT(pwritev64);
    FAIL_IF(fd_fault(fd, ANY_CALL), -1);
    return next_(fd, iov, cnt, off);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    NEXT(pwritev2);
    FAIL_IF(fd_fault(fd, ANY_CALL), -1);
    return next_(fd, iov, cnt, off, flags);
}

int ftruncate(int fd, off_t len)
{
    NEXT(ftruncate);
    FAIL_IF(fd_fault(fd, ANY_CALL), -1);
    return next_(fd, len);
}

int ftruncate64(int fd, off64_t len)
{
    NEXT(ftruncate64);
    FAIL_IF(fd_fault(fd, ANY_CALL), -1);
    return next_(fd, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    NEXT(fallocate);
    FAIL_IF(fd_fault(fd, ANY_CALL), -1);
    return next_(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
    NEXT(fallocate64);
    FAIL_IF(fd_fault(fd, ANY_CALL), -1);
    return next_(fd, mode, off, len);
}

int posix_fallocate(int fd, off_t off, off_t len)
{
    NEXT(posix_fallocate);
    int e = fd_fault(fd, ANY_CALL);
    return e ? e : next_(fd, off, len); /* it returns the error instead of setting errno */
}

int fsync(int fd)
{
    NEXT(fsync);
    FAIL_IF(fd_fault(fd, SYNC_CALL), -1);
    return next_(fd);
}

int fdatasync(int fd)
{
    NEXT(fdatasync);
    FAIL_IF(fd_fault(fd, SYNC_CALL), -1);
    return next_(fd);
}

int syncfs(int fd)
{
    NEXT(syncfs);
    FAIL_IF(fd_fault(fd, SYNC_CALL), -1);
    return next_(fd);
}

int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags)
{
    NEXT(sync_file_range);
    FAIL_IF(fd_fault(fd, SYNC_CALL), -1);
    return next_(fd, off, n, flags);
}

int msync(void *addr, size_t len, int flags)
{
    NEXT(msync);
    int e = fault_wanted(SYNC_CALL), stall = e; /* a mapping is never a log: both STALLs */
    while ((stall == STALL || stall == STALL_DATA) && addr_in_fault_dir(addr) &&
           (e = fault_wanted(SYNC_CALL)) == stall)
        usleep(1000);
    FAIL_IF(e > 0 && addr_in_fault_dir(addr) ? e : 0, -1);
    return next_(addr, len, flags);
}
