/* id: one canonical form for every oneM2M originator ID (TS-0001 §7.2), so that creator records,
 * the From check, acor matching and the audit log compare IDs, never raw strings. */
#ifndef WARDEN_CORE_ID_H
#define WARDEN_CORE_ID_H

#include <stdbool.h>
#include <stddef.h>

#include "limits.h"

enum id_kind {
    ID_INVALID = 0,
    ID_AE,    /* an AE-ID (C-type or S-type) */
    ID_CSE,   /* a CSE-ID */
    ID_ASK_C, /* "C": AE registration asking the registrar for a C-type AE-ID */
    ID_ASK_S, /* "S": AE registration asking for an S-type AE-ID */
};

enum id_form { IDF_STEM, IDF_SP_RELATIVE, IDF_ABSOLUTE };

/* Where this CSE sits: its SP domain ("warden.example.com") and SP-relative CSE-ID ("/id-in"). */
struct id_env {
    const char *spid;
    const char *cse_id;
};

struct id {
    enum id_kind kind;
    enum id_form form;
    /* Canonical absolute form: "//sp/cse/Cstem" (C-type AE), "//sp/Sstem" (S-type AE), "//sp/cse" (CSE). */
    char canon[LIMIT_ID_LEN + 1];
    /* Offset in canon of the AE-ID-Stem ("Cxyz"/"Sxyz") for ID_AE, of the CSE-ID without "/" for
     * ID_CSE (an offset, not a pointer, so struct id can be copied); read it with id_stem(). */
    unsigned short stem_off;
    /* The ID belongs to this CSE's SP domain (and, for C-type AE-IDs, to this CSE). */
    bool local;
};

/* The stem of an AE-ID or the CSE-ID of a CSE; NULL for other kinds. */
static inline const char *id_stem(const struct id *id)
{
    return id->kind == ID_AE || id->kind == ID_CSE ? id->canon + id->stem_off : NULL;
}

/* Parse an originator ID in any of its forms. Returns false (kind ID_INVALID) for anything that is
 * not a well-formed AE-ID, CSE-ID, "C" or "S": characters outside the unreserved URI set, empty
 * segments, or too many segments. Never reads past raw's terminator. */
bool id_parse(const struct id_env *env, const char *raw, struct id *out /* OUT */);

/* True when c may appear in an ID segment (RFC 3986 unreserved characters). */
bool id_char_ok(char c);

#endif
