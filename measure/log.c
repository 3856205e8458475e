/* log.c — the programs' logger; see include/vmtp/log.h. */
#include "vmtp/log.h"

#include <stdarg.h>
#include <time.h>

log_level_t log_threshold = LOG_LEVEL_WARN;
static const char *s_program = "vmtp";

static FILE *s_file;

void log_set_program(const char *name) { s_program = name; }
void log_set_file(FILE *f) { s_file = f; }

void log_write(log_level_t level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One fprintf per line keeps lines from different threads whole. */
    fprintf(stderr, "%s: %s: %s\n", s_program, names[level], line);
    if (s_file) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        fprintf(s_file, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: %s\n", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[level], line);
        fflush(s_file);
    }
}
