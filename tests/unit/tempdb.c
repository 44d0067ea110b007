/* tempdb.c - temporary database files for tests, see tempdb.h. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/tempdb.h"

void pa_tempdb_make(const char *prefix, char *dir, size_t dirlen, char *path,
                    size_t pathlen)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, dirlen, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    snprintf(path, pathlen, "%s/paserver.db", dir);
}

void pa_tempdb_remove(const char *dir, const char *path)
{
    static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
    char p[PATH_MAX + 16];

    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
}
