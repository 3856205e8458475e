/* runner.h — runs one end of a test in its own thread, so that the thread owning the control
 * connection stays free to relay progress, honour STOP, and notice a vanished peer.
 *
 * The runner picks the engine from the spec and the end (client/server): the client sends
 * TCP/UDP unless reverse, and requests RR; the server does the other half.
 */
#ifndef VMTP_RUNNER_H
#define VMTP_RUNNER_H

#include "flow.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct {
    test_spec_t spec;                 /* copy of the test */
    report_role_t role;               /* what this end does */
    int fds[TEST_MAX_STREAMS];        /* data sockets (owned: closed by runner_fini) */
    unsigned nfds;                    /* fds in use */
    atomic_bool stop;                 /* set to abort the engine */
    atomic_bool peer_done;            /* UDP receiver: the sender's final count arrived */
    _Atomic uint64_t peer_tx_packets; /* ... and this is it */
    flow_interval_fn on_interval;     /* progress callback (engine thread), may be NULL */
    void *cb_arg;                     /* its argument */
    report_t report;                  /* what this end measured (valid after runner_join) */
    int rc;                           /* engine's return (valid after runner_join) */
    pthread_t tid;                    /* engine thread */
    bool started;                     /* tid is joinable */
    atomic_bool done;                 /* engine returned */
} runner_t;

/* The role an end plays in a test. */
report_role_t runner_role(const test_spec_t *spec, bool server);

/* Prepares r for spec on this end; fds are added by the caller (r->fds/nfds). */
void runner_init(runner_t *r, const test_spec_t *spec, bool server);

/* Starts the engine thread. Returns 0 or -errno (-ENOMEM for histograms). */
int runner_start(runner_t *r);

/* Waits for the engine thread (if started). */
void runner_join(runner_t *r);

/* Joins, closes the data sockets and frees the report; idempotent. */
void runner_fini(runner_t *r);

#endif
