/* run.h — the kinds of `vmtp` run, and its exit statuses (ARCHITECTURE.md contract: 0 every
 * scenario PASSED or SKIPPED, 1 any FAILED, 2 bad usage or configuration, other values for
 * internal errors and interruptions). */
#ifndef VMTP_RUN_H
#define VMTP_RUN_H

#include "config.h"
#include "inventory.h"
#include "summary.h"
#include "vmtp_cli.h"

#define VMTP_EXIT_OK 0
#define VMTP_EXIT_FAILED 1
#define VMTP_EXIT_USAGE 2
#define VMTP_EXIT_INTERNAL 3
#define VMTP_EXIT_SIGHUP 129  /* interrupted by SIGHUP (after the cleanup) */
#define VMTP_EXIT_SIGINT 130  /* interrupted by SIGINT (after the cleanup) */
#define VMTP_EXIT_SIGTERM 143 /* interrupted by SIGTERM (after the cleanup) */

/* Native hosts over SSH: flows 7.x (--host) and 8.x (--external-host). Returns an exit status. */
int run_hosts(const vmtp_opts_t *o, const config_t *cfg);

/* An inventory's VMs (flows 1.x-6.x, placement from the inventory), its native hosts (7.x) and
 * external host (8.x; --host and --external-host override the inventory's). Returns an exit status. */
int run_inventory(const vmtp_opts_t *o, const config_t *cfg, const inventory_t *inv);

/* The same for the VMs an OpenStack run booted: cloud's facts go into the JSON. */
int run_inventory_cloud(const vmtp_opts_t *o, const config_t *cfg, const inventory_t *inv,
                        const summary_cloud_t *cloud);

/* An OpenStack run (-r openrc, --os-cloud, OS_* variables): provision, measure 1.x-6.x (+7.x with
 * --host, 8.x with --external-host), clean up by the ledger on every path. Returns an exit status. */
int run_openstack(const vmtp_opts_t *o, const config_t *cfg);

/* `vmtp cleanup ...`: deletes what a run left (by its ledger, or its run id, or every stale run).
 * argv after "cleanup". Returns an exit status. */
int run_cleanup(int argc, char **argv);

/* The namespace testbed (tools/testbed): up, the whole matrix over its inventory, down on every
 * path. Returns an exit status. */
int run_testbed(const vmtp_opts_t *o, const config_t *cfg);

#endif
