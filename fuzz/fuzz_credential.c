/* fuzz_credential: the text a peer or an operator hands the credential code: PSK identities
 * (cred_kpsaid_ok), hex keys (cred_hex_decode), certificate serials (cred_serial_norm) and
 * subjectAltName identities (tlsauth_san_identity), with their invariants. */
#include <gnutls/x509.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/id.h"
#include "security/cred.h"
#include "security/tlsauth.h"

static const struct id_env env = {.spid = "warden.example.com", .cse_id = "/id-in"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    if (cred_kpsaid_ok(s)) { /* accepted identities are bounded and have exactly one '@' */
        if (strlen(s) > CRED_KPSAID_MAX || strchr(s, '@') == NULL || strchr(s, '@') != strrchr(s, '@'))
            abort();
    }
    unsigned char key[CRED_KEY_MAX];
    long n = cred_hex_decode(s, key, sizeof key);
    if (n < -1 || n > CRED_KEY_MAX)
        abort();
    char serial[CRED_SERIAL_MAX + 1];
    if (cred_serial_norm(s, serial, sizeof serial)) { /* normal form is a fixed point */
        char again[CRED_SERIAL_MAX + 1];
        if (!cred_serial_norm(serial, again, sizeof again) || strcmp(serial, again) != 0 || serial[0] == '\0')
            abort();
    }
    char canon[LIMIT_ID_LEN + 1];
    for (int t = 0; t < 2; t++) {
        int type = t ? GNUTLS_SAN_DNSNAME : GNUTLS_SAN_URI;
        if (tlsauth_san_identity(&env, type, s, canon, sizeof canon)) {
            /* an identity is canonical, absolute, and parses to the same canonical form */
            struct id id;
            if (canon[0] != '/' || canon[1] != '/' || !id_parse(&env, canon, &id) || strcmp(id.canon, canon) != 0)
                abort();
            if (type == GNUTLS_SAN_URI ? id.kind != ID_AE : id.kind != ID_CSE)
                abort();
        }
    }
    /* "CONSTRAINT\nURI": RFC 5280 §4.2.1.10 URI name constraints on the host part (TS-0003 §10.1.1.5) */
    char *nl = strchr(s, '\n');
    if (nl != NULL) {
        *nl = '\0';
        const char *constraint = s, *uri = nl + 1;
        bool m = tlsauth_uri_constraint_matches(constraint, uri);
        if (m && strstr(uri, "//") == NULL) /* a match needs an authority */
            abort();
        char *up = strdup(constraint);
        if (up != NULL) { /* case-insensitive */
            for (char *p = up; *p; p++)
                if (*p >= 'a' && *p <= 'z')
                    *p = (char)(*p - 'a' + 'A');
            if (tlsauth_uri_constraint_matches(up, uri) != m)
                abort();
            free(up);
        }
    }
    free(s);
    return 0;
}
