/* test_cpu.c — measure/cpu.h: /proc/stat parsing of sample texts and cpu_diff() percentages on
 * synthetic samples with known answers.
 */
#include "check.h"

#include "cpu.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* A /proc/stat of a 2-CPU Linux 6.1 guest (10 columns: steal, guest, guest_nice included). */
static const char s_stat_full[] = "cpu  4705 150 1120 16250 520 0 80 33 0 0\n"
                                  "cpu0 2355 75 560 8125 260 0 40 16 0 0\n"
                                  "cpu1 2350 75 560 8125 260 0 40 17 0 0\n"
                                  "intr 114930548 113199788 3 0 5 263 0 0 0 1 0\n"
                                  "ctxt 1990473\n"
                                  "btime 1062191376\n"
                                  "processes 2915\n"
                                  "procs_running 1\n"
                                  "procs_blocked 0\n"
                                  "softirq 183433 0 21755 12 39 0 0 93 64 2 121468\n";

/* An old kernel without the steal column (7 columns). */
static const char s_stat_nosteal[] = "cpu  1 2 3 4 5 6 7\ncpu0 1 2 3 4 5 6 7\nintr 0\n";

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static void test_parse(void)
{
    cpu_sample_t s;
    memset(&s, 0xff, sizeof s);
    CHECK(cpu_parse_stat(s_stat_full, &s) == 0, "full /proc/stat");
    CHECK(s.user == 4705 && s.nice == 150 && s.system == 1120 && s.idle == 16250 && s.iowait == 520 && s.irq == 0 &&
              s.softirq == 80 && s.steal == 33,
          "full: %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64, s.user,
          s.nice, s.system, s.idle, s.iowait, s.irq, s.softirq, s.steal);

    memset(&s, 0xff, sizeof s);
    CHECK(cpu_parse_stat(s_stat_nosteal, &s) == 0, "no steal column");
    CHECK(s.user == 1 && s.nice == 2 && s.system == 3 && s.idle == 4 && s.iowait == 5 && s.irq == 6 && s.softirq == 7,
          "no steal column: values");
    CHECK(s.steal == 0, "no steal column: steal %" PRIu64 ", expected 0", s.steal);

    /* The oldest format: four columns. */
    memset(&s, 0xff, sizeof s);
    CHECK(cpu_parse_stat("cpu 10 20 30 40\n", &s) == 0, "four columns");
    CHECK(s.user == 10 && s.idle == 40 && s.iowait == 0 && s.steal == 0, "four columns: values");

    /* The "cpu " line need not be first. */
    memset(&s, 0xff, sizeof s);
    CHECK(cpu_parse_stat("intr 5\ncpu  9 8 7 6 5 4 3 2\n", &s) == 0, "cpu line after another line");
    CHECK(s.user == 9 && s.steal == 2, "cpu line after another line: values");

    /* Malformed: -EINVAL and *out untouched. */
    static const char *const bad[] = {
        "",
        "\n",
        "cpu\n",
        "cpu 1 2 3\n",
        "cpu a b c d\n",
        "cpu0 1 2 3 4 5 6 7\n",   /* per-CPU lines only */
        "xcpu 1 2 3 4 5 6 7\n",   /* not at the start of a line */
        "intr 1 cpu 1 2 3 4 5\n", /* not at the start of a line */
        "cpu 1 2 x 4 5 6 7\n",
        "cpu -1 2 3 4 5 6 7\n", /* tick counters are unsigned */
        "CPU 1 2 3 4 5 6 7\n",
        "intr 114930548\nctxt 1990473\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cpu_sample_t t;
        memset(&t, 0x5a, sizeof t);
        cpu_sample_t keep = t;
        int rc = cpu_parse_stat(bad[i], &t);
        CHECK(rc == -EINVAL, "malformed \"%.*s\": rc %d", (int)strcspn(bad[i], "\n"), bad[i], rc);
        CHECK(memcmp(&t, &keep, sizeof t) == 0, "malformed \"%.*s\": *out changed", (int)strcspn(bad[i], "\n"), bad[i]);
    }
}

static cpu_sample_t s_sample(int64_t mono_ns, int ncpu)
{
    cpu_sample_t s;
    memset(&s, 0, sizeof s);
    s.mono_ns = mono_ns;
    s.ncpu = ncpu;
    return s;
}

static void test_diff(void)
{
    /* 2 CPUs for 1 s at 100 ticks/s: 400 ticks in all, one CPU busy = 50 %. */
    cpu_sample_t a = s_sample(1000000000LL, 2), b = s_sample(2000000000LL, 2);
    a.user = 1000;
    a.idle = 5000;
    a.proc_user_ns = 100000000;
    a.proc_system_ns = 50000000;
    b.user = 1000 + 100;
    b.idle = 5000 + 100;
    b.proc_user_ns = 100000000 + 600000000;
    b.proc_system_ns = 50000000 + 300000000;
    cpu_usage_t u;
    memset(&u, 0x5a, sizeof u);
    cpu_diff(&a, &b, &u);
    CHECK(NEAR(u.total_pct, 50), "50 %% busy on 2 CPUs: total %g", u.total_pct);
    CHECK(NEAR(u.user_pct, 50), "user %g", u.user_pct);
    CHECK(NEAR(u.system_pct, 0) && NEAR(u.softirq_pct, 0) && NEAR(u.steal_pct, 0), "system/softirq/steal 0");
    CHECK(NEAR(u.proc_cpu_s, 0.9), "proc_cpu_s %g", u.proc_cpu_s);
    CHECK(NEAR(u.elapsed_s, 1.0), "elapsed_s %g", u.elapsed_s);
    CHECK(u.ncpu == 2, "ncpu %d", u.ncpu);

    /* Every column: user 40 + nice 10, system 20, idle 60 + iowait 20, irq 5 + softirq 15, steal 30 = 200. */
    cpu_sample_t c = s_sample(5000000000LL, 4), d = s_sample(7000000000LL, 4);
    c.user = 7;
    c.nice = 7;
    c.system = 7;
    c.idle = 7;
    c.iowait = 7;
    c.irq = 7;
    c.softirq = 7;
    c.steal = 7;
    d.user = 47;
    d.nice = 17;
    d.system = 27;
    d.idle = 67;
    d.iowait = 27;
    d.irq = 12;
    d.softirq = 22;
    d.steal = 37;
    cpu_diff(&c, &d, &u);
    CHECK(NEAR(u.total_pct, 60), "total %g, expected 60 (user+nice+system+irq+softirq+steal of 200)", u.total_pct);
    CHECK(NEAR(u.user_pct, 25), "user %g, expected 25", u.user_pct);
    CHECK(NEAR(u.system_pct, 10), "system %g, expected 10", u.system_pct);
    CHECK(NEAR(u.softirq_pct, 10), "softirq %g, expected 10", u.softirq_pct);
    CHECK(NEAR(u.steal_pct, 15), "steal %g, expected 15", u.steal_pct);
    CHECK(NEAR(u.elapsed_s, 2.0), "elapsed %g", u.elapsed_s);
    CHECK(u.ncpu == 4, "ncpu %d", u.ncpu);

    /* Zeroed samples give zeros. */
    cpu_sample_t z;
    memset(&z, 0, sizeof z);
    memset(&u, 0x5a, sizeof u);
    cpu_diff(&z, &z, &u);
    CHECK(u.total_pct == 0 && u.user_pct == 0 && u.system_pct == 0 && u.softirq_pct == 0 && u.steal_pct == 0 &&
              u.proc_cpu_s == 0 && u.elapsed_s == 0 && u.ncpu == 0,
          "two zeroed samples give zeros");
    memset(&u, 0x5a, sizeof u);
    cpu_diff(&z, &b, &u);
    CHECK(u.total_pct == 0 && u.user_pct == 0 && u.proc_cpu_s == 0 && u.elapsed_s == 0,
          "a zeroed first sample gives zeros");
    memset(&u, 0x5a, sizeof u);
    cpu_diff(&a, &z, &u);
    CHECK(u.total_pct == 0 && u.user_pct == 0 && u.proc_cpu_s == 0 && u.elapsed_s == 0,
          "a zeroed second sample gives zeros");

    /* No ticks elapsed: percentages 0, not NaN. */
    cpu_diff(&a, &a, &u);
    CHECK(u.total_pct == 0 && u.user_pct == 0 && !isnan(u.steal_pct), "identical samples: 0 %%");
}

/* The real /proc/stat, when there is one: parses, and two samples give sane figures. */
static void test_live(void)
{
    cpu_sample_t a, b;
    if (cpu_sample(&a) != 0) {
        printf("test_cpu: no /proc/stat here, live sample not checked\n");
        return;
    }
    CHECK(a.ncpu >= 1 && a.mono_ns > 0, "live sample: ncpu %d", a.ncpu);
    CHECK(cpu_sample(&b) == 0, "second live sample");
    cpu_usage_t u;
    cpu_diff(&a, &b, &u);
    CHECK(u.total_pct >= 0 && u.total_pct <= 100, "live total %g", u.total_pct);
    CHECK(u.elapsed_s >= 0, "live elapsed %g", u.elapsed_s);
}

int main(void)
{
    test_parse();
    test_diff();
    test_live();
    return check_exit("test_cpu");
}
