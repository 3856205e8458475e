/* wirebuf.c — bounded big-endian buffers; see include/vmtp/wirebuf.h. */
#include "vmtp/wirebuf.h"

#include <string.h>

wbuf_t wbuf_init(uint8_t *data, size_t cap)
{
    wbuf_t w = {.data = data, .cap = cap, .len = 0, .ok = true};
    return w;
}

static void s_put(wbuf_t *w, const void *src, size_t n)
{
    if (!w->ok || n > w->cap - w->len) {
        w->ok = false;
        return;
    }
    if (n)
        memcpy(w->data + w->len, src, n);
    w->len += n;
}

static void s_put_be(wbuf_t *w, uint64_t v, size_t n)
{
    uint8_t b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    s_put(w, b, n);
}

void wbuf_u8(wbuf_t *w, uint8_t v) { s_put_be(w, v, 1); }
void wbuf_u16(wbuf_t *w, uint16_t v) { s_put_be(w, v, 2); }
void wbuf_u32(wbuf_t *w, uint32_t v) { s_put_be(w, v, 4); }
void wbuf_u64(wbuf_t *w, uint64_t v) { s_put_be(w, v, 8); }
void wbuf_i64(wbuf_t *w, int64_t v) { s_put_be(w, (uint64_t)v, 8); }
void wbuf_bytes(wbuf_t *w, const void *src, size_t n) { s_put(w, src, n); }

void wbuf_varint(wbuf_t *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    s_put(w, b, n);
}

void wbuf_str(wbuf_t *w, const char *s)
{
    size_t n = strlen(s);
    if (n > UINT16_MAX)
        n = UINT16_MAX;
    wbuf_u16(w, (uint16_t)n);
    s_put(w, s, n);
}

rbuf_t rbuf_init(const void *data, size_t len)
{
    rbuf_t r = {.data = data, .len = len, .pos = 0, .ok = true};
    return r;
}

size_t rbuf_left(const rbuf_t *r) { return r->ok ? r->len - r->pos : 0; }

static const uint8_t *s_take(rbuf_t *r, size_t n)
{
    if (!r->ok || n > r->len - r->pos) {
        r->ok = false;
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

static uint64_t s_get_be(rbuf_t *r, size_t n)
{
    const uint8_t *p = s_take(r, n);
    uint64_t v = 0;
    if (!p)
        return 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

uint8_t rbuf_u8(rbuf_t *r) { return (uint8_t)s_get_be(r, 1); }
uint16_t rbuf_u16(rbuf_t *r) { return (uint16_t)s_get_be(r, 2); }
uint32_t rbuf_u32(rbuf_t *r) { return (uint32_t)s_get_be(r, 4); }
uint64_t rbuf_u64(rbuf_t *r) { return s_get_be(r, 8); }
int64_t rbuf_i64(rbuf_t *r) { return (int64_t)s_get_be(r, 8); }

uint64_t rbuf_varint(rbuf_t *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        const uint8_t *p = s_take(r, 1);
        if (!p)
            return 0;
        /* The 10th byte may only carry the top bit of a u64. */
        if (shift == 63 && (*p & 0xfe)) {
            r->ok = false;
            return 0;
        }
        v |= (uint64_t)(*p & 0x7f) << shift;
        if (!(*p & 0x80))
            return v;
    }
    r->ok = false;
    return 0;
}

void rbuf_bytes(rbuf_t *r, void *dst, size_t n)
{
    const uint8_t *p = s_take(r, n);
    if (p && n)
        memcpy(dst, p, n);
}

void rbuf_str(rbuf_t *r, char *dst, size_t cap)
{
    size_t n = rbuf_u16(r);
    const uint8_t *p = s_take(r, n);
    if (!p)
        return;
    if (n >= cap || memchr(p, 0, n)) {
        r->ok = false;
        return;
    }
    memcpy(dst, p, n);
    dst[n] = 0;
}
