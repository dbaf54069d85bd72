/* Shared by the files of proto/ only; not part of the public API (see resp.h). */
#ifndef RESP_INTERNAL_H
#define RESP_INTERNAL_H

#include <stdlib.h>

#include "resp.h"

static inline void *resp_default_resize(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    return realloc(ptr, size ? size : 1);
}

static inline void resp_default_release(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

/* The allocator an object keeps: the caller's, or libc's. */
static inline resp_allocator resp_allocator_or_default(const resp_allocator *a)
{
    resp_allocator d = { resp_default_resize, resp_default_release, NULL };
    return a ? *a : d;
}

static inline void *resp_mem_resize(const resp_allocator *a, void *ptr, size_t size)
{
    return a->resize(a->ctx, ptr, size);
}

static inline void resp_mem_free(const resp_allocator *a, void *ptr)
{
    if (ptr) a->release(a->ctx, ptr);
}

/* Writes v in decimal at dst (room for 20 bytes); returns the length. */
size_t resp_ll2str(char *dst, long long v);

/* Internal resp_buf interface for the writers (resp_write.c); see resp_buf.c. */

/* A pointer to n writable bytes at the end of the buffer (appended only by
 * resp_buf_advance), or NULL when memory is short. Earlier pointers become invalid. */
char *resp_buf_space(resp_buf *b, size_t n);
void resp_buf_advance(resp_buf *b, size_t n);
/* Tells b's error hook, if any, of the error line just written (without '-' and CRLF). */
void resp_buf_error_written(resp_buf *b, const char *line, size_t len);
/* Makes room for one reference, so that resp_buf_push_ref cannot fail. */
int resp_buf_ref_room(resp_buf *b);
/* Appends a reference at the current end (after resp_buf_ref_room succeeded). */
void resp_buf_push_ref(resp_buf *b, const void *p, size_t len, resp_release_fn release,
                       void *opaque);
/* Inserts the header hdr[0..n) at d's place and closes d (see resp_write_deferred_len). */
int resp_buf_fill_deferred(resp_buf *b, resp_deferred *d, const char *hdr, size_t n);

/* resp_splitargs is public: see resp.h. */

#endif
