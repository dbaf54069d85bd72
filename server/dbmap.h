/* dbmap.h — the persistent database -> table mapping, SWAPDB (see srv.h, "Databases"). */
#ifndef DBMAP_H
#define DBMAP_H

#include "oxistore.h"
#include "srv.h"

/* Main thread, at startup: opens the tables of the stored mapping into srv.db. OX_OK or
 * the store's error (logged). dbmap_free releases what it allocated. */
int dbmap_load(void);
void dbmap_free(void);
/* Writer, inside the batch's transaction: swaps databases a and b in srv.db and stores
 * the swap in txn. OX_OK or the store's error (then nothing changed). */
int dbmap_swap(ox_txn *txn, int a, int b);
/* Writer, around the batch's commit: publishes (or, if it failed, undoes) its swaps. */
void dbmap_precommit(void);
void dbmap_postcommit(int committed_ok);
/* Writer, when the store's content changed under the mapping (a replica's full sync, or
 * its master's SWAPDB applied): _begin before the commit or the switch (readers then read
 * the mapping from their snapshots), dbmap_reload after it, which reads the stored mapping
 * into srv.db and starts a new epoch (mappings read before no longer count, whatever
 * their version). */
void dbmap_reload_begin(void);
void dbmap_reload(void);
/* I/O thread: makes sure io has a snapshot (io->snap) and the mapping that matches it
 * (io->db). OX_OK or the store's error. The snapshot ends with the burst, as before. */
int dbmap_view(srv_io *io);

#endif
