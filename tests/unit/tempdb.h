/*
 * tempdb.h - a database file in a fresh temporary directory, for tests
 * that need a real SQLite file (the store and service suites).
 */
#ifndef PA_TEST_TEMPDB_H
#define PA_TEST_TEMPDB_H

#include <stddef.h>

/* Creates $TMPDIR/<prefix>-XXXXXX into dir and names <dir>/paserver.db in
 * path (not created).  Aborts the test program when it cannot. */
void pa_tempdb_make(const char *prefix, char *dir, size_t dirlen, char *path,
                    size_t pathlen);

/* Removes the file with its -wal, -shm and -journal companions, then the
 * directory. */
void pa_tempdb_remove(const char *dir, const char *path);

#endif
