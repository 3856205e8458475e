/* test_wirebuf.c — include/vmtp/wirebuf.h: big-endian layout, overflow that never writes past
 * the capacity (canary bytes after it), underflow, LEB128 varints at every length and their
 * malformed forms, and bounded strings.
 */
#include "check.h"

#include "vmtp/wirebuf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CANARY 0xa5
#define SLACK 32

/* The fixed sequence of writes used by the overflow test; returns the bytes it needs. */
static size_t s_write_all(wbuf_t *w)
{
    static const uint8_t raw[5] = {9, 8, 7, 6, 5};
    wbuf_u8(w, 0x11);
    wbuf_u16(w, 0x2233);
    wbuf_u32(w, 0x44556677u);
    wbuf_u64(w, 0x8899aabbccddeeffULL);
    wbuf_i64(w, -2);
    wbuf_varint(w, 300);
    wbuf_bytes(w, raw, sizeof raw);
    wbuf_str(w, "hello");
    wbuf_varint(w, UINT64_MAX);
    return 1 + 2 + 4 + 8 + 8 + 2 + 5 + (2 + 5) + 10;
}

static void test_layout(void)
{
    uint8_t buf[64];
    wbuf_t w = wbuf_init(buf, sizeof buf);
    size_t need = s_write_all(&w);
    static const uint8_t want[] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
                                   0xdd, 0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xac,
                                   0x02, 9,    8,    7,    6,    5,    0,    5,    'h',  'e',  'l',  'l',
                                   'o',  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CHECK(w.ok, "writes within capacity");
    CHECK_EQ_U64(w.len, need, "length written");
    CHECK(need == sizeof want && memcmp(buf, want, sizeof want) == 0, "big-endian layout and LEB128 bytes");

    rbuf_t r = rbuf_init(buf, w.len);
    CHECK_EQ_U64(rbuf_u8(&r), 0x11, "u8");
    CHECK_EQ_U64(rbuf_u16(&r), 0x2233, "u16");
    CHECK_EQ_U64(rbuf_u32(&r), 0x44556677u, "u32");
    CHECK_EQ_U64(rbuf_u64(&r), 0x8899aabbccddeeffULL, "u64");
    CHECK_EQ_I64(rbuf_i64(&r), -2, "i64");
    CHECK_EQ_U64(rbuf_varint(&r), 300, "varint 300");
    uint8_t raw[5] = {0};
    rbuf_bytes(&r, raw, sizeof raw);
    CHECK(raw[0] == 9 && raw[4] == 5, "bytes");
    char s[16];
    rbuf_str(&r, s, sizeof s);
    CHECK(r.ok && strcmp(s, "hello") == 0, "str");
    CHECK_EQ_U64(rbuf_varint(&r), UINT64_MAX, "varint UINT64_MAX");
    CHECK(r.ok, "reader ok at the end");
    CHECK_EQ_U64(rbuf_left(&r), 0, "nothing left");
}

/* For every capacity below what the writes need: ok turns false, nothing lands past cap, and the
 * bytes that were written are a prefix of the full output. */
static void test_overflow(void)
{
    uint8_t full[128];
    wbuf_t fw = wbuf_init(full, sizeof full);
    size_t need = s_write_all(&fw);
    for (size_t cap = 0; cap <= need; cap++) {
        uint8_t *mem = malloc(cap + SLACK);
        if (!mem)
            return;
        memset(mem, CANARY, cap + SLACK);
        wbuf_t w = wbuf_init(mem, cap);
        s_write_all(&w);
        bool canary = true;
        for (size_t i = cap; i < cap + SLACK; i++)
            canary &= mem[i] == CANARY;
        CHECK(canary, "cap %zu: a byte was written past the capacity", cap);
        CHECK(w.ok == (cap >= need), "cap %zu: ok = %d", cap, w.ok);
        CHECK(w.len <= cap, "cap %zu: len %zu beyond cap", cap, w.len);
        CHECK(memcmp(mem, full, w.len) == 0, "cap %zu: written bytes are not a prefix of the full output", cap);
        if (!w.ok) {
            /* Once failed, even a write that would fit is ignored. */
            size_t len = w.len;
            wbuf_t w2 = w;
            w2.cap = cap + SLACK; /* pretend there is room: the failed state must still win */
            wbuf_u8(&w2, 0x42);
            CHECK(w2.len == len && !w2.ok, "cap %zu: a write after overflow was not ignored", cap);
        }
        free(mem);
    }
    /* A single write that does not fit writes none of its bytes. */
    uint8_t mem[8 + SLACK];
    memset(mem, CANARY, sizeof mem);
    wbuf_t w = wbuf_init(mem, 7);
    wbuf_u64(&w, 0x0102030405060708ULL);
    CHECK(!w.ok && w.len == 0 && mem[0] == CANARY && mem[7] == CANARY, "u64 into 7 bytes writes nothing");
    /* A zero-capacity writer over NULL stays safe. */
    wbuf_t z = wbuf_init(NULL, 0);
    wbuf_bytes(&z, "", 0);
    CHECK(z.ok && z.len == 0, "zero bytes into a zero-capacity writer");
    wbuf_u8(&z, 1);
    CHECK(!z.ok, "a byte into a zero-capacity writer");
}

static size_t s_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >>= 7)
        n++;
    return n;
}

static void test_varint(void)
{
    uint64_t rng = 0x7661726eULL;
    uint64_t vals[64 * 4 + 16];
    size_t nv = 0;
    const uint64_t fixed[] = {0,
                              1,
                              127,
                              128,
                              16383,
                              16384,
                              UINT32_MAX,
                              1ULL << 32,
                              (1ULL << 56) - 1,
                              1ULL << 56,
                              (1ULL << 63) - 1,
                              1ULL << 63,
                              UINT64_MAX - 1,
                              UINT64_MAX};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        vals[nv++] = fixed[i];
    for (unsigned bits = 1; bits <= 64; bits++) /* random values of every bit length */
        for (int k = 0; k < 4; k++) {
            uint64_t v = check_rand(&rng);
            v = bits == 64 ? v : v & ((1ULL << bits) - 1);
            vals[nv++] = v | (1ULL << (bits - 1));
        }
    for (size_t i = 0; i < nv; i++) {
        uint8_t buf[16];
        wbuf_t w = wbuf_init(buf, sizeof buf);
        wbuf_varint(&w, vals[i]);
        CHECK(w.ok && w.len == s_varint_len(vals[i]), "varint %" PRIu64 ": %zu bytes, expected %zu", vals[i], w.len,
              s_varint_len(vals[i]));
        rbuf_t r = rbuf_init(buf, w.len);
        uint64_t back = rbuf_varint(&r);
        CHECK(r.ok && back == vals[i] && rbuf_left(&r) == 0, "varint round trip %" PRIu64 " -> %" PRIu64, vals[i],
              back);
        /* Every truncation fails. */
        for (size_t cut = 0; cut < w.len; cut++) {
            rbuf_t t = rbuf_init(buf, cut);
            (void)rbuf_varint(&t);
            CHECK(!t.ok, "varint %" PRIu64 " truncated to %zu bytes accepted", vals[i], cut);
        }
    }

    /* 10 bytes: the last may only be 0 or 1. */
    uint8_t ten[11];
    memset(ten, 0x80, sizeof ten);
    ten[9] = 0x01;
    rbuf_t r = rbuf_init(ten, 10);
    CHECK(rbuf_varint(&r) == 1ULL << 63 && r.ok, "10-byte varint 2^63");
    ten[9] = 0x00;
    r = rbuf_init(ten, 10);
    CHECK(rbuf_varint(&r) == 0 && r.ok, "10-byte varint with a zero last byte");
    ten[9] = 0x02;
    r = rbuf_init(ten, 10);
    (void)rbuf_varint(&r);
    CHECK(!r.ok, "10th byte 0x02 (beyond 64 bits) accepted");
    ten[9] = 0x7f;
    r = rbuf_init(ten, 10);
    (void)rbuf_varint(&r);
    CHECK(!r.ok, "10th byte 0x7f accepted");
    ten[9] = 0x81;
    ten[10] = 0x00;
    r = rbuf_init(ten, 11);
    (void)rbuf_varint(&r);
    CHECK(!r.ok, "11-byte varint accepted");
    ten[9] = 0x80;
    r = rbuf_init(ten, 11);
    (void)rbuf_varint(&r);
    CHECK(!r.ok, "11-byte varint (10th byte 0x80) accepted");
    /* After a failure, reads return 0 and the reader stays failed. */
    CHECK(rbuf_varint(&r) == 0 && rbuf_u8(&r) == 0 && !r.ok, "reads after failure");
    CHECK_EQ_U64(rbuf_left(&r), 0, "left after failure");
}

static void test_underflow(void)
{
    const uint8_t buf[3] = {1, 2, 3};
    rbuf_t r = rbuf_init(buf, sizeof buf);
    CHECK_EQ_U64(rbuf_u16(&r), 0x0102, "u16");
    CHECK_EQ_U64(rbuf_left(&r), 1, "left 1");
    CHECK_EQ_U64(rbuf_u32(&r), 0, "u32 past the end gives 0");
    CHECK(!r.ok, "u32 past the end fails");
    CHECK_EQ_U64(rbuf_u8(&r), 0, "u8 after failure gives 0");

    uint8_t dst[4] = {0xee, 0xee, 0xee, 0xee};
    r = rbuf_init(buf, sizeof buf);
    rbuf_bytes(&r, dst, 4);
    CHECK(!r.ok && dst[0] == 0xee && dst[3] == 0xee, "rbuf_bytes underflow leaves dst untouched");
    r = rbuf_init(buf, sizeof buf);
    rbuf_bytes(&r, dst, 3);
    CHECK(r.ok && dst[0] == 1 && dst[2] == 3 && dst[3] == 0xee, "rbuf_bytes exact");
    r = rbuf_init(NULL, 0);
    CHECK(rbuf_u8(&r) == 0 && !r.ok, "empty reader");
    r = rbuf_init(buf, sizeof buf);
    CHECK_EQ_U64(rbuf_u64(&r), 0, "u64 from 3 bytes");
    CHECK(!r.ok, "u64 from 3 bytes fails");
}

/* A wbuf_str()-format string with an explicit length and body. */
static size_t s_strbuf(uint8_t *out, uint16_t n, const void *body, size_t body_len)
{
    out[0] = (uint8_t)(n >> 8);
    out[1] = (uint8_t)n;
    memcpy(out + 2, body, body_len);
    return 2 + body_len;
}

static void test_str(void)
{
    uint8_t buf[64];
    char dst[8];
    /* Fits exactly: 7 characters + NUL in 8. */
    size_t n = s_strbuf(buf, 7, "abcdefg", 7);
    rbuf_t r = rbuf_init(buf, n);
    rbuf_str(&r, dst, sizeof dst);
    CHECK(r.ok && strcmp(dst, "abcdefg") == 0, "7 characters into 8 bytes");
    /* One too many. */
    memset(dst, 'z', sizeof dst);
    n = s_strbuf(buf, 8, "abcdefgh", 8);
    r = rbuf_init(buf, n);
    rbuf_str(&r, dst, sizeof dst);
    CHECK(!r.ok, "8 characters into 8 bytes accepted");
    CHECK(dst[0] == 'z', "too-long string: dst touched");
    /* Embedded NUL. */
    memset(dst, 'z', sizeof dst);
    n = s_strbuf(buf, 3, "a\0b", 3);
    r = rbuf_init(buf, n);
    rbuf_str(&r, dst, sizeof dst);
    CHECK(!r.ok, "embedded NUL accepted");
    CHECK(dst[0] == 'z', "embedded NUL: dst touched");
    /* A length beyond the data. */
    n = s_strbuf(buf, 5, "abc", 3);
    r = rbuf_init(buf, n);
    rbuf_str(&r, dst, sizeof dst);
    CHECK(!r.ok, "length beyond the data accepted");
    /* Empty string. */
    n = s_strbuf(buf, 0, "", 0);
    r = rbuf_init(buf, n);
    memset(dst, 'z', sizeof dst);
    rbuf_str(&r, dst, sizeof dst);
    CHECK(r.ok && dst[0] == 0, "empty string");
    /* Length prefix only partly there. */
    r = rbuf_init(buf, 1);
    rbuf_str(&r, dst, sizeof dst);
    CHECK(!r.ok, "one-byte length prefix accepted");

    /* wbuf_str truncates at 65535 bytes. */
    size_t big = 70000;
    char *s = malloc(big + 1);
    uint8_t *out = malloc(big + 16);
    char *back = malloc(65536);
    if (s && out && back) {
        memset(s, 'q', big);
        s[big] = 0;
        wbuf_t w = wbuf_init(out, big + 16);
        wbuf_str(&w, s);
        CHECK(w.ok && w.len == 2 + 65535 && out[0] == 0xff && out[1] == 0xff, "long string truncated to 65535");
        r = rbuf_init(out, w.len);
        rbuf_str(&r, back, 65536);
        CHECK(r.ok && strlen(back) == 65535, "65535-byte string read back");
        r = rbuf_init(out, w.len);
        rbuf_str(&r, back, 65535);
        CHECK(!r.ok, "65535-byte string into 65535 bytes accepted");
    }
    free(s);
    free(out);
    free(back);
}

int main(void)
{
    test_layout();
    test_overflow();
    test_varint();
    test_underflow();
    test_str();
    return check_exit("test_wirebuf");
}
