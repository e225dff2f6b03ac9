/* rowvec: a growable vector of store rows (see core_int.h). */
#include "core_int.h"
#include "util/mem.h"

int rowvec_collect(void *arg, const struct store_row *r)
{
    struct rowvec *rv = arg;
    if (rv->n == rv->max)
        return 1;
    if (rv->n == rv->cap) {
        rv->cap = rv->cap ? rv->cap * 2 : 16;
        rv->v = mem_realloc(rv->v, rv->cap * sizeof *rv->v);
    }
    store_row_copy(&rv->v[rv->n++], r);
    return 0;
}

void rowvec_free(struct rowvec *rv)
{
    for (size_t i = 0; i < rv->n; i++)
        store_row_free(&rv->v[i]);
    mem_free(rv->v);
    rv->v = NULL;
    rv->n = rv->cap = 0;
}
