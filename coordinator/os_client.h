/* os_client.h — an authenticated OpenStack session: Keystone v3 token (password or application
 * credential), the service catalog (endpoint by type, interface and region), JSON calls to any
 * service with the token, Nova's microversion, re-authentication on 401.
 *
 * Errors quote the API's own message and the request that failed (os_http_describe).
 */
#ifndef VMTP_OS_CLIENT_H
#define VMTP_OS_CLIENT_H

#include "os_creds.h"
#include "os_http.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define OS_MAX_ENDPOINTS 32

typedef struct {
    char type[32];  /* "compute", "network", "image", "identity", ... */
    char url[512];  /* the chosen endpoint's URL, no trailing slash */
} os_endpoint_t;

/* What a token response says (os_token_parse). */
typedef struct {
    char user_id[128];
    char project_id[128];
    char project_name[256];
    bool admin;                              /* the token carries the admin role */
    os_endpoint_t endpoints[OS_MAX_ENDPOINTS]; /* one per service type (interface and region chosen) */
    unsigned n_endpoints;
    char regions_seen[256];                  /* regions in the catalog, for "no endpoint" messages */
} os_token_t;

typedef struct os_client os_client_t;

/* A session for creds (copied; the copy is wiped on destroy). intr_fd as os_http_cfg_t. Returns
 * NULL with *err = -errno. Nothing is sent before os_client_auth. */
os_client_t *os_client_new(const os_creds_t *creds, int intr_fd, int *err);
void os_client_destroy(os_client_t **self);

/* Gets a token and the catalog. Returns 0, -EACCES (refused: bad password, ...), -EINTR, or
 * another -errno; why says what happened with Keystone's own words. */
int os_client_auth(os_client_t *self, char *why, size_t cap);

const os_token_t *os_client_token(const os_client_t *self);
const os_creds_t *os_client_creds(const os_client_t *self);

/* The endpoint URL of a service type after auth, or NULL. */
const char *os_client_endpoint(const os_client_t *self, const char *type);

/* The interrupt fd from now on (-1 during the cleanup). */
void os_client_set_intr_fd(os_client_t *self, int fd);

/* Calls service `type` at path (appended to its endpoint; "/v2.0/networks"). body is borrowed
 * (NULL = none). On an answer, *status is its HTTP status and *out its JSON (NULL when the body
 * is empty or not JSON; the caller decrefs). A 401 re-authenticates once and repeats. Returns 0
 * when an answer came (2xx or not: check *status; for a non-2xx answer why describes it), or
 * -errno (-EINTR, -ETIMEDOUT, ...) with why. */
int os_client_call(os_client_t *self, const char *type, const char *method, const char *path, json_t *body,
                   unsigned retry, long *status, json_t **out, char *why, size_t cap);

/* As os_client_call, but any non-2xx status is an error too: -ENOENT for 404, -EEXIST for 409,
 * -EACCES for 401/403, -EDQUOT for 413 and quota messages, -EIO otherwise. */
int os_client_json(os_client_t *self, const char *type, const char *method, const char *path, json_t *body,
                   unsigned retry, json_t **out, char *why, size_t cap);

/* PUTs a file to path of service `type` (a Glance image's data). Returns 0 or -errno with why. */
int os_client_upload(os_client_t *self, const char *type, const char *path, const char *file, char *why,
                     size_t cap);

/* Downloads url (http(s), no token: an image's source) into file. Returns 0 or -errno with why. */
int os_client_download(os_client_t *self, const char *url, const char *file, char *why, size_t cap);

/* Parses a Keystone v3 token response body: identity, roles, and the endpoint of every service
 * type for interface (and region when not ""). Returns 0 or -EINVAL with why (fuzzed: the body
 * comes from the network). */
int os_token_parse(const char *body, size_t len, const char *interface, const char *region, os_token_t *t,
                   char *why, size_t cap);

#endif
