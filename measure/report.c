/* report.c — report lifetime; see report.h. */
#include "report.h"

#include <errno.h>
#include <string.h>

void report_init(report_t *r)
{
    memset(r, 0, sizeof *r);
    r->socket_drops = -1;
    r->tx_busy = -1;
    r->tx_backlog = -1;
    r->clock_bound_ns = -1;
}

void report_fini(report_t *r)
{
    hist_destroy(&r->owd);
    hist_destroy(&r->rtt_user);
    hist_destroy(&r->rtt_kernel);
    hist_destroy(&r->rtt_path);
    hist_destroy(&r->turn_kernel);
    hist_destroy(&r->turn_user);
    report_init(r);
}

int report_alloc_hists(report_t *r, report_role_t role)
{
    r->role = (uint8_t)role;
    switch (role) {
    case ROLE_RECEIVER:
        if (!r->owd && !(r->owd = hist_new()))
            return -ENOMEM;
        break;
    case ROLE_RR_CLIENT:
        if ((!r->rtt_user && !(r->rtt_user = hist_new())) || (!r->rtt_kernel && !(r->rtt_kernel = hist_new())) ||
            (!r->rtt_path && !(r->rtt_path = hist_new())))
            return -ENOMEM;
        break;
    case ROLE_REFLECTOR:
        if ((!r->turn_kernel && !(r->turn_kernel = hist_new())) || (!r->turn_user && !(r->turn_user = hist_new())))
            return -ENOMEM;
        break;
    default: break;
    }
    return 0;
}
