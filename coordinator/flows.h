/* flows.h — VMTP's work for one flow, run through the coordinator: TCP (tcp_tp_loop_count runs
 * per write size), UDP (a rate search per datagram size: VMTP's loss window or RFC 2544), ICMP
 * (ping_count echoes per payload size), one test at a time (tests of one run never overlap, so
 * none disturbs another's numbers).
 *
 * The calls here wait for each answer by running the coordinator's loop (coord_poll), so every
 * other node keeps being served (heartbeats, loss detection) while a test runs. A SIGINT or
 * SIGTERM seen by the loop stops the running test (its node still reports) and ends the flow
 * with -EINTR.
 */
#ifndef VMTP_FLOWS_H
#define VMTP_FLOWS_H

#include "config.h"
#include "coord.h"
#include "icmp.h"
#include "ratesearch.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum { FLOW_ENTRY_TCP = 1, FLOW_ENTRY_UDP, FLOW_ENTRY_ICMP } flow_entry_kind_t;

/* One measurement of a flow (VMTP's results[] entry). */
typedef struct {
    flow_entry_kind_t kind;
    uint32_t pkt_size;           /* TCP write size, UDP datagram payload, ICMP payload */
    unsigned run;                /* TCP: 1..tcp_tp_loop_count */
    int status;                  /* 0, or -errno */
    char error[513];             /* why it failed */
    dp_result_t res;             /* TCP; UDP: the trial the search reports */
    ratesearch_result_t *search; /* UDP: every trial (owned) */
    const char *search_mode;     /* UDP: "vmtp" or "rfc2544" (static) */
    icmp_params_t icmp_params;   /* ICMP: what was asked */
    icmp_result_t icmp;          /* ICMP: what came back (histograms owned) */
} flow_entry_t;

typedef enum { FLOW_PASSED = 0, FLOW_FAILED, FLOW_SKIPPED } flow_status_t;

/* One flow: a row of the summary table, an element of the JSON's flows[]. */
typedef struct {
    char id[8];              /* "7.1" */
    char desc[200];          /* VMTP's description ("Native Throughput, TCP (inter-host)") */
    char ip_from[64];        /* the client's address */
    char ip_to[64];          /* the address the client sent to */
    char host_from[256];     /* the client's host name (from its HELLO) */
    char host_to[256];       /* the server's host name */
    bool same_host;          /* client and server on one host (their HELLO host ids agree) */
    bool reverse;            /* data ran server to client (VMTP 8.2, downloading) */
    flow_status_t status;    /* PASSED, FAILED, SKIPPED */
    char reason[600];        /* FAILED/SKIPPED: why */
    flow_entry_t *entries;   /* measurements, in the order run (owned) */
    unsigned n_entries;      /* how many */
    unsigned cap_entries;    /* room */
    double wall_s;           /* how long the flow took */
    int clock_status;        /* CLOCK before UDP: 0, -errno, or 1 when not measured */
    int64_t clock_offset_ns; /* server clock minus client clock (data path, kernel stamps) */
    int64_t clock_bound_ns;  /* ... exact to within this */
    uint64_t clock_samples;  /* ... from this many exchanges */
    bool clock_used;         /* UDP one-way delays were made absolute with it */
} flow_result_t;

/* What a flow runs on. */
typedef struct {
    coord_t *c;                                    /* the coordinator (not owned) */
    coord_node_t *client;                          /* runs the client ends and ICMP */
    coord_node_t *server;                          /* its data-plane server is armed (coord_listen) */
    const char *target;                            /* the server's data address as the client reaches it */
    uint16_t port;                                 /* the server's data port */
    const config_t *cfg;                           /* work per flow (sizes, loops, loss window, bandwidth) */
    int64_t time_ns;                               /* length of each TCP test (-t) */
    int64_t trial_ns;                              /* length of each UDP search trial */
    bool tcp, udp, icmp;                           /* protocols to run */
    bool reverse;                                  /* the server sends */
    void (*progress)(const char *line, void *arg); /* one line per finished measurement (may be NULL) */
    void *progress_arg;
} flow_ctx_t;

/* Runs the flow's work and fills *out (id, desc and addresses are the caller's; status and
 * reason are set here: FAILED with the first failure's reason when any measurement failed).
 * Returns 0, or -EINTR when a signal interrupted it (out holds what finished). */
int flow_measure(const flow_ctx_t *fc, flow_result_t *out);

/* Frees what a flow result owns; idempotent. */
void flow_result_fini(flow_result_t *f);

/* Runs one test and waits for its RESULT (pumping the coordinator's loop). Returns 0 with *out
 * filled (dp_result_fini it), or -errno with the reason in why (-EINTR after a signal). */
int flow_run_test(coord_t *c, coord_node_t *client, const char *target, uint16_t port, const test_spec_t *spec,
                  dp_result_t *out, char *why, size_t cap);

/* "PASSED", "FAILED", "SKIPPED". */
const char *flow_status_name(flow_status_t s);

#endif
