/* warden-cli-esdata: warden-cli's ESData options (TS-0003 §8.5): protect a contentInstance's content
 * on create (signed, encrypted or nested, with the matching contentInfo, TS-0004 §6.3.4.2.38) and
 * verify / decrypt it on get. Keys come from files, never from argv. */
#ifndef WARDEN_CLI_ESDATA_H
#define WARDEN_CLI_ESDATA_H

#include <jansson.h>

struct cli_esdata;

/* The options' help text. */
extern const char cli_esdata_usage[];
/* argv[*i] when it is an ESData option: consumes it and its value (advancing *i). Returns 1 when
 * consumed, 0 when the option is not one of these, -1 after a usage message. *st is created on the
 * first. */
int cli_esdata_option(struct cli_esdata **st, int argc, char **argv, int *i);
/* create: protect the content of body ({"m2m:cin": {...}}) in place and set its cnf. 0, or an exit
 * status after a message. No-op when no protection was asked for. */
int cli_esdata_protect(struct cli_esdata *st, json_t *body);
/* get: is verification or decryption asked for? */
int cli_esdata_opening(const struct cli_esdata *st);
/* get: verify / decrypt the content of resp ({"m2m:cin": {...}}) in place (con becomes the payload).
 * 0, or 1 after a message (tampered, wrong key, not protected, not allowed). */
int cli_esdata_open(struct cli_esdata *st, json_t *resp, int quiet);
void cli_esdata_free(struct cli_esdata *st);

#endif
