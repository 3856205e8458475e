/* run_hosts.c — a `vmtp` run against native hosts over SSH: flows 7.x (--host) and 8.x
 * (--external-host); see run.h.
 *
 * 1. SSH to every distinct host at once (host key checked first), a private directory (0700),
 *    vmtp-node uploaded unless the same build is there, the agent started with its CURVE keys on
 *    standard input; a host that fails any step is recorded with the reason and its flows fail.
 * 2. One coordinator session per agent (HELLO, heartbeats); the server arms its data port.
 * 3. Flows one at a time: 7.x between the first and the second --host (intra-host when one host
 *    plays both roles: its agent is the server and the client), 8.1/8.2 between the external host
 *    and the first --host (upload: the server sends; download: the external host sends).
 * 4. The table, the JSON; then, on every path (success, failure, SIGINT, SIGTERM), BYE to every
 *    agent (it exits and removes its directory) and an SSH cleanup that ends any process still
 *    running from that directory and removes it.
 */
#include "run.h"

#include "coord.h"
#include "flows.h"
#include "inventory.h"
#include "ssh.h"
#include "summary.h"
#include "vmtp/clock.h"
#include "vmtp/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_HOSTS (INVENTORY_MAX_VMS + 4) /* VMs, two native hosts, an external host */
#define S_CLEANUP_NS (30 * VMTP_NS_PER_S)   /* bound on the SSH cleanup of every host together */
#define S_START_PHASE_S 40                  /* bound on starting every agent */

typedef struct {
    ssh_target_t target;           /* parsed spec (secret inside) */
    char masked[600];              /* the spec for logs and JSON */
    ssh_t *ssh;                    /* session */
    char node_pub[COORD_KEY_SIZE]; /* the agent's key pair */
    char node_sec[COORD_KEY_SIZE];
    coord_node_t *node;       /* coordinator session, once the agent started */
    int hello;                /* 1 = pending, 0 = READY, < 0 = failed */
    char error[800];          /* why this host cannot be used ("" = usable so far) */
    const inventory_vm_t *vm; /* a VM of the inventory (not owned), or NULL for a host */
    const char *role;         /* its role, for the JSON */
    char data_addr[300];      /* where its data-plane server listens ("" until armed) */
    uint16_t data_port;       /* its data port (0 = not armed, or failed) */
    bool armed;               /* LISTEN was tried */
} s_host_t;

/* One flow of the run: a row group of VMTP's table. */
typedef struct {
    const char *group;  /* "1".."7", "8.1", "8.2" */
    const char *desc;   /* VMTP's description */
    int client, server; /* hosts[] indices */
    bool floating;      /* target the server's floating address (a VM server) */
    bool reverse;       /* the server sends */
    bool icmp;          /* run ICMP too */
    char skip[200];     /* why it does not run ("" = it runs) */
    int claim;          /* VM rows: the inventory places client and server on one host (1) or two (0); -1 n/a */
} s_plan_t;

typedef struct {
    const vmtp_opts_t *o;
    const config_t *cfg;
    coord_t *c;
    s_host_t hosts[S_MAX_HOSTS];
    unsigned n_hosts;
    bool interrupted;
    char run_id[16];
    ssh_cfg_t scfg;     /* how every session is made */
    char key_buf[4200]; /* scfg's private key path */
    char kh_buf[4200];  /* scfg's known_hosts path */
    const config_t *native_cfg; /* the SSH settings of native and external hosts (an OpenStack run's VMs have
                                   their own key and known_hosts), not owned */
    ssh_cfg_t scfg_native;      /* sessions to those hosts */
    char nkey_buf[4200];
    char nkh_buf[4200];
    const summary_cloud_t *cloud; /* an OpenStack run's facts for the JSON (not owned), or NULL */
} s_run_t;

/* ---- helpers --------------------------------------------------------------------------------------- */

/* Copies s with anything but printable ASCII replaced by '?' (text a remote end chose, bound for a log). */
static void s_printable(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    out[i] = 0;
}

static void s_host_fail(s_host_t *h, const char *what, const char *why)
{
    if (!h->error[0])
        snprintf(h->error, sizeof h->error, "%s: %s", what, why);
    LOG_ERROR("%s: %s", h->masked, h->error);
}

/* "~/x" → "$HOME/x". */
static const char *s_expand(const char *path, char *buf, size_t cap)
{
    if (!path || path[0] != '~' || (path[1] && path[1] != '/'))
        return path;
    const char *home = getenv("HOME");
    snprintf(buf, cap, "%s%s", home ? home : "", path + 1);
    return buf;
}

/* vmtp-node next to this program (or $VMTP_NODE). */
static int s_node_binary(char *out, size_t cap)
{
    const char *env = getenv("VMTP_NODE");
    if (env && env[0]) {
        snprintf(out, cap, "%s", env);
        return access(out, R_OK) == 0 ? 0 : -errno;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -errno;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    if (snprintf(out, cap, "%s/vmtp-node", self) >= (int)cap)
        return -ENAMETOOLONG;
    return access(out, R_OK) == 0 ? 0 : -errno;
}

/* Drives the busy sessions until they are done, the deadline passes, or (when interruptible) a
 * signal arrives. Signals are read through coord_poll so the coordinator keeps serving too. */
static int s_drive(s_run_t *r, int64_t deadline, bool interruptible)
{
    for (;;) {
        struct pollfd pfd[S_MAX_HOSTS + 1];
        s_host_t *who[S_MAX_HOSTS];
        nfds_t n = 0;
        int64_t now = clock_mono_ns(), next = deadline;
        for (unsigned i = 0; i < r->n_hosts; i++) {
            s_host_t *h = &r->hosts[i];
            if (!h->ssh || !ssh_busy(h->ssh))
                continue;
            int rc = ssh_step(h->ssh); /* libssh2 may hold buffered data: advance before waiting */
            if (rc == -EAGAIN) {
                pfd[n] = (struct pollfd){.fd = ssh_fd(h->ssh), .events = ssh_events(h->ssh)};
                who[n++] = h;
                int64_t d = ssh_deadline_ns(h->ssh);
                if (d && d < next)
                    next = d;
            }
        }
        if (!n)
            return 0;
        if (now >= deadline) {
            for (nfds_t i = 0; i < n; i++)
                ssh_abort(who[i]->ssh, "the run's time bound for this step passed");
            return -ETIMEDOUT;
        }
        int64_t wait = next - now;
        if (wait > 200 * VMTP_NS_PER_MS)
            wait = 200 * VMTP_NS_PER_MS; /* the coordinator's heartbeats and signals */
        if (poll(pfd, n, (int)((wait + VMTP_NS_PER_MS - 1) / VMTP_NS_PER_MS)) < 0 && errno != EINTR)
            return -errno;
        if (coord_poll(r->c, 0) == -EINTR) {
            r->interrupted = true;
            if (interruptible) {
                for (nfds_t i = 0; i < n; i++)
                    ssh_abort(who[i]->ssh, "interrupted");
                return -EINTR;
            }
        }
    }
}

/* Runs one SSH step on every usable host; a failure marks the host. */
typedef int (*s_op_fn)(s_run_t *r, s_host_t *h, const void *arg);

static int s_phase(s_run_t *r, const char *what, s_op_fn op, const void *arg, int64_t bound_ns)
{
    for (unsigned i = 0; i < r->n_hosts; i++) {
        s_host_t *h = &r->hosts[i];
        if (h->error[0] || !h->ssh)
            continue;
        int rc = op(r, h, arg);
        if (rc < 0)
            s_host_fail(h, what, strerror(-rc));
    }
    int rc = s_drive(r, clock_mono_ns() + bound_ns, true);
    for (unsigned i = 0; i < r->n_hosts; i++) {
        s_host_t *h = &r->hosts[i];
        if (!h->error[0] && h->ssh && ssh_status(h->ssh) < 0)
            s_host_fail(h, what, ssh_error(h->ssh)[0] ? ssh_error(h->ssh) : strerror(-ssh_status(h->ssh)));
    }
    return rc;
}

static int s_op_connect(s_run_t *r, s_host_t *h, const void *arg)
{
    (void)r;
    (void)arg;
    return ssh_connect(h->ssh);
}

static int s_op_mkdtemp(s_run_t *r, s_host_t *h, const void *arg)
{
    (void)r;
    (void)arg;
    return ssh_mkdtemp(h->ssh);
}

static int s_op_upload(s_run_t *r, s_host_t *h, const void *arg)
{
    (void)r;
    char remote[600];
    snprintf(remote, sizeof remote, "%s/vmtp-node", ssh_remote_dir(h->ssh));
    return ssh_upload(h->ssh, arg, remote);
}

static int s_op_start(s_run_t *r, s_host_t *h, const void *arg)
{
    (void)arg;
    const char *dir = ssh_remote_dir(h->ssh);
    char cmd[1600];
    /* A host's agent listens on the address we reached it by (when it is one), so its control port
     * is exactly as exposed as its SSH port; a VM's on every address (its floating address is the
     * router's, not its own). */
    /* A host's agent listens on the local address our SSH connection arrived at (sshd's
     * SSH_CONNECTION: client address, port, server address, port): exactly as exposed as its SSH
     * port, and right behind a NAT too, where the address we dialled is not the host's. A VM's
     * agent listens on every address (its floating address belongs to the router). */
    const char *bind = h->vm ? "" : " --bind \"${3:-}\"";
    /* Until our HELLO the agent waits the whole start phase plus its silence bound (other hosts may
     * still be starting); HELLO then sets the bound to agent_silence_timeout. */
    snprintf(cmd, sizeof cmd,
             "set -- $SSH_CONNECTION; exec %s/vmtp-node agent --port %llu%s --silence %llu --cleanup %s", dir,
             (unsigned long long)r->cfg->control_port, bind,
             (unsigned long long)(r->cfg->agent_silence_timeout + S_START_PHASE_S + 30), dir);
    if (coord_keypair(h->node_pub, h->node_sec) < 0)
        return -EIO;
    char keys[200];
    int len = snprintf(keys, sizeof keys, "secret %s\ncoordinator %s\n", h->node_sec, coord_public_key(r->c));
    int rc = ssh_start(h->ssh, cmd, keys, (size_t)len, "ready port=", 30 * VMTP_NS_PER_S);
    memset(keys, 0, sizeof keys);
    memset(h->node_sec, 0, sizeof h->node_sec);
    return rc;
}

static void s_on_hello(coord_node_t *n, int status, void *arg)
{
    (void)n;
    ((s_host_t *)arg)->hello = status;
}

/* ---- set-up -------------------------------------------------------------------------------------- */

/* The index of spec's host in r->hosts, adding it (one session per distinct user@host:port). */
static int s_add_host(s_run_t *r, const char *spec, const char *opt, const inventory_vm_t *vm, const char *role,
                      char *why, size_t cap)
{
    ssh_target_t t;
    char err[300];
    if (ssh_target_parse(spec, SSH_DEFAULT_PORT, &t, err, sizeof err) < 0) {
        snprintf(why, cap, "%s: %s", opt, err);
        return -EINVAL;
    }
    for (unsigned i = 0; i < r->n_hosts; i++) {
        const ssh_target_t *o = &r->hosts[i].target;
        if (!strcmp(o->user, t.user) && !strcmp(o->host, t.host) && o->port == t.port) {
            memset(&t, 0, sizeof t);
            return (int)i;
        }
    }
    if (r->n_hosts == S_MAX_HOSTS) {
        memset(&t, 0, sizeof t);
        snprintf(why, cap, "%s: more than %d hosts", opt, S_MAX_HOSTS);
        return -E2BIG;
    }
    s_host_t *h = &r->hosts[r->n_hosts];
    h->vm = vm;
    h->role = role;
    h->target = t;
    memset(&t, 0, sizeof t);
    ssh_target_masked(&h->target, h->masked, sizeof h->masked);
    h->hello = 1;
    return (int)r->n_hosts++;
}

/* The SSH settings of host h: a VM's, or a native or external host's. */
static const ssh_cfg_t *s_scfg(const s_run_t *r, const s_host_t *h) { return h->vm ? &r->scfg : &r->scfg_native; }

static int s_setup(s_run_t *r)
{
    char node_bin[PATH_MAX];
    int rc = s_node_binary(node_bin, sizeof node_bin);
    if (rc < 0) {
        char why[300];
        snprintf(why, sizeof why, "cannot find vmtp-node next to vmtp (or $VMTP_NODE): %s", strerror(-rc));
        for (unsigned i = 0; i < r->n_hosts; i++)
            s_host_fail(&r->hosts[i], "setup", why);
        return rc;
    }
    r->scfg = (ssh_cfg_t){
        .known_hosts = s_expand(r->cfg->known_hosts, r->kh_buf, sizeof r->kh_buf),
        .hostkey_policy = r->cfg->accept_new_host_keys ? SSH_HOSTKEY_ACCEPT_NEW : SSH_HOSTKEY_STRICT,
        .private_key = s_expand(r->cfg->private_key_file, r->key_buf, sizeof r->key_buf),
        .connect_timeout_ns = (int64_t)r->cfg->ssh_connect_timeout * VMTP_NS_PER_S,
    };
    const config_t *nc = r->native_cfg ? r->native_cfg : r->cfg;
    r->scfg_native = (ssh_cfg_t){
        .known_hosts = s_expand(nc->known_hosts, r->nkh_buf, sizeof r->nkh_buf),
        .hostkey_policy = nc->accept_new_host_keys ? SSH_HOSTKEY_ACCEPT_NEW : SSH_HOSTKEY_STRICT,
        .private_key = s_expand(nc->private_key_file, r->nkey_buf, sizeof r->nkey_buf),
        .connect_timeout_ns = (int64_t)nc->ssh_connect_timeout * VMTP_NS_PER_S,
    };
    for (unsigned i = 0; i < r->n_hosts; i++) {
        int err = 0;
        r->hosts[i].ssh = ssh_new(&r->hosts[i].target, s_scfg(r, &r->hosts[i]), &err);
        if (!r->hosts[i].ssh)
            s_host_fail(&r->hosts[i], "ssh", strerror(-err));
    }
    LOG_INFO("connecting to %u host%s over SSH", r->n_hosts, r->n_hosts > 1 ? "s" : "");
    int64_t bound = (int64_t)r->cfg->ssh_connect_timeout * VMTP_NS_PER_S + 5 * VMTP_NS_PER_S;
    if ((rc = s_phase(r, "SSH", s_op_connect, NULL, bound)) == -EINTR ||
        (rc = s_phase(r, "creating the working directory", s_op_mkdtemp, NULL, 60 * VMTP_NS_PER_S)) == -EINTR ||
        (rc = s_phase(r, "uploading vmtp-node", s_op_upload, node_bin, 300 * VMTP_NS_PER_S)) == -EINTR ||
        (rc = s_phase(r, "starting the agent", s_op_start, NULL, S_START_PHASE_S * VMTP_NS_PER_S)) == -EINTR)
        return -EINTR;
    for (unsigned i = 0; i < r->n_hosts; i++) {
        s_host_t *h = &r->hosts[i];
        if (h->error[0])
            continue;
        LOG_INFO("%s: agent started (vmtp-node %s, %s)", h->masked,
                 !strcmp(ssh_upload_method(h->ssh), "skipped") ? "already there" : "uploaded", ssh_ready_line(h->ssh));
        int port = 0;
        const char *p = strstr(ssh_ready_line(h->ssh), "port=");
        if (!p || sscanf(p, "port=%d", &port) != 1 || port <= 0 || port > 65535) {
            s_host_fail(h, "starting the agent", "it did not say which port it listens on");
            continue;
        }
        /* the address SSH reached (a name may resolve to several, of either family); the agent
         * listens where that connection arrived */
        const char *peer = ssh_peer_address(h->ssh)[0] ? ssh_peer_address(h->ssh) : h->target.host;
        char ep[400];
        snprintf(ep, sizeof ep, strchr(peer, ':') ? "tcp://[%s]:%d" : "tcp://%s:%d", peer, port);
        int err = 0;
        h->node = coord_add_node(r->c, h->target.host, ep, h->node_pub, s_on_hello, h, &err);
        if (!h->node)
            s_host_fail(h, "connecting to the agent", strerror(-err));
    }
    int64_t end = clock_mono_ns() + 30 * VMTP_NS_PER_S;
    for (;;) {
        bool pending = false;
        for (unsigned i = 0; i < r->n_hosts; i++)
            pending |= r->hosts[i].node && r->hosts[i].hello == 1;
        if (!pending || clock_mono_ns() > end)
            break;
        if (coord_poll(r->c, 100 * VMTP_NS_PER_MS) == -EINTR) {
            r->interrupted = true;
            return -EINTR;
        }
    }
    for (unsigned i = 0; i < r->n_hosts; i++) {
        s_host_t *h = &r->hosts[i];
        if (h->node && h->hello != 0)
            s_host_fail(h, "the agent's control session",
                        coord_node_reason(h->node)[0] ? coord_node_reason(h->node) : "no HELLO answer");
    }
    return 0;
}

/* ---- flows -------------------------------------------------------------------------------------- */

/* The data address of the server: the address of the interface its spec names (VMTP's
 * server-listen-if-name), else the address it was reached by. */
static void s_data_addr(const s_host_t *h, char *out, size_t cap)
{
    snprintf(out, cap, "%s", h->vm ? h->vm->fixed_ip : h->target.host);
    if (!h->target.ifname[0] || !h->node)
        return;
    const proto_hello_t *hello = coord_node_hello(h->node);
    for (unsigned i = 0; i < hello->addrs.n; i++) {
        char name[32], addr[80];
        if (sscanf(hello->addrs.v[i], "%31s %79s", name, addr) != 2 || strcmp(name, h->target.ifname))
            continue;
        char *slash = strchr(addr, '/');
        if (slash)
            *slash = 0;
        if (!strchr(addr, ':') || !strchr(out, '.')) { /* IPv4 first */
            snprintf(out, cap, "%s", addr);
            if (!strchr(addr, ':'))
                return;
        }
    }
}

typedef struct {
    s_run_t *r;
    const char *label;
} s_progress_t;

/* After each measurement: the line, and the agents' SSH channels read (whatever an agent writes
 * to its standard error must not fill the channel's window and stall it). */
static void s_progress(const char *line, void *arg)
{
    s_progress_t *p = arg;
    if (line && !p->r->o->quiet)
        LOG_INFO("  %s: %s", p->label, line);
    for (unsigned i = 0; i < p->r->n_hosts; i++)
        if (p->r->hosts[i].ssh && !ssh_busy(p->r->hosts[i].ssh))
            ssh_step(p->r->hosts[i].ssh);
}

typedef struct {
    int listen_status;
    uint16_t port;
    bool done;
} s_listen_t;

static void s_on_listen(coord_node_t *n, int status, uint16_t port, void *arg)
{
    (void)n;
    s_listen_t *l = arg;
    l->listen_status = status;
    l->port = port;
    l->done = true;
}

/* Runs one flow (client → server's data address), or records why it could not run. */
static int s_flow(s_run_t *r, flow_result_t *f, const char *group, const char *desc, int client, int server,
                  const char *target, uint16_t port, bool reverse, bool icmp)
{
    s_host_t *hc = &r->hosts[client], *hs = &r->hosts[server];
    snprintf(f->id, sizeof f->id, "%s", group);
    snprintf(f->desc, sizeof f->desc, "%s", desc);
    snprintf(f->ip_from, sizeof f->ip_from, "%s", hc->target.host);
    snprintf(f->ip_to, sizeof f->ip_to, "%s", target);
    const s_host_t *bad = hs->error[0] ? hs : hc->error[0] ? hc : NULL;
    if (bad || !port) {
        f->status = FLOW_FAILED;
        snprintf(f->reason, sizeof f->reason, "%.200s: %.390s", bad ? bad->masked : hs->masked,
                 bad ? bad->error : "its data-plane server is not armed");
        LOG_ERROR("%s %s: FAILED: %s", group, desc, f->reason);
        return 0;
    }
    LOG_INFO("flow %s: %s, %s -> %s", group, desc, hc->target.host, target);
    s_progress_t prog = {.r = r, .label = group};
    flow_ctx_t fc = {.c = r->c,
                     .client = hc->node,
                     .server = hs->node,
                     .target = target,
                     .port = port,
                     .cfg = r->cfg,
                     .time_ns = r->o->time_ns,
                     .trial_ns = (int64_t)r->cfg->udp_trial_ms * VMTP_NS_PER_MS,
                     .tcp = r->o->tcp,
                     .udp = r->o->udp,
                     .icmp = r->o->icmp && icmp,
                     .reverse = reverse,
                     .progress = s_progress,
                     .progress_arg = &prog};
    int rc = flow_measure(&fc, f);
    /* flow_measure names the hosts by their HELLO; the JSON keeps the addresses used. */
    LOG_INFO("flow %s: %s in %.1f s%s%s", group, flow_status_name(f->status), f->wall_s, f->reason[0] ? ": " : "",
             f->reason);
    if (rc == -EINTR)
        r->interrupted = true;
    return rc;
}

/* ---- the run -------------------------------------------------------------------------------------- */

/* Drives every busy session until done or end (no coordinator: the cleanup runs after it). */
static void s_drive_plain(s_run_t *r, int64_t end)
{
    for (;;) {
        struct pollfd pfd[S_MAX_HOSTS];
        nfds_t n = 0;
        for (unsigned i = 0; i < r->n_hosts; i++) {
            ssh_t *s = r->hosts[i].ssh;
            if (s && ssh_busy(s) && ssh_step(s) == -EAGAIN)
                pfd[n++] = (struct pollfd){.fd = ssh_fd(s), .events = ssh_events(s)};
        }
        if (!n || clock_mono_ns() > end)
            return;
        poll(pfd, n, 100);
    }
}

/* A session broken in the middle of an operation (an upload interrupted or timed out) cannot run
 * the cleanup: a fresh session removes the directory it had made. */
static void s_cleanup_broken(s_run_t *r, int64_t end)
{
    char dirs[S_MAX_HOSTS][600];
    bool any = false;
    for (unsigned i = 0; i < r->n_hosts; i++) {
        s_host_t *h = &r->hosts[i];
        dirs[i][0] = 0;
        if (!h->ssh || ssh_connected(h->ssh) || !ssh_remote_dir(h->ssh)[0])
            continue;
        const char *d = ssh_remote_dir(h->ssh);
        /* Only what mktemp made: an absolute path to a vmtp.XXXXXX directory, quotable as is. */
        if (d[0] != '/' || !strstr(d, "/vmtp.") || strpbrk(d, "'\n")) {
            LOG_ERROR("%s: remove %s there by hand", h->masked, d);
            continue;
        }
        snprintf(dirs[i], sizeof dirs[i], "%s", d);
        ssh_destroy(&h->ssh);
        int err = 0;
        h->ssh = ssh_new(&h->target, s_scfg(r, h), &err);
        if (h->ssh && ssh_connect(h->ssh) == 0)
            any = true;
    }
    if (!any)
        return;
    s_drive_plain(r, end);
    for (unsigned i = 0; i < r->n_hosts; i++) {
        if (!dirs[i][0] || !r->hosts[i].ssh || !ssh_connected(r->hosts[i].ssh))
            continue;
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf -- '%.600s'", dirs[i]);
        ssh_exec(r->hosts[i].ssh, cmd, 20 * VMTP_NS_PER_S);
    }
    s_drive_plain(r, end);
    for (unsigned i = 0; i < r->n_hosts; i++) {
        s_host_t *h = &r->hosts[i];
        if (!dirs[i][0])
            continue;
        const ssh_result_t *res = h->ssh ? ssh_result(h->ssh) : NULL;
        if (!h->ssh || ssh_status(h->ssh) < 0 || !res || res->exit_status != 0)
            LOG_ERROR("%s: could not remove %s: remove it there by hand", h->masked, dirs[i]);
        else
            LOG_DEBUG("%s: removed %s over a fresh session", h->masked, dirs[i]);
    }
}

static void s_cleanup(s_run_t *r)
{
    coord_destroy(&r->c); /* BYE: each agent exits and removes its directory */
    int64_t end = clock_mono_ns() + S_CLEANUP_NS;
    s_cleanup_broken(r, end);
    for (unsigned i = 0; i < r->n_hosts; i++)
        if (r->hosts[i].ssh && ssh_connected(r->hosts[i].ssh) && ssh_cleanup(r->hosts[i].ssh) < 0)
            LOG_WARN("%s: cannot start the cleanup", r->hosts[i].masked);
    s_drive_plain(r, end);
    for (unsigned i = 0; i < r->n_hosts; i++) {
        s_host_t *h = &r->hosts[i];
        if (h->ssh && ssh_connected(h->ssh)) {
            if (ssh_busy(h->ssh))
                ssh_abort(h->ssh, "cleanup time bound passed");
            if (ssh_status(h->ssh) < 0)
                LOG_ERROR("%s: cleanup failed: %s (remove %s there by hand)", h->masked, ssh_error(h->ssh),
                          ssh_remote_dir(h->ssh)[0] ? ssh_remote_dir(h->ssh) : "vmtp.* in its temporary directory");
            else
                LOG_DEBUG("%s: cleaned up", h->masked);
        }
        ssh_destroy(&h->ssh);
        memset(&h->target, 0, sizeof h->target);
    }
}

/* Sends LISTEN to h's agent and waits for the answer (the request has its own deadline), a
 * signal, or a failing loop. */
static void s_listen_wait(s_run_t *r, s_host_t *h, const char *bind, s_listen_t *l)
{
    if (coord_listen(h->node, (uint16_t)r->cfg->data_port, bind, s_on_listen, l) != 0)
        return;
    while (!l->done) {
        int rc = coord_poll(r->c, -1);
        if (rc == -EINTR) {
            r->interrupted = true;
            return;
        }
        if (rc < 0) {
            LOG_ERROR("the coordinator's event loop failed: %s", strerror(-rc));
            l->listen_status = rc;
            l->done = true;
            return;
        }
    }
}

/* Arms host h's data-plane server once (LISTEN on the data port) and returns its port, 0 if it
 * cannot serve. A VM listens on every address (its floating address is not its own); a host on
 * the address it is measured at. */
static uint16_t s_arm(s_run_t *r, s_host_t *h)
{
    if (h->armed)
        return h->data_port;
    h->armed = true;
    if (!h->node || h->error[0] || r->interrupted)
        return 0;
    s_data_addr(h, h->data_addr, sizeof h->data_addr);
    /* Bound to an address only when it is one: a name may resolve to loopback on its own host
     * (Debian maps the host's name to 127.0.1.1). */
    struct in_addr a4;
    struct in6_addr a6;
    bool literal = inet_pton(AF_INET, h->data_addr, &a4) == 1 || inet_pton(AF_INET6, h->data_addr, &a6) == 1;
    const char *bind = !h->vm && literal ? h->data_addr : "";
    s_listen_t l = {0};
    s_listen_wait(r, h, bind, &l);
    if (l.done && l.listen_status == -EADDRNOTAVAIL && bind[0]) {
        /* the address we reached the host by is not its own (NAT): every address then */
        LOG_DEBUG("%s: %s is not a local address there; the data port listens on every address", h->masked, bind);
        l = (s_listen_t){0};
        s_listen_wait(r, h, "", &l);
    }
    coord_detach(r->c, &l);
    if (l.done && l.listen_status == 0)
        h->data_port = l.port;
    else
        s_host_fail(h, "arming the data port", l.done ? strerror(-l.listen_status) : "interrupted");
    return h->data_port;
}

/* The server's address a flow targets: a VM's fixed or floating address, a host's data address. */
static const char *s_target(const s_host_t *hs, bool floating)
{
    if (hs->vm)
        return floating && hs->vm->floating_ip[0] ? hs->vm->floating_ip : hs->vm->fixed_ip;
    return hs->data_addr[0] ? hs->data_addr : hs->target.host;
}

/* SIGINT and SIGTERM stay blocked for the whole run; the coordinator reads them. */
typedef struct {
    sigset_t block, old;
} s_sigs_t;

static void s_sigs_block(s_sigs_t *s)
{
    sigemptyset(&s->block);
    sigaddset(&s->block, SIGINT);
    sigaddset(&s->block, SIGTERM);
    sigaddset(&s->block, SIGHUP); /* a closed terminal must not skip the cleanup either */
    pthread_sigmask(SIG_BLOCK, &s->block, &s->old);
}

/* Signals that came during the cleanup are dropped before unblocking (the run is over). */
static void s_sigs_restore(s_sigs_t *s)
{
    struct timespec zero = {0, 0};
    while (sigtimedwait(&s->block, NULL, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &s->old, NULL);
}

/* Sets up every host, runs the plan's flows in order, prints and writes the results, cleans up.
 * Returns the exit status. */
static int s_execute(s_run_t *r, s_plan_t *plan, unsigned n, int64_t t0)
{
    const vmtp_opts_t *o = r->o;
    s_sigs_t sigs;
    s_sigs_block(&sigs);
    int err = 0;
    coord_cfg_t ccfg = {.run_id = r->run_id,
                        .silence_ms = (uint32_t)(r->cfg->agent_silence_timeout * 1000),
                        .heartbeat_ms = 1000,
                        .signals = true};
    r->c = coord_new(&ccfg, &err);
    if (!r->c) {
        LOG_ERROR("cannot start the coordinator: %s", strerror(-err));
        s_sigs_restore(&sigs);
        return VMTP_EXIT_INTERNAL;
    }
    LOG_INFO("vmtp %s, run %s", VMTP_VERSION, r->run_id);
    int status = VMTP_EXIT_OK;
    s_setup(r);
    flow_result_t *flows = calloc(n, sizeof *flows);
    summary_flow_t *sf = calloc(n, sizeof *sf);
    /* Placement: the inventory's claim against what the VMs report. Only identities given to the
     * VMs by their hosts ("hv:...", VMTP_HOST_ID) can be compared: a VM cannot see its hypervisor. */
    for (unsigned k = 0; sf && k < n; k++) {
        s_plan_t *p = &plan[k];
        if (p->claim < 0)
            continue;
        sf[k].placement_claim = p->claim ? "intra-node" : "inter-node";
        sf[k].placement_reported = "unknown";
        if (p->skip[0] || p->client < 0 || p->server < 0)
            continue;
        s_host_t *hc = &r->hosts[p->client], *hs = &r->hosts[p->server];
        if (!hc->node || !hs->node || hc->hello || hs->hello)
            continue;
        const char *ic = coord_node_hello(hc->node)->host_id, *is = coord_node_hello(hs->node)->host_id;
        if (strncmp(ic, "hv:", 3) || strncmp(is, "hv:", 3))
            continue;
        bool same = !strcmp(ic, is);
        char pc[64], ps[64]; /* the agents' words, printable only, for the log */
        s_printable(ic + 3, pc, sizeof pc);
        s_printable(is + 3, ps, sizeof ps);
        sf[k].placement_reported = same ? "intra-node" : "inter-node";
        if (same != (p->claim == 1))
            LOG_WARN("row %s: the inventory places %s and %s on %s compute hosts, but they report %s and %s: the row "
                     "is labelled by what they report",
                     p->group, hc->vm ? hc->vm->name : hc->masked, hs->vm ? hs->vm->name : hs->masked,
                     p->claim ? "the same" : "different", pc, ps);
    }
    if (!flows || !sf) {
        free(flows);
        free(sf);
        s_cleanup(r);
        s_sigs_restore(&sigs);
        return VMTP_EXIT_INTERNAL;
    }
    /* The flows, in VMTP's order; --stop-on-error skips the rest after the first FAILED one. */
    const char *stopped = NULL;
    for (unsigned k = 0; k < n; k++) {
        s_plan_t *p = &plan[k];
        sf[k].group = p->group;
        if (p->skip[0] || r->interrupted || stopped) {
            sf[k].skip_reason = p->skip[0] ? p->skip : r->interrupted ? "interrupted" : stopped;
            continue;
        }
        s_host_t *hs = &r->hosts[p->server];
        uint16_t port = s_arm(r, hs);
        if (r->interrupted) {
            sf[k].skip_reason = "interrupted";
            continue;
        }
        sf[k].res = &flows[k];
        s_flow(r, &flows[k], p->group, p->desc, p->client, p->server, s_target(hs, p->floating), port, p->reverse,
               p->icmp);
        if (o->stop_on_error && flows[k].status == FLOW_FAILED) {
            stopped = "not run: --stop-on-error, an earlier flow FAILED";
            LOG_WARN("--stop-on-error: flow %s FAILED, the remaining flows are skipped", p->group);
        }
    }
    /* The table and the JSON, also after an interruption (with what finished). */
    summary_row_t *rows = NULL;
    summary_counts_t counts;
    int nrows = summary_rows(sf, n, o->tcp, o->udp, o->icmp, &rows, &counts);
    if (nrows > 0) {
        summary_print(stdout, rows, (unsigned)nrows, &counts);
        fflush(stdout);
    }
    if (o->json_file && nrows > 0) {
        summary_node_t nodes[S_MAX_HOSTS];
        for (unsigned i = 0; i < r->n_hosts; i++) {
            s_host_t *h = &r->hosts[i];
            nodes[i] = (summary_node_t){.role = h->role,
                                        .ssh_target = h->masked,
                                        .hello = h->node && h->hello == 0 ? coord_node_hello(h->node) : NULL};
            if (h->node)
                nodes[i].clock_offset_ns = coord_node_offset_ns(h->node, &nodes[i].clock_bound_ns);
        }
        char date[32];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
        summary_ctx_t ctx = {.date = date,
                             .args = vmtp_cli_args_masked(o),
                             .run_id = r->run_id,
                             .description = o->test_description,
                             .mode = vmtp_mode_name(o->mode),
                             .nodes = nodes,
                             .n_nodes = r->n_hosts,
                             .wall_s = (double)(clock_mono_ns() - t0) / 1e9,
                             .cloud = r->cloud};
        int jr = summary_write_json(o->json_file, &ctx, sf, n, rows, (unsigned)nrows, &counts);
        if (jr < 0) {
            LOG_ERROR("cannot write %s: %s", o->json_file, strerror(-jr));
            status = VMTP_EXIT_INTERNAL;
        } else {
            LOG_INFO("results saved in %s", o->json_file);
        }
    }
    if (status == VMTP_EXIT_OK && nrows > 0 && counts.failed)
        status = VMTP_EXIT_FAILED;
    if (nrows < 0)
        status = VMTP_EXIT_INTERNAL;
    free(rows);
    for (unsigned i = 0; i < n; i++)
        flow_result_fini(&flows[i]);
    free(flows);
    free(sf);
    int sig = coord_last_signal(r->c);
    s_cleanup(r);
    if (r->interrupted) {
        LOG_WARN("interrupted by %s: stopped, cleaned up", sig == SIGTERM  ? "SIGTERM"
                                                           : sig == SIGHUP ? "SIGHUP"
                                                                           : "SIGINT");
        status = sig == SIGTERM ? VMTP_EXIT_SIGTERM : sig == SIGHUP ? VMTP_EXIT_SIGHUP : VMTP_EXIT_SIGINT;
    }
    /* one that came during the cleanup still counts (it is taken here, not delivered) */
    struct timespec zero = {0, 0};
    int late = sigtimedwait(&sigs.block, NULL, &zero);
    if (late > 0 && status != VMTP_EXIT_SIGINT && status != VMTP_EXIT_SIGTERM && status != VMTP_EXIT_SIGHUP)
        status = late == SIGTERM ? VMTP_EXIT_SIGTERM : late == SIGHUP ? VMTP_EXIT_SIGHUP : VMTP_EXIT_SIGINT;
    s_sigs_restore(&sigs);
    LOG_INFO("done in %.1f s", (double)(clock_mono_ns() - t0) / 1e9);
    return status;
}

static s_run_t *s_run_new(const vmtp_opts_t *o, const config_t *cfg)
{
    s_run_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->o = o;
    r->cfg = cfg;
    uint8_t rnd[4] = {0};
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
        rnd[0] = (uint8_t)getpid();
    snprintf(r->run_id, sizeof r->run_id, "%02x%02x%02x%x", rnd[0], rnd[1], rnd[2], rnd[3] & 0xf);
    return r;
}

/* The native flows (7.x between server and client; 8.x between the external host and ext_server)
 * appended to plan. */
static unsigned s_plan_native(s_plan_t *plan, unsigned n, int server, int client, int ext, int ext_server,
                              const char *no_ext)
{
    plan[n] = (s_plan_t){.group = "7", .desc = "Native Throughput", .client = client, .server = server, .icmp = true};
    plan[n].claim = -1;
    if (server < 0)
        snprintf(plan[n].skip, sizeof plan[n].skip, "no native hosts (--host, or hosts: in the inventory)");
    n++;
    plan[n] = (s_plan_t){.group = "8.1",
                         .desc = "VM to Host Uploading",
                         .client = ext,
                         .server = ext_server,
                         .floating = true,
                         .reverse = true};
    plan[n].claim = -1;
    if (ext < 0 || ext_server < 0)
        snprintf(plan[n].skip, sizeof plan[n].skip, "%s", no_ext);
    n++;
    plan[n] = (s_plan_t){
        .group = "8.2", .desc = "VM to Host Downloading", .client = ext, .server = ext_server, .floating = true};
    plan[n].claim = -1;
    if (ext < 0 || ext_server < 0)
        snprintf(plan[n].skip, sizeof plan[n].skip, "%s", no_ext);
    return n + 1;
}

int run_hosts(const vmtp_opts_t *o, const config_t *cfg)
{
    int64_t t0 = clock_mono_ns();
    s_run_t *r = s_run_new(o, cfg);
    if (!r)
        return VMTP_EXIT_INTERNAL;
    char why[400];
    int server = -1, client = -1, ext = -1;
    for (unsigned i = 0; i < o->n_hosts && i < 2; i++) {
        int k = s_add_host(r, o->hosts[i], "--host", NULL, i == 0 ? "server" : "client", why, sizeof why);
        if (k < 0) {
            fprintf(stderr, "vmtp: %s\n", why);
            free(r);
            return VMTP_EXIT_USAGE;
        }
        *(i == 0 ? &server : &client) = k;
    }
    if (o->external_host &&
        (ext = s_add_host(r, o->external_host, "--external-host", NULL, "external", why, sizeof why)) < 0) {
        fprintf(stderr, "vmtp: %s\n", why);
        free(r);
        return VMTP_EXIT_USAGE;
    }
    if (client < 0)
        client = server; /* one host: intra-host */
    if (o->n_hosts > 2)
        LOG_WARN("--host: the first two are the server and the client; the %u others are not used", o->n_hosts - 2);
    s_plan_t plan[3];
    unsigned n = s_plan_native(plan, 0, server, client, ext, server, "no --external-host");
    int status = s_execute(r, plan, n, t0);
    free(r);
    return status;
}

/* VMTP's scenarios 1.x-6.x over an inventory's VMs. */
static const struct {
    const char *group;
    bool same_net, same_host, floating;
} s_vm_groups[] = {{"1", true, true, false},   {"2", true, false, false}, {"3", false, true, false},
                   {"4", false, false, false}, {"5", false, true, true},  {"6", false, false, true}};

int run_inventory(const vmtp_opts_t *o, const config_t *cfg_in, const inventory_t *inv)
{
    return run_inventory_cloud(o, cfg_in, inv, NULL);
}

int run_inventory_cloud(const vmtp_opts_t *o, const config_t *cfg_in, const inventory_t *inv,
                        const summary_cloud_t *cloud)
{
    int64_t t0 = clock_mono_ns();
    /* The inventory's key and known_hosts override the configuration's. */
    config_t *cfg = calloc(1, sizeof *cfg);
    s_run_t *r = cfg ? s_run_new(o, cfg) : NULL;
    if (!r) {
        free(cfg);
        return VMTP_EXIT_INTERNAL;
    }
    r->cloud = cloud;
    /* An inventory's key and known_hosts are for all its endpoints; an OpenStack run's only for its
     * VMs (--host and --external-host keep the configuration's). */
    r->native_cfg = cloud ? cfg_in : NULL;
    *cfg = *cfg_in; /* shallow: strings stay the caller's, only these two are replaced */
    if (inv->private_key_file)
        cfg->private_key_file = inv->private_key_file;
    if (inv->known_hosts)
        cfg->known_hosts = inv->known_hosts;
    if (inv->accept_new_keys)
        cfg->accept_new_host_keys = true;
    char why[400];
    int status = VMTP_EXIT_OK;
    int vm_idx[INVENTORY_MAX_VMS];
    for (unsigned i = 0; i < inv->n_vms && status == VMTP_EXIT_OK; i++) {
        char opt[96];
        snprintf(opt, sizeof opt, "inventory vms[%u] (%s): ssh", i, inv->vms[i].name);
        vm_idx[i] = s_add_host(r, inv->vms[i].ssh, opt, &inv->vms[i], (int)i == inv->server ? "server" : "client", why,
                               sizeof why);
        if (vm_idx[i] < 0)
            status = VMTP_EXIT_USAGE;
        else if (inv->vms[i].error[0])
            s_host_fail(&r->hosts[vm_idx[i]], "boot", inv->vms[i].error);
    }
    int hs = -1, hc = -1, ext = -1;
    const char *const *host_specs = o->n_hosts ? (const char *const *)o->hosts : (const char *const *)inv->hosts;
    unsigned n_host_specs = o->n_hosts ? o->n_hosts : inv->n_hosts;
    for (unsigned i = 0; i < n_host_specs && i < 2 && status == VMTP_EXIT_OK; i++) {
        int k =
            s_add_host(r, host_specs[i], "hosts", NULL, i == 0 ? "native server" : "native client", why, sizeof why);
        if (k < 0)
            status = VMTP_EXIT_USAGE;
        *(i == 0 ? &hs : &hc) = k;
    }
    const char *ext_spec = o->external_host ? o->external_host : inv->external_host;
    if (status == VMTP_EXIT_OK && ext_spec &&
        (ext = s_add_host(r, ext_spec, "external_host", NULL, "external", why, sizeof why)) < 0)
        status = VMTP_EXIT_USAGE;
    if (status != VMTP_EXIT_OK) {
        fprintf(stderr, "vmtp: %s\n", why);
        free(r);
        free(cfg);
        return status;
    }
    if (hs >= 0 && hc < 0)
        hc = hs;
    const inventory_vm_t *sv = &inv->vms[inv->server];
    s_plan_t plan[9];
    unsigned n = 0;
    static const char *const names[] = {
        "Same Network, Fixed IP, Intra-node",         "Same Network, Fixed IP, Inter-node",
        "Different Network, Fixed IP, Intra-node",    "Different Network, Fixed IP, Inter-node",
        "Different Network, Floating IP, Intra-node", "Different Network, Floating IP, Inter-node"};
    for (unsigned g = 0; g < 6; g++) {
        s_plan_t *p = &plan[n++];
        *p = (s_plan_t){.group = s_vm_groups[g].group,
                        .desc = names[g],
                        .server = vm_idx[inv->server],
                        .client = -1,
                        .floating = s_vm_groups[g].floating,
                        .icmp = true,
                        .claim = s_vm_groups[g].same_host ? 1 : 0};
        /* the first client VM placed as the scenario needs, by the inventory */
        for (unsigned i = 0; i < inv->n_vms && p->client < 0; i++) {
            const inventory_vm_t *c = &inv->vms[i];
            if ((int)i == inv->server)
                continue;
            bool same_net = !strcmp(c->network, sv->network), same_host = !strcmp(c->compute_host, sv->compute_host);
            if (same_net == s_vm_groups[g].same_net && same_host == s_vm_groups[g].same_host)
                p->client = vm_idx[i];
        }
        if (o->same_network_only && !s_vm_groups[g].same_net)
            snprintf(p->skip, sizeof p->skip, "not run: --same-network-only");
        else if (o->inter_node_only && s_vm_groups[g].same_host)
            snprintf(p->skip, sizeof p->skip, "not run: --inter-node-only");
        else if (p->client < 0)
            snprintf(p->skip, sizeof p->skip, "no client VM on %s network and %s compute host as the server",
                     s_vm_groups[g].same_net ? "the same" : "another",
                     s_vm_groups[g].same_host ? "the same" : "another");
        else if (s_vm_groups[g].floating && !sv->floating_ip[0])
            snprintf(p->skip, sizeof p->skip, "the server VM has no floating_ip in the inventory");
    }
    n = s_plan_native(plan, n, hs, hc, ext, vm_idx[inv->server],
                      cloud ? "no --external-host" : "no external_host in the inventory (or --external-host)");
    for (unsigned k = n - 2; k < n && !sv->floating_ip[0] && !plan[k].skip[0]; k++)
        snprintf(plan[k].skip, sizeof plan[k].skip, "the server VM has no floating_ip (the external host's way in)");
    status = s_execute(r, plan, n, t0);
    free(r);
    free(cfg);
    return status;
}
