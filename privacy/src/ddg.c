/* Accounting for the distributed discrete Gaussian (Kairouz et al. 2021). */
#include <math.h>

#include "privacy_int.h"
#include "privfl/accountant.h"

pfl_err
pfl_ddg_effective_sigma(double sigma2_client, uint32_t n_survivors, size_t d,
                        double l2, double l1, double *z_eff)
{
	double tau = 0.0, s, e2;

	if (z_eff == NULL || !(sigma2_client >= 0.25) || isinf(sigma2_client) ||
	    n_survivors == 0 || d == 0 || !(l2 > 0.0) || isinf(l2) ||
	    !(l1 >= l2) || isinf(l1))
		return PFL_ERR_INVAL;
	s = sqrt(sigma2_client);
	for (uint32_t k = 1; k < n_survivors; k++) {
		double t = exp(-2.0 * PFL_PI * PFL_PI * sigma2_client *
		               ((double)k / (k + 1.0)));
		if (t < 1e-300) {
			/* terms decrease in k: bound the rest by this one */
			tau += t * (double)(n_survivors - k);
			break;
		}
		tau += t;
	}
	tau *= 10.0;
	e2 = l2 * l2 / (n_survivors * sigma2_client) +
	     2.0 * l1 * tau / (sqrt((double)n_survivors) * s) +
	     tau * tau * (double)d;
	*z_eff = 1.0 / sqrt(e2);
	return PFL_OK;
}
