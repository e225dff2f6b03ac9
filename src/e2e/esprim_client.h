/* esprim_client: the originator side of ESPrim (TS-0003 §8.4.2 B.2, C) for AE and CSE developers:
 * ask for a receiver rand object (sit 3), secure an inner request primitive as the Content of the
 * outer NOTIFY (sit 5), open the secured response. No JOSE in the caller: the primitives are
 * oneM2M JSON request/response primitives (TS-0004 §8, short names), the Contents are
 * {"m2m:seci": ...} texts. The same derivations and serialisations as the receiver (esprim_obj.h). */
#ifndef WARDEN_E2E_ESPRIM_CLIENT_H
#define WARDEN_E2E_ESPRIM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct esprim_client;

/* kid and the pairwiseESPrimKey (16, 24 or 32 bytes, copied; wipe yours); enc: "A128GCM",
 * "A192GCM" or "A256GCM" (NULL: A256GCM). NULL on bad arguments. */
struct esprim_client *esprim_client_new(const char *kid, const unsigned char *key, size_t key_len, const char *enc);
void esprim_client_free(struct esprim_client *ec); /* wipes the keys */

/* The Content of the sit 3 NOTIFY that asks the receiver for a rand object. */
const char *esprim_client_rand_request(void);
/* Take the receiver's rand object from a sit 4 answer ({"m2m:seci":{"sit":4,"ero":{...}}}) or from
 * an e2eSecInfo ({"esro":{...}} or {"m2m:...":{"esi":{"esro":...}}}) and derive the session key
 * (a fresh originator rand object, expiring with the receiver's or within an hour). now: Unix
 * seconds. 0, or -1 with why. */
int esprim_client_receiver(struct esprim_client *ec, const char *body, size_t len, int64_t now, const char **why);
/* The session (TS-0003 §8.4.2 NOTE 2): one client secures any number of requests under the session
 * key derived by esprim_client_receiver. Its first objects carry the whole originator rand object
 * (oro); once a response verifies, the receiver holds it (C.6b.2) and the next objects name it by
 * ori alone. Ready: a session whose originator rand object outlives now by ESPRIM_CLIENT_MARGIN_S
 * (or a quarter of its lifetime when shorter); else take a receiver rand object again. */
#define ESPRIM_CLIENT_MARGIN_S 5
bool esprim_client_ready(const struct esprim_client *ec, int64_t now);
/* Whether the next object carries oro. */
bool esprim_client_sends_oro(const struct esprim_client *ec);
/* The receiver refused an object in the clear: 4113 (it forgot the originator rand object: the next
 * object carries it again), 4114 (its rand object is gone: the session ends, take a new one). */
void esprim_client_refused(struct esprim_client *ec, int rsc);

/* The Content of the sit 5 NOTIFY securing inner (a request primitive, JSON). mem_free; NULL on error. */
char *esprim_client_seal(struct esprim_client *ec, const char *inner, size_t len, size_t *out_len);
/* Open the Content of the answer to a sit 5 NOTIFY: 0 with the inner response primitive (JSON,
 * mem_free); 4115 when it does not verify; 4000 when it is not a sit 5 answer. */
int esprim_client_open(struct esprim_client *ec, const char *body, size_t len, char **inner, size_t *inner_len);

/* TS-0001 §11.4.2 Table 11.4.2-1, TS-0004 §7.6.2 step F: the parameters of the outer NOTIFY copied
 * from the inner request primitive: Request Expiration Timestamp (rqet), Result Expiration Timestamp
 * (rset), Event Category (ec) and Delivery Aggregation (da), as text ("" when the inner has none;
 * rqet/rset as the inner gives them, a timestamp or milliseconds). The Group Request Identifier
 * (gid) is never copied: it may be in the inner primitive only. The transport sends these with
 * the outer NOTIFY (HTTP: X-M2M-RET, X-M2M-RST, X-M2M-EC; an MQTT or CoAP request primitive: the
 * same short names). 0, or 4000 when inner is not a JSON request primitive. */
struct esprim_outer {
    char rqet[40], rset[40], ec[8], da[8];
};
int esprim_client_outer(const char *inner, size_t len, struct esprim_outer *out);

#endif
