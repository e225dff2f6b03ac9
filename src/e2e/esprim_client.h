/* esprim_client: the originator side of ESPrim (TS-0003 §8.4.2 B.2, C) for AE and CSE developers:
 * ask for a receiver rand object (sit 3), secure an inner request primitive as the Content of the
 * outer NOTIFY (sit 5), open the secured response. No JOSE in the caller: the primitives are
 * oneM2M JSON request/response primitives (TS-0004 §8, short names), the Contents are
 * {"m2m:seci": ...} texts. The same derivations and serialisations as the receiver (esprim_obj.h). */
#ifndef WARDEN_E2E_ESPRIM_CLIENT_H
#define WARDEN_E2E_ESPRIM_CLIENT_H

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
