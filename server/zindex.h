/* zindex.h — sorted sets' rank indexes, built when first wanted (keyspace/zset_fmt.h).
 *
 * A sorted set has no rank index until a rank is asked of it (ZRANK, ZREVRANK, a range or
 * a removal by rank far from an end): then its index is built in the writer's background
 * slices, at most 8 * zset-rank-fanout^2 index entries per slice and transaction, beside
 * active expiry and the sweeper (expire.c), on a master only. A replica has its master's
 * records, so it builds nothing: its link passes the sets it was asked ranks of to the
 * master (REPLCONF ZINDEX <table> <id>, beside its ACKs), which builds them. Until an
 * index is whole the set's ranks are walks (a member's past the builder's frontier from
 * the top), but for a ZRANK or ZREVRANK of a member before the frontier (zfmt_rank); once
 * it is, every change keeps it.
 *
 * Threads: zindex_want from any thread (a mutex over a bounded queue); zindex_slice in the
 * writer.
 */
#ifndef ZINDEX_H
#define ZINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

/* Asks for c's index, if it is a sorted set large enough to want one and has none whole
 * yet. Asking twice is asking once; a full queue drops the request (the next rank asks
 * again). */
void zindex_want(const db_coll *c, ox_table *dbtable);

/* A replica's link: takes the oldest request into (the name of its database's table, its
 * id). 1 if there was one. */
int zindex_take(char *table, size_t cap, uint64_t *id);
/* A master's replica reader: a replica's request (REPLCONF ZINDEX), of set id in the
 * database table named table (the same names on both sides). */
void zindex_want_id(const char *table, size_t len, uint64_t id);

/* Writer: one slice of the oldest request, in its own transaction. 1 if it ran (more may
 * follow), 0 if there was nothing to do. */
int zindex_slice(void);

/* Sets built so far (INFO). */
unsigned long long zindex_built(void);

#endif
