/*
 * privfl — PRG mask expansion for secure aggregation.
 *
 * The mask stream of a 32-byte seed is the ChaCha20-IETF keystream (RFC
 * 8439) keyed by the seed, with the 12-byte nonce "LibsodiumDRG" and the
 * block counter starting at 0: the same bytes as libsodium's
 * randombytes_buf_deterministic(seed). Word i of the stream is the i-th
 * little-endian uint32. Client and aggregator must use this exact
 * construction (docs/SECAGG.md).
 *
 * Thread-safety: pure functions over caller-owned memory; any number of
 * threads may call them on disjoint vectors.
 */
#ifndef PRIVFL_PRG_H
#define PRIVFL_PRG_H

#include <stddef.h>
#include <stdint.h>

#define PFL_PRG_SEED_BYTES 32
/* Largest vector one seed may mask: the 32-bit block counter of
 * ChaCha20-IETF covers 2^32 blocks of 16 words. */
#define PFL_PRG_MAX_WORDS  ((uint64_t)1 << 36)

/*
 * v[i] += sign * word_i (mod 2^32) for i in [0, n), in one pass over v: the
 * keystream is made in a small stack block (wiped before returning) and
 * added, never as an n-sized temporary.
 * @param v     the vector, updated in place (caller-owned)
 * @param n     its length; n <= PFL_PRG_MAX_WORDS (asserted)
 * @param seed  the 32-byte seed (secret; not kept)
 * @param sign  +1 to add the mask, -1 to subtract it (any value < 0
 *              subtracts, anything else adds)
 */
void pfl_prg_mask_add(uint32_t *v, size_t n,
                      const uint8_t seed[PFL_PRG_SEED_BYTES], int sign);

/*
 * Like pfl_prg_mask_add for the slice of the stream that starts at word
 * first_word: v[i] += sign * word_(first_word + i). Lets a caller apply many
 * seeds to one cache-sized block of a long vector at a time.
 * @param first_word  a multiple of 16 (one ChaCha20 block; asserted), and
 *                    first_word + n <= PFL_PRG_MAX_WORDS (asserted)
 */
void pfl_prg_mask_add_at(uint32_t *v, size_t n, uint64_t first_word,
                         const uint8_t seed[PFL_PRG_SEED_BYTES], int sign);

/*
 * Write words [0, n) of the mask stream of seed into out (for tests and
 * known-answer vectors; masking code uses pfl_prg_mask_add).
 */
void pfl_prg_words(uint32_t *out, size_t n,
                   const uint8_t seed[PFL_PRG_SEED_BYTES]);

#endif
