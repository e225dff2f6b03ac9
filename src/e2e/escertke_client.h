/* escertke_client: the ESCertKE Initiating End-Point (TS-0003 §8.7.2.2; TS-0004 §7.5.1.2.12 "Originator"):
 * runs the exchange with a Terminating End-Point over any transport that sends one NOTIFY and returns
 * its response (warden-cli's HTTP client, a CSE's outbound seam), and writes the established key in the
 * file format warden-cli's ESPrim option reads. */
#ifndef WARDEN_E2E_ESCERTKE_CLIENT_H
#define WARDEN_E2E_ESCERTKE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/limits.h"
#include "e2e/escertke.h"

/* Send one NOTIFY whose Content is body (JSON, len bytes) to the terminator. Returns 0 with *rsc (the
 * Response Status Code) and *rbody (mem_alloc'd, NUL-terminated; NULL when none; the caller frees it),
 * or -1 with err filled when no response arrived. */
typedef int (*escertke_send_fn)(void *arg, const char *body, size_t len, int *rsc, char **rbody, size_t *rlen,
                                char *err, size_t errlen);

struct escertke_client_result {
    char kid[ESCERTKE_KID_HEX_LEN + 1];  /* the pairwiseE2EKeyID, lowercase hex */
    unsigned char key[ESCERTKE_KEY_LEN]; /* the pairwiseE2EKey: wiped by the caller after use */
    char peer[LIMIT_ID_LEN + 1];         /* the terminator's identity from its certificate */
};

/* Run the four messages (two NOTIFYs). Returns 0 with out filled, or -1 with err filled (a refusal by
 * the terminator names its status code and message). */
int escertke_client_run(const struct escertke_initiator_cfg *cfg, escertke_send_fn send, void *arg,
                        struct escertke_client_result *out, char *err, size_t errlen);

/* The HTTP(S) transport (libcurl): a NOTIFY to the terminator's <CSEBase> at url, addressed by its ID
 * (TS-0009 §6.2.2: "/~" + an SP-relative ID, "/_" + an absolute one), From origin; over https the
 * initiator's certificate, key and trust anchors serve the TLS connection too. Pass it as the arg of
 * escertke_http_send. */
struct escertke_http {
    const char *url; /* "http://host:port", no trailing '/' */
    const char *to, *origin;
    const char *cert, *key, *cacert;
    long timeout; /* seconds per request */
    bool verbose; /* the requests on standard error */
};
int escertke_http_send(void *arg, const char *body, size_t len, int *rsc, char **rbody, size_t *rlen, char *err,
                       size_t errlen);

/* Write {"kid": KID, "key": base64url(key)} to path with mode 0600 (an existing file is replaced and
 * its mode set; a symbolic link is refused). 0, or -1 with err filled. */
int escertke_client_write_key(const char *path, const struct escertke_client_result *r, char *err, size_t errlen);

#endif
