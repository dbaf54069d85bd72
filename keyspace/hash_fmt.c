/* hash_fmt.c — a hash's fields and their order in the stored format (hash_fmt.h). */
#include "hash_fmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bytes k (1 .. 8) that number n takes. */
static unsigned num_bytes(uint64_t n)
{
    unsigned k = 1;
    while (k < 8 && n >> (8 * k))
        k++;
    return k;
}

int hfmt_split(const void *rec, size_t len, uint64_t order, ox_val *value, uint64_t *n)
{
    const unsigned char *p = rec;
    *n = 0;
    *value = (ox_val){rec, len};
    if (!order)
        return 1;
    unsigned k = len ? p[len - 1] : 0;
    if (k < 1 || k > 8 || len < k + 1)
        return 0;
    for (unsigned i = 0; i < k; i++)
        *n = *n << 8 | p[len - 1 - k + i];
    value->len = len - 1 - k;
    return 1;
}

int hfmt_set(ox_txn *txn, hfmt_hash *h, const void *f, size_t flen, const void *v,
             size_t vlen, int *added)
{
    int rc = OX_OK;
    *added = 0;
    if (h->order && (flen > HFMT_LISTPACK_VALUE || vlen > HFMT_LISTPACK_VALUE))
        rc = hfmt_convert(txn, h); /* before the write, as Redis does */
    coll_mkey k;
    if (rc != OX_OK || (rc = coll_mkey_make(&k, h->id, COLL_SUB_FIELD, f, flen)) != OX_OK)
        return rc;
    ox_val old;
    if (!h->order) {
        rc = ox_txn_contains(txn, h->members, k.p, k.len);
        *added = rc == OX_NOTFOUND;
        if (rc == OX_OK || rc == OX_NOTFOUND)
            rc = ox_txn_put(txn, h->members, k.p, k.len, v, vlen, 0, 0);
    } else if ((rc = ox_txn_get(txn, h->members, k.p, k.len, &old)) == OX_OK ||
               rc == OX_NOTFOUND) {
        uint64_t n = h->order; /* a new field's; else the field keeps its own */
        ox_val was;
        *added = rc == OX_NOTFOUND;
        rc = *added || hfmt_split(old.data, old.len, h->order, &was, &n) ? OX_OK : OX_ECORRUPT;
        unsigned char rec[HFMT_LISTPACK_VALUE + HFMT_SUFFIX_MAX];
        unsigned nb = num_bytes(n);
        memcpy(rec, v, vlen);
        for (unsigned i = 0; i < nb; i++)
            rec[vlen + i] = (unsigned char)(n >> (8 * (nb - 1 - i)));
        rec[vlen + nb] = (unsigned char)nb;
        if (rc == OX_OK)
            rc = ox_txn_put(txn, h->members, k.p, k.len, rec, vlen + nb + 1, 0, 0);
        h->order += rc == OX_OK && *added;
    }
    coll_mkey_done(&k);
    h->count += rc == OX_OK && *added;
    if (rc == OX_OK && h->order && h->count > HFMT_LISTPACK_ENTRIES)
        rc = hfmt_convert(txn, h); /* after the write, as Redis does */
    return rc;
}

/* The listpack h's fields into fs (hfmt_fields_read), read in txn or else on snap. */
static int fields_of(ox_txn *txn, ox_snapshot *snap, const hfmt_hash *h, hfmt_fields *fs)
{
    unsigned char p[COLL_KEY_PREFIX];
    ox_val prefix = {p, coll_member_key(p, h->id, COLL_SUB_FIELD, NULL, 0)};
    ox_iter *it;
    hfmt_fields_init(fs, h->count);
    int rc = txn ? ox_txn_prefix(txn, h->members, &prefix, 0, &it)
                 : ox_snapshot_prefix(snap, h->members, &prefix, 0, &it);
    if (rc == OX_OK) {
        rc = hfmt_fields_read(fs, h->order, it);
        ox_iter_close(it);
    }
    return rc;
}

int hfmt_convert(ox_txn *txn, hfmt_hash *h)
{
    hfmt_fields fs;
    int rc = fields_of(txn, NULL, h, &fs);
    /* gathered, then written: an iterator does not outlive a write in its transaction */
    for (size_t i = 0; rc == OX_OK && i < fs.n; i++) {
        coll_mkey fk;
        const hfmt_field *f = &fs.f[i];
        if ((rc = coll_mkey_make(&fk, h->id, COLL_SUB_FIELD, f->name.data, f->name.len)) ==
            OX_OK) {
            rc = ox_txn_put(txn, h->members, fk.p, fk.len, f->value.data, f->value.len, 0, 0);
            coll_mkey_done(&fk);
        }
    }
    hfmt_fields_free(&fs);
    if (rc == OX_OK)
        h->order = 0;
    return rc;
}

void hfmt_fields_init(hfmt_fields *fs, uint64_t count)
{
    /* one more than a listpack holds: the field whose write converts it */
    *fs = (hfmt_fields){NULL, 0, count <= HFMT_LISTPACK_ENTRIES ? (size_t)count
                                                                 : HFMT_LISTPACK_ENTRIES + 1,
                        NULL};
}

/* Room for a name and a value in a field's slot of buf. */
#define SLOT (2 * HFMT_LISTPACK_VALUE)

/* One record of the walk into fs: OX_OK, OX_ECORRUPT or OX_ENOMEM. */
static int fields_add(hfmt_fields *fs, uint64_t order, const ox_val *key, const ox_val *rec)
{
    ox_val v;
    uint64_t n;
    if (fs->n >= fs->cap || key->len < COLL_KEY_PREFIX ||
        key->len - COLL_KEY_PREFIX > HFMT_LISTPACK_VALUE ||
        !hfmt_split(rec->data, rec->len, order, &v, &n) || v.len > HFMT_LISTPACK_VALUE)
        return OX_ECORRUPT;
    if (!fs->f) {
        fs->f = malloc(fs->cap * sizeof *fs->f);
        fs->buf = malloc(fs->cap * SLOT);
        if (!fs->f || !fs->buf)
            return OX_ENOMEM;
    }
    unsigned char *slot = fs->buf + fs->n * SLOT;
    size_t nlen = key->len - COLL_KEY_PREFIX;
    memcpy(slot, (const char *)key->data + COLL_KEY_PREFIX, nlen);
    memcpy(slot + HFMT_LISTPACK_VALUE, v.data, v.len);
    fs->f[fs->n++] = (hfmt_field){n, {slot, nlen}, {slot + HFMT_LISTPACK_VALUE, v.len}};
    return OX_OK;
}

static int by_number(const void *a, const void *b)
{
    uint64_t x = ((const hfmt_field *)a)->n, y = ((const hfmt_field *)b)->n;
    return (x > y) - (x < y);
}

/* hfmt_fields_sort by placing each field at its number's slot: 1, or 0 if the numbers
 * are too spread out (more than 4 slots a field) or one is taken twice. */
static int sort_dense(hfmt_fields *fs)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < fs->n; i++) {
        lo = fs->f[i].n < lo ? fs->f[i].n : lo;
        hi = fs->f[i].n > hi ? fs->f[i].n : hi;
    }
    if (hi - lo >= 4 * (uint64_t)fs->n)
        return 0;
    size_t span = (size_t)(hi - lo) + 1;
    int32_t *slot = malloc(span * sizeof *slot);
    hfmt_field *to = malloc(fs->n * sizeof *to);
    int ok = slot && to;
    for (size_t i = 0; ok && i < span; i++)
        slot[i] = -1;
    for (size_t i = 0; ok && i < fs->n; i++) {
        int32_t *s = &slot[fs->f[i].n - lo];
        ok = *s < 0;
        *s = (int32_t)i;
    }
    for (size_t i = 0, j = 0; ok && i < span; i++)
        if (slot[i] >= 0)
            to[j++] = fs->f[slot[i]];
    if (ok) {
        free(fs->f);
        fs->f = to;
        to = NULL;
    }
    free(slot);
    free(to);
    return ok;
}

static void fields_sort(hfmt_fields *fs)
{
    if (fs->n > 1 && !sort_dense(fs))
        qsort(fs->f, fs->n, sizeof *fs->f, by_number);
}

int hfmt_fields_read(hfmt_fields *fs, uint64_t order, ox_iter *it)
{
    ox_val k, v;
    int rc;
    while ((rc = ox_iter_next(it, &k, &v)) == OX_OK &&
           (rc = fields_add(fs, order, &k, &v)) == OX_OK)
        ;
    fields_sort(fs);
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

void hfmt_fields_free(hfmt_fields *fs)
{
    free(fs->f);
    free(fs->buf);
    *fs = (hfmt_fields){0};
}

int hfmt_verify(ox_snapshot *snap, const hfmt_hash *h, char *why, size_t cap)
{
    if (!h->order)
        return OX_OK;
    if (h->count > HFMT_LISTPACK_ENTRIES) {
        snprintf(why, cap, "a listpack of %" PRIu64 " fields", h->count);
        return OX_ECORRUPT;
    }
    hfmt_fields fs;
    int rc = fields_of(NULL, snap, h, &fs);
    if (rc == OX_ECORRUPT)
        snprintf(why, cap, "field %zu (in name order) is not a listpack's: no number, or too "
                 "long", fs.n + 1);
    for (size_t i = 0; rc == OX_OK && i < fs.n; i++) {
        if (!fs.f[i].n || fs.f[i].n >= h->order || (i && fs.f[i].n == fs.f[i - 1].n)) {
            snprintf(why, cap, "field number %" PRIu64 " is %s", fs.f[i].n,
                     fs.f[i].n && fs.f[i].n < h->order ? "taken twice"
                                                       : "not below the next number");
            rc = OX_ECORRUPT;
        }
    }
    hfmt_fields_free(&fs);
    return rc;
}
