/* icmp.c — ICMP / ICMPv6 echo engine; see icmp.h. */
#include "icmp.h"

#include "vmtp/clock.h"

#include <assert.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define S_RCVBUF (4 * 1024 * 1024)
#define S_HDR 8                                /* ICMP / ICMPv6 echo header bytes */
#define S_STAMP 8                              /* payload prefix: sequence (be32) + cookie (4 bytes) */
#define S_RX_BUF (65536 + 128)                 /* any IPv4 packet with its header, and slack */
#define S_RX_BURST 64                          /* replies read per wake before the schedule is looked at again */
#define S_ERRQ_BURST 256                       /* error-queue entries read per wake */
#define S_STOP_CHECK_NS (100 * VMTP_NS_PER_MS) /* longest sleep between two looks at *stop */

/* Life of one request. */
typedef enum {
    ICMP_SLOT_FREE = 0, /* unused, or its send failed */
    ICMP_SLOT_SENT,     /* sent, no reply yet */
    ICMP_SLOT_REPLIED,  /* replied, waiting for its kernel TX stamp before the samples are recorded */
    ICMP_SLOT_DONE,     /* replied and recorded; a further reply is a duplicate */
    ICMP_SLOT_LOST,     /* timed out; a reply now is late and ignored */
} icmp_slot_state_t;

/* One request in flight. */
typedef struct {
    uint32_t seq;            /* full send sequence */
    uint32_t key;            /* OPT_ID key we expect for its TX stamp (before key_offset) */
    icmp_slot_state_t state; /* see above */
    int64_t tx_mono_ns;      /* CLOCK_MONOTONIC just before sendto() */
    int64_t tx_user_real_ns; /* CLOCK_REALTIME just before sendto(): no TX stamp of it can be earlier */
    int64_t tx_kern_real_ns; /* kernel TX stamp, 0 until it is read */
    int64_t rx_kern_real_ns; /* kernel RX stamp of the first reply, 0 if none */
    int64_t rtt_user_ns;     /* user RTT of the first reply */
} icmp_slot_t;

/* Everything one icmp_run() holds. */
typedef struct {
    const icmp_params_t *p; /* not owned */
    int fd;                 /* the socket, -1 = none */
    int family;             /* AF_INET or AF_INET6 */
    int kind;               /* ICMP_SOCKET_PING or ICMP_SOCKET_RAW */
    bool stamps;            /* tstamp_enable() succeeded: TX stamps are worth waiting for */
    uint16_t ident;         /* echo id on a raw socket (a ping socket's is the kernel's) */
    uint8_t cookie[4];      /* random per run, in every payload */
    sockaddr_any_t dst;     /* target, port 0 */
    uint8_t *txbuf;         /* request: header + payload (owned) */
    size_t tx_len;          /* bytes of txbuf */
    uint8_t *rxbuf;         /* receive buffer of S_RX_BUF bytes (owned) */
    icmp_slot_t *slots;     /* ring of `window` requests, by seq % window (owned) */
    uint32_t *key_seq;      /* seq by expected OPT_ID key % window (owned) */
    uint32_t window;        /* ring size */
    uint32_t next_seq;      /* sequence of the next send */
    uint32_t tail;          /* oldest sequence maybe not finalised */
    uint32_t next_key;      /* expected OPT_ID key of the next successful send */
    uint32_t key_offset;    /* keys the kernel used up on failed sends, as learnt from stamps */
    uint32_t key_unsure;    /* failed sends that may have used up a key */
    uint64_t in_flight;     /* slots in ICMP_SLOT_SENT */
    hist_t *h_kern;         /* kernel RTTs (owned) */
    hist_t *h_user;         /* user RTTs (owned) */
    uint64_t tx;            /* settled requests: icmp_result_t tx_packets */
    uint64_t rx;            /* rx_packets */
    uint64_t lost;          /* lost */
    uint64_t dups;          /* duplicates */
    uint64_t errors;        /* errors */
    uint64_t kern_ok;       /* replies with an accepted kernel RTT */
} icmp_engine_t;

const char *icmp_socket_kind_name(int kind)
{
    switch (kind) {
    case ICMP_SOCKET_PING: return "ping";
    case ICMP_SOCKET_RAW: return "raw";
    default: return "none";
    }
}

static void s_put16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static uint16_t s_get16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }

/* Internet checksum (RFC 1071) of n bytes. */
static uint16_t s_checksum(const uint8_t *b, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += s_get16(b + i);
    if (n & 1)
        sum += (uint32_t)b[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* The 8-byte payload prefix of request `seq`. */
static void s_stamp(const icmp_engine_t *e, uint32_t seq, uint8_t out[S_STAMP])
{
    s_put16(out, (uint16_t)(seq >> 16));
    s_put16(out + 2, (uint16_t)seq);
    memcpy(out + 4, e->cookie, sizeof e->cookie);
}

/* sendto() errors that mean the socket or the request is wrong, not the path (a blackhole
 * route gives EINVAL, an unreachable one EHOSTUNREACH, a prohibit one EACCES: all counted). */
static bool s_send_fatal(int err)
{
    return err == EBADF || err == EFAULT || err == ENOTSOCK || err == EMSGSIZE || err == EDESTADDRREQ ||
           err == EAFNOSUPPORT || err == EOPNOTSUPP;
}

/* The slot of sequence seq if it is still in the ring and was sent, else NULL. */
static icmp_slot_t *s_slot(icmp_engine_t *e, uint32_t seq)
{
    if (seq >= e->next_seq || e->next_seq - seq > e->window)
        return NULL;
    icmp_slot_t *sl = &e->slots[seq % e->window];
    return sl->seq == seq && sl->state != ICMP_SLOT_FREE ? sl : NULL;
}

/* Settles a request whose outcome is known: SENT becomes lost, REPLIED gets its samples. */
static void s_finalize(icmp_engine_t *e, icmp_slot_t *sl)
{
    if (sl->state == ICMP_SLOT_SENT) {
        e->in_flight--;
        e->tx++;
        e->lost++;
        sl->state = ICMP_SLOT_LOST;
    } else if (sl->state == ICMP_SLOT_REPLIED) {
        e->tx++;
        e->rx++;
        hist_record(e->h_user, sl->rtt_user_ns);
        int64_t rtt = sl->rx_kern_real_ns - sl->tx_kern_real_ns;
        if (sl->tx_kern_real_ns && sl->rx_kern_real_ns && rtt > 0) {
            hist_record(e->h_kern, rtt);
            e->kern_ok++;
        }
        sl->state = ICMP_SLOT_DONE;
    }
}

/* Settles every request sent at least timeout before now: lost, or its reply recorded.
 * Returns when the oldest open request times out, 0 when none is open. */
static int64_t s_expire(icmp_engine_t *e, int64_t now_mono_ns)
{
    for (; e->tail < e->next_seq; e->tail++) {
        icmp_slot_t *sl = s_slot(e, e->tail);
        if (!sl || (sl->state != ICMP_SLOT_SENT && sl->state != ICMP_SLOT_REPLIED))
            continue;
        int64_t expiry_mono_ns = sl->tx_mono_ns + e->p->timeout_ns;
        if (now_mono_ns < expiry_mono_ns)
            return expiry_mono_ns;
        s_finalize(e, sl);
    }
    return 0;
}

/* A TX stamp is for `sl` when it lies between the send and the reply. -1: before the send. */
static int s_stamp_fits(const icmp_slot_t *sl, int64_t t)
{
    if (t < sl->tx_user_real_ns)
        return -1;
    return sl->rx_kern_real_ns == 0 || t < sl->rx_kern_real_ns;
}

/* The sent, unstamped request whose expected OPT_ID key is `key`, or NULL. */
static icmp_slot_t *s_slot_by_key(icmp_engine_t *e, uint32_t key)
{
    if (key >= e->next_key || e->next_key - key > e->window)
        return NULL;
    icmp_slot_t *sl = s_slot(e, e->key_seq[key % e->window]);
    return sl && sl->key == key && !sl->tx_kern_real_ns ? sl : NULL;
}

static void s_on_tx_stamp(icmp_engine_t *e, const tstamp_tx_t *ts)
{
    if (ts->type != SCM_TSTAMP_SND)
        return;
    uint32_t key = ts->key - e->key_offset;
    icmp_slot_t *sl = s_slot_by_key(e, key);
    if ((!sl || s_stamp_fits(sl, ts->tx_real_ns) < 0) && e->key_unsure) {
        /* No send, or a later one, under this key: a failed send used up a key. */
        icmp_slot_t *prev = s_slot_by_key(e, key - 1);
        if (prev && s_stamp_fits(prev, ts->tx_real_ns) > 0) {
            e->key_offset++;
            e->key_unsure--;
            sl = prev;
        }
    }
    if (!sl || s_stamp_fits(sl, ts->tx_real_ns) <= 0)
        return;
    sl->tx_kern_real_ns = ts->tx_real_ns;
    if (sl->state == ICMP_SLOT_REPLIED)
        s_finalize(e, sl);
}

/* Reads the error queue: TX stamps, and ICMP errors reported to a ping socket. */
static int s_drain_errqueue(icmp_engine_t *e)
{
    for (int i = 0; i < S_ERRQ_BURST; i++) {
        tstamp_tx_t ts;
        int rc = tstamp_read_tx(e->fd, &ts);
        if (rc == 0)
            return 0;
        if (rc == 1)
            s_on_tx_stamp(e, &ts);
        else if (rc == -EBADF || rc == -EFAULT || rc == -ENOTSOCK || rc == -EINVAL)
            return rc;
        else
            e->errors++;
    }
    return 0;
}

static void s_on_reply(icmp_engine_t *e, uint16_t seq16, const uint8_t *data, size_t len, int64_t rx_mono_ns,
                       const tstamp_rx_t *ts)
{
    if (!e->next_seq)
        return;
    uint32_t last = e->next_seq - 1;
    uint32_t back = (uint16_t)((uint16_t)last - seq16);
    if (back > last || back >= e->window)
        return; /* older than anything we track: late or not ours */
    uint32_t seq = last - back;
    uint8_t want[S_STAMP];
    s_stamp(e, seq, want);
    size_t plen = e->p->payload_len;
    size_t pre = plen < S_STAMP ? plen : S_STAMP;
    if (len >= pre && memcmp(data, want, pre) != 0)
        return; /* another run's id and cookie, or a wrapped sequence: not ours */
    icmp_slot_t *sl = s_slot(e, seq);
    if (!sl || sl->state == ICMP_SLOT_LOST)
        return; /* late */
    if (len != plen || memcmp(data + pre, e->txbuf + S_HDR + pre, plen - pre) != 0) {
        e->errors++; /* ours, but the payload came back changed */
        return;
    }
    if (sl->state != ICMP_SLOT_SENT) {
        e->dups++;
        return;
    }
    if (rx_mono_ns - sl->tx_mono_ns > e->p->timeout_ns) {
        s_finalize(e, sl); /* arrived before we looked at the clock, but too late */
        return;
    }
    e->in_flight--;
    sl->state = ICMP_SLOT_REPLIED;
    sl->rtt_user_ns = rx_mono_ns - sl->tx_mono_ns;
    sl->rx_kern_real_ns = ts->rx_real_ns;
    if (sl->tx_kern_real_ns && s_stamp_fits(sl, sl->tx_kern_real_ns) <= 0)
        sl->tx_kern_real_ns = 0; /* matched to the wrong send: do not trust it */
    /* Record now unless a TX stamp may still come for a reply that has an RX stamp. */
    if (sl->tx_kern_real_ns || !sl->rx_kern_real_ns || !e->stamps)
        s_finalize(e, sl);
}

/* An ICMP error quoting one of our echo requests (raw sockets): inner is the quoted IP packet. */
static void s_on_icmp_error(icmp_engine_t *e, const uint8_t *inner, size_t len)
{
    const uint8_t *req;
    if (e->family == AF_INET) {
        if (len < 20 || (inner[0] >> 4) != 4 || inner[9] != IPPROTO_ICMP)
            return;
        size_t ihl = (size_t)(inner[0] & 0x0f) * 4;
        if (ihl < 20 || len < ihl + S_HDR)
            return;
        req = inner + ihl;
        if (req[0] != ICMP_ECHO)
            return;
    } else {
        if (len < 40 + S_HDR || inner[6] != IPPROTO_ICMPV6)
            return;
        req = inner + 40;
        if (req[0] != ICMP6_ECHO_REQUEST)
            return;
    }
    if (s_get16(req + 4) == e->ident)
        e->errors++;
}

static void s_on_packet(icmp_engine_t *e, const uint8_t *b, size_t n, int64_t rx_mono_ns, const tstamp_rx_t *ts)
{
    bool v4 = e->family == AF_INET, raw = e->kind == ICMP_SOCKET_RAW;
    if (v4 && raw) { /* raw IPv4 sockets see the IP header */
        if (n < 20 || (b[0] >> 4) != 4)
            return;
        size_t ihl = (size_t)(b[0] & 0x0f) * 4;
        if (ihl < 20 || n < ihl)
            return;
        b += ihl;
        n -= ihl;
    }
    if (n < S_HDR)
        return;
    uint8_t type = b[0];
    if (type == (v4 ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY) && b[1] == 0) {
        if (raw && s_get16(b + 4) != e->ident)
            return;
        if (v4 && raw && s_checksum(b, n) != 0)
            return; /* corrupt: never reached icmp_rcv's check */
        s_on_reply(e, s_get16(b + 6), b + S_HDR, n - S_HDR, rx_mono_ns, ts);
        return;
    }
    if (!raw)
        return;
    if (v4 ? (type == ICMP_DEST_UNREACH || type == ICMP_SOURCE_QUENCH || type == ICMP_TIME_EXCEEDED ||
              type == ICMP_PARAMETERPROB)
           : (type == ICMP6_DST_UNREACH || type == ICMP6_PACKET_TOO_BIG || type == ICMP6_TIME_EXCEEDED ||
              type == ICMP6_PARAM_PROB))
        s_on_icmp_error(e, b + S_HDR, n - S_HDR);
}

/* Reads what is queued now (up to S_RX_BURST messages). */
static int s_drain_rx(icmp_engine_t *e)
{
    for (int i = 0; i < S_RX_BURST; i++) {
        union {
            char buf[TSTAMP_CMSG_SPACE];
            struct cmsghdr align;
        } control;
        struct iovec iov = {.iov_base = e->rxbuf, .iov_len = S_RX_BUF};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
        ssize_t n = recvmsg(e->fd, &msg, MSG_DONTWAIT);
        int64_t rx_mono_ns = clock_mono_ns();
        if (n < 0) {
            if (errno == EAGAIN)
                return 0;
            if (errno == EBADF || errno == EFAULT || errno == ENOTSOCK || errno == EINVAL)
                return -errno;
            continue; /* EINTR, or a pending ICMP error: that one is counted from the error queue */
        }
        if (msg.msg_flags & MSG_TRUNC)
            continue;
        tstamp_rx_t ts;
        tstamp_parse_rx(&msg, &ts);
        s_on_packet(e, e->rxbuf, (size_t)n, rx_mono_ns, &ts);
    }
    return 0;
}

/* Sends request e->next_seq now. Returns 0 (a network failure is counted) or a fatal -errno. */
static int s_send(icmp_engine_t *e)
{
    uint32_t seq = e->next_seq;
    icmp_slot_t *sl = &e->slots[seq % e->window];
    s_finalize(e, sl); /* ring full: the request there has had its chance */
    uint8_t *h = e->txbuf;
    h[0] = e->family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
    h[1] = 0;
    s_put16(h + 2, 0);
    s_put16(h + 4, e->kind == ICMP_SOCKET_RAW ? e->ident : 0);
    s_put16(h + 6, (uint16_t)seq);
    uint8_t stamp[S_STAMP];
    s_stamp(e, seq, stamp);
    memcpy(h + S_HDR, stamp, e->p->payload_len < S_STAMP ? e->p->payload_len : S_STAMP);
    if (e->family == AF_INET && e->kind == ICMP_SOCKET_RAW)
        s_put16(h + 2, s_checksum(h, e->tx_len)); /* the kernel fills it for ping and ICMPv6 sockets */
    memset(sl, 0, sizeof *sl);
    sl->seq = seq;
    sl->tx_user_real_ns = clock_real_ns();
    sl->tx_mono_ns = clock_mono_ns();
    ssize_t n;
    do
        n = sendto(e->fd, e->txbuf, e->tx_len, 0, (const struct sockaddr *)&e->dst.ss, e->dst.len);
    while (n < 0 && errno == EINTR);
    e->next_seq++;
    if (n < 0) {
        if (s_send_fatal(errno))
            return -errno;
        e->errors++;
        e->key_unsure++; /* an error after the packet was built still used up its OPT_ID key */
        return 0;        /* slot stays FREE */
    }
    sl->key = e->next_key++;
    e->key_seq[sl->key % e->window] = seq;
    sl->state = ICMP_SLOT_SENT;
    e->in_flight++;
    return 0;
}

static int s_wait_and_read(icmp_engine_t *e, int64_t now_mono_ns, int64_t wake_mono_ns)
{
    struct pollfd pfd = {.fd = e->fd, .events = POLLIN};
    struct timespec ts = clock_ns_to_ts(wake_mono_ns > now_mono_ns ? wake_mono_ns - now_mono_ns : 0);
    int n = ppoll(&pfd, 1, &ts, NULL);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n == 0)
        return 0;
    if (pfd.revents & POLLNVAL)
        return -EBADF;
    /* Stamps first, so a reply finds its request's TX stamp already there. */
    int rc = s_drain_errqueue(e);
    if (rc == 0 && (pfd.revents & POLLERR)) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len); /* clear a report the queue already gave */
    }
    if (rc == 0 && (pfd.revents & POLLIN))
        rc = s_drain_rx(e);
    return rc;
}

/* The schedule: send on absolute deadlines, read in between, until every request is settled. */
static int s_loop(icmp_engine_t *e, const atomic_bool *stop)
{
    int64_t next_send_mono_ns = clock_mono_ns();
    for (;;) {
        if (stop && atomic_load(stop))
            break; /* requests still open stay out of every count */
        int64_t now = clock_mono_ns();
        int64_t expiry = s_expire(e, now);
        bool sending = e->next_seq < e->p->count;
        if (sending && now >= next_send_mono_ns) {
            int rc = s_send(e);
            if (rc < 0)
                return rc;
            next_send_mono_ns += e->p->interval_ns; /* late sends catch up; the schedule never drifts */
            continue;
        }
        if (!sending && e->in_flight == 0)
            break;
        int64_t wake = now + S_STOP_CHECK_NS;
        if (sending && next_send_mono_ns < wake)
            wake = next_send_mono_ns;
        if (expiry && expiry < wake)
            wake = expiry;
        int rc = s_wait_and_read(e, now, wake);
        if (rc < 0)
            return rc;
    }
    /* Last stamps and replies already queued, then settle what has an outcome. */
    int rc = s_drain_errqueue(e);
    if (rc == 0)
        rc = s_drain_rx(e);
    if (rc < 0)
        return rc;
    s_expire(e, clock_mono_ns());
    for (uint32_t s = e->tail; s < e->next_seq; s++) {
        icmp_slot_t *sl = s_slot(e, s);
        if (sl && sl->state == ICMP_SLOT_REPLIED)
            s_finalize(e, sl);
    }
    return 0;
}

/* A random echo id and payload cookie, so two runs or programs never take each other's replies. */
static void s_random(icmp_engine_t *e)
{
    uint8_t r[6];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        uint64_t x = (uint64_t)clock_real_ns() ^ (uint64_t)getpid() << 40;
        memcpy(r, &x, sizeof r);
    }
    e->ident = s_get16(r);
    memcpy(e->cookie, r + 2, sizeof e->cookie);
}

/* Opens a ping socket, else a raw one, and sets it up. Returns 0 or -errno (e->fd may be set). */
static int s_open(icmp_engine_t *e)
{
    int proto = e->family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
    e->kind = ICMP_SOCKET_PING;
    e->fd = socket(e->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (e->fd < 0) {
        /* EACCES: our gid is outside net.ipv4.ping_group_range; EPROTONOSUPPORT: no ping sockets. */
        if (errno != EACCES && errno != EPERM && errno != EPROTONOSUPPORT && errno != ESOCKTNOSUPPORT)
            return -errno;
        e->kind = ICMP_SOCKET_RAW;
        e->fd = socket(e->family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
        if (e->fd < 0)
            return errno == EACCES || errno == EPERM ? -EPERM : -errno;
    }
    const char *dev = e->p->bind_device;
    if (dev) {
        size_t len = strnlen(dev, IFNAMSIZ);
        if (len == 0 || len >= IFNAMSIZ)
            return -EINVAL;
        if (setsockopt(e->fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)len) < 0)
            return -errno;
    }
    int one = 1;
    if (e->kind == ICMP_SOCKET_PING) {
        /* ICMP errors to the error queue; without it an unconnected ping socket drops them. */
        int rc = e->family == AF_INET ? setsockopt(e->fd, SOL_IP, IP_RECVERR, &one, sizeof one)
                                      : setsockopt(e->fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof one);
        if (rc < 0)
            return -errno;
    } else if (e->family == AF_INET) {
        /* Wake only for replies and errors. Best effort: s_on_packet filters anyway. */
        struct icmp_filter f = {.data = ~(uint32_t)(1u << ICMP_ECHOREPLY | 1u << ICMP_DEST_UNREACH |
                                                    1u << ICMP_SOURCE_QUENCH | 1u << ICMP_TIME_EXCEEDED |
                                                    1u << ICMP_PARAMETERPROB)};
        (void)setsockopt(e->fd, SOL_RAW, ICMP_FILTER, &f, sizeof f);
    } else {
        struct icmp6_filter f;
        ICMP6_FILTER_SETBLOCKALL(&f);
        ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
        ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &f);
        ICMP6_FILTER_SETPASS(ICMP6_PACKET_TOO_BIG, &f);
        ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &f);
        ICMP6_FILTER_SETPASS(ICMP6_PARAM_PROB, &f);
        (void)setsockopt(e->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f);
    }
    /* No stamps is counted data (stamps_missing), not a failure. */
    e->stamps = tstamp_enable(e->fd, true, true) == 0;
    /* A raw socket also sees every other echo on the host; a roomy buffer keeps a fast run's
     * replies from being dropped here and counted as the network's loss. */
    sock_set_buffers(e->fd, 0, S_RCVBUF);
    return 0;
}

static int s_check(const icmp_params_t *p, const icmp_result_t *out)
{
    if (!out->rtt || p->count < 1 || p->payload_len > ICMP_PAYLOAD_MAX || p->interval_ns < 1 ||
        p->interval_ns > ICMP_TIME_MAX_NS || p->timeout_ns < 1 || p->timeout_ns > ICMP_TIME_MAX_NS)
        return -EINVAL;
    sa_family_t fam = p->target.ss.ss_family;
    if (fam != AF_INET && fam != AF_INET6)
        return -EAFNOSUPPORT;
    size_t need = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    return p->target.len < need || p->target.len > sizeof p->target.ss ? -EINVAL : 0;
}

int icmp_run(const icmp_params_t *p, const atomic_bool *stop, icmp_result_t *out)
{
    assert(p && out);
    int rc = s_check(p, out);
    if (rc < 0)
        return rc;
    icmp_engine_t e = {.p = p, .fd = -1, .family = p->target.ss.ss_family, .dst = p->target};
    if (e.family == AF_INET)
        ((struct sockaddr_in *)&e.dst.ss)->sin_port = 0;
    else
        ((struct sockaddr_in6 *)&e.dst.ss)->sin6_port = 0; /* a raw IPv6 socket wants 0 or its protocol */
    uint64_t window = (uint64_t)(p->timeout_ns / p->interval_ns) + 2;
    if (window > p->count)
        window = p->count;
    e.window = (uint32_t)(window < ICMP_WINDOW_MAX ? window : ICMP_WINDOW_MAX);
    e.tx_len = S_HDR + (size_t)p->payload_len;
    e.txbuf = malloc(e.tx_len);
    e.rxbuf = malloc(S_RX_BUF);
    e.slots = calloc(e.window, sizeof *e.slots);
    e.key_seq = calloc(e.window, sizeof *e.key_seq);
    e.h_kern = hist_new();
    e.h_user = hist_new();
    if (!e.txbuf || !e.rxbuf || !e.slots || !e.key_seq || !e.h_kern || !e.h_user) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = S_HDR; i < e.tx_len; i++)
        e.txbuf[i] = (uint8_t)(i - S_HDR); /* pattern; the stamp prefix is written per send */
    s_random(&e);
    rc = s_open(&e);
    if (rc < 0)
        goto out;
    rc = s_loop(&e, stop);
    if (rc < 0)
        goto out;

    /* The rule of icmp.h: kernel RTTs when at least ICMP_KERNEL_MIN_PCT % of replies have one. */
    bool kern = e.rx && e.kern_ok * 100 >= e.rx * ICMP_KERNEL_MIN_PCT;
    tstamp_source_t src = kern ? TSTAMP_SOURCE_KERNEL : e.rx ? TSTAMP_SOURCE_USER : TSTAMP_SOURCE_NONE;
    /* RTTs are positive, so merging never needs memory and cannot fail half-way. */
    if (e.rx && (rc = hist_merge(out->rtt, kern ? e.h_kern : e.h_user)) < 0)
        goto out;
    if (out->rtt_user && (rc = hist_merge(out->rtt_user, e.h_user)) < 0)
        goto out;
    out->tx_packets = e.tx;
    out->rx_packets = e.rx;
    out->lost = e.lost;
    out->duplicates = e.dups;
    out->errors = e.errors;
    out->timestamp_source = src;
    out->stamps_missing = e.rx - e.kern_ok;
    out->socket_kind = e.kind;
out:
    if (e.fd >= 0)
        close(e.fd);
    hist_destroy(&e.h_user);
    hist_destroy(&e.h_kern);
    free(e.key_seq);
    free(e.slots);
    free(e.rxbuf);
    free(e.txbuf);
    return rc;
}
