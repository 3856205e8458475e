/* tstamp.h — kernel timestamps (SO_TIMESTAMPING) on any socket, and what the receive path says
 * about drops (SO_RXQ_OVFL).
 *
 * Stamps are CLOCK_REALTIME ns, the clock the kernel's software stamps use. A stamp the kernel
 * did not give is 0 and is counted by the caller, never an error: RX stamping can lag the
 * setsockopt by a few packets, and some sockets (or kernels) give none at all.
 */
#ifndef VMTP_TSTAMP_H
#define VMTP_TSTAMP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Where a timestamp came from, best first. */
typedef enum {
    TSTAMP_SOURCE_NONE = 0, /* no stamp */
    TSTAMP_SOURCE_USER,     /* clock_gettime() in user space around the syscall */
    TSTAMP_SOURCE_KERNEL,   /* kernel software stamp (driver/stack boundary) */
    TSTAMP_SOURCE_HARDWARE, /* NIC hardware stamp (reserved: not used yet, see tstamp.c) */
} tstamp_source_t;

/* "user", "kernel", "hardware" or "none". */
const char *tstamp_source_name(tstamp_source_t src);

/* Bytes of control buffer a recvmsg() needs for tstamp_parse_rx(). */
#define TSTAMP_CMSG_SPACE 256

/* Asks for software RX stamps (rx) and/or software TX stamps on the error queue (tx), keyed
 * by OPT_ID (UDP/ICMP: one key per sendmsg from 0; TCP: offset of each send's last byte, from
 * 0 at the next byte written where the kernel has OPT_ID_TCP, else from the oldest unacked byte)
 * with OPT_TSONLY (no packet copy). Also enables SO_RXQ_OVFL when rx. Returns 0 or -errno. */
int tstamp_enable(int fd, bool tx, bool rx);

/* What one received message's control data carried. */
typedef struct {
    int64_t rx_real_ns;     /* RX stamp, 0 if none */
    tstamp_source_t source; /* KERNEL or HARDWARE when rx_real_ns != 0 */
    bool have_ovfl;         /* an SO_RXQ_OVFL count was present */
    uint32_t ovfl;          /* the socket's cumulative receive-queue drops at that moment */
} tstamp_rx_t;

/* Parses the control messages of a received msghdr into *out (always fully written). */
void tstamp_parse_rx(struct msghdr *msg, tstamp_rx_t *out);

/* One TX stamp from the error queue. */
typedef struct {
    uint32_t key;           /* OPT_ID key */
    uint32_t type;          /* SCM_TSTAMP_SND, SCM_TSTAMP_SCHED or SCM_TSTAMP_ACK */
    int64_t tx_real_ns;     /* the stamp */
    tstamp_source_t source; /* KERNEL or HARDWARE */
} tstamp_tx_t;

/* Reads one pending TX stamp without blocking. Returns 1 when *out was filled, 0 when the
 * error queue holds no stamp now, or -errno (a non-timestamp error, e.g. ICMP unreachable,
 * is consumed and returned as its -ee_errno). */
int tstamp_read_tx(int fd, tstamp_tx_t *out);

/* The kernel switches software RX stamping on for the whole machine a moment after the first
 * socket asks for it (a static key flipped from a work queue), and off again when the last such
 * socket closes; packets received meanwhile carry no stamp. This opens a UDP socket on
 * loopback with RX stamping, sends itself datagrams until one comes back stamped (at most
 * timeout_ns), and returns the socket: keep it open as long as measurements run so the key stays
 * on. Returns the fd, or -errno (-ETIMEDOUT: no stamp came; -ENETUNREACH: no loopback). */
int tstamp_warm_up(int64_t timeout_ns);

/* The kernel's count of packets dropped at this socket (SO_MEMINFO SK_MEMINFO_DROPS), or -errno. */
int64_t tstamp_socket_drops(int fd);

#endif
