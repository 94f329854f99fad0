/*
 * privfl — Shamir secret sharing of 32-byte secrets.
 *
 * Field: the prime-order scalar field of ristretto255 (order
 * l = 2^252 + 27742317777372353535851937790883648493), arithmetic by
 * libsodium's crypto_core_ristretto255_scalar_*. A 32-byte secret is shared
 * as two independent 16-byte halves (each < 2^128 < l), so a share is two
 * field elements: PFL_SHAMIR_SHARE_BYTES = 64 bytes (two 32-byte
 * little-endian canonical scalars). Share x-coordinates are non-zero 32-bit
 * integers (the SecAgg client ids). A reconstruction whose halves do not fit
 * 128 bits is reported as PFL_ERR_CRYPTO: with fewer than t or corrupt
 * shares that happens except with probability about 2^-124.
 *
 * Thread-safety: pure functions over caller-owned memory. Polynomial
 * coefficients are kept in sodium_malloc memory and wiped.
 */
#ifndef PRIVFL_SHAMIR_H
#define PRIVFL_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"

#define PFL_SHAMIR_SECRET_BYTES 32
#define PFL_SHAMIR_SHARE_BYTES  64
#define PFL_SHAMIR_COEF_BYTES   32
/* Largest threshold and number of shares accepted. */
#define PFL_SHAMIR_MAX_SHARES   100000u

/*
 * Split secret into nx shares with threshold t (any t reconstruct, t-1
 * reveal nothing).
 * @param secret     the 32-byte secret (not kept)
 * @param t          threshold, 1 <= t <= nx
 * @param xs         the x-coordinates of the shares, distinct, non-zero
 * @param nx         number of shares, <= PFL_SHAMIR_MAX_SHARES
 * @param coef_seed  NULL: random coefficients (libsodium CSPRNG); else the
 *                   coefficients are derived from this 32-byte seed
 *                   (known-answer tests only: never reuse a seed)
 * @param[out] shares nx * 64 bytes, shares[i] is the share at xs[i];
 *                   written on success only
 * @return PFL_OK, PFL_ERR_INVAL (bad t, nx, zero or repeated x),
 *         PFL_ERR_NOMEM
 */
pfl_err pfl_shamir_split(const uint8_t secret[PFL_SHAMIR_SECRET_BYTES],
                         uint32_t t, const uint32_t *xs, size_t nx,
                         const uint8_t *coef_seed,
                         uint8_t (*shares)[PFL_SHAMIR_SHARE_BYTES]) PFL_WUR;

/*
 * Lagrange coefficients at 0 for the share set xs[0..m): computed once per
 * reconstruction set, then used by pfl_shamir_combine for every secret
 * shared over the same x-coordinates.
 * @param[out] coef  m * 32 bytes, written on success only
 * @return PFL_OK, PFL_ERR_INVAL (m == 0, zero or repeated x), PFL_ERR_NOMEM
 */
pfl_err pfl_shamir_lagrange(const uint32_t *xs, size_t m,
                            uint8_t (*coef)[PFL_SHAMIR_COEF_BYTES]) PFL_WUR;

/*
 * Reconstruct from m shares whose Lagrange coefficients are coef (m must be
 * the threshold of the sharing; more shares work too).
 * @param[out] secret 32 bytes, written on success only
 * @return PFL_OK; PFL_ERR_CRYPTO if a share is not canonical or the result
 *         is not a valid secret (too few or corrupt shares)
 */
pfl_err pfl_shamir_combine(const uint8_t (*coef)[PFL_SHAMIR_COEF_BYTES],
                           const uint8_t (*shares)[PFL_SHAMIR_SHARE_BYTES],
                           size_t m,
                           uint8_t secret[PFL_SHAMIR_SECRET_BYTES]) PFL_WUR;

/* pfl_shamir_lagrange then pfl_shamir_combine. */
pfl_err pfl_shamir_reconstruct(const uint32_t *xs,
                               const uint8_t (*shares)[PFL_SHAMIR_SHARE_BYTES],
                               size_t m,
                               uint8_t secret[PFL_SHAMIR_SECRET_BYTES]) PFL_WUR;

#endif
