/* escertke_rx: the CSE as ESCertKE Terminating End-Point (TS-0003 §8.7.2.2; TS-0001 §11.4.3;
 * TS-0004 §7.5.1.2.12). A NOTIFY to the <CSEBase> whose Content is an m2m:seci of sit 6 carries
 * Message 1 or 3; the response carries Message 2 or 4 in the same form. Exchanges in progress are
 * kept in a bounded table keyed by the originator (TS-0001 §11.4.3 C.1c: Message 3 is correlated
 * with Message 1 by the From parameter), each dropped escertke.timeout seconds after its Message 2;
 * one per originator, and when the table is full a new Message 1 evicts the oldest pending exchange
 * (red finding 9: never refused, so Message-1-only originators cannot lock others out).
 * When the handshake ends, From must be an identity of the initiator's certificate (else 4106,
 * "escertke-from-mismatch"), and the key is stored in the e2e key store (security/e2e_keys.h):
 * kid = the pairwiseE2EKeyID in lowercase hex, local_id = this CSE-ID, peer_id = the certificate's
 * identity, source E2E_KEY_ESCERTKE, expiry escertke.key_lifetime; it revokes the pair's earlier
 * ESCertKE keys (escertke_key_store, red finding 10).
 *
 * Authorization: the ESCertKE procedure is authorized by the Terminating End-Point's configuration
 * of which initiators' certificates it accepts (TS-0003 §8.7.2.2 step B: tls.ca, and escertke.enable),
 * not by an access control policy on the <CSEBase> (whose NOTIFY privilege is the admin's alone): the
 * outer NOTIFY only transports the messages (TS-0001 §11.4.3 NOTE). The originator checks of
 * dispatch (TS-0004 §7.3.2.1: From against the security association, registered AEs) still run
 * before. */
#ifndef WARDEN_E2E_ESCERTKE_RX_H
#define WARDEN_E2E_ESCERTKE_RX_H

#include <stdbool.h>

struct escertke_rx;
struct op_ctx;
struct cse_config;

/* The session table for a CSE with configuration cfg (never NULL; nothing is loaded until the first
 * ESCertKE Message arrives). Freed with escertke_rx_free (NULL is fine). */
struct escertke_rx *escertke_rx_new(const struct cse_config *cfg);
void escertke_rx_free(struct escertke_rx *rx);

/* ops_notify's hook, for a NOTIFY to the <CSEBase> before its access decision: true when the Content
 * is an ESCertKE Message, which was then answered (c->rsp complete); false when it is not one (the
 * NOTIFY goes on as before). */
bool escertke_notify(struct op_ctx *c);

/* Exchanges in progress (for tests and metrics). */
int escertke_rx_sessions(struct escertke_rx *rx);

#endif
