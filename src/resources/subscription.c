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
    ATTRS_UNIVERSAL_RO,         ATTRS_COMMON_RW,
    {"cr", AT_CR, A_O, A_NP},   {"enc", AT_ANY, A_O, A_O},
    {"exc", AT_UINT, A_O, A_O}, {"nu", AT_STRLIST, A_M, A_O},
    {"gpi", AT_STR, A_O, A_NP}, {"bn", AT_ANY, A_O, A_O},
    {"ln", AT_BOOL, A_O, A_O},  {"nct", AT_UINT, A_O, A_O},
    {"su", AT_STR, A_O, A_NP},
};

static const int sub_parents[] = {TY_CSEBASE, TY_AE, TY_CNT, TY_GRP, TY_ACP, 0};

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

static int check_enc(const json_t *enc, struct cse_response *rsp)
{
    if (!json_is_object(enc))
        return bad(rsp, "eventNotificationCriteria (enc) must be an object");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)enc, k, v)
    {
        if (strcmp(k, "net") == 0) {
            /* 1 update, 2 delete, 3 create of a direct child, 4 delete of a direct child */
            if (!ints_in(v, 1, 4))
                return bad(rsp, "enc.net must list notificationEventTypes 1-4 (the ones this CSE supports)");
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
    if (json_object_get(bn, "num") == NULL)
        return bad(rsp, "bn.num is mandatory");
    return 0;
}

/* One notification target: a URL its transport and the outbound policy allow, or an AE-ID or
 * CSE-ID (TS-0004 §7.4.8). what names the attribute for the message. */
static int check_target(struct cse *cse, const char *what, const char *s, struct cse_response *rsp)
{
    struct id id;
    if (s == NULL)
        return bad(rsp, "notification targets must be strings");
    if (strstr(s, "://")) {
        char why[256];
        if (cse->outbound && !outbound_allowed(cse->outbound, s, why, sizeof why))
            return response_error(rsp, RSC_BAD_REQUEST, "outbound-policy", "%s '%.200s' refused: %s", what, s, why);
    } else if (!id_parse(&cse->idenv, s, &id) || (id.kind != ID_AE && id.kind != ID_CSE)) {
        return response_error(rsp, RSC_BAD_REQUEST, "bad-subscription",
                              "%s '%.200s' is neither a URL nor an AE-ID or CSE-ID", what, s);
    }
    return 0;
}

/* Notification targets: URLs the outbound policy allows, or oneM2M IDs. */
static int check_nu(struct cse *cse, const json_t *nu, struct cse_response *rsp)
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
        if (check_target(cse, "notificationURI", json_string_value(e), rsp))
            return rsp->rsc;
    }
    return 0;
}

static int check(struct cse *cse, const json_t *a, struct cse_response *rsp)
{
    const json_t *v;
    if ((v = json_object_get(a, "enc")) && !json_is_null(v) && check_enc(v, rsp))
        return rsp->rsc;
    if ((v = json_object_get(a, "bn")) && !json_is_null(v) && check_bn(cse, v, rsp))
        return rsp->rsc;
    if ((v = json_object_get(a, "nct")) && !json_is_null(v) && (json_integer_value(v) < 1 || json_integer_value(v) > 3))
        return bad(rsp, "notificationContentType must be 1 (all attributes), 2 (modified) or 3 (resource ID)");
    if ((v = json_object_get(a, "exc")) && !json_is_null(v) && json_integer_value(v) < 1)
        return bad(rsp, "expirationCounter must be positive");
    if ((v = json_object_get(a, "nu")) && check_nu(cse, v, rsp))
        return rsp->rsc;
    /* the subscriberURI is a notification target too (the deletion notice goes there) */
    if ((v = json_object_get(a, "su")) && json_is_string(v) &&
        check_target(cse, "subscriberURI", json_string_value(v), rsp))
        return rsp->rsc;
    return 0;
}

static int sub_prepare_create(struct create_ctx *c)
{
    if (check(c->cse, c->attrs, c->rsp))
        return c->rsp->rsc;
    if (json_object_get(c->res, "nct") == NULL)
        json_object_set_new(c->res, "nct", json_integer(1));
    /* TS-0004 §7.4.8.2.1: a notification target other than the originator makes the originator
     * the recorded creator */
    if (json_object_get(c->res, "cr") == NULL && c->req->fr)
        json_object_set_new(c->res, "cr", json_string(c->req->fr));
    return 0;
}

static int sub_prepare_update(struct cse *cse, const struct resolver *lookup, const struct store_row *row,
                              json_t *patch, struct cse_response *rsp)
{
    (void)lookup;
    (void)row;
    if (json_is_null(json_object_get(patch, "nu")))
        return bad(rsp, "notificationURI is mandatory and cannot be removed");
    return check(cse, patch, rsp);
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
    .prepare_update = sub_prepare_update,
    .txn_create = sub_txn_create,
    .txn_updated = sub_txn_updated,
};
