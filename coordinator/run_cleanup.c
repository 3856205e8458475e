/* run_cleanup.c — `vmtp cleanup`: deletes what OpenStack runs left behind (after kill -9, a crash,
 * --stop-on-error), by their ledgers and, for strays no ledger lists, by the run id in the names.
 *
 *   vmtp cleanup --ledger FILE      the resources FILE lists
 *   vmtp cleanup --run-id ID        run ID's ledger (when here) and anything named vmtp-ID-* in the project
 *   vmtp cleanup --all-stale        every ledger whose vmtp process is gone, and every vmtp-*-* resource of a
 *                                   run that is not running here
 * with the credentials options of a run (-r, --os-cloud, -p, --no-env). Idempotent: what is gone is done.
 */
#include "os_client.h"
#include "os_cloud.h"
#include "os_strays.h"
#include "run.h"

#include "vmtp/log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_MAX_LEDGERS 256

static int s_usage(const char *what, const char *arg)
{
    fprintf(stderr, "vmtp cleanup: %s%s%s%s\nusage: vmtp cleanup (--ledger FILE | --run-id ID | --all-stale) [-r OPENRC | --os-cloud NAME] "
                    "[-p PASSWORD] [--no-env] [-d | -q]\n",
            arg ? "'" : "", arg ? arg : "", arg ? "': " : "", what);
    return VMTP_EXIT_USAGE;
}

/* True when the run that wrote ledger l still runs on this machine. */
static bool s_alive(const os_ledger_t *l)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    long pid = os_ledger_pid(l);
    if (strcmp(os_ledger_host(l), host) != 0)
        return true; /* another machine's run: not ours to judge */
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Cleans up one ledger with client cl. Returns true when nothing is left (the ledger is removed). */
static bool s_clean_ledger(os_client_t *cl, os_ledger_t *led)
{
    const os_token_t *t = os_client_token(cl);
    if (strcmp(os_ledger_project_id(led), t->project_id) != 0) {
        LOG_ERROR("%s: run %s was in project %s, these credentials are for %s: skipped", os_ledger_path(led),
                  os_ledger_run_id(led), os_ledger_project_id(led), t->project_id);
        return false;
    }
    os_cloud_t cc;
    os_cloud_init(&cc, cl, led, os_ledger_run_id(led));
    os_cleanup_stats_t st;
    int rc = os_cloud_cleanup(&cc, &st);
    LOG_INFO("run %s: %u deleted, %u already gone%s", os_ledger_run_id(led), st.deleted, st.gone,
             rc < 0 ? ", some still there (see above)" : "");
    if (rc < 0)
        return false;
    unlink(os_ledger_path(led));
    return true;
}

int run_cleanup(int argc, char **argv)
{
    const char *ledger = NULL, *run_id = NULL, *rc_file = NULL, *cloud = NULL;
    char *password = NULL;
    bool all_stale = false, no_env = false;
    log_threshold = LOG_LEVEL_INFO; /* what was deleted is the point of the command */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--ledger") && has)
            ledger = argv[++i];
        else if (!strcmp(a, "--run-id") && has)
            run_id = argv[++i];
        else if (!strcmp(a, "--all-stale"))
            all_stale = true;
        else if ((!strcmp(a, "-r") || !strcmp(a, "--rc")) && has)
            rc_file = argv[++i];
        else if (!strcmp(a, "--os-cloud") && has)
            cloud = argv[++i];
        else if ((!strcmp(a, "-p") || !strcmp(a, "--password")) && has) {
            free(password);
            password = strdup(argv[++i]);
            memset(argv[i], '*', strlen(argv[i])); /* not left in the process listing */
        } else if (!strcmp(a, "--no-env"))
            no_env = true;
        else if (!strcmp(a, "-d") || !strcmp(a, "--debug"))
            log_threshold = LOG_LEVEL_DEBUG;
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
            log_threshold = LOG_LEVEL_WARN;
        else {
            free(password);
            bool needs = !has && (!strcmp(a, "--ledger") || !strcmp(a, "--run-id") || !strcmp(a, "-r") ||
                                  !strcmp(a, "--rc") || !strcmp(a, "--os-cloud") || !strcmp(a, "-p") ||
                                  !strcmp(a, "--password"));
            return s_usage(needs ? "needs a value" : "unknown argument", a);
        }
    }
    if ((ledger != NULL) + (run_id != NULL) + all_stale != 1) {
        free(password);
        return s_usage("say what to clean up: one of --ledger FILE, --run-id ID, --all-stale", NULL);
    }
    if (run_id && !os_strays_valid_run_id(run_id)) {
        free(password);
        return s_usage("a run id is 7 hexadecimal digits (as in vmtp-1a2b3c4-server)", run_id);
    }
    char why[1500];
    os_creds_t creds;
    int rc = os_creds_load(rc_file, cloud, no_env, password, &creds, why, sizeof why);
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    if (rc < 0) {
        os_creds_wipe(&creds);
        fprintf(stderr, "vmtp cleanup: %s\n", why);
        return VMTP_EXIT_USAGE;
    }
    int err = 0;
    os_client_t *cl = os_client_new(&creds, -1, &err);
    os_creds_wipe(&creds);
    if (!cl) {
        fprintf(stderr, "vmtp cleanup: cannot start the OpenStack client: %s\n", strerror(-err));
        return VMTP_EXIT_INTERNAL;
    }
    if ((rc = os_client_auth(cl, why, sizeof why)) < 0) {
        fprintf(stderr, "vmtp cleanup: %s\n", why);
        os_client_destroy(&cl);
        return rc == -EACCES ? VMTP_EXIT_USAGE : VMTP_EXIT_FAILED;
    }
    int status = VMTP_EXIT_OK;
    char dir[PATH_MAX];
    bool have_dir = os_ledger_dir(dir, sizeof dir) == 0;
    char live_runs[S_MAX_LEDGERS][64];
    unsigned n_live = 0;
    if (ledger) {
        os_ledger_t *led = os_ledger_open(ledger, &err, why, sizeof why);
        if (!led) {
            fprintf(stderr, "vmtp cleanup: %s\n", why);
            os_client_destroy(&cl);
            return err == -ENOENT ? VMTP_EXIT_USAGE : VMTP_EXIT_INTERNAL;
        }
        if (s_alive(led))
            LOG_WARN("%s: its run (pid %ld) still runs: cleaning up under it", ledger, os_ledger_pid(led));
        if (!s_clean_ledger(cl, led))
            status = VMTP_EXIT_FAILED;
        os_ledger_close(&led);
    } else if (have_dir) {
        /* the ledgers here: of run_id, or every stale one */
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (strncmp(de->d_name, "ledger-", 7) != 0 || !strstr(de->d_name, ".jsonl"))
                continue;
            char path[PATH_MAX + 300];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            os_ledger_t *led = os_ledger_open(path, &err, why, sizeof why);
            if (!led) {
                LOG_WARN("%s", why);
                continue;
            }
            bool mine = run_id ? !strcmp(os_ledger_run_id(led), run_id) : !s_alive(led);
            if (!mine && s_alive(led) && n_live < S_MAX_LEDGERS)
                snprintf(live_runs[n_live++], sizeof live_runs[0], "%s", os_ledger_run_id(led));
            if (mine && !s_clean_ledger(cl, led))
                status = VMTP_EXIT_FAILED;
            os_ledger_close(&led);
        }
        if (d)
            closedir(d);
    }
    if (run_id || all_stale) { /* strays no ledger lists (a lost or removed ledger, another machine's crash) */
        const char *live[S_MAX_LEDGERS];
        for (unsigned i = 0; i < n_live; i++)
            live[i] = live_runs[i];
        os_cleanup_stats_t st;
        rc = os_strays_cleanup(cl, run_id, live, n_live, &st, why, sizeof why);
        if (rc < 0 && rc != -EBUSY) {
            fprintf(stderr, "vmtp cleanup: %s\n", why);
            status = VMTP_EXIT_FAILED;
        } else {
            LOG_INFO("strays named after %s: %u deleted, %u already gone%s", run_id ? run_id : "stale runs", st.deleted,
                     st.gone, rc < 0 ? ", some still there (see above)" : "");
            if (rc < 0)
                status = VMTP_EXIT_FAILED;
        }
    }
    os_client_destroy(&cl);
    return status;
}
