/* notify.c — keyspace notifications (notify.h): events recorded in one buffer of the
 * writer's, published once their commit returned. */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub.h"
#include "srv.h"
#include "util.h"

/* One event in the buffer: this header, then the event's name, then the key. A PUBLISH
 * made in the writer (notify_publish) is an entry of its own: dbi PUB_CHANNEL or PUB_SHARD,
 * then the channel and the message. */
#define PUB_CHANNEL (-1)
#define PUB_SHARD (-2)

typedef struct ev_head {
    int dbi;
    size_t elen, klen;
} ev_head;

static unsigned char *buf;
static size_t len, cap;
static size_t mark; /* where the running command's events begin */

int notify_wanted(int type)
{
    int flags = srv.cfg.notify_keyspace_events; /* one word: CONFIG SET's old or new value */
    return (flags & type) && (flags & (CONF_NOTIFY_KEYSPACE | CONF_NOTIFY_KEYEVENT));
}

/* Writes an event at offset at of the buffer (moving what is there up). */
static void put_at(size_t at, int dbi, const char *event, size_t elen, const void *key,
                   size_t klen)
{
    ev_head h = {dbi, elen, klen};
    size_t n = sizeof h + h.elen + klen, need = len + n;
    if (need > cap) {
        cap = need * 2 > 4096 ? need * 2 : 4096;
        buf = srv_xrealloc(buf, cap);
    }
    memmove(buf + at + n, buf + at, len - at);
    memcpy(buf + at, &h, sizeof h);
    memcpy(buf + at + sizeof h, event, h.elen);
    memcpy(buf + at + sizeof h + h.elen, key, klen);
    len = need;
}

void notify_event(int type, const char *event, int dbi, const void *key, size_t klen)
{
    if (notify_wanted(type))
        put_at(len, dbi, event, strlen(event), key, klen);
}

void notify_mark(void)
{
    mark = len;
}

void notify_drop(void)
{
    len = mark;
}

/* ox_seen_fn: before the running command's first own event of that key (after the
 * "expired" or "new" already there, in the order they came: Redis's lookup, then its
 * dbAdd), else at the end. */
static void pre_event(int dbi, const char *event, const void *key, size_t klen)
{
    size_t at = mark;
    while (at < len) {
        ev_head h;
        memcpy(&h, buf + at, sizeof h);
        const char *ev = (const char *)buf + at + sizeof h;
        int pre = (h.elen == 7 && !memcmp(ev, "expired", 7)) || (h.elen == 3 && !memcmp(ev, "new", 3));
        if (!pre && h.dbi == dbi && h.klen == klen && !memcmp(ev + h.elen, key, klen))
            break;
        at += sizeof h + h.elen + h.klen;
    }
    put_at(at, dbi, event, strlen(event), key, klen);
}

static void on_seen(void *arg, ox_table *t, int what, const void *key, size_t klen)
{
    (void)arg;
    int type = what == OX_SEEN_EXPIRED ? CONF_NOTIFY_EXPIRED : CONF_NOTIFY_NEW, dbi = 0;
    if (!notify_wanted(type))
        return;
    while (dbi < srv.ndb && srv.db[dbi] != t)
        dbi++;
    if (dbi < srv.ndb) /* else a member table's record, not a key */
        pre_event(dbi, what == OX_SEEN_EXPIRED ? "expired" : "new", key, klen);
}

void notify_created(int dbi, const void *key, size_t klen)
{
    if (notify_wanted(CONF_NOTIFY_NEW))
        pre_event(dbi, "new", key, klen);
}

void notify_observe(ox_txn *txn)
{
    if (txn)
        ox_txn_observe(txn, notify_wanted(CONF_NOTIFY_EXPIRED | CONF_NOTIFY_NEW) ? on_seen : NULL,
                       NULL);
}

/* Publishes msg on "__<kind>@<dbi>__:" + name. */
static void publish(const char *kind, int dbi, const void *name, size_t nlen, const void *msg,
                    size_t mlen)
{
    char small[256], *ch = small;
    int pre = snprintf(small, sizeof small, "__%s@%d__:", kind, dbi);
    if ((size_t)pre + nlen > sizeof small) {
        ch = srv_xmalloc((size_t)pre + nlen);
        memcpy(ch, small, (size_t)pre);
    }
    memcpy(ch + pre, name, nlen);
    resp_arg c = {.ptr = ch, .len = (size_t)pre + nlen}, m = {.ptr = (const char *)msg, .len = mlen};
    pubsub_publish(0, &c, &m, NULL, NULL, 2);
    if (ch != small)
        free(ch);
}

void notify_commit(int ok)
{
    int flags = srv.cfg.notify_keyspace_events;
    for (size_t at = 0; ok && at < len;) {
        ev_head h;
        memcpy(&h, buf + at, sizeof h);
        const unsigned char *event = buf + at + sizeof h, *key = event + h.elen;
        if (h.dbi == PUB_CHANNEL || h.dbi == PUB_SHARD) {
            resp_arg c = {.ptr = (const char *)event, .len = h.elen};
            resp_arg m = {.ptr = (const char *)key, .len = h.klen};
            pubsub_publish(h.dbi == PUB_SHARD, &c, &m, NULL, NULL, 2);
        } else if (flags & CONF_NOTIFY_KEYSPACE)
            publish("keyspace", h.dbi, key, h.klen, event, h.elen);
        if (h.dbi >= 0 && (flags & CONF_NOTIFY_KEYEVENT))
            publish("keyevent", h.dbi, event, h.elen, key, h.klen);
        at += sizeof h + h.elen + h.klen;
    }
    len = mark = 0;
    if (cap > (1u << 20)) { /* a burst's buffer is not kept */
        free(buf);
        buf = NULL;
        cap = 0;
    }
}

void notify_publish(int shard, const resp_arg *ch, const resp_arg *msg)
{
    put_at(len, shard ? PUB_SHARD : PUB_CHANNEL, ch->ptr, ch->len, msg->ptr, msg->len);
}

void notify_free(void)
{
    free(buf);
    buf = NULL;
    len = cap = mark = 0;
}
