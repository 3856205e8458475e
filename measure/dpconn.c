/* dpconn.c — framed control connection; see dpconn.h. */
#include "dpconn.h"

#include "sockutil.h"
#include "vmtp/clock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_WBUF (DP_FRAME_MAX + 4)
#define S_FRAME_DEADLINE_NS (10 * VMTP_NS_PER_S)

int dpconn_init(dpconn_t *c, int fd)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->wbuf = malloc(S_WBUF);
    c->rbuf = malloc(DP_FRAME_MAX);
    if (!c->wbuf || !c->rbuf || pthread_mutex_init(&c->wlock, NULL) != 0) {
        free(c->wbuf);
        free(c->rbuf);
        close(fd);
        c->fd = -1;
        c->wbuf = c->rbuf = NULL;
        return -ENOMEM;
    }
    return 0;
}

void dpconn_fini(dpconn_t *c)
{
    if (!c->wbuf)
        return;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->wbuf);
    free(c->rbuf);
    c->wbuf = c->rbuf = NULL;
    pthread_mutex_destroy(&c->wlock);
}

int dpconn_send(dpconn_t *c, const dp_msg_t *m, const atomic_bool *stop)
{
    pthread_mutex_lock(&c->wlock);
    long n = dp_msg_encode(m, c->wbuf, S_WBUF);
    int rc = n < 0 ? (int)n : sock_write_full(c->fd, c->wbuf, (size_t)n, clock_mono_ns() + S_FRAME_DEADLINE_NS, stop);
    pthread_mutex_unlock(&c->wlock);
    return rc;
}

int dpconn_send_error(dpconn_t *c, int code, const char *text)
{
    dp_msg_t m;
    dp_msg_init(&m, DP_MSG_ERROR);
    m.error_code = code > 0 && code < 4096 ? code : EIO;
    snprintf(m.text, sizeof m.text, "%s", text);
    return dpconn_send(c, &m, NULL);
}

int dpconn_recv(dpconn_t *c, dp_msg_t *m, int64_t timeout_ns, const atomic_bool *stop)
{
    int64_t deadline = timeout_ns < 0 ? INT64_MAX : clock_mono_ns() + timeout_ns;
    for (;;) {
        if (stop && atomic_load(stop))
            return -ECANCELED;
        int64_t left = deadline - clock_mono_ns();
        if (left <= 0)
            return -ETIMEDOUT;
        int rc = sock_wait(c->fd, POLLIN, left < 100 * VMTP_NS_PER_MS ? left : 100 * VMTP_NS_PER_MS);
        if (rc < 0)
            return rc;
        if (rc > 0)
            break;
    }
    /* A frame has begun: the rest must follow promptly. */
    int64_t frame_deadline = clock_mono_ns() + S_FRAME_DEADLINE_NS;
    uint8_t hdr[4];
    int rc = sock_read_full(c->fd, hdr, sizeof hdr, frame_deadline, stop);
    if (rc < 0)
        return rc;
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (len == 0 || len > DP_FRAME_MAX)
        return -EMSGSIZE;
    rc = sock_read_full(c->fd, c->rbuf, len, frame_deadline, stop);
    if (rc < 0)
        return rc;
    return dp_msg_decode(c->rbuf, len, m);
}
