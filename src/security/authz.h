/* authz: the built-in parts of the access decision, as pure functions: the admin exception, the
 * CSEBase's registration policy and the default policy of a resource without acpi (TS-0001 §9.6.2:
 * only its creator). accessControlPolicy evaluation is in acp.h; core/policy.c combines them. */
#ifndef WARDEN_SECURITY_AUTHZ_H
#define WARDEN_SECURITY_AUTHZ_H

#include <stdbool.h>

/* accessControlOperations bits (TS-0004 §6.3.4.2.x, acop): not the same numbers as `op`. */
enum acop {
    ACOP_CREATE = 1,
    ACOP_RETRIEVE = 2,
    ACOP_UPDATE = 4,
    ACOP_DELETE = 8,
    ACOP_NOTIFY = 16,
    ACOP_DISCOVERY = 32,
};

struct authz_subject {
    const char *canon; /* canonical originator ID */
    bool is_admin;
};

struct authz_target {
    int ty;         /* resource type of the target */
    const char *ae; /* AE-ID-Stem owning the target ("" none) */
    const char *cr; /* canonical creator ("" unknown) */
    int child_ty;   /* for ACOP_CREATE: the type being created */
};

struct authz_result {
    bool permit;
    const char *reason; /* static, machine-readable: "admin", "creator", "registration", "default-deny", ... */
};

/* Decide by the built-in policy. Deterministic, no I/O, no allocation. */
void authz_default(const struct authz_subject *s, enum acop op, const struct authz_target *t,
                   struct authz_result *out /* OUT */);

#endif
