/* fuzz_http_request: the HTTP request mapping (TS-0009 -> primitive) and the body decoding behind
 * it. Input: "METHOD /path?query\n" then "Name: value\n" header lines, a blank line, the body. */
#include <stdint.h>
#include <string.h>

#include "bindings/http/http_request.h"
#include "http_text.h"
#include "encoding/json.h"
#include "resources/rtype.h"
#include "response_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_text ht;
    http_text_parse(&ht, data, size);
    struct http_raw raw = ht.raw;
    struct cse_request req;
    struct http_scratch scratch;
    struct cse_response rsp;
    response_init(&rsp);
    if (http_to_primitive(&raw, &req, &scratch, &rsp) == 0 && (req.op == OP_CREATE || req.op == OP_UPDATE)) {
        char err[256];
        json_t *v = json_decode_body(req.body, req.body_len, err, sizeof err);
        if (json_is_object(v) && json_object_size(v) == 1) {
            const char *key = json_object_iter_key(json_object_iter(v));
            const struct rtype *t = strncmp(key, "m2m:", 4) == 0 ? rtype_find_sn(key + 4) : NULL;
            if (t)
                attr_validate(t, json_object_iter_value(json_object_iter(v)), req.op == OP_CREATE, &rsp);
        }
        json_decref(v);
    }
    fuzz_check_response(&rsp); /* what the HTTP binding would send, in JSON and in CBOR */
    http_scratch_free(&scratch);
    response_free(&rsp);
    http_text_free(&ht);
    return 0;
}
