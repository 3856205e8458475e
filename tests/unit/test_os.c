/* test_os.c — the OpenStack client's readers of outside text, with exact expected values: openrc,
 * clouds.yaml and OS_* credentials and their check (os_creds), the run ledger on disk (os_ledger),
 * API error messages (os_http), Keystone v3 token bodies (os_client) and run ids in resource names
 * (os_strays). No network: every input is written here; files go to a mkdtemp folder.
 */
#include "check.h"
#include "os_client.h"
#include "os_creds.h"
#include "os_http.h"
#include "os_ledger.h"
#include "os_strays.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Exact string equality, both strings in the message. */
#define CHECK_STR(actual, expected)                                                                                    \
    do {                                                                                                               \
        const char *s_a_ = (actual), *s_e_ = (expected);                                                               \
        CHECK(!strcmp(s_a_, s_e_), "%s: got '%s', expected '%s'", #actual, s_a_, s_e_);                                \
    } while (0)

static char s_tmp[256]; /* the test's own folder (mkdtemp) */

/* Writes text to the file at path (created 0600, truncated). */
static void s_write(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot create %s", path);
    if (!f)
        return;
    CHECK(fwrite(text, 1, len, f) == len && fclose(f) == 0, "cannot write %s", path);
}

/* "DIR/name" of the test folder. */
static const char *s_path(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", s_tmp, name);
    return p;
}

/* ---- openrc ------------------------------------------------------------------------------------ */

static int s_openrc(const char *text, os_creds_t *c, char *why, size_t cap)
{
    memset(c, 0, sizeof *c);
    snprintf(why, cap, "(untouched)");
    return os_creds_from_openrc_string("t.rc", text, strlen(text), c, why, cap);
}

/* Expects text refused with exactly that message. */
static void s_openrc_bad(const char *text, const char *expected)
{
    os_creds_t c;
    char why[400];
    int rc = s_openrc(text, &c, why, sizeof why);
    CHECK(rc == -EINVAL, "accepted (%d): %s", rc, text);
    CHECK(!strcmp(why, expected), "why: got '%s', expected '%s'", why, expected);
}

static void t_openrc(void)
{
    os_creds_t c;
    char why[400];
    static const char *const rc_text = "#!/usr/bin/env bash\n"
                                       "# a comment, then a blank line and an indented comment\n"
                                       "\n"
                                       "   # export OS_REGION_NAME=commented-out\n"
                                       "export OS_AUTH_URL=http://10.1.2.3:5000/v3\n"
                                       "OS_USERNAME='alice smith'\n"
                                       "export OS_PASSWORD=\"p\\\"a\\\\s\\$s\\`w\\n\"\n"
                                       "MYDOM=Corp\n"
                                       "export\tOS_USER_DOMAIN_NAME=$MYDOM\n"
                                       "export OS_PROJECT_DOMAIN_NAME=\"${MYDOM}-projects\"\n"
                                       "export OS_PROJECT_NAME=demo # the project\n"
                                       "export OS_REGION_NAME=\"Region\"'One'\n"
                                       "  export OS_CACERT=/etc/ssl/ca\\ bundle.pem;  \n"
                                       "export OS_INTERFACE=internal\r\n"
                                       "export OS_INSECURE=true\n"
                                       "export OS_PROJECT_ID=$NEVER_SET\n"
                                       "echo \"Sourced $OS_USERNAME\"\n"
                                       "export OS_IDENTITY_API_VERSION=3";
    int rc = s_openrc(rc_text, &c, why, sizeof why);
    CHECK(rc == 0, "openrc refused (%d): %s", rc, why);
    CHECK_STR(c.auth_url, "http://10.1.2.3:5000/v3");
    CHECK_STR(c.username, "alice smith");
    CHECK_STR(c.password, "p\"a\\s$s`w\\n"); /* \n is no escape in double quotes: both bytes stay */
    CHECK_STR(c.user_domain_name, "Corp");
    CHECK_STR(c.project_domain_name, "Corp-projects");
    CHECK_STR(c.project_name, "demo");
    CHECK_STR(c.region, "RegionOne");
    CHECK_STR(c.cacert, "/etc/ssl/ca bundle.pem");
    CHECK_STR(c.interface, "internal");
    CHECK(c.insecure, "OS_INSECURE=true");
    CHECK_STR(c.project_id, ""); /* $NEVER_SET: unknown, so not taken */
    CHECK_STR(c.source, "openrc t.rc");

    /* fields the file does not set keep their value; a later assignment wins */
    memset(&c, 0, sizeof c);
    snprintf(c.region, sizeof c.region, "keep");
    static const char *const twice =
        "export OS_USERNAME=a\nexport OS_USERNAME=b\nexport OS_PROJECT_NAME=${OS_USERNAME}x\n";
    rc = os_creds_from_openrc_string("t.rc", twice, strlen(twice), &c, why, sizeof why);
    CHECK(rc == 0 && !strcmp(c.username, "b") && !strcmp(c.project_name, "bx") && !strcmp(c.region, "keep"),
          "later wins: %d '%s' '%s' '%s'", rc, c.username, c.project_name, c.region);

    /* Horizon's download: the password is read at source time, so it is left to the prompt */
    static const char *const horizon =
        "#!/usr/bin/env bash\n"
        "# To use an OpenStack cloud you need to authenticate against the Identity\n"
        "# service named keystone, which returns a **Token** and **Service Catalog**.\n"
        "export OS_AUTH_URL=http://10.0.0.1/identity\n"
        "export OS_PROJECT_ID=0b6a7b3c4d5e4f60\n"
        "export OS_PROJECT_NAME=\"demo\"\n"
        "export OS_USER_DOMAIN_NAME=\"Default\"\n"
        "if [ -z \"$OS_USER_DOMAIN_NAME\" ]; then unset OS_USER_DOMAIN_NAME; fi\n"
        "export OS_PROJECT_DOMAIN_ID=\"default\"\n"
        "if [ -z \"$OS_PROJECT_DOMAIN_ID\" ]; then unset OS_PROJECT_DOMAIN_ID; fi\n"
        "unset OS_TENANT_ID\n"
        "unset OS_TENANT_NAME\n"
        "export OS_USERNAME=\"admin\"\n"
        "echo \"Please enter your OpenStack Password for project $OS_PROJECT_NAME as user $OS_USERNAME: \"\n"
        "read -sr OS_PASSWORD_INPUT\n"
        "export OS_PASSWORD=$OS_PASSWORD_INPUT\n"
        "export OS_REGION_NAME=\"RegionOne\"\n"
        "if [ -z \"$OS_REGION_NAME\" ]; then unset OS_REGION_NAME; fi\n"
        "export OS_INTERFACE=public\n"
        "export OS_IDENTITY_API_VERSION=3\n";
    rc = s_openrc(horizon, &c, why, sizeof why);
    CHECK(rc == 0, "Horizon openrc refused (%d): %s", rc, why);
    CHECK_STR(c.password, "");
    CHECK_STR(c.auth_url, "http://10.0.0.1/identity");
    CHECK_STR(c.project_id, "0b6a7b3c4d5e4f60");
    CHECK_STR(c.project_name, "demo");
    CHECK_STR(c.user_domain_name, "Default");
    CHECK_STR(c.project_domain_id, "default");
    CHECK_STR(c.username, "admin");
    CHECK_STR(c.region, "RegionOne");
    rc = os_creds_check(&c, why, sizeof why);
    CHECK(rc == 0, "Horizon openrc fails the check (%d): %s", rc, why);
    CHECK_STR(c.auth_type, "password");
    CHECK_STR(c.project_domain_name, ""); /* the project is by id: no default domain added */
    CHECK(os_creds_need_password(&c), "the password is left to the prompt");

    /* the Keystone v2 spellings vmtp still reads */
    rc = s_openrc("export OS_AUTH_URL=http://k:5000/v3\nexport OS_USERNAME=u\nexport OS_TENANT_NAME=legacy\n"
                  "export OS_TENANT_ID=t-1\nexport OS_ENDPOINT_TYPE=publicURL\n",
                  &c, why, sizeof why);
    CHECK(rc == 0 && !strcmp(c.project_name, "legacy") && !strcmp(c.project_id, "t-1") &&
              !strcmp(c.interface, "public"),
          "v2 names: %d '%s' '%s' '%s'", rc, c.project_name, c.project_id, c.interface);
    rc = s_openrc("export OS_ENDPOINT_TYPE=internalURL\n", &c, why, sizeof why);
    CHECK(rc == 0 && !strcmp(c.interface, "internal"), "internalURL: %d '%s'", rc, c.interface);

    s_openrc_bad("export OS_AUTH_URL=http://k:5000\nexport OS_IDENTITY_API_VERSION=2\n",
                 "t.rc:2: OS_IDENTITY_API_VERSION=2: vmtp speaks Keystone v3 only");
    s_openrc_bad("\nexport OS_PASSWORD=$(pass show cloud)\n",
                 "t.rc:2: OS_PASSWORD: command substitution is not read (vmtp never runs the file)");
    s_openrc_bad("export OS_USERNAME=u\n\n\nexport OS_PASSWORD=`pass show cloud`\n",
                 "t.rc:4: OS_PASSWORD: command substitution is not read (vmtp never runs the file)");
    s_openrc_bad("export OS_PASSWORD=\"x`pass`\"\n",
                 "t.rc:1: OS_PASSWORD: command substitution is not read (vmtp never runs the file)");
    rc = s_openrc("export OS_AUTH_URL=http://k:5000\nexport OS_PASSWORD=\"$(pass show cloud)\"\n", &c, why, sizeof why);
    CHECK(rc == -EINVAL && !strcmp(why, "t.rc:2: OS_PASSWORD: command substitution is not read (vmtp never runs "
                                        "the file)"),
          "\"$(...)\" in double quotes is refused: rc %d, password '%s'", rc, c.password);
    s_openrc_bad("export OS_USERNAME=u\nexport OS_PASSWORD='abc\n", "t.rc:2: OS_PASSWORD: unterminated single quote");
    s_openrc_bad("export OS_PROJECT_NAME=\"demo\n", "t.rc:1: OS_PROJECT_NAME: unterminated double quote");
    s_openrc_bad("export OS_PROJECT_NAME=${OS_X:-d}\n",
                 "t.rc:1: OS_PROJECT_NAME: bad ${...} or value longer than 4199 bytes");

    /* a value longer than its field, and one longer than any field */
    static char big[6000];
    snprintf(big, sizeof big, "export OS_REGION_NAME=%0127d\n", 0);
    rc = s_openrc(big, &c, why, sizeof why);
    CHECK(rc == 0 && strlen(c.region) == 127, "127-byte region refused (%d): %s", rc, why);
    snprintf(big, sizeof big, "export OS_REGION_NAME=%0128d\n", 0);
    s_openrc_bad(big, "t.rc:1: OS_REGION_NAME: the value is longer than 127 bytes");
    snprintf(big, sizeof big, "export OS_CACERT=%05000d\n", 0);
    s_openrc_bad(big, "t.rc:1: OS_CACERT: value longer than 4199 bytes");
    snprintf(big, sizeof big, "OS_%070d=x\n", 0);
    s_openrc_bad(big, "t.rc:1: variable name too long");

    static const char *const none_msg =
        "t.rc: no OS_* variable is set in it (an openrc exports OS_AUTH_URL, OS_USERNAME, ...)";
    s_openrc_bad("# only comments\n\nFOO=bar\necho hi\nexport OS_UNKNOWN=1\n", none_msg);
    s_openrc_bad("", none_msg);

    /* the file reader names the file in its errors */
    const char *p = s_path("v2.rc");
    static const char v2rc[] = "export OS_AUTH_URL=http://k:5000\nexport OS_IDENTITY_API_VERSION=2.0\n";
    s_write(p, v2rc, strlen(v2rc));
    char expected[1024];
    snprintf(expected, sizeof expected, "%s:2: OS_IDENTITY_API_VERSION=2.0: vmtp speaks Keystone v3 only", p);
    memset(&c, 0, sizeof c);
    rc = os_creds_from_openrc(p, &c, why, sizeof why);
    CHECK(rc == -EINVAL && !strcmp(why, expected), "file: %d '%s'", rc, why);
    rc = os_creds_from_openrc(s_path("missing.rc"), &c, why, sizeof why);
    CHECK(rc == -ENOENT, "missing openrc: %d '%s'", rc, why);
}

/* ---- clouds.yaml -------------------------------------------------------------------------------- */

static const char *const s_clouds = "# clouds.yaml as openstacksdk reads it\n"                /* 1 */
                                    "clouds:\n"                                               /* 2 */
                                    "  other:\n"                                              /* 3 */
                                    "    auth: {auth_url: \"http://o:5000\"}\n"               /* 4 */
                                    "  mycloud:\n"                                            /* 5 */
                                    "    region_name: RegionTwo\n"                            /* 6 */
                                    "    interface: internalURL\n"                            /* 7 */
                                    "    verify: false\n"                                     /* 8 */
                                    "    cacert: /etc/ssl/cloud-ca.pem\n"                     /* 9 */
                                    "    identity_api_version: 3\n"                           /* 10 */
                                    "    auth:\n"                                             /* 11 */
                                    "      auth_url: https://keystone.example.com:5000/v3/\n" /* 12 */
                                    "      username: bob\n"                                   /* 13 */
                                    "      password: \"s3cr3t: with a colon\"\n"              /* 14 */
                                    "      project_name: proj\n"                              /* 15 */
                                    "      domain_name: corp\n"                               /* 16 */
                                    "  explicit:\n"                                           /* 17 */
                                    "    insecure: true\n"                                    /* 18 */
                                    "    auth:\n"                                             /* 19 */
                                    "      user_domain_name: users\n"                         /* 20 */
                                    "      domain_name: corp\n"                               /* 21 */
                                    "      project_domain_id: pd1\n"                          /* 22 */
                                    "  appcred:\n"                                            /* 23 */
                                    "    auth_type: v3applicationcredential\n"                /* 24 */
                                    "    auth:\n"                                             /* 25 */
                                    "      auth_url: http://k:5000\n"                         /* 26 */
                                    "      application_credential_id: 0123456789abcdef\n"     /* 27 */
                                    "      application_credential_secret: shh\n"              /* 28 */
                                    "  v2:\n"                                                 /* 29 */
                                    "    auth: {auth_url: \"http://k:5000/v2.0\"}\n"          /* 30 */
                                    "    identity_api_version: 2\n"                           /* 31 */
                                    "  badauth:\n"                                            /* 32 */
                                    "    auth: [a, b]\n"                                      /* 33 */
                                    "  notmap: just-a-string\n"                               /* 34 */
                                    "  badverify:\n"                                          /* 35 */
                                    "    verify: [yes]\n"                                     /* 36 */
                                    "  cafile:\n"                                             /* 37 */
                                    "    verify: /etc/ssl/cloud-ca.pem\n";                    /* 38 */

static int s_yaml(const char *text, const char *cloud, os_creds_t *c, char *why, size_t cap)
{
    memset(c, 0, sizeof *c);
    snprintf(why, cap, "(untouched)");
    return os_creds_from_clouds_yaml_string("clouds.yaml", text, strlen(text), cloud, c, why, cap);
}

static void s_yaml_bad(const char *text, const char *cloud, int erc, const char *expected)
{
    os_creds_t c;
    char why[600];
    int rc = s_yaml(text, cloud, &c, why, sizeof why);
    CHECK(rc == erc, "cloud %s: rc %d, expected %d", cloud, rc, erc);
    CHECK(!strcmp(why, expected), "cloud %s: why: got '%s', expected '%s'", cloud, why, expected);
}

static void t_clouds_yaml(void)
{
    os_creds_t c;
    char why[600], url[600];
    int rc = s_yaml(s_clouds, "mycloud", &c, why, sizeof why);
    CHECK(rc == 0, "mycloud refused (%d): %s", rc, why);
    CHECK_STR(c.region, "RegionTwo");
    CHECK_STR(c.interface, "internal");
    CHECK(c.insecure, "verify: false is insecure");
    CHECK_STR(c.cacert, "/etc/ssl/cloud-ca.pem");
    CHECK_STR(c.auth_url, "https://keystone.example.com:5000/v3/");
    CHECK_STR(c.username, "bob");
    CHECK_STR(c.password, "s3cr3t: with a colon");
    CHECK_STR(c.project_name, "proj");
    CHECK_STR(c.user_domain_name, "corp");
    CHECK_STR(c.project_domain_name, "corp");
    CHECK_STR(c.source, "clouds.yaml clouds.yaml, cloud mycloud");
    CHECK(os_creds_check(&c, why, sizeof why) == 0, "mycloud fails the check: %s", why);
    CHECK(os_creds_identity_url(&c, url, sizeof url, why, sizeof why) == 0, "identity url: %s", why);
    CHECK_STR(url, "https://keystone.example.com:5000/v3");

    rc = s_yaml(s_clouds, "explicit", &c, why, sizeof why);
    CHECK(rc == 0 && c.insecure, "explicit: %d %s", rc, why);
    CHECK_STR(c.user_domain_name, "users"); /* domain_name is the default only */
    CHECK_STR(c.project_domain_name, "corp");
    CHECK_STR(c.project_domain_id, "pd1");

    rc = s_yaml(s_clouds, "appcred", &c, why, sizeof why);
    CHECK(rc == 0, "appcred refused (%d): %s", rc, why);
    CHECK_STR(c.auth_type, "v3applicationcredential");
    CHECK_STR(c.app_cred_id, "0123456789abcdef");
    CHECK_STR(c.app_cred_secret, "shh");
    CHECK(!c.insecure, "appcred is not insecure");
    CHECK(os_creds_check(&c, why, sizeof why) == 0 && !os_creds_need_password(&c), "appcred check: %s", why);

    s_yaml_bad(s_clouds, "v2", -EINVAL,
               "clouds.yaml:31: clouds.v2.identity_api_version: 2: vmtp speaks Keystone v3 only");
    s_yaml_bad(s_clouds, "badauth", -EINVAL, "clouds.yaml:33: clouds.badauth.auth: expected a mapping");
    s_yaml_bad(s_clouds, "notmap", -EINVAL, "clouds.yaml:34: clouds.notmap: expected a mapping");
    s_yaml_bad(s_clouds, "badverify", -EINVAL, "clouds.yaml:36: clouds.badverify.verify: expected true or false");
    s_yaml_bad(s_clouds, "nope", -ENOENT,
               "clouds.yaml: no cloud 'nope' in it (it has: other, mycloud, explicit, appcred, v2, badauth, notmap, "
               "badverify, cafile)");
    rc = s_yaml(s_clouds, "cafile", &c, why, sizeof why);
    CHECK(rc == 0 && !c.insecure && !strcmp(c.cacert, "/etc/ssl/cloud-ca.pem"),
          "verify: /path is the CA bundle, verification on: rc %d insecure %d cacert '%s'", rc, c.insecure, c.cacert);

    s_yaml_bad("clouds:\n  c:\n    a: b: c\n", "c", -EINVAL,
               "clouds.yaml:3:9: not valid YAML: mapping values are not allowed in this context");
    s_yaml_bad("clouds: [c]\n", "c", -EINVAL, "clouds.yaml: no clouds: mapping");
    s_yaml_bad("", "c", -EINVAL, "clouds.yaml: no clouds: mapping");
    s_yaml_bad("clouds:\n  c:\n    auth:\n      username: [a]\n", "c", -EINVAL,
               "clouds.yaml:4: clouds.c.auth.username: expected a string");
    static char big[400];
    snprintf(big, sizeof big, "clouds:\n  c:\n    region_name: %0128d\n", 0);
    s_yaml_bad(big, "c", -EINVAL, "clouds.yaml:3: clouds.c.region_name: longer than 127 bytes");

    /* from a file, named exactly */
    const char *p = s_path("clouds.yaml");
    s_write(p, s_clouds, strlen(s_clouds));
    char expected[1024];
    snprintf(expected, sizeof expected, "%s:33: clouds.badauth.auth: expected a mapping", p);
    rc = os_creds_from_clouds_yaml(p, "badauth", &c, why, sizeof why);
    CHECK(rc == -EINVAL && !strcmp(why, expected), "file: %d '%s'", rc, why);
    memset(&c, 0, sizeof c);
    rc = os_creds_from_clouds_yaml(p, "mycloud", &c, why, sizeof why);
    CHECK(rc == 0 && !strcmp(c.username, "bob"), "file mycloud: %d '%s'", rc, why);
    p = s_path("none.yaml");
    snprintf(expected, sizeof expected, "cloud 'c': no clouds.yaml found (looked at %s)", p);
    rc = os_creds_from_clouds_yaml(p, "c", &c, why, sizeof why);
    CHECK(rc == -ENOENT && !strcmp(why, expected), "no file: %d '%s'", rc, why);
}

/* ---- the check and the identity URL -------------------------------------------------------------- */

static void s_creds(os_creds_t *c, const char *auth_url, const char *user, const char *project)
{
    memset(c, 0, sizeof *c);
    snprintf(c->auth_url, sizeof c->auth_url, "%s", auth_url);
    snprintf(c->username, sizeof c->username, "%s", user);
    snprintf(c->project_name, sizeof c->project_name, "%s", project);
}

static void s_check_bad(os_creds_t *c, const char *expected)
{
    char why[400] = "";
    int rc = os_creds_check(c, why, sizeof why);
    CHECK(rc == -EINVAL && !strcmp(why, expected), "check: %d '%s', expected '%s'", rc, why, expected);
}

static void t_check(void)
{
    os_creds_t c;
    char why[400], url[600];
    s_creds(&c, "http://h:5000", "u", "p");
    CHECK(os_creds_check(&c, why, sizeof why) == 0, "minimal creds refused: %s", why);
    CHECK_STR(c.auth_type, "password");
    CHECK_STR(c.user_domain_name, "Default");
    CHECK_STR(c.project_domain_name, "Default");
    CHECK_STR(c.interface, "public");
    CHECK(os_creds_need_password(&c), "no password yet");
    snprintf(c.password, sizeof c.password, "pw");
    CHECK(!os_creds_need_password(&c), "password given");
    os_creds_wipe(&c);
    CHECK(!c.password[0], "wiped");

    s_creds(&c, "http://h:5000", "u", "p"); /* the project's domain follows the user's */
    snprintf(c.user_domain_name, sizeof c.user_domain_name, "corp");
    snprintf(c.auth_type, sizeof c.auth_type, "v3password");
    CHECK(os_creds_check(&c, why, sizeof why) == 0 && !strcmp(c.project_domain_name, "corp") &&
              !strcmp(c.auth_type, "password"),
          "domains: '%s' '%s' %s", c.project_domain_name, c.auth_type, why);
    s_creds(&c, "http://h:5000", "", "p"); /* a user by id needs no domain */
    snprintf(c.user_id, sizeof c.user_id, "uid");
    CHECK(os_creds_check(&c, why, sizeof why) == 0 && !c.user_domain_name[0], "user id: %s", why);

    s_creds(&c, "", "u", "p");
    s_check_bad(&c, "the credentials: no auth URL (OS_AUTH_URL / auth.auth_url)");
    s_creds(&c, "", "u", "p");
    snprintf(c.source, sizeof c.source, "openrc x.rc");
    s_check_bad(&c, "openrc x.rc: no auth URL (OS_AUTH_URL / auth.auth_url)");
    s_creds(&c, "http://h:5000", "", "p");
    s_check_bad(&c, "the credentials: no user (OS_USERNAME or OS_USER_ID)");
    s_creds(&c, "http://h:5000", "u", "");
    s_check_bad(&c, "the credentials: no project (OS_PROJECT_NAME or OS_PROJECT_ID)");
    s_creds(&c, "http://h:5000", "", "");
    snprintf(c.app_cred_id, sizeof c.app_cred_id, "ac1");
    s_check_bad(&c, "the credentials: application credential without a secret (OS_APPLICATION_CREDENTIAL_SECRET)");
    CHECK_STR(c.auth_type, "v3applicationcredential");
    s_creds(&c, "http://h:5000", "", "");
    snprintf(c.app_cred_name, sizeof c.app_cred_name, "mycred");
    snprintf(c.app_cred_secret, sizeof c.app_cred_secret, "s");
    s_check_bad(&c, "the credentials: application credential needs its id (OS_APPLICATION_CREDENTIAL_ID), or its "
                    "name with the user");
    s_creds(&c, "http://h:5000", "u", ""); /* by name with the user: fine, and no project needed */
    snprintf(c.app_cred_name, sizeof c.app_cred_name, "mycred");
    snprintf(c.app_cred_secret, sizeof c.app_cred_secret, "s");
    CHECK(os_creds_check(&c, why, sizeof why) == 0 && !os_creds_need_password(&c), "app cred by name: %s", why);
    s_creds(&c, "http://h:5000", "u", "p");
    snprintf(c.auth_type, sizeof c.auth_type, "token");
    s_check_bad(&c, "the credentials: auth type 'token' is not supported (password, v3applicationcredential)");
    s_creds(&c, "http://h:5000", "u", "p");
    snprintf(c.interface, sizeof c.interface, "private");
    s_check_bad(&c, "the credentials: interface 'private' is not public, internal or admin");
    s_creds(&c, "ftp://h/v3", "u", "p");
    s_check_bad(&c, "the credentials: auth URL 'ftp://h/v3' is not http:// or https://");

    static const struct {
        const char *in;
        int rc;
        const char *out; /* the URL, or the message */
    } urls[] = {
        {"http://h:5000", 0, "http://h:5000/v3"},
        {"http://h:5000/", 0, "http://h:5000/v3"},
        {"http://h:5000/v3/", 0, "http://h:5000/v3"},
        {"https://h/identity/v3", 0, "https://h/identity/v3"},
        {"HTTPS://h/identity", 0, "HTTPS://h/identity/v3"},
        {"http://h:5000/v2.0", -EINVAL, "auth URL 'http://h:5000/v2.0' is Keystone v2.0: vmtp speaks v3 only"},
        {"http://h:5000/v2.0/", -EINVAL, "auth URL 'http://h:5000/v2.0/' is Keystone v2.0: vmtp speaks v3 only"},
        {"ftp://h:5000/v3", -EINVAL, "auth URL 'ftp://h:5000/v3' is not http:// or https://"},
        {"h:5000", -EINVAL, "auth URL 'h:5000' is not http:// or https://"},
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        s_creds(&c, urls[i].in, "u", "p");
        snprintf(url, sizeof url, "(untouched)");
        snprintf(why, sizeof why, "(untouched)");
        int rc = os_creds_identity_url(&c, url, sizeof url, why, sizeof why);
        CHECK(rc == urls[i].rc && !strcmp(rc ? why : url, urls[i].out), "%s: %d '%s' / '%s', expected '%s'", urls[i].in,
              rc, url, why, urls[i].out);
    }
    s_creds(&c, "http://h:5000", "u", "p");
    char small[16]; /* "http://h:5000/v3" needs 17 bytes */
    CHECK(os_creds_identity_url(&c, small, sizeof small, why, sizeof why) == -EINVAL &&
              !strcmp(why, "auth URL too long"),
          "short buffer: '%s'", why);
}

/* ---- the environment ---------------------------------------------------------------------------- */

static void t_env(void)
{
    /* set aside every OS_* variable of the test's environment, restored at the end */
    char *saved[256];
    unsigned n_saved = 0;
    for (char **e = environ; *e && n_saved < 256; e++)
        if (!strncmp(*e, "OS_", 3) && strchr(*e, '='))
            saved[n_saved++] = strdup(*e);
    for (unsigned i = 0; i < n_saved; i++) {
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(strchr(saved[i], '=') - saved[i]), saved[i]);
        unsetenv(name);
    }

    os_creds_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.region, sizeof c.region, "keep");
    char ewhy[300];
    CHECK(os_creds_from_env(&c, ewhy, sizeof ewhy) == 0 && !c.source[0] && !strcmp(c.region, "keep"),
          "empty environment used");

    static const char *const vars[][2] = {
        {"OS_AUTH_URL", "https://k.example/identity"},
        {"OS_USERNAME", "envuser"},
        {"OS_PASSWORD", "envpw"},
        {"OS_PROJECT_NAME", "envproj"},
        {"OS_ENDPOINT_TYPE", "adminURL"},
        {"OS_INSECURE", "yes"},
        {"OS_IDENTITY_API_VERSION", "3"},
        {"OS_CACERT", "/ca.pem"},
        {"NOT_OS_USERNAME", "x"},
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        setenv(vars[i][0], vars[i][1], 1);
    int used = os_creds_from_env(&c, ewhy, sizeof ewhy);
    CHECK_EQ_U64((uint64_t)used, 8, "OS_* variables used");
    CHECK_STR(c.auth_url, "https://k.example/identity");
    CHECK_STR(c.username, "envuser");
    CHECK_STR(c.password, "envpw");
    CHECK_STR(c.project_name, "envproj");
    CHECK_STR(c.interface, "admin");
    CHECK_STR(c.cacert, "/ca.pem");
    CHECK_STR(c.region, "keep");
    CHECK(c.insecure, "OS_INSECURE=yes");
    CHECK_STR(c.source, "the OS_* environment");
    char why[300];
    CHECK(os_creds_check(&c, why, sizeof why) == 0, "environment creds: %s", why);
    setenv("OS_INSECURE", "0", 1);
    os_creds_from_env(&c, ewhy, sizeof ewhy);
    CHECK(!c.insecure, "OS_INSECURE=0");
    /* a variable that cannot be taken is an error naming it, not silently dropped */
    setenv("OS_IDENTITY_API_VERSION", "2", 1);
    CHECK(os_creds_from_env(&c, ewhy, sizeof ewhy) == -EINVAL &&
              !strcmp(ewhy, "the environment: OS_IDENTITY_API_VERSION=2: vmtp speaks Keystone v3 only"),
          "OS_IDENTITY_API_VERSION=2: '%s'", ewhy);
    setenv("OS_IDENTITY_API_VERSION", "3", 1);
    char longpw[600];
    memset(longpw, 'p', sizeof longpw - 1);
    longpw[sizeof longpw - 1] = 0;
    setenv("OS_PASSWORD", longpw, 1);
    CHECK(os_creds_from_env(&c, ewhy, sizeof ewhy) == -EINVAL &&
              !strcmp(ewhy, "the environment: OS_PASSWORD: the value is longer than 511 bytes"),
          "a 599-byte OS_PASSWORD: '%s'", ewhy);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i][0]);

    for (unsigned i = 0; i < n_saved; i++) {
        putenv(saved[i]); /* the environment owns the string from now on */
    }
    unsigned back = 0;
    for (char **e = environ; *e; e++)
        back += !strncmp(*e, "OS_", 3);
    CHECK_EQ_U64(back, n_saved, "OS_* variables restored");
}

/* ---- the ledger --------------------------------------------------------------------------------- */

static void t_ledger(void)
{
    char why[1024], dir[512], expected[1024];
    const char *old = getenv("VMTP_STATE_DIR");
    char *saved = old ? strdup(old) : NULL;
    snprintf(dir, sizeof dir, "%s/state/vmtp", s_tmp); /* two levels the ledger creates */
    setenv("VMTP_STATE_DIR", dir, 1);
    char got[PATH_MAX];
    CHECK(os_ledger_dir(got, sizeof got) == 0 && !strcmp(got, dir), "ledger dir '%s'", got);
    char tiny[4];
    CHECK(os_ledger_dir(tiny, sizeof tiny) == -ENAMETOOLONG, "ledger dir in 4 bytes");

    int err = 0;
    os_ledger_t *l = os_ledger_create(dir, "1a2b3c4", "http://k:5000/v3", "p1", "RegionOne", &err, why, sizeof why);
    CHECK(l != NULL, "create: %d %s", err, why);
    if (!l)
        goto out;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", os_ledger_path(l));
    snprintf(expected, sizeof expected, "%s/ledger-1a2b3c4.jsonl", dir);
    CHECK_STR(path, expected);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "ledger mode %o", (unsigned)(st.st_mode & 07777));
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 07777) == 0700, "folder mode %o", (unsigned)(st.st_mode & 07777));

    const char *net = "vmtp-1a2b3c4-net", *sub = "vmtp-1a2b3c4-subnet", *rtr = "vmtp-1a2b3c4-router";
    const char *srv = "vmtp-1a2b3c4-server", *flv = "vmtp-1a2b3c4-flavor", *key = "vmtp-1a2b3c4-key";
    int rc = 0;
    rc |= os_ledger_intent(l, OS_RES_NETWORK, net);
    rc |= os_ledger_created(l, OS_RES_NETWORK, "n1", net, NULL);
    rc |= os_ledger_intent(l, OS_RES_SUBNET, sub);
    rc |= os_ledger_intent(l, OS_RES_ROUTER, rtr);
    rc |= os_ledger_created(l, OS_RES_SUBNET, "s1", sub, NULL); /* answers may come in another order */
    rc |= os_ledger_created(l, OS_RES_ROUTER, "r1", rtr, NULL);
    rc |= os_ledger_created(l, OS_RES_ROUTER_IF, "s1", "", "r1"); /* no intent: a new entry */
    rc |= os_ledger_intent(l, OS_RES_SERVER, srv);                /* never answered */
    rc |= os_ledger_intent(l, OS_RES_FLAVOR, flv);
    rc |= os_ledger_void(l, OS_RES_FLAVOR, flv);
    rc |= os_ledger_created(l, OS_RES_KEYPAIR, key, key, NULL);
    rc |= os_ledger_deleted(l, OS_RES_KEYPAIR, key);
    CHECK(rc == 0, "appends failed");
    CHECK_EQ_U64(os_ledger_count(l), 7, "entries written");
    CHECK_EQ_U64(os_ledger_live(l), 5, "live entries written");
    os_ledger_close(&l);
    os_ledger_close(&l);
    CHECK(l == NULL, "close nulls");
    l = os_ledger_create(dir, "1a2b3c4", "http://k:5000/v3", "p1", "", &err, why, sizeof why);
    CHECK(l == NULL && err == -EEXIST, "a second ledger of the same run: %d", err);

    l = os_ledger_open(path, &err, why, sizeof why);
    CHECK(l != NULL, "reopen: %d %s", err, why);
    if (!l)
        goto out;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    CHECK_STR(os_ledger_run_id(l), "1a2b3c4");
    CHECK_STR(os_ledger_auth_url(l), "http://k:5000/v3");
    CHECK_STR(os_ledger_project_id(l), "p1");
    CHECK_STR(os_ledger_host(l), host);
    CHECK_EQ_I64(os_ledger_pid(l), getpid(), "pid");
    static const struct {
        os_res_kind_t kind;
        const char *id, *name, *parent;
        bool deleted;
    } want[] = {
        {OS_RES_NETWORK, "n1", "vmtp-1a2b3c4-net", "", false},
        {OS_RES_SUBNET, "s1", "vmtp-1a2b3c4-subnet", "", false},
        {OS_RES_ROUTER, "r1", "vmtp-1a2b3c4-router", "", false},
        {OS_RES_ROUTER_IF, "s1", "", "r1", false},
        {OS_RES_SERVER, "", "vmtp-1a2b3c4-server", "", false},
        {OS_RES_FLAVOR, "", "vmtp-1a2b3c4-flavor", "", true},
        {OS_RES_KEYPAIR, "vmtp-1a2b3c4-key", "vmtp-1a2b3c4-key", "", true},
    };
    CHECK_EQ_U64(os_ledger_count(l), 7, "entries read");
    CHECK_EQ_U64(os_ledger_live(l), 5, "live entries read");
    for (unsigned i = 0; i < 7 && i < os_ledger_count(l); i++) {
        const os_ledger_entry_t *e = os_ledger_entry(l, i);
        CHECK(e->kind == want[i].kind && !strcmp(e->id, want[i].id) && !strcmp(e->name, want[i].name) &&
                  !strcmp(e->parent, want[i].parent) && e->deleted == want[i].deleted,
              "entry %u: %s '%s' '%s' '%s' %d", i, os_res_kind_name(e->kind), e->id, e->name, e->parent, e->deleted);
    }
    CHECK(os_ledger_entry(l, 7) == NULL, "entry past the end");
    /* the cleanup's order: live entries, newest first */
    char order[200] = "";
    size_t o = 0;
    for (unsigned i = os_ledger_count(l); i-- > 0;)
        if (!os_ledger_entry(l, i)->deleted && o < sizeof order)
            o += (size_t)snprintf(order + o, sizeof order - o, "%s ", os_res_kind_name(os_ledger_entry(l, i)->kind));
    CHECK_STR(order, "server router_interface router subnet network ");

    /* appends after a reopen: the server's answer fills its intent, then it goes */
    CHECK(os_ledger_created(l, OS_RES_SERVER, "sv1", srv, NULL) == 0, "append after reopen");
    CHECK(os_ledger_deleted(l, OS_RES_SERVER, "sv1") == 0, "append after reopen");
    os_ledger_close(&l);
    l = os_ledger_open(path, &err, why, sizeof why);
    CHECK(l && os_ledger_count(l) == 7 && os_ledger_live(l) == 4 && !strcmp(os_ledger_entry(l, 4)->id, "sv1") &&
              os_ledger_entry(l, 4)->deleted,
          "after the server's delete: %s", l ? "" : why);
    /* a resource kept on purpose (an image for later runs) is no longer the cleanup's */
    CHECK(l && os_ledger_release(l, OS_RES_NETWORK, "n1") == 0 && os_ledger_live(l) == 3, "release");
    os_ledger_close(&l);
    l = os_ledger_open(path, &err, why, sizeof why);
    CHECK(l && os_ledger_live(l) == 3 && os_ledger_entry(l, 0)->deleted, "after a release: %s", l ? "" : why);
    os_ledger_close(&l);

    /* a torn last line (a crash in the middle of a write) is ignored */
    static const char *const head = "{\"ledger\":1,\"run_id\":\"9f8e7d6\",\"auth_url\":\"http://k/v3\",\"project_id\":"
                                    "\"p\",\"region\":\"\",\"pid\":42,\"host\":\"h\"}\n"
                                    "{\"op\":\"intent\",\"kind\":\"network\",\"name\":\"vmtp-9f8e7d6-net\"}\n";
    char text[1024];
    const char *torn = s_path("ledger-torn.jsonl");
    int len = snprintf(text, sizeof text, "%s{\"op\":\"create\",\"kind\":\"netw", head);
    s_write(torn, text, (size_t)len);
    l = os_ledger_open(torn, &err, why, sizeof why);
    CHECK(l && os_ledger_count(l) == 1 && os_ledger_pid(l) == 42, "torn ledger: %s", l ? "" : why);
    if (l) {
        /* vmtp cleanup appends to such a ledger: the next read must still work */
        CHECK(os_ledger_void(l, OS_RES_NETWORK, "vmtp-9f8e7d6-net") == 0, "void on the torn ledger");
        os_ledger_close(&l);
        l = os_ledger_open(torn, &err, why, sizeof why);
        CHECK(l != NULL && os_ledger_count(l) == 1 && os_ledger_live(l) == 0,
              "a record appended after a torn line starts a line of its own: %s", l ? "" : why);
        os_ledger_close(&l);
    }
    os_ledger_t *m = os_ledger_new_mem();
    CHECK(m && os_ledger_parse(m, "mem", text, (size_t)len, why, sizeof why) == 0 && os_ledger_count(m) == 1 &&
              !strcmp(os_ledger_path(m), ""),
          "torn in memory: %s", why);
    os_ledger_close(&m);

    /* a malformed line in the middle is an error with FILE:LINE */
    static const struct {
        const char *middle, *msg;
    } bad[] = {
        {"{\"op\":\"create\",\"kind\":\"netw\n", "not a ledger record"},
        {"[1,2]\n", "not a ledger record"},
        {"{\"op\":\"create\",\"kind\":\"volume\",\"id\":\"v1\"}\n", "a record without a valid op, kind, id or name"},
        {"{\"kind\":\"server\",\"id\":\"v1\"}\n", "a record without a valid op, kind, id or name"},
        {"{\"op\":\"create\",\"kind\":\"server\",\"name\":\"x\"}\n", "a malformed record"},
        {"{\"op\":\"explode\",\"kind\":\"server\",\"id\":\"x\"}\n", "a malformed record"},
        {"{\"op\":\"release\",\"kind\":\"image\",\"id\":\"\"}\n", "a malformed record"},
    };
    const char *badp = s_path("ledger-bad.jsonl");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        len = snprintf(text, sizeof text, "%s%s{\"op\":\"void\",\"kind\":\"network\",\"name\":\"n\"}\n", head,
                       bad[i].middle);
        s_write(badp, text, (size_t)len);
        snprintf(expected, sizeof expected, "%s:3: %s", badp, bad[i].msg);
        err = 0;
        l = os_ledger_open(badp, &err, why, sizeof why);
        CHECK(!l && err == -EINVAL && !strcmp(why, expected), "bad line %zu: %d '%s', expected '%s'", i, err, why,
              expected);
        os_ledger_close(&l);
    }
    static const char *const headers[] = {
        "{\"ledger\":2,\"run_id\":\"1\",\"auth_url\":\"u\",\"project_id\":\"p\"}\n",
        "{\"ledger\":\"1\",\"run_id\":\"1\",\"auth_url\":\"u\",\"project_id\":\"p\"}\n",
        "{\"ledger\":1,\"auth_url\":\"u\",\"project_id\":\"p\"}\n",
        "{\"op\":\"intent\",\"kind\":\"network\",\"name\":\"n\"}\n",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        s_write(badp, headers[i], strlen(headers[i]));
        snprintf(expected, sizeof expected, "%s:1: not a vmtp ledger (version 1 header expected)", badp);
        l = os_ledger_open(badp, &err, why, sizeof why);
        CHECK(!l && err == -EINVAL && !strcmp(why, expected), "header %zu: '%s'", i, why);
        os_ledger_close(&l);
    }
    s_write(badp, "\n\n", 2);
    snprintf(expected, sizeof expected, "%s: empty, not a vmtp ledger", badp);
    l = os_ledger_open(badp, &err, why, sizeof why);
    CHECK(!l && err == -EINVAL && !strcmp(why, expected), "empty: '%s'", why);
    l = os_ledger_open(s_path("no-such-ledger"), &err, why, sizeof why);
    CHECK(!l && err == -ENOENT, "missing ledger: %d", err);

    for (int k = 0; k < OS_RES_N; k++)
        CHECK(os_res_kind_parse(os_res_kind_name((os_res_kind_t)k)) == k, "kind %d round trip", k);
    CHECK_STR(os_res_kind_name(OS_RES_ROUTER_IF), "router_interface");
    CHECK(os_res_kind_parse("volume") == -1 && os_res_kind_parse(NULL) == -1, "unknown kinds");
out:
    if (saved) {
        setenv("VMTP_STATE_DIR", saved, 1);
        free(saved);
    } else {
        unsetenv("VMTP_STATE_DIR");
    }
}

/* ---- API error messages -------------------------------------------------------------------------- */

static void s_msg(const char *body, size_t len, size_t cap, const char *expected)
{
    char out[700];
    memset(out, 'Z', sizeof out);
    const char *r = os_http_api_message(body, len, out, cap);
    CHECK(r == out && !strcmp(out, expected), "message of '%.60s': got '%s', expected '%s'", body, out, expected);
}

static void s_str_of(const char *body, size_t cap, const char *expected) { s_msg(body, strlen(body), cap, expected); }

static void t_http(void)
{
    s_str_of("{\"badRequest\": {\"code\": 400, \"message\": \"Invalid input for field/attribute flavorRef.\"}}", 600,
             "Invalid input for field/attribute flavorRef.");
    s_str_of("{\"NeutronError\": {\"type\": \"NetworkNotFound\", \"message\": \"Network 42 could not be found.\", "
             "\"detail\": \"\"}}",
             600, "Network 42 could not be found.");
    s_str_of("{\"error\": {\"code\": 401, \"message\": \"The request you have made requires authentication.\", "
             "\"title\": \"Unauthorized\"}}",
             600, "The request you have made requires authentication.");
    s_str_of("{\"errors\": [{\"status\": 409, \"title\": \"Conflict\", \"detail\": \"There was a conflict when "
             "trying to complete your request.\\n\\n Unable to allocate inventory\", \"request_id\": \"req-1\"}]}",
             600, "There was a conflict when trying to complete your request. Unable to allocate inventory");
    s_str_of("{\"forbidden\": {\"code\": 403, \"title\": \"Forbidden\"}}", 600, "Forbidden");
    s_str_of("\"Service Unavailable\"", 600, "Service Unavailable");
    s_str_of("<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n"
             "  The resource could not be found.<br /><br />\n\n\n\n </body>\n</html>",
             600, "404 Not Found 404 Not Found The resource could not be found.");
    s_str_of("{\"stats\": {\"code\": 1}}", 600, ""); /* JSON without a message: nothing */
    s_str_of("", 600, "");
    s_msg(NULL, 0, 600, "");
    s_msg("ab\0cd", 5, 600, "ab");
    s_str_of("\x01"
             "ab\x7f\x1b[31mred\tand\r\n\r\nmore   ",
             600, "?ab??[31mred and more");
    /* the cap counts the NUL; trailing white space of a cut message goes */
    static char longmsg[2100];
    int n = snprintf(longmsg, sizeof longmsg, "{\"badRequest\": {\"message\": \"%01000d\"}}", 7);
    s_msg(longmsg, (size_t)n, 16, "000000000000000");
    s_str_of("{\"badRequest\": {\"message\": \"abc    def\"}}", 5, "abc");
    s_str_of("text", 1, "");
    char untouched[4] = "xyz";
    CHECK(os_http_api_message("text", 4, untouched, 0) == untouched && !strcmp(untouched, "xyz"), "cap 0");
    /* a plain-text body is read up to 2000 bytes */
    memset(longmsg, 'a', sizeof longmsg);
    char out[2100];
    os_http_api_message(longmsg, sizeof longmsg, out, sizeof out);
    CHECK_EQ_U64(strlen(out), 2000, "plain text read");

    /* garbage from a proxy gives printable text only */
    uint64_t rng = 0x0123456789abcdefULL;
    for (int round = 0; round < 200 && check_keep_going(); round++) {
        char garbage[300], msg[128];
        for (size_t i = 0; i < sizeof garbage; i++)
            garbage[i] = (char)(1 + check_rand_below(&rng, 127)); /* 7-bit, no NUL */
        os_http_api_message(garbage, sizeof garbage, msg, sizeof msg);
        bool ok = strlen(msg) < sizeof msg;
        for (size_t i = 0; msg[i]; i++)
            ok = ok && msg[i] >= 0x20 && msg[i] < 0x7f;
        CHECK(ok, "round %d: unprintable message '%s'", round, msg);
    }
    char msg[64];
    os_http_api_message("a\x9b"
                        "31mb\xff",
                        6, msg, sizeof msg);
    bool printable = true;
    for (size_t i = 0; msg[i]; i++)
        printable = printable && (unsigned char)msg[i] >= 0x20 && (unsigned char)msg[i] < 0x7f;
    CHECK(printable, "bytes from 0x80 up (C1 controls, broken UTF-8) are replaced: %zu bytes", strlen(msg));

    char body[] = "{\"NeutronError\": {\"type\": \"InUse\", \"message\": \"Network 42 is in use.\", \"detail\": \"\"}}";
    os_http_req_t req = {.method = "DELETE", .url = "http://n:9696/v2.0/networks/42"};
    os_http_resp_t resp = {.status = 409, .body = body, .len = strlen(body)};
    snprintf(resp.request_id, sizeof resp.request_id, "req-abc");
    char d[800];
    os_http_describe(&req, &resp, d, sizeof d);
    CHECK_STR(d, "DELETE http://n:9696/v2.0/networks/42: HTTP 409: Network 42 is in use. (request req-abc)");
    char empty[] = "";
    os_http_resp_t resp2 = {.status = 500, .body = empty, .len = 0};
    os_http_describe(&req, &resp2, d, sizeof d);
    CHECK_STR(d, "DELETE http://n:9696/v2.0/networks/42: HTTP 500");
}

/* ---- Keystone v3 token bodies -------------------------------------------------------------------- */

/* A token body as Keystone sends it: five services in two regions with three interfaces each
 * (RegionTwo listed first), object-store public in RegionOne only, a service without a type.
 * Every service but compute carries region_id; compute has the older "region" only. */
static char *s_token_body(bool admin, bool scoped)
{
    static const struct {
        const char *type, *host, *path;
        int port;
    } svcs[] = {
        {"compute", "nova", "/v2.1/", 8774},    {"network", "neutron", "", 9696},       {"image", "glance", "", 9292},
        {"identity", "keystone", "/v3/", 5000}, {"placement", "placement", "//", 8778},
    };
    static const char *const regions[] = {"RegionTwo", "RegionOne"}, *const itfs[] = {"public", "internal", "admin"};
    json_t *cat = json_array();
    for (size_t s = 0; s < sizeof svcs / sizeof svcs[0]; s++) {
        json_t *eps = json_array();
        for (size_t r = 0; r < 2; r++)
            for (size_t i = 0; i < 3; i++) {
                char url[200];
                snprintf(url, sizeof url, "http://%s-%s-%s.example:%d%s", svcs[s].host, regions[r], itfs[i],
                         svcs[s].port, svcs[s].path);
                json_t *ep =
                    json_pack("{s:s,s:s,s:s,s:s}", "id", "e", "interface", itfs[i], "url", url, "region", regions[r]);
                if (s != 0)
                    json_object_set_new(ep, "region_id", json_string(regions[r]));
                json_array_append_new(eps, ep);
            }
        json_array_append_new(cat, json_pack("{s:o,s:s,s:s,s:s}", "endpoints", eps, "type", svcs[s].type, "id", "x",
                                             "name", svcs[s].host));
    }
    json_array_append_new(cat, json_pack("{s:[{s:s,s:s,s:s}],s:s,s:s}", "endpoints", "interface", "public", "url",
                                         "http://swift.example:8080/v1/AUTH_p1", "region_id", "RegionOne", "type",
                                         "object-store", "name", "swift"));
    json_array_append_new(cat, json_pack("{s:[{s:s,s:s}],s:s}", "endpoints", "interface", "public", "url",
                                         "http://untyped.example", "name", "untyped"));
    json_t *tok =
        json_pack("{s:[s],s:{s:s,s:s,s:{s:s,s:s}},s:s,s:s,s:[{s:s,s:s},{s:s,s:s}],s:o}", "methods", "password", "user",
                  "id", "u-42", "name", "alice", "domain", "id", "default", "name", "Default", "expires_at",
                  "2030-01-01T00:00:00.000000Z", "issued_at", "2029-12-31T23:00:00.000000Z", "roles", "id", "r1",
                  "name", "member", "id", "r2", "name", admin ? "admin" : "reader", "catalog", cat);
    if (scoped)
        json_object_set_new(tok, "project",
                            json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", "p-0123", "name", "demo", "domain", "id",
                                      "default", "name", "Default"));
    json_t *root = json_pack("{s:o}", "token", tok);
    char *text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    return text;
}

static const char *s_endpoint(const os_token_t *t, const char *type)
{
    for (unsigned i = 0; i < t->n_endpoints; i++)
        if (!strcmp(t->endpoints[i].type, type))
            return t->endpoints[i].url;
    return "(none)";
}

static void t_token(void)
{
    static os_token_t t; /* 20 KiB */
    char why[300];
    char *body = s_token_body(true, true);
    CHECK(body != NULL, "token body");
    if (!body)
        return;
    size_t len = strlen(body);
    int rc = os_token_parse(body, len, "internal", "RegionOne", &t, why, sizeof why);
    CHECK(rc == 0, "token refused (%d): %s", rc, why);
    CHECK_STR(t.user_id, "u-42");
    CHECK_STR(t.project_id, "p-0123");
    CHECK_STR(t.project_name, "demo");
    CHECK(t.admin, "admin role");
    CHECK_EQ_U64(t.n_endpoints, 5, "internal endpoints in RegionOne");
    CHECK_STR(s_endpoint(&t, "compute"), "http://nova-RegionOne-internal.example:8774/v2.1");
    CHECK_STR(s_endpoint(&t, "network"), "http://neutron-RegionOne-internal.example:9696");
    CHECK_STR(s_endpoint(&t, "image"), "http://glance-RegionOne-internal.example:9292");
    CHECK_STR(s_endpoint(&t, "identity"), "http://keystone-RegionOne-internal.example:5000/v3");
    CHECK_STR(s_endpoint(&t, "placement"), "http://placement-RegionOne-internal.example:8778");
    CHECK_STR(s_endpoint(&t, "object-store"), "(none)");
    CHECK_STR(t.regions_seen, "RegionTwo, RegionOne");

    rc = os_token_parse(body, len, "public", "", &t, why, sizeof why); /* any region: the first listed */
    CHECK(rc == 0 && t.n_endpoints == 6, "public, any region: %d %u", rc, t.n_endpoints);
    CHECK_STR(s_endpoint(&t, "compute"), "http://nova-RegionTwo-public.example:8774/v2.1");
    CHECK_STR(s_endpoint(&t, "object-store"), "http://swift.example:8080/v1/AUTH_p1");
    CHECK_STR(t.endpoints[5].type, "object-store");
    rc = os_token_parse(body, len, "admin", "RegionThree", &t, why, sizeof why);
    CHECK(rc == 0 && t.n_endpoints == 0, "no endpoint in RegionThree is no parse error: %d %u", rc, t.n_endpoints);
    rc = os_token_parse(body, len, "internal", "RegionTwo", &t, why, sizeof why);
    CHECK(rc == 0 && !strcmp(s_endpoint(&t, "compute"), "http://nova-RegionTwo-internal.example:8774/v2.1"),
          "compute by its legacy region field: %s", s_endpoint(&t, "compute"));
    free(body);

    body = s_token_body(false, true);
    rc = os_token_parse(body, strlen(body), "public", "", &t, why, sizeof why);
    CHECK(rc == 0 && !t.admin, "member and reader are not admin");
    free(body);

    body = s_token_body(true, false);
    snprintf(why, sizeof why, "(untouched)");
    rc = os_token_parse(body, strlen(body), "public", "", &t, why, sizeof why);
    CHECK(rc == -EINVAL && !strcmp(why, "the token is not scoped to a project"), "unscoped: %d '%s'", rc, why);
    free(body);

    static const char html[] = "<html><body>503 Service Unavailable</body></html>";
    rc = os_token_parse(html, strlen(html), "public", "", &t, why, sizeof why);
    static const char prefix[] = "the token answer is not a Keystone v3 token: ";
    CHECK(rc == -EINVAL && !strncmp(why, prefix, strlen(prefix)) && strlen(why) > strlen(prefix), "not JSON: '%s'",
          why);
    static const char err401[] = "{\"error\": {\"code\": 401, \"message\": \"x\", \"title\": \"Unauthorized\"}}";
    rc = os_token_parse(err401, strlen(err401), "public", "", &t, why, sizeof why);
    CHECK(rc == -EINVAL && !strcmp(why, "the token answer is not a Keystone v3 token"), "no token: '%s'", why);
    rc = os_token_parse("", 0, "public", "", &t, why, sizeof why);
    CHECK(rc == -EINVAL, "empty body accepted");

    /* more services than OS_MAX_ENDPOINTS: the first ones are kept */
    char big[8192];
    size_t o = (size_t)snprintf(big, sizeof big, "{\"token\":{\"project\":{\"id\":\"p\"},\"catalog\":[");
    for (int s = 0; s < 40 && o < sizeof big; s++)
        o += (size_t)snprintf(
            big + o, sizeof big - o,
            "%s{\"type\":\"svc%d\",\"endpoints\":[{\"interface\":\"public\",\"url\":\"http://s%d/\"}]}", s ? "," : "",
            s, s);
    if (o < sizeof big)
        o += (size_t)snprintf(big + o, sizeof big - o, "]}}");
    CHECK(o < sizeof big, "catalog text fits");
    rc = os_token_parse(big, strlen(big), "public", "", &t, why, sizeof why);
    CHECK(rc == 0 && t.n_endpoints == OS_MAX_ENDPOINTS && !strcmp(t.endpoints[31].url, "http://s31"),
          "40 services: %d %u", rc, t.n_endpoints);

    static const char regs[] =
        "{\"token\":{\"project\":{\"id\":\"p\"},\"catalog\":[{\"type\":\"compute\",\"endpoints\":["
        "{\"interface\":\"public\",\"url\":\"http://a\",\"region_id\":\"region-10\"},"
        "{\"interface\":\"public\",\"url\":\"http://b\",\"region_id\":\"region-1\"}]}]}}";
    rc = os_token_parse(regs, strlen(regs), "public", "region-1", &t, why, sizeof why);
    CHECK(rc == 0 && !strcmp(s_endpoint(&t, "compute"), "http://b"), "region-1 exactly: %s", s_endpoint(&t, "compute"));
    CHECK(!strcmp(t.regions_seen, "region-10, region-1"),
          "a region whose name is part of one seen before is listed too: '%s'", t.regions_seen);
}

/* ---- run ids ----------------------------------------------------------------------------------- */

static void t_strays(void)
{
    static const struct {
        const char *s;
        bool ok;
    } ids[] = {{"1a2b3c4", true},   {"0000000", true},  {"abcdef9", true}, {"1A2B3C4", false}, {"1a2b3c", false},
               {"1a2b3c4d", false}, {"1a2b3g4", false}, {"", false},       {"1a2b3c ", false}, {"-1a2b3c", false}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        CHECK(os_strays_valid_run_id(ids[i].s) == ids[i].ok, "run id '%s'", ids[i].s);
    static const struct {
        const char *name, *run; /* run NULL: not a vmtp name */
    } names[] = {
        {"vmtp-1a2b3c4-server", "1a2b3c4"},
        {"vmtp-1a2b3c4-", "1a2b3c4"},
        {"vmtp-0a0a0a0-net-2", "0a0a0a0"},
        {"vmtp-1a2b3c4", NULL},
        {"vmtp-1a2b3c4x", NULL},
        {"vmtp-1A2B3C4-server", NULL},
        {"vmtp-1a2b3c-4server", NULL},
        {"xvmtp-1a2b3c4-server", NULL},
        {"VMTP-1a2b3c4-server", NULL},
        {"vmtp-1a2b3z4-server", NULL},
        {"", NULL},
        {NULL, NULL},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char out[8] = "";
        bool ok = os_strays_run_of(names[i].name, out);
        CHECK(ok == (names[i].run != NULL) && (!ok || !strcmp(out, names[i].run)), "run of '%s': %d '%s'",
              names[i].name ? names[i].name : "(null)", ok, out);
    }
}

/* Removes the test folder's files (one level, plus the ledger folders). */
static void s_cleanup(void)
{
    static const char *const files[] = {"v2.rc", "clouds.yaml", "ledger-torn.jsonl", "ledger-bad.jsonl",
                                        "state/vmtp/ledger-1a2b3c4.jsonl"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(s_path(files[i]));
    rmdir(s_path("state/vmtp"));
    rmdir(s_path("state"));
    rmdir(s_tmp);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(s_tmp, sizeof s_tmp, "%s/vmtp-test-os-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(s_tmp)) {
        perror("test_os: mkdtemp");
        return 1;
    }
    t_openrc();
    t_clouds_yaml();
    t_check();
    t_env();
    t_ledger();
    t_http();
    t_token();
    t_strays();
    s_cleanup();
    return check_exit("test_os");
}
