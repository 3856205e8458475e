/* vmtp_cli.c — the `vmtp` command line; see vmtp_cli.h. */
#include "vmtp_cli.h"

#include "textutil.h"

#include "vmtp/clock.h"
#include "vmtp/log.h"
#include "vmtp/units.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum {
    O_CONFIG,
    O_SHOW_CONFIG,
    O_RC,
    O_PASSWORD,
    O_TIME,
    O_HOST,
    O_EXT_HOST,
    O_CONTROLLER,
    O_JSON,
    O_TP_TOOL,
    O_AZ,
    O_HYPERVISOR,
    O_INTER_ONLY,
    O_SAME_NET_ONLY,
    O_PROTOCOLS,
    O_MULTICAST,
    O_BANDWIDTH,
    O_TCPBUF,
    O_UDPBUF,
    O_ICMPSIZES,
    O_REUSE_NET,
    O_DATAPLANE_NET,
    O_DELETE_IMAGE,
    O_NO_ENV,
    O_VNIC,
    O_NO_DHCP,
    O_NO_FIP,
    O_CONFIG_DRIVE,
    O_DEBUG,
    O_VERSION,
    O_STOP_ON_ERROR,
    O_KEEP_FIRST,
    O_KEEP_RESOURCES,
    O_IMAGE_URL,
    O_DESCRIPTION,
    O_LOG_FILE,
    O_MONITOR,
    O_MONGOD,
    O_TESTBED,
    O_INVENTORY,
    O_OS_CLOUD,
    O_QUIET,
    O_KNOWN_HOSTS,
    O_ACCEPT_NEW,
    O_SET,
    O_HELP,
} s_id_t;

typedef struct {
    const char *name;  /* long form */
    const char *alias; /* short form, second long form, or NULL */
    s_id_t id;
    const char *arg;  /* placeholder of the value, NULL = a flag */
    const char *help; /* one line; NULL = hidden alias */
} s_opt_t;

static const s_opt_t s_opts[] = {
    {"--config", "-c", O_CONFIG, "FILE", "merge a YAML config file over the defaults (repeatable, in order)"},
    {"--show-config", "-sc", O_SHOW_CONFIG, NULL, "print the configuration (after -c files and options) and exit"},
    {"--rc", "-r", O_RC, "FILE", "OpenStack credentials from an openrc file"},
    {"--password", "-p", O_PASSWORD, "PASSWORD", "OpenStack password (masked everywhere)"},
    {"--time", "-t", O_TIME, "SECONDS", "length of every TCP and UDP test (default 10; fractions and 500ms allowed)"},
    {"--host", NULL, O_HOST, "USER@HOST[:PASSWORD[:IFNAME]]",
     "a native host (repeatable; the first is the server); IPv6 as [ADDR]"},
    {"--external-host", NULL, O_EXT_HOST, "USER@HOST[:PASSWORD]", "a host outside the cloud for flows 8.1/8.2"},
    {"--controller-node", NULL, O_CONTROLLER, "USER@HOST[:PASSWORD]", "controller node SSH (cloud facts)"},
    {"--json", NULL, O_JSON, "FILE", "write the results as JSON (VMTP's shape, richer fields beside)"},
    {"--tp-tool", NULL, O_TP_TOOL, "TOOL", "accepted for VMTP compatibility; vmtp measures with its own engine"},
    {"--availability_zone", NULL, O_AZ, "AZ", "availability zone of the test VMs"},
    {"--hypervisor", NULL, O_HYPERVISOR, "[AZ:]HOST", "compute host for a test VM (up to 2, server first)"},
    {"--inter-node-only", NULL, O_INTER_ONLY, NULL, "only measure inter-node flows"},
    {"--same-network-only", NULL, O_SAME_NET_ONLY, NULL, "only measure same-network flows"},
    {"--protocols", NULL, O_PROTOCOLS, "TUI", "protocols: T (TCP), U (UDP), I (ICMP); default TUI"},
    {"--multicast_addr", NULL, O_MULTICAST, "ADDR", "VMTP's multicast flows (not supported)"},
    {"--bandwidth", NULL, O_BANDWIDTH, "RATE", "rate cap of TCP/UDP flows in bit/s with K/M/G, e.g. 128K, 32M, 5G"},
    {"--tcpbuf", NULL, O_TCPBUF, "N,...", "TCP write sizes in bytes (default 65536)"},
    {"--udpbuf", NULL, O_UDPBUF, "N,...", "UDP datagram sizes in bytes (default 128,1024,8192)"},
    {"--icmp_pkt_sizes", NULL, O_ICMPSIZES, "N,...", "ICMP payload sizes in bytes (default 64,391,1500)"},
    {"--reuse_network_name", NULL, O_REUSE_NET, "NAME", "run on this existing network"},
    {"--os-dataplane-network", NULL, O_DATAPLANE_NET, "NAME", "provider network of the data plane"},
    {"--delete-image-after-run", NULL, O_DELETE_IMAGE, NULL, "delete the image vmtp uploaded when done"},
    {"--no-env", NULL, O_NO_ENV, NULL, "do not read OS_* environment variables"},
    {"--vnic-type", NULL, O_VNIC, "direct|macvtap|normal", "binding vnic type of the test VMs' ports"},
    {"--no-dhcp", NULL, O_NO_DHCP, NULL, "test VMs get their addresses without DHCP"},
    {"--no-floatingip", NULL, O_NO_FIP, NULL, "do not give the test VMs floating IPs"},
    {"--use-config-drive", NULL, O_CONFIG_DRIVE, NULL, "configure the test VMs by config drive"},
    {"--debug", "-d", O_DEBUG, NULL, "debug messages"},
    {"--version", "-v", O_VERSION, NULL, "print the version and exit"},
    {"--stop-on-error", NULL, O_STOP_ON_ERROR, NULL,
     "stop at the first error and keep everything (prints how to clean up)"},
    {"--keep-first-flow-and-exit", NULL, O_KEEP_FIRST, NULL,
     "OpenStack: boot the server and one client, run flow 1, keep the resources"},
    {"--keep-resources", NULL, O_KEEP_RESOURCES, NULL,
     "OpenStack: leave the run's cloud resources in place (the cleanup command is printed)"},
    {"--vm-image-url", NULL, O_IMAGE_URL, "URL", "where to get the image when it is missing (http(s):// or file://)"},
    {"--test-description", NULL, O_DESCRIPTION, "TEXT", "a description stored in the JSON"},
    {"--log-file", "--logfile", O_LOG_FILE, "FILE", "also write the log to FILE"},
    {"--monitor", "-m", O_MONITOR, "HOST[:PORT]", "VMTP's Ganglia CPU monitoring (not supported: CPU is measured)"},
    {"--mongod-server", NULL, O_MONGOD, "HOST", "VMTP's MongoDB storage (not supported: use --json)"},
    {"--testbed", NULL, O_TESTBED, NULL, "build the namespace testbed on this machine, run every flow, remove it"},
    {"--inventory", NULL, O_INVENTORY, "FILE", "pre-existing VMs and hosts described in a YAML file"},
    {"--os-cloud", NULL, O_OS_CLOUD, "NAME", "OpenStack credentials from clouds.yaml"},
    {"--quiet", "-q", O_QUIET, NULL, "print the summary table and errors only"},
    {"--known-hosts", NULL, O_KNOWN_HOSTS, "FILE", "SSH host keys to check against (default ~/.ssh/known_hosts)"},
    {"--accept-new-host-keys", NULL, O_ACCEPT_NEW, NULL,
     "SSH: accept and record unknown host keys (never changed ones)"},
    {"--set", NULL, O_SET, "KEY=VALUE", "set any configuration key (vmtp -sc lists them)"},
    {"--help", "-h", O_HELP, NULL, "this help"},
};
#define S_NOPTS (sizeof s_opts / sizeof s_opts[0])

const char *vmtp_mode_name(vmtp_mode_t m)
{
    static const char *const names[] = {"none", "hosts", "openstack", "inventory", "testbed"};
    return (unsigned)m < sizeof names / sizeof names[0] ? names[m] : "?";
}

static void s_help(FILE *out)
{
    fprintf(out, "usage: vmtp [options]\n"
                 "Measures the data path between VMs and hosts (OpenStack, an inventory, native hosts, or the\n"
                 "namespace testbed). VMTP's options and config keys are kept; see docs/USAGE.md.\n\n");
    for (size_t i = 0; i < S_NOPTS; i++) {
        char left[80];
        snprintf(left, sizeof left, "%s%s%s%s%s", s_opts[i].alias && s_opts[i].alias[1] != '-' ? s_opts[i].alias : "",
                 s_opts[i].alias && s_opts[i].alias[1] != '-' ? ", " : "", s_opts[i].name, s_opts[i].arg ? " " : "",
                 s_opts[i].arg ? s_opts[i].arg : "");
        fprintf(out, "  %-34s %s\n", left, s_opts[i].help);
    }
}

static const s_opt_t *s_find(const char *name, size_t len)
{
    for (size_t i = 0; i < S_NOPTS; i++) {
        const char *n[2] = {s_opts[i].name, s_opts[i].alias};
        for (int k = 0; k < 2; k++)
            if (n[k] && strlen(n[k]) == len && !strncmp(n[k], name, len))
                return &s_opts[i];
    }
    return NULL;
}

/* Where the password of a host spec starts and how long it is (0 when there is none), in both
 * forms ssh_target_parse takes: VMTP's user@host[:password[:ifname]] and
 * ssh://user[:password]@host[:port][/ifname]. */
static size_t s_spec_password(const char *spec, size_t *start)
{
    if (!strncmp(spec, "ssh://", 6)) {
        const char *u = spec + 6;
        const char *at = strchr(u, '@');
        const char *colon = strchr(u, ':');
        if (!at || !colon || colon > at)
            return 0;
        *start = (size_t)(colon + 1 - spec);
        return (size_t)(at - colon - 1);
    }
    const char *at = strchr(spec, '@');
    const char *h = at ? at + 1 : spec;
    const char *end = h;
    if (*h == '[') {
        end = strchr(h, ']');
        if (!end)
            return 0;
        end++;
    } else {
        end = h + strcspn(h, ":");
    }
    if (*end != ':')
        return 0;
    const char *pw = end + 1;
    size_t len = strcspn(pw, ":");
    *start = (size_t)(pw - spec);
    return len;
}

/* Appends s to the masked command line, quoting it when it has spaces. */
static void s_masked_add(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t need = *len + strlen(s) + 4;
    if (need > *cap) {
        size_t nc = need * 2;
        char *n = realloc(*buf, nc);
        if (!n)
            return;
        *buf = n;
        *cap = nc;
    }
    bool quote = strpbrk(s, " \t'\"") != NULL;
    *len +=
        (size_t)snprintf(*buf + *len, *cap - *len, "%s%s%s%s", *len ? " " : "", quote ? "'" : "", s, quote ? "'" : "");
}

/* Copies a secret-bearing value, adds its masked form to the masked command line, and overwrites
 * the secret in argv. kind: 0 = host spec, 1 = the whole value is the secret. */
static char *s_take_secret(char *value, int kind, char **mbuf, size_t *mlen, size_t *mcap, const char *prefix)
{
    char *copy = strdup(value);
    char masked[1200];
    size_t pstart = 0, plen = kind == 0 ? s_spec_password(value, &pstart) : strlen(value);
    if (kind == 1)
        pstart = 0;
    if (plen)
        snprintf(masked, sizeof masked, "%s%.*s<MASKED>%s", prefix, (int)pstart, value, value + pstart + plen);
    else
        snprintf(masked, sizeof masked, "%s%s", prefix, value);
    s_masked_add(mbuf, mlen, mcap, masked);
    for (size_t i = 0; i < plen; i++)
        value[pstart + i] = '*';
    return copy;
}

static int s_fail(FILE *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_fail(FILE *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(err, "vmtp: ");
    vfprintf(err, fmt, ap);
    fprintf(err, "\n");
    va_end(ap);
    return 2;
}

/* Sets a config key from an option's value, with the option named in the error. */
static int s_cfg_set(config_t *cfg, const char *key, const char *opt, const char *value, FILE *err)
{
    char why[300];
    if (config_set(cfg, key, value, why, sizeof why) < 0)
        return s_fail(err, "%s %s: %s", opt, value, why);
    return 0;
}

void vmtp_cli_fini(vmtp_opts_t *o)
{
    for (unsigned i = 0; i < o->n_hosts; i++) {
        if (o->hosts[i])
            memset(o->hosts[i], 0, strlen(o->hosts[i]));
        free(o->hosts[i]);
        o->hosts[i] = NULL;
    }
    o->n_hosts = 0;
    char **own[] = {&o->external_host, &o->controller_node, &o->os_password};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        if (*own[i])
            memset(*own[i], 0, strlen(*own[i]));
        free(*own[i]);
        *own[i] = NULL;
    }
    free(o->masked_args);
    o->masked_args = NULL;
}

const char *vmtp_cli_args_masked(const vmtp_opts_t *o) { return o->masked_args ? o->masked_args : "vmtp"; }

int vmtp_cli_parse(int argc, char **argv, vmtp_opts_t *o, config_t *cfg, FILE *out, FILE *err)
{
    memset(o, 0, sizeof *o);
    o->time_ns = 10 * VMTP_NS_PER_S;
    o->tcp = o->udp = o->icmp = true;
    if (config_defaults(cfg) < 0)
        return s_fail(err, "out of memory");
    char *mbuf = NULL;
    size_t mlen = 0, mcap = 0;
    s_masked_add(&mbuf, &mlen, &mcap, "vmtp");
    /* Overrides of config keys wait until every -c file is merged. */
    struct {
        const char *key, *opt, *value;
    } over[64];
    unsigned n_over = 0;
    const char *protocols = NULL, *bandwidth = NULL, *known_hosts = NULL;
    bool accept_new = false, testbed = false;
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            rc = s_fail(err, "unexpected argument '%s' (vmtp takes options only; --help)", a);
            break;
        }
        char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        const s_opt_t *opt = s_find(a, nlen);
        if (!opt) {
            const char *names[S_NOPTS];
            for (size_t k = 0; k < S_NOPTS; k++)
                names[k] = s_opts[k].name;
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(nlen < 63 ? nlen : 63), a);
            const char *best = text_closest(name, names, S_NOPTS, 3);
            rc = s_fail(err, "unknown option '%.*s'%s%s%s (vmtp --help lists them)", (int)nlen, a,
                        best ? " (did you mean " : "", best ? best : "", best ? "?)" : "");
            break;
        }
        char *val = NULL;
        if (opt->arg) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                rc = s_fail(err, "%s needs a value: %s", opt->name, opt->arg);
                break;
            }
        } else if (eq) {
            rc = s_fail(err, "%s takes no value", opt->name);
            break;
        }
        /* the masked command line: secrets handled below, everything else as given */
        bool secret = opt->id == O_HOST || opt->id == O_EXT_HOST || opt->id == O_CONTROLLER || opt->id == O_PASSWORD;
        if (!secret) {
            s_masked_add(&mbuf, &mlen, &mcap, opt->name);
            if (val)
                s_masked_add(&mbuf, &mlen, &mcap, val);
        } else {
            s_masked_add(&mbuf, &mlen, &mcap, opt->name);
        }
        switch (opt->id) {
        case O_CONFIG:
            if (o->n_config_files == VMTP_CLI_MAX_CONFIGS)
                rc = s_fail(err, "at most %d -c files", VMTP_CLI_MAX_CONFIGS);
            else
                o->config_files[o->n_config_files++] = val;
            break;
        case O_SHOW_CONFIG: o->show_config = true; break;
        case O_RC: o->rc_file = val; break;
        case O_PASSWORD: o->os_password = s_take_secret(val, 1, &mbuf, &mlen, &mcap, ""); break;
        case O_TIME: {
            int64_t ns = 0;
            if (units_parse_duration(val, 100 * VMTP_NS_PER_MS, 86400 * VMTP_NS_PER_S, &ns) < 0)
                rc = s_fail(err, "--time %s: expected seconds between 0.1 and 86400 (e.g. 10, 2.5, 500ms)", val);
            o->time_ns = ns;
            break;
        }
        case O_HOST:
            if (o->n_hosts == VMTP_CLI_MAX_HOSTS) {
                rc = s_fail(err, "at most %d --host options", VMTP_CLI_MAX_HOSTS);
                break;
            }
            if (!strchr(val, '@') || val[0] == '@') { /* not echoed: it may hold a password */
                rc = s_fail(err, "--host: expected USER@HOST[:PASSWORD[:IFNAME]] (or ssh://USER@HOST:PORT)");
                break;
            }
            o->hosts[o->n_hosts++] = s_take_secret(val, 0, &mbuf, &mlen, &mcap, "");
            break;
        case O_EXT_HOST:
        case O_CONTROLLER: {
            char **dst = opt->id == O_EXT_HOST ? &o->external_host : &o->controller_node;
            if (*dst) {
                rc = s_fail(err, "%s given twice", opt->name);
                break;
            }
            if (!strchr(val, '@') || val[0] == '@') {
                rc = s_fail(err, "%s: expected USER@HOST[:PASSWORD] (or ssh://USER@HOST:PORT)", opt->name);
                break;
            }
            *dst = s_take_secret(val, 0, &mbuf, &mlen, &mcap, "");
            break;
        }
        case O_JSON: o->json_file = val; break;
        case O_TP_TOOL:
            if (strcmp(val, "nuttcp") && strcmp(val, "iperf"))
                rc = s_fail(err, "--tp-tool %s: expected nuttcp or iperf (and either way vmtp uses its own engine)",
                            val);
            else
                LOG_WARN("--tp-tool %s ignored: vmtp measures with its own engine (docs/ACCURACY.md)", val);
            break;
        case O_AZ: over[n_over++] = (typeof(over[0])){"availability_zone", opt->name, val}; break;
        case O_HYPERVISOR:
            if (o->n_hypervisors == 2)
                rc = s_fail(err, "--hypervisor at most twice (server, then client)");
            else
                o->hypervisors[o->n_hypervisors++] = val;
            break;
        case O_INTER_ONLY: o->inter_node_only = true; break;
        case O_SAME_NET_ONLY: o->same_network_only = true; break;
        case O_PROTOCOLS: protocols = val; break;
        case O_MULTICAST: rc = s_fail(err, "--multicast_addr: multicast flows are not supported by vmtp"); break;
        case O_BANDWIDTH: bandwidth = val; break;
        case O_TCPBUF: over[n_over++] = (typeof(over[0])){"tcp_pkt_sizes", opt->name, val}; break;
        case O_UDPBUF: over[n_over++] = (typeof(over[0])){"udp_pkt_sizes", opt->name, val}; break;
        case O_ICMPSIZES: over[n_over++] = (typeof(over[0])){"icmp_pkt_sizes", opt->name, val}; break;
        case O_REUSE_NET: over[n_over++] = (typeof(over[0])){"reuse_network_name", opt->name, val}; break;
        case O_DATAPLANE_NET: over[n_over++] = (typeof(over[0])){"os_dataplane_network", opt->name, val}; break;
        case O_IMAGE_URL: over[n_over++] = (typeof(over[0])){"vm_image_url", opt->name, val}; break;
        case O_NO_FIP: over[n_over++] = (typeof(over[0])){"floating_ip", opt->name, "false"}; break;
        case O_CONFIG_DRIVE: over[n_over++] = (typeof(over[0])){"config_drive", opt->name, "true"}; break;
        case O_DELETE_IMAGE: o->delete_image_after_run = true; break;
        case O_NO_ENV: o->no_env = true; break;
        case O_VNIC:
            if (strcmp(val, "direct") && strcmp(val, "macvtap") && strcmp(val, "normal"))
                rc = s_fail(err, "--vnic-type %s: expected direct, macvtap or normal", val);
            o->vnic_type = val;
            break;
        case O_NO_DHCP: o->no_dhcp = true; break;
        case O_DEBUG: o->debug = true; break;
        case O_VERSION: o->version = true; break;
        case O_STOP_ON_ERROR: o->stop_on_error = true; break;
        case O_KEEP_FIRST: o->keep_first_flow_and_exit = true; break;
        case O_KEEP_RESOURCES: o->keep_resources = true; break;
        case O_DESCRIPTION: o->test_description = val; break;
        case O_LOG_FILE: o->log_file = val; break;
        case O_MONITOR:
            rc =
                s_fail(err, "--monitor: Ganglia monitoring is not supported (every result carries both ends' CPU use)");
            break;
        case O_MONGOD: rc = s_fail(err, "--mongod-server: MongoDB storage is not supported (use --json FILE)"); break;
        case O_TESTBED: testbed = true; break;
        case O_INVENTORY: o->inventory = val; break;
        case O_OS_CLOUD: o->os_cloud = val; break;
        case O_QUIET: o->quiet = true; break;
        case O_KNOWN_HOSTS: known_hosts = val; break;
        case O_ACCEPT_NEW: accept_new = true; break;
        case O_SET: {
            char *e = strchr(val, '=');
            if (!e || e == val) {
                rc = s_fail(err, "--set %s: expected KEY=VALUE", val);
                break;
            }
            static char keys[64][64];
            if (n_over == 64 || (size_t)(e - val) >= sizeof keys[0]) {
                rc = s_fail(err, "--set %s: too many or too long", val);
                break;
            }
            snprintf(keys[n_over], sizeof keys[0], "%.*s", (int)(e - val), val);
            over[n_over] = (typeof(over[0])){keys[n_over], "--set", e + 1};
            n_over++;
            break;
        }
        case O_HELP:
            s_help(out);
            rc = 1;
            break;
        }
        if (n_over >= 60 && rc == 0)
            rc = s_fail(err, "too many options");
    }
    o->masked_args = mbuf;
    if (rc)
        return rc;
    if (o->version) {
        fprintf(out, "vmtp %s\n", VMTP_VERSION);
        return 1;
    }
    /* The configuration: defaults, ~/.vmtp.yaml (as VMTP), -c files in order, then options. */
    char why[600];
    const char *home = getenv("HOME");
    char local[4096];
    if (home && snprintf(local, sizeof local, "%s/.vmtp.yaml", home) < (int)sizeof local && access(local, R_OK) == 0 &&
        config_load_file(cfg, local, why, sizeof why) < 0)
        return s_fail(err, "%s", why);
    for (unsigned i = 0; i < o->n_config_files; i++)
        if (config_load_file(cfg, o->config_files[i], why, sizeof why) < 0)
            return s_fail(err, "%s", why);
    for (unsigned i = 0; i < n_over; i++) {
        if (config_set(cfg, over[i].key, over[i].value, why, sizeof why) < 0)
            return s_fail(err, "%s %s%s%s: %s", over[i].opt, !strcmp(over[i].opt, "--set") ? over[i].key : "",
                          !strcmp(over[i].opt, "--set") ? "=" : "", over[i].value, why);
    }
    if (bandwidth) {
        uint64_t bps = 0;
        if (units_parse_rate(bandwidth, 1000, 400000000000ULL, &bps) < 0)
            return s_fail(err, "--bandwidth %s: expected a rate from 1K to 400G bit/s (e.g. 128K, 32M, 5G)", bandwidth);
        char kbps[32];
        snprintf(kbps, sizeof kbps, "%llu", (unsigned long long)(bps / 1000));
        if ((rc = s_cfg_set(cfg, "vm_bandwidth", "--bandwidth", kbps, err)) != 0)
            return rc;
    }
    if (known_hosts && (rc = s_cfg_set(cfg, "known_hosts", "--known-hosts", known_hosts, err)) != 0)
        return rc;
    if (accept_new && (rc = s_cfg_set(cfg, "accept_new_host_keys", "--accept-new-host-keys", "true", err)) != 0)
        return rc;
    if (protocols) {
        o->tcp = o->udp = o->icmp = false;
        if (!protocols[0])
            return s_fail(err, "--protocols: empty (expected letters of TUI)");
        for (const char *p = protocols; *p; p++) {
            bool *f = *p == 'T' ? &o->tcp : *p == 'U' ? &o->udp : *p == 'I' ? &o->icmp : NULL;
            if (*p == 'M')
                return s_fail(err, "--protocols %s: M (multicast) is not supported", protocols);
            if (!f)
                return s_fail(err, "--protocols %s: '%c' is not one of T (TCP), U (UDP), I (ICMP)", protocols, *p);
            if (*f)
                return s_fail(err, "--protocols %s: '%c' given twice", protocols, *p);
            *f = true;
        }
    }
    if (o->show_config) {
        config_write_yaml(cfg, out);
        return 1;
    }
    /* What to measure against. */
    bool os_env = !o->no_env && (getenv("OS_AUTH_URL") || getenv("OS_CLOUD"));
    bool cloud = o->rc_file || o->os_cloud || os_env;
    if (testbed && (o->inventory || o->rc_file || o->os_cloud || o->n_hosts || o->external_host))
        return s_fail(err, "--testbed builds its own VMs and hosts: it cannot be combined with %s",
                      o->inventory  ? "--inventory"
                      : o->rc_file  ? "-r"
                      : o->os_cloud ? "--os-cloud"
                                    : "--host/--external-host");
    if (o->inventory && (o->rc_file || o->os_cloud))
        return s_fail(err, "--inventory describes existing VMs: it cannot be combined with %s",
                      o->rc_file ? "-r" : "--os-cloud");
    if (o->rc_file && o->os_cloud)
        return s_fail(err, "-r and --os-cloud both name credentials: give one");
    o->mode = testbed                            ? VMTP_MODE_TESTBED
              : o->inventory                     ? VMTP_MODE_INVENTORY
              : cloud                            ? VMTP_MODE_OPENSTACK
              : (o->n_hosts || o->external_host) ? VMTP_MODE_HOSTS
                                                 : VMTP_MODE_NONE;
    if (o->mode == VMTP_MODE_NONE)
        return s_fail(err, "nothing to measure: give --host USER@HOST (native hosts), --testbed, --inventory FILE, "
                           "or OpenStack credentials (-r FILE, --os-cloud NAME, OS_* variables); --help");
    if ((o->keep_first_flow_and_exit || o->keep_resources) && o->mode != VMTP_MODE_OPENSTACK)
        return s_fail(err, "%s keeps cloud resources: it needs OpenStack credentials (-r, --os-cloud, OS_*)",
                      o->keep_resources ? "--keep-resources" : "--keep-first-flow-and-exit");
    if (o->mode == VMTP_MODE_HOSTS && o->external_host && !o->n_hosts)
        return s_fail(err, "--external-host measures against a server: give --host as well (flows 8.x), or a cloud");
    return 0;
}
