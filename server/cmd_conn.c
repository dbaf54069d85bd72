/* cmd_conn.c — connection commands: PING, ECHO, QUIT, SELECT, HELLO, AUTH, CLIENT, RESET. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "multi.h"
#include "num.h"
#include "pubsub.h"

void cmd_ping(cmd_ctx *x)
{
    if (x->argc > 2) {
        cmd_reply_arity(x->out, "ping");
        return;
    }
    if (x->c && x->c->resp == 2 && client_is_pubsub(x->c)) { /* Redis's form in Pub/Sub */
        resp_write_array(x->out, 2);
        resp_write_bulk(x->out, "pong", 4);
        resp_write_bulk(x->out, x->argc == 2 ? x->argv[1].ptr : "", x->argc == 2 ? x->argv[1].len : 0);
        return;
    }
    if (x->argc == 2)
        resp_write_bulk(x->out, x->argv[1].ptr, x->argv[1].len);
    else
        resp_write_raw(x->out, "+PONG\r\n", 7);
}

void cmd_echo(cmd_ctx *x)
{
    resp_write_bulk(x->out, x->argv[1].ptr, x->argv[1].len);
}

void cmd_quit(cmd_ctx *x)
{
    cmd_ok(x);
    x->c->close_after_reply = 1;
}

const char *cmd_db_parse(const resp_arg *a, long long *db)
{
    if (!num_str2ll(a->ptr, a->len, db))
        return "-ERR value is not an integer or out of range";
    if (*db < INT_MIN || *db > INT_MAX) /* Redis reads an int first */
        return "-ERR value is out of range, value must between -2147483648 and 2147483647";
    if (*db < 0 || *db >= srv.ndb)
        return "-ERR DB index is out of range";
    return NULL;
}

int cmd_select_db(const resp_arg *a)
{
    long long db;
    return cmd_db_parse(a, &db) ? -1 : (int)db;
}

void cmd_select(cmd_ctx *x)
{
    long long db;
    const char *err = cmd_db_parse(&x->argv[1], &db);
    if (err) {
        cmd_err(x, err);
        return;
    }
    if (x->c)
        x->c->db = (int)db;
    else /* from a script: its own database, for the rest of it */
        x->dbi = (int)db;
    cmd_ok(x);
}

/* Compares in time that depends on the lengths only, not on where the bytes differ. */
static int password_ok(const resp_arg *given)
{
    pthread_rwlock_rdlock(&srv.cfg_lock);
    const char *want = srv.cfg.requirepass ? srv.cfg.requirepass : "";
    size_t wl = strlen(want);
    unsigned char diff = (unsigned char)(wl != given->len);
    for (size_t i = 0; i < given->len; i++)
        diff |= (unsigned char)(given->ptr[i] ^ (wl ? want[i % wl] : 0));
    pthread_rwlock_unlock(&srv.cfg_lock);
    return diff == 0;
}

/* CLIENT SETNAME / HELLO SETNAME: printable ASCII without spaces; "" clears the name. */
static int name_ok(const resp_arg *n)
{
    for (size_t k = 0; k < n->len; k++)
        if (n->ptr[k] <= ' ' || n->ptr[k] > '~')
            return 0;
    return 1;
}

/* 0, or -1 after replying. */
static int set_name_or_reply(cmd_ctx *x, const resp_arg *n)
{
    if (!name_ok(n)) {
        cmd_err(x, "-ERR Client names cannot contain spaces, newlines or special "
                   "characters.");
        return -1;
    }
    free(x->c->name);
    x->c->name = n->len ? strndup(n->ptr, n->len) : NULL;
    return 0;
}

int cmd_password_set(void)
{
    pthread_rwlock_rdlock(&srv.cfg_lock);
    int set = srv.cfg.requirepass && *srv.cfg.requirepass;
    pthread_rwlock_unlock(&srv.cfg_lock);
    return set;
}

static int credentials_ok(const resp_arg *user, const resp_arg *pass)
{
    return (!user || cmd_is(user, "default")) && (!cmd_password_set() || password_ok(pass));
}

/* AUTH [user] pass, as the default user: 1 if it succeeded, else replied. */
static int auth_or_reply(cmd_ctx *x, const resp_arg *user, const resp_arg *pass)
{
    if (!credentials_ok(user, pass)) {
        cmd_err(x, "-WRONGPASS invalid username-password pair or user is disabled.");
        return 0;
    }
    x->c->authed = 1;
    resp_parser_set_auth_required(x->c->parser, 0);
    return 1;
}

void cmd_auth(cmd_ctx *x)
{
    if (x->argc > 3) {
        cmd_syntax_error(x);
        return;
    }
    if (x->argc == 2 && !cmd_password_set()) {
        cmd_err(x, "-ERR AUTH <password> called without any password configured for the "
                   "default user. Are you sure your configuration is correct?");
        return;
    }
    const resp_arg *user = x->argc == 3 ? &x->argv[1] : NULL;
    if (auth_or_reply(x, user, &x->argv[x->argc - 1]))
        cmd_ok(x);
}

/* HELLO's arguments, parsed as Redis does: the version first, then the options. */
typedef struct hello_args {
    long long ver;
    const resp_arg *user, *pass, *name;
    const resp_arg *bad;    /* the option that is a syntax error */
} hello_args;

/* NULL, or the error reply (NULL with h->bad set: the syntax error, which quotes it). */
static const char *hello_parse(int argc, const resp_arg *argv, int cur, hello_args *h)
{
    *h = (hello_args){.ver = cur};
    int i = 1;
    if (argc >= 2) {
        if (!num_str2ll(argv[1].ptr, argv[1].len, &h->ver))
            return "-ERR Protocol version is not an integer or out of range";
        i = 2;
        if (h->ver < 2 || h->ver > 3)
            return "-NOPROTO unsupported protocol version";
    }
    for (; i < argc; i++) {
        int more = argc - i - 1;
        if (cmd_is(&argv[i], "auth") && more >= 2) {
            h->user = &argv[i + 1];
            h->pass = &argv[i + 2];
            i += 2;
        } else if (cmd_is(&argv[i], "setname") && more >= 1) {
            h->name = &argv[i + 1];
            i++;
        } else {
            h->bad = &argv[i];
            return NULL;
        }
    }
    return NULL;
}

int cmd_hello_proto(const srv_client *c, int argc, const resp_arg *argv)
{
    hello_args h;
    if (hello_parse(argc, argv, c->resp, &h) || h.bad)
        return c->resp;
    if (h.user ? !credentials_ok(h.user, h.pass) : !c->authed)
        return c->resp;
    if (h.name && !name_ok(h.name))
        return c->resp;
    return (int)h.ver;
}

void cmd_hello(cmd_ctx *x)
{
    hello_args h;
    const char *err = hello_parse(x->argc, x->argv, x->c->resp, &h);
    if (err) {
        cmd_err(x, err);
        return;
    }
    if (h.bad) {
        resp_write_errorf(x->out, "-ERR Syntax error in HELLO option '%.*s'",
                          (int)h.bad->len, h.bad->ptr);
        return;
    }
    long long ver = h.ver;
    const resp_arg *user = h.user, *pass = h.pass, *name = h.name;
    if (user && !auth_or_reply(x, user, pass))
        return;
    if (!x->c->authed) {
        cmd_err(x, "-NOAUTH HELLO must be called with the client already authenticated, "
                   "otherwise the HELLO AUTH <user> <pass> option can be used to "
                   "authenticate the client and select the RESP protocol version at the "
                   "same time");
        return;
    }
    if (name && set_name_or_reply(x, name))
        return;
    x->c->resp = (int)ver;
    resp_buf_set_proto(x->out, (int)ver);
    resp_write_map(x->out, 7);
    resp_write_bulk(x->out, "server", 6);
    resp_write_bulk(x->out, "redis", 5);
    resp_write_bulk(x->out, "version", 7);
    resp_write_bulk(x->out, SRV_REDIS_VERSION, strlen(SRV_REDIS_VERSION));
    resp_write_bulk(x->out, "proto", 5);
    resp_write_int(x->out, ver);
    resp_write_bulk(x->out, "id", 2);
    resp_write_int(x->out, (long long)x->c->id);
    resp_write_bulk(x->out, "mode", 4);
    resp_write_bulk(x->out, "standalone", 10);
    resp_write_bulk(x->out, "role", 4);
    resp_write_bulk(x->out, "master", 6);
    resp_write_bulk(x->out, "modules", 7);
    resp_write_array(x->out, 0);
}

void cmd_reset(cmd_ctx *x)
{
    srv_client *c = x->c;
    multi_discard(c); /* RESET leaves MULTI and forgets the watched keys, as in Redis */
    pubsub_sub_drop(c->ps); /* and its subscriptions */
    c->ps = NULL;
    c->db = 0;
    c->resp = 2;
    resp_buf_set_proto(x->out, 2);
    free(c->name);
    c->name = NULL;
    c->authed = !cmd_password_set();
    resp_parser_set_auth_required(c->parser, !c->authed);
    resp_write_simple(x->out, "RESET", 5);
}

/* CLIENT HELP, as Redis 7.0 words it (subcommands it has and oxistore answers with an
 * error included). */
static const char *const client_help[] = {
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    NULL,
};

/* CLIENT: the dispatcher has checked the subcommand and its arity (cmd_subtable). */
void cmd_client(cmd_ctx *x)
{
    const resp_arg *sub = &x->argv[1];
    if (cmd_is(sub, "id")) {
        resp_write_int(x->out, (long long)x->c->id);
    } else if (cmd_is(sub, "getname")) {
        if (x->c->name)
            resp_write_bulk(x->out, x->c->name, strlen(x->c->name));
        else
            resp_write_null(x->out);
    } else if (cmd_is(sub, "setname")) {
        if (set_name_or_reply(x, &x->argv[2]) == 0)
            cmd_ok(x);
    } else if (cmd_is(sub, "info")) {
        char line[1024];
        size_t n = client_info_line(x->c, line, sizeof line - 1);
        line[n++] = '\n';
        resp_write_verbatim(x->out, line, n, "txt");
    } else if (cmd_is(sub, "list")) {
        cmd_client_list(x);
    } else if (cmd_is(sub, "kill")) {
        cmd_client_kill(x);
    } else if (cmd_is(sub, "no-evict") || cmd_is(sub, "no-touch")) {
        if (cmd_is(&x->argv[2], "on") || cmd_is(&x->argv[2], "off"))
            cmd_ok(x);
        else
            cmd_syntax_error(x);
    } else if (cmd_is(sub, "setinfo")) {
        cmd_ok(x);
    } else if (cmd_is(sub, "help")) {
        cmd_reply_help(x->out, &x->argv[0], client_help);
    } else {
        cmd_reply_unknown_sub(x->out, x->argv);
    }
}
