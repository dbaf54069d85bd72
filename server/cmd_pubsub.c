/* cmd_pubsub.c — Pub/Sub commands: SUBSCRIBE PSUBSCRIBE SSUBSCRIBE and their UN- forms,
 * PUBLISH SPUBLISH, PUBSUB. All run on the client's I/O thread (CMD_CLIENT); the registry
 * and the delivery are pubsub.c's. */
#include "client.h"
#include "cmd.h"
#include "io.h"
#include "notify.h"
#include "pubsub.h"

/* c's subscriber, made on its first subscription. */
static pubsub_sub *sub_of(srv_client *c)
{
    if (!c->ps)
        c->ps = pubsub_sub_new(c->io->idx, c);
    return c->ps;
}

static void subscribe(cmd_ctx *x, int kind)
{
    pubsub_sub *s = sub_of(x->c);
    for (int i = 1; i < x->argc; i++)
        pubsub_subscribe(s, kind, &x->argv[i], x->out);
}

/* Without arguments: from every one of that kind. */
static void unsubscribe(cmd_ctx *x, int kind)
{
    if (x->argc == 1)
        pubsub_unsubscribe(x->c->ps, kind, NULL, x->out);
    for (int i = 1; i < x->argc; i++)
        pubsub_unsubscribe(x->c->ps, kind, &x->argv[i], x->out);
}

void cmd_subscribe(cmd_ctx *x) { subscribe(x, PUBSUB_CHANNEL); }
void cmd_psubscribe(cmd_ctx *x) { subscribe(x, PUBSUB_PATTERN); }
void cmd_ssubscribe(cmd_ctx *x)
{
    if (x->in_exec) { /* Redis 7.0 refuses it in MULTI (and, later, in scripts) */
        cmd_err(x, "-ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
        return;
    }
    subscribe(x, PUBSUB_SHARD);
}
void cmd_unsubscribe(cmd_ctx *x) { unsubscribe(x, PUBSUB_CHANNEL); }
void cmd_punsubscribe(cmd_ctx *x) { unsubscribe(x, PUBSUB_PATTERN); }
void cmd_sunsubscribe(cmd_ctx *x) { unsubscribe(x, PUBSUB_SHARD); }

static void publish(cmd_ctx *x, int shard)
{
    if (!x->c) { /* a script's, in the writer: sent after the commit of its batch */
        resp_write_int(x->out, pubsub_receivers(shard, &x->argv[1]));
        notify_publish(shard, &x->argv[1], &x->argv[2]);
        return;
    }
    /* What the publisher receives itself comes before its reply, as in Redis. */
    long long n = pubsub_publish(shard, &x->argv[1], &x->argv[2], x->c ? x->c->ps : NULL,
                                 x->out, x->c ? x->c->resp : 2);
    resp_write_int(x->out, n);
}

void cmd_publish(cmd_ctx *x) { publish(x, 0); }
void cmd_spublish(cmd_ctx *x) { publish(x, 1); }

static const char *const pubsub_help[] = {
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    NULL,
};

/* PUBSUB's subcommands (the table routes each of them here; arity is checked already). */
void cmd_pubsub(cmd_ctx *x)
{
    const resp_arg *sub = &x->argv[1];
    int shard = cmd_is(sub, "shardchannels") || cmd_is(sub, "shardnumsub");
    if (cmd_is(sub, "help")) {
        cmd_reply_help(x->out, &x->argv[0], pubsub_help);
    } else if (cmd_is(sub, "channels") || cmd_is(sub, "shardchannels")) {
        if (x->argc > 3)
            cmd_reply_sub_syntax(x->out, x->argv);
        else
            pubsub_reply_channels(x->out, shard, x->argc == 3 ? &x->argv[2] : NULL);
    } else if (cmd_is(sub, "numsub") || cmd_is(sub, "shardnumsub")) {
        pubsub_reply_numsub(x->out, shard, x->argc - 2, x->argv + 2);
    } else { /* numpat */
        long long channels, patterns, shards;
        pubsub_totals(&channels, &patterns, &shards);
        resp_write_int(x->out, patterns);
    }
}
