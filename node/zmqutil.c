/* node/zmqutil.c — ZeroMQ helpers shared by the agent and the coordinator. */
#include "zmqutil.h"

#include "vmtp/clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <zmq.h>

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *ctx;
    bool done, abandoned;
} s_term_t;

static void s_term_free(s_term_t *t)
{
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static void *s_term_main(void *arg)
{
    s_term_t *t = arg;
    zmq_ctx_term(t->ctx);
    pthread_mutex_lock(&t->mu);
    t->done = true;
    bool abandoned = t->abandoned;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    if (abandoned) /* the caller gave up: the state is ours to free */
        s_term_free(t);
    return NULL;
}

bool zmq_term_bounded(void *ctx, int64_t bound_ns)
{
    if (!ctx)
        return true;
    s_term_t *t = calloc(1, sizeof *t);
    pthread_condattr_t ca;
    if (!t || pthread_condattr_init(&ca) != 0) {
        free(t);
        zmq_ctx_term(ctx); /* no memory for a thread: the plain call */
        return true;
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&t->mu, NULL);
    t->ctx = ctx;
    pthread_t tid;
    if (pthread_create(&tid, NULL, s_term_main, t) != 0) {
        s_term_free(t);
        zmq_ctx_term(ctx);
        return true;
    }
    int64_t end = clock_mono_ns() + bound_ns;
    struct timespec ts = {.tv_sec = (time_t)(end / VMTP_NS_PER_S), .tv_nsec = (long)(end % VMTP_NS_PER_S)};
    pthread_mutex_lock(&t->mu);
    while (!t->done)
        if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) == ETIMEDOUT)
            break;
    bool done = t->done;
    if (!done)
        t->abandoned = true;
    pthread_mutex_unlock(&t->mu);
    if (done) {
        pthread_join(tid, NULL);
        s_term_free(t);
    } else {
        pthread_detach(tid);
    }
    return done;
}
