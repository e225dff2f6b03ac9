/* route: the route step of dispatch and forwarding to other CSEs (route.c). */
#ifndef WARDEN_CORE_ROUTE_H
#define WARDEN_CORE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/cse.h"
#include "core/limits.h"
#include "core/outbound.h"
#include "core/park.h"
#include "core/request.h"

struct store_view;
struct originator;

enum route_kind { ROUTE_LOCAL = 0, ROUTE_REMOTE };

struct route {
    enum route_kind kind;
    char cse_id[LIMIT_NAME_LEN + 2]; /* ROUTE_REMOTE: the CSE that hosts the target, "/id-mn" */
    char to[LIMIT_ID_LEN + 1];       /* the target as the next hop receives it: SP-relative */
    char hop_id[LIMIT_NAME_LEN + 2]; /* the next hop's CSE-ID */
    char hop_addr[LIMIT_ID_LEN + 1]; /* its address (poa or registrar.address), "https://host:port" */
};

/* Classify req->to (after authentication, before authorization). Returns 0 with r->kind LOCAL (go
 * on: resolve and authorize here) or REMOTE (forward with route_forward), or an RSC with rsp filled:
 * 4004 when the target is on no CSE known from here (TS-0004 §7.3.2.6), 4005 for an AE registration
 * through this CSE. */
int route_request(struct cse *cse, struct store_view *v, const struct cse_request *req, struct route *r,
                  struct cse_response *rsp);

/* Forward k's request to the next hop of r through the outbound seam, From in SP-relative form
 * (the originator o). Returns CSE_PENDING, parked on k (resumed once with k's rsp holding the remote
 * answer, or 5103 when the next hop could not be reached within forward.timeout), or CSE_DONE with
 * rsp filled (refused before sending: 5103). */
enum cse_status route_forward(const struct cse_cont *k, const struct originator *o, const struct route *r);

/* The routing table (routes.c): is csi a registree <remoteCSE> of this CSE or one of its
 * descendant CSEs (dcse)? Then r->hop_id/hop_addr name that registree and its poa. */
bool route_registree(struct cse *cse, struct store_view *v, const char *csi, struct route *r);
/* The CSE-ID of the <remoteCSE> child of the CSEBase named rn (the registrar's included), into csi. */
bool route_remote_by_rn(struct cse *cse, struct store_view *v, const char *rn, char *csi, size_t len);
/* The <remoteCSE> child of the CSEBase whose csi is csi ("/id-mn"; registree or registrar), into
 * out (store_row_free): found by csi, never by a name another resource may hold. */
bool route_csr_of(struct cse *cse, struct store_view *v, const char *csi, struct store_row *out);

/* May the CSE bound to a security association (its CSE-ID without '/', "id-mn") relay the C-type
 * AE-ID id of another CSE, or the CSE-ID id of another CSE (by the same rule, for that CSE's own
 * requests such as announcements, TS-0001 §9.6.26.1)? A registree: when id's CSE is one of its descendant CSEs (its
 * dcse here). The registrar: when id's CSE is neither this CSE nor one of its registrees or their descendants (TS-0003
 * §7.2, TS-0004 §7.3.2.1). */
struct id;
bool route_relays(struct cse *cse, struct store_view *v, const char *bound_stem, const struct id *id);

/* A notification target that is the ID of an AE or CSE on another CSE ("/id-in/Cinapp"): into out,
 * "<next hop CSE-ID> <URL>" ("/id-in https://10.0.0.1:8443/~/id-in/Cinapp"), the NOTIFY going
 * through the CSE that hosts it (TS-0004 §7.3.3.9); false when id is local, malformed, or has no
 * route from here. route_notify_send() sends such an entry. */
bool route_notify_target(struct cse *cse, struct store_view *v, const char *id, char *out, size_t len);
/* Send a NOTIFY (body, From this CSE) to an entry of route_notify_target; as notify_send (done may
 * be NULL). */
int route_notify_send(struct cse *cse, const char *entry, const char *body, size_t len, out_done_fn done, void *arg);

#endif
