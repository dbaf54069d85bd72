/* Command-name lookup: case-insensitive, exact length, duplicates refused. */
#include <ctype.h>
#include <stdio.h>

#include "resp.h"
#include "resp_testutil.h"
#include "test.h"

T_MAIN_BEGIN;

static const char *const names[] = {
    "get", "set", "del", "mget", "mset", "incrbyfloat", "client", "config", "hello", "ping",
    "zrangebyscore", "@x", "EXEC", "a",
};
#define NNAMES (sizeof names / sizeof names[0])

static char flip_case(char c)
{
    return isalpha((unsigned char)c) ? (char)(c ^ 0x20) : c;
}

static void test_finds_every_name_in_any_case(void)
{
    resp_cmdtab *t;
    char up[32];
    T_EQ_INT(resp_cmdtab_new(&t, names, NNAMES, NULL), RESP_OK);
    for (size_t i = 0; i < NNAMES; i++) {
        size_t len = strlen(names[i]);
        for (size_t j = 0; j < len; j++)
            up[j] = j % 2 ? flip_case(names[i][j]) : names[i][j];
        T_EQ_INT(resp_cmdtab_find(t, names[i], len), (int)i);
        T_EQ_INT(resp_cmdtab_find(t, up, len), (int)i);
    }
    T_EQ_INT(resp_cmdtab_find(t, "GET", 3), 0);
    T_EQ_INT(resp_cmdtab_find(t, "exec", 4), 12);
    resp_cmdtab_free(t);
}

static void test_unknown_names_are_not_found(void)
{
    static const char *const misses[] = { "ge", "gett", "", "`x", "@X ", "get\0", "sett",
                                          "zrangebyscorE1", "b" };
    static const size_t lens[] = { 2, 4, 0, 2, 3, 4, 4, 14, 1 };
    resp_cmdtab *t;
    T_EQ_INT(resp_cmdtab_new(&t, names, NNAMES, NULL), RESP_OK);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        if (resp_cmdtab_find(t, misses[i], lens[i]) != -1) T_FAIL("found miss %zu", i);
    T_EQ_INT(resp_cmdtab_find(t, "get xx", 3), 0); /* only len bytes count */
    resp_cmdtab_free(t);
}

static void test_many_names(void)
{
    enum { N = 3000 };
    static char store[N][16];
    const char *list[N];
    resp_cmdtab *t;
    for (int i = 0; i < N; i++) {
        snprintf(store[i], sizeof store[i], "cmd%d", i);
        list[i] = store[i];
    }
    T_EQ_INT(resp_cmdtab_new(&t, list, N, NULL), RESP_OK);
    for (int i = 0; i < N; i++) T_EQ_INT(resp_cmdtab_find(t, store[i], strlen(store[i])), i);
    T_EQ_INT(resp_cmdtab_find(t, "CMD2999", 7), 2999);
    T_EQ_INT(resp_cmdtab_find(t, "cmd3000", 7), -1);
    resp_cmdtab_free(t);
}

static void test_bad_tables_are_refused(void)
{
    static const char *const dup[] = { "get", "set", "GeT" };
    static const char *const empty[] = { "get", "" };
    resp_cmdtab *t = (resp_cmdtab *)&t;
    T_EQ_INT(resp_cmdtab_new(&t, dup, 3, NULL), RESP_EINVAL);
    T_ASSERT(t == NULL);
    T_EQ_INT(resp_cmdtab_new(&t, empty, 2, NULL), RESP_EINVAL);
    T_EQ_INT(resp_cmdtab_new(&t, NULL, 0, NULL), RESP_OK);
    T_EQ_INT(resp_cmdtab_find(t, "get", 3), -1);
    resp_cmdtab_free(t);
    resp_cmdtab_free(NULL);
}

static void test_allocation_failure_is_reported(void)
{
    for (long at = 1; at <= 4; at++) {
        failing_alloc f = { 0, at, 0 };
        resp_allocator a = fa_allocator(&f);
        resp_cmdtab *t;
        int rc = resp_cmdtab_new(&t, names, NNAMES, &a);
        T_EQ_INT(rc, at <= 3 ? RESP_ENOMEM : RESP_OK);
        resp_cmdtab_free(t);
        T_EQ_INT(f.live, 0);
    }
}

int main(void)
{
    T_RUN(test_finds_every_name_in_any_case);
    T_RUN(test_unknown_names_are_not_found);
    T_RUN(test_many_names);
    T_RUN(test_bad_tables_are_refused);
    T_RUN(test_allocation_failure_is_reported);
    return T_MAIN_END();
}
