/* cmd.c — the command table, its lookup, and helpers every handler shares. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"
#include "keyargs.h"
#include "num.h"
#include "stats.h"
#include "util.h"

#define W CMD_WRITE
#define R CMD_READ
#define C CMD_CLIENT
#define NA CMD_NOAUTH
#define SUB CMD_SUBS
#define WA CMD_WATCH
#define NM CMD_NOMULTI
#define AS CMD_ASYNC
#define PR CMD_PROTECTED

/* name, handler, arity, flags, first key, last key, step, ACL categories */
const cmd_def cmd_table[] = {
    {"ping", cmd_ping, -1, C, 0, 0, 0, "@fast @connection"},
    {"echo", cmd_echo, 2, C, 0, 0, 0, "@fast @connection"},
    {"quit", cmd_quit, -1, C | NA, 0, 0, 0, "@fast @connection"},
    {"select", cmd_select, 2, C, 0, 0, 0, "@fast @connection"},
    {"hello", cmd_hello, -1, C | NA, 0, 0, 0, "@fast @connection"},
    {"auth", cmd_auth, -2, C | NA, 0, 0, 0, "@fast @connection"},
    {"client", cmd_client, -2, C | SUB, 0, 0, 0, "@slow @connection"},
    {"reset", cmd_reset, 1, C | NA, 0, 0, 0, "@fast @connection"},
    {"get", cmd_get_, 2, R, 1, 1, 1, "@read @string @fast"},
    {"set", cmd_set, -3, W, 1, 1, 1, "@write @string @slow"},
    {"setnx", cmd_setnx, 3, W, 1, 1, 1, "@write @string @fast"},
    {"setex", cmd_setex, 4, W, 1, 1, 1, "@write @string @slow"},
    {"psetex", cmd_psetex, 4, W, 1, 1, 1, "@write @string @slow"},
    {"getset", cmd_getset, 3, W, 1, 1, 1, "@write @string @fast"},
    {"getdel", cmd_getdel, 2, W, 1, 1, 1, "@write @string @fast"},
    {"getex", cmd_getex, -2, W, 1, 1, 1, "@write @string @fast"},
    {"mget", cmd_mget, -2, R, 1, -1, 1, "@read @string @fast"},
    {"mset", cmd_mset, -3, W, 1, -1, 2, "@write @string @slow"},
    {"msetnx", cmd_msetnx, -3, W, 1, -1, 2, "@write @string @slow"},
    {"incr", cmd_incr, 2, W, 1, 1, 1, "@write @string @fast"},
    {"decr", cmd_decr, 2, W, 1, 1, 1, "@write @string @fast"},
    {"incrby", cmd_incrby, 3, W, 1, 1, 1, "@write @string @fast"},
    {"decrby", cmd_decrby, 3, W, 1, 1, 1, "@write @string @fast"},
    {"incrbyfloat", cmd_incrbyfloat, 3, W, 1, 1, 1, "@write @string @fast"},
    {"append", cmd_append, 3, W, 1, 1, 1, "@write @string @fast"},
    {"strlen", cmd_strlen, 2, R, 1, 1, 1, "@read @string @fast"},
    {"getrange", cmd_getrange, 4, R, 1, 1, 1, "@read @string @slow"},
    {"substr", cmd_getrange, 4, R, 1, 1, 1, "@read @string @slow"},
    {"setrange", cmd_setrange, 4, W, 1, 1, 1, "@write @string @slow"},
    {"lcs", cmd_lcs, -3, R, 1, 1, 1, "@read @string @slow"},
    {"setbit", cmd_setbit, 4, W, 1, 1, 1, "@write @bitmap @slow"},
    {"getbit", cmd_getbit, 3, R, 1, 1, 1, "@read @bitmap @fast"},
    {"bitcount", cmd_bitcount, -2, R, 1, 1, 1, "@read @bitmap @slow"},
    {"bitpos", cmd_bitpos, -3, R, 1, 1, 1, "@read @bitmap @slow"},
    {"del", cmd_del, -2, W, 1, -1, 1, "@keyspace @write @slow"},
    {"unlink", cmd_del, -2, W, 1, -1, 1, "@keyspace @write @fast"},
    {"exists", cmd_exists, -2, R, 1, -1, 1, "@keyspace @read @fast"},
    {"touch", cmd_touch, -2, R, 1, -1, 1, "@keyspace @read @fast"},
    {"type", cmd_type, 2, R, 1, 1, 1, "@keyspace @read @fast"},
    {"dbsize", cmd_dbsize, 1, R, 0, 0, 0, "@keyspace @read @fast"},
    {"rename", cmd_rename, 3, W, 1, 2, 1, "@keyspace @write @slow"},
    {"renamenx", cmd_renamenx, 3, W, 1, 2, 1, "@keyspace @write @fast"},
    {"copy", cmd_copy, -3, W, 1, 2, 1, "@keyspace @write @slow"},
    {"move", cmd_move, 3, W, 1, 1, 1, "@keyspace @write @fast"},
    {"expire", cmd_expire, -3, W, 1, 1, 1, "@keyspace @write @fast"},
    {"pexpire", cmd_pexpire, -3, W, 1, 1, 1, "@keyspace @write @fast"},
    {"expireat", cmd_expireat, -3, W, 1, 1, 1, "@keyspace @write @fast"},
    {"pexpireat", cmd_pexpireat, -3, W, 1, 1, 1, "@keyspace @write @fast"},
    {"persist", cmd_persist, 2, W, 1, 1, 1, "@keyspace @write @fast"},
    {"ttl", cmd_ttl, 2, R, 1, 1, 1, "@keyspace @read @fast"},
    {"pttl", cmd_pttl, 2, R, 1, 1, 1, "@keyspace @read @fast"},
    {"expiretime", cmd_expiretime, 2, R, 1, 1, 1, "@keyspace @read @fast"},
    {"pexpiretime", cmd_pexpiretime, 2, R, 1, 1, 1, "@keyspace @read @fast"},
    {"hset", cmd_hset, -4, W, 1, 1, 1, "@write @hash @fast"},
    {"hsetnx", cmd_hsetnx, 4, W, 1, 1, 1, "@write @hash @fast"},
    {"hmset", cmd_hmset, -4, W, 1, 1, 1, "@write @hash @fast"},
    {"hget", cmd_hget, 3, R, 1, 1, 1, "@read @hash @fast"},
    {"hmget", cmd_hmget, -3, R, 1, 1, 1, "@read @hash @fast"},
    {"hdel", cmd_hdel, -3, W, 1, 1, 1, "@write @hash @fast"},
    {"hlen", cmd_hlen, 2, R, 1, 1, 1, "@read @hash @fast"},
    {"hstrlen", cmd_hstrlen, 3, R, 1, 1, 1, "@read @hash @fast"},
    {"hexists", cmd_hexists, 3, R, 1, 1, 1, "@read @hash @fast"},
    {"hincrby", cmd_hincrby, 4, W, 1, 1, 1, "@write @hash @fast"},
    {"hincrbyfloat", cmd_hincrbyfloat, 4, W, 1, 1, 1, "@write @hash @fast"},
    {"hkeys", cmd_hkeys, 2, R, 1, 1, 1, "@read @hash @slow"},
    {"hvals", cmd_hvals, 2, R, 1, 1, 1, "@read @hash @slow"},
    {"hgetall", cmd_hgetall, 2, R, 1, 1, 1, "@read @hash @slow"},
    {"hrandfield", cmd_hrandfield, -2, R, 1, 1, 1, "@read @hash @slow"},
    {"hscan", cmd_hscan, -3, R, 1, 1, 1, "@read @hash @slow"},
    {"sadd", cmd_sadd, -3, W, 1, 1, 1, "@write @set @fast"},
    {"srem", cmd_srem, -3, W, 1, 1, 1, "@write @set @fast"},
    {"scard", cmd_scard, 2, R, 1, 1, 1, "@read @set @fast"},
    {"sismember", cmd_sismember, 3, R, 1, 1, 1, "@read @set @fast"},
    {"smismember", cmd_smismember, -3, R, 1, 1, 1, "@read @set @fast"},
    {"smembers", cmd_smembers, 2, R, 1, 1, 1, "@read @set @slow"},
    {"sort", cmd_sort, -2, W, 1, 1, 1, "@write @set @sortedset @list @slow @dangerous"},
    {"sort_ro", cmd_sort_ro, -2, R, 1, 1, 1, "@read @set @sortedset @list @slow @dangerous"},
    {"srandmember", cmd_srandmember, -2, R, 1, 1, 1, "@read @set @slow"},
    {"spop", cmd_spop, -2, W, 1, 1, 1, "@write @set @fast"},
    {"smove", cmd_smove, 4, W, 1, 2, 1, "@write @set @fast"},
    {"sinter", cmd_sinter, -2, R, 1, -1, 1, "@read @set @slow"},
    {"sintercard", cmd_sintercard, -3, R, 0, 0, 0, "@read @set @slow"},
    {"sinterstore", cmd_sinterstore, -3, W, 1, -1, 1, "@write @set @slow"},
    {"sunion", cmd_sunion, -2, R, 1, -1, 1, "@read @set @slow"},
    {"sunionstore", cmd_sunionstore, -3, W, 1, -1, 1, "@write @set @slow"},
    {"sdiff", cmd_sdiff, -2, R, 1, -1, 1, "@read @set @slow"},
    {"sdiffstore", cmd_sdiffstore, -3, W, 1, -1, 1, "@write @set @slow"},
    {"sscan", cmd_sscan, -3, R, 1, 1, 1, "@read @set @slow"},
    {"zadd", cmd_zadd, -4, W, 1, 1, 1, "@write @sortedset @fast"},
    {"zincrby", cmd_zincrby, 4, W, 1, 1, 1, "@write @sortedset @fast"},
    {"zrem", cmd_zrem, -3, W, 1, 1, 1, "@write @sortedset @fast"},
    {"zcard", cmd_zcard, 2, R, 1, 1, 1, "@read @sortedset @fast"},
    {"zscore", cmd_zscore, 3, R, 1, 1, 1, "@read @sortedset @fast"},
    {"zmscore", cmd_zmscore, -3, R, 1, 1, 1, "@read @sortedset @fast"},
    {"zrank", cmd_zrank, 3, R, 1, 1, 1, "@read @sortedset @fast"},
    {"zrevrank", cmd_zrevrank, 3, R, 1, 1, 1, "@read @sortedset @fast"},
    {"zcount", cmd_zcount, 4, R, 1, 1, 1, "@read @sortedset @fast"},
    {"zlexcount", cmd_zlexcount, 4, R, 1, 1, 1, "@read @sortedset @fast"},
    {"zrange", cmd_zrange, -4, R, 1, 1, 1, "@read @sortedset @slow"},
    {"zrangestore", cmd_zrangestore, -5, W, 1, 2, 1, "@write @sortedset @slow"},
    {"zrevrange", cmd_zrevrange, -4, R, 1, 1, 1, "@read @sortedset @slow"},
    {"zrangebyscore", cmd_zrangebyscore, -4, R, 1, 1, 1, "@read @sortedset @slow"},
    {"zrevrangebyscore", cmd_zrevrangebyscore, -4, R, 1, 1, 1, "@read @sortedset @slow"},
    {"zrangebylex", cmd_zrangebylex, -4, R, 1, 1, 1, "@read @sortedset @slow"},
    {"zrevrangebylex", cmd_zrevrangebylex, -4, R, 1, 1, 1, "@read @sortedset @slow"},
    {"zremrangebyrank", cmd_zremrangebyrank, 4, W, 1, 1, 1, "@write @sortedset @slow"},
    {"zremrangebyscore", cmd_zremrangebyscore, 4, W, 1, 1, 1, "@write @sortedset @slow"},
    {"zremrangebylex", cmd_zremrangebylex, 4, W, 1, 1, 1, "@write @sortedset @slow"},
    {"zpopmin", cmd_zpopmin, -2, W, 1, 1, 1, "@write @sortedset @fast"},
    {"zpopmax", cmd_zpopmax, -2, W, 1, 1, 1, "@write @sortedset @fast"},
    {"zrandmember", cmd_zrandmember, -2, R, 1, 1, 1, "@read @sortedset @slow"},
    {"zscan", cmd_zscan, -3, R, 1, 1, 1, "@read @sortedset @slow"},
    {"lpush", cmd_lpush, -3, W, 1, 1, 1, "@write @list @fast"},
    {"rpush", cmd_rpush, -3, W, 1, 1, 1, "@write @list @fast"},
    {"lpushx", cmd_lpushx, -3, W, 1, 1, 1, "@write @list @fast"},
    {"rpushx", cmd_rpushx, -3, W, 1, 1, 1, "@write @list @fast"},
    {"lpop", cmd_lpop, -2, W, 1, 1, 1, "@write @list @fast"},
    {"rpop", cmd_rpop, -2, W, 1, 1, 1, "@write @list @fast"},
    {"llen", cmd_llen, 2, R, 1, 1, 1, "@read @list @fast"},
    {"lindex", cmd_lindex, 3, R, 1, 1, 1, "@read @list @slow"},
    {"lrange", cmd_lrange, 4, R, 1, 1, 1, "@read @list @slow"},
    {"lset", cmd_lset, 4, W, 1, 1, 1, "@write @list @slow"},
    {"ltrim", cmd_ltrim, 4, W, 1, 1, 1, "@write @list @slow"},
    {"linsert", cmd_linsert, 5, W, 1, 1, 1, "@write @list @slow"},
    {"lrem", cmd_lrem, 4, W, 1, 1, 1, "@write @list @slow"},
    {"lpos", cmd_lpos, -3, R, 1, 1, 1, "@read @list @slow"},
    {"lmove", cmd_lmove, 5, W, 1, 2, 1, "@write @list @slow"},
    {"rpoplpush", cmd_rpoplpush, 3, W, 1, 2, 1, "@write @list @slow"},
    {"lmpop", cmd_lmpop, -4, W, 0, 0, 0, "@write @list @slow"},
    {"zunion", cmd_zunion, -3, R, 0, 0, 0, "@read @sortedset @slow"},
    {"zinter", cmd_zinter, -3, R, 0, 0, 0, "@read @sortedset @slow"},
    {"zdiff", cmd_zdiff, -3, R, 0, 0, 0, "@read @sortedset @slow"},
    {"zunionstore", cmd_zunionstore, -4, W, 1, 1, 1, "@write @sortedset @slow"},
    {"zinterstore", cmd_zinterstore, -4, W, 1, 1, 1, "@write @sortedset @slow"},
    {"zdiffstore", cmd_zdiffstore, -4, W, 1, 1, 1, "@write @sortedset @slow"},
    {"zintercard", cmd_zintercard, -3, R, 0, 0, 0, "@read @sortedset @slow"},
    {"zmpop", cmd_zmpop, -4, W, 0, 0, 0, "@write @sortedset @slow"},
    {"blpop", cmd_blpop, -3, W, 1, -2, 1, "@write @list @slow @blocking"},
    {"brpop", cmd_brpop, -3, W, 1, -2, 1, "@write @list @slow @blocking"},
    {"blmove", cmd_blmove, 6, W, 1, 2, 1, "@write @list @slow @blocking"},
    {"brpoplpush", cmd_brpoplpush, 4, W, 1, 2, 1, "@write @list @slow @blocking"},
    {"blmpop", cmd_blmpop, -5, W, 0, 0, 0, "@write @list @slow @blocking"},
    {"bzpopmin", cmd_bzpopmin, -3, W, 1, -2, 1, "@write @sortedset @fast @blocking"},
    {"bzpopmax", cmd_bzpopmax, -3, W, 1, -2, 1, "@write @sortedset @fast @blocking"},
    {"bzmpop", cmd_bzmpop, -5, W, 0, 0, 0, "@write @sortedset @slow @blocking"},
    {"object", cmd_object, -2, R | SUB, 0, 0, 0, "@slow"},
    {"memory", cmd_memory, -2, R | SUB, 0, 0, 0, "@slow"},
    {"randomkey", cmd_randomkey, 1, R, 0, 0, 0, "@keyspace @read @slow"},
    {"keys", cmd_keys, 2, R, 0, 0, 0, "@keyspace @read @slow @dangerous"},
    {"scan", cmd_scan, -2, R, 0, 0, 0, "@keyspace @read @slow"},
    {"swapdb", cmd_swapdb, 3, W, 0, 0, 0, "@keyspace @write @fast @dangerous"},
    {"flushdb", cmd_flushdb, -1, W, 0, 0, 0, "@keyspace @write @slow @dangerous"},
    {"flushall", cmd_flushall, -1, W, 0, 0, 0, "@keyspace @write @slow @dangerous"},
    {"info", cmd_info, -1, C, 0, 0, 0, "@slow @dangerous"},
    {"config", cmd_config, -2, C | SUB, 0, 0, 0, "@slow"},
    {"command", cmd_command, -1, C | SUB, 0, 0, 0, "@slow @connection"},
    {"time", cmd_time, 1, C, 0, 0, 0, "@fast"},
    {"lastsave", cmd_lastsave, 1, C, 0, 0, 0, "@fast @dangerous"},
    {"shutdown", cmd_shutdown, -1, C | NM, 0, 0, 0, "@admin @slow @dangerous"},
    {"debug", cmd_debug, -2, C | PR, 0, 0, 0, "@admin @slow @dangerous"},
    {"save", cmd_save, 1, C | NM, 0, 0, 0, "@admin @slow @dangerous"},
    {"bgsave", cmd_save, -1, C, 0, 0, 0, "@admin @slow @dangerous"},
    {"function", cmd_function, -2, C | SUB, 0, 0, 0, "@slow @scripting"},
    {"multi", cmd_multi, 1, C, 0, 0, 0, "@fast @transaction"},
    {"exec", cmd_exec, 1, C, 0, 0, 0, "@slow @transaction"},
    {"discard", cmd_discard, 1, C, 0, 0, 0, "@fast @transaction"},
    {"watch", cmd_watch, -2, WA, 1, -1, 1, "@fast @transaction"},
    {"unwatch", cmd_unwatch, 1, WA, 0, 0, 0, "@fast @transaction"},
};
const size_t cmd_count = sizeof cmd_table / sizeof cmd_table[0];

/* The subcommands of CMD_SUBS commands that are implemented, named "parent|sub" as Redis
 * 7.0 names them (errors, INFO commandstats, CLIENT LIST cmd=). The parent's handler
 * runs them; the entry gives the arity Redis checks and the slot its statistics go in. */
const cmd_def cmd_subtable[] = {
    {"object|encoding", cmd_object, 3, R, 2, 2, 1, "@keyspace @read @slow"},
    {"object|refcount", cmd_object, 3, R, 2, 2, 1, "@keyspace @read @slow"},
    {"object|idletime", cmd_object, 3, R, 2, 2, 1, "@keyspace @read @slow"},
    {"object|freq", cmd_object, 3, R, 2, 2, 1, "@keyspace @read @slow"},
    {"object|help", cmd_object, 2, R, 0, 0, 0, "@keyspace @slow"},
    {"memory|usage", cmd_memory, -3, R, 2, 2, 1, "@read @slow"},
    {"memory|help", cmd_memory, 2, R, 0, 0, 0, "@slow"},
    {"client|id", cmd_client, 2, C, 0, 0, 0, "@slow @connection"},
    {"client|getname", cmd_client, 2, C, 0, 0, 0, "@slow @connection"},
    {"client|setname", cmd_client, 3, C, 0, 0, 0, "@slow @connection"},
    {"client|info", cmd_client, 2, C, 0, 0, 0, "@slow @connection"},
    {"client|list", cmd_client, -2, C | AS, 0, 0, 0, "@admin @slow @dangerous @connection"},
    {"client|kill", cmd_client, -3, C | AS, 0, 0, 0, "@admin @slow @dangerous @connection"},
    {"client|unblock", cmd_client_unblock, -3, WA, 0, 0, 0,
     "@admin @slow @dangerous @connection"},
    {"client|no-evict", cmd_client, 3, C, 0, 0, 0, "@admin @slow @dangerous @connection"},
    {"client|no-touch", cmd_client, 3, C, 0, 0, 0, "@slow @connection"},
    {"client|setinfo", cmd_client, 4, C, 0, 0, 0, "@slow @connection"},
    {"config|get", cmd_config, -3, C, 0, 0, 0, "@admin @slow @dangerous"},
    {"config|set", cmd_config, -4, C | AS, 0, 0, 0, "@admin @slow @dangerous"},
    {"config|resetstat", cmd_config, 2, C, 0, 0, 0, "@admin @slow @dangerous"},
    {"config|rewrite", cmd_config, 2, C, 0, 0, 0, "@admin @slow @dangerous"},
    {"command|count", cmd_command, 2, C, 0, 0, 0, "@slow @connection"},
    {"command|list", cmd_command, -2, C, 0, 0, 0, "@slow @connection"},
    {"command|info", cmd_command, -2, C, 0, 0, 0, "@slow @connection"},
    {"command|docs", cmd_command, -2, C, 0, 0, 0, "@slow @connection"},
    {"function|flush", cmd_function, -2, C, 0, 0, 0, "@write @slow @scripting"},
};
const size_t cmd_subcount = sizeof cmd_subtable / sizeof cmd_subtable[0];

int cmd_init(void)
{
    /* The lookup table borrows the array of names: it lives as long as the server. */
    srv.cmd_names = calloc(cmd_count, sizeof *srv.cmd_names);
    if (!srv.cmd_names)
        return -1;
    for (size_t i = 0; i < cmd_count; i++)
        srv.cmd_names[i] = cmd_table[i].name;
    return resp_cmdtab_new(&srv.cmdtab, srv.cmd_names, cmd_count, NULL) == RESP_OK ? 0 : -1;
}

const cmd_def *cmd_lookup(const resp_arg *name)
{
    int i = resp_cmdtab_find(srv.cmdtab, name->ptr, name->len);
    return i < 0 ? NULL : &cmd_table[i];
}

const cmd_def *cmd_lookup_sub(const cmd_def *parent, const resp_arg *sub)
{
    size_t pl = strlen(parent->name);
    for (size_t i = 0; i < cmd_subcount; i++) {
        const char *n = cmd_subtable[i].name;
        if (!strncmp(n, parent->name, pl) && n[pl] == '|' && cmd_is(sub, n + pl + 1))
            return &cmd_subtable[i];
    }
    return NULL;
}

size_t cmd_slot(const cmd_def *d)
{
    if (d >= cmd_table && d < cmd_table + cmd_count)
        return (size_t)(d - cmd_table);
    return cmd_count + (size_t)(d - cmd_subtable);
}

const cmd_def *cmd_by_slot(size_t slot)
{
    return slot < cmd_count ? &cmd_table[slot] : &cmd_subtable[slot - cmd_count];
}

/* As Redis's processCommand for a container command: argv[0] upper-cased in the hint. */
/* The command's name in capitals, as Redis's texts show it, into upper[32]. */
static const char *upper_name(const resp_arg *name, char *upper)
{
    size_t n = name->len < 31 ? name->len : 31;
    for (size_t k = 0; k < n; k++)
        upper[k] = (char)(name->ptr[k] >= 'a' && name->ptr[k] <= 'z' ? name->ptr[k] - 32
                                                                     : name->ptr[k]);
    upper[n] = '\0';
    return upper;
}

void cmd_reply_unknown_sub(resp_buf *out, const resp_arg *argv)
{
    char upper[32];
    resp_write_errorf(out, "-ERR unknown subcommand '%.*s'. Try %s HELP.",
                      (int)(argv[1].len < 128 ? argv[1].len : 128), argv[1].ptr,
                      upper_name(&argv[0], upper));
}

void cmd_reply_sub_syntax(resp_buf *out, const resp_arg *argv)
{
    char upper[32];
    resp_write_errorf(out, "-ERR unknown subcommand or wrong number of arguments for '%.*s'. "
                      "Try %s HELP.", (int)(argv[1].len < 128 ? argv[1].len : 128),
                      argv[1].ptr, upper_name(&argv[0], upper));
}

void cmd_reply_help(resp_buf *out, const resp_arg *name, const char *const *lines)
{
    char upper[32], head[96];
    size_t n = 0;
    while (lines[n])
        n++;
    int hl = snprintf(head, sizeof head, "%s <subcommand> [<arg> [value] [opt] ...]. "
                      "Subcommands are:", upper_name(name, upper));
    resp_write_array(out, n + 3);
    resp_write_simple(out, head, (size_t)hl);
    for (size_t i = 0; i < n; i++)
        resp_write_simple(out, lines[i], strlen(lines[i]));
    resp_write_simple(out, "HELP", 4);
    resp_write_simple(out, "    Prints this help.", 21);
}

void cmd_call(cmd_ctx *x)
{
    unsigned long errors = stats_thread_errors();
    uint64_t t0 = srv_ustime();
    x->cmd->fn(x);
    stats_called(cmd_slot(x->cmd), srv_ustime() - t0, stats_thread_errors() != errors);
}

int cmd_arity_ok(const cmd_def *d, int argc)
{
    return d->arity >= 0 ? argc == d->arity : argc >= -d->arity;
}

/* As Redis's processCommand: the name and up to 128 bytes of arguments, each quoted and
 * followed by a space. */
void cmd_reply_unknown(resp_buf *out, int argc, const resp_arg *argv)
{
    char args[160 * 4];
    size_t n = 0;
    args[0] = '\0';
    for (int i = 1; i < argc && n < 128; i++) {
        size_t room = 128 - n;
        int w = snprintf(args + n, sizeof args - n, "'%.*s' ",
                         (int)(argv[i].len < room ? argv[i].len : room), argv[i].ptr);
        if (w < 0)
            break;
        n += (size_t)w;
        if (n >= sizeof args)
            n = sizeof args - 1;
    }
    resp_write_errorf(out, "-ERR unknown command '%.*s', with args beginning with: %s",
                      (int)(argv[0].len < 128 ? argv[0].len : 128), argv[0].ptr, args);
}

void cmd_reply_arity(resp_buf *out, const char *name)
{
    resp_write_errorf(out, "-ERR wrong number of arguments for '%s' command", name);
}

void cmd_ok(cmd_ctx *x)
{
    resp_write_raw(x->out, "+OK\r\n", 5);
}

void cmd_err(cmd_ctx *x, const char *msg)
{
    resp_write_error(x->out, msg, strlen(msg));
}

void cmd_syntax_error(cmd_ctx *x)
{
    cmd_err(x, "-ERR syntax error");
}

void cmd_keyargs_error(cmd_ctx *x, int code, const resp_arg *opt)
{
    char text[256];
    keyargs_errtext(code, x->cmd->name, opt, text, sizeof text);
    resp_write_errorf(x->out, "-ERR %s", text);
}

void cmd_store_error(cmd_ctx *x, int rc)
{
    resp_write_errorf(x->out, "-ERR %s", ox_strerror(rc));
}

int cmd_pop_count_or_reply(cmd_ctx *x, long long *count, int *with_count)
{
    *count = 1;
    *with_count = x->argc == 3;
    if (x->argc > 3) {
        cmd_syntax_error(x);
        return 0;
    }
    if (*with_count && (!num_str2ll(x->argv[2].ptr, x->argv[2].len, count) || *count < 0)) {
        cmd_err(x, "-ERR value is out of range, must be positive");
        return 0;
    }
    return 1;
}

int cmd_mpop_args_or_reply(cmd_ctx *x, int base, const char *a, const char *b, int *at,
                           int *end, long long *count)
{
    long long nkeys;
    *count = 1;
    if (!num_str2ll(x->argv[base].ptr, x->argv[base].len, &nkeys) || nkeys < 1) {
        cmd_err(x, "-ERR numkeys should be greater than 0");
        return 0;
    }
    if (nkeys > x->argc - base - 2) {
        cmd_syntax_error(x);
        return 0;
    }
    *at = base + 1 + (int)nkeys;
    if (!((*end = cmd_is(&x->argv[*at], b)) || cmd_is(&x->argv[*at], a)) ||
        (x->argc > *at + 1 && (x->argc != *at + 3 || !cmd_is(&x->argv[*at + 1], "count")))) {
        cmd_syntax_error(x);
        return 0;
    }
    if (x->argc == *at + 3 &&
        (!num_str2ll(x->argv[*at + 2].ptr, x->argv[*at + 2].len, count) || *count < 1)) {
        cmd_err(x, "-ERR count should be greater than 0");
        return 0;
    }
    return 1;
}

int cmd_int_add_or_reply(cmd_ctx *x, const ox_val *cur, long long by, const char *notint,
                         long long *sum, char *buf)
{
    long long v = 0;
    if (cur && !num_str2ll(cur->data, cur->len, &v)) {
        cmd_err(x, notint);
        return -1;
    }
    if (!num_ll_add(v, by, sum)) {
        cmd_err(x, "-ERR increment or decrement would overflow");
        return -1;
    }
    return snprintf(buf, 32, "%lld", *sum);
}

int cmd_float_add_or_reply(cmd_ctx *x, long double cur, long double by, char *buf, size_t cap)
{
    cur += by;
    if (isnan(cur) || isinf(cur)) {
        cmd_err(x, "-ERR increment would produce NaN or Infinity");
        return -1;
    }
    int n = num_ld2str(buf, cap, cur);
    if (n < 0)
        cmd_err(x, "-ERR value is not a valid float");
    return n;
}

int cmd_ll_or_reply(cmd_ctx *x, const resp_arg *a, long long *out)
{
    if (num_str2ll(a->ptr, a->len, out))
        return 0;
    cmd_err(x, "-ERR value is not an integer or out of range");
    return -1;
}

int cmd_range_clamp(long long *start, long long *end, long long len)
{
    if (*start < 0 && *end < 0 && *start > *end)
        return 0;
    return cmd_range_norm(start, end, len);
}

int cmd_range_norm(long long *start, long long *end, long long len)
{
    if (*start < 0)
        *start += len;
    if (*end < 0)
        *end += len;
    if (*start < 0)
        *start = 0;
    if (*end < 0)
        *end = 0;
    if (*end >= len)
        *end = len - 1;
    return *start <= *end && len > 0;
}

int cmd_is(const resp_arg *a, const char *s)
{
    size_t n = strlen(s);
    return a->len == n && strncasecmp(a->ptr, s, n) == 0;
}
