/* rr.c — request/response requester and reflector; see rr.h. */
#include "rr.h"

#include "dpwire.h"
#include "sockutil.h"
#include "tstamp.h"
#include "vmtp/clock.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#define S_RING (1u << 16) /* requests in flight or awaiting their turnaround */
#define S_POLL_NS (50 * VMTP_NS_PER_MS)
#define S_FLUSH_WAIT_NS (200 * VMTP_NS_PER_MS)

/* ---- message I/O shared by both ends ------------------------------------------------------ */

/* Receive side of one socket: UDP messages are datagrams, TCP messages are len-byte records. */
typedef struct {
    int fd;           /* not owned */
    bool tcp;         /* stream framing */
    uint32_t len;     /* message size */
    uint8_t *buf;     /* len bytes (owned) */
    uint32_t have;    /* TCP: bytes of the current message received so far */
    int64_t rx_real;  /* kernel RX stamp of the last completed message (0 = none) */
    int64_t rx_mono;  /* user-space arrival of the last completed message */
    tstamp_source_t src; /* source of rx_real */
    bool eof;         /* TCP peer closed */
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

/* Tries to complete one message without blocking. Returns 1 when io->buf holds one (with its
 * stamps), 0 when nothing complete is there yet, -errno on error. */
static int s_recv(s_io_t *io)
{
    for (;;) {
        char ctl[TSTAMP_CMSG_SPACE];
        struct iovec iov = {.iov_base = io->buf + io->have, .iov_len = io->len - io->have};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
        ssize_t n = recvmsg(io->fd, &msg, MSG_DONTWAIT);
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
    }
}

/* Message index of a TX stamp key: UDP keys count sends, TCP keys count bytes. */
static uint64_t s_key_to_index(const s_io_t *io, int64_t key_base, uint32_t key)
{
    if (!io->tcp)
        return key;
    return (uint64_t)(((int64_t)key - key_base + 1) / io->len) - 1;
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
    int64_t turn_user;   /* reflector's user turnaround (-1 = unknown) */
} s_probe_t;

typedef struct {
    s_io_t io;            /* socket */
    s_probe_t *ring;      /* S_RING probes (owned) */
    report_t *out;        /* not owned */
    int64_t key_base;     /* TCP: key of byte 0 (learnt from the first stamp) */
    bool have_key_base;   /* key_base is set */
    uint64_t paths;       /* samples that went into rtt_path */
    tstamp_source_t src;  /* best kernel stamp source seen */
} s_client_t;

static s_probe_t *s_probe(s_client_t *c, uint64_t seq)
{
    s_probe_t *p = &c->ring[seq % S_RING];
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
                hist_record(o->rtt_path, k - p->turn_kernel);
                c->paths++;
            } else {
                o->stamps_missing++;
            }
        } else {
            o->stamps_missing++;
        }
    }
    p->state = S_FREE;
}

static void s_drain_tx(s_client_t *c)
{
    tstamp_tx_t t;
    while (tstamp_read_tx(c->io.fd, &t) > 0) {
        if (t.type != SCM_TSTAMP_SND)
            continue;
        if (c->io.tcp && !c->have_key_base) {
            c->key_base = (int64_t)t.key - (int64_t)(c->io.len - 1);
            c->have_key_base = true;
        }
        s_probe_t *p = s_probe(c, s_key_to_index(&c->io, c->key_base, t.key));
        if (p && !p->tx_kernel) {
            p->tx_kernel = t.tx_real_ns;
            if (t.source > c->src)
                c->src = t.source;
        }
    }
}

/* Handles every reply that is complete. Returns the number of replies matched, or -errno. */
static int s_take_replies(s_client_t *c, uint64_t flush_seq, bool *flush_seen)
{
    int matched = 0;
    for (;;) {
        int rc = s_recv(&c->io);
        if (rc <= 0)
            return rc < 0 ? rc : matched;
        dp_dgram_t d;
        if (dp_dgram_parse(c->io.buf, c->io.len, &d) < 0 || d.kind != DP_DGRAM_RR_REP)
            continue;
        if (d.turn_kernel_ns != DP_TURN_NONE) {
            s_probe_t *t = s_probe(c, d.turn_seq);
            if (t)
                t->turn_kernel = d.turn_kernel_ns;
        }
        if (d.seq == flush_seq) {
            *flush_seen = true;
            continue;
        }
        s_probe_t *p = s_probe(c, d.seq);
        if (!p) {
            c->out->rr_late++; /* slot already reused: far too late */
            continue;
        }
        if (p->state == S_LOST) {
            c->out->rr_late++;
            continue;
        }
        if (p->state != S_SENT)
            continue; /* duplicate reply */
        p->state = S_REPLIED;
        p->rx_mono = c->io.rx_mono;
        p->rx_kernel = c->io.rx_real;
        p->turn_user = d.turn_user_ns == DP_TURN_NONE ? -1 : (int64_t)d.turn_user_ns;
        if (c->io.rx_real && c->io.src > c->src)
            c->src = c->io.src;
        c->out->rr_received++;
        matched++;
    }
}

static int s_send_probe(s_client_t *c, uint8_t *obuf, uint64_t seq, uint8_t kind)
{
    if (kind == DP_DGRAM_RR_REQ) {
        s_probe_t *p = &c->ring[seq % S_RING];
        if (p->state != S_FREE)
            s_finalize(c, p);
        *p = (s_probe_t){.seq = seq, .state = S_SENT, .turn_kernel = -1, .turn_user = -1};
        p->tx_mono = clock_mono_ns();
    }
    dp_dgram_t d = {.kind = kind, .seq = seq, .tx_real_ns = clock_real_ns(), .turn_user_ns = DP_TURN_NONE,
                    .turn_kernel_ns = DP_TURN_NONE};
    return s_send(&c->io, obuf, &d);
}

int rr_client_run(const flow_t *flow, bool tcp, report_t *out)
{
    const test_spec_t *spec = flow->spec;
    int rc = 0;
    s_client_t c = {.io = {.fd = flow->fds[0], .tcp = tcp, .len = spec->len}, .out = out};
    uint8_t *obuf = calloc(1, spec->len);
    c.io.buf = calloc(1, spec->len);
    c.ring = calloc(S_RING, sizeof *c.ring);
    if (!obuf || !c.io.buf || !c.ring || !out->rtt_user || !out->rtt_kernel || !out->rtt_path) {
        rc = -ENOMEM;
        goto out;
    }
    tstamp_enable(c.io.fd, true, true);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    cpu_sample_t cpu0, cpu1;
    cpu_sample(&cpu0);
    int64_t start = flow->start_mono_ns ? flow->start_mono_ns : clock_mono_ns();
    int64_t end = spec->rr_count ? INT64_MAX : start + spec->duration_ns;
    bool iso = spec->rr_mode == RR_MODE_ISOCHRONOUS;
    clock_sleep_until_mono(start);
    uint64_t next = 0;              /* next request number */
    int64_t wait_until = 0;         /* ping-pong: give up on request next-1 at this time */
    uint64_t oldest = 0;            /* iso: oldest request possibly still outstanding */
    bool dummy = false;
    for (;;) {
        if (atomic_load(flow->stop)) {
            rc = -ECANCELED;
            break;
        }
        int64_t now = clock_mono_ns();
        bool more = spec->rr_count ? next < spec->rr_count : now < end;
        /* Time out what waited too long. */
        if (!iso && next && wait_until && now >= wait_until) {
            s_probe_t *p = s_probe(&c, next - 1);
            if (p && p->state == S_SENT)
                p->state = S_LOST;
            wait_until = 0;
        }
        for (; iso && oldest < next; oldest++) {
            s_probe_t *p = s_probe(&c, oldest);
            if (p && p->state == S_SENT) {
                if (now - p->tx_mono < spec->rr_timeout_ns)
                    break;
                p->state = S_LOST;
            }
        }
        bool outstanding = iso ? oldest < next : wait_until != 0;
        if (!more && !outstanding)
            break;
        int64_t due = iso ? start + (int64_t)next * spec->rr_interval_ns : now;
        if (more && (iso ? now >= due : !outstanding)) {
            rc = s_send_probe(&c, obuf, next, DP_DGRAM_RR_REQ);
            if (rc < 0)
                break;
            out->rr_sent++;
            next++;
            if (!iso)
                wait_until = clock_mono_ns() + spec->rr_timeout_ns;
            s_drain_tx(&c);
            continue;
        }
        int64_t wake = now + S_POLL_NS;
        if (more && iso && due < wake)
            wake = due;
        if (!iso && wait_until && wait_until < wake)
            wake = wait_until;
        rc = sock_wait(c.io.fd, POLLIN, wake - now);
        if (rc < 0)
            break;
        rc = 0;
        int got = s_take_replies(&c, UINT64_MAX, &dummy);
        if (got < 0) {
            rc = got;
            break;
        }
        if (!iso && got > 0) {
            s_probe_t *q = s_probe(&c, next - 1);
            if (!q || q->state != S_SENT)
                wait_until = 0;
        }
        s_drain_tx(&c);
        if (c.io.eof) {
            rc = -ECONNRESET;
            break;
        }
    }
    /* Fetch the last turnaround: a FLUSH request makes the reflector send it. */
    if (rc == 0 && out->rr_received) {
        bool flushed = false;
        uint64_t fseq = next;
        if (s_send_probe(&c, obuf, fseq, DP_DGRAM_RR_FLUSH) == 0) {
            int64_t give_up = clock_mono_ns() + S_FLUSH_WAIT_NS;
            while (!flushed && clock_mono_ns() < give_up && !atomic_load(flow->stop)) {
                sock_wait(c.io.fd, POLLIN, 10 * VMTP_NS_PER_MS);
                if (s_take_replies(&c, fseq, &flushed) < 0)
                    break;
            }
        }
        s_drain_tx(&c);
    }
    cpu_sample(&cpu1);
    for (uint32_t i = 0; i < S_RING; i++)
        if (c.ring[i].state != S_FREE)
            s_finalize(&c, &c.ring[i]);
    out->role = ROLE_RR_CLIENT;
    out->stamp_source = (out->rr_received && (double)c.paths >= RR_KERNEL_MIN_SHARE * (double)out->rr_received)
                            ? (c.src ? c.src : TSTAMP_SOURCE_KERNEL)
                            : TSTAMP_SOURCE_USER;
    cpu_diff(&cpu0, &cpu1, &out->cpu);
out:
    free(obuf);
    free(c.io.buf);
    free(c.ring);
    return rc;
}

/* ---- reflector ---------------------------------------------------------------------------- */

typedef struct {
    uint64_t seq;      /* request this reply answered */
    int64_t rx_kernel; /* kernel RX stamp of the request (0 = none) */
    bool used;         /* slot holds a reply awaiting its TX stamp */
} s_sent_t;

int rr_reflect_run(const flow_t *flow, bool tcp, report_t *out)
{
    const test_spec_t *spec = flow->spec;
    int rc = 0;
    s_io_t io = {.fd = flow->fds[0], .tcp = tcp, .len = spec->len};
    io.buf = calloc(1, spec->len);
    uint8_t *obuf = calloc(1, spec->len);
    s_sent_t *sent = calloc(S_RING, sizeof *sent);
    if (!io.buf || !obuf || !sent || !out->turn_kernel || !out->turn_user) {
        rc = -ENOMEM;
        goto out;
    }
    tstamp_enable(io.fd, true, true);
    cpu_sample_t cpu0, cpu1;
    cpu_sample(&cpu0);
    uint64_t nsent = 0;       /* replies sent (UDP key space) */
    int64_t key_base = 0;     /* TCP: key of byte 0 */
    bool have_base = false;
    uint64_t last_turn_seq = 0;
    uint32_t last_turn = DP_TURN_NONE;
    uint64_t kernel_turns = 0;
    while (!atomic_load(flow->stop) && !io.eof) {
        int got = s_recv(&io);
        if (got < 0) {
            rc = got == -ECONNRESET ? 0 : got;
            break;
        }
        if (got == 0) {
            sock_wait(io.fd, POLLIN, S_POLL_NS);
            continue;
        }
        int64_t rx_mono = io.rx_mono;
        dp_dgram_t req;
        if (dp_dgram_parse(io.buf, io.len, &req) < 0 || (req.kind != DP_DGRAM_RR_REQ && req.kind != DP_DGRAM_RR_FLUSH)) {
            out->rx_foreign++;
            continue;
        }
        s_sent_t *slot = &sent[nsent % S_RING];
        *slot = (s_sent_t){.seq = req.seq, .rx_kernel = io.rx_real, .used = true};
        dp_dgram_t rep = {.kind = DP_DGRAM_RR_REP, .seq = req.seq, .tx_real_ns = req.tx_real_ns,
                          .turn_kernel_ns = last_turn, .turn_seq = last_turn_seq};
        int64_t turn_user = clock_mono_ns() - rx_mono;
        rep.turn_user_ns = turn_user >= 0 && turn_user < DP_TURN_NONE ? (uint32_t)turn_user : DP_TURN_NONE;
        rc = s_send(&io, obuf, &rep);
        if (rc < 0) {
            if (!tcp && (rc == -ECONNREFUSED || rc == -ENOBUFS)) {
                rc = 0;
                continue;
            }
            break;
        }
        nsent++;
        if (req.kind == DP_DGRAM_RR_REQ) {
            out->reflected++;
            hist_record(out->turn_user, turn_user);
        }
        /* Collect TX stamps: each completes one reply's kernel turnaround. */
        tstamp_tx_t t;
        while (tstamp_read_tx(io.fd, &t) > 0) {
            if (t.type != SCM_TSTAMP_SND)
                continue;
            if (tcp && !have_base) {
                key_base = (int64_t)t.key - (int64_t)(io.len - 1);
                have_base = true;
            }
            uint64_t idx = s_key_to_index(&io, key_base, t.key);
            s_sent_t *s = &sent[idx % S_RING];
            if (!s->used || idx >= nsent || nsent - idx > S_RING)
                continue;
            s->used = false;
            if (!s->rx_kernel)
                continue;
            int64_t turn = t.tx_real_ns - s->rx_kernel;
            if (turn < 0 || turn >= DP_TURN_NONE)
                continue;
            hist_record(out->turn_kernel, turn);
            kernel_turns++;
            last_turn = (uint32_t)turn;
            last_turn_seq = s->seq;
            if (t.source > out->stamp_source)
                out->stamp_source = t.source;
        }
    }
    cpu_sample(&cpu1);
    out->role = ROLE_REFLECTOR;
    if (!kernel_turns)
        out->stamp_source = TSTAMP_SOURCE_USER;
    cpu_diff(&cpu0, &cpu1, &out->cpu);
out:
    free(io.buf);
    free(obuf);
    free(sent);
    return rc;
}
