/* Celery against the server: Debian's python3-celery 5.2 with kombu's Redis transport, a
 * worker and a client using the server as broker (db 0) and result backend (db 1), as a
 * user's `broker_url = redis://...` does. A task's result, a countdown (kombu's delayed
 * delivery: the unacked sorted set and hash, restored by the worker), a group, a chain, a
 * chord (the backend's counter and its pub/sub result channels) and a task's retries
 * all come back exact; the keys left behind are Redis's (15 results with a day's TTL,
 * kombu's binding set) and the data file checks clean. */
#include "srv_util.h"

T_MAIN_BEGIN;

/* The tasks, imported by the worker and the client alike. */
static const char TASKS_PY[] =
    "import os\n"
    "from celery import Celery\n"
    "url = 'redis://127.0.0.1:%s/' % os.environ['OX_CELERY_PORT']\n"
    "app = Celery('ctasks', broker=url + '0', backend=url + '1')\n"
    "app.conf.broker_connection_retry_on_startup = True\n"
    "@app.task\n"
    "def add(a, b):\n"
    "    return a + b\n"
    "@app.task\n"
    "def total(xs):\n"
    "    return sum(xs)\n"
    "@app.task(bind=True, max_retries=3, default_retry_delay=0.2)\n"
    "def flaky(self, fails):\n"
    "    if self.request.retries < fails:\n"
    "        raise self.retry()\n"
    "    return self.request.retries\n";

/* The client: starts a worker (killed with this process, whatever happens), sends the
 * work, prints each result as it comes back. */
static const char RUN_PY[] =
    "import ctypes, os, subprocess, sys\n"
    "from celery import chain, chord, group\n"
    "import ctasks\n"
    "def die_with_parent():\n"
    "    ctypes.CDLL('libc.so.6').prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL\n"
    "w = subprocess.Popen([sys.executable, '-m', 'celery', '-A', 'ctasks', 'worker',\n"
    "                      '--pool=solo', '--loglevel=warning', '--without-heartbeat',\n"
    "                      '--without-gossip', '--without-mingle'],\n"
    "                     stdout=subprocess.DEVNULL, stderr=open('worker.log', 'w'),\n"
    "                     preexec_fn=die_with_parent)\n"
    "try:\n"
    "    t = 60\n"
    "    print('add', ctasks.add.delay(2, 3).get(timeout=t))\n"
    "    print('countdown', ctasks.add.apply_async((1, 1), countdown=1).get(timeout=t))\n"
    "    print('group', group(ctasks.add.s(i, i) for i in range(5))().get(timeout=t))\n"
    "    print('chain', chain(ctasks.add.s(1, 2), ctasks.add.s(3))().get(timeout=t))\n"
    "    print('chord', chord(ctasks.add.s(i, 1) for i in range(4))(ctasks.total.s())"
    ".get(timeout=t))\n"
    "    print('retry', ctasks.flaky.delay(2).get(timeout=t))\n"
    "finally:\n"
    "    w.terminate()\n"
    "    w.wait()\n";

static void celery_worker_and_client_get_every_result(void)
{
    const char *dir = t_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/ctasks.py", dir);
    T_ASSERT(sp_write_file(path, TASKS_PY) == 0);
    snprintf(path, sizeof path, "%s/celery_run.py", dir);
    T_ASSERT(sp_write_file(path, RUN_PY) == 0);

    srvp p;
    T_ASSERT(sp_start(&p, "celery") == 0);
    char cmd[1024], out[512] = "";
    snprintf(cmd, sizeof cmd,
             "cd '%s' && OX_CELERY_PORT=%d timeout -k 5 180 /usr/bin/python3 celery_run.py "
             "2>client.log",
             dir, p.port);
    FILE *f = popen(cmd, "r");
    T_ASSERT(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    int rc = pclose(f);
    if (rc != 0) {
        snprintf(cmd, sizeof cmd, "tail -n 30 '%s/client.log' '%s/worker.log'", dir, dir);
        T_ASSERT(system(cmd) != -1);
    }
    T_EQ_INT(rc, 0);
    T_EQ_STR(out, "add 5\n"
                  "countdown 2\n"
                  "group [0, 2, 4, 6, 8]\n"
                  "chain 6\n"
                  "chord 10\n"
                  "retry 2\n");

    redisContext *c = sp_connect(&p);
    T_ASSERT(c);
    T_EQ_STR(sp_q(c, "DBSIZE"), ":1");
    T_EQ_STR(sp_q(c, "TYPE _kombu.binding.celery"), "+set");
    T_EQ_STR(sp_q(c, "SELECT 1"), "+OK");
    T_EQ_STR(sp_q(c, "DBSIZE"), ":15");
    /* every result a task's, each expiring in a day (result_expires) */
    redisReply *r = redisCommand(c, "KEYS celery-task-meta-*");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY);
    T_EQ_INT((long long)r->elements, 15);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *t = redisCommand(c, "TTL %s", r->element[i]->str);
        T_ASSERT(t && t->type == REDIS_REPLY_INTEGER);
        T_ASSERT(t->integer > 86000 && t->integer <= 86400);
        freeReplyObject(t);
    }
    freeReplyObject(r);
    redisFree(c);
    T_EQ_INT(sp_stop_or_dump(&p), 0);
    char why[1024];
    if (!sp_check(&p, why, sizeof why))
        T_FAIL("oxistore-check: %s", why);
}

int main(void)
{
    T_RUN(celery_worker_and_client_get_every_result);
    return T_MAIN_END();
}
