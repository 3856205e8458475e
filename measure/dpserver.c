/* dpserver.c — multi-client data-plane server; see dpserver.h. */
#include "dpserver.h"

#include "dpconn.h"
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
    char server_id[DP_TEXT_MAX];                  /* "hostname kernel" */
};

struct s_session {
    dpserver_t *srv;      /* not owned */
    dpconn_t conn;        /* control connection */
    pthread_t tid;        /* session thread */
    atomic_bool finished; /* thread is about to exit: join it */
    atomic_bool stop;     /* server shutting down */
    /* Handoff (guarded by srv->lock): while cookie != 0 the accept thread may add sockets. */
    uint64_t cookie;  /* this test's cookie, 0 = not accepting */
    runner_t *runner; /* the test being set up (not owned here) */
    unsigned want;    /* data sockets the test needs */
    bool udp;         /* the test takes one UDP socket rather than TCP connections */
};

/* ---- listeners ---------------------------------------------------------------------------- */

static int s_listen(dpserver_t *self, int family, int idx, const sockaddr_any_t *addr, char *why, size_t cap)
{
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
    /* UDP after TCP: a second server on the port fails on the TCP bind above instead of
     * joining our SO_REUSEPORT group and stealing datagrams. */
    int u = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (u < 0) {
        close(t);
        return -errno;
    }
    setsockopt(u, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (family == AF_INET6)
        setsockopt(u, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
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
static int s_wait_data(s_session_t *s, runner_t *r)
{
    dpserver_t *srv = s->srv;
    int64_t deadline = clock_mono_ns() + S_SETUP_TIMEOUT_NS;
    int rc = 0;
    pthread_mutex_lock(&srv->lock);
    while (r->nfds < s->want) {
        if (atomic_load(&s->stop)) {
            rc = -ECANCELED;
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
    int64_t delta = m.start_real_ns ? m.start_real_ns - clock_real_ns() : 0;
    if (delta > 3600 * VMTP_NS_PER_S) {
        dpconn_send_error(&s->conn, EINVAL, "start time more than an hour ahead (clocks apart?)");
        goto done;
    }
    r->start_mono_ns = delta > 0 ? clock_mono_ns() + delta : 0;
    if (!early && (rc = runner_start(r)) < 0) {
        dpconn_send_error(&s->conn, -rc, "server cannot start the test");
        rc = 0;
        goto done;
    }
    bool client_gone = false;
    while (!atomic_load(&r->done)) {
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

static void s_session_start(dpserver_t *self, int fd)
{
    pthread_mutex_lock(&self->lock);
    int slot = -1;
    unsigned live = 0;
    for (int i = 0; i < DPSERVER_MAX_SESSIONS; i++) {
        if (self->sessions[i])
            live++;
        else if (slot < 0)
            slot = i;
    }
    pthread_mutex_unlock(&self->lock);
    s_session_t *s = NULL;
    if (slot < 0 || live >= self->cfg.max_sessions || !(s = calloc(1, sizeof *s))) {
        dpconn_t c;
        if (dpconn_init(&c, fd) == 0) {
            dpconn_send_error(&c, EBUSY, "server has too many sessions");
            dpconn_fini(&c);
        }
        return;
    }
    s->srv = self;
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
static bool s_give_tcp(dpserver_t *self, int fd, uint64_t cookie, uint16_t stream)
{
    bool taken = false;
    pthread_mutex_lock(&self->lock);
    s_session_t *s = s_find_cookie(self, cookie);
    if (s && !s->udp && stream < s->want && s->runner->fds[stream] < 0) {
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

static void s_on_udp(dpserver_t *self, s_ev_t *ev)
{
    for (int burst = 0; burst < 64; burst++) {
        uint8_t buf[DP_RR_HDR_LEN];
        sockaddr_any_t from = {.len = sizeof from.ss};
        ssize_t n = recvfrom(ev->fd, buf, sizeof buf, MSG_TRUNC, (struct sockaddr *)&from.ss, &from.len);
        if (n < 0)
            return;
        dp_dgram_t d;
        if (dp_dgram_parse(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf, &d) < 0 || d.kind != DP_DGRAM_HELLO) {
            pthread_mutex_lock(&self->lock);
            self->stats.stray_datagrams++;
            pthread_mutex_unlock(&self->lock);
            continue;
        }
        pthread_mutex_lock(&self->lock);
        s_session_t *s = s_find_cookie(self, d.seq);
        if (s && s->udp && s->runner->nfds == 0) {
            const sockaddr_any_t *local = &self->udp_addr[ev->family_idx];
            int fd = socket(local->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            int one = 1;
            if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
                            bind(fd, (const struct sockaddr *)&local->ss, local->len) < 0 ||
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
        int fd = accept4(ev->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        s_pending_t *p = NULL;
        for (int i = 0; i < S_MAX_PENDING && !p; i++)
            if (!self->pending[i].used)
                p = &self->pending[i];
        if (!p) {
            close(fd); /* a flood of silent connections: refuse the newest */
            continue;
        }
        *p = (s_pending_t){.ev = {.kind = S_EV_PENDING, .fd = fd},
                           .have = 0,
                           .used = true,
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
        s_session_start(self, fd);
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
    if (!s_give_tcp(self, fd, cookie, stream)) {
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
    pthread_mutex_destroy(&self->lock);
    pthread_cond_destroy(&self->cond);
    free(self);
    *pself = NULL;
}
