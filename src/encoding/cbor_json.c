/* cbor_json: CBOR (RFC 8949) <-> the JSON data model with libcbor's streaming decoder and encoders
 * and jansson (see cbor_json.h). */
#include "cbor_json.h"

#include <cbor.h>
#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "util/buf.h"
#include "util/mem.h"

/* RFC 8949 §3.4.6: "self-described CBOR", the one tag that carries no meaning and is skipped. */
#define TAG_SELF_DESCRIBED 55799u

/* ---------------------------------------------------------------------------------------------
 * CBOR -> JSON. libcbor's cbor_stream_decode() reads one item head (or one definite string) per
 * call and reports it through a callback; it never reads past the length it is given and it
 * allocates nothing. The callbacks below build the jansson tree with an explicit stack, so the
 * nesting bound is checked before anything is allocated for a level, and a definite length
 * announced in the input (up to 2^64-1) is only a count, never an allocation size. */

struct frame {
    json_t *v;     /* the array or object being filled; owned by its parent (or d->root) */
    bool map;      /* object: items alternate key, value */
    bool indef;    /* indefinite length: ends at a break */
    uint64_t left; /* definite length: elements (array) or pairs (map) still to come */
    char *key;     /* map: the key read, waiting for its value (mem_alloc'd) */
};

struct dec {
    json_t *root; /* the result, once the first item has begun */
    bool done;    /* the top-level item is complete */
    bool failed;
    char *err;
    size_t errlen;
    /* Open arrays and maps: an item may sit inside at most LIMIT_JSON_DEPTH - 1 of them, so that
     * json_depth() of the result never exceeds LIMIT_JSON_DEPTH, as for a JSON body. */
    struct frame st[LIMIT_JSON_DEPTH];
    int sp;
    bool tagged;     /* a self-described tag waits for its item */
    bool in_text;    /* inside an indefinite-length text string (RFC 8949 §3.2.3) */
    struct buf text; /* its chunks so far */
};

static void fail(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct dec *d, const char *fmt, ...)
{
    if (d->failed)
        return;
    d->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, d->errlen, fmt, ap);
    va_end(ap);
}

static struct frame *top(struct dec *d)
{
    return d->sp > 0 ? &d->st[d->sp - 1] : NULL;
}

/* Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). U+0000 is
 * refused too: Warden's JSON decoder refuses "\u0000", and the CBOR route accepts no more. */
static bool text_ok(struct dec *d, const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c == 0) {
            fail(d, "text string contains U+0000 (not accepted in JSON content either)");
            return false;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if (c >= 0xc2 && c <= 0xdf)
            k = 1, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
            k = 2, cp = c & 0x0f, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4)
            k = 3, cp = c & 0x07, min = 0x10000;
        else
            goto bad;
        if (n - i <= k)
            goto bad;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                goto bad;
            cp = cp << 6 | (s[i + j] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            goto bad;
        i += k + 1;
    }
    return true;
bad:
    fail(d, "text string is not valid UTF-8 (byte %zu of the string)", i);
    return false;
}

/* Every item but a string chunk inside an indefinite text string starts here. */
static bool begin(struct dec *d, const char *what)
{
    if (d->failed)
        return false;
    if (d->done) { /* cannot happen: the caller stops at the end of the top-level item */
        fail(d, "data after the CBOR item");
        return false;
    }
    if (d->in_text) {
        fail(d, "a chunk of an indefinite-length text string must be a definite text string, not %s", what);
        return false;
    }
    d->tagged = false;
    return true;
}

/* A value other than a text string: not in a map key's place, not too deep. */
static bool value_slot(struct dec *d, const char *what)
{
    if (!begin(d, what))
        return false;
    struct frame *f = top(d);
    if (f && f->map && f->key == NULL) {
        fail(d, "map key is %s, not a text string", what);
        return false;
    }
    if (d->sp >= LIMIT_JSON_DEPTH) {
        fail(d, "CBOR nested deeper than %d levels", LIMIT_JSON_DEPTH);
        return false;
    }
    return true;
}

/* Hang v (a new reference) in its place: the root, the array's end or the map's pending key. */
static void attach(struct dec *d, json_t *v)
{
    struct frame *f = top(d);
    if (f == NULL) {
        d->root = v;
    } else if (f->map) {
        json_object_set_new(f->v, f->key, v);
        MEM_FREE(f->key);
    } else {
        json_array_append_new(f->v, v);
    }
}

/* An item of the innermost container is complete: close every definite container that it fills. */
static void item_done(struct dec *d)
{
    for (;;) {
        struct frame *f = top(d);
        if (f == NULL) {
            d->done = true;
            return;
        }
        if (f->indef || --f->left > 0)
            return;
        d->sp--;
    }
}

static void put(struct dec *d, json_t *v)
{
    attach(d, v);
    item_done(d);
}

static void on_uint(void *ctx, uint64_t n)
{
    struct dec *d = ctx;
    if (!value_slot(d, "an integer"))
        return;
    if (n > INT64_MAX) {
        fail(d, "integer %" PRIu64 " is beyond the int64 range", n);
        return;
    }
    put(d, json_integer((json_int_t)n));
}

/* A negative integer: -1 - n. */
static void on_negint(void *ctx, uint64_t n)
{
    struct dec *d = ctx;
    if (!value_slot(d, "an integer"))
        return;
    if (n > INT64_MAX) {
        fail(d, "integer -1-%" PRIu64 " is beyond the int64 range", n);
        return;
    }
    put(d, json_integer(-1 - (json_int_t)n));
}

static void on_uint8(void *ctx, uint8_t n)
{
    on_uint(ctx, n);
}
static void on_uint16(void *ctx, uint16_t n)
{
    on_uint(ctx, n);
}
static void on_uint32(void *ctx, uint32_t n)
{
    on_uint(ctx, n);
}
static void on_negint8(void *ctx, uint8_t n)
{
    on_negint(ctx, n);
}
static void on_negint16(void *ctx, uint16_t n)
{
    on_negint(ctx, n);
}
static void on_negint32(void *ctx, uint32_t n)
{
    on_negint(ctx, n);
}

static void on_double(void *ctx, double x)
{
    struct dec *d = ctx;
    if (!value_slot(d, "a number"))
        return;
    if (!isfinite(x)) {
        fail(d, "NaN and infinities have no JSON equivalent");
        return;
    }
    put(d, json_real(x));
}

/* Half and single precision: widening to double is exact. */
static void on_float(void *ctx, float x)
{
    on_double(ctx, (double)x);
}

static void on_bool(void *ctx, bool b)
{
    struct dec *d = ctx;
    if (value_slot(d, "a boolean"))
        put(d, json_boolean(b));
}

static void on_null(void *ctx)
{
    struct dec *d = ctx;
    if (value_slot(d, "null"))
        put(d, json_null());
}

static void on_undefined(void *ctx)
{
    struct dec *d = ctx;
    if (begin(d, "undefined"))
        fail(d, "undefined has no JSON equivalent");
}

static void on_bytes(void *ctx, cbor_data s, size_t n)
{
    (void)s, (void)n;
    struct dec *d = ctx;
    if (begin(d, "a byte string"))
        fail(d, "byte strings have no JSON equivalent");
}

static void on_bytes_start(void *ctx)
{
    on_bytes(ctx, NULL, 0);
}

static void on_tag(void *ctx, uint64_t tag)
{
    struct dec *d = ctx;
    if (!begin(d, "a tag"))
        return;
    if (tag != TAG_SELF_DESCRIBED) {
        fail(d, "tag %" PRIu64 " has no JSON equivalent", tag);
        return;
    }
    d->tagged = true; /* the tag adds nothing: its item stands for itself */
}

/* A complete text string: a map key, or a value. */
static void text_item(struct dec *d, const char *s, size_t n)
{
    if (!text_ok(d, (const unsigned char *)s, n))
        return;
    struct frame *f = top(d);
    if (f && f->map && f->key == NULL) {
        char *key = mem_strndup(s, n);
        if (json_object_get(f->v, key) != NULL) {
            fail(d, "duplicate map key '%.64s'", key);
            mem_free(key);
            return;
        }
        f->key = key;
        return;
    }
    if (d->sp >= LIMIT_JSON_DEPTH) {
        fail(d, "CBOR nested deeper than %d levels", LIMIT_JSON_DEPTH);
        return;
    }
    put(d, json_stringn(s, n));
}

static void on_text(void *ctx, cbor_data s, size_t n)
{
    struct dec *d = ctx;
    if (d->failed)
        return;
    if (d->in_text) { /* a chunk: each one is valid UTF-8 on its own (RFC 8949 §3.2.3) */
        if (text_ok(d, s, n))
            buf_append(&d->text, s, n);
        return;
    }
    if (begin(d, "a text string"))
        text_item(d, (const char *)s, n);
}

static void on_text_start(void *ctx)
{
    struct dec *d = ctx;
    if (!begin(d, "an indefinite-length text string"))
        return;
    d->in_text = true;
    d->text.len = 0;
}

static void open_container(struct dec *d, bool map, bool indef, uint64_t n)
{
    if (!value_slot(d, map ? "a map" : "an array"))
        return;
    json_t *v = map ? json_object() : json_array();
    attach(d, v);
    d->st[d->sp++] = (struct frame){.v = v, .map = map, .indef = indef, .left = n, .key = NULL};
    if (!indef && n == 0) {
        d->sp--;
        item_done(d);
    }
}

static void on_array(void *ctx, size_t n)
{
    open_container(ctx, false, false, n);
}
static void on_indef_array(void *ctx)
{
    open_container(ctx, false, true, 0);
}
static void on_map(void *ctx, size_t n)
{
    open_container(ctx, true, false, n);
}
static void on_indef_map(void *ctx)
{
    open_container(ctx, true, true, 0);
}

static void on_break(void *ctx)
{
    struct dec *d = ctx;
    if (d->failed)
        return;
    if (d->in_text) {
        d->in_text = false;
        text_item(d, d->text.p ? d->text.p : "", d->text.len);
        return;
    }
    struct frame *f = top(d);
    if (d->tagged) {
        fail(d, "a tag must be followed by an item, not a break");
        return;
    }
    if (f == NULL || !f->indef) {
        fail(d, "break outside an indefinite-length item");
        return;
    }
    if (f->map && f->key != NULL) {
        fail(d, "map key '%.64s' has no value", f->key);
        return;
    }
    d->sp--;
    item_done(d);
}

static const struct cbor_callbacks callbacks = {
    .uint8 = on_uint8,
    .uint16 = on_uint16,
    .uint32 = on_uint32,
    .uint64 = on_uint,
    .negint8 = on_negint8,
    .negint16 = on_negint16,
    .negint32 = on_negint32,
    .negint64 = on_negint,
    .byte_string = on_bytes,
    .byte_string_start = on_bytes_start,
    .string = on_text,
    .string_start = on_text_start,
    .array_start = on_array,
    .indef_array_start = on_indef_array,
    .map_start = on_map,
    .indef_map_start = on_indef_map,
    .tag = on_tag,
    .float2 = on_float,
    .float4 = on_float,
    .float8 = on_double,
    .undefined = on_undefined,
    .null = on_null,
    .boolean = on_bool,
    .indef_break = on_break,
};

/* Why libcbor refused the item starting with initial byte b (RFC 8949 §3, Table 7). */
static void refused_head(struct dec *d, unsigned b, size_t pos)
{
    unsigned major = b >> 5, info = b & 0x1f;
    if (major == 7 && (info < 20 || info == 24))
        fail(d, "simple values other than false, true and null have no JSON equivalent (byte %zu)", pos);
    else if (major == 6 && info < 24)
        fail(d, "tag %u has no JSON equivalent (byte %zu)", info, pos);
    else if (info >= 28 && info <= 30)
        fail(d, "malformed CBOR: reserved additional information in initial byte 0x%02x at byte %zu", b, pos);
    else
        fail(d, "malformed CBOR: initial byte 0x%02x at byte %zu", b, pos);
}

static void dec_free(struct dec *d)
{
    for (int i = 0; i < d->sp; i++)
        mem_free(d->st[i].key);
    buf_free(&d->text);
    json_decref(d->root);
}

int cborjson_to_json(const unsigned char *cbor, size_t len, char **out, size_t *outlen, char *err, size_t errlen)
{
    *out = NULL;
    *outlen = 0;
    if (cbor == NULL || len == 0) {
        snprintf(err, errlen, "empty content");
        return -1;
    }
    struct dec d = {.err = err, .errlen = errlen};
    buf_init(&d.text);
    size_t pos = 0;
    while (!d.done && !d.failed) {
        if (pos == len) {
            fail(&d, "truncated CBOR: the input ends inside an item");
            break;
        }
        struct cbor_decoder_result r = cbor_stream_decode(cbor + pos, len - pos, &callbacks, &d);
        if (r.status == CBOR_DECODER_NEDATA)
            fail(&d, "truncated CBOR: the item at byte %zu needs more bytes than the input has", pos);
        else if (r.status != CBOR_DECODER_FINISHED)
            refused_head(&d, cbor[pos], pos);
        else
            pos += r.read;
    }
    if (!d.failed && pos != len)
        fail(&d, "%zu trailing bytes after the CBOR item", len - pos);
    if (d.failed) {
        dec_free(&d);
        return -1;
    }
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    size_t n = json_dumpb(d.root, NULL, 0, flags);
    char *s = mem_alloc(n + 1);
    json_dumpb(d.root, s, n, flags);
    s[n] = '\0';
    dec_free(&d);
    *out = s;
    *outlen = n;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * JSON -> CBOR: preferred serialization (RFC 8949 §4.1): shortest heads, definite lengths,
 * integers as major types 0/1, and a double as the shortest of half, single and double precision
 * that holds it exactly (so decoding gives the very same double back). */

static void head(struct buf *b, size_t (*enc)(size_t, unsigned char *, size_t), size_t n)
{
    unsigned char t[9];
    buf_append(b, t, enc(n, t, sizeof t));
}

/* IEEE 754 binary16 bits of x when x (finite) is exactly representable in it, else -1. */
static int half_bits(double x)
{
    unsigned sign = signbit(x) ? 0x8000u : 0;
    double a = fabs(x);
    if (a == 0)
        return (int)sign;
    int e;
    (void)frexp(a, &e); /* a in [2^(e-1), 2^e) */
    int exp = e - 1;
    if (exp > 15)
        return -1;
    if (exp >= -14) { /* normal: 1.f * 2^exp with 10 fraction bits; every step is exact */
        double frac = (ldexp(a, -exp) - 1.0) * 1024.0;
        if (frac != floor(frac))
            return -1;
        return (int)(sign | (unsigned)(exp + 15) << 10 | (unsigned)frac);
    }
    double m = ldexp(a, 24); /* subnormal: m * 2^-24, m < 1024 */
    if (m != floor(m))
        return -1;
    return (int)(sign | (unsigned)m);
}

static void put_double(struct buf *b, double x)
{
    unsigned char t[9];
    int h = half_bits(x);
    if (h >= 0) {
        t[0] = 0xf9;
        t[1] = (unsigned char)(h >> 8);
        t[2] = (unsigned char)(h & 0xff);
        buf_append(b, t, 3);
    } else if (fabs(x) <= FLT_MAX && (double)(float)x == x) {
        buf_append(b, t, cbor_encode_single((float)x, t, sizeof t));
    } else {
        buf_append(b, t, cbor_encode_double(x, t, sizeof t));
    }
}

/* Recursion is bounded by jansson's parser depth (JSON_PARSER_MAX_DEPTH). */
static void encode(struct buf *b, const json_t *v)
{
    unsigned char t[9];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        head(b, cbor_encode_map_start, json_object_size(v));
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c)
        {
            size_t kl = strlen(k);
            head(b, cbor_encode_string_start, kl);
            buf_append(b, k, kl);
            encode(b, c);
        }
        break;
    }
    case JSON_ARRAY: {
        head(b, cbor_encode_array_start, json_array_size(v));
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            encode(b, c);
        }
        break;
    }
    case JSON_STRING:
        head(b, cbor_encode_string_start, json_string_length(v));
        buf_append(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        size_t n =
            i >= 0 ? cbor_encode_uint((uint64_t)i, t, sizeof t) : cbor_encode_negint((uint64_t)(-(i + 1)), t, sizeof t);
        buf_append(b, t, n);
        break;
    }
    case JSON_REAL: put_double(b, json_real_value(v)); break;
    case JSON_TRUE:
    case JSON_FALSE: buf_append(b, t, cbor_encode_bool(json_is_true(v), t, sizeof t)); break;
    case JSON_NULL: buf_append(b, t, cbor_encode_null(t, sizeof t)); break;
    }
}

int cborjson_from_json(const char *json, size_t len, unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
    *out = NULL;
    *outlen = 0;
    if (json == NULL || len == 0) {
        snprintf(err, errlen, "empty content");
        return -1;
    }
    json_error_t je;
    json_t *v = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (v == NULL) {
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return -1;
    }
    struct buf b;
    buf_init(&b);
    encode(&b, v);
    json_decref(v);
    *out = (unsigned char *)buf_take(&b, outlen);
    return 0;
}
