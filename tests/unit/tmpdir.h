/* tmpdir: a unit test's scratch directory (/tmp/warden-STEM-XXXXXX), made by setup and removed with
 * all it holds by teardown. Included by the test files only. */
#ifndef WARDEN_TESTS_UNIT_TMPDIR_H
#define WARDEN_TESTS_UNIT_TMPDIR_H

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static inline int tmpdir_rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* A fresh directory into dir (len bytes); false when it cannot be made. */
static inline bool tmpdir_make(char *dir, size_t len, const char *stem)
{
    snprintf(dir, len, "/tmp/warden-%s-XXXXXX", stem);
    return mkdtemp(dir) != NULL;
}

static inline void tmpdir_remove(const char *dir)
{
    nftw(dir, tmpdir_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

#endif
