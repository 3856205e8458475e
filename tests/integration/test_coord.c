/* test_coord.c — the coordinator core against real `vmtp-node agent` processes on loopback.
 *
 * Usage: test_coord BINDIR CASE...   (BINDIR holds vmtp-node)
 *   basic     HELLO (identity, clock offset), LISTEN, RUN (tcp, udp, rr) with INTERVALs and both
 *             ends' reports, STOP, CLOCK on the data path
 *   flow      PING from a node; one VMTP flow (TCP runs, UDP rate search, ICMP sizes) through flows.c
 *   raw       malformed frames straight to an agent: each gets an ERROR (code, seq), the agent stays up
 *   ipv6      an agent on [::1] and a coordinator reaching it there
 *   signals   SIGTERM reaches coord_poll through its signalfd
 *   keys      an agent refuses a coordinator with another key; a wrong node key fails the connect
 *   orphan    the coordinator is killed (SIGKILL): its agent exits within its silence bound and
 *             removes its working directory
 *   kill      an agent killed mid-test fails its own test (-ENOTCONN, with a reason) within a bound
 *             while the other node's test completes
 *   scale N   N agents (N/2 pairs) run an isochronous UDP RR test starting at one absolute time;
 *             checks every start against the schedule, the merged histograms, and the wall time;
 *             prints the start skew, the time past the test's end, and the coordinator's peak RSS
 * Exit 0 pass, 1 fail. Agents are this process's children, bound to 127.0.0.1; every one is
 * ended (by its PID) before exit.
 */
#include "../unit/check.h"
#include "config.h"
#include "coord.h"
#include "flows.h"
#include "result.h"
#include "summary.h"
#include "vmtp/clock.h"
#include "vmtp/hist.h"
#include "vmtp/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define T_MAX_AGENTS 512
#define T_SILENCE_MS 2000u /* agents' silence bound in these tests */

static char t_node_bin[PATH_MAX];        /* vmtp-node */
static const char *t_bind = "127.0.0.1"; /* where agents listen (the ipv6 case uses ::1) */

/* ---- agents ------------------------------------------------------------------------------------ */

typedef struct {
    pid_t pid;                /* the agent process (0 = none) */
    int port;                 /* its control port */
    char pub[COORD_KEY_SIZE]; /* its public key */
    char dir[64];             /* its working directory (removed by the agent on exit) */
    char endpoint[64];        /* tcp://127.0.0.1:port */
    coord_node_t *node;       /* the coordinator's session with it */
    int hello_status;         /* done callback's status (1 = not yet) */
} t_agent_t;

static t_agent_t t_agents[T_MAX_AGENTS];
static unsigned t_n_agents;

/* Starts an agent admitting coordinator key coord_pub; fills *a. Returns 0 or -1. */
static int t_agent_start(t_agent_t *a, const char *coord_pub, const char *host_id)
{
    char sec[COORD_KEY_SIZE];
    memset(a, 0, sizeof *a);
    a->hello_status = 1;
    if (coord_keypair(a->pub, sec) < 0)
        return -1;
    snprintf(a->dir, sizeof a->dir, "/tmp/vmtp-test-coord-XXXXXX");
    if (!mkdtemp(a->dir))
        return -1;
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        char silence[32];
        snprintf(silence, sizeof silence, "%u", 3u);
        execl(t_node_bin, "vmtp-node", "agent", "--port", "0", "--bind", t_bind, "--silence", silence, "--cleanup",
              a->dir, "--host-id", host_id, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    a->pid = pid;
    char keys[200];
    int kl = snprintf(keys, sizeof keys, "secret %s\ncoordinator %s\n", sec, coord_pub);
    ssize_t w = write(in[1], keys, (size_t)kl);
    close(in[1]);
    memset(sec, 0, sizeof sec);
    memset(keys, 0, sizeof keys);
    char line[128] = "";
    size_t got = 0;
    int64_t end = clock_mono_ns() + 20 * VMTP_NS_PER_S;
    while (w == kl && got < sizeof line - 1 && !memchr(line, '\n', got) && clock_mono_ns() < end) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t r = read(out[0], line + got, sizeof line - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        line[got] = 0;
    }
    close(out[0]);
    if (sscanf(line, "ready port=%d", &a->port) != 1) {
        fprintf(stderr, "agent %d did not announce itself: '%s'\n", (int)pid, line);
        return -1;
    }
    snprintf(a->endpoint, sizeof a->endpoint, strchr(t_bind, ':') ? "tcp://[%s]:%d" : "tcp://%s:%d", t_bind, a->port);
    return 0;
}

/* Waits at most timeout_ns for the agent to exit; returns its wait status, or -1 (still running). */
static int t_agent_wait(t_agent_t *a, int64_t timeout_ns)
{
    int64_t end = clock_mono_ns() + timeout_ns;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(a->pid, &st, WNOHANG);
        if (r == a->pid) {
            a->pid = 0;
            return st;
        }
        if (r < 0 || clock_mono_ns() >= end)
            return -1;
        usleep(20000);
    }
}

/* Ends every agent still running (TERM, then KILL), by PID. */
static void t_agents_reap(void)
{
    for (unsigned i = 0; i < t_n_agents; i++)
        if (t_agents[i].pid > 0)
            kill(t_agents[i].pid, SIGTERM);
    for (unsigned i = 0; i < t_n_agents; i++)
        if (t_agents[i].pid > 0 && t_agent_wait(&t_agents[i], 5 * VMTP_NS_PER_S) == -1) {
            kill(t_agents[i].pid, SIGKILL);
            t_agent_wait(&t_agents[i], 5 * VMTP_NS_PER_S);
        }
    t_n_agents = 0;
}

static bool t_dir_exists(const char *dir)
{
    struct stat st;
    return stat(dir, &st) == 0;
}

/* ---- coordinator helpers ----------------------------------------------------------------------- */

static void t_on_hello(coord_node_t *n, int status, void *arg)
{
    (void)n;
    ((t_agent_t *)arg)->hello_status = status;
}

/* Polls until *flag != sentinel or the timeout passes. Returns true when it changed. */
static bool t_poll_until(coord_t *c, const int *flag, int sentinel, int64_t timeout_ns)
{
    int64_t end = clock_mono_ns() + timeout_ns;
    while (*flag == sentinel && clock_mono_ns() < end)
        coord_poll(c, 50 * VMTP_NS_PER_MS);
    return *flag != sentinel;
}

static coord_t *t_coord(unsigned silence_ms)
{
    int err = 0;
    coord_cfg_t cfg = {.run_id = "test-run-1", .heartbeat_ms = 250, .silence_ms = silence_ms};
    coord_t *c = coord_new(&cfg, &err);
    CHECK(c != NULL, "coord_new: %s", strerror(-err));
    return c;
}

/* Starts n agents for c and connects to them; returns how many became READY. */
static unsigned t_start_and_connect(coord_t *c, unsigned first, unsigned n)
{
    for (unsigned i = first; i < first + n; i++) {
        char hid[32];
        snprintf(hid, sizeof hid, "host-%u", i);
        if (t_agent_start(&t_agents[i], coord_public_key(c), hid) < 0) {
            CHECK(0, "agent %u did not start", i);
            return 0;
        }
        t_n_agents = i + 1;
        int err = 0;
        char name[32];
        snprintf(name, sizeof name, "agent%u", i);
        t_agents[i].node =
            coord_add_node(c, name, t_agents[i].endpoint, t_agents[i].pub, t_on_hello, &t_agents[i], &err);
        CHECK(t_agents[i].node != NULL, "coord_add_node: %s", strerror(-err));
        if (!t_agents[i].node)
            return 0;
    }
    int64_t end = clock_mono_ns() + 30 * VMTP_NS_PER_S;
    unsigned ready = 0;
    while (clock_mono_ns() < end) {
        ready = 0;
        unsigned done = 0;
        for (unsigned i = first; i < first + n; i++) {
            done += t_agents[i].hello_status != 1;
            ready += t_agents[i].hello_status == 0;
        }
        if (done == n)
            break;
        coord_poll(c, 50 * VMTP_NS_PER_MS);
    }
    return ready;
}

typedef struct {
    int status;            /* 1 = pending */
    uint16_t port;         /* LISTEN */
    int64_t at;            /* monotonic time of the answer */
    coord_result_t res;    /* RUN: copy of the header */
    dp_result_t dp;        /* RUN: taken */
    unsigned intervals[2]; /* RUN: local, remote INTERVALs seen */
    proto_clock_t clock;   /* CLOCK */
} t_wait_t;

static void t_on_listen(coord_node_t *n, int status, uint16_t port, void *arg)
{
    (void)n;
    t_wait_t *w = arg;
    w->port = port;
    w->at = clock_mono_ns();
    w->status = status;
}

static void t_on_interval(coord_node_t *n, uint64_t test_id, const interval_t *iv, bool remote, void *arg)
{
    (void)n;
    (void)test_id;
    (void)iv;
    ((t_wait_t *)arg)->intervals[remote]++;
}

static void t_on_result(coord_node_t *n, coord_result_t *r, void *arg)
{
    (void)n;
    t_wait_t *w = arg;
    w->res = *r;
    memset(&w->res.res, 0, sizeof w->res.res);
    coord_result_take(r, &w->dp);
    w->at = clock_mono_ns();
    w->status = r->status;
}

static void t_on_clock(coord_node_t *n, int status, const proto_clock_t *c, void *arg)
{
    (void)n;
    t_wait_t *w = arg;
    if (c)
        w->clock = *c;
    w->at = clock_mono_ns();
    w->status = status;
}

/* LISTEN on agent a (port 0); returns the port or 0. */
static uint16_t t_listen(coord_t *c, t_agent_t *a)
{
    t_wait_t w = {.status = 1};
    int rc = coord_listen(a->node, 0, "127.0.0.1", t_on_listen, &w);
    CHECK(rc == 0, "coord_listen: %s", strerror(-rc));
    if (rc < 0)
        return 0;
    CHECK(t_poll_until(c, &w.status, 1, 10 * VMTP_NS_PER_S), "no LISTEN answer");
    CHECK(w.status == 0 && w.port > 0, "LISTEN: status %d port %u", w.status, w.port);
    return w.status == 0 ? w.port : 0;
}

/* ---- cases ------------------------------------------------------------------------------------- */

static void t_case_basic(void)
{
    coord_t *c = t_coord(T_SILENCE_MS);
    if (!c)
        return;
    unsigned ready = t_start_and_connect(c, 0, 2);
    CHECK(ready == 2, "%u of 2 agents ready", ready);
    if (ready != 2)
        goto out;
    coord_node_t *a = t_agents[0].node, *b = t_agents[1].node;
    const proto_hello_t *h = coord_node_hello(a);
    CHECK(coord_node_state(a) == COORD_NODE_READY, "state %d", coord_node_state(a));
    CHECK(!strcmp(h->role, "node"), "role '%s'", h->role);
    CHECK(!strcmp(h->run_id, "test-run-1"), "run_id echoed: '%s'", h->run_id);
    CHECK(!strcmp(h->host_id, "host-0"), "host_id '%s'", h->host_id);
    CHECK(h->kernel[0] && h->hostname[0] && h->ncpu >= 1, "kernel '%s' hostname '%s' ncpu %" PRIu64, h->kernel,
          h->hostname, h->ncpu);
    CHECK((h->stamping & 3) == 3, "software RX and TX stamping reported: %" PRIu64, h->stamping);
    bool lo = false;
    for (unsigned i = 0; i < h->addrs.n; i++)
        lo |= strstr(h->addrs.v[i], " 127.0.0.1/8") != NULL;
    CHECK(lo, "HELLO lists the loopback address (%u addresses)", h->addrs.n);
    int64_t bound = 0, off = coord_node_offset_ns(a, &bound);
    /* Same machine, same clock: the true offset is 0, so |offset| <= bound must hold. */
    CHECK(bound > 0 && bound < 50 * VMTP_NS_PER_MS, "HELLO offset bound %" PRId64 " ns", bound);
    CHECK(off <= bound && -off <= bound, "offset %" PRId64 " ns outside its bound %" PRId64 " ns", off, bound);
    printf("basic: HELLO offset %" PRId64 " ns +- %" PRId64 " ns\n", off, bound);

    uint16_t port = t_listen(c, &t_agents[0]);
    if (!port)
        goto out;
    /* A second LISTEN on the same port is answered with that port (idempotent). */
    t_wait_t w2 = {.status = 1};
    CHECK(coord_listen(a, port, "127.0.0.1", t_on_listen, &w2) == 0, "second LISTEN");
    t_poll_until(c, &w2.status, 1, 10 * VMTP_NS_PER_S);
    CHECK(w2.status == 0 && w2.port == port, "second LISTEN: %d %u", w2.status, w2.port);

    /* tcp, udp and rr through the agents, with progress. */
    const test_spec_t specs[] = {
        {.proto = TEST_TCP,
         .streams = 1,
         .len = 65536,
         .duration_ns = VMTP_NS_PER_S,
         .interval_ns = 200 * VMTP_NS_PER_MS},
        {.proto = TEST_UDP,
         .streams = 1,
         .len = 1024,
         .rate_bps = 50000000,
         .duration_ns = VMTP_NS_PER_S,
         .interval_ns = 200 * VMTP_NS_PER_MS},
        {.proto = TEST_RR_UDP,
         .streams = 1,
         .len = 64,
         .rr_count = 500,
         .rr_timeout_ns = VMTP_NS_PER_S,
         .duration_ns = 10 * VMTP_NS_PER_S},
    };
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        t_wait_t w = {.status = 1};
        int64_t id = coord_run(b, "127.0.0.1", port, &specs[k], t_on_interval, t_on_result, &w);
        CHECK(id > 0, "coord_run %zu: %s", k, strerror((int)-id));
        if (id <= 0)
            continue;
        CHECK(t_poll_until(c, &w.status, 1, 30 * VMTP_NS_PER_S), "test %zu: no RESULT in 30 s", k);
        CHECK(w.status == 0, "test %zu: status %d: %s", k, w.status, w.res.error);
        CHECK(w.res.test_id == (uint64_t)id, "test id %" PRIu64 " vs %" PRId64, w.res.test_id, id);
        if (w.status == 0) {
            const report_t *L = &w.dp.local, *R = &w.dp.remote;
            if (specs[k].proto == TEST_RR_UDP) {
                CHECK(L->rr_sent == 500 && L->rr_received == 500, "rr %" PRIu64 "/%" PRIu64, L->rr_sent,
                      L->rr_received);
                CHECK(L->rtt_user && hist_count(L->rtt_user) == 500, "rr histogram carried");
                CHECK(R->reflected == 500, "reflector answered %" PRIu64, R->reflected);
                CHECK(L->clock_bound_ns >= 0 && llabs(L->clock_offset_ns) <= L->clock_bound_ns + 1000,
                      "rr clock offset %" PRId64 " +- %" PRId64, L->clock_offset_ns, L->clock_bound_ns);
            } else {
                CHECK(L->tx_bytes > 0 && R->rx_bytes > 0, "bytes sent %" PRIu64 " received %" PRIu64, L->tx_bytes,
                      R->rx_bytes);
                CHECK(w.intervals[0] >= 3 && w.intervals[1] >= 3, "INTERVALs relayed: local %u remote %u",
                      w.intervals[0], w.intervals[1]);
                CHECK(w.dp.n_local_iv == w.intervals[0] && w.dp.n_remote_iv == w.intervals[1],
                      "intervals kept in the result: %zu %zu", w.dp.n_local_iv, w.dp.n_remote_iv);
            }
            CHECK(w.dp.server_id[0] != 0, "server id carried");
            CHECK(w.dp.start_real_ns > 0, "start time carried");
        }
        dp_result_fini(&w.dp);
    }

    /* STOP ends a long test at once; the node still reports. */
    {
        test_spec_t long_tcp = {.proto = TEST_TCP, .streams = 1, .len = 65536, .duration_ns = 60 * VMTP_NS_PER_S};
        t_wait_t w = {.status = 1};
        int64_t id = coord_run(b, "127.0.0.1", port, &long_tcp, NULL, t_on_result, &w);
        CHECK(id > 0, "coord_run (long)");
        int64_t t0 = clock_mono_ns();
        int never = 1;
        t_poll_until(c, &never, 1, 700 * VMTP_NS_PER_MS);
        int64_t ts = clock_mono_ns();
        CHECK(coord_stop(c, (uint64_t)id) == 0, "coord_stop");
        CHECK(coord_stop(c, 999999) == -ENOENT, "coord_stop of an unknown test");
        CHECK(t_poll_until(c, &w.status, 1, 10 * VMTP_NS_PER_S), "no RESULT after STOP");
        printf("basic: STOP answered by a RESULT %.0f ms later (status %d%s%s)\n", (double)(w.at - ts) / 1e6, w.status,
               w.status ? ": " : "", w.res.error);
        CHECK(w.at - ts < 5 * VMTP_NS_PER_S, "RESULT %.2f s after STOP", (double)(w.at - ts) / 1e9);
        CHECK(w.at - t0 < 10 * VMTP_NS_PER_S, "stopped test took %.2f s", (double)(w.at - t0) / 1e9);
        dp_result_fini(&w.dp);
    }

    /* CLOCK on the data path: same machine, so the truth is 0 and must sit inside the bound. */
    {
        t_wait_t w = {.status = 1};
        int rc = coord_clock(b, "127.0.0.1", port, 200, 500 * VMTP_NS_PER_US, t_on_clock, &w);
        CHECK(rc == 0, "coord_clock: %s", strerror(-rc));
        CHECK(t_poll_until(c, &w.status, 1, 20 * VMTP_NS_PER_S), "no CLOCK answer");
        CHECK(w.status == 0, "CLOCK status %d", w.status);
        if (w.status == 0) {
            printf("basic: CLOCK offset %" PRId64 " ns +- %" PRId64 " ns from %" PRIu64 " exchanges\n",
                   w.clock.offset_ns, w.clock.bound_ns, w.clock.samples);
            CHECK(w.clock.samples > 100, "samples %" PRIu64, w.clock.samples);
            CHECK(w.clock.bound_ns > 0 && w.clock.bound_ns < VMTP_NS_PER_MS, "bound %" PRId64, w.clock.bound_ns);
            CHECK(llabs(w.clock.offset_ns) <= w.clock.bound_ns + 1000, "offset %" PRId64 " outside bound %" PRId64,
                  w.clock.offset_ns, w.clock.bound_ns);
            /* With the offset known, the receiver's one-way delays are absolute: on loopback they
             * are small and positive (never below -bound). */
            test_spec_t u = {.proto = TEST_UDP,
                             .streams = 1,
                             .len = 512,
                             .rate_bps = 10000000,
                             .duration_ns = 500 * VMTP_NS_PER_MS,
                             .clock_offset_ns = w.clock.offset_ns,
                             .clock_known = true};
            t_wait_t wu = {.status = 1};
            CHECK(coord_run(b, "127.0.0.1", port, &u, NULL, t_on_result, &wu) > 0, "coord_run (udp, clock known)");
            t_poll_until(c, &wu.status, 1, 30 * VMTP_NS_PER_S);
            CHECK(wu.status == 0, "udp with a known clock: %d %s", wu.status, wu.res.error);
            const hist_t *owd = wu.dp.remote.owd;
            CHECK(owd && hist_count(owd) > 100, "one-way delays recorded");
            if (owd && hist_count(owd)) {
                printf("basic: absolute one-way delay on loopback: min %.1f us p50 %.1f us\n",
                       (double)hist_min(owd) / 1e3, (double)hist_percentile(owd, 50) / 1e3);
                CHECK(hist_min(owd) >= -w.clock.bound_ns - 1000, "one-way delay min %" PRId64 " ns", hist_min(owd));
                CHECK(hist_percentile(owd, 50) < 20 * VMTP_NS_PER_MS, "one-way delay p50 %" PRId64 " ns",
                      hist_percentile(owd, 50));
            }
            dp_result_fini(&wu.dp);
        }
    }

    /* A request the node refuses comes back as an error through the callback. */
    {
        t_wait_t w = {.status = 1};
        int rc = coord_listen(a, (uint16_t)(port == 65535 ? 65534 : port + 1), "127.0.0.1", t_on_listen, &w);
        CHECK(rc == 0, "coord_listen (other port)");
        t_poll_until(c, &w.status, 1, 10 * VMTP_NS_PER_S);
        CHECK(w.status == -EBUSY, "LISTEN on a second port: status %d (expected -EBUSY)", w.status);
    }
    CHECK(coord_pending(c) == 0, "%u requests still pending", coord_pending(c));
out:
    coord_destroy(&c);
    /* BYE makes both agents exit 0 and remove their directories. */
    for (unsigned i = 0; i < t_n_agents; i++) {
        int st = t_agent_wait(&t_agents[i], 5 * VMTP_NS_PER_S);
        CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "agent %u after BYE: status %d", i, st);
        CHECK(!t_dir_exists(t_agents[i].dir), "agent %u left %s", i, t_agents[i].dir);
    }
    t_agents_reap();
}

static void t_case_keys(void)
{
    coord_t *c = t_coord(T_SILENCE_MS);
    if (!c)
        return;
    /* The agent admits another coordinator's key only. */
    char other_pub[COORD_KEY_SIZE], other_sec[COORD_KEY_SIZE];
    coord_keypair(other_pub, other_sec);
    t_agent_t *a = &t_agents[0];
    CHECK(t_agent_start(a, other_pub, "host-k") == 0, "agent start");
    t_n_agents = 1;
    int err = 0;
    int64_t t0 = clock_mono_ns();
    a->node = coord_add_node(c, "wrongkey", a->endpoint, a->pub, t_on_hello, a, &err);
    CHECK(a->node != NULL, "coord_add_node");
    if (a->node) {
        t_poll_until(c, &a->hello_status, 1, 15 * VMTP_NS_PER_S);
        printf("keys: refused in %.0f ms: %s\n", (double)(clock_mono_ns() - t0) / 1e6, coord_node_reason(a->node));
        CHECK(a->hello_status < 0, "connect with a key the agent does not admit: status %d", a->hello_status);
        CHECK(coord_node_state(a->node) == COORD_NODE_LOST, "state %d", coord_node_state(a->node));
        CHECK(strstr(coord_node_reason(a->node), "refused our CURVE key") != NULL, "reason: %s",
              coord_node_reason(a->node));
        CHECK(clock_mono_ns() - t0 < 5 * VMTP_NS_PER_S, "refusal took %.1f s", (double)(clock_mono_ns() - t0) / 1e9);
    }
    /* The refused agent is unharmed and leaves by itself (it never heard its coordinator). */
    int st = t_agent_wait(a, 10 * VMTP_NS_PER_S);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "refused agent's exit: status %d", st);
    CHECK(!t_dir_exists(a->dir), "refused agent left %s", a->dir);

    /* A node key that is not the agent's: the handshake fails, quickly and with a reason. */
    t_agent_t *b = &t_agents[1];
    CHECK(t_agent_start(b, coord_public_key(c), "host-k2") == 0, "agent start");
    t_n_agents = 2;
    char wrong_pub[COORD_KEY_SIZE], wrong_sec[COORD_KEY_SIZE];
    coord_keypair(wrong_pub, wrong_sec);
    t0 = clock_mono_ns();
    b->node = coord_add_node(c, "wrongnode", b->endpoint, wrong_pub, t_on_hello, b, &err);
    CHECK(b->node != NULL, "coord_add_node");
    if (b->node) {
        t_poll_until(c, &b->hello_status, 1, 15 * VMTP_NS_PER_S);
        printf("keys: wrong node key failed in %.0f ms: %s\n", (double)(clock_mono_ns() - t0) / 1e6,
               coord_node_reason(b->node));
        CHECK(b->hello_status < 0, "connect with a wrong node key: status %d", b->hello_status);
    }
    /* Requests on a lost node are refused at once. */
    if (b->node) {
        test_spec_t s = {.proto = TEST_TCP, .streams = 1, .len = 1000, .duration_ns = VMTP_NS_PER_S};
        CHECK(coord_run(b->node, "127.0.0.1", 5001, &s, NULL, t_on_result, NULL) == -ENOTCONN, "RUN on a lost node");
    }
    coord_destroy(&c);
    t_agents_reap();
}

/* PING from a node, and a whole VMTP flow (TCP, UDP with its rate search, ICMP) through flows.c. */
static void t_ping_cb(coord_node_t *n, int status, const char *why, const proto_ping_t *p, void *arg)
{
    (void)n;
    (void)why;
    t_wait_t *w = arg;
    if (p) {
        w->clock.samples = p->rx_packets; /* reuse: rx count */
        w->clock.count = p->tx_packets;
        w->clock.port = p->stamp_source;
    }
    w->status = status;
}

static void t_case_flow(void)
{
    coord_t *c = t_coord(T_SILENCE_MS);
    if (!c)
        return;
    unsigned ready = t_start_and_connect(c, 0, 2);
    CHECK(ready == 2, "%u of 2 agents ready", ready);
    uint16_t port = ready == 2 ? t_listen(c, &t_agents[0]) : 0;
    if (!port)
        goto out;
    t_wait_t w = {.status = 1};
    int rc = coord_ping(t_agents[1].node, "127.0.0.1", 56, 5, 20 * VMTP_NS_PER_MS, VMTP_NS_PER_S, t_ping_cb, &w);
    CHECK(rc == 0, "coord_ping: %s", strerror(-rc));
    t_poll_until(c, &w.status, 1, 20 * VMTP_NS_PER_S);
    CHECK(w.status == 0 && w.clock.count == 5 && w.clock.samples == 5, "PING: status %d, %u/%u", w.status,
          (unsigned)w.clock.samples, (unsigned)w.clock.count);
    w = (t_wait_t){.status = 1};
    rc = coord_ping(t_agents[1].node, "no.such.host.invalid", 56, 2, 20 * VMTP_NS_PER_MS, VMTP_NS_PER_S, t_ping_cb, &w);
    t_poll_until(c, &w.status, 1, 20 * VMTP_NS_PER_S);
    CHECK(w.status < 0, "PING of an unresolvable name: %d", w.status);

    config_t cfg;
    char why[256];
    config_defaults(&cfg);
    config_set(&cfg, "tcp_tp_loop_count", "2", why, sizeof why);
    config_set(&cfg, "udp_pkt_sizes", "1024", why, sizeof why);
    config_set(&cfg, "icmp_pkt_sizes", "64,1500", why, sizeof why);
    config_set(&cfg, "ping_count", "5", why, sizeof why);
    config_set(&cfg, "vm_bandwidth", "100000", why, sizeof why); /* 100 Mbit/s: quick and bounded */
    flow_ctx_t fc = {.c = c,
                     .client = t_agents[1].node,
                     .server = t_agents[0].node,
                     .target = "127.0.0.1",
                     .port = port,
                     .cfg = &cfg,
                     .time_ns = 500 * VMTP_NS_PER_MS,
                     .trial_ns = 300 * VMTP_NS_PER_MS,
                     .tcp = true,
                     .udp = true,
                     .icmp = true};
    flow_result_t f = {0};
    rc = flow_measure(&fc, &f);
    CHECK(rc == 0, "flow_measure: %d", rc);
    CHECK(f.status == FLOW_PASSED, "flow %s: %s", flow_status_name(f.status), f.reason);
    CHECK(f.n_entries == 2 + 1 + 2, "entries %u (2 TCP runs, 1 UDP size, 2 ICMP sizes)", f.n_entries);
    CHECK(f.same_host == false, "agents with different host ids are not the same host");
    CHECK(f.clock_status == 0 && f.clock_used && f.clock_bound_ns > 0, "clock before UDP: %d, used %d, bound %lld",
          f.clock_status, f.clock_used, (long long)f.clock_bound_ns);
    for (unsigned i = 0; i < f.n_entries; i++) {
        const flow_entry_t *e = &f.entries[i];
        CHECK(e->status == 0, "entry %u: %s", i, e->error);
        if (e->status)
            continue;
        if (e->kind == FLOW_ENTRY_TCP) {
            CHECK(e->res.remote.rx_bytes > 0, "TCP entry %u received bytes", i);
            /* the 100 Mbit/s cap holds: goodput at most 3 % above it */
            result_summary_t sum;
            result_summarize(&e->res, &sum);
            double bps = sum.throughput_bps;
            CHECK(bps < 103e6, "TCP entry %u: %.1f Mbit/s above the 100 Mbit/s cap", i, bps / 1e6);
        } else if (e->kind == FLOW_ENTRY_UDP) {
            CHECK(e->search && e->search->ntrials >= 1 && e->search->best >= 0, "UDP search ran");
            CHECK(e->res.spec.clock_known, "UDP one-way delays made absolute");
            CHECK(e->search && e->search->ntrials >= 1 && e->search->trials[0].rate_bps == 100000000,
                  "the search starts at the bandwidth cap");
        } else {
            CHECK(e->icmp.tx_packets == 5 && e->icmp.rx_packets == 5, "ICMP %u B: %llu/%llu", e->pkt_size,
                  (unsigned long long)e->icmp.rx_packets, (unsigned long long)e->icmp.tx_packets);
            CHECK(e->icmp.rtt && hist_count(e->icmp.rtt) >= 4, "ICMP rtt histogram carried");
        }
    }
    printf("flow: %u measurements in %.1f s\n", f.n_entries, f.wall_s);

    /* The summary table and the JSON of a run with this one flow as 7.x. */
    snprintf(f.desc, sizeof f.desc, "Native Throughput");
    snprintf(f.ip_from, sizeof f.ip_from, "127.0.0.1");
    snprintf(f.ip_to, sizeof f.ip_to, "127.0.0.1");
    summary_flow_t sf[] = {{.group = "7", .res = &f}, {.group = "8.1", .skip_reason = "no --external-host"}};
    summary_row_t *rows = NULL;
    summary_counts_t counts;
    int nrows = summary_rows(sf, 2, true, true, true, &rows, &counts);
    CHECK(nrows == 6 * 3 + 3 + 2, "rows %d", nrows);
    CHECK(counts.passed == 3 && counts.failed == 0 && counts.skipped == (unsigned)nrows - 3, "counts %u/%u/%u",
          counts.passed, counts.failed, counts.skipped);
    char *table = NULL;
    size_t tlen = 0;
    FILE *tf = open_memstream(&table, &tlen);
    summary_print(tf, rows, (unsigned)(nrows > 0 ? nrows : 0), &counts);
    fclose(tf);
    CHECK(strstr(table, "Passed Scenarios:  3 [100.00%]") != NULL, "totals over the scenarios that ran:\n%s", table);
    CHECK(strstr(table, "| 7.1 ") && strstr(table, "Native Throughput, TCP (inter-host)") && strstr(table, "tp_kbps="),
          "7.1 row:\n%s", table);
    CHECK(strstr(table, "| 8.1 ") && strstr(table, "no --external-host"), "8.1 skipped with its reason");
    fputs(table, stdout);
    free(table);
    char jpath[64];
    snprintf(jpath, sizeof jpath, "/tmp/vmtp-test-coord-%d.json", (int)getpid());
    summary_node_t nodes[] = {{.role = "server", .ssh_target = "local", .hello = coord_node_hello(t_agents[0].node)}};
    summary_ctx_t ctx = {.date = "2026-11-27 00:00:00",
                         .args = "vmtp --host u@h:<MASKED>",
                         .run_id = "abc1234",
                         .mode = "hosts",
                         .nodes = nodes,
                         .n_nodes = 1,
                         .wall_s = 1.5};
    CHECK(summary_write_json(jpath, &ctx, sf, 2, rows, (unsigned)nrows, &counts) == 0, "write json");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "jq -r '[.run_id, (.flows|length), (.flows[0].results|length), .flows[0].results[0].protocol, "
             "(.flows[0].results[0].throughput_kbps > 0), .flows[0].results[2].protocol, "
             "(.flows[0].results[2].search.trials|length > 0), .flows[0].results[3].protocol, "
             "(.flows[0].results[3].results|length), .summary.passed_scenarios, .nodes[0].role] | join(\" \")' %s",
             jpath);
    FILE *jq = popen(cmd, "r");
    char line[256] = "";
    if (jq) {
        if (!fgets(line, sizeof line, jq))
            line[0] = 0;
        pclose(jq);
    }
    line[strcspn(line, "\n")] = 0;
    CHECK(!strcmp(line, "abc1234 1 4 TCP true UDP true ICMP 2 3 server"), "JSON as jq reads it: '%s'", line);
    unlink(jpath);
    free(rows);
    flow_result_fini(&f);
    config_fini(&cfg);
out:
    coord_destroy(&c);
    t_agents_reap();
}

/* Raw frames straight to an agent (a CURVE DEALER with the coordinator's key, no coordinator):
 * every malformed frame gets an ERROR with the right code and the agent stays up. */
static void t_case_raw(void)
{
    char cpub[COORD_KEY_SIZE], csec[COORD_KEY_SIZE];
    coord_keypair(cpub, csec);
    t_agent_t *a = &t_agents[0];
    if (t_agent_start(a, cpub, "host-raw") < 0) {
        CHECK(0, "agent start");
        return;
    }
    t_n_agents = 1;
    void *ctx = zmq_ctx_new();
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, tmo = 5000;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, a->pub, COORD_KEY_LEN + 1);
    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, cpub, COORD_KEY_LEN + 1);
    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, csec, COORD_KEY_LEN + 1);
    CHECK(zmq_connect(d, a->endpoint) == 0, "connect");
    static const struct {
        const char *what;
        uint8_t bytes[8];
        size_t len;
        uint64_t code; /* expected ERROR code */
        uint64_t seq;  /* expected seq in the ERROR */
    } cases[] = {
        {"array32 claiming 2^32 elements", {0xdd, 0xff, 0xff, 0xff, 0xff}, 5, EINVAL, 0},
        {"a byte msgpack never uses", {0xc1}, 1, EINVAL, 0},
        {"not an array", {0x05}, 1, EINVAL, 0},
        {"version 2", {0x93, 0x02, 0x01, 0x05}, 4, EPROTO, 5},
        {"unknown message id 99", {0x93, 0x01, 0x63, 0x06}, 4, ENOMSG, 6},
        {"HELLO without its fields", {0x93, 0x01, 0x01, 0x07}, 4, EINVAL, 7},
        {"STOP before HELLO", {0x94, 0x01, 0x07, 0x08, 0x00}, 5, EPROTO, 8},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        CHECK(zmq_send(d, cases[k].bytes, cases[k].len, 0) == (int)cases[k].len, "send %s", cases[k].what);
        uint8_t buf[2048];
        int n = zmq_recv(d, buf, sizeof buf, 0);
        CHECK(n > 0, "%s: no answer (%s)", cases[k].what, n < 0 ? zmq_strerror(errno) : "empty");
        if (n <= 0)
            continue;
        proto_msg_t m;
        char why[256];
        int rc = proto_decode(buf, (size_t)(n > (int)sizeof buf ? (int)sizeof buf : n), &m, why, sizeof why);
        CHECK(rc == 0 && m.id == PROTO_ERROR, "%s: answer is not an ERROR (%d %s)", cases[k].what, rc, why);
        if (rc == 0 && m.id == PROTO_ERROR) {
            CHECK(m.u.error.code == cases[k].code, "%s: code %" PRIu64 ", expected %" PRIu64 " (%s)", cases[k].what,
                  m.u.error.code, cases[k].code, m.u.error.text);
            CHECK(m.seq == cases[k].seq, "%s: seq %" PRIu64 ", expected %" PRIu64, cases[k].what, m.seq, cases[k].seq);
        }
        if (rc == 0)
            proto_msg_fini(&m);
    }
    /* Still alive and answering a proper HELLO. */
    proto_msg_t h;
    proto_msg_init(&h, PROTO_HELLO, 9);
    snprintf(h.u.hello.role, sizeof h.u.hello.role, "coordinator");
    h.u.hello.heartbeat_ms = 1000;
    h.u.hello.silence_ms = 3000;
    uint8_t *out = NULL;
    size_t len = 0;
    char why[256];
    CHECK(proto_encode(&h, &out, &len, why, sizeof why) == 0, "encode HELLO: %s", why);
    if (out) {
        zmq_send(d, out, len, 0);
        free(out);
        uint8_t buf[16384];
        int n = zmq_recv(d, buf, sizeof buf, 0);
        proto_msg_t m;
        int rc = n > 0 && n <= (int)sizeof buf ? proto_decode(buf, (size_t)n, &m, why, sizeof why) : -1;
        CHECK(rc == 0 && m.id == PROTO_HELLO && m.seq == 9, "HELLO after the bad frames: %d", rc);
        if (rc == 0)
            proto_msg_fini(&m);
    }
    zmq_close(d);
    zmq_ctx_term(ctx);
    memset(csec, 0, sizeof csec);
    t_agents_reap();
}

/* An agent on an IPv6 address, a coordinator reaching it there (brackets, ZMQ_IPV6 on both ends). */
static void t_case_ipv6(void)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    bool have = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    if (!have) {
        printf("ipv6: SKIP (no ::1 here)\n");
        return;
    }
    t_bind = "::1";
    coord_t *c = t_coord(T_SILENCE_MS);
    if (c) {
        unsigned ready = t_start_and_connect(c, 0, 1);
        CHECK(ready == 1, "agent on [::1] ready: %s", t_agents[0].node ? coord_node_reason(t_agents[0].node) : "");
        CHECK(strstr(t_agents[0].endpoint, "tcp://[::1]:") == t_agents[0].endpoint, "endpoint %s",
              t_agents[0].endpoint);
        coord_destroy(&c);
    }
    t_agents_reap();
    t_bind = "127.0.0.1";
}

/* SIGINT and SIGTERM reach the loop through its signalfd; the mask is restored after. */
static void t_case_signals(void)
{
    int err = 0;
    coord_cfg_t cfg = {.run_id = "sig", .signals = true};
    coord_t *c = coord_new(&cfg, &err);
    CHECK(c != NULL, "coord_new: %s", strerror(-err));
    if (!c)
        return;
    CHECK(coord_poll(c, 10 * VMTP_NS_PER_MS) == 0, "quiet poll");
    kill(getpid(), SIGTERM);
    int rc = 0;
    for (int i = 0; i < 20 && rc == 0; i++)
        rc = coord_poll(c, 50 * VMTP_NS_PER_MS);
    CHECK(rc == -EINTR, "poll after SIGTERM: %d", rc);
    CHECK(coord_last_signal(c) == SIGTERM, "last signal %d", coord_last_signal(c));
    coord_destroy(&c);
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    CHECK(!sigismember(&now, SIGTERM) && !sigismember(&now, SIGINT), "signal mask restored");
}

/* The coordinator dies without a word: the agent must leave by itself. */
static void t_case_orphan(void)
{
    int to_child[2], to_parent[2];
    if (pipe(to_child) < 0 || pipe(to_parent) < 0) {
        CHECK(0, "pipe");
        return;
    }
    pid_t coord_pid = fork();
    if (coord_pid == 0) {
        /* The child: a coordinator that connects and then just waits to be killed. */
        close(to_child[1]);
        close(to_parent[0]);
        coord_t *c = t_coord(T_SILENCE_MS);
        if (!c)
            _exit(3);
        char buf[200];
        (void)!write(to_parent[1], coord_public_key(c), COORD_KEY_LEN);
        ssize_t r = read(to_child[0], buf, sizeof buf - 1);
        if (r <= 0)
            _exit(3);
        buf[r] = 0;
        char ep[100], pub[COORD_KEY_SIZE];
        if (sscanf(buf, "%99s %40s", ep, pub) != 2)
            _exit(3);
        t_agent_t a = {.hello_status = 1};
        int err = 0;
        a.node = coord_add_node(c, "orphan", ep, pub, t_on_hello, &a, &err);
        if (!a.node || !t_poll_until(c, &a.hello_status, 1, 10 * VMTP_NS_PER_S) || a.hello_status != 0)
            _exit(4);
        (void)!write(to_parent[1], "R", 1);
        for (;;)
            coord_poll(c, VMTP_NS_PER_S);
    }
    close(to_child[0]);
    close(to_parent[1]);
    char coord_pub[COORD_KEY_SIZE] = "";
    if (read(to_parent[0], coord_pub, COORD_KEY_LEN) != COORD_KEY_LEN) {
        CHECK(0, "coordinator child did not start");
        kill(coord_pid, SIGKILL);
        waitpid(coord_pid, NULL, 0);
        return;
    }
    t_agent_t *a = &t_agents[0];
    CHECK(t_agent_start(a, coord_pub, "host-o") == 0, "agent start");
    t_n_agents = 1;
    char msg[200];
    int ml = snprintf(msg, sizeof msg, "%s %s\n", a->endpoint, a->pub);
    (void)!write(to_child[1], msg, (size_t)ml);
    char ok = 0;
    struct pollfd p = {.fd = to_parent[0], .events = POLLIN};
    if (poll(&p, 1, 15000) > 0)
        (void)!read(to_parent[0], &ok, 1);
    CHECK(ok == 'R', "the coordinator child connected to the agent");
    /* Let a few heartbeats pass: the agent now runs on the coordinator's silence bound. */
    usleep(600000);
    kill(coord_pid, SIGKILL);
    int64_t t0 = clock_mono_ns();
    waitpid(coord_pid, NULL, 0);
    int st = t_agent_wait(a, (T_SILENCE_MS + 4000) * VMTP_NS_PER_MS);
    double waited = (double)(clock_mono_ns() - t0) / 1e9;
    printf("orphan: agent exited %.2f s after its coordinator was killed (silence bound %.1f s)\n", waited,
           T_SILENCE_MS / 1000.0);
    CHECK(st != -1, "agent still running %.1f s after its coordinator died", waited);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "agent exit status %d (1 = coordinator silent)", st);
    CHECK(waited >= T_SILENCE_MS / 1000.0 - 0.5, "agent left after %.2f s, before its bound", waited);
    CHECK(!t_dir_exists(a->dir), "orphaned agent left %s", a->dir);
    close(to_child[1]);
    close(to_parent[0]);
    t_agents_reap();
}

/* An agent killed mid-test fails its own test; the other test goes on. */
static void t_case_kill(void)
{
    coord_t *c = t_coord(T_SILENCE_MS);
    if (!c)
        return;
    unsigned ready = t_start_and_connect(c, 0, 3);
    CHECK(ready == 3, "%u of 3 agents ready", ready);
    uint16_t port = ready == 3 ? t_listen(c, &t_agents[0]) : 0;
    if (!port)
        goto out;
    test_spec_t s = {.proto = TEST_TCP, .streams = 1, .len = 65536, .rate_bps = 0, .duration_ns = 4 * VMTP_NS_PER_S};
    t_wait_t wb = {.status = 1}, wc = {.status = 1};
    int64_t ib = coord_run(t_agents[1].node, "127.0.0.1", port, &s, NULL, t_on_result, &wb);
    int64_t ic = coord_run(t_agents[2].node, "127.0.0.1", port, &s, NULL, t_on_result, &wc);
    CHECK(ib > 0 && ic > 0, "coord_run");
    int never = 1;
    t_poll_until(c, &never, 1, VMTP_NS_PER_S);
    kill(t_agents[2].pid, SIGKILL);
    int64_t t0 = clock_mono_ns();
    CHECK(t_poll_until(c, &wc.status, 1, (T_SILENCE_MS + 3000) * VMTP_NS_PER_MS), "no end for the killed node's test");
    double lag = (double)(wc.at - t0) / 1e9;
    printf("kill: the killed node's test failed %.3f s after the kill: %s\n", lag, wc.res.error);
    CHECK(wc.status == -ENOTCONN, "killed node's test: status %d", wc.status);
    CHECK(strstr(wc.res.error, "agent2") != NULL, "reason names the node: %s", wc.res.error);
    CHECK(coord_node_state(t_agents[2].node) == COORD_NODE_LOST, "killed node state %d",
          coord_node_state(t_agents[2].node));
    CHECK(t_poll_until(c, &wb.status, 1, 30 * VMTP_NS_PER_S), "no RESULT for the other node");
    CHECK(wb.status == 0, "the other node's test: %d %s", wb.status, wb.res.error);
    CHECK(wb.status != 0 || wb.dp.remote.rx_bytes > 0, "the other test received data");
    CHECK(coord_node_state(t_agents[1].node) == COORD_NODE_READY, "other node still ready");
    dp_result_fini(&wb.dp);
    dp_result_fini(&wc.dp);
out:
    coord_destroy(&c);
    t_agents_reap();
}

static long t_self_hwm_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

static void t_case_scale(unsigned n)
{
    if (n < 2 || n > T_MAX_AGENTS || n % 2) {
        CHECK(0, "scale: N must be even, 2..%d", T_MAX_AGENTS);
        return;
    }
    unsigned pairs = n / 2;
    coord_t *c = t_coord(n > 100 ? 10000 : 5000);
    if (!c)
        return;
    int64_t t_start = clock_mono_ns();
    unsigned ready = t_start_and_connect(c, 0, n);
    double connect_s = (double)(clock_mono_ns() - t_start) / 1e9;
    CHECK(ready == n, "%u of %u agents ready", ready, n);
    if (ready != n)
        goto out;
    static t_wait_t lw[T_MAX_AGENTS / 2], rw[T_MAX_AGENTS / 2];
    for (unsigned p = 0; p < pairs; p++) {
        lw[p] = (t_wait_t){.status = 1};
        CHECK(coord_listen(t_agents[p].node, 0, "127.0.0.1", t_on_listen, &lw[p]) == 0, "listen %u", p);
    }
    int64_t end = clock_mono_ns() + 30 * VMTP_NS_PER_S;
    for (unsigned p = 0; p < pairs && clock_mono_ns() < end; p++)
        t_poll_until(c, &lw[p].status, 1, end - clock_mono_ns());
    for (unsigned p = 0; p < pairs; p++)
        CHECK(lw[p].status == 0 && lw[p].port, "listen %u: %d", p, lw[p].status);

    /* One absolute start for every pair, far enough ahead for all setups. */
    const int64_t count = 1000, period = VMTP_NS_PER_MS;
    int64_t lead = VMTP_NS_PER_S + (int64_t)n * 10 * VMTP_NS_PER_MS;
    int64_t start_coord = clock_real_ns() + lead;
    int64_t run_mono = clock_mono_ns();
    for (unsigned p = 0; p < pairs; p++) {
        coord_node_t *cl = t_agents[pairs + p].node;
        test_spec_t s = {.proto = TEST_RR_UDP,
                         .streams = 1,
                         .len = 64,
                         .rr_mode = RR_MODE_ISOCHRONOUS,
                         .rr_interval_ns = period,
                         .rr_count = (uint64_t)count,
                         .rr_timeout_ns = VMTP_NS_PER_S,
                         .duration_ns = 30 * VMTP_NS_PER_S,
                         .start_real_ns = coord_node_time(cl, start_coord)};
        rw[p] = (t_wait_t){.status = 1};
        int64_t id = coord_run(cl, "127.0.0.1", lw[p].port, &s, NULL, t_on_result, &rw[p]);
        CHECK(id > 0, "run %u: %s", p, strerror((int)-id));
    }
    int64_t test_len = count * period;
    end = run_mono + lead + test_len + 60 * VMTP_NS_PER_S;
    for (unsigned p = 0; p < pairs && clock_mono_ns() < end; p++)
        t_poll_until(c, &rw[p].status, 1, end - clock_mono_ns());
    int64_t last = 0;
    int64_t smin = INT64_MAX, smax = INT64_MIN;
    hist_t *merged = hist_new();
    uint64_t sum = 0, ok = 0;
    int64_t min_each = INT64_MAX, max_each = INT64_MIN;
    for (unsigned p = 0; p < pairs; p++) {
        CHECK(rw[p].status == 0, "pair %u: status %d %s", p, rw[p].status, rw[p].res.error);
        if (rw[p].status != 0)
            continue;
        ok++;
        if (rw[p].at > last)
            last = rw[p].at;
        const report_t *L = &rw[p].dp.local;
        int64_t st = coord_time_of_node(t_agents[pairs + p].node, L->data_start_real_ns);
        if (st < smin)
            smin = st;
        if (st > smax)
            smax = st;
        CHECK(L->rr_received == (uint64_t)count, "pair %u: %" PRIu64 " replies", p, L->rr_received);
        if (L->rtt_user && merged) {
            sum += hist_count(L->rtt_user);
            CHECK(hist_merge(merged, L->rtt_user) == 0, "merge %u", p);
            if (hist_min(L->rtt_user) < min_each)
                min_each = hist_min(L->rtt_user);
            if (hist_max(L->rtt_user) > max_each)
                max_each = hist_max(L->rtt_user);
        }
    }
    if (ok == pairs && merged) {
        int64_t bound = 0;
        coord_node_offset_ns(t_agents[pairs].node, &bound);
        double skew_ms = (double)(smax - smin) / 1e6;
        double late_ms = (double)(smax - start_coord) / 1e6;
        double early_ms = (double)(start_coord - smin) / 1e6;
        double past_end_s = (double)(last - (run_mono + lead + test_len)) / 1e9;
        printf("scale: %u agents (%u pairs) ready in %.2f s; start skew %.3f ms (first %.3f ms %s the scheduled "
               "instant, last %.3f ms after); all %u RESULTs %.2f s after the test's end; merged RTT histogram %" PRIu64
               " samples, p50 %.1f us p99 %.1f us; coordinator peak RSS %ld KiB; wall %.2f s\n",
               n, pairs, connect_s, skew_ms, early_ms < 0 ? -early_ms : early_ms, early_ms <= 0 ? "after" : "before",
               late_ms, pairs, past_end_s, hist_count(merged), (double)hist_percentile(merged, 50) / 1e3,
               (double)hist_percentile(merged, 99) / 1e3, t_self_hwm_kib(), (double)(last - t_start) / 1e9);
        /* Every start follows the schedule: none before it (beyond the clock bound), none late by
         * more than a loaded 2-CPU machine can explain. Without the absolute start, the first
         * pairs would begin as soon as they were set up, a second or more before it. */
        CHECK(smin >= start_coord - bound - VMTP_NS_PER_MS, "a pair started %.3f ms before the scheduled instant",
              early_ms);
        CHECK(smax - start_coord < 500 * VMTP_NS_PER_MS, "a pair started %.1f ms after the scheduled instant", late_ms);
        CHECK(past_end_s < 10, "results came %.2f s after the test's end", past_end_s);
        /* A lossless merge: counts add up and the extremes are kept. */
        CHECK_EQ_U64(hist_count(merged), sum, "merged count");
        CHECK_EQ_U64(sum, (uint64_t)count * pairs, "samples");
        CHECK(hist_min(merged) == min_each && hist_max(merged) == max_each, "merged extremes");
    }
    hist_destroy(&merged);
    for (unsigned p = 0; p < pairs; p++)
        dp_result_fini(&rw[p].dp);
out:
    coord_destroy(&c);
    for (unsigned i = 0; i < t_n_agents; i++) {
        int st = t_agent_wait(&t_agents[i], 10 * VMTP_NS_PER_S);
        CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "agent %u after BYE: status %d", i, st);
    }
    t_agents_reap();
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_coord BINDIR basic|keys|orphan|kill|scale N ...\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    log_threshold = getenv("VMTP_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR;
    log_set_program("test_coord");
    snprintf(t_node_bin, sizeof t_node_bin, "%s/vmtp-node", argv[1]);
    if (access(t_node_bin, X_OK) < 0) {
        fprintf(stderr, "no %s\n", t_node_bin);
        return 2;
    }
    for (int i = 2; i < argc && check_keep_going(); i++) {
        printf("== %s\n", argv[i]);
        fflush(stdout);
        if (!strcmp(argv[i], "basic"))
            t_case_basic();
        else if (!strcmp(argv[i], "keys"))
            t_case_keys();
        else if (!strcmp(argv[i], "flow"))
            t_case_flow();
        else if (!strcmp(argv[i], "raw"))
            t_case_raw();
        else if (!strcmp(argv[i], "ipv6"))
            t_case_ipv6();
        else if (!strcmp(argv[i], "signals"))
            t_case_signals();
        else if (!strcmp(argv[i], "orphan"))
            t_case_orphan();
        else if (!strcmp(argv[i], "kill"))
            t_case_kill();
        else if (!strcmp(argv[i], "scale") && i + 1 < argc)
            t_case_scale((unsigned)atoi(argv[++i]));
        else {
            fprintf(stderr, "unknown case '%s'\n", argv[i]);
            return 2;
        }
        fflush(stdout);
    }
    t_agents_reap();
    return check_exit("test_coord");
}
