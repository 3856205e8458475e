/* result.c — headline figures from two reports; see result.h. */
#include "result.h"

#include "rr.h"

#include <string.h>

double result_goodput_bps(const report_t *rx, uint32_t udp_len)
{
    int64_t window = rx->rx_end_real_ns - rx->rx_start_real_ns;
    if (window <= 0)
        return 0.0;
    uint64_t bytes = rx->rx_bytes;
    /* UDP: the first datagram opens the window; its bytes arrived at its start. */
    if (udp_len && bytes >= udp_len)
        bytes -= udp_len;
    return (double)bytes * 8e9 / (double)window;
}

void result_summarize(const dp_result_t *res, result_summary_t *out)
{
    memset(out, 0, sizeof *out);
    const test_spec_t *t = &res->spec;
    if (t->proto == TEST_RR_UDP || t->proto == TEST_RR_TCP) {
        const report_t *c = &res->local;
        bool kernel = c->stamp_source >= TSTAMP_SOURCE_KERNEL && c->rtt_path && hist_count(c->rtt_path);
        out->latency = kernel ? c->rtt_path : c->rtt_user;
        out->latency_source = kernel ? (tstamp_source_t)c->stamp_source : TSTAMP_SOURCE_USER;
        return;
    }
    bool client_sends = !t->reverse;
    out->sender = client_sends ? &res->local : &res->remote;
    out->receiver = client_sends ? &res->remote : &res->local;
    bool udp = t->proto == TEST_UDP;
    out->throughput_bps = result_goodput_bps(out->receiver, udp ? t->len : 0);
    int64_t w = out->receiver->rx_end_real_ns - out->receiver->rx_start_real_ns;
    out->duration_s = w > 0 ? (double)w / 1e9 : 0.0;
    if (!udp)
        return;
    const report_t *s = out->sender;
    int64_t sw = s->tx_end_real_ns - s->tx_start_real_ns;
    /* N datagrams span N - 1 send intervals: the first one marks the start. */
    uint64_t tx_bytes = s->tx_packets ? s->tx_bytes - s->tx_bytes / s->tx_packets : 0;
    out->offered_bps = sw > 0 ? (double)tx_bytes * 8e9 / (double)sw : 0.0;
    out->tx_packets = s->tx_packets;
    out->rx_packets = out->receiver->rx_packets;
    out->lost = out->tx_packets > out->rx_packets ? out->tx_packets - out->rx_packets : 0;
    out->loss_pct = out->tx_packets ? 100.0 * (double)out->lost / (double)out->tx_packets : 0.0;
    int64_t drops = out->receiver->socket_drops;
    out->lost_socket = drops > 0 ? ((uint64_t)drops < out->lost ? (uint64_t)drops : out->lost) : 0;
    out->lost_network = out->lost - out->lost_socket;
}
