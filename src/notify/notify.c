/* notify: one notification as a NOTIFY request primitive through the outbound seam (notify.h). */
#include "notify/notify.h"

static void ignore(void *arg, const struct out_response *res)
{
    (void)arg;
    (void)res;
}

int notify_send(struct outbound *ob, const char *uri, const char *body, size_t len, const char *originator,
                out_done_fn done, void *arg)
{
    return notify_send_as(ob, uri, body, len, NULL, originator, done, arg);
}

int notify_send_as(struct outbound *ob, const char *uri, const char *body, size_t len, const char *ctype,
                   const char *originator, out_done_fn done, void *arg)
{
    /* TS-0004 §7.3.3.9: a NOTIFY, no resource type; retries by the client side share one rqi */
    struct out_request rq = {.op = OP_NOTIFY, .fr = originator, .body = body, .len = len, .ctype = ctype};
    return outbound_send(ob, uri, &rq, done ? done : ignore, done ? arg : NULL);
}
