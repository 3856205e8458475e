/* check.h — the few assertions the unit tests share (STYLE rule 13).
 *
 * CHECK(cond, fmt, ...) prints "file:line: FAIL: cond: message" and counts the failure, then
 * carries on, so one run lists every broken property. A test's main ends with
 * `return check_exit();`, which prints a one-line summary and gives 0 (pass) or 1 (fail).
 * check_rand() is a fixed-seed PRNG (splitmix64) so every run sees the same inputs.
 * Header-only: each test program is a single translation unit.
 */
#ifndef VMTP_TESTS_CHECK_H
#define VMTP_TESTS_CHECK_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

static int check_failures; /* failed checks so far */
static int check_total;    /* checks evaluated so far */

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        check_total++;                                                                                                 \
        if (!(cond)) {                                                                                                 \
            check_failures++;                                                                                          \
            fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__, __LINE__, #cond);                                           \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
        }                                                                                                              \
    } while (0)

/* Equality of integers with both values in the message; `what` names the quantity. */
#define CHECK_EQ_U64(actual, expected, what)                                                                           \
    do {                                                                                                               \
        uint64_t check_a_ = (uint64_t)(actual), check_e_ = (uint64_t)(expected);                                       \
        CHECK(check_a_ == check_e_, "%s: got %" PRIu64 ", expected %" PRIu64, (what), check_a_, check_e_);             \
    } while (0)

#define CHECK_EQ_I64(actual, expected, what)                                                                           \
    do {                                                                                                               \
        int64_t check_a_ = (int64_t)(actual), check_e_ = (int64_t)(expected);                                          \
        CHECK(check_a_ == check_e_, "%s: got %" PRId64 ", expected %" PRId64, (what), check_a_, check_e_);             \
    } while (0)

/* Stops early after this many failures: one bug must not bury the log. */
#define CHECK_MAX_REPORTED 200

/* True while the failure count is small enough to keep looping over more cases. */
static inline int check_keep_going(void) { return check_failures < CHECK_MAX_REPORTED; }

/* Prints the summary; returns the exit code of the test program (0 pass, 1 fail). */
static inline int check_exit(const char *name)
{
    if (check_failures)
        fprintf(stderr, "%s: %d of %d checks FAILED\n", name, check_failures, check_total);
    else
        printf("%s: all %d checks passed\n", name, check_total);
    return check_failures ? 1 : 0;
}

/* Deterministic PRNG (splitmix64); seed the state once with a fixed constant. */
static inline uint64_t check_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform double in [0, 1). */
static inline double check_rand_unit(uint64_t *state) { return (double)(check_rand(state) >> 11) * 0x1.0p-53; }

/* Uniform integer in [0, n) (n > 0; the modulo bias is irrelevant for tests). */
static inline uint64_t check_rand_below(uint64_t *state, uint64_t n) { return check_rand(state) % n; }

#endif
