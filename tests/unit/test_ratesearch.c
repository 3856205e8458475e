/* test_ratesearch.c — measure/ratesearch.h driven by a simulated path of known capacity C.
 *
 * The trial function plays the path: an unpaced probe sends 3C and C arrives; a paced trial at
 * rate r sends r, receives min(r, C) and loses max(0, (r - C) / r) of it. In the queueing variant
 * the path absorbs up to 1 % above C without loss yet still delivers only C (the sender's excess
 * is queued, so rx = C < tx). The ground truth is C; the search must find it from outside.
 */
#include "check.h"

#include "ratesearch.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

typedef struct {
    double cap_bps;                                      /* C */
    bool queues;                                         /* the queueing variant */
    unsigned calls;                                      /* trials run */
    unsigned fail_at;                                    /* call number (from 1) that returns -EIO; 0 = never */
    uint64_t requested[RATESEARCH_MAX_TRIALS + 8];       /* rate of each call */
    ratesearch_trial_t given[RATESEARCH_MAX_TRIALS + 8]; /* what each call reported */
    bool bad_idx;                                        /* an idx did not match the call number */
    double sender_max;                                   /* the sending host's own limit (0 = none) */
    double sender_busy;                                  /* the sender's busy share when it hits that limit */
    double sender_backlog;                               /* ... and the share of backpressure it met */
} s_path_t;

static int s_trial(unsigned idx, uint64_t rate, ratesearch_trial_t *t, void *arg)
{
    s_path_t *p = arg;
    if (idx != p->calls)
        p->bad_idx = true;
    if (p->calls < RATESEARCH_MAX_TRIALS + 8)
        p->requested[p->calls] = rate;
    p->calls++;
    if (p->fail_at && p->calls == p->fail_at)
        return -EIO;
    const double c = p->cap_bps;
    if (rate == 0) {
        t->tx_bps = 3 * c;
        t->rx_bps = c;
    } else {
        double r = (double)rate;
        t->tx_bps = r;
        t->rx_bps = r < c ? r : c;
    }
    t->tx_busy = 0.5; /* paced: the sender sleeps between deadlines */
    t->tx_backlog = 0;
    if (p->sender_max > 0 && t->tx_bps > p->sender_max) { /* the host cannot send faster */
        t->tx_bps = p->sender_max;
        t->rx_bps = t->tx_bps < c ? t->tx_bps : c;
        t->tx_busy = p->sender_busy;
        t->tx_backlog = p->sender_backlog;
    }
    double excess = t->tx_bps - t->rx_bps;
    if (p->queues && rate && t->tx_bps <= 1.01 * c)
        excess = 0; /* queued, not lost (yet) */
    t->loss_pct = excess > 0 ? excess / t->tx_bps * 100.0 : 0.0;
    if (p->calls <= RATESEARCH_MAX_TRIALS + 8)
        p->given[p->calls - 1] = *t;
    return 0;
}

static bool s_rfc_criterion(const ratesearch_cfg_t *cfg, const ratesearch_trial_t *t)
{
    return t->loss_pct <= cfg->loss_threshold && t->tx_bps > 0 && t->rx_bps >= RATESEARCH_KEEP_PACE * t->tx_bps;
}

/* Checks what every search must satisfy: trials recorded as run, in order. */
static void s_check_record(const char *what, const s_path_t *p, const ratesearch_result_t *res,
                           const ratesearch_cfg_t *cfg)
{
    CHECK(!p->bad_idx, "%s: idx passed to the trial function is not the trial number", what);
    CHECK(res->ntrials == p->calls, "%s: %u trials recorded, %u run", what, res->ntrials, p->calls);
    CHECK(res->ntrials <= cfg->max_trials, "%s: %u trials, max %u", what, res->ntrials, cfg->max_trials);
    for (unsigned i = 0; i < res->ntrials && i < p->calls; i++) {
        const ratesearch_trial_t *t = &res->trials[i];
        CHECK(t->rate_bps == p->requested[i], "%s: trial %u rate %" PRIu64 ", requested %" PRIu64, what, i, t->rate_bps,
              p->requested[i]);
        CHECK(t->tx_bps == p->given[i].tx_bps && t->rx_bps == p->given[i].rx_bps && t->loss_pct == p->given[i].loss_pct,
              "%s: trial %u figures not kept as measured", what, i);
        if (cfg->rate_max)
            CHECK(t->rate_bps <= cfg->rate_max && t->rate_bps > 0,
                  "%s: trial %u requested %" PRIu64 " (rate_max %" PRIu64 ", no probe when it is given)", what, i,
                  t->rate_bps, cfg->rate_max);
    }
    CHECK(res->best >= -1 && res->best < (int)res->ntrials, "%s: best %d of %u", what, res->best, res->ntrials);
}

static void s_dump(const ratesearch_result_t *res, double cap)
{
    for (unsigned i = 0; i < res->ntrials; i++)
        fprintf(stderr, "    trial %2u: rate %.6f C  tx %.6f C  rx %.6f C  loss %.4f %%  pass %d%s\n", i,
                (double)res->trials[i].rate_bps / cap, res->trials[i].tx_bps / cap, res->trials[i].rx_bps / cap,
                res->trials[i].loss_pct, res->trials[i].pass, (int)i == res->best ? "  <- best" : "");
}

static void test_rfc2544(void)
{
    const double caps[] = {100e6, 1e9};
    const double maxes[] = {0, 2, 10, 0.5}; /* rate_max in units of C (0 = probe) */
    for (size_t ci = 0; ci < 2; ci++)
        for (int queues = 0; queues <= 1; queues++)
            for (size_t mi = 0; mi < sizeof maxes / sizeof maxes[0]; mi++) {
                const double c = caps[ci];
                ratesearch_cfg_t cfg = {.mode = RATESEARCH_RFC2544,
                                        .loss_threshold = 0.1,
                                        .resolution = 0.01,
                                        .max_trials = 16,
                                        .rate_max = (uint64_t)(maxes[mi] * c)};
                s_path_t p = {.cap_bps = c, .queues = queues != 0};
                ratesearch_result_t res;
                char what[96];
                snprintf(what, sizeof what, "RFC 2544, C = %g bit/s%s, rate_max = %g C", c,
                         queues ? ", queueing path" : "", maxes[mi]);
                int rc = ratesearch_run(&cfg, s_trial, &p, &res);
                int before = check_failures;
                CHECK(rc == 0, "%s: rc %d", what, rc);
                s_check_record(what, &p, &res, &cfg);
                for (unsigned i = 0; i < res.ntrials; i++)
                    CHECK(res.trials[i].pass == s_rfc_criterion(&cfg, &res.trials[i]),
                          "%s: trial %u pass flag %d disagrees with the criterion", what, i, res.trials[i].pass);
                CHECK(res.best >= 0, "%s: no best trial", what);
                if (res.best >= 0) {
                    const ratesearch_trial_t *b = &res.trials[res.best];
                    double rate = (double)b->rate_bps;
                    CHECK(b->pass, "%s: the best trial did not pass", what);
                    for (unsigned i = 0; i < res.ntrials; i++)
                        CHECK(!res.trials[i].pass || res.trials[i].rate_bps <= b->rate_bps,
                              "%s: trial %u passed at a higher rate than the best", what, i);
                    if (maxes[mi] >= 1 || maxes[mi] == 0) {
                        CHECK(rate >= 0.97 * c, "%s: best rate %.6f C is below 0.97 C", what, rate / c);
                        /* The documented bound: a queueing path may pass an offered rate up to
                         * 1/KEEP_PACE of its capacity, but what arrived never exceeds it. */
                        CHECK(rate <= c / RATESEARCH_KEEP_PACE, "%s: best rate %.6f C is above C / keep-pace", what,
                              rate / c);
                        CHECK(b->rx_bps <= c, "%s: best trial received %.6f C, above the capacity", what,
                              b->rx_bps / c);
                    } else {
                        CHECK(b->rate_bps == cfg.rate_max, "%s: best %" PRIu64 ", expected rate_max", what,
                              b->rate_bps);
                    }
                }
                CHECK(res.converged, "%s: not converged", what);
                if (check_failures != before)
                    s_dump(&res, c);
            }
}

static void test_vmtp(void)
{
    const double caps[] = {100e6, 1e9};
    for (size_t ci = 0; ci < 2; ci++)
        for (int queues = 0; queues <= 1; queues++) {
            const double c = caps[ci];
            ratesearch_cfg_t cfg = {.mode = RATESEARCH_VMTP, .loss_min = 2, .loss_max = 5, .max_trials = 16};
            s_path_t p = {.cap_bps = c, .queues = queues != 0};
            ratesearch_result_t res;
            char what[96];
            snprintf(what, sizeof what, "VMTP 2..5 %%, C = %g bit/s%s", c, queues ? ", queueing path" : "");
            int before = check_failures;
            int rc = ratesearch_run(&cfg, s_trial, &p, &res);
            CHECK(rc == 0, "%s: rc %d", what, rc);
            s_check_record(what, &p, &res, &cfg);
            CHECK(res.converged, "%s: not converged", what);
            CHECK(res.best >= 0, "%s: no best trial", what);
            if (res.best >= 0) {
                const ratesearch_trial_t *b = &res.trials[res.best];
                CHECK(b->loss_pct >= 2 && b->loss_pct <= 5, "%s: best trial loss %.3f %% outside 2..5 %%", what,
                      b->loss_pct);
                CHECK(b->pass, "%s: the best trial is not marked passed", what);
            }
            if (check_failures != before)
                s_dump(&res, c);

            /* With a maximum: never above it, no probe. */
            for (double m = 0.5; m <= 10; m *= 2) {
                cfg.rate_max = (uint64_t)(m * c);
                s_path_t q = {.cap_bps = c, .queues = queues != 0};
                snprintf(what, sizeof what, "VMTP, C = %g bit/s%s, rate_max = %g C", c, queues ? ", queueing" : "", m);
                rc = ratesearch_run(&cfg, s_trial, &q, &res);
                CHECK(rc == 0, "%s: rc %d", what, rc);
                s_check_record(what, &q, &res, &cfg);
                if (res.converged && res.best >= 0)
                    CHECK(res.trials[res.best].loss_pct >= 2 && res.trials[res.best].loss_pct <= 5,
                          "%s: converged outside the window", what);
            }
        }
}

static void test_errors(void)
{
    const ratesearch_mode_t modes[] = {RATESEARCH_RFC2544, RATESEARCH_VMTP};
    for (size_t mi = 0; mi < 2; mi++)
        for (int with_max = 0; with_max <= 1; with_max++)
            /* Seeded by the probe the search needs 2 trials here; from 10 C it needs more than 4. */
            for (unsigned fail_at = 1; fail_at <= (with_max ? 4u : 2u); fail_at++) {
                ratesearch_cfg_t cfg = {.mode = modes[mi],
                                        .loss_min = 2,
                                        .loss_max = 5,
                                        .loss_threshold = 0.1,
                                        .resolution = 0.01,
                                        .max_trials = 16,
                                        .rate_max = with_max ? 10000000000ULL : 0};
                s_path_t p = {.cap_bps = 1e9, .fail_at = fail_at};
                ratesearch_result_t res;
                int rc = ratesearch_run(&cfg, s_trial, &p, &res);
                CHECK(rc == -EIO, "mode %d, -EIO at trial %u: rc %d", modes[mi], fail_at, rc);
                CHECK(p.calls == fail_at, "mode %d: %u trials run after an error at trial %u", modes[mi], p.calls,
                      fail_at);
                CHECK(res.ntrials == fail_at - 1, "mode %d: %u trials kept, expected the %u before the error",
                      modes[mi], res.ntrials, fail_at - 1);
            }

    ratesearch_cfg_t cfg = {.mode = RATESEARCH_RFC2544, .loss_threshold = 0.1, .resolution = 0.01, .max_trials = 0};
    s_path_t p = {.cap_bps = 1e9};
    ratesearch_result_t res;
    CHECK(ratesearch_run(&cfg, s_trial, &p, &res) == -EINVAL, "max_trials 0 gives -EINVAL");
    CHECK(p.calls == 0, "max_trials 0: %u trials run", p.calls);
    cfg.mode = RATESEARCH_VMTP;
    CHECK(ratesearch_run(&cfg, s_trial, &p, &res) == -EINVAL, "VMTP max_trials 0 gives -EINVAL");

    /* A bound of 1 trial: only the probe runs. */
    cfg.mode = RATESEARCH_RFC2544;
    cfg.max_trials = 1;
    s_path_t one = {.cap_bps = 1e9};
    CHECK(ratesearch_run(&cfg, s_trial, &one, &res) == 0 && one.calls <= 1 && res.ntrials <= 1,
          "max_trials 1: %u trials run", one.calls);
}

/* A sending host slower than the path: the search must not call its own limit the path's.
 * The same shortfall caused by the path holding the sender back (a blocked, idle sender:
 * backpressure from its own queue) is the path's rate, and the search has converged on it. */
static void test_sender_limited(void)
{
    const double c = 1e9;
    for (int busy = 0; busy <= 3; busy++)
        for (int mode = RATESEARCH_VMTP; mode <= RATESEARCH_RFC2544; mode++)
            for (int with_max = 0; with_max <= 1; with_max++) {
                /* 0: CPU-bound sender (busy 1.0); 1: busy share unknown (-1); 2: a sender blocked
                 * by the path (busy 0.3); 3: busy doing the path's own queueing work in its
                 * context (busy 1.0) but held back by a full queue (backlog 0.8) */
                const double shares[] = {1.0, -1.0, 0.3, 1.0};
                s_path_t p = {.cap_bps = c,
                              .sender_max = 0.6 * c,
                              .sender_busy = shares[busy],
                              .sender_backlog = busy == 3 ? 0.8 : 0.0};
                ratesearch_cfg_t cfg = {.mode = (ratesearch_mode_t)mode,
                                        .loss_min = 2,
                                        .loss_max = 5,
                                        .loss_threshold = 0.1,
                                        .max_trials = 16,
                                        .resolution = 0.01,
                                        .rate_max = with_max ? (uint64_t)c : 0};
                ratesearch_result_t res;
                char what[128];
                snprintf(what, sizeof what, "%s, sender stops at 0.6 C with busy share %.1f, %s",
                         mode == RATESEARCH_VMTP ? "VMTP" : "RFC 2544", shares[busy],
                         with_max ? "rate_max = C" : "probe");
                int rc = ratesearch_run(&cfg, s_trial, &p, &res);
                int before = check_failures;
                CHECK(rc == 0, "%s: rc %d", what, rc);
                s_check_record(what, &p, &res, &cfg);
                bool host = busy < 2;
                CHECK(res.sender_limited == host, "%s: sender_limited %d, want %d", what, res.sender_limited, host);
                if (host)
                    CHECK(!res.converged, "%s: claims to have converged on the sender's limit", what);
                else if (mode == RATESEARCH_RFC2544)
                    CHECK(res.converged, "%s: the path's backpressure rate is its capacity: converged", what);
                CHECK(res.best >= 0 && res.trials[res.best].sender_limited == host, "%s: best trial's flag", what);
                if (res.best >= 0)
                    CHECK(fabs(res.trials[res.best].rx_bps - 0.6 * c) < 1e-6 * c, "%s: best received %.4f C", what,
                          res.trials[res.best].rx_bps / c);
                if (check_failures != before)
                    s_dump(&res, c);
            }
}

int main(void)
{
    test_sender_limited();
    test_rfc2544();
    test_vmtp();
    test_errors();
    return check_exit("test_ratesearch");
}
