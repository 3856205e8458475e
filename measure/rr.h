/* rr.h — request/response latency over UDP or TCP: the requester and the reflector.
 *
 * Each request and reply carries the 40-byte RR header (dpwire.h). Both ends stamp in the
 * kernel (SO_TIMESTAMPING software TX on the error queue and RX on the message) and in user
 * space. The reflector measures its own turnaround — kernel RX stamp of a request to kernel TX
 * stamp of its reply — which exists only after the reply left, so it travels in the next reply
 * (two-step, as PTP does); a final FLUSH request fetches the last one. The requester then
 * knows, per request:
 *   rtt_user   user-space send → user-space receive (what sockperf or netperf report);
 *   rtt_kernel its kernel TX stamp → its kernel RX stamp (no scheduling noise of its own);
 *   rtt_path   rtt_kernel minus the reflector's kernel turnaround: the time the request and the
 *              reply spent between the two hosts' stamping points, i.e. the data path.
 * A reply missing any of the four kernel stamps is counted (stamps_missing) and kept out of
 * rtt_kernel/rtt_path, never guessed. Ping-pong sends the next request when the reply is in (or
 * timed out); isochronous sends on a fixed absolute schedule so slow replies cannot thin out
 * the samples they would otherwise bias.
 */
#ifndef VMTP_RR_H
#define VMTP_RR_H

#include "flow.h"

#include <stdbool.h>

/* Runs the requester on flow->fds[0] (connected; tcp selects stream framing) until rr_count
 * requests (or the duration when rr_count is 0), then fetches the last turnaround. Fills rr_*,
 * stamps_missing, stamp_source and the rtt histograms of *out (allocate them first:
 * report_alloc_hists(out, ROLE_RR_CLIENT)). Returns 0 or -errno. */
int rr_client_run(const flow_t *flow, bool tcp, report_t *out);

/* Answers requests on flow->fds[0] until *stop (or EOF for TCP). Fills reflected,
 * turn_kernel/turn_user (allocate: report_alloc_hists(out, ROLE_REFLECTOR)). Returns 0 or -errno. */
int rr_reflect_run(const flow_t *flow, bool tcp, report_t *out);

/* The share of replies that must carry all four kernel stamps for rtt_path to be the headline
 * latency (timestamp_source "kernel"); below it the user-space figures are reported. */
#define RR_KERNEL_MIN_SHARE 0.9

#endif
