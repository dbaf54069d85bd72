/* glob.h — Redis's glob-style pattern matching (stringmatchlen): '*', '?', '[abc]',
 * '[^a]', '[a-z]', and '\x' to match x literally. */
#ifndef GLOB_H
#define GLOB_H

#include <stddef.h>

/* 1 if str matches pattern; nocase compares ASCII letters case-insensitively. */
int glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase);

#endif
