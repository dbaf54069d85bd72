/* main.c — oxistore-server's process: arguments and config, the store, the threads, and
 * an orderly shutdown on SIGTERM/SIGINT or SHUTDOWN. */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "cursor.h"
#include "db.h"
#include "dbmap.h"
#include "function.h"
#include "io.h"
#include "log.h"
#include "notify.h"
#include "pubsub.h"
#include "repl.h"
#include "replica.h"
#include "script.h"
#include "stats.h"
#include "util.h"
#include "writer.h"

srv_server srv = {.cfg_lock = PTHREAD_RWLOCK_INITIALIZER, .bgsave_mu = PTHREAD_MUTEX_INITIALIZER};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: ./oxistore-server [/path/to/oxistore.conf] [options] [-]\n"
            "       ./oxistore-server - (read config from stdin)\n"
            "       ./oxistore-server -v or --version\n"
            "       ./oxistore-server -h or --help\n\n"
            "Examples:\n"
            "       ./oxistore-server (run the server with default conf)\n"
            "       ./oxistore-server conf/oxistore.conf\n"
            "       ./oxistore-server --port 7777\n"
            "       ./oxistore-server --port 7777 --dir /var/lib/oxistore\n"
            "       ./oxistore-server conf/oxistore.conf --loglevel verbose\n\n"
            "Every directive of the config file can be given as --directive value.\n");
}

static void make_run_id(char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[20];
    FILE *f = fopen("/dev/urandom", "r");
    if (!f || fread(rnd, 1, sizeof rnd, f) != sizeof rnd) {
        uint64_t seed = srv_ustime() ^ (uint64_t)getpid();
        for (size_t i = 0; i < sizeof rnd; i++, seed = seed * 6364136223846793005ULL + 1)
            rnd[i] = (unsigned char)(seed >> 33);
    }
    if (f)
        fclose(f);
    for (size_t i = 0; i < sizeof rnd; i++) {
        out[2 * i] = hex[rnd[i] >> 4];
        out[2 * i + 1] = hex[rnd[i] & 15];
    }
    out[40] = '\0';
}

/* Opens the store and the databases' tables. A first start that fails (no room on the
 * disk, say) removes the store and the directory it created. */
static int open_store(void)
{
    char path[4096];
    const conf *c = &srv.cfg;
    if (snprintf(path, sizeof path, "%s/%s", c->dir, c->dbfilename) >= (int)sizeof path)
        return -1;
    ox_options o;
    ox_options_init(&o);
    o.table = "0";
    o.map_size = (size_t)c->map_size;
    o.mem_limit = (size_t)c->write_buffer_limit;
    o.dirty_limit = (size_t)c->checkpoint_dirty_limit;
    o.max_tables = 2 * (unsigned)c->databases + 4; /* each database and its members */
    o.sync = cmd_sync_policy(c->appendfsync);
    int fresh = access(path, F_OK) != 0, dir_made = access(c->dir, F_OK) != 0;
    int rc = ox_store_open(path, &o, &srv.store);
    if (rc == OX_OK) {
        srv.ndb = c->databases;
        if ((rc = dbmap_load()) == OX_OK && (rc = db_load()) == OX_OK) {
            srv_log(SRV_LOG_NOTICE, "Data file %s opened (format %u)", path,
                    ox_store_format(srv.store));
            return 0;
        }
        db_free();
        dbmap_free();
        ox_store_close(srv.store);
        srv.store = NULL;
        if (fresh && ox_store_destroy(path) == OX_OK && dir_made)
            rmdir(c->dir);
    }
    if (rc == OX_EFULL && fresh && o.sync != OX_SYNC_NO)
        srv_log(SRV_LOG_WARNING, "Can't create the data file %s: %s (a new data file needs "
                "%zu MiB free for its write-ahead log, and room for its data)", path,
                ox_strerror(rc), OX_WAL_SIZE_DEFAULT >> 20);
    else
        srv_log(SRV_LOG_WARNING, "Can't open the data file %s: %s", path, ox_strerror(rc));
    return -1;
}

/* Waits for SIGTERM/SIGINT (through a signalfd) or SHUTDOWN (through shutdown_efd). */
static void wait_for_shutdown(int sfd)
{
    struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN}, {.fd = srv.shutdown_efd, .events = POLLIN}};
    for (;;) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (pf[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
                srv_log(SRV_LOG_WARNING, "Received %s scheduling shutdown...",
                        si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
            return;
        }
        if (pf[1].revents & POLLIN)
            return;
    }
}

int main(int argc, char **argv)
{
    /* glibc returns the free top of a heap to the kernel past 128 KiB, and maps each block
     * over 128 KiB apart, until a large block's free raises both thresholds. Fixed here:
     * a pipelined client's 4 KiB values come and go by megabytes at a time, and with the
     * defaults the I/O thread's heap shrank and grew again: three times the page faults
     * (SET -d 4096 at -P 16). SET of 100 bytes at -P 16 ran 6-8% faster with these. A
     * heap keeps up to 8 MiB free. */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
    int argi = 1;
    const char *conf_path = NULL;
    if (argc >= 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        printf("oxistore-server v=%s (Redis %s compatible) bits=%d\n", OXISTORE_VERSION,
               SRV_REDIS_VERSION, (int)(sizeof(void *) * 8));
        return 0;
    }
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && strncmp(argv[1], "--", 2) != 0) {
        conf_path = argv[1];
        argi = 2;
    }
    if (conf_init(&srv.cfg)) {
        fprintf(stderr, "Out of memory\n");
        return 1;
    }
    /* Absolute, as Redis keeps it: CONFIG REWRITE finds the file whatever the cwd. */
    if (conf_path && !(srv.conf_path = realpath(conf_path, NULL)))
        srv.conf_path = strdup(conf_path);
    char err[2048];
    if (conf_load(&srv.cfg, conf_path, argc - argi, argv + argi, err, sizeof err)) {
        fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR (Redis %s) ***\n%s\n", SRV_REDIS_VERSION,
                err);
        conf_free(&srv.cfg);
    free(srv.conf_path);
        return 1;
    }
    if (srv_log_open(srv.cfg.logfile, srv.cfg.loglevel)) {
        fprintf(stderr, "Can't open the log file: %s\n", strerror(errno));
        return 1;
    }
    srv.pid = (long long)getpid();
    srv.start_ms = srv_mstime();
    srv_ticks_init();
    make_run_id(srv.run_id);
    srv_log(SRV_LOG_WARNING, "oO0OoO0OoO0Oo oxistore is starting oO0OoO0OoO0Oo");
    srv_log(SRV_LOG_WARNING, "oxistore version=%s (Redis %s compatible), bits=%d, pid=%lld, "
            "just started", OXISTORE_VERSION, SRV_REDIS_VERSION, (int)(sizeof(void *) * 8),
            srv.pid);
    srv_log(SRV_LOG_WARNING, conf_path ? "Configuration loaded"
            : "Warning: no config file specified, using the default config.");

    /* Signals go to the main thread's signalfd only; no thread dies of SIGPIPE. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    srv.shutdown_efd = eventfd(0, EFD_CLOEXEC);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    /* By default the cores minus the writer's: on this project's 2-core machine one I/O
     * thread spent less CPU per request than two (SET at 50 clients 17-18.5 us against
     * 20-26, GET 13-14 against 13-17: fewer hand-overs and wake-ups), and throughput was
     * no better with two (issue #12's notes). */
    srv.nio = srv.cfg.io_threads > 0 ? srv.cfg.io_threads : (cores > 2 ? (int)cores - 1 : 1);

    int rc = 1;
    if (sfd < 0 || srv.shutdown_efd < 0 || open_store() || cmd_init() || stats_init() ||
        pubsub_init(srv.nio, client_deliver) || script_init() || function_init() ||
        replica_init() || writer_start() || replica_start())
        goto out;
    if (io_start()) {
        io_stop();
        goto out;
    }
    srv_log(SRV_LOG_NOTICE, "Server initialized (%d I/O threads, appendfsync %s)", srv.nio,
            srv.cfg.appendfsync == CONF_FSYNC_ALWAYS ? "always"
            : srv.cfg.appendfsync == CONF_FSYNC_EVERYSEC ? "everysec" : "no");
    srv_log(SRV_LOG_NOTICE, "Ready to accept connections");
    wait_for_shutdown(sfd);
    script_stop(); /* a script that never ends would hold the writer, and the exit, forever */
    replica_stop(); /* no more of the master's stream */
    repl_quiesce();
    io_stop(); /* stops accepting, drains and commits the writer's queue, closes clients */
    rc = 0;
out:
    cmd_bgsave_join(); /* a BGSAVE still copying finishes before the store closes */
    replica_stop();
    if (srv.writer)
        writer_stop();
    replica_fini();
    repl_shutdown(); /* the replicas' threads, a full sync's backup among them */
    if (srv.store) {
        int crc = ox_store_close(srv.store);
        if (crc) {
            srv_log(SRV_LOG_WARNING, "Closing the data file: %s", ox_strerror(crc));
            rc = 1;
        }
    }
    if (rc == 0)
        srv_log(SRV_LOG_WARNING, "oxistore is now ready to exit, bye bye...");
    resp_cmdtab_free(srv.cmdtab);
    free(srv.cmd_names);
    stats_free();
    notify_free();
    pubsub_fini();
    function_fini();
    script_fini();
    db_free();
    dbmap_free();
    cursor_free_all();
    conf_free(&srv.cfg);
    if (sfd >= 0)
        close(sfd);
    if (srv.shutdown_efd >= 0)
        close(srv.shutdown_efd);
    return rc;
}
