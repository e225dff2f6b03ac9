/* params: the request parameters every binding carries as "short name = text" (TS-0004 §7.2.2 and
 * the filter criteria of §6.3.5.8): rcn, drt, rt, fu, the filter conditions, attribute filters.
 * HTTP and CoAP take them from the query string, MQTT from the primitive's members. Pure. */
#ifndef WARDEN_BINDINGS_PARAMS_H
#define WARDEN_BINDINGS_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/request.h"

/* Copies of values the request points to that are split out of a parameter (lbl, cty). */
struct param_scratch {
    char *lbl[FC_MAX_LBL];
    char *cty[FC_MAX_LBL];
    char *az[4 * REQ_AUTHZ_MAX]; /* rids, tids, ltids, tkns values */
    int naz;
    /* Request Expiration Timestamp (HTTP X-M2M-RET, CoAP oneM2M-RQET): rqet_abs in seconds since
     * the epoch when rqet_kind is 1 (absolute); 2 for a relative duration; 0 absent */
    int rqet_kind;
    int64_t rqet_abs;
    int64_t rqet_rel_ms;
};
void param_scratch_free(struct param_scratch *scratch);

/* m2m:absRelTimestamp as text (TS-0004 §6.3.3): "YYYYMMDDTHHMMSS" (kind 1, *abs_s) or a number of
 * milliseconds (kind 2, *rel_ms). false when it is neither. */
bool param_abs_rel_timestamp(const char *s, int *kind, int64_t *abs_s, int64_t *rel_ms);
/* The Request Expiration Timestamp of a request (TS-0004 §7.3.2.1) into scratch: 0, or 4000 with
 * rsp filled when it is malformed. */
int param_rqet(const char *value, struct param_scratch *scratch, struct cse_response *rsp);
/* TS-0004 §7.3.2.1: REQUEST_TIMEOUT (4008) with rsp filled when the request's absolute Request
 * Expiration Timestamp lies before now_us (the CSE's clock); 0 otherwise. A relative one counts
 * from the sending, which the receiver does not know: it cannot have expired on arrival. */
int param_check_expired(const struct param_scratch *scratch, int64_t now_us, struct cse_response *rsp);

/* Apply one parameter to req. rids, tids, ltids and tkns (the tokens, which HTTP carries in the
 * Authorization header) take several values too; tqi is a boolean (true/false/1/0). Several values of ty, lbl and cty
 * are separated by '+' or ' '. Returns 0, or an RSC with rsp filled: 4000 for a bad value or unknown name, 5001 for a
 * parameter Warden does not evaluate (never silently ignored when it would change the result). req may point into key
 * and value afterwards (timestamps, attribute filters): they must outlive req. */
int param_apply(const char *key, const char *value, struct cse_request *req, struct param_scratch *scratch,
                struct cse_response *rsp);

/* Strict decimal of n characters in [min, max]. */
bool param_parse_long(const char *s, size_t n, long min, long max, long *out);

#endif
