/* inventory.h — `vmtp --inventory FILE`: pre-existing VMs and hosts that play VMTP's roles (any
 * cloud, bare metal, a lab, the namespace testbed), so rows 1.x-6.x run as against OpenStack.
 *
 *   private_key_file: /path/key          # optional: overrides the config's
 *   known_hosts: /path/known_hosts       # optional: overrides the config's
 *   vms:
 *     - name: server                     # unique
 *       role: server                     # exactly one server; the others are clients
 *       ssh: root@203.0.113.10           # how vmtp reaches it (VMTP's host form; the floating address)
 *       fixed_ip: 10.0.1.10              # its address on its tenant network
 *       floating_ip: 203.0.113.10        # optional: rows 5.x/6.x need the server's
 *       network: net1                    # its tenant network
 *       compute_host: cn1                # the compute node it runs on
 *   hosts: [root@198.51.100.1, root@198.51.100.2]   # optional: native hosts (7.x), server first
 *   external_host: user@198.51.100.9     # optional: 8.1/8.2
 *
 * Every problem is an error naming the file, the line and the field ("inv.yaml:7: vms[1]
 * (client-a): fixed_ip: '10.0.1.300' is not an IP address").
 */
#ifndef VMTP_INVENTORY_H
#define VMTP_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>

#define INVENTORY_MAX_VMS 16
#define INVENTORY_MAX_HOSTS 16

typedef struct {
    char name[64];          /* unique label */
    bool server;            /* role: server */
    char *ssh;              /* host spec (may hold a password; owned) */
    char fixed_ip[64];      /* tenant-network address */
    char floating_ip[64];   /* "" = none */
    char network[128];      /* tenant network */
    char compute_host[256]; /* compute node */
    unsigned line;          /* where it is defined */
    char error[512];        /* not usable, and why (a VM that failed to boot: its flows FAILED); "" = fine */
} inventory_vm_t;

typedef struct {
    inventory_vm_t vms[INVENTORY_MAX_VMS];
    unsigned n_vms;
    int server;                       /* index of the server VM */
    char *hosts[INVENTORY_MAX_HOSTS]; /* native host specs (owned) */
    unsigned n_hosts;
    char *external_host;    /* (owned) or NULL */
    char *private_key_file; /* (owned) or NULL */
    char *known_hosts;      /* (owned) or NULL */
    bool accept_new_keys;   /* the VMs' host keys are new (an OpenStack run's own VMs): accept and record them
                               (set by the program, never by the file) */
} inventory_t;

/* Loads and validates the file. Returns 0, or -errno / -EINVAL with "FILE:LINE: ..." in why;
 * inventory_fini(inv) in either case. */
int inventory_load(const char *path, inventory_t *inv, char *why, size_t cap);
/* The same from text in memory (name labels it in messages). */
int inventory_load_string(const char *name, const char *text, size_t len, inventory_t *inv, char *why, size_t cap);

/* Frees what inv owns (wiping the host specs: they may hold passwords); idempotent. */
void inventory_fini(inventory_t *inv);

#endif
