/* cmd_server.c — server commands: INFO, CONFIG, TIME, LASTSAVE, SHUTDOWN, DEBUG,
 * SAVE/BGSAVE, FUNCTION. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "block.h"
#include "function.h"
#include "script.h"
#include "client.h"
#include "cmd.h"
#include "db.h"
#include "dbmap.h"
#include "glob.h"
#include "io.h"
#include "log.h"
#include "pubsub.h"
#include "repl.h"
#include "stats.h"
#include "util.h"
#include "zindex.h"

/* ---- INFO ------------------------------------------------------------------------------ */

#define INFO_TTL_SAMPLE 1024 /* expiry index entries read per database for avg_ttl */


static long long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (long long)resident * sysconf(_SC_PAGESIZE);
}

static int section_wanted(cmd_ctx *x, const char *name, int is_default)
{
    if (x->argc == 1)
        return is_default;
    for (int i = 1; i < x->argc; i++) {
        if (cmd_is(&x->argv[i], name) || cmd_is(&x->argv[i], "all") ||
            cmd_is(&x->argv[i], "everything") || (is_default && cmd_is(&x->argv[i], "default")))
            return 1;
    }
    return 0;
}

static void info_section(srv_text *b, const char *title)
{
    if (b->len)
        srv_text_add(b, "\r\n");
    srv_text_add(b, "# %s\r\n", title);
}

void cmd_info(cmd_ctx *x)
{
    srv_text b = {0};
    uint64_t now = srv_mstime();
    uint64_t up = (now - srv.start_ms) / 1000;
    if (section_wanted(x, "server", 1)) {
        info_section(&b, "Server");
        srv_text_add(&b, "redis_version:%s\r\noxistore_version:%s\r\nredis_git_sha1:00000000\r\n"
                     "redis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\n"
                     "os:Linux\r\narch_bits:%d\r\nmultiplexing_api:epoll\r\n"
                     "process_id:%lld\r\nprocess_supervised:no\r\nrun_id:%s\r\n"
                     "tcp_port:%d\r\nserver_time_usec:%llu\r\nuptime_in_seconds:%llu\r\n"
                     "uptime_in_days:%llu\r\nhz:%d\r\nconfigured_hz:%d\r\nexecutable:\r\n"
                     "config_file:%s\r\nio_threads_active:%d\r\n",
                 SRV_REDIS_VERSION, OXISTORE_VERSION, (int)(sizeof(void *) * 8), srv.pid,
                 srv.run_id, srv.cfg.port, (unsigned long long)srv_ustime(),
                 (unsigned long long)up, (unsigned long long)(up / 86400), srv.cfg.hz,
                 srv.cfg.hz, srv.conf_path ? srv.conf_path : "", srv.nio > 1);
    }
    if (section_wanted(x, "clients", 1)) {
        info_section(&b, "Clients");
        srv_text_add(&b, "connected_clients:%d\r\ncluster_connections:0\r\nmaxclients:%lld\r\n"
                     "client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\n"
                     "blocked_clients:%d\r\ntracking_clients:0\r\nclients_in_timeout_table:%d\r\n",
                 atomic_load(&srv.clients), srv.cfg.maxclients, block_count(), block_count());
    }
    if (section_wanted(x, "memory", 1)) {
        long long rss = rss_bytes();
        info_section(&b, "Memory");
        srv_text_add(&b, "used_memory:%lld\r\nused_memory_human:%.2fM\r\nused_memory_rss:%lld\r\n"
                     "used_memory_peak:%lld\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n"
                     "mem_allocator:libc\r\nlmdb_map_size:%zu\r\n",
                 rss, (double)rss / (1024 * 1024), rss, rss, ox_store_map_size(srv.store));
        size_t lua = script_memory();
        srv_text_add(&b, "used_memory_lua:%zu\r\nused_memory_vm_eval:%zu\r\n"
                     "used_memory_lua_human:%.2fK\r\nnumber_of_cached_scripts:%zu\r\n"
                     "number_of_functions:%zu\r\nused_memory_vm_functions:%zu\r\n",
                 lua, lua, (double)lua / 1024, script_count(), function_count(),
                 function_memory());
    }
    if (section_wanted(x, "persistence", 1)) {
        uint64_t disk = 0;
        ox_store_size_on_disk(srv.store, &disk);
        ox_store_info si = {0};
        ox_store_stat(srv.store, &si); /* zeros if it fails: INFO still answers */
        ox_write_info wi;
        ox_store_write_info(srv.store, &wi);
        info_section(&b, "Persistence");
        srv_text_add(&b, "loading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:0\r\n"
                     "rdb_bgsave_in_progress:%d\r\nrdb_last_save_time:%llu\r\n"
                     "rdb_last_bgsave_status:%s\r\naof_enabled:0\r\naof_rewrite_in_progress:0\r\n"
                     "aof_last_write_status:%s\r\nappendfsync:%s\r\ndata_file_size:%llu\r\n"
                     "write_buffer_bytes:%llu\r\nwrite_buffer_limit:%llu\r\nwrite_buffer_peak:%llu\r\n"
                     "checkpoint_in_progress:%d\r\ncheckpoints:%llu\r\ncheckpoint_waits:%llu\r\n"
                     "last_checkpoint_ms:%llu\r\nlast_checkpoint_status:%s\r\n"
                     "commits_since_checkpoint:%llu\r\ndata_file_pages:%llu\r\n"
                     "data_file_free_pages:%llu\r\ncheckpoint_dirty_limit:%llu\r\n"
                     "last_checkpoint_pages:%llu\r\ncheckpoint_pages_peak:%llu\r\n"
                     "checkpoint_env_reopens:%llu\r\n",
                 atomic_load(&srv.bgsave_running),
                 atomic_load(&srv.last_save_s) ? atomic_load(&srv.last_save_s)
                                               : (unsigned long long)(srv.start_ms / 1000),
                 atomic_load(&srv.save_failed) ? "err" : "ok",
                 atomic_load_explicit(&srv.write_failed, memory_order_relaxed) ? "err" : "ok",
                 srv.cfg.appendfsync == CONF_FSYNC_ALWAYS ? "always"
                 : srv.cfg.appendfsync == CONF_FSYNC_EVERYSEC ? "everysec" : "no",
                 (unsigned long long)disk, (unsigned long long)wi.buffer_bytes,
                 (unsigned long long)wi.buffer_limit, (unsigned long long)wi.buffer_peak,
                 wi.checkpointing,
                 (unsigned long long)wi.checkpoints, (unsigned long long)wi.checkpoint_waits,
                 (unsigned long long)wi.last_checkpoint_ms,
                 wi.last_checkpoint_status == OX_OK || wi.last_checkpoint_status == OX_EBUSY
                     ? "ok" : "err",
                 (unsigned long long)(wi.last_seq - wi.checkpoint_seq),
                 (unsigned long long)si.pages, (unsigned long long)si.pages_free,
                 (unsigned long long)wi.dirty_limit,
                 (unsigned long long)wi.last_checkpoint_pages,
                 (unsigned long long)wi.checkpoint_pages_peak,
                 (unsigned long long)wi.env_releases);
    }
    if (section_wanted(x, "stats", 1)) {
        unsigned long long commits = atomic_load(&srv.stats.commits);
        unsigned long long batched = atomic_load(&srv.stats.batched);
        long long channels, patterns, shards;
        pubsub_totals(&channels, &patterns, &shards);
        info_section(&b, "Stats");
        srv_text_add(&b, "total_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
                     "instantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:%llu\r\n"
                     "total_net_output_bytes:%llu\r\nrejected_connections:%llu\r\n"
                     "sync_full:%llu\r\nsync_partial_ok:%llu\r\nsync_partial_err:%llu\r\n"
                     "expired_keys:%llu\r\nexpired_time_cap_reached_count:%llu\r\n"
                     "expire_cycle_cpu_milliseconds:%llu\r\n"
                     "evicted_keys:0\r\nkeyspace_hits:0\r\nkeyspace_misses:0\r\n"
                     "pubsub_channels:%lld\r\npubsub_patterns:%lld\r\npubsubshard_channels:%lld\r\n"
                     "total_error_replies:%llu\r\ntotal_reads_processed:%llu\r\n"
                     "total_writes_processed:%llu\r\nwriter_commits:%llu\r\n"
                     "writer_batched_writes:%llu\r\n"
                     "members_reclaimed:%llu\r\nzset_rank_indexes_built:%llu\r\n",
                 atomic_load(&srv.stats.connections), stats_commands_total(),
                 atomic_load(&srv.stats.net_in), atomic_load(&srv.stats.net_out),
                 atomic_load(&srv.stats.rejected), atomic_load(&srv.stats.sync_full),
                 atomic_load(&srv.stats.sync_partial_ok), atomic_load(&srv.stats.sync_partial_err),
                 atomic_load(&srv.stats.expired),
                 atomic_load(&srv.stats.expire_time_cap),
                 atomic_load(&srv.stats.expire_cycle_us) / 1000, channels, patterns, shards,
                 atomic_load(&srv.stats.errors), atomic_load(&srv.stats.reads),
                 atomic_load(&srv.stats.writes), commits, batched, db_swept(), zindex_built());
    }
    if (section_wanted(x, "replication", 1)) {
        info_section(&b, "Replication");
        char *repl = repl_info();
        if (repl)
            srv_text_add(&b, "%s", repl);
        b.oom |= !repl;
        free(repl);
    }
    if (section_wanted(x, "cpu", 1)) {
        struct rusage self;
        getrusage(RUSAGE_SELF, &self);
        info_section(&b, "CPU");
        srv_text_add(&b, "used_cpu_sys:%ld.%06ld\r\nused_cpu_user:%ld.%06ld\r\n"
                     "used_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n",
                 (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec,
                 (long)self.ru_utime.tv_sec, (long)self.ru_utime.tv_usec);
    }
    if (section_wanted(x, "commandstats", 0)) {
        info_section(&b, "Commandstats");
        for (size_t i = 0; i < cmd_count + cmd_subcount; i++) {
            unsigned long long calls, usec, rejected, failed;
            if (stats_command(i, &calls, &usec, &rejected, &failed))
                srv_text_add(&b, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,"
                             "rejected_calls=%llu,failed_calls=%llu\r\n",
                         cmd_by_slot(i)->name, calls, usec,
                         calls ? (double)(float)((float)usec / (float)calls) : 0.0, rejected,
                         failed);
        }
    }
    if (section_wanted(x, "errorstats", 1)) {
        info_section(&b, "Errorstats");
        const char *code;
        unsigned long long count;
        for (size_t i = 0; (code = stats_error(i, &count)); i++)
            if (count)
                srv_text_add(&b, "errorstat_%s:count=%llu\r\n", code, count);
    }
    if (section_wanted(x, "keyspace", 1)) {
        info_section(&b, "Keyspace");
        /* The mapping of this thread's snapshot: never one table under two numbers (from
         * a script: the writer's own). */
        ox_table **db = !x->c ? srv.db : dbmap_view(x->c->io) == OX_OK ? x->c->io->db : NULL;
        for (int i = 0; db && i < srv.ndb; i++) {
            uint64_t keys = 0, expires = 0, avg_ttl = 0;
            ox_count(db[i], &keys);
            ox_count_expires(db[i], &expires);
            /* Redis samples too; a bounded read keeps INFO cheap on a huge index. */
            if (expires)
                ox_avg_ttl(db[i], INFO_TTL_SAMPLE, &avg_ttl);
            if (keys)
                srv_text_add(&b, "db%d:keys=%llu,expires=%llu,avg_ttl=%llu\r\n", i,
                         (unsigned long long)keys, (unsigned long long)expires,
                         (unsigned long long)avg_ttl);
        }
    }
    if (b.oom) {
        cmd_store_error(x, OX_ENOMEM);
    } else if (resp_buf_proto(x->out) == 3) {
        resp_write_verbatim(x->out, b.p ? b.p : "", b.len, "txt");
    } else {
        resp_write_bulk(x->out, b.p ? b.p : "", b.len);
    }
    free(b.p);
}

/* ---- CONFIG ----------------------------------------------------------------------------- */

static void config_get_locked(cmd_ctx *x)
{
    size_t n = conf_count();
    resp_deferred d;
    size_t pairs = 0;
    char *seen = calloc(n ? n : 1, 1);
    if (!seen) {
        cmd_store_error(x, OX_ENOMEM);
        return;
    }
    resp_write_deferred(x->out, &d);
    for (int a = 2; a < x->argc; a++) {
        for (size_t i = 0; i < n; i++) {
            const char *name = conf_name(i);
            if (seen[i] || !glob_match(x->argv[a].ptr, x->argv[a].len, name, strlen(name), 1))
                continue;
            char val[1024];
            size_t vl = conf_format(&srv.cfg, i, val, sizeof val);
            resp_write_bulk(x->out, name, strlen(name));
            resp_write_bulk(x->out, val, vl);
            seen[i] = 1;
            pairs++;
        }
    }
    free(seen);
    resp_write_deferred_len(x->out, &d, RESP_AGG_MAP, pairs);
}

static void config_get(cmd_ctx *x)
{
    pthread_rwlock_rdlock(&srv.cfg_lock);
    config_get_locked(x);
    pthread_rwlock_unlock(&srv.cfg_lock);
}

/* The library's policy for a conf appendfsync value. */
int cmd_sync_policy(int appendfsync)
{
    return appendfsync == CONF_FSYNC_ALWAYS     ? OX_SYNC_ALWAYS
           : appendfsync == CONF_FSYNC_EVERYSEC ? OX_SYNC_EVERYSEC
                                                : OX_SYNC_NO;
}

/* Makes a directive CONFIG SET just changed take effect where the config alone does not:
 * appendfsync switches the store's sync policy (waiting for the batch being committed).
 * On failure the old value comes back and *why says what went wrong. */
static int config_apply(size_t i, int old_fsync, const char **why)
{
    if ((int)i != conf_find("appendfsync", 11) || srv.cfg.appendfsync == old_fsync)
        return 0;
    int rc = ox_store_set_sync(srv.store, cmd_sync_policy(srv.cfg.appendfsync));
    if (rc == OX_OK)
        return 0;
    srv.cfg.appendfsync = old_fsync;
    *why = ox_strerror(rc);
    return -1;
}

/* CONFIG SET port/bind: the new listeners are in place on every thread. */
static void config_rebound(srv_client *c, void *arg)
{
    (void)arg;
    if (c)
        resp_write_raw(c->out, "+OK\r\n", 5);
}

static void config_set_locked(cmd_ctx *x)
{
    if (x->argc < 4 || x->argc % 2) {
        cmd_reply_arity(x->out, "config|set");
        return;
    }
    /* Every name must exist before anything changes, as Redis checks. */
    for (int a = 2; a < x->argc; a += 2) {
        if (conf_find(x->argv[a].ptr, x->argv[a].len) < 0) {
            resp_write_errorf(x->out, "-ERR Unknown option or number of arguments for CONFIG "
                                      "SET - '%.*s'", (int)x->argv[a].len, x->argv[a].ptr);
            return;
        }
    }
    /* port and bind take effect by listening anew, once every value is set; if that
     * fails, both go back to what they were. */
    int port_i = conf_find("port", 4), bind_i = conf_find("bind", 4), relisten = 0;
    int old_port = srv.cfg.port;
    char old_bind[1024];
    size_t old_bind_len = conf_format(&srv.cfg, (size_t)bind_i, old_bind, sizeof old_bind);
    for (int a = 2; a < x->argc; a += 2) {
        int i = conf_find(x->argv[a].ptr, x->argv[a].len);
        const char *why = NULL;
        if (i == port_i || i == bind_i)
            relisten = a;
        int old_fsync = srv.cfg.appendfsync;
        if (conf_set(&srv.cfg, (size_t)i, x->argv[a + 1].ptr, x->argv[a + 1].len, &why) ||
            config_apply((size_t)i, old_fsync, &why)) {
            resp_write_errorf(x->out, "-ERR CONFIG SET failed (possibly related to argument "
                                      "'%.*s') - %s", (int)x->argv[a].len, x->argv[a].ptr, why);
            return;
        }
    }
    if (relisten && io_rebind(x->c, config_rebound, NULL) == 0)
        return; /* config_rebound replies */
    if (relisten) {
        const char *why;
        const resp_arg *name = &x->argv[relisten];
        srv.cfg.port = old_port;
        conf_set(&srv.cfg, (size_t)bind_i, old_bind, old_bind_len, &why);
        resp_write_errorf(x->out, "-ERR CONFIG SET failed (possibly related to argument "
                                  "'%.*s') - %s", (int)name->len, name->ptr,
                          cmd_is(name, "port") ? "Unable to listen on this port. Check server logs."
                                               : "Failed to bind to specified addresses.");
        return;
    }
    cmd_ok(x);
}

/* Under the config's write lock: other threads read its strings (see srv.h). */
static void config_set(cmd_ctx *x)
{
    pthread_rwlock_wrlock(&srv.cfg_lock);
    config_set_locked(x);
    pthread_rwlock_unlock(&srv.cfg_lock);
}

/* CONFIG HELP, as Redis 7.0 words it. */
static const char *const config_help[] = {
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    NULL,
};

/* CONFIG REWRITE: one at a time (they write the same new file), under the read lock. */
static void config_rewrite(cmd_ctx *x)
{
    static pthread_mutex_t one = PTHREAD_MUTEX_INITIALIZER;
    if (!srv.conf_path) {
        cmd_err(x, "-ERR The server is running without a config file");
        return;
    }
    char err[256];
    pthread_mutex_lock(&one);
    pthread_rwlock_rdlock(&srv.cfg_lock);
    int rc = conf_rewrite(&srv.cfg, srv.conf_path, err, sizeof err);
    pthread_rwlock_unlock(&srv.cfg_lock);
    pthread_mutex_unlock(&one);
    if (rc) {
        srv_log(SRV_LOG_WARNING, "CONFIG REWRITE failed: %s", err);
        resp_write_errorf(x->out, "-ERR %s", err);
        return;
    }
    srv_log(SRV_LOG_NOTICE, "CONFIG REWRITE executed with success.");
    cmd_ok(x);
}

void cmd_config(cmd_ctx *x)
{
    const resp_arg *sub = &x->argv[1];
    if (cmd_is(sub, "get")) {
        if (x->argc < 3)
            cmd_reply_arity(x->out, "config|get");
        else
            config_get(x);
    } else if (cmd_is(sub, "set")) {
        config_set(x);
    } else if (cmd_is(sub, "resetstat") && x->argc == 2) {
        atomic_store(&srv.stats.connections, 0);
        atomic_store(&srv.stats.rejected, 0);
        atomic_store(&srv.stats.net_in, 0);
        atomic_store(&srv.stats.net_out, 0);
        atomic_store(&srv.stats.reads, 0);
        atomic_store(&srv.stats.writes, 0);
        atomic_store(&srv.stats.expired, 0);
        atomic_store(&srv.stats.expire_time_cap, 0);
        atomic_store(&srv.stats.expire_cycle_us, 0);
        stats_reset();
        cmd_ok(x);
    } else if (cmd_is(sub, "rewrite") && x->argc == 2) {
        config_rewrite(x);
    } else if (cmd_is(sub, "help") && x->argc == 2) {
        cmd_reply_help(x->out, &x->argv[0], config_help);
    } else {
        resp_write_errorf(x->out, "-ERR unknown subcommand '%.*s'. Try CONFIG HELP.",
                          (int)sub->len, sub->ptr);
    }
}

/* ---- the rest ------------------------------------------------------------------------------ */

void cmd_time(cmd_ctx *x)
{
    uint64_t us = srv_ustime();
    resp_write_array(x->out, 2);
    resp_write_bulk_ll(x->out, (long long)(us / 1000000));
    resp_write_bulk_ll(x->out, (long long)(us % 1000000));
}

void cmd_role(cmd_ctx *x)
{
    repl_role_reply(x->out);
}

void cmd_lastsave(cmd_ctx *x)
{
    unsigned long long t = atomic_load(&srv.last_save_s);
    resp_write_int(x->out, (long long)(t ? t : srv.start_ms / 1000));
}

void cmd_shutdown(cmd_ctx *x)
{
    for (int i = 1; i < x->argc; i++) {
        if (!cmd_is(&x->argv[i], "nosave") && !cmd_is(&x->argv[i], "save") &&
            !cmd_is(&x->argv[i], "now") && !cmd_is(&x->argv[i], "force")) {
            cmd_syntax_error(x);
            return;
        }
    }
    if (script_busy()) { /* as Redis: only NOSAVE ends a script that holds the writer */
        int nosave = 0;
        for (int i = 1; i < x->argc; i++)
            nosave |= cmd_is(&x->argv[i], "nosave");
        if (!nosave) {
            cmd_err(x, script_busy_error());
            return;
        }
        script_shutdown();
    }
    srv_log(SRV_LOG_WARNING, "User requested shutdown...");
    atomic_store(&srv.shutdown, 1);
    uint64_t one = 1;
    if (write(srv.shutdown_efd, &one, sizeof one) < 0)
        srv_log(SRV_LOG_WARNING, "Could not signal the shutdown");
    /* No reply, as Redis: the connection closes when the server exits. */
}

/* The subcommands oxistore has, in Redis's words (DEBUG HELP). */
static const char *const debug_help[] = {
    "LOG <message>",
    "    Write <message> to the server log.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    NULL,
};

/* The leading number of a (not NUL-terminated) argument, as C's strtod/atoi read it. */
static void debug_num(const resp_arg *a, char *num, size_t cap)
{
    size_t n = a->len < cap - 1 ? a->len : cap - 1;
    memcpy(num, a->ptr, n);
    num[n] = '\0';
}

void cmd_debug(cmd_ctx *x)
{
    const resp_arg *sub = &x->argv[1];
    char num[64];
    if (cmd_is(sub, "help") && x->argc == 2) {
        cmd_reply_help(x->out, &x->argv[0], debug_help);
    } else if (cmd_is(sub, "sleep") && x->argc == 3) {
        /* As Redis: strtod, so what is not a number sleeps 0 s; a negative time, too. */
        debug_num(&x->argv[2], num, sizeof num);
        double secs = strtod(num, NULL);
        long long us = secs > 0 ? (long long)(secs * 1e6) : 0;
        struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
        nanosleep(&ts, NULL);
        cmd_ok(x);
    } else if (cmd_is(sub, "set-active-expire") && x->argc == 3) {
        /* As Redis: atoi of the argument, 0 pauses active expiry (tests use it to look
         * at expired keys that are not reclaimed yet). */
        debug_num(&x->argv[2], num, sizeof num);
        atomic_store(&srv.expire_paused, atoi(num) == 0);
        cmd_ok(x);
    } else if (cmd_is(sub, "log") && x->argc == 3) {
        srv_log(SRV_LOG_WARNING, "DEBUG LOG: %.*s", (int)x->argv[2].len, x->argv[2].ptr);
        cmd_ok(x);
    } else {
        cmd_reply_sub_syntax(x->out, x->argv);
    }
}

/* Writes the hot, consistent backup SAVE and BGSAVE make, <dir>/<dbfilename>.backup, and
 * logs how it went (as Redis logs its RDB saves). */
static int save_now(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.backup", srv.cfg.dir, srv.cfg.dbfilename);
    int rc = ox_backup(srv.store, path, 0);
    atomic_store(&srv.save_failed, rc != OX_OK);
    if (rc != OX_OK) {
        srv_log(SRV_LOG_WARNING, "Backup to %s failed: %s", path, ox_strerror(rc));
        return rc;
    }
    atomic_store(&srv.last_save_s, srv_mstime() / 1000);
    srv_log(SRV_LOG_NOTICE, "DB saved on disk (%s)", path);
    return OX_OK;
}

static void *bgsave_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "ox-bgsave");
    if (save_now() == OX_OK)
        srv_log(SRV_LOG_NOTICE, "Background saving terminated with success");
    atomic_store(&srv.bgsave_running, 0);
    return NULL;
}

/* Joins the BGSAVE thread if one was started (bgsave_mu held). */
static void bgsave_collect(void)
{
    if (srv.bgsave_on)
        pthread_join(srv.bgsave_th, NULL);
    srv.bgsave_on = 0;
}

void cmd_bgsave_join(void)
{
    pthread_mutex_lock(&srv.bgsave_mu);
    bgsave_collect();
    pthread_mutex_unlock(&srv.bgsave_mu);
}

/* SAVE copies while the client waits (Redis's SAVE blocks too). BGSAVE answers at once
 * and copies in a thread of its own; one at a time, as Redis, and a SAVE meanwhile is
 * refused the same way. Concurrent SAVEs take turns (ox_backup). */
void cmd_save(cmd_ctx *x)
{
    int bg = cmd_is(&x->argv[0], "bgsave");
    if (bg && x->argc > 2) {
        cmd_syntax_error(x);
        return;
    }
    pthread_mutex_lock(&srv.bgsave_mu);
    if (atomic_load(&srv.bgsave_running)) {
        pthread_mutex_unlock(&srv.bgsave_mu);
        cmd_err(x, "-ERR Background save already in progress");
        return;
    }
    bgsave_collect(); /* one that finished */
    if (bg) {
        atomic_store(&srv.bgsave_running, 1);
        srv.bgsave_on = pthread_create(&srv.bgsave_th, NULL, bgsave_main, NULL) == 0;
        if (!srv.bgsave_on)
            atomic_store(&srv.bgsave_running, 0);
    }
    pthread_mutex_unlock(&srv.bgsave_mu);
    if (bg) {
        if (srv.bgsave_on)
            resp_write_simple(x->out, "Background saving started", 25);
        else
            cmd_err(x, "-ERR Background save failed");
        return;
    }
    if (save_now() != OX_OK)
        cmd_err(x, "-ERR Background save failed");
    else
        cmd_ok(x);
}
