/* resp_strerror and the decimal formatting shared by the parser tests and the writer. */
#include "resp_internal.h"

static const char *const resp_errtext[RESP_ERR_COUNT] = {
    [RESP_OK] = "ok",
    [RESP_AGAIN] = "need more data",
    [RESP_EPROTO] = "protocol error",
    [RESP_ENOMEM] = "out of memory",
    [RESP_EINVAL] = "invalid argument",
    [RESP_ENOTSUP] = "not supported by this protocol version",
};

const char *resp_strerror(int err)
{
    if (err < 0 || err >= RESP_ERR_COUNT) return "unknown error";
    return resp_errtext[err];
}

size_t resp_ll2str(char *dst, long long v)
{
    char tmp[20];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    size_t n = 0, len = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) dst[len++] = '-';
    while (n) dst[len++] = tmp[--n];
    return len;
}
