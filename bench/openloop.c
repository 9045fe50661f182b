/* openloop: an open-loop HTTP/1.1 load generator for bench_service.py.
 *
 *   openloop PORT RATE SECONDS WARMUP CONNECTIONS REQUESTS_FILE [SEED]
 *
 * Requests are scheduled as a Poisson process of RATE per second (exponential
 * gaps from a seeded generator), independently of the responses: a request
 * whose time has come goes out on a free keep-alive connection to 127.0.0.1,
 * or waits for one in a FIFO. Its latency runs from its *scheduled* time to
 * the end of its response, so a server stall is charged in full to every
 * request it delays (no coordinated omission, unlike a closed loop such as
 * plain wrk). Requests scheduled during the first WARMUP seconds are not
 * recorded. REQUESTS_FILE holds the requests to cycle through, each as
 * "<length>\n<bytes>". Responses must carry Content-Length.
 *
 * Prints one JSON object: rate, sent, done, achieved rate, latency percentiles
 * (ms), non-2xx count and how many requests had to wait for a connection.
 * Build: cc -O2 -o openloop openloop.c -lm
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    double sched;      /* scheduled time of the request in flight */
    int record;        /* whether its latency counts */
    char buf[65536];
    size_t len;
} conn_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng_state;
static double uniform01(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what) {
    fprintf(stderr, "openloop: %s: %s\n", what, strerror(errno));
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: openloop PORT RATE SECONDS WARMUP CONNECTIONS REQUESTS_FILE "
                        "[SEED]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    double rate = atof(argv[2]), seconds = atof(argv[3]), warmup = atof(argv[4]);
    int nconn = atoi(argv[5]);
    rng_state = argc > 7 ? strtoull(argv[7], NULL, 10) : 1;
    if (rate <= 0 || seconds <= 0 || nconn <= 0) {
        fprintf(stderr, "openloop: RATE, SECONDS and CONNECTIONS must be positive\n");
        return 2;
    }

    /* the requests */
    FILE *f = fopen(argv[6], "rb");
    if (!f) die(argv[6]);
    size_t cap = 1024, nreq = 0;
    char **reqs = malloc(cap * sizeof *reqs);
    size_t *lens = malloc(cap * sizeof *lens);
    size_t len;
    while (fscanf(f, "%zu\n", &len) == 1) {
        if (nreq == cap) {
            cap *= 2;
            reqs = realloc(reqs, cap * sizeof *reqs);
            lens = realloc(lens, cap * sizeof *lens);
        }
        reqs[nreq] = malloc(len);
        if (fread(reqs[nreq], 1, len, f) != len) {
            fprintf(stderr, "openloop: %s is truncated\n", argv[6]);
            return 2;
        }
        lens[nreq++] = len;
    }
    fclose(f);
    if (nreq == 0) {
        fprintf(stderr, "openloop: no requests in %s\n", argv[6]);
        return 2;
    }

    /* the connections */
    int ep = epoll_create1(0);
    conn_t *conns = calloc(nconn, sizeof *conns);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < nconn; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) die("socket");
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    }
    /* idle connections in a ring, used in turn: none sits idle past a keep-alive timeout */
    int *idle = malloc(nconn * sizeof *idle);
    int nidle = nconn, idle_head = 0;
    for (int i = 0; i < nconn; i++) idle[i] = i;

    size_t total = (size_t)(rate * (seconds + warmup) * 1.2) + 1024;
    double *sched_q = malloc(total * sizeof *sched_q); /* FIFO of scheduled times */
    size_t q_head = 0, q_tail = 0;
    double *lat = malloc(total * sizeof *lat);
    size_t nlat = 0, sent = 0, done = 0, non2xx = 0, waited = 0;

    double t0 = now_s() + 0.01;
    double end = t0 + warmup + seconds;
    double record_from = t0 + warmup;
    double next = t0;
    struct epoll_event events[256];
    double drain_until = end + 10.0;

    for (;;) {
        double t = now_s();
        while (next <= t && next < end) {
            sched_q[q_tail++] = next;
            next += -log(uniform01()) / rate;
        }
        while (q_head < q_tail && nidle > 0) {
            conn_t *c = &conns[idle[idle_head]];
            idle_head = (idle_head + 1) % nconn;
            nidle--;
            double s = sched_q[q_head++];
            if (t - s > 0.001) waited++;
            size_t k = sent % nreq;
            ssize_t w = send(c->fd, reqs[k], lens[k], MSG_NOSIGNAL);
            if (w != (ssize_t)lens[k]) die("send");
            c->sched = s;
            c->record = s >= record_from;
            sent++;
        }
        if (next >= end && q_head == q_tail && nidle == nconn) break;
        if (t > drain_until) {
            fprintf(stderr, "openloop: %zu responses missing after the drain\n", sent - done);
            return 1;
        }
        double wait = (next < end ? next : end) - t;
        if (q_head < q_tail || wait < 0) wait = 0;
        if (next >= end) wait = 0.001;
        struct timespec ts = {.tv_sec = (time_t)wait,
                              .tv_nsec = (long)((wait - (time_t)wait) * 1e9)};
        int n = epoll_pwait2(ep, events, 256, &ts, NULL);
        if (n < 0 && errno != EINTR) die("epoll_pwait2");
        double tr = now_s();
        for (int e = 0; e < n; e++) {
            int i = (int)events[e].data.u32;
            conn_t *c = &conns[i];
            ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, MSG_DONTWAIT);
            if (r == 0) {
                fprintf(stderr, "openloop: the server closed a connection\n");
                return 1;
            }
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                die("recv");
            }
            c->len += (size_t)r;
            c->buf[c->len] = 0;
            char *hdr_end = strstr(c->buf, "\r\n\r\n");
            if (!hdr_end) continue;
            char *cl = strcasestr(c->buf, "\r\ncontent-length:");
            if (!cl || cl > hdr_end) {
                fprintf(stderr, "openloop: a response without Content-Length\n");
                return 1;
            }
            size_t body = strtoul(cl + 17, NULL, 10);
            size_t need = (size_t)(hdr_end + 4 - c->buf) + body;
            if (c->len < need) continue;
            if (c->len > need) {
                fprintf(stderr, "openloop: unexpected bytes after a response\n");
                return 1;
            }
            int status = atoi(c->buf + 9);
            if (status < 200 || status >= 300) non2xx++;
            if (c->record) lat[nlat++] = tr - c->sched;
            c->len = 0;
            idle[(idle_head + nidle++) % nconn] = i;
            done++;
        }
    }

    qsort(lat, nlat, sizeof *lat, cmp_double);
#define PCT(p) (nlat ? lat[(size_t)((p) * (nlat - 1))] * 1e3 : 0.0)
    printf("{\"rate\": %.1f, \"sent\": %zu, \"done\": %zu, \"recorded\": %zu, "
           "\"achieved\": %.1f, \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, "
           "\"p999\": %.3f, \"max\": %.3f, \"non2xx\": %zu, \"waited\": %zu}\n",
           rate, sent, done, nlat, nlat / seconds, PCT(0.50), PCT(0.90), PCT(0.99),
           PCT(0.999), nlat ? lat[nlat - 1] * 1e3 : 0.0, non2xx, waited);
    return 0;
}
