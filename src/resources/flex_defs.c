/* flex_defs: the flexContainer definition table (see flex_defs.h). The built-in definitions are
 * data in the same JSON form as the operator's file (README "More resource types" documents it):
 *
 *   {"aliases": [{"cnd": "org.onem2m.home.", "is": "org.onem2m.common.", "root": "hd:", "rootIs": "cod:"}],
 *    "definitions": [{"cnd": "...", "root": "ns:name",
 *                     "attributes": {"sn": {"type": "number", "use": "M"}, ...}}]}
 *
 * Types: string, integer, nonNegInteger, positiveInteger, number, boolean, timestamp, list, any.
 * use: "M" (mandatory on create) or "O" (optional; the default). Every custom attribute may be
 * updated. The module classes are those of TS-0023 that clients use most, in the current naming
 * ("cod:" roots, org.onem2m.common.moduleclass.*), with the Release 3 home-domain names
 * (org.onem2m.home.moduleclass.*, "hd:" roots) as aliases. */
#include "flex_defs.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "util/mem.h"

static const char builtin[] =
    "{\"aliases\": [{\"cnd\": \"org.onem2m.home.\", \"is\": \"org.onem2m.common.\", \"root\": \"hd:\","
    "  \"rootIs\": \"cod:\"}],"
    " \"definitions\": ["
    /* TS-0023 moduleClass temperature */
    "  {\"cnd\": \"org.onem2m.common.moduleclass.temperature\", \"root\": \"cod:tempe\", \"attributes\": {"
    "    \"dgt\": {\"type\": \"timestamp\"}, \"curT0\": {\"type\": \"number\", \"use\": \"M\"},"
    "    \"tarTe\": {\"type\": \"number\"}, \"unit\": {\"type\": \"nonNegInteger\"},"
    "    \"minVe\": {\"type\": \"number\"}, \"maxVe\": {\"type\": \"number\"}, \"steVe\": {\"type\": \"number\"}}},"
    /* binarySwitch */
    "  {\"cnd\": \"org.onem2m.common.moduleclass.binarySwitch\", \"root\": \"cod:binSh\", \"attributes\": {"
    "    \"dgt\": {\"type\": \"timestamp\"}, \"powSe\": {\"type\": \"boolean\", \"use\": \"M\"}}},"
    /* colour */
    "  {\"cnd\": \"org.onem2m.common.moduleclass.colour\", \"root\": \"cod:color\", \"attributes\": {"
    "    \"dgt\": {\"type\": \"timestamp\"}, \"red\": {\"type\": \"nonNegInteger\", \"use\": \"M\"},"
    "    \"green\": {\"type\": \"nonNegInteger\", \"use\": \"M\"}, \"blue\": {\"type\": \"nonNegInteger\", \"use\": "
    "\"M\"}}},"
    /* brightness */
    "  {\"cnd\": \"org.onem2m.common.moduleclass.brightness\", \"root\": \"cod:brigs\", \"attributes\": {"
    "    \"dgt\": {\"type\": \"timestamp\"}, \"brigs\": {\"type\": \"nonNegInteger\", \"use\": \"M\"}}},"
    /* battery */
    "  {\"cnd\": \"org.onem2m.common.moduleclass.battery\", \"root\": \"cod:bat\", \"attributes\": {"
    "    \"dgt\": {\"type\": \"timestamp\"}, \"lvl\": {\"type\": \"nonNegInteger\", \"use\": \"M\"}}},"
    /* deviceLight: a device class, whose module classes are its children */
    "  {\"cnd\": \"org.onem2m.common.device.deviceLight\", \"root\": \"cod:devLt\", \"attributes\": {}}"
    " ]}";

struct flex_alias {
    char *cnd, *is, *root, *root_is;
};

struct flex_defs {
    struct flex_def *v;
    size_t n;
    struct flex_alias *al;
    size_t nal;
};

static void def_free(struct flex_def *d)
{
    mem_free(d->cnd);
    mem_free(d->root);
    for (int i = 0; i < d->nattrs; i++)
        mem_free((char *)d->attrs[i].sn);
    mem_free(d->attrs);
    mem_free(d->annc_attrs);
}

void flex_defs_free(struct flex_defs *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++)
        def_free(&d->v[i]);
    mem_free(d->v);
    for (size_t i = 0; i < d->nal; i++) {
        mem_free(d->al[i].cnd);
        mem_free(d->al[i].is);
        mem_free(d->al[i].root);
        mem_free(d->al[i].root_is);
    }
    mem_free(d->al);
    mem_free(d);
}

static const struct {
    const char *name;
    enum attr_type type;
} type_names[] = {
    {"string", AT_STR}, {"integer", AT_INT}, {"nonNegInteger", AT_UINT}, {"positiveInteger", AT_POSINT},
    {"number", AT_NUM}, {"float", AT_NUM},   {"boolean", AT_BOOL},       {"timestamp", AT_TS},
    {"list", AT_LIST},  {"any", AT_ANY},
};

/* "ns:name", word characters only, short enough for a root */
static bool root_ok(const char *s)
{
    const char *colon = strchr(s, ':');
    if (colon == NULL || colon == s || colon[1] == '\0' || strlen(s) >= LIMIT_ROOT_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (p != colon &&
            !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return strncmp(s, "m2m:", 4) != 0; /* the oneM2M namespace names the standard types */
}

static bool static_attr(const char *sn)
{
    const struct rtype *t = rtype_find(TY_FCNT);
    for (int i = 0; t && i < t->nattrs; i++)
        if (strcmp(t->attrs[i].sn, sn) == 0)
            return true;
    return false;
}

static int parse_def(const char *origin, json_t *jd, struct flex_def *out, char *err, size_t errlen)
{
    const char *cnd = json_string_value(json_object_get(jd, "cnd"));
    const char *root = json_string_value(json_object_get(jd, "root"));
    json_t *attrs = json_object_get(jd, "attributes");
    if (cnd == NULL || cnd[0] == '\0' || strlen(cnd) > LIMIT_ID_LEN) {
        snprintf(err, errlen, "%s: a definition needs \"cnd\", a non-empty string", origin);
        return -1;
    }
    if (root == NULL || !root_ok(root)) {
        snprintf(err, errlen, "%s: definition %s needs \"root\" of the form \"ns:name\" (not m2m:)", origin, cnd);
        return -1;
    }
    if (attrs != NULL && (!json_is_object(attrs) || json_object_size(attrs) > LIMIT_ATTRIBUTES)) {
        snprintf(err, errlen, "%s: definition %s: \"attributes\" must be an object of at most %d", origin, cnd,
                 LIMIT_ATTRIBUTES);
        return -1;
    }
    *out = (struct flex_def){.cnd = mem_strdup(cnd), .root = mem_strdup(root)};
    out->attrs = mem_calloc(json_object_size(attrs) + 1, sizeof *out->attrs);
    const char *sn;
    json_t *ja;
    json_object_foreach(attrs, sn, ja)
    {
        const char *tn = json_string_value(json_object_get(ja, "type"));
        const char *use = json_string_value(json_object_get(ja, "use"));
        size_t k = 0;
        while (tn && k < sizeof type_names / sizeof type_names[0] && strcmp(type_names[k].name, tn) != 0)
            k++;
        const char *why = NULL;
        if (sn[0] == '\0' || strlen(sn) > 64)
            why = "a name of 1-64 characters";
        else if (static_attr(sn))
            why = "a name that is not a flexContainer attribute";
        else if (tn == NULL || k == sizeof type_names / sizeof type_names[0])
            why = "a \"type\": string, integer, nonNegInteger, positiveInteger, number, boolean, timestamp, list or "
                  "any";
        else if (use != NULL && strcmp(use, "M") != 0 && strcmp(use, "O") != 0)
            why = "\"use\" \"M\" or \"O\"";
        if (why) {
            snprintf(err, errlen, "%s: definition %s, attribute '%.64s': needs %s", origin, cnd, sn, why);
            def_free(out);
            return -1;
        }
        out->attrs[out->nattrs++] = (struct attr_def){mem_strdup(sn), type_names[k].type,
                                                      (unsigned char)(use && strcmp(use, "M") == 0 ? A_M : A_O), A_O};
    }
    out->annc_attrs = mem_calloc((size_t)out->nattrs + 1, sizeof *out->annc_attrs);
    for (int i = 0; i < out->nattrs; i++)
        out->annc_attrs[i] = (struct attr_def){out->attrs[i].sn, out->attrs[i].type, A_O, A_O};
    return 0;
}

static int merge(struct flex_defs *d, const char *origin, json_t *doc, char *err, size_t errlen)
{
    json_t *defs = json_object_get(doc, "definitions"), *aliases = json_object_get(doc, "aliases");
    if (!json_is_object(doc) || (defs && !json_is_array(defs)) || (aliases && !json_is_array(aliases))) {
        snprintf(err, errlen, "%s: expected {\"definitions\": [...], \"aliases\": [...]}", origin);
        return -1;
    }
    size_t i;
    json_t *e;
    json_array_foreach(aliases, i, e)
    {
        const char *c = json_string_value(json_object_get(e, "cnd")), *is = json_string_value(json_object_get(e, "is"));
        const char *r = json_string_value(json_object_get(e, "root")),
                   *ris = json_string_value(json_object_get(e, "rootIs"));
        if (!c || !is || !r || !ris || !c[0] || !is[0] || !r[0] || !ris[0] || strlen(r) >= LIMIT_ROOT_LEN) {
            snprintf(err, errlen, "%s: an alias needs \"cnd\", \"is\", \"root\" and \"rootIs\" prefixes", origin);
            return -1;
        }
        d->al = mem_realloc(d->al, (d->nal + 1) * sizeof *d->al);
        d->al[d->nal++] = (struct flex_alias){mem_strdup(c), mem_strdup(is), mem_strdup(r), mem_strdup(ris)};
    }
    json_array_foreach(defs, i, e)
    {
        struct flex_def def;
        if (parse_def(origin, e, &def, err, errlen) != 0)
            return -1;
        size_t k = 0;
        while (k < d->n && strcmp(d->v[k].cnd, def.cnd) != 0)
            k++;
        if (k < d->n) { /* the operator's definition replaces the built-in one */
            def_free(&d->v[k]);
            d->v[k] = def;
            continue;
        }
        d->v = mem_realloc(d->v, (d->n + 1) * sizeof *d->v);
        d->v[d->n++] = def;
    }
    return 0;
}

struct flex_defs *flex_defs_load(const char *path, char *err, size_t errlen)
{
    struct flex_defs *d = mem_calloc(1, sizeof *d);
    json_error_t je;
    json_t *doc = json_loads(builtin, 0, &je);
    int rc = doc ? merge(d, "built-in flexContainer definitions", doc, err, errlen) : -1;
    json_decref(doc);
    if (rc == 0 && path && path[0]) {
        doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (doc == NULL) {
            snprintf(err, errlen, "types.flex %s: %s (line %d)", path, je.text, je.line);
            rc = -1;
        } else {
            char origin[300];
            snprintf(origin, sizeof origin, "types.flex %.256s", path);
            rc = merge(d, origin, doc, err, errlen);
            json_decref(doc);
        }
    }
    if (rc != 0) {
        flex_defs_free(d);
        return NULL;
    }
    return d;
}

static const struct flex_def *find_exact(const struct flex_defs *d, const char *cnd)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->v[i].cnd, cnd) == 0)
            return &d->v[i];
    return NULL;
}

const struct flex_def *flex_def_find(const struct flex_defs *d, const char *cnd, char *root, size_t rootlen)
{
    if (d == NULL || cnd == NULL)
        return NULL;
    const struct flex_def *def = find_exact(d, cnd);
    if (def) {
        snprintf(root, rootlen, "%s", def->root);
        return def;
    }
    for (size_t i = 0; i < d->nal; i++) {
        const struct flex_alias *a = &d->al[i];
        size_t cl = strlen(a->cnd), rl = strlen(a->root_is);
        if (strncmp(cnd, a->cnd, cl) != 0)
            continue;
        char canon[LIMIT_ID_LEN + 128];
        snprintf(canon, sizeof canon, "%s%s", a->is, cnd + cl);
        def = find_exact(d, canon);
        if (def == NULL)
            continue;
        /* the alias's namespace with the definition's name: "cod:tempe" -> "hd:tempe" */
        const char *name = strncmp(def->root, a->root_is, rl) == 0 ? def->root + rl : strchr(def->root, ':') + 1;
        snprintf(root, rootlen, "%s%s", a->root, name);
        return def;
    }
    return NULL;
}
