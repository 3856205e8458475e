/* dpserver.h — the data-plane server: serves TCP, UDP and RR tests to many clients at once.
 *
 * One thread accepts on the TCP port and reads every new connection's greeting without ever
 * blocking on it (a slow or garbage-sending peer is dropped after DPSERVER_GREETING_TIMEOUT_NS);
 * the same thread binds UDP clients. Each control connection gets its own session thread, and
 * each running test its own engine threads, so one client never waits for another (iperf3's
 * "server is busy" does not exist here). UDP tests get a per-session socket bound to the same
 * port (SO_REUSEPORT) and connected to the client, so the kernel steers each client's datagrams
 * to its own socket and the drop counter of that socket belongs to that test alone.
 */
#ifndef VMTP_DPSERVER_H
#define VMTP_DPSERVER_H

#include "sockutil.h"

#include <stdatomic.h>
#include <stdint.h>

#define DPSERVER_DEFAULT_PORT 5001
#define DPSERVER_MAX_SESSIONS 64
#define DPSERVER_MAX_STREAMS 256 /* data sockets of all running tests together */
#define DPSERVER_GREETING_TIMEOUT_NS (5 * 1000 * 1000 * 1000LL)
#define DPSERVER_IDLE_TIMEOUT_NS (120 * 1000 * 1000 * 1000LL)

typedef struct dpserver dpserver_t;

typedef struct {
    const char *bind_host;   /* address to listen on; NULL = every IPv4 and IPv6 address */
    uint16_t port;           /* TCP and UDP port (0 = any free one, the same for both) */
    unsigned max_sessions;   /* concurrent control connections (0 = DPSERVER_MAX_SESSIONS) */
    const atomic_bool *stop; /* set to true to make dpserver_run return (not owned) */
} dpserver_cfg_t;

/* Counters, for the log and for tests. */
typedef struct {
    uint64_t sessions;        /* control connections accepted */
    uint64_t tests;           /* tests run to the end */
    uint64_t rejected;        /* connections dropped for a bad or missing greeting */
    uint64_t stray_datagrams; /* UDP datagrams on the listening socket that were not a HELLO */
} dpserver_stats_t;

/* Binds the listeners. Returns the server, or NULL with -errno in *err and a reason in why. */
dpserver_t *dpserver_new(const dpserver_cfg_t *cfg, int *err, char *why, size_t whycap);

/* The port the server listens on (the kernel's choice when cfg->port was 0). */
uint16_t dpserver_port(const dpserver_t *self);

/* Serves until *cfg->stop. Returns 0, or -errno if the listeners failed. */
int dpserver_run(dpserver_t *self);

/* Snapshot of the counters (thread-safe). */
void dpserver_stats(dpserver_t *self, dpserver_stats_t *out);

/* Stops sessions, joins every thread, closes every socket; NULL-safe, nulls *self. */
void dpserver_destroy(dpserver_t **self);

#endif
