/* instances: what a holder of instances (<container>, <timeSeries>) and its instances
 * (<contentInstance>, <timeSeriesInstance>) share: currentNrOfInstances / currentByteSize kept
 * and maxNrOfInstances / maxByteSize / maxInstanceAge enforced (container.c, content_instance.c).
 * Included by the type files only. */
#ifndef WARDEN_RESOURCES_INSTANCES_H
#define WARDEN_RESOURCES_INSTANCES_H

#include "rtype.h"

/* Holder hooks: cni/cbs start at 0; an instance added or removed updates them (and lt, and st when
 * the holder has one), removing the oldest instances beyond mni/mbs; an update lowering mni/mbs
 * applies at once. 0 or an RSC (t->rsp filled). */
int instances_prepare_holder(struct create_ctx *c);
int instances_child_added(struct txn_ctx *t, struct store_row *holder, const struct store_row *child);
int instances_child_removed(struct txn_ctx *t, struct store_row *holder, const struct store_row *child);
int instances_updated(struct txn_ctx *t, struct store_row *row, json_t *doc);

/* Instance hooks: contentSize of con and the expiry the parent's mia sets (request thread); a size
 * beyond the parent's mbs is 5207 (writer). 0 or an RSC. */
int instance_prepare(struct create_ctx *c);
int instance_txn_create(struct txn_ctx *t, const struct store_row *parent, struct store_row *row, json_t *res);

/* A <timeSeries>'s newest dataGenerationTime in ms (internal: stored in its doc, never represented). */
#define TS_DGT_MAX "_dgtmax"

#endif
