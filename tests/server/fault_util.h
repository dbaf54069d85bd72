/* Helpers for the disk-fault tests: start oxistore-server with fault_shim.so preloaded
 * (see there for the modes), and turn a fault on and off while it runs. A test program
 * drives one faulty server at a time (the control file's path is kept here). */
#ifndef OX_FAULT_UTIL_H
#define OX_FAULT_UTIL_H

#include <limits.h>

#include "srv_util.h"

static char g_ctl[PATH_MAX + 16];

/* Starts the server in scratch directory name with the shim preloaded and the extra
 * "--directive value" arguments (NULL-terminated, may be NULL), and asan_more added to the
 * server's ASAN_OPTIONS (":"-separated; may be NULL). The data directory is resolved
 * first: the shim compares it with the paths the kernel reports. */
static inline int start_faulty_asan(srvp *p, const char *name, const char *const *extra,
                                    const char *asan_more)
{
    const char *base = t_dir();
    char dir[PATH_MAX + 64], real[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", base, name);
    mkdir(dir, 0755);
    if (!realpath(dir, real))
        return -1;
    snprintf(g_ctl, sizeof g_ctl, "%s.fault", real);
    unlink(g_ctl);
    char asan[512];
    const char *old = getenv("ASAN_OPTIONS");
    /* ASan insists on coming first among the preloaded libraries; the shim only forwards. */
    snprintf(asan, sizeof asan, "%s%sverify_asan_link_order=0%s%s", old ? old : "",
             old ? ":" : "", asan_more ? ":" : "", asan_more ? asan_more : "");
    char *saved = old ? strdup(old) : NULL;
    setenv("OX_FAULT_DIR", real, 1);
    setenv("OX_FAULT_CTL", g_ctl, 1);
    setenv("ASAN_OPTIONS", asan, 1);
    setenv("LD_PRELOAD", OX_FAULT_SHIM, 1);
    int rc = sp_start_argv(p, name, extra);
    unsetenv("LD_PRELOAD"); /* the server has it; nothing else the test starts may */
    if (saved)
        setenv("ASAN_OPTIONS", saved, 1);
    else
        unsetenv("ASAN_OPTIONS");
    free(saved);
    if (rc)
        sp_dump_log(p);
    return rc;
}

static inline int start_faulty_argv(srvp *p, const char *name, const char *const *extra)
{
    return start_faulty_asan(p, name, extra, NULL);
}

static inline int start_faulty(srvp *p, const char *name)
{
    return start_faulty_argv(p, name, NULL);
}

/* Writes the control file in one step (rename), so the shim never reads half of it. */
static inline int fault_on(const char *mode)
{
    char tmp[sizeof g_ctl + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", g_ctl);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fputs(mode, f);
    return fclose(f) || rename(tmp, g_ctl) ? -1 : 0;
}

static inline void fault_off(void)
{
    unlink(g_ctl);
}

#endif
