/* ox_compact.c — offline compaction: LMDB's compacting copy written beside the file, then
 * renamed over it.
 *
 * The copy is made while we hold the store's exclusive lock (ox_excl.h), through an
 * environment opened with MDB_NOLOCK so that LMDB leaves the lock file (and our lock on
 * it) alone. Until the rename nothing touches the original; after a crash before the
 * rename, a stale "<path>.compact.tmp" may remain and is removed by the next call.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ox_excl.h"
#include "ox_internal.h"

#define OX_COMPACT_MAXDBS 1024 /* the copy walks every named database, open or not */

static int ox_compact_err(int rc)
{
    switch (rc) {
    case MDB_INVALID: case MDB_CORRUPTED: case MDB_PAGE_NOTFOUND: return OX_ECORRUPT;
    case MDB_VERSION_MISMATCH: case MDB_INCOMPATIBLE: return OX_EUNSUPPORTED;
    default: return rc > 0 ? ox__excl_errno(rc) : OX_EIO;
    }
}

/* fsyncs the directory holding path, so that the rename itself is durable. */
static int ox_compact_syncdir(const char *path)
{
    char *copy = strdup(path);
    int fd, rc = OX_OK;

    if (!copy)
        return OX_ENOMEM;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        rc = ox__excl_errno(errno);
    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}

int ox_compact(const char *path)
{
    struct stat st;
    ox_excl ex;
    MDB_env *env = NULL;
    char *tmp = NULL;
    int fd = -1, rc, mrc;

    if ((rc = ox__store_settle(path)) || (rc = ox__excl_acquire(path, &ex)))
        return rc;
    if (!(tmp = malloc(strlen(path) + sizeof(".compact.tmp")))) {
        rc = OX_ENOMEM;
        goto out;
    }
    strcpy(tmp, path);
    strcat(tmp, ".compact.tmp");
    if (unlink(tmp) != 0 && errno != ENOENT) {
        rc = ox__excl_errno(errno);
        goto out;
    }
    if ((mrc = mdb_env_create(&env)) || (mrc = mdb_env_set_maxdbs(env, OX_COMPACT_MAXDBS)) ||
        (mrc = mdb_env_open(env, path, MDB_NOLOCK | MDB_NOSUBDIR | MDB_RDONLY, 0644))) {
        rc = ox_compact_err(mrc);
        goto out;
    }
    /* The copy keeps the original's permissions: it is about to become it. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || stat(path, &st) != 0 || fchmod(fd, st.st_mode & 07777) != 0) {
        rc = ox__excl_errno(errno);
        goto out;
    }
    if ((mrc = mdb_env_copyfd2(env, fd, MDB_CP_COMPACT))) {
        rc = ox_compact_err(mrc);
        goto out;
    }
    mrc = fsync(fd);
    if (close(fd) != 0)
        mrc = -1;
    fd = -1;
    if (mrc != 0) {
        rc = ox__excl_errno(errno);
        goto out;
    }
    mdb_env_close(env);
    env = NULL;
    if (rename(tmp, path) != 0) {
        rc = ox__excl_errno(errno);
        goto out;
    }
    if ((rc = ox__excl_invalidate(&ex)) == OX_OK)
        rc = ox_compact_syncdir(path);

out:
    if (fd >= 0)
        close(fd);
    if (env)
        mdb_env_close(env);
    if (rc && tmp)
        unlink(tmp);
    free(tmp);
    ox__excl_release(&ex);
    return rc;
}
