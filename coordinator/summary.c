/* summary.c — VMTP's summary table and the JSON file; see summary.h. */
#include "summary.h"

#include "jsonw.h"
#include "output.h"
#include "result.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_DATA_WIDTH 80 /* VMTP wraps the Data column at 80 columns */

static const struct {
    const char *group;
    const char *name;
    bool per_proto; /* three rows: TCP, UDP, ICMP */
} s_groups[] = {
    {"1", "Same Network, Fixed IP, Intra-node", true},
    {"2", "Same Network, Fixed IP, Inter-node", true},
    {"3", "Different Network, Fixed IP, Intra-node", true},
    {"4", "Different Network, Fixed IP, Inter-node", true},
    {"5", "Different Network, Floating IP, Intra-node", true},
    {"6", "Different Network, Floating IP, Inter-node", true},
    {"7", "Native Throughput", true},
    {"8.1", "VM to Host Uploading", false},
    {"8.2", "VM to Host Downloading", false},
};
#define S_NGROUPS (sizeof s_groups / sizeof s_groups[0])

static const char *const s_proto_names[] = {"", "TCP", "UDP", "ICMP"};

/* Appends to a fixed buffer, truncating cleanly. */
static void s_cat(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void s_cat(char *buf, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

static const summary_flow_t *s_find_flow(const summary_flow_t *flows, unsigned n, const char *group)
{
    for (unsigned i = 0; i < n; i++)
        if (!strcmp(flows[i].group, group))
            return &flows[i];
    return NULL;
}

/* The figures of one protocol's entries of a flow, VMTP's Data column. Returns the entries seen. */
static unsigned s_data(const flow_result_t *f, flow_entry_kind_t kind, char *data, size_t cap, const char **error)
{
    unsigned seen = 0, tcp_runs = 0;
    double tcp_sum = 0, tcp_rtt = 0;
    uint64_t retrans = 0;
    *error = NULL;
    for (unsigned i = 0; i < f->n_entries; i++) {
        const flow_entry_t *e = &f->entries[i];
        if (e->kind != kind)
            continue;
        seen++;
        if (e->status < 0) {
            if (!*error)
                *error = e->error;
            continue;
        }
        if (kind == FLOW_ENTRY_TCP) {
            result_summary_t s;
            result_summarize(&e->res, &s);
            tcp_sum += s.throughput_bps / 1e3;
            tcp_rtt += (double)s.sender->tcp.rtt_us / 1e3;
            retrans += s.sender->tcp.total_retrans;
            tcp_runs++;
        } else if (kind == FLOW_ENTRY_UDP) {
            result_summary_t s;
            result_summarize(&e->res, &s);
            s_cat(data, cap, "%s%u: tp_kbps=%.0f loss_rate=%.2f%%%s", data[0] ? "; " : "", e->pkt_size,
                  s.throughput_bps / 1e3, s.loss_pct,
                  e->search && e->search->sender_limited ? " (sender-limited)" : "");
        } else {
            const icmp_result_t *r = &e->icmp;
            double loss = r->tx_packets ? 100.0 * (double)r->lost / (double)r->tx_packets : 0;
            if (r->rtt && hist_count(r->rtt))
                s_cat(data, cap, "%s%u: rtt_avg_ms=%.3f max=%.3f loss=%.0f%%", data[0] ? "; " : "", e->pkt_size,
                      hist_mean(r->rtt) / 1e6, (double)hist_max(r->rtt) / 1e6, loss);
            else
                s_cat(data, cap, "%s%u: no reply", data[0] ? "; " : "", e->pkt_size);
        }
    }
    if (kind == FLOW_ENTRY_TCP && tcp_runs)
        s_cat(data, cap, "tp_kbps=%.0f rtt_ms=%.3f retrans=%llu (%u run%s)", tcp_sum / tcp_runs, tcp_rtt / tcp_runs,
              (unsigned long long)retrans, tcp_runs, tcp_runs > 1 ? "s, average" : "");
    return seen;
}

/* Status and data of one row from the entries of `kinds` (one or two protocols). */
static void s_row(summary_row_t *row, const summary_flow_t *sf, const flow_entry_kind_t *kinds, unsigned nk,
                  bool selected)
{
    if (!selected) {
        row->status = FLOW_SKIPPED;
        snprintf(row->data, sizeof row->data, "not selected (--protocols)");
        return;
    }
    if (!sf || !sf->res) {
        row->status = FLOW_SKIPPED;
        snprintf(row->data, sizeof row->data, "%s", sf && sf->skip_reason ? sf->skip_reason : "not in this run");
        return;
    }
    const flow_result_t *f = sf->res;
    unsigned seen = 0;
    const char *error = NULL;
    row->data[0] = 0;
    for (unsigned k = 0; k < nk; k++) {
        char part[1024] = "";
        const char *err = NULL;
        unsigned s = s_data(f, kinds[k], part, sizeof part, &err);
        seen += s;
        if (err && !error)
            error = err;
        if (part[0])
            s_cat(row->data, sizeof row->data, "%s%s%s%s", row->data[0] ? "; " : "",
                  nk > 1 ? s_proto_names[kinds[k]] : "", nk > 1 ? " " : "", part);
    }
    if (error) {
        row->status = FLOW_FAILED;
        snprintf(row->data, sizeof row->data, "%s", error);
    } else if (!seen) {
        row->status = f->status == FLOW_FAILED ? FLOW_FAILED : FLOW_SKIPPED;
        snprintf(row->data, sizeof row->data, "%s", f->status == FLOW_FAILED ? f->reason : "nothing measured");
    } else {
        row->status = FLOW_PASSED;
    }
}

int summary_rows(const summary_flow_t *flows, unsigned n, bool tcp, bool udp, bool icmp, summary_row_t **rows,
                 summary_counts_t *counts)
{
    summary_row_t *v = calloc(S_NGROUPS * 3, sizeof *v);
    if (!v)
        return -ENOMEM;
    unsigned k = 0;
    memset(counts, 0, sizeof *counts);
    for (size_t g = 0; g < S_NGROUPS; g++) {
        const summary_flow_t *sf = s_find_flow(flows, n, s_groups[g].group);
        const char *where = "";
        if (sf && sf->res && !strcmp(s_groups[g].group, "7"))
            where = sf->res->same_host ? " (intra-host)" : " (inter-host)";
        /* a VM row whose VMs say they are placed otherwise than the inventory claims: labelled by the truth */
        char truth[48] = "";
        if (sf && sf->placement_claim && sf->placement_reported && strcmp(sf->placement_reported, "unknown") &&
            strcmp(sf->placement_claim, sf->placement_reported))
            snprintf(truth, sizeof truth, " [measured %s]", sf->placement_reported);
        if (truth[0])
            where = truth;
        if (s_groups[g].per_proto) {
            static const flow_entry_kind_t kinds[] = {FLOW_ENTRY_TCP, FLOW_ENTRY_UDP, FLOW_ENTRY_ICMP};
            const bool sel[] = {tcp, udp, icmp};
            for (unsigned p = 0; p < 3; p++, k++) {
                snprintf(v[k].id, sizeof v[k].id, "%s.%u", s_groups[g].group, p + 1);
                snprintf(v[k].name, sizeof v[k].name, "%s, %s%s", s_groups[g].name, s_proto_names[kinds[p]], where);
                s_row(&v[k], sf, &kinds[p], 1, sel[p]);
            }
        } else {
            static const flow_entry_kind_t kinds[] = {FLOW_ENTRY_TCP, FLOW_ENTRY_UDP};
            snprintf(v[k].id, sizeof v[k].id, "%s", s_groups[g].group);
            snprintf(v[k].name, sizeof v[k].name, "%s", s_groups[g].name);
            s_row(&v[k], sf, kinds, 2, tcp || udp);
            k++;
        }
    }
    for (unsigned i = 0; i < k; i++) {
        counts->total++;
        counts->passed += v[i].status == FLOW_PASSED;
        counts->failed += v[i].status == FLOW_FAILED;
        counts->skipped += v[i].status == FLOW_SKIPPED;
    }
    *rows = v;
    return (int)k;
}

/* ---- the table ----------------------------------------------------------------------------------- */

static void s_rule(FILE *out, const size_t *w)
{
    for (int c = 0; c < 4; c++) {
        fputc('+', out);
        for (size_t i = 0; i < w[c] + 2; i++)
            fputc('-', out);
    }
    fputs("+\n", out);
}

/* The next line of at most width bytes of text from *p, broken at a space when one is near. */
static size_t s_wrap(const char *p, size_t width)
{
    size_t len = strlen(p);
    if (len <= width)
        return len;
    size_t cut = width;
    while (cut > width / 2 && p[cut] != ' ')
        cut--;
    return p[cut] == ' ' ? cut : width;
}

void summary_print(FILE *out, const summary_row_t *rows, unsigned n, const summary_counts_t *c)
{
    unsigned ran = c->total - c->skipped;
    fprintf(out, "Summary of results\n==================\n");
    fprintf(out, "Total Scenarios:   %u\n", c->total);
    fprintf(out, "Passed Scenarios:  %u [%.2f%%]\n", c->passed, ran ? 100.0 * c->passed / ran : 0.0);
    fprintf(out, "Failed Scenarios:  %u [%.2f%%]\n", c->failed, ran ? 100.0 * c->failed / ran : 0.0);
    fprintf(out, "Skipped Scenarios: %u\n", c->skipped);
    const char *head[4] = {"Scenario", "Scenario Name", "Functional Status", "Data"};
    size_t w[4] = {strlen(head[0]), strlen(head[1]), strlen(head[2]), strlen(head[3])};
    for (unsigned i = 0; i < n; i++) {
        size_t l[3] = {strlen(rows[i].id), strlen(rows[i].name), strlen(flow_status_name(rows[i].status))};
        for (int k = 0; k < 3; k++)
            if (l[k] > w[k])
                w[k] = l[k];
        size_t d = strlen(rows[i].data);
        if (d > w[3])
            w[3] = d < S_DATA_WIDTH ? d : S_DATA_WIDTH;
    }
    s_rule(out, w);
    fprintf(out, "| %-*s | %-*s | %-*s | %-*s |\n", (int)w[0], head[0], (int)w[1], head[1], (int)w[2], head[2],
            (int)w[3], head[3]);
    s_rule(out, w);
    for (unsigned i = 0; i < n; i++) {
        const char *p = rows[i].data;
        bool first = true;
        do {
            size_t len = s_wrap(p, w[3]);
            fprintf(out, "| %-*s | %-*s | %-*s | %-*.*s |\n", (int)w[0], first ? rows[i].id : "", (int)w[1],
                    first ? rows[i].name : "", (int)w[2], first ? flow_status_name(rows[i].status) : "", (int)w[3],
                    (int)len, p);
            p += len;
            while (*p == ' ')
                p++;
            first = false;
        } while (*p);
    }
    s_rule(out, w);
}

/* ---- JSON ---------------------------------------------------------------------------------------- */

static void s_json_entry_error(jsonw_t *w, const flow_entry_t *e)
{
    jsonw_str(w, "protocol", s_proto_names[e->kind]);
    jsonw_u64(w, "pkt_size", e->pkt_size);
    jsonw_str(w, "error", e->error);
    jsonw_i64(w, "errno", -e->status);
}

static void s_json_flow(jsonw_t *w, const summary_flow_t *sf)
{
    const flow_result_t *f = sf->res;
    jsonw_object(w, NULL);
    jsonw_str(w, "desc", f->desc);
    jsonw_str(w, "scenario", sf->group);
    jsonw_str(w, "ip_from", f->ip_from);
    jsonw_str(w, "ip_to", f->ip_to);
    jsonw_str(w, "host_from", f->host_from);
    jsonw_str(w, "host_to", f->host_to);
    jsonw_str(w, "placement", f->same_host ? "intra-host" : "inter-host");
    if (sf->placement_claim) {
        jsonw_str(w, "placement_inventory", sf->placement_claim);
        jsonw_str(w, "placement_reported", sf->placement_reported ? sf->placement_reported : "unknown");
    }
    jsonw_str(w, "direction", f->reverse ? "reverse" : "forward");
    jsonw_str(w, "status", flow_status_name(f->status));
    if (f->reason[0])
        jsonw_str(w, "reason", f->reason);
    jsonw_double(w, "wall_s", f->wall_s);
    if (f->clock_status != 1) {
        /* the data-path clock offset (server minus client) that made UDP one-way delays absolute */
        jsonw_object(w, "clock");
        if (f->clock_status == 0) {
            jsonw_i64(w, "offset_ns", f->clock_offset_ns);
            jsonw_i64(w, "bound_ns", f->clock_bound_ns);
            jsonw_u64(w, "samples", f->clock_samples);
            jsonw_bool(w, "used_for_one_way_delay", f->clock_used);
        } else {
            jsonw_str(w, "error", strerror(-f->clock_status));
        }
        jsonw_end(w);
    }
    jsonw_array(w, "results");
    char tool[64];
    snprintf(tool, sizeof tool, "vmtp-%s", VMTP_VERSION);
    bool icmp_open = false;
    for (unsigned i = 0; i < f->n_entries; i++) {
        const flow_entry_t *e = &f->entries[i];
        if (e->kind == FLOW_ENTRY_ICMP) {
            /* VMTP nests the ICMP sizes in one entry */
            if (!icmp_open) {
                jsonw_object(w, NULL);
                jsonw_str(w, "protocol", "ICMP");
                jsonw_str(w, "tool", tool);
                jsonw_array(w, "results");
                icmp_open = true;
            }
            jsonw_object(w, NULL);
            jsonw_u64(w, "packet_size", e->pkt_size);
            if (e->status < 0 && !e->icmp.tx_packets)
                s_json_entry_error(w, e);
            else {
                output_json_icmp_members(w, f->ip_to, &e->icmp_params, &e->icmp);
                if (e->status < 0)
                    jsonw_str(w, "error", e->error);
            }
            jsonw_end(w);
            continue;
        }
        if (icmp_open) {
            jsonw_end(w);
            jsonw_end(w);
            icmp_open = false;
        }
        jsonw_object(w, NULL);
        if (e->status < 0) {
            s_json_entry_error(w, e);
        } else {
            output_json_test_members(w, f->ip_to, &e->res, e->search, e->search_mode);
            if (e->res.spec.rate_bps)
                jsonw_double(w, "bandwidth_limit_kbps", (double)e->res.spec.rate_bps / 1e3);
        }
        jsonw_str(w, "tool", tool);
        if (e->kind == FLOW_ENTRY_TCP)
            jsonw_u64(w, "run", e->run);
        jsonw_end(w);
    }
    if (icmp_open) {
        jsonw_end(w);
        jsonw_end(w);
    }
    jsonw_end(w);
    jsonw_end(w);
}

int summary_write_json(const char *path, const summary_ctx_t *ctx, const summary_flow_t *flows, unsigned n,
                       const summary_row_t *rows, unsigned nrows, const summary_counts_t *c)
{
    /* Written next to the target and renamed over it: a crash never leaves half a file. */
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    FILE *out = fopen(tmp, "w");
    if (!out)
        return -errno;
    jsonw_t w;
    jsonw_init(&w, out, true);
    jsonw_object(&w, NULL);
    jsonw_str(&w, "date", ctx->date);
    jsonw_str(&w, "args", ctx->args);
    jsonw_str(&w, "version", VMTP_VERSION);
    jsonw_str(&w, "run_id", ctx->run_id);
    if (ctx->description)
        jsonw_str(&w, "test_description", ctx->description);
    jsonw_str(&w, "mode", ctx->mode);
    jsonw_double(&w, "wall_s", ctx->wall_s);
    if (ctx->cloud) { /* VMTP's keys first, then vmtp's */
        const summary_cloud_t *cl = ctx->cloud;
        jsonw_str(&w, "auth_url", cl->auth_url ? cl->auth_url : "");
        jsonw_str(&w, "region", cl->region ? cl->region : "");
        jsonw_str(&w, "encapsulation", cl->encapsulation && cl->encapsulation[0] ? cl->encapsulation : "unknown");
        jsonw_str(&w, "l2agent_type", cl->l2_agent_type && cl->l2_agent_type[0] ? cl->l2_agent_type : "unknown");
        jsonw_object(&w, "openstack");
        jsonw_str(&w, "project_id", cl->project_id ? cl->project_id : "");
        jsonw_bool(&w, "admin", cl->admin);
        jsonw_str(&w, "placement_verified_by", cl->placement ? cl->placement : "unverified");
        jsonw_end(&w);
    }
    jsonw_array(&w, "flows");
    for (unsigned i = 0; i < n; i++)
        if (flows[i].res)
            s_json_flow(&w, &flows[i]);
    jsonw_end(&w);
    unsigned ran = c->total - c->skipped;
    jsonw_object(&w, "summary");
    jsonw_u64(&w, "total_scenarios", c->total);
    jsonw_u64(&w, "passed_scenarios", c->passed);
    jsonw_u64(&w, "failed_scenarios", c->failed);
    jsonw_u64(&w, "skipped_scenarios", c->skipped);
    jsonw_double(&w, "passed_pct", ran ? 100.0 * c->passed / ran : 0.0);
    jsonw_double(&w, "failed_pct", ran ? 100.0 * c->failed / ran : 0.0);
    jsonw_array(&w, "rows");
    for (unsigned i = 0; i < nrows; i++) {
        jsonw_object(&w, NULL);
        jsonw_str(&w, "scenario", rows[i].id);
        jsonw_str(&w, "name", rows[i].name);
        jsonw_str(&w, "status", flow_status_name(rows[i].status));
        jsonw_str(&w, "data", rows[i].data);
        jsonw_end(&w);
    }
    jsonw_end(&w);
    jsonw_end(&w);
    jsonw_array(&w, "nodes");
    for (unsigned i = 0; i < ctx->n_nodes; i++) {
        const summary_node_t *nd = &ctx->nodes[i];
        const proto_hello_t *h = nd->hello;
        jsonw_object(&w, NULL);
        jsonw_str(&w, "role", nd->role);
        jsonw_str(&w, "ssh", nd->ssh_target);
        if (h) {
            jsonw_str(&w, "hostname", h->hostname);
            jsonw_str(&w, "host_id", h->host_id);
            jsonw_str(&w, "kernel", h->kernel);
            jsonw_str(&w, "vmtp_node_version", h->version);
            jsonw_u64(&w, "cpus", h->ncpu);
            jsonw_bool(&w, "kernel_rx_stamps", h->stamping & 1);
            jsonw_bool(&w, "kernel_tx_stamps", (h->stamping & 2) != 0);
            jsonw_array(&w, "addresses");
            for (unsigned a = 0; a < h->addrs.n; a++)
                jsonw_str(&w, NULL, h->addrs.v[a]);
            jsonw_end(&w);
        }
        jsonw_i64(&w, "clock_offset_ns", nd->clock_offset_ns);
        jsonw_i64(&w, "clock_bound_ns", nd->clock_bound_ns);
        jsonw_end(&w);
    }
    jsonw_end(&w);
    jsonw_end(&w);
    fputc('\n', out);
    int rc = 0;
    if (fflush(out) != 0 || ferror(out) || fsync(fileno(out)) != 0)
        rc = errno ? -errno : -EIO;
    if (fclose(out) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    return rc;
}
