/* test_inventory.c — `vmtp --inventory FILE`: a valid inventory loads with every field; every
 * invalid one is refused with the file, the line and the field named. */
#include "check.h"
#include "inventory.h"

#include <errno.h>
#include <string.h>

static const char *const s_good = "# the namespace testbed's shape\n"
                                  "private_key_file: /tmp/k/id_ed25519\n"
                                  "known_hosts: /tmp/k/known_hosts\n"
                                  "vms:\n"
                                  "  - name: server\n"
                                  "    role: server\n"
                                  "    ssh: root@198.18.200.10\n"
                                  "    fixed_ip: 198.18.10.10\n"
                                  "    floating_ip: 198.18.200.10\n"
                                  "    network: net1\n"
                                  "    compute_host: cn1\n"
                                  "  - name: client-net2-cn2\n"
                                  "    role: client\n"
                                  "    ssh: root@198.18.200.14:secret\n"
                                  "    fixed_ip: 198.18.20.14\n"
                                  "    network: net2\n"
                                  "    compute_host: cn2\n"
                                  "hosts: [root@198.18.150.11, root@198.18.150.12]\n"
                                  "external_host: root@198.18.200.2\n";

/* Loads text and expects a refusal mentioning n1 (and n2). */
static void s_bad(const char *text, const char *n1, const char *n2)
{
    inventory_t inv;
    char why[600] = "";
    int rc = inventory_load_string("inv.yaml", text, strlen(text), &inv, why, sizeof why);
    CHECK(rc == -EINVAL, "accepted (%d): %s", rc, text);
    CHECK(strstr(why, n1) != NULL, "'%s' not in: %s", n1, why);
    CHECK(!n2 || strstr(why, n2) != NULL, "'%s' not in: %s", n2 ? n2 : "", why);
    inventory_fini(&inv);
}

/* s_good with one line replaced (first occurrence of from by to). */
static const char *s_edit(const char *from, const char *to)
{
    static char buf[4096];
    const char *p = strstr(s_good, from);
    if (!p)
        return "";
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - s_good), s_good, to, p + strlen(from));
    return buf;
}

int main(void)
{
    inventory_t inv;
    char why[600] = "";
    int rc = inventory_load_string("inv.yaml", s_good, strlen(s_good), &inv, why, sizeof why);
    CHECK(rc == 0, "valid inventory refused: %s", why);
    CHECK(inv.n_vms == 2 && inv.server == 0, "vms %u server %d", inv.n_vms, inv.server);
    CHECK(!strcmp(inv.vms[0].floating_ip, "198.18.200.10") && !inv.vms[1].floating_ip[0], "floating ips");
    CHECK(!strcmp(inv.vms[1].ssh, "root@198.18.200.14:secret") && !strcmp(inv.vms[1].network, "net2") &&
              !strcmp(inv.vms[1].compute_host, "cn2") && !strcmp(inv.vms[1].fixed_ip, "198.18.20.14"),
          "client fields");
    CHECK(inv.vms[1].line == 12, "client defined at line %u", inv.vms[1].line);
    CHECK(inv.n_hosts == 2 && !strcmp(inv.hosts[1], "root@198.18.150.12"), "hosts");
    CHECK(inv.external_host && !strcmp(inv.external_host, "root@198.18.200.2"), "external host");
    CHECK(inv.private_key_file && inv.known_hosts, "key and known_hosts");
    inventory_fini(&inv);
    inventory_fini(&inv);

    s_bad(s_edit("    fixed_ip: 198.18.20.14\n", "    fixed_ip: 198.18.20.300\n"),
          "inv.yaml:15: vms[1] (client-net2-cn2): fixed_ip: '198.18.20.300' is not an IP address", NULL);
    s_bad(s_edit("    floating_ip: 198.18.200.10\n", "    floating_ip: nowhere\n"),
          "inv.yaml:9:", "floating_ip: 'nowhere' is not an IP address");
    s_bad(s_edit("    network: net2\n", ""), "vms[1] (client-net2-cn2): field 'network' is missing", NULL);
    s_bad(s_edit("    role: client\n", "    role: helper\n"), "inv.yaml:13:", "role must be server or client");
    s_bad(s_edit("    role: client\n", "    role: server\n"), "a second server", NULL);
    s_bad(s_edit("    role: server\n", "    role: client\n"), "no VM has role: server", NULL);
    s_bad(s_edit("  - name: client-net2-cn2\n", "  - name: server\n"), "name 'server' is also vms[0]'s", NULL);
    s_bad(s_edit("    compute_host: cn2\n", "    compute_hots: cn2\n"),
          "inv.yaml:17:", "unknown field 'compute_hots' (did you mean 'compute_host'?)");
    s_bad(s_edit("    network: net1\n", "    network: net1\n    network: net9\n"), "field 'network' appears twice",
          NULL);
    s_bad(s_edit("    ssh: root@198.18.200.10\n", "    ssh: 198.18.200.10\n"), "ssh must be USER@HOST", NULL);
    s_bad(s_edit("    ssh: root@198.18.200.10\n", "    ssh: [a, b]\n"), "ssh must be a value, not a list", NULL);
    s_bad(s_edit("    network: net1\n", "    network: ''\n"), "network is empty", NULL);
    s_bad(s_edit("hosts: [root@198.18.150.11, root@198.18.150.12]\n", "hosts: root@198.18.150.11\n"),
          "hosts must be a list", NULL);
    s_bad(s_edit("hosts: [root@198.18.150.11, root@198.18.150.12]\n", "hosts: [198.18.150.11]\n"),
          "hosts[0]: expected USER@HOST", NULL);
    s_bad(s_edit("external_host: root@198.18.200.2\n", "external_host: 198.18.200.2\n"),
          "external_host: expected USER@HOST", NULL);
    s_bad(s_edit("known_hosts:", "know_hosts:"), "inv.yaml:3: unknown key 'know_hosts' (did you mean 'known_hosts'?)",
          NULL);
    s_bad("vms: []\n", "no VM has role: server", NULL);
    s_bad("vms:\n  - name: s\n    role: server\n    ssh: r@h\n    fixed_ip: 198.18.1.1\n    network: n\n"
          "    compute_host: c\n",
          "a server needs at least one client VM", NULL);
    s_bad("vms: server\n", "vms must be a list", NULL);
    s_bad("vms:\n  - server\n", "vms[0]: expected a mapping", NULL);
    s_bad("- a\n", "expected a mapping with vms", NULL);
    s_bad("", "expected a mapping with vms", NULL);
    s_bad("hosts: [root@a]\n", "vms is missing", NULL);
    s_bad("vms: [\n", "not valid YAML", NULL);
    /* an empty document has no line to name */
    s_bad("# nothing\n", "inv.yaml:1: expected a mapping", NULL);
    /* no control character, NUL or line break in a value (it would reach logs and the JSON as it is) */
    s_bad(s_edit("    network: net2\n", "    network: \"net\\n2\"\n"), "network has a control character (0x0a)", NULL);
    s_bad(s_edit("    network: net2\n", "    network: \"net\\x1b[31m\"\n"), "control character (0x1b)", NULL);
    s_bad(s_edit("    network: net2\n", "    network: \"net\\u0085\"\n"), "control character (U+0085)", NULL);
    s_bad(s_edit("    network: net2\n", "    network: \"net\\0x\"\n"), "network holds a NUL character", NULL);
    rc = inventory_load("/nonexistent/inv.yaml", &inv, why, sizeof why);
    CHECK(rc == -ENOENT && strstr(why, "/nonexistent/inv.yaml"), "missing file: %d %s", rc, why);
    inventory_fini(&inv);
    return check_exit("test_inventory");
}
