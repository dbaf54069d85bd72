/* cursor.h — SCAN cursors: small integers naming a place to resume an iteration.
 *
 * Why a registry: SCAN walks a database in key order (so that a MATCH with a literal prefix
 * seeks straight to it), and the place to resume is a key. A cursor must be an integer below
 * 2^53 (node clients parse it as a double), too small to hold a key, and resuming from a
 * key the cursor merely hashes would break as soon as that key is deleted. So a cursor is
 * an id the server hands out for "resume after key K of db d", kept in a registry that every
 * I/O thread shares: it survives reconnects, is independent of the connection, and any
 * number of scanners can interleave. K is kept as its store position (ox_key_pos: at most
 * 511 bytes, however long the key). Resuming seeks to the first key strictly after K
 * (whether K still exists or not), so an iteration moves forward only: it terminates, and
 * returns every key that existed for its whole duration.
 *
 * The registry is bounded (CURSOR_MAX_BYTES): the least recently used entries go first. A
 * cursor that is not (or no longer) in it gets an explicit error, never a silent restart
 * from 0. Ids carry a random per-process part, so a cursor from an earlier server process
 * is unknown rather than mistaken for another scan's. Thread-safe.
 */
#ifndef CURSOR_H
#define CURSOR_H

#include <stddef.h>
#include <stdint.h>

#define CURSOR_MAX_BYTES (16u << 20) /* registry memory, entries and keys */
#define CURSOR_POS_MAX 512u           /* longest position a cursor records (OX_POS_MAX) */

/* The error for a cursor the registry does not know. */
#define CURSOR_UNKNOWN_MSG \
    "-ERR unknown cursor: it expired or comes from another server process; restart the " \
    "iteration from 0"

/* Redis parses a cursor with strtoul: an optional sign, decimal digits, nothing after, no
 * leading space, no overflow. 1 with *out if p[0..len) is one, else 0. */
int cursor_parse(const char *p, size_t len, uint64_t *out);

/* Records "resume after position pos[0..len) in db" and returns its cursor (never 0,
 * below 2^53). len <= CURSOR_POS_MAX. The server may abort when out of memory. */
uint64_t cursor_save(int db, const void *pos, size_t len);

/* Looks a cursor up: 0 with *db and the position copied into pos (room for
 * CURSOR_POS_MAX), its length in *len; -1 if the registry does not know it. */
int cursor_load(uint64_t id, int *db, void *pos, size_t *len);

/* Frees the registry (at exit). */
void cursor_free_all(void);

#endif
