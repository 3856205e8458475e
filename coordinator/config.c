/* config.c — defaults, YAML loading, command-line overrides; see config.h. */
#include "config.h"

#include "textutil.h"

#include "vmtp/log.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define S_ID(...) __VA_ARGS__
#define S_FILE_MAX (1 << 20) /* a config file larger than this is not a config file */

typedef enum { K_STR, K_UINT, K_BOOL, K_UINTS, K_STRS, K_RANGE, K_ENUM, K_IGNORED, K_FLAVOR } s_kind_t;

/* String lists that need other than 1..max entries: VMTP's two test networks need one name and CIDR
 * each; no DNS servers at all is a valid choice. */
static unsigned s_list_min(const char *key)
{
    static const struct {
        const char *key;
        unsigned min;
    } mins[] = {{"dns_nameservers", 0},           {"internal_network_name", 2}, {"internal_subnet_name", 2},
                {"internal_subnet_name_ipv6", 2}, {"internal_cidr", 2},         {"internal_cidr_v6", 2}};
    for (size_t i = 0; i < sizeof mins / sizeof mins[0]; i++)
        if (!strcmp(mins[i].key, key))
            return mins[i].min;
    return 1;
}

typedef struct {
    s_kind_t kind;
    const char *name;
    size_t off;          /* in config_t */
    double a, b;         /* bounds (see config.def) */
    const char *choices; /* ENUM */
    const char *doc;
} s_key_t;

#define S_ENTRY_STR(name, a, b, doc) {K_STR, #name, offsetof(config_t, name), a, b, NULL, doc},
#define S_ENTRY_UINT(name, a, b, doc) {K_UINT, #name, offsetof(config_t, name), a, b, NULL, doc},
#define S_ENTRY_BOOL(name, a, b, doc) {K_BOOL, #name, offsetof(config_t, name), a, b, NULL, doc},
#define S_ENTRY_UINTS(name, a, b, doc) {K_UINTS, #name, offsetof(config_t, name), a, b, NULL, doc},
#define S_ENTRY_STRS(name, a, b, doc) {K_STRS, #name, offsetof(config_t, name), a, b, NULL, doc},
#define S_ENTRY_RANGE(name, a, b, doc) {K_RANGE, #name, offsetof(config_t, name), a, b, NULL, doc},
#define S_ENTRY_ENUM(name, a, b, doc) {K_ENUM, #name, offsetof(config_t, name), 0, 0, a, doc},
#define S_ENTRY_IGNORED(name, a, b, doc) {K_IGNORED, #name, offsetof(config_t, name), 0, 0, NULL, doc},
#define S_ENTRY_FLAVOR(name, a, b, doc) {K_FLAVOR, #name, offsetof(config_t, name), 0, 0, NULL, doc},
#define S_ENTRY(kind, name, a, b, def, doc) S_ENTRY_##kind(name, a, b, doc)
static const s_key_t s_keys[] = {CONFIG_KEYS(S_ENTRY)};
#undef S_ENTRY
#define S_NKEYS (sizeof s_keys / sizeof s_keys[0])

/* Lists in config.def hold at most CONFIG_LIST_MAX entries. */
#define S_CHECK_UINTS(name, a, b) _Static_assert((a) <= CONFIG_LIST_MAX, #name " allows too many entries");
#define S_CHECK_STRS(name, a, b) _Static_assert((a) <= CONFIG_LIST_MAX, #name " allows too many entries");
#define S_CHECK_STR(name, a, b)
#define S_CHECK_UINT(name, a, b)
#define S_CHECK_BOOL(name, a, b)
#define S_CHECK_RANGE(name, a, b)
#define S_CHECK_ENUM(name, a, b)
#define S_CHECK_IGNORED(name, a, b)
#define S_CHECK_FLAVOR(name, a, b)
#define S_CHECK(kind, name, a, b, def, doc) S_CHECK_##kind(name, a, b)
CONFIG_KEYS(S_CHECK)
#undef S_CHECK

unsigned config_key_count(void) { return (unsigned)S_NKEYS; }
const char *config_key_name(unsigned i) { return i < S_NKEYS ? s_keys[i].name : NULL; }
const char *config_key_doc(unsigned i) { return i < S_NKEYS ? s_keys[i].doc : NULL; }

/* ---- defaults ---------------------------------------------------------------------------------- */

static int s_dup(char **dst, const char *src)
{
    free(*dst);
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -ENOMEM;
}

static const char *s_or_empty(const char *s) { return s ? s : ""; }

#define S_DEF_STR(name, def)                                                                                           \
    if (s_dup(&c->name, def) < 0)                                                                                      \
        rc = -ENOMEM;
#define S_DEF_UINT(name, def) c->name = (def);
#define S_DEF_BOOL(name, def) c->name = (def);
#define S_DEF_UINTS(name, def)                                                                                         \
    {                                                                                                                  \
        static const uint64_t d[] = {S_ID def};                                                                        \
        c->name.n = (unsigned)(sizeof d / sizeof d[0]);                                                                \
        memcpy(c->name.v, d, sizeof d);                                                                                \
    }
#define S_DEF_STRS(name, def)                                                                                          \
    {                                                                                                                  \
        static const char *const d[] = {S_ID def};                                                                     \
        c->name.n = (unsigned)(sizeof d / sizeof d[0]);                                                                \
        for (unsigned i = 0; i < c->name.n; i++)                                                                       \
            if (s_dup(&c->name.v[i], d[i]) < 0)                                                                        \
                rc = -ENOMEM;                                                                                          \
    }
#define S_DEF_RANGE(name, def)                                                                                         \
    {                                                                                                                  \
        static const double d[] = {S_ID def};                                                                          \
        c->name.lo = d[0];                                                                                             \
        c->name.hi = d[1];                                                                                             \
    }
#define S_DEF_ENUM(name, def) snprintf(c->name, sizeof c->name, "%s", s_or_empty(def));
#define S_DEF_IGNORED(name, def) c->name = false;
#define S_DEF_FLAVOR(name, def)                                                                                        \
    {                                                                                                                  \
        static const uint64_t d[] = {S_ID def};                                                                        \
        c->name.vcpus = d[0];                                                                                          \
        c->name.ram = d[1];                                                                                            \
        c->name.disk = d[2];                                                                                           \
    }
#define S_DEF(kind, name, a, b, def, doc) S_DEF_##kind(name, def)

int config_defaults(config_t *c)
{
    int rc = 0;
    memset(c, 0, sizeof *c);
    CONFIG_KEYS(S_DEF)
    if (rc < 0)
        config_fini(c);
    return rc;
}
#undef S_DEF

static void s_flavor_clear_specs(config_flavor_t *f)
{
    for (unsigned i = 0; i < CONFIG_LIST_MAX; i++) {
        free(f->spec_key[i]);
        free(f->spec_val[i]);
        f->spec_key[i] = f->spec_val[i] = NULL;
    }
    f->n_specs = 0;
}

void config_fini(config_t *c)
{
    for (size_t k = 0; k < S_NKEYS; k++) {
        void *p = (char *)c + s_keys[k].off;
        if (s_keys[k].kind == K_STR) {
            free(*(char **)p);
            *(char **)p = NULL;
        } else if (s_keys[k].kind == K_STRS) {
            struct {
                unsigned n;
                char *v[CONFIG_LIST_MAX];
            } *l = p;
            for (unsigned i = 0; i < CONFIG_LIST_MAX; i++) {
                free(l->v[i]);
                l->v[i] = NULL;
            }
            l->n = 0;
        } else if (s_keys[k].kind == K_FLAVOR) {
            s_flavor_clear_specs(p);
        }
    }
}

/* ---- values ------------------------------------------------------------------------------------ */

typedef struct {
    unsigned n;
    uint64_t v[CONFIG_LIST_MAX];
} s_uints_t;
typedef struct {
    unsigned n;
    char *v[CONFIG_LIST_MAX];
} s_strs_t;
typedef struct {
    double lo, hi;
} s_range_t;

static const s_key_t *s_find(const char *name)
{
    for (size_t k = 0; k < S_NKEYS; k++)
        if (!strcmp(s_keys[k].name, name))
            return &s_keys[k];
    return NULL;
}

static const char *s_closest(const char *name)
{
    const char *names[S_NKEYS];
    for (size_t k = 0; k < S_NKEYS; k++)
        names[k] = s_keys[k].name;
    return text_closest(name, names, S_NKEYS, 3);
}

static bool s_is_null(const char *v)
{
    return !v[0] || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static int s_parse_uint(const char *v, double lo, double hi, uint64_t *out, char *why, size_t cap)
{
    const char *p = v;
    while (*p == ' ')
        p++;
    if (*p < '0' || *p > '9') {
        snprintf(why, cap, "'%.64s' is not a whole number", v);
        return -EINVAL;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long x = strtoull(p, &end, 10);
    while (end && *end == ' ')
        end++;
    if (errno || !end || *end) {
        snprintf(why, cap, "'%.64s' is not a whole number", v);
        return -EINVAL;
    }
    if ((double)x < lo || (double)x > hi) {
        snprintf(why, cap, "%llu is out of range %.0f..%.0f", x, lo, hi);
        return -EINVAL;
    }
    *out = (uint64_t)x;
    return 0;
}

static int s_parse_num(const char *v, double lo, double hi, double *out, char *why, size_t cap)
{
    errno = 0;
    char *end = NULL;
    double x = strtod(v, &end);
    while (end && *end == ' ')
        end++;
    if (errno || !end || end == v || *end || !isfinite(x)) {
        snprintf(why, cap, "'%.64s' is not a number", v);
        return -EINVAL;
    }
    if (x < lo || x > hi) {
        snprintf(why, cap, "%g is out of range %g..%g", x, lo, hi);
        return -EINVAL;
    }
    *out = x;
    return 0;
}

static int s_parse_bool(const char *v, bool *out, char *why, size_t cap)
{
    static const char *const yes[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
    static const char *const no[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!strcmp(v, yes[i])) {
            *out = true;
            return 0;
        }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (!strcmp(v, no[i]) || s_is_null(v)) {
            *out = false;
            return 0;
        }
    snprintf(why, cap, "'%.64s' is not true or false", v);
    return -EINVAL;
}

static int s_parse_enum(const s_key_t *k, const char *v, char *out, size_t outcap, char *why, size_t cap)
{
    const char *ch = k->choices;
    size_t vl = s_is_null(v) ? 0 : strlen(v);
    for (const char *p = ch;;) {
        const char *bar = strchr(p, '|');
        size_t wl = bar ? (size_t)(bar - p) : strlen(p);
        if (wl == vl && !strncmp(p, v, wl) && wl < outcap) {
            memcpy(out, p, wl);
            out[wl] = 0;
            return 0;
        }
        if (!bar)
            break;
        p = bar + 1;
    }
    const char *shown = ch[0] == '|' ? ch + 1 : ch;
    snprintf(why, cap, "'%.64s' is not one of %s%s", v, shown, ch[0] == '|' ? " (or empty)" : "");
    return -EINVAL;
}

/* ---- flavor ----------------------------------------------------------------------------------- */

/* The numeric fields of `flavor` and their ranges (Nova's: ram and swap in MiB, disks in GB). */
static const struct {
    const char *name;
    size_t off;
    double lo, hi;
} s_flavor_fields[] = {
    {"vcpus", offsetof(config_flavor_t, vcpus), 1, 4096},
    {"ram", offsetof(config_flavor_t, ram), 1, 1 << 30},
    {"disk", offsetof(config_flavor_t, disk), 0, 1000000},
    {"ephemeral", offsetof(config_flavor_t, ephemeral), 0, 1000000},
    {"swap", offsetof(config_flavor_t, swap), 0, 1 << 30},
};
#define S_NFLAVOR (sizeof s_flavor_fields / sizeof s_flavor_fields[0])
#define S_FLAVOR_FIELDS "vcpus, ram, disk, ephemeral, swap, extra_specs"

/* Sets the extra spec key to val, replacing one of the same key. Nova's rule for keys: 1..255 of
 * letters, digits and - _ : . and space. */
static int s_flavor_spec(config_flavor_t *f, const char *key, const char *val, char *why, size_t cap)
{
    size_t kl = strlen(key);
    if (!kl || kl > 255 || strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:. ") != kl) {
        snprintf(why, cap, "extra spec '%.64s': a key is 1 to 255 letters, digits and - _ : . or space", key);
        return -EINVAL;
    }
    char sub[200];
    if (strlen(val) > 255) {
        snprintf(why, cap, "extra spec '%.64s': its value is longer than 255 bytes", key);
        return -EINVAL;
    }
    if (text_plain_check(val, strlen(val), sub, sizeof sub) < 0) {
        snprintf(why, cap, "extra spec '%.64s': its value has %s", key, sub);
        return -EINVAL;
    }
    unsigned i = 0;
    while (i < f->n_specs && strcmp(f->spec_key[i], key))
        i++;
    if (i == CONFIG_LIST_MAX) {
        snprintf(why, cap, "more than %d extra specs", CONFIG_LIST_MAX);
        return -EINVAL;
    }
    char *k = strdup(key), *v = strdup(val);
    if (!k || !v) {
        free(k);
        free(v);
        return -ENOMEM;
    }
    if (i < f->n_specs) {
        free(f->spec_key[i]);
        free(f->spec_val[i]);
    } else {
        f->n_specs++;
    }
    f->spec_key[i] = k;
    f->spec_val[i] = v;
    return 0;
}

/* Sets one field ("vcpus" ... "swap", or "extra_specs.KEY") from its text. */
static int s_flavor_set(config_flavor_t *f, const char *name, const char *val, char *why, size_t cap)
{
    if (!strncmp(name, "extra_specs.", 12))
        return s_flavor_spec(f, name + 12, val, why, cap);
    for (size_t i = 0; i < S_NFLAVOR; i++)
        if (!strcmp(name, s_flavor_fields[i].name)) {
            char sub[200];
            uint64_t *p = (uint64_t *)((char *)f + s_flavor_fields[i].off);
            if (s_parse_uint(val, s_flavor_fields[i].lo, s_flavor_fields[i].hi, p, sub, sizeof sub) < 0) {
                snprintf(why, cap, "%s: %s", name, sub);
                return -EINVAL;
            }
            return 0;
        }
    snprintf(why, cap, "'%.64s' is not a flavor field (%s)", name, S_FLAVOR_FIELDS);
    return -EINVAL;
}

/* The command line's form, "vcpus=2,ram=4096,extra_specs.hw:cpu_policy=dedicated". */
static int s_flavor_set_string(config_flavor_t *f, const char *text, char *why, size_t cap)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", text) >= (int)sizeof buf) {
        snprintf(why, cap, "value too long");
        return -EINVAL;
    }
    unsigned n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), n++) {
        while (*t == ' ')
            t++;
        char *eq = strchr(t, '=');
        if (!eq) {
            snprintf(why, cap, "'%.64s' is not FIELD=VALUE (fields: %s)", t, S_FLAVOR_FIELDS);
            return -EINVAL;
        }
        *eq = 0;
        int rc = s_flavor_set(f, t, eq + 1, why, cap);
        if (rc < 0)
            return rc;
    }
    if (!n) {
        snprintf(why, cap, "expects FIELD=VALUE,... (fields: %s)", S_FLAVOR_FIELDS);
        return -EINVAL;
    }
    return 0;
}

/* Sets key k from a list of n scalar strings (n = 1 and !is_list for a scalar). */
static int s_apply(config_t *c, const s_key_t *k, const char *const *vals, unsigned n, bool is_list, char *why,
                   size_t cap)
{
    void *p = (char *)c + k->off;
    int rc = 0;
    if (is_list && k->kind != K_UINTS && k->kind != K_STRS && k->kind != K_RANGE) {
        snprintf(why, cap, "expects a single value, not a list");
        return -EINVAL;
    }
    switch (k->kind) {
    case K_STR: {
        if (strlen(vals[0]) > (size_t)k->b) {
            snprintf(why, cap, "longer than %.0f bytes", k->b);
            return -EINVAL;
        }
        char bad[200];
        if (text_plain_check(vals[0], strlen(vals[0]), bad, sizeof bad) < 0) {
            snprintf(why, cap, "has %s", bad);
            return -EINVAL;
        }
        return s_dup((char **)p, s_is_null(vals[0]) ? NULL : vals[0]);
    }
    case K_UINT: return s_parse_uint(vals[0], k->a, k->b, (uint64_t *)p, why, cap);
    case K_BOOL: return s_parse_bool(vals[0], (bool *)p, why, cap);
    case K_ENUM: return s_parse_enum(k, vals[0], (char *)p, 32, why, cap);
    case K_IGNORED:
        *(bool *)p = true;
        LOG_WARN("config key '%s' ignored: %s", k->name, k->doc);
        return 0;
    case K_FLAVOR: return s_flavor_set_string(p, vals[0], why, cap);
    case K_UINTS: {
        s_uints_t tmp = {0};
        if (n == 0 || n > (unsigned)k->a) {
            snprintf(why, cap, "needs 1 to %.0f values, got %u", k->a, n);
            return -EINVAL;
        }
        for (unsigned i = 0; i < n && rc == 0; i++) {
            char sub[200];
            rc = s_parse_uint(vals[i], 1, k->b, &tmp.v[i], sub, sizeof sub);
            if (rc < 0)
                snprintf(why, cap, "entry %u: %s", i + 1, sub);
        }
        if (rc == 0) {
            tmp.n = n;
            memcpy(p, &tmp, sizeof tmp);
        }
        return rc;
    }
    case K_STRS: {
        unsigned min = s_list_min(k->name);
        if (n < min || n > (unsigned)k->a) {
            if (min == (unsigned)k->a)
                snprintf(why, cap, "needs exactly %u values, got %u", min, n);
            else
                snprintf(why, cap, "needs %u to %.0f values, got %u", min, k->a, n);
            return -EINVAL;
        }
        for (unsigned i = 0; i < n; i++) {
            char sub[200];
            if (strlen(vals[i]) > (size_t)k->b) {
                snprintf(why, cap, "entry %u is longer than %.0f bytes", i + 1, k->b);
                return -EINVAL;
            }
            if (text_plain_check(vals[i], strlen(vals[i]), sub, sizeof sub) < 0) {
                snprintf(why, cap, "entry %u has %s", i + 1, sub);
                return -EINVAL;
            }
        }
        s_strs_t *l = p;
        for (unsigned i = 0; i < CONFIG_LIST_MAX; i++) {
            free(l->v[i]);
            l->v[i] = NULL;
        }
        l->n = 0;
        for (unsigned i = 0; i < n; i++)
            if (s_dup(&l->v[i], vals[i]) < 0)
                return -ENOMEM;
        l->n = n;
        return 0;
    }
    case K_RANGE: {
        s_range_t r;
        if (n != 2) {
            snprintf(why, cap, "needs two values [low, high], got %u", n);
            return -EINVAL;
        }
        char sub[200];
        if (s_parse_num(vals[0], k->a, k->b, &r.lo, sub, sizeof sub) < 0 ||
            s_parse_num(vals[1], k->a, k->b, &r.hi, sub, sizeof sub) < 0) {
            snprintf(why, cap, "%s", sub);
            return -EINVAL;
        }
        if (r.lo > r.hi) {
            snprintf(why, cap, "low %g is above high %g", r.lo, r.hi);
            return -EINVAL;
        }
        memcpy(p, &r, sizeof r);
        return 0;
    }
    }
    return -EINVAL;
}

int config_set(config_t *c, const char *key, const char *value, char *why, size_t cap)
{
    const s_key_t *k = s_find(key);
    if (!k) {
        snprintf(why, cap, "unknown key '%.64s'", key);
        return -ENOENT;
    }
    bool list = k->kind == K_UINTS || k->kind == K_STRS || k->kind == K_RANGE;
    if (!list)
        return s_apply(c, k, &value, 1, false, why, cap);
    char buf[4096];
    if (strlen(value) >= sizeof buf) {
        snprintf(why, cap, "value too long");
        return -EINVAL;
    }
    snprintf(buf, sizeof buf, "%s", value);
    const char *vals[CONFIG_LIST_MAX + 1];
    unsigned n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (n == CONFIG_LIST_MAX + 1) {
            snprintf(why, cap, "more than %d values", CONFIG_LIST_MAX);
            return -EINVAL;
        }
        vals[n++] = t;
    }
    if (!n) {
        snprintf(why, cap, "expects a comma-separated list of values");
        return -EINVAL;
    }
    return s_apply(c, k, vals, n, true, why, cap);
}

/* ---- YAML -------------------------------------------------------------------------------------- */

static const char *s_node_kind(const yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE ? "a mapping" : n->type == YAML_SEQUENCE_NODE ? "a list" : "a value";
}

/* A scalar's text, or NULL when it holds a NUL (an escaped "\0" would cut the value short unseen). */
static const char *s_scalar_text(const yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;
    return strlen(v) == n->data.scalar.length ? v : NULL;
}

/* `flavor:` in YAML: nothing (keep), or a mapping of the fields, extra_specs a mapping of its own
 * that replaces the specs before it. *line follows the node being read, for the caller's message. */
static int s_flavor_yaml(config_flavor_t *f, yaml_document_t *doc, const yaml_node_t *vn, size_t *line, char *why,
                         size_t cap)
{
    *line = vn->start_mark.line + 1;
    if (vn->type == YAML_SCALAR_NODE && s_is_null((const char *)vn->data.scalar.value))
        return 0;
    if (vn->type != YAML_MAPPING_NODE) {
        snprintf(why, cap, "expects a mapping of %s, not %s", S_FLAVOR_FIELDS, s_node_kind(vn));
        return -EINVAL;
    }
    bool seen[S_NFLAVOR + 1] = {false};
    for (yaml_node_pair_t *pair = vn->data.mapping.pairs.start; pair < vn->data.mapping.pairs.top; pair++) {
        yaml_node_t *kn = yaml_document_get_node(doc, pair->key), *v = yaml_document_get_node(doc, pair->value);
        if (!kn || !v || kn->type != YAML_SCALAR_NODE) {
            snprintf(why, cap, "a flavor field must be a plain name (%s)", S_FLAVOR_FIELDS);
            return -EINVAL;
        }
        *line = kn->start_mark.line + 1;
        const char *field = (const char *)kn->data.scalar.value;
        size_t idx = 0;
        while (idx < S_NFLAVOR && strcmp(field, s_flavor_fields[idx].name))
            idx++;
        if (idx == S_NFLAVOR && strcmp(field, "extra_specs")) {
            snprintf(why, cap, "'%.64s' is not a flavor field (%s)", field, S_FLAVOR_FIELDS);
            return -EINVAL;
        }
        if (seen[idx]) {
            snprintf(why, cap, "flavor field '%s' appears twice", field);
            return -EINVAL;
        }
        seen[idx] = true;
        if (idx < S_NFLAVOR) {
            if (v->type != YAML_SCALAR_NODE) {
                snprintf(why, cap, "%s expects a value, not %s", field, s_node_kind(v));
                return -EINVAL;
            }
            const char *text = s_scalar_text(v);
            if (!text) {
                snprintf(why, cap, "%s holds a NUL character", field);
                return -EINVAL;
            }
            int rc = s_flavor_set(f, field, text, why, cap);
            if (rc < 0)
                return rc;
            continue;
        }
        s_flavor_clear_specs(f);
        if (v->type == YAML_SCALAR_NODE && s_is_null((const char *)v->data.scalar.value))
            continue;
        if (v->type != YAML_MAPPING_NODE) {
            snprintf(why, cap, "extra_specs expects a mapping of keys to values, not %s", s_node_kind(v));
            return -EINVAL;
        }
        for (yaml_node_pair_t *sp = v->data.mapping.pairs.start; sp < v->data.mapping.pairs.top; sp++) {
            yaml_node_t *sk = yaml_document_get_node(doc, sp->key), *sv = yaml_document_get_node(doc, sp->value);
            if (sk)
                *line = sk->start_mark.line + 1;
            if (!sk || !sv || sk->type != YAML_SCALAR_NODE || sv->type != YAML_SCALAR_NODE) {
                snprintf(why, cap, "extra_specs: each entry is KEY: VALUE, both plain values");
                return -EINVAL;
            }
            const char *key = s_scalar_text(sk), *val = s_scalar_text(sv);
            if (!key || !val) {
                snprintf(why, cap, "extra_specs: an entry holds a NUL character");
                return -EINVAL;
            }
            for (unsigned i = 0; i < f->n_specs; i++)
                if (!strcmp(f->spec_key[i], key)) {
                    snprintf(why, cap, "extra spec '%.64s' appears twice", key);
                    return -EINVAL;
                }
            int rc = s_flavor_spec(f, key, val, why, cap);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

int config_load_string(config_t *c, const char *name, const char *text, size_t len, char *why, size_t cap)
{
    yaml_document_t doc;
    int rc = text_yaml_load(name, text, len, &doc, why, cap);
    if (rc < 0)
        return rc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) /* an empty file changes nothing */
        goto out;
    if (root->type == YAML_SCALAR_NODE && s_is_null((const char *)root->data.scalar.value))
        goto out;
    if (root->type != YAML_MAPPING_NODE) {
        snprintf(why, cap, "%s:%zu: expected a mapping of keys to values, found %s", name, root->start_mark.line + 1,
                 s_node_kind(root));
        rc = -EINVAL;
        goto out;
    }
    bool seen[S_NKEYS] = {false};
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++) {
        yaml_node_t *kn = yaml_document_get_node(&doc, pair->key);
        yaml_node_t *vn = yaml_document_get_node(&doc, pair->value);
        size_t line = kn ? kn->start_mark.line + 1 : 0;
        if (!kn || kn->type != YAML_SCALAR_NODE || !vn) {
            snprintf(why, cap, "%s:%zu: a key must be a plain name", name, line);
            rc = -EINVAL;
            goto out;
        }
        const char *key = (const char *)kn->data.scalar.value;
        const s_key_t *k = s_find(key);
        if (!k) {
            const char *near = s_closest(key);
            snprintf(why, cap, "%s:%zu: unknown key '%.64s'%s%s%s (vmtp -sc lists every key)", name, line, key,
                     near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
            rc = -EINVAL;
            goto out;
        }
        size_t idx = (size_t)(k - s_keys);
        if (seen[idx]) {
            snprintf(why, cap, "%s:%zu: key '%s' appears twice", name, line, key);
            rc = -EINVAL;
            goto out;
        }
        seen[idx] = true;
        if (k->kind == K_FLAVOR) {
            char sub[300] = "";
            size_t at = line;
            rc = s_flavor_yaml((config_flavor_t *)((char *)c + k->off), &doc, vn, &at, sub, sizeof sub);
            if (rc < 0) {
                snprintf(why, cap, "%s:%zu: key '%s': %s", name, at, key, sub);
                goto out;
            }
            continue;
        }
        const char *vals[CONFIG_LIST_MAX + 1];
        unsigned n = 0;
        bool list = false;
        char sub[300] = "";
        if (vn->type == YAML_SCALAR_NODE) {
            if (!(vals[n++] = s_scalar_text(vn)))
                snprintf(sub, sizeof sub, "the value holds a NUL character");
        } else if (vn->type == YAML_SEQUENCE_NODE) {
            list = true;
            for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top; it++) {
                yaml_node_t *e = yaml_document_get_node(&doc, *it);
                if (!e || e->type != YAML_SCALAR_NODE) {
                    snprintf(sub, sizeof sub, "list entries must be values, not %s", e ? s_node_kind(e) : "?");
                    break;
                }
                if (n == CONFIG_LIST_MAX + 1) {
                    snprintf(sub, sizeof sub, "more than %d values", CONFIG_LIST_MAX);
                    break;
                }
                if (!(vals[n++] = s_scalar_text(e))) {
                    snprintf(sub, sizeof sub, "entry %u holds a NUL character", n);
                    break;
                }
            }
        } else {
            snprintf(sub, sizeof sub, "expects a value or a list, not %s", s_node_kind(vn));
        }
        if (!sub[0] && n == 1 && !list && (k->kind == K_UINTS || k->kind == K_STRS) &&
            s_is_null(vals[0])) /* "key:" with nothing: keep the default */
            continue;
        if (!sub[0] && !list && k->kind == K_RANGE)
            snprintf(sub, sizeof sub, "expects a list [low, high]");
        if (!sub[0])
            rc = s_apply(c, k, vals, n, list, sub, sizeof sub);
        else
            rc = -EINVAL;
        if (rc < 0) {
            snprintf(why, cap, "%s:%zu: key '%s': %s", name, vn->start_mark.line + 1, key, sub);
            goto out;
        }
    }
out:
    yaml_document_delete(&doc);
    return rc;
}

int config_load_file(config_t *c, const char *path, char *why, size_t cap)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = text_read_file(path, S_FILE_MAX, "config file", &buf, &len, why, cap);
    if (rc == 0)
        rc = config_load_string(c, path, buf, len, why, cap);
    free(buf);
    return rc;
}

/* ---- writing ----------------------------------------------------------------------------------- */

static void s_write_str(FILE *out, const char *s)
{
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', out);
        fputc(*s, out);
    }
    fputc('\'', out);
}

/* The shortest of %.15g and %.17g that reads back as x (%g would show 2.1234567 as 2.12346). */
static void s_write_num(FILE *out, double x)
{
    char b[40];
    snprintf(b, sizeof b, "%.15g", x);
    if (strtod(b, NULL) != x)
        snprintf(b, sizeof b, "%.17g", x);
    fputs(b, out);
}

void config_write_yaml(const config_t *c, FILE *out)
{
    fprintf(out, "# vmtp configuration (VMTP's cfg.default.yaml keys, then vmtp's own)\n---\n");
    for (size_t k = 0; k < S_NKEYS; k++) {
        const s_key_t *key = &s_keys[k];
        const void *p = (const char *)c + key->off;
        if (key->kind == K_IGNORED)
            continue;
        fprintf(out, "\n# %s\n%s:", key->doc, key->name);
        switch (key->kind) {
        case K_STR: {
            const char *s = *(char *const *)p;
            if (s) {
                fputc(' ', out);
                s_write_str(out, s);
            }
            break;
        }
        case K_UINT: fprintf(out, " %llu", (unsigned long long)*(const uint64_t *)p); break;
        case K_BOOL: fprintf(out, " %s", *(const bool *)p ? "true" : "false"); break;
        case K_ENUM: fprintf(out, "%s%s", ((const char *)p)[0] ? " " : "", (const char *)p); break;
        case K_UINTS: {
            const s_uints_t *l = p;
            fprintf(out, " [");
            for (unsigned i = 0; i < l->n; i++)
                fprintf(out, "%s%llu", i ? ", " : "", (unsigned long long)l->v[i]);
            fprintf(out, "]");
            break;
        }
        case K_STRS: {
            const s_strs_t *l = p;
            fprintf(out, " [");
            for (unsigned i = 0; i < l->n; i++) {
                fprintf(out, "%s", i ? ", " : "");
                s_write_str(out, l->v[i] ? l->v[i] : "");
            }
            fprintf(out, "]");
            break;
        }
        case K_RANGE: {
            const s_range_t *r = p;
            fprintf(out, " [");
            s_write_num(out, r->lo);
            fprintf(out, ", ");
            s_write_num(out, r->hi);
            fprintf(out, "]");
            break;
        }
        case K_FLAVOR: {
            const config_flavor_t *f = p;
            for (size_t i = 0; i < S_NFLAVOR; i++)
                fprintf(out, "\n  %s: %llu", s_flavor_fields[i].name,
                        (unsigned long long)*(const uint64_t *)((const char *)f + s_flavor_fields[i].off));
            fprintf(out, "\n  extra_specs: {");
            for (unsigned i = 0; i < f->n_specs; i++) {
                fprintf(out, "%s", i ? ", " : "");
                s_write_str(out, f->spec_key[i]);
                fprintf(out, ": ");
                s_write_str(out, f->spec_val[i]);
            }
            fprintf(out, "}");
            break;
        }
        case K_IGNORED: break;
        }
        fputc('\n', out);
    }
}
