/* fuzz_dpwire.h — input layout of the data-plane fuzz target, shared by fuzz_dpwire.c and the
 * seed corpus generator gen_corpus.c.
 *
 * Byte 0 of an input selects the decoder: byte0 % FUZZ_DP_NTARGETS is a fuzz_dp_target_t, so
 * every mutation of it still lands on a decoder. For FUZZ_DP_HIST the next bit of the selector
 * (byte0 / FUZZ_DP_NTARGETS, bit 0) chooses whether the histogram decoded over already holds
 * negative values, so both commit paths of hist_deserialize() are reached. Bytes 1.. are the
 * untrusted input handed to the selected decoder.
 */
#ifndef VMTP_FUZZ_DPWIRE_H
#define VMTP_FUZZ_DPWIRE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    FUZZ_DP_MSG = 0,        /* a control frame body (type byte + body): dp_msg_decode + round trip */
    FUZZ_DP_GREETING = 1,   /* the first DP_GREETING_LEN bytes: dp_greeting_parse */
    FUZZ_DP_DATA_HELLO = 2, /* the first DP_DATA_HELLO_LEN bytes: dp_data_hello_parse */
    FUZZ_DP_DGRAM = 3,      /* a whole datagram or RR message: dp_dgram_parse */
    FUZZ_DP_HIST = 4,       /* hist_serialize() bytes: hist_deserialize over existing content */
} fuzz_dp_target_t;

#define FUZZ_DP_NTARGETS 5
/* Selector of a FUZZ_DP_HIST input whose target histogram already holds negative values. */
#define FUZZ_DP_HIST_WITH_NEG (FUZZ_DP_HIST + FUZZ_DP_NTARGETS)

/* The libFuzzer entry point. Runs one input; returns 0. Calls abort() when a decoder breaks a
 * property of its contract (round trip, out-parameters untouched on failure). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
