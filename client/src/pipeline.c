/* train -> delta -> clip -> noise -> quantize (-> mask, in secagg) */
#include <math.h>
#include <string.h>

#include "client_int.h"
#include "privfl/clip.h"
#include "privfl/quant.h"

double
pfli_update_weight(const struct pfl_msg_plan *p, uint32_t n)
{
	if (p->dp_mode != 0)
		return 1.0;
	if (p->weight_cap > 0)
		return n < p->weight_cap ? (double)n / p->weight_cap : 1.0;
	return (double)n;
}

uint32_t
pfli_update_examples(const struct pfl_msg_plan *p, uint32_t n)
{
	return p->dp_mode != 0 ? 0 : n;
}

pfl_err
pfli_pipeline(const struct pfl_msg_plan *p, const float *global,
              const float *local, uint32_t num_examples, struct pfl_csprng *rng,
              float *vec, uint32_t *qvec)
{
	size_t np = p->num_params;
	double w = pfli_update_weight(p, num_examples);
	double norm = 0;

	if (p->vector_len != pfli_plan_vector_len(p))
		return PFL_ERR_PROTO;
	for (size_t i = 0; i < np; i++)
		vec[i] = local[i] - global[i];
	if (p->clip_norm > 0)
		norm = pfl_clip_l2(vec, np, p->clip_norm);
	if (w != 1.0)
		for (size_t i = 0; i < np; i++)
			vec[i] = (float)(vec[i] * w);
	vec[np] = (float)w;
	/* Centred (Andrew et al. 2021): one client moves the count by 1/2,
	 * the sensitivity the aggregator's noise is calibrated to. */
	if (p->adaptive_clip)
		vec[np + 1] = norm <= p->clip_norm ? 0.5f : -0.5f;
	if (p->dp_mode == 3 && p->noise_sigma > 0)
		pfl_noise_gaussian_add(rng, vec, np, p->noise_sigma);
	if (p->quant_scale <= 0)
		return PFL_OK;
	pfl_quant_encode(rng, vec, p->vector_len, p->quant_scale, qvec);
	if (p->dp_mode == 2 && p->noise_sigma > 0)
		return pfl_noise_dgauss_add(rng, qvec, np,
		                            p->noise_sigma * p->noise_sigma);
	return PFL_OK;
}
