/* doc_section.h — the part of a generated-docs tool that checks or rewrites its section of a
 * markdown file (between BEGIN and END marker lines). Header-only: each tool is one translation unit.
 *
 *   TOOL                  prints the generated text
 *   TOOL --check FILE     exit 1 (with the generated text) when FILE's section differs
 *   TOOL --write FILE     replaces FILE's section
 * Exit 2 for bad usage, an unreadable file or missing markers.
 */
#ifndef VMTP_TESTS_DOC_SECTION_H
#define VMTP_TESTS_DOC_SECTION_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *doc_section_read(const char *path, size_t *len)
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

/* prog: the tool's name; source: the file the text is generated from (for the message). */
static int doc_section_main(int argc, char **argv, const char *prog, const char *source, const char *begin,
                            const char *end, const char *text, size_t tlen)
{
    if (argc < 3) {
        fwrite(text, 1, tlen, stdout);
        return 0;
    }
    size_t len;
    char *doc = doc_section_read(argv[2], &len);
    if (!doc) {
        fprintf(stderr, "%s: cannot read %s\n", prog, argv[2]);
        return 2;
    }
    char *b = strstr(doc, begin), *e = b ? strstr(b, end) : NULL;
    if (!b || !e) {
        fprintf(stderr, "%s: %s lacks the %.*s / %.*s markers\n", prog, argv[2], (int)strcspn(begin, "\n"), begin,
                (int)strcspn(end, "\n"), end);
        free(doc);
        return 2;
    }
    b += strlen(begin);
    int rc = 0;
    if (!strcmp(argv[1], "--check")) {
        if ((size_t)(e - b) != tlen || memcmp(b, text, tlen)) {
            fprintf(stderr,
                    "%s: %s does not match %s; regenerate with\n  build/bin/%s --write %s\n--- generated:\n%.*s", prog,
                    argv[2], source, prog, argv[2], (int)tlen, text);
            rc = 1;
        }
    } else if (!strcmp(argv[1], "--write")) {
        FILE *f = fopen(argv[2], "wb");
        if (!f) {
            rc = 2;
        } else {
            fwrite(doc, 1, (size_t)(b - doc), f);
            fwrite(text, 1, tlen, f);
            fwrite(e, 1, len - (size_t)(e - doc), f);
            fclose(f);
        }
    } else {
        fprintf(stderr, "usage: %s [--check|--write FILE]\n", prog);
        rc = 2;
    }
    free(doc);
    return rc;
}

#endif
