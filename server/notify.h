/* notify.h — keyspace notifications (notify-keyspace-events, Redis's notify.c): what the
 * writer's commands did to keys, published on __keyspace@<db>__:<key> (the event as the
 * message) and __keyevent@<db>__:<event> (the key as the message) through pubsub.h.
 *
 * Writer thread only. An event is held until the commit that holds its change returned
 * (notify_commit): then the events go out in the order the commands made them; after a
 * failed commit they are dropped, as the changes are. Nothing is held while
 * notify-keyspace-events is empty (the default).
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <stddef.h>

#include "conf.h"
#include "oxistore.h"
#include "resp.h"

/* Whether events of class type (a CONF_NOTIFY_* bit) are wanted now. */
int notify_wanted(int type);
/* Records event (Redis's name: "set", "hdel", "expired"...) of class type for key in
 * database dbi, if wanted. */
void notify_event(int type, const char *event, int dbi, const void *key, size_t klen);
/* A command begins in the writer: the events its writes find (below) go before its own. */
void notify_mark(void);
/* The running command's writes were discarded: so are its events (since notify_mark). */
void notify_drop(void);
/* Has txn tell what its writes find (ox_txn_observe) when expired or new events are
 * wanted: "expired" for an expired key a write replaces or deletes (Redis's lookup sends
 * it), "new" for a key created; each goes before the first event the running command made
 * for that key, or after its events if none (Redis's order). Call after each begin. */
void notify_observe(ox_txn *txn);
/* A key replaced as a new one (RENAME or COPY ... REPLACE onto a live key: Redis deletes
 * it and adds a new one), which the write itself does not tell: its "new" event. */
void notify_created(int dbi, const void *key, size_t klen);
/* After a commit (ok: it returned OX_OK): publishes the events recorded since the last
 * call, or drops them. */
void notify_commit(int ok);
/* A PUBLISH made in the writer (a script's): held with the events and sent in their order
 * once the commit returned, dropped with them if it failed, as Redis sends a script's
 * messages only when the script is over. */
void notify_publish(int shard, const resp_arg *ch, const resp_arg *msg);
/* Frees the held buffer (shutdown). */
void notify_free(void);

#endif
