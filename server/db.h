/* db.h — the keyspace layer (Redis's db.c): every command reaches the store through it.
 *
 * A key is one record in its database's table (dbmap.c), whatever its type: DBSIZE counts
 * keys, expiry and SCAN work on keys. The record's kind (OX_PUT_KIND) is the key's Redis
 * type (enum db_type). A string's record holds its bytes. A collection's record holds its
 * metadata (db_coll: an id and the member count), and its members live in the database's
 * member table, beside it, under keys that start with the collection's id (the layout:
 * coll_fmt.h, shared with oxistore-check).
 *
 * Ids come from one counter per file, stored in the map table, never reused. So a
 * collection's members belong to it only while its key's record carries its id: DEL,
 * UNLINK, an overwrite (SET), a rename over it or an expiry answer in O(1), and what they
 * leave behind is garbage that db_sweep reclaims in bounded slices. A member table follows
 * its database through SWAPDB (it is paired with the table, not with the number), FLUSHDB
 * clears both. A member's key is a key of the library's: a field of any length works, and
 * the user key's length does not matter (it is not part of the member's key).
 *
 * Threads: reads (db_get_*, db_type, db_coll_get, db_member_*) run on an I/O thread's
 * snapshot or in the writer's transaction, whichever the cmd_ctx holds. Writes
 * (db_put_string, db_expire_at, db_persist, db_delete, db_coll_*, db_member_put/del,
 * db_sweep) are the writer's, inside its batch's transaction; each calls watch_touch
 * where Redis signals a modified key, except the member writes: the command calls
 * db_coll_save once, which does.
 */
#ifndef DB_H
#define DB_H

#include "bulk.h"
#include "cmd.h"
#include "coll_fmt.h"
#include "util.h"

/* A code beside ox_err's: the key holds another type. */
#define DB_WRONGTYPE 100
#define DB_WRONGTYPE_MSG "-WRONGTYPE Operation against a key holding the wrong kind of value"

/* Sub-spaces of a collection's id in the member table (coll_fmt.h). */
#define DB_SUB_HEAD COLL_SUB_HEAD
#define DB_SUB_FIELD COLL_SUB_FIELD

/* Main thread, at startup, after dbmap_load: opens every member table and reads the id
 * counter. OX_OK or the store's error (logged). db_free releases what it allocated. */
int db_load(void);
void db_free(void);
/* The member table paired with a database's table. */
ox_table *db_members_of(ox_table *dbtable);

/* ---- any type ----------------------------------------------------------------------- */

/* Reads key in table t (a database's): its record's bytes, type, expiry time (0: none);
 * type and at may be NULL. OX_OK, OX_NOTFOUND or the store's error. */
int db_read(cmd_ctx *x, ox_table *t, const resp_arg *key, ox_val *val, int *type,
            uint64_t *at);
/* The type of key in the selected database, -1 if there is none, or -2 after replying
 * the store's error. */
int db_type_or_reply(cmd_ctx *x, const resp_arg *key);
/* Writer: a hint that key of database dbi comes up soon in txn (ox_txn_prefetch): step 0
 * for the key after the next, step 1 for the next. Changes nothing. */
void db_prefetch(ox_txn *txn, int dbi, const resp_arg *key, int step);
/* Writer: deletes key of any type from database dbi (watch_touch included). OX_OK,
 * OX_NOTFOUND or the store's error. A collection's members become garbage. */
int db_delete(cmd_ctx *x, int dbi, const resp_arg *key);
/* Writer: moves or copies key src of database x->dbi to dst in database dbd, any type, its
 * expiry time with it. replace: overwrite an existing dst; keep_src: COPY. 1 done, 0 not
 * (no src, or dst exists and !replace), -1 after replying (or, a large collection's copy
 * outside its own batch part, with x->bulk_wait set and nothing replied: bulk.h). */
int db_transfer_or_reply(cmd_ctx *x, const resp_arg *src, int dbd, const resp_arg *dst,
                         int replace, int keep_src);
/* An iterator over the keys in [lo, hi) of the selected database (ox_range's flags); the
 * type of each is ox_iter_kind's. Close it before the handler returns. */
int db_iter(cmd_ctx *x, const ox_val *lo, const ox_val *hi, unsigned flags, ox_iter **it);
/* Absolute expiry time of key: OX_OK, OX_NOTTL, OX_NOTFOUND. */
int db_expire_time(cmd_ctx *x, const resp_arg *key, uint64_t *at);
/* Writer: sets key's absolute expiry time (ms, in the future: a past time is the caller's
 * to turn into db_delete) or, db_persist, removes it; any type. OX_OK (watch_touch
 * included), OX_NOTFOUND, OX_NOTTL (db_persist of a key without one: no change) or the
 * store's error. */
int db_expire_at(cmd_ctx *x, const resp_arg *key, uint64_t at);
int db_persist(cmd_ctx *x, const resp_arg *key);
/* The number of keys in the selected database (DBSIZE), in O(1). */
uint64_t db_count(cmd_ctx *x);
/* Writer: clears database dbi (its keys and its members). OX_OK or the store's error. */
int db_clear(cmd_ctx *x, int dbi);

/* ---- strings ------------------------------------------------------------------------ */

/* Reads a string key: OX_OK, OX_NOTFOUND, DB_WRONGTYPE or the store's error. */
int db_get_string(cmd_ctx *x, const resp_arg *key, ox_val *val);
int db_get_string_in(cmd_ctx *x, ox_table *t, const resp_arg *key, ox_val *val);
/* db_get_string for handlers: 1 found, 0 not found, -1 after replying (WRONGTYPE or the
 * store's error). */
int db_get_string_or_reply(cmd_ctx *x, const resp_arg *key, ox_val *val);
/* Writer: key = val, a string, expiring at `at` (ms, 0: none). flags: OX_PUT_NOOVERWRITE
 * (then OX_ECONFLICT if the key exists), OX_PUT_ONLYIFEXISTS (then OX_NOTFOUND if not),
 * OX_PUT_KEEPTTL (its expiry time stays, `at` is ignored). Whatever the key held before
 * is replaced; a collection's members become garbage for the sweeper's next pass. OX_OK
 * (watch_touch included) or those codes, or the store's error. */
int db_put_string(cmd_ctx *x, const resp_arg *key, const void *val, size_t len, uint64_t at,
                  unsigned flags);

/* ---- collections -------------------------------------------------------------------- */

typedef struct db_coll {
    int type;
    int exists;        /* 0: db_coll_get found none (id 0, count 0) */
    uint64_t id;
    uint64_t count;    /* members: HLEN, SCARD... in O(1) */
    int64_t head;      /* a list's first position */
    unsigned levels;   /* a sorted set's rank index levels (zset_fmt.h) */
    coll_bounds zb;    /* a sorted set's bounds (zset_fmt.h) */
    uint64_t order;    /* a hash's next field number, 0: no order kept (hash_fmt.h) */
    int converted;     /* a set or sorted set Redis would hold as a hash table or a
                          skiplist for good (coll_fmt.h) */
    uint64_t expire_at; /* the key's expiry time when db_coll_get read it (ms), 0: none */
    ox_table *members; /* the member table it lives in */
} db_coll;

/* Reads key's collection of the given type: OX_OK, OX_NOTFOUND (*c is empty, exists 0),
 * DB_WRONGTYPE or the store's error. */
int db_coll_get(cmd_ctx *x, const resp_arg *key, int type, db_coll *c);
/* db_coll_get for handlers: 1 found, 0 none (*c is empty, exists 0), -1 after replying
 * (WRONGTYPE or the store's error). */
int db_coll_get_or_reply(cmd_ctx *x, const resp_arg *key, int type, db_coll *c);
/* db_coll_get_or_reply for commands that answer 0 when the key is missing (LINSERT,
 * LREM, SREM...): 1 found, 0 after replying (":0", WRONGTYPE or the store's error). */
int db_coll_or_zero(cmd_ctx *x, const resp_arg *key, int type, db_coll *c);
/* Writer: db_coll_get_or_reply, then a new empty collection of that type if there is none
 * (its id taken now; nothing is stored before db_coll_save). 1, or -1 after replying. */
int db_coll_open_or_reply(cmd_ctx *x, const resp_arg *key, int type, db_coll *c);
/* Writer: gives c (type and members set) a new id: an empty collection, not stored yet
 * (exists 0); a hash keeps its fields' order (Redis's listpack, hash_fmt.h). OX_OK or the
 * store's error. */
int db_coll_fresh(cmd_ctx *x, db_coll *c);
/* Writer, after a command that built a collection in parts (bulk.h): queues its id for
 * the sweeper, which reclaims the parts at once if the build failed (no key names it),
 * and leaves it be otherwise. */
void db_bulk_done(cmd_ctx *x);
/* Writer: makes c (fresh, its members written) key's value, replacing whatever key held,
 * its expiry time too, as a STORE command does; an empty c deletes key. Calls
 * watch_touch. OX_OK or the store's error. */
int db_coll_replace(cmd_ctx *x, const resp_arg *key, db_coll *c);
/* Writer: c (fresh) is what survives of old, key's collection, after a change too large to
 * make in place (bulk_most), rebuilt under its own id: it becomes key's value with old's
 * expiry time (the time old was read with: a build in parts may outlast it, as Redis's
 * command would not), and old's members go to the sweeper. An empty c deletes key. Calls
 * watch_touch. OX_OK or the store's error. */
int db_coll_rewrite(cmd_ctx *x, const resp_arg *key, const db_coll *old, db_coll *c);
/* Writer: stores c's metadata under key (its expiry time kept), or deletes the key if c
 * is empty now (Redis deletes an empty collection), and calls watch_touch. OX_OK or the
 * store's error. */
int db_coll_save(cmd_ctx *x, const resp_arg *key, db_coll *c);
/* Writer: db_coll_save of a collection that exists and whose metadata did not change, only
 * its members' values (HSET or HINCRBY of fields it had, LSET): calls watch_touch without
 * rewriting the record (a rewrite was a third of such an HSET's store work). */
void db_coll_touch(cmd_ctx *x, const resp_arg *key);

/* db_coll_get_or_reply of argv[i], except when a parked command runs again (block.h):
 * then only the key that woke it, argv[x->block_key], is looked at, and only while it holds
 * a collection of `type` (else 0: the command stays parked, no WRONGTYPE), as Redis serves
 * its waiters from the key made ready. */
int db_coll_get_woken_or_reply(cmd_ctx *x, int i, int type, db_coll *c);

/* Writer, the whole of HDEL and SREM: removes the members argv[2..] from the collection
 * argv[1] of that type (deleting it once empty) and replies how many were there. */
void db_remove_members(cmd_ctx *x, int type);
/* The whole of HLEN and SCARD: replies the member count of argv[1] (0: none). */
void db_reply_count(cmd_ctx *x, int type);

/* Reads member name of c's sub-space sub: OX_OK with *val, OX_NOTFOUND, or an error. */
int db_member_get(cmd_ctx *x, const db_coll *c, int sub, const void *name, size_t len,
                  ox_val *val);
/* Writer: a hint that member name of c's sub-space sub comes up soon, likely in a later
 * command of the batch (db_prefetch's step 0). Changes nothing; a no-op on a snapshot. */
void db_member_prefetch(cmd_ctx *x, const db_coll *c, int sub, const void *name, size_t len);
/* The same hint for the next two commands of the batch that are x's own on x's key
 * (cmd_next_same): their argument arg (from the end if negative: -1 the last) names a
 * member of c they will look up (HSET's field, SADD's member, ZADD's). At -P 16 those
 * lookups were the writer's cache misses: HSET of random fields spent an eighth of its
 * samples on the write buffer's hash bucket and node. */
void db_member_prefetch_next(cmd_ctx *x, const db_coll *c, int sub, int arg);
/* Writer: adds a member if it is not there (a set's SADD): *added 1 if it was new. OX_OK
 * or an error. */
int db_member_add(cmd_ctx *x, const db_coll *c, int sub, const void *name, size_t len,
                  const void *val, size_t vlen, int *added);
/* Writer: stores / deletes a member. *added (may be NULL): 1 if it was new / was there.
 * The caller adjusts c->count. OX_OK or an error. */
int db_member_put(cmd_ctx *x, const db_coll *c, int sub, const void *name, size_t len,
                  const void *val, size_t vlen, int *added);
/* Writer: db_member_put of a member the caller knows is not there (a position past a
 * list's end, a member of a fresh id): it is not looked up (OX_PUT_ABSENT). */
int db_member_put_new(cmd_ctx *x, const db_coll *c, int sub, const void *name, size_t len,
                      const void *val, size_t vlen);
int db_member_del(cmd_ctx *x, const db_coll *c, int sub, const void *name, size_t len,
                  int *removed);
/* An iterator over c's sub-space sub in name order, from after position `after` (its
 * ox_iter_pos; NULL: from the start). Keys it returns start with the 9-byte prefix. */
int db_member_iter(cmd_ctx *x, const db_coll *c, int sub, const ox_val *after, ox_iter **it);
/* A walk of c's sub-space sub from lo to its last member, both included (lo NULL: from the
 * first; lo is a member key with its prefix, or with OX_ITER_POS a position from
 * ox_iter_pos), in the order flags say (OX_ITER_DESC: from the last member down to lo;
 * OX_ITER_KEYS_ONLY, OX_ITER_AFTER as ox_range). */
int db_member_range(cmd_ctx *x, const db_coll *c, int sub, const ox_val *lo, unsigned flags,
                    ox_iter **it);
/* A walk over the member keys in [lo, hi) of c's member table, bounds the family made
 * with coll_fmt.h's keys (a list's positions, a sorted set's score entries); flags as
 * ox_range. Close it before the handler returns. */
int db_member_span(cmd_ctx *x, const db_coll *c, const ox_val *lo, const ox_val *hi,
                   unsigned flags, ox_iter **it);
/* db_member_iter from the start, as a walk that a build in parts can suspend (bulk.h);
 * flags as bulk_walk_open's. */
int db_member_walk(cmd_ctx *x, const db_coll *c, int sub, unsigned flags, db_walk **w);

/* A merge of the member orders of n collections (SUNION, ZUNION): each member once, in
 * order, with the inputs that hold it. cs[i] NULL or not existing: an empty input. Members
 * and values stay valid until the next db_merge_next. */
typedef struct db_merge db_merge;
int db_merge_open(cmd_ctx *x, const db_coll *const *cs, int n, db_merge **out);
/* The next member: OX_OK with *member, OX_NOTFOUND after the last, or an error. */
int db_merge_next(db_merge *m, ox_val *member);
/* 1 if input i holds the current member (*val: its value), else 0. */
int db_merge_has(const db_merge *m, int i, ox_val *val);
void db_merge_close(db_merge *m);

/* ---- garbage ------------------------------------------------------------------------ */

/* Writer, between batches: one slice of the sweeper, in its own transaction: reclaims up
 * to `budget` records of collections that no longer exist. First those a DEL, UNLINK, a
 * *STORE or a rename over a key left dead (a bounded queue of their ids, each checked
 * dead before anything of it goes); then, at startup, when the queue overflowed, and once
 * a minute (an expiry or a SET over a collection leaves garbage too), a pass that walks
 * every member table, looking at no more than `budget` live collections per slice.
 * Returns 1 if there is more to do (call again soon), 0 when there is nothing (then it
 * costs a check of a flag and the clock). */
int db_sweep(size_t budget);
/* Members reclaimed so far (INFO). */
unsigned long long db_swept(void);

#endif
