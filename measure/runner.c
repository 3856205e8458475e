/* runner.c — the engine thread of one test end; see runner.h. */
#include "runner.h"

#include "rr.h"
#include "tcpflow.h"
#include "udpflow.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

report_role_t runner_role(const test_spec_t *spec, bool server)
{
    switch (spec->proto) {
    case TEST_TCP:
    case TEST_UDP: return (spec->reverse != server) ? ROLE_RECEIVER : ROLE_SENDER;
    case TEST_RR_UDP:
    case TEST_RR_TCP: return server ? ROLE_REFLECTOR : ROLE_RR_CLIENT;
    default: return ROLE_NONE;
    }
}

void runner_init(runner_t *r, const test_spec_t *spec, bool server)
{
    memset(r, 0, sizeof *r);
    r->spec = *spec;
    r->role = runner_role(spec, server);
    report_init(&r->report);
    for (unsigned i = 0; i < TEST_MAX_STREAMS; i++)
        r->fds[i] = -1;
}

static void *s_main(void *arg)
{
    runner_t *r = arg;
    flow_t f = {.fds = r->fds,
                .nfds = r->nfds,
                .spec = &r->spec,
                .stop = &r->stop,
                .peer_done = &r->peer_done,
                .peer_tx_packets = &r->peer_tx_packets,
                .on_interval = r->on_interval,
                .cb_arg = r->cb_arg};
    bool tcp = r->spec.proto == TEST_TCP || r->spec.proto == TEST_RR_TCP;
    switch (r->role) {
    case ROLE_SENDER: r->rc = tcp ? tcpflow_send(&f, &r->report) : udpflow_send(&f, &r->report); break;
    case ROLE_RECEIVER: r->rc = tcp ? tcpflow_recv(&f, &r->report) : udpflow_recv(&f, &r->report); break;
    case ROLE_RR_CLIENT: r->rc = rr_client_run(&f, tcp, &r->report); break;
    case ROLE_REFLECTOR: r->rc = rr_reflect_run(&f, tcp, &r->report); break;
    default: r->rc = -EINVAL; break;
    }
    atomic_store(&r->done, true);
    return NULL;
}

int runner_start(runner_t *r)
{
    int rc = report_alloc_hists(&r->report, r->role);
    if (rc < 0)
        return rc;
    if (pthread_create(&r->tid, NULL, s_main, r) != 0)
        return -EAGAIN;
    r->started = true;
    return 0;
}

void runner_join(runner_t *r)
{
    if (r->started)
        pthread_join(r->tid, NULL);
    r->started = false;
}

void runner_fini(runner_t *r)
{
    atomic_store(&r->stop, true);
    runner_join(r);
    for (unsigned i = 0; i < TEST_MAX_STREAMS; i++) {
        if (r->fds[i] >= 0)
            close(r->fds[i]);
        r->fds[i] = -1;
    }
    r->nfds = 0;
    report_fini(&r->report);
}
