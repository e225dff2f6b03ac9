/* role: the <role> resource (ty 31, m2m:rol; TS-0001 §9.6.38, TS-0003 §7.4). An Authorization
 * Authority records that a holder has a Role-ID for a time; a request naming the Role-ID in rids
 * gets it only after core/credentials.c verified issuer, holder and validity. The issuer, holder and
 * validity are written once, and only the issuer itself (or the admin) may create a role in its
 * name, so a role cannot be forged by whoever may create children of the CSEBase. */
#include <string.h>

#include "common_attrs.h"
#include "core/cse.h"
#include "core/rsc.h"
#include "rtype.h"
#include "util/timeutil.h"

static const struct attr_def rol_attrs[] = {
    ATTRS_UNIVERSAL_RO,          ATTRS_COMMON_RW,
    {"rlid", AT_STR, A_M, A_NP}, {"tkis", AT_STR, A_M, A_NP},
    {"tkhd", AT_STR, A_M, A_NP}, {"tknb", AT_TS, A_M, A_NP},
    {"tkna", AT_TS, A_M, A_NP},  {"rlnm", AT_STR, A_O, A_O},
    {"rltl", AT_STR, A_O, A_O},
};

static const int rol_parents[] = {TY_CSEBASE, 0};

static int rol_prepare_create(struct create_ctx *c)
{
    const char *rlid = json_string_value(json_object_get(c->attrs, "rlid"));
    struct id issuer, holder;
    int64_t nb, na;
    if (rlid[0] == '\0' || strlen(rlid) > LIMIT_NAME_LEN)
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-content", "rlid must be a Role-ID of 1..%d bytes",
                              LIMIT_NAME_LEN);
    if (!id_parse(&c->cse->idenv, json_string_value(json_object_get(c->attrs, "tkis")), &issuer) ||
        (issuer.kind != ID_AE && issuer.kind != ID_CSE))
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-content", "tkis must be the issuer's AE-ID or CSE-ID");
    if (!id_parse(&c->cse->idenv, json_string_value(json_object_get(c->attrs, "tkhd")), &holder) ||
        (holder.kind != ID_AE && holder.kind != ID_CSE))
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-content", "tkhd must be the holder's AE-ID or CSE-ID");
    ts_parse(json_string_value(json_object_get(c->attrs, "tknb")), &nb);
    ts_parse(json_string_value(json_object_get(c->attrs, "tkna")), &na);
    if (na <= nb)
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-content", "tkna must be later than tknb");
    bool admin = strcmp(c->orig->canon, c->cse->admin.canon) == 0;
    if (!admin && strcmp(c->orig->canon, issuer.canon) != 0)
        return response_error(c->rsp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "role-not-issuer",
                              "a role may be created only by its issuer (tkis)");
    return 0;
}

const struct rtype rtype_role = {
    .ty = TY_ROLE,
    .sn = "rol",
    .attrs = rol_attrs,
    .nattrs = NATTRS(rol_attrs),
    .parents = rol_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .has_acpi = true,
    .prepare_create = rol_prepare_create,
};
