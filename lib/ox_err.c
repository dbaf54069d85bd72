/* ox_err.c — the one table of liboxistore's error texts. */
#include "oxistore.h"

static const char *const ox_errtab[OX_ERR_COUNT] = {
    [OX_OK] = "ok",
    [OX_NOTFOUND] = "not found",
    [OX_NOTTL] = "key has no expiry time",
    [OX_EINVAL] = "invalid argument",
    [OX_EKEYTOOLONG] = "key too long",
    [OX_ECORRUPT] = "store file is corrupted",
    [OX_EUNSUPPORTED] = "unsupported format or environment",
    [OX_EIO] = "I/O error",
    [OX_EFULL] = "no space left",
    [OX_EBUSY] = "store is busy or in use by another process",
    [OX_ECONFLICT] = "conflict: the current value differs",
    [OX_ENOMEM] = "out of memory",
    [OX_EREADONLY] = "store is read-only",
    [OX_ERECOVER] = "needs recovery: a crash left its write-ahead log to replay",
    [OX_ELIMIT] = "an iterator reached its step limit",
};

const char *ox_strerror(int err)
{
    if (err < 0 || err >= OX_ERR_COUNT || !ox_errtab[err])
        return "unknown error";
    return ox_errtab[err];
}
