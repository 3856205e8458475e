/* flow.h — what every engine loop is given: its sockets, its schedule, a stop flag and a place
 * to report progress. One flow_t drives one end of one test (tcpflow, udpflow, rr).
 */
#ifndef VMTP_FLOW_H
#define VMTP_FLOW_H

#include "report.h"
#include "vmtp/clock.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Called from the engine's calling thread once per progress period. */
typedef void (*flow_interval_fn)(const interval_t *iv, void *arg);

typedef struct {
    const int *fds;          /* connected data sockets (not owned); TCP: one per stream */
    unsigned nfds;           /* number of fds */
    const test_spec_t *spec; /* the test (not owned); spec->start_real_ns schedules the start */
    const atomic_bool *stop; /* becomes true to abort (not owned, never NULL) */
    /* Receiver of a UDP test: set once the sender's DONE arrived, with its datagram count, so
     * the receiver can stop as soon as everything arrived (or after a silence). */
    const atomic_bool *peer_done;            /* may be NULL when no control channel exists */
    const _Atomic uint64_t *peer_tx_packets; /* valid once *peer_done */
    flow_interval_fn on_interval;            /* may be NULL */
    void *cb_arg;                            /* passed to on_interval */
} flow_t;

/* When the data phase starts, on CLOCK_MONOTONIC: the spec's absolute CLOCK_REALTIME start, or
 * now if that has passed (or none was set), so that a late start never makes a paced sender
 * burst to catch up. Call it once, when the engine begins. */
static inline int64_t flow_start_mono(const flow_t *f)
{
    int64_t now = clock_mono_ns();
    int64_t ahead = f->spec->start_real_ns ? f->spec->start_real_ns - clock_real_ns() : 0;
    return ahead > 0 ? now + ahead : now;
}

/* Sleeps until deadline_mono_ns in slices of at most 50 ms. Returns false (early) when *stop. */
static inline bool flow_sleep_until(const flow_t *f, int64_t deadline_mono_ns)
{
    for (;;) {
        if (atomic_load(f->stop))
            return false;
        int64_t now = clock_mono_ns();
        if (now >= deadline_mono_ns)
            return true;
        int64_t step = 50 * VMTP_NS_PER_MS;
        clock_sleep_until_mono(deadline_mono_ns - now > step ? now + step : deadline_mono_ns);
    }
}

/* Linger bound after the sender finished: a receiver stops once nothing arrived for this long. */
#define FLOW_DRAIN_SILENCE_NS (250 * 1000 * 1000LL)
/* A receiver gives up on a sender that sends nothing at all for this long after the start. */
#define FLOW_IDLE_LIMIT_NS (30 * 1000 * 1000 * 1000LL)

#endif
