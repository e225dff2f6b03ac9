/* response_check: see response_check.h. */
#include "response_check.h"

#include <jansson.h>
#include <string.h>

#include "encoding/cbor_json.h"
#include "util/buf.h"
#include "util/mem.h"

void fuzz_check_json(const char *text, size_t len)
{
    json_error_t e;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, &e);
    if (v == NULL)
        __builtin_trap();
    json_decref(v);
    unsigned char *cbor = NULL;
    size_t cbor_len;
    char err[160];
    if (cborjson_from_json(text, len, &cbor, &cbor_len, err, sizeof err) != 0)
        __builtin_trap();
    mem_free(cbor);
}

void fuzz_check_response(const struct cse_response *rsp)
{
    if (rsp->message) {
        const unsigned char *m = (const unsigned char *)rsp->message;
        size_t n = strlen(rsp->message);
        for (size_t i = 0; i < n;) {
            size_t k = utf8_seq_len(m + i, n - i);
            if (k == 0 || (k == 1 && (m[i] < 0x20 || m[i] == 0x7f)))
                __builtin_trap();
            i += k;
        }
    }
    struct cse_response copy = *rsp; /* response_take_body moves the body: hand it a copy */
    copy.body = NULL;
    if (rsp->body) {
        copy.body = mem_alloc(rsp->body_len + 1);
        memcpy(copy.body, rsp->body, rsp->body_len);
        copy.body[rsp->body_len] = '\0';
    }
    size_t len;
    char *body = response_take_body(&copy, &len);
    if (body != NULL)
        fuzz_check_json(body, len);
    mem_free(body);
}
