/* os_creds.h — OpenStack credentials as the usual clients take them: an openrc file (`-r`, read,
 * never executed), the OS_* environment, or a clouds.yaml entry (`--os-cloud` / OS_CLOUD), then
 * `-p`, then a prompt on a terminal for a missing password.
 *
 * Keystone v3 only: password auth (user and project by name with their domains, or by id) and
 * application credentials (id, or name with the user, and secret). Every problem is an error
 * naming the file and line (or the variable) and what was wrong.
 */
#ifndef VMTP_OS_CREDS_H
#define VMTP_OS_CREDS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char auth_url[512];            /* Keystone, as given (os_creds_identity_url normalises) */
    char auth_type[32];            /* "password" or "v3applicationcredential" */
    char username[256];            /* user by name ... */
    char user_id[128];             /* ... or by id */
    char password[512];            /* secret: wiped by os_creds_wipe */
    char user_domain_name[256];    /* the user's domain (default "Default" when by name and none given) */
    char user_domain_id[128];
    char project_name[256];        /* the project (scope) by name ... */
    char project_id[128];          /* ... or by id */
    char project_domain_name[256]; /* the project's domain */
    char project_domain_id[128];
    char app_cred_id[128];         /* application credential by id ... */
    char app_cred_name[256];       /* ... or by name (with the user) */
    char app_cred_secret[512];     /* secret: wiped by os_creds_wipe */
    char region[128];              /* region of the endpoints, "" = any */
    char interface[16];            /* endpoint interface: public (default), internal, admin */
    char cacert[4096];             /* CA bundle for TLS, "" = the system's */
    bool insecure;                 /* no TLS verification (OS_INSECURE / verify: false) */
    char source[600];              /* where they came from, for messages */
} os_creds_t;

/* Reads an openrc file: `export OS_NAME=value` or `OS_NAME=value` lines, values bare, 'single'
 * or "double" quoted, $NAME and ${NAME} of names set above it expanded; other shell lines are
 * skipped (a Horizon openrc's `read -sr OS_PASSWORD_INPUT` leaves the password to the prompt).
 * Returns 0, or -errno / -EINVAL with "FILE:LINE: ..." in why. Fields it sets override c's. */
int os_creds_from_openrc(const char *path, os_creds_t *c, char *why, size_t cap);
/* The same from text in memory (name labels it). */
int os_creds_from_openrc_string(const char *name, const char *text, size_t len, os_creds_t *c, char *why,
                                size_t cap);

/* OS_* variables of the environment (those set override c's). Returns how many were used, or
 * -EINVAL with the variable named in why (a value too long, OS_IDENTITY_API_VERSION not 3). */
int os_creds_from_env(os_creds_t *c, char *why, size_t cap);

/* The entry `cloud` of the first clouds.yaml found: $OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
 * ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml (or exactly `path` when not NULL).
 * Returns 0, or -ENOENT (no file or no such cloud: why lists what was looked at) / -EINVAL
 * with "FILE:LINE: ..." in why. */
int os_creds_from_clouds_yaml(const char *path, const char *cloud, os_creds_t *c, char *why, size_t cap);
/* The same from text in memory. */
int os_creds_from_clouds_yaml_string(const char *name, const char *text, size_t len, const char *cloud,
                                     os_creds_t *c, char *why, size_t cap);

/* Completes and checks: auth type from what is set, default domains, interface. Returns 0, or
 * -EINVAL with what is missing in why (the password is not checked here: os_creds_need_password). */
int os_creds_check(os_creds_t *c, char *why, size_t cap);

/* True when password auth has no password yet. */
bool os_creds_need_password(const os_creds_t *c);

/* Asks for the password on the controlling terminal (echo off). Returns 0, -ENOTTY when there is
 * none (then the caller says how to give it), or -errno. */
int os_creds_prompt_password(os_creds_t *c);

/* The Keystone v3 base URL ("http://h:5000" -> "http://h:5000/v3"). Returns 0, or -EINVAL with
 * why (a v2.0 URL, not http(s)). */
int os_creds_identity_url(const os_creds_t *c, char *out, size_t cap, char *why, size_t wcap);

/* Everything in the order vmtp takes it: an openrc file (rc_file), else a clouds.yaml entry
 * (cloud, or $OS_CLOUD), else the OS_* environment (unless no_env); then password (-p) when not
 * NULL; then the check; then the prompt on a terminal for a missing password. Returns 0, or
 * -EINVAL / -ENOENT / -ENOTTY with a sentence in why (the caller exits 2). */
int os_creds_load(const char *rc_file, const char *cloud, bool no_env, const char *password, os_creds_t *c,
                  char *why, size_t cap);

/* Overwrites the secrets. */
void os_creds_wipe(os_creds_t *c);

#endif
