/* os_cloud.h — the Neutron, Nova and Glance operations a run needs, each creation recorded in the
 * ledger (intent before the request, id after the answer) and tagged with the run, and the
 * cleanup that deletes what a ledger holds in reverse order (idempotent: gone is done).
 *
 * Names carry the run id ("vmtp-1a2b3c4-server"); Neutron resources and servers also get the tag
 * "vmtp-RUN", so that strays of a run are found even without its ledger.
 */
#ifndef VMTP_OS_CLOUD_H
#define VMTP_OS_CLOUD_H

#include "config.h"
#include "os_client.h"
#include "os_ledger.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    os_client_t *cl;  /* not owned */
    os_ledger_t *led; /* not owned */
    char run_id[64];
    char tag[80]; /* "vmtp-RUN" */
} os_cloud_t;

#define OS_ID_MAX 128

/* A server as Nova reports it. */
typedef struct {
    char id[OS_ID_MAX];
    char status[32];   /* ACTIVE, BUILD, ERROR, ... */
    char fault[512];   /* fault.message when ERROR */
    char host[256];    /* OS-EXT-SRV-ATTR:host (admin), else "" */
    char host_id[128]; /* hostId (opaque per project; equal = same host) */
    char az[128];      /* OS-EXT-AZ:availability_zone */
} os_server_t;

/* Creates the cloud context for run_id (ledger and client not owned). */
void os_cloud_init(os_cloud_t *cc, os_client_t *cl, os_ledger_t *led, const char *run_id);

/* ---- look-ups (no ledger) -------------------------------------------------------------------- */

/* The id of the Neutron resource `collection` ("networks", "routers", "security-groups", ...)
 * named name; -ENOENT when none, -EEXIST (why) when several. */
int os_find_neutron(os_cloud_t *cc, const char *collection, const char *name, char id[OS_ID_MAX], char *why,
                    size_t cap);
/* The first external network (router:external); its name too. */
int os_find_external_network(os_cloud_t *cc, char id[OS_ID_MAX], char *name, size_t ncap, char *why, size_t cap);
/* Image by name (Glance v2, active) and flavor by name (Nova). -ENOENT when none. */
int os_find_image(os_cloud_t *cc, const char *name, char id[OS_ID_MAX], char *why, size_t cap);
int os_find_flavor(os_cloud_t *cc, const char *name, char id[OS_ID_MAX], char *why, size_t cap);
/* Enabled, up nova-compute hosts (admin only: -EACCES otherwise), sorted; zones beside. Returns
 * the count (at most max) or -errno. */
int os_compute_hosts(os_cloud_t *cc, char hosts[][256], char zones[][128], unsigned max, char *why, size_t cap);
/* Facts VMTP recorded: the L2 agent type ("Linux bridge agent", ...) and a network's
 * encapsulation (provider:network_type). "" when not visible (non-admin). */
void os_cloud_facts(os_cloud_t *cc, const char *net_id, char *l2_agent, size_t l2cap, char *encap, size_t ecap);

/* ---- creations (ledger first) ---------------------------------------------------------------- */

int os_create_network(os_cloud_t *cc, const char *name, char id[OS_ID_MAX], char *why, size_t cap);
int os_create_subnet(os_cloud_t *cc, const char *name, const char *net_id, const char *cidr, const char *const *dns,
                     unsigned n_dns, bool dhcp, char id[OS_ID_MAX], char *why, size_t cap);
/* A router with its gateway on ext_net_id (NULL = none). */
int os_create_router(os_cloud_t *cc, const char *name, const char *ext_net_id, char id[OS_ID_MAX], char *why,
                     size_t cap);
/* Sets the gateway of a reused router that has none (recorded: the cleanup clears it). */
int os_set_router_gateway(os_cloud_t *cc, const char *router_id, const char *ext_net_id, char *why, size_t cap);
int os_add_router_interface(os_cloud_t *cc, const char *router_id, const char *subnet_id, char *why, size_t cap);
/* A security group admitting ICMP, SSH and the given TCP+UDP ports from anywhere (IPv4). */
int os_create_secgroup(os_cloud_t *cc, const char *name, const uint16_t *ports, unsigned n_ports, char id[OS_ID_MAX],
                       char *why, size_t cap);
int os_create_keypair(os_cloud_t *cc, const char *name, const char *public_key, char *why, size_t cap);
/* A flavor of spec (admin), then its extra specs; a failure after the create leaves it in
 * the ledger, so the cleanup removes it. */
int os_create_flavor(os_cloud_t *cc, const char *name, const config_flavor_t *spec, char id[OS_ID_MAX], char *why,
                     size_t cap);
/* An image uploaded from a local file (raw when the name ends in .raw/.img? qcow2 by content). */
int os_create_image(os_cloud_t *cc, const char *name, const char *file, char id[OS_ID_MAX], char *why, size_t cap);
/* Boots a server on net_id; az "" = the cloud's choice, "zone:host" forces a host (admin). */
int os_create_server(os_cloud_t *cc, const char *name, const char *image_id, const char *flavor_id,
                     const char *key_name, const char *secgroup, const char *net_id, const char *az, char id[OS_ID_MAX],
                     char *why, size_t cap);
/* Polls a server until ACTIVE or ERROR or bound_ns passed (-ETIMEDOUT). ERROR returns -EIO with
 * Nova's fault message in why. */
int os_wait_server(os_cloud_t *cc, const char *id, int64_t bound_ns, os_server_t *out, char *why, size_t cap);
int os_get_server(os_cloud_t *cc, const char *id, os_server_t *out, char *why, size_t cap);
/* The port of server on net_id and its fixed IPv4 address. */
int os_server_port(os_cloud_t *cc, const char *server_id, const char *net_id, char port_id[OS_ID_MAX], char *ip,
                   size_t ipcap, char *why, size_t cap);
/* A floating IP on ext_net_id for port_id; its address in addr. */
int os_create_fip(os_cloud_t *cc, const char *label, const char *ext_net_id, const char *port_id, char id[OS_ID_MAX],
                  char *addr, size_t acap, char *why, size_t cap);

/* ---- the cleanup ----------------------------------------------------------------------------- */

typedef struct {
    unsigned deleted; /* resources deleted now */
    unsigned gone;    /* already gone */
    unsigned failed;  /* still there: their kinds, ids and reasons were logged */
} os_cleanup_stats_t;

/* Deletes every live entry of the ledger, in reverse creation order (an intent without its id is
 * looked up by name), with bounded retries, recording each deletion. Returns 0 when nothing is
 * left, -EBUSY when something could not be deleted, -EINTR never (the cleanup is not cut short). */
int os_cloud_cleanup(os_cloud_t *cc, os_cleanup_stats_t *st);

#endif
