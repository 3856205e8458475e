/* jsonw.c — streaming JSON writer; see jsonw.h. */
#include "jsonw.h"

#include <inttypes.h>
#include <math.h>

void jsonw_init(jsonw_t *w, FILE *out, bool pretty)
{
    w->out = out;
    w->depth = 0;
    w->first[0] = true;
    w->pretty = pretty;
}

static void s_indent(jsonw_t *w)
{
    if (!w->pretty)
        return;
    fputc('\n', w->out);
    for (int i = 0; i < w->depth; i++)
        fputs("  ", w->out);
}

static void s_string(jsonw_t *w, const char *s)
{
    fputc('"', w->out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", w->out); break;
        case '\\': fputs("\\\\", w->out); break;
        case '\n': fputs("\\n", w->out); break;
        case '\r': fputs("\\r", w->out); break;
        case '\t': fputs("\\t", w->out); break;
        default:
            if (*p < 0x20)
                fprintf(w->out, "\\u%04x", *p);
            else
                fputc(*p, w->out);
        }
    }
    fputc('"', w->out);
}

/* Separator, indentation and key before a value. */
static void s_member(jsonw_t *w, const char *key)
{
    if (!w->first[w->depth])
        fputc(',', w->out);
    w->first[w->depth] = false;
    if (w->depth)
        s_indent(w);
    if (key) {
        s_string(w, key);
        fputs(w->pretty ? ": " : ":", w->out);
    }
}

static void s_open(jsonw_t *w, const char *key, char c)
{
    s_member(w, key);
    fputc(c, w->out);
    if (w->depth < JSONW_MAX_DEPTH - 1)
        w->depth++;
    w->first[w->depth] = true;
    w->close[w->depth] = c == '{' ? '}' : ']';
}

void jsonw_object(jsonw_t *w, const char *key) { s_open(w, key, '{'); }
void jsonw_array(jsonw_t *w, const char *key) { s_open(w, key, '['); }

void jsonw_end(jsonw_t *w)
{
    bool empty = w->first[w->depth];
    char c = w->close[w->depth];
    if (w->depth > 0)
        w->depth--;
    if (!empty)
        s_indent(w);
    fputc(c, w->out);
    if (w->depth == 0)
        fputc('\n', w->out);
}

void jsonw_str(jsonw_t *w, const char *key, const char *v)
{
    s_member(w, key);
    if (v)
        s_string(w, v);
    else
        fputs("null", w->out);
}

void jsonw_u64(jsonw_t *w, const char *key, uint64_t v)
{
    s_member(w, key);
    fprintf(w->out, "%" PRIu64, v);
}

void jsonw_i64(jsonw_t *w, const char *key, int64_t v)
{
    s_member(w, key);
    fprintf(w->out, "%" PRId64, v);
}

void jsonw_double(jsonw_t *w, const char *key, double v)
{
    s_member(w, key);
    if (isfinite(v))
        fprintf(w->out, "%.10g", v);
    else
        fputs("null", w->out);
}

void jsonw_bool(jsonw_t *w, const char *key, bool v)
{
    s_member(w, key);
    fputs(v ? "true" : "false", w->out);
}

void jsonw_null(jsonw_t *w, const char *key)
{
    s_member(w, key);
    fputs("null", w->out);
}

void jsonw_base64(jsonw_t *w, const char *key, const uint8_t *data, size_t len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    s_member(w, key);
    fputc('"', w->out);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        fputc(abc[(v >> 18) & 63], w->out);
        fputc(abc[(v >> 12) & 63], w->out);
        fputc(i + 1 < len ? abc[(v >> 6) & 63] : '=', w->out);
        fputc(i + 2 < len ? abc[v & 63] : '=', w->out);
    }
    fputc('"', w->out);
}
