/* tstamp.c — SO_TIMESTAMPING plumbing; see tstamp.h. */
#include "tstamp.h"

#include "vmtp/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

/* Linux 6.2; Debian 12's headers predate it. */
#define S_OPT_ID_TCP (1 << 16)

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

const char *tstamp_source_name(tstamp_source_t src)
{
    switch (src) {
    case TSTAMP_SOURCE_USER: return "user";
    case TSTAMP_SOURCE_KERNEL: return "kernel";
    case TSTAMP_SOURCE_HARDWARE: return "hardware";
    case TSTAMP_SOURCE_NONE: break;
    }
    return "none";
}

int tstamp_enable(int fd, bool tx, bool rx)
{
    int flags = SOF_TIMESTAMPING_SOFTWARE;
    if (rx)
        flags |= SOF_TIMESTAMPING_RX_SOFTWARE;
    if (tx)
        flags |= SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
    int proto = 0;
    socklen_t plen = sizeof proto;
    bool tcp = getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &plen) == 0 && proto == IPPROTO_TCP;
    /* TCP keys count bytes; OPT_ID_TCP starts them at the next byte written rather than at the
     * oldest unacknowledged one, so keys do not depend on what is still in flight. */
    if (tx && tcp && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &(int){flags | S_OPT_ID_TCP}, sizeof flags) == 0)
        flags |= S_OPT_ID_TCP;
    else if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) < 0)
        return -errno;
    if (rx) {
        int one = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) < 0)
            return -errno;
    }
    return 0;
}

/* The software stamp of a scm_timestamping (ts[0], CLOCK_REALTIME). A hardware stamp (ts[2]) is
 * never used: it comes from the NIC's clock (often TAI, and not this host's), and subtracting it
 * from a software stamp would be meaningless. It appears only when another program turned on the
 * NIC's stamping; we do not ask for it. */
static int64_t s_pick(const struct scm_timestamping *st, tstamp_source_t *src)
{
    if (st->ts[0].tv_sec || st->ts[0].tv_nsec) {
        *src = TSTAMP_SOURCE_KERNEL;
        return clock_ts_to_ns(&st->ts[0]);
    }
    *src = TSTAMP_SOURCE_NONE;
    return 0;
}

void tstamp_parse_rx(struct msghdr *msg, tstamp_rx_t *out)
{
    memset(out, 0, sizeof *out);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET)
            continue;
        if (c->cmsg_type == SO_TIMESTAMPING && c->cmsg_len >= CMSG_LEN(sizeof(struct scm_timestamping))) {
            struct scm_timestamping st;
            memcpy(&st, CMSG_DATA(c), sizeof st);
            tstamp_source_t src;
            int64_t ns = s_pick(&st, &src);
            if (ns) {
                out->rx_real_ns = ns;
                out->source = src;
            }
        } else if (c->cmsg_type == SO_RXQ_OVFL && c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
            memcpy(&out->ovfl, CMSG_DATA(c), sizeof out->ovfl);
            out->have_ovfl = true;
        }
    }
}

int tstamp_read_tx(int fd, tstamp_tx_t *out)
{
    for (;;) {
        char control[TSTAMP_CMSG_SPACE];
        char data[64];
        struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
        ssize_t n = recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -errno;
        }
        struct scm_timestamping st;
        bool have_ts = false;
        struct sock_extended_err ee;
        bool have_ee = false;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING && c->cmsg_len >= CMSG_LEN(sizeof st)) {
                memcpy(&st, CMSG_DATA(c), sizeof st);
                have_ts = true;
            } else if (((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                        (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) &&
                       c->cmsg_len >= CMSG_LEN(sizeof ee)) {
                memcpy(&ee, CMSG_DATA(c), sizeof ee);
                have_ee = true;
            }
        }
        if (have_ee && ee.ee_origin != SO_EE_ORIGIN_TIMESTAMPING)
            return ee.ee_errno ? -(int)ee.ee_errno : -EIO;
        if (!have_ts || !have_ee)
            continue; /* not a stamp we can key: skip it */
        tstamp_source_t src;
        int64_t ns = s_pick(&st, &src);
        if (!ns)
            continue;
        out->key = ee.ee_data;
        out->type = ee.ee_info;
        out->tx_real_ns = ns;
        out->source = src;
        return 1;
    }
}

int64_t tstamp_socket_drops(int fd)
{
    uint32_t mem[SK_MEMINFO_VARS];
    socklen_t len = sizeof mem;
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0)
        return -errno;
    if (len < (SK_MEMINFO_DROPS + 1) * sizeof(uint32_t))
        return -ENOTSUP;
    return mem[SK_MEMINFO_DROPS];
}

int tstamp_warm_up(int64_t timeout_ns)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(fd, (struct sockaddr *)&a, &alen) < 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        rc = errno == EADDRNOTAVAIL ? -ENETUNREACH : -errno;
        goto fail;
    }
    if ((rc = tstamp_enable(fd, false, true)) < 0)
        goto fail;
    int64_t deadline = clock_mono_ns() + timeout_ns;
    for (;;) {
        char byte = 0, buf[8], ctl[TSTAMP_CMSG_SPACE];
        if (send(fd, &byte, 1, 0) < 0) {
            rc = errno == EADDRNOTAVAIL ? -ENETUNREACH : -errno;
            goto fail;
        }
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
        if (recvmsg(fd, &msg, 0) >= 0) {
            tstamp_rx_t ts;
            tstamp_parse_rx(&msg, &ts);
            if (ts.rx_real_ns)
                return fd;
        }
        if (clock_mono_ns() >= deadline) {
            rc = -ETIMEDOUT;
            goto fail;
        }
        clock_sleep_until_mono(clock_mono_ns() + VMTP_NS_PER_MS);
    }
fail:
    close(fd);
    return rc;
}
