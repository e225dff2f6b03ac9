/* acp: the accessControlPolicy decision of TS-0003 §7.1.4-7.1.5 as a pure function. A policy (the
 * pv or pvs of an <accessControlPolicy>) is compiled once from its JSON form: originators into
 * exact / wildcard / domain / reference sets, operations into a bitmask, contexts (time windows,
 * IP blocks, locations) pre-parsed. Evaluation allocates nothing, does no I/O, and says which rule
 * granted, or why each rule failed. */
#ifndef WARDEN_SECURITY_ACP_H
#define WARDEN_SECURITY_ACP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/id.h"
#include "security/authz.h"

struct acp_policy; /* opaque, immutable once compiled: may be shared between threads */

/* The originator's location as the CSE knows it (TS-0003 Annex F); unknown parts deny aclr. */
struct acp_location {
    bool has_position;
    double lat, lon; /* degrees */
    char country[3]; /* ISO 3166-1 alpha-2, "" when unknown */
};

/* Everything the decision needs about one request (rq_* of TS-0003 §7.1.2). */
struct acp_request {
    const char *orig;   /* canonical originator ID (id.h) */
    bool authenticated; /* rq_authn */
    enum acop op;       /* the operation as an acop bit (DISCOVERY for fu=1) */
    int64_t time;       /* rq_time, seconds since the epoch (UTC) */
    const char *peer;   /* rq_ip as text, NULL when unknown */
    const struct acp_location *loc;
    /* When set, the location is looked up only when a rule's context has a location region (it
     * reads the store): loc_get(loc_arg) instead of loc. */
    const struct acp_location *(*loc_get)(void *arg);
    void *loc_arg;
    int target_ty; /* CREATE: type of the parent; else the target's */
    int child_ty;  /* CREATE: type of the resource being created */
    /* A reference in acor (a <group> ID, later a Role-ID): does it admit orig? NULL = never. */
    bool (*ref_admits)(void *arg, const char *ref, const char *orig);
    void *ref_arg;
    /* Verified Role-IDs of the originator (TS-0003 §7.4): they match acor entries exactly. */
    const char *const *roles;
    int nroles;
    /* Explain mode: when set, every rule is evaluated and reported (its index and "granted" or the
     * first condition it failed), instead of stopping at the first grant. */
    void (*trace)(void *arg, int rule, const char *reason);
    void *trace_arg;
};

/* Why a decision came out as it did. */
struct acp_why {
    int rule;           /* index of the granting rule, -1 when none granted */
    const char *reason; /* static: "granted", "no-rules", "originator", "operation", "acaf",
                           "context-time", "context-ip", "context-ip-unknown-peer" (the binding
                           knows no client address: MQTT), "context-location", "object-details" */
};

/* Compile a setOfAcrs ({"acr": [...]}) with env for canonicalising IDs. Returns the policy (free
 * with acp_policy_free) or NULL with a message naming the offending element in err. */
struct acp_policy *acp_compile(const json_t *set_of_acrs, const struct id_env *env, char *err, size_t errlen);
void acp_policy_free(struct acp_policy *p);
int acp_policy_rules(const struct acp_policy *p);

/* TS-0003 §7.1.5: PERMIT when any rule satisfies authn && originators && operations && contexts
 * && object details. why (may be NULL) receives the granting rule, or the furthest any rule got. */
bool acp_permits(const struct acp_policy *p, const struct acp_request *rq, struct acp_why *why);

/* Pieces exposed for tests and the fuzzer. */
/* Seven-field crontab "sec min hour dom mon dow year" (UTC; dow 0 = Sunday). */
bool acp_crontab_valid(const char *spec);
bool acp_crontab_matches(const char *spec, int64_t t);
/* Is s an IPv4 or IPv6 CIDR block ("192.0.2.0/24", "2001:db8::/32"; no "/n" = one address)? */
bool acp_cidr_valid(const char *s);
/* "a.b.c.d/n" or an IPv6 CIDR against an address in text form. */
bool acp_cidr_matches(const char *cidr, const char *addr);
/* acor element match: pattern and id canonical; '*' matches within one path segment. */
bool acp_id_matches(const char *pattern, const char *id);

#endif
