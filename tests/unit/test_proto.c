/* test_proto.c — node/proto.c (include/vmtp/proto.def): round trips of every message with its
 * fields at their bounds, the encoder's refusals, and the strict decoder's rejections, each with
 * its exact return code and a reason naming the problem: hostile length headers at every nesting
 * level, every truncation, wrong field counts and types, out-of-range values, over-long strings,
 * refused msgpack types, trailing bytes, oversized frames, foreign versions and unknown ids.
 *
 * The tests are driven by a table of every field made from proto.def (s_fields), so a message
 * or field added there is covered without touching this file. Frames with one element changed
 * are made by splicing a valid encoding (s_splice) with the bytes of a small msgpack writer.
 */
#include "check.h"

#include "vmtp/proto.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define S_WHY 256
#define S_FRAME_CAP (PROTO_FRAME_MAX + 64)
#define S_POOL (262144 + 64) /* the largest BIN or STR bound, plus a margin */
#define S_MAX_FIELDS 256
#define S_SMALL_BIN 64   /* BIN length of the "small" fill: frames whose every prefix is tried */
#define S_UNKNOWN_ID 127 /* a message id proto.def does not define (checked), one byte on the wire */

typedef enum { S_K_UINT, S_K_INT, S_K_BOOL, S_K_STR, S_K_BIN, S_K_STRS } s_kind_t;

/* One field of proto.def, with where it lives in a proto_msg_t. */
typedef struct {
    uint32_t id;      /* message id */
    const char *msg;  /* "HELLO" */
    const char *name; /* "ncpu" */
    unsigned idx;     /* position among the message's fields (frame element 3 + idx) */
    s_kind_t kind;
    size_t off;       /* offset in proto_msg_t */
    size_t voff;      /* STRS: offset of the strings from the field */
    uint64_t lo, hi;  /* UINT range; STR length range; BIN 0..max; STRS max count (lo) and length (hi) */
    int64_t ilo, ihi; /* INT range */
} s_field_t;

typedef enum { S_MIN, S_MAX, S_SMALL, S_RANDOM } s_mode_t;

/* A msgpack byte writer over a fixed buffer. */
typedef struct {
    uint8_t *b; /* S_FRAME_CAP bytes */
    size_t n;   /* bytes written (may exceed the cap: checked by s_expect) */
} s_w_t;

static s_field_t s_fields[S_MAX_FIELDS];
static size_t s_nfields;
static uint32_t s_ids[] = {
#define S_ID(id_, NAME, name, FIELDS, dir, doc) id_,
    PROTO_MESSAGES(S_ID)
#undef S_ID
};
#define S_NIDS (sizeof s_ids / sizeof s_ids[0])

static char s_text[S_POOL];     /* printable bytes the STR fields are filled from */
static uint8_t s_bytes[S_POOL]; /* every byte value, for BIN fields */
static uint8_t s_frame_buf[S_FRAME_CAP];
static uint8_t s_rep_buf[S_FRAME_CAP];
static uint64_t s_rng = 0x70726f746f;

/* ---- the field table, from proto.def ---------------------------------------------------- */

#define S_B_UINT(a, b) (uint64_t)(a), (uint64_t)(b), 0, 0
#define S_B_INT(a, b) 0, 0, (int64_t)(a), (int64_t)(b)
#define S_B_BOOL(a, b) 0, 1, 0, 0
#define S_B_STR(a, b) (uint64_t)(a), (uint64_t)(b), 0, 0
#define S_B_BIN(a, b) 0, (uint64_t)(b), 0, 0
#define S_B_STRS(a, b) (uint64_t)(a), (uint64_t)(b), 0, 0
#define S_VOFF_UINT(f) 0
#define S_VOFF_INT(f) 0
#define S_VOFF_BOOL(f) 0
#define S_VOFF_STR(f) 0
#define S_VOFF_BIN(f) 0
#define S_VOFF_STRS(f) offsetof(s_cur_t, f.v) - offsetof(s_cur_t, f)
#define S_TAB_FIELD(kind, f, a, b, doc)                                                                                \
    s_tab_add(cur_id, cur_msg, #f, idx++, S_K_##kind, offsetof(proto_msg_t, u) + offsetof(s_cur_t, f),                 \
              S_VOFF_##kind(f), S_B_##kind(a, b));
#define S_TAB_MSG(id_, NAME, name, FIELDS, dir, doc)                                                                   \
    {                                                                                                                  \
        typedef proto_##name##_t s_cur_t;                                                                              \
        const uint32_t cur_id = id_;                                                                                   \
        const char *cur_msg = #NAME;                                                                                   \
        unsigned idx = 0;                                                                                              \
        FIELDS(S_TAB_FIELD)                                                                                            \
    }

static void s_tab_add(uint32_t id, const char *msg, const char *name, unsigned idx, s_kind_t kind, size_t off,
                      size_t voff, uint64_t lo, uint64_t hi, int64_t ilo, int64_t ihi)
{
    if (s_nfields == S_MAX_FIELDS) {
        CHECK(0, "more than %d fields in proto.def: raise S_MAX_FIELDS", S_MAX_FIELDS);
        return;
    }
    if ((kind == S_K_STR || kind == S_K_BIN || kind == S_K_STRS) && hi >= S_POOL)
        CHECK(0, "%s.%s: %llu bytes, more than S_POOL: raise it", msg, name, (unsigned long long)hi);
    s_fields[s_nfields++] = (s_field_t){id, msg, name, idx, kind, off, voff, lo, hi, ilo, ihi};
}

static void s_tab_init(void) { PROTO_MESSAGES(S_TAB_MSG) }

static unsigned s_count(uint32_t id)
{
    unsigned n = 0;
    for (size_t i = 0; i < s_nfields; i++)
        n += s_fields[i].id == id;
    return n;
}

static void *s_at(proto_msg_t *m, const s_field_t *f) { return (char *)m + f->off; }
static const void *s_cat(const proto_msg_t *m, const s_field_t *f) { return (const char *)m + f->off; }
static char *s_strs_v(proto_msg_t *m, const s_field_t *f, unsigned i)
{
    return (char *)s_at(m, f) + f->voff + (size_t)i * (f->hi + 1);
}
static const char *s_strs_cv(const proto_msg_t *m, const s_field_t *f, unsigned i)
{
    return (const char *)s_cat(m, f) + f->voff + (size_t)i * (f->hi + 1);
}

/* ---- filling messages near their bounds ------------------------------------------------- */

static uint64_t s_pick(s_mode_t mode, uint64_t lo, uint64_t hi)
{
    if (mode == S_MIN)
        return lo;
    if (mode != S_RANDOM)
        return hi;
    uint64_t r = check_rand(&s_rng);
    switch (r % 4) { /* the bounds themselves half of the time */
    case 0: return lo;
    case 1: return hi;
    default: return hi - lo == UINT64_MAX ? r : lo + (r >> 2) % (hi - lo + 1);
    }
}

static void s_fill_str(char *s, size_t n, unsigned salt)
{
    memcpy(s, s_text + salt % 26, n);
    s[n] = 0;
}

static void s_fill_field(proto_msg_t *m, const s_field_t *f, s_mode_t mode, unsigned salt)
{
    void *p = s_at(m, f);
    switch (f->kind) {
    case S_K_UINT: *(uint64_t *)p = s_pick(mode, f->lo, f->hi); break;
    case S_K_INT:
        *(int64_t *)p = (int64_t)((uint64_t)f->ilo + s_pick(mode, 0, (uint64_t)f->ihi - (uint64_t)f->ilo));
        break;
    case S_K_BOOL: *(bool *)p = s_pick(mode, 0, 1) != 0; break;
    case S_K_STR: s_fill_str(p, s_pick(mode, f->lo, f->hi), salt); break;
    case S_K_BIN: {
        proto_bin_t *b = p;
        uint64_t hi = mode == S_SMALL && f->hi > S_SMALL_BIN ? S_SMALL_BIN : f->hi;
        b->len = s_pick(mode, 0, mode == S_RANDOM && hi > 300 ? 300 : hi);
        b->data = b->len ? s_bytes + salt % 64 : NULL;
        break;
    }
    case S_K_STRS: {
        unsigned n = (unsigned)s_pick(mode, 0, f->lo);
        *(unsigned *)p = n;
        for (unsigned i = 0; i < n; i++)
            s_fill_str(s_strs_v(m, f, i), s_pick(mode, 0, f->hi), salt + i);
        break;
    }
    }
}

/* A message `id` with every field filled by mode; seq at 0 (S_MIN) or UINT64_MAX. */
static void s_fill(proto_msg_t *m, uint32_t id, s_mode_t mode)
{
    proto_msg_init(m, (proto_id_t)id, s_pick(mode, 0, UINT64_MAX));
    for (size_t i = 0; i < s_nfields; i++)
        if (s_fields[i].id == id)
            s_fill_field(m, &s_fields[i], mode, (unsigned)(i * 7 + s_fields[i].idx));
}

/* Name of the first field that differs between a and b (same id), or NULL. */
static const char *s_diff(const proto_msg_t *a, const proto_msg_t *b)
{
    if (a->id != b->id)
        return "id";
    if (a->seq != b->seq)
        return "seq";
    for (size_t i = 0; i < s_nfields; i++) {
        const s_field_t *f = &s_fields[i];
        if (f->id != a->id)
            continue;
        const void *x = s_cat(a, f), *y = s_cat(b, f);
        bool same = true;
        switch (f->kind) {
        case S_K_UINT: same = *(const uint64_t *)x == *(const uint64_t *)y; break;
        case S_K_INT: same = *(const int64_t *)x == *(const int64_t *)y; break;
        case S_K_BOOL: same = *(const bool *)x == *(const bool *)y; break;
        case S_K_STR: same = strcmp(x, y) == 0; break;
        case S_K_BIN: {
            const proto_bin_t *p = x, *q = y;
            same = p->len == q->len && (!p->len || memcmp(p->data, q->data, p->len) == 0);
            break;
        }
        case S_K_STRS:
            same = *(const unsigned *)x == *(const unsigned *)y;
            for (unsigned j = 0; same && j < *(const unsigned *)x; j++)
                same = strcmp(s_strs_cv(a, f, j), s_strs_cv(b, f, j)) == 0;
            break;
        }
        if (!same)
            return f->name;
    }
    return NULL;
}

/* ---- a msgpack writer, and splicing one element of a valid frame ------------------------ */

static void s_raw(s_w_t *w, const void *p, size_t n)
{
    if (n && w->n + n <= S_FRAME_CAP)
        memcpy(w->b + w->n, p, n);
    w->n += n;
}

/* A type byte followed by v in `bytes` big-endian bytes. */
static void s_tag(s_w_t *w, uint8_t tag, uint64_t v, unsigned bytes)
{
    uint8_t t[9] = {tag};
    for (unsigned i = 0; i < bytes; i++)
        t[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    s_raw(w, t, 1 + bytes);
}

static void s_w_uint(s_w_t *w, uint64_t v)
{
    if (v < 128)
        s_tag(w, (uint8_t)v, 0, 0);
    else if (v <= UINT8_MAX)
        s_tag(w, 0xcc, v, 1);
    else if (v <= UINT16_MAX)
        s_tag(w, 0xcd, v, 2);
    else if (v <= UINT32_MAX)
        s_tag(w, 0xce, v, 4);
    else
        s_tag(w, 0xcf, v, 8);
}

static void s_w_int(s_w_t *w, int64_t v)
{
    if (v >= 0)
        s_w_uint(w, (uint64_t)v);
    else if (v >= -32)
        s_tag(w, (uint8_t)v, 0, 0);
    else if (v >= INT8_MIN)
        s_tag(w, 0xd0, (uint64_t)v, 1);
    else if (v >= INT16_MIN)
        s_tag(w, 0xd1, (uint64_t)v, 2);
    else if (v >= INT32_MIN)
        s_tag(w, 0xd2, (uint64_t)v, 4);
    else
        s_tag(w, 0xd3, (uint64_t)v, 8);
}

/* A header of kind fix (fixstr/fixarray; 0 = none, as for bin) or 8/16/32-bit length. */
static void s_w_hdr(s_w_t *w, uint8_t fix, size_t fixlim, const uint8_t t[3], uint64_t n)
{
    if (fix && n < fixlim)
        s_tag(w, (uint8_t)(fix | n), 0, 0);
    else if (t[0] && n <= UINT8_MAX)
        s_tag(w, t[0], n, 1);
    else if (n <= UINT16_MAX)
        s_tag(w, t[1], n, 2);
    else
        s_tag(w, t[2], n, 4);
}

static void s_w_str(s_w_t *w, const char *s, size_t n)
{
    s_w_hdr(w, 0xa0, 32, (const uint8_t[3]){0xd9, 0xda, 0xdb}, n);
    s_raw(w, s, n);
}

static void s_w_bin(s_w_t *w, const void *p, size_t n)
{
    s_w_hdr(w, 0, 0, (const uint8_t[3]){0xc4, 0xc5, 0xc6}, n);
    s_raw(w, p, n);
}

static void s_w_arr(s_w_t *w, uint64_t n) { s_w_hdr(w, 0x90, 16, (const uint8_t[3]){0, 0xdc, 0xdd}, n); }

static uint64_t s_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Offset just past the msgpack object at d[pos] (d is a well-formed frame from proto_encode). */
static size_t s_skip(const uint8_t *d, size_t pos)
{
    uint8_t t = d[pos++];
    uint64_t n = 0;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc2 || t == 0xc3)
        return pos;
    if (t >= 0xa0 && t <= 0xbf)
        return pos + (t & 0x1f);
    if (t >= 0xcc && t <= 0xd3)
        return pos + ((size_t)1 << (t & 0x03));
    if (t == 0xc4 || t == 0xd9)
        return pos + 1 + d[pos];
    if (t == 0xc5 || t == 0xda)
        return pos + 2 + s_be(d + pos, 2);
    if (t == 0xc6 || t == 0xdb)
        return pos + 4 + s_be(d + pos, 4);
    if (t >= 0x90 && t <= 0x9f)
        n = t & 0x0f;
    else if (t == 0xdc)
        n = s_be(d + pos, 2), pos += 2;
    else if (t == 0xdd)
        n = s_be(d + pos, 4), pos += 4;
    for (uint64_t i = 0; i < n; i++)
        pos = s_skip(d, pos);
    return pos;
}

/* The element count of the array at f[0] (fixarray or array16, as proto_encode writes them);
 * returns the offset of its first element. */
static size_t s_arr_hdr(const uint8_t *f, uint64_t *count)
{
    if (f[0] == 0xdc) {
        *count = s_be(f + 1, 2);
        return 3;
    }
    *count = f[0] & 0x0f;
    return 1;
}

/* Writes frame f (from proto_encode) into w with its element k replaced by rep (k equal to the
 * element count: rep is appended; rep NULL: element k is removed), the array header adjusted. */
static void s_splice(s_w_t *w, const uint8_t *f, unsigned k, const s_w_t *rep)
{
    uint64_t count;
    size_t pos = s_arr_hdr(f, &count);
    w->n = 0;
    s_w_arr(w, count - !rep + (rep && k >= count));
    for (unsigned i = 0; i <= count; i++) {
        size_t end = i < count ? s_skip(f, pos) : pos;
        if (i == k && rep)
            s_raw(w, rep->b, rep->n);
        else if (i != k && i < count)
            s_raw(w, f + pos, end - pos);
        pos = end;
    }
}

/* ---- expectations ------------------------------------------------------------------------ */

/* Decodes d[0..n) from an exact-size copy (ASan sees any read past its end); checks the return
 * code and that why contains needle. The message goes to *out (BIN fields freed) when asked. */
static void s_expect_m(const uint8_t *d, size_t n, int rc, const char *needle, const char *what, proto_msg_t *out)
{
    static proto_msg_t m;
    char why[S_WHY] = "";
    CHECK(n <= S_FRAME_CAP, "%s: test frame overflowed its buffer", what);
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy || n > S_FRAME_CAP) {
        free(copy);
        return;
    }
    if (n)
        memcpy(copy, d, n);
    int got = proto_decode(copy, n, &m, why, sizeof why);
    free(copy);
    CHECK(got == rc, "%s: proto_decode = %d, expected %d (%s)", what, got, rc, why);
    CHECK(!needle || strstr(why, needle), "%s: why \"%s\" does not name \"%s\"", what, why, needle);
    CHECK(got == 0 || why[0], "%s: failed with an empty why", what);
    if (got == 0) {
        proto_msg_fini(&m);
    } else { /* a failed decode leaves nothing to free (not freed here: LSan reports a leak) */
        for (size_t i = 0; i < s_nfields; i++) {
            const proto_bin_t *b = s_cat(&m, &s_fields[i]);
            if (s_fields[i].id == m.id && s_fields[i].kind == S_K_BIN)
                CHECK(!b->data && !b->len, "%s: failed, but %s.%s holds bytes", what, s_fields[i].msg,
                      s_fields[i].name);
        }
    }
    if (out)
        *out = m;
}

static void s_expect(const uint8_t *d, size_t n, int rc, const char *needle, const char *what)
{
    s_expect_m(d, n, rc, needle, what, NULL);
}

/* Encodes m (which must be valid) into a malloc'd frame. */
static uint8_t *s_encode(const proto_msg_t *m, size_t *len)
{
    uint8_t *out = NULL;
    char why[S_WHY] = "";
    int rc = proto_encode(m, &out, len, why, sizeof why);
    CHECK(rc == 0 && out, "proto_encode(%s) = %d (%s)", proto_name(m->id), rc, why);
    return rc == 0 ? out : NULL;
}

/* The frame of a message `id` filled by mode, into a malloc'd buffer. */
static uint8_t *s_base(uint32_t id, s_mode_t mode, size_t *len)
{
    proto_msg_t m;
    s_fill(&m, id, mode);
    return s_encode(&m, len);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_names(void)
{
#define S_NAME(id_, NAME, name, FIELDS, dir, doc) CHECK(strcmp(proto_name(id_), #NAME) == 0, "name of %d", id_);
    PROTO_MESSAGES(S_NAME)
#undef S_NAME
    uint32_t past = 0; /* the first id after the last one */
    for (size_t i = 0; i < S_NIDS; i++)
        past = s_ids[i] >= past ? s_ids[i] + 1 : past;
    CHECK(strcmp(proto_name(0), "?") == 0 && strcmp(proto_name(past), "?") == 0 &&
              strcmp(proto_name(UINT32_MAX), "?") == 0,
          "unknown ids are named ?");
    CHECK(strcmp(proto_name(S_UNKNOWN_ID), "?") == 0, "id %d is defined: pick another S_UNKNOWN_ID", S_UNKNOWN_ID);
}

/* The wire format itself, byte for byte. */
static void test_golden(void)
{
    static const struct {
        const char *what;
        uint8_t b[16];
        size_t n;
    } g[] = {
        {"HEARTBEAT", {0x95, 0x01, 0x02, 0x07, 0xcd, 0x01, 0x2c, 0x03}, 8},
        {"BYE", {0x94, 0x01, 0x0a, 0x00, 0xa2, 'o', 'k'}, 7},
        {"RESULT", {0x9a, 0x01, 0x06, 0x01, 0x01, 0xd1, 0xf0, 0x01, 0xa0, 0xa0, 0x00, 0xc4, 0x00, 0xc4, 0x00}, 15},
        {"INTERVAL", {0x96, 0x01, 0x05, 0xcc, 0xff, 0x09, 0xc3, 0xc4, 0x02, 0x00, 0xff}, 11},
    };
    static const uint8_t two[] = {0x00, 0xff};
    proto_msg_t m[4];
    proto_msg_init(&m[0], PROTO_HEARTBEAT, 7);
    m[0].u.heartbeat.sent_real_ns = 300;
    m[0].u.heartbeat.running = 3;
    proto_msg_init(&m[1], PROTO_BYE, 0);
    memcpy(m[1].u.bye.reason, "ok", 3);
    proto_msg_init(&m[2], PROTO_RESULT, 1);
    m[2].u.result.test_id = 1;
    m[2].u.result.status = -4095;
    proto_msg_init(&m[3], PROTO_INTERVAL, 255);
    m[3].u.interval.test_id = 9;
    m[3].u.interval.remote = true;
    m[3].u.interval.interval = (proto_bin_t){(uint8_t *)(uintptr_t)two, 2};
    for (size_t i = 0; i < 4; i++) {
        size_t len = 0;
        uint8_t *f = s_encode(&m[i], &len);
        CHECK(f && len == g[i].n && memcmp(f, g[i].b, len) == 0, "%s: not the expected bytes", g[i].what);
        proto_msg_t back;
        s_expect_m(g[i].b, g[i].n, 0, NULL, g[i].what, &back);
        free(f);
    }
}

static void s_round_trip(uint32_t id, s_mode_t mode)
{
    proto_msg_t m, back;
    char why[S_WHY] = "";
    size_t len = 0, len2 = 0;
    s_fill(&m, id, mode);
    uint8_t *f = s_encode(&m, &len);
    if (!f)
        return;
    CHECK(len <= PROTO_FRAME_MAX, "%s: %zu-byte frame", proto_name(id), len);
    int rc = proto_decode(f, len, &back, why, sizeof why);
    CHECK(rc == 0, "%s (mode %d): decode = %d (%s)", proto_name(id), mode, rc, why);
    if (rc == 0) {
        const char *d = s_diff(&m, &back);
        CHECK(!d, "%s (mode %d): field %s differs after the round trip", proto_name(id), mode, d);
        uint8_t *f2 = s_encode(&back, &len2);
        CHECK(f2 && len2 == len && memcmp(f, f2, len) == 0, "%s: re-encoding differs", proto_name(id));
        free(f2);
        proto_msg_fini(&back);
        proto_msg_fini(&back); /* idempotent */
    }
    rc = proto_decode(f, len, &back, NULL, 0); /* no why wanted */
    CHECK(rc == 0, "%s: decode without why = %d", proto_name(id), rc);
    proto_msg_fini(&back);
    free(f);
}

static void test_round_trips(void)
{
    for (size_t i = 0; i < S_NIDS; i++) {
        s_round_trip(s_ids[i], S_MIN);
        s_round_trip(s_ids[i], S_MAX);
        s_round_trip(s_ids[i], S_SMALL);
        for (int r = 0; r < 200 && check_keep_going(); r++)
            s_round_trip(s_ids[i], S_RANDOM);
    }
}

/* proto_encode refuses m with -EINVAL, why naming `field`, and leaves *out and *len alone. */
static void s_expect_enc(const proto_msg_t *m, const char *field, const char *what)
{
    static uint8_t sentinel;
    uint8_t *out = &sentinel;
    size_t len = 12345;
    char why[S_WHY] = "";
    int rc = proto_encode(m, &out, &len, why, sizeof why);
    CHECK(rc == -EINVAL, "%s %s: proto_encode = %d, expected -EINVAL", field, what, rc);
    CHECK(strstr(why, field), "%s %s: why \"%s\" does not name the field", field, what, why);
    CHECK(out == &sentinel && len == 12345, "%s %s: out-parameters written on failure", field, what);
    if (rc == 0 && out != &sentinel)
        free(out);
}

static void test_encode_refusals(void)
{
    proto_msg_t m;
    for (size_t i = 0; i < s_nfields; i++) {
        const s_field_t *f = &s_fields[i];
        char fw[64];
        snprintf(fw, sizeof fw, "%s.%s", f->msg, f->name);
        void *p = s_at(&m, f);
        switch (f->kind) {
        case S_K_UINT:
            if (f->lo > 0) {
                s_fill(&m, f->id, S_SMALL);
                *(uint64_t *)p = f->lo - 1;
                s_expect_enc(&m, fw, "below its minimum");
            }
            if (f->hi < UINT64_MAX) {
                s_fill(&m, f->id, S_SMALL);
                *(uint64_t *)p = f->hi + 1;
                s_expect_enc(&m, fw, "above its maximum");
            }
            break;
        case S_K_INT:
            if (f->ilo > INT64_MIN) {
                s_fill(&m, f->id, S_SMALL);
                *(int64_t *)p = f->ilo - 1;
                s_expect_enc(&m, fw, "below its minimum");
            }
            if (f->ihi < INT64_MAX) {
                s_fill(&m, f->id, S_SMALL);
                *(int64_t *)p = f->ihi + 1;
                s_expect_enc(&m, fw, "above its maximum");
            }
            break;
        case S_K_BOOL: break; /* a bool has no out-of-range value */
        case S_K_STR:
            s_fill(&m, f->id, S_SMALL);
            memset(p, 'x', f->hi + 1); /* the whole buffer, no NUL */
            s_expect_enc(&m, fw, "one byte too long");
            if (f->lo > 0) {
                s_fill(&m, f->id, S_SMALL);
                s_fill_str(p, f->lo - 1, 0);
                s_expect_enc(&m, fw, "one byte too short");
            }
            break;
        case S_K_BIN:
            s_fill(&m, f->id, S_SMALL);
            *(proto_bin_t *)p = (proto_bin_t){s_bytes, f->hi + 1};
            s_expect_enc(&m, fw, "one byte too long");
            *(proto_bin_t *)p = (proto_bin_t){NULL, 1};
            s_expect_enc(&m, fw, "with a length but no bytes");
            break;
        case S_K_STRS:
            s_fill(&m, f->id, S_MAX);
            *(unsigned *)p = (unsigned)f->lo + 1;
            s_expect_enc(&m, fw, "one string too many");
            s_fill(&m, f->id, S_MAX);
            memset(s_strs_v(&m, f, (unsigned)f->lo - 1), 'x', f->hi + 1);
            s_expect_enc(&m, fw, "last string one byte too long");
            break;
        }
    }
    static const uint32_t bad[] = {0, S_UNKNOWN_ID, 255, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        proto_msg_init(&m, PROTO_BYE, 1);
        m.id = bad[i];
        s_expect_enc(&m, "unknown message id", "");
        uint8_t *out = NULL;
        size_t len = 0;
        CHECK(proto_encode(&m, &out, &len, NULL, 0) == -EINVAL && !out, "unknown id %u without why", bad[i]);
    }
}

/* The first three elements and the frame as a whole. */
static void test_header(void)
{
    static const struct {
        const char *what;
        const char *b; /* the frame */
        size_t n;
        int rc;
        const char *needle;
        uint32_t id;  /* expected in m->id on -EPROTO/-ENOMSG */
        uint64_t seq; /* likewise */
    } t[] = {
        {"empty frame", "", 0, -EINVAL, "truncated at byte 0", 0, 0},
        {"a uint", "\x01", 1, -EINVAL, "not an array", 0, 0},
        {"a string", "\xa1x", 2, -EINVAL, "not an array", 0, 0},
        {"a bool", "\xc3", 1, -EINVAL, "not an array", 0, 0},
        {"a binary", "\xc4\x01\x00", 3, -EINVAL, "not an array", 0, 0},
        {"[]", "\x90", 1, -EINVAL, "not an array of [version", 0, 0},
        {"[1]", "\x91\x01", 2, -EINVAL, "not an array of [version", 0, 0},
        {"[1, 2]", "\x92\x01\x02", 3, -EINVAL, "not an array of [version", 0, 0},
        {"negative version", "\x95\xff\x02\x07\x00\x00", 6, -EINVAL, "version, id and seq", 0, 0},
        {"negative id", "\x95\x01\xfe\x07\x00\x00", 6, -EINVAL, "version, id and seq", 0, 0},
        {"negative seq", "\x95\x01\x02\xd0\x80\x00\x00", 7, -EINVAL, "version, id and seq", 0, 0},
        {"string version", "\x95\xa1\x31\x02\x07\x00\x00", 7, -EINVAL, "version, id and seq", 0, 0},
        {"bool id", "\x95\x01\xc3\x07\x00\x00", 6, -EINVAL, "version, id and seq", 0, 0},
        {"array seq", "\x95\x01\x02\x90\x00\x00", 6, -EINVAL, "version, id and seq", 0, 0},
        {"version 2", "\x94\x02\x04\x4d\x00", 5, -EPROTO, "protocol version 2", 4, 77},
        {"version 0", "\x93\x00\x09\xcd\x12\x34", 6, -EPROTO, "protocol version 0", 9, 0x1234},
        {"version 2^64", "\x93\xcf\xff\xff\xff\xff\xff\xff\xff\xff\x63\x05", 12, -EPROTO, "18446744073709551615", 99,
         5},
        {"version 2, id 2^32", "\x93\x02\xcf\x00\x00\x00\x01\x00\x00\x00\x00\x05", 12, -EPROTO, "version 2", 0, 5},
        {"id 0", "\x93\x01\x00\x2a", 4, -ENOMSG, "unknown message id 0", 0, 42},
        {"id 127", "\x93\x01\x7f\x2a", 4, -ENOMSG, "unknown message id 127", 127, 42},
        {"id 127 with fields", "\x95\x01\x7f\x2a\x01\xa0", 6, -ENOMSG, "unknown message id 127", 127, 42},
        {"id 2^32-1", "\x93\x01\xce\xff\xff\xff\xff\x01", 8, -ENOMSG, "message id 4294967295", UINT32_MAX, 1},
        {"id 2^32+2", "\x93\x01\xcf\x00\x00\x00\x01\x00\x00\x00\x02\x01", 12, -ENOMSG, "id 4294967298", 0, 1},
        {"id 127, seq 2^64-1", "\x93\x01\x7f\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 12, -ENOMSG, "id 127", 127,
         UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        proto_msg_t m;
        s_expect_m((const uint8_t *)t[i].b, t[i].n, t[i].rc, t[i].needle, t[i].what, &m);
        if (t[i].rc == -EPROTO || t[i].rc == -ENOMSG)
            CHECK(m.id == t[i].id && m.seq == t[i].seq, "%s: id %u seq %llu, expected %u %llu", t[i].what, m.id,
                  (unsigned long long)m.seq, t[i].id, (unsigned long long)t[i].seq);
    }

    /* a foreign version is reported before anything about the fields */
    size_t len = 0;
    uint8_t *f = s_base(PROTO_RUN, S_SMALL, &len);
    if (f) {
        f[1] = 2;
        proto_msg_t m;
        s_expect_m(f, len, -EPROTO, "protocol version 2", "RUN of version 2", &m);
        CHECK(m.id == PROTO_RUN && m.seq == UINT64_MAX, "RUN of version 2: id %u seq %llu", m.id,
              (unsigned long long)m.seq);
        free(f);
    }

    /* bytes after the array */
    f = s_base(PROTO_STOP, S_MAX, &len);
    uint8_t *g = f ? realloc(f, 2 * len) : NULL;
    if (g) {
        memcpy(g + len, g, len);
        s_expect(g, len + 1, -EINVAL, "1 bytes after the message", "STOP and a trailing byte");
        s_expect(g, 2 * len, -EINVAL, "bytes after the message", "two STOP frames");
        free(g);
    } else {
        free(f);
    }

    /* why may be absent or tiny */
    static const uint8_t five[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    proto_msg_t m;
    char why[8];
    memset(why, 'z', sizeof why);
    CHECK(proto_decode(five, sizeof five, &m, NULL, 0) == -EINVAL, "decode without why");
    CHECK(proto_decode(five, sizeof five, &m, why, sizeof why) == -EINVAL && strlen(why) == sizeof why - 1,
          "an 8-byte why is cut and terminated");
}

/* Frames over PROTO_FRAME_MAX are refused before anything is read; one of exactly that size is
 * read and refused for its content (a RESULT whose local report is too long). */
static void test_frame_size(void)
{
    size_t len = 0;
    uint8_t *f = s_base(PROTO_RESULT, S_SMALL, &len);
    if (!f)
        return;
    const unsigned k = 3 + 5; /* RESULT.local */
    s_w_t w = {s_frame_buf, 0}, r = {s_rep_buf, 0};
    s_tag(&r, 0xc6, 0, 4);
    s_splice(&w, f, k, &r);
    size_t rest = w.n; /* the frame with local as an empty bin32 */
    for (size_t total = PROTO_FRAME_MAX; total <= PROTO_FRAME_MAX + 1; total++) {
        r.n = 0;
        s_tag(&r, 0xc6, total - rest, 4);
        r.n += total - rest; /* the bin's bytes: whatever the buffer holds */
        s_splice(&w, f, k, &r);
        CHECK(w.n == total, "frame of %zu bytes built as %zu", total, w.n);
        if (total == PROTO_FRAME_MAX)
            s_expect(w.b, w.n, -EINVAL, "RESULT.local", "frame of exactly PROTO_FRAME_MAX");
        else
            s_expect(w.b, w.n, -EMSGSIZE, "1048577 bytes", "frame of PROTO_FRAME_MAX + 1");
    }
    free(f);
}

/* Length headers claiming far more than the frame holds, at every element of every message,
 * inside a STRS array, and alone: the pre-scan refuses them before msgpack-c allocates. */
static void test_huge_headers(void)
{
    static const struct {
        uint8_t b[5];
        size_t n;
        const char *needle;
    } h[] = {
        {{0xdd, 0xff, 0xff, 0xff, 0xff}, 5, "an array of 4294967295 elements"},
        {{0xdc, 0xff, 0xff}, 3, "an array of 65535 elements"},
        {{0xdb, 0xff, 0xff, 0xff, 0xff}, 5, "a 4294967295-byte string or binary"},
        {{0xda, 0xff, 0xff}, 3, "a 65535-byte string or binary"},
        {{0xc6, 0xff, 0xff, 0xff, 0xff}, 5, "a 4294967295-byte string or binary"},
        {{0xc5, 0xff, 0xff}, 3, "a 65535-byte string or binary"},
    };
    const size_t nh = sizeof h / sizeof h[0];
    char what[128];
    s_w_t w = {s_frame_buf, 0}, r = {s_rep_buf, 0};
    s_expect(h[0].b, 5, -EINVAL, "an array of 4294967295 elements with 0 bytes left", "the frame dd ff ff ff ff");
    for (size_t j = 0; j < nh; j++) {
        snprintf(what, sizeof what, "header %02x alone", h[j].b[0]);
        s_expect(h[j].b, h[j].n, -EINVAL, h[j].needle, what);
    }
    for (size_t i = 0; i < S_NIDS; i++) {
        size_t len = 0;
        uint8_t *f = s_base(s_ids[i], S_SMALL, &len);
        if (!f)
            continue;
        for (unsigned k = 0; k < 3 + s_count(s_ids[i]); k++) {
            for (size_t j = 0; j < nh; j++) {
                r.n = 0;
                s_raw(&r, h[j].b, h[j].n);
                s_splice(&w, f, k, &r);
                snprintf(what, sizeof what, "%s element %u as header %02x", proto_name(s_ids[i]), k, h[j].b[0]);
                s_expect(w.b, w.n, -EINVAL, h[j].needle, what);
                /* the frame ending right after the header (the frame's own count may be the lie seen first) */
                uint64_t count;
                size_t end = s_arr_hdr(w.b, &count);
                for (unsigned e = 0; e < k; e++)
                    end = s_skip(w.b, end);
                s_expect(w.b, end + h[j].n, -EINVAL, "frame: ", what);
            }
        }
        free(f);
    }
    /* HELLO.addrs holding a huge header first, between strings, or as an array inside */
    size_t len = 0;
    uint8_t *f = s_base(PROTO_HELLO, S_SMALL, &len);
    const unsigned k = 3 + 8; /* HELLO.addrs */
    for (size_t j = 0; f && j < nh; j++) {
        for (int where = 0; where < 2; where++) {
            r.n = 0;
            s_w_arr(&r, 3);
            if (where)
                s_w_str(&r, "lo 127.0.0.1/8", 14);
            s_raw(&r, h[j].b, h[j].n);
            s_w_str(&r, "eth0 10.0.0.1/24", 16);
            s_splice(&w, f, k, &r);
            snprintf(what, sizeof what, "HELLO.addrs element %d as header %02x", where, h[j].b[0]);
            s_expect(w.b, w.n, -EINVAL, h[j].needle, what);
        }
        r.n = 0;
        s_w_arr(&r, 1);
        s_w_arr(&r, 1);
        s_raw(&r, h[j].b, h[j].n);
        s_splice(&w, f, k, &r);
        snprintf(what, sizeof what, "HELLO.addrs [[header %02x]]", h[j].b[0]);
        s_expect(w.b, w.n, -EINVAL, h[j].b[0] >= 0xdc ? "nested deeper than 3" : h[j].needle, what);
    }
    free(f);
}

/* Every prefix of a valid frame of every message is refused by the pre-scan. */
static void test_truncations(void)
{
    static const s_mode_t modes[] = {S_MIN, S_SMALL, S_MAX};
    for (size_t i = 0; i < S_NIDS && check_keep_going(); i++) {
        for (size_t mi = 0; mi < sizeof modes / sizeof modes[0]; mi++) {
            size_t len = 0;
            uint8_t *f = s_base(s_ids[i], modes[mi], &len);
            for (size_t cut = 0; f && cut < len && check_keep_going(); cut++) {
                /* S_MAX frames reach 512 KiB: their first and last 100 cuts and the middle one */
                if (modes[mi] == S_MAX && cut >= 100 && cut + 100 < len && cut != len / 2)
                    continue;
                char what[96];
                snprintf(what, sizeof what, "%s (mode %d) cut to %zu of %zu bytes", proto_name(s_ids[i]),
                         (int)modes[mi], cut, len);
                s_expect(f, cut, -EINVAL, "frame: ", what);
            }
            free(f);
        }
    }
}

static void test_field_counts(void)
{
    s_w_t w = {s_frame_buf, 0}, r = {s_rep_buf, 0};
    for (size_t i = 0; i < S_NIDS; i++) {
        uint32_t id = s_ids[i];
        unsigned n = s_count(id);
        size_t len = 0;
        uint8_t *f = s_base(id, S_SMALL, &len);
        if (!f)
            continue;
        char what[96], needle[96];
        r.n = 0;
        s_w_uint(&r, 0);
        s_splice(&w, f, 3 + n, &r);
        snprintf(what, sizeof what, "%s with one field more", proto_name(id));
        snprintf(needle, sizeof needle, "%s: %u fields, expected %u", proto_name(id), n + 1, n);
        s_expect(w.b, w.n, -EINVAL, needle, what);
        s_splice(&w, f, 3 + n - 1, NULL);
        snprintf(what, sizeof what, "%s with one field less", proto_name(id));
        snprintf(needle, sizeof needle, "%s: %u fields, expected %u", proto_name(id), n - 1, n);
        s_expect(w.b, w.n, -EINVAL, needle, what);
        uint8_t bare[] = {0x93, 0x01, (uint8_t)id, 0x00};
        snprintf(what, sizeof what, "%s without fields", proto_name(id));
        snprintf(needle, sizeof needle, "%s: 0 fields, expected %u", proto_name(id), n);
        s_expect(bare, sizeof bare, -EINVAL, needle, what);
        free(f);
    }
}

/* One sample of each msgpack kind the pre-scan lets through, and the field kinds it suits. */
static const struct {
    const char *what;
    uint8_t b[4];
    size_t n;
    unsigned fits; /* bit per s_kind_t */
} s_samples[] = {
    {"uint 1", {0x01}, 1, 1u << S_K_UINT | 1u << S_K_INT},
    {"int -1", {0xff}, 1, 1u << S_K_INT},
    {"true", {0xc3}, 1, 1u << S_K_BOOL},
    {"false", {0xc2}, 1, 1u << S_K_BOOL},
    {"string", {0xa1, 'x'}, 2, 1u << S_K_STR},
    {"binary", {0xc4, 0x01, 'x'}, 3, 1u << S_K_BIN},
    {"array of a string", {0x91, 0xa1, 'x'}, 3, 1u << S_K_STRS},
    {"empty array", {0x90}, 1, 1u << S_K_STRS},
};

/* What the pre-scan refuses anywhere: nil, never-used, floats, maps, ext. */
static const struct {
    const char *what;
    uint8_t b[10];
    size_t n;
} s_refused[] = {
    {"nil", {0xc0}, 1},
    {"never-used 0xc1", {0xc1}, 1},
    {"float32", {0xca, 0x3f, 0x80, 0, 0}, 5},
    {"float64", {0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}, 9},
    {"fixmap", {0x81, 0x01, 0x01}, 3},
    {"empty fixmap", {0x80}, 1},
    {"map16", {0xde, 0x00, 0x00}, 3},
    {"map32", {0xdf, 0x00, 0x00, 0x00, 0x00}, 5},
    {"fixext1", {0xd4, 0x01, 0x00}, 3},
    {"fixext16", {0xd8, 0x01, 0}, 3},
    {"ext8", {0xc7, 0x01, 0x01, 0x00}, 4},
    {"ext16", {0xc8, 0x00, 0x01, 0x01}, 4},
    {"ext32", {0xc9, 0x00, 0x00, 0x00, 0x01}, 5},
};

static void test_types(void)
{
    s_w_t w = {s_frame_buf, 0}, r = {s_rep_buf, 0};
    char what[128], fw[64];
    for (size_t i = 0; i < s_nfields && check_keep_going(); i++) {
        const s_field_t *f = &s_fields[i];
        size_t len = 0;
        uint8_t *base = s_base(f->id, S_SMALL, &len);
        if (!base)
            continue;
        snprintf(fw, sizeof fw, "%s.%s", f->msg, f->name);
        for (size_t j = 0; j < sizeof s_samples / sizeof s_samples[0]; j++) {
            if (s_samples[j].fits & 1u << f->kind)
                continue;
            r.n = 0;
            s_raw(&r, s_samples[j].b, s_samples[j].n);
            s_splice(&w, base, 3 + f->idx, &r);
            snprintf(what, sizeof what, "%s as %s", fw, s_samples[j].what);
            s_expect(w.b, w.n, -EINVAL, fw, what);
        }
        for (size_t j = 0; j < sizeof s_refused / sizeof s_refused[0]; j++) {
            r.n = 0;
            s_raw(&r, s_refused[j].b, s_refused[j].n);
            s_splice(&w, base, 3 + f->idx, &r);
            snprintf(what, sizeof what, "%s as %s", fw, s_refused[j].what);
            s_expect(w.b, w.n, -EINVAL, "is not allowed", what);
            if (f->kind == S_K_STRS) { /* and as a string of the array */
                r.n = 0;
                s_w_arr(&r, 2);
                s_w_str(&r, "a", 1);
                s_raw(&r, s_refused[j].b, s_refused[j].n);
                s_splice(&w, base, 3 + f->idx, &r);
                snprintf(what, sizeof what, "%s holding %s", fw, s_refused[j].what);
                s_expect(w.b, w.n, -EINVAL, "is not allowed", what);
            }
        }
        free(base);
    }
    for (size_t j = 0; j < sizeof s_refused / sizeof s_refused[0]; j++) {
        snprintf(what, sizeof what, "a frame of %s", s_refused[j].what);
        s_expect(s_refused[j].b, s_refused[j].n, -EINVAL, "is not allowed", what);
        static const uint8_t hb[] = {0x95, 0x01, 0x02, 0x07, 0x00};
        w.n = 0;
        s_raw(&w, hb, sizeof hb);
        s_raw(&w, s_refused[j].b, s_refused[j].n);
        snprintf(what, sizeof what, "HEARTBEAT.running as %s", s_refused[j].what);
        s_expect(w.b, w.n, -EINVAL, "is not allowed", what);
    }
}

/* Replaces field f of a valid frame by r and expects rc (why naming needle, or the field). */
static void s_field_case(const s_field_t *f, const uint8_t *base, const s_w_t *r, int rc, const char *needle,
                         const char *what, proto_msg_t *out)
{
    static s_w_t w = {s_frame_buf, 0};
    char fw[64], desc[160];
    snprintf(fw, sizeof fw, "%s.%s", f->msg, f->name);
    snprintf(desc, sizeof desc, "%s %s", fw, what);
    s_splice(&w, base, 3 + f->idx, r);
    s_expect_m(w.b, w.n, rc, rc ? (needle ? needle : fw) : NULL, desc, out);
}

/* Out-of-range values, over-long strings and arrays, NULs, and encodings msgpack-c's output
 * never uses but which are still the same value (accepted). */
static void test_values(void)
{
    s_w_t r = {s_rep_buf, 0};
    proto_msg_t m;
    for (size_t i = 0; i < s_nfields && check_keep_going(); i++) {
        const s_field_t *f = &s_fields[i];
        size_t len = 0;
        uint8_t *base = s_base(f->id, S_SMALL, &len);
        if (!base)
            continue;
        const void *p = s_cat(&m, f);
        switch (f->kind) {
        case S_K_UINT:
            if (f->lo > 0) {
                r.n = 0, s_w_uint(&r, f->lo - 1);
                s_field_case(f, base, &r, -EINVAL, "is outside", "below its minimum", NULL);
            }
            if (f->hi < UINT64_MAX) {
                r.n = 0, s_w_uint(&r, f->hi + 1);
                s_field_case(f, base, &r, -EINVAL, "is outside", "above its maximum", NULL);
            }
            r.n = 0, s_w_int(&r, INT64_MIN);
            s_field_case(f, base, &r, -EINVAL, "not an unsigned integer", "as INT64_MIN", NULL);
            r.n = 0, s_tag(&r, 0xcf, f->hi, 8);
            s_field_case(f, base, &r, 0, NULL, "at its maximum as a uint64", &m);
            CHECK(*(const uint64_t *)p == f->hi, "%s.%s at its maximum as a uint64", f->msg, f->name);
            r.n = 0, s_tag(&r, 0xd3, f->lo, 8);
            s_field_case(f, base, &r, 0, NULL, "at its minimum as an int64", &m);
            CHECK(*(const uint64_t *)p == f->lo, "%s.%s at its minimum as an int64", f->msg, f->name);
            break;
        case S_K_INT:
            if (f->ilo > INT64_MIN) {
                r.n = 0, s_w_int(&r, f->ilo - 1);
                s_field_case(f, base, &r, -EINVAL, "is outside", "below its minimum", NULL);
            }
            if (f->ihi < INT64_MAX) {
                r.n = 0, s_w_int(&r, f->ihi + 1);
                s_field_case(f, base, &r, -EINVAL, "is outside", "above its maximum", NULL);
            }
            r.n = 0, s_w_uint(&r, (uint64_t)INT64_MAX + 1);
            s_field_case(f, base, &r, -EINVAL, "not a signed 64-bit integer", "as 2^63", NULL);
            r.n = 0, s_w_uint(&r, UINT64_MAX);
            s_field_case(f, base, &r, -EINVAL, "not a signed 64-bit integer", "as 2^64-1", NULL);
            r.n = 0, s_tag(&r, 0xd3, (uint64_t)f->ihi, 8);
            s_field_case(f, base, &r, 0, NULL, "at its maximum as an int64", &m);
            CHECK(*(const int64_t *)p == f->ihi, "%s.%s at its maximum as an int64", f->msg, f->name);
            r.n = 0, s_w_int(&r, f->ilo);
            s_field_case(f, base, &r, 0, NULL, "at its minimum", &m);
            CHECK(*(const int64_t *)p == f->ilo, "%s.%s at its minimum", f->msg, f->name);
            break;
        case S_K_BOOL: break; /* every wrong type is in test_types */
        case S_K_STR:
            r.n = 0, s_w_str(&r, s_text, f->hi + 1);
            s_field_case(f, base, &r, -EINVAL, "bytes, expected", "one byte too long", NULL);
            r.n = 0, s_w_str(&r, s_text, 70000);
            s_field_case(f, base, &r, -EINVAL, "70000 bytes, expected", "as a str32 of 70000 bytes", NULL);
            if (f->lo > 0) {
                r.n = 0, s_w_str(&r, s_text, f->lo - 1);
                s_field_case(f, base, &r, -EINVAL, "bytes, expected", "one byte too short", NULL);
            }
            r.n = 0, s_w_str(&r, "a\0b", 3);
            s_field_case(f, base, &r, -EINVAL, "a NUL byte", "with a NUL inside", NULL);
            r.n = 0, s_tag(&r, 0xdb, f->hi, 4), s_raw(&r, s_text, f->hi);
            s_field_case(f, base, &r, 0, NULL, "at its maximum as a str32", &m);
            CHECK(strlen(p) == f->hi, "%s.%s at its maximum as a str32", f->msg, f->name);
            break;
        case S_K_BIN:
            r.n = 0, s_w_bin(&r, s_bytes, f->hi + 1);
            s_field_case(f, base, &r, -EINVAL, "bytes, at most", "one byte too long", NULL);
            r.n = 0, s_tag(&r, 0xc6, 1, 4), s_raw(&r, "\0", 1);
            s_field_case(f, base, &r, 0, NULL, "as a bin32 of one byte", NULL);
            break;
        case S_K_STRS:
            r.n = 0, s_w_arr(&r, f->lo + 1);
            for (uint64_t j = 0; j <= f->lo; j++)
                s_w_str(&r, "x", 1);
            s_field_case(f, base, &r, -EINVAL, "strings, at most", "one string too many", NULL);
            r.n = 0, s_w_arr(&r, 2), s_w_str(&r, "x", 1), s_w_str(&r, s_text, f->hi + 1);
            s_field_case(f, base, &r, -EINVAL, "bytes, expected", "second string one byte too long", NULL);
            r.n = 0, s_w_arr(&r, 2), s_w_str(&r, "x", 1), s_w_str(&r, "a\0b", 3);
            s_field_case(f, base, &r, -EINVAL, "a NUL byte", "second string with a NUL", NULL);
            for (size_t j = 0; j < sizeof s_samples / sizeof s_samples[0]; j++) {
                if (s_samples[j].fits & 1u << S_K_STR)
                    continue;
                r.n = 0, s_w_arr(&r, 2), s_w_str(&r, "x", 1), s_raw(&r, s_samples[j].b, s_samples[j].n);
                s_field_case(f, base, &r, -EINVAL, "not a string", s_samples[j].what, NULL);
            }
            r.n = 0, s_tag(&r, 0xdd, 1, 4), s_w_str(&r, "x", 1);
            s_field_case(f, base, &r, 0, NULL, "as an array32 of one string", &m);
            CHECK(*(const unsigned *)p == 1, "%s.%s as an array32 of one string", f->msg, f->name);
            break;
        }
        free(base);
    }
}

/* The pre-scan's caps: object count and nesting. */
static void test_limits(void)
{
    s_w_t w = {s_frame_buf, 0}, r = {s_rep_buf, 0};
    size_t len = 0;
    uint8_t *f = s_base(PROTO_HELLO, S_SMALL, &len);
    if (!f)
        return;
    const unsigned k = 3 + 8; /* HELLO.addrs */
    r.n = 0, s_w_arr(&r, 5000);
    for (int i = 0; i < 5000; i++)
        s_w_str(&r, "", 0);
    s_splice(&w, f, k, &r);
    s_expect(w.b, w.n, -EINVAL, "more than 4096 objects", "HELLO.addrs of 5000 strings");
    r.n = 0, s_w_arr(&r, 1), s_w_arr(&r, 1), s_w_arr(&r, 0);
    s_splice(&w, f, k, &r);
    s_expect(w.b, w.n, -EINVAL, "nested deeper than 3", "HELLO.addrs as [[[]]]");
    r.n = 0, s_w_arr(&r, 1), s_w_arr(&r, 0);
    s_splice(&w, f, k, &r);
    s_expect(w.b, w.n, -EINVAL, "HELLO.addrs: not a string", "HELLO.addrs as [[]]");
    w.n = 0, s_w_arr(&w, 1), s_w_arr(&w, 1), s_w_arr(&w, 1), s_w_arr(&w, 0);
    s_expect(w.b, w.n, -EINVAL, "nested deeper than 3", "a frame [[[[]]]]");
    free(f);
}

/* A decoded message owns copies of its BIN bytes until proto_msg_fini (ASan/LSan check this). */
static void test_bin_ownership(void)
{
    proto_msg_t m;
    size_t len = 0;
    char why[S_WHY] = "";
    uint8_t *f = s_base(PROTO_RESULT, S_MAX, &len);
    if (!f)
        return;
    int rc = proto_decode(f, len, &m, why, sizeof why);
    CHECK(rc == 0, "RESULT at its maximum: %d (%s)", rc, why);
    free(f); /* the message must not point into the frame */
    if (rc == 0) {
        proto_bin_t *b[2] = {&m.u.result.local, &m.u.result.remote};
        for (int i = 0; i < 2; i++) {
            CHECK(b[i]->len == 262144 && b[i]->data, "RESULT bin %d: %zu bytes", i, b[i]->len);
            for (size_t j = 1; b[i]->data && j < b[i]->len; j += 4099) /* s_bytes: each byte one more */
                CHECK(b[i]->data[j] == (uint8_t)(b[i]->data[0] + j), "RESULT bin %d: byte %zu", i, j);
        }
        proto_msg_fini(&m);
        CHECK(!b[0]->data && !b[0]->len && !b[1]->data && !b[1]->len, "proto_msg_fini clears the BIN fields");
        proto_msg_fini(&m);
    }
    /* failing on the second BIN frees the first (LSan would report a leak) */
    f = s_base(PROTO_RESULT, S_SMALL, &len);
    s_w_t w = {s_frame_buf, 0}, r = {s_rep_buf, 0};
    if (!f)
        return;
    s_w_bin(&r, s_bytes, 262145);
    s_splice(&w, f, 3 + 6, &r);
    s_expect(w.b, w.n, -EINVAL, "RESULT.remote: 262145 bytes, at most 262144", "RESULT.remote too long");
    free(f);
}

int main(void)
{
    for (size_t i = 0; i < S_POOL; i++) {
        s_text[i] = (char)('a' + i % 26);
        s_bytes[i] = (uint8_t)i;
    }
    s_tab_init();
    test_names();
    test_golden();
    test_round_trips();
    test_encode_refusals();
    test_header();
    test_frame_size();
    test_huge_headers();
    test_truncations();
    test_field_counts();
    test_types();
    test_values();
    test_limits();
    test_bin_ownership();
    return check_exit("test_proto");
}
