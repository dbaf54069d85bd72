/* job.c — a command copied out of a client's input buffer for the trip to the writer. */
#include <stdlib.h>
#include <string.h>

#include "client.h"

srv_job *job_new(srv_client *c, const cmd_def *d, int argc, const resp_arg *argv)
{
    size_t bytes = 0;
    for (int i = 0; i < argc; i++)
        bytes += argv[i].len;
    srv_job *j = malloc(sizeof *j + (size_t)argc * sizeof(resp_arg) + bytes);
    if (!j)
        return NULL;
    memset(j, 0, sizeof *j);
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

void job_free(srv_job *j)
{
    if (!j)
        return;
    job_free_list(j->multi);
    resp_buf_free(j->out);
    free(j);
}

void job_free_list(srv_job *head)
{
    for (srv_job *j = head, *next; j; j = next) {
        next = j->next;
        job_free(j);
    }
}
