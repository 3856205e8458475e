/* pacer.c — absolute-deadline pacing; see pacer.h. */
#include "pacer.h"

#include "vmtp/clock.h"

pacer_t pacer_init(int64_t t0_ns, uint32_t bytes_per_pkt, uint64_t rate_bps)
{
    pacer_t p = {.t0_ns = t0_ns, .bits_per_pkt = (uint64_t)bytes_per_pkt * 8, .rate_bps = rate_bps, .sent = 0};
    return p;
}

int64_t pacer_deadline(const pacer_t *p, uint64_t k)
{
    if (!p->rate_bps)
        return p->t0_ns;
    unsigned __int128 ns = (unsigned __int128)k * p->bits_per_pkt * (uint64_t)VMTP_NS_PER_S / p->rate_bps;
    return p->t0_ns + (int64_t)ns;
}

uint64_t pacer_due(const pacer_t *p, int64_t now_ns, uint64_t max)
{
    if (!p->rate_bps)
        return max;
    if (now_ns < p->t0_ns)
        return 0;
    /* Packet k is due once now >= pacer_deadline(k) = t0 + floor(k * bits * 1e9 / rate), i.e.
     * k * bits * 1e9 < (now - t0 + 1) * rate: the due packets are 0..K with
     * K = floor(((now - t0 + 1) * rate - 1) / (bits * 1e9)). */
    unsigned __int128 num = (unsigned __int128)((uint64_t)(now_ns - p->t0_ns) + 1) * p->rate_bps - 1;
    unsigned __int128 k = num / ((unsigned __int128)p->bits_per_pkt * (uint64_t)VMTP_NS_PER_S);
    uint64_t total = (uint64_t)k + 1;
    if (total <= p->sent)
        return 0;
    uint64_t due = total - p->sent;
    return due < max ? due : max;
}

void pacer_advance(pacer_t *p, uint64_t n) { p->sent += n; }

int64_t pacer_next(const pacer_t *p) { return pacer_deadline(p, p->sent); }
