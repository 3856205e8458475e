/* tcpinfo.h — the TCP_INFO figures a throughput test reports, read from a connected socket. */
#ifndef VMTP_TCPINFO_H
#define VMTP_TCPINFO_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    bool valid;                 /* false when the kernel gave nothing */
    uint32_t rtt_us;            /* smoothed RTT */
    uint32_t rttvar_us;         /* RTT variation */
    uint32_t min_rtt_us;        /* lowest RTT seen on the connection (0 if the kernel lacks it) */
    uint32_t snd_cwnd;          /* congestion window, segments */
    uint32_t snd_mss;           /* sender MSS, bytes */
    uint64_t total_retrans;     /* segments retransmitted over the connection's life */
    uint64_t delivery_rate_bps; /* the kernel's latest delivery-rate sample, bit/s */
    uint64_t bytes_acked;       /* bytes the peer acknowledged */
} tcpinfo_t;

/* Reads TCP_INFO of fd into *out. Returns 0 or -errno (*out then has valid = false). */
int tcpinfo_read(int fd, tcpinfo_t *out);

/* Combines per-stream samples into one: RTTs averaged over valid samples, min_rtt the lowest,
 * cwnd, retransmits, delivery rates and acked bytes summed. */
void tcpinfo_combine(const tcpinfo_t *in, unsigned n, tcpinfo_t *out);

#endif
