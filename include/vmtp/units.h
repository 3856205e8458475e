/* units.h — strict parsing of numbers with units, shared by every command line and config file.
 *
 * All parsers accept the whole string or nothing: trailing garbage, a sign, an empty string,
 * overflow or a value outside [min, max] fail. They return 0 or a negative errno
 * (-EINVAL: not a number of that kind; -ERANGE: outside the bounds) and leave *out untouched
 * on failure, so a caller can print "--len: '12Q' is not a size" or "... must be 64..65507".
 */
#ifndef VMTP_UNITS_H
#define VMTP_UNITS_H

#include <stdint.h>

/* Plain unsigned decimal integer in [min, max]. */
int units_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Bit rate in bit/s: a decimal number (fraction allowed) with an optional decimal suffix
 * K, M, G or T (10^3..10^12, case-insensitive), e.g. "100M", "1.5G", "64000". */
int units_parse_rate(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Size in bytes: an integer with an optional binary suffix K, M or G (2^10..2^30,
 * case-insensitive), e.g. "64K" = 65536, "1470". */
int units_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Duration in ns: a decimal number (fraction allowed) with an optional suffix ns, us, ms or s
 * (seconds when none), e.g. "10", "0.5", "200ms". */
int units_parse_duration(const char *s, int64_t min_ns, int64_t max_ns, int64_t *out_ns);

/* A percentage 0..100 (fraction allowed, optional trailing '%'). */
int units_parse_percent(const char *s, double min, double max, double *out);

#endif
