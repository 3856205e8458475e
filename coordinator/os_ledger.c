/* os_ledger.c — the on-disk record of a run's cloud resources (JSON lines, fsync'd each). */
#include "os_ledger.h"

#include "textutil.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAX_FILE (16u << 20)
#define S_MAX_ENTRIES 100000

struct os_ledger {
    char path[PATH_MAX];
    int fd; /* -1: in memory only */
    char run_id[64];
    char auth_url[512];
    char project_id[128];
    char region[128];
    long pid;
    char host[256];
    os_ledger_entry_t *e;
    unsigned n, cap;
};

static const char *const s_kinds[OS_RES_N] = {
    [OS_RES_IMAGE] = "image",       [OS_RES_FLAVOR] = "flavor",
    [OS_RES_KEYPAIR] = "keypair",   [OS_RES_SECGROUP] = "security_group",
    [OS_RES_NETWORK] = "network",   [OS_RES_SUBNET] = "subnet",
    [OS_RES_ROUTER] = "router",     [OS_RES_ROUTER_GW] = "router_gateway",
    [OS_RES_ROUTER_IF] = "router_interface", [OS_RES_SERVER] = "server",
    [OS_RES_FIP] = "floating_ip",
};

const char *os_res_kind_name(os_res_kind_t k) { return (unsigned)k < OS_RES_N ? s_kinds[k] : "?"; }

int os_res_kind_parse(const char *s)
{
    for (int k = 0; k < OS_RES_N; k++)
        if (s && !strcmp(s, s_kinds[k]))
            return k;
    return -1;
}

int os_ledger_dir(char *out, size_t cap)
{
    char p[PATH_MAX];
    const char *v = getenv("VMTP_STATE_DIR");
    int n;
    if (v && v[0])
        n = snprintf(p, sizeof p, "%s", v);
    else if ((v = getenv("XDG_STATE_HOME")) && v[0])
        n = snprintf(p, sizeof p, "%s/vmtp", v);
    else if ((v = getenv("HOME")) && v[0])
        n = snprintf(p, sizeof p, "%s/.local/state/vmtp", v);
    else
        return -ENOENT;
    if (n < 0 || (size_t)n >= sizeof p || (size_t)n >= cap)
        return -ENAMETOOLONG; /* out untouched */
    memcpy(out, p, (size_t)n + 1);
    return 0;
}

os_ledger_t *os_ledger_new_mem(void)
{
    os_ledger_t *l = calloc(1, sizeof *l);
    if (l)
        l->fd = -1;
    return l;
}

void os_ledger_close(os_ledger_t **self)
{
    if (!self || !*self)
        return;
    os_ledger_t *l = *self;
    *self = NULL;
    if (l->fd >= 0)
        close(l->fd);
    free(l->e);
    free(l);
}

/* mkdir -p with mode 0700 for what it creates. */
static int s_mkdirs(const char *dir)
{
    char p[PATH_MAX];
    if ((size_t)snprintf(p, sizeof p, "%s", dir) >= sizeof p)
        return -ENAMETOOLONG;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int s_append_line(os_ledger_t *l, json_t *rec)
{
    char *text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    if (!text)
        return -ENOMEM;
    size_t len = strlen(text);
    text[len] = '\n'; /* json_dumps leaves room for the NUL: the newline takes its place */
    int rc = 0;
    if (l->fd >= 0) {
        size_t off = 0;
        while (off < len + 1) {
            ssize_t w = write(l->fd, text + off, len + 1 - off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                rc = -errno;
                break;
            }
            off += (size_t)w;
        }
        if (!rc && fsync(l->fd) < 0)
            rc = -errno;
    }
    free(text);
    return rc;
}

static int s_add(os_ledger_t *l, os_res_kind_t kind, const char *id, const char *name, const char *parent)
{
    if (l->n >= S_MAX_ENTRIES)
        return -E2BIG;
    if (l->n == l->cap) {
        unsigned ncap = l->cap ? 2 * l->cap : 32;
        if (ncap > S_MAX_ENTRIES)
            ncap = S_MAX_ENTRIES;
        os_ledger_entry_t *e = realloc(l->e, ncap * sizeof *e);
        if (!e)
            return -ENOMEM;
        l->e = e;
        l->cap = ncap;
    }
    os_ledger_entry_t *e = &l->e[l->n++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    snprintf(e->id, sizeof e->id, "%s", id ? id : "");
    snprintf(e->name, sizeof e->name, "%s", name ? name : "");
    snprintf(e->parent, sizeof e->parent, "%s", parent ? parent : "");
    return 0;
}

/* The intent entry of kind+name still waiting for its id, or NULL. */
static os_ledger_entry_t *s_intent(os_ledger_t *l, os_res_kind_t kind, const char *name)
{
    for (unsigned i = l->n; i-- > 0;)
        if (l->e[i].kind == kind && !l->e[i].id[0] && !strcmp(l->e[i].name, name))
            return &l->e[i];
    return NULL;
}

static void s_apply_create(os_ledger_t *l, os_res_kind_t kind, const char *id, const char *name, const char *parent,
                           int *rc)
{
    os_ledger_entry_t *e = name ? s_intent(l, kind, name) : NULL;
    if (e) {
        snprintf(e->id, sizeof e->id, "%s", id);
        snprintf(e->parent, sizeof e->parent, "%s", parent ? parent : "");
    } else {
        *rc = s_add(l, kind, id, name, parent);
    }
}

static void s_apply_delete(os_ledger_t *l, os_res_kind_t kind, const char *id)
{
    for (unsigned i = l->n; i-- > 0;)
        if (l->e[i].kind == kind && !strcmp(l->e[i].id, id) && !l->e[i].deleted) {
            l->e[i].deleted = true;
            return;
        }
}

static void s_apply_void(os_ledger_t *l, os_res_kind_t kind, const char *name)
{
    os_ledger_entry_t *e = s_intent(l, kind, name);
    if (e)
        e->deleted = true;
}

os_ledger_t *os_ledger_create(const char *dir, const char *run_id, const char *auth_url, const char *project_id,
                              const char *region, int *err, char *why, size_t cap)
{
    os_ledger_t *l = os_ledger_new_mem();
    if (!l) {
        *err = -ENOMEM;
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    int rc = s_mkdirs(dir);
    if (rc < 0) {
        snprintf(why, cap, "cannot create the ledger folder %s: %s", dir, strerror(-rc));
        goto fail;
    }
    if ((size_t)snprintf(l->path, sizeof l->path, "%s/ledger-%s.jsonl", dir, run_id) >= sizeof l->path) {
        rc = -ENAMETOOLONG;
        snprintf(why, cap, "ledger path too long");
        goto fail;
    }
    l->fd = open(l->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (l->fd < 0) {
        rc = -errno;
        snprintf(why, cap, "cannot create the ledger %s: %s", l->path, strerror(errno));
        goto fail;
    }
    snprintf(l->run_id, sizeof l->run_id, "%s", run_id);
    snprintf(l->auth_url, sizeof l->auth_url, "%s", auth_url);
    snprintf(l->project_id, sizeof l->project_id, "%s", project_id);
    snprintf(l->region, sizeof l->region, "%s", region ? region : "");
    l->pid = (long)getpid();
    gethostname(l->host, sizeof l->host - 1);
    rc = s_append_line(l, json_pack("{s:i,s:s,s:s,s:s,s:s,s:I,s:s}", "ledger", 1, "run_id", run_id, "auth_url",
                                    auth_url, "project_id", project_id, "region", l->region, "pid",
                                    (json_int_t)l->pid, "host", l->host));
    if (rc == 0) { /* the file's name must survive a crash too */
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    if (rc < 0) {
        snprintf(why, cap, "cannot write the ledger %s: %s", l->path, strerror(-rc));
        goto fail;
    }
    return l;
fail:
    if (l->fd >= 0)
        unlink(l->path);
    os_ledger_close(&l);
    *err = rc;
    return NULL;
}

int os_ledger_parse(os_ledger_t *l, const char *name, const char *text, size_t len, char *why, size_t cap)
{
    unsigned line = 0;
    bool header = false;
    for (size_t pos = 0; pos < len;) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        line++;
        bool last = end >= len; /* no newline: a write torn by a crash */
        const char *s = text + pos;
        size_t n = end - pos;
        pos = end + 1;
        if (!n)
            continue;
        json_error_t jerr;
        json_t *rec = json_loadb(s, n, 0, &jerr);
        if (!json_is_object(rec)) {
            json_decref(rec);
            if (last)
                break;
            snprintf(why, cap, "%s:%u: not a ledger record", name, line);
            return -EINVAL;
        }
        int rc = 0;
        if (!header) {
            json_t *v = json_object_get(rec, "ledger");
            const char *run = json_string_value(json_object_get(rec, "run_id"));
            const char *au = json_string_value(json_object_get(rec, "auth_url"));
            const char *pj = json_string_value(json_object_get(rec, "project_id"));
            if (!json_is_integer(v) || json_integer_value(v) != 1 || !run || !au || !pj) {
                json_decref(rec);
                snprintf(why, cap, "%s:%u: not a vmtp ledger (version 1 header expected)", name, line);
                return -EINVAL;
            }
            snprintf(l->run_id, sizeof l->run_id, "%s", run);
            snprintf(l->auth_url, sizeof l->auth_url, "%s", au);
            snprintf(l->project_id, sizeof l->project_id, "%s", pj);
            const char *rg = json_string_value(json_object_get(rec, "region"));
            snprintf(l->region, sizeof l->region, "%s", rg ? rg : "");
            json_t *pid = json_object_get(rec, "pid");
            l->pid = json_is_integer(pid) ? (long)json_integer_value(pid) : 0;
            const char *host = json_string_value(json_object_get(rec, "host"));
            snprintf(l->host, sizeof l->host, "%s", host ? host : "");
            header = true;
            json_decref(rec);
            continue;
        }
        const char *op = json_string_value(json_object_get(rec, "op"));
        int kind = os_res_kind_parse(json_string_value(json_object_get(rec, "kind")));
        const char *id = json_string_value(json_object_get(rec, "id"));
        const char *nm = json_string_value(json_object_get(rec, "name"));
        const char *parent = json_string_value(json_object_get(rec, "parent"));
        if (!op || kind < 0 || (id && strlen(id) >= sizeof l->e[0].id) || (nm && strlen(nm) >= sizeof l->e[0].name) ||
            (parent && strlen(parent) >= sizeof l->e[0].parent)) {
            json_decref(rec);
            snprintf(why, cap, "%s:%u: a record without a valid op, kind, id or name", name, line);
            return -EINVAL;
        }
        if (!strcmp(op, "intent") && nm)
            rc = s_add(l, (os_res_kind_t)kind, "", nm, NULL);
        else if (!strcmp(op, "create") && id && id[0])
            s_apply_create(l, (os_res_kind_t)kind, id, nm, parent, &rc);
        else if ((!strcmp(op, "delete") || !strcmp(op, "release")) && id && id[0])
            s_apply_delete(l, (os_res_kind_t)kind, id);
        else if (!strcmp(op, "void") && nm)
            s_apply_void(l, (os_res_kind_t)kind, nm);
        else
            rc = -EINVAL;
        json_decref(rec);
        if (rc < 0) {
            snprintf(why, cap, "%s:%u: %s", name, line, rc == -EINVAL ? "a malformed record" : strerror(-rc));
            return rc;
        }
    }
    if (!header) {
        snprintf(why, cap, "%s: empty, not a vmtp ledger", name);
        return -EINVAL;
    }
    return 0;
}

os_ledger_t *os_ledger_open(const char *path, int *err, char *why, size_t cap)
{
    char *text = NULL;
    size_t len = 0;
    int rc = text_read_file(path, S_MAX_FILE, "ledger", &text, &len, why, cap);
    if (rc < 0) {
        *err = rc;
        return NULL;
    }
    os_ledger_t *l = os_ledger_new_mem();
    if (!l) {
        free(text);
        *err = -ENOMEM;
        return NULL;
    }
    rc = os_ledger_parse(l, path, text, len, why, cap);
    /* A last line without its newline is a write a crash cut short (its request was never sent:
     * each record is fsync'd before its request): it is cut off, so that what is appended now
     * starts on a line of its own. */
    size_t whole = len;
    while (whole && text[whole - 1] != '\n')
        whole--;
    free(text);
    if (rc == 0) {
        snprintf(l->path, sizeof l->path, "%s", path);
        l->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (l->fd < 0 || (whole < len && (ftruncate(l->fd, (off_t)whole) < 0 || fsync(l->fd) < 0))) {
            rc = -errno;
            snprintf(why, cap, "cannot append to %s: %s", path, strerror(errno));
        }
    }
    if (rc < 0) {
        os_ledger_close(&l);
        *err = rc;
        return NULL;
    }
    return l;
}

int os_ledger_intent(os_ledger_t *l, os_res_kind_t kind, const char *name)
{
    int rc = s_append_line(l, json_pack("{s:s,s:s,s:s}", "op", "intent", "kind", s_kinds[kind], "name", name));
    return rc < 0 ? rc : s_add(l, kind, "", name, NULL);
}

int os_ledger_created(os_ledger_t *l, os_res_kind_t kind, const char *id, const char *name, const char *parent)
{
    int rc = s_append_line(l, json_pack("{s:s,s:s,s:s,s:s,s:s}", "op", "create", "kind", s_kinds[kind], "id", id,
                                        "name", name ? name : "", "parent", parent ? parent : ""));
    if (rc < 0)
        return rc;
    s_apply_create(l, kind, id, name, parent, &rc);
    return rc;
}

/* Records that resource id is no longer the cleanup's: op "delete" (gone) or "release" (kept on purpose). */
static int s_end(os_ledger_t *l, const char *op, os_res_kind_t kind, const char *id)
{
    int rc = s_append_line(l, json_pack("{s:s,s:s,s:s}", "op", op, "kind", s_kinds[kind], "id", id));
    if (rc == 0)
        s_apply_delete(l, kind, id);
    return rc;
}

int os_ledger_deleted(os_ledger_t *l, os_res_kind_t kind, const char *id) { return s_end(l, "delete", kind, id); }

int os_ledger_release(os_ledger_t *l, os_res_kind_t kind, const char *id) { return s_end(l, "release", kind, id); }

int os_ledger_void(os_ledger_t *l, os_res_kind_t kind, const char *name)
{
    int rc = s_append_line(l, json_pack("{s:s,s:s,s:s}", "op", "void", "kind", s_kinds[kind], "name", name));
    if (rc == 0)
        s_apply_void(l, kind, name);
    return rc;
}

unsigned os_ledger_count(const os_ledger_t *l) { return l->n; }
const os_ledger_entry_t *os_ledger_entry(const os_ledger_t *l, unsigned i) { return i < l->n ? &l->e[i] : NULL; }

unsigned os_ledger_live(const os_ledger_t *l)
{
    unsigned n = 0;
    for (unsigned i = 0; i < l->n; i++)
        n += !l->e[i].deleted;
    return n;
}

const char *os_ledger_path(const os_ledger_t *l) { return l->path; }
const char *os_ledger_run_id(const os_ledger_t *l) { return l->run_id; }
const char *os_ledger_auth_url(const os_ledger_t *l) { return l->auth_url; }
const char *os_ledger_project_id(const os_ledger_t *l) { return l->project_id; }
long os_ledger_pid(const os_ledger_t *l) { return l->pid; }
const char *os_ledger_host(const os_ledger_t *l) { return l->host; }
