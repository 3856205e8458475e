/* fuzz_props.h — what the property-checking fuzz targets (fuzz_os, fuzz_config) share: the abort
 * that names the broken property, and the check that a char array field is NUL-terminated.
 * Define FUZZ_TARGET ("fuzz_os") before including it. Header-only: each target is one translation
 * unit (with its driver). */
#ifndef VMTP_FUZZ_PROPS_H
#define VMTP_FUZZ_PROPS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_TARGET
#error "define FUZZ_TARGET before including fuzz_props.h"
#endif

static void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(FUZZ_TARGET ": PROPERTY VIOLATED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* Fails unless the char array field holds a NUL. */
#define FUZZ_TERMINATED(what, field)                                                                                   \
    do {                                                                                                               \
        if (!memchr((field), 0, sizeof(field)))                                                                        \
            fuzz_fail("%s: %s is not NUL-terminated", (what), #field);                                                 \
    } while (0)

#endif
