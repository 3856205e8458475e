/* dpclient.h — the client end of the data plane: connects to a dpserver, runs tests, and
 * brings back both ends' reports.
 *
 * A session is one control connection; several tests can run on it one after another (the UDP
 * rate search does). Each test: TEST → ACCEPT (cookie) → data connections or UDP hello →
 * READY → START → both engines run, the server streams INTERVALs → the client's DONE → the
 * server's RESULT.
 */
#ifndef VMTP_DPCLIENT_H
#define VMTP_DPCLIENT_H

#include "dpwire.h"
#include "sockutil.h"

#include <stdatomic.h>
#include <stdbool.h>

typedef struct dpclient dpclient_t;

/* Progress callback: one period of this end (remote = false) or of the server (remote = true).
 * Called from engine or control threads of this client, never concurrently with itself. */
typedef void (*dpclient_interval_fn)(const interval_t *iv, bool remote, void *arg);

typedef struct {
    sockaddr_any_t server;            /* server's data port address */
    sockaddr_any_t bind;              /* local address to bind (len 0 = any) */
    int64_t connect_timeout_ns;       /* bound on every connect and on the setup exchange */
    const atomic_bool *stop;          /* abort everything (not owned, may be NULL) */
    dpclient_interval_fn on_interval; /* may be NULL */
    void *cb_arg;                     /* for on_interval */
} dpclient_cfg_t;

/* Both ends of one finished test. */
typedef struct {
    test_spec_t spec;            /* what ran */
    report_t local;              /* this end (owned) */
    report_t remote;             /* the server's end (owned) */
    interval_t *local_iv;        /* this end's progress periods (owned) */
    size_t n_local_iv;           /* count */
    interval_t *remote_iv;       /* the server's progress periods (owned) */
    size_t n_remote_iv;          /* count */
    char server_id[DP_TEXT_MAX]; /* "hostname kernel" of the server */
    int64_t start_real_ns;       /* when the data phase started */
} dp_result_t;

/* Frees what a result owns and zeroes it; idempotent. */
void dp_result_fini(dp_result_t *r);

/* Connects the control connection. Returns the client, or NULL with -errno in *err and a
 * sentence in why (e.g. "cannot connect to 198.18.0.2:5001: connection timed out after 5 s"). */
dpclient_t *dpclient_new(const dpclient_cfg_t *cfg, int *err, char *why, size_t whycap);

/* Runs one test. Returns 0 with both reports in *res, or
 * -errno with a sentence in why (the server's own ERROR text when it sent one); dp_result_fini(res)
 * in either case. After a failure the session
 * may not be reusable. */
int dpclient_run(dpclient_t *self, const test_spec_t *spec, dp_result_t *res, char *why, size_t whycap);

/* Closes the session; NULL-safe, nulls *self. */
void dpclient_destroy(dpclient_t **self);

#endif
