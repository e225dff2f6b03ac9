/* e2e_kdf: TS-0003 §10.3.6 and §10.3.8.2 (see e2e_kdf.h for the choices). */
#include "e2e/e2e_kdf.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "security/cred.h"
#include "util/mem.h"

/* TS-0003 §10.3.6.2: the labels of T(1)..T(4), in that order */
static const char *const labels[4] = {"E2E Message Authentication Key", "E2E Message Confidentiality Key",
                                      "E2E Attribute Authenticity Key", "E2E Attribute Confidentiality Key"};

int e2e_kdf_from_kpsa(const unsigned char *kpsa, size_t kpsa_len, const char *source_id, int which,
                      unsigned char out[E2E_KDF_LEN])
{
    if (kpsa == NULL || kpsa_len == 0 || source_id == NULL || source_id[0] == '\0' || which < 1 || which > 4)
        return -1;
    unsigned char master[E2E_KDF_LEN], t[E2E_KDF_LEN];
    /* TS-0003 §10.3.6.1: Ke2e_master = HMAC-Hash(Salt, Kpsa): the salt is the HMAC key */
    if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, source_id, strlen(source_id), kpsa, kpsa_len, master) != 0)
        return -1;
    /* T(i) = HMAC(master, T(i-1) | label_i | i), T(0) empty */
    unsigned char msg[E2E_KDF_LEN + 64 + 1];
    size_t tlen = 0;
    int rc = 0;
    for (int i = 1; i <= which && rc == 0; i++) {
        size_t llen = strlen(labels[i - 1]), n = 0;
        memcpy(msg, t, tlen);
        n += tlen;
        memcpy(msg + n, labels[i - 1], llen);
        n += llen;
        msg[n++] = (unsigned char)i;
        rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, master, sizeof master, msg, n, t) == 0 ? 0 : -1;
        tlen = sizeof t;
    }
    if (rc == 0)
        memcpy(out, t, E2E_KDF_LEN);
    cred_wipe(master, sizeof master);
    cred_wipe(t, sizeof t);
    cred_wipe(msg, sizeof msg);
    return rc;
}

static const char session_label[] = "oneM2M HMAC-SHA256 sessionESPrimKey derivation algorithm";

int e2e_session_key(const unsigned char *pairwise, size_t pairwise_len, const unsigned char *receiver_obj,
                    size_t receiver_len, const unsigned char *originator_obj, size_t originator_len, unsigned char *out,
                    size_t out_len)
{
    if (pairwise == NULL || pairwise_len == 0 || receiver_obj == NULL || originator_obj == NULL || out == NULL ||
        (out_len != 16 && out_len != 24 && out_len != 32) || receiver_len > 4096 || originator_len > 4096)
        return -1;
    size_t n = receiver_len + originator_len + sizeof session_label - 1;
    unsigned char *msg = mem_alloc(n);
    memcpy(msg, receiver_obj, receiver_len);
    memcpy(msg + receiver_len, originator_obj, originator_len);
    memcpy(msg + receiver_len + originator_len, session_label, sizeof session_label - 1);
    unsigned char full[E2E_KDF_LEN];
    int rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, pairwise, pairwise_len, msg, n, full) == 0 ? 0 : -1;
    mem_free(msg);
    if (rc == 0)
        memcpy(out, full, out_len);
    cred_wipe(full, sizeof full);
    return rc;
}
