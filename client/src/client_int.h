/* Internal to the client module. */
#ifndef PRIVFL_CLIENT_INT_H
#define PRIVFL_CLIENT_INT_H

#include "privfl/client.h"
#include "privfl/noise.h"

/*
 * The update pipeline: delta = local - global, weight, clip, local noise,
 * quantize (and the distributed noise share) as the plan says. vec gets
 * the float vector (vector_len), qvec the quantized one when the plan has
 * a quant_scale (else untouched). Masking is secure aggregation's step.
 */
pfl_err pfli_pipeline(const struct pfl_msg_plan *plan, const float *global,
                      const float *local, uint32_t num_examples,
                      struct pfl_csprng *rng, float *vec,
                      uint32_t *qvec) PFL_WUR;

/* Weight of an update with n examples under the plan (see docs). */
double pfli_update_weight(const struct pfl_msg_plan *plan, uint32_t n);

/*
 * The example count an update reports: n without DP (weighting), 0 under
 * any DP mode, where the size of the local data set is private.
 */
uint32_t pfli_update_examples(const struct pfl_msg_plan *plan, uint32_t n);

#endif
