/* fuzz_esdata: the ESData opener (e2e/esdata.h, TS-0003 §8.5.3) as an end-point reaches it: the
 * content of a contentInstance read from a CSE, which anyone with write access may have written.
 * The input is opened twice, once with an EC key pair and a 256-bit secret (ES256 signatures,
 * dir/A256KW encryption, nested) and once with the secret for HMACs, with every algorithm
 * allowed (the keys of the committed seeds, so valid seeds reach cjose's verification and
 * decryption). It also goes through the CSE's keyless syntax checks. An input starting with "KEY:"
 * is parsed as a key file instead. Invariants: an opened envelope has a payload and names how it
 * was protected; a refusal leaves nothing behind; a compact envelope that opens passes the
 * CSE's syntax check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "e2e/esdata.h"

static const char ec_jwk[] = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"YzIzHz9HWQhx0AA3n1mdTt0JyWZoW4tr2K4PoVYK1wY\","
                             "\"y\":\"N016FlzuUBu93iguFHM87ChF3pT0vwHhdDwOMcEdHTk\","
                             "\"d\":\"w7hZL83v8HjwkhXTZtK7kAQZvDXzTDVC7HhV4vw4iEU\"}";
static const char secret_hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static void open_once(const uint8_t *data, size_t size, const struct esdata_policy *p)
{
    struct esdata_opened o;
    enum esdata_err e = esdata_open((const char *)data, size, p, &o);
    if (e == ESDATA_OK) {
        if (o.payload == NULL || (o.sign_alg == 0 && o.key_alg == 0) || (o.key_alg != 0) != (o.enc != 0))
            abort();
        if (!o.json && esdata_compact_kind((const char *)data, size) == 0)
            abort();
        esdata_opened_free(&o);
    } else if (o.payload != NULL || o.len != 0 || esdata_strerror(e) == NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct esdata_key *ec, *secret;
    if (ec == NULL && (esdata_key_parse(ec_jwk, strlen(ec_jwk), &ec) != ESDATA_OK ||
                       esdata_key_parse(secret_hex, strlen(secret_hex), &secret) != ESDATA_OK))
        abort();
    if (size >= 4 && memcmp(data, "KEY:", 4) == 0) {
        struct esdata_key *k = NULL;
        enum esdata_err e = esdata_key_parse((const char *)data + 4, size - 4, &k);
        if ((e == ESDATA_OK) != (k != NULL))
            abort();
        esdata_key_free(k);
        return 0;
    }
    int kind = esdata_compact_kind((const char *)data, size);
    if (kind != 0 && kind != 3 && kind != 5)
        abort();
    (void)esdata_json_shape_ok((const char *)data, size);
    struct esdata_policy p = {.algs = 0xffffffffu, .encs = 0xffffffffu, .verify_key = ec, .decrypt_key = secret};
    open_once(data, size, &p);
    p.verify_key = secret;
    p.require_signature = true;
    open_once(data, size, &p);
    return 0;
}
