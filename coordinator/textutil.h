/* textutil.h — small text helpers the command line, the config and the inventory share. */
#ifndef VMTP_TEXTUTIL_H
#define VMTP_TEXTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

/* Levenshtein distance of two short strings (99 when either is longer than 63 bytes). */
unsigned text_distance(const char *a, const char *b);

/* The name in names[0..n) closest to s when at most max_distance edits away, else NULL
 * ("did you mean ...?"). */
const char *text_closest(const char *s, const char *const *names, size_t n, unsigned max_distance);

/* Reads a whole text file of at most max bytes into a malloc'd, NUL-terminated *out (*len bytes).
 * what names the file's kind in messages ("config file", "inventory"). Returns 0, or -errno with a
 * sentence in why (-EFBIG when larger than max). The caller wipes (if it may hold secrets) and frees *out. */
int text_read_file(const char *path, size_t max, const char *what, char **out, size_t *len, char *why, size_t cap);

/* Parses YAML text into *doc (yaml_document_delete it). Returns 0, -ENOMEM ("out of memory" in why),
 * or -EINVAL with "NAME:LINE:COLUMN: not valid YAML: problem context" in why (for a byte libyaml's
 * reader refuses, the line and column of that byte). */
int text_yaml_load(const char *name, const char *text, size_t len, yaml_document_t *doc, char *why, size_t cap);

/* The length (2 to 4) of the valid multi-byte UTF-8 character at p (at most n bytes), its code point in
 * *cp; 0 when it is not one (an ASCII byte, a stray or short sequence, overlong, a surrogate, above U+10FFFF). */
size_t text_utf8_char(const unsigned char *p, size_t n, uint32_t *cp);

/* Whether the len bytes at s are one line of printable text: valid UTF-8 without NUL, other C0
 * controls, DEL, C1 controls, or the line and paragraph separators U+2028/U+2029. No value of a
 * config or inventory needs them, and a value with them cannot be written back as it was read (nor
 * shown in a log line as it is). Returns 0, or -EINVAL with the reason and byte offset in why. */
int text_plain_check(const char *s, size_t len, char *why, size_t cap);

#endif
