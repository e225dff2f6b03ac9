/* park: the one way a request parks and resumes (ARCHITECTURE.md "park and resume"). Core-internal.
 *
 * Design. Every request that reaches core dispatch carries ONE continuation, struct cse_cont: the
 * request, its response, and the resume callback its caller gave to cse_dispatch (a binding's
 * libmicrohttpd resume or MQTT / CoAP loop deferral, a fan-out's member counter, the non-blocking
 * worker). It lives in the operation context (struct op_ctx .k) and is copied by value into
 * whatever the request waits for. There is no other parking mechanism:
 *
 *   waiting for            who holds the continuation                 resumed by
 *   ---------------------  -----------------------------------------  -----------------------------
 *   the writer's commit    the write job (ops_create/update/delete)   op_committed -> ANSWERED
 *   subscription verif.    the create job, until every target answers verify_finish -> ANSWERED
 *   Blocking_Update        the update job                             blocking answer -> ANSWERED
 *   a DAS consultation     the consultation (dynauth.c)               consultation -> AGAIN
 *   a forwarded request    the forwarding record (route.c)            fwd_answer -> ANSWERED
 *   the fan-out members    the fan (fanout.c); each member request    last member -> ANSWERED
 *                          carries its own continuation to the fan
 *   Operation Exec. Time   the deferred entry (defer.c)               expiry thread -> AGAIN
 *   a polling channel      the parked poll (pollch.c)                 a queued request -> ANSWERED
 *   a non-blocking ack     the <request> job (nonblock.c)             its commit -> ANSWERED
 *   a re-targeted NOTIFY   the retarget record (ops_notify.c)         the AE's answer -> ANSWERED
 *   remote resources       the fetch (remote_fetch.c): a hook's       last answer -> AGAIN
 *   (group members)        resources on other CSEs, retrieved
 *   an ESPrim inner req.   the ESPrim job (e2e/esprim.c)              inner answer -> ANSWERED
 *
 * A step parks by taking the continuation with op_park() (false: the caller cannot park, answer
 * now) and returning CSE_PENDING; from then on nothing touches c->rsp but the holder. The holder
 * resumes it exactly once, from any thread, with cont_resume():
 *  - CONT_ANSWERED: rsp holds the answer (a step that must finish on the request's own thread
 *    sets rsp->finish first: cse_complete runs it there);
 *  - CONT_AGAIN: the pipeline runs again for the same request (without the checks made on
 *    receipt, with what the wait produced, e.g. rsp->das), which may park once more on the same
 *    continuation or answer. It runs on a resume thread (park.c's run queue), never on the thread
 *    that resumed it (the outbound seam's delivery thread, the expiry thread) nor a binding's.
 * cont_resume then calls the caller's done(arg); the caller calls cse_complete on its own thread,
 * which is unchanged for every binding. No thread waits for a parked request: the writer, the
 * outbound seam's client sides (forwarded requests, DAS consultations, verification and
 * Blocking_Update answers), the expiry thread and the bounded fan-out / resume / non-blocking
 * workers each resume what they were waiting for. */
#ifndef WARDEN_CORE_PARK_H
#define WARDEN_CORE_PARK_H

#include <stdbool.h>
#include <stddef.h>

struct cse;
struct cse_request;
struct cse_response;

/* What a parked request waits for (for the log and explain; the mechanism is the same). */
enum park_why {
    PARK_NONE = 0,
    PARK_COMMIT,   /* the writer's commit */
    PARK_VERIFY,   /* subscription verification answers */
    PARK_BLOCKING, /* a Blocking_Update subscriber */
    PARK_DAS,      /* a DAS consultation */
    PARK_FORWARD,  /* a request forwarded to another CSE */
    PARK_FANOUT,   /* the members of a group fan-out */
    PARK_OET,      /* the Operation Execution Time */
    PARK_POLL,     /* a long poll of a polling channel */
    PARK_NBR,      /* a non-blocking request's <request> commit */
    PARK_RETARGET, /* a NOTIFY re-targeted to an AE's pointOfAccess */
    PARK_FETCH,    /* resources on other CSEs a hook needs (remote_fetch.c) */
    PARK_ESPRIM,   /* the inner request of an ESPrim object (e2e/esprim.c) */
};

/* The continuation of one request. Plain value: copy it into what the request waits for. */
struct cse_cont {
    struct cse *cse;
    const struct cse_request *req;
    struct cse_response *rsp;
    void (*done)(void *arg); /* the caller of cse_dispatch; NULL: it cannot park (then nothing parks) */
    void *arg;
    enum park_why why; /* set by the step that parked it */
};

enum cont_how {
    CONT_ANSWERED, /* rsp holds the answer */
    CONT_AGAIN,    /* run the pipeline again for the request (the route step on), then answer */
};

/* Resume a parked request: exactly once per park, from any thread. k is read before anything is
 * called (the holder may free its copy right after). */
void cont_resume(const struct cse_cont *k, enum cont_how how);

/* Can this continuation park (its caller gave a done)? */
static inline bool cont_can_park(const struct cse_cont *k)
{
    return k->done != NULL;
}

#endif
