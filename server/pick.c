/* pick.c — random members of a collection (pick.h): fences over small collections, points
 * in the space of names over large ones, and one walk for many picks. */
#include "pick.h"

#include "bulk.h"
#include "encoding.h"
#include "hash_fmt.h"
#include "zset_fmt.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum {
    PICK_CACHE = 8,          /* collections a thread keeps fences or bounds for */
    PICK_FENCES = 4096,      /* fences per collection, at most */
    PICK_FENCE_BYTES = 131072, /* their positions' bytes, at most (long names: fewer fences) */
    PICK_WALK_STEP = 32768,  /* members a call's fence walk takes, at most: a larger
                                collection's fences take several calls (picks by name
                                meanwhile) */
    PICK_USES = 256,         /* picks before a rebuild (fences: or an eighth of the count) */
    PICK_BUILD_RATE = 32,    /* members a thread's fence walks may take per pick, on average
                                over its recent picks (beyond, it picks by name) */
    PICK_PASS = 65536,       /* picks per walk of a whole collection */
    PICK_SMOOTH = 16,        /* by name: steps on from where a point lands, below this */
    PICK_BYTES = 24,         /* by name: bytes after the common prefix a point's name has */
    PICK_NAME = 256,         /* by name: bytes of a name kept */
    PICK_SAMPLE = 32,        /* by name: names read at either end */
    PICK_TRIES = 32          /* by name: points drawn before taking the nearest miss */
};

static uint64_t rnd_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ---- walking ------------------------------------------------------------------------- */

/* Steps *it (a walk of c's sub-space) n >= 1 times, going round to the first member at the
 * end (*it is then a new walk): the member reached into k and v, *wrapped (may be NULL)
 * set if it went round. OX_ECORRUPT if the collection has no members. */
static int walk_on(cmd_ctx *x, const db_coll *c, int sub, ox_iter **it, uint64_t n, ox_val *k,
                   ox_val *v, int *wrapped)
{
    int empty_walk = 0;
    while (n) {
        int rc = ox_iter_next(*it, k, v);
        if (rc == OX_NOTFOUND) {
            if (empty_walk)
                return OX_ECORRUPT; /* a collection has members */
            ox_iter_close(*it);
            *it = NULL;
            if ((rc = db_member_range(x, c, sub, NULL, 0, it)) != OX_OK)
                return rc;
            empty_walk = 1;
            if (wrapped)
                *wrapped = 1;
            continue;
        }
        if (rc != OX_OK)
            return rc;
        empty_walk = 0;
        n--;
    }
    return OX_OK;
}

static void add_member(srv_pairs *out, const ox_val *k, const ox_val *v)
{
    srv_pairs_add(out, (const unsigned char *)k->data + COLL_KEY_PREFIX,
                  k->len - COLL_KEY_PREFIX, v->data, v->len);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* n picks with repeats, in random order, by walks of the whole collection (PICK_PASS picks
 * each): draws the members' ranks, sorts them, walks once, shuffles what it took. */
static int pick_pass(cmd_ctx *x, const db_coll *c, int sub, uint64_t n, uint64_t *seed,
                     srv_pairs *out)
{
    uint64_t most = n < PICK_PASS ? n : PICK_PASS;
    uint64_t *rank = srv_xmalloc(most * sizeof *rank);
    size_t *at = srv_xmalloc(most * sizeof *at);
    srv_pairs got = {0};
    int rc = OX_OK;
    while (n && rc == OX_OK) {
        uint64_t m = n < PICK_PASS ? n : PICK_PASS, i = 0, seen = 0;
        n -= m;
        for (uint64_t j = 0; j < m; j++)
            rank[j] = rnd_next(seed) % c->count;
        qsort(rank, m, sizeof *rank, cmp_u64);
        got.len = got.n = 0;
        ox_iter *it = NULL;
        ox_val k, v;
        rc = db_member_range(x, c, sub, NULL, 0, &it);
        while (rc == OX_OK && i < m && (rc = ox_iter_next(it, &k, &v)) == OX_OK) {
            for (; i < m && rank[i] == seen; i++) {
                at[i] = got.len;
                add_member(&got, &k, &v);
            }
            seen++;
        }
        ox_iter_close(it);
        if (rc == OX_NOTFOUND)
            rc = OX_ECORRUPT; /* fewer members than the count */
        for (uint64_t j = m; rc == OX_OK && j > 1; j--) {
            uint64_t r = rnd_next(seed) % j;
            size_t t = at[j - 1];
            at[j - 1] = at[r];
            at[r] = t;
        }
        for (uint64_t j = 0; rc == OX_OK && j < m; j++) {
            size_t off = at[j];
            srv_pairs_next(&got, &off, &k, &v);
            srv_pairs_add(out, k.data, k.len, v.data, v.len);
        }
    }
    srv_pairs_free(&got);
    free(rank);
    free(at);
    return rc;
}

/* ---- the cache ----------------------------------------------------------------------- */

/* By name: the space. After the common prefix of the collection's first and last names, a
 * name is a number in [0, 1) written in base nalpha + 2, one digit per byte (a byte's rank
 * among the bytes seen after the prefix in the names sampled at both ends, plus one; digit
 * 0 is "the name ended here", so that a prefix sorts first), PICK_BYTES digits at most.
 * measure() is that number: it follows name order. A member m owns the interval of points
 * (uniform numbers) whose name lands on it, which ends at end(m), just past the names that
 * are exactly m. */
typedef struct pick_bounds {
    int usable;                 /* 0: the common prefix is too long to pick by */
    size_t fl, ll, common;
    unsigned char first[PICK_NAME], last[PICK_NAME];
    unsigned nalpha;
    unsigned char alpha[256];   /* the bytes seen after the common prefix, ascending */
    unsigned char rank[256];    /* the bytes of alpha below each byte */
    double gap;                 /* the median gap between the names sampled at either end,
                                   the smaller (HUGE_VAL: fewer than two at both ends) */
    double digit[PICK_BYTES + 2]; /* digit[i]: the weight of the i-th digit, (nalpha+2)^-i */
} pick_bounds;

/* What a thread knows of one collection's sub-space: fences, or bounds to pick by name. */
typedef struct pick_entry {
    const ox_table *members;    /* NULL: a free slot */
    uint64_t id;
    int sub;
    uint64_t count;             /* the member count at the last reset */
    uint64_t uses, last_use;
    int fenced;                 /* the fences are complete: picks use them */
    int walking;                /* the fence walk goes on after pos at the next call */
    int bounded;                /* b is built */
    /* The members' positions (ox_iter_pos) at ranks 0, step, 2 step ...: fence i is
     * fence[off[i] .. off[i + 1]); total members were walked. fence is this thread's
     * (freed when it ends), cap bytes, at most PICK_FENCE_BYTES. */
    uint64_t total, step;
    unsigned nfence;
    uint32_t off[PICK_FENCES + 1];
    unsigned char *fence;
    size_t cap, plen;
    unsigned char pos[OX_POS_MAX];
    pick_bounds b;              /* by name */
} pick_entry;

static _Thread_local pick_entry pick_cache[PICK_CACHE];
static _Thread_local uint64_t pick_clock;
/* What this thread's fence walks cost against the picks they served (halved now and
 * then): picking round more collections than the cache holds would otherwise walk one
 * whole collection per pick. */
static _Thread_local uint64_t pick_walked, pick_calls;
static pthread_key_t pick_key;      /* its destructor frees a thread's fences */
static pthread_once_t pick_key_once = PTHREAD_ONCE_INIT;

static void pick_thread_end(void *cache)
{
    pick_entry *es = cache;
    for (int i = 0; i < PICK_CACHE; i++) {
        free(es[i].fence);
        es[i].fence = NULL;
        es[i].cap = 0;
        es[i].members = NULL;
    }
}

static void pick_key_make(void)
{
    if (pthread_key_create(&pick_key, pick_thread_end) != 0)
        abort(); /* the server may abort on resource exhaustion */
}

/* 1 if a fence walk of n more members fits this thread's budget (and counts it). */
static int fence_budget(uint64_t n)
{
    if (n > 256 && pick_walked + n > PICK_BUILD_RATE * pick_calls + 8 * PICK_WALK_STEP)
        return 0;
    pick_walked += n;
    return 1;
}

/* Keeps every other fence: the step doubles. */
static void fences_halve(pick_entry *e)
{
    unsigned n = 0;
    uint32_t used = 0;
    for (unsigned i = 0; i < e->nfence; i += 2) {
        uint32_t from = e->off[i], len = e->off[i + 1] - from;
        memmove(e->fence + used, e->fence + from, len);
        e->off[n++] = used;
        used += len;
    }
    e->off[n] = used;
    e->nfence = n;
    e->step *= 2;
}

/* Keeps the position of the member it last returned as the next fence, if its rank
 * (e->total) is one: OX_OK or an error. */
static int fence_add(pick_entry *e, const ox_iter *it)
{
    unsigned char pos[OX_POS_MAX];
    size_t len;
    int rc = ox_iter_pos(it, pos, &len);
    while (rc == OX_OK && e->total % e->step == 0 &&
           (e->nfence == PICK_FENCES || e->off[e->nfence] + len > PICK_FENCE_BYTES))
        fences_halve(e);
    if (rc != OX_OK || e->total % e->step)
        return rc;
    size_t need = e->off[e->nfence] + len;
    if (need > e->cap) {
        if (!e->fence) {
            pthread_once(&pick_key_once, pick_key_make);
            pthread_setspecific(pick_key, pick_cache);
        }
        size_t cap = e->cap ? e->cap : 4096;
        while (cap < need)
            cap *= 2;
        e->cap = cap < PICK_FENCE_BYTES ? cap : PICK_FENCE_BYTES;
        e->fence = srv_xrealloc(e->fence, e->cap);
    }
    memcpy(e->fence + e->off[e->nfence], pos, len);
    e->off[e->nfence + 1] = (uint32_t)need;
    e->nfence++;
    return OX_OK;
}

/* Walks on over at most PICK_WALK_STEP members of c after where e's walk stopped, keeping
 * fences; e->fenced once it reached the end. OX_OK or an error. */
static int fences_walk(cmd_ctx *x, const db_coll *c, int sub, pick_entry *e)
{
    ox_val from = {e->pos, e->plen}, k;
    ox_iter *it = NULL;
    int rc = db_member_range(x, c, sub, e->plen ? &from : NULL,
                             OX_ITER_KEYS_ONLY | (e->plen ? OX_ITER_POS | OX_ITER_AFTER : 0), &it);
    for (unsigned n = 0; rc == OX_OK && n < PICK_WALK_STEP; n++) {
        if ((rc = ox_iter_next(it, &k, NULL)) == OX_OK && (rc = fence_add(e, it)) == OX_OK)
            e->total++;
    }
    if (rc == OX_OK) /* more to come: from after this one */
        rc = ox_iter_pos(it, e->pos, &e->plen);
    ox_iter_close(it);
    if (rc == OX_NOTFOUND) {
        e->walking = 0;
        e->fenced = e->total > 0;
        rc = e->total ? OX_OK : OX_ECORRUPT; /* a collection has members */
    }
    return rc;
}

static double space_measure(const pick_bounds *b, const unsigned char *name, size_t len)
{
    double f = 0;
    for (size_t i = b->common; i < len && i < b->common + PICK_BYTES; i++)
        f += (b->rank[name[i]] + 1) * b->digit[i - b->common + 1];
    return f;
}

/* Where the points that land on a member named name end. */
static double space_end(const pick_bounds *b, const unsigned char *name, size_t len)
{
    size_t digits = len > b->common ? len - b->common : 0;
    digits = digits < PICK_BYTES ? digits : PICK_BYTES;
    return space_measure(b, name, len) + b->digit[digits + 1];
}

/* The name of point u (in [0, 1)) into buf (room for PICK_NAME): its length. */
static size_t space_name(const pick_bounds *b, double u, unsigned char *buf)
{
    size_t len = b->common;
    memcpy(buf, b->first, b->common);
    for (int i = 0; i < PICK_BYTES && b->nalpha; i++) {
        u *= b->nalpha + 2;
        double d = (double)(unsigned)u; /* 0 <= u < nalpha + 2 */
        u -= d;
        if (d < 1)
            break; /* the name ends here */
        if (d > b->nalpha && b->alpha[b->nalpha - 1] < 255) { /* past every byte seen */
            buf[len++] = (unsigned char)(b->alpha[b->nalpha - 1] + 1);
            break;
        }
        unsigned k = d > b->nalpha ? b->nalpha : (unsigned)d;
        buf[len++] = b->alpha[k - 1];
    }
    return len;
}

/* The first PICK_SAMPLE member names at one end of c's sub-space (last: the highest
 * first), each cut at PICK_NAME, into names/lens: how many. OX_OK or an error in *rc. */
static int sample_end(cmd_ctx *x, const db_coll *c, int sub, int last,
                      unsigned char names[PICK_SAMPLE][PICK_NAME], size_t *lens, int *rc)
{
    ox_iter *it = NULL;
    ox_val k, v;
    int n = 0;
    *rc = db_member_range(x, c, sub, NULL, last ? OX_ITER_DESC : 0, &it);
    while (*rc == OX_OK && n < PICK_SAMPLE && (*rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        size_t len = k.len - COLL_KEY_PREFIX;
        lens[n] = len < PICK_NAME ? len : PICK_NAME;
        memcpy(names[n], (const unsigned char *)k.data + COLL_KEY_PREFIX, lens[n]);
        n++;
    }
    ox_iter_close(it);
    if (*rc == OX_NOTFOUND)
        *rc = OX_OK;
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bounds_build(cmd_ctx *x, const db_coll *c, int sub, pick_bounds *b)
{
    static _Thread_local unsigned char names[2][PICK_SAMPLE][PICK_NAME];
    size_t lens[2][PICK_SAMPLE];
    int n[2], rc = OX_OK;
    for (int end = 0; end < 2 && rc == OX_OK; end++)
        n[end] = sample_end(x, c, sub, end, names[end], lens[end], &rc);
    if (rc != OX_OK)
        return rc;
    b->fl = n[0] ? lens[0][0] : 0;
    b->ll = n[1] ? lens[1][0] : 0;
    memcpy(b->first, names[0][0], b->fl);
    memcpy(b->last, names[1][0], b->ll);
    b->common = 0;
    while (b->common < b->fl && b->common < b->ll && b->first[b->common] == b->last[b->common])
        b->common++;
    b->usable = b->common + PICK_BYTES <= PICK_NAME;
    unsigned char seen[256] = {0};
    for (int end = 0; end < 2; end++)
        for (int i = 0; i < n[end]; i++)
            for (size_t j = b->common; j < lens[end][i]; j++)
                seen[names[end][i][j]] = 1;
    b->nalpha = 0;
    for (unsigned ch = 0; ch < 256; ch++) {
        b->rank[ch] = (unsigned char)(b->nalpha < 255 ? b->nalpha : 255);
        if (seen[ch])
            b->alpha[b->nalpha++] = (unsigned char)ch;
    }
    b->digit[0] = 1;
    for (int i = 1; i < PICK_BYTES + 2; i++)
        b->digit[i] = b->digit[i - 1] / (b->nalpha + 2);
    b->gap = HUGE_VAL;
    for (int end = 0; end < 2; end++) {
        double g[PICK_SAMPLE];
        int m = 0;
        for (int i = 1; i < n[end]; i++)
            g[m++] = fabs(space_end(b, names[end][i], lens[end][i]) -
                          space_end(b, names[end][i - 1], lens[end][i - 1]));
        if (m) {
            qsort(g, (size_t)m, sizeof *g, cmp_double);
            b->gap = g[m / 2] < b->gap ? g[m / 2] : b->gap;
        }
    }
    return OX_OK;
}

/* This thread's entry for c's sub-space, reset if it has none, if the member count moved
 * by an eighth since, or after PICK_USES picks (fences: or an eighth of the count, if
 * more: a reset walks them all again). A collection of up to PICK_FENCE_MAX members is
 * walked for fences, PICK_WALK_STEP members a call while the thread's budget allows;
 * until the walk is over, and for larger ones, bounds to pick by name. */
static int entry_get(cmd_ctx *x, const db_coll *c, int sub, pick_entry **out)
{
    pick_entry *e = NULL, *oldest = &pick_cache[0];
    for (int i = 0; i < PICK_CACHE && !e; i++) {
        pick_entry *p = &pick_cache[i];
        if (p->members == c->members && p->id == c->id && p->sub == sub)
            e = p;
        else if (p->last_use < oldest->last_use)
            oldest = p;
    }
    if (++pick_calls > (1u << 16)) {
        pick_calls /= 2;
        pick_walked /= 2;
    }
    int rc = OX_OK;
    if (!e || c->count * 8 < e->count * 7 || c->count * 8 > e->count * 9 ||
        e->uses >= (e->fenced && e->count / 8 > PICK_USES ? e->count / 8 : PICK_USES)) {
        e = e ? e : oldest;
        e->members = c->members;
        e->id = c->id;
        e->sub = sub;
        e->count = c->count;
        e->uses = 0;
        e->fenced = e->bounded = 0;
        e->walking = c->count <= PICK_FENCE_MAX;
        e->step = (c->count + PICK_FENCES - 1) / PICK_FENCES;
        e->step = e->step ? e->step : 1;
        e->nfence = 0;
        e->total = 0;
        e->off[0] = 0;
        e->plen = 0;
    }
    if (e->walking && fence_budget(c->count < PICK_WALK_STEP ? c->count : PICK_WALK_STEP))
        rc = fences_walk(x, c, sub, e);
    if (rc == OX_OK && !e->fenced && !e->bounded && (rc = bounds_build(x, c, sub, &e->b)) == OX_OK)
        e->bounded = 1;
    if (rc != OX_OK) {
        e->members = NULL;
        return rc;
    }
    e->uses++;
    e->last_use = ++pick_clock;
    *out = e;
    return OX_OK;
}

/* ---- one pick ------------------------------------------------------------------------ */

/* The member of a uniform rank r: a seek to its fence, then the steps after it. The rank
 * is drawn among the members there are now, so that members added since the walk are
 * reached: above every fence, the last one's walk goes on to them; below, the first
 * fence's walk starts at the first member, wherever its fence was. A fence whose member is
 * gone draws again (a few times), so that its share goes to every member, not to the one
 * after it (removing 240 members in a row of 2000 gave the next one 36 picks in 1400). */
static int fence_pick(cmd_ctx *x, const db_coll *c, int sub, const pick_entry *e,
                      uint64_t *seed, srv_pairs *out)
{
    enum { REDRAWS = 8 };
    int rc = OX_OK;
    ox_val k, v;
    for (int tries = 0; rc == OX_OK; tries++) {
        uint64_t r = rnd_next(seed) % c->count, f = r / e->step;
        f = f < e->nfence ? f : e->nfence - 1;
        const unsigned char *fp = e->fence + e->off[f];
        ox_val lo = {fp, (size_t)(e->off[f + 1] - e->off[f])};
        unsigned char pos[OX_POS_MAX];
        size_t plen = 0;
        ox_iter *it = NULL;
        rc = db_member_range(x, c, sub, f ? &lo : NULL, OX_ITER_POS, &it);
        if (rc == OX_OK)
            rc = walk_on(x, c, sub, &it, 1, &k, &v, NULL);
        int gone = rc == OX_OK && f && tries < REDRAWS &&
                   (ox_iter_pos(it, pos, &plen) != OX_OK || plen != lo.len ||
                    memcmp(pos, fp, plen));
        if (rc == OX_OK && !gone && r > f * e->step)
            rc = walk_on(x, c, sub, &it, r - f * e->step, &k, &v, NULL);
        if (rc == OX_OK && !gone)
            add_member(out, &k, &v);
        ox_iter_close(it);
        if (!gone)
            break;
    }
    return rc;
}

/* By name: a point drawn uniformly between the first member's interval and the last's end
 * lands on the first member at or after the point's name, which is kept if the point lies
 * within a reach of that member's end: a member after a wide gap in the names (m1 after m0,
 * when no other name starts with m0; user:8a among names mostly three hex digits long)
 * then has the reach's share, not the whole gap's, and other points retry. The reach is
 * the typical gap between neighbours sampled at either end (the mean gap at most, an
 * eighth of it at least, so that about one try in eight is kept). The pick is then a
 * member fewer than PICK_SMOOTH steps on from where the point landed, so that a member
 * whose interval is narrow (1270 just after 127) has about its neighbours' share. Fair
 * within a few times as far as the ends' spacing is the middle's. */
static int name_pick(cmd_ctx *x, const db_coll *c, int sub, const pick_bounds *b,
                     uint64_t *seed, srv_pairs *out)
{
    unsigned char lo[COLL_KEY_PREFIX + PICK_NAME];
    double first_end = space_end(b, b->first, b->fl), top = space_end(b, b->last, b->ll);
    double mean_gap = (top - first_end) / (double)(c->count > 1 ? c->count - 1 : 1);
    double reach = b->gap < mean_gap ? b->gap : mean_gap;
    reach = reach > mean_gap / 8 ? reach : mean_gap / 8;
    double bottom = first_end - reach > 0 ? first_end - reach : 0, best_dist = HUGE_VAL;
    ox_val lov = {lo, 0}, k, v;
    coll_member_key(lo, c->id, sub, NULL, 0);
    srv_pairs best = {0}; /* the landing nearest to its point, taken if none is kept */
    int rc = OX_OK, kept = 0;
    for (int tries = 0; tries < PICK_TRIES && rc == OX_OK && !kept; tries++) {
        double u = bottom + (top - bottom) * ((double)(rnd_next(seed) >> 11) /
                                              9007199254740992.0);
        lov.len = COLL_KEY_PREFIX + space_name(b, u, lo + COLL_KEY_PREFIX);
        ox_iter *it = NULL;
        int wrapped = 0;
        rc = db_member_range(x, c, sub, &lov, 0, &it);
        if (rc == OX_OK)
            rc = walk_on(x, c, sub, &it, 1, &k, &v, &wrapped);
        if (rc == OX_OK) {
            const unsigned char *m = (const unsigned char *)k.data + COLL_KEY_PREFIX;
            double end = space_end(b, m, k.len - COLL_KEY_PREFIX);
            double dist = wrapped ? top - u + end - bottom : end - u;
            kept = mean_gap <= 0 || dist <= reach;
            if (!kept && dist < best_dist) {
                best_dist = dist;
                best.len = best.n = 0;
                add_member(&best, &k, &v);
            }
            uint64_t on = rnd_next(seed) % PICK_SMOOTH;
            if (kept && on)
                rc = walk_on(x, c, sub, &it, on, &k, &v, NULL);
            if (kept && rc == OX_OK)
                add_member(out, &k, &v);
        }
        ox_iter_close(it);
    }
    if (rc == OX_OK && !kept) {
        size_t off = 0;
        srv_pairs_next(&best, &off, &k, &v);
        srv_pairs_add(out, k.data, k.len, v.data, v.len);
    }
    srv_pairs_free(&best);
    return rc;
}

static int pick_one(cmd_ctx *x, const db_coll *c, int sub, const pick_entry *e,
                    uint64_t *seed, srv_pairs *out)
{
    return e->fenced ? fence_pick(x, c, sub, e, seed, out)
                     : name_pick(x, c, sub, &e->b, seed, out);
}

/* ---- many ---------------------------------------------------------------------------- */

/* count distinct members, all of them if count >= c->count, in one walk (reservoir
 * sampling): memory is the picks. */
static int pick_sample(cmd_ctx *x, const db_coll *c, int sub, uint64_t want, uint64_t *seed,
                       srv_pairs *out)
{
    if (want > c->count)
        want = c->count;
    ox_iter *it = NULL;
    int rc = want ? db_member_range(x, c, sub, NULL, 0, &it) : OX_OK;
    if (rc || !want)
        return rc;
    srv_pairs *slot = srv_xcalloc(want, sizeof *slot); /* one pair each, replaced in place */
    uint64_t seen = 0;
    ox_val k, v;
    while ((rc = ox_iter_next(it, &k, &v)) == OX_OK) {
        uint64_t i = seen < want ? seen : rnd_next(seed) % (seen + 1);
        seen++;
        if (i >= want)
            continue;
        slot[i].len = slot[i].n = 0;
        add_member(&slot[i], &k, &v);
    }
    ox_iter_close(it);
    for (uint64_t i = 0; i < want && i < seen; i++) {
        size_t off = 0;
        if (rc == OX_NOTFOUND && srv_pairs_next(&slot[i], &off, &k, &v))
            srv_pairs_add(out, k.data, k.len, v.data, v.len);
        srv_pairs_free(&slot[i]);
    }
    free(slot);
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

/* A few distinct members out of many (SPOP s 10 or SRANDMEMBER s 10 on a large set): picks,
 * skipping names already taken (by a 64-bit hash of each: a collision only costs one more
 * pick), so that the cost follows the count, not the set's size, as in Redis. 1 with want
 * members in out; 0 if picks kept landing on taken names or the collection cannot be
 * picked from by name (out emptied: sample instead). */
static int pick_distinct(cmd_ctx *x, const db_coll *c, int sub, uint64_t want,
                         uint64_t *seed, srv_pairs *out, int *rc)
{
    pick_entry *e;
    if ((*rc = entry_get(x, c, sub, &e)) != OX_OK || (!e->fenced && !e->b.usable))
        return 0;
    size_t cap = 16;
    while (cap < 2 * want)
        cap *= 2;
    uint64_t *taken = srv_xcalloc(cap, sizeof *taken); /* 0: free slot */
    uint64_t got = 0;
    srv_pairs one = {0};
    for (uint64_t tries = 0; got < want && tries < 4 * want + 16 && *rc == OX_OK; tries++) {
        one.len = one.n = 0;
        if ((*rc = pick_one(x, c, sub, e, seed, &one)) != OX_OK)
            break;
        ox_val m, v;
        size_t off = 0;
        srv_pairs_next(&one, &off, &m, &v);
        uint64_t h = srv_hash64(0, m.data, m.len);
        h = h ? h : 1;
        size_t i = (size_t)h & (cap - 1);
        while (taken[i] && taken[i] != h)
            i = (i + 1) & (cap - 1);
        if (taken[i])
            continue;
        taken[i] = h;
        srv_pairs_add(out, m.data, m.len, v.data, v.len);
        got++;
    }
    srv_pairs_free(&one);
    free(taken);
    if (*rc == OX_OK && got < want)
        out->len = out->n = 0;
    return *rc == OX_OK && got == want;
}

int pick_random(cmd_ctx *x, const db_coll *c, long long count, srv_pairs *out)
{
    uint64_t seed = srv_random64() | 1; /* xorshift's state is never 0 */
    int sub = DB_SUB_FIELD, rc;
    if (!c->count || !count)
        return OX_OK;
    if (count < 0) {
        uint64_t n = 0 - (uint64_t)count;
        pick_entry *e;
        /* one walk per PICK_PASS picks, when that costs less than a seek (16 steps) each */
        if ((n + PICK_PASS - 1) / PICK_PASS * c->count <= 16 * n)
            return pick_pass(x, c, sub, n, &seed, out);
        if ((rc = entry_get(x, c, sub, &e)) != OX_OK)
            return rc;
        if (!e->fenced && !e->b.usable)
            return pick_pass(x, c, sub, n, &seed, out);
        for (uint64_t i = 0; i < n && rc == OX_OK; i++)
            rc = pick_one(x, c, sub, e, &seed, out);
        return rc;
    }
    if ((uint64_t)count <= c->count / 16 &&
        (pick_distinct(x, c, sub, (uint64_t)count, &seed, out, &rc) || rc != OX_OK))
        return rc;
    return pick_sample(x, c, sub, (uint64_t)count, &seed, out);
}

/* ---- the reply ----------------------------------------------------------------------- */

/* HRANDFIELD's count and option, in Redis's order: the count's range, the syntax, the
 * range WITHVALUES allows (SRANDMEMBER, values NULL: the syntax first). 1, or 0 after
 * replying. */
static int rand_count_or_reply(cmd_ctx *x, const char *values, long long *count,
                               int *withvalues)
{
    *withvalues = 0;
    if (!values && x->argc > 3) {
        cmd_syntax_error(x);
        return 0;
    }
    if (cmd_ll_or_reply(x, &x->argv[2], count))
        return 0;
    if (*count < -LONG_MAX) {
        cmd_err(x, "-ERR value is out of range, value must between -9223372036854775807 "
                   "and 9223372036854775807");
        return 0;
    }
    if (x->argc > 3 + (values != NULL) || (x->argc == 4 && !cmd_is(&x->argv[3], values))) {
        cmd_syntax_error(x);
        return 0;
    }
    *withvalues = x->argc == 4;
    if (*withvalues && (*count > LONG_MAX / 2 || *count < -LONG_MAX / 2)) {
        cmd_err(x, "-ERR value is out of range");
        return 0;
    }
    return 1;
}

/* Every member of the sorted set c into out from its highest (score, member) down, each
 * with its score's bytes (a double) as the value. OX_OK or the store's error. */
static int score_desc(cmd_ctx *x, const db_coll *c, srv_pairs *out)
{
    db_walk *w = NULL;
    ox_val k, v;
    int rc = db_member_walk(x, c, COLL_SUB_SCORE, OX_ITER_DESC | BULK_EXACT, &w);
    while (rc == OX_OK && (rc = bulk_walk_next(w, &k, &v)) == OX_OK) {
        double score;
        ox_val m;
        if (!zfmt_entry(&k, &v, &score, &m)) {
            rc = OX_ECORRUPT;
            break;
        }
        srv_pairs_add(out, m.data, m.len, &score, sizeof score);
    }
    bulk_walk_close(w); /* NULL if it never opened */
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

/* want distinct fields of the listpack hash c (encoding.h), all of them if want >= its
 * count, in the order its fields came, as Redis picks from a listpack (a random choice in
 * "non-random order"): selection sampling in one walk. OX_OK or the store's error. */
static int listpack_sample(cmd_ctx *x, const db_coll *c, uint64_t want, srv_pairs *out)
{
    uint64_t seed = srv_random64() | 1, left = c->count;
    enc_fields fs;
    ox_val f, v;
    int rc = enc_fields_open(x, c, &fs);
    while (rc == OX_OK && want && (rc = enc_fields_next(&fs, &f, &v)) == OX_OK) {
        if (left <= want || rnd_next(&seed) % left < want) {
            srv_pairs_add(out, f.data, f.len, v.data, v.len);
            want--;
        }
        left -= left > 0;
    }
    enc_fields_close(&fs);
    return rc == OX_NOTFOUND ? OX_OK : rc;
}

void pick_reply_random(cmd_ctx *x, int type, const char *values)
{
    long long count = 1;
    int withvalues = 0, with_count = x->argc >= 3;
    if (with_count && !rand_count_or_reply(x, values, &count, &withvalues))
        return;
    db_coll c;
    int found = db_coll_get_or_reply(x, &x->argv[1], type, &c);
    if (found <= 0) {
        if (found == 0 && with_count)
            resp_write_array(x->out, 0);
        else if (found == 0)
            resp_write_null(x->out);
        return;
    }
    if (count < -PICK_MAX_PICKS) { /* Redis would build the reply (and may run out of
                                      memory); a missing key still answers empty above */
        cmd_err(x, "-ERR value is out of range");
        return;
    }
    srv_pairs got = {0};
    int whole = with_count && count > 0 && (uint64_t)count >= c.count;
    /* a whole sorted set comes as Redis replies with it: from its last entry down */
    int desc = whole && type == DB_ZSET;
    int rc, stored = 0; /* stored: values as stored (a hash's: hash_fmt.h) */
    uint64_t n;
    if (desc)
        rc = score_desc(x, &c, &got);
    else if (type == DB_HASH && c.order && with_count && count > 0) /* a listpack's */
        rc = listpack_sample(x, &c, (uint64_t)count, &got);
    else {
        rc = pick_random(x, &c, count, &got);
        stored = type == DB_HASH;
    }
    int pairs = withvalues && resp_buf_proto(x->out) == 3;
    ox_val m, v;
    size_t off = 0;
    if (rc != OX_OK) {
        cmd_store_error(x, rc);
    } else if (!with_count) {
        if (srv_pairs_next(&got, &off, &m, &v))
            resp_write_bulk(x->out, m.data, m.len);
    } else if (whole && type == DB_SET) { /* in Redis's order of the set (encoding.h) */
        enc_ints o;
        enc_ints_init(&o, got.n);
        resp_write_array(x->out, got.n);
        while (srv_pairs_next(&got, &off, &m, &v))
            enc_ints_put(&o, x->out, m.data, m.len);
        enc_ints_end(&o, x->out);
    } else {
        resp_write_array(x->out, withvalues && !pairs ? 2 * got.n : got.n);
        while (srv_pairs_next(&got, &off, &m, &v)) {
            if (pairs)
                resp_write_array(x->out, 2);
            resp_write_bulk(x->out, m.data, m.len);
            double score = 0;
            if (withvalues && desc)
                memcpy(&score, v.data, sizeof score);
            if (withvalues && type == DB_ZSET)
                resp_write_double(x->out,
                                  desc || zfmt_field(v.data, v.len, &score, NULL) ? score : 0);
            else if (withvalues && (!stored || hfmt_split(v.data, v.len, c.order, &v, &n)))
                resp_write_bulk(x->out, v.data, v.len); /* a listpack's without its number */
            else if (withvalues)
                resp_write_null(x->out); /* a listpack's record without its number */
        }
    }
    srv_pairs_free(&got);
}
