/* request: primitive helpers (see request.h). */
#include "request.h"

#include <stdarg.h>
#include <string.h>

#include "rsc.h"
#include "util/buf.h"
#include "util/mem.h"

void filter_init(struct cse_filter *fc)
{
    memset(fc, 0, sizeof *fc);
    fc->lim = -1;
    fc->lvl = -1;
    fc->sts = fc->stb = fc->sza = fc->szb = -1;
    fc->fo = 1;
}

void request_init(struct cse_request *req)
{
    memset(req, 0, sizeof *req);
    req->rcn = -1;
    req->drt = 1;
    filter_init(&req->fc);
}

void response_init(struct cse_response *rsp)
{
    memset(rsp, 0, sizeof *rsp);
}

void response_free(struct cse_response *rsp)
{
    MEM_FREE(rsp->body);
    MEM_FREE(rsp->location);
    MEM_FREE(rsp->message);
    MEM_FREE(rsp->ati);
    das_outcome_free(rsp->das);
    rsp->das = NULL;
    fetched_free(rsp->fetched);
    rsp->fetched = NULL;
}

char *response_take_body(struct cse_response *rsp, size_t *len)
{
    char *body = rsp->body;
    *len = rsp->body_len;
    rsp->body = NULL;
    rsp->body_len = 0;
    if (body == NULL && !rsc_is_success(rsp->rsc)) {
        struct buf b;
        buf_init(&b);
        buf_puts(&b, "{\"m2m:dbg\":");
        buf_json_str(&b, rsp->message ? rsp->message : rsc_name(rsp->rsc));
        buf_putc(&b, '}');
        body = buf_take(&b, len);
    }
    return body;
}

int response_error(struct cse_response *rsp, int rsc, const char *reason, const char *fmt, ...)
{
    struct buf b;
    buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    /* Messages quote request bytes (a header value, a media type, a parser's "near '...'"): made
     * valid UTF-8 without control characters here, once for every binding, serialization, log line
     * and CoAP diagnostic payload that carries them (finding 30). */
    struct buf text;
    buf_init(&text);
    buf_put_text(&text, b.p ? b.p : "", b.len);
    buf_free(&b);
    MEM_FREE(rsp->message);
    MEM_FREE(rsp->body);
    rsp->message = buf_take(&text, NULL);
    rsp->rsc = rsc;
    rsp->reason = reason;
    return rsc;
}

const char *op_name(enum cse_op op)
{
    static const char *names[] = {"none", "create", "retrieve", "update", "delete", "notify"};
    return (unsigned)op < 6 ? names[op] : "none";
}

const char *rsc_name(int rsc)
{
    switch (rsc) {
    case RSC_ACCEPTED: return "ACCEPTED";
    case RSC_ACCEPTED_NB_SYNCH: return "ACCEPTED_NON_BLOCKING_SYNCH";
    case RSC_ACCEPTED_NB_ASYNCH: return "ACCEPTED_NON_BLOCKING_ASYNCH";
    case RSC_OK: return "OK";
    case RSC_CREATED: return "CREATED";
    case RSC_DELETED: return "DELETED";
    case RSC_UPDATED: return "UPDATED";
    case RSC_BAD_REQUEST: return "BAD_REQUEST";
    case RSC_RELEASE_VERSION_NOT_SUPPORTED: return "RELEASE_VERSION_NOT_SUPPORTED";
    case RSC_NOT_FOUND: return "NOT_FOUND";
    case RSC_OPERATION_NOT_ALLOWED: return "OPERATION_NOT_ALLOWED";
    case RSC_REQUEST_TIMEOUT: return "REQUEST_TIMEOUT";
    case RSC_UNSUPPORTED_MEDIA_TYPE: return "UNSUPPORTED_MEDIA_TYPE";
    case RSC_CONTENTS_UNACCEPTABLE: return "CONTENTS_UNACCEPTABLE";
    case RSC_ORIGINATOR_HAS_NO_PRIVILEGE: return "ORIGINATOR_HAS_NO_PRIVILEGE";
    case RSC_CONFLICT: return "CONFLICT";
    case RSC_ORIGINATOR_NOT_AUTHENTICATED: return "ORIGINATOR_NOT_AUTHENTICATED";
    case RSC_SECURITY_ASSOCIATION_REQUIRED: return "SECURITY_ASSOCIATION_REQUIRED";
    case RSC_INVALID_CHILD_RESOURCE_TYPE: return "INVALID_CHILD_RESOURCE_TYPE";
    case RSC_ESPRIM_UNSUPPORTED_OPTION: return "ESPRIM_UNSUPPORTED_OPTION";
    case RSC_ESPRIM_UNKNOWN_KEY_ID: return "ESPRIM_UNKNOWN_KEY_ID";
    case RSC_ESPRIM_UNKNOWN_ORIG_RAND_ID: return "ESPRIM_UNKNOWN_ORIG_RAND_ID";
    case RSC_ESPRIM_UNKNOWN_RECV_RAND_ID: return "ESPRIM_UNKNOWN_RECV_RAND_ID";
    case RSC_ESPRIM_BAD_MAC: return "ESPRIM_BAD_MAC";
    case RSC_ESPRIM_IMPERSONATION_ERROR: return "ESPRIM_IMPERSONATION_ERROR";
    case RSC_ESPRIM_DECRYPTION_ERROR: return "ESPRIM_DECRYPTION_ERROR";
    case RSC_ESPRIM_ENCRYPTION_ERROR: return "ESPRIM_ENCRYPTION_ERROR";
    case RSC_ORIGINATOR_HAS_ALREADY_REGISTERED: return "ORIGINATOR_HAS_ALREADY_REGISTERED";
    case RSC_INTERNAL_SERVER_ERROR: return "INTERNAL_SERVER_ERROR";
    case RSC_NOT_IMPLEMENTED: return "NOT_IMPLEMENTED";
    case RSC_NON_BLOCKING_SYNCH_REQUEST_NOT_SUPPORTED: return "NON_BLOCKING_SYNCH_REQUEST_NOT_SUPPORTED";
    case RSC_NOT_ACCEPTABLE: return "NOT_ACCEPTABLE";
    case RSC_TARGET_NOT_SUBSCRIBABLE: return "TARGET_NOT_SUBSCRIBABLE";
    case RSC_TARGET_NOT_REACHABLE: return "TARGET_NOT_REACHABLE";
    case RSC_CROSS_RESOURCE_OPERATION_FAILURE: return "CROSS_RESOURCE_OPERATION_FAILURE";
    default: return "UNKNOWN";
    }
}
