/* report.h — what one end of a test measured, and what a test is.
 *
 * A test has two ends. Each end fills one report_t with what it can see: the sender its send
 * counters and TCP_INFO, the receiver what arrived, the reflector its turnaround times, and both
 * their CPU use. Reports travel between the ends (dpwire) and later to the coordinator, and the
 * figures a user reads are derived from the pair (result.h). Times are CLOCK_REALTIME ns unless
 * the name says otherwise.
 */
#ifndef VMTP_REPORT_H
#define VMTP_REPORT_H

#include "cpu.h"
#include "tcpinfo.h"
#include "tstamp.h"
#include "vmtp/hist.h"

#include <stdbool.h>
#include <stdint.h>

/* Test kinds. Values travel on the wire: append only. */
typedef enum {
    TEST_TCP = 1,    /* TCP bulk throughput */
    TEST_UDP = 2,    /* paced UDP throughput and loss */
    TEST_RR_UDP = 3, /* UDP request/response latency */
    TEST_RR_TCP = 4, /* TCP request/response latency */
} test_proto_t;

/* Request/response schedules. */
typedef enum {
    RR_MODE_PINGPONG = 0,    /* next request when the reply arrived (or timed out) */
    RR_MODE_ISOCHRONOUS = 1, /* requests on a fixed schedule, whatever the replies do */
} rr_mode_t;

#define TEST_MAX_STREAMS 128
#define TEST_UDP_MIN_LEN 64
#define TEST_UDP_MAX_LEN 65507
#define TEST_RR_MIN_LEN 40
#define TEST_TCP_MAX_LEN (4u << 20)
#define TEST_MAX_SOCKBUF (256u << 20) /* sndbuf/rcvbuf a test may ask of the other end */
#define RR_MAX_IN_FLIGHT (1u << 20)   /* isochronous requests that may await a reply at once */

/* Everything both ends must agree on before a test starts. */
typedef struct {
    uint8_t proto;           /* test_proto_t */
    bool reverse;            /* TCP/UDP: the server sends and the client receives */
    uint16_t streams;        /* TCP parallel connections, 1..TEST_MAX_STREAMS */
    uint32_t len;            /* TCP write size, UDP datagram payload, RR message size (bytes) */
    uint64_t rate_bps;       /* UDP offered rate of payload bits (0 = as fast as possible) */
    int64_t duration_ns;     /* data phase length (RR: also the limit when count is 0) */
    int64_t omit_ns;         /* TCP/UDP warm-up excluded from the results */
    int64_t interval_ns;     /* progress report period (0 = none) */
    uint32_t sndbuf;         /* SO_SNDBUF request, bytes (0 = kernel default) */
    uint32_t rcvbuf;         /* SO_RCVBUF request, bytes (0 = engine default) */
    uint8_t rr_mode;         /* rr_mode_t */
    int64_t rr_interval_ns;  /* isochronous send period */
    uint64_t rr_count;       /* RR requests (0 = until duration_ns) */
    int64_t rr_timeout_ns;   /* a request unanswered this long is lost */
    int64_t start_real_ns;   /* absolute start of the data phase (0 = as soon as both are ready) */
    int64_t clock_offset_ns; /* receiver clock minus sender clock when known (clock_known) */
    bool clock_known;        /* clock_offset_ns is meaningful: one-way delays are absolute */
    bool gso;                /* UDP sender: hand datagrams to the kernel as UDP_SEGMENT messages */
} test_spec_t;

/* Roles of a report. */
typedef enum {
    ROLE_NONE = 0,
    ROLE_SENDER = 1,    /* TCP/UDP sender */
    ROLE_RECEIVER = 2,  /* TCP/UDP receiver */
    ROLE_RR_CLIENT = 3, /* RR requester */
    ROLE_REFLECTOR = 4, /* RR responder */
} report_role_t;

/* One progress period as seen by one end. Times are relative to that end's data-phase start. */
typedef struct {
    int64_t start_ns; /* period start, ns after the data phase began */
    int64_t end_ns;   /* period end */
    uint64_t bytes;   /* payload bytes sent (sender) or received (receiver) in the period */
    uint64_t packets; /* datagrams / RR replies in the period */
    uint64_t lost;    /* UDP receiver: sequence gaps that appeared in the period */
    tcpinfo_t tcp;    /* TCP sender: TCP_INFO at the period's end (combined over streams) */
    uint64_t retrans; /* TCP sender: retransmissions in the period */
} interval_t;

/* What one end measured. Histograms are owned by the report (report_fini frees them). */
typedef struct {
    uint8_t role; /* report_role_t */

    /* sender */
    uint64_t tx_bytes;        /* payload bytes handed to the kernel */
    uint64_t tx_packets;      /* datagrams sent (UDP), warm-up excluded */
    uint64_t tx_omitted;      /* datagrams sent during the warm-up (flagged, excluded everywhere) */
    uint64_t tx_errors;       /* sends refused by the kernel (ENOBUFS, ECONNREFUSED, ...) */
    int64_t tx_start_real_ns; /* first send */
    int64_t tx_end_real_ns;   /* last send returned */
    double tx_busy;           /* UDP: share of the send phase the sending thread was running or
                                 waiting for a CPU (1 = the sender was the bottleneck; low = it
                                 slept: paced, or blocked by the path); -1 unknown */
    double tx_backlog;        /* UDP: share of looks at the send queue that found it at least half
                                 full — the path (its first hop's queue) held the sender back;
                                 -1 unknown */
    tcpinfo_t tcp;            /* TCP sender: final TCP_INFO combined over streams */

    /* receiver */
    uint64_t rx_bytes;        /* payload bytes in the measurement window (UDP: of the unique datagrams
                                 timed by stamp_source's clock, which also times the window) */
    uint64_t rx_bytes_total;  /* every payload byte received, warm-up included */
    uint64_t rx_packets;      /* UDP: unique datagrams in the window */
    int64_t rx_start_real_ns; /* start of the measurement window (first arrival, after warm-up) */
    int64_t rx_end_real_ns;   /* last arrival */
    uint64_t rx_duplicates;   /* UDP duplicates */
    uint64_t rx_reordered;    /* UDP reordered datagrams */
    uint64_t rx_too_old;      /* UDP arrivals beyond the duplicate window */
    uint64_t rx_foreign;      /* datagrams that were not this test's */
    uint64_t rx_omitted;      /* UDP datagrams of the warm-up that arrived (excluded) */
    int64_t socket_drops;     /* drops at the receiving socket (SO_MEMINFO / SO_RXQ_OVFL); -1 unknown */
    double jitter_ns;         /* RFC 3550 jitter */
    hist_t *owd;              /* UDP one-way delay (relative unless the spec's clock was known) */

    /* RR requester */
    uint64_t rr_sent;         /* requests sent */
    uint64_t rr_received;     /* replies matched to a request */
    uint64_t rr_late;         /* replies after the timeout (counted lost) */
    int64_t rr_behind_max_ns; /* isochronous: latest a request left after its scheduled time */
    int64_t clock_offset_ns;  /* RR requester: reflector's clock minus this end's (NTP estimate) */
    int64_t clock_bound_ns;   /* ... exact to within this (half the smallest path RTT); -1 = none */
    uint64_t clock_samples;   /* ... from this many fully stamped exchanges */
    uint64_t stamps_missing;  /* RR replies / UDP datagrams lacking a kernel stamp */
    hist_t *rtt_user;         /* RTT between user-space send and receive */
    hist_t *rtt_kernel;       /* RTT between the client's kernel TX and RX stamps */
    hist_t *rtt_path;         /* rtt_kernel minus the reflector's kernel turnaround */

    /* reflector */
    uint64_t reflected;  /* requests answered */
    hist_t *turn_kernel; /* kernel RX stamp of a request to kernel TX stamp of its reply */
    hist_t *turn_user;   /* user-space receive to send of the reply */

    /* every end */
    int64_t data_start_real_ns; /* when this end's data phase began (its clock), as measured: a
                                   scheduled start plus the engine's wake-up lag */
    uint8_t stamp_source;       /* tstamp_source_t: best stamp source this end used */
    cpu_usage_t cpu;            /* CPU use over the data phase */
} report_t;

/* Zeroes *r (socket_drops = -1). No histogram is allocated. */
void report_init(report_t *r);
/* Frees the histograms and zeroes *r; idempotent. */
void report_fini(report_t *r);
/* Allocates the histograms a role fills. Returns 0 or -ENOMEM. */
int report_alloc_hists(report_t *r, report_role_t role);

#endif
