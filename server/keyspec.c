/* keyspec.c — Redis 7.0's key specifications: parsing the table's strings, finding keys,
 * and the legacy first/last/step (keyspec.h). */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keyspec.h"
#include "num.h"
#include "util.h"

const char *const keyspec_flag_names[KEYSPEC_NFLAGS] = {
    "RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key", "incomplete",
    "variable_flags"};

/* ---- parsing ----------------------------------------------------------------------------- */

static int word_is(const char *w, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(w, s, n) == 0;
}

/* The next word as an int: 1, or 0 if there is none or it is not a decimal integer. */
static int next_int(const char **p, const char *end, int *out)
{
    const char *w;
    size_t n;
    long long v;
    if (!srv_next_word(p, end, &w, &n) || !num_str2ll(w, n, &v) || v < INT_MIN || v > INT_MAX)
        return 0;
    *out = (int)v;
    return 1;
}

static int parse_flags(const char *p, const char *end, unsigned *flags)
{
    const char *w;
    size_t n;
    *flags = 0;
    while (srv_next_word(&p, end, &w, &n)) {
        int i = 0;
        while (i < KEYSPEC_NFLAGS && !word_is(w, n, keyspec_flag_names[i]))
            i++;
        if (i == KEYSPEC_NFLAGS)
            return -1;
        *flags |= 1u << i;
    }
    return 0;
}

static int parse_begin(const char *p, const char *end, keyspec *k)
{
    const char *w;
    size_t n;
    if (!srv_next_word(&p, end, &w, &n))
        return -1;
    if (word_is(w, n, "index")) {
        k->begin = KEYSPEC_INDEX;
        if (!next_int(&p, end, &k->pos))
            return -1;
    } else if (word_is(w, n, "keyword")) {
        k->begin = KEYSPEC_KEYWORD;
        if (!srv_next_word(&p, end, &k->keyword, &k->keyword_len) || !next_int(&p, end, &k->pos))
            return -1;
    } else if (word_is(w, n, "unknown")) {
        k->begin = KEYSPEC_UNKNOWN;
    } else {
        return -1;
    }
    return srv_next_word(&p, end, &w, &n) ? -1 : 0;
}

static int parse_find(const char *p, const char *end, keyspec *k)
{
    const char *w;
    size_t n;
    if (!srv_next_word(&p, end, &w, &n))
        return -1;
    if (word_is(w, n, "range") || word_is(w, n, "keynum")) {
        k->find = word_is(w, n, "range") ? KEYSPEC_RANGE : KEYSPEC_KEYNUM;
        if (!next_int(&p, end, &k->a) || !next_int(&p, end, &k->b) ||
            !next_int(&p, end, &k->c))
            return -1;
    } else if (word_is(w, n, "unknown")) {
        k->find = KEYSPEC_UNKNOWN;
    } else {
        return -1;
    }
    return srv_next_word(&p, end, &w, &n) ? -1 : 0;
}

/* One spec, [p, end): "FLAGS; BEGIN; FIND[; note TEXT]". */
static int parse_one(const char *p, const char *end, keyspec *k)
{
    const char *part;
    size_t n;
    memset(k, 0, sizeof *k);
    if (!srv_next_part(&p, end, "; ", &part, &n) || parse_flags(part, part + n, &k->flags) ||
        !srv_next_part(&p, end, "; ", &part, &n) || parse_begin(part, part + n, k) ||
        !srv_next_part(&p, end, "; ", &part, &n) || parse_find(part, part + n, k))
        return -1;
    if (!srv_next_part(&p, end, "; ", &part, &n))
        return 0;
    if (n < 6 || memcmp(part, "note ", 5) || p != end)
        return -1;
    k->note = part + 5;
    k->note_len = n - 5;
    return 0;
}

int keyspec_parse(const char *s, keyspec *out, int cap)
{
    const char *p = s, *end = s + strlen(s), *spec;
    size_t len;
    int n = 0;
    while (srv_next_part(&p, end, " | ", &spec, &len)) {
        if (n == cap || parse_one(spec, spec + len, &out[n]))
            return -1;
        n++;
    }
    return n;
}

/* ---- COMMAND INFO's first, last, step ---------------------------------------------------- */

/* A spec the legacy triple can describe: keys from a start index over a range. */
static int plain_range(const keyspec *k)
{
    return k->begin == KEYSPEC_INDEX && k->find == KEYSPEC_RANGE;
}

void keyspec_legacy(const keyspec *ks, int n, int *first, int *last, int *step, int *movable)
{
    *first = *last = *step = *movable = 0;
    if (n == 1 && plain_range(&ks[0])) {
        /* One range describes itself, whatever its step. */
        *first = ks[0].pos;
        *last = ks[0].a < 0 ? ks[0].a : ks[0].pos + ks[0].a;
        *step = ks[0].b;
        *movable = (ks[0].flags & KEYSPEC_INCOMPLETE) != 0;
        return;
    }
    /* Several: the ranges of step 1 that follow on from one another, in order, joined;
     * any other spec makes the keys movable. A negative last (to the end) is the largest
     * as an unsigned number, as Redis compares them. */
    int lo = INT_MAX, hi = 0, prev_hi = 0;
    for (int i = 0; i < n; i++) {
        const keyspec *k = &ks[i];
        if (!plain_range(k) || k->b != 1 || (prev_hi && prev_hi != k->pos - 1)) {
            *movable = 1;
            continue;
        }
        if (k->flags & KEYSPEC_INCOMPLETE)
            *movable = 1;
        int abs_last = k->a >= 0 ? k->pos + k->a : k->a;
        if (k->pos < lo)
            lo = k->pos;
        if ((unsigned)abs_last > (unsigned)hi)
            hi = abs_last;
        prev_hi = hi;
    }
    if (lo == INT_MAX) {
        *movable = n > 0;
        return;
    }
    *first = lo;
    *last = hi;
    *step = 1;
}

/* ---- finding keys ------------------------------------------------------------------------ */

/* Where spec k's search starts in argv (the index of its first key, or of the keynum
 * spec's base), or 0 when its keyword is absent (no keys), -1 for an unknown spec. */
static int begin_at(const keyspec *k, int argc, const resp_arg *argv)
{
    if (k->begin == KEYSPEC_INDEX)
        return k->pos;
    if (k->begin != KEYSPEC_KEYWORD)
        return -1;
    /* Forwards from pos up to (not including) the last argument, or backwards from
     * argc + pos down to (not including) argv[0]: a keyword with no key after it, or the
     * command's name, never counts. */
    int fwd = k->pos > 0, i = fwd ? k->pos : argc + k->pos, stop = fwd ? argc - 1 : 0;
    for (; i != stop && i >= 0 && i < argc; i += fwd ? 1 : -1)
        if (argv[i].len == k->keyword_len &&
            !strncasecmp(argv[i].ptr, k->keyword, k->keyword_len))
            return i + 1;
    return 0;
}

static int add_key(keyspec_key *out, int n, int cap, int pos, unsigned flags)
{
    if (n < cap) {
        out[n].pos = pos;
        out[n].flags = flags;
        n++;
    }
    return n;
}

/* The keys of one spec appended to out[*n ..]: 0, or -1 when the arguments do not fit it
 * (a count that is no integer or under 1, keys outside the arguments) or it is unknown or
 * incomplete: Redis then asks the command's own key finder. */
static int find_one(const keyspec *k, int argc, const resp_arg *argv, keyspec_key *out,
                    int *n, int cap)
{
    int first = begin_at(k, argc, argv);
    long long last, step;
    if (first < 0 || (k->flags & KEYSPEC_INCOMPLETE))
        return -1;
    if (first == 0)
        return 0;
    if (k->find == KEYSPEC_RANGE) {
        if (k->a >= 0)
            last = first + k->a;
        else if (k->c <= 1)
            last = argc + k->a;
        else
            last = first + ((argc - first) / k->c + k->a);
        step = k->b;
    } else if (k->find == KEYSPEC_KEYNUM) {
        long long numkeys;
        int at = first + k->a;
        if (at >= argc || !num_str2ll(argv[at].ptr, argv[at].len, &numkeys) || numkeys < 0)
            return -1;
        /* Redis keeps the low 32 bits of the count (4294967298 keys are 2). */
        first += k->b;
        step = k->c;
        last = first + ((int32_t)(uint32_t)numkeys - 1) * step;
    } else {
        return -1;
    }
    if (first >= argc || last >= argc || last < first || step < 1)
        return -1;
    for (long long i = first; i <= last; i += step)
        *n = add_key(out, *n, cap, (int)i, k->flags);
    return 0;
}

/* C's atoi of a: leading white space, a sign, digits up to the first other byte; what
 * does not fit a long is clamped (strtol), then cut to an int. */
static int atoi_arg(const resp_arg *a)
{
    char buf[64];
    size_t n = a->len < sizeof buf - 1 ? a->len : sizeof buf - 1;
    memcpy(buf, a->ptr, n);
    buf[n] = '\0';
    return (int)(int32_t)(uint32_t)(unsigned long)strtol(buf, NULL, 10);
}

/* The way Redis's own key finders read a keynum command: numkeys as atoi reads it, the
 * counted keys first, then those of the other specs; no flags. None if numkeys is under 1
 * or more than the arguments after the first key. */
static int find_fallback(const keyspec *ks, int n, int argc, const resp_arg *argv,
                         keyspec_key *out, int cap)
{
    int got = 0;
    for (int i = 0; i < n; i++) {
        const keyspec *k = &ks[i];
        if (k->find != KEYSPEC_KEYNUM || k->begin != KEYSPEC_INDEX || k->pos + k->a >= argc)
            continue;
        int num = atoi_arg(&argv[k->pos + k->a]), first = k->pos + k->b;
        if (num < 1 || k->c < 1 || num > (argc - first) / k->c)
            return 0;
        for (int j = 0; j < num; j++)
            got = add_key(out, got, cap, first + j * k->c, 0);
        for (int j = 0; j < n; j++)
            if (j != i && plain_range(&ks[j])) {
                int m = got;
                if (find_one(&ks[j], argc, argv, out, &m, cap))
                    return 0;
                for (; got < m; got++)
                    out[got].flags = 0;
            }
        return got;
    }
    return 0;
}

int keyspec_find(const keyspec *ks, int n, int argc, const resp_arg *argv, keyspec_key *out,
                 int cap)
{
    int got = 0;
    for (int i = 0; i < n; i++)
        if (!(ks[i].flags & KEYSPEC_NOT_KEY) && find_one(&ks[i], argc, argv, out, &got, cap))
            return find_fallback(ks, n, argc, argv, out, cap);
    return got;
}
