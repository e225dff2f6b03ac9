/* audit: the security audit sink, one JSON object per line (who, what, decision, why). Never
 * records key material or tokens.
 *
 * Keyed chain: every line ends with "prev" (the "mac" of the line before it; 64 zeros for the first)
 * and "mac", the HMAC-SHA256 under the store's audit key (cred_audit_key) of the line up to and with
 * its "prev" value. Without the key nobody can write a line that verifies, so editing, inserting,
 * reordering or removing lines (anywhere but at the end) and recomputing the chain is detected by
 * audit_verify_file (wardenctl audit verify). What it cannot show: that lines were cut off at the end
 * (or the whole file replaced by an older copy), and anything a holder of the key (the server's user)
 * chose to write. */
#ifndef WARDEN_SECURITY_AUDIT_H
#define WARDEN_SECURITY_AUDIT_H

#include <stdbool.h>
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

#define AUDIT_MAC_HEX 64 /* HMAC-SHA256 in hex */
#define AUDIT_KEY_LEN 32

/* HMAC-SHA256 of data under key, in hex. */
void audit_mac(const unsigned char *key, size_t keylen, const char *data, size_t len, char out[AUDIT_MAC_HEX + 1]);

/* Check one line (with its newline): well formed, its "prev" is prev and its "mac" is right. Returns
 * NULL and copies the line's mac into mac_out, or a short reason ("not a keyed audit line", "prev
 * does not match the line before", "mac does not match: written without the key"). */
const char *audit_line_check(const unsigned char *key, size_t keylen, const char *line, size_t len,
                             const char prev[AUDIT_MAC_HEX + 1], char mac_out[AUDIT_MAC_HEX + 1]);

/* Walk the whole file. Returns 0 when every line verifies (*lines = their number, last_mac = the last
 * line's mac), 1 when the chain breaks (*lines = the 1-based number of the first bad line, msg says
 * why), -1 when the file cannot be read (msg). */
int audit_verify_file(const char *path, const unsigned char *key, size_t keylen, long *lines,
                      char last_mac[AUDIT_MAC_HEX + 1], char *msg, size_t msglen);

/* Open (append, owner-only) the audit file at path, continuing the chain of its last line, with the
 * chain key (copied; the caller wipes its own). A pre-existing file that others may read or write, or
 * in a world-writable directory, is refused (fs_check_private). NULL + err on failure. */
struct audit *audit_open(const char *path, const unsigned char *key, size_t keylen, char *err, size_t errlen);
/* Open the file at the same path again (SIGHUP, after logrotate moved it). The chain goes on as
 * after a restart: from the last line of the file now at the path, or anew in a new file, so each
 * rotated file verifies on its own. On failure the old file stays in use and -1 + err is returned.
 * Safe while other threads record. NULL a: no-op. */
int audit_reopen(struct audit *a, char *err, size_t errlen);
void audit_record(struct audit *a, const struct audit_event *ev);

/* Aggregation of denials (finding 8: any client can cause denials as fast as it can send). With
 * window_ms > 0:
 * - a "deny" event identical to one written in the last window_ms (every field the same but the
 *   time: same peer, originator, target, reason ...) is not written but counted; when that window
 *   ends, one line {"event":"repeated","of":<mac of the first line>,"repeated":N,"first":..,"last":..}
 *   (with the first one's event, peer and reason) says how many;
 * - with peer_lines > 0, at most peer_lines denial lines are written per peer address and window
 *   (so varying the originator or target does not lift the bound); the peer's further denials are
 *   counted, and one line {"event":"suppressed","peer":..,"written":L,"suppressed":N,...} says how
 *   many when the window ends.
 * At most slots runs are tracked (fixed memory, about 400 bytes each); when all are busy the oldest
 * run ends early with its line: more lines, never a lost count. window_ms 0 (the default of
 * audit_open): every event is a line. Authentication events are never aggregated. */
void audit_set_aggregation(struct audit *a, long window_ms, size_t slots, long peer_lines);
/* End the runs whose window is over (their "repeated" lines): call about once a second. */
void audit_tick(struct audit *a);
/* End every run now (audit_close and audit_reopen do it too). */
void audit_flush(struct audit *a);
void audit_close(struct audit *a);

#endif
