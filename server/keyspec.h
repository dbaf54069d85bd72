/* keyspec.h — Redis 7.0's key specifications: where a command's keys are in its arguments
 * and how it uses each. The command table (cmd.c) writes them as short strings; this
 * module parses them, finds the keys of a given argument list (COMMAND GETKEYS), and works
 * out what COMMAND INFO reports from them (first key, last key, step, movablekeys).
 *
 * A spec is "FLAGS; BEGIN; FIND" or "FLAGS; BEGIN; FIND; note TEXT"; a command's specs are
 * joined by " | " ("" for none):
 *   FLAGS  some of RO RW OW RM access update insert delete not_key incomplete
 *          variable_flags (Redis's names), space separated, any order
 *   BEGIN  "index N": the search starts at argv[N];
 *          "keyword WORD N": just after the argument WORD (any case), looked for from
 *          argv[N] forwards, or from argv[argc + N] backwards when N < 0;
 *          "unknown": the command finds its keys itself
 *   FIND   "range LAST STEP LIMIT": keys from there to LAST (relative to the first key;
 *          < 0: from the end, with LIMIT > 1 dividing what remains) every STEP;
 *          "keynum IDX FIRST STEP": the argument IDX after the start says how many keys
 *          there are; they begin FIRST after the start, every STEP;
 *          "unknown"
 *   note   free text (without "; " or " | ") that COMMAND INFO shows with the spec.
 * Example: "RW access delete; index 1; range 0 1 0 | RW insert; index 2; range 0 1 0".
 *
 * Pure functions of their arguments: any thread, nothing allocated. A parsed keyspec
 * points into the string it was parsed from (the table's, which lives for ever).
 */
#ifndef KEYSPEC_H
#define KEYSPEC_H

#include <stddef.h>

#include "resp.h"

#define KEYSPEC_MAX 4 /* specs per command (Redis's commands have at most 3) */

/* The flag bits, in the order Redis lists them; keyspec_flag_names[i] names bit i. */
enum keyspec_flag {
    KEYSPEC_RO = 1u << 0,
    KEYSPEC_RW = 1u << 1,
    KEYSPEC_OW = 1u << 2,
    KEYSPEC_RM = 1u << 3,
    KEYSPEC_ACCESS = 1u << 4,
    KEYSPEC_UPDATE = 1u << 5,
    KEYSPEC_INSERT = 1u << 6,
    KEYSPEC_DELETE = 1u << 7,
    KEYSPEC_NOT_KEY = 1u << 8,
    KEYSPEC_INCOMPLETE = 1u << 9,
    KEYSPEC_VARIABLE_FLAGS = 1u << 10,
};
#define KEYSPEC_NFLAGS 11
extern const char *const keyspec_flag_names[KEYSPEC_NFLAGS];

enum keyspec_type { KEYSPEC_UNKNOWN, KEYSPEC_INDEX, KEYSPEC_KEYWORD, KEYSPEC_RANGE,
                    KEYSPEC_KEYNUM };

typedef struct keyspec {
    unsigned flags;         /* enum keyspec_flag */
    int begin;              /* KEYSPEC_INDEX, KEYSPEC_KEYWORD or KEYSPEC_UNKNOWN */
    int pos;                /* index: N; keyword: where the search starts (N) */
    const char *keyword;    /* keyword: WORD (keyword_len bytes, not NUL-terminated) */
    size_t keyword_len;
    int find;               /* KEYSPEC_RANGE, KEYSPEC_KEYNUM or KEYSPEC_UNKNOWN */
    int a, b, c;            /* range: LAST STEP LIMIT; keynum: IDX FIRST STEP */
    const char *note;       /* NULL, or note_len bytes */
    size_t note_len;
} keyspec;

/* Parses the specs in s into out[0 .. cap). The number of specs (0 for ""), or -1 if s is
 * malformed or holds more than cap. */
int keyspec_parse(const char *s, keyspec *out, int cap);

/* What COMMAND INFO reports of the n specs, as Redis derives it: the first key, the last
 * (negative: from the end) and the step of the keys that one plain range covers (0 0 0 if
 * none does), and *movable 1 when some keys lie outside it (another kind of spec, a range
 * that does not follow on, an incomplete spec). */
void keyspec_legacy(const keyspec *ks, int n, int *first, int *last, int *step, int *movable);

/* One key found: its index in argv, and the flags it is used with. */
typedef struct keyspec_key {
    int pos;
    unsigned flags;
} keyspec_key;

/* The keys of the command line argv[0 .. argc) (argv[0] the command's name, or for a
 * subcommand the container's, argv[1] the subcommand's) under the n specs, into
 * out[0 .. cap), as Redis 7.0's COMMAND GETKEYS finds them: the specs in order, but for
 * not_key ones. When the arguments do not fit a spec (numkeys not an integer or under 1,
 * a key before the start or past the end) or one is unknown or incomplete, Redis asks the
 * command's own key finder; here, the one its keynum commands share: numkeys as C's atoi
 * reads it, those keys first, then the other specs' (a destination), all without flags —
 * none for a command with another shape. Returns how many were found (at most cap). */
int keyspec_find(const keyspec *ks, int n, int argc, const resp_arg *argv, keyspec_key *out,
                 int cap);

#endif
