/* summary.h — what a `vmtp` run prints and writes: VMTP's summary table (every scenario row, with
 * VMTP's totals computed right: percentages over the scenarios that ran) and the JSON file
 * (VMTP's shape — date, args with secrets masked, version, run_id, flows[] with desc, ip_from,
 * ip_to, results[] — with vmtp's richer fields beside: percentiles, timestamp source, TCP_INFO,
 * loss attribution, every rate-search trial, both ends' CPU, the nodes' identities).
 */
#ifndef VMTP_SUMMARY_H
#define VMTP_SUMMARY_H

#include "flows.h"

#include <stdio.h>

/* A flow of the run, placed in VMTP's scenario matrix. */
typedef struct {
    const char *group;              /* "1".."7" (rows G.1 TCP, G.2 UDP, G.3 ICMP), "8.1" or "8.2" */
    const flow_result_t *res;       /* NULL when the flow did not run (its rows are SKIPPED) */
    const char *skip_reason;        /* why it did not run */
    const char *placement_claim;    /* VM rows: "intra-node"/"inter-node" by the inventory (NULL = n/a) */
    const char *placement_reported; /* ... by the VMs' own host identities, or "unknown" */
} summary_flow_t;

/* One row of the table. */
typedef struct {
    char id[8];    /* "7.1" */
    char name[96]; /* "Native Throughput, TCP" */
    flow_status_t status;
    char data[1024]; /* the figures, or why it failed or was skipped */
} summary_row_t;

typedef struct {
    unsigned total, passed, failed, skipped;
} summary_counts_t;

/* A node of the run, for the JSON. */
typedef struct {
    const char *role;       /* "server", "client", "external" */
    const char *ssh_target; /* masked */
    const proto_hello_t *hello;
    int64_t clock_offset_ns; /* node clock minus the coordinator's (control path) */
    int64_t clock_bound_ns;
} summary_node_t;

/* What the JSON records of an OpenStack run's cloud (VMTP's keys, and vmtp's beside). "" or
 * NULL = not visible to the credentials used. */
typedef struct {
    const char *auth_url;        /* Keystone */
    const char *region;          /* OS_REGION_NAME, "" = any */
    const char *project_id;      /* the project the run used */
    const char *encapsulation;   /* the test network's provider:network_type (admin) */
    const char *l2_agent_type;   /* Neutron's L2 agent ("Linux bridge agent", ...) (admin) */
    const char *placement;       /* how placement was verified: "host (admin)", "hostId", "unverified" */
    bool admin;                  /* the token had the admin role */
} summary_cloud_t;

/* Everything the JSON says besides the flows. */
typedef struct {
    const char *date;        /* "YYYY-mm-dd HH:MM:SS" (local time, as VMTP) */
    const char *args;        /* masked command line */
    const char *run_id;      /* this run's id */
    const char *description; /* --test-description (may be NULL) */
    const char *mode;        /* "hosts", "openstack", ... */
    const summary_node_t *nodes;
    unsigned n_nodes;
    double wall_s; /* the whole run */
    const summary_cloud_t *cloud; /* an OpenStack run's cloud, or NULL */
} summary_ctx_t;

/* Builds every scenario row (1.1 ... 8.2) from the flows that ran; *rows is malloc'd (free it).
 * Rows of protocols not selected are SKIPPED. Returns the row count, or -ENOMEM. */
int summary_rows(const summary_flow_t *flows, unsigned n, bool tcp, bool udp, bool icmp, summary_row_t **rows,
                 summary_counts_t *counts);

/* Prints VMTP's summary: the totals, then the table (Data wrapped at 80 columns). */
void summary_print(FILE *out, const summary_row_t *rows, unsigned n, const summary_counts_t *counts);

/* Writes the JSON document. Returns 0 or -errno (the file could not be written). */
int summary_write_json(const char *path, const summary_ctx_t *ctx, const summary_flow_t *flows, unsigned n,
                       const summary_row_t *rows, unsigned nrows, const summary_counts_t *counts);

#endif
