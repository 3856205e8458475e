/* sockutil.h — addresses and socket plumbing shared by every engine module.
 *
 * All functions return 0 (or a count) on success and -errno on failure; none logs.
 */
#ifndef VMTP_SOCKUTIL_H
#define VMTP_SOCKUTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A socket address with its length. */
typedef struct {
    struct sockaddr_storage ss; /* the address */
    socklen_t len;              /* bytes of ss in use; 0 = unset */
} sockaddr_any_t;

/* Longest text sock_addr_str() writes, NUL included: "[v6%scope]:65535". */
#define SOCK_ADDR_STRLEN 80

/* Resolves host (numeric IPv4/IPv6 first, then a name lookup) with port into *out.
 * family is AF_UNSPEC, AF_INET or AF_INET6. -EINVAL when host is empty or not an address and
 * cannot be looked up (the caller names the host in its message). */
int sock_resolve(const char *host, uint16_t port, int family, sockaddr_any_t *out);

/* "198.18.0.1:5001" or "[2001:db8::1]:5001" into buf (cap bytes). Returns buf. */
char *sock_addr_str(const sockaddr_any_t *a, char *buf, size_t cap);
/* Only the address part ("198.18.0.1"), no port. Returns buf. */
char *sock_addr_host(const sockaddr_any_t *a, char *buf, size_t cap);
/* Port of an address (host order). */
uint16_t sock_addr_port(const sockaddr_any_t *a);
/* Sets the port of an address. */
void sock_addr_set_port(sockaddr_any_t *a, uint16_t port);

/* Connects a new socket of `type` (SOCK_STREAM/SOCK_DGRAM) to dst, optionally bound to src
 * (len 0 = any), giving up after timeout_ns or when *stop becomes true (stop may be NULL).
 * On success stores the blocking, close-on-exec fd in *fd_out and returns 0;
 * -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, ... otherwise. */
int sock_connect(const sockaddr_any_t *dst, const sockaddr_any_t *src, int type, int64_t timeout_ns,
                 const atomic_bool *stop, int *fd_out);

/* Asks for send/receive buffers of the given bytes (0 = leave as is). Uses the *FORCE
 * variants first, so root gets the size even above net.core.[rw]mem_max, then the plain ones.
 * Returns 0 if the kernel granted at least the request, -ENOBUFS if it granted less. */
int sock_set_buffers(int fd, int sndbuf, int rcvbuf);

/* Writes all n bytes, waiting at most until deadline_mono_ns (0 = no deadline) and giving up
 * early when *stop (may be NULL). Returns 0, -ETIMEDOUT, -ECANCELED or -errno. */
int sock_write_full(int fd, const void *buf, size_t n, int64_t deadline_mono_ns, const atomic_bool *stop);
/* Reads exactly n bytes likewise. A clean EOF before n bytes gives -ECONNRESET. */
int sock_read_full(int fd, void *buf, size_t n, int64_t deadline_mono_ns, const atomic_bool *stop);

/* Waits until fd is readable (events POLLIN) or writable (POLLOUT), for at most timeout_ns
 * (< 0 = forever). Returns 1 when ready, 0 on timeout, -errno. */
int sock_wait(int fd, short events, int64_t timeout_ns);

#endif
