/* cmd_client.c — CLIENT LIST and CLIENT KILL. Both concern the clients of every I/O
 * thread, and only a client's own thread may read or close it, so the question goes round
 * the threads (io_ask_all): each lists or kills its own matching clients, and the reply is
 * written on the caller's thread once all have answered. */
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "client.h"
#include "cmd.h"
#include "io.h"
#include "num.h"
#include "repl.h"
#include "replica.h"
#include "util.h"

/* Redis's client types. The I/O threads' clients are normal or pubsub ones; the links of
 * replication (master, replica) live in repl.c and replica.c. */
enum { CL_TYPE_ANY = -1, CL_TYPE_NORMAL, CL_TYPE_MASTER, CL_TYPE_REPLICA, CL_TYPE_PUBSUB };

typedef struct cl_entry {
    uint64_t id;
    size_t at, len;         /* the line in its part's text */
    const char *text;       /* set when the parts are merged */
} cl_entry;

/* What one I/O thread answered; only that thread writes its part. */
typedef struct cl_part {
    char *text;
    size_t len, cap;
    cl_entry *e;
    size_t n, ecap;
    long long killed;
    int kill_self;          /* the caller matched (SKIPME no): closed after its reply */
} cl_part;

typedef struct cl_req {
    int kill, old_form;
    int type;               /* CL_TYPE_ANY or one type */
    uint64_t id;            /* KILL ID, 0 = any */
    long long *ids;         /* LIST ID ...: the ids in argument order */
    int nids;
    char *addr, *laddr;     /* copies: the arguments do not outlive the handler */
    int skipme;
    srv_client *me;
    cl_part parts[];        /* one per I/O thread */
} cl_req;

static cl_req *req_new(srv_client *me, int kill)
{
    cl_req *r = srv_xcalloc(1, sizeof *r + (size_t)srv.nio * sizeof r->parts[0]);
    r->kill = kill;
    r->type = CL_TYPE_ANY;
    r->skipme = 1;
    r->me = me;
    return r;
}

static void req_free(cl_req *r)
{
    for (int i = 0; i < srv.nio; i++) {
        free(r->parts[i].text);
        free(r->parts[i].e);
    }
    free(r->ids);
    free(r->addr);
    free(r->laddr);
    free(r);
}

/* Redis's getClientTypeByName. */
static int type_by_name(const resp_arg *a)
{
    if (cmd_is(a, "normal"))
        return CL_TYPE_NORMAL;
    if (cmd_is(a, "slave") || cmd_is(a, "replica"))
        return CL_TYPE_REPLICA;
    if (cmd_is(a, "pubsub"))
        return CL_TYPE_PUBSUB;
    if (cmd_is(a, "master"))
        return CL_TYPE_MASTER;
    return -2;
}

/* Parses a TYPE argument; replies and returns -1 if it names no type. */
static int type_or_reply(cmd_ctx *x, const resp_arg *a, int *type)
{
    *type = type_by_name(a);
    if (*type != -2)
        return 0;
    resp_write_errorf(x->out, "-ERR Unknown client type '%.*s'", (int)a->len, a->ptr);
    return -1;
}

static int matches(const cl_req *r, const srv_client *c)
{
    if (r->addr && strcmp(c->addr, r->addr))
        return 0;
    if (r->laddr && strcmp(c->laddr, r->laddr))
        return 0;
    if (r->type != CL_TYPE_ANY &&
        r->type != (client_is_pubsub(c) ? CL_TYPE_PUBSUB : CL_TYPE_NORMAL))
        return 0;
    if (r->id && c->id != r->id)
        return 0;
    for (int i = 0; i < r->nids; i++)
        if ((long long)c->id == r->ids[i])
            return 1;
    return r->nids == 0;
}

static void part_add_line(cl_part *p, const srv_client *c)
{
    char line[1024];
    size_t n = client_info_line(c, line, sizeof line - 1);
    line[n++] = '\n';
    if (p->len + n > p->cap) {
        p->cap = (p->len + n) * 2;
        p->text = srv_xrealloc(p->text, p->cap);
    }
    if (p->n == p->ecap) {
        p->ecap = p->ecap ? p->ecap * 2 : 16;
        p->e = srv_xrealloc(p->e, p->ecap * sizeof *p->e);
    }
    memcpy(p->text + p->len, line, n);
    p->e[p->n++] = (cl_entry){.id = c->id, .at = p->len, .len = n};
    p->len += n;
}

/* On each I/O thread: list or kill its own matching clients. */
static void each_thread(srv_io *io, void *arg)
{
    cl_req *r = arg;
    cl_part *p = &r->parts[io->idx];
    for (srv_client *c = io->clients, *next; c; c = next) {
        next = c->next; /* client_kill may free c */
        if (c->gone || !matches(r, c))
            continue;
        if (!r->kill) {
            part_add_line(p, c);
        } else if (c == r->me) {
            if (r->skipme)
                continue;
            p->kill_self = 1; /* as Redis: after the reply */
            p->killed++;
        } else {
            client_kill(c);
            p->killed++;
        }
    }
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = ((const cl_entry *)a)->id, y = ((const cl_entry *)b)->id;
    return x < y ? -1 : x > y;
}

/* The answer to CLIENT LIST: every line by id (the order clients connected in, as Redis
 * lists them), or for LIST ID the lines in the order of the ids asked, repeats included. */
static void reply_list(srv_client *c, cl_req *r)
{
    size_t n = 0, len = 0;
    for (int i = 0; i < srv.nio; i++)
        n += r->parts[i].n;
    cl_entry *all = srv_xmalloc((n ? n : 1) * sizeof *all);
    n = 0;
    for (int i = 0; i < srv.nio; i++) {
        for (size_t k = 0; k < r->parts[i].n; k++) {
            all[n] = r->parts[i].e[k];
            all[n++].text = r->parts[i].text + r->parts[i].e[k].at;
            len += r->parts[i].e[k].len;
        }
    }
    qsort(all, n, sizeof *all, by_id);
    /* The lines to send, in order: all of them, or one per id asked that exists. */
    size_t nsel = 0;
    const cl_entry **sel = srv_xmalloc((r->nids ? (size_t)r->nids : n ? n : 1) * sizeof *sel);
    len = 0;
    for (size_t k = 0; !r->nids && k < n; k++)
        sel[nsel++] = &all[k];
    for (int i = 0; i < r->nids; i++) {
        cl_entry key = {.id = (uint64_t)r->ids[i]};
        const cl_entry *e = r->ids[i] > 0 ? bsearch(&key, all, n, sizeof *all, by_id) : NULL;
        if (e)
            sel[nsel++] = e;
    }
    for (size_t k = 0; k < nsel; k++)
        len += sel[k]->len;
    char *out = srv_xmalloc(len ? len : 1);
    size_t olen = 0;
    for (size_t k = 0; k < nsel; olen += sel[k]->len, k++)
        memcpy(out + olen, sel[k]->text, sel[k]->len);
    free(sel);
    resp_write_verbatim(c->out, out, olen, "txt");
    free(out);
    free(all);
}

static void reply_kill(srv_client *c, cl_req *r)
{
    long long killed = 0;
    int self = 0;
    for (int i = 0; i < srv.nio; i++) {
        killed += r->parts[i].killed;
        self |= r->parts[i].kill_self;
    }
    /* The replication links are not an I/O thread's clients (repl.c, replica.c). */
    if (r->type == CL_TYPE_MASTER && !r->addr && !r->laddr && !r->id)
        killed += replica_kill_link();
    if (r->type == CL_TYPE_REPLICA && !r->addr && !r->laddr && !r->id)
        killed += repl_kill_replicas();
    if (!r->old_form)
        resp_write_int(c->out, killed);
    else if (killed)
        resp_write_raw(c->out, "+OK\r\n", 5);
    else
        resp_write_error(c->out, "No such client", 14);
    if (self)
        c->close_after_reply = 1;
}

/* On the caller's thread, everybody answered (c NULL: the caller went away). */
static void all_answered(srv_client *c, void *arg)
{
    cl_req *r = arg;
    if (c && r->kill)
        reply_kill(c, r);
    else if (c)
        reply_list(c, r);
    req_free(r);
}

void cmd_client_list(cmd_ctx *x)
{
    cl_req *r = req_new(x->c, 0);
    if (x->argc == 4 && cmd_is(&x->argv[2], "type")) {
        if (type_or_reply(x, &x->argv[3], &r->type))
            goto refused;
    } else if (x->argc > 3 && cmd_is(&x->argv[2], "id")) {
        r->nids = x->argc - 3;
        r->ids = srv_xmalloc((size_t)r->nids * sizeof *r->ids);
        for (int i = 0; i < r->nids; i++) {
            if (!num_str2ll(x->argv[3 + i].ptr, x->argv[3 + i].len, &r->ids[i])) {
                cmd_err(x, "-ERR Invalid client ID");
                goto refused;
            }
        }
    } else if (x->argc != 2) {
        cmd_syntax_error(x);
        goto refused;
    }
    io_ask_all(x->c, each_thread, all_answered, r);
    return;
refused:
    req_free(r);
}

/* CLIENT KILL ip:port, or CLIENT KILL <filter> <value> ..., parsed as Redis 7.0 does. */
void cmd_client_kill(cmd_ctx *x)
{
    cl_req *r = req_new(x->c, 1);
    if (x->argc == 3) {
        r->old_form = 1;
        r->skipme = 0; /* with the old form a client may kill itself */
        r->addr = strndup(x->argv[2].ptr, x->argv[2].len);
    }
    for (int i = 2; !r->old_form && i < x->argc; i += 2) {
        const resp_arg *o = &x->argv[i], *v = &x->argv[i + 1];
        long long id;
        if (i + 1 >= x->argc) {
            cmd_syntax_error(x);
            goto refused;
        } else if (cmd_is(o, "id")) {
            if (!num_str2ll(v->ptr, v->len, &id) || id < 1) {
                cmd_err(x, "-ERR client-id should be greater than 0");
                goto refused;
            }
            r->id = (uint64_t)id;
        } else if (cmd_is(o, "type")) {
            if (type_or_reply(x, v, &r->type))
                goto refused;
        } else if (cmd_is(o, "addr")) {
            free(r->addr);
            r->addr = strndup(v->ptr, v->len);
        } else if (cmd_is(o, "laddr")) {
            free(r->laddr);
            r->laddr = strndup(v->ptr, v->len);
        } else if (cmd_is(o, "user")) {
            if (!cmd_is(v, "default")) { /* the only user there is; everybody is it */
                resp_write_errorf(x->out, "-ERR No such user '%.*s'", (int)v->len, v->ptr);
                goto refused;
            }
        } else if (cmd_is(o, "skipme") && (cmd_is(v, "yes") || cmd_is(v, "no"))) {
            r->skipme = cmd_is(v, "yes");
        } else {
            cmd_syntax_error(x);
            goto refused;
        }
    }
    io_ask_all(x->c, each_thread, all_answered, r);
    return;
refused:
    req_free(r);
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR]: runs in the writer, where blocked commands wait. */
void cmd_client_unblock(cmd_ctx *x)
{
    long long id;
    int error = 0;
    if (x->argc > 4) {
        cmd_reply_sub_syntax(x->out, x->argv);
        return;
    }
    if (cmd_ll_or_reply(x, &x->argv[2], &id))
        return;
    if (x->argc == 4) {
        error = cmd_is(&x->argv[3], "error");
        if (!error && !cmd_is(&x->argv[3], "timeout")) {
            cmd_err(x, "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    }
    resp_write_int(x->out, id > 0 && block_unblock((uint64_t)id, error));
}
