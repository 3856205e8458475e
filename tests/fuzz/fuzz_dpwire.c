/* fuzz_dpwire.c — fuzz target for every decoder of outside bytes in dpwire and hist (STYLE rule 14).
 *
 * Byte 0 picks the decoder (fuzz_dpwire.h); the rest is what a peer could send. Besides "does
 * not crash under ASan/UBSan", each decoder's contract is checked, and a broken one ends in
 * abort() with a line on stderr saying which property failed:
 *  - dp_msg_decode returns 0 or -EINVAL; what it accepts re-encodes (dp_msg_encode), the encoding
 *    decodes again, and re-encodes to identical bytes;
 *  - greetings, data hellos and datagrams that parse re-encode to the bytes they came from (the
 *    datagram's reserved u16 excepted), and a rejected one leaves the out-parameters untouched;
 *  - hist_deserialize leaves a histogram with content unchanged when it rejects (compared through
 *    hist_serialize), and what it accepts round-trips exactly;
 *  - a decoded histogram answers count/min/max/percentiles consistently (what node/output.c prints).
 * Built twice (tests/fuzz/CMakeLists.txt): with fuzz_main.c for the ctest corpus replay, and
 * with -fsanitize=fuzzer for libFuzzer when VMTP_FUZZ is ON.
 */
#include "fuzz_dpwire.h"

#include "dpwire.h"
#include "vmtp/hist.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Encoder output for the round trips: a whole frame (prefix + body) or a serialised histogram. */
#define S_ENC_CAP (DP_FRAME_MAX + 4 > HIST_SERIALIZED_MAX ? DP_FRAME_MAX + 4 : HIST_SERIALIZED_MAX)
static uint8_t s_enc1[S_ENC_CAP];
static uint8_t s_enc2[S_ENC_CAP];

static volatile double s_sink; /* keeps the float statistics from being optimised away */

static void s_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void s_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz_dpwire: PROPERTY VIOLATED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* What node/output.c asks of a histogram a peer sent: consistent answers, no crash. */
static void s_exercise_hist(const char *name, const hist_t *h)
{
    static const double ps[] = {0, 1, 50, 90, 99, 99.9, 99.99, 100};
    uint64_t n = hist_count(h);
    int64_t lo = hist_min(h), hi = hist_max(h);
    s_sink = hist_mean(h);
    s_sink = hist_stddev(h);
    if (!n && (lo || hi))
        s_fail("%s: empty histogram has min %" PRId64 " max %" PRId64, name, lo, hi);
    if (lo > hi)
        s_fail("%s: min %" PRId64 " > max %" PRId64, name, lo, hi);
    int64_t prev = lo;
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        int64_t v = hist_percentile(h, ps[i]);
        if (!n ? v != 0 : (v < prev || v > hi))
            s_fail("%s: percentile %g = %" PRId64 " outside [%" PRId64 ", %" PRId64 "] or decreasing", name, ps[i], v,
                   prev, hi);
        prev = v;
    }
}

static void s_check_msg(const dp_msg_t *m)
{
    if (!dp_msg_name(m->type))
        s_fail("dp_msg_name(%u) is NULL", m->type);
    if (m->type == DP_MSG_TEST) {
        char why[128] = "";
        int rc = dp_test_validate(&m->test, why, sizeof why);
        if (rc != 0 && (rc != -EINVAL || !why[0]))
            s_fail("dp_test_validate returned %d with reason \"%s\"", rc, why);
        if (!dp_proto_name(m->test.proto))
            s_fail("dp_proto_name(%u) is NULL", m->test.proto);
    }
    if (m->type == DP_MSG_DONE || m->type == DP_MSG_RESULT) {
        const report_t *r = &m->report;
        const struct {
            const char *name;
            const hist_t *h;
        } hs[] = {{"owd", r->owd},           {"rtt_user", r->rtt_user},       {"rtt_kernel", r->rtt_kernel},
                  {"rtt_path", r->rtt_path}, {"turn_kernel", r->turn_kernel}, {"turn_user", r->turn_user}};
        for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
            if (hs[i].h)
                s_exercise_hist(hs[i].name, hs[i].h);
    }
}

static void s_fuzz_msg(const uint8_t *in, size_t len)
{
    dp_msg_t m1, m2;
    int rc = dp_msg_decode(in, len, &m1);
    if (rc != 0) {
        if (rc != -EINVAL)
            s_fail("dp_msg_decode returned %d (only 0 or -EINVAL are allowed)", rc);
        dp_msg_fini(&m1);
        return;
    }
    s_check_msg(&m1);
    long n1 = dp_msg_encode(&m1, s_enc1, sizeof s_enc1);
    if (n1 < 0) {
        /* Frames are capped at DP_FRAME_MAX by the framing layer, not by the decoder. */
        if (len <= DP_FRAME_MAX)
            s_fail("%s message of %zu body bytes was accepted but does not re-encode (%ld)", dp_msg_name(m1.type), len,
                   n1);
        dp_msg_fini(&m1);
        return;
    }
    uint32_t prefix = (uint32_t)s_enc1[0] << 24 | (uint32_t)s_enc1[1] << 16 | (uint32_t)s_enc1[2] << 8 | s_enc1[3];
    if (n1 < 5 || prefix != (uint32_t)(n1 - 4) || s_enc1[4] != m1.type)
        s_fail("%s re-encoding has a bad frame header (length %ld, prefix %" PRIu32 ")", dp_msg_name(m1.type), n1,
               prefix);
    rc = dp_msg_decode(s_enc1 + 4, (size_t)n1 - 4, &m2);
    if (rc != 0)
        s_fail("%s message re-encoded to %ld bytes is rejected by dp_msg_decode (%d)", dp_msg_name(m1.type), n1, rc);
    long n2 = dp_msg_encode(&m2, s_enc2, sizeof s_enc2);
    if (n2 != n1 || memcmp(s_enc1, s_enc2, (size_t)n1) != 0)
        s_fail("%s message does not round-trip: %ld bytes, then %ld different bytes", dp_msg_name(m1.type), n1, n2);
    dp_msg_fini(&m2);
    dp_msg_fini(&m1);
}

static void s_fuzz_greeting(const uint8_t *in, size_t len)
{
    uint8_t g[DP_GREETING_LEN];
    if (len < sizeof g)
        return;
    memcpy(g, in, sizeof g);
    int kind = dp_greeting_parse(g);
    if (kind < 0) {
        if (kind != -EINVAL && kind != -EPROTO)
            s_fail("dp_greeting_parse returned %d", kind);
        return;
    }
    if (kind != DP_KIND_CONTROL && kind != DP_KIND_DATA)
        s_fail("dp_greeting_parse returned unknown kind %d", kind);
    uint8_t out[DP_GREETING_LEN];
    dp_greeting_put(out, (uint8_t)kind);
    if (memcmp(out, g, sizeof g) != 0)
        s_fail("greeting of kind %d does not re-encode to its bytes", kind);
}

static void s_fuzz_data_hello(const uint8_t *in, size_t len)
{
    uint8_t h[DP_DATA_HELLO_LEN];
    if (len < sizeof h)
        return;
    memcpy(h, in, sizeof h);
    const uint64_t cookie0 = 0xa5a5a5a5a5a5a5a5u;
    const uint16_t stream0 = 0xa5a5;
    uint64_t cookie = cookie0;
    uint16_t stream = stream0;
    int rc = dp_data_hello_parse(h, &cookie, &stream);
    if (rc < 0) {
        if (rc != -EINVAL && rc != -EPROTO)
            s_fail("dp_data_hello_parse returned %d", rc);
        if (cookie != cookie0 || stream != stream0)
            s_fail("dp_data_hello_parse failed (%d) but wrote its out-parameters", rc);
        return;
    }
    if (rc != 0)
        s_fail("dp_data_hello_parse returned %d", rc);
    uint8_t out[DP_DATA_HELLO_LEN];
    dp_data_hello_put(out, cookie, stream);
    if (memcmp(out, h, sizeof h) != 0)
        s_fail("data hello (cookie %" PRIu64 ", stream %u) does not re-encode to its bytes", cookie, stream);
}

static bool s_dgram_equal(const dp_dgram_t *a, const dp_dgram_t *b)
{
    return a->kind == b->kind && a->flags == b->flags && a->seq == b->seq && a->tx_real_ns == b->tx_real_ns &&
           a->turn_user_ns == b->turn_user_ns && a->turn_kernel_ns == b->turn_kernel_ns && a->turn_seq == b->turn_seq;
}

static void s_fuzz_dgram(const uint8_t *in, size_t len)
{
    dp_dgram_t d, before;
    memset(&d, 0xa5, sizeof d);
    memcpy(&before, &d, sizeof d);
    int rc = dp_dgram_parse(in, len, &d);
    if (rc != 0) {
        if (rc != -EINVAL)
            s_fail("dp_dgram_parse returned %d", rc);
        if (memcmp(&d, &before, sizeof d) != 0)
            s_fail("dp_dgram_parse failed but wrote its out-parameter");
        return;
    }
    if (d.kind < DP_DGRAM_HELLO || d.kind > DP_DGRAM_RR_FLUSH)
        s_fail("dp_dgram_parse accepted unknown kind %u", d.kind);
    bool rr = d.kind == DP_DGRAM_RR_REQ || d.kind == DP_DGRAM_RR_REP || d.kind == DP_DGRAM_RR_FLUSH;
    size_t hdr = rr ? DP_RR_HDR_LEN : DP_DGRAM_HDR_LEN;
    if (len < hdr)
        s_fail("dp_dgram_parse accepted %zu bytes for kind %u (header is %zu)", len, d.kind, hdr);
    if (!rr && (d.turn_user_ns != DP_TURN_NONE || d.turn_kernel_ns != DP_TURN_NONE))
        s_fail("non-RR datagram kind %u parsed with turnaround figures", d.kind);
    uint8_t out[DP_RR_HDR_LEN];
    memset(out, 0xee, sizeof out);
    dp_dgram_put(out, &d);
    /* Bytes 6..7 are reserved: written as 0, ignored when read. */
    if (memcmp(out, in, 6) != 0 || out[6] != 0 || out[7] != 0 || memcmp(out + 8, in + 8, hdr - 8) != 0)
        s_fail("datagram of kind %u does not re-encode to its header bytes", d.kind);
    dp_dgram_t d2;
    rc = dp_dgram_parse(out, hdr, &d2);
    if (rc != 0 || !s_dgram_equal(&d, &d2))
        s_fail("datagram of kind %u does not round-trip (%d)", d.kind, rc);
}

/* Deterministic existing content, with or without negative values. */
static void s_fill(hist_t *h, bool with_neg)
{
    static const int64_t vals[] = {0, 1, 255, 256, 1000, 123456789, 1LL << 41};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        hist_record(h, vals[i]);
    hist_record_n(h, 77, 1000);
    if (with_neg) {
        hist_record(h, -1);
        hist_record(h, -5000);
        hist_record_n(h, -300, 3);
    }
}

static void s_fuzz_hist(const uint8_t *in, size_t len, bool with_neg)
{
    hist_t *h = hist_new();
    hist_t *h2 = hist_new();
    if (!h || !h2)
        goto out;
    s_fill(h, with_neg);
    long b = hist_serialize(h, s_enc1, sizeof s_enc1);
    if (b < 0)
        s_fail("hist_serialize of the fixed content failed (%ld)", b);
    int rc = hist_deserialize(h, in, len);
    if (rc == -ENOMEM)
        goto out;
    if (rc != 0) {
        if (rc != -EINVAL)
            s_fail("hist_deserialize returned %d", rc);
        long a = hist_serialize(h, s_enc2, sizeof s_enc2);
        if (a != b || memcmp(s_enc1, s_enc2, (size_t)b) != 0)
            s_fail("hist_deserialize rejected its input but changed the histogram (%ld bytes before, %ld after)", b, a);
        goto out;
    }
    s_exercise_hist("hist", h);
    long n1 = hist_serialize(h, s_enc1, sizeof s_enc1);
    if (n1 < 0)
        s_fail("accepted histogram does not serialise (%ld)", n1);
    rc = hist_deserialize(h2, s_enc1, (size_t)n1);
    if (rc != 0)
        s_fail("re-serialised histogram (%ld bytes) is rejected (%d)", n1, rc);
    long n2 = hist_serialize(h2, s_enc2, sizeof s_enc2);
    if (n2 != n1 || memcmp(s_enc1, s_enc2, (size_t)n1) != 0)
        s_fail("histogram does not round-trip: %ld bytes, then %ld different bytes", n1, n2);
out:
    hist_destroy(&h2);
    hist_destroy(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    switch (data[0] % FUZZ_DP_NTARGETS) {
    case FUZZ_DP_MSG: s_fuzz_msg(in, len); break;
    case FUZZ_DP_GREETING: s_fuzz_greeting(in, len); break;
    case FUZZ_DP_DATA_HELLO: s_fuzz_data_hello(in, len); break;
    case FUZZ_DP_DGRAM: s_fuzz_dgram(in, len); break;
    case FUZZ_DP_HIST: s_fuzz_hist(in, len, (data[0] / FUZZ_DP_NTARGETS) & 1); break;
    default: break;
    }
    return 0;
}
