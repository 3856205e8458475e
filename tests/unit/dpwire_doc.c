/* dpwire_doc — writes the data-plane message tables of docs/PROTOCOL.md from measure/dpwire.def,
 * and checks (ctest) that the document says what the code does.
 *
 *   dpwire_doc                 print the generated section
 *   dpwire_doc --check FILE    exit 1 if FILE's section differs (prints both)
 *   dpwire_doc --write FILE    replace FILE's section with the generated one
 * The section lies between the lines "<!-- dpwire:begin -->" and "<!-- dpwire:end -->".
 */
#include "doc_section.h"
#include "dpwire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpwire.def"

#define S_BEGIN "<!-- dpwire:begin -->\n"
#define S_END "<!-- dpwire:end -->\n"
#define S_MAX (64 * 1024)

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

static const char *s_bytes(const char *type)
{
    static const struct {
        const char *t, *b;
    } map[] = {{"u8", "1"},  {"bool", "1"}, {"u16", "2"}, {"u32", "4"},
               {"i32", "4"}, {"u64", "8"},  {"i64", "8"}, {"f64", "8"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i].t, type))
            return map[i].b;
    return "?";
}

#define ROW(type, name) s_put("| `%s` | %s | %s |\n", #name, #type, s_bytes(#type));

static void s_table(const char *title) { s_put("\n%s\n\n| field | type | bytes |\n|---|---|---|\n", title); }

static void s_generate(void)
{
    s_put("Control messages (frame = u32 length of type + body, u8 type, body; at most %u bytes):\n\n", DP_FRAME_MAX);
    s_put("| type | name | body |\n|---|---|---|\n");
    static const char *const bodies[] = {"",
                                         "test spec",
                                         "u64 cookie, str server_id",
                                         "(empty)",
                                         "i64 start_real_ns",
                                         "interval, tcp info",
                                         "report, tcp info, cpu, 6 histograms",
                                         "report, tcp info, cpu, 6 histograms",
                                         "u32 code (errno), str text",
                                         "(empty)"};
    for (unsigned t = 1; t <= DP_MSG_TYPE_MAX; t++)
        s_put("| %u | %s | %s |\n", t, dp_msg_name((uint8_t)t), bodies[t]);
    s_put("\n`str` = u16 length + bytes (no NUL inside); a histogram = u32 length + its serialised form "
          "(0 = absent), in the order owd, rtt_user, rtt_kernel, rtt_path, turn_kernel, turn_user.\n");
    s_table("**test spec** (TEST):");
    SPEC_FIELDS(ROW)
    s_table("**interval** (INTERVAL, followed by a tcp info):");
    INTERVAL_FIELDS(ROW)
    s_table("**tcp info**:");
    TCPINFO_FIELDS(ROW)
    s_table("**report** (DONE, RESULT; followed by a tcp info, a cpu and the histograms):");
    REPORT_FIELDS(ROW)
    s_table("**cpu**:");
    CPU_FIELDS(ROW)
}

int main(int argc, char **argv)
{
    s_generate();
    return doc_section_main(argc, argv, "dpwire_doc", "measure/dpwire.def", S_BEGIN, S_END, s_out, s_len);
}
