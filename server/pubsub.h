/* pubsub.h — Pub/Sub: the registry of channels, patterns and shard channels, and the
 * delivery of messages to subscribers on every I/O thread (Redis's pubsub.c).
 *
 * Threads: the registry is one table shared by every thread under one mutex. A client's
 * subscriptions are changed on its own I/O thread only (SUBSCRIBE..., RESET, its close).
 * A message is published from any thread: it is formatted once, and handed to each
 * subscriber's I/O thread through that thread's inbox (a queue and an eventfd), which
 * writes it into the subscriber's output there; a subscriber never sees its output
 * touched by another thread. The publisher's own subscriptions are served in place,
 * before its reply, as Redis serves them.
 *
 * Memory: a message waits in an inbox only until that thread's next loop round; what a
 * slow subscriber does not read stays in its output, bounded by client-output-buffer-limit
 * pubsub (client.c closes it past the limit).
 */
#ifndef PUBSUB_H
#define PUBSUB_H

#include <stddef.h>

#include <event2/event.h>

#include "resp.h"

/* What a subscription is to: SUBSCRIBE's channels, PSUBSCRIBE's patterns, SSUBSCRIBE's
 * shard channels. */
enum pubsub_kind { PUBSUB_CHANNEL, PUBSUB_PATTERN, PUBSUB_SHARD, PUBSUB_KINDS };

/* A subscriber: one client's side of its subscriptions, made on the client's thread the
 * first time it subscribes; used and dropped on that thread only. */
typedef struct pubsub_sub pubsub_sub;

/* Writes a message (Redis's RESP2 bytes of it) into the subscriber owner's output, on
 * owner's thread; resp2 NULL: more than client-output-buffer-limit pubsub's hard limit
 * waited for owner's thread, owner is to be closed (it may be, then, within the call). */
typedef void pubsub_deliver_fn(void *owner, const void *resp2, size_t len);
/* After a thread's inbox was delivered: writes the outputs it filled (arg: attach's). */
typedef void pubsub_flush_fn(void *arg);

/* The registry and nthreads inboxes, before the I/O threads start / after they stopped.
 * 0 or -1 (an eventfd could not be made). */
int pubsub_init(int nthreads, pubsub_deliver_fn *deliver);
void pubsub_fini(void);
/* Thread `thread`'s inbox, on its event base (before the thread runs). 0 or -1. detach
 * drops what is still queued there (after the thread ended). */
int pubsub_attach(int thread, struct event_base *base, pubsub_flush_fn *flush, void *arg);
void pubsub_detach(int thread);

/* On the owner's thread. new: a subscriber of owner, which lives on I/O thread `thread`.
 * drop (s may be NULL): ends every subscription of s, silently, and frees s; deliveries
 * on their way are dropped. */
pubsub_sub *pubsub_sub_new(int thread, void *owner);
void pubsub_sub_drop(pubsub_sub *s);
/* On the owner's thread: subscribes s to name / unsubscribes it from name (NULL: from every
 * one of that kind; s may be NULL then), writing Redis's confirmation of each into out
 * (as a push: ["subscribe", name, count]). */
void pubsub_subscribe(pubsub_sub *s, int kind, const resp_arg *name, resp_buf *out);
void pubsub_unsubscribe(pubsub_sub *s, int kind, const resp_arg *name, resp_buf *out);
/* How many subscriptions s has of kind (-1: channels and patterns together, the count
 * SUBSCRIBE replies); 0 for a NULL s. */
long pubsub_count(const pubsub_sub *s, int kind);
/* Writes a message as a subscriber speaking protocol resp receives it. */
void pubsub_write_msg(resp_buf *out, int resp, const void *resp2, size_t len);

/* Any thread: publishes msg on channel ch (shard: a shard channel), and returns how many
 * subscriptions receive it (a client counts once per matching channel and pattern).
 * self (may be NULL) is the publisher's own subscriber, on its own thread: what it receives
 * is written into self_out (protocol self_resp) at once, before the publisher's reply. */
long long pubsub_publish(int shard, const resp_arg *ch, const resp_arg *msg,
                         const pubsub_sub *self, resp_buf *self_out, int self_resp);

/* Any thread: how many subscriptions a publication on ch would reach now (what
 * pubsub_publish would return), delivering nothing. */
long long pubsub_receivers(int shard, const resp_arg *ch);

/* Any thread: PUBSUB CHANNELS / SHARDCHANNELS [pattern] (pat NULL: all), NUMSUB /
 * SHARDNUMSUB name..., written into out; and the totals INFO and NUMPAT report. */
void pubsub_reply_channels(resp_buf *out, int shard, const resp_arg *pat);
void pubsub_reply_numsub(resp_buf *out, int shard, int n, const resp_arg *names);
void pubsub_totals(long long *channels, long long *patterns, long long *shard);

#endif
