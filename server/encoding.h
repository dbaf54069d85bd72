/* encoding.h — what Redis 7.0's compact encodings show of a collection, emulated over the
 * ordered store (which has no encodings): whether Redis would hold it compact (an intset,
 * a listpack: OBJECT ENCODING's name, a SCAN that returns it whole), and the intset's
 * numeric order, in which Redis replies with a small set of integers (SMEMBERS, SINTER,
 * SUNION, SDIFF, SRANDMEMBER and SPOP of the whole set, SORT BY nosort, SSCAN).
 *
 * Redis's defaults, which oxistore does not make configurable: set-max-intset-entries 512,
 * hash- and zset-max-listpack-entries 128, -value 64. Redis keeps a collection converted
 * once it outgrew them; oxistore judges by what the collection holds now. Where Redis's
 * order is a hash table's, any order is Redis's, so the numeric one is too.
 *
 * Threads: the caller's command context (an I/O thread's snapshot or the writer). */
#ifndef ENCODING_H
#define ENCODING_H

#include <stddef.h>

#include "cmd.h"
#include "db.h"

#define ENC_SET_MAX_INTSET 512 /* Redis 7.0's set-max-intset-entries */
#define ENC_LISTPACK_MAX 128   /* hash- and zset-max-listpack-entries */
#define ENC_LISTPACK_VALUE 64  /* hash- and zset-max-listpack-value */

/* 1 if Redis 7.0 would hold c (a set, hash or sorted set) compact: a set of at most 512
 * members that are all integers (an intset); a hash or sorted set of at most 128 members
 * whose names, and a hash's values, have at most 64 bytes (a listpack). 0 if not, or if
 * the members could not be read. Reads at most the limit's number of members. */
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

#endif
