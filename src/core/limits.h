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

/* (config http.timeout) Seconds a connection may stay idle before it is closed. */
#define LIMIT_IDLE_TIMEOUT_S 10

/* (config http.max_conns_per_ip) Concurrent connections from one peer address: one client
 * (or a slow-loris) cannot take all connection slots. */
#define LIMIT_CONNS_PER_IP 64

/* (config http.max_conns) Concurrent connections in total; bounds memory. */
#define LIMIT_CONNS_TOTAL 1024

/* Nesting of fanOutPoints (a group whose members are groups' fanOutPoints ...): bounds the work one
 * request can cause and stops member cycles. */
#define LIMIT_FANOUT_DEPTH 4

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

/* Requests parked until their Operation Execution Time (TS-0004 §7.3.3.x) at once: each holds its
 * connection and request; beyond, a request with a future OET is refused with 5000. */
#define LIMIT_DEFERRED_REQUESTS 1024

/* How far ahead an Operation Execution Time may lie (seconds): a blocking request parks that long
 * holding its connection; a later one is a feature this CSE does not offer (5001, TS-0004 §7.3.2.1). */
#define LIMIT_OET_AHEAD_S 600

/* UPDATEs waiting at once for the answer to a Blocking_Update notification (TS-0004 §7.5.1.2.19);
 * beyond, such an UPDATE is refused with 5000. */
#define LIMIT_BLOCKING_UPDATES 64

/* Resources removed by one expiry sweep transaction, so a mass expiry does not stall writers. */
#define LIMIT_EXPIRY_BATCH 200

#endif
