/* output.h — how vmtp-node shows results: a readable summary, or exactly one JSON object.
 * Field names and units of the JSON are a contract (ARCHITECTURE.md, docs/USAGE.md).
 */
#ifndef VMTP_NODE_OUTPUT_H
#define VMTP_NODE_OUTPUT_H

#include "cli.h"
#include "dpclient.h"
#include "icmp.h"
#include "jsonw.h"
#include "ratesearch.h"

#include <stdio.h>

/* Context of a client run, for headers. */
typedef struct {
    const cli_opts_t *opts; /* command line (not owned) */
    const char *target_str; /* "198.18.0.2:5001" (not owned) */
} output_ctx_t;

/* Prints a finished tcp/udp/rr test; search may be NULL (no rate search ran). */
void output_test(FILE *f, const output_ctx_t *ctx, const dp_result_t *res, const ratesearch_result_t *search);

/* Prints a finished icmp run. */
void output_icmp(FILE *f, const output_ctx_t *ctx, const icmp_params_t *p, const icmp_result_t *r);

/* Prints one live progress line (human mode only). */
void output_interval(FILE *f, const output_ctx_t *ctx, const interval_t *iv, bool remote);

/* Prints a failure: {"error": ...} in JSON mode, a sentence on stderr otherwise. */
void output_error(FILE *out, FILE *err, const output_ctx_t *ctx, const char *why);

/* The members of a test's JSON object (the object is the caller's), as vmtp-node --json prints
 * them; vmtp's JSON uses the same for each result. search_mode names the search when search is set. */
void output_json_test_members(jsonw_t *w, const char *target, const dp_result_t *res, const ratesearch_result_t *search,
                              const char *search_mode);
/* The same for an ICMP run. */
void output_json_icmp_members(jsonw_t *w, const char *target, const icmp_params_t *p, const icmp_result_t *r);

/* JSON object {"min","p50","p90","p99","p999","max","mean","stddev","count"} of h, in ns. */
void output_json_hist(jsonw_t *w, const char *key, const hist_t *h);

#endif
