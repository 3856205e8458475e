/* test_pacer.c — measure/pacer.h: exact integer deadlines and due counts, no drift.
 *
 * Deadlines are checked against an incremental quotient/remainder walk (no 128-bit product) and,
 * for packet 10^9, against the defining inequality d * rate <= k * bits * 1e9 < (d + 1) * rate.
 * Due counts follow from the deadlines: at time t, packets 0..K are due where K is the last
 * packet with pacer_deadline(K) <= t.
 */
#include "check.h"

#include "pacer.h"

#include <stdbool.h>

static const uint64_t s_rates[] = {1000000ULL,     7000000ULL,     10000000ULL,    100000000ULL,   999999937ULL,
                                   1000000000ULL,  2500000000ULL,  3000000000ULL,  10000000000ULL, 25000000000ULL,
                                   40000000000ULL, 99999999989ULL, 100000000000ULL};
static const uint32_t s_sizes[] = {64, 65, 100, 512, 1400, 1470, 1500, 8972, 9000, 32768, 65507};
static const int64_t s_t0s[] = {0, 1234567890123LL};

#define N_RATES (sizeof s_rates / sizeof s_rates[0])
#define N_SIZES (sizeof s_sizes / sizeof s_sizes[0])
#define N_T0S (sizeof s_t0s / sizeof s_t0s[0])
#define WALK 3000

/* deadline(k) - t0 for k = 0..WALK by adding bits*1e9/rate as quotient + remainder. */
static void s_walk(uint64_t bits, uint64_t rate, int64_t *out)
{
    const uint64_t num = bits * 1000000000ULL; /* <= 524056e9: fits */
    const uint64_t q = num / rate, r = num % rate;
    uint64_t acc = 0, rem = 0;
    for (int k = 0; k <= WALK; k++) {
        out[k] = (int64_t)acc;
        acc += q;
        rem += r;
        if (rem >= rate) {
            rem -= rate;
            acc++;
        }
    }
}

static void test_deadlines(void)
{
    static int64_t want[WALK + 1];
    for (size_t ri = 0; ri < N_RATES && check_keep_going(); ri++) {
        for (size_t si = 0; si < N_SIZES; si++) {
            uint64_t rate = s_rates[ri], bits = (uint64_t)s_sizes[si] * 8;
            s_walk(bits, rate, want);
            for (size_t ti = 0; ti < N_T0S; ti++) {
                int64_t t0 = s_t0s[ti];
                pacer_t p = pacer_init(t0, s_sizes[si], rate);
                CHECK_EQ_U64(p.bits_per_pkt, bits, "bits_per_pkt");
                CHECK_EQ_U64(p.sent, 0, "sent starts at 0");
                int bad = 0;
                for (int k = 0; k <= WALK && bad < 3; k++) {
                    int64_t d = pacer_deadline(&p, (uint64_t)k);
                    if (d != t0 + want[k]) {
                        bad++;
                        CHECK(0, "rate %" PRIu64 " size %u: deadline(%d) = %" PRId64 ", expected %" PRId64, rate,
                              s_sizes[si], k, d - t0, want[k]);
                    }
                }
                /* No drift: packet 10^9 is where the exact formula puts it. */
                const uint64_t k = 1000000000ULL;
                int64_t d = pacer_deadline(&p, k) - t0;
                unsigned __int128 kb = (unsigned __int128)k * bits * 1000000000ULL;
                bool exact = d >= 0 && (unsigned __int128)d * rate <= kb && kb < ((unsigned __int128)d + 1) * rate;
                CHECK(exact, "rate %" PRIu64 " size %u: deadline(1e9) = %" PRId64 " is not floor(k*bits*1e9/rate)",
                      rate, s_sizes[si], d);
            }
        }
    }
}

static unsigned s_at_cases, s_at_bad, s_next_bad;

/* pacer_due at chosen times around the deadlines. */
static void test_due(void)
{
    for (size_t ri = 0; ri < N_RATES && check_keep_going(); ri++) {
        for (size_t si = 0; si < N_SIZES; si++) {
            const uint64_t rate = s_rates[ri];
            const uint32_t size = s_sizes[si];
            const int64_t t0 = 1234567890123LL;
            pacer_t p = pacer_init(t0, size, rate);
            CHECK_EQ_U64(pacer_due(&p, t0 - 1, 1000), 0, "before t0");
            CHECK_EQ_U64(pacer_due(&p, t0 - 1000000000LL, 1000), 0, "long before t0");
            CHECK_EQ_U64(pacer_due(&p, t0, 1000), 1, "at t0");
            CHECK_EQ_I64(pacer_next(&p), t0, "next at start");
            const uint64_t ks[] = {1, 2, 3, 7, 100, 1001, 65536, 1000000, 1000000000ULL};
            for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
                uint64_t k = ks[i];
                int64_t d = pacer_deadline(&p, k);
                /* Nothing sent yet: packets 0..k-1 are due just before deadline k, 0..k at it. */
                uint64_t before = pacer_due(&p, d - 1, UINT64_MAX);
                uint64_t at = pacer_due(&p, d, UINT64_MAX);
                uint64_t after = pacer_due(&p, d + 1, UINT64_MAX);
                CHECK(before == k,
                      "rate %" PRIu64 " size %u: due just before deadline(%" PRIu64 ") = %" PRIu64
                      ", expected %" PRIu64,
                      rate, size, k, before, k);
                s_at_cases++;
                if (at != k + 1 && ++s_at_bad <= 5)
                    fprintf(stderr,
                            "  rate %" PRIu64 " size %u: pacer_due(now = deadline(%" PRIu64 ") = t0+%" PRId64
                            ") = %" PRIu64 ", expected %" PRIu64 "\n",
                            rate, size, k, d - t0, at, k + 1);
                CHECK(after == k + 1,
                      "rate %" PRIu64 " size %u: due just after deadline(%" PRIu64 ") = %" PRIu64 ", expected %" PRIu64,
                      rate, size, k, after, k + 1);
                /* With k packets handed over: 0 before, 1 at and after. */
                pacer_t q = p;
                pacer_advance(&q, k);
                CHECK_EQ_U64(q.sent, k, "advance");
                CHECK_EQ_I64(pacer_next(&q), d, "next = deadline(sent)");
                CHECK_EQ_U64(pacer_due(&q, d - 1, 1000), 0, "sent k: just before deadline k");
                CHECK_EQ_U64(pacer_due(&q, d + 1, 1000), 1, "sent k: just after deadline k");
                if (pacer_due(&q, pacer_next(&q), 1000) != 1)
                    s_next_bad++;
                /* Ahead of schedule (sent more than due): nothing. */
                pacer_advance(&q, 5);
                CHECK_EQ_U64(pacer_due(&q, d + 1, 1000), 0, "ahead of schedule");
                /* The cap. */
                CHECK_EQ_U64(pacer_due(&p, d + 1, 1), 1, "max 1");
                CHECK_EQ_U64(pacer_due(&p, d + 1, 0), 0, "max 0");
                if (k >= 100)
                    CHECK_EQ_U64(pacer_due(&p, d + 1, 32), 32, "max 32");
            }
            if (!check_keep_going())
                break;
        }
    }
    CHECK(s_at_bad == 0,
          "%u of %u cases: at now = pacer_deadline(k) exactly, pacer_due does not count packet k as due "
          "(first ones listed above)",
          s_at_bad, s_at_cases);
    CHECK(s_next_bad == 0,
          "%u of %u cases: pacer_due(p, pacer_next(p), max) = 0: the next packet is not due at "
          "its own due time",
          s_next_bad, s_at_cases);
    /* A late wake-up catches up in one batch: 1 Gbit/s, 1250 bytes = 10 us per packet. */
    pacer_t p = pacer_init(0, 1250, 1000000000ULL);
    CHECK_EQ_I64(pacer_deadline(&p, 1), 10000, "1250 B at 1 Gbit/s");
    CHECK_EQ_U64(pacer_due(&p, 1000000, UINT64_MAX), 101, "1 ms late: 101 packets due");
    pacer_advance(&p, 64);
    CHECK_EQ_U64(pacer_due(&p, 1000000, UINT64_MAX), 37, "after 64 sent: 37 due");
    CHECK_EQ_U64(pacer_due(&p, 1000000, 16), 16, "capped at 16");
}

static void test_unlimited(void)
{
    pacer_t p = pacer_init(5000, 1470, 0);
    CHECK_EQ_U64(pacer_due(&p, 5000, 64), 64, "unlimited at t0");
    CHECK_EQ_U64(pacer_due(&p, 4999, 64), 64, "unlimited before t0");
    CHECK_EQ_U64(pacer_due(&p, INT64_MAX, 7), 7, "unlimited late");
    pacer_advance(&p, 1000000);
    CHECK_EQ_U64(pacer_due(&p, 5000, 64), 64, "unlimited after many sent");
    CHECK_EQ_U64(pacer_due(&p, 5000, UINT64_MAX), UINT64_MAX, "unlimited, max UINT64_MAX");
    CHECK(pacer_next(&p) <= 5000, "unlimited: next packet due now, got %" PRId64, pacer_next(&p));
}

int main(void)
{
    test_deadlines();
    test_due();
    test_unlimited();
    return check_exit("test_pacer");
}
