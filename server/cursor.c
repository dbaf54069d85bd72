/* cursor.c — the SCAN cursor registry (see cursor.h): a hash table of ids with a
 * least-recently-used list, under one mutex (SCAN is not a hot path). */
#include "cursor.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "srv.h"
#include "util.h"

#define NBUCKETS 65536u

typedef struct entry {
    uint64_t id;
    int db;
    struct entry *hnext;          /* hash chain */
    struct entry *prev, *next;    /* LRU: head is the most recently used */
    size_t len;
    unsigned char pos[];
} entry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static entry *buckets[NBUCKETS];
static entry *head, *tail;
static size_t bytes;
static uint64_t epoch, counter; /* ids: epoch (20 bits) << 32 | counter (32 bits) */

static entry **slot(uint64_t id)
{
    uint64_t h = id * 0x9e3779b97f4a7c15ull;
    return &buckets[h >> 48];
}

static void lru_unlink(entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        tail = e->prev;
}

static void lru_push(entry *e)
{
    e->prev = NULL;
    e->next = head;
    if (head)
        head->prev = e;
    head = e;
    if (!tail)
        tail = e;
}

static void drop(entry *e)
{
    entry **p = slot(e->id);
    while (*p != e)
        p = &(*p)->hnext;
    *p = e->hnext;
    lru_unlink(e);
    bytes -= sizeof *e + e->len;
    free(e);
}

/* A random epoch per process: a cursor from another process never names an entry here. */
static uint64_t new_epoch(void)
{
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint32_t)time(NULL) ^ (uint32_t)getpid() * 2654435761u;
    return (r & 0xfffffu) | 1u; /* never 0: no cursor is 0 */
}

uint64_t cursor_save(int db, const void *pos, size_t len)
{
    entry *e = srv_xmalloc(sizeof *e + len);
    e->db = db;
    e->len = len;
    memcpy(e->pos, pos, len);
    pthread_mutex_lock(&mu);
    if (!epoch)
        epoch = new_epoch();
    e->id = epoch << 32 | (counter++ & 0xffffffffu);
    while (tail && bytes + sizeof *e + len > CURSOR_MAX_BYTES)
        drop(tail);
    entry **p = slot(e->id);
    while (*p) { /* the counter wrapped onto a live entry: replace it */
        if ((*p)->id == e->id) {
            drop(*p);
            break;
        }
        p = &(*p)->hnext;
    }
    e->hnext = *slot(e->id);
    *slot(e->id) = e;
    lru_push(e);
    bytes += sizeof *e + len;
    uint64_t id = e->id;
    pthread_mutex_unlock(&mu);
    return id;
}

int cursor_load(uint64_t id, int *db, void *pos, size_t *len)
{
    int rc = -1;
    pthread_mutex_lock(&mu);
    for (entry *e = *slot(id); e; e = e->hnext) {
        if (e->id != id)
            continue;
        *db = e->db;
        *len = e->len;
        memcpy(pos, e->pos, e->len);
        lru_unlink(e);
        lru_push(e);
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

void cursor_free_all(void)
{
    pthread_mutex_lock(&mu);
    while (tail)
        drop(tail);
    pthread_mutex_unlock(&mu);
}

/* Redis parses a cursor with strtoul: an optional sign, decimal digits, nothing after,
 * no leading space, no overflow. 1 if a is one. */
int cursor_parse(const char *p, size_t len, uint64_t *out)
{
    char buf[128];
    if (len >= sizeof buf)
        return 0;
    if (len)
        memcpy(buf, p, len);
    buf[len] = '\0';
    if (strchr(" \t\n\v\f\r", buf[0]) && buf[0])
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (*end || errno == ERANGE)
        return 0;
    *out = v;
    return 1;
}
