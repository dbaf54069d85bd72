/* cmd_sort.c — SORT and SORT_RO, Redis's sort.c: a list's, set's or sorted set's elements
 * sorted as numbers or (ALPHA) as strings, by themselves or by weights read from other
 * keys (BY pattern), then LIMIT, GET patterns, and STORE into a list.
 *
 * As in Redis, the elements are gathered in memory and sorted there: SORT is O(n log n)
 * in time and O(n) in memory for a collection of n elements. The one exception is a list
 * or sorted set that is not sorted (BY with a pattern without '*'): then only the LIMIT
 * range is kept. Ties: numbers compare equal elements by their bytes (deterministic, as
 * in Redis); ALPHA BY weights that are equal keep an unspecified order (Redis's too).
 * Without STORE, ALPHA compares as strcoll does in the C locale (the bytes up to a NUL);
 * with STORE, the whole bytes. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bulk.h"
#include "cmd.h"
#include "coll_fmt.h"
#include "db.h"
#include "encoding.h"
#include "util.h"

typedef struct sort_elem {
    char *p;            /* the element, NUL-terminated (len bytes before it) */
    size_t len;
    double score;       /* its weight when sorting numbers */
    char *cmp;          /* ALPHA BY: the weight read through the pattern (NULL: none) */
    size_t cmplen;
} sort_elem;

typedef struct sort_opts {
    int desc, alpha, by_pattern, store;
} sort_opts;

static char *dup_bytes(const void *p, size_t len)
{
    char *d = srv_xmalloc(len + 1);
    memcpy(d, p, len);
    d[len] = '\0';
    return d;
}

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int d = memcmp(a, b, al < bl ? al : bl);
    return d ? d : (al > bl) - (al < bl);
}

static int elem_cmp(const void *va, const void *vb, void *arg)
{
    const sort_elem *a = va, *b = vb;
    const sort_opts *o = arg;
    int cmp;
    if (!o->alpha) {
        cmp = a->score > b->score ? 1 : a->score < b->score ? -1 : 0;
        if (!cmp) /* equal weights: by the elements' bytes, so that the order is fixed */
            cmp = bytes_cmp(a->p, a->len, b->p, b->len);
    } else if (o->by_pattern) {
        if (!a->cmp || !b->cmp)
            cmp = a->cmp == b->cmp ? 0 : !a->cmp ? -1 : 1;
        else
            cmp = o->store ? bytes_cmp(a->cmp, a->cmplen, b->cmp, b->cmplen)
                           : strcmp(a->cmp, b->cmp);
    } else {
        cmp = o->store ? bytes_cmp(a->p, a->len, b->p, b->len) : strcmp(a->p, b->p);
    }
    return o->desc ? -cmp : cmp;
}

/* Redis's lookupKeyByPattern: "#" is the element itself; else the first '*' of pattern
 * becomes the element, and "->field" after it reads a hash's field. The value (a copy,
 * the caller frees it) or NULL: no '*', no such key, or a key of another type. */
static char *by_pattern(cmd_ctx *x, const resp_arg *pat, const sort_elem *e, size_t *len)
{
    if (pat->len == 1 && pat->ptr[0] == '#') {
        *len = e->len;
        return dup_bytes(e->p, e->len);
    }
    const char *star = memchr(pat->ptr, '*', pat->len);
    if (!star)
        return NULL;
    const char *end = pat->ptr + pat->len, *field = NULL;
    for (const char *f = star + 1; f + 2 < end; f++) /* "->" with a field after it */
        if (f[0] == '-' && f[1] == '>') {
            field = f + 2;
            break;
        }
    size_t pre = (size_t)(star - pat->ptr), post = (size_t)((field ? field - 2 : end) - star - 1);
    char *name = srv_xmalloc(pre + e->len + post + 1);
    memcpy(name, pat->ptr, pre);
    memcpy(name + pre, e->p, e->len);
    memcpy(name + pre + e->len, star + 1, post);
    resp_arg key = {name, pre + e->len + post};
    ox_val v;
    char *out = NULL;
    if (!field) {
        if (db_get_string(x, &key, &v) == OX_OK)
            out = dup_bytes(v.data, *len = v.len);
    } else {
        db_coll h;
        if (db_coll_get(x, &key, DB_HASH, &h) == OX_OK &&
            enc_field_get(x, &h, field, (size_t)(end - field), &v) == OX_OK)
            out = dup_bytes(v.data, *len = v.len);
    }
    free(name);
    return out;
}

/* The elements of c into *out (*n of them): all, or only the range [start, end] of a
 * list or sorted set's own order (desc: from its end). OX_OK or the store's error. */
static int load(cmd_ctx *x, const db_coll *c, int range, long long start, long long end,
                int desc, sort_elem **out, size_t *n)
{
    int sub = c->type == DB_LIST ? COLL_SUB_LIST : c->type == DB_ZSET ? COLL_SUB_SCORE
                                                                      : COLL_SUB_FIELD;
    size_t skip = COLL_KEY_PREFIX + (c->type == DB_ZSET ? 8 : 0);
    sort_elem *v = srv_xcalloc(c->count ? c->count : 1, sizeof *v);
    size_t got = 0;
    db_walk *w = NULL; /* a sorted set's order: by bytes within a score (BULK_EXACT) */
    int rc = db_member_walk(x, c, sub, c->type == DB_ZSET ? BULK_EXACT : 0, &w);
    ox_val k, val;
    while (rc == OX_OK && got < c->count && (rc = bulk_walk_next(w, &k, &val)) == OX_OK) {
        if (c->type == DB_LIST)
            v[got].p = dup_bytes(val.data, v[got].len = val.len);
        else if (k.len >= skip)
            v[got].p = dup_bytes((const char *)k.data + skip, v[got].len = k.len - skip);
        else
            rc = OX_ECORRUPT;
        got += rc == OX_OK;
    }
    bulk_walk_close(w);
    if (rc == OX_NOTFOUND)
        rc = OX_OK;
    if (range && rc == OX_OK) { /* only [start, end] of the order, desc from its end */
        size_t keep = end >= start && (size_t)start < got ? (size_t)(end - start + 1) : 0;
        sort_elem *r = srv_xcalloc(keep ? keep : 1, sizeof *r);
        for (size_t i = 0; i < keep; i++) {
            size_t at = desc ? got - 1 - ((size_t)start + i) : (size_t)start + i;
            r[i] = v[at];
            v[at].p = NULL;
        }
        for (size_t i = 0; i < got; i++)
            free(v[i].p);
        free(v);
        v = r;
        got = keep;
    }
    *out = v;
    *n = got;
    return rc;
}

static int elem_int_cmp(const void *a, const void *b)
{
    const sort_elem *x = a, *y = b;
    long long i = 0, j = 0;
    enc_is_int(x->p, x->len, &i);
    enc_is_int(y->p, y->len, &j);
    return (i > j) - (i < j);
}

/* A set's elements unsorted (BY nosort) in Redis's order: an intset's, numeric, when they
 * are all integers and few enough for one (encoding.h); else as loaded. */
static void set_order(sort_elem *v, size_t n)
{
    long long i;
    if (n > ENC_SET_MAX_INTSET)
        return;
    for (size_t j = 0; j < n; j++)
        if (!enc_is_int(v[j].p, v[j].len, &i))
            return;
    if (n)
        qsort(v, n, sizeof *v, elem_int_cmp);
}

static void free_elems(sort_elem *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].p);
        free(v[i].cmp);
    }
    free(v);
}

/* The weights of v's elements (BY argv[by], or themselves; by 0: none): 1, or 0 if one
 * is not a number when sorting numbers (Redis still weighs them all first). */
static int weigh(cmd_ctx *x, sort_elem *v, size_t n, int by, int alpha)
{
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        size_t len = v[i].len;
        char *w = by ? by_pattern(x, &x->argv[by], &v[i], &len) : v[i].p;
        if (!w)
            continue; /* no weight: 0, or first among strings */
        if (alpha) {
            if (by) {
                v[i].cmp = w;
                v[i].cmplen = len;
            }
            continue;
        }
        char *eptr;
        errno = 0;
        v[i].score = strtod(w, &eptr);
        if (eptr[0] != '\0' || errno == ERANGE || isnan(v[i].score))
            ok = 0;
        if (by)
            free(w);
    }
    return ok;
}

static void sort_generic(cmd_ctx *x, int readonly)
{
    int by = 0, store = 0, dontsort = 0, ngets = 0;
    sort_opts o = {0};
    long long lstart = 0, lcount = -1;
    int *gets = srv_xcalloc((size_t)x->argc, sizeof *gets);
    for (int j = 2; j < x->argc; j++) {
        const resp_arg *a = &x->argv[j];
        int left = x->argc - j - 1;
        if (cmd_is(a, "asc")) {
            o.desc = 0;
        } else if (cmd_is(a, "desc")) {
            o.desc = 1;
        } else if (cmd_is(a, "alpha")) {
            o.alpha = 1;
        } else if (cmd_is(a, "limit") && left >= 2) {
            if (cmd_ll_or_reply(x, &x->argv[j + 1], &lstart) ||
                cmd_ll_or_reply(x, &x->argv[j + 2], &lcount)) {
                free(gets);
                return;
            }
            j += 2;
        } else if (!readonly && cmd_is(a, "store") && left >= 1) {
            store = ++j;
        } else if (cmd_is(a, "by") && left >= 1) {
            by = ++j;
            /* a pattern without '*' turns sorting off for good, as in Redis, whatever BY
             * comes after it (the last BY is still the pattern) */
            dontsort |= !memchr(x->argv[j].ptr, '*', x->argv[j].len);
        } else if (cmd_is(a, "get") && left >= 1) {
            gets[ngets++] = ++j;
        } else {
            cmd_syntax_error(x);
            free(gets);
            return;
        }
    }
    int type = db_type_or_reply(x, &x->argv[1]);
    if (type == -2 || (type >= 0 && type != DB_LIST && type != DB_SET && type != DB_ZSET)) {
        if (type != -2)
            cmd_err(x, DB_WRONGTYPE_MSG);
        free(gets);
        return;
    }
    db_coll c = {0};
    if (type >= 0 && db_coll_get_or_reply(x, &x->argv[1], type, &c) < 0) {
        free(gets);
        return;
    }
    /* a stored result, or a script's, does not depend on a set's order (Redis) */
    if (dontsort && type == DB_SET && (store || x->in_script)) {
        dontsort = 0;
        o.alpha = 1;
        by = 0;
    }
    long long len = (long long)c.count;
    long long start = lstart < 0 ? 0 : lstart;
    /* as Redis, without its overflow: a count past the end or a start past it ends there */
    long long end = lcount < 0 || lcount > len || start >= len ? len - 1 : start + lcount - 1;
    if (start >= len) {
        start = len - 1;
        end = len - 2;
    }
    if (end >= len)
        end = len - 1;
    uint64_t most = end >= start ? (uint64_t)(end - start + 1) * (uint64_t)(ngets ? ngets : 1) : 0;
    if (store && !bulk_begin(x, most)) { /* before loading: nothing done twice */
        free(gets);
        return; /* nothing written or replied: it runs again first in a part (bulk.h) */
    }
    sort_elem *v = NULL;
    size_t n = 0;
    int range = dontsort && (type == DB_LIST || type == DB_ZSET) && end >= start;
    int rc = c.exists ? load(x, &c, range, start, end, o.desc, &v, &n) : OX_OK;
    if (rc != OX_OK) {
        free_elems(v, n);
        free(gets);
        cmd_store_error(x, rc);
        return;
    }
    if (dontsort && type == DB_SET)
        set_order(v, n);
    if (range) { /* what load kept is the range */
        end -= start;
        start = 0;
    }
    int ok = 1;
    if (!dontsort) {
        o.by_pattern = by != 0;
        o.store = store != 0;
        ok = weigh(x, v, n, by, o.alpha);
        if (n)
            qsort_r(v, n, sizeof *v, elem_cmp, &o);
    }
    long long outlen = (ngets ? ngets : 1) * (end - start + 1);
    if (!ok) {
        cmd_err(x, "-ERR One or more scores can't be converted into double");
    } else if (!store) {
        resp_write_array(x->out, (size_t)outlen);
        for (long long j = start; j <= end; j++) {
            if (!ngets)
                resp_write_bulk(x->out, v[j].p, v[j].len);
            for (int g = 0; g < ngets; g++) {
                size_t vlen;
                char *val = by_pattern(x, &x->argv[gets[g]], &v[j], &vlen);
                if (val)
                    resp_write_bulk(x->out, val, vlen);
                else
                    resp_write_null(x->out);
                free(val);
            }
        }
    } else {
        db_coll dst = {.type = DB_LIST, .members = db_members_of(x->table)};
        rc = db_coll_fresh(x, &dst);
        unsigned char pos[8];
        for (long long j = start; rc == OX_OK && j <= end; j++)
            for (int g = 0; rc == OX_OK && g < (ngets ? ngets : 1); g++) {
                size_t vlen = v[j].len;
                char *val = ngets ? by_pattern(x, &x->argv[gets[g]], &v[j], &vlen) : NULL;
                coll_pos_put(pos, (int64_t)dst.count);
                rc = db_member_put(x, &dst, COLL_SUB_LIST, pos, sizeof pos,
                                   ngets ? (val ? val : "") : v[j].p, ngets && !val ? 0 : vlen,
                                   NULL);
                dst.count += rc == OX_OK;
                free(val);
                if (rc == OX_OK)
                    rc = bulk_step(x);
            }
        if (rc == OX_OK)
            rc = db_coll_replace(x, &x->argv[store], &dst);
        if (rc == OX_OK && dst.count)
            cmd_notify(x, CONF_NOTIFY_LIST, "sortstore", &x->argv[store]);
        if (rc == OX_OK)
            resp_write_int(x->out, outlen);
        else
            cmd_store_error(x, rc);
    }
    free_elems(v, n);
    free(gets);
}

void cmd_sort(cmd_ctx *x)
{
    sort_generic(x, 0);
}

void cmd_sort_ro(cmd_ctx *x)
{
    sort_generic(x, 1);
}
