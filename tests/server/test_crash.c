/* Crash test: clients write under load (single commands, expiring keys, pipelines and
 * MULTI/EXEC transactions), the server is killed with SIGKILL at a random moment, 20 rounds
 * on the same data; after each restart every write a client saw acknowledged must be there
 * (an expiring one with its expiry time), and every transaction is there whole or not at
 * all (never half), acknowledged or not. */
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

int main(void)
{
    T_RUN(acknowledged_writes_survive_sigkill);
    return T_MAIN_END();
}
