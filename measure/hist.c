/* hist.c — log-linear histogram; see include/vmtp/hist.h for the contract. */
#include "vmtp/hist.h"
#include "vmtp/wirebuf.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_EXACT 256     /* magnitudes below this have their own bucket */
#define S_SUB 128       /* linear sub-buckets per power of two above it */
#define S_NBUCKETS 4352 /* S_EXACT + (40 - 8) * S_SUB */
#define S_VERSION 1
#define S_SUB_BITS 8

struct hist {
    uint64_t *pos;  /* counts of values >= 0, by bucket of the magnitude */
    uint64_t *neg;  /* counts of values < 0, by bucket of the magnitude; NULL until needed */
    uint64_t count; /* values recorded */
    int64_t min;    /* exact smallest value (valid when count > 0) */
    int64_t max;    /* exact largest value (valid when count > 0) */
    __int128 sum;   /* exact sum of the values */
};

static unsigned s_index(uint64_t m)
{
    if (m < S_EXACT)
        return (unsigned)m;
    if (m >= (uint64_t)HIST_MAX_MAGNITUDE)
        return S_NBUCKETS - 1;
    unsigned e = 63u - (unsigned)__builtin_clzll(m);
    unsigned shift = e - 7;
    unsigned sub = (unsigned)(m >> shift);
    return S_EXACT + (e - 8) * S_SUB + (sub - S_SUB);
}

/* Lowest magnitude and width of bucket idx. */
static void s_bounds(unsigned idx, uint64_t *lo, uint64_t *width)
{
    if (idx < S_EXACT) {
        *lo = idx;
        *width = 1;
        return;
    }
    unsigned k = idx - S_EXACT;
    unsigned e = 8 + k / S_SUB;
    unsigned sub = S_SUB + k % S_SUB;
    unsigned shift = e - 7;
    *lo = (uint64_t)sub << shift;
    *width = 1ULL << shift;
}

static uint64_t s_mid(unsigned idx)
{
    uint64_t lo, width;
    s_bounds(idx, &lo, &width);
    return lo + width / 2;
}

static uint64_t s_magnitude(int64_t v) { return v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v; }

hist_t *hist_new(void)
{
    hist_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->pos = calloc(S_NBUCKETS, sizeof *self->pos);
    if (!self->pos) {
        free(self);
        return NULL;
    }
    return self;
}

void hist_destroy(hist_t **self)
{
    if (!self || !*self)
        return;
    free((*self)->pos);
    free((*self)->neg);
    free(*self);
    *self = NULL;
}

void hist_reset(hist_t *self)
{
    memset(self->pos, 0, S_NBUCKETS * sizeof *self->pos);
    if (self->neg)
        memset(self->neg, 0, S_NBUCKETS * sizeof *self->neg);
    self->count = 0;
    self->min = self->max = 0;
    self->sum = 0;
}

static bool s_ensure_neg(hist_t *self)
{
    if (!self->neg)
        self->neg = calloc(S_NBUCKETS, sizeof *self->neg);
    return self->neg != NULL;
}

void hist_record_n(hist_t *self, int64_t value, uint64_t n)
{
    uint64_t count;
    __int128 sum;
    if (!n || __builtin_add_overflow(self->count, n, &count) ||
        __builtin_add_overflow(self->sum, (__int128)value * (__int128)n, &sum))
        return; /* beyond 2^64 values or an i128 sum: dropped rather than wrapped */
    if (value < 0) {
        if (!s_ensure_neg(self))
            return; /* out of memory: the value is dropped rather than misfiled */
        self->neg[s_index(s_magnitude(value))] += n;
    } else {
        self->pos[s_index((uint64_t)value)] += n;
    }
    if (!self->count || value < self->min)
        self->min = value;
    if (!self->count || value > self->max)
        self->max = value;
    self->count = count;
    self->sum = sum;
}

void hist_record(hist_t *self, int64_t value) { hist_record_n(self, value, 1); }

int hist_merge(hist_t *dst, const hist_t *src)
{
    if (!src->count)
        return 0;
    uint64_t count;
    __int128 sum;
    /* Every bucket is at most the count, so checking the count covers the buckets too. */
    if (__builtin_add_overflow(dst->count, src->count, &count) || __builtin_add_overflow(dst->sum, src->sum, &sum))
        return -EOVERFLOW;
    if (src->neg && !s_ensure_neg(dst))
        return -ENOMEM;
    for (unsigned i = 0; i < S_NBUCKETS; i++) {
        dst->pos[i] += src->pos[i];
        if (src->neg)
            dst->neg[i] += src->neg[i];
    }
    if (!dst->count || src->min < dst->min)
        dst->min = src->min;
    if (!dst->count || src->max > dst->max)
        dst->max = src->max;
    dst->count = count;
    dst->sum = sum;
    return 0;
}

uint64_t hist_count(const hist_t *self) { return self->count; }
int64_t hist_min(const hist_t *self) { return self->count ? self->min : 0; }
int64_t hist_max(const hist_t *self) { return self->count ? self->max : 0; }

double hist_mean(const hist_t *self) { return self->count ? (double)self->sum / (double)self->count : 0.0; }

/* Calls fn(value_of_bucket, count) for every non-empty bucket in ascending value order;
 * stops when fn returns true. */
typedef bool (*s_visit_fn)(int64_t mid, uint64_t n, void *arg);

static int64_t s_clamp(const hist_t *self, int64_t v)
{
    return v < self->min ? self->min : v > self->max ? self->max : v;
}

static void s_walk(const hist_t *self, s_visit_fn fn, void *arg)
{
    if (self->neg) {
        for (unsigned i = S_NBUCKETS; i-- > 0;)
            if (self->neg[i] && fn(s_clamp(self, -(int64_t)s_mid(i)), self->neg[i], arg))
                return;
    }
    for (unsigned i = 0; i < S_NBUCKETS; i++)
        if (self->pos[i] && fn(s_clamp(self, (int64_t)s_mid(i)), self->pos[i], arg))
            return;
}

typedef struct {
    double mean;
    double acc;
} s_var_t;

static bool s_var_visit(int64_t mid, uint64_t n, void *arg)
{
    s_var_t *v = arg;
    double d = (double)mid - v->mean;
    v->acc += d * d * (double)n;
    return false;
}

double hist_stddev(const hist_t *self)
{
    if (self->count < 2)
        return 0.0;
    s_var_t v = {.mean = hist_mean(self), .acc = 0};
    s_walk(self, s_var_visit, &v);
    return sqrt(v.acc / (double)self->count);
}

typedef struct {
    uint64_t rank;
    uint64_t seen;
    int64_t value;
} s_pct_t;

static bool s_pct_visit(int64_t mid, uint64_t n, void *arg)
{
    s_pct_t *p = arg;
    p->seen += n;
    if (p->seen >= p->rank) {
        p->value = mid;
        return true;
    }
    return false;
}

int64_t hist_percentile(const hist_t *self, double p)
{
    if (!self->count)
        return 0;
    if (p <= 0)
        return self->min;
    if (p >= 100)
        return self->max;
    /* Multiply first (55 * 100 / 100 is exact, 55 / 100.0 * 100 is not), and forgive the last
     * bits of rounding so that a rank that is a whole number is not pushed to the next one. */
    double x = p * (double)self->count / 100.0;
    double r = ceil(x - x * 1e-12);
    s_pct_t st = {.rank = r < 1 ? 1 : (uint64_t)r, .seen = 0, .value = self->max};
    s_walk(self, s_pct_visit, &st);
    return st.value;
}

static uint64_t s_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t s_unzigzag(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

static void s_put_side(wbuf_t *w, const uint64_t *b)
{
    uint64_t nz = 0;
    if (b)
        for (unsigned i = 0; i < S_NBUCKETS; i++)
            nz += b[i] != 0;
    wbuf_varint(w, nz);
    long prev = -1;
    for (unsigned i = 0; b && i < S_NBUCKETS; i++) {
        if (!b[i])
            continue;
        wbuf_varint(w, (uint64_t)((long)i - prev - 1));
        wbuf_varint(w, b[i]);
        prev = (long)i;
    }
}

long hist_serialize(const hist_t *self, uint8_t *buf, size_t cap)
{
    wbuf_t w = wbuf_init(buf, cap);
    unsigned __int128 sum = (unsigned __int128)self->sum;
    wbuf_u8(&w, S_VERSION);
    wbuf_u8(&w, S_SUB_BITS);
    wbuf_varint(&w, self->count);
    wbuf_varint(&w, s_zigzag(hist_min(self)));
    wbuf_varint(&w, s_zigzag(hist_max(self)));
    wbuf_u64(&w, (uint64_t)(sum >> 64));
    wbuf_u64(&w, (uint64_t)sum);
    s_put_side(&w, self->pos);
    s_put_side(&w, self->neg);
    return w.ok ? (long)w.len : -ENOBUFS;
}

/* Reads one side's sparse buckets into b; adds their total to *total. Returns false on a
 * malformed side. Records the lowest and highest non-empty bucket index (or -1). */
static bool s_get_side(rbuf_t *r, uint64_t *b, uint64_t *total, long *lo, long *hi)
{
    uint64_t nz = rbuf_varint(r);
    *lo = *hi = -1;
    if (!r->ok || nz > S_NBUCKETS)
        return false;
    long idx = -1;
    for (uint64_t k = 0; k < nz; k++) {
        uint64_t gap = rbuf_varint(r);
        uint64_t n = rbuf_varint(r);
        if (!r->ok || gap >= S_NBUCKETS || n == 0)
            return false;
        idx += (long)gap + 1;
        if (idx >= S_NBUCKETS || *total + n < *total)
            return false;
        b[idx] = n;
        *total += n;
        if (*lo < 0)
            *lo = idx;
        *hi = idx;
    }
    return true;
}

int hist_deserialize(hist_t *self, const uint8_t *buf, size_t len)
{
    int rc = -EINVAL;
    hist_t *tmp = hist_new();
    if (!tmp || !s_ensure_neg(tmp)) {
        rc = -ENOMEM;
        goto out;
    }
    rbuf_t r = rbuf_init(buf, len);
    if (rbuf_u8(&r) != S_VERSION || rbuf_u8(&r) != S_SUB_BITS)
        goto out;
    uint64_t count = rbuf_varint(&r);
    int64_t min = s_unzigzag(rbuf_varint(&r));
    int64_t max = s_unzigzag(rbuf_varint(&r));
    uint64_t sum_hi = rbuf_u64(&r);
    uint64_t sum_lo = rbuf_u64(&r);
    uint64_t total = 0;
    long plo, phi, nlo, nhi;
    if (!s_get_side(&r, tmp->pos, &total, &plo, &phi) || !s_get_side(&r, tmp->neg, &total, &nlo, &nhi))
        goto out;
    if (!r.ok || rbuf_left(&r) != 0 || total != count)
        goto out;
    __int128 sum = (__int128)(((unsigned __int128)sum_hi << 64) | sum_lo);
    if (count == 0) {
        if (min || max || sum)
            goto out;
    } else {
        /* min must lie in the lowest non-empty bucket, max in the highest. */
        if (min > max)
            goto out;
        unsigned min_idx = s_index(s_magnitude(min));
        unsigned max_idx = s_index(s_magnitude(max));
        bool min_ok = min < 0 ? (nhi >= 0 && (long)min_idx == nhi) : (nhi < 0 && (long)min_idx == plo);
        bool max_ok = max < 0 ? (phi < 0 && (long)max_idx == nlo) : (phi >= 0 && (long)max_idx == phi);
        if (!min_ok || !max_ok)
            goto out;
        if (sum < (__int128)min * (__int128)count || sum > (__int128)max * (__int128)count)
            goto out;
    }
    tmp->count = count;
    tmp->min = min;
    tmp->max = max;
    tmp->sum = sum;
    /* Commit: swap bucket arrays so self keeps its own allocation count constant. */
    uint64_t *p = self->pos, *n = self->neg;
    self->pos = tmp->pos;
    self->neg = nhi >= 0 ? tmp->neg : NULL;
    tmp->pos = p;
    tmp->neg = nhi >= 0 ? n : tmp->neg;
    if (nhi < 0)
        free(n);
    self->count = tmp->count;
    self->min = tmp->min;
    self->max = tmp->max;
    self->sum = tmp->sum;
    rc = 0;
out:
    hist_destroy(&tmp);
    return rc;
}
