/* CONFIG SET on one I/O thread while the others read the configuration: requirepass is
 * replaced (its old string freed) 300 times while clients on other threads AUTH with a
 * 64 KiB wrong password, whose comparison reads the configured one all along. The server
 * runs under AddressSanitizer: a read of a freed password would end it. */
#include <pthread.h>
#include <stdatomic.h>

#include "srv_util.h"

T_MAIN_BEGIN;

static srvp g_srv;

#define AUTHERS 3
#define ROUNDS 300

struct auther {
    redisContext *c; /* connected before any password: no unauthenticated-size limit */
    atomic_int *stop;
    atomic_int wrongpass, other;
};

static void *auther_main(void *arg)
{
    struct auther *a = arg;
    static char pass[64 << 10];
    memset(pass, 'x', sizeof pass - 1);
    redisContext *c = a->c;
    while (!atomic_load(a->stop)) {
        redisReply *r = redisCommand(c, "AUTH %s", pass);
        if (!r)
            break;
        if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "WRONGPASS", 9))
            a->wrongpass++;
        else
            a->other++;
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

static void requirepass_changes_while_others_auth(void)
{
    const char *extra[] = {"--io-threads", "4", NULL};
    T_EQ_INT(sp_start_argv(&g_srv, "config", extra), 0);
    atomic_int stop = 0;
    struct auther a[AUTHERS];
    pthread_t th[AUTHERS];
    for (int i = 0; i < AUTHERS; i++) {
        a[i].c = sp_connect(&g_srv);
        T_ASSERT(a[i].c);
        T_CMD(a[i].c, "+PONG", "PING"); /* accepted before the password is set */
        a[i].stop = &stop;
        atomic_init(&a[i].wrongpass, 0);
        atomic_init(&a[i].other, 0);
    }
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    /* A password first: an AUTH before any is answered "called without any password". */
    T_CMD(c, "+OK", "CONFIG SET requirepass first");
    for (int i = 0; i < AUTHERS; i++)
        pthread_create(&th[i], NULL, auther_main, &a[i]);
    char pass[2048];
    uint64_t deadline = t_now_ms() + 30000;
    /* At least ROUNDS changes, and on until every auther has been answered 20 times. */
    for (int r = 0; t_now_ms() < deadline; r++) {
        int busy = r < ROUNDS;
        for (int i = 0; i < AUTHERS; i++)
            busy |= atomic_load(&a[i].wrongpass) + atomic_load(&a[i].other) < 20;
        if (!busy)
            break;
        size_t n = 1 + (size_t)(r * 37) % (sizeof pass - 1);
        memset(pass, 'a' + r % 26, n);
        pass[n] = '\0';
        T_CMD(c, "+OK", "CONFIG SET requirepass %s", pass);
    }
    atomic_store(&stop, 1);
    int wrong = 0, other = 0;
    for (int i = 0; i < AUTHERS; i++) {
        pthread_join(th[i], NULL);
        wrong += atomic_load(&a[i].wrongpass);
        other += atomic_load(&a[i].other);
    }
    T_ASSERT(wrong >= 20 * AUTHERS);
    T_EQ_INT(other, 0);
    printf("requirepass changed while %d AUTHs were compared\n", wrong);
    /* The connection that set it stays authenticated; a new one needs the last password. */
    redisContext *n = sp_connect(&g_srv);
    T_ASSERT(n);
    T_CMD(n, "-NOAUTH Authentication required.", "PING");
    T_CMD(n, "+OK", "AUTH %s", pass);
    T_CMD(n, "+PONG", "PING");
    redisFree(n);
    redisFree(c);
    t_failed += sp_stop_or_dump(&g_srv);
}

int main(void)
{
    T_RUN(requirepass_changes_while_others_auth);
    return T_MAIN_END();
}
