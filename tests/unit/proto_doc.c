/* proto_doc — writes the control-plane tables of docs/PROTOCOL.md from include/vmtp/proto.def,
 * and checks (ctest) that the document says what the code does.
 *
 *   proto_doc                 print the generated section
 *   proto_doc --check FILE    exit 1 if FILE's section differs (prints the generated one)
 *   proto_doc --write FILE    replace FILE's section with the generated one
 * The section lies between the lines "<!-- proto:begin -->" and "<!-- proto:end -->".
 */
#include "doc_section.h"
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
        s_put("\n**%s** (%d)\n\n| # | field | kind | bounds | meaning |\n|---|---|---|---|---|\n", #NAME, id);         \
        FIELDS(S_ROW)                                                                                                  \
    }
    PROTO_MESSAGES(S_MSG)
#undef S_MSG
}

int main(int argc, char **argv)
{
    s_generate();
    return doc_section_main(argc, argv, "proto_doc", "include/vmtp/proto.def", S_BEGIN, S_END, s_out, s_len);
}
