/* escertke_msg: m2m:seci sit 6 encoding and decoding (see escertke_msg.h). */
#include "e2e/escertke_msg.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "encoding/json.h"
#include "util/mem.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

long escertke_b64_decode(const char *in, size_t len, unsigned char *out, size_t max)
{
    if (len % 4 != 0)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            char c = in[i + j];
            if (c == '=' && last && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad || (v[j] = b64val(c)) < 0) /* '=' only at the end; nothing after it */
                return -1;
        }
        if (pad == 1 && (v[2] & 0x3)) /* non-zero pad bits: not the canonical encoding */
            return -1;
        if (pad == 2 && (v[1] & 0xf))
            return -1;
        size_t bytes = 3 - (size_t)pad;
        if (n + bytes > max)
            return -1;
        unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        out[n++] = (unsigned char)(w >> 16);
        if (bytes > 1)
            out[n++] = (unsigned char)(w >> 8);
        if (bytes > 2)
            out[n++] = (unsigned char)w;
    }
    return (long)n;
}

static size_t encode(const char *alpha, bool padding, const unsigned char *in, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        size_t left = len - i;
        unsigned w = (unsigned)in[i] << 16 | (left > 1 ? (unsigned)in[i + 1] << 8 : 0) | (left > 2 ? in[i + 2] : 0);
        out[n++] = alpha[w >> 18 & 63];
        out[n++] = alpha[w >> 12 & 63];
        if (left > 1)
            out[n++] = alpha[w >> 6 & 63];
        else if (padding)
            out[n++] = '=';
        if (left > 2)
            out[n++] = alpha[w & 63];
        else if (padding)
            out[n++] = '=';
    }
    out[n] = '\0';
    return n;
}

size_t escertke_b64_encode(const unsigned char *in, size_t len, char *out)
{
    return encode(b64, true, in, len, out);
}

size_t escertke_b64url_encode(const unsigned char *in, size_t len, char *out)
{
    return encode(b64url, false, in, len, out);
}

int escertke_seci_decode(const char *body, size_t len, unsigned char **msg, size_t *mlen, char *err, size_t errlen)
{
    *msg = NULL;
    *mlen = 0;
    /* not JSON text naming m2m:seci: not ours (a notification, which ops_notify checks itself) */
    if (body == NULL || len == 0 || memmem(body, len, "\"m2m:seci\"", 10) == NULL)
        return 0;
    json_t *root = json_decode_body(body, len, err, errlen);
    if (root == NULL)
        return 0;
    const json_t *seci = json_object_get(root, "m2m:seci");
    const json_t *sit = json_object_get(seci, "sit");
    int rc = 0;
    if (!json_is_object(seci) || !json_is_integer(sit) || json_integer_value(sit) != ESCERTKE_SIT)
        goto out; /* another securityInfoType: ESPrim, dynamic authorization */
    rc = -1;
    const json_t *eckm = json_object_get(seci, "eckm");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)seci, k, v)
    {
        if (strcmp(k, "sit") != 0 && strcmp(k, "eckm") != 0) {
            snprintf(err, errlen, "an m2m:seci of sit 6 holds only sit and eckm (TS-0004 §6.3.5.x), not '%.32s'", k);
            goto out;
        }
    }
    if (json_object_size(root) != 1) {
        snprintf(err, errlen, "the Content is {\"m2m:seci\": {...}} alone");
        goto out;
    }
    if (!json_is_string(eckm) || json_string_length(eckm) == 0) {
        snprintf(err, errlen, "an m2m:seci of sit 6 carries the ESCertKE Message in eckm (base64)");
        goto out;
    }
    size_t elen = json_string_length(eckm);
    if (elen > 4 * ((size_t)LIMIT_ESCERTKE_MSG / 3 + 1)) {
        snprintf(err, errlen, "eckm: an ESCertKE Message is at most %d bytes", LIMIT_ESCERTKE_MSG);
        goto out;
    }
    unsigned char *buf = mem_alloc(elen / 4 * 3 + 3);
    long n = escertke_b64_decode(json_string_value(eckm), elen, buf, LIMIT_ESCERTKE_MSG);
    if (n <= 0) {
        mem_free(buf);
        snprintf(err, errlen, "eckm is not base64 (RFC 4648 §4, padded, no line breaks) of at most %d bytes",
                 LIMIT_ESCERTKE_MSG);
        goto out;
    }
    *msg = buf;
    *mlen = (size_t)n;
    rc = 1;
out:
    json_decref(root);
    return rc;
}

char *escertke_seci_encode(const unsigned char *msg, size_t len, size_t *outlen)
{
    char *b = mem_alloc(4 * ((len + 2) / 3) + 1);
    escertke_b64_encode(msg, len, b);
    json_t *v = json_pack("{s:{s:i,s:s}}", "m2m:seci", "sit", ESCERTKE_SIT, "eckm", b);
    mem_free(b);
    char *s = json_encode(v, outlen);
    json_decref(v);
    return s;
}
