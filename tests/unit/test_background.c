/*
 * test_background.c - unit tests of the background threads: callback
 * delivery (src/service/delivery.c) and the expiry sweep
 * (src/service/sweep.c).
 *
 * Every test runs on a fresh migrated SQLite file in its own temporary
 * directory.  Callback receivers are a tiny HTTP/1.1 server on a loopback
 * port inside this program (plain sockets, one connection at a time, every
 * answer with Connection: close): it records the method, target,
 * Content-Type, Idempotency-Key and body of each request and answers with
 * a status the test chooses, or never (to test stopping), or is not
 * listening at all (connections refused).  A "sink" plays receivers that accept
 * every connection and never answer, on several ports, and records when
 * each connection was opened, carried its request and was closed (to see
 * how many transfers are in flight at once).  Outbox and activation rows are
 * checked with raw SQL on a separate connection, independently of the
 * store code.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "cunit_status.h"
#include <CUnit/CUnit.h>
#include <sqlite3.h>

#include "service/delivery.h"
#include "service/sweep.h"
#include "store/store.h"
#include "tests/unit/tempdb.h"
#include "util/config.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/uuid.h"

static char dir[PATH_MAX - 64];
static char path[PATH_MAX];
static pa_store *db;
static int64_t app_id;

/* ---- the receiver --------------------------------------------------------- */

#define RX_MAX 32

typedef struct rx_req {
    char method[16];
    char target[512];
    char ctype[128];
    char idem[160];
    char proxy_auth[160];
    char body[512];
    long content_length;
    int chunked;
    int64_t at_ms;          /* wall clock when the request was complete */
} rx_req;

typedef struct receiver {
    int fd, port;
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_int listening;
    atomic_int status;      /* answer status */
    atomic_int hang;        /* read the request, never answer */
    pthread_mutex_t mu;
    rx_req req[RX_MAX];
    int n;
} receiver;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Copies the value of header `name` (case-insensitive) from the header
 * block into out; "" when absent. */
static void header_value(const char *head, const char *name, char *out,
                         size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = strstr(head, "\r\n");

    out[0] = '\0';
    while (p != NULL && p[2] != '\0' && p[2] != '\r') {
        const char *line = p + 2, *end = strstr(line, "\r\n");
        if (end == NULL)
            return;
        if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 &&
            line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            snprintf(out, outlen, "%.*s", (int)(end - v), v);
            return;
        }
        p = end;
    }
}

/* Reads one request from c into r; 0 on success. */
static int rx_read(receiver *rx, int c, rx_req *r)
{
    char buf[8192], cl[32], te[64];
    size_t len = 0, head_len, want;
    char *eoh = NULL;
    int64_t deadline = pa_time_now_ms() + 5000;

    memset(r, 0, sizeof *r);
    while (eoh == NULL) {
        ssize_t got;
        if (atomic_load(&rx->stop) || pa_time_now_ms() > deadline ||
            len >= sizeof buf - 1)
            return -1;
        got = recv(c, buf + len, sizeof buf - 1 - len, 0);
        if (got == 0)
            return -1;
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            return -1;
        }
        len += (size_t)got;
        buf[len] = '\0';
        eoh = strstr(buf, "\r\n\r\n");
    }
    head_len = (size_t)(eoh - buf) + 4;
    eoh[2] = '\0';                            /* keep the last header's CRLF */
    sscanf(buf, "%15s %511s", r->method, r->target);
    header_value(buf, "Content-Type", r->ctype, sizeof r->ctype);
    header_value(buf, "Idempotency-Key", r->idem, sizeof r->idem);
    header_value(buf, "Proxy-Authorization", r->proxy_auth,
                 sizeof r->proxy_auth);
    header_value(buf, "Content-Length", cl, sizeof cl);
    header_value(buf, "Transfer-Encoding", te, sizeof te);
    r->chunked = te[0] != '\0';
    r->content_length = cl[0] ? strtol(cl, NULL, 10) : -1;
    want = r->content_length > 0 ? (size_t)r->content_length : 0;
    if (want >= sizeof r->body)
        return -1;
    /* the body bytes already read follow the header block */
    memmove(buf, buf + head_len, len - head_len);
    len -= head_len;
    while (len < want) {
        ssize_t got;
        if (atomic_load(&rx->stop) || pa_time_now_ms() > deadline)
            return -1;
        got = recv(c, buf + len, sizeof buf - 1 - len, 0);
        if (got == 0)
            return -1;
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            return -1;
        }
        len += (size_t)got;
    }
    memcpy(r->body, buf, want);
    r->body[want] = '\0';
    r->at_ms = pa_time_now_ms();
    return 0;
}

static void rx_serve(receiver *rx, int c)
{
    struct timeval tv = {0, 100000};
    char answer[160];
    rx_req r;
    int status, n;

    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (rx_read(rx, c, &r) != 0)
        return;
    pthread_mutex_lock(&rx->mu);
    if (rx->n < RX_MAX)
        rx->req[rx->n++] = r;
    pthread_mutex_unlock(&rx->mu);
    while (atomic_load(&rx->hang) && !atomic_load(&rx->stop))
        sleep_ms(10);
    if (atomic_load(&rx->stop))
        return;
    status = atomic_load(&rx->status);
    n = snprintf(answer, sizeof answer, "HTTP/1.1 %d Test\r\nContent-Length: "
                 "2\r\nConnection: close\r\n\r\nok", status);
    (void)!send(c, answer, (size_t)n, MSG_NOSIGNAL);
}

static void *rx_main(void *arg)
{
    receiver *rx = arg;

    while (!atomic_load(&rx->stop)) {
        struct pollfd p = {rx->fd, POLLIN, 0};
        int c;
        if (!atomic_load(&rx->listening)) {
            sleep_ms(10);
            continue;
        }
        if (poll(&p, 1, 50) <= 0)
            continue;
        if ((c = accept(rx->fd, NULL, NULL)) < 0)
            continue;
        rx_serve(rx, c);
        close(c);
    }
    return NULL;
}

/* Binds 127.0.0.1:0 (listening or, to refuse connections, not yet) and
 * starts the receiver thread, answering `status`. */
static void rx_start(receiver *rx, int listening, int status)
{
    struct sockaddr_in a = {0};
    socklen_t al = sizeof a;
    int one = 1;

    memset(rx, 0, sizeof *rx);
    pthread_mutex_init(&rx->mu, NULL);
    atomic_store(&rx->status, status);
    rx->fd = socket(AF_INET, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(rx->fd >= 0);
    setsockopt(rx->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_FATAL(bind(rx->fd, (struct sockaddr *)&a, sizeof a) == 0);
    CU_ASSERT_FATAL(getsockname(rx->fd, (struct sockaddr *)&a, &al) == 0);
    rx->port = ntohs(a.sin_port);
    if (listening) {
        CU_ASSERT_FATAL(listen(rx->fd, 16) == 0);
        atomic_store(&rx->listening, 1);
    }
    CU_ASSERT_FATAL(pthread_create(&rx->thread, NULL, rx_main, rx) == 0);
    rx->started = 1;
}

/* The receiver comes (back) up. */
static void rx_listen(receiver *rx)
{
    CU_ASSERT_FATAL(listen(rx->fd, 16) == 0);
    atomic_store(&rx->listening, 1);
}

static void rx_stop(receiver *rx)
{
    if (!rx->started)
        return;
    atomic_store(&rx->stop, 1);
    pthread_join(rx->thread, NULL);
    close(rx->fd);
    pthread_mutex_destroy(&rx->mu);
    rx->started = 0;
}

static int rx_count(receiver *rx)
{
    int n;

    pthread_mutex_lock(&rx->mu);
    n = rx->n;
    pthread_mutex_unlock(&rx->mu);
    return n;
}

static rx_req rx_get(receiver *rx, int i)
{
    rx_req r;

    pthread_mutex_lock(&rx->mu);
    r = rx->req[i];
    pthread_mutex_unlock(&rx->mu);
    return r;
}

/* ---- fixtures ---------------------------------------------------------------- */

static void setup(void)
{
    pa_tempdb_make("pa-bg", dir, sizeof dir, path, sizeof path);
    if (pa_store_migrate(path, NULL) != PA_OK ||
        pa_store_open(path, NULL, &db) != PA_OK ||
        pa_store_application_create(db, "bg-app", &app_id) != PA_OK) {
        fprintf(stderr, "setup: %s\n", pa_store_last_error());
        abort();
    }
}

static void teardown(void)
{
    pa_sweep_stop();
    pa_delivery_stop();
    pa_store_close(db);
    db = NULL;
    pa_tempdb_remove(dir, path);
}

/* Defaults on this test's database, with short retry delays. */
static void test_cfg(pa_config *c)
{
    if (pa_config_defaults(c) != PA_OK)
        abort();
    free(c->database);
    c->database = strdup(path);
    c->callback_connect_timeout_ms = 2000;
    c->callback_timeout_ms = 5000;
    c->callback_retry_initial_ms = 200;
    c->callback_retry_max_ms = 400;
}

static void add_callback(char id[PA_UUID_BUF], const char *url)
{
    CU_ASSERT_EQUAL_FATAL(pa_uuid_v4(id), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_callback_create(db, id, app_id, "cb", url),
                          PA_OK);
}

/* "http://<userinfo>127.0.0.1:<port><rest>" */
static void url_of(char *out, size_t len, const receiver *rx,
                   const char *userinfo, const char *rest)
{
    snprintf(out, len, "http://%s127.0.0.1:%d%s", userinfo, rx->port, rest);
}

static void add_activation(char id[PA_UUID_BUF], int status, int64_t expire_ms)
{
    pa_store_activation a = {0};
    int64_t now = pa_time_now_ms();

    CU_ASSERT_EQUAL_FATAL(pa_uuid_v4(id), PA_OK);
    a.activation_id = id;
    a.application_id = app_id;
    a.user_id = (char *)"user-1";
    a.activation_code = (char *)"AAAAA-AAAAA-AAAAA-AAAAA";
    a.status = status;
    a.server_private_key = (char *)"AQID";
    a.server_public_key = (char *)"BAUG";
    a.counter = 0;
    a.max_failed_attempts = 5;
    a.created_ms = now - 10000;
    a.expire_ms = expire_ms;
    a.last_used_ms = now - 10000;
    a.last_change_ms = now - 10000;
    a.has_last_change = 1;
    a.version = status >= PA_STATUS_ACTIVE ? 3 : 0;
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);
}

/* Queues one event of an activation; returns the rows written. */
static int add_event(char event[PA_UUID_BUF], const char *activation_id,
                     int64_t created_ms)
{
    int rows = -1;

    CU_ASSERT_EQUAL_FATAL(pa_uuid_v4(event), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_outbox_add(db, event, app_id, activation_id,
                                              created_ms, &rows), PA_OK);
    return rows;
}

/* ---- independent checks (raw SQL on a separate connection) ------------------- */

/* The single integer answer of a query with an optional text parameter;
 * -1 on failure or no row, -2 for NULL. */
static long long q_int(const char *sql, const char *text)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;

    if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK) {
        if (text)
            sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_type(st, 0) == SQLITE_NULL
                    ? -2 : sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

static long long outbox_rows(void)
{
    return q_int("SELECT COUNT(*) FROM pa_callback_outbox", NULL);
}

static long long event_attempts(const char *event)
{
    return q_int("SELECT attempts FROM pa_callback_outbox WHERE event_id = ?",
                 event);
}

static long long event_next(const char *event)
{
    return q_int("SELECT timestamp_next_attempt FROM pa_callback_outbox "
                 "WHERE event_id = ?", event);
}

static long long status_of(const char *activation_id)
{
    return q_int("SELECT activation_status FROM pa_activation "
                 "WHERE activation_id = ?", activation_id);
}

/* Polls cond every 5 ms for up to timeout_ms, then asserts it. */
#define CHECK_SOON(cond, timeout_ms)                                        \
    do {                                                                    \
        int64_t until_ = pa_time_now_ms() + (timeout_ms);                   \
        while (!(cond) && pa_time_now_ms() < until_)                        \
            sleep_ms(5);                                                    \
        CU_ASSERT(cond);                                                    \
    } while (0)

/* The log, captured for the tests that check what it says (and shown
 * on stderr when PA_TEST_SHOW_LOG is set). */
static FILE *logf_;

static void log_capture(void)
{
    logf_ = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(logf_);
    pa_log_open(PA_LOG_DEBUG, PA_LOG_TARGET_STDERR);
    pa_log_set_stream(logf_);
}

/* Ends the capture; the text, malloc'ed. */
static char *log_text(void)
{
    long n;
    char *s;

    pa_log_set_stream(NULL);
    pa_log_open(PA_LOG_WARN, PA_LOG_TARGET_STDERR);
    fflush(logf_);
    n = ftell(logf_);
    rewind(logf_);
    s = calloc(1, (size_t)n + 1);
    if (s != NULL && fread(s, 1, (size_t)n, logf_) != (size_t)n)
        s[0] = '\0';
    fclose(logf_);
    logf_ = NULL;
    if (s != NULL && getenv("PA_TEST_SHOW_LOG") != NULL)
        fputs(s, stderr);
    return s;
}

static int64_t mono_ms(void)
{
    return pa_time_mono_us() / 1000;
}

/* ---- the sink: accepts every connection, reads, never answers ------------- */

/* Listening sockets of one sink and connections it keeps track of. */
#define SINK_PORTS 4
#define SINK_CONNS 32

typedef struct sink_conn {
    int fd;                  /* -1 once the client closed it */
    int port;                /* index of its listening socket */
    int64_t opened_ms;       /* monotonic: accepted */
    int64_t request_ms;      /* monotonic: header block read; 0 before */
    int64_t closed_ms;       /* monotonic: closed by the client; 0 before */
    char head[2048];
    size_t len;
    char idem[160];
} sink_conn;

/* One thread for every port, so that what it records is in the order it
 * happened: in each round the open connections (requests, closes) are
 * read before new connections are accepted. */
typedef struct sink {
    int nports;
    int lfd[SINK_PORTS], port[SINK_PORTS];
    pthread_t thread;
    int started;
    atomic_int stop;
    pthread_mutex_t mu;
    sink_conn conn[SINK_CONNS];
    int n;                   /* connections accepted */
    int open, max_open;      /* all ports together */
    int port_open[SINK_PORTS], port_max_open[SINK_PORTS];
} sink;

static void sink_read(sink *s, sink_conn *c)
{
    char buf[512];
    ssize_t got = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);

    if (got > 0) {
        size_t take = (size_t)got;
        pthread_mutex_lock(&s->mu);
        if (take > sizeof c->head - 1 - c->len)
            take = sizeof c->head - 1 - c->len;
        memcpy(c->head + c->len, buf, take);
        c->len += take;
        c->head[c->len] = '\0';
        if (c->request_ms == 0 && strstr(c->head, "\r\n\r\n") != NULL) {
            header_value(c->head, "Idempotency-Key", c->idem, sizeof c->idem);
            c->request_ms = mono_ms();
        }
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    pthread_mutex_lock(&s->mu);
    close(c->fd);
    c->fd = -1;
    c->closed_ms = mono_ms();
    s->open--;
    s->port_open[c->port]--;
    pthread_mutex_unlock(&s->mu);
}

static void sink_accept(sink *s, int k)
{
    int c;

    while ((c = accept(s->lfd[k], NULL, NULL)) >= 0) {
        pthread_mutex_lock(&s->mu);
        if (s->n >= SINK_CONNS) {
            pthread_mutex_unlock(&s->mu);
            close(c);
            continue;
        }
        memset(&s->conn[s->n], 0, sizeof s->conn[s->n]);
        s->conn[s->n].fd = c;
        s->conn[s->n].port = k;
        s->conn[s->n].opened_ms = mono_ms();
        s->n++;
        if (++s->open > s->max_open)
            s->max_open = s->open;
        if (++s->port_open[k] > s->port_max_open[k])
            s->port_max_open[k] = s->port_open[k];
        pthread_mutex_unlock(&s->mu);
    }
}

static void *sink_main(void *arg)
{
    sink *s = arg;

    while (!atomic_load(&s->stop)) {
        struct pollfd p[SINK_CONNS + SINK_PORTS];
        int which[SINK_CONNS], nc = 0;

        /* only this thread changes fd and n */
        for (int i = 0; i < s->n; i++)
            if (s->conn[i].fd >= 0) {
                p[nc] = (struct pollfd){s->conn[i].fd, POLLIN, 0};
                which[nc++] = i;
            }
        for (int k = 0; k < s->nports; k++)
            p[nc + k] = (struct pollfd){s->lfd[k], POLLIN, 0};
        if (poll(p, (nfds_t)(nc + s->nports), 20) <= 0)
            continue;
        for (int j = 0; j < nc; j++)
            if (p[j].revents != 0)
                sink_read(s, &s->conn[which[j]]);
        for (int k = 0; k < s->nports; k++)
            if (p[nc + k].revents & POLLIN)
                sink_accept(s, k);
    }
    return NULL;
}

/* Listens on nports loopback ports and starts the sink's thread. */
static void sink_start(sink *s, int nports)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->nports = nports;
    for (int k = 0; k < nports; k++) {
        struct sockaddr_in a = {0};
        socklen_t al = sizeof a;
        int one = 1;
        s->lfd[k] = socket(AF_INET, SOCK_STREAM, 0);
        CU_ASSERT_FATAL(s->lfd[k] >= 0);
        setsockopt(s->lfd[k], SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CU_ASSERT_FATAL(bind(s->lfd[k], (struct sockaddr *)&a, sizeof a) == 0);
        CU_ASSERT_FATAL(getsockname(s->lfd[k], (struct sockaddr *)&a, &al) == 0);
        CU_ASSERT_FATAL(fcntl(s->lfd[k], F_SETFL, O_NONBLOCK) == 0);
        CU_ASSERT_FATAL(listen(s->lfd[k], 16) == 0);
        s->port[k] = ntohs(a.sin_port);
    }
    CU_ASSERT_FATAL(pthread_create(&s->thread, NULL, sink_main, s) == 0);
    s->started = 1;
}

static void sink_stop(sink *s)
{
    if (!s->started)
        return;
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    for (int i = 0; i < s->n; i++)
        if (s->conn[i].fd >= 0)
            close(s->conn[i].fd);
    for (int k = 0; k < s->nports; k++)
        close(s->lfd[k]);
    pthread_mutex_destroy(&s->mu);
    s->started = 0;
}

/* What the sink saw on port k (-1: every port): connections accepted,
 * requests read, connections closed. */
typedef struct sink_counts {
    int accepted, requests, closed;
} sink_counts;

static sink_counts sink_count(sink *s, int k)
{
    sink_counts c = {0, 0, 0};

    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n; i++)
        if (k < 0 || s->conn[i].port == k) {
            c.accepted++;
            c.requests += s->conn[i].request_ms != 0;
            c.closed += s->conn[i].fd < 0;
        }
    pthread_mutex_unlock(&s->mu);
    return c;
}

/* The i-th connection accepted on port k (fd < 0 and opened_ms 0 when
 * there is none). */
static sink_conn sink_get(sink *s, int k, int i)
{
    sink_conn c;

    memset(&c, 0, sizeof c);
    c.fd = -1;
    pthread_mutex_lock(&s->mu);
    for (int j = 0; j < s->n; j++)
        if (s->conn[j].port == k && i-- == 0) {
            c = s->conn[j];
            break;
        }
    pthread_mutex_unlock(&s->mu);
    return c;
}

/* Most connections open at once on port k (-1: on every port together). */
static int sink_peak(sink *s, int k)
{
    int n;

    pthread_mutex_lock(&s->mu);
    n = k < 0 ? s->max_open : s->port_max_open[k];
    pthread_mutex_unlock(&s->mu);
    return n;
}

static int sink_url(char *out, size_t len, const sink *s, int k,
                    const char *rest)
{
    return snprintf(out, len, "http://127.0.0.1:%d%s", s->port[k], rest);
}

/* ---- delivery ------------------------------------------------------------------ */

static void test_backoff(void)
{
    /* d = initial * 2^(attempts-1), capped; result in [d/2, d] */
    static const struct {
        int attempts;
        int64_t d;
    } cases[] = {{1, 1000}, {2, 2000}, {3, 4000}, {10, 512000}, {11, 600000},
                 {12, 600000}, {1000, 600000}, {INT_MAX, 600000}};

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t d = cases[i].d, lo = d / 2;
        CU_ASSERT_EQUAL(pa_delivery_backoff_ms(1000, 600000, cases[i].attempts,
                                               0), lo);
        CU_ASSERT_EQUAL(pa_delivery_backoff_ms(1000, 600000, cases[i].attempts,
                                               (uint64_t)(d - lo)), d);
        for (uint64_t r = 1; r < 2000000; r = r * 7 + 3) {
            int64_t v = pa_delivery_backoff_ms(1000, 600000, cases[i].attempts,
                                               r * 0x9E3779B97F4A7C15ULL);
            CU_ASSERT(v >= lo && v <= d);
        }
    }
    /* the jitter spreads: both halves of the range are drawn */
    int low = 0, high = 0;
    for (uint64_t r = 0; r < 1000; r++) {
        int64_t v = pa_delivery_backoff_ms(1000, 600000, 1,
                                           r * 0x9E3779B97F4A7C15ULL);
        low += v < 750;
        high += v >= 750;
    }
    CU_ASSERT(low > 300 && high > 300);
    /* a cap below the initial delay, and no overflow near the limits */
    CU_ASSERT_EQUAL(pa_delivery_backoff_ms(5000, 100, 3, 0), 2500);
    CU_ASSERT(pa_delivery_backoff_ms(86400000, 86400000, 50, ~0ULL) <= 86400000);
}

static void test_delivery_body_and_headers(void)
{
    receiver rx;
    pa_config cfg;
    char cb[PA_UUID_BUF], act[PA_UUID_BUF], ev[PA_UUID_BUF], url[256];
    char body[512], key[512];
    rx_req r;

    rx_start(&rx, 1, 200);
    url_of(url, sizeof url, &rx, "", "/cb/hook?x=1&y=2");
    add_callback(cb, url);
    add_activation(act, PA_STATUS_CREATED, pa_time_now_ms() + 60000);
    test_cfg(&cfg);
    /* started on an empty outbox; the row comes later with a notification */
    CU_ASSERT_EQUAL_FATAL(pa_delivery_start(&cfg), PA_OK);
    sleep_ms(50);
    CU_ASSERT_EQUAL(add_event(ev, act, pa_time_now_ms()), 1);
    pa_delivery_notify();
    CHECK_SOON(rx_count(&rx) == 1 && outbox_rows() == 0, 5000);
    CU_ASSERT_EQUAL_FATAL(rx_count(&rx), 1);
    r = rx_get(&rx, 0);
    snprintf(body, sizeof body, "{\"activationId\":\"%s\"}", act);
    snprintf(key, sizeof key, "%s:%s", ev, cb);
    CU_ASSERT_STRING_EQUAL(r.method, "POST");
    CU_ASSERT_STRING_EQUAL(r.target, "/cb/hook?x=1&y=2");
    CU_ASSERT_STRING_EQUAL(r.ctype, "application/json");
    CU_ASSERT_STRING_EQUAL(r.idem, key);
    CU_ASSERT_STRING_EQUAL(r.body, body);
    CU_ASSERT_EQUAL(r.content_length, (long)strlen(body));
    CU_ASSERT_FALSE(r.chunked);
    /* delivered once, and stopping an idle thread is quick */
    sleep_ms(300);
    CU_ASSERT_EQUAL(rx_count(&rx), 1);
    int64_t t0 = mono_ms();
    pa_delivery_stop();
    CU_ASSERT(mono_ms() - t0 < 1000);
    /* a second stop and a notification without a thread are harmless */
    pa_delivery_stop();
    pa_delivery_notify();
    pa_config_free(&cfg);
    rx_stop(&rx);
}

/* 500 answers: retried with a doubling, jittered delay recorded in the
 * row, the same Idempotency-Key every time, dropped after the last
 * attempt; the log names host, status and attempt, never path, query,
 * credentials or body. */
static void test_retry_and_max_attempts(void)
{
    receiver rx;
    pa_config cfg;
    char cb[PA_UUID_BUF], act[PA_UUID_BUF], ev[PA_UUID_BUF], url[256];
    char key[512], *log;
    rx_req r[3];

    rx_start(&rx, 1, 500);
    url_of(url, sizeof url, &rx, "svcuser:pw-9f3k@", "/cb/hook/p4th?token=s3cr3t");
    add_callback(cb, url);
    add_activation(act, PA_STATUS_CREATED, pa_time_now_ms() + 60000);
    CU_ASSERT_EQUAL(add_event(ev, act, pa_time_now_ms()), 1);
    test_cfg(&cfg);
    cfg.callback_retry_initial_ms = 400;
    cfg.callback_retry_max_ms = 1600;
    cfg.callback_max_attempts = 3;
    log_capture();
    CU_ASSERT_EQUAL_FATAL(pa_delivery_start(&cfg), PA_OK);
    /* attempt 1 fails: attempts 1, next in [200, 400] ms (+ slack) */
    CHECK_SOON(rx_count(&rx) >= 1, 5000);
    CHECK_SOON(event_attempts(ev) == 1, 2000);
    r[0] = rx_get(&rx, 0);
    long long next = event_next(ev);
    CU_ASSERT(next >= r[0].at_ms + 200 && next <= r[0].at_ms + 400 + 500);
    /* attempt 2 fails: attempts 2, next in [400, 800] ms */
    CHECK_SOON(rx_count(&rx) >= 2, 5000);
    CHECK_SOON(event_attempts(ev) == 2, 2000);
    r[1] = rx_get(&rx, 1);
    next = event_next(ev);
    CU_ASSERT(next >= r[1].at_ms + 400 && next <= r[1].at_ms + 800 + 500);
    /* attempt 3 is the last one: the row goes */
    CHECK_SOON(rx_count(&rx) >= 3, 5000);
    CHECK_SOON(outbox_rows() == 0, 2000);
    r[2] = rx_get(&rx, 2);
    sleep_ms(1000);
    pa_delivery_stop();
    CU_ASSERT_EQUAL(rx_count(&rx), 3);
    /* the delays grew (lower bounds 200, 400; 5 ms of clock rounding) */
    CU_ASSERT(r[1].at_ms - r[0].at_ms >= 195);
    CU_ASSERT(r[2].at_ms - r[1].at_ms >= 395);
    snprintf(key, sizeof key, "%s:%s", ev, cb);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_STRING_EQUAL(r[i].idem, key);
    log = log_text();
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "attempt 1 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "attempt 2 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "attempt 3 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "HTTP status 500"));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "host 127.0.0.1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "WARN"));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "giving up"));
    CU_ASSERT_PTR_NULL(strstr(log, "s3cr3t"));
    CU_ASSERT_PTR_NULL(strstr(log, "p4th"));
    CU_ASSERT_PTR_NULL(strstr(log, "svcuser"));
    CU_ASSERT_PTR_NULL(strstr(log, "pw-9f3k"));
    CU_ASSERT_PTR_NULL(strstr(log, "activationId"));
    free(log);
    pa_config_free(&cfg);
    rx_stop(&rx);
}

/* Connections refused, the server restarts, the receiver comes back: the
 * row survives the restart and the event arrives with its key. */
static void test_receiver_comes_back(void)
{
    receiver rx;
    pa_config cfg;
    char cb[PA_UUID_BUF], act[PA_UUID_BUF], ev[PA_UUID_BUF], url[256];
    char key[512], body[512], *log;
    rx_req r;

    rx_start(&rx, 0, 200);
    url_of(url, sizeof url, &rx, "", "/cb");
    add_callback(cb, url);
    add_activation(act, PA_STATUS_PENDING_COMMIT, pa_time_now_ms() + 60000);
    CU_ASSERT_EQUAL(add_event(ev, act, pa_time_now_ms()), 1);
    test_cfg(&cfg);
    log_capture();
    CU_ASSERT_EQUAL_FATAL(pa_delivery_start(&cfg), PA_OK);
    CHECK_SOON(event_attempts(ev) >= 2, 5000);
    pa_delivery_stop();
    CU_ASSERT(event_attempts(ev) >= 2);
    CU_ASSERT_EQUAL(rx_count(&rx), 0);
    log = log_text();
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    /* libcurl's text for the refused connection, with the host only */
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "attempt 1 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "host 127.0.0.1"));
    CU_ASSERT_PTR_NULL(strstr(log, "HTTP status"));
    free(log);
    rx_listen(&rx);
    CU_ASSERT_EQUAL_FATAL(pa_delivery_start(&cfg), PA_OK);
    CHECK_SOON(outbox_rows() == 0, 5000);
    CU_ASSERT_EQUAL_FATAL(rx_count(&rx), 1);
    r = rx_get(&rx, 0);
    snprintf(key, sizeof key, "%s:%s", ev, cb);
    snprintf(body, sizeof body, "{\"activationId\":\"%s\"}", act);
    CU_ASSERT_STRING_EQUAL(r.idem, key);
    CU_ASSERT_STRING_EQUAL(r.body, body);
    pa_delivery_stop();
    pa_config_free(&cfg);
    rx_stop(&rx);
}

/* A row of a callback removed after the event is dropped without a
 * request; the application's other callback still gets its own. */
static void test_removed_callback(void)
{
    receiver rx;
    pa_config cfg;
    char cb1[PA_UUID_BUF], cb2[PA_UUID_BUF], act[PA_UUID_BUF], ev[PA_UUID_BUF];
    char url1[256], url2[256], key[512];
    int found = 0;

    rx_start(&rx, 1, 200);
    url_of(url1, sizeof url1, &rx, "", "/removed");
    url_of(url2, sizeof url2, &rx, "", "/kept");
    add_callback(cb1, url1);
    add_callback(cb2, url2);
    add_activation(act, PA_STATUS_CREATED, pa_time_now_ms() + 60000);
    CU_ASSERT_EQUAL(add_event(ev, act, pa_time_now_ms()), 2);
    CU_ASSERT_EQUAL(pa_store_callback_remove(db, cb1, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    test_cfg(&cfg);
    CU_ASSERT_EQUAL_FATAL(pa_delivery_start(&cfg), PA_OK);
    CHECK_SOON(outbox_rows() == 0, 5000);
    sleep_ms(300);
    pa_delivery_stop();
    CU_ASSERT_EQUAL_FATAL(rx_count(&rx), 1);
    snprintf(key, sizeof key, "%s:%s", ev, cb2);
    CU_ASSERT_STRING_EQUAL(rx_get(&rx, 0).target, "/kept");
    CU_ASSERT_STRING_EQUAL(rx_get(&rx, 0).idem, key);
    pa_config_free(&cfg);
    rx_stop(&rx);
}

/* A URL libcurl must never fetch (another scheme; stored by hand, as the
 * service refuses it) is dropped at once, unsent; an activation id that
 * is not a plain UUID (imported data) is escaped inside the JSON body. */
static void test_undeliverable_and_escaping(void)
{
    receiver rx;
    pa_config cfg;
    char cb1[PA_UUID_BUF], cb2[PA_UUID_BUF], ev[PA_UUID_BUF];
    char url1[256], url2[256], *log;
    const char *odd = "odd\"id\\1";
    pa_store_activation a = {0};
    int64_t now = pa_time_now_ms();

    rx_start(&rx, 1, 200);
    snprintf(url1, sizeof url1, "ftp://127.0.0.1:%d/x", rx.port);
    url_of(url2, sizeof url2, &rx, "", "/ok");
    add_callback(cb1, url1);
    add_callback(cb2, url2);
    a.activation_id = (char *)odd;
    a.application_id = app_id;
    a.user_id = (char *)"user-1";
    a.status = PA_STATUS_CREATED;
    a.server_private_key = (char *)"AQID";
    a.server_public_key = (char *)"BAUG";
    a.created_ms = a.last_used_ms = now;
    a.expire_ms = now + 60000;
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);
    CU_ASSERT_EQUAL(add_event(ev, odd, now), 2);
    test_cfg(&cfg);
    log_capture();
    CU_ASSERT_EQUAL_FATAL(pa_delivery_start(&cfg), PA_OK);
    CHECK_SOON(outbox_rows() == 0, 5000);
    sleep_ms(200);
    pa_delivery_stop();
    CU_ASSERT_EQUAL_FATAL(rx_count(&rx), 1);
    CU_ASSERT_STRING_EQUAL(rx_get(&rx, 0).target, "/ok");
    CU_ASSERT_STRING_EQUAL(rx_get(&rx, 0).body,
                           "{\"activationId\":\"odd\\\"id\\\\1\"}");
    log = log_text();
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "cannot be sent"));
    CU_ASSERT_PTR_NULL(log && strstr(log, "attempt 1 "));
    free(log);
    pa_config_free(&cfg);
    rx_stop(&rx);
}

/* Through the configured HTTP proxy (the receiver plays the proxy): the
 * request line carries the absolute URL, with the proxy credentials. */
static void test_proxy(void)
{
    receiver rx;
    pa_config cfg;
    char cb[PA_UUID_BUF], act[PA_UUID_BUF], ev[PA_UUID_BUF], key[512];

    rx_start(&rx, 1, 204);
    add_callback(cb, "http://callback.invalid:8123/hook?q=1");
    add_activation(act, PA_STATUS_CREATED, pa_time_now_ms() + 60000);
    CU_ASSERT_EQUAL(add_event(ev, act, pa_time_now_ms()), 1);
    test_cfg(&cfg);
    cfg.proxy_enabled = true;
    free(cfg.proxy_host);
    cfg.proxy_host = strdup("127.0.0.1");
    cfg.proxy_port = rx.port;
    free(cfg.proxy_username);
    cfg.proxy_username = strdup("pxuser");
    cfg.proxy_password = strdup("pxpass");
    CU_ASSERT_EQUAL_FATAL(pa_delivery_start(&cfg), PA_OK);
    CHECK_SOON(outbox_rows() == 0, 5000);
    pa_delivery_stop();
    CU_ASSERT_EQUAL_FATAL(rx_count(&rx), 1);
    snprintf(key, sizeof key, "%s:%s", ev, cb);
    CU_ASSERT_STRING_EQUAL(rx_get(&rx, 0).target,
                           "http://callback.invalid:8123/hook?q=1");
    CU_ASSERT_STRING_EQUAL(rx_get(&rx, 0).proxy_auth,
                           "Basic cHh1c2VyOnB4cGFzcw==");
    CU_ASSERT_STRING_EQUAL(rx_get(&rx, 0).idem, key);
    pa_config_free(&cfg);
    rx_stop(&rx);
}

/* An event older than callback_max_age_ms is dropped unsent. */
static void test_too_old(void)
{
    receiver rx;
    pa_config cfg;
    char cb[PA_UUID_BUF], act[PA_UUID_BUF], ev[PA_UUID_BUF], url[256], *log;

    rx_start(&rx, 1, 200);
    url_of(url, sizeof url, &rx, "", "/cb");
    add_callback(cb, url);
    add_activation(act, PA_STATUS_CREATED, pa_time_now_ms() + 60000);
    test_cfg(&cfg);
    CU_ASSERT_EQUAL(cfg.callback_max_age_ms, 86400000);
    CU_ASSERT_EQUAL(add_event(ev, act, pa_time_now_ms() - 2 * 86400000LL), 1);
    log_capture();
    CU_ASSERT_EQUAL_FATAL(pa_delivery_start(&cfg), PA_OK);
    CHECK_SOON(outbox_rows() == 0, 5000);
    sleep_ms(200);
    pa_delivery_stop();
    CU_ASSERT_EQUAL(rx_count(&rx), 0);
    log = log_text();
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "older than"));
    free(log);
    pa_config_free(&cfg);
    rx_stop(&rx);
}

/* Over callback_outbox_max rows, the oldest are dropped with a warning. */
static void test_trim(void)
{
    receiver rx;
    pa_config cfg;
    char cb[PA_UUID_BUF], act[PA_UUID_BUF], ev[5][PA_UUID_BUF], url[256], *log;
    int64_t later = pa_time_now_ms() + 3600000;

    rx_start(&rx, 1, 200);
    url_of(url, sizeof url, &rx, "", "/cb");
    add_callback(cb, url);
    add_activation(act, PA_STATUS_CREATED, pa_time_now_ms() + 60000);
    /* not due for an hour, so nothing is sent meanwhile */
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(add_event(ev[i], act, later), 1);
    test_cfg(&cfg);
    cfg.callback_outbox_max = 3;
    log_capture();
    CU_ASSERT_EQUAL_FATAL(pa_delivery_start(&cfg), PA_OK);
    CHECK_SOON(outbox_rows() == 3, 5000);
    pa_delivery_stop();
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(event_attempts(ev[i]), i < 2 ? -1 : 0);
    CU_ASSERT_EQUAL(rx_count(&rx), 0);
    log = log_text();
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "dropped the 2 oldest"));
    free(log);
    pa_config_free(&cfg);
    rx_stop(&rx);
}

/* A receiver that never answers does not hold up the stop; the row stays
 * queued and is not counted as a failed attempt. */
static void test_stop_while_receiver_hangs(void)
{
    receiver rx;
    pa_config cfg;
    char cb[PA_UUID_BUF], act[PA_UUID_BUF], ev[PA_UUID_BUF], url[256];
    int64_t t0, took;

    rx_start(&rx, 1, 200);
    atomic_store(&rx.hang, 1);
    url_of(url, sizeof url, &rx, "", "/slow");
    add_callback(cb, url);
    add_activation(act, PA_STATUS_CREATED, pa_time_now_ms() + 60000);
    CU_ASSERT_EQUAL(add_event(ev, act, pa_time_now_ms()), 1);
    test_cfg(&cfg);
    cfg.callback_timeout_ms = 60000;
    CU_ASSERT_EQUAL_FATAL(pa_delivery_start(&cfg), PA_OK);
    CHECK_SOON(rx_count(&rx) == 1, 5000);
    sleep_ms(100);
    t0 = mono_ms();
    pa_delivery_stop();
    took = mono_ms() - t0;
    CU_ASSERT(took < 2500);
    if (took >= 2500)
        fprintf(stderr, "\nstop took %lld ms\n", (long long)took);
    CU_ASSERT_EQUAL(event_attempts(ev), 0);
    pa_config_free(&cfg);
    rx_stop(&rx);
}

/* Application A's receiver accepts the connection and never answers;
 * application B's answers.  B's event, written after a backlog of A's
 * (more than one batch of due rows), is delivered while A's first attempt
 * is still in flight: what happens first is B's delivery, not the end of
 * A's attempt. */
static void test_hanging_receiver_isolated(void)
{
    sink sk;
    receiver rx;
    pa_config cfg;
    char cba[PA_UUID_BUF], cbb[PA_UUID_BUF], act[PA_UUID_BUF];
    enum { NA = 100 };
    char eva[NA][PA_UUID_BUF], evb[PA_UUID_BUF], url[256], key[512];
    int64_t app_b = 0, until;
    int rows = -1;
    long long b_row, a_failed;
    sink_counts a;

    sink_start(&sk, 1);
    rx_start(&rx, 1, 200);
    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "bg-app-b", &app_b),
                          PA_OK);
    sink_url(url, sizeof url, &sk, 0, "/a");
    add_callback(cba, url);
    url_of(url, sizeof url, &rx, "", "/b");
    CU_ASSERT_EQUAL_FATAL(pa_uuid_v4(cbb), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_callback_create(db, cbb, app_b, "cb", url),
                          PA_OK);
    add_activation(act, PA_STATUS_CREATED, pa_time_now_ms() + 60000);
    for (int i = 0; i < NA; i++)
        CU_ASSERT_EQUAL(add_event(eva[i], act, pa_time_now_ms()), 1);
    CU_ASSERT_EQUAL_FATAL(pa_uuid_v4(evb), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_outbox_add(db, evb, app_b, act,
                                              pa_time_now_ms(), &rows), PA_OK);
    CU_ASSERT_EQUAL(rows, 1);
    test_cfg(&cfg);
    cfg.callback_timeout_ms = 3000;
    CU_ASSERT_EQUAL_FATAL(pa_delivery_start(&cfg), PA_OK);
    /* whichever comes first: B delivered, or A's attempt over */
    until = mono_ms() + 30000;
    while (mono_ms() < until && event_attempts(evb) != -1 &&
           sink_count(&sk, 0).closed == 0 && event_attempts(eva[0]) == 0)
        sleep_ms(5);
    b_row = event_attempts(evb);
    a = sink_count(&sk, 0);
    a_failed = q_int("SELECT COUNT(*) FROM pa_callback_outbox WHERE "
                     "attempts > 0", NULL);
    CU_ASSERT_EQUAL(b_row, -1);               /* B's row is gone ... */
    CU_ASSERT_EQUAL(rx_count(&rx), 1);
    CU_ASSERT_EQUAL(a.closed, 0);             /* ... A's attempt goes on */
    CU_ASSERT(a.accepted <= 1);
    CU_ASSERT_EQUAL(a_failed, 0);
    CU_ASSERT_EQUAL(outbox_rows(), NA);
    if (rx_count(&rx) >= 1) {
        snprintf(key, sizeof key, "%s:%s", evb, cbb);
        CU_ASSERT_STRING_EQUAL(rx_get(&rx, 0).target, "/b");
        CU_ASSERT_STRING_EQUAL(rx_get(&rx, 0).idem, key);
    }
    /* A's first attempt carries its oldest event, then times out and
     * counts as failed */
    CHECK_SOON(sink_count(&sk, 0).requests >= 1, 5000);
    snprintf(key, sizeof key, "%s:%s", eva[0], cba);
    CU_ASSERT_STRING_EQUAL(sink_get(&sk, 0, 0).idem, key);
    CHECK_SOON(event_attempts(eva[0]) == 1, 15000);
    CU_ASSERT(sink_get(&sk, 0, 0).closed_ms != 0);
    pa_delivery_stop();
    CU_ASSERT_EQUAL(sink_peak(&sk, -1), 1);
    pa_config_free(&cfg);
    rx_stop(&rx);
    sink_stop(&sk);
}

/* Three events for one URL whose receiver never answers: one connection
 * at a time, and the first attempts in the order of the events. */
static void test_one_transfer_per_url(void)
{
    sink sk;
    pa_config cfg;
    char cb[PA_UUID_BUF], act[PA_UUID_BUF], ev[3][PA_UUID_BUF];
    char url[256], key[512];
    sink_conn c[3];

    sink_start(&sk, 1);
    sink_url(url, sizeof url, &sk, 0, "/slow");
    add_callback(cb, url);
    add_activation(act, PA_STATUS_CREATED, pa_time_now_ms() + 60000);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(add_event(ev[i], act, pa_time_now_ms()), 1);
    test_cfg(&cfg);
    cfg.callback_connect_timeout_ms = 1000;
    cfg.callback_timeout_ms = 1000;
    CU_ASSERT_EQUAL_FATAL(pa_delivery_start(&cfg), PA_OK);
    CHECK_SOON(sink_count(&sk, 0).requests >= 3, 30000);
    pa_delivery_stop();
    CU_ASSERT_EQUAL(sink_peak(&sk, -1), 1);
    for (int i = 0; i < 3; i++) {
        c[i] = sink_get(&sk, 0, i);
        snprintf(key, sizeof key, "%s:%s", ev[i], cb);
        CU_ASSERT_STRING_EQUAL(c[i].idem, key);
    }
    /* each connection opened after the one before was closed */
    for (int i = 1; i < 3; i++)
        CU_ASSERT(c[i - 1].closed_ms != 0 &&
                  c[i].opened_ms >= c[i - 1].closed_ms);
    pa_config_free(&cfg);
    sink_stop(&sk);
}

/* callback_concurrency = 2 and three URLs whose receivers never answer:
 * two requests go out, the third only after one of them ended. */
static void test_concurrency_limit(void)
{
    sink sk;
    pa_config cfg;
    char cb[3][PA_UUID_BUF], act[PA_UUID_BUF], ev[PA_UUID_BUF], url[256];
    int first[2], n = 0, third = -1;
    int64_t until, first_end = 0;
    sink_conn c3;

    sink_start(&sk, 3);
    for (int k = 0; k < 3; k++) {
        sink_url(url, sizeof url, &sk, k, "/hang");
        add_callback(cb[k], url);
    }
    add_activation(act, PA_STATUS_CREATED, pa_time_now_ms() + 60000);
    CU_ASSERT_EQUAL(add_event(ev, act, pa_time_now_ms()), 3);
    test_cfg(&cfg);
    cfg.callback_concurrency = 2;
    cfg.callback_connect_timeout_ms = 1500;
    cfg.callback_timeout_ms = 1500;
    CU_ASSERT_EQUAL_FATAL(pa_delivery_start(&cfg), PA_OK);
    CHECK_SOON(sink_count(&sk, -1).requests >= 2, 10000);
    for (int k = 0; k < 3; k++) {
        if (sink_count(&sk, k).accepted == 0)
            third = k;
        else if (n < 2)
            first[n++] = k;
    }
    CU_ASSERT(n == 2 && third >= 0);
    if (n == 2 && third >= 0) {
        /* the third URL gets its request once one of the first two ended */
        until = mono_ms() + 30000;
        while (mono_ms() < until && sink_count(&sk, third).requests == 0)
            sleep_ms(5);
        pa_delivery_stop();
        c3 = sink_get(&sk, third, 0);
        CU_ASSERT(c3.request_ms != 0);
        for (int j = 0; j < 2; j++) {
            int64_t end = sink_get(&sk, first[j], 0).closed_ms;
            if (end != 0 && (first_end == 0 || end < first_end))
                first_end = end;
        }
        CU_ASSERT(first_end != 0 && c3.opened_ms >= first_end);
    }
    pa_delivery_stop();
    CU_ASSERT_EQUAL(sink_peak(&sk, -1), 2);
    for (int k = 0; k < 3; k++)
        CU_ASSERT_EQUAL(sink_peak(&sk, k), 1);
    pa_config_free(&cfg);
    sink_stop(&sk);
}

static void test_start_failure(void)
{
    pa_config cfg;

    test_cfg(&cfg);
    free(cfg.database);
    cfg.database = strdup("/nonexistent-dir/none.db");
    CU_ASSERT_NOT_EQUAL(pa_delivery_start(&cfg), PA_OK);
    pa_delivery_stop();
    CU_ASSERT_NOT_EQUAL(pa_sweep_start(&cfg), PA_OK);
    pa_sweep_stop();
    pa_config_free(&cfg);
}

/* ---- sweep ------------------------------------------------------------------- */

static long long history_count(const char *activation_id)
{
    return q_int("SELECT COUNT(*) FROM pa_activation_history "
                 "WHERE activation_id = ?", activation_id);
}

/* The expired CREATED / PENDING_COMMIT rows are set REMOVED, oldest
 * deadline first, in batches, each with a history row and an outbox row
 * per callback; everything else is left alone. */
static void test_sweep_batches(void)
{
    char cb[PA_UUID_BUF], x[5][PA_UUID_BUF], keep[5][PA_UUID_BUF];
    int64_t now = pa_time_now_ms();
    int n = -1;

    add_callback(cb, "http://127.0.0.1:9/cb");
    for (int i = 0; i < 5; i++)
        add_activation(x[i], i % 2 ? PA_STATUS_PENDING_COMMIT
                                   : PA_STATUS_CREATED,
                       now - 5000 + 1000 * i);
    add_activation(keep[0], PA_STATUS_CREATED, now + 3600000);
    add_activation(keep[1], PA_STATUS_PENDING_COMMIT, now); /* not past */
    add_activation(keep[2], PA_STATUS_ACTIVE, now - 5000);
    add_activation(keep[3], PA_STATUS_BLOCKED, now - 5000);
    add_activation(keep[4], PA_STATUS_REMOVED, now - 5000);

    CU_ASSERT_EQUAL(pa_sweep_batch(db, now, 2, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 2);
    /* oldest deadlines first */
    CU_ASSERT_EQUAL(status_of(x[0]), PA_STATUS_REMOVED);
    CU_ASSERT_EQUAL(status_of(x[1]), PA_STATUS_REMOVED);
    CU_ASSERT_EQUAL(status_of(x[2]), PA_STATUS_CREATED);
    CU_ASSERT_EQUAL(pa_sweep_batch(db, now, 2, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(pa_sweep_batch(db, now, 2, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(pa_sweep_batch(db, now, 2, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 0);

    for (int i = 0; i < 5; i++) {
        const char *id = x[i];
        CU_ASSERT_EQUAL(status_of(id), PA_STATUS_REMOVED);
        CU_ASSERT_EQUAL(q_int("SELECT timestamp_last_change FROM pa_activation "
                              "WHERE activation_id = ?", id), now);
        CU_ASSERT_EQUAL(history_count(id), 1);
        CU_ASSERT_EQUAL(q_int("SELECT activation_status FROM "
                              "pa_activation_history WHERE activation_id = ?",
                              id), PA_STATUS_REMOVED);
        CU_ASSERT_EQUAL(q_int("SELECT event_reason FROM pa_activation_history "
                              "WHERE activation_id = ?", id), -2);
        CU_ASSERT_EQUAL(q_int("SELECT external_user_id FROM "
                              "pa_activation_history WHERE activation_id = ?",
                              id), -2);
        CU_ASSERT_EQUAL(q_int("SELECT timestamp_created FROM "
                              "pa_activation_history WHERE activation_id = ?",
                              id), now);
        CU_ASSERT_EQUAL(q_int("SELECT COUNT(*) FROM pa_callback_outbox WHERE "
                              "activation_id = ?", id), 1);
    }
    CU_ASSERT_EQUAL(outbox_rows(), 5);
    CU_ASSERT_EQUAL(q_int("SELECT COUNT(*) FROM pa_callback_outbox WHERE "
                          "callback_id = ?", cb), 5);
    static const int kept_status[] = {PA_STATUS_CREATED,
                                      PA_STATUS_PENDING_COMMIT,
                                      PA_STATUS_ACTIVE, PA_STATUS_BLOCKED,
                                      PA_STATUS_REMOVED};
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(status_of(keep[i]), kept_status[i]);
        CU_ASSERT_EQUAL(history_count(keep[i]), 0);
        CU_ASSERT_EQUAL(q_int("SELECT COUNT(*) FROM pa_callback_outbox WHERE "
                              "activation_id = ?", keep[i]), 0);
    }
    /* no transaction was left open */
    CU_ASSERT_EQUAL(pa_store_begin(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_rollback(db), PA_OK);
}

/* The thread: works a backlog larger than one batch off at once, its
 * callbacks reach the receiver through the delivery thread, and it stops
 * promptly.  An interval of 0 starts nothing. */
static void test_sweep_thread(void)
{
    receiver rx;
    pa_config cfg;
    char cb[PA_UUID_BUF], x[5][PA_UUID_BUF], act[PA_UUID_BUF], url[256];
    int64_t now = pa_time_now_ms(), t0;
    int seen[5] = {0};

    rx_start(&rx, 1, 200);
    url_of(url, sizeof url, &rx, "", "/cb");
    add_callback(cb, url);
    for (int i = 0; i < 5; i++)
        add_activation(x[i], PA_STATUS_CREATED, now - 1000 - i);
    add_activation(act, PA_STATUS_ACTIVE, now - 1000);
    test_cfg(&cfg);
    cfg.expiry_sweep_interval_ms = 0;
    CU_ASSERT_EQUAL(pa_sweep_start(&cfg), PA_OK);
    sleep_ms(200);
    CU_ASSERT_EQUAL(status_of(x[0]), PA_STATUS_CREATED);
    pa_sweep_stop();

    cfg.expiry_sweep_interval_ms = 1000;
    cfg.expiry_sweep_batch = 2;
    CU_ASSERT_EQUAL_FATAL(pa_delivery_start(&cfg), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_sweep_start(&cfg), PA_OK);
    CHECK_SOON(q_int("SELECT COUNT(*) FROM pa_activation WHERE "
                             "activation_status = 5", NULL) == 5, 5000);
    CHECK_SOON(rx_count(&rx) == 5 && outbox_rows() == 0, 5000);
    t0 = mono_ms();
    pa_sweep_stop();
    CU_ASSERT(mono_ms() - t0 < 1000);
    pa_delivery_stop();
    CU_ASSERT_EQUAL(status_of(act), PA_STATUS_ACTIVE);
    for (int i = 0; i < rx_count(&rx); i++) {
        rx_req r = rx_get(&rx, i);
        for (int j = 0; j < 5; j++) {
            char body[512];
            snprintf(body, sizeof body, "{\"activationId\":\"%s\"}", x[j]);
            seen[j] += strcmp(r.body, body) == 0;
        }
    }
    for (int j = 0; j < 5; j++)
        CU_ASSERT_EQUAL(seen[j], 1);
    pa_config_free(&cfg);
    rx_stop(&rx);
}

/* ---- main ------------------------------------------------------------------- */

typedef struct {
    const char *name;
    CU_TestFunc fn;
} test_def;

static int add_suite(const char *name, const test_def *t, size_t n)
{
    CU_pSuite s = CU_add_suite_with_setup_and_teardown(name, NULL, NULL,
                                                       setup, teardown);

    if (!s)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!CU_add_test(s, t[i].name, t[i].fn))
            return -1;
    return 0;
}

#define ADD(name, arr) add_suite(name, arr, sizeof arr / sizeof *arr)

int main(void)
{
    static const test_def delivery[] = {
        {"backoff: doubling, cap, jitter", test_backoff},
        {"exact body and headers", test_delivery_body_and_headers},
        {"500: retried, growing delay, max attempts", test_retry_and_max_attempts},
        {"refused, restart, receiver comes back", test_receiver_comes_back},
        {"removed callback dropped unsent", test_removed_callback},
        {"undeliverable URL dropped, JSON escaping",
         test_undeliverable_and_escaping},
        {"through the proxy", test_proxy},
        {"too old dropped unsent", test_too_old},
        {"bound drops the oldest", test_trim},
        {"stop while the receiver hangs", test_stop_while_receiver_hangs},
        {"a hanging receiver delays no other application",
         test_hanging_receiver_isolated},
        {"one transfer at a time per URL, in event order",
         test_one_transfer_per_url},
        {"callback_concurrency bounds the transfers",
         test_concurrency_limit},
        {"start failure", test_start_failure},
    };
    static const test_def sweep[] = {
        {"batches", test_sweep_batches},
        {"thread", test_sweep_thread},
    };
    unsigned failed;

    /* start and stop lines stay out of the test report */
    pa_log_open(PA_LOG_WARN, PA_LOG_TARGET_STDERR);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (ADD("delivery", delivery) || ADD("sweep", sweep)) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = pa_cunit_failures();
    CU_cleanup_registry();
    pa_log_close();
    return failed ? 1 : 0;
}
