/* test_dpserver.c — the data-plane server against hostile and greedy clients, in process, on
 * loopback (127.0.0.1 and 127.0.0.2, both local).
 *
 *  - a UDP HELLO from another address than the control connection's never binds the test's
 *    datagrams (no reflection to a third party); the same HELLO from the client's own address does;
 *  - one address gets at most 16 sessions; the 17th is refused with EBUSY and a sentence;
 *  - a TEST asking for more data streams than the server's budget is refused with EBUSY;
 *  - garbage control frames end only their own session; the server keeps serving.
 */
#include "../unit/check.h"

#include "dpclient.h"
#include "dpconn.h"
#include "dpserver.h"
#include "result.h"
#include "sockutil.h"
#include "vmtp/clock.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_bool s_stop;
static dpserver_t *s_srv;
static uint16_t s_port;

static void *s_serve(void *arg)
{
    (void)arg;
    dpserver_run(s_srv);
    return NULL;
}

/* A control connection from `from` (NULL = any) with the greeting sent. */
static int s_control(const char *from, dpconn_t *c)
{
    sockaddr_any_t dst, src = {0};
    sock_resolve("127.0.0.1", s_port, AF_INET, &dst);
    if (from)
        sock_resolve(from, 0, AF_INET, &src);
    int fd;
    if (sock_connect(&dst, &src, SOCK_STREAM, VMTP_NS_PER_S, NULL, &fd) < 0)
        return -1;
    uint8_t g[DP_GREETING_LEN];
    dp_greeting_put(g, DP_KIND_CONTROL);
    if (sock_write_full(fd, g, sizeof g, 0, NULL) < 0 || dpconn_init(c, fd) < 0)
        return -1;
    return 0;
}

static test_spec_t s_spec(uint8_t proto, uint16_t streams)
{
    test_spec_t t = {.proto = proto,
                     .streams = streams,
                     .len = proto == TEST_TCP ? 65536 : 1024,
                     .duration_ns = VMTP_NS_PER_S,
                     .rate_bps = 10000000,
                     .reverse = true,
                     .rr_timeout_ns = VMTP_NS_PER_S};
    return t;
}

/* Sends TEST and returns the reply's type (ACCEPT's cookie in *cookie, ERROR's text in why). */
static int s_request(dpconn_t *c, const test_spec_t *t, uint64_t *cookie, char *why, size_t cap)
{
    dp_msg_t m;
    dp_msg_init(&m, DP_MSG_TEST);
    m.test = *t;
    if (dpconn_send(c, &m, NULL) < 0 || dpconn_recv(c, &m, 3 * VMTP_NS_PER_S, NULL) < 0)
        return -1;
    if (cookie)
        *cookie = m.cookie;
    if (why)
        snprintf(why, cap, "%s", m.text);
    int type = m.type;
    dp_msg_fini(&m);
    return type;
}

static int s_udp_from(const char *addr)
{
    sockaddr_any_t src, dst;
    sock_resolve(addr, 0, AF_INET, &src);
    sock_resolve("127.0.0.1", s_port, AF_INET, &dst);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&src.ss, src.len) < 0 ||
        connect(fd, (struct sockaddr *)&dst.ss, dst.len) < 0)
        return -1;
    return fd;
}

static void s_hello(int fd, uint64_t cookie)
{
    uint8_t b[DP_DGRAM_HDR_LEN];
    dp_dgram_t d = {.kind = DP_DGRAM_HELLO, .seq = cookie};
    dp_dgram_put(b, &d);
    send(fd, b, sizeof b, 0);
}

static void test_spoofed_hello(void)
{
    dpconn_t c;
    uint64_t cookie = 0;
    CHECK(s_control("127.0.0.1", &c) == 0, "control connection");
    test_spec_t t = s_spec(TEST_UDP, 1);
    CHECK(s_request(&c, &t, &cookie, NULL, 0) == DP_MSG_ACCEPT, "reverse UDP test accepted");
    int victim = s_udp_from("127.0.0.2");
    CHECK(victim >= 0, "socket on 127.0.0.2");
    for (int i = 0; i < 5; i++)
        s_hello(victim, cookie);
    dp_msg_t m;
    int rc = dpconn_recv(&c, &m, 500 * VMTP_NS_PER_MS, NULL);
    CHECK(rc == -ETIMEDOUT, "a HELLO from another address must not bind the test (got %d, type %d)", rc,
          rc == 0 ? m.type : -1);
    int own = s_udp_from("127.0.0.1");
    s_hello(own, cookie);
    rc = dpconn_recv(&c, &m, 3 * VMTP_NS_PER_S, NULL);
    CHECK(rc == 0 && m.type == DP_MSG_READY, "the client's own HELLO binds it (rc %d)", rc);
    dp_msg_init(&m, DP_MSG_START);
    dpconn_send(&c, &m, NULL);
    /* The server now sends to the client's own socket, never to the victim's. */
    CHECK(sock_wait(own, POLLIN, 2 * VMTP_NS_PER_S) == 1, "datagrams reach the client");
    CHECK(sock_wait(victim, POLLIN, 200 * VMTP_NS_PER_MS) == 0, "nothing reaches the other address");
    close(victim);
    close(own);
    dpconn_fini(&c);
}

static void test_session_limit(void)
{
    dpconn_t c[17];
    int open = 0;
    for (int i = 0; i < 17; i++)
        if (s_control("127.0.0.2", &c[i]) == 0)
            open++;
    CHECK(open == 17, "17 control connections open");
    /* Sessions start once the greeting is read; give the server the time to read them all. */
    dp_msg_t m;
    int refused = 0;
    /* The refusal is sent as soon as the 17th greeting is read: wait for it on the last one
     * (the server reads greetings in order), then look at every connection. */
    for (int i = 0; i < 17; i++) {
        if (dpconn_recv(&c[i], &m, (i == 16 ? 2000 : 20) * VMTP_NS_PER_MS, NULL) == 0) {
            if (m.type == DP_MSG_ERROR && m.error_code == EBUSY && strstr(m.text, "from your address"))
                refused++;
            dp_msg_fini(&m);
        }
    }
    CHECK(refused == 1, "exactly one of 17 sessions from one address refused with EBUSY (got %d)", refused);
    for (int i = 0; i < 17; i++)
        dpconn_fini(&c[i]);
}

static void test_stream_budget(void)
{
    dpconn_t a, b;
    char why[DP_TEXT_MAX] = "";
    CHECK(s_control(NULL, &a) == 0 && s_control(NULL, &b) == 0, "two control connections");
    test_spec_t t = s_spec(TEST_TCP, 128);
    /* Earlier tests' sessions give their streams back as they notice their clients left: retry
     * (up to 3 s) until the whole budget is free. */
    int got = -1;
    for (int i = 0; i < 30 && (got = s_request(&a, &t, NULL, NULL, 0)) == DP_MSG_ERROR; i++)
        clock_sleep_until_mono(clock_mono_ns() + 100 * VMTP_NS_PER_MS);
    CHECK(got == DP_MSG_ACCEPT, "128 streams accepted");
    for (int i = 0; i < 30 && (got = s_request(&b, &t, NULL, NULL, 0)) == DP_MSG_ERROR; i++)
        clock_sleep_until_mono(clock_mono_ns() + 100 * VMTP_NS_PER_MS);
    CHECK(got == DP_MSG_ACCEPT, "another 128 streams accepted (256 in use)");
    dpconn_t c3;
    CHECK(s_control(NULL, &c3) == 0, "third control connection");
    t.streams = 1;
    CHECK(s_request(&c3, &t, NULL, why, sizeof why) == DP_MSG_ERROR, "a 257th stream is refused");
    CHECK(strstr(why, "data streams in use") != NULL, "the refusal says why: '%s'", why);
    dpconn_fini(&a);
    dpconn_fini(&b);
    dpconn_fini(&c3);
}

static void test_garbage_frames(void)
{
    dpconn_t c;
    CHECK(s_control(NULL, &c) == 0, "control connection");
    uint8_t junk[] = {0x00, 0x00, 0x00, 0x05, 0x63, 0xff, 0xff, 0xff, 0xff};
    sock_write_full(c.fd, junk, sizeof junk, 0, NULL);
    dp_msg_t m;
    int rc = dpconn_recv(&c, &m, 2 * VMTP_NS_PER_S, NULL);
    CHECK(rc == 0 && m.type == DP_MSG_ERROR && m.error_code == EPROTO, "a malformed frame gets ERROR EPROTO");
    dpconn_fini(&c);
    dpconn_t d;
    uint64_t cookie;
    test_spec_t t = s_spec(TEST_RR_UDP, 1);
    t.reverse = false;
    t.len = 64;
    CHECK(s_control(NULL, &d) == 0 && s_request(&d, &t, &cookie, NULL, 0) == DP_MSG_ACCEPT,
          "the server still accepts tests afterwards");
    dpconn_fini(&d);
}

/* A server listening on every address answers UDP from the address the client sent to: a
 * reply from another of its addresses would be dropped by the client's connected socket. */
static void test_second_address(void)
{
    dpclient_cfg_t cfg = {.connect_timeout_ns = 2 * VMTP_NS_PER_S};
    sock_resolve("127.0.0.2", s_port, AF_INET, &cfg.server);
    sock_resolve("127.0.0.2", 0, AF_INET, &cfg.bind);
    char why[512] = "";
    int err = 0, rc = -1;
    dpclient_t *cli = NULL;
    test_spec_t t = s_spec(TEST_UDP, 1);
    t.duration_ns = 500 * VMTP_NS_PER_MS;
    dp_result_t res = {0};
    /* The previous test's 16 sessions from this address end as the server notices: retry while
     * it still counts them (EBUSY), up to 3 s. */
    for (int i = 0; i < 30; i++) {
        dpclient_destroy(&cli);
        dp_result_fini(&res);
        cli = dpclient_new(&cfg, &err, why, sizeof why);
        if (cli && (rc = dpclient_run(cli, &t, &res, why, sizeof why)) != -EBUSY)
            break;
        clock_sleep_until_mono(clock_mono_ns() + 100 * VMTP_NS_PER_MS);
    }
    CHECK(cli != NULL, "client to 127.0.0.2: %s", why);
    if (!cli)
        return;
    CHECK(rc == 0, "reverse UDP to the server's second address: %s", why);
    result_summary_t sum;
    result_summarize(&res, &sum);
    CHECK(rc != 0 || (sum.rx_packets > 0 && sum.lost == 0), "datagrams from the right address arrive (%llu, lost %llu)",
          (unsigned long long)sum.rx_packets, (unsigned long long)sum.lost);
    t.proto = TEST_RR_UDP;
    t.reverse = false;
    t.len = 64;
    t.rr_count = 200;
    t.duration_ns = 10 * VMTP_NS_PER_S;
    dp_result_fini(&res);
    rc = dpclient_run(cli, &t, &res, why, sizeof why);
    CHECK(rc == 0 && res.local.rr_received == 200, "UDP RR to the second address: %s", why);
    dp_result_fini(&res);
    dpclient_destroy(&cli);
}

int main(void)
{
    char why[256] = "";
    int err = 0;
    /* Port 0: the kernel's choice, the same for TCP and UDP, never one a neighbouring test holds. */
    dpserver_cfg_t cfg = {.bind_host = "0.0.0.0", .port = 0, .stop = &s_stop};
    s_srv = dpserver_new(&cfg, &err, why, sizeof why);
    if (!s_srv) {
        printf("FAIL: cannot start a server: %s\n", why);
        return 1;
    }
    s_port = dpserver_port(s_srv);
    pthread_t th;
    pthread_create(&th, NULL, s_serve, NULL);
    test_spoofed_hello();
    test_session_limit();
    test_second_address();
    test_garbage_frames();
    test_stream_budget();
    atomic_store(&s_stop, true);
    pthread_join(th, NULL);
    dpserver_destroy(&s_srv);
    return check_exit("test_dpserver");
}
