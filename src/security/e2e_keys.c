/* e2e_keys: the end-to-end key functions of security/e2e_keys.h. They check their arguments and
 * dispatch through the credential store's ops table (security/cred_int.h), so that any credential
 * store implementation (SQLite today: store/cred_e2e_sqlite.c) holds the keys. */
#include "security/e2e_keys.h"

#include <stdbool.h>
#include <string.h>

#include "security/cred_int.h"

int e2e_kid_ok(const char *kid)
{
    size_t n = strlen(kid);
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)kid[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

static bool id_ok(const char *id, size_t max)
{
    size_t n = strnlen(id, max + 1);
    return n > 0 && n <= max;
}

int e2e_key_put(struct cred_store *cs, const struct e2e_key *k)
{
    if (cs == NULL || k == NULL || !e2e_kid_ok(k->kid) || !id_ok(k->local_id, sizeof k->local_id - 1) ||
        !id_ok(k->peer_id, sizeof k->peer_id - 1) || (k->key_len != 16 && k->key_len != 24 && k->key_len != 32) ||
        k->source < E2E_KEY_PROVISIONED || k->source > E2E_KEY_ESCERTKE || k->expires_s < 0)
        return -1;
    return cred_ops_of(cs)->e2e_put(cs, k);
}

int e2e_key_get(struct cred_store *cs, const char *kid, struct e2e_key *out)
{
    if (cs == NULL || kid == NULL || out == NULL)
        return -1;
    if (!e2e_kid_ok(kid))
        return 1;
    return cred_ops_of(cs)->e2e_get(cs, kid, out);
}

int e2e_key_find_pair(struct cred_store *cs, const char *a, const char *b, struct e2e_key *out)
{
    if (cs == NULL || a == NULL || b == NULL || out == NULL)
        return -1;
    return cred_ops_of(cs)->e2e_find_pair(cs, a, b, out);
}

int e2e_key_revoke(struct cred_store *cs, const char *kid)
{
    if (cs == NULL || kid == NULL)
        return -1;
    if (!e2e_kid_ok(kid))
        return 1;
    return cred_ops_of(cs)->e2e_revoke(cs, kid);
}

int e2e_key_list(struct cred_store *cs, void (*fn)(void *arg, const struct e2e_key_info *info), void *arg)
{
    if (cs == NULL || fn == NULL)
        return -1;
    return cred_ops_of(cs)->e2e_list(cs, fn, arg);
}
