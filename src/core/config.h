/* config: table-driven configuration (INI file + --section.key=value), one entry per key with its
 * default, bounds and help text (cf. Redis' static_configs[]). */
#ifndef WARDEN_CORE_CONFIG_H
#define WARDEN_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct cse_config {
    /* [cse] */
    char *cse_id;              /* SP-relative CSE-ID, "/id-in" */
    char *cse_rn;              /* CSEBase resourceName */
    char *cse_spid;            /* SP domain without "//" */
    char *cse_type;            /* IN | MN | ASN */
    char *cse_profile;         /* dev | secure */
    char *cse_admin;           /* admin originator */
    long cse_default_lifetime; /* seconds added to now for a resource created without et; 0: never */
    long cse_max_lifetime;     /* the latest et accepted, seconds from now */
    /* [store] */
    char *store_path;
    char *store_url;
    char *store_sync;   /* normal | full */
    long store_readers; /* read-connection pool; 0: http.threads + 2 */
    /* [log], [audit] */
    char *log_level;
    char *log_path;
    char *log_format;
    char *audit_path;
    long audit_window;     /* seconds a run of identical denials from one peer is one line + a count; 0 off */
    long audit_aggregate;  /* runs tracked at once (fixed memory) */
    long audit_peer_lines; /* denial lines per peer and window; 0 = no bound */
    /* [http] */
    char *http_address;
    long http_port;
    long http_threads;
    long http_timeout;
    long http_max_conns;
    long http_max_conns_per_ip;
    long http_header_limit;
    long http_head_timeout;
    /* [https], [https_psk], [tls] */
    char *https_address;
    long https_port;
    char *https_psk_address;
    long https_psk_port;
    char *tls_cert;
    char *tls_key;
    char *tls_ca;
    char *tls_crl;
    /* [mqtt] */
    char *mqtt_address;
    long mqtt_port;
    char *mqtt_client_id;
    long mqtt_tls;
    char *mqtt_ca;
    char *mqtt_cert;
    char *mqtt_key;
    long mqtt_authenticated;
    long mqtt_keepalive;
    /* [coap], [coaps] */
    char *coap_address;
    long coap_port;
    char *coaps_address;
    long coaps_port;
    long coap_block_transfers; /* open block-wise transfers per peer address */
    long coap_block_timeout;   /* ms a block-wise transfer may stay idle */
    /* [limits] */
    char *metrics_address;
    long metrics_port;
    long limits_max_body;
    long limits_policy_cache;
    long limits_fanout_requests;
    long limits_fanout_bytes;
    long limits_fanout_threads;
    long limits_rate;                       /* requests per second per originator; 0: no rate limit */
    long limits_rate_burst;                 /* token bucket capacity */
    long limits_rate_originators;           /* originators tracked at once (bounded memory) */
    long limits_quota_count;                /* resources one originator may hold; 0: no limit */
    long limits_quota_bytes;                /* bytes of representations one originator may hold; 0: no limit */
    long limits_nonblocking_pending;        /* non-blocking requests in progress, all originators */
    long limits_nonblocking_per_originator; /* ... of one originator */
    long limits_nonblocking_bytes;
    long limits_nonblocking_lifetime; /* seconds a <request> resource is kept */
    long limits_polling_queue;        /* requests queued (and delivered unanswered) per polling channel */
    long limits_polling_timeout;      /* ms a long poll of pcu waits */
    long limits_polling_lifetime;     /* s a queued request waits to be polled, a delivered one to be answered */
    /* [notify] */
    char *notify_allow;
    char *notify_deny;
    long notify_timeout;
    long notify_attempts;
    long notify_backoff;
    long notify_queue;
    long notify_parallel;
    long notify_batch_num;    /* largest bn.num (finding 6) */
    long notify_batch_dur;    /* longest bn.dur, seconds */
    long notify_batch_bytes;  /* notifications held by one subscription's batch, bytes */
    long notify_batch_total;  /* notifications held by all batches, bytes */
    long notify_max_subs;     /* subscriptions on one resource (finding 23) */
    long notify_max_targets;  /* notification targets one event can reach (finding 8) */
    char *notify_mqtt_prefix; /* when set, mqtt:// notification topics must start with it (finding 15) */
    char *notify_ca;          /* trust anchors for outbound TLS: notifications and DAS (finding 25) */
    long notify_plain_http;   /* secure profile: 1 allows plain http:// notification targets */
    /* [location] */
    char *location_positions;
    char *types_flex; /* flexContainer definitions beyond the built-in ones (flex_defs.c) */
    char *location_countries;
    /* [authz] */
    char *authz_issuers;
    long authz_token_cache;
    long authz_das_timeout;
    long authz_das_parallel;
    long authz_das_backoff;
    long authz_grant_cache;
    long authz_grant_max;
    /* [registrar], multi-CSE (issue 14): the CSE this one registers to (TS-0001 §10.2.2.6), its own
     * points of access, and forwarding (TS-0004 §7.3.2.6) */
    char *registrar_address; /* URL of the registrar ("https://host:port"); empty: no registrar */
    char *registrar_id;      /* its CSE-ID, "/id-in" */
    char *registrar_rn;      /* its CSEBase resourceName, "cse-in" */
    char *cse_poa;           /* this CSE's points of access, comma-separated URLs, as registered */
    long forward_timeout;    /* milliseconds a forwarded request may take (no rqet): then 5103 */
    long registrar_check;    /* seconds between checks that the registrar still holds our <remoteCSE> */
    /* [escertke] End-to-end certificate-based key establishment (TS-0003 §8.7; e2e/escertke_rx.c) */
    long escertke_enable;    /* 1: answer ESCertKE Messages (NOTIFY sit 6) to the CSEBase */
    long escertke_sessions;  /* exchanges in progress at once (one per originator) */
    long escertke_timeout;   /* seconds between Message 2 and Message 3 before the exchange is dropped */
    long announce_retry_max; /* milliseconds: the longest wait before announcing again to a CSE that did not answer */
    /* [esprim] (e2e/esprim.c): seconds an ESPrim receiver rand object lives */
    long esprim_rand_lifetime;
    /* [escertke] seconds an ESCertKE key is valid; 0: until superseded or revoked (e2e/escertke.h) */
    long escertke_key_lifetime;
};

/* Fill every field with its default. Release with config_free(). */
void config_defaults(struct cse_config *cfg);
void config_free(struct cse_config *cfg);

/* Apply "section.key" = value. Returns 0, or -1 with a message in err (size errlen) naming the key. */
int config_set(struct cse_config *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Read an INI file ([section] then key = value; '#' and ';' start comments). Returns 0 or -1 + err. */
int config_load_file(struct cse_config *cfg, const char *path, char *err, size_t errlen);

/* Apply the command line: --config FILE first (wherever it appears), then every --section.key=value
 * in order (later wins). Returns 0, 1 when --help/--version was handled (caller exits 0), or -1 + err. */
int config_from_args(struct cse_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* Cross-key checks (profile rules, address forms). Returns 0 or -1 + err. */
int config_validate(const struct cse_config *cfg, char *err, size_t errlen);

/* Print every key with its default and help text (for --help). */
void config_print_help(void);

bool config_address_is_loopback(const char *addr);

#endif
