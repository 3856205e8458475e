/* test_config.c — vmtp's configuration: VMTP's defaults, a VMTP-style file merged over them,
 * command-line style overrides, every error naming file, line and key, and a round trip through
 * the YAML writer (what `vmtp -sc` prints loads back to the same configuration). */
#include "check.h"
#include "config.h"
#include "vmtp/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int s_load(config_t *c, const char *text, char *why, size_t cap)
{
    return config_load_string(c, "t.yaml", text, strlen(text), why, cap);
}

/* Loads text over the defaults and expects an error whose message contains every needle. */
static void s_expect_error(const char *text, const char *n1, const char *n2)
{
    config_t c;
    char why[512] = "";
    config_defaults(&c);
    int rc = s_load(&c, text, why, sizeof why);
    CHECK(rc < 0, "accepted: %s", text);
    CHECK(strstr(why, n1) != NULL, "'%s' not in: %s", n1, why);
    CHECK(!n2 || strstr(why, n2) != NULL, "'%s' not in: %s", n2 ? n2 : "", why);
    config_fini(&c);
}

static void t_defaults(void)
{
    config_t c;
    CHECK(config_defaults(&c) == 0, "defaults");
    CHECK(c.tcp_pkt_sizes.n == 1 && c.tcp_pkt_sizes.v[0] == 65536, "tcp_pkt_sizes");
    CHECK(c.udp_pkt_sizes.n == 3 && c.udp_pkt_sizes.v[0] == 128 && c.udp_pkt_sizes.v[1] == 1024 &&
              c.udp_pkt_sizes.v[2] == 8192,
          "udp_pkt_sizes");
    CHECK(c.icmp_pkt_sizes.n == 3 && c.icmp_pkt_sizes.v[1] == 391, "icmp_pkt_sizes");
    CHECK(c.udp_loss_rate_range.lo == 2 && c.udp_loss_rate_range.hi == 5, "loss range");
    CHECK_EQ_U64(c.tcp_tp_loop_count, 3, "tcp_tp_loop_count");
    CHECK_EQ_U64(c.ping_count, 2, "ping_count");
    CHECK_EQ_U64(c.vm_bandwidth, 0, "vm_bandwidth");
    CHECK_EQ_U64(c.data_port, 5001, "data_port");
    CHECK(c.floating_ip && !c.config_drive, "bools");
    CHECK(c.router_name && !strcmp(c.router_name, "pns-router"), "router_name");
    CHECK(!c.availability_zone && !c.private_key_file, "unset strings");
    CHECK(c.internal_network_name.n == 2 && !strcmp(c.internal_network_name.v[1], "pns-internal-net2"), "networks");
    CHECK(!strcmp(c.udp_search, "vmtp") && c.ipv6_mode[0] == 0, "enums");
    config_fini(&c);
    config_fini(&c); /* idempotent */
}

static void t_vmtp_file(void)
{
    /* The shape of a VMTP config file: document marker, comments, empty values, flow and block
     * lists, quoted strings, the MongoDB keys vmtp ignores. */
    const char *text = "# a VMTP config\n"
                       "---\n"
                       "image_name:  'Ubuntu Server 22.04'\n"
                       "availability_zone:\n"
                       "dns_nameservers: [ '198.18.0.53' ]\n"
                       "floating_ip: False\n"
                       "config_drive:\n"
                       "internal_cidr: ['198.18.10.0/24' , '198.18.11.0/24']\n"
                       "private_key_file: ~/.ssh/id_ed25519\n"
                       "tcp_tp_loop_count: 1\n"
                       "tcp_pkt_sizes: [8192, 65536]\n"
                       "udp_pkt_sizes:\n"
                       "  - 64\n"
                       "  - 1470\n"
                       "udp_loss_rate_range: [0.5, 1.5]\n"
                       "vm_bandwidth: 100000\n"
                       "vmtp_db: \"client_db\"\n"
                       "vmtp_collection: \"pns_web_entry\"\n"
                       "ipv6_mode: slaac\n";
    config_t c;
    char why[512] = "";
    config_defaults(&c);
    int rc = s_load(&c, text, why, sizeof why);
    CHECK(rc == 0, "VMTP-style file refused: %s", why);
    CHECK(c.image_name && !strcmp(c.image_name, "Ubuntu Server 22.04"), "image_name");
    CHECK(!c.availability_zone, "empty value = unset");
    CHECK(c.dns_nameservers.n == 1 && !strcmp(c.dns_nameservers.v[0], "198.18.0.53"), "dns");
    CHECK(!c.floating_ip && !c.config_drive, "bools");
    CHECK(c.internal_cidr.n == 2 && !strcmp(c.internal_cidr.v[1], "198.18.11.0/24"), "cidrs");
    CHECK(c.private_key_file && !strcmp(c.private_key_file, "~/.ssh/id_ed25519"), "key file");
    CHECK_EQ_U64(c.tcp_tp_loop_count, 1, "loops");
    CHECK(c.tcp_pkt_sizes.n == 2 && c.tcp_pkt_sizes.v[0] == 8192, "tcp sizes");
    CHECK(c.udp_pkt_sizes.n == 2 && c.udp_pkt_sizes.v[1] == 1470, "block list");
    CHECK(c.udp_loss_rate_range.lo == 0.5 && c.udp_loss_rate_range.hi == 1.5, "range");
    CHECK_EQ_U64(c.vm_bandwidth, 100000, "bandwidth");
    CHECK(c.vmtp_db && c.vmtp_collection, "ignored keys seen");
    CHECK(!strcmp(c.ipv6_mode, "slaac"), "enum");
    /* untouched keys keep their defaults */
    CHECK(c.router_name && !strcmp(c.router_name, "pns-router"), "router_name default kept");
    CHECK(c.icmp_pkt_sizes.n == 3, "icmp default kept");
    /* A second file merges over the first. */
    rc = s_load(&c, "tcp_tp_loop_count: 2\n", why, sizeof why);
    CHECK(rc == 0 && c.tcp_tp_loop_count == 2 && c.tcp_pkt_sizes.n == 2, "second merge");
    config_fini(&c);

    /* empty files and documents change nothing */
    config_defaults(&c);
    CHECK(s_load(&c, "", why, sizeof why) == 0, "empty: %s", why);
    CHECK(s_load(&c, "---\n# nothing\n", why, sizeof why) == 0, "comment only: %s", why);
    CHECK(c.tcp_pkt_sizes.v[0] == 65536, "still default");
    config_fini(&c);
}

static void t_errors(void)
{
    s_expect_error("tcp_pkt_sizes: [65536]\ntcp_pkt_size: [1]\n", "t.yaml:2:", "did you mean 'tcp_pkt_sizes'");
    s_expect_error("frobnicate: 1\n", "t.yaml:1: unknown key 'frobnicate'", "vmtp -sc");
    s_expect_error("tcp_tp_loop_count: many\n", "t.yaml:1: key 'tcp_tp_loop_count'", "not a whole number");
    s_expect_error("\n\nping_pass_threshold: 101\n", "t.yaml:3: key 'ping_pass_threshold'", "out of range 0..100");
    s_expect_error("tcp_tp_loop_count: -1\n", "tcp_tp_loop_count", "not a whole number");
    s_expect_error("udp_pkt_sizes: [128, 70000]\n", "entry 2", "out of range 1..65507");
    s_expect_error("udp_pkt_sizes: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\n", "udp_pkt_sizes", "1 to 16");
    s_expect_error("udp_loss_rate_range: [5, 2]\n", "low 5 is above high 2", NULL);
    s_expect_error("udp_loss_rate_range: 5\n", "expects a list [low, high]", NULL);
    s_expect_error("udp_loss_rate_range: [1, 2, 3]\n", "two values", NULL);
    s_expect_error("udp_loss_rate_range: [1, x]\n", "not a number", NULL);
    s_expect_error("floating_ip: perhaps\n", "key 'floating_ip'", "not true or false");
    s_expect_error("router_name: [a, b]\n", "key 'router_name'", "single value");
    s_expect_error("router_name: {a: 1}\n", "key 'router_name'", "a mapping");
    s_expect_error("udp_pkt_sizes: [[1]]\n", "list entries must be values", NULL);
    s_expect_error("ipv6_mode: dhcp\n", "not one of slaac|dhcpv6-stateful|dhcpv6-stateless (or empty)", NULL);
    s_expect_error("udp_search: fast\n", "not one of vmtp|rfc2544", NULL);
    s_expect_error("ping_count: 1\nping_count: 2\n", "t.yaml:2: key 'ping_count' appears twice", NULL);
    s_expect_error("- a\n- b\n", "t.yaml:1: expected a mapping", "found a list");
    s_expect_error("ping_count: [1\n", "t.yaml:", "not valid YAML");
    s_expect_error("key: 'unterminated\n", "not valid YAML", NULL);
    /* a byte libyaml's reader refuses is placed where it is, not at 1:1 */
    s_expect_error("ping_count: 2\nimage_name: a\x01b\n", "t.yaml:2:14: not valid YAML", "control characters");
    /* values are one line of printable text: what -sc writes must load back as it was */
    s_expect_error("image_name: \"Ubuntu\\n22.04\"\n", "key 'image_name': has a control character (0x0a)", NULL);
    s_expect_error("image_name: |\n  Ubuntu\n", "key 'image_name': has a control character (0x0a) at byte 7", NULL);
    s_expect_error("image_name: \"a\\u2028b\"\n", "control character (U+2028)", NULL);
    s_expect_error("image_name: \"abc\\0def\"\n", "the value holds a NUL character", NULL);
    s_expect_error("dns_nameservers: [\"a\\tb\"]\n", "entry 1 has a control character (0x09)", NULL);
    s_expect_error("flavor: {extra_specs: {k: \"v\\x7f\"}}\n",
                   "extra spec 'k': its value has a control character (0x7f)", NULL);
    /* a long string is refused, not truncated */
    char big[400];
    memset(big, 'x', sizeof big);
    memcpy(big, "vm_name_server: ", 16);
    big[sizeof big - 2] = '\n';
    big[sizeof big - 1] = 0;
    s_expect_error(big, "key 'vm_name_server'", "longer than 255 bytes");

    config_t c;
    char why[512];
    config_defaults(&c);
    CHECK(config_load_file(&c, "/nonexistent/vmtp.yaml", why, sizeof why) == -ENOENT, "missing file");
    CHECK(strstr(why, "/nonexistent/vmtp.yaml") != NULL, "names the file: %s", why);
    config_fini(&c);
}

static void t_flavor(void)
{
    config_t c;
    char why[512] = "";
    config_defaults(&c);
    CHECK(c.flavor.vcpus == 1 && c.flavor.ram == 2048 && c.flavor.disk == 20 && !c.flavor.n_specs, "flavor default");
    /* VMTP 2's shape; fields not named keep their value */
    const char *text = "flavor_type: vmtp\n"
                       "flavor:\n"
                       "  vcpus: 2\n"
                       "  ram: 4096\n"
                       "  extra_specs:\n"
                       "    \"hw:cpu_policy\": dedicated\n"
                       "    hw:mem_page_size: large\n";
    CHECK(s_load(&c, text, why, sizeof why) == 0, "flavor refused: %s", why);
    CHECK(c.flavor.vcpus == 2 && c.flavor.ram == 4096 && c.flavor.disk == 20, "flavor fields");
    CHECK(c.flavor.n_specs == 2 && !strcmp(c.flavor.spec_key[0], "hw:cpu_policy") &&
              !strcmp(c.flavor.spec_val[0], "dedicated") && !strcmp(c.flavor.spec_val[1], "large"),
          "extra specs");
    /* a later file's extra_specs replaces the set; "flavor:" alone keeps everything */
    CHECK(s_load(&c, "flavor: {swap: 512, extra_specs: {'quota:vif_outbound_average': '1000'}}\n", why, sizeof why) ==
              0,
          "flow mapping: %s", why);
    CHECK(c.flavor.swap == 512 && c.flavor.vcpus == 2 && c.flavor.n_specs == 1, "merged");
    CHECK(s_load(&c, "flavor:\n", why, sizeof why) == 0 && c.flavor.n_specs == 1, "empty flavor keeps");
    CHECK(s_load(&c, "flavor: {extra_specs: }\n", why, sizeof why) == 0 && c.flavor.n_specs == 0, "specs cleared");
    /* the command line's form */
    CHECK(config_set(&c, "flavor", "vcpus=4, disk=0,extra_specs.hw:numa_nodes=1", why, sizeof why) == 0, "set: %s",
          why);
    CHECK(c.flavor.vcpus == 4 && c.flavor.disk == 0 && c.flavor.n_specs == 1 &&
              !strcmp(c.flavor.spec_key[0], "hw:numa_nodes"),
          "set applied");
    CHECK(config_set(&c, "flavor", "extra_specs.hw:numa_nodes=2", why, sizeof why) == 0 && c.flavor.n_specs == 1 &&
              !strcmp(c.flavor.spec_val[0], "2"),
          "a spec of the same key is replaced");
    CHECK(config_set(&c, "flavor", "cpus=2", why, sizeof why) == -EINVAL && strstr(why, "not a flavor field"),
          "unknown field: %s", why);
    CHECK(config_set(&c, "flavor", "vcpus", why, sizeof why) == -EINVAL && strstr(why, "FIELD=VALUE"), "no =: %s", why);
    CHECK(config_set(&c, "flavor", "vcpus=0", why, sizeof why) == -EINVAL && strstr(why, "vcpus: 0 is out of range"),
          "range: %s", why);
    CHECK(config_set(&c, "flavor", "extra_specs.a/b=1", why, sizeof why) == -EINVAL && strstr(why, "extra spec 'a/b'"),
          "bad spec key: %s", why);
    config_fini(&c);

    s_expect_error("flavor: m1.small\n", "t.yaml:1: key 'flavor'", "expects a mapping of vcpus, ram");
    s_expect_error("flavor:\n  vcpus: 1\n  cpus: 2\n", "t.yaml:3: key 'flavor'", "'cpus' is not a flavor field");
    s_expect_error("flavor:\n  ram: lots\n", "t.yaml:2: key 'flavor'", "ram: 'lots' is not a whole number");
    s_expect_error("flavor:\n  vcpus: 1\n  vcpus: 2\n", "t.yaml:3:", "'vcpus' appears twice");
    s_expect_error("flavor:\n  vcpus: [1]\n", "vcpus expects a value, not a list", NULL);
    s_expect_error("flavor:\n  extra_specs: [a]\n", "extra_specs expects a mapping", NULL);
    s_expect_error("flavor:\n  extra_specs:\n    a: 1\n    a: 2\n", "t.yaml:4:", "extra spec 'a' appears twice");
    s_expect_error("flavor:\n  extra_specs:\n    a: [1]\n", "t.yaml:3:", "both plain values");
    char many[2048] = "flavor:\n  extra_specs:\n";
    for (int i = 0; i < 17; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "    k%d: v\n", i);
    s_expect_error(many, "t.yaml:19:", "more than 16 extra specs");
}

static void t_set(void)
{
    config_t c;
    char why[256];
    config_defaults(&c);
    CHECK(config_set(&c, "tcp_pkt_sizes", "8192,65536", why, sizeof why) == 0, "set list: %s", why);
    CHECK(c.tcp_pkt_sizes.n == 2 && c.tcp_pkt_sizes.v[1] == 65536, "list set");
    CHECK(config_set(&c, "udp_loss_rate_range", "1,3", why, sizeof why) == 0, "range: %s", why);
    CHECK(c.udp_loss_rate_range.lo == 1 && c.udp_loss_rate_range.hi == 3, "range set");
    CHECK(config_set(&c, "vm_bandwidth", "5000", why, sizeof why) == 0 && c.vm_bandwidth == 5000, "uint");
    CHECK(config_set(&c, "nope", "1", why, sizeof why) == -ENOENT, "unknown key");
    CHECK(config_set(&c, "udp_pkt_sizes", "128,abc", why, sizeof why) == -EINVAL && strstr(why, "entry 2"),
          "bad entry: %s", why);
    CHECK(config_set(&c, "udp_pkt_sizes", ",", why, sizeof why) == -EINVAL, "empty list");
    CHECK(c.udp_pkt_sizes.n == 3, "a refused value leaves the old one");
    CHECK(config_set(&c, "image_name", "ab\xc3", why, sizeof why) == -EINVAL &&
              strstr(why, "not valid UTF-8 at byte 3"),
          "invalid UTF-8 from the command line: %s", why);
    CHECK(config_set(&c, "image_name", "Ubuntu 22.04 \xc3\xa9t\xc3\xa9", why, sizeof why) == 0, "UTF-8 is fine: %s",
          why);
    config_fini(&c);
}

static void t_round_trip(void)
{
    config_t a, b;
    char why[512] = "";
    config_defaults(&a);
    config_set(&a, "vm_name_server", "it's a 'server'", why, sizeof why);
    config_set(&a, "udp_loss_rate_range", "0.1234567,4.5", why, sizeof why);
    config_set(&a, "availability_zone", "nova", why, sizeof why);
    config_set(&a, "flavor", "vcpus=3,swap=64,extra_specs.hw:cpu_policy=dedicated,extra_specs.note=it's 'quoted'", why,
               sizeof why);
    char *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0;
    FILE *f = open_memstream(&t1, &l1);
    config_write_yaml(&a, f);
    fclose(f);
    config_defaults(&b);
    config_set(&b, "availability_zone", "", why, sizeof why);
    int rc = config_load_string(&b, "dump", t1, l1, why, sizeof why);
    CHECK(rc == 0, "dump does not load back: %s", why);
    f = open_memstream(&t2, &l2);
    config_write_yaml(&b, f);
    fclose(f);
    CHECK(l1 == l2 && !memcmp(t1, t2, l1), "dump, load, dump differs");
    CHECK(b.vm_name_server && !strcmp(b.vm_name_server, "it's a 'server'"), "quotes survive");
    CHECK(b.udp_loss_rate_range.lo == 0.1234567, "range survives exactly: %.17g", b.udp_loss_rate_range.lo);
    CHECK(b.flavor.vcpus == 3 && b.flavor.swap == 64 && b.flavor.n_specs == 2, "flavor survives");
    free(t1);
    free(t2);
    config_fini(&a);
    config_fini(&b);
    /* the key list is complete and documented */
    CHECK(config_key_count() > 40, "keys %u", config_key_count());
    for (unsigned i = 0; i < config_key_count(); i++)
        CHECK(config_key_doc(i) && config_key_doc(i)[0], "key %s undocumented", config_key_name(i));
}

int main(void)
{
    log_threshold = LOG_LEVEL_ERROR; /* the ignored-key warnings are expected */
    t_defaults();
    t_vmtp_file();
    t_errors();
    t_flavor();
    t_set();
    t_round_trip();
    return check_exit("test_config");
}
