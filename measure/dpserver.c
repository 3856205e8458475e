/* dpserver.c — multi-client data-plane server; see dpserver.h. */
#include "dpserver.h"

#include "dpconn.h"
#include "flow.h"
#include "runner.h"
#include "tstamp.h"
#include "vmtp/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <unistd.h>

#define S_MAX_PENDING 256
#define S_MAX_PENDING_PER_IP 32         /* greetings being read from one address */
#define S_MAX_SESSIONS_PER_IP 16        /* control connections from one address */
#define S_GRACE_NS (60 * VMTP_NS_PER_S) /* a test ends at its start + duration + this, whatever the client does */
#define S_SETUP_TIMEOUT_NS (10 * VMTP_NS_PER_S)
#define S_TICK_MS 100

typedef enum { S_EV_TCP_LISTEN = 1, S_EV_UDP_LISTEN, S_EV_PENDING } s_ev_kind_t;

/* Something registered with epoll. */
typedef struct {
    s_ev_kind_t kind; /* what it is */
    int fd;           /* its socket (owned) */
    int family_idx;   /* listeners: index into the server's address arrays */
} s_ev_t;

/* An accepted connection whose greeting is not complete yet. */
typedef struct {
    s_ev_t ev;                      /* epoll registration (kind S_EV_PENDING) */
    uint8_t buf[DP_DATA_HELLO_LEN]; /* greeting bytes so far */
    size_t have;                    /* bytes in buf */
    int64_t deadline_mono;          /* dropped if not complete by then */
    sockaddr_any_t peer;            /* who connected */
    bool used;                      /* slot in use */
} s_pending_t;

typedef struct s_session s_session_t;

struct dpserver {
    dpserver_cfg_t cfg;                           /* configuration (bind_host not owned) */
    s_ev_t tcp[2];                                /* TCP listeners (IPv4, IPv6); fd -1 if absent */
    s_ev_t udp[2];                                /* UDP listeners, same families */
    sockaddr_any_t udp_addr[2];                   /* where each UDP listener is bound */
    int epfd;                                     /* epoll instance */
    s_pending_t pending[S_MAX_PENDING];           /* greetings being read */
    pthread_mutex_t lock;                         /* guards sessions, the session handoff fields, stats */
    pthread_cond_t cond;                          /* signalled when a session received a data socket */
    s_session_t *sessions[DPSERVER_MAX_SESSIONS]; /* live sessions */
    dpserver_stats_t stats;                       /* counters */
    unsigned streams_in_use;                      /* data sockets held by running tests (budget) */
    int spare_fd;                                 /* kept open to be given up when out of fds */
    char server_id[DP_TEXT_MAX];                  /* "hostname kernel" */
};

struct s_session {
    dpserver_t *srv;      /* not owned */
    dpconn_t conn;        /* control connection */
    pthread_t tid;        /* session thread */
    atomic_bool finished; /* thread is about to exit: join it */
    atomic_bool stop;     /* server shutting down */
    /* Handoff (guarded by srv->lock): while cookie != 0 the accept thread may add sockets. */
    uint64_t cookie;     /* this test's cookie, 0 = not accepting */
    runner_t *runner;    /* the test being set up (not owned here) */
    unsigned want;       /* data sockets the test needs */
    bool udp;            /* the test takes one UDP socket rather than TCP connections */
    sockaddr_any_t peer; /* the control connection's peer: data must come from its address */
};

/* Same IP address (ports ignored). */
static bool s_same_host(const sockaddr_any_t *a, const sockaddr_any_t *b)
{
    char x[SOCK_ADDR_STRLEN], y[SOCK_ADDR_STRLEN];
    return a->ss.ss_family == b->ss.ss_family &&
           !strcmp(sock_addr_host(a, x, sizeof x), sock_addr_host(b, y, sizeof y));
}

/* ---- listeners ---------------------------------------------------------------------------- */

static int s_listen_once(dpserver_t *self, int family, int idx, const sockaddr_any_t *want, char *why, size_t cap)
{
    sockaddr_any_t bound = *want;
    const sockaddr_any_t *addr = &bound;
    char astr[SOCK_ADDR_STRLEN];
    sock_addr_str(addr, astr, sizeof astr);
    int one = 1;
    int t = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (t < 0)
        return -errno;
    setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6)
        setsockopt(t, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(t, (const struct sockaddr *)&addr->ss, addr->len) < 0 || listen(t, 128) < 0) {
        int e = errno;
        snprintf(why, cap, "cannot listen on TCP %s: %s", astr, strerror(e));
        close(t);
        return -e;
    }
    /* Port 0: the kernel picked a TCP port; UDP takes the same number. */
    sockaddr_any_t got = {.len = sizeof got.ss};
    if (!sock_addr_port(want) && getsockname(t, (struct sockaddr *)&got.ss, &got.len) == 0)
        sock_addr_set_port(&bound, sock_addr_port(&got));
    /* UDP after TCP: a second server on the port fails on the TCP bind above instead of
     * joining our SO_REUSEPORT group and stealing datagrams. */
    int u = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (u < 0) {
        close(t);
        return -errno;
    }
    setsockopt(u, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (family == AF_INET6) {
        setsockopt(u, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        setsockopt(u, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    } else {
        setsockopt(u, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    }
    if (bind(u, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
        int e = errno;
        snprintf(why, cap, "cannot bind UDP %s: %s", astr, strerror(e));
        close(t);
        close(u);
        return -e;
    }
    self->tcp[idx] = (s_ev_t){.kind = S_EV_TCP_LISTEN, .fd = t, .family_idx = idx};
    self->udp[idx] = (s_ev_t){.kind = S_EV_UDP_LISTEN, .fd = u, .family_idx = idx};
    self->udp_addr[idx] = *addr;
    return 0;
}

/* Listens on TCP and UDP at want. With port 0 the UDP port of the number the kernel gave TCP may
 * be taken (an ephemeral UDP socket of another program): then another TCP port is tried. */
static int s_listen(dpserver_t *self, int family, int idx, const sockaddr_any_t *want, char *why, size_t cap)
{
    int rc = s_listen_once(self, family, idx, want, why, cap);
    for (int tries = 1; rc == -EADDRINUSE && !sock_addr_port(want) && tries < 64; tries++)
        rc = s_listen_once(self, family, idx, want, why, cap);
    return rc;
}

static int s_epoll_add(dpserver_t *self, s_ev_t *ev)
{
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = ev};
    return epoll_ctl(self->epfd, EPOLL_CTL_ADD, ev->fd, &e) < 0 ? -errno : 0;
}

dpserver_t *dpserver_new(const dpserver_cfg_t *cfg, int *err, char *why, size_t whycap)
{
    int rc = -ENOMEM;
    dpserver_t *self = calloc(1, sizeof *self);
    snprintf(why, whycap, "out of memory");
    if (!self)
        goto fail;
    self->cfg = *cfg;
    if (!self->cfg.max_sessions || self->cfg.max_sessions > DPSERVER_MAX_SESSIONS)
        self->cfg.max_sessions = DPSERVER_MAX_SESSIONS;
    self->epfd = -1;
    self->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (int i = 0; i < 2; i++)
        self->tcp[i].fd = self->udp[i].fd = -1;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->cond, NULL);
    struct utsname u;
    char host[128] = "?";
    gethostname(host, sizeof host - 1);
    snprintf(self->server_id, sizeof self->server_id, "%s %s", host, uname(&u) == 0 ? u.release : "?");
    self->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (self->epfd < 0) {
        rc = -errno;
        goto fail;
    }
    if (cfg->bind_host) {
        sockaddr_any_t a;
        rc = sock_resolve(cfg->bind_host, cfg->port, AF_UNSPEC, &a);
        if (rc < 0) {
            snprintf(why, whycap, "cannot resolve bind address '%s'", cfg->bind_host);
            goto fail;
        }
        rc = s_listen(self, a.ss.ss_family, 0, &a, why, whycap);
        if (rc < 0)
            goto fail;
    } else {
        sockaddr_any_t a4, a6;
        sock_resolve("0.0.0.0", cfg->port, AF_INET, &a4);
        sock_resolve("::", cfg->port, AF_INET6, &a6);
        rc = s_listen(self, AF_INET, 0, &a4, why, whycap);
        if (rc < 0)
            goto fail;
        sock_addr_set_port(&a6, sock_addr_port(&self->udp_addr[0])); /* port 0: the one IPv4 got */
        /* IPv6 is optional: a namespace or VM without it still serves IPv4. */
        char why6[256];
        s_listen(self, AF_INET6, 1, &a6, why6, sizeof why6);
    }
    for (int i = 0; i < 2; i++) {
        if (self->tcp[i].fd < 0)
            continue;
        if ((rc = s_epoll_add(self, &self->tcp[i])) < 0 || (rc = s_epoll_add(self, &self->udp[i])) < 0)
            goto fail;
    }
    return self;
fail:
    *err = rc;
    dpserver_destroy(&self);
    return NULL;
}

/* ---- sessions ----------------------------------------------------------------------------- */

static void s_on_interval(const interval_t *iv, void *arg)
{
    s_session_t *s = arg;
    dp_msg_t m;
    dp_msg_init(&m, DP_MSG_INTERVAL);
    m.interval = *iv;
    dpconn_send(&s->conn, &m, &s->stop);
}

/* Waits until the test's data sockets arrived (or timeout/stop). Returns 0 or -errno. */
/* The peer of a connected socket has closed it (EOF or reset pending), without consuming data. */
static bool s_peer_closed(int fd)
{
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

static int s_wait_data(s_session_t *s, runner_t *r)
{
    dpserver_t *srv = s->srv;
    int64_t deadline = clock_mono_ns() + S_SETUP_TIMEOUT_NS;
    int rc = 0;
    pthread_mutex_lock(&srv->lock);
    while (r->nfds < s->want) {
        if (atomic_load(&s->stop) || s_peer_closed(s->conn.fd)) {
            rc = -ECANCELED; /* a client gone during setup frees what it reserved at once */
            break;
        }
        int64_t left = deadline - clock_mono_ns();
        if (left <= 0) {
            rc = -ETIMEDOUT;
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wake = clock_ts_to_ns(&ts) + (left < 100 * VMTP_NS_PER_MS ? left : 100 * VMTP_NS_PER_MS);
        ts = clock_ns_to_ts(wake);
        pthread_cond_timedwait(&srv->cond, &srv->lock, &ts);
    }
    s->cookie = 0; /* no more sockets for this test */
    s->runner = NULL;
    pthread_mutex_unlock(&srv->lock);
    return rc;
}

/* Runs one test for the client. Returns 0 to keep the session, < 0 to end it. */
static int s_run_test(s_session_t *s, const test_spec_t *spec)
{
    dpserver_t *srv = s->srv;
    char why[DP_TEXT_MAX];
    if (dp_test_validate(spec, why, sizeof why) < 0)
        return dpconn_send_error(&s->conn, EINVAL, why) < 0 ? -EIO : 0;
    runner_t *r = calloc(1, sizeof *r);
    if (!r)
        return dpconn_send_error(&s->conn, ENOMEM, "server out of memory") < 0 ? -EIO : 0;
    runner_init(r, spec, true);
    r->on_interval = s_on_interval;
    r->cb_arg = s;
    int rc = 0;
    /* Data sockets are the server's scarce resource (descriptors, threads, buffers): a budget
     * across every session, so no client can take them all. */
    unsigned streams = spec->proto == TEST_TCP ? spec->streams : 1;
    pthread_mutex_lock(&srv->lock);
    bool fits = srv->streams_in_use + streams <= DPSERVER_MAX_STREAMS;
    if (fits)
        srv->streams_in_use += streams;
    unsigned in_use = srv->streams_in_use;
    pthread_mutex_unlock(&srv->lock);
    if (!fits) {
        runner_fini(r);
        free(r);
        snprintf(why, sizeof why, "server busy: %u of %u data streams in use, %u asked", in_use, DPSERVER_MAX_STREAMS,
                 streams);
        return dpconn_send_error(&s->conn, EBUSY, why) < 0 ? -EIO : 0;
    }
    uint64_t cookie = 0;
    while (!cookie)
        if (getrandom(&cookie, sizeof cookie, 0) != sizeof cookie)
            cookie = (uint64_t)clock_mono_ns() ^ ((uint64_t)(uintptr_t)r << 16);
    pthread_mutex_lock(&srv->lock);
    s->cookie = cookie;
    s->runner = r;
    s->udp = spec->proto == TEST_UDP || spec->proto == TEST_RR_UDP;
    s->want = spec->proto == TEST_TCP ? spec->streams : 1;
    pthread_mutex_unlock(&srv->lock);

    dp_msg_t m;
    dp_msg_init(&m, DP_MSG_ACCEPT);
    m.cookie = cookie;
    snprintf(m.server_id, sizeof m.server_id, "%s", srv->server_id);
    if ((rc = dpconn_send(&s->conn, &m, &s->stop)) < 0)
        goto done;
    rc = s_wait_data(s, r);
    if (rc < 0) {
        snprintf(why, sizeof why, "%s did not arrive within %llds (a firewall on port %u/%s?)",
                 s->udp ? "the UDP hello" : "the data connections", (long long)(S_SETUP_TIMEOUT_NS / VMTP_NS_PER_S),
                 srv->cfg.port, s->udp ? "udp" : "tcp");
        dpconn_send_error(&s->conn, -rc, why);
        rc = 0;
        goto done;
    }
    /* A receiver is listening before the client is told it may send: nothing queues unread
     * before the measurement window opens. */
    bool early = r->role == ROLE_RECEIVER;
    if (early && (rc = runner_start(r)) < 0) {
        dpconn_send_error(&s->conn, -rc, "server cannot start the test");
        rc = 0;
        goto done;
    }
    dp_msg_init(&m, DP_MSG_READY);
    if ((rc = dpconn_send(&s->conn, &m, &s->stop)) < 0)
        goto done;
    rc = dpconn_recv(&s->conn, &m, S_SETUP_TIMEOUT_NS, &s->stop);
    if (rc < 0)
        goto done;
    if (m.type != DP_MSG_START) {
        dp_msg_fini(&m);
        dpconn_send_error(&s->conn, EPROTO, "expected START");
        rc = -EPROTO;
        goto done;
    }
    if (!early && (rc = runner_start(r)) < 0) {
        dpconn_send_error(&s->conn, -rc, "server cannot start the test");
        rc = 0;
        goto done;
    }
    bool client_gone = false;
    /* Whatever the client does, the test ends: its start + duration + a grace period. */
    int64_t hard_end = flow_start_mono(&(flow_t){.spec = &r->spec}) + spec->duration_ns + S_GRACE_NS;
    while (!atomic_load(&r->done)) {
        if (clock_mono_ns() > hard_end)
            atomic_store(&r->stop, true);
        rc = dpconn_recv(&s->conn, &m, 50 * VMTP_NS_PER_MS, &s->stop);
        if (rc == -ETIMEDOUT)
            continue;
        if (rc < 0) {
            client_gone = true;
            atomic_store(&r->stop, true);
            break;
        }
        if (m.type == DP_MSG_DONE) {
            atomic_store(&r->peer_tx_packets, m.report.tx_packets);
            atomic_store(&r->peer_done, true);
            if (r->role == ROLE_REFLECTOR)
                atomic_store(&r->stop, true);
        } else if (m.type == DP_MSG_STOP) {
            atomic_store(&r->stop, true);
        }
        dp_msg_fini(&m);
    }
    runner_join(r);
    if (client_gone) {
        rc = -ECONNRESET;
        goto done;
    }
    if (r->rc < 0 && r->rc != -ECANCELED) {
        snprintf(why, sizeof why, "server side of the test failed: %s", strerror(-r->rc));
        dpconn_send_error(&s->conn, -r->rc, why);
    } else {
        dp_msg_init(&m, DP_MSG_RESULT);
        m.report = r->report; /* borrowed: not finalised through m */
        rc = dpconn_send(&s->conn, &m, &s->stop);
        pthread_mutex_lock(&srv->lock);
        srv->stats.tests++;
        pthread_mutex_unlock(&srv->lock);
    }
    rc = rc < 0 ? rc : 0;
done:
    runner_fini(r);
    free(r);
    pthread_mutex_lock(&srv->lock);
    srv->streams_in_use -= streams;
    pthread_mutex_unlock(&srv->lock);
    return rc;
}

static void *s_session_main(void *arg)
{
    s_session_t *s = arg;
    for (;;) {
        dp_msg_t m;
        int rc = dpconn_recv(&s->conn, &m, DPSERVER_IDLE_TIMEOUT_NS, &s->stop);
        if (rc == -EINVAL || rc == -EMSGSIZE) {
            dpconn_send_error(&s->conn, EPROTO, "malformed control frame");
            break;
        }
        if (rc < 0)
            break;
        if (m.type == DP_MSG_TEST) {
            rc = s_run_test(s, &m.test);
            dp_msg_fini(&m);
            if (rc < 0)
                break;
            continue;
        }
        dp_msg_fini(&m);
        if (m.type == DP_MSG_STOP || m.type == DP_MSG_DONE)
            continue; /* late: the test they were for has ended */
        dpconn_send_error(&s->conn, EPROTO, "expected TEST");
        break;
    }
    dpconn_fini(&s->conn);
    atomic_store(&s->finished, true);
    return NULL;
}

static void s_session_start(dpserver_t *self, int fd, const sockaddr_any_t *peer)
{
    pthread_mutex_lock(&self->lock);
    int slot = -1;
    unsigned live = 0, same = 0;
    for (int i = 0; i < DPSERVER_MAX_SESSIONS; i++) {
        if (self->sessions[i]) {
            live++;
            same += s_same_host(&self->sessions[i]->peer, peer);
        } else if (slot < 0) {
            slot = i;
        }
    }
    pthread_mutex_unlock(&self->lock);
    s_session_t *s = NULL;
    if (slot < 0 || live >= self->cfg.max_sessions || same >= S_MAX_SESSIONS_PER_IP || !(s = calloc(1, sizeof *s))) {
        dpconn_t c;
        if (dpconn_init(&c, fd) == 0) {
            dpconn_send_error(&c, EBUSY,
                              same >= S_MAX_SESSIONS_PER_IP ? "server has too many sessions from your address"
                                                            : "server has too many sessions");
            dpconn_fini(&c);
        }
        return;
    }
    s->srv = self;
    s->peer = *peer;
    if (dpconn_init(&s->conn, fd) < 0) {
        free(s);
        return;
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (pthread_create(&s->tid, NULL, s_session_main, s) != 0) {
        dpconn_fini(&s->conn);
        free(s);
        return;
    }
    pthread_mutex_lock(&self->lock);
    self->sessions[slot] = s;
    self->stats.sessions++;
    pthread_mutex_unlock(&self->lock);
}

/* Joins sessions that ended (all when `all`, after telling them to stop). */
static void s_reap(dpserver_t *self, bool all)
{
    if (all) { /* every session told first, so their endings overlap instead of adding up */
        pthread_mutex_lock(&self->lock);
        for (int i = 0; i < DPSERVER_MAX_SESSIONS; i++)
            if (self->sessions[i])
                atomic_store(&self->sessions[i]->stop, true);
        pthread_mutex_unlock(&self->lock);
    }
    for (int i = 0; i < DPSERVER_MAX_SESSIONS; i++) {
        pthread_mutex_lock(&self->lock);
        s_session_t *s = self->sessions[i];
        if (s && all)
            atomic_store(&s->stop, true);
        bool reap = s && (all || atomic_load(&s->finished));
        if (reap)
            self->sessions[i] = NULL;
        pthread_mutex_unlock(&self->lock);
        if (!reap)
            continue;
        pthread_join(s->tid, NULL);
        free(s);
    }
}

/* ---- handoff of data sockets ------------------------------------------------------------- */

static s_session_t *s_find_cookie(dpserver_t *self, uint64_t cookie)
{
    for (int i = 0; i < DPSERVER_MAX_SESSIONS; i++)
        if (self->sessions[i] && self->sessions[i]->cookie == cookie && cookie)
            return self->sessions[i];
    return NULL;
}

/* Gives a TCP data connection to its session. Returns true if taken. */
static bool s_give_tcp(dpserver_t *self, int fd, uint64_t cookie, uint16_t stream, const sockaddr_any_t *peer)
{
    bool taken = false;
    pthread_mutex_lock(&self->lock);
    s_session_t *s = s_find_cookie(self, cookie);
    if (s && !s->udp && stream < s->want && s->runner->fds[stream] < 0 && s_same_host(&s->peer, peer)) {
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        if (s->runner->spec.proto == TEST_RR_TCP)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
        s->runner->fds[stream] = fd;
        s->runner->nfds++;
        taken = true;
        pthread_cond_broadcast(&self->cond);
    }
    pthread_mutex_unlock(&self->lock);
    return taken;
}

/* The destination address of a received datagram (IP_PKTINFO / IPV6_PKTINFO) into *local's
 * address, keeping its port; untouched when the control data has none. */
static void s_pktinfo_dst(struct msghdr *mh, sockaddr_any_t *local)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && local->ss.ss_family == AF_INET) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            ((struct sockaddr_in *)&local->ss)->sin_addr = pi.ipi_addr;
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO && local->ss.ss_family == AF_INET6) {
            struct in6_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            ((struct sockaddr_in6 *)&local->ss)->sin6_addr = pi.ipi6_addr;
        }
    }
}

static void s_on_udp(dpserver_t *self, s_ev_t *ev)
{
    for (int burst = 0; burst < 64; burst++) {
        uint8_t buf[DP_RR_HDR_LEN];
        char ctl[256];
        sockaddr_any_t from = {0};
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
        struct msghdr mh = {.msg_name = &from.ss,
                            .msg_namelen = sizeof from.ss,
                            .msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = ctl,
                            .msg_controllen = sizeof ctl};
        ssize_t n = recvmsg(ev->fd, &mh, MSG_TRUNC);
        if (n < 0)
            return;
        from.len = mh.msg_namelen;
        dp_dgram_t d;
        if (dp_dgram_parse(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf, &d) < 0 || d.kind != DP_DGRAM_HELLO) {
            pthread_mutex_lock(&self->lock);
            self->stats.stray_datagrams++;
            pthread_mutex_unlock(&self->lock);
            continue;
        }
        pthread_mutex_lock(&self->lock);
        s_session_t *s = s_find_cookie(self, d.seq);
        /* Only the client itself may bind the test's datagrams: a HELLO from another address
         * (spoofed, or a third party that learnt the cookie) would make us send to a victim. */
        if (s && !s_same_host(&s->peer, &from)) {
            self->stats.stray_datagrams++;
            s = NULL;
        }
        if (s && s->udp && s->runner->nfds == 0) {
            /* Answer from the address the client sent to (a host may have several). */
            sockaddr_any_t local = self->udp_addr[ev->family_idx];
            s_pktinfo_dst(&mh, &local);
            int fd = socket(local.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            int one = 1;
            if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
                            bind(fd, (const struct sockaddr *)&local.ss, local.len) < 0 ||
                            connect(fd, (const struct sockaddr *)&from.ss, from.len) < 0)) {
                close(fd);
                fd = -1;
            }
            if (fd >= 0) {
                /* RX stamping takes a moment to come on after it is first asked for (a static
                 * key): ask now, during setup, so the first measured datagram has its stamp. */
                tstamp_enable(fd, false, true);
                s->runner->fds[0] = fd;
                s->runner->nfds = 1;
                pthread_cond_broadcast(&self->cond);
            }
        }
        pthread_mutex_unlock(&self->lock);
    }
}

/* ---- accept loop -------------------------------------------------------------------------- */

static void s_pending_drop(dpserver_t *self, s_pending_t *p, bool reject)
{
    epoll_ctl(self->epfd, EPOLL_CTL_DEL, p->ev.fd, NULL);
    if (p->ev.fd >= 0)
        close(p->ev.fd);
    p->ev.fd = -1;
    p->used = false;
    if (reject) {
        pthread_mutex_lock(&self->lock);
        self->stats.rejected++;
        pthread_mutex_unlock(&self->lock);
    }
}

static void s_on_accept(dpserver_t *self, s_ev_t *ev)
{
    for (;;) {
        sockaddr_any_t peer = {.len = sizeof peer.ss};
        int fd = accept4(ev->fd, (struct sockaddr *)&peer.ss, &peer.len, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if ((errno == EMFILE || errno == ENFILE) && self->spare_fd >= 0) {
                /* Out of descriptors: the listener stays readable and would spin us. Give up
                 * the spare to accept and drop the newest connection, then take it back. */
                close(self->spare_fd);
                int drop = accept4(ev->fd, NULL, NULL, SOCK_CLOEXEC);
                if (drop >= 0)
                    close(drop);
                self->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (drop < 0)
                    return; /* accept says EMFILE before looking at its queue: this one was empty */
                pthread_mutex_lock(&self->lock);
                self->stats.rejected++;
                pthread_mutex_unlock(&self->lock);
                continue;
            }
            return;
        }
        s_pending_t *p = NULL;
        unsigned same = 0;
        for (int i = 0; i < S_MAX_PENDING; i++) {
            if (!self->pending[i].used) {
                if (!p)
                    p = &self->pending[i];
            } else {
                same += s_same_host(&self->pending[i].peer, &peer);
            }
        }
        if (!p || same >= S_MAX_PENDING_PER_IP) {
            close(fd); /* a flood of silent connections: refuse the newest */
            pthread_mutex_lock(&self->lock);
            self->stats.rejected++;
            pthread_mutex_unlock(&self->lock);
            continue;
        }
        *p = (s_pending_t){.ev = {.kind = S_EV_PENDING, .fd = fd},
                           .have = 0,
                           .used = true,
                           .peer = peer,
                           .deadline_mono = clock_mono_ns() + DPSERVER_GREETING_TIMEOUT_NS};
        if (s_epoll_add(self, &p->ev) < 0)
            s_pending_drop(self, p, true);
    }
}

static void s_on_pending(dpserver_t *self, s_pending_t *p)
{
    /* Read no further than the greeting (8 bytes), then the data hello if it is a data link:
     * a control connection's first frame must stay in the socket for the session. */
    size_t want = p->have < DP_GREETING_LEN ? DP_GREETING_LEN : DP_DATA_HELLO_LEN;
    ssize_t n = recv(p->ev.fd, p->buf + p->have, want - p->have, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        s_pending_drop(self, p, true);
        return;
    }
    if (n < 0)
        return;
    p->have += (size_t)n;
    if (p->have < DP_GREETING_LEN)
        return;
    int kind = dp_greeting_parse(p->buf);
    if (kind < 0) {
        s_pending_drop(self, p, true);
        return;
    }
    if (kind == DP_KIND_CONTROL) {
        int fd = p->ev.fd;
        epoll_ctl(self->epfd, EPOLL_CTL_DEL, fd, NULL);
        p->ev.fd = -1;
        p->used = false;
        s_session_start(self, fd, &p->peer);
        return;
    }
    if (p->have < DP_DATA_HELLO_LEN)
        return;
    uint64_t cookie;
    uint16_t stream;
    if (dp_data_hello_parse(p->buf, &cookie, &stream) < 0) {
        s_pending_drop(self, p, true);
        return;
    }
    int fd = p->ev.fd;
    epoll_ctl(self->epfd, EPOLL_CTL_DEL, fd, NULL);
    p->ev.fd = -1;
    p->used = false;
    if (!s_give_tcp(self, fd, cookie, stream, &p->peer)) {
        close(fd);
        pthread_mutex_lock(&self->lock);
        self->stats.rejected++;
        pthread_mutex_unlock(&self->lock);
    }
}

int dpserver_run(dpserver_t *self)
{
    struct epoll_event evs[64];
    while (!atomic_load(self->cfg.stop)) {
        int n = epoll_wait(self->epfd, evs, 64, S_TICK_MS);
        if (n < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < n; i++) {
            s_ev_t *ev = evs[i].data.ptr;
            switch (ev->kind) {
            case S_EV_TCP_LISTEN: s_on_accept(self, ev); break;
            case S_EV_UDP_LISTEN: s_on_udp(self, ev); break;
            case S_EV_PENDING: s_on_pending(self, (s_pending_t *)ev); break;
            }
        }
        int64_t now = clock_mono_ns();
        for (int i = 0; i < S_MAX_PENDING; i++)
            if (self->pending[i].used && now > self->pending[i].deadline_mono)
                s_pending_drop(self, &self->pending[i], true);
        s_reap(self, false);
    }
    return 0;
}

uint16_t dpserver_port(const dpserver_t *self) { return sock_addr_port(&self->udp_addr[0]); }

void dpserver_stats(dpserver_t *self, dpserver_stats_t *out)
{
    pthread_mutex_lock(&self->lock);
    *out = self->stats;
    pthread_mutex_unlock(&self->lock);
}

void dpserver_destroy(dpserver_t **pself)
{
    if (!pself || !*pself)
        return;
    dpserver_t *self = *pself;
    s_reap(self, true);
    for (int i = 0; i < S_MAX_PENDING; i++)
        if (self->pending[i].used)
            s_pending_drop(self, &self->pending[i], false);
    for (int i = 0; i < 2; i++) {
        if (self->tcp[i].fd >= 0)
            close(self->tcp[i].fd);
        if (self->udp[i].fd >= 0)
            close(self->udp[i].fd);
    }
    if (self->epfd >= 0)
        close(self->epfd);
    if (self->spare_fd >= 0)
        close(self->spare_fd);
    pthread_mutex_destroy(&self->lock);
    pthread_cond_destroy(&self->cond);
    free(self);
    *pself = NULL;
}
