/*
 * privfl — hashes that both ends of the protocol must compute identically.
 * BLAKE2b (libsodium crypto_generichash). Thread-safe, no allocation.
 */
#ifndef PRIVFL_HASH_H
#define PRIVFL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define PFL_HASH_BYTES 32

/* BLAKE2b-256 of data. */
void pfl_hash(const void *data, size_t len, uint8_t out[PFL_HASH_BYTES]);
/* BLAKE2b-256 of the little-endian float32 bytes of params[0..n). */
void pfl_hash_params(const float *params, size_t n,
                     uint8_t out[PFL_HASH_BYTES]);
/*
 * The round context that binds a round's secure aggregation (and its
 * signatures) to the federation, the round number and the server's
 * per-round random seed: BLAKE2b-256("privfl/round/v1" || fed || 0 ||
 * round as LE64 || seed).
 */
void pfl_hash_round_ctx(const char *fed, uint64_t round, const uint8_t seed[32],
                        uint8_t out[PFL_HASH_BYTES]);
/* Lower-case hex of the first nbytes of h into out (2*nbytes+1 bytes). */
void pfl_hash_hex(const uint8_t *h, size_t nbytes, char *out);

#endif
