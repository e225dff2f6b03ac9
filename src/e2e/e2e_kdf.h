/* e2e_kdf: the key derivations of end-to-end security (TS-0003 §10.3.6 keys from a Kpsa, §10.3.8.2
 * the sessionESPrimKey), on GnuTLS's HMAC-SHA256. Pure functions: the client library, the receiver
 * and wardenctl use these same ones, so every Warden role derives the same bytes. */
#ifndef WARDEN_E2E_E2E_KDF_H
#define WARDEN_E2E_E2E_KDF_H

#include <stddef.h>

#define E2E_KDF_LEN 32 /* SHA-256 output */

/* TS-0003 §10.3.6: Ke2e_master = HMAC-SHA256(Salt, Kpsa), then the RFC 5869 expansion
 * T(1) = Ke2e_msg_auth, T(2) = Ke2e_msg_conf, T(3) = Ke2e_att_auth, T(4) = Ke2e_att_conf.
 * Warden's choices (README "End-to-end security: ESPrim"):
 *   Salt = the UTF-8 octets of the Source ESF End-Point's ID (the end that holds the Kpsa with this
 *          CSE: the AE or CSE the Kpsa authenticates) in the canonical absolute form "//sp/..." (IDs
 *          are ASCII here, so NFKC changes nothing), as §10.3.6.1 lists that ID among the inputs;
 *   pairwiseESPrimKey = Ke2e_msg_conf = T(2), 32 bytes: ESPrim is AEAD, and §10.3.6.2 NOTE 1 lets
 *          one of the two message keys serve both authenticity and confidentiality; confidentiality
 *          is what ESPrim adds over the hop-by-hop TLS.
 * which: 1..4 selects T(which). 0, or -1 on bad arguments or a GnuTLS failure. */
int e2e_kdf_from_kpsa(const unsigned char *kpsa, size_t kpsa_len, const char *source_id, int which,
                      unsigned char out[E2E_KDF_LEN]);
#define E2E_KDF_PAIRWISE_ESPRIM 2 /* Ke2e_msg_conf */

/* TS-0003 §10.3.8.2: sessionESPrimKey = HMAC-SHA256(pairwiseESPrimKey, receiverRandObj ||
 * originatorRandObj || "oneM2M HMAC-SHA256 sessionESPrimKey derivation algorithm"), the rand
 * objects given as their serialised octets (esprim.h says which serialisation). out gets the
 * first out_len (16, 24 or 32) bytes of the 32-byte HMAC (the leftmost octets, as TLS and HKDF
 * truncate). 0, or -1. */
int e2e_session_key(const unsigned char *pairwise, size_t pairwise_len, const unsigned char *receiver_obj,
                    size_t receiver_len, const unsigned char *originator_obj, size_t originator_len, unsigned char *out,
                    size_t out_len);

#endif
