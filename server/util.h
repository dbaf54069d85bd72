/* util.h — the server's aborting allocator, clocks, a buffer of byte-string pairs, and a
 * word splitter. Any thread. */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "oxistore.h"

/* The server's allocator: malloc, calloc and realloc that abort (with a line on stderr)
 * when memory runs out, as Redis's zmalloc does. liboxistore and proto/ report it instead. */
void *srv_xmalloc(size_t n);
void *srv_xcalloc(size_t n, size_t size);
void *srv_xrealloc(void *p, size_t n);
/* FNV-1a over p[0 .. len), from seed (0: the standard offset basis); for in-memory
 * tables, not for anything stored. */
uint64_t srv_hash64(uint64_t seed, const void *p, size_t len);
uint64_t srv_mstime(void);                    /* wall clock, ms since the epoch */
uint64_t srv_ustime(void);
uint64_t srv_monotonic_ms(void);
uint64_t srv_monotonic_us(void);
/* A cheap clock for short durations (a command's time, for INFO commandstats): ticks of
 * the CPU's time-stamp counter on x86-64 where the kernel says it runs at a constant rate
 * and never stops, else CLOCK_MONOTONIC's nanoseconds. srv_ticks_init (the main thread,
 * before any other) decides which and notes a start; srv_ticks_us converts a number of
 * ticks into microseconds at the rate measured since that start. Any thread. */
void srv_ticks_init(void);
uint64_t srv_ticks(void);
uint64_t srv_ticks_us(uint64_t ticks);
/* 64 random bits from this thread's generator (splitmix64, seeded from the clock and the
 * thread on first use): for random picks, never for anything secret. Any thread. */
uint64_t srv_random64(void);
/* A growing buffer of byte-string pairs, appended to, then read back in order: what a
 * handler gathers from an iterator before it writes (the iterator's bytes are borrowed
 * only until its next step). Zero-initialise it; aborts when out of memory. */
typedef struct srv_pairs {
    unsigned char *buf;
    size_t len, cap, n;
} srv_pairs;
void srv_pairs_add(srv_pairs *p, const void *a, size_t alen, const void *b, size_t blen);
/* The pair at *off (0 first), moving *off past it: 1, or 0 at the end. *a and *b point
 * into p until its next add or free. */
int srv_pairs_next(const srv_pairs *p, size_t *off, ox_val *a, ox_val *b);
void srv_pairs_free(srv_pairs *p);

/* A growing text appended to with printf's formats (INFO's sections): zero-initialise
 * it, free p. Out of memory, oom is set and nothing more is appended (INFO answers an
 * error then: it does not abort). */
typedef struct srv_text {
    char *p;
    size_t len, cap;
    int oom;
} srv_text;
void srv_text_add(srv_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For the command table's strings (cmd_command.c, keyspec.c). The next space-separated
 * word of [*p, end) into *w and *n, moving *p past it: 1, or 0 when only spaces are left. */
int srv_next_word(const char **p, const char *end, const char **w, size_t *n);
/* The next part of [*p, end) up to the separator sep (or the end) into *s and *n, moving
 * *p past the separator: 1, or 0 when nothing is left. */
int srv_next_part(const char **p, const char *end, const char *sep, const char **s, size_t *n);

#endif
