/* fuzz_config.c — fuzz target for the coordinator's readers of user-supplied YAML files (STYLE rule 14):
 * config_load_string (a config file merged over the defaults, `flavor` and its extra_specs included)
 * and inventory_load_string (an --inventory file).
 *
 * Every input goes to both, as in fuzz_os: the corpus then holds the files as users write them (a
 * VMTP config, an inventory), readable and editable by hand, and both read YAML through the same
 * loader (text_yaml_load), so what one mutation finds serves the other. Besides "no crash under
 * ASan/UBSan" (leaks included: a partial merge after an error is freed by config_fini), each
 * contract is checked, and a broken one ends in abort() with a line on stderr saying which property
 * failed:
 *  - both return 0, -EINVAL or -ENOMEM (from text in memory there is no other errno); on failure why
 *    is NUL-terminated inside its cap, nothing is written past it, it is not empty, and (but for
 *    -ENOMEM, "NAME: out of memory") it starts "NAME:LINE:" with the name given;
 *  - an accepted config keeps every key inside config.def's bounds (string lengths, list lengths,
 *    integer and range bounds, enum words), at most CONFIG_LIST_MAX extra specs with distinct keys;
 *  - an accepted config, written by config_write_yaml, loads back over fresh defaults and writes
 *    the same bytes again (the promise behind `vmtp -sc > my.yaml; vmtp -c my.yaml`);
 *  - an accepted inventory has 2 to INVENTORY_MAX_VMS VMs with distinct non-empty names, exactly one
 *    server (the one `server` names), USER@HOST ssh specs, IP addresses where an address goes,
 *    USER@HOST hosts and external host, every char field NUL-terminated;
 *  - config_fini and inventory_fini are idempotent.
 * Built twice (tests/fuzz/CMakeLists.txt): with fuzz_main.c for the ctest corpus replay, and with
 * -fsanitize=fuzzer for libFuzzer when VMTP_FUZZ is ON. Seeds: corpus/config, files written by hand
 * (config-*, inventory-*) and "found-*" inputs of a campaign that reach edges those do not (kept by
 * hand, a few dozen at most).
 */
#define FUZZ_TARGET "fuzz_config"
#include "fuzz_props.h"

#include "config.h"
#include "inventory.h"

#include "vmtp/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_WHY_CAP 400 /* the cap the parsers are given ... */
#define S_WHY_BUF 480 /* ... inside a larger buffer, whose tail must stay as it was */

/* why zeroed up to the cap, a 'Z' fence after it. */
static void s_why_init(char *why)
{
    memset(why, 0, S_WHY_CAP);
    memset(why + S_WHY_CAP, 'Z', S_WHY_BUF - S_WHY_CAP);
}

/* The contract of a parser's return value and why: rc is 0, -EINVAL or -ENOMEM; why stays inside its
 * cap; a failure says why, as "NAME:LINE: ..." (-ENOMEM: may be empty). */
static void s_why(const char *what, int rc, const char *why, const char *name)
{
    if (rc != 0 && rc != -EINVAL && rc != -ENOMEM)
        fuzz_fail("%s: returned %d", what, rc);
    for (size_t i = S_WHY_CAP; i < S_WHY_BUF; i++)
        if (why[i] != 'Z')
            fuzz_fail("%s: wrote past the cap of why (%zu)", what, i);
    if (!memchr(why, 0, S_WHY_CAP))
        fuzz_fail("%s: why is not NUL-terminated", what);
    if (rc == 0)
        return;
    if (!why[0])
        fuzz_fail("%s failed (%d) without saying why", what, rc);
    if (rc == -ENOMEM)
        return; /* "NAME: out of memory": no line to name */
    size_t n = strlen(name);
    const char *p = why + n;
    if (strncmp(why, name, n) != 0 || *p++ != ':' || *p < '0' || *p > '9')
        fuzz_fail("%s failed (%d) without naming its input as %s:LINE: %s", what, rc, name, why);
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p != ':')
        fuzz_fail("%s failed (%d) without naming its input as %s:LINE: %s", what, rc, name, why);
}

/* ---- config ------------------------------------------------------------------------------------ */

static void s_check_uint(const char *key, uint64_t v, double lo, double hi)
{
    if ((double)v < lo || (double)v > hi)
        fuzz_fail("config: accepted, %s = %llu outside %.0f..%.0f", key, (unsigned long long)v, lo, hi);
}

static void s_check_str(const char *key, const char *s, double max)
{
    if (s && (double)strlen(s) > max)
        fuzz_fail("config: accepted, %s is %zu bytes (at most %.0f)", key, strlen(s), max);
}

static void s_check_uints(const char *key, unsigned n, const uint64_t *v, double max_n, double hi)
{
    if (n < 1 || (double)n > max_n)
        fuzz_fail("config: accepted, %s has %u values (1 to %.0f)", key, n, max_n);
    for (unsigned i = 0; i < n; i++)
        s_check_uint(key, v[i], 1, hi);
}

static void s_check_strs(const char *key, unsigned n, char *const *v, double max_n, double max)
{
    if ((double)n > max_n)
        fuzz_fail("config: accepted, %s has %u values (at most %.0f)", key, n, max_n);
    for (unsigned i = 0; i < n; i++) {
        if (!v[i])
            fuzz_fail("config: accepted, %s[%u] is NULL", key, i);
        s_check_str(key, v[i], max);
    }
}

static void s_check_range(const char *key, double lo, double hi, double a, double b)
{
    if (!(a <= lo && lo <= hi && hi <= b))
        fuzz_fail("config: accepted, %s = [%g, %g] (within %g..%g, low <= high)", key, lo, hi, a, b);
}

/* v is one of the '|'-separated words of choices ("" only when choices has an empty word). */
static void s_check_enum(const char *key, const char *v, size_t cap, const char *choices)
{
    if (!memchr(v, 0, cap))
        fuzz_fail("config: accepted, %s is not NUL-terminated", key);
    size_t vl = strlen(v);
    for (const char *p = choices;;) {
        const char *bar = strchr(p, '|');
        size_t wl = bar ? (size_t)(bar - p) : strlen(p);
        if (wl == vl && !strncmp(p, v, wl))
            return;
        if (!bar)
            break;
        p = bar + 1;
    }
    fuzz_fail("config: accepted, %s = '%s' is not one of '%s'", key, v, choices);
}

static void s_check_flavor(const char *key, const config_flavor_t *f)
{
    if (f->n_specs > CONFIG_LIST_MAX)
        fuzz_fail("config: accepted, %s has %u extra specs", key, f->n_specs);
    for (unsigned i = 0; i < f->n_specs; i++) {
        if (!f->spec_key[i] || !f->spec_val[i])
            fuzz_fail("config: accepted, %s extra spec %u is NULL", key, i);
        if (!f->spec_key[i][0])
            fuzz_fail("config: accepted, %s extra spec %u has an empty key", key, i);
        for (unsigned j = 0; j < i; j++)
            if (!strcmp(f->spec_key[i], f->spec_key[j]))
                fuzz_fail("config: accepted, %s extra spec '%s' twice", key, f->spec_key[i]);
    }
}

/* Every key inside its config.def bounds (the kinds as config.def documents them). */
#define S_CHECK_STR(name, a, b) s_check_str(#name, c->name, b);
#define S_CHECK_UINT(name, a, b) s_check_uint(#name, c->name, a, b);
#define S_CHECK_BOOL(name, a, b)
#define S_CHECK_UINTS(name, a, b) s_check_uints(#name, c->name.n, c->name.v, a, b);
#define S_CHECK_STRS(name, a, b) s_check_strs(#name, c->name.n, c->name.v, a, b);
#define S_CHECK_RANGE(name, a, b) s_check_range(#name, c->name.lo, c->name.hi, a, b);
#define S_CHECK_ENUM(name, a, b) s_check_enum(#name, c->name, sizeof c->name, a);
#define S_CHECK_IGNORED(name, a, b)
#define S_CHECK_FLAVOR(name, a, b) s_check_flavor(#name, &c->name);
#define S_CHECK(kind, name, a, b, def, doc) S_CHECK_##kind(name, a, b)
static void s_check_config(const config_t *c) { CONFIG_KEYS(S_CHECK) }
#undef S_CHECK

/* *c as config_write_yaml writes it, in a malloc'd buffer of *len bytes (NUL-terminated). */
static char *s_write(const config_t *c, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        fuzz_fail("open_memstream: %s", strerror(errno)); /* the harness, not the property */
    config_write_yaml(c, f);
    if (fclose(f) != 0 || !buf)
        fuzz_fail("open_memstream: cannot write");
    return buf;
}

/* The line at s, up to its '\n', into out with C escapes for what is not printable ASCII. */
static const char *s_escape_line(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && *s != '\n' && n + 5 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            out[n++] = (char)ch;
        else
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", ch);
    }
    out[n] = 0;
    return out;
}

/* text loaded as file `name` over fresh defaults into *c, its answer checked (s_why). */
static int s_load(config_t *c, const char *what, const char *name, const char *text, size_t len, char *why)
{
    if (config_defaults(c) < 0)
        fuzz_fail("config_defaults failed");
    s_why_init(why);
    int rc = config_load_string(c, name, text, len, why, S_WHY_CAP);
    s_why(what, rc, why, name);
    return rc;
}

/* Written, loaded back over fresh defaults, written again: the same bytes. */
static void s_round_trip(const config_t *c)
{
    size_t len1 = 0, len2 = 0;
    char *w1 = s_write(c, &len1);
    config_t c2;
    char why[S_WHY_BUF];
    int rc = s_load(&c2, "config (written back)", "w.yaml", w1, len1, why);
    if (rc)
        fuzz_fail("config: accepted, but what config_write_yaml wrote does not load (%d): %s", rc, why);
    char *w2 = s_write(&c2, &len2);
    if (len1 != len2 || memcmp(w1, w2, len1) != 0) {
        size_t at = 0;
        while (at < len1 && at < len2 && w1[at] == w2[at])
            at++;
        while (at > 0 && w1[at - 1] != '\n') /* from the start of the line that differs */
            at--;
        char e1[200], e2[200];
        fuzz_fail("config: accepted, but written, loaded and written again it differs at byte %zu:\n"
                  "first:  %s\nsecond: %s",
                  at, s_escape_line(w1 + at, e1, sizeof e1), s_escape_line(w2 + at, e2, sizeof e2));
    }
    free(w1);
    free(w2);
    config_fini(&c2);
}

static void s_config(const char *text, size_t len)
{
    config_t c;
    char why[S_WHY_BUF];
    int rc = s_load(&c, "config", "c.yaml", text, len, why);
    if (rc == 0) {
        s_check_config(&c);
        s_round_trip(&c);
    }
    config_fini(&c);
    config_fini(&c);
}

/* ---- inventory --------------------------------------------------------------------------------- */

static bool s_is_ip(const char *s)
{
    struct in_addr a4;
    struct in6_addr a6;
    return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

static bool s_host_spec(const char *s) { return s && strchr(s, '@'); }

static void s_check_vm(const inventory_t *inv, unsigned i)
{
    const inventory_vm_t *vm = &inv->vms[i];
    FUZZ_TERMINATED("inventory", vm->name);
    FUZZ_TERMINATED("inventory", vm->fixed_ip);
    FUZZ_TERMINATED("inventory", vm->floating_ip);
    FUZZ_TERMINATED("inventory", vm->network);
    FUZZ_TERMINATED("inventory", vm->compute_host);
    FUZZ_TERMINATED("inventory", vm->error);
    if (!vm->name[0] || !vm->network[0] || !vm->compute_host[0] || !vm->line)
        fuzz_fail("inventory: accepted, vms[%u] lacks a name, network, compute host or line", i);
    if (!s_host_spec(vm->ssh))
        fuzz_fail("inventory: accepted, vms[%u] (%s): ssh '%s' is not USER@HOST", i, vm->name,
                  vm->ssh ? vm->ssh : "(null)");
    if (!s_is_ip(vm->fixed_ip) || (vm->floating_ip[0] && !s_is_ip(vm->floating_ip)))
        fuzz_fail("inventory: accepted, vms[%u] (%s): address '%s' / '%s'", i, vm->name, vm->fixed_ip, vm->floating_ip);
    if (vm->error[0])
        fuzz_fail("inventory: accepted, vms[%u] (%s) with an error: %s", i, vm->name, vm->error);
    if (vm->server != ((int)i == inv->server))
        fuzz_fail("inventory: accepted, vms[%u] (%s) is a server, but server = %d", i, vm->name, inv->server);
    for (unsigned j = 0; j < i; j++)
        if (!strcmp(inv->vms[j].name, vm->name))
            fuzz_fail("inventory: accepted, vms[%u] and vms[%u] are both '%s'", j, i, vm->name);
}

static void s_check_inventory(const inventory_t *inv)
{
    if (inv->n_vms < 2 || inv->n_vms > INVENTORY_MAX_VMS)
        fuzz_fail("inventory: accepted with %u VMs", inv->n_vms);
    if (inv->server < 0 || (unsigned)inv->server >= inv->n_vms)
        fuzz_fail("inventory: accepted with server = %d of %u VMs", inv->server, inv->n_vms);
    for (unsigned i = 0; i < inv->n_vms; i++)
        s_check_vm(inv, i);
    if (inv->n_hosts > INVENTORY_MAX_HOSTS)
        fuzz_fail("inventory: accepted with %u hosts", inv->n_hosts);
    for (unsigned i = 0; i < inv->n_hosts; i++)
        if (!s_host_spec(inv->hosts[i]))
            fuzz_fail("inventory: accepted, hosts[%u] is not USER@HOST", i);
    if (inv->external_host && !s_host_spec(inv->external_host))
        fuzz_fail("inventory: accepted, external_host '%s' is not USER@HOST", inv->external_host);
    if ((inv->private_key_file && !inv->private_key_file[0]) || (inv->known_hosts && !inv->known_hosts[0]))
        fuzz_fail("inventory: accepted, an empty private_key_file or known_hosts");
    if (inv->accept_new_keys)
        fuzz_fail("inventory: accepted, accept_new_keys set by the file");
}

static void s_inventory(const char *text, size_t len)
{
    static inventory_t inv; /* 17 KiB: not on the stack */
    char why[S_WHY_BUF];
    s_why_init(why);
    int rc = inventory_load_string("i.yaml", text, len, &inv, why, S_WHY_CAP);
    s_why("inventory", rc, why, "i.yaml");
    if (rc == 0)
        s_check_inventory(&inv);
    inventory_fini(&inv);
    inventory_fini(&inv);
    for (unsigned i = 0; i < INVENTORY_MAX_VMS; i++)
        if (inv.vms[i].ssh)
            fuzz_fail("inventory_fini: vms[%u].ssh left", i);
    for (unsigned i = 0; i < INVENTORY_MAX_HOSTS; i++)
        if (inv.hosts[i])
            fuzz_fail("inventory_fini: hosts[%u] left", i);
    if (inv.external_host || inv.private_key_file || inv.known_hosts)
        fuzz_fail("inventory_fini: a host or file name left");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_threshold = LOG_LEVEL_ERROR; /* the ignored VMTP keys' warnings are not findings */
    const char *text = (const char *)data;
    s_config(text, size);
    s_inventory(text, size);
    return 0;
}
