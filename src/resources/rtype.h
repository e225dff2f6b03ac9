/* rtype: the resource-type descriptor. Each type lives in its own file and describes itself as
 * data (short name, attribute policies, allowed parents) plus a few hooks; the generic create,
 * retrieve, update and delete procedures in core/ drive them. */
#ifndef WARDEN_RESOURCES_RTYPE_H
#define WARDEN_RESOURCES_RTYPE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/id.h"
#include "core/request.h"
#include "store/store.h"

struct cse;

enum {
    TY_ACP = 1,
    TY_GRP = 9,
    TY_SUB = 23,
    TY_AE = 2,
    TY_CNT = 3,
    TY_CIN = 4,
    TY_CSEBASE = 5,
    TY_REMOTE_CSE = 16,
    TY_ROLE = 31,
    TY_TOKEN = 32,
    TY_DAC = 34,
    TY_PCH = 15,  /* <pollingChannel>: long polling for an AE that accepts no connections */
    TY_REQ = 17,  /* <request>: created by the CSE for a non-blocking request (core/nonblock.c) */
    TY_TS = 29,   /* timeSeries (timeseries.c) */
    TY_TSI = 30,  /* timeSeriesInstance (timeseries_instance.c) */
    TY_FCNT = 28, /* flexContainer (flex_container.c) */
    TY_MGO = 13,  /* mgmtObj (mgmt_obj.c) */
    TY_NODE = 14, /* node (node.c) */
    TY_LCP = 10,  /* locationPolicy (location_policy.c) */
    TY_SCH = 18,  /* schedule (schedule.c) */
    TY_CRS = 48,  /* crossResourceSubscription (cross_sub.c) */
    /* announced variants (TS-0004 Table 6.3.4.2.1-1; TS-0001 §9.6.26), one file each (*_annc.c) */
    TY_ACP_ANNC = 10001,
    TY_AE_ANNC = 10002,
    TY_CNT_ANNC = 10003,
    TY_CIN_ANNC = 10004,
    TY_CSEBASE_ANNC = 10005,
    TY_GRP_ANNC = 10009,
    TY_LCP_ANNC = 10010,
    TY_MGO_ANNC = 10013,
    TY_NODE_ANNC = 10014,
    TY_CSR_ANNC = 10016,
    TY_SCH_ANNC = 10018,
    TY_FCNT_ANNC = 10028,
    TY_TS_ANNC = 10029,
    TY_TSI_ANNC = 10030,
};

enum attr_type {
    AT_STR,  /* string */
    AT_NAME, /* resourceName: unreserved URI characters, not "." / ".." / reserved virtual names */
    AT_UINT, /* non-negative integer */
    AT_BOOL,
    AT_TS,      /* m2m:timestamp "YYYYMMDDTHHMMSS" */
    AT_STRLIST, /* array of strings */
    AT_ANY,     /* any JSON value except null */
    AT_CR,      /* creator: only null may be sent, asking the CSE to fill it */
    /* oneM2M data types (TS-0004 §6.3, Table 6.3.3-1) */
    AT_LABELS,         /* m2m:labels: list of xs:token, none empty or holding white space */
    AT_SERIALIZATIONS, /* m2m:serializations: 1..n of xml, json, cbor (or application/xml|json|cbor) */
    AT_CONTENTINFO,    /* m2m:contentInfo: "type/subtype:encoding[:contentSecurity]" */
    AT_APPID,          /* App-ID (TS-0001 Table 7.2-1): "R...", "N..." ("r..." before release 4) */
    AT_POALIST,        /* m2m:poaList: 1..n non-empty strings */
    AT_ABSREL,         /* m2m:absRelTimestamp (TS-0004 Table 6.3.3-1): a timestamp, or relative milliseconds */
    AT_POSINT,         /* positive integer (xs:positiveInteger) */
    AT_INT,            /* integer (xs:integer) */
    AT_NUM,            /* number (xs:float, xs:double, or an integer) */
    AT_LIST,           /* array of any values */
    AT_E2ESECINFO,     /* m2m:e2eSecInfo (TS-0004 §6.3.5.52): esf, escert, esro (e2e/esprim_obj.h) */
};

/* Create / update policy of an attribute (TS-0004 resource tables: M, O, NP). A_NI: an optional
 * attribute of the type that this CSE does not support: refused with 5001 (TS-0004 §7.3.3.3,
 * §7.3.3.4 "O attribute": never accepted and ignored). */
enum attr_use { A_NP = 0, A_O = 1, A_M = 2, A_NI = 3 };

struct attr_def {
    const char *sn;
    enum attr_type type;
    unsigned char create; /* enum attr_use */
    unsigned char update; /* enum attr_use */
};

/* Read access for hooks on the request thread: resolve an address or resourceID (as a target
 * would be) to a stored row, as the originator sees it: a resource the originator may not retrieve
 * is reported RSC_NOT_FOUND exactly like one that does not exist. Returns 0 with *out filled
 * (caller frees), RESOLVE_ON_OTHER_CSE (nothing filled) for an address the route step sends to
 * another CSE (TS-0001 §9.3.1: SP-relative, or through a <remoteCSE>), or an RSC. */
enum { RESOLVE_ON_OTHER_CSE = 1 };
struct resolver {
    int (*resolve)(void *arg, const char *addr, struct store_row *out);
    void *arg;
    /* The same, but a resource on another CSE is retrieved there first (the request parks and the
     * hook runs again; core/remote_fetch.c): RESOLVE_ON_OTHER_CSE only when that CSE could not be
     * reached. NULL: resolve. */
    int (*resolve_remote)(void *arg, const char *addr, struct store_row *out);
};

/* Everything a create hook sees; prepared by core/ops_create.c. */
struct create_ctx {
    struct cse *cse;
    const struct cse_request *req;
    const struct id *orig; /* parsed From */
    const struct store_row *parent;
    json_t *attrs;         /* request attributes, validated against the policy (borrowed) */
    json_t *res;           /* the new representation being built (owned by the caller) */
    struct store_row *row; /* the new row: ri, rn, path, ae, cr filled; hooks may change ri/rn/ae */
    int64_t now;
    struct cse_response *rsp;
    struct resolver lookup;
    struct store_view *view; /* the request's own view of the store */
};

/* Notifications prepared inside a transaction, sent after its commit (core/subscribe.c). */
struct note;
struct notes {
    struct note *head, *tail;
    bool annc; /* announcement steps were written (core/announce.c): the worker looks after the commit */
};

/* Everything a hook inside the writer's transaction sees. */
struct txn_ctx {
    struct cse *cse;
    struct store_view *txn;
    int64_t now;
    struct cse_response *rsp;
    struct notes *notes; /* where notifications go; NULL: none are prepared */
};

struct rtype {
    int ty;
    const char *sn; /* short name, "cnt"; the JSON root is "m2m:" sn */
    const struct attr_def *attrs;
    int nattrs;
    const int *parents; /* allowed parent types, 0-terminated */
    bool creatable;     /* clients may create it */
    bool updatable;     /* clients may update it (4005 otherwise) */
    bool deletable;     /* clients may delete it (4005 otherwise) */
    bool has_st;        /* carries stateTag */
    bool has_cr;        /* carries creator */
    bool has_acpi;      /* carries accessControlPolicyIDs (else the parent's apply) */
    int instance_ty;    /* the instances it holds and counts (cni/cbs), that la/ol name; 0 for none */
    /* Announcement (TS-0001 §9.6.26): annc_ty, the announced variant of an announceable type (0: not
     * announceable; then at/aa are 5001); annc_of, for an announced variant, its original type (0
     * for an ordinary type); annc_needs_parent: an instance type, announced only below its announced
     * parent (TS-0004 §7.3.3.10: 4005 otherwise). */
    int annc_ty;
    int annc_of;
    bool annc_needs_parent;
    /* The announcement policy of its attributes (TS-0001 §9.5.0, the "<xxxAnnc> Attributes" column
     * of each resource table), NULL-terminated: MA always announced, OA announced when named in
     * announcedAttribute (aa); the others NA. et, lbl and acpi are announced by core/announce.c. */
    const char *const *annc_ma;
    const char *const *annc_oa;
    /* Announcing side: convert the identifiers inside announced attributes (attrs, this CSE's
     * forms) into forms valid at another CSE (TS-0004 §7.3.3.10), e.g. an ACP's acor. NULL: none. */
    void (*annc_convert)(struct cse *cse, json_t *attrs);
    /* accessControlPolicyIDs is NA for the announced variant (a <schedule>, TS-0001 Table 9.6.9-2):
     * not announced even though the original has it. */
    bool annc_acpi_na;
    /* Its custom attributes (custom_attrs for the resource's root: a flexContainer's
     * [customAttribute]s, TS-0001 Table 9.6.35-2) are OA too. */
    bool annc_custom_oa;
    bool leaf; /* never has children: deleted by resourceID alone */
    /* Write-only attributes (key material), NULL-terminated, or NULL: accepted on create and update
     * as their policy says, never in a representation (core/represent.c), never a filter. */
    const char *const *write_only;
    /* The representation's root when it is not "m2m:<sn>" (a specialisation's, from doc): 0 with
     * out filled, else -1 (then "m2m:<sn>"). Any thread. */
    int (*root)(struct cse *cse, const json_t *doc, char *out, size_t len);
    /* A type whose attributes depend on the resource (a flexContainer's on its definition): the
     * attributes beyond the static ones for a request whose content root was root_key, attrs the
     * request's attributes and row the stored resource (NULL on create). Returns 0 with *defs
     * (static or owned by the CSE; *n of them), or an RSC (rsp filled: an unknown definition, a root
     * that does not match it). Request thread. */
    /* Is sn one of the type's custom attributes that may be a filter (never a write-only one)? For
     * rtype_attr_known; NULL: none. Any thread. */
    bool (*custom_known)(const char *sn);
    int (*custom_attrs)(struct cse *cse, const char *root_key, const json_t *attrs, const struct store_row *row,
                        const struct attr_def **defs /* OUT */, int *n /* OUT */, struct cse_response *rsp);
    /* Request thread, before submission: type rules and derived attributes. Returns 0 or an RSC
     * (rsp filled). */
    int (*prepare_create)(struct create_ctx *c);
    /* Request thread, before an update is submitted: type rules on the patch. 0 or an RSC. */
    int (*prepare_update)(struct cse *cse, const struct resolver *lookup, const struct store_row *row, json_t *patch,
                          struct cse_response *rsp);
    /* Writer, before the insert. Returns 0 or an RSC. row->doc already holds res encoded on the
     * request thread: a hook that changes res must MEM_FREE(row->doc) so it is encoded again. */
    int (*txn_create)(struct txn_ctx *t, const struct store_row *parent, struct store_row *row, json_t *res);
    /* Writer, on the parent's type after a child was inserted / removed: keep derived state. */
    int (*txn_child_added)(struct txn_ctx *t, struct store_row *parent, const struct store_row *child);
    int (*txn_child_removed)(struct txn_ctx *t, struct store_row *parent, const struct store_row *child);
    /* Writer, after an update's attributes were applied to doc and before it is stored. */
    int (*txn_updated)(struct txn_ctx *t, struct store_row *row, json_t *doc);
    /* Writer, when a timer armed with txn_timer_arm on a resource of this type is due (the
     * resource still exists; row is it as stored now, arg what was armed, or TIMER_RESUME once for
     * every resource of the type when the CSE starts: timers live in memory only, so the type
     * arms again what its stored state asks for). 0 or an RSC. */
    int (*txn_timer)(struct txn_ctx *t, struct store_row *row, int64_t arg);
    /* Writer, after the resource (row, as it was) and its subtree were deleted (a client's DELETE
     * or its expiry): remove what the CSE created for it elsewhere. 0 or an RSC. */
    int (*txn_deleted)(struct txn_ctx *t, const struct store_row *row);
};

/* A new resourceID for a resource of short name sn that the CSE creates itself (core/ops_create.c:
 * the same form as a client's). len >= RTYPE_RI_LEN. */
#define RTYPE_RI_LEN 48
void resource_make_ri(struct cse *cse, const char *sn, char *out, size_t len);

/* Arm a timer (core/timers.c): after the transaction of t commits, the txn_timer hook of ri's type
 * runs at due_ms (milliseconds since the epoch) with arg, in a writer transaction of its own. A
 * timer is never cancelled: the hook checks whether what it was armed for still holds. Armed in a
 * transaction that rolls back, it is never armed. */
void txn_timer_arm(struct txn_ctx *t, const char *ri, int64_t due_ms, int64_t arg);
#define TIMER_RESUME INT64_MIN
/* Inside a transaction: a <timeSeries> (subject) missed its data point at point (a timestamp):
 * its subscriptions with a missingData condition count it in their windows and are notified
 * (net 8, an m2m:tsn; TS-0004 §7.5.1.2.9) when their md.num is reached. */
int sub_missing_data(struct txn_ctx *t, const struct store_row *subject, const char *point);
/* Milliseconds since the epoch from the server's clock. */
int64_t txn_now_ms(const struct txn_ctx *t);

/* The registry (resources/registry.c). NULL when ty is not a type this CSE knows. */
const struct rtype *rtype_find(int ty);
const struct rtype *rtype_find_sn(const char *sn);
/* Is ty a value of m2m:resourceType (TS-0004 Table 6.3.4.2.1-1), implemented here or not? */
bool rtype_defined(int ty);
/* The types this CSE implements, ascending, into out[0..max) (the CSEBase's srt). Returns how many. */
int rtype_supported(int *out, int max);
/* The original type of ty: ty itself, or for an announced variant (annc_of) the type it announces
 * (policies: an accessControlPolicyAnnc decides like an accessControlPolicy). */
int rtype_original(int ty);
/* May a resource of type child (implemented here) be a child of one of type parent? */
bool rtype_child_ok(int child, int parent);
/* May a <subscription> be a child of a resource of type ty (TS-0001 §9.6.8: subscribable types)? */
bool rtype_subscribable(int ty);
/* The i-th type of the registry, NULL past the last (to walk them all). */
const struct rtype *rtype_at(size_t i);
/* Is sn the short name of an attribute of some resource type here (for attribute filters)? */
bool rtype_attr_known(const char *sn);

/* Generic attribute validation against t's policy (resources/attr.c). Returns 0 or RSC 4000 with
 * a message naming the attribute. */
int attr_validate(const struct rtype *t, json_t *attrs, bool create, struct cse_response *rsp);
/* The same with n more attribute policies (custom attributes) after t's own. */
int attr_validate_ext(const struct rtype *t, const struct attr_def *extra, int n, json_t *attrs, bool create,
                      struct cse_response *rsp);
/* The type problem of v against d ("a string", ...), or NULL when v fits. */
const char *attr_type_problem(const struct attr_def *d, const json_t *v);
/* Is s a valid resourceName? */
bool attr_name_ok(const char *s);

/* The rules of a <subscription>'s eventNotificationCriteria and notificationURI
 * (resources/subscription.c), for the types that make subscriptions (crossResourceSubscription):
 * 0 or 4000 with rsp filled. */
int sub_check_enc(const json_t *enc, struct cse_response *rsp);
int sub_check_nu(struct cse *cse, const struct resolver *lookup, const json_t *nu, struct cse_response *rsp);
/* A duration: seconds as an integer, or ISO 8601 ("PT5S"), in milliseconds (core/subscribe.c). */
bool sub_duration_parse(const json_t *dur, int64_t *ms_out);
/* Before row (and its subtree) is deleted inside a transaction: the announcement steps that delete
 * their announced copies (core/announce.c, TS-0004 §7.3.3.11). 0 or an RSC. */
int annc_txn_deleting(struct txn_ctx *t, const struct store_row *row);
/* Delete a resource and its subtree inside a transaction (core/ops_delete.c): the one way every
 * path deletes (subscribers told, announced copies de-announced). 0 or an RSC. */
int txn_delete_resource(struct txn_ctx *t, const struct store_row *row);
/* The same for an instance evicted by its holder (mni/mbs), which keeps its counters itself: the
 * holder's txn_child_removed and events are not run. 0 or an RSC. */
int txn_delete_evicted(struct txn_ctx *t, const struct store_row *row);
/* A <crossResourceSubscription>'s window state (doc, its attributes) at now_ms: a window that has
 * ended is discarded and the next one begun. True when events held were discarded
 * (resources/cross_sub.c). */
bool crs_window_roll(json_t *doc, int64_t now_ms);
/* The window state member of a crossResourceSubscription's doc (never in a representation). */
#define CRS_STATE "wdnw"

/* Does the <schedule> representation doc have a scheduleElement window that holds at now (seconds
 * since the epoch, UTC)? (resources/schedule.c) */
bool schedule_allows(const char *doc, int64_t now);

/* TS-0001 §9.6.6: does this container representation (doc) carry disableRetrieval true? */
bool cnt_retrieval_disabled(const char *doc);

/* Helpers used by type files. */
int64_t json_int_or(const json_t *obj, const char *key, int64_t dflt);
void json_set_int(json_t *obj, const char *key, int64_t v);
void json_set_str(json_t *obj, const char *key, const char *v);

#endif
