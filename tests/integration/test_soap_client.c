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
 * The suite "activation" plays the phone in-process with libpadevice
 * (tools/padevice/device.h, only the client halves of the crypto layer):
 * the device makes the layer-2 key-exchange request, verifies the
 * activation signature with the master public key, reads the encrypted
 * answer and decrypts the status blob, while every call goes over HTTP
 * through the stubs; the expectations come from CRYPTO.md 6 and 7 and
 * DATABASE.md 5.1 (history rows).
 *
 * The suite "signatures" has the in-process phone sign (CRYPTO.md 8-11):
 * online signatures (valid, replayed, at the end of the lookahead window,
 * wrong, another application's key), SignatureAudit compared row by row
 * with the attempts made (DATABASE.md 5.2), offline signatures over
 * personalized and non-personalized payloads, VaultUnlock, tokens,
 * GetEciesDecryptor used by a third party, VerifyECDSASignature, then a
 * 3.0 SDK (DECIMAL) blocked by failures and the possession-only rules at
 * the failure limit.
 *
 * One gSOAP context per suite, made in the suite's init and freed in its
 * cleanup (with the suite's device), so a FATAL assertion (which leaves the
 * test function) leaks nothing.  Tests of a suite run in order and share
 * what they create.
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
#include "crypto/primitives.h"
#include "tools/padevice/device.h"

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
    const char *ca = getenv("PA_ITEST_CA");

    soap_set_namespaces(s, namespaces);
    s->fpreparerecv = record_recv;
    s->connect_timeout = 5;
    s->send_timeout = 10;
    s->recv_timeout = 10;
    /* an https:// endpoint: the server's certificate must verify against
     * the test CA (PA_ITEST_CA), host name included */
    if (s != NULL && ca != NULL && *ca != '\0'
        && soap_ssl_client_context(s, SOAP_SSL_DEFAULT, NULL, NULL, ca, NULL, NULL)
               != SOAP_OK) {
        soap_print_fault(s, stderr);
        soap_free(s);
        return NULL;
    }
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

/* ---- suite activation --------------------------------------------------------- */

/* The phone is libpadevice, in this process: it holds the device key pair
 * and uses only the client halves of the crypto layer, while every request
 * goes over HTTP through the stubs.  What the device reads back (the
 * layer-2 answer, the status blob) shows that both sides agree on the keys
 * (CRYPTO.md 6.3-6.6, 7).  The device lives in the suite, so a FATAL
 * assertion leaks nothing: the suite's cleanup frees it. */

static LONG64 act_app;
static char act_app_name[64], act_key[64], act_secret[64], act_master[128];
static pa_device *dev;
static const char *OPS = "ops-desk";       /* externalUserId of the admin calls */
static const char *NO_SUCH_ACTIVATION = "00000000-0000-4000-8000-000000000000";

static int act_suite_clean(void)
{
    pa_device_free(dev);
    dev = NULL;
    return suite_clean();
}

/* A fresh device of the suite's application (the previous one is freed). */
static void new_device(const char *protocol)
{
    pa_device_free(dev);
    dev = NULL;
    CU_ASSERT_EQUAL_FATAL(pa_device_new(protocol, act_key, act_secret, act_master, &dev), PA_OK);
}

static char *b64(const uint8_t *p, size_t n)
{
    char *s = soap_malloc(soap, PA_B64_ENCLEN(n) + 1);

    pa_b64_encode(p, n, s);
    return s;
}

/* Base64 into soap-managed memory; NULL when s is NULL or not Base64. */
static uint8_t *unb64(const char *s, size_t *n)
{
    uint8_t *p;

    *n = 0;
    if (s == NULL)
        return NULL;
    p = soap_malloc(soap, PA_B64_DECMAX(strlen(s)) + 1);
    return pa_b64_decode(s, p, n) == PA_OK ? p : NULL;
}

/* Both NULL, or equal strings; a mismatch is printed. */
static int same(const char *what, const char *got, const char *want)
{
    if (got == NULL && want == NULL)
        return 1;
    if (got != NULL && want != NULL && strcmp(got, want) == 0)
        return 1;
    fprintf(stderr, "\n  %s: got %s%s%s, expected %s%s%s\n", what, got ? "\"" : "",
            got ? got : "(absent)", got ? "\"" : "", want ? "\"" : "",
            want ? want : "(absent)", want ? "\"" : "");
    return 0;
}
#define SAME(what, got, want) CU_ASSERT(same((what), (got), (want)))

static const char *status_name(const enum pa3__ActivationStatus *s)
{
    static const char *names[] = {"CREATED", "PENDING_COMMIT", "ACTIVE", "BLOCKED", "REMOVED"};

    if (s == NULL)
        return "(absent)";
    return (unsigned)*s < 5 ? names[*s] : "?";
}

static int has_status(const char *what, const enum pa3__ActivationStatus *got,
                      enum pa3__ActivationStatus want)
{
    if (got != NULL && *got == want)
        return 1;
    fprintf(stderr, "\n  %s: status %s, expected %s\n", what, status_name(got),
            status_name(&want));
    return 0;
}
#define STATUS(what, got, want) CU_ASSERT(has_status((what), (got), (want)))

static int is_activation_code(const char *c)
{
    if (c == NULL || strlen(c) != 23)
        return 0;
    for (int i = 0; i < 23; i++)
        if (i % 6 == 5 ? c[i] != '-' : !(isupper((unsigned char)c[i]) || (c[i] >= '2' && c[i] <= '7')))
            return 0;
    return 1;
}

static struct timeval *T(time_t sec)
{
    struct timeval *t = soap_malloc(soap, sizeof *t);

    t->tv_sec = sec;
    t->tv_usec = 0;
    return t;
}

/* A new application whose default version the suite's devices use. */
static void use_new_app(const char *suffix)
{
    struct _pa3__GetApplicationDetailRequest d = {NULL, NULL};
    struct _pa3__GetApplicationDetailResponse dr;

    snprintf(act_app_name, sizeof act_app_name, "%s-%s", tag, suffix);
    act_app = create_app(act_app_name);
    d.applicationId = L(act_app);
    CALL(GetApplicationDetail, &d, &dr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dr.masterPublicKey);
    CU_ASSERT_FATAL(is_p256_point(dr.masterPublicKey));
    CU_ASSERT_EQUAL_FATAL(dr.__sizeversions, 1);
    CU_ASSERT_FATAL(dr.versions[0].applicationKey && dr.versions[0].applicationSecret);
    snprintf(act_master, sizeof act_master, "%s", dr.masterPublicKey);
    snprintf(act_key, sizeof act_key, "%s", dr.versions[0].applicationKey);
    snprintf(act_secret, sizeof act_secret, "%s", dr.versions[0].applicationSecret);
    CU_ASSERT_FATAL(strlen(act_master) + 1 < sizeof act_master);
}

static void test_activation_app(void) { use_new_app("act-app"); }

/* InitActivation for user: checks the answer, and that the device accepts
 * the activation signature with the master public key it embeds (4.4). */
static struct _pa3__InitActivationResponse init_activation(const char *user)
{
    struct _pa3__InitActivationRequest req;
    struct _pa3__InitActivationResponse resp;
    uint8_t *sig;
    size_t n;
    int valid = -1;
    char other[24];

    memset(&req, 0, sizeof req);
    req.userId = soap_strdup(soap, user);
    req.applicationId = L(act_app);
    CALL(InitActivation, &req, &resp);
    CU_ASSERT_FATAL(is_uuid4(resp.activationId));
    CU_ASSERT_FATAL(is_activation_code(resp.activationCode));
    SAME("init userId", resp.userId, user);
    CU_ASSERT(resp.applicationId != NULL && *resp.applicationId == act_app);
    sig = unb64(resp.activationSignature, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sig);
    CU_ASSERT_EQUAL(pa_device_verify_activation_signature(dev, resp.activationCode, sig, n,
                                                          &valid), PA_OK);
    CU_ASSERT_EQUAL(valid, 1);
    /* ... and only over this code */
    snprintf(other, sizeof other, "%s", resp.activationCode);
    other[0] = other[0] == 'A' ? 'B' : 'A';
    CU_ASSERT_EQUAL(pa_device_verify_activation_signature(dev, other, sig, n, &valid), PA_OK);
    CU_ASSERT_EQUAL(valid, 0);
    return resp;
}

/* The device's layer-2 request as the four Base64 strings of the SOAP call
 * (nonce NULL for 3.0: the optional element is left out).  The cryptogram
 * is freed before any assertion can leave the test. */
typedef struct { char *eph, *data, *mac, *nonce; } cryptogram_b64;

static cryptogram_b64 activation_request(const pa_device_activation_opts *o)
{
    pa_ecies_cryptogram cg;
    cryptogram_b64 c = {NULL, NULL, NULL, NULL};
    pa_err e = pa_device_activation_request(dev, o, &cg);

    if (e == PA_OK) {
        c.eph = b64(cg.eph, cg.eph_len);
        c.data = b64(cg.data, cg.data_len);
        c.mac = b64(cg.mac, sizeof cg.mac);
        c.nonce = cg.has_nonce ? b64(cg.nonce, sizeof cg.nonce) : NULL;
        CU_ASSERT_EQUAL(cg.eph_len, o->compressed_eph ? 33 : 65);
        CU_ASSERT_EQUAL(cg.has_nonce, dev->protocol == PA_DEVICE_P31);
    }
    pa_ecies_cryptogram_free(&cg);
    CU_ASSERT_EQUAL_FATAL(e, PA_OK);
    return c;
}

/* The device reads the encrypted layer-2 answer; its activation id must be
 * the server's. */
static void read_activation_answer(const char *data, const char *mac, const char *id)
{
    uint8_t *ct, *m;
    size_t ct_len, mac_len;
    pa_err e;

    ct = unb64(data, &ct_len);
    m = unb64(mac, &mac_len);
    CU_ASSERT_FATAL(ct != NULL && ct_len > 0 && ct_len % 16 == 0);
    CU_ASSERT_FATAL(m != NULL && mac_len == 32);
    e = pa_device_activation_response(dev, ct, ct_len, m, mac_len);
    if (e != PA_OK)
        fprintf(stderr, "\n  device cannot read the layer-2 answer: %s\n", pa_err_name(e));
    CU_ASSERT_EQUAL_FATAL(e, PA_OK);
    CU_ASSERT_EQUAL(dev->version, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dev->activation_id);
    SAME("layer-2 activationId", dev->activation_id, id);
    CU_ASSERT(dev->has_ctr_data);
    CU_ASSERT_PTR_NULL(dev->recovery_code);     /* recovery is not enabled */
}

/* What GetActivationStatus must say besides the status. */
typedef struct {
    const char *id, *user, *name, *platform, *device_info, *extras, *blocked;
    enum pa3__ActivationOtpValidation otp_mode;
    int failed, max_failed;
} expect_activation;

/* timestampLastChange of the last check_status: the time of the newest
 * history row (DATABASE.md 5.1). */
static struct timeval last_change;

/* GetActivationStatus of an activation that has a device key: the answer's
 * fields, then the device decrypts the blob (with its challenge, or the
 * zero-IV variant without) and compares status, versions, counters and the
 * counter hash (7.1-7.5), and the fingerprint (6.6). */
static void check_status(const expect_activation *x, enum pa3__ActivationStatus want,
                         int with_challenge)
{
    static const uint8_t blob_status[] = {1, 2, 3, 4, 5};   /* 6.1, by enum order */
    struct _pa3__GetActivationStatusRequest req;
    struct _pa3__GetActivationStatusResponse resp;
    uint8_t ch[PA_STATUS_CHALLENGE_LEN], *blob, *nonce = NULL;
    size_t blob_len, nonce_len = 0;
    char fp[PA_FINGERPRINT_BUF];
    pa_device_status st;
    pa_err e;

    req.activationId = soap_strdup(soap, x->id);
    req.challenge = NULL;
    if (with_challenge) {
        CU_ASSERT_EQUAL_FATAL(pa_device_status_challenge(dev, ch), PA_OK);
        req.challenge = b64(ch, sizeof ch);
    }
    CALL(GetActivationStatus, &req, &resp);
    SAME("status activationId", resp.activationId, x->id);
    STATUS("GetActivationStatus", resp.activationStatus, want);
    CU_ASSERT(resp.activationOtpValidation != NULL && *resp.activationOtpValidation == x->otp_mode);
    SAME("status userId", resp.userId, x->user);
    CU_ASSERT(resp.applicationId != NULL && *resp.applicationId == act_app);
    SAME("status activationName", resp.activationName, x->name);
    SAME("status platform", resp.platform, x->platform);
    SAME("status deviceInfo", resp.deviceInfo, x->device_info);
    SAME("status extras", resp.extras, x->extras);
    SAME("status blockedReason", resp.blockedReason, x->blocked);
    CU_ASSERT(resp.version != NULL && *resp.version == 3);
    CU_ASSERT(resp.timestampCreated != NULL && resp.timestampLastUsed != NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.timestampLastChange);
    last_change = *resp.timestampLastChange;
    /* code and signature only while CREATED (7.6) */
    CU_ASSERT_PTR_NULL(resp.activationCode);
    CU_ASSERT_PTR_NULL(resp.activationSignature);
    CU_ASSERT_EQUAL_FATAL(pa_device_fingerprint(dev, fp), PA_OK);
    SAME("devicePublicKeyFingerprint", resp.devicePublicKeyFingerprint, fp);

    blob = unb64(resp.encryptedStatusBlob, &blob_len);
    CU_ASSERT_FATAL(blob != NULL && blob_len == PA_STATUS_BLOB_LEN);
    if (with_challenge) {
        nonce = unb64(resp.encryptedStatusBlobNonce, &nonce_len);
        CU_ASSERT_FATAL(nonce != NULL && nonce_len == PA_STATUS_NONCE_LEN);
    } else {
        CU_ASSERT_PTR_NULL_FATAL(resp.encryptedStatusBlobNonce);
    }
    e = pa_device_status_decrypt(dev, blob, nonce, NULL, 0, &st);
    if (e != PA_OK)
        fprintf(stderr, "\n  device cannot decrypt the status blob: %s\n", pa_err_name(e));
    CU_ASSERT_EQUAL_FATAL(e, PA_OK);
    CU_ASSERT_EQUAL(st.f.status, blob_status[want]);
    if (st.f.status != blob_status[want])
        fprintf(stderr, "\n  blob status %u, expected %s\n", st.f.status, status_name(&want));
    CU_ASSERT_EQUAL(st.f.current_version, 3);
    CU_ASSERT_EQUAL(st.f.upgrade_version, 3);
    CU_ASSERT_EQUAL(st.f.failed_attempts, x->failed);
    CU_ASSERT_EQUAL(st.f.max_failed_attempts, x->max_failed);
    if (with_challenge) {
        /* the real counter fields: no signature yet, so counter 0 and the
         * server expects exactly the device's ctrData */
        CU_ASSERT_EQUAL(st.f.ctr_byte, 0);
        CU_ASSERT_EQUAL(st.f.ctr_look_ahead, 20);
        CU_ASSERT(st.hash_checked);
        CU_ASSERT(st.hash_matches);
        CU_ASSERT_EQUAL(st.distance, 0);
        /* the nonce is fresh: another challenge's IV does not open it */
        CU_ASSERT_FATAL(pa_device_status_challenge(dev, ch) == PA_OK);
        CU_ASSERT_EQUAL(pa_device_status_decrypt(dev, blob, nonce, NULL, 0, &st),
                        PA_ERR_DECRYPTION_FAILED);
    } else {
        CU_ASSERT(!st.hash_checked);
    }
}

/* One expected ActivationHistory row. */
typedef struct {
    enum pa3__ActivationStatus status;
    const char *reason, *external;
} history_row;

/* ActivationHistory of id must be exactly want (newest first); the newest
 * row was written at the timestampLastChange the last check_status saw. */
static void check_history(const char *id, const history_row *want, int n)
{
    struct _pa3__ActivationHistoryRequest req;
    struct _pa3__ActivationHistoryResponse resp;
    time_t now = time(NULL);

    /* a day either way: the window must not depend on the server's zone */
    req.activationId = soap_strdup(soap, id);
    req.timestampFrom = T(now - 86400);
    req.timestampTo = T(now + 86400);
    CALL(ActivationHistory, &req, &resp);
    if (resp.__sizeitems != n)
        fprintf(stderr, "\n  ActivationHistory: %d rows, expected %d\n", resp.__sizeitems, n);
    CU_ASSERT_EQUAL_FATAL(resp.__sizeitems, n);
    for (int i = 0; i < n; i++) {
        const struct _pa3__ActivationHistoryResponse_items *it = &resp.items[i];
        char what[64];

        snprintf(what, sizeof what, "history row %d", i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(it->id);
        CU_ASSERT(*it->id > 0);
        SAME(what, it->activationId, id);
        STATUS(what, it->activationStatus, want[i].status);
        snprintf(what, sizeof what, "history row %d eventReason", i);
        SAME(what, it->eventReason, want[i].reason);
        snprintf(what, sizeof what, "history row %d externalUserId", i);
        SAME(what, it->externalUserId, want[i].external);
        CU_ASSERT_PTR_NOT_NULL_FATAL(it->timestampCreated);
        if (i > 0) {    /* newest first, ties by id descending (5.11) */
            const struct timeval *a = it->timestampCreated, *b = resp.items[i - 1].timestampCreated;

            CU_ASSERT(*it->id < *resp.items[i - 1].id);
            CU_ASSERT(a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_usec <= b->tv_usec));
        }
    }
    if (n > 0) {
        const struct timeval *t = resp.items[0].timestampCreated;

        CU_ASSERT(t->tv_sec == last_change.tv_sec && t->tv_usec == last_change.tv_usec);
        if (t->tv_sec != last_change.tv_sec || t->tv_usec != last_change.tv_usec)
            fprintf(stderr, "\n  newest history row at %ld.%06ld, timestampLastChange %ld.%06ld\n",
                    (long)t->tv_sec, (long)t->tv_usec, (long)last_change.tv_sec,
                    (long)last_change.tv_usec);
    }
    /* a window that ends before the activation existed holds nothing */
    req.timestampFrom = T(now - 3 * 86400);
    req.timestampTo = T(now - 2 * 86400);
    CALL(ActivationHistory, &req, &resp);
    CU_ASSERT_EQUAL(resp.__sizeitems, 0);
}

/* GetActivationListForUser and LookupActivations: the user's one
 * activation, with the fields GetActivationStatus showed. */
#define CHECK_LISTED(a, x, want)                                                 \
    do {                                                                         \
        SAME("listed activationId", (a)->activationId, (x)->id);               \
        STATUS("listed", (a)->activationStatus, (want));                        \
        SAME("listed userId", (a)->userId, (x)->user);                         \
        SAME("listed activationName", (a)->activationName, (x)->name);         \
        SAME("listed platform", (a)->platform, (x)->platform);                 \
        SAME("listed deviceInfo", (a)->deviceInfo, (x)->device_info);          \
        SAME("listed extras", (a)->extras, (x)->extras);                       \
        SAME("listed blockedReason", (a)->blockedReason, (x)->blocked);        \
        SAME("listed applicationName", (a)->applicationName, act_app_name);    \
        CU_ASSERT((a)->applicationId != NULL && *(a)->applicationId == act_app); \
        CU_ASSERT((a)->version != NULL && *(a)->version == 3);                 \
        CU_ASSERT((a)->timestampCreated != NULL && (a)->timestampLastUsed != NULL); \
    } while (0)

static void check_lists(const expect_activation *x, enum pa3__ActivationStatus want)
{
    struct _pa3__GetActivationListForUserRequest lr;
    struct _pa3__GetActivationListForUserResponse l;
    struct _pa3__LookupActivationsRequest q;
    struct _pa3__LookupActivationsResponse r;
    enum pa3__ActivationStatus *filter = soap_malloc(soap, sizeof *filter);
    char **users = soap_malloc(soap, sizeof *users);
    LONG64 *apps = soap_malloc(soap, 2 * sizeof *apps);

    lr.userId = soap_strdup(soap, x->user);
    lr.applicationId = L(act_app);
    CALL(GetActivationListForUser, &lr, &l);
    SAME("list userId", l.userId, x->user);
    CU_ASSERT_EQUAL_FATAL(l.__sizeactivations, 1);
    CHECK_LISTED(&l.activations[0], x, want);
    lr.applicationId = NULL;            /* optional: every application */
    CALL(GetActivationListForUser, &lr, &l);
    CU_ASSERT_EQUAL_FATAL(l.__sizeactivations, 1);
    SAME("list (any app)", l.activations[0].activationId, x->id);
    lr.applicationId = L(app2);         /* another application: none */
    CALL(GetActivationListForUser, &lr, &l);
    CU_ASSERT_EQUAL(l.__sizeactivations, 0);

    memset(&q, 0, sizeof q);
    users[0] = soap_strdup(soap, x->user);
    apps[0] = app2;
    apps[1] = act_app;
    q.__sizeuserIds = 1;
    q.userIds = users;
    q.__sizeapplicationIds = 2;
    q.applicationIds = apps;
    CALL(LookupActivations, &q, &r);
    CU_ASSERT_EQUAL_FATAL(r.__sizeactivations, 1);
    CHECK_LISTED(&r.activations[0], x, want);
    *filter = want;
    q.activationStatus = filter;
    CALL(LookupActivations, &q, &r);
    CU_ASSERT_EQUAL_FATAL(r.__sizeactivations, 1);
    SAME("lookup by status", r.activations[0].activationId, x->id);
    *filter = want == pa3__ActivationStatus__BLOCKED ? pa3__ActivationStatus__ACTIVE
                                                     : pa3__ActivationStatus__BLOCKED;
    CALL(LookupActivations, &q, &r);
    CU_ASSERT_EQUAL(r.__sizeactivations, 0);
    q.activationStatus = NULL;
    q.__sizeapplicationIds = 1;         /* only app2 */
    CALL(LookupActivations, &q, &r);
    CU_ASSERT_EQUAL(r.__sizeactivations, 0);
}

static void commit(const char *id, const char *otp)
{
    struct _pa3__CommitActivationRequest req = {soap_strdup(soap, id), (char *)OPS,
                                                otp ? soap_strdup(soap, otp) : NULL};
    struct _pa3__CommitActivationResponse resp;

    CALL(CommitActivation, &req, &resp);
    SAME("commit activationId", resp.activationId, id);
    CU_ASSERT(is_true(resp.activated));
}

/* The whole life of a code activation (6.2-6.6, 7), one SDK generation:
 * 3.1 with compressed keys and the status challenge, or 3.0 with the
 * uncompressed ephemeral key (no ECIES nonce), which also asks for the
 * status the old way (zero IV, no challenge). */
static void lifecycle(const char *protocol, int compressed)
{
    pa_device_activation_opts o;
    struct _pa3__InitActivationResponse init;
    struct _pa3__PrepareActivationRequest pq;
    struct _pa3__PrepareActivationResponse pr;
    struct _pa3__GetActivationStatusRequest sq;
    struct _pa3__GetActivationStatusResponse sr;
    struct _pa3__BlockActivationRequest bq;
    struct _pa3__BlockActivationResponse br;
    struct _pa3__UnblockActivationRequest uq;
    struct _pa3__UnblockActivationResponse ur;
    struct _pa3__RemoveActivationRequest rq;
    struct _pa3__RemoveActivationResponse rr;
    expect_activation x;
    cryptogram_b64 c;
    char user[64], reason[64];
    uint8_t ch[PA_STATUS_CHALLENGE_LEN], *sig;
    size_t n;
    int valid = -1, v31 = strcmp(protocol, "3.1") == 0;

    new_device(protocol);
    snprintf(user, sizeof user, "%s-user-%s", tag, protocol);
    /* 3.1 blocks with a reason, 3.0 without one: NOT_SPECIFIED (DATABASE.md 3) */
    snprintf(reason, sizeof reason, "%s", v31 ? "LOST_PHONE <31> & co" : "NOT_SPECIFIED");
    init = init_activation(user);
    memset(&x, 0, sizeof x);
    x.id = init.activationId;
    x.user = user;
    x.otp_mode = pa3__ActivationOtpValidation__NONE;
    x.max_failed = 5;

    /* CREATED: code and a fresh signature, random blob, no fingerprint */
    sq.activationId = init.activationId;
    CU_ASSERT_EQUAL_FATAL(pa_device_status_challenge(dev, ch), PA_OK);
    sq.challenge = b64(ch, sizeof ch);
    CALL(GetActivationStatus, &sq, &sr);
    STATUS("status while CREATED", sr.activationStatus, pa3__ActivationStatus__CREATED);
    SAME("status activationCode", sr.activationCode, init.activationCode);
    sig = unb64(sr.activationSignature, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sig);
    CU_ASSERT_EQUAL(pa_device_verify_activation_signature(dev, init.activationCode, sig, n,
                                                          &valid), PA_OK);
    CU_ASSERT_EQUAL(valid, 1);
    CU_ASSERT_PTR_NULL(sr.devicePublicKeyFingerprint);
    CU_ASSERT_EQUAL(b64len(sr.encryptedStatusBlob), 32);
    CU_ASSERT_EQUAL(b64len(sr.encryptedStatusBlobNonce), 16);

    /* key exchange */
    memset(&o, 0, sizeof o);
    o.compressed_eph = compressed;
    o.compressed_device_key = compressed;
    if (v31) {
        o.name = "Jana's phone <3.1> & co";
        o.platform = "Android";                 /* stored lower-cased */
        o.device_info = "Pixel 7 \xc4\x8d";
        o.extras = "{\"k\":\"v\"}";
        x.name = o.name;
        x.platform = "android";
        x.device_info = o.device_info;
        x.extras = o.extras;
    } else {
        o.name = "old SDK";
        x.name = o.name;
        x.platform = "unknown";                 /* no platform sent */
    }
    c = activation_request(&o);
    pq.activationCode = init.activationCode;
    pq.applicationKey = act_key;
    pq.ephemeralPublicKey = c.eph;
    pq.encryptedData = c.data;
    pq.mac = c.mac;
    pq.nonce = c.nonce;
    CALL(PrepareActivation, &pq, &pr);
    SAME("prepare activationId", pr.activationId, init.activationId);
    SAME("prepare userId", pr.userId, user);
    STATUS("PrepareActivation", pr.activationStatus, pa3__ActivationStatus__PENDING_USCORECOMMIT);
    read_activation_answer(pr.encryptedData, pr.mac, init.activationId);

    check_status(&x, pa3__ActivationStatus__PENDING_USCORECOMMIT, 1);
    if (!v31)
        check_status(&x, pa3__ActivationStatus__PENDING_USCORECOMMIT, 0);

    commit(init.activationId, NULL);
    check_status(&x, pa3__ActivationStatus__ACTIVE, 1);

    bq.activationId = init.activationId;
    bq.reason = v31 ? reason : NULL;        /* optional: left out */
    bq.externalUserId = (char *)OPS;
    CALL(BlockActivation, &bq, &br);
    SAME("block activationId", br.activationId, init.activationId);
    STATUS("BlockActivation", br.activationStatus, pa3__ActivationStatus__BLOCKED);
    SAME("block blockedReason", br.blockedReason, reason);
    x.blocked = reason;
    /* blocked again: no write, the stored reason, not the request's (5.1) */
    bq.reason = "SECOND_REASON";
    CALL(BlockActivation, &bq, &br);
    STATUS("BlockActivation again", br.activationStatus, pa3__ActivationStatus__BLOCKED);
    SAME("block again blockedReason", br.blockedReason, reason);
    check_status(&x, pa3__ActivationStatus__BLOCKED, v31);
    check_lists(&x, pa3__ActivationStatus__BLOCKED);

    uq.activationId = init.activationId;
    uq.externalUserId = (char *)OPS;
    CALL(UnblockActivation, &uq, &ur);
    SAME("unblock activationId", ur.activationId, init.activationId);
    STATUS("UnblockActivation", ur.activationStatus, pa3__ActivationStatus__ACTIVE);
    CALL(UnblockActivation, &uq, &ur);          /* ACTIVE: no write */
    STATUS("UnblockActivation again", ur.activationStatus, pa3__ActivationStatus__ACTIVE);
    x.blocked = NULL;                           /* Unblock clears it */
    check_status(&x, pa3__ActivationStatus__ACTIVE, 1);

    {
        const history_row h[] = {
            {pa3__ActivationStatus__ACTIVE, NULL, OPS},
            {pa3__ActivationStatus__BLOCKED, reason, OPS},
            {pa3__ActivationStatus__ACTIVE, NULL, OPS},
            {pa3__ActivationStatus__PENDING_USCORECOMMIT, NULL, NULL},
            {pa3__ActivationStatus__CREATED, NULL, NULL},
        };
        check_history(init.activationId, h, 5);
    }
    check_lists(&x, pa3__ActivationStatus__ACTIVE);

    rq.activationId = init.activationId;
    rq.externalUserId = (char *)OPS;
    rq.revokeRecoveryCodes = NULL;
    CALL(RemoveActivation, &rq, &rr);
    SAME("remove activationId", rr.activationId, init.activationId);
    CU_ASSERT(is_true(rr.removed));
    if (!v31) {     /* again: still removed, and logged every time (5.12) */
        rq.externalUserId = "ops-2";
        CALL(RemoveActivation, &rq, &rr);
        CU_ASSERT(is_true(rr.removed));
    }
    /* the device key stays: a real blob saying REMOVED */
    check_status(&x, pa3__ActivationStatus__REMOVED, 1);
    check_lists(&x, pa3__ActivationStatus__REMOVED);
    if (!v31) {
        const history_row h[] = {
            {pa3__ActivationStatus__REMOVED, NULL, "ops-2"},
            {pa3__ActivationStatus__REMOVED, NULL, OPS},
            {pa3__ActivationStatus__ACTIVE, NULL, OPS},
            {pa3__ActivationStatus__BLOCKED, reason, OPS},
            {pa3__ActivationStatus__ACTIVE, NULL, OPS},
            {pa3__ActivationStatus__PENDING_USCORECOMMIT, NULL, NULL},
            {pa3__ActivationStatus__CREATED, NULL, NULL},
        };
        check_history(init.activationId, h, 7);
    } else {
        const history_row h[] = {
            {pa3__ActivationStatus__REMOVED, NULL, OPS},
            {pa3__ActivationStatus__ACTIVE, NULL, OPS},
            {pa3__ActivationStatus__BLOCKED, reason, OPS},
            {pa3__ActivationStatus__ACTIVE, NULL, OPS},
            {pa3__ActivationStatus__PENDING_USCORECOMMIT, NULL, NULL},
            {pa3__ActivationStatus__CREATED, NULL, NULL},
        };
        check_history(init.activationId, h, 6);
    }
}

static void test_activation_v31(void) { lifecycle("3.1", 1); }
static void test_activation_v30(void) { lifecycle("3.0", 0); }

/* CreateActivation (6.4): init and key exchange in one call, with an
 * activation OTP checked at commit (6.5) and a failure limit of its own;
 * a wrong OTP at commit, UpdateActivationOtp, the commit with the new OTP,
 * then UpdateStatusForActivations. */
static void test_custom_activation(void)
{
    pa_device_activation_opts o;
    struct _pa3__CreateActivationRequest cq;
    struct _pa3__CreateActivationResponse cr;
    struct _pa3__UpdateActivationOtpRequest oq;
    struct _pa3__UpdateActivationOtpResponse or_;
    struct _pa3__UpdateStatusForActivationsRequest uq;
    struct _pa3__UpdateStatusForActivationsResponse ur;
    enum pa3__ActivationStatus *blocked = soap_malloc(soap, sizeof *blocked);
    expect_activation x;
    cryptogram_b64 c;
    char user[64];

    new_device("3.1");
    snprintf(user, sizeof user, "%s-user-custom", tag);
    memset(&o, 0, sizeof o);
    o.compressed_eph = 1;
    o.name = "custom";
    o.platform = "iOS";
    o.otp = "ignored-by-CreateActivation";     /* 6.4 step 3 */
    c = activation_request(&o);

    memset(&cq, 0, sizeof cq);
    cq.userId = user;
    cq.maxFailureCount = L(3);
    cq.applicationKey = act_key;
    cq.ephemeralPublicKey = c.eph;
    cq.encryptedData = c.data;
    cq.mac = c.mac;
    cq.nonce = c.nonce;
    cq.activationOtp = "1234";
    CALL(CreateActivation, &cq, &cr);
    CU_ASSERT_FATAL(is_uuid4(cr.activationId));
    read_activation_answer(cr.encryptedData, cr.mac, cr.activationId);

    memset(&x, 0, sizeof x);
    x.id = cr.activationId;
    x.user = user;
    x.name = "custom";
    x.platform = "ios";
    x.otp_mode = pa3__ActivationOtpValidation__ON_USCORECOMMIT;
    x.max_failed = 3;
    check_status(&x, pa3__ActivationStatus__PENDING_USCORECOMMIT, 1);

    /* a wrong OTP: ERR0031, one failed attempt, persisted (6.5, 5.5) */
    {
        struct _pa3__CommitActivationRequest mq = {cr.activationId, (char *)OPS, "0000"};
        struct _pa3__CommitActivationResponse mr;

        FAULT(CommitActivation, &mq, &mr, "ERR0031");
    }
    x.failed = 1;
    check_status(&x, pa3__ActivationStatus__PENDING_USCORECOMMIT, 1);
    x.failed = 0;           /* the right OTP resets the count (6.5 step 4) */

    oq.activationId = cr.activationId;
    oq.externalUserId = (char *)OPS;
    oq.activationOtp = "98765";
    CALL(UpdateActivationOtp, &oq, &or_);
    SAME("UpdateActivationOtp activationId", or_.activationId, cr.activationId);
    CU_ASSERT(is_true(or_.updated));
    commit(cr.activationId, "98765");
    check_status(&x, pa3__ActivationStatus__ACTIVE, 1);

    *blocked = pa3__ActivationStatus__BLOCKED;
    uq.__sizeactivationIds = 1;
    uq.activationIds = soap_malloc(soap, sizeof(char *));
    uq.activationIds[0] = cr.activationId;
    uq.activationStatus = blocked;
    CALL(UpdateStatusForActivations, &uq, &ur);
    CU_ASSERT(is_true(ur.updated));
    check_status(&x, pa3__ActivationStatus__BLOCKED, 1);    /* no reason stored */
    check_lists(&x, pa3__ActivationStatus__BLOCKED);
    {
        const history_row h[] = {
            {pa3__ActivationStatus__BLOCKED, NULL, NULL},
            {pa3__ActivationStatus__ACTIVE, NULL, OPS},
            {pa3__ActivationStatus__PENDING_USCORECOMMIT, "OTP_VALUE_UPDATE", OPS},
            {pa3__ActivationStatus__PENDING_USCORECOMMIT, "OTP_FAILED_ATTEMPT", OPS},
            {pa3__ActivationStatus__PENDING_USCORECOMMIT, NULL, NULL},
            {pa3__ActivationStatus__CREATED, NULL, NULL},
        };
        check_history(cr.activationId, h, 6);
    }
}

/* Faults through this client (Server faults with the catalogue's text). */
static void test_activation_faults(void)
{
    pa_device_activation_opts o;
    struct _pa3__InitActivationResponse init;
    struct _pa3__PrepareActivationRequest pq;
    struct _pa3__PrepareActivationResponse pr;
    struct _pa3__CommitActivationRequest mq = {(char *)NO_SUCH_ACTIVATION, NULL, NULL};
    struct _pa3__CommitActivationResponse mr;
    struct _pa3__BlockActivationRequest bq;
    struct _pa3__BlockActivationResponse br;
    struct _pa3__GetActivationStatusRequest sq;
    struct _pa3__GetActivationStatusResponse sr;
    cryptogram_b64 c;
    uint8_t *mac, ch[PA_STATUS_CHALLENGE_LEN];
    size_t n;
    char user[64];

    new_device("3.1");
    snprintf(user, sizeof user, "%s-user-faults", tag);
    init = init_activation(user);

    /* BlockActivation needs ACTIVE (or BLOCKED): CREATED is ERR0008 */
    bq.activationId = init.activationId;
    bq.reason = "NOPE";
    bq.externalUserId = NULL;
    FAULT(BlockActivation, &bq, &br, "ERR0008");

    /* a MAC that does not match: ERR0018 (6.3 step 3), nothing changes */
    memset(&o, 0, sizeof o);
    o.compressed_eph = 1;
    c = activation_request(&o);
    mac = unb64(c.mac, &n);
    CU_ASSERT_FATAL(mac != NULL && n == 32);
    mac[7] ^= 0x01;
    pq.activationCode = init.activationCode;
    pq.applicationKey = act_key;
    pq.ephemeralPublicKey = c.eph;
    pq.encryptedData = c.data;
    pq.mac = b64(mac, n);
    pq.nonce = c.nonce;
    FAULT(PrepareActivation, &pq, &pr, "ERR0018");
    sq.activationId = init.activationId;
    sq.challenge = NULL;
    CALL(GetActivationStatus, &sq, &sr);
    STATUS("after a bad MAC", sr.activationStatus, pa3__ActivationStatus__CREATED);
    /* the untouched request still works: the code was not used up */
    pq.mac = c.mac;
    CALL(PrepareActivation, &pq, &pr);
    STATUS("PrepareActivation after the bad MAC", pr.activationStatus,
           pa3__ActivationStatus__PENDING_USCORECOMMIT);
    read_activation_answer(pr.encryptedData, pr.mac, init.activationId);
    FAULT(BlockActivation, &bq, &br, "ERR0008");            /* PENDING_COMMIT */
    /* the code is no longer in CREATED: ERR0009 (6.3 step 5) */
    c = activation_request(&o);
    pq.ephemeralPublicKey = c.eph;
    pq.encryptedData = c.data;
    pq.mac = c.mac;
    pq.nonce = c.nonce;
    FAULT(PrepareActivation, &pq, &pr, "ERR0009");

    /* unknown activation */
    FAULT(CommitActivation, &mq, &mr, "ERR0009");
    /* ... whose status is not a fault: REMOVED with placeholders (7.6) */
    sq.activationId = (char *)NO_SUCH_ACTIVATION;
    CU_ASSERT_EQUAL_FATAL(pa_device_status_challenge(dev, ch), PA_OK);
    sq.challenge = b64(ch, sizeof ch);
    CALL(GetActivationStatus, &sq, &sr);
    SAME("unknown activationId", sr.activationId, NO_SUCH_ACTIVATION);
    STATUS("unknown activation", sr.activationStatus, pa3__ActivationStatus__REMOVED);
    SAME("unknown userId", sr.userId, "unknown");
    CU_ASSERT(sr.applicationId != NULL && *sr.applicationId == 0);
    CU_ASSERT(sr.version != NULL && *sr.version == 0);
    CU_ASSERT_EQUAL(b64len(sr.encryptedStatusBlob), 32);
    CU_ASSERT_EQUAL(b64len(sr.encryptedStatusBlobNonce), 16);
    CU_ASSERT_PTR_NULL(sr.devicePublicKeyFingerprint);
    CU_ASSERT_PTR_NULL(sr.activationCode);

    /* removed while CREATED: no device key, so a random blob and no nonce
     * even though a challenge was sent (7.6) */
    new_device("3.1");
    init = init_activation(user);
    {
        struct _pa3__RemoveActivationRequest rq = {init.activationId, NULL, NULL};
        struct _pa3__RemoveActivationResponse rr;

        CALL(RemoveActivation, &rq, &rr);
        CU_ASSERT(is_true(rr.removed));
    }
    sq.activationId = init.activationId;
    CALL(GetActivationStatus, &sq, &sr);
    STATUS("removed while CREATED", sr.activationStatus, pa3__ActivationStatus__REMOVED);
    SAME("removed while CREATED userId", sr.userId, user);
    CU_ASSERT_EQUAL(b64len(sr.encryptedStatusBlob), 32);
    CU_ASSERT_PTR_NULL(sr.encryptedStatusBlobNonce);
    CU_ASSERT_PTR_NULL(sr.devicePublicKeyFingerprint);
    CU_ASSERT_PTR_NULL(sr.activationCode);
    CU_ASSERT_PTR_NULL(sr.activationSignature);
    /* removing does not make it blockable */
    bq.activationId = init.activationId;
    FAULT(BlockActivation, &bq, &br, "ERR0008");
}

/* ---- suite signatures --------------------------------------------------------- */

/* The phone (libpadevice, in this process) signs as in CRYPTO.md 8-11 and
 * the server verifies over HTTP.  One 3.1 activation carries the online
 * signatures, the offline ones, the vault, the tokens and the ECIES
 * decryptor; every verification it sees is also written down here
 * (sig_rows, oldest first) with the server's counter and ctrData as they
 * must be after the attempt, so that SignatureAudit can be compared with
 * what really happened (DATABASE.md 5.2).  A 3.0 activation of another
 * user then signs in DECIMAL and is blocked by failures.  The device and
 * every soap allocation belong to the suite (act_suite_clean). */

#define MAX_FAILED 5            /* InitActivation without maxFailureCount */
#define SIG_URI_ID "/pa/signature/validate"
#define SIG_BODY "{\"amount\":\"100.00\",\"to\":\"CZ65 0800 0000 1920 0014 5399\"}"
#define OFFLINE_URI_ID "/operation/authorize/offline"

static char sig_user[64], sig_id[64], user30[64], id30[64];
static const char *cur_user, *cur_id;   /* the activation being signed for */
static char srv_ctr[32];                /* the server's ctrData, B64 (tracked) */
static LONG64 srv_counter;              /* the server's counter (tracked) */

typedef struct {
    const char *note;
    int valid;
    enum pa3__SignatureType type;
    const char *sigver;                 /* NULL for offline */
    LONG64 counter;
    char ctr[32];
    char *data_b64, *signature;
    enum pa3__ActivationStatus status;
    const char *info[2][2];             /* additionalInfo entries, in order */
    int ninfo;
} audit_row;

#define MAX_ROWS 48
static audit_row sig_rows[MAX_ROWS];
static int sig_nrows;

/* One signature made by the device, copied into soap memory. */
typedef struct {
    char *data, *signature, *version;
    int64_t counter;
} signed_req;

static enum pa3__SignatureType soap_type(pa_sig_type t)
{
    switch (t) {
    case PA_SIG_POSSESSION: return pa3__SignatureType__POSSESSION;
    case PA_SIG_KNOWLEDGE: return pa3__SignatureType__KNOWLEDGE;
    case PA_SIG_BIOMETRY: return pa3__SignatureType__BIOMETRY;
    case PA_SIG_POSSESSION_KNOWLEDGE: return pa3__SignatureType__POSSESSION_USCOREKNOWLEDGE;
    case PA_SIG_POSSESSION_BIOMETRY: return pa3__SignatureType__POSSESSION_USCOREBIOMETRY;
    default: return pa3__SignatureType__POSSESSION_USCOREKNOWLEDGE_USCOREBIOMETRY;
    }
}

#define PK pa3__SignatureType__POSSESSION_USCOREKNOWLEDGE
#define PB pa3__SignatureType__POSSESSION_USCOREBIOMETRY
#define PO pa3__SignatureType__POSSESSION
#define ACTIVE pa3__ActivationStatus__ACTIVE
#define BLOCKED pa3__ActivationStatus__BLOCKED

static enum pa3__SignatureType *TY(enum pa3__SignatureType t)
{
    enum pa3__SignatureType *p = soap_malloc(soap, sizeof *p);

    *p = t;
    return p;
}

static enum xsd__boolean *BOOL(int v)
{
    enum xsd__boolean *p = soap_malloc(soap, sizeof *p);

    *p = v ? xsd__boolean__true_ : xsd__boolean__false_;
    return p;
}

/* Base64 of a text's bytes, in soap memory. */
static char *b64text(const char *s)
{
    return b64((const uint8_t *)s, strlen(s));
}

/* A copy of s with the character at `at` replaced by another one of the
 * same class (digit or Base64 letter), so only the value is wrong. */
static char *flipped(const char *s, size_t at)
{
    char *p = soap_strdup(soap, s);

    CU_ASSERT_FATAL(p != NULL && at < strlen(p));
    if (isdigit((unsigned char)p[at]))
        p[at] = p[at] == '0' ? '1' : '0';
    else
        p[at] = p[at] == 'A' ? 'B' : 'A';
    return p;
}

static int64_t now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The device signs POST SIG_URI_ID with SIG_BODY (8.1); advance: moves its
 * counter on, as after every signature the SDK makes. */
static signed_req device_sign(pa_sig_type t, int advance)
{
    pa_device_signature s;
    signed_req r = {NULL, NULL, NULL, 0};
    pa_err e = pa_device_sign(dev, "POST", SIG_URI_ID, (const uint8_t *)SIG_BODY,
                              strlen(SIG_BODY), t, NULL, advance, &s);

    if (e == PA_OK) {
        r.data = soap_strdup(soap, s.data_string);
        r.signature = soap_strdup(soap, s.signature);
        r.version = soap_strdup(soap, s.version);
        r.counter = s.counter;
    }
    pa_device_signature_free(&s);
    CU_ASSERT_EQUAL_FATAL(e, PA_OK);
    return r;
}

/* The device checks an offline payload and, when it is genuine, signs it
 * (9.2); *payload_valid says whether it was. */
static signed_req device_offline_sign(const char *offline_data, int biometry,
                                      int *payload_valid)
{
    pa_device_signature s;
    signed_req r = {NULL, NULL, NULL, 0};
    pa_err e = pa_device_offline_sign(dev, offline_data, OFFLINE_URI_ID, "A1*A100CZK*D20260630",
                                      biometry, payload_valid, &s);

    if (e == PA_OK && *payload_valid) {
        r.data = soap_strdup(soap, s.data_string);
        r.signature = soap_strdup(soap, s.signature);
        r.counter = s.counter;
    }
    pa_device_signature_free(&s);
    CU_ASSERT_EQUAL_FATAL(e, PA_OK);
    return r;
}

/* A valid signature was accepted: the server's counter and ctrData are now
 * the device's (which moved on after signing). */
static void server_moved(void)
{
    srv_counter = dev->counter;
    pa_b64_encode(dev->ctr_data, 16, srv_ctr);
}

/* Writes down the audit row an attempt must have left (data + "&" + suffix
 * is what was verified: the secret, or "offline"). */
static audit_row *expect_row(const char *note, int valid, enum pa3__SignatureType type,
                             const char *sigver, const char *data, const char *suffix,
                             const char *signature, enum pa3__ActivationStatus status)
{
    audit_row *r;
    char *text;

    CU_ASSERT_FATAL(sig_nrows < MAX_ROWS);
    r = &sig_rows[sig_nrows++];
    memset(r, 0, sizeof *r);
    r->note = note;
    r->valid = valid;
    r->type = type;
    r->sigver = sigver;
    r->counter = srv_counter;
    snprintf(r->ctr, sizeof r->ctr, "%s", srv_ctr);
    text = soap_malloc(soap, strlen(data) + strlen(suffix) + 2);
    sprintf(text, "%s&%s", data, suffix);
    r->data_b64 = b64text(text);
    r->signature = soap_strdup(soap, signature);
    r->status = status;
    return r;
}

static void add_info(audit_row *r, const char *key, const char *value)
{
    r->info[r->ninfo][0] = key;
    r->info[r->ninfo][1] = value;
    r->ninfo++;
}

static int check_bool(const char *what, const enum xsd__boolean *b, int want)
{
    if (want ? is_true(b) : is_false(b))
        return 1;
    fprintf(stderr, "\n  %s: %s, expected %s\n", what,
            b == NULL ? "(absent)" : *b == xsd__boolean__true_ ? "true" : "false",
            want ? "true" : "false");
    return 0;
}
#define BOOLEAN(what, got, want) CU_ASSERT(check_bool((what), (got), (want)))

static int check_type(const char *what, const enum pa3__SignatureType *t, enum pa3__SignatureType want)
{
    if (t != NULL && *t == want)
        return 1;
    fprintf(stderr, "\n  %s: signatureType %d, expected %d\n", what, t ? (int)*t : -1, (int)want);
    return 0;
}
#define TYPE(what, got, want) CU_ASSERT(check_type((what), (got), (want)))

/* xs:integer as text: exactly the decimal number want. */
static int check_int(const char *what, const char *got, int want)
{
    char buf[16];

    snprintf(buf, sizeof buf, "%d", want);
    return same(what, got, buf);
}

/* A verification verdict (VerifySignature and VerifyOfflineSignature
 * answer the same fields, 8.7). */
#define VERDICT(what, r, valid_, type_, remaining_, status_, blocked_)          \
    do {                                                                       \
        BOOLEAN(what " signatureValid", (r).signatureValid, (valid_));         \
        STATUS(what, (r).activationStatus, (status_));                         \
        SAME(what " activationId", (r).activationId, cur_id);                  \
        SAME(what " userId", (r).userId, cur_user);                            \
        CU_ASSERT((r).applicationId != NULL && *(r).applicationId == act_app); \
        TYPE(what, (r).signatureType, (type_));                                \
        CU_ASSERT(check_int(what " remainingAttempts", (r).remainingAttempts, (remaining_))); \
        SAME(what " blockedReason", (r).blockedReason, (blocked_));            \
    } while (0)

static struct _pa3__VerifySignatureResponse verify(const char *data, const char *signature,
                                                   enum pa3__SignatureType t, const char *version)
{
    struct _pa3__VerifySignatureRequest q;
    struct _pa3__VerifySignatureResponse r;

    memset(&q, 0, sizeof q);
    q.activationId = (char *)cur_id;
    q.applicationKey = act_key;
    q.data = (char *)data;
    q.signature = (char *)signature;
    q.signatureType = TY(t);
    q.signatureVersion = (char *)version;
    CALL(VerifySignature, &q, &r);
    return r;
}

static struct _pa3__VerifyOfflineSignatureResponse verify_offline(const signed_req *s,
                                                                  const char *signature,
                                                                  int allow_biometry)
{
    struct _pa3__VerifyOfflineSignatureRequest q;
    struct _pa3__VerifyOfflineSignatureResponse r;

    q.activationId = (char *)cur_id;
    q.data = s->data;
    q.signature = (char *)signature;
    q.allowBiometry = BOOL(allow_biometry);
    CALL(VerifyOfflineSignature, &q, &r);
    return r;
}

/* The status blob (with a challenge) of the current activation: counter
 * byte, failures and the counter hash, which must be the device's own
 * ctrData (7.5) whenever device and server are in step. */
static void sig_status(int failed, enum pa3__ActivationStatus want)
{
    struct _pa3__GetActivationStatusRequest q;
    struct _pa3__GetActivationStatusResponse r;
    uint8_t ch[PA_STATUS_CHALLENGE_LEN], *blob, *nonce;
    size_t blob_len, nonce_len;
    pa_device_status st;

    CU_ASSERT_EQUAL_FATAL(pa_device_status_challenge(dev, ch), PA_OK);
    q.activationId = (char *)cur_id;
    q.challenge = b64(ch, sizeof ch);
    CALL(GetActivationStatus, &q, &r);
    STATUS("status", r.activationStatus, want);
    blob = unb64(r.encryptedStatusBlob, &blob_len);
    nonce = unb64(r.encryptedStatusBlobNonce, &nonce_len);
    CU_ASSERT_FATAL(blob != NULL && blob_len == PA_STATUS_BLOB_LEN);
    CU_ASSERT_FATAL(nonce != NULL && nonce_len == PA_STATUS_NONCE_LEN);
    CU_ASSERT_EQUAL_FATAL(pa_device_status_decrypt(dev, blob, nonce, NULL, 0, &st), PA_OK);
    CU_ASSERT_EQUAL(st.f.status, (unsigned)want + 1);
    CU_ASSERT_EQUAL(st.f.failed_attempts, failed);
    CU_ASSERT_EQUAL(st.f.max_failed_attempts, MAX_FAILED);
    CU_ASSERT_EQUAL(st.f.ctr_byte, (uint8_t)(srv_counter & 0xff));
    CU_ASSERT(st.hash_checked && st.hash_matches);
    CU_ASSERT_EQUAL(st.distance, 0);
    if (st.f.failed_attempts != failed || st.f.ctr_byte != (uint8_t)(srv_counter & 0xff)
        || !st.hash_matches || st.distance != 0)
        fprintf(stderr, "\n  status blob: failed %u (expected %d), counter byte %u (expected %u), "
                "hash %s at distance %d\n", st.f.failed_attempts, failed, st.f.ctr_byte,
                (unsigned)(srv_counter & 0xff), st.hash_matches ? "found" : "not found",
                st.distance);
}

/* SignatureAudit of the current user must be exactly sig_rows, newest
 * first (DATABASE.md 5.2, 5.11). */
static void check_audit(void)
{
    struct _pa3__SignatureAuditRequest q;
    struct _pa3__SignatureAuditResponse r;
    time_t now = time(NULL);
    int n = sig_nrows;

    q.userId = (char *)cur_user;
    q.applicationId = L(act_app);
    q.timestampFrom = T(now - 86400);   /* a day either way: zone independent */
    q.timestampTo = T(now + 86400);
    CALL(SignatureAudit, &q, &r);
    if (r.__sizeitems != n)
        fprintf(stderr, "\n  SignatureAudit: %d rows, expected %d\n", r.__sizeitems, n);
    CU_ASSERT_EQUAL_FATAL(r.__sizeitems, n);
    for (int i = 0; i < n; i++) {
        const struct _pa3__SignatureAuditResponse_items *it = &r.items[i];
        const audit_row *w = &sig_rows[n - 1 - i];
        char what[96];

        snprintf(what, sizeof what, "audit row %d (%s, attempt %d)", i, w->note, n - i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(it->id);
        CU_ASSERT_PTR_NOT_NULL_FATAL(it->timestampCreated);
        if (i > 0) {
            const struct timeval *a = it->timestampCreated, *b = r.items[i - 1].timestampCreated;

            CU_ASSERT(*it->id < *r.items[i - 1].id);
            CU_ASSERT(a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_usec <= b->tv_usec));
        }
        SAME(what, it->note, w->note);
        SAME(what, it->userId, cur_user);
        CU_ASSERT(it->applicationId != NULL && *it->applicationId == act_app);
        SAME(what, it->activationId, cur_id);
        CU_ASSERT(it->activationCounter != NULL && *it->activationCounter == w->counter);
        if (it->activationCounter != NULL && *it->activationCounter != w->counter)
            fprintf(stderr, "\n  %s: activationCounter %lld, expected %lld\n", what,
                    (long long)*it->activationCounter, (long long)w->counter);
        SAME(what, it->activationCtrData, w->ctr);
        STATUS(what, it->activationStatus, w->status);
        SAME(what, it->dataBase64, w->data_b64);
        SAME(what, it->signatureVersion, w->sigver);
        TYPE(what, it->signatureType, w->type);
        SAME(what, it->signature, w->signature);
        BOOLEAN(what, it->valid, w->valid);
        CU_ASSERT(it->version != NULL && *it->version == 3);
        CU_ASSERT_PTR_NOT_NULL_FATAL(it->additionalInfo);
        if (it->additionalInfo->__sizeentry != w->ninfo)
            fprintf(stderr, "\n  %s: %d additionalInfo entries, expected %d\n", what,
                    it->additionalInfo->__sizeentry, w->ninfo);
        CU_ASSERT_EQUAL_FATAL(it->additionalInfo->__sizeentry, w->ninfo);
        for (int k = 0; k < w->ninfo; k++) {
            SAME(what, it->additionalInfo->entry[k].key, w->info[k][0]);
            SAME(what, it->additionalInfo->entry[k].value, w->info[k][1]);
        }
    }
    /* any application: the same rows; another one, or an earlier window: none */
    q.applicationId = NULL;
    CALL(SignatureAudit, &q, &r);
    CU_ASSERT_EQUAL(r.__sizeitems, n);
    q.applicationId = L(app2);
    CALL(SignatureAudit, &q, &r);
    CU_ASSERT_EQUAL(r.__sizeitems, 0);
    q.applicationId = L(act_app);
    q.timestampFrom = T(now - 3 * 86400);
    q.timestampTo = T(now - 2 * 86400);
    CALL(SignatureAudit, &q, &r);
    CU_ASSERT_EQUAL(r.__sizeitems, 0);
}

/* Code activation of a new device for user tag-user-<suffix> (6.3, 6.5);
 * makes it the current activation, with counter 0 on both sides. */
static void activate(const char *protocol, const char *suffix, int compressed, char *user,
                     size_t ulen, char *id, size_t idlen)
{
    pa_device_activation_opts o;
    struct _pa3__InitActivationResponse init;
    struct _pa3__PrepareActivationRequest pq;
    struct _pa3__PrepareActivationResponse pr;
    cryptogram_b64 c;

    new_device(protocol);
    snprintf(user, ulen, "%s-user-%s", tag, suffix);
    init = init_activation(user);
    memset(&o, 0, sizeof o);
    o.compressed_eph = compressed;
    o.compressed_device_key = compressed;
    o.name = "signing phone";
    c = activation_request(&o);
    pq.activationCode = init.activationCode;
    pq.applicationKey = act_key;
    pq.ephemeralPublicKey = c.eph;
    pq.encryptedData = c.data;
    pq.mac = c.mac;
    pq.nonce = c.nonce;
    CALL(PrepareActivation, &pq, &pr);
    STATUS("PrepareActivation", pr.activationStatus, pa3__ActivationStatus__PENDING_USCORECOMMIT);
    read_activation_answer(pr.encryptedData, pr.mac, init.activationId);
    commit(init.activationId, NULL);
    snprintf(id, idlen, "%s", init.activationId);
    cur_user = user;
    cur_id = id;
    sig_nrows = 0;
    CU_ASSERT_EQUAL(dev->counter, 0);
    srv_counter = 0;
    pa_b64_encode(dev->ctr_data, 16, srv_ctr);
}

static void test_sig_activate(void)
{
    use_new_app("sig-app");
    activate("3.1", "sig31", 1, sig_user, sizeof sig_user, sig_id, sizeof sig_id);
    sig_status(0, ACTIVE);
}

static signed_req last_pk, last_p;

/* 8.7 step 5, valid: possession_knowledge, then possession; BASE64 format
 * for 3.1 (8.5): 44 and 24 characters. */
static void test_sig_valid(void)
{
    struct _pa3__VerifySignatureResponse r;

    last_pk = device_sign(PA_SIG_POSSESSION_KNOWLEDGE, 1);
    SAME("signatureVersion", last_pk.version, "3.1");
    CU_ASSERT_EQUAL(strlen(last_pk.signature), 44);
    r = verify(last_pk.data, last_pk.signature, PK, last_pk.version);
    VERDICT("possession_knowledge", r, 1, PK, MAX_FAILED, ACTIVE, NULL);
    server_moved();
    expect_row("signature_ok", 1, PK, "3.1", last_pk.data, act_secret, last_pk.signature, ACTIVE);

    last_p = device_sign(PA_SIG_POSSESSION, 1);
    CU_ASSERT_EQUAL(strlen(last_p.signature), 24);
    r = verify(last_p.data, last_p.signature, PO, last_p.version);
    VERDICT("possession", r, 1, PO, MAX_FAILED, ACTIVE, NULL);
    server_moved();
    expect_row("signature_ok", 1, PO, "3.1", last_p.data, act_secret, last_p.signature, ACTIVE);
    /* a version above 3.1 is BASE64 too (8.5), and audited as sent */
    last_pk = device_sign(PA_SIG_POSSESSION_KNOWLEDGE, 1);
    r = verify(last_pk.data, last_pk.signature, PK, "3.2");
    VERDICT("possession_knowledge as 3.2", r, 1, PK, MAX_FAILED, ACTIVE, NULL);
    server_moved();
    expect_row("signature_ok", 1, PK, "3.2", last_pk.data, act_secret, last_pk.signature, ACTIVE);
    CU_ASSERT_EQUAL(srv_counter, 3);
    sig_status(0, ACTIVE);
}

/* A signature already used is behind the counter: invalid, nothing moves;
 * a possession-only failure does not count, possession_knowledge does. */
static void test_sig_replay(void)
{
    struct _pa3__VerifySignatureResponse r;

    r = verify(last_p.data, last_p.signature, PO, "3.1");
    VERDICT("possession replayed", r, 0, PO, MAX_FAILED, ACTIVE, NULL);
    expect_row("signature_does_not_match", 0, PO, "3.1", last_p.data, act_secret,
               last_p.signature, ACTIVE);
    r = verify(last_pk.data, last_pk.signature, PK, "3.1");
    VERDICT("possession_knowledge replayed", r, 0, PK, MAX_FAILED - 1, ACTIVE, NULL);
    expect_row("signature_does_not_match", 0, PK, "3.1", last_pk.data, act_secret,
               last_pk.signature, ACTIVE);
    sig_status(1, ACTIVE);
}

/* 19 signatures the server never sees, then one at c+19, the last position
 * of the window (8.6, lookahead 20): valid, the counter jumps by 20 and the
 * failure count is reset by the possession_knowledge success. */
static void test_sig_lookahead(void)
{
    struct _pa3__VerifySignatureResponse r;
    LONG64 before = srv_counter;
    signed_req s;

    for (int i = 0; i < 19; i++)
        (void)device_sign(PA_SIG_POSSESSION_KNOWLEDGE, 1);
    s = device_sign(PA_SIG_POSSESSION_KNOWLEDGE, 1);
    CU_ASSERT_EQUAL(s.counter, before + 19);
    r = verify(s.data, s.signature, PK, s.version);
    VERDICT("at c+19", r, 1, PK, MAX_FAILED, ACTIVE, NULL);
    server_moved();
    CU_ASSERT_EQUAL(srv_counter, before + 20);
    expect_row("signature_ok", 1, PK, "3.1", s.data, act_secret, s.signature, ACTIVE);
    sig_status(0, ACTIVE);
}

/* Wrong signatures: remainingAttempts goes down by one per failure that is
 * not possession-only; a success gives all attempts back. */
static void test_sig_wrong(void)
{
    struct _pa3__VerifySignatureResponse r;
    signed_req s = device_sign(PA_SIG_POSSESSION_KNOWLEDGE, 0);
    char *bad = flipped(s.signature, 0);

    r = verify(s.data, bad, PK, "3.1");
    VERDICT("wrong 1", r, 0, PK, MAX_FAILED - 1, ACTIVE, NULL);
    expect_row("signature_does_not_match", 0, PK, "3.1", s.data, act_secret, bad, ACTIVE);
    bad = flipped(s.signature, 30);
    r = verify(s.data, bad, PK, "3.1");
    VERDICT("wrong 2", r, 0, PK, MAX_FAILED - 2, ACTIVE, NULL);
    expect_row("signature_does_not_match", 0, PK, "3.1", s.data, act_secret, bad, ACTIVE);
    /* the right signature under another type is wrong too (and counts) */
    r = verify(s.data, s.signature, pa3__SignatureType__POSSESSION_USCOREKNOWLEDGE_USCOREBIOMETRY, "3.1");
    VERDICT("wrong type", r, 0, pa3__SignatureType__POSSESSION_USCOREKNOWLEDGE_USCOREBIOMETRY,
            MAX_FAILED - 3, ACTIVE, NULL);
    expect_row("signature_does_not_match", 0,
               pa3__SignatureType__POSSESSION_USCOREKNOWLEDGE_USCOREBIOMETRY, "3.1", s.data,
               act_secret, s.signature, ACTIVE);
    s = device_sign(PA_SIG_POSSESSION, 0);
    bad = flipped(s.signature, 3);
    r = verify(s.data, bad, PO, "3.1");
    VERDICT("wrong possession", r, 0, PO, MAX_FAILED - 3, ACTIVE, NULL);
    expect_row("signature_does_not_match", 0, PO, "3.1", s.data, act_secret, bad, ACTIVE);
    sig_status(3, ACTIVE);

    /* the key of another application (8.7 step 3): a failure that counts,
     * audited over data + "&" + applicationKey, the status only */
    {
        struct _pa3__VerifySignatureRequest q;

        s = device_sign(PA_SIG_POSSESSION_KNOWLEDGE, 0);
        memset(&q, 0, sizeof q);
        q.activationId = (char *)cur_id;
        q.applicationKey = key_default;
        q.data = s.data;
        q.signature = s.signature;
        q.signatureType = TY(PK);
        q.signatureVersion = "3.1";
        CALL(VerifySignature, &q, &r);
        BOOLEAN("other application signatureValid", r.signatureValid, 0);
        STATUS("other application", r.activationStatus, ACTIVE);
        CU_ASSERT_PTR_NULL(r.activationId);
        CU_ASSERT_PTR_NULL(r.userId);
        CU_ASSERT_PTR_NULL(r.applicationId);
        CU_ASSERT_PTR_NULL(r.signatureType);
        CU_ASSERT_PTR_NULL(r.remainingAttempts);
        CU_ASSERT_PTR_NULL(r.blockedReason);
        expect_row("activation_invalid_application", 0, PK, "3.1", s.data, key_default,
                   s.signature, ACTIVE);
        sig_status(4, ACTIVE);
    }

    s = device_sign(PA_SIG_POSSESSION_KNOWLEDGE, 1);
    r = verify(s.data, s.signature, PK, "3.1");
    VERDICT("right again", r, 1, PK, MAX_FAILED, ACTIVE, NULL);
    server_moved();
    expect_row("signature_ok", 1, PK, "3.1", s.data, act_secret, s.signature, ACTIVE);
    sig_status(0, ACTIVE);
}

static void test_sig_audit(void) { check_audit(); }

/* 9: personalized payload -> the device checks the server's ECDSA
 * signature with KEY_SERVER_PUBLIC and signs in DECIMAL -> verified
 * offline; biometry only when allowed; a non-personalized payload is
 * checked with the master key; a forged payload is refused by the device. */
static void test_sig_offline(void)
{
    struct _pa3__CreatePersonalizedOfflineSignaturePayloadRequest pq;
    struct _pa3__CreatePersonalizedOfflineSignaturePayloadResponse pr;
    struct _pa3__CreateNonPersonalizedOfflineSignaturePayloadRequest nq;
    struct _pa3__CreateNonPersonalizedOfflineSignaturePayloadResponse nr;
    struct _pa3__VerifyOfflineSignatureResponse r;
    const char *data = "5ff1b1ed-a3cc-45a3-8ab0-ed60950312b6\nA1*A100CZK*ICZ2730300000001165254011\n"
                       "Pay & <confirm>";
    char prefix[512];
    signed_req s;
    audit_row *row;
    int valid = -1;

    pq.activationId = (char *)cur_id;
    pq.data = (char *)data;
    CALL(CreatePersonalizedOfflineSignaturePayload, &pq, &pr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pr.offlineData);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pr.nonce);
    CU_ASSERT_EQUAL(b64len(pr.nonce), 16);
    snprintf(prefix, sizeof prefix, "%s\n%s\n1", data, pr.nonce);      /* 9.1, indicator 1 */
    CU_ASSERT_FATAL(strncmp(pr.offlineData, prefix, strlen(prefix)) == 0);
    CU_ASSERT(b64len(pr.offlineData + strlen(prefix)) >= 8);
    s = device_offline_sign(pr.offlineData, 0, &valid);
    CU_ASSERT_EQUAL_FATAL(valid, 1);
    CU_ASSERT_EQUAL(strlen(s.signature), 17);
    CU_ASSERT(s.signature[8] == '-' && strspn(s.signature, "0123456789") == 8
              && strspn(s.signature + 9, "0123456789") == 8);
    r = verify_offline(&s, s.signature, 0);
    VERDICT("offline", r, 1, PK, MAX_FAILED, ACTIVE, NULL);
    server_moved();
    expect_row("signature_ok", 1, PK, NULL, s.data, "offline", s.signature, ACTIVE);

    /* biometry: not allowed -> invalid (counts as possession_knowledge) */
    CALL(CreatePersonalizedOfflineSignaturePayload, &pq, &pr);
    s = device_offline_sign(pr.offlineData, 1, &valid);
    CU_ASSERT_EQUAL_FATAL(valid, 1);
    r = verify_offline(&s, s.signature, 0);
    VERDICT("offline biometry not allowed", r, 0, PK, MAX_FAILED - 1, ACTIVE, NULL);
    expect_row("signature_does_not_match", 0, PK, NULL, s.data, "offline", s.signature, ACTIVE);
    /* ... allowed: valid at the same position, type possession_biometry */
    r = verify_offline(&s, s.signature, 1);
    VERDICT("offline biometry allowed", r, 1, PB, MAX_FAILED, ACTIVE, NULL);
    server_moved();
    expect_row("signature_ok", 1, PB, NULL, s.data, "offline", s.signature, ACTIVE);
    sig_status(0, ACTIVE);

    /* a wrong signature with biometry allowed: BIOMETRY_ALLOWED in the audit */
    CALL(CreatePersonalizedOfflineSignaturePayload, &pq, &pr);
    s = device_offline_sign(pr.offlineData, 0, &valid);
    CU_ASSERT_EQUAL_FATAL(valid, 1);
    r = verify_offline(&s, flipped(s.signature, 12), 1);
    VERDICT("offline wrong", r, 0, PK, MAX_FAILED - 1, ACTIVE, NULL);
    row = expect_row("signature_does_not_match", 0, PK, NULL, s.data, "offline",
                     flipped(s.signature, 12), ACTIVE);
    add_info(row, "BIOMETRY_ALLOWED", "TRUE");

    /* non-personalized: indicator 0, master key; the device signed one
     * payload the server never saw, the lookahead absorbs it */
    nq.applicationId = L(act_app);
    nq.data = (char *)data;
    CALL(CreateNonPersonalizedOfflineSignaturePayload, &nq, &nr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(nr.offlineData);
    CU_ASSERT_PTR_NOT_NULL_FATAL(nr.nonce);
    snprintf(prefix, sizeof prefix, "%s\n%s\n0", data, nr.nonce);
    CU_ASSERT_FATAL(strncmp(nr.offlineData, prefix, strlen(prefix)) == 0);
    s = device_offline_sign(nr.offlineData, 0, &valid);
    CU_ASSERT_EQUAL_FATAL(valid, 1);
    r = verify_offline(&s, s.signature, 0);
    VERDICT("offline non-personalized", r, 1, PK, MAX_FAILED, ACTIVE, NULL);
    server_moved();
    expect_row("signature_ok", 1, PK, NULL, s.data, "offline", s.signature, ACTIVE);
    sig_status(0, ACTIVE);

    /* forged payloads: the device refuses to sign */
    {
        char *forged = soap_strdup(soap, pr.offlineData);

        forged[0] = forged[0] == '5' ? '6' : '5';
        (void)device_offline_sign(forged, 0, &valid);
        CU_ASSERT_EQUAL(valid, 0);
        forged = soap_strdup(soap, nr.offlineData);
        forged[strlen(prefix) - 1] = '1';       /* master-key signature, indicator 1 */
        (void)device_offline_sign(forged, 0, &valid);
        CU_ASSERT_EQUAL(valid, 0);
    }

    /* unknown activation: no payload (ERR0009); its verification is
     * not a fault but REMOVED (8.7 step 1) */
    pq.activationId = (char *)NO_SUCH_ACTIVATION;
    FAULT(CreatePersonalizedOfflineSignaturePayload, &pq, &pr, "ERR0009");
    {
        struct _pa3__VerifyOfflineSignatureRequest q = {(char *)NO_SUCH_ACTIVATION, s.data,
                                                        s.signature, BOOL(0)};

        CALL(VerifyOfflineSignature, &q, &r);
        BOOLEAN("offline, unknown activation", r.signatureValid, 0);
        STATUS("offline, unknown activation", r.activationStatus, pa3__ActivationStatus__REMOVED);
    }
}

/* The device's vault-unlock request as the SOAP request (11.2). */
static void vault_request(const char *reason, pa_sig_type t, struct _pa3__VaultUnlockRequest *q)
{
    pa_device_vault_req v;
    pa_err e = pa_device_vault_request(dev, reason, t, 1, &v);

    memset(q, 0, sizeof *q);
    if (e == PA_OK) {
        q->activationId = (char *)cur_id;
        q->applicationKey = act_key;
        q->signedData = soap_strdup(soap, v.sig.data_string);
        q->signature = soap_strdup(soap, v.sig.signature);
        q->signatureType = TY(soap_type(t));
        q->signatureVersion = soap_strdup(soap, v.sig.version);
        q->ephemeralPublicKey = b64(v.c.eph, v.c.eph_len);
        q->encryptedData = b64(v.c.data, v.c.data_len);
        q->mac = b64(v.c.mac, sizeof v.c.mac);
        q->nonce = v.c.has_nonce ? b64(v.c.nonce, sizeof v.c.nonce) : NULL;
        CU_ASSERT_EQUAL(v.c.has_nonce, dev->protocol == PA_DEVICE_P31);
    }
    pa_device_vault_request_free(&v);
    CU_ASSERT_EQUAL_FATAL(e, PA_OK);
}

/* The device reads the vault answer; returns whether it got its key. */
static int vault_answer(const struct _pa3__VaultUnlockResponse *r)
{
    uint8_t *ct, *mac;
    size_t n, mac_len;
    int unlocked = -1;
    pa_err e;

    ct = unb64(r->encryptedData, &n);
    mac = unb64(r->mac, &mac_len);
    CU_ASSERT_FATAL(ct != NULL && n > 0 && mac != NULL && mac_len == 32);
    e = pa_device_vault_response(dev, ct, n, mac, mac_len, &unlocked);
    if (e != PA_OK)
        fprintf(stderr, "\n  device cannot read the vault answer: %s\n", pa_err_name(e));
    CU_ASSERT_EQUAL_FATAL(e, PA_OK);
    return unlocked;
}

/* 11.2: a wrong signature gets the encrypted null, a right one the
 * device's vault key; both are audited with the reason. */
static void test_sig_vault(void)
{
    struct _pa3__VaultUnlockRequest q;
    struct _pa3__VaultUnlockResponse r;
    audit_row *row;

    vault_request("FETCH_ENCRYPTION_KEY", PA_SIG_POSSESSION_KNOWLEDGE, &q);
    q.signature = flipped(q.signature, 5);
    CALL(VaultUnlock, &q, &r);
    BOOLEAN("VaultUnlock, wrong signature", r.signatureValid, 0);
    CU_ASSERT_EQUAL(vault_answer(&r), 0);
    row = expect_row("signature_does_not_match", 0, PK, "3.1", q.signedData, act_secret,
                     q.signature, ACTIVE);
    add_info(row, "VAULT_UNLOCKED_REASON", "FETCH_ENCRYPTION_KEY");

    /* no reason: {} -> NOT_SPECIFIED; one request the server never
     * accepted lies between, the lookahead absorbs it */
    vault_request(NULL, PA_SIG_POSSESSION_KNOWLEDGE, &q);
    CALL(VaultUnlock, &q, &r);
    BOOLEAN("VaultUnlock", r.signatureValid, 1);
    CU_ASSERT_EQUAL(vault_answer(&r), 1);
    server_moved();
    row = expect_row("signature_ok", 1, PK, "3.1", q.signedData, act_secret, q.signature, ACTIVE);
    add_info(row, "VAULT_UNLOCKED_REASON", "NOT_SPECIFIED");

    vault_request("ADD_BIOMETRY", PA_SIG_POSSESSION_KNOWLEDGE, &q);
    CALL(VaultUnlock, &q, &r);
    BOOLEAN("VaultUnlock ADD_BIOMETRY", r.signatureValid, 1);
    CU_ASSERT_EQUAL(vault_answer(&r), 1);
    server_moved();
    row = expect_row("signature_ok", 1, PK, "3.1", q.signedData, act_secret, q.signature, ACTIVE);
    add_info(row, "VAULT_UNLOCKED_REASON", "ADD_BIOMETRY");
    sig_status(0, ACTIVE);
}

/* ValidateToken with the device's digest over a fresh nonce (10.2); tamper
 * sends a digest with one bit changed. */
static struct _pa3__ValidateTokenRequest token_request(const char *id, int64_t ts, int tamper)
{
    struct _pa3__ValidateTokenRequest q;
    uint8_t nonce[16], digest[PA_TOKEN_DIGEST_LEN];

    CU_ASSERT_EQUAL_FATAL(pa_random(nonce, sizeof nonce), PA_OK);
    if (pa_device_token_find(dev, id) != NULL) {
        CU_ASSERT_EQUAL_FATAL(pa_device_token_digest(dev, id, nonce, ts, digest), PA_OK);
    } else {
        CU_ASSERT_EQUAL_FATAL(pa_random(digest, sizeof digest), PA_OK);
    }
    if (tamper)
        digest[tamper % PA_TOKEN_DIGEST_LEN] ^= 0x01;
    q.tokenId = soap_strdup(soap, id);
    q.tokenDigest = b64(digest, sizeof digest);
    q.nonce = b64(nonce, sizeof nonce);
    q.timestamp = L(ts);
    return q;
}

static int validate(const char *what, const char *id, int64_t ts, int tamper)
{
    struct _pa3__ValidateTokenRequest q = token_request(id, ts, tamper);
    struct _pa3__ValidateTokenResponse r;

    CALL(ValidateToken, &q, &r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.tokenValid);
    if (is_true(r.tokenValid)) {
        SAME(what, r.activationId, cur_id);
        SAME(what, r.userId, cur_user);
        CU_ASSERT(r.applicationId != NULL && *r.applicationId == act_app);
        TYPE(what, r.signatureType, PK);
    } else {        /* tokenValid = false only (10.3) */
        CU_ASSERT_PTR_NULL(r.activationId);
        CU_ASSERT_PTR_NULL(r.userId);
        CU_ASSERT_PTR_NULL(r.applicationId);
        CU_ASSERT_PTR_NULL(r.signatureType);
    }
    return is_true(r.tokenValid);
}

/* 10: CreateToken -> the device reads its token -> ValidateToken with its
 * digest -> RemoveToken. */
static char *create_token(void)
{
    pa_ecies_cryptogram cg;
    struct _pa3__CreateTokenRequest cq;
    struct _pa3__CreateTokenResponse cr;
    const pa_device_token *tok = NULL;
    uint8_t *ct, *mac;
    size_t n, mac_len;
    pa_err e = pa_device_token_request(dev, 1, &cg);

    memset(&cq, 0, sizeof cq);
    if (e == PA_OK) {
        cq.ephemeralPublicKey = b64(cg.eph, cg.eph_len);
        cq.encryptedData = b64(cg.data, cg.data_len);
        cq.mac = b64(cg.mac, sizeof cg.mac);
        cq.nonce = cg.has_nonce ? b64(cg.nonce, sizeof cg.nonce) : NULL;
    }
    pa_ecies_cryptogram_free(&cg);
    CU_ASSERT_EQUAL_FATAL(e, PA_OK);
    cq.activationId = (char *)cur_id;
    cq.applicationKey = act_key;
    cq.signatureType = TY(PK);
    CALL(CreateToken, &cq, &cr);
    ct = unb64(cr.encryptedData, &n);
    mac = unb64(cr.mac, &mac_len);
    CU_ASSERT_FATAL(ct != NULL && n > 0 && mac != NULL && mac_len == 32);
    e = pa_device_token_response(dev, ct, n, mac, mac_len, &tok);
    if (e != PA_OK)
        fprintf(stderr, "\n  device cannot read the token: %s\n", pa_err_name(e));
    CU_ASSERT_EQUAL_FATAL(e, PA_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    CU_ASSERT(is_uuid4(tok->id));
    return soap_strdup(soap, tok->id);
}

static void test_sig_tokens(void)
{
    struct _pa3__RemoveTokenRequest rq;
    struct _pa3__RemoveTokenResponse rr;
    struct _pa3__ValidateTokenRequest vq;
    struct _pa3__ValidateTokenResponse vr;
    char *id = create_token();
    int64_t now = now_ms();

    CU_ASSERT(validate("ValidateToken", id, now, 0));
    CU_ASSERT(validate("ValidateToken again (no replay protection)", id, now, 0));
    CU_ASSERT(!validate("ValidateToken, wrong digest", id, now, 7));
    CU_ASSERT(validate("ValidateToken, in the future", id, now + 3600 * 1000LL, 0));
    CU_ASSERT(validate("ValidateToken, 1 h 58 min old", id, now - 7080 * 1000LL, 0));
    CU_ASSERT(!validate("ValidateToken, unknown token", NO_SUCH_ACTIVATION, now, 0));
    /* the digest covers nonce and timestamp */
    vq = token_request(id, now, 0);
    vq.timestamp = L(now + 1);
    CALL(ValidateToken, &vq, &vr);
    BOOLEAN("ValidateToken, other timestamp", vr.tokenValid, 0);
    vq = token_request(id, now, 0);
    vq.nonce = token_request(id, now, 0).nonce;
    CALL(ValidateToken, &vq, &vr);
    BOOLEAN("ValidateToken, other nonce", vr.tokenValid, 0);
    /* older than 2 h: ERR0030 even with the right digest (10.3 step 1) */
    vq = token_request(id, now - 3 * 3600 * 1000LL, 0);
    FAULT(ValidateToken, &vq, &vr, "ERR0030");

    rq.tokenId = id;
    rq.activationId = (char *)NO_SUCH_ACTIVATION;    /* not its activation */
    CALL(RemoveToken, &rq, &rr);
    BOOLEAN("RemoveToken, other activation", rr.removed, 0);
    CU_ASSERT(validate("ValidateToken, still there", id, now_ms(), 0));
    rq.activationId = (char *)cur_id;
    CALL(RemoveToken, &rq, &rr);
    BOOLEAN("RemoveToken", rr.removed, 1);
    CALL(RemoveToken, &rq, &rr);
    BOOLEAN("RemoveToken again", rr.removed, 0);
    CU_ASSERT(!validate("ValidateToken, removed", id, now_ms(), 0));
}

/* 5.9: the device's generic request, decrypted by a third party with the
 * envelope key the server hands out, and the third party's answer read by
 * the device; activation_scope selects the scope. */
static void ecies_third_party(int activation_scope)
{
    static const char plain[] = "{\"operation\":\"third party\",\"amount\":\"1.00\"}";
    static const char answer[] = "{\"status\":\"OK\"}";
    struct _pa3__GetEciesDecryptorRequest q;
    struct _pa3__GetEciesDecryptorResponse r;
    pa_ecies_cryptogram cg;
    pa_ecies_ctx ctx;
    pa_derived_keys k;
    uint8_t *data = NULL, *mac = NULL, *nonce = NULL, *env, *sh2, want[32];
    uint8_t *got = NULL, *back = NULL, *ct = NULL, rmac[PA_ECIES_MAC_LEN];
    size_t data_len = 0, env_len, sh2_len, got_len = 0, back_len = 0, ct_len = 0;
    int nonce_ok = 0, decrypted, same_plain, answered, same_answer;
    pa_err e;

    e = pa_device_ecies_request(dev, activation_scope,
                                activation_scope ? PA_ECIES_SH1_GENERIC_ACTIVATION
                                                 : PA_ECIES_SH1_GENERIC_APPLICATION,
                                (const uint8_t *)plain, strlen(plain), 1, &cg);
    memset(&q, 0, sizeof q);
    if (e == PA_OK) {
        q.ephemeralPublicKey = b64(cg.eph, cg.eph_len);
        data = soap_malloc(soap, cg.data_len);
        memcpy(data, cg.data, cg.data_len);
        data_len = cg.data_len;
        mac = soap_malloc(soap, sizeof cg.mac);
        memcpy(mac, cg.mac, sizeof cg.mac);
        nonce = soap_malloc(soap, sizeof cg.nonce);
        memcpy(nonce, cg.nonce, sizeof cg.nonce);
        nonce_ok = cg.has_nonce;
    }
    pa_ecies_cryptogram_free(&cg);
    CU_ASSERT_EQUAL_FATAL(e, PA_OK);
    CU_ASSERT(nonce_ok);
    q.applicationKey = act_key;
    q.activationId = activation_scope ? (char *)cur_id : NULL;
    CALL(GetEciesDecryptor, &q, &r);
    env = unb64(r.secretKey, &env_len);
    sh2 = unb64(r.sharedInfo2, &sh2_len);
    CU_ASSERT_FATAL(env != NULL && env_len == PA_ECIES_ENV_LEN);   /* all 48 bytes */
    CU_ASSERT_FATAL(sh2 != NULL && sh2_len == 32);
    if (activation_scope) {
        CU_ASSERT_EQUAL_FATAL(pa_device_keys(dev, &k), PA_OK);
        e = pa_ecies_sh2_activation(k.transport, act_secret, want);
        pa_keys_wipe(&k);
    } else {
        e = pa_ecies_sh2_application(act_secret, want);
    }
    CU_ASSERT_EQUAL_FATAL(e, PA_OK);
    CU_ASSERT(memcmp(sh2, want, 32) == 0);

    /* the third party: context from the envelope key, the request's nonce */
    e = pa_ecies_ctx_from_envelope(env, sh2, sh2_len, nonce, 16, &ctx);
    CU_ASSERT_EQUAL_FATAL(e, PA_OK);
    decrypted = pa_ecies_ctx_decrypt(&ctx, data, data_len, mac, 32, &got, &got_len) == PA_OK;
    same_plain = decrypted && got_len == strlen(plain) && memcmp(got, plain, got_len) == 0;
    answered = pa_ecies_encrypt_response(&ctx, (const uint8_t *)answer, strlen(answer), &ct,
                                         &ct_len, rmac) == PA_OK;
    pa_ecies_ctx_wipe(&ctx);
    if (decrypted)
        pa_secure_free(got, got_len);
    /* the device reads the third party's answer */
    e = answered ? pa_device_ecies_response(dev, ct, ct_len, rmac, sizeof rmac, &back, &back_len)
                 : PA_ERR_ENCRYPTION_FAILED;
    free(ct);
    same_answer = e == PA_OK && back_len == strlen(answer) && memcmp(back, answer, back_len) == 0;
    if (e == PA_OK)
        pa_secure_free(back, back_len);
    CU_ASSERT(decrypted);
    CU_ASSERT(same_plain);
    CU_ASSERT(answered);
    CU_ASSERT_EQUAL(e, PA_OK);
    CU_ASSERT(same_answer);
}

static void test_sig_ecies(void)
{
    struct _pa3__GetEciesDecryptorRequest q;
    struct _pa3__GetEciesDecryptorResponse r;
    uint8_t eph[PA_EC_PUB_LEN];

    ecies_third_party(0);
    ecies_third_party(1);
    /* an unknown application key: ERR0015 (5.9 step 1) */
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_export(dev->master_pub, eph), PA_OK);
    q.activationId = NULL;
    q.applicationKey = "AAAAAAAAAAAAAAAAAAAAAA==";
    q.ephemeralPublicKey = b64(eph, sizeof eph);
    FAULT(GetEciesDecryptor, &q, &r, "ERR0015");
    /* activation scope with an unknown activation: ERR0009 */
    q.applicationKey = act_key;
    q.activationId = (char *)NO_SUCH_ACTIVATION;
    FAULT(GetEciesDecryptor, &q, &r, "ERR0009");
}

/* 8.9: an ECDSA signature by the device's private key. */
static void test_sig_ecdsa(void)
{
    static const char msg[] = "sign me with KEY_DEVICE_PRIVATE";
    struct _pa3__VerifyECDSASignatureRequest q;
    struct _pa3__VerifyECDSASignatureResponse r;
    uint8_t sig[PA_ECDSA_MAX];
    size_t siglen = 0;

    CU_ASSERT_EQUAL_FATAL(pa_ec_sign(dev->device_key, (const uint8_t *)msg, strlen(msg), sig,
                                     &siglen), PA_OK);
    q.activationId = (char *)cur_id;
    q.data = b64text(msg);
    q.signature = b64(sig, siglen);
    CALL(VerifyECDSASignature, &q, &r);
    BOOLEAN("VerifyECDSASignature", r.signatureValid, 1);
    q.data = b64text("other data");
    CALL(VerifyECDSASignature, &q, &r);
    BOOLEAN("VerifyECDSASignature, other data", r.signatureValid, 0);
    q.activationId = (char *)NO_SUCH_ACTIVATION;
    q.data = b64text(msg);
    CALL(VerifyECDSASignature, &q, &r);
    BOOLEAN("VerifyECDSASignature, unknown activation", r.signatureValid, 0);
    q.activationId = (char *)cur_id;
    q.signature = b64text("not DER at all");
    FAULT(VerifyECDSASignature, &q, &r, "ERR0022");
}

/* Faults through this client; none of them writes an audit row. */
static void test_sig_faults(void)
{
    struct _pa3__VerifySignatureRequest q;
    struct _pa3__VerifySignatureResponse r;
    struct _pa3__VaultUnlockRequest vq;
    struct _pa3__VaultUnlockResponse vr;
    struct _pa3__ValidateTokenRequest tq;
    struct _pa3__ValidateTokenResponse tr;
    signed_req s = device_sign(PA_SIG_POSSESSION_KNOWLEDGE, 0);

    memset(&q, 0, sizeof q);
    q.activationId = (char *)cur_id;
    q.applicationKey = act_key;
    q.data = s.data;
    q.signature = s.signature;
    q.signatureType = TY(PK);
    q.signatureVersion = "1.0";                     /* 8.5 */
    FAULT(VerifySignature, &q, &r, "ERR0013");
    q.signatureVersion = "3.10";
    FAULT(VerifySignature, &q, &r, "ERR0013");

    /* only POSSESSION_KNOWLEDGE unlocks the vault (11.2 step 1; biometry
     * is off by default) */
    vault_request(NULL, PA_SIG_KNOWLEDGE, &vq);
    FAULT(VaultUnlock, &vq, &vr, "ERR0012");
    vault_request(NULL, PA_SIG_POSSESSION_BIOMETRY, &vq);
    FAULT(VaultUnlock, &vq, &vr, "ERR0012");

    /* a timestamp 3 h old: ERR0030 before the token is looked up */
    tq = token_request(NO_SUCH_ACTIVATION, now_ms() - 3 * 3600 * 1000LL, 0);
    FAULT(ValidateToken, &tq, &tr, "ERR0030");

    /* an unknown activation is no fault: REMOVED, nothing else (8.7 step 1) */
    q.activationId = (char *)NO_SUCH_ACTIVATION;
    q.signatureVersion = "3.1";
    CALL(VerifySignature, &q, &r);
    BOOLEAN("unknown activation signatureValid", r.signatureValid, 0);
    STATUS("unknown activation", r.activationStatus, pa3__ActivationStatus__REMOVED);
    CU_ASSERT_PTR_NULL(r.activationId);
    CU_ASSERT_PTR_NULL(r.remainingAttempts);

    check_audit();      /* nothing was written */
}

/* A 3.0 SDK: DECIMAL online signatures (8.5).  The same signature sent as
 * 3.1 does not match (BASE64 expected), as 3.0 it does.  Then failures
 * until the activation is blocked (MAX_FAILED_ATTEMPTS, 8.7), after which
 * even a right signature is refused (activation_invalid_state). */
static void test_sig_v30(void)
{
    struct _pa3__VerifySignatureResponse r;
    expect_activation x;
    signed_req s;
    audit_row *row;

    activate("3.0", "sig30", 0, user30, sizeof user30, id30, sizeof id30);
    s = device_sign(PA_SIG_POSSESSION_KNOWLEDGE, 1);
    SAME("signatureVersion", s.version, "3.0");
    CU_ASSERT_EQUAL(strlen(s.signature), 17);
    CU_ASSERT(s.signature[8] == '-' && strspn(s.signature, "0123456789") == 8);
    r = verify(s.data, s.signature, PK, "3.1");
    VERDICT("DECIMAL sent as 3.1", r, 0, PK, MAX_FAILED - 1, ACTIVE, NULL);
    expect_row("signature_does_not_match", 0, PK, "3.1", s.data, act_secret, s.signature, ACTIVE);
    r = verify(s.data, s.signature, PK, "3.0");
    VERDICT("DECIMAL 3.0", r, 1, PK, MAX_FAILED, ACTIVE, NULL);
    server_moved();
    expect_row("signature_ok", 1, PK, "3.0", s.data, act_secret, s.signature, ACTIVE);

    s = device_sign(PA_SIG_POSSESSION_KNOWLEDGE, 0);
    for (int i = 1; i <= MAX_FAILED; i++) {
        char *bad = flipped(s.signature, (size_t)i);
        int blocked = i == MAX_FAILED;

        r = verify(s.data, bad, PK, "3.0");
        VERDICT("wrong 3.0", r, 0, PK, MAX_FAILED - i, blocked ? BLOCKED : ACTIVE,
                blocked ? "MAX_FAILED_ATTEMPTS" : NULL);
        row = expect_row("signature_does_not_match", 0, PK, "3.0", s.data, act_secret, bad,
                         blocked ? BLOCKED : ACTIVE);
        if (blocked)
            add_info(row, "BLOCKED_REASON", "MAX_FAILED_ATTEMPTS");
    }
    /* blocked: the right signature is refused, only the status is said */
    r = verify(s.data, s.signature, PK, "3.0");
    BOOLEAN("blocked signatureValid", r.signatureValid, 0);
    STATUS("blocked", r.activationStatus, BLOCKED);
    expect_row("activation_invalid_state", 0, PK, "3.0", s.data, act_secret, s.signature, BLOCKED);
    check_audit();

    memset(&x, 0, sizeof x);
    x.id = id30;
    x.user = user30;
    x.name = "signing phone";
    x.platform = "unknown";
    x.blocked = "MAX_FAILED_ATTEMPTS";
    x.otp_mode = pa3__ActivationOtpValidation__NONE;
    x.failed = MAX_FAILED;
    x.max_failed = MAX_FAILED;
    check_status(&x, BLOCKED, 0);
    {
        const history_row h[] = {
            {BLOCKED, "MAX_FAILED_ATTEMPTS", NULL},
            {ACTIVE, NULL, OPS},
            {pa3__ActivationStatus__PENDING_USCORECOMMIT, NULL, NULL},
            {pa3__ActivationStatus__CREATED, NULL, NULL},
        };
        check_history(id30, h, 4);
    }
}

/* 8.7, "consequences worth testing": UpdateStatusForActivations makes the
 * blocked activation ACTIVE again but keeps its failure count (and its
 * blockedReason, DATABASE.md 3).  A valid possession-only signature is
 * accepted without resetting the count; a failed one does not count, yet
 * the blocking check runs and blocks it again. */
static void test_sig_limit(void)
{
    struct _pa3__UpdateStatusForActivationsRequest uq;
    struct _pa3__UpdateStatusForActivationsResponse ur;
    struct _pa3__VerifySignatureResponse r;
    struct _pa3__ValidateTokenRequest tq;
    struct _pa3__ValidateTokenResponse tr;
    struct _pa3__VaultUnlockRequest vq;
    struct _pa3__VaultUnlockResponse vr;
    enum pa3__ActivationStatus *active = soap_malloc(soap, sizeof *active);
    expect_activation x;
    signed_req s;
    audit_row *row;
    char *bad, *token;

    CU_ASSERT_FATAL(cur_id == id30 && sig_nrows > 0);
    *active = ACTIVE;
    uq.__sizeactivationIds = 1;
    uq.activationIds = soap_malloc(soap, sizeof(char *));
    uq.activationIds[0] = id30;
    uq.activationStatus = active;
    CALL(UpdateStatusForActivations, &uq, &ur);
    CU_ASSERT(is_true(ur.updated));

    s = device_sign(PA_SIG_POSSESSION, 1);
    r = verify(s.data, s.signature, PO, "3.0");
    VERDICT("possession at the limit", r, 1, PO, MAX_FAILED, ACTIVE, NULL);
    server_moved();
    expect_row("signature_ok", 1, PO, "3.0", s.data, act_secret, s.signature, ACTIVE);
    memset(&x, 0, sizeof x);
    x.id = id30;
    x.user = user30;
    x.name = "signing phone";
    x.platform = "unknown";
    x.blocked = "MAX_FAILED_ATTEMPTS";
    x.otp_mode = pa3__ActivationOtpValidation__NONE;
    x.failed = MAX_FAILED;
    x.max_failed = MAX_FAILED;
    check_status(&x, ACTIVE, 0);
    /* a token of the 3.0 SDK (ECIES without nonce) while ACTIVE */
    token = create_token();
    CU_ASSERT(validate("ValidateToken 3.0", token, now_ms(), 0));

    s = device_sign(PA_SIG_POSSESSION, 0);
    bad = flipped(s.signature, 2);
    r = verify(s.data, bad, PO, "3.0");
    VERDICT("possession failure at the limit", r, 0, PO, 0, BLOCKED, "MAX_FAILED_ATTEMPTS");
    row = expect_row("signature_does_not_match", 0, PO, "3.0", s.data, act_secret, bad, BLOCKED);
    add_info(row, "BLOCKED_REASON", "MAX_FAILED_ATTEMPTS");
    check_audit();
    check_status(&x, BLOCKED, 0);
    {
        const history_row h[] = {
            {BLOCKED, "MAX_FAILED_ATTEMPTS", NULL},
            {ACTIVE, NULL, NULL},
            {BLOCKED, "MAX_FAILED_ATTEMPTS", NULL},
            {ACTIVE, NULL, OPS},
            {pa3__ActivationStatus__PENDING_USCORECOMMIT, NULL, NULL},
            {pa3__ActivationStatus__CREATED, NULL, NULL},
        };
        check_history(id30, h, 6);
    }
    /* blocked: the token is refused with ERR0008 (10.3 step 3), the vault
     * says signatureValid false only, without an audit row (11.2 step 2) */
    tq = token_request(token, now_ms(), 0);
    FAULT(ValidateToken, &tq, &tr, "ERR0008");
    vault_request(NULL, PA_SIG_POSSESSION_KNOWLEDGE, &vq);
    CALL(VaultUnlock, &vq, &vr);
    BOOLEAN("VaultUnlock while blocked", vr.signatureValid, 0);
    CU_ASSERT_PTR_NULL(vr.encryptedData);
    CU_ASSERT_PTR_NULL(vr.mac);
    check_audit();
}


/* ---- main ------------------------------------------------------------------- */

typedef struct { const char *name; CU_TestFunc fn; } test_def;

static int add_suite_with(const char *name, const test_def *tests, CU_CleanupFunc clean)
{
    CU_pSuite s = CU_add_suite(name, suite_init, clean);

    if (s == NULL)
        return -1;
    for (; tests->name; tests++)
        if (CU_add_test(s, tests->name, tests->fn) == NULL)
            return -1;
    return 0;
}

static int add_suite(const char *name, const test_def *tests)
{
    return add_suite_with(name, tests, suite_clean);
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
    static const test_def act_tests[] = {
        {"application for activations", test_activation_app},
        {"activation lifecycle 3.1, compressed keys", test_activation_v31},
        {"activation lifecycle 3.0, uncompressed ephemeral key", test_activation_v30},
        {"CreateActivation (custom) with OTP", test_custom_activation},
        {"activation faults", test_activation_faults},
        {NULL, NULL},
    };
    static const test_def sig_tests[] = {
        {"application and activation 3.1", test_sig_activate},
        {"VerifySignature valid: possession_knowledge, possession", test_sig_valid},
        {"replayed signatures are invalid", test_sig_replay},
        {"lookahead: a signature at c+19", test_sig_lookahead},
        {"wrong signatures: remainingAttempts decreasing", test_sig_wrong},
        {"SignatureAudit newest first", test_sig_audit},
        {"offline signatures (personalized, biometry, non-personalized)", test_sig_offline},
        {"VaultUnlock: the device recovers its vault key", test_sig_vault},
        {"CreateToken, ValidateToken, RemoveToken", test_sig_tokens},
        {"GetEciesDecryptor for a third party", test_sig_ecies},
        {"VerifyECDSASignature", test_sig_ecdsa},
        {"signature faults", test_sig_faults},
        {"3.0: DECIMAL once, then blocked by failures", test_sig_v30},
        {"possession-only at the failure limit", test_sig_limit},
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
        || add_suite("integrations", int_tests) || add_suite("callbacks", cb_tests)
        || add_suite_with("activation", act_tests, act_suite_clean)
        || add_suite_with("signatures", sig_tests, act_suite_clean)) {
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
