/* progress.c — the progress line of long operations: on stderr, redrawn in place with
 * '\r', only when stderr is a terminal (a log or a pipe gets nothing). The line state is
 * guarded by a mutex because progress_watch's thread draws it too. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int shown;            /* a line is on the terminal */
static int active;           /* between begin and end */
static char what[128];
static const char *unit_s;
static uint64_t total, last_ms, start_ms;
static pthread_t th;
static int th_on, th_stop;
static const char *watch_path;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Draws the line (mu held). */
static void draw(uint64_t done)
{
    if (total)
        fprintf(stderr, "\r%s %llu/%llu %s (%llu%%)  ", what, (unsigned long long)done,
                (unsigned long long)total, unit_s,
                (unsigned long long)(done >= total ? 100 : done * 100 / total));
    else
        fprintf(stderr, "\r%s %llu %s  ", what, (unsigned long long)done, unit_s);
    fflush(stderr);
    shown = 1;
}

/* Erases the line (mu held). */
static void erase(void)
{
    if (shown)
        fprintf(stderr, "\r\033[K");
    shown = 0;
}

void progress_begin(const char *w, uint64_t tot, const char *unit)
{
    pthread_mutex_lock(&mu);
    active = isatty(STDERR_FILENO);
    snprintf(what, sizeof what, "%s", w);
    unit_s = unit;
    total = tot;
    last_ms = 0;
    start_ms = now_ms();
    pthread_mutex_unlock(&mu);
}

void progress_set(uint64_t done)
{
    pthread_mutex_lock(&mu);
    uint64_t t = active ? now_ms() : 0;
    if (active && t - last_ms >= 100) {
        last_ms = t;
        draw(done);
    }
    pthread_mutex_unlock(&mu);
}

void progress_end(void)
{
    pthread_mutex_lock(&mu);
    erase();
    active = 0;
    pthread_mutex_unlock(&mu);
}

void tool_err(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&mu);
    erase();
    fprintf(stderr, TOOL_NAME ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&mu);
}

static void *watcher(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    while (!th_stop) {
        struct stat st;
        uint64_t done = watch_path ? (stat(watch_path, &st) == 0 ? (uint64_t)st.st_size : 0)
                                   : (now_ms() - start_ms) / 1000;
        draw(done);
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += 200 * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&cv, &mu, &dl);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

void progress_watch(const char *w, const char *path, uint64_t tot, const char *unit)
{
    progress_begin(w, tot, unit);
    pthread_mutex_lock(&mu);
    watch_path = path;
    th_stop = 0;
    th_on = active && pthread_create(&th, NULL, watcher, NULL) == 0;
    pthread_mutex_unlock(&mu);
}

void progress_unwatch(void)
{
    pthread_mutex_lock(&mu);
    int on = th_on;
    th_stop = 1;
    th_on = 0;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    if (on)
        pthread_join(th, NULL);
    progress_end();
}
