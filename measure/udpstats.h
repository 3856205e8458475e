/* udpstats.h — receiver-side accounting of a sequenced datagram stream (pure, no sockets).
 *
 * Each datagram carries a sequence number and the sender's CLOCK_REALTIME send time.
 * Definitions (docs/ACCURACY.md):
 *  - unique: distinct sequence numbers received; duplicates are copies of one already seen;
 *  - reordered: a datagram whose sequence number is below the highest one received before it
 *    (RFC 4737 "reordered" singleton); reordered datagrams are still received, not lost;
 *  - lost: sent - unique, once the sender's total is known (udpstats_lost);
 *  - jitter: RFC 3550 interarrival jitter, J += (|D| - J) / 16 over consecutive arrivals,
 *    D = (R_j - R_i) - (S_j - S_i);
 *  - one-way delay: R - S (+ a known clock offset). Without synchronized clocks its absolute
 *    value is meaningless but its variation (value - minimum) is exact to the stamps.
 * Arrival times come from two sources kept apart, never mixed in one figure: the kernel's RX
 * stamp (when the datagram has one) and user space (after recvmmsg returned). udpstats_timing()
 * picks the kernel's when at least UDPSTATS_KERNEL_SHARE of the unique datagrams had a stamp.
 * Duplicates are detected within a window of UDPSTATS_WINDOW sequence numbers below the
 * highest seen; older arrivals are counted as `too_old` and assumed unique.
 */
#ifndef VMTP_UDPSTATS_H
#define VMTP_UDPSTATS_H

#include "tstamp.h"
#include "vmtp/hist.h"

#include <stdbool.h>
#include <stdint.h>

#define UDPSTATS_WINDOW (1u << 20)
#define UDPSTATS_KERNEL_SHARE 0.9

/* The time figures of the datagrams one clock source stamped. */
typedef struct {
    uint64_t count;       /* unique datagrams timed by this source */
    uint64_t bytes;       /* their payload bytes */
    int64_t first_rx_ns;  /* first of their arrivals */
    int64_t last_rx_ns;   /* last of their arrivals */
    double jitter_ns;     /* RFC 3550 jitter over them */
    int64_t prev_transit; /* R - S of the previous one (for jitter) */
    bool have_prev;       /* prev_transit is valid */
    hist_t *owd;          /* one-way delay of each, ns (owned) */
} udpstats_timing_t;

typedef struct {
    uint64_t received;        /* datagrams accepted (including duplicates) */
    uint64_t unique;          /* distinct sequence numbers */
    uint64_t bytes;           /* payload bytes of unique datagrams */
    uint64_t duplicates;      /* copies of an already received sequence number */
    uint64_t reordered;       /* arrived after a higher sequence number */
    uint64_t too_old;         /* more than UDPSTATS_WINDOW below the highest: duplicate status unknown */
    uint64_t min_seq;         /* lowest sequence number seen (valid when unique > 0) */
    uint64_t max_seq;         /* highest sequence number seen (valid when unique > 0) */
    int64_t owd_offset_ns;    /* added to R - S before it is recorded (a known clock offset, else 0) */
    udpstats_timing_t kernel; /* timed by kernel RX stamps */
    udpstats_timing_t user;   /* timed in user space */
    uint64_t *bitmap;         /* UDPSTATS_WINDOW bits: seq % WINDOW received (owned) */
} udpstats_t;

/* Allocates the window and histograms. Returns 0 or -ENOMEM (then *s needs no fini). */
int udpstats_init(udpstats_t *s, int64_t owd_offset_ns);
/* Frees what udpstats_init allocated; idempotent. */
void udpstats_fini(udpstats_t *s);

/* Accounts one datagram: seq, sender stamp, kernel arrival stamp (0 = none), user-space arrival
 * time (same clock), payload bytes. */
void udpstats_add(udpstats_t *s, uint64_t seq, int64_t tx_real_ns, int64_t rx_kernel_ns, int64_t rx_user_ns,
                  uint32_t bytes);

/* The timing to report: the kernel's when it stamped at least UDPSTATS_KERNEL_SHARE of the
 * unique datagrams, else user space's. *source says which. */
const udpstats_timing_t *udpstats_timing(const udpstats_t *s, tstamp_source_t *source);

/* Datagrams lost given that the sender sent `sent` (0 when unique >= sent). */
uint64_t udpstats_lost(const udpstats_t *s, uint64_t sent);

/* Datagrams missing so far from the sequence space seen (max_seq - min_seq + 1 - unique), for
 * progress reports while the sender's total is not yet known. */
uint64_t udpstats_missing(const udpstats_t *s);

#endif
