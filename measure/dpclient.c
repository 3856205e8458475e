/* dpclient.c — client end of the data plane; see dpclient.h. */
#include "dpclient.h"

#include "dpconn.h"
#include "runner.h"
#include "tstamp.h"
#include "vmtp/clock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_HELLO_EVERY_NS (50 * VMTP_NS_PER_MS)
#define S_RESULT_TIMEOUT_NS (15 * VMTP_NS_PER_S)
#define S_MAX_INTERVALS 100000

struct dpclient {
    dpclient_cfg_t cfg;      /* configuration */
    dpconn_t conn;           /* control connection */
    atomic_bool never;       /* stays false: the stop flag when cfg.stop is NULL */
    pthread_mutex_t cb_lock; /* keeps on_interval calls apart */
    /* Per-test state used by the callbacks. */
    dp_result_t *res; /* result being filled (not owned) */
};

static const atomic_bool *s_stop(dpclient_t *self) { return self->cfg.stop ? self->cfg.stop : &self->never; }

void dp_result_fini(dp_result_t *r)
{
    report_fini(&r->local);
    report_fini(&r->remote);
    free(r->local_iv);
    free(r->remote_iv);
    memset(r, 0, sizeof *r);
    report_init(&r->local);
    report_init(&r->remote);
}

static void s_append(interval_t **arr, size_t *n, const interval_t *iv)
{
    if (*n >= S_MAX_INTERVALS)
        return;
    if ((*n & (*n - 1)) == 0) { /* grow at powers of two */
        interval_t *a = realloc(*arr, (*n ? *n * 2 : 16) * sizeof *a);
        if (!a)
            return;
        *arr = a;
    }
    (*arr)[(*n)++] = *iv;
}

static void s_report_iv(dpclient_t *self, const interval_t *iv, bool remote)
{
    pthread_mutex_lock(&self->cb_lock);
    if (remote)
        s_append(&self->res->remote_iv, &self->res->n_remote_iv, iv);
    else
        s_append(&self->res->local_iv, &self->res->n_local_iv, iv);
    if (self->cfg.on_interval)
        self->cfg.on_interval(iv, remote, self->cfg.cb_arg);
    pthread_mutex_unlock(&self->cb_lock);
}

static void s_local_iv(const interval_t *iv, void *arg) { s_report_iv(arg, iv, false); }

dpclient_t *dpclient_new(const dpclient_cfg_t *cfg, int *err, char *why, size_t whycap)
{
    char astr[SOCK_ADDR_STRLEN];
    sock_addr_str(&cfg->server, astr, sizeof astr);
    dpclient_t *self = calloc(1, sizeof *self);
    if (!self) {
        *err = -ENOMEM;
        snprintf(why, whycap, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    pthread_mutex_init(&self->cb_lock, NULL);
    int fd = -1;
    int rc = sock_connect(&cfg->server, &cfg->bind, SOCK_STREAM, cfg->connect_timeout_ns, s_stop(self), &fd);
    if (rc < 0) {
        if (rc == -ETIMEDOUT)
            snprintf(why, whycap, "cannot connect to %s: no answer within %.1f s", astr,
                     (double)cfg->connect_timeout_ns / 1e9);
        else
            snprintf(why, whycap, "cannot connect to %s: %s", astr, strerror(-rc));
        goto fail;
    }
    uint8_t g[DP_GREETING_LEN];
    dp_greeting_put(g, DP_KIND_CONTROL);
    rc = sock_write_full(fd, g, sizeof g, clock_mono_ns() + cfg->connect_timeout_ns, s_stop(self));
    if (rc < 0) {
        close(fd);
        snprintf(why, whycap, "cannot talk to %s: %s", astr, strerror(-rc));
        goto fail;
    }
    if ((rc = dpconn_init(&self->conn, fd)) < 0) {
        snprintf(why, whycap, "out of memory");
        goto fail;
    }
    return self;
fail:
    *err = rc;
    pthread_mutex_destroy(&self->cb_lock);
    free(self);
    return NULL;
}

void dpclient_destroy(dpclient_t **pself)
{
    if (!pself || !*pself)
        return;
    dpconn_fini(&(*pself)->conn);
    pthread_mutex_destroy(&(*pself)->cb_lock);
    free(*pself);
    *pself = NULL;
}

/* Opens the test's data sockets. Returns 0 or -errno with why. */
static int s_open_data(dpclient_t *self, runner_t *r, uint64_t cookie, char *why, size_t cap)
{
    const test_spec_t *spec = &r->spec;
    char astr[SOCK_ADDR_STRLEN];
    sock_addr_str(&self->cfg.server, astr, sizeof astr);
    if (spec->proto == TEST_UDP || spec->proto == TEST_RR_UDP) {
        int rc = sock_connect(&self->cfg.server, &self->cfg.bind, SOCK_DGRAM, self->cfg.connect_timeout_ns,
                              s_stop(self), &r->fds[0]);
        if (rc < 0) {
            snprintf(why, cap, "cannot open a UDP socket to %s: %s", astr, strerror(-rc));
            return rc;
        }
        r->nfds = 1;
        tstamp_enable(r->fds[0], false, true); /* early: see dpserver.c */
        return 0;
    }
    unsigned n = spec->proto == TEST_TCP ? spec->streams : 1;
    for (unsigned i = 0; i < n; i++) {
        int fd;
        int rc = sock_connect(&self->cfg.server, &self->cfg.bind, SOCK_STREAM, self->cfg.connect_timeout_ns,
                              s_stop(self), &fd);
        if (rc < 0) {
            snprintf(why, cap, "data connection %u to %s failed: %s", i, astr, strerror(-rc));
            return rc;
        }
        r->fds[i] = fd;
        r->nfds = i + 1;
        uint8_t hello[DP_DATA_HELLO_LEN];
        dp_data_hello_put(hello, cookie, (uint16_t)i);
        rc = sock_write_full(fd, hello, sizeof hello, clock_mono_ns() + self->cfg.connect_timeout_ns, s_stop(self));
        if (rc < 0) {
            snprintf(why, cap, "data connection %u to %s failed: %s", i, astr, strerror(-rc));
            return rc;
        }
        if (spec->proto == TEST_RR_TCP)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    }
    return 0;
}

static void s_send_hello(runner_t *r, uint64_t cookie)
{
    uint8_t buf[DP_DGRAM_HDR_LEN];
    dp_dgram_t d = {.kind = DP_DGRAM_HELLO, .seq = cookie, .tx_real_ns = clock_real_ns()};
    dp_dgram_put(buf, &d);
    send(r->fds[0], buf, sizeof buf, MSG_DONTWAIT);
}

/* Copies a server ERROR into why and returns its -code. */
static int s_server_error(const dp_msg_t *m, char *why, size_t cap)
{
    snprintf(why, cap, "server refused: %s", m->text);
    return -m->error_code;
}

/* Waits for ACCEPT then READY (re-sending the UDP hello meanwhile). */
static int s_setup(dpclient_t *self, runner_t *r, char *why, size_t cap)
{
    dp_msg_t m;
    int64_t deadline = clock_mono_ns() + self->cfg.connect_timeout_ns + 5 * VMTP_NS_PER_S;
    int rc = dpconn_recv(&self->conn, &m, deadline - clock_mono_ns(), s_stop(self));
    if (rc < 0) {
        snprintf(why, cap, "no answer to the test request: %s", strerror(-rc));
        return rc;
    }
    if (m.type == DP_MSG_ERROR)
        return s_server_error(&m, why, cap);
    if (m.type != DP_MSG_ACCEPT) {
        dp_msg_fini(&m);
        snprintf(why, cap, "server answered %s instead of ACCEPT", dp_msg_name(m.type));
        return -EPROTO;
    }
    snprintf(self->res->server_id, sizeof self->res->server_id, "%s", m.server_id);
    uint64_t cookie = m.cookie;
    if ((rc = s_open_data(self, r, cookie, why, cap)) < 0)
        return rc;
    bool udp = r->spec.proto == TEST_UDP || r->spec.proto == TEST_RR_UDP;
    for (;;) {
        if (udp)
            s_send_hello(r, cookie);
        int64_t left = deadline - clock_mono_ns();
        if (left <= 0) {
            snprintf(why, cap, "the server never confirmed the data %s (is port %u/%s open?)",
                     udp ? "hello" : "connections", sock_addr_port(&self->cfg.server), udp ? "udp" : "tcp");
            return -ETIMEDOUT;
        }
        rc = dpconn_recv(&self->conn, &m, udp ? S_HELLO_EVERY_NS : left, s_stop(self));
        if (rc == -ETIMEDOUT)
            continue;
        if (rc < 0) {
            snprintf(why, cap, "control connection lost during setup: %s", strerror(-rc));
            return rc;
        }
        if (m.type == DP_MSG_READY)
            return 0;
        if (m.type == DP_MSG_ERROR)
            return s_server_error(&m, why, cap);
        dp_msg_fini(&m);
        snprintf(why, cap, "server answered %s instead of READY", dp_msg_name(m.type));
        return -EPROTO;
    }
}

/* Relays server messages until our engine is done; then DONE, then the server's RESULT. */
static int s_run_phase(dpclient_t *self, runner_t *r, char *why, size_t cap)
{
    bool have_result = false, sent_stop = false, sent_done = false;
    int64_t result_deadline = 0;
    int rc = 0;
    for (;;) {
        if (atomic_load(&r->done) && !sent_done) {
            runner_join(r);
            dp_msg_t d;
            dp_msg_init(&d, DP_MSG_DONE);
            d.report = r->report; /* borrowed */
            /* Not abortable by stop: after a STOP the server still gets DONE and answers with
             * its RESULT, so the test ends cleanly on both sides ("stopped"), within 10 s. */
            if ((rc = dpconn_send(&self->conn, &d, NULL)) < 0) {
                snprintf(why, cap, "control connection lost: %s", strerror(-rc));
                return rc;
            }
            sent_done = true;
            result_deadline = clock_mono_ns() + S_RESULT_TIMEOUT_NS;
        }
        if (sent_done && have_result)
            return 0;
        if (atomic_load(s_stop(self)) && !sent_stop) {
            dp_msg_t s;
            dp_msg_init(&s, DP_MSG_STOP);
            dpconn_send(&self->conn, &s, NULL);
            atomic_store(&r->stop, true);
            sent_stop = true;
        }
        if (sent_done && clock_mono_ns() > result_deadline) {
            snprintf(why, cap, "the server sent no result within %lld s",
                     (long long)(S_RESULT_TIMEOUT_NS / VMTP_NS_PER_S));
            return -ETIMEDOUT;
        }
        dp_msg_t m;
        rc = dpconn_recv(&self->conn, &m, 50 * VMTP_NS_PER_MS, NULL);
        if (rc == -ETIMEDOUT)
            continue;
        if (rc < 0) {
            atomic_store(&r->stop, true);
            snprintf(why, cap, "control connection to the server lost: %s", strerror(-rc));
            return rc;
        }
        switch (m.type) {
        case DP_MSG_INTERVAL: s_report_iv(self, &m.interval, true); break;
        case DP_MSG_RESULT:
            report_fini(&self->res->remote);
            self->res->remote = m.report; /* moved */
            report_init(&m.report);
            have_result = true;
            if (r->role == ROLE_RECEIVER) {
                atomic_store(&r->peer_tx_packets, self->res->remote.tx_packets);
                atomic_store(&r->peer_done, true);
            }
            break;
        case DP_MSG_ERROR: atomic_store(&r->stop, true); return s_server_error(&m, why, cap);
        default:
            snprintf(why, cap, "unexpected %s from the server during the test", dp_msg_name(m.type));
            dp_msg_fini(&m);
            atomic_store(&r->stop, true);
            return -EPROTO;
        }
        dp_msg_fini(&m);
    }
}

int dpclient_run(dpclient_t *self, const test_spec_t *spec, dp_result_t *res, char *why, size_t whycap)
{
    memset(res, 0, sizeof *res);
    report_init(&res->local);
    report_init(&res->remote);
    res->spec = *spec;
    self->res = res;
    int rc = dp_test_validate(spec, why, whycap);
    if (rc < 0)
        return rc;
    runner_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(why, whycap, "out of memory");
        return -ENOMEM;
    }
    runner_init(r, spec, false);
    r->on_interval = s_local_iv;
    r->cb_arg = self;
    dp_msg_t m;
    dp_msg_init(&m, DP_MSG_TEST);
    m.test = *spec;
    if ((rc = dpconn_send(&self->conn, &m, s_stop(self))) < 0) {
        snprintf(why, whycap, "cannot send the test request: %s", strerror(-rc));
        goto out;
    }
    if ((rc = s_setup(self, r, why, whycap)) < 0)
        goto out;
    res->start_real_ns = spec->start_real_ns ? spec->start_real_ns : clock_real_ns();
    /* A receiver listens before the sender is told to start. */
    if (r->role == ROLE_RECEIVER && (rc = runner_start(r)) < 0) {
        snprintf(why, whycap, "cannot start the test: %s", strerror(-rc));
        goto out;
    }
    dp_msg_init(&m, DP_MSG_START);
    if ((rc = dpconn_send(&self->conn, &m, s_stop(self))) < 0) {
        snprintf(why, whycap, "cannot start the test: %s", strerror(-rc));
        goto out;
    }
    if (r->role != ROLE_RECEIVER && (rc = runner_start(r)) < 0) {
        snprintf(why, whycap, "cannot start the test: %s", strerror(-rc));
        goto out;
    }
    rc = s_run_phase(self, r, why, whycap);
    runner_join(r);
    if (rc == 0 && r->rc < 0) {
        rc = r->rc;
        snprintf(why, whycap, "%s", rc == -ECANCELED ? "stopped" : strerror(-rc));
    }
    if (rc == 0) {
        res->local = r->report; /* moved */
        report_init(&r->report);
    }
out:
    runner_fini(r);
    free(r);
    self->res = NULL;
    if (rc < 0) {
        report_fini(&res->remote);
    }
    return rc;
}
