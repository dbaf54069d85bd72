/* Lua scripts: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FUNCTION and FCALL byte for byte
 * as the reference redis-server 7.0 answers them, in RESP2 and RESP3 (conversions of every
 * Lua and reply type, errors with their line, shebang flags, the libraries, loading
 * functions); the sandbox; BUSY, SCRIPT KILL, FUNCTION KILL and SHUTDOWN NOSAVE during a
 * script; a script's writes all there or none after SIGKILL; functions that survive a
 * restart, and a refused FUNCTION LOAD that leaves none; memory and recursion limits;
 * scripts inside MULTI and against WATCH. */
#include <pthread.h>

#include "fault_util.h"
#include "ref_util.h"

T_MAIN_BEGIN;

static srvp g_ox, g_ref;

static void servers_start(void)
{
    if (sp_start(&g_ox, "script")) {
        sp_dump_log(&g_ox);
        T_FAIL("server did not start");
    }
    T_ASSERT(sp_start_redis(&g_ref, "script-ref") == 0);
}

/* One request: its arguments, NULL-terminated. */
typedef struct req {
    const char *argv[12];
} req;

static int send_req(int fd, const req *q)
{
    size_t lens[12];
    int argc = 0;
    while (argc < 12 && q->argv[argc]) {
        lens[argc] = strlen(q->argv[argc]);
        argc++;
    }
    return sp_raw_send(fd, argc, q->argv, lens);
}

/* Every request to both servers (after HELLO 3 when proto is 3): the same bytes back. */
static void same_bytes(int proto, const req *qs, size_t n)
{
    int o = proto == 3 ? sp_raw_resp3(&g_ox) : sp_raw_connect(&g_ox);
    int r = proto == 3 ? sp_raw_resp3(&g_ref) : sp_raw_connect(&g_ref);
    char *a = NULL, *b = NULL;
    size_t ca = 0, cb = 0;
    T_ASSERT(o >= 0 && r >= 0);
    for (size_t i = 0; i < n; i++) {
        T_ASSERT(send_req(o, &qs[i]) && send_req(r, &qs[i]));
        size_t la = sp_raw_reply(o, &a, &ca), lb = sp_raw_reply(r, &b, &cb);
        T_ASSERT(lb > 0);
        if (la != lb || memcmp(a, b, la)) {
            fprintf(stderr, "RESP%d request %zu: %s\n  oxistore: %.*s\n  redis:    %.*s\n",
                    proto, i, qs[i].argv[1] ? qs[i].argv[1] : qs[i].argv[0], (int)la, a,
                    (int)lb, b);
            free(a);
            free(b);
            close(o);
            close(r);
            T_FAIL("replies differ");
        }
    }
    free(a);
    free(b);
    close(o);
    close(r);
}

#define E(body) {{"EVAL", body, "0", NULL}}
#define E1(body, k) {{"EVAL", body, "1", k, NULL}}

static const req g_cases[] = {
    {{"DEL", "s", "l", "h", "z", "fx", "bin", "k", "cnt", NULL}},
    /* errors, with Redis's texts and the line */
    E("return x"), E("return 1 +"), E("error('boom')"), E("\nlocal a = 1\nerror('l3')"),
    E("return redis.call('nosuch')"), E("return redis.call('get')"),
    E("return redis.pcall('get')"), E("return redis.call()"), E("return redis.call({})"),
    E("return redis.call('set','k',true)"), E("return redis.call('subscribe','a')"),
    E("return redis.call('eval','return 1', 0)"), E("return redis.call('multi')"),
    E("return redis.call('client','list')"), E("return redis.call('config','get','x')"),
    E("return redis.call('shutdown')"), E("return redis.call('script','load','return 1')"),
    E("error({err='MYCODE custom'})"), E("error()"), E("error(123)"),
    E("return redis.error_reply('My err')"), E("return redis.error_reply('boom')"),
    E("return redis.error_reply('-X y')"), E("return redis.error_reply(1)"),
    E("return {err='x'}"), E("return {err='a\\r\\nb'}"), E("return redis.status_reply(1)"),
    E("x = 1"), E("return os"), E("return redis.setresp(4)"), E("return redis.log(9,'hi')"),
    E("return redis.log('a','b')"), E("return redis.set_repl(99)"),
    E("return redis.acl_check_cmd('nosuch')"), E("return redis.sha1hex()"),
    E("local function f() return f() + 1 end return f()"),
    E("local a = {}\nfor i=1,3 do\n a[i] = i\nend\nreturn a[1] + nil"),
    {{"EVAL", "return 1", "-1", NULL}}, {{"EVAL", "return 1", "3", "a", NULL}},
    {{"EVAL", "return 1", "abc", NULL}}, {{"EVAL", "return 1", NULL}},
    {{"EVALSHA", "0000000000000000000000000000000000000000", "0", NULL}},
    {{"EVALSHA", "abc", "0", NULL}},
    /* conversions, Lua to reply */
    E("return {1,2,3.5,'x',true,false,{err='e'},{ok='o'}}"), E("return {1,nil,3}"),
    E("return 3.99"), E("return -3.99"), E("return 0/0"), E("return 1/0"), E("return 2^63"),
    E("return {double=1.5}"), E("return {map={a=1,b={2,3}}}"), E("return {set={a=true}}"),
    E("return {big_number='123'}"), E("return {ok='a\\r\\nb'}"), E("return 'a\\0b'"),
    E("return {ok='a\\0b'}"), E("return true"), E("return false"), E("return nil"),
    E("redis.setresp(3) return true"), E("redis.setresp(3) return false"),
    E("return redis.status_reply('fine')"), E("return {}"),
    E("local t = {} for i=1,100 do t[i]=i end return t"),
    /* conversions, reply to Lua */
    E1("return redis.call('incr', KEYS[1])", "cnt"),
    E1("return redis.pcall('lpush', KEYS[1], 'x')", "cnt"),
    E("redis.call('set','fx',0.1) return redis.call('get','fx')"),
    E("return redis.call('set','bin','a\\0b')"), E("return redis.call('get','bin')"),
    E("return type(redis.call('get','nokey'))"),
    E("redis.setresp(3) return type(redis.call('get','nokey'))"),
    E("return redis.call('lpush','l','a','b')"), E("return redis.call('lrange','l',0,-1)"),
    E("return redis.call('blpop','nolist',0)"), E("return redis.call('hset','h','f','v')"),
    E("return redis.call('hgetall','h')"), E("redis.setresp(3) return redis.call('hgetall','h')"),
    E("redis.setresp(3) return redis.call('hgetall','h').map.f"),
    E("return redis.call('zadd','z',1.5,'a')"),
    E("redis.setresp(3) return redis.call('zscore','z','a')"),
    E("redis.setresp(3) return redis.call('zrange','z',0,-1,'withscores')"),
    E("redis.setresp(3) return redis.call('sismember','nokey','x')"),
    E("redis.setresp(3) return redis.call('smembers','h')"),
    E("return redis.call('type','h')"), E("return redis.call('ping')"),
    E("return redis.call('echo','hi')"), E("return redis.call('publish','nobody','m')"),
    E("return redis.call('select', 99)"),
    E("redis.call('select', 2) redis.call('set','indb2','1') return redis.call('get','indb2')"),
    {{"GET", "indb2", NULL}},
    E("return redis.pcall('incrbyfloat','fx','x')"), E("return redis.call('sort','nokey')"),
    E("local ok, e = pcall(function() redis.call('nosuch') end) return e"),
    E("return {pcall(error, {})}"), E("return tostring(nil)"),
    {{"EVAL", "return {KEYS, ARGV}", "2", "a", "b", "c", "d", NULL}},
    /* the libraries and the environment */
    E("return cjson.encode({1,2,{a=1}})"), E("return cjson.decode('[1,2,3]')"),
    E("return cjson.encode({a={1,2,{b=cjson.null}}})"), E("return bit.band(12, 10)"),
    E("return bit.tohex(255)"), E("return struct.pack('>I2', 258)"),
    E("return struct.unpack('>I2', struct.pack('>I2', 258))"),
    E("return cmsgpack.pack({1,2,3})"),
    E("return cmsgpack.unpack(cmsgpack.pack({1,2,'x',{a=1}}))"),
    E("return string.format('%5.2f', 3.14159)"), E("return ('abc'):upper()"),
    E("string.upper = nil"), E("rawset(_G, 'x', 1)"), E("setmetatable(_G, nil)"),
    E("return getmetatable('')"), E("return next(string) ~= nil"),
    E("local t={} for k in pairs(string) do table.insert(t,k) end table.sort(t) return t"),
    E("local t={} for k,v in pairs(redis) do table.insert(t,k..':'..tostring(type(v)=="
      "'function' and 'f' or v)) end table.sort(t) return t"),
    E("return redis.REDIS_VERSION"), E("return _VERSION"), E("return redis.sha1hex('')"),
    E("return coroutine.wrap(function() coroutine.yield(5) end)()"),
    E("return redis.breakpoint()"), E("return redis.replicate_commands()"),
    E("return {bit.tohex(65501, -2147483648), bit.tohex(65501, 2147483647), bit.tohex(-1, -3), "
      "bit.tohex(2^40 + 5), bit.tohex(255)}"),
    {{"EVAL_RO", "return redis.call('publish', 'c', 'm')", "0", NULL}},
    E("#!lua flags=no-writes\nreturn redis.call('spublish', 'c', 'm')"),
    E("table.insert(_G, 'x')"), E("table.insert(string, 1)"), E("table.remove(redis)"),
    E("table.sort(math)"), E("local t = {3, 1, 2} table.sort(t) table.insert(t, 9) return t"),
    E("setmetatable(1, {})"), E("setmetatable({}, 1)"),
    E("return setmetatable({}, {__index = function() return 7 end}).x"),
    E("return redis.pcall('script', 'help')"), E("return redis.pcall('client', 'help')"),
    {{"EVALSHA", "abc", "x", NULL}},
    /* shebang flags and read-only scripts */
    E("#!lua\nreturn redis.call('get','x')"), E("#!lua flags=no-writes\nreturn redis.call('set','x',1)"),
    E("#!lua flags=no-writes,bogus\nreturn 1"), E("#!lua flags=\nreturn 1"),
    E("#!lua flags=a,\nreturn 1"), E("#!lua foo=bar\nreturn 1"), E("#!luax\nreturn 1"),
    E("#!lua\n\n\nreturn x"), E("#!lua"), E("#!"), E("#!lua\r\nreturn 1"),
    E("#!lua\tflags=no-writes\r\nreturn redis.call('get', 'x')"),
    {{"EVAL_RO", "return redis.call('set','a','b')", "1", "a", NULL}},
    {{"EVAL_RO", "#!lua\nreturn 1", "0", NULL}},
    {{"EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get','a')", "1", "a", NULL}},
    /* the cache */
    {{"SCRIPT", "LOAD", "return 1", NULL}}, {{"SCRIPT", "LOAD", "return +", NULL}},
    {{"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0", NULL}},
    {{"EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0", NULL}},
    {{"EVALSHA_RO", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0", NULL}},
    {{"SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "ffff", NULL}},
    {{"SCRIPT", "FLUSH", "bogus", NULL}}, {{"SCRIPT", "FLUSH", "ASYNC", "x", NULL}},
    {{"SCRIPT", "KILL", NULL}}, {{"SCRIPT", "HELP", NULL}}, {{"SCRIPT", NULL}},
    {{"SCRIPT", "DEBUG", "maybe", NULL}}, {{"SCRIPT", "DEBUG", "NO", NULL}},
    {{"SCRIPT", "FLUSH", NULL}},
    {{"SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", NULL}},
    {{"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0", NULL}},
    /* functions */
    {{"FUNCTION", "FLUSH", NULL}},
    {{"FUNCTION", "LOAD", "#!lua name=lib1\nredis.register_function('boom', function(keys, "
      "args) error('bad') end)", NULL}},
    {{"FCALL", "boom", "0", NULL}},
    {{"FUNCTION", "LOAD", "#!lua name=lib2\nredis.register_function('cnt', function(keys, "
      "args) return {#keys, #args, keys[1], args[1]} end)", NULL}},
    {{"FCALL", "cnt", "2", "a", "b", "c", NULL}}, {{"FCALL", "CNT", "1", "a", NULL}},
    {{"FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function('w', function(keys, "
      "args) return redis.call('set', keys[1], args[1]) end)", NULL}},
    {{"FCALL", "w", "1", "k", "v", NULL}}, {{"FCALL_RO", "w", "1", "k", "v", NULL}},
    {{"FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function{function_name='ro', "
      "callback=function(keys, args) return redis.call('set', 'a', 'b') end, "
      "flags={'no-writes'}, description='d'}", NULL}},
    {{"FCALL", "ro", "0", NULL}}, {{"FCALL_RO", "ro", "0", NULL}},
    {{"FUNCTION", "LOAD", "#!lua name=lib5\nredis.register_function('glob', function(keys, "
      "args) return x end)\nredis.register_function('kv', function(keys, args) return KEYS "
      "end)", NULL}},
    {{"FCALL", "glob", "0", NULL}}, {{"FCALL", "kv", "0", NULL}},
    {{"FCALL", "cnt", "-1", NULL}}, {{"FCALL", "cnt", "5", "a", NULL}},
    {{"FCALL", "cnt", "x", NULL}}, {{"FCALL", "nosuch", "0", NULL}},
    {{"FUNCTION", "LIST", "LIBRARYNAME", "lib4", NULL}},
    {{"FUNCTION", "LIST", "LIBRARYNAME", "lib4", "WITHCODE", NULL}},
    {{"FUNCTION", "LIST", "LIBRARYNAME", NULL}}, {{"FUNCTION", "LIST", "bogus", NULL}},
    {{"FUNCTION", "LIST", "LIBRARYNAME", "LIB4", NULL}},
    {{"FUNCTION", "LIST", "WITHCODE", "WITHCODE", NULL}},
    {{"FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b", NULL}},
    {{"FUNCTION", "FLUSH", "SYNC", "ASYNC", NULL}},
    {{"FUNCTION", "RESTORE", "x", "FLUSH", "y", NULL}},
    {{"FCALL", "nope", "x", NULL}}, {{"FCALL", "nope", "-1", NULL}},
    {{"FUNCTION", "LOAD", "#!lua name=pub\nredis.register_function{function_name='pubro', "
      "callback=function() return redis.call('publish', 'c', 'm') end, flags={'no-writes'}}",
      NULL}},
    {{"FCALL", "pubro", "0", NULL}}, {{"FCALL_RO", "pubro", "0", NULL}},
    {{"FUNCTION", "LOAD", "#!lua name=dbg\nredis.register_function('dbg', function() return "
      "{type(redis.breakpoint), type(redis.debug)} end)", NULL}},
    {{"FCALL", "dbg", "0", NULL}},
    {{"FUNCTION", "DELETE", "nolib", NULL}}, {{"FUNCTION", "DELETE", "lib1", NULL}},
    {{"FCALL", "boom", "0", NULL}}, {{"FUNCTION", "FLUSH", "bad", NULL}},
    {{"FUNCTION", "RESTORE", "bogus", NULL}}, {{"FUNCTION", "RESTORE", "x", "bogus", NULL}},
    {{"FUNCTION", "KILL", NULL}}, {{"FUNCTION", "HELP", NULL}}, {{"FUNCTION", NULL}},
    {{"FUNCTION", "STATS", "extra", NULL}}, {{"FUNCTION", "STATS", NULL}},
    {{"FUNCTION", "LOAD", "#!lua name=lib2\nredis.register_function('cnt', function() "
      "return 1 end)", NULL}},
    {{"FUNCTION", "LOAD", "#!lua name=lib9\nredis.register_function('cnt', function() "
      "return 1 end)", NULL}},
    {{"FUNCTION", "LOAD", "REPLACE", "#!lua name=lib2\nredis.register_function('cnt2', "
      "function() return 2 end)", NULL}},
    {{"FCALL", "cnt", "0", NULL}}, {{"FCALL", "cnt2", "0", NULL}},
    {{"FUNCTION", "LOAD", "bogus", "#!lua name=x\n", NULL}},
    {{"FUNCTION", "LOAD", "no shebang", NULL}}, {{"FUNCTION", "LOAD", "#!lua", NULL}},
    {{"FUNCTION", "LOAD", "#!lua name=x foo=bar\n", NULL}},
    {{"FUNCTION", "LOAD", "#!lua name=up NAME=x\n", NULL}},
    {{"FUNCTION", "LOAD", "#!js name=j\n", NULL}},
    {{"FUNCTION", "LOAD", "#!lua name=bad-name\n", NULL}},
    {{"FUNCTION", "LOAD", "#!lua\nreturn 1", NULL}},
#define FL(body) {{"FUNCTION", "LOAD", "#!lua name=e1\n" body, NULL}}
    FL("redis.register_function()"), FL("redis.register_function('a')"),
    FL("redis.register_function('a', 1)"), FL("redis.register_function('a-b', function() end)"),
    FL("redis.register_function{}"), FL("redis.register_function{function_name='a'}"),
    FL("redis.register_function{callback=function() end}"),
    FL("redis.register_function{function_name='a', callback=function() end, bogus=1}"),
    FL("redis.register_function{function_name='a', callback=function() end, flags=1}"),
    FL("redis.register_function{function_name='a', callback=function() end, flags={'x'}}"),
    FL("redis.register_function('a', function() end, 3)"),
    FL("redis.register_function{function_name='a', callback=1}"),
    FL("redis.register_function{function_name={}, callback=function() end}"),
    FL("redis.register_function('', function() end)"), FL("while true do end"),
    FL("redis.call('ping')"), FL("local x = pairs"), FL("return +"),
    FL("redis.log(redis.LOG_DEBUG, 'x') redis.register_function('q', function() return "
       "redis.REDIS_VERSION_NUM > 0 end)"),
    {{"FCALL", "q", "0", NULL}}, {{"FUNCTION", "FLUSH", NULL}}, {{"FUNCTION", "LIST", NULL}},
    /* inside MULTI */
    {{"MULTI", NULL}}, E("return redis.call('incr','cnt')"), {{"SET", "k", "v", NULL}},
    E("return redis.call('get','k')"), {{"EXEC", NULL}},
};

static void scripts_answer_as_redis(void)
{
    same_bytes(2, g_cases, sizeof g_cases / sizeof g_cases[0]);
    if (t_failed_now)
        return;
    same_bytes(3, g_cases, sizeof g_cases / sizeof g_cases[0]);
}

/* What oxistore leaves out of Redis's sandbox (README), and what no script can change for
 * the next one. */
static void the_sandbox_keeps_scripts_apart(void)
{
    redisContext *c = sp_connect(&g_ox);
    T_ASSERT(c);
    static const char *const absent[] = {"loadstring", "load", "getfenv", "setfenv", "os",
                                         "io", "print", "dofile", "require", "debug",
                                         "package", "module", "newproxy", NULL};
    for (int i = 0; absent[i]; i++) {
        char body[64], want[160];
        snprintf(body, sizeof body, "return %s", absent[i]);
        snprintf(want, sizeof want, "-ERR user_script:1: Script attempted to access "
                 "nonexistent global variable '%s' script: ", absent[i]);
        redisReply *r = redisCommand(c, "EVAL %s 0", body);
        char got[512];
        sp_show(r, got, sizeof got);
        freeReplyObject(r);
        if (strncmp(got, want, strlen(want)))
            T_FAIL("%s: %s", body, got);
    }
    /* The libraries are read-only; rawset and setmetatable refuse them too. */
    T_CMD(c, "-ERR user_script:1: Attempt to modify a readonly table script: "
             "02f9a6049f3f288f94f44301e448f328b81ef9df, on @user_script:1.",
          "EVAL %s 0", "string.rep = nil");
    T_CMD(c, "-ERR Attempt to modify a readonly table script: "
             "520efe0be9eced50ab34c0e956295bc924abd703, on @user_script:1.",
          "EVAL %s 0", "rawset(string, 'x', 1)");
    T_CMD(c, "-ERR Attempt to modify a readonly table script: "
             "6ae3b573071d027833c6f717b4786d090accc273, on @user_script:1.",
          "EVAL %s 0", "setmetatable(redis, {})");
    T_CMD(c, ":1", "EVAL %s 0", "return string.x == nil and getmetatable('').__index.rep ~= nil");
    T_CMD(c, "-ERR user_script:1: Attempt to modify a readonly table script: "
             "06bcebf66445396df71b103fdbd6ef97ec85a72b, on @user_script:1.",
          "EVAL %s 0", "getmetatable('').__index.rep = nil");
    /* math.random starts from the same seed in every script */
    redisReply *a = redisCommand(c, "EVAL %s 0", "return {math.random(1000000), "
                                                 "math.random(1000000)}");
    redisReply *b = redisCommand(c, "EVAL %s 0", "return {math.random(1000000), "
                                                 "math.random(1000000)}");
    T_ASSERT(a && b && a->type == REDIS_REPLY_ARRAY && b->type == REDIS_REPLY_ARRAY);
    T_ASSERT(a->elements == 2 && b->elements == 2);
    int same = a->element[0]->integer == b->element[0]->integer &&
               a->element[1]->integer == b->element[1]->integer &&
               a->element[0]->integer != a->element[1]->integer;
    freeReplyObject(a);
    freeReplyObject(b);
    T_ASSERT(same);
    redisFree(c);
}

/* The shas in the_sandbox_keeps_scripts_apart's expected errors are those of the bodies
 * (checked here, so that a typo shows as such). */
static void expected_shas_are_right(void)
{
    redisContext *c = sp_connect(&g_ox);
    T_ASSERT(c);
    T_CMD(c, "$40 02f9a6049f3f288f94f44301e448f328b81ef9df", "SCRIPT LOAD %s", "string.rep = nil");
    T_CMD(c, "$40 520efe0be9eced50ab34c0e956295bc924abd703", "SCRIPT LOAD %s",
          "rawset(string, 'x', 1)");
    T_CMD(c, "$40 6ae3b573071d027833c6f717b4786d090accc273", "SCRIPT LOAD %s",
          "setmetatable(redis, {})");
    redisFree(c);
}

/* Polls PING on c until it answers -BUSY (5 s deadline): 1 when it does. */
static int wait_busy(redisContext *c)
{
    uint64_t deadline = t_now_ms() + 5000;
    while (t_now_ms() < deadline) {
        redisReply *r = redisCommand(c, "PING");
        int busy = r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "BUSY ", 5);
        freeReplyObject(r);
        if (busy)
            return 1;
    }
    return 0;
}

/* Reads the reply of the request sent on fd into buf (NUL-terminated). */
static void raw_reply(int fd, char *buf, size_t cap)
{
    char *b = NULL;
    size_t bc = 0, n = sp_raw_reply(fd, &b, &bc);
    snprintf(buf, cap, "%.*s", (int)n, b ? b : "");
    free(b);
}

/* A script past busy-reply-threshold: others get -BUSY (EXEC -EXECABORT), SCRIPT KILL ends
 * one that has not written and is refused for one that has, SHUTDOWN without NOSAVE is
 * refused; SHUTDOWN NOSAVE ends the server, and nothing of the script is there after. */
static void a_long_script_is_busy_and_can_be_ended(void)
{
    srvp p = {0};
    const char *extra[] = {"--busy-reply-threshold", "100", NULL};
    T_ASSERT(sp_start_argv(&p, "script-busy", extra) == 0);
    redisContext *c = sp_connect(&p), *m = sp_connect(&p);
    int fd = sp_raw_connect(&p);
    T_ASSERT(c && m && fd >= 0);
    T_CMD(c, "-NOTBUSY No scripts in execution right now.", "SCRIPT KILL");
    T_CMD(m, "+OK", "MULTI");
    T_CMD(m, "+QUEUED", "INCR n");
    req loop = E("local i = 0 while true do i = i + 1 end");
    T_ASSERT(send_req(fd, &loop));
    T_ASSERT(wait_busy(c));
    T_CMD(c, "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN "
             "NOSAVE.", "GET x");
    T_CMD(m, "-EXECABORT Transaction discarded because of: BUSY Redis is busy running a "
             "script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.", "EXEC");
    T_CMD(c, "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN "
             "NOSAVE.", "SHUTDOWN");
    T_CMD(c, "+OK", "SCRIPT KILL");
    char got[512];
    raw_reply(fd, got, sizeof got);
    T_EQ_STR(got, "-ERR Script killed by user with SCRIPT KILL... script: "
                  "3fcf51a9b854b8f66cb8685600b0d7df968f4398, on @user_script:1.\r\n");
    T_CMD(c, "+PONG", "PING");
    T_CMD(c, "(nil)", "GET n");
    /* pcall cannot catch the kill */
    req catching = E("while true do pcall(function() while true do end end) end");
    T_ASSERT(send_req(fd, &catching));
    T_ASSERT(wait_busy(c));
    T_CMD(c, "+OK", "SCRIPT KILL");
    raw_reply(fd, got, sizeof got);
    T_ASSERT(!strncmp(got, "-ERR Script killed by user with SCRIPT KILL...", 46));
    /* a long function: FUNCTION KILL ends it, SCRIPT KILL names FUNCTION KILL, STATS shows
     * it */
    T_CMD(c, "$4 spin", "FUNCTION LOAD %s", "#!lua name=spin\nredis.register_function('spin', "
                                               "function() while true do end end)");
    req spin = {{"FCALL", "spin", "0", NULL}};
    T_ASSERT(send_req(fd, &spin));
    T_ASSERT(wait_busy(c));
    T_CMD(c, "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
             "SHUTDOWN NOSAVE.", "SCRIPT KILL");
    redisReply *st = redisCommand(c, "FUNCTION STATS");
    T_ASSERT(st && st->type == REDIS_REPLY_ARRAY && st->elements == 4 &&
             st->element[1]->type == REDIS_REPLY_ARRAY && st->element[1]->elements == 6);
    T_EQ_STR(st->element[1]->element[1]->str, "spin");
    freeReplyObject(st);
    T_CMD(c, "+OK", "FUNCTION KILL");
    raw_reply(fd, got, sizeof got);
    T_EQ_STR(got, "-ERR Script killed by user with SCRIPT KILL... script: spin, on "
                  "@user_function:2.\r\n");
    /* a script that wrote cannot be killed; SHUTDOWN NOSAVE drops what it did */
    T_CMD(c, "+OK", "SET before 1");
    req writer = E("redis.call('set','w','1') while true do end");
    T_ASSERT(send_req(fd, &writer));
    T_ASSERT(wait_busy(c));
    T_CMD(c, "-UNKILLABLE Sorry the script already executed write commands against the "
             "dataset. You can either wait the script termination or kill the server in a hard "
             "way using the SHUTDOWN NOSAVE command.", "SCRIPT KILL");
    redisReply *r = redisCommand(c, "SHUTDOWN NOSAVE");
    freeReplyObject(r);
    int status = 0;
    uint64_t deadline = t_now_ms() + 10000;
    while (waitpid(p.pid, &status, WNOHANG) != p.pid && t_now_ms() < deadline)
        usleep(10000);
    T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    raw_reply(fd, got, sizeof got);
    T_ASSERT(strncmp(got, ":", 1) && strncmp(got, "+", 1)); /* no success reply */
    close(fd);
    redisFree(c);
    redisFree(m);
    p.pid = 0;
    T_ASSERT(sp_start_argv(&p, "script-busy", extra) == 0);
    c = sp_connect(&p);
    T_ASSERT(c);
    T_CMD(c, "$1 1", "GET before");
    T_CMD(c, "(nil)", "GET w");
    redisFree(c);
    t_failed += sp_stop_or_dump(&p);
}

/* The script's memory and recursion: clear errors, and the server goes on (a table that
 * holds itself is in scripts_answer_as_redis). */
static void a_script_cannot_exhaust_the_server(void)
{
    redisContext *c = sp_connect(&g_ox);
    T_ASSERT(c);
    T_CMD(c, "+OK", "CONFIG SET lua-memory-limit 8mb");
    redisReply *r = redisCommand(c, "EVAL %s 0", "local t = {} for i = 1, 1e8 do t[i] = i end "
                                                 "return #t");
    char got[512];
    sp_show(r, got, sizeof got);
    freeReplyObject(r);
    T_ASSERT(strstr(got, "not enough memory"));
    r = redisCommand(c, "EVAL %s 0", "return string.rep('x', 64 * 1024 * 1024)");
    sp_show(r, got, sizeof got);
    freeReplyObject(r);
    T_ASSERT(strstr(got, "not enough memory"));
    T_CMD(c, ":7", "EVAL %s 0", "return 7");
    long long used = atoll(sp_info_field(c, "memory", "used_memory_lua", got, sizeof got));
    T_ASSERT(used > 0 && used < 8 << 20);
    T_CMD(c, "+OK", "CONFIG SET lua-memory-limit 256mb");
    r = redisCommand(c, "EVAL %s 0", "local function f(n) return f(n + 1) + 1 end return f(1)");
    sp_show(r, got, sizeof got);
    freeReplyObject(r);
    T_ASSERT(!strncmp(got, "-ERR user_script:1: stack overflow", 34));
    T_CMD(c, "+PONG", "PING");
    /* an error whose table has metamethods: read raw, the server goes on */
    r = redisCommand(c, "EVAL %s 0", "error(setmetatable({}, {__index = function() while true "
                                     "do end end}))");
    T_ASSERT(r && r->type == REDIS_REPLY_ERROR);
    freeReplyObject(r);
    /* garbage left by one script, then a limit below what the interpreter holds: the
     * collector runs without the limit (it used to reach Lua's panic, an abort) */
    T_CMD(c, ":500000", "EVAL %s 0", "local t = {} for i = 1, 500000 do t[i] = 's' .. i end "
                                     "return #t");
    T_CMD(c, "+OK", "CONFIG SET lua-memory-limit 1mb");
    redisReply *z = redisCommand(c, "EVAL %s 0", "return 0");
    T_ASSERT(z && (z->type == REDIS_REPLY_INTEGER || z->type == REDIS_REPLY_ERROR));
    freeReplyObject(z);
    T_CMD(c, "+OK", "CONFIG SET lua-memory-limit 256mb");
    T_CMD(c, ":0", "EVAL %s 0", "return 0");
    T_CMD(c, "+PONG", "PING");
    redisFree(c);
}

/* EVAL inside MULTI runs at EXEC; a script's write makes a watcher's EXEC fail and wakes a
 * blocked pop on another connection. */
static void scripts_in_transactions(void)
{
    redisContext *c = sp_connect(&g_ox), *d = sp_connect(&g_ox);
    T_ASSERT(c && d);
    T_CMD(c, ":0", "DEL wk q");
    T_CMD(c, "+OK", "WATCH wk");
    T_CMD(d, "+OK", "EVAL %s 1 wk", "return redis.call('set', KEYS[1], 'x')");
    T_CMD(c, "+OK", "MULTI");
    T_CMD(c, "+QUEUED", "EVAL %s 1 wk", "return redis.call('get', KEYS[1])");
    T_CMD(c, "(nil)", "EXEC");
    T_CMD(c, "+OK", "MULTI");
    T_CMD(c, "+QUEUED", "EVAL %s 1 wk", "return redis.call('append', KEYS[1], 'y')");
    T_DEEP(c, "*1 [:2]", "EXEC");
    /* a blocked pop on d is served by a script's push */
    redisAppendCommand(d, "BLPOP q 5");
    for (int done = 0; !done;)
        T_ASSERT(redisBufferWrite(d, &done) == REDIS_OK);
    uint64_t deadline = t_now_ms() + 5000;
    char bc[64] = "0";
    while (t_now_ms() < deadline && !strcmp(bc, "0"))
        sp_info_field(c, "clients", "blocked_clients", bc, sizeof bc);
    T_EQ_STR(bc, "1");
    T_CMD(c, ":1", "EVAL %s 1 q", "return redis.call('rpush', KEYS[1], 'job')");
    redisReply *r = NULL;
    T_ASSERT(redisGetReply(d, (void **)&r) == REDIS_OK);
    char got[256];
    sp_show_deep(r, got, sizeof got);
    freeReplyObject(r);
    T_EQ_STR(got, "*2 [$1 q, $3 job]");
    redisFree(c);
    redisFree(d);
}

/* PUBLISH from a script reaches a subscriber on another connection (and counts it). */
static void a_script_publishes(void)
{
    int sub = sp_raw_connect(&g_ox);
    redisContext *c = sp_connect(&g_ox);
    char got[512];
    T_ASSERT(sub >= 0 && c);
    req s1 = {{"SUBSCRIBE", "news", NULL}};
    T_ASSERT(send_req(sub, &s1));
    raw_reply(sub, got, sizeof got);
    T_EQ_STR(got, "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    T_CMD(c, ":1", "EVAL %s 0", "return redis.call('publish', 'news', 'from a script')");
    raw_reply(sub, got, sizeof got);
    T_EQ_STR(got, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$13\r\nfrom a script\r\n");
    /* the message leaves once the script's writes are committed: a reader woken by it
     * sees them, though the script went on for 300 ms after publishing */
    int fd = sp_raw_connect(&g_ox);
    T_ASSERT(fd >= 0);
    T_CMD(c, ":0", "DEL pk");
    req slow = E("redis.call('set', 'pk', 'v') redis.call('publish', 'news', 'pk set') "
                 "local t0 = redis.call('time') repeat local t = redis.call('time') until "
                 "(t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 300000 return 1");
    T_ASSERT(send_req(fd, &slow));
    raw_reply(sub, got, sizeof got);
    T_EQ_STR(got, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$6\r\npk set\r\n");
    T_CMD(c, "$1 v", "GET pk");
    raw_reply(fd, got, sizeof got);
    T_EQ_STR(got, ":1\r\n");
    close(fd);
    close(sub);
    redisFree(c);
}

/* SIGTERM while a script never ends: the script is ended (nothing of its batch saved) and
 * the server exits 0 instead of waiting for ever. */
static void a_signal_ends_a_script_that_never_does(void)
{
    srvp p = {0};
    T_ASSERT(sp_start(&p, "script-term") == 0);
    redisContext *c = sp_connect(&p);
    int fd = sp_raw_connect(&p);
    T_ASSERT(c && fd >= 0);
    T_CMD(c, "+OK", "CONFIG SET busy-reply-threshold 100");
    req loop = E("redis.call('set', 'during', '1') while true do end"); /* SCRIPT KILL cannot */
    T_ASSERT(send_req(fd, &loop));
    T_ASSERT(wait_busy(c));
    kill(p.pid, SIGTERM);
    int status = 0;
    uint64_t deadline = t_now_ms() + 10000;
    while (waitpid(p.pid, &status, WNOHANG) != p.pid && t_now_ms() < deadline)
        usleep(10000);
    T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    p.pid = 0;
    close(fd);
    redisFree(c);
    T_ASSERT(sp_start(&p, "script-term") == 0);
    c = sp_connect(&p);
    T_ASSERT(c);
    T_CMD(c, "(nil)", "GET during");
    redisFree(c);
    t_failed += sp_stop_or_dump(&p);
}

/* INFO's script fields follow the cache. */
static void info_counts_cached_scripts(void)
{
    redisContext *c = sp_connect(&g_ox);
    char v[64];
    T_ASSERT(c);
    T_CMD(c, "+OK", "SCRIPT FLUSH");
    T_EQ_STR(sp_info_field(c, "memory", "number_of_cached_scripts", v, sizeof v), "0");
    T_CMD(c, ":1", "EVAL %s 0", "return 1");
    T_CMD(c, "$40 7f923f79fe76194c868d7e1d0820de36700eb649", "SCRIPT LOAD %s", "return 2");
    T_CMD(c, "$40 7f923f79fe76194c868d7e1d0820de36700eb649", "SCRIPT LOAD %s", "return 2");
    T_EQ_STR(sp_info_field(c, "memory", "number_of_cached_scripts", v, sizeof v), "2");
    redisFree(c);
}

/* Functions are stored: a library loaded before a SIGKILL is there after it, one deleted
 * is not; a FUNCTION LOAD whose commit fails (the log's write refused) leaves no trace, in
 * the interpreter as on disk. */
static void functions_survive_a_restart(void)
{
    srvp p = {0};
    if (start_faulty_argv(&p, "script-fn", NULL))
        T_FAIL("server did not start");
    redisContext *c = sp_connect(&p);
    T_ASSERT(c);
    T_CMD(c, "$4 keep", "FUNCTION LOAD %s", "#!lua name=keep\nredis.register_function('"
                                               "kept', function() return 'here' end)");
    T_CMD(c, "$4 gone", "FUNCTION LOAD %s", "#!lua name=gone\nredis.register_function('"
                                               "went', function() return 1 end)");
    T_CMD(c, "+OK", "FUNCTION DELETE gone");
    T_ASSERT(fault_on("EIO log") == 0);
    redisReply *r = redisCommand(c, "FUNCTION LOAD %s", "#!lua name=refused\n"
                                 "redis.register_function('no', function() return 1 end)");
    int refused = r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "MISCONF", 7);
    freeReplyObject(r);
    fault_off();
    T_ASSERT(refused);
    T_CMD(c, "-ERR Function not found", "FCALL no 0");
    /* a REPLACE that runs out of Lua memory leaves the old library, in memory and stored */
    T_CMD(c, "+OK", "CONFIG SET lua-memory-limit 1mb");
    size_t big = 1048600; /* the code alone is past the limit: it fails once stored in Lua */
    char *code = malloc(big + 200);
    T_ASSERT(code);
    int n = snprintf(code, 200, "#!lua name=keep\nredis.register_function('kept', function() "
                                "return 'new' end)\n");
    memset(code + n, '-', big);
    code[n + big] = '\0';
    r = redisCommand(c, "FUNCTION LOAD REPLACE %s", code);
    free(code);
    T_ASSERT(r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "not enough memory"));
    freeReplyObject(r);
    T_CMD(c, "+OK", "CONFIG SET lua-memory-limit 256mb");
    T_CMD(c, "$4 here", "FCALL kept 0");
    T_DEEP(c, "*4 [$14 running_script, (nil), $7 engines, *2 [$3 LUA, *4 [$15 libraries_count, "
              ":1, $15 functions_count, :1]]]", "FUNCTION STATS");
    redisFree(c);
    sp_kill(&p);
    T_ASSERT(start_faulty_argv(&p, "script-fn", NULL) == 0);
    c = sp_connect(&p);
    T_ASSERT(c);
    T_CMD(c, "$4 here", "FCALL kept 0");
    T_CMD(c, "-ERR Function not found", "FCALL went 0");
    T_CMD(c, "-ERR Function not found", "FCALL no 0");
    redisFree(c);
    t_failed += sp_stop_or_dump(&p);
}

/* ---- SIGKILL under scripts -------------------------------------------------------------- */

typedef struct loop {
    srvp *p;
    long long acked; /* the last value a script's reply gave */
    int done;
} loop;

static void *script_loop(void *arg)
{
    loop *l = arg;
    redisContext *c = sp_connect(l->p);
    if (!c)
        return NULL;
    for (;;) {
        redisReply *r = redisCommand(c, "EVAL %s 2 a b", "redis.call('incr', KEYS[1]) "
                                     "redis.call('set', 'pad', string.rep('x', 200)) "
                                     "return redis.call('incr', KEYS[2])");
        if (!r || r->type != REDIS_REPLY_INTEGER) {
            freeReplyObject(r);
            break;
        }
        __atomic_store_n(&l->acked, r->integer, __ATOMIC_RELEASE);
        freeReplyObject(r);
    }
    __atomic_store_n(&l->done, 1, __ATOMIC_RELEASE);
    redisFree(c);
    return NULL;
}

/* Scripts in flight when the server is SIGKILLed: after the restart both counters are
 * equal (a script is all there or not at all) and hold at least what was acknowledged. */
static void a_killed_server_keeps_whole_scripts(void)
{
    srvp p = {0};
    T_ASSERT(sp_start(&p, "script-kill") == 0);
    loop ls[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        ls[i] = (loop){.p = &p};
        T_ASSERT(pthread_create(&th[i], NULL, script_loop, &ls[i]) == 0);
    }
    uint64_t deadline = t_now_ms() + 20000;
    while (t_now_ms() < deadline && __atomic_load_n(&ls[0].acked, __ATOMIC_ACQUIRE) < 300)
        usleep(1000);
    sp_kill(&p);
    long long acked = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        if (ls[i].acked > acked)
            acked = ls[i].acked;
    }
    T_ASSERT(acked >= 300);
    T_ASSERT(sp_start(&p, "script-kill") == 0);
    redisContext *c = sp_connect(&p);
    T_ASSERT(c);
    redisReply *r = redisCommand(c, "MGET a b");
    T_ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
             r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type ==
             REDIS_REPLY_STRING);
    long long a = atoll(r->element[0]->str), b = atoll(r->element[1]->str);
    freeReplyObject(r);
    redisFree(c);
    T_EQ_INT(a, b);
    T_ASSERT(b >= acked);
    t_failed += sp_stop_or_dump(&p);
}

int main(void)
{
    T_RUN(servers_start);
    if (!g_ox.pid || !g_ref.pid)
        return T_MAIN_END();
    T_RUN(scripts_answer_as_redis);
    T_RUN(expected_shas_are_right);
    T_RUN(the_sandbox_keeps_scripts_apart);
    T_RUN(a_script_cannot_exhaust_the_server);
    T_RUN(scripts_in_transactions);
    T_RUN(info_counts_cached_scripts);
    T_RUN(a_script_publishes);
    T_RUN(a_signal_ends_a_script_that_never_does);
    T_RUN(a_long_script_is_busy_and_can_be_ended);
    T_RUN(functions_survive_a_restart);
    T_RUN(a_killed_server_keeps_whole_scripts);
    t_failed += sp_stop_or_dump(&g_ox);
    ref_stop(&g_ref);
    return T_MAIN_END();
}
