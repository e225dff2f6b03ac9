/* warden-cli: a oneM2M command-line client in the spirit of redis-cli. It fills in the request
 * parameters TS-0009 §6.4 puts in headers (X-M2M-Origin, a random X-M2M-RI, X-M2M-RVI), speaks HTTP,
 * HTTPS with a client certificate (libcurl) and HTTPS with a TLS-PSK (GnuTLS directly: libcurl has no
 * TLS-PSK support), and prints the response status code (TS-0004 §6.6) with its name and the body
 * pretty-printed. Verbs: get, create, update, delete, discover and tree (a bounded walk with
 * rcn=6, TS-0004 §7.5.2 "child resource references").
 *
 * Secret hygiene: the PSK is read from a file or standard input, never from argv, and wiped after the
 * handshake; core dumps are off. Exit status: 0 a response arrived (with --fail: and its RSC is not an
 * error), 1 no response (connection, TLS) or, with --fail, an error RSC, 2 usage. */
#include <curl/curl.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/rsc.h"
#include "encoding/cbor_json.h"
#include "util/mem.h"
#include "warden-cli-kex.h"
#include "warden-cli-esdata.h"
#include "e2e/esprim_client.h"
#include "warden-cli-e2e.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };
enum { PSK_MAX = 64, TREE_DEPTH = 8, TREE_NODES = 1000, BODY_MAX = 64 * 1024 * 1024 };

/* Short names of the creatable types (TS-0004 §8.2.2 / Warden's registry) and their ty values. */
static const struct {
    const char *sn;
    int ty;
} types[] = {{"acp", 1},  {"ae", 2},   {"cnt", 3}, {"cin", 4}, {"grp", 9},
             {"sub", 23}, {"rol", 31}, {"tk", 32}, {"dac", 34}};

struct opts {
    const char *url;              /* scheme://host:port, no trailing '/' */
    const char *origin;           /* X-M2M-Origin */
    const char *rvi;              /* X-M2M-RVI */
    const char *rqet, *rset, *ec; /* X-M2M-RET, X-M2M-RST, X-M2M-EC (TS-0009 §6.4.x); NULL: none */
    const char *cert, *key, *cacert;
    const char *psk_identity, *psk_file;
    bool insecure, fail, cbor, verbose, quiet;
    long timeout;           /* seconds */
    long depth, max_nodes;  /* tree bounds */
    struct cli_esdata *esd; /* ESData options (warden-cli-esdata.c), NULL without them */
    struct cli_e2e e2e;     /* --esprim: the request goes as an ESPrim inner primitive (warden-cli-e2e.c) */
};

struct resp {
    long http; /* HTTP status */
    int rsc;   /* X-M2M-RSC, 0 if absent */
    char ctype[128];
    char *body; /* mem_alloc'd, NUL-terminated */
    size_t len;
};

static void usage(FILE *f)
{
    fputs("usage: warden-cli [options] VERB PATH [ARGS]\n"
          "verbs:\n"
          "  get PATH                      retrieve (a query may follow: 'cse-in/ae1?rcn=4')\n"
          "  create PATH TYPE BODY         TYPE: ae cnt cin acp grp sub rol tk dac, or a number;\n"
          "                                BODY: JSON text, @FILE, or - for standard input; the\n"
          "                                {\"m2m:TYPE\": ...} wrapper is added when missing\n"
          "  update PATH BODY              BODY as for create\n"
          "  delete PATH\n"
          "  discover PATH [FILTER...]     discovery (fu=1), FILTER as key=value, e.g. ty=4 lbl=x\n"
          "  tree PATH                     the resource tree under PATH (rcn=6 walk, bounded)\n"
          "options:\n"
          "  -u, --url URL                 CSE address (default http://127.0.0.1:8080; env WARDEN_URL)\n"
          "  -o, --origin ORIGIN           X-M2M-Origin (default CAdmin; env WARDEN_ORIGIN)\n"
          "  --rvi V                       X-M2M-RVI (default 3)\n"
          "  --rqet T  --rset T  --ec N    Request/Result Expiration Timestamp (YYYYMMDDTHHMMSS or ms)\n"
          "                                and Event Category; with --esprim they go in the inner\n"
          "                                request and are copied to the outer NOTIFY\n"
          "  --cert F --key F              HTTPS client certificate and key (PEM)\n"
          "  --cacert F                    trust anchors for the server certificate (PEM)\n"
          "  -k, --insecure                do not verify the server certificate (never with a PSK)\n"
          "  --psk-identity ID             TLS-PSK identity (KpsaID)\n"
          "  --psk-key-file F              the PSK as hex, or a line IDENTITY:HEX (psktool format);\n"
          "                                '-' = standard input; never on the command line\n"
          "  --cbor                        send and ask for CBOR (printed as JSON)\n"
          "  --esprim KID --esprim-key-file F --esprim-to CSEBASE [--esprim-enc A128GCM|A192GCM|A256GCM]\n"
          "                                end-to-end security (ESPrim, TS-0003 8.4): the request goes\n"
          "                                encrypted to the CSE of CSEBASE (e.g. /id-in/cse-in) under\n"
          "                                the pairwise key KID (hex in F, '-' = stdin); the outer\n"
          "                                NOTIFY is sent as -o, the inner request as --esprim-from ID;\n"
          "                                --esprim-esro PATH: take the receiver's shared rand object from\n"
          "                                PATH's esi (its <remoteCSE> here) instead of asking for one\n"
          "  --fail                        exit status 1 when the RSC is an error (4xxx, 5xxx, 6xxx)\n"
          "  --depth N  --max N            tree: levels below PATH (default 3, at most 8) and\n"
          "                                resources shown (default 200, at most 1000)\n"
          "  -t, --timeout S               seconds per request (default 10)\n"
          "  -v, --verbose                 print the request line and headers on standard error\n"
          "  -q, --quiet                   no status line\n"
          "  -h, --help   --version\n"
          "output: the status line ('2000 OK') on standard error, the body (pretty JSON) on standard output.\n"
          "exit status: 0 a response arrived, 1 none (or an error RSC with --fail), 2 usage\n",
          f);
    fputs(cli_esdata_usage, f);
}

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("warden-cli: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_FAIL;
}

static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

/* A request identifier unique enough to find the exchange in the server log and audit. */
static void make_ri(char *out, size_t n)
{
    unsigned char r[8] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        memset(r, 0x5a, sizeof r);
    snprintf(out, n, "cli-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
}

/* Whole file (or stdin for "-") into a mem_alloc'd NUL-terminated buffer; NULL after a message. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fail("%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *b = mem_alloc(cap);
    size_t r;
    while ((r = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) {
            if (cap >= BODY_MAX) {
                fail("%s: larger than %d bytes", path, BODY_MAX);
                n = 0;
                mem_free(b);
                b = NULL;
                break;
            }
            cap *= 2;
            b = mem_realloc(b, cap);
        }
    }
    if (f != stdin)
        fclose(f);
    if (b) {
        b[n] = '\0';
        *len = n;
    }
    return b;
}

/* ---- HTTP message building, shared by both transports ------------------------------------------ */

struct req {
    const char *method;
    char target[4096]; /* "/cse-in/ae1?rcn=4" */
    int ty;            /* 0: none */
    const unsigned char *body;
    size_t blen;
    const char *rqet, *rset, *ec; /* this request's timing/category headers (NULL: none) */
};

/* Header lines (without CRLF) every request carries: TS-0009 §6.4.1-§6.4.3. */
static int header_lines(const struct opts *o, const struct req *rq, char lines[9][160])
{
    char ri[40];
    make_ri(ri, sizeof ri);
    int n = 0;
    snprintf(lines[n++], 160, "X-M2M-Origin: %s", o->origin);
    snprintf(lines[n++], 160, "X-M2M-RI: %s", ri);
    snprintf(lines[n++], 160, "X-M2M-RVI: %s", o->rvi);
    const char *media = o->cbor ? "application/cbor" : "application/json";
    snprintf(lines[n++], 160, "Accept: %s", media);
    if (rq->body) {
        if (rq->ty)
            snprintf(lines[n++], 160, "Content-Type: %s;ty=%d", media, rq->ty);
        else
            snprintf(lines[n++], 160, "Content-Type: %s", media);
    }
    if (rq->rqet)
        snprintf(lines[n++], 160, "X-M2M-RET: %.120s", rq->rqet);
    if (rq->rset)
        snprintf(lines[n++], 160, "X-M2M-RST: %.120s", rq->rset);
    if (rq->ec)
        snprintf(lines[n++], 160, "X-M2M-EC: %.120s", rq->ec);
    return n;
}

static void parse_header(struct resp *rs, const char *line, size_t len)
{
    char h[512];
    if (len >= sizeof h)
        return;
    memcpy(h, line, len);
    h[len] = '\0';
    while (len > 0 && (h[len - 1] == '\r' || h[len - 1] == '\n'))
        h[--len] = '\0';
    if (strncasecmp(h, "X-M2M-RSC:", 10) == 0)
        rs->rsc = atoi(h + 10);
    else if (strncasecmp(h, "Content-Type:", 13) == 0) {
        const char *v = h + 13;
        while (*v == ' ')
            v++;
        snprintf(rs->ctype, sizeof rs->ctype, "%.127s", v);
    }
}

/* ---- libcurl transport: HTTP and HTTPS with certificates ---------------------------------------- */

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    struct resp *rs = ud;
    size_t n = sz * nm;
    if (rs->len + n > BODY_MAX)
        return 0;
    rs->body = mem_realloc(rs->body, rs->len + n + 1);
    memcpy(rs->body + rs->len, p, n);
    rs->len += n;
    rs->body[rs->len] = '\0';
    return n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    parse_header(ud, p, sz * nm);
    return sz * nm;
}

static int curl_exchange(const struct opts *o, const struct req *rq, struct resp *rs)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return fail("cannot initialise libcurl");
    char url[8192], lines[9][160];
    snprintf(url, sizeof url, "%s%s", o->url, rq->target);
    struct curl_slist *hl = NULL;
    int n = header_lines(o, rq, lines);
    for (int i = 0; i < n; i++)
        hl = curl_slist_append(hl, lines[i]);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, o->timeout);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, rs);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, rs);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (rq->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->blen);
    }
    if (o->cert)
        curl_easy_setopt(c, CURLOPT_SSLCERT, o->cert);
    if (o->key)
        curl_easy_setopt(c, CURLOPT_SSLKEY, o->key);
    if (o->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
    if (o->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (o->verbose) {
        fprintf(stderr, "> %s %s\n", rq->method, url);
        for (int i = 0; i < n; i++)
            fprintf(stderr, "> %s\n", lines[i]);
    }
    CURLcode cc = curl_easy_perform(c);
    int ret = EXIT_OK;
    if (cc != CURLE_OK)
        ret = fail("%s: %s", url, curl_easy_strerror(cc));
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->http);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return ret;
}

/* ---- GnuTLS transport: HTTPS with a TLS-PSK (TS-0003 §8.2.2.1, RFC 4279) ------------------------- */

struct psk {
    char identity[256];
    unsigned char key[PSK_MAX];
    size_t keylen;
};

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The key file holds the key as hex, or "IDENTITY:HEX" (psktool's format). 0, or 1 after a message. */
static int psk_load(const struct opts *o, struct psk *p)
{
    size_t len = 0;
    char *text = slurp(o->psk_file, &len);
    if (text == NULL)
        return EXIT_FAIL;
    char *line = text, *nl = strpbrk(text, "\r\n");
    if (nl)
        *nl = '\0';
    char *hex = line, *colon = strrchr(line, ':');
    int ret = EXIT_OK;
    if (colon) {
        *colon = '\0';
        hex = colon + 1;
        snprintf(p->identity, sizeof p->identity, "%s", line);
    }
    if (o->psk_identity)
        snprintf(p->identity, sizeof p->identity, "%s", o->psk_identity);
    size_t hl = strlen(hex);
    p->keylen = hl / 2;
    if (p->identity[0] == '\0')
        ret = fail("no PSK identity: give --psk-identity or write IDENTITY:HEX in %s", o->psk_file);
    else if (hl == 0 || hl % 2 || p->keylen > PSK_MAX)
        ret = fail("%s: the PSK must be 1 to %d bytes in hex", o->psk_file, PSK_MAX);
    for (size_t i = 0; ret == EXIT_OK && i < p->keylen; i++) {
        int a = hexval(hex[2 * i]), b = hexval(hex[2 * i + 1]);
        if (a < 0 || b < 0)
            ret = fail("%s: the PSK is not hex", o->psk_file);
        else
            p->key[i] = (unsigned char)(a << 4 | b);
    }
    wipe(text, len);
    mem_free(text);
    return ret;
}

/* host and port of an https:// URL. 0, or 1 after a message. */
static int split_url(const char *url, char *host, size_t hn, char *port, size_t pn)
{
    if (strncmp(url, "https://", 8) != 0)
        return fail("a TLS-PSK needs an https:// URL (--url https://HOST:PORT), not '%s'", url);
    const char *h = url + 8, *end;
    if (*h == '[') {
        end = strchr(h, ']');
        if (end == NULL)
            return fail("bad URL '%s'", url);
        snprintf(host, hn, "%.*s", (int)(end - h - 1), h + 1);
        end++;
    } else {
        end = h + strcspn(h, ":/");
        snprintf(host, hn, "%.*s", (int)(end - h), h);
    }
    snprintf(port, pn, "%s", *end == ':' ? end + 1 : "443");
    port[strcspn(port, "/")] = '\0';
    return EXIT_OK;
}

static int tcp_connect(const char *host, const char *port, long timeout)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fail("%s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {.tv_sec = timeout};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        fail("cannot connect to %s port %s: %s", host, port, strerror(saved));
    return fd;
}

static int tls_write_all(gnutls_session_t s, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = gnutls_record_send(s, c, n);
        if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
            continue;
        if (w < 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Parse a complete HTTP/1.1 response (read until the server closed): status line, headers, a body
 * by Content-Length, chunked, or up to the end. 0, or 1 after a message. */
static int parse_http(char *raw, size_t len, struct resp *rs)
{
    char *eoh = memmem(raw, len, "\r\n\r\n", 4);
    if (eoh == NULL || strncmp(raw, "HTTP/1.", 7) != 0)
        return fail("the server's answer is not an HTTP response");
    rs->http = strtol(raw + 9, NULL, 10);
    bool chunked = false;
    long clen = -1;
    for (char *l = strstr(raw, "\r\n") + 2; l < eoh; l = strstr(l, "\r\n") + 2) {
        char *e = strstr(l, "\r\n");
        parse_header(rs, l, (size_t)(e - l));
        if (strncasecmp(l, "Content-Length:", 15) == 0)
            clen = strtol(l + 15, NULL, 10);
        if (strncasecmp(l, "Transfer-Encoding:", 18) == 0 && strstr(l, "chunked"))
            chunked = true;
    }
    char *b = eoh + 4, *end = raw + len;
    rs->body = mem_alloc((size_t)(end - b) + 1);
    if (chunked) {
        while (b < end) {
            char *stop;
            unsigned long n = strtoul(b, &stop, 16);
            char *data = strstr(stop, "\r\n");
            if (data == NULL || n == 0 || (size_t)(end - data - 2) < n)
                break;
            memcpy(rs->body + rs->len, data + 2, n);
            rs->len += n;
            b = data + 2 + n + 2;
        }
    } else {
        size_t n = (size_t)(end - b);
        if (clen >= 0 && (size_t)clen < n)
            n = (size_t)clen;
        memcpy(rs->body, b, n);
        rs->len = n;
    }
    rs->body[rs->len] = '\0';
    return EXIT_OK;
}

static int psk_exchange(const struct opts *o, const struct req *rq, struct resp *rs)
{
    char host[256], port[16];
    if (split_url(o->url, host, sizeof host, port, sizeof port) != EXIT_OK)
        return EXIT_FAIL;
    struct psk p = {0};
    if (psk_load(o, &p) != EXIT_OK) {
        wipe(&p, sizeof p);
        return EXIT_FAIL;
    }
    int ret = EXIT_FAIL, fd = -1, rc;
    gnutls_session_t s = NULL;
    gnutls_psk_client_credentials_t cred = NULL;
    char *raw = NULL;
    size_t rlen = 0;
    gnutls_datum_t key = {p.key, (unsigned)p.keylen};
    if (gnutls_psk_allocate_client_credentials(&cred) < 0 ||
        gnutls_psk_set_client_credentials(cred, p.identity, &key, GNUTLS_PSK_KEY_RAW) < 0) {
        fail("cannot set up the PSK credentials");
        goto out;
    }
    wipe(&p, sizeof p); /* GnuTLS holds its own copy now */
    if ((fd = tcp_connect(host, port, o->timeout)) < 0)
        goto out;
    /* the suites Warden's https_psk listener offers (TS-0003 §10.2.2): (EC)DHE-PSK first, then PSK */
    if (gnutls_init(&s, GNUTLS_CLIENT) < 0 ||
        gnutls_priority_set_direct(s, "NORMAL:-KX-ALL:+ECDHE-PSK:+DHE-PSK:+PSK", NULL) < 0 ||
        gnutls_credentials_set(s, GNUTLS_CRD_PSK, cred) < 0) {
        fail("cannot set up the TLS session");
        goto out;
    }
    gnutls_transport_set_int(s, fd);
    gnutls_handshake_set_timeout(s, (unsigned)o->timeout * 1000);
    do
        rc = gnutls_handshake(s);
    while (rc < 0 && !gnutls_error_is_fatal(rc));
    if (rc < 0) {
        fail("TLS-PSK handshake with %s port %s failed: %s (an unknown or revoked identity, or another key?)", host,
             port, gnutls_strerror(rc));
        goto out;
    }
    char head[8192], lines[9][160];
    int n = header_lines(o, rq, lines), off;
    off = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n", rq->method, rq->target,
                   host, port);
    for (int i = 0; i < n; i++)
        off += snprintf(head + off, sizeof head - (size_t)off, "%s\r\n", lines[i]);
    off += snprintf(head + off, sizeof head - (size_t)off, "Content-Length: %zu\r\n\r\n", rq->blen);
    if (o->verbose)
        fprintf(stderr, "%.*s", off, head);
    if (tls_write_all(s, head, (size_t)off) != 0 || (rq->blen && tls_write_all(s, rq->body, rq->blen) != 0)) {
        fail("cannot send the request");
        goto out;
    }
    for (;;) {
        char chunk[16384];
        ssize_t r = gnutls_record_recv(s, chunk, sizeof chunk);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
            continue;
        if (r <= 0)
            break; /* end, close_notify or a premature end: parse what arrived */
        if (rlen + (size_t)r > BODY_MAX) {
            fail("response larger than %d bytes", BODY_MAX);
            goto out;
        }
        raw = mem_realloc(raw, rlen + (size_t)r + 1);
        memcpy(raw + rlen, chunk, (size_t)r);
        rlen += (size_t)r;
        raw[rlen] = '\0';
    }
    if (raw == NULL) {
        fail("no response from %s port %s", host, port);
        goto out;
    }
    ret = parse_http(raw, rlen, rs);
out:
    wipe(&p, sizeof p);
    mem_free(raw);
    if (s) {
        gnutls_bye(s, GNUTLS_SHUT_WR);
        gnutls_deinit(s);
    }
    if (fd >= 0)
        close(fd);
    if (cred)
        gnutls_psk_free_client_credentials(cred);
    return ret;
}

/* ---- requests and printing ---------------------------------------------------------------------- */

static int plain_exchange(const struct opts *o, const struct req *rq, struct resp *rs)
{
    memset(rs, 0, sizeof *rs);
    return o->psk_file ? psk_exchange(o, rq, rs) : curl_exchange(o, rq, rs);
}

struct e2e_ctx {
    const struct opts *o;
    long http; /* the HTTP status of the last outer exchange */
};

/* warden-cli-e2e.c's transport: one NOTIFY (a POST without ty) over this client's connection. */
static int e2e_post(void *ctx, const char *target, const struct esprim_outer *outer, const char *body, size_t len,
                    int *rsc, char **rbody, size_t *rlen)
{
    struct e2e_ctx *x = ctx;
    struct req rq = {.method = body ? "POST" : "GET", .body = (const unsigned char *)body, .blen = len};
    if (outer != NULL) { /* TS-0001 Table 11.4.2-1: copied from the inner request primitive */
        rq.rqet = outer->rqet[0] ? outer->rqet : NULL;
        rq.rset = outer->rset[0] ? outer->rset : NULL;
        rq.ec = outer->ec[0] ? outer->ec : NULL;
    }
    snprintf(rq.target, sizeof rq.target, "%s", target);
    struct resp rs;
    int ret = plain_exchange(x->o, &rq, &rs);
    x->http = rs.http;
    *rsc = rs.rsc;
    *rbody = rs.body;
    *rlen = rs.len;
    return ret;
}

static int exchange(const struct opts *o, const struct req *rq0, struct resp *rs)
{
    memset(rs, 0, sizeof *rs);
    struct req copy = *rq0, *rq = &copy;
    copy.rqet = o->rqet;
    copy.rset = o->rset;
    copy.ec = o->ec;
    if (o->e2e.kid == NULL)
        return plain_exchange(o, rq, rs);
    struct e2e_ctx x = {.o = o};
    int ret = cli_e2e_request(&o->e2e, o->origin, o->rvi, rq->method, rq->target, rq->ty, rq->body, rq->blen, e2e_post,
                              &x, &rs->rsc, &rs->body, &rs->len);
    rs->http = x.http; /* the outer NOTIFY's: the inner status is the RSC */
    snprintf(rs->ctype, sizeof rs->ctype, "application/json");
    return ret;
}

static void resp_free(struct resp *rs)
{
    MEM_FREE(rs->body);
}

/* The body as JSON (CBOR converted); NULL when empty or not JSON. */
static json_t *resp_json(const struct resp *rs)
{
    if (rs->len == 0)
        return NULL;
    if (strstr(rs->ctype, "cbor")) {
        char *txt = NULL, err[128];
        size_t tl = 0;
        if (cborjson_to_json((const unsigned char *)rs->body, rs->len, &txt, &tl, err, sizeof err) != 0)
            return NULL;
        json_t *j = json_loadb(txt, tl, 0, NULL);
        mem_free(txt);
        return j;
    }
    return json_loadb(rs->body, rs->len, 0, NULL);
}

static bool rsc_error(int rsc)
{
    return rsc >= 4000 || rsc == 0;
}

static void print_status(const struct opts *o, const struct resp *rs)
{
    if (o->quiet)
        return;
    if (rs->rsc)
        fprintf(stderr, "%d %s (HTTP %ld)\n", rs->rsc, rsc_name(rs->rsc), rs->http);
    else
        fprintf(stderr, "no X-M2M-RSC (HTTP %ld)\n", rs->http);
}

static void print_body(const struct resp *rs)
{
    json_t *j = resp_json(rs);
    if (j) {
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(j);
    } else if (rs->len) {
        fwrite(rs->body, 1, rs->len, stdout);
        if (rs->body[rs->len - 1] != '\n')
            putchar('\n');
    }
    fflush(stdout);
}

/* "cse-in/ae1", "/cse-in/ae1" -> "/cse-in/ae1" (+ extra query). 0, or 2 after a message. */
static int set_target(struct req *rq, const char *path, const char *query)
{
    const char *p = path[0] == '/' ? path + 1 : path;
    const char *sep = query && *query ? (strchr(p, '?') ? "&" : "?") : "";
    int n = snprintf(rq->target, sizeof rq->target, "/%s%s%s", p, sep, query ? query : "");
    if (n < 0 || (size_t)n >= sizeof rq->target) {
        fprintf(stderr, "warden-cli: path too long\n");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int type_number(const char *t, const char **sn)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i].sn, t) == 0 || atoi(t) == types[i].ty) {
            *sn = types[i].sn;
            return types[i].ty;
        }
    char *end;
    long v = strtol(t, &end, 10);
    *sn = NULL;
    return *end == '\0' && v > 0 && v < 100000 ? (int)v : -1;
}

/* BODY argument -> bytes to send (JSON, or CBOR with --cbor), wrapped in {"m2m:SN": ...} when SN is
 * known and the object has no "m2m:" key. *out mem_alloc'd. 0, or 1/2 after a message. */
static int make_body(const struct opts *o, const char *arg, const char *sn, unsigned char **out, size_t *olen)
{
    size_t len = 0;
    char *text = NULL;
    if (arg[0] == '@' || strcmp(arg, "-") == 0)
        text = slurp(arg[0] == '@' ? arg + 1 : "-", &len);
    else
        text = mem_strdup(arg);
    if (text == NULL)
        return EXIT_FAIL;
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    mem_free(text);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        fprintf(stderr, "warden-cli: the body is not a JSON object: %s (line %d)\n", j ? "" : je.text, je.line);
        return EXIT_USAGE;
    }
    const char *k0 = json_object_iter(j) ? json_object_iter_key(json_object_iter(j)) : "";
    if (sn && !(json_object_size(j) == 1 && strncmp(k0, "m2m:", 4) == 0)) {
        char key[16];
        snprintf(key, sizeof key, "m2m:%s", sn);
        j = json_pack("{s:o}", key, j);
    }
    int pr = cli_esdata_protect(o->esd, j);
    if (pr != EXIT_OK) {
        json_decref(j);
        return pr;
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (s == NULL)
        return fail("out of memory");
    int ret = EXIT_OK;
    if (o->cbor) {
        char err[128];
        if (cborjson_from_json(s, strlen(s), out, olen, err, sizeof err) != 0)
            ret = fail("cannot encode CBOR: %s", err);
    } else {
        *out = (unsigned char *)mem_strdup(s);
        *olen = strlen(s);
    }
    free(s);
    return ret;
}

/* ---- tree --------------------------------------------------------------------------------------- */

struct walk {
    const struct opts *o;
    long shown;
    bool truncated;
    int worst; /* first error RSC met */
};

static const char *type_name(long ty)
{
    if (ty == 5)
        return "cb";
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].ty == ty)
            return types[i].sn;
    return "?";
}

/* Children of one resource through rcn=6 (child resource references): an m2m:rrl of {nm, typ, val}.
 * prefix: the tree drawing so far. */
static void walk(struct walk *w, const char *path, const char *prefix, long level)
{
    struct req rq = {.method = "GET"};
    char q[64];
    /* lim: one more than can still be shown, so that a cut is known (TS-0004 §7.5.2, filter lim) */
    /* lvl=1: the children only (rcn 6 lists descendants too, TS-0001 §8.1.2) */
    snprintf(q, sizeof q, "rcn=6&lvl=1&lim=%ld", w->o->max_nodes - w->shown + 1);
    if (set_target(&rq, path, q) != EXIT_OK)
        return;
    struct resp rs;
    if (exchange(w->o, &rq, &rs) != EXIT_OK) {
        w->worst = w->worst ? w->worst : RSC_TARGET_NOT_REACHABLE;
        return;
    }
    if (rsc_error(rs.rsc)) {
        printf("%s(%d %s)\n", prefix, rs.rsc, rsc_name(rs.rsc));
        if (!w->worst)
            w->worst = rs.rsc;
        resp_free(&rs);
        return;
    }
    json_t *j = resp_json(&rs);
    json_t *rrf = json_object_get(json_object_get(j, "m2m:rrl"), "rrf");
    size_t n = json_array_size(rrf);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(rrf, i);
        if (w->shown >= w->o->max_nodes) {
            w->truncated = true;
            break;
        }
        bool last = i + 1 == n;
        const char *nm = json_string_value(json_object_get(e, "nm"));
        const char *val = json_string_value(json_object_get(e, "val"));
        long ty = (long)json_integer_value(json_object_get(e, "typ"));
        printf("%s%s %s [%s]\n", prefix, last ? "└──" : "├──", nm ? nm : "?", type_name(ty));
        w->shown++;
        if (val && level + 1 < w->o->depth && ty != 4) {
            char sub[1024];
            snprintf(sub, sizeof sub, "%s%s", prefix, last ? "    " : "│   ");
            walk(w, val, sub, level + 1);
        } else if (val && ty != 4 && level + 1 >= w->o->depth) {
            w->truncated = true;
        }
    }
    json_decref(j);
    resp_free(&rs);
}

static int tree_cmd(const struct opts *o, const char *path)
{
    struct walk w = {.o = o};
    const char *p = path[0] == '/' ? path + 1 : path;
    printf("%s\n", p);
    walk(&w, p, "", 0);
    if (w.truncated && !o->quiet)
        fprintf(stderr, "(cut at --depth %ld / --max %ld: walk a subtree, or use discover)\n", o->depth, o->max_nodes);
    fflush(stdout);
    if (w.worst == RSC_TARGET_NOT_REACHABLE)
        return EXIT_FAIL;
    return o->fail && w.worst ? EXIT_FAIL : EXIT_OK;
}

/* ---- main --------------------------------------------------------------------------------------- */

static int one_request(const struct opts *o, struct req *rq)
{
    struct resp rs;
    int ret = exchange(o, rq, &rs);
    if (ret == EXIT_OK && cli_esdata_opening(o->esd) && !rsc_error(rs.rsc)) {
        print_status(o, &rs);
        json_t *j = resp_json(&rs);
        ret = cli_esdata_open(o->esd, j, o->quiet);
        char *s = ret == EXIT_OK ? json_dumps(j, JSON_INDENT(2)) : NULL;
        if (s)
            printf("%s\n", s);
        mem_free(s);
        json_decref(j);
    } else if (ret == EXIT_OK) {
        print_status(o, &rs);
        print_body(&rs);
        if (o->fail && rsc_error(rs.rsc))
            ret = EXIT_FAIL;
    }
    resp_free(&rs);
    return ret;
}

static long num_arg(const char *v, long lo, long hi, const char *name)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end || n < lo || n > hi) {
        fprintf(stderr, "warden-cli: %s must be an integer in [%ld, %ld]\n", name, lo, hi);
        exit(EXIT_USAGE);
    }
    return n;
}

int main(int argc, char **argv)
{
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (argc > 1 && strcmp(argv[1], "kex") == 0) /* TS-0003 §8.7 ESCertKE: tools/warden-cli-kex.c */
        return warden_cli_kex(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "esprim-rx") == 0) /* an AE's ESPrim receiver (warden-cli-esprim-rx.c) */
        return warden_cli_esprim_rx(argc - 1, argv + 1);
    struct opts o = {.url = getenv("WARDEN_URL") ? getenv("WARDEN_URL") : "http://127.0.0.1:8080",
                     .origin = getenv("WARDEN_ORIGIN") ? getenv("WARDEN_ORIGIN") : "CAdmin",
                     .rvi = "3",
                     .timeout = 10,
                     .depth = 3,
                     .max_nodes = 200};
    struct esprim_client *e2e_session = NULL; /* --esprim: one session for the whole run */
    o.e2e.session = &e2e_session;
    char *pos[64];
    int npos = 0, esd_rc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define ARG(name)                                                                                                      \
    (strcmp(a, name) == 0 &&                                                                                           \
     (i + 1 < argc || (fprintf(stderr, "warden-cli: %s needs a value\n", a), exit(EXIT_USAGE), 0)))
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("warden-cli %s\n", WARDEN_VERSION);
            return EXIT_OK;
        } else if (ARG("-u") || ARG("--url")) {
            o.url = argv[++i];
        } else if (ARG("-o") || ARG("--origin")) {
            o.origin = argv[++i];
        } else if (ARG("--rvi")) {
            o.rvi = argv[++i];
        } else if (ARG("--rqet")) {
            o.rqet = o.e2e.rqet = argv[++i];
        } else if (ARG("--rset")) {
            o.rset = o.e2e.rset = argv[++i];
        } else if (ARG("--ec")) {
            o.ec = o.e2e.ec = argv[++i];
        } else if (ARG("--cert")) {
            o.cert = argv[++i];
        } else if (ARG("--key")) {
            o.key = argv[++i];
        } else if (ARG("--cacert")) {
            o.cacert = argv[++i];
        } else if (ARG("--psk-identity")) {
            o.psk_identity = argv[++i];
        } else if (ARG("--psk-key-file")) {
            o.psk_file = argv[++i];
        } else if (ARG("--esprim")) {
            o.e2e.kid = argv[++i];
        } else if (ARG("--esprim-key-file")) {
            o.e2e.key_file = argv[++i];
        } else if (ARG("--esprim-to")) {
            o.e2e.to = argv[++i];
        } else if (ARG("--esprim-esro")) {
            o.e2e.esro_path = argv[++i];
        } else if (ARG("--esprim-from")) {
            o.e2e.from = argv[++i];
        } else if (ARG("--esprim-enc")) {
            o.e2e.enc = argv[++i];
        } else if (ARG("-t") || ARG("--timeout")) {
            o.timeout = num_arg(argv[++i], 1, 3600, "--timeout");
        } else if (ARG("--depth")) {
            o.depth = num_arg(argv[++i], 1, TREE_DEPTH, "--depth");
        } else if (ARG("--max")) {
            o.max_nodes = num_arg(argv[++i], 1, TREE_NODES, "--max");
        } else if (strcmp(a, "-k") == 0 || strcmp(a, "--insecure") == 0) {
            o.insecure = true;
        } else if (strcmp(a, "--fail") == 0) {
            o.fail = true;
        } else if (strcmp(a, "--cbor") == 0) {
            o.cbor = true;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            o.verbose = true;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o.quiet = true;
        } else if ((esd_rc = cli_esdata_option(&o.esd, argc, argv, &i)) != 0) {
            if (esd_rc < 0)
                goto usage_exit; /* o.esd may hold ESData options */
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "warden-cli: unknown option '%s' (see --help)\n", a);
            goto usage_exit; /* o.esd may hold ESData options */
        } else if (npos < (int)(sizeof pos / sizeof pos[0])) {
            pos[npos++] = argv[i];
        }
#undef ARG
    }
    if (npos < 2) {
        usage(stderr);
        goto usage_exit; /* o.esd may hold ESData options */
    }
    if (o.psk_identity && !o.psk_file) {
        fprintf(stderr, "warden-cli: --psk-identity needs --psk-key-file (the key is never taken from argv)\n");
        goto usage_exit; /* o.esd may hold ESData options */
    }
    if (o.psk_file && (o.cert || o.insecure)) {
        fprintf(stderr, "warden-cli: a TLS-PSK excludes --cert and --insecure\n");
        goto usage_exit; /* o.esd may hold ESData options */
    }
    size_t ul = strlen(o.url);
    char url[1024];
    snprintf(url, sizeof url, "%.*s", (int)(ul && o.url[ul - 1] == '/' ? ul - 1 : ul), o.url);
    o.url = url;
    json_set_alloc_funcs(mem_alloc, mem_free);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gnutls_global_init();

    const char *verb = pos[0], *path = pos[1];
    struct req rq = {0};
    unsigned char *body = NULL;
    int ret = EXIT_USAGE;
    if (strcmp(verb, "get") == 0 && npos == 2) {
        rq.method = "GET";
        ret = set_target(&rq, path, NULL) != EXIT_OK ? EXIT_USAGE : one_request(&o, &rq);
    } else if (strcmp(verb, "delete") == 0 && npos == 2) {
        rq.method = "DELETE";
        ret = set_target(&rq, path, NULL) != EXIT_OK ? EXIT_USAGE : one_request(&o, &rq);
    } else if (strcmp(verb, "create") == 0 && npos == 4) {
        const char *sn = NULL;
        rq.method = "POST";
        if ((rq.ty = type_number(pos[2], &sn)) < 0) {
            fprintf(stderr, "warden-cli: unknown type '%s' (ae cnt cin acp grp sub rol tk dac, or a number)\n", pos[2]);
        } else if ((ret = set_target(&rq, path, NULL)) == EXIT_OK &&
                   (ret = make_body(&o, pos[3], sn, &body, &rq.blen)) == EXIT_OK) {
            rq.body = body;
            ret = one_request(&o, &rq);
        }
    } else if (strcmp(verb, "update") == 0 && npos == 3) {
        rq.method = "PUT";
        if ((ret = set_target(&rq, path, NULL)) == EXIT_OK &&
            (ret = make_body(&o, pos[2], NULL, &body, &rq.blen)) == EXIT_OK) {
            rq.body = body;
            ret = one_request(&o, &rq);
        }
    } else if (strcmp(verb, "discover") == 0) {
        char q[2048] = "fu=1";
        size_t off = strlen(q);
        for (int i = 2; i < npos && off < sizeof q; i++)
            off += (size_t)snprintf(q + off, sizeof q - off, "&%s", pos[i]);
        rq.method = "GET";
        if (off >= sizeof q)
            fprintf(stderr, "warden-cli: filter too long\n");
        else
            ret = set_target(&rq, path, q) != EXIT_OK ? EXIT_USAGE : one_request(&o, &rq);
    } else if (strcmp(verb, "tree") == 0 && npos == 2) {
        ret = tree_cmd(&o, path);
    } else {
        usage(stderr);
    }
    mem_free(body);
    cli_esdata_free(o.esd);
    esprim_client_free(e2e_session);
    gnutls_global_deinit();
    curl_global_cleanup();
    return ret;
usage_exit:
    cli_esdata_free(o.esd);
    return EXIT_USAGE;
}
