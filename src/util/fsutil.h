/* fsutil: small filesystem helpers. */
#ifndef WARDEN_UTIL_FSUTIL_H
#define WARDEN_UTIL_FSUTIL_H

#include <stddef.h>

/* Create every missing directory on the way to the file path (mode 0700: owner only). Returns 0,
 * or -1 with a message in err. */
int fs_make_parent_dirs(const char *path, char *err, size_t errlen);

/* Create path's directories (0700) and the file itself if missing, owner-only (0600): for stores that
 * hold resources or credentials. Returns 0 or -1 with a message in err. */
int fs_create_private_file(const char *path, char *err, size_t errlen);

#endif
