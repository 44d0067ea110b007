/*
 * docs.h - the WSDL and XSD files compiled into paserver.
 *
 * The build turns wsdl/serviceV3.wsdl, serviceV2.wsdl, powerAuthV3.xsd and
 * powerAuthV2.xsd into docs_embedded.c (scripts/embed-docs), so a running
 * server serves them by HTTP GET without the source tree.
 */
#ifndef PA_SERVICE_DOCS_H
#define PA_SERVICE_DOCS_H

#include <stddef.h>

typedef struct pa_doc {
    const char *name;   /* file name, e.g. "serviceV3.wsdl" */
    const char *data;   /* the whole file, NUL-terminated */
    size_t len;         /* without the NUL */
} pa_doc;

extern const pa_doc pa_docs[];
extern const size_t pa_doc_count;

#endif
