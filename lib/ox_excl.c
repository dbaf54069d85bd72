/* ox_excl.c — exclusive access to a store file (see ox_excl.h for the locking protocol). */
#include "ox_excl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oxistore.h"

int ox__excl_errno(int e)
{
    switch (e) {
    case ENOSPC: case EDQUOT: case EFBIG: return OX_EFULL;
    case ENOMEM: return OX_ENOMEM;
    case ENOENT: case ENOTDIR: case EISDIR: case ENAMETOOLONG: return OX_EINVAL;
    default: return OX_EIO;
    }
}

int ox__excl_acquire(const char *path, ox_excl *ex)
{
    char *lpath = NULL;
    struct stat st;
    struct flock fl;
    size_t n;
    int rc;

    ex->lockfd = -1;
    if (!path || !*path)
        return OX_EINVAL;
    /* Look before creating "<path>-lock", so a mistyped path leaves nothing behind. */
    if (stat(path, &st) != 0)
        return ox__excl_errno(errno);
    if (!S_ISREG(st.st_mode))
        return OX_EINVAL;

    n = strlen(path);
    lpath = malloc(n + sizeof("-lock"));
    if (!lpath)
        return OX_ENOMEM;
    memcpy(lpath, path, n);
    memcpy(lpath + n, "-lock", sizeof("-lock"));

    ex->lockfd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (ex->lockfd < 0) {
        rc = ox__excl_errno(errno);
        goto fail;
    }
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1; /* the byte LMDB locks; l_pid must stay 0 for OFD locks */
    while ((rc = fcntl(ex->lockfd, F_OFD_SETLK, &fl)) != 0 && errno == EINTR)
        ;
    if (rc != 0) {
        rc = (errno == EAGAIN || errno == EACCES) ? OX_EBUSY : OX_EIO;
        goto fail;
    }
    free(lpath);
    return OX_OK;

fail:
    if (ex->lockfd >= 0)
        close(ex->lockfd);
    ex->lockfd = -1;
    free(lpath);
    return rc;
}

int ox__excl_invalidate(ox_excl *ex)
{
    if (ftruncate(ex->lockfd, 0) != 0)
        return ox__excl_errno(errno);
    return OX_OK;
}

void ox__excl_release(ox_excl *ex)
{
    if (ex && ex->lockfd >= 0) {
        close(ex->lockfd);
        ex->lockfd = -1;
    }
}
