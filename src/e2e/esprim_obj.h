/* esprim_obj: the ESPrim Object (TS-0003 §8.4.3.2, JWE Compact Serialization, m2m:e2eCompactJWE)
 * and the ESPrim rand objects (§8.4.3.1, TS-0004 §6.3.5.50-51), shared by the receiver
 * (e2e/esprim.c) and the client library (e2e/esprim_client.c) so both ends agree byte for byte.
 *
 * Warden's choices where TS-0003 V3.18 leaves them open (README "End-to-end security: ESPrim"):
 * - Rand object serialisation for sessionESPrimKey (§10.3.8.2): the object's JSON with the short
 *   names of TS-0004 §8 (esri, esrv, esrx, esk or esks, espa), compact (no white space), keys sorted
 *   bytewise, as jansson's JSON_COMPACT | JSON_SORT_KEYS and Python's
 *   json.dumps(o, separators=(",", ":"), sort_keys=True) write it. The same text is what "oro"/"rro"
 *   and the sit 4 answer carry.
 * - esrv: 128 random bits as 32 lowercase hex digits; esrx: a oneM2M timestamp (YYYYMMDDTHHMMSS).
 * - Session key length: A256GCM uses the whole 32-byte HMAC-SHA256 output; A192GCM and A128GCM its
 *   leftmost 24 and 16 bytes.
 * - espa values: 10 A128GCM, 11 A192GCM, 12 A256GCM; esk 1 HMAC-SHA256 (the only one).
 * Pure: no clock (now is given), no store. */
#ifndef WARDEN_E2E_ESPRIM_OBJ_H
#define WARDEN_E2E_ESPRIM_OBJ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ESPRIM_MAX_OBJECT         65536 /* bytes of a compact JWE accepted (the inner primitive inside) */
#define ESPRIM_KEYGEN_HMAC_SHA256 1
#define ESPRIM_ESPA_A128GCM       10
#define ESPRIM_ESPA_A192GCM       11
#define ESPRIM_ESPA_A256GCM       12
#define ESPRIM_RANDID_MAX         64

/* The protected header of an ESPrim Object, parsed. oro/rro are owned (json_decref). */
struct esprim_hdr {
    char enc[16];
    char kid[129];
    char cty[64];
    char ori[ESPRIM_RANDID_MAX + 1];
    char rri[ESPRIM_RANDID_MAX + 1];
    json_t *oro, *rro;
    int espa; /* the enc as an espa value */
};

/* Parse the compact serialisation's header and shape (five parts, an empty encrypted key, the rest
 * base64url). 0; or an RSC: 4000 (not an ESPrim Object: unparsable), 4111 (alg not "dir", enc not
 * one of A128GCM/A192GCM/A256GCM), with why set. Release with esprim_hdr_free in every case. */
int esprim_parse(const char *compact, size_t len, struct esprim_hdr *h, const char **why);
void esprim_hdr_free(struct esprim_hdr *h);

/* The key length an enc needs (16, 24, 32), or 0. */
size_t esprim_enc_keylen(const char *enc);
const char *esprim_enc_of_espa(int espa);

/* A rand object: checked (receiver: esks list; originator: esk) and, when valid, its canonical
 * serialisation (mem_free) and expiry. NULL with why when malformed. */
char *esprim_randobj_canon(const json_t *obj, bool receiver, size_t *len, int64_t *expiry_s, const char **why);
/* A fresh rand object (esri = id, 16 random bytes, expiry, esk 1 or esks [1], espa espa[0..n)). */
json_t *esprim_randobj_new(const char *id, int64_t expiry_s, bool receiver, const int *espa, int nespa);
/* m2m:e2eSecInfo (TS-0004 §6.3.5.52; TS-0003 §8.4.3.1.3), as an attribute esi of <CSEBase>,
 * <remoteCSE> and <AE>: an object of esf (1..32 SUIDs, integers 10-45, TS-0003 §12.3), escert
 * (0..8 base64 certificates) and esro (a receiver rand object), nothing else. */
bool esprim_esi_ok(const json_t *esi);
/* Whether a rand object lists espa. */
bool esprim_randobj_has_espa(const json_t *obj, int espa);

/* Encrypt plaintext under key (dir, enc) with these header members; oro/rro: JSON text or NULL.
 * The compact serialisation (mem_free), or NULL. */
char *esprim_seal(const unsigned char *key, size_t key_len, const char *enc, const char *kid, const char *cty,
                  const char *ori, const char *rri, const char *oro, const char *rro, const void *plaintext,
                  size_t plen);
/* The m2m:seci Content of sit 5 (TS-0003 §8.4.2) carrying the ESPrim Object jwe (taken: NULL or
 * mem_free'd here), as compact JSON text (free) with *out_len, or NULL. */
char *esprim_seci_epo(char *jwe, size_t *out_len);
/* Decrypt: 0 with *out (mem_free, NUL-terminated) and *out_len; RSC 4115 when the tag does not
 * verify, 4000 when the object cannot be read. */
int esprim_open(const char *compact, size_t len, const unsigned char *key, size_t key_len, char **out, size_t *out_len);

/* The IV part of the compact serialisation (for the replay cache), pointer and length. */
bool esprim_iv(const char *compact, size_t len, const char **iv, size_t *iv_len);

#endif
