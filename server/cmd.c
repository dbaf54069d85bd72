/* cmd.c — the command table, its lookup, and helpers every handler shares. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"
#include "job.h"
#include "keyargs.h"
#include "notify.h"
#include "repl.h"
#include "replica.h"
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
#define PS CMD_PUBSUB_OK
#define SC CMD_SCRIPT
#define PO CMD_POP

/* One row per command: name, handler, arity, flags (how oxistore runs it); then what
 * COMMAND reports of it (cmd.h): Redis's flags, the ACL categories the flags do not imply,
 * tips, key specs (keyspec.h), and "group since | complexity | summary" for COMMAND DOCS. */
const cmd_def cmd_table[] = {
    {"ping", cmd_ping, -1, C | PS | SC, "fast", "@connection",
     "request_policy:all_shards response_policy:all_succeeded", "",
     "connection 1.0.0 | O(1) | Answers PONG, or echoes its argument", "s:message?"},
    {"echo", cmd_echo, 2, C | SC, "loading stale fast", "@connection", "", "",
     "connection 1.0.0 | O(1) | Replies with its argument", "s:message"},
    {"quit", cmd_quit, -1, C | NA | PS, "noscript loading stale fast no_auth allow_busy", "@connection",
     "", "", "connection 1.0.0 | O(1) | Closes the connection after the reply", ""},
    {"select", cmd_select, 2, C | SC, "loading stale fast", "@connection", "", "",
     "connection 1.0.0 | O(1) | Switches the connection to another database", "i:index"},
    {"hello", cmd_hello, -1, C | NA, "noscript loading stale fast no_auth allow_busy",
     "@connection", "", "",
     "connection 6.0.0 | O(1) | Picks the protocol, may authenticate and name the connection",
     "b:arguments?(i:protover b:username_password=AUTH?(s:username s:password) "
     "s:clientname=SETNAME?)"},
    {"auth", cmd_auth, -2, C | NA, "noscript loading stale fast no_auth allow_busy", "@connection",
     "", "", "connection 1.0.0 | O(N) for N passwords | Authenticates the connection",
     "s:username@6.0.0? s:password"},
    {"client", cmd_client, -2, C | SUB, "", "", "", "",
     "connection 2.4.0 | Per subcommand | Commands about client connections", ""},
    {"reset", cmd_reset, 1, C | NA | PS, "noscript loading stale fast no_auth allow_busy", "@connection",
     "", "", "connection 6.2.0 | O(1) | Returns the connection to its initial state", ""},
    {"get", cmd_get_, 2, R, "readonly fast", "@string", "", "RO access; index 1; range 0 1 0",
     "string 1.0.0 | O(1) | The string value of a key", "k:key#0"},
    {"set", cmd_set, -3, W, "write denyoom", "@string", "",
     "RW access update variable_flags; index 1; range 0 1 0; note RW and ACCESS due to the "
     "optional `GET` argument", "string 1.0.0 | O(1) | Sets a key's string value",
     "k:key#0 s:value o:condition@2.6.12?(P=NX P=XX) P=GET@6.2.0? "
     "o:expiration?(i:seconds=EX@2.6.12 i:milliseconds=PX@2.6.12 t:unix-time-seconds=EXAT@6.2.0 "
     "t:unix-time-milliseconds=PXAT@6.2.0 P=KEEPTTL@6.0.0)"},
    {"setnx", cmd_setnx, 3, W, "write denyoom fast", "@string", "",
     "OW insert; index 1; range 0 1 0",
     "string 1.0.0 | O(1) | Sets a key's value if it does not exist", "k:key#0 s:value"},
    {"setex", cmd_setex, 4, W, "write denyoom", "@string", "", "OW update; index 1; range 0 1 0",
     "string 2.0.0 | O(1) | Sets a key's value and time to live in seconds",
     "k:key#0 i:seconds s:value"},
    {"psetex", cmd_psetex, 4, W, "write denyoom", "@string", "", "OW update; index 1; range 0 1 0",
     "string 2.6.0 | O(1) | Sets a key's value and time to live in ms",
     "k:key#0 i:milliseconds s:value"},
    {"getset", cmd_getset, 3, W, "write denyoom fast", "@string", "",
     "RW access update; index 1; range 0 1 0",
     "string 1.0.0 | O(1) | Sets a key's value and replies the old one | deprecated 6.2.0 SET "
     "with the GET option", "k:key#0 s:value"},
    {"getdel", cmd_getdel, 2, W, "write fast", "@string", "",
     "RW access delete; index 1; range 0 1 0",
     "string 6.2.0 | O(1) | Replies a key's value and deletes the key", "k:key#0"},
    {"getex", cmd_getex, -2, W, "write fast", "@string", "",
     "RW access update; index 1; range 0 1 0; note RW and UPDATE because it changes the TTL",
     "string 6.2.0 | O(1) | Replies a key's value and changes its expiry",
     "k:key#0 o:expiration?(i:seconds=EX i:milliseconds=PX t:unix-time-seconds=EXAT "
     "t:unix-time-milliseconds=PXAT P=PERSIST)"},
    {"mget", cmd_mget, -2, R, "readonly fast", "@string", "request_policy:multi_shard",
     "RO access; index 1; range -1 1 0",
     "string 1.0.0 | O(N) for N keys | The string values of several keys", "k:key#0*"},
    {"mset", cmd_mset, -3, W, "write denyoom", "@string",
     "request_policy:multi_shard response_policy:all_succeeded", "OW update; index 1; range -1 2 0",
     "string 1.0.1 | O(N) for N keys | Sets several keys' string values",
     "b:key_value*(k:key#0 s:value)"},
    {"msetnx", cmd_msetnx, -3, W, "write denyoom", "@string",
     "request_policy:multi_shard response_policy:agg_min", "OW insert; index 1; range -1 2 0",
     "string 1.0.1 | O(N) for N keys | Sets several keys if none of them exists",
     "b:key_value*(k:key#0 s:value)"},
    {"incr", cmd_incr, 2, W, "write denyoom fast", "@string", "",
     "RW access update; index 1; range 0 1 0",
     "string 1.0.0 | O(1) | Adds one to a key's integer value", "k:key#0"},
    {"decr", cmd_decr, 2, W, "write denyoom fast", "@string", "",
     "RW access update; index 1; range 0 1 0",
     "string 1.0.0 | O(1) | Subtracts one from a key's integer value", "k:key#0"},
    {"incrby", cmd_incrby, 3, W, "write denyoom fast", "@string", "",
     "RW access update; index 1; range 0 1 0",
     "string 1.0.0 | O(1) | Adds an integer to a key's integer value", "k:key#0 i:increment"},
    {"decrby", cmd_decrby, 3, W, "write denyoom fast", "@string", "",
     "RW access update; index 1; range 0 1 0",
     "string 1.0.0 | O(1) | Subtracts an integer from a key's integer value",
     "k:key#0 i:decrement"},
    {"incrbyfloat", cmd_incrbyfloat, 3, W, "write denyoom fast", "@string", "",
     "RW access update; index 1; range 0 1 0",
     "string 2.6.0 | O(1) | Adds a float to a key's number", "k:key#0 d:increment"},
    {"append", cmd_append, 3, W, "write denyoom fast", "@string", "",
     "RW insert; index 1; range 0 1 0",
     "string 2.0.0 | O(1) amortised | Appends a string to a key's value", "k:key#0 s:value"},
    {"strlen", cmd_strlen, 2, R, "readonly fast", "@string", "", "RO; index 1; range 0 1 0",
     "string 2.2.0 | O(1) | The length of a key's string value", "k:key#0"},
    {"getrange", cmd_getrange, 4, R, "readonly", "@string", "", "RO access; index 1; range 0 1 0",
     "string 2.4.0 | O(N) for N bytes replied | A range of bytes of a key's string value",
     "k:key#0 i:start i:end"},
    {"substr", cmd_getrange, 4, R, "readonly", "@string", "", "RO access; index 1; range 0 1 0",
     "string 1.0.0 | O(N) for N bytes replied | A range of bytes of a key's string value | "
     "deprecated 2.0.0 GETRANGE", "k:key#0 i:start i:end"},
    {"setrange", cmd_setrange, 4, W, "write denyoom", "@string", "",
     "RW update; index 1; range 0 1 0",
     "string 2.2.0 | O(N) for N bytes written | Overwrites part of a key's string value",
     "k:key#0 i:offset s:value"},
    {"lcs", cmd_lcs, -3, R, "readonly", "@string", "", "RO access; index 1; range 1 1 0",
     "string 7.0.0 | O(N*M) for strings of N and M bytes | The longest common subsequence of two "
     "strings", "k:key1#0 k:key2#0 P=LEN? P=IDX? i:len=MINMATCHLEN? P=WITHMATCHLEN?"},
    {"setbit", cmd_setbit, 4, W, "write denyoom", "@bitmap", "",
     "RW access update; index 1; range 0 1 0",
     "bitmap 2.2.0 | O(1) | Sets or clears one bit of a key's string value",
     "k:key#0 i:offset i:value"},
    {"getbit", cmd_getbit, 3, R, "readonly fast", "@bitmap", "", "RO access; index 1; range 0 1 0",
     "bitmap 2.2.0 | O(1) | One bit of a key's string value", "k:key#0 i:offset"},
    {"bitcount", cmd_bitcount, -2, R, "readonly", "@bitmap", "", "RO access; index 1; range 0 1 0",
     "bitmap 2.6.0 | O(N) for N bytes | Counts the set bits of a key's string value",
     "k:key#0 b:index?(i:start i:end o:index_unit@7.0.0?(P=BYTE P=BIT))"},
    {"bitpos", cmd_bitpos, -3, R, "readonly", "@bitmap", "", "RO access; index 1; range 0 1 0",
     "bitmap 2.8.7 | O(N) for N bytes | The first set or clear bit of a string",
     "k:key#0 i:bit b:index?(i:start b:end_index?(i:end o:index_unit@7.0.0?(P=BYTE P=BIT)))"},
    {"del", cmd_del, -2, W, "write", "@keyspace",
     "request_policy:multi_shard response_policy:agg_sum", "RM delete; index 1; range -1 1 0",
     "generic 1.0.0 | O(N) for N keys | Deletes keys", "k:key#0*"},
    {"unlink", cmd_del, -2, W, "write fast", "@keyspace",
     "request_policy:multi_shard response_policy:agg_sum", "RM delete; index 1; range -1 1 0",
     "generic 4.0.0 | O(1) per key | Deletes keys, freeing values in the background", "k:key#0*"},
    {"exists", cmd_exists, -2, R, "readonly fast", "@keyspace",
     "request_policy:multi_shard response_policy:agg_sum", "RO; index 1; range -1 1 0",
     "generic 1.0.0 | O(N) for N keys | Counts how many of the keys exist", "k:key#0*"},
    {"touch", cmd_touch, -2, R, "readonly fast", "@keyspace",
     "request_policy:multi_shard response_policy:agg_sum", "RO; index 1; range -1 1 0",
     "generic 3.2.1 | O(N) for N keys | Counts the keys that exist, marking them used", "k:key#0*"},
    {"type", cmd_type, 2, R, "readonly fast", "@keyspace", "", "RO; index 1; range 0 1 0",
     "generic 1.0.0 | O(1) | The type of a key's value", "k:key#0"},
    {"dbsize", cmd_dbsize, 1, R, "readonly fast", "@keyspace",
     "request_policy:all_shards response_policy:agg_sum", "",
     "server 1.0.0 | O(1) | The number of keys in the database", ""},
    {"rename", cmd_rename, 3, W, "write", "@keyspace", "",
     "RW access delete; index 1; range 0 1 0 | OW update; index 2; range 0 1 0",
     "generic 1.0.0 | O(1) | Renames a key", "k:key#0 k:newkey#1"},
    {"renamenx", cmd_renamenx, 3, W, "write fast", "@keyspace", "",
     "RW access delete; index 1; range 0 1 0 | OW insert; index 2; range 0 1 0",
     "generic 1.0.0 | O(1) | Renames a key if the new name is not taken", "k:key#0 k:newkey#1"},
    {"copy", cmd_copy, -3, W, "write denyoom", "@keyspace", "",
     "RO access; index 1; range 0 1 0 | OW update; index 2; range 0 1 0",
     "generic 6.2.0 | O(N) for N elements | Copies a key's value to another key",
     "k:source#0 k:destination#1 i:destination-db=DB? P=REPLACE?"},
    {"move", cmd_move, 3, W, "write fast", "@keyspace", "",
     "RW access update; index 1; range 0 1 0",
     "generic 1.0.0 | O(1) | Moves a key to another database", "k:key#0 i:db"},
    {"expire", cmd_expire, -3, W, "write fast", "@keyspace", "", "RW update; index 1; range 0 1 0",
     "generic 1.0.0 | O(1) | Sets a key's time to live in seconds",
     "k:key#0 i:seconds o:condition@7.0.0?(P=NX P=XX P=GT P=LT)"},
    {"pexpire", cmd_pexpire, -3, W, "write fast", "@keyspace", "",
     "RW update; index 1; range 0 1 0",
     "generic 2.6.0 | O(1) | Sets a key's time to live in milliseconds",
     "k:key#0 i:milliseconds o:condition@7.0.0?(P=NX P=XX P=GT P=LT)"},
    {"expireat", cmd_expireat, -3, W, "write fast", "@keyspace", "",
     "RW update; index 1; range 0 1 0",
     "generic 1.2.0 | O(1) | Sets a key's expiry time as a Unix time in seconds",
     "k:key#0 t:unix-time-seconds o:condition@7.0.0?(P=NX P=XX P=GT P=LT)"},
    {"pexpireat", cmd_pexpireat, -3, W, "write fast", "@keyspace", "",
     "RW update; index 1; range 0 1 0",
     "generic 2.6.0 | O(1) | Sets a key's expiry time as a Unix time in milliseconds",
     "k:key#0 t:unix-time-milliseconds o:condition@7.0.0?(P=NX P=XX P=GT P=LT)"},
    {"persist", cmd_persist, 2, W, "write fast", "@keyspace", "", "RW update; index 1; range 0 1 0",
     "generic 2.2.0 | O(1) | Removes a key's expiry", "k:key#0"},
    {"ttl", cmd_ttl, 2, R, "readonly fast", "@keyspace", "nondeterministic_output",
     "RO access; index 1; range 0 1 0", "generic 1.0.0 | O(1) | A key's time to live in seconds",
     "k:key#0"},
    {"pttl", cmd_pttl, 2, R, "readonly fast", "@keyspace", "nondeterministic_output",
     "RO access; index 1; range 0 1 0",
     "generic 2.6.0 | O(1) | A key's time to live in milliseconds", "k:key#0"},
    {"expiretime", cmd_expiretime, 2, R, "readonly fast", "@keyspace", "",
     "RO access; index 1; range 0 1 0",
     "generic 7.0.0 | O(1) | A key's expiry time as a Unix time in seconds", "k:key#0"},
    {"pexpiretime", cmd_pexpiretime, 2, R, "readonly fast", "@keyspace", "",
     "RO access; index 1; range 0 1 0",
     "generic 7.0.0 | O(1) | A key's expiry time as a Unix time in milliseconds", "k:key#0"},
    {"hset", cmd_hset, -4, W, "write denyoom fast", "@hash", "", "RW update; index 1; range 0 1 0",
     "hash 2.0.0 | O(N) for N fields | Sets fields of a hash",
     "k:key#0 b:field_value*(s:field s:value)"},
    {"hsetnx", cmd_hsetnx, 4, W, "write denyoom fast", "@hash", "",
     "RW insert; index 1; range 0 1 0",
     "hash 2.0.0 | O(1) | Sets a field of a hash if the field does not exist",
     "k:key#0 s:field s:value"},
    {"hmset", cmd_hmset, -4, W, "write denyoom fast", "@hash", "",
     "RW update; index 1; range 0 1 0",
     "hash 2.0.0 | O(N) for N fields | Sets fields of a hash | deprecated 4.0.0 HSET with several "
     "fields", "k:key#0 b:field_value*(s:field s:value)"},
    {"hget", cmd_hget, 3, R, "readonly fast", "@hash", "", "RO access; index 1; range 0 1 0",
     "hash 2.0.0 | O(1) | The value of a hash field", "k:key#0 s:field"},
    {"hmget", cmd_hmget, -3, R, "readonly fast", "@hash", "", "RO access; index 1; range 0 1 0",
     "hash 2.0.0 | O(N) for N fields | The values of several hash fields", "k:key#0 s:field*"},
    {"hdel", cmd_hdel, -3, W, "write fast", "@hash", "", "RW delete; index 1; range 0 1 0",
     "hash 2.0.0 | O(N) for N fields | Deletes fields of a hash", "k:key#0 s:field*"},
    {"hlen", cmd_hlen, 2, R, "readonly fast", "@hash", "", "RO; index 1; range 0 1 0",
     "hash 2.0.0 | O(1) | The number of fields of a hash", "k:key#0"},
    {"hstrlen", cmd_hstrlen, 3, R, "readonly fast", "@hash", "", "RO; index 1; range 0 1 0",
     "hash 3.2.0 | O(1) | The length of a hash field's value", "k:key#0 s:field"},
    {"hexists", cmd_hexists, 3, R, "readonly fast", "@hash", "", "RO; index 1; range 0 1 0",
     "hash 2.0.0 | O(1) | Whether a hash field exists", "k:key#0 s:field"},
    {"hincrby", cmd_hincrby, 4, W, "write denyoom fast", "@hash", "",
     "RW access update; index 1; range 0 1 0",
     "hash 2.0.0 | O(1) | Adds an integer to a hash field's integer value",
     "k:key#0 s:field i:increment"},
    {"hincrbyfloat", cmd_hincrbyfloat, 4, W, "write denyoom fast", "@hash", "",
     "RW access update; index 1; range 0 1 0",
     "hash 2.6.0 | O(1) | Adds a float to a hash field's number", "k:key#0 s:field d:increment"},
    {"hkeys", cmd_hkeys, 2, R, "readonly", "@hash", "nondeterministic_output_order",
     "RO access; index 1; range 0 1 0", "hash 2.0.0 | O(N) for N fields | The fields of a hash",
     "k:key#0"},
    {"hvals", cmd_hvals, 2, R, "readonly", "@hash", "nondeterministic_output_order",
     "RO access; index 1; range 0 1 0", "hash 2.0.0 | O(N) for N fields | The values of a hash",
     "k:key#0"},
    {"hgetall", cmd_hgetall, 2, R, "readonly", "@hash", "nondeterministic_output_order",
     "RO access; index 1; range 0 1 0",
     "hash 2.0.0 | O(N) for N fields | The fields and values of a hash", "k:key#0"},
    {"hrandfield", cmd_hrandfield, -2, R, "readonly", "@hash", "nondeterministic_output",
     "RO access; index 1; range 0 1 0",
     "hash 6.2.0 | O(N) for N fields replied | Random fields of a hash",
     "k:key#0 b:options?(i:count P=WITHVALUES?)"},
    {"hscan", cmd_hscan, -3, R, "readonly", "@hash", "nondeterministic_output",
     "RO access; index 1; range 0 1 0",
     "hash 2.8.0 | O(1) per call, O(N) per walk | Walks a hash's fields with a cursor",
     "k:key#0 i:cursor p:pattern=MATCH? i:count=COUNT?"},
    {"sadd", cmd_sadd, -3, W, "write denyoom fast", "@set", "", "RW insert; index 1; range 0 1 0",
     "set 1.0.0 | O(N) for N members | Adds members to a set", "k:key#0 s:member*"},
    {"srem", cmd_srem, -3, W, "write fast", "@set", "", "RW delete; index 1; range 0 1 0",
     "set 1.0.0 | O(N) for N members | Removes members from a set", "k:key#0 s:member*"},
    {"scard", cmd_scard, 2, R, "readonly fast", "@set", "", "RO; index 1; range 0 1 0",
     "set 1.0.0 | O(1) | The number of members of a set", "k:key#0"},
    {"sismember", cmd_sismember, 3, R, "readonly fast", "@set", "", "RO; index 1; range 0 1 0",
     "set 1.0.0 | O(1) | Whether a value is a member of a set", "k:key#0 s:member"},
    {"smismember", cmd_smismember, -3, R, "readonly fast", "@set", "",
     "RO access; index 1; range 0 1 0",
     "set 6.2.0 | O(N) for N values | Whether each value is a member of a set",
     "k:key#0 s:member*"},
    {"smembers", cmd_smembers, 2, R, "readonly", "@set", "nondeterministic_output_order",
     "RO access; index 1; range 0 1 0", "set 1.0.0 | O(N) for N members | The members of a set",
     "k:key#0"},
    {"sort", cmd_sort, -2, W, "write denyoom", "@set @sortedset @list @dangerous", "",
     "RO access; index 1; range 0 1 0 | RO access; unknown; unknown; note For the optional "
     "BY/GET keyword. It is marked 'unknown' because the key names derive from the content "
     "of the key we sort | OW update; unknown; unknown; note For the optional STORE keyword. "
     "It is marked 'unknown' because the keyword can appear anywhere in the argument array",
     "generic 1.0.0 | O(N+M*log(M)), N elements, M returned | Sorts a list, set or sorted "
     "set, or stores the sorted elements",
     "k:key#0 p:pattern=BY#1? b:offset_count=LIMIT?(i:offset i:count) p:pattern=GET#1?*+ "
     "o:order?(P=ASC P=DESC) P:sorting=ALPHA? k:destination=STORE#2?"},
    {"sort_ro", cmd_sort_ro, -2, R, "readonly", "@set @sortedset @list @dangerous", "",
     "RO access; index 1; range 0 1 0 | RO access; unknown; unknown; note For the optional "
     "BY/GET keyword. It is marked 'unknown' because the key names derive from the content "
     "of the key we sort",
     "generic 7.0.0 | O(N+M*log(M)), N elements, M returned | Sorts a list, set or sorted "
     "set",
     "k:key#0 p:pattern=BY#1? b:offset_count=LIMIT?(i:offset i:count) p:pattern=GET#1?*+ "
     "o:order?(P=ASC P=DESC) P:sorting=ALPHA?"},
    {"srandmember", cmd_srandmember, -2, R, "readonly", "@set", "nondeterministic_output",
     "RO access; index 1; range 0 1 0",
     "set 1.0.0 | O(N) for N members replied | Random members of a set", "k:key#0 i:count@2.6.0?"},
    {"spop", cmd_spop, -2, W | PO, "write fast", "@set", "nondeterministic_output",
     "RW access delete; index 1; range 0 1 0",
     "set 1.0.0 | O(N) for N members | Removes and replies random members of a set",
     "k:key#0 i:count@3.2.0?"},
    {"smove", cmd_smove, 4, W, "write fast", "@set", "",
     "RW access delete; index 1; range 0 1 0 | RW insert; index 2; range 0 1 0",
     "set 1.0.0 | O(1) | Moves a member from one set to another",
     "k:source#0 k:destination#1 s:member"},
    {"sinter", cmd_sinter, -2, R, "readonly", "@set", "nondeterministic_output_order",
     "RO access; index 1; range -1 1 0",
     "set 1.0.0 | O(N*M), N the smallest size, M sets | The intersection of sets", "k:key#0*"},
    {"sintercard", cmd_sintercard, -3, R, "readonly", "@set", "",
     "RO access; index 1; keynum 0 1 1",
     "set 7.0.0 | O(N*M), N the smallest size, M sets | The size of the intersection of sets",
     "i:numkeys k:key#0* i:limit=LIMIT?"},
    {"sinterstore", cmd_sinterstore, -3, W, "write denyoom", "@set", "",
     "RW update; index 1; range 0 1 0 | RO access; index 2; range -1 1 0",
     "set 1.0.0 | O(N*M), N the smallest size, M sets | Stores the intersection of sets",
     "k:destination#0 k:key#1*"},
    {"sunion", cmd_sunion, -2, R, "readonly", "@set", "nondeterministic_output_order",
     "RO access; index 1; range -1 1 0",
     "set 1.0.0 | O(N) for N members in all | The union of sets", "k:key#0*"},
    {"sunionstore", cmd_sunionstore, -3, W, "write denyoom", "@set", "",
     "OW update; index 1; range 0 1 0 | RO access; index 2; range -1 1 0",
     "set 1.0.0 | O(N) for N members in all | Stores the union of sets",
     "k:destination#0 k:key#1*"},
    {"sdiff", cmd_sdiff, -2, R, "readonly", "@set", "nondeterministic_output_order",
     "RO access; index 1; range -1 1 0",
     "set 1.0.0 | O(N) for N members in all | The difference of sets", "k:key#0*"},
    {"sdiffstore", cmd_sdiffstore, -3, W, "write denyoom", "@set", "",
     "OW update; index 1; range 0 1 0 | RO access; index 2; range -1 1 0",
     "set 1.0.0 | O(N) for N members in all | Stores the difference of sets",
     "k:destination#0 k:key#1*"},
    {"sscan", cmd_sscan, -3, R, "readonly", "@set", "nondeterministic_output",
     "RO access; index 1; range 0 1 0",
     "set 2.8.0 | O(1) per call, O(N) per walk | Walks the members of a set with a cursor",
     "k:key#0 i:cursor p:pattern=MATCH? i:count=COUNT?"},
    {"zadd", cmd_zadd, -4, W, "write denyoom fast", "@sortedset", "",
     "RW update; index 1; range 0 1 0",
     "sorted-set 1.2.0 | O(M log N) for M members | Adds or updates members of a sorted set",
     "k:key#0 o:condition@3.0.2?(P=NX P=XX) o:comparison@6.2.0?(P=GT P=LT) P:change=CH@3.0.2? "
     "P:increment=INCR@3.0.2? b:score_member*(d:score s:member)"},
    {"zincrby", cmd_zincrby, 4, W, "write denyoom fast", "@sortedset", "",
     "RW access update; index 1; range 0 1 0",
     "sorted-set 1.2.0 | O(log N) | Adds to a sorted set member's score",
     "k:key#0 i:increment s:member"},
    {"zrem", cmd_zrem, -3, W, "write fast", "@sortedset", "", "RW delete; index 1; range 0 1 0",
     "sorted-set 1.2.0 | O(M log N) for M members | Removes members from a sorted set",
     "k:key#0 s:member*"},
    {"zcard", cmd_zcard, 2, R, "readonly fast", "@sortedset", "", "RO; index 1; range 0 1 0",
     "sorted-set 1.2.0 | O(1) | The number of members of a sorted set", "k:key#0"},
    {"zscore", cmd_zscore, 3, R, "readonly fast", "@sortedset", "",
     "RO access; index 1; range 0 1 0", "sorted-set 1.2.0 | O(1) | A sorted set member's score",
     "k:key#0 s:member"},
    {"zmscore", cmd_zmscore, -3, R, "readonly fast", "@sortedset", "",
     "RO access; index 1; range 0 1 0",
     "sorted-set 6.2.0 | O(N) for N members | The scores of several sorted set members",
     "k:key#0 s:member*"},
    {"zrank", cmd_zrank, 3, R, "readonly fast", "@sortedset", "", "RO access; index 1; range 0 1 0",
     "sorted-set 2.0.0 | O(log N) | A member's rank, lowest score first", "k:key#0 s:member"},
    {"zrevrank", cmd_zrevrank, 3, R, "readonly fast", "@sortedset", "",
     "RO access; index 1; range 0 1 0",
     "sorted-set 2.0.0 | O(log N) | A member's rank, highest score first", "k:key#0 s:member"},
    {"zcount", cmd_zcount, 4, R, "readonly fast", "@sortedset", "",
     "RO access; index 1; range 0 1 0",
     "sorted-set 2.0.0 | O(log N) | Counts members within a score range", "k:key#0 d:min d:max"},
    {"zlexcount", cmd_zlexcount, 4, R, "readonly fast", "@sortedset", "",
     "RO access; index 1; range 0 1 0",
     "sorted-set 2.8.9 | O(log N) | Counts members within a lexical range", "k:key#0 s:min s:max"},
    {"zrange", cmd_zrange, -4, R, "readonly", "@sortedset", "", "RO access; index 1; range 0 1 0",
     "sorted-set 1.2.0 | O(log N + M) for M members replied | A range of members by rank, score "
     "or lexical order",
     "k:key#0 s:start s:stop o:sortby@6.2.0?(P=BYSCORE P=BYLEX) P=REV@6.2.0? "
     "b:offset_count=LIMIT@6.2.0?(i:offset i:count) P=WITHSCORES?"},
    {"zrangestore", cmd_zrangestore, -5, W, "write denyoom", "@sortedset", "",
     "OW update; index 1; range 0 1 0 | RO access; index 2; range 0 1 0",
     "sorted-set 6.2.0 | O(log N + M) for M members stored | Stores a range of a sorted set's "
     "members",
     "k:dst#0 k:src#1 s:min s:max o:sortby?(P=BYSCORE P=BYLEX) P=REV? "
     "b:offset_count=LIMIT?(i:offset i:count)"},
    {"zrevrange", cmd_zrevrange, -4, R, "readonly", "@sortedset", "",
     "RO access; index 1; range 0 1 0",
     "sorted-set 1.2.0 | O(log N + M) for M members replied | A range of members by rank, highest "
     "first | deprecated 6.2.0 ZRANGE with the REV option", "k:key#0 i:start i:stop P=WITHSCORES?"},
    {"zrangebyscore", cmd_zrangebyscore, -4, R, "readonly", "@sortedset", "",
     "RO access; index 1; range 0 1 0",
     "sorted-set 1.0.5 | O(log N + M) for M members replied | Members within a score range | "
     "deprecated 6.2.0 ZRANGE with the BYSCORE option",
     "k:key#0 d:min d:max P=WITHSCORES@2.0.0? b:offset_count=LIMIT?(i:offset i:count)"},
    {"zrevrangebyscore", cmd_zrevrangebyscore, -4, R, "readonly", "@sortedset", "",
     "RO access; index 1; range 0 1 0",
     "sorted-set 2.2.0 | O(log N + M) for M members replied | Members within a score range, "
     "highest first | deprecated 6.2.0 ZRANGE with the BYSCORE and REV options",
     "k:key#0 d:max d:min P=WITHSCORES? b:offset_count=LIMIT?(i:offset i:count)"},
    {"zrangebylex", cmd_zrangebylex, -4, R, "readonly", "@sortedset", "",
     "RO access; index 1; range 0 1 0",
     "sorted-set 2.8.9 | O(log N + M) for M members replied | Members within a lexical range | "
     "deprecated 6.2.0 ZRANGE with the BYLEX option",
     "k:key#0 s:min s:max b:offset_count=LIMIT?(i:offset i:count)"},
    {"zrevrangebylex", cmd_zrevrangebylex, -4, R, "readonly", "@sortedset", "",
     "RO access; index 1; range 0 1 0",
     "sorted-set 2.8.9 | O(log N + M) for M members replied | Members within a lexical range, "
     "reversed | deprecated 6.2.0 ZRANGE with the BYLEX and REV options",
     "k:key#0 s:max s:min b:offset_count=LIMIT?(i:offset i:count)"},
    {"zremrangebyrank", cmd_zremrangebyrank, 4, W, "write", "@sortedset", "",
     "RW delete; index 1; range 0 1 0",
     "sorted-set 2.0.0 | O(log N + M) for M members removed | Removes members within a rank range",
     "k:key#0 i:start i:stop"},
    {"zremrangebyscore", cmd_zremrangebyscore, 4, W, "write", "@sortedset", "",
     "RW delete; index 1; range 0 1 0",
     "sorted-set 1.2.0 | O(log N + M) for M members removed | Removes members within a score "
     "range", "k:key#0 d:min d:max"},
    {"zremrangebylex", cmd_zremrangebylex, 4, W, "write", "@sortedset", "",
     "RW delete; index 1; range 0 1 0",
     "sorted-set 2.8.9 | O(log N + M) for M members removed | Removes members within a lexical "
     "range", "k:key#0 s:min s:max"},
    {"zpopmin", cmd_zpopmin, -2, W | PO, "write fast", "@sortedset", "",
     "RW access delete; index 1; range 0 1 0",
     "sorted-set 5.0.0 | O(M log N) for M members popped | Pops the members with the lowest "
     "scores", "k:key#0 i:count?"},
    {"zpopmax", cmd_zpopmax, -2, W | PO, "write fast", "@sortedset", "",
     "RW access delete; index 1; range 0 1 0",
     "sorted-set 5.0.0 | O(M log N) for M members popped | Pops the members with the highest "
     "scores", "k:key#0 i:count?"},
    {"zrandmember", cmd_zrandmember, -2, R, "readonly", "@sortedset", "nondeterministic_output",
     "RO access; index 1; range 0 1 0",
     "sorted-set 6.2.0 | O(N) for N members replied | Random members of a sorted set",
     "k:key#0 b:options?(i:count P=WITHSCORES?)"},
    {"zscan", cmd_zscan, -3, R, "readonly", "@sortedset", "nondeterministic_output",
     "RO access; index 1; range 0 1 0",
     "sorted-set 2.8.0 | O(1) per call, O(N) per walk | Walks a sorted set with a cursor",
     "k:key#0 i:cursor p:pattern=MATCH? i:count=COUNT?"},
    {"lpush", cmd_lpush, -3, W, "write denyoom fast", "@list", "",
     "RW insert; index 1; range 0 1 0",
     "list 1.0.0 | O(N) for N elements | Pushes elements at the head of a list",
     "k:key#0 s:element*"},
    {"rpush", cmd_rpush, -3, W, "write denyoom fast", "@list", "",
     "RW insert; index 1; range 0 1 0",
     "list 1.0.0 | O(N) for N elements | Pushes elements at the tail of a list",
     "k:key#0 s:element*"},
    {"lpushx", cmd_lpushx, -3, W, "write denyoom fast", "@list", "",
     "RW insert; index 1; range 0 1 0",
     "list 2.2.0 | O(N) for N elements | Pushes at the head of an existing list",
     "k:key#0 s:element*"},
    {"rpushx", cmd_rpushx, -3, W, "write denyoom fast", "@list", "",
     "RW insert; index 1; range 0 1 0",
     "list 2.2.0 | O(N) for N elements | Pushes at the tail of an existing list",
     "k:key#0 s:element*"},
    {"lpop", cmd_lpop, -2, W | PO, "write fast", "@list", "", "RW access delete; index 1; range 0 1 0",
     "list 1.0.0 | O(N) for N elements | Pops elements from the head of a list",
     "k:key#0 i:count@6.2.0?"},
    {"rpop", cmd_rpop, -2, W | PO, "write fast", "@list", "", "RW access delete; index 1; range 0 1 0",
     "list 1.0.0 | O(N) for N elements | Pops elements from the tail of a list",
     "k:key#0 i:count@6.2.0?"},
    {"llen", cmd_llen, 2, R, "readonly fast", "@list", "", "RO; index 1; range 0 1 0",
     "list 1.0.0 | O(1) | The length of a list", "k:key#0"},
    {"lindex", cmd_lindex, 3, R, "readonly", "@list", "", "RO access; index 1; range 0 1 0",
     "list 1.0.0 | O(N) for N elements walked | The element of a list at an index",
     "k:key#0 i:index"},
    {"lrange", cmd_lrange, 4, R, "readonly", "@list", "", "RO access; index 1; range 0 1 0",
     "list 1.0.0 | O(S+N) for S skipped, N replied | A range of a list's elements",
     "k:key#0 i:start i:stop"},
    {"lset", cmd_lset, 4, W, "write denyoom", "@list", "", "RW update; index 1; range 0 1 0",
     "list 1.0.0 | O(N) for N elements walked | Sets the element of a list at an index",
     "k:key#0 i:index s:element"},
    {"ltrim", cmd_ltrim, 4, W, "write", "@list", "", "RW delete; index 1; range 0 1 0",
     "list 1.0.0 | O(N) for N elements removed | Keeps only a range of a list's elements",
     "k:key#0 i:start i:stop"},
    {"linsert", cmd_linsert, 5, W, "write denyoom", "@list", "", "RW insert; index 1; range 0 1 0",
     "list 2.2.0 | O(N) for N elements walked | Inserts an element next to another",
     "k:key#0 o:where(P=BEFORE P=AFTER) s:pivot s:element"},
    {"lrem", cmd_lrem, 4, W, "write", "@list", "", "RW delete; index 1; range 0 1 0",
     "list 1.0.0 | O(N) for N elements | Removes elements equal to a value",
     "k:key#0 i:count s:element"},
    {"lpos", cmd_lpos, -3, R, "readonly", "@list", "", "RO access; index 1; range 0 1 0",
     "list 6.0.6 | O(N) for N elements | Where elements equal to a value are",
     "k:key#0 s:element i:rank=RANK? i:num-matches=COUNT? i:len=MAXLEN?"},
    {"lmove", cmd_lmove, 5, W, "write denyoom", "@list", "",
     "RW access delete; index 1; range 0 1 0 | RW insert; index 2; range 0 1 0",
     "list 6.2.0 | O(1) | Pops an element from a list and pushes it onto another",
     "k:source#0 k:destination#1 o:wherefrom(P=LEFT P=RIGHT) o:whereto(P=LEFT P=RIGHT)"},
    {"rpoplpush", cmd_rpoplpush, 3, W, "write denyoom", "@list", "",
     "RW access delete; index 1; range 0 1 0 | RW insert; index 2; range 0 1 0",
     "list 1.2.0 | O(1) | Moves a list's tail to another's head | deprecated 6.2.0 LMOVE with the "
     "RIGHT and LEFT options", "k:source#0 k:destination#1"},
    {"lmpop", cmd_lmpop, -4, W, "write", "@list", "", "RW access delete; index 1; keynum 0 1 1",
     "list 7.0.0 | O(N+M) for N keys, M elements | Pops from the first non-empty list",
     "i:numkeys k:key#0* o:where(P=LEFT P=RIGHT) i:count=COUNT?"},
    {"zunion", cmd_zunion, -3, R, "readonly", "@sortedset", "", "RO access; index 1; keynum 0 1 1",
     "sorted-set 6.2.0 | O(N + M log M), N in, M out | The union of sorted sets",
     "i:numkeys k:key#0* i:weight=WEIGHTS?* o:aggregate=AGGREGATE?(P=SUM P=MIN P=MAX) "
     "P=WITHSCORES?"},
    {"zinter", cmd_zinter, -3, R, "readonly", "@sortedset", "", "RO access; index 1; keynum 0 1 1",
     "sorted-set 6.2.0 | O(N*K + M log M), N the smallest, K sets, M out | The intersection of "
     "sorted sets",
     "i:numkeys k:key#0* i:weight=WEIGHTS?* o:aggregate=AGGREGATE?(P=SUM P=MIN P=MAX) "
     "P=WITHSCORES?"},
    {"zdiff", cmd_zdiff, -3, R, "readonly", "@sortedset", "", "RO access; index 1; keynum 0 1 1",
     "sorted-set 6.2.0 | O(L + (N-K) log N), L in, N first, K out | The difference of sorted sets",
     "i:numkeys k:key#0* P=WITHSCORES?"},
    {"zunionstore", cmd_zunionstore, -4, W, "write denyoom", "@sortedset", "",
     "OW update; index 1; range 0 1 0 | RO access; index 2; keynum 0 1 1",
     "sorted-set 2.0.0 | O(N + M log M), N in, M out | Stores the union of sorted sets",
     "k:destination#0 i:numkeys k:key#1* i:weight=WEIGHTS?* o:aggregate=AGGREGATE?(P=SUM P=MIN "
     "P=MAX)"},
    {"zinterstore", cmd_zinterstore, -4, W, "write denyoom", "@sortedset", "",
     "OW update; index 1; range 0 1 0 | RO access; index 2; keynum 0 1 1",
     "sorted-set 2.0.0 | O(N*K + M log M), N the smallest, K sets, M out | Stores the "
     "intersection of sorted sets",
     "k:destination#0 i:numkeys k:key#1* i:weight=WEIGHTS?* o:aggregate=AGGREGATE?(P=SUM P=MIN "
     "P=MAX)"},
    {"zdiffstore", cmd_zdiffstore, -4, W, "write denyoom", "@sortedset", "",
     "OW update; index 1; range 0 1 0 | RO access; index 2; keynum 0 1 1",
     "sorted-set 6.2.0 | O(L + (N-K) log N), L in, N first, K out | Stores the difference of "
     "sorted sets", "k:destination#0 i:numkeys k:key#1*"},
    {"zintercard", cmd_zintercard, -3, R, "readonly", "@sortedset", "",
     "RO access; index 1; keynum 0 1 1",
     "sorted-set 7.0.0 | O(N*K), N the smallest, K sets | The size of the intersection of sorted "
     "sets", "i:numkeys k:key#0* i:limit=LIMIT?"},
    {"zmpop", cmd_zmpop, -4, W, "write", "@sortedset", "",
     "RW access delete; index 1; keynum 0 1 1",
     "sorted-set 7.0.0 | O(K + M log N) for K keys, M members | Pops from the first non-empty "
     "sorted set", "i:numkeys k:key#0* o:where(P=MIN P=MAX) i:count=COUNT?"},
    {"blpop", cmd_blpop, -3, W, "write noscript blocking", "@list", "",
     "RW access delete; index 1; range -2 1 0",
     "list 2.0.0 | O(N) for N keys | Pops a list's head, waiting for one", "k:key#0* d:timeout"},
    {"brpop", cmd_brpop, -3, W, "write noscript blocking", "@list", "",
     "RW access delete; index 1; range -2 1 0",
     "list 2.0.0 | O(N) for N keys | Pops a list's tail, waiting for one", "k:key#0* d:timeout"},
    {"blmove", cmd_blmove, 6, W, "write denyoom noscript blocking", "@list", "",
     "RW access delete; index 1; range 0 1 0 | RW insert; index 2; range 0 1 0",
     "list 6.2.0 | O(1) | LMOVE, waiting for an element",
     "k:source#0 k:destination#1 o:wherefrom(P=LEFT P=RIGHT) o:whereto(P=LEFT P=RIGHT) d:timeout"},
    {"brpoplpush", cmd_brpoplpush, 4, W, "write denyoom noscript blocking", "@list", "",
     "RW access delete; index 1; range 0 1 0 | RW insert; index 2; range 0 1 0",
     "list 2.2.0 | O(1) | RPOPLPUSH, waiting for an element | deprecated 6.2.0 BLMOVE with the "
     "RIGHT and LEFT options", "k:source#0 k:destination#1 d:timeout"},
    {"blmpop", cmd_blmpop, -5, W, "write blocking", "@list", "",
     "RW access delete; index 2; keynum 0 1 1",
     "list 7.0.0 | O(N+M) for N keys, M elements | LMPOP, waiting for an element",
     "d:timeout i:numkeys k:key#0* o:where(P=LEFT P=RIGHT) i:count=COUNT?"},
    {"bzpopmin", cmd_bzpopmin, -3, W, "write noscript blocking fast", "@sortedset", "",
     "RW access delete; index 1; range -2 1 0",
     "sorted-set 5.0.0 | O(log N) | ZPOPMIN, waiting for a member", "k:key#0* d:timeout"},
    {"bzpopmax", cmd_bzpopmax, -3, W, "write noscript blocking fast", "@sortedset", "",
     "RW access delete; index 1; range -2 1 0",
     "sorted-set 5.0.0 | O(log N) | ZPOPMAX, waiting for a member", "k:key#0* d:timeout"},
    {"bzmpop", cmd_bzmpop, -5, W, "write blocking", "@sortedset", "",
     "RW access delete; index 2; keynum 0 1 1",
     "sorted-set 7.0.0 | O(K + M log N) for K keys, M members | ZMPOP, waiting for a member",
     "d:timeout i:numkeys k:key#0* o:where(P=MIN P=MAX) i:count=COUNT?"},
    {"object", cmd_object, -2, R | SUB, "", "", "", "",
     "generic 2.2.3 | Per subcommand | Commands about the values stored at keys", ""},
    {"memory", cmd_memory, -2, R | SUB, "", "", "", "",
     "server 4.0.0 | Per subcommand | Commands about memory use", ""},
    {"randomkey", cmd_randomkey, 1, R, "readonly", "@keyspace",
     "request_policy:all_shards nondeterministic_output", "",
     "generic 1.0.0 | O(1) | A random key of the database", ""},
    {"keys", cmd_keys, 2, R, "readonly", "@keyspace @dangerous",
     "request_policy:all_shards nondeterministic_output_order", "",
     "generic 1.0.0 | O(N) for N keys in the database | The keys matching a pattern", "p:pattern"},
    {"scan", cmd_scan, -2, R, "readonly", "@keyspace",
     "nondeterministic_output request_policy:special", "",
     "generic 2.8.0 | O(1) per call, O(N) per walk | Walks the keys of the database with a cursor",
     "i:cursor p:pattern=MATCH? i:count=COUNT? s:type=TYPE@6.0.0?"},
    {"swapdb", cmd_swapdb, 3, W, "write fast", "@keyspace @dangerous", "", "",
     "server 4.0.0 | O(N) for N clients waiting on keys | Swaps two databases",
     "i:index1 i:index2"},
    {"flushdb", cmd_flushdb, -1, W, "write", "@keyspace @dangerous",
     "request_policy:all_shards response_policy:all_succeeded", "",
     "server 1.0.0 | O(N) for N keys in the database | Deletes every key of the database",
     "o:async?(P=ASYNC@4.0.0 P=SYNC@6.2.0)"},
    {"flushall", cmd_flushall, -1, W, "write", "@keyspace @dangerous",
     "request_policy:all_shards response_policy:all_succeeded", "",
     "server 1.0.0 | O(N) for N keys in all databases | Deletes every key of every database",
     "o:async?(P=ASYNC@4.0.0 P=SYNC@6.2.0)"},
    {"info", cmd_info, -1, C | SC, "loading stale", "@dangerous",
     "nondeterministic_output request_policy:all_shards response_policy:special", "",
     "server 1.0.0 | O(1) | Information and statistics about the server", "s:section?*"},
    {"config", cmd_config, -2, C | SUB, "", "", "", "",
     "server 2.0.0 | Per subcommand | Commands about the server's configuration", ""},
    {"command", cmd_command, -1, C | SUB | SC, "loading stale", "@connection",
     "nondeterministic_output_order", "",
     "server 2.8.13 | O(N) for N commands | Details of every command", ""},
    {"time", cmd_time, 1, C | SC, "loading stale fast", "", "nondeterministic_output", "",
     "server 2.6.0 | O(1) | The server's clock", ""},
    {"role", cmd_role, 1, C, "noscript loading stale fast", "@admin @dangerous", "", "",
     "server 2.8.12 | O(1) | The role of the server in replication", ""},
    {"replicaof", cmd_replicaof, 3, C, "admin noscript stale no_async_loading", "", "", "",
     "server 5.0.0 | O(1) | Follows a master as its replica, or (NO ONE) becomes a master",
     "o:args(b:host-port(s:host i:port) b:no-one(P=NO P=ONE))"},
    {"slaveof", cmd_replicaof, 3, C, "admin noscript stale no_async_loading", "", "", "",
     "server 1.0.0 | O(1) | Follows a master as its replica | deprecated 5.0.0 REPLICAOF",
     "o:args(b:host-port(s:host i:port) b:no-one(P=NO P=ONE))"},
    {"psync", cmd_psync, -3, C | NM, "admin noscript no_async_loading no_multi", "", "", "",
     "server 2.8.0 | - | A replica's request for the replication stream",
     "s:replicationid i:offset"},
    {"sync", cmd_psync, 1, C | NM, "admin noscript no_async_loading no_multi", "", "", "",
     "server 1.0.0 | - | A replica's request for a full sync", ""},
    {"replconf", cmd_replconf, -1, C, "admin noscript loading stale allow_busy", "", "", "",
     "server 3.0.0 | O(1) | A replica's settings and acknowledgements | syscmd", ""},
    {"wait", cmd_wait, 3, C, "noscript", "@connection",
     "request_policy:all_shards response_policy:agg_min", "",
     "generic 3.0.0 | O(1) | Waits until replicas acknowledged this connection's writes",
     "i:numreplicas i:timeout"},
    {"lastsave", cmd_lastsave, 1, C | SC, "loading stale fast", "@admin @dangerous",
     "nondeterministic_output", "",
     "server 1.0.0 | O(1) | The Unix time of the last successful save", ""},
    {"shutdown", cmd_shutdown, -1, C | NM, "admin noscript loading stale no_multi allow_busy", "",
     "", "", "server 1.0.0 | O(1) | Stops the server",
     "o:nosave_save?(P=NOSAVE P=SAVE) P=NOW@7.0.0? P=FORCE@7.0.0? P=ABORT@7.0.0?"},
    {"debug", cmd_debug, -2, C | PR, "admin noscript loading stale", "", "", "",
     "server 1.0.0 | Per subcommand | Commands for debugging the server | syscmd", ""},
    {"save", cmd_save, 1, C | NM, "admin noscript no_async_loading no_multi", "", "", "",
     "server 1.0.0 | O(1) | Saves the dataset to disk", ""},
    {"bgsave", cmd_save, -1, C, "admin noscript no_async_loading", "", "", "",
     "server 1.0.0 | O(1) | Saves the dataset to disk in the background", "P=SCHEDULE@3.2.2?"},
    {"function", cmd_function, -2, C | SUB, "", "", "", "",
     "scripting 7.0.0 | Per subcommand | Commands about functions", ""},
    {"multi", cmd_multi, 1, C, "noscript loading stale fast allow_busy", "@transaction", "", "",
     "transactions 1.2.0 | O(1) | Starts a transaction", ""},
    {"exec", cmd_exec, 1, C, "noscript loading stale skip_slowlog", "@transaction", "", "",
     "transactions 1.2.0 | That of the queued commands | Runs the commands queued since MULTI", ""},
    {"discard", cmd_discard, 1, C, "noscript loading stale fast allow_busy", "@transaction", "", "",
     "transactions 2.0.0 | O(N) for N commands | Drops the commands queued since MULTI", ""},
    {"watch", cmd_watch, -2, WA, "noscript loading stale fast allow_busy", "@transaction", "",
     "RO; index 1; range -1 1 0",
     "transactions 2.2.0 | O(1) per key | Makes EXEC fail if the keys change", "k:key#0*"},
    {"unwatch", cmd_unwatch, 1, WA, "noscript loading stale fast allow_busy", "@transaction", "",
     "", "transactions 2.2.0 | O(1) | Forgets the watched keys", ""},
    {"subscribe", cmd_subscribe, -2, C | PS, "pubsub noscript loading stale", "", "", "",
     "pubsub 2.0.0 | O(N) for N channels | Receives the messages published to the channels",
     "s:channel*"},
    {"unsubscribe", cmd_unsubscribe, -1, C | PS, "pubsub noscript loading stale", "", "", "",
     "pubsub 2.0.0 | O(N) for N subscribers of a channel | Stops receiving a channel's "
     "messages (all channels without arguments)", "s:channel?*"},
    {"psubscribe", cmd_psubscribe, -2, C | PS, "pubsub noscript loading stale", "", "", "",
     "pubsub 2.0.0 | O(N) for N patterns | Receives the messages published to the channels "
     "that match the patterns", "b:pattern*(p:pattern)"},
    {"punsubscribe", cmd_punsubscribe, -1, C | PS, "pubsub noscript loading stale", "", "", "",
     "pubsub 2.0.0 | O(N) for N subscribers of a pattern | Stops receiving a pattern's "
     "messages (all patterns without arguments)", "p:pattern?*"},
    {"ssubscribe", cmd_ssubscribe, -2, C | PS, "pubsub noscript loading stale", "", "",
     "not_key; index 1; range -1 1 0",
     "pubsub 7.0.0 | O(N) for N shard channels | Receives the messages published to the shard "
     "channels", "s:shardchannel*"},
    {"sunsubscribe", cmd_sunsubscribe, -1, C | PS, "pubsub noscript loading stale", "", "",
     "not_key; index 1; range -1 1 0",
     "pubsub 7.0.0 | O(N) for N subscribers of a shard channel | Stops receiving a shard "
     "channel's messages (all of them without arguments)", "s:shardchannel?*"},
    {"publish", cmd_publish, 3, C | SC, "pubsub loading stale fast", "", "", "",
     "pubsub 2.0.0 | O(N+M) for N subscribers and M patterns | Sends a message to a channel's "
     "subscribers", "s:channel s:message"},
    {"spublish", cmd_spublish, 3, C | SC, "pubsub loading stale fast", "", "",
     "not_key; index 1; range 0 1 0",
     "pubsub 7.0.0 | O(N) for N subscribers | Sends a message to a shard channel's subscribers",
     "s:shardchannel s:message"},
    {"pubsub", cmd_pubsub, -2, C | SUB, "", "", "", "",
     "pubsub 2.8.0 | Per subcommand | Commands about channels and subscribers", ""},
    {"eval", cmd_eval, -3, W, "noscript stale skip_monitor no_mandatory_keys", "@scripting", "",
     "RW access update; index 2; keynum 0 1 1; note We cannot tell how the keys will be used "
     "so we assume the worst, RW and UPDATE",
     "scripting 2.6.0 | Depends on the script that is executed. | Runs a Lua script",
     "s:script i:numkeys k:key#0?* s:arg?*"},
    {"evalsha", cmd_evalsha, -3, W, "noscript stale skip_monitor no_mandatory_keys",
     "@scripting", "", "RW access update; index 2; keynum 0 1 1",
     "scripting 2.6.0 | Depends on the script that is executed. | Runs a cached Lua script "
     "by its SHA-1", "s:sha1 i:numkeys k:key#0?* s:arg?*"},
    {"eval_ro", cmd_eval_ro, -3, W, "readonly noscript stale skip_monitor no_mandatory_keys",
     "@scripting", "",
     "RO access; index 2; keynum 0 1 1; note We cannot tell how the keys will be used so we "
     "assume the worst, RO and ACCESS",
     "scripting 7.0.0 | Depends on the script that is executed. | Runs a Lua script that "
     "does not write", "s:script i:numkeys k:key#0?* s:arg?*"},
    {"evalsha_ro", cmd_evalsha_ro, -3, W,
     "readonly noscript stale skip_monitor no_mandatory_keys", "@scripting", "",
     "RO access; index 2; keynum 0 1 1",
     "scripting 7.0.0 | Depends on the script that is executed. | Runs a cached Lua script "
     "that does not write, by its SHA-1", "s:sha1 i:numkeys k:key#0?* s:arg?*"},
    {"fcall", cmd_fcall, -3, W, "noscript stale skip_monitor no_mandatory_keys", "@scripting",
     "", "RW access update; index 2; keynum 0 1 1; note We cannot tell how the keys will be "
     "used so we assume the worst, RW and UPDATE",
     "scripting 7.0.0 | Depends on the function that is executed. | Calls a function",
     "s:function i:numkeys k:key#0?* s:arg?*"},
    {"fcall_ro", cmd_fcall_ro, -3, W, "readonly noscript stale skip_monitor no_mandatory_keys",
     "@scripting", "",
     "RO access; index 2; keynum 0 1 1; note We cannot tell how the keys will be used so we "
     "assume the worst, RO and ACCESS",
     "scripting 7.0.0 | Depends on the function that is executed. | Calls a function that "
     "does not write", "s:function i:numkeys k:key#0?* s:arg?*"},
    {"script", cmd_script, -2, C | SUB, "", "", "", "",
     "scripting 2.6.0 | Per subcommand | Commands about the Lua script cache", ""},
};
const size_t cmd_count = sizeof cmd_table / sizeof cmd_table[0];

/* The subcommands of CMD_SUBS commands that are implemented, named "parent|sub" as Redis
 * 7.0 names them (errors, INFO commandstats, CLIENT LIST cmd=). The parent's handler
 * runs them; the entry gives the arity Redis checks, the slot its statistics go in, and
 * what COMMAND reports of it (COMMAND INFO lists them under their parent, in this order).
 * CLIENT NO-TOUCH and CLIENT SETINFO are Redis 7.2's, reported as 7.2 does. */
const cmd_def cmd_subtable[] = {
    {"object|encoding", cmd_object, 3, R, "readonly", "@keyspace", "nondeterministic_output",
     "RO; index 2; range 0 1 0", "generic 2.2.3 | O(1) | How a key's value is encoded", "k:key#0"},
    {"object|refcount", cmd_object, 3, R, "readonly", "@keyspace", "nondeterministic_output",
     "RO; index 2; range 0 1 0", "generic 2.2.3 | O(1) | The reference count of a key's value",
     "k:key#0"},
    {"object|idletime", cmd_object, 3, R, "readonly", "@keyspace", "nondeterministic_output",
     "RO; index 2; range 0 1 0", "generic 2.2.3 | O(1) | Seconds since a key was last accessed",
     "k:key#0"},
    {"object|freq", cmd_object, 3, R, "readonly", "@keyspace", "nondeterministic_output",
     "RO; index 2; range 0 1 0", "generic 4.0.0 | O(1) | The access frequency counter of a key",
     "k:key#0"},
    {"object|help", cmd_object, 2, R, "loading stale", "@keyspace", "", "",
     "generic 6.2.0 | O(1) | Lists OBJECT's subcommands", ""},
    {"memory|usage", cmd_memory, -3, R, "readonly", "", "", "RO; index 2; range 0 1 0",
     "server 4.0.0 | O(N) for N elements sampled | The bytes a key and its value use",
     "k:key#0 i:count=SAMPLES?"},
    {"memory|help", cmd_memory, 2, R, "loading stale", "", "", "",
     "server 4.0.0 | O(1) | Lists MEMORY's subcommands", ""},
    {"client|id", cmd_client, 2, C, "noscript loading stale", "@connection", "", "",
     "connection 5.0.0 | O(1) | The connection's id", ""},
    {"client|getname", cmd_client, 2, C, "noscript loading stale", "@connection", "", "",
     "connection 2.6.9 | O(1) | The connection's name", ""},
    {"client|setname", cmd_client, 3, C, "noscript loading stale", "@connection", "", "",
     "connection 2.6.9 | O(1) | Names the connection", "s:connection-name"},
    {"client|info", cmd_client, 2, C, "noscript loading stale", "@connection",
     "nondeterministic_output", "", "connection 6.2.0 | O(1) | A line describing this connection",
     ""},
    {"client|list", cmd_client, -2, C | AS, "admin noscript loading stale", "@connection",
     "nondeterministic_output", "",
     "connection 2.4.0 | O(N) for N connections | Lines describing the connections",
     "o:normal_master_replica_pubsub=TYPE@5.0.0?(P=NORMAL P=MASTER P=REPLICA P=PUBSUB) "
     "b:id=ID@6.2.0?(i:client-id*)"},
    {"client|kill", cmd_client, -3, C | AS, "admin noscript loading stale", "@connection", "", "",
     "connection 2.4.0 | O(N) for N connections | Closes connections",
     "o:filter(s:ip:port~2.8.12 o:new-format*(i:client-id=ID@2.8.12? "
     "o:normal_master_slave_pubsub=TYPE@2.8.12?(P=NORMAL P=MASTER@3.2.0 P=SLAVE P=REPLICA@5.0.0 "
     "P=PUBSUB) s:username=USER? s:ip:port=ADDR? s:ip:port=LADDR@6.2.0? s:yes/no=SKIPME?))"},
    {"client|unblock", cmd_client_unblock, -3, WA, "admin noscript loading stale", "@connection",
     "", "", "connection 5.0.0 | O(log N) for N connections | Wakes a blocked client",
     "i:client-id o:timeout_error?(P=TIMEOUT P=ERROR)"},
    {"client|no-evict", cmd_client, 3, C, "admin noscript loading stale", "@connection", "", "",
     "connection 7.0.0 | O(1) | Sets whether the connection may be evicted",
     "o:enabled(P=ON P=OFF)"},
    {"client|no-touch", cmd_client, 3, C, "noscript loading stale", "@connection", "", "",
     "connection 7.2.0 | O(1) | Sets whether the connection touches keys", "o:enabled(P=ON P=OFF)"},
    {"client|setinfo", cmd_client, 4, C, "noscript loading stale", "@connection", "", "",
     "connection 7.2.0 | O(1) | Records the client library's name or version",
     "o:attr(s:libname=lib-name s:libver=lib-ver)"},
    {"client|help", cmd_client, 2, C | SC, "loading stale", "@connection", "", "",
     "connection 5.0.0 | O(1) | Lists CLIENT's subcommands", ""},
    {"config|get", cmd_config, -3, C, "admin noscript loading stale", "", "", "",
     "server 2.0.0 | O(N) for N parameters | The values of configuration parameters",
     "b:parameter*(s:parameter)"},
    {"config|set", cmd_config, -4, C | AS, "admin noscript loading stale", "",
     "request_policy:all_nodes response_policy:all_succeeded", "",
     "server 2.0.0 | O(N) for N parameters | Changes configuration parameters",
     "b:parameter_value*(s:parameter s:value)"},
    {"config|resetstat", cmd_config, 2, C, "admin noscript loading stale", "", "", "",
     "server 2.0.0 | O(1) | Resets the statistics INFO shows", ""},
    {"config|rewrite", cmd_config, 2, C, "admin noscript loading stale", "", "", "",
     "server 2.8.0 | O(1) | Writes the configuration file", ""},
    {"config|help", cmd_config, 2, C | SC, "loading stale", "", "", "",
     "server 5.0.0 | O(1) | Lists CONFIG's subcommands", ""},
    {"command|count", cmd_command, 2, C | SC, "loading stale", "@connection", "", "",
     "server 2.8.13 | O(1) | The number of commands", ""},
    {"command|list", cmd_command, -2, C | SC, "loading stale", "@connection",
     "nondeterministic_output_order", "",
     "server 7.0.0 | O(N) for N commands | The names of the commands",
     "o:filterby=FILTERBY?(s:module-name=MODULE s:category=ACLCAT p:pattern=PATTERN)"},
    {"command|info", cmd_command, -2, C | SC, "loading stale", "@connection",
     "nondeterministic_output_order", "",
     "server 2.8.13 | O(N) for N commands | Details of the named commands", "s:command-name?*"},
    {"command|docs", cmd_command, -2, C | SC, "loading stale", "@connection",
     "nondeterministic_output_order", "",
     "server 7.0.0 | O(N) for N commands | Documentation of the named commands",
     "s:command-name?*"},
    {"command|getkeys", cmd_command, -4, C | SC, "loading stale", "@connection", "", "",
     "server 2.8.13 | O(N) for N arguments | The keys in a full command", ""},
    {"command|getkeysandflags", cmd_command, -4, C | SC, "loading stale", "@connection", "", "",
     "server 7.0.0 | O(N) for N arguments | The keys in a full command, with flags", ""},
    {"command|help", cmd_command, 2, C | SC, "loading stale", "@connection", "", "",
     "server 5.0.0 | O(1) | Lists COMMAND's subcommands", ""},
    {"function|delete", cmd_function, 3, W, "write noscript", "@scripting",
     "request_policy:all_shards response_policy:all_succeeded", "",
     "scripting 7.0.0 | O(1) | Deletes a library and its functions", "s:library-name"},
    {"function|dump", cmd_function, 2, WA, "noscript", "@scripting", "", "",
     "scripting 7.0.0 | O(N) for N functions | Every library, as a payload for RESTORE", ""},
    {"function|flush", cmd_function, -2, W, "write noscript", "@scripting",
     "request_policy:all_shards response_policy:all_succeeded", "",
     "scripting 7.0.0 | O(N) for N functions | Deletes every function", "o:async?(P=ASYNC P=SYNC)"},
    {"function|help", cmd_function, 2, C | SC, "loading stale", "@scripting", "", "",
     "scripting 7.0.0 | O(1) | Lists FUNCTION's subcommands", ""},
    {"function|kill", cmd_function, 2, C, "noscript allow_busy", "@scripting",
     "request_policy:all_shards response_policy:one_succeeded", "",
     "scripting 7.0.0 | O(1) | Ends the running function, if it has not written", ""},
    {"function|list", cmd_function, -2, WA, "noscript", "@scripting",
     "nondeterministic_output_order", "",
     "scripting 7.0.0 | O(N) for N functions | The libraries and their functions",
     "s:library-name-pattern=LIBRARYNAME? P=WITHCODE?"},
    {"function|load", cmd_function, -3, W, "write denyoom noscript", "@scripting",
     "request_policy:all_shards response_policy:all_succeeded", "",
     "scripting 7.0.0 | O(1) (the library's code runs once) | Loads a library of functions",
     "P=REPLACE? s:function-code"},
    {"function|restore", cmd_function, -3, W, "write denyoom noscript", "@scripting",
     "request_policy:all_shards response_policy:all_succeeded", "",
     "scripting 7.0.0 | O(N) for N functions | Loads the libraries of a DUMP payload",
     "s:serialized-value o:policy?(P=FLUSH P=APPEND P=REPLACE)"},
    {"function|stats", cmd_function, 2, C, "noscript allow_busy", "@scripting",
     "nondeterministic_output request_policy:all_shards response_policy:special", "",
     "scripting 7.0.0 | O(1) | The running function and the counts of libraries and functions", ""},
    {"script|debug", cmd_script, 3, C, "noscript", "@scripting", "", "",
     "scripting 3.2.0 | O(1) | Sets the debug mode of the next scripts (only NO here)",
     "o:mode(P=YES P=SYNC P=NO)"},
    {"script|exists", cmd_script, -3, WA, "noscript", "@scripting",
     "request_policy:all_shards response_policy:agg_logical_and", "",
     "scripting 2.6.0 | O(N) for N scripts | Whether each script is in the cache", "s:sha1*"},
    {"script|flush", cmd_script, -2, WA, "noscript", "@scripting",
     "request_policy:all_nodes response_policy:all_succeeded", "",
     "scripting 2.6.0 | O(N) for N cached scripts | Empties the script cache",
     "o:async@6.2.0?(P=ASYNC P=SYNC)"},
    {"script|help", cmd_script, 2, C | SC, "loading stale", "@scripting", "", "",
     "scripting 5.0.0 | O(1) | Lists SCRIPT's subcommands", ""},
    {"script|kill", cmd_script, 2, C, "noscript allow_busy", "@scripting",
     "request_policy:all_shards response_policy:one_succeeded", "",
     "scripting 2.6.0 | O(1) | Ends the running script, if it has not written", ""},
    {"script|load", cmd_script, 3, WA, "noscript stale", "@scripting",
     "request_policy:all_nodes response_policy:all_succeeded", "",
     "scripting 2.6.0 | O(N) for N bytes of the script | Caches a script without running it",
     "s:script"},
    {"pubsub|channels", cmd_pubsub, -2, C | SC, "pubsub loading stale", "", "", "",
     "pubsub 2.8.0 | O(N) for N channels | The channels with subscribers, or those matching "
     "a pattern", "p:pattern?"},
    {"pubsub|numsub", cmd_pubsub, -2, C | SC, "pubsub loading stale", "", "", "",
     "pubsub 2.8.0 | O(N) for N channels | The subscribers of each channel (patterns aside)",
     "s:channel?*"},
    {"pubsub|numpat", cmd_pubsub, 2, C | SC, "pubsub loading stale", "", "", "",
     "pubsub 2.8.0 | O(1) | How many patterns have subscribers", ""},
    {"pubsub|shardchannels", cmd_pubsub, -2, C | SC, "pubsub loading stale", "", "", "",
     "pubsub 7.0.0 | O(N) for N shard channels | The shard channels with subscribers, or "
     "those matching a pattern", "p:pattern?"},
    {"pubsub|shardnumsub", cmd_pubsub, -2, C | SC, "pubsub loading stale", "", "", "",
     "pubsub 7.0.0 | O(N) for N shard channels | The subscribers of each shard channel",
     "s:shardchannel?*"},
    {"pubsub|help", cmd_pubsub, 2, C | SC, "loading stale", "", "", "",
     "pubsub 6.2.0 | O(1) | Lists PUBSUB's subcommands", ""},
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
    if (cmd_command_check())
        return -1;
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

const cmd_def *cmd_lookup_name(const resp_arg *name)
{
    const char *bar = memchr(name->ptr, '|', name->len);
    resp_arg head = {.ptr = name->ptr, .len = bar ? (size_t)(bar - name->ptr) : name->len};
    const cmd_def *d = cmd_lookup(&head);
    if (!bar || !d || !(d->flags & CMD_SUBS))
        return bar ? NULL : d;
    resp_arg sub = {.ptr = bar + 1, .len = name->len - head.len - 1};
    return cmd_lookup_sub(d, &sub);
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
    uint64_t t0 = srv_ticks();
    if (x->txn)
        cmd_run_writer(x);
    else
        x->cmd->fn(x);
    if (!x->bulk_wait) { /* else it runs again (bulk.h): counted then */
        uint64_t t1 = srv_ticks(); /* (another core's counter, after a move: not less) */
        stats_called(cmd_slot(x->cmd), t1 > t0 ? t1 - t0 : 0, stats_thread_errors() != errors);
    }
}

void cmd_run_writer(cmd_ctx *x)
{
    notify_mark();
    if (x->txn) /* (none after a part that failed: the command answers so) */
        ox_txn_savepoint(x->txn); /* a failed transaction fails its batch anyway */
    x->cmd->fn(x);
    /* after a build's parts, x->txn is the part's (its savepoint set at its begin) */
    if (x->store_rc && x->txn && ox_txn_rollback_savepoint(x->txn) == OX_OK)
        notify_drop();
}

int cmd_take_back(cmd_ctx *x)
{
    return ox_txn_rollback_savepoint(x->txn);
}

int cmd_rflag(const cmd_def *d, const char *w)
{
    size_t wl = strlen(w);
    for (const char *p = d->rflags; (p = strstr(p, w)); p += wl)
        if ((p == d->rflags || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\0'))
            return 1;
    return 0;
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
    x->store_rc = rc;
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
    if (!((*end = cmd_is(&x->argv[*at], b)) || cmd_is(&x->argv[*at], a))) {
        cmd_syntax_error(x);
        return 0;
    }
    /* Redis's loop: a COUNT is checked where it stands, before what follows it */
    for (int j = *at + 1, counted = 0; j < x->argc; j++) {
        if (counted || !cmd_is(&x->argv[j], "count") || j + 1 == x->argc) {
            cmd_syntax_error(x);
            return 0;
        }
        j++;
        counted = 1;
        if (!num_str2ll(x->argv[j].ptr, x->argv[j].len, count) || *count < 1) {
            cmd_err(x, "-ERR count should be greater than 0");
            return 0;
        }
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

const resp_arg *cmd_next_same(const cmd_ctx *x, int ahead, int *argc)
{
    const srv_job *j = x->job && !x->in_exec && x->argc >= 2 ? x->job->next : NULL;
    while (j && --ahead > 0)
        j = j->next;
    if (!j || j->kind != JOB_CMD || j->cmd != x->cmd || j->db != x->dbi || j->argc < 2 ||
        j->argv[1].len != x->argv[1].len ||
        memcmp(j->argv[1].ptr, x->argv[1].ptr, x->argv[1].len))
        return NULL;
    *argc = j->argc;
    return j->argv;
}

void cmd_notify(cmd_ctx *x, int type, const char *event, const resp_arg *key)
{
    notify_event(type, event, x->dbi, key->ptr, key->len);
}
