/* represent: resource representations on the wire (TS-0004 §8.2: the "m2m:<shortname>" root). The
 * stored doc is already the attribute object, so the common case is a splice with no parsing. */
#include <string.h>

#include "core_int.h"
#include "util/buf.h"

char *represent_row(const struct store_row *row, size_t *len)
{
    const struct rtype *t = rtype_find(row->ty);
    if (t == NULL)
        return NULL;
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
