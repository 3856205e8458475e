/* udpstats.c — loss / reorder / duplicate / jitter accounting; see udpstats.h. */
#include "udpstats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_WORDS (UDPSTATS_WINDOW / 64)

int udpstats_init(udpstats_t *s, int64_t owd_offset_ns)
{
    memset(s, 0, sizeof *s);
    s->owd_offset_ns = owd_offset_ns;
    s->kernel.owd = hist_new();
    s->user.owd = hist_new();
    s->bitmap = calloc(S_WORDS, sizeof *s->bitmap);
    if (!s->kernel.owd || !s->user.owd || !s->bitmap) {
        udpstats_fini(s);
        return -ENOMEM;
    }
    return 0;
}

void udpstats_fini(udpstats_t *s)
{
    hist_destroy(&s->kernel.owd);
    hist_destroy(&s->user.owd);
    free(s->bitmap);
    s->bitmap = NULL;
}

static bool s_test_and_set(udpstats_t *s, uint64_t seq)
{
    uint64_t bit = seq % UDPSTATS_WINDOW;
    uint64_t mask = 1ULL << (bit % 64);
    bool was = (s->bitmap[bit / 64] & mask) != 0;
    s->bitmap[bit / 64] |= mask;
    return was;
}

/* Forgets window slots (from, to] as the highest sequence number advances. */
static void s_clear_range(udpstats_t *s, uint64_t from, uint64_t to)
{
    if (to - from >= UDPSTATS_WINDOW) {
        memset(s->bitmap, 0, S_WORDS * sizeof *s->bitmap);
        return;
    }
    for (uint64_t q = from + 1; q <= to;) {
        uint64_t bit = q % UDPSTATS_WINDOW;
        if (bit % 64 == 0 && to - q >= 63) {
            s->bitmap[bit / 64] = 0;
            q += 64;
        } else {
            s->bitmap[bit / 64] &= ~(1ULL << (bit % 64));
            q++;
        }
    }
}

static void s_time(udpstats_timing_t *t, int64_t tx_real_ns, int64_t rx_ns, uint32_t bytes, int64_t offset)
{
    if (!t->count)
        t->first_rx_ns = rx_ns;
    t->count++;
    t->bytes += bytes;
    t->last_rx_ns = rx_ns;
    int64_t transit = rx_ns - tx_real_ns;
    if (t->have_prev) {
        int64_t d = transit - t->prev_transit;
        if (d < 0)
            d = -d;
        t->jitter_ns += ((double)d - t->jitter_ns) / 16.0;
    }
    t->prev_transit = transit;
    t->have_prev = true;
    hist_record(t->owd, transit + offset);
}

void udpstats_add(udpstats_t *s, uint64_t seq, int64_t tx_real_ns, int64_t rx_kernel_ns, int64_t rx_user_ns,
                  uint32_t bytes)
{
    s->received++;
    bool unique;
    if (!s->unique) {
        s_test_and_set(s, seq);
        s->max_seq = seq;
        unique = true;
    } else if (seq > s->max_seq) {
        s_clear_range(s, s->max_seq, seq);
        s_test_and_set(s, seq);
        s->max_seq = seq;
        unique = true;
    } else if (s->max_seq - seq >= UDPSTATS_WINDOW) {
        s->too_old++;
        s->reordered++;
        unique = true;
    } else if (s_test_and_set(s, seq)) {
        s->duplicates++;
        unique = false;
    } else {
        s->reordered++;
        unique = true;
    }
    if (!unique)
        return;
    if (!s->unique || seq < s->min_seq)
        s->min_seq = seq;
    s->unique++;
    s->bytes += bytes;
    if (rx_kernel_ns)
        s_time(&s->kernel, tx_real_ns, rx_kernel_ns, bytes, s->owd_offset_ns);
    s_time(&s->user, tx_real_ns, rx_user_ns, bytes, s->owd_offset_ns);
}

const udpstats_timing_t *udpstats_timing(const udpstats_t *s, tstamp_source_t *source)
{
    bool kernel = s->unique && (double)s->kernel.count >= UDPSTATS_KERNEL_SHARE * (double)s->unique;
    if (source)
        *source = kernel ? TSTAMP_SOURCE_KERNEL : TSTAMP_SOURCE_USER;
    return kernel ? &s->kernel : &s->user;
}

uint64_t udpstats_lost(const udpstats_t *s, uint64_t sent) { return sent > s->unique ? sent - s->unique : 0; }

uint64_t udpstats_missing(const udpstats_t *s)
{
    if (!s->unique)
        return 0;
    uint64_t span = s->max_seq - s->min_seq + 1;
    return span > s->unique ? span - s->unique : 0;
}
