/* sha1.h — SHA-1 (FIPS 180-4), for the names of Lua scripts (EVALSHA, SCRIPT LOAD) and
 * redis.sha1hex: Redis names a script by the SHA-1 of its body. Not for security.
 * Pure functions, any thread. */
#ifndef SHA1_H
#define SHA1_H

#include <stddef.h>

/* Writes the 40 lower-case hex digits of SHA-1(p[0..len)) and a NUL into hex[41]. */
void sha1_hex(const void *p, size_t len, char hex[41]);

#endif
