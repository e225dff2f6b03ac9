/* fuzz_resource_decode: resource representations as a client sends them: JSON decoding with
 * Warden's limits, then attribute validation against every resource type's policy, for both
 * CREATE and UPDATE. */
#include <stdint.h>

#include "core/request.h"
#include "encoding/json.h"
#include "resources/rtype.h"
#include "util/mem.h"

static const int types[] = {TY_AE, TY_CNT, TY_CIN, TY_CSEBASE, TY_TS, TY_TSI, TY_FCNT, TY_NODE, TY_MGO};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    json_t *v = json_decode_body((const char *)data, size, err, sizeof err);
    if (v == NULL)
        return 0;
    json_t *attrs = json_is_object(v) && json_object_size(v) == 1 ? json_object_iter_value(json_object_iter(v)) : v;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const struct rtype *t = rtype_find(types[i]);
        for (int create = 0; create < 2; create++) {
            struct cse_response rsp;
            response_init(&rsp);
            attr_validate(t, attrs, create, &rsp);
            response_free(&rsp);
        }
    }
    char *enc = json_encode(v, NULL);
    mem_free(enc);
    json_decref(v);
    return 0;
}
