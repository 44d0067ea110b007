/*
 * backend_soap.c - pactl against a running server, through the gSOAP
 * client stubs generated from our own WSDL (so pactl is also one more
 * client of the contract, exercised by the tests).
 *
 * With --user every call carries a WS-Security UsernameToken with a
 * PasswordText password, the form the original's clients send.  A fault
 * is reported by the ERR code in its detail and its faultstring, the
 * English text of that code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "soap/pasoap.h"
#include "tools/pactl/pactl.h"

#define WSSE_PASSWORD_TEXT                                                    \
    "http://docs.oasis-open.org/wss/2004/01/"                                 \
    "oasis-200401-wss-username-token-profile-1.0#PasswordText"

#define CONNECT_TIMEOUT_S 10
#define IO_TIMEOUT_S 60

typedef struct soap_backend {
    pactl_backend base;
    struct soap *soap;
    pactl_soap_opts o;
} soap_backend;

/* ---- calls and faults ---------------------------------------------------------- */

/* The request header for the next call: gSOAP overwrites soap->header with
 * the response's, so it is set again before every call.  The password is
 * referenced, not copied, so no copy of it is left in gSOAP's memory. */
static int set_header(soap_backend *b)
{
    struct soap *soap = b->soap;
    struct SOAP_ENV__Header *h;
    struct _wsse__Security *sec;
    struct _wsse__UsernameToken *ut;
    struct _wsse__Password *pw;

    soap->header = NULL;
    if (b->o.user == NULL)
        return 0;
    h = soap_new_SOAP_ENV__Header(soap, -1);
    sec = soap_new__wsse__Security(soap, -1);
    ut = soap_new__wsse__UsernameToken(soap, -1);
    pw = soap_new__wsse__Password(soap, -1);
    if (h == NULL || sec == NULL || ut == NULL || pw == NULL)
        return -1;
    pw->__item = (char *)b->o.password;
    pw->Type = (char *)WSSE_PASSWORD_TEXT;
    ut->Username = (char *)b->o.user;
    ut->Password = pw;
    sec->UsernameToken = ut;
    h->wsse__Security = sec;
    soap->header = h;
    return 0;
}

/* The ERR code in a fault detail ("<errorCode>ERR0015</errorCode>"). */
static pa_err detail_code(const char *detail)
{
    const char *p = detail;

    while (p != NULL && (p = strstr(p, "ERR")) != NULL) {
        int n = 0, i;
        for (i = 3; i < 7 && p[i] >= '0' && p[i] <= '9'; i++)
            n = n * 10 + (p[i] - '0');
        if (i == 7 && n + 1 < PA_ERR__COUNT)
            return (pa_err)(n + 1);
        p += 3;
    }
    return PA_OK;
}

/* Turns a failed call into f; always -1. */
static int call_failed(soap_backend *b, pactl_fail *f)
{
    struct soap *soap = b->soap;
    const char *fs = soap_fault_string(soap);
    pa_err code;

    if (fs == NULL)
        fs = "no details";
    /* A received fault: gSOAP reports SOAP-ENV:Client and SOAP-ENV:Server
     * faults as SOAP_CLI_FAULT / SOAP_SVR_FAULT, any other as SOAP_FAULT. */
    if (soap->error == SOAP_SVR_FAULT || soap->error == SOAP_CLI_FAULT
        || soap->error == SOAP_FAULT) {
        code = detail_code(soap_fault_detail(soap));
        if (code != PA_OK) {
            f->code = code;
            snprintf(f->text, sizeof f->text, "%s", fs);
        } else {
            pactl_fail_text(f, "server fault: %s", fs);
        }
    } else if (soap->error == SOAP_TCP_ERROR || soap->error == SOAP_SSL_ERROR) {
        pactl_fail_text(f, "cannot connect to %s: %s", b->o.url, fs);
    } else if (soap->error == 404 || soap->error == 405) {
        pactl_fail_text(f, "HTTP status %d from %s (is it the server's .../soap "
                        "endpoint?)", soap->error, b->o.url);
    } else if (soap->error >= 300 && soap->error < 600) {
        pactl_fail_text(f, "HTTP status %d from %s without a readable SOAP "
                        "answer", soap->error, b->o.url);
    } else {
        pactl_fail_text(f, "SOAP call to %s failed: %s (gSOAP error %d)",
                        b->o.url, fs, soap->error);
    }
    return -1;
}

static int no_memory(pactl_fail *f)
{
    pactl_fail_text(f, "out of memory");
    return -1;
}

/* Runs one stub call expression with the header set; on failure returns
 * from the calling function with f filled. */
#define CALL(b, f, expr)                                                       \
    do {                                                                       \
        if (set_header(b) != 0)                                                \
            return no_memory(f);                                               \
        if ((expr) != SOAP_OK)                                                 \
            return call_failed(b, f);                                          \
    } while (0)

/* ---- value conversion ------------------------------------------------------------ */

static json_t *jlong(const LONG64 *p)
{
    return p != NULL ? json_integer((json_int_t)*p) : json_null();
}

static json_t *jbool(const enum xsd__boolean *p)
{
    return p != NULL ? json_boolean(*p == xsd__boolean__true_) : json_null();
}

static json_t *jstr(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

/* {"<member>": [...]} from a built array, or NULL (array consumed). */
static json_t *wrap(const char *member, json_t *list, size_t expected)
{
    json_t *o = NULL;

    if (list != NULL && json_array_size(list) == expected)
        o = json_pack("{s:O}", member, list);
    json_decref(list);
    return o;
}

/* ---- applications ------------------------------------------------------------- */

static json_t *version_json(const struct _pa3__GetApplicationDetailResponse_versions *v)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o}",
                     "applicationVersionId", jlong(v->applicationVersionId),
                     "applicationVersionName", jstr(v->applicationVersionName),
                     "applicationKey", jstr(v->applicationKey),
                     "applicationSecret", jstr(v->applicationSecret),
                     "supported", jbool(v->supported));
}

static json_t *detail_json(const struct _pa3__GetApplicationDetailResponse *d)
{
    json_t *list = json_array();

    for (int i = 0; list != NULL && i < d->__sizeversions; i++)
        json_array_append_new(list, version_json(&d->versions[i]));
    if (list == NULL || json_array_size(list) != (size_t)d->__sizeversions) {
        json_decref(list);
        return NULL;
    }
    return json_pack("{s:o,s:o,s:o,s:o}", "applicationId", jlong(d->applicationId),
                     "applicationName", jstr(d->applicationName),
                     "masterPublicKey", jstr(d->masterPublicKey),
                     "versions", list);
}

/* The application, its key and its first version, flat (app create). */
static json_t *created_json(const struct _pa3__GetApplicationDetailResponse *d)
{
    const struct _pa3__GetApplicationDetailResponse_versions *v;

    if (d->__sizeversions < 1)
        return NULL;
    v = &d->versions[0];
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
                     "applicationId", jlong(d->applicationId),
                     "applicationName", jstr(d->applicationName),
                     "applicationVersionId", jlong(v->applicationVersionId),
                     "applicationVersionName", jstr(v->applicationVersionName),
                     "applicationKey", jstr(v->applicationKey),
                     "applicationSecret", jstr(v->applicationSecret),
                     "masterPublicKey", jstr(d->masterPublicKey));
}

static int app_detail(pactl_backend *base, const pactl_req *r, json_t **out,
                      pactl_fail *f)
{
    soap_backend *b = (soap_backend *)base;
    struct _pa3__GetApplicationDetailRequest req = {0};
    struct _pa3__GetApplicationDetailResponse resp = {0};
    LONG64 id = r->id;

    if (r->op == PACTL_APP_SHOW && r->name != NULL)
        req.applicationName = (char *)r->name;
    else
        req.applicationId = &id;
    CALL(b, f, soap_call___pa3__GetApplicationDetail(b->soap, b->o.url, NULL,
                                                      &req, &resp));
    switch (r->op) {
    case PACTL_APP_CREATE:
        if ((*out = created_json(&resp)) == NULL) {
            pactl_fail_text(f, "the server answered no version of the new "
                            "application");
            return -1;
        }
        return 0;
    case PACTL_APP_MASTER_KEY:
        *out = json_pack("{s:o,s:o}", "applicationId", jlong(resp.applicationId),
                         "masterPublicKey", jstr(resp.masterPublicKey));
        break;
    default: *out = detail_json(&resp); break;
    }
    return *out != NULL ? 0 : no_memory(f);
}

static int app_create(pactl_backend *base, const pactl_req *r, json_t **out,
                      pactl_fail *f)
{
    soap_backend *b = (soap_backend *)base;
    struct _pa3__CreateApplicationRequest req = {(char *)r->name};
    struct _pa3__CreateApplicationResponse resp = {0};
    pactl_req shown = *r;

    CALL(b, f, soap_call___pa3__CreateApplication(b->soap, b->o.url, NULL,
                                                   &req, &resp));
    if (resp.applicationId == NULL) {
        pactl_fail_text(f, "the server answered no applicationId");
        return -1;
    }
    shown.id = *resp.applicationId;
    return app_detail(base, &shown, out, f);
}

static int app_list(pactl_backend *base, const pactl_req *r, json_t **out,
                    pactl_fail *f)
{
    soap_backend *b = (soap_backend *)base;

    (void)r;
    struct _pa3__GetApplicationListRequest req;
    struct _pa3__GetApplicationListResponse resp = {0};
    json_t *list;

    memset(&req, 0, sizeof req);
    CALL(b, f, soap_call___pa3__GetApplicationList(b->soap, b->o.url, NULL,
                                                    &req, &resp));
    list = json_array();
    for (int i = 0; list != NULL && i < resp.__sizeapplications; i++)
        json_array_append_new(list, json_pack("{s:o,s:o}",
            "applicationId", jlong(resp.applications[i].id),
            "applicationName", jstr(resp.applications[i].applicationName)));
    *out = wrap("applications", list, (size_t)resp.__sizeapplications);
    return *out != NULL ? 0 : no_memory(f);
}

/* ---- versions ------------------------------------------------------------------ */

static int version_create(pactl_backend *base, const pactl_req *r, json_t **out,
                          pactl_fail *f)
{
    soap_backend *b = (soap_backend *)base;
    LONG64 id = r->id;
    struct _pa3__CreateApplicationVersionRequest req = {&id, (char *)r->name};
    struct _pa3__CreateApplicationVersionResponse resp = {0};

    CALL(b, f, soap_call___pa3__CreateApplicationVersion(b->soap, b->o.url,
                                                          NULL, &req, &resp));
    *out = json_pack("{s:o,s:o,s:o,s:o,s:o,s:I}",
                     "applicationVersionId", jlong(resp.applicationVersionId),
                     "applicationVersionName", jstr(resp.applicationVersionName),
                     "applicationKey", jstr(resp.applicationKey),
                     "applicationSecret", jstr(resp.applicationSecret),
                     "supported", jbool(resp.supported),
                     "applicationId", (json_int_t)r->id);
    return *out != NULL ? 0 : no_memory(f);
}

static int version_support(pactl_backend *base, const pactl_req *r, json_t **out,
                           pactl_fail *f)
{
    soap_backend *b = (soap_backend *)base;
    LONG64 id = r->id;
    LONG64 *rid;
    enum xsd__boolean *sup;

    if (r->op == PACTL_VERSION_SUPPORT) {
        struct _pa3__SupportApplicationVersionRequest req = {&id};
        struct _pa3__SupportApplicationVersionResponse resp = {0};
        CALL(b, f, soap_call___pa3__SupportApplicationVersion(b->soap, b->o.url,
                                                               NULL, &req, &resp));
        rid = resp.applicationVersionId;
        sup = resp.supported;
    } else {
        struct _pa3__UnsupportApplicationVersionRequest req = {&id};
        struct _pa3__UnsupportApplicationVersionResponse resp = {0};
        CALL(b, f, soap_call___pa3__UnsupportApplicationVersion(
                       b->soap, b->o.url, NULL, &req, &resp));
        rid = resp.applicationVersionId;
        sup = resp.supported;
    }
    *out = json_pack("{s:o,s:o}", "applicationVersionId", jlong(rid),
                     "supported", jbool(sup));
    return *out != NULL ? 0 : no_memory(f);
}

/* ---- integrations ------------------------------------------------------------ */

static int integration_create(pactl_backend *base, const pactl_req *r, json_t **out,
                              pactl_fail *f)
{
    soap_backend *b = (soap_backend *)base;
    struct _pa3__CreateIntegrationRequest req = {(char *)r->name};
    struct _pa3__CreateIntegrationResponse resp = {0};

    CALL(b, f, soap_call___pa3__CreateIntegration(b->soap, b->o.url, NULL,
                                                   &req, &resp));
    *out = json_pack("{s:o,s:o,s:o,s:o}", "id", jstr(resp.id),
                     "name", jstr(resp.name), "clientToken", jstr(resp.clientToken),
                     "clientSecret", jstr(resp.clientSecret));
    return *out != NULL ? 0 : no_memory(f);
}

static int integration_list(pactl_backend *base, const pactl_req *r, json_t **out,
                            pactl_fail *f)
{
    soap_backend *b = (soap_backend *)base;

    (void)r;
    struct _pa3__GetIntegrationListRequest req;
    struct _pa3__GetIntegrationListResponse resp = {0};
    json_t *list;

    memset(&req, 0, sizeof req);
    CALL(b, f, soap_call___pa3__GetIntegrationList(b->soap, b->o.url, NULL,
                                                    &req, &resp));
    list = json_array();
    for (int i = 0; list != NULL && i < resp.__sizeitems; i++) {
        const struct _pa3__GetIntegrationListResponse_items *it = &resp.items[i];
        json_array_append_new(list, json_pack("{s:o,s:o,s:o,s:o}",
            "id", jstr(it->id), "name", jstr(it->name),
            "clientToken", jstr(it->clientToken),
            "clientSecret", jstr(it->clientSecret)));
    }
    *out = wrap("integrations", list, (size_t)resp.__sizeitems);
    if (*out != NULL
        && json_object_set_new(*out, "restrictedAccess",
                               jbool(resp.restrictedAccess)) != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return *out != NULL ? 0 : no_memory(f);
}

/* ---- callbacks --------------------------------------------------------------- */

static int callback_create(pactl_backend *base, const pactl_req *r, json_t **out,
                           pactl_fail *f)
{
    soap_backend *b = (soap_backend *)base;
    LONG64 id = r->id;
    struct _pa3__CreateCallbackUrlRequest req = {&id, (char *)r->name,
                                                 (char *)r->url};
    struct _pa3__CreateCallbackUrlResponse resp = {0};

    CALL(b, f, soap_call___pa3__CreateCallbackUrl(b->soap, b->o.url, NULL,
                                                   &req, &resp));
    *out = json_pack("{s:o,s:o,s:o,s:o}", "id", jstr(resp.id),
                     "applicationId", jlong(resp.applicationId),
                     "name", jstr(resp.name), "callbackUrl", jstr(resp.callbackUrl));
    return *out != NULL ? 0 : no_memory(f);
}

static int callback_list(pactl_backend *base, const pactl_req *r, json_t **out,
                         pactl_fail *f)
{
    soap_backend *b = (soap_backend *)base;
    LONG64 id = r->id;
    struct _pa3__GetCallbackUrlListRequest req = {&id};
    struct _pa3__GetCallbackUrlListResponse resp = {0};
    json_t *list;

    CALL(b, f, soap_call___pa3__GetCallbackUrlList(b->soap, b->o.url, NULL,
                                                    &req, &resp));
    list = json_array();
    for (int i = 0; list != NULL && i < resp.__sizecallbackUrlList; i++) {
        const struct _pa3__GetCallbackUrlListResponse_callbackUrlList *c =
            &resp.callbackUrlList[i];
        json_array_append_new(list, json_pack("{s:o,s:o,s:o,s:o}",
            "id", jstr(c->id), "applicationId", jlong(c->applicationId),
            "name", jstr(c->name), "callbackUrl", jstr(c->callbackUrl)));
    }
    *out = wrap("callbacks", list, (size_t)resp.__sizecallbackUrlList);
    return *out != NULL ? 0 : no_memory(f);
}

/* ---- removal (integrations and callbacks) ----------------------------------- */

static int remove_by_id(pactl_backend *base, const pactl_req *r, json_t **out,
                        pactl_fail *f)
{
    soap_backend *b = (soap_backend *)base;
    enum xsd__boolean *removed;

    if (r->op == PACTL_CALLBACK_REMOVE) {
        struct _pa3__RemoveCallbackUrlRequest req = {(char *)r->key};
        struct _pa3__RemoveCallbackUrlResponse resp = {0};
        CALL(b, f, soap_call___pa3__RemoveCallbackUrl(b->soap, b->o.url, NULL,
                                                       &req, &resp));
        removed = resp.removed;
    } else {
        struct _pa3__RemoveIntegrationRequest req = {(char *)r->key};
        struct _pa3__RemoveIntegrationResponse resp = {0};
        CALL(b, f, soap_call___pa3__RemoveIntegration(b->soap, b->o.url, NULL,
                                                       &req, &resp));
        removed = resp.removed;
    }
    /* removed is optional in the contract; absent reads as false. */
    *out = json_pack("{s:s,s:b}", "id", r->key, "removed",
                     removed != NULL && *removed == xsd__boolean__true_);
    return *out != NULL ? 0 : no_memory(f);
}

/* ---- backend ------------------------------------------------------------------ */

static void soap_close(pactl_backend *base)
{
    soap_backend *b = (soap_backend *)base;

    /* The I/O buffer last held a request, which may carry the password. */
    OPENSSL_cleanse(b->soap->buf, sizeof b->soap->buf);
    soap_destroy(b->soap);
    soap_end(b->soap);
    soap_free(b->soap);
    free(b);
}

static const pactl_ops soap_ops = {
    .app_create = app_create,
    .app_list = app_list,
    .app_detail = app_detail,
    .version_create = version_create,
    .version_support = version_support,
    .integration_create = integration_create,
    .integration_list = integration_list,
    .callback_create = callback_create,
    .callback_list = callback_list,
    .remove_by_id = remove_by_id,
    .close = soap_close,
};

int pactl_soap_open(const pactl_soap_opts *o, pactl_backend **out,
                    pactl_fail *f)
{
    soap_backend *b = calloc(1, sizeof *b);

    *out = NULL;
    /* No keep-alive: a run makes at most two calls, and a fresh connection
     * per call cannot read an answer left over from the previous one. */
    if (b == NULL || (b->soap = soap_new1(SOAP_C_UTFSTRING)) == NULL) {
        free(b);
        return no_memory(f);
    }
    b->o = *o;
    soap_set_namespaces(b->soap, namespaces);
    b->soap->connect_timeout = CONNECT_TIMEOUT_S;
    b->soap->send_timeout = IO_TIMEOUT_S;
    b->soap->recv_timeout = IO_TIMEOUT_S;
    if (strncmp(o->url, "https:", 6) == 0
        && soap_ssl_client_context(b->soap, SOAP_SSL_DEFAULT, NULL, NULL,
                                   o->cacert, NULL, NULL) != SOAP_OK) {
        pactl_fail_text(f, "TLS set-up failed: %s", soap_fault_string(b->soap));
        b->base.ops = &soap_ops;
        soap_close(&b->base);
        return -1;
    }
    b->base.ops = &soap_ops;
    *out = &b->base;
    return 0;
}
