/* Crash test: clients write under load (single commands, expiring keys, pipelines and
 * MULTI/EXEC transactions), the server is killed with SIGKILL at a random moment, 20 rounds
 * on the same data; after each restart every write a client saw acknowledged must be there
 * (an expiring one with its expiry time), and every transaction is there whole or not at
 * all (never half), acknowledged or not. And keys set and deleted across many checkpoints
 * are read back at their last acknowledged version, before and after a SIGKILL. And
 * hashes, lists, sets and sorted sets written and popped under load hold exactly a prefix
 * of their writes, every acknowledged one included, after each SIGKILL. */
#include <pthread.h>
#include <stdatomic.h>

#include "srv_util.h"

T_MAIN_BEGIN;

#define ROUNDS 20
#define WRITERS 8
#define MAX_ACKS 100000
#define TX_KEYS 4
#define EXPIRING 4 /* this writer's keys are set with EX 3600 */

struct writer {
    srvp *p;
    int round, id;
    int acked;             /* writes 0..acked-1 were acknowledged */
    int sent;              /* writes 0..sent-1 were sent (a transaction's may be in) */
    atomic_int *total;     /* acks over all writers, to pick the kill moment */
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    redisContext *c = sp_connect(w->p);
    if (!c)
        return NULL;
    int seq = 0;
    /* Writers 2 and 5 write transactions of TX_KEYS keys each, pipelined. */
    while (seq < MAX_ACKS && (w->id == 2 || w->id == 5)) {
        redisAppendCommand(c, "MULTI");
        for (int k = 0; k < TX_KEYS; k++)
            redisAppendCommand(c, "SET r%d:w%d:%d:%d v%d", w->round, w->id, seq, k, seq);
        redisAppendCommand(c, "EXEC");
        w->sent = seq + 1;
        redisReply *r = NULL;
        int ok = 1;
        for (int k = 0; k < TX_KEYS + 2 && ok; k++) {
            freeReplyObject(r);
            r = NULL;
            ok = redisGetReply(c, (void **)&r) == REDIS_OK;
        }
        ok = ok && r->type == REDIS_REPLY_ARRAY && r->elements == TX_KEYS;
        freeReplyObject(r);
        if (!ok)
            break;
        w->acked = ++seq;
        atomic_fetch_add(w->total, 1);
    }
    while (seq < MAX_ACKS && w->id != 2 && w->id != 5) {
        /* Odd writers pipeline 16 SETs at a time; even ones send one at a time. */
        int batch = (w->id & 1) ? 16 : 1;
        for (int i = 0; i < batch; i++)
            redisAppendCommand(c, w->id == EXPIRING ? "SET r%d:w%d:%d v%d EX 3600"
                                                    : "SET r%d:w%d:%d v%d",
                               w->round, w->id, seq + i, seq + i);
        int ok = 1;
        for (int i = 0; i < batch && ok; i++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                ok = 0;
                break;
            }
            ok = r->type == REDIS_REPLY_STATUS;
            freeReplyObject(r);
            if (ok) {
                w->acked = seq + i + 1;
                atomic_fetch_add(w->total, 1);
            }
        }
        if (!ok)
            break;
        seq += batch;
    }
    redisFree(c);
    return NULL;
}

static void acknowledged_writes_survive_sigkill(void)
{
    srvp p = {0};
    struct writer all[ROUNDS][WRITERS];
    unsigned seed = 4242;
    for (int r = 0; r < ROUNDS; r++) {
        if (sp_start(&p, "crash")) {
            sp_dump_log(&p);
            T_FAIL("round %d: server did not start", r);
        }
        atomic_int total = 0;
        pthread_t th[WRITERS];
        for (int i = 0; i < WRITERS; i++) {
            all[r][i] = (struct writer){.p = &p, .round = r, .id = i, .total = &total};
            pthread_create(&th[i], NULL, writer_main, &all[r][i]);
        }
        int kill_after = 50 + (int)(rand_r(&seed) % 2000);
        uint64_t deadline = t_now_ms() + 60000;
        while (atomic_load(&total) < kill_after && t_now_ms() < deadline)
            usleep(1000); /* polls the ack count; the kill moment is what varies */
        sp_kill(&p);
        for (int i = 0; i < WRITERS; i++)
            pthread_join(th[i], NULL);
        T_ASSERT(atomic_load(&total) >= kill_after);

        if (sp_start(&p, "crash")) {
            sp_dump_log(&p);
            T_FAIL("round %d: server did not restart", r);
        }
        redisContext *c = sp_connect(&p);
        T_ASSERT(c);
        long lost = 0, checked = 0, halves = 0, txs = 0, ttls = 0;
        for (int q = 0; q <= r; q++) {
            for (int i = 0; i < WRITERS; i++) {
                if (i == 2 || i == 5) {
                    for (int s = 0; s < all[q][i].sent; s++) {
                        int present = 0;
                        for (int k = 0; k < TX_KEYS; k++) {
                            redisReply *rep = redisCommand(c, "EXISTS r%d:w%d:%d:%d", q, i, s, k);
                            present += rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
                            freeReplyObject(rep);
                        }
                        if (present != 0 && present != TX_KEYS)
                            halves++;
                        else if (present == 0 && s < all[q][i].acked)
                            lost++;
                        txs++;
                    }
                    continue;
                }
                for (int s = 0; s < all[q][i].acked; s++) {
                    redisAppendCommand(c, "GET r%d:w%d:%d", q, i, s);
                }
                for (int s = 0; s < all[q][i].acked; s++) {
                    redisReply *rep;
                    char want[16];
                    snprintf(want, sizeof want, "v%d", s);
                    if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
                        redisFree(c);
                        T_FAIL("round %d: connection lost while verifying", r);
                    }
                    if (rep->type != REDIS_REPLY_STRING || strcmp(rep->str, want))
                        lost++;
                    checked++;
                    freeReplyObject(rep);
                }
                for (int s = 0; i == EXPIRING && s < all[q][i].acked; s++) {
                    /* The expiry time came back too: within the hour it was given. */
                    redisReply *rep = redisCommand(c, "TTL r%d:w%d:%d", q, i, s);
                    if (!rep || rep->type != REDIS_REPLY_INTEGER || rep->integer < 1 ||
                        rep->integer > 3600)
                        lost++;
                    ttls++;
                    freeReplyObject(rep);
                }
            }
        }
        redisFree(c);
        if (lost || halves)
            T_FAIL("round %d: %ld acknowledged writes or transactions lost, %ld transactions "
                   "half there (of %ld writes, %ld transactions)", r, lost, halves, checked, txs);
        if (r == ROUNDS - 1)
            printf("%d rounds: %ld acknowledged writes (%ld expiring) and %ld transactions "
                   "verified, 0 lost, 0 half\n", ROUNDS, checked, ttls, txs);
        sp_kill(&p); /* the next round starts from a killed server too */
    }
}

/* ---- collections under load ------------------------------------------------------------- */

/* Each client thread owns one collection per round and runs a fixed sequence of writes on
 * it (adds and pops/removals mixed; the list thread pipelines 8 at a time). After the
 * SIGKILL and restart, the collection must be exactly what the first k writes make, for
 * some k between the writes acknowledged and those sent: every acknowledged add there,
 * every acknowledged pop gone, an unacknowledged write whole or absent (HSET of two
 * fields, SADD of two members), and HLEN/LLEN/SCARD/ZCARD equal to what is there. */
enum { CT_TYPES = 4, CT_ROUNDS = 8, CT_MAX_OPS = 4000, CT_PIPE = 8 };

struct ctw {
    srvp *p;
    int round, type; /* 0 hash, 1 list, 2 set, 3 zset */
    atomic_int *total;
    int acked, sent;
};

/* Write i of a type's sequence into c (appended, not sent). */
static void ct_append(redisContext *c, int type, int round, int i)
{
    switch (type) {
    case 0:
        if (i % 5 == 4)
            redisAppendCommand(c, "HDEL ch%d f%d", round, (i - 1) % 40);
        else
            redisAppendCommand(c, "HSET ch%d f%d v%d f%d v%d", round, i % 40, i, 40 + i % 40, i);
        break;
    case 1:
        if (i % 3 == 2)
            redisAppendCommand(c, "LPOP cl%d", round);
        else
            redisAppendCommand(c, "RPUSH cl%d e%d", round, i);
        break;
    case 2:
        if (i % 4 == 3)
            redisAppendCommand(c, "SREM cs%d m%d", round, i - 1);
        else
            redisAppendCommand(c, "SADD cs%d m%d n%d", round, i, i);
        break;
    default:
        if (i % 3 == 2)
            redisAppendCommand(c, "ZPOPMIN cz%d", round);
        else
            redisAppendCommand(c, "ZADD cz%d %d m%d", round, i, i);
        break;
    }
}

static void *ct_main(void *arg)
{
    struct ctw *w = arg;
    redisContext *c = sp_connect(w->p);
    if (!c)
        return NULL;
    int batch = w->type == 1 ? CT_PIPE : 1;
    while (w->sent + batch <= CT_MAX_OPS) {
        for (int i = 0; i < batch; i++)
            ct_append(c, w->type, w->round, w->sent + i);
        w->sent += batch;
        int ok = 1;
        for (int i = 0; i < batch && ok; i++) {
            redisReply *r;
            ok = redisGetReply(c, (void **)&r) == REDIS_OK && r->type != REDIS_REPLY_ERROR;
            if (ok) {
                freeReplyObject(r);
                w->acked++;
                atomic_fetch_add(w->total, 1);
            }
        }
        if (!ok)
            break;
    }
    redisFree(c);
    return NULL;
}

/* The collection after the first k writes, as text: "field=value,..." in field order,
 * list elements in order, set members sorted, "member:score" in score order. */
static void ct_model(int type, int k, char *out, size_t cap)
{
    static int val[80], list[CT_MAX_OPS], in[2 * CT_MAX_OPS];
    size_t len = 0;
    out[0] = '\0';
    if (type == 0) {
        for (int f = 0; f < 80; f++)
            val[f] = -1;
        for (int i = 0; i < k; i++) {
            if (i % 5 == 4)
                val[(i - 1) % 40] = -1;
            else
                val[i % 40] = val[40 + i % 40] = i;
        }
        static char store[80][16];
        const char *names[80];
        int n = 0;
        for (int f = 0; f < 80; f++)
            if (val[f] >= 0) {
                snprintf(store[n], sizeof store[n], "f%d=v%d", f, val[f]);
                names[n] = store[n];
                n++;
            }
        for (int a = 1; a < n; a++) /* sort by text: HGETALL's fields are sorted alike */
            for (int b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
                const char *t = names[b];
                names[b] = names[b - 1];
                names[b - 1] = t;
            }
        for (int a = 0; a < n && len < cap; a++)
            len += (size_t)snprintf(out + len, cap - len, "%s,", names[a]);
        return;
    }
    if (type == 1 || type == 3) { /* both FIFO: pops take the oldest (the lowest score) */
        int head = 0, tail = 0;
        for (int i = 0; i < k; i++) {
            if (i % 3 == 2) {
                if (head < tail)
                    head++;
            } else {
                list[tail++] = i;
            }
        }
        for (int i = head; i < tail && len < cap; i++)
            len += (size_t)snprintf(out + len, cap - len, type == 1 ? "e%d," : "m%d:%d,",
                                    list[i], list[i]);
        return;
    }
    memset(in, 0, sizeof in);
    for (int i = 0; i < k; i++) {
        if (i % 4 == 3)
            in[2 * (i - 1)] = 0;
        else
            in[2 * i] = in[2 * i + 1] = 1;
    }
    for (int i = 0; i < 2 * k && len < cap; i++)
        if (in[i])
            len += (size_t)snprintf(out + len, cap - len, "%c%d,", i % 2 ? 'n' : 'm', i / 2);
}

static int ct_text_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The collection on the server, as ct_model writes it; -1 if its count disagrees. */
static int ct_read(redisContext *c, int type, int round, char *out, size_t cap)
{
    static const char *const get[] = {"HGETALL ch%d", "LRANGE cl%d 0 -1", "SMEMBERS cs%d",
                                      "ZRANGE cz%d 0 -1 WITHSCORES"};
    static const char *const card[] = {"HLEN ch%d", "LLEN cl%d", "SCARD cs%d", "ZCARD cz%d"};
    redisReply *r = redisCommand(c, get[type], round);
    redisReply *n = redisCommand(c, card[type], round);
    if (!r || !n || r->type != REDIS_REPLY_ARRAY || n->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        freeReplyObject(n);
        return -1;
    }
    size_t per = type == 0 || type == 3 ? 2 : 1, items = r->elements / per, len = 0;
    int bad = (long long)items != n->integer;
    char **text = calloc(items ? items : 1, sizeof *text);
    for (size_t i = 0; i < items; i++) {
        char buf[64];
        if (type == 0)
            snprintf(buf, sizeof buf, "%s=%s", r->element[2 * i]->str, r->element[2 * i + 1]->str);
        else if (type == 3)
            snprintf(buf, sizeof buf, "%s:%s", r->element[2 * i]->str, r->element[2 * i + 1]->str);
        else
            snprintf(buf, sizeof buf, "%s", r->element[i]->str);
        text[i] = strdup(buf);
    }
    if (type == 0) /* the model lists fields in their text order */
        qsort(text, items, sizeof *text, ct_text_cmp);
    if (type == 2) { /* members in the model's order: m0 n0 m1 n1 ... */
        for (size_t a = 1; a < items; a++)
            for (size_t b = a; b > 0; b--) {
                int ia = atoi(text[b - 1] + 1), ib = atoi(text[b] + 1);
                if (ia < ib || (ia == ib && text[b - 1][0] <= text[b][0]))
                    break;
                char *t = text[b];
                text[b] = text[b - 1];
                text[b - 1] = t;
            }
    }
    out[0] = '\0';
    for (size_t i = 0; i < items; i++) {
        if (len < cap)
            len += (size_t)snprintf(out + len, cap - len, "%s,", text[i]);
        free(text[i]);
    }
    free(text);
    freeReplyObject(r);
    freeReplyObject(n);
    return bad ? -1 : 0;
}

static void collections_survive_sigkill_under_load(void)
{
    static char got[1 << 17], want[1 << 17];
    static char kept[CT_ROUNDS][CT_TYPES][1 << 12];
    srvp p = {0};
    unsigned seed = 777;
    long verified = 0;
    for (int r = 0; r < CT_ROUNDS; r++) {
        if (sp_start(&p, "crash-coll")) {
            sp_dump_log(&p);
            T_FAIL("round %d: server did not start", r);
        }
        atomic_int total = 0;
        struct ctw w[CT_TYPES];
        pthread_t th[CT_TYPES];
        for (int t = 0; t < CT_TYPES; t++) {
            w[t] = (struct ctw){.p = &p, .round = r, .type = t, .total = &total};
            pthread_create(&th[t], NULL, ct_main, &w[t]);
        }
        int kill_after = 100 + (int)(rand_r(&seed) % 1500);
        uint64_t deadline = t_now_ms() + 60000;
        while (atomic_load(&total) < kill_after && t_now_ms() < deadline)
            usleep(1000); /* polls the ack count; the kill moment is what varies */
        sp_kill(&p);
        for (int t = 0; t < CT_TYPES; t++)
            pthread_join(th[t], NULL);
        T_ASSERT(sp_start(&p, "crash-coll") == 0);
        redisContext *c = sp_connect(&p);
        T_ASSERT(c);
        for (int t = 0; t < CT_TYPES; t++) {
            T_ASSERT(ct_read(c, t, r, got, sizeof got) == 0);
            int match = 0;
            for (int k = w[t].acked; k <= w[t].sent && !match; k++) {
                ct_model(t, k, want, sizeof want);
                match = !strcmp(got, want);
            }
            if (!match)
                T_FAIL("round %d type %d: %d writes acknowledged, %d sent: the collection "
                       "matches none of them", r, t, w[t].acked, w[t].sent);
            snprintf(kept[r][t], sizeof kept[r][t], "%.4000s", got);
            verified += w[t].acked;
        }
        for (int q = 0; q < r; q++) /* earlier rounds' collections stay as they were */
            for (int t = 0; t < CT_TYPES; t++) {
                T_ASSERT(ct_read(c, t, q, got, sizeof got) == 0);
                if (strncmp(got, kept[q][t], strlen(kept[q][t])))
                    T_FAIL("round %d: round %d's collection %d changed", r, q, t);
            }
        redisFree(c);
        sp_kill(&p);
    }
    char why[4096]; /* what the last kill left, its log replayed: every collection whole */
    if (!sp_check(&p, why, sizeof why))
        T_FAIL("oxistore-check after the last kill: %s", why);
    printf("%d rounds: %ld acknowledged collection writes verified, 0 lost, 0 half\n",
           CT_ROUNDS, verified);
}

/* ---- versions across checkpoints ---------------------------------------------------------- */

enum { VK_KEYS = 200, VK_BATCHES = 400, VK_BATCH = 20, VK_VLEN = 1000 };

/* What one client's acknowledged writes left: per key its version (0: absent), and how
 * many times it was set and deleted (a scan's duty to a key depends on both). */
struct vmodel {
    int ver[VK_KEYS], sets[VK_KEYS], dels[VK_KEYS];
};

/* The value of version v: its number, then padding up to VK_VLEN bytes. */
static void vk_value(char *buf, int v)
{
    int n = snprintf(buf, VK_VLEN + 1, "%08d-", v);
    memset(buf + n, 'a' + v % 26, (size_t)(VK_VLEN - n));
    buf[VK_VLEN] = '\0';
}

/* GETs every key of keys[0..n) on c, pipelined, and compares each reply with the model.
 * Returns how many differ (the first one's description in why). */
static int vk_check(redisContext *c, const struct vmodel *m, const int *keys, int n,
                    char *why, size_t whylen)
{
    int bad = 0;
    for (int i = 0; i < n; i++)
        redisAppendCommand(c, "GET v:%03d", keys[i]);
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        char want[VK_VLEN + 1];
        int v = m->ver[keys[i]];
        if (v)
            vk_value(want, v);
        int ok = redisGetReply(c, (void **)&r) == REDIS_OK &&
                 (v ? r->type == REDIS_REPLY_STRING && r->len == VK_VLEN && !memcmp(r->str, want, VK_VLEN)
                    : r->type == REDIS_REPLY_NIL);
        if (!ok && !bad++) {
            char got[64];
            snprintf(why, whylen, "v:%03d is %s, expected version %d", keys[i],
                     sp_show(r, got, sizeof got), v);
        }
        freeReplyObject(r);
    }
    return bad;
}

/* A whole-space scan, one step per batch of writes: what it owes each key. */
struct vscan {
    char cursor[32];
    int live0[VK_KEYS], sets0[VK_KEYS], dels0[VK_KEYS], seen[VK_KEYS];
    int scans, twice, missed, dead_seen;
};

static void vscan_start(struct vscan *sc, const struct vmodel *m)
{
    snprintf(sc->cursor, sizeof sc->cursor, "0");
    for (int k = 0; k < VK_KEYS; k++) {
        sc->live0[k] = m->ver[k] != 0;
        sc->sets0[k] = m->sets[k];
        sc->dels0[k] = m->dels[k];
        sc->seen[k] = 0;
    }
}

/* One SCAN step; at the end of a whole scan, every key live throughout must have come
 * once, none twice, and none absent throughout. -1 on a bad reply. */
static int vscan_step(redisContext *c, struct vscan *sc, const struct vmodel *m)
{
    redisReply *r = redisCommand(c, "SCAN %s MATCH v:* COUNT 20", sc->cursor);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        freeReplyObject(r);
        return -1;
    }
    snprintf(sc->cursor, sizeof sc->cursor, "%s", r->element[0]->str);
    for (size_t i = 0; i < r->element[1]->elements; i++)
        sc->seen[atoi(r->element[1]->element[i]->str + 2) % VK_KEYS]++;
    freeReplyObject(r);
    if (strcmp(sc->cursor, "0"))
        return 0;
    for (int k = 0; k < VK_KEYS; k++) {
        sc->twice += sc->seen[k] > 1;
        sc->missed += sc->live0[k] && m->dels[k] == sc->dels0[k] && !sc->seen[k];
        sc->dead_seen += !sc->live0[k] && m->sets[k] == sc->sets0[k] && sc->seen[k];
    }
    sc->scans++;
    vscan_start(sc, m);
    return 0;
}

/* One client SETs and DELs 200 keys (1000-byte values, versions counting up; 20 writes
 * pipelined a batch) through a dozen checkpoints (write-buffer-limit 1mb). After each
 * acknowledged batch another client GETs exactly the versions it left (a deleted key
 * never comes back), each DEL counts exactly the keys the model has, and a third client's
 * SCAN, one step a batch, returns each key at most once a whole scan, every key present
 * throughout, none absent throughout. Then SIGKILL: after the restart, every key holds
 * its last acknowledged version, DBSIZE and a whole SCAN agree. */
static void versions_across_checkpoints_hold_and_survive_sigkill(void)
{
    srvp p = {0};
    const char *const args[] = {"--write-buffer-limit", "1mb", NULL};
    if (sp_start_argv(&p, "versions", args)) {
        sp_dump_log(&p);
        T_FAIL("server did not start");
    }
    redisContext *w = sp_connect(&p), *r = sp_connect(&p), *sc = sp_connect(&p);
    T_ASSERT(w && r && sc);
    static struct vmodel m;
    static struct vscan scan;
    memset(&m, 0, sizeof m);
    vscan_start(&scan, &m);
    unsigned seed = 777;
    int version = 0, bad = 0, bad_replies = 0;
    char why[128] = "", val[VK_VLEN + 1];
    uint64_t ckpt0 = sp_checkpoints(&p);
    for (int b = 0; b < VK_BATCHES && !bad && !bad_replies; b++) {
        int keys[VK_BATCH], vers[VK_BATCH]; /* vers 0: a DEL */
        for (int i = 0; i < VK_BATCH; i++) {
            keys[i] = (int)(rand_r(&seed) % VK_KEYS);
            vers[i] = rand_r(&seed) % 4 == 0 ? 0 : ++version;
            if (!vers[i]) {
                redisAppendCommand(w, "DEL v:%03d", keys[i]);
            } else {
                vk_value(val, vers[i]);
                redisAppendCommand(w, "SET v:%03d %s", keys[i], val);
            }
        }
        for (int i = 0; i < VK_BATCH; i++) {
            redisReply *rep = NULL;
            int k = keys[i];
            if (redisGetReply(w, (void **)&rep) != REDIS_OK) {
                bad_replies++;
                break;
            }
            if (!vers[i]) { /* DEL counts the key exactly when the model has it */
                bad_replies += rep->type != REDIS_REPLY_INTEGER || rep->integer != (m.ver[k] != 0);
                m.dels[k]++;
            } else {
                bad_replies += rep->type != REDIS_REPLY_STATUS;
                m.sets[k]++;
            }
            m.ver[k] = vers[i];
            freeReplyObject(rep);
        }
        bad = vk_check(r, &m, keys, VK_BATCH, why, sizeof why);
        bad_replies += vscan_step(sc, &scan, &m) != 0;
    }
    uint64_t checkpoints = sp_checkpoints(&p) - ckpt0;
    redisFree(w);
    redisFree(r);
    redisFree(sc);
    printf("versions: %d writes in %d batches, %llu checkpoints, %d whole scans\n", version,
           VK_BATCHES, (unsigned long long)checkpoints, scan.scans);
    if (bad || bad_replies)
        sp_kill(&p);
    if (bad)
        T_FAIL("%d keys differ from the acknowledged versions: %s", bad, why);
    T_EQ_INT(bad_replies, 0);
    T_EQ_INT(scan.twice, 0);
    T_EQ_INT(scan.missed, 0);
    T_EQ_INT(scan.dead_seen, 0);
    T_ASSERT(scan.scans >= VK_BATCHES / 20);
    T_ASSERT(checkpoints >= 5);

    sp_kill(&p);
    if (sp_start_argv(&p, "versions", args)) {
        sp_dump_log(&p);
        T_FAIL("server did not restart");
    }
    redisContext *c = sp_connect(&p);
    T_ASSERT(c);
    int all[VK_KEYS], live = 0;
    for (int k = 0; k < VK_KEYS; k++) {
        all[k] = k;
        live += m.ver[k] != 0;
    }
    bad = vk_check(c, &m, all, VK_KEYS, why, sizeof why);
    vscan_start(&scan, &m);
    scan.scans = 0;
    int steps = 0;
    do
        bad_replies += vscan_step(c, &scan, &m) != 0;
    while (!bad_replies && scan.scans == 0 && ++steps < VK_KEYS);
    redisReply *rep = redisCommand(c, "DBSIZE");
    long long dbsize = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    freeReplyObject(rep);
    redisFree(c);
    sp_kill(&p);
    if (bad)
        T_FAIL("after SIGKILL, %d keys differ from the acknowledged versions: %s", bad, why);
    T_EQ_INT(dbsize, live);
    T_EQ_INT(bad_replies, 0);
    T_EQ_INT(scan.scans, 1);
    T_EQ_INT(scan.twice + scan.missed + scan.dead_seen, 0);
}

int main(void)
{
    T_RUN(acknowledged_writes_survive_sigkill);
    T_RUN(versions_across_checkpoints_hold_and_survive_sigkill);
    T_RUN(collections_survive_sigkill_under_load);
    return T_MAIN_END();
}
