/* metrics: the server's counters (requests by binding, operation and status; latency histograms;
 * commit batch sizes; DAS consultations; authentication failures and denials by reason), kept with
 * relaxed atomic adds only, so the request path takes no lock (README "Operations: health and
 * metrics"). metrics_render() formats them, with the notifier's and the store's figures read at that
 * moment, in the Prometheus text exposition format (version 0.0.4). No I/O here: the metrics
 * listener (bindings/http/metrics_http.c) serves the text. */
#ifndef WARDEN_CORE_METRICS_H
#define WARDEN_CORE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cse;
struct metrics;

/* NULL never: allocation failure aborts like every mem_ allocation. Freed by metrics_free. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* One answered request: binding name ("http", "mqtt", ...), operation (enum cse_op), the RSC sent,
 * and the time from its first byte to its answer. */
void metrics_request(struct metrics *m, const char *binding, int op, int rsc, int64_t elapsed_us);
/* A refusal (4103, 4106, 4107) and its machine reason (a static string). */
void metrics_denial(struct metrics *m, int rsc, const char *reason);
/* A TLS or DTLS handshake refused by the security association check (tlsauth), by reason. */
void metrics_handshake_failure(struct metrics *m, const char *reason);
/* A store commit of jobs write jobs (the store's on_batch observer). */
void metrics_batch(void *m, size_t jobs);
/* A Dynamic Authorization Server consultation and its outcome ("granted", "refused",
 * "das-unavailable", "das-bad-answer" ...; a static string). */
void metrics_das(struct metrics *m, const char *outcome);

/* Requests and errors (RSC >= 4000) answered so far, for the console's rate display. */
void metrics_totals(struct metrics *m, uint64_t *requests, uint64_t *errors);

/* The exposition text (owned, NUL-terminated; *len its length). Reads the store (resource counts)
 * on a view of its own. */
char *metrics_render(struct cse *cse, size_t *len);

/* The health answer: true when the store answers a read and the server is ready (every configured
 * binding started, not shutting down). why says what is not up. */
bool metrics_healthy(struct cse *cse, char *why, size_t whylen);

#endif
