/* The real tools against oxistore-server: redis-cli (raw, --no-raw, -3, piped commands)
 * and redis-benchmark, compared to their exact output. */
#include "srv_util.h"

T_MAIN_BEGIN;

static srvp g_srv;

/* Runs a shell command line (with %d for the port) and returns its stdout (static). */
static const char *run(const char *fmt)
{
    static char out[8192];
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, g_srv.port);
    FILE *f = popen(cmd, "r");
    size_t n = 0;
    if (f) {
        n = fread(out, 1, sizeof out - 1, f);
        if (pclose(f) != 0)
            n = 0, snprintf(out, sizeof out, "(exit status not 0)");
    }
    out[n] = '\0';
    return out;
}

static void redis_cli_replies(void)
{
    T_ASSERT(sp_start(&g_srv, "tools") == 0);
    T_EQ_STR(run("redis-cli -p %d set k 'hello world'"), "OK\n");
    T_EQ_STR(run("redis-cli -p %d get k"), "hello world\n");
    T_EQ_STR(run("redis-cli -p %d --no-raw get k"), "\"hello world\"\n");
    T_EQ_STR(run("redis-cli -p %d --no-raw get missing"), "(nil)\n");
    T_EQ_STR(run("redis-cli -p %d --no-raw incr n"), "(integer) 1\n");
    T_EQ_STR(run("redis-cli -p %d --no-raw mget k n missing"),
             "1) \"hello world\"\n2) \"1\"\n3) (nil)\n");
    T_EQ_STR(run("redis-cli -p %d --no-raw foo 2>&1"),
             "(error) ERR unknown command 'foo', with args beginning with: \n");
    T_EQ_STR(run("redis-cli -3 -p %d --no-raw get missing"), "(nil)\n");
    T_EQ_STR(run("redis-cli -3 -p %d --no-raw mget k missing"), "1) \"hello world\"\n2) (nil)\n");
    T_EQ_STR(run("printf 'ping\\nset a 1\\nincr a\\nget a\\n' | redis-cli -p %d"),
             "PONG\nOK\n2\n2\n");
}

static void redis_benchmark_runs_clean(void)
{
    const char *out = run("redis-benchmark -p %d -t set,get -n 10000 -q 2>/dev/null "
                          "| tr '\\r' '\\n' | grep -a 'requests per second' | cut -d: -f1");
    T_EQ_STR(out, "SET\nGET\n");
    T_EQ_INT(sp_stop(&g_srv), 0);
}

int main(void)
{
    T_RUN(redis_cli_replies);
    T_RUN(redis_benchmark_runs_clean);
    if (g_srv.pid)
        sp_kill(&g_srv);
    return T_MAIN_END();
}
