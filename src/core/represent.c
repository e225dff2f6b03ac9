/* represent: resource representations on the wire (TS-0004 §8.2: the "m2m:<shortname>" root, or a
 * specialisation's own root such as a flexContainer's "cod:tempe"). Every path that puts a stored
 * resource into a response or a notification (retrieve at every rcn, create and update results,
 * delete with rcn 1, embedded children, notifications) goes through here, so write-only attributes
 * (rtype.write_only: key material) are removed in one place for every binding. The stored doc is
 * already the attribute object, so the common case (m2m root, nothing write-only) is a splice with
 * no parsing. */
#include <string.h>

#include "core_int.h"
#include "encoding/json.h"
#include "util/buf.h"
#include "util/mem.h"

static bool has_wo(const struct rtype *t)
{
    return t->write_only != NULL && t->write_only[0] != NULL;
}

void represent_strip(const struct rtype *t, json_t *doc)
{
    if (t == NULL || !json_is_object(doc))
        return;
    for (const char *const *w = t->write_only; w && *w; w++)
        json_object_del(doc, *w);
}

void represent_key(struct cse *cse, const struct rtype *t, const json_t *doc, char *out, size_t len)
{
    if (t != NULL && t->root != NULL && t->root(cse, doc, out, len) == 0)
        return;
    snprintf(out, len, "m2m:%s", t ? t->sn : "unknown");
}

json_t *represent_wrap(struct cse *cse, const struct rtype *t, json_t *doc, const json_t *whole)
{
    char key[LIMIT_ROOT_LEN];
    if (doc == NULL)
        doc = json_object();
    represent_strip(t, doc);
    represent_key(cse, t, whole ? whole : doc, key, sizeof key);
    return json_pack("{s:o}", key, doc);
}

char *represent_row(struct cse *cse, const struct store_row *row, size_t *len)
{
    const struct rtype *t = rtype_find(row->ty);
    if (t == NULL)
        return NULL;
    if (t->root != NULL || has_wo(t)) {
        json_t *w = represent_wrap(cse, t, json_loads(row->doc, 0, NULL), NULL);
        char *out = json_encode(w, len);
        json_decref(w);
        return out;
    }
    struct buf b;
    buf_init(&b);
    size_t dl = strlen(row->doc);
    buf_reserve(&b, dl + strlen(t->sn) + 12);
    buf_puts(&b, "{\"m2m:");
    buf_puts(&b, t->sn);
    buf_puts(&b, "\":");
    buf_append(&b, row->doc, dl);
    buf_putc(&b, '}');
    return buf_take(&b, len);
}
