/* os_cloud.c — Neutron/Nova/Glance operations of a run, recorded in the ledger; the cleanup. */
#include "os_cloud.h"

#include "vmtp/clock.h"
#include "vmtp/log.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_POLL_MS 1000 /* between status polls */

void os_cloud_init(os_cloud_t *cc, os_client_t *cl, os_ledger_t *led, const char *run_id)
{
    memset(cc, 0, sizeof *cc);
    cc->cl = cl;
    cc->led = led;
    snprintf(cc->run_id, sizeof cc->run_id, "%s", run_id);
    snprintf(cc->tag, sizeof cc->tag, "vmtp-%s", run_id);
}

/* Percent-encodes s for a query or path segment. */
static void s_esc(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || strchr("-_.~", ch))
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", ch);
    }
    out[o] = 0;
}

static const char *s_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void s_copy(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src ? src : ""); }

/* Interruptible pause between polls (the client's interrupt fd is checked by the next request). */
static void s_sleep_ms(int ms) { poll(NULL, 0, ms); }

/* ---- look-ups -------------------------------------------------------------------------------- */

int os_find_neutron(os_cloud_t *cc, const char *collection, const char *name, char id[OS_ID_MAX], char *why, size_t cap)
{
    char esc[600], path[800];
    s_esc(name, esc, sizeof esc);
    snprintf(path, sizeof path, "/v2.0/%s?name=%s&fields=id", collection, esc);
    json_t *res = NULL;
    int rc = os_client_json(cc->cl, "network", "GET", path, NULL, OS_RETRY_503, &res, why, cap);
    if (rc < 0)
        return rc;
    char key[64];
    snprintf(key, sizeof key, "%s", collection);
    for (char *p = key; *p; p++)
        if (*p == '-')
            *p = '_';
    json_t *arr = json_object_get(res, key);
    size_t n = json_array_size(arr);
    if (n == 1)
        s_copy(id, OS_ID_MAX, s_str(json_array_get(arr, 0), "id"));
    json_decref(res);
    if (n == 0) {
        snprintf(why, cap, "no %s named '%s'", collection, name);
        return -ENOENT;
    }
    if (n > 1) {
        snprintf(why, cap, "%zu %s are named '%s': name one that is unique", n, collection, name);
        return -EEXIST;
    }
    return 0;
}

int os_find_external_network(os_cloud_t *cc, char id[OS_ID_MAX], char *name, size_t ncap, char *why, size_t cap)
{
    json_t *res = NULL;
    int rc = os_client_json(cc->cl, "network", "GET", "/v2.0/networks?router%3Aexternal=True&fields=id&fields=name",
                            NULL, OS_RETRY_503, &res, why, cap);
    if (rc < 0)
        return rc;
    json_t *net = json_array_get(json_object_get(res, "networks"), 0);
    if (!net) {
        json_decref(res);
        snprintf(why, cap, "the cloud has no external network (router:external) for the router and floating IPs");
        return -ENOENT;
    }
    s_copy(id, OS_ID_MAX, s_str(net, "id"));
    s_copy(name, ncap, s_str(net, "name"));
    json_decref(res);
    return 0;
}

int os_find_image(os_cloud_t *cc, const char *name, char id[OS_ID_MAX], char *why, size_t cap)
{
    char esc[600], path[800];
    s_esc(name, esc, sizeof esc);
    snprintf(path, sizeof path, "/v2/images?name=%s&status=active", esc);
    json_t *res = NULL;
    int rc = os_client_json(cc->cl, "image", "GET", path, NULL, OS_RETRY_503, &res, why, cap);
    if (rc < 0)
        return rc;
    json_t *img = json_array_get(json_object_get(res, "images"), 0);
    if (img)
        s_copy(id, OS_ID_MAX, s_str(img, "id"));
    json_decref(res);
    if (!img) {
        snprintf(why, cap, "no active image named '%s'", name);
        return -ENOENT;
    }
    return 0;
}

int os_find_flavor(os_cloud_t *cc, const char *name, char id[OS_ID_MAX], char *why, size_t cap)
{
    json_t *res = NULL;
    int rc = os_client_json(cc->cl, "compute", "GET", "/flavors", NULL, OS_RETRY_503, &res, why, cap);
    if (rc < 0)
        return rc;
    json_t *arr = json_object_get(res, "flavors"), *f;
    size_t i;
    rc = -ENOENT;
    json_array_foreach(arr, i, f)
    {
        const char *n = s_str(f, "name");
        if (n && !strcmp(n, name)) {
            s_copy(id, OS_ID_MAX, s_str(f, "id"));
            rc = 0;
            break;
        }
    }
    json_decref(res);
    if (rc < 0)
        snprintf(why, cap, "no flavor named '%s'", name);
    return rc;
}

static int s_cmp_host(const void *a, const void *b) { return strcmp(a, b); }

int os_compute_hosts(os_cloud_t *cc, char hosts[][256], char zones[][128], unsigned max, char *why, size_t cap)
{
    json_t *res = NULL;
    int rc = os_client_json(cc->cl, "compute", "GET", "/os-services?binary=nova-compute", NULL, OS_RETRY_503, &res, why,
                            cap);
    if (rc < 0)
        return rc;
    struct {
        char host[256];
        char zone[128];
    } found[64];
    unsigned n = 0;
    json_t *arr = json_object_get(res, "services"), *s;
    size_t i;
    json_array_foreach(arr, i, s)
    {
        const char *h = s_str(s, "host"), *st = s_str(s, "state"), *en = s_str(s, "status");
        if (!h || !st || strcmp(st, "up") || !en || strcmp(en, "enabled") || n >= 64)
            continue;
        s_copy(found[n].host, sizeof found[n].host, h);
        s_copy(found[n].zone, sizeof found[n].zone, s_str(s, "zone"));
        n++;
    }
    json_decref(res);
    qsort(found, n, sizeof found[0], s_cmp_host);
    for (unsigned k = 0; k < n && k < max; k++) {
        snprintf(hosts[k], 256, "%s", found[k].host);
        snprintf(zones[k], 128, "%s", found[k].zone[0] ? found[k].zone : "nova");
    }
    return (int)(n < max ? n : max);
}

void os_cloud_facts(os_cloud_t *cc, const char *net_id, char *l2_agent, size_t l2cap, char *encap, size_t ecap)
{
    char why[300];
    json_t *res = NULL;
    l2_agent[0] = encap[0] = 0;
    if (os_client_json(cc->cl, "network", "GET", "/v2.0/agents", NULL, OS_RETRY_503, &res, why, sizeof why) == 0) {
        json_t *arr = json_object_get(res, "agents"), *a;
        size_t i;
        json_array_foreach(arr, i, a)
        {
            const char *t = s_str(a, "agent_type");
            if (t && (strstr(t, "Linux bridge") || strstr(t, "Open vSwitch") || strstr(t, "OVN Controller") ||
                      strstr(t, "SR-IOV") || strstr(t, "Macvtap"))) {
                s_copy(l2_agent, l2cap, t);
                break;
            }
        }
        json_decref(res);
        res = NULL;
    }
    if (net_id && net_id[0]) {
        char path[300];
        snprintf(path, sizeof path, "/v2.0/networks/%s", net_id);
        if (os_client_json(cc->cl, "network", "GET", path, NULL, OS_RETRY_503, &res, why, sizeof why) == 0)
            s_copy(encap, ecap, s_str(json_object_get(res, "network"), "provider:network_type"));
        json_decref(res);
    }
}

/* ---- creations ------------------------------------------------------------------------------- */

/* A ledger write that fails stops the run: what is not recorded could leak. */
static int s_ledger_fail(int rc, char *why, size_t cap)
{
    snprintf(why, cap, "cannot write the ledger: %s (stopping: what is not recorded could not be cleaned up)",
             strerror(-rc));
    return rc;
}

/* A create request refused with -EINTR was never sent (os_http sends nothing once a signal came):
 * its intent is void at once, so the cleanup need not look for it. */
static int s_unsent(os_cloud_t *cc, os_res_kind_t kind, const char *name, int rc)
{
    if (rc == -EINTR)
        os_ledger_void(cc->led, kind, name);
    return rc;
}

/* Tags a Neutron resource with the run (best effort: the name carries the run too). */
static void s_tag(os_cloud_t *cc, const char *collection, const char *id)
{
    char path[400], why[300];
    snprintf(path, sizeof path, "/v2.0/%s/%s/tags/%s", collection, id, cc->tag);
    if (os_client_json(cc->cl, "network", "PUT", path, NULL, OS_RETRY_503, NULL, why, sizeof why) < 0)
        LOG_DEBUG("cannot tag %s %s: %s", collection, id, why);
}

/* POST {singular: obj} to Neutron's collection; records and tags the result. obj is stolen. */
static int s_neutron_create(os_cloud_t *cc, os_res_kind_t kind, const char *collection, const char *singular,
                            const char *name, json_t *obj, char id[OS_ID_MAX], json_t **answer, char *why, size_t cap)
{
    int rc = os_ledger_intent(cc->led, kind, name);
    if (rc < 0) {
        json_decref(obj);
        return s_ledger_fail(rc, why, cap);
    }
    json_t *body = json_pack("{s:o}", singular, obj);
    char path[200];
    snprintf(path, sizeof path, "/v2.0/%s", collection);
    json_t *res = NULL;
    rc = os_client_json(cc->cl, "network", "POST", path, body, OS_RETRY_NONE, &res, why, cap);
    json_decref(body);
    if (rc < 0)
        return s_unsent(cc, kind, name, rc);
    json_t *o = json_object_get(res, singular);
    const char *got = s_str(o, "id");
    if (!got || strlen(got) >= OS_ID_MAX) {
        json_decref(res);
        snprintf(why, cap, "POST %s: the answer has no %s id", path, singular);
        return -EPROTO;
    }
    s_copy(id, OS_ID_MAX, got);
    rc = os_ledger_created(cc->led, kind, id, name, NULL);
    if (rc < 0) {
        json_decref(res);
        return s_ledger_fail(rc, why, cap);
    }
    s_tag(cc, collection, id);
    LOG_DEBUG("created %s %s (%s)", singular, name, id);
    if (answer)
        *answer = res;
    else
        json_decref(res);
    return 0;
}

int os_create_network(os_cloud_t *cc, const char *name, char id[OS_ID_MAX], char *why, size_t cap)
{
    return s_neutron_create(cc, OS_RES_NETWORK, "networks", "network", name,
                            json_pack("{s:s,s:b}", "name", name, "admin_state_up", 1), id, NULL, why, cap);
}

int os_create_subnet(os_cloud_t *cc, const char *name, const char *net_id, const char *cidr, const char *const *dns,
                     unsigned n_dns, bool dhcp, char id[OS_ID_MAX], char *why, size_t cap)
{
    json_t *servers = json_array();
    for (unsigned i = 0; i < n_dns; i++)
        json_array_append_new(servers, json_string(dns[i]));
    return s_neutron_create(cc, OS_RES_SUBNET, "subnets", "subnet", name,
                            json_pack("{s:s,s:s,s:i,s:s,s:b,s:o}", "name", name, "network_id", net_id, "ip_version", 4,
                                      "cidr", cidr, "enable_dhcp", dhcp, "dns_nameservers", servers),
                            id, NULL, why, cap);
}

int os_create_router(os_cloud_t *cc, const char *name, const char *ext_net_id, char id[OS_ID_MAX], char *why,
                     size_t cap)
{
    json_t *obj = json_pack("{s:s,s:b}", "name", name, "admin_state_up", 1);
    if (ext_net_id)
        json_object_set_new(obj, "external_gateway_info", json_pack("{s:s}", "network_id", ext_net_id));
    return s_neutron_create(cc, OS_RES_ROUTER, "routers", "router", name, obj, id, NULL, why, cap);
}

int os_set_router_gateway(os_cloud_t *cc, const char *router_id, const char *ext_net_id, char *why, size_t cap)
{
    /* recorded before the request: its undo (clearing the gateway) is harmless when it never happened */
    char name[200];
    snprintf(name, sizeof name, "%s-gateway", cc->tag);
    int rc = os_ledger_created(cc->led, OS_RES_ROUTER_GW, router_id, name, NULL);
    if (rc < 0)
        return s_ledger_fail(rc, why, cap);
    char path[300];
    snprintf(path, sizeof path, "/v2.0/routers/%s", router_id);
    json_t *body = json_pack("{s:{s:{s:s}}}", "router", "external_gateway_info", "network_id", ext_net_id);
    rc = os_client_json(cc->cl, "network", "PUT", path, body, OS_RETRY_503, NULL, why, cap);
    json_decref(body);
    return rc;
}

int os_add_router_interface(os_cloud_t *cc, const char *router_id, const char *subnet_id, char *why, size_t cap)
{
    /* recorded before the request: removing an interface that was never added answers 404 (gone) */
    char name[300];
    snprintf(name, sizeof name, "%s-if-%s", cc->tag, subnet_id);
    int rc = os_ledger_created(cc->led, OS_RES_ROUTER_IF, subnet_id, name, router_id);
    if (rc < 0)
        return s_ledger_fail(rc, why, cap);
    char path[300];
    snprintf(path, sizeof path, "/v2.0/routers/%s/add_router_interface", router_id);
    json_t *body = json_pack("{s:s}", "subnet_id", subnet_id);
    rc = os_client_json(cc->cl, "network", "PUT", path, body, OS_RETRY_NONE, NULL, why, cap);
    json_decref(body);
    return rc;
}

static int s_rule(os_cloud_t *cc, const char *sg, const char *proto, int lo, int hi, char *why, size_t cap)
{
    json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:s}", "security_group_id", sg, "direction", "ingress", "ethertype", "IPv4",
                          "protocol", proto, "remote_ip_prefix", "0.0.0.0/0");
    if (lo > 0) {
        json_object_set_new(r, "port_range_min", json_integer(lo));
        json_object_set_new(r, "port_range_max", json_integer(hi));
    }
    json_t *body = json_pack("{s:o}", "security_group_rule", r);
    int rc =
        os_client_json(cc->cl, "network", "POST", "/v2.0/security-group-rules", body, OS_RETRY_NONE, NULL, why, cap);
    json_decref(body);
    return rc;
}

int os_create_secgroup(os_cloud_t *cc, const char *name, const uint16_t *ports, unsigned n_ports, char id[OS_ID_MAX],
                       char *why, size_t cap)
{
    int rc = s_neutron_create(cc, OS_RES_SECGROUP, "security-groups", "security_group", name,
                              json_pack("{s:s,s:s}", "name", name, "description", "vmtp: ICMP, SSH, data and control"),
                              id, NULL, why, cap);
    if (rc < 0)
        return rc;
    /* the rules go with the group */
    if ((rc = s_rule(cc, id, "icmp", 0, 0, why, cap)) < 0 || (rc = s_rule(cc, id, "tcp", 22, 22, why, cap)) < 0)
        return rc;
    for (unsigned i = 0; i < n_ports; i++)
        if ((rc = s_rule(cc, id, "tcp", ports[i], ports[i], why, cap)) < 0 ||
            (rc = s_rule(cc, id, "udp", ports[i], ports[i], why, cap)) < 0)
            return rc;
    return 0;
}

int os_create_keypair(os_cloud_t *cc, const char *name, const char *public_key, char *why, size_t cap)
{
    int rc = os_ledger_intent(cc->led, OS_RES_KEYPAIR, name);
    if (rc < 0)
        return s_ledger_fail(rc, why, cap);
    json_t *body = json_pack("{s:{s:s,s:s}}", "keypair", "name", name, "public_key", public_key);
    rc = os_client_json(cc->cl, "compute", "POST", "/os-keypairs", body, OS_RETRY_NONE, NULL, why, cap);
    json_decref(body);
    if (rc < 0)
        return s_unsent(cc, OS_RES_KEYPAIR, name, rc);
    rc = os_ledger_created(cc->led, OS_RES_KEYPAIR, name, name, NULL);
    return rc < 0 ? s_ledger_fail(rc, why, cap) : 0;
}

int os_create_flavor(os_cloud_t *cc, const char *name, const config_flavor_t *spec, char id[OS_ID_MAX], char *why,
                     size_t cap)
{
    int rc = os_ledger_intent(cc->led, OS_RES_FLAVOR, name);
    if (rc < 0)
        return s_ledger_fail(rc, why, cap);
    json_t *body = json_pack("{s:{s:s,s:I,s:I,s:I,s:I,s:I}}", "flavor", "name", name, "vcpus", (json_int_t)spec->vcpus,
                             "ram", (json_int_t)spec->ram, "disk", (json_int_t)spec->disk, "OS-FLV-EXT-DATA:ephemeral",
                             (json_int_t)spec->ephemeral, "swap", (json_int_t)spec->swap);
    json_t *res = NULL;
    rc = os_client_json(cc->cl, "compute", "POST", "/flavors", body, OS_RETRY_NONE, &res, why, cap);
    json_decref(body);
    if (rc < 0)
        return s_unsent(cc, OS_RES_FLAVOR, name, rc);
    const char *got = s_str(json_object_get(res, "flavor"), "id");
    s_copy(id, OS_ID_MAX, got);
    json_decref(res);
    if (!id[0]) {
        snprintf(why, cap, "POST /flavors: the answer has no flavor id");
        return -EPROTO;
    }
    rc = os_ledger_created(cc->led, OS_RES_FLAVOR, id, name, NULL);
    if (rc < 0)
        return s_ledger_fail(rc, why, cap);
    if (!spec->n_specs)
        return 0;
    json_t *specs = json_object();
    for (unsigned i = 0; specs && i < spec->n_specs; i++)
        if (json_object_set_new(specs, spec->spec_key[i], json_string(spec->spec_val[i])) < 0) {
            snprintf(why, cap, "flavor %s: extra spec '%s' cannot be sent (its value is not UTF-8)", name,
                     spec->spec_key[i]);
            json_decref(specs);
            return -EINVAL;
        }
    body = specs ? json_pack("{s:o}", "extra_specs", specs) : NULL;
    if (!body) {
        snprintf(why, cap, "flavor %s: out of memory for its extra specs", name);
        return -ENOMEM;
    }
    char path[96];
    snprintf(path, sizeof path, "/flavors/%s/os-extra_specs", id);
    rc = os_client_json(cc->cl, "compute", "POST", path, body, OS_RETRY_NONE, NULL, why, cap);
    json_decref(body);
    return rc;
}

int os_create_image(os_cloud_t *cc, const char *name, const char *file, char id[OS_ID_MAX], char *why, size_t cap)
{
    /* qcow2 by its magic, raw otherwise */
    char magic[4] = {0};
    FILE *f = fopen(file, "rb");
    if (!f) {
        snprintf(why, cap, "image file %s: %s", file, strerror(errno));
        return -errno;
    }
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    const char *format = got == 4 && !memcmp(magic, "QFI\xfb", 4) ? "qcow2" : "raw";
    int rc = os_ledger_intent(cc->led, OS_RES_IMAGE, name);
    if (rc < 0)
        return s_ledger_fail(rc, why, cap);
    json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:[s]}", "name", name, "disk_format", format, "container_format", "bare",
                             "visibility", "private", "tags", cc->tag);
    json_t *res = NULL;
    rc = os_client_json(cc->cl, "image", "POST", "/v2/images", body, OS_RETRY_NONE, &res, why, cap);
    json_decref(body);
    if (rc < 0)
        return s_unsent(cc, OS_RES_IMAGE, name, rc);
    s_copy(id, OS_ID_MAX, s_str(res, "id"));
    json_decref(res);
    if (!id[0]) {
        snprintf(why, cap, "POST /v2/images: the answer has no image id");
        return -EPROTO;
    }
    rc = os_ledger_created(cc->led, OS_RES_IMAGE, id, name, NULL);
    if (rc < 0)
        return s_ledger_fail(rc, why, cap);
    char path[300];
    snprintf(path, sizeof path, "/v2/images/%s/file", id);
    LOG_INFO("uploading image %s (%s) from %s", name, format, file);
    return os_client_upload(cc->cl, "image", path, file, why, cap);
}

int os_create_server(os_cloud_t *cc, const char *name, const char *image_id, const char *flavor_id,
                     const char *key_name, const char *secgroup, const char *net_id, const char *az, char id[OS_ID_MAX],
                     char *why, size_t cap)
{
    int rc = os_ledger_intent(cc->led, OS_RES_SERVER, name);
    if (rc < 0)
        return s_ledger_fail(rc, why, cap);
    json_t *srv = json_pack("{s:s,s:s,s:s,s:[{s:s}],s:[{s:s}],s:{s:s},s:[s]}", "name", name, "imageRef", image_id,
                            "flavorRef", flavor_id, "networks", "uuid", net_id, "security_groups", "name", secgroup,
                            "metadata", "vmtp_run", cc->run_id, "tags", cc->tag);
    if (key_name && key_name[0])
        json_object_set_new(srv, "key_name", json_string(key_name));
    if (az && az[0])
        json_object_set_new(srv, "availability_zone", json_string(az));
    json_t *body = json_pack("{s:o}", "server", srv);
    json_t *res = NULL;
    rc = os_client_json(cc->cl, "compute", "POST", "/servers", body, OS_RETRY_NONE, &res, why, cap);
    json_decref(body);
    if (rc < 0)
        return s_unsent(cc, OS_RES_SERVER, name, rc);
    s_copy(id, OS_ID_MAX, s_str(json_object_get(res, "server"), "id"));
    json_decref(res);
    if (!id[0]) {
        snprintf(why, cap, "POST /servers: the answer has no server id");
        return -EPROTO;
    }
    rc = os_ledger_created(cc->led, OS_RES_SERVER, id, name, NULL);
    return rc < 0 ? s_ledger_fail(rc, why, cap) : 0;
}

static void s_server_from(json_t *s, os_server_t *out)
{
    memset(out, 0, sizeof *out);
    s_copy(out->id, sizeof out->id, s_str(s, "id"));
    s_copy(out->status, sizeof out->status, s_str(s, "status"));
    s_copy(out->fault, sizeof out->fault, s_str(json_object_get(s, "fault"), "message"));
    s_copy(out->host, sizeof out->host, s_str(s, "OS-EXT-SRV-ATTR:host"));
    s_copy(out->host_id, sizeof out->host_id, s_str(s, "hostId"));
    s_copy(out->az, sizeof out->az, s_str(s, "OS-EXT-AZ:availability_zone"));
}

int os_get_server(os_cloud_t *cc, const char *id, os_server_t *out, char *why, size_t cap)
{
    char path[300];
    snprintf(path, sizeof path, "/servers/%s", id);
    json_t *res = NULL;
    int rc = os_client_json(cc->cl, "compute", "GET", path, NULL, OS_RETRY_503, &res, why, cap);
    if (rc < 0)
        return rc;
    s_server_from(json_object_get(res, "server"), out);
    json_decref(res);
    return 0;
}

int os_wait_server(os_cloud_t *cc, const char *id, int64_t bound_ns, os_server_t *out, char *why, size_t cap)
{
    int64_t end = clock_mono_ns() + bound_ns;
    for (;;) {
        int rc = os_get_server(cc, id, out, why, cap);
        if (rc < 0)
            return rc;
        if (!strcmp(out->status, "ACTIVE"))
            return 0;
        if (!strcmp(out->status, "ERROR")) {
            snprintf(why, cap, "went to ERROR: %s (server %s)", out->fault[0] ? out->fault : "no fault message", id);
            return -EIO;
        }
        if (clock_mono_ns() > end) {
            snprintf(why, cap, "server %s still %s after %.0f s", id, out->status, (double)bound_ns / 1e9);
            return -ETIMEDOUT;
        }
        s_sleep_ms(S_POLL_MS);
    }
}

int os_server_port(os_cloud_t *cc, const char *server_id, const char *net_id, char port_id[OS_ID_MAX], char *ip,
                   size_t ipcap, char *why, size_t cap)
{
    char path[400];
    snprintf(path, sizeof path, "/v2.0/ports?device_id=%s&network_id=%s", server_id, net_id);
    json_t *res = NULL;
    int rc = os_client_json(cc->cl, "network", "GET", path, NULL, OS_RETRY_503, &res, why, cap);
    if (rc < 0)
        return rc;
    json_t *port = json_array_get(json_object_get(res, "ports"), 0);
    s_copy(port_id, OS_ID_MAX, s_str(port, "id"));
    ip[0] = 0;
    json_t *fips = json_object_get(port, "fixed_ips"), *fi;
    size_t i;
    json_array_foreach(fips, i, fi)
    {
        const char *a = s_str(fi, "ip_address");
        if (a && strchr(a, '.')) {
            s_copy(ip, ipcap, a);
            break;
        }
    }
    json_decref(res);
    if (!port_id[0] || !ip[0]) {
        snprintf(why, cap, "server %s has no IPv4 port on network %s", server_id, net_id);
        return -ENOENT;
    }
    return 0;
}

int os_create_fip(os_cloud_t *cc, const char *label, const char *ext_net_id, const char *port_id, char id[OS_ID_MAX],
                  char *addr, size_t acap, char *why, size_t cap)
{
    json_t *res = NULL;
    int rc = s_neutron_create(
        cc, OS_RES_FIP, "floatingips", "floatingip", label,
        json_pack("{s:s,s:s,s:s}", "floating_network_id", ext_net_id, "port_id", port_id, "description", label), id,
        &res, why, cap);
    if (rc < 0)
        return rc;
    s_copy(addr, acap, s_str(json_object_get(res, "floatingip"), "floating_ip_address"));
    json_decref(res);
    return 0;
}
