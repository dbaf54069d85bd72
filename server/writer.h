/* writer.h — the writer thread: every write command of every client, in one transaction
 * and one commit per batch (group commit; see writer.c). */
#ifndef WRITER_H
#define WRITER_H

#include <stdint.h>

#include "srv.h"

int writer_start(void);
void writer_submit(srv_job *head, srv_job *tail);
void writer_stop(void);     /* commits what is queued, then joins */
/* Any thread: the number of the last batch whose commit returned (batches are numbered
 * from 1 in the order the writer runs them). */
uint64_t writer_committed(void);
/* Writer: the number of the batch it is running. */
uint64_t writer_batch(void);

#endif
