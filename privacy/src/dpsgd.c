/* Example-level DP-SGD: per-example clipping, summing, noising. */
#include <math.h>
#include <stdlib.h>

#include "privfl/clip.h"
#include "privfl/dpsgd.h"

pfl_err
pfl_dpsgd_aggregate(struct pfl_csprng *r, float *grads, size_t batch, size_t n,
                    double clip, double z, float *out)
{
	double *acc;

	if (r == NULL || grads == NULL || out == NULL || batch == 0 ||
	    !(clip > 0.0) || !isfinite(clip) || !(z >= 0.0) || !isfinite(z))
		return PFL_ERR_INVAL;
	if ((acc = calloc(n ? n : 1, sizeof(*acc))) == NULL)
		return PFL_ERR_NOMEM;
	for (size_t b = 0; b < batch; b++) {
		float *g = grads + b * n;
		pfl_clip_l2(g, n, clip);
		for (size_t j = 0; j < n; j++)
			acc[j] += g[j];
	}
	for (size_t j = 0; j < n; j++) {
		double noise = z > 0 ? z * clip * pfl_csprng_normal(r) : 0.0;
		out[j] = (float)((acc[j] + noise) / (double)batch);
	}
	free(acc);
	return PFL_OK;
}
