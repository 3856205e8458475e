/* os_strays.c — vmtp resources found by name, deleted in dependency order. */
#include "os_strays.h"

#include "vmtp/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

bool os_strays_valid_run_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isxdigit((unsigned char)s[n]) || isupper((unsigned char)s[n]))
            return false;
    return n == 7;
}

bool os_strays_run_of(const char *name, char out[8])
{
    char run[8];
    if (!name || strncmp(name, "vmtp-", 5) != 0 || strlen(name) < 13 || name[12] != '-')
        return false;
    memcpy(run, name + 5, 7);
    run[7] = 0;
    if (!os_strays_valid_run_id(run))
        return false; /* out untouched */
    memcpy(out, run, sizeof run);
    return true;
}

typedef struct {
    os_client_t *cl;
    os_ledger_t *led; /* in memory: what was found, in creation order */
    const char *run_id;
    const char *const *live;
    unsigned n_live;
    unsigned found;
} s_find_t;

static bool s_match(const s_find_t *f, const char *name)
{
    char run[8];
    if (!os_strays_run_of(name, run))
        return false;
    if (f->run_id)
        return !strcmp(run, f->run_id);
    for (unsigned i = 0; i < f->n_live; i++)
        if (!strcmp(f->live[i], run))
            return false;
    return true;
}

static const char *s_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Lists path of service type; records each item of array key whose field matches. */
static int s_scan(s_find_t *f, os_res_kind_t kind, const char *type, const char *path, const char *key,
                  const char *field, char *why, size_t cap)
{
    json_t *res = NULL;
    int rc = os_client_json(f->cl, type, "GET", path, NULL, OS_RETRY_503, &res, why, cap);
    if (rc < 0)
        return rc;
    json_t *arr = json_object_get(res, key), *o;
    size_t i;
    json_array_foreach(arr, i, o)
    {
        json_t *item = kind == OS_RES_KEYPAIR ? json_object_get(o, "keypair") : o;
        const char *nm = s_str(item, field), *id = kind == OS_RES_KEYPAIR ? nm : s_str(item, "id");
        if (!id || !s_match(f, nm) || strlen(id) >= OS_ID_MAX)
            continue;
        os_ledger_created(f->led, kind, id, nm, NULL);
        f->found++;
    }
    json_decref(res);
    return 0;
}

/* Router interfaces to remove: every interface of a matched router, and every interface (on any
 * router) of a matched subnet. */
static int s_interfaces(s_find_t *f, char *why, size_t cap)
{
    unsigned n = os_ledger_count(f->led);
    for (unsigned k = 0; k < n; k++) {
        os_ledger_entry_t e = *os_ledger_entry(f->led, k);
        if (e.kind != OS_RES_ROUTER && e.kind != OS_RES_SUBNET)
            continue;
        char path[400];
        if (e.kind == OS_RES_ROUTER)
            snprintf(path, sizeof path, "/v2.0/ports?device_owner=network%%3Arouter_interface&device_id=%s", e.id);
        else
            snprintf(path, sizeof path, "/v2.0/ports?device_owner=network%%3Arouter_interface&fixed_ips=subnet_id%%3D%s",
                     e.id);
        json_t *res = NULL;
        int rc = os_client_json(f->cl, "network", "GET", path, NULL, OS_RETRY_503, &res, why, cap);
        if (rc < 0)
            return rc;
        json_t *ports = json_object_get(res, "ports"), *p;
        size_t i;
        json_array_foreach(ports, i, p)
        {
            const char *router = s_str(p, "device_id");
            json_t *ips = json_object_get(p, "fixed_ips"), *ip;
            size_t j;
            json_array_foreach(ips, j, ip)
            {
                const char *subnet = s_str(ip, "subnet_id");
                if (!router || !subnet || strlen(router) >= OS_ID_MAX || strlen(subnet) >= OS_ID_MAX)
                    continue;
                if (e.kind == OS_RES_SUBNET && strcmp(subnet, e.id) != 0)
                    continue;
                os_ledger_created(f->led, OS_RES_ROUTER_IF, subnet, e.name, router);
            }
        }
        json_decref(res);
    }
    return 0;
}

int os_strays_cleanup(os_client_t *cl, const char *run_id, const char *const *live, unsigned n_live,
                      os_cleanup_stats_t *st, char *why, size_t cap)
{
    memset(st, 0, sizeof *st);
    os_ledger_t *led = os_ledger_new_mem();
    if (!led) {
        snprintf(why, cap, "out of memory");
        return -ENOMEM;
    }
    s_find_t f = {.cl = cl, .led = led, .run_id = run_id, .live = live, .n_live = n_live};
    int rc;
    /* creation order: the cleanup goes backwards */
    if ((rc = s_scan(&f, OS_RES_IMAGE, "image", "/v2/images?limit=1000", "images", "name", why, cap)) < 0 ||
        (rc = s_scan(&f, OS_RES_FLAVOR, "compute", "/flavors?is_public=None", "flavors", "name", why, cap)) < 0 ||
        (rc = s_scan(&f, OS_RES_KEYPAIR, "compute", "/os-keypairs", "keypairs", "name", why, cap)) < 0 ||
        (rc = s_scan(&f, OS_RES_SECGROUP, "network", "/v2.0/security-groups", "security_groups", "name", why, cap)) <
            0 ||
        (rc = s_scan(&f, OS_RES_ROUTER, "network", "/v2.0/routers", "routers", "name", why, cap)) < 0 ||
        (rc = s_scan(&f, OS_RES_NETWORK, "network", "/v2.0/networks", "networks", "name", why, cap)) < 0 ||
        (rc = s_scan(&f, OS_RES_SUBNET, "network", "/v2.0/subnets", "subnets", "name", why, cap)) < 0 ||
        (rc = s_interfaces(&f, why, cap)) < 0 ||
        (rc = s_scan(&f, OS_RES_SERVER, "compute", "/servers?name=%5Evmtp-", "servers", "name", why, cap)) < 0 ||
        (rc = s_scan(&f, OS_RES_FIP, "network", "/v2.0/floatingips", "floatingips", "description", why, cap)) < 0) {
        os_ledger_close(&led);
        return rc;
    }
    LOG_INFO("strays: %u resource%s named after %s", f.found, f.found == 1 ? "" : "s",
             run_id ? run_id : "runs not running here");
    os_cloud_t cc;
    os_cloud_init(&cc, cl, led, run_id ? run_id : "strays");
    rc = os_cloud_cleanup(&cc, st);
    os_ledger_close(&led);
    return rc;
}
