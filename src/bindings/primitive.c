/* primitive: request/response primitives <-> JSON (see primitive.h; TS-0004 §7.2.1, §8.2). */
#include "primitive.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "core/rsc.h"
#include "encoding/json.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/timeutil.h"

void primitive_request_free(struct prim_request *p)
{
    if (p == NULL)
        return;
    json_decref((json_t *)p->root);
    p->root = NULL;
    MEM_FREE(p->pc);
    MEM_FREE(p->rtu);
    for (int i = 0; i < p->nvals; i++)
        MEM_FREE(p->vals[i]);
    p->nvals = 0;
    param_scratch_free(&p->params);
}

static int bad(struct cse_response *rsp, const char *what, const char *name)
{
    return response_error(rsp, RSC_BAD_REQUEST, "bad-primitive", "request primitive: %s '%.32s'", what, name);
}

/* Keep a text value for the lifetime of p; NULL when the table is full. */
static const char *keep(struct prim_request *p, char *s)
{
    if (p->nvals == PRIM_MAX_PARAMS) {
        mem_free(s);
        return NULL;
    }
    p->vals[p->nvals++] = s;
    return s;
}

/* One scalar as parameter text into b: integers in decimal, strings as they are, booleans as
 * true/false. Reals, null, objects and arrays are refused (false). */
static bool scalar_text(const json_t *v, struct buf *b)
{
    if (json_is_integer(v)) {
        buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v)) /* embedded NUL */
            return false;
        buf_append(b, s, json_string_length(v));
        return true;
    }
    if (json_is_boolean(v)) {
        buf_puts(b, json_is_true(v) ? "true" : "false");
        return true;
    }
    return false;
}

/* A parameter value as text: a scalar, or an array of scalars joined with '+' (params.h). */
static const char *param_text(struct prim_request *p, const json_t *v)
{
    struct buf b;
    buf_init(&b);
    bool ok = true;
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        ok = json_array_size(v) > 0 && json_array_size(v) <= LIMIT_LIST_ITEMS;
        json_array_foreach(v, i, e)
        {
            if (!ok)
                break;
            if (i > 0)
                buf_putc(&b, '+');
            ok = scalar_text(e, &b);
        }
    } else {
        ok = scalar_text(v, &b);
    }
    if (!ok || b.len == 0) {
        buf_free(&b);
        return NULL;
    }
    return keep(p, buf_take(&b, NULL));
}

static int apply(struct prim_request *p, const char *name, const json_t *v, struct cse_response *rsp)
{
    const char *text = param_text(p, v);
    if (text == NULL)
        return bad(rsp, "invalid value for parameter", name);
    return param_apply(name, text, &p->req, &p->params, rsp);
}

/* Filter criteria (TS-0004 §6.3.5.8 m2m:filterCriteria): every member by its short name; the
 * attribute list atr as [{"nm": name, "val": value}]. */
static int decode_fc(struct prim_request *p, const json_t *fc, struct cse_response *rsp)
{
    if (!json_is_object(fc))
        return bad(rsp, "fc must be an object", "fc");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)fc, k, v)
    {
        int rc;
        if (strcmp(k, "atr") == 0) {
            if (!json_is_array(v))
                return bad(rsp, "fc.atr must be a list", k);
            size_t i;
            const json_t *a;
            json_array_foreach(v, i, a)
            {
                const json_t *nm = json_object_get(a, "nm"), *val = json_object_get(a, "val");
                if (!json_is_object(a) || json_object_size(a) != 2 || !json_is_string(nm) || val == NULL)
                    return bad(rsp, "fc.atr entries are {\"nm\":name,\"val\":value}", k);
                if ((rc = apply(p, json_string_value(nm), val, rsp)) != 0)
                    return rc;
            }
            continue;
        }
        if ((rc = apply(p, k, v, rsp)) != 0)
            return rc;
    }
    return 0;
}

/* Parameters accepted and not evaluated: they cannot change the result of a request here
 * (originating timestamp, vendor information, authorization signatures). The others, also those
 * Warden does not implement (ec, da, rp, gtm: 5001), go through param_apply. */
static const char *const ignored[] = {"ot", "vsi", "aus"};
static const char *const by_param[] = {"rqet", "rset", "oet", "ec",  "da",   "rp",
                                       "gid",  "gtm",  "sqi", "asi", "auri", "atrl"};

int primitive_decode_request(const char *json, size_t len, struct prim_request *p, struct cse_response *rsp)
{
    memset(p, 0, sizeof *p);
    request_init(&p->req);
    char err[160];
    json_t *root = json_decode_body(json, len, err, sizeof err);
    if (root == NULL)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-primitive", "request primitive is not valid JSON: %s", err);
    p->root = root;
    json_t *o = root;
    if (json_is_object(o) && json_object_size(o) == 1 && json_object_get(o, "m2m:rqp") != NULL)
        o = json_object_get(o, "m2m:rqp");
    if (!json_is_object(o))
        return response_error(rsp, RSC_BAD_REQUEST, "bad-primitive", "request primitive must be a JSON object");
    struct cse_request *req = &p->req;

    /* rqi first, so that every later error can still be answered */
    const json_t *rqi = json_object_get(o, "rqi");
    if (json_is_string(rqi) && json_string_length(rqi) > 0 && json_string_length(rqi) <= LIMIT_ID_LEN &&
        strlen(json_string_value(rqi)) == json_string_length(rqi))
        req->rqi = json_string_value(rqi);
    else
        return bad(rsp, rqi ? "rqi must be a non-empty string" : "missing mandatory parameter", "rqi");

    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int rc = 0;
        if (strcmp(k, "rqi") == 0)
            continue;
        if (strcmp(k, "op") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < OP_CREATE || json_integer_value(v) > OP_NOTIFY)
                return bad(rsp, "op must be an integer 1..5:", k);
            req->op = (enum cse_op)json_integer_value(v);
        } else if (strcmp(k, "to") == 0 || strcmp(k, "fr") == 0 || strcmp(k, "rvi") == 0) {
            if (!json_is_string(v) || json_string_length(v) > LIMIT_ID_LEN ||
                strlen(json_string_value(v)) != json_string_length(v))
                return bad(rsp, "must be a string:", k);
            const char *s = json_string_value(v);
            if (k[0] == 't')
                req->to = s;
            else if (k[0] == 'f')
                req->fr = s;
            else
                req->rvi = s;
        } else if (strcmp(k, "ty") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
                return bad(rsp, "ty must be a resource type number:", k);
            req->ty = (int)json_integer_value(v);
        } else if (strcmp(k, "pc") == 0) {
            size_t n;
            p->pc = json_encode(v, &n);
            req->body = p->pc;
            req->body_len = n;
            req->media = MEDIA_JSON;
        } else if (strcmp(k, "rcn") == 0 || strcmp(k, "drt") == 0) {
            if (!json_is_integer(v))
                return bad(rsp, "must be an integer:", k);
            rc = apply(p, k, v, rsp);
        } else if (strcmp(k, "rt") == 0) {
            /* m2m:responseTypeInfo {rtv, nu}; a bare number is taken as rtv */
            const json_t *rtv = json_is_object(v) ? json_object_get(v, "rtv") : v;
            if (!json_is_integer(rtv))
                return bad(rsp, "rt needs an integer rtv:", k);
            rc = apply(p, "rt", rtv, rsp);
            /* nu: the notificationURIs of a nonBlockingRequestAsynch (TS-0004 §6.3.5.30), possibly
             * empty (no notification at all); as the one '&'-separated list core/nonblock.c reads */
            const json_t *nu = json_is_object(v) ? json_object_get(v, "nu") : NULL;
            if (rc == 0 && nu != NULL && p->rtu == NULL) {
                if (!json_is_array(nu))
                    return bad(rsp, "rt's nu must be a list of URIs:", k);
                struct buf b;
                buf_init(&b);
                size_t i;
                const json_t *u;
                json_array_foreach(nu, i, u)
                {
                    const char *s = json_string_value(u);
                    if (s == NULL || strchr(s, '&') != NULL || strlen(s) > LIMIT_ID_LEN) {
                        buf_free(&b);
                        return bad(rsp, "rt's nu must be a list of URIs:", k);
                    }
                    buf_printf(&b, "%s%s", i ? "&" : "", s);
                }
                p->rtu = buf_take(&b, NULL);
                if (p->rtu == NULL)
                    p->rtu = mem_strdup("");
                p->req.rtu = p->rtu;
            }
        } else if (strcmp(k, "rids") == 0 || strcmp(k, "tids") == 0 || strcmp(k, "ltids") == 0 ||
                   strcmp(k, "tkns") == 0 || strcmp(k, "tqi") == 0) {
            rc = apply(p, k, v, rsp);
        } else if (strcmp(k, "fc") == 0) {
            rc = decode_fc(p, v, rsp);
        } else {
            bool param = false;
            for (size_t i = 0; i < sizeof by_param / sizeof by_param[0]; i++)
                param |= strcmp(k, by_param[i]) == 0;
            if (param) {
                if ((rc = apply(p, k, v, rsp)) != 0)
                    return rc;
                continue;
            }
            bool known = false;
            for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
                known |= strcmp(k, ignored[i]) == 0;
            if (!known)
                return bad(rsp, "unknown parameter", k);
        }
        if (rc != 0)
            return rc;
    }
    if (req->op == OP_NONE)
        return bad(rsp, "missing mandatory parameter", "op");
    if (req->to == NULL || req->to[0] == '\0')
        return bad(rsp, "missing mandatory parameter", "to");
    const char *hash = strchr(req->to, '#');
    if (hash != NULL) { /* TS-0004 partial retrieve, case 2: "<target>#<attribute short name>" */
        const char *frag = keep(p, mem_strdup(hash + 1));
        const char *target = keep(p, mem_strndup(req->to, (size_t)(hash - req->to)));
        if (frag == NULL || target == NULL)
            return bad(rsp, "too many parameters", "to");
        req->to = target;
        if (frag[0] == '\0' || strchr(frag, '#') != NULL)
            return bad(rsp, "the fragment of To names one attribute:", "to");
        int rc = param_apply("atrl", frag, req, &p->params, rsp);
        if (rc != 0)
            return rc;
    }
    if (req->op != OP_CREATE)
        req->ty = 0; /* resourceType is a CREATE parameter (TS-0004 §7.2.1.1) */
    if (req->op == OP_CREATE && req->ty == 0)
        return bad(rsp, "CREATE needs", "ty");
    if ((req->op == OP_CREATE || req->op == OP_UPDATE) && req->body == NULL)
        return bad(rsp, "missing Content for the operation:", "pc");
    return 0;
}

char *primitive_encode_response(const struct cse_response *rsp, const char *rqi, const char *to, const char *fr,
                                const char *rvi, size_t *len)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "{\"rsc\":%d", rsp->rsc);
    if (rqi) {
        buf_puts(&b, ",\"rqi\":");
        buf_json_str(&b, rqi);
    }
    if (rsp->body && rsp->body_len) {
        buf_puts(&b, ",\"pc\":");
        buf_append(&b, rsp->body, rsp->body_len);
    } else if (!rsc_is_success(rsp->rsc)) {
        buf_puts(&b, ",\"pc\":{\"m2m:dbg\":");
        buf_json_str(&b, rsp->message ? rsp->message : rsc_name(rsp->rsc));
        buf_putc(&b, '}');
    }
    if (to) {
        buf_puts(&b, ",\"to\":");
        buf_json_str(&b, to);
    }
    if (fr) {
        buf_puts(&b, ",\"fr\":");
        buf_json_str(&b, fr);
    }
    if (rvi) {
        buf_puts(&b, ",\"rvi\":");
        buf_json_str(&b, rvi);
    }
    if (rsp->cnst) /* TS-0004 §6.3.4.2.44-45: partial content and where the next page starts */
        buf_printf(&b, ",\"cnst\":%d,\"cnot\":%ld", rsp->cnst, rsp->cnot);
    if (rsp->ati) { /* TS-0004 m2m:dynAuthLocalTokenIdAssignments from the "lti:tkid+..." form */
        buf_puts(&b, ",\"ati\":{\"ltia\":[");
        for (const char *p = rsp->ati; *p;) {
            const char *e = strchr(p, '+'), *end = e ? e : p + strlen(p);
            const char *colon = memchr(p, ':', (size_t)(end - p));
            if (colon) {
                char *lti = mem_strndup(p, (size_t)(colon - p)),
                     *tkid = mem_strndup(colon + 1, (size_t)(end - colon - 1));
                buf_puts(&b, p == rsp->ati ? "{\"lti\":" : ",{\"lti\":");
                buf_json_str(&b, lti);
                buf_puts(&b, ",\"tkid\":");
                buf_json_str(&b, tkid);
                buf_putc(&b, '}');
                mem_free(lti);
                mem_free(tkid);
            }
            p = e ? e + 1 : end;
        }
        buf_puts(&b, "]}");
    }
    buf_putc(&b, '}');
    return buf_take(&b, len);
}

char *primitive_encode_notify(const char *to, const char *fr, const char *rqi, const char *body, size_t body_len,
                              size_t *len)
{
    char err[64];
    json_t *pc = json_decode_body(body, body_len, err, sizeof err);
    if (pc == NULL)
        return NULL;
    json_decref(pc);
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"op\":5,\"to\":");
    buf_json_str(&b, to);
    buf_puts(&b, ",\"fr\":");
    buf_json_str(&b, fr);
    buf_puts(&b, ",\"rqi\":");
    buf_json_str(&b, rqi);
    buf_puts(&b, ",\"rvi\":\"3\",\"pc\":");
    buf_append(&b, body, body_len);
    buf_putc(&b, '}');
    return buf_take(&b, len);
}
