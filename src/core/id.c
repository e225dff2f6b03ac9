/* id: originator ID parsing and canonicalisation (see id.h; TS-0001 §7.2, TS-0004 §7.3.2.1). */
#include "id.h"

#include <stdio.h>
#include <string.h>

bool id_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

/* Split s (no leading '/') into at most max segments; returns the count or -1 when malformed. */
static int split(const char *s, const char *seg[], size_t len[], int max)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        const char *start = p;
        while (*p && *p != '/') {
            if (!id_char_ok(*p))
                return -1;
            p++;
        }
        if (p == start || n == max)
            return -1;
        seg[n] = start;
        len[n] = (size_t)(p - start);
        n++;
        if (*p == '\0')
            return n;
        p++;
    }
}

static bool is_ae_stem(const char *s, size_t n)
{
    return n >= 2 && (s[0] == 'C' || s[0] == 'S');
}

bool id_parse(const struct id_env *env, const char *raw, struct id *out)
{
    memset(out, 0, sizeof *out);
    if (raw == NULL || strlen(raw) > LIMIT_ID_LEN / 2)
        return false;
    if (strcmp(raw, "C") == 0) {
        out->kind = ID_ASK_C;
        return true;
    }
    if (strcmp(raw, "S") == 0) {
        out->kind = ID_ASK_S;
        return true;
    }
    const char *own_cse = env->cse_id[0] == '/' ? env->cse_id + 1 : env->cse_id;
    const char *seg[3];
    size_t len[3];
    char domain[LIMIT_NAME_LEN + 1];
    int n;

    if (raw[0] == '/' && raw[1] == '/') { /* absolute: //sp/... */
        const char *d = raw + 2, *slash = strchr(d, '/');
        if (slash == NULL || slash == d || (size_t)(slash - d) > LIMIT_NAME_LEN)
            return false;
        for (const char *c = d; c < slash; c++)
            if (!id_char_ok(*c))
                return false;
        memcpy(domain, d, (size_t)(slash - d));
        domain[slash - d] = '\0';
        out->form = IDF_ABSOLUTE;
        n = split(slash + 1, seg, len, 2);
    } else if (raw[0] == '/') { /* SP-relative: /cse/... or /Sstem */
        snprintf(domain, sizeof domain, "%s", env->spid);
        out->form = IDF_SP_RELATIVE;
        n = split(raw + 1, seg, len, 2);
    } else { /* CSE-relative: an AE-ID-Stem */
        snprintf(domain, sizeof domain, "%s", env->spid);
        out->form = IDF_STEM;
        n = split(raw, seg, len, 1);
        if (n != 1 || !is_ae_stem(seg[0], len[0]))
            return false;
        out->kind = ID_AE;
        if (seg[0][0] == 'C') {
            snprintf(out->canon, sizeof out->canon, "//%s/%s/%.*s", domain, own_cse, (int)len[0], seg[0]);
            out->local = true;
        } else {
            snprintf(out->canon, sizeof out->canon, "//%s/%.*s", domain, (int)len[0], seg[0]);
            out->local = true;
        }
        out->stem_off = (unsigned short)(strrchr(out->canon, '/') + 1 - out->canon);
        return true;
    }
    if (n < 1)
        return false;
    bool own_sp = strcmp(domain, env->spid) == 0;
    if (n == 1) {
        if (seg[0][0] == 'S' && len[0] >= 2) { /* SP-relative S-type AE-ID */
            out->kind = ID_AE;
            out->local = own_sp;
        } else {
            out->kind = ID_CSE;
            out->local = own_sp;
        }
        snprintf(out->canon, sizeof out->canon, "//%s/%.*s", domain, (int)len[0], seg[0]);
    } else {
        if (!is_ae_stem(seg[1], len[1]) || seg[1][0] != 'C')
            return false;
        out->kind = ID_AE;
        out->local = own_sp && len[0] == strlen(own_cse) && memcmp(seg[0], own_cse, len[0]) == 0;
        snprintf(out->canon, sizeof out->canon, "//%s/%.*s/%.*s", domain, (int)len[0], seg[0], (int)len[1], seg[1]);
    }
    out->stem_off = (unsigned short)(strrchr(out->canon, '/') + 1 - out->canon);
    return true;
}
