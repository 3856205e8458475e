/* os_creds.c — OpenStack credentials from an openrc file, the environment or clouds.yaml. */
#include "os_creds.h"

#include "textutil.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>
#include <yaml.h>

#define S_MAX_FILE (1u << 20)

/* OS_* variables and clouds.yaml keys, and the field each sets. */
typedef struct {
    const char *env;  /* OS_ variable, or NULL */
    const char *yaml; /* clouds.yaml key (under auth: when auth), or NULL */
    bool auth;        /* the key lives under auth: */
    size_t off, size; /* the field */
} s_field_t;

#define F(env, yaml, auth, member)                                                                                     \
    {                                                                                                                  \
        env, yaml, auth, offsetof(os_creds_t, member), sizeof(((os_creds_t *)0)->member)                               \
    }
static const s_field_t s_fields[] = {
    F("OS_AUTH_URL", "auth_url", true, auth_url),
    F("OS_AUTH_TYPE", "auth_type", false, auth_type),
    F("OS_USERNAME", "username", true, username),
    F("OS_USER_ID", "user_id", true, user_id),
    F("OS_PASSWORD", "password", true, password),
    F("OS_USER_DOMAIN_NAME", "user_domain_name", true, user_domain_name),
    F("OS_USER_DOMAIN_ID", "user_domain_id", true, user_domain_id),
    F("OS_PROJECT_NAME", "project_name", true, project_name),
    F("OS_TENANT_NAME", "tenant_name", true, project_name),
    F("OS_PROJECT_ID", "project_id", true, project_id),
    F("OS_TENANT_ID", "tenant_id", true, project_id),
    F("OS_PROJECT_DOMAIN_NAME", "project_domain_name", true, project_domain_name),
    F("OS_PROJECT_DOMAIN_ID", "project_domain_id", true, project_domain_id),
    F("OS_APPLICATION_CREDENTIAL_ID", "application_credential_id", true, app_cred_id),
    F("OS_APPLICATION_CREDENTIAL_NAME", "application_credential_name", true, app_cred_name),
    F("OS_APPLICATION_CREDENTIAL_SECRET", "application_credential_secret", true, app_cred_secret),
    F("OS_REGION_NAME", "region_name", false, region),
    F("OS_INTERFACE", "interface", false, interface),
    F("OS_ENDPOINT_TYPE", NULL, false, interface),
    F("OS_CACERT", "cacert", false, cacert),
};
#undef F

static int s_err(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int s_err(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* "publicURL" (the v2 spelling of OS_ENDPOINT_TYPE) -> "public". */
static void s_norm_interface(char *s)
{
    size_t n = strlen(s);
    if (n > 3 && !strcmp(s + n - 3, "URL"))
        s[n - 3] = 0;
}

static bool s_truthy(const char *v)
{
    return !strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on");
}

static bool s_falsy(const char *v)
{
    return !strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off");
}

/* Sets the field of an OS_ variable (or of the special ones). Returns 1 when used, 0 when not an
 * OS_ name vmtp knows, -EINVAL (why) when the value cannot be taken. */
static int s_set_env(os_creds_t *c, const char *name, const char *value, char *why, size_t cap)
{
    if (!strcmp(name, "OS_INSECURE")) {
        c->insecure = s_truthy(value);
        return 1;
    }
    if (!strcmp(name, "OS_IDENTITY_API_VERSION")) {
        if (value[0] && strcmp(value, "3") != 0)
            return s_err(why, cap, "OS_IDENTITY_API_VERSION=%.16s: vmtp speaks Keystone v3 only", value);
        return 1;
    }
    for (size_t i = 0; i < sizeof s_fields / sizeof s_fields[0]; i++) {
        if (!s_fields[i].env || strcmp(s_fields[i].env, name) != 0)
            continue;
        if (strlen(value) >= s_fields[i].size)
            return s_err(why, cap, "%s: the value is longer than %zu bytes", name, s_fields[i].size - 1);
        char *dst = (char *)c + s_fields[i].off;
        snprintf(dst, s_fields[i].size, "%s", value);
        if (s_fields[i].off == offsetof(os_creds_t, interface))
            s_norm_interface(dst);
        return 1;
    }
    return 0;
}

int os_creds_from_env(os_creds_t *c, char *why, size_t cap)
{
    static const char *const extra[] = {"OS_INSECURE", "OS_IDENTITY_API_VERSION"};
    const size_t nf = sizeof s_fields / sizeof s_fields[0];
    int used = 0;
    char msg[300];
    for (size_t i = 0; i < nf + 2; i++) {
        const char *name = i < nf ? s_fields[i].env : extra[i - nf];
        const char *v = name ? getenv(name) : NULL;
        if (!v)
            continue;
        int r = s_set_env(c, name, v, msg, sizeof msg);
        if (r < 0)
            return s_err(why, cap, "the environment: %s", msg);
        used += r;
    }
    if (used)
        snprintf(c->source, sizeof c->source, "the OS_* environment");
    return used;
}

/* ---- openrc ------------------------------------------------------------------------------------- */

typedef struct {
    char name[64];
    char *value;
} s_var_t;

typedef struct {
    s_var_t v[64];
    unsigned n;
} s_vars_t;

static const char *s_var_get(const s_vars_t *vs, const char *name, size_t len)
{
    for (unsigned i = 0; i < vs->n; i++)
        if (strlen(vs->v[i].name) == len && !strncmp(vs->v[i].name, name, len))
            return vs->v[i].value;
    return NULL;
}

static void s_vars_fini(s_vars_t *vs)
{
    for (unsigned i = 0; i < vs->n; i++) {
        if (vs->v[i].value) {
            explicit_bzero(vs->v[i].value, strlen(vs->v[i].value));
            free(vs->v[i].value);
        }
    }
    vs->n = 0;
}

/* Appends byte ch to out (cap bytes). Returns false when full. */
static bool s_put(char *out, size_t *o, size_t cap, char ch)
{
    if (*o + 1 >= cap)
        return false;
    out[(*o)++] = ch;
    out[*o] = 0;
    return true;
}

/* Expands $NAME / ${NAME} at s[*i] into out. Returns false when a referenced name is unset
 * (the value then is unknown) or on overflow. */
static bool s_expand(const char *s, size_t n, size_t *i, const s_vars_t *vs, char *out, size_t *o, size_t cap,
                     bool *unknown)
{
    size_t j = *i + 1, start, len;
    bool brace = j < n && s[j] == '{';
    if (brace)
        j++;
    start = j;
    while (j < n && (isalnum((unsigned char)s[j]) || s[j] == '_'))
        j++;
    len = j - start;
    if (brace) {
        if (j >= n || s[j] != '}')
            return false;
        j++;
    }
    if (!len) { /* a lone $ */
        *i += 1;
        return s_put(out, o, cap, '$');
    }
    *i = j;
    const char *v = s_var_get(vs, s + start, len);
    if (!v) {
        *unknown = true;
        return true;
    }
    for (; *v; v++)
        if (!s_put(out, o, cap, *v))
            return false;
    return true;
}

/* Parses the shell word of a value (s[0..n)): quotes, backslashes in double quotes, expansions.
 * Returns 0, 1 when it references an unset variable, -EINVAL (why) when malformed. */
static int s_word(const char *s, size_t n, const s_vars_t *vs, char *out, size_t cap, char *why, size_t wcap)
{
    size_t o = 0;
    bool unknown = false;
    out[0] = 0;
    for (size_t i = 0; i < n;) {
        char ch = s[i];
        if (ch == '\'') {
            size_t j = i + 1;
            while (j < n && s[j] != '\'')
                j++;
            if (j >= n)
                return s_err(why, wcap, "unterminated single quote");
            for (size_t k = i + 1; k < j; k++)
                if (!s_put(out, &o, cap, s[k]))
                    return s_err(why, wcap, "value longer than %zu bytes", cap - 1);
            i = j + 1;
        } else if (ch == '"') {
            size_t j = i + 1;
            for (; j < n && s[j] != '"'; j++) {
                if (s[j] == '\\' && j + 1 < n && strchr("\"\\$`", s[j + 1])) {
                    j++;
                    if (!s_put(out, &o, cap, s[j]))
                        return s_err(why, wcap, "value longer than %zu bytes", cap - 1);
                } else if (s[j] == '$' && j + 1 < n && s[j + 1] == '(') {
                    return s_err(why, wcap, "command substitution is not read (vmtp never runs the file)");
                } else if (s[j] == '$') {
                    size_t k = j;
                    if (!s_expand(s, n, &k, vs, out, &o, cap, &unknown))
                        return s_err(why, wcap, "bad ${...} or value longer than %zu bytes", cap - 1);
                    j = k - 1;
                } else if (s[j] == '`') {
                    return s_err(why, wcap, "command substitution is not read (vmtp never runs the file)");
                } else if (!s_put(out, &o, cap, s[j])) {
                    return s_err(why, wcap, "value longer than %zu bytes", cap - 1);
                }
            }
            if (j >= n)
                return s_err(why, wcap, "unterminated double quote");
            i = j + 1;
        } else if (ch == '$') {
            if (i + 1 < n && s[i + 1] == '(')
                return s_err(why, wcap, "command substitution is not read (vmtp never runs the file)");
            if (!s_expand(s, n, &i, vs, out, &o, cap, &unknown))
                return s_err(why, wcap, "bad ${...} or value longer than %zu bytes", cap - 1);
        } else if (ch == '`') {
            return s_err(why, wcap, "command substitution is not read (vmtp never runs the file)");
        } else if (ch == '\\' && i + 1 < n) {
            if (!s_put(out, &o, cap, s[i + 1]))
                return s_err(why, wcap, "value longer than %zu bytes", cap - 1);
            i += 2;
        } else if (ch == ' ' || ch == '\t' || ch == ';') {
            break; /* the end of the word: `export A=b; ...` or a trailing comment */
        } else {
            if (!s_put(out, &o, cap, ch))
                return s_err(why, wcap, "value longer than %zu bytes", cap - 1);
            i++;
        }
    }
    return unknown ? 1 : 0;
}

int os_creds_from_openrc_string(const char *name, const char *text, size_t len, os_creds_t *c, char *why, size_t cap)
{
    s_vars_t vs = {.n = 0};
    char value[4200];
    char msg[300];
    int rc = 0;
    unsigned line = 0, used = 0;
    for (size_t pos = 0; pos < len;) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        line++;
        const char *s = text + pos;
        size_t n = end - pos;
        pos = end + 1;
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (!n || *s == '#')
            continue;
        if (n > 7 && !strncmp(s, "export", 6) && (s[6] == ' ' || s[6] == '\t')) {
            s += 7, n -= 7;
            while (n && (*s == ' ' || *s == '\t'))
                s++, n--;
        }
        size_t k = 0;
        while (k < n && (isalnum((unsigned char)s[k]) || s[k] == '_'))
            k++;
        if (!k || k >= n || s[k] != '=' || isdigit((unsigned char)s[0]))
            continue; /* not an assignment: another shell line, skipped */
        char var[64];
        if (k >= sizeof var) {
            rc = s_err(why, cap, "%s:%u: variable name too long", name, line);
            goto out;
        }
        memcpy(var, s, k);
        var[k] = 0;
        int w = s_word(s + k + 1, n - k - 1, &vs, value, sizeof value, msg, sizeof msg);
        if (w < 0) {
            rc = s_err(why, cap, "%s:%u: %s: %s", name, line, var, msg);
            goto out;
        }
        /* remember it for later expansions (a later assignment wins) */
        char *copy = w == 0 ? strdup(value) : NULL;
        unsigned slot = vs.n;
        for (unsigned i = 0; i < vs.n; i++)
            if (!strcmp(vs.v[i].name, var))
                slot = i;
        if (slot < sizeof vs.v / sizeof vs.v[0]) {
            if (slot < vs.n && vs.v[slot].value) {
                explicit_bzero(vs.v[slot].value, strlen(vs.v[slot].value));
                free(vs.v[slot].value);
            }
            snprintf(vs.v[slot].name, sizeof vs.v[slot].name, "%s", var);
            vs.v[slot].value = copy;
            if (slot == vs.n)
                vs.n++;
        } else {
            free(copy);
        }
        if (w == 1 || strncmp(var, "OS_", 3) != 0)
            continue; /* unknown value ($OS_PASSWORD_INPUT of a `read`): left to the prompt */
        int r = s_set_env(c, var, value, msg, sizeof msg);
        if (r < 0) {
            rc = s_err(why, cap, "%s:%u: %s", name, line, msg);
            goto out;
        }
        used += (unsigned)r;
    }
    if (!used) {
        rc = s_err(why, cap, "%s: no OS_* variable is set in it (an openrc exports OS_AUTH_URL, OS_USERNAME, ...)",
                   name);
        goto out;
    }
    snprintf(c->source, sizeof c->source, "openrc %s", name);
out:
    explicit_bzero(value, sizeof value);
    s_vars_fini(&vs);
    return rc;
}

int os_creds_from_openrc(const char *path, os_creds_t *c, char *why, size_t cap)
{
    char *text = NULL;
    size_t len = 0;
    int rc = text_read_file(path, S_MAX_FILE, "openrc file", &text, &len, why, cap);
    if (rc < 0)
        return rc;
    rc = os_creds_from_openrc_string(path, text, len, c, why, cap);
    explicit_bzero(text, len);
    free(text);
    return rc;
}

/* ---- clouds.yaml -------------------------------------------------------------------------------- */

static const char *s_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *s_map_get(yaml_document_t *doc, const yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const char *k = s_scalar(yaml_document_get_node(doc, p->key));
        if (k && !strcmp(k, key))
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

/* Sets the fields of one mapping (the cloud's, or its auth:). */
static int s_yaml_map(yaml_document_t *doc, const yaml_node_t *m, bool auth, const char *name, const char *cloud,
                      os_creds_t *c, char *why, size_t cap)
{
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(doc, p->value);
        const char *k = s_scalar(kn);
        unsigned line = vn ? (unsigned)vn->start_mark.line + 1 : 0;
        if (!k)
            continue;
        if (!auth && (!strcmp(k, "verify") || !strcmp(k, "insecure"))) {
            const char *v = s_scalar(vn);
            if (!v)
                return s_err(why, cap, "%s:%u: clouds.%s.%s: expected true or false", name, line, cloud, k);
            bool word = s_truthy(v) || s_falsy(v);
            if (!strcmp(k, "verify") && !word) { /* openstacksdk: a path is the CA bundle, verification stays on */
                if (strlen(v) >= sizeof c->cacert)
                    return s_err(why, cap, "%s:%u: clouds.%s.verify: longer than %zu bytes", name, line, cloud,
                                 sizeof c->cacert - 1);
                snprintf(c->cacert, sizeof c->cacert, "%s", v);
                c->insecure = false;
                continue;
            }
            if (!word)
                return s_err(why, cap, "%s:%u: clouds.%s.%s: expected true or false, not '%.64s'", name, line, cloud, k,
                             v);
            c->insecure = !strcmp(k, "verify") ? s_falsy(v) : s_truthy(v);
            continue;
        }
        if (!auth && !strcmp(k, "identity_api_version")) {
            const char *v = s_scalar(vn);
            if (v && strcmp(v, "3") != 0)
                return s_err(why, cap, "%s:%u: clouds.%s.identity_api_version: %.16s: vmtp speaks Keystone v3 only",
                             name, line, cloud, v);
            continue;
        }
        if (auth && !strcmp(k, "domain_name")) { /* the default of both domains */
            const char *v = s_scalar(vn);
            if (v && !c->user_domain_name[0])
                snprintf(c->user_domain_name, sizeof c->user_domain_name, "%s", v);
            if (v && !c->project_domain_name[0])
                snprintf(c->project_domain_name, sizeof c->project_domain_name, "%s", v);
            continue;
        }
        for (size_t i = 0; i < sizeof s_fields / sizeof s_fields[0]; i++) {
            if (!s_fields[i].yaml || s_fields[i].auth != auth || strcmp(s_fields[i].yaml, k) != 0)
                continue;
            const char *v = s_scalar(vn);
            if (!v)
                return s_err(why, cap, "%s:%u: clouds.%s.%s%s: expected a string", name, line, cloud,
                             auth ? "auth." : "", k);
            if (strlen(v) >= s_fields[i].size)
                return s_err(why, cap, "%s:%u: clouds.%s.%s%s: longer than %zu bytes", name, line, cloud,
                             auth ? "auth." : "", k, s_fields[i].size - 1);
            char *dst = (char *)c + s_fields[i].off;
            snprintf(dst, s_fields[i].size, "%s", v);
            if (s_fields[i].off == offsetof(os_creds_t, interface))
                s_norm_interface(dst);
        }
    }
    return 0;
}

int os_creds_from_clouds_yaml_string(const char *name, const char *text, size_t len, const char *cloud, os_creds_t *c,
                                     char *why, size_t cap)
{
    yaml_document_t doc;
    int rc = text_yaml_load(name, text, len, &doc, why, cap);
    if (rc < 0)
        return rc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *clouds = s_map_get(&doc, root, "clouds");
    if (!clouds || clouds->type != YAML_MAPPING_NODE) {
        rc = s_err(why, cap, "%s: no clouds: mapping", name);
        goto out;
    }
    yaml_node_t *entry = s_map_get(&doc, clouds, cloud);
    if (!entry) {
        char names[400] = "";
        size_t o = 0;
        for (yaml_node_pair_t *p = clouds->data.mapping.pairs.start; p < clouds->data.mapping.pairs.top; p++) {
            const char *k = s_scalar(yaml_document_get_node(&doc, p->key));
            if (k && o < sizeof names)
                o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", o ? ", " : "", k);
        }
        snprintf(why, cap, "%s: no cloud '%s' in it (it has: %s)", name, cloud, names[0] ? names : "none");
        rc = -ENOENT;
        goto out;
    }
    if (entry->type != YAML_MAPPING_NODE) {
        rc = s_err(why, cap, "%s:%zu: clouds.%s: expected a mapping", name, entry->start_mark.line + 1, cloud);
        goto out;
    }
    rc = s_yaml_map(&doc, entry, false, name, cloud, c, why, cap);
    yaml_node_t *auth = s_map_get(&doc, entry, "auth");
    if (!rc && auth && auth->type != YAML_MAPPING_NODE)
        rc = s_err(why, cap, "%s:%zu: clouds.%s.auth: expected a mapping", name, auth->start_mark.line + 1, cloud);
    if (!rc && auth)
        rc = s_yaml_map(&doc, auth, true, name, cloud, c, why, cap);
    if (!rc)
        snprintf(c->source, sizeof c->source, "clouds.yaml %s, cloud %s", name, cloud);
out:
    /* the document holds the password: wipe its scalars before freeing */
    for (yaml_node_t *n = doc.nodes.start; n < doc.nodes.top; n++)
        if (n->type == YAML_SCALAR_NODE && n->data.scalar.value)
            explicit_bzero(n->data.scalar.value, n->data.scalar.length);
    yaml_document_delete(&doc);
    return rc;
}

int os_creds_from_clouds_yaml(const char *path, const char *cloud, os_creds_t *c, char *why, size_t cap)
{
    char home[4200] = "";
    const char *h = getenv("HOME");
    if (h)
        snprintf(home, sizeof home, "%s/.config/openstack/clouds.yaml", h);
    const char *cands[] = {path ? path : getenv("OS_CLIENT_CONFIG_FILE"), path ? NULL : "clouds.yaml",
                           path || !h ? NULL : home, path ? NULL : "/etc/openstack/clouds.yaml"};
    char looked[900] = "";
    size_t o = 0;
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (!cands[i] || !cands[i][0])
            continue;
        if (access(cands[i], F_OK) != 0) {
            if (o < sizeof looked)
                o += (size_t)snprintf(looked + o, sizeof looked - o, "%s%s", o ? ", " : "", cands[i]);
            continue;
        }
        char *text = NULL;
        size_t len = 0;
        int rc = text_read_file(cands[i], S_MAX_FILE, "clouds.yaml", &text, &len, why, cap);
        if (rc < 0)
            return rc;
        rc = os_creds_from_clouds_yaml_string(cands[i], text, len, cloud, c, why, cap);
        explicit_bzero(text, len);
        free(text);
        return rc;
    }
    snprintf(why, cap, "cloud '%s': no clouds.yaml found (looked at %s)", cloud, looked[0] ? looked : "nothing");
    return -ENOENT;
}

/* ---- checks --------------------------------------------------------------------------------- */

int os_creds_check(os_creds_t *c, char *why, size_t cap)
{
    const char *src = c->source[0] ? c->source : "the credentials";
    if (!c->auth_url[0])
        return s_err(why, cap, "%s: no auth URL (OS_AUTH_URL / auth.auth_url)", src);
    bool appcred = c->app_cred_id[0] || c->app_cred_name[0] || c->app_cred_secret[0];
    if (!c->auth_type[0])
        snprintf(c->auth_type, sizeof c->auth_type, "%s", appcred ? "v3applicationcredential" : "password");
    if (!strcmp(c->auth_type, "v3password"))
        snprintf(c->auth_type, sizeof c->auth_type, "password");
    if (!strcmp(c->auth_type, "v3applicationcredential")) {
        if (!c->app_cred_secret[0])
            return s_err(why, cap, "%s: application credential without a secret (OS_APPLICATION_CREDENTIAL_SECRET)",
                         src);
        if (!c->app_cred_id[0] && !(c->app_cred_name[0] && (c->user_id[0] || c->username[0])))
            return s_err(why, cap,
                         "%s: application credential needs its id (OS_APPLICATION_CREDENTIAL_ID), or its name with "
                         "the user",
                         src);
    } else if (!strcmp(c->auth_type, "password")) {
        if (!c->username[0] && !c->user_id[0])
            return s_err(why, cap, "%s: no user (OS_USERNAME or OS_USER_ID)", src);
        if (!c->project_name[0] && !c->project_id[0])
            return s_err(why, cap, "%s: no project (OS_PROJECT_NAME or OS_PROJECT_ID)", src);
    } else {
        return s_err(why, cap, "%s: auth type '%.31s' is not supported (password, v3applicationcredential)", src,
                     c->auth_type);
    }
    if (c->username[0] && !c->user_id[0] && !c->user_domain_name[0] && !c->user_domain_id[0])
        snprintf(c->user_domain_name, sizeof c->user_domain_name, "Default");
    if (c->project_name[0] && !c->project_id[0] && !c->project_domain_name[0] && !c->project_domain_id[0])
        snprintf(c->project_domain_name, sizeof c->project_domain_name, "%s",
                 c->user_domain_name[0] ? c->user_domain_name : "Default");
    if (!c->interface[0])
        snprintf(c->interface, sizeof c->interface, "public");
    if (strcmp(c->interface, "public") && strcmp(c->interface, "internal") && strcmp(c->interface, "admin"))
        return s_err(why, cap, "%s: interface '%s' is not public, internal or admin", src, c->interface);
    char url[600], uwhy[200];
    if (os_creds_identity_url(c, url, sizeof url, uwhy, sizeof uwhy) < 0)
        return s_err(why, cap, "%s: %s", src, uwhy);
    return 0;
}

bool os_creds_need_password(const os_creds_t *c) { return !strcmp(c->auth_type, "password") && !c->password[0]; }

int os_creds_prompt_password(os_creds_t *c)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -ENOTTY;
    struct termios old, quiet;
    if (tcgetattr(fd, &old) != 0) {
        close(fd);
        return -ENOTTY;
    }
    /* Echo off (and what was typed ahead flushed) before the prompt shows, as getpass does: what is
     * typed once the prompt is there is neither echoed nor thrown away. */
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    tcsetattr(fd, TCSAFLUSH, &quiet);
    char prompt[700];
    int pl = snprintf(prompt, sizeof prompt,
                      "OpenStack password for %s@%s: ", c->username[0] ? c->username : c->user_id, c->auth_url);
    if (write(fd, prompt, (size_t)(pl < (int)sizeof prompt ? pl : (int)sizeof prompt - 1)) < 0) {
        int e = errno;
        tcsetattr(fd, TCSAFLUSH, &old);
        close(fd);
        return -e;
    }
    size_t o = 0;
    char ch;
    ssize_t r;
    while ((r = read(fd, &ch, 1)) == 1 && ch != '\n' && ch != '\r')
        if (o + 1 < sizeof c->password)
            c->password[o++] = ch;
    c->password[o] = 0;
    tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
    }
    close(fd);
    return r < 0 ? -EIO : 0;
}

int os_creds_identity_url(const os_creds_t *c, char *out, size_t cap, char *why, size_t wcap)
{
    const char *u = c->auth_url;
    if (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0)
        return s_err(why, wcap, "auth URL '%.200s' is not http:// or https://", u);
    size_t n = strlen(u);
    while (n && u[n - 1] == '/')
        n--;
    if (n >= 5 && !strncmp(u + n - 5, "/v2.0", 5))
        return s_err(why, wcap, "auth URL '%.200s' is Keystone v2.0: vmtp speaks v3 only", u);
    bool v3 = n >= 3 && !strncmp(u + n - 3, "/v3", 3);
    if ((size_t)snprintf(out, cap, "%.*s%s", (int)n, u, v3 ? "" : "/v3") >= cap)
        return s_err(why, wcap, "auth URL too long");
    return 0;
}

void os_creds_wipe(os_creds_t *c)
{
    explicit_bzero(c->password, sizeof c->password);
    explicit_bzero(c->app_cred_secret, sizeof c->app_cred_secret);
}

int os_creds_load(const char *rc_file, const char *cloud, bool no_env, const char *password, os_creds_t *c, char *why,
                  size_t cap)
{
    memset(c, 0, sizeof *c);
    const char *env_cloud = no_env ? NULL : getenv("OS_CLOUD");
    int rc = 0;
    if (rc_file)
        rc = os_creds_from_openrc(rc_file, c, why, cap);
    else if (cloud || (env_cloud && env_cloud[0]))
        rc = os_creds_from_clouds_yaml(NULL, cloud ? cloud : env_cloud, c, why, cap);
    else if (!no_env && (rc = os_creds_from_env(c, why, cap)) < 0)
        return rc;
    else if (no_env || rc == 0)
        return s_err(why, cap, "no OpenStack credentials: give -r OPENRC, --os-cloud NAME, or OS_* variables");
    if (rc < 0)
        return rc;
    if (password && password[0])
        snprintf(c->password, sizeof c->password, "%s", password);
    if ((rc = os_creds_check(c, why, cap)) < 0)
        return rc;
    if (os_creds_need_password(c)) {
        rc = os_creds_prompt_password(c);
        if (rc == -ENOTTY) {
            snprintf(why, cap, "%s: no password (give -p, OS_PASSWORD, or run on a terminal to be asked)", c->source);
            return -ENOTTY;
        }
        if (rc < 0)
            return s_err(why, cap, "cannot read the password: %s", strerror(-rc));
    }
    return 0;
}
