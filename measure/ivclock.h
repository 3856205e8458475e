/* ivclock.h — the progress periods of one test end: fixed periods from a base time, each
 * reported as the change of running totals, plus a final partial period so that the periods of
 * a test add up to the whole test. Pure: the caller passes the time and the totals.
 */
#ifndef VMTP_IVCLOCK_H
#define VMTP_IVCLOCK_H

#include "report.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t base_ns;   /* time of period 0's start (0 = not started) */
    int64_t period_ns; /* period length (0 = no periods) */
    int64_t next_ns;   /* end of the current period */
    int64_t prev_end;  /* end of the last reported period, relative to base */
    uint64_t bytes0;   /* totals at the end of the last reported period */
    uint64_t pkts0;
    uint64_t lost0;
} ivclock_t;

/* Starts the periods at base_ns (any monotonic clock); period_ns 0 disables them. */
void ivclock_start(ivclock_t *c, int64_t base_ns, int64_t period_ns);

/* Time the current period ends (0 when no periods run or not started). */
int64_t ivclock_next(const ivclock_t *c);

/* When a period has ended by now_ns, fills *iv with it (the change of the totals since the last
 * one) and returns true; call again until false to catch up. */
bool ivclock_tick(ivclock_t *c, int64_t now_ns, uint64_t bytes, uint64_t pkts, uint64_t lost, interval_t *iv);

/* The last, partial period up to end_ns, if anything moved in it and it lasted more than a
 * tenth of a period. Returns true when *iv was filled. */
bool ivclock_final(ivclock_t *c, int64_t end_ns, uint64_t bytes, uint64_t pkts, uint64_t lost, interval_t *iv);

#endif
