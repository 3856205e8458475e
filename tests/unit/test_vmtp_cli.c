/* test_vmtp_cli.c — the `vmtp` command line: VMTP's options and meanings, the configuration merge
 * order (defaults, ~/.vmtp.yaml, -c files, options), secrets kept out of argv and masked in the
 * recorded command line, and every refusal exiting 2 with the option named. */
#include "check.h"
#include "vmtp/clock.h"
#include "vmtp/log.h"
#include "vmtp_cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T_MAXARGS 32

typedef struct {
    int argc;
    char *argv[T_MAXARGS];
    vmtp_opts_t o;
    config_t cfg;
    int rc;
    char *out, *err;
} t_run_t;

/* Runs the parser on a NULL-terminated list of arguments (copied: the parser writes argv). */
static void t_parse(t_run_t *r, ...)
{
    va_list ap;
    va_start(ap, r);
    memset(r, 0, sizeof *r);
    r->argv[r->argc++] = strdup("vmtp");
    for (const char *a; (a = va_arg(ap, const char *)) && r->argc < T_MAXARGS - 1;)
        r->argv[r->argc++] = strdup(a);
    va_end(ap);
    size_t ol = 0, el = 0;
    FILE *out = open_memstream(&r->out, &ol), *err = open_memstream(&r->err, &el);
    r->rc = vmtp_cli_parse(r->argc, r->argv, &r->o, &r->cfg, out, err);
    fclose(out);
    fclose(err);
}

static void t_done(t_run_t *r)
{
    vmtp_cli_fini(&r->o);
    config_fini(&r->cfg);
    for (int i = 0; i < r->argc; i++)
        free(r->argv[i]);
    free(r->out);
    free(r->err);
}

/* Expects exit 2 and every needle in the message. */
#define T_REFUSED(n1, n2, ...)                                                                                         \
    do {                                                                                                               \
        const char *n2_ = (n2);                                                                                        \
        t_run_t r_;                                                                                                    \
        t_parse(&r_, __VA_ARGS__, NULL);                                                                               \
        CHECK(r_.rc == 2, "accepted (rc %d): expected '%s'", r_.rc, n1);                                               \
        CHECK(strstr(r_.err, n1) != NULL, "'%s' not in: %s", n1, r_.err);                                              \
        CHECK(!n2_ || strstr(r_.err, n2_) != NULL, "'%s' not in: %s", n2_ ? n2_ : "", r_.err);                         \
        t_done(&r_);                                                                                                   \
    } while (0)

static char t_home[64];

static void t_hosts(void)
{
    t_run_t r;
    t_parse(&r, "--host", "root@198.18.0.2:s3cret:eth1", "--host", "admin@198.18.0.3", "-t", "2.5", "--protocols", "TU",
            "--json", "out.json", "--test-description", "two hosts", NULL);
    CHECK(r.rc == 0, "rc %d: %s", r.rc, r.err);
    CHECK(r.o.mode == VMTP_MODE_HOSTS, "mode %s", vmtp_mode_name(r.o.mode));
    CHECK(r.o.n_hosts == 2 && !strcmp(r.o.hosts[0], "root@198.18.0.2:s3cret:eth1"), "hosts kept with the secret");
    CHECK(r.o.time_ns == 2500 * VMTP_NS_PER_MS, "time %lld", (long long)r.o.time_ns);
    CHECK(r.o.tcp && r.o.udp && !r.o.icmp, "protocols");
    CHECK(r.o.json_file && !strcmp(r.o.json_file, "out.json"), "json");
    /* the secret left argv and the recorded command line */
    for (int i = 0; i < r.argc; i++)
        CHECK(!strstr(r.argv[i], "s3cret"), "argv[%d] still holds the password: %s", i, r.argv[i]);
    const char *m = vmtp_cli_args_masked(&r.o);
    CHECK(strstr(m, "root@198.18.0.2:<MASKED>:eth1") && !strstr(m, "s3cret"), "masked: %s", m);
    CHECK(strstr(m, "'two hosts'") != NULL, "values with spaces quoted: %s", m);
    t_done(&r);

    t_parse(&r, "--host", "ssh://admin:pa55@198.18.0.7:2222/eth1", "--host", "ssh://bob@198.18.0.8", NULL);
    CHECK(r.rc == 0, "rc %d: %s", r.rc, r.err);
    m = vmtp_cli_args_masked(&r.o);
    CHECK(strstr(m, "ssh://admin:<MASKED>@198.18.0.7:2222/eth1") && strstr(m, "ssh://bob@198.18.0.8") &&
              !strstr(m, "pa55"),
          "ssh:// form masked: %s", m);
    for (int i = 0; i < r.argc; i++)
        CHECK(!strstr(r.argv[i], "pa55"), "argv[%d]: %s", i, r.argv[i]);
    t_done(&r);

    t_parse(&r, "--host=root@[2001:db8::5]:pw:eth0", "-p", "ospass", "--host", "u@h", NULL);
    CHECK(r.rc == 0, "rc %d: %s", r.rc, r.err);
    m = vmtp_cli_args_masked(&r.o);
    CHECK(strstr(m, "root@[2001:db8::5]:<MASKED>:eth0") && !strstr(m, "ospass") && strstr(m, "-p <MASKED>") == NULL &&
              strstr(m, "--password <MASKED>"),
          "masked: %s", m);
    CHECK(r.o.os_password && !strcmp(r.o.os_password, "ospass"), "password kept");
    for (int i = 0; i < r.argc; i++)
        CHECK(!strstr(r.argv[i], "ospass") && !strstr(r.argv[i], ":pw:"), "argv[%d]: %s", i, r.argv[i]);
    t_done(&r);
}

static void t_config_merge(void)
{
    char path[128], local[128];
    snprintf(local, sizeof local, "%s/.vmtp.yaml", t_home);
    FILE *f = fopen(local, "w");
    fprintf(f, "ping_count: 7\nudp_pkt_sizes: [256]\n");
    fclose(f);
    snprintf(path, sizeof path, "%s/run.yaml", t_home);
    f = fopen(path, "w");
    fprintf(f, "# run\nudp_pkt_sizes: [512, 1024]\ntcp_tp_loop_count: 2\n");
    fclose(f);
    t_run_t r;
    t_parse(&r, "--host", "u@198.18.0.2", "-c", path, "--tcpbuf", "8192,65536", "--bandwidth", "32M", "--set",
            "tcp_tp_loop_count=1", "--icmp_pkt_sizes", "64", "--no-floatingip", NULL);
    CHECK(r.rc == 0, "rc %d: %s", r.rc, r.err);
    CHECK_EQ_U64(r.cfg.ping_count, 7, "~/.vmtp.yaml applied");
    CHECK(r.cfg.udp_pkt_sizes.n == 2 && r.cfg.udp_pkt_sizes.v[0] == 512, "-c over ~/.vmtp.yaml");
    CHECK_EQ_U64(r.cfg.tcp_tp_loop_count, 1, "--set over -c");
    CHECK(r.cfg.tcp_pkt_sizes.n == 2 && r.cfg.tcp_pkt_sizes.v[0] == 8192, "--tcpbuf");
    CHECK_EQ_U64(r.cfg.vm_bandwidth, 32000, "--bandwidth in kbit/s");
    CHECK(r.cfg.icmp_pkt_sizes.n == 1 && r.cfg.icmp_pkt_sizes.v[0] == 64, "--icmp_pkt_sizes");
    CHECK(!r.cfg.floating_ip, "--no-floatingip");
    t_done(&r);

    /* -sc prints the merged configuration, which loads back */
    t_parse(&r, "-sc", "--tcpbuf", "4096", NULL);
    CHECK(r.rc == 1, "-sc rc %d: %s", r.rc, r.err);
    CHECK(strstr(r.out, "tcp_pkt_sizes: [4096]") && strstr(r.out, "ping_count: 7"), "-sc output");
    t_done(&r);

    /* a bad line in a -c file: file and line named, exit 2 */
    f = fopen(path, "w");
    fprintf(f, "udp_pkt_sizes: [512]\n\nudp_loss_rate_range: [9, 1]\n");
    fclose(f);
    T_REFUSED("run.yaml:3: key 'udp_loss_rate_range'", "above high", "--host", "u@h", "-c", path);
    T_REFUSED("cannot read config file /nonexistent.yaml", NULL, "--host", "u@h", "-c", "/nonexistent.yaml");
    unlink(path);
    unlink(local);
}

static void t_refusals(void)
{
    T_REFUSED("unknown option '--protocol'", "did you mean --protocols", "--host", "u@h", "--protocol", "T");
    T_REFUSED("unknown option '--frobnicate'", NULL, "--frobnicate");
    T_REFUSED("--json needs a value", NULL, "--host", "u@h", "--json");
    T_REFUSED("--time 0", "between 0.1 and 86400", "--host", "u@h", "-t", "0");
    T_REFUSED("--time ten", NULL, "--host", "u@h", "--time", "ten");
    T_REFUSED("'X' is not one of T (TCP), U (UDP), I (ICMP)", NULL, "--host", "u@h", "--protocols", "TX");
    T_REFUSED("M (multicast) is not supported", NULL, "--host", "u@h", "--protocols", "TUM");
    T_REFUSED("'T' given twice", NULL, "--host", "u@h", "--protocols", "TT");
    T_REFUSED("--protocols: empty", NULL, "--host", "u@h", "--protocols", "");
    T_REFUSED("--bandwidth fast", "128K, 32M, 5G", "--host", "u@h", "--bandwidth", "fast");
    T_REFUSED("--tcpbuf 0", "out of range", "--host", "u@h", "--tcpbuf", "0");
    T_REFUSED("--udpbuf 128,x", "entry 2", "--host", "u@h", "--udpbuf", "128,x");
    T_REFUSED("--set nokey=1", "unknown key", "--host", "u@h", "--set", "nokey=1");
    T_REFUSED("--set x", "KEY=VALUE", "--host", "u@h", "--set", "x");
    T_REFUSED("--host: expected USER@HOST", NULL, "--host", "198.18.0.2");
    {
        /* a spec without '@' is refused without echoing it: it may hold a password */
        t_run_t r;
        t_parse(&r, "--host", "198.18.0.2:hunter2", NULL);
        CHECK(r.rc == 2 && !strstr(r.err, "hunter2"), "the refused spec is not echoed: %s", r.err);
        t_done(&r);
    }
    T_REFUSED("--testbed builds its own", "--host", "--testbed", "--host", "u@h");
    T_REFUSED("nothing to measure", "--testbed", "-t", "5");
    T_REFUSED("--multicast_addr", "not supported", "--host", "u@h", "--multicast_addr", "239.1.1.1");
    T_REFUSED("--monitor", "not supported", "--host", "u@h", "-m", "198.18.0.9");
    T_REFUSED("--mongod-server", "use --json", "--host", "u@h", "--mongod-server", "198.18.0.9");
    T_REFUSED("--inter-node-only takes no value", NULL, "--inter-node-only=yes");
    T_REFUSED("unexpected argument 'extra'", NULL, "--host", "u@h", "extra");
    T_REFUSED("--vnic-type fast", "direct, macvtap or normal", "--host", "u@h", "--vnic-type", "fast");
    T_REFUSED("--tp-tool ttcp", NULL, "--host", "u@h", "--tp-tool", "ttcp");
    T_REFUSED("-r and --os-cloud", NULL, "-r", "x.rc", "--os-cloud", "c");
    T_REFUSED("--external-host measures against a server", NULL, "--external-host", "u@h");
    T_REFUSED("--external-host given twice", NULL, "--host", "u@h", "--external-host", "u@a", "--external-host", "u@b");
}

static void t_modes(void)
{
    t_run_t r;
    t_parse(&r, "--testbed", NULL);
    CHECK(r.rc == 0 && r.o.mode == VMTP_MODE_TESTBED, "testbed: %d %s", r.rc, r.err);
    t_done(&r);
    t_parse(&r, "--inventory", "inv.yaml", "--host", "u@h", NULL);
    CHECK(r.rc == 0 && r.o.mode == VMTP_MODE_INVENTORY && r.o.n_hosts == 1, "inventory: %d %s", r.rc, r.err);
    t_done(&r);
    t_parse(&r, "-r", "admin-openrc", "--hypervisor", "nova:c1", "--hypervisor", "c2", NULL);
    CHECK(r.rc == 0 && r.o.mode == VMTP_MODE_OPENSTACK && r.o.n_hypervisors == 2, "openstack: %d %s", r.rc, r.err);
    t_done(&r);
    T_REFUSED("--hypervisor at most twice", NULL, "-r", "x", "--hypervisor", "a", "--hypervisor", "b", "--hypervisor",
              "c");
    setenv("OS_AUTH_URL", "http://198.18.0.10:5000/v3", 1);
    t_parse(&r, NULL);
    CHECK(r.rc == 0 && r.o.mode == VMTP_MODE_OPENSTACK, "OS_* variables: %d %s", r.rc, r.err);
    t_done(&r);
    T_REFUSED("nothing to measure", NULL, "--no-env");
    unsetenv("OS_AUTH_URL");
    t_parse(&r, "--help", NULL);
    CHECK(r.rc == 1 && strstr(r.out, "--host") && strstr(r.out, "--testbed"), "help");
    t_done(&r);
    t_parse(&r, "-v", NULL);
    CHECK(r.rc == 1 && !strncmp(r.out, "vmtp ", 5), "version: %s", r.out);
    t_done(&r);
}

int main(void)
{
    log_threshold = LOG_LEVEL_ERROR;
    snprintf(t_home, sizeof t_home, "/tmp/vmtp-test-cli-XXXXXX");
    if (!mkdtemp(t_home))
        return 1;
    setenv("HOME", t_home, 1);
    unsetenv("OS_AUTH_URL");
    unsetenv("OS_CLOUD");
    t_hosts();
    t_config_merge();
    t_refusals();
    t_modes();
    rmdir(t_home);
    return check_exit("test_vmtp_cli");
}
