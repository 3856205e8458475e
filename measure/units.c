/* units.c — strict number-with-unit parsing; see include/vmtp/units.h. */
#include "vmtp/units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Parses a non-negative decimal number (digits, optional fraction) at the start of s.
 * Returns the number of characters used, 0 if none. */
static size_t s_number(const char *s, double *out)
{
    size_t i = 0;
    if (!isdigit((unsigned char)s[0]) && !(s[0] == '.' && isdigit((unsigned char)s[1])))
        return 0;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return 0;
    /* strtod also takes hex, exponents, "inf": allow only digits and one dot. */
    for (const char *p = s; p < end; p++)
        if (!isdigit((unsigned char)*p) && *p != '.')
            return 0;
    i = (size_t)(end - s);
    *out = v;
    return i;
}

int units_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)s[0]))
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (errno || *end)
        return -EINVAL;
    if (v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

static int s_scaled(const char *s, uint64_t unit_k, uint64_t min, uint64_t max, uint64_t *out, int allow_frac)
{
    double v;
    if (!s)
        return -EINVAL;
    size_t n = s_number(s, &v);
    if (!n)
        return -EINVAL;
    const char *dot = memchr(s, '.', n);
    if (!allow_frac && dot)
        return -EINVAL;
    const char *suf = s + n;
    uint64_t mult = 1;
    if (*suf) {
        int e;
        switch (toupper((unsigned char)*suf)) {
        case 'K': e = 1; break;
        case 'M': e = 2; break;
        case 'G': e = 3; break;
        case 'T': e = 4; break;
        default: return -EINVAL;
        }
        if (suf[1])
            return -EINVAL;
        while (e--)
            mult *= unit_k;
    }
    uint64_t u;
    if (!dot) {
        /* Whole numbers exactly: no detour through a double. */
        errno = 0;
        unsigned long long w = strtoull(s, NULL, 10);
        if (errno == ERANGE || __builtin_mul_overflow((uint64_t)w, mult, &u))
            return -ERANGE;
    } else {
        double r = v * (double)mult + 0.5;
        if (r >= 18446744073709551616.0) /* 2^64 */
            return -ERANGE;
        u = (uint64_t)r;
    }
    if (u < min || u > max)
        return -ERANGE;
    *out = u;
    return 0;
}

int units_parse_rate(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    return s_scaled(s, 1000, min, max, out, 1);
}

int units_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (s && s[0] && toupper((unsigned char)s[strlen(s) - 1]) == 'T')
        return -EINVAL; /* no terabyte buffers */
    return s_scaled(s, 1024, min, max, out, 0);
}

int units_parse_duration(const char *s, int64_t min_ns, int64_t max_ns, int64_t *out_ns)
{
    double v;
    if (!s)
        return -EINVAL;
    size_t n = s_number(s, &v);
    if (!n)
        return -EINVAL;
    const char *suf = s + n;
    double mult;
    if (!*suf || !strcmp(suf, "s"))
        mult = 1e9;
    else if (!strcmp(suf, "ms"))
        mult = 1e6;
    else if (!strcmp(suf, "us"))
        mult = 1e3;
    else if (!strcmp(suf, "ns"))
        mult = 1;
    else
        return -EINVAL;
    double r = v * mult;
    if (r > 9.2e18)
        return -ERANGE;
    int64_t ns = llround(r);
    if (ns < min_ns || ns > max_ns)
        return -ERANGE;
    *out_ns = ns;
    return 0;
}

int units_parse_percent(const char *s, double min, double max, double *out)
{
    double v;
    if (!s)
        return -EINVAL;
    size_t n = s_number(s, &v);
    if (!n || (s[n] && strcmp(s + n, "%")))
        return -EINVAL;
    if (v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}
