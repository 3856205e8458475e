/* main.c — the `vmtp` program: command line and configuration, then the run its mode names. */
#include "run.h"
#include "vmtp/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    log_set_program("vmtp");
    /* A closed stdout (vmtp | head) must not kill the run before its cleanup. */
    signal(SIGPIPE, SIG_IGN);
    if (argc > 1 && !strcmp(argv[1], "cleanup"))
        return run_cleanup(argc - 2, argv + 2);
    vmtp_opts_t o;
    config_t cfg;
    int rc = vmtp_cli_parse(argc, argv, &o, &cfg, stdout, stderr);
    if (rc != 0) {
        vmtp_cli_fini(&o);
        config_fini(&cfg);
        return rc == 1 ? VMTP_EXIT_OK : VMTP_EXIT_USAGE;
    }
    log_threshold = o.debug ? LOG_LEVEL_DEBUG : o.quiet ? LOG_LEVEL_WARN : LOG_LEVEL_INFO;
    FILE *log_file = NULL;
    if (o.log_file) {
        log_file = fopen(o.log_file, "ae"); /* not inherited by the tools vmtp runs */
        if (!log_file) {
            fprintf(stderr, "vmtp: --log-file %s: %s\n", o.log_file, strerror(errno));
            vmtp_cli_fini(&o);
            config_fini(&cfg);
            return VMTP_EXIT_USAGE;
        }
        log_set_file(log_file);
        LOG_DEBUG("command line: %s", vmtp_cli_args_masked(&o));
    }
    int status;
    switch (o.mode) {
    case VMTP_MODE_HOSTS: status = run_hosts(&o, &cfg); break;
    case VMTP_MODE_INVENTORY: {
        inventory_t inv;
        char why[700];
        if (inventory_load(o.inventory, &inv, why, sizeof why) < 0) {
            fprintf(stderr, "vmtp: --inventory: %s\n", why);
            status = VMTP_EXIT_USAGE;
        } else {
            status = run_inventory(&o, &cfg, &inv);
        }
        inventory_fini(&inv);
        break;
    }
    case VMTP_MODE_TESTBED: status = run_testbed(&o, &cfg); break;
    case VMTP_MODE_OPENSTACK: status = run_openstack(&o, &cfg); break;
    default: status = VMTP_EXIT_USAGE; break;
    }
    if (log_file) {
        log_set_file(NULL);
        fclose(log_file);
    }
    vmtp_cli_fini(&o);
    config_fini(&cfg);
    return status;
}
