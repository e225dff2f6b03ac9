/* group: the <group> resource (ty 9, m2m:grp; TS-0001 §9.6.13, TS-0004 §7.4.13). Members are
 * validated against memberType when the group is created or its members change, with the
 * consistencyStrategy deciding what happens to members that do not conform. Requests to the
 * virtual child fanOutPoint are handled by core/fanout.c. */
#include <stdio.h>
#include <string.h>

#include "common_attrs.h"
#include "core/cse.h"
#include "core/rsc.h"
#include "rtype.h"
#include "util/mem.h"

enum { MT_MIXED = 0, CSY_ABANDON_MEMBER = 1, CSY_ABANDON_GROUP = 2, CSY_SET_MIXED = 3 };
enum { TY_REMOTE_MEMBER = -2 }; /* the "type" of a member hosted on another CSE: not known here */
enum { RSC_NO_MEMBERS = 4109, RSC_GROUP_MEMBER_TYPE_INCONSISTENT = 4110, RSC_MAX_NUMBER_OF_MEMBER_EXCEEDED = 6010 };

static const struct attr_def grp_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_COMMON_ANNC,
    {"cr", AT_CR, A_O, A_NP},
    {"mt", AT_UINT, A_O, A_NP},
    {"cnm", AT_UINT, A_NP, A_NP},
    {"mnm", AT_UINT, A_M, A_O},
    {"mid", AT_STRLIST, A_M, A_O},
    {"macp", AT_STRLIST, A_O, A_O},
    {"mtv", AT_BOOL, A_NP, A_NP},
    {"csy", AT_UINT, A_O, A_NP},
    {"gn", AT_STR, A_O, A_O},
};

/* TS-0001 §9.6.13, the "<groupAnnc> Attributes" column */
static const char *const grp_oa[] = {"mt", "cnm", "mnm", "mid", "macp", "mtv", "csy", "gn", "daci", NULL};

static const int grp_parents[] = {TY_CSEBASE, TY_AE, TY_AE_ANNC, TY_CSEBASE_ANNC, 0};

/* The type a member contributes: its own, or for "<group>/fopt" the sub-group's memberType; key
 * receives the member's identity for duplicate detection (its resourceID, "/fopt" kept). */
static int member_type(const struct resolver *lookup, bool fetch, const char *id, int *ty, char *key, size_t keylen)
{
    size_t n = strlen(id);
    bool fopt = n > 5 && strcmp(id + n - 5, "/fopt") == 0;
    char *base = mem_strndup(id, fopt ? n - 5 : n);
    struct store_row row;
    /* TS-0004 §7.4.13.2.1: to validate memberType "the Hosting CSE may retrieve the member
     * resources", on their own Hosting CSE for members hosted elsewhere */
    int rc = fetch && lookup->resolve_remote ? lookup->resolve_remote(lookup->arg, base, &row)
                                             : lookup->resolve(lookup->arg, base, &row);
    mem_free(base);
    if (rc != 0) /* RESOLVE_ON_OTHER_CSE: a member hosted on another CSE */
        return rc;
    if (fopt && row.ty != TY_GRP) {
        store_row_free(&row);
        return RSC_NOT_FOUND;
    }
    *ty = row.ty;
    snprintf(key, keylen, "%s%s", row.ri, fopt ? "/fopt" : "");
    if (fopt) {
        json_t *doc = json_loads(row.doc, 0, NULL);
        *ty = (int)json_int_or(doc, "mt", MT_MIXED);
        json_decref(doc);
    }
    store_row_free(&row);
    return 0;
}

/* TS-0004 §7.4.13.2.1/.3: remove duplicates, enforce maxNrOfMembers, validate memberType under the
 * consistencyStrategy; writes mid, cnm, mtv (and mt for SET_MIXED) into out.
 * A member is looked up as the originator sees it (struct resolver): one that does not exist and
 * one the originator may not retrieve are the same to this code, so neither the members kept nor
 * the answer can tell which resources exist or what type they are. Hence:
 *  - MIXED: every member is kept as given (no type to check, nothing looked up to decide);
 *  - otherwise a member whose type cannot be checked rejects the request with
 *    RECEIVER_HAS_NO_PRIVILEGE (5105, TS-0004 §7.4.13.2.1), missing or forbidden alike;
 *  - a member hosted on another CSE (SP-relative, or through a <remoteCSE>): with a memberType that
 *    is not mixed it is retrieved on its own Hosting CSE, From the originator (TS-0004 §7.4.13.2.1
 *    "the Hosting CSE may retrieve the member resources"; the request parks meanwhile,
 *    core/remote_fetch.c), and then validated like a local one: refused or missing there is 5105
 *    as here. When its CSE cannot be reached it is kept, and the group gets memberTypeValidated
 *    false (TS-0004 §7.4.13.2.1, §7.4.13.2.3: temporarily unreachable); its representation goes
 *    back in the response (rcn 1, the default). With mixed, nothing is retrieved (nothing to
 *    validate) and it is kept as given. Fan-out reaches it either way (core/fanout.c). */
static int validate_members(const struct resolver *lookup, const json_t *mid, int64_t mnm, int64_t mt, int64_t csy,
                            json_t *out, struct cse_response *rsp)
{
    /* Duplicates are the same resource, however it is addressed (resourceID or structured, CSE-,
     * SP-relative or absolute); members that cannot be looked up are compared as given. */
    json_t *kept = json_array(), *keys = json_array(), *types = json_array();
    int rc = 0;
    size_t i;
    json_t *m;
    json_array_foreach(mid, i, m)
    {
        const char *id = json_string_value(m);
        char key[LIMIT_ID_LEN + 8];
        int ty = -1;
        int mrc = member_type(lookup, mt != MT_MIXED, id, &ty, key, sizeof key);
        if (mrc != 0) {
            snprintf(key, sizeof key, "?%s", id);
            ty = mrc == RESOLVE_ON_OTHER_CSE ? TY_REMOTE_MEMBER : -1;
        }
        bool dup = false;
        size_t k;
        json_t *e;
        json_array_foreach(keys, k, e)
        {
            dup |= strcmp(json_string_value(e), key) == 0;
        }
        if (dup)
            continue;
        json_array_append(kept, m);
        json_array_append_new(keys, json_string(key));
        json_array_append_new(types, json_integer(ty));
    }
    json_t *valid = json_array();
    if ((int64_t)json_array_size(kept) > mnm) {
        rc = response_error(rsp, RSC_MAX_NUMBER_OF_MEMBER_EXCEEDED, "too-many-members",
                            "memberIDs lists %zu members, maxNrOfMembers is %lld", json_array_size(kept),
                            (long long)mnm);
        goto out;
    }
    for (i = 0; i < json_array_size(kept) && rc == 0 && mt != MT_MIXED; i++) {
        const char *id = json_string_value(json_array_get(kept, i));
        if (json_integer_value(json_array_get(types, i)) == -1)
            rc = response_error(rsp, RSC_RECEIVER_HAS_NO_PRIVILEGE, "member-type-unknown",
                                "the type of member '%.256s' cannot be checked: it does not exist here or the "
                                "originator may not retrieve it",
                                id);
    }
    bool validated = true;
    for (i = 0; i < json_array_size(kept) && rc == 0; i++) {
        const char *id = json_string_value(json_array_get(kept, i));
        int ty = (int)json_integer_value(json_array_get(types, i));
        bool remote = ty == TY_REMOTE_MEMBER;
        if (remote && mt != MT_MIXED)
            validated = false;
        bool conforms = mt == MT_MIXED || ty == mt || remote;
        if (conforms) {
            json_array_append_new(valid, json_string(id));
        } else if (csy == CSY_ABANDON_GROUP) {
            rc = response_error(rsp, RSC_GROUP_MEMBER_TYPE_INCONSISTENT, "member-type",
                                "member '%.256s' is not of memberType %lld", id, (long long)mt);
        } else if (csy == CSY_SET_MIXED) {
            mt = MT_MIXED;
            json_array_append_new(valid, json_string(id));
        } /* ABANDON_MEMBER: drop it */
    }
    if (rc == 0) {
        json_object_set_new(out, "mt", json_integer((json_int_t)mt));
        json_object_set_new(out, "cnm", json_integer((json_int_t)json_array_size(valid)));
        json_object_set_new(out, "mtv", json_boolean(validated || mt == MT_MIXED));
        json_object_set(out, "mid", valid);
    }
out:
    json_decref(valid);
    json_decref(kept);
    json_decref(keys);
    json_decref(types);
    return rc;
}

static int grp_prepare_create(struct create_ctx *c)
{
    int64_t csy = json_int_or(c->attrs, "csy", CSY_ABANDON_MEMBER);
    if (csy < CSY_ABANDON_MEMBER || csy > CSY_SET_MIXED)
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-content", "consistencyStrategy must be 1, 2 or 3");
    if (json_int_or(c->attrs, "mnm", 0) < 1)
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-content", "maxNrOfMembers must be a positive integer");
    if (json_object_get(c->res, "csy") == NULL)
        json_object_set_new(c->res, "csy", json_integer(CSY_ABANDON_MEMBER));
    return validate_members(&c->lookup, json_object_get(c->attrs, "mid"), json_int_or(c->attrs, "mnm", 0),
                            json_int_or(c->attrs, "mt", MT_MIXED), csy, c->res, c->rsp);
}

static int grp_prepare_update(struct cse *cse, const struct resolver *lookup, const struct store_row *row,
                              json_t *patch, struct cse_response *rsp)
{
    (void)cse;
    json_t *doc = json_loads(row->doc, 0, NULL);
    int64_t mnm = json_int_or(patch, "mnm", json_int_or(doc, "mnm", 0));
    int rc = 0;
    if (json_object_get(patch, "mnm") && mnm < 1)
        rc = response_error(rsp, RSC_BAD_REQUEST, "bad-content", "maxNrOfMembers must be a positive integer");
    else if (json_object_get(patch, "mid"))
        rc = validate_members(lookup, json_object_get(patch, "mid"), mnm, json_int_or(doc, "mt", MT_MIXED),
                              json_int_or(doc, "csy", CSY_ABANDON_MEMBER), patch, rsp);
    else if (mnm < json_int_or(doc, "cnm", 0))
        rc = response_error(rsp, RSC_MAX_NUMBER_OF_MEMBER_EXCEEDED, "too-many-members",
                            "maxNrOfMembers %lld is below the current number of members", (long long)mnm);
    json_decref(doc);
    return rc;
}

const struct rtype rtype_group = {
    .ty = TY_GRP,
    .sn = "grp",
    .attrs = grp_attrs,
    .nattrs = NATTRS(grp_attrs),
    .has_acpi = true,
    .parents = grp_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .has_cr = true,
    .prepare_create = grp_prepare_create,
    .prepare_update = grp_prepare_update,
    .annc_ty = TY_GRP_ANNC,
    .annc_oa = grp_oa,
};
