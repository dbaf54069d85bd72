/* dbmap_fmt.h — the stored format of the database map (see dbmap.c), read by the server
 * and by oxistore-check (tools/). Depends on liboxistore alone, so both link dbmap_fmt.c.
 *
 * In the table DBMAP_TABLE: key "<i>" (database i in decimal) -> the decimal name of the
 * table holding it, present only while that is not "<i>" itself; key "v" -> the map's
 * version, 8 bytes big-endian (absent: 0). Every table that holds a database is named by
 * a number (the database it was created for). Only the server's dbmap.c writes the map.
 */
#ifndef DBMAP_FMT_H
#define DBMAP_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "oxistore.h"

#define DBMAP_TABLE "dbmap"

/* The number a table name written by the map stands for: canonical decimal (no sign, no
 * leading zero) below 1e9; -1 for anything else. */
int dbmap_name_number(const void *p, size_t len);

/* The number of the table holding database db (>= 0) in snap's map: db itself when the
 * map has no entry, -1 when the entry is malformed or cannot be read. map may be NULL (a
 * file without the map table: every database in its own table). */
int dbmap_table_number(ox_snapshot *snap, ox_table *map, int db);

/* The map's version in snap (0 before the first swap, or without a map table). */
uint64_t dbmap_stored_version(ox_snapshot *snap, ox_table *map);

#endif
