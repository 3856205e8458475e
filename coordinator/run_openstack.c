/* run_openstack.c — a `vmtp` run on OpenStack: credentials, a ledger, the resources VMTP's
 * scenarios need (router, two networks, security group, key pair, image and flavor when missing,
 * five servers placed intra-/inter-node, floating IPs), placement verified from Nova, then rows
 * 1.x-6.x through run_inventory_cloud, then the cleanup by the ledger on every path.
 */
#include "os_client.h"
#include "os_cloud.h"
#include "os_keygen.h"
#include "run.h"

#include "vmtp/clock.h"
#include "vmtp/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_N_VMS 5

/* The VMs of VMTP's scenarios: the server and a client per (network, host) pair. */
typedef struct {
    const char *role; /* "server", "client-net1-intra", ... */
    int net;          /* 0 or 1 */
    bool other_host;  /* on the second compute host */
    bool wanted;      /* booted in this run */
    char id[OS_ID_MAX];
    os_server_t srv;
    char fixed_ip[64];
    char fip[64];
    char port_id[OS_ID_MAX];
    char error[512]; /* boot failed: why */
} s_vm_t;

typedef struct {
    const vmtp_opts_t *o;
    const config_t *cfg;
    char run_id[16];
    os_client_t *cl;
    os_ledger_t *led;
    os_cloud_t cc;
    int sigfd;
    int last_signal;
    uint16_t control_port;   /* fixed (the security group opens it): control_port, else data_port + 1 */
    char state_dir[3000];    /* ledgers, the run's key and known_hosts */
    char key_path[PATH_MAX]; /* the private key the VMs accept */
    char known_hosts[PATH_MAX];
    char ext_net[OS_ID_MAX], ext_name[256];
    char image[OS_ID_MAX], flavor[OS_ID_MAX], keypair[300], secgroup[300];
    char router[OS_ID_MAX];
    char net[2][OS_ID_MAX], net_name[2][300], subnet[2][OS_ID_MAX];
    int n_nets;
    char host[2][256], zone[2][128]; /* compute hosts A and B ("" = the cloud's choice) */
    bool forced;                     /* hosts are forced (admin or --hypervisor) */
    s_vm_t vm[S_N_VMS];
    char l2_agent[128], encap[64];
} s_os_t;

/* Returns the signal that arrived (read from the signalfd), or 0. */
static int s_take_signal(s_os_t *s)
{
    struct signalfd_siginfo si;
    while (s->sigfd >= 0 && read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si)
        s->last_signal = (int)si.ssi_signo;
    return s->last_signal;
}

/* A failed step: EINTR is the user's signal, the rest an error worth its own line. */
static int s_step_failed(s_os_t *s, int rc, const char *what, const char *why)
{
    if (rc == -EINTR) {
        s_take_signal(s);
        LOG_WARN("interrupted by %s while %s: cleaning up",
                 s->last_signal == SIGTERM  ? "SIGTERM"
                 : s->last_signal == SIGHUP ? "SIGHUP"
                                            : "SIGINT",
                 what);
    } else {
        LOG_ERROR("%s: %s", what, why);
    }
    return rc;
}

static void s_name(const s_os_t *s, const char *what, char *out, size_t cap)
{
    snprintf(out, cap, "vmtp-%s-%s", s->run_id, what);
}

/* --- placement ----------------------------------------------------------------------------------- */

static int s_placement(s_os_t *s, char *why, size_t cap)
{
    const os_token_t *t = os_client_token(s->cl);
    const char *az = s->cfg->availability_zone ? s->cfg->availability_zone : "";
    if (s->o->n_hypervisors) {
        for (unsigned i = 0; i < s->o->n_hypervisors && i < 2; i++) {
            const char *h = s->o->hypervisors[i], *colon = strchr(h, ':');
            snprintf(s->zone[i], sizeof s->zone[i], "%.*s", colon ? (int)(colon - h) : (int)strlen(az ? az : ""),
                     colon ? h : az);
            if (!s->zone[i][0])
                snprintf(s->zone[i], sizeof s->zone[i], "nova");
            snprintf(s->host[i], sizeof s->host[i], "%s", colon ? colon + 1 : h);
        }
        s->forced = true;
        return 0;
    }
    if (!t->admin) {
        LOG_INFO("placement: not admin, so Nova places the VMs; intra/inter-node rows follow where they land (hostId)");
        return 0;
    }
    char hosts[2][256], zones[2][128];
    int n = os_compute_hosts(&s->cc, hosts, zones, 2, why, cap);
    if (n < 0)
        return n;
    for (int i = 0; i < n; i++) {
        snprintf(s->host[i], sizeof s->host[i], "%.255s", hosts[i]);
        snprintf(s->zone[i], sizeof s->zone[i], "%.127s", az[0] ? az : zones[i]);
    }
    s->forced = n > 0;
    LOG_INFO("placement: compute hosts %s%s%s", n ? s->host[0] : "(none up)", n > 1 ? " and " : "",
             n > 1 ? s->host[1] : " only: the inter-node rows are skipped");
    return 0;
}

/* --- provisioning -------------------------------------------------------------------------------- */

static int s_image_flavor_key(s_os_t *s, char *why, size_t cap)
{
    const config_t *cfg = s->cfg;
    int rc = os_find_image(&s->cc, cfg->image_name, s->image, why, cap);
    if (rc == -ENOENT && cfg->vm_image_url) {
        const char *u = cfg->vm_image_url;
        char tmp[PATH_MAX];
        /* named image_name, as VMTP: later runs find it (unless --delete-image-after-run) */
        const char *name = cfg->image_name;
        if (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8)) {
            snprintf(tmp, sizeof tmp, "%.3000s/image-%s", s->state_dir, s->run_id);
            LOG_INFO("downloading the image from %s", u);
            rc = os_client_download(s->cl, u, tmp, why, cap);
            if (rc == 0)
                rc = os_create_image(&s->cc, name, tmp, s->image, why, cap);
            unlink(tmp);
        } else {
            rc = os_create_image(&s->cc, name, !strncmp(u, "file://", 7) ? u + 7 : u, s->image, why, cap);
        }
        if (rc == 0 && !s->o->delete_image_after_run) {
            LOG_INFO("image %s (%s) is kept for later runs (--delete-image-after-run removes it)", name, s->image);
            rc = os_ledger_release(s->led, OS_RES_IMAGE, s->image);
        }
    } else if (rc == -ENOENT) {
        snprintf(why, cap, "image '%s' is not in the cloud (set image_name, or vm_image_url to upload one)",
                 cfg->image_name);
    }
    if (rc < 0)
        return rc;
    rc = os_find_flavor(&s->cc, cfg->flavor_type, s->flavor, why, cap);
    const config_flavor_t *fl = &cfg->flavor;
    if (rc == 0 && (fl->vcpus != 1 || fl->ram != 2048 || fl->disk != 20 || fl->ephemeral || fl->swap || fl->n_specs))
        LOG_WARN("flavor '%s' is in the cloud and is used as it is: the settings of the 'flavor' key apply only to a "
                 "flavor vmtp creates",
                 cfg->flavor_type);
    if (rc == -ENOENT) {
        char name[300];
        s_name(s, "flavor", name, sizeof name);
        LOG_INFO("flavor '%s' is not in the cloud: creating %s (%llu vCPU, %llu MiB, disk %llu GB, ephemeral %llu GB, "
                 "swap %llu MiB, %u extra spec%s)",
                 cfg->flavor_type, name, (unsigned long long)fl->vcpus, (unsigned long long)fl->ram,
                 (unsigned long long)fl->disk, (unsigned long long)fl->ephemeral, (unsigned long long)fl->swap,
                 fl->n_specs, fl->n_specs == 1 ? "" : "s");
        rc = os_create_flavor(&s->cc, name, fl, s->flavor, why, cap);
    }
    if (rc < 0)
        return rc;
    char pub[1200];
    s_name(s, cfg->public_key_name, s->keypair, sizeof s->keypair);
    if (cfg->public_key_file) {
        FILE *f = fopen(cfg->public_key_file, "r");
        if (!f || !fgets(pub, sizeof pub, f)) {
            snprintf(why, cap, "public_key_file %s: %s", cfg->public_key_file, f ? "empty" : strerror(errno));
            if (f)
                fclose(f);
            return -EINVAL;
        }
        fclose(f);
        pub[strcspn(pub, "\r\n")] = 0;
        snprintf(s->key_path, sizeof s->key_path, "%s", cfg->private_key_file ? cfg->private_key_file : "");
    } else {
        snprintf(s->key_path, sizeof s->key_path, "%s/key-%s", s->state_dir, s->run_id);
        char comment[64];
        snprintf(comment, sizeof comment, "vmtp-%s", s->run_id);
        if ((rc = os_keygen(s->key_path, comment, pub, sizeof pub, why, cap)) < 0)
            return rc;
    }
    return os_create_keypair(&s->cc, s->keypair, pub, why, cap);
}

static int s_networks(s_os_t *s, char *why, size_t cap)
{
    const config_t *cfg = s->cfg;
    char name[300];
    uint16_t ports[2] = {(uint16_t)cfg->data_port, s->control_port};
    s_name(s, cfg->security_group_name, s->secgroup, sizeof s->secgroup);
    char sg_id[OS_ID_MAX];
    int rc = os_create_secgroup(&s->cc, s->secgroup, ports, 2, sg_id, why, cap);
    if (rc < 0)
        return rc;
    if (cfg->reuse_network_name) {
        /* VMTP's provider-network case: no router, no floating IP (a cloud like that may have no external
         * network at all); the VMs are reached at their address on that network. */
        if ((rc = os_find_neutron(&s->cc, "networks", cfg->reuse_network_name, s->net[0], why, cap)) < 0)
            return rc;
        snprintf(s->net_name[0], sizeof s->net_name[0], "%s", cfg->reuse_network_name);
        s->n_nets = 1;
        LOG_INFO("reusing network %s (%s): no router and no floating IP; the VMs are reached on it",
                 cfg->reuse_network_name, s->net[0]);
        return 0;
    }
    if ((rc = os_find_external_network(&s->cc, s->ext_net, s->ext_name, sizeof s->ext_name, why, cap)) < 0)
        return rc;
    /* the router: reused when one has exactly router_name, else ours */
    bool reused = os_find_neutron(&s->cc, "routers", cfg->router_name, s->router, why, cap) == 0;
    if (reused) {
        LOG_INFO("reusing router %s (%s): it is not deleted", cfg->router_name, s->router);
        json_t *res = NULL;
        char path[300];
        snprintf(path, sizeof path, "/v2.0/routers/%s", s->router);
        if ((rc = os_client_json(s->cl, "network", "GET", path, NULL, OS_RETRY_503, &res, why, cap)) < 0)
            return rc;
        bool has_gw = json_is_object(json_object_get(json_object_get(res, "router"), "external_gateway_info"));
        json_decref(res);
        if (!has_gw && (rc = os_set_router_gateway(&s->cc, s->router, s->ext_net, why, cap)) < 0)
            return rc;
    } else {
        s_name(s, cfg->router_name, name, sizeof name);
        if ((rc = os_create_router(&s->cc, name, s->ext_net, s->router, why, cap)) < 0)
            return rc;
    }
    s->n_nets = s->o->same_network_only || s->o->keep_first_flow_and_exit ? 1 : 2;
    for (int i = 0; i < s->n_nets; i++) {
        s_name(s, cfg->internal_network_name.v[i], s->net_name[i], sizeof s->net_name[i]);
        if ((rc = os_create_network(&s->cc, s->net_name[i], s->net[i], why, cap)) < 0)
            return rc;
        s_name(s, cfg->internal_subnet_name.v[i], name, sizeof name);
        if ((rc = os_create_subnet(&s->cc, name, s->net[i], cfg->internal_cidr.v[i],
                                   (const char *const *)cfg->dns_nameservers.v, cfg->dns_nameservers.n, !s->o->no_dhcp,
                                   s->subnet[i], why, cap)) < 0)
            return rc;
        if ((rc = os_add_router_interface(&s->cc, s->router, s->subnet[i], why, cap)) < 0)
            return rc;
    }
    return 0;
}

static int s_servers(s_os_t *s, char *why, size_t cap)
{
    static const struct {
        const char *role;
        int net;
        bool other;
    } plan[S_N_VMS] = {{"server", 0, false},
                       {"client-net1-intra", 0, false},
                       {"client-net1-inter", 0, true},
                       {"client-net2-intra", 1, false},
                       {"client-net2-inter", 1, true}};
    bool have_b = !s->forced || s->host[1][0];
    int rc = 0;
    for (int i = 0; i < S_N_VMS; i++) {
        s_vm_t *v = &s->vm[i];
        v->role = plan[i].role;
        v->net = plan[i].net;
        v->other_host = plan[i].other;
        v->wanted = v->net < s->n_nets && (!v->other_host || have_b) &&
                    !(s->o->inter_node_only && i > 0 && !v->other_host) && (!s->o->keep_first_flow_and_exit || i < 2);
    }
    unsigned n_boot = 0;
    for (int i = 0; i < S_N_VMS; i++)
        n_boot += s->vm[i].wanted;
    LOG_INFO("booting %u VM%s", n_boot, n_boot == 1 ? "" : "s");
    /* every boot requested first: Nova builds them side by side */
    for (int i = 0; i < S_N_VMS; i++) {
        s_vm_t *v = &s->vm[i];
        if (!v->wanted)
            continue;
        char name[300], az[400] = "";
        s_name(s, v->role, name, sizeof name);
        int h = v->other_host ? 1 : 0;
        if (s->forced && s->host[h][0])
            snprintf(az, sizeof az, "%s:%s", s->zone[h], s->host[h]);
        else if (s->cfg->availability_zone)
            snprintf(az, sizeof az, "%s", s->cfg->availability_zone);
        rc = os_create_server(&s->cc, name, s->image, s->flavor, s->keypair, s->secgroup, s->net[v->net], az, v->id,
                              why, cap);
        if (rc < 0)
            return rc;
    }
    int64_t bound = (int64_t)(s->cfg->generic_retry_count ? s->cfg->generic_retry_count : 1) * 2 * VMTP_NS_PER_S;
    for (int i = 0; i < S_N_VMS; i++) {
        s_vm_t *v = &s->vm[i];
        if (!v->wanted)
            continue;
        char w[600];
        int64_t t0 = clock_mono_ns();
        rc = os_wait_server(&s->cc, v->id, bound, &v->srv, w, sizeof w);
        if (rc == -EINTR)
            return rc;
        if (rc < 0) { /* this VM's flows FAIL with the reason; the others go on */
            snprintf(v->error, sizeof v->error, "%.511s", w);
            LOG_ERROR("VM %s %s", v->role, w);
            if (i == 0) { /* without the server nothing can run */
                snprintf(why, cap, "the server VM: %s", w);
                return rc;
            }
            continue;
        }
        LOG_INFO("VM %s: ACTIVE in %.1f s on %s", v->role, (double)(clock_mono_ns() - t0) / 1e9,
                 v->srv.host[0]      ? v->srv.host
                 : v->srv.host_id[0] ? "(hostId) "
                                     : "an unknown host");
        if ((rc = os_server_port(&s->cc, v->id, s->net[v->net], v->port_id, v->fixed_ip, sizeof v->fixed_ip, why,
                                 cap)) < 0)
            return rc;
        if (s->cfg->floating_ip && !s->cfg->reuse_network_name) {
            char label[300];
            s_name(s, v->role, label, sizeof label);
            strncat(label, "-fip", sizeof label - strlen(label) - 1);
            char fip_id[OS_ID_MAX];
            if ((rc = os_create_fip(&s->cc, label, s->ext_net, v->port_id, fip_id, v->fip, sizeof v->fip, why, cap)) <
                0)
                return rc;
        }
    }
    return 0;
}

/* Waits until every VM's SSH port accepts a connection (sshd up), bounded by ssh_retry_count. */
static int s_wait_ssh(s_os_t *s, char *why, size_t cap)
{
    int64_t end = clock_mono_ns() + (int64_t)(s->cfg->ssh_retry_count + 1) * 5 * VMTP_NS_PER_S;
    for (int i = 0; i < S_N_VMS; i++) {
        s_vm_t *v = &s->vm[i];
        if (!v->wanted || v->error[0])
            continue;
        const char *addr = v->fip[0] ? v->fip : v->fixed_ip;
        int64_t t0 = clock_mono_ns();
        for (;;) {
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(22)};
            inet_pton(AF_INET, addr, &sa.sin_addr);
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            bool up = false;
            if (fd >= 0 && (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 || errno == EINPROGRESS)) {
                struct pollfd p[2] = {{.fd = fd, .events = POLLOUT}, {.fd = s->sigfd, .events = POLLIN}};
                int r = poll(p, 2, 2000);
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                if (r > 0 && (p[1].revents & POLLIN)) {
                    close(fd);
                    return -EINTR;
                }
                up = r > 0 && (p[0].revents & POLLOUT) && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
                     soerr == 0;
            }
            if (fd >= 0)
                close(fd);
            if (up) {
                LOG_DEBUG("VM %s: SSH port open at %s after %.1f s", v->role, addr,
                          (double)(clock_mono_ns() - t0) / 1e9);
                break;
            }
            if (clock_mono_ns() > end) {
                snprintf(v->error, sizeof v->error, "SSH port of %s (%s) still closed after %llu tries", v->role, addr,
                         (unsigned long long)s->cfg->ssh_retry_count);
                break;
            }
            struct pollfd p = {.fd = s->sigfd, .events = POLLIN};
            if (poll(&p, 1, 1000) > 0)
                return -EINTR;
        }
    }
    (void)why;
    (void)cap;
    return 0;
}

/* --- the measurement ------------------------------------------------------------------------------- */

static int s_measure(s_os_t *s)
{
    inventory_t inv;
    memset(&inv, 0, sizeof inv);
    const char *user = s->cfg->ssh_vm_username ? s->cfg->ssh_vm_username : "root";
    const s_vm_t *server = &s->vm[0];
    bool by_host = server->srv.host[0] != 0;
    for (int i = 0; i < S_N_VMS; i++) {
        const s_vm_t *v = &s->vm[i];
        if (!v->wanted)
            continue;
        inventory_vm_t *iv = &inv.vms[inv.n_vms];
        char spec[400];
        /* a VM that did not come up is named by its role (never dialled: its host is failed first) */
        snprintf(spec, sizeof spec, "%s@%s", user, v->fip[0] ? v->fip : v->fixed_ip[0] ? v->fixed_ip : v->role);
        iv->ssh = strdup(spec);
        snprintf(iv->name, sizeof iv->name, "%s", v->role);
        iv->server = i == 0;
        snprintf(iv->fixed_ip, sizeof iv->fixed_ip, "%s", v->fixed_ip[0] ? v->fixed_ip : "0.0.0.0");
        snprintf(iv->floating_ip, sizeof iv->floating_ip, "%s", v->fip);
        snprintf(iv->network, sizeof iv->network, "%s", s->net_name[v->net]);
        /* where it really is: Nova's host (admin), else hostId (equal = same host), else where it was sent */
        const char *where = by_host ? v->srv.host : v->srv.host_id;
        if (!where[0])
            where = v->other_host ? "requested-other-host" : "requested-server-host";
        snprintf(iv->compute_host, sizeof iv->compute_host, "%s", where);
        snprintf(iv->error, sizeof iv->error, "%s", v->error);
        if (!iv->ssh) {
            inventory_fini(&inv);
            return VMTP_EXIT_INTERNAL;
        }
        if (s->forced && v->srv.host[0] && strcmp(v->srv.host, s->host[v->other_host ? 1 : 0]) != 0)
            LOG_WARN("VM %s was sent to %s but runs on %s: its rows are labelled by where it runs", v->role,
                     s->host[v->other_host ? 1 : 0], v->srv.host);
        inv.n_vms++;
    }
    inv.server = 0;
    inv.private_key_file = s->key_path[0] ? strdup(s->key_path) : NULL;
    inv.known_hosts = strdup(s->known_hosts);
    inv.accept_new_keys = true; /* new VMs, new host keys: recorded in this run's own known_hosts */
    config_t cfg = *s->cfg;
    cfg.control_port = s->control_port;
    const os_token_t *t = os_client_token(s->cl);
    summary_cloud_t cloud = {.auth_url = os_client_creds(s->cl)->auth_url,
                             .region = os_client_creds(s->cl)->region,
                             .project_id = t->project_id,
                             .encapsulation = s->encap,
                             .l2_agent_type = s->l2_agent,
                             .placement = by_host                  ? "host (admin)"
                                          : server->srv.host_id[0] ? "hostId"
                                                                   : "unverified",
                             .admin = t->admin};
    int status = run_inventory_cloud(s->o, &cfg, &inv, &cloud);
    inventory_fini(&inv);
    return status;
}

/* --- the run ------------------------------------------------------------------------------------- */

/* VMTP settings this run does not act on yet: said, not silently ignored. */
static void s_warn_unused(const s_os_t *s)
{
    const config_t *c = s->cfg;
    if (c->ipv6_mode[0])
        LOG_WARN("ipv6_mode=%s is not used: the run's subnets are IPv4 only", c->ipv6_mode);
    if (c->config_drive)
        LOG_WARN("config_drive / --use-config-drive is not used: the VMs are reached over SSH only");
    if (c->user_data_file)
        LOG_WARN("user_data_file is not used: vmtp starts its agent over SSH, not through user data");
    if (c->reuse_existing_vm)
        LOG_WARN("reuse_existing_vm is not used: describe existing VMs with --inventory instead");
    if (s->o->vnic_type && strcmp(s->o->vnic_type, "normal") != 0)
        LOG_WARN("--vnic-type %s is not used: the VMs get normal ports", s->o->vnic_type);
}

static int s_provision(s_os_t *s)
{
    char why[1500];
    int rc;
    s_warn_unused(s);
    if ((rc = s_placement(s, why, sizeof why)) < 0)
        return s_step_failed(s, rc, "finding the compute hosts", why);
    if ((rc = s_image_flavor_key(s, why, sizeof why)) < 0)
        return s_step_failed(s, rc, "image, flavor and key pair", why);
    if ((rc = s_networks(s, why, sizeof why)) < 0)
        return s_step_failed(s, rc, "creating the networks", why);
    if ((rc = s_servers(s, why, sizeof why)) < 0)
        return s_step_failed(s, rc, "booting the VMs", why);
    if ((rc = s_wait_ssh(s, why, sizeof why)) < 0)
        return s_step_failed(s, rc, "waiting for the VMs' SSH", why);
    os_cloud_facts(&s->cc, s->net[0], s->l2_agent, sizeof s->l2_agent, s->encap, sizeof s->encap);
    return 0;
}

/* Deletes what the ledger holds; the ledger (and the run's key) go when nothing is left. */
static bool s_cleanup(s_os_t *s)
{
    os_client_set_intr_fd(s->cl, -1); /* the cleanup is never cut short */
    os_cleanup_stats_t st;
    int64_t t0 = clock_mono_ns();
    LOG_INFO("cleanup: deleting %u resource%s of run %s", os_ledger_live(s->led),
             os_ledger_live(s->led) == 1 ? "" : "s", s->run_id);
    int rc = os_cloud_cleanup(&s->cc, &st);
    if (rc < 0) {
        LOG_ERROR("cleanup: %u resource%s could not be deleted; once the cloud is fine: vmtp cleanup --ledger %s",
                  st.failed, st.failed == 1 ? "" : "s", os_ledger_path(s->led));
        return false;
    }
    LOG_INFO("cleanup: %u deleted, %u already gone, in %.1f s", st.deleted, st.gone,
             (double)(clock_mono_ns() - t0) / 1e9);
    unlink(os_ledger_path(s->led));
    if (!s->cfg->public_key_file && s->key_path[0])
        unlink(s->key_path);
    unlink(s->known_hosts);
    return true;
}

int run_openstack(const vmtp_opts_t *o, const config_t *cfg)
{
    int64_t t0 = clock_mono_ns();
    s_os_t *s = calloc(1, sizeof *s);
    if (!s)
        return VMTP_EXIT_INTERNAL;
    s->o = o;
    s->cfg = cfg;
    s->sigfd = -1;
    s->control_port = (uint16_t)(cfg->control_port        ? cfg->control_port
                                 : cfg->data_port < 65535 ? cfg->data_port + 1
                                                          : cfg->data_port - 1);
    uint8_t rnd[4] = {0};
    int rfd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (rfd >= 0) {
        if (read(rfd, rnd, sizeof rnd) != (ssize_t)sizeof rnd)
            rnd[0] = (uint8_t)getpid();
        close(rfd);
    }
    snprintf(s->run_id, sizeof s->run_id, "%02x%02x%02x%x", rnd[0], rnd[1], rnd[2], rnd[3] & 0xf);
    char why[1500];
    os_creds_t creds;
    int status = VMTP_EXIT_OK;
    if (os_creds_load(o->rc_file, o->os_cloud, o->no_env, o->os_password, &creds, why, sizeof why) < 0) {
        fprintf(stderr, "vmtp: %s\n", why);
        os_creds_wipe(&creds);
        free(s);
        return VMTP_EXIT_USAGE;
    }
    /* SIGINT/SIGTERM/SIGHUP are read from a signalfd from here to the end: the cleanup always runs */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    s->sigfd = signalfd(-1, &block, SFD_NONBLOCK | SFD_CLOEXEC);
    int err = 0;
    s->cl = os_client_new(&creds, s->sigfd, &err);
    os_creds_wipe(&creds);
    if (!s->cl) {
        fprintf(stderr, "vmtp: cannot start the OpenStack client: %s\n", strerror(-err));
        status = VMTP_EXIT_INTERNAL;
        goto out;
    }
    LOG_INFO("vmtp %s, OpenStack run %s, credentials from %s", VMTP_VERSION, s->run_id, os_client_creds(s->cl)->source);
    int rc = os_client_auth(s->cl, why, sizeof why);
    if (rc < 0) {
        if (rc == -EINTR) {
            s_take_signal(s);
        } else {
            fprintf(stderr, "vmtp: %s\n", why);
        }
        status = rc == -EINTR    ? (s->last_signal == SIGTERM ? VMTP_EXIT_SIGTERM : VMTP_EXIT_SIGINT)
                 : rc == -EACCES ? VMTP_EXIT_USAGE
                                 : VMTP_EXIT_FAILED;
        goto out;
    }
    if ((rc = os_ledger_dir(s->state_dir, sizeof s->state_dir)) < 0) {
        fprintf(stderr, "vmtp: no folder for the run's ledger (set VMTP_STATE_DIR or HOME): %s\n", strerror(-rc));
        status = VMTP_EXIT_INTERNAL;
        goto out;
    }
    const os_token_t *t = os_client_token(s->cl);
    s->led = os_ledger_create(s->state_dir, s->run_id, os_client_creds(s->cl)->auth_url, t->project_id,
                              os_client_creds(s->cl)->region, &err, why, sizeof why);
    if (!s->led) {
        fprintf(stderr, "vmtp: %s (nothing was created)\n", why);
        status = VMTP_EXIT_INTERNAL;
        goto out;
    }
    snprintf(s->known_hosts, sizeof s->known_hosts, "%s/known_hosts-%s", s->state_dir, s->run_id);
    os_cloud_init(&s->cc, s->cl, s->led, s->run_id);
    LOG_INFO("ledger %s (vmtp cleanup --ledger %s removes what it lists)", os_ledger_path(s->led),
             os_ledger_path(s->led));
    int64_t tp = clock_mono_ns();
    rc = s_provision(s);
    if (rc == 0) {
        LOG_INFO("provisioned in %.1f s", (double)(clock_mono_ns() - tp) / 1e9);
        status = s_measure(s);
    } else {
        status = rc == -EINTR ? (s->last_signal == SIGTERM  ? VMTP_EXIT_SIGTERM
                                 : s->last_signal == SIGHUP ? VMTP_EXIT_SIGHUP
                                                            : VMTP_EXIT_SIGINT)
                              : VMTP_EXIT_FAILED;
    }
    bool interrupted = status == VMTP_EXIT_SIGINT || status == VMTP_EXIT_SIGTERM || status == VMTP_EXIT_SIGHUP;
    if ((o->stop_on_error && status != VMTP_EXIT_OK && !interrupted) ||
        ((o->keep_resources || o->keep_first_flow_and_exit) && !interrupted)) {
        LOG_WARN("%s: the resources are kept; remove them with: vmtp cleanup --ledger %s",
                 o->keep_resources             ? "--keep-resources"
                 : o->keep_first_flow_and_exit ? "--keep-first-flow-and-exit"
                                               : "--stop-on-error",
                 os_ledger_path(s->led));
    } else if (!s_cleanup(s) && status == VMTP_EXIT_OK) {
        status = VMTP_EXIT_FAILED;
    }
out:
    if (s_take_signal(s) && status != VMTP_EXIT_SIGINT && status != VMTP_EXIT_SIGTERM && status != VMTP_EXIT_SIGHUP)
        status = s->last_signal == SIGTERM  ? VMTP_EXIT_SIGTERM
                 : s->last_signal == SIGHUP ? VMTP_EXIT_SIGHUP
                                            : VMTP_EXIT_SIGINT;
    os_ledger_close(&s->led);
    os_client_destroy(&s->cl);
    if (s->sigfd >= 0)
        close(s->sigfd);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&block, NULL, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    LOG_INFO("OpenStack run %s done in %.1f s", s->run_id, (double)(clock_mono_ns() - t0) / 1e9);
    free(s);
    return status;
}
