/* ratesearch.h — finding the UDP rate a path carries, by running trials.
 *
 * Two searches, both seeded by one unpaced probe trial (the sender as fast as it can go) whose
 * received rate R0 bounds what the path can carry, unless a maximum rate is given:
 *  - RATESEARCH_RFC2544: the highest offered rate whose trial passes — loss <= threshold AND
 *    the receiver kept pace (received rate >= RATESEARCH_KEEP_PACE of the sent rate; a path
 *    that queues the excess has not carried the offered rate even when it lost nothing yet).
 *    The 0.5 % tolerance absorbs the delay jitter of a trial's last datagram; it lets the
 *    reported *offered* rate exceed a queueing bottleneck by up to 0.5 %, never the received
 *    rate, which is what results report as throughput.
 *    Rates step down from the ceiling until a trial passes, then bisect between the best pass
 *    and the lowest failure until they are within `resolution` of each other.
 *  - RATESEARCH_VMTP: VMTP's search for a rate whose loss falls inside [loss_min, loss_max] %
 *    (cfg udp_loss_rate_range), with its rules: a trial that received < 80 % of the requested
 *    rate moves the request half-way to what was received; too little loss raises the floor,
 *    too much lowers the ceiling; stop when converged or the range is within 5 %.
 * A trial judged at a rate its sender could not reach is judged at the rate it did offer. When
 * the path took everything a busy sender could produce, the search stops there, not converged,
 * flagged sender_limited: the figure is a lower bound of the path, not its capacity. When the
 * sender was held back by the path instead (blocked on its own queue: backpressure), the rate
 * it reached is the path's, and the search has converged on it.
 * The decision logic is pure; trials run through the caller's function.
 */
#ifndef VMTP_RATESEARCH_H
#define VMTP_RATESEARCH_H

#include <stdbool.h>
#include <stdint.h>

#define RATESEARCH_MAX_TRIALS 100
#define RATESEARCH_KEEP_PACE 0.995
/* A paced trial whose sender offered less than this share of the request did not test the
 * request. Why it fell short decides what it means: */
#define RATESEARCH_SENDER_OK 0.98
/* ... when the kernel held at least half the sender's buffer in a queue below it this share of
 * the time or more, the path held the sender back (backpressure from its first hop): the rate
 * reached is the path's. Otherwise, a sending thread that ran (or waited for a CPU) at least
 * RATESEARCH_BUSY of the time was the bottleneck itself (CPU-bound or starved): the trial
 * measured the host, not the path. */
#define RATESEARCH_BACKLOG 0.5
#define RATESEARCH_BUSY 0.9

typedef enum { RATESEARCH_VMTP = 1, RATESEARCH_RFC2544 = 2 } ratesearch_mode_t;

typedef struct {
    ratesearch_mode_t mode; /* which search */
    double loss_min;        /* VMTP: lower end of the loss window, % */
    double loss_max;        /* VMTP: upper end, % */
    double loss_threshold;  /* RFC 2544: highest acceptable loss, % */
    uint64_t rate_max;      /* highest rate to try, bit/s; 0 = seed with an unpaced probe */
    unsigned max_trials;    /* bound on trials, probe included (<= RATESEARCH_MAX_TRIALS) */
    double resolution;      /* RFC 2544: stop when (fail - pass) / fail < this (e.g. 0.01) */
} ratesearch_cfg_t;

/* One trial: the request and what came of it. */
typedef struct {
    uint64_t rate_bps;   /* requested payload rate (0 = unpaced probe) */
    double tx_bps;       /* payload rate the sender achieved */
    double rx_bps;       /* payload rate the receiver got */
    double loss_pct;     /* lost / sent */
    double tx_busy;      /* sender's busy share (report_t.tx_busy; -1 unknown) */
    double tx_backlog;   /* share of the time the path held the sender back (report_t.tx_backlog; -1 unknown) */
    bool pass;           /* met the search's criterion */
    bool sender_limited; /* the sending host was the bottleneck: it offered less than asked (or,
                            unpaced, all it could) without backpressure from the path and while
                            busy >= RATESEARCH_BUSY of the time (or busy unknown), and the path
                            took all of it */
} ratesearch_trial_t;

/* Runs one trial at rate_bps (0 = unpaced) as trial number idx; fills tx_bps, rx_bps and
 * loss_pct of *t. Returns 0 or -errno (which ends the search). */
typedef int (*ratesearch_trial_fn)(unsigned idx, uint64_t rate_bps, ratesearch_trial_t *t, void *arg);

/* Result of a search. */
typedef struct {
    ratesearch_trial_t trials[RATESEARCH_MAX_TRIALS]; /* every trial, in order */
    unsigned ntrials;                                 /* trials run */
    int best;                                         /* index of the reported trial, -1 if none */
    bool converged;      /* the criterion was met (VMTP: loss in the window; RFC 2544: resolution reached) */
    bool sender_limited; /* the sending host, not the path, bounded the result: the reported rate
                            is a lower bound of what the path carries */
} ratesearch_result_t;

/* Runs the search. Returns 0, or the first error of a trial (res keeps the trials so far). */
int ratesearch_run(const ratesearch_cfg_t *cfg, ratesearch_trial_fn fn, void *arg, ratesearch_result_t *res);

#endif
