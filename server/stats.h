/* stats.h — INFO commandstats and errorstats, counted from every thread. */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>

int stats_init(void);      /* main thread, after cmd_init: 0 or -1 */
void stats_free(void);
/* The error hook of every output buffer (resp_buf_set_error_hook; ctx unused): counts
 * total_error_replies, the code's errorstat and this thread's errors. */
void stats_on_error(void *ctx, const char *line, size_t len);
/* Error replies written by the calling thread so far (compare before/after a call). */
unsigned long stats_thread_errors(void);
/* A command (cmd_slot) ran for `ticks` of srv_ticks; failed: it replied an error.
 * Counts total_commands_processed too (stats_commands_total). */
void stats_called(size_t slot, uint64_t ticks, int failed);
/* The calling thread (the writer, an I/O thread) counts its commands in a set of its own
 * from now on (stats.c); once, at its start. Without it, it counts in the shared set. */
void stats_thread_own(void);
/* Commands processed since the start or the last reset (total_commands_processed). */
unsigned long long stats_commands_total(void);
/* A command was refused before it ran (arity, NOAUTH): Redis's rejected_calls. */
void stats_rejected(size_t slot);
/* CONFIG RESETSTAT: commandstats, errorstats and total_error_replies. */
void stats_reset(void);
/* Reads a command's counters (its time in microseconds); 1 if any is non-zero (INFO lists
 * only those). */
int stats_command(size_t slot, unsigned long long *calls, unsigned long long *usec,
                  unsigned long long *rejected, unsigned long long *failed);
/* The i-th error code seen and its count, or NULL past the last. */
const char *stats_error(size_t i, unsigned long long *count);

#endif
