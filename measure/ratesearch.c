/* ratesearch.c — VMTP and RFC 2544 rate searches; see ratesearch.h. */
#include "ratesearch.h"

#include <errno.h>
#include <string.h>

static int s_trial(ratesearch_result_t *res, ratesearch_trial_fn fn, void *arg, uint64_t rate, ratesearch_trial_t **out)
{
    ratesearch_trial_t *t = &res->trials[res->ntrials];
    memset(t, 0, sizeof *t);
    t->rate_bps = rate;
    int rc = fn(res->ntrials, rate, t, arg);
    if (rc < 0)
        return rc;
    res->ntrials++;
    *out = t;
    return 0;
}

static bool s_rfc_pass(const ratesearch_cfg_t *cfg, const ratesearch_trial_t *t)
{
    return t->loss_pct <= cfg->loss_threshold && t->tx_bps > 0 && t->rx_bps >= RATESEARCH_KEEP_PACE * t->tx_bps;
}

/* The sending host, not the path, held the trial back: no backpressure from the path, and the
 * sender busy (or we cannot tell). */
static bool s_host_bound(const ratesearch_trial_t *t)
{
    if (t->tx_backlog >= RATESEARCH_BACKLOG)
        return false;
    return t->tx_busy < 0 || t->tx_busy >= RATESEARCH_BUSY;
}

/* The rate a trial is judged at: its request, or what the sender managed when that was less
 * (flagging the trial when the sending host was the reason). */
static double s_offered(ratesearch_trial_t *t)
{
    if (t->rate_bps && t->tx_bps < RATESEARCH_SENDER_OK * (double)t->rate_bps) {
        t->sender_limited = s_host_bound(t);
        return t->tx_bps;
    }
    return (double)t->rate_bps;
}

static int s_rfc2544(const ratesearch_cfg_t *cfg, ratesearch_trial_fn fn, void *arg, ratesearch_result_t *res,
                     uint64_t ceiling, unsigned budget)
{
    double pass_rate = 0, fail_rate = (double)ceiling * 1.0001;
    uint64_t rate = ceiling;
    double step = 0.95;
    int rc = 0;
    while (res->ntrials < budget) {
        ratesearch_trial_t *t;
        if ((rc = s_trial(res, fn, arg, rate, &t)) < 0)
            return rc;
        t->pass = s_rfc_pass(cfg, t);
        double offered = s_offered(t);
        if (t->pass) {
            if (offered > pass_rate) {
                pass_rate = offered;
                res->best = (int)res->ntrials - 1;
            }
        } else if (offered < fail_rate) {
            fail_rate = offered;
        }
        if (pass_rate > 0 && (fail_rate - pass_rate) / fail_rate < cfg->resolution) {
            res->converged = true;
            break;
        }
        if (t->pass && offered < (double)rate * RATESEARCH_SENDER_OK) {
            /* Higher requests would only meet the same limit: the host's (sender_limited) or the
             * path's own backpressure (then this is the path's rate). */
            res->sender_limited = t->sender_limited;
            res->converged = !t->sender_limited;
            break;
        }
        if (t->pass && rate == ceiling && ceiling > 0) {
            res->converged = true; /* the path carries all we may offer */
            break;
        }
        if (pass_rate > 0) {
            rate = (uint64_t)((pass_rate + fail_rate) / 2);
        } else {
            /* No pass yet: step down from the lowest failure, faster each time. */
            double next = fail_rate * step;
            if (t->rx_bps > 0 && t->rx_bps < next)
                next = t->rx_bps * 0.99;
            rate = (uint64_t)next;
            step *= step;
        }
        if (rate < 1000)
            break;
    }
    return 0;
}

static int s_vmtp(const ratesearch_cfg_t *cfg, ratesearch_trial_fn fn, void *arg, ratesearch_result_t *res,
                  uint64_t ceiling, uint64_t first, unsigned budget)
{
    /* VMTP works in kbit/s; so do we, to keep its rules' arithmetic. */
    double min_k = 1, max_k = (double)ceiling / 1000.0, k = (double)first / 1000.0;
    int rc = 0;
    while (min_k * 100.0 / max_k < 95.0 && res->ntrials < budget) {
        ratesearch_trial_t *t;
        if ((rc = s_trial(res, fn, arg, (uint64_t)(k * 1000.0), &t)) < 0)
            return rc;
        res->best = (int)res->ntrials - 1;
        double measured_k = t->rx_bps / 1000.0;
        if (measured_k * 100.0 / k < 80.0) {
            /* The receiver got far less than requested: ask for half-way, or 3x what came. */
            double next = measured_k + (k - measured_k) / 2;
            if (measured_k > 0 && measured_k * 3 < next)
                next = measured_k * 3;
            k = next;
            max_k = k;
            continue;
        }
        if (t->loss_pct < cfg->loss_min) {
            min_k = measured_k > min_k ? measured_k : (max_k + min_k) / 2;
            k = (max_k + min_k) / 2;
        } else if (t->loss_pct > cfg->loss_max) {
            max_k = k;
            k = measured_k < k ? measured_k : (max_k + min_k) / 2;
        } else {
            t->pass = true;
            res->converged = true;
            break;
        }
        if (k < 1)
            break;
    }
    return 0;
}

int ratesearch_run(const ratesearch_cfg_t *cfg, ratesearch_trial_fn fn, void *arg, ratesearch_result_t *res)
{
    memset(res, 0, sizeof *res);
    res->best = -1;
    unsigned budget = cfg->max_trials < RATESEARCH_MAX_TRIALS ? cfg->max_trials : RATESEARCH_MAX_TRIALS;
    if (!budget)
        return -EINVAL;
    uint64_t ceiling = cfg->rate_max, first = cfg->rate_max;
    if (!ceiling) {
        ratesearch_trial_t *probe;
        int rc = s_trial(res, fn, arg, 0, &probe);
        if (rc < 0)
            return rc;
        if (probe->rx_bps <= 0)
            return 0; /* nothing arrives: nothing to search */
        /* The path carried R0 under overload; it cannot carry much more than that. */
        first = (uint64_t)probe->rx_bps;
        ceiling = (uint64_t)(probe->rx_bps * 1.1);
        if (cfg->mode == RATESEARCH_RFC2544 && s_rfc_pass(cfg, probe)) {
            /* The path took everything the sender could produce: its capacity is at least that. */
            probe->pass = true;
            probe->sender_limited = res->sender_limited = s_host_bound(probe);
            res->converged = !probe->sender_limited; /* held back by the path: that is its rate */
            res->best = 0;
            return 0;
        }
        if (cfg->mode == RATESEARCH_VMTP && probe->loss_pct >= cfg->loss_min && probe->loss_pct <= cfg->loss_max) {
            probe->pass = true;
            res->best = 0;
            res->converged = true;
            return 0;
        }
    }
    if (cfg->mode == RATESEARCH_RFC2544)
        return s_rfc2544(cfg, fn, arg, res, cfg->rate_max ? ceiling : first, budget);
    int rc = s_vmtp(cfg, fn, arg, res, ceiling, first, budget);
    /* VMTP's search ends where it ends; say so when that was the sender's limit, not loss. */
    if (rc == 0 && res->best >= 0) {
        ratesearch_trial_t *b = &res->trials[res->best];
        s_offered(b);
        bool probe_only = res->best == 0 && b->rate_bps == 0;
        if (b->loss_pct < cfg->loss_min && (b->sender_limited || (probe_only && s_host_bound(b))))
            res->sender_limited = b->sender_limited = true;
    }
    return rc;
}
