/* Fixed-point encoding into Z_(2^32) with stochastic rounding. */
#include <math.h>

#include "privfl/quant.h"

#define QUANT_MIN_EXP   (-32)
#define QUANT_MAX_EXP   40
#define INT32_LIM       2147483647.0
#define QUANT_MAX_NOISE 0x1.0p24 /* total noise stddev, quantized units */

pfl_err
pfl_quant_choose_scale(double bound, uint32_t n_clients, double noise_stddev,
                       double *scale)
{
	if (scale == NULL || !(bound > 0.0) || !isfinite(bound) ||
	    n_clients == 0 || !(noise_stddev >= 0.0) || !isfinite(noise_stddev))
		return PFL_ERR_INVAL;
	for (int e = QUANT_MAX_EXP; e >= QUANT_MIN_EXP; e--) {
		double s = ldexp(1.0, e);
		double worst = (double)n_clients * (bound * s + 1.0) +
		               PFL_QUANT_TAIL * noise_stddev * s + 1.0;
		if (worst <= INT32_LIM && noise_stddev * s <= QUANT_MAX_NOISE) {
			*scale = s;
			return PFL_OK;
		}
	}
	return PFL_ERR_TOOBIG;
}

void
pfl_quant_encode(struct pfl_csprng *r, const float *x, size_t n, double scale,
                 uint32_t *out)
{
	for (size_t i = 0; i < n; i++) {
		double y = (double)x[i] * scale, f;
		int64_t q;

		if (isnan(y)) {
			out[i] = 0;
			continue;
		}
		if (y >= INT32_LIM)
			q = INT32_MAX;
		else if (y <= -INT32_LIM)
			q = -INT32_MAX;
		else {
			f = floor(y);
			q = (int64_t)f +
			    (pfl_csprng_uniform(r) < y - f ? 1 : 0);
		}
		out[i] = (uint32_t)q;
	}
}

void
pfl_quant_decode(const uint32_t *sum, size_t n, double scale, float *out)
{
	for (size_t i = 0; i < n; i++) {
		int64_t s = sum[i] >= 0x80000000u ? (int64_t)sum[i] - 4294967296
		                                  : (int64_t)sum[i];
		out[i] = (float)((double)s / scale);
	}
}
