/* coap_blockwise: block-wise transfer state of the CoAP server (see coap_blockwise.h). The table is
 * a list in least-recently-used order (most recent first); it holds at most lim.total entries, so
 * the linear scans stay short. */
#include "coap_blockwise.h"

#include <stdio.h>
#include <string.h>

#include "util/mem.h"

enum bw_kind { BW_IN, BW_OUT };

struct bw_entry {
    struct bw_entry *prev, *next;
    enum bw_kind kind;
    char *peer;
    uint8_t *key;
    size_t keylen;
    int64_t used_us;
    /* BW_IN: the body so far */
    uint8_t *buf;
    size_t len, cap;
    uint32_t last_num; /* NUM of the last block stored */
    size_t last_off;   /* where that block starts */
    /* BW_OUT: the kept response (its pointers into opts/body below) */
    struct bw_response rsp;
    uint8_t *opts, *body;
};

struct bw_table {
    struct bw_limits lim;
    struct bw_entry *head;
    size_t n, bytes;
    uint64_t etag;
};

bool bw_block_parse(const uint8_t *val, size_t len, struct bw_block *out)
{
    if (len > 3)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++)
        v = (v << 8) | val[i];
    out->num = v >> 4;
    out->more = (v & 0x8) != 0;
    out->szx = v & 0x7;
    return out->szx <= BW_SZX_MAX;
}

size_t bw_block_encode(const struct bw_block *b, uint8_t out[3])
{
    uint32_t v = (b->num << 4) | (b->more ? 0x8u : 0u) | (b->szx & 0x7u);
    size_t n = v > 0xffff ? 3 : v > 0xff ? 2 : v > 0 ? 1 : 0;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return n;
}

struct bw_table *bw_new(const struct bw_limits *lim)
{
    struct bw_table *t = mem_calloc(1, sizeof *t);
    t->lim = *lim;
    if (t->lim.per_peer == 0)
        t->lim.per_peer = 1;
    if (t->lim.total < t->lim.per_peer)
        t->lim.total = t->lim.per_peer;
    if (t->lim.total_bytes < t->lim.max_body)
        t->lim.total_bytes = t->lim.max_body;
    return t;
}

static size_t entry_bytes(const struct bw_entry *e)
{
    return e->kind == BW_IN ? e->cap : e->rsp.opts_len + e->rsp.body_len;
}

static void unlink_entry(struct bw_table *t, struct bw_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        t->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(struct bw_table *t, struct bw_entry *e)
{
    e->next = t->head;
    if (t->head)
        t->head->prev = e;
    t->head = e;
}

static void drop(struct bw_table *t, struct bw_entry *e)
{
    unlink_entry(t, e);
    t->n--;
    t->bytes -= entry_bytes(e);
    mem_free(e->peer);
    mem_free(e->key);
    mem_free(e->buf);
    mem_free(e->opts);
    mem_free(e->body);
    mem_free(e);
}

void bw_free(struct bw_table *t)
{
    if (t == NULL)
        return;
    while (t->head)
        drop(t, t->head);
    mem_free(t);
}

void bw_expire(struct bw_table *t, int64_t now_us)
{
    struct bw_entry *e = t->head, *next;
    for (; e; e = next) {
        next = e->next;
        if (now_us - e->used_us >= t->lim.timeout_us)
            drop(t, e);
    }
}

size_t bw_count(const struct bw_table *t, size_t *bytes)
{
    if (bytes)
        *bytes = t->bytes;
    return t->n;
}

static struct bw_entry *find(struct bw_table *t, enum bw_kind kind, const struct bw_id *id)
{
    for (struct bw_entry *e = t->head; e; e = e->next)
        if (e->kind == kind && e->keylen == id->keylen && memcmp(e->key, id->key, id->keylen) == 0)
            return e;
    return NULL;
}

static void touch(struct bw_table *t, struct bw_entry *e, int64_t now_us)
{
    e->used_us = now_us;
    unlink_entry(t, e);
    push_front(t, e);
}

/* Make room for one more entry of peer holding `need` more bytes: evict that peer's least recently
 * used entries beyond the per-peer bound, then the table's beyond the totals. `keep` is never
 * evicted. false when even an empty table could not hold `need` bytes. */
static bool make_room(struct bw_table *t, const char *peer, size_t need, const struct bw_entry *keep, bool adding)
{
    if (need > t->lim.total_bytes)
        return false;
    if (adding) {
        size_t mine = 0;
        struct bw_entry *oldest = NULL;
        for (struct bw_entry *e = t->head; e; e = e->next)
            if (strcmp(e->peer, peer) == 0) {
                mine++;
                oldest = e;
            }
        if (mine >= t->lim.per_peer && oldest && oldest != keep)
            drop(t, oldest);
    }
    for (;;) {
        struct bw_entry *tail = NULL;
        for (struct bw_entry *e = t->head; e; e = e->next)
            if (e != keep)
                tail = e;
        bool over = (adding && t->n >= t->lim.total) || t->bytes + need > t->lim.total_bytes;
        if (!over || tail == NULL)
            return !over;
        drop(t, tail);
    }
}

static struct bw_entry *add(struct bw_table *t, enum bw_kind kind, const struct bw_id *id, int64_t now_us)
{
    struct bw_entry *e = mem_calloc(1, sizeof *e);
    e->kind = kind;
    e->peer = mem_strdup(id->peer);
    e->key = mem_alloc(id->keylen ? id->keylen : 1);
    if (id->keylen)
        memcpy(e->key, id->key, id->keylen);
    e->keylen = id->keylen;
    e->used_us = now_us;
    push_front(t, e);
    t->n++;
    return e;
}

static enum bw_rx fail(struct bw_table *t, struct bw_entry *e, unsigned c, unsigned *code, char *why, size_t whylen,
                       const char *text)
{
    if (e)
        drop(t, e);
    *code = c;
    snprintf(why, whylen, "%s", text);
    return BW_RX_ERROR;
}

enum bw_rx bw_block1(struct bw_table *t, const struct bw_id *id, const struct bw_block *b, const uint8_t *data,
                     size_t len, int64_t now_us, uint8_t **body, size_t *body_len, unsigned *code, char *why,
                     size_t whylen)
{
    *body = NULL;
    *body_len = 0;
    *code = 0;
    size_t size = (size_t)16 << b->szx;
    struct bw_entry *e = find(t, BW_IN, id);
    if (e && now_us - e->used_us >= t->lim.timeout_us) { /* expired, whether or not swept yet */
        drop(t, e);
        e = NULL;
    }
    /* RFC 7959 §2.2: every block but the last carries exactly the block size */
    if (b->more && len != size)
        return fail(t, e, 400, code, why, whylen, "a Block1 block with M=1 must carry exactly 2^(SZX+4) bytes");
    if (b->num == 0 && e) { /* a new transfer with the same key replaces the old one */
        drop(t, e);
        e = NULL;
    }
    if (b->num == 0 && !b->more) { /* the whole body in one block */
        if (len > t->lim.max_body)
            return fail(t, NULL, 413, code, why, whylen, "request body exceeds limits.max_body");
        if (len) {
            *body = mem_alloc(len);
            memcpy(*body, data, len);
        }
        *body_len = len;
        return BW_RX_COMPLETE;
    }
    uint64_t off = (uint64_t)b->num * size;
    if (e == NULL && b->num != 0) /* RFC 7959 §2.9.2 */
        return fail(t, NULL, 408, code, why, whylen,
                    "Block1 block without the blocks before it (transfer unknown or expired)");
    if (e && b->num == e->last_num && off == e->last_off && e->last_off + len == e->len) {
        /* a retransmission of the last block stored (its ACK was lost): answer it again */
        touch(t, e, now_us);
        if (b->more)
            return BW_RX_CONTINUE;
    } else {
        if (e && off != e->len)
            return fail(t, e, 408, code, why, whylen, "Block1 block out of order");
        size_t have = e ? e->len : 0;
        if (have + len > t->lim.max_body)
            return fail(t, e, 413, code, why, whylen, "request body exceeds limits.max_body");
        size_t cap = e ? e->cap : 0;
        size_t want = cap;
        if (have + len > cap) {
            want = cap ? cap * 2 : size * 4;
            while (want < have + len)
                want *= 2;
            if (want > t->lim.max_body)
                want = t->lim.max_body;
        }
        size_t grow = want - cap;
        if (!make_room(t, id->peer, grow, e, e == NULL))
            return fail(t, e, 413, code, why, whylen, "the server holds too many block-wise bodies");
        if (e == NULL)
            e = add(t, BW_IN, id, now_us);
        if (grow) {
            e->buf = mem_realloc(e->buf, want);
            e->cap = want;
            t->bytes += grow;
        }
        if (len)
            memcpy(e->buf + e->len, data, len);
        e->last_num = b->num;
        e->last_off = e->len;
        e->len += len;
        touch(t, e, now_us);
        if (b->more)
            return BW_RX_CONTINUE;
    }
    /* the last block: hand the body over */
    *body_len = e->len;
    if (e->len) {
        *body = mem_alloc(e->len);
        memcpy(*body, e->buf, e->len);
    }
    drop(t, e);
    return BW_RX_COMPLETE;
}

uint64_t bw_block2_put(struct bw_table *t, const struct bw_id *id, const struct bw_response *rsp, int64_t now_us)
{
    struct bw_entry *e = find(t, BW_OUT, id);
    if (e)
        drop(t, e);
    size_t need = rsp->opts_len + rsp->body_len;
    if (!make_room(t, id->peer, need, NULL, true))
        return 0;
    e = add(t, BW_OUT, id, now_us);
    e->rsp = *rsp;
    e->opts = mem_alloc(rsp->opts_len ? rsp->opts_len : 1);
    if (rsp->opts_len)
        memcpy(e->opts, rsp->opts, rsp->opts_len);
    e->body = mem_alloc(rsp->body_len ? rsp->body_len : 1);
    if (rsp->body_len)
        memcpy(e->body, rsp->body, rsp->body_len);
    e->rsp.opts = e->opts;
    e->rsp.body = e->body;
    if (++t->etag == 0)
        ++t->etag;
    e->rsp.etag = t->etag;
    t->bytes += need;
    return e->rsp.etag;
}

const struct bw_response *bw_block2_get(struct bw_table *t, const struct bw_id *id, int64_t now_us)
{
    struct bw_entry *e = find(t, BW_OUT, id);
    if (e == NULL)
        return NULL;
    if (now_us - e->used_us >= t->lim.timeout_us) {
        drop(t, e);
        return NULL;
    }
    touch(t, e, now_us);
    return &e->rsp;
}
