/* clock.h — time as integer nanoseconds, with the clock in the name (STYLE rule 12).
 *
 * CLOCK_REALTIME is the clock kernel software timestamps use, so every value that is compared
 * with a kernel stamp is realtime. CLOCK_MONOTONIC schedules: deadlines, timeouts, durations.
 */
#ifndef VMTP_CLOCK_H
#define VMTP_CLOCK_H

#include <stdint.h>
#include <time.h>

#define VMTP_NS_PER_US 1000LL
#define VMTP_NS_PER_MS 1000000LL
#define VMTP_NS_PER_S 1000000000LL

/* Nanoseconds of a timespec. */
static inline int64_t clock_ts_to_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * VMTP_NS_PER_S + ts->tv_nsec;
}

/* Timespec of nanoseconds (ns >= 0). */
static inline struct timespec clock_ns_to_ts(int64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / VMTP_NS_PER_S), .tv_nsec = (long)(ns % VMTP_NS_PER_S)};
    return ts;
}

/* Now on CLOCK_MONOTONIC, ns. */
static inline int64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return clock_ts_to_ns(&ts);
}

/* Now on CLOCK_REALTIME, ns. */
static inline int64_t clock_real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return clock_ts_to_ns(&ts);
}

/* Sleeps until the absolute CLOCK_MONOTONIC time deadline_mono_ns (returns early on a signal). */
static inline void clock_sleep_until_mono(int64_t deadline_mono_ns)
{
    struct timespec ts = clock_ns_to_ts(deadline_mono_ns);
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

#endif
