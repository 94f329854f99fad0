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

/* Fewest clients in a sum the server can see under the plan. */
uint32_t pfli_plan_aggregate(const struct pfl_msg_plan *plan);

/*
 * The plan's noise multiplier as this device can check it: the noise it
 * adds itself (local; or its share, distributed, in an aggregate of
 * pfli_plan_aggregate clients) over the clip norm. 0 without clipping and
 * for central noise, which no client can check.
 */
double pfli_plan_noise_multiplier(const struct pfl_msg_plan *plan);

/*
 * Whether taking part in round obeys pol's participation limit, given the
 * rounds[0..n) this client took part in (the last max_participations). On
 * false, why names the rule.
 */
bool pfli_participation_allows(const struct pfl_client_policy *pol,
                               const uint64_t *rounds, uint32_t n,
                               uint64_t round, char *why, size_t whylen);

/*
 * Whether the plan's model is the one this client trains: mine is the
 * layout digest of the custom model it trains (pfl_client_opts
 * .layout_digest), NULL for the built-in models. On false, why says which
 * layout the plan has and which the client trains.
 */
bool pfli_layout_allows(const uint8_t *mine, const struct pfl_msg_plan *p,
                        char *why, size_t whylen);

#endif
