/* esprim: the ESPrim receiver of this CSE (TS-0003 §8.4; TS-0001 §11.4.2; TS-0004 §7.5.1.2.11,
 * §7.6.2, m2m:securityInfo sit 3/4/5). A NOTIFY to the <CSEBase> whose Content is
 * {"m2m:seci": ...} is handled here instead of as a notification:
 *   sit 3: a fresh receiverESPrimRandObject, answered as sit 4 {"ero": ...};
 *   sit 5: an ESPrim Object (epo): the pairwiseESPrimKey by kid (security/e2e_keys.h), the rand
 *          objects by rri (issued here) and oro (the originator's, carried in every object), the
 *          sessionESPrimKey (e2e/e2e_kdf.h), decryption; the inner request primitive then runs
 *          through the same dispatch as any request, its security context an ESPrim association
 *          (SA_ESPRIM) bound to the key's peer ID only, and its response primitive comes back as a
 *          sit 5 ESPrim Object under the same session key.
 * Errors are the codes of TS-0004 Table 7.6.2-1, answered in the clear and audited. A replayed
 * object (same kid and IV as one accepted before) is refused with 4106 ORIGINATOR_NOT_AUTHENTICATED
 * (reason esprim-replay): Table 7.6.2-1 has no replay case, and a replay is an originator whose
 * freshness cannot be authenticated. The outer NOTIFY needs no NOTIFY privilege on the <CSEBase>:
 * the inner request is authenticated and authorized on its own. */
#ifndef WARDEN_E2E_ESPRIM_H
#define WARDEN_E2E_ESPRIM_H

#include <stdbool.h>
#include <stddef.h>

struct esprim;
struct op_ctx;
struct cse;

/* lifetime_s: of a receiver rand object (esprim.rand_lifetime). */
struct esprim *esprim_new(long lifetime_s);
void esprim_free(struct esprim *e);

/* Does this NOTIFY carry m2m:seci (a prefix scan of the Content, no parse)? */
bool esprim_claims(const struct op_ctx *c);
/* Handle it (see above): CSE_DONE or CSE_PENDING, like an operation. */
int esprim_notify(struct op_ctx *c);

/* The e2eSecInfo this CSE advertises (TS-0003 §8.4.3.1.3): esf [the ESPrim SUID] and esro, the
 * shared receiver rand object (replaced before it expires). JSON (json_t *, caller decrefs). */
void *esprim_esi(struct cse *cse);
/* The same for the <CSEBase> being written at start: that esro counts as published there. */
void *esprim_esi_published(struct cse *cse);
/* Once a second (the expiry thread): when the shared rand object was replaced (TS-0003 §8.4.2
 * B.1: at half its lifetime), the <CSEBase>'s esi is rewritten (registration.c sends it on to the
 * registrar). */
void esprim_tick(struct cse *cse);

#endif
