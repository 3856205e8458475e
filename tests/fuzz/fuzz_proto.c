/* fuzz_proto.c — fuzz target for the control-plane decoder, node/proto.c (STYLE rule 14).
 *
 * The input is one frame as the agent or the coordinator receives it from the other end. Besides
 * "does not crash under ASan/UBSan and allocates no more than the frame justifies", the codec's
 * contract is checked, and a broken one ends in abort() with a line on stderr saying which
 * property failed:
 *  - proto_decode returns 0, -EMSGSIZE (exactly when the frame is over PROTO_FRAME_MAX), -EPROTO,
 *    -ENOMSG or -EINVAL, with a reason in why when it fails, and the message then owns no bytes;
 *  - a message it accepts has a known id, and proto_encode never refuses it (same bounds) nor
 *    makes it longer than the frame it came from (msgpack-c writes the shortest forms);
 *  - that encoding decodes to an equal message (every field), which encodes to the same bytes.
 * Built twice (tests/fuzz/CMakeLists.txt): with fuzz_main.c for the ctest corpus replay, and
 * with -fsanitize=fuzzer for libFuzzer when VMTP_FUZZ is ON. Seeds: gen_corpus.c --proto.
 */
#include "vmtp/proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static proto_msg_t s_m1, s_m2; /* 6 KiB each: not on the stack */

static void s_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void s_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz_proto: PROPERTY VIOLATED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static bool s_bin_eq(const proto_bin_t *a, const proto_bin_t *b)
{
    return a->len == b->len && (!a->len || (a->data && b->data && memcmp(a->data, b->data, a->len) == 0));
}

static bool s_strs_eq(unsigned na, unsigned nb, unsigned max, const char *va, const char *vb, size_t stride)
{
    if (na != nb || na > max)
        return false;
    for (unsigned i = 0; i < na; i++)
        if (strcmp(va + (size_t)i * stride, vb + (size_t)i * stride) != 0)
            return false;
    return true;
}

#define S_EQ_UINT(f, a, b) (x->f == y->f)
#define S_EQ_INT(f, a, b) (x->f == y->f)
#define S_EQ_BOOL(f, a, b) (x->f == y->f)
#define S_EQ_STR(f, a, b) (strcmp(x->f, y->f) == 0)
#define S_EQ_BIN(f, a, b) s_bin_eq(&x->f, &y->f)
#define S_EQ_STRS(f, a, b) s_strs_eq(x->f.n, y->f.n, (a), &x->f.v[0][0], &y->f.v[0][0], (b) + 1)
#define S_FIELD_EQ(kind, f, a, b, doc)                                                                                 \
    if (!S_EQ_##kind(f, a, b))                                                                                         \
        return #f;

/* Name of the first field in which a and b differ, or NULL when they are equal. */
static const char *s_diff(const proto_msg_t *a, const proto_msg_t *b)
{
    if (a->id != b->id)
        return "id";
    if (a->seq != b->seq)
        return "seq";
    switch (a->id) {
#define S_DIFF(id_, NAME, name, FIELDS, dir, doc)                                                                      \
    case id_: {                                                                                                        \
        const proto_##name##_t *x = &a->u.name, *y = &b->u.name;                                                       \
        FIELDS(S_FIELD_EQ) break;                                                                                      \
    }
        PROTO_MESSAGES(S_DIFF)
#undef S_DIFF
    default: return "(unknown id)";
    }
    return NULL;
}

#define S_OWNS_UINT(f)
#define S_OWNS_INT(f)
#define S_OWNS_BOOL(f)
#define S_OWNS_STR(f)
#define S_OWNS_STRS(f)
#define S_OWNS_BIN(f) owns = owns || x->f.data || x->f.len;
#define S_FIELD_OWNS(kind, f, a, b, doc) S_OWNS_##kind(f)

/* Whether the BIN fields of m's message hold anything. */
static bool s_owns(const proto_msg_t *m)
{
    bool owns = false;
    switch (m->id) {
#define S_OWNS(id_, NAME, name, FIELDS, dir, doc)                                                                      \
    case id_: {                                                                                                        \
        const proto_##name##_t *x = &m->u.name;                                                                        \
        (void)x;                                                                                                       \
        FIELDS(S_FIELD_OWNS) break;                                                                                    \
    }
        PROTO_MESSAGES(S_OWNS)
#undef S_OWNS
    default: break;
    }
    return owns;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[256] = "";
    int rc = proto_decode(data, size, &s_m1, why, sizeof why);
    if (rc != 0) {
        if (rc != -EMSGSIZE && rc != -EPROTO && rc != -ENOMSG && rc != -EINVAL)
            s_fail("proto_decode returned %d", rc);
        if ((rc == -EMSGSIZE) != (size > PROTO_FRAME_MAX))
            s_fail("proto_decode returned %d for a frame of %zu bytes", rc, size);
        if (!why[0])
            s_fail("proto_decode failed (%d) without saying why", rc);
        if (s_owns(&s_m1))
            s_fail("proto_decode failed (%d: %s) but the %s message owns bytes", rc, why, proto_name(s_m1.id));
        return 0;
    }
    const char *name = proto_name(s_m1.id);
    if (!strcmp(name, "?"))
        s_fail("proto_decode accepted unknown id %u", s_m1.id);
    uint8_t *f1 = NULL, *f2 = NULL;
    size_t n1 = 0, n2 = 0;
    rc = proto_encode(&s_m1, &f1, &n1, why, sizeof why);
    if (rc != 0)
        s_fail("%s: accepted by proto_decode, refused by proto_encode (%d: %s)", name, rc, why);
    if (n1 > size)
        s_fail("%s: %zu bytes re-encoded to %zu", name, size, n1);
    rc = proto_decode(f1, n1, &s_m2, why, sizeof why);
    if (rc != 0)
        s_fail("%s: its own encoding (%zu bytes) is refused (%d: %s)", name, n1, rc, why);
    const char *d = s_diff(&s_m1, &s_m2);
    if (d)
        s_fail("%s: field %s differs after a round trip", name, d);
    rc = proto_encode(&s_m2, &f2, &n2, why, sizeof why);
    if (rc != 0 || n2 != n1 || memcmp(f1, f2, n1) != 0)
        s_fail("%s: encodes to %zu bytes, then to %zu different ones (%d)", name, n1, n2, rc);
    free(f2);
    free(f1);
    proto_msg_fini(&s_m2);
    proto_msg_fini(&s_m1);
    return 0;
}
