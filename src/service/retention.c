/*
 * retention.c - the retention purge (retention.h; DESIGN.md "Work outside
 * a request").
 *
 * The original keeps every signature audit and activation history row
 * forever.  With audit_retention_ms or history_retention_ms set, this
 * thread deletes the rows of that table created more than the retention
 * ago: once right after start (a backlog from a downtime or from turning
 * retention on is cleared at once), then every
 * retention_purge_interval_ms.  Each batch is one short write transaction
 * on the thread's own connection deleting at most retention_purge_batch
 * rows, oldest first (pa_store_audit_purge, pa_store_history_purge); a
 * backlog is worked off batch after batch with a pause of BATCH_GAP_MS
 * between them, so that a request worker waiting for the write lock gets
 * it after at most one batch.  The cut of a pass is fixed when the pass
 * starts, so a pass ends even while new rows keep arriving.  Rows of
 * pa_activation and of every other table are never deleted.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "service/periodic.h"
#include "service/retention.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Pause between two batches, ms.  Writers of this process queue on the
 * store's gate and get the lock at once; SQLite's busy handler, which
 * another process's writer waits in, retries at least every 100 ms, so a
 * gap this long lets it in too. */
#define BATCH_GAP_MS 100

/* What one pass does, copied from the configuration. */
typedef struct policy {
    int64_t audit_ms;       /* 0 = keep audit rows */
    int64_t history_ms;     /* 0 = keep history rows */
    int batch;
} policy;

static void thread_pass(void);

static pa_periodic P = PA_PERIODIC_INIT("retention purge", thread_pass);
static policy pol;          /* the thread's */

typedef pa_err (*purge_fn)(pa_store *s, int64_t before_ms, int limit,
                           int *deleted);

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* now_ms - retention_ms without overflow (retention_ms >= 0). */
static int64_t cut_of(int64_t now_ms, int64_t retention_ms)
{
    if (now_ms < INT64_MIN + retention_ms)
        return INT64_MIN;
    return now_ms - retention_ms;
}

/* One batch in one write transaction; *deleted = rows deleted (0 when
 * the transaction failed and was rolled back). */
static pa_err purge_batch(pa_store *s, purge_fn fn, int64_t cut, int batch,
                          int *deleted)
{
    pa_err e;

    *deleted = 0;
    if ((e = pa_store_begin(s)) != PA_OK)
        return e;
    if ((e = fn(s, cut, batch, deleted)) == PA_OK)
        e = pa_store_commit(s);
    if (e != PA_OK) {
        char msg[256];
        /* keep the failure's message: the rollback may replace it */
        snprintf(msg, sizeof msg, "%s", pa_store_last_error());
        pa_store_rollback(s);
        *deleted = 0;
        pa_log(PA_LOG_ERROR, "retention purge: %s", msg);
    }
    return e;
}

/* Batches of one table until one is not full (or stop, on the thread). */
static pa_err purge_table(pa_store *s, purge_fn fn, int64_t cut, int batch,
                          int on_thread, int64_t *total)
{
    for (;;) {
        int n = 0;
        pa_err e = purge_batch(s, fn, cut, batch, &n);

        if (e != PA_OK)
            return e;
        *total += n;
        if (n < batch || (on_thread && pa_periodic_stopping(&P)))
            return PA_OK;
        if (on_thread)
            pa_periodic_wait(&P, BATCH_GAP_MS);
        else
            sleep_ms(BATCH_GAP_MS);
        if (on_thread && pa_periodic_stopping(&P))
            return PA_OK;
    }
}

/* "N <what> created before <cut>" into out. */
static void describe(char *out, size_t len, int64_t n, const char *what,
                     int64_t cut)
{
    char iso[PA_TIME_ISO_BUF];

    if (pa_time_format_iso(cut, iso) != PA_OK)
        snprintf(iso, sizeof iso, "%lld ms", (long long)cut);
    snprintf(out, len, "%lld %s created before %s", (long long)n, what, iso);
}

static pa_err pass(pa_store *s, const policy *p, int64_t now_ms, int on_thread,
                   int64_t *audit_deleted, int64_t *history_deleted)
{
    int64_t audit = 0, history = 0;
    int64_t audit_cut = cut_of(now_ms, p->audit_ms);
    int64_t history_cut = cut_of(now_ms, p->history_ms);
    pa_err e = PA_OK;

    if (p->audit_ms > 0)
        e = purge_table(s, pa_store_audit_purge, audit_cut, p->batch,
                        on_thread, &audit);
    if (e == PA_OK && p->history_ms > 0 &&
        !(on_thread && pa_periodic_stopping(&P)))
        e = purge_table(s, pa_store_history_purge, history_cut, p->batch,
                        on_thread, &history);
    if (audit + history > 0) {
        char a[128] = "", h[128] = "";
        if (p->audit_ms > 0)
            describe(a, sizeof a, audit, "signature audit rows", audit_cut);
        if (p->history_ms > 0)
            describe(h, sizeof h, history, "activation history rows",
                     history_cut);
        pa_log(PA_LOG_INFO, "retention purge: deleted %s%s%s", a,
               a[0] && h[0] ? " and " : "", h);
    }
    if (audit_deleted)
        *audit_deleted = audit;
    if (history_deleted)
        *history_deleted = history;
    return e;
}

/* Checks cfg's retention settings; fills p. */
static pa_err policy_of(const pa_config *cfg, policy *p)
{
    if (cfg->audit_retention_ms < 0 || cfg->history_retention_ms < 0 ||
        cfg->retention_purge_batch < 1)
        return PA_ERR_INVALID_REQUEST;
    p->audit_ms = cfg->audit_retention_ms;
    p->history_ms = cfg->history_retention_ms;
    p->batch = cfg->retention_purge_batch;
    return PA_OK;
}

pa_err pa_retention_pass(pa_store *s, const pa_config *cfg, int64_t now_ms,
                         int64_t *audit_deleted, int64_t *history_deleted)
{
    policy p;

    if (audit_deleted)
        *audit_deleted = 0;
    if (history_deleted)
        *history_deleted = 0;
    if (!s || !cfg || policy_of(cfg, &p) != PA_OK)
        return PA_ERR_INVALID_REQUEST;
    return pass(s, &p, now_ms, 0, audit_deleted, history_deleted);
}

static void thread_pass(void)
{
    /* errors are logged by the pass; the next one tries again */
    pass(P.store, &pol, pa_time_now_ms(), 1, NULL, NULL);
}

int pa_retention_running(void)
{
    return pa_periodic_running(&P);
}

/* "forever" or "N ms". */
static void kept(char *out, size_t len, int64_t retention_ms)
{
    if (retention_ms == 0)
        snprintf(out, len, "forever");
    else
        snprintf(out, len, "%lld ms", (long long)retention_ms);
}

pa_err pa_retention_start(const pa_config *cfg)
{
    pa_store_options opt = {.busy_timeout_ms = cfg->lock_timeout_ms};
    policy p;
    char a[32], h[32];
    pa_err e;

    if (pa_retention_running()) {
        pa_log(PA_LOG_ERROR, "retention purge: already running");
        return PA_ERR_UNKNOWN_ERROR;
    }
    if (policy_of(cfg, &p) != PA_OK) {
        pa_log(PA_LOG_ERROR, "retention purge: audit_retention_ms and "
               "history_retention_ms must not be negative, "
               "retention_purge_batch must be positive");
        return PA_ERR_INVALID_REQUEST;
    }
    if (p.audit_ms == 0 && p.history_ms == 0) {
        pa_log(PA_LOG_INFO, "retention purge off (audit_retention_ms and "
               "history_retention_ms are 0)");
        return PA_OK;
    }
    if (cfg->retention_purge_interval_ms < 1) {
        pa_log(PA_LOG_ERROR, "retention purge: retention_purge_interval_ms "
               "must be positive");
        return PA_ERR_INVALID_REQUEST;
    }
    pol = p;
    P.interval_ms = cfg->retention_purge_interval_ms;
    if (pa_store_open(cfg->database, &opt, &P.store) != PA_OK) {
        /* the store's message names the file */
        pa_log(PA_LOG_ERROR, "retention purge: %s", pa_store_last_error());
        P.store = NULL;
        return PA_ERR_UNKNOWN_ERROR;
    }
    if ((e = pa_periodic_start(&P)) != PA_OK)
        return e;
    kept(a, sizeof a, pol.audit_ms);
    kept(h, sizeof h, pol.history_ms);
    pa_log(PA_LOG_INFO, "retention purge started (every %d ms, %d rows per "
           "batch; signature audit kept %s, activation history kept %s)",
           P.interval_ms, pol.batch, a, h);
    return PA_OK;
}

void pa_retention_stop(void)
{
    pa_periodic_stop(&P);
}
