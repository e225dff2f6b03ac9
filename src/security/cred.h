/* cred: the credential store seam (TS-0003 §8.2.2.1 provisioned symmetric keys, §10.4 Credential-IDs,
 * certificate revocation). The TLS code and wardenctl use only this interface; its functions dispatch
 * through the store's ops table (cred_int.h, struct cred_ops), whose SQLite implementation,
 * src/store/cred_sqlite.c, keeps the credentials in the CSE's own database so that wardenctl and a
 * running server share them. A registration's binding of a key commits with the AE through the
 * backend object that owns both stores (store/backend.h).
 *
 * Key material: a key leaves the store only through cred_psk_key(), into a buffer the caller wipes
 * with cred_wipe() after use. Nothing here logs or formats a key. */
#ifndef WARDEN_SECURITY_CRED_H
#define WARDEN_SECURITY_CRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRED_KPSAID_MAX  255 /* <relative>@<fqdn>: bounded like a DNS name */
#define CRED_KEY_MIN     16  /* bytes; shorter keys give no 128-bit security */
#define CRED_KEY_MAX     64
#define CRED_BINDING_MAX 1024 /* comma-separated canonical IDs */
#define CRED_SERIAL_MAX  64   /* hex digits of an X.509 serial (20 octets at most, RFC 5280 §4.1.2.2) */

struct cred_store;

enum cred_status {
    CRED_OK = 0,
    CRED_NOT_FOUND = 1,
    CRED_REVOKED = 2,
    CRED_EXISTS = 3,
    CRED_CONFLICT = 4,
    CRED_ERROR = -1
};

struct cred_psk_info {
    char kpsa_id[CRED_KPSAID_MAX + 1];
    char binding[CRED_BINDING_MAX + 1]; /* canonical IDs separated by ','; "" = bind at registration */
    bool revoked;
    int64_t created; /* unix seconds */
};

/* Open the credential store that lives beside the resource store at path (created owner-only).
 * NULL + err on failure. Safe to use from several threads. */
struct cred_store *cred_open(const char *path, char *err, size_t errlen);
void cred_close(struct cred_store *cs);

/* A counter that changes whenever a credential may have changed, in this process or in another one
 * (wardenctl): holders of cached lookups re-check when it moved. cred_watch_start() polls the store
 * for changes made by other processes every interval_ms. */
uint64_t cred_generation(struct cred_store *cs);
int cred_watch_start(struct cred_store *cs, int interval_ms);

/* Provisioned symmetric keys. */
enum cred_status cred_psk_add(struct cred_store *cs, const char *kpsa_id, const unsigned char *key, size_t key_len,
                              const char *binding);
enum cred_status cred_psk_get(struct cred_store *cs, const char *kpsa_id, struct cred_psk_info *out /* OUT */);
/* Copy the key of an active credential into key (CRED_KEY_MAX bytes). The caller wipes it. */
enum cred_status cred_psk_key(struct cred_store *cs, const char *kpsa_id, unsigned char *key, size_t *key_len);
/* Revoke: the key is erased from the store (secure_delete), the name stays as a tombstone. */
enum cred_status cred_psk_revoke(struct cred_store *cs, const char *kpsa_id);
/* Something changed a credential outside this module's own writes (the backend bound a '-' PSK in a
 * registration's transaction, store/backend.h): holders of cached lookups re-check at once. */
void cred_touch(struct cred_store *cs);
/* Call fn for every credential, ordered by KpsaID. */
enum cred_status cred_psk_list(struct cred_store *cs, void (*fn)(void *arg, const struct cred_psk_info *info),
                               void *arg);

/* Certificate revocation by serial (lowercase hex without separators, see cred_serial_norm). */
enum cred_status cred_cert_revoke(struct cred_store *cs, const char *serial);
/* Call fn for every revoked certificate serial (with the unix time of its revocation), by serial. */
enum cred_status cred_cert_list(struct cred_store *cs, void (*fn)(void *arg, const char *serial, int64_t revoked),
                                void *arg);
/* CRED_OK (not revoked), CRED_REVOKED, or CRED_ERROR. */
enum cred_status cred_cert_status(struct cred_store *cs, const char *serial);

/* The key of the audit log's HMAC chain (security/audit.h), kept in the store (owner-only, beside the
 * credentials) and never in the log. With create, one is made from the kernel CSPRNG when the store has
 * none. CRED_OK (key filled), CRED_NOT_FOUND (none, and !create) or CRED_ERROR. The caller wipes key. */
#define CRED_AUDIT_KEY_LEN 32
enum cred_status cred_audit_key(struct cred_store *cs, bool create, unsigned char key[CRED_AUDIT_KEY_LEN]);

/* Validation and normalisation helpers (pure). */
bool cred_kpsaid_ok(const char *kpsa_id);
/* The stored form of a KpsaID: the FQDN after '@' in lower case (DNS names are case-insensitive). */
void cred_kpsaid_norm(const char *in, char out[CRED_KPSAID_MAX + 1]);
/* "0A:1b:02" -> "a1b02"-style: lowercase hex, separators and leading zeros removed. false if not hex. */
bool cred_serial_norm(const char *in, char *out, size_t outlen);
/* Hex text (whitespace ignored) to bytes. Returns the length, or -1 when not hex or longer than max. */
long cred_hex_decode(const char *hex, unsigned char *out, size_t max);
/* Wipe a buffer that held key material (not optimised away). */
void cred_wipe(void *p, size_t n);

#endif
