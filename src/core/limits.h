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

/* Group Request Identifiers remembered with the targets they reached (core/gidlist.c; TS-0004
 * §7.3.3.2): until the request's rqet, at most LIMIT_GID_KEEP_S (the clause leaves the period to
 * local policy: two minutes is far beyond any forward.timeout, so a group request still on its way
 * is recognised, and a later one with the same gid is a new request), and at most LIMIT_GID_ENTRIES
 * (four fan-outs of limits.fanout_requests members; 4096 entries take well under 1 MiB), the oldest
 * forgotten first. */
#define LIMIT_GID_ENTRIES 4096
#define LIMIT_GID_KEEP_S  120

/* Threads that run the pipeline again for parked requests resumed with CONT_AGAIN (core/park.c): a
 * request whose DAS answered, or whose Operation Execution Time came. Started on demand, ended when
 * nothing waits; the outbound seam's delivery thread and the expiry thread never run a pipeline.
 * Two, like the fan-out threads: the work is short (one decision, one store read or commit). */
#define LIMIT_RESUME_THREADS 2

/* Fan-outs parked waiting for a fan-out thread before new ones are refused with 5000 (like the
 * write queue): bounds their memory when a binding without a connection limit (MQTT) floods them. */
#define LIMIT_FANOUT_QUEUE 4096

/* (config limits.nonblocking_pending, limits.nonblocking_per_originator) Non-blocking requests
 * (TS-0004 §7.3.2.2) accepted and not completed yet. Each holds a copy of its request (up to
 * limits.max_body) while it waits for its turn or its commit; the total bounds that memory, the per
 * originator share keeps one client from taking all of it. Beyond, 5206: the client falls back to
 * a blocking request. */
#define LIMIT_NONBLOCKING_PENDING        1024
#define LIMIT_NONBLOCKING_PER_ORIGINATOR 32
/* (config limits.nonblocking_bytes) ... and the request content they hold together: 1024 requests
 * of limits.max_body would be 1 GiB; 64 MiB keeps the copies in proportion to the rest. */
#define LIMIT_NONBLOCKING_BYTES (64 * 1024 * 1024)

/* (config limits.nonblocking_lifetime) Seconds a <request> resource is kept: long enough for an
 * originator that polls now and then, short enough that results do not pile up in the store. */
#define LIMIT_NONBLOCKING_LIFETIME_S 3600

/* (config limits.polling_queue, limits.polling_timeout, limits.polling_lifetime) Requests queued for
 * one AE's polling channel (TS-0001 §9.6.21) and as many delivered awaiting its answer: an AE that
 * polls rarely costs bounded memory, the oldest unanswered one goes first. A long poll waits 30 s,
 * below the usual 60 s of HTTP intermediaries; a request waits 10 minutes for a sleepy device. */
#define LIMIT_POLLING_QUEUE      64
#define LIMIT_POLLING_TIMEOUT_MS 30000
#define LIMIT_POLLING_LIFETIME_S 600
/* Parked polls of one channel: a client that polls again before its previous poll was answered
 * has moved on; beyond, the oldest is answered 4008. */
#define LIMIT_POLLING_WAITERS 4

/* notificationURIs in the Response Type of one nonBlockingRequestAsynch request. */
#define LIMIT_NONBLOCKING_NU 8

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
/* The console's admin queries (core/admin.c): children per page of the tree (a page of a million
 * children costs its own rows: keyset paging), audit records per answer, and the bytes of the
 * audit file's end read to find them (newest first), so a large log costs a bounded read. */
#define LIMIT_ADMIN_PAGE        500
#define LIMIT_ADMIN_AUDIT       1000
#define LIMIT_ADMIN_AUDIT_BYTES (8 * 1024 * 1024)
/* (config limits.rate, limits.rate_burst) Requests per second one originator may make, as a token
 * bucket: a burst of rate_burst, then rate per second. Off (0) by default: the benchmark's single
 * originator makes ~45,000 requests/s, and deployments differ too widely for one number; an operator
 * sets it from the devices' expected traffic. Checked after authentication, so a spoofed From
 * cannot spend another originator's tokens. */
#define LIMIT_RATE       0
#define LIMIT_RATE_BURST 200

/* (config limits.rate_originators) Buckets kept at once (about 150 bytes each, allocated only when
 * limits.rate is on): memory stays bounded whatever the number of originators. 8-way sets; in a full
 * set the most refilled (idlest) bucket is reused, so only an originator quiet long enough to have
 * refilled is forgotten, and forgetting it costs it nothing. */
#define LIMIT_RATE_ORIGINATORS 16384

/* (config limits.quota_count, limits.quota_bytes) Resources, and bytes of their stored
 * representations, one originator (by creator) may hold: one AE created 100,000 instances (211 MB)
 * in 27 s. The defaults stop a runaway device long before the disk fills while leaving the
 * benchmark's ~500,000 creates per run room; the admin is exempt. */
#define LIMIT_QUOTA_COUNT 1000000
#define LIMIT_QUOTA_BYTES (1024L * 1024 * 1024)

/* Timers armed and not yet due (core/timers.c): one per monitored <timeSeries> in the steady state
 * (each instance re-arms its series), so this bounds memory against a flood of series, not the
 * normal load. An arm beyond it is dropped with a warning: that series' missing-data detection
 * resumes with its next instance. */
#define LIMIT_TIMERS (1024 * 1024)
/* Due timers run in one writer transaction, so a burst of them does not stall writers. */
#define LIMIT_TIMER_BATCH 200
/* periodicIntervalDelta when a <timeSeries> sets periodicInterval without it (TS-0004 §7.4.38.2.1:
 * "according to local policy"): this fraction of periodicInterval, within the pei/2 bound. */
#define TS_PEID_DEFAULT_DIVISOR 10
/* The shortest periodicInterval (ms) of a <timeSeries> that detects missing data: each missed
 * point is a writer transaction, so a series may not ask for more than a few a second. */
#define LIMIT_TS_MIN_PEI_MS 100
/* missingDataList entries kept (and the largest missingDataMaxNr): a series that misses its points
 * for ever does not grow without bound. */
#define LIMIT_TS_MISSING_LIST 256

/* Entries of a <schedule>'s scheduleElement (TS-0004 Table 7.4.9.1-3): each is checked against
 * the clock for every notification of a subscription it schedules, so a few dozen windows are
 * plenty for a day's plan and keep that check cheap. */
#define LIMIT_SCHEDULE_ENTRIES 64
/* regularResourcesAsTarget of a <crossResourceSubscription>: the CSE creates one <subscription>
 * per target in the creating transaction, so their number is bounded like a group's members. */
#define LIMIT_CRS_TARGETS 32
/* timeWindowSize of a <crossResourceSubscription> (TS-0001 §9.6.58 lets the CSE enforce a
 * maximum): events are held in its window state that long. */
#define LIMIT_CRS_WINDOW_MAX_MS 86400000
/* missingData windows of subscriptions (TS-0004 §7.5.1.2.9) kept in memory at once: a window ends
 * after its subscription's md.dur or with the subscription, and one beyond this bound is not opened
 * (that missing point is then counted alone). */
#define LIMIT_MD_WINDOWS 4096

/* A representation's root key, "m2m:<sn>" or a specialisation's "<namespace>:<name>" (a flexContainer's,
 * from its definition): longer ones are refused when definitions are loaded. */
#define LIMIT_ROOT_LEN 64

/* CSE registration (core/registration.c): the first retry delay after a failed attempt, doubling
 * up to the cap, so a registrar that is down is asked about once a minute, not flooded. */
#define LIMIT_REGISTRATION_RETRY_MS   1000
#define LIMIT_REGISTRATION_BACKOFF_MS 60000

/* Requests one CSE forwards to other CSEs at once (route.c): each parks its request and holds a
 * connection slot of the HTTP client; beyond, a forward is refused at once with 5103 rather than
 * queued without bound. */
#define LIMIT_FORWARD_INFLIGHT 4096

/* One ESCertKE Message (TS-0003 §8.7, a flight of TLS 1.2 records), decoded: a flight holds at most
 * a certificate chain of a few certificates (TS-0003 §10.1.1.3 asks for short chains) and a few
 * hundred bytes of handshake; anything larger is refused before any TLS processing. */
#define LIMIT_ESCERTKE_MSG 16384

/* Requests the MQTT client side has published and waits for the response of (TS-0010 §6.4: matched
 * by rqi on /oneM2M/resp/<this CSE>/...): forwarded requests, registration and its checks, NOTIFYs
 * to CSEs. The table is scanned per response, so it stays small; beyond it a send is refused at once
 * (5103 for a forwarded request) instead of queued without bound. */
#define LIMIT_MQTT_OUT_INFLIGHT 512
/* ESPrim (e2e/esprim.c, TS-0003 §8.4): receiver rand objects this CSE remembers (sit 3 answers and
 * the shared one; the oldest is forgotten first, and an object naming it then gets 4114; how long
 * one lives is esprim.rand_lifetime), and the replay cache: the ESPrim objects accepted recently
 * (two generations of this many each, 16 bytes per entry in a table twice that size; an object seen
 * in either is refused; when one is forgotten, the rand objects issued before the other began are
 * retired, so originators renew theirs about every this many requests). */
#define LIMIT_ESPRIM_RAND_OBJECTS 1024
#define LIMIT_ESPRIM_REPLAY       32768
/* Originator rand objects the ESPrim receiver keeps (TS-0003 §8.4.2 C.6b.2: cached on first use, so
 * the originator's next objects name it by "ori" alone), each until its own expiry (at most the
 * receiver object's lifetime); when full, the one expiring first is forgotten and an object naming
 * it gets 4113 (the client library then sends the whole "oro" again). About 300 bytes each. */
#define LIMIT_ESPRIM_ORIG_RAND_OBJECTS 1024
/* CSEs registered with this one that are told its e2eSecInfo (TS-0003 §8.4.2 B.1b); beyond, none */
#define LIMIT_ESPRIM_ESI_PEERS 64

#endif
