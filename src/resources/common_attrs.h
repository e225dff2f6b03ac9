/* common_attrs: attribute policies shared by most resource types (TS-0004 Table 7.4.x-1 rows
 * for the universal and common attributes). Included by the type files only. */
#ifndef WARDEN_RESOURCES_COMMON_ATTRS_H
#define WARDEN_RESOURCES_COMMON_ATTRS_H

/* set by the CSE, never by the originator */
#define ATTRS_UNIVERSAL_RO                                                                                             \
    {"ty", AT_UINT, A_NP, A_NP}, {"ri", AT_STR, A_NP, A_NP}, {"pi", AT_STR, A_NP, A_NP}, {"ct", AT_TS, A_NP, A_NP},    \
    {                                                                                                                  \
        "lt", AT_TS, A_NP, A_NP                                                                                        \
    }

/* rn on create only; et and labels writable; access-policy links writable; announceTo and
 * announcedAttribute refused with 5001 until announcement exists (TS-0004 §7.3.3.3) */
#define ATTRS_COMMON_RW                                                                                                \
    {"rn", AT_NAME, A_O, A_NP}, {"et", AT_TS, A_O, A_O}, {"lbl", AT_LABELS, A_O, A_O}, {"at", AT_STRLIST, A_NI, A_NI}, \
        {"aa", AT_STRLIST, A_NI, A_NI}, {"acpi", AT_STRLIST, A_O, A_O},                                                \
    {                                                                                                                  \
        "daci", AT_STRLIST, A_O, A_O                                                                                   \
    }

/* The same for an announceable type (rtype.annc_ty set): announceTo and announcedAttribute are
 * accepted (core/announce.c validates them: CSE-IDs reachable from here, OA attributes) */
#define ATTRS_COMMON_ANNC                                                                                              \
    {"rn", AT_NAME, A_O, A_NP}, {"et", AT_TS, A_O, A_O}, {"lbl", AT_LABELS, A_O, A_O}, {"at", AT_STRLIST, A_O, A_O},   \
        {"aa", AT_STRLIST, A_O, A_O}, {"acpi", AT_STRLIST, A_O, A_O},                                                  \
    {                                                                                                                  \
        "daci", AT_STRLIST, A_O, A_O                                                                                   \
    }

/* Universal and common attributes of every announced variant (TS-0004 Table 7.4.26.1-2): lnk names
 * the original resource (SP-relative); rn is NP on create and update (the receiver names the copy) */
#define ATTRS_ANNC_COMMON                                                                                              \
    {"rn", AT_NAME, A_NP, A_NP}, {"et", AT_TS, A_M, A_O}, {"lbl", AT_LABELS, A_O, A_O},                                \
        {"acpi", AT_STRLIST, A_O, A_O}, {"daci", AT_STRLIST, A_O, A_O},                                                \
    {                                                                                                                  \
        "lnk", AT_STR, A_M, A_O                                                                                        \
    }

#define NATTRS(a) ((int)(sizeof(a) / sizeof((a)[0])))

#endif
