/* encoding.h — what Redis 7.0's compact encodings show of a collection, emulated over the
 * ordered store (which has no encodings): whether Redis would hold it compact (an intset,
 * a listpack: OBJECT ENCODING's name, a SCAN that returns it whole); the intset's numeric
 * order, in which Redis replies with a small set of integers (SMEMBERS, SINTER, SUNION,
 * SDIFF, SRANDMEMBER and SPOP of the whole set, SORT BY nosort, SSCAN); and a listpack
 * hash's fields in the order they came (HGETALL, HKEYS, HVALS, HSCAN, HRANDFIELD).
 *
 * Redis's defaults, which oxistore does not make configurable: set-max-intset-entries 512,
 * hash-max-listpack-entries 512 (hash_fmt.h), zset-max-listpack-entries 128 (zset_fmt.h),
 * and hash- and zset-max-listpack-value 64. Redis keeps a collection converted once it
 * outgrew them. A hash keeps that state (hash_fmt.h), and so does a sorted set (its
 * record's converted bit, coll_fmt.h: set when a member makes Redis convert it; a sorted
 * set of an earlier build counts as converted while it has more than 128 members, and keeps
 * the mark once written, else is judged by what it holds), and so does a set (its record's flag: set when a member
 * that is not an integer, or a 513th, makes Redis convert its intset). Not emulated: SORT
 * and SORT_RO, which convert a sorted set in Redis (they only read it here). Where
 * Redis's order is a hash table's, any order is Redis's, so the numeric one, or the
 * store's, is too.
 *
 * Threads: the caller's command context (an I/O thread's snapshot or the writer). */
#ifndef ENCODING_H
#define ENCODING_H

#include <stddef.h>

#include "cmd.h"
#include "db.h"
#include "hash_fmt.h"
#include "zset_fmt.h"

#define ENC_SET_MAX_INTSET COLL_SET_INTSET_ENTRIES /* Redis 7.0's set-max-intset-entries */
#define ENC_ZSET_LISTPACK_MAX ZFMT_LISTPACK_ENTRIES /* zset-max-listpack-entries */
#define ENC_LISTPACK_VALUE HFMT_LISTPACK_VALUE /* hash- and zset-max-listpack-value */

/* 1 if Redis 7.0 would hold c (a set, hash or sorted set) compact: a set not converted,
 * of at most 512 members that are all integers (an intset); a hash that has not been converted (its
 * order kept: hash_fmt.h); a sorted set not converted, of at most 128 members whose
 * names have at most 64 bytes (a listpack). 0 if not, or if the members could not be read. Reads at most the
 * limit's number of members. */
int enc_compact(cmd_ctx *x, const db_coll *c);

/* 1 if m is an integer as an intset holds it: num_str2ll's canonical form. */
int enc_is_int(const void *m, size_t len, long long *v);

/* A set's reply in Redis's order: members pass through enc_ints_put as they come, in the
 * store's order; while all of them are integers and there are at most 512, they are held,
 * then written in numeric order by enc_ints_end; else written as they come. The reply's
 * length is the caller's (written before, or deferred). Owns its held integers until
 * enc_ints_end, which must be called once. */
typedef struct enc_ints {
    long long *v;     /* held, while !passing */
    size_t n;
    int passing;      /* not an intset: members go out as they come */
} enc_ints;

/* expect: the number of members to come if known (more than 512: none is held), or 0. */
void enc_ints_init(enc_ints *o, size_t expect);
/* Member m (len bytes, copied if held) into out now, or held for enc_ints_end. */
void enc_ints_put(enc_ints *o, resp_buf *out, const void *m, size_t len);
/* Writes what is held, in numeric order, and frees it. */
void enc_ints_end(enc_ints *o, resp_buf *out);

/* The value of field name of hash c as the user sees it (a listpack's without its number:
 * hash_fmt.h): OX_OK with *val, OX_NOTFOUND, OX_ECORRUPT, or the store's error. */
int enc_field_get(cmd_ctx *x, const db_coll *c, const void *name, size_t len, ox_val *val);

/* A hash's fields in Redis's order: a listpack's gathered in one walk and sorted by their
 * numbers (hash_fmt.h: at most 512 short fields), a hash table's streamed in the store's
 * order. */
typedef struct enc_fields {
    cmd_ctx *x;
    const db_coll *c;  /* borrowed until enc_fields_close */
    ox_iter *it;       /* a hash table's walk */
    hfmt_fields held;  /* a listpack's fields, in order */
    size_t next;
} enc_fields;

/* Opens the walk of c's fields (c not existing: none): OX_OK, or OX_ECORRUPT (a
 * listpack's fields that are not one's) or the store's error, with nothing held then
 * (enc_fields_close is still allowed). */
int enc_fields_open(cmd_ctx *x, const db_coll *c, enc_fields *f);
/* The next field's name and value, valid until the next call: OX_OK, OX_NOTFOUND after
 * the last, or the store's error. */
int enc_fields_next(enc_fields *f, ox_val *name, ox_val *val);
void enc_fields_close(enc_fields *f);

#endif
