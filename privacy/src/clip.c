/* L2 clipping, fixed and adaptive (Andrew et al. 2021). */
#include <math.h>
#include <string.h>

#include "privfl/clip.h"

double
pfl_l2_norm(const float *v, size_t n)
{
	double s = 0.0;

	for (size_t i = 0; i < n; i++)
		s += (double)v[i] * (double)v[i];
	return sqrt(s);
}

double
pfl_clip_l2(float *v, size_t n, double bound)
{
	double norm = pfl_l2_norm(v, n), f, now;

	if (!isfinite(norm) || !(bound > 0.0)) {
		if (n > 0)
			memset(v, 0, n * sizeof(*v));
		return norm;
	}
	if (norm <= bound)
		return norm;
	f = bound / norm;
	for (;;) {
		for (size_t i = 0; i < n; i++)
			v[i] = (float)((double)v[i] * f);
		now = pfl_l2_norm(v, n);
		if (now <= bound)
			break;
		/* float rounding left it a hair above: shrink once more */
		f = (bound / now) * (1.0 - 0x1.0p-20);
	}
	return norm;
}

void
pfl_adaclip_update(struct pfl_adaclip *a, double below_sum, double n)
{
	double frac, c;

	if (a == NULL || !(n > 0.0) || !isfinite(n) || !isfinite(below_sum))
		return;
	frac = below_sum / n;
	if (frac < 0.0)
		frac = 0.0;
	if (frac > 1.0)
		frac = 1.0;
	c = a->clip * exp(-a->lr * (frac - a->target_quantile));
	if (isfinite(c) && c > 0.0)
		a->clip = c;
}

pfl_err
pfl_adaclip_update_noise(double z, double count_stddev, double *z_delta)
{
	double inv;

	if (z_delta == NULL || !(z > 0.0) || !isfinite(z) ||
	    !isfinite(count_stddev) || !(count_stddev > z / 2.0))
		return PFL_ERR_INVAL;
	inv = 1.0 / (z * z) - 1.0 / (4.0 * count_stddev * count_stddev);
	if (!(inv > 0.0))
		return PFL_ERR_INVAL;
	*z_delta = 1.0 / sqrt(inv);
	return PFL_OK;
}
