/* Inline requests: Redis's sdssplitargs (sds.c) over a line with a known length.
 *
 * Redis runs it on a NUL-terminated copy of the line; the line holds no NUL (its end was
 * found with strchr), so "at the NUL" here is "at n". The quirks kept on purpose:
 * blanks between arguments are isspace() (so '\v' and '\f' too), but an unquoted argument
 * ends only at ' ', '\t', '\r' or '\n'; a quote may open in the middle of an argument
 * (ab"cd" is abcd) but a closing quote must be followed by a blank or the end. */
#include "resp_internal.h"

static int is_blank(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static char unescape(char c)
{
    switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;
    }
}

/* After a closing quote at i: only a blank or the end may follow. */
static int closes_cleanly(const char *s, size_t n, size_t i)
{
    return i + 1 >= n || is_blank((unsigned char)s[i + 1]);
}

long resp_splitargs(char *s, size_t n, resp_arg *args)
{
    size_t i = 0;
    long argc = 0;
    for (;;) {
        while (i < n && is_blank((unsigned char)s[i])) i++;
        if (i == n) return argc;
        size_t start = i, w = i;
        int inq = 0, insq = 0, done = 0;
        while (!done) {
            if (i == n) {
                if (inq || insq) return -1;
                break;
            }
            char c = s[i];
            char out = c;
            int emit = 1;
            if (inq) {
                if (c == '\\' && i + 3 < n && s[i + 1] == 'x' &&
                    hex_val((unsigned char)s[i + 2]) >= 0 && hex_val((unsigned char)s[i + 3]) >= 0) {
                    out = (char)(hex_val((unsigned char)s[i + 2]) * 16 +
                                 hex_val((unsigned char)s[i + 3]));
                    i += 3;
                } else if (c == '\\' && i + 1 < n) {
                    out = unescape(s[++i]);
                } else if (c == '"') {
                    if (!closes_cleanly(s, n, i)) return -1;
                    emit = 0, done = 1;
                }
            } else if (insq) {
                if (c == '\\' && i + 1 < n && s[i + 1] == '\'') {
                    out = s[++i];
                } else if (c == '\'') {
                    if (!closes_cleanly(s, n, i)) return -1;
                    emit = 0, done = 1;
                }
            } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                emit = 0, done = 1;
            } else if (c == '"') {
                emit = 0, inq = 1;
            } else if (c == '\'') {
                emit = 0, insq = 1;
            }
            if (emit) {
                if (args) s[w] = out;
                w++;
            }
            i++;
        }
        if (args) {
            args[argc].ptr = s + start;
            args[argc].len = w - start;
        }
        argc++;
    }
}
