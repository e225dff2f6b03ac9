/* fsutil: filesystem helpers (see fsutil.h). */
#include "fsutil.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_make_parent_dirs(const char *path, char *err, size_t errlen)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) {
        snprintf(err, errlen, "path too long: %.64s...", path);
        return -1;
    }
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    return 0;
}

int fs_create_private_file(const char *path, char *err, size_t errlen)
{
    if (fs_make_parent_dirs(path, err, errlen) != 0)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

int fs_check_private(const char *path, const char *what, char *err, size_t errlen)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) {
        snprintf(err, errlen, "%s: path too long: %.64s...", what, path);
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH)) {
        snprintf(err, errlen,
                 "%s %s: its directory %s is world-writable (mode %04o): anyone could plant or replace the file; "
                 "use a directory only its owner can write",
                 what, path, dir, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s %s is not a regular file", what, path);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen, "%s %s belongs to uid %u, not to the user this runs as (uid %u)", what, path,
                 (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "%s %s is open to other users (mode %04o): chmod 600 %s", what, path,
                 (unsigned)(st.st_mode & 07777), path);
        return -1;
    }
    return 0;
}

int fs_lock_exclusive(const char *lock_path, long *holder, char *err, size_t errlen)
{
    *holder = 0;
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the lock file %s: %s", lock_path, strerror(errno));
        return -1;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        int e = errno;
        if (e == EAGAIN || e == EACCES) {
            char text[32] = "";
            ssize_t n = pread(fd, text, sizeof text - 1, 0);
            if (n > 0) {
                text[n] = '\0';
                *holder = strtol(text, NULL, 10);
            }
            snprintf(err, errlen, "%s is locked by another process", lock_path);
        } else {
            snprintf(err, errlen, "cannot lock %s: %s", lock_path, strerror(e));
        }
        close(fd);
        return -1;
    }
    char text[32];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
        snprintf(err, errlen, "cannot write %s: %s", lock_path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}
