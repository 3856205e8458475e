/* wirebuf.h — bounded big-endian byte buffers for everything that crosses a socket or a file.
 *
 * A writer appends into a caller-owned array and remembers overflow instead of writing past the
 * end; a reader consumes a caller-owned array and remembers underflow instead of reading past it
 * (curl dynbuf, STYLE rule 10). Check `ok` once at the end instead of after every field.
 * Integers are big-endian (network order); varints are LEB128 (7 bits per byte, at most 10 bytes).
 */
#ifndef VMTP_WIREBUF_H
#define VMTP_WIREBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data; /* not owned */
    size_t cap;    /* bytes available at data */
    size_t len;    /* bytes written so far */
    bool ok;       /* false once a write did not fit; later writes are ignored */
} wbuf_t;

typedef struct {
    const uint8_t *data; /* not owned */
    size_t len;          /* bytes available */
    size_t pos;          /* bytes consumed so far */
    bool ok;             /* false once a read ran past the end or a varint was malformed */
} rbuf_t;

/* A writer over data[0..cap). */
wbuf_t wbuf_init(uint8_t *data, size_t cap);
void wbuf_u8(wbuf_t *w, uint8_t v);
void wbuf_u16(wbuf_t *w, uint16_t v);
void wbuf_u32(wbuf_t *w, uint32_t v);
void wbuf_u64(wbuf_t *w, uint64_t v);
void wbuf_i64(wbuf_t *w, int64_t v);
void wbuf_varint(wbuf_t *w, uint64_t v);
void wbuf_bytes(wbuf_t *w, const void *src, size_t n);
/* Writes a u16 length then the bytes of a NUL-terminated string (truncated at 65535). */
void wbuf_str(wbuf_t *w, const char *s);

/* A reader over data[0..len). */
rbuf_t rbuf_init(const void *data, size_t len);
uint8_t rbuf_u8(rbuf_t *r);
uint16_t rbuf_u16(rbuf_t *r);
uint32_t rbuf_u32(rbuf_t *r);
uint64_t rbuf_u64(rbuf_t *r);
int64_t rbuf_i64(rbuf_t *r);
uint64_t rbuf_varint(rbuf_t *r);
/* Copies n bytes to dst (dst untouched on underflow). */
void rbuf_bytes(rbuf_t *r, void *dst, size_t n);
/* Reads a wbuf_str() string into dst (cap bytes incl. NUL); a string longer than cap-1 or
 * containing a NUL byte marks the reader failed. */
void rbuf_str(rbuf_t *r, char *dst, size_t cap);
/* Bytes left to read. */
size_t rbuf_left(const rbuf_t *r);

#endif
