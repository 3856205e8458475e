/* gen_corpus.c — writes the deterministic seed corpora of fuzz_dpwire (tests/fuzz/corpus/dpwire)
 * and fuzz_proto (tests/fuzz/corpus/proto).
 *
 * usage: fuzz_gen_corpus [--proto] OUTDIR
 *
 * Every file starts with the selector byte of fuzz_dpwire.h, then the bytes for that decoder:
 * valid encodings made by the real encoders (every control message type, reports with
 * histograms, greetings, data hellos, every datagram kind, serialised histograms), and hostile
 * ones (huge length fields, the msgpack huge-array header `dd ff ff ff ff`, all-0xff, truncations,
 * 11-byte varints, values out of range). "raw-" files have no explicit selector: their first
 * byte is whatever the bytes are. Output is identical on every run; files stay below 4 KiB.
 * Regenerate with: cmake --build build --target fuzz_gen_corpus && build/bin/fuzz_gen_corpus
 * tests/fuzz/corpus/dpwire
 * With --proto it writes the seed corpus of fuzz_proto (tests/fuzz/corpus/proto) instead: frames
 * with no selector byte, each message at its lower and upper bounds, realistic traffic, and the
 * same frames damaged (truncated, a trailing byte, a field more or less, version 2, values past
 * their bounds, wrong types, maps/floats/nil/ext, 4 GiB str32/bin32/array32 headers at the
 * version, seq, first and last element and inside HELLO.addrs, and `huge-array32`: exactly the
 * 5 bytes dd ff ff ff ff). Regenerate with: build/bin/fuzz_gen_corpus --proto tests/fuzz/corpus/proto
 * The corpus also holds "found-*" files this program does not write: inputs a libFuzzer campaign
 * found that reach edges these seeds do not (kept by hand, at most a few dozen; keep them when
 * regenerating).
 */
#include "fuzz_dpwire.h"

#include "dpwire.h"
#include "vmtp/hist.h"
#include "vmtp/proto.h"
#include "vmtp/wirebuf.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_FILE_MAX 4095 /* every corpus file stays below 4 KiB */
#define S_BUF (64 * 1024)
#define S_START_REAL_NS 1700000000000000000LL /* a fixed CLOCK_REALTIME, 2023-11-14 */

static const char *s_dir;
static int s_failed;          /* files that could not be written */
static size_t s_written;      /* files written */
static char s_names[512][64]; /* names written so far: a name used twice is a generator bug */

/* Writes OUTDIR/name: the selector byte (unless sel < 0) followed by len bytes. */
static void s_emit_sel(const char *name, int sel, const void *bytes, size_t len)
{
    char path[4096];
    size_t total = len + (sel >= 0);
    int w = snprintf(path, sizeof path, "%s/%s", s_dir, name);
    bool dup = false;
    for (size_t i = 0; i < s_written && !dup; i++)
        dup = strcmp(s_names[i], name) == 0;
    if (w < 0 || (size_t)w >= sizeof path || total > S_FILE_MAX || dup || s_written >= 512 ||
        strlen(name) >= sizeof s_names[0]) {
        fprintf(stderr, "fuzz_gen_corpus: %s: duplicate, name too long or %zu bytes is too big\n", name, total);
        s_failed++;
        return;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "fuzz_gen_corpus: %s: %s\n", path, strerror(errno));
        s_failed++;
        return;
    }
    uint8_t s = (uint8_t)sel;
    bool ok = (sel < 0 || fwrite(&s, 1, 1, f) == 1) && (!len || fwrite(bytes, 1, len, f) == len);
    if (fclose(f) != 0 || !ok) {
        fprintf(stderr, "fuzz_gen_corpus: %s: write failed\n", path);
        s_failed++;
        return;
    }
    snprintf(s_names[s_written++], sizeof s_names[0], "%s", name);
}

static void s_emit(const char *name, fuzz_dp_target_t sel, const void *bytes, size_t len)
{
    s_emit_sel(name, (int)sel, bytes, len);
}

/* "name" with a suffix. */
static const char *s_name(const char *name, const char *suffix)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s%s", name, suffix);
    return buf;
}

/* The hostile inputs every decoder gets: msgpack huge-array header, all-0xff, nothing. */
static void s_emit_common(const char *prefix, fuzz_dp_target_t sel)
{
    static const uint8_t mp[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    uint8_t ff[64];
    memset(ff, 0xff, sizeof ff);
    s_emit(s_name(prefix, "-msgpack-huge-array"), sel, mp, sizeof mp);
    s_emit(s_name(prefix, "-all-ff"), sel, ff, sizeof ff);
    s_emit(s_name(prefix, "-no-bytes"), sel, NULL, 0);
}

/* ---- histograms ---- */

static uint64_t s_rng = 0x9e3779b97f4a7c15u; /* xorshift64: deterministic spread of values */
static uint64_t s_next(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

/* Latency-like values: log-uniform between 1 us and about 1 s, as an RR test records. */
static void s_fill_latency(hist_t *h, int n, int64_t sign)
{
    for (int i = 0; i < n; i++) {
        uint64_t r = s_next();
        int64_t v = (int64_t)(1000u + ((r >> 8) & ((1u << (10 + r % 20)) - 1)));
        hist_record(h, sign * v);
    }
}

static long s_ser(const hist_t *h, uint8_t *buf, size_t cap)
{
    long n = hist_serialize(h, buf, cap);
    if (n < 0) {
        fprintf(stderr, "fuzz_gen_corpus: hist_serialize failed (%ld)\n", n);
        exit(1);
    }
    return n;
}

static void s_emit_hist(const char *name, const hist_t *h, bool also_with_neg)
{
    static uint8_t buf[HIST_SERIALIZED_MAX];
    long n = s_ser(h, buf, sizeof buf);
    s_emit(name, FUZZ_DP_HIST, buf, (size_t)n);
    if (also_with_neg)
        s_emit_sel(s_name(name, "-over-neg"), FUZZ_DP_HIST_WITH_NEG, buf, (size_t)n);
}

/* A hand-made serialised histogram: header fields, then the sides' raw (gap, count) pairs. */
typedef struct {
    uint8_t version, sub_bits;
    uint64_t count, zmin, zmax; /* zigzag-encoded min and max */
    uint64_t sum_hi, sum_lo;
    uint64_t pos[8]; /* nz, then gap/count pairs */
    size_t npos;
    uint64_t neg[8];
    size_t nneg;
} s_rawhist_t;

static size_t s_put_rawhist(const s_rawhist_t *h, uint8_t *buf, size_t cap)
{
    wbuf_t w = wbuf_init(buf, cap);
    wbuf_u8(&w, h->version);
    wbuf_u8(&w, h->sub_bits);
    wbuf_varint(&w, h->count);
    wbuf_varint(&w, h->zmin);
    wbuf_varint(&w, h->zmax);
    wbuf_u64(&w, h->sum_hi);
    wbuf_u64(&w, h->sum_lo);
    for (size_t i = 0; i < h->npos; i++)
        wbuf_varint(&w, h->pos[i]);
    for (size_t i = 0; i < h->nneg; i++)
        wbuf_varint(&w, h->neg[i]);
    return w.ok ? w.len : 0;
}

static void s_emit_rawhist(const char *name, const s_rawhist_t *h)
{
    uint8_t buf[256];
    s_emit(name, FUZZ_DP_HIST, buf, s_put_rawhist(h, buf, sizeof buf));
}

static void s_gen_hists(void)
{
    hist_t *h = hist_new();
    static uint8_t buf[HIST_SERIALIZED_MAX];
    if (!h)
        exit(1);
    s_emit_hist("hist-empty", h, true);
    hist_record(h, 42);
    s_emit_hist("hist-one-value", h, true);
    for (int64_t v = 0; v < 256; v += 17)
        hist_record_n(h, v, (uint64_t)v + 1);
    s_emit_hist("hist-exact-buckets", h, false);
    hist_reset(h);
    s_fill_latency(h, 300, 1);
    s_emit_hist("hist-rtt-log-linear", h, true);
    hist_reset(h);
    s_fill_latency(h, 100, -1);
    s_emit_hist("hist-negative-only", h, true);
    s_fill_latency(h, 100, 1);
    hist_record(h, 0);
    s_emit_hist("hist-owd-mixed-sign", h, true);
    hist_reset(h);
    static const int64_t ext[] = {
        INT64_MIN, INT64_MIN + 1, -(1LL << 40), -(1LL << 40) + 1, -256,      -255,          -1,
        0,         255,           256,          (1LL << 40) - 1,  1LL << 40, INT64_MAX - 1, INT64_MAX};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        hist_record(h, ext[i]);
    s_emit_hist("hist-extremes", h, true);
    hist_reset(h);
    hist_record_n(h, INT64_MAX, UINT64_MAX - 1);
    hist_record(h, INT64_MIN);
    s_emit_hist("hist-huge-count-and-sum", h, false);
    hist_reset(h);
    for (int64_t v = 0; v < 700; v++) /* ~700 non-empty buckets, still below 4 KiB */
        hist_record(h, v * 3 + (v << (v % 24)));
    s_emit_hist("hist-many-buckets", h, false);

    /* truncations of a valid serialisation */
    hist_reset(h);
    s_fill_latency(h, 20, 1);
    long n = s_ser(h, buf, sizeof buf);
    s_emit("hist-trunc-half", FUZZ_DP_HIST, buf, (size_t)n / 2);
    s_emit("hist-trunc-last-byte", FUZZ_DP_HIST, buf, (size_t)n - 1);
    s_emit("hist-trunc-header", FUZZ_DP_HIST, buf, 10);
    buf[n] = 0;
    s_emit("hist-trailing-byte", FUZZ_DP_HIST, buf, (size_t)n + 1);
    hist_destroy(&h);

    /* hand-made: one value 5 (zigzag 10), one bucket at index 5 */
    const s_rawhist_t one = {.version = 1,
                             .sub_bits = 8,
                             .count = 1,
                             .zmin = 10,
                             .zmax = 10,
                             .sum_lo = 5,
                             .pos = {1, 5, 1},
                             .npos = 3,
                             .neg = {0},
                             .nneg = 1};
    s_emit_rawhist("hist-raw-valid-5", &one);
    s_rawhist_t x = one;
    x.version = 2;
    s_emit_rawhist("hist-bad-version", &x);
    x = one;
    x.sub_bits = 7;
    s_emit_rawhist("hist-bad-sub-bits", &x);
    x = one;
    x.count = 2;
    s_emit_rawhist("hist-count-mismatch", &x);
    x = one;
    x.pos[1] = 4352;
    s_emit_rawhist("hist-gap-out-of-range", &x);
    x = one;
    x.pos[0] = 2, x.pos[1] = 4000, x.pos[2] = 1, x.pos[3] = 400, x.pos[4] = 1, x.npos = 5, x.count = 2;
    s_emit_rawhist("hist-index-past-last-bucket", &x);
    x = one;
    x.pos[0] = 4353;
    s_emit_rawhist("hist-nz-too-many", &x);
    x = one;
    x.pos[0] = UINT64_MAX;
    s_emit_rawhist("hist-nz-huge", &x);
    x = one;
    x.pos[2] = 0;
    x.count = 0;
    s_emit_rawhist("hist-bucket-count-zero", &x);
    x = one;
    x.zmin = 12; /* 6: bucket 6, not the lowest non-empty (5) */
    x.zmax = 12;
    x.sum_lo = 6;
    s_emit_rawhist("hist-min-outside-bucket", &x);
    x = one;
    x.zmin = 12;
    s_emit_rawhist("hist-min-gt-max", &x);
    x = one;
    x.sum_lo = 6;
    s_emit_rawhist("hist-sum-out-of-range", &x);
    x = one;
    x.sum_hi = UINT64_MAX;
    s_emit_rawhist("hist-sum-negative", &x);
    x = one;
    x.count = 0, x.pos[0] = 0, x.npos = 1, x.sum_lo = 0;
    s_emit_rawhist("hist-zero-count-nonzero-min", &x);
    x.zmin = 0;
    s_emit_rawhist("hist-zero-count-nonzero-max", &x);
    x.zmax = 0, x.sum_lo = 5;
    s_emit_rawhist("hist-zero-count-nonzero-sum", &x);
    x = one;
    x.pos[0] = 2, x.pos[2] = 1ULL << 63, x.pos[3] = 0, x.pos[4] = 1ULL << 63, x.npos = 5, x.count = 0;
    s_emit_rawhist("hist-total-overflow", &x);
    x = one;
    x.zmin = x.zmax = 1; /* -1 */
    x.sum_lo = UINT64_MAX, x.sum_hi = UINT64_MAX;
    x.pos[0] = 0, x.npos = 1, x.neg[0] = 1, x.neg[1] = 1, x.neg[2] = 1, x.nneg = 3;
    s_emit_rawhist("hist-raw-valid-minus-1", &x);

    /* min and max against the sides: pos = value 5 (bucket 5), neg = -1 (bucket 1), -2 (bucket 2) */
    static const struct {
        const char *name;
        s_rawhist_t h;
    } sides[] = {
        {"hist-raw-valid-mixed-sign",
         {.count = 2, .zmin = 1, .zmax = 10, .sum_lo = 4, .pos = {1, 5, 1}, .npos = 3, .neg = {1, 1, 1}, .nneg = 3}},
        {"hist-neg-min-not-in-lowest-bucket",
         {.count = 1,
          .zmin = 3,
          .zmax = 1,
          .sum_hi = UINT64_MAX,
          .sum_lo = UINT64_MAX,
          .npos = 1,
          .neg = {1, 1, 1},
          .nneg = 3}},
        {"hist-neg-max-not-in-highest-bucket",
         {.count = 2,
          .zmin = 3,
          .zmax = 3,
          .sum_hi = UINT64_MAX,
          .sum_lo = (uint64_t)-4,
          .npos = 1,
          .neg = {2, 1, 1, 0, 1},
          .nneg = 5}},
        {"hist-neg-max-with-pos-bucket",
         {.count = 2,
          .zmin = 1,
          .zmax = 1,
          .sum_hi = UINT64_MAX,
          .sum_lo = (uint64_t)-2,
          .pos = {1, 5, 1},
          .npos = 3,
          .neg = {1, 1, 1},
          .nneg = 3}},
        {"hist-pos-min-with-neg-bucket",
         {.count = 2, .zmin = 10, .zmax = 10, .sum_lo = 10, .pos = {1, 5, 1}, .npos = 3, .neg = {1, 1, 1}, .nneg = 3}},
        {"hist-neg-min-without-neg-bucket",
         {.count = 1, .zmin = 1, .zmax = 10, .sum_lo = 5, .pos = {1, 5, 1}, .npos = 3, .nneg = 1}},
        {"hist-pos-max-without-pos-bucket",
         {.count = 1,
          .zmin = 1,
          .zmax = 10,
          .sum_hi = UINT64_MAX,
          .sum_lo = UINT64_MAX,
          .npos = 1,
          .neg = {1, 1, 1},
          .nneg = 3}},
        {"hist-max-outside-bucket",
         {.count = 1, .zmin = 10, .zmax = 12, .sum_lo = 5, .pos = {1, 5, 1}, .npos = 3, .nneg = 1}},
    };
    for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
        x = sides[i].h;
        x.version = 1, x.sub_bits = 8;
        s_emit_rawhist(sides[i].name, &x);
    }

    /* varints: the 10-byte maximum, a 10th byte with more than the top bit, and 11 bytes */
    uint8_t v[64];
    size_t hdr = 2;
    v[0] = 1, v[1] = 8;
    memset(v + hdr, 0xff, 9);
    v[hdr + 9] = 0x01; /* count = 2^64-1 in 10 bytes */
    s_emit("hist-varint-10-bytes-max", FUZZ_DP_HIST, v, hdr + 10);
    v[hdr + 9] = 0x02;
    s_emit("hist-varint-10th-byte-02", FUZZ_DP_HIST, v, hdr + 10);
    v[hdr + 9] = 0x81, v[hdr + 10] = 0x01;
    s_emit("hist-varint-11-bytes", FUZZ_DP_HIST, v, hdr + 11);
    memset(v + hdr, 0x80, 9);
    v[hdr + 9] = 0x00; /* count 0 in 10 bytes, then a valid empty tail */
    memset(v + hdr + 10, 0, 2 + 16 + 2);
    s_emit("hist-varint-noncanonical-zero", FUZZ_DP_HIST, v, hdr + 10 + 2 + 16 + 2);
    s_emit_common("hist", FUZZ_DP_HIST);
}

/* ---- control messages ---- */

static void s_emit_msg(const char *name, const dp_msg_t *m, bool truncations)
{
    static uint8_t buf[DP_FRAME_MAX + 4];
    long n = dp_msg_encode(m, buf, sizeof buf);
    if (n < 5) {
        fprintf(stderr, "fuzz_gen_corpus: %s: dp_msg_encode failed (%ld)\n", name, n);
        exit(1);
    }
    const uint8_t *body = buf + 4; /* the decoder gets the body; the length prefix is framing */
    size_t len = (size_t)n - 4;
    s_emit(name, FUZZ_DP_MSG, body, len);
    if (truncations) {
        s_emit(s_name(name, "-trunc-half"), FUZZ_DP_MSG, body, len / 2);
        s_emit(s_name(name, "-trunc-last-byte"), FUZZ_DP_MSG, body, len - 1);
    }
}

/* The body of m encoded into out (cap bytes). Returns its length. */
static size_t s_body(const dp_msg_t *m, uint8_t *out, size_t cap)
{
    static uint8_t buf[DP_FRAME_MAX + 4];
    long n = dp_msg_encode(m, buf, sizeof buf);
    if (n < 5 || (size_t)n - 4 > cap)
        exit(1);
    memcpy(out, buf + 4, (size_t)n - 4);
    return (size_t)n - 4;
}

static test_spec_t s_spec(test_proto_t proto)
{
    test_spec_t t = {.proto = (uint8_t)proto,
                     .streams = 1,
                     .duration_ns = 10 * 1000000000LL,
                     .rr_timeout_ns = 1000000000LL,
                     .start_real_ns = S_START_REAL_NS};
    switch (proto) {
    case TEST_TCP: t.streams = 4, t.len = 65536, t.omit_ns = 1000000000LL, t.interval_ns = 1000000000LL; break;
    case TEST_UDP: t.len = 1024, t.rate_bps = 1000000000ULL, t.clock_known = true, t.clock_offset_ns = -12345; break;
    case TEST_RR_UDP: t.len = 64, t.rr_mode = RR_MODE_ISOCHRONOUS, t.rr_interval_ns = 1000000, t.rr_count = 1000; break;
    case TEST_RR_TCP: t.len = 40, t.sndbuf = 1 << 20, t.rcvbuf = 1 << 20; break;
    }
    return t;
}

/* The i-th spec that decodes but breaks one dp_test_validate rule; false past the last. */
static bool s_bad_spec(int i, test_spec_t *t, const char **name)
{
    static const test_proto_t base[] = {TEST_TCP,    TEST_TCP,    TEST_UDP,    TEST_RR_TCP, TEST_TCP,    TEST_TCP,
                                        TEST_UDP,    TEST_TCP,    TEST_TCP,    TEST_TCP,    TEST_TCP,    TEST_TCP,
                                        TEST_TCP,    TEST_UDP,    TEST_TCP,    TEST_TCP,    TEST_TCP,    TEST_RR_UDP,
                                        TEST_RR_UDP, TEST_RR_TCP, TEST_RR_TCP, TEST_RR_UDP, TEST_RR_UDP, TEST_TCP};
    if (i < 0 || (size_t)i >= sizeof base / sizeof base[0])
        return false;
    *t = s_spec(base[i]);
    switch (i) {
    case 0: t->proto = 9, *name = "msg-test-bad-kind-9"; break;
    case 1: t->len = 0, *name = "msg-test-bad-len-tcp-0"; break;
    case 2: t->len = TEST_UDP_MIN_LEN - 1, *name = "msg-test-bad-len-udp-63"; break;
    case 3: t->len = (1u << 20) + 1, *name = "msg-test-bad-len-rr-tcp-1mib-plus-1"; break;
    case 4: t->streams = 0, *name = "msg-test-bad-streams-tcp-0"; break;
    case 5: t->streams = TEST_MAX_STREAMS + 1, *name = "msg-test-bad-streams-tcp-129"; break;
    case 6: t->streams = 2, *name = "msg-test-bad-streams-udp-2"; break;
    case 7: t->duration_ns = 999999, t->omit_ns = 0, *name = "msg-test-bad-duration-below-1ms"; break;
    case 8: t->duration_ns = 24 * 3600 * 1000000000LL + 1, *name = "msg-test-bad-duration-above-24h"; break;
    case 9: t->omit_ns = -1, *name = "msg-test-bad-omit-negative"; break;
    case 10: t->omit_ns = t->duration_ns, *name = "msg-test-bad-omit-equals-duration"; break;
    case 11: t->interval_ns = -1, *name = "msg-test-bad-interval-negative"; break;
    case 12: t->interval_ns = 5000000, *name = "msg-test-bad-interval-5ms"; break;
    case 13: t->rate_bps = 400000000001ULL, *name = "msg-test-bad-rate-above-400g"; break;
    case 14: t->sndbuf = (1u << 30) + 1, *name = "msg-test-bad-sndbuf-above-1gib"; break;
    case 15: t->rcvbuf = (1u << 30) + 1, *name = "msg-test-bad-rcvbuf-above-1gib"; break;
    case 16: t->rr_mode = 2, *name = "msg-test-bad-rr-mode-2"; break;
    case 17: t->rr_interval_ns = 999, *name = "msg-test-bad-rr-interval-below-1us"; break;
    case 18: t->rr_interval_ns = 60 * 1000000000LL + 1, *name = "msg-test-bad-rr-interval-above-60s"; break;
    case 19: t->rr_timeout_ns = 0, *name = "msg-test-bad-rr-timeout-0"; break;
    case 20: t->rr_timeout_ns = 60 * 1000000000LL + 1, *name = "msg-test-bad-rr-timeout-above-60s"; break;
    case 21: t->rr_count = 100000001, *name = "msg-test-bad-rr-count-above-100m"; break;
    case 22: t->reverse = true, *name = "msg-test-bad-reverse-rr-udp"; break;
    default: t->start_real_ns = -1, *name = "msg-test-bad-start-negative"; break;
    }
    return true;
}

static void s_fill_report(report_t *r, report_role_t role)
{
    r->role = (uint8_t)role;
    r->tx_bytes = 1250000000, r->tx_packets = 1220703, r->tx_omitted = 100, r->tx_errors = 2;
    r->tx_start_real_ns = S_START_REAL_NS, r->tx_end_real_ns = S_START_REAL_NS + 10000000000LL;
    r->rx_bytes = 1249000000, r->rx_bytes_total = 1250000000, r->rx_packets = 1219726;
    r->rx_start_real_ns = S_START_REAL_NS + 50000, r->rx_end_real_ns = S_START_REAL_NS + 10000050000LL;
    r->rx_duplicates = 1, r->rx_reordered = 3, r->rx_too_old = 0, r->rx_foreign = 4, r->rx_omitted = 99;
    r->socket_drops = 12, r->jitter_ns = 1234.5;
    r->rr_sent = 1000, r->rr_received = 998, r->rr_late = 1, r->stamps_missing = 2, r->reflected = 999;
    r->stamp_source = TSTAMP_SOURCE_KERNEL;
    r->tcp = (tcpinfo_t){.valid = true,
                         .rtt_us = 150,
                         .rttvar_us = 20,
                         .min_rtt_us = 90,
                         .snd_cwnd = 10,
                         .snd_mss = 1448,
                         .total_retrans = 7,
                         .delivery_rate_bps = 9400000000ULL,
                         .bytes_acked = 1250000000};
    r->cpu = (cpu_usage_t){.total_pct = 37.5,
                           .user_pct = 2.5,
                           .system_pct = 30,
                           .softirq_pct = 5,
                           .steal_pct = 0.25,
                           .proc_cpu_s = 7.5,
                           .elapsed_s = 10,
                           .ncpu = 2};
}

static void s_gen_msgs(void)
{
    dp_msg_t m;
    uint8_t b[S_BUF];
    size_t n;

    static const struct {
        test_proto_t proto;
        const char *name;
    } specs[] = {{TEST_TCP, "msg-test-tcp"},
                 {TEST_UDP, "msg-test-udp"},
                 {TEST_RR_UDP, "msg-test-rr-udp-isochronous"},
                 {TEST_RR_TCP, "msg-test-rr-tcp"}};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        dp_msg_init(&m, DP_MSG_TEST);
        m.test = s_spec(specs[i].proto);
        s_emit_msg(specs[i].name, &m, i == 0);
    }
    dp_msg_init(&m, DP_MSG_TEST);
    m.test = s_spec(TEST_UDP);
    m.test.reverse = true;
    s_emit_msg("msg-test-udp-reverse", &m, false);
    m.test = s_spec(TEST_TCP);
    m.test.reverse = true;
    s_emit_msg("msg-test-tcp-reverse", &m, false);
    const char *bad;
    for (int i = 0; s_bad_spec(i, &m.test, &bad); i++)
        s_emit_msg(bad, &m, false);
    m.test = s_spec(TEST_TCP);
    n = s_body(&m, b, sizeof b);
    b[2] = 2; /* the bool 'reverse' */
    s_emit("msg-test-bool-2", FUZZ_DP_MSG, b, n);

    dp_msg_init(&m, DP_MSG_ACCEPT);
    m.cookie = 0x0123456789abcdefULL;
    snprintf(m.server_id, sizeof m.server_id, "%s", "node-a 6.1.0-18-amd64");
    s_emit_msg("msg-accept", &m, true);
    memset(m.server_id, 'x', sizeof m.server_id - 1);
    m.server_id[sizeof m.server_id - 1] = 0;
    n = s_body(&m, b, sizeof b);
    s_emit("msg-accept-id-255-max", FUZZ_DP_MSG, b, n);
    b[9] = 0x01, b[10] = 0x00; /* string length 256 (one past the limit) */
    b[n++] = 'x';
    s_emit("msg-accept-id-256-too-long", FUZZ_DP_MSG, b, n);
    b[9] = 0xff, b[10] = 0xff; /* string length 65535 with 256 bytes present */
    s_emit("msg-accept-id-len-ffff", FUZZ_DP_MSG, b, n);
    b[9] = 0, b[10] = 3, b[11] = 'a', b[12] = 0, b[13] = 'b';
    s_emit("msg-accept-id-with-nul", FUZZ_DP_MSG, b, 14);

    dp_msg_init(&m, DP_MSG_READY);
    s_emit_msg("msg-ready", &m, false);
    n = s_body(&m, b, sizeof b);
    b[n++] = 0;
    s_emit("msg-ready-trailing-byte", FUZZ_DP_MSG, b, n);
    dp_msg_init(&m, DP_MSG_STOP);
    s_emit_msg("msg-stop", &m, false);
    dp_msg_init(&m, DP_MSG_START);
    s_emit_msg("msg-start", &m, true);

    dp_msg_init(&m, DP_MSG_INTERVAL);
    m.interval = (interval_t){
        .start_ns = 1000000000, .end_ns = 2000000000, .bytes = 117000000, .packets = 80000, .lost = 3, .retrans = 5};
    m.interval.tcp = (tcpinfo_t){.valid = true, .rtt_us = 200, .snd_cwnd = 64, .snd_mss = 1448};
    s_emit_msg("msg-interval", &m, true);

    dp_msg_init(&m, DP_MSG_ERROR);
    m.error_code = ECONNREFUSED;
    snprintf(m.text, sizeof m.text, "%s", "udp session socket: Connection refused");
    s_emit_msg("msg-error", &m, true);
    m.text[0] = 0;
    s_emit_msg("msg-error-empty-text", &m, false);
    snprintf(m.text, sizeof m.text, "%s", "udp session socket: Connection refused");
    n = s_body(&m, b, sizeof b);
    b[5] = 0xff, b[6] = 0xff; /* text length 65535 */
    s_emit("msg-error-text-len-ffff", FUZZ_DP_MSG, b, n);
    m.error_code = 0;
    s_emit_msg("msg-error-code-0", &m, false);
    m.error_code = 4096;
    s_emit_msg("msg-error-code-4096", &m, false);
    m.error_code = -1;
    s_emit_msg("msg-error-code-negative", &m, false);

    /* reports */
    dp_msg_init(&m, DP_MSG_DONE);
    s_fill_report(&m.report, ROLE_SENDER);
    s_emit_msg("msg-done-tcp-sender", &m, true);
    n = s_body(&m, b, sizeof b); /* ends with six u32 histogram lengths, all 0 */
    memset(b + n - 24, 0xff, 4);
    s_emit("msg-done-hist-len-ffffffff", FUZZ_DP_MSG, b, n);
    memset(b + n - 24, 0, 4);
    b[n - 1] = 100; /* turn_user: 100 bytes announced, 10 present */
    memset(b + n, 0, 10);
    s_emit("msg-done-hist-len-past-end", FUZZ_DP_MSG, b, n + 10);
    b[n - 1] = 13; /* turn_user: a histogram whose count is an 11-byte varint */
    b[n] = 1, b[n + 1] = 8;
    memset(b + n + 2, 0xff, 10);
    b[n + 12] = 0x01;
    s_emit("msg-done-hist-varint-11-bytes", FUZZ_DP_MSG, b, n + 13);
    b[n - 1] = 5; /* the msgpack huge-array header as a histogram */
    memcpy(b + n, "\xdd\xff\xff\xff\xff", 5);
    s_emit("msg-done-hist-msgpack-huge-array", FUZZ_DP_MSG, b, n + 5);

    m.report.role = 9;
    s_emit_msg("msg-done-bad-role", &m, false);
    m.report.role = ROLE_SENDER;
    m.report.stamp_source = (tstamp_source_t)7;
    s_emit_msg("msg-done-bad-stamp-source", &m, false);
    m.report.stamp_source = TSTAMP_SOURCE_USER;
    m.report.jitter_ns = (double)NAN;
    s_emit_msg("msg-done-jitter-nan", &m, false);
    m.report.jitter_ns = -1;
    s_emit_msg("msg-done-jitter-negative", &m, false);
    m.report.jitter_ns = (double)INFINITY;
    s_emit_msg("msg-done-jitter-inf", &m, false);
    m.report.jitter_ns = 0;
    m.report.socket_drops = -2;
    s_emit_msg("msg-done-socket-drops-minus-2", &m, false);
    m.report.socket_drops = -1;
    m.report.cpu.ncpu = -1;
    s_emit_msg("msg-done-ncpu-negative", &m, false);
    m.report.cpu.ncpu = 2;
    m.report.cpu.total_pct = -0.5;
    s_emit_msg("msg-done-cpu-total-negative", &m, false);
    m.report.cpu.total_pct = 0;
    m.report.cpu.proc_cpu_s = -1;
    s_emit_msg("msg-done-proc-cpu-negative", &m, false);

    dp_msg_init(&m, DP_MSG_DONE);
    s_fill_report(&m.report, ROLE_RECEIVER);
    if (report_alloc_hists(&m.report, ROLE_RECEIVER) < 0)
        exit(1);
    s_fill_latency(m.report.owd, 60, 1);
    s_fill_latency(m.report.owd, 20, -1);
    s_emit_msg("msg-done-udp-receiver-owd", &m, true);
    dp_msg_fini(&m);

    dp_msg_init(&m, DP_MSG_RESULT);
    s_fill_report(&m.report, ROLE_RR_CLIENT);
    if (report_alloc_hists(&m.report, ROLE_RR_CLIENT) < 0)
        exit(1);
    s_fill_latency(m.report.rtt_user, 40, 1);
    s_fill_latency(m.report.rtt_kernel, 40, 1);
    s_fill_latency(m.report.rtt_path, 40, 1);
    s_emit_msg("msg-result-rr-client", &m, true);
    dp_msg_fini(&m);

    dp_msg_init(&m, DP_MSG_RESULT);
    s_fill_report(&m.report, ROLE_REFLECTOR);
    if (report_alloc_hists(&m.report, ROLE_REFLECTOR) < 0)
        exit(1);
    s_fill_latency(m.report.turn_kernel, 40, 1);
    hist_record(m.report.turn_user, 15000);
    s_emit_msg("msg-result-reflector", &m, false);
    if (report_alloc_hists(&m.report, ROLE_RECEIVER) < 0 || report_alloc_hists(&m.report, ROLE_RR_CLIENT) < 0)
        exit(1);
    m.report.role = ROLE_REFLECTOR;
    hist_record(m.report.owd, -7);
    hist_record(m.report.rtt_path, INT64_MAX);
    s_emit_msg("msg-result-all-six-hists", &m, false);
    dp_msg_fini(&m);

    /* unknown types and an empty body */
    static const uint8_t t0[] = {0}, t10[] = {10}, tff[] = {0xff, 0, 0, 0};
    s_emit("msg-type-0", FUZZ_DP_MSG, t0, sizeof t0);
    s_emit("msg-type-10", FUZZ_DP_MSG, t10, sizeof t10);
    s_emit("msg-type-ff", FUZZ_DP_MSG, tff, sizeof tff);
    s_emit_common("msg", FUZZ_DP_MSG);
}

/* ---- greetings, data hellos, datagrams ---- */

static void s_gen_greetings(void)
{
    uint8_t g[DP_DATA_HELLO_LEN];
    dp_greeting_put(g, DP_KIND_CONTROL);
    s_emit("greet-control", FUZZ_DP_GREETING, g, DP_GREETING_LEN);
    s_emit("greet-short-7", FUZZ_DP_GREETING, g, DP_GREETING_LEN - 1);
    dp_greeting_put(g, DP_KIND_DATA);
    s_emit("greet-data", FUZZ_DP_GREETING, g, DP_GREETING_LEN);
    dp_greeting_put(g, 0);
    s_emit("greet-kind-0", FUZZ_DP_GREETING, g, DP_GREETING_LEN);
    dp_greeting_put(g, 3);
    s_emit("greet-kind-3", FUZZ_DP_GREETING, g, DP_GREETING_LEN);
    dp_greeting_put(g, DP_KIND_CONTROL);
    g[6] = DP_VERSION + 1;
    s_emit("greet-version-2", FUZZ_DP_GREETING, g, DP_GREETING_LEN);
    memcpy(g, "VMTPDQ\x01\x01", DP_GREETING_LEN);
    s_emit("greet-bad-magic", FUZZ_DP_GREETING, g, DP_GREETING_LEN);
    s_emit_common("greet", FUZZ_DP_GREETING);

    dp_data_hello_put(g, 0x0123456789abcdefULL, 0);
    s_emit("hello-data-stream-0", FUZZ_DP_DATA_HELLO, g, sizeof g);
    s_emit("hello-short-17", FUZZ_DP_DATA_HELLO, g, sizeof g - 1);
    dp_data_hello_put(g, UINT64_MAX, UINT16_MAX);
    s_emit("hello-data-max", FUZZ_DP_DATA_HELLO, g, sizeof g);
    dp_data_hello_put(g, 42, 127);
    g[7] = DP_KIND_CONTROL;
    s_emit("hello-control-kind", FUZZ_DP_DATA_HELLO, g, sizeof g);
    g[7] = DP_KIND_DATA;
    g[6] = 0;
    s_emit("hello-version-0", FUZZ_DP_DATA_HELLO, g, sizeof g);
    g[6] = DP_VERSION;
    g[0] = 'v';
    s_emit("hello-bad-magic", FUZZ_DP_DATA_HELLO, g, sizeof g);
    s_emit_common("hello", FUZZ_DP_DATA_HELLO);
}

static void s_gen_dgrams(void)
{
    uint8_t b[1024];
    static const struct {
        dp_dgram_kind_t kind;
        const char *name;
    } kinds[] = {{DP_DGRAM_HELLO, "dgram-hello"},   {DP_DGRAM_HELLO_ACK, "dgram-hello-ack"},
                 {DP_DGRAM_DATA, "dgram-data"},     {DP_DGRAM_RR_REQ, "dgram-rr-req"},
                 {DP_DGRAM_RR_REP, "dgram-rr-rep"}, {DP_DGRAM_RR_FLUSH, "dgram-rr-flush"}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        dp_dgram_t d = {.kind = (uint8_t)kinds[i].kind,
                        .seq = 1000 + i,
                        .tx_real_ns = S_START_REAL_NS,
                        .turn_user_ns = 4000,
                        .turn_kernel_ns = DP_TURN_NONE,
                        .turn_seq = 999};
        if (d.kind == DP_DGRAM_RR_REP)
            d.turn_kernel_ns = 2500;
        memset(b, 0, sizeof b);
        dp_dgram_put(b, &d);
        bool rr = d.kind >= DP_DGRAM_RR_REQ;
        s_emit(kinds[i].name, FUZZ_DP_DGRAM, b, rr ? DP_RR_HDR_LEN : DP_DGRAM_HDR_LEN);
        if (rr) /* the RR header cut to the plain one: too short for its kind */
            s_emit(s_name(kinds[i].name, "-short-24"), FUZZ_DP_DGRAM, b, DP_DGRAM_HDR_LEN);
    }
    dp_dgram_t d = {.kind = DP_DGRAM_DATA, .flags = DP_DGRAM_F_WARMUP, .seq = 7, .tx_real_ns = -1};
    memset(b, 0x5a, sizeof b);
    dp_dgram_put(b, &d);
    s_emit("dgram-data-warmup-1024", FUZZ_DP_DGRAM, b, sizeof b);
    s_emit("dgram-short-23", FUZZ_DP_DGRAM, b, DP_DGRAM_HDR_LEN - 1);
    b[6] = 0xff, b[7] = 0xff;
    s_emit("dgram-reserved-ffff", FUZZ_DP_DGRAM, b, DP_DGRAM_HDR_LEN);
    b[6] = b[7] = 0;
    b[4] = 0;
    s_emit("dgram-kind-0", FUZZ_DP_DGRAM, b, DP_DGRAM_HDR_LEN);
    b[4] = 7;
    s_emit("dgram-kind-7", FUZZ_DP_DGRAM, b, DP_RR_HDR_LEN);
    b[4] = DP_DGRAM_DATA;
    b[3] = 'Q';
    s_emit("dgram-bad-magic", FUZZ_DP_DGRAM, b, DP_DGRAM_HDR_LEN);
    s_emit_common("dgram", FUZZ_DP_DGRAM);
}

static void s_gen_raw(void)
{
    static const uint8_t mp[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    uint8_t ff[256];
    memset(ff, 0xff, sizeof ff);
    s_emit_sel("raw-msgpack-huge-array", -1, mp, sizeof mp);
    s_emit_sel("raw-all-ff-256", -1, ff, sizeof ff);
    s_emit_sel("raw-empty", -1, NULL, 0);
    s_emit_sel("raw-zero-byte", -1, "", 1);
}

/* ---- control-plane frames (fuzz_proto; no selector byte) --------------------------------- */

#define S_PBUF 8192 /* a control-plane seed: every one is below S_FILE_MAX */

static void s_pf_str(char *s, size_t n, unsigned salt)
{
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + (i + salt) % 26);
    s[n] = 0;
}

static const uint8_t s_pf_bytes[64] = {0x00, 0xff, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0, 0x80, 0x7f, 1, 2, 3};

/* Message `id` with every field at its lower bound, or at its upper one with BIN fields cut to 64
 * bytes and STRS strings to 16 (the STRS count stays at its maximum): files stay small. */
#define S_PF_UINT(f, a, b) x->f = hi ? (uint64_t)(b) : (uint64_t)(a);
#define S_PF_INT(f, a, b) x->f = hi ? (int64_t)(b) : (int64_t)(a);
#define S_PF_BOOL(f, a, b) x->f = hi;
#define S_PF_STR(f, a, b) s_pf_str(x->f, hi ? (size_t)(b) : (size_t)(a), salt++);
#define S_PF_BIN(f, a, b)                                                                                              \
    x->f = (proto_bin_t){hi ? (uint8_t *)(uintptr_t)s_pf_bytes : NULL, hi ? sizeof s_pf_bytes : 0};
#define S_PF_STRS(f, a, b)                                                                                             \
    x->f.n = hi ? (a) : 0;                                                                                             \
    for (unsigned i = 0; i < x->f.n; i++)                                                                              \
        s_pf_str(x->f.v[i], 16, salt++);
#define S_PF_FIELD(kind, f, a, b, doc) S_PF_##kind(f, a, b)

static void s_proto_fill(proto_msg_t *m, uint32_t id, bool hi)
{
    unsigned salt = 0;
    proto_msg_init(m, (proto_id_t)id, hi ? UINT64_MAX : 0);
    switch (id) {
#define S_PF_MSG(id_, NAME, name, FIELDS, dir, doc)                                                                    \
    case id_: {                                                                                                        \
        proto_##name##_t *x = &m->u.name;                                                                              \
        FIELDS(S_PF_FIELD) break;                                                                                      \
    }
        PROTO_MESSAGES(S_PF_MSG)
#undef S_PF_MSG
    default: break;
    }
}

/* m encoded into out; exits on failure (a generator bug). */
static size_t s_proto_frame(const proto_msg_t *m, uint8_t *out)
{
    uint8_t *f = NULL;
    size_t n = 0;
    char why[256] = "";
    int rc = proto_encode(m, &f, &n, why, sizeof why);
    if (rc < 0 || n > S_PBUF) {
        fprintf(stderr, "fuzz_gen_corpus: %s: proto_encode failed (%d: %s)\n", proto_name(m->id), rc, why);
        exit(1);
    }
    memcpy(out, f, n);
    free(f);
    return n;
}

/* Offset just past the msgpack object at d[pos] of a frame proto_encode made. */
static size_t s_mp_skip(const uint8_t *d, size_t pos)
{
    uint8_t t = d[pos++];
    size_t n = 0;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc2 || t == 0xc3)
        return pos;
    if (t >= 0xa0 && t <= 0xbf)
        return pos + (t & 0x1f);
    if (t >= 0xcc && t <= 0xd3)
        return pos + ((size_t)1 << (t & 0x03));
    if (t == 0xc4 || t == 0xd9)
        return pos + 1 + d[pos];
    if (t == 0xc5 || t == 0xda)
        return pos + 2 + ((size_t)d[pos] << 8 | d[pos + 1]);
    if (t >= 0x90 && t <= 0x9f)
        n = t & 0x0f;
    else if (t == 0xdc)
        n = (size_t)d[pos] << 8 | d[pos + 1], pos += 2;
    for (size_t i = 0; i < n; i++)
        pos = s_mp_skip(d, pos);
    return pos;
}

/* The element count of the frame f (a fixarray or array16, as proto_encode writes them); returns
 * the offset of its first element. */
static size_t s_proto_count(const uint8_t *f, unsigned *count)
{
    *count = f[0] == 0xdc ? (unsigned)f[1] << 8 | f[2] : f[0] & 0x0fu;
    return f[0] == 0xdc ? 3 : 1;
}

/* Frame f (from proto_encode) with element k replaced by rep[0..rn) into out; k equal to the
 * element count appends rep, rep NULL removes element k. Returns the new length. */
static size_t s_proto_splice(const uint8_t *f, unsigned k, const void *rep, size_t rn, uint8_t *out)
{
    unsigned count;
    size_t pos = s_proto_count(f, &count), n = 0;
    unsigned ncount = count - !rep + (rep && k >= count);
    if (ncount < 16) {
        out[n++] = (uint8_t)(0x90 | ncount);
    } else {
        out[n++] = 0xdc, out[n++] = (uint8_t)(ncount >> 8), out[n++] = (uint8_t)ncount;
    }
    for (unsigned i = 0; i <= count; i++) {
        size_t end = i < count ? s_mp_skip(f, pos) : pos;
        if (i == k && rep)
            memcpy(out + n, rep, rn), n += rn;
        else if (i != k && i < count)
            memcpy(out + n, f + pos, end - pos), n += end - pos;
        pos = end;
    }
    return n;
}

static void s_pemit(const char *name, const void *bytes, size_t len) { s_emit_sel(name, -1, bytes, len); }

/* "hello" for PROTO_HELLO: the message's name in lower case, for file names. */
static const char *s_pname(uint32_t id)
{
    static char buf[32];
    const char *up = proto_name(id);
    size_t i = 0;
    for (; up[i] && i + 1 < sizeof buf; i++)
        buf[i] = (char)(up[i] >= 'A' && up[i] <= 'Z' ? up[i] - 'A' + 'a' : up[i]);
    buf[i] = 0;
    return buf;
}

/* Emits "<msg>-<what>": frame f with element k replaced by rep (see s_proto_splice). */
static void s_pemit_splice(const char *msg, const char *what, const uint8_t *f, unsigned k, const void *rep, size_t rn)
{
    static uint8_t out[S_PBUF + 64];
    char name[64];
    snprintf(name, sizeof name, "%s-%s", msg, what);
    s_pemit(name, out, s_proto_splice(f, k, rep, rn, out));
}

/* A field of a known message and what to put there. */
typedef struct {
    uint32_t id;
    unsigned field; /* index among the message's fields */
    const char *what;
    uint8_t rep[12];
    size_t n;
} s_pcase_t;

static void s_gen_proto(void)
{
    static const uint8_t huge[][5] = {{0xdd, 0xff, 0xff, 0xff, 0xff}, {0xdc, 0xff, 0xff},
                                      {0xdb, 0xff, 0xff, 0xff, 0xff}, {0xda, 0xff, 0xff},
                                      {0xc6, 0xff, 0xff, 0xff, 0xff}, {0xc5, 0xff, 0xff}};
    static const char *huge_name[] = {"array32", "array16", "str32", "str16", "bin32", "bin16"};
    static const uint8_t huge_len[] = {5, 3, 5, 3, 5, 3};
    static const uint32_t ids[] = {
#define S_PID(id_, NAME, name, FIELDS, dir, doc) id_,
        PROTO_MESSAGES(S_PID)
#undef S_PID
    };
    uint8_t f[S_PBUF], g[S_PBUF];
    char name[64];
    proto_msg_t m;

    /* the frame of 5 bytes that asks msgpack-c for 2^32 objects, and its kin */
    for (size_t j = 0; j < sizeof huge / sizeof huge[0]; j++) {
        snprintf(name, sizeof name, "huge-%s", huge_name[j]);
        s_pemit(name, huge[j], huge_len[j]);
    }

    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const char *msg = s_pname(ids[i]);
        s_proto_fill(&m, ids[i], false);
        size_t n = s_proto_frame(&m, f);
        snprintf(name, sizeof name, "%s-min", msg);
        s_pemit(name, f, n);
        s_proto_fill(&m, ids[i], true);
        n = s_proto_frame(&m, f);
        unsigned nf;
        size_t first = s_proto_count(f, &nf); /* offset of the version */
        nf -= 3;
        snprintf(name, sizeof name, "%s-max", msg);
        s_pemit(name, f, n);

        /* damaged copies of the upper-bound frame */
        snprintf(name, sizeof name, "%s-trunc-half", msg);
        s_pemit(name, f, n / 2);
        snprintf(name, sizeof name, "%s-trunc-last-byte", msg);
        s_pemit(name, f, n - 1);
        memcpy(g, f, n);
        g[n] = 0;
        snprintf(name, sizeof name, "%s-trailing-byte", msg);
        s_pemit(name, g, n + 1);
        g[first] = 2;
        snprintf(name, sizeof name, "%s-version-2", msg);
        s_pemit(name, g, n);
        s_pemit_splice(msg, "one-field-more", f, 3 + nf, "\x00", 1);
        s_pemit_splice(msg, "one-field-less", f, 3 + nf - 1, NULL, 0);
        s_pemit_splice(msg, "negative-version", f, 0, "\xff", 1);
        s_pemit_splice(msg, "seq-as-string", f, 2, "\xa1x", 2);
        s_pemit_splice(msg, "first-field-nil", f, 3, "\xc0", 1);
        s_pemit_splice(msg, "last-field-float", f, 3 + nf - 1, "\xca\x3f\x80\x00\x00", 5);
        s_pemit_splice(msg, "huge-array32-as-version", f, 0, huge[0], huge_len[0]);
        for (size_t j = 0; j < sizeof huge / sizeof huge[0]; j += 2) { /* the 32-bit ones */
            snprintf(name, sizeof name, "huge-%s-as-seq", huge_name[j]);
            s_pemit_splice(msg, name, f, 2, huge[j], huge_len[j]);
            snprintf(name, sizeof name, "huge-%s-as-first", huge_name[j]);
            s_pemit_splice(msg, name, f, 3, huge[j], huge_len[j]);
            snprintf(name, sizeof name, "huge-%s-as-last", huge_name[j]);
            s_pemit_splice(msg, name, f, 3 + nf - 1, huge[j], huge_len[j]);
        }
    }

    /* values at and past the bounds, and wrong types, one field at a time */
    static const s_pcase_t cases[] = {
        {PROTO_RUN, 2, "port-0", {0x00}, 1},
        {PROTO_RUN, 2, "port-65536", {0xce, 0x00, 0x01, 0x00, 0x00}, 5},
        {PROTO_RUN, 0, "test-id-0", {0x00}, 1},
        {PROTO_RUN, 1, "target-empty", {0xa0}, 1},
        {PROTO_RUN, 3, "spec-as-string", {0xa1, 'x'}, 2},
        {PROTO_RUN, 3, "spec-as-bin32", {0xc6, 0, 0, 0, 1, 0xee}, 6},
        {PROTO_RESULT, 1, "status-1", {0x01}, 1},
        {PROTO_RESULT, 1, "status-minus-4096", {0xd1, 0xf0, 0x00}, 3},
        {PROTO_RESULT, 1, "status-as-int64", {0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0, 0x01}, 9},
        {PROTO_RESULT, 4, "start-2-pow-63", {0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9},
        {PROTO_RESULT, 2, "error-with-nul", {0xa3, 'a', 0, 'b'}, 4},
        {PROTO_CLOCK, 4, "offset-int64-min", {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9},
        {PROTO_CLOCK, 3, "interval-999", {0xcd, 0x03, 0xe7}, 3},
        {PROTO_CLOCK, 2, "count-7", {0x07}, 1},
        {PROTO_INTERVAL, 1, "remote-as-1", {0x01}, 1},
        {PROTO_INTERVAL, 1, "remote-false", {0xc2}, 1},
        {PROTO_STOP, 0, "test-id-uint64-max", {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
        {PROTO_STOP, 0, "test-id-negative", {0xff}, 1},
        {PROTO_HEARTBEAT, 1, "running-map", {0x81, 0x01, 0x01}, 3},
        {PROTO_HEARTBEAT, 1, "running-ext", {0xd4, 0x01, 0x00}, 3},
        {PROTO_HEARTBEAT, 0, "sent-as-str32", {0xdb, 0, 0, 0, 1, '1'}, 6},
        {PROTO_ERROR, 0, "code-0", {0x00}, 1},
        {PROTO_ERROR, 0, "code-4096", {0xcd, 0x10, 0x00}, 3},
        {PROTO_HELLO, 8, "addrs-empty", {0x90}, 1},
        {PROTO_HELLO, 8, "addrs-as-array32", {0xdd, 0, 0, 0, 1, 0xa1, 'x'}, 7},
        {PROTO_HELLO, 8, "addrs-nested-4-deep", {0x91, 0x91, 0x90}, 3},
        {PROTO_HELLO, 8, "addrs-holding-array", {0x91, 0x91, 0xa1, 'x'}, 4},
        {PROTO_HELLO, 8, "addrs-holding-bin", {0x91, 0xc4, 0x01, 'x'}, 4},
        {PROTO_HELLO, 8, "addrs-holding-nil", {0x92, 0xa1, 'x', 0xc0}, 4},
        {PROTO_HELLO, 8, "addrs-holding-str32-huge", {0x92, 0xa1, 'x', 0xdb, 0xff, 0xff, 0xff, 0xff}, 8},
        {PROTO_HELLO, 8, "addrs-holding-array32-huge", {0x91, 0xdd, 0xff, 0xff, 0xff, 0xff}, 6},
        {PROTO_HELLO, 8, "addrs-as-string", {0xa1, 'x'}, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_proto_fill(&m, cases[i].id, true);
        s_proto_frame(&m, f);
        s_pemit_splice(s_pname(cases[i].id), cases[i].what, f, 3 + cases[i].field, cases[i].rep, cases[i].n);
    }

    /* strings and arrays one past their bounds, built by the encoder's own rules */
    static const struct {
        uint32_t id;
        unsigned field;
        const char *what;
        uint8_t tag; /* str16 or bin16 */
        size_t len;
    } longer[] = {{PROTO_BYE, 0, "reason-257", 0xda, 257},
                  {PROTO_ERROR, 1, "text-513", 0xda, 513},
                  {PROTO_INTERVAL, 2, "interval-257", 0xc5, 257},
                  {PROTO_RUN, 3, "spec-513", 0xc5, 513}};
    for (size_t i = 0; i < sizeof longer / sizeof longer[0]; i++) {
        s_proto_fill(&m, longer[i].id, true);
        s_proto_frame(&m, f);
        g[0] = longer[i].tag, g[1] = (uint8_t)(longer[i].len >> 8), g[2] = (uint8_t)longer[i].len;
        memset(g + 3, 'x', longer[i].len);
        s_pemit_splice(s_pname(longer[i].id), longer[i].what, f, 3 + longer[i].field, g, 3 + longer[i].len);
    }
    s_proto_fill(&m, PROTO_HELLO, true);
    s_proto_frame(&m, f);
    uint8_t addrs[80 * 2 + 8];
    size_t an = 0;
    addrs[an++] = 0xdc, addrs[an++] = 0, addrs[an++] = 65;
    for (int i = 0; i < 65; i++)
        addrs[an++] = 0xa1, addrs[an++] = (uint8_t)('a' + i % 26);
    s_pemit_splice("hello", "addrs-65", f, 3 + 8, addrs, an);

    /* realistic traffic: what the agent and the coordinator send each other */
    proto_msg_init(&m, PROTO_HELLO, 1);
    snprintf(m.u.hello.version, sizeof m.u.hello.version, "%s", "0.1.0");
    snprintf(m.u.hello.role, sizeof m.u.hello.role, "%s", "node");
    snprintf(m.u.hello.run_id, sizeof m.u.hello.run_id, "%s", "20231114-221320-7f3a");
    snprintf(m.u.hello.hostname, sizeof m.u.hello.hostname, "%s", "vm-a.example.net");
    snprintf(m.u.hello.host_id, sizeof m.u.hello.host_id, "%s", "3f1c9d2e8b7a4c6d9e0f1a2b3c4d5e6f");
    snprintf(m.u.hello.kernel, sizeof m.u.hello.kernel, "%s", "6.1.0-18-amd64");
    m.u.hello.stamping = 3, m.u.hello.ncpu = 2, m.u.hello.heartbeat_ms = 1000, m.u.hello.silence_ms = 30000;
    m.u.hello.real_ns = S_START_REAL_NS;
    m.u.hello.addrs.n = 2;
    snprintf(m.u.hello.addrs.v[0], sizeof m.u.hello.addrs.v[0], "%s", "lo 127.0.0.1/8");
    snprintf(m.u.hello.addrs.v[1], sizeof m.u.hello.addrs.v[1], "%s", "eth0 10.0.0.5/24");
    s_pemit("real-hello-node", f, s_proto_frame(&m, f));
    dp_msg_t dm;
    dp_msg_init(&dm, DP_MSG_TEST);
    dm.test = s_spec(TEST_UDP);
    uint8_t spec[512];
    proto_msg_init(&m, PROTO_RUN, 42);
    m.u.run.test_id = 7, m.u.run.port = 5201;
    snprintf(m.u.run.target, sizeof m.u.run.target, "%s", "10.0.0.6");
    m.u.run.spec = (proto_bin_t){spec, s_body(&dm, spec, sizeof spec)};
    s_pemit("real-run-udp", f, s_proto_frame(&m, f));
    proto_msg_init(&m, PROTO_CLOCK, 43);
    snprintf(m.u.clock.peer, sizeof m.u.clock.peer, "%s", "fe80::1%eth0");
    m.u.clock.port = 5201, m.u.clock.count = 64, m.u.clock.interval_ns = 10000000;
    m.u.clock.offset_ns = -123456, m.u.clock.bound_ns = 21000, m.u.clock.rtt_min_ns = 42000, m.u.clock.samples = 63;
    s_pemit("real-clock-reply", f, s_proto_frame(&m, f));
    proto_msg_init(&m, PROTO_ERROR, 42);
    m.u.error.code = ECONNREFUSED;
    snprintf(m.u.error.text, sizeof m.u.error.text, "%s", "RUN: connect 10.0.0.6:5201: Connection refused");
    s_pemit("real-error", f, s_proto_frame(&m, f));

    /* whole frames that are not [version, id, seq, ...] */
    static const struct {
        const char *name;
        uint8_t b[16];
        size_t n;
    } raw[] = {
        {"raw-empty", {0}, 0},
        {"raw-empty-array", {0x90}, 1},
        {"raw-version-only", {0x91, 0x01}, 2},
        {"raw-uint", {0x01}, 1},
        {"raw-map", {0x81, 0xa1, 'x', 0x01}, 4},
        {"raw-float64", {0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}, 9},
        {"raw-nil", {0xc0}, 1},
        {"raw-id-0", {0x93, 0x01, 0x00, 0x07}, 4},
        {"raw-id-127", {0x93, 0x01, 0x7f, 0x07}, 4},
        {"raw-id-2-pow-32-plus-2", {0x93, 0x01, 0xcf, 0, 0, 0, 0x01, 0, 0, 0, 0x02, 0x07}, 12},
        {"raw-version-2-id-99", {0x93, 0x02, 0x63, 0x07}, 4},
        {"raw-nested-4-deep", {0x91, 0x91, 0x91, 0x90}, 4},
        {"raw-truncated-uint16", {0x93, 0x01, 0x02, 0xcd, 0x01}, 5},
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
        s_pemit(raw[i].name, raw[i].b, raw[i].n);
    memset(g, 0xff, 64);
    s_pemit("raw-all-ff", g, 64);
}

int main(int argc, char **argv)
{
    bool proto = argc == 3 && strcmp(argv[1], "--proto") == 0;
    if (argc != 2 && !proto) {
        fprintf(stderr, "usage: %s [--proto] OUTDIR\n", argc > 0 ? argv[0] : "fuzz_gen_corpus");
        return 2;
    }
    s_dir = argv[argc - 1];
    if (proto) {
        s_gen_proto();
    } else {
        s_gen_msgs();
        s_gen_greetings();
        s_gen_dgrams();
        s_gen_hists();
        s_gen_raw();
    }
    printf("fuzz_gen_corpus: %zu files written to %s\n", s_written, s_dir);
    if (s_failed) {
        fprintf(stderr, "fuzz_gen_corpus: %d files failed\n", s_failed);
        return 1;
    }
    return 0;
}
