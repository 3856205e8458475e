/* tcpflow.h — TCP bulk throughput: the sending and the receiving end.
 *
 * One thread per stream moves the bytes; the calling thread samples progress every interval
 * (bytes and, on the sender, TCP_INFO) and calls flow->on_interval. Receiver goodput is
 * measured over a window that opens at the first byte (plus the warm-up omission) and closes
 * at the last byte, so it counts what the path delivered, not what the sender hoped to send.
 */
#ifndef VMTP_TCPFLOW_H
#define VMTP_TCPFLOW_H

#include "flow.h"

/* Sends spec->len-byte writes on every fd until the duration elapsed or *stop, then shuts the
 * write side down. Fills the sender fields of *out (tx_*, tcp) and the intervals' tcp fields.
 * spec->rate_bps > 0 caps each stream at rate/streams with SO_MAX_PACING_RATE.
 * Returns 0, or -errno of the first stream that failed (partial figures are still filled). */
int tcpflow_send(const flow_t *flow, report_t *out);

/* Receives on every fd until each reached EOF, or *stop, or nothing arrived for
 * FLOW_IDLE_LIMIT_NS. Fills the receiver fields of *out (rx_*). Returns 0 or -errno. */
int tcpflow_recv(const flow_t *flow, report_t *out);

#endif
