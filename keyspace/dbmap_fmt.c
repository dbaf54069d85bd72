/* dbmap_fmt.c — reading the stored database map (format in dbmap_fmt.h). */
#include "dbmap_fmt.h"

#include <stdio.h>

int dbmap_name_number(const void *p, size_t len)
{
    const char *s = p;
    int n = 0;
    if (len == 0 || len > 9 || (len > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        n = n * 10 + (s[i] - '0');
    }
    return n;
}

int dbmap_table_number(ox_snapshot *snap, ox_table *map, int db)
{
    char k[16];
    int kl = snprintf(k, sizeof k, "%d", db);
    ox_val v;
    int rc = map ? ox_snapshot_get(snap, map, k, (size_t)kl, &v) : OX_NOTFOUND;
    if (rc == OX_NOTFOUND)
        return db;
    return rc == OX_OK ? dbmap_name_number(v.data, v.len) : -1;
}

uint64_t dbmap_stored_version(ox_snapshot *snap, ox_table *map)
{
    ox_val v;
    uint64_t n = 0;
    if (!map || ox_snapshot_get(snap, map, "v", 1, &v) != OX_OK || v.len != 8)
        return 0;
    for (int i = 0; i < 8; i++)
        n = (n << 8) | ((const unsigned char *)v.data)[i];
    return n;
}
