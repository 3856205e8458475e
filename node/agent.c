/* agent.c — the node agent; see agent.h. */
#include "agent.h"

#include "dpclient.h"
#include "dpserver.h"
#include "icmp.h"
#include "result.h"
#include "tstamp.h"
#include "zmqutil.h"
#include "vmtp/clock.h"
#include "vmtp/log.h"
#include "vmtp/proto.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zmq.h>

#define S_MAX_WORKERS 64
#define S_OUT_ENDPOINT "inproc://vmtp-agent-out"
#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_TICK_MS 100
#define S_REPORT_MAX (256 * 1024)

typedef struct s_agent s_agent_t;

/* One RUN or CLOCK, in its own thread. */
typedef struct {
    s_agent_t *ag;     /* not owned */
    pthread_t tid;     /* the thread */
    uint64_t seq;      /* the request's seq: everything sent for it carries it */
    uint64_t test_id;  /* RUN: the coordinator's test id (0 for CLOCK) */
    bool clock;        /* a CLOCK request, not a RUN */
    bool ping;         /* a PING request */
    proto_ping_t preq; /* PING: the request, echoed in the reply */
    char target[256];  /* data-plane server */
    uint16_t port;     /* its port */
    test_spec_t spec;  /* the test */
    proto_clock_t req; /* CLOCK: the request, echoed in the reply */
    atomic_bool stop;  /* STOP, BYE, or the agent exiting */
    atomic_bool done;  /* the thread is finished: join it */
    void *push;        /* the worker's end of the outgoing queue (its own thread's socket) */
} s_worker_t;

struct s_agent {
    const agent_cfg_t *cfg;             /* not owned */
    void *ctx;                          /* ZeroMQ context */
    void *router;                       /* the control socket */
    void *zap;                          /* ZAP handler (REP) */
    void *pull;                         /* workers' outgoing frames */
    uint8_t coord_key[32];              /* the only client key admitted */
    uint8_t peer[256];                  /* routing id of the coordinator's connection */
    size_t peer_len;                    /* 0 until its first frame */
    bool hello;                         /* HELLO answered */
    uint32_t heartbeat_ms;              /* period of our heartbeats */
    int64_t silence_ns;                 /* exit after this long without a frame */
    int64_t last_heard;                 /* monotonic time of the coordinator's last frame */
    int64_t next_beat;                  /* monotonic time of our next heartbeat */
    dpserver_t *srv;                    /* the data-plane server, once LISTEN armed it */
    pthread_t srv_tid;                  /* its thread */
    atomic_bool srv_stop;               /* stops it */
    s_worker_t *workers[S_MAX_WORKERS]; /* running RUN/CLOCK requests */
    char host_id[65];                   /* our identity for HELLO */
    int exit_status;                    /* what agent_run returns */
    bool quit;                          /* leave the loop */
};

/* ---- sending --------------------------------------------------------------------------------- */

/* Encodes and sends m on `sock` (the router when peer is set, else a worker's push socket). */
static int s_send_on(s_agent_t *ag, void *sock, bool routed, const proto_msg_t *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char why[256];
    int rc = proto_encode(m, &buf, &len, why, sizeof why);
    if (rc < 0) {
        LOG_WARN("cannot encode %s: %s", proto_name(m->id), why);
        return rc;
    }
    if (routed && zmq_send(sock, ag->peer, ag->peer_len, ZMQ_SNDMORE) < 0)
        rc = -errno;
    if (rc == 0 && zmq_send(sock, buf, len, 0) < 0)
        rc = -errno;
    free(buf);
    return rc;
}

static int s_send(s_agent_t *ag, const proto_msg_t *m)
{
    if (!ag->peer_len)
        return -ENOTCONN;
    return s_send_on(ag, ag->router, true, m);
}

static void s_send_error(s_agent_t *ag, uint64_t seq, int code, const char *text)
{
    proto_msg_t m;
    proto_msg_init(&m, PROTO_ERROR, seq);
    m.u.error.code = (uint64_t)(code > 0 && code < 4096 ? code : EIO);
    snprintf(m.u.error.text, sizeof m.u.error.text, "%s", text);
    s_send(ag, &m);
}

/* ---- workers ----------------------------------------------------------------------------------- */

static void s_worker_send(s_worker_t *w, const proto_msg_t *m) { s_send_on(w->ag, w->push, false, m); }

static void s_on_interval(const interval_t *iv, bool remote, void *arg)
{
    s_worker_t *w = arg;
    uint8_t blob[256];
    long n = dp_interval_encode(iv, blob, sizeof blob);
    if (n < 0)
        return;
    proto_msg_t m;
    proto_msg_init(&m, PROTO_INTERVAL, w->seq);
    m.u.interval.test_id = w->test_id;
    m.u.interval.remote = remote;
    m.u.interval.interval = (proto_bin_t){.data = blob, .len = (size_t)n};
    s_worker_send(w, &m);
}

/* Runs the test against the data-plane server; fills *res, returns 0 or -errno (why set). */
static int s_worker_test(s_worker_t *w, dp_result_t *res, char *why, size_t cap)
{
    dpclient_cfg_t cfg = {.connect_timeout_ns = 5 * VMTP_NS_PER_S, .stop = &w->stop, .cb_arg = w};
    if (!w->clock)
        cfg.on_interval = s_on_interval;
    int rc = sock_resolve(w->target, w->port, AF_UNSPEC, &cfg.server);
    if (rc < 0) {
        snprintf(why, cap, "cannot resolve '%s'", w->target);
        return rc;
    }
    int err = 0;
    dpclient_t *cli = dpclient_new(&cfg, &err, why, cap);
    if (!cli)
        return err;
    rc = dpclient_run(cli, &w->spec, res, why, cap);
    dpclient_destroy(&cli);
    return rc;
}

static void s_worker_result(s_worker_t *w, int rc, const char *why, const dp_result_t *res)
{
    proto_msg_t m;
    proto_msg_init(&m, PROTO_RESULT, w->seq);
    proto_result_t *r = &m.u.result;
    r->test_id = w->test_id;
    r->status = rc < 0 ? (rc >= -4095 ? rc : -EIO) : 0;
    snprintf(r->error, sizeof r->error, "%s", rc < 0 ? why : "");
    uint8_t *local = NULL, *remote = NULL;
    if (rc == 0) {
        snprintf(r->server_id, sizeof r->server_id, "%s", res->server_id);
        r->start_real_ns = res->local.data_start_real_ns > 0 ? res->local.data_start_real_ns : res->start_real_ns;
        local = malloc(S_REPORT_MAX);
        remote = malloc(S_REPORT_MAX);
        long a = local ? dp_report_encode(&res->local, local, S_REPORT_MAX) : -ENOMEM;
        long b = remote ? dp_report_encode(&res->remote, remote, S_REPORT_MAX) : -ENOMEM;
        if (a < 0 || b < 0) {
            r->status = -ENOBUFS;
            snprintf(r->error, sizeof r->error, "the test's reports do not fit in a frame");
        } else {
            r->local = (proto_bin_t){.data = local, .len = (size_t)a};
            r->remote = (proto_bin_t){.data = remote, .len = (size_t)b};
        }
    }
    s_worker_send(w, &m);
    free(local);
    free(remote);
}

static void s_worker_clock(s_worker_t *w, int rc, const char *why, const dp_result_t *res)
{
    if (rc < 0 || res->local.clock_bound_ns < 0) {
        proto_msg_t e;
        proto_msg_init(&e, PROTO_ERROR, w->seq);
        e.u.error.code = (uint64_t)(rc < 0 ? -rc : ENODATA);
        snprintf(e.u.error.text, sizeof e.u.error.text, "%s",
                 rc < 0 ? why : "no exchange had all four kernel timestamps");
        s_worker_send(w, &e);
        return;
    }
    proto_msg_t m;
    proto_msg_init(&m, PROTO_CLOCK, w->seq);
    m.u.clock = w->req;
    m.u.clock.offset_ns = res->local.clock_offset_ns;
    m.u.clock.bound_ns = res->local.clock_bound_ns;
    m.u.clock.rtt_min_ns = 2 * res->local.clock_bound_ns;
    m.u.clock.samples = res->local.clock_samples;
    s_worker_send(w, &m);
}

/* PING: ICMP echoes from this node; the reply adds the counts and both histograms. */
static void s_worker_ping(s_worker_t *w)
{
    icmp_params_t p = {.payload_len = (uint32_t)w->preq.payload_len,
                       .count = (uint32_t)w->preq.count,
                       .interval_ns = w->preq.interval_ns,
                       .timeout_ns = w->preq.timeout_ns};
    icmp_result_t r = {.rtt = hist_new(), .rtt_user = hist_new()};
    uint8_t *b1 = malloc(HIST_SERIALIZED_MAX), *b2 = malloc(HIST_SERIALIZED_MAX);
    char why[512] = "";
    int rc = r.rtt && r.rtt_user && b1 && b2 ? 0 : -ENOMEM;
    if (rc == 0 && sock_resolve(w->target, 0, AF_UNSPEC, &p.target) < 0) {
        rc = -EINVAL;
        snprintf(why, sizeof why, "cannot resolve '%s'", w->target);
    }
    if (rc == 0 && (rc = icmp_run(&p, &w->stop, &r)) < 0)
        snprintf(why, sizeof why, "icmp to %s failed: %s%s", w->target, strerror(-rc),
                 rc == -EPERM || rc == -EACCES ? " (the node needs a ping socket or CAP_NET_RAW)" : "");
    long l1 = rc == 0 ? hist_serialize(r.rtt, b1, HIST_SERIALIZED_MAX) : -1;
    long l2 = rc == 0 ? hist_serialize(r.rtt_user, b2, HIST_SERIALIZED_MAX) : -1;
    if (rc == 0 && (l1 < 0 || l2 < 0))
        rc = -ENOBUFS;
    proto_msg_t m;
    if (rc < 0) {
        proto_msg_init(&m, PROTO_ERROR, w->seq);
        m.u.error.code = (uint64_t)(-rc < 4096 ? -rc : EIO);
        snprintf(m.u.error.text, sizeof m.u.error.text, "%s", why[0] ? why : strerror(-rc));
    } else {
        proto_msg_init(&m, PROTO_PING, w->seq);
        proto_ping_t *o = &m.u.ping;
        *o = w->preq;
        o->rtt = (proto_bin_t){0};
        o->rtt_user = (proto_bin_t){0};
        o->tx_packets = r.tx_packets;
        o->rx_packets = r.rx_packets;
        o->lost = r.lost;
        o->duplicates = r.duplicates < UINT32_MAX ? r.duplicates : UINT32_MAX;
        o->errors = r.errors < UINT32_MAX ? r.errors : UINT32_MAX;
        o->stamps_missing = r.stamps_missing;
        o->socket_kind = (uint64_t)r.socket_kind;
        o->stamp_source = (uint64_t)r.timestamp_source;
        o->rtt = (proto_bin_t){.data = b1, .len = (size_t)l1};
        o->rtt_user = (proto_bin_t){.data = b2, .len = (size_t)l2};
    }
    s_worker_send(w, &m);
    free(b1);
    free(b2);
    hist_destroy(&r.rtt);
    hist_destroy(&r.rtt_user);
}

static void *s_worker_main(void *arg)
{
    s_worker_t *w = arg;
    w->push = zmq_socket(w->ag->ctx, ZMQ_PUSH);
    int linger = -1;
    if (w->push) {
        zmq_setsockopt(w->push, ZMQ_LINGER, &linger, sizeof linger);
        zmq_connect(w->push, S_OUT_ENDPOINT);
    }
    if (w->ping) {
        if (w->push) {
            s_worker_ping(w);
            zmq_close(w->push);
        }
        atomic_store(&w->done, true);
        return NULL;
    }
    dp_result_t res;
    char why[512] = "";
    memset(&res, 0, sizeof res);
    int rc = s_worker_test(w, &res, why, sizeof why);
    if (w->push) {
        if (w->clock)
            s_worker_clock(w, rc, why, &res);
        else
            s_worker_result(w, rc, why, &res);
        zmq_close(w->push);
    }
    dp_result_fini(&res);
    atomic_store(&w->done, true);
    return NULL;
}

static int s_worker_start(s_agent_t *ag, s_worker_t *w)
{
    int slot = -1;
    for (int i = 0; i < S_MAX_WORKERS && slot < 0; i++)
        if (!ag->workers[i])
            slot = i;
    if (slot < 0)
        return -EBUSY;
    w->ag = ag;
    if (pthread_create(&w->tid, NULL, s_worker_main, w) != 0)
        return -EAGAIN;
    ag->workers[slot] = w;
    return 0;
}

/* Joins finished workers (all of them when `all`, after telling them to stop). */
static void s_workers_reap(s_agent_t *ag, bool all)
{
    for (int i = 0; i < S_MAX_WORKERS; i++)
        if (ag->workers[i] && all)
            atomic_store(&ag->workers[i]->stop, true);
    for (int i = 0; i < S_MAX_WORKERS; i++) {
        s_worker_t *w = ag->workers[i];
        if (!w || (!all && !atomic_load(&w->done)))
            continue;
        pthread_join(w->tid, NULL);
        free(w);
        ag->workers[i] = NULL;
    }
}

static unsigned s_running(const s_agent_t *ag)
{
    unsigned n = 0;
    for (int i = 0; i < S_MAX_WORKERS; i++)
        n += ag->workers[i] && !atomic_load(&ag->workers[i]->done);
    return n;
}

/* ---- requests -------------------------------------------------------------------------------- */

static void s_read_first_line(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fgets(out, (int)cap, f))
        out[strcspn(out, "\r\n")] = 0;
    fclose(f);
}

static void s_on_hello(s_agent_t *ag, const proto_msg_t *in)
{
    const proto_hello_t *h = &in->u.hello;
    if (h->heartbeat_ms >= 100)
        ag->heartbeat_ms = (uint32_t)h->heartbeat_ms;
    if (h->silence_ms >= 1000)
        ag->silence_ns = (int64_t)h->silence_ms * VMTP_NS_PER_MS;
    proto_msg_t m;
    proto_msg_init(&m, PROTO_HELLO, in->seq);
    proto_hello_t *o = &m.u.hello;
    snprintf(o->version, sizeof o->version, "%s", VMTP_VERSION);
    snprintf(o->role, sizeof o->role, "node");
    snprintf(o->run_id, sizeof o->run_id, "%s", h->run_id);
    gethostname(o->hostname, sizeof o->hostname - 1);
    snprintf(o->host_id, sizeof o->host_id, "%s", ag->host_id);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(o->kernel, sizeof o->kernel, "%s", u.release);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        o->stamping = tstamp_enable(fd, true, true) == 0 ? 3 : 0;
        close(fd);
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o->ncpu = ncpu > 0 ? (uint64_t)ncpu : 0;
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) == 0) {
        for (struct ifaddrs *i = ifa; i && o->addrs.n < 64; i = i->ifa_next) {
            if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
                continue;
            sockaddr_any_t a = {.len = sizeof a.ss};
            memcpy(&a.ss, i->ifa_addr,
                   i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
            char host[SOCK_ADDR_STRLEN];
            unsigned prefix = 0;
            if (i->ifa_netmask) {
                const uint8_t *b = i->ifa_addr->sa_family == AF_INET
                                       ? (const uint8_t *)&((struct sockaddr_in *)(void *)i->ifa_netmask)->sin_addr
                                       : (const uint8_t *)&((struct sockaddr_in6 *)(void *)i->ifa_netmask)->sin6_addr;
                for (size_t k = 0; k < (i->ifa_addr->sa_family == AF_INET ? 4u : 16u); k++)
                    prefix += (unsigned)__builtin_popcount(b[k]);
            }
            snprintf(o->addrs.v[o->addrs.n++], sizeof o->addrs.v[0], "%.16s %s/%u", i->ifa_name,
                     sock_addr_host(&a, host, sizeof host), prefix);
        }
        freeifaddrs(ifa);
    }
    o->heartbeat_ms = ag->heartbeat_ms;
    o->silence_ms = (uint64_t)(ag->silence_ns / VMTP_NS_PER_MS);
    o->real_ns = clock_real_ns();
    s_send(ag, &m);
    ag->hello = true;
    ag->next_beat = clock_mono_ns();
}

static void *s_srv_main(void *arg)
{
    s_agent_t *ag = arg;
    int rc = dpserver_run(ag->srv);
    if (rc < 0)
        LOG_ERROR("data-plane server failed: %s", strerror(-rc));
    return NULL;
}

static void s_on_listen(s_agent_t *ag, const proto_msg_t *in)
{
    const proto_listen_t *l = &in->u.listen;
    if (ag->srv) {
        if (l->port && l->port != dpserver_port(ag->srv)) {
            char text[128];
            snprintf(text, sizeof text, "the data-plane server already listens on port %u", dpserver_port(ag->srv));
            s_send_error(ag, in->seq, EBUSY, text);
            return;
        }
    } else {
        char why[256] = "";
        int err = 0;
        dpserver_cfg_t cfg = {
            .bind_host = l->bind[0] ? l->bind : NULL, .port = (uint16_t)l->port, .stop = &ag->srv_stop};
        ag->srv = dpserver_new(&cfg, &err, why, sizeof why);
        if (!ag->srv) {
            s_send_error(ag, in->seq, -err, why);
            return;
        }
        if (pthread_create(&ag->srv_tid, NULL, s_srv_main, ag) != 0) {
            dpserver_destroy(&ag->srv);
            s_send_error(ag, in->seq, EAGAIN, "cannot start the data-plane server thread");
            return;
        }
    }
    proto_msg_t m;
    proto_msg_init(&m, PROTO_LISTEN, in->seq);
    m.u.listen.port = dpserver_port(ag->srv);
    snprintf(m.u.listen.bind, sizeof m.u.listen.bind, "%s", l->bind);
    s_send(ag, &m);
}

static void s_on_run(s_agent_t *ag, const proto_msg_t *in)
{
    const proto_run_t *r = &in->u.run;
    s_worker_t *w = calloc(1, sizeof *w);
    char why[256];
    if (!w) {
        s_send_error(ag, in->seq, ENOMEM, "agent out of memory");
        return;
    }
    w->seq = in->seq;
    w->test_id = r->test_id;
    snprintf(w->target, sizeof w->target, "%s", r->target);
    w->port = (uint16_t)r->port;
    if (dp_spec_decode(r->spec.data, r->spec.len, &w->spec) < 0 || dp_test_validate(&w->spec, why, sizeof why) < 0) {
        if (dp_spec_decode(r->spec.data, r->spec.len, &w->spec) < 0)
            snprintf(why, sizeof why, "RUN.spec: not a data-plane test spec");
        free(w);
        s_send_error(ag, in->seq, EINVAL, why);
        return;
    }
    int rc = s_worker_start(ag, w);
    if (rc < 0) {
        free(w);
        s_send_error(ag, in->seq, -rc, rc == -EBUSY ? "agent runs too many tests already" : "cannot start a thread");
    }
}

static void s_on_clock(s_agent_t *ag, const proto_msg_t *in)
{
    const proto_clock_t *c = &in->u.clock;
    s_worker_t *w = calloc(1, sizeof *w);
    if (!w) {
        s_send_error(ag, in->seq, ENOMEM, "agent out of memory");
        return;
    }
    w->seq = in->seq;
    w->clock = true;
    w->req = *c;
    snprintf(w->target, sizeof w->target, "%s", c->peer);
    w->port = (uint16_t)c->port;
    /* An isochronous UDP request/response: each exchange gives the four stamps of NTP. */
    w->spec = (test_spec_t){.proto = TEST_RR_UDP,
                            .streams = 1,
                            .len = 64,
                            .rr_mode = RR_MODE_ISOCHRONOUS,
                            .rr_interval_ns = c->interval_ns,
                            .rr_count = c->count,
                            .rr_timeout_ns = VMTP_NS_PER_S,
                            .duration_ns = 3600 * VMTP_NS_PER_S};
    int rc = s_worker_start(ag, w);
    if (rc < 0) {
        free(w);
        s_send_error(ag, in->seq, -rc, "cannot start the clock exchange");
    }
}

static void s_on_ping(s_agent_t *ag, const proto_msg_t *in)
{
    s_worker_t *w = calloc(1, sizeof *w);
    if (!w) {
        s_send_error(ag, in->seq, ENOMEM, "agent out of memory");
        return;
    }
    w->seq = in->seq;
    w->ping = true;
    w->preq = in->u.ping;
    w->preq.rtt = (proto_bin_t){0}; /* the request's (empty) bytes stay with the request */
    w->preq.rtt_user = (proto_bin_t){0};
    snprintf(w->target, sizeof w->target, "%s", in->u.ping.target);
    int rc = s_worker_start(ag, w);
    if (rc < 0) {
        free(w);
        s_send_error(ag, in->seq, -rc, "cannot start the ping");
    }
}

static void s_on_stop(s_agent_t *ag, const proto_msg_t *in)
{
    for (int i = 0; i < S_MAX_WORKERS; i++) {
        s_worker_t *w = ag->workers[i];
        if (w && !w->clock && (!in->u.stop.test_id || (!w->ping && w->test_id == in->u.stop.test_id)))
            atomic_store(&w->stop, true);
    }
}

/* One frame from the coordinator. */
static void s_on_frame(s_agent_t *ag, const uint8_t *data, size_t len)
{
    proto_msg_t m;
    char why[256];
    int rc = proto_decode(data, len, &m, why, sizeof why);
    ag->last_heard = clock_mono_ns();
    if (rc < 0) {
        LOG_INFO("refused a frame: %s", why);
        s_send_error(ag, m.seq, -rc, why);
        return;
    }
    if (!ag->hello && m.id != PROTO_HELLO && m.id != PROTO_BYE) {
        s_send_error(ag, m.seq, EPROTO, "HELLO first");
        proto_msg_fini(&m);
        return;
    }
    switch (m.id) {
    case PROTO_HELLO: s_on_hello(ag, &m); break;
    case PROTO_HEARTBEAT: break;
    case PROTO_LISTEN: s_on_listen(ag, &m); break;
    case PROTO_RUN: s_on_run(ag, &m); break;
    case PROTO_STOP: s_on_stop(ag, &m); break;
    case PROTO_CLOCK: s_on_clock(ag, &m); break;
    case PROTO_PING: s_on_ping(ag, &m); break;
    case PROTO_BYE:
        LOG_INFO("coordinator said BYE: %s", m.u.bye.reason);
        ag->quit = true;
        break;
    default: {
        char text[64];
        snprintf(text, sizeof text, "%s is not a request a node answers", proto_name(m.id));
        s_send_error(ag, m.seq, EPROTO, text);
    }
    }
    proto_msg_fini(&m);
}

/* ---- sockets ----------------------------------------------------------------------------------- */

/* ZAP (RFC 27): admit only CURVE clients presenting the coordinator's key. */
static void s_on_zap(s_agent_t *ag)
{
    zmq_msg_t part[8];
    int n = 0, more = 1;
    while (more && n < 8) {
        zmq_msg_init(&part[n]);
        if (zmq_msg_recv(&part[n], ag->zap, 0) < 0) {
            zmq_msg_close(&part[n]);
            break;
        }
        more = zmq_msg_more(&part[n]);
        n++;
    }
    while (more) { /* drain a malformed request */
        zmq_msg_t x;
        zmq_msg_init(&x);
        int r = zmq_msg_recv(&x, ag->zap, 0);
        more = r >= 0 && zmq_msg_more(&x);
        zmq_msg_close(&x);
    }
    bool ok = n >= 7 && zmq_msg_size(&part[5]) == 5 && !memcmp(zmq_msg_data(&part[5]), "CURVE", 5) &&
              zmq_msg_size(&part[6]) == 32 && !memcmp(zmq_msg_data(&part[6]), ag->coord_key, 32);
    if (!ok)
        LOG_WARN("refused a control connection: not the coordinator's key");
    const char *status = ok ? "200" : "400";
    zmq_send(ag->zap, "1.0", 3, ZMQ_SNDMORE);
    if (n >= 2)
        zmq_send(ag->zap, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
    else
        zmq_send(ag->zap, "", 0, ZMQ_SNDMORE);
    zmq_send(ag->zap, status, 3, ZMQ_SNDMORE);
    zmq_send(ag->zap, ok ? "OK" : "not the coordinator", ok ? 2 : 19, ZMQ_SNDMORE);
    zmq_send(ag->zap, "", 0, ZMQ_SNDMORE);
    zmq_send(ag->zap, "", 0, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&part[i]);
}

static void s_on_router(s_agent_t *ag)
{
    for (;;) {
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&id, ag->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            zmq_msg_close(&body);
            return;
        }
        if (!zmq_msg_more(&id) || zmq_msg_recv(&body, ag->router, 0) < 0 || zmq_msg_more(&body)) {
            /* Not [routing id, frame]: drop the rest of it. */
            while (zmq_msg_more(&body)) {
                zmq_msg_close(&body);
                zmq_msg_init(&body);
                if (zmq_msg_recv(&body, ag->router, 0) < 0)
                    break;
            }
        } else if (zmq_msg_size(&id) <= sizeof ag->peer) {
            /* Only the coordinator gets past ZAP; its latest connection is where replies go. */
            ag->peer_len = zmq_msg_size(&id);
            memcpy(ag->peer, zmq_msg_data(&id), ag->peer_len);
            s_on_frame(ag, zmq_msg_data(&body), zmq_msg_size(&body));
        }
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
}

static void s_on_pull(s_agent_t *ag)
{
    for (;;) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, ag->pull, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&f);
            return;
        }
        if (ag->peer_len) {
            zmq_send(ag->router, ag->peer, ag->peer_len, ZMQ_SNDMORE);
            zmq_msg_send(&f, ag->router, 0);
        }
        zmq_msg_close(&f);
    }
}

/* Reads "secret KEY" and "coordinator KEY" lines (Z85). Returns 0 or -EINVAL. */
static int s_read_keys(FILE *in, char secret[41], uint8_t coord[32])
{
    char line[256];
    bool have_s = false, have_c = false;
    while ((!have_s || !have_c) && fgets(line, sizeof line, in)) {
        char key[64], val[128];
        line[strcspn(line, "\r\n")] = 0;
        if (sscanf(line, "%63s %127s", key, val) != 2 || strlen(val) != 40)
            continue;
        if (!strcmp(key, "secret")) {
            uint8_t tmp[32];
            if (!zmq_z85_decode(tmp, val))
                return -EINVAL;
            memcpy(secret, val, 41);
            memset(tmp, 0, sizeof tmp);
            have_s = true;
        } else if (!strcmp(key, "coordinator")) {
            if (!zmq_z85_decode(coord, val))
                return -EINVAL;
            have_c = true;
        }
        memset(line, 0, sizeof line);
    }
    return have_s && have_c ? 0 : -EINVAL;
}

static int s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes the working directory: only a directory named vmtp* (a guard against a wrong path). */
static void s_cleanup_dir(const char *dir)
{
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    struct stat st;
    if (strncmp(base, "vmtp", 4) || lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        LOG_WARN("not removing '%s': not a vmtp* directory", dir);
        return;
    }
    if (nftw(dir, s_rm, 16, FTW_DEPTH | FTW_PHYS) < 0)
        LOG_WARN("cannot remove '%s': %s", dir, strerror(errno));
}

static int s_setup(s_agent_t *ag, const char *secret, char *endpoint, size_t cap)
{
    ag->ctx = zmq_ctx_new();
    if (!ag->ctx)
        return -ENOMEM;
    ag->zap = zmq_socket(ag->ctx, ZMQ_REP);
    ag->router = zmq_socket(ag->ctx, ZMQ_ROUTER);
    ag->pull = zmq_socket(ag->ctx, ZMQ_PULL);
    if (!ag->zap || !ag->router || !ag->pull)
        return -ENOMEM;
    int one = 1, linger = 500;
    int64_t maxmsg = PROTO_FRAME_MAX;
    if (zmq_bind(ag->zap, S_ZAP_ENDPOINT) < 0 || zmq_bind(ag->pull, S_OUT_ENDPOINT) < 0)
        return -errno;
    zmq_setsockopt(ag->router, ZMQ_LINGER, &linger, sizeof linger); /* the last RESULTs and BYE go out */
    zmq_setsockopt(ag->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(ag->router, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(ag->router, ZMQ_ZAP_DOMAIN, "vmtp", 4);
    if (zmq_setsockopt(ag->router, ZMQ_CURVE_SECRETKEY, secret, 40) < 0)
        return -errno;
    char ep[128];
    const char *bind = ag->cfg->bind && ag->cfg->bind[0] ? ag->cfg->bind : NULL;
    zmq_setsockopt(ag->router, ZMQ_IPV6, &one, sizeof one); /* IPv6 too (IPv4 still works) */
    int rc = -1;
    if (!bind) {
        /* every address of both families; a host without IPv6 gets every IPv4 address */
        snprintf(ep, sizeof ep, "tcp://[::]:%u", ag->cfg->port);
        rc = zmq_bind(ag->router, ep);
        if (rc < 0)
            snprintf(ep, sizeof ep, "tcp://0.0.0.0:%u", ag->cfg->port);
    } else {
        snprintf(ep, sizeof ep, strchr(bind, ':') ? "tcp://[%s]:%u" : "tcp://%s:%u", bind, ag->cfg->port);
    }
    if (rc < 0 && zmq_bind(ag->router, ep) < 0)
        return -errno;
    size_t len = cap;
    zmq_getsockopt(ag->router, ZMQ_LAST_ENDPOINT, endpoint, &len);
    return 0;
}

static void s_teardown(s_agent_t *ag)
{
    s_workers_reap(ag, true);
    if (ag->srv) {
        atomic_store(&ag->srv_stop, true);
        pthread_join(ag->srv_tid, NULL);
        dpserver_destroy(&ag->srv);
    }
    if (ag->router)
        zmq_close(ag->router);
    if (ag->zap)
        zmq_close(ag->zap);
    if (ag->pull)
        zmq_close(ag->pull);
    if (ag->ctx && !zmq_term_bounded(ag->ctx, 2 * VMTP_NS_PER_S))
        LOG_DEBUG("the ZeroMQ context did not terminate within 2 s; left to the exit");
    if (ag->cfg->cleanup_dir)
        s_cleanup_dir(ag->cfg->cleanup_dir);
}

static void s_bye(s_agent_t *ag, const char *reason)
{
    proto_msg_t m;
    proto_msg_init(&m, PROTO_BYE, 0);
    snprintf(m.u.bye.reason, sizeof m.u.bye.reason, "%s", reason);
    s_send(ag, &m);
}

int agent_run(const agent_cfg_t *cfg)
{
    s_agent_t *ag = calloc(1, sizeof *ag);
    if (!ag)
        return 1;
    ag->cfg = cfg;
    ag->heartbeat_ms = 1000;
    ag->silence_ns = cfg->silence_ns;
    char secret[41] = "";
    if (s_read_keys(cfg->keys, secret, ag->coord_key) < 0) {
        LOG_ERROR("expected two lines on standard input: 'secret KEY' and 'coordinator KEY' (Z85, 40 characters)");
        free(ag);
        return 2;
    }
    snprintf(ag->host_id, sizeof ag->host_id, "%s", cfg->host_id ? cfg->host_id : "");
    /* The environment may name the machine this node runs on (a testbed VM's compute node): "hv:"
     * marks an identity given, not derived, which the coordinator can check placements against. */
    const char *env_id = getenv("VMTP_HOST_ID");
    if (!ag->host_id[0] && env_id && env_id[0])
        snprintf(ag->host_id, sizeof ag->host_id, "hv:%.60s", env_id);
    if (!ag->host_id[0]) {
        /* The machine, and the network namespace on it: namespaces on one machine are separate
         * hosts to the network (the namespace testbed), a real host keeps one identity. */
        char mid[40] = "", boot[40] = "", ns[64] = "";
        s_read_first_line("/etc/machine-id", mid, sizeof mid);
        /* the boot id tells apart clones that share a machine id (or have none) */
        s_read_first_line("/proc/sys/kernel/random/boot_id", boot, sizeof boot);
        ssize_t n = readlink("/proc/self/ns/net", ns, sizeof ns - 1);
        ns[n > 0 ? n : 0] = 0;
        const char *ino = strchr(ns, '[');
        snprintf(ag->host_id, sizeof ag->host_id, "%.32s/%.8s/%.16s", mid[0] ? mid : "-", boot[0] ? boot : "-",
                 ino ? ino + 1 : "-");
        ag->host_id[strcspn(ag->host_id, "]")] = 0;
    }
    char endpoint[128] = "";
    int rc = s_setup(ag, secret, endpoint, sizeof endpoint);
    memset(secret, 0, sizeof secret);
    if (rc < 0) {
        LOG_ERROR("cannot listen for the coordinator on port %u: %s", cfg->port, strerror(-rc));
        ag->exit_status = 1;
        goto out;
    }
    const char *colon = strrchr(endpoint, ':');
    fprintf(cfg->announce, "ready port=%s pid=%d\n", colon ? colon + 1 : "?", (int)getpid());
    fflush(cfg->announce);
    ag->last_heard = clock_mono_ns();
    while (!ag->quit) {
        if (atomic_load(cfg->stop)) {
            s_bye(ag, "node stopped by a signal");
            break;
        }
        int64_t now = clock_mono_ns();
        if (now - ag->last_heard > ag->silence_ns) {
            LOG_WARN("the coordinator has been silent for %.1f s: exiting", (double)(now - ag->last_heard) / 1e9);
            s_bye(ag, "coordinator silent");
            ag->exit_status = 1;
            break;
        }
        if (ag->hello && now >= ag->next_beat) {
            proto_msg_t m;
            proto_msg_init(&m, PROTO_HEARTBEAT, 0);
            m.u.heartbeat.sent_real_ns = clock_real_ns();
            m.u.heartbeat.running = s_running(ag);
            s_send(ag, &m);
            ag->next_beat = now + (int64_t)ag->heartbeat_ms * VMTP_NS_PER_MS;
        }
        zmq_pollitem_t items[] = {
            {ag->router, 0, ZMQ_POLLIN, 0}, {ag->zap, 0, ZMQ_POLLIN, 0}, {ag->pull, 0, ZMQ_POLLIN, 0}};
        long wait_ms = S_TICK_MS;
        if (ag->hello && (ag->next_beat - now) / VMTP_NS_PER_MS < wait_ms)
            wait_ms = (long)((ag->next_beat - now) / VMTP_NS_PER_MS);
        if (zmq_poll(items, 3, wait_ms < 0 ? 0 : wait_ms) < 0 && errno != EINTR) {
            LOG_ERROR("zmq_poll: %s", strerror(errno));
            ag->exit_status = 1;
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            s_on_zap(ag);
        if (items[0].revents & ZMQ_POLLIN)
            s_on_router(ag);
        if (items[2].revents & ZMQ_POLLIN)
            s_on_pull(ag);
        s_workers_reap(ag, false);
    }
    /* Results of tests stopped now still go out before the sockets close. */
    for (int i = 0; i < S_MAX_WORKERS; i++)
        if (ag->workers[i])
            atomic_store(&ag->workers[i]->stop, true);
    for (int tries = 0; s_running(ag) && tries < 50; tries++) {
        zmq_pollitem_t it = {ag->pull, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) > 0)
            s_on_pull(ag);
    }
    s_on_pull(ag);
out:
    s_teardown(ag);
    int status = ag->exit_status;
    free(ag);
    return status;
}
