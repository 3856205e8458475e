/* node/zmqutil.h — ZeroMQ helpers shared by the agent and the coordinator. */
#ifndef VMTP_NODE_ZMQUTIL_H
#define VMTP_NODE_ZMQUTIL_H

#include <stdbool.h>
#include <stdint.h>

/* Terminates a ZeroMQ context (every socket already closed) waiting at most bound_ns.
 * zmq_ctx_term can block for ever in rare races between a socket monitor and the context's
 * reaper (libzmq issues 1279, 2330, 2586); a process that must end — an agent whose coordinator
 * left, a coordinator that has to clean up — cannot wait on it. Past the bound the context is
 * left to the process's exit and false is returned. */
bool zmq_term_bounded(void *ctx, int64_t bound_ns);

#endif
