/* Point operations, batches, compare-and-swap, counts, errors. */
#include "lib_util.h"
#include "test.h"

T_MAIN_BEGIN;

static void put_get_roundtrip_copies_value(void)
{
    ox_store *s;
    T_EQ_INT(u_open("ops1.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_put(t, "k", 1, "hello", 5), OX_OK);
    void *v;
    size_t n;
    T_EQ_INT(ox_get(t, "k", 1, &v, &n), OX_OK);
    T_EQ_MEM(v, n, "hello", 5);
    free(v);
    T_EQ_INT(ox_put(t, "k", 1, "", 0), OX_OK); /* empty values are values */
    T_EQ_INT(ox_get(t, "k", 1, &v, &n), OX_OK);
    T_EQ_INT(n, 0);
    free(v);
    T_EQ_INT(ox_get(t, "nope", 4, &v, &n), OX_NOTFOUND);
    T_ASSERT(v == NULL);
    ox_store_close(s);
}

static void binary_keys_and_values_keep_every_byte(void)
{
    ox_store *s;
    T_EQ_INT(u_open("ops2.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    unsigned char key[256], val[1000];
    for (int i = 0; i < 256; i++)
        key[i] = (unsigned char)i;
    for (int i = 0; i < 1000; i++)
        val[i] = (unsigned char)(i * 7);
    T_EQ_INT(ox_put(t, key, 256, val, 1000), OX_OK);
    void *v;
    size_t n;
    T_EQ_INT(ox_get(t, key, 256, &v, &n), OX_OK);
    T_EQ_MEM(v, n, val, 1000);
    free(v);
    ox_store_close(s);
}

static void key_limits_are_enforced(void)
{
    ox_store *s;
    T_EQ_INT(u_open("ops3.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_U64(ox_key_max(s), 0x7fffffff); /* 32-bit lengths in records and the log */
    char big[600];
    memset(big, 'k', sizeof big);
    T_EQ_INT(ox_put(t, big, 510, "v", 1), OX_OK);
    T_EQ_INT(ox_put(t, big, 511, "v", 1), OX_OK); /* long keys: test_longkey.c */
    T_EQ_INT(ox_put(t, big, (size_t)0x80000000u, "v", 1), OX_EKEYTOOLONG);
    T_EQ_INT(ox_contains(t, big, (size_t)0x80000000u), OX_EKEYTOOLONG);
    T_EQ_INT(ox_put_with_ttl(t, big, 510, "v", 1, 1000), OX_OK);
    T_EQ_STR(ox_strerror(OX_EKEYTOOLONG), "key too long");
    T_EQ_STR(ox_strerror(12345), "unknown error");
    ox_store_close(s);
}

static void empty_key_is_a_key_like_any_other(void)
{
    u_clock clk = {1000};
    ox_store *s;
    T_EQ_INT(u_open("ops10.mdb", &clk, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_put(t, "a", 1, "A", 1), OX_OK);
    T_EQ_INT(ox_put_with_ttl(t, "", 0, "empty", 5, 50), OX_OK);
    void *v;
    size_t n;
    T_EQ_INT(ox_get(t, "", 0, &v, &n), OX_OK);
    T_EQ_MEM(v, n, "empty", 5);
    free(v);
    uint64_t ms;
    T_EQ_INT(ox_ttl(t, "", 0, &ms), OX_OK);
    T_EQ_U64(ms, 50);
    ox_iter *it;
    ox_val k, val;
    T_EQ_INT(ox_range(t, NULL, NULL, 0, &it), OX_OK); /* it sorts first */
    T_EQ_INT(ox_iter_next(it, &k, &val), OX_OK);
    T_EQ_INT(k.len, 0);
    T_EQ_MEM(val.data, val.len, "empty", 5);
    T_EQ_INT(ox_iter_next(it, &k, &val), OX_OK);
    T_EQ_MEM(k.data, k.len, "a", 1);
    ox_iter_close(it);
    ox_val lo = {"", 0}, hi = {"a", 1};
    T_EQ_INT(ox_range(t, &lo, &hi, OX_ITER_DESC, &it), OX_OK);
    T_EQ_INT(ox_iter_next(it, &k, &val), OX_OK);
    T_EQ_INT(k.len, 0);
    T_EQ_INT(ox_iter_next(it, &k, &val), OX_NOTFOUND);
    ox_iter_close(it);
    clk.now += 51;
    size_t purged;
    T_EQ_INT(ox_purge_expired(t, 0, &purged), OX_OK);
    T_EQ_U64(purged, 1);
    T_EQ_INT(ox_contains(t, "", 0), OX_NOTFOUND);
    T_EQ_INT(ox_put(t, "", 0, "", 0), OX_OK);
    T_EQ_INT(ox_delete(t, "", 0), OX_OK);
    ox_store_close(s);
}

static void delete_and_contains(void)
{
    ox_store *s;
    T_EQ_INT(u_open("ops4.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_put(t, "a", 1, "1", 1), OX_OK);
    T_EQ_INT(ox_contains(t, "a", 1), OX_OK);
    T_EQ_INT(ox_delete(t, "a", 1), OX_OK);
    T_EQ_INT(ox_contains(t, "a", 1), OX_NOTFOUND);
    T_EQ_INT(ox_delete(t, "a", 1), OX_NOTFOUND);
    ox_store_close(s);
}

static void count_is_exact_after_puts_overwrites_and_deletes(void)
{
    ox_store *s;
    T_EQ_INT(u_open("ops5.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    char k[32];
    size_t kl;
    for (int i = 0; i < 1000; i++) {
        kl = U_KEY(k, "key:%04d", i);
        T_EQ_INT(ox_put(t, k, kl, "v", 1), OX_OK);
    }
    for (int i = 0; i < 500; i++) { /* overwrites do not count twice */
        kl = U_KEY(k, "key:%04d", i);
        T_EQ_INT(ox_put(t, k, kl, "w", 1), OX_OK);
    }
    for (int i = 0; i < 300; i++) {
        kl = U_KEY(k, "key:%04d", i * 2);
        T_EQ_INT(ox_delete(t, k, kl), OX_OK);
    }
    uint64_t n;
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 700);
    ox_store_close(s);
}

static void get_many_reports_missing_keys_as_null(void)
{
    ox_store *s;
    T_EQ_INT(u_open("ops6.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    T_EQ_INT(ox_put(t, "a", 1, "A", 1), OX_OK);
    T_EQ_INT(ox_put(t, "c", 1, "CC", 2), OX_OK);
    ox_val keys[3] = {{"a", 1}, {"b", 1}, {"c", 1}};
    void *vals[3];
    size_t lens[3];
    T_EQ_INT(ox_get_many(t, 3, keys, vals, lens), OX_OK);
    T_EQ_MEM(vals[0], lens[0], "A", 1);
    T_ASSERT(vals[1] == NULL);
    T_EQ_INT(lens[1], 0);
    T_EQ_MEM(vals[2], lens[2], "CC", 2);
    for (int i = 0; i < 3; i++)
        free(vals[i]);
    ox_store_close(s);
}

static void batch_write_is_all_or_nothing(void)
{
    ox_store *s;
    T_EQ_INT(u_open("ops7.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    ox_val keys[3] = {{"x", 1}, {"y", 1}, {"z", 1}};
    ox_val vals[3] = {{"1", 1}, {"2", 1}, {"3", 1}};
    T_EQ_INT(ox_batch_write(t, 3, keys, vals), OX_OK);
    uint64_t n;
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 3);
    /* The third key is invalid: nothing of the batch may land. */
    char big[600];
    memset(big, 'q', sizeof big);
    ox_val bad_keys[3] = {{"p", 1}, {"q", 1}, {big, (size_t)0x80000000u}};
    T_EQ_INT(ox_batch_write(t, 3, bad_keys, vals), OX_EKEYTOOLONG);
    T_EQ_INT(ox_contains(t, "p", 1), OX_NOTFOUND);
    T_EQ_INT(ox_contains(t, "q", 1), OX_NOTFOUND);
    size_t deleted;
    ox_val dkeys[4] = {{"x", 1}, {"nope", 4}, {"z", 1}, {"x", 1}};
    T_EQ_INT(ox_batch_delete(t, 4, dkeys, &deleted), OX_OK);
    T_EQ_U64(deleted, 2);
    T_EQ_INT(ox_count(t, &n), OX_OK);
    T_EQ_U64(n, 1);
    ox_store_close(s);
}

static void compare_and_swap_checks_the_current_value(void)
{
    ox_store *s;
    T_EQ_INT(u_open("ops8.mdb", NULL, &s), OX_OK);
    ox_table *t = ox_store_table(s);
    ox_val v1 = {"one", 3}, v2 = {"two", 3}, wrong = {"on", 2};
    T_EQ_INT(ox_compare_and_swap(t, "k", 1, NULL, &v1), OX_OK);       /* create if absent */
    T_EQ_INT(ox_compare_and_swap(t, "k", 1, NULL, &v2), OX_ECONFLICT); /* exists now */
    T_EQ_INT(ox_compare_and_swap(t, "k", 1, &wrong, &v2), OX_ECONFLICT);
    T_EQ_INT(ox_compare_and_swap(t, "k", 1, &v1, &v2), OX_OK);
    void *v;
    size_t n;
    T_EQ_INT(ox_get(t, "k", 1, &v, &n), OX_OK);
    T_EQ_MEM(v, n, "two", 3);
    free(v);
    T_EQ_INT(ox_compare_and_swap(t, "k", 1, &v2, NULL), OX_OK); /* delete */
    T_EQ_INT(ox_contains(t, "k", 1), OX_NOTFOUND);
    T_EQ_INT(ox_compare_and_swap(t, "k", 1, &v2, NULL), OX_ECONFLICT);
    ox_store_close(s);
}

static void tables_are_isolated_namespaces(void)
{
    ox_store *s;
    T_EQ_INT(u_open("ops9.mdb", NULL, &s), OX_OK);
    ox_table *a, *b, *a2;
    T_EQ_INT(ox_table_open(s, "alpha", &a), OX_OK);
    T_EQ_INT(ox_table_open(s, "beta", &b), OX_OK);
    T_EQ_INT(ox_table_open(s, "alpha", &a2), OX_OK);
    T_ASSERT(a == a2);
    T_EQ_STR(ox_table_name(b), "beta");
    T_EQ_INT(ox_put(a, "k", 1, "A", 1), OX_OK);
    T_EQ_INT(ox_put(b, "k", 1, "B", 1), OX_OK);
    T_EQ_INT(ox_contains(ox_store_table(s), "k", 1), OX_NOTFOUND);
    void *v;
    size_t n;
    T_EQ_INT(ox_get(b, "k", 1, &v, &n), OX_OK);
    T_EQ_MEM(v, n, "B", 1);
    free(v);
    T_EQ_INT(ox_delete(a, "k", 1), OX_OK);
    T_EQ_INT(ox_contains(b, "k", 1), OX_OK);
    T_EQ_INT(ox_table_open(s, "", &a2), OX_EINVAL);
    ox_store_close(s);
}

int main(void)
{
    T_RUN(put_get_roundtrip_copies_value);
    T_RUN(binary_keys_and_values_keep_every_byte);
    T_RUN(key_limits_are_enforced);
    T_RUN(empty_key_is_a_key_like_any_other);
    T_RUN(delete_and_contains);
    T_RUN(count_is_exact_after_puts_overwrites_and_deletes);
    T_RUN(get_many_reports_missing_keys_as_null);
    T_RUN(batch_write_is_all_or_nothing);
    T_RUN(compare_and_swap_checks_the_current_value);
    T_RUN(tables_are_isolated_namespaces);
    return T_MAIN_END();
}
