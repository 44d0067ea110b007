/*
 * application.h - applications, their versions and master key pairs
 * (the v3 operations GetApplicationList, GetApplicationDetail,
 * LookupApplicationByAppKey, CreateApplication, CreateApplicationVersion,
 * SupportApplicationVersion, UnsupportApplicationVersion).
 *
 * Behaviour: shared/contract/DATABASE.md 5.9, 5.10.  Every function takes
 * the caller's store connection; results are plain store structs owned by
 * the caller and released with the matching free function.
 */
#ifndef PA_SERVICE_APPLICATION_H
#define PA_SERVICE_APPLICATION_H

#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* Random bytes behind applicationKey and applicationSecret. */
#define PA_APP_KEY_BYTES 16

/* Name of the one version CreateApplication makes. */
#define PA_APP_DEFAULT_VERSION "default"

/* What GetApplicationDetail answers. */
typedef struct pa_app_detail {
    pa_store_application app;
    char *master_public_key;          /* Base64 of the latest pair's point */
    pa_store_version_array versions;  /* in id order */
} pa_app_detail;

/* Every application (GetApplicationList), in creation order. */
pa_err pa_application_list(pa_store *s, pa_store_application_array *out);

/* Detail by id (name NULL) or by exact name (has_id 0).  Exactly one of
 * the two must be given: both or neither is PA_ERR_INVALID_REQUEST.  An
 * unknown application is PA_ERR_INVALID_APPLICATION; one without a master
 * key pair (only possible in imported data) PA_ERR_NO_MASTER_SERVER_KEYPAIR.
 * On error *out is zeroed. */
pa_err pa_application_detail(pa_store *s, int has_id, int64_t id,
                             const char *name, pa_app_detail *out);
void pa_application_detail_free(pa_app_detail *d);

/* The application owning the version with this applicationKey (supported
 * or not, as the original); unknown key: PA_ERR_INVALID_APPLICATION. */
pa_err pa_application_lookup_by_key(pa_store *s, const char *application_key,
                                    int64_t *application_id);

/* Creates the application, its master key pair "<name> Default Keypair"
 * and its supported version "default", in one transaction: either all
 * three rows are written or none.  A name already taken:
 * PA_ERR_INVALID_REQUEST (the original answers a generic fault without a
 * code), nothing written.  The empty name is a valid name. */
pa_err pa_application_create(pa_store *s, const char *name, int64_t *id);

/* Creates a supported version with a fresh random key and secret; the
 * application must exist (else PA_ERR_INVALID_APPLICATION, nothing
 * written).  *out is filled as stored (free with pa_store_version_free). */
pa_err pa_application_version_create(pa_store *s, int64_t application_id,
                                     const char *name, pa_store_version *out);

/* Sets a version's supported flag; unknown id: PA_ERR_INVALID_APPLICATION. */
pa_err pa_application_version_support(pa_store *s, int64_t version_id,
                                      int supported);

#endif
