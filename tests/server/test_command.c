/* COMMAND INFO as Redis 7.0 gives it, for every command oxistore lists (flags, key
 * specifications, tips, ACL categories, arity), compared with a reference redis-server
 * (RESP2 as reply trees, RESP3 byte for byte): cluster-aware clients find keys from it. A container (CONFIG,
 * CLIENT...) lists only the subcommands oxistore has, each as Redis describes it. COMMAND
 * COUNT agrees with COMMAND LIST, and an unknown name is a nil. */
#include "ref_util.h"

T_MAIN_BEGIN;

static srvp g_ox, g_redis;

static void servers_start(void)
{
    if (sp_start(&g_ox, "command")) {
        sp_dump_log(&g_ox);
        T_FAIL("server did not start");
    }
    T_ASSERT(sp_start_redis(&g_redis, "redis") == 0);
}

/* The end of the RESP value at p (NULL: incomplete within end). */
static const char *resp_end(const char *p, const char *end)
{
    const char *eol = p < end ? memmem(p, (size_t)(end - p), "\r\n", 2) : NULL;
    if (!eol)
        return NULL;
    long long n = strtoll(p + 1, NULL, 10);
    const char *q = eol + 2;
    switch (p[0]) {
    case '*': case '~': case '%': case '>':
        for (long long i = 0; q && i < (p[0] == '%' ? 2 * n : n); i++)
            q = resp_end(q, end);
        return q;
    case '$':
        return n < 0 ? q : q + n + 2 <= end ? q + n + 2 : NULL;
    default:
        return q;
    }
}

/* Sends req on fd and reads its whole reply into buf: its length, or 0. */
static size_t raw_call(int fd, const char *req, char *buf, size_t cap)
{
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
        return 0;
    size_t len = 0;
    const char *e;
    while (!(e = resp_end(buf, buf + len))) {
        ssize_t n = len < cap ? read(fd, buf + len, cap - len) : 0;
        if (n <= 0)
            return 0;
        len += (size_t)n;
    }
    return (size_t)(e - buf);
}

/* RESP3, byte for byte: every command of names that is not a container. */
static void resp3_bytes_are_redis_s(const redisReply *names)
{
    static char a[1 << 16], b[1 << 16];
    int fo = sp_raw_resp3(&g_ox), fr = sp_raw_resp3(&g_redis), same = 0, containers = 0;
    T_ASSERT(fo >= 0 && fr >= 0);
    for (size_t i = 0; i < names->elements; i++) {
        char req[128];
        snprintf(req, sizeof req, "COMMAND INFO %s\r\n", names->element[i]->str);
        size_t la = raw_call(fo, req, a, sizeof a), lb = raw_call(fr, req, b, sizeof b);
        T_ASSERT(la && lb);
        if (la == lb && !memcmp(a, b, la))
            same++;
        else if (strstr(a, "|")) /* a container: its subcommands are compared in RESP2 */
            containers++;
        else
            T_FAIL("RESP3 COMMAND INFO %s differs from Redis's", names->element[i]->str);
    }
    T_EQ_INT(same + containers, (int)names->elements);
    T_ASSERT(containers <= 8);
    close(fo);
    close(fr);
}

/* The one entry of COMMAND INFO name on c (the caller frees the reply: *all). */
static redisReply *info_of(redisContext *c, const char *name, redisReply **all)
{
    *all = redisCommand(c, "COMMAND INFO %s", name);
    if (!*all || (*all)->type != REDIS_REPLY_ARRAY || (*all)->elements != 1)
        return NULL;
    return (*all)->element[0];
}

static void command_info_is_redis_s(void)
{
    for (int proto = 2; proto <= 2; proto++) { /* RESP3: bytes, below (old hiredis) */
        redisContext *ox = sp_connect(&g_ox), *rs = sp_connect(&g_redis);
        T_ASSERT(ox && rs);
        redisReply *list = redisCommand(ox, "COMMAND LIST");
        if (!list || list->type != REDIS_REPLY_ARRAY)
            T_FAIL("COMMAND LIST: %s", list && list->str ? list->str : ox->errstr);
        T_ASSERT(list->elements > 150);
        redisReply *count = redisCommand(ox, "COMMAND COUNT");
        T_ASSERT(count && count->type == REDIS_REPLY_INTEGER);
        T_EQ_U64((unsigned long long)count->integer, list->elements);
        freeReplyObject(count);
        int compared = 0, subs = 0;
        for (size_t i = 0; i < list->elements; i++) {
            const char *name = list->element[i]->str;
            redisReply *oa, *ra, *o = info_of(ox, name, &oa), *r = info_of(rs, name, &ra);
            T_ASSERT(o && r && o->type == REDIS_REPLY_ARRAY && o->elements == 10);
            for (size_t f = 0; f < 9; f++)
                if (!ref_same_reply(o->element[f], r->element[f], 0))
                    T_FAIL("RESP%d COMMAND INFO %s differs from Redis's in field %zu", proto,
                           name, f);
            redisReply *own = o->element[9];
            for (size_t s = 0; s < own->elements; s++) { /* each subcommand as Redis's */
                const char *sub = own->element[s]->element[0]->str;
                redisReply *sa, *sr = info_of(rs, sub, &sa);
                if (!sr || !ref_same_reply(own->element[s], sr, 0))
                    T_FAIL("RESP%d COMMAND INFO %s: subcommand %s differs", proto, name, sub);
                freeReplyObject(sa);
                subs++;
            }
            if (!own->elements && !ref_same_reply(o->element[9], r->element[9], 0))
                T_FAIL("RESP%d COMMAND INFO %s: subcommands differ", proto, name);
            freeReplyObject(oa);
            freeReplyObject(ra);
            compared++;
        }
        T_EQ_INT(compared, (int)list->elements);
        T_ASSERT(subs >= 20);
        resp3_bytes_are_redis_s(list);
        freeReplyObject(list);
        redisReply *oa, *ra, *o = info_of(ox, "config|get", &oa), *r = info_of(rs, "config|get", &ra);
        T_ASSERT(o && r && ref_same_reply(o, r, 0));
        freeReplyObject(oa);
        freeReplyObject(ra);
        redisFree(ox);
        redisFree(rs);
    }
    redisContext *c = sp_connect(&g_ox);
    T_ASSERT(c);
    T_DEEP(c, "*2 [(nil), *10 [$3 get, :2, *2 [+readonly, +fast], :1, :1, :1, "
              "*3 [+@read, +@string, +@fast], *0 [], *1 [*6 [$5 flags, *2 [+RO, +access], "
              "$12 begin_search, *4 [$4 type, $5 index, $4 spec, *2 [$5 index, :1]], "
              "$9 find_keys, *4 [$4 type, $5 range, $4 spec, *6 [$7 lastkey, :0, "
              "$7 keystep, :1, $5 limit, :0]]]], *0 []]]",
           "COMMAND INFO nosuch get");
    redisFree(c);
}

int main(void)
{
    T_RUN(servers_start);
    if (!g_ox.pid || !g_redis.pid)
        return T_MAIN_END();
    T_RUN(command_info_is_redis_s);
    ref_stop(&g_redis);
    t_failed += sp_stop_or_dump(&g_ox);
    return T_MAIN_END();
}
