/* authz: the built-in parts of the access decision (see authz.h). */
#include "authz.h"

#include <string.h>

#define TY_AE           2
#define TY_CSEBASE      5
#define TY_REMOTE_CSE   16
#define TY_CSEBASE_ANNC 10005

void authz_default(const struct authz_subject *s, enum acop op, const struct authz_target *t, struct authz_result *out)
{
    out->permit = false;
    out->reason = "default-deny";
    if (s->is_admin) {
        out->permit = true;
        out->reason = "admin";
        return;
    }
    if (t->ty == TY_CSEBASE) {
        /* The CSEBase without acpi: registered originators may read and discover it (csi, srv,
         * poa), and anyone who passed the originator checks may register an AE. */
        if (op == ACOP_RETRIEVE || op == ACOP_DISCOVERY) {
            out->permit = true;
            out->reason = "csebase-readable";
        } else if (op == ACOP_CREATE && t->child_ty == TY_AE) {
            out->permit = true;
            out->reason = "registration";
        } else if (op == ACOP_CREATE && t->child_ty == TY_REMOTE_CSE) {
            /* CSE registration (TS-0001 §10.2.2.6): the <remoteCSE> type checks that From is a
             * CSE-ID bound to the security association and csi names it */
            out->permit = true;
            out->reason = "cse-registration";
        } else if (op == ACOP_CREATE && t->child_ty == TY_CSEBASE_ANNC) {
            /* announcement (TS-0004 §7.3.3.10): the <CSEBaseAnnc> type checks that From is a CSE
             * registered here and its lnk names that CSE */
            out->permit = true;
            out->reason = "announcement";
        } else {
            out->reason = "csebase-admin-only";
        }
        return;
    }
    /* TS-0001 §9.6.2: a resource without acpi grants everything to its creator, nothing to others */
    if (t->cr != NULL && t->cr[0] != '\0' && s->canon != NULL && strcmp(s->canon, t->cr) == 0) {
        out->permit = true;
        out->reason = "creator";
    }
}
