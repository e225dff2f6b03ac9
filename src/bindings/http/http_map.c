/* http_map: the one table mapping oneM2M response status codes to HTTP status codes (TS-0009
 * §6.4.x). Codes not listed fall back to their class: 2xxx 200, 4xxx 400, 5xxx 500. */
#include "core/rsc.h"
#include "http_request.h"

static const struct {
    int rsc;
    unsigned http;
} map[] = {
    {RSC_ACCEPTED, 202},
    {1001, 202},
    {1002, 202},
    {RSC_OK, 200},
    {RSC_CREATED, 201},
    {RSC_DELETED, 200},
    {RSC_UPDATED, 200},
    {RSC_BAD_REQUEST, 400},
    {RSC_RELEASE_VERSION_NOT_SUPPORTED, 501},
    {RSC_NOT_FOUND, 404},
    {RSC_OPERATION_NOT_ALLOWED, 405},
    {RSC_REQUEST_TIMEOUT, 504},
    {RSC_UNSUPPORTED_MEDIA_TYPE, 415},
    {RSC_SUBSCRIPTION_CREATOR_HAS_NO_PRIVILEGE, 403},
    {RSC_CONTENTS_UNACCEPTABLE, 400},
    {RSC_ORIGINATOR_HAS_NO_PRIVILEGE, 403},
    {4104, 409},
    {RSC_CONFLICT, 409},
    {RSC_ORIGINATOR_NOT_AUTHENTICATED, 403},
    {RSC_SECURITY_ASSOCIATION_REQUIRED, 403},
    {RSC_INVALID_CHILD_RESOURCE_TYPE, 403},
    {4109, 403},
    {4110, 400},
    {4111, 403},
    {4112, 403},
    {4113, 403},
    {4114, 403},
    {4115, 403},
    {4116, 403},
    {RSC_ORIGINATOR_HAS_ALREADY_REGISTERED, 403},
    {RSC_APP_RULE_VALIDATION_FAILED, 403},
    {4127, 403},
    {4128, 403},
    {RSC_INTERNAL_SERVER_ERROR, 500},
    {RSC_NOT_IMPLEMENTED, 501},
    {RSC_TARGET_NOT_REACHABLE, 404},
    {RSC_RECEIVER_HAS_NO_PRIVILEGE, 403},
    {RSC_ALREADY_EXISTS, 409},
    {5203, 403},
    {5205, 403},
    {RSC_NOT_ACCEPTABLE, 406},
    {5210, 500},
    {5211, 500},
};

unsigned http_status_of(int rsc)
{
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].rsc == rsc)
            return map[i].http;
    if (rsc >= 2000 && rsc < 3000)
        return 200;
    if (rsc >= 4000 && rsc < 5000)
        return 400;
    return 500;
}
