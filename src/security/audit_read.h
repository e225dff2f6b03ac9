/* audit_read: the audit log read back (the console's audit page), newest record first, from a
 * bounded tail of the file: a log of any size costs at most max_bytes of reading. Read-only; the
 * writer (audit.c) is untouched. */
#ifndef WARDEN_SECURITY_AUDIT_READ_H
#define WARDEN_SECURITY_AUDIT_READ_H

#include <stdbool.h>
#include <stddef.h>

/* fn(arg, line, len) for each complete line (without its newline) of the last max_bytes of the file
 * at path, newest first; fn returns non-zero to stop. *truncated tells whether older lines exist
 * beyond what was read. Returns 0, or -1 when the file cannot be read. */
int audit_read_newest(const char *path, size_t max_bytes, int (*fn)(void *arg, const char *line, size_t len), void *arg,
                      bool *truncated /* OUT */);

#endif
