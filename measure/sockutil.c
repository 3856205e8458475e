/* sockutil.c — address and socket helpers; see sockutil.h. */
#include "sockutil.h"

#include "vmtp/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int sock_resolve(const char *host, uint16_t port, int family, sockaddr_any_t *out)
{
    sockaddr_any_t a;
    memset(&a, 0, sizeof a);
    if (!host || !*host)
        return -EINVAL;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&a.ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.ss;
    if (family != AF_INET6 && inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        a.len = sizeof *in4;
        *out = a;
        return 0;
    }
    /* IPv6, with an optional %scope (link-local). */
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    snprintf(buf, sizeof buf, "%s", host);
    char *pct = strchr(buf, '%');
    if (pct)
        *pct = 0;
    if (family != AF_INET && inet_pton(AF_INET6, buf, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        if (pct) {
            in6->sin6_scope_id = if_nametoindex(pct + 1);
            if (!in6->sin6_scope_id)
                return -EINVAL;
        }
        a.len = sizeof *in6;
        *out = a;
        return 0;
    }
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return -EINVAL;
    memcpy(&a.ss, res->ai_addr, res->ai_addrlen);
    a.len = res->ai_addrlen;
    freeaddrinfo(res);
    sock_addr_set_port(&a, port);
    *out = a;
    return 0;
}

char *sock_addr_host(const sockaddr_any_t *a, char *buf, size_t cap)
{
    char tmp[INET6_ADDRSTRLEN] = "?";
    if (a->ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr, tmp, sizeof tmp);
    else if (a->ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, tmp, sizeof tmp);
    snprintf(buf, cap, "%s", tmp);
    return buf;
}

char *sock_addr_str(const sockaddr_any_t *a, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN];
    sock_addr_host(a, host, sizeof host);
    if (a->ss.ss_family == AF_INET6)
        snprintf(buf, cap, "[%s]:%u", host, sock_addr_port(a));
    else
        snprintf(buf, cap, "%s:%u", host, sock_addr_port(a));
    return buf;
}

uint16_t sock_addr_port(const sockaddr_any_t *a)
{
    if (a->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    if (a->ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return 0;
}

void sock_addr_set_port(sockaddr_any_t *a, uint16_t port)
{
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
    else if (a->ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

int sock_wait(int fd, short events, int64_t timeout_ns)
{
    struct pollfd p = {.fd = fd, .events = events};
    struct timespec ts = clock_ns_to_ts(timeout_ns > 0 ? timeout_ns : 0);
    int n = ppoll(&p, 1, timeout_ns < 0 ? NULL : &ts, NULL);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    return n > 0;
}

int sock_connect(const sockaddr_any_t *dst, const sockaddr_any_t *src, int type, int64_t timeout_ns,
                 const atomic_bool *stop, int *fd_out)
{
    int rc;
    int fd = socket(dst->ss.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (src && src->len && bind(fd, (const struct sockaddr *)&src->ss, src->len) < 0) {
        rc = -errno;
        goto fail;
    }
    if (connect(fd, (const struct sockaddr *)&dst->ss, dst->len) < 0) {
        if (errno != EINPROGRESS) {
            rc = -errno;
            goto fail;
        }
        int64_t deadline = clock_mono_ns() + timeout_ns;
        for (;;) {
            int64_t left = deadline - clock_mono_ns();
            if (left <= 0) {
                rc = -ETIMEDOUT;
                goto fail;
            }
            if (stop && atomic_load(stop)) {
                rc = -ECANCELED;
                goto fail;
            }
            rc = sock_wait(fd, POLLOUT, left < 100 * VMTP_NS_PER_MS ? left : 100 * VMTP_NS_PER_MS);
            if (rc < 0)
                goto fail;
            if (rc > 0)
                break;
        }
        int err = 0;
        socklen_t elen = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            err = errno;
        if (err) {
            rc = -err;
            goto fail;
        }
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        rc = -errno;
        goto fail;
    }
    *fd_out = fd;
    return 0;
fail:
    close(fd);
    return rc;
}

static int s_set_buf(int fd, int force_opt, int opt, int bytes)
{
    if (!bytes)
        return 0;
    if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) < 0)
        setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
    int got = 0;
    socklen_t len = sizeof got;
    if (getsockopt(fd, SOL_SOCKET, opt, &got, &len) < 0)
        return -errno;
    /* The kernel reports twice the requested size (bookkeeping overhead). */
    return got / 2 >= bytes ? 0 : -ENOBUFS;
}

int sock_set_buffers(int fd, int sndbuf, int rcvbuf)
{
    int a = s_set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf);
    int b = s_set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf);
    return a ? a : b;
}

/* One direction of sock_{read,write}_full. */
static int s_full(int fd, void *buf, size_t n, int64_t deadline_mono_ns, const atomic_bool *stop, bool wr)
{
    size_t done = 0;
    while (done < n) {
        if (stop && atomic_load(stop))
            return -ECANCELED;
        int64_t wait = 100 * VMTP_NS_PER_MS;
        if (deadline_mono_ns) {
            int64_t left = deadline_mono_ns - clock_mono_ns();
            if (left <= 0)
                return -ETIMEDOUT;
            if (left < wait)
                wait = left;
        }
        int rc = sock_wait(fd, wr ? POLLOUT : POLLIN, wait);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        ssize_t k = wr ? send(fd, (char *)buf + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL)
                       : recv(fd, (char *)buf + done, n - done, MSG_DONTWAIT);
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        if (k == 0 && !wr)
            return -ECONNRESET;
        done += (size_t)k;
    }
    return 0;
}

int sock_write_full(int fd, const void *buf, size_t n, int64_t deadline_mono_ns, const atomic_bool *stop)
{
    return s_full(fd, (void *)(uintptr_t)buf, n, deadline_mono_ns, stop, true);
}

int sock_read_full(int fd, void *buf, size_t n, int64_t deadline_mono_ns, const atomic_bool *stop)
{
    return s_full(fd, buf, n, deadline_mono_ns, stop, false);
}
