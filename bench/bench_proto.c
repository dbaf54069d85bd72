/* make bench-proto: RESP parser and writer throughput on one core (not a test).
 *
 * Parsing: a pipeline of identical commands is "read" in 16 KiB chunks through
 * resp_parser_reserve/commit (the memcpy stands in for read()), and every command is
 * taken with resp_parser_next. Writing: typical replies appended to a resp_buf, which is
 * "sent" (consumed) every 64 replies, as one writev per event-loop turn would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resp.h"

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n copies of one command, back to back. */
static char *build_pipeline(const char *cmd, size_t cmdlen, size_t n, size_t *len)
{
    char *s = malloc(cmdlen * n);
    if (!s) abort();
    for (size_t i = 0; i < n; i++) memcpy(s + i * cmdlen, cmd, cmdlen);
    *len = cmdlen * n;
    return s;
}

static void bench_parse(const char *name, const char *cmd, size_t cmdlen, double seconds)
{
    const size_t per_round = 4096, chunk = 16384;
    size_t len, total = 0, bytes = 0, argbytes = 0;
    char *in = build_pipeline(cmd, cmdlen, per_round, &len);
    resp_parser *p;
    double start = now_sec(), el;

    if (resp_parser_new(&p, NULL, NULL)) abort();
    do {
        for (size_t off = 0; off < len;) {
            void *dst;
            size_t room, n = len - off < chunk ? len - off : chunk;
            resp_cmd c;
            if (resp_parser_reserve(p, n, &dst, &room)) abort();
            memcpy(dst, in + off, n);
            resp_parser_commit(p, n);
            off += n;
            while (resp_parser_next(p, &c) == RESP_OK) {
                argbytes += c.argv[c.argc - 1].len;
                total++;
            }
        }
        bytes += len;
        el = now_sec() - start;
    } while (el < seconds);
    if (argbytes == 0) abort();
    printf("parse %-28s %8.2f M commands/s  %7.1f MB/s\n", name, (double)total / el / 1e6,
           (double)bytes / el / 1e6);
    resp_parser_free(p);
    free(in);
}

static void bench_write(int proto, double seconds)
{
    resp_buf *b;
    size_t total = 0;
    double start = now_sec(), el;
    static const char value[] = "value";

    if (resp_buf_new(&b, proto, NULL)) abort();
    do {
        for (int round = 0; round < 1024; round++) {
            for (int i = 0; i < 16; i++) {
                resp_write_simple(b, "OK", 2);
                resp_write_bulk(b, value, 5);
                resp_write_int(b, round * 16 + i);
                resp_write_null(b);
            }
            total += 64;
            if (resp_buf_consume(b, resp_buf_pending(b))) abort();
        }
        el = now_sec() - start;
    } while (el < seconds);
    printf("write RESP%d +OK/$5/:n/null mix    %8.2f M replies/s\n", proto,
           (double)total / el / 1e6);
    resp_buf_free(b);
}

static void bench_write_double(double seconds)
{
    resp_buf *b;
    size_t total = 0;
    double start = now_sec(), el;

    if (resp_buf_new(&b, 3, NULL)) abort();
    do {
        for (int round = 0; round < 1024; round++) {
            for (int i = 0; i < 64; i++) resp_write_double(b, (round * 64 + i) / 7.0);
            total += 64;
            resp_buf_consume(b, resp_buf_pending(b));
        }
        el = now_sec() - start;
    } while (el < seconds);
    printf("write RESP3 double (%%.17g)          %8.2f M replies/s\n",
           (double)total / el / 1e6);
    resp_buf_free(b);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    static const char get[] = "*2\r\n$3\r\nGET\r\n$8\r\nkey:1234\r\n";
    static const char set[] = "*3\r\n$3\r\nSET\r\n$8\r\nkey:1234\r\n$5\r\nvalue\r\n";
    static const char inl[] = "GET key:1234\r\n";
    char *set1k = malloc(2048);
    int n;

    if (!set1k) abort();
    n = snprintf(set1k, 2048, "*3\r\n$3\r\nSET\r\n$8\r\nkey:1234\r\n$1024\r\n");
    memset(set1k + n, 'v', 1024);
    memcpy(set1k + n + 1024, "\r\n", 2);

    bench_parse("pipelined GET", get, sizeof get - 1, secs);
    bench_parse("pipelined SET (5 B value)", set, sizeof set - 1, secs);
    bench_parse("pipelined SET (1 KiB value)", set1k, (size_t)n + 1026, secs);
    bench_parse("pipelined inline GET", inl, sizeof inl - 1, secs);
    bench_write(2, secs);
    bench_write(3, secs);
    bench_write_double(secs);
    free(set1k);
    return 0;
}
