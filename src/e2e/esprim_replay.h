/* esprim_replay: the ESPrim receiver's bounded replay cache (e2e/esprim.c). Digests of accepted
 * ESPrim objects in two generations of per_gen entries each (open addressing, at most half full);
 * when the current generation is full the older one is forgotten, and the caller must then retire
 * every receiver rand object issued before the generation that stays began: every object that can
 * still be accepted then names a rand object issued after the oldest acceptance remembered, so a
 * forgotten object can never be replayed (it gets 4114 ESPRIM_UNKNOWN_RECV_RAND_ID). Not locked:
 * the caller serialises. */
#ifndef WARDEN_E2E_ESPRIM_REPLAY_H
#define WARDEN_E2E_ESPRIM_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct esprim_replay;

struct esprim_replay *esprim_replay_new(size_t per_gen);
void esprim_replay_free(struct esprim_replay *r);

/* The digest of an object: SHA-256 of kid, a NUL and the JWE IV part, first 16 bytes (never all zero). */
void esprim_replay_digest(const char *kid, const char *iv, size_t iv_len, unsigned char d[16]);

/* Remember d. next_serial: the serial the next receiver rand object will get. Returns true when d
 * is new (now remembered), false for a replay. When a generation was forgotten, *retire_below is
 * set to the serial below which rand objects must be retired (else left alone). */
bool esprim_replay_add(struct esprim_replay *r, const unsigned char d[16], uint64_t next_serial,
                       uint64_t *retire_below);

#endif
