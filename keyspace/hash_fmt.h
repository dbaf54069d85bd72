/* hash_fmt.h — a hash's fields, and their order as Redis 7.0 keeps it, in the stored
 * format (coll_fmt.h has the hash's record and the member table): written by the server
 * (cmd_hash.c) and by oxistore-check's restore, read by both. Depends on liboxistore and
 * coll_fmt.h.
 *
 * Redis holds a new hash as a listpack, whose fields stay in the order they were added:
 * HGETALL, HKEYS, HVALS, HSCAN and HRANDFIELD reply in it. Setting a field the hash has
 * keeps the field's place; HDEL takes it out. Redis converts the hash to a hash table, for
 * good, when a field or a value it is given is longer than HFMT_LISTPACK_VALUE bytes, or
 * once it holds more than HFMT_LISTPACK_ENTRIES fields; a hash table replies in an order
 * of its own, so any order is Redis's then.
 *
 * The hash's record keeps which of the two it is (coll_meta.order): COLL_LIST_META_LEN
 * bytes, whose last 8 are the number its next new field takes (from 1), while it is a
 * listpack; COLL_META_LEN bytes (order 0) once converted. Hashes stored before this
 * format have COLL_META_LEN bytes too: they are taken as converted. A field is
 *   [id][COLL_SUB_FIELD][name] -> [value]                  (a hash table's)
 *   [id][COLL_SUB_FIELD][name] -> [value][n: k bytes][k]   (a listpack's)
 * n being the field's number (big-endian, in the fewest bytes k, 1 .. 8), given when it
 * was added; so a listpack's order is its fields' by number, read in one walk of at most
 * HFMT_LISTPACK_ENTRIES short records and sorted. A conversion rewrites the values
 * without their numbers. (Builds before this format would show a listpack's numbers as
 * part of its values: the file's format version 4 makes them refuse it, and going back
 * to one takes a dump and a restore.)
 *
 * Errors: the store's (OX_ENOMEM...), OX_ECORRUPT when the records disagree.
 * Threads: writes in the caller's write transaction; reads in it or on a snapshot.
 */
#ifndef HASH_FMT_H
#define HASH_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "coll_fmt.h"
#include "oxistore.h"

#define HFMT_LISTPACK_ENTRIES 512 /* Redis 7.0's hash-max-listpack-entries */
#define HFMT_LISTPACK_VALUE 64    /* ... and hash-max-listpack-value */
#define HFMT_SUFFIX_MAX 9         /* a listpack field's number after its value */

/* One hash, as the functions below need it. */
typedef struct hfmt_hash {
    ox_table *members;   /* its member table */
    uint64_t id;
    uint64_t count;      /* its fields */
    uint64_t order;      /* coll_meta.order: the next field's number, 0: a hash table */
} hfmt_hash;

/* A field's record as stored (rec, len) into its value and, in a listpack (order != 0),
 * its number *n (else 0): 1, or 0 if a listpack's record has no number. */
int hfmt_split(const void *rec, size_t len, uint64_t order, ox_val *value, uint64_t *n);

/* Writer: sets field f (flen bytes) of h to v (vlen bytes), *added 1 if it is new (h->count
 * counts it); in a listpack, with its number (a new one's is h->order, then bumped), or
 * converting h first (a long field or value) or after (more than HFMT_LISTPACK_ENTRIES
 * fields), as Redis does. Called once per field set in the command's order, this ends as
 * Redis does, though Redis looks at all of HSET's arguments before it writes. OX_OK or the
 * store's error. */
int hfmt_set(ox_txn *txn, hfmt_hash *h, const void *f, size_t flen, const void *v,
             size_t vlen, int *added);

/* Writer: h becomes a hash table: its fields lose their numbers and h->order is 0. */
int hfmt_convert(ox_txn *txn, hfmt_hash *h);

/* A listpack's fields in their order, gathered from a walk of its field records (any
 * order), then sorted: hfmt_fields_init with the hash's count, then hfmt_fields_read of
 * the walk. Holds copies of at most the count given (and
 * HFMT_LISTPACK_ENTRIES + 1) short fields, so memory is bounded by the listpack's limits
 * (66 KiB); owns them until hfmt_fields_free. */
typedef struct hfmt_field {
    uint64_t n;
    ox_val name, value;
} hfmt_field;

typedef struct hfmt_fields {
    hfmt_field *f;
    size_t n, cap;
    unsigned char *buf;
} hfmt_fields;

void hfmt_fields_init(hfmt_fields *fs, uint64_t count);
/* Every field record it returns (its member key, and its record as stored) of a listpack
 * whose next number is order, then sorted by number (it is left open): OX_OK, OX_ECORRUPT
 * (a record without its number, too long for a listpack, or more of them than the
 * count), OX_ENOMEM, or the store's error. */
int hfmt_fields_read(hfmt_fields *fs, uint64_t order, ox_iter *it);
void hfmt_fields_free(hfmt_fields *fs);

/* oxistore-check: whether a listpack's fields (h's count of them) agree with its record:
 * at most HFMT_LISTPACK_ENTRIES, each with a number below h->order, no number twice.
 * Nothing to look at in a hash table. OX_OK, OX_ECORRUPT with why, or the store's error. */
int hfmt_verify(ox_snapshot *snap, const hfmt_hash *h, char *why, size_t cap);

#endif
