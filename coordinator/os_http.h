/* os_http.h — HTTP for the OpenStack client: libcurl (multi interface) with bounded times, a
 * signal file descriptor that aborts a transfer at once, retries where they are safe, and errors
 * that quote the API's own message and the request that failed.
 *
 * One request at a time per os_http_t; the call returns when the answer is in, the time bound
 * passed, or the interrupt fd became readable (the run's signalfd: the caller reads it) — at once
 * for GET and HEAD; any other request is not sent once it is readable, but one already sent runs
 * to its answer, so that what it created is known and recorded. Bodies
 * are JSON text (or a file to upload); answers are kept whole up to OS_HTTP_MAX_BODY.
 */
#ifndef VMTP_OS_HTTP_H
#define VMTP_OS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OS_HTTP_MAX_BODY (64u << 20) /* an API answer larger than this is refused */

typedef struct os_http os_http_t;

typedef struct {
    const char *cacert;          /* CA bundle for TLS (OS_CACERT), or NULL for the system's */
    bool insecure;               /* do not verify TLS certificates (explicit option only) */
    int64_t connect_timeout_ns;  /* 0 = 10 s */
    int64_t request_timeout_ns;  /* whole request, 0 = 60 s */
    int intr_fd;                 /* readable = abort now (-EINTR); -1 = none */
} os_http_cfg_t;

/* Retry policy of one request: attempts are 1 s, 2 s, 4 s ... apart (at most 8 s), bounded. */
typedef enum {
    OS_RETRY_NONE = 0,
    OS_RETRY_503 = 1,  /* 502/503/504 and connection failures: safe for GET, PUT, DELETE */
    OS_RETRY_409 = 2,  /* 409 Conflict: a resource still in use that is going away (deletes) */
} os_retry_t;

typedef struct {
    const char *method;       /* "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" */
    const char *url;          /* absolute */
    const char *token;        /* X-Auth-Token, or NULL */
    const char *body;         /* JSON text, or NULL */
    const char *upload_file;  /* PUT this file's bytes (application/octet-stream), or NULL */
    const char *download_file; /* a 2xx answer's body goes to this file (created 0600), not memory */
    const char *headers[4];   /* extra "Name: value" lines (microversions), NULL-terminated */
    unsigned retry;           /* os_retry_t bits */
    unsigned attempts;        /* 0 = 5 */
    int64_t timeout_ns;       /* 0 = the configured request timeout */
} os_http_req_t;

typedef struct {
    long status;            /* HTTP status, 0 when no answer came */
    char *body;             /* the answer's body, NUL-terminated (owned; "" when none) */
    size_t len;             /* its length */
    char subject_token[1024]; /* X-Subject-Token (Keystone) */
    char location[1024];    /* Location */
    char request_id[128];   /* x-openstack-request-id / x-compute-request-id */
    double seconds;         /* time of the last attempt */
} os_http_resp_t;

/* A client, or NULL with *err = -errno. */
os_http_t *os_http_new(const os_http_cfg_t *cfg, int *err);
void os_http_destroy(os_http_t **self);

/* The interrupt fd from now on (-1: none; the cleanup must not be cut short). */
void os_http_set_intr_fd(os_http_t *self, int fd);

/* Runs req (with its retries). Returns 0 when an answer came (any status: resp->status says
 * which), -EINTR when the interrupt fd fired, -ETIMEDOUT, or another -errno when no answer came;
 * on failure why says what happened, naming the method and URL. os_http_resp_fini(resp) always. */
int os_http_do(os_http_t *self, const os_http_req_t *req, os_http_resp_t *resp, char *why, size_t cap);

void os_http_resp_fini(os_http_resp_t *resp);

/* The API's own message in an error answer: Nova's {"badRequest": {"message": ...}}, Neutron's
 * {"NeutronError": {"message": ...}}, Keystone's {"error": {"message": ...}}, Glance's text or
 * HTML, ... Writes at most cap bytes (printable only) to out and returns out; "" when none. */
const char *os_http_api_message(const char *body, size_t len, char *out, size_t cap);

/* "METHOD URL: STATUS REASON: message (request req-...)" for an answer with an error status. */
void os_http_describe(const os_http_req_t *req, const os_http_resp_t *resp, char *out, size_t cap);

#endif
