/* test_hist.c — include/vmtp/hist.h against exact sorted samples.
 *
 * Every property is checked against an independent reference computed here: the exact sample
 * percentile as the header defines it (the smallest value v such that at least p % of the values
 * are <= v, with p taken as the exact value of the double passed), exact min/max/mean, and a
 * hand-written encoder of the serialised form for the malformed inputs hist_deserialize must
 * reject.
 */
#include "check.h"

#include "vmtp/hist.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define N_SAMPLES 100000
#define TOP_BUCKET 4351 /* 256 exact + (40 - 8) * 128 sub-buckets, minus one */

static const double s_plist[] = {0, 1, 10, 50, 90, 99, 99.9, 100};
#define N_PLIST (sizeof s_plist / sizeof s_plist[0])

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ceil(p * n / 100) >= 1, computed exactly for the double p (p = m * 2^-k). */
static uint64_t s_rank(double p, uint64_t n)
{
    int e;
    double frac = frexp(p, &e); /* p = frac * 2^e, 0.5 <= frac < 1 */
    unsigned __int128 m = (unsigned __int128)ldexp(frac, 53);
    int k = 53 - e; /* p = m / 2^k */
    unsigned __int128 num = m * n, den = 100;
    while (k < 0) {
        num <<= 1;
        k++;
    }
    while (k > 0 && (num & 1) == 0) {
        num >>= 1;
        k--;
    }
    den <<= k;
    unsigned __int128 r = (num + den - 1) / den;
    return r < 1 ? 1 : (uint64_t)r;
}

/* The header's percentile of sorted samples v[0..n). */
static int64_t s_exact_pct(const int64_t *v, size_t n, double p)
{
    if (p <= 0)
        return v[0];
    if (p >= 100)
        return v[n - 1];
    return v[s_rank(p, n) - 1];
}

/* Histogram value within the header's error of the exact value: exact below 256, else 1 %. */
static bool s_close(int64_t got, int64_t want)
{
    if (want > -256 && want < 256)
        return got == want;
    return fabs((double)got - (double)want) <= 0.01 * fabs((double)want);
}

static double s_exact_mean(const int64_t *v, size_t n)
{
    __int128 sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    return (double)sum / (double)n;
}

/* Records v[0..n) into a new histogram and checks it against the sorted copy. */
static void s_check_dist(const char *name, int64_t *v, size_t n)
{
    hist_t *h = hist_new();
    CHECK(h != NULL, "%s: hist_new", name);
    if (!h)
        return;
    for (size_t i = 0; i < n; i++)
        hist_record(h, v[i]);
    double mean = s_exact_mean(v, n);
    qsort(v, n, sizeof *v, s_cmp_i64);
    CHECK_EQ_U64(hist_count(h), n, name);
    CHECK_EQ_I64(hist_min(h), v[0], name);
    CHECK_EQ_I64(hist_max(h), v[n - 1], name);
    CHECK(fabs(hist_mean(h) - mean) <= 1e-9 * fabs(mean) + 1e-9, "%s: mean %.17g, expected %.17g", name, hist_mean(h),
          mean);
    for (size_t i = 0; i < N_PLIST; i++) {
        int64_t got = hist_percentile(h, s_plist[i]), want = s_exact_pct(v, n, s_plist[i]);
        CHECK(s_close(got, want), "%s: p%g = %" PRId64 ", exact %" PRId64, name, s_plist[i], got, want);
    }
    /* Every half percent as well, for denser coverage of the ranks. */
    for (int p2 = 0; p2 <= 200; p2++) {
        double p = p2 / 2.0;
        int64_t got = hist_percentile(h, p), want = s_exact_pct(v, n, p);
        CHECK(s_close(got, want), "%s: p%g = %" PRId64 ", exact %" PRId64, name, p, got, want);
    }
    hist_destroy(&h);
    CHECK(h == NULL, "%s: hist_destroy nulls the pointer", name);
}

static void test_distributions(void)
{
    uint64_t rng = 0x68697374ULL;
    int64_t *v = malloc(N_SAMPLES * sizeof *v);
    if (!v) {
        CHECK(0, "out of memory");
        return;
    }

    for (size_t i = 0; i < N_SAMPLES; i++)
        v[i] = (int64_t)check_rand_below(&rng, 1000000000ULL);
    s_check_dist("uniform 0..1e9", v, N_SAMPLES);

    for (size_t i = 0; i < N_SAMPLES; i++) /* log-uniform from 1 ns to 100 s */
        v[i] = (int64_t)llround(exp(check_rand_unit(&rng) * log(1e11)));
    s_check_dist("log-uniform 1ns..100s", v, N_SAMPLES);

    for (size_t i = 0; i < N_SAMPLES; i++) /* 70 % around 50 us, 30 % around 10 ms */
        v[i] = check_rand_below(&rng, 10) < 7 ? 45000 + (int64_t)check_rand_below(&rng, 10000)
                                              : 9000000 + (int64_t)check_rand_below(&rng, 2000000);
    s_check_dist("bimodal 50us/10ms", v, N_SAMPLES);

    /* Exactly 90 % in the low mode: p90 is the top of the low mode, p90.5 the bottom of the high. */
    for (size_t i = 0; i < 10000; i++)
        v[i] = i < 9000 ? 1000 + (int64_t)check_rand_below(&rng, 100) : 5000000 + (int64_t)check_rand_below(&rng, 1000);
    s_check_dist("bimodal 90/10", v, 10000);

    for (size_t i = 0; i < 1000; i++)
        v[i] = 123456789;
    s_check_dist("constant", v, 1000);

    for (size_t i = 0; i < N_SAMPLES; i++)
        v[i] = (int64_t)check_rand_below(&rng, 256);
    s_check_dist("values < 256", v, N_SAMPLES);

    for (size_t i = 0; i < N_SAMPLES; i++)
        v[i] = -1 - (int64_t)check_rand_below(&rng, 50000000);
    s_check_dist("negative", v, N_SAMPLES);

    for (size_t i = 0; i < N_SAMPLES; i++)
        v[i] = (int64_t)check_rand_below(&rng, 2000001) - 1000000;
    s_check_dist("mixed sign", v, N_SAMPLES);

    for (size_t i = 0; i < N_SAMPLES; i++)
        v[i] = (int64_t)check_rand_below(&rng, 511) - 255;
    s_check_dist("mixed sign |v| < 256", v, N_SAMPLES);

    free(v);

    /* A single value, and an empty histogram. */
    hist_t *h = hist_new();
    if (!h)
        return;
    CHECK_EQ_U64(hist_count(h), 0, "empty count");
    CHECK_EQ_I64(hist_min(h), 0, "empty min");
    CHECK_EQ_I64(hist_max(h), 0, "empty max");
    CHECK(hist_mean(h) == 0.0, "empty mean %g", hist_mean(h));
    CHECK(hist_stddev(h) == 0.0, "empty stddev %g", hist_stddev(h));
    CHECK_EQ_I64(hist_percentile(h, 50), 0, "empty p50");
    hist_record(h, -777777);
    for (size_t i = 0; i < N_PLIST; i++)
        CHECK_EQ_I64(hist_percentile(h, s_plist[i]), -777777, "single value percentile");
    hist_destroy(&h);
    hist_destroy(&h); /* NULL-safe */
    hist_destroy(NULL);
}

/* Values 0..n-1 are all exact: every percentile must hit the exact rank, for every n and p. */
static void test_exact_ranks(void)
{
    int64_t v[256];
    unsigned mismatches = 0, cases = 0;
    for (unsigned n = 1; n <= 256; n++) {
        hist_t *h = hist_new();
        if (!h)
            return;
        for (unsigned i = 0; i < n; i++) {
            v[i] = i;
            hist_record(h, (int64_t)(n - 1 - i)); /* recording order must not matter */
        }
        for (int p2 = 0; p2 <= 200; p2++) {
            double p = p2 / 2.0; /* every half percent: exact in binary, no rounding ambiguity */
            int64_t got = hist_percentile(h, p), want = s_exact_pct(v, n, p);
            cases++;
            if (got != want && ++mismatches <= 10)
                fprintf(stderr, "  values 0..%u: p%g = %" PRId64 ", exact %" PRId64 "\n", n - 1, p, got, want);
        }
        hist_destroy(&h);
    }
    CHECK(mismatches == 0,
          "%u of %u percentiles of exact values (0..n-1, n = 1..256, p = 0, 0.5, ..., 100) miss the header's rank "
          "(smallest v with at least p %% of values <= v); first ones listed above",
          mismatches, cases);
}

/* Standard deviation: exact for values below 256 (their buckets are single values). */
static void test_stddev(void)
{
    hist_t *h = hist_new();
    if (!h)
        return;
    uint64_t rng = 42;
    double sum = 0, sq = 0;
    const int n = 5000;
    int64_t vals[5000];
    for (int i = 0; i < n; i++) {
        vals[i] = (int64_t)check_rand_below(&rng, 401) - 200;
        hist_record(h, vals[i]);
        sum += (double)vals[i];
    }
    double mean = sum / n;
    for (int i = 0; i < n; i++)
        sq += ((double)vals[i] - mean) * ((double)vals[i] - mean);
    double sd = sqrt(sq / n);
    CHECK(fabs(hist_stddev(h) - sd) <= 1e-9 * sd, "stddev %.17g, expected %.17g", hist_stddev(h), sd);
    hist_reset(h);
    for (int i = 0; i < 100; i++)
        hist_record(h, 987654321);
    CHECK(hist_stddev(h) == 0.0, "stddev of a constant: %g", hist_stddev(h));
    hist_destroy(&h);
}

/* Serialises h into a malloc'd buffer; *len its size. */
static uint8_t *s_ser(const hist_t *h, size_t *len)
{
    uint8_t *buf = malloc(HIST_SERIALIZED_MAX);
    if (!buf)
        return NULL;
    long n = hist_serialize(h, buf, HIST_SERIALIZED_MAX);
    CHECK(n > 0, "hist_serialize: %ld", n);
    *len = n > 0 ? (size_t)n : 0;
    return buf;
}

/* Two histograms have identical content: same serialisation and same figures. */
static void s_check_same(const char *what, const hist_t *a, const hist_t *b)
{
    size_t la = 0, lb = 0;
    uint8_t *sa = s_ser(a, &la), *sb = s_ser(b, &lb);
    CHECK(sa && sb && la == lb && memcmp(sa, sb, la) == 0, "%s: serialisations differ (%zu vs %zu bytes)", what, la,
          lb);
    free(sa);
    free(sb);
    CHECK_EQ_U64(hist_count(a), hist_count(b), what);
    CHECK_EQ_I64(hist_min(a), hist_min(b), what);
    CHECK_EQ_I64(hist_max(a), hist_max(b), what);
    CHECK(hist_mean(a) == hist_mean(b), "%s: mean %.17g vs %.17g", what, hist_mean(a), hist_mean(b));
    CHECK(hist_stddev(a) == hist_stddev(b), "%s: stddev %.17g vs %.17g", what, hist_stddev(a), hist_stddev(b));
    for (int p10 = 0; p10 <= 1000; p10++) {
        double p = p10 / 10.0;
        int64_t x = hist_percentile(a, p), y = hist_percentile(b, p);
        CHECK(x == y, "%s: p%g %" PRId64 " vs %" PRId64, what, p, x, y);
        if (x != y)
            break;
    }
}

static void test_merge(void)
{
    uint64_t rng = 0x6d65726765ULL;
    hist_t *a = hist_new(), *b = hist_new(), *all = hist_new(), *empty = hist_new();
    if (!a || !b || !all || !empty)
        goto out;
    /* a holds positives only, b both signs: the merge must create a's negative side. */
    for (int i = 0; i < 50000; i++) {
        int64_t x = (int64_t)llround(exp(check_rand_unit(&rng) * log(1e10)));
        int64_t y = (int64_t)check_rand_below(&rng, 20000000) - 10000000;
        hist_record(a, x);
        hist_record(b, y);
        hist_record(all, x);
        hist_record(all, y);
    }
    CHECK(hist_merge(a, b) == 0, "hist_merge");
    s_check_same("merge a+b vs all samples", a, all);

    /* Merging an empty histogram changes nothing; merging into an empty one copies. */
    CHECK(hist_merge(a, empty) == 0, "merge of empty");
    s_check_same("merge of empty", a, all);
    CHECK(hist_merge(empty, all) == 0, "merge into empty");
    s_check_same("merge into empty", empty, all);

    /* Order does not matter: b + a_pos == a_pos + b. */
    hist_t *c = hist_new(), *d = hist_new();
    if (c && d) {
        for (int i = 0; i < 1000; i++) {
            hist_record(c, (int64_t)i * 1000003);
            hist_record(d, -(int64_t)i * 7919);
        }
        hist_t *cd = hist_new(), *dc = hist_new();
        if (cd && dc) {
            CHECK(hist_merge(cd, c) == 0 && hist_merge(cd, d) == 0, "merge c,d");
            CHECK(hist_merge(dc, d) == 0 && hist_merge(dc, c) == 0, "merge d,c");
            s_check_same("merge order", cd, dc);
            CHECK_EQ_I64(hist_min(cd), -999 * 7919, "merged min");
            CHECK_EQ_I64(hist_max(cd), 999 * 1000003LL, "merged max");
        }
        hist_destroy(&cd);
        hist_destroy(&dc);
    }
    hist_destroy(&c);
    hist_destroy(&d);
out:
    hist_destroy(&a);
    hist_destroy(&b);
    hist_destroy(&all);
    hist_destroy(&empty);
}

static void test_round_trip(void)
{
    uint64_t rng = 7;
    hist_t *h = hist_new(), *back = hist_new();
    if (!h || !back)
        goto out;
    /* Empty, positive-only, then both signs with extremes. */
    for (int stage = 0; stage < 3; stage++) {
        if (stage == 1)
            for (int i = 0; i < 20000; i++)
                hist_record(h, (int64_t)check_rand_below(&rng, 3000000000ULL));
        if (stage == 2) {
            for (int i = 0; i < 20000; i++)
                hist_record(h, (int64_t)check_rand_below(&rng, 2000) - 1000);
            hist_record(h, INT64_MAX);
            hist_record(h, INT64_MIN);
            hist_record_n(h, 255, 1000000000000ULL);
        }
        size_t len = 0;
        uint8_t *buf = s_ser(h, &len);
        if (!buf)
            break;
        /* Deserialise into a histogram that already holds other values: they must be replaced. */
        hist_reset(back);
        hist_record(back, -5);
        hist_record(back, 1LL << 35);
        CHECK(hist_deserialize(back, buf, len) == 0, "stage %d: deserialize of a valid serialisation", stage);
        s_check_same("round trip", back, h);
        /* A cap one byte short is refused; the exact length suffices. */
        uint8_t *small = malloc(len);
        if (small) {
            CHECK(hist_serialize(h, small, len) == (long)len, "stage %d: exact cap", stage);
            CHECK(len == 0 || hist_serialize(h, small, len - 1) == -ENOBUFS, "stage %d: short cap gives -ENOBUFS",
                  stage);
            free(small);
        }
        free(buf);
    }
out:
    hist_destroy(&h);
    hist_destroy(&back);
}

/* --- crafted serialisations (the format hist.c writes: version, sub-bucket bits, LEB128 count,
 * zigzag min and max, the 128-bit sum as two big-endian u64, then the positive and negative sides
 * as a count of non-empty buckets and (index gap, count) pairs). */

typedef struct {
    uint8_t b[512];
    size_t n;
} s_craft_t;

static void s_c_u8(s_craft_t *c, uint8_t v) { c->b[c->n++] = v; }
static void s_c_var(s_craft_t *c, uint64_t v)
{
    do {
        uint8_t byte = (uint8_t)(v & 0x7f);
        v >>= 7;
        s_c_u8(c, (uint8_t)(byte | (v ? 0x80 : 0)));
    } while (v);
}
static void s_c_u64(s_craft_t *c, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        s_c_u8(c, (uint8_t)(v >> (8 * i)));
}
static uint64_t s_zz(int64_t v) { return ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0); }

typedef struct {
    unsigned idx;
    uint64_t n;
} s_bucket_t;

static void s_c_side(s_craft_t *c, const s_bucket_t *b, unsigned nb)
{
    s_c_var(c, nb);
    long prev = -1;
    for (unsigned i = 0; i < nb; i++) {
        s_c_var(c, (uint64_t)((long)b[i].idx - prev - 1));
        s_c_var(c, b[i].n);
        prev = (long)b[i].idx;
    }
}

static void s_craft(s_craft_t *c, uint64_t count, int64_t min, int64_t max, __int128 sum, const s_bucket_t *pos,
                    unsigned npos, const s_bucket_t *neg, unsigned nneg)
{
    c->n = 0;
    s_c_u8(c, 1);
    s_c_u8(c, 8);
    s_c_var(c, count);
    s_c_var(c, s_zz(min));
    s_c_var(c, s_zz(max));
    s_c_u64(c, (uint64_t)((unsigned __int128)sum >> 64));
    s_c_u64(c, (uint64_t)sum);
    s_c_side(c, pos, npos);
    s_c_side(c, neg, nneg);
}

/* Bucket of a magnitude, per the header's layout: exact below 256, then 128 per power of two. */
static unsigned s_bucket(uint64_t m)
{
    if (m < 256)
        return (unsigned)m;
    if (m >= (1ULL << 40))
        return TOP_BUCKET;
    unsigned e = 63u - (unsigned)__builtin_clzll(m);
    return 256 + (e - 8) * 128 + (unsigned)(m >> (e - 7)) - 128;
}

/* hist_deserialize must fail with -EINVAL and leave target as it was. */
static void s_expect_reject(hist_t *target, const uint8_t *buf, size_t len, const char *why)
{
    size_t l0 = 0, l1 = 0;
    uint8_t *before = s_ser(target, &l0);
    int rc = hist_deserialize(target, buf, len);
    CHECK(rc == -EINVAL, "%s: hist_deserialize gave %d, expected -EINVAL", why, rc);
    uint8_t *after = s_ser(target, &l1);
    CHECK(before && after && l0 == l1 && memcmp(before, after, l0) == 0, "%s: target changed by a rejected input", why);
    free(before);
    free(after);
}

static void test_reject(void)
{
    hist_t *target = hist_new(), *src = hist_new();
    if (!target || !src)
        goto out;
    /* The target holds something recognisable, both signs. */
    for (int i = 0; i < 100; i++)
        hist_record(target, (int64_t)i * 33333 - 1000000);
    int64_t tmin = hist_min(target), tmax = hist_max(target);

    /* A valid serialisation with both sides and values above and below 256. */
    const int64_t vals[] = {-70000, -300, -3, 0, 7, 255, 300, 5000, 5001, 1LL << 36};
    __int128 sum = 0;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        hist_record(src, vals[i]);
        sum += vals[i];
    }
    size_t len = 0;
    uint8_t *good = s_ser(src, &len);
    if (!good)
        goto out;

    /* The crafter must agree with hist_serialize, or the crafted cases below test nothing. */
    s_bucket_t pos[] = {{0, 1}, {7, 1}, {255, 1}, {s_bucket(300), 1}, {s_bucket(5000), 2}, {s_bucket(1ULL << 36), 1}};
    s_bucket_t neg[] = {{3, 1}, {s_bucket(300), 1}, {s_bucket(70000), 1}};
    CHECK(s_bucket(5000) == s_bucket(5001), "test setup: 5000 and 5001 share a bucket");
    s_craft_t c;
    s_craft(&c, 10, -70000, 1LL << 36, sum, pos, 6, neg, 3);
    CHECK(c.n == len && memcmp(c.b, good, len) == 0,
          "test setup: crafted serialisation (%zu bytes) differs from hist_serialize (%zu bytes)", c.n, len);

    s_expect_reject(target, good, 0, "empty input");
    s_expect_reject(target, NULL, 0, "NULL empty input");
    for (size_t cut = 1; cut < len; cut++) {
        char why[64];
        snprintf(why, sizeof why, "truncated to %zu of %zu bytes", cut, len);
        s_expect_reject(target, good, cut, why);
    }
    uint8_t *longer = malloc(len + 1);
    if (longer) {
        memcpy(longer, good, len);
        longer[len] = 0;
        s_expect_reject(target, longer, len + 1, "one trailing byte");
        memcpy(longer, good, len);
        longer[0] = 2;
        s_expect_reject(target, longer, len, "version 2");
        longer[0] = 0;
        s_expect_reject(target, longer, len, "version 0");
        longer[0] = good[0];
        longer[1] = 7;
        s_expect_reject(target, longer, len, "sub-bucket bits 7");
        free(longer);
    }

    s_craft(&c, 11, -70000, 1LL << 36, sum, pos, 6, neg, 3);
    s_expect_reject(target, c.b, c.n, "count above the bucket total");
    s_craft(&c, 9, -70000, 1LL << 36, sum, pos, 6, neg, 3);
    s_expect_reject(target, c.b, c.n, "count below the bucket total");
    s_craft(&c, 0, 0, 0, 0, pos, 1, NULL, 0);
    s_expect_reject(target, c.b, c.n, "count 0 with a bucket");
    s_craft(&c, 0, 5, 5, 0, NULL, 0, NULL, 0);
    s_expect_reject(target, c.b, c.n, "empty with min/max 5");

    s_bucket_t oor[] = {{4352, 1}};
    s_craft(&c, 1, 1LL << 41, 1LL << 41, (__int128)1 << 41, oor, 1, NULL, 0);
    s_expect_reject(target, c.b, c.n, "positive bucket index 4352");
    s_craft(&c, 1, -(1LL << 41), -(1LL << 41), -((__int128)1 << 41), NULL, 0, oor, 1);
    s_expect_reject(target, c.b, c.n, "negative bucket index 4352");
    s_bucket_t oor2[] = {{4000, 1}, {4400, 1}};
    s_craft(&c, 2, 1LL << 39, 1LL << 41, ((__int128)1 << 39) + ((__int128)1 << 41), oor2, 2, NULL, 0);
    s_expect_reject(target, c.b, c.n, "second bucket beyond the last index");
    {
        s_craft_t d = {.n = 0};
        s_c_u8(&d, 1);
        s_c_u8(&d, 8);
        for (int i = 0; i < 10; i++)
            s_c_u8(&d, 0x80);
        s_c_u8(&d, 0x00); /* an 11-byte count varint */
        s_expect_reject(target, d.b, d.n, "11-byte count varint");
    }

    /* min/max outside their buckets (one bucket of 300 and one of 5000). */
    s_bucket_t two[] = {{s_bucket(300), 1}, {s_bucket(5000), 1}};
    CHECK(s_bucket(299) != s_bucket(300) && s_bucket(6000) != s_bucket(5000), "test setup: distinct buckets");
    s_craft(&c, 2, 300, 5000, 5300, two, 2, NULL, 0);
    hist_t *ok = hist_new();
    if (ok) {
        CHECK(hist_deserialize(ok, c.b, c.n) == 0, "crafted valid two-bucket histogram accepted");
        CHECK_EQ_I64(hist_min(ok), 300, "crafted min");
        CHECK_EQ_I64(hist_max(ok), 5000, "crafted max");
        hist_destroy(&ok);
    }
    s_craft(&c, 2, 299, 5000, 5299, two, 2, NULL, 0);
    s_expect_reject(target, c.b, c.n, "min below its bucket");
    s_craft(&c, 2, 1000, 5000, 6000, two, 2, NULL, 0);
    s_expect_reject(target, c.b, c.n, "min above the lowest bucket");
    s_craft(&c, 2, 300, 6000, 6300, two, 2, NULL, 0);
    s_expect_reject(target, c.b, c.n, "max above its bucket");
    s_craft(&c, 2, 300, 1000, 1300, two, 2, NULL, 0);
    s_expect_reject(target, c.b, c.n, "max below the highest bucket");
    s_craft(&c, 2, -300, 5000, 4700, two, 2, NULL, 0);
    s_expect_reject(target, c.b, c.n, "negative min with no negative bucket");
    s_bucket_t negs[] = {{s_bucket(300), 1}, {s_bucket(5000), 1}};
    s_craft(&c, 2, -5000, 300, -4700, NULL, 0, negs, 2);
    s_expect_reject(target, c.b, c.n, "positive max with no positive bucket");
    s_craft(&c, 2, -300, -5000, -5300, NULL, 0, negs, 2);
    s_expect_reject(target, c.b, c.n, "min > max");

    CHECK_EQ_I64(hist_min(target), tmin, "target min after all rejections");
    CHECK_EQ_I64(hist_max(target), tmax, "target max after all rejections");
    CHECK_EQ_U64(hist_count(target), 100, "target count after all rejections");
    free(good);
out:
    hist_destroy(&target);
    hist_destroy(&src);
}

/* Magnitudes at or above 2^40 land in the top bucket; min and max stay exact. */
static void test_top_bucket(void)
{
    hist_t *h = hist_new(), *back = hist_new();
    if (!h || !back)
        goto out;
    const int64_t big[] = {1LL << 40, (1LL << 40) + 12345, 1LL << 50, INT64_MAX};
    for (size_t i = 0; i < 4; i++)
        hist_record(h, big[i]);
    CHECK_EQ_U64(hist_count(h), 4, "top bucket count");
    CHECK_EQ_I64(hist_min(h), 1LL << 40, "top bucket min");
    CHECK_EQ_I64(hist_max(h), INT64_MAX, "top bucket max");
    CHECK_EQ_I64(hist_percentile(h, 100), INT64_MAX, "top bucket p100");
    CHECK_EQ_I64(hist_percentile(h, 0), 1LL << 40, "top bucket p0");
    for (int p = 1; p < 100; p += 7) {
        int64_t v = hist_percentile(h, p);
        CHECK(v >= (1LL << 40) && v <= INT64_MAX, "top bucket p%d = %" PRId64 " outside [min, max]", p, v);
    }
    __int128 sum = 0;
    for (size_t i = 0; i < 4; i++)
        sum += big[i];
    CHECK(fabs(hist_mean(h) - (double)sum / 4) <= 1e-9 * ((double)sum / 4), "top bucket mean %.17g", hist_mean(h));

    /* All four share one bucket: the serialisation has one positive bucket of count 4. */
    s_bucket_t top[] = {{TOP_BUCKET, 4}};
    s_craft_t c;
    s_craft(&c, 4, 1LL << 40, INT64_MAX, sum, top, 1, NULL, 0);
    size_t len = 0;
    uint8_t *buf = s_ser(h, &len);
    CHECK(buf && len == c.n && memcmp(buf, c.b, len) == 0, "values >= 2^40 are counted in the top bucket");
    if (buf) {
        CHECK(hist_deserialize(back, buf, len) == 0, "top bucket round trip");
        s_check_same("top bucket round trip", back, h);
        free(buf);
    }

    /* INT64_MIN (magnitude 2^63) lands in the negative top bucket, with min exact. */
    hist_reset(h);
    hist_record(h, INT64_MIN);
    hist_record(h, -(1LL << 45));
    hist_record(h, 1000);
    CHECK_EQ_I64(hist_min(h), INT64_MIN, "INT64_MIN min");
    CHECK_EQ_I64(hist_percentile(h, 0), INT64_MIN, "INT64_MIN p0");
    CHECK_EQ_I64(hist_percentile(h, 100), 1000, "p100 with INT64_MIN");
    CHECK_EQ_I64(hist_percentile(h, 99), 1000, "p99 with INT64_MIN");
    int64_t p50 = hist_percentile(h, 50);
    CHECK(p50 < -(1LL << 39), "p50 of {INT64_MIN, -2^45, 1000} is in the negative top bucket: %" PRId64, p50);
    buf = s_ser(h, &len);
    if (buf) {
        CHECK(hist_deserialize(back, buf, len) == 0, "INT64_MIN round trip");
        s_check_same("INT64_MIN round trip", back, h);
        free(buf);
    }
out:
    hist_destroy(&h);
    hist_destroy(&back);
}

static void test_record_n(void)
{
    hist_t *a = hist_new(), *b = hist_new();
    if (!a || !b)
        goto out;
    const int64_t vals[] = {-123456, -1, 0, 77, 256, 999999, 1LL << 41};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        hist_record_n(a, vals[i], 1000);
        for (int k = 0; k < 1000; k++)
            hist_record(b, vals[i]);
    }
    s_check_same("record_n(v, 1000) vs 1000 x record(v)", a, b);

    hist_reset(a);
    hist_record_n(a, 5, 0);
    CHECK_EQ_U64(hist_count(a), 0, "record_n with n = 0 adds nothing");
    CHECK_EQ_I64(hist_min(a), 0, "record_n with n = 0 leaves min");
    CHECK_EQ_I64(hist_max(a), 0, "record_n with n = 0 leaves max");
    hist_record(a, 10);
    hist_record_n(a, -10, 0);
    CHECK_EQ_I64(hist_min(a), 10, "record_n(-10, 0) leaves min");

    /* Large n: the count and the mean stay exact. */
    hist_reset(a);
    hist_record_n(a, 3000000000LL, 1ULL << 40);
    hist_record_n(a, 1000000000LL, 1ULL << 40);
    CHECK_EQ_U64(hist_count(a), 1ULL << 41, "record_n large count");
    CHECK(hist_mean(a) == 2e9, "record_n large mean %.17g", hist_mean(a));
    CHECK(s_close(hist_percentile(a, 50), 1000000000LL), "record_n p50 %" PRId64, hist_percentile(a, 50));
    CHECK(s_close(hist_percentile(a, 50.001), 3000000000LL), "record_n p50.001 %" PRId64, hist_percentile(a, 50.001));

    /* reset forgets everything, including the negative side. */
    hist_reset(a);
    hist_t *fresh = hist_new();
    if (fresh) {
        s_check_same("reset vs new", a, fresh);
        hist_destroy(&fresh);
    }
out:
    hist_destroy(&a);
    hist_destroy(&b);
}

int main(void)
{
    test_distributions();
    test_exact_ranks();
    test_stddev();
    test_merge();
    test_round_trip();
    test_reject();
    test_top_bucket();
    test_record_n();
    return check_exit("test_hist");
}
