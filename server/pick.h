/* pick.h — random members of a collection: what HRANDFIELD, SRANDMEMBER, ZRANDMEMBER and
 * SPOP draw.
 *
 * LMDB keeps no counts, so the i-th member of a collection costs a walk of i members.
 * pick.c walks a collection of up to PICK_FENCE_MAX members once, 32768 members a call, and
 * keeps the position of every step-th member (a fence, 4096 at most): a pick is then one
 * seek and fewer than step steps, uniform over the members. Ranks are drawn among the
 * members there are now, so members added since the walk are reached; a fence whose
 * member is gone draws again; the walk is redone after the count moved by an eighth or
 * after max(256, count / 8) picks. Until a walk is over, for larger collections, and when
 * a thread's walks would cost more than 32 members per pick (more collections picked from
 * in turn than its cache holds), picks go by name: fair within a few times where the
 * names are spread alike (UUIDs, numbers), not where they gather in clusters far apart in
 * the byte order (3600 "aid:N" below 30000 "id:N": one member took nearly every pick).
 * Every pick is a member that is there.
 *
 * Threads: any thread that runs commands (an I/O thread's snapshot or the writer's
 * transaction, as db.h). Each keeps its own cache of fences and bounds for 8 collections:
 * 150 KiB of thread-local memory, and up to 128 KiB of fence positions per collection,
 * freed when the thread ends.
 */
#ifndef PICK_H
#define PICK_H

#include "db.h"

/* Collections of up to this many members get fences. */
#define PICK_FENCE_MAX (1 << 20)

/* Random members of c into out (pairs: name, value). count < 0: -count picks with repeats,
 * in random order (-count of a 16th of the members or more: one walk of the collection per
 * 65536 picks, else one seek each). count >= 0: count distinct members, all of them if
 * count >= c->count: by distinct picks when count is under a 16th of the members, else by
 * reservoir sampling in one walk. Memory: the picks. OX_OK or an error. */
int pick_random(cmd_ctx *x, const db_coll *c, long long count, srv_pairs *out);

/* The whole of HRANDFIELD, SRANDMEMBER and ZRANDMEMBER on argv[1] of that type: the count
 * argv[2] and the option `values` ("withvalues", "withscores"; NULL: none) checked in
 * Redis's order, then pick_random's picks, as Redis replies them (RESP3 with values:
 * [member, value] pairs; a sorted set's value is its score; a hash Redis holds as a
 * listpack gives distinct picks in the order its fields came, encoding.h). A negative count below
 * -PICK_MAX_PICKS is refused ("value is out of range") once the key is found (a missing
 * key answers an empty array, as in Redis): Redis 7.0 builds such a reply and runs out of
 * memory. */
#define PICK_MAX_PICKS (1LL << 26)
void pick_reply_random(cmd_ctx *x, int type, const char *values);

#endif
