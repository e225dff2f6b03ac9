/* escertke_msg: the transport encoding of an ESCertKE Message (TS-0001 §11.4.3, TS-0004 §7.5.1.2.12):
 * the Content of a NOTIFY request or response is {"m2m:seci": {"sit": 6, "eckm": "<base64>"}}
 * (m2m:securityInfo, TS-0004 §6.3.5.x securityInfoType 6 "ESCertKE Message", escertkeMessage
 * xs:base64Binary, short name eckm). Pure functions, shared by the CSE's receiver, the client
 * library and the fuzz harness. */
#ifndef WARDEN_E2E_ESCERTKE_MSG_H
#define WARDEN_E2E_ESCERTKE_MSG_H

#include <stddef.h>

/* securityInfoType "ESCertKE Message" (TS-0004 Table 6.3.4.2.35-1) */
#define ESCERTKE_SIT 6

/* Decode a NOTIFY Content (JSON text of len bytes). Returns 1 with *msg (mem_alloc'd, the caller
 * mem_frees it) and *mlen set when it is an m2m:seci with sit 6 and a well-formed eckm of at most
 * LIMIT_ESCERTKE_MSG bytes; 0 when it is not an m2m:seci of sit 6 (another notification, another
 * securityInfoType: not ESCertKE's to answer); -1 when it is one but malformed (err says why:
 * answer 4000). */
int escertke_seci_decode(const char *body, size_t len, unsigned char **msg /* OUT */, size_t *mlen, char *err,
                         size_t errlen);

/* The Content carrying msg: JSON text, mem_alloc'd (caller mem_frees), *outlen its length. */
char *escertke_seci_encode(const unsigned char *msg, size_t len, size_t *outlen);

/* RFC 4648 §4 base64 with padding, no line breaks (xs:base64Binary's canonical form). Decoding
 * refuses any other character, bad padding and non-zero pad bits. Returns the decoded length, or -1
 * (also when it would exceed max). */
long escertke_b64_decode(const char *in, size_t len, unsigned char *out, size_t max);
/* out has room for 4 * ((len + 2) / 3) + 1 bytes; returns the length written (NUL-terminated). */
size_t escertke_b64_encode(const unsigned char *in, size_t len, char *out);
/* RFC 4648 §5 base64url without padding (the JOSE form); same sizes and return as above. */
size_t escertke_b64url_encode(const unsigned char *in, size_t len, char *out);

#endif
