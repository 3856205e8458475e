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
    s->owd = hist_new();
    s->bitmap = calloc(S_WORDS, sizeof *s->bitmap);
    if (!s->owd || !s->bitmap) {
        udpstats_fini(s);
        return -ENOMEM;
    }
    return 0;
}

void udpstats_fini(udpstats_t *s)
{
    hist_destroy(&s->owd);
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

void udpstats_add(udpstats_t *s, uint64_t seq, int64_t tx_real_ns, int64_t rx_real_ns, uint32_t bytes)
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
    if (!s->unique)
        s->first_rx_real_ns = rx_real_ns;
    s->unique++;
    s->bytes += bytes;
    s->last_rx_real_ns = rx_real_ns;
    int64_t transit = rx_real_ns - tx_real_ns;
    if (s->have_prev) {
        int64_t d = transit - s->prev_transit;
        if (d < 0)
            d = -d;
        s->jitter_ns += ((double)d - s->jitter_ns) / 16.0;
    }
    s->prev_transit = transit;
    s->have_prev = true;
    hist_record(s->owd, transit + s->owd_offset_ns);
}

uint64_t udpstats_lost(const udpstats_t *s, uint64_t sent) { return sent > s->unique ? sent - s->unique : 0; }

uint64_t udpstats_missing(const udpstats_t *s)
{
    if (!s->unique)
        return 0;
    uint64_t span = s->max_seq - s->min_seq + 1;
    return span > s->unique ? span - s->unique : 0;
}
