/*
 * privfl — example-level DP-SGD aggregation (Abadi et al. 2016), for
 * clients whose users need example-level rather than user-level
 * guarantees: each example's gradient is clipped to L2 norm C, the clipped
 * gradients are summed, Gaussian noise N(0, (z C)^2) is added and the sum
 * is divided by the batch size. Account each local step as one charge of
 * the sampled Gaussian with q = batch / local examples and noise
 * multiplier z (Poisson-sampled batches; example-level add/remove).
 * Thread-safety: as the csprng (one thread per generator).
 */
#ifndef PRIVFL_DPSGD_H
#define PRIVFL_DPSGD_H

#include <stddef.h>

#include "privfl/err.h"
#include "privfl/noise.h"

/*
 * out[j] = (sum_b clip_C(grads[b*n + j]) + N(0, (z C)^2)) / batch.
 * grads (batch x n, row per example) is clipped in place.
 * @param[out] out  n values, written on success
 * @return PFL_OK, PFL_ERR_INVAL (batch == 0, C <= 0, z < 0, NaN)
 */
pfl_err pfl_dpsgd_aggregate(struct pfl_csprng *r, float *grads, size_t batch,
                            size_t n, double clip, double z,
                            float *out) PFL_WUR;

#endif
