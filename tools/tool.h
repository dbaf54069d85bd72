/* tool.h — what the files of oxistore-check share (one process, one thread but for the
 * progress line's watcher). Every function prints its own error message to stderr
 * ("oxistore-check: ...", with ox_strerror's text) and returns nonzero after it.
 *
 * Exit codes of the commands: TOOL_OK, TOOL_FAIL (the operation failed; for check: the
 * file is damaged), TOOL_USAGE, TOOL_NOCHECK (check could not look at the file).
 */
#ifndef TOOL_H
#define TOOL_H

#include <stdint.h>

#include "oxistore.h"

enum { TOOL_OK = 0, TOOL_FAIL = 1, TOOL_USAGE = 2, TOOL_NOCHECK = 3 };

#define TOOL_NAME "oxistore-check"

/* What to do about OX_ERECOVER (a crash left the write-ahead log to replay). */
#define TOOL_RECOVER_HINT "start the server on it once, or run oxistore-check repair on it"

/* Prints "oxistore-check: <fmt...>\n" to stderr, erasing any progress line first (in
 * progress.c, which owns that line). */
void tool_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- dbs.c: opening a server's file, and its databases ---------------------------- */

/* Database numbers at or above this are refused (SELECT) or not taken for databases
 * (tables named by larger numbers): the server's `databases` is far smaller, and the
 * tables of a file are indexed by number here. */
#define TOOL_MAX_DB 65536

/* Opens the store file path as the server does (database 0's table "0" as the default
 * table), read-only or for writing (creating it). A read-only open of a file without a
 * table "0" falls back to the library's "default" table. Returns 0 or prints why. */
int tool_open(const char *path, int read_only, ox_store **out);

/* The databases of an open store: db[i] holds database i (NULL: no table for it), from
 * one snapshot of the stored map (dbmap_fmt.h); n = 1 + the largest table number. Read-
 * only stores: only the tables that exist. Writable stores: tool_db_open creates. */
typedef struct tool_dbs {
    ox_table **db;
    int n;
    ox_table *map;   /* the map table, NULL if the file has none */
} tool_dbs;

/* Reads the map and opens every database's table. 0, or prints why (a malformed map: two
 * databases in one table, or an entry that names no number). */
int tool_dbs_load(ox_store *s, tool_dbs *d);
void tool_dbs_free(tool_dbs *d);

/* The table of database db (0 <= db < TOOL_MAX_DB), opening (creating, if writable) the table the map
 * names for it. Must not be called while a write transaction is open. 0 or prints why. */
int tool_db_open(ox_store *s, tool_dbs *d, int db, ox_table **out);

/* The member table of a database's table (coll_fmt.h) into *out: NULL for a read-only
 * store without one (no collection was ever stored there). Must not be called while a
 * write transaction is open. 0 or prints why. */
int tool_members_open(ox_store *s, ox_table *db, ox_table **out);

/* ---- progress.c: a "\r"-updated line on stderr, only when stderr is a terminal ------- */

/* Starts a line "<what> done/total unit (pct%)" (total 0: no total, a count alone). */
void progress_begin(const char *what, uint64_t total, const char *unit);
/* Reports progress; redraws at most ten times a second. */
void progress_set(uint64_t done);
/* Erases the line. A no-op when no line is shown. */
void progress_end(void);
/* Starts a thread that shows progress_begin's line, reading done from the size of the
 * file at path (it may not exist yet: 0), or, for path NULL, the seconds elapsed. */
void progress_watch(const char *what, const char *path, uint64_t total, const char *unit);
/* Stops the thread and erases the line. */
void progress_unwatch(void);

/* ---- verify.c: check's second pass ---------------------------------------------------- */

/* Whether every collection of the store file at path agrees with its records (counts,
 * list positions, sorted-set index, bounds and rank index), on a read-only open. Prints
 * each damaged collection (the first 20) and a summary line to stdout. TOOL_OK, TOOL_FAIL
 * (one is damaged) or TOOL_NOCHECK (it could not look: printed to stderr). */
int tool_verify(const char *path);

/* ---- dump.c, restore.c --------------------------------------------------------------- */
int tool_dump(const char *path, const char *dest);
int tool_restore(const char *path, const char *src);

#endif
