/* zset_fmt.h — a sorted set's stored records and its rank index (coll_fmt.h has the
 * collection's record and the member table), written by the server's cmd_zset.c and by
 * oxistore-check's restore (tools/), read by both. Depends on liboxistore and coll_fmt.h.
 *
 * A member m of score s has two records under the set's id, each carrying m's level
 * (below): [id][COLL_SUB_FIELD][m] -> [s: 8 bytes] (level 0) or [s][level: 1 byte], and
 * the index entry [id][COLL_SUB_SCORE][s][m] -> "" (level 0) or [level]. A score of -0
 * sorts as 0 (coll_score_put), and where the caller keeps its sign (Redis keeps it in a
 * skiplist, not in a listpack: the server decides), both values carry the mark 1 after
 * them: [0][level][1] and [level][1], level 0 included.
 *
 * The rank index. A set whose metadata says levels > 0 (coll_meta_encode) keeps for each
 * level L in 1 .. levels:
 *   [id][ZFMT_SUB_LEVEL + L - 1]         -> [count: 8 bytes big-endian]  (the level's head)
 *   [id][ZFMT_SUB_LEVEL + L - 1][s][m]   -> [count][level: 1 byte]       (a fence)
 * A member is a fence of each level up to its own. It draws its level when it comes into
 * the indexed part of a set (P(level >= L) = fanout^-L, at most ZFMT_MAX_LEVELS), and keeps
 * it when its score changes; a member longer than ZFMT_NAME_MAX bytes has level 0, so that
 * a fence's key is never one of the library's long keys and fences sort exactly as the
 * index entries they stand for. A fence's count is the number of index entries from its
 * own to the next fence of its level (the head's: those before the first fence). A
 * member's rank is then the sum of the counts before it, top level first, each level
 * walked from where the one above stopped: about fanout steps per level. When a fence's
 * member is removed from a whole index, the fence slides to the member after it (which
 * takes its level), so that no deletion is left between a live fence and what follows it;
 * unless the member after it lies past a run of removed members (more than 64 still in the
 * write buffer), when the fence before it takes over its count as a moved member's does.
 *
 * A set has no index until a rank is asked of it (each change of an indexed set writes
 * about one more record per level, which sets never ranked do not pay). zfmt_build_step
 * then builds level 1 in bounded steps: the levels byte has ZFMT_BUILDING, and
 * [id][ZFMT_SUB_FRONTIER] -> the tail [s][m] of the first index entry not counted yet (a
 * member of at most ZFMT_NAME_MAX bytes); changes before it keep level 1, changes after
 * it nothing. Once level 1 is whole, the levels above it are built from it, and an
 * indexed set gets level L + 1 when it passes 2 * fanout^(L + 1) members, each built from
 * the level below in one step of about 4 * fanout records. Levels are never taken away.
 * Ranks of a set without a whole index are walks of the index.
 *
 * Byte order. Members of one score whose index keys are the library's long keys (over 478
 * bytes) sort among themselves by hash in the store; every walk of the index here goes
 * through keyorder.h, so that ranks count them in byte order, as Redis orders them. A
 * fence is never a long key, so a fence's count is the same in either order. The index's
 * other readers walk it the same way (the server's BULK_EXACT).
 *
 * Bounds (coll_bounds, stored with the set: coll_fmt.h). A deleted record stays in the
 * write buffer until a checkpoint, and a walk over a run of them steps over each: a queue
 * that takes its lowest member (ZPOPMIN, or ZRANGEBYSCORE and ZREM) would walk over all it
 * took before, and so would every fence search of the rank index. So a set keeps a lower
 * bound lo (no index entry's tail [s][m] is below it) and an upper bound hi (none is at or
 * past its successor: the first string past every string that starts with hi), and walks
 * and fence searches from an end seek there. Tight bounds are the first and the last
 * entry's tails, cut to COLL_BOUND_MAX bytes; zfmt_put keeps them tight, and a removal of
 * (or a move from) an end marks them dirty, which zfmt_settle makes tight again with one
 * seek, before the set is stored. A set without tight bounds gets them on its first
 * removal or move. A rank index's levels take the same bounds: fences are members.
 *
 * Errors: the store's (OX_ENOMEM...), OX_ECORRUPT when the records disagree.
 * Threads: writes in the caller's write transaction; reads in it or on a snapshot.
 */
#ifndef ZSET_FMT_H
#define ZSET_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "coll_fmt.h"
#include "oxistore.h"

#define ZFMT_SUB_LEVEL 'R'     /* 'R' .. 'R' + ZFMT_MAX_LEVELS - 1 */
#define ZFMT_SUB_FRONTIER 'Q'  /* level 1's builder's frontier */
#define ZFMT_BUILDING 0x80     /* in the levels byte: level 1 is being built */
#define ZFMT_MAX_LEVELS 6
#define ZFMT_NAME_MAX 256      /* the longest member that may be a fence */
#define ZFMT_FANOUT 32         /* the default fanout (the server's zset-rank-fanout) */
#define ZFMT_LISTPACK_ENTRIES COLL_ZSET_LISTPACK_ENTRIES /* zset-max-listpack-entries */
#define ZFMT_LISTPACK_VALUE 64    /* ... and zset-max-listpack-value */

/* 1 if Redis 7.0 converts a sorted set of count members held as a listpack to a skiplist,
 * for good, when it adds a member of len bytes: the record's COLL_ZSET_CONVERTED
 * (coll_fmt.h). */
int zfmt_converts(uint64_t count, size_t len);

/* One sorted set, as the functions below need it. */
typedef struct zfmt_set {
    ox_table *members;   /* its member table */
    uint64_t id;
    uint64_t count;      /* its members before the change (zfmt_put of a new member) */
    unsigned levels;     /* its rank index's levels, or ZFMT_BUILDING: zfmt_put and
                            zfmt_build_step change it (store it with the set) */
    unsigned fanout;     /* >= 2 */
    coll_bounds *zb;     /* its bounds (store them with the set): zfmt_put, zfmt_del and
                            zfmt_settle change them; NULL: none, not kept */
} zfmt_set;

/* Bounds: tail t ([s][m], tlen bytes) is below lo / at or past hi's successor (none: 0). */
int zfmt_below(const coll_bounds *zb, const void *t, size_t tlen);
int zfmt_past(const coll_bounds *zb, const void *t, size_t tlen);
/* The key a walk of sub-space sub of set id starts at: [id][sub][lo] (no bound: [id][sub]);
 * and the one it ends before: [id][sub] then hi's successor (no bound: [id][sub + 1]).
 * buf has room for ZFMT_BOUND_KEY bytes; returns the length. */
#define ZFMT_BOUND_KEY (COLL_KEY_PREFIX + COLL_BOUND_MAX)
size_t zfmt_bound_from(unsigned char *buf, uint64_t id, int sub, const coll_bounds *zb);
size_t zfmt_bound_end(unsigned char *buf, uint64_t id, int sub, const coll_bounds *zb);
/* Writer: member m of score `score`, the lowest (max 0) or the highest of the set, is
 * about to be removed (a pop): the bound at that end moves to it, so that the removals
 * after it (the pop's next member) seek past it. */
void zfmt_popping(coll_bounds *zb, double score, const void *m, size_t len, int max);
/* Writer, before the set is stored: makes z's bounds tight again if a change marked them
 * (one seek from each end marked; none for an empty set). OX_OK or an error. */
int zfmt_settle(ox_txn *txn, zfmt_set *z);

/* 1 if a set whose levels byte is `levels` has its rank index whole (ranks go through it);
 * 0 if it has none, or one being built (ranks are walks). */
int zfmt_indexed(unsigned levels);

/* A field value's score (-0 if marked) and level: 1, or 0 if v is not one. level may be
 * NULL. */
int zfmt_field(const void *v, size_t len, double *score, unsigned *level);
/* An index entry's key k ([id][COLL_SUB_SCORE][score][member]) and value v (NULL: not
 * read, the score's sign unknown): its score, and its member (pointing into k). 1, or 0
 * if k is too short to be one. */
int zfmt_entry(const ox_val *k, const ox_val *v, double *score, ox_val *member);
/* An index entry's value's level, and whether it marks a score of -0. */
unsigned zfmt_index_level(const void *v, size_t len);
int zfmt_index_negzero(const void *v, size_t len);

/* Writer: gives member m (len bytes) the score `score` (-0 keeps its sign: pass 0 where
 * it should not): a new member (had 0: z->count does not count it yet; the caller counts
 * it after), or one whose score was old and level `level` (its field value). OX_OK or an
 * error. */
int zfmt_put(ox_txn *txn, zfmt_set *z, const void *m, size_t len, int had, double old,
             unsigned level, double score);
/* Writer: removes member m, of score `score` and level `level` (a set with a whole index
 * reads the level stored: a fence may have slid onto m since the caller read it). OX_OK or
 * an error. */
int zfmt_del(ox_txn *txn, const zfmt_set *z, const void *m, size_t len, double score,
             unsigned level);

/* Writer: one step of building z's index (it has none, or ZFMT_BUILDING): at most about
 * budget index entries counted. *done 1 when the index is whole. OX_OK or an error. */
int zfmt_build_step(ox_txn *txn, zfmt_set *z, size_t budget, int *done);

/* The rank of member m of score `score` (the members before it) into *rank, read in txn,
 * or in snap when txn is NULL: O(levels * fanout) steps with a whole index; while level 1
 * is built, O(rank / fanout + fanout) for a member before the builder's frontier; a walk of
 * the rank otherwise. OX_OK or an error. */
int zfmt_rank(ox_txn *txn, ox_snapshot *snap, const zfmt_set *z, const void *m, size_t len,
              double score, uint64_t *rank);
/* While z's level 1 is being built: *before 1 if member m of score `score` lies before the
 * builder's frontier (zfmt_rank then counts by the part built), else 0 (and 0 for a set
 * not being built). Read as zfmt_rank. OX_OK or an error. */
int zfmt_rank_partial(ox_txn *txn, ox_snapshot *snap, const zfmt_set *z, const void *m,
                      size_t len, double score, int *before);
/* The index key of the member of rank r (< its count) into *key (malloc'd, *klen bytes),
 * read as zfmt_rank. OX_OK, OX_NOTFOUND (r is past the end) or an error. */
int zfmt_at_rank(ox_txn *txn, ox_snapshot *snap, const zfmt_set *z, uint64_t r,
                 unsigned char **key, size_t *klen);

/* oxistore-check: whether z's records agree, read on snap: every member's score record
 * has its index entry at the same level and every index entry a member (both count
 * z->count); no index entry lies outside the bounds in z->zb, and tight bounds are the
 * first and the last entry's; with a whole index, every level's head and fences are the
 * entries of that level or above, in order, each counting the entries up to the next.
 * OX_OK; OX_ECORRUPT with what disagrees first in why (cap bytes); or the store's error.
 * O(count * levels) reads. */
int zfmt_verify(ox_snapshot *snap, const zfmt_set *z, char *why, size_t cap);

#endif
