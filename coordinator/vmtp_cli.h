/* vmtp_cli.h — the `vmtp` command line: VMTP's options with VMTP's meanings (bugs fixed: an
 * unknown option is an error, not ignored), vmtp's own, and the merge order of the configuration:
 * built-in defaults, then ~/.vmtp.yaml when it exists (as VMTP), then each -c FILE in order, then
 * the options that override configuration keys (--tcpbuf, --udpbuf, --icmp_pkt_sizes,
 * --bandwidth, ...).
 *
 * Secrets: a password given with -p or inside --host/--external-host (VMTP's user@host:password
 * form) is copied and then overwritten in argv, so it does not stay visible in process listings
 * (/proc/PID/cmdline); vmtp_cli_args_masked() gives the command line with every secret replaced
 * by <MASKED>, for logs and JSON.
 */
#ifndef VMTP_VMTP_CLI_H
#define VMTP_VMTP_CLI_H

#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define VMTP_CLI_MAX_HOSTS 16
#define VMTP_CLI_MAX_CONFIGS 8

typedef enum {
    VMTP_MODE_NONE = 0,  /* nothing to measure against was named */
    VMTP_MODE_HOSTS,     /* --host / --external-host only: native hosts over SSH */
    VMTP_MODE_OPENSTACK, /* -r, --os-cloud or OS_* variables: provision VMs */
    VMTP_MODE_INVENTORY, /* --inventory FILE: pre-existing VMs */
    VMTP_MODE_TESTBED,   /* --testbed: the namespace testbed on this machine */
} vmtp_mode_t;

/* Everything the command line says. Strings point into argv or into storage the parser owns
 * (vmtp_cli_fini frees it). */
typedef struct {
    vmtp_mode_t mode;
    const char *config_files[VMTP_CLI_MAX_CONFIGS]; /* -c, in order */
    unsigned n_config_files;
    bool show_config;                /* -sc */
    bool version;                    /* -v */
    bool debug;                      /* -d */
    bool quiet;                      /* -q: the summary table and errors only */
    bool stop_on_error;              /* leave everything as it is on the first error */
    bool keep_first_flow_and_exit;   /* VMTP's: stage and run the first flow, keep it (OpenStack) */
    bool keep_resources;             /* OpenStack: do not delete the run's resources */
    bool inter_node_only;            /* only inter-node flows */
    bool same_network_only;          /* only same-network flows */
    bool no_env;                     /* do not read OS_* variables */
    bool delete_image_after_run;     /* delete an image vmtp uploaded */
    bool no_dhcp;                    /* VMs get their address statically */
    bool accept_new_host_keys;       /* SSH: record the key of a host not yet known */
    char *hosts[VMTP_CLI_MAX_HOSTS]; /* --host specs, in order (owned copies; secrets in) */
    unsigned n_hosts;                /* the first is the server */
    char *external_host;             /* --external-host spec (owned copy), or NULL */
    char *controller_node;           /* --controller-node spec (owned copy), or NULL */
    char *os_password;               /* -p (owned copy), or NULL */
    const char *rc_file;             /* -r */
    const char *os_cloud;            /* --os-cloud (clouds.yaml entry) */
    const char *inventory;           /* --inventory FILE */
    const char *json_file;           /* --json FILE */
    const char *test_description;    /* --test-description */
    const char *log_file;            /* --log-file */
    const char *vnic_type;           /* --vnic-type */
    const char *hypervisors[2];      /* --hypervisor [az:]host, up to 2 */
    unsigned n_hypervisors;
    int64_t time_ns;     /* -t: length of every TCP/UDP test (default 10 s) */
    bool tcp, udp, icmp; /* --protocols */
    char *masked_args;   /* the command line with secrets masked (owned) */
} vmtp_opts_t;

/* Parses argv and builds the configuration in *cfg (config_defaults is called here). Returns 0
 * to run, 1 when help, version or the configuration was printed to out (exit 0), or 2 after a
 * message naming the option or the file and line went to err (exit 2). argv is modified: secrets
 * are overwritten once copied. vmtp_cli_fini(o) and config_fini(cfg) in every case. */
int vmtp_cli_parse(int argc, char **argv, vmtp_opts_t *o, config_t *cfg, FILE *out, FILE *err);

/* Frees what *o owns (and wipes the secrets); idempotent. */
void vmtp_cli_fini(vmtp_opts_t *o);

/* The masked command line ("vmtp --host root@198.18.0.2:<MASKED> ..."). */
const char *vmtp_cli_args_masked(const vmtp_opts_t *o);

/* Name of a mode ("hosts", "openstack", ...). */
const char *vmtp_mode_name(vmtp_mode_t m);

#endif
