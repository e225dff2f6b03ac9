/* fuzz_cbor: encoding/cbor_json both ways. The input as CBOR: when it converts to JSON, that JSON
 * is what Warden's JSON decoder accepts, and JSON -> CBOR -> JSON gives it back unchanged (and the
 * CBOR of it is a fixed point); a refusal always says why and leaves no output. The input as JSON
 * text: when it converts to CBOR, that CBOR decodes to the same value (or is refused only for its
 * depth). Any broken invariant abort()s. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "encoding/cbor_json.h"
#include "encoding/json.h"
#include "util/mem.h"

static json_t *parse(const char *s, size_t n)
{
    return json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
}

/* JSON text -> CBOR; abort() unless it succeeds. Caller mem_free. */
static unsigned char *to_cbor(const char *json, size_t n, size_t *len)
{
    unsigned char *cbor = NULL;
    char err[256] = "";
    if (cborjson_from_json(json, n, &cbor, len, err, sizeof err) != 0 || cbor == NULL || *len == 0)
        abort();
    return cbor;
}

static void cbor_side(const uint8_t *data, size_t size)
{
    char *json = (char *)"sentinel";
    size_t jl = 12345;
    char err[256] = "";
    if (cborjson_to_json(data, size, &json, &jl, err, sizeof err) != 0) {
        if (json != NULL || jl != 0 || err[0] == '\0' || strlen(err) >= sizeof err)
            abort();
        return;
    }
    if (json == NULL || strlen(json) != jl)
        abort();
    /* what Warden's JSON route would accept: no duplicate keys, valid UTF-8 without U+0000, depth */
    json_t *v = parse(json, jl);
    if (v == NULL || json_depth(v, LIMIT_JSON_DEPTH) > LIMIT_JSON_DEPTH)
        abort();
    json_decref(v);

    size_t cl;
    unsigned char *cbor = to_cbor(json, jl, &cl);
    char *again = NULL;
    size_t al = 0;
    if (cborjson_to_json(cbor, cl, &again, &al, err, sizeof err) != 0 || al != jl || memcmp(again, json, jl) != 0)
        abort();
    size_t cl2;
    unsigned char *cbor2 = to_cbor(again, al, &cl2);
    if (cl2 != cl || memcmp(cbor2, cbor, cl) != 0)
        abort();
    mem_free(cbor2);
    mem_free(again);
    mem_free(cbor);
    mem_free(json);
}

static void json_side(const uint8_t *data, size_t size)
{
    unsigned char *cbor = (unsigned char *)"sentinel";
    size_t cl = 12345;
    char err[256] = "";
    if (cborjson_from_json((const char *)data, size, &cbor, &cl, err, sizeof err) != 0) {
        if (cbor != NULL || cl != 0 || err[0] == '\0')
            abort();
        return;
    }
    json_t *v = parse((const char *)data, size);
    if (v == NULL)
        abort(); /* cborjson_from_json accepted what jansson with the same flags refuses */
    char *json = NULL;
    size_t jl = 0;
    int rc = cborjson_to_json(cbor, cl, &json, &jl, err, sizeof err);
    if (rc != 0) {
        /* the only JSON -> CBOR output the decoder may refuse is a deep one */
        if (json_depth(v, LIMIT_JSON_DEPTH) <= LIMIT_JSON_DEPTH || strstr(err, "nested deeper") == NULL)
            abort();
    } else {
        json_t *w = parse(json, jl);
        if (w == NULL || !json_equal(v, w))
            abort();
        json_decref(w);
        mem_free(json);
    }
    json_decref(v);
    mem_free(cbor);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cbor_side(data, size);
    json_side(data, size);
    return 0;
}
