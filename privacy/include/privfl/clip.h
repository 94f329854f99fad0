/*
 * privfl — L2 clipping of model updates, fixed and adaptive.
 *
 * DP-FedAvg (McMahan et al. 2018) bounds each client's contribution by
 * scaling its whole update to L2 norm at most S; adaptive clipping (Andrew
 * et al. 2021) moves S geometrically toward a target quantile of the
 * update norms, using a privatized count of clients below S.
 * All functions are pure on their arguments: thread-safe on distinct data.
 */
#ifndef PRIVFL_CLIP_H
#define PRIVFL_CLIP_H

#include <stddef.h>

#include "privfl/err.h"

/* L2 norm of v[0..n), accumulated in double. NaN if any value is NaN. */
double pfl_l2_norm(const float *v, size_t n);

/*
 * Scale v in place so that ||v||_2 <= bound (guaranteed after float
 * rounding). A vector holding NaN or infinity, or bound <= 0 or NaN, is set
 * to zero (so the sensitivity bound always holds).
 * @return the norm before clipping (NaN/inf when the input was not finite)
 */
double pfl_clip_l2(float *v, size_t n, double bound);

/* State of adaptive clipping, owned by the aggregator. */
struct pfl_adaclip {
	double clip;            /* current clip norm S > 0 */
	double target_quantile; /* gamma in [0, 1], e.g. 0.5 */
	double lr;              /* eta_C, geometric learning rate, e.g. 0.2 */
	double count_stddev;    /* sigma_b of the noised clipped-count */
};

/*
 * One update S <- S * exp(-lr * (below_sum / n - target_quantile)).
 * below_sum: the noised sum over the round's clients of [norm <= S];
 * n: clients in that sum. The fraction is clamped to [0, 1]; n <= 0 or
 * non-finite inputs leave a unchanged.
 */
void pfl_adaclip_update(struct pfl_adaclip *a, double below_sum, double n);

/*
 * Noise multiplier left for the update when the clipped count is noised
 * with stddev count_stddev, so that the pair together costs noise
 * multiplier z (Andrew et al. 2021, Thm. 1):
 *   z_delta = (z^-2 - (2 count_stddev)^-2)^(-1/2).
 * Charge the accountant with z, not z_delta.
 * @param[out] z_delta  written on success
 * @return PFL_OK, PFL_ERR_INVAL (z <= 0, count_stddev <= z / 2, non-finite)
 */
pfl_err pfl_adaclip_update_noise(double z, double count_stddev,
                                 double *z_delta) PFL_WUR;

#endif
