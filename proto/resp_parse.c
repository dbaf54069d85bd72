/* The request parser: an input buffer the caller reads into, and the multibulk/inline
 * state machine of Redis 7.0's processMultibulkBuffer/processInlineBuffer, resumable at
 * any byte. Offsets of the command being parsed are relative to rpos, so moving the
 * buffered bytes (compaction, realloc) never needs fixing up. */
#include <limits.h>
#include <string.h>

#include "resp_internal.h"

#define READ_DEFAULT 16384   /* Redis's PROTO_IOBUF_LEN */
#define ARGV_INITIAL 8

enum { KIND_NONE, KIND_MULTIBULK, KIND_INLINE };

struct resp_parser {
    char *buf;
    size_t cap;
    size_t rpos;         /* first byte not yet returned as part of a command */
    size_t wpos;         /* end of the buffered bytes */
    size_t reserved;     /* room handed out by the last resp_parser_reserve */
    size_t skipped;      /* bytes of empty commands skipped since the last command */

    /* The command being parsed; offsets relative to rpos. */
    int kind;
    int stuck;           /* a NUL hides the end of the current line */
    size_t pos;          /* next byte to parse */
    size_t scan;         /* no line end before this offset (saves rescanning) */
    long long mbl;       /* bulks still to read; -1 before the count line */
    long long bulklen;   /* length of the bulk being read; -1 before its count line */
    int argc, argcap;
    size_t *argoff;      /* argument offsets; argv[i].ptr is set when the command is done */
    resp_arg *argv;

    int err;             /* RESP_EPROTO once the client broke the protocol, else 0 */
    int auth_required;
    const char *errmsg;
    char errbuf[32];
    resp_limits lim;
    resp_allocator a;
};

void resp_limits_default(resp_limits *lim)
{
    lim->max_multibulk = INT_MAX;
    lim->max_bulk = 512LL * 1024 * 1024;
    lim->max_inline = 64 * 1024;
    lim->unauth_max_multibulk = 10;
    lim->unauth_max_bulk = 16384;
}

static int limits_valid(const resp_limits *l)
{
    const long long big = RESP_MAX_BULK;
    return l->max_multibulk >= 0 && l->max_multibulk <= INT_MAX &&
           l->unauth_max_multibulk >= 0 && l->unauth_max_multibulk <= INT_MAX &&
           l->max_bulk >= 0 && l->max_bulk <= big && l->unauth_max_bulk >= 0 &&
           l->unauth_max_bulk <= big && l->max_inline >= 1 && l->max_inline <= (1u << 30);
}

int resp_parser_new(resp_parser **out, const resp_limits *lim, const resp_allocator *a)
{
    resp_allocator al = resp_allocator_or_default(a);
    resp_parser *p;

    *out = NULL;
    if (lim && !limits_valid(lim)) return RESP_EINVAL;
    p = resp_mem_resize(&al, NULL, sizeof *p);
    if (!p) return RESP_ENOMEM;
    memset(p, 0, sizeof *p);
    p->a = al;
    if (lim) p->lim = *lim;
    else resp_limits_default(&p->lim);
    p->mbl = p->bulklen = -1;
    p->errmsg = "";
    p->argoff = resp_mem_resize(&al, NULL, ARGV_INITIAL * sizeof *p->argoff);
    p->argv = resp_mem_resize(&al, NULL, ARGV_INITIAL * sizeof *p->argv);
    if (!p->argoff || !p->argv) {
        resp_parser_free(p);
        return RESP_ENOMEM;
    }
    p->argcap = ARGV_INITIAL;
    *out = p;
    return RESP_OK;
}

void resp_parser_free(resp_parser *p)
{
    if (!p) return;
    resp_mem_free(&p->a, p->buf);
    resp_mem_free(&p->a, p->argoff);
    resp_mem_free(&p->a, p->argv);
    resp_mem_free(&p->a, p);
}

void resp_parser_set_auth_required(resp_parser *p, int required)
{
    p->auth_required = required != 0;
}

void resp_parser_set_max_bulk(resp_parser *p, long long max_bulk)
{
    p->lim.max_bulk = max_bulk < 0 ? 0 : max_bulk > RESP_MAX_BULK ? RESP_MAX_BULK : max_bulk;
}

size_t resp_parser_buffered(const resp_parser *p)
{
    return p->wpos - p->rpos;
}

size_t resp_parser_capacity(const resp_parser *p)
{
    return p->cap;
}

const char *resp_parser_errstr(const resp_parser *p)
{
    return p->errmsg;
}

/* ---- the input buffer ---------------------------------------------------------------- */

static int set_capacity(resp_parser *p, size_t cap)
{
    char *nb = resp_mem_resize(&p->a, p->buf, cap);
    if (!nb) return RESP_ENOMEM;
    p->buf = nb;
    p->cap = cap;
    return RESP_OK;
}

/* Moves the unreturned bytes to the front. */
static void compact(resp_parser *p)
{
    size_t live = p->wpos - p->rpos;
    if (p->rpos == 0) return;
    if (live) memmove(p->buf, p->buf + p->rpos, live);
    p->rpos = 0;
    p->wpos = live;
}

/* Bytes the bulk being read still needs beyond what is buffered, or 0. */
static size_t bulk_missing(const resp_parser *p)
{
    size_t have = p->wpos - p->rpos, end;
    if (p->kind != KIND_MULTIBULK || p->bulklen < 0) return 0;
    end = p->pos + (size_t)p->bulklen + 2;
    return end > have ? end - have : 0;
}

int resp_parser_reserve(resp_parser *p, size_t want, void **ptr, size_t *len)
{
    size_t missing = bulk_missing(p);
    int exact = 0;

    if (p->err) return p->err;
    if (want == 0) want = READ_DEFAULT;
    if (missing > want) {
        /* Towards the bulk's end, but never more than doubling on a client's word. */
        size_t step = p->cap > READ_DEFAULT ? p->cap : READ_DEFAULT;
        if (step > missing) step = missing;
        if (step > want) want = step, exact = 1;
    }
    if (p->rpos == p->wpos) p->rpos = p->wpos = 0;
    if (p->cap - p->wpos < want) compact(p);
    if (p->cap - p->wpos < want) {
        size_t cap = p->wpos + want;
        if (!exact && cap < 2 * p->cap) cap = 2 * p->cap;
        if (set_capacity(p, cap)) return RESP_ENOMEM;
    }
    p->reserved = p->cap - p->wpos;
    *ptr = p->buf + p->wpos;
    *len = p->reserved;
    return RESP_OK;
}

int resp_parser_commit(resp_parser *p, size_t n)
{
    if (n > p->reserved) return RESP_EINVAL;
    p->wpos += n;
    p->reserved -= n;
    return RESP_OK;
}

int resp_parser_feed(resp_parser *p, const void *data, size_t len)
{
    void *dst;
    size_t room;
    int rc;

    if (len == 0) return p->err;
    rc = resp_parser_reserve(p, len, &dst, &room); /* room >= len */
    if (rc) return rc;
    memcpy(dst, data, len);
    return resp_parser_commit(p, len);
}

int resp_parser_trim(resp_parser *p)
{
    size_t live = p->wpos - p->rpos;
    size_t cap = live > READ_DEFAULT ? live : READ_DEFAULT;
    if (p->cap <= cap) return RESP_OK;
    compact(p);
    if (set_capacity(p, cap)) return RESP_ENOMEM;
    p->reserved = 0;
    return RESP_OK;
}

/* ---- parsing ------------------------------------------------------------------------- */

static int proto_error(resp_parser *p, const char *msg)
{
    p->err = RESP_EPROTO;
    p->errmsg = msg;
    return RESP_EPROTO;
}

/* Redis's string2ll: optional '-', no leading zero, no "-0", fewer than 21 bytes. */
static int str2ll(const char *s, size_t len, long long *out)
{
    unsigned long long v = 0;
    size_t i = 0;
    int neg = 0;

    if (len == 0 || len >= 21) return 0;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] == '-') {
        neg = 1;
        if (++i == len) return 0;
    }
    if (s[i] < '1' || s[i] > '9') return 0;
    for (; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9) return 0;
        if (v > (~0ULL - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return 0;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX) return 0;
        *out = (long long)v;
    }
    return 1;
}

/* Finds the end of the line at offset start the way Redis's strchr(term) does: the first
 * term or NUL byte, looking at no more than max_inline + 1 bytes. Returns 1 with *eol the
 * offset of term, 0 when more bytes are needed, -1 when the line is too long (no term in
 * the window, or hidden by a NUL while more than max_inline bytes are buffered). */
static int find_eol(resp_parser *p, size_t start, char term, size_t *eol)
{
    const char *s = p->buf + p->rpos;
    size_t avail = p->wpos - p->rpos - start;
    size_t lim = p->lim.max_inline;

    if (!p->stuck) {
        size_t from = p->scan > start ? p->scan : start;
        size_t end = start + (avail > lim ? lim + 1 : avail);
        size_t i;
        for (i = from; i < end; i++) {
            if (s[i] == term) {
                p->scan = i;
                *eol = i;
                return 1;
            }
            if (s[i] == '\0') break;
        }
        if (i < end) p->stuck = 1;
        else p->scan = end;
    }
    return avail > lim ? -1 : 0;
}

/* Room for at least need arguments; doubling, but never past hint (the claimed total). */
static int grow_argv(resp_parser *p, long long need, long long hint)
{
    long long want = (long long)p->argcap * 2;
    size_t *no;
    resp_arg *nv;

    if (need <= p->argcap) return RESP_OK;
    if (want > hint) want = hint;
    if (want < need) want = need;
    no = resp_mem_resize(&p->a, p->argoff, (size_t)want * sizeof *no);
    if (!no) return RESP_ENOMEM;
    p->argoff = no;
    nv = resp_mem_resize(&p->a, p->argv, (size_t)want * sizeof *nv);
    if (!nv) return RESP_ENOMEM;
    p->argv = nv;
    p->argcap = (int)want;
    return RESP_OK;
}

static int expected_dollar(resp_parser *p, char got)
{
    static const char head[] = "expected '$', got '";
    memcpy(p->errbuf, head, sizeof head - 1);
    p->errbuf[sizeof head - 1] = got == '\r' || got == '\n' ? ' ' : got;
    p->errbuf[sizeof head] = '\'';
    p->errbuf[sizeof head + 1] = '\0';
    return proto_error(p, p->errbuf);
}

/* Returns RESP_OK when the command is complete (argc may be 0: "*0", "*-1"). */
static int parse_multibulk(resp_parser *p)
{
    const char *s = p->buf + p->rpos;
    size_t avail = p->wpos - p->rpos, eol;
    long long ll;
    int rc;

    if (p->mbl < 0) {
        rc = find_eol(p, 0, '\r', &eol);
        if (rc < 0) return proto_error(p, "too big mbulk count string");
        if (rc == 0 || eol + 2 > avail) return RESP_AGAIN;
        if (!str2ll(s + 1, eol - 1, &ll) || ll > p->lim.max_multibulk)
            return proto_error(p, "invalid multibulk length");
        if (p->auth_required && ll > p->lim.unauth_max_multibulk)
            return proto_error(p, "unauthenticated multibulk length");
        p->pos = eol + 2;
        p->mbl = ll > 0 ? ll : 0;
    }
    while (p->mbl > 0) {
        if (p->bulklen < 0) {
            rc = find_eol(p, p->pos, '\r', &eol);
            if (rc < 0) return proto_error(p, "too big bulk count string");
            if (rc == 0 || eol + 2 > avail) return RESP_AGAIN;
            if (s[p->pos] != '$') return expected_dollar(p, s[p->pos]);
            if (!str2ll(s + p->pos + 1, eol - p->pos - 1, &ll) || ll < 0 ||
                ll > p->lim.max_bulk)
                return proto_error(p, "invalid bulk length");
            if (p->auth_required && ll > p->lim.unauth_max_bulk)
                return proto_error(p, "unauthenticated bulk length");
            p->pos = eol + 2;
            p->bulklen = ll;
        }
        if (avail - p->pos < (size_t)p->bulklen + 2) return RESP_AGAIN;
        if (grow_argv(p, p->argc + 1LL, p->argc + p->mbl)) return RESP_ENOMEM;
        p->argoff[p->argc] = p->pos;
        p->argv[p->argc].len = (size_t)p->bulklen;
        p->argc++;
        p->pos += (size_t)p->bulklen + 2;
        p->bulklen = -1;
        p->mbl--;
    }
    return RESP_OK;
}

static int parse_inline(resp_parser *p)
{
    char *s = p->buf + p->rpos;
    size_t eol, len;
    long argc, i;
    int rc = find_eol(p, 0, '\n', &eol);

    if (rc < 0) return proto_error(p, "too big inline request");
    if (rc == 0) return RESP_AGAIN;
    len = eol > 0 && s[eol - 1] == '\r' ? eol - 1 : eol;
    /* Count first: the split rewrites the line in place, so it must not fail halfway. */
    argc = resp_splitargs(s, len, NULL);
    if (argc < 0) return proto_error(p, "unbalanced quotes in request");
    if (grow_argv(p, argc, argc)) return RESP_ENOMEM;
    resp_splitargs(s, len, p->argv);
    for (i = 0; i < argc; i++) p->argoff[i] = (size_t)(p->argv[i].ptr - s);
    p->argc = (int)argc;
    p->pos = eol + 1;
    return RESP_OK;
}

static void command_done(resp_parser *p)
{
    p->rpos += p->pos;
    p->skipped += p->pos;
    p->kind = KIND_NONE;
    p->stuck = 0;
    p->pos = p->scan = 0;
    p->mbl = p->bulklen = -1;
    p->argc = 0;
}

int resp_parser_next(resp_parser *p, resp_cmd *cmd)
{
    for (;;) {
        const char *base;
        int rc, argc, i;

        if (p->err) return p->err;
        if (p->rpos == p->wpos) return RESP_AGAIN;
        base = p->buf + p->rpos;
        if (p->kind == KIND_NONE) p->kind = *base == '*' ? KIND_MULTIBULK : KIND_INLINE;
        rc = p->kind == KIND_MULTIBULK ? parse_multibulk(p) : parse_inline(p);
        if (rc) return rc;
        argc = p->argc;
        command_done(p);
        if (argc == 0) continue;
        for (i = 0; i < argc; i++) p->argv[i].ptr = base + p->argoff[i];
        cmd->argc = argc;
        cmd->argv = p->argv;
        cmd->wire_len = p->skipped;
        p->skipped = 0;
        return RESP_OK;
    }
}
