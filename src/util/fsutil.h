/* fsutil: small filesystem helpers. */
#ifndef WARDEN_UTIL_FSUTIL_H
#define WARDEN_UTIL_FSUTIL_H

#include <stddef.h>

/* Create every missing directory on the way to the file path (mode 0700: owner only). Returns 0,
 * or -1 with a message in err. */
int fs_make_parent_dirs(const char *path, char *err, size_t errlen);

#endif
