/* run_testbed.c — `vmtp --testbed`: brings up the namespace testbed (tools/testbed), runs VMTP's
 * whole matrix over the inventory it writes (1.x-6.x between its VMs, 7.x between its compute
 * nodes, 8.x with its external host), and always tears it down — after success, failure, SIGINT or
 * SIGTERM (both stay blocked while the testbed is being built, so it is never left half-made). */
#include "run.h"

#include "vmtp/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef VMTP_SOURCE_DIR
#define VMTP_SOURCE_DIR "."
#endif

/* tools/testbed: $VMTP_TESTBED, else the source tree vmtp was built from. */
static int s_tool(char *out, size_t cap)
{
    const char *env = getenv("VMTP_TESTBED");
    snprintf(out, cap, "%s", env && env[0] ? env : VMTP_SOURCE_DIR "/tools/testbed");
    return access(out, X_OK) == 0 ? 0 : -errno;
}

/* Runs the tool with args; its stdout (at most cap bytes) into out, its stderr passes through.
 * Returns its exit status, or -errno. */
static sigset_t s_old_mask; /* the mask before vmtp held its signals: what the tool runs with */

static int s_run_tool(const char *const argv[], char *out, size_t cap)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(pfd[0]);
        close(pfd[1]);
        return -e;
    }
    if (pid == 0) {
        /* The tool gets ordinary signals back (its own traps, and the daemons it starts, must see
         * TERM), in a process group of its own: a terminal's Ctrl-C reaches vmtp, which decides. */
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        pthread_sigmask(SIG_SETMASK, &s_old_mask, NULL);
        dup2(pfd[1], 1);
        char *av[16]; /* execv wants mutable strings: copies, in the child only */
        int i = 0;
        for (; argv[i] && i < 15; i++)
            av[i] = strdup(argv[i]);
        av[i] = NULL;
        execv(av[0], av);
        _exit(127);
    }
    close(pfd[1]);
    size_t got = 0;
    for (;;) {
        ssize_t n = read(pfd[0], out + got, got + 1 < cap ? cap - 1 - got : 0);
        if (n > 0)
            got += (size_t)n;
        else if (n == 0 || errno != EINTR || got + 1 >= cap)
            break;
    }
    if (cap)
        out[got < cap ? got : cap - 1] = 0;
    close(pfd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static void s_down(const char *tool, const char *name)
{
    char out[256];
    const char *argv[] = {tool, "down", name, NULL};
    int rc = s_run_tool(argv, out, sizeof out);
    if (rc != 0)
        LOG_ERROR("testbed %s: teardown failed (exit %d): run `%s down %s`", name, rc, tool, name);
    else
        LOG_INFO("testbed %s removed", name);
}

/* Takes every pending signal of set (so none is delivered when the mask is restored); returns the
 * first, or 0. */
static int s_pending_signal(const sigset_t *set)
{
    struct timespec zero = {0, 0};
    int first = 0, sig;
    while ((sig = sigtimedwait(set, NULL, &zero)) > 0)
        if (!first)
            first = sig;
    return first;
}

static int s_signal_status(int sig)
{
    return sig == SIGTERM ? VMTP_EXIT_SIGTERM : sig == SIGHUP ? VMTP_EXIT_SIGHUP : VMTP_EXIT_SIGINT;
}

int run_testbed(const vmtp_opts_t *o, const config_t *cfg)
{
    char tool[PATH_MAX];
    int rc = s_tool(tool, sizeof tool);
    if (rc < 0) {
        fprintf(stderr, "vmtp: --testbed needs tools/testbed (%s: %s; set VMTP_TESTBED to its path)\n", tool,
                strerror(-rc));
        return VMTP_EXIT_USAGE;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, &s_old_mask);
    char name[16], mtu[16], loss[16];
    unsigned rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
        rnd = (unsigned)clock();
    /* run-unique: the PID and a random part (another testbed's name is never taken, or taken down) */
    snprintf(name, sizeof name, "v%x%04x", (unsigned)getpid() & 0xffffff, rnd & 0xffff);
    snprintf(mtu, sizeof mtu, "%llu", (unsigned long long)cfg->testbed_mtu_underlay);
    snprintf(loss, sizeof loss, "%llu", (unsigned long long)cfg->testbed_loss_router);
    const char *argv[16];
    int a = 0;
    argv[a++] = tool;
    argv[a++] = "up";
    argv[a++] = "--name";
    argv[a++] = name;
    if (cfg->testbed_cap_underlay) {
        argv[a++] = "--cap-underlay";
        argv[a++] = cfg->testbed_cap_underlay;
    }
    if (cfg->testbed_mtu_underlay) {
        argv[a++] = "--mtu-underlay";
        argv[a++] = mtu;
    }
    if (cfg->testbed_loss_router) {
        argv[a++] = "--loss-router";
        argv[a++] = loss;
    }
    argv[a] = NULL;
    LOG_INFO("building the namespace testbed %s", name);
    char out[4200] = "";
    rc = s_run_tool(argv, out, sizeof out);
    char inv_path[4096] = "";
    char *nl = strchr(out, '\n');
    if (rc == 0 && nl)
        snprintf(inv_path, sizeof inv_path, "%.*s", (int)strcspn(nl + 1, "\n"), nl + 1);
    int status;
    int sig = s_pending_signal(&set);
    if (rc != 0 || !inv_path[0]) {
        LOG_ERROR("tools/testbed up failed (exit %d)", rc);
        status = VMTP_EXIT_INTERNAL;
    } else if (sig) {
        status = s_signal_status(sig);
    } else {
        inventory_t inv;
        char why[700];
        if (inventory_load(inv_path, &inv, why, sizeof why) < 0) {
            LOG_ERROR("the testbed's inventory: %s", why);
            status = VMTP_EXIT_INTERNAL;
        } else {
            status = run_inventory(o, cfg, &inv);
        }
        inventory_fini(&inv);
    }
    s_down(tool, name);                /* on every path, also when `up` failed half-way (down is idempotent) */
    int late = s_pending_signal(&set); /* one that came during the run's end or the teardown */
    if (!sig)
        sig = late;
    if (sig && status != VMTP_EXIT_SIGINT && status != VMTP_EXIT_SIGTERM && status != VMTP_EXIT_SIGHUP)
        status = s_signal_status(sig);
    pthread_sigmask(SIG_SETMASK, &s_old_mask, NULL);
    return status;
}
