/* cmd_command.c — COMMAND and its subcommands: what the command table (cmd.c) says of each
 * command, in Redis 7.0's shapes.
 *
 * COMMAND INFO reports, byte for byte as Redis 7.0 does for the same command: the name,
 * the arity, Redis's command flags (the row's, plus movablekeys worked out from the key
 * specs), first key, last key and step (from the key specs, keyspec_legacy), the ACL
 * categories (the row's plus those the flags imply), the tips, the key specs and the
 * subcommands. A container lists only the subcommands oxistore has: COMMAND LIST and
 * COMMAND COUNT count what oxistore runs, not Redis's whole set.
 *
 * COMMAND DOCS: Redis's documentation is its own text, so oxistore reports the facts —
 * "group", "since", and "doc_flags" and "deprecated_since" where Redis has them — exactly
 * as Redis 7.0 does, and "summary", "complexity" and "replaced_by" in its own short words.
 * "arguments" is Redis's tree of them byte for byte (the table's args, argdoc.h): the
 * syntax, from which redis-cli 7.0 builds its `help` and the hints it shows as one types.
 * It has no "history", which is Redis's prose.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "argdoc.h"
#include "cmd.h"
#include "glob.h"
#include "keyspec.h"
#include "log.h"
#include "util.h"

/* Redis's command flags, in the order COMMAND INFO lists them; bit i is names[i]. */
static const char *const flag_names[] = {
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking",
    "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
    "may_replicate", "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys",
    "allow_busy"};
#define NFLAGS (sizeof flag_names / sizeof *flag_names)
enum { F_WRITE = 0, F_READONLY = 1, F_ADMIN = 4, F_PUBSUB = 5, F_BLOCKING = 7, F_FAST = 13,
       F_NO_MANDATORY_KEYS = 16, F_MOVABLEKEYS = 19 };

/* Redis's ACL categories, in the order COMMAND INFO lists them. */
static const char *const acl_names[] = {
    "@keyspace", "@read", "@write", "@set", "@sortedset", "@list", "@hash", "@string",
    "@bitmap", "@hyperloglog", "@geo", "@stream", "@pubsub", "@admin", "@fast", "@slow",
    "@blocking", "@dangerous", "@connection", "@transaction", "@scripting"};
#define NACLS (sizeof acl_names / sizeof *acl_names)
enum { A_READ = 1, A_WRITE = 2, A_PUBSUB = 12, A_ADMIN = 13, A_FAST = 14, A_SLOW = 15,
       A_BLOCKING = 16, A_DANGEROUS = 17, A_SCRIPTING = 20 };

#define BIT(i) (1ull << (i))

/* The bits of the words of s among names[0 .. n); -1 if a word is not one of them. */
static long long word_bits(const char *s, const char *const *names, size_t n)
{
    const char *p = s, *end = s + strlen(s), *w;
    size_t len;
    long long bits = 0;
    while (srv_next_word(&p, end, &w, &len)) {
        size_t i = 0;
        while (i < n && !(strlen(names[i]) == len && !memcmp(names[i], w, len)))
            i++;
        if (i == n)
            return -1;
        bits |= (long long)BIT(i);
    }
    return bits;
}

/* What the table says of a command, parsed (the strings were checked at startup). */
typedef struct cmd_meta {
    keyspec ks[KEYSPEC_MAX];
    int nks;
    int first, last, step;
    unsigned long long flags, acl;
} cmd_meta;

static void meta_of(const cmd_def *d, cmd_meta *m)
{
    int movable;
    m->nks = keyspec_parse(d->keys, m->ks, KEYSPEC_MAX);
    if (m->nks < 0)
        m->nks = 0;
    keyspec_legacy(m->ks, m->nks, &m->first, &m->last, &m->step, &movable);
    m->flags = (unsigned long long)word_bits(d->rflags, flag_names, NFLAGS);
    if (movable)
        m->flags |= BIT(F_MOVABLEKEYS);
    /* The categories the flags imply, as Redis adds them to every command's. */
    m->acl = (unsigned long long)word_bits(d->acl, acl_names, NACLS);
    if (m->flags & BIT(F_WRITE))
        m->acl |= BIT(A_WRITE);
    if ((m->flags & BIT(F_READONLY)) && !(m->acl & BIT(A_SCRIPTING)))
        m->acl |= BIT(A_READ);
    if (m->flags & BIT(F_ADMIN))
        m->acl |= BIT(A_ADMIN) | BIT(A_DANGEROUS);
    if (m->flags & BIT(F_PUBSUB))
        m->acl |= BIT(A_PUBSUB);
    if (m->flags & BIT(F_BLOCKING))
        m->acl |= BIT(A_BLOCKING);
    m->acl |= (m->flags & BIT(F_FAST)) ? BIT(A_FAST) : BIT(A_SLOW);
}

/* A command's "doc" string: "group since | complexity | summary" (complexity "-": none),
 * then optionally " | deprecated SINCE REPLACED-BY..." or " | syscmd". */
typedef struct span {
    const char *p;
    size_t n;
} span;

typedef struct cmd_doc {
    span group, since, complexity, summary, deprecated_since, replaced_by;
    int syscmd;
} cmd_doc;

/* The next " | "-separated part of [*p, end) into *s: 1, or 0 at the end. */
static int next_part(const char **p, const char *end, span *s)
{
    return srv_next_part(p, end, " | ", &s->p, &s->n);
}

/* 0, or -1 if the string is malformed. */
static int doc_of(const cmd_def *d, cmd_doc *doc)
{
    const char *p = d->doc, *end = p + strlen(p), *q;
    span head, extra;
    memset(doc, 0, sizeof *doc);
    if (!next_part(&p, end, &head) || !next_part(&p, end, &doc->complexity) ||
        !next_part(&p, end, &doc->summary))
        return -1;
    q = head.p;
    if (!srv_next_word(&q, head.p + head.n, &doc->group.p, &doc->group.n) ||
        !srv_next_word(&q, head.p + head.n, &doc->since.p, &doc->since.n) ||
        q != head.p + head.n)
        return -1;
    if (!next_part(&p, end, &extra))
        return 0;
    q = extra.p;
    span w;
    if (!srv_next_word(&q, extra.p + extra.n, &w.p, &w.n))
        return -1;
    if (w.n == 6 && !memcmp(w.p, "syscmd", 6)) {
        doc->syscmd = 1;
        return q == extra.p + extra.n && p == end ? 0 : -1;
    }
    if (w.n != 10 || memcmp(w.p, "deprecated", 10) ||
        !srv_next_word(&q, extra.p + extra.n, &doc->deprecated_since.p,
                       &doc->deprecated_since.n) || q + 1 >= extra.p + extra.n)
        return -1;
    doc->replaced_by.p = q + 1;
    doc->replaced_by.n = (size_t)(extra.p + extra.n - (q + 1));
    return p == end ? 0 : -1;
}

int cmd_command_check(void)
{
    for (size_t i = 0; i < cmd_count + cmd_subcount; i++) {
        const cmd_def *d = cmd_by_slot(i);
        keyspec ks[KEYSPEC_MAX];
        cmd_doc doc;
        const char *bad = NULL;
        long long fl = word_bits(d->rflags, flag_names, NFLAGS);
        if (fl < 0 || (fl & (long long)BIT(F_MOVABLEKEYS)))
            bad = "flags"; /* movablekeys comes from the key specs */
        else if (word_bits(d->acl, acl_names, NACLS) < 0)
            bad = "ACL categories";
        else if (keyspec_parse(d->keys, ks, KEYSPEC_MAX) < 0)
            bad = "key specs";
        else if (doc_of(d, &doc))
            bad = "docs";
        else if (argdoc_check(d->args))
            bad = "arguments";
        if (bad) {
            srv_log(SRV_LOG_WARNING, "The command table's %s of '%s' are malformed", bad,
                    d->name);
            return -1;
        }
    }
    return 0;
}

/* ---- COMMAND INFO ------------------------------------------------------------------------ */

static int is_sub_of(const cmd_def *sub, const cmd_def *parent)
{
    size_t pl = strlen(parent->name);
    return !strncmp(sub->name, parent->name, pl) && sub->name[pl] == '|';
}

static size_t subs_of(const cmd_def *d)
{
    size_t n = 0;
    if (d->flags & CMD_SUBS)
        for (size_t i = 0; i < cmd_subcount; i++)
            n += is_sub_of(&cmd_subtable[i], d);
    return n;
}

static void write_bits(resp_buf *out, unsigned long long bits, const char *const *names,
                       size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (bits & BIT(i)) != 0;
    resp_write_set(out, k);
    for (size_t i = 0; i < n; i++)
        if (bits & BIT(i))
            resp_write_simple(out, names[i], strlen(names[i]));
}

static void write_str(resp_buf *out, const char *s)
{
    resp_write_bulk(out, s, strlen(s));
}

static void write_int_field(resp_buf *out, const char *name, long long v)
{
    write_str(out, name);
    resp_write_int(out, v);
}

static void write_keyspec(resp_buf *out, const keyspec *k)
{
    resp_write_map(out, k->note ? 4 : 3);
    if (k->note) {
        write_str(out, "notes");
        resp_write_bulk(out, k->note, k->note_len);
    }
    write_str(out, "flags");
    write_bits(out, k->flags, keyspec_flag_names, KEYSPEC_NFLAGS);
    write_str(out, "begin_search");
    resp_write_map(out, 2);
    write_str(out, "type");
    if (k->begin == KEYSPEC_INDEX) {
        write_str(out, "index");
        write_str(out, "spec");
        resp_write_map(out, 1);
        write_int_field(out, "index", k->pos);
    } else if (k->begin == KEYSPEC_KEYWORD) {
        write_str(out, "keyword");
        write_str(out, "spec");
        resp_write_map(out, 2);
        write_str(out, "keyword");
        resp_write_bulk(out, k->keyword, k->keyword_len);
        write_int_field(out, "startfrom", k->pos);
    } else {
        write_str(out, "unknown");
        write_str(out, "spec");
        resp_write_map(out, 0);
    }
    write_str(out, "find_keys");
    resp_write_map(out, 2);
    write_str(out, "type");
    if (k->find == KEYSPEC_UNKNOWN) {
        write_str(out, "unknown");
        write_str(out, "spec");
        resp_write_map(out, 0);
        return;
    }
    int range = k->find == KEYSPEC_RANGE;
    write_str(out, range ? "range" : "keynum");
    write_str(out, "spec");
    resp_write_map(out, 3);
    write_int_field(out, range ? "lastkey" : "keynumidx", k->a);
    write_int_field(out, range ? "keystep" : "firstkey", k->b);
    write_int_field(out, range ? "limit" : "keystep", k->c);
}

static void write_info(resp_buf *out, const cmd_def *d)
{
    cmd_meta m;
    meta_of(d, &m);
    resp_write_array(out, 10);
    write_str(out, d->name);
    resp_write_int(out, d->arity);
    write_bits(out, m.flags, flag_names, NFLAGS);
    resp_write_int(out, m.first);
    resp_write_int(out, m.last);
    resp_write_int(out, m.step);
    write_bits(out, m.acl, acl_names, NACLS);
    const char *p = d->tips, *end = p + strlen(p), *w;
    size_t n = 0, len;
    while (srv_next_word(&p, end, &w, &len))
        n++;
    resp_write_set(out, n);
    for (p = d->tips; srv_next_word(&p, end, &w, &len);)
        resp_write_bulk(out, w, len);
    resp_write_set(out, (size_t)m.nks);
    for (int i = 0; i < m.nks; i++)
        write_keyspec(out, &m.ks[i]);
    size_t nsub = subs_of(d);
    if (!nsub) {
        resp_write_set(out, 0); /* Redis's empty list of subcommands is a set */
        return;
    }
    resp_write_array(out, nsub);
    for (size_t i = 0; i < cmd_subcount; i++)
        if (is_sub_of(&cmd_subtable[i], d))
            write_info(out, &cmd_subtable[i]);
}

static void write_all_info(resp_buf *out)
{
    resp_write_array(out, cmd_count);
    for (size_t i = 0; i < cmd_count; i++)
        write_info(out, &cmd_table[i]);
}

/* ---- COMMAND DOCS ------------------------------------------------------------------------ */

static void write_span(resp_buf *out, const char *name, span s)
{
    write_str(out, name);
    resp_write_bulk(out, s.p, s.n);
}

static void write_doc(resp_buf *out, const cmd_def *d)
{
    cmd_doc doc;
    doc_of(d, &doc);
    size_t nsub = subs_of(d), deprecated = doc.deprecated_since.p != NULL;
    int cx = !(doc.complexity.n == 1 && doc.complexity.p[0] == '-'); /* "-": none, as Redis */
    int args = *d->args != '\0';
    resp_write_map(out, 3 + (size_t)cx + (deprecated || doc.syscmd) + 2 * deprecated +
                            (size_t)args + (nsub > 0));
    write_span(out, "summary", doc.summary);
    write_span(out, "since", doc.since);
    write_span(out, "group", doc.group);
    if (cx)
        write_span(out, "complexity", doc.complexity);
    if (deprecated || doc.syscmd) {
        const char *flag = doc.syscmd ? "syscmd" : "deprecated";
        write_str(out, "doc_flags");
        resp_write_set(out, 1);
        resp_write_simple(out, flag, strlen(flag));
    }
    if (deprecated) {
        write_span(out, "deprecated_since", doc.deprecated_since);
        write_span(out, "replaced_by", doc.replaced_by);
    }
    if (args) {
        write_str(out, "arguments");
        argdoc_write(out, d->args);
    }
    if (nsub) {
        write_str(out, "subcommands");
        resp_write_map(out, nsub);
        for (size_t i = 0; i < cmd_subcount; i++)
            if (is_sub_of(&cmd_subtable[i], d)) {
                write_str(out, cmd_subtable[i].name);
                write_doc(out, &cmd_subtable[i]);
            }
    }
}

static void command_docs(cmd_ctx *x)
{
    if (x->argc == 2) {
        resp_write_map(x->out, cmd_count);
        for (size_t i = 0; i < cmd_count; i++) {
            write_str(x->out, cmd_table[i].name);
            write_doc(x->out, &cmd_table[i]);
        }
        return;
    }
    size_t n = 0;
    for (int i = 2; i < x->argc; i++)
        n += cmd_lookup_name(&x->argv[i]) != NULL;
    resp_write_map(x->out, n);
    for (int i = 2; i < x->argc; i++) {
        const cmd_def *d = cmd_lookup_name(&x->argv[i]);
        if (d) {
            write_str(x->out, d->name);
            write_doc(x->out, d);
        }
    }
}

/* ---- COMMAND LIST ------------------------------------------------------------------------ */

enum { FILTER_NONE, FILTER_MODULE, FILTER_ACLCAT, FILTER_PATTERN };

/* 1 if d passes the filter (what = FILTER_..., arg its argument). */
static int list_match(const cmd_def *d, int what, const resp_arg *arg)
{
    if (what == FILTER_NONE)
        return 1;
    if (what == FILTER_MODULE)
        return 0; /* oxistore has no modules */
    if (what == FILTER_PATTERN)
        return glob_match(arg->ptr, arg->len, d->name, strlen(d->name), 1);
    cmd_meta m;
    meta_of(d, &m);
    for (size_t i = 0; i < NACLS; i++)
        if (strlen(acl_names[i] + 1) == arg->len &&
            !strncasecmp(acl_names[i] + 1, arg->ptr, arg->len))
            return (m.acl & BIT(i)) != 0;
    return 0;
}

static void command_list(cmd_ctx *x)
{
    int what = FILTER_NONE;
    const resp_arg *arg = NULL;
    if (x->argc == 5 && cmd_is(&x->argv[2], "filterby")) {
        arg = &x->argv[4];
        if (cmd_is(&x->argv[3], "module"))
            what = FILTER_MODULE;
        else if (cmd_is(&x->argv[3], "aclcat"))
            what = FILTER_ACLCAT;
        else if (cmd_is(&x->argv[3], "pattern"))
            what = FILTER_PATTERN;
    }
    if (x->argc != 2 && what == FILTER_NONE) {
        cmd_syntax_error(x);
        return;
    }
    /* Each command, then its subcommands: counted first, then written. */
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass)
            resp_write_array(x->out, n);
        for (size_t i = 0; i < cmd_count; i++) {
            const cmd_def *d = &cmd_table[i];
            if (list_match(d, what, arg)) {
                n += !pass;
                if (pass)
                    write_str(x->out, d->name);
            }
            for (size_t j = 0; subs_of(d) && j < cmd_subcount; j++) {
                const cmd_def *s = &cmd_subtable[j];
                if (is_sub_of(s, d) && list_match(s, what, arg)) {
                    n += !pass;
                    if (pass)
                        write_str(x->out, s->name);
                }
            }
        }
    }
}

/* ---- COMMAND GETKEYS, GETKEYSANDFLAGS ---------------------------------------------------- */

/* SET's key is written over unless a GET after the value reads it first: the one spec
 * with variable flags oxistore has (Redis asks the command, as here). */
static unsigned key_flags(const cmd_def *d, const keyspec_key *k, int argc, const resp_arg *argv)
{
    if (d->fn != cmd_set || !(k->flags & KEYSPEC_VARIABLE_FLAGS))
        return k->flags;
    for (int i = 3; i < argc; i++)
        if (cmd_is(&argv[i], "get"))
            return KEYSPEC_RW | KEYSPEC_ACCESS | KEYSPEC_UPDATE;
    return KEYSPEC_OW | KEYSPEC_UPDATE;
}

/* SORT's keys as Redis's sortGetKeys finds them: the source, and the last STORE's
 * destination, stepping over LIMIT's two arguments and BY's and GET's one; SORT_RO's,
 * the source alone (sortROGetKeys). */
static int sort_keys(int argc, const resp_arg *argv, int ro, keyspec_key *out)
{
    int n = 1, store = 0;
    out[0] = (keyspec_key){1, KEYSPEC_RO | KEYSPEC_ACCESS};
    for (int i = 2; !ro && i < argc; i++) {
        if (cmd_is(&argv[i], "limit"))
            i += 2;
        else if (cmd_is(&argv[i], "get") || cmd_is(&argv[i], "by"))
            i += 1;
        else if (cmd_is(&argv[i], "store") && i + 1 < argc) {
            out[1] = (keyspec_key){i + 1, KEYSPEC_OW | KEYSPEC_UPDATE};
            store = 1;
        }
    }
    return n + store;
}

static void command_getkeys(cmd_ctx *x, int with_flags)
{
    int argc = x->argc - 2;
    const resp_arg *argv = x->argv + 2;
    const cmd_def *d = cmd_lookup(&argv[0]);
    if (d && (d->flags & CMD_SUBS))
        d = cmd_lookup_sub(d, &argv[1]); /* GETKEYS's arity: argv[1] is there */
    if (!d) {
        cmd_err(x, "-ERR Invalid command specified");
        return;
    }
    cmd_meta m;
    int has_keys = 0;
    meta_of(d, &m);
    for (int i = 0; i < m.nks; i++)
        has_keys |= !(m.ks[i].flags & KEYSPEC_NOT_KEY);
    if (!has_keys) {
        cmd_err(x, "-ERR The command has no key arguments");
        return;
    }
    if (!cmd_arity_ok(d, argc)) {
        cmd_err(x, "-ERR Invalid number of arguments specified for command");
        return;
    }
    int cap = argc * KEYSPEC_MAX;
    keyspec_key *keys = srv_xmalloc((size_t)cap * sizeof *keys);
    int n = (d->fn == cmd_sort || d->fn == cmd_sort_ro) && cap >= 2
                ? sort_keys(argc, argv, d->fn == cmd_sort_ro, keys)
                : keyspec_find(m.ks, m.nks, argc, argv, keys, cap);
    if (!n && !(m.flags & BIT(F_NO_MANDATORY_KEYS))) {
        cmd_err(x, "-ERR Invalid arguments specified for command");
    } else {
        resp_write_array(x->out, (size_t)n);
        for (int i = 0; i < n; i++) {
            const resp_arg *key = &argv[keys[i].pos];
            if (with_flags) {
                resp_write_array(x->out, 2);
                resp_write_bulk(x->out, key->ptr, key->len);
                write_bits(x->out, key_flags(d, &keys[i], argc, argv), keyspec_flag_names,
                           KEYSPEC_NFLAGS);
            } else {
                resp_write_bulk(x->out, key->ptr, key->len);
            }
        }
    }
    free(keys);
}

/* ---- COMMAND ----------------------------------------------------------------------------- */

static const char *const command_help[] = {
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    NULL};

/* The dispatcher has checked the subcommand and its arity (cmd_subtable). */
void cmd_command(cmd_ctx *x)
{
    if (x->argc == 1 || (cmd_is(&x->argv[1], "info") && x->argc == 2)) {
        write_all_info(x->out);
        return;
    }
    const resp_arg *sub = &x->argv[1];
    if (cmd_is(sub, "count")) {
        resp_write_int(x->out, (long long)cmd_count);
    } else if (cmd_is(sub, "list")) {
        command_list(x);
    } else if (cmd_is(sub, "info")) {
        resp_write_array(x->out, (size_t)x->argc - 2);
        for (int i = 2; i < x->argc; i++) {
            const cmd_def *d = cmd_lookup_name(&x->argv[i]);
            if (d)
                write_info(x->out, d);
            else
                resp_write_null(x->out);
        }
    } else if (cmd_is(sub, "docs")) {
        command_docs(x);
    } else if (cmd_is(sub, "getkeys") || cmd_is(sub, "getkeysandflags")) {
        command_getkeys(x, cmd_is(sub, "getkeysandflags"));
    } else if (cmd_is(sub, "help")) {
        cmd_reply_help(x->out, &x->argv[0], command_help);
    } else {
        cmd_reply_unknown_sub(x->out, x->argv); /* a row of cmd_subtable without a branch */
    }
}
