/* job.c — a command copied out of a client's input buffer for the trip to the writer,
 * and each I/O thread's cache of freed jobs (no allocation per command once warm). */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "io.h"
#include "job.h"
#include "stats.h"
#include "util.h"

#define JOB_ROOM 512            /* bytes of argv and arguments a cached job holds */
#define JOB_CACHE_MAX 1024      /* jobs an I/O thread keeps (50 clients pipelining 16 have 800 out) */
#define JOB_OUT_KEEP (16 << 10) /* a reply buffer grown past this is not kept */
#define JOB_OUT_KEEP_MANY 2048  /* ... past this, once 256 jobs are cached: a thread's cache
                                   holds at most 256 x 16 KiB + 768 x 2 KiB of them (a
                                   buffer's first 1 KiB of data is more with its header:
                                   at 1024, every buffer went, and the writer allocated
                                   each reply's anew for the I/O thread to free) */

/* The I/O thread running here, NULL on the writer and the main thread. */
static _Thread_local srv_io *job_io;

void job_thread_init(srv_io *io)
{
    job_io = io;
}

void job_cache_free(srv_io *io)
{
    for (srv_job *j = io->jfree, *next; j; j = next) {
        next = j->next;
        resp_buf_free(j->spare);
        free(j);
    }
    io->jfree = NULL;
    io->njfree = 0;
}

srv_job *job_new(srv_client *c, const cmd_def *d, int argc, const resp_arg *argv)
{
    size_t bytes = (size_t)argc * sizeof(resp_arg);
    for (int i = 0; i < argc; i++)
        bytes += argv[i].len;
    srv_io *io = job_io;
    srv_job *j;
    resp_buf *spare = NULL;
    if (bytes <= JOB_ROOM && io && io->jfree) {
        j = io->jfree;
        io->jfree = j->next;
        io->njfree--;
        spare = j->spare;
    } else {
        int cached = bytes <= JOB_ROOM && io;
        j = srv_xmalloc(sizeof *j + (cached ? JOB_ROOM : bytes));
        if (!cached)
            io = NULL;
    }
    memset(j, 0, sizeof *j);
    j->spare = spare;
    j->home = io;
    j->c = c;
    j->cmd = d;
    j->db = c ? c->db : 0;
    j->resp = c ? c->resp : 2;
    j->argc = argc;
    j->argv = (resp_arg *)(j + 1);
    char *p = (char *)(j->argv + argc);
    for (int i = 0; i < argc; i++) {
        if (argv[i].len)
            memcpy(p, argv[i].ptr, argv[i].len);
        j->argv[i].ptr = p;
        j->argv[i].len = argv[i].len;
        p += argv[i].len;
    }
    return j;
}

resp_buf *job_reply_buf(srv_job *j)
{
    if (j->spare) {
        j->out = j->spare;
        j->spare = NULL;
        resp_buf_set_proto(j->out, j->resp);
    } else if (resp_buf_new(&j->out, j->resp, NULL) != RESP_OK) {
        abort(); /* the server may abort on allocation failure */
    }
    resp_buf_set_error_hook(j->out, stats_on_error, NULL);
    return j->out;
}

void job_free(srv_job *j)
{
    if (!j)
        return;
    job_free_list(j->multi);
    srv_io *io = j->home;
    if (!io || io != job_io || io->njfree >= JOB_CACHE_MAX) {
        resp_buf_free(j->out);
        resp_buf_free(j->spare);
        free(j);
        return;
    }
    /* Back to its thread's cache, with one empty reply buffer of a modest size. */
    resp_buf *keep = j->out ? j->out : j->spare;
    if (j->out)
        resp_buf_free(j->spare);
    size_t room = io->njfree < 256 ? JOB_OUT_KEEP : JOB_OUT_KEEP_MANY;
    if (keep && resp_buf_capacity(keep) > room) {
        resp_buf_free(keep);
        keep = NULL;
    }
    if (keep)
        resp_buf_reset(keep);
    j->out = NULL;
    j->spare = keep;
    j->next = io->jfree;
    io->jfree = j;
    io->njfree++;
}

void job_free_list(srv_job *head)
{
    for (srv_job *j = head, *next; j; j = next) {
        next = j->next;
        job_free(j);
    }
}
