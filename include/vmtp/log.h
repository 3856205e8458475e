/* log.h — one logger for the programs (STYLE rule 7).
 *
 * Library code (measure/) returns errors and logs at debug at most. The macro filters on the
 * level before evaluating its arguments, so a debug line in a hot loop costs one compare.
 */
#ifndef VMTP_LOG_H
#define VMTP_LOG_H

#include <stdio.h>

typedef enum { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG } log_level_t;

/* Current threshold; messages above it are dropped. Default LOG_LEVEL_WARN. */
extern log_level_t log_threshold;

/* Sets the program name printed before each line (not owned; must outlive the program). */
void log_set_program(const char *name);

/* Also writes every line to f, prefixed with the UTC time (NULL = stop; not owned). */
void log_set_file(FILE *f);

/* Writes one line to stderr: "<program>: <level>: <message>". Use the LOG() macro instead. */
void log_write(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG(level, ...)                                                                                                \
    do {                                                                                                               \
        if ((level) <= log_threshold)                                                                                  \
            log_write((level), __VA_ARGS__);                                                                           \
    } while (0)
#define LOG_ERROR(...) LOG(LOG_LEVEL_ERROR, __VA_ARGS__)
#define LOG_WARN(...) LOG(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_INFO(...) LOG(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) LOG(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
