/* test_coll_fmt.c — a collection's record in each of its layouts (keyspace/coll_fmt.h), and
 * a sorted set's bounds as the index sorts them and as its writes keep them, and its
 * values' -0 mark (keyspace/zset_fmt.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll_fmt.h"
#include "lib/lib_util.h"
#include "test.h"
#include "zset_fmt.h"

T_MAIN_BEGIN;

static coll_bound bound(const void *p, size_t n)
{
    coll_bound b = {.len = (unsigned char)n};
    memcpy(b.b, p, n);
    return b;
}

/* Records written before bounds were tight (24, 32, 33 bytes) read as loose bounds and are
 * written back as they were; tight ones keep both bounds whole. */
static void each_layout_reads_back_as_written(void)
{
    unsigned char rec[COLL_META_MAX], again[COLL_META_MAX];
    coll_meta m = {.id = 7, .count = 3, .head = -5};
    T_EQ_INT(coll_meta_encode(rec, DB_LIST, &m), COLL_LIST_META_LEN);
    coll_meta d;
    T_EQ_INT(coll_meta_decode(rec, COLL_LIST_META_LEN, &d), OX_OK);
    T_EQ_INT(d.head, -5);
    T_EQ_U64(d.id, 7);
    T_EQ_U64(d.count, 3);

    /* a hash: its next field number while it keeps its order (hash_fmt.h), else none */
    m = (coll_meta){.id = 7, .count = 3, .order = 4};
    T_EQ_INT(coll_meta_encode(rec, DB_HASH, &m), COLL_LIST_META_LEN);
    T_EQ_INT(coll_meta_decode(rec, COLL_LIST_META_LEN, &d), OX_OK);
    T_EQ_U64(d.order, 4);
    T_EQ_U64(d.count, 3);
    m.order = 0;
    T_EQ_INT(coll_meta_encode(rec, DB_HASH, &m), COLL_META_LEN);
    T_EQ_INT(coll_meta_decode(rec, COLL_META_LEN, &d), OX_OK);
    T_EQ_U64(d.order, 0);

    m = (coll_meta){.id = 7, .count = 3};
    T_EQ_INT(coll_meta_encode(rec, DB_ZSET, &m), COLL_META_LEN);
    m.levels = 2;
    T_EQ_INT(coll_meta_encode(rec, DB_ZSET, &m), COLL_ZSET_RANK_META_LEN);
    /* a set: 24 bytes once converted (coll_fmt.h), its flag read by coll_converted */
    m = (coll_meta){.id = 7, .count = 3};
    T_EQ_INT(coll_meta_encode(rec, DB_SET, &m), COLL_META_LEN);
    T_EQ_INT(coll_meta_decode(rec, COLL_META_LEN, &d), OX_OK);
    T_EQ_INT(coll_converted(DB_SET, &d), 0);
    m.converted = 1;
    T_EQ_INT(coll_meta_encode(rec, DB_SET, &m), COLL_LIST_META_LEN);
    T_EQ_U64(coll_be64_get(rec + 16), 1);
    T_EQ_INT(coll_meta_decode(rec, COLL_LIST_META_LEN, &d), OX_OK);
    T_EQ_INT(coll_converted(DB_SET, &d), 1);
    T_EQ_U64(d.count, 3);
    /* a record of an earlier build counts as converted while it holds more than its
       compact form can */
    d = (coll_meta){.count = COLL_SET_INTSET_ENTRIES};
    T_EQ_INT(coll_converted(DB_SET, &d), 0);
    d.count++;
    T_EQ_INT(coll_converted(DB_SET, &d), 1);
    d = (coll_meta){.count = COLL_ZSET_LISTPACK_ENTRIES};
    T_EQ_INT(coll_converted(DB_ZSET, &d), 0);
    d.count++;
    T_EQ_INT(coll_converted(DB_ZSET, &d), 1);
    T_EQ_INT(coll_converted(DB_HASH, &d), 0);
    T_EQ_INT(coll_set_converts(511, "12", 2), 0);
    T_EQ_INT(coll_set_converts(512, "12", 2), 1);
    T_EQ_INT(coll_set_converts(3, "012", 3), 1); /* not an intset's integer */
    T_EQ_INT(coll_set_converts(3, "-9223372036854775808", 20), 0);

    /* a converted sorted set (coll_fmt.h): the bit in the levels byte, which a record
       without one gets the 33-byte layout for */
    m = (coll_meta){.id = 7, .count = 3, .converted = 1};
    T_EQ_INT(coll_meta_encode(rec, DB_ZSET, &m), COLL_ZSET_RANK_META_LEN);
    T_EQ_INT(rec[32], COLL_ZSET_CONVERTED);
    T_EQ_INT(coll_meta_decode(rec, COLL_ZSET_RANK_META_LEN, &d), OX_OK);
    T_EQ_INT(d.converted, 1);
    T_EQ_INT(coll_converted(DB_ZSET, &d), 1);
    T_EQ_INT(d.levels, 0);
    m.levels = 2 | ZFMT_BUILDING;
    T_EQ_INT(coll_meta_encode(rec, DB_ZSET, &m), COLL_ZSET_RANK_META_LEN);
    T_EQ_INT(coll_meta_decode(rec, COLL_ZSET_RANK_META_LEN, &d), OX_OK);
    T_EQ_INT(d.converted, 1);
    T_EQ_INT(d.levels, 2 | ZFMT_BUILDING);

    /* the old layouts: score bounds, loose */
    static const unsigned char lo[8] = {0x80, 0, 0, 0, 0, 0, 0, 1}, hi[8] = {0xc0, 1};
    size_t lens[] = {COLL_LIST_META_LEN, COLL_ZSET_META_LEN, COLL_ZSET_RANK_META_LEN};
    for (int i = 0; i < 3; i++) {
        memset(rec, 0, sizeof rec);
        coll_be64_put(rec, 9);
        coll_be64_put(rec + 8, 4);
        memcpy(rec + 16, lo, 8);
        memcpy(rec + 24, hi, 8);
        rec[32] = 3;
        T_EQ_INT(coll_meta_decode(rec, lens[i], &d), OX_OK);
        T_EQ_INT(d.zb.tight, 0);
        T_EQ_MEM(d.zb.lo.b, d.zb.lo.len, lo, 8);
        T_EQ_INT(d.zb.hi.len, i ? 8 : 0);
        T_EQ_INT(d.levels, i == 2 ? 3 : 0);
        T_EQ_INT(coll_meta_encode(again, DB_ZSET, &d), lens[i]);
        T_EQ_MEM(again, lens[i], rec, lens[i]);
    }

    /* tight: [levels][lo len][lo][hi len][hi], the longest bound COLL_BOUND_MAX bytes */
    unsigned char big[COLL_BOUND_MAX];
    memset(big, 'h', sizeof big);
    m = (coll_meta){.id = 9, .count = 4, .levels = 1};
    m.zb = (coll_bounds){bound("\x80\0\0\0\0\0\0\0abc", 11), bound(big, sizeof big), 1, 0};
    size_t n = coll_meta_encode(rec, DB_ZSET, &m);
    T_EQ_INT(n, COLL_META_LEN + 3 + 11 + COLL_BOUND_MAX);
    T_EQ_INT(coll_meta_decode(rec, n, &d), OX_OK);
    T_EQ_INT(d.zb.tight, 1);
    T_EQ_INT(d.levels, 1);
    T_EQ_MEM(d.zb.lo.b, d.zb.lo.len, "\x80\0\0\0\0\0\0\0abc", 11);
    T_EQ_MEM(d.zb.hi.b, d.zb.hi.len, big, sizeof big);
    T_EQ_INT(coll_meta_encode(again, DB_ZSET, &d), n);
    T_EQ_MEM(again, n, rec, n);
    T_EQ_INT(d.converted, 0);
    d.converted = 1;
    T_EQ_INT(coll_meta_encode(again, DB_ZSET, &d), n);
    T_EQ_INT(again[COLL_META_LEN], 1 | COLL_ZSET_CONVERTED);
    T_EQ_INT(coll_meta_decode(again, n, &d), OX_OK);
    T_EQ_INT(d.converted, 1);
    T_EQ_INT(d.levels, 1);

    /* a tight record with one bound missing is not written tight */
    m.zb.hi.len = 0;
    T_EQ_INT(coll_meta_encode(rec, DB_ZSET, &m), COLL_ZSET_RANK_META_LEN);

    /* damaged records */
    m.zb.hi = bound(big, 8);
    n = coll_meta_encode(rec, DB_ZSET, &m);
    T_EQ_INT(n, COLL_TIGHT_META_MIN + 3);
    T_EQ_INT(coll_meta_decode(rec, n - 1, &d), OX_ECORRUPT);
    T_EQ_INT(coll_meta_decode(rec, 17, &d), OX_ECORRUPT);
    rec[COLL_META_LEN + 1] = 7; /* a bound shorter than a score */
    T_EQ_INT(coll_meta_decode(rec, n, &d), OX_ECORRUPT);
    rec[COLL_META_LEN + 1] = COLL_BOUND_MAX + 1;
    T_EQ_INT(coll_meta_decode(rec, n, &d), OX_ECORRUPT);
}

/* Below lo: before it in the index's order. Past hi: after every tail that starts with
 * hi. The end key is hi's successor, carried out of trailing 0xff bytes. */
static void bounds_compare_as_the_index_sorts(void)
{
    coll_bounds zb = {bound("ab", 2), bound("ab", 2), 1, 0};
    T_EQ_INT(zfmt_below(&zb, "aa", 2), 1);
    T_EQ_INT(zfmt_below(&zb, "a", 1), 1);
    T_EQ_INT(zfmt_below(&zb, "ab", 2), 0);
    T_EQ_INT(zfmt_below(&zb, "abc", 3), 0);
    T_EQ_INT(zfmt_below(&zb, "b", 1), 0);
    T_EQ_INT(zfmt_past(&zb, "ab", 2), 0);
    T_EQ_INT(zfmt_past(&zb, "abzzz", 5), 0);
    T_EQ_INT(zfmt_past(&zb, "a", 1), 0);
    T_EQ_INT(zfmt_past(&zb, "ac", 2), 1);
    T_EQ_INT(zfmt_past(&zb, "b", 1), 1);
    coll_bounds none = {{0}, {0}, 0, 0};
    T_EQ_INT(zfmt_below(&none, "", 0), 0);
    T_EQ_INT(zfmt_past(&none, "\xff\xff", 2), 0);

    unsigned char k[ZFMT_BOUND_KEY], want[ZFMT_BOUND_KEY];
    size_t n = zfmt_bound_from(k, 5, COLL_SUB_SCORE, &zb);
    T_EQ_INT(n, coll_member_key(want, 5, COLL_SUB_SCORE, "ab", 2));
    T_EQ_MEM(k, n, want, n);
    zb.hi = bound("\x01\xff\xff", 3);
    n = zfmt_bound_end(k, 5, COLL_SUB_SCORE, &zb);
    T_EQ_INT(n, coll_member_key(want, 5, COLL_SUB_SCORE, "\x02", 1));
    T_EQ_MEM(k, n, want, n);
    zb.hi = bound("\xff\xff", 2);
    n = zfmt_bound_end(k, 5, COLL_SUB_SCORE, &zb);
    T_EQ_INT(n, coll_member_key(want, 5, COLL_SUB_SCORE + 1, NULL, 0));
    T_EQ_MEM(k, n, want, n);
    n = zfmt_bound_end(k, 5, COLL_SUB_SCORE, &none);
    T_EQ_MEM(k, n, want, n);
    n = zfmt_bound_from(k, 5, COLL_SUB_SCORE, &none);
    T_EQ_INT(n, COLL_KEY_PREFIX);

    /* a pop's bound keeps COLL_BOUND_MEMBER bytes of a long member, and marks its end */
    char member[100];
    memset(member, 'q', sizeof member);
    zfmt_popping(&none, 2.5, member, sizeof member, 0);
    unsigned char cut[COLL_BOUND_MAX];
    coll_score_put(cut, 2.5);
    memcpy(cut + 8, member, COLL_BOUND_MEMBER);
    T_EQ_MEM(none.lo.b, none.lo.len, cut, sizeof cut);
    T_EQ_INT(none.dirty, 1);
    T_EQ_INT(none.hi.len, 0);
    zfmt_popping(&none, 1, "m", 1, 1);
    T_EQ_INT(none.hi.len, 9);
    T_EQ_INT(none.dirty, 3);
}

/* bound b is [score][member]. */
static int bound_is(const coll_bound *b, double score, const char *member, size_t len)
{
    unsigned char want[COLL_BOUND_MAX];
    coll_score_put(want, score);
    memcpy(want + 8, member, len);
    return b->len == 8 + len && !memcmp(b->b, want, b->len);
}

/* zfmt_put and zfmt_del keep tight bounds on the first and last entries: a new last entry
 * that extends the old last one's whole name moves hi too (it is not past hi's successor),
 * and a removal of an end seeks the next. */
static void writes_keep_bounds_tight(void)
{
    ox_store *s;
    ox_table *t;
    ox_txn *x;
    T_EQ_INT(u_open("zb.mdb", NULL, &s), OX_OK);
    T_EQ_INT(ox_table_open(s, "m", &t), OX_OK);
    T_EQ_INT(ox_txn_begin(s, &x), OX_OK);
    coll_bounds zb = {{0}, {0}, 0, 0};
    zfmt_set z = {t, 1, 0, 0, ZFMT_FANOUT, &zb};
#define PUT(sc, m) (zfmt_put(x, &z, m, strlen(m), 0, 0, 0, sc) == OX_OK ? (z.count++, 1) : 0)
#define DEL(sc, m) (zfmt_del(x, &z, m, strlen(m), sc, 0) == OX_OK ? (z.count--, 1) : 0)
    T_ASSERT(PUT(0, "a") && PUT(0, "m"));
    T_EQ_INT(zb.lo.len + zb.hi.len, 0); /* adds alone keep none */
    T_ASSERT(DEL(0, "a"));
    T_EQ_INT(zb.dirty, 3); /* none yet: made at the settle */
    T_EQ_INT(zfmt_settle(x, &z), OX_OK);
    T_ASSERT(zb.tight && bound_is(&zb.lo, 0, "m", 1) && bound_is(&zb.hi, 0, "m", 1));
    T_ASSERT(PUT(0, "m00000"));
    T_ASSERT(bound_is(&zb.hi, 0, "m00000", 6));
    T_ASSERT(PUT(0, "l"));
    T_ASSERT(bound_is(&zb.lo, 0, "l", 1));
    T_ASSERT(DEL(0, "m00000")); /* an end: the next one at once */
    T_ASSERT(bound_is(&zb.hi, 0, "m", 1) && zb.dirty == 0);
    zfmt_popping(&zb, 0, "l", 1, 0);
    T_ASSERT(DEL(0, "l"));
    T_EQ_INT(zb.dirty, 1);
    T_EQ_INT(zfmt_settle(x, &z), OX_OK);
    T_ASSERT(bound_is(&zb.lo, 0, "m", 1) && zb.dirty == 0);
    char q1[72], q2[72];
    memset(q1, 'q', 70);
    memcpy(q1 + 70, "1", 2);
    memcpy(q2, q1, 70);
    memcpy(q2 + 70, "2", 2);
    T_ASSERT(PUT(1, q2) && PUT(1, q1));
    T_ASSERT(bound_is(&zb.hi, 1, q1, COLL_BOUND_MEMBER)); /* cut: both are below it */
    T_ASSERT(DEL(1, q2));
    T_ASSERT(bound_is(&zb.hi, 1, q1, COLL_BOUND_MEMBER));
    T_ASSERT(DEL(1, q1));
    T_ASSERT(bound_is(&zb.hi, 0, "m", 1));
#undef PUT
#undef DEL
    T_EQ_INT(ox_txn_commit(x), OX_OK);
    ox_store_close(s);
}

/* A member's field value with the -0 mark (zset_fmt.h): read back as -0, its level kept;
 * a mark on a score other than 0, or a mark byte other than 1, is not a field value. */
static void negative_zero_field_values(void)
{
    unsigned char v[10];
    double s;
    unsigned level = 9;
    coll_score_put(v, -0.0);
    v[8] = 3;
    v[9] = 1;
    T_EQ_INT(zfmt_field(v, 10, &s, &level), 1);
    T_ASSERT(s == 0 && signbit(s));
    T_EQ_INT(level, 3);
    T_EQ_INT(zfmt_field(v, 9, &s, &level), 1);
    T_ASSERT(s == 0 && !signbit(s)); /* the index key's encoding: one place for zero */
    v[9] = 2;
    T_EQ_INT(zfmt_field(v, 10, &s, NULL), 0);
    coll_score_put(v, 1.5);
    v[9] = 1;
    T_EQ_INT(zfmt_field(v, 10, &s, NULL), 0);
    static const unsigned char mark[2] = {0, 1}, lvl[1] = {2};
    T_EQ_INT(zfmt_index_negzero(mark, 2), 1);
    T_EQ_INT(zfmt_index_level(mark, 2), 0);
    T_EQ_INT(zfmt_index_negzero(lvl, 1), 0);
    T_EQ_INT(zfmt_index_negzero("", 0), 0);
}

int main(void)
{
    T_RUN(each_layout_reads_back_as_written);
    T_RUN(bounds_compare_as_the_index_sorts);
    T_RUN(writes_keep_bounds_tight);
    T_RUN(negative_zero_field_values);
    return T_MAIN_END();
}
