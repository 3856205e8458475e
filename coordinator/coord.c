/* coord.c — the coordinator core; see coord.h. */
#include "coord.h"

#include "dpwire.h"
#include "zmqutil.h"
#include "vmtp/clock.h"
#include "vmtp/log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <zmq.h>

#define S_HELLO_PROBES 4                     /* HELLO round trips taken; the fastest gives the clock offset */
#define S_RUN_MARGIN_NS (60 * VMTP_NS_PER_S) /* a RUN's RESULT may come this long after its end */
#define S_MAX_INTERVALS 100000               /* progress periods kept per end of a test */
#define S_BYE_LINGER_MS 200                  /* how long a BYE may wait to leave on destroy */
#define S_TERM_BOUND_NS (2 * VMTP_NS_PER_S)  /* BYE linger + margin: never hang on zmq_ctx_term */

typedef enum { S_REQ_HELLO, S_REQ_LISTEN, S_REQ_RUN, S_REQ_CLOCK, S_REQ_PING } s_req_kind_t;

/* A request awaiting its answer. */
typedef struct s_req {
    struct s_req *next;
    coord_node_t *node; /* not owned */
    s_req_kind_t kind;  /* what was asked */
    uint64_t seq;       /* its seq */
    uint64_t test_id;   /* RUN: the test */
    int64_t deadline;   /* monotonic: no answer by then fails it */
    void *arg;          /* for the callback */
    coord_listen_fn on_listen;
    coord_interval_fn on_interval;
    coord_result_fn on_result;
    coord_ping_fn on_ping;
    coord_clock_fn on_clock;
    dp_result_t res;      /* RUN: accumulates the intervals, then the reports */
    size_t cap_local_iv;  /* RUN: room in res.local_iv */
    size_t cap_remote_iv; /* RUN: room in res.remote_iv */
    bool stop_sent;       /* RUN: a STOP went out for it */
} s_req_t;

struct coord_node {
    coord_t *c;               /* not owned */
    unsigned index;           /* in c->nodes */
    char name[64];            /* label */
    char endpoint[300];       /* tcp://host:port */
    void *sock;               /* DEALER, CURVE client */
    void *mon;                /* PAIR receiving the socket's monitor events */
    coord_node_state_t state; /* where it is */
    char reason[700];         /* why LOST or CLOSED */
    proto_hello_t hello;      /* the node's HELLO */
    coord_hello_fn on_hello;  /* done callback of coord_add_node */
    void *hello_arg;          /* its argument */
    unsigned probes;          /* HELLO answers received */
    int64_t probe_sent_real;  /* CLOCK_REALTIME when the outstanding HELLO left */
    int64_t offset_ns;        /* node clock minus ours */
    int64_t bound_ns;         /* |error| of offset_ns (half the fastest HELLO round trip) */
    int64_t last_heard;       /* monotonic: last frame from the node */
    int64_t next_beat;        /* monotonic: our next heartbeat to it */
    bool handshake_ok;        /* the CURVE handshake succeeded once */
};

struct coord {
    coord_cfg_t cfg; /* copy (run_id points at run_id below) */
    char run_id[65]; /* the run's id */
    void *ctx;       /* ZeroMQ context */
    char public_key[COORD_KEY_SIZE];
    char secret_key[COORD_KEY_SIZE];
    coord_node_t **nodes; /* every node added */
    unsigned n_nodes, cap_nodes;
    s_req_t *reqs;         /* pending requests */
    unsigned n_reqs;       /* how many */
    uint64_t next_seq;     /* request numbers */
    uint64_t next_test_id; /* test ids */
    int sigfd;             /* signalfd, or -1 */
    sigset_t old_mask;     /* signal mask before cfg.signals blocked SIGINT/SIGTERM */
    bool masked;           /* old_mask is to be restored */
    int last_signal;       /* the last signal seen */
    zmq_pollitem_t *items; /* poll set: [signalfd], then sock and mon of each node */
    unsigned cap_items;    /* allocated */
};

/* ---- small helpers --------------------------------------------------------------------------- */

static void s_set_reason(coord_node_t *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_set_reason(coord_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->reason, sizeof n->reason, fmt, ap);
    va_end(ap);
}

static int s_send(coord_node_t *n, const proto_msg_t *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char why[256];
    int rc = proto_encode(m, &buf, &len, why, sizeof why);
    if (rc < 0) {
        LOG_WARN("%s: cannot encode %s: %s", n->name, proto_name(m->id), why);
        return rc;
    }
    if (zmq_send(n->sock, buf, len, ZMQ_DONTWAIT) < 0)
        rc = -errno;
    free(buf);
    return rc;
}

static s_req_t *s_req_new(coord_node_t *n, s_req_kind_t kind, int64_t timeout_ns)
{
    s_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->node = n;
    r->kind = kind;
    r->seq = ++n->c->next_seq;
    r->deadline = timeout_ns > 0 ? clock_mono_ns() + timeout_ns : 0;
    report_init(&r->res.local);
    report_init(&r->res.remote);
    r->next = n->c->reqs;
    n->c->reqs = r;
    n->c->n_reqs++;
    return r;
}

/* Unlinks r from the pending list (does not free it). */
static void s_req_unlink(coord_t *c, s_req_t *r)
{
    for (s_req_t **p = &c->reqs; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            c->n_reqs--;
            return;
        }
}

static void s_req_free(s_req_t *r)
{
    dp_result_fini(&r->res);
    free(r);
}

/* Sends request r's message; a request that could not be sent is withdrawn. Returns 0 or -errno. */
static int s_submit(coord_node_t *n, s_req_t *r, const proto_msg_t *m)
{
    int rc = s_send(n, m);
    if (rc < 0) {
        s_req_unlink(n->c, r);
        s_req_free(r);
    }
    return rc;
}

static s_req_t *s_req_find(coord_t *c, const coord_node_t *n, uint64_t seq)
{
    for (s_req_t *r = c->reqs; r; r = r->next)
        if (r->node == n && r->seq == seq)
            return r;
    return NULL;
}

/* Ends a request with a failure (status < 0), calling its callback, and frees it. */
static void s_req_fail(coord_t *c, s_req_t *r, int status, const char *why)
{
    s_req_unlink(c, r);
    coord_node_t *n = r->node;
    switch (r->kind) {
    case S_REQ_HELLO:
        if (n->on_hello) {
            coord_hello_fn fn = n->on_hello;
            n->on_hello = NULL;
            fn(n, status, n->hello_arg);
        }
        break;
    case S_REQ_LISTEN:
        if (r->on_listen)
            r->on_listen(n, status, 0, r->arg);
        break;
    case S_REQ_RUN:
        if (r->on_result) {
            coord_result_t res = {.test_id = r->test_id, .status = status};
            snprintf(res.error, sizeof res.error, "%s", why);
            res.res = r->res;
            r->on_result(n, &res, r->arg);
            r->res = res.res; /* coord_result_take may have emptied it */
        }
        break;
    case S_REQ_CLOCK:
        if (r->on_clock)
            r->on_clock(n, status, NULL, r->arg);
        break;
    case S_REQ_PING:
        if (r->on_ping)
            r->on_ping(n, status, why, NULL, r->arg);
        break;
    }
    s_req_free(r);
}

/* The node is gone: every request pending on it fails with -ENOTCONN and the reason. */
static void s_node_lost(coord_node_t *n, coord_node_state_t state, const char *reason)
{
    coord_t *c = n->c;
    if (n->state == COORD_NODE_LOST || n->state == COORD_NODE_CLOSED)
        return;
    n->state = state;
    s_set_reason(n, "%s", reason);
    if (state == COORD_NODE_LOST)
        LOG_WARN("node %s lost: %s", n->name, reason);
    char why[800];
    snprintf(why, sizeof why, "node %s %s: %s", n->name, state == COORD_NODE_LOST ? "lost" : "closed", reason);
    for (;;) {
        s_req_t *r = c->reqs;
        while (r && r->node != n)
            r = r->next;
        if (!r)
            break;
        /* A HELLO failing before READY says why in its own status. */
        s_req_fail(c, r, -ENOTCONN, why);
    }
    if (n->on_hello) { /* HELLO answered but probes outstanding: still a failed connect */
        coord_hello_fn fn = n->on_hello;
        n->on_hello = NULL;
        fn(n, -ENOTCONN, n->hello_arg);
    }
}

/* ---- key pairs, construction ----------------------------------------------------------------- */

int coord_keypair(char public_key[COORD_KEY_SIZE], char secret_key[COORD_KEY_SIZE])
{
    if (zmq_curve_keypair(public_key, secret_key) != 0)
        return errno ? -errno : -ENOTSUP;
    return 0;
}

/* Lets the process hold many node connections: each takes a few descriptors. */
static void s_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

coord_t *coord_new(const coord_cfg_t *cfg, int *err)
{
    int e = 0;
    coord_t *c = calloc(1, sizeof *c);
    if (!c) {
        *err = -ENOMEM;
        return NULL;
    }
    c->cfg = *cfg;
    if (!c->cfg.heartbeat_ms)
        c->cfg.heartbeat_ms = 1000;
    if (!c->cfg.silence_ms)
        c->cfg.silence_ms = 5000;
    if (c->cfg.heartbeat_ms < 10 || c->cfg.silence_ms < 2 * c->cfg.heartbeat_ms || c->cfg.silence_ms < 1000) {
        LOG_ERROR("coordinator: silence bound %u ms must be at least 1000 ms and twice the heartbeat period (%u ms)",
                  c->cfg.silence_ms, c->cfg.heartbeat_ms);
        free(c);
        *err = -EINVAL;
        return NULL;
    }
    if (!c->cfg.request_timeout_ns)
        c->cfg.request_timeout_ns = 10 * VMTP_NS_PER_S;
    snprintf(c->run_id, sizeof c->run_id, "%s", cfg->run_id ? cfg->run_id : "");
    c->cfg.run_id = c->run_id;
    c->sigfd = -1;
    if (c->cfg.signals) {
        /* Blocked before the ZeroMQ I/O threads exist, so they inherit the mask and the signals
         * reach only the signalfd. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &set, &c->old_mask);
        c->masked = true;
        c->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        if (c->sigfd < 0) {
            e = -errno;
            goto fail;
        }
    }
    s_raise_nofile();
    c->ctx = zmq_ctx_new();
    if (!c->ctx) {
        e = errno ? -errno : -ENOMEM;
        goto fail;
    }
    struct rlimit rl;
    int max_sockets = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 2048 ? 16384 : 1023;
    zmq_ctx_set(c->ctx, ZMQ_MAX_SOCKETS, max_sockets);
    e = coord_keypair(c->public_key, c->secret_key);
    if (e < 0)
        goto fail;
    return c;
fail:
    coord_destroy(&c);
    *err = e;
    return NULL;
}

const char *coord_public_key(const coord_t *self) { return self->public_key; }

/* The monitor is stopped first (its internal socket closes while our end still reads), then the
 * socket, then our end of the monitor: the order libzmq's own tests use. */
static void s_node_close_sockets(coord_node_t *n)
{
    if (n->sock) {
        zmq_socket_monitor(n->sock, NULL, 0);
        zmq_close(n->sock);
        n->sock = NULL;
    }
    if (n->mon) {
        zmq_close(n->mon);
        n->mon = NULL;
    }
}

void coord_destroy(coord_t **self)
{
    coord_t *c = self ? *self : NULL;
    if (!c)
        return;
    for (unsigned i = 0; i < c->n_nodes; i++) {
        coord_node_t *n = c->nodes[i];
        if (n->sock && (n->state == COORD_NODE_READY || n->state == COORD_NODE_CONNECTING)) {
            proto_msg_t m;
            proto_msg_init(&m, PROTO_BYE, 0);
            snprintf(m.u.bye.reason, sizeof m.u.bye.reason, "the coordinator is done");
            int linger = S_BYE_LINGER_MS;
            zmq_setsockopt(n->sock, ZMQ_LINGER, &linger, sizeof linger);
            s_send(n, &m);
        }
    }
    while (c->reqs) {
        s_req_t *r = c->reqs;
        c->reqs = r->next;
        s_req_free(r);
    }
    for (unsigned i = 0; i < c->n_nodes; i++) {
        s_node_close_sockets(c->nodes[i]);
        free(c->nodes[i]);
    }
    free(c->nodes);
    free(c->items);
    if (c->ctx && !zmq_term_bounded(c->ctx, S_TERM_BOUND_NS))
        LOG_DEBUG("the ZeroMQ context did not terminate within %.1f s; left to the exit",
                  (double)S_TERM_BOUND_NS / 1e9);
    if (c->sigfd >= 0)
        close(c->sigfd);
    if (c->masked) {
        /* Signals that arrived and were not read would fire on unblocking: drop them. */
        sigset_t pending;
        sigpending(&pending);
        if (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM) || sigismember(&pending, SIGHUP)) {
            struct timespec zero = {0, 0};
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, SIGINT);
            sigaddset(&set, SIGTERM);
            sigaddset(&set, SIGHUP);
            while (sigtimedwait(&set, NULL, &zero) > 0) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &c->old_mask, NULL);
    }
    memset(c->secret_key, 0, sizeof c->secret_key);
    free(c);
    *self = NULL;
}

/* ---- nodes ------------------------------------------------------------------------------------- */

/* Sends a HELLO (the first, or a probe) and arms its request. */
static int s_send_hello(coord_node_t *n)
{
    coord_t *c = n->c;
    s_req_t *r = s_req_new(n, S_REQ_HELLO, c->cfg.request_timeout_ns);
    if (!r)
        return -ENOMEM;
    proto_msg_t m;
    proto_msg_init(&m, PROTO_HELLO, r->seq);
    proto_hello_t *h = &m.u.hello;
    snprintf(h->version, sizeof h->version, "%s", VMTP_VERSION);
    snprintf(h->role, sizeof h->role, "coordinator");
    snprintf(h->run_id, sizeof h->run_id, "%s", c->run_id);
    gethostname(h->hostname, sizeof h->hostname - 1);
    h->heartbeat_ms = c->cfg.heartbeat_ms;
    h->silence_ms = c->cfg.silence_ms;
    n->probe_sent_real = clock_real_ns();
    h->real_ns = n->probe_sent_real;
    return s_submit(n, r, &m);
}

coord_node_t *coord_add_node(coord_t *self, const char *name, const char *endpoint, const char *node_public,
                             coord_hello_fn done, void *arg, int *err)
{
    int e = 0;
    if (!endpoint || strlen(endpoint) >= sizeof((coord_node_t *)0)->endpoint || !node_public ||
        strlen(node_public) != COORD_KEY_LEN) {
        *err = -EINVAL;
        return NULL;
    }
    if (self->n_nodes == self->cap_nodes) {
        unsigned cap = self->cap_nodes ? 2 * self->cap_nodes : 16;
        coord_node_t **v = realloc(self->nodes, cap * sizeof *v);
        if (!v) {
            *err = -ENOMEM;
            return NULL;
        }
        self->nodes = v;
        self->cap_nodes = cap;
    }
    coord_node_t *n = calloc(1, sizeof *n);
    if (!n) {
        *err = -ENOMEM;
        return NULL;
    }
    n->c = self;
    snprintf(n->name, sizeof n->name, "%s", name && name[0] ? name : endpoint);
    snprintf(n->endpoint, sizeof n->endpoint, "%s", endpoint);
    n->on_hello = done;
    n->hello_arg = arg;
    n->state = COORD_NODE_CONNECTING;
    n->sock = zmq_socket(self->ctx, ZMQ_DEALER);
    if (!n->sock) {
        e = -errno;
        goto fail;
    }
    int zero = 0;
    int64_t maxmsg = PROTO_FRAME_MAX;
    int hwm = 10000;
    int ivl = 100, ivl_max = 1000;
    if (zmq_setsockopt(n->sock, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
        zmq_setsockopt(n->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) < 0 ||
        zmq_setsockopt(n->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(n->sock, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(n->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) < 0 ||
        zmq_setsockopt(n->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) < 0 ||
        zmq_setsockopt(n->sock, ZMQ_CURVE_SERVERKEY, node_public, COORD_KEY_LEN + 1) < 0 ||
        zmq_setsockopt(n->sock, ZMQ_CURVE_PUBLICKEY, self->public_key, COORD_KEY_LEN + 1) < 0 ||
        zmq_setsockopt(n->sock, ZMQ_CURVE_SECRETKEY, self->secret_key, COORD_KEY_LEN + 1) < 0) {
        e = -errno;
        goto fail;
    }
    if (strchr(endpoint, '[')) { /* tcp://[IPv6]:port */
        int one = 1;
        zmq_setsockopt(n->sock, ZMQ_IPV6, &one, sizeof one);
    }
    /* Monitor events tell a refused key or a dead agent apart from silence. */
    char mon_ep[64];
    snprintf(mon_ep, sizeof mon_ep, "inproc://vmtp-coord-mon-%p", (void *)n);
    if (zmq_socket_monitor(n->sock, mon_ep,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_DISCONNECTED) < 0) {
        e = -errno;
        goto fail;
    }
    n->mon = zmq_socket(self->ctx, ZMQ_PAIR);
    if (!n->mon || zmq_setsockopt(n->mon, ZMQ_LINGER, &zero, sizeof zero) < 0 || zmq_connect(n->mon, mon_ep) < 0) {
        e = -errno;
        goto fail;
    }
    if (zmq_connect(n->sock, endpoint) < 0) {
        e = -errno;
        goto fail;
    }
    n->index = self->n_nodes;
    self->nodes[self->n_nodes++] = n;
    n->last_heard = clock_mono_ns();
    e = s_send_hello(n);
    if (e < 0) {
        self->n_nodes--;
        goto fail;
    }
    return n;
fail:
    s_node_close_sockets(n);
    free(n);
    *err = e ? e : -EIO;
    return NULL;
}

coord_node_state_t coord_node_state(const coord_node_t *n) { return n->state; }
const char *coord_node_reason(const coord_node_t *n) { return n->reason; }
const char *coord_node_name(const coord_node_t *n) { return n->name; }
const proto_hello_t *coord_node_hello(const coord_node_t *n) { return &n->hello; }

int64_t coord_node_offset_ns(const coord_node_t *n, int64_t *bound_ns)
{
    if (bound_ns)
        *bound_ns = n->bound_ns;
    return n->offset_ns;
}

int64_t coord_node_time(const coord_node_t *n, int64_t coord_real_ns) { return coord_real_ns + n->offset_ns; }
int64_t coord_time_of_node(const coord_node_t *n, int64_t node_real_ns) { return node_real_ns - n->offset_ns; }

/* ---- requests ---------------------------------------------------------------------------------- */

int coord_listen(coord_node_t *n, uint16_t port, const char *bind, coord_listen_fn done, void *arg)
{
    if (n->state != COORD_NODE_READY)
        return -ENOTCONN;
    if (bind && strlen(bind) > 64)
        return -EINVAL;
    s_req_t *r = s_req_new(n, S_REQ_LISTEN, n->c->cfg.request_timeout_ns);
    if (!r)
        return -ENOMEM;
    r->on_listen = done;
    r->arg = arg;
    proto_msg_t m;
    proto_msg_init(&m, PROTO_LISTEN, r->seq);
    m.u.listen.port = port;
    snprintf(m.u.listen.bind, sizeof m.u.listen.bind, "%s", bind ? bind : "");
    return s_submit(n, r, &m);
}

/* How long after now a test may take before its RESULT is overdue. */
static int64_t s_run_bound(const test_spec_t *spec, int64_t node_now_real)
{
    int64_t t = spec->duration_ns + spec->omit_ns;
    if ((spec->proto == TEST_RR_UDP || spec->proto == TEST_RR_TCP) && spec->rr_count) {
        int64_t per = spec->rr_mode == RR_MODE_ISOCHRONOUS ? spec->rr_interval_ns : 0;
        int64_t cnt = (int64_t)spec->rr_count;
        int64_t by_count = per > 0 && cnt < INT64_MAX / per ? cnt * per : 0;
        /* a ping-pong count can take as long as its duration limit allows */
        if (by_count > t)
            t = by_count;
        if (spec->rr_timeout_ns > 0)
            t += spec->rr_timeout_ns;
    }
    if (spec->start_real_ns > node_now_real)
        t += spec->start_real_ns - node_now_real;
    return t + S_RUN_MARGIN_NS;
}

int64_t coord_run(coord_node_t *n, const char *target, uint16_t port, const test_spec_t *spec,
                  coord_interval_fn on_interval, coord_result_fn done, void *arg)
{
    if (n->state != COORD_NODE_READY)
        return -ENOTCONN;
    if (!target || !target[0] || strlen(target) > 255 || !port)
        return -EINVAL;
    char why[256];
    if (dp_test_validate(spec, why, sizeof why) < 0) {
        LOG_ERROR("%s: test refused before sending: %s", n->name, why);
        return -EINVAL;
    }
    uint8_t blob[512];
    long len = dp_spec_encode(spec, blob, sizeof blob);
    if (len < 0)
        return len;
    s_req_t *r = s_req_new(n, S_REQ_RUN, s_run_bound(spec, coord_node_time(n, clock_real_ns())));
    if (!r)
        return -ENOMEM;
    r->test_id = ++n->c->next_test_id;
    r->on_interval = on_interval;
    r->on_result = done;
    r->arg = arg;
    r->res.spec = *spec;
    proto_msg_t m;
    proto_msg_init(&m, PROTO_RUN, r->seq);
    m.u.run.test_id = r->test_id;
    snprintf(m.u.run.target, sizeof m.u.run.target, "%s", target);
    m.u.run.port = port;
    m.u.run.spec = (proto_bin_t){.data = blob, .len = (size_t)len};
    uint64_t id = r->test_id;
    int rc = s_submit(n, r, &m);
    return rc < 0 ? rc : (int64_t)id;
}

static void s_send_stop(coord_node_t *n, uint64_t test_id)
{
    proto_msg_t m;
    proto_msg_init(&m, PROTO_STOP, 0);
    m.u.stop.test_id = test_id;
    s_send(n, &m);
}

int coord_stop(coord_t *self, uint64_t test_id)
{
    if (!test_id) { /* everything, everywhere (RUNs and PINGs) */
        for (unsigned i = 0; i < self->n_nodes; i++)
            if (self->nodes[i]->state == COORD_NODE_READY)
                s_send_stop(self->nodes[i], 0);
        return 0;
    }
    for (s_req_t *r = self->reqs; r; r = r->next)
        if (r->kind == S_REQ_RUN && r->test_id == test_id) {
            if (r->node->state == COORD_NODE_READY)
                s_send_stop(r->node, test_id);
            r->stop_sent = true;
            return 0;
        }
    return -ENOENT;
}

int coord_clock(coord_node_t *n, const char *peer, uint16_t port, uint32_t count, int64_t interval_ns,
                coord_clock_fn done, void *arg)
{
    if (n->state != COORD_NODE_READY)
        return -ENOTCONN;
    if (!peer || !peer[0] || strlen(peer) > 255 || !port || count < 8 || count > 100000 || interval_ns < 1000 ||
        interval_ns > VMTP_NS_PER_S)
        return -EINVAL;
    s_req_t *r = s_req_new(n, S_REQ_CLOCK, n->c->cfg.request_timeout_ns + (int64_t)count * interval_ns);
    if (!r)
        return -ENOMEM;
    r->on_clock = done;
    r->arg = arg;
    proto_msg_t m;
    proto_msg_init(&m, PROTO_CLOCK, r->seq);
    snprintf(m.u.clock.peer, sizeof m.u.clock.peer, "%s", peer);
    m.u.clock.port = port;
    m.u.clock.count = count;
    m.u.clock.interval_ns = interval_ns;
    return s_submit(n, r, &m);
}

int coord_ping(coord_node_t *n, const char *target, uint32_t payload_len, uint32_t count, int64_t interval_ns,
               int64_t timeout_ns, coord_ping_fn done, void *arg)
{
    if (n->state != COORD_NODE_READY)
        return -ENOTCONN;
    if (!target || !target[0] || strlen(target) > 255 || payload_len > 65507 || count < 1 || count > 100000 ||
        interval_ns < 1000 || interval_ns > 3600 * VMTP_NS_PER_S || timeout_ns < VMTP_NS_PER_MS ||
        timeout_ns > 60 * VMTP_NS_PER_S)
        return -EINVAL;
    s_req_t *r = s_req_new(n, S_REQ_PING, n->c->cfg.request_timeout_ns + (int64_t)count * interval_ns + timeout_ns);
    if (!r)
        return -ENOMEM;
    r->on_ping = done;
    r->arg = arg;
    proto_msg_t m;
    proto_msg_init(&m, PROTO_PING, r->seq);
    snprintf(m.u.ping.target, sizeof m.u.ping.target, "%s", target);
    m.u.ping.payload_len = payload_len;
    m.u.ping.count = count;
    m.u.ping.interval_ns = interval_ns;
    m.u.ping.timeout_ns = timeout_ns;
    return s_submit(n, r, &m);
}

void coord_result_take(coord_result_t *r, dp_result_t *out)
{
    *out = r->res;
    memset(&r->res, 0, sizeof r->res);
    report_init(&r->res.local);
    report_init(&r->res.remote);
}

unsigned coord_pending(const coord_t *self) { return self->n_reqs; }

unsigned coord_detach(coord_t *self, const void *arg)
{
    unsigned n = 0;
    for (s_req_t *r = self->reqs; r; r = r->next)
        if (r->arg == arg && (r->on_listen || r->on_interval || r->on_result || r->on_clock || r->on_ping)) {
            r->on_listen = NULL;
            r->on_interval = NULL;
            r->on_result = NULL;
            r->on_clock = NULL;
            r->on_ping = NULL;
            n++;
        }
    return n;
}

int coord_last_signal(const coord_t *self) { return self->last_signal; }

/* ---- answers ----------------------------------------------------------------------------------- */

static void s_on_hello_reply(coord_node_t *n, s_req_t *r, const proto_msg_t *m)
{
    int64_t now = clock_real_ns();
    const proto_hello_t *h = &m->u.hello;
    s_req_unlink(n->c, r);
    s_req_free(r);
    if (strcmp(h->role, "node") != 0 || strcmp(h->run_id, n->c->run_id) != 0) {
        char why[200];
        snprintf(why, sizeof why, "HELLO answered by a %.16s of run '%.64s', not a node of this run", h->role,
                 h->run_id);
        s_node_lost(n, COORD_NODE_LOST, why);
        return;
    }
    /* NTP's estimate on the control path: the node stamped real_ns somewhere in [sent, now]. */
    int64_t rtt = now - n->probe_sent_real;
    int64_t offset = h->real_ns - (n->probe_sent_real + rtt / 2);
    if (n->probes == 0 || rtt / 2 + 1 < n->bound_ns) {
        n->offset_ns = offset;
        n->bound_ns = rtt / 2 + 1;
    }
    n->hello = *h;
    if (++n->probes < S_HELLO_PROBES) {
        int rc = s_send_hello(n);
        if (rc < 0)
            s_node_lost(n, COORD_NODE_LOST, "cannot send HELLO");
        return;
    }
    n->state = COORD_NODE_READY;
    n->next_beat = clock_mono_ns() + (int64_t)n->c->cfg.heartbeat_ms * VMTP_NS_PER_MS;
    LOG_DEBUG("node %s ready: %s, kernel %s, clock offset %lld ns +- %lld ns", n->name, n->hello.hostname,
              n->hello.kernel, (long long)n->offset_ns, (long long)n->bound_ns);
    if (n->on_hello) {
        coord_hello_fn fn = n->on_hello;
        n->on_hello = NULL;
        fn(n, 0, n->hello_arg);
    }
}

static void s_on_interval_msg(coord_node_t *n, s_req_t *r, const proto_msg_t *m)
{
    const proto_interval_t *in = &m->u.interval;
    interval_t iv;
    if (in->test_id != r->test_id || dp_interval_decode(in->interval.data, in->interval.len, &iv) < 0) {
        LOG_WARN("%s: dropped a malformed INTERVAL of test %llu", n->name, (unsigned long long)r->test_id);
        return;
    }
    interval_t **arr = in->remote ? &r->res.remote_iv : &r->res.local_iv;
    size_t *cnt = in->remote ? &r->res.n_remote_iv : &r->res.n_local_iv;
    size_t *cap = in->remote ? &r->cap_remote_iv : &r->cap_local_iv;
    if (*cnt == *cap && *cap < S_MAX_INTERVALS) {
        size_t ncap = *cap ? 2 * *cap : 16;
        interval_t *v = realloc(*arr, ncap * sizeof *v);
        if (v) {
            *arr = v;
            *cap = ncap;
        }
    }
    if (*cnt < *cap)
        (*arr)[(*cnt)++] = iv;
    if (r->on_interval)
        r->on_interval(n, r->test_id, &iv, in->remote, r->arg);
}

static void s_on_result_msg(coord_node_t *n, s_req_t *r, const proto_msg_t *m)
{
    const proto_result_t *in = &m->u.result;
    coord_result_t res = {.test_id = r->test_id, .status = (int)in->status};
    snprintf(res.error, sizeof res.error, "%s", in->error);
    s_req_unlink(n->c, r);
    if (in->test_id != r->test_id) {
        res.status = -EPROTO;
        snprintf(res.error, sizeof res.error, "node %s answered test %llu with the RESULT of test %llu", n->name,
                 (unsigned long long)r->test_id, (unsigned long long)in->test_id);
    } else if (res.status == 0) {
        if (dp_report_decode(in->local.data, in->local.len, &r->res.local) < 0 ||
            dp_report_decode(in->remote.data, in->remote.len, &r->res.remote) < 0) {
            res.status = -EPROTO;
            snprintf(res.error, sizeof res.error, "node %s sent a RESULT whose reports do not decode", n->name);
        } else {
            snprintf(r->res.server_id, sizeof r->res.server_id, "%s", in->server_id);
            r->res.start_real_ns = in->start_real_ns;
        }
    } else if (!res.error[0]) {
        snprintf(res.error, sizeof res.error, "%s", strerror(-res.status));
    }
    res.res = r->res;
    if (r->on_result)
        r->on_result(n, &res, r->arg);
    r->res = res.res;
    s_req_free(r);
}

static void s_on_clock_reply(coord_node_t *n, s_req_t *r, const proto_msg_t *m)
{
    s_req_unlink(n->c, r);
    if (r->on_clock)
        r->on_clock(n, 0, &m->u.clock, r->arg);
    s_req_free(r);
}

/* An ERROR answering request r (or unsolicited, r NULL). */
static void s_on_error_msg(coord_node_t *n, s_req_t *r, const proto_msg_t *m)
{
    const proto_error_t *e = &m->u.error;
    char why[600];
    snprintf(why, sizeof why, "node %s: %s", n->name, e->text[0] ? e->text : strerror((int)e->code));
    if (!r) {
        LOG_WARN("%s (error %llu, not answering a pending request)", why, (unsigned long long)e->code);
        return;
    }
    if (r->kind == S_REQ_HELLO) { /* a node that refuses our HELLO is of no use */
        s_req_unlink(n->c, r);
        s_req_free(r);
        s_node_lost(n, COORD_NODE_LOST, why);
        return;
    }
    s_req_fail(n->c, r, -(int)e->code, why);
}

/* One frame from node n. */
static void s_on_frame(coord_node_t *n, const uint8_t *data, size_t len)
{
    proto_msg_t m;
    char why[256];
    n->last_heard = clock_mono_ns();
    int rc = proto_decode(data, len, &m, why, sizeof why);
    if (rc < 0) {
        /* A node speaking another version is useless; any other bad frame is logged and dropped. */
        LOG_WARN("node %s sent a frame we refuse: %s", n->name, why);
        if (rc == -EPROTO) {
            s_req_t *r = s_req_find(n->c, n, m.seq);
            if (r && r->kind == S_REQ_HELLO) {
                s_req_unlink(n->c, r);
                s_req_free(r);
            }
            char text[300];
            snprintf(text, sizeof text, "it speaks another protocol version: %s", why);
            s_node_lost(n, COORD_NODE_LOST, text);
        }
        return;
    }
    s_req_t *r = m.seq ? s_req_find(n->c, n, m.seq) : NULL;
    switch (m.id) {
    case PROTO_HEARTBEAT: break;
    case PROTO_BYE: {
        char text[300];
        snprintf(text, sizeof text, "the node said BYE: %s", m.u.bye.reason);
        s_node_lost(n, COORD_NODE_CLOSED, text);
        break;
    }
    case PROTO_ERROR: s_on_error_msg(n, r, &m); break;
    case PROTO_HELLO:
    case PROTO_LISTEN:
    case PROTO_INTERVAL:
    case PROTO_RESULT:
    case PROTO_CLOCK:
    case PROTO_PING: {
        static const s_req_kind_t expect[] = {
            [PROTO_HELLO] = S_REQ_HELLO, [PROTO_LISTEN] = S_REQ_LISTEN, [PROTO_INTERVAL] = S_REQ_RUN,
            [PROTO_RESULT] = S_REQ_RUN,  [PROTO_CLOCK] = S_REQ_CLOCK,   [PROTO_PING] = S_REQ_PING};
        if (!r || r->kind != expect[m.id]) {
            LOG_DEBUG("node %s: %s with seq %llu answers nothing pending (late or stray); dropped", n->name,
                      proto_name(m.id), (unsigned long long)m.seq);
            break;
        }
        if (m.id == PROTO_HELLO)
            s_on_hello_reply(n, r, &m);
        else if (m.id == PROTO_LISTEN) {
            s_req_unlink(n->c, r);
            if (r->on_listen)
                r->on_listen(n, 0, (uint16_t)m.u.listen.port, r->arg);
            s_req_free(r);
        } else if (m.id == PROTO_INTERVAL)
            s_on_interval_msg(n, r, &m);
        else if (m.id == PROTO_RESULT)
            s_on_result_msg(n, r, &m);
        else if (m.id == PROTO_PING) {
            s_req_unlink(n->c, r);
            if (r->on_ping)
                r->on_ping(n, 0, NULL, &m.u.ping, r->arg);
            s_req_free(r);
        } else
            s_on_clock_reply(n, r, &m);
        break;
    }
    default: LOG_WARN("node %s sent %s, which a node does not send; dropped", n->name, proto_name(m.id)); break;
    }
    proto_msg_fini(&m);
}

static void s_drain_sock(coord_node_t *n)
{
    for (int k = 0; k < 1000 && n->sock; k++) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, n->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&f);
            return;
        }
        bool more = zmq_msg_more(&f);
        if (!more && n->state != COORD_NODE_LOST && n->state != COORD_NODE_CLOSED)
            s_on_frame(n, zmq_msg_data(&f), zmq_msg_size(&f));
        zmq_msg_close(&f);
        while (more) { /* our peer sends single frames only: drop anything else whole */
            zmq_msg_init(&f);
            more = zmq_msg_recv(&f, n->sock, 0) >= 0 && zmq_msg_more(&f);
            zmq_msg_close(&f);
        }
    }
}

/* Socket monitor events: handshake refused, connection gone. */
static void s_drain_mon(coord_node_t *n)
{
    for (;;) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, n->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&ev) >= 6) {
            memcpy(&event, zmq_msg_data(&ev), 2);
            memcpy(&value, (const uint8_t *)zmq_msg_data(&ev) + 2, 4);
        }
        bool more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        while (more) {
            zmq_msg_init(&addr);
            more = zmq_msg_recv(&addr, n->mon, 0) >= 0 && zmq_msg_more(&addr);
            zmq_msg_close(&addr);
        }
        char why[640];
        switch (event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: n->handshake_ok = true; break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            snprintf(why, sizeof why, "the agent at %s refused our CURVE key (ZAP status %u)", n->endpoint, value);
            s_node_lost(n, COORD_NODE_LOST, why);
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
            snprintf(why, sizeof why,
                     "the CURVE handshake with %s failed (not the node key we were given, or not a vmtp agent)",
                     n->endpoint);
            s_node_lost(n, COORD_NODE_LOST, why);
            break;
        case ZMQ_EVENT_DISCONNECTED:
            /* A TCP connection ends only when the agent or its host went away (ZeroMQ would
             * reconnect, but a new agent would not know this session). */
            if (n->handshake_ok) {
                snprintf(why, sizeof why, "the control connection to %s closed (the agent exited or its host is down)",
                         n->endpoint);
                s_node_lost(n, COORD_NODE_LOST, why);
            } else {
                snprintf(why, sizeof why,
                         "%s closed the connection during the CURVE handshake (not the node key we were given, or "
                         "not a vmtp agent)",
                         n->endpoint);
                s_node_lost(n, COORD_NODE_LOST, why);
            }
            break;
        default: break;
        }
    }
}

/* ---- the loop ---------------------------------------------------------------------------------- */

/* Heartbeats, silence, request deadlines. Returns the monotonic time of the next timer. */
static int64_t s_timers(coord_t *c, int64_t now)
{
    int64_t next = now + 3600 * VMTP_NS_PER_S;
    int64_t silence = (int64_t)c->cfg.silence_ms * VMTP_NS_PER_MS;
    int64_t beat = (int64_t)c->cfg.heartbeat_ms * VMTP_NS_PER_MS;
    for (unsigned i = 0; i < c->n_nodes; i++) {
        coord_node_t *n = c->nodes[i];
        if (n->state != COORD_NODE_READY)
            continue;
        if (now - n->last_heard > silence) {
            char why[200];
            snprintf(why, sizeof why, "silent for %.1f s (bound %.1f s)", (double)(now - n->last_heard) / 1e9,
                     (double)silence / 1e9);
            s_node_lost(n, COORD_NODE_LOST, why);
            continue;
        }
        if (now >= n->next_beat) {
            proto_msg_t m;
            proto_msg_init(&m, PROTO_HEARTBEAT, 0);
            m.u.heartbeat.sent_real_ns = clock_real_ns();
            s_send(n, &m);
            n->next_beat = now + beat;
        }
        if (n->next_beat < next)
            next = n->next_beat;
        if (n->last_heard + silence + 1 < next)
            next = n->last_heard + silence + 1;
    }
    for (s_req_t *r = c->reqs, *nx; r; r = nx) {
        nx = r->next;
        if (!r->deadline)
            continue;
        if (now < r->deadline) {
            if (r->deadline < next)
                next = r->deadline;
            continue;
        }
        coord_node_t *n = r->node;
        char why[640];
        switch (r->kind) {
        case S_REQ_HELLO:
            snprintf(why, sizeof why, "no HELLO answer from %s within %.1f s (no agent there, or unreachable)",
                     n->endpoint, (double)c->cfg.request_timeout_ns / 1e9);
            s_req_unlink(c, r);
            s_req_free(r);
            s_node_lost(n, COORD_NODE_LOST, why);
            nx = c->reqs; /* the list changed under us */
            break;
        case S_REQ_RUN:
            if (n->state == COORD_NODE_READY)
                s_send_stop(n, r->test_id);
            snprintf(why, sizeof why, "node %s: no RESULT for test %llu by the end of its time bound (stopped)",
                     n->name, (unsigned long long)r->test_id);
            s_req_fail(c, r, -ETIMEDOUT, why);
            nx = c->reqs;
            break;
        default:
            snprintf(why, sizeof why, "node %s: no answer to %s within its time bound", n->name,
                     r->kind == S_REQ_LISTEN  ? "LISTEN"
                     : r->kind == S_REQ_CLOCK ? "CLOCK"
                                              : "PING");
            s_req_fail(c, r, -ETIMEDOUT, why);
            nx = c->reqs;
            break;
        }
    }
    return next;
}

static int s_build_items(coord_t *c)
{
    unsigned need = 1 + 2 * c->n_nodes;
    if (need > c->cap_items) {
        zmq_pollitem_t *v = realloc(c->items, need * sizeof *v);
        if (!v)
            return -ENOMEM;
        c->items = v;
        c->cap_items = need;
    }
    unsigned k = 0;
    c->items[k++] = (zmq_pollitem_t){.socket = NULL, .fd = c->sigfd, .events = c->sigfd >= 0 ? ZMQ_POLLIN : 0};
    for (unsigned i = 0; i < c->n_nodes; i++) {
        coord_node_t *n = c->nodes[i];
        bool live = n->sock && n->state != COORD_NODE_LOST && n->state != COORD_NODE_CLOSED;
        c->items[k++] = (zmq_pollitem_t){.socket = live ? n->sock : NULL, .fd = -1, .events = live ? ZMQ_POLLIN : 0};
        c->items[k++] = (zmq_pollitem_t){.socket = live ? n->mon : NULL, .fd = -1, .events = live ? ZMQ_POLLIN : 0};
    }
    return (int)k;
}

int coord_poll(coord_t *self, int64_t timeout_ns)
{
    coord_t *c = self;
    int64_t now = clock_mono_ns();
    int64_t next = s_timers(c, now);
    int64_t wait = next - now;
    if (timeout_ns >= 0 && timeout_ns < wait)
        wait = timeout_ns;
    if (wait < 0)
        wait = 0;
    int k = s_build_items(c);
    if (k < 0)
        return k;
    long ms = (long)((wait + VMTP_NS_PER_MS - 1) / VMTP_NS_PER_MS);
    int rc = zmq_poll(c->items, k, ms);
    if (rc < 0)
        return errno == EINTR ? 0 : -errno;
    int result = 0;
    if (c->sigfd >= 0 && (c->items[0].revents & ZMQ_POLLIN)) {
        struct signalfd_siginfo si;
        while (read(c->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
            c->last_signal = (int)si.ssi_signo;
            result = -EINTR;
        }
    }
    for (unsigned i = 0; i < c->n_nodes; i++) {
        coord_node_t *n = c->nodes[i];
        if (1 + 2 * i + 1 >= (unsigned)k)
            break;
        if (c->items[1 + 2 * i].revents & ZMQ_POLLIN)
            s_drain_sock(n);
        if (c->items[2 + 2 * i].revents & ZMQ_POLLIN && n->mon)
            s_drain_mon(n);
    }
    s_timers(c, clock_mono_ns());
    /* A lost or closed node's sockets go now (not while their own events were being read), so
     * ZeroMQ stops reconnecting to it. */
    for (unsigned i = 0; i < c->n_nodes; i++) {
        coord_node_t *n = c->nodes[i];
        if (n->sock && (n->state == COORD_NODE_LOST || n->state == COORD_NODE_CLOSED))
            s_node_close_sockets(n);
    }
    return result;
}
