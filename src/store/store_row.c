/* store_row: helpers for the store's row struct (see store.h). */
#include "store.h"

#include <string.h>

#include "util/mem.h"

void store_row_free(struct store_row *row)
{
    MEM_FREE(row->ri);
    MEM_FREE(row->pi);
    MEM_FREE(row->rn);
    MEM_FREE(row->path);
    MEM_FREE(row->cr);
    MEM_FREE(row->ae);
    MEM_FREE(row->acpi);
    MEM_FREE(row->doc);
}

static char *dup_or_null(const char *s)
{
    return s ? mem_strdup(s) : NULL;
}

void store_row_copy(struct store_row *dst, const struct store_row *src)
{
    *dst = *src;
    dst->ri = dup_or_null(src->ri);
    dst->pi = dup_or_null(src->pi);
    dst->rn = dup_or_null(src->rn);
    dst->path = dup_or_null(src->path);
    dst->cr = dup_or_null(src->cr);
    dst->ae = dup_or_null(src->ae);
    dst->acpi = dup_or_null(src->acpi);
    dst->doc = dup_or_null(src->doc);
}
