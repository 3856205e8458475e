/* result.h — the figures a user reads, derived from the two ends' reports of one test.
 *
 * Derivations live here, once, so that vmtp-node and the coordinator print the same numbers
 * (docs/ACCURACY.md explains each):
 *  - throughput: the receiver's payload bytes over its measurement window (first to last
 *    arrival; the first arrival's bytes are not counted, they mark the window's start);
 *  - UDP loss: datagrams the sender sent (warm-up excluded) minus distinct ones received;
 *    loss at the receiving socket is min(lost, socket drops), the rest is the network's;
 *  - RR latency: rtt_path when at least RR_KERNEL_MIN_SHARE of the replies had all four kernel
 *    stamps (timestamp_source "kernel"), else the user-space rtt (timestamp_source "user").
 */
#ifndef VMTP_RESULT_H
#define VMTP_RESULT_H

#include "dpclient.h"

typedef struct {
    const report_t *sender;         /* TCP/UDP sending end (not owned) */
    const report_t *receiver;       /* TCP/UDP receiving end (not owned) */
    double throughput_bps;          /* receiver goodput of payload, bit/s */
    double duration_s;              /* receiver measurement window */
    double offered_bps;             /* UDP: payload rate the sender achieved over its send time */
    uint64_t tx_packets;            /* UDP: sent, warm-up excluded */
    uint64_t rx_packets;            /* UDP: distinct received */
    uint64_t lost;                  /* UDP: tx_packets - rx_packets (>= 0) */
    double loss_pct;                /* UDP: lost / tx_packets * 100 */
    uint64_t lost_socket;           /* UDP: lost at the receiving socket */
    uint64_t lost_network;          /* UDP: lost before reaching it */
    const hist_t *latency;          /* RR: the headline histogram (not owned), NULL if none */
    tstamp_source_t latency_source; /* RR: source of `latency` */
} result_summary_t;

/* Derives the headline figures of a finished test. */
void result_summarize(const dp_result_t *res, result_summary_t *out);

/* Goodput of a receiver report, bit/s (0 when the window is empty). */
double result_goodput_bps(const report_t *rx, uint32_t udp_len);

#endif
