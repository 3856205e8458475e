/* cpu.h — CPU use over a test, from /proc/stat (the whole machine) and getrusage (this process).
 *
 * Sample once before and once after; cpu_diff() turns the two samples into percentages.
 * Inside a network namespace /proc/stat still describes the whole machine (namespaces do not
 * split CPU accounting), which is what "CPU load of this end" means on a VM.
 */
#ifndef VMTP_CPU_H
#define VMTP_CPU_H

#include <stdint.h>

/* Raw counters at one moment. */
typedef struct {
    uint64_t user, nice, system, idle, iowait, irq, softirq, steal; /* /proc/stat "cpu" line, ticks */
    int64_t proc_user_ns;   /* this process's user CPU time */
    int64_t proc_system_ns; /* this process's system CPU time */
    int64_t mono_ns;        /* when the sample was taken */
    int ncpu;               /* online CPUs */
} cpu_sample_t;

/* CPU use between two samples. Percentages are of all CPUs (100 = every CPU busy). */
typedef struct {
    double total_pct;   /* everything but idle and iowait */
    double user_pct;    /* user + nice */
    double system_pct;  /* system */
    double softirq_pct; /* irq + softirq: network receive processing shows here */
    double steal_pct;   /* time the hypervisor gave to others */
    double proc_cpu_s;  /* seconds of CPU this process used (user + system) */
    double elapsed_s;   /* wall time between the samples */
    int ncpu;           /* online CPUs */
} cpu_usage_t;

/* Takes a sample. Returns 0 or -errno (e.g. no /proc); *out is zeroed on failure. */
int cpu_sample(cpu_sample_t *out);

/* Fills *out with the use between a (earlier) and b (later). A zeroed sample gives zeros. */
void cpu_diff(const cpu_sample_t *a, const cpu_sample_t *b, cpu_usage_t *out);

/* Parses the text of /proc/stat into the machine counters of *out (for tests). Returns 0 or
 * -EINVAL when no well-formed "cpu " line is there. */
int cpu_parse_stat(const char *text, cpu_sample_t *out);

#endif
