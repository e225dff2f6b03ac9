/* config: the configuration table and its parsers (see config.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/mem.h"

enum ctype { C_STR, C_LONG };

struct centry {
    const char *name;
    enum ctype type;
    size_t off;
    const char *def;
    long min, max;
    const char *choices; /* "a|b|c" for enumerated strings, NULL otherwise */
    const char *help;
};

#define S(field) C_STR, offsetof(struct cse_config, field)
#define L(field) C_LONG, offsetof(struct cse_config, field)

static const struct centry table[] = {
    {"cse.id", S(cse_id), "/id-in", 0, 0, NULL, "SP-relative CSE-ID of this CSE"},
    {"cse.rn", S(cse_rn), "cse-in", 0, 0, NULL, "resourceName of the CSEBase"},
    {"cse.spid", S(cse_spid), "warden.example.com", 0, 0, NULL, "M2M-SP-ID (domain, without //)"},
    {"cse.type", S(cse_type), "IN", 0, 0, "IN|MN|ASN", "CSE type"},
    {"cse.profile", S(cse_profile), "dev", 0, 0, "dev|secure", "security profile"},
    {"cse.admin", S(cse_admin), "CAdmin", 0, 0, NULL, "admin originator"},
    {"cse.default_lifetime", L(cse_default_lifetime), "0", 0, 3153600000, NULL,
     "seconds from creation to expirationTime when a request gives none; 0: never (99991231T235959)"},
    {"cse.max_lifetime", L(cse_max_lifetime), "3153600000", 1, 3153600000, NULL,
     "latest expirationTime accepted, in seconds from now (later values are clamped)"},
    {"store.path", S(store_path), "data/warden.db", 0, 0, NULL, "SQLite database file"},
    {"store.url", S(store_url), "", 0, 0, NULL, "PostgreSQL URL (not in this build)"},
    {"store.sync", S(store_sync), "normal", 0, 0, "normal|full",
     "normal: acknowledged writes survive a process crash; full: also power loss"},
    {"store.readers", L(store_readers), "0", 0, 1024, NULL,
     "read connections in the pool (0 = http.threads + 2); a request waits for one when all are busy"},
    {"log.level", S(log_level), "info", 0, 0, "error|warn|info|debug", "log verbosity"},
    {"log.format", S(log_format), "text", 0, 0, "text|json",
     "log lines as text, or as JSON objects {\"ts\", \"level\", \"msg\"} for log collectors"},
    {"log.path", S(log_path), "", 0, 0, NULL, "log file (appended to; reopened on SIGHUP); empty = standard error"},
    {"audit.path", S(audit_path), "", 0, 0, NULL, "security audit log (JSON lines); empty = off"},
    /* a client without any credential can cause denials as fast as it can send (7 MB of log in 3.3 s
     * before): identical ones are counted, not written, within a window */
    {"audit.window", L(audit_window), "60", 0, 86400, NULL,
     "seconds during which repeated identical denials from one peer are "
     "counted instead of written, then summed up in one 'repeated' line; 0 = one line each"},
    {"audit.aggregate", L(audit_aggregate), "1024", 1, 1048576, NULL,
     "runs of repeated denials tracked at once (about 400 bytes each); when all are busy the oldest ends early"},
    {"audit.peer_lines", L(audit_peer_lines), "1000", 0, 1000000, NULL,
     "denial lines written per peer address and audit.window (different denials too); beyond, they are counted "
     "in one 'suppressed' line; 0 = no bound"},
    {"http.address", S(http_address), "127.0.0.1", 0, 0, NULL, "plain HTTP listener address"},
    {"http.port", L(http_port), "8080", 0, 65535, NULL, "plain HTTP listener port (0 = off)"},
    {"http.threads", L(http_threads), "0", 0, 256, NULL, "HTTP worker threads (0 = one per CPU)"},
    {"http.timeout", L(http_timeout), "10", 1, 3600, NULL, "seconds an idle connection is kept"},
    {"http.head_timeout", L(http_head_timeout), "15", 1, 3600, NULL,
     "seconds a request head may take in all, however slowly it trickles in"},
    {"http.max_conns", L(http_max_conns), "1024", 1, 65536, NULL,
     "concurrent connections in total; when full, the oldest unfinished request head is closed"},
    {"http.max_conns_per_ip", L(http_max_conns_per_ip), "64", 1, 65536, NULL,
     "concurrent connections per peer (an IPv4 address or an IPv6 /64)"},
    {"http.header_limit", L(http_header_limit), "16384", 4096, 1048576, NULL,
     "bytes of request line and headers per connection"},
    {"https.address", S(https_address), "127.0.0.1", 0, 0, NULL, "HTTPS (certificate) listener address"},
    {"https.port", L(https_port), "0", 0, 65535, NULL,
     "HTTPS listener port for certificate-based security associations (0 = off); needs tls.cert and tls.key"},
    {"https_psk.address", S(https_psk_address), "127.0.0.1", 0, 0, NULL, "HTTPS (TLS-PSK) listener address"},
    {"https_psk.port", L(https_psk_port), "0", 0, 65535, NULL,
     "HTTPS listener port for pre-shared-key security associations (0 = off); keys: wardenctl psk add"},
    {"tls.cert", S(tls_cert), "", 0, 0, NULL, "server certificate (PEM, chain allowed) for the https listener"},
    {"tls.key", S(tls_key), "", 0, 0, NULL, "private key of tls.cert (PEM)"},
    {"tls.ca", S(tls_ca), "", 0, 0, NULL,
     "trust anchors for client certificates (PEM); empty = client certificates are refused"},
    {"tls.crl", S(tls_crl), "", 0, 0, NULL, "certificate revocation lists (PEM), checked with tls.ca"},
    {"mqtt.address", S(mqtt_address), "", 0, 0, NULL, "MQTT broker address (TS-0010); empty = MQTT binding off"},
    {"mqtt.port", L(mqtt_port), "1883", 1, 65535, NULL, "MQTT broker port (8883 for mqtts)"},
    {"mqtt.client_id", S(mqtt_client_id), "", 0, 0, NULL,
     "MQTT ClientId of this CSE; empty = the CSE-ID without its leading '/' (e.g. id-in)"},
    {"mqtt.tls", L(mqtt_tls), "0", 0, 1, NULL, "1: connect to the broker over TLS (mqtts), verified with mqtt.ca"},
    {"mqtt.ca", S(mqtt_ca), "", 0, 0, NULL, "trust anchors (PEM) for the broker's certificate"},
    {"mqtt.cert", S(mqtt_cert), "", 0, 0, NULL, "client certificate (PEM) this CSE presents to the broker"},
    {"mqtt.key", S(mqtt_key), "", 0, 0, NULL, "private key of mqtt.cert"},
    {"mqtt.authenticated", L(mqtt_authenticated), "0", 0, 1, NULL,
     "1: the broker authenticates every client and restricts topics per ClientId (TS-0010 §7.4), so a "
     "request's originator topic level counts as a security association"},
    {"mqtt.keepalive", L(mqtt_keepalive), "30", 5, 3600, NULL, "seconds between MQTT keep-alive pings"},
    {"coap.address", S(coap_address), "127.0.0.1", 0, 0, NULL, "CoAP (UDP) listener address (TS-0008)"},
    {"coap.port", L(coap_port), "0", 0, 65535, NULL, "CoAP listener port (0 = off; 5683 is the standard)"},
    {"coaps.address", S(coaps_address), "127.0.0.1", 0, 0, NULL, "CoAP over DTLS listener address"},
    {"coaps.port", L(coaps_port), "0", 0, 65535, NULL,
     "CoAP over DTLS listener port (0 = off; 5684 is the standard); PSKs from wardenctl, certificates from tls.*"},
    {"coap.block_transfers", L(coap_block_transfers), "4", 1, 64, NULL,
     "open block-wise transfers (Block1 bodies being received, Block2 bodies being sent) per peer address "
     "over CoAP and CoAPS; a new one beyond it replaces that peer's oldest (RFC 7959)"},
    {"coap.block_timeout", L(coap_block_timeout), "30000", 1000, 247000, NULL,
     "milliseconds a block-wise transfer may wait for its next block before it is dropped"},
    {"metrics.address", S(metrics_address), "127.0.0.1", 0, 0, NULL,
     "address of the metrics listener (GET /metrics: Prometheus text; GET /healthz)"},
    {"metrics.port", L(metrics_port), "0", 0, 65535, NULL,
     "port of the metrics listener (0 = off); no authentication: keep it on loopback or a private network"},
    {"limits.max_body", L(limits_max_body), "1048576", 1024, 268435456, NULL, "largest request body in bytes"},
    {"limits.policy_cache", L(limits_policy_cache), "4096", 16, 16777216, NULL,
     "compiled access control policies kept in memory (slots)"},
    {"limits.fanout_requests", L(limits_fanout_requests), "1024", 1, 1000000, NULL,
     "member requests one group request may cause at all nesting levels; beyond, it is answered 4000"},
    {"limits.fanout_bytes", L(limits_fanout_bytes), "4194304", 1024, 268435456, NULL,
     "bytes of aggregated member responses one group request may collect; beyond, it is answered 4000"},
    {"limits.fanout_threads", L(limits_fanout_threads), "2", 1, 256, NULL,
     "group fan-outs worked on at once, each on a thread of its own; more wait their turn, parked"},
    {"limits.rate", L(limits_rate), "0", 0, 10000000, NULL,
     "requests per second one originator may make (token bucket, after authentication, every binding); beyond: "
     "5207 NOT_ACCEPTABLE; 0 = off"},
    {"limits.rate_burst", L(limits_rate_burst), "200", 1, 10000000, NULL,
     "requests one originator may make at once above limits.rate (the bucket's capacity)"},
    {"limits.rate_originators", L(limits_rate_originators), "16384", 64, 16777216, NULL,
     "originators whose request rate is tracked at once (about 150 bytes each); the idlest is forgotten first"},
    {"limits.quota_count", L(limits_quota_count), "1000000", 0, 1000000000000, NULL,
     "resources one originator (AE or CSE, by creator) may hold; beyond: 5207 NOT_ACCEPTABLE; 0 = no limit"},
    {"limits.quota_bytes", L(limits_quota_bytes), "1073741824", 0, 1000000000000000, NULL,
     "bytes of stored representations one originator may hold; beyond: 5207 NOT_ACCEPTABLE; 0 = no limit"},
    {"limits.nonblocking_pending", L(limits_nonblocking_pending), "1024", 1, 1000000, NULL,
     "non-blocking requests (rt 1 and 2) accepted and not yet completed, all originators together; beyond: 5206"},
    {"limits.nonblocking_per_originator", L(limits_nonblocking_per_originator), "32", 1, 1000000, NULL,
     "non-blocking requests of one originator accepted and not yet completed; beyond: 5206"},
    {"limits.nonblocking_bytes", L(limits_nonblocking_bytes), "67108864", 1024, 1073741824, NULL,
     "bytes of request content the non-blocking requests in progress may hold together; beyond: 5206"},
    {"limits.nonblocking_lifetime", L(limits_nonblocking_lifetime), "3600", 10, 31536000, NULL,
     "seconds a <request> resource (the result of a non-blocking request) is kept for its originator to poll"},
    {"limits.polling_queue", L(limits_polling_queue), "64", 1, 100000, NULL,
     "requests queued for one polling channel (and as many delivered but not answered yet); beyond: dropped"},
    {"limits.polling_timeout", L(limits_polling_timeout), "30000", 100, 600000, NULL,
     "milliseconds a long poll of <pollingChannel>/pcu waits for a request before it is answered 4008"},
    {"limits.polling_lifetime", L(limits_polling_lifetime), "600", 1, 86400, NULL,
     "seconds a request waits in a polling channel to be fetched, and then for the AE's answer (else 5103)"},
    {"notify.allow", S(notify_allow), "", 0, 0, NULL,
     "comma-separated CIDR blocks notifications may reach although notify.deny lists them"},
    /* The IANA IPv4 and IPv6 Special-Purpose Address Registries (every entry, 2025; RFC 6890), plus
     * multicast and the deprecated site-local block. Not listed, because the policy judges them by
     * the IPv4 address they carry (notify_http.c embedded_v4): IPv4-mapped ::ffff:0:0/96,
     * IPv4-compatible ::/96, NAT64 64:ff9b::/96 and 6to4 2002::/16. */
    {"notify.deny", S(notify_deny),
     "0.0.0.0/8,10.0.0.0/8,100.64.0.0/10,127.0.0.0/8,169.254.0.0/16,172.16.0.0/12,192.0.0.0/24,192.0.2.0/24,"
     "192.31.196.0/24,192.52.193.0/24,192.88.99.0/24,192.168.0.0/16,192.175.48.0/24,198.18.0.0/15,198.51.100.0/24,"
     "203.0.113.0/24,240.0.0.0/4,255.255.255.255/32,224.0.0.0/4,"
     "::1/128,::/128,64:ff9b:1::/48,100::/64,100:0:0:1::/64,2001::/23,2001::/32,2001:1::1/128,2001:1::2/128,"
     "2001:1::3/128,2001:2::/48,2001:3::/32,2001:4:112::/48,2001:10::/28,2001:20::/28,2001:30::/28,2001:db8::/32,"
     "2620:4f:8000::/48,3fff::/20,5f00::/16,fc00::/7,fe80::/10,fec0::/10,ff00::/8",
     0, 0, NULL,
     "comma-separated CIDR blocks notifications and DAS consultations must not reach (default: every IANA "
     "special-purpose block, IPv4 and IPv6, and multicast; addresses carrying an IPv4 address are judged by it too)"},
    {"notify.timeout", L(notify_timeout), "5000", 100, 600000, NULL, "milliseconds per notification attempt"},
    {"notify.attempts", L(notify_attempts), "3", 1, 20, NULL, "attempts per notification"},
    {"notify.backoff", L(notify_backoff), "1000", 10, 600000, NULL, "milliseconds before the first retry"},
    {"notify.queue", L(notify_queue), "10000", 1, 10000000, NULL, "notifications waiting or in flight"},
    {"notify.parallel", L(notify_parallel), "16", 1, 1024, NULL, "concurrent notification transfers"},
    {"notify.batch_num", L(notify_batch_num), "1000", 1, 1000000, NULL,
     "largest batchNotify num a subscription may ask for (more: 4000)"},
    {"notify.batch_dur", L(notify_batch_dur), "3600", 1, 31536000, NULL,
     "longest batchNotify duration in seconds a subscription may ask for (longer: 4000)"},
    {"notify.batch_bytes", L(notify_batch_bytes), "1048576", 1024, 1073741824, NULL,
     "bytes of notifications one subscription's batch may hold; a batch that would grow beyond is sent at once"},
    {"notify.batch_total", L(notify_batch_total), "67108864", 1024, 68719476736, NULL,
     "bytes of notifications all batches together may hold; beyond, a batch is sent at once"},
    {"notify.max_subs", L(notify_max_subs), "256", 1, 100000, NULL,
     "subscriptions one resource may have (more: 4000 at create)"},
    {"notify.max_targets", L(notify_max_targets), "256", 1, 100000, NULL,
     "notification targets one event may reach: nu entries of all subscriptions of a resource (more: 4000)"},
    {"notify.mqtt_prefix", S(notify_mqtt_prefix), "", 0, 0, NULL,
     "when set, mqtt:// notification topics must start with this prefix; oneM2M request/response topics, "
     "wildcards and $ topics are refused always"},
    {"notify.ca", S(notify_ca), "", 0, 0, NULL,
     "trust anchors (PEM) for outbound TLS (https notifications and DAS); empty = the system's; the secure "
     "profile needs it to reach a DAS"},
    {"notify.plain_http", L(notify_plain_http), "0", 0, 1, NULL,
     "secure profile: 1 allows plain http:// and coap:// notification targets (never a DAS)"},
    /* multi-CSE (issue 14; README "Multi-CSE") */
    {"registrar.address", S(registrar_address), "", 0, 0, NULL,
     "URL of the registrar CSE (https://host:port, mqtts://<the mqtt.address broker>:port or coaps://address:port; "
     "plain http/mqtt/coap only on loopback in the secure profile); empty = no registrar (an IN-CSE)"},
    {"registrar.id", S(registrar_id), "", 0, 0, NULL, "CSE-ID of the registrar (/id-in)"},
    {"registrar.rn", S(registrar_rn), "", 0, 0, NULL, "resourceName of the registrar's CSEBase (cse-in)"},
    {"escertke.enable", L(escertke_enable), "0", 0, 1, NULL,
     "1: answer ESCertKE key establishment (TS-0003 §8.7) with tls.cert, tls.key and tls.ca"},
    {"escertke.sessions", L(escertke_sessions), "64", 1, 65536, NULL,
     "ESCertKE exchanges in progress at once (one per originator); a new one when full evicts the oldest pending"},
    {"escertke.timeout", L(escertke_timeout), "30", 1, 3600, NULL,
     "seconds an ESCertKE exchange waits for its Message 3 before it is dropped"},
    {"escertke.key_lifetime", L(escertke_key_lifetime), "0", 0, 315360000, NULL,
     "seconds an ESCertKE key is valid (0: until the pair's next exchange supersedes it, or it is revoked)"},
    {"registrar.check", L(registrar_check), "60", 1, 86400, NULL,
     "seconds between checks that the registrar still holds this CSE's <remoteCSE> (registered again when not)"},
    {"cse.poa", S(cse_poa), "", 0, 0, NULL,
     "this CSE's points of access, comma-separated URLs, as registered at the registrar (how it reaches us)"},
    {"announce.retry_max", L(announce_retry_max), "60000", 1000, 3600000, NULL,
     "milliseconds: announcement steps to a CSE that does not answer are retried after 1 s, doubling up to this"},
    {"forward.timeout", L(forward_timeout), "5000", 100, 600000, NULL,
     "milliseconds a request forwarded to another CSE may take without a Request Expiration Timestamp; then "
     "5103 TARGET_NOT_REACHABLE"},
    {"esprim.rand_lifetime", L(esprim_rand_lifetime), "3600", 4, 86400, NULL,
     "seconds a receiver rand object of ESPrim lives (TS-0003 §8.4.2); the shared one (esi.esro) is replaced "
     "when half of that has passed"},
    {"location.positions", S(location_positions), "", 0, 0, NULL,
     "file of 'ORIGINATOR LATITUDE LONGITUDE' lines: positions for aclr circles"},
    {"location.countries", S(location_countries), "", 0, 0, NULL,
     "file of 'CIDR,CC' lines: country of a peer address for aclr country codes"},
    {"types.flex", S(types_flex), "", 0, 0, NULL,
     "JSON file of more flexContainer definitions (containerDefinition, root, typed custom attributes)"},
    {"authz.issuers", S(authz_issuers), "", 0, 0, NULL,
     "JSON file of Authorization Authorities (role and token issuers, their JWKs and algorithms)"},
    {"authz.token_cache", L(authz_token_cache), "1024", 1, 1000000, NULL,
     "verified tokens kept with their Local-Token-IDs until they expire"},
    {"authz.das_timeout", L(authz_das_timeout), "1000", 50, 60000, NULL,
     "milliseconds a Dynamic Authorization Server consultation may take in all"},
    {"authz.das_parallel", L(authz_das_parallel), "2", 1, 1024, NULL,
     "consultations in flight at once; beyond, a request is denied at once"},
    {"authz.das_backoff", L(authz_das_backoff), "5000", 0, 3600000, NULL,
     "milliseconds a DAS that failed is not consulted"},
    {"authz.grant_cache", L(authz_grant_cache), "1024", 1, 1000000, NULL,
     "privileges granted by a DAS kept (per originator and resource) until their lifetime ends"},
    {"authz.grant_max", L(authz_grant_max), "3600", 1, 31536000, NULL,
     "seconds a DAS grant is kept at most, whatever lifetime it asks for"},
};

#define NENTRIES (sizeof table / sizeof table[0])

static const struct centry *lookup(const char *name)
{
    for (size_t i = 0; i < NENTRIES; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

static bool choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return true;
        p += len + (bar ? 1 : 0);
    }
    return false;
}

static int apply(struct cse_config *cfg, const struct centry *e, const char *value, char *err, size_t errlen)
{
    char *base = (char *)cfg + e->off;
    if (e->type == C_STR) {
        if (e->choices && !choice_ok(e->choices, value)) {
            snprintf(err, errlen, "%s: '%s' is not one of %s", e->name, value, e->choices);
            return -1;
        }
        char **slot = (char **)(void *)base;
        mem_free(*slot);
        *slot = mem_strdup(value);
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end != '\0' || v < e->min || v > e->max) {
        snprintf(err, errlen, "%s: '%s' is not an integer in [%ld, %ld]", e->name, value, e->min, e->max);
        return -1;
    }
    *(long *)(void *)base = v;
    return 0;
}

void config_defaults(struct cse_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    char err[256];
    for (size_t i = 0; i < NENTRIES; i++)
        (void)apply(cfg, &table[i], table[i].def, err, sizeof err);
}

void config_free(struct cse_config *cfg)
{
    for (size_t i = 0; i < NENTRIES; i++)
        if (table[i].type == C_STR)
            MEM_FREE(*(char **)(void *)((char *)cfg + table[i].off));
}

/* Levenshtein distance between a and b, both at most 63 bytes (longer: a large number). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64];
    if (la >= 64 || lb >= 64)
        return 64;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

/* The configuration key nearest to a mistyped one, if near enough to be what was meant (at most a
 * third of its length changed, and 3 edits), else NULL. */
static const char *nearest_key(const char *key)
{
    const char *best = NULL;
    size_t bd = SIZE_MAX;
    for (size_t i = 0; i < NENTRIES; i++) {
        size_t d = edit_distance(key, table[i].name);
        if (d < bd)
            bd = d, best = table[i].name;
    }
    size_t bound = strlen(key) / 3 < 3 ? strlen(key) / 3 : 3;
    return bd <= (bound ? bound : 1) ? best : NULL;
}

int config_set(struct cse_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    const struct centry *e = lookup(key);
    if (e == NULL) {
        const char *near = nearest_key(key);
        snprintf(err, errlen, "unknown configuration key '%s'%s%s%s", key, near ? " (did you mean '" : "",
                 near ? near : "", near ? "'?)" : "");
        return -1;
    }
    return apply(cfg, e, value, err, errlen);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int config_load_file(struct cse_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open config file '%s': %s", path, strerror(errno));
        return -1;
    }
    char line[4096], section[64] = "";
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (close == NULL || close - s - 1 >= (long)sizeof section) {
                snprintf(err, errlen, "%s:%d: malformed section header", path, lineno);
                rc = -1;
                break;
            }
            *close = '\0';
            snprintf(section, sizeof section, "%s", trim(s + 1));
            continue;
        }
        char *eq = strchr(s, '=');
        if (eq == NULL || section[0] == '\0') {
            snprintf(err, errlen, "%s:%d: expected 'key = value' inside a [section]", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = '\0';
            val++;
        }
        char full[192], sub[256];
        snprintf(full, sizeof full, "%s.%s", section, key);
        if (config_set(cfg, full, val, sub, sizeof sub) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, sub);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

int config_from_args(struct cse_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            config_print_help();
            return 1;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("warden %s\n", WARDEN_VERSION);
            return 1;
        }
        if (strcmp(argv[i], "--config") == 0 || strncmp(argv[i], "--config=", 9) == 0) {
            const char *path = argv[i][8] == '=' ? argv[i] + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (path == NULL) {
                snprintf(err, errlen, "--config needs a file name");
                return -1;
            }
            if (config_load_file(cfg, path, err, errlen) != 0)
                return -1;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0)
            continue;
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) != 0 || eq == NULL) {
            snprintf(err, errlen, "unexpected argument '%s' (expected --section.key=value)", a);
            return -1;
        }
        char key[128];
        size_t kl = (size_t)(eq - a - 2);
        if (kl >= sizeof key) {
            snprintf(err, errlen, "option name too long: '%.40s...'", a);
            return -1;
        }
        memcpy(key, a + 2, kl);
        key[kl] = '\0';
        if (config_set(cfg, key, eq + 1, err, errlen) != 0)
            return -1;
    }
    return 0;
}

bool config_address_is_loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 || strcmp(addr, "localhost") == 0;
}

static bool name_ok(const char *s)
{
    if (*s == '\0' || strlen(s) > 255)
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_' || *s == '.' || *s == '~'))
            return false;
    return true;
}

/* The host of a URL "scheme://host[:port][/...]" into out (brackets of an IPv6 literal removed). */
static bool url_host(const char *url, char *out, size_t len)
{
    const char *p = strstr(url, "://");
    if (p == NULL || p == url)
        return false;
    p += 3;
    const char *end;
    if (*p == '[') {
        end = strchr(++p, ']');
        if (end == NULL)
            return false;
    } else {
        end = p + strcspn(p, ":/?#");
    }
    size_t n = (size_t)(end - p);
    if (n == 0 || n >= len)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* The port of a URL ("scheme://host:port/..."), def when it names none, -1 when malformed. */
static long url_port(const char *url, long def)
{
    const char *p = strstr(url, "://");
    if (p == NULL)
        return -1;
    p += 3;
    p = *p == '[' ? strchr(p, ']') : p + strcspn(p, ":/?#");
    if (p == NULL)
        return -1;
    p += *p == ']';
    if (*p != ':')
        return def;
    char *end;
    long v = strtol(p + 1, &end, 10);
    return end == p + 1 || v < 1 || v > 65535 || (*end != '\0' && *end != '/') ? -1 : v;
}

/* registrar.* and cse.poa (issue 14): a registrar is named completely or not at all, by a URL of a
 * scheme the CSE has a client side for; the secure profile reaches it in plaintext only on loopback. */
static int registrar_validate(const struct cse_config *cfg, char *err, size_t errlen)
{
    const char *a = cfg->registrar_address;
    /* cse.poa: URLs other CSEs can use, whatever the registrar */
    for (const char *p = cfg->cse_poa; *p;) {
        p += strspn(p, ", ");
        size_t n = strcspn(p, ", ");
        char url[512], host[256];
        if (n == 0)
            break;
        if (n >= sizeof url) {
            snprintf(err, errlen, "cse.poa: an entry is longer than %zu characters", sizeof url - 1);
            return -1;
        }
        memcpy(url, p, n);
        url[n] = '\0';
        if (!url_host(url, host, sizeof host)) {
            snprintf(err, errlen, "cse.poa: '%s' is not a URL (https://host:port)", url);
            return -1;
        }
        p += n;
    }
    bool any = a[0] || cfg->registrar_id[0] || cfg->registrar_rn[0];
    if (!any)
        return 0;
    if (!a[0] || cfg->registrar_id[0] != '/' || !name_ok(cfg->registrar_id + 1) || !name_ok(cfg->registrar_rn)) {
        snprintf(err, errlen,
                 "registrar.address, registrar.id (/id-in) and registrar.rn (cse-in) are set together or not at all");
        return -1;
    }
    if (strcmp(cfg->registrar_id, cfg->cse_id) == 0) {
        snprintf(err, errlen, "registrar.id: '%s' is this CSE's own CSE-ID", cfg->registrar_id);
        return -1;
    }
    static const char *const schemes[] = {"https://", "http://", "mqtts://", "mqtt://", "coaps://", "coap://"};
    int k = -1;
    for (int i = 0; i < 6 && k < 0; i++)
        if (strncasecmp(a, schemes[i], strlen(schemes[i])) == 0)
            k = i;
    char host[256];
    if (k < 0 || !url_host(a, host, sizeof host)) {
        snprintf(err, errlen, "registrar.address: '%s' is not an https://, mqtts:// or coaps:// URL", a);
        return -1;
    }
    if (k > 3 && cfg->coap_port == 0 && cfg->coaps_port == 0) {
        /* the CoAP client side runs with the CoAP binding (its thread owns the libcoap context) */
        snprintf(err, errlen,
                 "registrar.address: '%s' needs the CoAP binding (coap.port or coaps.port; coaps.port for the "
                 "registrar to reach this CSE over coaps://)",
                 a);
        return -1;
    }
    if (k == 2 || k == 3) {
        /* TS-0010 §6.3: requests to the registrar leave over the MQTT binding's one broker connection,
         * and the registrar's requests (forwarded to this CSE) are accepted only from a CSE-ID the
         * broker authenticated (TS-0010 §7.2; README "Multi-CSE over MQTT") */
        const char *why = NULL;
        if (cfg->mqtt_address[0] == '\0' || strcasecmp(host, cfg->mqtt_address) != 0 ||
            url_port(a, k == 2 ? 8883 : 1883) != cfg->mqtt_port)
            why = "must name the broker of the MQTT binding (mqtt.address:mqtt.port), over which it is reached";
        else if ((k == 2) != (cfg->mqtt_tls != 0))
            why = k == 2 ? "mqtts:// needs mqtt.tls=1"
                         : "mqtt:// is the plain broker connection: with mqtt.tls=1 use mqtts://";
        else if (!cfg->mqtt_authenticated)
            why = "needs mqtt.authenticated=1 (a broker that authenticates every client and restricts its topics)";
        if (why != NULL) {
            snprintf(err, errlen, "registrar.address: '%s' %s", a, why);
            return -1;
        }
    }
    if (k % 2 == 1 && strcmp(cfg->cse_profile, "secure") == 0 && !config_address_is_loopback(host)) {
        snprintf(err, errlen,
                 "registrar.address: the secure profile reaches a registrar in plaintext only on loopback");
        return -1;
    }
    return 0;
}

int config_validate(const struct cse_config *cfg, char *err, size_t errlen)
{
    if (cfg->cse_id[0] != '/' || !name_ok(cfg->cse_id + 1)) {
        snprintf(err, errlen, "cse.id: '%s' must be '/' followed by one ID segment (e.g. /id-in)", cfg->cse_id);
        return -1;
    }
    if (!name_ok(cfg->cse_rn)) {
        snprintf(err, errlen, "cse.rn: '%s' is not a valid resourceName", cfg->cse_rn);
        return -1;
    }
    /* the HTTP listeners keep "/__warden/" for health and the console (http_reserved.h) */
    if (strncmp(cfg->cse_rn, "__warden", 8) == 0 || strncmp(cfg->cse_id, "/__warden", 9) == 0) {
        snprintf(err, errlen, "cse.rn and cse.id must not begin with '__warden' (a path Warden reserves)");
        return -1;
    }
    if (!name_ok(cfg->cse_spid)) {
        snprintf(err, errlen, "cse.spid: '%s' is not a valid SP domain", cfg->cse_spid);
        return -1;
    }
    if (cfg->cse_admin[0] == '\0') {
        snprintf(err, errlen, "cse.admin must not be empty");
        return -1;
    }
    if (cfg->store_url[0] != '\0') {
        snprintf(err, errlen, "store.url: PostgreSQL is not available in this build; use store.path");
        return -1;
    }
    if (cfg->store_path[0] == '\0') {
        snprintf(err, errlen, "store.path must name the SQLite database file");
        return -1;
    }
    /* TS-0003 §8.7.2.2 step A/B: the terminator's own certificate and the initiators' trust anchors */
    if (cfg->escertke_enable && (!cfg->tls_cert[0] || !cfg->tls_key[0] || !cfg->tls_ca[0])) {
        snprintf(err, errlen,
                 "escertke.enable=1 needs this CSE's certificate and key (tls.cert, tls.key) and the trust anchors "
                 "of the initiators' certificates (tls.ca)");
        return -1;
    }
    /* PRODUCT.md profiles: in the secure profile a plain listener may only serve loopback. */
    const struct {
        const char *key, *what, *address;
        long port;
    } plain[] = {{"http", "HTTP", cfg->http_address, cfg->http_port},
                 {"coap", "CoAP", cfg->coap_address, cfg->coap_port}};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (strcmp(cfg->cse_profile, "secure") == 0 && plain[i].port != 0 &&
            !config_address_is_loopback(plain[i].address)) {
            snprintf(err, errlen, "%s.address: the secure profile refuses plain %s on non-loopback address '%s'",
                     plain[i].key, plain[i].what, plain[i].address);
            return -1;
        }
    if (registrar_validate(cfg, err, errlen) != 0)
        return -1;
    if (cfg->https_port != 0 && (cfg->tls_cert[0] == '\0' || cfg->tls_key[0] == '\0')) {
        snprintf(err, errlen, "https.port: the certificate listener needs tls.cert and tls.key");
        return -1;
    }
    long ports[] = {cfg->http_port, cfg->https_port, cfg->https_psk_port, cfg->metrics_port};
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            if (ports[i] != 0 && ports[i] == ports[j]) {
                snprintf(err, errlen,
                         "http.port, https.port, https_psk.port and metrics.port must differ (%ld used twice)",
                         ports[i]);
                return -1;
            }
    if (cfg->coap_port != 0 && cfg->coap_port == cfg->coaps_port) {
        snprintf(err, errlen, "coap.port and coaps.port must differ");
        return -1;
    }
    return 0;
}

void config_print_help(void)
{
    printf("usage: warden [--config FILE] [--section.key=value ...]\n\nkeys (default):\n");
    for (size_t i = 0; i < NENTRIES; i++)
        printf("  --%s=%s\n      %s%s%s\n", table[i].name, table[i].def, table[i].help,
               table[i].choices ? "; one of " : "", table[i].choices ? table[i].choices : "");
}
