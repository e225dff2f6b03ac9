/* content_security: the CSE's keyless check of content against the contentSecurity suffix of its
 * contentInfo (TS-0004 §6.3.4.2.38; TS-0003 §8.5). The CSE never holds ESData keys and never opens
 * an envelope: it stores and serves the content as the originator sent it, byte for byte. What it
 * does check, because it costs no key and catches a client that mislabels its content before any
 * reader trips on it:
 *   1 (JOSE compact):   con is a string holding a JWS (3 parts) or JWE (5 parts) compact
 *                       serialisation: base64url parts, a protected header naming alg (and enc);
 *   2 (JOSE JSON):      con is a JWS/JWE JSON serialisation (an object, or a string holding one);
 *   3, 5 (then base64): con is a non-empty base64 string;
 *   4 (XML-ENC/DSig):   con is a non-empty string (the CSE parses no XML).
 * 0 or no suffix: anything. */
#ifndef WARDEN_E2E_CONTENT_SECURITY_H
#define WARDEN_E2E_CONTENT_SECURITY_H

#include <jansson.h>

struct cse_response;

/* cnf: the contentInfo that applies (the resource's own, or for a <timeSeriesInstance> its
 * <timeSeries>'s), NULL when none; con: the content. Returns 0, or RSC 4000 with rsp filled. */
int content_security_check(const json_t *cnf, const json_t *con, struct cse_response *rsp);

#endif
