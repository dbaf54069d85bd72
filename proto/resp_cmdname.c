/* Case-insensitive command-name lookup: open addressing over a power-of-two table of
 * (hash, index) slots, built once. The hash folds case with |0x20, which also merges a
 * few non-letters ('@' and '`'...); the exact ASCII-case-insensitive comparison settles
 * those, so only the hash is loose, never the answer. */
#include <stdint.h>
#include <string.h>

#include "resp_internal.h"

typedef struct slot {
    uint32_t hash;
    uint32_t index1; /* index + 1; 0 marks an empty slot */
} slot;

struct resp_cmdtab {
    const char *const *names;
    size_t *lens;
    slot *slots;
    uint32_t mask;
    resp_allocator a;
};

static uint32_t fold_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (uint32_t)((unsigned char)s[i] | 0x20);
        h *= 16777619u;
    }
    return h;
}

static int same_name(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x |= 0x20;
        if (y >= 'A' && y <= 'Z') y |= 0x20;
        if (x != y) return 0;
    }
    return 1;
}

static const slot *find_slot(const resp_cmdtab *t, const char *name, size_t len, uint32_t h)
{
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const slot *s = &t->slots[i];
        if (!s->index1) return s;
        if (s->hash == h && t->lens[s->index1 - 1] == len &&
            same_name(t->names[s->index1 - 1], name, len))
            return s;
    }
}

void resp_cmdtab_free(resp_cmdtab *t)
{
    if (!t) return;
    resp_mem_free(&t->a, t->lens);
    resp_mem_free(&t->a, t->slots);
    resp_mem_free(&t->a, t);
}

int resp_cmdtab_new(resp_cmdtab **out, const char *const *names, size_t n,
                    const resp_allocator *a)
{
    resp_allocator al = resp_allocator_or_default(a);
    resp_cmdtab *t;
    size_t nslots = 8;

    *out = NULL;
    if (n > (1u << 30)) return RESP_EINVAL;
    while (nslots < 2 * n) nslots *= 2;
    t = resp_mem_resize(&al, NULL, sizeof *t);
    if (!t) return RESP_ENOMEM;
    memset(t, 0, sizeof *t);
    t->a = al;
    t->names = names;
    t->mask = (uint32_t)(nslots - 1);
    t->lens = resp_mem_resize(&al, NULL, (n ? n : 1) * sizeof *t->lens);
    t->slots = resp_mem_resize(&al, NULL, nslots * sizeof *t->slots);
    if (!t->lens || !t->slots) {
        resp_cmdtab_free(t);
        return RESP_ENOMEM;
    }
    memset(t->slots, 0, nslots * sizeof *t->slots);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        uint32_t h = fold_hash(names[i], len);
        slot *s = (slot *)find_slot(t, names[i], len, h);
        if (len == 0 || s->index1) {
            resp_cmdtab_free(t);
            return RESP_EINVAL;
        }
        t->lens[i] = len;
        s->hash = h;
        s->index1 = (uint32_t)i + 1;
    }
    *out = t;
    return RESP_OK;
}

int resp_cmdtab_find(const resp_cmdtab *t, const char *name, size_t len)
{
    const slot *s = find_slot(t, name, len, fold_hash(name, len));
    return s->index1 ? (int)s->index1 - 1 : -1;
}
