/* test_icmp.c — icmp_run() against loopback only (127.0.0.1 and, when present, ::1).
 *
 * The kernel switches RX software stamping on for the whole machine some time after the first
 * socket asks for it (net_enable_timestamp() defers it to a work queue), so a cold first run
 * may miss the RX stamp of its first replies. That run is checked against the documented
 * rule only; then the test waits until a loopback UDP datagram comes back stamped, keeps that
 * socket open so the switch stays on, and checks every run strictly.
 * When allowed (root), a child in a new network namespace with ping_group_range opened for
 * our gid covers the ping-socket path too, whatever the host allows.
 *
 * Exit 0 pass, 1 fail, 77 skip (no ping socket and no raw socket can be opened).
 */
#include "icmp.h"
#include "tstamp.h"

#include "vmtp/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define SKIP 77
#define COUNT 20

static int s_failures;

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                            \
            s_failures++;                                                                                              \
        }                                                                                                              \
    } while (0)

/* Parameters for COUNT pings to host, 2 ms apart. */
static icmp_params_t s_params(const char *host, uint32_t payload_len)
{
    icmp_params_t p;
    memset(&p, 0, sizeof p);
    if (sock_resolve(host, 0, AF_UNSPEC, &p.target) < 0)
        fprintf(stderr, "cannot parse %s\n", host);
    p.payload_len = payload_len;
    p.count = COUNT;
    p.interval_ns = 2 * VMTP_NS_PER_MS;
    p.timeout_ns = 1000 * VMTP_NS_PER_MS;
    return p;
}

/* True when ::1 is configured (a UDP socket can bind to it). */
static int s_have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* One run of COUNT pings; returns the icmp_run() code after checking a successful result.
 * strict: every reply must have both kernel stamps. kind: the socket kind wanted, 0 = any. */
static int s_ping_loopback(const char *host, uint32_t payload_len, bool strict, int kind)
{
    icmp_params_t p = s_params(host, payload_len);
    icmp_result_t r;
    memset(&r, 0, sizeof r);
    r.rtt = hist_new();
    r.rtt_user = hist_new();
    if (!r.rtt || !r.rtt_user) {
        hist_destroy(&r.rtt);
        hist_destroy(&r.rtt_user);
        return -ENOMEM;
    }
    int rc = icmp_run(&p, NULL, &r);
    if (rc == 0) {
        printf("%-9s %-6s payload %4" PRIu32 ": socket=%s tx=%" PRIu64 " rx=%" PRIu64 " lost=%" PRIu64 " dup=%" PRIu64
               " err=%" PRIu64 " source=%s stamps_missing=%" PRIu64 " rtt n=%" PRIu64 " min/p50/max=%" PRId64
               "/%" PRId64 "/%" PRId64 " ns, user p50=%" PRId64 " ns\n",
               host, strict ? "" : "(cold)", payload_len, icmp_socket_kind_name(r.socket_kind), r.tx_packets,
               r.rx_packets, r.lost, r.duplicates, r.errors, tstamp_source_name(r.timestamp_source), r.stamps_missing,
               hist_count(r.rtt), hist_min(r.rtt), hist_percentile(r.rtt, 50), hist_max(r.rtt),
               hist_percentile(r.rtt_user, 50));
        CHECK(r.tx_packets == COUNT);
        CHECK(r.rx_packets == COUNT);
        CHECK(r.lost == 0);
        CHECK(r.duplicates == 0);
        CHECK(r.errors == 0);
        CHECK(r.socket_kind == ICMP_SOCKET_PING || r.socket_kind == ICMP_SOCKET_RAW);
        CHECK(!kind || r.socket_kind == kind);
        CHECK(hist_count(r.rtt_user) == COUNT);
        if (r.timestamp_source == TSTAMP_SOURCE_KERNEL) {
            CHECK(hist_count(r.rtt) == r.rx_packets - r.stamps_missing);
            CHECK(r.stamps_missing * 100 <= r.rx_packets * (100 - ICMP_KERNEL_MIN_PCT));
        } else {
            CHECK(r.timestamp_source == TSTAMP_SOURCE_USER);
            CHECK(hist_count(r.rtt) == r.rx_packets);
            CHECK(r.stamps_missing * 100 > r.rx_packets * (100 - ICMP_KERNEL_MIN_PCT));
        }
        CHECK(hist_min(r.rtt) > 0);
        CHECK(hist_percentile(r.rtt, 50) < 5 * VMTP_NS_PER_MS);
        /* The kernel stamps lie inside the user-space send..receive span. */
        CHECK(hist_percentile(r.rtt, 50) <= hist_percentile(r.rtt_user, 50));
        CHECK(hist_min(r.rtt) <= hist_min(r.rtt_user));
        if (strict) {
            /* Loopback gives software TX and RX stamps: with stamping on, every reply has both. */
            CHECK(r.timestamp_source == TSTAMP_SOURCE_KERNEL);
            CHECK(r.stamps_missing == 0);
            CHECK(hist_count(r.rtt) == COUNT);
        }
    }
    hist_destroy(&r.rtt);
    hist_destroy(&r.rtt_user);
    return rc;
}

/* Bad parameters are refused before any socket is opened, and *out stays untouched. */
static void s_test_params(void)
{
    hist_t *h = hist_new();
    CHECK(h);
    if (!h)
        return;
    icmp_result_t r;
    memset(&r, 0xa5, sizeof r);
    r.rtt = h;
    r.rtt_user = NULL;
    icmp_params_t p = s_params("127.0.0.1", 64);
    p.count = 0;
    CHECK(icmp_run(&p, NULL, &r) == -EINVAL);
    p = s_params("127.0.0.1", ICMP_PAYLOAD_MAX + 1);
    CHECK(icmp_run(&p, NULL, &r) == -EINVAL);
    p = s_params("127.0.0.1", 64);
    p.interval_ns = 0;
    CHECK(icmp_run(&p, NULL, &r) == -EINVAL);
    p = s_params("127.0.0.1", 64);
    p.timeout_ns = 0;
    CHECK(icmp_run(&p, NULL, &r) == -EINVAL);
    p = s_params("127.0.0.1", 64);
    p.bind_device = "an-interface-name-too-long";
    CHECK(icmp_run(&p, NULL, &r) == -EINVAL);
    p = s_params("127.0.0.1", 64);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    memcpy(&p.target.ss, &un, sizeof un);
    p.target.len = sizeof un;
    CHECK(icmp_run(&p, NULL, &r) == -EAFNOSUPPORT);
    p = s_params("127.0.0.1", 64);
    r.rtt = NULL;
    CHECK(icmp_run(&p, NULL, &r) == -EINVAL);
    CHECK(r.tx_packets == 0xa5a5a5a5a5a5a5a5ULL);
    CHECK(hist_count(h) == 0);
    CHECK(strcmp(icmp_socket_kind_name(ICMP_SOCKET_PING), "ping") == 0);
    CHECK(strcmp(icmp_socket_kind_name(ICMP_SOCKET_RAW), "raw") == 0);
    CHECK(strcmp(icmp_socket_kind_name(0), "none") == 0);
    hist_destroy(&h);
}

/* A stop flag already set: nothing is sent, 0 is returned, nothing counted. */
static void s_test_stop(void)
{
    hist_t *h = hist_new();
    CHECK(h);
    if (!h)
        return;
    atomic_bool stop = true;
    icmp_params_t p = s_params("127.0.0.1", 64);
    p.count = 1000;
    p.interval_ns = 10 * VMTP_NS_PER_MS;
    icmp_result_t r = {.rtt = h};
    int64_t t0 = clock_mono_ns();
    CHECK(icmp_run(&p, &stop, &r) == 0);
    CHECK(clock_mono_ns() - t0 < 1000 * VMTP_NS_PER_MS);
    CHECK(r.tx_packets == 0 && r.rx_packets == 0 && r.lost == 0);
    CHECK(r.timestamp_source == TSTAMP_SOURCE_NONE);
    CHECK(hist_count(h) == 0);
    hist_destroy(&h);
}

/* Waits (at most 5 s) until a UDP datagram to ourselves on 127.0.0.1 comes back with a kernel
 * RX stamp. Returns the stamping socket, to be kept open so RX stamping stays switched on,
 * or -1 when it never came. */
static int s_warm_rx_stamping(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(fd, (struct sockaddr *)&a, &alen) < 0 ||
        tstamp_enable(fd, false, true) < 0)
        goto fail;
    for (int64_t end = clock_mono_ns() + 5 * VMTP_NS_PER_S; clock_mono_ns() < end;) {
        char byte = 0;
        if (sendto(fd, &byte, 1, 0, (struct sockaddr *)&a, sizeof a) != 1 || sock_wait(fd, POLLIN, VMTP_NS_PER_S) != 1)
            goto fail;
        union {
            char buf[TSTAMP_CMSG_SPACE];
            struct cmsghdr align;
        } control;
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
        if (recvmsg(fd, &msg, 0) != 1)
            goto fail;
        tstamp_rx_t ts;
        tstamp_parse_rx(&msg, &ts);
        if (ts.rx_real_ns)
            return fd;
    }
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

/* In a child in a new network namespace whose ping_group_range holds our gid, pings
 * 127.0.0.1 (and ::1) and requires a ping socket. Returns 0 pass, 1 fail, SKIP. */
static int s_test_ping_socket_netns(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        if (unshare(CLONE_NEWNET) < 0) {
            printf("skipping the ping-socket part: unshare(CLONE_NEWNET): %s\n", strerror(errno));
            fflush(stdout);
            _exit(SKIP);
        }
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        memcpy(ifr.ifr_name, "lo", 3);
        ifr.ifr_flags = IFF_UP;
        int up = fd >= 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
        if (fd >= 0)
            close(fd);
        char range[64];
        int n = snprintf(range, sizeof range, "%u %u\n", (unsigned)getgid(), (unsigned)getgid());
        int sfd = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY | O_CLOEXEC);
        int set = sfd >= 0 && write(sfd, range, (size_t)n) == n;
        if (sfd >= 0)
            close(sfd);
        if (!up || !set) {
            printf("skipping the ping-socket part: cannot set up the namespace\n");
            fflush(stdout);
            _exit(SKIP);
        }
        int rc = s_ping_loopback("127.0.0.1", 64, true, ICMP_SOCKET_PING);
        if (rc == 0 && s_have_ipv6_loopback())
            rc = s_ping_loopback("::1", 64, true, ICMP_SOCKET_PING);
        if (rc < 0)
            fprintf(stderr, "FAIL: icmp_run in netns: %s\n", strerror(-rc));
        fflush(stdout);
        _exit(rc < 0 || s_failures ? 1 : 0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return 1;
    return WEXITSTATUS(status);
}

int main(void)
{
    static const uint32_t sizes[] = {64, 391, 1500};
    int rc = s_ping_loopback("127.0.0.1", 64, false, 0);
    if (rc == -EPERM) {
        printf("SKIP: neither a ping socket (net.ipv4.ping_group_range) nor a raw socket (CAP_NET_RAW) "
               "can be opened\n");
        return SKIP;
    }
    if (rc < 0) {
        fprintf(stderr, "FAIL: icmp_run(127.0.0.1): %s\n", strerror(-rc));
        return 1;
    }
    int warm_fd = s_warm_rx_stamping();
    if (warm_fd < 0) {
        fprintf(stderr, "FAIL: a loopback UDP datagram never came back with a kernel RX stamp\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        rc = s_ping_loopback("127.0.0.1", sizes[i], true, 0);
        if (rc < 0) {
            fprintf(stderr, "FAIL: icmp_run(127.0.0.1, %" PRIu32 "): %s\n", sizes[i], strerror(-rc));
            s_failures++;
        }
    }
    if (s_have_ipv6_loopback()) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            rc = s_ping_loopback("::1", sizes[i], true, 0);
            if (rc < 0) {
                fprintf(stderr, "FAIL: icmp_run(::1, %" PRIu32 "): %s\n", sizes[i], strerror(-rc));
                s_failures++;
            }
        }
    } else {
        printf("skipping the IPv6 part: ::1 is not configured\n");
    }
    s_test_params();
    s_test_stop();
    if (s_test_ping_socket_netns() == 1)
        s_failures++;
    close(warm_fd);
    if (s_failures) {
        fprintf(stderr, "%d check(s) failed\n", s_failures);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
