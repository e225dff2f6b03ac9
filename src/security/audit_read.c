/* audit_read: see audit_read.h. */
#include "audit_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/mem.h"

int audit_read_newest(const char *path, size_t max_bytes, int (*fn)(void *arg, const char *line, size_t len), void *arg,
                      bool *truncated)
{
    *truncated = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t size = st.st_size > 0 ? (size_t)st.st_size : 0; /* the writer may append meanwhile: read to here */
    size_t start = size > max_bytes ? size - max_bytes : 0, len = size - start, got = 0;
    char *b = mem_alloc(len + 1);
    while (got < len) {
        ssize_t n = pread(fd, b + got, len - got, (off_t)(start + got));
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    size_t from = 0;
    if (start > 0) { /* the first line read is a partial one */
        while (from < got && b[from] != '\n')
            from++;
        from++;
        *truncated = true;
    }
    size_t end = got;
    while (end > from && b[end - 1] != '\n')
        end--; /* a line still being written has no newline yet */
    while (end > from) {
        size_t e = end - 1, s = e;
        while (s > from && b[s - 1] != '\n')
            s--;
        if (e > s && fn(arg, b + s, e - s) != 0)
            break;
        end = s;
    }
    mem_free(b);
    return 0;
}
