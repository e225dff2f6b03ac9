/* polling_channel: the <pollingChannel> resource (ty 15, m2m:pch; TS-0001 §9.6.21, TS-0004 §7.4.21)
 * and, through it, its virtual child pcu (core/pollch.c). Only the AE it belongs to creates and
 * uses one (§7.4.21.2.1-4: ORIGINATOR_HAS_NO_PRIVILEGE for anyone else); it carries no acpi, so
 * the default policy gives its creator, that AE (and the admin), access and nobody else. */
#include <string.h>

#include "common_attrs.h"
#include "core/rsc.h"
#include "rtype.h"

static const struct attr_def pch_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    {"rn", AT_NAME, A_O, A_NP},
    {"et", AT_TS, A_O, A_O},
    {"lbl", AT_STRLIST, A_O, A_O},
};

static const int pch_parents[] = {TY_AE, 0};

static int pch_prepare_create(struct create_ctx *c)
{
    /* TS-0004 §7.4.21.2.1: the Originator is the AE whose <AE> is the parent */
    if (c->parent->ty != TY_AE || c->orig->kind != ID_AE || strcmp(id_stem(c->orig), c->parent->ae) != 0)
        return response_error(c->rsp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "pch-not-owner",
                              "only the AE itself may create its pollingChannel");
    return 0;
}

/* TS-0001 Table 9.6.5-1: an <AE> has at most one <pollingChannel> */
static int pch_txn_create(struct txn_ctx *t, const struct store_row *parent, struct store_row *row, json_t *res)
{
    (void)row;
    (void)res;
    struct store_row old;
    int rc = t->txn->st->ops->edge_child(t->txn, parent->ri, TY_PCH, true, t->now, &old);
    if (rc == STORE_OK) {
        store_row_free(&old);
        return response_error(t->rsp, RSC_CONFLICT, "pch-exists", "the AE has a pollingChannel already");
    }
    return rc == STORE_NOT_FOUND ? 0 : response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
}

const struct rtype rtype_polling_channel = {
    .ty = TY_PCH,
    .sn = "pch",
    .attrs = pch_attrs,
    .nattrs = NATTRS(pch_attrs),
    .parents = pch_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .has_acpi = true, /* never set: the default policy (its creator) */
    .prepare_create = pch_prepare_create,
    .txn_create = pch_txn_create,
};
