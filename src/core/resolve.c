/* resolve: turn a target address (TS-0001 §7.2: CSE-relative, SP-relative or absolute, structured
 * or unstructured, possibly ending in a virtual resource) into a stored resource. */
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "route.h"
#include "rsc.h"
#include "util/buf.h"
#include "util/mem.h"

void target_free(struct target *t)
{
    if (t->have_row)
        store_row_free(&t->row);
    t->have_row = false;
    MEM_FREE(t->rest);
}

/* ".../<group>/fopt[/rest]" (TS-0004 §7.4.14.1): returns 1 when path has a fopt segment (out
 * filled or rsp set), 0 when it has none. */
static int resolve_fopt(struct store_view *v, char *path, int64_t now, struct target *out, struct cse_response *rsp,
                        int *rc)
{
    char *p = path;
    while ((p = strstr(p, "/fopt")) != NULL) {
        if (p[5] == '\0' || p[5] == '/')
            break;
        p += 5;
    }
    if (p == NULL)
        return 0;
    char *rest = p[5] ? p + 6 : p + 5;
    *p = '\0';
    int src = v->st->ops->get_path(v, path, now, &out->row);
    if (src == STORE_OK && out->row.ty == TY_GRP) {
        out->have_row = true;
        out->virt = VIRT_FOPT;
        out->rest = mem_strdup(rest);
        *rc = 0;
    } else {
        if (src == STORE_OK)
            store_row_free(&out->row);
        *rc = src == STORE_ERROR ? response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure")
                                 : response_error(rsp, RSC_NOT_FOUND, "not-found", "'%s' is not a group", path);
    }
    return 1;
}

/* Check that every segment of a CSE-relative path is well formed; rejects "..", "." and empty
 * segments so that no address can climb out of the tree. */
static bool path_ok(const char *p)
{
    int depth = 0;
    const char *s = p;
    while (*s) {
        const char *e = s;
        while (*e && *e != '/') {
            if (!id_char_ok(*e))
                return false;
            e++;
        }
        size_t n = (size_t)(e - s);
        if (n == 0 || n > LIMIT_NAME_LEN || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        if (++depth > LIMIT_PATH_DEPTH + 1)
            return false;
        s = *e ? e + 1 : e;
        if (*e && *s == '\0')
            return false; /* trailing slash */
    }
    return depth > 0;
}

static int not_found(struct cse_response *rsp, const char *to)
{
    return response_error(rsp, RSC_NOT_FOUND, "not-found", "resource '%s' does not exist", to);
}

int resolve_target(struct cse *cse, struct store_view *v, const char *to, int64_t now, struct target *out,
                   struct cse_response *rsp)
{
    const struct store_ops *ops = v->st->ops;
    memset(out, 0, sizeof *out);
    if (to == NULL || *to == '\0')
        return response_error(rsp, RSC_BAD_REQUEST, "bad-target", "missing target address");
    if (strlen(to) > LIMIT_ID_LEN)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-target", "target address too long");

    const char *rel = to;
    if (rel[0] == '/' && rel[1] == '/') { /* absolute: //sp-domain/cse-id/... */
        size_t dl = strlen(cse->cfg->cse_spid);
        if (strncmp(rel + 2, cse->cfg->cse_spid, dl) != 0 || (rel[2 + dl] != '/' && rel[2 + dl] != '\0'))
            return response_error(rsp, RSC_NOT_FOUND, "not-hosted", "target '%s' is not in this SP domain", to);
        rel += 2 + dl;
        if (*rel == '\0')
            return not_found(rsp, to);
    }
    if (rel[0] == '/') { /* SP-relative: /cse-id/... */
        size_t cl = strlen(cse->cfg->cse_id);
        if (strncmp(rel, cse->cfg->cse_id, cl) != 0 || (rel[cl] != '/' && rel[cl] != '\0'))
            return response_error(rsp, RSC_NOT_FOUND, "not-hosted", "target '%s' is not hosted by this CSE", to);
        rel += cl;
        if (*rel == '/')
            rel++;
        if (*rel == '\0')
            rel = cse->cfg->cse_rn; /* "/id-in" addresses the CSEBase */
    }
    if (!path_ok(rel))
        return response_error(rsp, RSC_BAD_REQUEST, "bad-target", "malformed target address '%s'", to);

    /* Structured ("cse-in/..." or "-/..."), else unstructured ("<ri>[/...]"). */
    struct buf path;
    buf_init(&path);
    const char *slash = strchr(rel, '/');
    size_t first = slash ? (size_t)(slash - rel) : strlen(rel);
    const char *rest = slash ? slash : "";
    const char *rn = cse->cfg->cse_rn;
    int rc = 0;
    if ((first == strlen(rn) && strncmp(rel, rn, first) == 0) || (first == 1 && rel[0] == '-')) {
        buf_puts(&path, rn);
        buf_puts(&path, rest);
    } else {
        char *ri = mem_strndup(rel, first);
        struct store_row base;
        int src = ops->get_ri(v, ri, now, &base);
        mem_free(ri);
        if (src != STORE_OK) {
            buf_free(&path);
            return src == STORE_NOT_FOUND ? not_found(rsp, to)
                                          : response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
        }
        if (*rest == '\0') {
            out->row = base;
            out->have_row = true;
            buf_free(&path);
            return 0;
        }
        buf_puts(&path, base.path);
        buf_puts(&path, rest);
        store_row_free(&base);
    }

    if (resolve_fopt(v, path.p, now, out, rsp, &rc)) {
        buf_free(&path);
        return rc;
    }
    /* a last segment "la"/"ol" under a holder of instances (a container, a timeSeries) names its
     * newest/oldest instance (TS-0004 §7.4.27-28): the holder type's instance_ty */
    char *last = strrchr(path.p, '/');
    enum virt virt = VIRT_NONE;
    if (last && (strcmp(last + 1, "la") == 0 || strcmp(last + 1, "ol") == 0))
        virt = last[1] == 'l' ? VIRT_LA : VIRT_OL;
    if (virt != VIRT_NONE) {
        *last = '\0';
        struct store_row cnt;
        int src = ops->get_path(v, path.p, now, &cnt);
        const struct rtype *ht = src == STORE_OK ? rtype_find(cnt.ty) : NULL;
        if (ht && ht->instance_ty != 0) {
            src = ops->edge_child(v, cnt.ri, ht->instance_ty, virt == VIRT_LA, now, &out->row);
            store_row_free(&cnt);
            if (src == STORE_OK) {
                out->have_row = true;
                out->virt = virt;
            } else {
                rc = src == STORE_NOT_FOUND
                         ? response_error(rsp, RSC_NOT_FOUND, "not-found", "'%s' has no instance", path.p)
                         : response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
            }
            buf_free(&path);
            return rc;
        }
        if (src == STORE_OK)
            store_row_free(&cnt);
        *last = '/';
    }
    /* ".../<pollingChannel>/pcu": its virtual pollingChannelURI (TS-0004 §7.4.22) */
    if (last && strcmp(last + 1, "pcu") == 0) {
        *last = '\0';
        int src = ops->get_path(v, path.p, now, &out->row);
        if (src == STORE_OK && out->row.ty == TY_PCH) {
            out->have_row = true;
            out->virt = VIRT_PCU;
            buf_free(&path);
            return 0;
        }
        if (src == STORE_OK)
            store_row_free(&out->row);
        *last = '/';
    }
    int src = ops->get_path(v, path.p, now, &out->row);
    if (src == STORE_OK)
        out->have_row = true;
    else
        rc = src == STORE_NOT_FOUND ? not_found(rsp, to)
                                    : response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    buf_free(&path);
    return rc;
}

int resolve_row(struct op_ctx *c, const char *addr, bool real_only, struct store_row *out)
{
    struct target t;
    struct cse_response scratch;
    response_init(&scratch);
    int rc = resolve_target(c->cse, c->view, addr, c->now, &t, &scratch);
    if (rc == 0 && real_only && t.virt != VIRT_NONE) {
        target_free(&t);
        rc = RSC_NOT_FOUND;
    }
    if (rc == 0) {
        *out = t.row;
        t.have_row = false;
    }
    target_free(&t);
    response_free(&scratch);
    return rc;
}

bool op_addr_remote(struct op_ctx *c, const char *addr, char *csi, size_t csi_len)
{
    struct cse_request q;
    request_init(&q);
    q.op = OP_RETRIEVE;
    q.to = addr;
    struct route r;
    struct cse_response scratch;
    response_init(&scratch);
    bool remote = route_request(c->cse, c->view, &q, &r, &scratch) == 0 && r.kind == ROUTE_REMOTE;
    if (remote && csi != NULL)
        snprintf(csi, csi_len, "%s", r.cse_id);
    response_free(&scratch);
    return remote;
}

int op_resolve(void *arg, const char *addr, struct store_row *out)
{
    struct op_ctx *c = arg;
    if (op_addr_remote(c, addr, NULL, 0)) /* hosted elsewhere: not looked up here (a hook decides what that means) */
        return RESOLVE_ON_OTHER_CSE;
    int rc = resolve_row(c, addr, true, out);
    if (rc != 0)
        return rc;
    /* decided like a resource a result embeds: not the request's target, so cached DAS grants
     * count but no consultation starts and no Token Request Information is prepared */
    struct target *tgt = c->tgt;
    c->tgt = NULL;
    struct decision d;
    policy_decide(c, ACOP_RETRIEVE, out, 0, false, &d);
    c->tgt = tgt;
    if (d.permit)
        return 0;
    store_row_free(out);
    return RSC_NOT_FOUND; /* what the originator may not retrieve does not exist for it */
}
