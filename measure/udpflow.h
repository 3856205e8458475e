/* udpflow.h — paced UDP throughput and loss: the sending and the receiving end.
 *
 * The sender paces datagrams on absolute deadlines (pacer.h) and hands them to the kernel in
 * sendmmsg batches; each carries its sequence number and CLOCK_REALTIME send time. The
 * receiver takes recvmmsg batches with kernel RX stamps and SO_RXQ_OVFL, accounts them with
 * udpstats, and reads its socket's drop counter at the end, so that loss splits into
 * "dropped at the receiving socket" and "dropped before it" (the network).
 */
#ifndef VMTP_UDPFLOW_H
#define VMTP_UDPFLOW_H

#include "flow.h"

/* Default receive buffer of a UDP receiver: large enough that a 1 Gbit/s burst of the sender's
 * batching does not overflow it (TESTBED: peers' "loss" at 1 Gbit/s was their socket's). */
#define UDPFLOW_DEFAULT_RCVBUF (8 * 1024 * 1024)

/* Sends spec->len-byte datagrams on flow->fds[0] (connected) at spec->rate_bps for the
 * duration (datagrams of the warm-up are flagged). Fills tx_* of *out. Returns 0 or -errno. */
int udpflow_send(const flow_t *flow, report_t *out);

/* Receives on flow->fds[0] (connected) until the sender's DONE arrived and everything it sent
 * arrived or nothing arrived for FLOW_DRAIN_SILENCE_NS, or *stop. Fills rx_*, jitter, owd,
 * socket_drops of *out (out must have its histograms allocated: report_alloc_hists). */
int udpflow_recv(const flow_t *flow, report_t *out);

#endif
