/*
 * soap-driver - closed-loop HTTP/1.1 load on paserver from SOAP bodies
 * prepared beforehand (scripts/bench-signature).
 *
 *   soap-driver --port P [--host A] [--path PATH] [--expect TEXT]
 *               [--offset K] [--count N] [--seconds S] [--cycle]
 *               [--show-bad M] FILE...
 *
 * One keep-alive connection, served by its own thread, per FILE (the same
 * FILE may be named several times; it is read once).  A FILE holds one
 * request body per line (empty lines do not count; the first line is line
 * 0).  Connection i sends the lines K, K+1, ... of its
 * FILE in order, each as soon as the answer to the previous one has been
 * read: N lines (default: all from K on), or, with --cycle, round and
 * round until S seconds are over.  --seconds also stops a non-cycling
 * connection early.  Requests that must reach the server in a fixed order
 * per connection (signatures of one activation, each at the next counter
 * position) therefore stay in that order.
 *
 * All connections are opened before the clock starts.  Every answer is
 * checked: HTTP status 200 and TEXT somewhere in the body count as "ok";
 * a 200 without TEXT is "unexpected"; failed connects, resets and bad
 * framing are "socket errors" (the connection is opened again and goes
 * on with its next line; after 100 failed connects in a row it stops).  The first M bad answers (default 3) go to
 * stderr.  One line on stdout at the end:
 *
 *   RESULT <requests/s> <requests> <ok> <non-200> <unexpected>
 *          <socket errors> <seconds> <p50 ms> <p90 ms> <p99 ms>
 *          <client CPU us/request>
 *
 * requests/s = answers read / time from the start until the last
 * connection finished.  Client CPU is this process's user + system time.
 * Plain blocking sockets, one writev per request, no HTTP library: the
 * client has to cost far less than the server on a 2-core machine.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *path;
    char **line;                /* the lines used: K, K+1, ... of the file */
    size_t *len;                /* their lengths without the newline */
    size_t n;
    long total;                 /* lines in the file up to the last one kept */
} body_file;

typedef struct {
    int index;
    const body_file *f;
    int fd;
    char *rbuf;
    size_t rcap;
    double *lat;                /* seconds per answer */
    size_t nlat, caplat;
    long ok, non200, unexpected, errors;
    double finished;
} conn;

static const char *host = "127.0.0.1";
static const char *path = "/powerauth-java-server/soap";
static const char *expect = NULL;
static int port;
static long offset, count = -1;
static double seconds = 0;
static int cycle;
static int show_bad = 3;
static char header_fmt[512];
static double t_start;
static pthread_barrier_t barrier;
static pthread_mutex_t show_lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "soap-driver: %s\n", what);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p)
        die("out of memory");
    return p;
}

/* Keeps the lines offset .. offset+count-1 of the file (all from offset on
 * with --cycle or without --count); empty lines do not count. */
static void load(body_file *f)
{
    FILE *in = fopen(f->path, "rb");
    long limit = count >= 0 && !cycle ? offset + count : -1;
    size_t cap = 1024, bufcap = 0;
    char *buf = NULL;
    ssize_t r;

    if (!in) {
        fprintf(stderr, "soap-driver: cannot read %s\n", f->path);
        exit(2);
    }
    f->line = xmalloc(cap * sizeof *f->line);
    f->len = xmalloc(cap * sizeof *f->len);
    while ((limit < 0 || f->total < limit) && (r = getline(&buf, &bufcap, in)) >= 0) {
        if (r > 0 && buf[r - 1] == '\n')
            r--;
        if (r == 0)
            continue;
        if (f->total++ < offset)
            continue;
        if (f->n == cap) {
            cap *= 2;
            f->line = realloc(f->line, cap * sizeof *f->line);
            f->len = realloc(f->len, cap * sizeof *f->len);
            if (!f->line || !f->len)
                die("out of memory");
        }
        f->line[f->n] = xmalloc((size_t)r);
        memcpy(f->line[f->n], buf, (size_t)r);
        f->len[f->n] = (size_t)r;
        f->n++;
    }
    free(buf);
    fclose(in);
}

static int open_conn(void)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1
        || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int send_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Value of header NAME in the header block [h, end), or NULL. */
static const char *header(const char *h, const char *end, const char *name)
{
    size_t n = strlen(name);
    const char *p = h;

    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);

        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
            p += n + 1;
            while (p < eol && (*p == ' ' || *p == '\t'))
                p++;
            return p;
        }
        p = eol + 2;
    }
    return NULL;
}

/* Reads one answer.  Returns 0 and sets *status, *body, *blen, *close_it;
 * -1 on a socket error or framing the driver does not read. */
static int read_answer(conn *c, int *status, const char **body, size_t *blen,
                       int *close_it)
{
    size_t have = 0, hlen = 0, clen = 0;
    const char *v;

    for (;;) {
        ssize_t r;
        char *eoh;

        if (have == c->rcap) {
            c->rcap *= 2;
            if (!(c->rbuf = realloc(c->rbuf, c->rcap)))
                die("out of memory");
        }
        r = recv(c->fd, c->rbuf + have, c->rcap - have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        have += (size_t)r;
        if (!hlen && (eoh = memmem(c->rbuf, have, "\r\n\r\n", 4))) {
            const char *end = eoh + 2;

            hlen = (size_t)(eoh - c->rbuf) + 4;
            if (have < 12 || strncmp(c->rbuf, "HTTP/1.", 7) != 0)
                return -1;
            *status = atoi(c->rbuf + 9);
            if (!(v = header(c->rbuf, end, "Content-Length")))
                return -1;
            clen = strtoul(v, NULL, 10);
            v = header(c->rbuf, end, "Connection");
            *close_it = v && strncasecmp(v, "close", 5) == 0;
            if (hlen + clen > c->rcap) {
                c->rcap = hlen + clen;
                if (!(c->rbuf = realloc(c->rbuf, c->rcap)))
                    die("out of memory");
            }
        }
        if (hlen && have >= hlen + clen) {
            if (have > hlen + clen)
                return -1;      /* we never pipeline: extra bytes are wrong */
            *body = c->rbuf + hlen;
            *blen = clen;
            return 0;
        }
    }
}

static void show(const conn *c, long line, int status, const char *body,
                 size_t blen)
{
    pthread_mutex_lock(&show_lock);
    if (show_bad > 0) {
        show_bad--;
        fprintf(stderr, "soap-driver: connection %d, line %ld: HTTP %d: %.*s\n",
                c->index, offset + line + 1, status, (int)(blen > 600 ? 600 : blen), body);
    }
    pthread_mutex_unlock(&show_lock);
}

static void *run(void *arg)
{
    conn *c = arg;
    const body_file *f = c->f;
    long i = 0;                 /* index into f->line: file line offset + i */
    int refused = 0;            /* connects that failed in a row */
    char hdr[640];

    c->fd = open_conn();
    if (c->fd < 0)
        c->errors++;
    pthread_barrier_wait(&barrier);     /* all connected */
    pthread_barrier_wait(&barrier);     /* t_start set */
    for (long sent = 0;; sent++) {
        struct iovec iov[2];
        const char *body = NULL;
        size_t blen = 0;
        int status = 0, close_it = 0, hl;
        double t0, t1;

        if (cycle) {
            if (count >= 0 && sent >= count)
                break;
            i %= (long)f->n;
        } else if (i >= (long)f->n)
            break;
        t0 = now();
        if (seconds > 0 && t0 - t_start >= seconds)
            break;
        if (c->fd < 0 && (c->fd = open_conn()) < 0) {
            c->errors++;
            if (++refused >= 100)
                break;          /* the server is gone: give this one up */
            usleep(10000);
            continue;
        }
        refused = 0;
        hl = snprintf(hdr, sizeof hdr, header_fmt, f->len[i]);
        iov[0].iov_base = hdr;
        iov[0].iov_len = (size_t)hl;
        iov[1].iov_base = f->line[i];
        iov[1].iov_len = f->len[i];
        if (send_all(c->fd, iov, 2) != 0
            || read_answer(c, &status, &body, &blen, &close_it) != 0) {
            c->errors++;
            close(c->fd);
            c->fd = -1;
            i++;
            continue;
        }
        t1 = now();
        if (c->nlat == c->caplat) {
            c->caplat = c->caplat ? 2 * c->caplat : 4096;
            if (!(c->lat = realloc(c->lat, c->caplat * sizeof *c->lat)))
                die("out of memory");
        }
        c->lat[c->nlat++] = t1 - t0;
        if (status != 200) {
            c->non200++;
            show(c, i, status, body, blen);
        } else if (expect && !memmem(body, blen, expect, strlen(expect))) {
            c->unexpected++;
            show(c, i, status, body, blen);
        } else
            c->ok++;
        if (close_it) {
            close(c->fd);
            c->fd = -1;
        }
        i++;
    }
    c->finished = now();
    if (c->fd >= 0)
        close(c->fd);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6
           + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void usage(void)
{
    fprintf(stderr, "usage: soap-driver --port P [--host A] [--path PATH] [--expect TEXT]\n"
                    "                   [--offset K] [--count N] [--seconds S] [--cycle]\n"
                    "                   [--show-bad M] FILE...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    body_file *files;
    conn *conns;
    pthread_t *th;
    int nconn = 0, nfiles = 0, i, j;
    double end = 0, cpu0, cpu1;
    long ok = 0, non200 = 0, unexpected = 0, errors = 0;
    size_t nlat = 0, k;
    double *lat;

    files = xmalloc((size_t)argc * sizeof *files);
    conns = xmalloc((size_t)argc * sizeof *conns);
    memset(conns, 0, (size_t)argc * sizeof *conns);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--cycle") == 0)
            cycle = 1;
        else if (a[0] == '-' && a[1] == '-') {
            if (i + 1 >= argc)
                usage();
            if (strcmp(a, "--port") == 0)
                port = atoi(argv[++i]);
            else if (strcmp(a, "--host") == 0)
                host = argv[++i];
            else if (strcmp(a, "--path") == 0)
                path = argv[++i];
            else if (strcmp(a, "--expect") == 0)
                expect = argv[++i];
            else if (strcmp(a, "--offset") == 0)
                offset = atol(argv[++i]);
            else if (strcmp(a, "--count") == 0)
                count = atol(argv[++i]);
            else if (strcmp(a, "--seconds") == 0)
                seconds = atof(argv[++i]);
            else if (strcmp(a, "--show-bad") == 0)
                show_bad = atoi(argv[++i]);
            else
                usage();
        } else {
            for (j = 0; j < nfiles; j++)
                if (strcmp(files[j].path, a) == 0)
                    break;
            if (j == nfiles) {
                memset(&files[nfiles], 0, sizeof files[nfiles]);
                files[nfiles].path = a;
                nfiles++;
            }
            conns[nconn].index = nconn;
            conns[nconn].f = &files[j];
            nconn++;
        }
    }
    if (port <= 0 || nconn == 0 || offset < 0 || (cycle && count < 0 && seconds <= 0))
        usage();
    for (j = 0; j < nfiles; j++)
        load(&files[j]);
    for (i = 0; i < nconn; i++) {
        long need = count >= 0 && !cycle ? count : 1;

        if ((long)conns[i].f->n < need) {
            fprintf(stderr, "soap-driver: %s has %ld lines, %ld needed from line %ld on\n",
                    conns[i].f->path, conns[i].f->total, need, offset + 1);
            return 2;
        }
        conns[i].rcap = 16384;
        conns[i].rbuf = xmalloc(conns[i].rcap);
    }
    snprintf(header_fmt, sizeof header_fmt,
             "POST %s HTTP/1.1\r\nHost: %s:%d\r\n"
             "Content-Type: text/xml; charset=utf-8\r\nSOAPAction: \"\"\r\n"
             "Content-Length: %%zu\r\n\r\n", path, host, port);

    th = xmalloc((size_t)nconn * sizeof *th);
    if (pthread_barrier_init(&barrier, NULL, (unsigned)nconn + 1) != 0)
        die("barrier");
    for (i = 0; i < nconn; i++)
        if (pthread_create(&th[i], NULL, run, &conns[i]) != 0)
            die("thread");
    pthread_barrier_wait(&barrier);
    t_start = now();
    cpu0 = cpu_seconds();
    pthread_barrier_wait(&barrier);
    for (i = 0; i < nconn; i++)
        pthread_join(th[i], NULL);
    cpu1 = cpu_seconds();
    for (i = 0; i < nconn; i++) {
        ok += conns[i].ok;
        non200 += conns[i].non200;
        unexpected += conns[i].unexpected;
        errors += conns[i].errors;
        nlat += conns[i].nlat;
        if (conns[i].finished > end)
            end = conns[i].finished;
    }
    lat = xmalloc(nlat * sizeof *lat);
    for (i = 0, k = 0; i < nconn; i++) {
        memcpy(lat + k, conns[i].lat, conns[i].nlat * sizeof *lat);
        k += conns[i].nlat;
    }
    qsort(lat, nlat, sizeof *lat, cmp_double);
#define PCT(p) (nlat ? lat[(size_t)((double)(nlat - 1) * (p))] * 1e3 : 0.0)
    printf("RESULT %.0f %zu %ld %ld %ld %ld %.3f %.3f %.3f %.3f %.1f\n",
           end > t_start ? (double)nlat / (end - t_start) : 0.0, nlat, ok,
           non200, unexpected, errors, end - t_start, PCT(0.50), PCT(0.90),
           PCT(0.99), nlat ? (cpu1 - cpu0) * 1e6 / (double)nlat : 0.0);
    return 0;
}
