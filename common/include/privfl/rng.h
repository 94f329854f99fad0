/*
 * privfl — fast seeded pseudo-random numbers (xoshiro256**).
 *
 * For training (initialization, shuffling, augmentation), partitioning and
 * simulation only: NOT for keys, masks or DP noise, which come from
 * libsodium (crypto/ and privacy/). Same seed, same stream, on every
 * machine. A pfl_rng is plain state owned by its caller; not thread-safe,
 * give each thread its own (pfl_rng_fork).
 */
#ifndef PRIVFL_RNG_H
#define PRIVFL_RNG_H

#include <stddef.h>
#include <stdint.h>

struct pfl_rng {
	uint64_t s[4];
};

void pfl_rng_seed(struct pfl_rng *r, uint64_t seed);
/* A child stream for sub-task id, independent of the parent's future. */
void pfl_rng_fork(const struct pfl_rng *parent, uint64_t id,
                  struct pfl_rng *child);
uint64_t pfl_rng_u64(struct pfl_rng *r);
/* Uniform in [0, n), unbiased; n > 0. */
uint64_t pfl_rng_below(struct pfl_rng *r, uint64_t n);
/* Uniform double in [0, 1) with 53 random bits. */
double pfl_rng_uniform(struct pfl_rng *r);
/* Standard normal (Box-Muller). */
double pfl_rng_normal(struct pfl_rng *r);
/* Gamma(shape, 1), shape > 0 (Marsaglia-Tsang); for Dirichlet draws. */
double pfl_rng_gamma(struct pfl_rng *r, double shape);
/* Fisher-Yates shuffle of a uint32 array. */
void pfl_rng_shuffle_u32(struct pfl_rng *r, uint32_t *a, size_t n);

#endif
