/*
 * privfl — cryptographically secure noise for differential privacy.
 *
 * struct pfl_csprng is a ChaCha20 keystream (libsodium) keyed from the OS
 * generator, or from a 32-byte seed in tests only. Its key and buffered
 * keystream live in sodium_malloc memory and are wiped on free. One thread
 * at a time per generator; give each thread its own.
 * Noise values are secrets: never log them.
 */
#ifndef PRIVFL_NOISE_H
#define PRIVFL_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"

struct pfl_csprng;

/*
 * Make a generator.
 * @param seed  32 bytes (tests: reproducible stream), or NULL for a fresh
 *              key from the OS (randombytes_buf). Not kept.
 * @param[out] out  owned by the caller (pfl_csprng_free)
 * @return PFL_OK, PFL_ERR_NOMEM, PFL_ERR_CRYPTO (libsodium init failed)
 */
pfl_err pfl_csprng_new(const uint8_t *seed, struct pfl_csprng **out) PFL_WUR;

/* Wipe and free; accepts NULL. */
void pfl_csprng_free(struct pfl_csprng *r);

/* 64 uniform bits. */
uint64_t pfl_csprng_u64(struct pfl_csprng *r);

/* Uniform in [0, n), unbiased (rejection); n > 0, returns 0 for n == 0. */
uint64_t pfl_csprng_below(struct pfl_csprng *r, uint64_t n);

/* Uniform double in [0, 1) with 53 random bits. */
double pfl_csprng_uniform(struct pfl_csprng *r);

/* A standard normal draw (Box-Muller in double). */
double pfl_csprng_normal(struct pfl_csprng *r);

/*
 * v[i] += N(0, sigma^2) for i < n (double-precision Box-Muller, rounded to
 * float). sigma <= 0 or NaN adds nothing.
 */
void pfl_noise_gaussian_add(struct pfl_csprng *r, float *v, size_t n,
                            double sigma);

/*
 * One draw from the discrete Gaussian N_Z(0, s2) by the exact rejection
 * sampler of Canonne, Kamath, Steinke 2020 (Alg. 3) in integer arithmetic.
 * s2 is first rounded UP to a multiple of 2^-k (k <= 32 as large as the
 * 128-bit arithmetic allows, see pfl_dgauss_variance), so the sampled
 * variance is never below the requested one.
 * @param[out] z  the sample
 * @return PFL_OK, PFL_ERR_INVAL (s2 outside [2^-8, 2^48] or not finite)
 */
pfl_err pfl_dgauss_sample(struct pfl_csprng *r, double s2, int64_t *z) PFL_WUR;

/* The exact variance parameter the sampler uses for s2 (>= s2). */
double pfl_dgauss_variance(double s2);

/*
 * v[i] += N_Z(0, sigma2) mod 2^32 for i < n (the distributed discrete
 * Gaussian's per-client share). Same parameter rules as pfl_dgauss_sample;
 * on error v is unchanged.
 * @return PFL_OK, PFL_ERR_INVAL
 */
pfl_err pfl_noise_dgauss_add(struct pfl_csprng *r, uint32_t *v, size_t n,
                             double sigma2) PFL_WUR;

#endif
