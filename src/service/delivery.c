/*
 * delivery.c - the callback delivery thread (delivery.h; DATABASE.md 5.3;
 * DESIGN.md "Work outside a request").
 *
 * One thread with its own store connection and one libcurl multi handle
 * that drives up to callback_concurrency transfers at once, each on an
 * easy handle of a pool that is reused from one request to the next (the
 * multi handle keeps the connections, so a receiver's connection stays
 * alive between events).  Each due outbox row is sent as:
 *
 *   POST <callback_url>
 *   Content-Type: application/json
 *   Idempotency-Key: <event_id>:<callback_id>
 *
 *   {"activationId":"<activation_id>"}
 *
 * At most one transfer per callback URL (callback_id) is in flight: a
 * receiver that accepts connections but never answers holds one slot until
 * callback_timeout_ms and delays only its own events, while every other
 * URL's events go out through the other slots.  Rows are taken in the
 * order of the outbox (next attempt, then id), so the first attempts of
 * one URL's events go out in the order they were written.
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
 * log).  The outbox is trimmed to callback_outbox_max rows at most once a
 * second (POLL_MS): when it is full the oldest undelivered events are
 * dropped (with a warning giving their number).
 *
 * The outbox is read again ("scan") when a transfer ends, on
 * pa_delivery_notify(), at the earliest next attempt and at least every
 * POLL_MS (other processes - pactl, a second paserver on the same file -
 * add rows without notifying this one).  A scan reads the rows due within
 * the next POLL_MS, in outbox order; the rows in flight are recognised by
 * id and skipped, as are the rows of a URL that has a transfer in flight.
 * When a whole batch is such rows while slots are free, the next scans
 * read more rows (up to SCAN_MAX), so a long backlog of one broken URL
 * cannot hide the other URLs' events behind it.
 *
 * Between scans the thread sleeps in curl_multi_poll, which
 * pa_delivery_notify() and pa_delivery_stop() interrupt through
 * curl_multi_wakeup.  On a stop the transfers in flight are abandoned at
 * once: they do not count as failed attempts and their rows stay for the
 * next start.
 *
 * Several processes on one database may each pick the same due row, so an
 * event can reach a receiver more than once; the Idempotency-Key lets the
 * receiver recognise repeats.
 *
 * Logging: one line per failed attempt with the callback id, the URL's host
 * only (a URL may carry credentials in its userinfo or query), the HTTP
 * status or libcurl's error text and the attempt number - never the body.
 */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "service/delivery.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Rows read per scan beyond those in flight, at first. */
#define DUE_BATCH 64
/* Most rows one scan reads when the head of the outbox is held up by URLs
 * that have a transfer in flight. */
#define SCAN_MAX 65536
/* Longest sleep between two looks at the outbox, ms; also the look-ahead
 * of a scan and the interval of the trim. */
#define POLL_MS 1000
/* Pause after a store failure, ms (no busy loop on a broken database). */
#define ERROR_PAUSE_MS 1000
/* Bounds of callback_concurrency (config.c checks the same). */
#define CONCURRENCY_MAX 256
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
    int concurrency;
    int proxy_enabled;
    char *proxy_url;          /* "http://host:port" */
    char *proxy_username;     /* NULL: no proxy authentication */
    char *proxy_password;     /* wiped on stop */
} settings;

/* One transfer place.  The easy handle is made on first use and kept;
 * while busy, row.items[0] is the row in flight (owned). */
typedef struct slot {
    CURL *easy;
    int busy;
    pa_store_outbox_array row;
    struct curl_slist *hdr;
    char *body;
    char host[HOST_BUF];
    char errbuf[CURL_ERROR_SIZE];
} slot;

#define ROW(sl) (&(sl)->row.items[0])

static struct {
    pthread_mutex_t mu;       /* guards running, notified and the wake-up */
    int running;
    int notified;
    atomic_int stop;
    pthread_t thread;
    settings set;
    pa_store *store;
    CURLM *multi;
    slot *slots;              /* set.concurrency of them */
    slot **busy;              /* the busy slots, by callback id (strcmp) */
    int nbusy;
    int window;               /* rows per scan beyond those in flight */
    int64_t trim_at_us;       /* monotonic time of the next trim */
    int curl_global;
    uint64_t rnd;
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

static int64_t mono_ms(void)
{
    return pa_time_mono_us() / 1000;
}

/* ---- the transfers in flight, by callback id ---------------------------------- */

/* The index of callback id cb in D.busy, or -(where it would go) - 1. */
static int busy_find(const char *cb)
{
    int lo = 0, hi = D.nbusy;

    while (lo < hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(cb, ROW(D.busy[mid])->callback_id);
        if (c == 0)
            return mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -lo - 1;
}

static void busy_add(slot *sl)
{
    int at = -busy_find(ROW(sl)->callback_id) - 1;

    memmove(&D.busy[at + 1], &D.busy[at],
            (size_t)(D.nbusy - at) * sizeof *D.busy);
    D.busy[at] = sl;
    D.nbusy++;
    sl->busy = 1;
}

static void busy_remove(slot *sl)
{
    int at = busy_find(ROW(sl)->callback_id);

    if (at >= 0) {
        memmove(&D.busy[at], &D.busy[at + 1],
                (size_t)(D.nbusy - at - 1) * sizeof *D.busy);
        D.nbusy--;
    }
    sl->busy = 0;
}

/* ---- libcurl ----------------------------------------------------------------- */

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

/* The options that stay the same for every request of the slot's handle. */
static pa_err curl_setup(slot *sl, const settings *st)
{
    CURL *h = sl->easy;
    CURLcode c = CURLE_OK;

#define SET(opt, val) \
    do { if (c == CURLE_OK) c = curl_easy_setopt(h, opt, val); } while (0)
    SET(CURLOPT_PRIVATE, (void *)sl);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_MAXREDIRS, 0L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, st->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, st->timeout_ms);
    SET(CURLOPT_WRITEFUNCTION, discard);
    SET(CURLOPT_ERRORBUFFER, sl->errbuf);
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

/* STARTED: the request is ready on the slot's handle.  SENT: 2xx.  FAILED:
 * worth another attempt.  REFUSED: never deliverable (scheme, URL syntax,
 * ids unusable in a header). */
typedef enum outcome { STARTED, SENT, FAILED, REFUSED } outcome;

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

/* Takes the request's headers and body off the slot's handle and frees
 * them (the handle must not keep pointers to freed memory). */
static void request_clear(slot *sl)
{
    if (sl->easy != NULL) {
        curl_easy_setopt(sl->easy, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(sl->easy, CURLOPT_POSTFIELDS, NULL);
    }
    curl_slist_free_all(sl->hdr);
    sl->hdr = NULL;
    free(sl->body);
    sl->body = NULL;
}

/* Sets up the POST of row on the slot's handle.  why gets the reason of
 * anything but STARTED. */
static outcome request_prepare(slot *sl, const pa_store_outbox *row,
                               char *why, size_t wl)
{
    char key[KEY_BUF];
    struct curl_slist *h;
    size_t blen = 0;
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
    if ((sl->body = json_body(row->activation_id, &blen)) == NULL) {
        snprintf(why, wl, "out of memory");
        return FAILED;
    }
    h = curl_slist_append(NULL, "Content-Type: application/json");
    if (h != NULL && (sl->hdr = h, h = curl_slist_append(sl->hdr, key)) != NULL &&
        (sl->hdr = h, h = curl_slist_append(sl->hdr, "Expect:")) != NULL)
        sl->hdr = h;
    if (h == NULL) {
        request_clear(sl);
        snprintf(why, wl, "out of memory");
        return FAILED;
    }
    sl->errbuf[0] = '\0';
    c = curl_easy_setopt(sl->easy, CURLOPT_URL, row->callback_url);
    if (c == CURLE_OK)
        c = curl_easy_setopt(sl->easy, CURLOPT_HTTPHEADER, sl->hdr);
    if (c == CURLE_OK)
        c = curl_easy_setopt(sl->easy, CURLOPT_POSTFIELDSIZE, (long)blen);
    if (c == CURLE_OK)
        c = curl_easy_setopt(sl->easy, CURLOPT_POSTFIELDS, sl->body);
    if (c != CURLE_OK) {
        request_clear(sl);
        snprintf(why, wl, "%s", curl_easy_strerror(c));
        return c == CURLE_UNSUPPORTED_PROTOCOL || c == CURLE_URL_MALFORMAT
                   ? REFUSED : FAILED;
    }
    return STARTED;
}

/* The outcome of a finished transfer; why gets the HTTP status or the
 * error text for the log. */
static outcome request_outcome(const slot *sl, CURLcode c, long status,
                               char *why, size_t wl)
{
    if (c == CURLE_OK && status >= 200 && status <= 299)
        return SENT;
    if (c == CURLE_OK)
        snprintf(why, wl, "HTTP status %ld", status);
    else if (sl->errbuf[0] != '\0' &&
             !leaks_url_part(sl->errbuf, ROW(sl)->callback_url))
        snprintf(why, wl, "%s", sl->errbuf);
    else
        snprintf(why, wl, "%s", curl_easy_strerror(c));
    return c == CURLE_UNSUPPORTED_PROTOCOL || c == CURLE_URL_MALFORMAT
               ? REFUSED : FAILED;
}

/* ---- outcomes ------------------------------------------------------------------ */

static pa_err drop(const pa_store_outbox *row)
{
    pa_err e = pa_store_outbox_remove(D.store, row->id);

    if (e != PA_OK)
        pa_log(PA_LOG_ERROR, "callback delivery: cannot remove outbox row: %s",
               pa_store_last_error());
    return e;
}

/* Records what became of an attempt (SENT, FAILED or REFUSED). */
static pa_err settle(const pa_store_outbox *row, const char *host, outcome o,
                     const char *why)
{
    const settings *st = &D.set;
    int64_t now, next;
    int attempt;
    pa_err e;

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

/* ---- starting and finishing transfers ----------------------------------------- */

/* Starts the POST of *row (due, its URL free, a slot free) on a free slot;
 * the row moves into the slot (*row is left empty).  A row that cannot be
 * sent is settled at once.  Not PA_OK: a store or libcurl failure, the row
 * stays as it is. */
static pa_err start(pa_store_outbox *row, const char *host)
{
    char why[WHY_BUF];
    slot *sl = NULL;
    outcome o;
    CURLMcode mc;

    for (int i = 0; i < D.set.concurrency && sl == NULL; i++)
        if (!D.slots[i].busy)
            sl = &D.slots[i];
    if (sl == NULL)
        return PA_ERR_UNKNOWN_ERROR;      /* the caller counts; never here */
    if (sl->easy == NULL) {
        if ((sl->easy = curl_easy_init()) == NULL) {
            pa_log(PA_LOG_ERROR, "callback delivery: libcurl does not "
                   "initialise");
            return PA_ERR_UNKNOWN_ERROR;
        }
        if (curl_setup(sl, &D.set) != PA_OK) {
            curl_easy_cleanup(sl->easy);
            sl->easy = NULL;
            return PA_ERR_UNKNOWN_ERROR;
        }
    }
    o = request_prepare(sl, row, why, sizeof why);
    if (o != STARTED)
        return settle(row, host, o, why);
    if ((sl->row.items = malloc(sizeof *sl->row.items)) == NULL) {
        request_clear(sl);
        return settle(row, host, FAILED, "out of memory");
    }
    if ((mc = curl_multi_add_handle(D.multi, sl->easy)) != CURLM_OK) {
        free(sl->row.items);
        sl->row.items = NULL;
        request_clear(sl);
        return settle(row, host, FAILED, curl_multi_strerror(mc));
    }
    sl->row.items[0] = *row;
    sl->row.count = 1;
    memset(row, 0, sizeof *row);
    snprintf(sl->host, sizeof sl->host, "%s", host);
    busy_add(sl);
    return PA_OK;
}

/* Frees what the slot holds for its transfer (the handle stays). */
static void slot_release(slot *sl)
{
    request_clear(sl);
    busy_remove(sl);
    pa_store_outbox_array_free(&sl->row);
}

/* Settles every finished transfer; *finished = how many. */
static pa_err harvest(int *finished)
{
    pa_err first = PA_OK;
    CURLMsg *m;
    int queued;

    *finished = 0;
    while ((m = curl_multi_info_read(D.multi, &queued)) != NULL) {
        CURL *h = m->easy_handle;
        CURLcode c = m->data.result;
        char why[WHY_BUF], *priv = NULL;
        long status = 0;
        outcome o;
        slot *sl;
        pa_err e;

        if (m->msg != CURLMSG_DONE)
            continue;
        /* m is invalid once its handle is removed: read it first */
        curl_easy_getinfo(h, CURLINFO_PRIVATE, &priv);
        if (c == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(D.multi, h);
        if ((sl = (slot *)(void *)priv) == NULL || !sl->busy)
            continue;
        o = request_outcome(sl, c, status, why, sizeof why);
        e = settle(ROW(sl), sl->host, o, why);
        slot_release(sl);
        (*finished)++;
        if (e != PA_OK && first == PA_OK)
            first = e;
    }
    return first;
}

/* Abandons every transfer in flight (stop): nothing is recorded. */
static void abandon_all(void)
{
    for (int i = 0; D.slots != NULL && i < D.set.concurrency; i++) {
        slot *sl = &D.slots[i];
        if (!sl->busy)
            continue;
        curl_multi_remove_handle(D.multi, sl->easy);
        slot_release(sl);
    }
}

/* ---- the loop ------------------------------------------------------------------ */

/* Trims the outbox to its bound, at most once per POLL_MS. */
static pa_err trim(void)
{
    int64_t dropped = 0, now = pa_time_mono_us();
    pa_err e;

    if (now < D.trim_at_us)
        return PA_OK;
    D.trim_at_us = now + (int64_t)POLL_MS * 1000;
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

/* Handles one due row: skipped when it or its URL is in flight, dropped
 * when its callback was removed or it is too old, else started when a
 * slot is free.  *acted = it was dropped, settled or started. */
static pa_err take(pa_store_outbox *row, int64_t now, int *acted)
{
    char host[HOST_BUF];

    *acted = 0;
    /* the row itself in flight, or another row of its URL */
    if (busy_find(row->callback_id) >= 0)
        return PA_OK;
    if (row->callback_url == NULL) {
        pa_log(PA_LOG_DEBUG, "callback delivery: callback %s was removed, "
               "event %s dropped", row->callback_id, row->event_id);
        *acted = 1;
        return drop(row);
    }
    if (now - row->created_ms > D.set.max_age_ms) {
        url_host(row->callback_url, host);
        pa_log(PA_LOG_WARN, "callback delivery: giving up on event %s to "
               "callback %s (host %s) after %d attempts: older than %lld ms",
               row->event_id, row->callback_id, host, row->attempts,
               (long long)D.set.max_age_ms);
        *acted = 1;
        return drop(row);
    }
    if (D.nbusy >= D.set.concurrency)
        return PA_OK;
    *acted = 1;
    url_host(row->callback_url, host);
    return start(row, host);
}

/* One look at the outbox: takes the due rows in order, learns when the
 * next row falls due, trims.  *again = look again at once (more rows may
 * be due); *wait_ms = otherwise, how long until the next look. */
static pa_err scan(int *again, int64_t *wait_ms)
{
    pa_store_outbox_array due = {0};
    int64_t now = pa_time_now_ms();
    int limit = D.window + D.nbusy, acted = 0, full;
    size_t i;
    pa_err e;

    *again = 0;
    *wait_ms = POLL_MS;
    /* the rows due now, then those due within POLL_MS (for the wake-up) */
    e = pa_store_outbox_due(D.store, now + POLL_MS, limit, &due);
    if (e != PA_OK) {
        pa_log(PA_LOG_ERROR, "callback delivery: cannot read the outbox: %s",
               pa_store_last_error());
        return e;
    }
    for (i = 0; i < due.count && e == PA_OK && !atomic_load(&D.stop); i++) {
        int a = 0;
        if (due.items[i].next_attempt_ms > now) {
            *wait_ms = due.items[i].next_attempt_ms - now;
            break;
        }
        e = take(&due.items[i], now, &a);
        acted |= a;
    }
    /* every row read was due: more may be */
    full = due.count >= (size_t)limit && i >= due.count;
    pa_store_outbox_array_free(&due);
    if (e != PA_OK || atomic_load(&D.stop))
        return e;
    if (full && acted) {
        *again = 1;
    } else if (full && D.nbusy < D.set.concurrency) {
        /* slots are free, but every row read waits for its URL: read
         * further next time, so other URLs' rows behind them are seen */
        if (D.window < SCAN_MAX) {
            D.window = D.window > SCAN_MAX / 2 ? SCAN_MAX : D.window * 2;
            *again = 1;
        }
    } else if (!full && D.window > DUE_BATCH && due.count < (size_t)limit / 4) {
        D.window = D.window / 2 < DUE_BATCH ? DUE_BATCH : D.window / 2;
    }
    if (*again)
        *wait_ms = 0;
    return trim();
}

static void *thread_main(void *arg)
{
    int64_t scan_at = 0, pause_until = 0;   /* monotonic ms */
    int must_scan = 1;

    (void)arg;
    while (!atomic_load(&D.stop)) {
        int running = 0, finished = 0, again = 0;
        int64_t now, wait = 0;
        CURLMcode mc = curl_multi_perform(D.multi, &running);

        if (mc != CURLM_OK)
            pa_log(PA_LOG_ERROR, "callback delivery: libcurl: %s",
                   curl_multi_strerror(mc));
        if (harvest(&finished) != PA_OK)
            pause_until = mono_ms() + ERROR_PAUSE_MS;
        if (atomic_load(&D.stop))
            break;
        pthread_mutex_lock(&D.mu);
        if (D.notified)
            must_scan = 1;
        D.notified = 0;
        pthread_mutex_unlock(&D.mu);
        if (finished > 0)
            must_scan = 1;
        now = mono_ms();
        if (now >= pause_until && (must_scan || now >= scan_at)) {
            must_scan = 0;
            if (scan(&again, &wait) != PA_OK) {
                pause_until = mono_ms() + ERROR_PAUSE_MS;
                wait = ERROR_PAUSE_MS;
            }
            if (again) {
                must_scan = 1;
                continue;
            }
            now = mono_ms();
            scan_at = now + (wait < 0 ? 0 : wait > POLL_MS ? POLL_MS : wait);
        }
        wait = (now < pause_until ? pause_until : scan_at) - now;
        if (wait < 0)
            wait = 0;
        if (wait > POLL_MS)
            wait = POLL_MS;
        /* returns early on socket activity, libcurl's own timers,
         * pa_delivery_notify and pa_delivery_stop (curl_multi_wakeup) */
        curl_multi_poll(D.multi, NULL, 0, (int)wait, NULL);
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
    st->concurrency = cfg->callback_concurrency < 1 ? 1
                      : cfg->callback_concurrency > CONCURRENCY_MAX
                          ? CONCURRENCY_MAX : cfg->callback_concurrency;
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

/* Releases what start acquired (also after a failed start): the transfers
 * still in flight are abandoned, the handles closed in the order libcurl
 * asks for (out of the multi handle, easy handles, multi handle). */
static void release(void)
{
    if (D.multi != NULL)
        abandon_all();
    for (int i = 0; D.slots != NULL && i < D.set.concurrency; i++)
        if (D.slots[i].easy != NULL)
            curl_easy_cleanup(D.slots[i].easy);
    free(D.slots);
    D.slots = NULL;
    free(D.busy);
    D.busy = NULL;
    D.nbusy = 0;
    if (D.multi != NULL)
        curl_multi_cleanup(D.multi);
    D.multi = NULL;
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
    sigset_t all, old;
    CURLMcode mc;
    int rc;

    pthread_mutex_lock(&D.mu);
    rc = D.running;
    pthread_mutex_unlock(&D.mu);
    if (rc) {
        pa_log(PA_LOG_ERROR, "callback delivery: already running");
        return PA_ERR_UNKNOWN_ERROR;
    }
    if (settings_copy(&D.set, cfg) != PA_OK ||
        (D.slots = calloc((size_t)D.set.concurrency, sizeof *D.slots)) == NULL ||
        (D.busy = calloc((size_t)D.set.concurrency, sizeof *D.busy)) == NULL) {
        pa_log(PA_LOG_ERROR, "callback delivery: out of memory");
        release();
        return PA_ERR_UNKNOWN_ERROR;
    }
    D.nbusy = 0;
    D.window = DUE_BATCH;
    D.trim_at_us = 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        pa_log(PA_LOG_ERROR, "callback delivery: libcurl does not initialise");
        release();
        return PA_ERR_UNKNOWN_ERROR;
    }
    D.curl_global = 1;
    if ((D.multi = curl_multi_init()) == NULL) {
        pa_log(PA_LOG_ERROR, "callback delivery: libcurl does not initialise");
        release();
        return PA_ERR_UNKNOWN_ERROR;
    }
    /* idle connections kept for reuse: one per slot and a few more */
    mc = curl_multi_setopt(D.multi, CURLMOPT_MAXCONNECTS,
                           (long)D.set.concurrency + 4);
    if (mc != CURLM_OK) {
        pa_log(PA_LOG_ERROR, "callback delivery: libcurl refused an option: %s",
               curl_multi_strerror(mc));
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
        release();
        return PA_ERR_UNKNOWN_ERROR;
    }
    pthread_mutex_lock(&D.mu);
    D.running = 1;
    pthread_mutex_unlock(&D.mu);
    pa_log(PA_LOG_INFO, "callback delivery started (up to %d attempts within "
           "%lld ms, %d at once, outbox bound %lld rows%s)", D.set.max_attempts,
           (long long)D.set.max_age_ms, D.set.concurrency,
           (long long)D.set.outbox_max,
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
    curl_multi_wakeup(D.multi);
    pthread_mutex_unlock(&D.mu);
    pthread_join(D.thread, NULL);
    pthread_mutex_lock(&D.mu);
    D.running = 0;
    D.notified = 0;
    pthread_mutex_unlock(&D.mu);
    release();
    pa_log(PA_LOG_INFO, "callback delivery stopped");
}

void pa_delivery_notify(void)
{
    pthread_mutex_lock(&D.mu);
    if (D.running) {
        D.notified = 1;
        /* thread-safe; interrupts (or pre-empts) curl_multi_poll */
        curl_multi_wakeup(D.multi);
    }
    pthread_mutex_unlock(&D.mu);
}
