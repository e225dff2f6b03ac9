/* warden-coap: a CoAP client (libcoap) that knows the oneM2M options of TS-0008 Table 6.2.2.4.0-1,
 * for tests, benchmarks and people. UDP, DTLS with a PSK (key from a file or stdin, never argv),
 * DTLS with a certificate; block-wise transfer; JSON and CBOR. Prints the response in a stable,
 * line-oriented form (see usage()). */
#include <coap3/coap.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#undef LOG_INFO
#undef LOG_DEBUG

#include "bindings/coap/coap_map.h"
#include "bindings/coap/coap_optfilter.h"
#include "encoding/cbor_json.h"
#include "util/mem.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
    fputs("usage: warden-coap [options] METHOD URI\n"
          "  METHOD  GET | POST | PUT | DELETE (oneM2M: POST with --ty = CREATE, without = NOTIFY)\n"
          "  URI     coap://HOST[:PORT]/PATH[?QUERY] or coaps://... (DTLS; needs --psk-* or --cert/--key)\n"
          "          PATH: cse-in/ae1 (CSE-relative), ~/id-in/cse-in (SP-relative), _/SPID/id-in/... (absolute)\n"
          "options:\n"
          "  --fr ID            oneM2M-FR (279)          --rqi ID    oneM2M-RQI (283, default: generated)\n"
          "  --rvi V            oneM2M-RVI (271, default 3; --rvi '' omits it)\n"
          "  --ty N             oneM2M-TY (267, uint)\n"
          "  --data TEXT        payload                  --data-file FILE  payload from FILE\n"
          "  --cf json|cbor|N   Content-Format of the payload (json = 10001, cbor = 10010; JSON --data is\n"
          "                     converted to CBOR when cbor); default 10001 when there is a payload\n"
          "  --accept json|cbor|N  Accept option\n"
          "  --opt NUM=TEXT | NUM#UINT | NUM%HEX   any extra option (repeatable; for tests)\n"
          "  --psk-identity ID  DTLS-PSK identity (a KpsaID)\n"
          "  --psk-key-file F   file holding the PSK as hex ('-' = stdin)\n"
          "  --cert F --key F   DTLS client certificate and key (PEM)   --ca F  trust anchors for the server\n"
          "  --priority P       GnuTLS priority string for the DTLS session, e.g.\n"
          "                     NORMAL:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CCM-8 (applied after the first\n"
          "                     ClientHello: the hello the server's cookie exchange asks for carries it)\n"
          "  --repeat N         send the request N times on one session (default 1)\n"
          "  --interval MS      pause between the repeated requests (default 0)\n"
          "  --block N          preferred block size 16..1024 (default 1024)\n"
          "  --block1 NUM:M:SZX send the payload as it is in one request with this Block1 option, libcoap's\n"
          "                     block-wise sending off (repeatable: with --repeat, request I takes the I-th;\n"
          "                     for tests of the server's reassembly, RFC 7959)\n"
          "  --non              send a NON request (default CON)\n"
          "  --timeout S        seconds to wait for the response (default 10)\n"
          "output (stdout), one item per line, in this order (with --repeat: 'request I' first, per request;\n"
          "  a request without a response prints 'error TEXT' and ends the run):\n"
          "  code C.DD                         CoAP response code, e.g. code 2.01\n"
          "  option NUM NAME VALUE             every response option in order; uint options (oneM2M-RSC,\n"
          "                                    -TY, -CTS, -CTO, -EC, Content-Format, ...) in decimal, others\n"
          "                                    as text (bytes outside printable ASCII as \\xHH)\n"
          "  rsc N / rqi TEXT                  oneM2M-RSC and oneM2M-RQI again (absent when not in the response)\n"
          "  payload TEXT                      the payload on one line (CBOR shown as JSON; empty when none)\n"
          "  cipher NAME                       DTLS only: the negotiated GnuTLS cipher suite (after the payload)\n"
          "exit status: 0 a response arrived, 1 no response (timeout, DTLS handshake refused), 2 usage\n",
          f);
}

struct opt {
    uint16_t num;
    uint8_t val[1024];
    size_t len;
};

struct client {
    bool done, failed, closed;
    const char *why;
    coap_pdu_code_t code;
    int nopts;
    coap_session_t *session;
    bool secure;
    bool running; /* between the first request and the end of the last */
};

/* The negotiated DTLS cipher suite (GnuTLS name). */
static void print_cipher(coap_session_t *session)
{
    coap_tls_library_t lib;
    gnutls_session_t g = session ? coap_session_get_tls(session, &lib) : NULL;
    if (g == NULL || lib != COAP_TLS_LIBRARY_GNUTLS)
        return;
    const char *name = gnutls_cipher_suite_get_name(gnutls_kx_get(g), gnutls_cipher_get(g), gnutls_mac_get(g));
    printf("cipher %s\n", name ? name : "?");
}

static const char *std_name(unsigned num)
{
    switch (num) {
    case 4: return "ETag";
    case 8: return "Location-Path";
    case 12: return "Content-Format";
    case 14: return "Max-Age";
    case 20: return "Location-Query";
    case 23: return "Block2";
    case 27: return "Block1";
    case 28: return "Size2";
    case 60: return "Size1";
    default: return NULL;
    }
}

static void print_text(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            putchar(p[i]);
        else
            printf("\\x%02x", p[i]);
    }
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
                                   const coap_mid_t mid)
{
    (void)sent, (void)mid;
    struct client *c = coap_get_app_data(coap_session_get_context(session));
    if (c->done)
        return COAP_RESPONSE_OK;
    coap_pdu_code_t code = coap_pdu_get_code(received);
    if (code == 0) /* empty ACK of a separate response */
        return COAP_RESPONSE_OK;
    c->done = true;
    printf("code %u.%02u\n", (unsigned)code >> 5, (unsigned)code & 0x1f);
    coap_opt_iterator_t it;
    coap_opt_t *o;
    long rsc = -1;
    char rqi[300] = "";
    unsigned cf = 0;
    coap_option_iterator_init(received, &it, COAP_OPT_ALL);
    while ((o = coap_option_next(&it)) != NULL) {
        unsigned num = it.number;
        const char *name = coap_option_name(num);
        if (name == NULL)
            name = std_name(num);
        printf("option %u %s ", num, name ? name : "-");
        const uint8_t *v = coap_opt_value(o);
        size_t len = coap_opt_length(o);
        uint32_t u = 0;
        if ((coap_option_is_uint(num) || num == 14 || num == 28 || num == 60 || num == 23 || num == 27) &&
            coap_uint_decode(v, len, &u)) {
            printf("%u\n", u);
            if (num == COAPM_OPT_RSC)
                rsc = u;
            if (num == COAPM_OPT_CONTENT_FORMAT)
                cf = u;
        } else {
            print_text(v, len);
            putchar('\n');
            if (num == COAPM_OPT_RQI && len < sizeof rqi) {
                memcpy(rqi, v, len);
                rqi[len] = '\0';
            }
        }
    }
    if (rsc >= 0)
        printf("rsc %ld\n", rsc);
    if (rqi[0])
        printf("rqi %s\n", rqi);
    size_t len = 0, off = 0, total = 0;
    const uint8_t *data = NULL;
    if (!coap_get_data_large(received, &len, &data, &off, &total))
        len = 0;
    fputs("payload ", stdout);
    if (len && (cf == COAPM_CF_CBOR || cf == COAPM_CF_RES_CBOR || cf == COAPM_CF_NTFY_CBOR)) {
        char *json = NULL, err[128];
        size_t jl = 0;
        if (cborjson_to_json(data, len, &json, &jl, err, sizeof err) == 0) {
            fwrite(json, 1, jl, stdout);
            mem_free(json);
        } else {
            print_text(data, len);
        }
    } else if (len) {
        print_text(data, len);
    }
    putchar('\n');
    if (c->secure)
        print_cipher(session);
    fflush(stdout);
    return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid)
{
    (void)sent, (void)mid;
    struct client *c = coap_get_app_data(coap_session_get_context(session));
    if (c->done)
        return;
    c->done = c->failed = true;
    c->why = reason == COAP_NACK_TLS_FAILED ? "DTLS handshake failed" : "no response (retransmissions exhausted)";
}

static int on_event(coap_session_t *session, const coap_event_t event)
{
    struct client *c = coap_get_app_data(coap_session_get_context(session));
    if (event == COAP_EVENT_DTLS_ERROR || event == COAP_EVENT_DTLS_CLOSED || event == COAP_EVENT_SESSION_CLOSED) {
        if (!c->closed && c->running && c->done && !c->failed) {
            printf("closed\n"); /* the server ended the session after answering */
            fflush(stdout);
        }
        c->closed = true;
    }
    if (!c->done && (event == COAP_EVENT_DTLS_ERROR || event == COAP_EVENT_DTLS_CLOSED)) {
        c->done = c->failed = true;
        c->why = "DTLS handshake failed or the session was closed";
    }
    return 0;
}

static int parse_cf(const char *s)
{
    if (strcasecmp(s, "json") == 0)
        return COAPM_CF_RES_JSON;
    if (strcasecmp(s, "cbor") == 0)
        return COAPM_CF_RES_CBOR;
    char *end;
    long v = strtol(s, &end, 10);
    return *end || v < 0 || v > 65535 ? -1 : (int)v;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n < 2) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (f != stdin)
        fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

static int add_extra(coap_optlist_t **ol, const char *spec)
{
    const char *sep = strpbrk(spec, "=#%");
    if (sep == NULL)
        return -1;
    long num = strtol(spec, NULL, 10);
    if (num <= 0 || num > 65535)
        return -1;
    uint8_t buf[1024];
    size_t len = 0;
    const char *v = sep + 1;
    if (*sep == '=') {
        len = strlen(v);
        if (len > sizeof buf)
            return -1;
        memcpy(buf, v, len);
    } else if (*sep == '#') {
        char *end;
        unsigned long u = strtoul(v, &end, 10);
        if (*end || u > 0xffffffffUL)
            return -1;
        len = coap_uint_encode((uint32_t)u, buf);
    } else {
        size_t hl = strlen(v);
        if (hl % 2 || hl / 2 > sizeof buf)
            return -1;
        for (size_t i = 0; i < hl / 2; i++) {
            unsigned x;
            if (sscanf(v + 2 * i, "%2x", &x) != 1)
                return -1;
            buf[len++] = (uint8_t)x;
        }
    }
    coap_insert_optlist(ol, coap_new_optlist((uint16_t)num, len, buf));
    return 0;
}

int main(int argc, char **argv)
{
    const char *fr = NULL, *rqi = NULL, *rvi = "3", *data = NULL, *data_file = NULL, *psk_id = NULL, *psk_file = NULL,
               *cert = NULL, *key = NULL, *ca = NULL, *priority = NULL;
    const char *extras[64];
    int nextra = 0, cf = -1, accept = -1, timeout = 10, repeat = 1, interval = 0;
    long ty = -1, block = 1024;
    uint32_t block1[16]; /* explicit Block1 option values (--block1) */
    int nblock1 = 0;
    bool non = false;
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v != NULL && (++i, true))
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("warden-coap %s\n", WARDEN_VERSION);
            return 0;
        } else if (ARG("--fr")) {
            fr = v;
        } else if (ARG("--rqi")) {
            rqi = v;
        } else if (ARG("--rvi")) {
            rvi = v;
        } else if (ARG("--ty")) {
            ty = strtol(v, NULL, 10);
        } else if (ARG("--data")) {
            data = v;
        } else if (ARG("--data-file")) {
            data_file = v;
        } else if (ARG("--cf")) {
            if ((cf = parse_cf(v)) < 0)
                goto bad;
        } else if (ARG("--accept")) {
            if ((accept = parse_cf(v)) < 0)
                goto bad;
        } else if (ARG("--opt")) {
            coap_optlist_t *check = NULL;
            int bad_opt = add_extra(&check, v);
            coap_delete_optlist(check);
            if (bad_opt != 0) {
                fprintf(stderr, "warden-coap: bad --opt %s\n", v);
                return 2;
            }
            if (nextra == 64)
                goto bad;
            extras[nextra++] = v;
        } else if (ARG("--psk-identity")) {
            psk_id = v;
        } else if (ARG("--psk-key-file")) {
            psk_file = v;
        } else if (ARG("--cert")) {
            cert = v;
        } else if (ARG("--key")) {
            key = v;
        } else if (ARG("--ca")) {
            ca = v;
        } else if (ARG("--priority")) {
            priority = v;
        } else if (ARG("--block1")) {
            unsigned long num, m, szx;
            char tail;
            if (nblock1 == 16 || sscanf(v, "%lu:%lu:%lu%c", &num, &m, &szx, &tail) != 3 || num >= (1ul << 20) ||
                m > 1 || szx > 7)
                goto bad;
            block1[nblock1++] = (uint32_t)(num << 4 | m << 3 | szx);
        } else if (ARG("--repeat")) {
            repeat = atoi(v);
            if (repeat < 1 || repeat > 1000)
                goto bad;
        } else if (ARG("--interval")) {
            interval = atoi(v);
            if (interval < 0)
                goto bad;
        } else if (ARG("--block")) {
            block = strtol(v, NULL, 10);
        } else if (ARG("--timeout")) {
            timeout = atoi(v);
        } else if (strcmp(a, "--non") == 0) {
            non = true;
        } else if (a[0] == '-' && a[1] == '-') {
            goto bad;
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            goto bad;
        }
#undef ARG
    }
    if (npos != 2)
        goto bad;
    coap_pdu_code_t method;
    if (strcasecmp(pos[0], "GET") == 0)
        method = COAP_REQUEST_CODE_GET;
    else if (strcasecmp(pos[0], "POST") == 0)
        method = COAP_REQUEST_CODE_POST;
    else if (strcasecmp(pos[0], "PUT") == 0)
        method = COAP_REQUEST_CODE_PUT;
    else if (strcasecmp(pos[0], "DELETE") == 0)
        method = COAP_REQUEST_CODE_DELETE;
    else
        goto bad;

    coap_startup();
    coap_set_log_level(getenv("WARDEN_COAP_DEBUG") ? 7 : LOG_EMERG);
    coap_dtls_set_log_level(LOG_EMERG);
    coap_uri_t uri;
    if (coap_split_uri((const uint8_t *)pos[1], strlen(pos[1]), &uri) < 0) {
        fprintf(stderr, "warden-coap: cannot parse URI %s\n", pos[1]);
        return 2;
    }
    bool secure = uri.scheme == COAP_URI_SCHEME_COAPS;
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)uri.host.length, (const char *)uri.host.s);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *ai = NULL;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0 || ai == NULL) {
        fprintf(stderr, "warden-coap: cannot resolve %s\n", host);
        return 1;
    }
    coap_address_t dst;
    coap_address_init(&dst);
    dst.size = ai->ai_addrlen;
    memcpy(&dst.addr, ai->ai_addr, ai->ai_addrlen);
    if (dst.addr.sa.sa_family == AF_INET)
        dst.addr.sin.sin_port = htons(uri.port);
    else
        dst.addr.sin6.sin6_port = htons(uri.port);
    freeaddrinfo(ai);

    /* payload */
    size_t plen = 0;
    char *payload = NULL;
    if (data_file) {
        if ((payload = read_all(data_file, &plen)) == NULL) {
            fprintf(stderr, "warden-coap: cannot read %s\n", data_file);
            return 2;
        }
    } else if (data) {
        payload = strdup(data);
        plen = strlen(data);
    }
    if (payload && cf < 0)
        cf = COAPM_CF_RES_JSON;
    if (payload && (cf == COAPM_CF_RES_CBOR || cf == COAPM_CF_CBOR || cf == COAPM_CF_NTFY_CBOR) && plen &&
        (payload[0] == '{' || payload[0] == '[')) {
        unsigned char *cb = NULL;
        size_t cl = 0;
        char err[128];
        if (cborjson_from_json(payload, plen, &cb, &cl, err, sizeof err) == 0) {
            free(payload);
            payload = malloc(cl ? cl : 1);
            memcpy(payload, cb, cl);
            plen = cl;
            mem_free(cb);
        }
    }

    struct client c = {0};
    coap_context_t *ctx = coap_new_context(NULL);
    if (ctx == NULL)
        return 1;
    coap_set_app_data(ctx, &c);
    /* with --block1 the blocks are the caller's: libcoap must not split or reassemble anything */
    coap_context_set_block_mode(ctx, nblock1 ? 0 : COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
    coap_optfilter_register(ctx);
    coap_register_response_handler(ctx, on_response);
    coap_register_nack_handler(ctx, on_nack);
    coap_register_event_handler(ctx, on_event);

    coap_session_t *session = NULL;
    unsigned char pskkey[64];
    if (secure && psk_id) {
        size_t kl = 0;
        char *hex = psk_file ? read_all(psk_file, &kl) : NULL;
        if (hex == NULL) {
            fprintf(stderr, "warden-coap: --psk-key-file is required with --psk-identity\n");
            return 2;
        }
        size_t n = 0;
        for (size_t i = 0; hex[i] && n < sizeof pskkey;) {
            if (hex[i] == ' ' || hex[i] == '\n' || hex[i] == '\r' || hex[i] == '\t') {
                i++;
                continue;
            }
            unsigned x;
            if (sscanf(hex + i, "%2x", &x) != 1) {
                fprintf(stderr, "warden-coap: the PSK key file must hold hex\n");
                return 2;
            }
            pskkey[n++] = (unsigned char)x;
            i += 2;
        }
        memset(hex, 0, kl);
        free(hex);
        coap_dtls_cpsk_t setup;
        memset(&setup, 0, sizeof setup);
        setup.version = COAP_DTLS_CPSK_SETUP_VERSION;
        setup.psk_info.identity.s = (const uint8_t *)psk_id;
        setup.psk_info.identity.length = strlen(psk_id);
        setup.psk_info.key.s = pskkey;
        setup.psk_info.key.length = n;
        session = coap_new_client_session_psk2(ctx, NULL, &dst, COAP_PROTO_DTLS, &setup);
    } else if (secure) {
        coap_dtls_pki_t pki;
        memset(&pki, 0, sizeof pki);
        pki.version = COAP_DTLS_PKI_SETUP_VERSION;
        pki.verify_peer_cert = ca != NULL;
        pki.check_common_ca = ca != NULL;
        pki.cert_chain_validation = 1;
        pki.cert_chain_verify_depth = 3;
        pki.allow_no_crl = 1;
        pki.pki_key.key_type = COAP_PKI_KEY_PEM;
        pki.pki_key.key.pem.public_cert = cert;
        pki.pki_key.key.pem.private_key = key;
        pki.pki_key.key.pem.ca_file = ca;
        session = coap_new_client_session_pki(ctx, NULL, &dst, COAP_PROTO_DTLS, &pki);
    } else {
        session = coap_new_client_session(ctx, NULL, &dst, COAP_PROTO_UDP);
    }
    memset(pskkey, 0, sizeof pskkey);
    if (session == NULL) {
        fprintf(stderr, "warden-coap: cannot create the session\n");
        return 1;
    }
    if (secure && priority) {
        /* libcoap fixes the priority of its sessions; the ClientHello that answers the server's
         * cookie (HelloVerifyRequest) is built from the session's priority when it is sent */
        coap_tls_library_t lib;
        gnutls_session_t g = coap_session_get_tls(session, &lib);
        const char *perr = NULL;
        if (g == NULL || lib != COAP_TLS_LIBRARY_GNUTLS || gnutls_priority_set_direct(g, priority, &perr) < 0) {
            fprintf(stderr, "warden-coap: cannot apply --priority %s%s%s\n", priority, perr ? " at " : "",
                    perr ? perr : "");
            return 2;
        }
    }
    c.session = session;
    c.secure = secure;
    int rc = 0;
    c.running = true;
    for (int iter = 0; iter < repeat; iter++) {
        if (iter > 0) {
            /* keep the session serviced during the pause */
            for (int64_t end = now_ms() + interval, left; (left = end - now_ms()) > 0;) {
                coap_io_process(ctx, (unsigned)(left < 100 ? left : 100));
            }
        }
        if (repeat > 1) {
            printf("request %d\n", iter + 1);
            fflush(stdout);
        }
        c.done = c.failed = false;
        c.why = NULL;
        coap_pdu_t *pdu = coap_pdu_init(non ? COAP_MESSAGE_NON : COAP_MESSAGE_CON, method, coap_new_message_id(session),
                                        coap_session_max_pdu_size(session));
        uint8_t tok[8];
        size_t toklen = 0;
        coap_session_new_token(session, &toklen, tok);
        coap_add_token(pdu, toklen, tok);
        coap_optlist_t *ol = NULL;
        const uint8_t *p = uri.path.s, *end = uri.path.s + uri.path.length;
        while (p && p < end) {
            const uint8_t *s = memchr(p, '/', (size_t)(end - p));
            size_t l = s ? (size_t)(s - p) : (size_t)(end - p);
            coap_insert_optlist(&ol, coap_new_optlist(COAP_OPTION_URI_PATH, l, p));
            p += l + 1;
        }
        p = uri.query.s, end = uri.query.s + uri.query.length;
        while (p && p < end) {
            const uint8_t *s = memchr(p, '&', (size_t)(end - p));
            size_t l = s ? (size_t)(s - p) : (size_t)(end - p);
            if (l)
                coap_insert_optlist(&ol, coap_new_optlist(COAP_OPTION_URI_QUERY, l, p));
            p += l + 1;
        }
        uint8_t ub[4];
        char rqibuf[48];
        const char *this_rqi = rqi;
        if (rqi == NULL) {
            if (repeat > 1)
                snprintf(rqibuf, sizeof rqibuf, "wc-%ld-%ld-%d", (long)getpid(), (long)time(NULL), iter + 1);
            else
                snprintf(rqibuf, sizeof rqibuf, "wc-%ld-%ld", (long)getpid(), (long)time(NULL));
            this_rqi = rqibuf;
        }
        if (fr)
            coap_insert_optlist(&ol, coap_new_optlist(COAPM_OPT_FR, strlen(fr), (const uint8_t *)fr));
        if (this_rqi[0])
            coap_insert_optlist(&ol, coap_new_optlist(COAPM_OPT_RQI, strlen(this_rqi), (const uint8_t *)this_rqi));
        if (rvi[0])
            coap_insert_optlist(&ol, coap_new_optlist(COAPM_OPT_RVI, strlen(rvi), (const uint8_t *)rvi));
        if (ty >= 0)
            coap_insert_optlist(&ol, coap_new_optlist(COAPM_OPT_TY, coap_uint_encode((uint32_t)ty, ub), ub));
        if (payload && cf >= 0)
            coap_insert_optlist(&ol,
                                coap_new_optlist(COAP_OPTION_CONTENT_FORMAT, coap_uint_encode((uint32_t)cf, ub), ub));
        if (accept >= 0)
            coap_insert_optlist(&ol, coap_new_optlist(COAP_OPTION_ACCEPT, coap_uint_encode((uint32_t)accept, ub), ub));
        for (int i = 0; i < nextra; i++)
            (void)add_extra(&ol, extras[i]); /* checked with the arguments */
        if (block >= 16 && block <= 1024) {
            /* ask for blocks of the preferred size (Block2 with num 0) when not the default */
            if (block != 1024 && method == COAP_REQUEST_CODE_GET) {
                unsigned szx = 0;
                while ((16u << szx) < (unsigned)block && szx < 6)
                    szx++;
                coap_insert_optlist(&ol, coap_new_optlist(COAP_OPTION_BLOCK2, coap_uint_encode(szx, ub), ub));
            }
        }
        if (nblock1) {
            uint32_t b1 = block1[iter < nblock1 ? iter : nblock1 - 1];
            coap_insert_optlist(&ol, coap_new_optlist(COAP_OPTION_BLOCK1, coap_uint_encode(b1, ub), ub));
        }
        coap_add_optlist_pdu(pdu, &ol);
        coap_delete_optlist(ol);
        if (payload && plen && nblock1)
            coap_add_data(pdu, plen, (const uint8_t *)payload);
        else if (payload && plen)
            coap_add_data_large_request(session, pdu, plen, (const uint8_t *)payload, NULL, NULL);
        if (coap_send(session, pdu) == COAP_INVALID_MID) {
            fprintf(stderr, "warden-coap: cannot send the request\n");
            rc = 1;
            break;
        }
        /* the deadline in real time: coap_io_process() returns at once while blocks flow, so
         * counting its calls would give up in the middle of a long block-wise transfer */
        int64_t deadline = now_ms() + (int64_t)timeout * 1000;
        while (!c.done && now_ms() < deadline)
            coap_io_process(ctx, 100);
        if (!c.done || c.failed) {
            const char *why = c.done ? c.why : "timeout: no response";
            fprintf(stderr, "warden-coap: %s\n", why);
            if (repeat > 1) {
                printf("error %s\n", why);
                fflush(stdout);
            }
            rc = 1;
            break;
        }
    }
    if (repeat > 1 && !c.closed)
        coap_io_process(ctx, 200); /* a close that follows the last response */
    c.running = false;
    coap_session_release(session);
    coap_free_context(ctx);
    coap_cleanup();
    free(payload);
    return rc;
bad:
    usage(stderr);
    return 2;
}
