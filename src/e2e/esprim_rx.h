/* esprim_rx: the Target side of ESPrim for an application (TS-0004 §7.6.2 "Target CSE or AE";
 * TS-0003 §8.4.2 B.2e-f, C.5-C.9), so that a C AE can be the receiver of secured primitives: its
 * CSE re-targets the outer NOTIFY to the AE (TS-0004 §7.3.3.9.1), the AE opens it here, executes
 * the inner request itself and seals its response here; the outer response carries it back.
 *
 * One receiver holds one pairwiseESPrimKey (kid, key) bound to one originator ID (the inner From
 * must be it: 4116 otherwise). It answers sit 3 with unique receiver rand objects (it publishes no
 * shared one), keeps the originator rand objects of accepted objects (C.6b.2: the originator may
 * then send ori alone) and refuses a replayed object (same kid and IV) with 4106, all bounded
 * (ESPRIM_RX_RAND, ESPRIM_RX_ORO, ESPRIM_RX_REPLAY; the oldest rand object is forgotten first,
 * and when the replay cache forgets a generation the rand objects issued before it are retired, as
 * in the CSE's receiver, e2e/esprim_replay.h). Errors are the RSCs of TS-0004 Table 7.6.2-1, to be
 * answered in the clear. Same serialisations as e2e/esprim_obj.h. Not locked: one thread at a time,
 * one exchange at a time (esprim_rx_seal seals under the session of the last object opened). */
#ifndef WARDEN_E2E_ESPRIM_RX_H
#define WARDEN_E2E_ESPRIM_RX_H

#include <stddef.h>
#include <stdint.h>

#define ESPRIM_RX_RAND   64   /* unique receiver rand objects remembered */
#define ESPRIM_RX_ORO    64   /* originator rand objects remembered */
#define ESPRIM_RX_REPLAY 4096 /* accepted objects remembered, per generation */

struct esprim_rx;

/* kid, the pairwiseESPrimKey (16, 24 or 32 bytes, copied; wipe yours), the originator's ID (the
 * inner From, as the originator writes it), lifetime_s of the rand objects issued. NULL on bad
 * arguments. */
struct esprim_rx *esprim_rx_new(const char *kid, const unsigned char *key, size_t key_len, const char *peer_id,
                                long lifetime_s);
void esprim_rx_free(struct esprim_rx *rx); /* wipes the keys */

/* The Content of an outer NOTIFY ({"m2m:seci": ...}), at now (Unix seconds):
 * - sit 3: 0, *answer the sit 4 Content to answer with (mem_free), *inner NULL;
 * - sit 5: 0, *inner the verified inner request primitive (JSON, mem_free, *inner_len), *answer NULL;
 * - else an RSC of Table 7.6.2-1 (4000, 4106 replay, 4111-4116) with *why. */
int esprim_rx_open(struct esprim_rx *rx, const char *body, size_t len, int64_t now, char **answer, char **inner,
                   size_t *inner_len, const char **why);
/* The inner response primitive (JSON) of the last request opened, sealed under its session key:
 * the Content of the outer response (sit 5, mem_free), or NULL (nothing opened, or it failed: 4117). */
char *esprim_rx_seal(struct esprim_rx *rx, const char *resp, size_t len, size_t *out_len);

#endif
