/* ivclock.c — progress periods; see ivclock.h. */
#include "ivclock.h"

#include <string.h>

void ivclock_start(ivclock_t *c, int64_t base_ns, int64_t period_ns)
{
    memset(c, 0, sizeof *c);
    c->base_ns = base_ns;
    c->period_ns = period_ns;
    c->next_ns = period_ns > 0 ? base_ns + period_ns : 0;
}

int64_t ivclock_next(const ivclock_t *c) { return c->base_ns ? c->next_ns : 0; }

static void s_fill(ivclock_t *c, int64_t end_rel, uint64_t bytes, uint64_t pkts, uint64_t lost, interval_t *iv)
{
    memset(iv, 0, sizeof *iv);
    iv->start_ns = c->prev_end;
    iv->end_ns = end_rel;
    iv->bytes = bytes - c->bytes0;
    iv->packets = pkts - c->pkts0;
    iv->lost = lost > c->lost0 ? lost - c->lost0 : 0;
    c->prev_end = end_rel;
    c->bytes0 = bytes;
    c->pkts0 = pkts;
    if (lost > c->lost0)
        c->lost0 = lost;
}

bool ivclock_tick(ivclock_t *c, int64_t now_ns, uint64_t bytes, uint64_t pkts, uint64_t lost, interval_t *iv)
{
    if (!c->base_ns || !c->next_ns || now_ns < c->next_ns)
        return false;
    s_fill(c, c->next_ns - c->base_ns, bytes, pkts, lost, iv);
    c->next_ns += c->period_ns;
    return true;
}

bool ivclock_final(ivclock_t *c, int64_t end_ns, uint64_t bytes, uint64_t pkts, uint64_t lost, interval_t *iv)
{
    if (!c->base_ns || !c->period_ns)
        return false;
    int64_t end_rel = end_ns - c->base_ns;
    if (bytes == c->bytes0 || end_rel - c->prev_end <= c->period_ns / 10)
        return false;
    s_fill(c, end_rel, bytes, pkts, lost, iv);
    return true;
}
