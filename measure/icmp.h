/* icmp.h — ICMP / ICMPv6 echo engine: isochronous pings with kernel timestamps.
 *
 * icmp_run() sends `count` echo requests on a fixed schedule — absolute CLOCK_MONOTONIC
 * deadlines start + i * interval, so a slow reply never delays or biases a later send — and
 * gives each request `timeout` to be answered. It opens an unprivileged ping socket first
 * (SOCK_DGRAM + IPPROTO_ICMP / IPPROTO_ICMPV6, allowed when net.ipv4.ping_group_range holds our
 * gid; the kernel then sets the echo id to the socket's port) and falls back to a raw socket
 * (CAP_NET_RAW; a random echo id, replies filtered by it).
 *
 * Each request's payload starts with its 32-bit sequence number and a per-run cookie (as many
 * of those 8 bytes as payload_len holds), then a fixed byte pattern; a reply must echo it
 * unchanged and with the same length.
 *
 * RTT is measured twice per reply and the two are never mixed in one histogram:
 *   user:   CLOCK_MONOTONIC before sendto() to right after recvmsg();
 *   kernel: software RX stamp of the reply - software TX stamp of the request (SO_TIMESTAMPING,
 *           TX stamps from the error queue keyed by OPT_ID), accepted only when
 *           send time <= TX stamp < RX stamp.
 * The rule for `rtt` and `timestamp_source` (ICMP_KERNEL_MIN_PCT):
 *   - at least 90 % of the replies have an accepted kernel RTT: rtt gets the kernel RTTs only,
 *     timestamp_source = TSTAMP_SOURCE_KERNEL, hist_count(rtt) == rx_packets - stamps_missing;
 *   - fewer: rtt gets the user RTT of every reply, timestamp_source = TSTAMP_SOURCE_USER,
 *     hist_count(rtt) == rx_packets;
 *   - no reply at all: rtt gets nothing, timestamp_source = TSTAMP_SOURCE_NONE.
 * rtt_user, when given, always gets the user RTT of every reply.
 * The 10 % slack is for RX stamping switching on late: the kernel turns it on for the machine in
 * a work item after the first socket asks, so a run started cold misses the first RX stamp(s).
 *
 * Library code: prints and logs nothing; every failure is a -errno return.
 */
#ifndef VMTP_ICMP_H
#define VMTP_ICMP_H

#include "sockutil.h"
#include "tstamp.h"
#include "vmtp/hist.h"

#include <stdatomic.h>
#include <stdint.h>

/* Largest payload: 65535 - 20 (IPv4 header) - 8 (ICMP header). */
#define ICMP_PAYLOAD_MAX 65507u
/* Longest interval and timeout accepted (one hour). */
#define ICMP_TIME_MAX_NS (3600LL * 1000000000LL)
/* Share of replies (percent) that must carry both kernel stamps for rtt to be kernel RTTs. */
#define ICMP_KERNEL_MIN_PCT 90
/* Most requests in flight at once (below 2^16, so a 16-bit wire sequence is unambiguous);
 * when timeout / interval needs more, the oldest request is counted lost to make room. */
#define ICMP_WINDOW_MAX 32768u

/* Kinds of socket icmp_run() can use. */
#define ICMP_SOCKET_PING 1 /* SOCK_DGRAM + IPPROTO_ICMP(V6): unprivileged, kernel owns the echo id */
#define ICMP_SOCKET_RAW 2  /* SOCK_RAW: needs CAP_NET_RAW */

/* What to ping and how. */
typedef struct {
    sockaddr_any_t target;   /* IPv4 or IPv6 address to ping; its port is ignored */
    uint32_t payload_len;    /* ICMP data bytes after the 8-byte ICMP header, like ping -s; 0..ICMP_PAYLOAD_MAX */
    uint32_t count;          /* echo requests to send, >= 1 */
    int64_t interval_ns;     /* fixed send interval, 1..ICMP_TIME_MAX_NS (schedule, not reply-driven) */
    int64_t timeout_ns;      /* a request with no reply this long after its send is lost; 1..ICMP_TIME_MAX_NS */
    const char *bind_device; /* interface for SO_BINDTODEVICE, NULL = none; not owned */
} icmp_params_t;

/* What a run measured. tx_packets == rx_packets + lost always holds. */
typedef struct {
    uint64_t tx_packets;              /* requests the kernel accepted and whose outcome is known */
    uint64_t rx_packets;              /* requests answered by a valid reply within timeout */
    uint64_t lost;                    /* requests without a valid reply within timeout (late replies ignored) */
    uint64_t duplicates;              /* further replies to an answered request, while the run lasts (it ends
                                         as soon as every request is settled) */
    uint64_t errors;                  /* ICMP errors about our requests (unreachable, time exceeded, ...;
                                         the request still counts as lost at its timeout), failed sends
                                         (not in tx_packets) and replies with a changed payload (lost too) */
    hist_t *rtt;                      /* in: RTT per reply in ns by the rule above, added to (not reset);
                                         not owned, must not be NULL */
    hist_t *rtt_user;                 /* in: user-space RTT of every reply in ns, added to; not owned, may be NULL */
    tstamp_source_t timestamp_source; /* what rtt holds: KERNEL, USER, or NONE when no reply came */
    uint64_t stamps_missing;          /* replies without an accepted kernel RTT (both stamps, plausible) */
    int socket_kind;                  /* ICMP_SOCKET_PING or ICMP_SOCKET_RAW */
} icmp_result_t;

/* Pings p->target as described above and fills *out. Before the call the caller sets out->rtt
 * (and optionally out->rtt_user) to histograms it owns; every other field is written by the
 * call. When *stop (may be NULL; checked at least every 100 ms) becomes true, no further
 * request is sent and the requests still waiting for a reply are left out of every count;
 * the call still returns 0 with what was measured so far.
 * Returns 0; -EINVAL for bad parameters; -EAFNOSUPPORT for a target that is neither IPv4 nor
 * IPv6; -EPERM when neither a ping socket nor a raw socket can be opened; -ENOMEM; -EMSGSIZE
 * when the kernel refuses the request size; other -errno of socket calls. On failure *out
 * and the histograms are untouched. */
int icmp_run(const icmp_params_t *p, const atomic_bool *stop, icmp_result_t *out);

/* "ping", "raw" or "none" for any other value. Static string. */
const char *icmp_socket_kind_name(int kind);

#endif
