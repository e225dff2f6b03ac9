/* cred: the credential store's functions (cred.h), dispatched through the ops table of the store
 * (cred_int.h), and its validation helpers. */
#include <ctype.h>
#include <string.h>

#include "cred.h"
#include "cred_int.h"

void cred_wipe(void *p, size_t n)
{
    if (p == NULL)
        return;
    /* a volatile pointer keeps the compiler from dropping the stores as dead */
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

/* TS-0003 §8.2.2.1: <Issuer_Relative_KpsaID>@<Issuer-FQDN>; relative: letters, digits, '.', '_', '-'. */
bool cred_kpsaid_ok(const char *kpsa_id)
{
    if (kpsa_id == NULL)
        return false;
    size_t len = strlen(kpsa_id);
    const char *at = strchr(kpsa_id, '@');
    if (len == 0 || len > CRED_KPSAID_MAX || at == NULL || at == kpsa_id || strchr(at + 1, '@') != NULL)
        return false;
    for (const char *p = kpsa_id; p < at; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return false;
    /* the FQDN: LDH labels separated by single dots */
    const char *fqdn = at + 1;
    if (*fqdn == '\0' || *fqdn == '.' || fqdn[strlen(fqdn) - 1] == '.' || strstr(fqdn, "..") != NULL)
        return false;
    for (const char *p = fqdn; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
            return false;
    return true;
}

void cred_kpsaid_norm(const char *in, char out[CRED_KPSAID_MAX + 1])
{
    size_t n = strnlen(in, CRED_KPSAID_MAX);
    memcpy(out, in, n);
    out[n] = '\0';
    for (char *p = strchr(out, '@'); p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool cred_serial_norm(const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    bool leading = true;
    for (const char *p = in; *p; p++) {
        if (*p == ':')
            continue;
        if (hexval((unsigned char)*p) < 0)
            return false;
        if (leading && *p == '0')
            continue;
        leading = false;
        if (n + 1 >= outlen || n >= CRED_SERIAL_MAX)
            return false;
        out[n++] = (char)tolower((unsigned char)*p);
    }
    if (leading) { /* all zeros, or empty */
        if (in[0] == '\0' || outlen < 2)
            return false;
        out[n++] = '0';
    }
    out[n] = '\0';
    return true;
}

long cred_hex_decode(const char *hex, unsigned char *out, size_t max)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        if (isspace((unsigned char)*p))
            continue;
        int v = hexval((unsigned char)*p);
        if (v < 0)
            return -1;
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n == max)
            return -1;
        out[n++] = (unsigned char)(hi << 4 | v);
        hi = -1;
    }
    return hi >= 0 ? -1 : (long)n;
}

/* ---- dispatch through the ops table ---- */

void cred_close(struct cred_store *cs)
{
    if (cs != NULL)
        cred_ops_of(cs)->close(cs);
}

uint64_t cred_generation(struct cred_store *cs)
{
    return cred_ops_of(cs)->generation(cs);
}

int cred_watch_start(struct cred_store *cs, int interval_ms)
{
    return cred_ops_of(cs)->watch_start(cs, interval_ms);
}

void cred_touch(struct cred_store *cs)
{
    cred_ops_of(cs)->touch(cs);
}

enum cred_status cred_audit_key(struct cred_store *cs, bool create, unsigned char key[CRED_AUDIT_KEY_LEN])
{
    return cred_ops_of(cs)->audit_key(cs, create, key);
}

enum cred_status cred_psk_add(struct cred_store *cs, const char *kpsa_id, const unsigned char *key, size_t key_len,
                              const char *binding)
{
    return cred_ops_of(cs)->psk_add(cs, kpsa_id, key, key_len, binding);
}

enum cred_status cred_psk_get(struct cred_store *cs, const char *kpsa_id, struct cred_psk_info *out)
{
    return cred_ops_of(cs)->psk_get(cs, kpsa_id, out);
}

enum cred_status cred_psk_key(struct cred_store *cs, const char *kpsa_id, unsigned char *key, size_t *key_len)
{
    return cred_ops_of(cs)->psk_key(cs, kpsa_id, key, key_len);
}

enum cred_status cred_psk_revoke(struct cred_store *cs, const char *kpsa_id)
{
    return cred_ops_of(cs)->psk_revoke(cs, kpsa_id);
}

enum cred_status cred_psk_list(struct cred_store *cs, void (*fn)(void *arg, const struct cred_psk_info *info),
                               void *arg)
{
    return cred_ops_of(cs)->psk_list(cs, fn, arg);
}

enum cred_status cred_cert_revoke(struct cred_store *cs, const char *serial)
{
    return cred_ops_of(cs)->cert_revoke(cs, serial);
}

enum cred_status cred_cert_list(struct cred_store *cs, void (*fn)(void *arg, const char *serial, int64_t revoked),
                                void *arg)
{
    return cred_ops_of(cs)->cert_list(cs, fn, arg);
}

enum cred_status cred_cert_status(struct cred_store *cs, const char *serial)
{
    return cred_ops_of(cs)->cert_status(cs, serial);
}
