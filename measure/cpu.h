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
    int64_t proc_user_ns;   /* user CPU time of this process, or of the calling thread */
    int64_t proc_system_ns; /* system CPU time of this process, or of the calling thread */
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
    double proc_cpu_s;  /* seconds of CPU the test's own threads used (user + system) */
    double elapsed_s;   /* wall time between the samples */
    int ncpu;           /* online CPUs */
} cpu_usage_t;

/* Takes a sample; the process figures are the calling thread's (RUSAGE_THREAD), so that a
 * server running several tests at once charges each test only for its own threads. Returns 0
 * or -errno (e.g. no /proc); *out is zeroed on failure. */
int cpu_sample(cpu_sample_t *out);

/* The calling thread's scheduler figures (/proc/thread-self/schedstat): ns it has run, and ns
 * it spent runnable but waiting for a CPU. Returns 0, or -errno (e.g. no /proc, no schedstat). */
int cpu_thread_sched(int64_t *run_ns, int64_t *wait_ns);

/* CPU seconds (user + system) the calling thread has used so far. */
double cpu_thread_seconds(void);

/* Fills *out with the use between a (earlier) and b (later). A zeroed sample gives zeros. */
void cpu_diff(const cpu_sample_t *a, const cpu_sample_t *b, cpu_usage_t *out);

/* Parses the text of /proc/stat into the machine counters of *out (for tests). Returns 0 or
 * -EINVAL when no well-formed "cpu " line is there. */
int cpu_parse_stat(const char *text, cpu_sample_t *out);

#endif
