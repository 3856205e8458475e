/* proto.h — the control-plane messages (coordinator <-> node agent): types, encoder, strict
 * decoder, all generated from proto.def (docs/PROTOCOL.md, control plane).
 *
 * Decoding takes untrusted bytes: the frame is bounded (PROTO_FRAME_MAX, also the ZeroMQ
 * socket's ZMQ_MAXMSGSIZE), pre-scanned without allocating (every array and string length must
 * fit in the bytes that remain, nesting and element counts are capped, maps/ext/floats/nil are
 * refused) before msgpack-c unpacks it, and then checked field by field: exact field count,
 * type, range and length. An unknown version or message id is reported as such so the receiver
 * can answer with an ERROR; nothing in a frame can make the decoder crash or allocate more than
 * a small multiple of the frame's size (tests/fuzz/fuzz_proto.c).
 */
#ifndef VMTP_PROTO_H
#define VMTP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmtp/proto.def"

#define PROTO_FRAME_MAX (1u << 20)

/* Field storage, by kind (name, a, b as in proto.def). */
#define PROTO_STORE_UINT(name, a, b) uint64_t name;
#define PROTO_STORE_INT(name, a, b) int64_t name;
#define PROTO_STORE_BOOL(name, a, b) bool name;
#define PROTO_STORE_STR(name, a, b) char name[(b) + 1];
#define PROTO_STORE_BIN(name, a, b) proto_bin_t name;
#define PROTO_STORE_STRS(name, a, b)                                                                                   \
    struct {                                                                                                           \
        unsigned n;         /* strings in use */                                                                       \
        char v[a][(b) + 1]; /* the strings */                                                                          \
    } name;
#define PROTO_FIELD_STORE(kind, name, a, b, doc) PROTO_STORE_##kind(name, a, b)

/* Bytes of a BIN field. A decoded message owns them (proto_msg_fini frees); in a message being
 * encoded they are borrowed from the caller. */
typedef struct {
    uint8_t *data; /* the bytes (NULL when len is 0) */
    size_t len;    /* how many */
} proto_bin_t;

/* Message ids. */
#define PROTO_ID_ENUM(id, NAME, name, FIELDS, dir, doc) PROTO_##NAME = id,
typedef enum { PROTO_MESSAGES(PROTO_ID_ENUM) } proto_id_t;
#undef PROTO_ID_ENUM

/* One struct per message: proto_hello_t, proto_run_t, ... */
#define PROTO_STRUCT(id, NAME, name, FIELDS, dir, doc)                                                                 \
    typedef struct {                                                                                                   \
        FIELDS(PROTO_FIELD_STORE)                                                                                      \
    } proto_##name##_t;
PROTO_MESSAGES(PROTO_STRUCT)
#undef PROTO_STRUCT

/* Any message. */
typedef struct {
    uint32_t id;  /* proto_id_t */
    uint64_t seq; /* request number this message is (or answers); 0 = unsolicited */
    union {
#define PROTO_MEMBER(id, NAME, name, FIELDS, dir, doc) proto_##name##_t name;
        PROTO_MESSAGES(PROTO_MEMBER)
#undef PROTO_MEMBER
    } u; /* the fields of message `id` */
} proto_msg_t;

/* Zeroes *m and sets its id and seq. */
void proto_msg_init(proto_msg_t *m, proto_id_t id, uint64_t seq);
/* Frees the BIN fields a decoded message owns; idempotent (do not call on a message whose BIN
 * fields borrow the caller's bytes). */
void proto_msg_fini(proto_msg_t *m);

/* "HELLO", "RUN", ... or "?" */
const char *proto_name(uint32_t id);

/* Encodes m into a malloc'd buffer (*out, *len; the caller frees *out). The encoder checks the
 * same bounds as the decoder, so it never sends what a peer would refuse. Returns 0, -EINVAL
 * (unknown id, or a field out of bounds: why says which), -EMSGSIZE (longer than
 * PROTO_FRAME_MAX) or -ENOMEM. */
int proto_encode(const proto_msg_t *m, uint8_t **out, size_t *len, char *why, size_t whycap);

/* Decodes a frame into *m (proto_msg_fini it after a 0 return). Returns 0, or:
 *   -EMSGSIZE  longer than PROTO_FRAME_MAX;
 *   -EPROTO    another protocol version (m->seq/id filled when readable, for the ERROR reply);
 *   -ENOMSG    unknown message id (likewise);
 *   -EINVAL    anything else malformed;
 * with a sentence in why naming the message and the field. *m holds nothing to free on failure. */
int proto_decode(const uint8_t *data, size_t len, proto_msg_t *m, char *why, size_t whycap);

#endif
