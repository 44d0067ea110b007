/*
 * wsse.c - WS-Security UsernameToken check (CONTRACT.md "Access
 * restriction"; DATABASE.md 5.7).
 *
 * When access is restricted, the Username of the token is looked up as an
 * integration's clientToken and the Password must prove its clientSecret:
 * in clear (PasswordText, what the original's clients send) or as a
 * PasswordDigest, Base64(SHA-1(nonce || created || secret)).  A refusal
 * never says whether the user or the password was wrong, and an unknown
 * user costs the same comparison work as a wrong password.  The password
 * is never logged; the parsed header is detached from the gSOAP context
 * (which would echo it in any answer, faults included) and its password
 * wiped, whether access is restricted or not.
 *
 * Beyond the contract, a PasswordDigest must be fresh and used once (the
 * rules of WSS4J, the original's WS-Security library): see pa_auth_policy.
 * A captured PasswordText stays replayable, as in the original; TLS is
 * what protects it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth/auth.h"
#include "crypto/primitives.h"
#include "net/serve.h"
#include "service/replay.h"
#include "soap/pasoap.h"
#include "store/store.h"
#include "util/base64.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"

#define SHA1_LEN 20

typedef enum { PW_TEXT, PW_DIGEST, PW_UNKNOWN } pw_kind;

/* True when uri ends with "#<frag>" (the namespace part before it varies
 * between profile versions and clients). */
static int has_fragment(const char *uri, const char *frag)
{
    const char *h = strrchr(uri, '#');

    return h != NULL && strcmp(h + 1, frag) == 0;
}

static pw_kind password_kind(const char *type)
{
    if (type == NULL || *type == '\0' || has_fragment(type, "PasswordText"))
        return PW_TEXT;
    if (has_fragment(type, "PasswordDigest"))
        return PW_DIGEST;
    return PW_UNKNOWN;
}

/* Base64(SHA-1(nonce bytes || created || secret)) into out.  An absent
 * nonce or created counts as empty (both are optional in the profile). */
static pa_err digest_b64(const pa_auth_token *t, const char *secret,
                         char out[PA_B64_ENCLEN(SHA1_LEN) + 1])
{
    uint8_t *nonce = NULL, md[SHA1_LEN], *buf;
    size_t nlen = 0, clen = t->created ? strlen(t->created) : 0;
    size_t slen = strlen(secret), n;
    unsigned int mdlen = 0;
    pa_err e = PA_OK;

    if (t->nonce_encoding && !has_fragment(t->nonce_encoding, "Base64Binary"))
        return PA_ERR_INVALID_REQUEST;
    if (t->nonce && pa_b64_decode_alloc(t->nonce, &nonce, &nlen) != PA_OK)
        return PA_ERR_INVALID_REQUEST;
    n = nlen + clen + slen;
    if (!(buf = malloc(n ? n : 1))) {
        free(nonce);
        return PA_ERR_UNKNOWN_ERROR;
    }
    if (nlen)
        memcpy(buf, nonce, nlen);
    if (clen)
        memcpy(buf + nlen, t->created, clen);
    memcpy(buf + nlen + clen, secret, slen);
    if (EVP_Digest(buf, n, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != SHA1_LEN)
        e = PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    else
        pa_b64_encode(md, SHA1_LEN, out);
    pa_secure_free(buf, n ? n : 1);
    free(nonce);
    OPENSSL_cleanse(md, sizeof md);
    return e;
}

/* 1 when the token's password proves `secret`. */
static int password_matches(const pa_auth_token *t, const char *secret)
{
    char expect[PA_B64_ENCLEN(SHA1_LEN) + 1];
    int ok = 0;

    switch (password_kind(t->password_type)) {
    case PW_TEXT:
        ok = pa_ct_equal((const uint8_t *)t->password, strlen(t->password),
                         (const uint8_t *)secret, strlen(secret));
        break;
    case PW_DIGEST:
        if (digest_b64(t, secret, expect) == PA_OK)
            ok = pa_ct_equal((const uint8_t *)t->password, strlen(t->password),
                             (const uint8_t *)expect, strlen(expect));
        OPENSSL_cleanse(expect, sizeof expect);
        break;
    default:
        break;
    }
    return ok;
}

/* Compared against when the user is unknown, so that an unknown user and
 * a wrong password take the same path: random per process, so no value a
 * client can know (a constant here once was) can ever match. */
static char unknown_secret[PA_B64_ENCLEN(32) + 1];
static int unknown_secret_ok;
static pthread_once_t unknown_once = PTHREAD_ONCE_INIT;

static void make_unknown_secret(void)
{
    uint8_t r[32];

    if (RAND_bytes(r, sizeof r) == 1) {
        pa_b64_encode(r, sizeof r, unknown_secret);
        unknown_secret_ok = 1;
    }
    OPENSSL_cleanse(r, sizeof r);
}

/* The freshness rules of a digest (pa_auth_policy), before the secret. */
static int digest_fresh(const pa_auth_token *t, const pa_auth_policy *p)
{
    int64_t created;

    if (!t->nonce || !*t->nonce || !t->created || !*t->created)
        return 0;
    if (pa_time_parse_iso(t->created, &created) != PA_OK)
        return 0;
    return created >= p->now_ms - p->max_age_ms
           && created <= p->now_ms + p->future_skew_ms;
}

/* Remembers the (Nonce, Created) pair of a valid digest; 0 when it was
 * seen while fresh, or cannot be remembered (a full cache: fail closed). */
static int digest_unused(const pa_auth_token *t, const pa_auth_policy *p)
{
    pa_replay_result r;
    int64_t created = 0;

    if (!p->replay)
        return 1;
    (void)pa_time_parse_iso(t->created, &created);
    pa_replay_check(p->replay, (const uint8_t *)t->nonce, strlen(t->nonce),
                    (const uint8_t *)t->created, strlen(t->created),
                    created + p->max_age_ms, p->now_ms, &r);
    if (r == PA_REPLAY_FULL)
        pa_log_warn("WS-Security: nonce cache full: digest refused (raise "
                    "wsse_nonce_cache_entries)");
    return r == PA_REPLAY_FRESH;
}

pa_err pa_auth_check_token(struct pa_store *s, const pa_auth_token *t,
                           const pa_auth_policy *p)
{
    pa_store_integration in;
    int found = 0, usable, ok, digest;
    pa_err e;

    if (!t || !t->username || !t->password)
        return PA_ERR_INVALID_REQUEST;
    pthread_once(&unknown_once, make_unknown_secret);
    if (!unknown_secret_ok) {
        pa_log_error("WS-Security: no randomness for the unknown-user secret");
        return PA_ERR_UNKNOWN_ERROR;
    }
    digest = password_kind(t->password_type) == PW_DIGEST;
    if (digest && p && !digest_fresh(t, p))
        return PA_ERR_INVALID_REQUEST;
    e = pa_store_integration_get_by_token(s, t->username, &in, &found);
    if (e != PA_OK) {
        pa_log_error("WS-Security: %s", pa_store_last_error());
        return PA_ERR_UNKNOWN_ERROR;
    }
    /* An empty stored secret (imported or hand-edited data) never matches,
     * not even an empty password: fail closed. */
    usable = found && in.client_secret != NULL && in.client_secret[0] != '\0';
    ok = password_matches(t, usable ? in.client_secret : unknown_secret);
    ok = ok && usable;
    pa_store_integration_free(&in);
    /* Last: only a digest that proves the secret takes a cache entry. */
    if (ok && digest && p)
        ok = digest_unused(t, p);
    return ok ? PA_OK : PA_ERR_INVALID_REQUEST;
}

/* The process-wide (Nonce, Created) cache, made on first use. */
static pa_replay *nonce_cache;
static pthread_once_t nonce_once = PTHREAD_ONCE_INIT;
static int nonce_cache_size;

static void make_nonce_cache(void)
{
    if (pa_replay_new((size_t)nonce_cache_size, &nonce_cache) != PA_OK)
        nonce_cache = NULL;
}

void pa_auth_free_caches(void)
{
    pa_replay_free(nonce_cache);
    nonce_cache = NULL;
}

/* Copies the header's token into t (all NULL when there is none). */
static void token_from_header(const struct _wsse__UsernameToken *ut,
                              pa_auth_token *t)
{
    memset(t, 0, sizeof *t);
    if (!ut)
        return;
    t->username = ut->Username;
    t->created = ut->wsu__Created;
    if (ut->Password) {
        t->password = ut->Password->__item;
        t->password_type = ut->Password->Type;
    }
    if (ut->Nonce) {
        t->nonce = ut->Nonce->__item;
        t->nonce_encoding = ut->Nonce->EncodingType;
    }
}

static void wipe_token(const pa_auth_token *t)
{
    if (t->password)
        OPENSSL_cleanse((void *)t->password, strlen(t->password));
}

int pa_auth_allow(struct soap *soap)
{
    pa_ctx *ctx = soap->user;
    struct SOAP_ENV__Header *h = soap->header;
    struct _wsse__Security *sec = h ? h->wsse__Security : NULL;
    pa_auth_token t;
    pa_err e = PA_OK;

    /* gSOAP copies soap->header into whatever it sends back, faults
     * included (an unknown operation, a refused login), and this header
     * may hold a password: it is detached here, before anything can be
     * answered.  Nothing after this point needs it. */
    soap->header = NULL;
    token_from_header(sec ? sec->UsernameToken : NULL, &t);
    if (ctx->cfg->restrict_access) {
        const pa_netstate *ns = ctx->net;
        pa_auth_policy p = {pa_time_now_ms(), ctx->cfg->wsse_digest_max_age_ms,
                            ctx->cfg->wsse_digest_future_skew_ms, NULL};

        if (!sec) {
            pa_soap_client_fault(soap, "No WS-Security header found");
            return 0;
        }
        if (ns && (ns->guard.security_headers > 1 || ns->guard.username_tokens > 1)) {
            /* gSOAP kept the first and dropped the rest unseen */
            wipe_token(&t);
            pa_soap_client_fault(soap, "More than one set of WS-Security "
                                       "credentials");
            return 0;
        }
        nonce_cache_size = ctx->cfg->wsse_nonce_cache_entries;
        pthread_once(&nonce_once, make_nonce_cache);
        if (!(p.replay = nonce_cache)) {
            wipe_token(&t);
            pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR);
            return 0;
        }
        e = pa_auth_check_token(ctx->store, &t, &p);
    }
    wipe_token(&t);
    if (e == PA_OK)
        return 1;
    if (e == PA_ERR_UNKNOWN_ERROR)
        pa_soap_fault(soap, e);
    else
        pa_soap_client_fault(soap, "Authentication failed");
    return 0;
}
