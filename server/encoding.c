/* encoding.c — Redis 7.0's compact encodings as replies show them (encoding.h). */
#include "encoding.h"

#include <stdlib.h>

#include "num.h"
#include "util.h"

int enc_is_int(const void *m, size_t len, long long *v)
{
    return num_str2ll(m, len, v);
}

int enc_compact(cmd_ctx *x, const db_coll *c)
{
    int set = c->type == DB_SET;
    if (c->type == DB_HASH)
        return c->order != 0;
    if ((c->type != DB_SET && c->type != DB_ZSET) || c->converted)
        return 0;
    if (c->count > (set ? ENC_SET_MAX_INTSET : ENC_ZSET_LISTPACK_MAX))
        return 0;
    ox_iter *it = NULL;
    ox_val k, v;
    long long n;
    int rc = db_member_iter(x, c, DB_SUB_FIELD, NULL, &it), all = 1;
    while (rc == OX_OK && all && (rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        const char *name = (const char *)k.data + COLL_KEY_PREFIX;
        size_t len = k.len - COLL_KEY_PREFIX;
        all = set ? enc_is_int(name, len, &n) : len <= ENC_LISTPACK_VALUE;
    }
    ox_iter_close(it); /* NULL if it never opened */
    return all && (rc == OX_OK || rc == OX_NOTFOUND);
}

void enc_ints_init(enc_ints *o, size_t expect)
{
    o->v = NULL;
    o->n = 0;
    o->passing = expect > ENC_SET_MAX_INTSET;
}

void enc_ints_put(enc_ints *o, resp_buf *out, const void *m, size_t len)
{
    long long v;
    if (!o->passing && o->n < ENC_SET_MAX_INTSET && enc_is_int(m, len, &v)) {
        if (!o->v)
            o->v = srv_xmalloc(ENC_SET_MAX_INTSET * sizeof *o->v);
        o->v[o->n++] = v;
        return;
    }
    if (!o->passing) { /* not an intset: what was held goes first, as it came */
        for (size_t i = 0; i < o->n; i++)
            resp_write_bulk_ll(out, o->v[i]);
        o->passing = 1;
    }
    resp_write_bulk(out, m, len);
}

static int ll_cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

void enc_ints_end(enc_ints *o, resp_buf *out)
{
    if (!o->passing) {
        if (o->n)
            qsort(o->v, o->n, sizeof *o->v, ll_cmp);
        for (size_t i = 0; i < o->n; i++)
            resp_write_bulk_ll(out, o->v[i]);
    }
    free(o->v);
    o->v = NULL;
    o->n = 0;
}

int enc_field_get(cmd_ctx *x, const db_coll *c, const void *name, size_t len, ox_val *val)
{
    uint64_t n;
    int rc = db_member_get(x, c, DB_SUB_FIELD, name, len, val);
    if (rc == OX_OK && !hfmt_split(val->data, val->len, c->order, val, &n))
        rc = OX_ECORRUPT;
    return rc;
}

int enc_fields_open(cmd_ctx *x, const db_coll *c, enc_fields *f)
{
    *f = (enc_fields){.x = x, .c = c};
    hfmt_fields_init(&f->held, c->count);
    if (!c->exists)
        return OX_OK;
    int rc = db_member_iter(x, c, DB_SUB_FIELD, NULL, &f->it);
    if (rc != OX_OK || !c->order)
        return rc;
    rc = hfmt_fields_read(&f->held, c->order, f->it);
    ox_iter_close(f->it);
    f->it = NULL;
    if (rc != OX_OK)
        enc_fields_close(f);
    return rc;
}

int enc_fields_next(enc_fields *f, ox_val *name, ox_val *val)
{
    if (f->c->order) {
        if (f->next >= f->held.n)
            return OX_NOTFOUND;
        *name = f->held.f[f->next].name;
        *val = f->held.f[f->next++].value;
        return OX_OK;
    }
    ox_val k;
    int rc = f->it ? ox_iter_next(f->it, &k, val) : OX_NOTFOUND;
    if (rc == OX_OK)
        *name = (ox_val){(const char *)k.data + COLL_KEY_PREFIX, k.len - COLL_KEY_PREFIX};
    return rc;
}

void enc_fields_close(enc_fields *f)
{
    ox_iter_close(f->it); /* NULL if it never opened */
    f->it = NULL;
    hfmt_fields_free(&f->held);
}
