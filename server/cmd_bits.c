/* cmd_bits.c — bit commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS (bitops.c in
 * Redis). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "db.h"
#include "num.h"

/* As Redis's getBitOffsetFromArgument: 0 <= offset < proto-max-bulk-len * 8. */
static int bit_offset_or_reply(cmd_ctx *x, const resp_arg *a, unsigned long long *off)
{
    long long v;
    if (!num_str2ll(a->ptr, a->len, &v) || v < 0 ||
        (unsigned long long)(v >> 3) >= (unsigned long long)srv.cfg.proto_max_bulk_len) {
        cmd_err(x, "-ERR bit offset is not an integer or out of range");
        return -1;
    }
    *off = (unsigned long long)v;
    return 0;
}

void cmd_setbit(cmd_ctx *x)
{
    const resp_arg *k = &x->argv[1];
    unsigned long long off;
    long long on;
    if (bit_offset_or_reply(x, &x->argv[2], &off))
        return;
    if (!num_str2ll(x->argv[3].ptr, x->argv[3].len, &on) || (on != 0 && on != 1)) {
        cmd_err(x, "-ERR bit is not an integer or out of range");
        return;
    }
    ox_val v = {NULL, 0};
    int found = db_get_string_or_reply(x, k, &v);
    if (found < 0)
        return;
    size_t byte = (size_t)(off >> 3), len = found ? v.len : 0;
    size_t total = byte + 1 > len ? byte + 1 : len;
    unsigned char *buf = calloc(1, total);
    if (!buf) {
        cmd_store_error(x, OX_ENOMEM);
        return;
    }
    if (len)
        memcpy(buf, v.data, len);
    unsigned mask = 1u << (7 - (off & 7));
    int old = (buf[byte] & mask) != 0;
    buf[byte] = (unsigned char)(on ? buf[byte] | mask : buf[byte] & ~mask);
    int rc = OX_OK;
    /* As Redis 7.0: a key created or grown, or a bit that changed, is a write (and a
     * watched key's change); setting a bit to what it was is neither. */
    int changed = !found || total > len || old != on;
    if (changed)
        rc = db_put_string(x, k, buf, total, 0, OX_PUT_KEEPTTL);
    free(buf);
    if (rc) {
        cmd_store_error(x, rc);
        return;
    }
    if (changed)
        cmd_notify(x, CONF_NOTIFY_STRING, "setbit", k);
    resp_write_int(x->out, old);
}

void cmd_getbit(cmd_ctx *x)
{
    unsigned long long off;
    if (bit_offset_or_reply(x, &x->argv[2], &off))
        return;
    ox_val v;
    int found = db_get_string_or_reply(x, &x->argv[1], &v);
    if (found < 0)
        return;
    size_t byte = (size_t)(off >> 3);
    int bit = found && byte < v.len &&
              (((const unsigned char *)v.data)[byte] & (1u << (7 - (off & 7))));
    resp_write_int(x->out, bit ? 1 : 0);
}

static long long popcount_bytes(const unsigned char *p, size_t n)
{
    long long c = 0;
    for (size_t i = 0; i < n; i++)
        c += __builtin_popcount(p[i]);
    return c;
}

void cmd_bitcount(cmd_ctx *x)
{
    long long start = 0, end = 0;
    int bits = 0, ranged = x->argc == 4 || x->argc == 5;
    /* The key first, as Redis 7.0: a missing key is 0 whatever the arguments. */
    ox_val v;
    int found = db_get_string_or_reply(x, &x->argv[1], &v);
    if (found <= 0) {
        if (found == 0)
            resp_write_int(x->out, 0);
        return;
    }
    if (!ranged && x->argc != 2) {
        cmd_syntax_error(x);
        return;
    }
    if (ranged) {
        if (cmd_ll_or_reply(x, &x->argv[2], &start) || cmd_ll_or_reply(x, &x->argv[3], &end))
            return;
        if (start < 0 && end < 0 && start > end) { /* Redis answers 0 before the unit */
            resp_write_int(x->out, 0);
            return;
        }
        if (x->argc == 5) {
            if (cmd_is(&x->argv[4], "bit"))
                bits = 1;
            else if (!cmd_is(&x->argv[4], "byte")) {
                cmd_syntax_error(x);
                return;
            }
        }
    }
    const unsigned char *p = v.data;
    if (!ranged) {
        resp_write_int(x->out, popcount_bytes(p, v.len));
        return;
    }
    if (!cmd_range_clamp(&start, &end, (long long)v.len * (bits ? 8 : 1))) {
        resp_write_int(x->out, 0);
        return;
    }
    if (!bits) {
        resp_write_int(x->out, popcount_bytes(p + start, (size_t)(end - start + 1)));
        return;
    }
    /* Whole bytes first..last, less the bits before start and after end. */
    size_t first = (size_t)(start >> 3), last = (size_t)(end >> 3);
    long long c = popcount_bytes(p + first, last - first + 1);
    c -= __builtin_popcount(p[first] & (0xffu << (8 - (start & 7))) & 0xffu);
    c -= __builtin_popcount(p[last] & (0xffu >> ((end & 7) + 1)));
    resp_write_int(x->out, c);
}

/* The first bit equal to bit among bits [from, to] of p (bit 0 is the top bit of p[0]), or
 * -1. Whole bytes that cannot hold it are skipped eight at a time where they can be (a
 * 512 MB value is one scan of memory, as in Redis). */
static long long bit_find(const unsigned char *p, long long from, long long to, int bit)
{
    unsigned char skip = bit ? 0x00 : 0xff;
    uint64_t skip8 = bit ? 0 : UINT64_MAX;
    for (long long i = from; i <= to;) {
        if ((i & 7) == 0 && i + 63 <= to) {
            uint64_t w;
            memcpy(&w, p + (i >> 3), 8);
            if (w == skip8) {
                i += 64;
                continue;
            }
        }
        if ((i & 7) == 0 && i + 7 <= to && p[i >> 3] == skip) {
            i += 8;
            continue;
        }
        if (((p[i >> 3] >> (7 - (i & 7))) & 1) == bit)
            return i;
        i++;
    }
    return -1;
}

/* BITPOS key bit [start [end [BYTE|BIT]]], in Redis 7.0's order: the bit first, then the
 * key (a missing one is all zeros: 0 for a clear bit, -1 for a set one), then the range.
 * Without an end, a string looked at for a clear bit counts as followed by zeros. */
void cmd_bitpos(cmd_ctx *x)
{
    long long bit, start = 0, end = -1;
    int bits = 0, end_given = 0;
    if (!num_str2ll(x->argv[2].ptr, x->argv[2].len, &bit)) {
        cmd_err(x, "-ERR value is not an integer or out of range");
        return;
    }
    if (bit != 0 && bit != 1) {
        cmd_err(x, "-ERR The bit argument must be 1 or 0.");
        return;
    }
    ox_val v;
    int found = db_get_string_or_reply(x, &x->argv[1], &v);
    if (found <= 0) {
        if (found == 0)
            resp_write_int(x->out, bit ? -1 : 0);
        return;
    }
    if (x->argc > 6) {
        cmd_syntax_error(x);
        return;
    }
    if (x->argc >= 4 && cmd_ll_or_reply(x, &x->argv[3], &start))
        return;
    if (x->argc == 6) {
        if (cmd_is(&x->argv[5], "bit"))
            bits = 1;
        else if (!cmd_is(&x->argv[5], "byte")) {
            cmd_syntax_error(x);
            return;
        }
    }
    if (x->argc >= 5) {
        if (cmd_ll_or_reply(x, &x->argv[4], &end))
            return;
        end_given = 1;
    }
    if (!cmd_range_norm(&start, &end, (long long)v.len * (bits ? 8 : 1))) {
        resp_write_int(x->out, -1);
        return;
    }
    if (!bits) {
        start *= 8;
        end = end * 8 + 7;
    }
    long long pos = bit_find(v.data, start, end, (int)bit);
    if (pos < 0 && !bit && !end_given)
        pos = end + 1; /* the first of the zeros after the string */
    resp_write_int(x->out, pos);
}
