/* membership: <group> members as acor originators (TS-0003 §7.1.3: a group ID in acor admits the
 * originator when the group's memberIDs list it). Members are resource IDs of AEs (their AE-ID-Stem)
 * or CSE-IDs; both are compared in canonical form. */
#include <string.h>

#include "core_int.h"
#include "util/hash.h"
#include "util/mem.h"

/* What this request learnt about groups in acor: each <group> reference is resolved and its members
 * read once per request, not once per decision (a discovery decides for up to
 * LIMIT_DISCOVERY_RESULTS resources, each of whose policies may name up to LIMIT_LIST_ITEMS groups:
 * 400 results under a policy naming 64 groups of 200 members took 7 s of one worker). */
#define GROUP_MEMO_MAX   1024 /* references remembered per request; beyond, they are looked up each time */
#define GROUP_MEMO_SLOTS (2 * GROUP_MEMO_MAX)

struct group_memo {
    size_t n;
    struct {
        char *ref; /* NULL: free slot */
        bool admitted;
    } e[GROUP_MEMO_SLOTS];
};

void group_memo_free(struct group_memo *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < GROUP_MEMO_SLOTS; i++)
        mem_free(m->e[i].ref);
    mem_free(m);
}

static bool admits(struct op_ctx *c, const char *ref, const char *orig);

bool group_admits(struct op_ctx *c, const char *ref, const char *orig)
{
    /* the memo holds answers for the request's own originator only */
    if (c->orig == NULL || c->orig->subj.canon == NULL || strcmp(orig, c->orig->subj.canon) != 0)
        return admits(c, ref, orig);
    if (c->groups == NULL)
        c->groups = mem_calloc(1, sizeof *c->groups);
    struct group_memo *m = c->groups;
    size_t i = hash_str(ref) % GROUP_MEMO_SLOTS;
    for (; m->e[i].ref != NULL; i = (i + 1) % GROUP_MEMO_SLOTS)
        if (strcmp(m->e[i].ref, ref) == 0)
            return m->e[i].admitted;
    bool admitted = admits(c, ref, orig);
    if (m->n < GROUP_MEMO_MAX) { /* at most half full: a free slot ends every probe */
        m->e[i].ref = mem_strdup(ref);
        m->e[i].admitted = admitted;
        m->n++;
    }
    return admitted;
}

static bool admits(struct op_ctx *c, const char *ref, const char *orig)
{
    struct store_row grp;
    if (resolve_row(c, ref, false, &grp) != 0)
        return false;
    bool admitted = false;
    if (grp.ty == TY_GRP) {
        json_t *doc = json_loads(grp.doc, 0, NULL);
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(doc, "mid"), i, m)
        {
            struct id id;
            const char *s = json_string_value(m);
            if (s && id_parse(&c->cse->idenv, s, &id) && (id.kind == ID_AE || id.kind == ID_CSE) &&
                strcmp(id.canon, orig) == 0) {
                admitted = true;
                break;
            }
        }
        json_decref(doc);
    }
    store_row_free(&grp);
    return admitted;
}
