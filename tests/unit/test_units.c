/* test_units.c — include/vmtp/units.h: every parser, accepted and rejected strings, bounds,
 * overflow, and the output left untouched on failure.
 */
#include "check.h"

#include "vmtp/units.h"

#include <errno.h>
#include <string.h>

#define SENT_U 0x5a5a5a5a5a5a5a5aULL /* sentinel: *out must keep it on failure */
#define SENT_I ((int64_t)0x5a5a5a5a5a5a5a5aLL)
#define SENT_D 12345.678

typedef struct {
    const char *s;
    int rc;         /* 0, -EINVAL or -ERANGE */
    uint64_t value; /* when rc == 0 */
} s_ucase_t;

typedef int (*s_uparse_fn)(const char *, uint64_t, uint64_t, uint64_t *);

static void s_run_u(const char *name, s_uparse_fn fn, const s_ucase_t *c, size_t n, uint64_t min, uint64_t max)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t out = SENT_U;
        int rc = fn(c[i].s, min, max, &out);
        CHECK(rc == c[i].rc, "%s(\"%s\", %" PRIu64 ", %" PRIu64 ") = %d, expected %d", name, c[i].s ? c[i].s : "(null)",
              min, max, rc, c[i].rc);
        if (c[i].rc == 0)
            CHECK(out == c[i].value, "%s(\"%s\") gave %" PRIu64 ", expected %" PRIu64, name, c[i].s, out, c[i].value);
        else
            CHECK(out == SENT_U, "%s(\"%s\") failed but wrote %" PRIu64, name, c[i].s ? c[i].s : "(null)", out);
    }
}

/* Strings no number parser may accept. */
static const char *const s_garbage[] = {
    "",         " 5",  "5 ",  "-1", "+1",   "1e3", "1E3",   "0x10", "inf", "INF", "nan", "NaN",
    "infinity", "abc", "12Q", ".",  "1..2", "1,5", "1 000", "\t5",  "5\n", "--5", "5-",  "e5",
};
#define N_GARBAGE (sizeof s_garbage / sizeof s_garbage[0])

static void test_u64(void)
{
    const s_ucase_t c[] = {
        {"0", 0, 0},
        {"1", 0, 1},
        {"65507", 0, 65507},
        {"007", 0, 7},
        {"18446744073709551615", 0, UINT64_MAX},
        {"18446744073709551616", -ERANGE, 0},
        {"99999999999999999999999", -ERANGE, 0},
        {"1K", -EINVAL, 0},
        {"1.5", -EINVAL, 0},
        {NULL, -EINVAL, 0},
    };
    s_run_u("units_parse_u64", units_parse_u64, c, sizeof c / sizeof c[0], 0, UINT64_MAX);
    const s_ucase_t b[] = {
        {"63", -ERANGE, 0}, {"64", 0, 64}, {"65507", 0, 65507}, {"65508", -ERANGE, 0}, {"0", -ERANGE, 0},
    };
    s_run_u("units_parse_u64", units_parse_u64, b, sizeof b / sizeof b[0], 64, 65507);
    for (size_t i = 0; i < N_GARBAGE; i++) {
        s_ucase_t g = {s_garbage[i], -EINVAL, 0};
        s_run_u("units_parse_u64", units_parse_u64, &g, 1, 0, UINT64_MAX);
    }
}

static void test_rate(void)
{
    const s_ucase_t c[] = {
        {"64000", 0, 64000},
        {"100M", 0, 100000000ULL},
        {"100m", 0, 100000000ULL},
        {"1.5G", 0, 1500000000ULL},
        {"1.5g", 0, 1500000000ULL},
        {"10K", 0, 10000},
        {"2.5T", 0, 2500000000000ULL},
        {"0.5K", 0, 500},
        {".5M", 0, 500000},
        {"0", 0, 0},
        {"1.1G", 0, 1100000000ULL},
        {"123456789012", 0, 123456789012ULL},
        {"12Q", -EINVAL, 0},
        {"100MB", -EINVAL, 0},
        {"100Mbit", -EINVAL, 0},
        {"100 M", -EINVAL, 0},
        {"M", -EINVAL, 0},
        {"1e3", -EINVAL, 0},
        {"1.5e9", -EINVAL, 0},
        {"0x10", -EINVAL, 0},
        {"inf", -EINVAL, 0},
        {"nan", -EINVAL, 0},
        {"-1", -EINVAL, 0},
        {"-1M", -EINVAL, 0},
        {NULL, -EINVAL, 0},
        /* Overflow of a uint64 rate. */
        {"99999999999999999999", -ERANGE, 0},
        {"100000000T", -ERANGE, 0},
        {"999999999999999999999999999999999999999", -ERANGE, 0},
    };
    s_run_u("units_parse_rate", units_parse_rate, c, sizeof c / sizeof c[0], 0, UINT64_MAX);
    for (size_t i = 0; i < N_GARBAGE; i++) {
        s_ucase_t g = {s_garbage[i], -EINVAL, 0};
        s_run_u("units_parse_rate", units_parse_rate, &g, 1, 0, UINT64_MAX);
    }
    /* Bounds. */
    const s_ucase_t b[] = {
        {"999", -ERANGE, 0},          {"1K", 0, 1000},           {"400G", 0, 400000000000ULL}, {"401G", -ERANGE, 0},
        {"0.4T", 0, 400000000000ULL}, {"0.0000001", -ERANGE, 0},
    };
    s_run_u("units_parse_rate", units_parse_rate, b, sizeof b / sizeof b[0], 1000, 400000000000ULL);
    /* Rates that fit a uint64 but not an int64: the value must come back exactly (or not at all). */
    const s_ucase_t big[] = {
        {"10000000000000000000", 0, 10000000000000000000ULL},
        {"10000000T", 0, 10000000000000000000ULL},
        {"18000000000000000000", 0, 18000000000000000000ULL},
    };
    s_run_u("units_parse_rate", units_parse_rate, big, sizeof big / sizeof big[0], 0, UINT64_MAX);
}

static void test_size(void)
{
    const s_ucase_t c[] = {
        {"64K", 0, 65536},
        {"64k", 0, 65536},
        {"1470", 0, 1470},
        {"1M", 0, 1048576},
        {"2G", 0, 2147483648ULL},
        {"0", 0, 0},
        {"1T", -EINVAL, 0},
        {"1.5K", -EINVAL, 0},
        {"1.5", -EINVAL, 0},
        {"12Q", -EINVAL, 0},
        {"64KB", -EINVAL, 0},
        {"64KiB", -EINVAL, 0},
        {"K", -EINVAL, 0},
        {NULL, -EINVAL, 0},
        {"99999999999999999999", -ERANGE, 0},
        {"99999999999G", -ERANGE, 0},
    };
    s_run_u("units_parse_size", units_parse_size, c, sizeof c / sizeof c[0], 0, UINT64_MAX);
    for (size_t i = 0; i < N_GARBAGE; i++) {
        s_ucase_t g = {s_garbage[i], -EINVAL, 0};
        s_run_u("units_parse_size", units_parse_size, &g, 1, 0, UINT64_MAX);
    }
    const s_ucase_t b[] = {
        {"63", -ERANGE, 0},  {"64", 0, 64},         {"63K", 0, 64512},  {"64K", -ERANGE, 0},
        {"65507", 0, 65507}, {"65508", -ERANGE, 0}, {"1G", -ERANGE, 0},
    };
    s_run_u("units_parse_size", units_parse_size, b, sizeof b / sizeof b[0], 64, 65507);
    /* An integer size is exact, not rounded through a double. */
    const s_ucase_t exact[] = {
        {"9007199254740993", 0, 9007199254740993ULL},
        {"10000000000000000000", 0, 10000000000000000000ULL},
    };
    s_run_u("units_parse_size", units_parse_size, exact, sizeof exact / sizeof exact[0], 0, UINT64_MAX);
}

typedef struct {
    const char *s;
    int rc;
    int64_t ns;
} s_dcase_t;

static void s_run_d(const s_dcase_t *c, size_t n, int64_t min, int64_t max)
{
    for (size_t i = 0; i < n; i++) {
        int64_t out = SENT_I;
        int rc = units_parse_duration(c[i].s, min, max, &out);
        CHECK(rc == c[i].rc, "units_parse_duration(\"%s\", %" PRId64 ", %" PRId64 ") = %d, expected %d",
              c[i].s ? c[i].s : "(null)", min, max, rc, c[i].rc);
        if (c[i].rc == 0)
            CHECK(out == c[i].ns, "units_parse_duration(\"%s\") gave %" PRId64 ", expected %" PRId64, c[i].s, out,
                  c[i].ns);
        else
            CHECK(out == SENT_I, "units_parse_duration(\"%s\") failed but wrote %" PRId64, c[i].s ? c[i].s : "(null)",
                  out);
    }
}

static void test_duration(void)
{
    const s_dcase_t c[] = {
        {"200ms", 0, 200000000LL},
        {"0.5", 0, 500000000LL},
        {"10", 0, 10000000000LL},
        {"10s", 0, 10000000000LL},
        {"1.5us", 0, 1500},
        {"250us", 0, 250000},
        {"7ns", 0, 7},
        {"0", 0, 0},
        {".25s", 0, 250000000LL},
        {"86400", 0, 86400000000000LL},
        {"12Q", -EINVAL, 0},
        {"5m", -EINVAL, 0},
        {"5 ms", -EINVAL, 0},
        {"5sec", -EINVAL, 0},
        {"ms", -EINVAL, 0},
        {"1e3", -EINVAL, 0},
        {"1e3ms", -EINVAL, 0},
        {"0x10", -EINVAL, 0},
        {"inf", -EINVAL, 0},
        {"nan", -EINVAL, 0},
        {"-1", -EINVAL, 0},
        {"-1s", -EINVAL, 0},
        {NULL, -EINVAL, 0},
        {"10000000000", -ERANGE, 0}, /* 1e19 ns does not fit an int64 */
        {"99999999999999999999s", -ERANGE, 0},
    };
    s_run_d(c, sizeof c / sizeof c[0], 0, INT64_MAX);
    for (size_t i = 0; i < N_GARBAGE; i++) {
        s_dcase_t g = {s_garbage[i], -EINVAL, 0};
        s_run_d(&g, 1, 0, INT64_MAX);
    }
    const s_dcase_t b[] = {
        {"0.999ms", -ERANGE, 0},      {"1ms", 0, 1000000}, {"24", 0, 24000000000LL},
        {"24.000000001", -ERANGE, 0}, {"0", -ERANGE, 0},
    };
    s_run_d(b, sizeof b / sizeof b[0], 1000000, 24000000000LL);
}

typedef struct {
    const char *s;
    int rc;
    double v;
} s_pcase_t;

static void test_percent(void)
{
    const s_pcase_t c[] = {
        {"0", 0, 0},          {"0.1", 0, 0.1},       {"50", 0, 50},        {"50%", 0, 50},       {"100", 0, 100},
        {"2.5%", 0, 2.5},     {"100.1", -ERANGE, 0}, {"101%", -ERANGE, 0}, {"50%%", -EINVAL, 0}, {"%", -EINVAL, 0},
        {"50 %", -EINVAL, 0}, {"-1", -EINVAL, 0},    {"1e1", -EINVAL, 0},  {"inf", -EINVAL, 0},  {"nan", -EINVAL, 0},
        {"12Q", -EINVAL, 0},  {"", -EINVAL, 0},      {NULL, -EINVAL, 0},   {"0x10", -EINVAL, 0}, {" 5", -EINVAL, 0},
        {"5 ", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        double out = SENT_D;
        int rc = units_parse_percent(c[i].s, 0, 100, &out);
        CHECK(rc == c[i].rc, "units_parse_percent(\"%s\") = %d, expected %d", c[i].s ? c[i].s : "(null)", rc, c[i].rc);
        if (c[i].rc == 0)
            CHECK(out == c[i].v, "units_parse_percent(\"%s\") gave %.17g, expected %.17g", c[i].s, out, c[i].v);
        else
            CHECK(out == SENT_D, "units_parse_percent(\"%s\") failed but wrote %g", c[i].s ? c[i].s : "(null)", out);
    }
    double out = SENT_D;
    CHECK(units_parse_percent("1.5", 2, 5, &out) == -ERANGE && out == SENT_D, "percent below min");
    CHECK(units_parse_percent("5", 2, 5, &out) == 0 && out == 5.0, "percent at max");
}

int main(void)
{
    test_u64();
    test_rate();
    test_size();
    test_duration();
    test_percent();
    return check_exit("test_units");
}
