/* textutil.h — small text helpers the command line, the config and the inventory share. */
#ifndef VMTP_TEXTUTIL_H
#define VMTP_TEXTUTIL_H

#include <stddef.h>

/* Levenshtein distance of two short strings (99 when either is longer than 63 bytes). */
unsigned text_distance(const char *a, const char *b);

/* The name in names[0..n) closest to s when at most max_distance edits away, else NULL
 * ("did you mean ...?"). */
const char *text_closest(const char *s, const char *const *names, size_t n, unsigned max_distance);

#endif
