/*
 * delivery.c - the callback delivery thread (delivery.h; DATABASE.md 5.3;
 * DESIGN.md "Work outside a request").
 *
 * One thread with its own store connection and one reused libcurl easy
 * handle (so connections to a receiver are kept alive between events).
 * Each pass reads a bounded batch of due outbox rows and sends each one:
 *
 *   POST <callback_url>
 *   Content-Type: application/json
 *   Idempotency-Key: <event_id>:<callback_id>
 *
 *   {"activationId":"<activation_id>"}
 *
 * A 2xx answer removes the row.  Anything else counts as a failed attempt:
 * the row is kept with attempts + 1 and a next attempt after a delay that
 * doubles from callback_retry_initial_ms up to callback_retry_max_ms, drawn
 * between 50% and 100% of that value (jitter, so that a receiver coming
 * back is not hit by every queued event at once).  A row is dropped with a
 * warning after callback_max_attempts attempts, once it is older than
 * callback_max_age_ms (or its next attempt would be), or at once when its
 * URL can never be fetched (a scheme other than http/https, a malformed
 * URL); a row whose callback URL was removed is dropped silently (debug
 * log).  After every pass the outbox is trimmed to callback_outbox_max
 * rows: when it is full the oldest undelivered events are dropped (with a
 * warning giving their number).
 *
 * The thread sleeps until the earliest next attempt, at most POLL_MS (other
 * processes - pactl, a second paserver on the same file - add rows without
 * notifying this one), or until pa_delivery_notify().  pa_delivery_stop()
 * wakes it and aborts a transfer in flight through the progress callback,
 * which libcurl calls at least about once a second; an attempt cut short by
 * the stop does not count as failed and the row stays for the next start.
 *
 * Several processes on one database may each pick the same due row, so an
 * event can reach a receiver more than once; the Idempotency-Key lets the
 * receiver recognise repeats.
 *
 * Logging: one line per failed attempt with the callback id, the URL's host
 * only (a URL may carry credentials in its userinfo or query), the HTTP
 * status or libcurl's error text and the attempt number - never the body.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "service/delivery.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Due rows read per pass. */
#define DUE_BATCH 64
/* Longest sleep between two looks at the outbox, ms. */
#define POLL_MS 1000
/* Pause after a store failure, ms (no busy loop on a broken database). */
#define ERROR_PAUSE_MS 1000
/* Room for the Idempotency-Key header line ("<uuid>:<uuid>" normally). */
#define KEY_BUF 320
#define HOST_BUF 256
#define WHY_BUF (CURL_ERROR_SIZE + 64)

typedef struct settings {
    char *database;
    int lock_timeout_ms;
    long connect_timeout_ms;
    long timeout_ms;
    int max_attempts;
    int64_t max_age_ms;
    int64_t retry_initial_ms;
    int64_t retry_max_ms;
    int64_t outbox_max;
    int proxy_enabled;
    char *proxy_url;          /* "http://host:port" */
    char *proxy_username;     /* NULL: no proxy authentication */
    char *proxy_password;     /* wiped on stop */
} settings;

static struct {
    pthread_mutex_t mu;       /* guards running, notified and the cond */
    pthread_cond_t cond;      /* CLOCK_MONOTONIC */
    int running;
    int notified;
    atomic_int stop;
    pthread_t thread;
    settings set;
    pa_store *store;
    CURL *curl;
    int curl_global;
    uint64_t rnd;
    char errbuf[CURL_ERROR_SIZE];
} D = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ---- small helpers ----------------------------------------------------------- */

static uint64_t next_random(void)
{
    /* xorshift64*: jitter only needs to spread retries, not secrecy */
    D.rnd ^= D.rnd >> 12;
    D.rnd ^= D.rnd << 25;
    D.rnd ^= D.rnd >> 27;
    return D.rnd * 0x2545F4914F6CDD1DULL;
}

int64_t pa_delivery_backoff_ms(int64_t initial_ms, int64_t max_ms,
                               int attempts, uint64_t random)
{
    int64_t d = initial_ms > 0 ? initial_ms : 1, half;

    if (max_ms < d)
        max_ms = d;
    for (int i = 1; i < attempts && d < max_ms; i++)
        d = d > max_ms / 2 ? max_ms : d * 2;
    if (d > max_ms)
        d = max_ms;
    half = d / 2;
    return half + (int64_t)(random % (uint64_t)(d - half + 1));
}

/* The host of url (without port, userinfo, path or query) into out, or
 * "?" when it does not parse. */
static void url_host(const char *url, char out[HOST_BUF])
{
    CURLU *u = curl_url();
    char *host = NULL;

    snprintf(out, HOST_BUF, "?");
    if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
        snprintf(out, HOST_BUF, "%s", host);
    curl_free(host);
    curl_url_cleanup(u);
}

/* true when text contains a non-empty part of url that must not reach a
 * log line (userinfo, path beyond "/", query, fragment). */
static int leaks_url_part(const char *text, const char *url)
{
    static const CURLUPart parts[] = {CURLUPART_USER, CURLUPART_PASSWORD,
                                      CURLUPART_OPTIONS, CURLUPART_PATH,
                                      CURLUPART_QUERY, CURLUPART_FRAGMENT};
    CURLU *u = curl_url();
    int leak = 0;

    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        return strstr(text, url) != NULL;
    }
    for (size_t i = 0; !leak && i < sizeof parts / sizeof parts[0]; i++) {
        char *p = NULL;
        if (curl_url_get(u, parts[i], &p, 0) == CURLUE_OK && p != NULL &&
            strlen(p) > 1 && strstr(text, p) != NULL)
            leak = 1;
        curl_free(p);
    }
    curl_url_cleanup(u);
    return leak;
}

/* Sleeps up to ms on the condition variable; returns early on notify or
 * stop.  Consumes a pending notification. */
static void wait_ms(int64_t ms)
{
    struct timespec until;

    pthread_mutex_lock(&D.mu);
    if (ms > 0 && !D.notified && !atomic_load(&D.stop)) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(ms / 1000);
        until.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!D.notified && !atomic_load(&D.stop))
            if (pthread_cond_timedwait(&D.cond, &D.mu, &until) == ETIMEDOUT)
                break;
    }
    D.notified = 0;
    pthread_mutex_unlock(&D.mu);
}

/* ---- libcurl ----------------------------------------------------------------- */

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

/* Non-zero aborts the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    (void)ud;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return atomic_load(&D.stop) ? 1 : 0;
}

/* The options that stay the same for every request. */
static pa_err curl_setup(CURL *h, const settings *st)
{
    CURLcode c = CURLE_OK;

#define SET(opt, val) \
    do { if (c == CURLE_OK) c = curl_easy_setopt(h, opt, val); } while (0)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_MAXREDIRS, 0L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, st->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, st->timeout_ms);
    SET(CURLOPT_WRITEFUNCTION, discard);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_ERRORBUFFER, D.errbuf);
    SET(CURLOPT_USERAGENT, "paserver");
    /* no proxy from the environment (http_proxy ...): only the configured one */
    SET(CURLOPT_PROXY, st->proxy_enabled ? st->proxy_url : "");
    if (st->proxy_enabled && st->proxy_username != NULL) {
        SET(CURLOPT_PROXYUSERNAME, st->proxy_username);
        SET(CURLOPT_PROXYPASSWORD,
            st->proxy_password != NULL ? st->proxy_password : "");
    }
#undef SET
    if (c != CURLE_OK) {
        pa_log(PA_LOG_ERROR, "callback delivery: libcurl refused an option: %s",
               curl_easy_strerror(c));
        return PA_ERR_UNKNOWN_ERROR;
    }
    return PA_OK;
}

/* SENT: 2xx.  FAILED: worth another attempt.  REFUSED: never deliverable
 * (scheme, URL syntax, ids unusable in a header).  STOPPED: cut short by
 * pa_delivery_stop, not an attempt. */
typedef enum outcome { SENT, FAILED, REFUSED, STOPPED } outcome;

/* true when s may go into a header value as is (no control characters). */
static int header_safe(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

/* {"activationId":"<id>"} with id escaped as a JSON string; malloc'ed,
 * *len its length; NULL when out of memory. */
static char *json_body(const char *id, size_t *len)
{
    static const char head[] = "{\"activationId\":\"", tail[] = "\"}";
    char *out = malloc(strlen(head) + 6 * strlen(id) + sizeof tail), *o;

    if (out == NULL)
        return NULL;
    o = out + sprintf(out, "%s", head);
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p < 0x20) {
            o += sprintf(o, "\\u%04x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    o += sprintf(o, "%s", tail);
    *len = (size_t)(o - out);
    return out;
}

/* One POST.  why gets the HTTP status or the error text for the log. */
static outcome post_one(const pa_store_outbox *row, char *why, size_t wl)
{
    char key[KEY_BUF], *body;
    struct curl_slist *hdr = NULL, *h;
    size_t blen = 0;
    long status = 0;
    CURLcode c;
    int n;

    if (!header_safe(row->event_id) || !header_safe(row->callback_id)) {
        snprintf(why, wl, "event or callback id holds control characters");
        return REFUSED;
    }
    n = snprintf(key, sizeof key, "Idempotency-Key: %s:%s", row->event_id,
                 row->callback_id);
    if (n < 0 || (size_t)n >= sizeof key) {
        snprintf(why, wl, "event or callback id too long");
        return REFUSED;
    }
    if ((body = json_body(row->activation_id, &blen)) == NULL) {
        snprintf(why, wl, "out of memory");
        return FAILED;
    }
    h = curl_slist_append(hdr, "Content-Type: application/json");
    if (h != NULL && (hdr = h, h = curl_slist_append(hdr, key)) != NULL &&
        (hdr = h, h = curl_slist_append(hdr, "Expect:")) != NULL)
        hdr = h;
    if (h == NULL) {
        curl_slist_free_all(hdr);
        free(body);
        snprintf(why, wl, "out of memory");
        return FAILED;
    }
    D.errbuf[0] = '\0';
    c = curl_easy_setopt(D.curl, CURLOPT_URL, row->callback_url);
    if (c == CURLE_OK)
        c = curl_easy_setopt(D.curl, CURLOPT_HTTPHEADER, hdr);
    if (c == CURLE_OK)
        c = curl_easy_setopt(D.curl, CURLOPT_POSTFIELDSIZE, (long)blen);
    if (c == CURLE_OK)
        c = curl_easy_setopt(D.curl, CURLOPT_POSTFIELDS, body);
    if (c == CURLE_OK)
        c = curl_easy_perform(D.curl);
    if (c == CURLE_OK)
        curl_easy_getinfo(D.curl, CURLINFO_RESPONSE_CODE, &status);
    /* the handle must not keep pointers to what is freed here */
    curl_easy_setopt(D.curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(D.curl, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(hdr);
    free(body);
    if (c == CURLE_ABORTED_BY_CALLBACK && atomic_load(&D.stop))
        return STOPPED;
    if (c == CURLE_OK && status >= 200 && status <= 299)
        return SENT;
    if (c == CURLE_OK)
        snprintf(why, wl, "HTTP status %ld", status);
    else if (D.errbuf[0] != '\0' && !leaks_url_part(D.errbuf, row->callback_url))
        snprintf(why, wl, "%s", D.errbuf);
    else
        snprintf(why, wl, "%s", curl_easy_strerror(c));
    return c == CURLE_UNSUPPORTED_PROTOCOL || c == CURLE_URL_MALFORMAT
               ? REFUSED : FAILED;
}

/* ---- the loop ------------------------------------------------------------------ */

static pa_err drop(const pa_store_outbox *row)
{
    pa_err e = pa_store_outbox_remove(D.store, row->id);

    if (e != PA_OK)
        pa_log(PA_LOG_ERROR, "callback delivery: cannot remove outbox row: %s",
               pa_store_last_error());
    return e;
}

/* Sends one row and records the outcome. */
static pa_err deliver(const pa_store_outbox *row)
{
    const settings *st = &D.set;
    char host[HOST_BUF], why[WHY_BUF];
    int64_t now = pa_time_now_ms(), next;
    int attempt;
    outcome o;
    pa_err e;

    if (row->callback_url == NULL) {
        pa_log(PA_LOG_DEBUG, "callback delivery: callback %s was removed, "
               "event %s dropped", row->callback_id, row->event_id);
        return drop(row);
    }
    url_host(row->callback_url, host);
    if (now - row->created_ms > st->max_age_ms) {
        pa_log(PA_LOG_WARN, "callback delivery: giving up on event %s to "
               "callback %s (host %s) after %d attempts: older than %lld ms",
               row->event_id, row->callback_id, host, row->attempts,
               (long long)st->max_age_ms);
        return drop(row);
    }
    o = post_one(row, why, sizeof why);
    if (o == STOPPED)
        return PA_OK;
    if (o == SENT) {
        pa_log(PA_LOG_DEBUG, "callback delivery: event %s sent to callback %s "
               "(host %s)", row->event_id, row->callback_id, host);
        return drop(row);
    }
    attempt = row->attempts + 1;
    if (o == REFUSED) {
        pa_log(PA_LOG_WARN, "callback delivery: event %s to callback %s "
               "(host %s) cannot be sent: %s; dropped", row->event_id,
               row->callback_id, host, why);
        return drop(row);
    }
    now = pa_time_now_ms();
    next = now + pa_delivery_backoff_ms(st->retry_initial_ms, st->retry_max_ms,
                                        attempt, next_random());
    if (attempt >= st->max_attempts || next - row->created_ms > st->max_age_ms) {
        pa_log(PA_LOG_WARN, "callback delivery: attempt %d of event %s to "
               "callback %s failed (host %s): %s; giving up (%s)", attempt,
               row->event_id, row->callback_id, host, why,
               attempt >= st->max_attempts ? "no attempts left"
                                           : "maximum age reached");
        return drop(row);
    }
    pa_log(PA_LOG_INFO, "callback delivery: attempt %d of event %s to callback "
           "%s failed (host %s): %s; next in %lld ms", attempt, row->event_id,
           row->callback_id, host, why, (long long)(next - now));
    e = pa_store_outbox_retry(D.store, row->id, attempt, next);
    if (e != PA_OK)
        pa_log(PA_LOG_ERROR, "callback delivery: cannot record a failed "
               "attempt: %s", pa_store_last_error());
    return e;
}

/* One pass: a batch of due rows, then the bound.  *full = the batch was
 * full (more may be due). */
static pa_err pass(int *full)
{
    pa_store_outbox_array due = {0};
    int64_t dropped = 0;
    pa_err e;

    *full = 0;
    e = pa_store_outbox_due(D.store, pa_time_now_ms(), DUE_BATCH, &due);
    if (e != PA_OK) {
        pa_log(PA_LOG_ERROR, "callback delivery: cannot read the outbox: %s",
               pa_store_last_error());
        return e;
    }
    for (size_t i = 0; i < due.count && !atomic_load(&D.stop); i++)
        if ((e = deliver(&due.items[i])) != PA_OK)
            break;
    *full = due.count >= DUE_BATCH;
    pa_store_outbox_array_free(&due);
    if (e != PA_OK || atomic_load(&D.stop))
        return e;
    e = pa_store_outbox_trim(D.store, D.set.outbox_max, &dropped);
    if (e != PA_OK)
        pa_log(PA_LOG_ERROR, "callback delivery: cannot trim the outbox: %s",
               pa_store_last_error());
    else if (dropped > 0)
        pa_log(PA_LOG_WARN, "callback delivery: outbox over %lld rows, dropped "
               "the %lld oldest undelivered events",
               (long long)D.set.outbox_max, (long long)dropped);
    return e;
}

/* How long to sleep after a pass: until the earliest next attempt, at most
 * POLL_MS. */
static int64_t idle_ms(void)
{
    int64_t next = 0, wait;
    int found = 0;

    if (pa_store_outbox_next_due(D.store, &next, &found) != PA_OK) {
        pa_log(PA_LOG_ERROR, "callback delivery: cannot read the outbox: %s",
               pa_store_last_error());
        return ERROR_PAUSE_MS;
    }
    if (!found)
        return POLL_MS;
    wait = next - pa_time_now_ms();
    return wait < 0 ? 0 : wait > POLL_MS ? POLL_MS : wait;
}

static void *thread_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&D.stop)) {
        int full = 0;
        if (pass(&full) != PA_OK) {
            wait_ms(ERROR_PAUSE_MS);
            continue;
        }
        if (full || atomic_load(&D.stop))
            continue;
        wait_ms(idle_ms());
    }
    return NULL;
}

/* ---- start / stop ------------------------------------------------------------- */

static void settings_free(settings *st)
{
    free(st->database);
    free(st->proxy_url);
    free(st->proxy_username);
    if (st->proxy_password != NULL) {
        OPENSSL_cleanse(st->proxy_password, strlen(st->proxy_password));
        free(st->proxy_password);
    }
    memset(st, 0, sizeof *st);
}

static pa_err settings_copy(settings *st, const pa_config *cfg)
{
    const char *host = cfg->proxy_host != NULL ? cfg->proxy_host : "";
    int v6 = strchr(host, ':') != NULL && host[0] != '[';
    size_t n = strlen(host) + 32;

    memset(st, 0, sizeof *st);
    st->lock_timeout_ms = cfg->lock_timeout_ms;
    st->connect_timeout_ms = cfg->callback_connect_timeout_ms;
    st->timeout_ms = cfg->callback_timeout_ms;
    st->max_attempts = cfg->callback_max_attempts;
    st->max_age_ms = cfg->callback_max_age_ms;
    st->retry_initial_ms = cfg->callback_retry_initial_ms;
    st->retry_max_ms = cfg->callback_retry_max_ms;
    st->outbox_max = cfg->callback_outbox_max;
    st->proxy_enabled = cfg->proxy_enabled;
    if (cfg->database == NULL || (st->database = strdup(cfg->database)) == NULL)
        goto fail;
    if (st->proxy_enabled) {
        if ((st->proxy_url = malloc(n)) == NULL)
            goto fail;
        snprintf(st->proxy_url, n, v6 ? "http://[%s]:%d" : "http://%s:%d",
                 host, cfg->proxy_port);
        if (cfg->proxy_username != NULL && cfg->proxy_username[0] != '\0' &&
            (st->proxy_username = strdup(cfg->proxy_username)) == NULL)
            goto fail;
        if (cfg->proxy_password != NULL &&
            (st->proxy_password = strdup(cfg->proxy_password)) == NULL)
            goto fail;
    }
    return PA_OK;
fail:
    settings_free(st);
    return PA_ERR_UNKNOWN_ERROR;
}

/* Releases what start acquired (also after a failed start). */
static void release(void)
{
    if (D.curl != NULL)
        curl_easy_cleanup(D.curl);
    D.curl = NULL;
    pa_store_close(D.store);
    D.store = NULL;
    if (D.curl_global)
        curl_global_cleanup();
    D.curl_global = 0;
    settings_free(&D.set);
}

pa_err pa_delivery_start(const pa_config *cfg)
{
    pa_store_options opt = {.busy_timeout_ms = cfg->lock_timeout_ms};
    pthread_condattr_t ca;
    sigset_t all, old;
    int rc;

    pthread_mutex_lock(&D.mu);
    rc = D.running;
    pthread_mutex_unlock(&D.mu);
    if (rc) {
        pa_log(PA_LOG_ERROR, "callback delivery: already running");
        return PA_ERR_UNKNOWN_ERROR;
    }
    if (settings_copy(&D.set, cfg) != PA_OK) {
        pa_log(PA_LOG_ERROR, "callback delivery: out of memory");
        return PA_ERR_UNKNOWN_ERROR;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        pa_log(PA_LOG_ERROR, "callback delivery: libcurl does not initialise");
        release();
        return PA_ERR_UNKNOWN_ERROR;
    }
    D.curl_global = 1;
    if ((D.curl = curl_easy_init()) == NULL) {
        pa_log(PA_LOG_ERROR, "callback delivery: libcurl does not initialise");
        release();
        return PA_ERR_UNKNOWN_ERROR;
    }
    if (curl_setup(D.curl, &D.set) != PA_OK) {
        release();
        return PA_ERR_UNKNOWN_ERROR;
    }
    if (pa_store_open(D.set.database, &opt, &D.store) != PA_OK) {
        pa_log(PA_LOG_ERROR, "callback delivery: cannot open database %s: %s",
               D.set.database, pa_store_last_error());
        release();
        return PA_ERR_UNKNOWN_ERROR;
    }
    D.rnd = (uint64_t)pa_time_mono_us() ^ ((uint64_t)getpid() << 32) ^
            (uint64_t)pa_time_now_ms();
    if (D.rnd == 0)
        D.rnd = 0x9E3779B97F4A7C15ULL;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&D.cond, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        pa_log(PA_LOG_ERROR, "callback delivery: cannot create a condition "
               "variable");
        release();
        return PA_ERR_UNKNOWN_ERROR;
    }
    atomic_store(&D.stop, 0);
    D.notified = 0;
    /* signals (SIGTERM, SIGINT) go to the main thread, never to this one */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&D.thread, NULL, thread_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pa_log(PA_LOG_ERROR, "callback delivery: cannot start its thread: %s",
               strerror(rc));
        pthread_cond_destroy(&D.cond);
        release();
        return PA_ERR_UNKNOWN_ERROR;
    }
    pthread_mutex_lock(&D.mu);
    D.running = 1;
    pthread_mutex_unlock(&D.mu);
    pa_log(PA_LOG_INFO, "callback delivery started (up to %d attempts within "
           "%lld ms, outbox bound %lld rows%s)", D.set.max_attempts,
           (long long)D.set.max_age_ms, (long long)D.set.outbox_max,
           D.set.proxy_enabled ? ", through the proxy" : "");
    return PA_OK;
}

void pa_delivery_stop(void)
{
    pthread_mutex_lock(&D.mu);
    if (!D.running) {
        pthread_mutex_unlock(&D.mu);
        return;
    }
    atomic_store(&D.stop, 1);
    pthread_cond_broadcast(&D.cond);
    pthread_mutex_unlock(&D.mu);
    pthread_join(D.thread, NULL);
    pthread_mutex_lock(&D.mu);
    D.running = 0;
    D.notified = 0;
    pthread_cond_destroy(&D.cond);
    pthread_mutex_unlock(&D.mu);
    release();
    pa_log(PA_LOG_INFO, "callback delivery stopped");
}

void pa_delivery_notify(void)
{
    pthread_mutex_lock(&D.mu);
    if (D.running) {
        D.notified = 1;
        pthread_cond_signal(&D.cond);
    }
    pthread_mutex_unlock(&D.mu);
}
