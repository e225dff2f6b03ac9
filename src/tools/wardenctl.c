/* wardenctl: the admin tool (PRODUCT.md "Command line and configuration"). It reads the same
 * configuration as the server (--config FILE, --section.key=value) and works on the same store, so a
 * running server sees every change at once: provisioned symmetric keys (TS-0003 §8.2.2.1),
 * certificate revocation, a development CA issuing P-256 certificates with oneM2M identities in
 * subjectAltName (TS-0003 §8.1.2, §10.1), and the audit log.
 *
 * Secret hygiene: keys are read from standard input only, never from argv; buffers that held them
 * are wiped; private-key files are created owner-only; core dumps are off. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/cse.h"
#include "core/id.h"
#include "security/audit.h"
#include "security/cred.h"
#include "store/store.h"
#include "tools/wardenctl_authz.h"
#include "tools/wardenctl_common.h"
#include "tools/wardenctl_e2e.h"
#include "tools/wardenctl_kex.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/rand.h"
#include "util/timeutil.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct ctl {
    struct cse_config cfg;
    struct id_env idenv;
    bool from_store; /* explain --from-store: never ask the running server */
    int argc;        /* command words and their options (config options removed) */
    char **argv;
};

/* The usage text on f: standard output for --help, standard error after a usage error. */
static int usage_on(FILE *f)
{
    fputs(
        "usage: wardenctl [--config FILE] [--section.key=value ...] COMMAND\n"
        "  init                                 create a new empty store at store.path (commands on a\n"
        "                                       store never create one; they name the store they open)\n"
        "  psk add KPSAID BINDING [--generate]  key as hex on stdin (or --generate: printed once)\n"
        "                                       BINDING: AE-ID, CSE-ID, several separated by ',', or '-'\n"
        "  psk list                             KPSAID, binding, state (never the key)\n"
        "  psk revoke KPSAID\n"
        "  cert revoke SERIAL                   hex serial, ':' allowed\n"
        "  ca init DIR                          development CA (P-256, name constraints on cse.spid)\n"
        "  ca issue DIR --id ID --out PREFIX [--ip ADDR]... [--dns NAME]... [--not-before TS] [--not-after TS]\n"
        "                                       [--cn NAME] (a subject CN for MQTT brokers, which read only the CN;\n"
        "                                       Warden itself reads identities from subjectAltName only)\n"
        "  audit tail [-n N] [-f]\n"
        "  audit verify                         check the audit log's keyed chain (the key is in the store)\n"
        "  cse acpi [set ID... | clear]         the CSEBase's acpi (shown without set/clear): IDs of\n"
        "                                       <accessControlPolicy> children of the CSEBase\n"
        "  explain ORIGINATOR OPERATION TARGET [--ty N] [--peer ADDR] [--rids ID]... [--token-file FILE|-]...\n"
        "                                       [--tids ID]... [--ltids ID]...  (tokens: one per line in FILE\n"
        "                                       or on stdin with '-', never on the command line)\n"
        "                                       OPERATION: create retrieve update delete notify discover, or\n"
        "                                       notify-seci (a NOTIFY carrying m2m:seci: e2e-procedure);\n"
        "                                       TARGET: CSE-relative, e.g. cse-in/ae1/cnt; first line PERMIT or DENY;\n"
        "                                       asks the running server (its $explain over http.port, as cse.admin)\n"
        "                                       when it answers, else the store (a note says so); --from-store: "
        "always\n",
        f);
    fputs(wardenctl_authz_usage, f);
    fputs(wardenctl_e2e_usage, f);
    fputs(wardenctl_kex_usage, f);
    return EXIT_USAGE;
}

static int usage(void)
{
    return usage_on(stderr);
}

__attribute__((format(printf, 1, 2))) int wardenctl_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wardenctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_FAIL;
}

/* The store named by store.path must exist: wardenctl never creates an empty one (a mistyped path
 * or a missing --config would otherwise provision keys into a store no server reads). Says which
 * store it works on, on standard error. 0, or -1 after the message. */
static int require_store(struct ctl *c)
{
    char err[512];
    int version;
    if (store_sqlite_probe(c->cfg.store_path, &version, err, sizeof err) != 0) {
        wardenctl_fail("%s (store.path; give --config FILE or --store.path=PATH, or create one with `wardenctl init`)",
                       err);
        return -1;
    }
    if (store_sqlite_check_files(c->cfg.store_path, err, sizeof err) != 0) {
        wardenctl_fail("%s", err);
        return -1;
    }
    char real[4096];
    fprintf(stderr, "wardenctl: store %s\n", realpath(c->cfg.store_path, real) ? real : c->cfg.store_path);
    return 0;
}

/* init: a new, empty store (the schema, the credential tables and the audit key), owner-only. */
static int init_cmd(struct ctl *c)
{
    if (c->argc != 1)
        return usage();
    char err[512];
    struct stat stbuf;
    if (stat(c->cfg.store_path, &stbuf) == 0)
        return wardenctl_fail("%s exists already", c->cfg.store_path);
    int lock = store_sqlite_lock(c->cfg.store_path, err, sizeof err);
    if (lock < 0)
        return wardenctl_fail("%s", err);
    struct store *st = store_sqlite_open(c->cfg.store_path, false, 1, err, sizeof err);
    struct cred_store *cs = st ? cred_open(c->cfg.store_path, err, sizeof err) : NULL;
    unsigned char key[CRED_AUDIT_KEY_LEN];
    int ret = cs && cred_audit_key(cs, true, key) == CRED_OK ? EXIT_OK : EXIT_FAIL;
    cred_wipe(key, sizeof key);
    cred_close(cs);
    if (st)
        st->ops->close(st);
    close(lock);
    if (ret != EXIT_OK)
        return wardenctl_fail("cannot create the store %s: %s", c->cfg.store_path, st ? "audit key" : err);
    fprintf(stderr, "wardenctl: store %s created\n", c->cfg.store_path);
    return EXIT_OK;
}

static struct cred_store *open_creds(struct ctl *c)
{
    char err[512];
    if (require_store(c) != 0)
        return NULL;
    struct cred_store *cs = cred_open(c->cfg.store_path, err, sizeof err);
    if (cs == NULL)
        wardenctl_fail("%s", err);
    return cs;
}

/* BINDING ("-", or IDs separated by ',') to canonical IDs separated by ','. */
static int parse_binding(struct ctl *c, const char *in, char *out, size_t outlen)
{
    out[0] = '\0';
    if (strcmp(in, "-") == 0)
        return 0;
    char tmp[CRED_BINDING_MAX + 1];
    if (strlen(in) >= sizeof tmp)
        return wardenctl_fail("binding too long");
    strcpy(tmp, in);
    size_t n = 0;
    char *save = NULL;
    int count = 0;
    for (char *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        struct id id;
        if (!id_parse(&c->idenv, tok, &id) || (id.kind != ID_AE && id.kind != ID_CSE))
            return wardenctl_fail("'%s' is not an AE-ID or a CSE-ID", tok);
        int w = snprintf(out + n, outlen - n, "%s%s", n ? "," : "", id.canon);
        if (w < 0 || (size_t)w >= outlen - n || ++count > 4)
            return wardenctl_fail("binding too long (at most 4 IDs)");
        n += (size_t)w;
    }
    return count ? 0 : wardenctl_fail("empty binding");
}

static int psk_add(struct ctl *c)
{
    bool generate = false;
    const char *pos[2];
    int npos = 0;
    for (int i = 2; i < c->argc; i++) {
        if (strcmp(c->argv[i], "--generate") == 0)
            generate = true;
        else if (c->argv[i][0] == '-' && c->argv[i][1] != '\0')
            return usage();
        else if (npos < 2)
            pos[npos++] = c->argv[i];
        else
            return usage(); /* a third word would be a key on the command line: never */
    }
    if (npos != 2)
        return usage();
    if (!cred_kpsaid_ok(pos[0]))
        return wardenctl_fail("'%s' is not a KpsaID (<relative>@<fqdn>; relative: letters, digits, '.', '_', '-')",
                              pos[0]);
    char binding[CRED_BINDING_MAX + 1];
    if (parse_binding(c, pos[1], binding, sizeof binding) != 0)
        return EXIT_FAIL;
    unsigned char key[CRED_KEY_MAX];
    long klen;
    if (generate) {
        klen = 32;
        rand_bytes(key, (size_t)klen);
    } else {
        char text[1024];
        size_t n = fread(text, 1, sizeof text - 1, stdin);
        text[n] = '\0';
        klen = cred_hex_decode(text, key, sizeof key);
        cred_wipe(text, sizeof text);
        if (klen < CRED_KEY_MIN) {
            cred_wipe(key, sizeof key);
            return wardenctl_fail("the key on standard input must be %s to %s bytes of hex", "16", "64");
        }
    }
    struct cred_store *cs = open_creds(c);
    if (cs == NULL) {
        cred_wipe(key, sizeof key);
        return EXIT_FAIL;
    }
    enum cred_status st = cred_psk_add(cs, pos[0], key, (size_t)klen, binding);
    cred_close(cs);
    if (st == CRED_OK && generate) {
        for (long i = 0; i < klen; i++)
            printf("%02x", key[i]);
        putchar('\n');
    }
    cred_wipe(key, sizeof key);
    if (st == CRED_EXISTS)
        return wardenctl_fail("%s is provisioned already (revoke it first to replace its key)", pos[0]);
    if (st != CRED_OK)
        return wardenctl_fail("cannot store %s", pos[0]);
    fprintf(stderr, "psk %s added, bound to %s\n", pos[0], binding[0] ? binding : "(the AE that registers first)");
    return EXIT_OK;
}

static void print_psk(void *arg, const struct cred_psk_info *info)
{
    (void)arg;
    printf("%s\t%s\t%s\n", info->kpsa_id, info->binding[0] ? info->binding : "-", info->revoked ? "revoked" : "active");
}

static int psk_cmd(struct ctl *c)
{
    if (c->argc < 2)
        return usage();
    const char *sub = c->argv[1];
    if (strcmp(sub, "add") == 0)
        return psk_add(c);
    if (strcmp(sub, "list") == 0 && c->argc == 2) {
        struct cred_store *cs = open_creds(c);
        if (cs == NULL)
            return EXIT_FAIL;
        enum cred_status st = cred_psk_list(cs, print_psk, NULL);
        cred_close(cs);
        return st == CRED_OK ? EXIT_OK : wardenctl_fail("cannot read the credential store");
    }
    if (strcmp(sub, "revoke") == 0 && c->argc == 3) {
        struct cred_store *cs = open_creds(c);
        if (cs == NULL)
            return EXIT_FAIL;
        enum cred_status st = cred_psk_revoke(cs, c->argv[2]);
        cred_close(cs);
        if (st == CRED_NOT_FOUND)
            return wardenctl_fail("no psk %s", c->argv[2]);
        if (st == CRED_REVOKED)
            return wardenctl_fail("psk %s is revoked already", c->argv[2]);
        if (st != CRED_OK)
            return wardenctl_fail("cannot revoke %s", c->argv[2]);
        fprintf(stderr, "psk %s revoked\n", c->argv[2]);
        return EXIT_OK;
    }
    return usage();
}

static int cert_cmd(struct ctl *c)
{
    if (c->argc != 3 || strcmp(c->argv[1], "revoke") != 0)
        return usage();
    char serial[CRED_SERIAL_MAX + 1];
    if (!cred_serial_norm(c->argv[2], serial, sizeof serial))
        return wardenctl_fail("'%s' is not a certificate serial (hex)", c->argv[2]);
    struct cred_store *cs = open_creds(c);
    if (cs == NULL)
        return EXIT_FAIL;
    enum cred_status st = cred_cert_revoke(cs, serial);
    cred_close(cs);
    if (st != CRED_OK && st != CRED_REVOKED)
        return wardenctl_fail("cannot revoke %s", serial);
    fprintf(stderr, "certificate %s revoked\n", serial);
    return EXIT_OK;
}

/* ---- development CA ---- */

/* Write a file of ours: never through a symlink or into a file someone else prepared. A private key
 * is created afresh (O_EXCL after removing an old one); with keep, an existing key is an error. */
static int write_file(const char *path, const gnutls_datum_t *d, mode_t mode, bool keep)
{
    if (!keep && unlink(path) != 0 && errno != ENOENT)
        return wardenctl_fail("cannot replace %s: %s", path, strerror(errno));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return wardenctl_fail("cannot write %s: %s", path, strerror(errno));
    ssize_t w = write(fd, d->data, d->size);
    int rc = fsync(fd);
    close(fd);
    if (w != (ssize_t)d->size || rc != 0)
        return wardenctl_fail("cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int export_pair(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *cert_path, const char *key_path,
                       bool keep)
{
    gnutls_datum_t d = {NULL, 0};
    int rc = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d);
    if (rc < 0 || write_file(key_path, &d, 0600, keep) != 0) {
        if (d.data)
            cred_wipe(d.data, d.size);
        gnutls_free(d.data);
        return rc < 0 ? wardenctl_fail("cannot export the key: %s", gnutls_strerror(rc)) : EXIT_FAIL;
    }
    cred_wipe(d.data, d.size);
    gnutls_free(d.data);
    d.data = NULL;
    rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d);
    int ret = rc < 0 ? wardenctl_fail("cannot export the certificate: %s", gnutls_strerror(rc))
                     : write_file(cert_path, &d, 0644, false);
    gnutls_free(d.data);
    return ret;
}

/* A random positive serial of 16 octets (RFC 5280 §4.1.2.2: at most 20, unique per CA). */
static void new_serial(gnutls_x509_crt_t crt, char hex[CRED_SERIAL_MAX + 1])
{
    unsigned char s[16];
    rand_bytes(s, sizeof s);
    s[0] = (unsigned char)((s[0] & 0x7f) | 0x40);
    gnutls_x509_crt_set_serial(crt, s, sizeof s);
    for (size_t i = 0; i < sizeof s; i++)
        snprintf(hex + 2 * i, 3, "%02x", s[i]);
}

static int new_p256(gnutls_x509_privkey_t *key)
{
    int rc = gnutls_x509_privkey_init(key);
    if (rc >= 0)
        rc = gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
    return rc < 0 ? wardenctl_fail("cannot generate a P-256 key: %s", gnutls_strerror(rc)) : 0;
}

static void dir_path(char *out, size_t len, const char *dir, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static int ca_init(struct ctl *c, const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return wardenctl_fail("cannot create %s: %s", dir, strerror(errno));
    char cert_path[4096], key_path[4096];
    dir_path(cert_path, sizeof cert_path, dir, "ca.pem");
    dir_path(key_path, sizeof key_path, dir, "ca.key");
    if (access(key_path, F_OK) == 0)
        return wardenctl_fail("%s exists: a CA is there already", key_path);
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_x509_name_constraints_t nc = NULL;
    int ret = EXIT_FAIL;
    char serial[CRED_SERIAL_MAX + 1];
    char dn[512];
    snprintf(dn, sizeof dn, "CN=Warden development CA,O=%s", c->cfg.cse_spid);
    time_t now = time(NULL);
    gnutls_datum_t spid = {(unsigned char *)c->cfg.cse_spid, (unsigned)strlen(c->cfg.cse_spid)};
    if (new_p256(&key) != 0 || gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_name_constraints_init(&nc) < 0)
        goto out;
    const char *bad = NULL;
    gnutls_x509_crt_set_version(crt, 3);
    new_serial(crt, serial);
    /* TS-0003 §8.1.2.2: the CA may only vouch for names in its SP domain (CSE-ID FQDNs and hosts) */
    if (gnutls_x509_crt_set_dn(crt, dn, &bad) < 0 || gnutls_x509_crt_set_key(crt, key) < 0 ||
        gnutls_x509_crt_set_activation_time(crt, now - 60) < 0 ||
        gnutls_x509_crt_set_expiration_time(crt, now + 10L * 365 * 86400) < 0 ||
        gnutls_x509_crt_set_basic_constraints(crt, 1, 0) < 0 ||
        gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN) < 0 ||
        gnutls_x509_name_constraints_add_permitted(nc, GNUTLS_SAN_DNSNAME, &spid) < 0 ||
        gnutls_x509_crt_set_name_constraints(crt, nc, 1) < 0) {
        wardenctl_fail("cannot build the CA certificate");
        goto out;
    }
    unsigned char kid[64];
    size_t kidlen = sizeof kid;
    if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, kid, &kidlen) >= 0)
        gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen);
    int rc = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
    if (rc < 0) {
        wardenctl_fail("cannot sign: %s", gnutls_strerror(rc));
        goto out;
    }
    ret = export_pair(crt, key, cert_path, key_path, true);
    if (ret == EXIT_OK)
        fprintf(stderr, "CA created: %s (key %s, name constraints: DNS %s)\n", cert_path, key_path, c->cfg.cse_spid);
out:
    gnutls_x509_name_constraints_deinit(nc);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    return ret;
}

static int load_ca(const char *dir, gnutls_x509_crt_t *crt, gnutls_x509_privkey_t *key)
{
    char path[4096];
    gnutls_datum_t d = {NULL, 0};
    dir_path(path, sizeof path, dir, "ca.pem");
    if (gnutls_load_file(path, &d) < 0 || gnutls_x509_crt_init(crt) < 0 ||
        gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_PEM) < 0) {
        gnutls_free(d.data);
        return wardenctl_fail("cannot read the CA certificate %s", path);
    }
    gnutls_free(d.data);
    d.data = NULL;
    dir_path(path, sizeof path, dir, "ca.key");
    int rc = gnutls_load_file(path, &d);
    if (rc >= 0 && gnutls_x509_privkey_init(key) >= 0)
        rc = gnutls_x509_privkey_import(*key, &d, GNUTLS_X509_FMT_PEM);
    if (d.data) {
        cred_wipe(d.data, d.size);
        gnutls_free(d.data);
    }
    return rc < 0 ? wardenctl_fail("cannot read the CA key %s", path) : 0;
}

static int add_san(gnutls_x509_crt_t crt, gnutls_x509_subject_alt_name_t type, const void *data, size_t len)
{
    return gnutls_x509_crt_set_subject_alt_name(crt, type, data, (unsigned)len, GNUTLS_FSAN_APPEND) < 0 ? -1 : 0;
}

static int ca_issue(struct ctl *c)
{
    const char *dir = c->argc > 2 ? c->argv[2] : NULL;
    const char *idarg = NULL, *out = NULL, *nb = NULL, *na = NULL, *cn = NULL;
    const char *ips[8], *dnss[8];
    int nip = 0, ndns = 0;
    for (int i = 3; i < c->argc; i++) {
        const char *o = c->argv[i], *v = i + 1 < c->argc ? c->argv[i + 1] : NULL;
        if (v == NULL)
            return usage();
        if (strcmp(o, "--id") == 0)
            idarg = v;
        else if (strcmp(o, "--out") == 0)
            out = v;
        else if (strcmp(o, "--not-before") == 0)
            nb = v;
        else if (strcmp(o, "--not-after") == 0)
            na = v;
        else if (strcmp(o, "--cn") == 0)
            cn = v;
        else if (strcmp(o, "--ip") == 0 && nip < 8)
            ips[nip++] = v;
        else if (strcmp(o, "--dns") == 0 && ndns < 8)
            dnss[ndns++] = v;
        else
            return usage();
        i++;
    }
    if (dir == NULL || dir[0] == '-' || idarg == NULL || out == NULL)
        return usage();
    struct id id;
    if (!id_parse(&c->idenv, idarg, &id) || (id.kind != ID_AE && id.kind != ID_CSE))
        return wardenctl_fail("--id '%s' is not an AE-ID or a CSE-ID", idarg);
    /* a CN for peers that read identities from the subject only (mosquitto's use_identity_as_username);
     * no dots, so that no verifier takes it for a host name under the CA's name constraints */
    for (const char *p = cn; p && *p; p++)
        if (!id_char_ok(*p) || *p == '.')
            return wardenctl_fail("--cn '%s': letters, digits, '-', '_' and '~' only", cn);
    if (cn && *cn == '\0')
        return wardenctl_fail("--cn needs a value");
    int64_t t_nb = (int64_t)time(NULL) - 60, t_na = (int64_t)time(NULL) + 365L * 86400;
    if ((nb && !ts_parse(nb, &t_nb)) || (na && !ts_parse(na, &t_na)) || t_na <= t_nb)
        return wardenctl_fail("--not-before/--not-after: timestamps like 20250101T000000, in order");

    gnutls_x509_crt_t ca = NULL, crt = NULL;
    gnutls_x509_privkey_t cakey = NULL, key = NULL;
    int ret = EXIT_FAIL;
    char serial[CRED_SERIAL_MAX + 1];
    if (load_ca(dir, &ca, &cakey) != 0 || new_p256(&key) != 0 || gnutls_x509_crt_init(&crt) < 0)
        goto done;
    /* the identity lives in subjectAltName; the subject names the organisation, and a CN only when
     * asked for (--cn, checked above to look like no host name) */
    char dn[512];
    snprintf(dn, sizeof dn, "O=%s%s%s", c->cfg.cse_spid, cn ? ",CN=" : "", cn ? cn : "");
    const char *bad = NULL;
    char dnsname[LIMIT_ID_LEN + 1];
    int fail_at = 0;
    gnutls_x509_crt_set_version(crt, 3);
    new_serial(crt, serial);
    fail_at |= gnutls_x509_crt_set_dn(crt, dn, &bad) < 0;
    fail_at |= gnutls_x509_crt_set_key(crt, key) < 0;
    fail_at |= gnutls_x509_crt_set_activation_time(crt, (time_t)t_nb) < 0;
    fail_at |= gnutls_x509_crt_set_expiration_time(crt, (time_t)t_na) < 0;
    fail_at |= gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0;
    fail_at |= gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0;
    fail_at |= gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0;
    fail_at |= gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0) < 0;
    if (id.kind == ID_AE) {
        fail_at |= add_san(crt, GNUTLS_SAN_URI, id.canon, strlen(id.canon));
    } else { /* //sp/cse -> cse.sp */
        const char *sp = id.canon + 2, *slash = strchr(sp, '/');
        snprintf(dnsname, sizeof dnsname, "%s.%.*s", slash + 1, (int)(slash - sp), sp);
        fail_at |= add_san(crt, GNUTLS_SAN_DNSNAME, dnsname, strlen(dnsname));
    }
    for (int i = 0; i < ndns; i++)
        fail_at |= add_san(crt, GNUTLS_SAN_DNSNAME, dnss[i], strlen(dnss[i]));
    for (int i = 0; i < nip; i++) {
        unsigned char ip[16];
        int af = strchr(ips[i], ':') ? AF_INET6 : AF_INET;
        if (inet_pton(af, ips[i], ip) != 1) {
            wardenctl_fail("--ip '%s' is not an address", ips[i]);
            goto done;
        }
        fail_at |= add_san(crt, GNUTLS_SAN_IPADDRESS, ip, af == AF_INET ? 4 : 16);
    }
    unsigned char kid[64];
    size_t kidlen = sizeof kid;
    if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, kid, &kidlen) >= 0)
        gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen);
    kidlen = sizeof kid;
    if (gnutls_x509_crt_get_subject_key_id(ca, kid, &kidlen, NULL) >= 0)
        gnutls_x509_crt_set_authority_key_id(crt, kid, kidlen);
    if (fail_at) {
        wardenctl_fail("cannot build the certificate");
        goto done;
    }
    int rc = gnutls_x509_crt_sign2(crt, ca, cakey, GNUTLS_DIG_SHA256, 0);
    if (rc < 0) {
        wardenctl_fail("cannot sign: %s", gnutls_strerror(rc));
        goto done;
    }
    char cert_path[4096], key_path[4096];
    snprintf(cert_path, sizeof cert_path, "%s.pem", out);
    snprintf(key_path, sizeof key_path, "%s.key", out);
    ret = export_pair(crt, key, cert_path, key_path, false);
    if (ret == EXIT_OK) {
        char norm[CRED_SERIAL_MAX + 1];
        cred_serial_norm(serial, norm, sizeof norm);
        printf("%s\n", norm);
        fprintf(stderr, "issued %s for %s (key %s)\n", cert_path, id.kind == ID_AE ? id.canon : dnsname, key_path);
    }
done:
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_crt_deinit(ca);
    gnutls_x509_privkey_deinit(key);
    gnutls_x509_privkey_deinit(cakey);
    return ret;
}

static int ca_cmd(struct ctl *c)
{
    if (c->argc == 3 && strcmp(c->argv[1], "init") == 0)
        return ca_init(c, c->argv[2]);
    if (c->argc >= 3 && strcmp(c->argv[1], "issue") == 0)
        return ca_issue(c);
    return usage();
}

/* ---- audit ---- */

static FILE *open_audit(struct ctl *c)
{
    if (c->cfg.audit_path[0] == '\0') {
        wardenctl_fail("audit.path is not set in the configuration");
        return NULL;
    }
    FILE *f = fopen(c->cfg.audit_path, "re");
    if (f == NULL)
        wardenctl_fail("cannot open %s: %s", c->cfg.audit_path, strerror(errno));
    return f;
}

static int audit_tail(struct ctl *c)
{
    long lines = 20;
    bool follow = false;
    for (int i = 2; i < c->argc; i++) {
        if (strcmp(c->argv[i], "-f") == 0)
            follow = true;
        else if (strcmp(c->argv[i], "-n") == 0 && i + 1 < c->argc) {
            char *end;
            lines = strtol(c->argv[++i], &end, 10);
            if (*end || lines < 0)
                return usage();
        } else
            return usage();
    }
    FILE *f = open_audit(c);
    if (f == NULL)
        return EXIT_FAIL;
    /* read backwards in blocks until enough newlines are seen */
    fseeko(f, 0, SEEK_END);
    off_t end = ftello(f), pos = end;
    long seen = 0;
    char block[8192];
    while (pos > 0 && seen < lines) {
        size_t n = pos >= (off_t)sizeof block ? sizeof block : (size_t)pos;
        pos -= (off_t)n;
        fseeko(f, pos, SEEK_SET);
        if (fread(block, 1, n, f) != n)
            break;
        for (size_t i = n; i-- > 0;)
            if (block[i] == '\n' && !(pos + (off_t)i == end - 1) && ++seen >= lines) {
                pos += (off_t)i + 1;
                break;
            }
    }
    fseeko(f, pos, SEEK_SET);
    size_t n;
    while ((n = fread(block, 1, sizeof block, f)) > 0)
        fwrite(block, 1, n, stdout);
    fflush(stdout);
    while (follow) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        clearerr(f);
        while ((n = fread(block, 1, sizeof block, f)) > 0)
            fwrite(block, 1, n, stdout);
        fflush(stdout);
    }
    fclose(f);
    return EXIT_OK;
}

/* Walk the keyed chain (audit.h): every line's mac under the store's audit key, and its prev. */
static int audit_verify(struct ctl *c)
{
    if (c->argc != 2)
        return usage();
    if (c->cfg.audit_path[0] == '\0')
        return wardenctl_fail("audit.path is not set in the configuration");
    struct cred_store *cs = open_creds(c);
    if (cs == NULL)
        return EXIT_FAIL;
    unsigned char key[CRED_AUDIT_KEY_LEN];
    enum cred_status st = cred_audit_key(cs, false, key);
    cred_close(cs);
    if (st == CRED_NOT_FOUND)
        return wardenctl_fail("store %s has no audit key: no server has run on it since audit logs are keyed",
                              c->cfg.store_path);
    if (st != CRED_OK)
        return wardenctl_fail("cannot read the audit key from %s", c->cfg.store_path);
    long lines = 0;
    char last[AUDIT_MAC_HEX + 1], msg[256];
    int rc = audit_verify_file(c->cfg.audit_path, key, sizeof key, &lines, last, msg, sizeof msg);
    cred_wipe(key, sizeof key);
    if (rc < 0)
        return wardenctl_fail("%s", msg);
    if (rc > 0) {
        printf("audit: chain broken at line %ld of %s: %s\n", lines, c->cfg.audit_path, msg);
        return EXIT_FAIL;
    }
    printf("audit: %ld lines, chain intact under the key of %s (last mac %.16s...)\n", lines, c->cfg.store_path, last);
    return EXIT_OK;
}

/* Split argv into configuration options (for config_from_args) and the command. */
static int split_args(int argc, char **argv, int *cargc, char **cargv, int *wargc, char **wargv)
{
    *cargc = 1;
    cargv[0] = argv[0];
    *wargc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        const char *dot = strchr(a, '.');
        if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            cargv[(*cargc)++] = argv[i++];
            cargv[(*cargc)++] = argv[i];
        } else if (strncmp(a, "--config=", 9) == 0 || (strncmp(a, "--", 2) == 0 && eq && dot && dot < eq)) {
            cargv[(*cargc)++] = argv[i];
        } else {
            wargv[(*wargc)++] = argv[i];
        }
    }
    return *wargc ? 0 : -1;
}

/* cse acpi [set ID... | clear]: the CSEBase's accessControlPolicyIDs, which the API may not change
 * (TS-0004 §7.4.3.2.3); written to the store, so the running server applies it at once and it
 * stays across restarts. */
static int cse_cmd(struct ctl *c)
{
    if (c->argc < 2 || strcmp(c->argv[1], "acpi") != 0)
        return usage();
    bool set = c->argc >= 3;
    if (set &&
        !((strcmp(c->argv[2], "set") == 0 && c->argc >= 4) || (strcmp(c->argv[2], "clear") == 0 && c->argc == 3)))
        return usage();
    if (access(c->cfg.store_path, F_OK) != 0) /* never create an empty store by mistake */
        return wardenctl_fail("no store at %s (store.path)", c->cfg.store_path);
    char err[512];
    struct store *st = store_sqlite_open(c->cfg.store_path, false, 1, err, sizeof err);
    if (st == NULL)
        return wardenctl_fail("%s", err);
    char out[4096];
    int n = set && strcmp(c->argv[2], "set") == 0 ? c->argc - 3 : 0;
    int rc = cse_base_acpi(st, &c->cfg, set, (const char *const *)(c->argv + 3), n, out, sizeof out, err, sizeof err);
    st->ops->close(st);
    if (rc != 0)
        return wardenctl_fail("%s", err);
    if (out[0])
        fputs(out, stdout);
    else
        printf("(no acpi: the built-in CSEBase policy: anyone may retrieve it and register, only %s may do more)\n",
               c->cfg.cse_admin);
    return EXIT_OK;
}

/* Tokens for explain, read like keys: from a file or standard input, never from argv (a live token
 * on the command line is visible in ps, /proc and shell history). One token per non-empty line. */
struct tokens {
    char *text[REQ_AUTHZ_MAX];
    int n;
    bool stdin_used;
};

static void tokens_wipe(struct tokens *t)
{
    for (int i = 0; i < t->n; i++) {
        explicit_bzero(t->text[i], strlen(t->text[i]));
        free(t->text[i]);
    }
    t->n = 0;
}

static int tokens_read(struct tokens *t, const char *path)
{
    bool in = strcmp(path, "-") == 0;
    if (in && t->stdin_used)
        return wardenctl_fail("standard input can be read once (--token-file -)");
    FILE *f = in ? stdin : fopen(path, "r");
    if (f == NULL)
        return wardenctl_fail("cannot open the token file %s: %s", path, strerror(errno));
    t->stdin_used |= in;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int ret = EXIT_OK;
    while (ret == EXIT_OK && (len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = '\0';
        const char *tok = line + strspn(line, " \t");
        if (strncmp(tok, "Bearer ", 7) == 0)
            tok += 7;
        if (*tok == '\0')
            continue;
        if (t->n == REQ_AUTHZ_MAX)
            ret = wardenctl_fail("at most %d tokens", REQ_AUTHZ_MAX);
        else
            t->text[t->n++] = strdup(tok);
    }
    if (line != NULL) {
        explicit_bzero(line, cap);
        free(line);
    }
    if (!in)
        fclose(f);
    if (ret == EXIT_OK && t->n == 0)
        ret = wardenctl_fail("no token in %s", in ? "standard input" : path);
    return ret;
}

static int explain_run(struct ctl *c, struct cse_explain_query *q, struct cse_authz_params *az);

/* explain: the same decision the server makes, on the same store and configuration. */
/* ---- explain by the running server ------------------------------------------------------------ */

static size_t collect(char *p, size_t sz, size_t nm, void *ud)
{
    struct buf *b = ud;
    if (b->len + sz * nm > 1024 * 1024)
        return 0;
    buf_append(b, p, sz * nm);
    return sz * nm;
}

static void add_query(struct buf *b, CURL *h, const char *key, const char *value)
{
    char *e = curl_easy_escape(h, value, 0);
    buf_printf(b, "%s%s=%s", b->len && strchr(b->p, '?') ? "&" : "?", key, e ? e : "");
    curl_free(e);
}

/* Ask the running server: an admin RETRIEVE of <CSEBase>/$explain on its plain HTTP listener (what
 * the dev profile's admin may use unauthenticated), so that the decision is made with the server's
 * configuration and its dynamic authorization state (DAS back-off, cached grants). Returns 1 when
 * the server decided (*ret: 0 PERMIT, 1 DENY, the explanation printed), 0 when it cannot be asked
 * (nothing listens, the secure profile needs the admin's security association, the query has a
 * --peer the API cannot carry): *why says why, for the note. */
static int explain_server(struct ctl *c, const struct cse_explain_query *q, const struct cse_authz_params *az, int *ret,
                          char *why, size_t whylen)
{
    const struct cse_config *cf = &c->cfg;
    if (q->peer) {
        snprintf(why, whylen, "--peer is not carried by the server's $explain");
        return 0;
    }
    if (strcmp(cf->cse_profile, "dev") != 0) {
        snprintf(why, whylen, "the secure profile answers the admin only inside its security association");
        return 0;
    }
    /* the server that holds this store says in its lock file where it listens: never ask whatever
     * else happens to listen on the configured port (another store's server would decide) */
    long pid = 0, port = 0;
    char note[300], hostbuf[64]; /* an address: an IPv6 literal has at most 45 characters */
    int held = store_sqlite_holder(cf->store_path, &pid, note, sizeof note);
    if (held != 1) {
        snprintf(why, whylen, "%s", held == 0 ? "no server holds this store" : "the store's lock cannot be read");
        return 0;
    }
    char *colon = strncmp(note, "http=", 5) == 0 ? strrchr(note + 5, ':') : NULL;
    if (colon == NULL || (size_t)(colon - (note + 5)) >= sizeof hostbuf || (port = strtol(colon + 1, NULL, 10)) <= 0) {
        snprintf(why, whylen, "the server of this store (pid %ld) has no plain HTTP listener", pid);
        return 0;
    }
    memcpy(hostbuf, note + 5, (size_t)(colon - (note + 5)));
    hostbuf[colon - (note + 5)] = '\0';
    const char *host = hostbuf;
    if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0')
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    CURL *h = curl_easy_init();
    if (h == NULL) {
        snprintf(why, whylen, "libcurl unavailable");
        return 0;
    }
    struct buf url, body, tok;
    buf_init(&url);
    buf_init(&body);
    buf_init(&tok);
    buf_printf(&url, strchr(host, ':') ? "http://[%s]:%ld/%s/$explain" : "http://%s:%ld/%s/$explain", host, port,
               cf->cse_rn);
    add_query(&url, h, "exfr", q->fr);
    add_query(&url, h, "exop", q->op);
    add_query(&url, h, "exto", q->to);
    if (q->ty > 0) {
        char ty[16];
        snprintf(ty, sizeof ty, "%d", q->ty);
        add_query(&url, h, "exty", ty);
    }
    for (int i = 0; i < az->nrids; i++)
        add_query(&url, h, "rids", az->rids[i]);
    for (int i = 0; i < az->ntids; i++)
        add_query(&url, h, "tids", az->tids[i]);
    for (int i = 0; i < az->nltids; i++)
        add_query(&url, h, "ltids", az->ltids[i]);
    struct curl_slist *hl = NULL;
    char line[320];
    snprintf(line, sizeof line, "X-M2M-Origin: %s", cf->cse_admin);
    hl = curl_slist_append(hl, line);
    hl = curl_slist_append(hl, "X-M2M-RI: wardenctl-explain");
    hl = curl_slist_append(hl, "X-M2M-RVI: 3");
    hl = curl_slist_append(hl, "Accept: application/json");
    if (az->ntkns > 0) { /* TS-0009 §6.4.19: tokens in Authorization, joined by '+'; never in the URL */
        buf_printf(&tok, "Authorization: Bearer ");
        for (int i = 0; i < az->ntkns; i++)
            buf_printf(&tok, "%s%s", i ? "+" : "", az->tkns[i]);
        hl = curl_slist_append(hl, tok.p);
    }
    curl_easy_setopt(h, CURLOPT_URL, url.p);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    CURLcode cc = curl_easy_perform(h);
    int asked = 0;
    json_t *root = cc == CURLE_OK && body.len ? json_loadb(body.p, body.len, 0, NULL) : NULL;
    json_t *ex = json_object_get(root, "wdn:explain");
    const char *decision = json_string_value(json_object_get(ex, "decision"));
    if (cc != CURLE_OK) {
        snprintf(why, whylen, "no server answers at http://%s:%ld (%s)", host, port, curl_easy_strerror(cc));
    } else if (decision == NULL) {
        const char *dbg = json_string_value(json_object_get(root, "m2m:dbg"));
        snprintf(why, whylen, "the server at http://%s:%ld did not explain: %.200s", host, port,
                 dbg ? dbg : "no wdn:explain in its answer");
    } else {
        fprintf(stderr, "wardenctl: explained by the running server of this store (pid %ld) at http://%s:%ld\n", pid,
                host, port);
        printf("%s\n", decision);
        json_t *r;
        size_t i;
        json_array_foreach(json_object_get(ex, "reasons"), i, r)
        {
            printf("%s\n", json_string_value(r) ? json_string_value(r) : "");
        }
        *ret = strcmp(decision, "PERMIT") == 0 ? EXIT_OK : EXIT_FAIL;
        asked = 1;
    }
    json_decref(root);
    if (tok.p)
        cred_wipe(tok.p, tok.len);
    buf_free(&tok);
    buf_free(&url);
    buf_free(&body);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return asked;
}

static int explain_cmd(struct ctl *c)
{
    if (c->argc < 4)
        return usage();
    struct cse_explain_query q = {.fr = c->argv[1], .op = c->argv[2], .to = c->argv[3]};
    struct cse_authz_params az;
    memset(&az, 0, sizeof az);
    struct tokens toks = {.n = 0};
    int ret = EXIT_OK;
    for (int i = 4; i < c->argc && ret == EXIT_OK; i++) {
        const char *o = c->argv[i];
        if (strcmp(o, "--from-store") == 0) {
            c->from_store = true;
            continue;
        }
        if (strcmp(o, "--token") == 0) { /* the value is never echoed */
            ret = wardenctl_fail(
                "--token no longer takes a token on the command line (visible to every user in ps and "
                "kept in shell history): use --token-file FILE, or --token-file - to read standard input");
            break;
        }
        if (i + 1 >= c->argc) {
            ret = usage();
            break;
        }
        const char *v = c->argv[++i];
        const char **list = NULL;
        int *n = NULL;
        if (strcmp(o, "--token-file") == 0) {
            ret = tokens_read(&toks, v);
        } else if (strcmp(o, "--ty") == 0) {
            q.ty = atoi(v);
        } else if (strcmp(o, "--peer") == 0) {
            q.peer = v;
        } else if (strcmp(o, "--rids") == 0) {
            list = az.rids, n = &az.nrids;
        } else if (strcmp(o, "--tids") == 0) {
            list = az.tids, n = &az.ntids;
        } else if (strcmp(o, "--ltids") == 0) {
            list = az.ltids, n = &az.nltids;
        } else {
            ret = usage();
        }
        if (list != NULL) {
            if (*n == REQ_AUTHZ_MAX)
                ret = wardenctl_fail("at most %d values of %s", REQ_AUTHZ_MAX, o);
            else
                list[(*n)++] = v;
        }
    }
    for (int i = 0; i < toks.n; i++)
        az.tkns[az.ntkns++] = toks.text[i];
    if (ret == EXIT_OK)
        ret = explain_run(c, &q, &az);
    tokens_wipe(&toks);
    return ret;
}

static int explain_run(struct ctl *c, struct cse_explain_query *q_, struct cse_authz_params *az_)
{
    struct cse_explain_query q = *q_;
    struct cse_authz_params az = *az_;
    int acop;
    if (!cse_explain_op(q.op, &acop))
        return usage();
    char err[512];
    int ret = EXIT_FAIL;
    if (!c->from_store && explain_server(c, &q, &az, &ret, err, sizeof err))
        return ret;
    if (!c->from_store)
        fprintf(stderr,
                "wardenctl: %s: explained from the store instead, with this command's configuration and "
                "without the server's dynamic authorization state\n",
                err);
    struct log lg;
    log_init(&lg, LOG_ERROR, stderr);
    if (require_store(c) != 0) {
        log_destroy(&lg);
        return EXIT_FAIL;
    }
    struct store *st = store_sqlite_open(c->cfg.store_path, false, 1, err, sizeof err);
    if (st == NULL) {
        log_destroy(&lg);
        return wardenctl_fail("%s", err);
    }
    struct cse cse;
    if (cse_init(&cse, &c->cfg, &lg, st, NULL, err, sizeof err) == 0) {
        char *text = cse_explain(&cse, &q, &az);
        fputs(text, stdout);
        ret = strncmp(text, "PERMIT", 6) == 0 ? EXIT_OK : EXIT_FAIL;
        mem_free(text);
        cse_destroy(&cse);
    } else {
        wardenctl_fail("%s", err);
    }
    st->ops->close(st);
    log_destroy(&lg);
    return ret;
}

int main(int argc, char **argv)
{
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    json_set_alloc_funcs(mem_alloc, mem_free);
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage_on(stdout);
        return EXIT_OK;
    }
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("wardenctl %s\n", WARDEN_VERSION);
        return EXIT_OK;
    }
    char **cargv = mem_calloc((size_t)argc + 1, sizeof *cargv);
    char **wargv = mem_calloc((size_t)argc + 1, sizeof *wargv);
    int cargc, wargc;
    struct ctl c;
    memset(&c, 0, sizeof c);
    config_defaults(&c.cfg);
    int ret;
    char err[512];
    if (split_args(argc, argv, &cargc, cargv, &wargc, wargv) != 0) {
        ret = usage();
        goto out;
    }
    int rc = config_from_args(&c.cfg, cargc, cargv, err, sizeof err);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "wardenctl: %s\n", err);
        ret = rc < 0 ? EXIT_USAGE : EXIT_OK;
        goto out;
    }
    c.idenv.spid = c.cfg.cse_spid;
    c.idenv.cse_id = c.cfg.cse_id;
    c.argc = wargc;
    c.argv = wargv;
    gnutls_global_init();
    if (strcmp(wargv[0], "init") == 0)
        ret = init_cmd(&c);
    else if (strcmp(wargv[0], "psk") == 0)
        ret = psk_cmd(&c);
    else if (strcmp(wargv[0], "cert") == 0)
        ret = cert_cmd(&c);
    else if (strcmp(wargv[0], "ca") == 0)
        ret = ca_cmd(&c);
    else if (strcmp(wargv[0], "audit") == 0 && wargc >= 2 && strcmp(wargv[1], "tail") == 0)
        ret = audit_tail(&c);
    else if (strcmp(wargv[0], "audit") == 0 && wargc >= 2 && strcmp(wargv[1], "verify") == 0)
        ret = audit_verify(&c);
    else if (strcmp(wargv[0], "explain") == 0)
        ret = explain_cmd(&c);
    else if (strcmp(wargv[0], "cse") == 0)
        ret = cse_cmd(&c);
    else if (strcmp(wargv[0], "authz") == 0 || strcmp(wargv[0], "token") == 0)
        ret = wardenctl_authz(&c.cfg, c.argc, c.argv);
    else if (strcmp(wargv[0], "e2e") == 0)
        ret = (ret = wardenctl_e2e(&c.cfg, c.argc, c.argv)) == EXIT_USAGE ? usage() : ret;
    else if (strcmp(wargv[0], "kex") == 0) /* TS-0003 §8.7 as initiator: wardenctl_kex.c */
        ret = (ret = wardenctl_kex(&c.cfg, c.argc, c.argv)) == EXIT_USAGE ? usage() : ret;
    else
        ret = usage();
    gnutls_global_deinit();
out:
    config_free(&c.cfg);
    mem_free(cargv);
    mem_free(wargv);
    return ret;
}
