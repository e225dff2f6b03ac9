/* warden-cli-e2e: warden-cli's ESPrim option (--esprim KID --esprim-key-file F --esprim-to CSEBASE
 * [--esprim-enc ENC]): the request the verb describes becomes the inner primitive of an ESPrim
 * exchange with the CSE whose <CSEBase> is CSEBASE (e.g. /id-in/cse-in), through whatever CSEs lie
 * between, using the client library e2e/esprim_client.h. Part of the warden-cli executable. */
#ifndef WARDEN_TOOLS_CLI_E2E_H
#define WARDEN_TOOLS_CLI_E2E_H

#include <stddef.h>

struct cli_e2e {
    const char *kid, *key_file, *to, *enc;
    const char *from; /* the inner From (--esprim-from; default: the outer -o) */
    /* --esprim-esro PATH: a resource whose esi holds the receiver's shared rand object (its
     * <remoteCSE> on the CSE the client talks to, TS-0003 §8.4.2 B.2a); NULL: ask (sit 3) */
    const char *esro_path;
    /* --rqet, --rset, --ec: in the inner request, copied to the outer NOTIFY (esprim_client_outer) */
    const char *rqet, *rset, *ec;
    /* the session kept across the requests of one warden-cli run (tree walks): *session is created
     * on first use and freed by the caller with esprim_client_free; NULL: one per request */
    struct esprim_client **session;
};

struct esprim_outer;

/* Sends one POST of a NOTIFY (Content body) to the HTTP target, or with body NULL a GET; outer
 * (NULL: none) holds the parameters the outer NOTIFY copies from the inner request; fills *rsc and
 * *rbody (mem_free). 0, or an exit status. */
typedef int (*cli_post_fn)(void *ctx, const char *target, const struct esprim_outer *outer, const char *body,
                           size_t len, int *rsc, char **rbody, size_t *rlen);

/* The request (HTTP method, target path as given to warden-cli, ty, JSON body) as an ESPrim
 * exchange: *rsc and *body (mem_free) are the inner response's. 0, or an exit status (1 failure,
 * 2 usage) after a message on standard error. */
int cli_e2e_request(const struct cli_e2e *e, const char *origin, const char *rvi, const char *method,
                    const char *target, int ty, const unsigned char *body, size_t blen, cli_post_fn post, void *ctx,
                    int *rsc, char **rbody, size_t *rlen);

/* The key file of --esprim-key-file (hex, or the JSON file of `warden-cli kex` for kid) into key
 * (64 bytes): its length (16, 24, 32) or -1. */
long cli_e2e_load_key(const char *path, const char *kid, unsigned char *key);

/* warden-cli esprim-rx --kid KID --key-file F --peer ORIGINATOR [--lifetime S]: an AE's ESPrim
 * receiver as a co-process (e2e/esprim_rx.h), one JSON text a line on standard input and output:
 *   {"notify": CONTENT}    -> {"rsc": 2000, "pc": SIT4} | {"inner": REQUEST} | {"rsc": RSC, "dbg": WHY}
 *   {"response": RESPONSE} -> {"rsc": 2000, "pc": SIT5} | {"rsc": 4117, "dbg": WHY}
 * CONTENT is the outer NOTIFY's, REQUEST the verified inner request primitive, RESPONSE the inner
 * response primitive the AE composed for it; pc is the outer response's Content. */
int warden_cli_esprim_rx(int argc, char **argv);

#endif
