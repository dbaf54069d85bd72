/* keyorder.h — walks in plain byte order, the library's long keys included.
 *
 * The library stores a key longer than 509 bytes under its first ox_key_order_prefix()
 * bytes (478) and a hash of the whole key, so keys longer than that prefix that share it
 * (a "group") sort among themselves by hash, not by bytes (oxistore.h, Caveats). Where
 * byte order is what the reply says (a sorted set's members of one score, ranks, ZRANGE's
 * bounds) or what an algorithm needs (a merge of several sets' members in step), the walk
 * goes through a korder:
 * - the caller walks in the store's order over the bounds korder_bounds gives (the exact
 *   bounds widened to whole groups) and hands each step over through its pull function;
 * - a key no longer than the prefix passes through as it comes (one length test);
 * - a group is gathered (copied), sorted and returned in byte order, only what lies within
 *   the exact bounds. A group of more than KORDER_BYTES of keys and values is read again
 *   from a prefix walk of the group in passes, each taking the next KORDER_BYTES' worth:
 *   memory stays bounded, at O(group * group bytes / KORDER_BYTES) steps.
 * So a walk costs what it did unless it meets a group, and then about one copy per key.
 *
 * Ownership: korder_next's keys and values are borrowed until the next korder_next or
 * korder_close: the pull's own (valid as long as the caller's walk keeps them) or the
 * korder's copies (korder_last says which). Bounds given are copied.
 * Errors: the pull's, the store's, OX_ENOMEM.
 * Threads: the caller's walk's. A pass reads in txn (or on snap): it opens and ends its
 * prefix walk within one korder_next, so writes between steps (a pop's) are safe, and so
 * is a new transaction between steps once korder_txn names it.
 */
#ifndef KEYORDER_H
#define KEYORDER_H

#include <stddef.h>

#include "oxistore.h"

#define KORDER_BYTES (1u << 20) /* a group's keys and values held at a time */

/* One step of the caller's walk, in the store's order: OX_OK with *k and *v, OX_NOTFOUND at
 * its end, or an error. */
typedef int korder_pull(void *src, ox_val *k, ox_val *v);

typedef struct korder korder;

/* A walk of [lo, hi) of table t in byte order (flags: OX_ITER_DESC, OX_ITER_KEYS_ONLY,
 * OX_ITER_AFTER: lo excluded), whose groups are read again in txn, or on snap when txn is
 * NULL. lo, hi: keys; NULL: no bound. pull(src) is the caller's walk, which it may open
 * after this call, over korder_bounds. OX_OK or OX_ENOMEM. */
int korder_open(ox_txn *txn, ox_snapshot *snap, ox_table *t, const ox_val *lo,
                const ox_val *hi, unsigned flags, korder_pull *pull, void *src, korder **out);

/* The bounds and flags the caller's walk takes: lo and hi widened to their groups (keys
 * owned by o until korder_close; NULL: no bound), and flags without OX_ITER_AFTER where lo
 * was widened. */
void korder_bounds(const korder *o, const ox_val **lo, const ox_val **hi, unsigned *flags);

/* The next key in byte order: OX_OK with *k and *v, OX_NOTFOUND at the end, or an error. */
int korder_next(korder *o, ox_val *k, ox_val *v);

/* 1 with the last key and value korder_next returned, if they are o's copies (valid while
 * o is, until its next step); 0 if they were the pull's own. */
int korder_last(const korder *o, ox_val *k, ox_val *v);

/* The write transaction later passes read in, where the caller's walk goes on in another
 * one (the writer's builds in parts commit one and begin the next: bulk.h). The one given
 * to korder_open, or the last given here, must be live at each korder_next. */
void korder_txn(korder *o, ox_txn *txn);

/* Sets the bytes of keys and values held at a time (tests: small groups take passes). */
void korder_budget(korder *o, size_t bytes);

/* NULL is a no-op. */
void korder_close(korder *o);

#endif
