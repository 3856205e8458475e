/* flows.c — VMTP's work for one flow; see flows.h. */
#include "flows.h"

#include "result.h"
#include "vmtp/clock.h"
#include "vmtp/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define S_INTERRUPT_GRACE_NS (10 * VMTP_NS_PER_S) /* after a signal, how long a stopped test may take to report */

const char *flow_status_name(flow_status_t s)
{
    return s == FLOW_PASSED ? "PASSED" : s == FLOW_FAILED ? "FAILED" : "SKIPPED";
}

/* ---- waiting for one answer -------------------------------------------------------------------- */

typedef struct {
    bool done;
    int status;
    char error[513];
    dp_result_t res;
} s_wait_t;

static void s_on_result(coord_node_t *n, coord_result_t *r, void *arg)
{
    (void)n;
    s_wait_t *w = arg;
    w->status = r->status;
    snprintf(w->error, sizeof w->error, "%s", r->error);
    coord_result_take(r, &w->res);
    w->done = true;
}

/* Pumps the loop until *done. A signal stops test_id (when > 0) and waits a grace period for
 * its answer. Returns 0 or -EINTR (signal) or another -errno of coord_poll. */
static int s_pump(coord_t *c, const bool *done, int64_t test_id)
{
    int64_t grace_end = 0;
    int result = 0;
    while (!*done) {
        int rc = coord_poll(c, -1);
        if (rc == -EINTR && !grace_end) {
            result = -EINTR;
            coord_stop(c, test_id > 0 ? (uint64_t)test_id : 0); /* 0: every test and PING */
            grace_end = clock_mono_ns() + S_INTERRUPT_GRACE_NS;
        } else if (rc < 0 && rc != -EINTR) {
            return rc;
        }
        if (grace_end && clock_mono_ns() > grace_end)
            break;
    }
    return result;
}

int flow_run_test(coord_t *c, coord_node_t *client, const char *target, uint16_t port, const test_spec_t *spec,
                  dp_result_t *out, char *why, size_t cap)
{
    s_wait_t *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    memset(out, 0, sizeof *out);
    report_init(&out->local);
    report_init(&out->remote);
    int64_t id = coord_run(client, target, port, spec, NULL, s_on_result, w);
    if (id < 0) {
        snprintf(why, cap, "cannot start the test on %s: %s%s%s", coord_node_name(client), strerror((int)-id),
                 coord_node_reason(client)[0] ? ": " : "", coord_node_reason(client));
        free(w);
        return (int)id;
    }
    int rc = s_pump(c, &w->done, id);
    if (w->done) {
        *out = w->res;
        if (w->status < 0)
            snprintf(why, cap, "%s", w->error);
        else if (rc == -EINTR)
            snprintf(why, cap, "interrupted (stopped early: what it measured is kept)");
        rc = rc < 0 ? rc : w->status;
    } else {
        snprintf(why, cap, "%s", rc == -EINTR ? "interrupted" : strerror(-rc));
        dp_result_fini(&w->res);
        rc = rc < 0 ? rc : -EIO;
    }
    coord_detach(c, w); /* an answer still to come must not reach freed memory */
    free(w);
    return rc;
}

/* ---- entries ------------------------------------------------------------------------------------- */

static flow_entry_t *s_entry(flow_result_t *f, flow_entry_kind_t kind, uint32_t size)
{
    if (f->n_entries == f->cap_entries) {
        unsigned cap = f->cap_entries ? 2 * f->cap_entries : 8;
        flow_entry_t *v = realloc(f->entries, cap * sizeof *v);
        if (!v)
            return NULL;
        f->entries = v;
        f->cap_entries = cap;
    }
    flow_entry_t *e = &f->entries[f->n_entries++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->pkt_size = size;
    report_init(&e->res.local);
    report_init(&e->res.remote);
    return e;
}

static void s_entry_fini(flow_entry_t *e)
{
    dp_result_fini(&e->res);
    free(e->search);
    e->search = NULL;
    hist_destroy(&e->icmp.rtt);
    hist_destroy(&e->icmp.rtt_user);
}

void flow_result_fini(flow_result_t *f)
{
    for (unsigned i = 0; i < f->n_entries; i++)
        s_entry_fini(&f->entries[i]);
    free(f->entries);
    f->entries = NULL;
    f->n_entries = f->cap_entries = 0;
}

static void s_progress(const flow_ctx_t *fc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_progress(const flow_ctx_t *fc, const char *fmt, ...)
{
    if (!fc->progress)
        return;
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fc->progress(line, fc->progress_arg);
}

/* ---- TCP ------------------------------------------------------------------------------------------ */

static int s_tcp(const flow_ctx_t *fc, flow_result_t *f)
{
    const config_t *cfg = fc->cfg;
    for (unsigned k = 0; k < cfg->tcp_pkt_sizes.n; k++) {
        for (unsigned run = 1; run <= cfg->tcp_tp_loop_count; run++) {
            uint32_t size = (uint32_t)cfg->tcp_pkt_sizes.v[k];
            flow_entry_t *e = s_entry(f, FLOW_ENTRY_TCP, size);
            if (!e)
                return -ENOMEM;
            e->run = run;
            test_spec_t spec = {.proto = TEST_TCP,
                                .streams = 1,
                                .len = size,
                                .reverse = fc->reverse,
                                .rate_bps = cfg->vm_bandwidth * 1000,
                                .duration_ns = fc->time_ns,
                                .interval_ns = VMTP_NS_PER_S};
            /* Under a cap the first window leaves unpaced (TCP's pacing starts after it): a tenth
             * of the test, at most 1 s, is left out so the figure is the capped rate. */
            if (spec.rate_bps)
                spec.omit_ns = fc->time_ns / 10 < VMTP_NS_PER_S ? fc->time_ns / 10 : VMTP_NS_PER_S;
            e->status =
                flow_run_test(fc->c, fc->client, fc->target, fc->port, &spec, &e->res, e->error, sizeof e->error);
            if (e->status == -EINTR)
                return -EINTR;
            if (e->status == 0) {
                result_summary_t s;
                result_summarize(&e->res, &s);
                s_progress(fc, "TCP %u B run %u: %.1f Mbit/s, %llu retransmissions", size, run, s.throughput_bps / 1e6,
                           (unsigned long long)s.sender->tcp.total_retrans);
            } else {
                s_progress(fc, "TCP %u B run %u: FAILED: %s", size, run, e->error);
            }
        }
    }
    return 0;
}

/* ---- the clock offset, for absolute one-way delays ----------------------------------------------- */

typedef struct {
    bool done;
    int status;
    proto_clock_t c;
} s_clock_wait_t;

static void s_on_clock(coord_node_t *n, int status, const proto_clock_t *c, void *arg)
{
    (void)n;
    s_clock_wait_t *w = arg;
    w->status = status;
    if (c)
        w->c = *c;
    w->done = true;
}

/* NTP-style exchanges client -> server's data port (kernel stamps, minimum-RTT filter): when the
 * offset is known to within owd_clock_bound_us, the UDP tests get it and their one-way delays are
 * absolute. Returns -EINTR after a signal, else 0 (a failed measurement only leaves delays relative). */
static int s_clock(const flow_ctx_t *fc, flow_result_t *f)
{
    f->clock_status = 1;
    if (!fc->cfg->owd_clock_bound_us)
        return 0;
    s_clock_wait_t w = {0};
    int rc = coord_clock(fc->client, fc->target, fc->port, 200, 500 * VMTP_NS_PER_US, s_on_clock, &w);
    if (rc < 0) {
        f->clock_status = rc;
        return 0;
    }
    rc = s_pump(fc->c, &w.done, 0);
    coord_detach(fc->c, &w);
    if (rc == -EINTR)
        return -EINTR;
    f->clock_status = w.done ? w.status : rc < 0 ? rc : -EIO;
    if (f->clock_status == 0) {
        f->clock_offset_ns = w.c.offset_ns;
        f->clock_bound_ns = w.c.bound_ns;
        f->clock_samples = w.c.samples;
        f->clock_used = w.c.bound_ns <= (int64_t)fc->cfg->owd_clock_bound_us * VMTP_NS_PER_US;
        LOG_DEBUG("clock offset %lld ns +- %lld ns from %llu exchanges%s", (long long)w.c.offset_ns,
                  (long long)w.c.bound_ns, (unsigned long long)w.c.samples,
                  f->clock_used ? ": one-way delays will be absolute" : ": too loose for one-way delays");
    }
    return 0;
}

/* ---- UDP ------------------------------------------------------------------------------------------ */

typedef struct {
    const flow_ctx_t *fc;
    test_spec_t spec;
    dp_result_t trials[RATESEARCH_MAX_TRIALS];
    char why[513];
    bool interrupted;
} s_search_t;

static int s_trial(unsigned idx, uint64_t rate, ratesearch_trial_t *t, void *arg)
{
    s_search_t *s = arg;
    test_spec_t spec = s->spec;
    spec.rate_bps = rate;
    int rc = flow_run_test(s->fc->c, s->fc->client, s->fc->target, s->fc->port, &spec, &s->trials[idx], s->why,
                           sizeof s->why);
    if (rc < 0) {
        s->interrupted = rc == -EINTR;
        return rc;
    }
    result_summary_t sum;
    result_summarize(&s->trials[idx], &sum);
    t->tx_bps = sum.offered_bps;
    t->rx_bps = sum.throughput_bps;
    t->loss_pct = sum.loss_pct;
    t->tx_busy = sum.sender->tx_busy;
    t->tx_backlog = sum.sender->tx_backlog;
    LOG_DEBUG("UDP %u B trial %u: request %.2f Mbit/s, received %.2f Mbit/s, loss %.3f %%", spec.len, idx + 1,
              (double)rate / 1e6, t->rx_bps / 1e6, t->loss_pct);
    return 0;
}

static int s_udp(const flow_ctx_t *fc, flow_result_t *f)
{
    const config_t *cfg = fc->cfg;
    for (unsigned k = 0; k < cfg->udp_pkt_sizes.n; k++) {
        uint32_t size = (uint32_t)cfg->udp_pkt_sizes.v[k];
        flow_entry_t *e = s_entry(f, FLOW_ENTRY_UDP, size);
        s_search_t *s = calloc(1, sizeof *s);
        if (e)
            e->search = calloc(1, sizeof *e->search);
        if (!e || !s || !e->search) {
            free(s);
            return -ENOMEM;
        }
        s->fc = fc;
        e->search_mode = !strcmp(cfg->udp_search, "rfc2544") ? "rfc2544" : "vmtp";
        s->spec = (test_spec_t){.proto = TEST_UDP,
                                .streams = 1,
                                .len = size,
                                .reverse = fc->reverse,
                                .duration_ns = fc->trial_ns,
                                .interval_ns = 0};
        if (f->clock_used) { /* receiver clock minus sender clock */
            s->spec.clock_known = true;
            s->spec.clock_offset_ns = fc->reverse ? -f->clock_offset_ns : f->clock_offset_ns;
        }
        uint64_t cap_bps = cfg->vm_bandwidth * 1000;
        ratesearch_cfg_t rc = {.mode = !strcmp(cfg->udp_search, "rfc2544") ? RATESEARCH_RFC2544 : RATESEARCH_VMTP,
                               .loss_min = cfg->udp_loss_rate_range.lo,
                               .loss_max = cfg->udp_loss_rate_range.hi,
                               .loss_threshold = (double)cfg->udp_loss_threshold_ppm / 1e4,
                               .rate_max = cap_bps,
                               .max_trials = 16,
                               .resolution = 0.01};
        int r = ratesearch_run(&rc, s_trial, s, e->search);
        if (r < 0) {
            e->status = r;
            snprintf(e->error, sizeof e->error, "%s", s->why);
        } else if (e->search->best < 0) {
            e->status = -ENODATA;
            snprintf(e->error, sizeof e->error, "the rate search found no usable rate (nothing arrived)");
        } else {
            /* The reported trial's result moves into the entry; the others are summarised in search. */
            e->res = s->trials[e->search->best];
            memset(&s->trials[e->search->best], 0, sizeof s->trials[0]);
            report_init(&s->trials[e->search->best].local);
            report_init(&s->trials[e->search->best].remote);
            result_summary_t sum;
            result_summarize(&e->res, &sum);
            s_progress(fc, "UDP %u B: %.1f Mbit/s at %.3f %% loss after %u trials%s%s", size, sum.throughput_bps / 1e6,
                       sum.loss_pct, e->search->ntrials, e->search->converged ? "" : " (not converged)",
                       e->search->sender_limited ? " (sender-limited: a lower bound of the path)" : "");
        }
        if (e->status < 0)
            s_progress(fc, "UDP %u B: FAILED: %s", size, e->error);
        bool interrupted = s->interrupted;
        for (unsigned i = 0; i < RATESEARCH_MAX_TRIALS; i++)
            dp_result_fini(&s->trials[i]);
        free(s);
        if (interrupted)
            return -EINTR;
    }
    return 0;
}

/* ---- ICMP ----------------------------------------------------------------------------------------- */

typedef struct {
    bool done;
    int status;
    char error[513];
    flow_entry_t *e;
} s_ping_wait_t;

static void s_on_ping(coord_node_t *n, int status, const char *why, const proto_ping_t *p, void *arg)
{
    (void)n;
    s_ping_wait_t *w = arg;
    w->done = true;
    w->status = status;
    if (status < 0) {
        snprintf(w->error, sizeof w->error, "%s", why ? why : strerror(-status));
        return;
    }
    icmp_result_t *r = &w->e->icmp;
    r->tx_packets = p->tx_packets;
    r->rx_packets = p->rx_packets;
    r->lost = p->lost;
    r->duplicates = p->duplicates;
    r->errors = p->errors;
    r->stamps_missing = p->stamps_missing;
    r->socket_kind = (int)p->socket_kind;
    r->timestamp_source = (tstamp_source_t)p->stamp_source;
    if (hist_deserialize(r->rtt, p->rtt.data, p->rtt.len) < 0 ||
        hist_deserialize(r->rtt_user, p->rtt_user.data, p->rtt_user.len) < 0) {
        w->status = -EPROTO;
        snprintf(w->error, sizeof w->error, "the node's ICMP histograms do not decode");
    }
}

static int s_icmp(const flow_ctx_t *fc, flow_result_t *f)
{
    const config_t *cfg = fc->cfg;
    for (unsigned k = 0; k < cfg->icmp_pkt_sizes.n; k++) {
        uint32_t size = (uint32_t)cfg->icmp_pkt_sizes.v[k];
        flow_entry_t *e = s_entry(f, FLOW_ENTRY_ICMP, size);
        if (!e)
            return -ENOMEM;
        e->icmp.rtt = hist_new();
        e->icmp.rtt_user = hist_new();
        if (!e->icmp.rtt || !e->icmp.rtt_user)
            return -ENOMEM;
        /* VMTP sends ping_count echoes a second apart; 0.2 s apart carries the same information and
         * a 1 s timeout still counts a slow reply. */
        e->icmp_params = (icmp_params_t){.payload_len = size,
                                         .count = (uint32_t)cfg->ping_count,
                                         .interval_ns = 200 * VMTP_NS_PER_MS,
                                         .timeout_ns = VMTP_NS_PER_S};
        s_ping_wait_t w = {.e = e};
        int rc = coord_ping(fc->client, fc->target, size, (uint32_t)cfg->ping_count, e->icmp_params.interval_ns,
                            e->icmp_params.timeout_ns, s_on_ping, &w);
        if (rc < 0) {
            e->status = rc;
            snprintf(e->error, sizeof e->error, "cannot ask %s to ping: %s", coord_node_name(fc->client),
                     strerror(-rc));
        } else {
            rc = s_pump(fc->c, &w.done, 0);
            coord_detach(fc->c, &w); /* w lives on this stack frame */
            if (rc == -EINTR && !w.done)
                return -EINTR;
            e->status = w.done ? w.status : rc < 0 ? rc : -EIO;
            snprintf(e->error, sizeof e->error, "%s", w.done ? w.error : rc == -EINTR ? "interrupted" : strerror(-rc));
        }
        if (e->status == 0 && e->icmp.tx_packets &&
            (double)e->icmp.rx_packets * 100.0 < (double)cfg->ping_pass_threshold * (double)e->icmp.tx_packets) {
            e->status = -EHOSTUNREACH;
            snprintf(e->error, sizeof e->error, "%llu of %llu echoes answered, below ping_pass_threshold %llu %%",
                     (unsigned long long)e->icmp.rx_packets, (unsigned long long)e->icmp.tx_packets,
                     (unsigned long long)cfg->ping_pass_threshold);
        }
        if (e->status == 0)
            s_progress(fc, "ICMP %u B: %llu/%llu replies, rtt avg %.3f ms (%s stamps)", size,
                       (unsigned long long)e->icmp.rx_packets, (unsigned long long)e->icmp.tx_packets,
                       hist_count(e->icmp.rtt) ? hist_mean(e->icmp.rtt) / 1e6 : 0.0,
                       tstamp_source_name(e->icmp.timestamp_source));
        else
            s_progress(fc, "ICMP %u B: FAILED: %s", size, e->error);
        if (rc == -EINTR)
            return -EINTR;
    }
    return 0;
}

/* ---- a flow ----------------------------------------------------------------------------------------- */

int flow_measure(const flow_ctx_t *fc, flow_result_t *f)
{
    int64_t t0 = clock_mono_ns();
    f->status = FLOW_PASSED;
    f->reason[0] = 0;
    const proto_hello_t *hc = coord_node_hello(fc->client), *hs = coord_node_hello(fc->server);
    snprintf(f->host_from, sizeof f->host_from, "%s", hc->hostname);
    snprintf(f->host_to, sizeof f->host_to, "%s", hs->hostname);
    f->same_host = hc->host_id[0] && !strcmp(hc->host_id, hs->host_id);
    f->reverse = fc->reverse;
    f->clock_status = 1;
    int rc = 0;
    if (fc->tcp)
        rc = s_tcp(fc, f);
    /* ICMP before UDP: a UDP trial with datagrams larger than the MTU that loses fragments at a cap
     * leaves the receiver's reassembly memory full for ipfrag_time (30 s), and a 1500-byte echo
     * after it would be dropped by that host, not by the path. */
    if (rc == 0 && fc->icmp)
        rc = s_icmp(fc, f);
    if (rc == 0 && fc->udp)
        rc = s_clock(fc, f);
    if (rc == 0 && fc->udp)
        rc = s_udp(fc, f);
    /* Results read in VMTP's order, TCP, UDP, ICMP (a stable order by kind). */
    for (unsigned i = 1; i < f->n_entries; i++)
        for (unsigned j = i; j > 0 && f->entries[j - 1].kind > f->entries[j].kind; j--) {
            flow_entry_t t = f->entries[j];
            f->entries[j] = f->entries[j - 1];
            f->entries[j - 1] = t;
        }
    for (unsigned i = 0; i < f->n_entries && f->status == FLOW_PASSED; i++)
        if (f->entries[i].status < 0) {
            f->status = FLOW_FAILED;
            snprintf(f->reason, sizeof f->reason, "%s", f->entries[i].error);
        }
    if (rc < 0 && f->status == FLOW_PASSED) {
        f->status = FLOW_FAILED;
        snprintf(f->reason, sizeof f->reason, "%s", rc == -EINTR ? "interrupted" : strerror(-rc));
    }
    f->wall_s = (double)(clock_mono_ns() - t0) / 1e9;
    return rc == -EINTR ? -EINTR : 0;
}
