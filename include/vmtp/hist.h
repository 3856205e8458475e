/* hist.h — log-linear latency histogram (HDR-style), signed, mergeable without loss.
 *
 * Values are int64 nanoseconds (one-way delays relative to an unknown clock offset can be
 * negative). Magnitudes below 256 are kept exactly; above, each power of two is split into
 * 128 linear sub-buckets, so a bucket is at most 1/128 of its lower bound wide and the value
 * reported for it (its midpoint, clamped to the recorded min/max) is within 0.4 % of any value
 * that fell in it. Magnitudes at or above HIST_MAX_MAGNITUDE (2^40 ns, about 18 minutes) are
 * counted in the top bucket; min and max stay exact. Two histograms always merge exactly
 * because the bucket layout is fixed.
 */
#ifndef VMTP_HIST_H
#define VMTP_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_MAX_MAGNITUDE (1LL << 40)
/* Worst case bytes of hist_serialize() output. */
#define HIST_SERIALIZED_MAX (64 + 2 * 4352 * 20)

typedef struct hist hist_t;

/* A new empty histogram, or NULL on OOM. Caller owns it. */
hist_t *hist_new(void);
/* Frees *self (NULL-safe) and sets it to NULL. */
void hist_destroy(hist_t **self);
/* Forgets every value. */
void hist_reset(hist_t *self);

/* Adds one value. */
void hist_record(hist_t *self, int64_t value);
/* Adds `n` occurrences of a value (ignored if the count would pass 2^64). */
void hist_record_n(hist_t *self, int64_t value, uint64_t n);
/* Adds every value of src into dst (exact: same layout). Returns 0, -ENOMEM, or -EOVERFLOW
 * (dst unchanged) when the merged count would pass 2^64 or the sum an int128. */
int hist_merge(hist_t *dst, const hist_t *src);

/* Number of values recorded. */
uint64_t hist_count(const hist_t *self);
/* Smallest / largest value recorded (exact); 0 when empty. */
int64_t hist_min(const hist_t *self);
int64_t hist_max(const hist_t *self);
/* Arithmetic mean of the values (exact sum / count); 0 when empty. */
double hist_mean(const hist_t *self);
/* Standard deviation estimated from bucket midpoints (population form); 0 when empty. */
double hist_stddev(const hist_t *self);
/* The value at percentile p (0..100): the smallest recorded value v such that at least p % of
 * the values are <= v, within the bucket error above. p <= 0 gives min, p >= 100 gives max.
 * 0 when empty. */
int64_t hist_percentile(const hist_t *self, double p);

/* Writes the compact form into buf (sparse buckets, LEB128). Returns the number of bytes
 * written, or -ENOBUFS when cap is too small (HIST_SERIALIZED_MAX always suffices). */
long hist_serialize(const hist_t *self, uint8_t *buf, size_t cap);
/* Replaces self's content with a serialised histogram. Strict: wrong version, bucket index out
 * of range, counts that do not add up, min/max outside their buckets, or trailing bytes give
 * -EINVAL and leave self unchanged. */
int hist_deserialize(hist_t *self, const uint8_t *buf, size_t len);

#endif
