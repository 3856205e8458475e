/* cpu.c — /proc/stat and getrusage sampling; see cpu.h. */
#include "cpu.h"

#include "vmtp/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int cpu_parse_stat(const char *text, cpu_sample_t *out)
{
    const char *line = strstr(text, "cpu ");
    if (line != text && (!line || line[-1] != '\n'))
        return -EINVAL;
    const char *eol = strchr(line, '\n');
    if (memchr(line, '-', eol ? (size_t)(eol - line) : strlen(line)))
        return -EINVAL; /* tick counts are never negative; sscanf's %lu would wrap them */
    uint64_t v[8] = {0};
    int n =
        sscanf(line, "cpu %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
               &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    if (n < 4)
        return -EINVAL;
    out->user = v[0];
    out->nice = v[1];
    out->system = v[2];
    out->idle = v[3];
    out->iowait = v[4];
    out->irq = v[5];
    out->softirq = v[6];
    out->steal = v[7];
    return 0;
}

int cpu_sample(cpu_sample_t *out)
{
    memset(out, 0, sizeof *out);
    char buf[4096];
    int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int err = errno;
    close(fd);
    if (n <= 0)
        return n < 0 ? -err : -EINVAL;
    buf[n] = 0;
    if (cpu_parse_stat(buf, out) < 0)
        return -EINVAL;
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) == 0) {
        out->proc_user_ns = (int64_t)ru.ru_utime.tv_sec * VMTP_NS_PER_S + ru.ru_utime.tv_usec * 1000;
        out->proc_system_ns = (int64_t)ru.ru_stime.tv_sec * VMTP_NS_PER_S + ru.ru_stime.tv_usec * 1000;
    }
    out->mono_ns = clock_mono_ns();
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    out->ncpu = ncpu > 0 ? (int)ncpu : 1;
    return 0;
}

int cpu_thread_sched(int64_t *run_ns, int64_t *wait_ns)
{
    char buf[128];
    int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = 0;
    long long run, wait;
    if (sscanf(buf, "%lld %lld", &run, &wait) != 2 || run < 0 || wait < 0)
        return -EINVAL;
    *run_ns = run;
    *wait_ns = wait;
    return 0;
}

double cpu_thread_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) < 0)
        return 0.0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double s_pct(uint64_t part, uint64_t total) { return total ? 100.0 * (double)part / (double)total : 0.0; }

void cpu_diff(const cpu_sample_t *a, const cpu_sample_t *b, cpu_usage_t *out)
{
    memset(out, 0, sizeof *out);
    if (!a->mono_ns || !b->mono_ns || b->mono_ns < a->mono_ns)
        return;
#define D(f) (b->f >= a->f ? b->f - a->f : 0)
    uint64_t user = D(user) + D(nice), sys = D(system), idle = D(idle) + D(iowait);
    uint64_t soft = D(irq) + D(softirq), steal = D(steal);
#undef D
    uint64_t total = user + sys + idle + soft + steal;
    out->total_pct = s_pct(user + sys + soft + steal, total);
    out->user_pct = s_pct(user, total);
    out->system_pct = s_pct(sys, total);
    out->softirq_pct = s_pct(soft, total);
    out->steal_pct = s_pct(steal, total);
    out->proc_cpu_s = (double)((b->proc_user_ns - a->proc_user_ns) + (b->proc_system_ns - a->proc_system_ns)) / 1e9;
    out->elapsed_s = (double)(b->mono_ns - a->mono_ns) / 1e9;
    out->ncpu = b->ncpu;
}
