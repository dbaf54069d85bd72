/* Configuration at run time: CONFIG SET of requirepass on one I/O thread while the others
 * read it; the texts of refused values and of the DEBUG command's gate
 * (enable-debug-command), each compared with redis-server 7.0.15's; CONFIG REWRITE of the
 * file the server started with (and its refusal without one). */
#include <limits.h>
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

/* requirepass is replaced (its old string freed) 300 times while clients on other threads
 * AUTH with a 64 KiB wrong password, whose comparison reads the configured one all along.
 * The server runs under AddressSanitizer: a read of a freed password would end it. */
static void requirepass_changes_while_others_auth(void)
{
    const char *extra[] = {"--io-threads", "4", NULL};
    T_EQ_INT(sp_start_argv(&g_srv, "config", extra), 0);
    atomic_int stop = 0;
    struct auther a[AUTHERS];
    pthread_t th[AUTHERS];
    redisContext *c = sp_connect(&g_srv);
    T_ASSERT(c);
    for (int i = 0; i < AUTHERS; i++) {
        a[i].c = sp_connect(&g_srv);
        T_ASSERT(a[i].c);
        /* Answered: the server has taken the connection in, before any password. */
        T_CMD(a[i].c, "+PONG", "PING");
    }
    /* A password before the first AUTH: without one, AUTH answers another error. */
    T_CMD(c, "+OK", "CONFIG SET requirepass first");
    for (int i = 0; i < AUTHERS; i++) {
        a[i].stop = &stop;
        atomic_init(&a[i].wrongpass, 0);
        atomic_init(&a[i].other, 0);
        pthread_create(&th[i], NULL, auther_main, &a[i]);
    }
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

#define SAVE_ERR "-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
#define DEBUG_OFF "-ERR DEBUG command not allowed. If the enable-debug-command option is set " \
                  "to \"local\", you can run it from a local connection, otherwise you need to " \
                  "set this option in the configuration file, and then restart the server."

/* CONFIG SET save answered OK to anything; Redis checks its pairs. */
static void config_set_save_is_checked(void)
{
    srvp p = {0};
    T_EQ_INT(sp_start(&p, "save"), 0);
    redisContext *c = sp_connect(&p);
    T_ASSERT(c);
    T_CMD(c, SAVE_ERR, "CONFIG SET save junk");
    T_CMD(c, SAVE_ERR, "CONFIG SET save %s", "0 0");
    T_CMD(c, "+OK", "CONFIG SET save %s", "3600 1 300 100");
    redisReply *r = redisCommand(c, "CONFIG GET save");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    T_EQ_STR(r->element[1]->str, "3600 1 300 100");
    freeReplyObject(r);
    redisFree(c);
    t_failed += sp_stop_or_dump(&p);
}

/* DEBUG is refused by default, as in Redis 7.0, with its text, after the arity check and
 * before authentication; enable-debug-command is fixed at start; "local" admits loopback
 * clients. DEBUG HELP lists the subcommands there are. */
static void debug_follows_enable_debug_command(void)
{
    srvp p = {0};
    const char *const off[] = {"--enable-debug-command", "no", "--requirepass", "pw", NULL};
    T_EQ_INT(sp_start_argv(&p, "debug-no", off), 0);
    redisContext *c = sp_connect(&p);
    T_ASSERT(c);
    T_CMD(c, "-ERR wrong number of arguments for 'debug' command", "DEBUG");
    T_CMD(c, DEBUG_OFF, "DEBUG SLEEP 0"); /* before NOAUTH, as Redis */
    T_CMD(c, "-NOAUTH HELLO must be called with the client already authenticated, otherwise "
             "the HELLO AUTH <user> <pass> option can be used to authenticate the client and "
             "select the RESP protocol version at the same time", "HELLO 3");
    T_CMD(c, "+OK", "AUTH pw");
    T_CMD(c, DEBUG_OFF, "DEBUG HELP");
    redisReply *r = redisCommand(c, "CONFIG GET enable-debug-command");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    T_EQ_STR(r->element[1]->str, "no");
    freeReplyObject(r);
    T_CMD(c, "-ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') - "
             "can't set immutable config", "CONFIG SET enable-debug-command yes");
    redisFree(c);
    t_failed += sp_stop_or_dump(&p);

    const char *const local[] = {"--enable-debug-command", "local", NULL};
    T_EQ_INT(sp_start_argv(&p, "debug-local", local), 0);
    c = sp_connect(&p);
    T_ASSERT(c);
    T_CMD(c, "+OK", "DEBUG SLEEP 0");
    T_CMD(c, "+OK", "DEBUG SLEEP notanumber"); /* strtod, as Redis */
    T_CMD(c, "-ERR unknown subcommand or wrong number of arguments for 'Foo'. Try DEBUG HELP.",
          "debug Foo");
    T_CMD(c, "-ERR unknown subcommand or wrong number of arguments for 'sleep'. Try DEBUG HELP.",
          "DEBUG sleep");
    static const char *const help[] = {
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOG <message>",
        "    Write <message> to the server log.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Setting it to 0 disables expiring keys in background when they are not",
        "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
        "    default.",
        "SLEEP <seconds>",
        "    Stop the server for <seconds>. Decimals allowed.",
        "HELP",
        "    Prints this help.",
    };
    r = redisCommand(c, "debug help");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == sizeof help / sizeof help[0]);
    for (size_t i = 0; i < r->elements; i++) {
        T_ASSERT(r->element[i]->type == REDIS_REPLY_STATUS);
        T_EQ_STR(r->element[i]->str, help[i]);
    }
    freeReplyObject(r);
    redisFree(c);
    t_failed += sp_stop_or_dump(&p);
}

/* A server started from a config file: CONFIG SET, CONFIG REWRITE, and a restart from the
 * rewritten file has the values; INFO names the file. Without a file: Redis's error. */
static void config_rewrite_writes_the_file_back(void)
{
    srvp none = {0};
    T_ASSERT(sp_start(&none, "rewrite-none") == 0);
    redisContext *c = sp_connect(&none);
    T_ASSERT(c);
    T_CMD(c, "-ERR The server is running without a config file", "CONFIG REWRITE");
    redisFree(c);
    t_failed += sp_stop_or_dump(&none);
    const char *base = t_dir();
    char path[600], dir[600], port[16], abs[PATH_MAX];
    srvp p = {.port = sp_free_port()};
    snprintf(path, sizeof path, "%s/rewrite.conf", base);
    snprintf(dir, sizeof dir, "%s/rewrite", base);
    snprintf(port, sizeof port, "%d", p.port);
    FILE *f = fopen(path, "w");
    T_ASSERT(f);
    fprintf(f, "# kept\nport %d\ndir \"%s\"\nhz 10\n", p.port, dir);
    fclose(f);
    T_ASSERT(realpath(path, abs));
    for (int round = 0; round < 2; round++) {
        p.pid = fork();
        T_ASSERT(p.pid >= 0);
        if (p.pid == 0) {
            sp_die_with_parent();
            execl(OX_SERVER_BIN, OX_SERVER_BIN, path, "--loglevel", "warning", (char *)NULL);
            _exit(127);
        }
        T_ASSERT(sp_wait_ready(p.port, p.pid) == 0);
        c = sp_connect(&p);
        T_ASSERT(c);
        char v[PATH_MAX];
        T_EQ_STR(sp_info_field(c, "server", "config_file", v, sizeof v), abs);
        if (round == 0) {
            T_CMD(c, "+OK", "CONFIG SET hz 25");
            T_CMD(c, "+OK", "CONFIG SET maxclients 77");
            T_CMD(c, "+OK", "CONFIG REWRITE");
        } else {
            T_DEEP(c, "*2 [$2 hz, $2 25]", "CONFIG GET hz");
            T_DEEP(c, "*2 [$10 maxclients, $2 77]", "CONFIG GET maxclients");
        }
        redisFree(c);
        T_EQ_INT(sp_stop(&p), 0);
    }
    char want[1400], got[1400];
    snprintf(want, sizeof want, "# kept\nport %d\ndir \"%s\"\nhz 25\n\n# Generated by CONFIG "
             "REWRITE\nmaxclients 77\nloglevel warning\nsave \"\"\n", p.port, dir);
    f = fopen(path, "r");
    T_ASSERT(f);
    size_t n = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    got[n] = '\0';
    T_EQ_STR(got, want);
}

int main(void)
{
    T_RUN(requirepass_changes_while_others_auth);
    T_RUN(config_set_save_is_checked);
    T_RUN(debug_follows_enable_debug_command);
    T_RUN(config_rewrite_writes_the_file_back);
    return T_MAIN_END();
}
