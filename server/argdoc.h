/* argdoc.h — a command's arguments as Redis 7.0's COMMAND DOCS describes them (its
 * "arguments" field): the command table (cmd.c) writes them as one short string per
 * command; this module checks such a string and writes the reply from it.
 *
 * The string is the arguments in order, separated by one space ("" for none). Each is
 *   T:NAME[=TOKEN][#KEY][@SINCE][~DEPRECATED][?][*][+][(ARGUMENTS)]
 * or, for a pure token named as its token in lower case, P=TOKEN then the same suffixes:
 *   T           the type: k key, s string, i integer, d double, p pattern, t unix-time,
 *               P pure-token, b block, o oneof;
 *   NAME        Redis's name of the argument (it may hold ':' and '/': "ip:port");
 *   TOKEN       the word that comes before the argument (or is it, for a pure token);
 *   KEY         the index of the key spec the argument is found by (every key has one;
 *               SORT's patterns too);
 *   SINCE, DEPRECATED  versions ("6.2.0") when the argument came or was deprecated;
 *   ? * +       Redis's flags optional, multiple, multiple_token;
 *   (ARGUMENTS) a block's or a oneof's members, in the same form (only they have them).
 * NAME and TOKEN are at most ARGDOC_WORD_MAX bytes, none of " =#@~?*+()".
 * Example, SET's: "k:key#0 s:value o:condition@2.6.12?(P=NX P=XX) P=GET@6.2.0? ...".
 *
 * Pure functions of their arguments: any thread, nothing allocated.
 */
#ifndef ARGDOC_H
#define ARGDOC_H

#include "resp.h"

#define ARGDOC_WORD_MAX 64

/* 0 if s is well formed (above), -1 if not. */
int argdoc_check(const char *s);

/* Writes the arguments s describes (well formed: argdoc_check) as COMMAND DOCS does: an
 * array of one map per argument (name, type, key_spec_index, token, since,
 * deprecated_since, flags, arguments, each when the argument has it). */
void argdoc_write(resp_buf *out, const char *s);

#endif
