/* escertke: the End-to-End Certificate-based Key Establishment engine (TS-0003 §8.7, §10.3.1) with no
 * I/O: a TLS 1.2 handshake (ECDHE-ECDSA suites of TS-0003 §10.2.3 only) run by GnuTLS over memory
 * buffers, one ESCertKE Message in, the next one out, in either role:
 *
 *   initiator (TS-0003 §8.7.2.2 "Initiating End-Point", the TLS client)   terminator (the TLS server)
 *     step(NULL)  -> Message 1                                   -> step(Message 1) -> Message 2
 *     step(Message 2) -> Message 3                               -> step(Message 3) -> Message 4, done
 *     step(Message 4) -> done
 *
 * Which bytes an ESCertKE Message holds (TS-0003 V3.18 Table 8.7.2.2-1 lists TLS handshake messages
 * and ChangeCipherSpec, and leaves their framing open): Warden carries the TLS 1.2 *records* of one
 * flight, exactly as the record layer writes them (RFC 5246 §6.2), concatenated. ChangeCipherSpec is a
 * record of its own content type and Finished travels encrypted under the new keys, so only the
 * record framing carries Messages 3 and 4 without inventing an encoding; any TLS stack can produce
 * and consume them through a memory transport.
 *
 * After the handshake, the TLS exporter (RFC 5705) with the label "EXPORTER-oneM2M-ESCertKE" gives 48
 * bytes (TS-0003 §10.3.1): the 16 most significant (the first 16) are the pairwiseE2EKeyID, the 32
 * least significant (the last 32) the pairwiseE2EKey.
 *
 * Certificates: the terminator runs the checks of the TLS listeners (security/tlsauth.c: path to
 * tls.ca with name constraints, revocation, P-256, keyUsage, the identity in subjectAltName) on the
 * initiator's certificate, which it requires. The initiator checks the terminator's chain against its
 * own trust anchors, the same profile, and that its identity is the one expected. */
#ifndef WARDEN_E2E_ESCERTKE_H
#define WARDEN_E2E_ESCERTKE_H

#include <stdbool.h>
#include <stddef.h>

struct tlsauth;
struct id_env;
struct escertke;
struct cred_store;
struct e2e_key;

/* The TLS exporter's label and output length (TS-0003 §10.3.1 "TLS Key Export Details for
 * pairwiseE2EKey"), and the split of its output. */
#define ESCERTKE_EXPORTER_LABEL "EXPORTER-oneM2M-ESCertKE"
#define ESCERTKE_EXPORT_LEN     48
#define ESCERTKE_KEYID_LEN      16
#define ESCERTKE_KEY_LEN        32
/* The key ID as Warden names it: the pairwiseE2EKeyID in lowercase hex. */
#define ESCERTKE_KID_HEX_LEN (2 * ESCERTKE_KEYID_LEN)

enum escertke_rc {
    ESCERTKE_FAIL = -1,    /* the handshake failed: escertke_error() says why; the object is only freed */
    ESCERTKE_CONTINUE = 0, /* send *out to the peer and wait for its next message */
    ESCERTKE_DONE = 1,     /* established: send *out (Message 4) when there is one; escertke_result() */
};

/* The initiator's credentials: PEM files. expect is the terminator's identity (a CSE-ID or AE-ID in
 * any form: "/id-in", "//sp/id-in", an absolute AE-ID), which its certificate must carry; a
 * SP-relative CSE-ID matches the CSE-ID of any SP-ID. */
struct escertke_initiator_cfg {
    const char *cert, *key, *ca;
    const char *expect;
    const struct id_env *idenv; /* how certificate names are read; spid may be "" on a client */
};

/* A new initiator, or NULL with err filled (unreadable files, an expect that is no ID). Free with
 * escertke_free. */
struct escertke *escertke_new_initiator(const struct escertke_initiator_cfg *cfg, char *err, size_t errlen);

/* A new terminator using ta's certificate, key, tls.ca and checks (ta must have a certificate and
 * tls.ca); peer is the originator's address for the audit log. NULL with err filled. */
struct escertke *escertke_new_terminator(struct tlsauth *ta, const char *peer, char *err, size_t errlen);

/* Feed the peer's message (in, len; NULL, 0 for the initiator's first step) and run the handshake as
 * far as it goes. *out (owned by k, valid until the next call) and *outlen get the message to send
 * (*outlen may be 0 with ESCERTKE_DONE on the initiator). A message that leaves the handshake
 * waiting for more (truncated), bytes after the end of the handshake, a message larger than
 * LIMIT_ESCERTKE_MSG or a step after the end are failures. */
enum escertke_rc escertke_step(struct escertke *k, const unsigned char *in, size_t len, const unsigned char **out,
                               size_t *outlen);

/* After ESCERTKE_DONE: the pairwiseE2EKey (32 bytes) and its ID as lowercase hex. Returns 0, or -1
 * before the end. The caller wipes key after use. */
int escertke_result(const struct escertke *k, unsigned char key[ESCERTKE_KEY_LEN], char kid[ESCERTKE_KID_HEX_LEN + 1]);

/* The identities (canonical IDs) of the peer's verified certificate, once its certificate passed;
 * returns how many (0 before). ids[i] stay valid until escertke_free. */
int escertke_peer_ids(const struct escertke *k, const char *const **ids);

/* Why the last step failed: a short text, and the audit reason ("cert-untrusted", "escertke-bad-message",
 * "escertke-handshake", ...). Never NULL. */
const char *escertke_error(const struct escertke *k);
const char *escertke_reason(const struct escertke *k);

/* Did the last failure come from the peer's credential (its certificate refused, 4106-style) rather
 * than from a malformed or unexpected message (4000)? */
bool escertke_failed_auth(const struct escertke *k);

/* Frees k; the exported key material is wiped. NULL is fine. */
void escertke_free(struct escertke *k);

/* Does the ESCertKE Message begin a handshake (a ClientHello record: TLS content type 22, handshake
 * type 1)? The terminator uses it to tell Message 1 from Message 3. */
bool escertke_is_client_hello(const unsigned char *msg, size_t len);

/* An established ESCertKE key k (created_s set by the caller) into the e2e key store, superseding
 * the pair's earlier ones (red finding 10): it gets expires_s = created_s + lifetime_s (0: none,
 * escertke.key_lifetime), and every other live ESCertKE key of the same (local_id, peer_id) pair,
 * in either order, is revoked once it is stored: one live ESCertKE key per pair, so the store does
 * not grow with each exchange and an older key, if stolen, stops working. Keys of other sources
 * (provisioned, kpsa) are not touched. Returns e2e_key_put's value (0, 1 kid exists, -1); *superseded
 * (may be NULL) gets the number of keys revoked. */
int escertke_key_store(struct cred_store *cs, struct e2e_key *k, long lifetime_s, int *superseded);

#endif
