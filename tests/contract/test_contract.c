/*
 * test_contract.c - checks wsdl/serviceV3.wsdl, serviceV2.wsdl and
 * powerAuthV3.xsd, powerAuthV2.xsd against the contract's fact tables.
 *
 * Clients bind to the WSDL we serve, so every operation, element, field,
 * type, cardinality and order in it must be what ../shared/contract says.
 * Each difference is printed as one line; the altered-copy tests prove the
 * comparison does find differences (a check that cannot fail checks nothing).
 *
 * Environment (set by `make check`): PA_SHARED (the shared directory; the
 * tables are in $PA_SHARED/contract) and PA_SRCDIR (the project root, for
 * wsdl/).  Without them: PA_SRCDIR=. and PA_SHARED=$PA_SRCDIR/../shared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "tests/contract/contract.h"

typedef struct {
    const char *version;   /* "v3" */
    const char *wsdl_name; /* "serviceV3.wsdl" */
    const char *xsd_name;  /* "powerAuthV3.xsd" */
    ct_contract contract;
    char *wsdl;
    size_t wsdl_len;
    char *xsd;
    size_t xsd_len;
} version_data;

static version_data g_v3 = { "v3", "serviceV3.wsdl", "powerAuthV3.xsd", { 0 }, 0, 0, 0, 0 };
static version_data g_v2 = { "v2", "serviceV2.wsdl", "powerAuthV2.xsd", { 0 }, 0, 0, 0, 0 };

static void print_lines(const ct_lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        printf("    %s\n", l->v[i]);
}

static const char *srcdir(void)
{
    const char *s = getenv("PA_SRCDIR");

    return s && *s ? s : ".";
}

static void contract_dir(char *out, size_t outsz)
{
    const char *shared = getenv("PA_SHARED");

    if (shared && *shared)
        snprintf(out, outsz, "%s/contract", shared);
    else
        snprintf(out, outsz, "%s/../shared/contract", srcdir());
}

static int load_version(version_data *d)
{
    char dir[1024], path[1024];
    ct_lines errors;
    int rc;

    contract_dir(dir, sizeof(dir));
    ct_lines_init(&errors);
    rc = ct_contract_load(dir, d->version, &d->contract, &errors);
    print_lines(&errors);
    ct_lines_free(&errors);
    snprintf(path, sizeof(path), "%s/wsdl/%s", srcdir(), d->wsdl_name);
    d->wsdl = ct_read_file(path, &d->wsdl_len);
    if (!d->wsdl)
        printf("    cannot read %s\n", path);
    snprintf(path, sizeof(path), "%s/wsdl/%s", srcdir(), d->xsd_name);
    d->xsd = ct_read_file(path, &d->xsd_len);
    if (!d->xsd)
        printf("    cannot read %s\n", path);
    return rc == 0 && d->wsdl && d->xsd ? 0 : -1;
}

static void free_version(version_data *d)
{
    ct_contract_free(&d->contract);
    free(d->wsdl);
    free(d->xsd);
    d->wsdl = d->xsd = NULL;
}

static int suite_init(void)
{
    int a = load_version(&g_v3), b = load_version(&g_v2);

    return a == 0 && b == 0 ? 0 : -1;
}

static int suite_cleanup(void)
{
    free_version(&g_v3);
    free_version(&g_v2);
    return 0;
}

/* Compares a WSDL text with the contract; returns the number of differences. */
static size_t check_wsdl(const version_data *d, const char *text, ct_lines *diffs)
{
    xmlDocPtr doc = ct_parse_memory(text, strlen(text));
    ct_facts wsdl, schema;
    size_t n;

    if (!doc) {
        ct_lines_addf(diffs, "%s %s: not well-formed (or has a DTD)", d->version, d->wsdl_name);
        return 1;
    }
    ct_facts_init(&wsdl);
    ct_facts_init(&schema);
    ct_extract_wsdl(doc, d->contract.tns, &wsdl, &schema);
    n = ct_compare(&d->contract.wsdl, &wsdl, d->version, "the contract", "wsdl", diffs)
        + ct_compare(&d->contract.schema, &schema, d->version, "the contract", "wsdl", diffs);
    ct_facts_free(&wsdl);
    ct_facts_free(&schema);
    xmlFreeDoc(doc);
    return n;
}

/* Compares an XSD text with the schema embedded in a WSDL text. */
static size_t check_xsd(const version_data *d, const char *wsdl_text, const char *xsd_text,
                        ct_lines *diffs)
{
    xmlDocPtr wdoc = ct_parse_memory(wsdl_text, strlen(wsdl_text));
    xmlDocPtr xdoc = ct_parse_memory(xsd_text, strlen(xsd_text));
    ct_facts wsdl, embedded, xsd;
    size_t n = 0;

    ct_facts_init(&wsdl);
    ct_facts_init(&embedded);
    ct_facts_init(&xsd);
    if (!wdoc || !xdoc) {
        ct_lines_addf(diffs, "%s: %s or %s not well-formed", d->version, d->wsdl_name, d->xsd_name);
        n = 1;
    } else {
        ct_extract_wsdl(wdoc, d->contract.tns, &wsdl, &embedded);
        ct_extract_xsd(xdoc, d->contract.tns, &xsd);
        /* Against the embedded schema both ways, and against the tables. */
        n = ct_compare(&embedded, &xsd, d->version, "the WSDL", d->xsd_name, diffs)
            + ct_compare(&d->contract.schema, &xsd, d->version, "the contract", d->xsd_name, diffs);
    }
    ct_facts_free(&wsdl);
    ct_facts_free(&embedded);
    ct_facts_free(&xsd);
    xmlFreeDoc(wdoc);
    xmlFreeDoc(xdoc);
    return n;
}

/* --- the committed files ------------------------------------------------------ */

static void assert_wsdl_matches(const version_data *d)
{
    ct_lines diffs;

    ct_lines_init(&diffs);
    CU_ASSERT_EQUAL(check_wsdl(d, d->wsdl, &diffs), 0);
    print_lines(&diffs);
    /* Sanity: the comparison saw the whole contract, not an empty set. */
    CU_ASSERT(d->contract.schema.n > 100 && d->contract.wsdl.n > 40);
    ct_lines_free(&diffs);
}

static void assert_xsd_matches(const version_data *d)
{
    ct_lines diffs;

    ct_lines_init(&diffs);
    CU_ASSERT_EQUAL(check_xsd(d, d->wsdl, d->xsd, &diffs), 0);
    print_lines(&diffs);
    ct_lines_free(&diffs);
}

static void test_v3_wsdl(void) { assert_wsdl_matches(&g_v3); }
static void test_v2_wsdl(void) { assert_wsdl_matches(&g_v2); }
static void test_v3_xsd(void) { assert_xsd_matches(&g_v3); }
static void test_v2_xsd(void) { assert_xsd_matches(&g_v2); }

/* --- altered copies --------------------------------------------------------- */

/* A copy of text with the first `old` after `anchor` replaced by `repl`;
 * NULL when either is not found (the test then fails: the generator's
 * output no longer looks as this test expects). */
static char *mutate(const char *text, const char *anchor, const char *old, const char *repl)
{
    const char *a = strstr(text, anchor);
    const char *at = a ? strstr(a, old) : NULL;
    size_t head, len;
    char *out;

    if (!at)
        return NULL;
    head = (size_t)(at - text);
    len = strlen(text) - strlen(old) + strlen(repl);
    if (!(out = malloc(len + 1)))
        return NULL;
    memcpy(out, text, head);
    memcpy(out + head, repl, strlen(repl));
    strcpy(out + head + strlen(repl), at + strlen(old));
    return out;
}

/* mutate() applied to a copy it frees; NULL propagates. */
static char *mutate_free(char *text, const char *anchor, const char *old, const char *repl)
{
    char *out = text ? mutate(text, anchor, old, repl) : NULL;

    free(text);
    return out;
}

static char *replace_all(const char *text, const char *old, const char *repl)
{
    size_t count = 0, oldlen = strlen(old), repllen = strlen(repl);
    const char *p;
    char *out, *o;

    for (p = strstr(text, old); p; p = strstr(p + oldlen, old))
        count++;
    if (!(out = malloc(strlen(text) - count * oldlen + count * repllen + 1)))
        return NULL;
    for (o = out; (p = strstr(text, old)); text = p + oldlen) {
        memcpy(o, text, (size_t)(p - text));
        o += p - text;
        memcpy(o, repl, repllen);
        o += repllen;
    }
    strcpy(o, text);
    return out;
}

static char *replace_all_free(char *text, const char *old, const char *repl)
{
    char *out = text ? replace_all(text, old, repl) : NULL;

    free(text);
    return out;
}

/* Checks an altered WSDL and asserts that `expect` is among the differences. */
static void expect_diff(const version_data *d, char *altered, const char *expect)
{
    ct_lines diffs;

    CU_ASSERT_PTR_NOT_NULL_FATAL(altered);
    ct_lines_init(&diffs);
    CU_ASSERT(check_wsdl(d, altered, &diffs) > 0);
    CU_ASSERT(ct_lines_contains(&diffs, expect));
    if (!ct_lines_contains(&diffs, expect)) {
        printf("\n    expected the line: %s\n    got:\n", expect);
        print_lines(&diffs);
    }
    ct_lines_free(&diffs);
    free(altered);
}

static void test_altered_wsdl_field(void)
{
    const char *w = g_v3.wsdl;

    expect_diff(&g_v3, mutate(w, "name=\"VerifySignatureRequest\"", "type=\"tns:SignatureType\"",
                              "type=\"xs:string\""),
                "v3 VerifySignatureRequest.signatureType: type tns:SignatureType expected, "
                "wsdl has xs:string");
    expect_diff(&g_v3, mutate(w, "name=\"GetApplicationDetailRequest\"", " minOccurs=\"0\"", ""),
                "v3 GetApplicationDetailRequest.applicationId: minOccurs 0 expected, wsdl has 1");
    expect_diff(&g_v3, mutate(w, "name=\"LookupActivationsRequest\"", " maxOccurs=\"unbounded\"", ""),
                "v3 LookupActivationsRequest.userIds: maxOccurs unbounded expected, wsdl has 1");
    expect_diff(&g_v3, mutate(w, "name=\"LookupRecoveryCodesResponse\"",
                              "type=\"tns:RecoveryPukStatus\"", "type=\"tns:RecoveryCodeStatus\""),
                "v3 LookupRecoveryCodesResponse.recoveryCodes.puks.status: type "
                "tns:RecoveryPukStatus expected, wsdl has tns:RecoveryCodeStatus");
    expect_diff(&g_v3, mutate(w, "name=\"CreateTokenRequest\"", "name=\"activationId\"",
                              "name=\"activationId\" nillable=\"true\""),
                "v3 CreateTokenRequest.activationId: attribute nillable true in wsdl, "
                "not in the contract");
}

/* Two fields swapped: each is reported at the other's position. */
static void test_altered_wsdl_order(void)
{
    const char *anchor = "name=\"GetSystemStatusResponse\"";
    char *w = mutate(g_v3.wsdl, anchor, "name=\"status\"", "name=\"SWAP\"");

    w = mutate_free(w, anchor, "name=\"applicationName\"", "name=\"status\"");
    w = mutate_free(w, anchor, "name=\"SWAP\"", "name=\"applicationName\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    expect_diff(&g_v3, strdup(w), "v3 GetSystemStatusResponse.status: position 1 expected, wsdl has 2");
    expect_diff(&g_v3, w,
                "v3 GetSystemStatusResponse.applicationName: position 2 expected, wsdl has 1");
}

static void test_altered_wsdl_types(void)
{
    expect_diff(&g_v3, mutate(g_v3.wsdl, "name=\"SignatureType\"",
                              "<xs:enumeration value=\"BIOMETRY\"/>", ""),
                "v3 SignatureType: enumeration POSSESSION | KNOWLEDGE | BIOMETRY | "
                "POSSESSION_KNOWLEDGE | POSSESSION_BIOMETRY | POSSESSION_KNOWLEDGE_BIOMETRY "
                "expected, wsdl has POSSESSION | KNOWLEDGE | POSSESSION_KNOWLEDGE | "
                "POSSESSION_BIOMETRY | POSSESSION_KNOWLEDGE_BIOMETRY");
    expect_diff(&g_v3, mutate(g_v3.wsdl, "name=\"KeyValueMap\"", "name=\"key\"", "name=\"name\""),
                "v3 KeyValueMap.entry.key: type xs:string expected, wsdl has none");
    expect_diff(&g_v2, mutate(g_v2.wsdl, "name=\"VaultUnlockResponse\"", "type=\"xs:integer\"",
                              "type=\"xs:long\""),
                "v2 VaultUnlockResponse.remainingAttempts: type xs:integer expected, wsdl has xs:long");
}

static void test_altered_wsdl_binding(void)
{
    const char *w = g_v3.wsdl;

    expect_diff(&g_v3, mutate(w, "<wsdl:binding", "soapAction=\"\"", "soapAction=\"urn:status\""),
                "v3 binding operation GetSystemStatus: soapAction \"\" expected, "
                "wsdl has \"urn:status\"");
    expect_diff(&g_v3, mutate(w, "<wsdl:binding", "<wsdl:operation name=\"RemoveToken\">",
                              "<wsdl:operation name=\"RemoveTokens\">"),
                "v3 binding operation RemoveToken: soapAction \"\" expected, wsdl has none");
    expect_diff(&g_v3, mutate(w, "<wsdl:message name=\"CommitUpgradeResponse\"",
                              "element=\"tns:CommitUpgradeResponse\"", "element=\"tns:CommitUpgradeRequest\""),
                "v3 message CommitUpgradeResponse: part CommitUpgradeResponse element "
                "tns:CommitUpgradeResponse expected, wsdl has tns:CommitUpgradeRequest");
    expect_diff(&g_v3, mutate(w, "<wsdl:portType", "name=\"VaultUnlockResponse\"", "name=\"VaultUnlockOut\""),
                "v3 portType operation VaultUnlock: output name VaultUnlockResponse expected, "
                "wsdl has VaultUnlockOut");
    expect_diff(&g_v3, mutate(w, "<wsdl:binding", "use=\"literal\"", "use=\"encoded\""),
                "v3 binding operation GetSystemStatus: input use literal expected, wsdl has encoded");
    expect_diff(&g_v3, mutate(w, "<wsdl:service", "/powerauth-java-server/soap", "/soap"),
                "v3 service port: address http://localhost:8080/powerauth-java-server/soap "
                "expected, wsdl has http://localhost:8080/soap");
    expect_diff(&g_v3, mutate(w, "<soap:binding", "style=\"document\"", "style=\"rpc\""),
                "v3 binding: style document expected, wsdl has rpc");
}

/* QNames are resolved through namespaces: other prefixes for the same
 * namespaces change nothing, the right prefix bound to a wrong namespace
 * changes everything it names. */
static void test_prefixes_resolved_by_namespace(void)
{
    char *w = replace_all(g_v3.wsdl, "tns:", "p:");
    ct_lines diffs;

    w = replace_all_free(w, "xmlns:tns=", "xmlns:p=");
    w = replace_all_free(w, "xs:", "xsd:");
    w = replace_all_free(w, "xmlns:xs=", "xmlns:xsd=");
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_PTR_NULL(strstr(w, "tns:"));
    ct_lines_init(&diffs);
    CU_ASSERT_EQUAL(check_wsdl(&g_v3, w, &diffs), 0);
    print_lines(&diffs);
    ct_lines_free(&diffs);
    free(w);
    expect_diff(&g_v3, mutate(g_v3.wsdl, "<xs:schema", "xmlns:tns=\"http://getlime.io/security/powerauth/v3\"",
                              "xmlns:tns=\"http://getlime.io/security/powerauth/v2\""),
                "v3 VerifySignatureRequest.signatureType: type tns:SignatureType expected, "
                "wsdl has {http://getlime.io/security/powerauth/v2}SignatureType");
}

static void test_altered_xsd(void)
{
    char *x = mutate(g_v3.xsd, "name=\"RevokeRecoveryCodesRequest\"", " maxOccurs=\"unbounded\"", "");
    ct_lines diffs;

    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    ct_lines_init(&diffs);
    CU_ASSERT(check_xsd(&g_v3, g_v3.wsdl, x, &diffs) > 0);
    CU_ASSERT(ct_lines_contains(&diffs, "v3 RevokeRecoveryCodesRequest.recoveryCodeIds: maxOccurs "
                                        "unbounded expected, powerAuthV3.xsd has 1"));
    ct_lines_free(&diffs);
    free(x);
    /* The WSDL changed and the XSD not: also a difference. */
    x = mutate(g_v2.wsdl, "name=\"PrepareActivationRequest\"", "name=\"extras\"", "name=\"extra\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    ct_lines_init(&diffs);
    CU_ASSERT(check_xsd(&g_v2, x, g_v2.xsd, &diffs) > 0);
    CU_ASSERT(ct_lines_contains(&diffs, "v2 PrepareActivationRequest.extras: type xs:string "
                                        "in powerAuthV2.xsd, not in the WSDL"));
    ct_lines_free(&diffs);
    free(x);
}

/* --- loading and parsing ------------------------------------------------------ */

static void test_tables_missing_reported(void)
{
    ct_contract c;
    ct_lines errors;

    ct_lines_init(&errors);
    CU_ASSERT_NOT_EQUAL(ct_contract_load("/nonexistent-contract-dir", "v3", &c, &errors), 0);
    CU_ASSERT(errors.n > 0);
    ct_contract_free(&c);
    ct_lines_free(&errors);
}

static void test_dtd_refused(void)
{
    static const char doc[] =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE d [<!ENTITY e \"x\">]>\n<d>&e;</d>\n";

    CU_ASSERT_PTR_NULL(ct_parse_memory(doc, strlen(doc)));
}

/* --- schema validity: the schemas compile and accept what clients send ------- */

/* Invalid samples are expected here; their messages would only be noise. */
static void silent(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static xmlSchemaPtr compile(xmlDocPtr schema_doc)
{
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewDocParserCtxt(schema_doc);
    xmlSchemaPtr s = pc ? xmlSchemaParse(pc) : NULL;

    xmlSchemaFreeParserCtxt(pc);
    return s;
}

/* 0 when the instance is valid. */
static int validate(xmlSchemaPtr s, const char *instance)
{
    xmlDocPtr doc = ct_parse_memory(instance, strlen(instance));
    xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(s);
    int rc = -1;

    if (doc && vc) {
        xmlSchemaSetValidErrors(vc, silent, silent, NULL);
        rc = xmlSchemaValidateDoc(vc, doc);
    }
    xmlSchemaFreeValidCtxt(vc);
    xmlFreeDoc(doc);
    return rc;
}

/* A document holding a copy of the WSDL's embedded xs:schema. */
static xmlDocPtr embedded_schema(const char *wsdl)
{
    xmlDocPtr w = ct_parse_memory(wsdl, strlen(wsdl)), out = NULL;
    xmlNodePtr n = w ? xmlDocGetRootElement(w)->children : NULL;

    for (; n && !out; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, "types") != 0)
            continue;
        for (xmlNodePtr s = n->children; s && !out; s = s->next)
            if (s->type == XML_ELEMENT_NODE && strcmp((const char *)s->name, "schema") == 0) {
                out = xmlNewDoc((const xmlChar *)"1.0");
                xmlDocSetRootElement(out, xmlDocCopyNode(s, out, 1));
            }
    }
    xmlFreeDoc(w);
    return out;
}

#define V3 "xmlns=\"http://getlime.io/security/powerauth/v3\""
#define V2 "xmlns=\"http://getlime.io/security/powerauth/v2\""

static void assert_v3_samples(xmlSchemaPtr s)
{
    CU_ASSERT_PTR_NOT_NULL(s);
    if (!s)
        return;
    CU_ASSERT_EQUAL(validate(s, "<GetSystemStatusRequest " V3 "/>"), 0);
    CU_ASSERT_EQUAL(validate(s, "<VerifySignatureRequest " V3 "><activationId>a</activationId>"
                                "<applicationKey>k</applicationKey><data>d</data><signature>s</signature>"
                                "<signatureType>POSSESSION_KNOWLEDGE</signatureType>"
                                "<signatureVersion>3.1</signatureVersion></VerifySignatureRequest>"), 0);
    CU_ASSERT_EQUAL(validate(s, "<LookupRecoveryCodesResponse " V3 "><recoveryCodes>"
                                "<recoveryCodeId>1</recoveryCodeId><recoveryCodeMasked>m</recoveryCodeMasked>"
                                "<userId>u</userId><applicationId>1</applicationId><status>ACTIVE</status>"
                                "<puks><pukIndex>1</pukIndex><status>VALID</status></puks>"
                                "</recoveryCodes></LookupRecoveryCodesResponse>"), 0);
    /* A value outside the enumeration, a missing required field, a non-number. */
    CU_ASSERT_NOT_EQUAL(validate(s, "<VerifySignatureRequest " V3 "><activationId>a</activationId>"
                                    "<applicationKey>k</applicationKey><data>d</data><signature>s</signature>"
                                    "<signatureType>POSSESSION_FOO</signatureType>"
                                    "<signatureVersion>3.1</signatureVersion></VerifySignatureRequest>"), 0);
    CU_ASSERT_NOT_EQUAL(validate(s, "<CreateApplicationVersionRequest " V3 "><applicationId>1"
                                    "</applicationId></CreateApplicationVersionRequest>"), 0);
    CU_ASSERT_NOT_EQUAL(validate(s, "<CreateApplicationVersionRequest " V3 "><applicationId>abc"
                                    "</applicationId><applicationVersionName>x</applicationVersionName>"
                                    "</CreateApplicationVersionRequest>"), 0);
}

static void test_schemas_validate(void)
{
    xmlDocPtr xsd3 = ct_parse_memory(g_v3.xsd, g_v3.xsd_len);
    xmlDocPtr xsd2 = ct_parse_memory(g_v2.xsd, g_v2.xsd_len);
    xmlDocPtr emb3 = embedded_schema(g_v3.wsdl);
    xmlSchemaPtr s3 = xsd3 ? compile(xsd3) : NULL;
    xmlSchemaPtr s2 = xsd2 ? compile(xsd2) : NULL;
    xmlSchemaPtr e3 = emb3 ? compile(emb3) : NULL;

    assert_v3_samples(s3);
    assert_v3_samples(e3);
    CU_ASSERT_PTR_NOT_NULL(s2);
    if (s2) {
        CU_ASSERT_EQUAL(validate(s2, "<CreateTokenRequest " V2 "><activationId>a</activationId>"
                                     "<signatureType>POSSESSION</signatureType><ephemeralPublicKey>"
                                     "e</ephemeralPublicKey></CreateTokenRequest>"), 0);
        CU_ASSERT_NOT_EQUAL(validate(s2, "<GetSystemStatusRequest " V3 "/>"), 0);
    }
    xmlSchemaFree(s3);
    xmlSchemaFree(s2);
    xmlSchemaFree(e3);
    xmlFreeDoc(xsd3);
    xmlFreeDoc(xsd2);
    xmlFreeDoc(emb3);
}

int main(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        { "v3 WSDL matches the contract tables", test_v3_wsdl },
        { "v2 WSDL matches the contract tables", test_v2_wsdl },
        { "v3 XSD matches the schema in the WSDL", test_v3_xsd },
        { "v2 XSD matches the schema in the WSDL", test_v2_xsd },
        { "altered field type/occurs/attribute reported", test_altered_wsdl_field },
        { "swapped fields reported", test_altered_wsdl_order },
        { "altered enum/named type reported", test_altered_wsdl_types },
        { "altered message/portType/binding/service reported", test_altered_wsdl_binding },
        { "QNames resolved by namespace, not prefix", test_prefixes_resolved_by_namespace },
        { "altered XSD reported", test_altered_xsd },
        { "missing tables reported", test_tables_missing_reported },
        { "DTD refused", test_dtd_refused },
        { "schemas compile and validate samples", test_schemas_validate },
    };
    CU_pSuite suite;
    unsigned failures;

    xmlInitParser();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    suite = CU_add_suite("contract", suite_init, suite_cleanup);
    for (size_t i = 0; suite && i < sizeof(tests) / sizeof(tests[0]); i++)
        if (!CU_add_test(suite, tests[i].name, tests[i].fn))
            suite = NULL;
    if (!suite) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed()
               + CU_get_number_of_suites_failed();
    if (CU_get_number_of_tests_run() == 0)
        failures++;
    CU_cleanup_registry();
    xmlCleanupParser();
    return failures ? 1 : 0;
}
