/* jsonw.h — a small streaming JSON writer: results are data (STYLE rule 7), printed as one
 * well-formed object. Commas, nesting and string escaping are handled here; the caller writes
 * keys and values in order. Non-finite doubles are written as null (JSON has no NaN).
 */
#ifndef VMTP_JSONW_H
#define VMTP_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSONW_MAX_DEPTH 32

typedef struct {
    FILE *out;                   /* destination (not owned) */
    int depth;                   /* open objects/arrays */
    bool first[JSONW_MAX_DEPTH]; /* no member written yet at this depth */
    char close[JSONW_MAX_DEPTH]; /* bracket that closes this depth */
    bool pretty;                 /* indent with two spaces per level */
} jsonw_t;

/* A writer on out. */
void jsonw_init(jsonw_t *w, FILE *out, bool pretty);

/* Objects and arrays; key may be NULL inside arrays and at the top level. */
void jsonw_object(jsonw_t *w, const char *key);
void jsonw_array(jsonw_t *w, const char *key);
void jsonw_end(jsonw_t *w);

/* Members (key NULL inside arrays). */
void jsonw_str(jsonw_t *w, const char *key, const char *v);
void jsonw_u64(jsonw_t *w, const char *key, uint64_t v);
void jsonw_i64(jsonw_t *w, const char *key, int64_t v);
void jsonw_double(jsonw_t *w, const char *key, double v);
void jsonw_bool(jsonw_t *w, const char *key, bool v);
void jsonw_null(jsonw_t *w, const char *key);
/* Bytes as a base64 string (RFC 4648, with padding). */
void jsonw_base64(jsonw_t *w, const char *key, const uint8_t *data, size_t len);

#endif
