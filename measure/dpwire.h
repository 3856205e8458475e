/* dpwire.h — the data-plane wire format: what vmtp-node ends say to each other on the data port.
 *
 * One TCP port P (default 5001) carries everything; a UDP socket on the same port P carries
 * datagram tests. Every TCP connection opens with an 8-byte greeting "VMTPDP" + version + kind:
 *  - kind CONTROL: then length-prefixed frames (u32 big-endian length of type+body, u8 type,
 *    body) negotiate a test, stream progress and exchange reports (docs/PROTOCOL.md, data plane);
 *  - kind DATA: then the session cookie (u64) and the stream index (u16); after that the
 *    connection carries test bytes only (TCP bulk, or RR messages).
 * UDP datagrams start with a 24-byte header (magic, kind, seq, sender realtime stamp); RR
 * messages (UDP or TCP) extend it to 40 bytes with the reflector's turnaround figures.
 * Every decoder here is strict and bounded: it takes untrusted bytes and never trusts a length
 * or an enum without checking it (fuzzed by tests/fuzz/fuzz_dpwire.c).
 */
#ifndef VMTP_DPWIRE_H
#define VMTP_DPWIRE_H

#include "report.h"

#include <stddef.h>
#include <stdint.h>

#define DP_VERSION 1
#define DP_GREETING_LEN 8
#define DP_DATA_HELLO_LEN 18 /* greeting + cookie + stream index */
#define DP_FRAME_MAX (256u * 1024u)
#define DP_KIND_CONTROL 1
#define DP_KIND_DATA 2

/* Control message types. Append only. */
typedef enum {
    DP_MSG_TEST = 1,     /* client → server: the test_spec_t to run */
    DP_MSG_ACCEPT = 2,   /* server → client: cookie for the data connections, server identity */
    DP_MSG_READY = 3,    /* server → client: every data socket is in place */
    DP_MSG_START = 4,    /* client → server: go (at the spec's start_real_ns, or now) */
    DP_MSG_INTERVAL = 5, /* either way: one progress period of the sending end */
    DP_MSG_DONE = 6,     /* sender → receiver: the sender's final report */
    DP_MSG_RESULT = 7,   /* server → client: the server's final report */
    DP_MSG_ERROR = 8,    /* either way: the test failed; code (errno) and text */
    DP_MSG_STOP = 9,     /* client → server: stop the running test now */
} dp_msg_type_t;

#define DP_MSG_TYPE_MAX DP_MSG_STOP
#define DP_TEXT_MAX 256

/* A decoded control message. Only the members of its type are meaningful. */
typedef struct {
    uint8_t type;                /* dp_msg_type_t */
    test_spec_t test;            /* TEST */
    uint64_t cookie;             /* ACCEPT */
    char server_id[DP_TEXT_MAX]; /* ACCEPT: "hostname kernel-release" of the server */
    interval_t interval;         /* INTERVAL */
    report_t report;             /* DONE, RESULT (owns its histograms: dp_msg_fini) */
    int32_t error_code;          /* ERROR: positive errno */
    char text[DP_TEXT_MAX];      /* ERROR */
} dp_msg_t;

/* Zeroes a message of the given type. */
void dp_msg_init(dp_msg_t *m, dp_msg_type_t type);
/* Frees what a decoded message owns (the report's histograms); idempotent. */
void dp_msg_fini(dp_msg_t *m);

/* Encodes m as one frame (length prefix included) into buf. Returns its length, or -ENOBUFS. */
long dp_msg_encode(const dp_msg_t *m, uint8_t *buf, size_t cap);
/* Decodes a frame body (type byte + body, i.e. after the length prefix) into *m (initialised
 * here; call dp_msg_fini after). Returns 0, or -EINVAL for anything malformed: unknown type,
 * short or long body, values out of range, a bad histogram. */
int dp_msg_decode(const uint8_t *body, size_t len, dp_msg_t *m);

/* The bodies of a test spec, an interval and a report as standalone blobs (the control plane
 * carries them). Encoders return the length or -ENOBUFS; decoders are as strict as
 * dp_msg_decode, return 0 or -EINVAL, and leave *out untouched on failure. A decoded report owns
 * its histograms (report_fini). */
long dp_spec_encode(const test_spec_t *t, uint8_t *buf, size_t cap);
int dp_spec_decode(const uint8_t *buf, size_t len, test_spec_t *t);
long dp_interval_encode(const interval_t *iv, uint8_t *buf, size_t cap);
int dp_interval_decode(const uint8_t *buf, size_t len, interval_t *iv);
long dp_report_encode(const report_t *r, uint8_t *buf, size_t cap);
int dp_report_decode(const uint8_t *buf, size_t len, report_t *r);

/* Checks a test spec for values the engine cannot honour. Returns 0, or -EINVAL with a reason
 * ("len 12 is outside 64..65507 for udp") in why. */
int dp_test_validate(const test_spec_t *t, char *why, size_t cap);

/* Name of a test kind ("tcp", "udp", "rr-udp", "rr-tcp"), "?" if unknown. */
const char *dp_proto_name(uint8_t proto);
/* Name of a message type, "?" if unknown. */
const char *dp_msg_name(uint8_t type);

/* Greetings. */
void dp_greeting_put(uint8_t out[DP_GREETING_LEN], uint8_t kind);
/* Returns the kind (DP_KIND_*), or -EINVAL for a wrong magic, -EPROTO for another version. */
int dp_greeting_parse(const uint8_t in[DP_GREETING_LEN]);
void dp_data_hello_put(uint8_t out[DP_DATA_HELLO_LEN], uint64_t cookie, uint16_t stream);
/* Returns 0 and fills cookie/stream, or a dp_greeting_parse error, or -EINVAL (not DATA). */
int dp_data_hello_parse(const uint8_t in[DP_DATA_HELLO_LEN], uint64_t *cookie, uint16_t *stream);

/* Datagram and RR message header. */
#define DP_DGRAM_MAGIC 0x564d5450u /* "VMTP" */
#define DP_DGRAM_HDR_LEN 24
#define DP_RR_HDR_LEN 40
#define DP_TURN_NONE UINT32_MAX /* turnaround not known */

typedef enum {
    DP_DGRAM_HELLO = 1,     /* client → server UDP: seq = session cookie; binds the client address */
    DP_DGRAM_HELLO_ACK = 2, /* reserved: never sent (READY on the control connection confirms the binding) */
    DP_DGRAM_DATA = 3,      /* throughput datagram */
    DP_DGRAM_RR_REQ = 4,    /* RR request */
    DP_DGRAM_RR_REP = 5,    /* RR reply */
    DP_DGRAM_RR_FLUSH = 6,  /* RR: not measured; asks the reflector for its last turnaround */
} dp_dgram_kind_t;

#define DP_DGRAM_F_WARMUP 0x01 /* sent during the warm-up omission: not measured */

typedef struct {
    uint8_t kind;       /* dp_dgram_kind_t */
    uint8_t flags;      /* DP_DGRAM_F_* */
    uint64_t seq;       /* sequence number (HELLO: cookie) */
    int64_t tx_real_ns; /* sender's CLOCK_REALTIME at send; RR replies: the reflector's kernel RX
                           stamp of the request (0 = none), for the clock offset */
    /* RR replies only: */
    uint32_t turn_user_ns;   /* this reply's user-space turnaround (DP_TURN_NONE if unknown) */
    uint32_t turn_kernel_ns; /* kernel turnaround of reply turn_seq (DP_TURN_NONE if none yet) */
    uint64_t turn_seq;       /* which earlier reply turn_kernel_ns belongs to */
} dp_dgram_t;

/* Writes the header of d into buf (DP_DGRAM_HDR_LEN bytes, DP_RR_HDR_LEN for RR kinds). */
void dp_dgram_put(uint8_t *buf, const dp_dgram_t *d);
/* Parses a datagram/RR message of len bytes. Returns 0, or -EINVAL when it is not ours or too
 * short for its kind. */
int dp_dgram_parse(const uint8_t *buf, size_t len, dp_dgram_t *d);

#endif
