/* acp: the accessControlPolicy resource (ty 1, m2m:acp; TS-0001 §9.6.2, TS-0004 §7.4.2). pv and
 * pvs are compiled on create and update, so a policy this CSE cannot evaluate exactly is refused
 * with 4000 instead of being stored and misread later. */
#include "common_attrs.h"
#include "core/cse.h"
#include "core/rsc.h"
#include "rtype.h"
#include "security/acp.h"
#include "annc.h"

static const struct attr_def acp_attrs[] = {
    ATTRS_UNIVERSAL_RO,           {"rn", AT_NAME, A_O, A_NP},   {"et", AT_TS, A_O, A_O},  {"lbl", AT_LABELS, A_O, A_O},
    {"at", AT_STRLIST, A_O, A_O}, {"aa", AT_STRLIST, A_O, A_O}, {"pv", AT_ANY, A_M, A_O}, {"pvs", AT_ANY, A_M, A_O},
};

/* TS-0001 §9.6.2, the "<accessControlPolicyAnnc> Attributes" column */
static const char *const acp_ma[] = {"pv", "pvs", NULL};

/* TS-0001 Table 9.6.26.1-1: also below announced resources */
static const int acp_parents[] = {TY_CSEBASE, TY_AE, TY_AE_ANNC, TY_CSEBASE_ANNC, 0};

/* Compile pv/pvs present in attrs; pvs must keep at least one rule, or nobody could ever change
 * or delete the policy again. */
static int check(struct cse *cse, const json_t *attrs, bool create, struct cse_response *rsp)
{
    static const char *const keys[] = {"pv", "pvs"};
    for (int i = 0; i < 2; i++) {
        const json_t *v = json_object_get(attrs, keys[i]);
        if (v == NULL)
            continue;
        if (json_is_null(v))
            return response_error(rsp, RSC_BAD_REQUEST, "bad-content", "%s is mandatory and cannot be removed",
                                  keys[i]);
        char err[256];
        struct acp_policy *p = acp_compile(v, &cse->idenv, err, sizeof err);
        if (p == NULL)
            return response_error(rsp, RSC_BAD_REQUEST, "bad-policy", "%s: %s", keys[i], err);
        int n = acp_policy_rules(p);
        acp_policy_free(p);
        if (i == 1 && n == 0)
            return response_error(rsp, RSC_BAD_REQUEST, "bad-policy", "pvs needs at least one rule");
    }
    (void)create;
    return 0;
}

static int acp_prepare_create(struct create_ctx *c)
{
    return check(c->cse, c->attrs, true, c->rsp);
}

static int acp_prepare_update(struct cse *cse, const struct resolver *lookup, const struct store_row *row,
                              json_t *patch, struct cse_response *rsp)
{
    (void)lookup;
    (void)row;
    return check(cse, patch, false, rsp);
}

const struct rtype rtype_acp = {
    .ty = TY_ACP,
    .sn = "acp",
    .attrs = acp_attrs,
    .nattrs = NATTRS(acp_attrs),
    .parents = acp_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .prepare_create = acp_prepare_create,
    .prepare_update = acp_prepare_update,
    .annc_ty = TY_ACP_ANNC,
    .annc_ma = acp_ma,
    .annc_convert = acp_annc_convert,
};
