/* udpflow.c — paced UDP sender and receiver; see udpflow.h. */
#include "udpflow.h"

#include "dpwire.h"
#include "ivclock.h"
#include "pacer.h"
#include "sockutil.h"
#include "tstamp.h"
#include "udpstats.h"
#include "vmtp/clock.h"

#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#define S_BATCH 64
#define S_POLL_NS (50 * VMTP_NS_PER_MS)
#define S_RX_SNAP 64 /* bytes of each datagram the receiver copies: the header is enough */
/* The sender sleeps until the next deadline, then sends every datagram due within this much
 * after it. Sleeping for each gap of a few us would cost a wake-up (~50 us on a VM) and a
 * syscall per datagram at high rates; the price is that a datagram may leave up to 50 us early,
 * and a burst holds at most 50 us (plus the wake-up's lateness) worth of the rate. */
#define S_BACKLOG_EVERY 16 /* batches between looks at the send queue (a power of two) */
#define S_MAX_REFUSED 64   /* consecutive ECONNREFUSED sends that end a UDP sender */
#define S_GSO_BYTES 63000  /* payload of one UDP_SEGMENT message (< 64 KiB with headers) */
#define S_LOOKAHEAD_NS (50 * VMTP_NS_PER_US)

/* How the sender hands datagrams to the kernel: sendmmsg of separate datagrams, or (spec->gso)
 * one UDP_SEGMENT message whose payload the kernel cuts into equal datagrams. */
typedef struct {
    int fd;                                 /* socket (not owned) */
    uint32_t len;                           /* datagram payload */
    uint8_t hdr[S_BATCH][DP_DGRAM_HDR_LEN]; /* sendmmsg: per-datagram headers */
    struct iovec iov[S_BATCH][2];           /* sendmmsg: header + shared fill */
    struct mmsghdr msgs[S_BATCH];           /* sendmmsg: messages */
    char *fill;                             /* sendmmsg: the payload after the header (owned) */
    uint8_t *gso_buf;                       /* GSO: gso_max datagrams back to back (owned); NULL = off */
    unsigned gso_max;                       /* GSO: datagrams per message */
} s_tx_t;

static void s_pattern(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(i * 131u + 7u); /* not zeros: no compression on the path can flatter a result */
}

static int s_tx_init(s_tx_t *tx, int fd, const test_spec_t *spec)
{
    memset(tx, 0, sizeof *tx);
    tx->fd = fd;
    tx->len = spec->len;
    uint32_t fill_len = spec->len - DP_DGRAM_HDR_LEN;
    tx->fill = calloc(1, fill_len ? fill_len : 1);
    if (!tx->fill)
        return -ENOMEM;
    s_pattern(tx->fill, fill_len);
    for (int i = 0; i < S_BATCH; i++) {
        tx->iov[i][0] = (struct iovec){.iov_base = tx->hdr[i], .iov_len = DP_DGRAM_HDR_LEN};
        tx->iov[i][1] = (struct iovec){.iov_base = tx->fill, .iov_len = fill_len};
        tx->msgs[i].msg_hdr.msg_iov = tx->iov[i];
        tx->msgs[i].msg_hdr.msg_iovlen = 2;
    }
    if (!spec->gso)
        return 0;
    /* GSO needs datagrams that fit the path MTU unfragmented, and a message under 64 KiB. */
    int mtu = 0;
    socklen_t ml = sizeof mtu;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    bool v6 = getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET6;
    if (getsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_MTU : IP_MTU, &mtu, &ml) < 0)
        return 0;
    unsigned overhead = v6 ? 48 : 28, n = S_GSO_BYTES / spec->len;
    if (spec->len + overhead > (unsigned)mtu || n < 2)
        return 0;
    tx->gso_max = n < S_BATCH ? n : S_BATCH;
    tx->gso_buf = malloc((size_t)tx->gso_max * spec->len);
    if (!tx->gso_buf)
        return -ENOMEM;
    for (unsigned i = 0; i < tx->gso_max; i++)
        s_pattern((char *)tx->gso_buf + (size_t)i * spec->len + DP_DGRAM_HDR_LEN, fill_len);
    return 0;
}

static void s_tx_fini(s_tx_t *tx)
{
    free(tx->fill);
    free(tx->gso_buf);
}

/* Most datagrams one s_tx_send call takes. */
static unsigned s_tx_max(const s_tx_t *tx) { return tx->gso_buf ? tx->gso_max : S_BATCH; }

/* Sends n datagrams numbered from seq. Returns how many the kernel took, or -errno. */
static int s_tx_send(s_tx_t *tx, uint64_t seq, unsigned n, bool warm)
{
    for (unsigned i = 0; i < n; i++) {
        dp_dgram_t d = {.kind = DP_DGRAM_DATA,
                        .flags = warm ? DP_DGRAM_F_WARMUP : 0,
                        .seq = seq + i,
                        .tx_real_ns = clock_real_ns()};
        dp_dgram_put(tx->gso_buf ? tx->gso_buf + (size_t)i * tx->len : tx->hdr[i], &d);
    }
    if (!tx->gso_buf) {
        int k = sendmmsg(tx->fd, tx->msgs, n, 0);
        return k < 0 ? -errno : k;
    }
    char ctl[CMSG_SPACE(sizeof(uint16_t))] = {0};
    struct iovec iov = {.iov_base = tx->gso_buf, .iov_len = (size_t)n * tx->len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n > 1) {
        m.msg_control = ctl;
        m.msg_controllen = sizeof ctl;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t seg = (uint16_t)tx->len;
        memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
    if (sendmsg(tx->fd, &m, 0) >= 0)
        return (int)n;
    int e = errno;
    if (e == EINVAL || e == EIO || e == EOPNOTSUPP) { /* no UDP GSO on this path: plain sends from now on */
        free(tx->gso_buf);
        tx->gso_buf = NULL;
        return 0;
    }
    return -e;
}

int udpflow_send(const flow_t *flow, report_t *out)
{
    const test_spec_t *spec = flow->spec;
    int fd = flow->fds[0];
    s_tx_t tx;
    int rc = s_tx_init(&tx, fd, spec);
    if (rc < 0) {
        s_tx_fini(&tx);
        return rc;
    }
    if (spec->sndbuf)
        sock_set_buffers(fd, (int)spec->sndbuf, 0);
    /* Wake-ups as exact as the kernel allows: the default 50 us slack would make bursts. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

    int64_t start = flow_start_mono(flow);
    int64_t end = start + spec->duration_ns;
    int64_t warm_end = start + spec->omit_ns;
    int64_t real_minus_mono = clock_real_ns() - clock_mono_ns();
    pacer_t pacer = pacer_init(start, spec->len, spec->rate_bps);
    uint64_t seq = 0, sent = 0, omitted = 0, errors = 0;
    cpu_sample_t cpu0, cpu1;
    cpu_sample(&cpu0);
    bool go = flow_sleep_until(flow, start);
    int64_t began = go ? clock_mono_ns() : start; /* measured: the schedule plus wake-up lag */
    int64_t run0 = 0, wait0 = 0, run1 = 0, wait1 = 0;
    /* Backpressure: how often the kernel held half our send buffer in a queue below us. */
    uint64_t batches = 0, backlog_samples = 0, backlog_full = 0;
    int sndbuf = 0;
    getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &(socklen_t){sizeof sndbuf});
    int sched_ok = cpu_thread_sched(&run0, &wait0);
    int64_t first_real = 0, last_mono = start;
    ivclock_t clk;
    ivclock_start(&clk, start, spec->interval_ns);
    interval_t iv;
    unsigned refused = 0; /* consecutive sends the peer answered with ICMP port unreachable */
    for (;;) {
        if (!go || atomic_load(flow->stop))
            break;
        int64_t now = clock_mono_ns();
        while (ivclock_tick(&clk, now < end ? now : end, (sent + omitted) * spec->len, sent + omitted, 0, &iv))
            if (flow->on_interval)
                flow->on_interval(&iv, flow->cb_arg);
        if (now >= end)
            break;
        uint64_t due = pacer_due(&pacer, now + S_LOOKAHEAD_NS, s_tx_max(&tx));
        if (!due) {
            int64_t wake = pacer_next(&pacer), next = ivclock_next(&clk);
            if (wake > end)
                wake = end;
            if (next && wake > next)
                wake = next;
            if (wake - now > S_POLL_NS)
                wake = now + S_POLL_NS;
            clock_sleep_until_mono(wake);
            continue;
        }
        bool warm = now < warm_end;
        int n = s_tx_send(&tx, seq, (unsigned)due, warm);
        if (n < 0) {
            if (n == -EINTR)
                continue;
            /* Nobody listens there any more (or never did): do not go on sending at them. */
            if (n == -ECONNREFUSED && ++refused >= S_MAX_REFUSED) {
                rc = n;
                break;
            }
            if (n == -EAGAIN || n == -ENOBUFS || n == -ECONNREFUSED || n == -EHOSTUNREACH || n == -ENETUNREACH) {
                /* Counted and skipped: the schedule moves on, the test does not stall. */
                errors++;
                pacer_advance(&pacer, 1);
                continue;
            }
            rc = n;
            break;
        }
        refused = 0;
        if (!first_real && n > 0 && !warm)
            first_real = clock_real_ns(); /* the offered rate's span starts after the warm-up */
        seq += (uint64_t)n;
        if (warm)
            omitted += (uint64_t)n;
        else
            sent += (uint64_t)n;
        pacer_advance(&pacer, (uint64_t)n);
        last_mono = clock_mono_ns();
        if ((++batches & (S_BACKLOG_EVERY - 1)) == 0) {
            int queued = 0;
            if (ioctl(fd, SIOCOUTQ, &queued) == 0) {
                backlog_samples++;
                backlog_full += queued >= sndbuf / 2;
            }
        }
    }
    int64_t stop_at = clock_mono_ns();
    if (ivclock_final(&clk, stop_at < end ? stop_at : end, (sent + omitted) * spec->len, sent + omitted, 0, &iv) &&
        flow->on_interval)
        flow->on_interval(&iv, flow->cb_arg);
    cpu_sample(&cpu1);
    int64_t wall = clock_mono_ns() - start;
    if (sched_ok == 0 && cpu_thread_sched(&run1, &wait1) == 0 && wall > 0)
        out->tx_busy = (double)((run1 - run0) + (wait1 - wait0)) / (double)wall;
    if (backlog_samples)
        out->tx_backlog = (double)backlog_full / (double)backlog_samples;
    out->role = ROLE_SENDER;
    out->tx_packets = sent;
    out->tx_omitted = omitted;
    out->tx_bytes = sent * spec->len;
    out->tx_errors = errors;
    out->tx_start_real_ns = first_real ? first_real : start + real_minus_mono;
    out->data_start_real_ns = began + real_minus_mono;
    out->tx_end_real_ns = last_mono + real_minus_mono;
    cpu_diff(&cpu0, &cpu1, &out->cpu);
    s_tx_fini(&tx);
    return rc;
}

/* Receiver state shared by the batch handler. */
typedef struct {
    udpstats_t st;    /* accounting of measured datagrams */
    uint64_t omitted; /* warm-up datagrams received */
    uint64_t foreign; /* not ours */
    uint32_t ovfl;    /* highest SO_RXQ_OVFL count seen */
} s_rx_t;

static void s_rx_batch(s_rx_t *rx, struct mmsghdr *msgs, int n, uint8_t bufs[][S_RX_SNAP])
{
    int64_t user_real = clock_real_ns();
    for (int i = 0; i < n; i++) {
        dp_dgram_t d;
        size_t got = msgs[i].msg_len < S_RX_SNAP ? msgs[i].msg_len : S_RX_SNAP;
        tstamp_rx_t ts;
        tstamp_parse_rx(&msgs[i].msg_hdr, &ts);
        if (ts.have_ovfl && ts.ovfl > rx->ovfl)
            rx->ovfl = ts.ovfl;
        int ok = dp_dgram_parse(bufs[i], got, &d);
        if (ok == 0 && d.kind == DP_DGRAM_HELLO)
            continue; /* a setup hello that crossed READY: expected, not foreign */
        if (ok < 0 || d.kind != DP_DGRAM_DATA || msgs[i].msg_len < TEST_UDP_MIN_LEN) {
            rx->foreign++;
            continue;
        }
        if (d.flags & DP_DGRAM_F_WARMUP) {
            rx->omitted++;
            continue;
        }
        udpstats_add(&rx->st, d.seq, d.tx_real_ns, ts.rx_real_ns, user_real, msgs[i].msg_len);
    }
}

int udpflow_recv(const flow_t *flow, report_t *out)
{
    const test_spec_t *spec = flow->spec;
    int fd = flow->fds[0];
    int rc = 0;
    s_rx_t rx = {0};
    struct mmsghdr msgs[S_BATCH];
    struct iovec iov[S_BATCH];
    uint8_t(*bufs)[S_RX_SNAP] = calloc(S_BATCH, S_RX_SNAP);
    char(*ctl)[TSTAMP_CMSG_SPACE] = calloc(S_BATCH, TSTAMP_CMSG_SPACE);
    if (!bufs || !ctl || udpstats_init(&rx.st, spec->clock_known ? -spec->clock_offset_ns : 0) < 0) {
        rc = -ENOMEM;
        goto out;
    }
    sock_set_buffers(fd, 0, spec->rcvbuf ? (int)spec->rcvbuf : UDPFLOW_DEFAULT_RCVBUF);
    tstamp_enable(fd, false, true);
    cpu_sample_t cpu0, cpu1;
    cpu_sample(&cpu0);
    /* A scheduled start is not idleness: the idle clock starts with the data phase. */
    int64_t idle_from = flow_start_mono(flow), last_rx = 0, done_seen = 0;
    ivclock_t clk = {0};
    interval_t iv;
    for (;;) {
        if (atomic_load(flow->stop))
            break;
        for (int i = 0; i < S_BATCH; i++) {
            iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = S_RX_SNAP};
            msgs[i].msg_hdr = (struct msghdr){
                .msg_iov = &iov[i], .msg_iovlen = 1, .msg_control = ctl[i], .msg_controllen = TSTAMP_CMSG_SPACE};
            msgs[i].msg_len = 0;
        }
        /* MSG_TRUNC: the kernel reports each datagram's full length but copies only the header. */
        int n = recvmmsg(fd, msgs, S_BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
        int64_t now = clock_mono_ns();
        if (n > 0) {
            s_rx_batch(&rx, msgs, n, bufs);
            last_rx = now;
            if (!clk.base_ns && rx.st.unique)
                ivclock_start(&clk, now, spec->interval_ns);
        } else if (n < 0 && errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED) {
            rc = -errno; /* ECONNREFUSED: an ICMP error for an earlier send, not ours to fail on */
            break;
        }
        while (ivclock_tick(&clk, now, rx.st.bytes, rx.st.unique, udpstats_missing(&rx.st), &iv))
            if (flow->on_interval)
                flow->on_interval(&iv, flow->cb_arg);
        if (n > 0)
            continue;
        if (flow->peer_done && atomic_load(flow->peer_done)) {
            if (!done_seen)
                done_seen = now;
            uint64_t expect = atomic_load(flow->peer_tx_packets);
            int64_t quiet_since = last_rx > done_seen ? last_rx : done_seen;
            if (rx.st.unique >= expect || now - quiet_since >= FLOW_DRAIN_SILENCE_NS)
                break;
        } else if (now - (last_rx ? last_rx : idle_from) > FLOW_IDLE_LIMIT_NS + (last_rx ? 0 : spec->duration_ns)) {
            rc = -ETIMEDOUT;
            break;
        }
        int64_t wait = S_POLL_NS, next = ivclock_next(&clk);
        if (next && next - now < wait)
            wait = next - now;
        sock_wait(fd, POLLIN, wait > 0 ? wait : 0);
    }
    if (ivclock_final(&clk, last_rx ? last_rx : clock_mono_ns(), rx.st.bytes, rx.st.unique, udpstats_missing(&rx.st),
                      &iv) &&
        flow->on_interval)
        flow->on_interval(&iv, flow->cb_arg);
    cpu_sample(&cpu1);
    int64_t drops = tstamp_socket_drops(fd);
    tstamp_source_t src;
    const udpstats_timing_t *tm = udpstats_timing(&rx.st, &src);
    out->role = ROLE_RECEIVER;
    out->rx_packets = rx.st.unique;
    out->rx_bytes = tm->bytes;
    out->rx_bytes_total = rx.st.bytes + rx.omitted * spec->len;
    out->rx_start_real_ns = tm->first_rx_ns;
    out->data_start_real_ns = rx.st.user.first_rx_ns;
    out->rx_end_real_ns = tm->last_rx_ns;
    out->rx_duplicates = rx.st.duplicates;
    out->rx_reordered = rx.st.reordered;
    out->rx_too_old = rx.st.too_old;
    out->rx_foreign = rx.foreign;
    out->rx_omitted = rx.omitted;
    out->socket_drops = drops >= 0 ? (drops > rx.ovfl ? drops : rx.ovfl) : (rx.ovfl ? (int64_t)rx.ovfl : -1);
    out->jitter_ns = tm->jitter_ns;
    out->stamp_source = (uint8_t)src;
    out->stamps_missing = rx.st.unique - rx.st.kernel.count;
    if (out->owd)
        hist_merge(out->owd, tm->owd);
    cpu_diff(&cpu0, &cpu1, &out->cpu);
out:
    udpstats_fini(&rx.st);
    free(bufs);
    free(ctl);
    return rc;
}
