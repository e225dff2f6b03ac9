/* request: the binding-neutral request and response primitives (TS-0004 §7.1) and the
 * security context a binding attaches to every request (ARCHITECTURE.md "seams"). */
#ifndef WARDEN_CORE_REQUEST_H
#define WARDEN_CORE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fantree;

enum cse_op { OP_NONE = 0, OP_CREATE = 1, OP_RETRIEVE = 2, OP_UPDATE = 3, OP_DELETE = 4, OP_NOTIFY = 5 };

/* How the request reached us: which security association (TS-0003 §6, §8.2) it came in on. */
enum sa_kind {
    SA_NONE = 0,    /* plain transport: no security association */
    SA_TLS_PSK,     /* TLS with a provisioned symmetric key */
    SA_TLS_CERT,    /* TLS with a client certificate */
    SA_DTLS_PSK,    /* DTLS with a provisioned symmetric key */
    SA_DTLS_CERT,   /* DTLS with a certificate */
    SA_MQTT_BROKER, /* an MQTT broker connection configured as authenticated */
    SA_INTERNAL,    /* a request the CSE makes itself (fan-out, expiry) */
    SA_ESPRIM,      /* the inner request of an ESPrim object (TS-0003 §8.4): the e2e key is the credential */
};

#define SECCTX_MAX_IDS 4

struct cse_secctx {
    const char *binding; /* "http", "mqtt", "coap" */
    char peer[64];       /* peer address as text ("127.0.0.1", "::1") */
    enum sa_kind sa;
    const char *cred_id;             /* "psk:<KpsaID>" / "cert:<serial>", or NULL outside an SA */
    const char *ids[SECCTX_MAX_IDS]; /* identities bound to the credential, canonical form; none = */
    int nids;                        /* a PSK provisioned to be bound at AE registration */
};

/* Filter criteria (TS-0004 §6.3.5.8 m2m:filterCriteria). Several values of one condition match
 * when any does; different conditions are combined by fo (1 AND, the default; 2 OR). */
#define FC_MAX_TY  16
#define FC_MAX_LBL 16
#define FC_MAX_ATR 16
struct cse_filter {
    int fu; /* 0 absent, 1 discovery, 2 conditional retrieve */
    int ty[FC_MAX_TY];
    int nty;
    const char *lbl[FC_MAX_LBL];
    int nlbl;
    const char *cty[FC_MAX_LBL]; /* contentType: the type/subtype part of a contentInstance's cnf */
    int ncty;
    const char *atr_name[FC_MAX_ATR]; /* attribute filters: short name = value */
    const char *atr_value[FC_MAX_ATR];
    int natr;
    const char *crb, *cra; /* createdBefore / createdAfter (timestamps), NULL when absent */
    const char *ms, *us;   /* modifiedSince / unmodifiedSince */
    const char *exb, *exa; /* expireBefore / expireAfter */
    long sts, stb;         /* stateTagSmaller / stateTagBigger, -1 when absent */
    long sza, szb;         /* sizeAbove / sizeBelow, -1 when absent */
    int fo;                /* filterOperation: 1 AND (default), 2 OR */
    long lim;              /* -1: absent */
    long lvl;              /* -1: absent */
    long ofst;             /* 0 when absent */
};

enum cse_media { MEDIA_NONE = 0, MEDIA_JSON = 1 };

/* The authorization parameters of a request (TS-0004 §7.2.1.1; TS-0003 §7.3, §7.4): Role-IDs,
 * Token-IDs, Local-Token-IDs, tokens (JWS/JWE compact serialisations) and the Token Request
 * Indicator. The texts belong to the binding. */
#define REQ_AUTHZ_MAX 8
struct cse_authz_params {
    const char *rids[REQ_AUTHZ_MAX];
    int nrids;
    const char *tids[REQ_AUTHZ_MAX];
    int ntids;
    const char *ltids[REQ_AUTHZ_MAX];
    int nltids;
    const char *tkns[REQ_AUTHZ_MAX];
    int ntkns;
    bool tqi;
};

struct cse_request {
    enum cse_op op;
    const char *to;  /* target as a oneM2M ID: CSE-relative, SP-relative (/...) or absolute (//...) */
    const char *fr;  /* From; NULL when absent */
    const char *rqi; /* Request Identifier */
    const char *rvi; /* Release Version Indicator; NULL when absent */
    int ty;          /* Resource Type on CREATE, 0 otherwise */
    int rcn;         /* Result Content; -1 = default of the operation */
    int drt;         /* 1 structured (default), 2 unstructured */
    /* Partial retrieve (TS-0004 §7.3.3.x, TS-0009 §6.2.2.2): the attributes asked for by atrl (or
     * the To parameter's '#' fragment); a RETRIEVE's Content may add m2m:atrl */
    const char *atrl[FC_MAX_ATR];
    int natrl;
    /* Request Expiration Timestamp, Result Expiration Timestamp, Operation Execution Time (TS-0004
     * §7.2.1.1, m2m:absRelTimestamp): "YYYYMMDDTHHMMSS" or milliseconds from receipt; NULL absent */
    const char *rqet, *rset, *oet;
    /* Group Request Identifier (TS-0004 §7.3.3.2): a member request of a group request; NULL absent */
    const char *gid;
    struct cse_filter fc;
    struct cse_authz_params az;
    /* The admin API's explain query (exfr, exop, exto, exty; TARGET "<CSEBase>/$explain"). */
    struct {
        const char *fr, *op, *to;
        int ty;
    } ex;
    /* The console's admin queries (TARGET "<CSEBase>/$tree", "$audit"; core/admin.c): adpi parent
     * resourceID and adaft creation sequence to list children after; adfr, adrsn, adsince, aduntil
     * audit record filters (originator, reason, timestamp range, ISO 8601 prefixes). NULL: absent. */
    struct {
        const char *pi, *after, *fr, *rsn, *since, *until;
    } adm;
    enum cse_media media;
    const char *body; /* Content bytes (not NUL-terminated), may be NULL */
    size_t body_len;
    struct cse_secctx sec;
    /* Response Type (TS-0004 §6.3.5.30 m2m:responseTypeInfo): rt 1 nonBlockingRequestSynch, 2
     * nonBlockingRequestAsynch (core/nonblock.c); 0 otherwise (3 blocking, 4 flexBlocking answered
     * blocking). rtu: the notificationURIs of rt 2 separated by '&' (TS-0009 X-M2M-RTU), "" when the
     * list was given empty (no notification), NULL when absent (notify the originator). */
    int rt;
    const char *rtu;
    int fanout_depth; /* nesting of group fan-out that produced this request (0: from a binding) */
    /* Core-internal: the fan-out tree a member request belongs to (core/fanout.c), NULL for a
     * request from a binding */
    struct fantree *fan;
};

/* A response primitive. The body is owned (mem_free), the rest are static or owned as noted. */
struct cse_response {
    int rsc;
    char *body; /* encoded Content (JSON), NULL for none; owned */
    size_t body_len;
    char *location;     /* structured address of a created resource; owned */
    const char *reason; /* machine-readable reason of a denial or error (static string) */
    char *message;      /* human-readable message (owned), sent as m2m:dbg where allowed */
    int cnst;           /* Content Status (TS-0004 §6.3.4.2.44): 1 partial, 0 absent */
    long cnot;          /* Content Offset: where the next page starts when cnst is 1 */
    /* Assigned Token Identifiers (TS-0004 m2m:dynAuthLocalTokenIdAssignments): the Local-Token-IDs
     * given to tokens of this request, as "lti:tkid" pairs joined by '+' (TS-0009 §6.4.18); owned */
    char *ati;
    /* Core-internal: what a DAS answered while this request was parked on the consultation, kept
     * for the request's second decision (owned; freed by response_free) */
    struct das_outcome *das;
    /* Core-internal: the resources on other CSEs retrieved while this request was parked for its
     * hook (core/remote_fetch.c; owned; freed by response_free) */
    struct fetched *fetched;
    /* Set by a parked operation when its commit is done: completes the response (formatting,
     * freeing) on the request's own thread, run by cse_complete(), so the store's single writer
     * thread does nothing but commits. */
    void (*finish)(void *arg, struct cse_response *rsp);
    void *finish_arg;
    /* Core-internal: the body is an aggregated fan-out response (m2m:agr) */
    bool fanout;
};

void request_init(struct cse_request *req);
void filter_init(struct cse_filter *fc);
void response_init(struct cse_response *rsp);
void response_free(struct cse_response *rsp);
struct das_outcome;
void das_outcome_free(struct das_outcome *o); /* core/dynauth.c */
struct fetched;
void fetched_free(struct fetched *f); /* core/remote_fetch.c */
/* The Content a binding sends: the body the operation produced (ownership moves to the caller), or
 * for an error without one {"m2m:dbg": message} (TS-0004 §6.6 debugInfo). NULL for an empty success. */
char *response_take_body(struct cse_response *rsp, size_t *len);
/* Set an error status with a printf-style message (owned copy). Returns rsc. */
int response_error(struct cse_response *rsp, int rsc, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

const char *op_name(enum cse_op op);

#endif
