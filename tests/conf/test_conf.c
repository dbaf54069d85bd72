/* The config module: defaults, every value type, units, Redis's error texts and line
 * numbers, command-line overrides, CONFIG SET rules, CONFIG GET's text. */
#include <stdlib.h>

#include "conf.h"
#include "test.h"

T_MAIN_BEGIN;

/* Loads path (may be NULL) + argv into a fresh conf; returns conf_load's result. */
static int load(conf *c, const char *path, int argc, char **argv, char *err, size_t errlen)
{
    if (conf_init(c))
        return -2;
    return conf_load(c, path, argc, argv, err, errlen);
}

static const char *get(const conf *c, const char *name)
{
    static char buf[512];
    int i = conf_find(name, strlen(name));
    if (i < 0)
        return "(no such directive)";
    conf_format(c, (size_t)i, buf, sizeof buf);
    return buf;
}

static void defaults_are_redis_and_oxistore_defaults(void)
{
    conf c;
    T_EQ_INT(conf_init(&c), 0);
    T_EQ_STR(get(&c, "bind"), "127.0.0.1 -::1");
    T_EQ_STR(get(&c, "port"), "6379");
    T_EQ_STR(get(&c, "protected-mode"), "yes");
    T_EQ_STR(get(&c, "dir"), "./data");
    T_EQ_STR(get(&c, "dbfilename"), "oxistore.mdb");
    T_EQ_STR(get(&c, "appendfsync"), "always");
    T_EQ_STR(get(&c, "proto-max-bulk-len"), "536870912");
    T_EQ_STR(get(&c, "client-query-buffer-limit"), "1073741824");
    T_EQ_STR(get(&c, "client-output-buffer-limit"),
             "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
    T_EQ_STR(get(&c, "maxclients"), "10000");
    T_EQ_STR(get(&c, "save"), "");
    T_EQ_STR(get(&c, "appendonly"), "no");
    T_EQ_STR(get(&c, "requirepass"), "");
    T_EQ_STR(get(&c, "unixsocketperm"), "0");
    T_EQ_STR(get(&c, "loglevel"), "notice");
    T_EQ_INT(c.bind_explicit, 0);
    T_ASSERT(c.requirepass == NULL && c.unixsocket == NULL);
    conf_free(&c);
}

static void file_then_command_line_with_units_and_quotes(void)
{
    const char *path = "t1.conf";
    FILE *f = fopen(path, "w");
    T_ASSERT(f);
    fputs("# a comment\n\n  port 7001  \nbind \"127.0.0.1\" ::1\nproto-max-bulk-len 2mb\n"
          "client-query-buffer-limit 3M\nappendfsync EVERYSEC\nrequirepass \"a b\\x41\"\n"
          "client-output-buffer-limit normal 1kb 2k 30 pubsub 1 2 3\n", f);
    fclose(f);
    conf c;
    char err[512];
    char *argv[] = {"--port", "7002", "--dir", "/tmp/x y", "--unixsocketperm", "700"};
    T_EQ_INT(load(&c, path, 6, argv, err, sizeof err), 0);
    T_EQ_INT(c.port, 7002); /* the command line overrides the file */
    T_EQ_STR(c.dir, "/tmp/x y");
    T_EQ_STR(get(&c, "bind"), "127.0.0.1 ::1");
    T_EQ_INT(c.bind_explicit, 1);
    T_EQ_U64(c.proto_max_bulk_len, 2 * 1024 * 1024);
    T_EQ_U64(c.client_query_buffer_limit, 3000000);
    T_EQ_INT(c.appendfsync, CONF_FSYNC_EVERYSEC);
    T_EQ_STR(c.requirepass, "a bA");
    T_EQ_STR(get(&c, "client-output-buffer-limit"),
             "normal 1024 2000 30 slave 268435456 67108864 60 pubsub 1 2 3");
    T_EQ_STR(get(&c, "unixsocketperm"), "700");
    T_EQ_INT(c.unixsocketperm, 0700);
    conf_free(&c);
}

/* Each error exactly as redis-server 7.0.15 prints it (checked by hand against it). */
static void errors_name_the_line_as_redis_does(void)
{
    static const struct {
        int file;
        const char *a, *b, *c;
        const char *want;
    } cases[] = {
        {0, "--port", "abc", NULL, "Reading the configuration file, at line 2\n>>> 'port \"abc\"'\n"
                                  "argument couldn't be parsed into an integer"},
        {1, "--timeout", "-1", NULL, "Reading the configuration file, at line 6\n>>> 'timeout "
                                     "\"-1\"'\nargument must be between 0 and 2147483647 inclusive"},
        {0, "--port", "99999", NULL, "Reading the configuration file, at line 2\n>>> 'port "
                                     "\"99999\"'\nargument must be between 0 and 65535 inclusive"},
        {0, "--proto-max-bulk-len", "1x", NULL, "Reading the configuration file, at line 2\n>>> "
                                                "'proto-max-bulk-len \"1x\"'\nargument must be a "
                                                "memory value"},
        {0, "--proto-max-bulk-len", "10", NULL,
         "Reading the configuration file, at line 2\n>>> 'proto-max-bulk-len \"10\"'\nargument "
         "must be between 1048576 and 9223372036854775807 inclusive"},
        {0, "--protected-mode", "maybe", NULL, "Reading the configuration file, at line 2\n>>> "
                                               "'protected-mode \"maybe\"'\nargument must be "
                                               "'yes' or 'no'"},
        {0, "--port", "1", "2", "Reading the configuration file, at line 2\n>>> 'port \"1\" "
                                "\"2\"'\nwrong number of arguments"},
        {0, "--loglevel", "loud", NULL, "Reading the configuration file, at line 2\n>>> 'loglevel "
                                        "\"loud\"'\nargument(s) must be one of the following: "
                                        "debug, verbose, notice, warning"},
        {0, "--appendfsync", "sometimes", NULL,
         "Reading the configuration file, at line 2\n>>> 'appendfsync \"sometimes\"'\nargument(s) "
         "must be one of the following: everysec, always, no"},
        {0, "--maxclients", "0", NULL, "Reading the configuration file, at line 2\n>>> "
                                       "'maxclients \"0\"'\nargument must be between 1 and "
                                       "4294967295 inclusive"},
        {0, "--nosuch", "x", NULL, "Reading the configuration file, at line 2\n>>> 'nosuch "
                                   "\"x\"'\nBad directive or wrong number of arguments"},
        {0, "--unixsocketperm", "999", NULL, "Reading the configuration file, at line 2\n>>> "
                                             "'unixsocketperm \"999\"'\nargument couldn't be "
                                             "parsed as an octal number"},
        {0, "--client-output-buffer-limit", "normal", "1",
         "Reading the configuration file, at line 2\n>>> 'client-output-buffer-limit \"normal\" "
         "\"1\"'\nWrong number of arguments in buffer limit configuration."},
        {0, "--client-output-buffer-limit", "normal 1", NULL,
         "Reading the configuration file, at line 2\n>>> 'client-output-buffer-limit \"normal "
         "1\"'\nWrong number of arguments in buffer limit configuration."},
    };
    FILE *f = fopen("four-lines.conf", "w");
    T_ASSERT(f);
    fputs("port 7001\n# comment\n\nloglevel warning\n", f);
    fclose(f);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        conf c;
        char err[512];
        char *argv[3] = {(char *)cases[i].a, (char *)cases[i].b, (char *)cases[i].c};
        int argc = cases[i].c ? 3 : 2;
        T_EQ_INT(load(&c, cases[i].file ? "four-lines.conf" : NULL, argc, argv, err, sizeof err),
                 -1);
        conf_free(&c);
        T_EQ_STR(err, cases[i].want);
    }
    f = fopen("unbalanced.conf", "w");
    fputs("port \"7001\n", f);
    fclose(f);
    conf c;
    char err[512];
    T_EQ_INT(load(&c, "unbalanced.conf", 0, NULL, err, sizeof err), -1);
    conf_free(&c);
    T_EQ_STR(err, "Reading the configuration file, at line 1\n>>> 'port \"7001'\n"
                  "Unbalanced quotes in configuration line");
    T_EQ_INT(load(&c, "missing.conf", 0, NULL, err, sizeof err), -1);
    conf_free(&c);
    T_EQ_STR(err, "Fatal error, can't open config file 'missing.conf': No such file or directory");
}

static void config_set_rules(void)
{
    conf c;
    const char *why;
    T_EQ_INT(conf_init(&c), 0);
    int port = conf_find("PORT", 4), dir = conf_find("dir", 3), dbs = conf_find("databases", 9);
    int to = conf_find("timeout", 7), pm = conf_find("proto-max-bulk-len", 18);
    int bind = conf_find("bind", 4), pass = conf_find("requirepass", 11);
    int cobl = conf_find("client-output-buffer-limit", 26);
    T_ASSERT(port >= 0 && dir >= 0 && dbs >= 0 && to >= 0 && pm >= 0 && bind >= 0 && pass >= 0);
    T_EQ_INT(conf_find("nope", 4), -1);
    T_EQ_INT(conf_set(&c, (size_t)dbs, "3", 1, &why), -1);
    T_EQ_STR(why, "can't set immutable config");
    T_EQ_INT(conf_set(&c, (size_t)dir, "/tmp", 4, &why), -1);
    T_EQ_STR(why, "can't set protected config");
    T_EQ_INT(conf_set(&c, (size_t)to, "x", 1, &why), -1);
    T_EQ_STR(why, "argument couldn't be parsed into an integer");
    T_EQ_INT(conf_set(&c, (size_t)pm, "10k", 3, &why), -1);
    T_EQ_STR(why, "argument must be between 1048576 and 9223372036854775807 inclusive");
    T_EQ_U64(c.proto_max_bulk_len, 536870912); /* unchanged on error */
    T_EQ_INT(conf_set(&c, (size_t)to, "30", 2, &why), 0);
    T_EQ_U64(c.timeout, 30);
    T_EQ_INT(conf_set(&c, (size_t)pass, "secret", 6, &why), 0);
    T_EQ_STR(get(&c, "requirepass"), "secret");
    T_EQ_INT(conf_set(&c, (size_t)pass, "", 0, &why), 0);
    T_ASSERT(c.requirepass == NULL);
    T_EQ_INT(conf_set(&c, (size_t)bind, "0.0.0.0 ::", 10, &why), 0);
    T_EQ_STR(get(&c, "bind"), "0.0.0.0 ::");
    T_EQ_INT(conf_set(&c, (size_t)cobl, "normal 1mb 0 0", 14, &why), 0);
    T_EQ_U64(c.client_output_normal_hard, 1048576);
    T_EQ_INT(conf_set(&c, (size_t)cobl, "normal 1 2", 10, &why), -1);
    T_EQ_STR(why, "Wrong number of arguments in buffer limit configuration.");
    T_EQ_U64(c.client_output_normal_hard, 1048576);
    T_EQ_STR(conf_name((size_t)port), "port");
    T_ASSERT(conf_count() > 20);
    conf_free(&c);
}

/* redis-server 7.0 splits the one argument of a multi-argument directive, so that
 * --client-output-buffer-limit "normal 4mb 2mb 1" works; an empty one stays an argument. */
static void one_quoted_argument_of_a_multi_argument_directive_is_split(void)
{
    conf c;
    char err[512];
    char *argv[] = {"--client-output-buffer-limit", "normal 4mb 2mb 1", "--bind",
                    "10.0.0.1 -::1"};
    T_EQ_INT(load(&c, NULL, 4, argv, err, sizeof err), 0);
    T_EQ_INT(c.client_output_normal_hard, 4 << 20);
    T_EQ_INT(c.client_output_normal_soft, 2 << 20);
    T_EQ_INT(c.client_output_normal_secs, 1);
    T_EQ_STR(get(&c, "bind"), "10.0.0.1 -::1");
    T_EQ_INT(c.nbind, 2);
    conf_free(&c);
}

/* save: pairs of seconds (>= 1) and changes (>= 0), checked and split as Redis 7.0 does
 * (its texts, compared with redis-server): a config file's save lines add up, CONFIG SET
 * replaces, "" empties, a refused value changes nothing. */
static void save_is_checked_as_redis_checks_it(void)
{
    conf c;
    char err[512];
    char *argv[] = {"--save", "900", "1", "--save", "300", "+10"};
    T_EQ_INT(load(&c, NULL, 6, argv, err, sizeof err), 0);
    T_EQ_STR(get(&c, "save"), "900 1 300 10");
    int i = conf_find("save", 4);
    const char *why = NULL;
    static const char *const bad[] = {"junk", "100", "100 x", "-1 10", "0 0", " 10  20 ",
                                      "10 2x", "1 -1", "1 2 3"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        why = NULL;
        T_EQ_INT(conf_set(&c, (size_t)i, bad[k], strlen(bad[k]), &why), -1);
        T_EQ_STR(why, "Invalid save parameters");
        T_EQ_STR(get(&c, "save"), "900 1 300 10");
    }
    T_EQ_INT(conf_set(&c, (size_t)i, "3600 1 300 020", 14, &why), 0);
    T_EQ_STR(get(&c, "save"), "3600 1 300 20");
    T_EQ_INT(conf_set(&c, (size_t)i, "", 0, &why), 0);
    T_EQ_STR(get(&c, "save"), "");
    conf_free(&c);
    char *argv2[] = {"--save", "1"};
    T_EQ_INT(load(&c, NULL, 2, argv2, err, sizeof err), -1);
    T_ASSERT(strstr(err, ">>> 'save \"1\"'\nInvalid save parameters") != NULL);
    conf_free(&c);
}

/* Reads the file at path whole into buf (NUL-terminated). */
static const char *slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

/* CONFIG REWRITE as Redis 7.0 writes the file: lines replaced in place (an alias's by the
 * canonical name, a directive's extra lines blanked), comments and unknown lines kept,
 * what differs from the defaults and was missing appended after the mark, memory in its
 * largest unit, strings quoted; the result loads back to the same values; a second
 * rewrite changes nothing. */
static void rewrite_keeps_the_file_and_adds_what_changed(void)
{
    const char *path = "t-rewrite.conf";
    FILE *f = fopen(path, "w");
    T_ASSERT(f);
    fputs("# top comment\nport 7391\nbind 127.0.0.1 -::1\n\n# limits\nmaxclients 100\n"
          "lua-time-limit 3000\nbusy-reply-threshold 4000\nappendfsync always\n# end\n", f);
    fclose(f);
    conf c;
    char err[512], *argv[] = {"--port", "7400"};
    T_EQ_INT(load(&c, path, 2, argv, err, sizeof err), 0);
    const char *why;
    T_EQ_INT(conf_set(&c, (size_t)conf_find("maxclients", 10), "200", 3, &why), 0);
    T_EQ_INT(conf_set(&c, (size_t)conf_find("hz", 2), "20", 2, &why), 0);
    T_EQ_INT(conf_set(&c, (size_t)conf_find("lua-memory-limit", 16), "64mb", 4, &why), 0);
    T_EQ_INT(conf_set(&c, (size_t)conf_find("requirepass", 11), "a \"b", 4, &why), 0);
    T_EQ_INT(conf_set(&c, (size_t)conf_find("client-output-buffer-limit", 26),
                      "pubsub 1mb 256kb 60", 19, &why), 0);
    T_EQ_INT(conf_rewrite(&c, path, err, sizeof err), 0);
    static char got[4096];
    T_EQ_STR(slurp(path, got, sizeof got),
             "# top comment\nport 7400\nbind 127.0.0.1 -::1\n\n# limits\nmaxclients 200\n"
             "busy-reply-threshold 4000\n\nappendfsync always\n# end\n\n"
             "# Generated by CONFIG REWRITE\nhz 20\n"
             "client-output-buffer-limit pubsub 1mb 256kb 60\nrequirepass \"a \\\"b\"\n"
             "save \"\"\nlua-memory-limit 64mb\n");
    conf d;
    T_EQ_INT(load(&d, path, 0, NULL, err, sizeof err), 0);
    for (size_t i = 0; i < conf_count(); i++) {
        char a[512], b[512];
        conf_format(&c, i, a, sizeof a);
        conf_format(&d, i, b, sizeof b);
        if (strcmp(a, b))
            T_FAIL("%s: %s before the rewrite, %s after", conf_name(i), a, b);
    }
    T_EQ_INT(conf_rewrite(&d, path, err, sizeof err), 0);
    static char again[4096];
    T_EQ_STR(slurp(path, again, sizeof again), got);
    conf_free(&c);
    conf_free(&d);
    T_EQ_INT(conf_rewrite(&d, "/nonexistent-dir/x.conf", err, sizeof err), -1);
    T_EQ_STR(err, "Rewriting config file: No such file or directory");
    remove(path);
}

int main(void)
{
    T_RUN(defaults_are_redis_and_oxistore_defaults);
    T_RUN(file_then_command_line_with_units_and_quotes);
    T_RUN(errors_name_the_line_as_redis_does);
    T_RUN(config_set_rules);
    T_RUN(one_quoted_argument_of_a_multi_argument_directive_is_split);
    T_RUN(save_is_checked_as_redis_checks_it);
    T_RUN(rewrite_keeps_the_file_and_adds_what_changed);
    return T_MAIN_END();
}
