/* cli.c — option table, parser and help of vmtp-node; see cli.h. */
#include "cli.h"

#include "vmtp/clock.h"
#include "vmtp/units.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum { T_U64, T_SIZE, T_RATE, T_DUR, T_PCT, T_RANGE, T_STR, T_ENUM, T_FLAG, T_COUNT } s_type_t;

#define C_SERVER (1u << CMD_SERVER)
#define C_TCP (1u << CMD_TCP)
#define C_UDP (1u << CMD_UDP)
#define C_RR (1u << CMD_RR)
#define C_ICMP (1u << CMD_ICMP)
#define C_DATA (C_TCP | C_UDP | C_RR) /* tests that talk to a vmtp-node server */
#define C_CLIENT (C_DATA | C_ICMP)
#define C_AGENT (1u << CMD_AGENT)
#define C_ALL (C_SERVER | C_CLIENT | C_AGENT)
#define S (VMTP_NS_PER_S)

typedef struct {
    const char *name;    /* long form */
    const char *alias;   /* short form or NULL */
    s_type_t type;       /* how the value is parsed */
    size_t off;          /* where it goes in cli_opts_t */
    double min, max;     /* bounds of numeric values (durations in ns) */
    unsigned cmds;       /* subcommands that take it */
    const char *choices; /* T_ENUM: "a|b|c" */
    const char *arg;     /* placeholder in help */
    const char *help;    /* one line */
} s_opt_t;

#define O(f) offsetof(cli_opts_t, f)
static const s_opt_t s_opts[] = {
    {"--port", "-p", T_U64, O(port), 1, 65535, C_SERVER | C_DATA, NULL, "PORT",
     "data port, TCP and UDP (default 5001)"},
    {"--port", "-p", T_U64, O(port), 0, 65535, C_AGENT, NULL, "PORT", "control port (default 5002; 0 = any free one)"},
    {"--bind", "-B", T_STR, O(bind), 0, 0, C_SERVER | C_DATA | C_AGENT, NULL, "ADDR",
     "local address to use (server: to listen on)"},
    {"--time", "-t", T_DUR, O(time_ns), 1e6, 86400e9, C_TCP | C_UDP | C_RR, NULL, "DUR",
     "test duration, e.g. 10, 2.5, 500ms (default 10 s; rr: used when --count is 0)"},
    {"--len", "-l", T_SIZE, O(len), 1, 16 << 20, C_CLIENT, NULL, "BYTES",
     "tcp write size (65536), udp datagram payload (1470; 64..65507), rr message (64), icmp payload (64)"},
    {"--rate", "-b", T_RATE, O(rate), 0, 4e11, C_TCP | C_UDP, NULL, "RATE",
     "udp offered payload rate (0 = as fast as the sender goes) / tcp cap, bit/s with K/M/G (udp default: search)"},
    {"--count", "-n", T_U64, O(count), 0, 1e8, C_RR | C_ICMP, NULL, "N",
     "requests (rr default 10000, 0 = --time) or echoes (icmp default 10)"},
    {"--parallel", "-P", T_U64, O(parallel), 1, 128, C_TCP, NULL, "N", "parallel TCP streams (default 1)"},
    {"--reverse", "-R", T_FLAG, O(reverse), 0, 0, C_TCP | C_UDP, NULL, NULL, "server sends, client receives"},
    {"--omit", "-O", T_DUR, O(omit_ns), 0, 3600e9, C_TCP | C_UDP, NULL, "DUR",
     "warm-up excluded from the results (default 0)"},
    {"--interval", "-i", T_DUR, O(interval_ns), 0, 3600e9, C_TCP | C_UDP, NULL, "DUR",
     "progress report period, 0 = none (default 1 s)"},
    {"--sndbuf", NULL, T_SIZE, O(sndbuf), 0, 256 << 20, C_TCP | C_UDP, NULL, "BYTES", "SO_SNDBUF (default: kernel's)"},
    {"--rcvbuf", NULL, T_SIZE, O(rcvbuf), 0, 256 << 20, C_TCP | C_UDP, NULL, "BYTES",
     "SO_RCVBUF (default: kernel's; udp receiver 8M)"},
    {"--connect-timeout", NULL, T_DUR, O(connect_timeout_ns), 1e6, 600e9, C_DATA, NULL, "DUR",
     "give up reaching the server after this long (default 5 s)"},
    {"--timeout", NULL, T_DUR, O(timeout_ns), 1e6, 60e9, C_RR | C_ICMP, NULL, "DUR",
     "a request unanswered this long is lost (default 1 s)"},
    {"--proto", NULL, T_ENUM, O(proto), 0, 0, C_RR, "udp|tcp", "P", "rr transport (default udp)"},
    {"--mode", NULL, T_ENUM, O(mode), 0, 0, C_RR, "pingpong|isochronous", "M",
     "rr schedule: next request after the reply, or fixed period (default pingpong)"},
    {"--send-interval", NULL, T_DUR, O(send_interval_ns), 1e3, 60e9, C_RR | C_ICMP, NULL, "DUR",
     "send period of isochronous rr (default 1ms) and icmp (default 100ms)"},
    {"--search", NULL, T_ENUM, O(search), 0, 0, C_UDP, "none|vmtp|rfc2544", "S",
     "udp rate search (default vmtp without --rate, none with it)"},
    {"--loss-range", NULL, T_RANGE, O(loss_min), 0, 100, C_UDP, NULL, "LO,HI",
     "vmtp search: acceptable loss window in % (default 2,5)"},
    {"--loss-threshold", NULL, T_PCT, O(loss_threshold), 0, 100, C_UDP, NULL, "PCT",
     "rfc2544 search: highest acceptable loss in % (default 0.1)"},
    {"--trial-time", NULL, T_DUR, O(trial_ns), 1e8, 600e9, C_UDP, NULL, "DUR",
     "search: length of one trial (default 2 s)"},
    {"--max-trials", NULL, T_U64, O(max_trials), 1, 100, C_UDP, NULL, "N", "search: most trials (default 16)"},
    {"--rate-max", NULL, T_RATE, O(rate_max), 0, 4e11, C_UDP, NULL, "RATE",
     "search: highest rate tried (default: what the path carries unpaced)"},
    {"--gso", NULL, T_FLAG, O(gso), 0, 0, C_UDP, NULL, NULL,
     "sender hands datagrams to the kernel as UDP GSO messages (less CPU; see docs/ACCURACY.md)"},
    {"--start-at", NULL, T_U64, O(start_at_ns), 0, 9.2e18, C_TCP | C_UDP | C_RR, NULL, "NS",
     "start the data phase at this CLOCK_REALTIME time (ns since the epoch)"},
    {"--silence", NULL, T_DUR, O(silence_ns), 1e9, 3600e9, C_AGENT, NULL, "DUR",
     "exit when the coordinator has been silent this long (default 30 s; its HELLO may set another)"},
    {"--cleanup", NULL, T_STR, O(cleanup), 0, 0, C_AGENT, NULL, "DIR", "remove this vmtp* working directory on exit"},
    {"--host-id", NULL, T_STR, O(host_id), 0, 0, C_AGENT, NULL, "ID", "identity to report instead of /etc/machine-id"},
    {"--json", "-J", T_FLAG, O(json), 0, 0, C_CLIENT, NULL, NULL, "print one JSON object instead of the summary"},
    {"--verbose", "-v", T_COUNT, O(verbose), 0, 0, C_ALL, NULL, NULL, "more detail on stderr (repeatable)"},
    {"--ipv4", "-4", T_FLAG, O(ipv4), 0, 0, C_CLIENT, NULL, NULL, "resolve TARGET as IPv4"},
    {"--ipv6", "-6", T_FLAG, O(ipv6), 0, 0, C_CLIENT, NULL, NULL, "resolve TARGET as IPv6"},
};
#undef O
#define S_NOPTS (sizeof s_opts / sizeof s_opts[0])

static const char *const s_cmd_names[] = {"", "server", "tcp", "udp", "rr", "icmp", "agent"};

const char *cli_cmd_name(cli_cmd_t cmd) { return cmd <= CMD_AGENT ? s_cmd_names[cmd] : "?"; }

static void s_defaults(cli_opts_t *o, cli_cmd_t cmd)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->port = 5001;
    o->time_ns = 10 * S;
    o->parallel = 1;
    o->interval_ns = 1 * S;
    o->connect_timeout_ns = 5 * S;
    o->timeout_ns = 1 * S;
    o->proto = "udp";
    o->mode = "pingpong";
    o->search = NULL;
    o->loss_min = 2;
    o->loss_max = 5;
    o->loss_threshold = 0.1;
    o->trial_ns = 2 * S;
    o->max_trials = 16;
    o->silence_ns = 30 * S;
    switch (cmd) {
    case CMD_AGENT: o->port = 5002; break;
    case CMD_TCP: o->len = 65536; break;
    case CMD_UDP: o->len = 1470; break;
    case CMD_RR:
        o->len = 64;
        o->count = 10000;
        o->send_interval_ns = VMTP_NS_PER_MS;
        break;
    case CMD_ICMP:
        o->len = 64;
        o->count = 10;
        o->send_interval_ns = 100 * VMTP_NS_PER_MS;
        break;
    default: break;
    }
}

static void s_usage(FILE *f, cli_cmd_t cmd)
{
    if (cmd == CMD_NONE) {
        fprintf(f, "usage: vmtp-node server [--port P] [--bind ADDR]\n"
                   "       vmtp-node tcp|udp|rr|icmp TARGET [options] [--json]\n"
                   "       vmtp-node COMMAND --help | --version\n\n"
                   "  server  serve tcp, udp and rr tests to any number of clients at once\n"
                   "  tcp     TCP throughput (receiver goodput, TCP_INFO)\n"
                   "  udp     UDP throughput, loss (network vs receiving socket), jitter; rate search\n"
                   "  rr      request/response latency with kernel timestamps\n"
                   "  icmp    ICMP echo latency and loss (ping socket or raw socket)\n"
                   "  agent   the node agent a vmtp coordinator drives (keys on standard input)\n");
        return;
    }
    fprintf(f, "usage: vmtp-node %s%s [options]%s\n\noptions:\n", cli_cmd_name(cmd),
            cmd == CMD_SERVER || cmd == CMD_AGENT ? "" : " TARGET",
            cmd == CMD_AGENT ? "\n  (reads 'secret KEY' and 'coordinator KEY' lines, Z85 CURVE keys, on standard input)"
                             : "");
    for (size_t i = 0; i < S_NOPTS; i++) {
        const s_opt_t *p = &s_opts[i];
        if (!(p->cmds & (1u << cmd)))
            continue;
        char lhs[64];
        snprintf(lhs, sizeof lhs, "%s%s%s%s%s", p->alias ? p->alias : "", p->alias ? ", " : "", p->name,
                 p->arg ? " " : "", p->arg ? p->arg : "");
        fprintf(f, "  %-26s %s%s%s\n", lhs, p->help, p->choices ? "; one of " : "", p->choices ? p->choices : "");
    }
}

/* The entry for an option name: the one that applies to cmd when the name has several (their
 * bounds differ), else any, else NULL. */
static const s_opt_t *s_find(const char *name, cli_cmd_t cmd)
{
    const s_opt_t *any = NULL;
    for (size_t i = 0; i < S_NOPTS; i++) {
        if (strcmp(name, s_opts[i].name) && (!s_opts[i].alias || strcmp(name, s_opts[i].alias)))
            continue;
        if (s_opts[i].cmds & (1u << cmd))
            return &s_opts[i];
        any = &s_opts[i];
    }
    return any;
}

static const char *s_kind(s_type_t t)
{
    switch (t) {
    case T_U64: return "a whole number";
    case T_SIZE: return "a size in bytes (optional K/M/G = 2^10/2^20/2^30)";
    case T_RATE: return "a rate in bit/s (optional K/M/G = 10^3/10^6/10^9)";
    case T_DUR: return "a duration (seconds, or with ns/us/ms/s)";
    case T_PCT: return "a percentage";
    case T_RANGE: return "two percentages LO,HI";
    default: return "a value";
    }
}

/* Prints "min..max" of an option's bounds in its own units. */
static void s_bounds(FILE *f, const s_opt_t *p)
{
    if (p->type == T_DUR)
        fprintf(f, "%g s..%g s", p->min / 1e9, p->max / 1e9);
    else
        fprintf(f, "%.0f..%.0f", p->min, p->max);
}

/* Stores one option's value. Returns 0 or 2 after printing why. */
static int s_store(const s_opt_t *p, const char *v, cli_opts_t *o, FILE *err)
{
    char *base = (char *)o;
    int rc = 0;
    switch (p->type) {
    case T_U64: rc = units_parse_u64(v, (uint64_t)p->min, (uint64_t)p->max, (uint64_t *)(void *)(base + p->off)); break;
    case T_SIZE:
        rc = units_parse_size(v, (uint64_t)p->min, (uint64_t)p->max, (uint64_t *)(void *)(base + p->off));
        break;
    case T_RATE:
        rc = units_parse_rate(v, (uint64_t)p->min, (uint64_t)p->max, (uint64_t *)(void *)(base + p->off));
        break;
    case T_DUR:
        rc = units_parse_duration(v, (int64_t)p->min, (int64_t)p->max, (int64_t *)(void *)(base + p->off));
        break;
    case T_PCT: rc = units_parse_percent(v, p->min, p->max, (double *)(void *)(base + p->off)); break;
    case T_RANGE: {
        char a[32], *comma;
        snprintf(a, sizeof a, "%s", v);
        comma = strchr(a, ',');
        double lo, hi;
        if (!comma) {
            rc = -EINVAL;
            break;
        }
        *comma = 0;
        if ((rc = units_parse_percent(a, p->min, p->max, &lo)) < 0 ||
            (rc = units_parse_percent(comma + 1, p->min, p->max, &hi)) < 0)
            break;
        if (lo > hi) {
            fprintf(err, "vmtp-node: %s: '%s': the low end is above the high end\n", p->name, v);
            return 2;
        }
        ((double *)(void *)(base + p->off))[0] = lo;
        ((double *)(void *)(base + p->off))[1] = hi;
        break;
    }
    case T_ENUM: {
        size_t n = strlen(v);
        const char *c = p->choices;
        bool ok = false;
        while (c && *c) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            if (len == n && !strncmp(c, v, n)) {
                ok = true;
                break;
            }
            c = bar ? bar + 1 : NULL;
        }
        if (!ok) {
            fprintf(err, "vmtp-node: %s: '%s' is not one of %s\n", p->name, v, p->choices);
            return 2;
        }
        *(const char **)(void *)(base + p->off) = v;
        break;
    }
    case T_STR: *(const char **)(void *)(base + p->off) = v; break;
    default: break;
    }
    if (rc == -ERANGE) {
        fprintf(err, "vmtp-node: %s: '%s' is out of range (", p->name, v);
        s_bounds(err, p);
        fprintf(err, ")\n");
        return 2;
    }
    if (rc < 0) {
        fprintf(err, "vmtp-node: %s: '%s' is not %s\n", p->name, v, s_kind(p->type));
        return 2;
    }
    return 0;
}

int cli_parse(int argc, char **argv, cli_opts_t *o, FILE *out, FILE *err)
{
    s_defaults(o, CMD_NONE);
    if (argc < 2) {
        s_usage(err, CMD_NONE);
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        s_usage(out, CMD_NONE);
        return 1;
    }
    if (!strcmp(c, "--version") || !strcmp(c, "-V")) {
        fprintf(out, "vmtp-node %s\n", VMTP_VERSION);
        return 1;
    }
    cli_cmd_t cmd = CMD_NONE;
    for (int i = CMD_SERVER; i <= CMD_AGENT; i++)
        if (!strcmp(c, s_cmd_names[i]))
            cmd = (cli_cmd_t)i;
    if (cmd == CMD_NONE) {
        fprintf(err, "vmtp-node: unknown command '%s' (expected server, tcp, udp, rr, icmp or agent; --help)\n", c);
        return 2;
    }
    s_defaults(o, cmd);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            s_usage(out, cmd);
            return 1;
        }
        if (a[0] != '-' || !a[1]) {
            if (cmd == CMD_SERVER || cmd == CMD_AGENT || o->target) {
                fprintf(err, "vmtp-node %s: unexpected argument '%s'\n", cli_cmd_name(cmd), a);
                return 2;
            }
            o->target = a;
            continue;
        }
        char name[64];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        if (eq)
            val = eq + 1;
        const s_opt_t *p = s_find(name, cmd);
        if (!p) {
            fprintf(err, "vmtp-node %s: unknown option '%s' (vmtp-node %s --help lists them)\n", cli_cmd_name(cmd),
                    name, cli_cmd_name(cmd));
            return 2;
        }
        if (!(p->cmds & (1u << cmd))) {
            fprintf(err, "vmtp-node %s: option %s does not apply to %s\n", cli_cmd_name(cmd), p->name,
                    cli_cmd_name(cmd));
            return 2;
        }
        if (p->type == T_FLAG || p->type == T_COUNT) {
            if (val) {
                fprintf(err, "vmtp-node: %s takes no value\n", p->name);
                return 2;
            }
            if (p->type == T_FLAG)
                *(bool *)(void *)((char *)o + p->off) = true;
            else
                (*(int *)(void *)((char *)o + p->off))++;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(err, "vmtp-node: %s needs a value (%s)\n", p->name, p->arg);
                return 2;
            }
            val = argv[++i];
        }
        int rc = s_store(p, val, o, err);
        if (rc)
            return rc;
        if (!strcmp(p->name, "--rate"))
            o->rate_set = true;
    }
    if (cmd != CMD_SERVER && cmd != CMD_AGENT && !o->target) {
        fprintf(err, "vmtp-node %s: missing TARGET (the server's address)\n", cli_cmd_name(cmd));
        return 2;
    }
    if (o->ipv4 && o->ipv6) {
        fprintf(err, "vmtp-node: -4 and -6 exclude each other\n");
        return 2;
    }
    if (cmd == CMD_UDP && !o->search)
        o->search = o->rate_set ? "none" : "vmtp";
    if (cmd == CMD_UDP && o->rate_set && strcmp(o->search, "none")) {
        fprintf(err, "vmtp-node udp: --rate fixes the rate; it cannot be combined with --search %s\n", o->search);
        return 2;
    }
    if (cmd == CMD_ICMP && o->len > 65507) {
        fprintf(err, "vmtp-node icmp: --len %llu is out of range (0..65507)\n", (unsigned long long)o->len);
        return 2;
    }
    return 0;
}
