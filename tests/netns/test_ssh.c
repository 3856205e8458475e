/* test_ssh.c — the coordinator's SSH layer (coordinator/ssh.h) against real OpenSSH servers, one per
 * network namespace; driven by test_ssh.sh, which makes the hosts, keys and known_hosts files.
 *
 * Usage: test_ssh BINDIR CASE      (BINDIR holds vmtp-node; run inside the coordinator namespace)
 *   parse      target parsing and masking (no network; needs nothing)
 *   exec       two hosts at once: key auth, hashed and [host]:port known_hosts entries, exit
 *              status, stdout, stderr, truncation, a signal, a command timeout
 *   deploy     two hosts at once: private directory (0700), upload (SFTP on H1, SCP on H2), a second
 *              upload skipped by hash, the agent started with its keys on stdin and reached over
 *              CURVE, cleanup (no process, no directory) twice
 *   newkey     unknown host key: refused in strict mode (host and fingerprint named), recorded with
 *              accept-new, then accepted in strict mode
 *   mismatch   (after the host key changed) refused, strict or accept-new, naming host, file and line
 *   unreach    a silent address fails within the connect bound; a closed port fails at once
 *   agent      authentication through ssh-agent only, and after a refused key file
 *   noauth     no usable credential: refused, listing the methods the server offers
 *   password   password authentication (H3 accepts only passwords)
 *   v6         (inside H1) an IPv6 target, root@[::1]
 *   revoked    a known host key marked @revoked is refused
 * Environment (set by test_ssh.sh): T_KEY client key (ed25519), T_KEY_RSA another (RSA, PEM), T_BADKEY a key the hosts
 * do not know, T_KH known_hosts (hashed), T_KH_NEW known_hosts for newkey/mismatch, T_H1 T_H2 T_H3 targets, T_A1 T_A2
 * their addresses, T_TMP1 T_TMP2 their TMPDIRs, T_FP1 H1's fingerprint, T_DEAD a silent address, T_AGENT an ssh-agent
 * socket. Exit 0 pass, 1 fail.
 */
#include "../unit/check.h"
#include "coord.h"
#include "ssh.h"
#include "vmtp/clock.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char t_node_bin[PATH_MAX];

static const char *t_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "test_ssh: %s is not set (run test_ssh.sh)\n", name);
        exit(1);
    }
    return v;
}

/* A session for target spec with the test's usual configuration. */
static ssh_t *t_session(const char *spec, const ssh_cfg_t *cfg_or_null)
{
    ssh_target_t t;
    char err[256];
    int rc = ssh_target_parse(spec, 22, &t, err, sizeof err);
    CHECK(rc == 0, "parse %s: %s", spec, err);
    if (rc < 0)
        return NULL;
    ssh_cfg_t cfg = {.known_hosts = t_env("T_KH"),
                     .private_key = t_env("T_KEY"),
                     .agent_socket = "",
                     .connect_timeout_ns = 10 * VMTP_NS_PER_S};
    if (cfg_or_null)
        cfg = *cfg_or_null;
    int e = 0;
    ssh_t *s = ssh_new(&t, &cfg, &e);
    CHECK(s != NULL, "ssh_new: %s", strerror(-e));
    return s;
}

/* Drives the sessions' current operations to their end (bounded). */
static int t_run(ssh_t **s, size_t n, int64_t bound_ns) { return ssh_run(s, n, clock_mono_ns() + bound_ns, NULL); }

static bool t_connect(ssh_t **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        CHECK(ssh_connect(s[i]) == 0, "ssh_connect %zu", i);
    CHECK(t_run(s, n, 30 * VMTP_NS_PER_S) == 0, "ssh_run (connect)");
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        CHECK(ssh_status(s[i]) == 0 && ssh_connected(s[i]), "connect %s: %s", ssh_label(s[i]), ssh_error(s[i]));
        ok = ok && ssh_status(s[i]) == 0;
    }
    return ok;
}

/* ---- parse -------------------------------------------------------------------------------------- */

static void t_parse_ok(const char *spec, const char *user, const char *host, unsigned port, const char *pw,
                       const char *ifname, const char *masked)
{
    ssh_target_t t;
    char err[256], m[512];
    int rc = ssh_target_parse(spec, 22, &t, err, sizeof err);
    CHECK(rc == 0, "'%s' should parse: %s", spec, err);
    if (rc < 0)
        return;
    CHECK(!strcmp(t.user, user), "'%s': user '%s'", spec, t.user);
    CHECK(!strcmp(t.host, host), "'%s': host '%s'", spec, t.host);
    CHECK_EQ_U64(t.port, port, spec);
    CHECK(!strcmp(t.password, pw), "'%s': password", spec);
    CHECK(!strcmp(t.ifname, ifname), "'%s': ifname '%s'", spec, t.ifname);
    ssh_target_masked(&t, m, sizeof m);
    CHECK(!strcmp(m, masked), "'%s': masked '%s', expected '%s'", spec, m, masked);
    CHECK(!*pw || !strstr(m, pw), "'%s': the password shows in '%s'", spec, m);
}

static void t_parse_bad(const char *spec, const char *why, const char *secret)
{
    ssh_target_t t;
    memset(&t, 0x5a, sizeof t);
    char err[256];
    int rc = ssh_target_parse(spec, 22, &t, err, sizeof err);
    CHECK(rc == -EINVAL, "'%s' should be refused (%d)", spec, rc);
    CHECK(strstr(err, why) != NULL, "'%s': error '%s' should say '%s'", spec, err, why);
    CHECK(!secret || !strstr(err, secret), "'%s': the password shows in '%s'", spec, err);
    CHECK(((unsigned char *)&t)[0] == 0x5a, "'%s': out-parameter touched on failure", spec);
}

static void t_case_parse(void)
{
    t_parse_ok("root@198.18.0.2", "root", "198.18.0.2", 22, "", "", "root@198.18.0.2");
    t_parse_ok("ubuntu@198.18.0.2:s3cret", "ubuntu", "198.18.0.2", 22, "s3cret", "", "ubuntu@198.18.0.2:<MASKED>");
    t_parse_ok("ubuntu@198.18.0.2:s3cret:eth1", "ubuntu", "198.18.0.2", 22, "s3cret", "eth1",
               "ubuntu@198.18.0.2:<MASKED>:eth1");
    t_parse_ok("ubuntu@198.18.0.2::eth1", "ubuntu", "198.18.0.2", 22, "", "eth1", "ubuntu@198.18.0.2::eth1");
    t_parse_ok("root@[2001:db8::1]", "root", "2001:db8::1", 22, "", "", "root@[2001:db8::1]");
    t_parse_ok("root@[2001:db8::1]:pw@x", "root", "2001:db8::1", 22, "pw@x", "", "root@[2001:db8::1]:<MASKED>");
    t_parse_ok("root@[fe80::1%eth0]", "root", "fe80::1%eth0", 22, "", "", "root@[fe80::1%eth0]");
    t_parse_ok("cloud-user@node-1.example.org", "cloud-user", "node-1.example.org", 22, "", "",
               "cloud-user@node-1.example.org");
    t_parse_ok("root@[node1]", "root", "node1", 22, "", "", "root@node1");
    t_parse_ok("ssh://root@198.18.0.2:2222", "root", "198.18.0.2", 2222, "", "", "ssh://root@198.18.0.2:2222");
    t_parse_ok("ssh://root:pw@[2001:db8::5]:2200/eth0", "root", "2001:db8::5", 2200, "pw", "eth0",
               "ssh://root:<MASKED>@[2001:db8::5]:2200/eth0");
    t_parse_ok("ssh://me@host", "me", "host", 22, "", "", "me@host");
    {
        ssh_target_t t;
        CHECK(ssh_target_parse("root@h", 2022, &t, NULL, 0) == 0 && t.port == 2022, "default port");
        char hp[300];
        CHECK(!strcmp(ssh_target_hostport(&t, hp, sizeof hp), "h:2022"), "hostport %s", hp);
        CHECK(ssh_target_parse("root@[2001:db8::1]", 0, &t, NULL, 0) == 0, "v6");
        CHECK(!strcmp(ssh_target_hostport(&t, hp, sizeof hp), "[2001:db8::1]:22"), "hostport %s", hp);
    }
    t_parse_bad("", "empty", NULL);
    t_parse_bad("198.18.0.2", "user@host", NULL);
    t_parse_bad("@198.18.0.2", "user name", NULL);
    t_parse_bad("-oProxyCommand=x@h", "user name", NULL);
    t_parse_bad("root@", "missing host", NULL);
    t_parse_bad("root@2001:db8::1", "in brackets", NULL);
    t_parse_bad("root@fe80::1", "in brackets", NULL);
    t_parse_bad("root@2001:db8::1:pw", "too many ':'", NULL);
    t_parse_bad("root@[2001:db8::1", "without ']'", NULL);
    t_parse_bad("root@[2001:zz::1]", "not an IPv6", NULL);
    t_parse_bad("root@[2001:db8::1]x", "after ']'", NULL);
    t_parse_bad("root@198.18.0.300", "neither an IPv4", NULL);
    t_parse_bad("root@bad_host!", "neither an IPv4", NULL);
    t_parse_bad("root@h:hunter2:eth0:x", "too many ':'", "hunter2");
    t_parse_bad("root@h:hunter2:this-name-is-too-long", "interface", "hunter2");
    t_parse_bad("ssh://root@h:0", "port", NULL);
    t_parse_bad("ssh://root@h:70000", "port", NULL);
    t_parse_bad("ssh://root@h:22x", "port", NULL);
    t_parse_bad("ssh://root:hunter2@h/bad/if", "interface", "hunter2");
    t_parse_bad("ssh://h", "ssh://user", NULL);
    char longhost[400];
    memset(longhost, 'a', sizeof longhost);
    memcpy(longhost, "root@", 5);
    longhost[sizeof longhost - 1] = 0;
    t_parse_bad(longhost, "too long", NULL);
}

/* ---- exec --------------------------------------------------------------------------------------- */

static void t_case_exec(void)
{
    /* H1 with the ed25519 key (OpenSSH format), H2 with the RSA key (PEM). */
    ssh_cfg_t rsa = {.known_hosts = t_env("T_KH"), .private_key = t_env("T_KEY_RSA"), .agent_socket = ""};
    ssh_t *s[2] = {t_session(t_env("T_H1"), NULL), t_session(t_env("T_H2"), &rsa)};
    if (!s[0] || !s[1] || !t_connect(s, 2))
        goto out;
    for (int i = 0; i < 2; i++) {
        CHECK(!strcmp(ssh_auth_method(s[i]), "publickey"), "auth %s", ssh_auth_method(s[i]));
        CHECK(!strncmp(ssh_fingerprint(s[i]), "SHA256:", 7), "fingerprint '%s'", ssh_fingerprint(s[i]));
        CHECK(ssh_exec(s[i], "echo out-$(hostname -I 2>/dev/null | cut -d' ' -f1); echo err >&2; exit 3", 0) == 0,
              "exec");
    }
    CHECK(!strcmp(ssh_fingerprint(s[0]), t_env("T_FP1")), "H1 fingerprint %s, ssh-keygen says %s",
          ssh_fingerprint(s[0]), t_env("T_FP1"));
    CHECK(t_run(s, 2, 20 * VMTP_NS_PER_S) == 0, "ssh_run (exec)");
    const char *addr[2] = {t_env("T_A1"), t_env("T_A2")};
    for (int i = 0; i < 2; i++) {
        const ssh_result_t *r = ssh_result(s[i]);
        CHECK(ssh_status(s[i]) == 0 && r, "exec on %s: %s", ssh_label(s[i]), ssh_error(s[i]));
        if (!r)
            continue;
        char want[64];
        snprintf(want, sizeof want, "out-%s\n", addr[i]);
        CHECK_EQ_I64(r->exit_status, 3, "exit status");
        CHECK(!strcmp(r->out, want), "stdout '%s', expected '%s' (the command ran on its own host)", r->out, want);
        CHECK(!strcmp(r->err, "err\n"), "stderr '%s'", r->err);
        CHECK(!r->out_truncated && !r->err_truncated, "not truncated");
    }
    /* Output beyond the bound is cut and flagged; a signal is reported. */
    CHECK(ssh_exec(s[0], "head -c 200000 /dev/zero | tr '\\0' x", 0) == 0, "exec big");
    CHECK(ssh_exec(s[1], "kill -TERM $$", 0) == 0, "exec signal");
    CHECK(t_run(s, 2, 20 * VMTP_NS_PER_S) == 0, "ssh_run (big, signal)");
    const ssh_result_t *r = ssh_result(s[0]);
    CHECK(r && r->out_len == 64 * 1024 && r->out_truncated && r->exit_status == 0, "bounded output: %zu bytes",
          r ? r->out_len : 0);
    r = ssh_result(s[1]);
    CHECK(r && !strcmp(r->exit_signal, "TERM") && r->exit_status == -1, "signal '%s' status %d",
          r ? r->exit_signal : "", r ? r->exit_status : 0);
    /* A command over its bound is abandoned within it; the session goes on. */
    int64_t t0 = clock_mono_ns();
    CHECK(ssh_exec(s[0], "sleep 5", 1 * VMTP_NS_PER_S) == 0, "exec sleep");
    CHECK(t_run(s, 1, 10 * VMTP_NS_PER_S) == 0, "ssh_run (sleep)");
    double took = (double)(clock_mono_ns() - t0) / 1e9;
    CHECK(ssh_status(s[0]) == -ETIMEDOUT, "sleep: %d %s", ssh_status(s[0]), ssh_error(s[0]));
    CHECK(took >= 0.9 && took < 2.5, "command timeout took %.2f s (bound 1 s)", took);
    CHECK(strstr(ssh_error(s[0]), ssh_label(s[0])) != NULL, "message names the host: %s", ssh_error(s[0]));
    CHECK(ssh_exec(s[0], "echo again", 0) == 0, "exec after timeout");
    CHECK(t_run(s, 1, 10 * VMTP_NS_PER_S) == 0, "ssh_run (again)");
    r = ssh_result(s[0]);
    CHECK(ssh_status(s[0]) == 0 && r && !strcmp(r->out, "again\n"), "session usable after a timeout: %s",
          ssh_error(s[0]));
    /* A started command that ends before its ready line, and one that never prints it. */
    CHECK(ssh_start(s[0], "echo starting; echo 'no keys' >&2; exit 4", "k\n", 2, "ready port=", 0) == 0, "start");
    CHECK(ssh_start(s[1], "sleep 5", NULL, 0, "ready port=", 1 * VMTP_NS_PER_S) == 0, "start");
    t0 = clock_mono_ns();
    CHECK(t_run(s, 2, 10 * VMTP_NS_PER_S) == 0, "ssh_run (start failures)");
    took = (double)(clock_mono_ns() - t0) / 1e9;
    CHECK(ssh_status(s[0]) == -ECHILD && strstr(ssh_error(s[0]), "exit status 4") &&
              strstr(ssh_error(s[0]), "no keys") && strstr(ssh_error(s[0]), "'ready port='"),
          "early exit: %s", ssh_error(s[0]));
    CHECK(ssh_status(s[1]) == -ETIMEDOUT && strstr(ssh_error(s[1]), "ready port="), "no ready line: %s",
          ssh_error(s[1]));
    CHECK(took < 2.5, "start bound 1 s, took %.2f s", took);
    printf("early exit: %s\nno ready line: %s\n", ssh_error(s[0]), ssh_error(s[1]));
    /* What a started command prints after its ready line is drained while idle; its tail is kept. */
    CHECK(ssh_start(s[0], "echo 'ready port=7'; sleep 0.2; echo after-ready >&2; echo bye", NULL, 0,
                    "ready port=", 0) == 0,
          "start");
    CHECK(t_run(s, 1, 10 * VMTP_NS_PER_S) == 0 && ssh_status(s[0]) == 0, "started: %s", ssh_error(s[0]));
    CHECK(!strcmp(ssh_ready_line(s[0]), "ready port=7") && ssh_started_pid(s[0]) == 0, "ready '%s'",
          ssh_ready_line(s[0]));
    CHECK(ssh_start(s[0], "true", NULL, 0, "x", 0) == -EBUSY, "one started command per session");
    t0 = clock_mono_ns();
    while (ssh_started_running(s[0]) && clock_mono_ns() - t0 < 5 * VMTP_NS_PER_S) {
        struct pollfd pf = {.fd = ssh_fd(s[0]), .events = ssh_events(s[0])};
        poll(&pf, 1, 100);
        CHECK(ssh_step(s[0]) == 0, "idle step");
    }
    CHECK(!ssh_started_running(s[0]), "its end is noticed");
    CHECK(strstr(ssh_started_tail(s[0]), "after-ready\n") && strstr(ssh_started_tail(s[0]), "bye\n"), "tail '%s'",
          ssh_started_tail(s[0]));
    CHECK(ssh_cleanup(s[0]) == 0 && t_run(s, 1, 10 * VMTP_NS_PER_S) == 0 && ssh_status(s[0]) == 0,
          "cleanup closes the channel: %s", ssh_error(s[0]));
    /* One operation at a time. */
    CHECK(ssh_exec(s[0], "true", 0) == 0 && ssh_exec(s[0], "true", 0) == -EBUSY, "second op is -EBUSY");
    t_run(s, 1, 10 * VMTP_NS_PER_S);
out:
    ssh_destroy(&s[0]);
    ssh_destroy(&s[1]);
    ssh_destroy(&s[1]);
}

/* ---- deploy ------------------------------------------------------------------------------------- */

/* True if some process runs a program from dir (same PID namespace as the hosts). */
static bool t_procs_in(const char *dir)
{
    DIR *d = opendir("/proc");
    bool found = false;
    struct dirent *e;
    size_t n = strlen(dir);
    while (d && (e = readdir(d)) != NULL) {
        char path[300], exe[PATH_MAX];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/exe", e->d_name);
        ssize_t l = readlink(path, exe, sizeof exe - 1);
        if (l > 0) {
            exe[l] = 0;
            if (!strncmp(exe, dir, n) && exe[n] == '/')
                found = true;
        }
    }
    if (d)
        closedir(d);
    return found;
}

static void t_on_hello(coord_node_t *n, int status, void *arg)
{
    (void)n;
    *(int *)arg = status;
}

static void t_case_deploy(void)
{
    ssh_t *s[2] = {t_session(t_env("T_H1"), NULL), t_session(t_env("T_H2"), NULL)};
    const char *addr[2] = {t_env("T_A1"), t_env("T_A2")};
    char dirs[2][256] = {"", ""}, node_pub[2][COORD_KEY_SIZE], node_sec[2][COORD_KEY_SIZE];
    coord_t *c = NULL;
    if (!s[0] || !s[1] || !t_connect(s, 2))
        goto out;
    for (int i = 0; i < 2; i++)
        CHECK(ssh_mkdtemp(s[i]) == 0, "mkdtemp");
    CHECK(t_run(s, 2, 20 * VMTP_NS_PER_S) == 0, "ssh_run (mkdtemp)");
    for (int i = 0; i < 2; i++) {
        CHECK(ssh_status(s[i]) == 0, "mkdtemp: %s", ssh_error(s[i]));
        snprintf(dirs[i], sizeof dirs[i], "%s", ssh_remote_dir(s[i]));
        struct stat st;
        CHECK(stat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700,
              "remote dir '%s' is a 0700 directory (mode %o)", dirs[i], (unsigned)(st.st_mode & 07777));
    }
    CHECK(strcmp(dirs[0], dirs[1]) != 0, "two hosts, two directories");
    const char *tmpdir[2] = {t_env("T_TMP1"), t_env("T_TMP2")};
    for (int i = 0; i < 2; i++)
        CHECK(!strncmp(dirs[i], tmpdir[i], strlen(tmpdir[i])), "'%s' is in the host's TMPDIR %s", dirs[i], tmpdir[i]);
    char remote[2][300];
    for (int i = 0; i < 2; i++) {
        snprintf(remote[i], sizeof remote[i], "%s/vmtp-node", dirs[i]);
        CHECK(ssh_upload(s[i], t_node_bin, remote[i]) == 0, "upload");
    }
    CHECK(t_run(s, 2, 120 * VMTP_NS_PER_S) == 0, "ssh_run (upload)");
    char lhash[65], rhash[65];
    CHECK(ssh_sha256_file(t_node_bin, lhash) == 0, "local hash");
    for (int i = 0; i < 2; i++) {
        CHECK(ssh_status(s[i]) == 0, "upload: %s", ssh_error(s[i]));
        CHECK(!ssh_upload_skipped(s[i]), "first upload not skipped");
        CHECK(!strcmp(ssh_upload_method(s[i]), i == 0 ? "sftp" : "scp"), "upload %d by %s", i, ssh_upload_method(s[i]));
        struct stat st;
        CHECK(stat(remote[i], &st) == 0 && (st.st_mode & 07777) == 0700, "uploaded file mode %o",
              (unsigned)(st.st_mode & 07777));
        CHECK(ssh_sha256_file(remote[i], rhash) == 0 && !strcmp(lhash, rhash), "uploaded file is identical");
        char part[sizeof remote + 8];
        snprintf(part, sizeof part, "%s.part", remote[i]);
        CHECK(access(part, F_OK) < 0, "no .part file left");
        CHECK(ssh_upload(s[i], t_node_bin, remote[i]) == 0, "second upload");
    }
    CHECK(t_run(s, 2, 60 * VMTP_NS_PER_S) == 0, "ssh_run (upload 2)");
    for (int i = 0; i < 2; i++)
        CHECK(ssh_status(s[i]) == 0 && ssh_upload_skipped(s[i]), "second upload skipped by hash: %s (%s)",
              ssh_upload_method(s[i]), ssh_error(s[i]));

    /* A destination that cannot be written fails with a reason, and the session stays usable. */
    for (int i = 0; i < 2; i++)
        CHECK(ssh_upload(s[i], t_node_bin, "/nonexistent-vmtp-dir/vmtp-node") == 0, "upload (bad path)");
    CHECK(t_run(s, 2, 60 * VMTP_NS_PER_S) == 0, "ssh_run (upload, bad path)");
    for (int i = 0; i < 2; i++) {
        CHECK(ssh_status(s[i]) == -EIO && strstr(ssh_error(s[i]), "/nonexistent-vmtp-dir/vmtp-node.part") &&
                  strstr(ssh_error(s[i]), i == 0 ? "SFTP" : "SCP"),
              "bad path: %d %s", ssh_status(s[i]), ssh_error(s[i]));
        printf("upload to a missing directory: %s\n", ssh_error(s[i]));
        CHECK(ssh_exec(s[i], "echo still-here", 0) == 0, "exec after a failed upload");
    }
    CHECK(t_run(s, 2, 20 * VMTP_NS_PER_S) == 0, "ssh_run (exec)");
    for (int i = 0; i < 2; i++)
        CHECK(ssh_result(s[i]) && !strcmp(ssh_result(s[i])->out, "still-here\n"), "usable: %s", ssh_error(s[i]));
    CHECK(ssh_upload(s[0], t_node_bin, "relative/path") == -EINVAL, "relative remote path refused");
    CHECK(ssh_upload(s[0], t_node_bin, "/tmp/x;rm -rf y") == -EINVAL, "unsafe remote path refused");

    /* The agent, its keys on stdin; reached with CURVE. */
    int err = 0;
    coord_cfg_t ccfg = {.run_id = "ssh-test", .heartbeat_ms = 250, .silence_ms = 3000};
    c = coord_new(&ccfg, &err);
    CHECK(c != NULL, "coord_new: %s", strerror(-err));
    if (!c)
        goto out;
    for (int i = 0; i < 2; i++) {
        CHECK(coord_keypair(node_pub[i], node_sec[i]) == 0, "keypair");
        char cmd[1024], keys[200];
        snprintf(cmd, sizeof cmd, "%s agent --port 0 --bind %s --silence 3 --cleanup %s --host-id h%d", remote[i],
                 addr[i], dirs[i], i + 1);
        int kl = snprintf(keys, sizeof keys, "secret %s\ncoordinator %s\n", node_sec[i], coord_public_key(c));
        CHECK(ssh_start(s[i], cmd, keys, (size_t)kl, "ready port=", 20 * VMTP_NS_PER_S) == 0, "start");
        memset(keys, 0, sizeof keys);
        memset(node_sec[i], 0, sizeof node_sec[i]);
    }
    CHECK(t_run(s, 2, 30 * VMTP_NS_PER_S) == 0, "ssh_run (start)");
    int hello[2] = {1, 1};
    coord_node_t *nodes[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        CHECK(ssh_status(s[i]) == 0, "start: %s", ssh_error(s[i]));
        int port = 0;
        CHECK(sscanf(ssh_ready_line(s[i]), "ready port=%d", &port) == 1 && port > 0, "ready line '%s'",
              ssh_ready_line(s[i]));
        CHECK(ssh_started_pid(s[i]) > 0 && ssh_started_running(s[i]), "pid %ld", ssh_started_pid(s[i]));
        CHECK(t_procs_in(dirs[i]), "the agent runs from %s", dirs[i]);
        char ep[128];
        snprintf(ep, sizeof ep, "tcp://%s:%d", addr[i], port);
        nodes[i] = coord_add_node(c, i ? "h2" : "h1", ep, node_pub[i], t_on_hello, &hello[i], &err);
        CHECK(nodes[i] != NULL, "coord_add_node: %s", strerror(-err));
    }
    int64_t end = clock_mono_ns() + 15 * VMTP_NS_PER_S;
    while ((hello[0] == 1 || hello[1] == 1) && clock_mono_ns() < end) {
        coord_poll(c, 50 * VMTP_NS_PER_MS);
        for (int i = 0; i < 2; i++)
            ssh_step(s[i]); /* idle: drains what the agents print */
    }
    CHECK(hello[0] == 0 && hello[1] == 0, "HELLO over CURVE with the keys given on stdin: %d %d", hello[0], hello[1]);

    /* Cleanup while the agents run, then again (idempotent). */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 2; i++)
            CHECK(ssh_cleanup(s[i]) == 0, "cleanup %d", round);
        CHECK(t_run(s, 2, 30 * VMTP_NS_PER_S) == 0, "ssh_run (cleanup %d)", round);
        for (int i = 0; i < 2; i++) {
            CHECK(ssh_status(s[i]) == 0, "cleanup %d: %s", round, ssh_error(s[i]));
            CHECK(access(dirs[i], F_OK) < 0, "directory %s removed", dirs[i]);
            CHECK(!t_procs_in(dirs[i]), "no process left from %s", dirs[i]);
            CHECK(!ssh_started_running(s[i]) && ssh_remote_dir(s[i])[0] == 0, "session forgets them");
        }
    }
out:
    coord_destroy(&c);
    for (int i = 0; i < 2; i++) {
        if (s[i] && ssh_connected(s[i]) && (ssh_remote_dir(s[i])[0] || ssh_started_running(s[i]))) {
            ssh_cleanup(s[i]); /* a failed check above must not leave the agent behind */
            t_run(&s[i], 1, 10 * VMTP_NS_PER_S);
        }
        ssh_destroy(&s[i]);
    }
}

/* ---- host keys ---------------------------------------------------------------------------------- */

static ssh_t *t_hk_session(ssh_hostkey_policy_t policy)
{
    ssh_cfg_t cfg = {
        .known_hosts = t_env("T_KH_NEW"), .hostkey_policy = policy, .private_key = t_env("T_KEY"), .agent_socket = ""};
    return t_session(t_env("T_H1"), &cfg);
}

static int t_hk_try(ssh_hostkey_policy_t policy, char *msg, size_t cap)
{
    ssh_t *s = t_hk_session(policy);
    if (!s)
        return -ENOMEM;
    CHECK(ssh_connect(s) == 0, "connect");
    t_run(&s, 1, 20 * VMTP_NS_PER_S);
    int st = ssh_status(s);
    snprintf(msg, cap, "%s", ssh_error(s));
    ssh_destroy(&s);
    return st;
}

static void t_case_newkey(void)
{
    char msg[SSH_ERROR_MAX];
    const char *kh = t_env("T_KH_NEW"), *a1 = t_env("T_A1"), *fp = t_env("T_FP1");
    unlink(kh);
    int st = t_hk_try(SSH_HOSTKEY_STRICT, msg, sizeof msg);
    CHECK(st == -ENOKEY, "strict, unknown key: %d %s", st, msg);
    CHECK(strstr(msg, a1) && strstr(msg, fp) && strstr(msg, "unknown host key"), "names host and fingerprint: %s", msg);
    CHECK(access(kh, F_OK) < 0, "strict mode writes nothing");
    printf("unknown key: %s\n", msg);
    st = t_hk_try(SSH_HOSTKEY_ACCEPT_NEW, msg, sizeof msg);
    CHECK(st == 0, "accept-new: %s", msg);
    FILE *f = fopen(kh, "r");
    char line[1024] = "";
    CHECK(f && fgets(line, sizeof line, f), "known_hosts written");
    if (f)
        fclose(f);
    CHECK(!strncmp(line, a1, strlen(a1)) && strstr(line, "ssh-ed25519 "), "recorded line '%s'", line);
    st = t_hk_try(SSH_HOSTKEY_STRICT, msg, sizeof msg);
    CHECK(st == 0, "strict after accept-new: %s", msg);
}

static void t_case_mismatch(void)
{
    char msg[SSH_ERROR_MAX];
    const char *kh = t_env("T_KH_NEW"), *a1 = t_env("T_A1");
    for (int p = 0; p < 2; p++) {
        int st = t_hk_try(p ? SSH_HOSTKEY_ACCEPT_NEW : SSH_HOSTKEY_STRICT, msg, sizeof msg);
        CHECK(st == -EKEYREJECTED, "%s, changed key: %d %s", p ? "accept-new" : "strict", st, msg);
        char want[300];
        snprintf(want, sizeof want, "host key mismatch for %s (known_hosts %s line 2)", a1, kh);
        CHECK(strstr(msg, want) != NULL, "message '%s' should contain '%s'", msg, want);
        CHECK(!strncmp(msg, a1, strlen(a1)), "message starts with host:port: %s", msg);
        if (p == 0)
            printf("changed key: %s\n", msg);
    }
}

/* ---- failures and other methods ----------------------------------------------------------------- */

static void t_case_unreach(void)
{
    char spec[128];
    snprintf(spec, sizeof spec, "root@%s", t_env("T_DEAD"));
    ssh_cfg_t cfg = {.known_hosts = t_env("T_KH"),
                     .private_key = t_env("T_KEY"),
                     .agent_socket = "",
                     .connect_timeout_ns = 1500 * VMTP_NS_PER_MS};
    ssh_t *s[2] = {t_session(spec, &cfg), NULL};
    snprintf(spec, sizeof spec, "ssh://root@%s:2", t_env("T_A1"));
    s[1] = t_session(spec, &cfg);
    if (!s[0] || !s[1])
        goto out;
    int64_t t0 = clock_mono_ns();
    CHECK(ssh_connect(s[0]) == 0 && ssh_connect(s[1]) == 0, "connect");
    CHECK(t_run(s, 2, 10 * VMTP_NS_PER_S) == 0, "ssh_run");
    double took = (double)(clock_mono_ns() - t0) / 1e9;
    CHECK(ssh_status(s[0]) == -ETIMEDOUT || ssh_status(s[0]) == -EHOSTUNREACH, "silent host: %d %s", ssh_status(s[0]),
          ssh_error(s[0]));
    CHECK(took >= 1.4 && took < 2.5, "gave up after %.2f s (bound 1.5 s)", took);
    CHECK(strstr(ssh_error(s[0]), t_env("T_DEAD")) && strstr(ssh_error(s[0]), "TCP connect"), "reason: %s",
          ssh_error(s[0]));
    CHECK(ssh_status(s[1]) == -ECONNREFUSED && strstr(ssh_error(s[1]), "refused"), "closed port: %s", ssh_error(s[1]));
    CHECK(ssh_exec(s[0], "true", 0) == -ENOTCONN, "no command on a failed session");
    printf("unreachable: %s\nclosed port: %s\n", ssh_error(s[0]), ssh_error(s[1]));
    CHECK(ssh_cleanup(s[0]) == 0 && t_run(s, 1, VMTP_NS_PER_S) == 0 && ssh_status(s[0]) == 0,
          "cleanup of a session that never connected: nothing to do (%s)", ssh_error(s[0]));
    ssh_destroy(&s[0]);
    ssh_destroy(&s[1]);

    /* Never blocked by a silent host: driven by hand (fd, events, deadline), H1 is connected and has run a
     * command long before the silent host's connect bound passes. */
    snprintf(spec, sizeof spec, "root@%s", t_env("T_DEAD"));
    cfg.connect_timeout_ns = 3 * VMTP_NS_PER_S;
    s[0] = t_session(spec, &cfg);
    s[1] = t_session(t_env("T_H1"), &cfg);
    if (!s[0] || !s[1])
        goto out;
    t0 = clock_mono_ns();
    CHECK(ssh_connect(s[0]) == 0 && ssh_connect(s[1]) == 0, "connect");
    double live_done = -1;
    bool exec_started = false;
    while ((ssh_busy(s[0]) || ssh_busy(s[1])) && clock_mono_ns() - t0 < 10 * VMTP_NS_PER_S) {
        struct pollfd pf[2];
        int64_t next = 0;
        nfds_t np = 0;
        for (int i = 0; i < 2; i++) {
            if (!ssh_busy(s[i]) || ssh_step(s[i]) != -EAGAIN)
                continue;
            pf[np++] = (struct pollfd){.fd = ssh_fd(s[i]), .events = ssh_events(s[i])};
            if (!next || ssh_deadline_ns(s[i]) < next)
                next = ssh_deadline_ns(s[i]);
        }
        if (!ssh_busy(s[1]) && ssh_connected(s[1]) && !exec_started) {
            exec_started = ssh_exec(s[1], "echo live", 0) == 0;
            continue;
        }
        if (!ssh_busy(s[1]) && exec_started && live_done < 0)
            live_done = (double)(clock_mono_ns() - t0) / 1e9;
        if (np == 0)
            continue;
        int64_t wait_ms = next ? (next - clock_mono_ns()) / VMTP_NS_PER_MS + 1 : 100;
        poll(pf, np, (int)(wait_ms < 0 ? 0 : wait_ms > 100 ? 100 : wait_ms));
    }
    took = (double)(clock_mono_ns() - t0) / 1e9;
    CHECK(ssh_result(s[1]) && !strcmp(ssh_result(s[1])->out, "live\n"), "live host ran its command: %s",
          ssh_error(s[1]));
    CHECK(live_done > 0 && live_done < 1.5, "live host done after %.2f s, silent one still connecting", live_done);
    CHECK(ssh_status(s[0]) == -ETIMEDOUT && took >= 2.9 && took < 4.0, "silent host: %.2f s, %s", took,
          ssh_error(s[0]));
    ssh_destroy(&s[0]);
    ssh_destroy(&s[1]);

    /* ssh_run's own deadline and stop flag abort what still runs. */
    cfg.connect_timeout_ns = 10 * VMTP_NS_PER_S;
    snprintf(spec, sizeof spec, "root@%s", t_env("T_DEAD"));
    s[0] = t_session(spec, &cfg);
    if (!s[0])
        goto out;
    t0 = clock_mono_ns();
    CHECK(ssh_connect(s[0]) == 0, "connect");
    int rc = ssh_run(s, 1, clock_mono_ns() + 500 * VMTP_NS_PER_MS, NULL);
    took = (double)(clock_mono_ns() - t0) / 1e9;
    CHECK(rc == -ETIMEDOUT && ssh_status(s[0]) == -ECANCELED && !ssh_busy(s[0]) && took < 1.0,
          "overall deadline: rc %d, %s, %.2f s", rc, ssh_error(s[0]), took);
    ssh_destroy(&s[0]);
    s[0] = t_session(spec, &cfg);
    if (!s[0])
        goto out;
    atomic_bool stop = true;
    CHECK(ssh_connect(s[0]) == 0, "connect");
    rc = ssh_run(s, 1, 0, &stop);
    CHECK(rc == -EINTR && ssh_status(s[0]) == -ECANCELED && strstr(ssh_error(s[0]), "interrupted"),
          "stop flag: rc %d, %s", rc, ssh_error(s[0]));
out:
    ssh_destroy(&s[0]);
    ssh_destroy(&s[1]);
}

/* Run inside H1: an IPv6 target in brackets ([::1]) with its known_hosts entry. */
static void t_case_v6(void)
{
    ssh_t *s = t_session("root@[::1]", NULL);
    if (s && t_connect(&s, 1)) {
        CHECK(!strcmp(ssh_label(s), "[::1]:22"), "label %s", ssh_label(s));
        CHECK(ssh_exec(s, "echo v6", 0) == 0 && t_run(&s, 1, 10 * VMTP_NS_PER_S) == 0, "exec");
        CHECK(ssh_result(s) && !strcmp(ssh_result(s)->out, "v6\n"), "output");
    }
    ssh_destroy(&s);
}

/* A known key that is also marked @revoked is refused. */
static void t_case_revoked(void)
{
    ssh_cfg_t cfg = {.known_hosts = t_env("T_KH_REV"), .private_key = t_env("T_KEY"), .agent_socket = ""};
    ssh_t *s = t_session(t_env("T_H1"), &cfg);
    if (!s)
        return;
    CHECK(ssh_connect(s) == 0, "connect");
    t_run(&s, 1, 20 * VMTP_NS_PER_S);
    CHECK(ssh_status(s) == -EKEYREVOKED && strstr(ssh_error(s), "@revoked") && strstr(ssh_error(s), "line 2"),
          "revoked: %d %s", ssh_status(s), ssh_error(s));
    ssh_destroy(&s);
}

static void t_case_agent(void)
{
    for (int k = 0; k < 2; k++) {
        ssh_cfg_t cfg = {.known_hosts = t_env("T_KH"),
                         .private_key = k ? t_env("T_BADKEY") : NULL,
                         .agent_socket = t_env("T_AGENT")};
        ssh_t *s = t_session(t_env("T_H1"), &cfg);
        if (s && t_connect(&s, 1)) {
            CHECK(!strcmp(ssh_auth_method(s), "agent"), "auth by %s", ssh_auth_method(s));
            CHECK(ssh_exec(s, "echo via-agent", 0) == 0 && t_run(&s, 1, 10 * VMTP_NS_PER_S) == 0, "exec");
            CHECK(ssh_result(s) && !strcmp(ssh_result(s)->out, "via-agent\n"), "output");
        }
        ssh_destroy(&s);
    }
}

static void t_case_noauth(void)
{
    ssh_cfg_t cfg = {.known_hosts = t_env("T_KH"), .private_key = t_env("T_BADKEY"), .agent_socket = ""};
    ssh_t *s = t_session(t_env("T_H1"), &cfg);
    if (!s)
        return;
    CHECK(ssh_connect(s) == 0, "connect");
    t_run(&s, 1, 20 * VMTP_NS_PER_S);
    CHECK(ssh_status(s) == -EACCES, "refused: %d %s", ssh_status(s), ssh_error(s));
    CHECK(strstr(ssh_error(s), "server offers: publickey") && strstr(ssh_error(s), "refused by the server") &&
              strstr(ssh_error(s), "password: none given"),
          "says why: %s", ssh_error(s));
    printf("no credential: %s\n", ssh_error(s));
    ssh_destroy(&s);
}

static void t_case_password(void)
{
    const char *spec = t_env("T_H3"); /* user@host:password */
    ssh_cfg_t cfg = {.known_hosts = t_env("T_KH"), .agent_socket = ""};
    ssh_t *s = t_session(spec, &cfg);
    if (s && t_connect(&s, 1)) {
        CHECK(!strcmp(ssh_auth_method(s), "password") || !strcmp(ssh_auth_method(s), "keyboard-interactive"),
              "auth by %s", ssh_auth_method(s));
        CHECK(ssh_exec(s, "echo via-password", 0) == 0 && t_run(&s, 1, 10 * VMTP_NS_PER_S) == 0, "exec");
        CHECK(ssh_result(s) && !strcmp(ssh_result(s)->out, "via-password\n"), "output");
    }
    ssh_destroy(&s);
    /* A wrong password is refused, and the message does not contain it. */
    char bad[512];
    snprintf(bad, sizeof bad, "%s", spec);
    char *colon = strrchr(bad, ':');
    if (colon)
        snprintf(colon + 1, sizeof bad - (size_t)(colon + 1 - bad), "WrongPassw0rd");
    s = t_session(bad, &cfg);
    if (!s)
        return;
    CHECK(ssh_connect(s) == 0, "connect");
    t_run(&s, 1, 20 * VMTP_NS_PER_S);
    CHECK(ssh_status(s) == -EACCES && !strstr(ssh_error(s), "WrongPassw0rd"), "wrong password: %s", ssh_error(s));
    ssh_destroy(&s);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_ssh BINDIR CASE\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(t_node_bin, sizeof t_node_bin, "%s/vmtp-node", argv[1]);
    const char *c = argv[2];
    if (!strcmp(c, "parse"))
        t_case_parse();
    else if (!strcmp(c, "exec"))
        t_case_exec();
    else if (!strcmp(c, "deploy"))
        t_case_deploy();
    else if (!strcmp(c, "newkey"))
        t_case_newkey();
    else if (!strcmp(c, "mismatch"))
        t_case_mismatch();
    else if (!strcmp(c, "unreach"))
        t_case_unreach();
    else if (!strcmp(c, "agent"))
        t_case_agent();
    else if (!strcmp(c, "noauth"))
        t_case_noauth();
    else if (!strcmp(c, "v6"))
        t_case_v6();
    else if (!strcmp(c, "revoked"))
        t_case_revoked();
    else if (!strcmp(c, "password"))
        t_case_password();
    else {
        fprintf(stderr, "test_ssh: unknown case '%s'\n", c);
        return 2;
    }
    char name[64];
    snprintf(name, sizeof name, "test_ssh %s", c);
    return check_exit(name);
}
