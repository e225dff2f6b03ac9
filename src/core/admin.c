/* admin: see admin.h. */
#include "admin.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cse.h"
#include "limits.h"
#include "metrics.h"
#include "rsc.h"
#include "security/audit.h"
#include "security/audit_read.h"
#include "security/cred.h"
#include "util/mem.h"

static const char *const queries[] = {"explain", "tree", "audit", "creds", "stats"};

/* 127.0.0.0/8, ::1, an IPv4-mapped loopback address, or (MQTT, whose peer is the broker's
 * configured address) "localhost" */
static bool loopback_peer(const char *peer)
{
    return config_address_is_loopback(peer) || strncmp(peer, "::ffff:127.", 11) == 0;
}

bool cse_admin_channel(const struct cse *cse, const struct cse_secctx *sec)
{
    if (!cse->secure) /* dev: no security association exists; the peer must be this host */
        return loopback_peer(sec->peer);
    if (sec->sa == SA_NONE)
        return false;
    for (int i = 0; i < sec->nids; i++)
        if (sec->ids[i] && strcmp(sec->ids[i], cse->admin.canon) == 0)
            return true;
    return false;
}

const char *admin_query_name(const struct cse *cse, const char *to)
{
    size_t n = strlen(cse->cfg->cse_rn);
    if (to == NULL || strncmp(to, cse->cfg->cse_rn, n) != 0 || strncmp(to + n, "/$", 2) != 0)
        return NULL;
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++)
        if (strcmp(to + n + 2, queries[i]) == 0)
            return queries[i];
    return NULL;
}

static void answer(struct cse_response *rsp, const char *key, json_t *content)
{
    json_t *root = json_object();
    json_object_set_new(root, key, content);
    rsp->body = json_dumps(root, JSON_COMPACT);
    rsp->body_len = strlen(rsp->body);
    rsp->rsc = RSC_OK;
    json_decref(root);
}

static long page_limit(const struct cse_request *req, long def, long max)
{
    return req->fc.lim < 0 ? def : req->fc.lim > max ? max : req->fc.lim;
}

/* ---- $tree: one page of a resource's children, in creation order ---- */

struct tree_page {
    json_t *items;
    long want, got;
    int64_t last_seq;
    bool more;
};

static int tree_row(void *arg, const struct store_row *r)
{
    struct tree_page *p = arg;
    if (p->got == p->want) {
        p->more = true;
        return 1;
    }
    json_array_append_new(p->items, json_pack("{s:s,s:s,s:i,s:s,s:I,s:I}", "ri", r->ri, "rn", r->rn, "ty", r->ty,
                                              "path", r->path, "seq", (json_int_t)r->seq, "nsub", (json_int_t)r->nsub));
    p->got++;
    p->last_seq = r->seq;
    return 0;
}

static void tree(struct cse *cse, struct store_view *v, const struct cse_request *req, struct cse_response *rsp)
{
    const char *pi = req->adm.pi ? req->adm.pi : cse->cb_ri;
    int64_t after = 0;
    if (req->adm.after) {
        char *end;
        after = strtoll(req->adm.after, &end, 10);
        if (*end || after < 0) {
            response_error(rsp, RSC_BAD_REQUEST, "bad-query", "adaft must be a creation sequence number");
            return;
        }
    }
    struct tree_page p = {.items = json_array(), .want = page_limit(req, 100, LIMIT_ADMIN_PAGE)};
    /* one row more than the page: whether another page follows, without counting the rest */
    int rc = cse->store->ops->children_page(v, pi, after, (int)p.want + 1, cse_now(cse), tree_row, &p);
    if (rc < 0) {
        json_decref(p.items);
        response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
        return;
    }
    json_t *t = json_pack("{s:s,s:o}", "pi", pi, "children", p.items);
    if (p.more)
        json_object_set_new(t, "next", json_integer((json_int_t)p.last_seq));
    answer(rsp, "wdn:tree", t);
}

/* ---- $audit: the newest records that pass the filters ---- */

struct audit_scan {
    const struct cse_request *req;
    json_t *records;
    long want;
    long scanned;
};

static bool field_is(json_t *rec, const char *name, const char *want)
{
    const char *v = json_string_value(json_object_get(rec, name));
    return v != NULL && strcmp(v, want) == 0;
}

static int audit_line(void *arg, const char *line, size_t len)
{
    struct audit_scan *s = arg;
    s->scanned++;
    json_t *rec = json_loadb(line, len, 0, NULL);
    if (!json_is_object(rec)) {
        json_decref(rec);
        return 0;
    }
    const char *ts = json_string_value(json_object_get(rec, "ts"));
    const struct cse_request *req = s->req;
    bool keep = ts != NULL && (req->adm.fr == NULL || field_is(rec, "originator", req->adm.fr)) &&
                (req->adm.rsn == NULL || field_is(rec, "reason", req->adm.rsn)) &&
                (req->adm.since == NULL || strcmp(ts, req->adm.since) >= 0) &&
                (req->adm.until == NULL || strncmp(ts, req->adm.until, strlen(req->adm.until)) <= 0);
    if (keep) {
        json_object_del(rec, "prev"); /* the chain is wardenctl audit verify's business */
        json_array_append(s->records, rec);
    }
    json_decref(rec);
    return (long)json_array_size(s->records) >= s->want;
}

static void audit(struct cse *cse, const struct cse_request *req, struct cse_response *rsp)
{
    if (cse->cfg->audit_path[0] == '\0') {
        answer(rsp, "wdn:audit", json_pack("{s:b,s:[]}", "enabled", 0, "records"));
        return;
    }
    struct audit_scan s = {.req = req, .records = json_array(), .want = page_limit(req, 100, LIMIT_ADMIN_AUDIT)};
    bool truncated;
    if (audit_read_newest(cse->cfg->audit_path, LIMIT_ADMIN_AUDIT_BYTES, audit_line, &s, &truncated) != 0) {
        json_decref(s.records);
        response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "audit-unreadable", "the audit log cannot be read");
        return;
    }
    answer(rsp, "wdn:audit",
           json_pack("{s:b,s:o,s:I,s:b}", "enabled", 1, "records", s.records, "scanned", (json_int_t)s.scanned,
                     "olderNotScanned", truncated));
}

/* ---- $creds: identities and state, never key material ---- */

static void psk_item(void *arg, const struct cred_psk_info *info)
{
    json_array_append_new(arg,
                          json_pack("{s:s,s:s,s:s,s:I}", "kpsaId", info->kpsa_id, "boundTo", info->binding, "state",
                                    info->revoked ? "revoked" : "active", "created", (json_int_t)info->created));
}

static void cert_item(void *arg, const char *serial, int64_t revoked)
{
    json_array_append_new(arg, json_pack("{s:s,s:I}", "serial", serial, "revoked", (json_int_t)revoked));
}

static void creds(struct cse *cse, struct cse_response *rsp)
{
    json_t *psk = json_array(), *certs = json_array();
    if (cse->creds != NULL && (cred_psk_list(cse->creds, psk_item, psk) != CRED_OK ||
                               cred_cert_list(cse->creds, cert_item, certs) != CRED_OK)) {
        json_decref(psk);
        json_decref(certs);
        response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "store", "credential store failure");
        return;
    }
    answer(rsp, "wdn:creds",
           json_pack("{s:s,s:s,s:o,s:o}", "admin", cse->admin.canon, "profile", cse->cfg->cse_profile, "psk", psk,
                     "revokedCerts", certs));
}

/* ---- $stats: totals the console turns into rates ---- */

static void stats(struct cse *cse, struct cse_response *rsp)
{
    uint64_t n, errors;
    metrics_totals(cse->metrics, &n, &errors);
    answer(rsp, "wdn:stats",
           json_pack("{s:I,s:I,s:I}", "requests", (json_int_t)n, "errors", (json_int_t)errors, "timeMs",
                     (json_int_t)(clock_now_us(&cse->clock) / 1000)));
}

void admin_query(struct cse *cse, struct store_view *v, const struct cse_request *req, const struct originator *o,
                 const char *name, struct cse_response *rsp)
{
    if (!o->is_admin) {
        response_error(rsp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "admin-only", "$%s is for the admin originator only",
                       name);
        return;
    }
    if (!cse_admin_channel(cse, &req->sec)) {
        response_error(rsp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "admin-channel",
                       "$%s needs the admin's security association (secure profile) or a loopback peer (dev)", name);
        return;
    }
    if (req->op != OP_RETRIEVE) {
        response_error(rsp, RSC_OPERATION_NOT_ALLOWED, "admin-retrieve-only", "$%s answers RETRIEVE only", name);
        return;
    }
    if (strcmp(name, "explain") == 0)
        admin_explain(cse, v, req, rsp);
    else if (strcmp(name, "tree") == 0)
        tree(cse, v, req, rsp);
    else if (strcmp(name, "audit") == 0)
        audit(cse, req, rsp);
    else if (strcmp(name, "creds") == 0)
        creds(cse, rsp);
    else
        stats(cse, rsp);
    /* what the admin looked at is audited too (refusals are, as denials, by dispatch) */
    struct audit_event ev = {
        .event = "admin-query",
        .originator = req->fr,
        .peer = req->sec.peer,
        .binding = req->sec.binding,
        .op = op_name(req->op),
        .target = req->to,
        .rsc = rsp->rsc,
        .reason = name,
        .credential = req->sec.cred_id,
    };
    audit_record(cse->audit, &ev);
}
