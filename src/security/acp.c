/* acp: compiled accessControlPolicy evaluation (see acp.h; TS-0003 §7.1, TS-0004 §6.3.5.x
 * accessControlRule). Unknown elements in a rule are refused at compile time: a restriction this
 * CSE did not understand must never turn into a grant. */
#include "acp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/limits.h"
#include "util/mem.h"

/* ---- compiled form ---------------------------------------------------------------------------- */

enum { CRON_SEC, CRON_MIN, CRON_HOUR, CRON_DOM, CRON_MON, CRON_DOW, CRON_YEAR, CRON_FIELDS };
#define CRON_YEAR_MIN   1970
#define CRON_YEAR_MAX   9999 /* TS-0004 scheduleEntry years run to 9999 */
#define CRON_YEAR_ITEMS 16

struct cron {
    uint64_t f[CRON_YEAR][4]; /* 256-bit sets for seconds .. day of week */
    struct {
        int lo, hi, step;
    } year[CRON_YEAR_ITEMS]; /* years as ranges: a bit set of 8000 years would be wasteful */
    int nyear;
};

struct cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int bits;
};

struct region {
    bool circle;
    double lat, lon, radius; /* degrees, metres */
    char (*cc)[3];
    int ncc;
};

struct context {
    struct cron *tw;
    int ntw;
    bool has_ip;
    struct cidr *ip;
    int nip;
    struct region *loc;
    int nloc;
};

struct objd {
    bool has_ty;
    int ty;
    char *spty;
    int *chty;
    int nchty;
};

struct rule {
    bool all;
    char **ids; /* canonical; may contain '*' */
    int nids;
    char **domains; /* "//sp-domain" */
    int ndomains;
    char **refs; /* group (later role) references */
    int nrefs;
    uint32_t acop;
    struct context *ctx;
    int nctx;
    bool acaf;
    struct objd *od;
    int nod;
};

struct acp_policy {
    struct rule *r;
    int n;
};

/* ---- helpers ---------------------------------------------------------------------------------- */

static void set_bit(uint64_t *set, int i)
{
    set[i / 64] |= (uint64_t)1 << (i % 64);
}

static bool has_bit(const uint64_t *set, int i)
{
    return (set[i / 64] >> (i % 64)) & 1;
}

static bool parse_int(const char *s, size_t n, int *out)
{
    if (n == 0 || n > 5)
        return false;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* ---- crontab ---------------------------------------------------------------------------------- */

static const int cron_lo[CRON_FIELDS] = {0, 0, 0, 1, 1, 0, CRON_YEAR_MIN};
static const int cron_hi[CRON_FIELDS] = {59, 59, 23, 31, 12, 7, CRON_YEAR_MAX};

/* One field: "*", "*\/s", "a", "a-b", "a-b/s", comma-separated. Years go to c->year, every other
 * field to its bit set. */
static bool cron_field(const char *s, size_t n, int field, struct cron *c)
{
    int lo = cron_lo[field], hi = cron_hi[field];
    const char *end = s + n;
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *item_end = comma ? comma : end;
        const char *slash = memchr(s, '/', (size_t)(item_end - s));
        const char *range_end = slash ? slash : item_end;
        int a, b, step = 1;
        if (range_end - s == 1 && *s == '*') {
            a = lo;
            b = hi;
        } else {
            const char *dash = memchr(s, '-', (size_t)(range_end - s));
            if (!parse_int(s, (size_t)((dash ? dash : range_end) - s), &a))
                return false;
            b = a;
            if (dash && !parse_int(dash + 1, (size_t)(range_end - dash - 1), &b))
                return false;
            if (slash && !dash)
                b = hi;
        }
        if (slash && (!parse_int(slash + 1, (size_t)(item_end - slash - 1), &step) || step == 0))
            return false;
        if (a < lo || b > hi || a > b)
            return false;
        if (field == CRON_YEAR) {
            if (c->nyear == CRON_YEAR_ITEMS)
                return false;
            c->year[c->nyear].lo = a;
            c->year[c->nyear].hi = b;
            c->year[c->nyear].step = step;
            c->nyear++;
        } else {
            for (int v = a; v <= b; v += step)
                set_bit(c->f[field], field == CRON_DOW && v == 7 ? 0 : v);
        }
        s = comma ? comma + 1 : end;
        if (comma && s == end)
            return false;
    }
    return true;
}

static bool cron_parse(const char *spec, struct cron *c)
{
    memset(c, 0, sizeof *c);
    const char *p = spec;
    for (int f = 0; f < CRON_FIELDS; f++) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *e = p;
        while (*e && *e != ' ' && *e != '\t')
            e++;
        if (e == p || !cron_field(p, (size_t)(e - p), f, c))
            return false;
        p = e;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0';
}

static bool cron_match(const struct cron *c, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL)
        return false;
    int64_t year = (int64_t)tm.tm_year + 1900; /* 64-bit: tm_year may be near INT_MIN for odd times */
    bool year_ok = false;
    for (int i = 0; i < c->nyear && !year_ok; i++)
        year_ok = year >= c->year[i].lo && year <= c->year[i].hi && (year - c->year[i].lo) % c->year[i].step == 0;
    return year_ok && has_bit(c->f[CRON_SEC], tm.tm_sec > 59 ? 59 : tm.tm_sec) && has_bit(c->f[CRON_MIN], tm.tm_min) &&
           has_bit(c->f[CRON_HOUR], tm.tm_hour) && has_bit(c->f[CRON_DOM], tm.tm_mday) &&
           has_bit(c->f[CRON_MON], tm.tm_mon + 1) && has_bit(c->f[CRON_DOW], tm.tm_wday);
}

bool acp_crontab_valid(const char *spec)
{
    struct cron c;
    return cron_parse(spec, &c);
}

bool acp_crontab_matches(const char *spec, int64_t t)
{
    struct cron c;
    return cron_parse(spec, &c) && cron_match(&c, t);
}

/* ---- CIDR ------------------------------------------------------------------------------------- */

static bool cidr_parse(const char *s, int family, struct cidr *out)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    int max = family == AF_INET ? 32 : 128;
    out->family = family;
    out->bits = max;
    if (slash && (!parse_int(slash + 1, strlen(slash + 1), &out->bits) || out->bits > max))
        return false;
    memset(out->addr, 0, sizeof out->addr);
    return inet_pton(family, buf, out->addr) == 1;
}

/* An address in text form; IPv4-mapped IPv6 addresses count as IPv4. */
static bool addr_parse(const char *s, int *family, unsigned char addr[16])
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, s, addr) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, addr) != 1)
        return false;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(addr, mapped, 12) == 0) {
        memmove(addr, addr + 12, 4);
        memset(addr + 4, 0, 12);
        *family = AF_INET;
    } else {
        *family = AF_INET6;
    }
    return true;
}

static bool cidr_match(const struct cidr *c, int family, const unsigned char *addr)
{
    if (c->family != family)
        return false;
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, addr, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (addr[full] & mask);
}

bool acp_cidr_valid(const char *s)
{
    struct cidr c;
    return cidr_parse(s, AF_INET, &c) || cidr_parse(s, AF_INET6, &c);
}

bool acp_cidr_matches(const char *cidr, const char *addr)
{
    int family;
    unsigned char a[16];
    struct cidr c;
    if (!addr_parse(addr, &family, a))
        return false;
    return cidr_parse(cidr, family, &c) && cidr_match(&c, family, a);
}

/* ---- originators ------------------------------------------------------------------------------ */

bool acp_id_matches(const char *pat, const char *id)
{
    /* glob where '*' matches any run of characters except '/' (TS-0004 Table 7.3.3.15-1) */
    const char *star = NULL, *resume = NULL;
    while (*id) {
        if (*pat == '*') {
            star = pat++;
            resume = id;
        } else if (*pat == *id) {
            pat++;
            id++;
        } else if (star && *resume != '/') {
            pat = star + 1;
            id = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

/* ---- compilation ------------------------------------------------------------------------------ */

static void rule_free(struct rule *r)
{
    for (int i = 0; i < r->nids; i++)
        mem_free(r->ids[i]);
    for (int i = 0; i < r->ndomains; i++)
        mem_free(r->domains[i]);
    for (int i = 0; i < r->nrefs; i++)
        mem_free(r->refs[i]);
    mem_free(r->ids);
    mem_free(r->domains);
    mem_free(r->refs);
    for (int i = 0; i < r->nctx; i++) {
        mem_free(r->ctx[i].tw);
        mem_free(r->ctx[i].ip);
        for (int k = 0; k < r->ctx[i].nloc; k++)
            mem_free(r->ctx[i].loc[k].cc);
        mem_free(r->ctx[i].loc);
    }
    mem_free(r->ctx);
    for (int i = 0; i < r->nod; i++) {
        mem_free(r->od[i].spty);
        mem_free(r->od[i].chty);
    }
    mem_free(r->od);
}

void acp_policy_free(struct acp_policy *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->n; i++)
        rule_free(&p->r[i]);
    mem_free(p->r);
    mem_free(p);
}

int acp_policy_rules(const struct acp_policy *p)
{
    return p ? p->n : 0;
}

#define FAIL(...)                                                                                                      \
    do {                                                                                                               \
        snprintf(err, errlen, __VA_ARGS__);                                                                            \
        return false;                                                                                                  \
    } while (0)

static bool list_size(const json_t *v, size_t max, const char *what, char *err, size_t errlen)
{
    if (!json_is_array(v))
        FAIL("%s must be a list", what);
    if (json_array_size(v) > max)
        FAIL("%s has more than %zu elements", what, max);
    return true;
}

/* A restriction given as a list must name something: an empty one would either restrict nothing
 * (a grant nobody meant) or everything, depending on the element; both are refused (finding 10). */
static bool nonempty_list(const json_t *v, size_t max, const char *what, char *err, size_t errlen)
{
    if (!list_size(v, max, what, err, errlen))
        return false;
    if (json_array_size(v) == 0)
        FAIL("%s must not be empty (an empty restriction is refused, never read as no restriction)", what);
    return true;
}

static void push(char ***arr, int *n, char *s)
{
    *arr = mem_realloc(*arr, (size_t)(*n + 1) * sizeof **arr);
    (*arr)[(*n)++] = s;
}

static bool compile_acor(struct rule *r, const json_t *acor, const struct id_env *env, char *err, size_t errlen)
{
    if (!list_size(acor, LIMIT_LIST_ITEMS, "acor", err, errlen))
        return false;
    if (json_array_size(acor) == 0)
        FAIL("acor must name at least one originator");
    const char *own_cse = env->cse_id[0] == '/' ? env->cse_id + 1 : env->cse_id;
    size_t i;
    json_t *e;
    json_array_foreach(acor, i, e)
    {
        const char *s = json_string_value(e);
        if (s == NULL || *s == '\0' || strlen(s) > LIMIT_ID_LEN / 2)
            FAIL("acor[%zu] must be a non-empty ID", i);
        char buf[LIMIT_ID_LEN + 1];
        struct id id;
        if (strcmp(s, "all") == 0) {
            r->all = true;
        } else if (strchr(s, '*')) {
            if (s[0] == '/' && s[1] == '/')
                snprintf(buf, sizeof buf, "%s", s);
            else if (s[0] == '/')
                snprintf(buf, sizeof buf, "//%s%s", env->spid, s);
            else if (s[0] == 'S')
                snprintf(buf, sizeof buf, "//%s/%s", env->spid, s);
            else
                snprintf(buf, sizeof buf, "//%s/%s/%s", env->spid, own_cse, s);
            push(&r->ids, &r->nids, mem_strdup(buf));
        } else if (s[0] == '/' && s[1] == '/' && strchr(s + 2, '/') == NULL) {
            push(&r->domains, &r->ndomains, mem_strdup(s));
        } else if (id_parse(env, s, &id) && (id.kind == ID_AE || id.kind == ID_CSE)) {
            push(&r->ids, &r->nids, mem_strdup(id.canon));
        } else {
            push(&r->refs, &r->nrefs, mem_strdup(s)); /* a <group> (or Role-ID) reference */
        }
    }
    return true;
}

static bool compile_region(struct region *g, const json_t *v, char *err, size_t errlen)
{
    const json_t *accr = json_object_get(v, "accr"), *accc = json_object_get(v, "accc");
    if (!json_is_object(v) || (accr == NULL) == (accc == NULL) || json_object_size(v) != 1)
        FAIL("aclr entries need exactly one of accr (circle) or accc (country codes)");
    if (accr) {
        if (!json_is_array(accr) || json_array_size(accr) != 3)
            FAIL("accr must be [latitude, longitude, radius-in-metres]");
        for (size_t k = 0; k < 3; k++)
            if (!json_is_number(json_array_get(accr, k)))
                FAIL("accr must hold numbers");
        g->circle = true;
        g->lat = json_number_value(json_array_get(accr, 0));
        g->lon = json_number_value(json_array_get(accr, 1));
        g->radius = json_number_value(json_array_get(accr, 2));
        if (fabs(g->lat) > 90 || fabs(g->lon) > 180 || g->radius < 0)
            FAIL("accr coordinates out of range");
        return true;
    }
    if (!list_size(accc, LIMIT_LIST_ITEMS, "accc", err, errlen))
        return false;
    if (json_array_size(accc) == 0)
        FAIL("accc must not be empty");
    g->cc = mem_calloc(json_array_size(accc), sizeof *g->cc);
    size_t i;
    json_t *c;
    json_array_foreach(accc, i, c)
    {
        const char *s = json_string_value(c);
        if (s == NULL || strlen(s) != 2 || !isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1]))
            FAIL("accc entries must be ISO 3166-1 alpha-2 country codes");
        g->cc[g->ncc][0] = (char)toupper((unsigned char)s[0]);
        g->cc[g->ncc][1] = (char)toupper((unsigned char)s[1]);
        g->cc[g->ncc][2] = '\0';
        g->ncc++;
    }
    return true;
}

static bool compile_context(struct context *c, const json_t *v, char *err, size_t errlen)
{
    if (!json_is_object(v))
        FAIL("acco entries must be objects");
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if (strcmp(k, "actw") == 0) {
            if (!nonempty_list(x, LIMIT_LIST_ITEMS, "actw", err, errlen))
                return false;
            c->tw = mem_calloc(json_array_size(x), sizeof *c->tw);
            size_t i;
            json_t *w;
            json_array_foreach(x, i, w)
            {
                if (!json_is_string(w) || !cron_parse(json_string_value(w), &c->tw[c->ntw]))
                    FAIL("actw[%zu] is not a seven-field crontab 'sec min hour dom mon dow year'", i);
                c->ntw++;
            }
        } else if (strcmp(k, "acip") == 0) {
            if (!json_is_object(x) || json_object_size(x) == 0)
                FAIL("acip must be an object with ipv4 and/or ipv6 lists");
            c->has_ip = true;
            const char *fk;
            json_t *list;
            json_object_foreach(x, fk, list)
            {
                int family = strcmp(fk, "ipv4") == 0 ? AF_INET : strcmp(fk, "ipv6") == 0 ? AF_INET6 : 0;
                if (family == 0)
                    FAIL("acip may hold only ipv4 and ipv6");
                char what[16];
                snprintf(what, sizeof what, "acip %s", fk);
                if (!nonempty_list(list, LIMIT_LIST_ITEMS, what, err, errlen))
                    return false;
                c->ip = mem_realloc(c->ip, ((size_t)c->nip + json_array_size(list) + 1) * sizeof *c->ip);
                size_t i;
                json_t *b;
                json_array_foreach(list, i, b)
                {
                    if (!json_is_string(b) || !cidr_parse(json_string_value(b), family, &c->ip[c->nip]))
                        FAIL("acip %s[%zu] is not an address block", fk, i);
                    c->nip++;
                }
            }
        } else if (strcmp(k, "aclr") == 0) {
            const json_t *arr = x;
            json_t *wrapped = NULL;
            if (json_is_object(x)) /* a single region is accepted as well as a list */
                arr = wrapped = json_pack("[O]", x);
            bool ok = nonempty_list(arr, LIMIT_LIST_ITEMS, "aclr", err, errlen);
            if (ok) {
                c->loc = mem_calloc(json_array_size(arr) + 1, sizeof *c->loc);
                size_t i;
                json_t *g;
                json_array_foreach(arr, i, g)
                {
                    ok = compile_region(&c->loc[c->nloc], g, err, errlen);
                    c->nloc++;
                    if (!ok)
                        break;
                }
            }
            json_decref(wrapped);
            if (!ok)
                return false;
        } else {
            FAIL("acco element '%s' is not supported (a restriction this CSE cannot evaluate is refused)", k);
        }
    }
    if (json_object_size(v) == 0)
        FAIL("an acco entry must hold actw, acip or aclr (an empty context is refused, never read as no "
             "restriction)");
    return true;
}

static bool compile_objd(struct objd *d, const json_t *v, char *err, size_t errlen)
{
    if (!json_is_object(v))
        FAIL("acod entries must be objects");
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if (strcmp(k, "ty") == 0) {
            if (!json_is_integer(x))
                FAIL("acod ty must be an integer");
            d->has_ty = true;
            d->ty = (int)json_integer_value(x);
        } else if (strcmp(k, "spty") == 0) {
            if (json_is_integer(x)) {
                char n[24];
                snprintf(n, sizeof n, "%lld", (long long)json_integer_value(x));
                d->spty = mem_strdup(n);
            } else if (json_is_string(x)) {
                d->spty = mem_strdup(json_string_value(x));
            } else {
                FAIL("acod spty must be a string or an integer");
            }
        } else if (strcmp(k, "chty") == 0) {
            if (!nonempty_list(x, LIMIT_LIST_ITEMS, "acod chty", err, errlen))
                return false;
            d->chty = mem_calloc(json_array_size(x) + 1, sizeof *d->chty);
            size_t i;
            json_t *t;
            json_array_foreach(x, i, t)
            {
                if (!json_is_integer(t))
                    FAIL("acod chty must list resource types");
                d->chty[d->nchty++] = (int)json_integer_value(t);
            }
        } else {
            FAIL("acod element '%s' is not supported", k);
        }
    }
    if (d->chty == NULL)
        FAIL("acod entries need chty");
    return true;
}

static bool compile_rule(struct rule *r, const json_t *v, const struct id_env *env, char *err, size_t errlen)
{
    if (!json_is_object(v))
        FAIL("acr entries must be objects");
    const json_t *acor = json_object_get(v, "acor"), *acop = json_object_get(v, "acop");
    if (acor == NULL || acop == NULL)
        FAIL("every acr needs acor and acop");
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if (strcmp(k, "acor") == 0) {
            if (!compile_acor(r, x, env, err, errlen))
                return false;
        } else if (strcmp(k, "acop") == 0) {
            if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 63)
                FAIL("acop must be an integer bitmask in 0..63");
            r->acop = (uint32_t)json_integer_value(x);
        } else if (strcmp(k, "acco") == 0) {
            if (!nonempty_list(x, LIMIT_LIST_ITEMS, "acco", err, errlen))
                return false;
            r->ctx = mem_calloc(json_array_size(x) + 1, sizeof *r->ctx);
            size_t i;
            json_t *c;
            json_array_foreach(x, i, c)
            {
                bool ok = compile_context(&r->ctx[r->nctx], c, err, errlen);
                r->nctx++;
                if (!ok)
                    return false;
            }
        } else if (strcmp(k, "acaf") == 0) {
            if (!json_is_boolean(x))
                FAIL("acaf must be a boolean");
            r->acaf = json_is_true(x);
        } else if (strcmp(k, "acod") == 0) {
            if (!nonempty_list(x, LIMIT_LIST_ITEMS, "acod", err, errlen))
                return false;
            r->od = mem_calloc(json_array_size(x) + 1, sizeof *r->od);
            size_t i;
            json_t *d;
            json_array_foreach(x, i, d)
            {
                bool ok = compile_objd(&r->od[r->nod], d, err, errlen);
                r->nod++;
                if (!ok)
                    return false;
            }
        } else {
            FAIL("acr element '%s' is not supported (a restriction this CSE cannot evaluate is refused)", k);
        }
    }
    return true;
}

struct acp_policy *acp_compile(const json_t *set, const struct id_env *env, char *err, size_t errlen)
{
    const json_t *acr = json_object_get(set, "acr");
    if (json_is_object(set) && json_object_size(set) == 0) /* TS-0004 Table 6.3.5.26-1: acr is 0..n */
        return mem_calloc(1, sizeof(struct acp_policy));
    if (!json_is_object(set) || json_object_size(set) != 1 || acr == NULL) {
        snprintf(err, errlen, "a set of rules must be {\"acr\": [...]}");
        return NULL;
    }
    if (!list_size(acr, LIMIT_LIST_ITEMS, "acr", err, errlen))
        return NULL;
    struct acp_policy *p = mem_calloc(1, sizeof *p);
    p->r = mem_calloc(json_array_size(acr) + 1, sizeof *p->r);
    size_t i;
    json_t *v;
    json_array_foreach(acr, i, v)
    {
        char sub[256];
        bool ok = compile_rule(&p->r[p->n], v, env, sub, sizeof sub);
        p->n++;
        if (!ok) {
            snprintf(err, errlen, "acr[%zu]: %s", i, sub);
            acp_policy_free(p);
            return NULL;
        }
    }
    return p;
}

/* ---- evaluation ------------------------------------------------------------------------------- */

static bool originator_ok(const struct rule *r, const struct acp_request *rq)
{
    if (r->all)
        return true;
    for (int i = 0; i < r->nids; i++)
        if (acp_id_matches(r->ids[i], rq->orig))
            return true;
    for (int i = 0; i < r->ndomains; i++) {
        size_t n = strlen(r->domains[i]);
        if (strncmp(rq->orig, r->domains[i], n) == 0 && rq->orig[n] == '/')
            return true;
    }
    for (int i = 0; i < r->nrefs; i++)
        for (int k = 0; k < rq->nroles; k++)
            if (strcmp(r->refs[i], rq->roles[k]) == 0)
                return true;
    if (rq->ref_admits)
        for (int i = 0; i < r->nrefs; i++)
            if (rq->ref_admits(rq->ref_arg, r->refs[i], rq->orig))
                return true;
    return false;
}

static double distance_m(double lat1, double lon1, double lat2, double lon2)
{
    const double rad = 3.14159265358979323846 / 180.0, earth = 6371008.8;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) + cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * earth * asin(sqrt(a > 1 ? 1 : a));
}

static bool region_ok(const struct region *g, const struct acp_location *loc)
{
    if (loc == NULL) /* unknown location: never fail open */
        return false;
    if (g->circle)
        return loc->has_position && distance_m(g->lat, g->lon, loc->lat, loc->lon) <= g->radius;
    for (int i = 0; i < g->ncc; i++)
        if (loc->country[0] && strcasecmp(g->cc[i], loc->country) == 0)
            return true;
    return false;
}

/* One context: every present element must hold (time AND ip AND location). Returns the failing
 * reason or NULL. */
static const char *context_fails(const struct context *c, const struct acp_request *rq)
{
    if (c->ntw > 0) {
        bool ok = false;
        for (int i = 0; i < c->ntw && !ok; i++)
            ok = cron_match(&c->tw[i], rq->time);
        if (!ok)
            return "context-time";
    }
    if (c->has_ip) {
        int family;
        unsigned char a[16];
        bool ok = false;
        /* no address known (MQTT: only the broker's): the condition cannot hold, fail closed */
        if (rq->peer == NULL || rq->peer[0] == '\0')
            return "context-ip-unknown-peer";
        if (addr_parse(rq->peer, &family, a))
            for (int i = 0; i < c->nip && !ok; i++)
                ok = cidr_match(&c->ip[i], family, a);
        if (!ok)
            return "context-ip";
    }
    if (c->nloc > 0) {
        bool ok = false;
        for (int i = 0; i < c->nloc && !ok; i++)
            ok = region_ok(&c->loc[i], rq->loc_get ? rq->loc_get(rq->loc_arg) : rq->loc);
        if (!ok)
            return "context-location";
    }
    return NULL;
}

static bool objd_ok(const struct rule *r, const struct acp_request *rq)
{
    if (rq->op != ACOP_CREATE || r->nod == 0)
        return true; /* object details constrain CREATE only (TS-0003 §7.1.5) */
    for (int i = 0; i < r->nod; i++) {
        const struct objd *d = &r->od[i];
        if (d->has_ty && d->ty != rq->target_ty)
            continue;
        if (d->spty != NULL) /* specialization types (mgmtObj/flexContainer) arrive with those types */
            continue;
        for (int k = 0; k < d->nchty; k++)
            if (d->chty[k] == rq->child_ty)
                return true;
    }
    return false;
}

bool acp_permits(const struct acp_policy *p, const struct acp_request *rq, struct acp_why *why)
{
    static const char *const stages[] = {"acaf", "originator", "operation", "context", "object-details"};
    int best = -1, granted = -1;
    const char *best_reason = "no-rules";
    for (int i = 0; p && i < p->n; i++) {
        const struct rule *r = &p->r[i];
        int stage = 0;
        const char *reason = NULL;
        if (r->acaf && !rq->authenticated)
            reason = stages[0];
        else if (++stage, !originator_ok(r, rq))
            reason = stages[1];
        else if (++stage, (r->acop & (uint32_t)rq->op) == 0)
            reason = stages[2];
        else if (++stage, r->nctx > 0) {
            const char *first = NULL;
            bool ok = false;
            for (int c = 0; c < r->nctx && !ok; c++) {
                const char *f = context_fails(&r->ctx[c], rq);
                ok = f == NULL;
                if (!ok && first == NULL)
                    first = f;
            }
            if (!ok)
                reason = first;
        }
        if (reason == NULL && (++stage, !objd_ok(r, rq)))
            reason = stages[4];
        if (rq->trace)
            rq->trace(rq->trace_arg, i, reason ? reason : "granted");
        if (reason == NULL) {
            if (granted < 0)
                granted = i;
            if (rq->trace)
                continue;
            break;
        }
        if (stage > best) {
            best = stage;
            best_reason = reason;
        }
    }
    if (why) {
        why->rule = granted;
        why->reason = granted >= 0 ? "granted" : best_reason;
    }
    return granted >= 0;
}
