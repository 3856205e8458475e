/* dpwire.c — data-plane encoding and strict decoding; see dpwire.h. */
#include "dpwire.h"

#include "vmtp/clock.h"
#include "vmtp/wirebuf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t s_magic[6] = {'V', 'M', 'T', 'P', 'D', 'P'};

/* Field lists (dpwire.def): encoder, decoder and docs/PROTOCOL.md walk the same lists. */
#include "dpwire.def"

/* Typed put/get so the lists above stay one line per field. */
static void s_put_u8(wbuf_t *w, uint8_t v) { wbuf_u8(w, v); }
static void s_put_bool(wbuf_t *w, bool v) { wbuf_u8(w, v ? 1 : 0); }
static void s_put_u16(wbuf_t *w, uint16_t v) { wbuf_u16(w, v); }
static void s_put_u32(wbuf_t *w, uint32_t v) { wbuf_u32(w, v); }
static void s_put_i32(wbuf_t *w, int32_t v) { wbuf_u32(w, (uint32_t)v); }
static void s_put_u64(wbuf_t *w, uint64_t v) { wbuf_u64(w, v); }
static void s_put_i64(wbuf_t *w, int64_t v) { wbuf_i64(w, v); }
static void s_put_f64(wbuf_t *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    wbuf_u64(w, bits);
}

static uint8_t s_get_u8(rbuf_t *r) { return rbuf_u8(r); }
static bool s_get_bool(rbuf_t *r)
{
    uint8_t v = rbuf_u8(r);
    if (v > 1)
        r->ok = false;
    return v == 1;
}
static uint16_t s_get_u16(rbuf_t *r) { return rbuf_u16(r); }
static uint32_t s_get_u32(rbuf_t *r) { return rbuf_u32(r); }
static int32_t s_get_i32(rbuf_t *r) { return (int32_t)rbuf_u32(r); }
static uint64_t s_get_u64(rbuf_t *r) { return rbuf_u64(r); }
static int64_t s_get_i64(rbuf_t *r) { return rbuf_i64(r); }
static double s_get_f64(rbuf_t *r)
{
    uint64_t bits = rbuf_u64(r);
    double v;
    memcpy(&v, &bits, sizeof v);
    if (!isfinite(v))
        r->ok = false;
    return v;
}

#define PUT(type, name) s_put_##type(w, src->name);
#define GET(type, name) dst->name = s_get_##type(r);

static void s_put_spec(wbuf_t *w, const test_spec_t *src) { SPEC_FIELDS(PUT) }
static void s_get_spec(rbuf_t *r, test_spec_t *dst) { SPEC_FIELDS(GET) }
static void s_put_tcpinfo(wbuf_t *w, const tcpinfo_t *src) { TCPINFO_FIELDS(PUT) }
static void s_get_tcpinfo(rbuf_t *r, tcpinfo_t *dst) { TCPINFO_FIELDS(GET) }
static void s_put_cpu(wbuf_t *w, const cpu_usage_t *src) { CPU_FIELDS(PUT) }
static void s_get_cpu(rbuf_t *r, cpu_usage_t *dst) { CPU_FIELDS(GET) }

static void s_put_interval(wbuf_t *w, const interval_t *src)
{
    INTERVAL_FIELDS(PUT)
    s_put_tcpinfo(w, &src->tcp);
}

static void s_get_interval(rbuf_t *r, interval_t *dst)
{
    INTERVAL_FIELDS(GET)
    s_get_tcpinfo(r, &dst->tcp);
}

/* A histogram travels as u32 length + hist_serialize() bytes; length 0 = absent. */
static void s_put_hist(wbuf_t *w, const hist_t *h)
{
    if (!h) {
        wbuf_u32(w, 0);
        return;
    }
    size_t lenpos = w->len;
    wbuf_u32(w, 0);
    if (!w->ok)
        return;
    long n = hist_serialize(h, w->data + w->len, w->cap - w->len);
    if (n < 0) {
        w->ok = false;
        return;
    }
    w->len += (size_t)n;
    uint8_t *p = w->data + lenpos;
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
}

static void s_get_hist(rbuf_t *r, hist_t **out)
{
    uint32_t n = rbuf_u32(r);
    if (!r->ok || n == 0)
        return;
    if (n > rbuf_left(r)) {
        r->ok = false;
        return;
    }
    hist_t *h = hist_new();
    if (!h || hist_deserialize(h, r->data + r->pos, n) < 0) {
        hist_destroy(&h);
        r->ok = false;
        return;
    }
    r->pos += n;
    *out = h;
}

static void s_put_report(wbuf_t *w, const report_t *src)
{
    REPORT_FIELDS(PUT)
    s_put_tcpinfo(w, &src->tcp);
    s_put_cpu(w, &src->cpu);
    s_put_hist(w, src->owd);
    s_put_hist(w, src->rtt_user);
    s_put_hist(w, src->rtt_kernel);
    s_put_hist(w, src->rtt_path);
    s_put_hist(w, src->turn_kernel);
    s_put_hist(w, src->turn_user);
}

static void s_get_report(rbuf_t *r, report_t *dst)
{
    REPORT_FIELDS(GET)
    s_get_tcpinfo(r, &dst->tcp);
    s_get_cpu(r, &dst->cpu);
    s_get_hist(r, &dst->owd);
    s_get_hist(r, &dst->rtt_user);
    s_get_hist(r, &dst->rtt_kernel);
    s_get_hist(r, &dst->rtt_path);
    s_get_hist(r, &dst->turn_kernel);
    s_get_hist(r, &dst->turn_user);
    if (dst->role > ROLE_REFLECTOR || dst->stamp_source > TSTAMP_SOURCE_HARDWARE || dst->socket_drops < -1 ||
        dst->tx_busy < -1 || dst->tx_busy > 2 || dst->tx_backlog < -1 || dst->tx_backlog > 1 ||
        dst->clock_bound_ns < -1 || dst->jitter_ns < 0 || dst->cpu.ncpu < 0 || dst->cpu.total_pct < 0 ||
        dst->cpu.proc_cpu_s < 0)
        r->ok = false;
}

void dp_msg_init(dp_msg_t *m, dp_msg_type_t type)
{
    memset(m, 0, sizeof *m);
    m->type = (uint8_t)type;
    report_init(&m->report);
}

void dp_msg_fini(dp_msg_t *m) { report_fini(&m->report); }

long dp_msg_encode(const dp_msg_t *m, uint8_t *buf, size_t cap)
{
    wbuf_t w = wbuf_init(buf, cap);
    wbuf_u32(&w, 0); /* length, patched below */
    wbuf_u8(&w, m->type);
    switch (m->type) {
    case DP_MSG_TEST: s_put_spec(&w, &m->test); break;
    case DP_MSG_ACCEPT:
        wbuf_u64(&w, m->cookie);
        wbuf_str(&w, m->server_id);
        break;
    case DP_MSG_READY:
    case DP_MSG_START:
    case DP_MSG_STOP: break;
    case DP_MSG_INTERVAL: s_put_interval(&w, &m->interval); break;
    case DP_MSG_DONE:
    case DP_MSG_RESULT: s_put_report(&w, &m->report); break;
    case DP_MSG_ERROR:
        wbuf_u32(&w, (uint32_t)m->error_code);
        wbuf_str(&w, m->text);
        break;
    default: return -EINVAL;
    }
    if (!w.ok || w.len - 4 > DP_FRAME_MAX)
        return -ENOBUFS;
    uint32_t body = (uint32_t)(w.len - 4);
    buf[0] = (uint8_t)(body >> 24);
    buf[1] = (uint8_t)(body >> 16);
    buf[2] = (uint8_t)(body >> 8);
    buf[3] = (uint8_t)body;
    return (long)w.len;
}

int dp_msg_decode(const uint8_t *body, size_t len, dp_msg_t *m)
{
    rbuf_t r = rbuf_init(body, len);
    uint8_t type = rbuf_u8(&r);
    dp_msg_init(m, DP_MSG_TEST);
    m->type = type;
    if (!r.ok || type == 0 || type > DP_MSG_TYPE_MAX)
        return -EINVAL;
    switch (type) {
    case DP_MSG_TEST: s_get_spec(&r, &m->test); break;
    case DP_MSG_ACCEPT:
        m->cookie = rbuf_u64(&r);
        rbuf_str(&r, m->server_id, sizeof m->server_id);
        break;
    case DP_MSG_INTERVAL: s_get_interval(&r, &m->interval); break;
    case DP_MSG_DONE:
    case DP_MSG_RESULT: s_get_report(&r, &m->report); break;
    case DP_MSG_ERROR:
        m->error_code = (int32_t)rbuf_u32(&r);
        rbuf_str(&r, m->text, sizeof m->text);
        if (m->error_code <= 0 || m->error_code > 4095)
            r.ok = false;
        break;
    default: break;
    }
    if (!r.ok || rbuf_left(&r) != 0) {
        dp_msg_fini(m);
        return -EINVAL;
    }
    return 0;
}

const char *dp_proto_name(uint8_t proto)
{
    switch (proto) {
    case TEST_TCP: return "tcp";
    case TEST_UDP: return "udp";
    case TEST_RR_UDP: return "rr-udp";
    case TEST_RR_TCP: return "rr-tcp";
    default: return "?";
    }
}

const char *dp_msg_name(uint8_t type)
{
    static const char *const names[] = {"?",        "TEST", "ACCEPT", "READY", "START",
                                        "INTERVAL", "DONE", "RESULT", "ERROR", "STOP"};
    return type <= DP_MSG_TYPE_MAX ? names[type] : "?";
}

int dp_test_validate(const test_spec_t *t, char *why, size_t cap)
{
    const char *p = dp_proto_name(t->proto);
    uint32_t lo = 1, hi = TEST_TCP_MAX_LEN;
#define BAD(...)                                                                                                       \
    do {                                                                                                               \
        snprintf(why, cap, __VA_ARGS__);                                                                               \
        return -EINVAL;                                                                                                \
    } while (0)
    switch (t->proto) {
    case TEST_TCP: break;
    case TEST_UDP:
        lo = TEST_UDP_MIN_LEN;
        hi = TEST_UDP_MAX_LEN;
        break;
    case TEST_RR_UDP:
        lo = TEST_RR_MIN_LEN;
        hi = TEST_UDP_MAX_LEN;
        break;
    case TEST_RR_TCP:
        lo = TEST_RR_MIN_LEN;
        hi = 1u << 20;
        break;
    default: BAD("unknown test kind %u", t->proto);
    }
    if (t->len < lo || t->len > hi)
        BAD("length %u is outside %u..%u for %s", t->len, lo, hi, p);
    if (t->streams < 1 || t->streams > TEST_MAX_STREAMS || (t->proto != TEST_TCP && t->streams != 1))
        BAD("%u streams: %s takes %s", t->streams, p, t->proto == TEST_TCP ? "1..128" : "exactly 1");
    if (t->duration_ns < VMTP_NS_PER_MS || t->duration_ns > 24 * 3600 * VMTP_NS_PER_S)
        BAD("duration must be between 1 ms and 24 h");
    if (t->omit_ns < 0 || t->omit_ns >= t->duration_ns)
        BAD("warm-up omission must be shorter than the duration");
    if (t->interval_ns < 0 || (t->interval_ns && t->interval_ns < 10 * VMTP_NS_PER_MS))
        BAD("report interval must be 0 (none) or at least 10 ms");
    if (t->rate_bps > 400000000000ULL)
        BAD("rate above 400 Gbit/s");
    if (t->sndbuf > TEST_MAX_SOCKBUF || t->rcvbuf > TEST_MAX_SOCKBUF)
        BAD("socket buffers above %u MiB", TEST_MAX_SOCKBUF >> 20);
    if (t->rr_mode > RR_MODE_ISOCHRONOUS)
        BAD("unknown RR mode %u", t->rr_mode);
    if ((t->proto == TEST_RR_UDP || t->proto == TEST_RR_TCP)) {
        if (t->rr_mode == RR_MODE_ISOCHRONOUS && (t->rr_interval_ns < 1000 || t->rr_interval_ns > 60 * VMTP_NS_PER_S))
            BAD("isochronous interval must be between 1 us and 60 s");
        if (t->rr_timeout_ns < VMTP_NS_PER_MS || t->rr_timeout_ns > 60 * VMTP_NS_PER_S)
            BAD("RR timeout must be between 1 ms and 60 s");
        if (t->rr_count > 100000000ULL)
            BAD("RR count above 100 million");
    }
    if ((t->proto == TEST_RR_UDP || t->proto == TEST_RR_TCP) && t->rr_mode == RR_MODE_ISOCHRONOUS &&
        t->rr_timeout_ns / t->rr_interval_ns > RR_MAX_IN_FLIGHT)
        BAD("RR timeout / interval allows more than %u requests in flight", RR_MAX_IN_FLIGHT);
    if (t->reverse && t->proto != TEST_TCP && t->proto != TEST_UDP)
        BAD("reverse direction applies to tcp and udp only");
    if (t->start_real_ns < 0)
        BAD("negative start time");
    if (t->start_real_ns && t->start_real_ns - clock_real_ns() > 3600 * VMTP_NS_PER_S)
        BAD("start time more than an hour ahead (are the clocks apart?)");
#undef BAD
    return 0;
}

void dp_greeting_put(uint8_t out[DP_GREETING_LEN], uint8_t kind)
{
    memcpy(out, s_magic, sizeof s_magic);
    out[6] = DP_VERSION;
    out[7] = kind;
}

int dp_greeting_parse(const uint8_t in[DP_GREETING_LEN])
{
    if (memcmp(in, s_magic, sizeof s_magic))
        return -EINVAL;
    if (in[6] != DP_VERSION)
        return -EPROTO;
    if (in[7] != DP_KIND_CONTROL && in[7] != DP_KIND_DATA)
        return -EINVAL;
    return in[7];
}

void dp_data_hello_put(uint8_t out[DP_DATA_HELLO_LEN], uint64_t cookie, uint16_t stream)
{
    dp_greeting_put(out, DP_KIND_DATA);
    wbuf_t w = wbuf_init(out + DP_GREETING_LEN, DP_DATA_HELLO_LEN - DP_GREETING_LEN);
    wbuf_u64(&w, cookie);
    wbuf_u16(&w, stream);
}

int dp_data_hello_parse(const uint8_t in[DP_DATA_HELLO_LEN], uint64_t *cookie, uint16_t *stream)
{
    int kind = dp_greeting_parse(in);
    if (kind < 0)
        return kind;
    if (kind != DP_KIND_DATA)
        return -EINVAL;
    rbuf_t r = rbuf_init(in + DP_GREETING_LEN, DP_DATA_HELLO_LEN - DP_GREETING_LEN);
    *cookie = rbuf_u64(&r);
    *stream = rbuf_u16(&r);
    return 0;
}

static bool s_is_rr(uint8_t kind)
{
    return kind == DP_DGRAM_RR_REQ || kind == DP_DGRAM_RR_REP || kind == DP_DGRAM_RR_FLUSH;
}

void dp_dgram_put(uint8_t *buf, const dp_dgram_t *d)
{
    size_t len = s_is_rr(d->kind) ? DP_RR_HDR_LEN : DP_DGRAM_HDR_LEN;
    wbuf_t w = wbuf_init(buf, len);
    wbuf_u32(&w, DP_DGRAM_MAGIC);
    wbuf_u8(&w, d->kind);
    wbuf_u8(&w, d->flags);
    wbuf_u16(&w, 0);
    wbuf_u64(&w, d->seq);
    wbuf_i64(&w, d->tx_real_ns);
    if (s_is_rr(d->kind)) {
        wbuf_u32(&w, d->turn_user_ns);
        wbuf_u32(&w, d->turn_kernel_ns);
        wbuf_u64(&w, d->turn_seq);
    }
}

int dp_dgram_parse(const uint8_t *buf, size_t len, dp_dgram_t *d)
{
    rbuf_t r = rbuf_init(buf, len);
    if (rbuf_u32(&r) != DP_DGRAM_MAGIC)
        return -EINVAL;
    dp_dgram_t x = {0};
    x.kind = rbuf_u8(&r);
    x.flags = rbuf_u8(&r);
    (void)rbuf_u16(&r);
    x.seq = rbuf_u64(&r);
    x.tx_real_ns = rbuf_i64(&r);
    if (x.kind < DP_DGRAM_HELLO || x.kind > DP_DGRAM_RR_FLUSH)
        return -EINVAL;
    if (s_is_rr(x.kind)) {
        x.turn_user_ns = rbuf_u32(&r);
        x.turn_kernel_ns = rbuf_u32(&r);
        x.turn_seq = rbuf_u64(&r);
    } else {
        x.turn_user_ns = x.turn_kernel_ns = DP_TURN_NONE;
    }
    if (!r.ok)
        return -EINVAL;
    *d = x;
    return 0;
}

/* ---- the same bodies as standalone blobs (the control plane carries them as BIN fields) ---- */

typedef void (*s_put_fn)(wbuf_t *w, const void *src);
typedef void (*s_get_fn)(rbuf_t *r, void *dst);

static long s_blob_encode(s_put_fn put, const void *src, uint8_t *buf, size_t cap)
{
    wbuf_t w = wbuf_init(buf, cap);
    put(&w, src);
    return w.ok ? (long)w.len : -ENOBUFS;
}

static void s_put_spec_v(wbuf_t *w, const void *s) { s_put_spec(w, s); }
static void s_get_spec_v(rbuf_t *r, void *d) { s_get_spec(r, d); }
static void s_put_interval_v(wbuf_t *w, const void *s) { s_put_interval(w, s); }
static void s_get_interval_v(rbuf_t *r, void *d) { s_get_interval(r, d); }
static void s_put_report_v(wbuf_t *w, const void *s) { s_put_report(w, s); }

long dp_spec_encode(const test_spec_t *t, uint8_t *buf, size_t cap) { return s_blob_encode(s_put_spec_v, t, buf, cap); }
long dp_interval_encode(const interval_t *iv, uint8_t *buf, size_t cap)
{
    return s_blob_encode(s_put_interval_v, iv, buf, cap);
}
long dp_report_encode(const report_t *r, uint8_t *buf, size_t cap) { return s_blob_encode(s_put_report_v, r, buf, cap); }

static int s_blob_decode(s_get_fn get, const uint8_t *buf, size_t len, void *dst)
{
    rbuf_t r = rbuf_init(buf, len);
    get(&r, dst);
    return r.ok && rbuf_left(&r) == 0 ? 0 : -EINVAL;
}

int dp_spec_decode(const uint8_t *buf, size_t len, test_spec_t *t)
{
    test_spec_t x;
    memset(&x, 0, sizeof x);
    int rc = s_blob_decode(s_get_spec_v, buf, len, &x);
    if (rc == 0)
        *t = x;
    return rc;
}

int dp_interval_decode(const uint8_t *buf, size_t len, interval_t *iv)
{
    interval_t x;
    memset(&x, 0, sizeof x);
    int rc = s_blob_decode(s_get_interval_v, buf, len, &x);
    if (rc == 0)
        *iv = x;
    return rc;
}

int dp_report_decode(const uint8_t *buf, size_t len, report_t *r)
{
    report_t x;
    report_init(&x);
    rbuf_t rb = rbuf_init(buf, len);
    s_get_report(&rb, &x);
    if (!rb.ok || rbuf_left(&rb) != 0) {
        report_fini(&x);
        return -EINVAL;
    }
    *r = x;
    return 0;
}
