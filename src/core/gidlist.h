/* gidlist: the Group Request Identifiers a CSE has received, each with the targets it reached
 * (TS-0004 §7.3.3.2 "Check for duplicate group requests"): a request that carries a gid already
 * recorded for the same target is a repeated group request, answered 4104
 * GROUP_REQUEST_IDENTIFIER_EXISTS. Entries are kept until the request's expiration (its rqet) or
 * LIMIT_GID_KEEP_S, whichever comes first, and at most LIMIT_GID_ENTRIES of them: beyond, the
 * oldest is forgotten first (a repeat older than the list then goes through, as after the keep
 * period). Thread-safe; keyed with a per-list random seed, so that chosen gids cannot pile up in
 * one chain. Pure apart from that seed: the caller passes the clock. */
#ifndef WARDEN_CORE_GIDLIST_H
#define WARDEN_CORE_GIDLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gidlist;

struct gidlist *gidlist_new(size_t max);
void gidlist_free(struct gidlist *l);
/* Record (gid, target) until until_us; true when it was not recorded (or had expired by now_us),
 * false when it is there: a repeat. */
bool gidlist_add(struct gidlist *l, const char *gid, const char *target, int64_t now_us, int64_t until_us);
/* Entries held now (for tests and metrics). */
size_t gidlist_count(struct gidlist *l);

#endif
