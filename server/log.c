/* log.c — log lines in Redis's format ("pid:role dd Mon yyyy hh:mm:ss.mmm <c> message")
 * to stderr or the configured logfile. */
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "srv.h"

int srv_log_open(const char *logfile, int level)
{
    atomic_store(&srv.log_level, level);
    if (!logfile || !*logfile)
        return 0;
    FILE *fp = fopen(logfile, "a");
    if (!fp)
        return -1;
    srv.log_fp = fp;
    return 0;
}

void srv_log(int level, const char *fmt, ...)
{
    static const char marks[] = ".-*#";
    if (level < atomic_load(&srv.log_level))
        return;
    char msg[1024], when[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    size_t off = strftime(when, sizeof when, "%d %b %Y %H:%M:%S.", &tm);
    snprintf(when + off, sizeof when - off, "%03d", (int)(tv.tv_usec / 1000));
    FILE *fp = srv.log_fp ? srv.log_fp : stderr;
    fprintf(fp, "%d:M %s %c %s\n", (int)getpid(), when, marks[level & 3], msg);
    fflush(fp);
}
