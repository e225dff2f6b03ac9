/* coap_blockwise: Warden's own block-wise transfer state (RFC 7959) for the CoAP server: Block1
 * request bodies reassembled here, large responses kept here for the Block2 follow-ups. libcoap
 * 4.3.1's reassembly (COAP_BLOCK_USE_LIBCOAP on server sessions) dereferences NULL on two empty
 * blocks (issue 12 finding 1), so the server context runs libcoap without block handling and this
 * module does it. Pure: no libcoap, no sockets, no clock of its own; the CoAP thread owns a table. */
#ifndef WARDEN_BINDINGS_COAP_BLOCKWISE_H
#define WARDEN_BINDINGS_COAP_BLOCKWISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Option numbers of RFC 7959 §2.1 and §4. */
enum { BW_OPT_BLOCK2 = 23, BW_OPT_BLOCK1 = 27, BW_OPT_SIZE2 = 28, BW_OPT_SIZE1 = 60 };

/* The largest block size exponent Warden uses and accepts (1024 bytes); 7 is reserved (BERT). */
#define BW_SZX_MAX 6

struct bw_block {
    uint32_t num;
    bool more;
    unsigned szx; /* block size 2^(szx+4) */
};

/* Decode a Block1/Block2 option value (RFC 7959 §2.2): 0 to 3 bytes, NUM < 2^20, SZX < 7.
 * false when malformed. */
bool bw_block_parse(const uint8_t *val, size_t len, struct bw_block *out);
/* Encode a block option value; returns its length (0..3). */
size_t bw_block_encode(const struct bw_block *b, uint8_t out[3]);

struct bw_limits {
    size_t max_body;    /* largest reassembled request body (limits.max_body) */
    size_t per_peer;    /* open transfers per peer address (coap.block_transfers) */
    int64_t timeout_us; /* a transfer idle this long is dropped (coap.block_timeout) */
    size_t total;       /* open transfers in all (LIMIT_COAP_BLOCK_TRANSFERS) */
    size_t total_bytes; /* bytes held by all transfers (LIMIT_COAP_BLOCK_BYTES, at least max_body) */
};

struct bw_table;

/* A new, empty table (mem_alloc'd; never NULL). Free with bw_free(). */
struct bw_table *bw_new(const struct bw_limits *lim);
void bw_free(struct bw_table *t);
/* Drop transfers idle past the timeout. */
void bw_expire(struct bw_table *t, int64_t now_us);
/* Open transfers and the bytes they hold (for tests and the log). */
size_t bw_count(const struct bw_table *t, size_t *bytes);

/* Identity of one transfer: the peer address (for the per-peer bound), and the key: everything
 * that identifies the request across its blocks (transport, peer address and port, method and all
 * options but Block1, Block2, Size1, Size2: RFC 7959 §2.3, RFC 9175 §3.3 Request-Tag included). */
struct bw_id {
    const char *peer;
    const uint8_t *key;
    size_t keylen;
};

enum bw_rx {
    BW_RX_CONTINUE, /* block stored: answer 2.31 Continue with the Block1 option echoed */
    BW_RX_COMPLETE, /* last block: *body holds the whole request body */
    BW_RX_ERROR,    /* answer *code (400, 408, 413) and drop the transfer */
};

/* One Block1 block of a request (RFC 7959 §2.3, §2.9): every block but the last carries exactly
 * 2^(SZX+4) bytes, blocks come in order (a repeat of the last block is answered again and not
 * stored twice), NUM 0 starts the transfer (replacing one with the same key), the body never grows
 * past max_body (413). A new transfer beyond the per-peer or total bound evicts that peer's (or
 * the table's) least recently used one. On BW_RX_COMPLETE *body (mem_alloc'd, caller frees; NULL
 * for an empty body) and *body_len are set; on BW_RX_ERROR *code and why. */
enum bw_rx bw_block1(struct bw_table *t, const struct bw_id *id, const struct bw_block *b, const uint8_t *data,
                     size_t len, int64_t now_us, uint8_t **body /* OUT */, size_t *body_len, unsigned *code, char *why,
                     size_t whylen);

/* A response kept for its Block2 follow-ups: the code, the options to repeat in every block
 * (serialized by the caller), the body and its ETag. */
struct bw_response {
    unsigned code;
    const uint8_t *opts;
    size_t opts_len;
    const uint8_t *body;
    size_t body_len;
    uint64_t etag;
};

/* Keep a copy of rsp for follow-up requests with the same id; returns the ETag given to it. A
 * response larger than total_bytes is not kept (0 returned; the follow-ups get 4.08 then). */
uint64_t bw_block2_put(struct bw_table *t, const struct bw_id *id, const struct bw_response *rsp, int64_t now_us);
/* The kept response for id, or NULL (expired, evicted, never kept). Valid until the next call. */
const struct bw_response *bw_block2_get(struct bw_table *t, const struct bw_id *id, int64_t now_us);

#endif
