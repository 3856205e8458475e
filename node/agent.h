/* agent.h — `vmtp-node agent`: the node end of the control plane (docs/PROTOCOL.md, control plane).
 *
 * Binds a CURVE ZeroMQ ROUTER socket, admits only the coordinator whose public key it was given
 * on standard input (a ZAP handler checks every handshake), answers HELLO, sends heartbeats,
 * arms the data-plane server on LISTEN, runs each RUN and CLOCK in a worker thread (so the
 * control loop keeps answering heartbeats during a test) whose INTERVALs and RESULT it relays,
 * honours STOP at once, and exits — stopping its tests, closing every socket and removing its
 * working directory — on BYE, on a signal, or when the coordinator has been silent too long.
 */
#ifndef VMTP_AGENT_H
#define VMTP_AGENT_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define AGENT_DEFAULT_PORT 5002

typedef struct {
    const char *bind;        /* address to listen on (NULL = every IPv4 address) */
    uint16_t port;           /* control port (0 = any free one; the "ready" line says which) */
    int64_t silence_ns;      /* exit when the coordinator is silent this long (before its HELLO too) */
    const char *cleanup_dir; /* a working directory to remove on exit (NULL = none) */
    const char *host_id;     /* identity to report in HELLO (NULL = the machine id) */
    FILE *keys;              /* where the two key lines come from (standard input) */
    FILE *announce;          /* where the "ready port=P pid=N" line goes (standard output) */
    const atomic_bool *stop; /* set by a signal: exit cleanly (not owned) */
} agent_cfg_t;

/* Runs the agent. Returns the process exit status: 0 after BYE or a signal, 1 when the
 * coordinator went silent or a socket failed, 2 for bad keys or options (a message on stderr). */
int agent_run(const agent_cfg_t *cfg);

#endif
