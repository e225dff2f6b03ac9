/* cbor_json: placeholder until the CBOR codec lands (see cbor_json.h). */
#include <stdio.h>

#include "cbor_json.h"

int cborjson_from_json(const char *json, size_t len, unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
    (void)json, (void)len, (void)out, (void)outlen;
    snprintf(err, errlen, "CBOR is not available in this build");
    return -1;
}

int cborjson_to_json(const unsigned char *cbor, size_t len, char **out, size_t *outlen, char *err, size_t errlen)
{
    (void)cbor, (void)len, (void)out, (void)outlen;
    snprintf(err, errlen, "CBOR is not available in this build");
    return -1;
}
