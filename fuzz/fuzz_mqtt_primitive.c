/* fuzz_mqtt_primitive: the MQTT binding's pure front end on arbitrary input: topic parsing
 * (TS-0010 §6.4), the ':' form of originator IDs, request primitive decoding (TS-0004 §7.2.1, with
 * filter criteria through params.h), response encoding, and the response topics and primitives of
 * the client side (primitive_out.h). Input: the topic on the first line,
 * the payload after it. */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "bindings/mqtt/mqtt_topic.h"
#include "bindings/primitive.h"
#include "bindings/primitive_out.h"
#include "response_check.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct id_env env = {.spid = "warden.example.com", .cse_id = "/id-in"};
    json_set_alloc_funcs(mem_alloc, mem_free);
    const uint8_t *nl = memchr(data, '\n', size);
    size_t tlen = nl ? (size_t)(nl - data) : size;
    char *topic = mem_strndup((const char *)data, tlen);
    const char *payload = nl ? (const char *)nl + 1 : "";
    size_t plen = nl ? size - tlen - 1 : 0;

    struct mqtt_topic t;
    if (mqtt_topic_parse(topic, &t) == 0) {
        struct id id;
        (void)mqtt_topic_id(&env, t.originator, &id);
        char out[MQTT_TOPIC_MAX + 32];
        (void)mqtt_topic_response(&t, MQTT_FMT_NONE, out, sizeof out);
    }
    char lvl[LIMIT_ID_LEN + 4];
    (void)mqtt_id_level(topic, lvl, sizeof lvl);
    char why[256]; /* the notification topic rule (issue 12, finding 15), with and without a prefix */
    (void)mqtt_notify_topic_ok(topic, "", why, sizeof why);
    (void)mqtt_notify_topic_ok(topic, "ntf/", why, sizeof why);

    struct prim_request p;
    struct cse_response rsp;
    response_init(&rsp);
    (void)primitive_decode_request(payload, plen, &p, &rsp);
    size_t len;
    char *enc = primitive_encode_response(&rsp, p.req.rqi, p.req.fr, "/id-in", p.req.rvi, &len);
    fuzz_check_json(enc, len); /* the response primitive is always JSON, and CBOR for a /cbor topic */
    fuzz_check_response(&rsp);
    mem_free(enc);
    if (p.req.body) {
        char *n = primitive_encode_notify("mqtt://b/t", "/id-in", "n", p.req.body, p.req.body_len, &len);
        mem_free(n);
    }
    primitive_request_free(&p);
    response_free(&rsp);
    /* the same payload as a response to a request this CSE sent over MQTT (mqtt_client.h) */
    struct mqtt_topic rt;
    (void)mqtt_topic_parse_response(topic, &rt);
    struct prim_response pr;
    if (primitive_decode_response(payload, plen, &pr) == 0) {
        if (pr.pc != NULL)
            fuzz_check_json(pr.pc, pr.pc_len);
        primitive_response_free(&pr);
    }
    mem_free(topic);
    return 0;
}
