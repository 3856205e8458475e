/* dpconn.h — one control connection of the data plane: framed dp_msg_t in both directions.
 *
 * Sending is thread-safe (an engine thread's progress reports and the session thread's
 * replies share the socket). Receiving is for one thread. A frame longer than DP_FRAME_MAX is
 * refused before anything is allocated for it.
 */
#ifndef VMTP_DPCONN_H
#define VMTP_DPCONN_H

#include "dpwire.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct {
    int fd;                /* connected TCP socket (owned: dpconn_fini closes it) */
    pthread_mutex_t wlock; /* serialises senders */
    uint8_t *wbuf;         /* encode buffer (owned) */
    uint8_t *rbuf;         /* frame buffer (owned) */
} dpconn_t;

/* Takes ownership of fd. Returns 0 or -ENOMEM (fd is closed then). */
int dpconn_init(dpconn_t *c, int fd);
/* Closes the socket, frees buffers; idempotent. */
void dpconn_fini(dpconn_t *c);

/* Sends one message; gives up after 10 s or when *stop (may be NULL). Returns 0 or -errno. */
int dpconn_send(dpconn_t *c, const dp_msg_t *m, const atomic_bool *stop);
/* Convenience: sends ERROR with code (positive errno) and text. */
int dpconn_send_error(dpconn_t *c, int code, const char *text);

/* Waits up to timeout_ns (< 0 = forever, still checking *stop every 100 ms) for a frame, then
 * reads and decodes it into *m (dp_msg_fini it after). Returns 0, -ETIMEDOUT (nothing arrived),
 * -ECANCELED (stop), -ECONNRESET (peer closed), -EMSGSIZE (frame too long), -EINVAL
 * (malformed), or -errno. */
int dpconn_recv(dpconn_t *c, dp_msg_t *m, int64_t timeout_ns, const atomic_bool *stop);

#endif
