/* coord.h — the coordinator core: one event loop driving many node agents at once
 * (docs/PROTOCOL.md, control plane; ARCHITECTURE.md, control plane).
 *
 * One thread, one loop (STYLE rule 11): coord_poll() waits in zmq_poll on every node's DEALER
 * socket and on a signalfd (SIGINT, SIGTERM, SIGHUP), with the timeout set by the nearest timer
 * (heartbeats, request deadlines, silence bounds); it never blocks on one node while others
 * wait. Everything a caller asks for is asynchronous: the answer arrives through a callback
 * called from coord_poll(), in the caller's thread.
 *
 * Callbacks must not call coord_poll or coord_destroy (the loop is in the middle of a frame); they
 * may start new requests (coord_run, coord_listen, ...).
 *
 * Per node: CURVE client socket (the coordinator's key pair is made per run; each node gets its
 * own key pair, whose secret the launcher hands the agent on stdin), HELLO with a version check,
 * heartbeats both ways, and loss detection: a node silent longer than silence_ms is LOST, and
 * every request or test pending on it ends through its callback with -ENOTCONN and a reason,
 * while the other nodes go on.
 */
#ifndef VMTP_COORD_H
#define VMTP_COORD_H

#include "dpclient.h"
#include "vmtp/proto.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct coord coord_t;
typedef struct coord_node coord_node_t;

/* Length of a Z85 CURVE key, and the buffer for one (with its NUL). */
#define COORD_KEY_LEN 40
#define COORD_KEY_SIZE 41

typedef struct {
    const char *run_id;         /* this run's id, sent in HELLO (not owned; may be NULL) */
    uint32_t heartbeat_ms;      /* heartbeat period both ways (0 = 1000) */
    uint32_t silence_ms;        /* a node silent this long is lost; agents exit after it (0 = 5000) */
    int64_t request_timeout_ns; /* bound on HELLO, LISTEN and CLOCK answers (0 = 10 s) */
    bool signals;               /* block SIGINT/SIGTERM and watch them with a signalfd */
} coord_cfg_t;

typedef enum {
    COORD_NODE_CONNECTING = 0, /* HELLO sent, no answer yet */
    COORD_NODE_READY,          /* HELLO answered, heartbeats flowing */
    COORD_NODE_LOST,           /* silent longer than silence_ms, or refused (reason says why) */
    COORD_NODE_CLOSED,         /* BYE sent or received */
} coord_node_state_t;

/* A finished test, as the node reported it. */
typedef struct {
    uint64_t test_id; /* the test */
    int status;       /* 0, or -errno (node lost: -ENOTCONN) */
    char error[513];  /* why it failed */
    dp_result_t res;  /* both ends' reports and intervals (owned by the coordinator; valid
                         during the callback only: take what you need, or coord_result_take) */
} coord_result_t;

typedef void (*coord_hello_fn)(coord_node_t *n, int status, void *arg);
typedef void (*coord_listen_fn)(coord_node_t *n, int status, uint16_t port, void *arg);
typedef void (*coord_interval_fn)(coord_node_t *n, uint64_t test_id, const interval_t *iv, bool remote, void *arg);
typedef void (*coord_result_fn)(coord_node_t *n, coord_result_t *r, void *arg);
typedef void (*coord_clock_fn)(coord_node_t *n, int status, const proto_clock_t *c, void *arg);
/* PING's answer: status 0 with the node's reply (valid during the call), or -errno with why. */
typedef void (*coord_ping_fn)(coord_node_t *n, int status, const char *why, const proto_ping_t *p, void *arg);

/* Makes a coordinator with its own CURVE key pair. Returns NULL with -errno in *err. */
coord_t *coord_new(const coord_cfg_t *cfg, int *err);
/* Says BYE to every node still connected, closes everything; NULL-safe, nulls *self. */
void coord_destroy(coord_t **self);

/* The coordinator's public key (Z85), to hand every agent. */
const char *coord_public_key(const coord_t *self);
/* A fresh CURVE key pair for a node (Z85). Returns 0 or -errno. */
int coord_keypair(char public_key[COORD_KEY_SIZE], char secret_key[COORD_KEY_SIZE]);

/* Connects to the agent at endpoint ("tcp://host:port") whose public key is node_public, and sends
 * HELLO; done(n, 0) once it answered (state READY), done(n, -errno) if it did not within the
 * request timeout, spoke another protocol version, or was refused. name labels the node in
 * messages (not owned). Returns the node (owned by the coordinator), or NULL with -errno in *err. */
coord_node_t *coord_add_node(coord_t *self, const char *name, const char *endpoint, const char *node_public,
                             coord_hello_fn done, void *arg, int *err);

coord_node_state_t coord_node_state(const coord_node_t *n);
/* Why a node is LOST or CLOSED ("" otherwise). */
const char *coord_node_reason(const coord_node_t *n);
const char *coord_node_name(const coord_node_t *n);
/* The node's HELLO (valid once READY). */
const proto_hello_t *coord_node_hello(const coord_node_t *n);
/* The node's clock minus the coordinator's, from HELLO's round trip, and its error bound. */
int64_t coord_node_offset_ns(const coord_node_t *n, int64_t *bound_ns);

/* Arms the node's data-plane server on port (0 = any) and bind address (NULL/"" = all). */
int coord_listen(coord_node_t *n, uint16_t port, const char *bind, coord_listen_fn done, void *arg);

/* Runs the client side of a test on n against target:port. spec->start_real_ns is in the node's
 * clock (coord_node_time converts). Progress goes to on_interval (may be NULL), the end to done.
 * Returns the test's id (> 0), or -errno. */
int64_t coord_run(coord_node_t *n, const char *target, uint16_t port, const test_spec_t *spec,
                  coord_interval_fn on_interval, coord_result_fn done, void *arg);
/* Stops a test on its node (the node still reports a RESULT); test_id 0 stops every test and
 * PING on every node. Returns 0 or -ENOENT. */
int coord_stop(coord_t *self, uint64_t test_id);

/* Measures the clock offset of peer's data-plane server (at peer:port) relative to n, on the data
 * path (docs/PROTOCOL.md, CLOCK). */
int coord_clock(coord_node_t *n, const char *peer, uint16_t port, uint32_t count, int64_t interval_ns,
                coord_clock_fn done, void *arg);

/* ICMP echoes from node n to target (docs/PROTOCOL.md, PING). Returns 0 or -errno. */
int coord_ping(coord_node_t *n, const char *target, uint32_t payload_len, uint32_t count, int64_t interval_ns,
               int64_t timeout_ns, coord_ping_fn done, void *arg);

/* A coordinator CLOCK_REALTIME instant in n's clock (by coord_node_offset_ns). */
int64_t coord_node_time(const coord_node_t *n, int64_t coord_real_ns);

/* A node CLOCK_REALTIME instant in the coordinator's clock (the inverse of coord_node_time). */
int64_t coord_time_of_node(const coord_node_t *n, int64_t node_real_ns);

/* Moves the result's dp_result_t out of r (the callback's r) into *out; the caller owns it then. */
void coord_result_take(coord_result_t *r, dp_result_t *out);

/* Runs the loop once: waits at most timeout_ns (< 0 = until the next timer) for sockets, signals
 * and timers, and calls the callbacks due. Returns 0, -EINTR when SIGINT or SIGTERM arrived (with
 * cfg.signals), or -errno. */
int coord_poll(coord_t *self, int64_t timeout_ns);

/* Detaches every pending request whose callback argument is arg: its answer, when it comes, is
 * dropped (its request still ends, by answer or deadline). For a caller about to free arg.
 * Returns how many were detached. */
unsigned coord_detach(coord_t *self, const void *arg);

/* Requests and tests still pending on any node. */
unsigned coord_pending(const coord_t *self);

/* The last signal coord_poll saw (SIGINT, SIGTERM or SIGHUP; 0 = none). */
int coord_last_signal(const coord_t *self);

#endif
