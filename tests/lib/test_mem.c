/* The write buffer (lib/ox_mem.h): versions seen by snapshot, deletions, aborts, clears
 * and their order within one transaction, ordered walks both ways, the prefix filter, and
 * readers walking and looking up while the writer inserts. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "ox_mem.h"
#include "oxistore.h"
#include "test.h"

T_MAIN_BEGIN;

static MDB_val K(const char *s)
{
    return (MDB_val){strlen(s), (void *)s};
}

/* get's answer as text: "=value", "absent" or "miss". */
static const char *get(const ox_mem *m, unsigned t, const char *key, uint64_t seq)
{
    static char buf[64];
    MDB_val k = K(key), rec;
    int st = ox__mem_get(m, t, &k, seq, &rec);
    if (st == OX_MEM_ABSENT)
        return "absent";
    if (st == OX_MEM_MISS)
        return "miss";
    snprintf(buf, sizeof buf, "=%.*s", (int)rec.mv_size, (const char *)rec.mv_data);
    return buf;
}

static void put(ox_mem *m, unsigned t, const char *key, uint64_t seq, const char *val)
{
    MDB_val k = K(key);
    int rc = ox__mem_put(m, t, &k, seq, val, val ? strlen(val) : 0, NULL);
    if (rc)
        abort();
}

static void versions_are_seen_by_snapshot(void)
{
    ox_mem *m;
    T_EQ_INT(ox__mem_new(1 << 20, 4, &m), OX_OK);
    put(m, 0, "k", 1, "a");
    put(m, 0, "k", 2, "b");
    put(m, 1, "k", 3, "other table");
    put(m, 0, "k", 4, NULL); /* a deletion */
    T_EQ_STR(get(m, 0, "k", 0), "miss");
    T_EQ_STR(get(m, 0, "k", 1), "=a");
    T_EQ_STR(get(m, 0, "k", 2), "=b");
    T_EQ_STR(get(m, 0, "k", 3), "=b");
    T_EQ_STR(get(m, 0, "k", 4), "absent");
    T_EQ_STR(get(m, 1, "k", 4), "=other table");
    T_EQ_STR(get(m, 2, "k", 4), "miss");
    T_EQ_STR(get(m, 0, "", 4), "miss");
    put(m, 0, "", 5, ""); /* the empty key and the empty value */
    T_EQ_STR(get(m, 0, "", 5), "=");
    ox__mem_committed(m, 5);
    T_EQ_U64(ox__mem_max_seq(m), 5);
    ox__mem_unref(m);
}

static void aborted_versions_are_never_seen(void)
{
    ox_mem *m;
    ox_mver *v, *c;
    T_EQ_INT(ox__mem_new(1 << 20, 2, &m), OX_OK);
    put(m, 0, "k", 1, "a");
    put(m, 1, "z", 1, "z");
    MDB_val k = K("k"), n = K("new");
    T_EQ_INT(ox__mem_put(m, 0, &k, 2, "b", 1, &v), OX_OK);
    T_EQ_INT(ox__mem_put(m, 0, &n, 2, "x", 1, NULL), OX_OK);
    T_EQ_INT(ox__mem_clear(m, 1, 2, &c), OX_OK);
    T_EQ_STR(get(m, 1, "z", 2), "absent");
    ox__mem_abort(v);
    ox__mem_abort(c);
    /* The transaction that reuses seq 2 after the abort. */
    T_EQ_STR(get(m, 0, "k", 2), "=a");
    T_EQ_STR(get(m, 1, "z", 2), "=z");
    put(m, 0, "k", 2, "c");
    T_EQ_STR(get(m, 0, "k", 2), "=c");
    T_EQ_STR(get(m, 0, "k", UINT64_MAX - 1), "=c");
    ox__mem_unref(m);
}

/* A clear hides the table's older versions here and says "absent" for keys it does not
 * hold; a put after it in the same transaction (the same seq) survives it. */
static void clears_hide_what_is_older(void)
{
    ox_mem *m;
    T_EQ_INT(ox__mem_new(1 << 20, 2, &m), OX_OK);
    put(m, 0, "a", 1, "1");
    put(m, 0, "b", 1, "1");
    T_EQ_INT(ox__mem_clear(m, 0, 2, NULL), OX_OK);
    put(m, 0, "b", 2, "2");
    T_EQ_STR(get(m, 0, "a", 1), "=1");
    T_EQ_STR(get(m, 0, "a", 2), "absent");
    T_EQ_STR(get(m, 0, "b", 2), "=2");
    T_EQ_STR(get(m, 0, "zz", 2), "absent");
    T_EQ_STR(get(m, 0, "zz", 1), "miss");
    T_EQ_INT(ox__mem_cleared(m, 0, 1), 0);
    T_EQ_INT(ox__mem_cleared(m, 0, 2), 1);
    T_EQ_INT(ox__mem_cleared(m, 1, 2), 0);
    uint64_t stamp;
    T_EQ_U64(ox__mem_last_clear(m, 0, &stamp), 2);
    T_ASSERT(stamp > 0);
    /* The checkpointer's view: a is cleared, b is put. */
    ox_mem_cur c;
    MDB_val key, rec;
    ox__mem_cur_init(&c, m, 0);
    ox__mem_cur_seek(&c, NULL, 1);
    T_ASSERT(ox__mem_cur_key(&c, &key) && key.mv_size == 1 && !memcmp(key.mv_data, "a", 1));
    T_EQ_INT(ox__mem_cur_final(&c, &rec), 0);
    ox__mem_cur_step(&c, 1);
    T_ASSERT(ox__mem_cur_key(&c, &key) && !memcmp(key.mv_data, "b", 1));
    T_EQ_INT(ox__mem_cur_final(&c, &rec), 1);
    T_EQ_MEM(rec.mv_data, rec.mv_size, "2", 1);
    ox__mem_cur_step(&c, 1);
    T_EQ_INT(ox__mem_cur_key(&c, &key), 0);
    ox__mem_unref(m);
}

static int may_hold(const ox_mem *m, unsigned t, const char *lo, size_t lolen, const char *hi,
                    size_t hilen)
{
    MDB_val l = {lolen, (void *)lo}, h = {hilen, (void *)hi};
    return ox__mem_may_hold(m, t, &l, &h);
}

/* The prefix filter (a walk of [lo, hi) leaves the buffer out when it answers 0): never 0
 * for a range holding a key put here, deletions included; 0 for a prefix never put; 1 when
 * the bounds do not share OX_MEM_PREFIX bytes. And it is seldom wrong. */
static void prefix_filter_answers_for_ranges(void)
{
    ox_mem *m;
    T_EQ_INT(ox__mem_new(1 << 20, 2, &m), OX_OK);
    MDB_val a = {10, "\0AAAAAAAAk"}, c = {10, "\0CCCCCCCCk"}, d = {5, "\0DDDD"};
    T_EQ_INT(ox__mem_put(m, 0, &a, 1, "v", 1, NULL), OX_OK);
    T_EQ_INT(ox__mem_put(m, 0, &c, 2, NULL, 0, NULL), OX_OK); /* a deletion hides an older
                                                                 layer's key */
    T_EQ_INT(ox__mem_put(m, 0, &d, 3, "v", 1, NULL), OX_OK); /* shorter than a prefix: never
                                                                 in a filtered range */
    T_EQ_INT(may_hold(m, 0, "\0AAAAAAAA", 9, "\0AAAAAAAA\xff", 10), 1);
    T_EQ_INT(may_hold(m, 0, "\0AAAAAAAAa", 10, "\0AAAAAAAAb", 10), 1); /* the prefix, not the key */
    T_EQ_INT(may_hold(m, 0, "\0CCCCCCCC", 9, "\0CCCCCCCC\xff", 10), 1);
    T_EQ_INT(may_hold(m, 0, "\0BBBBBBBB", 9, "\0BBBBBBBB\xff", 10), 0);
    T_EQ_INT(may_hold(m, 1, "\0AAAAAAAA", 9, "\0AAAAAAAA\xff", 10), 0); /* another table */
    T_EQ_INT(may_hold(m, 0, "\0DDDD", 5, "\0DDDD\xff", 6), 1);             /* short bounds */
    T_EQ_INT(may_hold(m, 0, "\0BBBBBBBB", 9, "\0BBBBBBBC", 9), 1);          /* two prefixes */
    /* 1000 prefixes in a 1 MiB buffer's filter, 10000 others asked: expected wrong "may
     * hold" about 0.4% */
    char k[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "%c%08dk", 0, i);
        MDB_val kk = {10, k};
        T_EQ_INT(ox__mem_put(m, 0, &kk, 4, "v", 1, NULL), OX_OK);
    }
    int wrong = 0;
    for (int i = 0; i < 11000; i++) {
        char lo[16], hi[16];
        snprintf(lo, sizeof lo, "%c%08d", 0, i);
        memcpy(hi, lo, 9);
        hi[9] = (char)0xff;
        int h = may_hold(m, 0, lo, 9, hi, 10);
        if (i < 1000)
            T_EQ_INT(h, 1);
        else
            wrong += h;
    }
    T_ASSERT(wrong < 100);
    ox__mem_unref(m);
}

static int cmp_keys(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t xl = strlen(x), yl = strlen(y);
    int d = memcmp(x, y, xl < yl ? xl : yl);
    return d ? d : (xl < yl ? -1 : xl > yl);
}

/* m's table 0 walked both ways holds exactly want[0 .. n), in order, each visible at seq
 * 1 (ascending). */
static void walks_match(const ox_mem *m, const MDB_val *want, int n)
{
    ox_mem_cur c;
    MDB_val key, rec;
    ox__mem_cur_init(&c, m, 0);
    int i = 0;
    for (ox__mem_cur_seek(&c, NULL, 1); ox__mem_cur_key(&c, &key); ox__mem_cur_step(&c, 1), i++) {
        T_ASSERT(i < n);
        T_EQ_MEM(key.mv_data, key.mv_size, want[i].mv_data, want[i].mv_size);
        T_EQ_INT(ox__mem_cur_state(&c, 1, &rec), OX_MEM_FOUND);
    }
    T_EQ_INT(i, n);
    i = n - 1;
    for (ox__mem_cur_seek(&c, NULL, 0); ox__mem_cur_key(&c, &key); ox__mem_cur_step(&c, 0), i--) {
        T_ASSERT(i >= 0);
        T_EQ_MEM(key.mv_data, key.mv_size, want[i].mv_data, want[i].mv_size);
    }
    T_EQ_INT(i, -1);
}

#define NKEYS 20000

/* Keys come back in LMDB's order (bytes, then shorter first), both ways, and seeks land
 * where LMDB's MDB_SET_RANGE would. */
static void walks_are_ordered_both_ways(void)
{
    ox_mem *m;
    T_EQ_INT(ox__mem_new(8 << 20, 1, &m), OX_OK);
    static char *keys[NKEYS];
    srand(7);
    for (int i = 0; i < NKEYS; i++) {
        char b[32];
        int len = snprintf(b, sizeof b, "%x", rand() % 1000000) - (rand() % 3);
        if (len < 0)
            len = 0;
        b[len] = '\0';
        keys[i] = strdup(b);
        put(m, 0, keys[i], 1, keys[i]);
    }
    qsort(keys, NKEYS, sizeof keys[0], cmp_keys);
    int n = 0;
    for (int i = 0; i < NKEYS; i++)
        if (!i || strcmp(keys[i], keys[n - 1]))
            keys[n++] = keys[i];
        else
            free(keys[i]);
    static MDB_val want[NKEYS];
    for (int i = 0; i < n; i++)
        want[i] = K(keys[i]);
    walks_match(m, want, n);
    ox_mem_cur c;
    MDB_val key;
    ox__mem_cur_init(&c, m, 0);
    /* Seeks: to an existing key, between keys, past the end. */
    MDB_val k = K(keys[n / 2]);
    ox__mem_cur_seek(&c, &k, 1);
    T_ASSERT(ox__mem_cur_key(&c, &key));
    T_EQ_MEM(key.mv_data, key.mv_size, keys[n / 2], strlen(keys[n / 2]));
    ox__mem_cur_seek(&c, &k, 0);
    T_ASSERT(ox__mem_cur_key(&c, &key));
    T_EQ_MEM(key.mv_data, key.mv_size, keys[n / 2], strlen(keys[n / 2]));
    char between[40];
    snprintf(between, sizeof between, "%s\x01", keys[n / 2]); /* after it, before the next */
    k = K(between);
    ox__mem_cur_seek(&c, &k, 1);
    T_ASSERT(ox__mem_cur_key(&c, &key));
    T_EQ_MEM(key.mv_data, key.mv_size, keys[n / 2 + 1], strlen(keys[n / 2 + 1]));
    ox__mem_cur_seek(&c, &k, 0);
    T_ASSERT(ox__mem_cur_key(&c, &key));
    T_EQ_MEM(key.mv_data, key.mv_size, keys[n / 2], strlen(keys[n / 2]));
    k = K("\xff\xff");
    ox__mem_cur_seek(&c, &k, 1);
    T_EQ_INT(ox__mem_cur_key(&c, &key), 0);
    k = K("");
    ox__mem_cur_seek(&c, &k, 0);
    T_ASSERT(!ox__mem_cur_key(&c, &key) || key.mv_size == 0);
    for (int i = 0; i < n; i++)
        free(keys[i]);
    T_ASSERT(ox__mem_bytes(m) > 8 << 20 / 128); /* the index and the arena */
    ox__mem_unref(m);
}

/* ---- one writer, readers at the same time ------------------------------------------------ */

#define CKEYS 50000

struct shared {
    ox_mem *m;
    atomic_ullong visible; /* seqs up to this are committed */
    atomic_int stop;
    atomic_int bad;
};

/* Key perm(i % 5000)'s value at seq i + 1: "i:i+1". The first 5000 writes insert the keys
 * in a scattered order (new nodes between old ones), the rest write them again. */
#define PERM(i) ((unsigned)((i) % 5000) * 7919u % 5000u)

/* One walk at seq, ascending or not: ordered keys, each with a value written at or before
 * seq, and every key inserted by seq (a node linked in between is never skipped). */
static void reader_walk(struct shared *sh, uint64_t seq, int asc)
{
    ox_mem_cur c;
    MDB_val key, rec, last = {0, NULL};
    uint64_t found = 0;
    ox__mem_cur_init(&c, sh->m, 0);
    for (ox__mem_cur_seek(&c, NULL, asc); ox__mem_cur_key(&c, &key); ox__mem_cur_step(&c, asc)) {
        int d = last.mv_data ? memcmp(last.mv_data, key.mv_data, key.mv_size) : 0;
        if (last.mv_data && (key.mv_size != last.mv_size || (asc ? d >= 0 : d <= 0)))
            sh->bad++;
        last = key;
        if (ox__mem_cur_state(&c, seq, &rec) == OX_MEM_FOUND) {
            char v[48]; /* a record is not a string: what follows it in the arena may be
                           digits */
            snprintf(v, sizeof v, "%.*s", (int)rec.mv_size, (const char *)rec.mv_data);
            unsigned long long ws = strtoull(strchr(v, ':') + 1, NULL, 10);
            if (ws > seq)
                sh->bad++;
            found++;
        }
    }
    if (found != (seq < 5000 ? seq : 5000))
        sh->bad++;
}

/* Table 1 gets "p<key>k" beside each write: a range over "p<key>" may hold it from then on. */
static int prefixed_may_hold(struct shared *sh, unsigned key)
{
    char lo[16], hi[16];
    snprintf(lo, sizeof lo, "p%08u", key);
    memcpy(hi, lo, 9);
    hi[9] = (char)0xff;
    return may_hold(sh->m, 1, lo, 9, hi, 10);
}

static void *reader_main(void *arg)
{
    struct shared *sh = arg;
    for (int asc = 1; !atomic_load(&sh->stop); asc = !asc) {
        uint64_t seq = atomic_load(&sh->visible);
        reader_walk(sh, seq, asc);
        /* Lookups of keys written before seq. */
        for (uint64_t s = seq > 200 ? seq - 200 : 1; s <= seq; s++) {
            char k[32];
            snprintf(k, sizeof k, "%08u", PERM(s - 1));
            MDB_val kk = K(k);
            MDB_val rec;
            if (ox__mem_get(sh->m, 0, &kk, seq, &rec) != OX_MEM_FOUND ||
                !prefixed_may_hold(sh, PERM(s - 1)))
                sh->bad++;
        }
    }
    return NULL;
}

static void readers_run_beside_the_writer(void)
{
    struct shared sh = {0};
    T_EQ_INT(ox__mem_new(16 << 20, 2, &sh.m), OX_OK);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, reader_main, &sh);
    for (int i = 0; i < CKEYS; i++) {
        char k[32], v[48];
        snprintf(k, sizeof k, "%08u", PERM(i));
        snprintf(v, sizeof v, "%d:%d", i, i + 1);
        MDB_val kk = K(k);
        T_EQ_INT(ox__mem_put(sh.m, 0, &kk, (uint64_t)i + 1, v, strlen(v), NULL), OX_OK);
        char pk[32];
        snprintf(pk, sizeof pk, "p%08uk", PERM(i));
        MDB_val pkk = K(pk);
        T_EQ_INT(ox__mem_put(sh.m, 1, &pkk, (uint64_t)i + 1, v, strlen(v), NULL), OX_OK);
        atomic_store(&sh.visible, (uint64_t)i + 1);
    }
    atomic_store(&sh.stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    T_EQ_INT(atomic_load(&sh.bad), 0);
    ox__mem_unref(sh.m);
}


/* Keys that share long prefixes, are prefixes of each other, hold zero and 0xff bytes or
 * are empty come back in LMDB's order, each once, both ways, whatever order they came in,
 * and each is found. */
#define PKEYS 30000
static int pkey_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int d = n ? memcmp(a, b, n) : 0;
    return d ? d : (alen < blen ? -1 : alen > blen);
}

static void prefix_heavy_keys_keep_their_order(void)
{
    ox_mem *m;
    T_EQ_INT(ox__mem_new(8 << 20, 1, &m), OX_OK);
    static unsigned char *keys[PKEYS];
    static size_t lens[PKEYS];
    static int idx[PKEYS];
    static const unsigned char alpha[] = {0x00, 0x01, 'a', 0x7f, 0x80, 0xfe, 0xff};
    srand(11);
    for (int i = 0; i < PKEYS; i++) {
        unsigned char b[40];
        size_t len = 0;
        int shared = rand() % 4; /* a collection's 9-byte prefix, part of it, or none */
        if (shared == 0 || shared == 1) {
            memcpy(b, "\x01\x00\x00\x00\x00\x00\x00\x07l", 9);
            len = shared == 0 ? 9 : (size_t)(rand() % 10);
        }
        size_t tail = (size_t)(rand() % 20);
        for (size_t j = 0; j < tail; j++)
            b[len++] = alpha[rand() % (rand() % 2 ? 2 : (int)sizeof alpha)];
        keys[i] = malloc(len ? len : 1);
        memcpy(keys[i], b, len);
        lens[i] = len;
        idx[i] = i;
        MDB_val k = {len, keys[i]};
        T_EQ_INT(ox__mem_put(m, 0, &k, 1, "v", 1, NULL), OX_OK);
    }
    for (int gap = PKEYS / 2; gap > 0; gap /= 2) /* a shell sort of idx by key */
        for (int i = gap; i < PKEYS; i++)
            for (int j = i; j >= gap && pkey_cmp(keys[idx[j - gap]], lens[idx[j - gap]],
                                                 keys[idx[j]], lens[idx[j]]) > 0; j -= gap) {
                int t = idx[j];
                idx[j] = idx[j - gap];
                idx[j - gap] = t;
            }
    int uniq = 0;
    for (int i = 0; i < PKEYS; i++)
        if (!uniq || pkey_cmp(keys[idx[i]], lens[idx[i]], keys[idx[uniq - 1]],
                              lens[idx[uniq - 1]]))
            idx[uniq++] = idx[i];
    T_ASSERT(uniq > PKEYS / 3);
    static MDB_val want[PKEYS];
    for (int i = 0; i < uniq; i++)
        want[i] = (MDB_val){lens[idx[i]], keys[idx[i]]};
    walks_match(m, want, uniq);
    MDB_val rec;
    for (int i = 0; i < uniq; i++)
        T_EQ_INT(ox__mem_get(m, 0, &want[i], 1, &rec), OX_MEM_FOUND);
    for (int i = 0; i < PKEYS; i++)
        free(keys[i]);
    ox__mem_unref(m);
}

/* A buffer of the default budget takes its arena and hash index in huge-page chunks, which
 * a freed buffer leaves to the next ones (ox_mem.c's pool): the next buffer, made of the
 * same memory, holds nothing of the last one, and counts the same bytes for the same
 * writes. Two alive at once take more chunks than the pool keeps. */
#define RKEYS 100000
static size_t fill(ox_mem *m, const char *tag)
{
    char k[16], v[48];
    for (int i = 0; i < RKEYS; i++) {
        snprintf(k, sizeof k, "r%06d", i);
        snprintf(v, sizeof v, "%s:%d:%032d", tag, i, i);
        put(m, 0, k, 1, v);
    }
    return ox__mem_bytes(m);
}

static void freed_buffers_memory_serves_the_next(void)
{
    const size_t budget = 32u << 20; /* the server's default: a write-buffer-limit of 64 MiB */
    ox_mem *a, *b, *c;
    T_EQ_INT(ox__mem_new(budget, 1, &a), OX_OK);
    size_t bytes = fill(a, "a");
    T_ASSERT(bytes > 4 * OX_MEM_CHUNK && bytes < budget);
    T_EQ_STR(get(a, 0, "r000007", 1), "=a:7:00000000000000000000000000000007");
    ox__mem_unref(a);
    T_EQ_INT(ox__mem_new(budget, 1, &b), OX_OK);
    T_EQ_INT(ox__mem_new(budget, 1, &c), OX_OK);
    char k[16], want[64];
    for (int i = 0; i < RKEYS; i++) {
        snprintf(k, sizeof k, "r%06d", i);
        T_EQ_STR(get(b, 0, k, 1), "miss");
        T_EQ_STR(get(c, 0, k, 1), "miss");
    }
    ox_mem_cur cur;
    MDB_val key;
    ox__mem_cur_init(&cur, b, 0);
    ox__mem_cur_seek(&cur, NULL, 1);
    T_EQ_INT(ox__mem_cur_key(&cur, &key), 0);
    T_EQ_INT(fill(b, "b"), bytes);
    T_EQ_INT(fill(c, "c"), bytes);
    int n = 0;
    for (ox__mem_cur_seek(&cur, NULL, 1); ox__mem_cur_key(&cur, &key); ox__mem_cur_step(&cur, 1))
        n++;
    T_EQ_INT(n, RKEYS);
    for (int i = 0; i < RKEYS; i += 997) {
        snprintf(k, sizeof k, "r%06d", i);
        snprintf(want, sizeof want, "=b:%d:%032d", i, i);
        T_EQ_STR(get(b, 0, k, 1), want);
        want[1] = 'c';
        T_EQ_STR(get(c, 0, k, 1), want);
    }
    ox__mem_unref(b);
    ox__mem_unref(c);
}

int main(void)
{
    T_RUN(versions_are_seen_by_snapshot);
    T_RUN(aborted_versions_are_never_seen);
    T_RUN(clears_hide_what_is_older);
    T_RUN(prefix_filter_answers_for_ranges);
    T_RUN(walks_are_ordered_both_ways);
    T_RUN(prefix_heavy_keys_keep_their_order);
    T_RUN(readers_run_beside_the_writer);
    T_RUN(freed_buffers_memory_serves_the_next);
    return T_MAIN_END();
}
