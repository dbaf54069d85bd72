/* stats.c — per-command statistics (INFO commandstats) and error statistics (INFO
 * errorstats), as Redis 7.0 keeps them, counted from every thread.
 *
 * Commands run on the I/O threads and in the writer, so each counter is a relaxed atomic:
 * one shared set per command rather than per-thread sets, because CONFIG RESETSTAT must be
 * able to zero them from any thread, and a fetch_add on a line that is mostly the calling
 * core's own costs little next to a command. Error replies are counted where they are
 * written: every output buffer of the server has stats_on_error as its error hook. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "stats.h"
#include "util.h"

#define STATS_ERROR_CODES 128 /* distinct error codes kept (the server has a dozen) */
#define STATS_CODE_MAX 32     /* Redis looks for the code's end within 32 bytes */

typedef struct cmd_stat {
    atomic_ullong calls, ticks, rejected, failed; /* ticks: srv_ticks */
} cmd_stat;

typedef struct err_stat {
    char code[STATS_CODE_MAX];
    atomic_ullong count;
} err_stat;

static cmd_stat *cmdstats;            /* [cmd_count + cmd_subcount] */
static err_stat errstats[STATS_ERROR_CODES];
static atomic_size_t nerrstats;       /* entries published in errstats */
static pthread_mutex_t errstats_mu = PTHREAD_MUTEX_INITIALIZER;
/* Error replies written by this thread: cmd_call compares it before and after a
 * handler to tell a failed call. */
static _Thread_local unsigned long thread_errors;

int stats_init(void)
{
    cmdstats = calloc(cmd_count + cmd_subcount, sizeof *cmdstats);
    return cmdstats ? 0 : -1;
}

void stats_free(void)
{
    free(cmdstats);
    cmdstats = NULL;
}

/* The entry of an error code, added if new; NULL when the table is full. */
static err_stat *error_entry(const char *code, size_t len)
{
    size_t n = atomic_load_explicit(&nerrstats, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (!strncmp(errstats[i].code, code, len) && errstats[i].code[len] == '\0')
            return &errstats[i];
    pthread_mutex_lock(&errstats_mu);
    err_stat *e = NULL;
    n = atomic_load_explicit(&nerrstats, memory_order_relaxed);
    for (size_t i = 0; i < n && !e; i++) /* another thread may have added it meanwhile */
        if (!strncmp(errstats[i].code, code, len) && errstats[i].code[len] == '\0')
            e = &errstats[i];
    if (!e && n < STATS_ERROR_CODES) {
        e = &errstats[n];
        memcpy(e->code, code, len);
        e->code[len] = '\0';
        atomic_store_explicit(&nerrstats, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&errstats_mu);
    return e;
}

void stats_on_error(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    thread_errors++;
    atomic_fetch_add_explicit(&srv.stats.errors, 1, memory_order_relaxed);
    /* As Redis's afterErrorReply: the code is what precedes the first space within the
     * first 32 bytes of the line, "ERR" when there is none. */
    const char *sp = memchr(line, ' ', len < STATS_CODE_MAX ? len : STATS_CODE_MAX);
    size_t cl = sp ? (size_t)(sp - line) : 0;
    err_stat *e = cl && cl < STATS_CODE_MAX ? error_entry(line, cl) : error_entry("ERR", 3);
    if (e)
        atomic_fetch_add_explicit(&e->count, 1, memory_order_relaxed);
}

unsigned long stats_thread_errors(void)
{
    return thread_errors;
}

void stats_called(size_t slot, uint64_t ticks, int failed)
{
    cmd_stat *s = &cmdstats[slot];
    atomic_fetch_add_explicit(&srv.stats.commands, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->ticks, ticks, memory_order_relaxed);
    if (failed)
        atomic_fetch_add_explicit(&s->failed, 1, memory_order_relaxed);
}

void stats_rejected(size_t slot)
{
    atomic_fetch_add_explicit(&cmdstats[slot].rejected, 1, memory_order_relaxed);
}

void stats_reset(void)
{
    for (size_t i = 0; i < cmd_count + cmd_subcount; i++) {
        atomic_store(&cmdstats[i].calls, 0);
        atomic_store(&cmdstats[i].ticks, 0);
        atomic_store(&cmdstats[i].rejected, 0);
        atomic_store(&cmdstats[i].failed, 0);
    }
    size_t n = atomic_load(&nerrstats);
    for (size_t i = 0; i < n; i++)
        atomic_store(&errstats[i].count, 0);
    atomic_store(&srv.stats.errors, 0);
}

int stats_command(size_t slot, unsigned long long *calls, unsigned long long *usec,
                  unsigned long long *rejected, unsigned long long *failed)
{
    const cmd_stat *s = &cmdstats[slot];
    *calls = atomic_load_explicit(&s->calls, memory_order_relaxed);
    *usec = srv_ticks_us(atomic_load_explicit(&s->ticks, memory_order_relaxed));
    *rejected = atomic_load_explicit(&s->rejected, memory_order_relaxed);
    *failed = atomic_load_explicit(&s->failed, memory_order_relaxed);
    return *calls || *rejected || *failed;
}

const char *stats_error(size_t i, unsigned long long *count)
{
    if (i >= atomic_load_explicit(&nerrstats, memory_order_acquire))
        return NULL;
    *count = atomic_load_explicit(&errstats[i].count, memory_order_relaxed);
    return errstats[i].code;
}
