/* test_udpstats.c — measure/udpstats.h on synthetic sequences with known loss, reordering,
 * duplication and transit times; jitter against an independent RFC 3550 computation, and a
 * randomized run against a reference model of the header's definitions.
 */
#include "check.h"

#include "udpstats.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LEN 1000u          /* payload bytes of every datagram */
#define PERIOD_NS 100000LL /* sender spacing */
#define T0_NS 1700000000000000000LL

static int64_t s_tx(uint64_t seq) { return T0_NS + (int64_t)seq * PERIOD_NS; }

/* Arrival of seq after a fixed 50 us transit. */
static void s_add(udpstats_t *s, uint64_t seq) { udpstats_add(s, seq, s_tx(seq), s_tx(seq) + 50000, s_tx(seq) + 50000, LEN); }

static bool s_init(udpstats_t *s, int64_t offset)
{
    int rc = udpstats_init(s, offset);
    CHECK(rc == 0, "udpstats_init: %d", rc);
    return rc == 0;
}

static void test_in_order(void)
{
    udpstats_t s;
    if (!s_init(&s, 0))
        return;
    for (uint64_t q = 0; q < 10000; q++)
        s_add(&s, q);
    CHECK_EQ_U64(s.received, 10000, "in order: received");
    CHECK_EQ_U64(s.unique, 10000, "in order: unique");
    CHECK_EQ_U64(s.bytes, 10000ULL * LEN, "in order: bytes");
    CHECK_EQ_U64(s.duplicates, 0, "in order: duplicates");
    CHECK_EQ_U64(s.reordered, 0, "in order: reordered");
    CHECK_EQ_U64(s.too_old, 0, "in order: too_old");
    CHECK_EQ_U64(s.min_seq, 0, "in order: min_seq");
    CHECK_EQ_U64(s.max_seq, 9999, "in order: max_seq");
    CHECK_EQ_U64(udpstats_lost(&s, 10000), 0, "in order: lost");
    CHECK_EQ_U64(udpstats_missing(&s), 0, "in order: missing");
    CHECK_EQ_I64(s.kernel.first_rx_ns, s_tx(0) + 50000, "in order: first_rx");
    CHECK_EQ_I64(s.kernel.last_rx_ns, s_tx(9999) + 50000, "in order: last_rx");
    CHECK(s.kernel.jitter_ns == 0.0, "constant transit gives jitter 0, got %g", s.kernel.jitter_ns);
    udpstats_fini(&s);
    udpstats_fini(&s); /* idempotent */
}

static void test_every_tenth_lost(void)
{
    udpstats_t s;
    if (!s_init(&s, 0))
        return;
    for (uint64_t q = 0; q < 10000; q++)
        if (q % 10 != 5)
            s_add(&s, q);
    CHECK_EQ_U64(s.unique, 9000, "every 10th lost: unique");
    CHECK_EQ_U64(udpstats_lost(&s, 10000), 1000, "every 10th lost: lost");
    CHECK_EQ_U64(udpstats_missing(&s), 1000, "every 10th lost: missing");
    CHECK_EQ_U64(s.reordered, 0, "every 10th lost: reordered");
    CHECK_EQ_U64(s.duplicates, 0, "every 10th lost: duplicates");
    CHECK_EQ_U64(udpstats_lost(&s, 9000), 0, "sender count equal to unique");
    CHECK_EQ_U64(udpstats_lost(&s, 5), 0, "sender count below unique");
    CHECK_EQ_U64(udpstats_lost(&s, 12000), 3000, "the tail lost too");
    udpstats_fini(&s);
}

static void test_reordered_pairs(void)
{
    udpstats_t s;
    if (!s_init(&s, 0))
        return;
    for (uint64_t q = 0; q < 10000; q += 2) {
        s_add(&s, q + 1);
        s_add(&s, q);
    }
    CHECK_EQ_U64(s.unique, 10000, "swapped pairs: unique");
    CHECK_EQ_U64(s.reordered, 5000, "swapped pairs: reordered");
    CHECK_EQ_U64(s.duplicates, 0, "swapped pairs: duplicates");
    CHECK_EQ_U64(udpstats_lost(&s, 10000), 0, "swapped pairs: lost");
    CHECK_EQ_U64(udpstats_missing(&s), 0, "swapped pairs: missing");
    CHECK_EQ_U64(s.min_seq, 0, "swapped pairs: min_seq");
    CHECK_EQ_U64(s.max_seq, 9999, "swapped pairs: max_seq");
    udpstats_fini(&s);

    /* A late datagram far back but inside the window is reordered, not lost. */
    if (!s_init(&s, 0))
        return;
    for (uint64_t q = 0; q < 2000; q++)
        if (q != 17)
            s_add(&s, q);
    CHECK_EQ_U64(udpstats_missing(&s), 1, "one late: missing before it arrives");
    s_add(&s, 17);
    CHECK_EQ_U64(udpstats_missing(&s), 0, "one late: missing after it arrives");
    CHECK_EQ_U64(s.reordered, 1, "one late: reordered");
    CHECK_EQ_U64(udpstats_lost(&s, 2000), 0, "one late: lost");
    udpstats_fini(&s);
}

static void test_duplicates(void)
{
    udpstats_t s;
    if (!s_init(&s, 0))
        return;
    uint64_t dups = 0;
    for (uint64_t q = 0; q < 10000; q++) {
        s_add(&s, q);
        if (q % 5 == 0) { /* a copy right away */
            s_add(&s, q);
            dups++;
        }
        if (q >= 100 && q % 7 == 0) { /* a copy of one 100 back */
            s_add(&s, q - 100);
            dups++;
        }
    }
    CHECK_EQ_U64(s.received, 10000 + dups, "duplicates: received");
    CHECK_EQ_U64(s.unique, 10000, "duplicates: unique");
    CHECK_EQ_U64(s.duplicates, dups, "duplicates: duplicates");
    CHECK_EQ_U64(s.bytes, 10000ULL * LEN, "duplicates: bytes count unique datagrams only");
    CHECK_EQ_U64(s.reordered, 0, "duplicates: a copy is not reordered");
    CHECK_EQ_U64(udpstats_lost(&s, 10000), 0, "duplicates: lost");
    CHECK_EQ_U64(hist_count(s.kernel.owd), 10000, "duplicates: owd counts unique datagrams only");
    udpstats_fini(&s);
}

static void test_too_old(void)
{
    udpstats_t s;
    if (!s_init(&s, 0))
        return;
    for (uint64_t q = 0; q < 100; q++)
        if (q != 3)
            s_add(&s, q);
    const uint64_t top = UDPSTATS_WINDOW + 1000;
    s_add(&s, top); /* a jump beyond the window */
    s_add(&s, 10);  /* received before, now far behind: duplicate status unknown */
    s_add(&s, 3);   /* never received, far behind */
    CHECK_EQ_U64(s.too_old, 2, "far behind: too_old");
    CHECK_EQ_U64(s.duplicates, 0, "far behind: not counted as duplicates");
    CHECK_EQ_U64(s.unique, 99 + 1 + 2, "far behind: assumed unique");
    CHECK_EQ_U64(s.reordered, 2, "far behind: reordered");
    /* Inside the window behind the jump: new, then a copy. */
    s_add(&s, top - 500);
    CHECK_EQ_U64(s.duplicates, 0, "new seq inside the window after a jump is not a duplicate");
    CHECK_EQ_U64(s.reordered, 3, "new seq inside the window after a jump is reordered");
    s_add(&s, top - 500);
    CHECK_EQ_U64(s.duplicates, 1, "its copy is a duplicate");
    /* Slot 10 of the window held seq 10 before the jump: seq WINDOW + 10 is new, not a copy. */
    s_add(&s, UDPSTATS_WINDOW + 10);
    CHECK_EQ_U64(s.duplicates, 1, "a recycled window slot is not a duplicate");
    /* WINDOW - 1 below the highest is still inside the window. */
    s_add(&s, top - (UDPSTATS_WINDOW - 1));
    CHECK_EQ_U64(s.too_old, 2, "seq WINDOW-1 below the highest is inside the window");
    s_add(&s, top - (UDPSTATS_WINDOW - 1));
    CHECK_EQ_U64(s.duplicates, 2, "a copy WINDOW-1 below the highest is a duplicate");
    udpstats_fini(&s);
}

static void test_warmup_start(void)
{
    udpstats_t s;
    if (!s_init(&s, 0))
        return;
    for (uint64_t q = 1000; q < 6000; q++)
        s_add(&s, q);
    CHECK_EQ_U64(s.min_seq, 1000, "start at 1000: min_seq");
    CHECK_EQ_U64(udpstats_missing(&s), 0, "start at 1000: missing when complete");
    CHECK_EQ_U64(udpstats_lost(&s, 5000), 0, "start at 1000: lost");
    udpstats_fini(&s);

    if (!s_init(&s, 0))
        return;
    for (uint64_t q = 1000; q < 6000; q++)
        if (q != 1001 && q != 4444)
            s_add(&s, q);
    CHECK_EQ_U64(udpstats_missing(&s), 2, "start at 1000, two lost: missing");
    CHECK_EQ_U64(udpstats_lost(&s, 5000), 2, "start at 1000, two lost: lost");
    udpstats_fini(&s);

    udpstats_t e;
    if (!s_init(&e, 0))
        return;
    CHECK_EQ_U64(udpstats_missing(&e), 0, "empty: missing");
    CHECK_EQ_U64(udpstats_lost(&e, 7), 7, "empty: lost");
    udpstats_fini(&e);
}

/* RFC 3550 jitter and one-way delays on random transit times, against a reference here. */
static void test_jitter_owd(void)
{
    const int64_t offset = -123456789;
    udpstats_t s;
    if (!s_init(&s, offset))
        return;
    uint64_t rng = 0x6a6974746572ULL;
    double j = 0;
    int64_t prev = 0, omin = INT64_MAX, omax = INT64_MIN;
    __int128 osum = 0;
    const uint64_t n = 20000;
    for (uint64_t q = 0; q < n; q++) {
        int64_t transit = 30000 + (int64_t)check_rand_below(&rng, 2000000); /* 30 us .. 2 ms */
        int64_t tx = s_tx(q), rx = tx + transit;
        udpstats_add(&s, q, tx, rx, rx, LEN);
        if (q) {
            int64_t d = transit - prev;
            j += (fabs((double)d) - j) / 16.0;
        }
        prev = transit;
        int64_t owd = rx - tx + offset;
        omin = owd < omin ? owd : omin;
        omax = owd > omax ? owd : omax;
        osum += owd;
    }
    CHECK(fabs(s.kernel.jitter_ns - j) <= 1e-9 * j, "jitter %.17g, reference %.17g", s.kernel.jitter_ns, j);
    CHECK(j > 100000, "test setup: jitter is substantial (%g)", j);
    CHECK_EQ_U64(hist_count(s.kernel.owd), s.unique, "owd count == unique");
    CHECK_EQ_I64(hist_min(s.kernel.owd), omin, "owd min = min(rx - tx + offset)");
    CHECK_EQ_I64(hist_max(s.kernel.owd), omax, "owd max = max(rx - tx + offset)");
    double mean = (double)osum / (double)n;
    CHECK(fabs(hist_mean(s.kernel.owd) - mean) <= 1e-9 * fabs(mean), "owd mean %.17g, expected %.17g", hist_mean(s.kernel.owd), mean);
    udpstats_fini(&s);

    /* Sender and receiver clocks apart by a large offset: only the variation matters to jitter. */
    if (!s_init(&s, 0))
        return;
    udpstats_add(&s, 0, 1000, 1000 - 5000000000LL, 1000 - 5000000000LL, LEN);
    udpstats_add(&s, 1, 2000, 2000 - 5000000000LL + 1600, 2000 - 5000000000LL + 1600, LEN);
    CHECK(fabs(s.kernel.jitter_ns - 100.0) < 1e-9, "one step of 1600 ns gives jitter 100, got %g", s.kernel.jitter_ns);
    CHECK_EQ_I64(hist_min(s.kernel.owd), -5000000000LL, "negative owd recorded");
    udpstats_fini(&s);
}

/* Random forward gaps, late arrivals (some beyond the window) and copies, against the header's
 * definitions applied to a full record of every sequence number. */
static void test_random_model(void)
{
    const uint64_t space = 3u * UDPSTATS_WINDOW;
    uint8_t *seen = calloc(space, 1);
    udpstats_t s;
    if (!seen || !s_init(&s, 0)) {
        free(seen);
        return;
    }
    uint64_t rng = 0x6d6f64656cULL;
    uint64_t max = 0, unique = 0, dups = 0, reord = 0, old = 0, received = 0;
    bool any = false;
    uint64_t next = 0;
    while (next < space - 300 && check_keep_going()) {
        uint64_t r = check_rand_below(&rng, 1000), seq;
        if (r < 900 || !any) {
            seq = next;
            next += 1 + (r < 5 ? check_rand_below(&rng, 20000) : r < 40 ? check_rand_below(&rng, 200) : 0);
        } else if (r < 960) {
            seq = max - check_rand_below(&rng, max < 64 ? max + 1 : 64); /* recent: copy or late */
        } else if (r < 990) {
            uint64_t back = check_rand_below(&rng, UDPSTATS_WINDOW);
            seq = back <= max ? max - back : 0;
        } else {
            uint64_t back = UDPSTATS_WINDOW + 1 + check_rand_below(&rng, UDPSTATS_WINDOW / 4);
            if (back > max)
                continue;
            seq = max - back;
        }
        if (any && seq < max && max - seq == UDPSTATS_WINDOW)
            continue; /* the window's exact edge is left to the implementation */
        received++;
        if (!any || seq > max) {
            unique++;
            max = seq;
            seen[seq] = 1;
        } else if (max - seq > UDPSTATS_WINDOW) {
            old++;
            reord++;
            unique++;
            seen[seq] = 1;
        } else if (seen[seq]) {
            dups++;
        } else {
            reord++;
            unique++;
            seen[seq] = 1;
        }
        any = true;
        udpstats_add(&s, seq, s_tx(seq), s_tx(seq) + 1000, s_tx(seq) + 1000, LEN);
        if (s.unique != unique || s.duplicates != dups || s.reordered != reord || s.too_old != old) {
            CHECK(0,
                  "after seq %" PRIu64 " (highest %" PRIu64 "): unique %" PRIu64 "/%" PRIu64 " dup %" PRIu64 "/%" PRIu64
                  " reordered %" PRIu64 "/%" PRIu64 " too_old %" PRIu64 "/%" PRIu64 " (got/expected)",
                  seq, max, s.unique, unique, s.duplicates, dups, s.reordered, reord, s.too_old, old);
            break;
        }
    }
    CHECK_EQ_U64(s.received, received, "random: received");
    CHECK(dups > 1000 && reord > 1000 && old > 50,
          "test setup: exercised (dup %" PRIu64 ", reord %" PRIu64 ", old %" PRIu64 ")", dups, reord, old);
    udpstats_fini(&s);
    free(seen);
}

/* Arrival times from two sources are never mixed: datagrams without a kernel stamp are timed
 * only in user space, and the kernel's timing is reported only when it covers 90 %. */
static void test_sources(void)
{
    udpstats_t s;
    CHECK(udpstats_init(&s, 0) == 0, "init");
    for (uint64_t q = 0; q < 100; q++) /* the first 5 arrive before stamping was on */
        udpstats_add(&s, q, s_tx(q), q < 5 ? 0 : s_tx(q) + 1000, s_tx(q) + 30000 + (int64_t)(q % 7) * 1000, LEN);
    tstamp_source_t src;
    const udpstats_timing_t *t = udpstats_timing(&s, &src);
    CHECK_EQ_U64(s.unique, 100, "sources: unique");
    CHECK_EQ_U64(s.kernel.count, 95, "sources: kernel timed 95");
    CHECK_EQ_U64(s.user.count, 100, "sources: user timed all");
    CHECK(src == TSTAMP_SOURCE_KERNEL && t == &s.kernel, "sources: 95 %% stamped -> kernel timing");
    CHECK_EQ_I64(s.kernel.first_rx_ns, s_tx(5) + 1000, "sources: kernel window opens at the first stamped one");
    CHECK(s.kernel.jitter_ns == 0.0, "sources: kernel jitter from kernel stamps only (constant transit)");
    CHECK_EQ_I64(hist_max(s.kernel.owd), 1000, "sources: no user time in the kernel's delays");
    CHECK(s.user.jitter_ns > 0.0, "sources: user jitter sees the user-space variation");
    udpstats_fini(&s);
    CHECK(udpstats_init(&s, 0) == 0, "init");
    for (uint64_t q = 0; q < 100; q++) /* only 80 % stamped */
        udpstats_add(&s, q, s_tx(q), q % 5 == 0 ? 0 : s_tx(q) + 1000, s_tx(q) + 30000, LEN);
    t = udpstats_timing(&s, &src);
    CHECK(src == TSTAMP_SOURCE_USER && t == &s.user, "sources: 80 %% stamped -> user timing");
    udpstats_fini(&s);
}

int main(void)
{
    test_sources();
    test_in_order();
    test_every_tenth_lost();
    test_reordered_pairs();
    test_duplicates();
    test_too_old();
    test_warmup_start();
    test_jitter_owd();
    test_random_model();
    return check_exit("test_udpstats");
}
