/* Failover with Debian's Redis 7.0 Sentinel (issue #15): three Sentinels watch an
 * oxistore master and two replicas, each started from a config file. Writes acknowledged
 * by WAIT 2 before the master is killed with SIGKILL are all on the replica Sentinel
 * promotes; the other replica follows it; the old master, restarted with the config
 * Sentinel had rewritten, comes back as a replica of the new one with the same data; a
 * replica with replica-priority 0 is never the one promoted; and
 * redis-py's Sentinel client finds the new master and writes to it. */
#include <stdarg.h>

#include "srv_util.h"

T_MAIN_BEGIN;

#define NSENT 3
#define KEYS 1000
#define DEADLINE_MS 60000

/* An oxistore node started from its own config file (path into conf), optionally a
 * replica of master_port. */
static int start_node(srvp *p, const char *name, int master_port, int priority, char *conf,
                      size_t cap)
{
    const char *base = t_dir();
    snprintf(conf, cap, "%s/%s.conf", base, name);
    char text[256] = "# a node of the Sentinel test\n";
    if (master_port)
        snprintf(text, sizeof text, "replicaof 127.0.0.1 %d\nreplica-priority %d\n",
                 master_port, priority);
    if (sp_write_file(conf, text))
        return -1;
    return sp_start_conf(p, OX_SERVER_BIN, name, conf, NULL);
}

static int start_sentinel(srvp *s, int idx, int master_port)
{
    const char *base = t_dir();
    s->port = sp_free_port();
    snprintf(s->dir, sizeof s->dir, "%s/sentinel%d", base, idx);
    snprintf(s->log, sizeof s->log, "%s/sentinel%d.log", base, idx);
    mkdir(s->dir, 0755);
    char conf[600], text[1024];
    snprintf(conf, sizeof conf, "%s/sentinel.conf", s->dir);
    snprintf(text, sizeof text,
             "port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"
             "sentinel monitor mymaster 127.0.0.1 %d 2\n"
             "sentinel down-after-milliseconds mymaster 1000\n"
             "sentinel failover-timeout mymaster 10000\n"
             "sentinel parallel-syncs mymaster 2\n",
             s->port, s->dir, s->log, master_port);
    if (sp_write_file(conf, text))
        return -1;
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        sp_die_with_parent();
        execlp("redis-server", "redis-server", conf, "--sentinel", (char *)NULL);
        _exit(127);
    }
    return sp_wait_ready(s->port, s->pid);
}

/* An integer a Sentinel reports of mymaster ("num-slaves", "num-other-sentinels"). */
static long long sentinel_field(redisContext *c, const char *name)
{
    redisReply *r = redisCommand(c, "SENTINEL MASTER mymaster");
    long long v = -1;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        if (!strcmp(r->element[i]->str, name))
            v = atoll(r->element[i + 1]->str);
    freeReplyObject(r);
    return v;
}

/* The port Sentinel names as mymaster's, or -1. */
static int master_port_of(redisContext *c)
{
    redisReply *r = redisCommand(c, "SENTINEL GET-MASTER-ADDR-BY-NAME mymaster");
    int port = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? atoi(r->element[1]->str)
                                                                      : -1;
    freeReplyObject(r);
    return port;
}

/* 1 once c's ROLE says: a replica of port, connected. */
static int follows(redisContext *c, int port)
{
    redisReply *r = redisCommand(c, "ROLE");
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 5 &&
             !strcmp(r->element[0]->str, "slave") && r->element[2]->integer == port &&
             !strcmp(r->element[3]->str, "connected");
    freeReplyObject(r);
    return ok;
}

static void sentinel_fails_over_and_the_old_master_rejoins(void)
{
    srvp node[3] = {{0}}, sent[NSENT] = {{0}};
    char conf[3][600];
    redisContext *nc[3] = {0}, *sc[NSENT] = {0};
    /* node2 has replica-priority 0: Sentinel never promotes it. */
    T_ASSERT(start_node(&node[0], "node0", 0, 0, conf[0], sizeof conf[0]) == 0);
    T_ASSERT(start_node(&node[1], "node1", node[0].port, 100, conf[1], sizeof conf[1]) == 0);
    T_ASSERT(start_node(&node[2], "node2", node[0].port, 0, conf[2], sizeof conf[2]) == 0);
    for (int i = 0; i < 3; i++)
        T_ASSERT((nc[i] = sp_connect(&node[i])) != NULL);
    for (int i = 0; i < NSENT; i++) {
        T_ASSERT(start_sentinel(&sent[i], i, node[0].port) == 0);
        T_ASSERT((sc[i] = sp_connect(&sent[i])) != NULL);
    }
    /* Every Sentinel knows both replicas and the two other Sentinels. */
    uint64_t end = sp_now_ms() + DEADLINE_MS;
    int ready = 0;
    while (!ready && sp_now_ms() < end) {
        ready = 1;
        for (int i = 0; i < NSENT; i++)
            ready &= sentinel_field(sc[i], "num-slaves") == 2 &&
                     sentinel_field(sc[i], "num-other-sentinels") == NSENT - 1;
        if (!ready)
            usleep(100000);
    }
    T_ASSERT(ready);
    for (int i = 0; i < KEYS; i++)
        redisAppendCommand(nc[0], "SET key:%d %d", i, i);
    for (int i = 0; i < KEYS; i++) {
        redisReply *r;
        T_ASSERT(redisGetReply(nc[0], (void **)&r) == REDIS_OK);
        freeReplyObject(r);
    }
    T_EQ_STR(sp_q(nc[0], "WAIT 2 10000"), ":2");
    /* The master dies. */
    redisFree(nc[0]);
    nc[0] = NULL;
    sp_kill(&node[0]);
    uint64_t killed = sp_now_ms();
    int np = -1;
    while (sp_now_ms() < end && ((np = master_port_of(sc[0])) == node[0].port || np < 0))
        usleep(50000);
    T_EQ_INT(np, node[1].port);
    uint64_t failover_ms = sp_now_ms() - killed;
    int nm = np == node[1].port ? 1 : 2, other = 3 - nm;
    /* Sentinel's failover closes the normal clients (CLIENT KILL TYPE normal): ours too. */
    for (int i = 1; i < 3; i++) {
        redisFree(nc[i]);
        T_ASSERT((nc[i] = sp_connect(&node[i])) != NULL);
    }
    T_EQ_STR(sp_q(nc[nm], "GET key:%d", KEYS - 1), "$3 999");
    T_EQ_STR(sp_q(nc[nm], "DBSIZE"), ":1000");
    while (sp_now_ms() < end && !follows(nc[other], node[nm].port)) {
        usleep(50000);
        if (nc[other]->err) { /* its reconfiguration closes us again */
            redisFree(nc[other]);
            T_ASSERT((nc[other] = sp_connect(&node[other])) != NULL);
        }
    }
    T_ASSERT(follows(nc[other], node[nm].port));
    /* The old master comes back with its config file, which Sentinel rewrites. */
    node[0].pid = 0;
    T_ASSERT(sp_start_conf(&node[0], OX_SERVER_BIN, "node0", conf[0], NULL) == 0);
    T_ASSERT((nc[0] = sp_connect(&node[0])) != NULL);
    while (sp_now_ms() < end && !follows(nc[0], node[nm].port)) {
        usleep(100000);
        if (nc[0]->err) {
            redisFree(nc[0]);
            T_ASSERT((nc[0] = sp_connect(&node[0])) != NULL);
        }
    }
    if (!follows(nc[0], node[nm].port)) { /* seen once in a loaded make test: what it was */
        redisReply *role = redisCommand(nc[0], "ROLE");
        char shown[256] = "(no reply)";
        if (role)
            sp_show_deep(role, shown, sizeof shown);
        freeReplyObject(role);
        fprintf(stderr, "old master's ROLE: %s; its log:\n", shown);
        sp_dump_log(&node[0]);
        for (int i = 0; i < NSENT; i++) {
            fprintf(stderr, "sentinel %d's log:\n", i);
            sp_dump_log(&sent[i]);
        }
        T_FAIL("the old master does not follow the new one (port %d)", node[nm].port);
    }
    T_EQ_STR(sp_q(nc[nm], "SET after failover"), "+OK");
    T_EQ_STR(sp_q(nc[nm], "WAIT 2 10000"), ":2");
    char why[128];
    if (!sp_same_data(&node[nm], &node[other], why, sizeof why))
        T_FAIL("the other replica: %s", why);
    if (!sp_same_data(&node[nm], &node[0], why, sizeof why))
        T_FAIL("the old master: %s", why);
    /* redis-py's Sentinel client finds the new master and writes to it. */
    char cmd[1024], out[256] = "";
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"from redis.sentinel import Sentinel; "
             "s = Sentinel([('127.0.0.1', %d)], socket_timeout=5); "
             "m = s.master_for('mymaster', socket_timeout=5); m.set('py', 'yes'); "
             "print(s.discover_master('mymaster')[1], m.get('py').decode())\"",
             sent[1].port);
    FILE *f = popen(cmd, "r");
    T_ASSERT(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    T_EQ_INT(pclose(f), 0);
    char want[64];
    snprintf(want, sizeof want, "%d yes\n", node[nm].port);
    T_EQ_STR(out, want);
    printf("failover: the new master named %llu ms after the SIGKILL\n",
           (unsigned long long)failover_ms);
    for (int i = 0; i < NSENT; i++) {
        redisFree(sc[i]);
        sp_kill(&sent[i]);
    }
    for (int i = 0; i < 3; i++) {
        redisFree(nc[i]);
        T_EQ_INT(sp_stop_or_dump(&node[i]), 0);
    }
}

int main(void)
{
    T_RUN(sentinel_fails_over_and_the_old_master_rejoins);
    return T_MAIN_END();
}
