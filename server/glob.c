/* glob.c — glob matching with the semantics of Redis's stringmatchlen, written as a
 * backtracking matcher that remembers only the last '*' (linear for patterns without
 * classes after a star, never recursive, so no pattern can exhaust the stack). */
#include "glob.h"

static unsigned char fold(unsigned char ch, int nocase)
{
    return nocase && ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch + 32) : ch;
}

/* Matches one character class starting after '['; *pi advances past its ']'. An
 * unterminated class ends at the pattern's end, as in Redis. */
static int match_class(const char *pat, size_t plen, size_t *pi, unsigned char ch, int nocase)
{
    size_t i = *pi;
    int negate = 0, match = 0;
    if (i < plen && pat[i] == '^') {
        negate = 1;
        i++;
    }
    for (; i < plen && pat[i] != ']'; i++) {
        if (pat[i] == '\\' && i + 1 < plen) {
            i++;
            if (fold((unsigned char)pat[i], nocase) == fold(ch, nocase))
                match = 1;
        } else if (i + 2 < plen && pat[i + 1] == '-') {
            unsigned char lo = fold((unsigned char)pat[i], nocase);
            unsigned char hi = fold((unsigned char)pat[i + 2], nocase);
            unsigned char c = fold(ch, nocase);
            if (lo > hi) {
                unsigned char t = lo;
                lo = hi;
                hi = t;
            }
            if (c >= lo && c <= hi)
                match = 1;
            i += 2;
        } else if (fold((unsigned char)pat[i], nocase) == fold(ch, nocase)) {
            match = 1;
        }
    }
    *pi = i < plen ? i + 1 : i; /* past ']' */
    return negate ? !match : match;
}

int glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase)
{
    size_t p = 0, s = 0, star_p = (size_t)-1, star_s = 0;
    while (s < slen) {
        if (p < plen) {
            char pc = pat[p];
            if (pc == '*') {
                while (p < plen && pat[p] == '*')
                    p++;
                if (p == plen)
                    return 1;
                star_p = p;
                star_s = s;
                continue;
            }
            if (pc == '?') {
                p++;
                s++;
                continue;
            }
            if (pc == '[') {
                size_t q = p + 1;
                if (match_class(pat, plen, &q, (unsigned char)str[s], nocase)) {
                    p = q;
                    s++;
                    continue;
                }
            } else {
                size_t q = p;
                if (pc == '\\' && p + 1 < plen)
                    q++;
                if (fold((unsigned char)pat[q], nocase) == fold((unsigned char)str[s], nocase)) {
                    p = q + 1;
                    s++;
                    continue;
                }
            }
        }
        if (star_p == (size_t)-1)
            return 0;
        p = star_p; /* let the last star take one more character */
        s = ++star_s;
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}
