/* ops_delete: the DELETE operation (TS-0001 §10.1.5): the resource and its whole subtree go in
 * one transaction, and the parent's type keeps its derived state (cni/cbs) right. */
#include <string.h>

#include "core_int.h"
#include "rsc.h"
#include "util/mem.h"

/* Every path that deletes a resource (a client's DELETE, expiry, an evicted instance, a
 * <locationPolicy>'s container, a parent's subtree, a replaced expired resource) comes here, so the
 * subscribers hear of it and its announced copies go (TS-0004 §7.3.3.11) whichever way it went.
 * parent_keeps: the caller keeps the parent's derived state itself (an instance evicted by its
 * holder's mni/mbs, which counts as it goes): the parent's hooks and events are not run. */
static int delete_resource(struct txn_ctx *t, const struct store_row *row, bool parent_keeps)
{
    const struct store_ops *ops = t->txn->st->ops;
    /* subscribers hear about it first: the resource's own subscriptions (delete of the resource),
     * then every subscription going with the subtree (deletion notification) */
    const struct rtype *rt = rtype_find(row->ty);
    sub_event(t, row, 2 /* delete of the resource */, row, NULL);
    if (!(rt && rt->leaf && row->nsub <= 0)) /* a leaf without subscriptions: no subtree to ask about */
        sub_deleted(t, row);
    int arc = annc_txn_deleting(t, row); /* TS-0004 §7.3.3.11: its announced copies go too */
    if (arc != 0)
        return arc;
    int drc = rt && rt->leaf ? ops->delete_leaf(t->txn, row->ri) : ops->delete_subtree(t->txn, row->path);
    if (drc != STORE_OK)
        return response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    if (rt && rt->txn_deleted) {
        int hrc = rt->txn_deleted(t, row);
        if (hrc != 0)
            return hrc;
    }
    if (parent_keeps)
        return 0;
    struct store_row parent;
    int rc = ops->get_ri(t->txn, row->pi, t->now, &parent);
    if (rc == STORE_NOT_FOUND)
        return 0;
    if (rc != STORE_OK)
        return response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    const struct rtype *pt = rtype_find(parent.ty);
    int res = pt && pt->txn_child_removed ? pt->txn_child_removed(t, &parent, row) : 0;
    if (res == 0 && row->ty == TY_SUB) {
        parent.nsub = parent.nsub > 0 ? parent.nsub - 1 : 0;
        if (ops->add_nsub(t->txn, parent.ri, -1) != STORE_OK)
            res = response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    }
    if (res == 0)
        sub_event(t, &parent, 4 /* delete of a direct child */, row, NULL);
    store_row_free(&parent);
    return res;
}

int txn_delete_resource(struct txn_ctx *t, const struct store_row *row)
{
    return delete_resource(t, row, false);
}

int txn_delete_evicted(struct txn_ctx *t, const struct store_row *row)
{
    return delete_resource(t, row, true);
}

struct delete_job {
    struct store_job job;
    bool committed;
    struct cse *cse;
    char *ri;
    struct cse_response *rsp;
    int rcn;
    int result;
    struct store_row gone; /* the deleted resource, for rcn 1 */
    char *pre;             /* rcn 4, 5, 6, 8: the result content, taken before the delete */
    size_t pre_len;
    int pre_cnst;
    long pre_cnot;
    bool have_gone;
    struct notes notes;
    struct cse_cont k; /* the request, parked on its commit */
};

static int delete_run(struct store_view *txn, void *arg)
{
    struct delete_job *j = arg;
    struct txn_ctx t = {.cse = j->cse, .txn = txn, .now = cse_now(j->cse), .rsp = j->rsp, .notes = &j->notes};
    int rc = txn->st->ops->get_ri(txn, j->ri, t.now, &j->gone);
    if (rc != STORE_OK) {
        j->result = rc == STORE_NOT_FOUND
                        ? response_error(j->rsp, RSC_NOT_FOUND, "gone", "the resource no longer exists")
                        : response_error(j->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
        return 1;
    }
    j->have_gone = true;
    j->result = txn_delete_resource(&t, &j->gone);
    return j->result != 0;
}

/* On the request's own thread (cse_complete): the response, and the job freed. */
static void delete_finish(void *arg, struct cse_response *rsp_)
{
    struct delete_job *j = arg;
    (void)rsp_;
    bool committed = j->committed;
    struct cse_response *rsp = j->rsp;
    if (!committed) {
        response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "commit", "the store could not commit the change");
    }
    if (committed && j->result == 0) {
        rsp->rsc = RSC_DELETED;
        if (j->rcn == 1)
            rsp->body = represent_row(j->cse, &j->gone, &rsp->body_len);
        else if (j->pre) {
            rsp->body = j->pre, rsp->body_len = j->pre_len;
            rsp->cnst = j->pre_cnst, rsp->cnot = j->pre_cnot;
            j->pre = NULL;
        }
    }
    mem_free(j->pre);
    if (j->have_gone)
        store_row_free(&j->gone);
    mem_free(j->ri);
    mem_free(j);
}

/* On the writer thread, right after the commit: what cannot wait (notifications, cache
 * invalidation); the rest is left to delete_finish on the request's thread. */
static void delete_done(void *arg, bool committed)
{
    struct delete_job *j = arg;
    j->committed = committed;
    op_committed(
        committed && j->result == 0, &j->notes,
        !(rtype_find(j->gone.ty) && rtype_find(j->gone.ty)->leaf) /* a subtree may have held policies or groups */,
        delete_finish, j, &j->k);
}

enum cse_status op_delete(struct op_ctx *c)
{
    const struct store_row *row = &c->tgt->row;
    int rcn = c->req->rcn < 0 ? 0 : c->req->rcn;
    /* TS-0001 Table 8.1.2-1: DELETE takes nothing (default), attributes, and the child-resource
     * contents 4, 5, 6, 8 */
    bool children = rcn == 4 || rcn == 5 || rcn == 6 || rcn == 8;
    if (rcn != 0 && rcn != 1 && !children) {
        response_error(c->rsp, RSC_BAD_REQUEST, "bad-rcn", "resultContent %d is not valid for DELETE", rcn);
        return CSE_DONE;
    }
    const struct rtype *rt = rtype_find(row->ty);
    if (rt == NULL || !rt->deletable) {
        response_error(c->rsp, RSC_OPERATION_NOT_ALLOWED, "not-deletable", "m2m:%s cannot be deleted",
                       rt ? rt->sn : "resource");
        return CSE_DONE;
    }
    if (op_authorize(c, ACOP_DELETE, row, 0) != 0)
        return CSE_DONE;
    if (op_blocking_held(c->cse, row->ri)) { /* TS-0001 §9.6.8 net 7: after the blocked UPDATE */
        response_error(c->rsp, RSC_CONFLICT, "blocking-update",
                       "an update of this resource waits for its Blocking_Update answer");
        return CSE_DONE;
    }
    if (op_cin_disabled(c, row)) { /* TS-0004 §7.4.7.2.4 (also la/ol) */
        response_error(c->rsp, RSC_OPERATION_NOT_ALLOWED, "disr", "the container disables retrieval of its instances");
        return CSE_DONE;
    }
    char *pre = NULL;
    size_t pre_len = 0;
    int pre_cnst = 0;
    long pre_cnot = 0;
    if (children) { /* what goes, as a RETRIEVE with this rcn would show it (RETRIEVE privileges) */
        if (op_result_content(c, row, rcn) != 0)
            return CSE_DONE;
        pre = c->rsp->body, pre_len = c->rsp->body_len, pre_cnst = c->rsp->cnst, pre_cnot = c->rsp->cnot;
        c->rsp->body = NULL, c->rsp->body_len = 0, c->rsp->cnst = 0, c->rsp->cnot = 0, c->rsp->rsc = 0;
    }
    struct delete_job *j = mem_calloc(1, sizeof *j);
    j->pre = pre, j->pre_len = pre_len, j->pre_cnst = pre_cnst, j->pre_cnot = pre_cnot;
    j->cse = c->cse;
    j->ri = mem_strdup(row->ri);
    j->rsp = c->rsp;
    j->rcn = rcn;
    j->job = (struct store_job){.run = delete_run, .done = delete_done, .arg = j};
    if (op_park(c, PARK_COMMIT, &j->k) && c->cse->store->ops->submit(c->cse->store, &j->job) == STORE_OK)
        return CSE_PENDING;
    response_error(c->rsp, RSC_INTERNAL_SERVER_ERROR, "overload", "the store cannot accept more writes now");
    mem_free(j->pre);
    mem_free(j->ri);
    mem_free(j);
    return CSE_DONE;
}
