/* output.c — summaries and JSON of vmtp-node; see output.h. */
#include "output.h"

#include "result.h"

#include <stdlib.h>
#include <string.h>

static double s_mbps(double bps) { return bps / 1e6; }

void output_json_hist(jsonw_t *w, const char *key, const hist_t *h)
{
    if (!h) {
        jsonw_null(w, key);
        return;
    }
    jsonw_object(w, key);
    jsonw_i64(w, "min", hist_min(h));
    jsonw_i64(w, "p50", hist_percentile(h, 50));
    jsonw_i64(w, "p90", hist_percentile(h, 90));
    jsonw_i64(w, "p99", hist_percentile(h, 99));
    jsonw_i64(w, "p999", hist_percentile(h, 99.9));
    jsonw_i64(w, "max", hist_max(h));
    jsonw_double(w, "mean", hist_mean(h));
    jsonw_double(w, "stddev", hist_stddev(h));
    jsonw_u64(w, "count", hist_count(h));
    /* The whole distribution, mergeable without loss (docs/PROTOCOL.md, "Serialised histogram"). */
    uint8_t *buf = malloc(HIST_SERIALIZED_MAX);
    long n = buf ? hist_serialize(h, buf, HIST_SERIALIZED_MAX) : -1;
    if (n > 0)
        jsonw_base64(w, "hist", buf, (size_t)n);
    free(buf);
    jsonw_end(w);
}

static void s_json_cpu(jsonw_t *w, const char *key, const cpu_usage_t *c)
{
    if (c->elapsed_s <= 0) { /* no /proc/stat on that end */
        jsonw_null(w, key);
        return;
    }
    jsonw_object(w, key);
    jsonw_double(w, "total_pct", c->total_pct);
    jsonw_double(w, "user_pct", c->user_pct);
    jsonw_double(w, "system_pct", c->system_pct);
    jsonw_double(w, "softirq_pct", c->softirq_pct);
    jsonw_double(w, "steal_pct", c->steal_pct);
    jsonw_double(w, "process_cpu_s", c->proc_cpu_s);
    jsonw_u64(w, "ncpu", (uint64_t)(c->ncpu > 0 ? c->ncpu : 0));
    jsonw_end(w);
}

static void s_json_tcpinfo(jsonw_t *w, const char *key, const tcpinfo_t *t)
{
    if (!t->valid) {
        jsonw_null(w, key);
        return;
    }
    jsonw_object(w, key);
    jsonw_u64(w, "rtt_us", t->rtt_us);
    jsonw_u64(w, "rttvar_us", t->rttvar_us);
    jsonw_u64(w, "min_rtt_us", t->min_rtt_us);
    jsonw_u64(w, "snd_cwnd", t->snd_cwnd);
    jsonw_u64(w, "snd_mss", t->snd_mss);
    jsonw_u64(w, "total_retrans", t->total_retrans);
    jsonw_double(w, "delivery_rate_kbps", (double)t->delivery_rate_bps / 1e3);
    jsonw_end(w);
}

static void s_json_intervals(jsonw_t *w, const char *key, const interval_t *iv, size_t n, bool tcp_sender)
{
    jsonw_array(w, key);
    for (size_t i = 0; i < n; i++) {
        const interval_t *v = &iv[i];
        double span = (double)(v->end_ns - v->start_ns);
        jsonw_object(w, NULL);
        jsonw_double(w, "start_s", (double)v->start_ns / 1e9);
        jsonw_double(w, "end_s", (double)v->end_ns / 1e9);
        jsonw_u64(w, "bytes", v->bytes);
        jsonw_double(w, "throughput_kbps", span > 0 ? (double)v->bytes * 8e6 / span : 0);
        if (v->packets)
            jsonw_u64(w, "packets", v->packets);
        if (v->lost)
            jsonw_u64(w, "lost", v->lost);
        if (tcp_sender) {
            jsonw_u64(w, "retrans", v->retrans);
            s_json_tcpinfo(w, "tcp_info", &v->tcp);
        }
        jsonw_end(w);
    }
    jsonw_end(w);
}

static const char *s_direction(const test_spec_t *t) { return t->reverse ? "reverse" : "forward"; }

void output_json_test_members(jsonw_t *wp, const char *target, const dp_result_t *res,
                              const ratesearch_result_t *search, const char *search_mode)
{
    const test_spec_t *t = &res->spec;
    result_summary_t s;
    result_summarize(res, &s);
    jsonw_str(wp, "protocol", t->proto == TEST_TCP ? "TCP" : t->proto == TEST_UDP ? "UDP" : "RR");
    jsonw_str(wp, "test", dp_proto_name(t->proto));
    jsonw_str(wp, "target", target);
    jsonw_str(wp, "server_id", res->server_id);
    jsonw_i64(wp, "start_realtime_ns", res->start_real_ns);
    jsonw_u64(wp, "pkt_size", t->len);
    if (t->proto == TEST_TCP || t->proto == TEST_UDP) {
        jsonw_str(wp, "direction", s_direction(t));
        jsonw_double(wp, "throughput_kbps", s.throughput_bps / 1e3);
        jsonw_double(wp, "duration_s", s.duration_s);
        jsonw_u64(wp, "bytes", s.receiver->rx_bytes);
        jsonw_double(wp, "omit_s", (double)t->omit_ns / 1e9);
    }
    if (t->proto == TEST_TCP) {
        const tcpinfo_t *ti = &s.sender->tcp;
        jsonw_u64(wp, "streams", t->streams);
        jsonw_u64(wp, "retrans", ti->total_retrans);
        jsonw_u64(wp, "rtt_us", ti->rtt_us);
        jsonw_double(wp, "rtt_ms", (double)ti->rtt_us / 1e3);
        jsonw_u64(wp, "min_rtt_us", ti->min_rtt_us);
        jsonw_u64(wp, "sent_bytes", s.sender->tx_bytes);
        if (t->rate_bps)
            jsonw_double(wp, "rate_cap_kbps", (double)t->rate_bps / 1e3);
        s_json_tcpinfo(wp, "tcp_info", ti);
    } else if (t->proto == TEST_UDP) {
        const report_t *rx = s.receiver;
        jsonw_double(wp, "loss_rate", s.loss_pct);
        jsonw_u64(wp, "tx_packets", s.tx_packets);
        jsonw_u64(wp, "rx_packets", s.rx_packets);
        jsonw_u64(wp, "lost", s.lost);
        jsonw_u64(wp, "lost_network", s.lost_network);
        jsonw_u64(wp, "lost_socket", s.lost_socket);
        if (rx->socket_drops >= 0)
            jsonw_i64(wp, "socket_drops", rx->socket_drops);
        else
            jsonw_null(wp, "socket_drops");
        jsonw_u64(wp, "duplicates", rx->rx_duplicates);
        jsonw_u64(wp, "reordered", rx->rx_reordered);
        jsonw_u64(wp, "tx_errors", s.sender->tx_errors);
        jsonw_double(wp, "jitter_us", rx->jitter_ns / 1e3);
        jsonw_double(wp, "offered_kbps", s.offered_bps / 1e3);
        jsonw_double(wp, "rate_kbps", (double)t->rate_bps / 1e3);
        jsonw_str(wp, "timestamp_source", tstamp_source_name((tstamp_source_t)rx->stamp_source));
        jsonw_str(wp, "owd_clock", t->clock_known ? "synchronized" : "relative");
        output_json_hist(wp, "owd_ns", rx->owd);
    } else {
        const report_t *c = &res->local;
        output_json_hist(wp, "latency_ns", s.latency);
        jsonw_str(wp, "timestamp_source", tstamp_source_name(s.latency_source));
        jsonw_str(wp, "latency_kind", s.latency_source >= TSTAMP_SOURCE_KERNEL ? "path" : "app");
        jsonw_str(wp, "transport", t->proto == TEST_RR_TCP ? "tcp" : "udp");
        jsonw_str(wp, "mode", t->rr_mode == RR_MODE_ISOCHRONOUS ? "isochronous" : "pingpong");
        jsonw_u64(wp, "tx_packets", c->rr_sent);
        jsonw_u64(wp, "rx_packets", c->rr_received);
        jsonw_u64(wp, "lost", c->rr_sent - c->rr_received);
        jsonw_u64(wp, "late", c->rr_late);
        /* Replies (or requests) dropped at a receiving socket on either end: the hosts', not the path's. */
        uint64_t lost = c->rr_sent - c->rr_received;
        int64_t drops =
            (c->socket_drops > 0 ? c->socket_drops : 0) + (res->remote.socket_drops > 0 ? res->remote.socket_drops : 0);
        uint64_t lost_socket = (uint64_t)drops < lost ? (uint64_t)drops : lost;
        jsonw_u64(wp, "lost_socket", lost_socket);
        jsonw_u64(wp, "lost_network", lost - lost_socket);
        /* The reflector's clock minus ours (NTP on the data path, minimum-RTT exchange). */
        if (c->clock_bound_ns >= 0) {
            jsonw_i64(wp, "clock_offset_ns", c->clock_offset_ns);
            jsonw_i64(wp, "clock_bound_ns", c->clock_bound_ns);
            jsonw_u64(wp, "clock_samples", c->clock_samples);
        }
        if (t->rr_mode == RR_MODE_ISOCHRONOUS)
            jsonw_double(wp, "schedule_behind_max_us", (double)c->rr_behind_max_ns / 1e3);
        jsonw_u64(wp, "stamps_missing", c->stamps_missing);
        output_json_hist(wp, "rtt_user_ns", c->rtt_user);
        output_json_hist(wp, "rtt_kernel_ns", c->rtt_kernel);
        output_json_hist(wp, "rtt_path_ns", c->rtt_path);
        output_json_hist(wp, "server_turnaround_ns", res->remote.turn_kernel);
        output_json_hist(wp, "server_turnaround_user_ns", res->remote.turn_user);
        jsonw_double(wp, "rtt_avg_ms", s.latency ? hist_mean(s.latency) / 1e6 : 0);
    }
    jsonw_object(wp, "cpu");
    s_json_cpu(wp, "client", &res->local.cpu);
    s_json_cpu(wp, "server", &res->remote.cpu);
    jsonw_end(wp);
    if (t->proto == TEST_TCP || t->proto == TEST_UDP) {
        bool client_sends = !t->reverse;
        s_json_intervals(wp, "intervals", client_sends ? res->remote_iv : res->local_iv,
                         client_sends ? res->n_remote_iv : res->n_local_iv, false);
        s_json_intervals(wp, "sender_intervals", client_sends ? res->local_iv : res->remote_iv,
                         client_sends ? res->n_local_iv : res->n_remote_iv, t->proto == TEST_TCP);
    }
    if (search) {
        jsonw_object(wp, "search");
        jsonw_str(wp, "mode", search_mode);
        jsonw_bool(wp, "converged", search->converged);
        jsonw_bool(wp, "sender_limited", search->sender_limited);
        jsonw_i64(wp, "chosen_trial", search->best);
        jsonw_array(wp, "trials");
        for (unsigned i = 0; i < search->ntrials; i++) {
            const ratesearch_trial_t *tr = &search->trials[i];
            jsonw_object(wp, NULL);
            jsonw_double(wp, "rate_kbps", (double)tr->rate_bps / 1e3);
            jsonw_double(wp, "offered_kbps", tr->tx_bps / 1e3);
            jsonw_double(wp, "throughput_kbps", tr->rx_bps / 1e3);
            jsonw_double(wp, "loss_rate", tr->loss_pct);
            jsonw_bool(wp, "pass", tr->pass);
            jsonw_bool(wp, "sender_limited", tr->sender_limited);
            jsonw_double(wp, "sender_busy", tr->tx_busy);
            jsonw_double(wp, "sender_backlog", tr->tx_backlog);
            jsonw_end(wp);
        }
        jsonw_end(wp);
        jsonw_end(wp);
    }
}

static void s_json_test(FILE *f, const output_ctx_t *ctx, const dp_result_t *res, const ratesearch_result_t *search)
{
    jsonw_t w;
    jsonw_init(&w, f, true);
    jsonw_object(&w, NULL);
    output_json_test_members(&w, ctx->target_str, res, search, ctx->opts->search);
    jsonw_end(&w);
}

static void s_line_hist(FILE *f, const char *what, const hist_t *h)
{
    if (!h || !hist_count(h)) {
        fprintf(f, "  %-22s none\n", what);
        return;
    }
    fprintf(f, "  %-22s min %.1f  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f us  (%llu)\n", what,
            (double)hist_min(h) / 1e3, (double)hist_percentile(h, 50) / 1e3, (double)hist_percentile(h, 90) / 1e3,
            (double)hist_percentile(h, 99) / 1e3, (double)hist_percentile(h, 99.9) / 1e3, (double)hist_max(h) / 1e3,
            (unsigned long long)hist_count(h));
}

static void s_human_test(FILE *f, const output_ctx_t *ctx, const dp_result_t *res, const ratesearch_result_t *search)
{
    const test_spec_t *t = &res->spec;
    result_summary_t s;
    result_summarize(res, &s);
    if (search) {
        fprintf(f, "rate search (%s), %u trials%s:\n", ctx->opts->search, search->ntrials,
                search->sender_limited ? ", limited by this sending host: the path carried all it sent"
                : search->converged    ? ""
                                       : ", did not converge");
        for (unsigned i = 0; i < search->ntrials; i++) {
            const ratesearch_trial_t *tr = &search->trials[i];
            char req[32];
            if (tr->rate_bps)
                snprintf(req, sizeof req, "%9.2f", s_mbps((double)tr->rate_bps));
            else
                snprintf(req, sizeof req, "%9s", "unpaced");
            fprintf(f, "  %2u  request %s  sent %9.2f  received %9.2f Mbit/s  loss %6.3f %%%s%s%s\n", i + 1, req,
                    s_mbps(tr->tx_bps), s_mbps(tr->rx_bps), tr->loss_pct, tr->pass ? "  pass" : "",
                    tr->sender_limited ? "  (sender-limited)" : "", (int)i == search->best ? "  <- reported" : "");
        }
    }
    fprintf(f, "%s %s%s, %u-byte %s, server %s\n", dp_proto_name(t->proto), ctx->target_str,
            t->reverse ? " (reverse: server sends)" : "", t->len,
            t->proto == TEST_TCP   ? "writes"
            : t->proto == TEST_UDP ? "datagrams"
                                   : "messages",
            res->server_id);
    if (t->proto == TEST_TCP) {
        fprintf(f, "  goodput %.2f Mbit/s over %.2f s (%llu bytes received, %u stream%s)\n", s_mbps(s.throughput_bps),
                s.duration_s, (unsigned long long)s.receiver->rx_bytes, t->streams, t->streams > 1 ? "s" : "");
        const tcpinfo_t *ti = &s.sender->tcp;
        fprintf(f, "  retransmits %llu, srtt %.3f ms (min %.3f ms), cwnd %u\n", (unsigned long long)ti->total_retrans,
                ti->rtt_us / 1e3, ti->min_rtt_us / 1e3, ti->snd_cwnd);
    } else if (t->proto == TEST_UDP) {
        fprintf(f, "  received %.2f Mbit/s over %.2f s (offered %.2f Mbit/s)\n", s_mbps(s.throughput_bps), s.duration_s,
                s_mbps(s.offered_bps));
        fprintf(f, "  sent %llu, received %llu, lost %llu (%.4f %%): network %llu, receiving socket %llu\n",
                (unsigned long long)s.tx_packets, (unsigned long long)s.rx_packets, (unsigned long long)s.lost,
                s.loss_pct, (unsigned long long)s.lost_network, (unsigned long long)s.lost_socket);
        fprintf(f, "  duplicates %llu, reordered %llu, jitter %.1f us\n", (unsigned long long)s.receiver->rx_duplicates,
                (unsigned long long)s.receiver->rx_reordered, s.receiver->jitter_ns / 1e3);
    } else {
        const report_t *c = &res->local;
        fprintf(f, "  %llu requests, %llu replies, %llu lost, timestamps %s\n", (unsigned long long)c->rr_sent,
                (unsigned long long)c->rr_received, (unsigned long long)(c->rr_sent - c->rr_received),
                tstamp_source_name(s.latency_source));
        s_line_hist(f, "path rtt (kernel)", c->rtt_path);
        s_line_hist(f, "rtt kernel stamps", c->rtt_kernel);
        s_line_hist(f, "rtt user space", c->rtt_user);
        s_line_hist(f, "server turnaround", res->remote.turn_kernel);
    }
    fprintf(f, "  cpu: client %.0f %% (process %.2f s), server %.0f %% (process %.2f s)\n", res->local.cpu.total_pct,
            res->local.cpu.proc_cpu_s, res->remote.cpu.total_pct, res->remote.cpu.proc_cpu_s);
}

void output_test(FILE *f, const output_ctx_t *ctx, const dp_result_t *res, const ratesearch_result_t *search)
{
    if (ctx->opts->json)
        s_json_test(f, ctx, res, search);
    else
        s_human_test(f, ctx, res, search);
}

void output_icmp(FILE *f, const output_ctx_t *ctx, const icmp_params_t *p, const icmp_result_t *r)
{
    double loss = r->tx_packets ? 100.0 * (double)r->lost / (double)r->tx_packets : 0.0;
    if (!ctx->opts->json) {
        fprintf(f, "icmp %s, %u-byte payload, %s socket\n", ctx->target_str, p->payload_len,
                icmp_socket_kind_name(r->socket_kind));
        fprintf(f, "  sent %llu, received %llu, lost %llu (%.1f %%), duplicates %llu, errors %llu, timestamps %s\n",
                (unsigned long long)r->tx_packets, (unsigned long long)r->rx_packets, (unsigned long long)r->lost, loss,
                (unsigned long long)r->duplicates, (unsigned long long)r->errors,
                tstamp_source_name(r->timestamp_source));
        s_line_hist(f, "rtt", r->rtt);
        s_line_hist(f, "rtt user space", r->rtt_user);
        return;
    }
    jsonw_t w;
    jsonw_init(&w, f, true);
    jsonw_object(&w, NULL);
    output_json_icmp_members(&w, ctx->target_str, p, r);
    jsonw_end(&w);
}

void output_json_icmp_members(jsonw_t *wp, const char *target, const icmp_params_t *p, const icmp_result_t *r)
{
    double loss = r->tx_packets ? 100.0 * (double)r->lost / (double)r->tx_packets : 0.0;
    jsonw_str(wp, "protocol", "ICMP");
    jsonw_str(wp, "target", target);
    jsonw_u64(wp, "pkt_size", p->payload_len);
    jsonw_str(wp, "socket", icmp_socket_kind_name(r->socket_kind));
    output_json_hist(wp, "latency_ns", r->rtt);
    jsonw_str(wp, "timestamp_source", tstamp_source_name(r->timestamp_source));
    jsonw_u64(wp, "tx_packets", r->tx_packets);
    jsonw_u64(wp, "rx_packets", r->rx_packets);
    jsonw_u64(wp, "lost", r->lost);
    jsonw_double(wp, "loss_rate", loss);
    jsonw_u64(wp, "duplicates", r->duplicates);
    jsonw_u64(wp, "errors", r->errors);
    jsonw_u64(wp, "stamps_missing", r->stamps_missing);
    output_json_hist(wp, "rtt_user_ns", r->rtt_user);
    if (r->rtt && hist_count(r->rtt)) {
        jsonw_double(wp, "rtt_min_ms", (double)hist_min(r->rtt) / 1e6);
        jsonw_double(wp, "rtt_avg_ms", hist_mean(r->rtt) / 1e6);
        jsonw_double(wp, "rtt_max_ms", (double)hist_max(r->rtt) / 1e6);
        jsonw_double(wp, "rtt_stddev", hist_stddev(r->rtt) / 1e6);
    }
}

void output_interval(FILE *f, const output_ctx_t *ctx, const interval_t *iv, bool remote)
{
    const cli_opts_t *o = ctx->opts;
    bool client_sends = !o->reverse;
    /* Show the receiving end's periods: they are the goodput. */
    if (o->json || remote != client_sends)
        return;
    double span = (double)(iv->end_ns - iv->start_ns);
    fprintf(f, "  [%6.2f-%6.2f s] %10.2f Mbit/s", (double)iv->start_ns / 1e9, (double)iv->end_ns / 1e9,
            span > 0 ? (double)iv->bytes * 8e3 / span : 0.0);
    if (iv->packets)
        fprintf(f, "  %llu pkts", (unsigned long long)iv->packets);
    if (iv->lost)
        fprintf(f, "  %llu missing", (unsigned long long)iv->lost);
    fputc('\n', f);
    fflush(f);
}

void output_error(FILE *out, FILE *err, const output_ctx_t *ctx, const char *why)
{
    if (ctx->opts->json) {
        jsonw_t w;
        jsonw_init(&w, out, true);
        jsonw_object(&w, NULL);
        jsonw_str(&w, "target", ctx->target_str);
        jsonw_str(&w, "error", why);
        jsonw_end(&w);
    }
    fprintf(err, "vmtp-node %s: %s\n", cli_cmd_name(ctx->opts->cmd), why);
}
