/* COMMAND and its subcommands against the reference redis-server 7.0 (started here, as
 * test_diff.c does; the test fails without it): COMMAND INFO of every command and
 * subcommand in oxistore's COMMAND LIST byte for byte, in RESP2 and RESP3 (a container
 * lists only the subcommands oxistore has, in its own order); COMMAND GETKEYS and
 * GETKEYSANDFLAGS on fixed and generated argument lists; COMMAND LIST's filters and
 * COUNT; COMMAND DOCS' facts (group, since, doc flags); HELP and the errors. */
#include "ref_util.h"

T_MAIN_BEGIN;

static srvp g_ox, g_ref;

/* Subcommands oxistore has from Redis 7.2 (clients send CLIENT SETINFO on connect); the
 * 7.0 reference knows neither. */
static const char *const g_newer[] = {"client|no-touch", "client|setinfo"};

static int is_newer(const char *name)
{
    for (size_t i = 0; i < sizeof g_newer / sizeof *g_newer; i++)
        if (!strcmp(name, g_newer[i]))
            return 1;
    return 0;
}

/* oxistore's COMMAND LIST, every name in it (top-level, then "parent|sub"). */
static char g_names[512][32];
static int g_nnames;

static void servers_start(void)
{
    T_ASSERT(sp_start_redis(&g_ref, "redis") == 0);
    if (sp_start(&g_ox, "ox")) {
        sp_dump_log(&g_ox);
        T_FAIL("server did not start");
    }
    redisContext *c = sp_connect(&g_ox);
    T_ASSERT(c);
    redisReply *r = redisCommand(c, "COMMAND LIST");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements < 512);
    for (size_t i = 0; i < r->elements; i++)
        snprintf(g_names[g_nnames++], sizeof g_names[0], "%s", r->element[i]->str);
    freeReplyObject(r);
    redisFree(c);
}

/* A raw connection to p speaking proto. */
static int raw_open(const srvp *p, int proto)
{
    return proto == 3 ? sp_raw_resp3(p) : sp_raw_connect(p);
}

/* Sends the argc C strings of argv as a command and reads the reply into *buf: its
 * length, 0 on failure. */
static size_t ask(int fd, int argc, const char *const *argv, char **buf, size_t *cap)
{
    size_t lens[16];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return sp_raw_send(fd, argc, argv, lens) ? sp_raw_reply(fd, buf, cap) : 0;
}

/* Both servers' replies to one command. */
typedef struct pair {
    int ox, ref;
    char *a, *b;
    size_t acap, bcap, alen, blen;
} pair;

static int pair_open(pair *p, int proto)
{
    memset(p, 0, sizeof *p);
    p->ox = raw_open(&g_ox, proto);
    p->ref = raw_open(&g_ref, proto);
    return p->ox >= 0 && p->ref >= 0;
}

static void pair_close(pair *p)
{
    if (p->ox >= 0)
        close(p->ox);
    if (p->ref >= 0)
        close(p->ref);
    free(p->a);
    free(p->b);
}

/* 1 if both replied; the replies in p->a (oxistore's) and p->b. */
static int pair_ask(pair *p, int argc, const char *const *argv)
{
    p->alen = ask(p->ox, argc, argv, &p->a, &p->acap);
    p->blen = ask(p->ref, argc, argv, &p->b, &p->bcap);
    return p->alen && p->blen;
}

static int pair_same(const pair *p)
{
    return p->alen == p->blen && !memcmp(p->a, p->b, p->alen);
}

/* Shows both replies (before a failure) and closes the pair. */
static void pair_dump_close(pair *p)
{
    fprintf(stderr, "oxistore:  %.*s\nreference: %.*s\n", (int)p->alen, p->a, (int)p->blen,
            p->b);
    pair_close(p);
}

/* ---- COMMAND INFO ------------------------------------------------------------------------ */

/* 1 if the element e (elen bytes) is one of the n elements that follow the aggregate
 * header at list. */
static int among(const char *e, size_t elen, const char *list, size_t len)
{
    size_t off = (size_t)((const char *)memchr(list, '\n', len) - list) + 1;
    while (off < len) {
        size_t l = sp_resp_len(list + off, len - off);
        if (!l)
            return 0;
        if (l == elen && !memcmp(list + off, e, elen))
            return 1;
        off += l;
    }
    return 0;
}

/* The name in the COMMAND INFO entry e ("*10\r\n$<n>\r\n<name>...") into out[32]. */
static const char *entry_name(const char *e, char *out)
{
    long n = strtol(e + 6, NULL, 10);
    const char *p = strchr(e + 6, '\n') + 1;
    snprintf(out, 32, "%.*s", (int)(n < 31 ? n : 31), p);
    return out;
}

/* 1 if the COMMAND INFO entry a (alen bytes) lists subcommands (a container's). */
static int has_subcommands(const char *a, size_t alen)
{
    static const char head[] = "*1\r\n*10\r\n";
    size_t ao = sizeof head - 1;
    if (alen < ao || memcmp(a, head, ao))
        return 0;
    for (int i = 0; i < 9; i++) {
        size_t l = sp_resp_len(a + ao, alen - ao);
        if (!l)
            return 0;
        ao += l;
    }
    return ao + 2 <= alen && a[ao + 1] != '0';
}

/* The replies to COMMAND INFO <one name>: the same but for the 10th field of the entry,
 * its subcommands, where each of oxistore's must be one of the reference's (Redis lists
 * them in its dictionary's order, and all of its own) or one from 7.2 (g_newer). */
static int same_entry(const char *a, size_t alen, const char *b, size_t blen)
{
    static const char head[] = "*1\r\n*10\r\n";
    size_t ao = sizeof head - 1, bo = ao;
    char name[32];
    if (alen < ao || blen < bo || memcmp(a, head, ao) || memcmp(b, head, bo))
        return 0;
    for (int i = 0; i < 9; i++) {
        size_t la = sp_resp_len(a + ao, alen - ao), lb = sp_resp_len(b + bo, blen - bo);
        if (!la || la != lb || memcmp(a + ao, b + bo, la))
            return 0;
        ao += la;
        bo += lb;
    }
    const char *subs = a + ao;
    size_t slen = alen - ao, off = (size_t)((const char *)memchr(subs, '\n', slen) - subs) + 1;
    while (off < slen) {
        size_t l = sp_resp_len(subs + off, slen - off);
        if (!l || (!among(subs + off, l, b + bo, blen - bo) &&
                   !is_newer(entry_name(subs + off, name))))
            return 0;
        off += l;
    }
    return 1;
}

static void command_info_is_the_references(void)
{
    for (int proto = 2; proto <= 3; proto++) {
        pair p;
        int identical = 0, containers = 0, newer = 0;
        T_ASSERT(pair_open(&p, proto));
        for (int i = 0; i < g_nnames; i++) {
            const char *argv[] = {"COMMAND", "INFO", g_names[i]};
            if (!pair_ask(&p, 3, argv)) {
                pair_close(&p);
                T_FAIL("no reply to COMMAND INFO %s", g_names[i]);
            }
            if (is_newer(g_names[i])) {
                /* Unknown to the reference; described as Redis 7.2 does. */
                char want[512], set = proto == 2 ? '*' : '~';
                int len = snprintf(want, sizeof want, "*1\r\n*10\r\n$%zu\r\n%s\r\n:%d\r\n"
                                   "%c3\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n"
                                   "%c2\r\n+@slow\r\n+@connection\r\n%c0\r\n%c0\r\n%c0\r\n",
                                   strlen(g_names[i]), g_names[i],
                                   strstr(g_names[i], "setinfo") ? 4 : 3, set, set, set, set, set);
                newer++;
                if (!strncmp(p.b, proto == 2 ? "*1\r\n$-1\r\n" : "*1\r\n_\r\n", p.blen) &&
                    p.alen == (size_t)len && !memcmp(p.a, want, p.alen))
                    continue;
            } else if (pair_same(&p)) { /* a container too, when Redis's dictionary listed
                                           its subcommands in oxistore's order */
                identical++;
                containers += has_subcommands(p.a, p.alen);
                continue;
            } else if (same_entry(p.a, p.alen, p.b, p.blen)) {
                containers++;
                continue;
            }
            pair_dump_close(&p);
            T_FAIL("RESP%d: COMMAND INFO %s differs", proto, g_names[i]);
        }
        pair_close(&p);
        printf("RESP%d: %d entries identical, %d containers alike, %d from 7.2\n", proto,
               identical, containers, newer);
        T_EQ_INT(newer, 2);
        T_EQ_INT(containers, 8); /* CLIENT, CONFIG, COMMAND, OBJECT, MEMORY, FUNCTION, PUBSUB,
                                    SCRIPT */
    }
}

/* COMMAND and COMMAND INFO without names: every top-level command, the same entries as
 * asked one by one, in the order of COMMAND LIST. */
static void command_without_names_is_every_command(void)
{
    int fd = sp_raw_connect(&g_ox);
    char *all = NULL, *one = NULL;
    size_t acap = 0, ocap = 0, alen, olen, off;
    int top = 0;
    T_ASSERT(fd >= 0);
    const char *argv_all[] = {"COMMAND"}, *argv_info[] = {"COMMAND", "INFO"};
    alen = ask(fd, 1, argv_all, &all, &acap);
    char *copy = malloc(alen);
    T_ASSERT(copy);
    memcpy(copy, all, alen);
    int same = ask(fd, 2, argv_info, &all, &acap) == alen && !memcmp(copy, all, alen);
    off = (size_t)((char *)memchr(copy, '\n', alen) - copy) + 1;
    for (int i = 0; same && i < g_nnames; i++) {
        if (strchr(g_names[i], '|'))
            continue;
        top++;
        const char *argv[] = {"COMMAND", "INFO", g_names[i]};
        olen = ask(fd, 3, argv, &one, &ocap); /* "*1\r\n" then the entry */
        size_t l = sp_resp_len(copy + off, alen - off);
        same = olen == l + 4 && !memcmp(one + 4, copy + off, l);
        off += l;
    }
    char head[32];
    snprintf(head, sizeof head, "*%d\r\n", top);
    same = same && off == alen && !strncmp(copy, head, strlen(head));
    free(copy);
    free(all);
    free(one);
    close(fd);
    T_ASSERT(same);
    redisContext *c = sp_connect(&g_ox);
    T_ASSERT(c);
    snprintf(head, sizeof head, ":%d", top);
    T_CMD(c, head, "COMMAND COUNT");
    redisFree(c);
}

/* ---- COMMAND GETKEYS, GETKEYSANDFLAGS ------------------------------------------------------ */

static const char *const g_fixed[][9] = {
    {"set", "a", "b"}, {"set", "a", "b", "get"}, {"set", "a", "GET"},
    {"set", "a", "b", "px", "1", "GeT"},
    {"mset", "a", "b", "c"}, {"mset", "a", "b", "c", "d", "e"}, {"msetnx", "a"},
    {"blpop", "a", "b", "0"}, {"lmove", "a", "b", "left", "right"}, {"copy", "a", "b"},
    {"zunionstore", "d", "2", "a", "b"}, {"zunionstore", "d", "2x", "a", "b"},
    {"zunionstore", "d", "0", "a", "b"}, {"zunionstore", "d", "3", "a", "b"},
    {"zinterstore", "d", "02", "a", "b"}, {"zdiffstore", "d", "-4294967294", "a", "b"},
    {"zunion", "4294967298", "a", "b"}, {"zunion", "99999999999999999999", "a", "b"},
    {"zinter", " 2", "a", "b"}, {"zdiff", "+1", "a", "b"}, {"sintercard", "2", "a", "b"},
    {"zintercard", "1", "a", "LIMIT", "1"}, {"lmpop", "3", "a", "b", "left"},
    {"blmpop", "0", "2", "a", "b", "left"}, {"bzmpop", "0", "2x", "a", "b", "min"},
    {"zmpop", "-1", "a", "min"}, {"object", "encoding", "k"}, {"OBJECT", "HELP"},
    {"object", "nosuch", "k"}, {"memory", "usage", "k", "samples", "5"},
    {"config", "get", "x"}, {"client", "list"}, {"command", "info", "get"}, {"ping", "a", "b"},
    {"nosuch", "a"}, {"get|x", "a"}, {"config|get", "x"}, {"get", "a", "b"}, {"Get", "a"},
    {"lcs", "a", "b"}, {"zrangestore", "d", "s", "0", "1"}, {"rename", "a", "b"},
    {"sinterstore", "d", "a", "b"}, {"watch", "a", "b"}, {"del", "a", "b", "c"}};

/* What the generated argument lists are made of. */
static const char *const g_pool[] = {
    "a", "b", "0", "1", "2", "3", "-1", "2x", "02", "+2", " 2", "4294967298", "-4294967294",
    "get", "GET", "left", "min", "store", "", "x y", "99999999999999999999", "-0"};

static void getkeys_is_the_references(void)
{
    pair p;
    int compared = 0;
    unsigned seed = 20261205;
    T_ASSERT(pair_open(&p, 2));
    for (size_t i = 0; i < sizeof g_fixed / sizeof *g_fixed; i++) {
        for (int flags = 0; flags < 2; flags++) {
            const char *argv[11] = {"COMMAND", flags ? "GETKEYSANDFLAGS" : "GETKEYS"};
            int argc = 2;
            for (int k = 0; k < 9 && g_fixed[i][k]; k++)
                argv[argc++] = g_fixed[i][k];
            if (!pair_ask(&p, argc, argv) || !pair_same(&p)) {
                pair_dump_close(&p);
                T_FAIL("COMMAND %s %s ... differs", argv[1], argv[2]);
            }
            compared++;
        }
    }
    /* Every command and subcommand with 0 to 6 arguments from the pool. */
    for (int i = 0; i < g_nnames; i++) {
        char name[32], *bar;
        snprintf(name, sizeof name, "%s", g_names[i]);
        bar = strchr(name, '|');
        if (bar)
            *bar = '\0';
        for (int nargs = 0; nargs <= 6; nargs++) {
            for (int round = 0; round < (nargs ? 4 : 1); round++) {
                const char *argv[12] = {"COMMAND", round % 2 ? "GETKEYSANDFLAGS" : "GETKEYS",
                                        name};
                int argc = 3;
                if (bar)
                    argv[argc++] = bar + 1;
                for (int k = 0; k < nargs; k++)
                    argv[argc++] = g_pool[rand_r(&seed) % (sizeof g_pool / sizeof *g_pool)];
                T_ASSERT(pair_ask(&p, argc, argv));
                if (is_newer(g_names[i])) {
                    /* Unknown to the reference; oxistore's have no keys. */
                    static const char nokeys[] = "-ERR The command has no key arguments\r\n";
                    T_EQ_MEM(p.a, p.alen, nokeys, sizeof nokeys - 1);
                    continue;
                }
                if (!pair_same(&p)) {
                    pair_dump_close(&p);
                    T_FAIL("COMMAND %s %s with %d arguments differs", argv[1], g_names[i],
                           nargs);
                }
                compared++;
            }
        }
    }
    pair_close(&p);
    printf("%d GETKEYS replies identical\n", compared);
    /* RESP3: the flags are a set. */
    int fd = sp_raw_resp3(&g_ox);
    T_ASSERT(fd >= 0);
    T_RAW(fd, "COMMAND GETKEYSANDFLAGS lmove a b left right\r\n",
          "*2\r\n*2\r\n$1\r\na\r\n~3\r\n+RW\r\n+access\r\n+delete\r\n"
          "*2\r\n$1\r\nb\r\n~2\r\n+RW\r\n+insert\r\n");
    close(fd);
}

static void getkeys_errors_are_redis_texts(void)
{
    redisContext *c = sp_connect(&g_ox);
    T_ASSERT(c);
    T_DEEP(c, "*2 [$1 a, $1 c]", "COMMAND GETKEYS mset a b c d");
    T_DEEP(c, "*1 [*2 [$1 a, *2 [+OW, +update]]]", "COMMAND GETKEYSANDFLAGS set a b");
    T_DEEP(c, "*1 [*2 [$1 a, *3 [+RW, +access, +update]]]",
           "COMMAND GETKEYSANDFLAGS set a b get");
    T_DEEP(c, "*3 [$1 a, $1 b, $1 d]", "COMMAND GETKEYS zunionstore d 2x a b");
    T_CMD(c, "-ERR Invalid command specified", "COMMAND GETKEYS nosuch a");
    T_CMD(c, "-ERR The command has no key arguments", "COMMAND GETKEYS ping a");
    T_CMD(c, "-ERR Invalid number of arguments specified for command", "COMMAND GETKEYS get a b");
    T_CMD(c, "-ERR Invalid arguments specified for command", "COMMAND GETKEYS zunion 0 a");
    T_CMD(c, "-ERR wrong number of arguments for 'command|getkeys' command", "COMMAND GETKEYS get");
    redisFree(c);
}

/* ---- COMMAND LIST, COUNT --------------------------------------------------------------- */

/* The names of an array reply but those from 7.2 (g_newer), sorted, joined by spaces
 * into out. */
static const char *names_of(redisReply *r, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    ref_canonical(r);
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && n < cap; i++)
        if (!is_newer(r->element[i]->str))
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? " " : "", r->element[i]->str);
    return out;
}

/* The reference's reply to cmd with only the names oxistore has kept, sorted. */
static const char *ref_names_kept(redisContext *rc, const char *cmd, char *out, size_t cap)
{
    redisReply *r = redisCommand(rc, cmd);
    size_t k = 0;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        int mine = 0;
        for (int j = 0; j < g_nnames && !mine; j++)
            mine = !strcmp(g_names[j], r->element[i]->str);
        if (mine)
            r->element[k++] = r->element[i];
        else
            freeReplyObject(r->element[i]);
    }
    if (r)
        r->elements = k;
    names_of(r, out, cap);
    freeReplyObject(r);
    return out;
}

static void command_list_filters_as_redis(void)
{
    static const char *const filters[] = {
        "ACLCAT keyspace", "ACLCAT read", "ACLCAT write", "ACLCAT set", "ACLCAT sortedset",
        "ACLCAT list", "ACLCAT hash", "ACLCAT string", "ACLCAT bitmap", "ACLCAT pubsub",
        "ACLCAT admin", "ACLCAT fast", "ACLCAT slow", "ACLCAT blocking", "ACLCAT dangerous",
        "ACLCAT connection", "ACLCAT transaction", "ACLCAT scripting", "ACLCAT Hash",
        "ACLCAT @hash", "ACLCAT nosuch", "PATTERN *", "PATTERN c*", "PATTERN *|*",
        "PATTERN CLIENT|I*", "PATTERN z?d*", "PATTERN [gs]et", "MODULE x"};
    redisContext *c = sp_connect(&g_ox), *rc = sp_connect(&g_ref);
    T_ASSERT(c && rc);
    static char want[8192], got[8192];
    for (size_t i = 0; i < sizeof filters / sizeof *filters; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "COMMAND LIST FILTERBY %s", filters[i]);
        redisReply *r = redisCommand(c, cmd);
        names_of(r, got, sizeof got);
        freeReplyObject(r);
        T_EQ_STR(got, ref_names_kept(rc, cmd, want, sizeof want));
    }
    T_DEEP(c, "*5 [$10 config|get, $10 config|set, $16 config|resetstat, $14 config|rewrite, "
              "$11 config|help]",
           "COMMAND LIST FILTERBY PATTERN config|*");
    T_DEEP(c, "*5 [$5 multi, $4 exec, $7 discard, $5 watch, $7 unwatch]",
           "COMMAND LIST FILTERBY ACLCAT transaction");
    T_DEEP(c, "*0 []", "COMMAND LIST FILTERBY MODULE x");
    T_DEEP(c, "*0 []", "COMMAND LIST FILTERBY ACLCAT nosuch");
    T_CMD(c, "-ERR syntax error", "COMMAND LIST FILTERBY");
    T_CMD(c, "-ERR syntax error", "COMMAND LIST FILTERBY ACLCAT hash extra");
    T_CMD(c, "-ERR syntax error", "COMMAND LIST FILTERBY nosuch x");
    T_CMD(c, "-ERR syntax error", "COMMAND LIST x");
    T_CMD(c, "-ERR wrong number of arguments for 'command|count' command", "COMMAND COUNT x");
    /* Every name once; each is one the reference has (or from 7.2). */
    redisReply *rl = redisCommand(rc, "COMMAND LIST");
    T_ASSERT(rl && rl->type == REDIS_REPLY_ARRAY);
    for (int i = 0; i < g_nnames; i++) {
        int found = is_newer(g_names[i]);
        for (size_t j = 0; j < rl->elements && !found; j++)
            found = !strcmp(rl->element[j]->str, g_names[i]);
        for (int j = 0; j < i; j++)
            found = found && strcmp(g_names[i], g_names[j]);
        if (!found) {
            freeReplyObject(rl);
            T_FAIL("%s: twice, or not a Redis command", g_names[i]);
        }
    }
    freeReplyObject(rl);
    redisFree(c);
    redisFree(rc);
}

/* ---- COMMAND DOCS ---------------------------------------------------------------------- */

/* The bytes of field's value in r, the reply to COMMAND DOCS <one name> (its map, in
 * RESP2 a flat array of pairs), into *vlen; NULL if it has no such field. Raw bytes, as
 * hiredis 0.14 refuses replies nested as deep as Redis's "arguments". */
static const char *doc_value(const char *r, size_t len, const char *field, size_t *vlen)
{
    size_t off = 4, fl = strlen(field); /* "*2\r\n" or "%1\r\n" */
    if (len < off || (memcmp(r, "*2\r\n", 4) && memcmp(r, "%1\r\n", 4)))
        return NULL;
    off += sp_resp_len(r + off, len - off);                          /* the name */
    off += (size_t)((const char *)memchr(r + off, '\n', len - off) - (r + off)) + 1;
    while (off < len) {
        size_t kl = sp_resp_len(r + off, len - off), vl;
        if (!kl || !(vl = sp_resp_len(r + off + kl, len - off - kl)))
            return NULL;
        const char *key = memchr(r + off, '\n', kl) + 1;
        if (kl == (size_t)(key - (r + off)) + fl + 2 && !memcmp(key, field, fl)) {
            *vlen = vl;
            return r + off + kl;
        }
        off += kl + vl;
    }
    return NULL;
}

/* 1 if field is absent from both replies, or there in both with the same value. */
static int same_field(const pair *p, const char *field, int same_value)
{
    size_t la = 0, lb = 0;
    const char *va = doc_value(p->a, p->alen, field, &la);
    const char *vb = doc_value(p->b, p->blen, field, &lb);
    if (!va || !vb)
        return !va && !vb;
    return !same_value || (la == lb && !memcmp(va, vb, la));
}

static void command_docs_facts_are_the_references(void)
{
    int with_args = 0;
    for (int proto = 2; proto <= 3; proto++) {
        pair p;
        T_ASSERT(pair_open(&p, proto));
        for (int i = 0; i < g_nnames; i++) {
            const char *argv[] = {"COMMAND", "DOCS", g_names[i]};
            if (is_newer(g_names[i]))
                continue;
            /* The facts and the arguments exactly; ours in our words, but there when Redis
             * has them. */
            int ok = pair_ask(&p, 3, argv) && same_field(&p, "since", 1) &&
                     same_field(&p, "group", 1) && same_field(&p, "doc_flags", 1) &&
                     same_field(&p, "deprecated_since", 1) && same_field(&p, "summary", 0) &&
                     same_field(&p, "complexity", 0) && same_field(&p, "replaced_by", 0) &&
                     same_field(&p, "arguments", 1) && same_field(&p, "subcommands", 0);
            if (!ok) {
                pair_close(&p);
                T_FAIL("COMMAND DOCS %s (RESP%d): the facts differ from the reference's",
                       g_names[i], proto);
            }
            size_t n;
            with_args += doc_value(p.a, p.alen, "arguments", &n) != NULL;
        }
        pair_close(&p);
    }
    T_EQ_INT(with_args, 2 * 196); /* of the 240 the reference has of oxistore's 242 */
    redisContext *c = sp_connect(&g_ox);
    T_ASSERT(c);
    T_DEEP(c, "*2 [$3 get, *10 [$7 summary, $25 The string value of a key, $5 since, $5 1.0.0, "
              "$5 group, $6 string, $10 complexity, $4 O(1), $9 arguments, "
              "*1 [*6 [$4 name, $3 key, $4 type, $3 key, $14 key_spec_index, :0]]]]",
           "COMMAND DOCS get");
    T_DEEP(c, "*2 [$6 getset, *16 [$7 summary, $42 Sets a key's value and replies the old one, "
              "$5 since, $5 1.0.0, $5 group, $6 string, $10 complexity, $4 O(1), $9 doc_flags, "
              "*1 [+deprecated], $16 deprecated_since, $5 6.2.0, $11 replaced_by, "
              "$23 SET with the GET option, $9 arguments, *2 [*6 [$4 name, $3 key, $4 type, "
              "$3 key, $14 key_spec_index, :0], *4 [$4 name, $5 value, $4 type, $6 string]]]]",
           "COMMAND DOCS nosuch getset");
    T_DEEP(c, "*0 []", "COMMAND DOCS nosuch get|x");
    /* a container lists each of its subcommands (name, then docs) */
    redisReply *r = redisCommand(c, "COMMAND DOCS function");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
             r->element[1]->type == REDIS_REPLY_ARRAY && r->element[1]->elements == 10);
    T_EQ_STR(r->element[1]->element[8]->str, "subcommands");
    T_EQ_INT(r->element[1]->element[9]->elements, 18);
    freeReplyObject(r);
    redisFree(c);
    int fd = sp_raw_resp3(&g_ox);
    T_ASSERT(fd >= 0);
    T_RAW(fd, "COMMAND DOCS function|flush\r\n",
          "%1\r\n$14\r\nfunction|flush\r\n%5\r\n$7\r\nsummary\r\n$22\r\nDeletes every function\r\n"
          "$5\r\nsince\r\n$5\r\n7.0.0\r\n$5\r\ngroup\r\n$9\r\nscripting\r\n"
          "$10\r\ncomplexity\r\n$20\r\nO(N) for N functions\r\n$9\r\narguments\r\n*1\r\n"
          "%4\r\n$4\r\nname\r\n$5\r\nasync\r\n$4\r\ntype\r\n$5\r\noneof\r\n"
          "$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*2\r\n"
          "%3\r\n$4\r\nname\r\n$5\r\nasync\r\n$4\r\ntype\r\n$10\r\npure-token\r\n"
          "$5\r\ntoken\r\n$5\r\nASYNC\r\n"
          "%3\r\n$4\r\nname\r\n$4\r\nsync\r\n$4\r\ntype\r\n$10\r\npure-token\r\n"
          "$5\r\ntoken\r\n$4\r\nSYNC\r\n");
    T_RAW(fd, "COMMAND DOCS script|kill\r\n",
          "%1\r\n$11\r\nscript|kill\r\n%4\r\n$7\r\nsummary\r\n$46\r\nEnds the running script, "
          "if it has not written\r\n$5\r\nsince\r\n$5\r\n2.6.0\r\n$5\r\ngroup\r\n$9\r\n"
          "scripting\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n");
    T_RAW(fd, "COMMAND DOCS debug\r\n",
          "%1\r\n$5\r\ndebug\r\n%5\r\n$7\r\nsummary\r\n$33\r\nCommands for debugging the server"
          "\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nserver\r\n"
          "$10\r\ncomplexity\r\n$14\r\nPer subcommand\r\n$9\r\ndoc_flags\r\n~1\r\n+syscmd\r\n");
    close(fd);
}

/* ---- HELP and the rest ------------------------------------------------------------------- */

static void help_and_refusals_are_the_references(void)
{
    static const char *const cmds[][5] = {
        {"COMMAND", "HELP"}, {"COMMAND", "help", "x"}, {"COMMAND", "nosuch"},
        {"COMMAND", "COUNT", "x"}, {"COMMAND", "GETKEYS"}, {"COMMAND", "GETKEYSANDFLAGS", "get"},
        {"COMMAND", "INFO", "nosuch", "get|x", "config|nosuch"},
        {"COMMAND", "INFO", "CONFIG|GET", "Get", "config|get|x"}, {"COMMAND", "INFO", "|"},
        {"COMMAND", "DOCS", "|"}, {"COMMAND", "LIST", "FILTERBY", "ACLCAT"},
        {"CLIENT", "HELP"}, {"client", "Help", "x"}, {"CONFIG", "HELP"}, {"config", "help", "x"},
        {"COMMAND", "INFO", "client|help", "config|help"}};
    for (int proto = 2; proto <= 3; proto++) {
        pair p;
        T_ASSERT(pair_open(&p, proto));
        for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
            int argc = 0;
            while (argc < 5 && cmds[i][argc])
                argc++;
            if (!pair_ask(&p, argc, cmds[i]) || !pair_same(&p)) {
                pair_dump_close(&p);
                T_FAIL("RESP%d: %s %s ... differs", proto, cmds[i][0], cmds[i][1]);
            }
        }
        pair_close(&p);
    }
}

int main(void)
{
    T_RUN(servers_start);
    if (!g_ox.pid || !g_ref.pid) {
        ref_stop(&g_ref);
        return T_MAIN_END();
    }
    T_RUN(command_info_is_the_references);
    T_RUN(command_without_names_is_every_command);
    T_RUN(getkeys_is_the_references);
    T_RUN(getkeys_errors_are_redis_texts);
    T_RUN(command_list_filters_as_redis);
    T_RUN(command_docs_facts_are_the_references);
    T_RUN(help_and_refusals_are_the_references);
    ref_stop(&g_ref);
    t_failed += sp_stop_or_dump(&g_ox);
    return T_MAIN_END();
}
