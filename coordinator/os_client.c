/* os_client.c — Keystone v3 token, catalog, JSON calls with the token, Nova microversion. */
#include "os_client.h"

#include "vmtp/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define S_NOVA_WANTED_MINOR 60 /* the compute microversion vmtp is written against (2.60) */

struct os_client {
    os_creds_t creds;     /* copy (secrets wiped on destroy) */
    os_http_t *http;
    char identity[600];   /* Keystone v3 base URL */
    char token[1024];     /* X-Auth-Token (wiped on destroy) */
    os_token_t tok;
    int nova_minor;       /* chosen compute microversion 2.N; 0 = not asked yet */
};

os_client_t *os_client_new(const os_creds_t *creds, int intr_fd, int *err)
{
    os_client_t *c = calloc(1, sizeof *c);
    if (!c) {
        *err = -ENOMEM;
        return NULL;
    }
    c->creds = *creds;
    char why[200];
    if (os_creds_identity_url(creds, c->identity, sizeof c->identity, why, sizeof why) < 0) {
        os_client_destroy(&c);
        *err = -EINVAL;
        return NULL;
    }
    os_http_cfg_t hc = {.cacert = c->creds.cacert, .insecure = c->creds.insecure, .intr_fd = intr_fd};
    c->http = os_http_new(&hc, err);
    if (!c->http) {
        os_client_destroy(&c);
        return NULL;
    }
    return c;
}

void os_client_destroy(os_client_t **self)
{
    if (!self || !*self)
        return;
    os_client_t *c = *self;
    *self = NULL;
    os_http_destroy(&c->http);
    os_creds_wipe(&c->creds);
    explicit_bzero(c->token, sizeof c->token);
    free(c);
}

const os_token_t *os_client_token(const os_client_t *self) { return &self->tok; }
const os_creds_t *os_client_creds(const os_client_t *self) { return &self->creds; }
void os_client_set_intr_fd(os_client_t *self, int fd) { os_http_set_intr_fd(self->http, fd); }

const char *os_client_endpoint(const os_client_t *self, const char *type)
{
    for (unsigned i = 0; i < self->tok.n_endpoints; i++)
        if (!strcmp(self->tok.endpoints[i].type, type))
            return self->tok.endpoints[i].url;
    return NULL;
}

/* ---- the token response ---------------------------------------------------------------------- */

static const char *s_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void s_copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* True when name is one of the ", "-separated words of list. */
static bool s_listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strstr(p, ", ");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, name, n))
            return true;
        if (!end)
            break;
        p = end + 2;
    }
    return false;
}

int os_token_parse(const char *body, size_t len, const char *interface, const char *region, os_token_t *out,
                   char *why, size_t cap)
{
    os_token_t *t = calloc(1, sizeof *t); /* out is untouched on failure */
    if (!t) {
        snprintf(why, cap, "out of memory");
        return -ENOMEM;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    json_t *tok = json_object_get(root, "token");
    int rc = 0;
    if (!json_is_object(tok)) {
        snprintf(why, cap, "the token answer is not a Keystone v3 token%s%s", root ? "" : ": ", root ? "" : jerr.text);
        rc = -EINVAL;
        goto out;
    }
    s_copy(t->user_id, sizeof t->user_id, s_str(json_object_get(tok, "user"), "id"));
    json_t *proj = json_object_get(tok, "project");
    s_copy(t->project_id, sizeof t->project_id, s_str(proj, "id"));
    s_copy(t->project_name, sizeof t->project_name, s_str(proj, "name"));
    json_t *roles = json_object_get(tok, "roles"), *r;
    size_t i;
    json_array_foreach(roles, i, r)
    {
        const char *name = s_str(r, "name");
        if (name && !strcmp(name, "admin"))
            t->admin = true;
    }
    json_t *cat = json_object_get(tok, "catalog"), *svc;
    size_t ro = 0;
    json_array_foreach(cat, i, svc)
    {
        const char *type = s_str(svc, "type");
        if (!type || strlen(type) >= sizeof t->endpoints[0].type || t->n_endpoints >= OS_MAX_ENDPOINTS)
            continue;
        json_t *eps = json_object_get(svc, "endpoints"), *ep;
        size_t k;
        json_array_foreach(eps, k, ep)
        {
            const char *itf = s_str(ep, "interface"), *url = s_str(ep, "url");
            const char *reg = s_str(ep, "region_id");
            if (!reg)
                reg = s_str(ep, "region");
            if (reg && ro < sizeof t->regions_seen && !s_listed(t->regions_seen, reg))
                ro += (size_t)snprintf(t->regions_seen + ro, sizeof t->regions_seen - ro, "%s%s", ro ? ", " : "", reg);
            if (!itf || !url || strcmp(itf, interface) != 0)
                continue;
            if (region && region[0] && (!reg || strcmp(reg, region) != 0))
                continue;
            if (strlen(url) >= sizeof t->endpoints[0].url)
                continue;
            os_endpoint_t *e = &t->endpoints[t->n_endpoints++];
            s_copy(e->type, sizeof e->type, type);
            s_copy(e->url, sizeof e->url, url);
            size_t n = strlen(e->url);
            while (n && e->url[n - 1] == '/')
                e->url[--n] = 0;
            break;
        }
    }
    if (!t->project_id[0]) {
        snprintf(why, cap, "the token is not scoped to a project");
        rc = -EINVAL;
    }
out:
    json_decref(root);
    if (rc == 0)
        *out = *t;
    free(t);
    return rc;
}

/* ---- auth ------------------------------------------------------------------------------------ */

static json_t *s_auth_body(const os_creds_t *c)
{
    json_t *identity;
    if (!strcmp(c->auth_type, "v3applicationcredential")) {
        json_t *ac = json_pack("{s:s}", "secret", c->app_cred_secret);
        if (c->app_cred_id[0]) {
            json_object_set_new(ac, "id", json_string(c->app_cred_id));
        } else {
            json_t *user = c->user_id[0] ? json_pack("{s:s}", "id", c->user_id) : json_pack("{s:s}", "name", c->username);
            if (!c->user_id[0])
                json_object_set_new(user, "domain",
                                    c->user_domain_id[0] ? json_pack("{s:s}", "id", c->user_domain_id)
                                                         : json_pack("{s:s}", "name", c->user_domain_name));
            json_object_set_new(ac, "name", json_string(c->app_cred_name));
            json_object_set_new(ac, "user", user);
        }
        identity = json_pack("{s:[s],s:o}", "methods", "application_credential", "application_credential", ac);
        return json_pack("{s:{s:o}}", "auth", "identity", identity);
    }
    json_t *user = c->user_id[0] ? json_pack("{s:s}", "id", c->user_id) : json_pack("{s:s}", "name", c->username);
    if (!c->user_id[0])
        json_object_set_new(user, "domain",
                            c->user_domain_id[0] ? json_pack("{s:s}", "id", c->user_domain_id)
                                                 : json_pack("{s:s}", "name", c->user_domain_name));
    json_object_set_new(user, "password", json_string(c->password));
    identity = json_pack("{s:[s],s:{s:o}}", "methods", "password", "password", "user", user);
    json_t *project = c->project_id[0] ? json_pack("{s:s}", "id", c->project_id)
                                       : json_pack("{s:s}", "name", c->project_name);
    if (!c->project_id[0])
        json_object_set_new(project, "domain",
                            c->project_domain_id[0] ? json_pack("{s:s}", "id", c->project_domain_id)
                                                    : json_pack("{s:s}", "name", c->project_domain_name));
    return json_pack("{s:{s:o,s:{s:o}}}", "auth", "identity", identity, "scope", "project", project);
}

int os_client_auth(os_client_t *self, char *why, size_t cap)
{
    json_t *body = s_auth_body(&self->creds);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        snprintf(why, cap, "out of memory");
        return -ENOMEM;
    }
    char url[700];
    snprintf(url, sizeof url, "%s/auth/tokens", self->identity);
    os_http_req_t req = {.method = "POST", .url = url, .body = text, .retry = OS_RETRY_503, .attempts = 3};
    os_http_resp_t resp;
    int rc = os_http_do(self->http, &req, &resp, why, cap);
    explicit_bzero(text, strlen(text));
    free(text);
    if (rc < 0)
        goto out;
    if (resp.status == 401 || resp.status == 403) {
        char d[900];
        os_http_describe(&req, &resp, d, sizeof d);
        snprintf(why, cap, "Keystone refused the credentials from %s: %s", self->creds.source, d);
        rc = -EACCES;
        goto out;
    }
    if (resp.status != 201 && resp.status != 200) {
        os_http_describe(&req, &resp, why, cap);
        rc = -EIO;
        goto out;
    }
    if (!resp.subject_token[0]) {
        snprintf(why, cap, "POST %s: no X-Subject-Token in Keystone's answer", url);
        rc = -EPROTO;
        goto out;
    }
    os_token_t t;
    char pwhy[300];
    if (os_token_parse(resp.body, resp.len, self->creds.interface, self->creds.region, &t, pwhy, sizeof pwhy) < 0) {
        snprintf(why, cap, "POST %s: %s", url, pwhy);
        rc = -EPROTO;
        goto out;
    }
    snprintf(self->token, sizeof self->token, "%s", resp.subject_token);
    self->tok = t;
    LOG_DEBUG("Keystone %s: token for project %s (%s)%s, %u endpoints (%s)", self->identity, t.project_name,
              t.project_id, t.admin ? " as admin" : "", t.n_endpoints, self->creds.interface);
out:
    explicit_bzero(resp.subject_token, sizeof resp.subject_token);
    os_http_resp_fini(&resp);
    return rc;
}

/* ---- calls ----------------------------------------------------------------------------------- */

/* 2.N of "2.N", or -1. */
static int s_minor(const char *v)
{
    char *end;
    if (!v || strncmp(v, "2.", 2) != 0)
        return -1;
    long n = strtol(v + 2, &end, 10);
    return *end || n < 0 || n > 1000 ? -1 : (int)n;
}

/* Asks Nova which microversions it has; picks S_NOVA_WANTED_MINOR or its highest below. */
static int s_nova_version(os_client_t *self, char *why, size_t cap)
{
    const char *base = os_client_endpoint(self, "compute");
    if (!base) {
        snprintf(why, cap, "no compute endpoint in the catalog");
        return -ENOENT;
    }
    os_http_req_t req = {.method = "GET", .url = base, .token = self->token, .retry = OS_RETRY_503};
    os_http_resp_t resp;
    int rc = os_http_do(self->http, &req, &resp, why, cap);
    if (rc == 0) {
        json_t *root = json_loadb(resp.body, resp.len, 0, NULL);
        json_t *ver = json_object_get(root, "version");
        int max = s_minor(s_str(ver, "version"));
        if (resp.status / 100 != 2 || max < 0) {
            self->nova_minor = 1; /* a cloud without microversions: 2.1 semantics */
        } else {
            self->nova_minor = max < S_NOVA_WANTED_MINOR ? max : S_NOVA_WANTED_MINOR;
        }
        LOG_DEBUG("Nova: microversion 2.%d (it has up to %s)", self->nova_minor, s_str(ver, "version") ? s_str(ver, "version") : "?");
        json_decref(root);
    }
    os_http_resp_fini(&resp);
    return rc;
}

int os_client_call(os_client_t *self, const char *type, const char *method, const char *path, json_t *body,
                   unsigned retry, long *status, json_t **out, char *why, size_t cap)
{
    *status = 0;
    if (out)
        *out = NULL;
    const char *base = os_client_endpoint(self, type);
    if (!base) {
        snprintf(why, cap, "no %s endpoint (interface %s%s%s) in the catalog", type, self->creds.interface,
                 self->creds.region[0] ? ", region " : "", self->creds.region);
        return -ENOENT;
    }
    if (!strcmp(type, "compute") && !self->nova_minor) {
        int rc = s_nova_version(self, why, cap);
        if (rc < 0)
            return rc;
    }
    char url[1500], mv1[64], mv2[64];
    snprintf(url, sizeof url, "%s%s", base, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text) {
        snprintf(why, cap, "out of memory");
        return -ENOMEM;
    }
    os_http_req_t req = {.method = method, .url = url, .token = self->token, .body = text, .retry = retry};
    if (!strcmp(type, "compute")) {
        snprintf(mv1, sizeof mv1, "OpenStack-API-Version: compute 2.%d", self->nova_minor);
        snprintf(mv2, sizeof mv2, "X-OpenStack-Nova-API-Version: 2.%d", self->nova_minor);
        req.headers[0] = mv1;
        req.headers[1] = mv2;
    }
    os_http_resp_t resp;
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        req.token = self->token;
        rc = os_http_do(self->http, &req, &resp, why, cap);
        if (rc < 0 || resp.status != 401 || attempt)
            break;
        LOG_DEBUG("%s %s: 401, the token expired or was revoked: authenticating again", method, url);
        os_http_resp_fini(&resp);
        rc = os_client_auth(self, why, cap);
        if (rc < 0)
            break;
    }
    free(text);
    if (rc < 0) {
        os_http_resp_fini(&resp);
        return rc;
    }
    *status = resp.status;
    if (resp.status / 100 != 2)
        os_http_describe(&req, &resp, why, cap);
    if (out && resp.len)
        *out = json_loadb(resp.body, resp.len, 0, NULL);
    os_http_resp_fini(&resp);
    return 0;
}

int os_client_json(os_client_t *self, const char *type, const char *method, const char *path, json_t *body,
                   unsigned retry, json_t **out, char *why, size_t cap)
{
    long status = 0;
    json_t *res = NULL;
    int rc = os_client_call(self, type, method, path, body, retry, &status, &res, why, cap);
    if (rc < 0)
        return rc;
    if (status / 100 == 2) {
        if (out)
            *out = res;
        else
            json_decref(res);
        return 0;
    }
    json_decref(res);
    if (out)
        *out = NULL;
    if (status == 404)
        return -ENOENT;
    if (status == 409)
        return -EEXIST;
    if (status == 401 || status == 403)
        return strcasestr(why, "quota") ? -EDQUOT : -EACCES;
    if (status == 413 || strcasestr(why, "quota") || strcasestr(why, "exceeded"))
        return -EDQUOT;
    return -EIO;
}

/* A file transfer (its body is a file, not JSON): any non-2xx answer is an error described in why. */
static int s_transfer(os_client_t *self, const os_http_req_t *req, char *why, size_t cap)
{
    os_http_resp_t resp;
    int rc = os_http_do(self->http, req, &resp, why, cap);
    if (rc == 0 && resp.status / 100 != 2) {
        os_http_describe(req, &resp, why, cap);
        rc = -EIO;
    }
    os_http_resp_fini(&resp);
    return rc;
}

int os_client_upload(os_client_t *self, const char *type, const char *path, const char *file, char *why, size_t cap)
{
    const char *base = os_client_endpoint(self, type);
    if (!base) {
        snprintf(why, cap, "no %s endpoint in the catalog", type);
        return -ENOENT;
    }
    char url[1500];
    snprintf(url, sizeof url, "%s%s", base, path);
    os_http_req_t req = {.method = "PUT", .url = url, .token = self->token, .upload_file = file,
                         .timeout_ns = 3600LL * 1000000000LL, .attempts = 1};
    return s_transfer(self, &req, why, cap);
}

int os_client_download(os_client_t *self, const char *url, const char *file, char *why, size_t cap)
{
    os_http_req_t req = {.method = "GET", .url = url, .download_file = file, .retry = OS_RETRY_503, .attempts = 3};
    int rc = s_transfer(self, &req, why, cap);
    if (rc < 0)
        unlink(file);
    return rc;
}
