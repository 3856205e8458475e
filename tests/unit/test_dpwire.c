/* test_dpwire.c — measure/dpwire.h: control-message round trips of every type, the strict
 * decoder's rejections (types, every truncation, trailing bytes, bad bools, non-finite doubles,
 * enums out of range, bad histograms), test-spec validation per protocol, greetings and datagram
 * headers.
 */
#include "check.h"

#include "dpwire.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define BUF_CAP (64 * 1024)

static uint8_t s_buf[BUF_CAP];

/* Encodes m into s_buf and checks the length prefix; returns the frame length or < 0. */
static long s_encode(const dp_msg_t *m)
{
    long n = dp_msg_encode(m, s_buf, sizeof s_buf);
    CHECK(n >= 5, "dp_msg_encode(%s) = %ld", dp_msg_name(m->type), n);
    if (n < 5)
        return -1;
    uint32_t prefix = (uint32_t)s_buf[0] << 24 | (uint32_t)s_buf[1] << 16 | (uint32_t)s_buf[2] << 8 | s_buf[3];
    CHECK(prefix == (uint32_t)(n - 4), "%s: length prefix %u, frame %ld", dp_msg_name(m->type), prefix, n);
    CHECK(s_buf[4] == m->type, "%s: type byte %u", dp_msg_name(m->type), s_buf[4]);
    return n;
}

/* Decoding body[0..len) must fail with -EINVAL. */
static void s_expect_reject(const uint8_t *body, size_t len, const char *why)
{
    dp_msg_t m;
    int rc = dp_msg_decode(body, len, &m);
    CHECK(rc == -EINVAL, "%s: dp_msg_decode = %d, expected -EINVAL", why, rc);
    dp_msg_fini(&m);
    dp_msg_fini(&m); /* idempotent */
}

/* Every truncation of a valid body and one trailing byte are rejected. */
static void s_reject_truncations(const uint8_t *body, size_t len, const char *what)
{
    uint8_t *copy = malloc(len + 1);
    if (!copy)
        return;
    for (size_t cut = 0; cut < len && check_keep_going(); cut++) {
        char why[96];
        snprintf(why, sizeof why, "%s truncated to %zu of %zu bytes", what, cut, len);
        uint8_t *exact = malloc(cut ? cut : 1); /* exact size: ASan sees any read past the cut */
        if (exact) {
            memcpy(exact, body, cut);
            s_expect_reject(exact, cut, why);
            free(exact);
        }
    }
    memcpy(copy, body, len);
    copy[len] = 0;
    char why[96];
    snprintf(why, sizeof why, "%s with one trailing byte", what);
    s_expect_reject(copy, len + 1, why);
    free(copy);
}

static test_spec_t s_full_spec(void)
{
    test_spec_t t;
    memset(&t, 0, sizeof t);
    t.proto = TEST_UDP;
    t.reverse = true;
    t.streams = 3;
    t.len = 1470;
    t.rate_bps = 123456789012ULL;
    t.duration_ns = 10000000001LL;
    t.omit_ns = 2000000002LL;
    t.interval_ns = 1000000003LL;
    t.sndbuf = 4194304;
    t.rcvbuf = 8388609;
    t.rr_mode = RR_MODE_ISOCHRONOUS;
    t.rr_interval_ns = 1000004;
    t.rr_count = 5000005;
    t.rr_timeout_ns = 2000000006LL;
    t.start_real_ns = 1700000000123456789LL;
    t.clock_offset_ns = -12345;
    t.clock_known = true;
    return t;
}

static void s_check_spec(const test_spec_t *a, const test_spec_t *b)
{
#define F(x) CHECK(a->x == b->x, "spec field " #x " differs after decoding")
    F(proto);
    F(reverse);
    F(streams);
    F(len);
    F(rate_bps);
    F(duration_ns);
    F(omit_ns);
    F(interval_ns);
    F(sndbuf);
    F(rcvbuf);
    F(rr_mode);
    F(rr_interval_ns);
    F(rr_count);
    F(rr_timeout_ns);
    F(start_real_ns);
    F(clock_offset_ns);
    F(clock_known);
#undef F
}

static tcpinfo_t s_tcpinfo(uint32_t base)
{
    tcpinfo_t t = {.valid = true,
                   .rtt_us = base + 1,
                   .rttvar_us = base + 2,
                   .min_rtt_us = base + 3,
                   .snd_cwnd = base + 4,
                   .snd_mss = base + 5,
                   .total_retrans = 10000000000ULL + base,
                   .delivery_rate_bps = 20000000000ULL + base,
                   .bytes_acked = 30000000000ULL + base};
    return t;
}

static void s_check_tcpinfo(const tcpinfo_t *a, const tcpinfo_t *b, const char *what)
{
#define F(x) CHECK(a->x == b->x, "%s: tcpinfo field " #x " differs after decoding", what)
    F(valid);
    F(rtt_us);
    F(rttvar_us);
    F(min_rtt_us);
    F(snd_cwnd);
    F(snd_mss);
    F(total_retrans);
    F(delivery_rate_bps);
    F(bytes_acked);
#undef F
}

/* A histogram with n values from a fixed seed. */
static hist_t *s_hist(uint64_t seed, int n, int64_t lo, int64_t span)
{
    hist_t *h = hist_new();
    if (!h)
        return NULL;
    for (int i = 0; i < n; i++)
        hist_record(h, lo + (int64_t)check_rand_below(&seed, (uint64_t)span));
    return h;
}

static void s_fill_report(report_t *r, bool all_hists)
{
    report_init(r);
    r->role = ROLE_RECEIVER;
    r->tx_bytes = 1000000001ULL;
    r->tx_packets = 1000002;
    r->tx_omitted = 1003;
    r->tx_errors = 4;
    r->tx_start_real_ns = 1700000000000000005LL;
    r->tx_end_real_ns = 1700000010000000006LL;
    r->tcp = s_tcpinfo(100);
    r->rx_bytes = 999999007ULL;
    r->rx_bytes_total = 1999999008ULL;
    r->rx_packets = 999009;
    r->rx_start_real_ns = 1700000000000000010LL;
    r->rx_end_real_ns = 1700000010000000011LL;
    r->rx_duplicates = 12;
    r->rx_reordered = 13;
    r->rx_too_old = 14;
    r->rx_foreign = 15;
    r->rx_omitted = 16;
    r->socket_drops = 17;
    r->jitter_ns = 12345.678;
    r->rr_sent = 19;
    r->rr_received = 20;
    r->rr_late = 21;
    r->stamps_missing = 22;
    r->reflected = 23;
    r->stamp_source = TSTAMP_SOURCE_KERNEL;
    r->cpu.total_pct = 51.25;
    r->cpu.user_pct = 20.5;
    r->cpu.system_pct = 10.125;
    r->cpu.softirq_pct = 15.0625;
    r->cpu.steal_pct = 5.5625;
    r->cpu.proc_cpu_s = 3.75;
    r->cpu.elapsed_s = 10.001;
    r->cpu.ncpu = 2;
    r->owd = s_hist(1, 5000, -200000, 3000000);
    if (all_hists) {
        r->rtt_user = s_hist(2, 3000, 20000, 500000);
        r->rtt_kernel = s_hist(3, 3000, 10000, 400000);
        r->rtt_path = s_hist(4, 2999, 5000, 300000);
        r->turn_kernel = s_hist(5, 100, 100, 200);
        r->turn_user = s_hist(6, 1, 7, 1);
    }
}

static void s_check_hist(const hist_t *a, const hist_t *b, const char *what)
{
    CHECK((a == NULL) == (b == NULL), "%s: present before %d, after %d", what, a != NULL, b != NULL);
    if (!a || !b)
        return;
    CHECK_EQ_U64(hist_count(b), hist_count(a), what);
    CHECK_EQ_I64(hist_min(b), hist_min(a), what);
    CHECK_EQ_I64(hist_max(b), hist_max(a), what);
    CHECK(hist_mean(b) == hist_mean(a), "%s: mean %.17g vs %.17g", what, hist_mean(b), hist_mean(a));
    static const double ps[] = {0, 1, 10, 50, 90, 99, 99.9, 100};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        CHECK(hist_percentile(b, ps[i]) == hist_percentile(a, ps[i]), "%s: p%g %" PRId64 " vs %" PRId64, what, ps[i],
              hist_percentile(b, ps[i]), hist_percentile(a, ps[i]));
}

static void s_check_report(const report_t *a, const report_t *b)
{
#define F(x) CHECK(a->x == b->x, "report field " #x " differs after decoding")
    F(role);
    F(tx_bytes);
    F(tx_packets);
    F(tx_omitted);
    F(tx_errors);
    F(tx_start_real_ns);
    F(tx_end_real_ns);
    F(rx_bytes);
    F(rx_bytes_total);
    F(rx_packets);
    F(rx_start_real_ns);
    F(rx_end_real_ns);
    F(rx_duplicates);
    F(rx_reordered);
    F(rx_too_old);
    F(rx_foreign);
    F(rx_omitted);
    F(socket_drops);
    F(jitter_ns);
    F(rr_sent);
    F(rr_received);
    F(rr_late);
    F(stamps_missing);
    F(reflected);
    F(stamp_source);
    F(cpu.total_pct);
    F(cpu.user_pct);
    F(cpu.system_pct);
    F(cpu.softirq_pct);
    F(cpu.steal_pct);
    F(cpu.proc_cpu_s);
    F(cpu.elapsed_s);
    F(cpu.ncpu);
#undef F
    s_check_tcpinfo(&a->tcp, &b->tcp, "report");
    s_check_hist(a->owd, b->owd, "owd");
    s_check_hist(a->rtt_user, b->rtt_user, "rtt_user");
    s_check_hist(a->rtt_kernel, b->rtt_kernel, "rtt_kernel");
    s_check_hist(a->rtt_path, b->rtt_path, "rtt_path");
    s_check_hist(a->turn_kernel, b->turn_kernel, "turn_kernel");
    s_check_hist(a->turn_user, b->turn_user, "turn_user");
}

/* Encodes, decodes, compares with cmp, then rejects every truncation and a trailing byte. */
typedef void (*s_cmp_fn)(const dp_msg_t *a, const dp_msg_t *b);

static void s_round_trip(const dp_msg_t *m, s_cmp_fn cmp)
{
    const char *name = dp_msg_name(m->type);
    long n = s_encode(m);
    if (n < 0)
        return;
    uint8_t *body = malloc((size_t)n - 4);
    if (!body)
        return;
    memcpy(body, s_buf + 4, (size_t)n - 4);
    dp_msg_t d;
    int rc = dp_msg_decode(body, (size_t)n - 4, &d);
    CHECK(rc == 0, "%s: decode of a valid body = %d", name, rc);
    if (rc == 0) {
        CHECK(d.type == m->type, "%s: decoded type %u", name, d.type);
        if (cmp)
            cmp(m, &d);
    }
    dp_msg_fini(&d);
    s_reject_truncations(body, (size_t)n - 4, name);
    free(body);
}

static void s_cmp_test(const dp_msg_t *a, const dp_msg_t *b) { s_check_spec(&a->test, &b->test); }
static void s_cmp_accept(const dp_msg_t *a, const dp_msg_t *b)
{
    CHECK(a->cookie == b->cookie, "ACCEPT cookie");
    CHECK(strcmp(a->server_id, b->server_id) == 0, "ACCEPT server_id '%s'", b->server_id);
}
static void s_cmp_interval(const dp_msg_t *a, const dp_msg_t *b)
{
    const interval_t *x = &a->interval, *y = &b->interval;
    CHECK(x->start_ns == y->start_ns && x->end_ns == y->end_ns, "INTERVAL times");
    CHECK(x->bytes == y->bytes && x->packets == y->packets, "INTERVAL bytes/packets");
    CHECK(x->lost == y->lost && x->retrans == y->retrans, "INTERVAL lost/retrans");
    s_check_tcpinfo(&x->tcp, &y->tcp, "INTERVAL");
}
static void s_cmp_report(const dp_msg_t *a, const dp_msg_t *b) { s_check_report(&a->report, &b->report); }
static void s_cmp_error(const dp_msg_t *a, const dp_msg_t *b)
{
    CHECK(a->error_code == b->error_code, "ERROR code %d", b->error_code);
    CHECK(strcmp(a->text, b->text) == 0, "ERROR text '%s'", b->text);
}

static void test_round_trips(void)
{
    dp_msg_t m;

    dp_msg_init(&m, DP_MSG_TEST);
    m.test = s_full_spec();
    s_round_trip(&m, s_cmp_test);
    dp_msg_fini(&m);

    dp_msg_init(&m, DP_MSG_ACCEPT);
    m.cookie = 0xfedcba9876543210ULL;
    snprintf(m.server_id, sizeof m.server_id, "%s", "vm-17.example 6.1.0-18-amd64");
    s_round_trip(&m, s_cmp_accept);
    memset(m.server_id, 'x', sizeof m.server_id - 1); /* the longest id that fits */
    m.server_id[sizeof m.server_id - 1] = 0;
    s_round_trip(&m, s_cmp_accept);
    dp_msg_fini(&m);

    dp_msg_init(&m, DP_MSG_READY);
    s_round_trip(&m, NULL);
    dp_msg_init(&m, DP_MSG_STOP);
    s_round_trip(&m, NULL);

    dp_msg_init(&m, DP_MSG_START);
    s_round_trip(&m, NULL);

    dp_msg_init(&m, DP_MSG_INTERVAL);
    m.interval.start_ns = 1000000000;
    m.interval.end_ns = 2000000001;
    m.interval.bytes = 125000000002ULL;
    m.interval.packets = 85000003;
    m.interval.lost = 4;
    m.interval.retrans = 5;
    m.interval.tcp = s_tcpinfo(7);
    s_round_trip(&m, s_cmp_interval);

    for (int type = DP_MSG_DONE; type <= DP_MSG_RESULT; type++) {
        dp_msg_init(&m, (dp_msg_type_t)type);
        s_fill_report(&m.report, true);
        s_round_trip(&m, s_cmp_report);
        dp_msg_fini(&m);
        dp_msg_init(&m, (dp_msg_type_t)type);
        s_fill_report(&m.report, false); /* absent histograms stay absent */
        m.report.socket_drops = -1;
        s_round_trip(&m, s_cmp_report);
        dp_msg_fini(&m);
    }

    dp_msg_init(&m, DP_MSG_ERROR);
    m.error_code = EHOSTUNREACH;
    snprintf(m.text, sizeof m.text, "%s", "no route to 10.0.0.7");
    s_round_trip(&m, s_cmp_error);
    m.error_code = 4095;
    m.text[0] = 0;
    s_round_trip(&m, s_cmp_error);
    dp_msg_fini(&m);
}

/* Offset in the body of the one byte where the encodings of a and b differ, or -1. */
static long s_diff_offset(const dp_msg_t *a, const dp_msg_t *b)
{
    static uint8_t x[BUF_CAP], y[BUF_CAP];
    long na = dp_msg_encode(a, x, sizeof x), nb = dp_msg_encode(b, y, sizeof y);
    if (na < 5 || na != nb)
        return -1;
    long off = -1;
    for (long i = 4; i < na; i++)
        if (x[i] != y[i]) {
            if (off >= 0)
                return -1;
            off = i - 4;
        }
    return off;
}

/* Encodes m, sets body byte off to v, expects rejection. */
static void s_reject_patched(const dp_msg_t *m, long off, uint8_t v, const char *why)
{
    long n = s_encode(m);
    CHECK(off >= 0 && off < n - 4, "%s: test setup: field offset %ld", why, off);
    if (n < 0 || off < 0 || off >= n - 4)
        return;
    s_buf[4 + off] = v;
    s_expect_reject(s_buf + 4, (size_t)n - 4, why);
}

static void s_reject_encoded(const dp_msg_t *m, const char *why)
{
    long n = dp_msg_encode(m, s_buf, sizeof s_buf);
    CHECK(n >= 5, "%s: encode = %ld", why, n);
    if (n >= 5)
        s_expect_reject(s_buf + 4, (size_t)n - 4, why);
}

static void test_rejections(void)
{
    static const uint8_t t0[] = {0}, t10[] = {10}, t255[] = {255}, t0x[] = {0, 1, 2, 3};
    s_expect_reject(t0, sizeof t0, "type 0");
    s_expect_reject(t0x, sizeof t0x, "type 0 with a body");
    s_expect_reject(t10, sizeof t10, "type 10 (> DP_MSG_STOP)");
    s_expect_reject(t255, sizeof t255, "type 255");
    s_expect_reject(NULL, 0, "empty frame");

    /* Bool bytes of 2. */
    dp_msg_t a, b;
    dp_msg_init(&a, DP_MSG_TEST);
    a.test = s_full_spec();
    b = a;
    b.test.reverse = false;
    s_reject_patched(&a, s_diff_offset(&a, &b), 2, "TEST reverse = 2");
    b = a;
    b.test.clock_known = false;
    s_reject_patched(&a, s_diff_offset(&a, &b), 2, "TEST clock_known = 2");
    s_reject_patched(&a, s_diff_offset(&a, &b), 0xff, "TEST clock_known = 255");

    dp_msg_init(&a, DP_MSG_INTERVAL);
    a.interval.tcp = s_tcpinfo(1);
    b = a;
    b.interval.tcp.valid = false;
    s_reject_patched(&a, s_diff_offset(&a, &b), 2, "INTERVAL tcp.valid = 2");

    /* Report: role, stamp source, tcp.valid, non-finite doubles; histograms decoded before the
     * failing check must not leak (LeakSanitizer watches the ASan build). */
    dp_msg_init(&a, DP_MSG_DONE);
    s_fill_report(&a.report, true);
    dp_msg_t c = a;
    c.report.tcp.valid = false;
    s_reject_patched(&a, s_diff_offset(&a, &c), 2, "DONE tcp.valid = 2");
    a.report.role = 9;
    s_reject_encoded(&a, "report role 9");
    a.report.role = ROLE_REFLECTOR + 1;
    s_reject_encoded(&a, "report role 5");
    a.report.role = ROLE_RECEIVER;
    a.report.stamp_source = TSTAMP_SOURCE_HARDWARE + 1;
    s_reject_encoded(&a, "stamp source 4");
    a.report.stamp_source = TSTAMP_SOURCE_KERNEL;

    const double bad[] = {(double)NAN, (double)INFINITY, -(double)INFINITY};
    double *cpu_fields[] = {&a.report.cpu.total_pct,   &a.report.cpu.user_pct,  &a.report.cpu.system_pct,
                            &a.report.cpu.softirq_pct, &a.report.cpu.steal_pct, &a.report.cpu.proc_cpu_s,
                            &a.report.cpu.elapsed_s,   &a.report.jitter_ns};
    for (size_t f = 0; f < sizeof cpu_fields / sizeof cpu_fields[0]; f++)
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            double keep = *cpu_fields[f];
            *cpu_fields[f] = bad[k];
            char why[64];
            snprintf(why, sizeof why, "double field %zu = %g", f, bad[k]);
            s_reject_encoded(&a, why);
            *cpu_fields[f] = keep;
        }

    /* A corrupt histogram inside the report: its version byte. */
    a.report.jitter_ns = 1.0;
    long n = s_encode(&a);
    uint8_t ser[HIST_SERIALIZED_MAX];
    long hn = hist_serialize(a.report.rtt_kernel, ser, sizeof ser);
    uint8_t *at = n > 0 && hn > 0 ? memmem(s_buf, (size_t)n, ser, (size_t)hn) : NULL;
    CHECK(at != NULL, "test setup: the rtt_kernel histogram is in the frame");
    if (at) {
        at[0] = 2;
        s_expect_reject(s_buf + 4, (size_t)n - 4, "histogram with version 2");
        at[0] = 1;
        /* Its length prefix one byte short: the histogram is truncated and a byte is left over. */
        at[-1] = (uint8_t)(at[-1] - 1);
        s_expect_reject(s_buf + 4, (size_t)n - 4, "histogram length one short");
    }
    dp_msg_fini(&a);

    /* ERROR codes must be positive errno values. */
    dp_msg_init(&a, DP_MSG_ERROR);
    snprintf(a.text, sizeof a.text, "%s", "boom");
    a.error_code = 0;
    s_reject_encoded(&a, "ERROR code 0");
    a.error_code = -5;
    s_reject_encoded(&a, "ERROR code -5");
    a.error_code = EIO;
    n = s_encode(&a);
    if (n > 0) {
        dp_msg_t d;
        CHECK(dp_msg_decode(s_buf + 4, (size_t)n - 4, &d) == 0 && d.error_code == EIO, "ERROR code EIO");
        dp_msg_fini(&d);
    }

    /* A string with an embedded NUL inside ACCEPT. */
    dp_msg_init(&a, DP_MSG_ACCEPT);
    snprintf(a.server_id, sizeof a.server_id, "%s", "abcdef");
    n = s_encode(&a);
    if (n > 0) {
        s_buf[4 + 1 + 8 + 2 + 2] = 0; /* type, cookie, u16 length, then 'c' */
        s_expect_reject(s_buf + 4, (size_t)n - 4, "ACCEPT server_id with a NUL byte");
    }

    /* Encoding into a buffer that is too small fails without writing past it. */
    dp_msg_init(&a, DP_MSG_RESULT);
    s_fill_report(&a.report, true);
    n = dp_msg_encode(&a, s_buf, sizeof s_buf);
    CHECK(n > 0, "RESULT encode");
    for (long cap = 0; cap < n && check_keep_going(); cap += cap < 64 ? 1 : 37) {
        uint8_t *mem = malloc((size_t)cap + 16);
        if (!mem)
            break;
        memset(mem, 0xa5, (size_t)cap + 16);
        long rc = dp_msg_encode(&a, mem, (size_t)cap);
        bool canary = true;
        for (long i = cap; i < cap + 16; i++)
            canary &= mem[i] == 0xa5;
        CHECK(rc == -ENOBUFS, "encode into %ld of %ld bytes = %ld", cap, n, rc);
        CHECK(canary, "encode into %ld bytes wrote past the buffer", cap);
        free(mem);
    }
    dp_msg_fini(&a);
}

/* Case-insensitive: does why mention one of the '|'-separated words? */
static bool s_mentions(const char *why, const char *words)
{
    char lower[256];
    size_t i = 0;
    for (; why[i] && i < sizeof lower - 1; i++)
        lower[i] = (char)tolower((unsigned char)why[i]);
    lower[i] = 0;
    char w[64];
    const char *p = words;
    while (*p) {
        size_t n = strcspn(p, "|");
        if (n < sizeof w) {
            memcpy(w, p, n);
            w[n] = 0;
            if (n && strstr(lower, w))
                return true;
        }
        p += n;
        if (*p == '|')
            p++;
    }
    return false;
}

static test_spec_t s_good(uint8_t proto)
{
    test_spec_t t;
    memset(&t, 0, sizeof t);
    t.proto = proto;
    t.streams = 1;
    t.duration_ns = 10000000000LL;
    t.interval_ns = 1000000000LL;
    switch (proto) {
    case TEST_TCP:
        t.streams = 4;
        t.len = 131072;
        t.omit_ns = 2000000000LL;
        t.reverse = true;
        break;
    case TEST_UDP:
        t.len = 1470;
        t.rate_bps = 1000000000ULL;
        t.omit_ns = 1000000000LL;
        t.reverse = true;
        break;
    case TEST_RR_UDP:
        t.len = 64;
        t.rr_mode = RR_MODE_ISOCHRONOUS;
        t.rr_interval_ns = 1000000;
        t.rr_count = 1000;
        t.rr_timeout_ns = 1000000000LL;
        break;
    default:
        t.len = 64;
        t.rr_mode = RR_MODE_PINGPONG;
        t.rr_timeout_ns = 1000000000LL;
        break;
    }
    return t;
}

static void s_expect_valid(const test_spec_t *t, const char *what)
{
    char why[128] = "";
    int rc = dp_test_validate(t, why, sizeof why);
    CHECK(rc == 0, "%s: rejected (%d): %s", what, rc, why);
}

static void s_expect_invalid(const test_spec_t *t, const char *words, const char *what)
{
    char why[160];
    memset(why, 0, sizeof why);
    int rc = dp_test_validate(t, why, sizeof why);
    CHECK(rc == -EINVAL, "%s: dp_test_validate = %d, expected -EINVAL", what, rc);
    CHECK(why[0] != 0 && s_mentions(why, words), "%s: reason \"%s\" does not name %s", what, why, words);
}

static void test_validate(void)
{
    static const uint8_t protos[] = {TEST_TCP, TEST_UDP, TEST_RR_UDP, TEST_RR_TCP};
    static const struct {
        uint8_t proto;
        uint32_t lo, hi;
    } lens[] = {{TEST_TCP, 1, TEST_TCP_MAX_LEN}, {TEST_UDP, 64, 65507}, {TEST_RR_UDP, 40, 65507}, {TEST_RR_TCP, 40, 1u << 20}};

    for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++) {
        test_spec_t t = s_good(protos[i]);
        char what[96];
        snprintf(what, sizeof what, "good %s spec", dp_proto_name(protos[i]));
        s_expect_valid(&t, what);
        t.interval_ns = 0;
        s_expect_valid(&t, "interval 0 (none)");
        t.interval_ns = 10000000;
        s_expect_valid(&t, "interval 10 ms");
        t.interval_ns = 5000000;
        s_expect_invalid(&t, "interval", "interval 5 ms");
        t = s_good(protos[i]);
        t.duration_ns = 0;
        s_expect_invalid(&t, "duration", "duration 0");
        t = s_good(protos[i]);
        t.omit_ns = t.duration_ns;
        s_expect_invalid(&t, "omit|omission|warm-up", "omit == duration");
        t.omit_ns = t.duration_ns + 1;
        s_expect_invalid(&t, "omit|omission|warm-up", "omit > duration");
        t.omit_ns = t.duration_ns - 1;
        s_expect_valid(&t, "omit just below duration");
        t = s_good(protos[i]);
        t.rr_mode = 2;
        s_expect_invalid(&t, "mode", "unknown rr mode 2");
        t = s_good(protos[i]);
        t.streams = 0;
        s_expect_invalid(&t, "stream", "streams 0");
        t.streams = 129;
        s_expect_invalid(&t, "stream", "streams 129");
        if (protos[i] != TEST_TCP) {
            t.streams = 2;
            snprintf(what, sizeof what, "%s with 2 streams", dp_proto_name(protos[i]));
            s_expect_invalid(&t, "stream", what);
        } else {
            t.streams = 128;
            s_expect_valid(&t, "tcp with 128 streams");
        }
        t = s_good(protos[i]);
        t.reverse = true;
        if (protos[i] == TEST_RR_UDP || protos[i] == TEST_RR_TCP) {
            snprintf(what, sizeof what, "reverse on %s", dp_proto_name(protos[i]));
            s_expect_invalid(&t, "reverse", what);
        } else {
            s_expect_valid(&t, "reverse on tcp/udp");
        }
    }
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        test_spec_t t = s_good(lens[i].proto);
        char what[96];
        const char *p = dp_proto_name(lens[i].proto);
        t.len = lens[i].lo;
        snprintf(what, sizeof what, "%s len %u (lowest)", p, t.len);
        s_expect_valid(&t, what);
        t.len = lens[i].hi;
        snprintf(what, sizeof what, "%s len %u (highest)", p, t.len);
        s_expect_valid(&t, what);
        t.len = lens[i].lo - 1;
        snprintf(what, sizeof what, "%s len %u", p, t.len);
        s_expect_invalid(&t, "len", what);
        t.len = lens[i].hi + 1;
        snprintf(what, sizeof what, "%s len %u", p, t.len);
        s_expect_invalid(&t, "len", what);
    }
    /* The header's own example of a reason. */
    test_spec_t t = s_good(TEST_UDP);
    t.len = 12;
    char why[128] = "";
    CHECK(dp_test_validate(&t, why, sizeof why) == -EINVAL && strstr(why, "12 is outside 64..65507 for udp"),
          "udp len 12: reason \"%s\"", why);
    /* Unknown test kinds. */
    t.proto = 0;
    s_expect_invalid(&t, "kind|proto", "proto 0");
    t.proto = TEST_RR_TCP + 1;
    s_expect_invalid(&t, "kind|proto", "proto 5");
    /* A tiny reason buffer is truncated, never overrun. */
    char small[8 + 8];
    memset(small, 0x5a, sizeof small);
    t = s_good(TEST_UDP);
    t.len = 12;
    CHECK(dp_test_validate(&t, small, 8) == -EINVAL, "small reason buffer: still -EINVAL");
    CHECK(small[7] == 0 && small[8] == 0x5a && small[15] == 0x5a, "small reason buffer overrun or unterminated");
}

static void test_greetings(void)
{
    uint8_t g[DP_GREETING_LEN];
    dp_greeting_put(g, DP_KIND_CONTROL);
    CHECK(memcmp(g, "VMTPDP", 6) == 0 && g[6] == DP_VERSION && g[7] == DP_KIND_CONTROL, "greeting layout");
    CHECK(dp_greeting_parse(g) == DP_KIND_CONTROL, "CONTROL greeting");
    dp_greeting_put(g, DP_KIND_DATA);
    CHECK(dp_greeting_parse(g) == DP_KIND_DATA, "DATA greeting");
    for (int i = 0; i < 6; i++) {
        uint8_t x[DP_GREETING_LEN];
        memcpy(x, g, sizeof x);
        x[i] ^= 0x20;
        CHECK(dp_greeting_parse(x) == -EINVAL, "greeting with magic byte %d changed", i);
    }
    uint8_t x[DP_GREETING_LEN];
    memcpy(x, g, sizeof x);
    x[6] = DP_VERSION + 1;
    CHECK(dp_greeting_parse(x) == -EPROTO, "greeting version %d", x[6]);
    x[6] = 0;
    CHECK(dp_greeting_parse(x) == -EPROTO, "greeting version 0");
    memcpy(x, g, sizeof x);
    x[7] = 0;
    CHECK(dp_greeting_parse(x) == -EINVAL, "greeting kind 0");
    x[7] = 3;
    CHECK(dp_greeting_parse(x) == -EINVAL, "greeting kind 3");

    uint8_t h[DP_DATA_HELLO_LEN];
    dp_data_hello_put(h, 0x0123456789abcdefULL, 127);
    uint64_t cookie = 0;
    uint16_t stream = 0;
    CHECK(dp_data_hello_parse(h, &cookie, &stream) == 0 && cookie == 0x0123456789abcdefULL && stream == 127,
          "data hello round trip");
    CHECK(dp_greeting_parse(h) == DP_KIND_DATA, "data hello starts with a DATA greeting");
    dp_data_hello_put(h, UINT64_MAX, UINT16_MAX);
    CHECK(dp_data_hello_parse(h, &cookie, &stream) == 0 && cookie == UINT64_MAX && stream == UINT16_MAX,
          "data hello extremes");
    uint8_t y[DP_DATA_HELLO_LEN];
    memcpy(y, h, sizeof y);
    y[0] = 'X';
    cookie = 7;
    stream = 7;
    CHECK(dp_data_hello_parse(y, &cookie, &stream) == -EINVAL, "data hello wrong magic");
    CHECK(cookie == 7 && stream == 7, "data hello: outputs untouched on failure");
    memcpy(y, h, sizeof y);
    y[6] = DP_VERSION + 1;
    CHECK(dp_data_hello_parse(y, &cookie, &stream) == -EPROTO, "data hello wrong version");
    memcpy(y, h, sizeof y);
    y[7] = DP_KIND_CONTROL;
    CHECK(dp_data_hello_parse(y, &cookie, &stream) == -EINVAL, "data hello of kind CONTROL");
    CHECK(cookie == 7 && stream == 7, "data hello: outputs untouched on failure");
}

static void test_dgrams(void)
{
    uint8_t buf[DP_RR_HDR_LEN + 16];
    dp_dgram_t d = {.kind = DP_DGRAM_DATA,
                    .flags = DP_DGRAM_F_WARMUP,
                    .seq = 0x1122334455667788ULL,
                    .tx_real_ns = 1700000000123456789LL};
    memset(buf, 0xa5, sizeof buf);
    dp_dgram_put(buf, &d);
    CHECK(buf[DP_DGRAM_HDR_LEN] == 0xa5, "DATA header writes only %d bytes", DP_DGRAM_HDR_LEN);
    CHECK(memcmp(buf, "VMTP", 4) == 0, "datagram magic");
    dp_dgram_t back;
    CHECK(dp_dgram_parse(buf, DP_DGRAM_HDR_LEN, &back) == 0, "DATA parse");
    CHECK(back.kind == d.kind && back.flags == d.flags && back.seq == d.seq && back.tx_real_ns == d.tx_real_ns,
          "DATA round trip");
    memset(buf + DP_DGRAM_HDR_LEN, 0, sizeof buf - DP_DGRAM_HDR_LEN);
    CHECK(dp_dgram_parse(buf, sizeof buf, &back) == 0, "DATA with payload");
    CHECK(dp_dgram_parse(buf, DP_DGRAM_HDR_LEN - 1, &back) == -EINVAL, "DATA of 23 bytes");
    d.kind = DP_DGRAM_HELLO; /* HELLO_ACK is reserved (never sent): not exercised */
    dp_dgram_put(buf, &d);
    CHECK(dp_dgram_parse(buf, DP_DGRAM_HDR_LEN, &back) == 0 && back.kind == DP_DGRAM_HELLO && back.seq == d.seq,
          "HELLO round trip");

    for (int k = DP_DGRAM_RR_REQ; k <= DP_DGRAM_RR_FLUSH; k++) {
        dp_dgram_t r = {.kind = (uint8_t)k,
                        .flags = 0,
                        .seq = 42 + (uint64_t)k,
                        .tx_real_ns = -5,
                        .turn_user_ns = 12345,
                        .turn_kernel_ns = DP_TURN_NONE,
                        .turn_seq = 0xdeadbeefcafef00dULL};
        memset(buf, 0xa5, sizeof buf);
        dp_dgram_put(buf, &r);
        CHECK(buf[DP_RR_HDR_LEN] == 0xa5, "RR header writes only %d bytes", DP_RR_HDR_LEN);
        dp_dgram_t rb;
        memset(&rb, 0, sizeof rb);
        CHECK(dp_dgram_parse(buf, DP_RR_HDR_LEN, &rb) == 0, "RR kind %d parse", k);
        CHECK(rb.kind == r.kind && rb.seq == r.seq && rb.tx_real_ns == r.tx_real_ns &&
                  rb.turn_user_ns == r.turn_user_ns && rb.turn_kernel_ns == r.turn_kernel_ns &&
                  rb.turn_seq == r.turn_seq,
              "RR kind %d round trip", k);
        dp_dgram_t keep = {.kind = 99, .seq = 99};
        rb = keep;
        CHECK(dp_dgram_parse(buf, DP_RR_HDR_LEN - 1, &rb) == -EINVAL, "RR kind %d of 39 bytes", k);
        CHECK(rb.kind == 99 && rb.seq == 99, "RR of 39 bytes: output touched");
        CHECK(dp_dgram_parse(buf, DP_DGRAM_HDR_LEN, &rb) == -EINVAL, "RR kind %d of 24 bytes", k);
    }

    d.kind = DP_DGRAM_DATA;
    dp_dgram_put(buf, &d);
    for (int i = 0; i < 4; i++) {
        uint8_t x[DP_RR_HDR_LEN];
        memcpy(x, buf, sizeof x);
        x[i] ^= 1;
        CHECK(dp_dgram_parse(x, sizeof x, &back) == -EINVAL, "datagram with magic byte %d changed", i);
    }
    uint8_t x[DP_RR_HDR_LEN];
    memcpy(x, buf, sizeof x);
    x[4] = 0;
    CHECK(dp_dgram_parse(x, sizeof x, &back) == -EINVAL, "datagram kind 0");
    x[4] = DP_DGRAM_RR_FLUSH + 1;
    CHECK(dp_dgram_parse(x, sizeof x, &back) == -EINVAL, "datagram kind 7");
    x[4] = 255;
    CHECK(dp_dgram_parse(x, sizeof x, &back) == -EINVAL, "datagram kind 255");
    CHECK(dp_dgram_parse(x, 0, &back) == -EINVAL, "empty datagram");
    CHECK(dp_dgram_parse(x, 3, &back) == -EINVAL, "3-byte datagram");
}

static void test_names(void)
{
    CHECK(strcmp(dp_msg_name(DP_MSG_TEST), "TEST") == 0, "name TEST");
    CHECK(strcmp(dp_msg_name(DP_MSG_STOP), "STOP") == 0, "name STOP");
    CHECK(strcmp(dp_msg_name(0), "?") == 0, "name 0");
    CHECK(strcmp(dp_msg_name(DP_MSG_STOP + 1), "?") == 0, "name 10");
    CHECK(strcmp(dp_msg_name(255), "?") == 0, "name 255");
    CHECK(strcmp(dp_proto_name(TEST_TCP), "tcp") == 0 && strcmp(dp_proto_name(TEST_UDP), "udp") == 0 &&
              strcmp(dp_proto_name(TEST_RR_UDP), "rr-udp") == 0 && strcmp(dp_proto_name(TEST_RR_TCP), "rr-tcp") == 0,
          "proto names");
    CHECK(strcmp(dp_proto_name(0), "?") == 0 && strcmp(dp_proto_name(5), "?") == 0, "unknown proto names");
}

int main(void)
{
    test_round_trips();
    test_rejections();
    test_validate();
    test_greetings();
    test_dgrams();
    test_names();
    return check_exit("test_dpwire");
}
