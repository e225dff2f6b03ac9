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

/* The rule for files that hold secrets or the security record (the store, its -wal/-shm files, the
 * audit log): an existing path must be a regular file of the effective user with no group or other
 * permission bits, in a directory that is not world-writable (where anyone could have planted or could
 * replace it). what names the file in the message ("store", "audit log"). Returns 0 (also when path
 * does not exist yet), or -1 with err naming the file, what is wrong and the fix. */
int fs_check_private(const char *path, const char *what, char *err, size_t errlen);

/* Take an exclusive lock on lock_path (created owner-only if missing) and write this process's pid
 * into it. The lock is an open-file-description lock (F_OFD_SETLK): it conflicts with every other
 * open of the file, in this process too, and is released when the returned descriptor is closed or
 * the process ends (also by kill -9: no stale lock). Returns the descriptor, or -1 with err; when
 * another holder has it, *holder is the pid written in the file (0 if it has not written it yet). */
int fs_lock_exclusive(const char *lock_path, long *holder, char *err, size_t errlen);

#endif
