/* expire.h — active expiry, on the writer thread. */
#ifndef EXPIRE_H
#define EXPIRE_H

#include <stdint.h>

/* Runs one slice of active expiry if one is due (see expire.c), then returns how many ms
 * the writer may sleep before the next is due (0: run it as soon as the queue is served).
 * idle: the writer found no job queued before this call (the background work, rank index
 * builds and the sweeper, may then go past the cycle's share of time). Cheap when nothing
 * is due or nothing has expired. Writer thread only. */
uint64_t expire_run(int idle);

#endif
