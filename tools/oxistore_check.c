/* oxistore_check.c — oxistore-check: check, repair, back up, compact, inspect, dump and
 * restore an oxistore store file, in the manner of LMDB's mdb_* tools. This file holds
 * the command line and the commands that are one library call each; dump.c and
 * restore.c the RESP dump format. See usage() for what each command does. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tool.h"

static const char usage_text[] =
    "Usage: " TOOL_NAME " COMMAND FILE [ARG]\n"
    "Checks and maintains an oxistore store file (FILE: the server's data file, by\n"
    "default data/oxistore.mdb).\n"
    "\n"
    "Commands:\n"
    "  check FILE           walk every page of the newest snapshot, then every collection\n"
    "                       (member counts, list positions, sorted-set index, bounds and\n"
    "                       rank index); exit 0 if clean, 1 if damaged (printing the page,\n"
    "                       or the key, and the problem), 3 if the file could not be\n"
    "                       checked (in use by a server, missing, I/O)\n"
    "  repair FILE          if the newest commit is damaged and the previous one is clean,\n"
    "                       fall back to the previous one; refused while a server has it\n"
    "  backup FILE DEST     hot backup: a consistent copy as of one moment, written to\n"
    "                       DEST.tmp and renamed; works while the server runs\n"
    "  compact FILE DEST    the same, compacted (no free pages); FILE is not modified\n"
    "  stat FILE            format version, page size, pages, free pages, file size, and\n"
    "                       per table: its database, keys, keys with an expiry time\n"
    "  dump FILE [DEST|-]   every live key as RESP commands (to stdout if DEST is - or\n"
    "                       missing); works while the server runs\n"
    "  restore FILE SRC|-   apply a file of RESP commands (from stdin if SRC is -) to FILE\n"
    "                       (created if missing); refused while a server has it\n"
    "\n"
    "Dump format: what redis-cli --pipe sends, so that `redis-cli --pipe < DUMP` loads it\n"
    "into a Redis server (7.0 or later) and `restore` loads it into another store. One\n"
    "snapshot; databases in ascending order, each non-empty one introduced by\n"
    "  *2 $6 SELECT $<len> <db>\n"
    "followed by the commands of each live key, keys in the store's order, binary-safe:\n"
    "  *3 $3 SET $<len> <key> $<len> <value>                  (no expiry time)\n"
    "  *5 $3 SET $<len> <key> $<len> <value> $4 PXAT $<len> <ms>\n"
    "  *4 $4 HSET $<len> <key> $<len> <field> $<len> <value>   (one per field of a hash)\n"
    "  *3 $4 SADD $<len> <key> $<len> <member>                (one per member of a set)\n"
    "  *4 $4 ZADD $<len> <key> $<len> <score> $<len> <member>  (one per sorted set member)\n"
    "  *3 $5 RPUSH $<len> <key> $<len> <element>        (one per list element, in order)\n"
    "  *3 $9 PEXPIREAT $<len> <key> $<len> <ms>         (after a collection's members)\n"
    "(each element ends with \\r\\n; <ms>: absolute expiry time, ms since the epoch). The\n"
    "database numbers are the client's (after SWAPDB, as SELECT sees them), never tables.\n"
    "\n"
    "Restore reads multibulk commands (and inline lines, as redis-server does): SELECT,\n"
    "SET (NX XX GET EX PX EXAT PXAT KEEPTTL), HSET, SADD, ZADD, RPUSH, DEL, UNLINK, EXPIRE, PEXPIRE, EXPIREAT,\n"
    "PEXPIREAT (NX XX GT LT), FLUSHDB, FLUSHALL. Commands are applied in transactions of\n"
    "at most 10000 commands or 4 MiB; a database's first SELECT also ends one. At the\n"
    "first command it cannot apply (unknown, bad syntax, truncated input) it stops, rolls\n"
    "back the open transaction, and says which command (number and byte offset) and how\n"
    "many commands before it were applied.\n"
    "\n"
    "Long operations draw a progress line on stderr when it is a terminal.\n"
    "Exit status: 0 done, 1 failed (check: damaged), 2 usage error, 3 check could not run.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, TOOL_NAME ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '" TOOL_NAME " --help'.\n");
    return TOOL_USAGE;
}

static int cmd_check(const char *path)
{
    ox_check_report rep;
    progress_watch("checking:", NULL, 0, "s elapsed");
    int rc = ox_check(path, &rep);
    progress_unwatch();
    if (rc == OX_OK) {
        printf("%s: clean: txn %" PRIu64 ", %" PRIu64 " pages (%" PRIu64 " used, %" PRIu64
               " free) of %u bytes, %" PRIu64 " tables, %" PRIu64 " entries\n",
               path, rep.txnid, rep.pages, rep.pages_used, rep.pages_free, rep.page_size,
               rep.tables, rep.entries);
        if (rep.recovery_pending)
            printf("%s: a crash left commits in the write-ahead log that this file lacks (%s)\n"
                   "%s: %" PRIu64 " commits in the log after the file's checkpoint, every "
                   "checksum sound\n", path, TOOL_RECOVER_HINT, path, rep.log_records);
        fflush(stdout);
        return tool_verify(path);
    }
    if (rc == OX_ECORRUPT) {
        if (rep.problem_pgno != UINT64_MAX)
            printf("%s: damaged at page %" PRIu64 ": %s\n", path, rep.problem_pgno, rep.problem);
        else
            printf("%s: damaged: %s\n", path, rep.problem);
        return TOOL_FAIL;
    }
    if (rc == OX_EINVAL)
        tool_err("check %s: no such store file", path);
    else if (rc == OX_EBUSY)
        tool_err("check %s: %s (stop the server first; a backup can be checked while it "
                 "runs)", path, ox_strerror(rc));
    else if (rc == OX_ERECOVER)
        tool_err("check %s: %s (%s); without it: %s", path, ox_strerror(rc), TOOL_RECOVER_HINT,
                 rep.problem);
    else
        tool_err("check %s: %s", path, ox_strerror(rc));
    return TOOL_NOCHECK;
}

static int cmd_repair(const char *path)
{
    char what[1024];
    int rc = ox_repair(path, what, sizeof what);
    if (rc == OX_OK) {
        printf("%s: %s\n", path, what);
        return TOOL_OK;
    }
    if (rc == OX_EBUSY)
        tool_err("repair %s: refused: %s (stop the server first)", path, ox_strerror(rc));
    else if (rc == OX_EINVAL)
        tool_err("repair %s: no such store file", path);
    else if (rc == OX_ECORRUPT && what[0])
        tool_err("repair %s: %s: %s", path, ox_strerror(rc), what);
    else
        tool_err("repair %s: %s", path, ox_strerror(rc));
    return TOOL_FAIL;
}

/* 1 if dest names the same file as path (a copy must not be renamed over its source). */
static int same_file(const char *path, const char *dest)
{
    struct stat a, b;
    return stat(path, &a) == 0 && stat(dest, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

/* backup and compact: a copy through ox_backup of a read-only open, which takes only an
 * LMDB reader slot, so a running server (or anybody) keeps writing meanwhile. */
static int cmd_copy(const char *path, const char *dest, int compact)
{
    const char *verb = compact ? "compact" : "backup";
    if (same_file(path, dest)) {
        tool_err("%s %s: DEST is FILE itself", verb, path);
        return TOOL_USAGE;
    }
    ox_store *s;
    ox_store_info info;
    if (tool_open(path, 1, &s))
        return TOOL_FAIL;
    int rc = ox_store_stat(s, &info);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", dest);
    uint64_t expect = rc ? 0 : (compact ? info.pages - info.pages_free : info.pages) *
                                  (uint64_t)info.page_size;
    progress_watch(compact ? "compacting:" : "backing up:", tmp, expect, "bytes");
    if (rc == OX_OK)
        rc = ox_backup(s, dest, compact);
    progress_unwatch();
    uint64_t before = 0;
    ox_store_size_on_disk(s, &before);
    int crc = ox_store_close(s);
    if (rc == OX_OK)
        rc = crc;
    if (rc) {
        tool_err("%s %s to %s: %s", verb, path, dest, ox_strerror(rc));
        return TOOL_FAIL;
    }
    struct stat st;
    printf("%s: %s to %s: %" PRIu64 " bytes (the file: %" PRIu64 ")\n", path,
           compact ? "compacted" : "backed up", dest,
           stat(dest, &st) == 0 ? (uint64_t)st.st_size : 0, before);
    return TOOL_OK;
}

static int cmd_stat(const char *path)
{
    ox_store *s;
    ox_store_info info;
    tool_dbs d;
    char **names = NULL;
    size_t nn = 0;
    uint64_t size = 0;
    if (tool_open(path, 1, &s))
        return TOOL_FAIL;
    int rc = ox_store_stat(s, &info);
    if (rc == OX_OK)
        rc = ox_store_size_on_disk(s, &size);
    if (rc == OX_OK)
        rc = ox_table_names(s, &names, &nn);
    if (rc) {
        tool_err("stat %s: %s", path, ox_strerror(rc));
        ox_store_close(s);
        return TOOL_FAIL;
    }
    if (tool_dbs_load(s, &d)) {
        ox_table_names_free(names, nn);
        ox_store_close(s);
        return TOOL_FAIL;
    }
    printf("file: %s\nformat version: %u\npage size: %u\npages: %" PRIu64 "\nfree pages: %"
           PRIu64 "\nfile size: %" PRIu64 "\ntxn: %" PRIu64 "\ntables: %zu\n", path,
           ox_store_format(s), info.page_size, info.pages, info.pages_free, size,
           info.txnid, nn);
    uint64_t keys = 0, expiring = 0;
    for (size_t i = 0; i < nn && rc == OX_OK; i++) {
        ox_table *t;
        uint64_t n = 0, e = 0;
        if ((rc = ox_table_open(s, names[i], &t)) || (rc = ox_count(t, &n)) ||
            (rc = ox_count_expires(t, &e)))
            break;
        int db = -1;
        for (int j = 0; j < d.n; j++)
            if (d.db[j] == t)
                db = j;
        printf("table %s:", names[i]);
        if (db >= 0)
            printf(" db %d,", db);
        printf(" %" PRIu64 " keys, %" PRIu64 " expiring\n", n, e);
        if (db >= 0) {
            keys += n;
            expiring += e;
        }
    }
    if (rc == OX_OK)
        printf("keys: %" PRIu64 ", expiring: %" PRIu64 "\n", keys, expiring);
    else
        tool_err("stat %s: %s", path, ox_strerror(rc));
    tool_dbs_free(&d);
    ox_table_names_free(names, nn);
    int crc = ox_store_close(s);
    return rc || crc ? TOOL_FAIL : TOOL_OK;
}

int main(int argc, char **argv)
{
    static const struct { const char *name; int nargs, optional; } cmds[] = {
        {"check", 1, 0}, {"repair", 1, 0}, {"backup", 2, 0}, {"compact", 2, 0},
        {"stat", 1, 0}, {"dump", 1, 1}, {"restore", 2, 0}};
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
                      !strcmp(argv[1], "help"))) {
        fputs(usage_text, stdout);
        return TOOL_OK;
    }
    if (argc < 2)
        return usage_error("%s", "missing command");
    size_t c = 0;
    while (c < sizeof cmds / sizeof *cmds && strcmp(cmds[c].name, argv[1]))
        c++;
    if (c == sizeof cmds / sizeof *cmds)
        return usage_error("unknown command '%s'", argv[1]);
    int nargs = argc - 2;
    if (nargs < cmds[c].nargs || nargs > cmds[c].nargs + cmds[c].optional)
        return usage_error("wrong number of arguments for '%s'", argv[1]);
    for (int i = 2; i < argc; i++)
        if (!argv[i][0])
            return usage_error("%s", "an empty file name");
    const char *file = argv[2], *arg = nargs > 1 ? argv[3] : NULL;
    switch (c) {
    case 0: return cmd_check(file);
    case 1: return cmd_repair(file);
    case 2: return cmd_copy(file, arg, 0);
    case 3: return cmd_copy(file, arg, 1);
    case 4: return cmd_stat(file);
    case 5: return tool_dump(file, arg ? arg : "-");
    default: return tool_restore(file, arg);
    }
}
