/* textutil.c — see textutil.h. */
#include "textutil.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned text_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    unsigned row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned prev = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned cur = row[j];
            unsigned sub = prev + (a[i - 1] != b[j - 1]);
            unsigned del = row[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = cur;
        }
    }
    return row[lb];
}

const char *text_closest(const char *s, const char *const *names, size_t n, unsigned max_distance)
{
    const char *best = NULL;
    unsigned bd = max_distance + 1;
    for (size_t i = 0; i < n; i++) {
        unsigned d = text_distance(s, names[i]);
        if (d < bd) {
            bd = d;
            best = names[i];
        }
    }
    return best;
}

int text_read_file(const char *path, size_t max, const char *what, char **out, size_t *len, char *why, size_t cap)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(why, cap, "cannot read %s %s: %s", what, path, strerror(e));
        return -e;
    }
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    bool err = ferror(f);
    fclose(f);
    if (!buf) {
        snprintf(why, cap, "cannot read %s %s: out of memory", what, path);
        return -ENOMEM;
    }
    int rc = 0;
    if (err) {
        snprintf(why, cap, "cannot read %s %s", what, path);
        rc = -EIO;
    } else if (n > max) {
        snprintf(why, cap, "%s: larger than %zu bytes: not a%s %s", path, max, strchr("aeiou", what[0]) ? "n" : "",
                 what);
        rc = -EFBIG;
    }
    if (rc < 0) {
        memset(buf, 0, n < max + 1 ? n : max + 1);
        free(buf);
        return rc;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

int text_yaml_load(const char *name, const char *text, size_t len, yaml_document_t *doc, char *why, size_t cap)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(why, cap, "%s: out of memory", name);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    if (!yaml_parser_load(&parser, doc)) {
        size_t line = parser.problem_mark.line + 1, col = parser.problem_mark.column + 1;
        if (parser.error == YAML_READER_ERROR) { /* the reader gives a byte offset, not a mark */
            line = 1;
            col = 1;
            for (size_t i = 0; i < parser.problem_offset && i < len; i++, col++)
                if (text[i] == '\n') {
                    line++;
                    col = 0;
                }
        }
        if (parser.error == YAML_MEMORY_ERROR) {
            snprintf(why, cap, "%s: out of memory", name);
            rc = -ENOMEM;
        } else {
            snprintf(why, cap, "%s:%zu:%zu: not valid YAML: %s%s%s", name, line, col,
                     parser.problem ? parser.problem : "syntax error", parser.context ? " " : "",
                     parser.context ? parser.context : "");
            rc = -EINVAL;
        }
    }
    yaml_parser_delete(&parser);
    return rc;
}

size_t text_utf8_char(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t len = p[0] >= 0xc2 && p[0] <= 0xdf   ? 2
                 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
                 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
                                                : 0;
    if (!len || len > n)
        return 0;
    uint32_t c = p[0] & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[k] & 0x3f);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[len] || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
        return 0;
    *cp = c;
    return len;
}

int text_plain_check(const char *s, size_t len, char *why, size_t cap)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp = u[i];
        size_t n = 1;
        if (cp >= 0x80 && !(n = text_utf8_char(u + i, len - i, &cp))) {
            snprintf(why, cap, "not valid UTF-8 at byte %zu", i + 1);
            return -EINVAL;
        }
        if (cp < 0x20 || cp == 0x7f) {
            snprintf(why, cap, "a control character (0x%02x) at byte %zu", (unsigned)cp, i + 1);
            return -EINVAL;
        }
        if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029) {
            snprintf(why, cap, "a control character (U+%04X) at byte %zu", (unsigned)cp, i + 1);
            return -EINVAL;
        }
        i += n;
    }
    return 0;
}
