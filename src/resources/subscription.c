/* subscription: the <subscription> resource (ty 23, m2m:sub; TS-0001 §9.6.8, TS-0004 §7.4.8).
 * This file validates what a subscriber asks for; core/subscribe.c turns changes into
 * notifications and core/ops_create.c verifies notification targets. Criteria this CSE does not
 * evaluate are refused with 4000, never accepted and silently ignored. */
#include <stdint.h>
#include <string.h>

#include "common_attrs.h"
#include "core/cse.h"
#include "core/rsc.h"
#include "encoding/json.h"
#include "notify/notify.h"
#include "rtype.h"
#include "util/timeutil.h"

static const struct attr_def sub_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_COMMON_RW,
    {"cr", AT_CR, A_O, A_NP},
    {"enc", AT_ANY, A_O, A_O},
    {"exc", AT_UINT, A_O, A_O},
    {"nu", AT_STRLIST, A_M, A_O},
    {"gpi", AT_STR, A_O, A_NP},
    {"bn", AT_ANY, A_O, A_O},
    {"ln", AT_BOOL, A_O, A_O},
    {"nct", AT_UINT, A_O, A_O},
    {"su", AT_STR, A_O, A_NP},
    {"acrs", AT_STRLIST, A_NP, A_NP}, /* associatedCrossResourceSub: set by the CSE only (TS-0004 Table 7.4.8.1-3) */
};

/* TS-0001 §9.6.8: the subscribable types among those implemented, i.e. those whose child resource
 * table in TS-0001 §9.6 lists <subscription> (e.g. Tables 9.6.6-1, 9.6.38-1, 9.6.39-1, 9.6.40-1) */
static const int sub_parents[] = {TY_CSEBASE, TY_AE, TY_CNT, TY_GRP, TY_ACP, TY_ROLE, TY_TOKEN, TY_DAC, TY_TS, TY_FCNT,
                                  TY_NODE, TY_MGO, TY_LCP,
                                  /* TS-0001 Table 9.6.26.1-1 */
                                  TY_ACP_ANNC, TY_AE_ANNC, TY_CNT_ANNC, TY_CSEBASE_ANNC, TY_GRP_ANNC, TY_TS_ANNC, 0};

static int bad(struct cse_response *rsp, const char *what)
{
    return response_error(rsp, RSC_BAD_REQUEST, "bad-subscription", "%s", what);
}

static bool ints_in(const json_t *list, int lo, int hi)
{
    if (!json_is_array(list) || json_array_size(list) == 0)
        return false;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (!json_is_integer(e) || json_integer_value(e) < lo || json_integer_value(e) > hi)
            return false;
    }
    return true;
}

int sub_check_enc(const json_t *enc, struct cse_response *rsp)
{
    if (!json_is_object(enc))
        return bad(rsp, "eventNotificationCriteria (enc) must be an object");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)enc, k, v)
    {
        if (strcmp(k, "net") == 0) {
            /* 1 update, 2 delete, 3 create of a direct child, 4 delete of a direct child, 7
             * Blocking_Update, 8 missing data points of a <timeSeries> (TS-0004 §7.5.1.2.9) */
            if (!ints_in(v, 1, 8))
                return bad(rsp, "enc.net must list notificationEventTypes 1-4, 7 or 8 (the ones this CSE supports)");
            size_t i;
            json_t *n;
            json_array_foreach(v, i, n)
            {
                if (json_integer_value(n) == 5 || json_integer_value(n) == 6)
                    return response_error(rsp, RSC_NOT_IMPLEMENTED, "unsupported",
                                          "notificationEventType %lld is not supported by this CSE",
                                          (long long)json_integer_value(n));
            }
        } else if (strcmp(k, "md") == 0) { /* missingData {num, dur} (TS-0004 Table 6.3.5.40-1) */
            int64_t ms;
            const json_t *num = json_object_get(v, "num"), *dur = json_object_get(v, "dur");
            if (!json_is_object(v) || json_object_size(v) != 2 || !json_is_integer(num) ||
                json_integer_value(num) < 1 || dur == NULL ||
                !(json_is_integer(dur) ? json_integer_value(dur) > 0
                                       : json_is_string(dur) && iso_duration_ms(json_string_value(dur), &ms)))
                return bad(rsp, "enc.md must be {num: a positive integer, dur: an ISO 8601 duration such as PT1M}");
        } else if (strcmp(k, "chty") == 0) {
            if (!ints_in(v, 1, 65535))
                return bad(rsp, "enc.chty must list resource types");
        } else if (strcmp(k, "atr") == 0) {
            size_t i;
            json_t *a;
            if (!json_is_array(v))
                return bad(rsp, "enc.atr must list attribute names");
            json_array_foreach(v, i, a)
            {
                if (!json_is_string(a))
                    return bad(rsp, "enc.atr must list attribute names");
            }
        } else if (strcmp(k, "om") == 0) {
            /* TS-0004 Table 6.3.5.57-1 operationMonitor: 0..n of {ops: accessControlOperations,
             * or: an originator ID}, at least one of the two */
            size_t i;
            json_t *m;
            if (!json_is_array(v) || json_array_size(v) > LIMIT_LIST_ITEMS)
                return bad(rsp, "enc.om must list operation monitors {ops, or}");
            json_array_foreach(v, i, m)
            {
                const json_t *ops = json_object_get(m, "ops"), *orig = json_object_get(m, "or");
                const char *mk;
                json_t *mv;
                if (!json_is_object(m) || (ops == NULL && orig == NULL))
                    return bad(rsp, "an operationMonitor names operations (ops), an originator (or) or both");
                json_object_foreach(m, mk, mv)
                {
                    if (strcmp(mk, "ops") != 0 && strcmp(mk, "or") != 0)
                        return bad(rsp, "an operationMonitor holds only ops and or");
                }
                if (ops && (!json_is_integer(ops) || json_integer_value(ops) < 1 || json_integer_value(ops) > 63))
                    return bad(rsp, "operationMonitor ops is an accessControlOperations value 1-63");
                if (orig && (!json_is_string(orig) || json_string_length(orig) == 0))
                    return bad(rsp, "operationMonitor or is an originator ID");
            }
        } else {
            return response_error(rsp, RSC_BAD_REQUEST, "bad-subscription",
                                  "eventNotificationCriteria element '%s' is not supported by this CSE", k);
        }
    }
    return 0;
}

/* batchNotify (TS-0004 §7.4.8.2.1 leaves the bounds to the hosting CSE): num and dur are bounded
 * (notify.batch_num, notify.batch_dur) since a batch holds its notifications in memory. */
static int check_bn(struct cse *cse, const json_t *bn, struct cse_response *rsp)
{
    if (!json_is_object(bn))
        return bad(rsp, "batchNotify (bn) must be an object {num, dur}");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)bn, k, v)
    {
        int64_t ms;
        if (strcmp(k, "num") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1)
                return bad(rsp, "bn.num must be a positive integer");
            if (json_integer_value(v) > cse->cfg->notify_batch_num)
                return response_error(rsp, RSC_BAD_REQUEST, "batch-limit",
                                      "bn.num %lld is more than this CSE batches (notify.batch_num = %ld)",
                                      (long long)json_integer_value(v), cse->cfg->notify_batch_num);
        } else if (strcmp(k, "dur") == 0) {
            bool ok = json_is_integer(v) ? json_integer_value(v) >= 0
                                         : json_is_string(v) && iso_duration_ms(json_string_value(v), &ms);
            if (!ok)
                return bad(rsp, "bn.dur must be seconds or an ISO 8601 duration such as PT10S");
            ms = json_is_integer(v)
                     ? (json_integer_value(v) > INT64_MAX / 1000 ? INT64_MAX : json_integer_value(v) * 1000)
                     : ms;
            if (ms / 1000 > cse->cfg->notify_batch_dur)
                return response_error(rsp, RSC_BAD_REQUEST, "batch-limit",
                                      "bn.dur is longer than this CSE batches (notify.batch_dur = %ld seconds)",
                                      cse->cfg->notify_batch_dur);
        } else {
            return bad(rsp, "batchNotify holds only num and dur");
        }
    }
    if (json_object_size(bn) == 0)
        return bad(rsp, "batchNotify needs num, dur or both");
    return 0;
}

/* One notification target: a URL its transport and the outbound policy allow, or an AE-ID or
 * CSE-ID (TS-0004 §7.4.8), or a structured or unstructured CSE-relative ID of an <AE> or the
 * <CSEBase>, which names that entity too (TS-0004 §7.4.8.2.1; looked up as the originator sees
 * it). what names the attribute for the message. */
static int check_target(struct cse *cse, const struct resolver *lookup, const char *what, const char *s,
                        struct cse_response *rsp)
{
    struct id id;
    if (s == NULL)
        return bad(rsp, "notification targets must be strings");
    if (strstr(s, "://")) {
        char why[256];
        if (cse->outbound && !outbound_allowed(cse->outbound, s, why, sizeof why))
            return response_error(rsp, RSC_BAD_REQUEST, "outbound-policy", "%s '%.200s' refused: %s", what, s, why);
    } else if (!id_parse(&cse->idenv, s, &id) || (id.kind != ID_AE && id.kind != ID_CSE)) {
        struct store_row row;
        bool entity = false;
        if (lookup && lookup->resolve(lookup->arg, s, &row) == 0) {
            entity = row.ty == TY_AE || row.ty == TY_CSEBASE;
            store_row_free(&row);
        }
        if (!entity)
            return response_error(rsp, RSC_BAD_REQUEST, "bad-subscription",
                                  "%s '%.200s' is neither a URL nor the ID of an AE or CSE", what, s);
    }
    return 0;
}

/* Notification targets: URLs the outbound policy allows, or oneM2M IDs. */
int sub_check_nu(struct cse *cse, const struct resolver *lookup, const json_t *nu, struct cse_response *rsp)
{
    if (json_array_size(nu) == 0)
        return bad(rsp, "notificationURI (nu) must list at least one target");
    if (json_array_size(nu) > (size_t)cse->cfg->notify_max_targets) /* before any verification request */
        return response_error(rsp, RSC_BAD_REQUEST, "target-limit",
                              "notificationURI lists %zu targets, more than one event may reach (notify.max_targets = "
                              "%ld)",
                              json_array_size(nu), cse->cfg->notify_max_targets);
    size_t i;
    json_t *e;
    json_array_foreach(nu, i, e)
    {
        if (check_target(cse, lookup, "notificationURI", json_string_value(e), rsp))
            return rsp->rsc;
    }
    return 0;
}

/* TS-0004 §7.4.8.2.1: net 8 needs md, and md a <timeSeries>. enc: the criteria as they will be. */
static int check_missing_data(const json_t *enc, int parent_ty, struct cse_response *rsp)
{
    bool net8 = false, md = json_object_get(enc, "md") != NULL;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(enc, "net"), i, e)
    {
        net8 = net8 || (json_is_integer(e) && json_integer_value(e) == 8);
    }
    if (net8 && !md)
        return bad(rsp, "notificationEventType 8 (missing data points) needs enc.md");
    if ((net8 || md) && parent_ty != TY_TS)
        return bad(rsp, "missingData and notificationEventType 8 apply to a <timeSeries> only");
    return 0;
}

static int check(struct cse *cse, const struct resolver *lookup, const json_t *a, struct cse_response *rsp)
{
    const json_t *v;
    if ((v = json_object_get(a, "enc")) && !json_is_null(v) && sub_check_enc(v, rsp))
        return rsp->rsc;
    if ((v = json_object_get(a, "bn")) && !json_is_null(v) && check_bn(cse, v, rsp))
        return rsp->rsc;
    if ((v = json_object_get(a, "nct")) && !json_is_null(v) && (json_integer_value(v) < 1 || json_integer_value(v) > 3))
        return bad(rsp, "notificationContentType must be 1 (all attributes), 2 (modified) or 3 (resource ID)");
    if ((v = json_object_get(a, "exc")) && !json_is_null(v) && json_integer_value(v) < 1)
        return bad(rsp, "expirationCounter must be positive");
    if ((v = json_object_get(a, "nu")) && sub_check_nu(cse, lookup, v, rsp))
        return rsp->rsc;
    /* the subscriberURI is a notification target too (the deletion notice goes there) */
    if ((v = json_object_get(a, "su")) && json_is_string(v) &&
        check_target(cse, lookup, "subscriberURI", json_string_value(v), rsp))
        return rsp->rsc;
    return 0;
}

/* The criteria against the subscribed-to resource (of type parent_ty) and each other, as the
 * subscription will hold them: TS-0004 §7.4.8.2.1/§7.4.8.2.3 Recv-6.4: a childResourceType that is
 * no valid child of the subscribed-to resource is 4000; TS-0001 Table 9.6.8-4: a
 * notificationContentType n/a for a notificationEventType is 4000 (modified attributes, nct 2, only
 * with update of the resource, net 1; net defaults to 1). */
static int check_combination(const json_t *enc, const json_t *nct, int parent_ty, struct cse_response *rsp)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(enc, "chty"), i, e)
    {
        if (!rtype_child_ok((int)json_integer_value(e), parent_ty))
            return response_error(rsp, RSC_BAD_REQUEST, "bad-subscription",
                                  "enc.chty: resource type %lld cannot be a child of the subscribed-to resource",
                                  (long long)json_integer_value(e));
    }
    if (json_integer_value(nct) == 2) {
        json_array_foreach(json_object_get(enc, "net"), i, e)
        {
            if (json_integer_value(e) != 1 && json_integer_value(e) != 7)
                return bad(rsp, "notificationContentType 2 (modified attributes) is valid only with "
                                "notificationEventType 1 or 7 (update of the resource), TS-0001 Table 9.6.8-4");
        }
    }
    return 0;
}

/* TS-0004 §7.4.8.2.1 Recv-6.5: a batchNotify without duration gets the SP's default duration, one
 * without number the default number; the subscription shows both. */
#define BATCH_DEFAULT_DUR "PT5S" /* = BATCH_DEFAULT_MS of core/subscribe.c */
#define BATCH_DEFAULT_NUM 10
static void batch_defaults(json_t *bn)
{
    if (!json_is_object(bn))
        return;
    if (json_object_get(bn, "dur") == NULL)
        json_object_set_new(bn, "dur", json_string(BATCH_DEFAULT_DUR));
    if (json_object_get(bn, "num") == NULL)
        json_object_set_new(bn, "num", json_integer(BATCH_DEFAULT_NUM));
}

static bool has_net(const json_t *enc, int net)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(enc, "net"), i, e)
    {
        if (json_integer_value(e) == net)
            return true;
    }
    return false;
}

/* TS-0004 §7.4.8.2.1 Recv-6.4, a Blocking_Update subscription (net 7): net 7 alone, one target
 * that is a oneM2M resource ID (no URL), no criteria but atr, none of the other resource-specific
 * attributes. (Another one on the same resource is 4124, checked in the transaction.) */
/* TS-0004 §7.4.8.2.1 Recv-6.4 (and §7.4.8.2.3 for the result of an update): notificationEventType
 * and operationMonitor exclude each other. */
static int check_om_alone(const json_t *enc, struct cse_response *rsp)
{
    if (json_object_get(enc, "om") && json_array_size(json_object_get(enc, "om")) > 0 && json_object_get(enc, "net"))
        return bad(rsp, "notificationEventType and operationMonitor cannot both be set");
    return 0;
}

static int check_blocking(const json_t *a, struct cse_response *rsp)
{
    const json_t *enc = json_object_get(a, "enc"), *nu = json_object_get(a, "nu");
    if (!has_net(enc, 7))
        return 0;
    if (json_array_size(json_object_get(enc, "net")) != 1)
        return bad(rsp, "a Blocking_Update subscription has notificationEventType 7 only");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)enc, k, v)
    {
        if (strcmp(k, "net") != 0 && strcmp(k, "atr") != 0)
            return bad(rsp, "a Blocking_Update subscription takes no criteria but the attribute condition");
    }
    if (json_array_size(nu) != 1)
        return bad(rsp, "a Blocking_Update subscription has exactly one notification target");
    if (strstr(json_string_value(json_array_get(nu, 0)), "://"))
        return bad(rsp, "the target of a Blocking_Update subscription is a oneM2M resource ID, not a URL");
    static const char *const others[] = {"exc", "gpi", "bn", "ln", "nct", "su"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        if (json_object_get(a, others[i]))
            return response_error(rsp, RSC_BAD_REQUEST, "bad-subscription",
                                  "a Blocking_Update subscription takes no '%s'", others[i]);
    return 0;
}

static int blocking_found(void *arg, const struct store_row *r)
{
    json_t *doc = json_loads(r->doc, 0, NULL);
    bool blocking = has_net(json_object_get(doc, "enc"), 7);
    json_decref(doc);
    if (blocking)
        *(bool *)arg = true;
    return blocking; /* stop at the first */
}

/* Writer: one Blocking_Update subscription per resource (TS-0004 §7.4.8.2.1 Recv-6.4: 4124). */
static int txn_blocking_unique(struct txn_ctx *t, const struct store_row *parent, json_t *res)
{
    if (!has_net(json_object_get(res, "enc"), 7))
        return 0;
    bool exists = false;
    if (t->txn->st->ops->children(t->txn, parent->ri, TY_SUB, t->now, blocking_found, &exists) < 0)
        return response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    return exists ? response_error(t->rsp, 4124, "blocking-exists",
                                   "the resource already has a Blocking_Update subscription")
                  : 0;
}

static int sub_prepare_create(struct create_ctx *c)
{
    if (check_blocking(c->attrs, c->rsp) || check_om_alone(json_object_get(c->attrs, "enc"), c->rsp))
        return c->rsp->rsc;
    if (check(c->cse, &c->lookup, c->attrs, c->rsp))
        return c->rsp->rsc;
    if (check_combination(json_object_get(c->attrs, "enc"), json_object_get(c->attrs, "nct"), c->parent->ty, c->rsp))
        return c->rsp->rsc;
    if (check_missing_data(json_object_get(c->attrs, "enc"), c->parent->ty, c->rsp))
        return c->rsp->rsc;
    if (json_object_get(c->res, "nct") == NULL) /* TS-0001 Table 9.6.8-4 defaults: 2 for net 7 */
        json_object_set_new(c->res, "nct", json_integer(has_net(json_object_get(c->attrs, "enc"), 7) ? 2 : 1));
    if (json_is_object(json_object_get(c->res, "bn"))) {
        json_t *bn = json_deep_copy(json_object_get(c->res, "bn"));
        batch_defaults(bn);
        json_object_set_new(c->res, "bn", bn);
    }
    /* TS-0004 §7.4.8.2.1: a notification target other than the originator makes the originator
     * the recorded creator */
    if (json_object_get(c->res, "cr") == NULL && c->req->fr)
        json_object_set_new(c->res, "cr", json_string(c->req->fr));
    return 0;
}

static int sub_prepare_update(struct cse *cse, const struct resolver *lookup, const struct store_row *row,
                              json_t *patch, struct cse_response *rsp)
{
    if (json_is_null(json_object_get(patch, "nu")))
        return bad(rsp, "notificationURI is mandatory and cannot be removed");
    if (has_net(json_object_get(patch, "enc"), 7)) /* TS-0004 §7.4.8.2.3 Recv-6.4 */
        return bad(rsp, "notificationEventType 7 (Blocking_Update) cannot be set by an update");
    batch_defaults(json_object_get(patch, "bn"));
    if (check(cse, lookup, patch, rsp))
        return rsp->rsc;
    /* the criteria as they will be: the patch over what the subscription holds */
    json_t *doc = json_loads(row->doc, 0, NULL);
    const json_t *enc = json_object_get(patch, "enc"), *nct = json_object_get(patch, "nct");
    if (enc == NULL)
        enc = json_object_get(doc, "enc");
    if (nct == NULL)
        nct = json_object_get(doc, "nct");
    struct store_row parent;
    int rc = 0;
    if (check_om_alone(enc, rsp)) {
        json_decref(doc);
        return rsp->rsc;
    }
    if (lookup->resolve(lookup->arg, row->pi, &parent) == 0) {
        rc = check_combination(enc, nct, parent.ty, rsp);
        if (rc == 0) /* the new criteria as they will be: the subscribed-to resource's type decides md */
            rc = check_missing_data(enc, parent.ty, rsp);
        store_row_free(&parent);
    }
    json_decref(doc);
    return rc;
}

/* ---- bounds on what one event can reach (writer, inside the transaction) --------------------- */

struct sub_count {
    const char *skip_ri; /* the subscription being updated */
    size_t subs, targets;
};

static int count_sub(void *arg, const struct store_row *r)
{
    struct sub_count *n = arg;
    if (n->skip_ri && strcmp(r->ri, n->skip_ri) == 0)
        return 0;
    json_t *doc = json_loads(r->doc, 0, NULL);
    n->subs++;
    n->targets += json_array_size(json_object_get(doc, "nu"));
    json_decref(doc);
    return 0;
}

/* Every subscription of a resource is notified of each of its events: the subscriptions one resource
 * may have (notify.max_subs; issue 12, finding 23) and the notification targets one event can reach
 * (the nu entries of all of them, notify.max_targets; finding 8) are bounded here, when a
 * subscription is created or its nu grows, inside the writer's transaction (so concurrent creates
 * cannot pass the bound together), and never by dropping a notification when it is sent. */
static int check_reach(struct txn_ctx *t, const char *parent_ri, const char *self_ri, size_t new_targets, bool creating)
{
    const struct cse_config *cfg = t->cse->cfg;
    struct sub_count n = {.skip_ri = self_ri};
    if (t->txn->st->ops->children(t->txn, parent_ri, TY_SUB, t->now, count_sub, &n) < 0)
        return response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    if (creating && n.subs >= (size_t)cfg->notify_max_subs)
        return response_error(t->rsp, RSC_BAD_REQUEST, "subscription-limit",
                              "the resource already has %zu subscriptions, the most this CSE keeps on one "
                              "resource (notify.max_subs)",
                              n.subs);
    if (n.targets + new_targets > (size_t)cfg->notify_max_targets)
        return response_error(t->rsp, RSC_BAD_REQUEST, "target-limit",
                              "one event on this resource would reach %zu notification targets (nu entries of its "
                              "subscriptions), more than this CSE allows (notify.max_targets = %ld)",
                              n.targets + new_targets, cfg->notify_max_targets);
    return 0;
}

static int sub_txn_create(struct txn_ctx *t, const struct store_row *parent, struct store_row *row, json_t *res)
{
    (void)row;
    if (txn_blocking_unique(t, parent, res) != 0)
        return t->rsp->rsc;
    return check_reach(t, parent->ri, NULL, json_array_size(json_object_get(res, "nu")), true);
}

static int sub_txn_updated(struct txn_ctx *t, struct store_row *row, json_t *doc)
{
    size_t now_targets = json_array_size(json_object_get(doc, "nu"));
    json_t *old = json_loads(row->doc, 0, NULL); /* row->doc is still the stored one */
    size_t before = json_array_size(json_object_get(old, "nu"));
    json_decref(old);
    if (now_targets <= before) /* fewer or as many targets: always allowed, even over a lowered bound */
        return 0;
    return check_reach(t, row->pi, row->ri, now_targets, false);
}

const struct rtype rtype_subscription = {
    .ty = TY_SUB,
    .sn = "sub",
    .attrs = sub_attrs,
    .nattrs = NATTRS(sub_attrs),
    .has_acpi = true,
    .parents = sub_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .has_cr = true,
    .prepare_create = sub_prepare_create,
    .txn_create = sub_txn_create,
    .prepare_update = sub_prepare_update,
    .txn_updated = sub_txn_updated,
};
