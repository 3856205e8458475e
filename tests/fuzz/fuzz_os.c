/* fuzz_os.c — fuzz target for the OpenStack client's readers of outside bytes (STYLE rule 14):
 * the openrc parser, the clouds.yaml parser (cloud "c"), the ledger parser, Keystone v3 token
 * bodies (os_token_parse) and API error bodies (os_http_api_message, os_http_describe).
 *
 * Every input goes to all of them, not to one picked by a selector byte: the corpus then holds
 * the files as users and clouds write them (an openrc, a clouds.yaml, a ledger, a token), readable
 * and editable by hand, and all five read text, so what one mutation finds (quotes, braces, line
 * ends) serves the others. Besides "no crash under ASan/UBSan", each contract is checked, and a
 * broken one ends in abort() with a line on stderr saying which property failed:
 *  - every parser returns 0 or one of its documented errors, with a reason in why when it fails
 *    (starting with the name it was given, where the header promises "NAME:LINE: ...");
 *  - every string it fills is NUL-terminated inside its field;
 *  - an accepted ledger has valid kinds, at most as many live entries as entries, and accepts the
 *    same text followed by a torn last line (a crash in the middle of a write) with the same entries;
 *  - an accepted token is scoped to a project, has at most OS_MAX_ENDPOINTS endpoints, each with a
 *    type and a URL without a trailing slash;
 *  - an API message is shorter than its cap, has no ASCII control byte, and no leading, trailing
 *    or double space.
 * Built twice (tests/fuzz/CMakeLists.txt): with fuzz_main.c for the ctest corpus replay, and with
 * -fsanitize=fuzzer for libFuzzer when VMTP_FUZZ is ON. Seeds: corpus/os, the files written by hand
 * (openrc-*, clouds-*, ledger-*, token-*, err-*) and "found-*" inputs of a campaign that reach
 * edges those do not (kept by hand, a few dozen at most).
 */
#define FUZZ_TARGET "fuzz_os"
#include "fuzz_props.h"

#include "os_client.h"
#include "os_creds.h"
#include "os_http.h"
#include "os_ledger.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static os_token_t s_tok; /* 20 KiB: not on the stack */

/* A failure's reason: there, and starting with name when name is given. */
static void s_why(const char *what, int rc, const char *why, size_t cap, const char *name)
{
    if (!memchr(why, 0, cap))
        fuzz_fail("%s: why is not NUL-terminated", what);
    if (!why[0])
        fuzz_fail("%s failed (%d) without saying why", what, rc);
    if (name && strncmp(why, name, strlen(name)) != 0)
        fuzz_fail("%s failed (%d) without naming its input: %s", what, rc, why);
}

static void s_creds_terminated(const char *what, const os_creds_t *c)
{
    FUZZ_TERMINATED(what, c->auth_url);
    FUZZ_TERMINATED(what, c->auth_type);
    FUZZ_TERMINATED(what, c->username);
    FUZZ_TERMINATED(what, c->user_id);
    FUZZ_TERMINATED(what, c->password);
    FUZZ_TERMINATED(what, c->user_domain_name);
    FUZZ_TERMINATED(what, c->user_domain_id);
    FUZZ_TERMINATED(what, c->project_name);
    FUZZ_TERMINATED(what, c->project_id);
    FUZZ_TERMINATED(what, c->project_domain_name);
    FUZZ_TERMINATED(what, c->project_domain_id);
    FUZZ_TERMINATED(what, c->app_cred_id);
    FUZZ_TERMINATED(what, c->app_cred_name);
    FUZZ_TERMINATED(what, c->app_cred_secret);
    FUZZ_TERMINATED(what, c->region);
    FUZZ_TERMINATED(what, c->interface);
    FUZZ_TERMINATED(what, c->cacert);
    FUZZ_TERMINATED(what, c->source);
}

static void s_openrc(const char *text, size_t len)
{
    os_creds_t c;
    char why[400];
    memset(&c, 0, sizeof c);
    memset(why, 0, sizeof why);
    int rc = os_creds_from_openrc_string("f.rc", text, len, &c, why, sizeof why);
    if (rc != 0 && rc != -EINVAL)
        fuzz_fail("openrc: returned %d", rc);
    if (rc)
        s_why("openrc", rc, why, sizeof why, "f.rc");
    else if (strcmp(c.source, "openrc f.rc") != 0)
        fuzz_fail("openrc: accepted, source '%s'", c.source);
    s_creds_terminated("openrc", &c);
    if (!rc) { /* what an accepted file gives goes through the check: it must not crash either */
        rc = os_creds_check(&c, why, sizeof why);
        if (rc)
            s_why("os_creds_check", rc, why, sizeof why, NULL);
        s_creds_terminated("os_creds_check", &c);
    }
}

static void s_clouds(const char *text, size_t len)
{
    os_creds_t c;
    char why[600];
    memset(&c, 0, sizeof c);
    memset(why, 0, sizeof why);
    int rc = os_creds_from_clouds_yaml_string("f.yaml", text, len, "c", &c, why, sizeof why);
    if (rc != 0 && rc != -EINVAL && rc != -ENOENT && rc != -ENOMEM)
        fuzz_fail("clouds.yaml: returned %d", rc);
    if (rc)
        s_why("clouds.yaml", rc, why, sizeof why, rc == -ENOMEM ? NULL : "f.yaml");
    s_creds_terminated("clouds.yaml", &c);
}

/* Parses text as ledger "f.jsonl"; returns its rc and leaves the entries in *out (caller closes). */
static int s_ledger_parse(const char *text, size_t len, os_ledger_t **out)
{
    char why[300];
    memset(why, 0, sizeof why);
    os_ledger_t *l = os_ledger_new_mem();
    if (!l)
        return -ENOMEM;
    int rc = os_ledger_parse(l, "f.jsonl", text, len, why, sizeof why);
    if (rc != 0 && rc != -EINVAL && rc != -E2BIG && rc != -ENOMEM)
        fuzz_fail("ledger: returned %d", rc);
    if (rc)
        s_why("ledger", rc, why, sizeof why, "f.jsonl");
    *out = l;
    return rc;
}

static void s_ledger(const char *text, size_t len)
{
    os_ledger_t *l = NULL;
    int rc = s_ledger_parse(text, len, &l);
    if (rc) {
        os_ledger_close(&l);
        return;
    }
    unsigned n = os_ledger_count(l);
    if (os_ledger_live(l) > n)
        fuzz_fail("ledger: %u live of %u entries", os_ledger_live(l), n);
    if (os_ledger_entry(l, n) != NULL)
        fuzz_fail("ledger: an entry past the end");
    for (unsigned i = 0; i < n; i++) {
        const os_ledger_entry_t *e = os_ledger_entry(l, i);
        if (!e || (unsigned)e->kind >= OS_RES_N)
            fuzz_fail("ledger: entry %u has no valid kind", i);
        FUZZ_TERMINATED("ledger", e->id);
        FUZZ_TERMINATED("ledger", e->name);
        FUZZ_TERMINATED("ledger", e->parent);
    }
    /* a crash tears the next record: the ledger must read the same */
    static const char torn[] = "{\"op\":\"create\",\"kind\":\"ser";
    if (len && text[len - 1] == '\n') {
        char *t = malloc(len + sizeof torn - 1);
        if (t) {
            memcpy(t, text, len);
            memcpy(t + len, torn, sizeof torn - 1);
            os_ledger_t *l2 = NULL;
            int rc2 = s_ledger_parse(t, len + sizeof torn - 1, &l2);
            if (rc2 != 0 || os_ledger_count(l2) != n || os_ledger_live(l2) != os_ledger_live(l))
                fuzz_fail("ledger: accepted, but not with a torn last line after it (%d)", rc2);
            os_ledger_close(&l2);
            free(t);
        }
    }
    os_ledger_close(&l);
}

static void s_token(const char *text, size_t len, const char *interface, const char *region)
{
    char why[300];
    memset(why, 0, sizeof why);
    int rc = os_token_parse(text, len, interface, region, &s_tok, why, sizeof why);
    if (rc != 0 && rc != -EINVAL)
        fuzz_fail("token: returned %d", rc);
    if (rc) {
        s_why("token", rc, why, sizeof why, NULL);
        return;
    }
    if (!s_tok.project_id[0])
        fuzz_fail("token: accepted without a project");
    if (s_tok.n_endpoints > OS_MAX_ENDPOINTS)
        fuzz_fail("token: %u endpoints", s_tok.n_endpoints);
    FUZZ_TERMINATED("token", s_tok.user_id);
    FUZZ_TERMINATED("token", s_tok.project_id);
    FUZZ_TERMINATED("token", s_tok.project_name);
    FUZZ_TERMINATED("token", s_tok.regions_seen);
    for (unsigned i = 0; i < s_tok.n_endpoints; i++) {
        const os_endpoint_t *e = &s_tok.endpoints[i];
        FUZZ_TERMINATED("token", e->type);
        FUZZ_TERMINATED("token", e->url);
        size_t n = strlen(e->url);
        if (!e->type[0] || (n && e->url[n - 1] == '/'))
            fuzz_fail("token: endpoint %u: type '%s' url '%s'", i, e->type, e->url);
    }
}

static void s_message(const char *body, size_t len, size_t cap)
{
    char out[700];
    memset(out, 'Z', sizeof out);
    const char *r = os_http_api_message(body, len, out, cap);
    if (r != out)
        fuzz_fail("api message: returned another buffer");
    size_t n = strnlen(out, cap);
    if (n >= cap)
        fuzz_fail("api message: %zu bytes and no NUL in a cap of %zu", n, cap);
    if (cap < sizeof out && out[cap] != 'Z')
        fuzz_fail("api message: wrote past its cap of %zu", cap);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)out[i];
        if (ch < 0x20 || ch == 0x7f)
            fuzz_fail("api message: control byte 0x%02x at %zu", ch, i);
        if (ch == ' ' && (i == 0 || i + 1 == n || out[i + 1] == ' '))
            fuzz_fail("api message: a space at %zu of %zu: '%s'", i, n, out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    s_openrc(text, size);
    s_clouds(text, size);
    s_ledger(text, size);
    s_token(text, size, "public", "");
    s_token(text, size, "internal", "RegionOne");
    s_message(text, size, 600);
    s_message(text, size, 1 + size % 64); /* a cap the input picks: cuts in every place */

    char body[64]; /* os_http_describe takes a NUL-terminated body of len bytes */
    size_t blen = size < sizeof body ? size : sizeof body - 1;
    memcpy(body, data, blen);
    body[blen] = 0;
    os_http_req_t req = {.method = "GET", .url = "http://k:5000/v3/auth/tokens"};
    os_http_resp_t resp = {.status = 503, .body = body, .len = blen};
    snprintf(resp.request_id, sizeof resp.request_id, "req-1");
    char d[120];
    os_http_describe(&req, &resp, d, sizeof d);
    if (!memchr(d, 0, sizeof d) || strncmp(d, "GET http://k:5000/v3/auth/tokens: HTTP 503", 42) != 0)
        fuzz_fail("describe: '%.120s'", d);
    return 0;
}
