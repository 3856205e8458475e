/* log.c — the programs' logger; see include/vmtp/log.h. */
#include "vmtp/log.h"

#include <stdarg.h>

log_level_t log_threshold = LOG_LEVEL_WARN;
static const char *s_program = "vmtp";

void log_set_program(const char *name) { s_program = name; }

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
}
