/* stats.c — per-command statistics (INFO commandstats) and error statistics (INFO
 * errorstats), as Redis 7.0 keeps them, counted from every thread.
 *
 * Commands run on the I/O threads and in the writer. Each of those threads counts its
 * calls in a set of its own (stats_thread_own), with plain stores: a locked add waits for
 * every load the core has in flight, and the writer keeps loads in flight on purpose (its
 * prefetches): three of them per command were 7.7% of the writer's samples under LPOP at
 * -P 16. Any other thread, and rejected calls, count in one shared set of relaxed atomic
 * adds. A reader sums the sets; CONFIG RESETSTAT writes no thread's counters but notes
 * the sums as the new zero (base). Error replies are counted where they are written:
 * every output buffer of the server has stats_on_error as its error hook. */
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

#define STATS_THREADS 130 /* threads that may count in a set of their own: io-threads (at
                            most 128) and the writer */

static size_t nslots;                 /* cmd_count + cmd_subcount */
static cmd_stat *cmdstats;            /* [nslots]: the shared set */
static _Atomic(cmd_stat *) own[STATS_THREADS]; /* [nslots] each, written by its thread */
static atomic_int nown;
static cmd_stat *base;                /* [nslots]: the sums at the last reset */
static _Thread_local cmd_stat *mine;  /* this thread's own set, or NULL */
static err_stat errstats[STATS_ERROR_CODES];
static atomic_size_t nerrstats;       /* entries published in errstats */
static pthread_mutex_t errstats_mu = PTHREAD_MUTEX_INITIALIZER;
/* Error replies written by this thread: cmd_call compares it before and after a
 * handler to tell a failed call. */
static _Thread_local unsigned long thread_errors;

int stats_init(void)
{
    nslots = cmd_count + cmd_subcount;
    cmdstats = calloc(nslots, sizeof *cmdstats);
    base = calloc(nslots, sizeof *base);
    return cmdstats && base ? 0 : -1;
}

void stats_thread_own(void)
{
    cmd_stat *set = calloc(nslots, sizeof *set);
    int i = set ? atomic_fetch_add(&nown, 1) : STATS_THREADS;
    if (i >= STATS_THREADS) { /* the shared set, then */
        free(set);
        return;
    }
    atomic_store_explicit(&own[i], set, memory_order_release);
    mine = set;
}

void stats_free(void)
{
    int n = atomic_load(&nown);
    for (int i = 0; i < n && i < STATS_THREADS; i++)
        free(atomic_exchange(&own[i], NULL));
    atomic_store(&nown, 0);
    free(cmdstats);
    free(base);
    cmdstats = base = NULL;
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

/* c += n by the only thread that writes c: a load and a store, no locked add. */
static void own_add(atomic_ullong *c, unsigned long long n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void stats_called(size_t slot, uint64_t ticks, int failed)
{
    cmd_stat *s = mine;
    if (s) {
        s += slot;
        own_add(&s->calls, 1);
        own_add(&s->ticks, ticks);
        if (failed)
            own_add(&s->failed, 1);
        return;
    }
    s = &cmdstats[slot];
    atomic_fetch_add_explicit(&s->calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->ticks, ticks, memory_order_relaxed);
    if (failed)
        atomic_fetch_add_explicit(&s->failed, 1, memory_order_relaxed);
}

/* slot's counters summed over the sets into *sum. */
static void slot_sum(size_t slot, cmd_stat *sum)
{
    unsigned long long v[4] = {0, 0, 0, 0};
    int n = atomic_load_explicit(&nown, memory_order_acquire);
    for (int i = -1; i < n && i < STATS_THREADS; i++) {
        const cmd_stat *s = i < 0 ? cmdstats : atomic_load_explicit(&own[i], memory_order_acquire);
        if (!s) /* counted, not published yet */
            continue;
        s += slot;
        v[0] += atomic_load_explicit(&s->calls, memory_order_relaxed);
        v[1] += atomic_load_explicit(&s->ticks, memory_order_relaxed);
        v[2] += atomic_load_explicit(&s->rejected, memory_order_relaxed);
        v[3] += atomic_load_explicit(&s->failed, memory_order_relaxed);
    }
    atomic_store_explicit(&sum->calls, v[0], memory_order_relaxed);
    atomic_store_explicit(&sum->ticks, v[1], memory_order_relaxed);
    atomic_store_explicit(&sum->rejected, v[2], memory_order_relaxed);
    atomic_store_explicit(&sum->failed, v[3], memory_order_relaxed);
}

/* a - b, or 0: counters only grow, but a reset read the sets a moment apart. */
static unsigned long long since(const atomic_ullong *a, const atomic_ullong *b)
{
    unsigned long long x = atomic_load_explicit(a, memory_order_relaxed),
                       y = atomic_load_explicit(b, memory_order_relaxed);
    return x > y ? x - y : 0;
}

void stats_rejected(size_t slot)
{
    atomic_fetch_add_explicit(&cmdstats[slot].rejected, 1, memory_order_relaxed);
}

void stats_reset(void)
{
    for (size_t i = 0; i < nslots; i++)
        slot_sum(i, &base[i]);
    size_t n = atomic_load(&nerrstats);
    for (size_t i = 0; i < n; i++)
        atomic_store(&errstats[i].count, 0);
    atomic_store(&srv.stats.errors, 0);
}

int stats_command(size_t slot, unsigned long long *calls, unsigned long long *usec,
                  unsigned long long *rejected, unsigned long long *failed)
{
    cmd_stat s;
    slot_sum(slot, &s);
    const cmd_stat *b = &base[slot];
    *calls = since(&s.calls, &b->calls);
    *usec = srv_ticks_us(since(&s.ticks, &b->ticks));
    *rejected = since(&s.rejected, &b->rejected);
    *failed = since(&s.failed, &b->failed);
    return *calls || *rejected || *failed;
}

unsigned long long stats_commands_total(void)
{
    unsigned long long n = 0;
    for (size_t i = 0; i < nslots; i++) {
        cmd_stat s;
        slot_sum(i, &s);
        n += since(&s.calls, &base[i].calls);
    }
    return n;
}

const char *stats_error(size_t i, unsigned long long *count)
{
    if (i >= atomic_load_explicit(&nerrstats, memory_order_acquire))
        return NULL;
    *count = atomic_load_explicit(&errstats[i].count, memory_order_relaxed);
    return errstats[i].code;
}
