/* udpstats.h — receiver-side accounting of a sequenced datagram stream (pure, no sockets).
 *
 * Each datagram carries a sequence number from 0 and the sender's CLOCK_REALTIME send time.
 * Definitions (docs/ACCURACY.md):
 *  - unique: distinct sequence numbers received; duplicates are copies of one already seen;
 *  - reordered: a datagram whose sequence number is below the highest one received before it
 *    (RFC 4737 "reordered" singleton); reordered datagrams are still received, not lost;
 *  - lost: sent - unique, once the sender's total is known (udpstats_lost);
 *  - jitter: RFC 3550 interarrival jitter, J += (|D| - J) / 16 over consecutive arrivals,
 *    D = (R_j - R_i) - (S_j - S_i), using the kernel RX stamp when there is one;
 *  - one-way delay: R - S (+ a known clock offset). Without synchronized clocks its absolute
 *    value is meaningless but its variation (value - minimum) is exact to the stamps.
 * Duplicates are detected within a window of UDPSTATS_WINDOW sequence numbers below the
 * highest seen; older arrivals are counted as `too_old` and assumed unique.
 */
#ifndef VMTP_UDPSTATS_H
#define VMTP_UDPSTATS_H

#include "vmtp/hist.h"

#include <stdbool.h>
#include <stdint.h>

#define UDPSTATS_WINDOW (1u << 20)

typedef struct {
    uint64_t received;        /* datagrams accepted (including duplicates) */
    uint64_t unique;          /* distinct sequence numbers */
    uint64_t bytes;           /* payload bytes of unique datagrams */
    uint64_t duplicates;      /* copies of an already received sequence number */
    uint64_t reordered;       /* arrived after a higher sequence number */
    uint64_t too_old;         /* more than UDPSTATS_WINDOW below the highest: duplicate status unknown */
    uint64_t min_seq;         /* lowest sequence number seen (valid when unique > 0) */
    uint64_t max_seq;         /* highest sequence number seen (valid when unique > 0) */
    double jitter_ns;         /* RFC 3550 jitter estimate */
    int64_t first_rx_real_ns; /* arrival time of the first datagram */
    int64_t last_rx_real_ns;  /* arrival time of the last unique datagram */
    int64_t owd_offset_ns;    /* added to R - S before it is recorded (a known clock offset, else 0) */
    hist_t *owd;              /* one-way delay per unique datagram, ns (owned) */
    uint64_t *bitmap;         /* UDPSTATS_WINDOW bits: seq % WINDOW received (owned) */
    int64_t prev_transit;     /* R - S of the previous arrival (for jitter) */
    bool have_prev;           /* prev_transit is valid */
} udpstats_t;

/* Allocates the window and histogram. Returns 0 or -ENOMEM (then *s needs no fini). */
int udpstats_init(udpstats_t *s, int64_t owd_offset_ns);
/* Frees what udpstats_init allocated; idempotent. */
void udpstats_fini(udpstats_t *s);

/* Accounts one datagram: seq, sender stamp, arrival stamp (same clock), payload bytes. */
void udpstats_add(udpstats_t *s, uint64_t seq, int64_t tx_real_ns, int64_t rx_real_ns, uint32_t bytes);

/* Datagrams lost given that the sender sent `sent` (0 when unique >= sent). */
uint64_t udpstats_lost(const udpstats_t *s, uint64_t sent);

/* Datagrams missing so far from the sequence space seen (max_seq - min_seq + 1 - unique), for progress
 * reports while the sender's total is not yet known. */
uint64_t udpstats_missing(const udpstats_t *s);

#endif
