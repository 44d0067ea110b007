/*
 * log.c - one-line, thread-safe logging to a stream or syslog, see log.h.
 *
 * A line is built completely in a local buffer and then written with one
 * call under a mutex, so lines from concurrent workers never interleave.
 * The threshold is an atomic so that a filtered-out debug call costs no lock.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <syslog.h>

#include "util/log.h"
#include "util/timeutil.h"

#define FIELD_MAX 96

static atomic_int threshold = PA_LOG_INFO;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pa_log_target target = PA_LOG_TARGET_STDERR;
static FILE *stream;            /* NULL: stderr */
static bool syslog_open;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const level_tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};

pa_err pa_log_level_parse(const char *s, pa_log_level *out)
{
    for (int i = PA_LOG_ERROR; s != NULL && i <= PA_LOG_DEBUG; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (pa_log_level)i;
            return PA_OK;
        }
    return PA_ERR_INVALID_INPUT_FORMAT;
}

const char *pa_log_level_name(pa_log_level level)
{
    return level >= PA_LOG_ERROR && level <= PA_LOG_DEBUG ? level_names[level]
                                                         : "info";
}

pa_err pa_log_target_parse(const char *s, pa_log_target *out)
{
    if (s != NULL && strcmp(s, "stderr") == 0)
        *out = PA_LOG_TARGET_STDERR;
    else if (s != NULL && strcmp(s, "syslog") == 0)
        *out = PA_LOG_TARGET_SYSLOG;
    else
        return PA_ERR_INVALID_INPUT_FORMAT;
    return PA_OK;
}

const char *pa_log_target_name(pa_log_target t)
{
    return t == PA_LOG_TARGET_SYSLOG ? "syslog" : "stderr";
}

void pa_log_open(pa_log_level level, pa_log_target t)
{
    if (level < PA_LOG_ERROR || level > PA_LOG_DEBUG)
        level = PA_LOG_INFO;
    pthread_mutex_lock(&lock);
    if (t == PA_LOG_TARGET_SYSLOG && !syslog_open) {
        openlog("paserver", LOG_PID, LOG_DAEMON);
        syslog_open = true;
    } else if (t != PA_LOG_TARGET_SYSLOG && syslog_open) {
        closelog();
        syslog_open = false;
    }
    target = t;
    atomic_store(&threshold, (int)level);
    pthread_mutex_unlock(&lock);
}

void pa_log_set_stream(FILE *f)
{
    pthread_mutex_lock(&lock);
    stream = f;
    pthread_mutex_unlock(&lock);
}

void pa_log_close(void)
{
    pa_log_open(PA_LOG_INFO, PA_LOG_TARGET_STDERR);
}

bool pa_log_enabled(pa_log_level level)
{
    return (int)level <= atomic_load(&threshold) && level >= PA_LOG_ERROR;
}

/* Appends src to the line at *len, writing control characters as \xNN and
 * stopping (with "...") when the line is full.  line has room for
 * PA_LOG_MAX_LINE + 1 bytes. */
static void append_escaped(char *line, size_t *len, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = *len;

    for (; *src != '\0'; src++) {
        unsigned char c = (unsigned char)*src;
        size_t need = (c < 0x20 || c == 0x7f) ? 4 : 1;
        if (n + need > PA_LOG_MAX_LINE - 3) {
            memcpy(line + n, "...", 3);
            n += 3;
            break;
        }
        if (need == 4) {
            line[n++] = '\\';
            line[n++] = 'x';
            line[n++] = hex[c >> 4];
            line[n++] = hex[c & 15];
        } else {
            line[n++] = (char)c;
        }
    }
    line[n] = '\0';
    *len = n;
}

/* Writes "LEVEL body" to the current target; body is already one line. */
static void emit(pa_log_level level, const char *body)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    char ts[PA_TIME_ISO_BUF];

    pa_time_format_iso(pa_time_now_ms(), ts);
    pthread_mutex_lock(&lock);
    if (target == PA_LOG_TARGET_SYSLOG) {
        syslog(prio[level], "%s %s", level_tags[level], body);
    } else {
        FILE *f = stream != NULL ? stream : stderr;
        fprintf(f, "%s %s %s\n", ts, level_tags[level], body);
        fflush(f);
    }
    pthread_mutex_unlock(&lock);
}

void pa_log(pa_log_level level, const char *fmt, ...)
{
    char msg[PA_LOG_MAX_LINE + 1], line[PA_LOG_MAX_LINE + 1];
    size_t len = 0;
    va_list ap;

    if (!pa_log_enabled(level) || fmt == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    append_escaped(line, &len, msg);
    emit(level, line);
}

/* Copies a request-line field, keeping it one token (see log.h). */
static void field(char out[FIELD_MAX + 1], const char *in)
{
    size_t n = 0;

    if (in == NULL || *in == '\0') {
        strcpy(out, "-");
        return;
    }
    for (; in[n] != '\0' && n < FIELD_MAX; n++) {
        char c = in[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9') || strchr("._:/[]-", c) != NULL;
        out[n] = ok ? c : '?';
    }
    out[n] = '\0';
}

/* Request lines of this thread not yet written (stderr/stream target
 * only): one write(2) for many lines under load.  pa_log_flush writes them;
 * the worker pool calls it whenever a worker runs out of work. */
static _Thread_local struct {
    char buf[8192];
    size_t len;
} pending;

void pa_log_flush(void)
{
    if (pending.len == 0)
        return;
    pthread_mutex_lock(&lock);
    {
        FILE *f = stream != NULL ? stream : stderr;

        fwrite(pending.buf, 1, pending.len, f);
        fflush(f);
    }
    pthread_mutex_unlock(&lock);
    pending.len = 0;
}

void pa_log_request(const char *operation, const char *result_code,
                    long long duration_us, const char *peer)
{
    char op[FIELD_MAX + 1], res[FIELD_MAX + 1], addr[FIELD_MAX + 1];
    char line[4 * FIELD_MAX + 64 + PA_TIME_ISO_BUF + 8];
    char ts[PA_TIME_ISO_BUF];
    int n;

    if (!pa_log_enabled(PA_LOG_INFO))
        return;
    field(op, operation);
    field(res, result_code);
    field(addr, peer);
    if (target == PA_LOG_TARGET_SYSLOG) {
        snprintf(line, sizeof line, "op=%s result=%s us=%lld peer=%s", op, res,
                 duration_us < 0 ? 0LL : duration_us, addr);
        emit(PA_LOG_INFO, line);
        return;
    }
    pa_time_format_iso(pa_time_now_ms(), ts);
    n = snprintf(line, sizeof line, "%s %s op=%s result=%s us=%lld peer=%s\n", ts,
                 level_tags[PA_LOG_INFO], op, res, duration_us < 0 ? 0LL : duration_us,
                 addr);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = (int)sizeof line - 1;
    if (pending.len + (size_t)n > sizeof pending.buf)
        pa_log_flush();
    memcpy(pending.buf + pending.len, line, (size_t)n);
    pending.len += (size_t)n;
}
