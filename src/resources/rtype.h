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
};

/* Create / update policy of an attribute (TS-0004 resource tables: M, O, NP). */
enum attr_use { A_NP = 0, A_O = 1, A_M = 2 };

struct attr_def {
    const char *sn;
    enum attr_type type;
    unsigned char create; /* enum attr_use */
    unsigned char update; /* enum attr_use */
};

/* Read access for hooks on the request thread: resolve an address or resourceID (as a target
 * would be) to a stored row, as the originator sees it: a resource the originator may not retrieve
 * is reported RSC_NOT_FOUND exactly like one that does not exist. Returns 0 with *out filled
 * (caller frees), or an RSC. */
struct resolver {
    int (*resolve)(void *arg, const char *addr, struct store_row *out);
    void *arg;
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
};

/* Notifications prepared inside a transaction, sent after its commit (core/subscribe.c). */
struct note;
struct notes {
    struct note *head, *tail;
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
};

/* The registry (resources/registry.c). NULL when ty is not a type this CSE knows. */
const struct rtype *rtype_find(int ty);
const struct rtype *rtype_find_sn(const char *sn);
/* Is sn the short name of an attribute of some resource type here (for attribute filters)? */
bool rtype_attr_known(const char *sn);

/* Generic attribute validation against t's policy (resources/attr.c). Returns 0 or RSC 4000 with
 * a message naming the attribute. */
int attr_validate(const struct rtype *t, json_t *attrs, bool create, struct cse_response *rsp);
/* Is s a valid resourceName? */
bool attr_name_ok(const char *s);

/* Helpers used by type files. */
int64_t json_int_or(const json_t *obj, const char *key, int64_t dflt);
void json_set_int(json_t *obj, const char *key, int64_t v);
void json_set_str(json_t *obj, const char *key, const char *v);

#endif
