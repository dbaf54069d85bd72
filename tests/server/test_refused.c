/* A write answered with an error has no effect: not while the server runs, and not after
 * a crash and a restart (#16: a FLUSHDB refused with -MISCONF on a full disk emptied the
 * database at the next start, replayed from the write-ahead log).
 *
 * For each kind of disk fault (fault_shim.c's modes) and each appendfsync policy, every
 * write command kind is sent while the fault lasts, then the server is killed with the
 * fault still on and restarted. A model of the data set takes each write whose reply was
 * a success and ignores each refused one; after each step the server's contents must be
 * the model's, exactly (every key, every value, DBSIZE of each database). */
#include "fault_util.h"

T_MAIN_BEGIN;

#define MISCONF "MISCONF Errors writing to the data file: "
#define BIG_LEN (9u << 20) /* larger than half the 16 MB log: the log's side file */

/* ---- the model: two databases of a few keys ------------------------------------------ */

typedef struct mkey {
    char key[16];
    char val[24]; /* "=BIG" stands for BIG_LEN bytes of 'b' */
} mkey;

typedef struct mdb {
    mkey k[32];
    int n;
} mdb;

static mdb g_db[2];

static mkey *model_find(mdb *d, const char *key)
{
    for (int i = 0; i < d->n; i++)
        if (!strcmp(d->k[i].key, key))
            return &d->k[i];
    return NULL;
}

static void model_set(mdb *d, const char *key, const char *val)
{
    mkey *m = model_find(d, key);
    if (!m) {
        m = &d->k[d->n++];
        snprintf(m->key, sizeof m->key, "%s", key);
    }
    snprintf(m->val, sizeof m->val, "%s", val);
}

static void model_del(mdb *d, const char *key)
{
    mkey *m = model_find(d, key);
    if (m)
        *m = d->k[--d->n];
}

static void model_incr(mdb *d, const char *key)
{
    mkey *m = model_find(d, key);
    char v[24];
    snprintf(v, sizeof v, "%lld", (m ? atoll(m->val) : 0) + 1);
    model_set(d, key, v);
}

/* The server's contents equal the model's, in databases 0 and 1 (leaves db 0 selected). */
static void model_check(redisContext *c, const char *when)
{
    for (int db = 0; db < 2; db++) {
        redisReply *r = redisCommand(c, "SELECT %d", db);
        T_ASSERT(r && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);
        r = redisCommand(c, "DBSIZE");
        T_ASSERT(r && r->type == REDIS_REPLY_INTEGER);
        if (r->integer != g_db[db].n)
            T_FAIL("%s: db %d holds %lld keys, the model %d", when, db, r->integer,
                   g_db[db].n);
        freeReplyObject(r);
        for (int i = 0; i < g_db[db].n; i++) {
            const mkey *m = &g_db[db].k[i];
            r = redisCommand(c, "GET %s", m->key);
            T_ASSERT(r);
            int big = !strcmp(m->val, "=BIG");
            int same = r->type == REDIS_REPLY_STRING &&
                       (big ? r->len == BIG_LEN && r->str[0] == 'b' && r->str[BIG_LEN - 1] == 'b'
                            : !strcmp(r->str, m->val));
            char shown[64];
            sp_show(r, shown, sizeof shown);
            freeReplyObject(r);
            if (!same)
                T_FAIL("%s: db %d %s is %s, the model says %s", when, db, m->key, shown,
                       m->val);
        }
    }
    redisReply *r = redisCommand(c, "SELECT 0");
    freeReplyObject(r);
}

/* ---- the writes --------------------------------------------------------------------- */

/* 1 if r is Redis's MISCONF refusal; for EXEC, also an array of them. */
static int refused(const redisReply *r)
{
    if (r && r->type == REDIS_REPLY_ERROR)
        return !strncmp(r->str, MISCONF, strlen(MISCONF));
    if (!r || r->type != REDIS_REPLY_ARRAY || !r->elements)
        return 0;
    for (size_t i = 0; i < r->elements; i++)
        if (!refused(r->element[i]))
            return 0;
    return 1;
}

enum { W_SET, W_INCR, W_MSET, W_EXEC, W_DEL, W_SWAPDB, W_FLUSHDB, W_FLUSHALL, W_BIG, W_COUNT };
static const char *const w_name[W_COUNT] = {"SET", "INCR", "MSET", "EXEC", "DEL", "SWAPDB",
                                            "FLUSHDB", "FLUSHALL", "SET (9 MB)"};

/* Sends write w; on success applies it to the model. 1 refused, 0 applied, -1 anything
 * else (then the test fails). */
static int write_one(redisContext *c, int w)
{
    redisReply *r = NULL;
    static char *bigval;
    switch (w) {
    case W_SET: r = redisCommand(c, "SET a:0 changed"); break;
    case W_INCR: r = redisCommand(c, "INCR c"); break;
    case W_MSET: r = redisCommand(c, "MSET m:1 1 m:2 2"); break;
    case W_EXEC:
        freeReplyObject(redisCommand(c, "MULTI"));
        freeReplyObject(redisCommand(c, "SET e:1 x"));
        freeReplyObject(redisCommand(c, "INCR c"));
        r = redisCommand(c, "EXEC");
        break;
    case W_DEL: r = redisCommand(c, "DEL a:1"); break;
    case W_SWAPDB: r = redisCommand(c, "SWAPDB 0 1"); break;
    case W_FLUSHDB: r = redisCommand(c, "FLUSHDB"); break;
    case W_FLUSHALL: r = redisCommand(c, "FLUSHALL"); break;
    case W_BIG:
        if (!bigval && (bigval = malloc(BIG_LEN)))
            memset(bigval, 'b', BIG_LEN);
        r = bigval ? redisCommand(c, "SET big %b", bigval, (size_t)BIG_LEN) : NULL;
        break;
    }
    int out = refused(r) ? 1 : -1;
    if (out < 0 && r && r->type != REDIS_REPLY_ERROR) {
        out = 0;
        switch (w) {
        case W_SET: model_set(&g_db[0], "a:0", "changed"); break;
        case W_INCR: model_incr(&g_db[0], "c"); break;
        case W_MSET:
            model_set(&g_db[0], "m:1", "1");
            model_set(&g_db[0], "m:2", "2");
            break;
        case W_EXEC:
            model_set(&g_db[0], "e:1", "x");
            model_incr(&g_db[0], "c");
            break;
        case W_DEL: model_del(&g_db[0], "a:1"); break;
        case W_SWAPDB: {
            mdb t = g_db[0];
            g_db[0] = g_db[1];
            g_db[1] = t;
            break;
        }
        case W_FLUSHALL: g_db[1].n = 0; /* fall through */
        case W_FLUSHDB: g_db[0].n = 0; break;
        case W_BIG: model_set(&g_db[0], "big", "=BIG"); break;
        }
    }
    if (out < 0) {
        char shown[128];
        fprintf(stderr, "  %s answered %s\n", w_name[w], sp_show(r, shown, sizeof shown));
    }
    freeReplyObject(r);
    return out;
}

/* ---- the matrix ---------------------------------------------------------------------- */

/* One fault mode under one policy: each write kind in turn is sent while the fault
 * lasts, the contents checked, the server killed (fault still on) and restarted, the
 * contents checked again. must_refuse: every write fails under this fault, as it hits the
 * write-ahead log (its appends or its syncs). A fault of the data file alone does not
 * refuse writes: the log takes them, the write buffer holds them, and checkpoints retry
 * until the disk answers; the model then says what must be there. */
static void faulted_writes_stay_refused_after_a_crash(const char *mode, const char *policy,
                                                      int must_refuse)
{
    char name[64];
    snprintf(name, sizeof name, "ref-%s-%s", policy, mode);
    for (char *p = name; *p; p++)
        if (*p == ' ')
            *p = '-';
    const char *const args[] = {"--appendfsync", policy, NULL};
    srvp p = {0};
    memset(g_db, 0, sizeof g_db);
    if (start_faulty_argv(&p, name, args))
        T_FAIL("%s/%s: server did not start", mode, policy);
    redisContext *c = sp_connect(&p);
    T_ASSERT(c);
    for (int i = 0; i < 10; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "a:%d", i);
        snprintf(v, sizeof v, "v%d", i);
        T_CMD(c, "+OK", "SET %s %s", k, v);
        model_set(&g_db[0], k, v);
    }
    T_CMD(c, "+OK", "SET c 10");
    model_set(&g_db[0], "c", "10");
    T_CMD(c, "+OK", "SELECT 1");
    T_CMD(c, "+OK", "SET d1 one");
    model_set(&g_db[1], "d1", "one");
    T_CMD(c, "+OK", "SELECT 0");
    int nrefused = 0;
    for (int w = 0; w < W_COUNT; w++) {
        T_ASSERT(fault_on(mode) == 0);
        int out = write_one(c, w);
        if (out < 0 || (must_refuse && out != 1))
            T_FAIL("%s/%s: %s was %s", mode, policy, w_name[w],
                   out < 0 ? "answered neither with success nor -MISCONF" : "not refused");
        nrefused += out;
        char when[96];
        snprintf(when, sizeof when, "%s/%s after a refused %s", mode, policy, w_name[w]);
        model_check(c, when);
        if (t_failed_now)
            return;
        redisFree(c);
        sp_kill(&p);
        fault_off();
        if (start_faulty_argv(&p, name, args))
            T_FAIL("%s/%s: server did not restart after %s", mode, policy, w_name[w]);
        c = sp_connect(&p);
        T_ASSERT(c);
        snprintf(when, sizeof when, "%s/%s after %s and a SIGKILL", mode, policy, w_name[w]);
        model_check(c, when);
        if (t_failed_now) {
            sp_dump_log(&p);
            return;
        }
    }
    printf("%s, appendfsync %s: %d of %d writes refused; contents as the model after each "
           "SIGKILL\n", mode,
           policy, nrefused, W_COUNT);
    /* The disk is back: writes are taken again. */
    T_CMD(c, "+OK", "SET after yes");
    redisFree(c);
    T_EQ_INT(sp_stop(&p), 0);
}

static void refused_writes_stay_refused_appendfsync_always(void)
{
    faulted_writes_stay_refused_after_a_crash("EIO log", "always", 1);
    faulted_writes_stay_refused_after_a_crash("EIO sync", "always", 1);
    faulted_writes_stay_refused_after_a_crash("ENOSPC", "always", 1);
    faulted_writes_stay_refused_after_a_crash("EIO data", "always", 0);
    faulted_writes_stay_refused_after_a_crash("EIO meta", "always", 0);
    faulted_writes_stay_refused_after_a_crash("ENOSPC grow", "always", 0);
}

/* Under everysec a log whose syncs fail still takes appends (acknowledged before their
 * sync, by that policy's contract): "EIO sync" is not a refusal there. */
static void refused_writes_stay_refused_appendfsync_everysec(void)
{
    faulted_writes_stay_refused_after_a_crash("EIO log", "everysec", 1);
    faulted_writes_stay_refused_after_a_crash("ENOSPC", "everysec", 1);
    faulted_writes_stay_refused_after_a_crash("EIO data", "everysec", 0);
    faulted_writes_stay_refused_after_a_crash("ENOSPC grow", "everysec", 0);
}

/* Under no, the log is written without syncs: its writes failing refuse writes. */
static void refused_writes_stay_refused_appendfsync_no(void)
{
    faulted_writes_stay_refused_after_a_crash("EIO log", "no", 1);
    faulted_writes_stay_refused_after_a_crash("EIO data", "no", 0);
    faulted_writes_stay_refused_after_a_crash("ENOSPC grow", "no", 0);
}

int main(void)
{
    T_RUN(refused_writes_stay_refused_appendfsync_always);
    T_RUN(refused_writes_stay_refused_appendfsync_everysec);
    T_RUN(refused_writes_stay_refused_appendfsync_no);
    return T_MAIN_END();
}
