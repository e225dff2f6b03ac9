/* coap_map: TS-0008 request and response mapping (see coap_map.h). */
#include "coap_map.h"

#include <stdio.h>
#include <string.h>

#include "core/rsc.h"
#include "encoding/cbor_json.h"
#include "util/buf.h"
#include "util/mem.h"

/* TS-0008 Table 6.2.2.4.0-1. */
static const struct {
    uint16_t num;
    bool uint;
    const char *name;
} onem2m_opts[] = {
    {COAPM_OPT_OT, false, "oneM2M-OT"},     {COAPM_OPT_RTURI, false, "oneM2M-RTURI"},
    {COAPM_OPT_TY, true, "oneM2M-TY"},      {COAPM_OPT_RVI, false, "oneM2M-RVI"},
    {COAPM_OPT_ASRI, false, "oneM2M-ASRI"}, {COAPM_OPT_FR, false, "oneM2M-FR"},
    {COAPM_OPT_RQI, false, "oneM2M-RQI"},   {COAPM_OPT_RQET, false, "oneM2M-RQET"},
    {COAPM_OPT_RSET, false, "oneM2M-RSET"}, {COAPM_OPT_OET, false, "oneM2M-OET"},
    {COAPM_OPT_EC, true, "oneM2M-EC"},      {COAPM_OPT_RSC, true, "oneM2M-RSC"},
    {COAPM_OPT_GID, false, "oneM2M-GID"},   {COAPM_OPT_CTO, true, "oneM2M-CTO"},
    {COAPM_OPT_CTS, true, "oneM2M-CTS"},    {COAPM_OPT_ATI, false, "oneM2M-ATI"},
    {COAPM_OPT_VSI, false, "oneM2M-VSI"},   {COAPM_OPT_GTM, false, "oneM2M-GTM"},
    {COAPM_OPT_AUS, false, "oneM2M-AUS"},
};
#define NONEM2M (sizeof onem2m_opts / sizeof onem2m_opts[0])
_Static_assert(NONEM2M <= 32, "coap_to_primitive keeps one bit per oneM2M option");

const uint16_t coap_onem2m_options[] = {
    COAPM_OPT_OT,   COAPM_OPT_RTURI, COAPM_OPT_TY,  COAPM_OPT_RVI, COAPM_OPT_ASRI, COAPM_OPT_FR,  COAPM_OPT_RQI,
    COAPM_OPT_RQET, COAPM_OPT_RSET,  COAPM_OPT_OET, COAPM_OPT_EC,  COAPM_OPT_RSC,  COAPM_OPT_GID, COAPM_OPT_CTO,
    COAPM_OPT_CTS,  COAPM_OPT_ATI,   COAPM_OPT_VSI, COAPM_OPT_GTM, COAPM_OPT_AUS,
};
const size_t coap_onem2m_noptions = sizeof coap_onem2m_options / sizeof coap_onem2m_options[0];

const char *coap_option_name(unsigned num)
{
    for (size_t i = 0; i < NONEM2M; i++)
        if (onem2m_opts[i].num == num)
            return onem2m_opts[i].name;
    return NULL;
}

bool coap_option_is_uint(unsigned num)
{
    for (size_t i = 0; i < NONEM2M; i++)
        if (onem2m_opts[i].num == num)
            return onem2m_opts[i].uint;
    return num == COAPM_OPT_CONTENT_FORMAT || num == COAPM_OPT_ACCEPT;
}

/* TS-0008 Table 6.2.4-1, complete; op is 0 for "any operation". Codes not listed fall back to their
 * class: 2xxx 2.05, 4xxx 4.00, others 5.00. */
static const struct {
    int rsc;
    enum cse_op op;
    unsigned code;
} code_map[] = {
    {1001, 0, 201}, {1002, 0, 201}, {2000, OP_NOTIFY, 204}, {2000, 0, 205}, {2001, 0, 201}, {2002, 0, 202},
    {2004, 0, 204}, {4000, 0, 400}, {4001, 0, 501},         {4004, 0, 404}, {4005, 0, 405}, {4008, 0, 504},
    {4015, 0, 415}, {4101, 0, 403}, {4102, 0, 400},         {4103, 0, 403}, {4104, 0, 400}, {4105, 0, 403},
    {4106, 0, 403}, {4107, 0, 403}, {4108, 0, 403},         {4109, 0, 403}, {4110, 0, 400}, {4111, 0, 403},
    {4112, 0, 403}, {4113, 0, 403}, {4114, 0, 403},         {4115, 0, 403}, {4116, 0, 403}, {4117, 0, 403},
    {4118, 0, 404}, {4119, 0, 404}, {4120, 0, 402},         {4121, 0, 404}, {4122, 0, 402}, {4123, 0, 400},
    {4124, 0, 400}, {4125, 0, 501}, {4126, 0, 403},         {4127, 0, 403}, {4143, 0, 400}, {5000, 0, 500},
    {5001, 0, 501}, {5103, 0, 404}, {5105, 0, 403},         {5106, 0, 400}, {5107, 0, 404}, {5203, 0, 403},
    {5204, 0, 500}, {5205, 0, 403}, {5206, 0, 501},         {5207, 0, 406}, {5208, 0, 403}, {5209, 0, 500},
    {5210, 0, 500}, {5211, 0, 500}, {5212, 0, 500},         {5214, 0, 403}, {5215, 0, 403}, {5216, 0, 500},
    {5217, 0, 500}, {5218, 0, 403}, {5219, 0, 400},         {5220, 0, 400}, {5221, 0, 500}, {5222, 0, 403},
    {6003, 0, 404}, {6005, 0, 404}, {6010, 0, 400},         {6020, 0, 500}, {6021, 0, 500}, {6022, 0, 400},
    {6023, 0, 400}, {6024, 0, 400}, {6025, 0, 500},         {6026, 0, 500}, {6028, 0, 400}, {6029, 0, 400},
    {6030, 0, 504}, {6031, 0, 504},
};

unsigned coap_code_of(int rsc, enum cse_op op)
{
    for (size_t i = 0; i < sizeof code_map / sizeof code_map[0]; i++)
        if (code_map[i].rsc == rsc && (code_map[i].op == 0 || code_map[i].op == op))
            return code_map[i].code;
    if (rsc >= 2000 && rsc < 3000)
        return 205;
    if (rsc >= 4000 && rsc < 5000)
        return 400;
    return 500;
}

size_t coap_uint_encode(uint32_t v, uint8_t out[4])
{
    size_t n = 0;
    for (uint32_t t = v; t; t >>= 8)
        n++;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return n;
}

bool coap_uint_decode(const uint8_t *val, size_t len, uint32_t *out)
{
    if (len > 4)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++)
        v = (v << 8) | val[i];
    *out = v;
    return true;
}

void coap_scratch_free(struct coap_scratch *scratch)
{
    param_scratch_free(&scratch->params);
    mem_free(scratch->strs);
    mem_free(scratch->json);
    scratch->strs = NULL;
    scratch->json = NULL;
}

/* Copy an option value into the arena as a C string; NULL when it holds a NUL. */
static char *copy_opt(char **arena, const struct coap_opt_in *o)
{
    if (o->len && memchr(o->val, 0, o->len) != NULL)
        return NULL;
    char *s = *arena;
    if (o->len)
        memcpy(s, o->val, o->len);
    s[o->len] = '\0';
    *arena += o->len + 1;
    return s;
}

/* TS-0008 §6.2.2.3 Table 6.2.2.3-1: Uri-Path "~" starts an SP-relative ID, "_" an absolute one,
 * anything else is CSE-relative. Segments are joined with '/'; a segment that is empty or holds a
 * '/' is refused (it would name a different resource than the client meant). */
static int add_segment(struct coap_scratch *s, size_t *n, const struct coap_opt_in *o, bool first,
                       struct cse_response *rsp)
{
    if (o->len == 0 || memchr(o->val, '/', o->len) || memchr(o->val, 0, o->len))
        return response_error(rsp, RSC_BAD_REQUEST, "bad-target", "empty Uri-Path segment or one containing '/'");
    const char *prefix = "";
    bool skip = false;
    if (first && o->len == 1 && o->val[0] == '~')
        prefix = "/", skip = true;
    else if (first && o->len == 1 && o->val[0] == '_')
        prefix = "//", skip = true;
    else if (!first)
        prefix = s->to[*n - 1] == '/' ? "" : "/";
    size_t plen = strlen(prefix), vlen = skip ? 0 : o->len;
    if (*n + plen + vlen >= sizeof s->to)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-target", "request path too long");
    memcpy(s->to + *n, prefix, plen);
    if (vlen)
        memcpy(s->to + *n + plen, o->val, vlen);
    *n += plen + vlen;
    s->to[*n] = '\0';
    return 0;
}

static int content_format(uint32_t cf, struct cse_response *rsp, bool *cbor)
{
    switch (cf) {
    case COAPM_CF_JSON:
    case COAPM_CF_RES_JSON:
    case COAPM_CF_NTFY_JSON: *cbor = false; return 0;
    case COAPM_CF_CBOR:
    case COAPM_CF_RES_CBOR:
    case COAPM_CF_NTFY_CBOR: *cbor = true; return 0;
    default:
        return response_error(rsp, RSC_UNSUPPORTED_MEDIA_TYPE, "media",
                              "unsupported Content-Format %u (JSON 50/10001/10003 or CBOR 60/10010/10011)",
                              (unsigned)cf);
    }
}

static int bad_option(struct cse_response *rsp, unsigned num, const char *what)
{
    const char *name = coap_option_name(num);
    return response_error(rsp, RSC_BAD_REQUEST, "bad-option", "option %u (%s): %s", num,
                          name                              ? name
                          : num == COAPM_OPT_CONTENT_FORMAT ? "Content-Format"
                                                            : "Accept",
                          what);
}

/* One Uri-Query parameter name=value (value NULL without '='). */
static int query_param(const struct coap_raw *raw, const char *name, const char *value, struct cse_request *req,
                       struct coap_scratch *scratch, struct cse_response *rsp)
{
    if (name[0] == '\0')
        return response_error(rsp, RSC_BAD_REQUEST, "bad-query", "Uri-Query without a parameter name");
    if (strcmp(name, "op") == 0) {
        /* TS-0008 §6.2.1, §6.2.2.3: a non-blocking or flexBlocking request is always a POST and
         * carries its Operation as the query parameter op */
        long op;
        if (value == NULL || !param_parse_long(value, strlen(value), OP_CREATE, OP_NOTIFY, &op) ||
            raw->method != COAPM_POST)
            return response_error(rsp, RSC_BAD_REQUEST, "bad-query",
                                  "op must be an operation 1..5, given with the POST method only");
        req->op = (enum cse_op)op;
        if (req->op != OP_CREATE)
            req->ty = 0;
        return 0;
    }
    return param_apply(name, value, req, &scratch->params, rsp) != 0 ? rsp->rsc : 0;
}

int coap_to_primitive(const struct coap_raw *raw, struct cse_request *req, struct coap_scratch *scratch,
                      struct cse_response *rsp)
{
    request_init(req);
    memset(scratch, 0, sizeof *scratch);
    scratch->cf = COAPM_CF_RES_JSON;
    size_t total = 1;
    for (size_t i = 0; i < raw->nopts; i++)
        total += raw->opts[i].len + 1;
    char *arena = scratch->strs = mem_alloc(total);
    size_t tolen = 0;
    bool seen_path = false, seen_fr = false, seen_rqi = false, seen_rvi = false, seen_ty = false, seen_cf = false;
    bool cbor_in = false, cbor_accept = false, seen_accept = false;
    int ty = 0;
    uint32_t seen_m2m = 0; /* bit k: onem2m_opts[k] given */
    const char *query[64];
    size_t nquery = 0;

    for (size_t i = 0; i < raw->nopts; i++) {
        const struct coap_opt_in *o = &raw->opts[i];
        uint32_t u = 0;
        switch (o->num) {
        case COAPM_OPT_URI_PATH:
            if (add_segment(scratch, &tolen, o, !seen_path, rsp) != 0)
                return rsp->rsc;
            seen_path = true;
            break;
        case COAPM_OPT_URI_QUERY:
            if (nquery == sizeof query / sizeof query[0])
                return response_error(rsp, RSC_BAD_REQUEST, "too-many", "too many Uri-Query options");
            if ((query[nquery] = copy_opt(&arena, o)) == NULL)
                return bad_option(rsp, o->num, "contains NUL");
            nquery++;
            break;
        case COAPM_OPT_RTURI: { /* rt's notificationURIs, '&'-separated (core/nonblock.c) */
            const char *v = copy_opt(&arena, o);
            if (v == NULL)
                return bad_option(rsp, o->num, "contains NUL");
            req->rtu = v;
            break;
        }
        case COAPM_OPT_FR:
        case COAPM_OPT_RQI:
        case COAPM_OPT_RVI: {
            bool *seen = o->num == COAPM_OPT_FR ? &seen_fr : o->num == COAPM_OPT_RQI ? &seen_rqi : &seen_rvi;
            if (*seen)
                return bad_option(rsp, o->num, "given twice");
            *seen = true;
            const char *v = copy_opt(&arena, o);
            if (v == NULL || o->len > 255)
                return bad_option(rsp, o->num, "malformed");
            if (o->num == COAPM_OPT_FR)
                req->fr = v;
            else if (o->num == COAPM_OPT_RQI)
                req->rqi = v;
            else
                req->rvi = v;
            break;
        }
        case COAPM_OPT_TY:
            if (seen_ty || !coap_uint_decode(o->val, o->len, &u) || u < 1 || u > 65535)
                return bad_option(rsp, o->num, "malformed or repeated");
            seen_ty = true;
            ty = (int)u;
            break;
        case COAPM_OPT_CONTENT_FORMAT:
            if (seen_cf || !coap_uint_decode(o->val, o->len, &u) || u > 65535)
                return bad_option(rsp, o->num, "malformed or repeated");
            seen_cf = true;
            if (content_format(u, rsp, &cbor_in) != 0)
                return rsp->rsc;
            break;
        case COAPM_OPT_ACCEPT:
            if (seen_accept || !coap_uint_decode(o->val, o->len, &u) || u > 65535)
                return bad_option(rsp, o->num, "malformed or repeated");
            seen_accept = true;
            if (content_format(u, rsp, &cbor_accept) != 0) {
                rsp->rsc = RSC_NOT_ACCEPTABLE;
                return rsp->rsc;
            }
            break;
        case COAPM_OPT_RQET:
        case COAPM_OPT_RSET:
        case COAPM_OPT_OET:
        case COAPM_OPT_GID: { /* TS-0008 §6.2.2.4.5-7, .11: the request timing parameters, the Group
                               * Request Identifier (strings) */
            const char *v = copy_opt(&arena, o);
            const char *name = o->num == COAPM_OPT_RQET   ? "rqet"
                               : o->num == COAPM_OPT_RSET ? "rset"
                               : o->num == COAPM_OPT_OET  ? "oet"
                                                          : "gid";
            if (v == NULL)
                return bad_option(rsp, o->num, "contains NUL");
            if (param_apply(name, v, req, &scratch->params, rsp) != 0)
                return rsp->rsc;
            break;
        }
        case COAPM_OPT_EC:
        case COAPM_OPT_GTM: /* CMDH event category, group request target members: not offered */
            return response_error(rsp, RSC_NOT_IMPLEMENTED, "unsupported", "the %s option is not supported",
                                  coap_option_name(o->num));
        default:
            /* the other oneM2M options are accepted and not evaluated (contract); unknown elective
             * options are ignored as RFC 7252 §5.4.1 says; unknown critical ones libcoap refuses
             * (4.02), and the critical ones it knows but Warden does not act on the binding does */
            break;
        }
        /* TS-0008 Table 6.2.2.4.0-1: no oneM2M option is repeatable; RFC 7252 §5.4.5 treats a
         * repeated critical one as unrecognized, and two readings of one parameter are refused */
        for (size_t k = 0; k < NONEM2M; k++)
            if (onem2m_opts[k].num == o->num) {
                if (seen_m2m & (1u << k))
                    return bad_option(rsp, o->num, "given twice");
                seen_m2m |= 1u << k;
            }
    }
    scratch->cbor = seen_accept ? cbor_accept : cbor_in;
    scratch->cf = scratch->cbor ? COAPM_CF_RES_CBOR : COAPM_CF_RES_JSON;

    switch (raw->method) {
    case COAPM_GET: req->op = OP_RETRIEVE; break;
    case COAPM_PUT: req->op = OP_UPDATE; break;
    case COAPM_DELETE: req->op = OP_DELETE; break;
    case COAPM_POST:
        req->op = ty > 0 ? OP_CREATE : OP_NOTIFY; /* TS-0008 §6.2.1: POST with oneM2M-TY is CREATE */
        req->ty = ty;
        break;
    default:
        return response_error(rsp, RSC_OPERATION_NOT_ALLOWED, "bad-method", "CoAP method 0.%02d is not used by oneM2M",
                              raw->method);
    }
    if (req->op == OP_CREATE || req->op == OP_UPDATE || req->op == OP_NOTIFY) {
        req->media = MEDIA_JSON;
        if (cbor_in && raw->body_len) {
            char err[160];
            size_t jlen = 0;
            if (cborjson_to_json(raw->body, raw->body_len, &scratch->json, &jlen, err, sizeof err) != 0)
                return response_error(rsp, RSC_BAD_REQUEST, "bad-cbor", "CBOR content: %s", err);
            req->body = scratch->json;
            req->body_len = jlen;
        } else {
            req->body = (const char *)raw->body;
            req->body_len = raw->body_len;
        }
    }
    if (!seen_path || scratch->to[0] == '\0')
        return response_error(rsp, RSC_BAD_REQUEST, "bad-target", "missing target resource in Uri-Path");
    req->to = scratch->to;
    struct buf tk; /* a tkns value cut into several options (COAPM_TKNS_CHUNK), joined */
    buf_init(&tk);
    bool continued = false;
    int rc = 0;
    for (size_t i = 0; i < nquery && rc == 0; i++) {
        char *eq = strchr(query[i], '=');
        const char *value = NULL;
        if (eq) {
            *eq = '\0';
            value = eq + 1;
        }
        bool tkns = value != NULL && strcmp(query[i], "tkns") == 0;
        if (continued && !tkns) {
            rc = response_error(rsp, RSC_BAD_REQUEST, "bad-query", "a continued tkns Uri-Query is not continued");
            break;
        }
        if (tkns) {
            size_t vl = strlen(value);
            continued = vl > 0 && value[vl - 1] == '~';
            buf_append(&tk, value, continued ? vl - 1 : vl);
            if (!continued) {
                buf_putc(&tk, '\0');
                rc = param_apply("tkns", tk.p, req, &scratch->params, rsp);
                tk.len = 0;
            }
            continue;
        }
        rc = query_param(raw, query[i], value, req, scratch, rsp);
    }
    buf_free(&tk);
    if (rc == 0 && continued)
        rc = response_error(rsp, RSC_BAD_REQUEST, "bad-query", "a continued tkns Uri-Query is not continued");
    return rc;
}

static void put_uint(struct coap_opt_out *o, uint16_t num, uint32_t v)
{
    o->num = num;
    o->len = coap_uint_encode(v, o->ibuf);
    o->val = o->ibuf;
}

static void put_str(struct coap_opt_out *o, uint16_t num, const char *s, size_t len)
{
    o->num = num;
    o->val = (const uint8_t *)s;
    o->len = len;
}

size_t coap_response_options(const struct cse_response *rsp, const char *rqi, const char *rvi, unsigned cf,
                             bool has_body, struct coap_opt_out *out)
{
    size_t n = 0;
    /* TS-0008 §6.2.3: the address of a created resource in Location-Path, one option per segment */
    if (rsp->location) {
        const char *p = rsp->location;
        while (*p == '/')
            p++;
        while (*p && n < COAP_MAX_RSP_OPTS - 8) {
            const char *slash = strchr(p, '/');
            size_t len = slash ? (size_t)(slash - p) : strlen(p);
            if (len > 255)
                len = 255;
            if (len)
                put_str(&out[n++], COAPM_OPT_LOCATION_PATH, p, len);
            p += slash ? (size_t)(slash - p) + 1 : strlen(p);
        }
    }
    if (has_body)
        put_uint(&out[n++], COAPM_OPT_CONTENT_FORMAT, cf);
    if (rvi && strlen(rvi) <= 255)
        put_str(&out[n++], COAPM_OPT_RVI, rvi, strlen(rvi));
    if (rqi && strlen(rqi) <= 255)
        put_str(&out[n++], COAPM_OPT_RQI, rqi, strlen(rqi));
    put_uint(&out[n++], COAPM_OPT_RSC, (uint32_t)(rsp->rsc > 0 ? rsp->rsc : 5000));
    if (rsp->cnst) { /* TS-0008 §6.2.3: partial content (Content Status, Content Offset) */
        put_uint(&out[n++], COAPM_OPT_CTO, (uint32_t)(rsp->cnot > 0 ? rsp->cnot : 0));
        put_uint(&out[n++], COAPM_OPT_CTS, (uint32_t)rsp->cnst);
    }
    /* TS-0008 §6.2.2.4.15: the Assigned Token Identifiers, "lti:tkid" pairs joined by '+' (an option
     * of at most 255 bytes: longer lists are cut at a pair) */
    if (rsp->ati != NULL) {
        size_t len = strlen(rsp->ati);
        while (len > 255) {
            const char *plus = memrchr(rsp->ati, '+', len);
            len = plus ? (size_t)(plus - rsp->ati) : 0;
        }
        if (len > 0)
            put_str(&out[n++], COAPM_OPT_ATI, rsp->ati, len);
    }
    return n;
}
