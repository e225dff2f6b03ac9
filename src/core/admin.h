/* admin: the admin queries, virtual resources of the CSEBase named "$explain", "$tree", "$audit",
 * "$creds" and "$stats" (no resourceName can hold '$'). They are reached through
 * cse_dispatch like any request, so the originator is authenticated first (dispatch.c); then only the
 * admin over an admin channel (cse_admin_channel) gets an answer, every answer and refusal is
 * audited, and nothing is written. Answers are JSON objects "wdn:tree", "wdn:audit", "wdn:creds",
 * "wdn:stats" (README "Console"). */
#ifndef WARDEN_CORE_ADMIN_H
#define WARDEN_CORE_ADMIN_H

#include "core_int.h"

/* $explain's answer (dispatch.c), once admin_query has let the request through. */
void admin_explain(struct cse *cse, struct store_view *v, const struct cse_request *req, struct cse_response *rsp);

/* The query's name ("tree", "audit", ...) when to addresses one, else NULL. */
const char *admin_query_name(const struct cse *cse, const char *to);
/* Answer one admin query (on the request's own read view). */
void admin_query(struct cse *cse, struct store_view *v, const struct cse_request *req, const struct originator *o,
                 const char *name, struct cse_response *rsp);

#endif
