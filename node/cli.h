/* cli.h — vmtp-node's command line: one table of options with types and bounds drives the
 * parser, the validation messages and the help text (STYLE rule 8).
 *
 *   vmtp-node server [--port P] [--bind ADDR]
 *   vmtp-node agent [--port P] [--bind ADDR] [--silence DUR] [--cleanup DIR]   (keys on stdin)
 *   vmtp-node tcp|udp|rr|icmp TARGET [options] [--json]
 */
#ifndef VMTP_NODE_CLI_H
#define VMTP_NODE_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { CMD_NONE = 0, CMD_SERVER, CMD_TCP, CMD_UDP, CMD_RR, CMD_ICMP, CMD_AGENT } cli_cmd_t;

/* Everything the command line can say. Defaults are filled by cli_parse per command. */
typedef struct {
    cli_cmd_t cmd;              /* subcommand */
    const char *target;         /* host to test against (not owned: argv) */
    uint64_t port;              /* data port */
    const char *bind;           /* local address (server: listen address) */
    int64_t time_ns;            /* test duration */
    uint64_t len;               /* write / datagram / message / ICMP payload size */
    uint64_t rate;              /* UDP offered rate, TCP cap (bit/s; 0 = unlimited) */
    uint64_t count;             /* RR requests, ICMP echoes */
    uint64_t parallel;          /* TCP streams */
    bool reverse;               /* server sends */
    int64_t omit_ns;            /* warm-up excluded */
    int64_t interval_ns;        /* progress period (0 = none) */
    uint64_t sndbuf;            /* SO_SNDBUF */
    uint64_t rcvbuf;            /* SO_RCVBUF */
    int64_t connect_timeout_ns; /* bound on reaching the server */
    int64_t timeout_ns;         /* RR/ICMP: a request unanswered this long is lost */
    const char *proto;          /* rr: "udp" | "tcp" */
    const char *mode;           /* rr: "pingpong" | "isochronous" */
    int64_t send_interval_ns;   /* rr isochronous / icmp: send period */
    const char *search;         /* udp: "none" | "vmtp" | "rfc2544" */
    double loss_min;            /* udp vmtp search: lower end of the loss window, % */
    double loss_max;            /* udp vmtp search: upper end, % */
    double loss_threshold;      /* udp rfc2544 search: highest acceptable loss, % */
    int64_t trial_ns;           /* udp search: length of one trial */
    uint64_t max_trials;        /* udp search: bound on trials */
    uint64_t rate_max;          /* udp search: highest rate tried (0 = probe the path) */
    int64_t start_at_ns;        /* absolute CLOCK_REALTIME start of the data phase (0 = now) */
    bool json;                  /* one JSON object on stdout */
    int verbose;                /* -v count */
    bool ipv6;                  /* -6: resolve the target as IPv6 */
    bool ipv4;                  /* -4: resolve the target as IPv4 */
    bool rate_set;              /* --rate was given */
    bool gso;                   /* udp: send with UDP GSO (UDP_SEGMENT) */
    int64_t silence_ns;         /* agent: exit after the coordinator is silent this long */
    const char *cleanup;        /* agent: working directory to remove on exit */
    const char *host_id;        /* agent: identity to report instead of the machine id */
} cli_opts_t;

/* Parses argv. Returns 0 to run, 1 when help/version was printed (exit 0), or 2 after printing
 * a clear error naming the option to err (exit 2). */
int cli_parse(int argc, char **argv, cli_opts_t *o, FILE *out, FILE *err);

/* Name of a subcommand. */
const char *cli_cmd_name(cli_cmd_t cmd);

#endif
