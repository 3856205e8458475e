/* pacer.h — absolute-deadline pacing schedule for a constant bit rate.
 *
 * Packet k (from 0) is due at t0 + k * bits / rate, computed from k every time (128-bit
 * arithmetic), so rounding never accumulates and a late wake-up is caught up by sending the
 * packets that fell due meanwhile, in one batch, instead of stretching the test. Pure: no
 * clocks are read here, the caller passes "now".
 */
#ifndef VMTP_PACER_H
#define VMTP_PACER_H

#include <stdint.h>

typedef struct {
    int64_t t0_ns;         /* due time of packet 0 (any monotonic clock) */
    uint64_t bits_per_pkt; /* bits of one packet as counted against the rate */
    uint64_t rate_bps;     /* rate in bit/s; 0 = unlimited (every packet is always due) */
    uint64_t sent;         /* packets handed over so far (the caller advances it) */
} pacer_t;

/* A schedule of packets of bytes_per_pkt at rate_bps starting at t0_ns. */
pacer_t pacer_init(int64_t t0_ns, uint32_t bytes_per_pkt, uint64_t rate_bps);

/* Due time of packet k. */
int64_t pacer_deadline(const pacer_t *p, uint64_t k);

/* Packets due at now_ns that have not been sent yet, at most max. */
uint64_t pacer_due(const pacer_t *p, int64_t now_ns, uint64_t max);

/* Records that n more packets were handed to the kernel. */
void pacer_advance(pacer_t *p, uint64_t n);

/* Due time of the next unsent packet. */
int64_t pacer_next(const pacer_t *p);

#endif
