/* Minimal test harness shared by every test program.
 *
 * A test is a `static void name(void)` registered with T_RUN(name) from main().
 * Assertions record the first failure of the running test (file, line, message) and
 * return from it. T_MAIN_END prints one line per failed test and a closing
 * "RESULT <passed> <failed>" line that scripts/run-tests.sh adds up.
 */
#ifndef OX_TEST_H
#define OX_TEST_H

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern int t_failed_now;
extern int t_passed, t_failed;
extern const char *t_current;

/* The test's scratch directory: OX_TEST_DIR, which scripts/run-tests.sh makes for each
 * program. A program run by hand without it gets a fresh one under $TMPDIR (or /tmp)
 * before main, made its working directory and named on stderr, so that files it leaves
 * (a database, a server's data) never meet the next run. */
__attribute__((constructor)) static void t_scratch_(void)
{
    if (getenv("OX_TEST_DIR"))
        return;
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/oxtest.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir) || chdir(dir) || setenv("OX_TEST_DIR", dir, 1)) {
        perror("the test's scratch directory");
        exit(2);
    }
    fprintf(stderr, "scratch directory %s\n", dir);
}

static inline const char *t_dir(void)
{
    return getenv("OX_TEST_DIR");
}

#define T_FAIL(...)                                                                     \
    do {                                                                                \
        fprintf(stderr, "FAIL %s (%s:%d): ", t_current, __FILE__, __LINE__);             \
        fprintf(stderr, __VA_ARGS__);                                                   \
        fputc('\n', stderr);                                                            \
        t_failed_now = 1;                                                               \
        return;                                                                         \
    } while (0)

#define T_ASSERT(c)                                                                     \
    do { if (!(c)) T_FAIL("assertion failed: %s", #c); } while (0)

#define T_EQ_INT(a, b)                                                                  \
    do {                                                                                \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                         \
        if (t_a_ != t_b_) T_FAIL("%s == %lld, expected %s == %lld", #a, t_a_, #b, t_b_); \
    } while (0)

#define T_EQ_U64(a, b)                                                                  \
    do {                                                                                \
        unsigned long long t_a_ = (unsigned long long)(a), t_b_ = (unsigned long long)(b); \
        if (t_a_ != t_b_) T_FAIL("%s == %llu, expected %llu", #a, t_a_, t_b_);          \
    } while (0)

/* Compares len bytes of a against the NUL-terminated or sized expectation. */
#define T_EQ_MEM(a, alen, b, blen)                                                      \
    do {                                                                                \
        size_t t_al_ = (size_t)(alen), t_bl_ = (size_t)(blen);                          \
        if (t_al_ != t_bl_ || memcmp((a), (b), t_al_) != 0)                             \
            T_FAIL("%s (len %zu) != %s (len %zu): got \"%.*s\"", #a, t_al_, #b, t_bl_,   \
                   (int)(t_al_ > 200 ? 200 : t_al_), (const char *)(a));                \
    } while (0)

#define T_EQ_STR(a, b)                                                                  \
    do {                                                                                \
        const char *t_sa_ = (a), *t_sb_ = (b);                                          \
        if (!t_sa_ || strcmp(t_sa_, t_sb_) != 0)                                        \
            T_FAIL("%s == \"%s\", expected \"%s\"", #a, t_sa_ ? t_sa_ : "(null)", t_sb_); \
    } while (0)

/* 1 if test `name` runs: OX_TEST_ONLY unset, or one of its comma-separated words is in
 * name (by hand: OX_TEST_ONLY=server_starts,long_members runs those two). */
static inline int t_selected(const char *name)
{
    const char *only = getenv("OX_TEST_ONLY");
    while (only && *only) {
        size_t n = strcspn(only, ",");
        for (const char *p = name; n && *p; p++)
            if (!strncmp(p, only, n))
                return 1;
        only += n + (only[n] == ',');
    }
    return !only;
}

/* With OX_TEST_TIMES set in the environment, each test's time is printed (to find slow
 * ones; timing is never asserted). */
#define T_RUN(fn)                                                                       \
    if (t_selected(#fn))                                                                \
    do {                                                                                \
        uint64_t t_t0_ = t_now_ms();                                                    \
        t_current = #fn;                                                                \
        t_failed_now = 0;                                                               \
        fn();                                                                           \
        if (t_failed_now) t_failed++; else t_passed++;                                  \
        if (getenv("OX_TEST_TIMES"))                                                    \
            printf("time %s %llu ms\n", #fn, (unsigned long long)(t_now_ms() - t_t0_)); \
    } while (0)

#define T_MAIN_BEGIN                                                                    \
    int t_failed_now, t_passed, t_failed;                                               \
    const char *t_current

/* Flushed at once: a leak report at exit (LeakSanitizer) ends the process without flushing
 * stdio, and the runner needs the RESULT line whatever follows. */
#define T_MAIN_END()                                                                    \
    (printf("RESULT %d %d\n", t_passed, t_failed), fflush(stdout), t_failed ? 1 : 0)

/* Monotonic milliseconds, for deadlines in polling loops. */
static inline uint64_t t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
