/*
 * privfl — fixed point in Z_(2^32) for secure aggregation.
 *
 * A client encodes its clipped (and, in distributed mode, not yet noised)
 * update x as round(x * scale) with unbiased stochastic rounding, in two's
 * complement; the masked sum of such vectors mod 2^32, read as signed
 * int32 and divided by scale, is the sum of the updates. Pure functions;
 * thread-safe on distinct data (the csprng is per thread).
 */
#ifndef PRIVFL_QUANT_H
#define PRIVFL_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"
#include "privfl/noise.h"

/* Tail factor t of the no-wrap bound in pfl_quant_choose_scale. */
#define PFL_QUANT_TAIL 12.0

/*
 * Largest power of two `scale` (2^-32 .. 2^40) such that the sum of
 * n_clients encoded vectors, each coordinate |x| <= bound (true after L2
 * clipping to bound), plus integer noise of total stddev
 * noise_stddev * scale, cannot wrap a signed int32 except with
 * probability <= 2 exp(-t^2/2) ~ 1.1e-31 per coordinate (t =
 * PFL_QUANT_TAIL; discrete Gaussians and their sums are sub-Gaussian,
 * Canonne et al. 2020):
 *   n_clients * (bound * scale + 1) + t * noise_stddev * scale
 *       + 1 <= 2^31 - 1
 * (the +1 per client is stochastic rounding; the last +1 the rounding
 * of the noise variance up in the sampler), and with
 * noise_stddev * scale <= 2^24: steps finer than that are pointless under
 * the noise, and it keeps each client's share (variance
 * (noise_stddev * scale)^2 / min_survivors) within pfl_dgauss_sample's
 * range of 2^48. In distributed mode pass the largest total noise the
 * round can carry: z S sqrt(n_clients / min_survivors).
 * @param noise_stddev  total noise stddev in update units (0 = no noise)
 * @param[out] scale    written on success
 * @return PFL_OK, PFL_ERR_INVAL (bound <= 0, n_clients == 0, negative or
 *         non-finite values), PFL_ERR_TOOBIG (no scale in range fits)
 */
pfl_err pfl_quant_choose_scale(double bound, uint32_t n_clients,
                               double noise_stddev, double *scale) PFL_WUR;

/*
 * out[i] = stochastic_round(x[i] * scale) as two's complement uint32:
 * floor(y) + Bernoulli(y - floor(y)), unbiased. Values beyond the int32
 * range are saturated, NaN encodes as 0.
 */
void pfl_quant_encode(struct pfl_csprng *r, const float *x, size_t n,
                      double scale, uint32_t *out);

/* out[i] = (int32_t)sum[i] / scale. */
void pfl_quant_decode(const uint32_t *sum, size_t n, double scale, float *out);

#endif
