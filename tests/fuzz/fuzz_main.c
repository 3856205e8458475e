/* fuzz_main.c — standalone driver for a libFuzzer target, for builds without libFuzzer (the ctest
 * corpus replay of STYLE rule 14, contract in ARCHITECTURE.md: `fuzz_X FILE|DIR…`).
 *
 * Every regular file named on the command line, and every regular file under a named directory
 * (recursively, in name order, names starting with '.' skipped), is read whole into a heap buffer
 * of exactly its size (so ASan sees a read past its end) and fed to LLVMFuzzerTestOneInput once.
 * "Running: PATH" goes to stderr before each input, so the log of a crash names its input.
 * Exit status: 0 when every input ran; a crash ends the program by a signal or the sanitizer's exit
 * code. A path that cannot be read is exit 2 rather than a silent pass over nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_MAX_DEPTH 16 /* directory nesting followed; deeper is an error (a symlink loop) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *s_prog = "fuzz";

/* Reads path into an exact-size buffer and runs it. Returns 0 or -errno. */
static int s_run_file(const char *path, size_t *ran)
{
    int rc = 0;
    uint8_t *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    struct stat st;
    if (fstat(fileno(f), &st) < 0) {
        rc = -errno;
        goto out;
    }
    size_t size = (size_t)st.st_size;
    buf = malloc(size ? size : 1);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    if (size && fread(buf, 1, size, f) != size) {
        rc = ferror(f) ? -EIO : -EAGAIN; /* EAGAIN: the file shrank while we read it */
        goto out;
    }
    fprintf(stderr, "Running: %s\n", path);
    LLVMFuzzerTestOneInput(buf, size);
    (*ran)++;
out:
    free(buf);
    fclose(f);
    return rc;
}

static int s_run_path(const char *path, int depth, size_t *ran);

static int s_run_dir(const char *path, int depth, size_t *ran)
{
    struct dirent **names = NULL;
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0)
        return -errno;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char child[4096];
        if (!rc && names[i]->d_name[0] != '.') {
            int w = snprintf(child, sizeof child, "%s/%s", path, names[i]->d_name);
            if (w < 0 || (size_t)w >= sizeof child) {
                rc = -ENAMETOOLONG;
                fprintf(stderr, "%s: %s/%s: %s\n", s_prog, path, names[i]->d_name, strerror(-rc));
            } else {
                rc = s_run_path(child, depth + 1, ran);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Runs a file, or every file under a directory. Reports its own errors. Returns 0 or -errno. */
static int s_run_path(const char *path, int depth, size_t *ran)
{
    struct stat st;
    int rc;
    if (depth > S_MAX_DEPTH)
        rc = -ELOOP;
    else if (stat(path, &st) < 0)
        rc = -errno;
    else if (S_ISDIR(st.st_mode))
        return s_run_dir(path, depth, ran);
    else if (S_ISREG(st.st_mode))
        rc = s_run_file(path, ran);
    else
        return 0; /* a fifo or socket in a corpus directory is not an input */
    if (rc < 0)
        fprintf(stderr, "%s: %s: %s\n", s_prog, path, strerror(-rc));
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 0 && argv[0][0]) {
        const char *slash = strrchr(argv[0], '/');
        s_prog = slash ? slash + 1 : argv[0];
    }
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", s_prog);
        return 2;
    }
    size_t ran = 0;
    int status = 0;
    for (int i = 1; i < argc; i++)
        if (s_run_path(argv[i], 0, &ran) < 0)
            status = 2;
    printf("%s: %zu inputs ran\n", s_prog, ran);
    return status;
}
