/* main.c — vmtp-node: the standalone server and clients (ARCHITECTURE.md contract). */
#include "agent.h"
#include "cli.h"
#include "dpclient.h"
#include "dpserver.h"
#include "icmp.h"
#include "output.h"
#include "ratesearch.h"
#include "result.h"
#include "tstamp.h"
#include "vmtp/clock.h"
#include "vmtp/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_bool s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    atomic_store(&s_stop, true);
}

static void s_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int s_server(const cli_opts_t *o)
{
    char why[256] = "";
    int err = 0;
    dpserver_cfg_t cfg = {.bind_host = o->bind, .port = (uint16_t)o->port, .stop = &s_stop};
    dpserver_t *srv = dpserver_new(&cfg, &err, why, sizeof why);
    if (!srv) {
        LOG_ERROR("%s", why);
        return 1;
    }
    LOG_INFO("serving tcp, udp and rr tests on port %llu", (unsigned long long)o->port);
    int rc = dpserver_run(srv);
    dpserver_stats_t st;
    dpserver_stats(srv, &st);
    LOG_INFO("stopping: %llu sessions, %llu tests, %llu connections rejected, %llu stray datagrams",
             (unsigned long long)st.sessions, (unsigned long long)st.tests, (unsigned long long)st.rejected,
             (unsigned long long)st.stray_datagrams);
    dpserver_destroy(&srv);
    if (rc < 0) {
        LOG_ERROR("server failed: %s", strerror(-rc));
        return 1;
    }
    return 0;
}

/* The test spec the options describe. */
static void s_spec(const cli_opts_t *o, test_spec_t *t)
{
    memset(t, 0, sizeof *t);
    t->proto = o->cmd == CMD_TCP          ? TEST_TCP
               : o->cmd == CMD_UDP        ? TEST_UDP
               : !strcmp(o->proto, "tcp") ? TEST_RR_TCP
                                          : TEST_RR_UDP;
    t->reverse = o->reverse;
    t->streams = (uint16_t)(o->cmd == CMD_TCP ? o->parallel : 1);
    t->len = (uint32_t)o->len;
    t->rate_bps = o->rate;
    t->duration_ns = o->time_ns;
    t->omit_ns = o->omit_ns;
    t->interval_ns = o->interval_ns;
    t->sndbuf = (uint32_t)o->sndbuf;
    t->rcvbuf = (uint32_t)o->rcvbuf;
    t->rr_mode = !strcmp(o->mode, "isochronous") ? RR_MODE_ISOCHRONOUS : RR_MODE_PINGPONG;
    t->rr_interval_ns = o->send_interval_ns;
    t->rr_count = o->count;
    t->rr_timeout_ns = o->timeout_ns;
    t->start_real_ns = o->start_at_ns;
    t->gso = o->gso;
    if (o->cmd == CMD_RR && o->count) {
        /* Count-bound: the duration only bounds a stuck run. */
        t->duration_ns = 86400 * VMTP_NS_PER_S;
    }
}

typedef struct {
    dpclient_t *cli;                            /* session (not owned) */
    const cli_opts_t *o;                        /* options (not owned) */
    test_spec_t spec;                           /* base spec of the trials */
    dp_result_t results[RATESEARCH_MAX_TRIALS]; /* every trial's result */
    char why[512];                              /* failure of the last trial */
} s_search_t;

static int s_trial(unsigned idx, uint64_t rate, ratesearch_trial_t *t, void *arg)
{
    s_search_t *s = arg;
    test_spec_t spec = s->spec;
    spec.rate_bps = rate;
    spec.duration_ns = s->o->trial_ns;
    spec.omit_ns = 0;
    spec.start_real_ns = 0;
    dp_result_t *res = &s->results[idx];
    int rc = dpclient_run(s->cli, &spec, res, s->why, sizeof s->why);
    if (rc < 0)
        return rc;
    result_summary_t sum;
    result_summarize(res, &sum);
    t->tx_bps = sum.offered_bps;
    t->rx_bps = sum.throughput_bps;
    t->loss_pct = sum.loss_pct;
    t->tx_busy = sum.sender->tx_busy;
    t->tx_backlog = sum.sender->tx_backlog;
    if (!s->o->json)
        LOG_INFO("trial %u: request %.2f Mbit/s, received %.2f Mbit/s, loss %.3f %%", idx + 1, (double)rate / 1e6,
                 t->rx_bps / 1e6, t->loss_pct);
    return 0;
}

static void s_on_interval(const interval_t *iv, bool remote, void *arg) { output_interval(stdout, arg, iv, remote); }

static int s_client(const cli_opts_t *o)
{
    char why[512] = "";
    char tstr[SOCK_ADDR_STRLEN] = "";
    output_ctx_t ctx = {.opts = o, .target_str = o->target};
    sockaddr_any_t dst, src = {0};
    int family = o->ipv6 ? AF_INET6 : o->ipv4 ? AF_INET : AF_UNSPEC;
    if (sock_resolve(o->target, (uint16_t)o->port, family, &dst) < 0) {
        snprintf(why, sizeof why, "cannot resolve '%s'", o->target);
        output_error(stdout, stderr, &ctx, why);
        return 2;
    }
    if (o->bind && sock_resolve(o->bind, 0, dst.ss.ss_family, &src) < 0) {
        snprintf(why, sizeof why, "--bind: cannot use '%s' as a local %s address", o->bind,
                 dst.ss.ss_family == AF_INET6 ? "IPv6" : "IPv4");
        output_error(stdout, stderr, &ctx, why);
        return 2;
    }
    sock_addr_str(&dst, tstr, sizeof tstr);
    ctx.target_str = tstr;

    if (o->cmd == CMD_ICMP) {
        icmp_params_t p = {.target = dst,
                           .payload_len = (uint32_t)o->len,
                           .count = (uint32_t)o->count,
                           .interval_ns = o->send_interval_ns,
                           .timeout_ns = o->timeout_ns};
        sock_addr_host(&dst, tstr, sizeof tstr);
        icmp_result_t r = {.rtt = hist_new(), .rtt_user = hist_new()};
        int rc = r.rtt && r.rtt_user ? icmp_run(&p, &s_stop, &r) : -ENOMEM;
        if (rc < 0) {
            snprintf(why, sizeof why, "icmp to %s failed: %s%s", tstr, strerror(-rc),
                     rc == -EPERM || rc == -EACCES ? " (needs a ping socket: net.ipv4.ping_group_range, or CAP_NET_RAW)"
                                                   : "");
            output_error(stdout, stderr, &ctx, why);
        } else {
            output_icmp(stdout, &ctx, &p, &r);
        }
        hist_destroy(&r.rtt);
        hist_destroy(&r.rtt_user);
        return rc < 0 || r.rx_packets == 0 ? 1 : 0;
    }

    test_spec_t spec;
    s_spec(o, &spec);
    if (dp_test_validate(&spec, why, sizeof why) < 0) {
        fprintf(stderr, "vmtp-node %s: %s\n", cli_cmd_name(o->cmd), why);
        return 2;
    }
    dpclient_cfg_t cfg = {.server = dst,
                          .bind = src,
                          .connect_timeout_ns = o->connect_timeout_ns,
                          .stop = &s_stop,
                          .on_interval = s_on_interval,
                          .cb_arg = &ctx};
    int err = 0;
    dpclient_t *cli = dpclient_new(&cfg, &err, why, sizeof why);
    if (!cli) {
        output_error(stdout, stderr, &ctx, why);
        return 1;
    }
    int status = 0;
    if (o->cmd == CMD_UDP && strcmp(o->search, "none")) {
        s_search_t *s = calloc(1, sizeof *s);
        if (!s) {
            dpclient_destroy(&cli);
            return 1;
        }
        s->cli = cli;
        s->o = o;
        s->spec = spec;
        ratesearch_cfg_t rc = {.mode = !strcmp(o->search, "rfc2544") ? RATESEARCH_RFC2544 : RATESEARCH_VMTP,
                               .loss_min = o->loss_min,
                               .loss_max = o->loss_max,
                               .loss_threshold = o->loss_threshold,
                               .rate_max = o->rate_max,
                               .max_trials = (unsigned)o->max_trials,
                               .resolution = 0.01};
        ratesearch_result_t *sr = calloc(1, sizeof *sr);
        int r = sr ? ratesearch_run(&rc, s_trial, s, sr) : -ENOMEM;
        if (r < 0 || !sr || sr->best < 0) {
            output_error(stdout, stderr, &ctx,
                         r < 0 ? s->why : "the rate search found no usable rate (nothing arrived)");
            status = 1;
        } else {
            output_test(stdout, &ctx, &s->results[sr->best], sr);
        }
        for (unsigned i = 0; i < RATESEARCH_MAX_TRIALS; i++)
            dp_result_fini(&s->results[i]);
        free(sr);
        free(s);
    } else {
        dp_result_t res;
        int rc = dpclient_run(cli, &spec, &res, why, sizeof why);
        if (rc < 0) {
            output_error(stdout, stderr, &ctx, why);
            status = 1;
        } else {
            output_test(stdout, &ctx, &res, NULL);
        }
        dp_result_fini(&res);
    }
    dpclient_destroy(&cli);
    return status;
}

int main(int argc, char **argv)
{
    log_set_program("vmtp-node");
    cli_opts_t o;
    int rc = cli_parse(argc, argv, &o, stdout, stderr);
    if (rc == 1)
        return 0;
    if (rc)
        return 2;
    log_threshold = o.verbose >= 2                          ? LOG_LEVEL_DEBUG
                    : o.verbose == 1 || o.cmd == CMD_SERVER ? LOG_LEVEL_INFO
                                                            : LOG_LEVEL_WARN;
    s_signals();
    /* Kernel RX stamping on before the first measured packet (see tstamp_warm_up); without
     * loopback or stamps the tests still run and count what is missing. */
    int warm = tstamp_warm_up(100 * VMTP_NS_PER_MS);
    if (warm < 0)
        LOG_DEBUG("kernel RX timestamps not confirmed before the test: %s", strerror(-warm));
    if (o.cmd == CMD_AGENT) {
        agent_cfg_t acfg = {.bind = o.bind,
                            .port = (uint16_t)o.port,
                            .silence_ns = o.silence_ns,
                            .cleanup_dir = o.cleanup,
                            .host_id = o.host_id,
                            .keys = stdin,
                            .announce = stdout,
                            .stop = &s_stop};
        rc = agent_run(&acfg);
    } else {
        rc = o.cmd == CMD_SERVER ? s_server(&o) : s_client(&o);
    }
    if (warm >= 0)
        close(warm);
    return rc;
}
