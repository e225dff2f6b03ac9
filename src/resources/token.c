/* token: the <token> resource (ty 32, m2m:tk; TS-0001 §9.6.39, TS-0003 §7.3.2.4). It holds a
 * token object (a JWS/JWE, tkob) in a Token Repository, so that an originator can name it by
 * Token-ID in tids instead of sending it. The token object is verified when it is stored (an
 * unverifiable or unknown issuer's token is refused with 4000) and again on every use; tkid, tkis,
 * tkhd, tknb, tkna, tkau, tknm and tkps are read from its claims, never from the request. */
#include <stdio.h>
#include <string.h>

#include "common_attrs.h"
#include "core/cse.h"
#include "core/rsc.h"
#include "rtype.h"
#include "security/token.h"
#include "util/timeutil.h"

static const struct attr_def tk_attrs[] = {
    ATTRS_UNIVERSAL_RO,           ATTRS_COMMON_RW,
    {"tkob", AT_STR, A_M, A_NP},  {"tkid", AT_STR, A_NP, A_NP},
    {"vr", AT_STR, A_NP, A_NP},   {"tkis", AT_STR, A_NP, A_NP},
    {"tkhd", AT_STR, A_NP, A_NP}, {"tknb", AT_TS, A_NP, A_NP},
    {"tkna", AT_TS, A_NP, A_NP},  {"tkau", AT_STRLIST, A_NP, A_NP},
    {"tknm", AT_STR, A_NP, A_NP}, {"tkps", AT_ANY, A_NP, A_NP},
    {"tkex", AT_STR, A_NP, A_NP},
};

static const int tk_parents[] = {TY_CSEBASE, 0};

static int tk_prepare_create(struct create_ctx *c)
{
    const char *tkob = json_string_value(json_object_get(c->attrs, "tkob"));
    struct token *t;
    const char *reason;
    char detail[256];
    if (c->cse->issuers == NULL)
        return response_error(c->rsp, RSC_BAD_REQUEST, "token-unverifiable",
                              "no Authorization Authorities are configured (authz.issuers)");
    if (token_verify(c->cse->issuers, &c->cse->idenv, tkob, strlen(tkob), &t, &reason, detail, sizeof detail) != 0)
        return response_error(c->rsp, RSC_BAD_REQUEST, "token-unverifiable", "tkob: %s (%s)", detail, reason);
    char ts[TS_LEN + 1];
    json_set_str(c->res, "tkid", t->jti);
    json_set_str(c->res, "vr", "1");
    json_set_str(c->res, "tkis", t->iss);
    json_set_str(c->res, "tkhd", t->holder);
    ts_format(t->nbf, ts);
    json_set_str(c->res, "tknb", ts);
    ts_format(t->exp, ts);
    json_set_str(c->res, "tkna", ts);
    if (t->name)
        json_set_str(c->res, "tknm", t->name);
    if (t->naud > 0) {
        json_t *aud = json_array();
        for (int i = 0; i < t->naud; i++)
            json_array_append_new(aud, json_string(t->aud[i]));
        json_object_set_new(c->res, "tkau", aud);
    }
    token_free(t);
    return 0;
}

const struct rtype rtype_token = {
    .ty = TY_TOKEN,
    .sn = "tk",
    .attrs = tk_attrs,
    .nattrs = NATTRS(tk_attrs),
    .parents = tk_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .has_acpi = true,
    .prepare_create = tk_prepare_create,
};
