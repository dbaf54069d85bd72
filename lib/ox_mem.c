/* ox_mem.c — the write buffer (ox_mem.h): an arena, one skiplist per table, a hash index
 * over all of them, version lists. One writer, readers without locks. */
#include "ox_mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "oxistore.h"

#define MAX_HEIGHT 12        /* 4^12 = 16M nodes before the skiplist slows down */
#define HASH_MIN 1024u

struct ox_mver {
    _Atomic uint64_t seq;    /* OX_MEM_ABORTED once aborted */
    uint64_t stamp;
    struct ox_mver *older;   /* set before publication, never changed */
    uint32_t len;
    int kind;                /* VER_PUT, VER_DEL, VER_CLEAR */
    unsigned char *rec;      /* VER_PUT: len bytes */
};

enum { VER_PUT, VER_DEL, VER_CLEAR };

typedef struct mem_node {
    _Atomic(ox_mver *) ver;         /* newest first */
    struct mem_node *_Atomic hnext; /* hash chain */
    struct mem_node *_Atomic back;  /* the node before at level 0 (NULL: the first); nodes
                                       are never unlinked, so a descending step follows it
                                       instead of a search from the head */
    uint32_t hash;
    uint16_t klen;
    uint16_t table;
    int height;
    unsigned char *key;
    struct mem_node *_Atomic next[]; /* height links */
} mem_node;

typedef struct mem_table {
    mem_node *head;                 /* MAX_HEIGHT links, no key */
    _Atomic(ox_mver *) clears;      /* newest first */
    _Atomic int height;
} mem_table;

typedef struct chunk {
    struct chunk *next;
    size_t size, used;
    size_t huge;                    /* from chunk_get (a word: data stays aligned) */
    unsigned char data[];
} chunk;

struct ox_mem {
    atomic_int refs;
    unsigned ntables;
    _Atomic(mem_table *) *tables;   /* created on first use */
    struct mem_node *_Atomic *hash;
    uint32_t hmask;
    _Atomic uint64_t *filter;       /* the keys' prefixes (ox__mem_may_hold): 2 bits each */
    uint32_t fmask;                 /* its bits - 1 */
    chunk *chunks;                  /* the current one first */
    size_t chunk_size;              /* OX_MEM_CHUNK, or less for a small budget */
    atomic_size_t bytes;
    atomic_size_t data;             /* bytes handed out of the chunks (ox__mem_data) */
    atomic_size_t dels;             /* deletions written (ox__mem_dels) */
    atomic_size_t nodes;            /* keys it holds (ox__mem_dels) */
    uint64_t stamp;                 /* the writer's op counter */
    atomic_ullong max_seq;
    uint64_t rnd;
};

/* ---- arena ------------------------------------------------------------------------------ */

#define HUGE_PAGE ((size_t)2 << 20)
#define POOL_MAX 16 /* chunks: one default buffer's worth (a 64 MiB write-buffer-limit) */

/* n bytes (a multiple of HUGE_PAGE) aligned on a huge page, which the kernel is asked to
 * back with huge pages: a full buffer's nodes and hash index span tens of MiB touched at
 * random, and with 4 KiB pages most of the writer's lookups missed the TLB as well as the
 * cache (measured: SET and LPUSH at -P 16 ran 6-7% faster than from malloc's 1 MiB chunks,
 * in three runs each, interleaved). NULL on failure. */
static void *huge_alloc(size_t n)
{
    unsigned char *p = mmap(NULL, n + HUGE_PAGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    size_t lead = (HUGE_PAGE - (uintptr_t)p % HUGE_PAGE) % HUGE_PAGE;
    if (lead)
        munmap(p, lead);
    munmap(p + lead + n, HUGE_PAGE - lead);
    p += lead;
#ifdef MADV_HUGEPAGE
    madvise(p, n, MADV_HUGEPAGE); /* advice only: without it, small pages */
#endif
    return p;
}

/* Chunks of OX_MEM_CHUNK bytes that freed buffers left, for the next ones: mapping fresh
 * memory for every buffer costs its page faults and zeroing again (measured: SET of 4 KiB
 * values at -P 16, where a buffer fills four times a second, ran a third slower on fresh
 * small pages than on malloc's reused heap). At most POOL_MAX, shared by the process's
 * stores; the rest are unmapped. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static void *pool[POOL_MAX];
static int pool_n;

static void *chunk_get(void)
{
    void *p = NULL;
    pthread_mutex_lock(&pool_lock);
    if (pool_n)
        p = pool[--pool_n];
    pthread_mutex_unlock(&pool_lock);
    return p ? p : huge_alloc(OX_MEM_CHUNK);
}

static void chunk_put(void *p)
{
    pthread_mutex_lock(&pool_lock);
    if (pool_n < POOL_MAX) {
        pool[pool_n++] = p;
        p = NULL;
    }
    pthread_mutex_unlock(&pool_lock);
    if (p)
        munmap(p, OX_MEM_CHUNK);
}

/* c += n, by the writer alone (its counters): a load and a store, not a locked add, which
 * waits for every load in flight (the writer's prefetches among them). */
static void own_add(atomic_size_t *c, size_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static void *arena_alloc(ox_mem *m, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    chunk *c = m->chunks;
    if (!c || c->size - c->used < n) {
        int big = n > m->chunk_size / 4, huge = !big && m->chunk_size == OX_MEM_CHUNK;
        size_t size = big ? n : huge ? OX_MEM_CHUNK - sizeof *c : m->chunk_size;
        chunk *nc = huge ? chunk_get() : malloc(sizeof *nc + size);
        if (!nc)
            return NULL;
        nc->huge = huge;
        nc->size = size;
        nc->used = 0;
        own_add(&m->bytes, sizeof *nc + size);
        if (c && big) { /* a big one: keep the current chunk current */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            m->chunks = nc;
        }
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    own_add(&m->data, n);
    return p;
}

/* ---- keys -------------------------------------------------------------------------------- */

/* LMDB's default order: memcmp over the shorter length, then the shorter first. */
static int key_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    /* a word at a time, inline: the keys of one collection share a long prefix (its id,
     * a sorted set's scores), and memcmp's call was a third of the skiplist's search */
    size_t n = alen < blen ? alen : blen, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            x = __builtin_bswap64(x); /* byte order is memcmp's order */
            y = __builtin_bswap64(y);
#endif
            return x < y ? -1 : 1;
        }
    }
    for (; i < n; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return alen < blen ? -1 : alen > blen;
}

static uint32_t key_hash(unsigned table, const unsigned char *k, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (table * 0xff51afd7ed558ccdull) ^ n, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { /* a word at a time: a byte at a time was 11% of a write */
        memcpy(&w, k + i, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    w = 0;
    if (i < n && n >= 8) /* the last word, overlapping: a fixed-size load is one move */
        memcpy(&w, k + n - 8, 8);
    else
        for (; i < n; i++)
            w = w << 8 | k[i];
    h = (h ^ w) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

/* ---- life ---------------------------------------------------------------------------------- */

/* The two bits of the prefix filter for the first OX_MEM_PREFIX bytes of k in table. */
static void prefix_bits(const ox_mem *m, unsigned table, const unsigned char *k, uint32_t *a,
                        uint32_t *b)
{
    _Static_assert(OX_MEM_PREFIX == 9, "a byte and a word");
    uint64_t w;
    memcpy(&w, k + 1, 8);
    uint64_t h = (w ^ k[0]) + (table + 1) * 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull; /* splitmix64's finaliser */
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    h ^= h >> 31;
    *a = (uint32_t)h & m->fmask;
    *b = (uint32_t)(h >> 32) & m->fmask;
}

static int filter_has(const ox_mem *m, uint32_t bit)
{
    return (atomic_load_explicit(&m->filter[bit >> 6], memory_order_relaxed) >> (bit & 63)) & 1;
}

/* The writer's only: a plain load and store (no reader writes it). */
static void filter_set(ox_mem *m, uint32_t bit)
{
    _Atomic uint64_t *w = &m->filter[bit >> 6];
    atomic_store_explicit(w, atomic_load_explicit(w, memory_order_relaxed) | (1ull << (bit & 63)),
                          memory_order_relaxed);
}

static void hash_free(ox_mem *m)
{
    if (((size_t)m->hmask + 1) * sizeof *m->hash != OX_MEM_CHUNK)
        free(m->hash);
    else if (m->hash)
        chunk_put(m->hash);
}

int ox__mem_new(size_t budget, unsigned ntables, ox_mem **out)
{
    *out = NULL;
    ox_mem *m = calloc(1, sizeof *m);
    if (!m)
        return OX_ENOMEM;
    /* About one bucket per 128 bytes of budget (a small record and its node take more). */
    uint32_t n = HASH_MIN;
    while (n < budget / 128 && n < (1u << 30))
        n <<= 1;
    size_t hsize = (size_t)n * sizeof *m->hash;
    m->hash = hsize != OX_MEM_CHUNK ? calloc(n, sizeof *m->hash) : chunk_get();
    if (hsize == OX_MEM_CHUNK && m->hash)
        memset(m->hash, 0, hsize);
    m->tables = calloc(ntables ? ntables : 1, sizeof *m->tables);
    /* Four filter bits per bucket: about a tenth answer "may hold" wrongly when the buffer
     * holds as many prefixes as buckets (every key its own), far fewer with collections. */
    m->filter = calloc(n / 16, sizeof *m->filter);
    m->hmask = n - 1;
    if (!m->hash || !m->tables || !m->filter) {
        hash_free(m);
        free(m->tables);
        free(m->filter);
        free(m);
        return OX_ENOMEM;
    }
    m->fmask = (uint32_t)((uint64_t)n * 4 - 1);
    m->ntables = ntables;
    /* A chunk is a sixteenth of the budget at most: a buffer's size grows in steps small
     * enough for its budget to mean something. */
    m->chunk_size = OX_MEM_CHUNK;
    while (m->chunk_size > (16u << 10) && m->chunk_size > budget / 16)
        m->chunk_size /= 2;
    m->rnd = 0x2545f4914f6cdd1dull ^ (uintptr_t)m;
    atomic_init(&m->refs, 1);
    atomic_init(&m->data, 0);
    atomic_init(&m->bytes, sizeof *m + (size_t)n * sizeof *m->hash +
                               (size_t)n / 16 * sizeof *m->filter);
    *out = m;
    return OX_OK;
}

void ox__mem_ref(ox_mem *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void ox__mem_unref(ox_mem *m)
{
    if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (chunk *c = m->chunks, *next; c; c = next) {
        next = c->next;
        if (c->huge)
            chunk_put(c);
        else
            free(c);
    }
    hash_free(m);
    free(m->filter);
    free(m->tables);
    free(m);
}

size_t ox__mem_bytes(const ox_mem *m)
{
    return atomic_load_explicit(&m->bytes, memory_order_relaxed);
}

size_t ox__mem_data(const ox_mem *m)
{
    return atomic_load_explicit(&m->data, memory_order_relaxed);
}

size_t ox__mem_dels(const ox_mem *m, size_t *nodes)
{
    *nodes = atomic_load_explicit(&m->nodes, memory_order_relaxed);
    return atomic_load_explicit(&m->dels, memory_order_relaxed);
}

int ox__mem_full(const ox_mem *m, size_t budget)
{
    return ox__mem_bytes(m) + m->chunk_size >= budget;
}

uint64_t ox__mem_max_seq(const ox_mem *m)
{
    return atomic_load_explicit(&m->max_seq, memory_order_acquire);
}

void ox__mem_committed(ox_mem *m, uint64_t seq)
{
    if (seq > atomic_load_explicit(&m->max_seq, memory_order_relaxed))
        atomic_store_explicit(&m->max_seq, seq, memory_order_release);
}

/* ---- the skiplist -------------------------------------------------------------------------- */

static mem_table *table_get(const ox_mem *m, unsigned table)
{
    if (table >= m->ntables)
        return NULL;
    return atomic_load_explicit(&m->tables[table], memory_order_acquire);
}

static mem_table *table_make(ox_mem *m, unsigned table)
{
    mem_table *t = table_get(m, table);
    if (t || table >= m->ntables)
        return t;
    t = arena_alloc(m, sizeof *t);
    mem_node *h = arena_alloc(m, sizeof *h + MAX_HEIGHT * sizeof h->next[0]);
    if (!t || !h)
        return NULL;
    memset(h, 0, sizeof *h + MAX_HEIGHT * sizeof h->next[0]);
    h->height = MAX_HEIGHT;
    t->head = h;
    atomic_init(&t->clears, NULL);
    atomic_init(&t->height, 1);
    atomic_store_explicit(&m->tables[table], t, memory_order_release);
    return t;
}

static int random_height(ox_mem *m)
{
    int h = 1;
    while (h < MAX_HEIGHT) {
        m->rnd ^= m->rnd << 13;
        m->rnd ^= m->rnd >> 7;
        m->rnd ^= m->rnd << 17;
        if (m->rnd & 3)
            break;
        h++;
    }
    return h;
}

static inline mem_node *node_next(const mem_node *n, int level)
{
    return atomic_load_explicit(&n->next[level], memory_order_acquire);
}

/* The last node < key (or <= key with le != 0) at every level into prev (may be NULL); the
 * node it returns is the first >= key (> key with le). */
static mem_node *find(const mem_table *t, const unsigned char *k, size_t klen, int le,
                      mem_node **prev)
{
    mem_node *x = t->head, *stop = NULL; /* stop: the last node the search did not pass, */
    int stop_c = 1;                       /* and how it compared: a level below often
                                             meets it again */
    int level = atomic_load_explicit(&t->height, memory_order_relaxed) - 1;
    for (;;) {
        mem_node *n = node_next(x, level);
        /* Memory latency is the search's cost (a node per step, random in a large buffer:
         * ZADD's new score entries). Ask for the next level's first candidate (x is in
         * cache) and n's second line (its key) while n's first loads: measured, the
         * writer's CPU per ZADD at -P 16 fell by about a tenth. */
        mem_node *d = level > 0 ? node_next(x, level - 1) : NULL;
        if (d) {
            __builtin_prefetch(d);
            __builtin_prefetch((const char *)d + 64);
        }
        if (n && n != stop)
            __builtin_prefetch((const char *)n + 64);
        int c = !n ? 1 : n == stop ? stop_c : key_cmp(n->key, n->klen, k, klen);
        if (c < 0 || (le && c == 0)) {
            x = n;
            continue;
        }
        stop = n;
        stop_c = c;
        if (prev)
            prev[level] = x;
        if (level == 0)
            return n;
        level--;
    }
}

static mem_node *hash_find(const ox_mem *m, unsigned table, const unsigned char *k,
                           size_t klen, uint32_t h)
{
    for (mem_node *n = atomic_load_explicit(&m->hash[h & m->hmask], memory_order_acquire); n;
         n = atomic_load_explicit(&n->hnext, memory_order_acquire))
        if (n->hash == h && n->table == table && n->klen == klen && !memcmp(n->key, k, klen))
            return n;
    return NULL;
}

/* Publishes v at the head of node's (or the table's clears) list. */
static void ver_push(_Atomic(ox_mver *) *list, ox_mver *v)
{
    v->older = atomic_load_explicit(list, memory_order_relaxed);
    atomic_store_explicit(list, v, memory_order_release);
}

static ox_mver *ver_new(ox_mem *m, uint64_t seq, int kind, const void *rec, size_t len)
{
    ox_mver *v = arena_alloc(m, sizeof *v + (kind == VER_PUT ? len : 0));
    if (!v)
        return NULL;
    atomic_init(&v->seq, seq);
    v->stamp = ++m->stamp;
    v->kind = kind;
    v->len = (uint32_t)len;
    v->rec = NULL;
    v->older = NULL;
    if (kind == VER_PUT) {
        v->rec = (unsigned char *)(v + 1);
        if (len)
            memcpy(v->rec, rec, len);
    }
    return v;
}

int ox__mem_put(ox_mem *m, unsigned table, const MDB_val *key, uint64_t seq, const void *rec,
                size_t len, ox_mver **ver)
{
    mem_table *t = table_make(m, table);
    if (!t)
        return OX_ENOMEM;
    const unsigned char *k = key->mv_data;
    size_t klen = key->mv_size;
    uint32_t h = key_hash(table, k, klen);
    ox_mver *v = ver_new(m, seq, rec ? VER_PUT : VER_DEL, rec, len);
    if (!v)
        return OX_ENOMEM;
    if (!rec)
        own_add(&m->dels, 1);
    mem_node *n = hash_find(m, table, k, klen, h);
    if (!n) {
        /* Bits are only ever added, by the writer, before the commit that holds the key
         * publishes its seq (a release store the readers' snapshots load with acquire):
         * whoever may see the key sees its bits. */
        if (klen >= OX_MEM_PREFIX) {
            uint32_t a, b;
            prefix_bits(m, table, k, &a, &b);
            filter_set(m, a);
            filter_set(m, b);
        }
        mem_node *prev[MAX_HEIGHT];
        int height = random_height(m), cur = atomic_load_explicit(&t->height, memory_order_relaxed);
        n = arena_alloc(m, sizeof *n + (size_t)height * sizeof n->next[0] + klen);
        if (!n)
            return OX_ENOMEM;
        n->key = (unsigned char *)&n->next[height];
        memcpy(n->key, k, klen);
        n->klen = (uint16_t)klen;
        n->table = (uint16_t)table;
        n->hash = h;
        n->height = height;
        atomic_init(&n->ver, v);
        find(t, k, klen, 0, prev);
        for (int i = cur; i < height; i++)
            prev[i] = t->head;
        if (height > cur) /* readers that see the new height find head's NULL links */
            atomic_store_explicit(&t->height, height, memory_order_relaxed);
        mem_node *after = node_next(prev[0], 0);
        atomic_init(&n->back, prev[0] == t->head ? NULL : prev[0]);
        for (int i = 0; i < height; i++) {
            atomic_init(&n->next[i], node_next(prev[i], i));
            atomic_store_explicit(&prev[i]->next[i], n, memory_order_release);
        }
        /* A reader stepping back from `after` before this store skips n: n's versions
         * are not committed yet, so no reader but the writer can see them. */
        if (after)
            atomic_store_explicit(&after->back, n, memory_order_release);
        own_add(&m->nodes, 1);
        atomic_init(&n->hnext, atomic_load_explicit(&m->hash[h & m->hmask],
                                                    memory_order_relaxed));
        atomic_store_explicit(&m->hash[h & m->hmask], n, memory_order_release);
    } else {
        ver_push(&n->ver, v);
    }
    if (ver)
        *ver = v;
    return OX_OK;
}

int ox__mem_clear(ox_mem *m, unsigned table, uint64_t seq, ox_mver **ver)
{
    mem_table *t = table_make(m, table);
    ox_mver *v = t ? ver_new(m, seq, VER_CLEAR, NULL, 0) : NULL;
    if (!v)
        return OX_ENOMEM;
    ver_push(&t->clears, v);
    if (ver)
        *ver = v;
    return OX_OK;
}

void ox__mem_abort(ox_mver *v)
{
    atomic_store_explicit(&v->seq, OX_MEM_ABORTED, memory_order_release);
}

/* ---- reading ------------------------------------------------------------------------------ */

/* The newest entry of list visible at seq (none: NULL). */
static const ox_mver *visible(const ox_mver *v, uint64_t seq)
{
    for (; v; v = v->older)
        if (atomic_load_explicit(&((ox_mver *)v)->seq, memory_order_acquire) <= seq)
            return v;
    return NULL;
}

static const ox_mver *clear_at(const mem_table *t, uint64_t seq)
{
    return visible(atomic_load_explicit(&((mem_table *)t)->clears, memory_order_acquire), seq);
}

/* A node's state at seq, given the table's visible clear c (may be NULL). */
static int node_state(const mem_node *n, const ox_mver *c, uint64_t seq, MDB_val *rec)
{
    const ox_mver *v = visible(atomic_load_explicit(&((mem_node *)n)->ver, memory_order_acquire),
                               seq);
    if (v && (!c || v->stamp > c->stamp)) {
        if (v->kind == VER_DEL)
            return OX_MEM_ABSENT;
        rec->mv_data = v->rec;
        rec->mv_size = v->len;
        return OX_MEM_FOUND;
    }
    return c ? OX_MEM_ABSENT : OX_MEM_MISS;
}

int ox__mem_get(const ox_mem *m, unsigned table, const MDB_val *key, uint64_t seq, MDB_val *rec)
{
    const mem_table *t = table_get(m, table);
    if (!t)
        return OX_MEM_MISS;
    const ox_mver *c = clear_at(t, seq);
    uint32_t h = key_hash(table, key->mv_data, key->mv_size);
    const mem_node *n = hash_find(m, table, key->mv_data, key->mv_size, h);
    if (!n)
        return c ? OX_MEM_ABSENT : OX_MEM_MISS;
    return node_state(n, c, seq, rec);
}

void ox__mem_prefetch(const ox_mem *m, unsigned table, const MDB_val *key, int step)
{
    uint32_t h = key_hash(table, key->mv_data, key->mv_size);
    if (!step) {
        __builtin_prefetch(&m->hash[h & m->hmask]);
        return;
    }
    const mem_node *n = atomic_load_explicit(&m->hash[h & m->hmask], memory_order_relaxed);
    if (n) {
        __builtin_prefetch(n);
        __builtin_prefetch((const char *)n + 64);
    }
}

int ox__mem_cleared(const ox_mem *m, unsigned table, uint64_t seq)
{
    const mem_table *t = table_get(m, table);
    return t && clear_at(t, seq) != NULL;
}

int ox__mem_may_hold(const ox_mem *m, unsigned table, const MDB_val *lo, const MDB_val *hi)
{
    /* A key k with lo <= k < hi, both sharing their first OX_MEM_PREFIX bytes p, is at
     * least that long (a shorter one sorts before lo) and starts with p (any other
     * beginning sorts before lo or after hi). */
    if (lo->mv_size < OX_MEM_PREFIX || hi->mv_size < OX_MEM_PREFIX ||
        memcmp(lo->mv_data, hi->mv_data, OX_MEM_PREFIX))
        return 1;
    uint32_t a, b;
    prefix_bits(m, table, lo->mv_data, &a, &b);
    return filter_has(m, a) && filter_has(m, b);
}

void ox__mem_cur_init(ox_mem_cur *c, const ox_mem *m, unsigned table)
{
    c->m = m;
    c->table = table;
    c->node = NULL;
}

void ox__mem_cur_seek(ox_mem_cur *c, const MDB_val *key, int asc)
{
    const mem_table *t = table_get(c->m, c->table);
    c->node = NULL;
    if (!t)
        return;
    if (asc) {
        c->node = key ? find(t, key->mv_data, key->mv_size, 0, NULL) : node_next(t->head, 0);
        return;
    }
    /* The last node <= key: find's predecessor at level 0 with le set. */
    mem_node *prev[MAX_HEIGHT];
    if (key) {
        find(t, key->mv_data, key->mv_size, 1, prev);
    } else {
        mem_node *x = t->head;
        for (int level = atomic_load_explicit(&t->height, memory_order_relaxed) - 1;
             level >= 0; level--)
            for (mem_node *n; (n = node_next(x, level));)
                x = n;
        prev[0] = x;
    }
    c->node = prev[0] == t->head ? NULL : prev[0];
}

void ox__mem_cur_step(ox_mem_cur *c, int asc)
{
    const mem_node *n = c->node;
    if (!n)
        return;
    if (asc) {
        const mem_node *x = node_next(n, 0), *y;
        c->node = x;
        /* A walk of a large buffer is memory bound: each node, and its newest version,
         * is a miss (the checkpointer's walk spent most of its own time on them). Ask
         * now for what the step after next reads: y, which the step before asked for,
         * gives its version and the node after it. */
        if (x && (y = node_next(x, 0))) {
            const mem_node *z = node_next(y, 0);
            __builtin_prefetch(atomic_load_explicit(&((mem_node *)y)->ver, memory_order_relaxed));
            if (z) {
                __builtin_prefetch(z);
                __builtin_prefetch((const char *)z + 64);
            }
        }
        return;
    }
    c->node = atomic_load_explicit(&((mem_node *)n)->back, memory_order_acquire);
}

int ox__mem_cur_key(const ox_mem_cur *c, MDB_val *key)
{
    const mem_node *n = c->node;
    if (!n)
        return 0;
    key->mv_data = n->key;
    key->mv_size = n->klen;
    return 1;
}

int ox__mem_cur_state(const ox_mem_cur *c, uint64_t seq, MDB_val *rec)
{
    const mem_table *t = table_get(c->m, c->table);
    if (!c->node || !t)
        return OX_MEM_MISS;
    return node_state(c->node, clear_at(t, seq), seq, rec);
}

/* ---- the checkpointer ------------------------------------------------------------------------ */

uint64_t ox__mem_last_clear(const ox_mem *m, unsigned table, uint64_t *stamp)
{
    const mem_table *t = table_get(m, table);
    const ox_mver *c = t ? clear_at(t, OX_MEM_ABORTED - 1) : NULL;
    *stamp = c ? c->stamp : 0;
    return c ? atomic_load_explicit(&((ox_mver *)c)->seq, memory_order_acquire) : 0;
}

int ox__mem_cur_final(const ox_mem_cur *c, MDB_val *rec)
{
    const mem_table *t = table_get(c->m, c->table);
    if (!c->node || !t)
        return 0;
    int st = node_state(c->node, clear_at(t, OX_MEM_ABORTED - 1), OX_MEM_ABORTED - 1, rec);
    if (st == OX_MEM_ABSENT) {
        /* a deletion, or cleared: a deletion only if the newest version is one */
        const ox_mver *v = visible(atomic_load_explicit(&((mem_node *)c->node)->ver,
                                                        memory_order_acquire),
                                   OX_MEM_ABORTED - 1);
        const ox_mver *cl = clear_at(t, OX_MEM_ABORTED - 1);
        if (v && v->kind == VER_DEL && (!cl || v->stamp > cl->stamp)) {
            rec->mv_data = NULL;
            rec->mv_size = 0;
            return 1;
        }
        return 0;
    }
    return st == OX_MEM_FOUND;
}

int ox__mem_has_table(const ox_mem *m, unsigned table)
{
    return table_get(m, table) != NULL;
}
