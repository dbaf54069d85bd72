/* coll_fmt.h — the stored format of keys' types and of collections (see db.h for the
 * design), read and written by the server's db.c and by oxistore-check (tools/). Depends
 * on liboxistore and num.h, so both link coll_fmt.c.
 *
 * A key's record carries its Redis type as the record's kind (OX_PUT_KIND). A string's
 * record holds its bytes; a collection's, COLL_META_LEN bytes: its id and its member
 * count, 8 bytes big-endian each; a list's COLL_LIST_META_LEN: then the position of its
 * first element (a signed 64-bit number, two's complement big-endian); a hash's
 * COLL_LIST_META_LEN while it keeps its fields' order: then its next field's number
 * (hash_fmt.h), else COLL_META_LEN. A sorted set's
 * record may go on, so that a walk from either end seeks past what removals deleted
 * instead of stepping over it (zset_fmt.h's bounds):
 *   - COLL_META_LEN + 3 + the two bounds' lengths (at least 35 bytes): the levels of
 *     its rank index (1 byte; 0: none; bit COLL_ZSET_CONVERTED apart, below), then its
 *     lower bound and its upper bound, each
 *     a length byte (8 .. COLL_BOUND_MAX) and that many bytes: the first and the last
 *     index entry's [score][member], the member cut to COLL_BOUND_MEMBER bytes (tight);
 *   - or, as records before bounds were tight, COLL_LIST_META_LEN: a lower bound of its
 *     scores in their 8-byte encoding (coll_score_put; 0: none), COLL_ZSET_META_LEN: then
 *     an upper bound (0: none), or COLL_ZSET_RANK_META_LEN: then the levels byte. These
 *     bounds are loose (any score at or past them may be there); the next removal makes
 *     them tight. Lengths 24, 32 and 33 are never a tight record's.
 *   Bit COLL_ZSET_CONVERTED of the levels byte (either form; a record without one gets the
 *   33-byte form to carry it) says that Redis would hold the set as a skiplist for good:
 *   it once had more than 128 members or one of more than 64 bytes (encoding.h). Sets
 *   stored before it (none set) are judged by what they hold (coll_converted). A build
 *   before it would read the bit as levels: the file's format version 4 makes it refuse
 *   the file, and going back takes dump and restore.
 * A set's record is COLL_META_LEN bytes, or COLL_LIST_META_LEN once Redis would hold it as
 * a hash table for good (it had a member that is not an integer, or more than 512: then 1,
 * 8 bytes big-endian; coll_meta_decode leaves it in order, coll_converted reads it). A
 * build before it reads such a record as the same set, without the flag.
 * Database table "<n>" has the member table "m<n>":
 *   [id: 8 bytes big-endian][COLL_SUB_HEAD]      -> the user key (the back link)
 *   [id][COLL_SUB_FIELD][name]                   -> a hash field's value (hash_fmt.h),
 *                                                   a set's "", a sorted set's score
 *                                                   (zset_fmt.h)
 *   [id][COLL_SUB_SCORE][score: 8 bytes][member] -> a sorted set's order (zset_fmt.h)
 *   [id][ZFMT_SUB_LEVEL + i]...                  -> a sorted set's rank index (zset_fmt.h)
 *   [id][COLL_SUB_LIST][position: 8 bytes]       -> a list's element
 * A list's elements sit at the consecutive positions head .. head + count - 1 (a
 * position's 8 bytes are its value with the sign bit flipped, so that they sort as the
 * numbers do): LPUSH writes at head - 1, RPUSH at head + count, LINDEX is one lookup.
 * A score's 8 bytes (coll_score_put) sort as the numbers do: -inf first, +inf last, -0
 * stored as 0. Members longer than about 460 bytes sharing their first ~460 sort by hash
 * among themselves in the order (the library's long keys); equal scores sort by member.
 * Ids come from the counter COLL_ID_KEY of the map table (dbmap_fmt.h): the next id,
 * 8 bytes big-endian (absent: 1). An id is never reused, so a member belongs to a
 * collection only while the key's record carries that id.
 */
#ifndef COLL_FMT_H
#define COLL_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "oxistore.h"

/* Redis's type numbers (OBJ_STRING...). */
enum db_type { DB_STRING = 0, DB_LIST = 1, DB_SET = 2, DB_ZSET = 3, DB_HASH = 4 };

#define COLL_META_LEN 16
#define COLL_LIST_META_LEN 24
#define COLL_ZSET_META_LEN 32
#define COLL_ZSET_RANK_META_LEN 33
#define COLL_ZSET_CONVERTED 0x40 /* in a sorted set's levels byte */
#define COLL_BOUND_MEMBER 64  /* a sorted set's bound keeps this much of a member */
#define COLL_BOUND_MAX (8 + COLL_BOUND_MEMBER)
#define COLL_TIGHT_META_MIN (COLL_META_LEN + 3 + 16)
#define COLL_META_MAX (COLL_META_LEN + 3 + 2 * COLL_BOUND_MAX)
#define COLL_SUB_HEAD 0x00
#define COLL_SUB_FIELD 'f'
#define COLL_SUB_SCORE 's'
#define COLL_SUB_LIST 'l'
#define COLL_ID_KEY "id"
#define COLL_KEY_PREFIX 9     /* bytes before a member's name */

/* The name TYPE replies for a type ("string", "hash"...; "none" for anything else). */
const char *coll_type_name(int type);

/* The member table's name for the database table named dbname, into buf: 0, or -1 if it
 * does not fit. */
int coll_members_name(const char *dbname, char *buf, size_t cap);

/* A sorted set's bound: a [score][member] prefix of an index entry (len 0: none). */
typedef struct coll_bound {
    unsigned char len;
    unsigned char b[COLL_BOUND_MAX];
} coll_bound;

/* A sorted set's bounds (zset_fmt.h). */
typedef struct coll_bounds {
    coll_bound lo, hi;
    int tight;         /* 1: lo and hi are tight, 0: loose or none */
    unsigned dirty;    /* not stored: zset_fmt.h's writes mark it, zfmt_settle clears it */
} coll_bounds;

/* A collection's record. */
typedef struct coll_meta {
    uint64_t id, count;
    int64_t head;      /* a list's first position */
    unsigned levels;   /* a sorted set's rank index levels (zset_fmt.h; 0: none) */
    coll_bounds zb;    /* a sorted set's bounds */
    uint64_t order;    /* a hash's next field number (hash_fmt.h; 0: none kept) */
    int converted;     /* encode: a set or sorted set that Redis would hold converted
                          for good (a hash table, a skiplist); decode: a sorted set's */
} coll_meta;

/* Whether Redis would hold the collection of type `type` whose decoded record is m
 * converted for good: its record says so (above), or it holds more than a compact form
 * can (a record of an earlier build, which gets the mark when it is written back). */
#define COLL_ZSET_LISTPACK_ENTRIES 128
int coll_converted(int type, const coll_meta *m);
/* 1 if Redis 7.0 converts a set of count members held as an intset to a hash table, for
 * good, when it adds member m (len bytes): at its 513th member, or one that is not an
 * integer in canonical form (set-max-intset-entries 512). */
#define COLL_SET_INTSET_ENTRIES 512
int coll_set_converts(uint64_t count, const void *m, size_t len);

/* A collection's record, both ways (encode: its length). decode: OX_OK or OX_ECORRUPT (a
 * wrong length); what the record does not hold is 0. A 24-byte record fills head, zb.lo and
 * order: each type reads its own. */
size_t coll_meta_encode(unsigned char meta[COLL_META_MAX], int type, const coll_meta *m);
int coll_meta_decode(const void *p, size_t len, coll_meta *m);
/* Big-endian 8 bytes, as the records hold numbers. */
void coll_be64_put(unsigned char p[8], uint64_t v);
uint64_t coll_be64_get(const void *p);
/* A list position's 8 bytes. */
void coll_pos_put(unsigned char p[8], int64_t pos);

/* A member's key [id][sub][name] into buf (room for COLL_KEY_PREFIX + len): its length. */
size_t coll_member_key(unsigned char *buf, uint64_t id, int sub, const void *name, size_t len);
/* A member's key in a buffer of its own: on the stack for the usual short names, else
 * allocated until coll_mkey_done. */
typedef struct coll_mkey {
    unsigned char small[256];
    unsigned char *p;
    size_t len;
} coll_mkey;

/* coll_member_key into k: OX_OK or OX_ENOMEM. */
int coll_mkey_make(coll_mkey *k, uint64_t id, int sub, const void *name, size_t len);
void coll_mkey_done(coll_mkey *k);

/* The id a member's key starts with (0 if it is too short to be one). */
uint64_t coll_key_id(const void *key, size_t len);

/* A score as 8 bytes whose byte order is the numbers' order, and back. */
void coll_score_put(unsigned char p[8], double score);
double coll_score_get(const unsigned char p[8]);

/* In a write transaction: takes the next id from map's counter (bumping it). OX_OK or
 * the store's error. */
int coll_new_id(ox_txn *txn, ox_table *map, uint64_t *id);

/* In a write transaction: stores the collection (type, m) under key in db, with the expiry
 * time `at` (0: none) and put flags (OX_PUT_KEEPTTL...); a new one (is_new) gets its back
 * link in members too. OX_OK or the store's error. */
int coll_store(ox_txn *txn, ox_table *db, ox_table *members, const void *key, size_t klen,
               int type, const coll_meta *m, int is_new, uint64_t at, unsigned flags);

#endif
