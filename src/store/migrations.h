/*
 * migrations.h - the SQL migrations compiled into paserver.
 *
 * The build turns db/sqlite/NNNN_<name>.sql into migrations_sqlite.c
 * (scripts/embed-migrations), so a running server never needs the source
 * tree.  Entry i holds version i + 1: the generator refuses gaps.
 */
#ifndef PA_STORE_MIGRATIONS_H
#define PA_STORE_MIGRATIONS_H

#include <stddef.h>

typedef struct pa_sq_migration {
    int version;      /* NNNN of the file name */
    const char *name; /* file name without directory and .sql */
    const char *sql;  /* the whole file, NUL-terminated */
} pa_sq_migration;

extern const pa_sq_migration pa_sq_migrations[];
extern const size_t pa_sq_migration_count;

#endif
