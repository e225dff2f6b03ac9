/* audit: the security audit sink, one JSON object per line (who, what, decision, why). Never
 * records key material or tokens. Lines are hash-chained ("prev"). */
#ifndef WARDEN_SECURITY_AUDIT_H
#define WARDEN_SECURITY_AUDIT_H

#include <stddef.h>

struct audit;

struct audit_event {
    const char *event;      /* "deny", "authn-ok", "authn-fail" */
    const char *originator; /* as given (may be NULL) */
    const char *peer;
    const char *binding;
    const char *op;
    const char *target;
    int rsc;
    const char *reason;
    const char *detail;     /* which policy/rule or check decided, may be NULL */
    const char *credential; /* "psk:<KpsaID>" / "cert:<serial>" of the security association, or NULL */
    const char *identity;   /* IDs bound to that credential (comma-separated), or NULL */
};

#define AUDIT_HASH_HEX 64

/* SHA-256 of one line (with its newline) in hex: what the next line's "prev" must be. */
void audit_line_hash(const char *line, size_t len, char out[AUDIT_HASH_HEX + 1]);

/* Open (append, owner-only) the audit file at path. NULL + err on failure. */
struct audit *audit_open(const char *path, char *err, size_t errlen);
void audit_record(struct audit *a, const struct audit_event *ev);
void audit_close(struct audit *a);
/* Open the audit file again at its path (SIGHUP, after logrotate moved it). The chain goes on as
 * after a restart: from the last line of the file now at the path, or anew in a new file, so each
 * rotated file verifies on its own. Returns 0, or -1 with err set, the old file being kept. NULL a:
 * no-op. */
int audit_reopen(struct audit *a, char *err, size_t errlen);

#endif
