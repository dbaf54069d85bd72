/* keyargs.h — the argument grammars of SET/GETEX and of EXPIRE, PEXPIRE, EXPIREAT and
 * PEXPIREAT, with their expiry arithmetic, exactly as Redis 7.0 has them (t_string.c,
 * expire.c). Pure functions: no store, no reply, no clock of their own. Shared by the
 * server's commands (cmd_string.c, cmd_expire.c), which reply the errors, and by
 * oxistore-check's restore (tools/restore.c), which applies the same commands to a file.
 * Depends on resp.h and num_str2ll (util.c) alone.
 *
 * Errors: KEYARGS_OK (0) or a keyargs_err code; keyargs_errtext words it as Redis does.
 */
#ifndef KEYARGS_H
#define KEYARGS_H

#include <stddef.h>

#include "resp.h"

/* SET's and GETEX's options. */
enum { SET_NX = 1, SET_XX = 2, SET_GET = 4, SET_KEEPTTL = 8, SET_EX = 16, SET_PX = 32,
       SET_EXAT = 64, SET_PXAT = 128, SET_PERSIST = 256 };
#define SET_EXPIRES (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

/* The EXPIRE family's options. */
enum { EXPIRE_NX = 1, EXPIRE_XX = 2, EXPIRE_GT = 4, EXPIRE_LT = 8 };

typedef enum keyargs_err {
    KEYARGS_OK = 0,
    KEYARGS_SYNTAX,      /* "syntax error" */
    KEYARGS_NOTINT,      /* "value is not an integer or out of range" */
    KEYARGS_BADTIME,     /* "invalid expire time in '<cmd>' command" */
    KEYARGS_UNSUPPORTED, /* "Unsupported option <opt>" */
    KEYARGS_NX_AND,      /* "NX and XX, GT or LT options at the same time are not compatible" */
    KEYARGS_GT_AND_LT    /* "GT and LT options at the same time are not compatible" */
} keyargs_err;

/* Redis's text for code, without the "ERR " prefix, into buf (always NUL-terminated): cmd
 * names the command (lower case, for KEYARGS_BADTIME), opt the offending option (for
 * KEYARGS_UNSUPPORTED; shown up to a NUL byte, as Redis formats it as a C string). */
void keyargs_errtext(int code, const char *cmd, const resp_arg *opt, char *buf, size_t cap);

/* SET's (getex 0) or GETEX's (getex 1) options in argv[from..argc), as Redis's
 * parseExtendedStringArgumentsOrReply: an expiry option excludes the other expiry options,
 * KEEPTTL and PERSIST but may repeat itself (the last value wins); NX excludes XX. Sets
 * *flags and *expire_arg (the index of the expiry option's value, 0 if none). KEYARGS_OK
 * or KEYARGS_SYNTAX. */
int keyargs_set(const resp_arg *argv, int argc, int from, int getex, int *flags,
                int *expire_arg);

/* The absolute expiry time in ms of an expiry option's value, as Redis's
 * getExpireMillisecondsOrReply: unit is SET_EX, SET_PX, SET_EXAT or SET_PXAT, now the
 * clock in ms. KEYARGS_OK, KEYARGS_NOTINT, KEYARGS_BADTIME (not > 0, or an overflow). */
int keyargs_set_expire(const resp_arg *a, int unit, long long now, long long *at);

/* The EXPIRE family's options in argv[3..argc), as Redis's
 * parseExtendedExpireArgumentsOrReply: any order, repeats allowed, the incompatible pairs
 * refused after the whole list was read. Sets *flags. KEYARGS_OK, KEYARGS_UNSUPPORTED
 * (*bad: the option's index), KEYARGS_NX_AND, KEYARGS_GT_AND_LT. */
int keyargs_expire_options(const resp_arg *argv, int argc, int *flags, int *bad);

/* The EXPIRE family's time in ms: the argument (seconds != 0: in seconds) plus basetime
 * (now for EXPIRE and PEXPIRE, 0 for the ...AT forms). KEYARGS_OK, KEYARGS_NOTINT,
 * KEYARGS_BADTIME (an overflow). A result not in the future deletes the key. */
int keyargs_expire_time(const resp_arg *a, int seconds, long long basetime, long long *when);

/* 1 if the options forbid setting the time `when` on a key whose expiry time is cur
 * (has_ttl 0: none). A key without one counts as never expiring, so GT never passes and LT
 * always does (as in Redis). */
int keyargs_expire_refused(int flags, int has_ttl, long long cur, long long when);

#endif
