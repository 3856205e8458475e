/* os_http.c — libcurl (multi interface) requests with bounded times, an interrupt fd and retries. */
#include "os_http.h"

#include "textutil.h"

#include "vmtp/clock.h"
#include "vmtp/log.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct os_http {
    os_http_cfg_t cfg; /* cacert not owned */
    CURLM *multi;
    CURL *easy;
};

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static CURLcode s_global_rc = CURLE_OK;

static void s_global_init(void) { s_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

os_http_t *os_http_new(const os_http_cfg_t *cfg, int *err)
{
    pthread_once(&s_once, s_global_init);
    if (s_global_rc != CURLE_OK) {
        *err = -EIO;
        return NULL;
    }
    os_http_t *h = calloc(1, sizeof *h);
    if (!h) {
        *err = -ENOMEM;
        return NULL;
    }
    h->cfg = *cfg;
    if (!h->cfg.connect_timeout_ns)
        h->cfg.connect_timeout_ns = 10 * VMTP_NS_PER_S;
    if (!h->cfg.request_timeout_ns)
        h->cfg.request_timeout_ns = 60 * VMTP_NS_PER_S;
    h->multi = curl_multi_init();
    h->easy = curl_easy_init();
    if (!h->multi || !h->easy) {
        os_http_destroy(&h);
        *err = -ENOMEM;
        return NULL;
    }
    return h;
}

void os_http_destroy(os_http_t **self)
{
    if (!self || !*self)
        return;
    os_http_t *h = *self;
    *self = NULL;
    if (h->easy)
        curl_easy_cleanup(h->easy);
    if (h->multi)
        curl_multi_cleanup(h->multi);
    free(h);
}

void os_http_set_intr_fd(os_http_t *self, int fd) { self->cfg.intr_fd = fd; }

void os_http_resp_fini(os_http_resp_t *resp)
{
    if (!resp)
        return;
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

/* ---- callbacks ------------------------------------------------------------------------------ */

typedef struct {
    os_http_resp_t *resp;
    size_t cap;
    bool too_big;
    CURL *easy; /* to ask the status before writing to file */
    FILE *file; /* download target, or NULL */
    bool file_failed;
} s_sink_t;

static size_t s_on_body(char *p, size_t size, size_t n, void *arg)
{
    s_sink_t *s = arg;
    os_http_resp_t *r = s->resp;
    size_t len = size * n;
    long status = 0;
    if (s->file && curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status / 100 == 2) {
        if (fwrite(p, 1, len, s->file) != len) {
            s->file_failed = true;
            return 0;
        }
        return len;
    }
    if (r->len + len + 1 > OS_HTTP_MAX_BODY) {
        s->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (r->len + len + 1 > s->cap) {
        size_t ncap = s->cap ? s->cap : 4096;
        while (ncap < r->len + len + 1)
            ncap *= 2;
        char *b = realloc(r->body, ncap);
        if (!b)
            return 0;
        r->body = b;
        s->cap = ncap;
    }
    memcpy(r->body + r->len, p, len);
    r->len += len;
    r->body[r->len] = 0;
    return len;
}

/* Copies a header's value (trimmed) when its name is name. */
static bool s_header(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return false;
    const char *v = line + nl + 1;
    size_t vl = len - nl - 1;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    if (vl >= cap)
        vl = cap - 1;
    memcpy(out, v, vl);
    out[vl] = 0;
    return true;
}

static size_t s_on_header(char *p, size_t size, size_t n, void *arg)
{
    os_http_resp_t *r = arg;
    size_t len = size * n;
    if (!s_header(p, len, "X-Subject-Token", r->subject_token, sizeof r->subject_token) &&
        !s_header(p, len, "Location", r->location, sizeof r->location) &&
        !s_header(p, len, "x-openstack-request-id", r->request_id, sizeof r->request_id))
        s_header(p, len, "x-compute-request-id", r->request_id, sizeof r->request_id);
    return len;
}

/* ---- one attempt ---------------------------------------------------------------------------- */

static bool s_intr(int fd)
{
    if (fd < 0)
        return false;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

/* Waits ms milliseconds unless the interrupt fd fires first (-EINTR). */
static int s_pause(const os_http_t *h, long ms)
{
    struct pollfd p = {.fd = h->cfg.intr_fd, .events = POLLIN};
    if (h->cfg.intr_fd < 0)
        return poll(NULL, 0, (int)ms) < 0 && errno != EINTR ? -errno : 0;
    int rc = poll(&p, 1, (int)ms);
    return rc > 0 ? -EINTR : 0;
}

static int s_attempt(os_http_t *h, const os_http_req_t *req, os_http_resp_t *resp, char *why, size_t cap)
{
    CURL *e = h->easy;
    curl_easy_reset(e);
    os_http_resp_fini(resp);
    if (s_intr(h->cfg.intr_fd)) { /* a signal already came: nothing new is sent (it could create something) */
        snprintf(why, cap, "%s %s: interrupted", req->method, req->url);
        return -EINTR;
    }
    s_sink_t sink = {.resp = resp, .easy = e};
    struct curl_slist *hdrs = NULL;
    FILE *up = NULL;
    int rc = 0;
    char line[1200] = "";
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "User-Agent: vmtp/" VMTP_VERSION);
    if (req->token) {
        snprintf(line, sizeof line, "X-Auth-Token: %s", req->token);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (req->body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (req->upload_file)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
    for (unsigned i = 0; i < 4 && req->headers[i]; i++)
        hdrs = curl_slist_append(hdrs, req->headers[i]);
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    if (!hdrs) {
        snprintf(why, cap, "out of memory");
        return -ENOMEM;
    }
    int64_t timeout = req->timeout_ns ? req->timeout_ns : h->cfg.request_timeout_ns;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(h->cfg.connect_timeout_ns / VMTP_NS_PER_MS));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout / VMTP_NS_PER_MS));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, resp);
    if (h->cfg.cacert && h->cfg.cacert[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, h->cfg.cacert);
    if (h->cfg.insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (req->download_file) {
        int fd = open(req->download_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        sink.file = fd >= 0 ? fdopen(fd, "wb") : NULL;
        if (!sink.file) {
            rc = -errno;
            snprintf(why, cap, "cannot create %s: %s", req->download_file, strerror(errno));
            if (fd >= 0)
                close(fd);
            goto out;
        }
        /* an image may take long: no total bound, but a transfer stalled for a minute ends */
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 0L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    }
    if (req->upload_file) {
        up = fopen(req->upload_file, "rb");
        if (!up) {
            rc = -errno;
            snprintf(why, cap, "cannot open %s: %s", req->upload_file, strerror(errno));
            goto out;
        }
        fseeko(up, 0, SEEK_END);
        curl_off_t size = (curl_off_t)ftello(up);
        rewind(up);
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READDATA, up);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, size);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    } else if (!strcmp(req->method, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
        if (req->body) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(req->body));
        }
    }
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        snprintf(why, cap, "%s %s: cannot start the request", req->method, req->url);
        rc = -EIO;
        goto out;
    }
    int64_t t0 = clock_mono_ns();
    bool safe = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    CURLcode done = CURLE_OK;
    bool finished = false;
    while (!finished) {
        int running = 0;
        if (curl_multi_perform(h->multi, &running) != CURLM_OK) {
            done = CURLE_FAILED_INIT;
            break;
        }
        int left = 0;
        CURLMsg *m;
        while ((m = curl_multi_info_read(h->multi, &left)))
            if (m->msg == CURLMSG_DONE && m->easy_handle == e) {
                done = m->data.result;
                finished = true;
            }
        if (finished)
            break;
        /* A read is cut at once; a request that may create or change something runs to its answer
         * (bounded by its timeout), so that what it did is known and recorded: the next request
         * then sees the signal before it sends anything. */
        if (safe && s_intr(h->cfg.intr_fd)) {
            rc = -EINTR;
            snprintf(why, cap, "%s %s: interrupted", req->method, req->url);
            break;
        }
        struct curl_waitfd extra = {.fd = h->cfg.intr_fd, .events = CURL_WAIT_POLLIN};
        bool watch = safe && h->cfg.intr_fd >= 0;
        curl_multi_poll(h->multi, watch ? &extra : NULL, watch ? 1 : 0, 200, NULL);
    }
    curl_multi_remove_handle(h->multi, e);
    resp->seconds = (double)(clock_mono_ns() - t0) / 1e9;
    if (!resp->body) {
        resp->body = calloc(1, 1);
        if (!resp->body && !rc)
            rc = -ENOMEM;
    }
    if (rc)
        goto out;
    if (sink.file_failed) {
        rc = -EIO;
        snprintf(why, cap, "%s %s: cannot write %s", req->method, req->url, req->download_file);
    } else if (sink.too_big) {
        rc = -EMSGSIZE;
        snprintf(why, cap, "%s %s: the answer exceeds %u MiB", req->method, req->url, OS_HTTP_MAX_BODY >> 20);
    } else if (done != CURLE_OK) {
        rc = done == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : done == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO;
        snprintf(why, cap, "%s %s: %s", req->method, req->url, curl_easy_strerror(done));
    } else {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
    }
out:
    if (up)
        fclose(up);
    if (sink.file && fclose(sink.file) != 0 && !rc) {
        rc = -EIO;
        snprintf(why, cap, "cannot write %s", req->download_file);
    }
    curl_slist_free_all(hdrs);
    explicit_bzero(line, sizeof line); /* the token was in it */
    return rc;
}

int os_http_do(os_http_t *self, const os_http_req_t *req, os_http_resp_t *resp, char *why, size_t cap)
{
    unsigned attempts = req->attempts ? req->attempts : 5;
    long pause_ms = 1000;
    memset(resp, 0, sizeof *resp);
    why[0] = 0;
    for (unsigned a = 1;; a++) {
        int rc = s_attempt(self, req, resp, why, cap);
        if (rc == -EINTR)
            return rc;
        bool again = false;
        if (rc < 0)
            again = (req->retry & OS_RETRY_503) && rc != -EMSGSIZE && rc != -ENOMEM;
        else if (resp->status == 502 || resp->status == 503 || resp->status == 504)
            again = req->retry & OS_RETRY_503;
        else if (resp->status == 409)
            again = req->retry & OS_RETRY_409;
        if (!again || a >= attempts)
            return rc;
        LOG_DEBUG("%s %s: %s; again in %.0f s (attempt %u of %u)", req->method, req->url,
                  rc < 0                ? why
                  : resp->status == 409 ? "409 Conflict"
                                        : "service unavailable",
                  (double)pause_ms / 1e3, a + 1, attempts);
        if (s_pause(self, pause_ms) == -EINTR) {
            snprintf(why, cap, "%s %s: interrupted", req->method, req->url);
            return -EINTR;
        }
        if (pause_ms < 8000)
            pause_ms *= 2;
    }
}

/* ---- error messages ------------------------------------------------------------------------- */

/* The length of the valid UTF-8 character at p (at most n bytes) when it is printable (not a C1
 * control), else 0. */
static size_t s_utf8_len(const unsigned char *p, size_t n)
{
    uint32_t cp = 0;
    size_t len = text_utf8_char(p, n, &cp);
    return len && cp >= 0xa0 ? len : 0;
}

/* Printable text of s (at most n bytes): tags dropped, white space collapsed. */
static void s_plain(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    bool tag = false, space = true;
    for (size_t i = 0; i < n && s[i] && o + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '<') {
            tag = true;
            continue;
        }
        if (tag) {
            if (ch == '>') {
                tag = false;
                if (!space) {
                    out[o++] = ' ';
                    space = true;
                }
            }
            continue;
        }
        if (isspace(ch)) {
            if (!space) {
                out[o++] = ' ';
                space = true;
            }
            continue;
        }
        if (ch >= 0x80) { /* a whole, printable UTF-8 character, or '?' */
            size_t u = s_utf8_len((const unsigned char *)s + i, n - i);
            if (u && o + u < cap) {
                memcpy(out + o, s + i, u);
                o += u;
                i += u - 1;
            } else {
                out[o++] = '?';
            }
            space = false;
            continue;
        }
        out[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
        space = false;
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = 0;
}

/* A "message" (or Placement's "detail", or "title") string in object o. */
static const char *s_message_of(json_t *o)
{
    static const char *const keys[] = {"message", "detail", "faultstring", "title"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        json_t *v = json_object_get(o, keys[k]);
        if (json_is_string(v) && json_string_length(v))
            return json_string_value(v);
    }
    return NULL;
}

const char *os_http_api_message(const char *body, size_t len, char *out, size_t cap)
{
    if (!cap)
        return out;
    out[0] = 0;
    if (!body || !len)
        return out;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
    const char *msg = NULL;
    if (json_is_object(root)) {
        msg = s_message_of(root);
        const char *k;
        json_t *v;
        json_object_foreach(root, k, v)
        {
            if (msg)
                break;
            if (json_is_object(v))
                msg = s_message_of(v);
            else if (json_is_array(v) && json_is_object(json_array_get(v, 0))) /* Placement: errors[] */
                msg = s_message_of(json_array_get(v, 0));
        }
    } else if (json_is_string(root)) {
        msg = json_string_value(root);
    }
    if (msg)
        s_plain(msg, strlen(msg), out, cap);
    else if (!root)
        s_plain(body, len < 2000 ? len : 2000, out, cap); /* text or HTML (Glance, a proxy) */
    json_decref(root);
    return out;
}

void os_http_describe(const os_http_req_t *req, const os_http_resp_t *resp, char *out, size_t cap)
{
    char msg[600];
    os_http_api_message(resp->body, resp->len, msg, sizeof msg);
    snprintf(out, cap, "%s %s: HTTP %ld%s%s%s%s%s", req->method, req->url, resp->status, msg[0] ? ": " : "", msg,
             resp->request_id[0] ? " (request " : "", resp->request_id, resp->request_id[0] ? ")" : "");
}
