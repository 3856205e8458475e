/* proto_doc — writes the control-plane tables of docs/PROTOCOL.md from include/vmtp/proto.def,
 * and checks (ctest) that the document says what the code does.
 *
 *   proto_doc                 print the generated section
 *   proto_doc --check FILE    exit 1 if FILE's section differs (prints the generated one)
 *   proto_doc --write FILE    replace FILE's section with the generated one
 * The section lies between the lines "<!-- proto:begin -->" and "<!-- proto:end -->".
 */
#include "vmtp/proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_BEGIN "<!-- proto:begin -->\n"
#define S_END "<!-- proto:end -->\n"
#define S_MAX (128 * 1024)

static size_t s_len;
static char s_out[S_MAX];

static void s_put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void s_put(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s_out + s_len, S_MAX - s_len, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < S_MAX - s_len)
        s_len += (size_t)n;
}

/* The bounds column, by kind. */
#define S_BOUNDS_UINT(a, b) s_put("%s..%s", #a, #b)
#define S_BOUNDS_INT(a, b) s_put("%s..%s", #a, #b)
#define S_BOUNDS_BOOL(a, b) s_put("true/false")
#define S_BOUNDS_STR(a, b) s_put("%s..%s bytes", #a, #b)
#define S_BOUNDS_BIN(a, b) s_put("0..%s bytes", #b)
#define S_BOUNDS_STRS(a, b) s_put("at most %s strings of at most %s bytes", #a, #b)
#define S_ROW(kind, name, a, b, doc)                                                                                   \
    s_put("| %d | `%s` | %s | ", ++col, #name, #kind);                                                                 \
    S_BOUNDS_##kind(a, b);                                                                                             \
    s_put(" | %s |\n", doc);

static void s_generate(void)
{
    s_put("Protocol version %d. Frames are at most %u bytes (also the sockets' ZMQ_MAXMSGSIZE).\n\n", PROTO_VERSION,
          PROTO_FRAME_MAX);
    s_put("| id | message | direction | purpose |\n|---|---|---|---|\n");
#define S_SUMMARY(id, NAME, name, FIELDS, dir, doc) s_put("| %d | %s | %s | %s |\n", id, #NAME, dir, doc);
    PROTO_MESSAGES(S_SUMMARY)
#undef S_SUMMARY
    s_put("\nFields after `[version, id, seq`, in order (column 0 is the first field):\n");
#define S_MSG(id, NAME, name, FIELDS, dir, doc)                                                                        \
    {                                                                                                                  \
        int col = -1;                                                                                                  \
        s_put("\n**%s** (%d)\n\n| # | field | kind | bounds | meaning |\n|---|---|---|---|---|\n", #NAME, id);       \
        FIELDS(S_ROW)                                                                                                  \
    }
    PROTO_MESSAGES(S_MSG)
#undef S_MSG
}

static char *s_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = 0;
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    s_generate();
    if (argc < 3) {
        fwrite(s_out, 1, s_len, stdout);
        return 0;
    }
    size_t len;
    char *doc = s_read(argv[2], &len);
    if (!doc) {
        fprintf(stderr, "proto_doc: cannot read %s\n", argv[2]);
        return 2;
    }
    char *b = strstr(doc, S_BEGIN), *e = b ? strstr(b, S_END) : NULL;
    if (!b || !e) {
        fprintf(stderr, "proto_doc: %s lacks the proto:begin/end markers\n", argv[2]);
        free(doc);
        return 2;
    }
    b += strlen(S_BEGIN);
    int rc = 0;
    if (!strcmp(argv[1], "--check")) {
        if ((size_t)(e - b) != s_len || memcmp(b, s_out, s_len)) {
            fprintf(stderr, "proto_doc: %s does not match include/vmtp/proto.def; regenerate with\n"
                            "  build/bin/proto_doc --write %s\n--- generated:\n%.*s",
                    argv[2], argv[2], (int)s_len, s_out);
            rc = 1;
        }
    } else if (!strcmp(argv[1], "--write")) {
        FILE *f = fopen(argv[2], "wb");
        if (!f) {
            rc = 2;
        } else {
            fwrite(doc, 1, (size_t)(b - doc), f);
            fwrite(s_out, 1, s_len, f);
            fwrite(e, 1, len - (size_t)(e - doc), f);
            fclose(f);
        }
    } else {
        fprintf(stderr, "usage: proto_doc [--check|--write FILE]\n");
        rc = 2;
    }
    free(doc);
    return rc;
}
