/* inventory.c — loading and checking an inventory file; see inventory.h. */
#include "inventory.h"

#include "textutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define S_FILE_MAX (1 << 20)

typedef struct {
    yaml_document_t *doc;
    const char *file;
    char *why;
    size_t cap;
} s_ctx_t;

static int s_err(s_ctx_t *x, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int s_err(s_ctx_t *x, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* no node: the document is empty, and line 1 is where it would start */
    snprintf(x->why, x->cap, "%s:%zu: %s", x->file, n ? n->start_mark.line + 1 : 1, msg);
    return -EINVAL;
}

static const char *s_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool s_is_ip(const char *s)
{
    struct in_addr a4;
    struct in6_addr a6;
    return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

/* A string field into a fixed buffer: present, a scalar, not empty, fits. */
static int s_copy(s_ctx_t *x, const yaml_node_t *v, const char *where, const char *field, char *out, size_t cap)
{
    const char *s = s_scalar(v);
    if (!s)
        return s_err(x, v, "%s: %s must be a value, not %s", where, field,
                     v && v->type == YAML_SEQUENCE_NODE ? "a list" : "a mapping");
    if (!s[0])
        return s_err(x, v, "%s: %s is empty", where, field);
    if (strlen(s) != v->data.scalar.length)
        return s_err(x, v, "%s: %s holds a NUL character", where, field);
    if (strlen(s) >= cap)
        return s_err(x, v, "%s: %s is longer than %zu bytes", where, field, cap - 1);
    char bad[200];
    if (text_plain_check(s, strlen(s), bad, sizeof bad) < 0)
        return s_err(x, v, "%s: %s has %s", where, field, bad);
    snprintf(out, cap, "%s", s);
    return 0;
}

static int s_dup(s_ctx_t *x, const yaml_node_t *v, const char *where, const char *field, char **out)
{
    char buf[4200];
    int rc = s_copy(x, v, where, field, buf, sizeof buf);
    if (rc < 0)
        return rc;
    free(*out);
    *out = strdup(buf);
    memset(buf, 0, sizeof buf); /* host specs may hold a password */
    if (!*out) {
        snprintf(x->why, x->cap, "%s: out of memory", x->file);
        return -ENOMEM;
    }
    return 0;
}

static const char *const s_vm_keys[] = {"name", "role", "ssh", "fixed_ip", "floating_ip", "network", "compute_host"};
static const char *const s_top_keys[] = {"vms", "hosts", "external_host", "private_key_file", "known_hosts"};

static int s_vm(s_ctx_t *x, const yaml_node_t *m, unsigned idx, inventory_vm_t *vm)
{
    char where[96];
    snprintf(where, sizeof where, "vms[%u]", idx);
    if (m->type != YAML_MAPPING_NODE)
        return s_err(x, m, "%s: expected a mapping (name, role, ssh, fixed_ip, network, compute_host)", where);
    vm->line = (unsigned)m->start_mark.line + 1;
    bool seen[7] = {false};
    /* the name first, so every later message can say which VM */
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const char *k = s_scalar(yaml_document_get_node(x->doc, p->key));
        if (k && !strcmp(k, "name")) {
            int rc = s_copy(x, yaml_document_get_node(x->doc, p->value), where, "name", vm->name, sizeof vm->name);
            if (rc < 0)
                return rc;
            snprintf(where, sizeof where, "vms[%u] (%s)", idx, vm->name);
        }
    }
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
        const char *k = s_scalar(kn);
        if (!k)
            return s_err(x, kn, "%s: a key must be a plain name", where);
        size_t f = 0;
        while (f < 7 && strcmp(k, s_vm_keys[f]))
            f++;
        if (f == 7) {
            const char *near = text_closest(k, s_vm_keys, 7, 3);
            return s_err(x, kn,
                         "%s: unknown field '%.64s'%s%s%s (fields: name, role, ssh, fixed_ip, floating_ip, "
                         "network, compute_host)",
                         where, k, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        }
        if (seen[f])
            return s_err(x, kn, "%s: field '%s' appears twice", where, k);
        seen[f] = true;
        int rc = 0;
        switch (f) {
        case 0: break; /* name: done above */
        case 1: {
            const char *r = s_scalar(v);
            if (!r || (strcmp(r, "server") && strcmp(r, "client")))
                return s_err(x, v, "%s: role must be server or client", where);
            vm->server = !strcmp(r, "server");
            break;
        }
        case 2:
            rc = s_dup(x, v, where, "ssh", &vm->ssh);
            if (rc == 0 && !strchr(vm->ssh, '@'))
                return s_err(x, v, "%s: ssh must be USER@HOST[:PASSWORD] (or ssh://USER@HOST:PORT)", where);
            break;
        case 3:
        case 4: {
            char *dst = f == 3 ? vm->fixed_ip : vm->floating_ip;
            rc = s_copy(x, v, where, s_vm_keys[f], dst, sizeof vm->fixed_ip);
            if (rc == 0 && !s_is_ip(dst))
                return s_err(x, v, "%s: %s: '%s' is not an IP address", where, s_vm_keys[f], dst);
            break;
        }
        case 5: rc = s_copy(x, v, where, "network", vm->network, sizeof vm->network); break;
        case 6: rc = s_copy(x, v, where, "compute_host", vm->compute_host, sizeof vm->compute_host); break;
        }
        if (rc < 0)
            return rc;
    }
    static const size_t required[] = {0, 1, 2, 3, 5, 6};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!seen[required[i]])
            return s_err(x, m, "%s: field '%s' is missing", where, s_vm_keys[required[i]]);
    return 0;
}

static int s_top(s_ctx_t *x, const yaml_node_t *root, inventory_t *inv)
{
    if (!root || root->type != YAML_MAPPING_NODE)
        return s_err(x, root,
                     "expected a mapping with vms (and optionally hosts, external_host, private_key_file, "
                     "known_hosts)");
    bool seen[5] = {false};
    const yaml_node_t *vms_node = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
        const char *k = s_scalar(kn);
        if (!k)
            return s_err(x, kn, "a key must be a plain name");
        size_t f = 0;
        while (f < 5 && strcmp(k, s_top_keys[f]))
            f++;
        if (f == 5) {
            const char *near = text_closest(k, s_top_keys, 5, 3);
            return s_err(x, kn,
                         "unknown key '%.64s'%s%s%s (keys: vms, hosts, external_host, private_key_file, "
                         "known_hosts)",
                         k, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        }
        if (seen[f])
            return s_err(x, kn, "key '%s' appears twice", k);
        seen[f] = true;
        int rc = 0;
        switch (f) {
        case 0:
            if (!v || v->type != YAML_SEQUENCE_NODE)
                return s_err(x, v, "vms must be a list of VMs");
            vms_node = v;
            break;
        case 1: {
            if (!v || v->type != YAML_SEQUENCE_NODE)
                return s_err(x, v, "hosts must be a list of USER@HOST");
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                yaml_node_t *e = yaml_document_get_node(x->doc, *it);
                if (inv->n_hosts == INVENTORY_MAX_HOSTS)
                    return s_err(x, e, "hosts: more than %d", INVENTORY_MAX_HOSTS);
                char where[32];
                snprintf(where, sizeof where, "hosts[%u]", inv->n_hosts);
                rc = s_dup(x, e, where, "the entry", &inv->hosts[inv->n_hosts]);
                if (rc < 0)
                    return rc;
                if (!strchr(inv->hosts[inv->n_hosts++], '@'))
                    return s_err(x, e, "%s: expected USER@HOST[:PASSWORD]", where);
            }
            break;
        }
        case 2:
            rc = s_dup(x, v, "external_host", "the value", &inv->external_host);
            if (rc == 0 && !strchr(inv->external_host, '@'))
                return s_err(x, v, "external_host: expected USER@HOST[:PASSWORD]");
            break;
        case 3: rc = s_dup(x, v, "private_key_file", "the value", &inv->private_key_file); break;
        case 4: rc = s_dup(x, v, "known_hosts", "the value", &inv->known_hosts); break;
        }
        if (rc < 0)
            return rc;
    }
    if (!vms_node)
        return s_err(x, root, "vms is missing: list the server VM and its client VMs");
    for (yaml_node_item_t *it = vms_node->data.sequence.items.start; it < vms_node->data.sequence.items.top; it++) {
        if (inv->n_vms == INVENTORY_MAX_VMS)
            return s_err(x, yaml_document_get_node(x->doc, *it), "vms: more than %d", INVENTORY_MAX_VMS);
        int rc = s_vm(x, yaml_document_get_node(x->doc, *it), inv->n_vms, &inv->vms[inv->n_vms]);
        inv->n_vms++;
        if (rc < 0)
            return rc;
    }
    inv->server = -1;
    for (unsigned i = 0; i < inv->n_vms; i++) {
        const inventory_vm_t *vm = &inv->vms[i];
        yaml_node_t at = {.start_mark.line = vm->line ? vm->line - 1 : 0};
        for (unsigned j = 0; j < i; j++)
            if (!strcmp(inv->vms[j].name, vm->name))
                return s_err(x, &at, "vms[%u]: name '%s' is also vms[%u]'s", i, vm->name, j);
        if (vm->server) {
            if (inv->server >= 0)
                return s_err(x, &at, "vms[%u] (%s): a second server (vms[%d] is one already)", i, vm->name,
                             inv->server);
            inv->server = (int)i;
        }
    }
    if (inv->server < 0)
        return s_err(x, vms_node, "vms: no VM has role: server");
    if (inv->n_vms < 2)
        return s_err(x, vms_node, "vms: a server needs at least one client VM");
    return 0;
}

int inventory_load_string(const char *name, const char *text, size_t len, inventory_t *inv, char *why, size_t cap)
{
    memset(inv, 0, sizeof *inv);
    inv->server = -1;
    yaml_document_t doc;
    int rc = text_yaml_load(name, text, len, &doc, why, cap);
    if (rc < 0)
        return rc;
    s_ctx_t x = {.doc = &doc, .file = name, .why = why, .cap = cap};
    rc = s_top(&x, yaml_document_get_root_node(&doc), inv);
    yaml_document_delete(&doc);
    return rc;
}

int inventory_load(const char *path, inventory_t *inv, char *why, size_t cap)
{
    memset(inv, 0, sizeof *inv);
    inv->server = -1;
    char *buf = NULL;
    size_t len = 0;
    int rc = text_read_file(path, S_FILE_MAX, "inventory", &buf, &len, why, cap);
    if (rc == 0) {
        rc = inventory_load_string(path, buf, len, inv, why, cap);
        memset(buf, 0, len); /* host specs may hold passwords */
    }
    free(buf);
    return rc;
}

static void s_wipe_free(char **p)
{
    if (*p)
        memset(*p, 0, strlen(*p));
    free(*p);
    *p = NULL;
}

void inventory_fini(inventory_t *inv)
{
    for (unsigned i = 0; i < INVENTORY_MAX_VMS; i++)
        s_wipe_free(&inv->vms[i].ssh);
    for (unsigned i = 0; i < INVENTORY_MAX_HOSTS; i++)
        s_wipe_free(&inv->hosts[i]);
    s_wipe_free(&inv->external_host);
    s_wipe_free(&inv->private_key_file);
    s_wipe_free(&inv->known_hosts);
    inv->n_vms = inv->n_hosts = 0;
}
