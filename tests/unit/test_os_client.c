/* test_os_client.c — the OpenStack client's token life against a fake cloud on loopback: Keystone
 * (POST /v3/auth/tokens) and one service, served by a thread of this test. A real cloud cannot be
 * made to revoke a token on cue (its services cache a validated token for minutes), so what
 * os_client does with a 401 is checked here:
 *  - a service's 401 (token expired or revoked) makes one new authentication, then the same
 *    request again, with the same body and the new token;
 *  - a 401 that a fresh token does not cure ends the call (no loop): one re-authentication only;
 *  - when Keystone then refuses the credentials, the call fails with Keystone's own words;
 *  - no request ever carries a token after Keystone stopped issuing it.
 * And the password prompt on a terminal (a pseudo-terminal of this test): a password typed the
 * moment the prompt shows is read whole and not echoed (echo goes off before the prompt is written).
 */
#include "check.h"
#include "os_client.h"
#include "os_creds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The fake cloud: what it does (set by the test between calls) and what it saw. */
typedef struct {
    int lfd;
    uint16_t port;
    pthread_t th;
    pthread_mutex_t mu;
    /* behaviour */
    int valid_from;        /* the service accepts tok-N for N >= valid_from, answers 401 below */
    bool keystone_refuses; /* POST /v3/auth/tokens answers 401 */
    /* observations */
    int issued; /* tokens issued: tok-1 .. tok-issued */
    int auths, calls;
    char last_token[32], last_method[8], last_path[128], last_body[256];
} s_fake_t;

static s_fake_t s_fake;

/* The token body: a project-scoped token whose catalog sends "network" to this fake. */
static char *s_token_body(void)
{
    char net[64], id[64];
    snprintf(net, sizeof net, "http://127.0.0.1:%u/net", s_fake.port);
    snprintf(id, sizeof id, "http://127.0.0.1:%u/v3", s_fake.port);
    json_t *root = json_pack(
        "{s:{s:[s],s:{s:s,s:s,s:{s:s,s:s}},s:{s:s,s:s,s:{s:s,s:s}},s:[{s:s,s:s}],s:s,s:[{s:s,s:[{s:s,s:s,s:s}]},"
        "{s:s,s:[{s:s,s:s,s:s}]}]}}",
        "token", "methods", "password", "user", "id", "u-1", "name", "admin", "domain", "id", "default", "name",
        "Default", "project", "id", "p-1", "name", "admin", "domain", "id", "default", "name", "Default", "roles", "id",
        "r-1", "name", "admin", "expires_at", "2099-01-01T00:00:00.000000Z", "catalog", "type", "network", "endpoints",
        "interface", "public", "region_id", "RegionOne", "url", net, "type", "identity", "endpoints", "interface",
        "public", "region_id", "RegionOne", "url", id);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return text;
}

static void s_answer(int fd, int status, const char *extra_header, const char *body)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: "
                     "close\r\n%s\r\n",
                     status, strlen(body), extra_header);
    if (write(fd, head, (size_t)n) != n || write(fd, body, strlen(body)) != (ssize_t)strlen(body))
        fprintf(stderr, "fake cloud: short write\n");
}

/* One connection, one request (every answer closes it). */
static void s_serve_one(int fd)
{
    char req[16384];
    size_t len = 0;
    char *end = NULL;
    while (!end && len + 1 < sizeof req) {
        ssize_t r = read(fd, req + len, sizeof req - 1 - len);
        if (r <= 0)
            return;
        len += (size_t)r;
        req[len] = 0;
        end = strstr(req, "\r\n\r\n");
    }
    if (!end)
        return;
    size_t clen = 0, hlen = (size_t)(end + 4 - req);
    char token[32] = "", method[8] = "", path[128] = "";
    if (sscanf(req, "%7s %127s", method, path) != 2)
        return;
    for (char *line = strstr(req, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        if (!strncasecmp(line + 2, "Content-Length:", 15))
            clen = strtoul(line + 17, NULL, 10);
        else if (!strncasecmp(line + 2, "X-Auth-Token:", 13))
            sscanf(line + 15, "%31s", token);
    }
    while (len < hlen + clen && len + 1 < sizeof req) {
        ssize_t r = read(fd, req + len, sizeof req - 1 - len);
        if (r <= 0)
            return;
        len += (size_t)r;
        req[len] = 0;
    }
    const char *body = req + hlen;
    pthread_mutex_lock(&s_fake.mu);
    if (!strcmp(method, "POST") && !strcmp(path, "/v3/auth/tokens")) {
        s_fake.auths++;
        if (s_fake.keystone_refuses) {
            pthread_mutex_unlock(&s_fake.mu);
            s_answer(fd, 401, "",
                     "{\"error\": {\"code\": 401, \"message\": \"The password is expired and needs to be changed for "
                     "user: u-1.\", \"title\": \"Unauthorized\"}}");
            return;
        }
        char hdr[64];
        snprintf(hdr, sizeof hdr, "X-Subject-Token: tok-%d\r\n", ++s_fake.issued);
        pthread_mutex_unlock(&s_fake.mu);
        char *tb = s_token_body();
        s_answer(fd, 201, hdr, tb ? tb : "{}");
        free(tb);
        return;
    }
    s_fake.calls++;
    snprintf(s_fake.last_token, sizeof s_fake.last_token, "%s", token);
    snprintf(s_fake.last_method, sizeof s_fake.last_method, "%s", method);
    snprintf(s_fake.last_path, sizeof s_fake.last_path, "%s", path);
    snprintf(s_fake.last_body, sizeof s_fake.last_body, "%.*s", (int)clen, body);
    int n = strncmp(token, "tok-", 4) ? 0 : atoi(token + 4);
    bool valid = n >= s_fake.valid_from && n <= s_fake.issued;
    pthread_mutex_unlock(&s_fake.mu);
    if (!valid)
        s_answer(fd, 401, "",
                 "{\"error\": {\"code\": 401, \"title\": \"Unauthorized\", \"message\": \"The request you have made "
                 "requires authentication.\"}}");
    else if (!strcmp(method, "POST"))
        s_answer(fd, 201, "", "{\"network\": {\"id\": \"n-1\", \"name\": \"x\"}}");
    else
        s_answer(fd, 200, "", "{\"networks\": []}");
}

static void *s_serve(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(s_fake.lfd, NULL, NULL);
        if (fd < 0)
            return NULL; /* the listening socket was shut down: the test is over */
        s_serve_one(fd);
        close(fd);
    }
}

static int s_fake_start(void)
{
    pthread_mutex_init(&s_fake.mu, NULL);
    s_fake.valid_from = 1;
    s_fake.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (s_fake.lfd < 0 || bind(s_fake.lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s_fake.lfd, 16) < 0 ||
        getsockname(s_fake.lfd, (struct sockaddr *)&a, &al) < 0)
        return -errno;
    s_fake.port = ntohs(a.sin_port);
    return -pthread_create(&s_fake.th, NULL, s_serve, NULL);
}

static void s_fake_stop(void)
{
    shutdown(s_fake.lfd, SHUT_RDWR);
    pthread_join(s_fake.th, NULL);
    close(s_fake.lfd);
    pthread_mutex_destroy(&s_fake.mu);
}

/* What the fake saw, read under its lock. */
static void s_seen(int *auths, int *calls, char token[32], char body[256])
{
    pthread_mutex_lock(&s_fake.mu);
    *auths = s_fake.auths;
    *calls = s_fake.calls;
    memcpy(token, s_fake.last_token, 32);
    memcpy(body, s_fake.last_body, 256);
    pthread_mutex_unlock(&s_fake.mu);
}

static void s_set(int valid_from, bool keystone_refuses)
{
    pthread_mutex_lock(&s_fake.mu);
    s_fake.valid_from = valid_from;
    s_fake.keystone_refuses = keystone_refuses;
    pthread_mutex_unlock(&s_fake.mu);
}

static void t_token_life(void)
{
    char rc_text[600], why[600] = "";
    snprintf(rc_text, sizeof rc_text,
             "export OS_AUTH_URL=http://127.0.0.1:%u/v3\nexport OS_USERNAME=admin\nexport OS_PASSWORD=secret\n"
             "export OS_PROJECT_NAME=admin\nexport OS_USER_DOMAIN_NAME=Default\nexport OS_PROJECT_DOMAIN_NAME=Default\n"
             "export OS_REGION_NAME=RegionOne\n",
             s_fake.port);
    os_creds_t creds = {0};
    int rc = os_creds_from_openrc_string("fake-openrc", rc_text, strlen(rc_text), &creds, why, sizeof why);
    CHECK(rc == 0 && os_creds_check(&creds, why, sizeof why) == 0, "creds: %s", why);
    int err = 0;
    os_client_t *cl = os_client_new(&creds, -1, &err);
    os_creds_wipe(&creds);
    CHECK(cl != NULL, "os_client_new: %d", err);
    if (!cl)
        return;
    int auths, calls;
    char token[32], body[256];

    rc = os_client_auth(cl, why, sizeof why);
    CHECK(rc == 0, "auth: %s", why);
    CHECK(os_client_endpoint(cl, "network") != NULL, "network endpoint from the fake catalog");
    json_t *out = NULL;
    rc = os_client_json(cl, "network", "GET", "/v2.0/networks", NULL, OS_RETRY_503, &out, why, sizeof why);
    json_decref(out);
    s_seen(&auths, &calls, token, body);
    CHECK(rc == 0 && auths == 1 && calls == 1 && !strcmp(token, "tok-1"), "plain call: %d %d %d %s %s", rc, auths,
          calls, token, why);

    /* tok-1 revoked: one 401, a new token, the same request again (a create: same body) */
    s_set(2, false);
    json_t *req = json_pack("{s:{s:s}}", "network", "name", "vmtp-abcdef0-net");
    out = NULL;
    rc = os_client_json(cl, "network", "POST", "/v2.0/networks", req, OS_RETRY_NONE, &out, why, sizeof why);
    const char *got = json_string_value(json_object_get(json_object_get(out, "network"), "id"));
    CHECK(rc == 0 && got && !strcmp(got, "n-1"), "the create went through after the re-auth: %d %s", rc, why);
    json_decref(out);
    s_seen(&auths, &calls, token, body);
    CHECK_EQ_U64((uint64_t)auths, 2, "one new authentication");
    CHECK_EQ_U64((uint64_t)calls, 3, "the 401'd request and its repeat");
    CHECK(!strcmp(token, "tok-2"), "the repeat carries the new token: %s", token);
    char *sent = json_dumps(req, JSON_COMPACT);
    CHECK(sent && !strcmp(body, sent), "the repeat carries the same body: '%s' vs '%s'", body, sent ? sent : "");
    free(sent);
    json_decref(req);

    /* later calls keep the new token (no authentication per call) */
    rc = os_client_json(cl, "network", "GET", "/v2.0/networks", NULL, OS_RETRY_503, NULL, why, sizeof why);
    s_seen(&auths, &calls, token, body);
    CHECK(rc == 0 && auths == 2 && calls == 4 && !strcmp(token, "tok-2"), "token kept: %d %d %d %s", rc, auths, calls,
          token);

    /* a 401 a new token does not cure (every token refused): one re-auth, then the error, no loop */
    s_set(1000, false);
    rc = os_client_json(cl, "network", "GET", "/v2.0/networks", NULL, OS_RETRY_503, NULL, why, sizeof why);
    s_seen(&auths, &calls, token, body);
    CHECK(rc == -EACCES, "a lasting 401 is an error: %d", rc);
    CHECK(strstr(why, "401") && strstr(why, "requires authentication"), "the service's words: %s", why);
    CHECK(auths == 3 && calls == 6, "one re-auth, two tries: %d auths, %d calls", auths, calls);

    /* Keystone refuses too (the password was changed): the call fails with Keystone's words */
    s_set(1000, true);
    rc = os_client_json(cl, "network", "GET", "/v2.0/networks", NULL, OS_RETRY_503, NULL, why, sizeof why);
    s_seen(&auths, &calls, token, body);
    CHECK(rc == -EACCES, "refused re-auth: %d", rc);
    CHECK(strstr(why, "Keystone refused the credentials from openrc fake-openrc") && strstr(why, "password is expired"),
          "Keystone's words: %s", why);
    CHECK(auths == 4 && calls == 7, "no request after the refusal: %d auths, %d calls", auths, calls);
    os_client_destroy(&cl);
}

/* The prompt on a pseudo-terminal: the password is typed as soon as the prompt is seen. */
static void t_prompt(void)
{
    int mfd = -1;
    pid_t pid = forkpty(&mfd, NULL, NULL, NULL);
    CHECK(pid >= 0, "forkpty: %s", strerror(errno));
    if (pid < 0)
        return;
    if (pid == 0) {
        os_creds_t c = {0};
        snprintf(c.username, sizeof c.username, "alice");
        snprintf(c.auth_url, sizeof c.auth_url, "http://keystone.example:5000/v3");
        int rc = os_creds_prompt_password(&c);
        _exit(rc == 0 && !strcmp(c.password, "pw typed-at-once") ? 0 : 3);
    }
    char shown[4096];
    size_t n = 0;
    bool typed = false;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = {.fd = mfd, .events = POLLIN};
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 20) /* a lost password leaves the child reading for ever */
            break;
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t r = read(mfd, shown + n, sizeof shown - 1 - n);
        if (r <= 0) /* EIO: the child is gone and the terminal closed */
            break;
        n += (size_t)r;
        shown[n] = 0;
        if (!typed && strstr(shown, "OpenStack password for alice@http://keystone.example:5000/v3: ")) {
            typed = write(mfd, "pw typed-at-once\n", 17) == 17;
            CHECK(typed, "typing the password");
        }
    }
    int st = 0;
    pid_t done = 0;
    for (int i = 0; i < 500 && (done = waitpid(pid, &st, WNOHANG)) == 0; i++) /* the terminal closes before the */
        usleep(10000);                                                        /* child can be waited for */
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        CHECK(false, "the prompt still waits: the password typed at once was lost");
    } else {
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the password read is not what was typed (status %d)", st);
    }
    shown[n] = 0;
    CHECK(typed, "no prompt shown: '%s'", shown);
    CHECK(!strstr(shown, "typed-at-once"), "the password was echoed: '%s'", shown);
    close(mfd);
}

int main(void)
{
    int rc = s_fake_start();
    if (rc < 0) {
        fprintf(stderr, "test_os_client: cannot start the fake cloud: %s\n", strerror(-rc));
        return 1;
    }
    t_token_life();
    s_fake_stop();
    t_prompt();
    return check_exit("test_os_client");
}
