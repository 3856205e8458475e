/* rr.c — request/response requester and reflector; see rr.h. */
#include "rr.h"

#include "dpwire.h"
#include "sockutil.h"
#include "tstamp.h"
#include "vmtp/clock.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>

#define S_RING (1u << 16) /* reflector: replies awaiting their TX stamp */
#define S_RING_MIN 1024   /* requester: requests in flight or awaiting their turnaround, at least */
#define S_PENDING 256     /* reflector: turnarounds measured but not yet sent back */
#define S_MAX_FLUSH 8     /* FLUSH requests sent at the end to fetch pending turnarounds */
#define S_POLL_NS (50 * VMTP_NS_PER_MS)
#define S_FLUSH_WAIT_NS (200 * VMTP_NS_PER_MS)
#define S_RCVTIMEO_NS (20 * VMTP_NS_PER_MS) /* blocking receives wake this often to check stop */

/* ---- message I/O shared by both ends ------------------------------------------------------ */

/* Receive side of one socket: UDP messages are datagrams, TCP messages are len-byte records. */
typedef struct {
    int fd;              /* not owned */
    bool tcp;            /* stream framing */
    uint32_t len;        /* message size */
    uint8_t *buf;        /* len bytes (owned) */
    uint32_t have;       /* TCP: bytes of the current message received so far */
    int64_t rx_real;     /* kernel RX stamp of the last completed message (0 = none) */
    int64_t rx_mono;     /* user-space arrival of the last completed message */
    tstamp_source_t src; /* source of rx_real */
    bool eof;            /* TCP peer closed */
} s_io_t;

/* Sends one message of io->len bytes whose first bytes are hdr. Returns 0 or -errno. */
static int s_send(s_io_t *io, uint8_t *out, const dp_dgram_t *hdr)
{
    dp_dgram_put(out, hdr);
    if (!io->tcp) {
        for (;;) {
            if (send(io->fd, out, io->len, 0) >= 0)
                return 0;
            if (errno != EINTR)
                return -errno;
        }
    }
    size_t done = 0;
    while (done < io->len) {
        ssize_t n = send(io->fd, out + done, io->len - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd p = {.fd = io->fd, .events = POLLOUT};
                poll(&p, 1, 100);
                continue;
            }
            return -errno;
        }
        done += (size_t)n;
    }
    return 0;
}

/* Tries to complete one message. With block, waits in recvmsg up to the socket's receive
 * timeout (S_RCVTIMEO_NS); without, returns at once. Returns 1 when io->buf holds one (with its
 * stamps), 0 when nothing complete is there yet, -errno on error. */
static int s_recv(s_io_t *io, bool block)
{
    for (;;) {
        char ctl[TSTAMP_CMSG_SPACE];
        struct iovec iov = {.iov_base = io->buf + io->have, .iov_len = io->len - io->have};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
        ssize_t n = recvmsg(io->fd, &msg, block ? 0 : MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || (!io->tcp && errno == ECONNREFUSED))
                return 0;
            return -errno;
        }
        if (n == 0 && io->tcp) {
            io->eof = true;
            return 0;
        }
        tstamp_rx_t ts;
        tstamp_parse_rx(&msg, &ts);
        if (ts.rx_real_ns) {
            io->rx_real = ts.rx_real_ns;
            io->src = ts.source;
        } else if (!io->tcp || !io->have) {
            io->rx_real = 0;
        }
        if (!io->tcp) {
            if ((size_t)n < DP_RR_HDR_LEN)
                continue; /* too short to be ours: dropped */
            io->rx_mono = clock_mono_ns();
            return 1;
        }
        io->have += (uint32_t)n;
        if (io->have == io->len) {
            io->have = 0;
            io->rx_mono = clock_mono_ns();
            return 1;
        }
        block = false; /* part of a message: the rest is already on its way */
    }
}

static void s_set_rcvtimeo(int fd)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = (suseconds_t)(S_RCVTIMEO_NS / 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* Message index of a TX stamp key, given that `sent` messages have been sent, or -1 when the key
 * fits none. Keys are 32 bits and wrap (UDP after 2^32 sends, TCP after 4 GiB): the index is the
 * latest one consistent with the key. UDP keys count sends; TCP keys are the offset of a send's
 * last byte from byte 0 of the messages (stamping is switched on with nothing unsent or
 * unacknowledged, so the kernel's key base is 0), so a key that does not end a message is no one's. */
static int64_t s_key_index(const s_io_t *io, uint32_t key, uint64_t sent)
{
    if (!sent)
        return -1;
    if (!io->tcp)
        return (int64_t)((sent - 1) - (uint32_t)((uint32_t)(sent - 1) - key));
    uint64_t total = sent * io->len;
    uint64_t end = total - (uint32_t)((uint32_t)total - (key + 1u)); /* latest offset == key + 1 mod 2^32 */
    if (end == 0 || end % io->len)
        return -1;
    return (int64_t)(end / io->len) - 1;
}

/* Switches TX and RX stamping on. TCP keys count bytes from what is unacknowledged at that
 * moment: wait (briefly) until everything sent before (the data connection's hello) is
 * acknowledged, so that byte 0 of the messages is key 0 on every kernel. */
static void s_stamps_on(const s_io_t *io)
{
    for (int i = 0; io->tcp && i < 100; i++) {
        int outq = 0;
        if (ioctl(io->fd, SIOCOUTQ, &outq) < 0 || outq == 0)
            break;
        clock_sleep_until_mono(clock_mono_ns() + VMTP_NS_PER_MS);
    }
    tstamp_enable(io->fd, true, true);
}

/* ---- requester ---------------------------------------------------------------------------- */

enum { S_FREE = 0, S_SENT, S_REPLIED, S_LOST };

typedef struct {
    uint64_t seq;        /* request number */
    uint8_t state;       /* S_* */
    int64_t tx_mono;     /* user-space send */
    int64_t rx_mono;     /* user-space receive */
    int64_t tx_kernel;   /* kernel TX stamp (0 = none yet) */
    int64_t rx_kernel;   /* kernel RX stamp (0 = none) */
    int64_t turn_kernel; /* reflector's kernel turnaround (-1 = none yet) */
    int64_t srv_rx;      /* reflector's kernel RX stamp of this request, its clock (0 = none) */
} s_probe_t;

typedef struct {
    s_io_t io;           /* socket */
    uint8_t *obuf;       /* outgoing message (owned) */
    s_probe_t *ring;     /* ring_n probes (owned) */
    uint64_t ring_n;     /* probes the ring holds: all that can be in flight within the timeout */
    report_t *out;       /* not owned */
    const flow_t *flow;  /* not owned */
    int64_t behind_max;  /* isochronous: latest a request left after its scheduled time */
    uint64_t next;       /* next request number */
    uint64_t sent;       /* messages sent (requests and FLUSHes): the TX stamp key space */
    uint64_t paths;      /* samples that went into rtt_path */
    int64_t best_delay;  /* clock: smallest path RTT of a fully stamped exchange (-1 = none) */
    int64_t best_offset; /* clock: reflector clock minus ours, from that exchange */
    tstamp_source_t src; /* best kernel stamp source seen */
} s_client_t;

static s_probe_t *s_probe(s_client_t *c, uint64_t seq)
{
    s_probe_t *p = &c->ring[seq % c->ring_n];
    return p->state != S_FREE && p->seq == seq ? p : NULL;
}

/* Moves a finished probe into the histograms and frees its slot. */
static void s_finalize(s_client_t *c, s_probe_t *p)
{
    report_t *o = c->out;
    if (p->state == S_REPLIED) {
        hist_record(o->rtt_user, p->rx_mono - p->tx_mono);
        if (p->tx_kernel && p->rx_kernel) {
            int64_t k = p->rx_kernel - p->tx_kernel;
            hist_record(o->rtt_kernel, k);
            if (p->turn_kernel >= 0) {
                int64_t path = k - p->turn_kernel;
                hist_record(o->rtt_path, path);
                c->paths++;
                /* NTP's four stamps: t1 our TX, t2 its RX, t3 = t2 + turnaround its TX, t4 our
                 * RX. The exchange with the smallest path RTT bounds the offset best. */
                if (p->srv_rx && (c->best_delay < 0 || path < c->best_delay)) {
                    int64_t t1 = p->tx_kernel, t2 = p->srv_rx, t3 = p->srv_rx + p->turn_kernel, t4 = p->rx_kernel;
                    c->best_delay = path;
                    c->best_offset = ((t2 - t1) + (t3 - t4)) / 2;
                }
                o->clock_samples++;
            } else {
                o->stamps_missing++;
            }
        } else {
            o->stamps_missing++;
        }
    }
    p->state = S_FREE;
}

/* Reads TX stamps until the one of request `upto` (or the queue is empty), so that the
 * common case costs one recvmsg. */
static void s_take_tx(s_client_t *c, uint64_t upto)
{
    tstamp_tx_t t;
    while (tstamp_read_tx(c->io.fd, &t) > 0) {
        if (t.type != SCM_TSTAMP_SND)
            continue;
        int64_t idx = s_key_index(&c->io, t.key, c->sent);
        if (idx < 0)
            continue;
        s_probe_t *p = s_probe(c, (uint64_t)idx);
        if (p && !p->tx_kernel) {
            p->tx_kernel = t.tx_real_ns;
            if (t.source > c->src)
                c->src = t.source;
        }
        if ((uint64_t)idx >= upto)
            break;
    }
}

/* Accounts one reply held in c->io.buf. Returns true when it answered request `want`. */
static bool s_on_reply(s_client_t *c, uint64_t want, uint64_t flush_seq, bool *flush_seen)
{
    dp_dgram_t d;
    if (dp_dgram_parse(c->io.buf, c->io.len, &d) < 0 || d.kind != DP_DGRAM_RR_REP)
        return false;
    if (d.turn_kernel_ns != DP_TURN_NONE) {
        s_probe_t *t = s_probe(c, d.turn_seq);
        if (t)
            t->turn_kernel = d.turn_kernel_ns;
    }
    if (d.seq == flush_seq) {
        *flush_seen = true;
        return false;
    }
    s_probe_t *p = s_probe(c, d.seq);
    if (!p || p->state == S_LOST) {
        c->out->rr_late++; /* after its timeout (or so late its slot was reused) */
        return false;
    }
    if (p->state != S_SENT)
        return false; /* duplicate reply */
    p->state = S_REPLIED;
    p->rx_mono = c->io.rx_mono;
    p->rx_kernel = c->io.rx_real;
    p->srv_rx = d.tx_real_ns; /* a reply's stamp field is the reflector's RX stamp of the request */
    if (c->io.rx_real && c->io.src > c->src)
        c->src = c->io.src;
    c->out->rr_received++;
    return d.seq == want;
}

static int s_send_probe(s_client_t *c, uint64_t seq, uint8_t kind)
{
    if (kind == DP_DGRAM_RR_REQ) {
        s_probe_t *p = &c->ring[seq % c->ring_n];
        if (p->state != S_FREE)
            s_finalize(c, p);
        *p = (s_probe_t){.seq = seq, .state = S_SENT, .turn_kernel = -1};
        p->tx_mono = clock_mono_ns();
    }
    dp_dgram_t d = {.kind = kind,
                    .seq = seq,
                    .tx_real_ns = clock_real_ns(),
                    .turn_user_ns = DP_TURN_NONE,
                    .turn_kernel_ns = DP_TURN_NONE};
    int rc = s_send(&c->io, c->obuf, &d);
    if (rc == 0)
        c->sent++; /* every message, FLUSH included, takes a TX stamp key */
    return rc;
}

static bool s_more(const s_client_t *c, int64_t now, int64_t end)
{
    const test_spec_t *t = c->flow->spec;
    return t->rr_count ? c->next < t->rr_count : now < end;
}

/* Ping-pong: one request in flight; wait for its reply (blocking) or its timeout. */
static int s_pingpong(s_client_t *c, int64_t end)
{
    const test_spec_t *t = c->flow->spec;
    bool dummy = false;
    while (!atomic_load(c->flow->stop) && s_more(c, clock_mono_ns(), end)) {
        uint64_t seq = c->next++;
        int rc = s_send_probe(c, seq, DP_DGRAM_RR_REQ);
        if (rc < 0)
            return rc;
        c->out->rr_sent++;
        int64_t give_up = clock_mono_ns() + t->rr_timeout_ns;
        bool answered = false;
        while (!answered) {
            rc = s_recv(&c->io, true);
            if (rc < 0)
                return rc;
            if (c->io.eof)
                return -ECONNRESET;
            if (rc > 0) {
                answered = s_on_reply(c, seq, UINT64_MAX, &dummy);
                continue;
            }
            if (atomic_load(c->flow->stop))
                return -ECANCELED;
            if (clock_mono_ns() >= give_up) {
                s_probe_t *p = s_probe(c, seq);
                if (p)
                    p->state = S_LOST;
                break;
            }
        }
        s_take_tx(c, seq);
    }
    return atomic_load(c->flow->stop) ? -ECANCELED : 0;
}

/* Isochronous: requests leave at start + k * interval whatever the replies do. */
static int s_isochronous(s_client_t *c, int64_t start, int64_t end)
{
    const test_spec_t *t = c->flow->spec;
    uint64_t oldest = 0; /* oldest request possibly still outstanding */
    bool dummy = false;
    for (;;) {
        if (atomic_load(c->flow->stop))
            return -ECANCELED;
        int64_t now = clock_mono_ns();
        for (; oldest < c->next; oldest++) {
            s_probe_t *p = s_probe(c, oldest);
            if (p && p->state == S_SENT) {
                if (now - p->tx_mono < t->rr_timeout_ns)
                    break;
                p->state = S_LOST;
            }
        }
        bool more = s_more(c, now, end);
        if (!more && oldest >= c->next)
            return 0;
        int64_t due = start + (int64_t)c->next * t->rr_interval_ns;
        if (more && now >= due) {
            /* Replies first: a requester that only sends while it catches up on its schedule
             * would let them overflow its own socket and count that as the path's loss. */
            int rc;
            while ((rc = s_recv(&c->io, false)) > 0)
                s_on_reply(c, UINT64_MAX, UINT64_MAX, &dummy);
            if (rc < 0)
                return rc;
            if (now - due > c->behind_max)
                c->behind_max = now - due;
            rc = s_send_probe(c, c->next, DP_DGRAM_RR_REQ);
            if (rc < 0)
                return rc;
            c->out->rr_sent++;
            c->next++;
            continue;
        }
        int64_t wake = now + S_POLL_NS;
        if (more && due < wake)
            wake = due;
        int rc = sock_wait(c->io.fd, POLLIN, wake - now);
        if (rc < 0)
            return rc;
        while ((rc = s_recv(&c->io, false)) > 0)
            s_on_reply(c, UINT64_MAX, UINT64_MAX, &dummy);
        if (rc < 0)
            return rc;
        if (c->io.eof)
            return -ECONNRESET;
        s_take_tx(c, UINT64_MAX);
    }
}

/* Replies still waiting for their reflector turnaround. */
static uint64_t s_turns_missing(const s_client_t *c)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < c->ring_n; i++)
        n += c->ring[i].state == S_REPLIED && c->ring[i].turn_kernel < 0 && c->ring[i].rx_kernel;
    return n;
}

/* The reflector sends each kernel turnaround with a later reply; FLUSH requests, not measured,
 * fetch the ones still pending at the end (one per FLUSH). */
static void s_flush(s_client_t *c)
{
    for (unsigned k = 0; k < S_MAX_FLUSH && s_turns_missing(c); k++) {
        bool flushed = false;
        uint64_t fseq = c->next + k;
        if (s_send_probe(c, fseq, DP_DGRAM_RR_FLUSH) < 0)
            return;
        int64_t give_up = clock_mono_ns() + S_FLUSH_WAIT_NS;
        while (!flushed && clock_mono_ns() < give_up && !atomic_load(c->flow->stop)) {
            int rc = s_recv(&c->io, true);
            if (rc < 0 || c->io.eof)
                return;
            if (rc > 0)
                s_on_reply(c, UINT64_MAX, fseq, &flushed);
        }
        s_take_tx(c, UINT64_MAX);
        if (!flushed)
            return;
    }
}

int rr_client_run(const flow_t *flow, bool tcp, report_t *out)
{
    const test_spec_t *spec = flow->spec;
    int rc = 0;
    s_client_t c = {
        .io = {.fd = flow->fds[0], .tcp = tcp, .len = spec->len}, .out = out, .flow = flow, .best_delay = -1};
    c.obuf = calloc(1, spec->len);
    c.io.buf = calloc(1, spec->len);
    /* Room for every request that can be in flight within the timeout (isochronous), so a slot
     * is never reused while its request may still be answered. */
    uint64_t need = S_RING_MIN;
    if (spec->rr_mode == RR_MODE_ISOCHRONOUS && spec->rr_interval_ns > 0)
        need = (uint64_t)(spec->rr_timeout_ns / spec->rr_interval_ns) + 2 * S_RING_MIN;
    for (c.ring_n = S_RING_MIN; c.ring_n < need;)
        c.ring_n *= 2;
    c.ring = calloc(c.ring_n, sizeof *c.ring);
    if (!c.obuf || !c.io.buf || !c.ring || !out->rtt_user || !out->rtt_kernel || !out->rtt_path) {
        rc = -ENOMEM;
        goto out;
    }
    s_stamps_on(&c.io);
    s_set_rcvtimeo(c.io.fd);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    cpu_sample_t cpu0, cpu1;
    cpu_sample(&cpu0);
    int64_t start = flow_start_mono(flow);
    int64_t end = start + spec->duration_ns;
    int64_t began = 0; /* when the first request actually went: the scheduled start plus wake-up lag */
    if (!flow_sleep_until(flow, start))
        rc = -ECANCELED;
    else {
        began = clock_mono_ns();
        rc = spec->rr_mode == RR_MODE_ISOCHRONOUS ? s_isochronous(&c, start, end) : s_pingpong(&c, end);
    }
    if (rc == 0 && out->rr_received)
        s_flush(&c);
    cpu_sample(&cpu1);
    for (uint64_t i = 0; i < c.ring_n; i++)
        if (c.ring[i].state != S_FREE)
            s_finalize(&c, &c.ring[i]);
    out->rr_behind_max_ns = c.behind_max;
    out->clock_offset_ns = c.best_offset;
    out->clock_bound_ns = c.best_delay >= 0 ? (c.best_delay + 1) / 2 : -1;
    out->data_start_real_ns = (began ? began : start) + (clock_real_ns() - clock_mono_ns());
    out->socket_drops = tstamp_socket_drops(c.io.fd);
    out->role = ROLE_RR_CLIENT;
    bool kernel = out->rr_received && (double)c.paths >= RR_KERNEL_MIN_SHARE * (double)out->rr_received;
    out->stamp_source = (uint8_t)(kernel ? (c.src ? c.src : TSTAMP_SOURCE_KERNEL) : TSTAMP_SOURCE_USER);
    cpu_diff(&cpu0, &cpu1, &out->cpu);
out:
    free(c.obuf);
    free(c.io.buf);
    free(c.ring);
    return rc;
}

/* ---- reflector ---------------------------------------------------------------------------- */

typedef struct {
    uint64_t seq;      /* request this reply answered */
    int64_t rx_kernel; /* kernel RX stamp of the request (0 = none) */
    bool used;         /* slot holds a reply awaiting its TX stamp */
    bool measured;     /* a measured request (not a FLUSH) */
} s_sent_t;

typedef struct {
    s_io_t io;                     /* socket */
    s_sent_t *sent;                /* S_RING replies awaiting their TX stamp (owned) */
    uint64_t nsent;                /* replies sent (UDP key space) */
    uint64_t pend_seq[S_PENDING];  /* measured turnarounds not yet sent to the requester: request */
    uint32_t pend_turn[S_PENDING]; /* ... and turnaround, oldest first (a ring) */
    unsigned pend_head;            /* oldest pending entry */
    unsigned pend_n;               /* entries pending */
    uint64_t kernel_turns;         /* turnarounds measured */
    report_t *out;                 /* not owned */
} s_reflector_t;

/* Reads TX stamps up to the one of the latest reply; each completes a kernel turnaround. */
static void s_reflector_take_tx(s_reflector_t *r)
{
    tstamp_tx_t t;
    while (tstamp_read_tx(r->io.fd, &t) > 0) {
        if (t.type != SCM_TSTAMP_SND)
            continue;
        int64_t k = s_key_index(&r->io, t.key, r->nsent);
        if (k < 0)
            continue;
        uint64_t idx = (uint64_t)k;
        s_sent_t *s = &r->sent[idx % S_RING];
        bool latest = idx + 1 >= r->nsent;
        if (s->used && r->nsent - idx <= S_RING) {
            s->used = false;
            int64_t turn = t.tx_real_ns - s->rx_kernel;
            if (s->rx_kernel && turn >= 0 && turn < DP_TURN_NONE) {
                if (s->measured) {
                    hist_record(r->out->turn_kernel, turn);
                    r->kernel_turns++;
                }
                if (r->pend_n == S_PENDING) { /* requester far behind: drop the oldest */
                    r->pend_head = (r->pend_head + 1) % S_PENDING;
                    r->pend_n--;
                }
                unsigned at = (r->pend_head + r->pend_n++) % S_PENDING;
                r->pend_seq[at] = s->seq;
                r->pend_turn[at] = (uint32_t)turn;
                if (t.source > r->out->stamp_source)
                    r->out->stamp_source = (uint8_t)t.source;
            }
        }
        if (latest)
            break;
    }
}

int rr_reflect_run(const flow_t *flow, bool tcp, report_t *out)
{
    const test_spec_t *spec = flow->spec;
    int rc = 0;
    s_reflector_t r = {.io = {.fd = flow->fds[0], .tcp = tcp, .len = spec->len}, .out = out};
    r.io.buf = calloc(1, spec->len);
    uint8_t *obuf = calloc(1, spec->len);
    r.sent = calloc(S_RING, sizeof *r.sent);
    if (!r.io.buf || !obuf || !r.sent || !out->turn_kernel || !out->turn_user) {
        rc = -ENOMEM;
        goto out;
    }
    s_stamps_on(&r.io);
    s_set_rcvtimeo(r.io.fd);
    cpu_sample_t cpu0, cpu1;
    cpu_sample(&cpu0);
    /* A requester that stops asking does not hold the reflector (and a server session) forever. */
    int64_t last_req = flow_start_mono(flow);
    out->data_start_real_ns = last_req + (clock_real_ns() - clock_mono_ns());
    while (!atomic_load(flow->stop) && !r.io.eof) {
        int got = s_recv(&r.io, true);
        if (got < 0) {
            rc = got == -ECONNRESET ? 0 : got;
            break;
        }
        if (got == 0) {
            if (clock_mono_ns() - last_req > FLOW_IDLE_LIMIT_NS) {
                rc = -ETIMEDOUT;
                break;
            }
            continue;
        }
        last_req = clock_mono_ns();
        dp_dgram_t req = {0};
        if (dp_dgram_parse(r.io.buf, r.io.len, &req) < 0 ||
            (req.kind != DP_DGRAM_RR_REQ && req.kind != DP_DGRAM_RR_FLUSH)) {
            if (req.kind != DP_DGRAM_HELLO) /* late setup hellos are expected, not foreign */
                out->rx_foreign++;
            continue;
        }
        bool measured = req.kind == DP_DGRAM_RR_REQ;
        r.sent[r.nsent % S_RING] =
            (s_sent_t){.seq = req.seq, .rx_kernel = r.io.rx_real, .used = true, .measured = measured};
        /* Each reply carries the oldest turnaround the requester has not had yet. */
        dp_dgram_t rep = {.kind = DP_DGRAM_RR_REP,
                          .seq = req.seq,
                          .tx_real_ns = r.io.rx_real, /* our kernel RX stamp of the request (clock offset) */
                          .turn_kernel_ns = DP_TURN_NONE};
        if (r.pend_n) {
            rep.turn_seq = r.pend_seq[r.pend_head];
            rep.turn_kernel_ns = r.pend_turn[r.pend_head];
            r.pend_head = (r.pend_head + 1) % S_PENDING;
            r.pend_n--;
        }
        int64_t turn_user = clock_mono_ns() - r.io.rx_mono;
        rep.turn_user_ns = turn_user >= 0 && turn_user < DP_TURN_NONE ? (uint32_t)turn_user : DP_TURN_NONE;
        rc = s_send(&r.io, obuf, &rep);
        if (rc < 0) {
            if (!tcp && (rc == -ECONNREFUSED || rc == -ENOBUFS)) {
                rc = 0;
                continue;
            }
            break;
        }
        r.nsent++;
        if (measured) {
            out->reflected++;
            hist_record(out->turn_user, turn_user);
        }
        s_reflector_take_tx(&r);
    }
    cpu_sample(&cpu1);
    out->socket_drops = tstamp_socket_drops(r.io.fd);
    out->role = ROLE_REFLECTOR;
    if (!r.kernel_turns)
        out->stamp_source = (uint8_t)TSTAMP_SOURCE_USER;
    cpu_diff(&cpu0, &cpu1, &out->cpu);
out:
    free(r.io.buf);
    free(obuf);
    free(r.sent);
    return rc;
}
