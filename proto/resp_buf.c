/* The output buffer: copied bytes in one growable array, referenced values interleaved
 * as (position, pointer) pairs, sent with writev and consumed from the front.
 *
 * Positions of deferred lengths are logical (bytes ever dropped from the front + offset),
 * so compacting the array while one is open does not move them. Nothing is consumed
 * while one is open (resp_buf_iov exposes nothing), so they never point at sent bytes.
 * Open ones form a stack linked through the callers' resp_deferred (id, prev): filling
 * the innermost first is what keeps every other open position right, without a list. */
#include <string.h>

#include "resp_internal.h"

typedef struct resp_ref {
    size_t at;                /* offset in data the referenced bytes are sent before */
    const char *ptr;
    size_t len;
    resp_release_fn release;
    void *opaque;
} resp_ref;

struct resp_buf {
    char *data;
    size_t cap, head, len;    /* data[head..len) pending */
    resp_ref *refs;
    size_t rcap, rhead, nrefs; /* refs[rhead..nrefs) pending */
    size_t rsent;             /* bytes of refs[rhead] already consumed */
    size_t ref_pending;       /* bytes of pending references */
    size_t dropped, rdropped; /* bytes / refs removed from the fronts by compaction */
    int proto;
    unsigned long top;        /* id of the innermost open deferred length, 0 if none */
    unsigned long seq;        /* last id given out (ids never repeat) */
    resp_allocator a;
    resp_error_hook hook;     /* told of every error reply written, NULL if none */
    void *hook_ctx;
};

int resp_buf_new(resp_buf **out, int proto, const resp_allocator *a)
{
    resp_allocator al = resp_allocator_or_default(a);
    resp_buf *b;

    *out = NULL;
    if (proto != 2 && proto != 3) return RESP_EINVAL;
    b = resp_mem_resize(&al, NULL, sizeof *b);
    if (!b) return RESP_ENOMEM;
    memset(b, 0, sizeof *b);
    b->a = al;
    b->proto = proto;
    *out = b;
    return RESP_OK;
}

void resp_buf_set_error_hook(resp_buf *b, resp_error_hook hook, void *ctx)
{
    b->hook = hook;
    b->hook_ctx = ctx;
}

void resp_buf_error_written(resp_buf *b, const char *line, size_t len)
{
    if (b->hook) b->hook(b->hook_ctx, line, len);
}

static void release_ref(resp_ref *r)
{
    if (r->release) r->release(r->opaque);
}

void resp_buf_reset(resp_buf *b)
{
    for (size_t i = b->rhead; i < b->nrefs; i++) release_ref(&b->refs[i]);
    b->dropped += b->len;
    b->rdropped += b->nrefs;
    b->head = b->len = 0;
    b->rhead = b->nrefs = 0;
    b->rsent = b->ref_pending = 0;
    b->top = 0;
}

void resp_buf_free(resp_buf *b)
{
    if (!b) return;
    resp_buf_reset(b);
    resp_mem_free(&b->a, b->data);
    resp_mem_free(&b->a, b->refs);
    resp_mem_free(&b->a, b);
}

int resp_buf_set_proto(resp_buf *b, int proto)
{
    if (proto != 2 && proto != 3) return RESP_EINVAL;
    b->proto = proto;
    return RESP_OK;
}

int resp_buf_proto(const resp_buf *b)
{
    return b->proto;
}

size_t resp_buf_pending(const resp_buf *b)
{
    return b->len - b->head + b->ref_pending;
}

size_t resp_buf_capacity(const resp_buf *b)
{
    return sizeof *b + b->cap + b->rcap * sizeof *b->refs;
}

/* Drops the consumed front of data; reference positions move with it. */
static void compact_data(resp_buf *b)
{
    if (b->head == 0) return;
    memmove(b->data, b->data + b->head, b->len - b->head);
    for (size_t i = b->rhead; i < b->nrefs; i++) b->refs[i].at -= b->head;
    b->dropped += b->head;
    b->len -= b->head;
    b->head = 0;
}

char *resp_buf_space(resp_buf *b, size_t n)
{
    if (b->cap - b->len >= n) return b->data + b->len;
    compact_data(b);
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        char *nd;
        if (cap < b->len + n) cap = b->len + n;
        nd = resp_mem_resize(&b->a, b->data, cap);
        if (!nd) return NULL;
        b->data = nd;
        b->cap = cap;
    }
    return b->data + b->len;
}

void resp_buf_advance(resp_buf *b, size_t n)
{
    b->len += n;
}

int resp_buf_ref_room(resp_buf *b)
{
    if (b->nrefs < b->rcap) return RESP_OK;
    if (b->rhead) {
        memmove(b->refs, b->refs + b->rhead, (b->nrefs - b->rhead) * sizeof *b->refs);
        b->rdropped += b->rhead;
        b->nrefs -= b->rhead;
        b->rhead = 0;
    }
    if (b->nrefs == b->rcap) {
        size_t cap = b->rcap ? b->rcap * 2 : 8;
        resp_ref *nr = resp_mem_resize(&b->a, b->refs, cap * sizeof *nr);
        if (!nr) return RESP_ENOMEM;
        b->refs = nr;
        b->rcap = cap;
    }
    return RESP_OK;
}

void resp_buf_push_ref(resp_buf *b, const void *p, size_t len, resp_release_fn release,
                       void *opaque)
{
    resp_ref *r = &b->refs[b->nrefs++];
    r->at = b->len;
    r->ptr = p;
    r->len = len;
    r->release = release;
    r->opaque = opaque;
    b->ref_pending += len;
}

int resp_buf_iov(const resp_buf *b, struct iovec *iov, int max, size_t *bytes)
{
    size_t cur = b->head, i = b->rhead, skip = b->rsent, total = 0;
    int k = 0;

    if (b->top) max = 0;
    while (k < max) {
        size_t end = i < b->nrefs ? b->refs[i].at : b->len;
        if (cur < end) {
            iov[k].iov_base = b->data + cur;
            iov[k].iov_len = end - cur;
            cur = end;
        } else if (i < b->nrefs) {
            iov[k].iov_base = (void *)(b->refs[i].ptr + skip);
            iov[k].iov_len = b->refs[i].len - skip;
            skip = 0;
            i++;
        } else {
            break;
        }
        total += iov[k++].iov_len;
    }
    if (bytes) *bytes = total;
    return k;
}

int resp_buf_consume(resp_buf *b, size_t n)
{
    if (b->top ? n > 0 : n > resp_buf_pending(b)) return RESP_EINVAL;
    while (n) {
        size_t end = b->rhead < b->nrefs ? b->refs[b->rhead].at : b->len;
        size_t take;
        if (b->head < end) {
            take = end - b->head < n ? end - b->head : n;
            b->head += take;
        } else {
            resp_ref *r = &b->refs[b->rhead];
            take = r->len - b->rsent < n ? r->len - b->rsent : n;
            b->rsent += take;
            b->ref_pending -= take;
            if (b->rsent == r->len) {
                release_ref(r);
                b->rhead++;
                b->rsent = 0;
            }
        }
        n -= take;
    }
    if (b->head == b->len && b->rhead == b->nrefs) {
        b->dropped += b->len;
        b->rdropped += b->nrefs;
        b->head = b->len = 0;
        b->rhead = b->nrefs = 0;
    }
    return RESP_OK;
}

void resp_write_deferred(resp_buf *b, resp_deferred *d)
{
    d->at = b->dropped + b->len;
    d->nref = b->rdropped + b->nrefs;
    d->id = ++b->seq;
    d->prev = b->top;
    b->top = d->id;
}

int resp_buf_fill_deferred(resp_buf *b, resp_deferred *d, const char *hdr, size_t n)
{
    size_t at, i;

    if (d->id == 0 || d->id != b->top) return RESP_EINVAL;
    if (!resp_buf_space(b, n)) return RESP_ENOMEM;
    at = d->at - b->dropped;
    memmove(b->data + at + n, b->data + at, b->len - at);
    memcpy(b->data + at, hdr, n);
    b->len += n;
    for (i = d->nref - b->rdropped; i < b->nrefs; i++) b->refs[i].at += n;
    b->top = d->prev;
    d->id = 0;
    return RESP_OK;
}
