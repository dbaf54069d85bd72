/* log.h — the server's log: Redis's log line format, to stderr or logfile. Any thread
 * (each line is written whole). */
#ifndef LOG_H
#define LOG_H



enum { SRV_LOG_DEBUG, SRV_LOG_VERBOSE, SRV_LOG_NOTICE, SRV_LOG_WARNING };
void srv_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int srv_log_open(const char *logfile, int level); /* 0, or -1 with errno */

#endif
