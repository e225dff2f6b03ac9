/* limits: every hard limit of Warden in one place, each with its reason (cf. SQLite's sqliteLimit.h).
 * Limits marked (config) are defaults of a configuration key; the rest are compile-time. */
#ifndef WARDEN_CORE_LIMITS_H
#define WARDEN_CORE_LIMITS_H

/* (config http.header_limit) Memory libmicrohttpd may use per connection for the request line
 * and headers. oneM2M headers are short; 16 KiB leaves room for long tokens (issue: tokens in
 * Authorization) while a 100 KB header is refused before it reaches the core. */
#define LIMIT_HEADER_BYTES (16 * 1024)

/* (config limits.max_body) Largest request body accepted. Content instances are small sensor
 * readings; 1 MiB bounds memory per in-flight request (connections x body) and is refused early
 * from Content-Length, before any byte of the body is buffered. */
#define LIMIT_BODY_BYTES (1024 * 1024)

/* (config coap.block_transfers) Open block-wise transfers per CoAP peer address: a client sends
 * one body at a time, a few in parallel at most; 4 bounds what one address can make the CSE buffer
 * (4 x limits.max_body) while a new transfer beyond it replaces that peer's oldest. */
#define LIMIT_COAP_BLOCK_TRANSFERS_PER_PEER 4

/* (config coap.block_timeout) Milliseconds a block-wise transfer may wait for its next block.
 * RFC 7252's MAX_TRANSMIT_WAIT is 93 s for one block's retransmissions; a client sends its next
 * block as soon as the previous is acknowledged, so 30 s is generous, and the memory comes back. */
#define LIMIT_COAP_BLOCK_TIMEOUT_MS 30000

/* Open block-wise transfers over all CoAP peers, and the bytes they may hold (at least one
 * limits.max_body). UDP source addresses cost nothing to vary, so the per-peer bound alone does not
 * bound memory; beyond these the least recently used transfer is dropped (its client gets 4.08). */
#define LIMIT_COAP_BLOCK_TRANSFERS 256
#define LIMIT_COAP_BLOCK_BYTES     (64 * 1024 * 1024)

/* Deepest JSON nesting accepted in a resource representation. oneM2M's deepest standard
 * structures (filter criteria inside subscriptions, ACP rules with contexts) need < 10 levels;
 * 16 refuses hostile nesting before any recursive walk over it. jansson itself stops at 2048. */
#define LIMIT_JSON_DEPTH 16

/* Attributes in one representation: bounds per-request validation work. */
#define LIMIT_ATTRIBUTES 64

/* Elements in one list attribute (lbl, poa, srv, acpi ...). */
#define LIMIT_LIST_ITEMS 256

/* Length of a resourceName and of one path segment; also the longest ID segment. */
#define LIMIT_NAME_LEN 255

/* Length of a whole target address or originator ID. */
#define LIMIT_ID_LEN 1024

/* Segments in a structured address: the tree depth a client can create. Deep trees make
 * subtree deletes and path checks long; 64 is far beyond any oneM2M deployment. */
#define LIMIT_PATH_DEPTH 64

/* Request header fields and query parameters of one HTTP request. oneM2M needs about ten of
 * each; beyond, the request is refused with 4000 before the core sees it (libmicrohttpd 0.9.75 would
 * otherwise exhaust its per-connection memory on a few hundred parameters and never answer). */
#define LIMIT_HTTP_HEADERS 64
#define LIMIT_QUERY_PARAMS 64

/* (config http.timeout) Seconds a connection may stay idle before it is closed. */
#define LIMIT_IDLE_TIMEOUT_S 10

/* (config http.head_timeout) Seconds a request head may take in all, from the accept (or the end
 * of the previous response on a kept-alive connection) to its last header line, however slowly it
 * trickles in: the idle timeout alone restarts with every byte, so a slow-loris sending one byte
 * every few seconds would be kept forever. Longer than the idle timeout, so that a kept-alive
 * connection that waited almost that long still has time for its next head. */
#define LIMIT_HEAD_TIMEOUT_S 15

/* (config http.max_conns_per_ip) Concurrent connections from one peer: one client (or a
 * slow-loris) cannot take all connection slots. A peer is an IPv4 address or an IPv6 /64, the
 * smallest prefix a site is given (RFC 6177): one host holds a whole /64 and could otherwise
 * use a fresh address for every connection. */
#define LIMIT_CONNS_PER_IP 64

/* (config http.max_conns) Concurrent connections in total; bounds memory. */
#define LIMIT_CONNS_TOTAL 1024

/* Nesting of fanOutPoints (a group whose members are groups' fanOutPoints ...): bounds the work one
 * request can cause and stops member cycles. */
#define LIMIT_FANOUT_DEPTH 4

/* (config limits.fanout_requests) Member requests one group request may cause, at all nesting
 * levels together. Each group lists at most LIMIT_LIST_ITEMS members, but groups that list each
 * other's fanOutPoints multiplied that by itself per level (16 such groups: 70,000 member requests
 * for one GET). A member is reached at most once per request, and 1024 member requests cover four
 * full groups or a 32 x 32 two-level tree. Beyond it the request is answered 4000 as a whole: the
 * policy is local (TS-0004 §7.4.14), a 4xxx says the same request will fail again (a 5xxx would
 * invite retries of work the CSE refuses), as for LIMIT_FANOUT_DEPTH, and a partial aggregate would
 * look like a complete one. */
#define LIMIT_FANOUT_REQUESTS 1024

/* (config limits.fanout_bytes) Aggregated member responses one group request may collect before
 * it is answered 4000 (same reasons): the aggregate is held in memory, and re-encoded per nesting
 * level, until it is sent. 4 MiB is four largest request bodies (limits.max_body). */
#define LIMIT_FANOUT_BYTES (4 * 1024 * 1024)

/* (config limits.fanout_threads) Group fan-outs worked on at once. A request to a fanOutPoint parks
 * (its binding thread serves other requests meanwhile) while a fan-out thread issues its member
 * requests; more fan-outs wait for a thread, parked. Two keep fan-outs from taking every core. */
#define LIMIT_FANOUT_THREADS 2

/* Fan-outs parked waiting for a fan-out thread before new ones are refused with 5000 (like the
 * write queue): bounds their memory when a binding without a connection limit (MQTT) floods them. */
#define LIMIT_FANOUT_QUEUE 4096

/* Results of one discovery request when the request gives no lim. */
#define LIMIT_DISCOVERY_RESULTS 1000

/* Child resources embedded by rcn 4/8 (attributes + children), over all levels. */
#define LIMIT_CHILDREN_EMBEDDED 1000

/* Requests the store writer folds into one commit (group commit). Larger batches amortise the
 * commit further but delay the first response of the batch. */
#define LIMIT_WRITE_BATCH 256

/* Write jobs waiting for the writer before new writes are refused with 5000: bounds memory
 * when the disk cannot keep up. */
#define LIMIT_WRITE_QUEUE 4096

/* Resources removed by one expiry sweep transaction, so a mass expiry does not stall writers. */
#define LIMIT_EXPIRY_BATCH 200

/* (config notify.batch_num, notify.batch_dur) Largest bn.num and longest bn.dur (seconds) of a
 * subscription: a batch holds every notification it aggregates in memory until then. */
#define LIMIT_BATCH_NUM   1000
#define LIMIT_BATCH_DUR_S 3600

/* (config notify.batch_bytes, notify.batch_total) Bytes of notifications one batch and all batches
 * may hold: one AE's subscriptions must not turn the CSE's memory into a queue (issue 12, finding 6:
 * +400 MB from 200 requests). A batch beyond either is sent early, never dropped. */
#define LIMIT_BATCH_BYTES       (1024 * 1024)
#define LIMIT_BATCH_TOTAL_BYTES (64 * 1024 * 1024)

/* (config notify.max_subs) Subscriptions on one resource: every one of them is looked up and
 * decided inside the writer's transaction of each event on that resource. */
#define LIMIT_SUBS_PER_RESOURCE 256

/* (config notify.max_targets) Notification targets one event can reach (the nu entries of all
 * subscriptions of a resource): bounds the outbound requests one CREATE can cause (finding 8). */
#define LIMIT_EVENT_TARGETS 256

/* CSE registration (core/registration.c): the first retry delay after a failed attempt, doubling
 * up to the cap, so a registrar that is down is asked about once a minute, not flooded. */
#define LIMIT_REGISTRATION_RETRY_MS   1000
#define LIMIT_REGISTRATION_BACKOFF_MS 60000

/* Requests one CSE forwards to other CSEs at once (route.c): each parks its request and holds a
 * connection slot of the HTTP client; beyond, a forward is refused at once with 5103 rather than
 * queued without bound. */
#define LIMIT_FORWARD_INFLIGHT 4096

#endif
