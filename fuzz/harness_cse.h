/* harness_cse: an in-process CSE for the pipeline fuzzers (see harness_cse.c). */
#ifndef WARDEN_FUZZ_HARNESS_CSE_H
#define WARDEN_FUZZ_HARNESS_CSE_H

struct cse;

/* Set up the CSE and its tree once; safe to call repeatedly. */
void harness_init(void);
/* The CSE of harness_init(), for harnesses that drive a binding on it. */
struct cse *harness_cse(void);
/* Run one request given in http_text form through the HTTP mapping and cse_dispatch, waiting for
 * a parked request to complete. */
void harness_run(const char *text);

#endif
