/* notify.c — keyspace notifications (notify.h): events recorded in one buffer of the
 * writer's, published once their commit returned. */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub.h"
#include "srv.h"
#include "util.h"

/* One event in the buffer: this header, then the event's name, then the key. */
typedef struct ev_head {
    int dbi;
    size_t elen, klen;
} ev_head;

static unsigned char *buf;
static size_t len, cap;

int notify_wanted(int type)
{
    int flags = srv.cfg.notify_keyspace_events; /* one word: CONFIG SET's old or new value */
    return (flags & type) && (flags & (CONF_NOTIFY_KEYSPACE | CONF_NOTIFY_KEYEVENT));
}

void notify_event(int type, const char *event, int dbi, const void *key, size_t klen)
{
    if (!notify_wanted(type))
        return;
    ev_head h = {dbi, strlen(event), klen};
    size_t need = len + sizeof h + h.elen + klen;
    if (need > cap) {
        cap = need * 2 > 4096 ? need * 2 : 4096;
        buf = srv_xrealloc(buf, cap);
    }
    memcpy(buf + len, &h, sizeof h);
    memcpy(buf + len + sizeof h, event, h.elen);
    memcpy(buf + len + sizeof h + h.elen, key, klen);
    len = need;
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
        if (flags & CONF_NOTIFY_KEYSPACE)
            publish("keyspace", h.dbi, key, h.klen, event, h.elen);
        if (flags & CONF_NOTIFY_KEYEVENT)
            publish("keyevent", h.dbi, event, h.elen, key, h.klen);
        at += sizeof h + h.elen + h.klen;
    }
    len = 0;
    if (cap > (1u << 20)) { /* a burst's buffer is not kept */
        free(buf);
        buf = NULL;
        cap = 0;
    }
}

void notify_free(void)
{
    free(buf);
    buf = NULL;
    len = cap = 0;
}
