/* os_cleanup.c — deletes what a run's ledger holds, in reverse creation order, idempotently. */
#include "os_cloud.h"

#include "vmtp/clock.h"
#include "vmtp/log.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SERVER_GONE_NS (120 * VMTP_NS_PER_S) /* bound on a server's deletion */
#define S_409_ATTEMPTS 8                       /* "in use" while ports go away: ~60 s in all */

static const char *s_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Runs one call of the cleanup; 404 counts as done (*gone). */
static int s_call(os_cloud_t *cc, const char *type, const char *method, const char *path, json_t *body,
                  unsigned retry, bool *gone, char *why, size_t cap)
{
    long status = 0;
    *gone = false;
    int rc = os_client_call(cc->cl, type, method, path, body, retry | OS_RETRY_503, &status, NULL, why, cap);
    if (rc < 0)
        return rc;
    if (status == 404) {
        *gone = true;
        return 0;
    }
    return status / 100 == 2 ? 0 : status == 409 ? -EBUSY : -EIO;
}

/* Waits until GET path answers 404 (the server is gone). */
static int s_wait_gone(os_cloud_t *cc, const char *type, const char *path, int64_t bound_ns, char *why, size_t cap)
{
    int64_t end = clock_mono_ns() + bound_ns;
    for (;;) {
        long status = 0;
        json_t *res = NULL;
        int rc = os_client_call(cc->cl, type, "GET", path, NULL, OS_RETRY_503, &status, &res, why, cap);
        const char *st = s_str(json_object_get(res, "server"), "status");
        bool deleted = st && !strcmp(st, "DELETED");
        json_decref(res);
        if (rc < 0)
            return rc;
        if (status == 404 || deleted)
            return 0;
        if (clock_mono_ns() > end) {
            snprintf(why, cap, "%.300s still there %.0f s after its deletion", path, (double)bound_ns / 1e9);
            return -ETIMEDOUT;
        }
        poll(NULL, 0, 1000);
    }
}

/* Deletes one resource. Returns 0 (deleted or gone: *gone tells), or -errno with why. */
static int s_delete(os_cloud_t *cc, os_res_kind_t kind, const char *id, const char *parent, bool *gone, char *why,
                    size_t cap)
{
    char path[1500];
    json_t *body = NULL;
    int rc;
    switch (kind) {
    case OS_RES_FIP:
        snprintf(path, sizeof path, "/v2.0/floatingips/%s", id);
        return s_call(cc, "network", "DELETE", path, NULL, OS_RETRY_NONE, gone, why, cap);
    case OS_RES_SERVER:
        snprintf(path, sizeof path, "/servers/%s", id);
        rc = s_call(cc, "compute", "DELETE", path, NULL, OS_RETRY_409, gone, why, cap);
        if (rc < 0 || *gone)
            return rc;
        return s_wait_gone(cc, "compute", path, S_SERVER_GONE_NS, why, cap);
    case OS_RES_ROUTER_IF:
        snprintf(path, sizeof path, "/v2.0/routers/%s/remove_router_interface", parent);
        body = json_pack("{s:s}", "subnet_id", id);
        rc = s_call(cc, "network", "PUT", path, body, OS_RETRY_409, gone, why, cap);
        json_decref(body);
        return rc;
    case OS_RES_ROUTER_GW:
        snprintf(path, sizeof path, "/v2.0/routers/%s", id);
        body = json_pack("{s:{s:{}}}", "router", "external_gateway_info");
        rc = s_call(cc, "network", "PUT", path, body, OS_RETRY_409, gone, why, cap);
        json_decref(body);
        return rc;
    case OS_RES_ROUTER: snprintf(path, sizeof path, "/v2.0/routers/%s", id); break;
    case OS_RES_SUBNET: snprintf(path, sizeof path, "/v2.0/subnets/%s", id); break;
    case OS_RES_NETWORK: snprintf(path, sizeof path, "/v2.0/networks/%s", id); break;
    case OS_RES_SECGROUP: snprintf(path, sizeof path, "/v2.0/security-groups/%s", id); break;
    case OS_RES_KEYPAIR:
        snprintf(path, sizeof path, "/os-keypairs/%s", id);
        return s_call(cc, "compute", "DELETE", path, NULL, OS_RETRY_NONE, gone, why, cap);
    case OS_RES_FLAVOR:
        snprintf(path, sizeof path, "/flavors/%s", id);
        return s_call(cc, "compute", "DELETE", path, NULL, OS_RETRY_NONE, gone, why, cap);
    case OS_RES_IMAGE:
        snprintf(path, sizeof path, "/v2/images/%s", id);
        return s_call(cc, "image", "DELETE", path, NULL, OS_RETRY_NONE, gone, why, cap);
    default: snprintf(why, cap, "unknown resource kind"); return -EINVAL;
    }
    /* Neutron resources that may still be in use for a moment (ports of deleted servers) */
    return s_call(cc, "network", "DELETE", path, NULL, OS_RETRY_409, gone, why, cap);
}

/* The ids of resources of kind named name (an intent whose answer never got recorded). Returns
 * the count (at most max) or -errno. */
static int s_lookup(os_cloud_t *cc, os_res_kind_t kind, const char *name, char ids[][OS_ID_MAX], unsigned max,
                    char *why, size_t cap)
{
    const char *type = "network", *path = NULL, *key = NULL, *field = "name";
    char buf[800];
    switch (kind) {
    case OS_RES_NETWORK: path = "/v2.0/networks"; key = "networks"; break;
    case OS_RES_SUBNET: path = "/v2.0/subnets"; key = "subnets"; break;
    case OS_RES_ROUTER: path = "/v2.0/routers"; key = "routers"; break;
    case OS_RES_SECGROUP: path = "/v2.0/security-groups"; key = "security_groups"; break;
    case OS_RES_FIP: path = "/v2.0/floatingips"; key = "floatingips"; field = "description"; break;
    case OS_RES_SERVER: type = "compute"; path = "/servers?all_tenants=0"; key = "servers"; break;
    case OS_RES_KEYPAIR: type = "compute"; path = "/os-keypairs"; key = "keypairs"; break;
    case OS_RES_FLAVOR: type = "compute"; path = "/flavors"; key = "flavors"; break;
    case OS_RES_IMAGE: type = "image"; path = "/v2/images"; key = "images"; break;
    default: return 0; /* router interfaces and gateways: their router goes, or was not ours */
    }
    snprintf(buf, sizeof buf, "%s", path);
    json_t *res = NULL;
    int rc = os_client_json(cc->cl, type, "GET", buf, NULL, OS_RETRY_503, &res, why, cap);
    if (rc < 0)
        return rc;
    unsigned n = 0;
    json_t *arr = json_object_get(res, key), *o;
    size_t i;
    json_array_foreach(arr, i, o)
    {
        json_t *item = kind == OS_RES_KEYPAIR ? json_object_get(o, "keypair") : o;
        const char *nm = s_str(item, field), *id = kind == OS_RES_KEYPAIR ? nm : s_str(item, "id");
        if (nm && id && !strcmp(nm, name) && strlen(id) < OS_ID_MAX && n < max)
            snprintf(ids[n++], OS_ID_MAX, "%s", id);
    }
    json_decref(res);
    return (int)n;
}

int os_cloud_cleanup(os_cloud_t *cc, os_cleanup_stats_t *st)
{
    memset(st, 0, sizeof *st);
    char why[1200];
    unsigned n = os_ledger_count(cc->led);
    for (unsigned k = n; k-- > 0;) {
        /* copied: recording a deletion may grow the ledger's table */
        os_ledger_entry_t e = *os_ledger_entry(cc->led, k);
        if (e.deleted)
            continue;
        char ids[8][OS_ID_MAX];
        int m = 1;
        if (e.id[0]) {
            snprintf(ids[0], OS_ID_MAX, "%s", e.id);
        } else {
            /* a request cut by a crash may still be in the service's hands: look again before
             * deciding that it created nothing */
            m = s_lookup(cc, e.kind, e.name, ids, 8, why, sizeof why);
            for (int again = 0; m == 0 && again < 2; again++) {
                poll(NULL, 0, 2000);
                m = s_lookup(cc, e.kind, e.name, ids, 8, why, sizeof why);
            }
            if (m < 0) {
                LOG_ERROR("cleanup: cannot look for %s %s: %s", os_res_kind_name(e.kind), e.name, why);
                st->failed++;
                continue;
            }
            for (int j = 0; j < m; j++)
                os_ledger_created(cc->led, e.kind, ids[j], e.name, e.parent);
            if (!m) { /* the request never created it */
                os_ledger_void(cc->led, e.kind, e.name);
                continue;
            }
        }
        for (int j = 0; j < m; j++) {
            bool gone = false;
            int rc = s_delete(cc, e.kind, ids[j], e.parent, &gone, why, sizeof why);
            if (rc < 0) {
                LOG_ERROR("cleanup: %s %s (%s) is still there: %s", os_res_kind_name(e.kind), e.name, ids[j], why);
                st->failed++;
                continue;
            }
            LOG_DEBUG("cleanup: %s %s (%s) %s", os_res_kind_name(e.kind), e.name, ids[j],
                      gone ? "was already gone" : "deleted");
            if (gone)
                st->gone++;
            else
                st->deleted++;
            os_ledger_deleted(cc->led, e.kind, ids[j]);
        }
    }
    return st->failed ? -EBUSY : 0;
}
