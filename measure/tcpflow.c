/* tcpflow.c — TCP bulk sender and receiver; see tcpflow.h. */
#include "tcpflow.h"

#include "ivclock.h"
#include "sockutil.h"
#include "vmtp/clock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define S_RECV_BUF (128 * 1024)
#define S_POLL_NS (50 * VMTP_NS_PER_MS)
/* Unsent bytes a sender keeps queued in the kernel. Without a bound the socket buffer (MBs)
 * goes on draining long after the test's duration on a slow path, stretching the test and its
 * result; with it, what is left at the end is about a window's worth in flight. */
#define S_NOTSENT_LOWAT (128 * 1024)

typedef struct s_ctx s_ctx_t;

/* One stream's worker and its counters (shared with the sampling thread). */
typedef struct {
    pthread_t tid;             /* worker thread */
    bool started;              /* tid is joinable */
    int fd;                    /* data socket (not owned) */
    _Atomic uint64_t bytes;    /* bytes moved so far */
    _Atomic uint64_t measured; /* receiver: bytes inside the measurement window */
    _Atomic int64_t last_mono; /* receiver: arrival time of the last counted bytes */
    _Atomic bool done;         /* worker finished */
    double cpu_s;              /* CPU seconds the worker used, read after join */
    int err;                   /* worker's error (0 or -errno), read after join */
    s_ctx_t *ctx;              /* not owned */
} s_stream_t;

struct s_ctx {
    const flow_t *flow;         /* not owned */
    int64_t start_mono;         /* data phase start */
    int64_t end_mono;           /* sender: stop writing at this time */
    _Atomic int64_t t0_mono;    /* receiver: first arrival on any stream (0 = none yet) */
    _Atomic int64_t began_mono; /* sender: when the first stream woke to send (0 = none yet) */
    const char *pattern;        /* sender: one write's bytes, shared by every stream (owned) */
    s_stream_t *streams;        /* flow->nfds entries */
};

static bool s_stopped(const s_ctx_t *c) { return atomic_load(c->flow->stop); }

static void s_set_timeouts(int fd)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = (suseconds_t)(S_POLL_NS / 1000)};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static void *s_send_worker(void *arg)
{
    s_stream_t *s = arg;
    s_ctx_t *c = s->ctx;
    uint32_t len = c->flow->spec->len;
    if (!flow_sleep_until(c->flow, c->start_mono))
        goto out;
    int64_t zero = 0;
    atomic_compare_exchange_strong(&c->began_mono, &zero, clock_mono_ns());
    while (!s_stopped(c) && clock_mono_ns() < c->end_mono) {
        ssize_t n = send(s->fd, c->pattern, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue; /* send timeout: look at the clock and the stop flag again */
            s->err = -errno;
            break;
        }
        atomic_fetch_add(&s->bytes, (uint64_t)n);
    }
    shutdown(s->fd, SHUT_WR);
out:
    s->cpu_s = cpu_thread_seconds();
    atomic_store(&s->done, true);
    return NULL;
}

static void *s_recv_worker(void *arg)
{
    s_stream_t *s = arg;
    s_ctx_t *c = s->ctx;
    char *buf = malloc(S_RECV_BUF);
    int64_t omit = c->flow->spec->omit_ns;
    /* A scheduled start is not idleness: the idle clock starts with the data phase. */
    int64_t last_seen = c->start_mono;
    if (!buf) {
        s->err = -ENOMEM;
        goto out;
    }
    while (!s_stopped(c)) {
        ssize_t n = recv(s->fd, buf, S_RECV_BUF, 0);
        int64_t now = clock_mono_ns();
        if (n == 0)
            break;
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                s->err = -errno;
                break;
            }
            if (now - last_seen > FLOW_IDLE_LIMIT_NS) {
                s->err = -ETIMEDOUT;
                break;
            }
            continue;
        }
        last_seen = now;
        atomic_fetch_add(&s->bytes, (uint64_t)n);
        int64_t t0 = 0;
        if (atomic_compare_exchange_strong(&c->t0_mono, &t0, now))
            continue; /* the first read's bytes arrived before the window opened */
        if (now > t0 + omit) {
            atomic_fetch_add(&s->measured, (uint64_t)n);
            atomic_store(&s->last_mono, now);
        }
    }
out:
    free(buf);
    s->cpu_s = cpu_thread_seconds();
    atomic_store(&s->done, true);
    return NULL;
}

static uint64_t s_sum_bytes(const s_ctx_t *c)
{
    uint64_t b = 0;
    for (unsigned i = 0; i < c->flow->nfds; i++)
        b += atomic_load(&c->streams[i].bytes);
    return b;
}

static bool s_all_done(const s_ctx_t *c)
{
    for (unsigned i = 0; i < c->flow->nfds; i++)
        if (!atomic_load(&c->streams[i].done))
            return false;
    return true;
}

static void s_read_tcpinfo(const s_ctx_t *c, tcpinfo_t *out)
{
    tcpinfo_t ti[TEST_MAX_STREAMS];
    unsigned n = c->flow->nfds;
    for (unsigned i = 0; i < n; i++)
        tcpinfo_read(c->streams[i].fd, &ti[i]);
    tcpinfo_combine(ti, n, out);
}

/* Reports one period; the sender adds its TCP_INFO and the retransmissions in the period. */
static void s_report(s_ctx_t *c, bool sender, interval_t *iv, uint64_t *prev_retrans)
{
    if (sender) {
        s_read_tcpinfo(c, &iv->tcp);
        iv->retrans = iv->tcp.total_retrans - *prev_retrans;
        *prev_retrans = iv->tcp.total_retrans;
    }
    if (c->flow->on_interval)
        c->flow->on_interval(iv, c->flow->cb_arg);
}

/* Samples progress until every worker is done. Sender periods start at the data-phase start,
 * receiver periods at the first arrival. */
static void s_sample(s_ctx_t *c, bool sender)
{
    const flow_t *f = c->flow;
    ivclock_t clk;
    bool started = false;
    uint64_t prev_retrans = 0;
    interval_t iv;
    while (!s_all_done(c)) {
        if (!started) {
            int64_t base = sender ? c->start_mono : atomic_load(&c->t0_mono);
            if (base && (!sender || clock_mono_ns() >= base)) {
                ivclock_start(&clk, base, f->spec->interval_ns);
                started = true;
            }
        }
        int64_t now = clock_mono_ns();
        if (started && ivclock_tick(&clk, now, s_sum_bytes(c), 0, 0, &iv)) {
            s_report(c, sender, &iv, &prev_retrans);
            continue;
        }
        int64_t wake = now + S_POLL_NS, next = started ? ivclock_next(&clk) : 0;
        if (next && next < wake)
            wake = next;
        clock_sleep_until_mono(wake);
    }
    if (started && ivclock_final(&clk, clock_mono_ns(), s_sum_bytes(c), 0, 0, &iv))
        s_report(c, sender, &iv, &prev_retrans);
}

/* Starts one worker per stream, samples, joins. Returns the first worker error. */
static int s_run(const flow_t *flow, bool sender, s_ctx_t *c)
{
    int rc = 0;
    memset(c, 0, sizeof *c);
    c->flow = flow;
    c->start_mono = flow_start_mono(flow);
    c->end_mono = c->start_mono + flow->spec->duration_ns;
    if (!flow->nfds || flow->nfds > TEST_MAX_STREAMS)
        return -EINVAL;
    c->streams = calloc(flow->nfds, sizeof *c->streams);
    if (!c->streams)
        return -ENOMEM;
    if (sender) {
        /* One pattern for every stream: a write's size is a syscall size, not memory per stream.
         * Not zeros, so no compression on the path can flatter the result. */
        char *p = malloc(flow->spec->len);
        if (!p)
            return -ENOMEM;
        for (uint32_t i = 0; i < flow->spec->len; i++)
            p[i] = (char)(i * 131u + 7u);
        c->pattern = p;
    }
    for (unsigned i = 0; i < flow->nfds; i++) {
        s_stream_t *s = &c->streams[i];
        s->fd = flow->fds[i];
        s->ctx = c;
        s_set_timeouts(s->fd);
        if (sender) {
            int lowat = S_NOTSENT_LOWAT;
            setsockopt(s->fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
        }
        /* Each end applies the buffer that is its own: the receiver's window, the sender's queue. */
        sock_set_buffers(s->fd, sender ? (int)flow->spec->sndbuf : 0, sender ? 0 : (int)flow->spec->rcvbuf);
        if (pthread_create(&s->tid, NULL, sender ? s_send_worker : s_recv_worker, s) != 0) {
            rc = -EAGAIN;
            atomic_store(&s->done, true);
            continue;
        }
        s->started = true;
    }
    s_sample(c, sender);
    for (unsigned i = 0; i < flow->nfds; i++) {
        if (c->streams[i].started)
            pthread_join(c->streams[i].tid, NULL);
        if (!rc && c->streams[i].err)
            rc = c->streams[i].err;
    }
    return rc;
}

/* The sampling thread's own CPU is in cpu->proc_cpu_s already; add the workers'. */
static void s_add_worker_cpu(const s_ctx_t *c, cpu_usage_t *cpu)
{
    for (unsigned i = 0; c->streams && i < c->flow->nfds; i++)
        cpu->proc_cpu_s += c->streams[i].cpu_s;
}

static void s_ctx_fini(s_ctx_t *c)
{
    free(c->streams);
    free((void *)(uintptr_t)c->pattern);
}

int tcpflow_send(const flow_t *flow, report_t *out)
{
    s_ctx_t c;
    const test_spec_t *spec = flow->spec;
    if (spec->rate_bps) {
        uint64_t per_stream = spec->rate_bps / 8 / (flow->nfds ? flow->nfds : 1);
        for (unsigned i = 0; i < flow->nfds; i++)
            setsockopt(flow->fds[i], SOL_SOCKET, SO_MAX_PACING_RATE, &per_stream, sizeof per_stream);
    }
    int64_t real_minus_mono = clock_real_ns() - clock_mono_ns();
    cpu_sample_t cpu0, cpu1;
    cpu_sample(&cpu0);
    int rc = s_run(flow, true, &c);
    cpu_sample(&cpu1);
    out->role = ROLE_SENDER;
    out->tx_bytes = c.streams ? s_sum_bytes(&c) : 0;
    int64_t began = atomic_load(&c.began_mono); /* measured: the schedule plus wake-up lag */
    out->tx_start_real_ns = (began ? began : c.start_mono) + real_minus_mono;
    out->data_start_real_ns = out->tx_start_real_ns;
    out->tx_end_real_ns = clock_mono_ns() + real_minus_mono;
    if (c.streams)
        s_read_tcpinfo(&c, &out->tcp);
    cpu_diff(&cpu0, &cpu1, &out->cpu);
    s_add_worker_cpu(&c, &out->cpu);
    s_ctx_fini(&c);
    return rc;
}

int tcpflow_recv(const flow_t *flow, report_t *out)
{
    s_ctx_t c;
    int64_t real_minus_mono = clock_real_ns() - clock_mono_ns();
    cpu_sample_t cpu0, cpu1;
    cpu_sample(&cpu0);
    int rc = s_run(flow, false, &c);
    cpu_sample(&cpu1);
    out->role = ROLE_RECEIVER;
    if (c.streams) {
        int64_t t0 = atomic_load(&c.t0_mono), last = 0;
        uint64_t measured = 0;
        for (unsigned i = 0; i < flow->nfds; i++) {
            measured += atomic_load(&c.streams[i].measured);
            int64_t l = atomic_load(&c.streams[i].last_mono);
            if (l > last)
                last = l;
        }
        out->rx_bytes_total = s_sum_bytes(&c);
        out->rx_bytes = measured;
        if (t0) {
            int64_t wstart = t0 + flow->spec->omit_ns;
            out->rx_start_real_ns = wstart + real_minus_mono;
            out->data_start_real_ns = t0 + real_minus_mono;
            out->rx_end_real_ns = (last > wstart ? last : wstart) + real_minus_mono;
        }
    }
    cpu_diff(&cpu0, &cpu1, &out->cpu);
    s_add_worker_cpu(&c, &out->cpu);
    s_ctx_fini(&c);
    return rc;
}
