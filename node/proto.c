/* proto.c — control-plane encoder and strict decoder, generated from proto.def; see proto.h. */
#include "vmtp/proto.h"

#include <errno.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_DEPTH 3    /* frame array > STRS array > string */
#define S_MAX_ELEMS 4096 /* objects in one frame */

void proto_msg_init(proto_msg_t *m, proto_id_t id, uint64_t seq)
{
    memset(m, 0, sizeof *m);
    m->id = (uint32_t)id;
    m->seq = seq;
}

/* ---- names and field counts --------------------------------------------------------------- */

const char *proto_name(uint32_t id)
{
    switch (id) {
#define S_NAME(id, NAME, name, FIELDS, dir, doc)                                                                       \
    case id: return #NAME;
        PROTO_MESSAGES(S_NAME)
#undef S_NAME
    default: return "?";
    }
}

#define S_COUNT_ONE(kind, name, a, b, doc) +1
static int s_nfields(uint32_t id)
{
    switch (id) {
#define S_COUNT(id, NAME, name, FIELDS, dir, doc)                                                                      \
    case id: return 0 FIELDS(S_COUNT_ONE);
        PROTO_MESSAGES(S_COUNT)
#undef S_COUNT
    default: return -1;
    }
}

static void s_why(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void s_why(char *why, size_t cap, const char *fmt, ...)
{
    if (!why || !cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

/* ---- freeing ----------------------------------------------------------------------------- */

#define S_FREE_UINT(f)
#define S_FREE_INT(f)
#define S_FREE_BOOL(f)
#define S_FREE_STR(f)
#define S_FREE_STRS(f)
#define S_FREE_BIN(f)                                                                                                  \
    free((f).data);                                                                                                    \
    (f).data = NULL;                                                                                                   \
    (f).len = 0;
#define S_FIELD_FREE(kind, name, a, b, doc) S_FREE_##kind(x->name)

void proto_msg_fini(proto_msg_t *m)
{
    switch (m->id) {
#define S_FINI(id, NAME, name, FIELDS, dir, doc)                                                                       \
    case id: {                                                                                                         \
        proto_##name##_t *x = &m->u.name;                                                                              \
        (void)x;                                                                                                       \
        FIELDS(S_FIELD_FREE) break;                                                                                    \
    }
        PROTO_MESSAGES(S_FINI)
#undef S_FINI
    default: break;
    }
}

/* ---- encoding ---------------------------------------------------------------------------- */

typedef struct {
    msgpack_packer pk; /* packer into sb */
    const char *msg;   /* message name, for errors */
    char *why;         /* error text (not owned) */
    size_t whycap;     /* its size */
    int rc;            /* first error */
} s_enc_t;

static void s_enc_fail(s_enc_t *e, const char *field, const char *what)
{
    if (!e->rc) {
        e->rc = -EINVAL;
        s_why(e->why, e->whycap, "%s.%s: %s", e->msg, field, what);
    }
}

static void s_put_uint(s_enc_t *e, const char *f, uint64_t v, uint64_t lo, uint64_t hi)
{
    if (v < lo || v > hi)
        s_enc_fail(e, f, "out of range");
    msgpack_pack_uint64(&e->pk, v);
}

static void s_put_int(s_enc_t *e, const char *f, int64_t v, int64_t lo, int64_t hi)
{
    if (v < lo || v > hi)
        s_enc_fail(e, f, "out of range");
    msgpack_pack_int64(&e->pk, v);
}

static void s_put_bool(s_enc_t *e, const char *f, bool v)
{
    (void)f;
    if (v)
        msgpack_pack_true(&e->pk);
    else
        msgpack_pack_false(&e->pk);
}

static void s_put_str(s_enc_t *e, const char *f, const char *v, size_t lo, size_t hi)
{
    size_t n = strnlen(v, hi + 1);
    if (n < lo || n > hi)
        s_enc_fail(e, f, "string length out of range");
    msgpack_pack_str(&e->pk, n);
    msgpack_pack_str_body(&e->pk, v, n);
}

static void s_put_bin(s_enc_t *e, const char *f, const proto_bin_t *v, size_t hi)
{
    if (v->len > hi || (v->len && !v->data)) {
        s_enc_fail(e, f, v->data ? "too many bytes" : "a length but no bytes");
        return; /* the frame is discarded: read neither NULL (msgpack-c asserts) nor past the bound */
    }
    msgpack_pack_bin(&e->pk, v->len);
    if (v->len)
        msgpack_pack_bin_body(&e->pk, v->data, v->len);
}

static void s_put_strs(s_enc_t *e, const char *f, unsigned n, size_t max_n, const char *v, size_t stride, size_t hi)
{
    if (n > max_n) {
        s_enc_fail(e, f, "too many strings");
        n = (unsigned)max_n;
    }
    msgpack_pack_array(&e->pk, n);
    for (unsigned i = 0; i < n; i++)
        s_put_str(e, f, v + (size_t)i * stride, 0, hi);
}

#define S_ENC_UINT(name, a, b) s_put_uint(e, #name, x->name, (uint64_t)(a), (uint64_t)(b));
#define S_ENC_INT(name, a, b) s_put_int(e, #name, x->name, (int64_t)(a), (int64_t)(b));
#define S_ENC_BOOL(name, a, b) s_put_bool(e, #name, x->name);
#define S_ENC_STR(name, a, b) s_put_str(e, #name, x->name, (size_t)(a), (size_t)(b));
#define S_ENC_BIN(name, a, b) s_put_bin(e, #name, &x->name, (size_t)(b));
#define S_ENC_STRS(name, a, b) s_put_strs(e, #name, x->name.n, (size_t)(a), &x->name.v[0][0], (b) + 1, (size_t)(b));
#define S_FIELD_ENC(kind, name, a, b, doc) S_ENC_##kind(name, a, b)

/* The frame being written, and whether a write failed (msgpack-c's packers ignore that). */
typedef struct {
    msgpack_sbuffer sb;
    bool oom;
} s_frame_t;

static int s_frame_write(void *data, const char *buf, size_t len)
{
    s_frame_t *f = data;
    if (msgpack_sbuffer_write(&f->sb, buf, len) != 0) {
        f->oom = true;
        return -1;
    }
    return 0;
}

int proto_encode(const proto_msg_t *m, uint8_t **out, size_t *len, char *why, size_t whycap)
{
    int n = s_nfields(m->id);
    if (n < 0) {
        s_why(why, whycap, "unknown message id %u", m->id);
        return -EINVAL;
    }
    s_frame_t fr = {.oom = false};
    msgpack_sbuffer_init(&fr.sb);
    s_enc_t enc = {.msg = proto_name(m->id), .why = why, .whycap = whycap};
    s_enc_t *e = &enc;
    msgpack_packer_init(&e->pk, &fr, s_frame_write);
    msgpack_pack_array(&e->pk, (size_t)(3 + n));
    msgpack_pack_uint32(&e->pk, PROTO_VERSION);
    msgpack_pack_uint32(&e->pk, m->id);
    msgpack_pack_uint64(&e->pk, m->seq);
    switch (m->id) {
#define S_ENC(id, NAME, name, FIELDS, dir, doc)                                                                        \
    case id: {                                                                                                         \
        const proto_##name##_t *x = &m->u.name;                                                                        \
        FIELDS(S_FIELD_ENC) break;                                                                                     \
    }
        PROTO_MESSAGES(S_ENC)
#undef S_ENC
    default: break;
    }
    if (!e->rc && (fr.oom || !fr.sb.data)) {
        e->rc = -ENOMEM;
        s_why(why, whycap, "%s: out of memory", enc.msg);
    } else if (!e->rc && fr.sb.size > PROTO_FRAME_MAX) {
        e->rc = -EMSGSIZE;
        s_why(why, whycap, "%s: frame of %zu bytes", enc.msg, fr.sb.size);
    }
    if (e->rc) {
        msgpack_sbuffer_destroy(&fr.sb);
        return e->rc;
    }
    *out = (uint8_t *)fr.sb.data;
    *len = fr.sb.size;
    return 0;
}

/* ---- pre-scan: bounded, allocation-free check of the msgpack structure ------------------- */

/* Reads a big-endian unsigned of n bytes at p. */
static uint64_t s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Walks the frame: one top-level array; nested arrays; only integers, bools, strings and
 * binaries; every declared length within the bytes left. Returns 0 or -EINVAL with why. */
static int s_prescan(const uint8_t *d, size_t len, char *why, size_t whycap)
{
    uint64_t pending[S_MAX_DEPTH + 1]; /* elements still to read at each open array level */
    int depth = 0;
    size_t pos = 0, elems = 0;
    pending[0] = 1; /* the frame itself */
    while (depth >= 0) {
        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        pending[depth]--;
        if (pos >= len) {
            s_why(why, whycap, "frame: truncated at byte %zu", pos);
            return -EINVAL;
        }
        if (++elems > S_MAX_ELEMS) {
            s_why(why, whycap, "frame: more than %d objects", S_MAX_ELEMS);
            return -EINVAL;
        }
        uint8_t t = d[pos++];
        size_t left = len - pos, hdr = 0;
        uint64_t payload = 0, count = 0;
        bool array = false;
        if (t <= 0x7f || t >= 0xe0 || t == 0xc2 || t == 0xc3) {
            /* fixint or bool */
        } else if (t >= 0x90 && t <= 0x9f) {
            array = true, count = t & 0x0f;
        } else if (t >= 0xa0 && t <= 0xbf) {
            payload = t & 0x1f;
        } else if (t >= 0xcc && t <= 0xd3) { /* uint8..64, int8..64 */
            hdr = (size_t)1 << (t & 0x03);
        } else if (t == 0xc4 || t == 0xd9) { /* bin8, str8 */
            hdr = 1;
        } else if (t == 0xc5 || t == 0xda) { /* bin16, str16 */
            hdr = 2;
        } else if (t == 0xc6 || t == 0xdb) { /* bin32, str32 */
            hdr = 4;
        } else if (t == 0xdc || t == 0xdd) { /* array16, array32 */
            hdr = t == 0xdc ? 2 : 4;
            array = true;
        } else {
            s_why(why, whycap, "frame: msgpack type 0x%02x at byte %zu is not allowed (no map, ext, float or nil)", t,
                  pos - 1);
            return -EINVAL;
        }
        if (hdr > left) {
            s_why(why, whycap, "frame: truncated header at byte %zu", pos - 1);
            return -EINVAL;
        }
        if (hdr && !(t >= 0xcc && t <= 0xd3)) {
            uint64_t v = s_be(d + pos, hdr);
            if (array)
                count = v;
            else
                payload = v;
        }
        pos += hdr;
        left = len - pos;
        if (payload > left) {
            s_why(why, whycap, "frame: a %llu-byte string or binary with %zu bytes left", (unsigned long long)payload,
                  left);
            return -EINVAL;
        }
        pos += payload;
        if (array) {
            if (depth == S_MAX_DEPTH) {
                s_why(why, whycap, "frame: arrays nested deeper than %d", S_MAX_DEPTH);
                return -EINVAL;
            }
            /* Every element takes at least a byte: a count beyond the bytes left is a lie
             * (msgpack-c would allocate for it: dd ff ff ff ff asks for 2^32 objects). */
            if (count > len - pos) {
                s_why(why, whycap, "frame: an array of %llu elements with %zu bytes left", (unsigned long long)count,
                      len - pos);
                return -EINVAL;
            }
            pending[++depth] = count;
        }
    }
    if (pos != len) {
        s_why(why, whycap, "frame: %zu bytes after the message", len - pos);
        return -EINVAL;
    }
    return 0;
}

/* ---- decoding fields ----------------------------------------------------------------------- */

typedef struct {
    const msgpack_object *o; /* the frame's elements */
    unsigned i;              /* next element */
    const char *msg;         /* message name */
    char *why;               /* not owned */
    size_t whycap;
    int rc; /* first error */
} s_dec_t;

static const msgpack_object *s_next(s_dec_t *d) { return &d->o[d->i++]; }

static void s_dec_fail(s_dec_t *d, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void s_dec_fail(s_dec_t *d, const char *field, const char *fmt, ...)
{
    if (d->rc)
        return;
    d->rc = -EINVAL;
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    s_why(d->why, d->whycap, "%s.%s: %s", d->msg, field, what);
}

static bool s_get_u64(const msgpack_object *o, uint64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *v = o->via.u64;
        return true;
    }
    return false;
}

static void s_get_uint(s_dec_t *d, const char *f, uint64_t *out, uint64_t lo, uint64_t hi)
{
    const msgpack_object *o = s_next(d);
    uint64_t v;
    if (!s_get_u64(o, &v)) {
        s_dec_fail(d, f, "not an unsigned integer");
        return;
    }
    if (v < lo || v > hi) {
        s_dec_fail(d, f, "%llu is outside %llu..%llu", (unsigned long long)v, (unsigned long long)lo,
                   (unsigned long long)hi);
        return;
    }
    *out = v;
}

static void s_get_int(s_dec_t *d, const char *f, int64_t *out, int64_t lo, int64_t hi)
{
    const msgpack_object *o = s_next(d);
    int64_t v;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX)
        v = (int64_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        v = o->via.i64;
    else {
        s_dec_fail(d, f, "not a signed 64-bit integer");
        return;
    }
    if (v < lo || v > hi) {
        s_dec_fail(d, f, "%lld is outside %lld..%lld", (long long)v, (long long)lo, (long long)hi);
        return;
    }
    *out = v;
}

static void s_get_bool(s_dec_t *d, const char *f, bool *out)
{
    const msgpack_object *o = s_next(d);
    if (o->type != MSGPACK_OBJECT_BOOLEAN) {
        s_dec_fail(d, f, "not a boolean");
        return;
    }
    *out = o->via.boolean;
}

static void s_copy_str(s_dec_t *d, const char *f, const msgpack_object *o, char *out, size_t lo, size_t hi)
{
    if (o->type != MSGPACK_OBJECT_STR) {
        s_dec_fail(d, f, "not a string");
        return;
    }
    size_t n = o->via.str.size;
    if (n < lo || n > hi) {
        s_dec_fail(d, f, "%zu bytes, expected %zu..%zu", n, lo, hi);
        return;
    }
    if (n && memchr(o->via.str.ptr, 0, n)) {
        s_dec_fail(d, f, "a NUL byte inside the string");
        return;
    }
    if (n)
        memcpy(out, o->via.str.ptr, n);
    out[n] = 0;
}

static void s_get_str(s_dec_t *d, const char *f, char *out, size_t lo, size_t hi)
{
    s_copy_str(d, f, s_next(d), out, lo, hi);
}

static void s_get_bin(s_dec_t *d, const char *f, proto_bin_t *out, size_t hi)
{
    const msgpack_object *o = s_next(d);
    if (o->type != MSGPACK_OBJECT_BIN) {
        s_dec_fail(d, f, "not binary");
        return;
    }
    size_t n = o->via.bin.size;
    if (n > hi) {
        s_dec_fail(d, f, "%zu bytes, at most %zu", n, hi);
        return;
    }
    if (!n)
        return;
    uint8_t *p = malloc(n);
    if (!p) {
        if (!d->rc) {
            d->rc = -ENOMEM;
            s_why(d->why, d->whycap, "%s.%s: out of memory", d->msg, f);
        }
        return;
    }
    memcpy(p, o->via.bin.ptr, n);
    out->data = p;
    out->len = n;
}

static void s_get_strs(s_dec_t *d, const char *f, unsigned *n, size_t max_n, char *v, size_t stride, size_t hi)
{
    const msgpack_object *o = s_next(d);
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        s_dec_fail(d, f, "not an array");
        return;
    }
    if (o->via.array.size > max_n) {
        s_dec_fail(d, f, "%u strings, at most %zu", o->via.array.size, max_n);
        return;
    }
    for (unsigned i = 0; i < o->via.array.size && !d->rc; i++)
        s_copy_str(d, f, &o->via.array.ptr[i], v + (size_t)i * stride, 0, hi);
    *n = o->via.array.size;
}

#define S_DEC_UINT(name, a, b) s_get_uint(d, #name, &x->name, (uint64_t)(a), (uint64_t)(b));
#define S_DEC_INT(name, a, b) s_get_int(d, #name, &x->name, (int64_t)(a), (int64_t)(b));
#define S_DEC_BOOL(name, a, b) s_get_bool(d, #name, &x->name);
#define S_DEC_STR(name, a, b) s_get_str(d, #name, x->name, (size_t)(a), (size_t)(b));
#define S_DEC_BIN(name, a, b) s_get_bin(d, #name, &x->name, (size_t)(b));
#define S_DEC_STRS(name, a, b) s_get_strs(d, #name, &x->name.n, (size_t)(a), &x->name.v[0][0], (b) + 1, (size_t)(b));
#define S_FIELD_DEC(kind, name, a, b, doc) S_DEC_##kind(name, a, b)

int proto_decode(const uint8_t *data, size_t len, proto_msg_t *m, char *why, size_t whycap)
{
    memset(m, 0, sizeof *m);
    if (len > PROTO_FRAME_MAX) {
        s_why(why, whycap, "frame: %zu bytes, at most %u", len, PROTO_FRAME_MAX);
        return -EMSGSIZE;
    }
    int rc = s_prescan(data, len, why, whycap);
    if (rc < 0)
        return rc;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    if (msgpack_unpack_next(&up, (const char *)data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
        s_why(why, whycap, "frame: not one msgpack object");
        rc = -EINVAL;
        goto out;
    }
    const msgpack_object *root = &up.data;
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size < 3) {
        s_why(why, whycap, "frame: not an array of [version, id, seq, ...]");
        rc = -EINVAL;
        goto out;
    }
    const msgpack_object *o = root->via.array.ptr;
    uint64_t version, id, seq;
    if (!s_get_u64(&o[0], &version) || !s_get_u64(&o[1], &id) || !s_get_u64(&o[2], &seq)) {
        s_why(why, whycap, "frame: version, id and seq must be unsigned integers");
        rc = -EINVAL;
        goto out;
    }
    m->seq = seq;
    m->id = id <= UINT32_MAX ? (uint32_t)id : 0;
    if (version != PROTO_VERSION) {
        s_why(why, whycap, "frame: protocol version %llu, this end speaks %d", (unsigned long long)version,
              PROTO_VERSION);
        rc = -EPROTO;
        goto out;
    }
    int n = s_nfields(m->id);
    if (n < 0) {
        s_why(why, whycap, "frame: unknown message id %llu", (unsigned long long)id);
        rc = -ENOMSG;
        goto out;
    }
    if (root->via.array.size != (uint32_t)(3 + n)) {
        s_why(why, whycap, "%s: %u fields, expected %d", proto_name(m->id), root->via.array.size - 3, n);
        rc = -EINVAL;
        goto out;
    }
    s_dec_t dec = {.o = o, .i = 3, .msg = proto_name(m->id), .why = why, .whycap = whycap};
    s_dec_t *d = &dec;
    switch (m->id) {
#define S_DEC(id, NAME, name, FIELDS, dir, doc)                                                                        \
    case id: {                                                                                                         \
        proto_##name##_t *x = &m->u.name;                                                                              \
        FIELDS(S_FIELD_DEC) break;                                                                                     \
    }
        PROTO_MESSAGES(S_DEC)
#undef S_DEC
    default: break;
    }
    rc = d->rc;
    if (rc < 0)
        proto_msg_fini(m);
out:
    msgpack_unpacked_destroy(&up);
    return rc;
}
