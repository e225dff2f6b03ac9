/* fuzz_coap_map: the CoAP request mapping (TS-0008 options/path/query/Content-Format -> primitive)
 * and the response options. Input: byte 0 = method; then options as (number: 2 bytes big-endian,
 * length: 1 byte, value), until a 0xffff number; the rest is the body. */
#include <stdint.h>
#include <string.h>

#include "bindings/coap/coap_map.h"
#include "response_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct coap_opt_in opts[64];
    size_t n = 0, i = 1;
    while (i + 3 <= size && n < 64) {
        uint16_t num = (uint16_t)(data[i] << 8 | data[i + 1]);
        if (num == 0xffff) {
            i += 2;
            break;
        }
        size_t len = data[i + 2];
        i += 3;
        if (i + len > size)
            len = size - i;
        opts[n++] = (struct coap_opt_in){num, data + i, len};
        i += len;
    }
    struct coap_raw raw = {data[0] & 0x1f, opts, n, i < size ? data + i : NULL, i < size ? size - i : 0};
    struct cse_request req;
    struct coap_scratch scratch;
    struct cse_response rsp;
    response_init(&rsp);
    int rc = coap_to_primitive(&raw, &req, &scratch, &rsp);
    fuzz_check_response(&rsp); /* the diagnostic payload and the Content the binding would send */
    if (rc == 0)
        rsp.rsc = 2000;
    struct coap_opt_out out[COAP_MAX_RSP_OPTS];
    (void)coap_response_options(&rsp, req.rqi, req.rvi, scratch.cf, true, out);
    (void)coap_code_of(rsp.rsc, req.op);
    coap_scratch_free(&scratch);
    response_free(&rsp);
    return 0;
}
