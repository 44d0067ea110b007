/*
 * test_soap_client.c - paserver driven by a C client built from the same
 * gSOAP stubs (gen/soapClient.c), over real HTTP.
 *
 * tests/integration/run.sh starts paserver with default service settings
 * on a free port and runs this program with the endpoint URL as its only
 * argument (or PA_ITEST_ENDPOINT).  Expectations come from the contract
 * (../shared/contract: error-codes.tsv, operations-v3.tsv, DATABASE.md),
 * never from the server's code: ids positive and growing, UUID v4 in
 * lower case, Base64 16-byte application keys and secrets, a 65-byte
 * uncompressed P-256 master public key, list order, and the documented
 * fault shape (faultcode SOAP-ENV:Server, English faultstring, detail
 * errorCode + localizedMessage).
 *
 * These stubs cannot omit a required element: a NULL pointer is sent as an
 * empty element (<applicationId/>), which for an xs:long is a value of the
 * wrong type (Client fault ERR0024) and for a string is "" (read as the
 * empty string, as the original reads it).  Truly missing elements are
 * tested by the Python suites, which write the XML themselves.
 *
 * One gSOAP context per suite, made in the suite's init and freed in its
 * cleanup, so a FATAL assertion (which leaves the test function) leaks
 * nothing.  Tests of a suite run in order and share what they create.
 * The last line printed is "N passed, N failed" (tests).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "soapH.h"

/* The client's own namespace table (gSOAP looks it up as `namespaces`). */
struct Namespace namespaces[] = {
    {"SOAP-ENV", "http://schemas.xmlsoap.org/soap/envelope/", NULL, NULL},
    {"SOAP-ENC", "http://schemas.xmlsoap.org/soap/encoding/", NULL, NULL},
    {"xsi", "http://www.w3.org/2001/XMLSchema-instance", NULL, NULL},
    {"xsd", "http://www.w3.org/2001/XMLSchema", NULL, NULL},
    {"pa3", "http://getlime.io/security/powerauth/v3", NULL, NULL},
    {"pa2", "http://getlime.io/security/powerauth/v2", NULL, NULL},
    {"wsse", "http://docs.oasis-open.org/wss/2004/01/"
             "oasis-200401-wss-wssecurity-secext-1.0.xsd", NULL, NULL},
    {"wsu", "http://docs.oasis-open.org/wss/2004/01/"
            "oasis-200401-wss-wssecurity-utility-1.0.xsd", NULL, NULL},
    {NULL, NULL, NULL, NULL},
};

#define NCODES 33
#define NONE_ID 987654321LL

static const char *endpoint;
static struct soap *soap;
/* The raw bytes of the last answer: gSOAP's client keeps only the first
 * element of a fault detail in __any, so localizedMessage is read here. */
static char *raw;
static size_t raw_len, raw_cap;
static char tag[32];            /* makes names unique per run */

/* ---- the contract's error catalogue ----------------------------------------- */

static char cat_code[NCODES][8];
static char *cat_text[NCODES];

/* error-codes.tsv: code, constant, message_en, docs_title, ...; the English
 * text is message_en except ERR0031/32, which use docs_title. */
static int load_catalogue(void)
{
    const char *shared = getenv("PA_SHARED");
    char path[4096], line[8192];
    FILE *f;
    int n = 0;

    snprintf(path, sizeof path, "%s/contract/error-codes.tsv", shared ? shared : "../shared");
    f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL && n < NCODES) {
        char *col[5] = {0}, *p = line;
        int c;

        if (strncmp(line, "ERR", 3) != 0)
            continue;
        for (c = 0; c < 5 && p != NULL; c++) {
            col[c] = p;
            p = strchr(p, '\t');
            if (p != NULL)
                *p++ = '\0';
        }
        if (c < 4)
            continue;
        snprintf(cat_code[n], sizeof cat_code[n], "%s", col[0]);
        cat_text[n] = strdup((strcmp(col[0], "ERR0031") == 0 || strcmp(col[0], "ERR0032") == 0)
                                 ? col[3] : col[2]);
        n++;
    }
    fclose(f);
    return n == NCODES ? 0 : -1;
}

static void free_catalogue(void)
{
    for (int i = 0; i < NCODES; i++) {
        free(cat_text[i]);
        cat_text[i] = NULL;
    }
}

static const char *english(const char *code)
{
    for (int i = 0; i < NCODES; i++)
        if (strcmp(cat_code[i], code) == 0)
            return cat_text[i];
    return "?";
}

/* ---- helpers ------------------------------------------------------------------- */

static int record_recv(struct soap *s, const char *buf, size_t len)
{
    (void)s;
    if (raw_len + len + 1 > raw_cap) {
        size_t cap = (raw_len + len + 1) * 2;
        char *p = realloc(raw, cap);

        if (p == NULL)
            return SOAP_EOM;
        raw = p;
        raw_cap = cap;
    }
    memcpy(raw + raw_len, buf, len);
    raw_len += len;
    raw[raw_len] = '\0';
    return SOAP_OK;
}

static void raw_reset(void)
{
    raw_len = 0;
    if (raw != NULL)
        raw[0] = '\0';
}

static struct soap *new_context(void)
{
    struct soap *s = soap_new1(SOAP_C_UTFSTRING);

    soap_set_namespaces(s, namespaces);
    s->fpreparerecv = record_recv;
    s->connect_timeout = 5;
    s->send_timeout = 10;
    s->recv_timeout = 10;
    return s;
}

static int suite_init(void)
{
    soap = new_context();
    return soap == NULL;
}

static int suite_clean(void)
{
    soap_destroy(soap);
    soap_end(soap);
    soap_free(soap);
    soap = NULL;
    return 0;
}

static LONG64 *L(LONG64 v)
{
    LONG64 *p = soap_malloc(soap, sizeof *p);

    *p = v;
    return p;
}

static char *S(const char *fmt, const char *a)
{
    char buf[256];

    snprintf(buf, sizeof buf, fmt, a);
    return soap_strdup(soap, buf);
}

/* Prints the fault of a failed call (to the test log) and says whether the
 * call succeeded. */
static int ok(int rc, const char *what)
{
    if (rc == SOAP_OK)
        return 1;
    fprintf(stderr, "\n  %s failed: error %d", what, rc);
    if (soap->fault != NULL)
        fprintf(stderr, " %s: %s", soap->fault->faultcode ? soap->fault->faultcode : "-",
                soap->fault->faultstring ? soap->fault->faultstring : "-");
    fputc('\n', stderr);
    return 0;
}

#define CALL(op, req, resp)                                                            \
    do {                                                                               \
        raw_reset();                                                                   \
        CU_ASSERT_FATAL(ok(soap_call___pa3__##op(soap, endpoint, NULL, (req), (resp)), #op)); \
    } while (0)

/* Text of <name>...</name> inside the literal detail XML, entities decoded. */
static int detail_field(const char *xml, const char *name, char *out, size_t n)
{
    char open[64], close[64];
    const char *p, *q;
    size_t o = 0;

    snprintf(open, sizeof open, "<%s", name);
    snprintf(close, sizeof close, "</%s>", name);
    if (xml == NULL || (p = strstr(xml, open)) == NULL || (p = strchr(p, '>')) == NULL
        || (q = strstr(++p, close)) == NULL)
        return 0;
    while (p < q && o + 1 < n) {
        static const struct { const char *ent; char c; } ents[] = {
            {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''},
            {"&#39;", '\''}, {"&#x27;", '\''},
        };
        size_t k;

        for (k = 0; k < sizeof ents / sizeof ents[0]; k++)
            if (strncmp(p, ents[k].ent, strlen(ents[k].ent)) == 0)
                break;
        if (k < sizeof ents / sizeof ents[0]) {
            out[o++] = ents[k].c;
            p += strlen(ents[k].ent);
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return 1;
}

/* gSOAP's client reports a received fault as SOAP_SVR_FAULT / SOAP_CLI_FAULT
 * by its faultcode, SOAP_FAULT for other codes. */
static int is_fault(int rc)
{
    return rc == SOAP_FAULT || rc == SOAP_SVR_FAULT || rc == SOAP_CLI_FAULT;
}

/* Checks the documented fault shape of the last call. */
static void check_fault(const char *op, int rc, const char *code, const char *errcode)
{
    char ec[32], msg[512];
    const char *detail;

    if (!is_fault(rc))
        fprintf(stderr, "\n  %s: expected a fault %s, got %d\n", op, errcode, rc);
    CU_ASSERT_FATAL(is_fault(rc));
    CU_ASSERT_PTR_NOT_NULL_FATAL(soap->fault);
    CU_ASSERT_PTR_NOT_NULL_FATAL(soap->fault->faultcode);
    CU_ASSERT_STRING_EQUAL(soap->fault->faultcode, code);
    CU_ASSERT_PTR_NOT_NULL_FATAL(soap->fault->faultstring);
    if (strcmp(code, "SOAP-ENV:Server") == 0)
        CU_ASSERT_STRING_EQUAL(soap->fault->faultstring, english(errcode));
    CU_ASSERT_PTR_NOT_NULL_FATAL(soap->fault->detail);
    detail = soap->fault->detail->__any;
    CU_ASSERT_PTR_NOT_NULL_FATAL(detail);
    CU_ASSERT_FATAL(detail_field(detail, "errorCode", ec, sizeof ec));
    CU_ASSERT_STRING_EQUAL(ec, errcode);
    if (strcmp(ec, errcode) != 0 || strcmp(soap->fault->faultcode, code) != 0)
        fprintf(stderr, "\n  %s: %s %s, expected %s %s (%s)\n", op, soap->fault->faultcode, ec,
                code, errcode, soap->fault->faultstring);
    /* the detail's children are unqualified: no prefix, no namespace */
    CU_ASSERT_PTR_NULL(strstr(detail, ":errorCode"));
    CU_ASSERT_PTR_NULL(strstr(detail, "xmlns=\""));
    /* localizedMessage follows errorCode inside <detail>, in the raw answer */
    CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
    detail = strstr(raw, "<detail>");
    CU_ASSERT_PTR_NOT_NULL_FATAL(detail);
    CU_ASSERT_FATAL(detail_field(detail, "localizedMessage", msg, sizeof msg));
    CU_ASSERT_STRING_EQUAL(msg, english(errcode));
    CU_ASSERT_PTR_NULL(strstr(detail, ":localizedMessage"));
    CU_ASSERT_PTR_NOT_NULL(strstr(raw, "<faultstring xml:lang=\"en\">"));
}

#define FAULT_AS(code, op, req, resp, err)                                                  \
    do {                                                                                    \
        raw_reset();                                                                        \
        check_fault(#op, soap_call___pa3__##op(soap, endpoint, NULL, (req), (resp)), (code), \
                    (err));                                                                 \
    } while (0)
/* A service error: Server fault with the catalogue text. */
#define FAULT(op, req, resp, err) FAULT_AS("SOAP-ENV:Server", op, req, resp, err)
/* The request itself is unusable (e.g. an empty xs:long): Client fault. */
#define CLIENT_FAULT(op, req, resp) FAULT_AS("SOAP-ENV:Client", op, req, resp, "ERR0024")

/* Base64 decoding (OpenSSL), -1 when s is not canonical Base64. */
static int b64len(const char *s)
{
    unsigned char out[256];
    size_t n = s ? strlen(s) : 0;
    int len, pad = 0;

    if (n == 0 || n % 4 != 0 || n > 4 * (sizeof out / 3))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/'
            && !(s[i] == '=' && i >= n - 2))
            return -1;
    if (s[n - 1] == '=')
        pad++;
    if (s[n - 2] == '=')
        pad++;
    len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    return len < 0 ? -1 : len - pad;
}

/* The master public key: Base64 of a 65-byte uncompressed point (0x04 ...)
 * that lies on P-256. */
static int is_p256_point(const char *b64)
{
    unsigned char raw[128];
    size_t n = strlen(b64);
    EC_GROUP *g;
    EC_POINT *pt;
    int good;

    if (b64len(b64) != 65 || n > 4 * (sizeof raw / 3))
        return 0;
    EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    if (raw[0] != 0x04)
        return 0;
    g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    pt = EC_POINT_new(g);
    good = EC_POINT_oct2point(g, pt, raw, 65, NULL) == 1;
    EC_POINT_free(pt);
    EC_GROUP_free(g);
    return good;
}

static int is_uuid4(const char *s)
{
    static const char pattern[] = "xxxxxxxx-xxxx-4xxx-Yxxx-xxxxxxxxxxxx";

    if (s == NULL || strlen(s) != sizeof pattern - 1)
        return 0;
    for (size_t i = 0; pattern[i]; i++) {
        char c = s[i];

        switch (pattern[i]) {
        case 'x':
            if (!isdigit((unsigned char)c) && !(c >= 'a' && c <= 'f'))
                return 0;
            break;
        case 'Y':
            if (strchr("89ab", c) == NULL)
                return 0;
            break;
        default:
            if (c != pattern[i])
                return 0;
        }
    }
    return 1;
}

static int is_true(const enum xsd__boolean *b)
{
    return b != NULL && *b == xsd__boolean__true_;
}

static int is_false(const enum xsd__boolean *b)
{
    return b != NULL && *b == xsd__boolean__false_;
}

/* ---- suite system ----------------------------------------------------------- */

static void test_system_status(void)
{
    struct _pa3__GetSystemStatusRequest req;
    struct _pa3__GetSystemStatusResponse resp;
    struct timeval now;

    memset(&req, 0, sizeof req);
    CALL(GetSystemStatus, &req, &resp);
    gettimeofday(&now, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.status);
    CU_ASSERT_STRING_EQUAL(resp.status, "OK");
    /* run.sh leaves the service settings at their defaults (CONTRACT.md) */
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.applicationName);
    CU_ASSERT_STRING_EQUAL(resp.applicationName, "powerauth-server");
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.applicationDisplayName);
    CU_ASSERT_STRING_EQUAL(resp.applicationDisplayName, "PowerAuth Server");
    /* required element, empty by default */
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.applicationEnvironment);
    CU_ASSERT_STRING_EQUAL(resp.applicationEnvironment, "");
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.version);
    CU_ASSERT(strlen(resp.version) > 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.buildTime);
    CU_ASSERT(resp.buildTime->tv_sec > 1577836800);             /* after 2020 */
    CU_ASSERT(resp.buildTime->tv_sec <= now.tv_sec + 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.timestamp);
    CU_ASSERT(labs((long)(resp.timestamp->tv_sec - now.tv_sec)) < 60);
}

static void check_codes(const char *lang, int english_texts)
{
    struct _pa3__GetErrorCodeListRequest req;
    struct _pa3__GetErrorCodeListResponse resp;
    int differs = 0;

    req.language = lang ? soap_strdup(soap, lang) : NULL;
    CALL(GetErrorCodeList, &req, &resp);
    CU_ASSERT_EQUAL_FATAL(resp.__sizeerrors, NCODES);
    for (int i = 0; i < NCODES; i++) {
        const char *code = resp.errors[i].code, *value = resp.errors[i].value;

        CU_ASSERT_PTR_NOT_NULL_FATAL(code);
        CU_ASSERT_PTR_NOT_NULL_FATAL(value);
        CU_ASSERT_STRING_EQUAL(code, cat_code[i]);
        CU_ASSERT(strlen(value) > 0);
        if (english_texts) {
            CU_ASSERT_STRING_EQUAL(value, cat_text[i]);
            if (strcmp(value, cat_text[i]) != 0)
                fprintf(stderr, "\n  %s [%s]: %s\n", lang ? lang : "(none)", code, value);
        } else if (strcmp(value, cat_text[i]) != 0) {
            differs++;
        }
    }
    if (!english_texts)
        CU_ASSERT(differs > NCODES / 2);        /* a catalogue of its own */
}

static void test_error_codes_en(void) { check_codes("en", 1); }
static void test_error_codes_cs(void) { check_codes("cs", 0); }
static void test_error_codes_unknown(void) { check_codes("xx", 1); check_codes("de-AT", 1); }
/* NULL goes out as <language/>: the empty string, not an ISO language */
static void test_error_codes_empty(void) { check_codes(NULL, 1); check_codes("", 1); }

/* The client's local port: a new one means a new connection (a socket
 * number alone may be reused after a close). */
static int local_port(SOAP_SOCKET fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;

    if (!soap_valid_socket(fd) || getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    return ntohs(sa.sin_port);
}

static void test_keepalive(void)
{
    struct soap *k = new_context();
    struct _pa3__GetSystemStatusRequest req;
    struct _pa3__GetSystemStatusResponse resp;
    int first = -1, reused = 1;

    soap_set_mode(k, SOAP_IO_KEEPALIVE);
    memset(&req, 0, sizeof req);
    for (int i = 0; i < 10; i++) {
        int rc = soap_call___pa3__GetSystemStatus(k, endpoint, NULL, &req, &resp);

        CU_ASSERT_EQUAL(rc, SOAP_OK);
        if (rc != SOAP_OK) {
            fprintf(stderr, "\n  request %d on the keep-alive connection: error %d\n", i + 1, rc);
            break;
        }
        CU_ASSERT(resp.status != NULL && strcmp(resp.status, "OK") == 0);
        if (i == 0)
            first = local_port(k->socket);
        else if (local_port(k->socket) != first || first < 0)
            reused = 0;
    }
    CU_ASSERT(reused);          /* the server kept the connection open */
    soap_closesock(k);
    soap_destroy(k);
    soap_end(k);
    soap_free(k);
}

/* ---- suite applications ---------------------------------------------------- */

static LONG64 app1, app2, ver_default, ver_new;
static char app1_name[64], key_default[64], key_new[64], secret_new[64];

static LONG64 create_app(const char *name)
{
    struct _pa3__CreateApplicationRequest req = {soap_strdup(soap, name)};
    struct _pa3__CreateApplicationResponse resp;

    CALL(CreateApplication, &req, &resp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.applicationId);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.applicationName);
    CU_ASSERT_STRING_EQUAL(resp.applicationName, name);
    CU_ASSERT(*resp.applicationId > 0);
    return *resp.applicationId;
}

static void test_create_application(void)
{
    char name[64];

    snprintf(app1_name, sizeof app1_name, "%s-app-1", tag);
    app1 = create_app(app1_name);
    snprintf(name, sizeof name, "%s-app-2 \xc4\x8d & <x>", tag);  /* UTF-8 and markup */
    app2 = create_app(name);
    CU_ASSERT(app2 > app1);
}

static void test_application_list(void)
{
    struct _pa3__GetApplicationListRequest req;
    struct _pa3__GetApplicationListResponse resp;
    int seen1 = -1, seen2 = -1;

    memset(&req, 0, sizeof req);
    CALL(GetApplicationList, &req, &resp);
    CU_ASSERT_FATAL(resp.__sizeapplications >= 2);
    for (int i = 0; i < resp.__sizeapplications; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(resp.applications[i].id);
        CU_ASSERT_PTR_NOT_NULL_FATAL(resp.applications[i].applicationName);
        CU_ASSERT(*resp.applications[i].id > 0);
        if (i > 0)      /* database order: by id */
            CU_ASSERT(*resp.applications[i].id > *resp.applications[i - 1].id);
        if (*resp.applications[i].id == app1) {
            seen1 = i;
            CU_ASSERT_STRING_EQUAL(resp.applications[i].applicationName, app1_name);
        }
        if (*resp.applications[i].id == app2) {
            seen2 = i;
            CU_ASSERT(strstr(resp.applications[i].applicationName, "& <x>") != NULL);
        }
    }
    CU_ASSERT(seen1 >= 0 && seen2 > seen1);
}

static void check_version(const struct _pa3__GetApplicationDetailResponse_versions *v)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(v->applicationVersionId);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v->applicationVersionName);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v->applicationKey);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v->applicationSecret);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v->supported);
    CU_ASSERT(*v->applicationVersionId > 0);
    CU_ASSERT_EQUAL(b64len(v->applicationKey), 16);
    CU_ASSERT_EQUAL(b64len(v->applicationSecret), 16);
    CU_ASSERT_STRING_NOT_EQUAL(v->applicationKey, v->applicationSecret);
}

static void test_application_detail(void)
{
    struct _pa3__GetApplicationDetailRequest req = {L(app1), NULL};
    struct _pa3__GetApplicationDetailResponse resp, byname, other;
    char key[128];

    CALL(GetApplicationDetail, &req, &resp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.applicationId);
    CU_ASSERT_EQUAL(*resp.applicationId, app1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.applicationName);
    CU_ASSERT_STRING_EQUAL(resp.applicationName, app1_name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.masterPublicKey);
    CU_ASSERT(is_p256_point(resp.masterPublicKey));
    CU_ASSERT_EQUAL_FATAL(resp.__sizeversions, 1);
    check_version(&resp.versions[0]);
    CU_ASSERT_STRING_EQUAL(resp.versions[0].applicationVersionName, "default");
    CU_ASSERT(is_true(resp.versions[0].supported));
    ver_default = *resp.versions[0].applicationVersionId;
    snprintf(key_default, sizeof key_default, "%s", resp.versions[0].applicationKey);
    snprintf(key, sizeof key, "%s", resp.masterPublicKey);

    /* the same application by name */
    req.applicationId = NULL;
    req.applicationName = app1_name;
    CALL(GetApplicationDetail, &req, &byname);
    CU_ASSERT_PTR_NOT_NULL_FATAL(byname.applicationId);
    CU_ASSERT_EQUAL(*byname.applicationId, app1);
    CU_ASSERT_STRING_EQUAL(byname.masterPublicKey, key);
    CU_ASSERT_EQUAL_FATAL(byname.__sizeversions, 1);
    CU_ASSERT_STRING_EQUAL(byname.versions[0].applicationKey, key_default);

    /* every application has its own key pair and keys */
    req.applicationId = L(app2);
    req.applicationName = NULL;
    CALL(GetApplicationDetail, &req, &other);
    CU_ASSERT_PTR_NOT_NULL_FATAL(other.masterPublicKey);
    CU_ASSERT(is_p256_point(other.masterPublicKey));
    CU_ASSERT_STRING_NOT_EQUAL(other.masterPublicKey, key);
    CU_ASSERT_EQUAL_FATAL(other.__sizeversions, 1);
    CU_ASSERT_STRING_NOT_EQUAL(other.versions[0].applicationKey, key_default);
    CU_ASSERT(*other.versions[0].applicationVersionId > ver_default);
}

static void test_application_faults(void)
{
    struct _pa3__GetApplicationDetailRequest d = {L(NONE_ID), NULL};
    struct _pa3__GetApplicationDetailResponse dr;
    struct _pa3__CreateApplicationRequest c = {NULL};
    struct _pa3__CreateApplicationResponse cr;
    struct _pa3__GetApplicationListRequest lq;
    struct _pa3__GetApplicationListResponse before, after;

    FAULT(GetApplicationDetail, &d, &dr, "ERR0015");          /* unknown id */
    d.applicationId = NULL;
    d.applicationName = S("%s-no-such-app", tag);
    FAULT(GetApplicationDetail, &d, &dr, "ERR0015");          /* unknown name */
    d.applicationName = NULL;
    FAULT(GetApplicationDetail, &d, &dr, "ERR0024");          /* neither */
    d.applicationId = L(app1);
    d.applicationName = app1_name;
    FAULT(GetApplicationDetail, &d, &dr, "ERR0024");          /* both */

    memset(&lq, 0, sizeof lq);
    CALL(GetApplicationList, &lq, &before);
    /* a duplicate name: a Server fault (generic in the original), no row */
    c.applicationName = app1_name;
    CU_ASSERT(is_fault(soap_call___pa3__CreateApplication(soap, endpoint, NULL, &c, &cr)));
    CU_ASSERT(soap->fault != NULL && soap->fault->faultcode != NULL
              && strcmp(soap->fault->faultcode, "SOAP-ENV:Server") == 0);
    CALL(GetApplicationList, &lq, &after);
    CU_ASSERT_EQUAL(after.__sizeapplications, before.__sizeapplications);
}

static void test_empty_application_name(void)
{
    /* DATABASE.md 5.10: an empty name is accepted */
    struct _pa3__CreateApplicationRequest c = {""};
    struct _pa3__CreateApplicationResponse cr;

    CALL(CreateApplication, &c, &cr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cr.applicationId);
    CU_ASSERT(*cr.applicationId > app2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cr.applicationName);
    CU_ASSERT_STRING_EQUAL(cr.applicationName, "");
}

static void test_create_version(void)
{
    struct _pa3__CreateApplicationVersionRequest req = {L(app1), "1.0"};
    struct _pa3__CreateApplicationVersionResponse resp;
    struct _pa3__GetApplicationDetailRequest d = {L(app1), NULL};
    struct _pa3__GetApplicationDetailResponse dr;

    CALL(CreateApplicationVersion, &req, &resp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.applicationVersionId);
    CU_ASSERT(*resp.applicationVersionId > ver_default);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.applicationVersionName);
    CU_ASSERT_STRING_EQUAL(resp.applicationVersionName, "1.0");
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.applicationKey);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.applicationSecret);
    CU_ASSERT_EQUAL(b64len(resp.applicationKey), 16);
    CU_ASSERT_EQUAL(b64len(resp.applicationSecret), 16);
    CU_ASSERT_STRING_NOT_EQUAL(resp.applicationKey, key_default);
    CU_ASSERT(is_true(resp.supported));
    ver_new = *resp.applicationVersionId;
    snprintf(key_new, sizeof key_new, "%s", resp.applicationKey);
    snprintf(secret_new, sizeof secret_new, "%s", resp.applicationSecret);

    CALL(GetApplicationDetail, &d, &dr);
    CU_ASSERT_EQUAL_FATAL(dr.__sizeversions, 2);
    check_version(&dr.versions[0]);
    check_version(&dr.versions[1]);
    CU_ASSERT_EQUAL(*dr.versions[0].applicationVersionId, ver_default);
    CU_ASSERT_EQUAL(*dr.versions[1].applicationVersionId, ver_new);
    CU_ASSERT_STRING_EQUAL(dr.versions[1].applicationVersionName, "1.0");
    CU_ASSERT_STRING_EQUAL(dr.versions[1].applicationKey, key_new);
    CU_ASSERT_STRING_EQUAL(dr.versions[1].applicationSecret, secret_new);
    CU_ASSERT(is_true(dr.versions[1].supported));

    req.applicationId = L(NONE_ID);
    FAULT(CreateApplicationVersion, &req, &resp, "ERR0015");
    req.applicationId = NULL;                       /* <applicationId/> */
    CLIENT_FAULT(CreateApplicationVersion, &req, &resp);
}

static void test_lookup_by_key(void)
{
    struct _pa3__LookupApplicationByAppKeyRequest req = {key_new};
    struct _pa3__LookupApplicationByAppKeyResponse resp;

    CALL(LookupApplicationByAppKey, &req, &resp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.applicationId);
    CU_ASSERT_EQUAL(*resp.applicationId, app1);
    req.applicationKey = key_default;
    CALL(LookupApplicationByAppKey, &req, &resp);
    CU_ASSERT_EQUAL(*resp.applicationId, app1);
    req.applicationKey = "AAAAAAAAAAAAAAAAAAAAAA==";
    FAULT(LookupApplicationByAppKey, &req, &resp, "ERR0015");
    req.applicationKey = NULL;          /* <applicationKey/>: no such key */
    FAULT(LookupApplicationByAppKey, &req, &resp, "ERR0015");
}

static void test_support_unsupport(void)
{
    struct _pa3__UnsupportApplicationVersionRequest u = {L(ver_new)};
    struct _pa3__UnsupportApplicationVersionResponse ur;
    struct _pa3__SupportApplicationVersionRequest s = {L(ver_new)};
    struct _pa3__SupportApplicationVersionResponse sr;
    struct _pa3__GetApplicationDetailRequest d = {L(app1), NULL};
    struct _pa3__GetApplicationDetailResponse dr;

    CALL(UnsupportApplicationVersion, &u, &ur);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ur.applicationVersionId);
    CU_ASSERT_EQUAL(*ur.applicationVersionId, ver_new);
    CU_ASSERT(is_false(ur.supported));
    CALL(GetApplicationDetail, &d, &dr);
    CU_ASSERT_EQUAL_FATAL(dr.__sizeversions, 2);
    CU_ASSERT(is_true(dr.versions[0].supported));
    CU_ASSERT(is_false(dr.versions[1].supported));
    /* twice is fine */
    CALL(UnsupportApplicationVersion, &u, &ur);
    CU_ASSERT(is_false(ur.supported));

    CALL(SupportApplicationVersion, &s, &sr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sr.applicationVersionId);
    CU_ASSERT_EQUAL(*sr.applicationVersionId, ver_new);
    CU_ASSERT(is_true(sr.supported));
    CALL(GetApplicationDetail, &d, &dr);
    CU_ASSERT_EQUAL_FATAL(dr.__sizeversions, 2);
    CU_ASSERT(is_true(dr.versions[1].supported));

    u.applicationVersionId = L(NONE_ID);
    FAULT(UnsupportApplicationVersion, &u, &ur, "ERR0015");
    s.applicationVersionId = L(NONE_ID);
    FAULT(SupportApplicationVersion, &s, &sr, "ERR0015");
    u.applicationVersionId = NULL;
    CLIENT_FAULT(UnsupportApplicationVersion, &u, &ur);
    s.applicationVersionId = NULL;
    CLIENT_FAULT(SupportApplicationVersion, &s, &sr);
}

/* ---- suite integrations ----------------------------------------------------- */

static void test_integrations(void)
{
    struct _pa3__CreateIntegrationRequest c = {NULL};
    struct _pa3__CreateIntegrationResponse i1, i2;
    struct _pa3__GetIntegrationListRequest lq;
    struct _pa3__GetIntegrationListResponse l;
    struct _pa3__RemoveIntegrationRequest r;
    struct _pa3__RemoveIntegrationResponse rr;
    int at1 = -1, at2 = -1;

    c.name = S("%s-int-1", tag);
    CALL(CreateIntegration, &c, &i1);
    c.name = S("%s-int-2", tag);
    CALL(CreateIntegration, &c, &i2);
    CU_ASSERT_FATAL(i1.id && i1.clientToken && i1.clientSecret && i1.name);
    CU_ASSERT_FATAL(i2.id && i2.clientToken && i2.clientSecret && i2.name);
    CU_ASSERT(is_uuid4(i1.id));
    CU_ASSERT(is_uuid4(i1.clientToken));
    CU_ASSERT(is_uuid4(i1.clientSecret));
    CU_ASSERT(is_uuid4(i2.id));
    CU_ASSERT_STRING_NOT_EQUAL(i1.id, i1.clientToken);
    CU_ASSERT_STRING_NOT_EQUAL(i1.clientToken, i1.clientSecret);
    CU_ASSERT_STRING_NOT_EQUAL(i1.id, i2.id);
    CU_ASSERT_STRING_NOT_EQUAL(i1.clientToken, i2.clientToken);
    CU_ASSERT(strstr(i1.name, "-int-1") != NULL);

    memset(&lq, 0, sizeof lq);
    CALL(GetIntegrationList, &lq, &l);
    CU_ASSERT(is_false(l.restrictedAccess));
    for (int i = 0; i < l.__sizeitems; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(l.items[i].id);
        if (strcmp(l.items[i].id, i1.id) == 0) {
            at1 = i;
            CU_ASSERT_STRING_EQUAL(l.items[i].clientToken, i1.clientToken);
            CU_ASSERT_STRING_EQUAL(l.items[i].clientSecret, i1.clientSecret);
            CU_ASSERT(l.items[i].name && strcmp(l.items[i].name, i1.name) == 0);
        }
        if (strcmp(l.items[i].id, i2.id) == 0)
            at2 = i;
    }
    CU_ASSERT(at1 >= 0 && at2 > at1);

    r.id = i1.id;
    CALL(RemoveIntegration, &r, &rr);
    CU_ASSERT(rr.id && strcmp(rr.id, i1.id) == 0);
    CU_ASSERT(is_true(rr.removed));
    CALL(RemoveIntegration, &r, &rr);
    CU_ASSERT(is_false(rr.removed));
    CALL(GetIntegrationList, &lq, &l);
    for (int i = 0; i < l.__sizeitems; i++)
        CU_ASSERT(l.items[i].id && strcmp(l.items[i].id, i1.id) != 0);

    c.name = NULL;          /* optional in the schema, so really left out */
    FAULT(CreateIntegration, &c, &i1, "ERR0024");
    r.id = "";              /* no such integration */
    CALL(RemoveIntegration, &r, &rr);
    CU_ASSERT(is_false(rr.removed));
}

/* ---- suite callbacks ------------------------------------------------------- */

static void test_callbacks(void)
{
    struct _pa3__CreateCallbackUrlRequest c = {L(app1), NULL, NULL};
    struct _pa3__CreateCallbackUrlResponse cb, ca;
    struct _pa3__GetCallbackUrlListRequest lq = {L(app1)};
    struct _pa3__GetCallbackUrlListResponse l;
    struct _pa3__RemoveCallbackUrlRequest r;
    struct _pa3__RemoveCallbackUrlResponse rr;

    c.name = "zz-second";
    c.callbackUrl = "https://bank.example/cb?a=1&b=2";
    CALL(CreateCallbackUrl, &c, &cb);
    c.name = "aa-first";
    c.callbackUrl = "http://127.0.0.1:9/first";
    CALL(CreateCallbackUrl, &c, &ca);
    CU_ASSERT_FATAL(cb.id && cb.applicationId && cb.name && cb.callbackUrl);
    CU_ASSERT(is_uuid4(cb.id));
    CU_ASSERT(is_uuid4(ca.id));
    CU_ASSERT_STRING_NOT_EQUAL(ca.id, cb.id);
    CU_ASSERT_EQUAL(*cb.applicationId, app1);
    CU_ASSERT_STRING_EQUAL(cb.name, "zz-second");
    CU_ASSERT_STRING_EQUAL(cb.callbackUrl, "https://bank.example/cb?a=1&b=2");

    CALL(GetCallbackUrlList, &lq, &l);             /* ordered by name */
    CU_ASSERT_EQUAL_FATAL(l.__sizecallbackUrlList, 2);
    CU_ASSERT_STRING_EQUAL(l.callbackUrlList[0].id, ca.id);
    CU_ASSERT_STRING_EQUAL(l.callbackUrlList[0].name, "aa-first");
    CU_ASSERT_STRING_EQUAL(l.callbackUrlList[0].callbackUrl, "http://127.0.0.1:9/first");
    CU_ASSERT_EQUAL(*l.callbackUrlList[0].applicationId, app1);
    CU_ASSERT_STRING_EQUAL(l.callbackUrlList[1].id, cb.id);
    CU_ASSERT_STRING_EQUAL(l.callbackUrlList[1].callbackUrl, "https://bank.example/cb?a=1&b=2");

    r.id = cb.id;
    CALL(RemoveCallbackUrl, &r, &rr);
    CU_ASSERT(rr.id && strcmp(rr.id, cb.id) == 0);
    CU_ASSERT(is_true(rr.removed));
    CALL(RemoveCallbackUrl, &r, &rr);
    CU_ASSERT(is_false(rr.removed));
    CALL(GetCallbackUrlList, &lq, &l);
    CU_ASSERT_EQUAL_FATAL(l.__sizecallbackUrlList, 1);
    CU_ASSERT_STRING_EQUAL(l.callbackUrlList[0].id, ca.id);

    lq.applicationId = L(app2);                    /* no callbacks */
    CALL(GetCallbackUrlList, &lq, &l);
    CU_ASSERT_EQUAL(l.__sizecallbackUrlList, 0);

    c.name = "bad";
    c.callbackUrl = "not a url";
    FAULT(CreateCallbackUrl, &c, &cb, "ERR0014");
    c.callbackUrl = "";
    FAULT(CreateCallbackUrl, &c, &cb, "ERR0014");
    c.callbackUrl = "https://x.example/";
    c.applicationId = NULL;                         /* <applicationId/> */
    CLIENT_FAULT(CreateCallbackUrl, &c, &cb);
    lq.applicationId = NULL;
    CLIENT_FAULT(GetCallbackUrlList, &lq, &l);
    r.id = "";                                      /* no such callback */
    CALL(RemoveCallbackUrl, &r, &rr);
    CU_ASSERT(is_false(rr.removed));
    lq.applicationId = L(app1);                     /* nothing was added */
    CALL(GetCallbackUrlList, &lq, &l);
    CU_ASSERT_EQUAL(l.__sizecallbackUrlList, 1);
}

/* ---- main ------------------------------------------------------------------- */

typedef struct { const char *name; CU_TestFunc fn; } test_def;

static int add_suite(const char *name, const test_def *tests)
{
    CU_pSuite s = CU_add_suite(name, suite_init, suite_clean);

    if (s == NULL)
        return -1;
    for (; tests->name; tests++)
        if (CU_add_test(s, tests->name, tests->fn) == NULL)
            return -1;
    return 0;
}

int main(int argc, char **argv)
{
    static const test_def system_tests[] = {
        {"GetSystemStatus", test_system_status},
        {"GetErrorCodeList en", test_error_codes_en},
        {"GetErrorCodeList cs", test_error_codes_cs},
        {"GetErrorCodeList unknown language", test_error_codes_unknown},
        {"GetErrorCodeList empty language", test_error_codes_empty},
        {"keep-alive connection", test_keepalive},
        {NULL, NULL},
    };
    static const test_def app_tests[] = {
        {"CreateApplication", test_create_application},
        {"GetApplicationList", test_application_list},
        {"GetApplicationDetail", test_application_detail},
        {"application faults", test_application_faults},
        {"empty application name", test_empty_application_name},
        {"CreateApplicationVersion", test_create_version},
        {"LookupApplicationByAppKey", test_lookup_by_key},
        {"Support/UnsupportApplicationVersion", test_support_unsupport},
        {NULL, NULL},
    };
    static const test_def int_tests[] = {
        {"Create/Get/RemoveIntegration", test_integrations},
        {NULL, NULL},
    };
    static const test_def cb_tests[] = {
        {"Create/Get/RemoveCallbackUrl", test_callbacks},
        {NULL, NULL},
    };
    unsigned run, failed, suites_failed;

    endpoint = argc > 1 ? argv[1] : getenv("PA_ITEST_ENDPOINT");
    if (endpoint == NULL || *endpoint == '\0') {
        fprintf(stderr, "usage: %s http://127.0.0.1:PORT/powerauth-java-server/soap\n", argv[0]);
        return 2;
    }
    if (load_catalogue() != 0) {
        fprintf(stderr, "cannot read the error catalogue (PA_SHARED)\n");
        free_catalogue();
        return 2;
    }
    snprintf(tag, sizeof tag, "c%ld", (long)time(NULL) % 100000);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (add_suite("system", system_tests) || add_suite("applications", app_tests)
        || add_suite("integrations", int_tests) || add_suite("callbacks", cb_tests)) {
        CU_cleanup_registry();
        free_catalogue();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    run = CU_get_number_of_tests_run();
    failed = CU_get_number_of_tests_failed();
    /* a suite whose init failed ran none of its tests: count it too */
    suites_failed = CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    free_catalogue();
    free(raw);
    printf("\n%u passed, %u failed\n", run - failed, failed + suites_failed);
    failed += suites_failed;
    return failed ? 1 : 0;
}
